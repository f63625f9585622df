/* The fake Slack with several Socket Mode connections of one app
 * (tests/fakes/fake_slack.h, "Several connections of one app";
 * docs/slack-protocol.md §8): spread at random with a seed that replays,
 * events_api retries to another socket, acks counted on any socket, the
 * 11th socket refused, one socket killed while the others keep receiving.
 *
 * Same shape as fake_slack_test.c: one process, one uv loop, minimal lws
 * clients; the test pumps the loop until a condition holds or a generous
 * deadline passes, and asserts outside callbacks. Each test makes its own
 * fake (the options differ) and its teardown destroys it; the group
 * teardown requires uv_loop_close() == 0. Nothing is proved by sleeping:
 * "no more retries" is awaited as fake_slack_retries_pending() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uv.h> /* before libwebsockets.h */
#include <libwebsockets.h>
#include <jansson.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/http.h"
#include "adapters/lws/lws.h"
#include "adapters/slack/envelope.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/fake_slack.h"

#define APP_TOKEN  "xapp-1-A0FAKE-test"
#define BOT_TOKEN  "xoxb-1-test"
#define STEP_MS    10000     /* bound on any single wait (a loaded machine) */
#define ACK_MS     300       /* the fake's ack deadline in these tests */
#define N_CLIENTS  11
#define SEED       20240611u

/* ---- state ------------------------------------------------------------------ */

struct wsc {
	struct lws *wsi;
	bool established, closed, error, peer_close;
	bool auto_ack;          /* ack every envelope as it arrives */
	char **frames;          /* every text frame received, in order */
	size_t n_frames, cap_frames, read;   /* read: frames consumed by client_next */
	size_t n_envelopes;
	char *rx;
	size_t rx_len;
	char **out;             /* frames to send, out[out_head..n_out) */
	size_t n_out, out_head, cap_out;
};

struct t {
	struct bot_loop *loop;
	uv_loop_t *uv;
	struct lws_context *ctx;
	struct lws_vhost *cvh;
	struct http *http;
	struct fake_slack *fs;
	uv_timer_t deadline;
	bool expired;
	struct wsc clients[N_CLIENTS];
};

static struct t T;

/* ---- loop pumping ---------------------------------------------------------------- */

static void deadline_cb(uv_timer_t *h)
{
	((struct t *)h->data)->expired = true;
}

typedef bool (*cond_fn)(void *arg);

/* Run the loop until cond(arg) holds or ms passed; returns cond(arg). */
static bool wait_for(cond_fn cond, void *arg, unsigned ms)
{
	T.expired = false;
	uv_timer_start(&T.deadline, deadline_cb, ms, 0);
	while (!cond(arg) && !T.expired)
		uv_run(T.uv, UV_RUN_ONCE);
	uv_timer_stop(&T.deadline);
	return cond(arg);
}

/* ---- apps.connections.open through adapters/http ----------------------------------- */

struct reply {
	bool done;
	int rc;
	char *body;
};

static void http_done(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct reply *rep = ud;

	(void)errmsg;
	rep->done = true;
	rep->rc = rc;
	if (r)
		rep->body = strdup(r->body ? r->body : "");
}

static bool reply_done(void *arg)
{
	return ((struct reply *)arg)->done;
}

/* A fresh ws:// URL (caller frees). */
static char *open_url(void)
{
	static const char *hdrs[] = { "Authorization: Bearer " APP_TOKEN,
				      "Content-Type: application/x-www-form-urlencoded", NULL };
	struct reply rep = {0};
	char url[256];
	json_t *j;
	char *out;

	snprintf(url, sizeof url, "%s/apps.connections.open", fake_slack_api_url(T.fs));
	assert_int_equal(http_send(T.http, &(struct http_request){ .method = "POST", .url = url,
				   .headers = hdrs, .body = "", .body_len = 0 },
				   http_done, &rep, NULL), 0);
	assert_true(wait_for(reply_done, &rep, STEP_MS));
	assert_int_equal(rep.rc, 0);
	j = json_loads(rep.body ? rep.body : "", 0, NULL);
	assert_true(json_is_true(json_object_get(j, "ok")));
	out = strdup(json_string_value(json_object_get(j, "url")));
	json_decref(j);
	free(rep.body);
	return out;
}

/* ---- minimal Socket Mode clients ------------------------------------------------------- */

static int push_str(char ***arr, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **na = realloc(*arr, ncap * sizeof *na);

		if (!na)
			return -1;
		*arr = na;
		*cap = ncap;
	}
	(*arr)[(*n)++] = s;
	return 0;
}

static void queue_out(struct wsc *c, const char *text)
{
	char *s = strdup(text);

	if (!s || push_str(&c->out, &c->n_out, &c->cap_out, s)) {
		free(s);
		return;
	}
	lws_callback_on_writable(c->wsi);
}

/* A whole frame arrived: keep it; ack it if auto_ack and it is an envelope. */
static void client_frame(struct wsc *c, char *frame)
{
	json_t *j = json_loads(frame, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "envelope_id"));
	char ack[256];

	if (id) {
		c->n_envelopes++;
		if (c->auto_ack && slack_ack_frame(id, ack, sizeof ack))
			queue_out(c, ack);
	}
	json_decref(j);
	if (push_str(&c->frames, &c->n_frames, &c->cap_frames, frame))
		free(frame);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct wsc *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = true;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		char *nb = realloc(c->rx, c->rx_len + len + 1);

		if (!nb)
			return -1;
		c->rx = nb;
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		c->rx[c->rx_len] = '\0';
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			client_frame(c, c->rx);
			c->rx = NULL;
			c->rx_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->out_head < c->n_out) {
			char *s = c->out[c->out_head++];
			size_t n = strlen(s);
			unsigned char *buf = malloc(LWS_PRE + n);
			int w = -1;

			if (buf) {
				memcpy(buf + LWS_PRE, s, n);
				w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
			}
			free(buf);
			free(s);
			if (w < (int)n)
				return -1;
			if (c->out_head < c->n_out)
				lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		c->peer_close = true;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->error = true;
		c->wsi = NULL;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->closed = true;
		c->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols client_protocols[] = {
	{ "test-client", client_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void client_reset(struct wsc *c)
{
	for (size_t i = 0; i < c->n_frames; i++)
		free(c->frames[i]);
	for (size_t i = c->out_head; i < c->n_out; i++)
		free(c->out[i]);
	free(c->frames);
	free(c->out);
	free(c->rx);
	memset(c, 0, sizeof *c);
}

static bool client_settled(void *arg)
{
	struct wsc *c = arg;

	return c->established || c->error || c->closed;
}

static bool client_gone(void *arg)
{
	struct wsc *c = arg;

	return c->error || c->closed;
}

static bool has_unread(void *arg)
{
	struct wsc *c = arg;

	return c->read < c->n_frames;
}

/* The next unread frame (borrowed until client_reset), waiting for one. */
static const char *client_next(struct wsc *c)
{
	assert_true(wait_for(has_unread, c, STEP_MS));
	return c->frames[c->read++];
}

/* apps.connections.open + connect client i + its hello. */
static void client_up(size_t i, bool auto_ack)
{
	struct wsc *c = &T.clients[i];
	char *url = open_url();
	const char *path = strchr(url + strlen("ws://"), '/');
	struct lws_client_connect_info ci;
	json_t *j;

	client_reset(c);
	c->auto_ack = auto_ack;
	memset(&ci, 0, sizeof ci);
	ci.context = T.ctx;
	ci.vhost = T.cvh;
	ci.address = "127.0.0.1";
	ci.port = fake_slack_port(T.fs);
	ci.path = path;
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.local_protocol_name = "test-client";
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&ci))
		c->error = true;
	assert_true(wait_for(client_settled, c, STEP_MS));
	free(url);
	assert_true(c->established);
	j = json_loads(client_next(c), 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), i < 10 ? "hello"
										 : "disconnect");
	json_decref(j);
}

static void client_ack(struct wsc *c, const char *envelope_id)
{
	char ack[256];

	assert_non_null(c->wsi);
	assert_true(slack_ack_frame(envelope_id, ack, sizeof ack) > 0);
	queue_out(c, ack);
}

/* ---- the fake ---------------------------------------------------------------------- */

static void fake_up(struct fake_slack_opts o)
{
	o.app_token = APP_TOKEN;
	o.bot_token = BOT_TOKEN;
	assert_null(T.fs);
	assert_int_equal(fake_slack_create(T.ctx, T.uv, &o, &T.fs), 0);
	/* printed so that a failing run can be replayed */
	fprintf(stderr, "# fake slack seed=%" PRIu64 "\n", fake_slack_seed(T.fs));
}

static bool all_clients_gone(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < N_CLIENTS; i++)
		if (T.clients[i].wsi)
			return false;
	return true;
}

/* Per-test teardown: the fake closes its sockets (1001), clients go. */
static int fake_down(void **state)
{
	bool gone;

	(void)state;
	fake_slack_destroy(T.fs);
	T.fs = NULL;
	gone = wait_for(all_clients_gone, NULL, STEP_MS);
	for (size_t i = 0; i < N_CLIENTS; i++)
		client_reset(&T.clients[i]);
	return gone ? 0 : -1;
}

static bool acks_at_least(void *arg)
{
	size_t n;

	(void)fake_slack_acks(T.fs, &n);
	return n >= *(size_t *)arg;
}

static bool connections_are(void *arg)
{
	return fake_slack_connections(T.fs) == *(unsigned *)arg;
}

static bool retries_settled(void *arg)
{
	(void)arg;
	return fake_slack_retries_pending(T.fs) == 0;
}

/* The delivery of the payload first sent as envelope id with retry_attempt
 * `attempt`, or NULL. */
static const struct fake_slack_delivery *attempt_of(const char *id, int attempt)
{
	for (size_t i = 0; i < fake_slack_n_deliveries(T.fs); i++) {
		const struct fake_slack_delivery *d = fake_slack_delivery(T.fs, i);

		if (strcmp(d->first_id, id) == 0 && d->retry_attempt == attempt)
			return d;
	}
	return NULL;
}

/* Any delivery of that payload other than the first one? */
static bool retried(const char *id)
{
	for (size_t i = 0; i < fake_slack_n_deliveries(T.fs); i++) {
		const struct fake_slack_delivery *d = fake_slack_delivery(T.fs, i);

		if (strcmp(d->first_id, id) == 0 && strcmp(d->envelope_id, id) != 0)
			return true;
	}
	return false;
}

struct retry_wait {
	const char *id;
	int attempt;
};

static bool retry_seen(void *arg)
{
	const struct retry_wait *w = arg;

	return attempt_of(w->id, w->attempt) != NULL;
}

struct frame_wait {
	struct wsc *c;
	const char *needle;
};

static const char *frame_with(struct wsc *c, const char *needle)
{
	for (size_t k = 0; k < c->n_frames; k++)
		if (strstr(c->frames[k], needle))
			return c->frames[k];
	return NULL;
}

static bool frame_seen(void *arg)
{
	const struct frame_wait *w = arg;

	return frame_with(w->c, w->needle) != NULL;
}

/* The frame of client c that contains needle (an envelope id), parsed
 * (caller decrefs); waits for it. */
static json_t *client_frame_with(struct wsc *c, const char *needle)
{
	struct frame_wait w = { c, needle };
	json_t *j;

	assert_true(wait_for(frame_seen, &w, STEP_MS));
	j = json_loads(frame_with(c, needle), 0, NULL);
	assert_non_null(j);
	return j;
}

/* ---- setup / teardown ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	struct lws_context_creation_info vi;
	struct bot_error err = {0};

	(void)state;
	log_set_level(BOT_LOG_WARN);
	memset(&T, 0, sizeof T);
	if (bot_loop_create(&T.loop, &err))
		return -1;
	T.uv = bot_loop_uv(T.loop);
	T.ctx = bot_lws_context(T.loop, &err);
	if (!T.ctx || http_create(T.loop, NULL, &T.http, &err))
		return -1;
	memset(&vi, 0, sizeof vi);
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.protocols = client_protocols;
	vi.vhost_name = "test-client";
	T.cvh = lws_create_vhost(T.ctx, &vi);
	if (!T.cvh)
		return -1;
	uv_timer_init(T.uv, &T.deadline);
	T.deadline.data = &T;
	return 0;
}

static int group_teardown(void **state)
{
	int rc;

	(void)state;
	if (T.fs)
		(void)fake_down(NULL);
	uv_close((uv_handle_t *)&T.deadline, NULL);
	bot_loop_shutdown(T.loop);
	bot_loop_run(T.loop);
	http_destroy(T.http);
	rc = bot_loop_destroy(T.loop);   /* 0 iff uv_loop_close() == 0 */
	if (rc)
		fprintf(stderr, "bot_loop_destroy: %s\n", bot_strerror(rc));
	return rc ? -1 : 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

#define N_SPREAD 60

/* Three sockets, 60 envelopes of the three kinds: returns the socket of
 * each delivery in order (conns[N_SPREAD]). */
static void spread_run(unsigned conns[N_SPREAD])
{
	size_t want = N_SPREAD, n_conns;
	const struct fake_slack_conn *cr;
	unsigned per[4] = {0};

	for (size_t i = 0; i < 3; i++)
		client_up(i, true);
	assert_int_equal(fake_slack_connections(T.fs), 3);
	for (int i = 0; i < N_SPREAD; i++) {
		char id[FAKE_SLACK_ID_MAX];

		switch (i % 3) {
		case 0:
			assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/scale",
							       "api 3", id), 0);
			break;
		case 1:
			assert_int_equal(fake_slack_send_mention(T.fs, "U1", "C0GENERAL",
								 "<@U0FAKEBOT> hi", id), 0);
			break;
		default:
			assert_int_equal(fake_slack_send_button(T.fs, "U1", "C0GENERAL", "1.000001",
								"gate.approve", "1", id), 0);
			break;
		}
	}
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_n_deliveries(T.fs), N_SPREAD);
	for (size_t i = 0; i < N_SPREAD; i++) {
		const struct fake_slack_delivery *d = fake_slack_delivery(T.fs, i);

		assert_true(d->conn >= 1 && d->conn <= 3);
		assert_int_equal(d->acked_by, d->conn);   /* each client acks its own */
		assert_int_equal(d->retry_attempt, 0);
		assert_string_equal(d->first_id, d->envelope_id);
		conns[i] = d->conn;
		per[d->conn]++;
	}
	cr = fake_slack_conns(T.fs, &n_conns);
	assert_int_equal(n_conns, 3);
	for (unsigned k = 1; k <= 3; k++) {
		assert_int_equal(cr[k - 1].id, k);
		assert_true(cr[k - 1].open);
		assert_int_equal(cr[k - 1].delivered, per[k]);
		assert_int_equal(cr[k - 1].acked, per[k]);
		assert_int_equal(T.clients[k - 1].n_envelopes, per[k]);
		/* 60 over 3 at random: each gets some (p(miss one) ~ 3*(2/3)^60) */
		assert_true(per[k] > 0);
		fprintf(stderr, "# conn %u: %u envelopes\n", k, per[k]);
	}
}

static void test_spread_replays_with_seed(void **state)
{
	unsigned first[N_SPREAD], again[N_SPREAD];

	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED });
	assert_int_equal(fake_slack_seed(T.fs), SEED);
	spread_run(first);
	assert_int_equal(fake_down(state), 0);

	/* the same seed and the same steps: the same sockets in the same order */
	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED });
	spread_run(again);
	assert_memory_equal(first, again, sizeof first);
}

static void test_without_option_newest_only(void **state)
{
	size_t want = 6;

	(void)state;
	/* the behaviour of one connection, unchanged: the newest socket */
	fake_up((struct fake_slack_opts){0});
	for (size_t i = 0; i < 3; i++)
		client_up(i, true);
	for (int i = 0; i < 6; i++)
		assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", NULL), 0);
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_conn(T.fs, 3)->delivered, 6);
	assert_int_equal(fake_slack_conn(T.fs, 1)->delivered, 0);
	assert_int_equal(fake_slack_conn(T.fs, 2)->delivered, 0);
}

static void test_unacked_event_retried_elsewhere(void **state)
{
	static const unsigned delays[] = { 0, 100, 100 };
	char id[FAKE_SLACK_ID_MAX], slash[FAKE_SLACK_ID_MAX], click[FAKE_SLACK_ID_MAX];
	const struct fake_slack_delivery *d, *prev;
	struct retry_wait w = { id, 3 };
	const char *event_id;
	json_t *first;

	(void)state;
	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED,
					  .event_retries = true, .ack_timeout_ms = ACK_MS,
					  .retry_delays_ms = delays, .n_retry_delays = 3 });
	for (size_t i = 0; i < 3; i++)
		client_up(i, false);   /* nobody acks */

	assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", slash), 0);
	assert_int_equal(fake_slack_send_button(T.fs, "U1", "C0GENERAL", "1.000001", "gate.deny",
						"1", click), 0);
	assert_int_equal(fake_slack_send_mention(T.fs, "U1", "C0GENERAL", "<@U0FAKEBOT> hi", id), 0);
	d = fake_slack_find_delivery(T.fs, id);
	assert_non_null(d);
	assert_int_equal(d->retry_attempt, 0);
	first = client_frame_with(&T.clients[d->conn - 1], id);
	event_id = json_string_value(json_object_get(json_object_get(first, "payload"), "event_id"));
	assert_non_null(event_id);

	/* three retries, each to another socket than the one before */
	assert_true(wait_for(retry_seen, &w, STEP_MS));
	prev = fake_slack_find_delivery(T.fs, id);
	for (int a = 1; a <= 3; a++) {
		json_t *j;

		d = attempt_of(id, a);
		assert_non_null(d);
		assert_true(d->automatic);
		assert_string_not_equal(d->envelope_id, id);
		assert_true(d->conn >= 1 && d->conn <= 3);
		assert_int_not_equal(d->conn, prev->conn);
		assert_true(d->queued_ns - prev->queued_ns >= (uint64_t)ACK_MS * 1000000u);
		/* on the wire: same payload, retry_attempt and retry_reason as Slack */
		j = client_frame_with(&T.clients[d->conn - 1], d->envelope_id);
		assert_int_equal(json_integer_value(json_object_get(j, "retry_attempt")), a);
		assert_string_equal(json_string_value(json_object_get(j, "retry_reason")), "timeout");
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "payload"),
								     "event_id")), event_id);
		json_decref(j);
		prev = d;
	}
	/* then Slack gives up; commands and clicks were never retried */
	assert_true(wait_for(retries_settled, NULL, STEP_MS));
	assert_int_equal(fake_slack_redeliveries(T.fs), 3);
	assert_int_equal(fake_slack_n_deliveries(T.fs), 6);
	assert_false(retried(slash));
	assert_false(retried(click));
	assert_null(attempt_of(id, 4));
	json_decref(first);
}

static void test_ack_on_any_socket_counts(void **state)
{
	static const unsigned delays[] = { 0, 100, 100 };
	char id[FAKE_SLACK_ID_MAX];
	const struct fake_slack_delivery *d, *r;
	const struct fake_slack_ack *a;
	struct retry_wait w = { id, 1 };
	size_t want = 1;
	unsigned other;

	(void)state;
	/* Slack's 3 s deadline: "in time" must hold on a loaded machine */
	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED + 1,
					  .event_retries = true,
					  .retry_delays_ms = delays, .n_retry_delays = 3 });
	for (size_t i = 0; i < 3; i++)
		client_up(i, false);

	/* an ack on another socket than the envelope's, in time: no retry */
	assert_int_equal(fake_slack_send_mention(T.fs, "U1", "C0GENERAL", "<@U0FAKEBOT> a", id), 0);
	d = fake_slack_find_delivery(T.fs, id);
	other = d->conn % 3 + 1;
	client_ack(&T.clients[other - 1], id);
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	a = fake_slack_find_ack(T.fs, id);
	assert_non_null(a);
	assert_int_equal(a->conn, other);
	d = fake_slack_find_delivery(T.fs, id);
	assert_int_equal(d->acked_by, other);
	assert_int_equal(fake_slack_conn(T.fs, other)->acked, 1);
	assert_int_equal(fake_slack_conn(T.fs, d->conn)->acked, 0);
	assert_true(wait_for(retries_settled, NULL, STEP_MS));
	assert_int_equal(fake_slack_redeliveries(T.fs), 0);
	assert_false(retried(id));

	/* unacked: retried once; the retry acked on a third socket ends it */
	assert_int_equal(fake_slack_send_mention(T.fs, "U1", "C0GENERAL", "<@U0FAKEBOT> b", id), 0);
	assert_true(wait_for(retry_seen, &w, STEP_MS));
	r = attempt_of(id, 1);
	d = fake_slack_find_delivery(T.fs, id);
	assert_int_not_equal(r->conn, d->conn);
	other = 6 - r->conn - d->conn;   /* the third socket */
	client_ack(&T.clients[other - 1], r->envelope_id);
	want = 2;
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_find_delivery(T.fs, r->envelope_id)->acked_by, other);
	assert_true(wait_for(retries_settled, NULL, STEP_MS));
	assert_int_equal(fake_slack_redeliveries(T.fs), 1);
}

static void test_eleventh_refused(void **state)
{
	const struct fake_slack_conn *c;
	unsigned ten = 10;
	size_t want = 40, n;

	(void)state;
	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED });
	for (size_t i = 0; i < 10; i++)
		client_up(i, true);
	assert_int_equal(fake_slack_connections(T.fs), 10);
	client_up(10, true);   /* its first frame is the disconnect (checked there) */
	{
		json_t *j = json_loads(T.clients[10].frames[0], 0, NULL);

		assert_string_equal(json_string_value(json_object_get(j, "reason")),
				    "too_many_websockets");
		assert_int_equal(json_integer_value(json_object_get(j, "num_connections")), 10);
		json_decref(j);
	}
	assert_true(wait_for(client_gone, &T.clients[10], STEP_MS));
	assert_true(wait_for(connections_are, &ten, STEP_MS));
	c = fake_slack_conn(T.fs, 11);
	assert_non_null(c);
	assert_true(c->rejected);
	assert_false(c->open);

	/* the ten keep receiving; the refused one never got an envelope */
	for (int i = 0; i < 40; i++)
		assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", NULL), 0);
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	(void)fake_slack_conns(T.fs, &n);
	assert_int_equal(n, 11);
	assert_int_equal(fake_slack_conn(T.fs, 11)->delivered, 0);
	assert_int_equal(T.clients[10].n_envelopes, 0);
}

static void test_kill_one_socket(void **state)
{
	static const unsigned delays[] = { 0 };
	char id[FAKE_SLACK_ID_MAX];
	const struct fake_slack_delivery *d;
	struct retry_wait w = { id, 1 };
	unsigned two = 2, before[4];
	size_t want;

	(void)state;
	/* a longer deadline, so that the live sockets' acks are surely in time */
	fake_up((struct fake_slack_opts){ .random_delivery = true, .seed = SEED,
					  .event_retries = true, .ack_timeout_ms = 2000,
					  .retry_delays_ms = delays, .n_retry_delays = 1 });
	client_up(0, true);
	client_up(1, false);   /* the replica that will die: it never acks */
	client_up(2, true);

	/* mentions until one lands on socket 2 (the others are acked) */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(fake_slack_send_mention(T.fs, "U1", "C0GENERAL", "<@U0FAKEBOT> x",
							 id), 0);
		if (fake_slack_find_delivery(T.fs, id)->conn == 2)
			break;
	}
	assert_int_equal(fake_slack_find_delivery(T.fs, id)->conn, 2);

	/* socket 2 dies (abrupt close, no close frame); 1 and 3 stay */
	assert_int_equal(fake_slack_drop_conn(T.fs, 2), 0);
	assert_int_equal(fake_slack_drop_conn(T.fs, 2), BOT_ENOTFOUND);
	assert_true(wait_for(client_gone, &T.clients[1], STEP_MS));
	assert_false(T.clients[1].peer_close);
	assert_true(wait_for(connections_are, &two, STEP_MS));
	assert_false(fake_slack_conn(T.fs, 2)->open);
	assert_non_null(T.clients[0].wsi);
	assert_non_null(T.clients[2].wsi);

	/* its unacked event comes again on a live socket, which acks it */
	assert_true(wait_for(retry_seen, &w, STEP_MS));
	d = attempt_of(id, 1);
	assert_true(d->conn == 1 || d->conn == 3);
	want = fake_slack_n_deliveries(T.fs) - 1;   /* all but the lost first one */
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_find_delivery(T.fs, d->envelope_id)->acked_by, d->conn);

	/* delivery goes on over the two that are left, both get some */
	for (unsigned k = 1; k <= 3; k++)
		before[k] = fake_slack_conn(T.fs, k)->delivered;
	for (int i = 0; i < 30; i++)
		assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", NULL), 0);
	want += 30;
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_conn(T.fs, 2)->delivered, before[2]);
	assert_true(fake_slack_conn(T.fs, 1)->delivered > before[1]);
	assert_true(fake_slack_conn(T.fs, 3)->delivered > before[3]);
	assert_int_equal(fake_slack_conn(T.fs, 1)->delivered + fake_slack_conn(T.fs, 3)->delivered,
			 before[1] + before[3] + 30);

	/* one socket told to go: the untold one gets everything meanwhile */
	assert_int_equal(fake_slack_disconnect_conn(T.fs, 1, "warning"), 0);
	assert_int_equal(fake_slack_disconnect_conn(T.fs, 1, "warning"), BOT_ESTATE);
	before[1] = fake_slack_conn(T.fs, 1)->delivered;
	before[3] = fake_slack_conn(T.fs, 3)->delivered;
	for (int i = 0; i < 10; i++)
		assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", NULL), 0);
	want += 10;
	assert_true(wait_for(acks_at_least, &want, STEP_MS));
	assert_int_equal(fake_slack_conn(T.fs, 1)->delivered, before[1]);
	assert_int_equal(fake_slack_conn(T.fs, 3)->delivered, before[3] + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_spread_replays_with_seed, fake_down),
		cmocka_unit_test_teardown(test_without_option_newest_only, fake_down),
		cmocka_unit_test_teardown(test_unacked_event_retried_elsewhere, fake_down),
		cmocka_unit_test_teardown(test_ack_on_any_socket_counts, fake_down),
		cmocka_unit_test_teardown(test_eleventh_refused, fake_down),
		cmocka_unit_test_teardown(test_kill_one_socket, fake_down),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
