/* The Slack chat backend (adapters/slack/slack.c + socket.c + webapi.c)
 * against the fake Slack over real sockets, in one process on one uv loop:
 * connect + hello + ack, events normalised, duplicates acted on once (also
 * across a reconnect), every disconnect reason, half-open detection, an
 * abrupt close and reconnects under backoff, malformed and oversized frames,
 * the chat operations and their errors, the ephemeral fallback and the
 * per-user ephemeral throttle, fatal
 * token errors, and TLS (refused for an untrusted certificate).
 *
 * Every test builds its own loop, fake and backend with short timings, and
 * ends with the ordered shutdown (polite close) and uv_loop_close() == 0.
 * Waits poll a condition with a deadline, so a busy machine makes a test
 * slower, not wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/slack/envelope.h"
#include "adapters/slack/slack.h"
#include "bot/base/log.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/logfmt.h"
#include "tests/fakes/tls_cert.h"

#define APP_TOKEN "xapp-1-A0FAKE-slacktest"
#define BOT_TOKEN "xoxb-1-slacktest"
#define STEP_MS   5000
#define MAX_EVENTS 64

/* t, reset to hold just s (as typed); returns t. */
static const struct chat_text *text_of(struct chat_text *t, const char *s)
{
	chat_text_init(t);
	chat_text_printf(t, "%s", s);
	return t;
}

static const uint32_t backoff_steps[] = { 50, 100, 200, 400 };
static const struct slack_retry_policy fast_backoff = { backoff_steps, 4, 20, SLACK_RETRY_FOREVER };
static const uint32_t api_steps[] = { 10, 20, 40 };
static const struct slack_retry_policy fast_api = { api_steps, 3, 0, 3 };

static const struct fake_slack_channel chans[] = {
	{ "C0GENERAL", "general", true },
	{ "C0SECOND", "second", true },
	{ "C0OUTSIDE", "outside", false },
};

struct evrec {
	enum chat_event_type type;
	char id[200], user[32], channel[32], command[32], text[128], action_id[64], value[64],
	     message_ts[32], response_url[256];
	bool has_response_url;
	bool held;
};

struct t {
	struct harness h;
	struct chat *chat;
	struct evrec ev[MAX_EVENTS];
	size_t n_ev;
	bool fatal;
	int fatal_rc;
	char fatal_detail[256];
	/* reply to each command with an ephemeral (the fallback test) */
	bool reply_ephemeral;
	int reply_rc;
	bool reply_done;
	char reply_detail[64];
	/* keep clicks' holds for the test to settle (else settled at once) */
	bool keep_holds;
	struct chat_hold *holds[8];
	size_t n_holds;
};

static void cp(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static void on_reply(void *ud, int rc, const char *ts, const char *detail)
{
	struct t *t = ud;

	(void)ts;
	t->reply_done = true;
	t->reply_rc = rc;
	cp(t->reply_detail, sizeof t->reply_detail, detail);
}

static void on_event(void *ud, const struct chat_event *e)
{
	struct t *t = ud;
	struct evrec *r;

	if (t->n_ev == MAX_EVENTS)
		return;
	r = &t->ev[t->n_ev++];
	r->type = e->type;
	cp(r->id, sizeof r->id, e->id);
	cp(r->user, sizeof r->user, e->user);
	cp(r->channel, sizeof r->channel, e->channel);
	cp(r->command, sizeof r->command, e->command);
	cp(r->text, sizeof r->text, e->text);
	cp(r->action_id, sizeof r->action_id, e->action_id);
	cp(r->value, sizeof r->value, e->value);
	cp(r->message_ts, sizeof r->message_ts, e->message_ts);
	cp(r->response_url, sizeof r->response_url, e->response_url);
	r->has_response_url = e->response_url != NULL;
	r->held = e->hold != NULL;
	if (e->hold && t->keep_holds && t->n_holds < BOT_ARRAY_LEN(t->holds))
		t->holds[t->n_holds++] = e->hold;
	else
		chat_settle(t->chat, e->hold, true);
	if (t->reply_ephemeral && e->type == CHAT_EV_COMMAND) {
		struct chat_text only;
		struct chat_message m = { .channel = e->channel,
					  .rich = text_of(&only, "only you see this") };

		assert_int_equal(chat_ephemeral(t->chat, e->user, &m, on_reply, t), 0);
	}
}

static void on_fatal(void *ud, int rc, const char *detail)
{
	struct t *t = ud;

	t->fatal = true;
	t->fatal_rc = rc;
	cp(t->fatal_detail, sizeof t->fatal_detail, detail);
}

static struct slack_chat_stats stats(struct t *t)
{
	struct slack_chat_stats s;

	slack_chat_get_stats(t->chat, &s);
	return s;
}

/* ---- setup -------------------------------------------------------------------- */

struct setup_opts {
	const char *app_token, *bot_token, *ca_file;
	unsigned max_connections;
	bool tls;
	const struct fake_tls_cert *cert;
	bool real_watch; /* Slack's ping cadence and the client's default link watch */
	size_t queue_max; /* the Web API's per-queue bound; 0: its default */
	unsigned ephemeral_per_minute; /* 0: the default */
};

static void setup_with(struct t *t, const struct setup_opts *so)
{
	struct fake_slack_opts fo = {
		.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans, .n_channels = 3,
		.ping_interval_ms = so && so->real_watch ? 0 : 100, .disconnect_grace_ms = 300,
		.max_connections = so ? so->max_connections : 0,
		.tls_cert = so && so->cert ? so->cert->cert : NULL,
		.tls_key = so && so->cert ? so->cert->key : NULL,
	};
	struct bot_error err = {0};
	bool real = so && so->real_watch;

	memset(t, 0, sizeof *t);
	assert_int_equal(harness_init(&t->h, &fo), 0);
	assert_int_equal(slack_chat_create(t->h.loop, &(struct slack_chat_opts){
			.app_token = so && so->app_token ? so->app_token : APP_TOKEN,
			.bot_token = so && so->bot_token ? so->bot_token : BOT_TOKEN,
			.api_url = fake_slack_api_url(t->h.fs),
			.ca_file = so ? so->ca_file : NULL,
			.on_fatal = on_fatal, .fatal_ud = t,
			.reconnect_backoff = &fast_backoff, .api_retry = &fast_api,
			.ping_interval_ms = real ? 0 : 100, .silence_ms = real ? 0 : 600,
			.hello_timeout_ms = 3000,
			.close_timeout_ms = 500, .drain_timeout_ms = 3000,
			.api_queue_max = so ? so->queue_max : 0,
			.ephemeral_per_minute = so ? so->ephemeral_per_minute : 0 },
			&t->chat, &err), 0);
	t->chat->on_event = on_event;
	t->chat->event_ud = t;
}

static void setup(struct t *t)
{
	setup_with(t, NULL);
}

static bool hellos_at_least(void *arg)
{
	struct t *t = arg;
	struct slack_chat_stats s = stats(t);

	return s.ws.hellos >= 1 && s.connected;
}

static void start_connected(struct t *t)
{
	assert_int_equal(t->chat->ops->start(t->chat), 0);
	assert_true(harness_wait(&t->h, hellos_at_least, t, STEP_MS));
	assert_int_equal(fake_slack_connections(t->h.fs), 1);
}

static void teardown(struct t *t)
{
	harness_stop(&t->h);
	t->chat->ops->destroy(t->chat);
	assert_int_equal(harness_destroy(&t->h), 0);
	/* secrets never reach a log line: tokens, tickets, response_urls */
	assert_false(harness_log_has(APP_TOKEN));
	assert_false(harness_log_has(BOT_TOKEN));
	assert_false(harness_log_has("ticket="));
	assert_false(harness_log_has("/response/"));
	harness_log_release();
}

/* ---- conditions ------------------------------------------------------------------ */

struct want { struct t *t; unsigned n; };

static bool events_at_least(void *arg)
{
	struct want *w = arg;

	return w->t->n_ev >= w->n;
}

static bool hellos_n(void *arg)
{
	struct want *w = arg;

	return stats(w->t).ws.hellos >= w->n && stats(w->t).connected;
}

static bool failures_n(void *arg)
{
	struct want *w = arg;

	return stats(w->t).ws.failures >= w->n;
}

struct ackw { struct t *t; const char *id; };

static bool acked(void *arg)
{
	struct ackw *a = arg;

	return fake_slack_find_ack(a->t->h.fs, a->id) != NULL;
}

static bool one_connection(void *arg)
{
	struct t *t = arg;

	return fake_slack_connections(t->h.fs) == 1 && stats(t).ws.links == 1 && stats(t).connected;
}

static bool is_fatal(void *arg)
{
	return ((struct t *)arg)->fatal;
}

static bool reply_done(void *arg)
{
	return ((struct t *)arg)->reply_done;
}

struct res {
	bool done;
	int rc;
	char ts[32], detail[64];
};

static void on_result(void *ud, int rc, const char *ts, const char *detail)
{
	struct res *r = ud;

	r->done = true;
	r->rc = rc;
	cp(r->ts, sizeof r->ts, ts);
	cp(r->detail, sizeof r->detail, detail);
}

static bool res_done(void *arg)
{
	return ((struct res *)arg)->done;
}

/* Inject an envelope and wait until it is acked; returns its ack. */
static const struct fake_slack_ack *wait_ack(struct t *t, const char *id)
{
	struct ackw a = { t, id };

	assert_true(harness_wait(&t->h, acked, &a, STEP_MS));
	return fake_slack_find_ack(t->h.fs, id);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_connect_hello_ack(void **state)
{
	struct t t;
	char id[FAKE_SLACK_ID_MAX];
	const struct fake_slack_ack *a;
	struct want w = { &t, 1 };
	struct res r = {0}, u = {0};
	const struct chat_button btn[] = {
		{ .action_id = "gate.approve", .text = "Approve", .value = "g-17",
		  .style = CHAT_BUTTON_PRIMARY },
	};
	struct chat_text ask, fallback, approved;
	chat_text_init(&ask);
	chat_text_printf(&ask, "Scale ");
	chat_text_bold(&ask, "web");
	chat_text_printf(&ask, " to 3?");
	const struct chat_block blocks[] = {
		{ .type = CHAT_BLOCK_SECTION, .rich = &ask },
		{ .type = CHAT_BLOCK_ACTIONS, .buttons = btn, .n_buttons = 1 },
	};
	struct chat_message m = { .channel = "C0GENERAL",
				  .rich = text_of(&fallback, "Scale web to 3?"),
				  .blocks = blocks, .n_blocks = 2 };

	(void)state;
	setup(&t);
	start_connected(&t);
	assert_int_equal(fake_slack_opens(t.h.fs), 1);
	assert_true(harness_log_has("event=slack.auth result=ok"));
	assert_int_equal(harness_log_count("event=slack.ws.connected", "link=1",
					   "path=/link/", "num_connections=1",
					   "approximate_connection_time_s=18060", NULL), 1);

	/* a slash command: acked at once, then an event with args and response_url */
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0ALICE", "C0GENERAL", "/scale",
					       "web 3 --timer 10m", id), 0);
	a = wait_ack(&t, id);
	assert_non_null(a);
	assert_null(a->payload);
	fprintf(stderr, "slash ack latency %.3f ms\n", (double)a->latency_ns / 1e6);
	assert_true(a->latency_ns >= 0 && a->latency_ns < 1000 * 1000000LL);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.ev[0].type, CHAT_EV_COMMAND);
	assert_string_equal(t.ev[0].command, "/scale");
	assert_string_equal(t.ev[0].text, "web 3 --timer 10m");
	assert_string_equal(t.ev[0].user, "U0ALICE");
	assert_string_equal(t.ev[0].channel, "C0GENERAL");
	assert_true(t.ev[0].has_response_url);
	assert_non_null(strstr(t.ev[0].response_url, "/response/"));
	assert_true(strncmp(t.ev[0].id, "cmd:", 4) == 0);

	/* post a card with a button, click it: a button event */
	assert_int_equal(chat_post(t.chat, &m, on_result, &r), 0);
	assert_true(harness_wait(&t.h, res_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EOK);
	assert_true(r.ts[0]);
	assert_int_equal(fake_slack_send_button(t.h.fs, "U0BOB", "C0GENERAL", r.ts, "gate.approve",
						"g-17", id), 0);
	(void)wait_ack(&t, id);
	w.n = 2;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.ev[1].type, CHAT_EV_BUTTON);
	assert_string_equal(t.ev[1].action_id, "gate.approve");
	assert_string_equal(t.ev[1].value, "g-17");
	assert_string_equal(t.ev[1].user, "U0BOB");
	assert_string_equal(t.ev[1].channel, "C0GENERAL");
	assert_string_equal(t.ev[1].message_ts, r.ts);
	assert_true(t.ev[1].has_response_url);

	/* an app mention */
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0CAROL", "C0GENERAL",
						 "<@U0FAKEBOT> investigate web", id), 0);
	(void)wait_ack(&t, id);
	w.n = 3;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.ev[2].type, CHAT_EV_MENTION);
	assert_string_equal(t.ev[2].text, "<@U0FAKEBOT> investigate web");
	assert_string_equal(t.ev[2].user, "U0CAROL");
	assert_true(strncmp(t.ev[2].id, "ev:", 3) == 0);

	/* update the card; an ephemeral to Bob */
	m.n_blocks = 1;
	chat_text_init(&approved);
	chat_text_printf(&approved, "Approved by ");
	chat_text_user(&approved, "U0BOB");
	m.rich = &approved;
	assert_int_equal(chat_update(t.chat, "C0GENERAL", r.ts, &m, on_result, &u), 0);
	assert_true(harness_wait(&t.h, res_done, &u, STEP_MS));
	assert_int_equal(u.rc, BOT_EOK);
	assert_string_equal(u.ts, r.ts);
	memset(&u, 0, sizeof u);
	assert_int_equal(chat_ephemeral(t.chat, "U0BOB", &m, on_result, &u), 0);
	assert_true(harness_wait(&t.h, res_done, &u, STEP_MS));
	assert_int_equal(u.rc, BOT_EOK);
	assert_true(u.ts[0]);
	size_t n;
	const struct fake_slack_message *msgs = fake_slack_messages(t.h.fs, &n);
	assert_int_equal(n, 3);
	assert_string_equal(msgs[0].method, "chat.postMessage");
	assert_string_equal(msgs[1].method, "chat.update");
	assert_string_equal(msgs[1].text, "Approved by <@U0BOB>");
	assert_string_equal(msgs[2].method, "chat.postEphemeral");
	assert_string_equal(msgs[2].user, "U0BOB");
	/* every envelope acked, one socket, nothing rejected */
	assert_int_equal(stats(&t).ws.acks, 3);
	assert_int_equal(stats(&t).ws.rejected, 0);
	assert_int_equal(fake_slack_bad_frames(t.h.fs), 0);
	assert_int_equal(fake_slack_connections(t.h.fs), 1);
	teardown(&t);
}

/* A click is acked when the core settles it (its vote committed), not on
 * arrival; a repeat of it waits with it; settled without an ack, it stays
 * unacked. Commands are acked on arrival. Every "not acked yet" below is
 * read after a later envelope's ack arrived on the same socket: acks are
 * written in order, so an ack sent before it would have arrived first. */
static void test_click_ack_waits_for_settle(void **state)
{
	struct t t;
	char click[FAKE_SLACK_ID_MAX], again[FAKE_SLACK_ID_MAX], cmd[FAKE_SLACK_ID_MAX],
	     click2[FAKE_SLACK_ID_MAX];
	struct want w = { &t, 1 };
	struct res r = {0};
	struct chat_text card;
	struct chat_message m = { .channel = "C0GENERAL", .rich = text_of(&card, "card") };

	(void)state;
	setup(&t);
	t.keep_holds = true;
	start_connected(&t);
	assert_int_equal(chat_post(t.chat, &m, on_result, &r), 0);
	assert_true(harness_wait(&t.h, res_done, &r, STEP_MS));

	assert_int_equal(fake_slack_send_button(t.h.fs, "U0A", "C0GENERAL", r.ts, "gate.approve",
						"g1", click), 0);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.ev[0].type, CHAT_EV_BUTTON);
	assert_true(t.ev[0].held);
	assert_int_equal(t.n_holds, 1);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/gates", "", cmd), 0);
	(void)wait_ack(&t, cmd);
	assert_null(fake_slack_find_ack(t.h.fs, click));
	assert_int_equal(stats(&t).held, 1);
	assert_false(t.ev[1].held); /* the command */

	/* the same click again (Slack's duplicate): not acted on, not acked yet */
	assert_int_equal(fake_slack_redeliver(t.h.fs, click, 0, again), 0);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/gates", "", cmd), 0);
	(void)wait_ack(&t, cmd);
	assert_null(fake_slack_find_ack(t.h.fs, again));
	assert_null(fake_slack_find_ack(t.h.fs, click));
	assert_int_equal(t.n_ev, 3);
	assert_int_equal(stats(&t).duplicates, 1);

	/* settled: both acked */
	chat_settle(t.chat, t.holds[0], true);
	(void)wait_ack(&t, click);
	(void)wait_ack(&t, again);
	assert_int_equal(stats(&t).held, 0);

	/* settled without an ack (not acted on): never acked */
	assert_int_equal(fake_slack_send_button(t.h.fs, "U0B", "C0GENERAL", r.ts, "gate.deny",
						"g1", click2), 0);
	w.n = 4;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.n_holds, 2);
	chat_settle(t.chat, t.holds[1], false);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/gates", "", cmd), 0);
	(void)wait_ack(&t, cmd);
	assert_null(fake_slack_find_ack(t.h.fs, click2));
	assert_int_equal(stats(&t).held, 0);
	assert_int_equal(harness_log_count("event=slack.ack", "result=not_sent",
					   "reason=\"not acted on here\"", NULL), 1);

	/* its socket dropped while the vote was written: acked on the new one */
	assert_int_equal(fake_slack_send_button(t.h.fs, "U0C", "C0GENERAL", r.ts, "gate.deny",
						"g1", click2), 0);
	w.n = 6;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.n_holds, 3);
	fake_slack_drop(t.h.fs);
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	chat_settle(t.chat, t.holds[2], true);
	const struct fake_slack_ack *a = wait_ack(&t, click2);
	assert_int_equal(a->conn, 2);
	assert_int_equal(harness_log_count("event=slack.ws.ack", "via=link2", NULL), 1);
	teardown(&t);
}

/* Redeliveries and replays after a reconnect are acked but act once. */
static void test_duplicates(void **state)
{
	struct t t;
	char id[4][FAKE_SLACK_ID_MAX], again[FAKE_SLACK_ID_MAX];
	struct want w = { &t, 3 };
	struct res r = {0};
	struct chat_text card;
	struct chat_message m = { .channel = "C0GENERAL", .rich = text_of(&card, "card") };

	(void)state;
	setup(&t);
	start_connected(&t);
	assert_int_equal(chat_post(t.chat, &m, on_result, &r), 0);
	assert_true(harness_wait(&t.h, res_done, &r, STEP_MS));
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "hi", id[0]), 0);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/scale", "web 2", id[1]), 0);
	assert_int_equal(fake_slack_send_button(t.h.fs, "U0A", "C0GENERAL", r.ts, "gate.deny", "g1",
						id[2]), 0);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	/* Slack's redeliveries: new envelope ids, same content */
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[0], 1, again), 0);
	(void)wait_ack(&t, again);
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[0], 2, again), 0);
	(void)wait_ack(&t, again);
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[1], 0, again), 0);
	(void)wait_ack(&t, again);
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[2], 0, again), 0);
	(void)wait_ack(&t, again);
	harness_pump(&t.h, 50);
	assert_int_equal(t.n_ev, 3);
	assert_int_equal(stats(&t).duplicates, 4);
	assert_int_equal(harness_log_count("event=slack.event", "result=duplicate",
					   "retry_attempt=2", NULL), 1);

	/* across a reconnect: drop the socket, replay on the new one */
	fake_slack_drop(t.h.fs);
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[0], 3, again), 0);
	(void)wait_ack(&t, again);
	assert_int_equal(fake_slack_redeliver(t.h.fs, id[1], 0, again), 0);
	(void)wait_ack(&t, again);
	/* and something new still goes through */
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "new", id[3]), 0);
	w.n = 4;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	harness_pump(&t.h, 50);
	assert_int_equal(t.n_ev, 4);
	assert_string_equal(t.ev[3].text, "new");
	assert_int_equal(stats(&t).duplicates, 6);
	teardown(&t);
}

/* warning / refresh_requested: the replacement says hello before the old
 * link closes, so there is always a link (make-before-break). */
struct overlap { struct t *t; unsigned min, max, hellos; };

static bool refresh_done(void *arg)
{
	struct overlap *o = arg;
	unsigned n = fake_slack_connections(o->t->h.fs);

	if (n < o->min)
		o->min = n;
	if (n > o->max)
		o->max = n;
	return stats(o->t).ws.hellos >= o->hellos && n == 1 && stats(o->t).ws.links == 1;
}

static void refresh_case(struct t *t, const char *reason, unsigned hellos)
{
	struct overlap o = { t, 99, 0, hellos };
	char id[FAKE_SLACK_ID_MAX];
	struct want w = { t, t->n_ev + 1 };
	char link[32];

	assert_int_equal(fake_slack_disconnect(t->h.fs, reason), 0);
	assert_true(harness_wait(&t->h, refresh_done, &o, STEP_MS));
	fprintf(stderr, "%s: connections min=%u max=%u\n", reason, o.min, o.max);
	assert_int_equal(o.min, 1);  /* never zero */
	assert_int_equal(o.max, 2);  /* the new one came up while the old one was open */
	assert_int_equal(fake_slack_opens(t->h.fs), hellos);
	snprintf(link, sizeof link, "link=%u ", hellos);
	long up = harness_log_index("event=slack.ws.connected", link);
	snprintf(link, sizeof link, "link=%u ", hellos - 1);
	long down = harness_log_index("event=slack.ws.closed", link);
	long told = harness_log_index("event=slack.ws.disconnect", reason);
	assert_true(told >= 0 && up > told && down > up);
	assert_non_null(strstr(harness_log_find("action=refresh"), "event=slack.ws.disconnect"));
	/* events flow on the new link */
	assert_int_equal(fake_slack_send_mention(t->h.fs, "U0A", "C0GENERAL", reason, id), 0);
	assert_true(harness_wait(&t->h, events_at_least, &w, STEP_MS));
	assert_int_equal(stats(t).ws.failures, 0);
}

static void test_disconnect_refresh(void **state)
{
	struct t t;

	(void)state;
	setup(&t);
	start_connected(&t);
	refresh_case(&t, "warning", 2);
	refresh_case(&t, "refresh_requested", 3);
	/* an unknown reason is treated as a refresh too */
	refresh_case(&t, "some_future_reason", 4);
	assert_false(t.fatal);
	teardown(&t);
}

static void test_disconnect_link_disabled(void **state)
{
	struct t t;
	char id[FAKE_SLACK_ID_MAX];

	(void)state;
	setup(&t);
	start_connected(&t);
	assert_int_equal(fake_slack_disconnect(t.h.fs, "link_disabled"), 0);
	assert_true(harness_wait(&t.h, is_fatal, &t, STEP_MS));
	assert_int_equal(t.fatal_rc, BOT_ECONFIG);
	assert_non_null(strstr(t.fatal_detail, "link_disabled"));
	assert_int_equal(harness_log_count("level=error", "event=slack.fatal", NULL), 1);
	assert_int_equal(harness_log_count("level=error", "event=slack.ws.disconnect",
					   "reason=link_disabled", "action=stop", NULL), 1);
	/* and it stays down: no reconnect attempts */
	harness_pump(&t.h, 500);
	assert_int_equal(fake_slack_opens(t.h.fs), 1);
	assert_int_equal(fake_slack_connections(t.h.fs), 0);
	assert_int_equal(stats(&t).ws.links, 0);
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "x", id), BOT_ESTATE);
	/* posting after the stop is refused */
	struct chat_text x;
	struct chat_message m = { .channel = "C0GENERAL", .rich = text_of(&x, "x") };
	assert_int_equal(chat_post(t.chat, &m, NULL, NULL), BOT_ESTATE);
	teardown(&t);
}

static void test_disconnect_too_many(void **state)
{
	struct t t;
	struct want w = { &t, 2 };
	uint64_t t0;

	(void)state;
	/* (1) told on the live link: it closes, we back off, then reconnect */
	setup(&t);
	start_connected(&t);
	t0 = uv_hrtime();
	assert_int_equal(fake_slack_disconnect(t.h.fs, "too_many_websockets"), 0);
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	assert_true(stats(&t).ws.failures >= 1);
	assert_true(uv_hrtime() - t0 >= 50u * 1000000u); /* waited at least the first step */
	assert_int_equal(harness_log_count("event=slack.ws.disconnect", "reason=too_many_websockets",
					   "action=backoff", NULL), 1);
	assert_true(harness_log_count("event=slack.ws.reconnect", "attempt=1", NULL) >= 1);
	assert_true(harness_wait(&t.h, one_connection, &t, STEP_MS));
	teardown(&t);

	/* (2) at the limit, the replacement link is told instead of getting
	 * hello: back off and retry until the old one is gone */
	setup_with(&t, &(struct setup_opts){ .max_connections = 1 });
	start_connected(&t);
	assert_int_equal(fake_slack_disconnect(t.h.fs, "warning"), 0);
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	assert_true(stats(&t).ws.failures >= 1);
	assert_true(harness_log_count("reason=too_many_websockets", "action=backoff", NULL) >= 1);
	assert_true(harness_wait(&t.h, one_connection, &t, STEP_MS));
	assert_false(t.fatal);
	teardown(&t);
}

/* A half-open link (no pings, no pongs) is replaced within silence_ms. */
static void test_half_open(void **state)
{
	struct t t;
	struct want w = { &t, 2 };
	char id[FAKE_SLACK_ID_MAX];
	uint64_t t0, ms;

	(void)state;
	setup(&t);
	start_connected(&t);
	harness_pump(&t.h, 300); /* pings and pongs flow */
	assert_true(fake_slack_pongs(t.h.fs) >= 1);
	assert_int_equal(stats(&t).ws.stale, 0);
	t0 = uv_hrtime();
	fake_slack_silence(t.h.fs, true);
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	ms = (uv_hrtime() - t0) / 1000000u;
	fprintf(stderr, "half-open link replaced after %llu ms (silence_ms=600)\n",
		(unsigned long long)ms);
	assert_int_equal(stats(&t).ws.stale, 1);
	assert_true(ms >= 400 && ms < 3000);
	assert_int_equal(harness_log_count("event=slack.ws.stale", "link=1", "action=replace", NULL), 1);
	/* the new link works */
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "still here", id), 0);
	w.n = 1;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(stats(&t).ws.links, 1);
	fake_slack_silence(t.h.fs, false);
	assert_true(harness_wait(&t.h, one_connection, &t, STEP_MS));
	teardown(&t);
}

static bool pongs_at_least(void *arg)
{
	struct want *w = arg;

	return stats(w->t).ws.pongs >= w->n;
}

/* The default link watch against Slack's own cadence (a ping every 10 s
 * from the server): a healthy link that carries nothing but pings is never
 * taken for dead (12 s: over a server ping interval), and a half-open one
 * is replaced within 8 s. */
static void test_half_open_default_watch(void **state)
{
	struct t t;
	struct want w = { &t, 6 };
	uint64_t t0, ms;

	(void)state;
	setup_with(&t, &(struct setup_opts){ .real_watch = true });
	start_connected(&t);
	/* our pings every 2 s: six pongs = 12 s of a quiet, healthy link */
	assert_true(harness_wait(&t.h, pongs_at_least, &w, 20000));
	assert_int_equal(stats(&t).ws.stale, 0);
	assert_int_equal(stats(&t).ws.hellos, 1);
	t0 = uv_hrtime();
	fake_slack_silence(t.h.fs, true);
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, 20000));
	ms = (uv_hrtime() - t0) / 1000000u;
	fprintf(stderr, "half-open link replaced after %llu ms (default watch)\n",
		(unsigned long long)ms);
	assert_int_equal(stats(&t).ws.stale, 1);
	assert_true(ms >= 4000 && ms <= 8000);
	fake_slack_silence(t.h.fs, false);
	teardown(&t);
}

/* Abrupt close, then every reconnect fails for a while: backoff grows,
 * nothing leaks, and the link comes back once the server lets it. */
static void test_abrupt_close_backoff(void **state)
{
	struct t t;
	struct want w = { &t, 4 };
	char id[FAKE_SLACK_ID_MAX];

	(void)state;
	setup(&t);
	start_connected(&t);
	fake_slack_refuse_connections(t.h.fs, true);
	fake_slack_drop(t.h.fs);
	assert_true(harness_wait(&t.h, failures_n, &w, STEP_MS));
	assert_int_equal(harness_log_count("level=warn", "event=slack.ws.closed", "link=1",
					   "expected=false", NULL), 1);
	/* the delays follow the table (50, 100, 200, 400 ms + up to 20 %) */
	for (unsigned i = 1; i <= 4; i++) {
		char a[32];
		const char *line;
		unsigned long d;

		snprintf(a, sizeof a, "attempt=%u ", i);
		long idx = harness_log_index("event=slack.ws.reconnect", a);
		assert_true(idx >= 0);
		line = harness_log_find(a);
		assert_non_null(line);
		d = strtoul(strstr(line, "delay_ms=") + 9, NULL, 10);
		assert_true(d >= backoff_steps[i - 1] && d <= backoff_steps[i - 1] * 12 / 10);
	}
	/* a fresh URL for every attempt: the first, then one per failure */
	assert_true(fake_slack_opens(t.h.fs) >= 4);
	assert_true(stats(&t).ws.links <= 1);        /* no sockets pile up */
	assert_int_equal(fake_slack_connections(t.h.fs), 0);
	/* a connections.open failure (ok:false) is retried too */
	assert_int_equal(fake_slack_fail_next(t.h.fs, "apps.connections.open", "internal_error"), 0);
	w.n = stats(&t).ws.failures + 2;
	assert_true(harness_wait(&t.h, failures_n, &w, STEP_MS));
	/* let it in */
	fake_slack_refuse_connections(t.h.fs, false);
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	assert_true(harness_wait(&t.h, one_connection, &t, STEP_MS));
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "back", id), 0);
	w.n = 1;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	/* the failure count was reset by the hello: a new drop starts at 50 ms */
	unsigned f = stats(&t).ws.failures;
	fake_slack_drop(t.h.fs);
	w.n = 3;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	assert_int_equal(stats(&t).ws.failures, f + 1);
	assert_true(stats(&t).ws.last_backoff_ms <= 60);
	assert_false(t.fatal);
	teardown(&t);
}

/* Malformed and oversized frames are dropped with a log line; the link
 * stays, and the next envelope is handled. */
static void test_bad_frames(void **state)
{
	struct t t;
	struct want w = { &t, 1 };
	char id[FAKE_SLACK_ID_MAX];
	size_t big = SLACK_FRAME_MAX + 100 * 1024;
	char *huge = malloc(big);
	static const char no_command[] =
		"{\"envelope_id\":\"env-bad-payload\",\"type\":\"slash_commands\","
		"\"accepts_response_payload\":true,\"payload\":{\"user_id\":\"U1\"}}";

	(void)state;
	assert_non_null(huge);
	setup(&t);
	start_connected(&t);
	assert_int_equal(fake_slack_send_raw(t.h.fs, "{not json", 9), 0);
	assert_int_equal(fake_slack_send_raw(t.h.fs, "[1,2,3]", 7), 0);
	assert_int_equal(fake_slack_send_raw(t.h.fs, "{\"no\":\"type\"}", 13), 0);
	/* a 612 kB text frame (arrives in ~150 pieces) */
	memset(huge, ' ', big);
	memcpy(huge, "{\"type\":\"events_api\",\"x\":\"", 27);
	memset(huge + 27, 'a', big - 29);
	memcpy(huge + big - 2, "\"}", 2);
	assert_int_equal(fake_slack_send_raw(t.h.fs, huge, big), 0);
	free(huge);
	/* an envelope whose payload we cannot use: still acked, not delivered */
	assert_int_equal(fake_slack_send_raw(t.h.fs, no_command, sizeof no_command - 1), 0);
	(void)wait_ack(&t, "env-bad-payload");
	/* then a good one on the same link */
	assert_int_equal(fake_slack_send_mention(t.h.fs, "U0A", "C0GENERAL", "after", id), 0);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	harness_pump(&t.h, 50);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].text, "after");
	assert_int_equal(stats(&t).ws.rejected, 5);
	assert_int_equal(harness_log_count("event=slack.ws.frame", "result=rejected",
					   "reason=malformed", NULL), 4);
	assert_int_equal(harness_log_count("event=slack.ws.frame", "result=rejected",
					   "reason=too_big", NULL), 1);
	assert_int_equal(harness_log_count("reason=malformed", "acked=true", NULL), 1);
	/* the same link throughout */
	assert_int_equal(stats(&t).ws.hellos, 1);
	assert_int_equal(fake_slack_opens(t.h.fs), 1);
	assert_int_equal(fake_slack_connections(t.h.fs), 1);
	teardown(&t);
}

/* Web API results through the chat interface: errors surfaced, 429 order. */
static void test_chat_api_errors(void **state)
{
	struct t t;
	struct res r[4];
	struct chat_text x, wt[3];
	struct chat_message m = { .channel = "C0NOPE", .rich = text_of(&x, "x") };
	size_t n, k = 0;
	const struct fake_slack_message *msgs;
	const char *want[] = { "one", "two", "three" };

	(void)state;
	setup(&t);
	start_connected(&t);
	memset(r, 0, sizeof r);
	assert_int_equal(chat_post(t.chat, &m, on_result, &r[0]), 0);
	assert_true(harness_wait(&t.h, res_done, &r[0], STEP_MS));
	assert_int_equal(r[0].rc, BOT_ENOTFOUND);
	assert_string_equal(r[0].detail, "channel_not_found");
	m.channel = "C0GENERAL";
	memset(&r[0], 0, sizeof r[0]);
	assert_int_equal(chat_update(t.chat, "C0GENERAL", "999.000", &m, on_result, &r[0]), 0);
	assert_true(harness_wait(&t.h, res_done, &r[0], STEP_MS));
	assert_int_equal(r[0].rc, BOT_ENOTFOUND);
	assert_string_equal(r[0].detail, "message_not_found");
	assert_int_equal(harness_log_count("event=slack.api.error", "error=message_not_found", NULL), 1);
	/* bad input is refused before any call */
	assert_int_equal(chat_post(t.chat, &(struct chat_message){ .channel = "C0GENERAL" }, NULL,
				   NULL), BOT_EINVAL);
	assert_int_equal(chat_update(t.chat, "C0GENERAL", NULL, &m, NULL, NULL), BOT_EINVAL);

	/* 429 on the first of three: all three arrive, in order */
	assert_int_equal(fake_slack_ratelimit(t.h.fs, "chat.postMessage", 1, 1), 0);
	for (int i = 0; i < 3; i++) {
		memset(&r[i], 0, sizeof r[i]);
		m.rich = text_of(&wt[i], want[i]);
		assert_int_equal(chat_post(t.chat, &m, on_result, &r[i]), 0);
	}
	assert_true(harness_wait(&t.h, res_done, &r[2], STEP_MS));
	msgs = fake_slack_messages(t.h.fs, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(msgs[i].method, "chat.postMessage") == 0)
			assert_string_equal(msgs[i].text, want[k++]);
	assert_int_equal(k, 3);
	teardown(&t);
}

struct eph_count { struct t *t; const char *user; size_t n; };

static bool ephemerals_to(void *arg)
{
	struct eph_count *w = arg;
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(w->t->h.fs, &n);

	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postEphemeral") == 0 && m[i].user &&
		     strcmp(m[i].user, w->user) == 0;
	return k >= w->n;
}

/* Ephemerals per user (slack.h, default 6 at once): the 7th and later to
 * one user return BOT_EBUSY at once, without a call, are counted and
 * logged once; another user and an urgent ephemeral still go out. */
static void test_ephemeral_throttle(void **state)
{
	struct t t;
	struct res r[8];
	struct chat_text x;
	struct chat_message m = { .channel = "C0GENERAL", .rich = text_of(&x, "refused") };
	struct eph_count w1 = { &t, "U0FLOOD", 7 }, w2 = { &t, "U0OTHER", 1 };

	(void)state;
	setup_with(&t, &(struct setup_opts){ .ephemeral_per_minute = 6 });
	start_connected(&t);
	memset(r, 0, sizeof r);
	for (int i = 0; i < 6; i++)
		assert_int_equal(chat_ephemeral(t.chat, "U0FLOOD", &m, on_result, &r[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(chat_ephemeral(t.chat, "U0FLOOD", &m, NULL, NULL), BOT_EBUSY);
	assert_int_equal(t.chat->dropped[CHAT_DROPPED_THROTTLED], 4);
	assert_int_equal(harness_log_count("event=slack.throttled", "U0FLOOD", NULL), 1);
	m.urgent = true; /* a gate's own word to that user still goes */
	assert_int_equal(chat_ephemeral(t.chat, "U0FLOOD", &m, on_result, &r[6]), 0);
	m.urgent = false;
	assert_int_equal(chat_ephemeral(t.chat, "U0OTHER", &m, on_result, &r[7]), 0);
	assert_true(harness_wait(&t.h, ephemerals_to, &w1, STEP_MS));
	assert_true(harness_wait(&t.h, ephemerals_to, &w2, STEP_MS));
	for (int i = 0; i < 8; i++) {
		assert_true(harness_wait(&t.h, res_done, &r[i], STEP_MS));
		assert_int_equal(r[i].rc, BOT_EOK);
	}
	/* every call is accounted for: 7 sent to U0FLOOD, 4 dropped */
	assert_int_equal(fake_slack_calls(t.h.fs, "chat.postEphemeral"), 8);
	teardown(&t);
}

/* A burst of replies in one channel, its queue full: each asker is still
 * answered, through the response_url of their own command, rather than
 * dropped. */
static void test_ephemeral_overflow(void **state)
{
	struct t t;
	struct res r[6];
	struct chat_text x;
	struct chat_message m = { .channel = "C0GENERAL", .rich = text_of(&x, "refused") };
	struct want w = { &t, 6 };
	char user[16];

	(void)state;
	setup_with(&t, &(struct setup_opts){ .queue_max = 2 });
	start_connected(&t);
	for (int i = 0; i < 6; i++) {
		snprintf(user, sizeof user, "U0ASKER%d", i);
		assert_int_equal(fake_slack_send_slash(t.h.fs, user, "C0GENERAL", "/scale", "web 3",
						       NULL), 0);
	}
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	fake_slack_answer_delay(t.h.fs, 200); /* the queue stays full meanwhile */
	memset(r, 0, sizeof r);
	for (int i = 0; i < 6; i++) {
		snprintf(user, sizeof user, "U0ASKER%d", i);
		assert_int_equal(chat_ephemeral(t.chat, user, &m, on_result, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_true(harness_wait(&t.h, res_done, &r[i], STEP_MS));
		assert_int_equal(r[i].rc, BOT_EOK);
	}
	size_t n = 0, via_url = 0, posted = 0;
	const struct fake_slack_message *msgs = fake_slack_messages(t.h.fs, &n);
	for (size_t i = 0; i < n; i++) {
		via_url += strcmp(msgs[i].method, "response_url") == 0;
		posted += strcmp(msgs[i].method, "chat.postEphemeral") == 0;
	}
	assert_int_equal(posted, 2);
	assert_int_equal(via_url, 4);
	assert_int_equal(stats(&t).fallbacks, 4);
	assert_int_equal(t.chat->dropped[CHAT_DROPPED_BUSY], 0);
	teardown(&t);
}

/* An ephemeral reply where the bot is not a member: chat.postEphemeral
 * says not_in_channel, the reply goes through the command's response_url. */
static void test_ephemeral_fallback(void **state)
{
	struct t t;
	char id[FAKE_SLACK_ID_MAX];
	size_t n;
	const struct fake_slack_message *msgs;

	(void)state;
	setup(&t);
	t.reply_ephemeral = true;
	start_connected(&t);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0OUTSIDE", "/chatops", "help", id), 0);
	assert_true(harness_wait(&t.h, reply_done, &t, STEP_MS));
	assert_int_equal(t.reply_rc, BOT_EOK);
	assert_int_equal(stats(&t).fallbacks, 1);
	msgs = fake_slack_messages(t.h.fs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(msgs[0].method, "response_url");
	assert_string_equal(msgs[0].channel, "C0OUTSIDE");
	assert_string_equal(msgs[0].envelope_id, id);
	assert_non_null(strstr(msgs[0].body, "\"response_type\":\"ephemeral\""));
	assert_int_equal(harness_log_count("event=slack.ephemeral", "via=response_url",
					   "reason=not_in_channel", NULL), 1);
	/* in a channel the bot is in, chat.postEphemeral is used */
	t.reply_done = false;
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/chatops", "", id), 0);
	assert_true(harness_wait(&t.h, reply_done, &t, STEP_MS));
	msgs = fake_slack_messages(t.h.fs, &n);
	assert_int_equal(n, 2);
	assert_string_equal(msgs[1].method, "chat.postEphemeral");
	/* without a recent response_url from that user there is no fallback */
	t.reply_ephemeral = false;
	struct res r = {0};
	struct chat_text x;
	struct chat_message m = { .channel = "C0OUTSIDE", .rich = text_of(&x, "x") };
	assert_int_equal(chat_ephemeral(t.chat, "U0OTHER", &m, on_result, &r), 0);
	assert_true(harness_wait(&t.h, res_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EPERM);
	assert_string_equal(r.detail, "not_in_channel");
	teardown(&t);
}

static void test_fatal_tokens(void **state)
{
	struct t t;

	(void)state;
	/* a wrong app token: apps.connections.open says invalid_auth */
	setup_with(&t, &(struct setup_opts){ .app_token = "xapp-1-A0FAKE-wrong" });
	assert_int_equal(t.chat->ops->start(t.chat), 0);
	assert_true(harness_wait(&t.h, is_fatal, &t, STEP_MS));
	assert_int_equal(t.fatal_rc, BOT_EAUTH);
	assert_non_null(strstr(t.fatal_detail, "invalid_auth"));
	harness_pump(&t.h, 300);
	assert_int_equal(stats(&t).ws.failures, 0);   /* no retry loop */
	assert_int_equal(fake_slack_calls(t.h.fs, "apps.connections.open"), 1);
	assert_false(harness_log_has("xapp-1-A0FAKE-wrong"));
	teardown(&t);

	/* a wrong bot token: auth.test at start says invalid_auth */
	setup_with(&t, &(struct setup_opts){ .bot_token = "xoxb-1-wrong" });
	assert_int_equal(t.chat->ops->start(t.chat), 0);
	assert_true(harness_wait(&t.h, is_fatal, &t, STEP_MS));
	assert_int_equal(t.fatal_rc, BOT_EAUTH);
	assert_non_null(strstr(t.fatal_detail, "auth.test"));
	assert_false(harness_log_has("xoxb-1-wrong"));
	teardown(&t);
}

/* wss: an untrusted certificate is refused (and retried with backoff);
 * with the CA added through ca_file the same server is accepted. */
static void test_tls(void **state)
{
	struct t t;
	struct fake_tls_cert cert;
	struct bot_error err = {0};
	struct want w = { &t, 3 };
	char id[FAKE_SLACK_ID_MAX];

	(void)state;
	assert_int_equal(fake_tls_cert_create(&cert, &err), 0);
	setup_with(&t, &(struct setup_opts){ .cert = &cert });
	assert_int_equal(t.chat->ops->start(t.chat), 0);
	assert_true(harness_wait(&t.h, failures_n, &w, STEP_MS));
	assert_int_equal(stats(&t).ws.hellos, 0);
	assert_int_equal(fake_slack_connections(t.h.fs), 0);
	assert_true(harness_log_count("event=slack.ws.tls", "result=error", "host=localhost",
				      NULL) >= 3);
	assert_true(stats(&t).ws.links <= 1);
	teardown(&t);

	setup_with(&t, &(struct setup_opts){ .cert = &cert, .ca_file = cert.cert });
	start_connected(&t);
	assert_int_equal(harness_log_count("event=slack.ws.connected", "host=localhost", NULL), 1);
	assert_int_equal(fake_slack_send_slash(t.h.fs, "U0A", "C0GENERAL", "/scale", "x 1", id), 0);
	(void)wait_ack(&t, id);
	w.n = 1;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_false(harness_log_has("event=slack.ws.tls"));
	teardown(&t);
	fake_tls_cert_remove(&cert);
}

/* The shutdown hook closes politely: the close handshake completes. */
/* ---- who may speak ------------------------------------------------------------ */

static int raw(struct t *t, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	return fake_slack_send_raw(t->h.fs, buf, (size_t)n);
}

#define SLASH(eid, team, ent, app, user)                                                   \
	"{\"envelope_id\":\"" eid "\",\"type\":\"slash_commands\",\"accepts_response_payload\":true," \
	"\"payload\":{\"team_id\":" team ",\"enterprise_id\":" ent ",\"api_app_id\":" app ","     \
	"\"channel_id\":\"C0GENERAL\",\"user_id\":" user ",\"command\":\"/scale\",\"text\":\"web 3\"," \
	"\"trigger_id\":\"" eid ".t\"}}"
#define CLICK(eid, team, user_team)                                                          \
	"{\"envelope_id\":\"" eid "\",\"type\":\"interactive\",\"payload\":{\"type\":\"block_actions\"," \
	"\"user\":{\"id\":\"U0BOB\",\"team_id\":" user_team "},\"api_app_id\":\"A0FAKE\","      \
	"\"team\":{\"id\":" team "},\"channel\":{\"id\":\"C0GENERAL\"},"                       \
	"\"container\":{\"type\":\"message\",\"message_ts\":\"1.2\",\"channel_id\":\"C0GENERAL\"}," \
	"\"actions\":[{\"action_id\":\"gate.approve\",\"value\":\"1\",\"action_ts\":\"" eid "\"}]}}"
#define MENTION(eid, user_team)                                                              \
	"{\"envelope_id\":\"" eid "\",\"type\":\"events_api\",\"payload\":{\"team_id\":\"T0FAKE\","  \
	"\"api_app_id\":\"A0FAKE\",\"type\":\"event_callback\",\"event_id\":\"Ev" eid "\","       \
	"\"event\":{\"type\":\"app_mention\",\"user\":\"U0BOB\",\"text\":\"<@U0FAKEBOT> help\","  \
	"\"team\":" user_team ",\"user_team\":" user_team ",\"channel\":\"C0GENERAL\"}}}"

/* Envelopes from another workspace, org or app, or by a user of another
 * workspace (Slack Connect), are acked and reach nobody; each is counted
 * by reason and logged with its quoted values. Ids not of Slack's shape
 * (a "<!channel>" user) are refused as malformed. Ours pass. */
static void test_foreign_envelopes(void **state)
{
	struct t t;
	struct want w = { &t, 1 };

	(void)state;
	setup(&t);
	start_connected(&t);
	assert_true(harness_log_has("team_id=T0FAKE"));
	assert_true(harness_log_has("app_id=A0FAKE"));

	assert_int_equal(raw(&t, SLASH("e1", "\"T0OTHER\"", "null", "\"A0FAKE\"", "\"U0BOB\"")), 0);
	assert_int_equal(raw(&t, SLASH("e2", "\"T0FAKE\"", "null", "\"A0OTHER\"", "\"U0BOB\"")), 0);
	assert_int_equal(raw(&t, SLASH("e3", "\"T0FAKE\"", "\"E0OTHER\"", "\"A0FAKE\"", "\"U0BOB\"")), 0);
	assert_int_equal(raw(&t, SLASH("e4", "null", "null", "\"A0FAKE\"", "\"U0BOB\"")), 0);
	assert_int_equal(raw(&t, SLASH("e5", "\"T0FAKE\"", "null", "null", "\"U0BOB\"")), 0);
	assert_int_equal(raw(&t, CLICK("e6", "\"T0FAKE\"", "\"T0OTHER\"")), 0);
	assert_int_equal(raw(&t, CLICK("e7", "\"T0OTHER\"", "\"T0FAKE\"")), 0);
	assert_int_equal(raw(&t, MENTION("e8", "\"T0OTHER\"")), 0);
	assert_int_equal(raw(&t, SLASH("e9", "\"T0FAKE\"", "null", "\"A0FAKE\"", "\"<!channel>\"")), 0);
	/* ours, last: when it arrives, every earlier one was handled */
	assert_int_equal(raw(&t, SLASH("e10", "\"T0FAKE\"", "null", "\"A0FAKE\"", "\"U0BOB\"")), 0);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	for (int i = 1; i <= 10; i++) {
		char id[8];
		snprintf(id, sizeof id, "e%d", i);
		assert_non_null(wait_ack(&t, id)); /* every one acked */
	}
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].id, "cmd:e10.t");

	assert_int_equal(t.chat->refused[CHAT_REFUSED_TEAM], 3);
	assert_int_equal(t.chat->refused[CHAT_REFUSED_APP], 2);
	assert_int_equal(t.chat->refused[CHAT_REFUSED_ENTERPRISE], 1);
	assert_int_equal(t.chat->refused[CHAT_REFUSED_EXTERNAL_USER], 2);
	assert_int_equal(harness_log_count("event=slack.refused", "reason=team", "envelope=e1",
					   "team=T0OTHER", "user=U0BOB", NULL), 1);
	assert_int_equal(harness_log_count("event=slack.refused", "reason=external_user",
					   "envelope=e6", "user_team=T0OTHER", NULL), 1);
	assert_true(harness_log_has("not of Slack's shape"));
	assert_false(harness_log_has("<!channel>"));

	/* Slack Connect users, once allowed, are served (the core still
	 * decides what they may do) */
	slack_chat_set_allow_external(t.chat, true);
	w.n = 2;
	assert_int_equal(raw(&t, CLICK("e11", "\"T0FAKE\"", "\"T0OTHER\"")), 0);
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.ev[1].type, CHAT_EV_BUTTON);
	/* but never another workspace's or app's envelopes */
	assert_int_equal(raw(&t, CLICK("e12", "\"T0OTHER\"", "\"T0OTHER\"")), 0);
	assert_int_equal(raw(&t, SLASH("e13", "\"T0FAKE\"", "null", "\"A0FAKE\"", "\"U0BOB\"")), 0);
	w.n = 3;
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	assert_int_equal(t.n_ev, 3);
	assert_int_equal(t.ev[2].type, CHAT_EV_COMMAND);
	assert_int_equal(t.chat->refused[CHAT_REFUSED_TEAM], 4);
	teardown(&t);
}

/* Until auth.test says who the bot is, no websocket is opened (no envelope
 * could be checked); a failed auth.test is asked again after a backoff. */
static void test_auth_before_websocket(void **state)
{
	struct t t;

	(void)state;
	setup(&t);
	assert_int_equal(fake_slack_fail_next(t.h.fs, "auth.test", "internal_error"), 0);
	assert_int_equal(t.chat->ops->start(t.chat), 0);
	assert_true(harness_wait(&t.h, hellos_at_least, &t, STEP_MS));
	assert_int_equal(harness_log_count("event=slack.auth", "result=retry", NULL), 1);
	assert_true(harness_log_has("event=slack.auth result=ok"));
	/* the connection was opened once, after the second auth.test */
	assert_int_equal(fake_slack_opens(t.h.fs), 1);
	assert_int_equal(fake_slack_calls(t.h.fs, "auth.test"), 2);
	size_t n = 0;
	const struct fake_slack_call *calls = fake_slack_call_log(t.h.fs, &n);
	size_t first_open = n, last_auth = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(calls[i].method, "auth.test") == 0)
			last_auth = i;
		else if (strcmp(calls[i].method, "apps.connections.open") == 0 && first_open == n)
			first_open = i;
	}
	assert_true(first_open < n && last_auth < first_open);
	teardown(&t);
}

/* The app id comes from the app token, or from the options; when they
 * disagree, or neither tells, the backend does not start. */
static void test_app_identity(void **state)
{
	struct bot_error err = {0};
	struct harness h;
	struct chat *c = NULL;

	(void)state;
	assert_int_equal(harness_init(&h, NULL), 0);
	assert_int_equal(slack_chat_create(h.loop, &(struct slack_chat_opts){
			.app_token = "xapp-1-A0FAKE-x", .bot_token = BOT_TOKEN,
			.app_id = "A0OTHER" }, &c, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "is not the app of the app token (A0FAKE)"));
	assert_int_equal(slack_chat_create(h.loop, &(struct slack_chat_opts){
			.app_token = "xapp-opaque", .bot_token = BOT_TOKEN }, &c, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "set slack.app_id"));
	assert_int_equal(slack_chat_create(h.loop, &(struct slack_chat_opts){
			.app_token = "xapp-opaque", .bot_token = BOT_TOKEN, .app_id = "A0FAKE" },
			&c, &err), BOT_EOK);
	c->ops->destroy(c);
	harness_stop(&h);
	assert_int_equal(harness_destroy(&h), 0);
	harness_log_release();
}

/* ---- no key injection into the log -------------------------------------------- */

/* Send j (taken) as one frame. */
static void send_json(struct t *t, json_t *j)
{
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	assert_int_equal(fake_slack_send_raw(t->h.fs, s, strlen(s)), 0);
	free(s);
}

/* Outside values shaped like logfmt (a space then key=value, a quote, a
 * backslash before a quote) in every field of a frame that the adapter may
 * log and that is not checked against Slack's id shape: envelope ids, the
 * envelope type, command, text, trigger, action id, value and ts, event id,
 * a disconnect reason. Each line logged, at debug, parses as strict logfmt
 * (tests/fakes/logfmt.h) and has none of the injected keys (issue 10). */
static void test_log_values_quoted(void **state)
{
	static const char *const envelope_ids[] = {
		"x admin=yes", "a\" b=c", "m\\\" admin=yes", "u admin=yes", "f admin=yes",
		"d\\ b=c",
	};
	struct t t;
	struct want w = { &t, 3 };
	struct logfmt_line l;
	char why[128];

	(void)state;
	setup(&t);
	log_set_level(BOT_LOG_DEBUG);
	start_connected(&t);

	/* a slash command */
	send_json(&t, json_pack("{s:s, s:s, s:b, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		"envelope_id", envelope_ids[0], "type", "slash_commands",
		"accepts_response_payload", 1, "payload", "team_id", "T0FAKE",
		"api_app_id", "A0FAKE", "channel_id", "C0GENERAL", "user_id", "U0BOB",
		"command", "/x admin=yes", "text", "web 3 admin=yes",
		"trigger_id", "t1\" admin=yes"));
	/* a click */
	send_json(&t, json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:s, s:{s:s}, s:{s:s}, "
				"s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}}",
		"envelope_id", envelope_ids[1], "type", "interactive", "payload",
		"type", "block_actions", "user", "id", "U0BOB", "team_id", "T0FAKE",
		"api_app_id", "A0FAKE", "team", "id", "T0FAKE", "channel", "id", "C0GENERAL",
		"container", "type", "message", "message_ts", "1.2 b=c", "channel_id", "C0GENERAL",
		"actions", "action_id", "gate.approve b=c", "value", "1\" admin=yes",
		"action_ts", "9.9 b=c"));
	/* a mention */
	send_json(&t, json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}}",
		"envelope_id", envelope_ids[2], "type", "events_api", "payload",
		"team_id", "T0FAKE", "api_app_id", "A0FAKE", "type", "event_callback",
		"event_id", "Ev b=c", "event", "type", "app_mention", "user", "U0BOB",
		"text", "hi\" admin=yes\nlevel=error b=c", "team", "T0FAKE",
		"channel", "C0GENERAL"));
	/* an envelope of a type we don't know */
	send_json(&t, json_pack("{s:s, s:s, s:{}}", "envelope_id", envelope_ids[3],
				"type", "x b=c", "payload"));
	/* from another workspace (refused, logged with its values) */
	send_json(&t, json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		"envelope_id", envelope_ids[4], "type", "slash_commands", "payload",
		"team_id", "T0OTHER", "api_app_id", "A0FAKE", "channel_id", "C0GENERAL",
		"user_id", "U0BOB", "command", "/x admin=yes", "text", "web 3 admin=yes",
		"trigger_id", "t2 admin=yes"));
	/* no usable envelope id (rejected, its type in the detail) */
	send_json(&t, json_pack("{s:s, s:i}", "type", "y admin=yes", "envelope_id", 1));
	/* the slash command again, under another envelope id: a duplicate */
	send_json(&t, json_pack("{s:s, s:s, s:b, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		"envelope_id", envelope_ids[5], "type", "slash_commands",
		"accepts_response_payload", 1, "payload", "team_id", "T0FAKE",
		"api_app_id", "A0FAKE", "channel_id", "C0GENERAL", "user_id", "U0BOB",
		"command", "/x admin=yes", "text", "web 3 admin=yes",
		"trigger_id", "t1\" admin=yes"));
	for (size_t i = 0; i < sizeof envelope_ids / sizeof *envelope_ids; i++)
		assert_non_null(wait_ack(&t, envelope_ids[i]));
	assert_true(harness_wait(&t.h, events_at_least, &w, STEP_MS));
	/* a disconnect with a reason of its own: refresh, a second link */
	send_json(&t, json_pack("{s:s, s:s}", "type", "disconnect", "reason", "r admin=yes"));
	w.n = 2;
	assert_true(harness_wait(&t.h, hellos_n, &w, STEP_MS));
	harness_pump(&t.h, 50);
	assert_int_equal(t.n_ev, 3);
	assert_string_equal(t.ev[1].action_id, "gate.approve b=c");

	/* the values were logged, each as one quoted value */
	assert_true(harness_log_has(" envelope=\"x admin=yes\" "));
	assert_true(harness_log_has(" envelope=\"a\\\" b=c\" "));
	assert_true(harness_log_has(" envelope=\"m\\\\\\\" admin=yes\" "));
	assert_true(harness_log_has(" envelope=\"d\\\\ b=c\" "));
	assert_true(harness_log_has(" command=\"/x admin=yes\" "));
	assert_true(harness_log_has(" action=\"gate.approve b=c\" "));
	assert_true(harness_log_has(" type=\"x b=c\" "));
	assert_true(harness_log_has(" reason=\"r admin=yes\" "));
	assert_true(harness_log_has("result=duplicate"));
	assert_true(harness_log_has("event=slack.refused"));
	/* and no line has a key it should not */
	assert_true(harness_log_lines() > 10);
	for (size_t i = 0; i < harness_log_lines(); i++) {
		const char *line = harness_log_line(i);

		if (!logfmt_parse(line, &l, why, sizeof why))
			fail_msg("not logfmt (%s): %s", why, line);
		if (logfmt_has_key(&l, "admin") || logfmt_has_key(&l, "b"))
			fail_msg("injected key: %s", line);
	}
	teardown(&t);
}

static void test_polite_shutdown(void **state)
{
	struct t t;

	(void)state;
	setup(&t);
	start_connected(&t);
	harness_stop(&t.h);
	assert_int_equal(harness_log_count("event=slack.ws.closed", "link=1",
					   "reason=\"closed by us\"", NULL), 1);
	assert_false(harness_log_has("result=timeout action=drop"));
	assert_true(harness_log_has("event=slack.ws.stopped"));
	t.chat->ops->destroy(t.chat);
	assert_int_equal(harness_destroy(&t.h), 0);
	harness_log_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_hello_ack),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_click_ack_waits_for_settle),
		cmocka_unit_test(test_disconnect_refresh),
		cmocka_unit_test(test_disconnect_link_disabled),
		cmocka_unit_test(test_disconnect_too_many),
		cmocka_unit_test(test_half_open),
		cmocka_unit_test(test_half_open_default_watch),
		cmocka_unit_test(test_abrupt_close_backoff),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_chat_api_errors),
		cmocka_unit_test(test_ephemeral_fallback),
		cmocka_unit_test(test_ephemeral_throttle),
		cmocka_unit_test(test_ephemeral_overflow),
		cmocka_unit_test(test_fatal_tokens),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_foreign_envelopes),
		cmocka_unit_test(test_app_identity),
		cmocka_unit_test(test_auth_before_websocket),
		cmocka_unit_test(test_log_values_quoted),
		cmocka_unit_test(test_polite_shutdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
