/* The Web API client (adapters/slack/webapi): the ok:false error table
 * (sorted for bsearch, the codes callers act on), and its queues under a
 * burst: priority order within a channel, the bounds, and which call is
 * refused or evicted. The queue tests run the client against the fake
 * Slack on loopback in this process (tests/fakes), answering 50 ms late so
 * that a call is in flight while others wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "adapters/http/http.h"
#include "adapters/slack/webapi.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/proc.h"

#define APP_TOKEN "xapp-1-A0FAKE-unitwebapi"
#define BOT_TOKEN "xoxb-1-unitwebapi"
#define STEP_MS   5000

static void test_error_table(void **state)
{
	(void)state;
	assert_true(slack_api_error_table_ok());
	assert_int_equal(slack_api_error_code("channel_not_found"), BOT_ENOTFOUND);
	assert_int_equal(slack_api_error_code("invalid_auth"), BOT_EAUTH);
	assert_int_equal(slack_api_error_code("not_in_channel"), BOT_EPERM);
	assert_int_equal(slack_api_error_code("message_not_found"), BOT_ENOTFOUND);
	assert_int_equal(slack_api_error_code("msg_too_long"), BOT_EINVAL);
	assert_int_equal(slack_api_error_code("ratelimited"), BOT_ERATELIMIT);
	assert_int_equal(slack_api_error_code("something_new"), BOT_EREMOTE);
	assert_int_equal(slack_api_error_code(NULL), BOT_EREMOTE);
	assert_non_null(slack_api_error_hint("not_in_channel"));
	assert_null(slack_api_error_hint("something_new"));
}

struct ctx {
	struct harness h;
	struct http *http;
	struct slack_api *api;
};

struct res {
	bool done;
	int rc;
	char error[32];
	int order;
};

static int done_seq;

static void on_done(void *ud, const struct slack_api_result *r)
{
	struct res *x = ud;

	x->done = true;
	x->rc = r->rc;
	x->order = ++done_seq;
	snprintf(x->error, sizeof x->error, "%s", r->error ? r->error : "");
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

static bool calls_arrived(void *arg)
{
	struct ctx *c = arg;

	return fake_slack_calls(c->h.fs, "chat.postMessage") >= 1;
}

static const struct fake_slack_channel chans[] = {
	{ "C0A", "a", true },
	{ "C0B", "b", true },
	{ "C0C", "c", true },
};

static unsigned setup_in_flight; /* opts.max_in_flight for the next setup */

static void setup(struct ctx *c, size_t queue_max, size_t total_max)
{
	struct bot_error err = {0};

	memset(c, 0, sizeof *c);
	done_seq = 0;
	assert_int_equal(harness_init(&c->h, &(struct fake_slack_opts){ .app_token = APP_TOKEN,
			 .bot_token = BOT_TOKEN, .channels = chans, .n_channels = 3 }), 0);
	fake_slack_answer_delay(c->h.fs, 50);
	assert_int_equal(http_create(c->h.loop, NULL, &c->http, &err), 0);
	assert_int_equal(slack_api_create(c->h.uv, &(struct slack_api_opts){
			.http = c->http, .api_url = fake_slack_api_url(c->h.fs),
			.bot_token = BOT_TOKEN, .queue_max = queue_max, .total_max = total_max,
			.max_in_flight = setup_in_flight },
			&c->api, &err), 0);
}

static void teardown(struct ctx *c)
{
	harness_stop(&c->h);
	slack_api_destroy(c->api);
	http_destroy(c->http);
	assert_int_equal(harness_destroy(&c->h), 0);
	harness_log_release();
}

/* chat.postMessage of text to channel at prio: slack_api_call's code. */
static int post(struct ctx *c, const char *channel, const char *text, enum slack_prio prio,
		struct res *r)
{
	json_t *b = json_pack("{s:s, s:s}", "channel", channel, "text", text);
	int rc;

	memset(r, 0, sizeof *r);
	rc = slack_api_call(c->api, &(struct slack_api_req){ .method = "chat.postMessage",
			    .body = b, .queue = channel, .prio = prio }, on_done, r, NULL);
	json_decref(b);
	return rc;
}

/* Post 0 is in flight; then low, low, normal, high, high are queued
 * behind it: the highs go first (in their order), then the normal, then
 * the lows (in theirs); the one in flight keeps its place. The fake saw
 * them in that order too. */
static void test_priority_order(void **state)
{
	static const struct { const char *text; enum slack_prio prio; int order; } in[] = {
		{ "low0", SLACK_PRIO_LOW, 1 },  { "low1", SLACK_PRIO_LOW, 5 },
		{ "low2", SLACK_PRIO_LOW, 6 },  { "normal", SLACK_PRIO_NORMAL, 4 },
		{ "high1", SLACK_PRIO_HIGH, 2 }, { "high2", SLACK_PRIO_HIGH, 3 },
	};
	struct ctx c;
	struct res r[6];
	struct all a = { r, 6 };
	const struct fake_slack_message *m;
	size_t n = 0;

	(void)state;
	setup(&c, 0, 0);
	assert_int_equal(post(&c, "C0A", in[0].text, in[0].prio, &r[0]), 0);
	assert_true(harness_wait(&c.h, calls_arrived, &c, STEP_MS));
	for (size_t i = 1; i < 6; i++)
		assert_int_equal(post(&c, "C0A", in[i].text, in[i].prio, &r[i]), 0);
	assert_true(harness_wait(&c.h, all_done, &a, STEP_MS));
	m = fake_slack_messages(c.h.fs, &n);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(r[i].rc, BOT_EOK);
		if (r[i].order != in[i].order)
			fail_msg("%s finished %d-th, not %d-th", in[i].text, r[i].order, in[i].order);
		assert_string_equal(m[in[i].order - 1].text, in[i].text);
	}
	teardown(&c);
}

static bool got_429(void *arg)
{
	(void)arg;
	return harness_log_count("slack.api.ratelimited", NULL) >= 1;
}

/* A head that was sent keeps its place: low0 got a 429 and waits out
 * Retry-After at the head of its queue; a HIGH call made meanwhile goes
 * after it, so the channel still sees low0 before high. */
static void test_started_head_keeps_place(void **state)
{
	struct ctx c;
	struct res l0, h;
	const struct fake_slack_message *m;
	size_t n = 0;

	(void)state;
	setup(&c, 0, 0);
	assert_int_equal(fake_slack_ratelimit(c.h.fs, "chat.postMessage", 1, 1), 0);
	assert_int_equal(post(&c, "C0A", "low0", SLACK_PRIO_LOW, &l0), 0);
	assert_true(harness_wait(&c.h, got_429, NULL, STEP_MS));
	assert_int_equal(post(&c, "C0A", "high", SLACK_PRIO_HIGH, &h), 0);
	assert_true(harness_wait(&c.h, is_done, &h, STEP_MS));
	assert_true(l0.done);
	assert_int_equal(l0.rc, BOT_EOK);
	assert_int_equal(h.rc, BOT_EOK);
	assert_true(l0.order < h.order);
	m = fake_slack_messages(c.h.fs, &n);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].text, "low0");
	assert_string_equal(m[1].text, "high");
	teardown(&c);
}

/* queue_max 3. A full queue refuses a LOW call at once (BOT_EBUSY, no
 * callback); a HIGH one evicts the newest waiting LOW call (callback
 * BOT_EBUSY "queue_full"), never the one in flight; with nothing to evict
 * a HIGH one goes over the bound. The fake never sees a dropped call;
 * every drop is counted; the burst is logged once. */
static void test_queue_bound_and_eviction(void **state)
{
	struct ctx c;
	struct res l0, l1, l2, l3, h1, h2, h3;
	struct res *kept[] = { &l0, &h1, &h2, &h3 };
	const struct fake_slack_message *m;
	size_t n = 0;

	(void)state;
	setup(&c, 3, 0);
	assert_int_equal(post(&c, "C0A", "l0", SLACK_PRIO_LOW, &l0), 0);
	assert_true(harness_wait(&c.h, calls_arrived, &c, STEP_MS)); /* l0 in flight */
	assert_int_equal(post(&c, "C0A", "l1", SLACK_PRIO_LOW, &l1), 0);
	assert_int_equal(post(&c, "C0A", "l2", SLACK_PRIO_LOW, &l2), 0);
	/* full (l0, l1, l2) */
	assert_int_equal(post(&c, "C0A", "l3", SLACK_PRIO_LOW, &l3), BOT_EBUSY);
	assert_int_equal(post(&c, "C0A", "h1", SLACK_PRIO_HIGH, &h1), 0); /* evicts l2 */
	assert_int_equal(post(&c, "C0A", "h2", SLACK_PRIO_HIGH, &h2), 0); /* evicts l1 */
	assert_int_equal(post(&c, "C0A", "h3", SLACK_PRIO_HIGH, &h3), 0); /* over the bound */
	assert_int_equal(slack_api_dropped(c.api), 3);
	assert_int_equal(slack_api_pending(c.api), 4);
	for (size_t i = 0; i < 4; i++)
		assert_true(harness_wait(&c.h, is_done, kept[i], STEP_MS));
	assert_false(l3.done);
	assert_true(l1.done && l2.done);
	assert_int_equal(l1.rc, BOT_EBUSY);
	assert_int_equal(l2.rc, BOT_EBUSY);
	assert_string_equal(l2.error, "queue_full");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(kept[i]->rc, BOT_EOK);
		if (i)
			assert_true(kept[i]->order > kept[i - 1]->order);
	}
	m = fake_slack_messages(c.h.fs, &n);
	assert_int_equal(n, 4);
	assert_string_equal(m[0].text, "l0");
	assert_string_equal(m[3].text, "h3");
	assert_int_equal(harness_log_count("slack.api.busy", NULL), 1);
	teardown(&c);
}

/* total_max 3 over all queues: a LOW call in a new channel is refused; a
 * HIGH one evicts the newest waiting LOW call of any channel. */
static void test_total_bound(void **state)
{
	struct ctx c;
	struct res a0, b0, b1, x0, xh;

	(void)state;
	setup(&c, 0, 3);
	assert_int_equal(post(&c, "C0A", "a0", SLACK_PRIO_LOW, &a0), 0);
	assert_int_equal(post(&c, "C0B", "b0", SLACK_PRIO_LOW, &b0), 0);
	assert_int_equal(post(&c, "C0B", "b1", SLACK_PRIO_LOW, &b1), 0);
	assert_int_equal(post(&c, "C0C", "x0", SLACK_PRIO_LOW, &x0), BOT_EBUSY);
	assert_int_equal(post(&c, "C0C", "xh", SLACK_PRIO_HIGH, &xh), 0);
	assert_int_equal(slack_api_dropped(c.api), 2);
	assert_true(harness_wait(&c.h, is_done, &b1, STEP_MS));
	assert_int_equal(b1.rc, BOT_EBUSY);
	assert_true(harness_wait(&c.h, is_done, &xh, STEP_MS));
	assert_int_equal(xh.rc, BOT_EOK);
	assert_true(harness_wait(&c.h, is_done, &a0, STEP_MS));
	assert_true(harness_wait(&c.h, is_done, &b0, STEP_MS));
	assert_int_equal(a0.rc, BOT_EOK);
	assert_int_equal(b0.rc, BOT_EOK);
	assert_false(x0.done);
	teardown(&c);
}

/* Calls of many queues (a burst of response_url answers is that) are sent
 * at most max_in_flight at once, a quarter kept for urgent ones: 12 low
 * calls never have more than 3 of 4 requests out, an urgent call still
 * goes at once, and all finish. */
static void test_in_flight_cap(void **state)
{
	struct ctx c;
	struct res r[12], hi;
	char key[16];
	unsigned peak = 0;

	(void)state;
	setup_in_flight = 4;
	setup(&c, 0, 0);
	setup_in_flight = 0;
	for (int i = 0; i < 12; i++) {
		json_t *b = json_pack("{s:s, s:s}", "channel", "C0A", "text", "low");
		snprintf(key, sizeof key, "k%d", i);
		memset(&r[i], 0, sizeof r[i]);
		assert_int_equal(slack_api_call(c.api, &(struct slack_api_req){
			.method = "chat.postMessage", .body = b, .queue = key,
			.prio = SLACK_PRIO_LOW }, on_done, &r[i], NULL), 0);
		json_decref(b);
	}
	struct all a = {r, 12};
	bool sent_high = false;
	for (long t0 = proc_now_ms(); !all_done(&a) && proc_now_ms() - t0 < STEP_MS;) {
		harness_pump(&c.h, 2);
		unsigned n = slack_api_in_flight(c.api);
		if (n > peak)
			peak = n;
		if (!sent_high && n == 3) {
			assert_int_equal(post(&c, "C0B", "urgent", SLACK_PRIO_HIGH, &hi), 0);
			harness_pump(&c.h, 1);
			assert_int_equal(slack_api_in_flight(c.api), 4); /* the kept room */
			sent_high = true;
		} else if (sent_high && !hi.done) {
			assert_true(n <= 4);
		} else {
			assert_true(n <= 3);
		}
	}
	assert_true(all_done(&a));
	assert_true(sent_high);
	assert_true(harness_wait(&c.h, is_done, &hi, STEP_MS));
	assert_int_equal(hi.rc, BOT_EOK);
	assert_int_equal(peak, 4);
	assert_int_equal(fake_slack_calls(c.h.fs, "chat.postMessage"), 13);
	teardown(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_priority_order),
		cmocka_unit_test(test_started_head_keeps_place),
		cmocka_unit_test(test_queue_bound_and_eviction),
		cmocka_unit_test(test_total_bound),
		cmocka_unit_test(test_in_flight_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
