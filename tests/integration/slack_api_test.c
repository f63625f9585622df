/* The Slack Web API client (adapters/slack/webapi) against the fake Slack
 * over real sockets: success, ok:false errors mapped and logged, 429 with
 * Retry-After honoured while the channel keeps its order and other channels
 * go on, 5xx and transport errors retried a bounded number of times,
 * non-retryable errors sent once, cancel_all. Each test has its own loop,
 * fake and client; teardown requires uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/http/http.h"
#include "adapters/slack/webapi.h"
#include "bot/base/log.h"
#include "tests/fakes/harness.h"

#define APP_TOKEN "xapp-1-A0FAKE-apitest"
#define BOT_TOKEN "xoxb-1-apitest"
#define STEP_MS   5000

static const uint32_t fast_steps[] = { 10, 20, 40 };
static const struct slack_retry_policy fast_retry = { fast_steps, 3, 0, 3 };

struct ctx {
	struct harness h;
	struct http *http;
	struct slack_api *api;
};

struct res {
	bool done;
	int rc;
	char error[64];
	char ts[32];
	long status;
	unsigned attempts;
	uint64_t at_ns;
	int order;
};

static int done_seq;

static void on_done(void *ud, const struct slack_api_result *r)
{
	struct res *x = ud;
	const char *ts = json_string_value(json_object_get(r->body, "ts"));

	x->done = true;
	x->rc = r->rc;
	x->status = r->status;
	x->attempts = r->attempts;
	x->at_ns = uv_hrtime();
	x->order = ++done_seq;
	snprintf(x->error, sizeof x->error, "%s", r->error ? r->error : "");
	snprintf(x->ts, sizeof x->ts, "%s", ts ? ts : "");
}

static bool is_done(void *arg)
{
	return ((struct res *)arg)->done;
}

struct all { struct res *v; size_t n; };

static bool all_done(void *arg)
{
	struct all *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].done)
			return false;
	return true;
}

static const struct fake_slack_channel chans[] = {
	{ "C0GENERAL", "general", true },
	{ "C0SECOND", "second", true },
	{ "C0OUTSIDE", "outside", false },
};

static void setup_with(struct ctx *c, const char *api_url_override, const char *bot_token,
		       unsigned max_ratelimited)
{
	struct fake_slack_opts fo = { .app_token = APP_TOKEN, .bot_token = BOT_TOKEN,
				      .channels = chans, .n_channels = 3 };
	struct bot_error err = {0};

	memset(c, 0, sizeof *c);
	assert_int_equal(harness_init(&c->h, &fo), 0);
	assert_int_equal(http_create(c->h.loop, NULL, &c->http, &err), 0);
	assert_int_equal(slack_api_create(c->h.uv, &(struct slack_api_opts){
			.http = c->http,
			.api_url = api_url_override ? api_url_override : fake_slack_api_url(c->h.fs),
			.bot_token = bot_token ? bot_token : BOT_TOKEN, .app_token = APP_TOKEN,
			.retry = &fast_retry, .max_ratelimited = max_ratelimited },
			&c->api, &err), 0);
}

static void setup(struct ctx *c)
{
	setup_with(c, NULL, NULL, 0);
}

static void teardown(struct ctx *c)
{
	harness_stop(&c->h);
	slack_api_destroy(c->api);
	http_destroy(c->http);
	assert_int_equal(harness_destroy(&c->h), 0);
	/* no token ever reached a log line */
	assert_false(harness_log_has(BOT_TOKEN));
	assert_false(harness_log_has(APP_TOKEN));
	harness_log_release();
}

static void post(struct ctx *c, const char *channel, const char *text, struct res *r)
{
	json_t *b = json_pack("{s:s, s:s}", "channel", channel, "text", text);

	memset(r, 0, sizeof *r);
	assert_int_equal(slack_api_call(c->api, &(struct slack_api_req){
			.method = "chat.postMessage", .body = b, .queue = channel },
			on_done, r, NULL), 0);
	json_decref(b);
}

static void test_ok_and_errors(void **state)
{
	struct ctx c;
	struct res r, u;
	json_t *b;

	(void)state;
	setup(&c);
	/* success: the ts comes back, the message is in the workspace */
	post(&c, "C0GENERAL", "hello *world*", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EOK);
	assert_int_equal(r.status, 200);
	assert_true(r.ts[0]);
	assert_int_equal(r.attempts, 1);

	/* chat.update of that message works; of an unknown one: message_not_found */
	b = json_pack("{s:s, s:s, s:s}", "channel", "C0GENERAL", "ts", r.ts, "text", "edited");
	memset(&u, 0, sizeof u);
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "chat.update",
			 .body = b, .queue = "C0GENERAL" }, on_done, &u, NULL), 0);
	json_decref(b);
	assert_true(harness_wait(&c.h, is_done, &u, STEP_MS));
	assert_int_equal(u.rc, BOT_EOK);
	b = json_pack("{s:s, s:s, s:s}", "channel", "C0GENERAL", "ts", "1.000", "text", "x");
	memset(&u, 0, sizeof u);
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "chat.update",
			 .body = b, .queue = "C0GENERAL" }, on_done, &u, NULL), 0);
	json_decref(b);
	assert_true(harness_wait(&c.h, is_done, &u, STEP_MS));
	assert_int_equal(u.rc, BOT_ENOTFOUND);
	assert_string_equal(u.error, "message_not_found");

	/* ok:false errors: code + Slack's string + one log line, never retried */
	post(&c, "C0NOPE", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_ENOTFOUND);
	assert_string_equal(r.error, "channel_not_found");
	assert_int_equal(r.attempts, 1);
	assert_int_equal(harness_log_count("event=slack.api.error", "method=chat.postMessage",
					   "channel=C0NOPE", "error=channel_not_found",
					   "code=ENOTFOUND", NULL), 1);

	post(&c, "C0OUTSIDE", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EPERM);
	assert_string_equal(r.error, "not_in_channel");
	assert_int_equal(harness_log_count("error=not_in_channel", "hint=", "/invite", NULL), 1);

	/* an injected internal_error is not retried */
	size_t before = fake_slack_calls(c.h.fs, "chat.postMessage");
	assert_int_equal(fake_slack_fail_next(c.h.fs, "chat.postMessage", "internal_error"), 0);
	post(&c, "C0GENERAL", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EREMOTE);
	assert_string_equal(r.error, "internal_error");
	assert_int_equal(fake_slack_calls(c.h.fs, "chat.postMessage"), before + 1);

	/* no_text (a bad request) maps to EINVAL */
	b = json_pack("{s:s}", "channel", "C0GENERAL");
	memset(&r, 0, sizeof r);
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "chat.postMessage",
			 .body = b, .queue = "C0GENERAL" }, on_done, &r, NULL), 0);
	json_decref(b);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EINVAL);
	assert_string_equal(r.error, "no_text");

	/* auth.test with no body (form-encoded, empty) */
	memset(&r, 0, sizeof r);
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "auth.test" },
					on_done, &r, NULL), 0);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EOK);

	/* bad arguments are refused at once */
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ 0 }, on_done, &r, NULL),
			 BOT_EINVAL);
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "a", .url = "b" },
					on_done, &r, NULL), BOT_EINVAL);
	teardown(&c);
}

static void test_invalid_auth(void **state)
{
	struct ctx c;
	struct res r;

	(void)state;
	setup_with(&c, NULL, "xoxb-1-wrong-token", 0);
	post(&c, "C0GENERAL", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EAUTH);
	assert_string_equal(r.error, "invalid_auth");
	assert_int_equal(harness_log_count("level=error", "error=invalid_auth", "hint=", NULL), 1);
	assert_false(harness_log_has("xoxb-1-wrong-token"));
	teardown(&c);
}

/* 429 + Retry-After: the channel waits (in order), others do not. */
static void test_ratelimit_order(void **state)
{
	struct ctx c;
	struct res a[3], b;
	struct all all_a = { a, 3 };
	const struct fake_slack_call *log;
	const struct fake_slack_message *m;
	size_t n, i429 = SIZE_MAX, iretry = SIZE_MAX;
	char t[3][8];

	(void)state;
	setup(&c);
	assert_int_equal(fake_slack_ratelimit(c.h.fs, "chat.postMessage", 1, 1), 0);
	post(&c, "C0GENERAL", "A1", &a[0]);
	/* wait until the 429 came back, then queue more for both channels */
	for (int k = 0; k < 200 && !harness_log_has("event=slack.api.ratelimited"); k++)
		harness_pump(&c.h, 10);
	assert_true(harness_log_has("event=slack.api.ratelimited"));
	assert_true(harness_log_count("retry_after_s=1", "channel=C0GENERAL", NULL) == 1);
	post(&c, "C0GENERAL", "A2", &a[1]);
	post(&c, "C0GENERAL", "A3", &a[2]);
	post(&c, "C0SECOND", "B1", &b);
	/* the other channel is not stalled: B1 is done while A1 still waits */
	assert_true(harness_wait(&c.h, is_done, &b, 900));
	assert_int_equal(b.rc, BOT_EOK);
	assert_false(a[0].done);
	assert_false(a[1].done);
	/* then A1, A2, A3 in order */
	assert_true(harness_wait(&c.h, all_done, &all_a, STEP_MS));
	for (int i = 0; i < 3; i++)
		assert_int_equal(a[i].rc, BOT_EOK);
	assert_true(a[0].order < a[1].order && a[1].order < a[2].order);
	assert_true(b.order < a[0].order);
	assert_int_equal(a[0].attempts, 2);

	/* Retry-After respected: the retry reached the fake >= 1 s after the 429 */
	log = fake_slack_call_log(c.h.fs, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(log[i].method, "chat.postMessage") != 0)
			continue;
		if (log[i].http_status == 429 && i429 == SIZE_MAX)
			i429 = i;
		else if (i429 != SIZE_MAX && log[i].channel &&
			 strcmp(log[i].channel, "C0GENERAL") == 0 && iretry == SIZE_MAX)
			iretry = i;
	}
	assert_true(i429 != SIZE_MAX && iretry != SIZE_MAX);
	assert_int_equal(log[i429].retry_after_s, 1);
	fprintf(stderr, "retry after 429: %.1f ms\n",
		(double)(log[iretry].at_ns - log[i429].at_ns) / 1e6);
	assert_true(log[iretry].at_ns - log[i429].at_ns >= 990u * 1000000u);

	/* the workspace got A1, A2, A3 in that order */
	m = fake_slack_messages(c.h.fs, &n);
	size_t k = 0;
	for (size_t i = 0; i < n && k < 3; i++)
		if (strcmp(m[i].channel, "C0GENERAL") == 0)
			snprintf(t[k++], sizeof t[0], "%s", m[i].text);
	assert_int_equal(k, 3);
	assert_string_equal(t[0], "A1");
	assert_string_equal(t[1], "A2");
	assert_string_equal(t[2], "A3");
	teardown(&c);
}

/* A call gives up after max_ratelimited 429s with ERATELIMIT. */
static void test_ratelimit_gives_up(void **state)
{
	struct ctx c;
	struct res r;

	(void)state;
	setup_with(&c, NULL, NULL, 1);
	assert_int_equal(fake_slack_ratelimit(c.h.fs, "chat.postMessage", 2, 1), 0);
	post(&c, "C0GENERAL", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_ERATELIMIT);
	assert_string_equal(r.error, "ratelimited");
	assert_int_equal(r.attempts, 2);
	assert_int_equal(fake_slack_calls(c.h.fs, "chat.postMessage"), 2);
	teardown(&c);
}

static void test_5xx_retried_bounded(void **state)
{
	struct ctx c;
	struct res r;

	(void)state;
	setup(&c);
	/* two 503s then success: delivered once, after 3 attempts */
	assert_int_equal(fake_slack_http_status_next(c.h.fs, "chat.postMessage", 503), 0);
	assert_int_equal(fake_slack_http_status_next(c.h.fs, "chat.postMessage", 500), 0);
	post(&c, "C0GENERAL", "after 5xx", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EOK);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(harness_log_count("event=slack.api.retry", "status=503", NULL), 1);
	assert_int_equal(harness_log_count("event=slack.api.retry", "status=500", NULL), 1);
	size_t n, got = 0;
	const struct fake_slack_message *m = fake_slack_messages(c.h.fs, &n);
	for (size_t i = 0; i < n; i++)
		got += strcmp(m[i].text, "after 5xx") == 0;
	assert_int_equal(got, 1);

	/* four 500s: 1 + 3 retries, then EREMOTE http_500 */
	for (int i = 0; i < 4; i++)
		assert_int_equal(fake_slack_http_status_next(c.h.fs, "chat.postMessage", 500), 0);
	post(&c, "C0GENERAL", "never", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_EREMOTE);
	assert_string_equal(r.error, "http_500");
	assert_int_equal(r.attempts, 4);
	teardown(&c);
}

static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_transport_retried(void **state)
{
	struct ctx c;
	struct res r;
	char url[64];

	(void)state;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api", closed_port());
	setup_with(&c, url, NULL, 0);
	post(&c, "C0GENERAL", "x", &r);
	assert_true(harness_wait(&c.h, is_done, &r, STEP_MS));
	assert_int_equal(r.rc, BOT_ETRANSPORT);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(harness_log_count("event=slack.api.retry", NULL), 3);
	assert_int_equal(harness_log_count("event=slack.api.error", "code=ETRANSPORT", NULL), 1);
	teardown(&c);
}

static void test_cancel(void **state)
{
	struct ctx c;
	struct res r[3], z;
	struct slack_api_call *call;

	(void)state;
	setup(&c);
	/* lock the channel out for 5 s, queue behind it, then stop */
	assert_int_equal(fake_slack_ratelimit(c.h.fs, "chat.postMessage", 1, 5), 0);
	post(&c, "C0GENERAL", "r0", &r[0]);
	for (int k = 0; k < 200 && !harness_log_has("event=slack.api.ratelimited"); k++)
		harness_pump(&c.h, 10);
	post(&c, "C0GENERAL", "r1", &r[1]);
	post(&c, "C0GENERAL", "r2", &r[2]);
	/* a single call can be forgotten: no callback */
	memset(&z, 0, sizeof z);
	json_t *b = json_pack("{s:s, s:s}", "channel", "C0SECOND", "text", "z");
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){ .method = "chat.postMessage",
			 .body = b, .queue = "C0SECOND" }, on_done, &z, &call), 0);
	json_decref(b);
	slack_api_cancel(call);
	assert_int_equal(slack_api_pending(c.api), 3);
	slack_api_cancel_all(c.api);
	for (int i = 0; i < 3; i++) {
		assert_true(r[i].done);
		assert_int_equal(r[i].rc, BOT_ECANCELLED);
	}
	assert_int_equal(slack_api_pending(c.api), 0);
	/* after a stop, new calls are refused */
	b = json_pack("{s:s, s:s}", "channel", "C0GENERAL", "text", "late");
	assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){
			 .method = "chat.postMessage", .body = b }, on_done, &z, NULL), BOT_ESTATE);
	json_decref(b);
	harness_pump(&c.h, 50);
	assert_false(z.done);
	assert_int_equal(fake_slack_calls(c.h.fs, "chat.postMessage"), 1);
	teardown(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_and_errors),
		cmocka_unit_test(test_invalid_auth),
		cmocka_unit_test(test_ratelimit_order),
		cmocka_unit_test(test_ratelimit_gives_up),
		cmocka_unit_test(test_5xx_retried_bounded),
		cmocka_unit_test(test_transport_retried),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
