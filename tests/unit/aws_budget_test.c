/* Tests for adapters/aws/budget: the per-API token buckets and the
 * in-flight caps as pure logic (time given), then through aws_client on a
 * loopback fake_http: attempts wait for room in flight in order, retries
 * spend tokens, the store's DynamoDB calls are not held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adapters/aws/budget.h"
#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "bot/base/log.h"
#include "tests/fakes/fake_http.h"

static void test_tokens(void **state)
{
	struct aws_budget *b;
	const char *read[] = {"ecs.DescribeServices", "monitoring.GetMetricData"};
	uint64_t retry = 0;
	(void)state;

	assert_int_equal(aws_budget_create(&(struct aws_budget_opts){.per_second = 2, .burst = 3},
					   &b), 0);
	/* a burst of 3 passes, the 4th waits half a second */
	for (int i = 0; i < 3; i++)
		assert_int_equal(aws_budget_spend(b, "ecs.DescribeServices", 1000), 0);
	uint64_t w = aws_budget_spend(b, "ecs.DescribeServices", 1000);
	assert_int_equal(w, 500);
	/* another API has its own bucket */
	assert_int_equal(aws_budget_spend(b, "monitoring.GetMetricData", 1000), 0);
	/* the ask needs both: refused with the longer wait, spends nothing */
	assert_int_equal(aws_budget_check(b, read, 2, 1100, &retry), BOT_EBUSY);
	assert_int_equal(retry, 400);
	assert_int_equal(aws_budget_check(b, read, 2, 1500, &retry), BOT_EOK);
	assert_int_equal(aws_budget_check(b, read, 2, 1500, &retry), BOT_EOK);
	assert_int_equal(aws_budget_spend(b, "ecs.DescribeServices", 1500), 0);
	assert_int_not_equal(aws_budget_spend(b, "ecs.DescribeServices", 1500), 0);
	/* refilled, never above the burst */
	for (int i = 0; i < 3; i++)
		assert_int_equal(aws_budget_spend(b, "ecs.DescribeServices", 100000), 0);
	assert_int_not_equal(aws_budget_spend(b, "ecs.DescribeServices", 100000), 0);
	struct aws_budget_stats st;
	aws_budget_stats(b, 100000, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.spent, 8);
	assert_int_equal(st.delayed, 3);
	assert_int_equal(st.n_apis, 2);
	aws_budget_destroy(b);
}

struct w {
	struct aws_budget_waiter w;
	int went;
};

static void went(struct aws_budget_waiter *w)
{
	((struct w *)w)->went++;
}

static void test_room(void **state)
{
	struct aws_budget *b;
	struct w q[4] = {0};
	(void)state;

	assert_int_equal(aws_budget_create(&(struct aws_budget_opts){.in_flight = 3,
		.in_flight_per_service = 2}, &b), 0);
	for (int i = 0; i < 4; i++)
		q[i].w.go = went;
	q[0].w.svc = q[1].w.svc = q[2].w.svc = 0; /* ECS */
	q[3].w.svc = 1;                             /* CloudWatch */
	assert_true(aws_budget_enter(b, &q[0].w));
	assert_true(aws_budget_enter(b, &q[1].w));
	assert_false(aws_budget_enter(b, &q[2].w)); /* per service: 2 */
	assert_true(aws_budget_enter(b, &q[3].w));  /* another endpoint has room */
	struct w late = {.w = {.svc = 1, .go = went}};
	assert_false(aws_budget_enter(b, &late.w)); /* in all: 3 */
	/* an asker is told busy while that many wait? not yet: 2 wait, cap 3 */
	const char *api[] = {"x.Y"};
	assert_int_equal(aws_budget_check(b, api, 1, 0, NULL), BOT_EOK);
	/* CloudWatch's room goes to the CloudWatch waiter, not the ECS one */
	aws_budget_leave(b, 1);
	assert_int_equal(late.went, 1);
	assert_int_equal(q[2].went, 0);
	aws_budget_leave(b, 0);
	assert_int_equal(q[2].went, 1);
	/* a cancelled waiter is never called */
	struct w gone = {.w = {.svc = 0, .go = went}};
	assert_false(aws_budget_enter(b, &gone.w));
	aws_budget_unwait(b, &gone.w);
	aws_budget_leave(b, 0);
	assert_int_equal(gone.went, 0);
	struct aws_budget_stats st;
	aws_budget_stats(b, 0, &st);
	assert_int_equal(st.peak_in_flight, 3);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.in_flight, 2);
	aws_budget_destroy(b);
}

/* ---- through the client ------------------------------------------------ */

struct srv {
	int status;            /* answer with this; 0: hold */
	unsigned seen;
};

static enum fake_http_action handle(void *ud, const struct fake_http_req *req,
				    struct fake_http_resp *resp)
{
	struct srv *s = ud;
	(void)req;
	s->seen++;
	if (!s->status)
		return FAKE_HTTP_HOLD;
	resp->status = s->status;
	resp->headers = "Content-Type: application/x-amz-json-1.1\r\n";
	resp->body = s->status == 200 ? "{}" : "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}";
	return FAKE_HTTP_RESPOND;
}

struct got {
	int calls;
	int code;
};

static void on_done(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct got *g = ud;
	(void)r;
	g->calls++;
	g->code = err ? err->code : 0;
}

static void run_until(struct bot_loop *l, bool (*done)(void *), void *arg)
{
	uv_loop_t *uv = bot_loop_uv(l);
	for (int i = 0; i < 10000 && !done(arg); i++)
		uv_run(uv, UV_RUN_NOWAIT), usleep(1000);
}

struct want {
	struct srv *s;
	unsigned n;
	struct got *g;
};

static bool seen_n(void *a)
{
	struct want *w = a;
	return w->s->seen >= w->n;
}

static bool answered(void *a)
{
	struct got *g = a;
	return g->calls > 0;
}

static const struct aws_retry_policy quick = {
	.max_attempts = 3, .base_ms = 1, .throttle_base_ms = 1, .max_backoff_ms = 2,
	.quota = 500, .retry_cost = 5, .timeout_cost = 10, .success_refill = 1,
};

struct rig {
	struct bot_loop *loop;
	struct http *http;
	struct fake_http *fh;
	struct aws_client *c;
	struct aws_creds_provider *p;
	struct aws_budget *b;
	struct srv s;
};

static void rig_up(struct rig *r, const struct aws_budget_opts *bo)
{
	struct bot_error err = {.msg = ""};
	char url[64];

	assert_int_equal(bot_loop_create(&r->loop, &err), 0);
	assert_int_equal(http_create(r->loop, NULL, &r->http, &err), 0);
	assert_int_equal(fake_http_start(r->loop, 0, handle, &r->s, &r->fh), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_http_port(r->fh));
	assert_int_equal(aws_client_create(r->loop, r->http, &(struct aws_client_opts){
		.region = "us-east-1", .endpoint_url = url, .retry = &quick}, &r->c, &err), 0);
	assert_int_equal(aws_creds_create(r->http, NULL, &(struct aws_creds_opts){
		.fixed = &(struct aws_creds){"AKIDEXAMPLE", "budget-test-secret", NULL}}, &r->p,
		&err), 0);
	aws_client_set_creds(r->c, r->p);
	assert_int_equal(aws_budget_create(bo, &r->b), 0);
	aws_client_set_budget(r->c, r->b);
}

static void rig_down(struct rig *r)
{
	aws_client_destroy(r->c);
	aws_budget_destroy(r->b);
	aws_creds_destroy(r->p);
	fake_http_destroy(r->fh);
	http_destroy(r->http);
	bot_loop_shutdown(r->loop);
	assert_int_equal(bot_loop_run(r->loop), 0);
	assert_int_equal(bot_loop_destroy(r->loop), 0);
}

/* Five ECS calls with room for two: two reach the server, three wait
 * (no connection yet); each one that ends lets the next in. DynamoDB and
 * SQS (the alarm intake's long poll) are not held back by it, nor spend. */
static void test_client_waits_for_room(void **state)
{
	struct rig r = {0};
	struct got g[5] = {0}, d = {0}, q = {0};
	struct aws_call *calls[5];
	struct aws_request rq = {.service = AWS_SVC_ECS, .op = "DescribeServices", .body = "{}",
				 .body_len = 2};
	(void)state;

	rig_up(&r, &(struct aws_budget_opts){.in_flight = 2, .in_flight_per_service = 2,
					     .per_second = 100, .burst = 100});
	for (int i = 0; i < 5; i++)
		assert_int_equal(aws_client_call(r.c, &rq, on_done, &g[i], &calls[i]), 0);
	struct want w = {.s = &r.s, .n = 2};
	run_until(r.loop, seen_n, &w);
	assert_int_equal(r.s.seen, 2);
	struct aws_budget_stats st;
	aws_budget_stats(r.b, 0, &st);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.waiting, 3);
	/* the store's calls pass by */
	assert_int_equal(aws_client_call(r.c, &(struct aws_request){.service = AWS_SVC_DYNAMODB,
		.op = "GetItem", .body = "{}", .body_len = 2}, on_done, &d, NULL), 0);
	assert_int_equal(aws_client_call(r.c, &(struct aws_request){.service = AWS_SVC_SQS,
		.op = "ReceiveMessage", .body = "{}", .body_len = 2}, on_done, &q, NULL), 0);
	w.n = 4;
	run_until(r.loop, seen_n, &w);
	assert_int_equal(r.s.seen, 4);
	aws_budget_stats(r.b, 0, &st);
	for (size_t i = 0; i < st.n_apis; i++)
		assert_null(strstr(st.apis[i].name, "sqs."));
	/* a waiting call cancelled leaves the queue; an ended one lets the next in */
	aws_call_cancel(calls[4]);
	assert_int_equal(g[4].code, BOT_ECANCELLED);
	aws_call_cancel(calls[0]);
	w.n = 5;
	run_until(r.loop, seen_n, &w);
	assert_int_equal(r.s.seen, 5);
	aws_budget_stats(r.b, 0, &st);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.waiting, 1);
	assert_int_equal(st.peak_in_flight, 2);
	rig_down(&r);
	for (int i = 0; i < 5; i++)
		assert_int_equal(g[i].calls, 1);
}

/* Retries spend from the same budget: three throttled attempts with one
 * token and 4 per second take at least half a second, and are counted. */
static void test_retries_spend_tokens(void **state)
{
	struct rig r = {0};
	struct got g = {0};
	(void)state;

	rig_up(&r, &(struct aws_budget_opts){.per_second = 4, .burst = 1});
	r.s.status = 400; /* ThrottlingException: retried */
	uint64_t t0 = uv_hrtime();
	assert_int_equal(aws_client_call(r.c, &(struct aws_request){.service = AWS_SVC_ECS,
		.op = "DescribeServices", .body = "{}", .body_len = 2}, on_done, &g, NULL), 0);
	run_until(r.loop, answered, &g);
	uint64_t ms = (uv_hrtime() - t0) / 1000000u;
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.code, BOT_ERATELIMIT);
	assert_int_equal(r.s.seen, 3);
	assert_true(ms >= 480); /* two more tokens at 4/s */
	struct aws_budget_stats st;
	aws_budget_stats(r.b, 0, &st);
	assert_int_equal(st.spent, 3);
	assert_true(st.delayed >= 2);
	rig_down(&r);
}

/* A request's own timeout wins over the client's: against a server that
 * never answers, a call with the client's 150 ms gives up at ~150 ms, one
 * asking for 1200 ms (an SQS long poll's) only after that. */
static void test_request_timeout(void **state)
{
	static const struct aws_retry_policy once = {.max_attempts = 1, .quota = 0};
	struct rig r = {0};
	struct got g = {0}, lp = {0};
	struct bot_error err = {.msg = ""};
	char url[64];
	(void)state;

	rig_up(&r, &(struct aws_budget_opts){0});
	aws_client_destroy(r.c);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_http_port(r.fh));
	assert_int_equal(aws_client_create(r.loop, r.http, &(struct aws_client_opts){
		.region = "us-east-1", .endpoint_url = url, .retry = &once, .timeout_ms = 150},
		&r.c, &err), 0);
	aws_client_set_creds(r.c, r.p);
	r.s.status = 0; /* hold */
	uint64_t t0 = uv_hrtime();
	assert_int_equal(aws_client_call(r.c, &(struct aws_request){.service = AWS_SVC_SQS,
		.op = "ReceiveMessage", .body = "{}", .body_len = 2}, on_done, &g, NULL), 0);
	run_until(r.loop, answered, &g);
	uint64_t ms = (uv_hrtime() - t0) / 1000000u;
	assert_int_equal(g.code, BOT_ETIMEOUT);
	assert_true(ms >= 140 && ms < 1000);
	t0 = uv_hrtime();
	assert_int_equal(aws_client_call(r.c, &(struct aws_request){.service = AWS_SVC_SQS,
		.op = "ReceiveMessage", .body = "{}", .body_len = 2, .timeout_ms = 1200},
		on_done, &lp, NULL), 0);
	run_until(r.loop, answered, &lp);
	ms = (uv_hrtime() - t0) / 1000000u;
	assert_int_equal(lp.code, BOT_ETIMEOUT);
	assert_true(ms >= 1150);
	rig_down(&r);
}

int main(void)
{
	log_set_level(BOT_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_room),
		cmocka_unit_test(test_client_waits_for_room),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_retries_spend_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
