/* The alarm intake (issue 14) against a real moto_server, IAM and SigV4
 * checking on, signed by our own signer: SQS over awsJson1_0 and
 * CloudWatch DescribeAlarms through the cloud interface.
 *
 *   formats    SNS topic -> SQS without raw delivery (the envelope: "sns")
 *              and with RawMessageDelivery ("raw"), the alarm JSON
 *              published as CloudWatch does; an EventBridge rule -> SQS,
 *              put_events from aws.cloudwatch ("eventbridge")
 *   errors     a body that is not an alarm change: error set, alarm NULL
 *   delete     a deleted message is gone (GetQueueAttributes counts)
 *   defer      ChangeMessageVisibility 0: received again, receive_count 2
 *   long poll  an empty poll answers n == 0 after its wait; a 5 s poll
 *              wakes when a message is sent 1 s in, well before 5 s
 *   states     alarm_states by name and prefix (deduped), each as a
 *              "describe" change timed by StateUpdatedTimestamp (moto has
 *              no StateTransitionedTimestamp); also in the regions of the
 *              configured services
 *   dry run    its delete answers done and leaves the message in the queue
 *   IAM        a user without the SQS actions gets AccessDenied
 *   logs       no secret key in any log line
 *
 * The queues, topic, rule and alarms are made by
 * tests/fakes/moto-alarm-intake.py with moto's IAM checks off; the test
 * then runs as an IAM user holding only the intake's actions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "adapters/aws/client.h"
#include "adapters/aws/cloud_aws.h"
#include "adapters/cloud.h"
#include "adapters/cloud_dryrun.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "config/config.h"
#include "tests/fakes/moto.h"
#include "tests/fakes/proc.h"

#define WAIT_MS 30000 /* generous: two cores shared with other builds */

static struct moto *moto;
static json_t *seeded; /* moto-alarm-intake.py's output */
static char logs_dir[64];

static const struct aws_retry_policy fast_retry = {
	.max_attempts = 3, .base_ms = 5, .throttle_base_ms = 10, .max_backoff_ms = 50,
	.max_retry_after_extra_ms = 50, .quota = 500, .retry_cost = 5, .timeout_cost = 10,
	.success_refill = 1,
};

/* ---- log capture -------------------------------------------------------- */

static struct {
	char *all;
	size_t len, cap;
} logs;

static void log_capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	fwrite(line, 1, len, stderr);
	if (logs.len + len + 1 > logs.cap) {
		size_t cap = logs.cap ? logs.cap * 2 : 1 << 16;
		while (cap < logs.len + len + 1)
			cap *= 2;
		char *n = realloc(logs.all, cap);
		if (!n)
			return;
		logs.all = n;
		logs.cap = cap;
	}
	memcpy(logs.all + logs.len, line, len);
	logs.len += len;
	logs.all[logs.len] = '\0';
}

static const char *queue(const char *name)
{
	const char *u = json_string_value(json_object_get(seeded, name));
	assert_non_null(u);
	return u;
}

/* ---- loop harness ------------------------------------------------------- */

struct h {
	struct bot_loop *loop;
	uv_timer_t ticker;
	struct cloud *cloud;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void ticker_closed(uv_handle_t *hd)
{
	(void)hd;
}

static void h_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct h *h = ud;
	if (!uv_is_closing((uv_handle_t *)&h->ticker)) {
		uv_timer_stop(&h->ticker);
		uv_close((uv_handle_t *)&h->ticker, ticker_closed);
	}
	done(done_ud);
}

static void h_init(struct h *h)
{
	struct bot_error err = { .msg = "" };
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, "intake", "AccessKeyId"),
		.secret_access_key = moto_key(moto, "intake", "SecretAccessKey"),
	};

	memset(h, 0, sizeof *h);
	assert_int_equal(bot_loop_create(&h->loop, &err), 0);
	uv_timer_init(bot_loop_uv(h->loop), &h->ticker);
	uv_timer_start(&h->ticker, on_tick, 20, 20);
	assert_int_equal(bot_loop_on_shutdown(h->loop, h_hook, h), 0);
	assert_non_null(cr.access_key_id);
	int rc = cloud_aws_create(h->loop, &(struct cloud_aws_opts){
		.region = "us-east-1", .endpoint_url = moto_url(moto), .retry = &fast_retry,
		.fixed_creds = &cr,
	}, &h->cloud, &err);
	if (rc)
		fail_msg("cloud_aws_create: %s (%s)", err.msg, bot_err_name(rc));
}

static uint64_t h_now(struct h *h)
{
	uv_update_time(bot_loop_uv(h->loop));
	return uv_now(bot_loop_uv(h->loop));
}

static bool h_wait(struct h *h, const bool *flag)
{
	uint64_t end = h_now(h) + WAIT_MS;

	while (!*flag) {
		if (h_now(h) >= end)
			return false;
		uv_run(bot_loop_uv(h->loop), UV_RUN_ONCE);
	}
	return true;
}

static void h_end(struct h *h)
{
	if (h->cloud)
		h->cloud->ops->destroy(h->cloud);
	h->cloud = NULL;
	bot_loop_shutdown(h->loop);
	assert_int_equal(bot_loop_run(h->loop), 0);
	assert_int_equal(bot_loop_destroy(h->loop), 0);
}

/* ---- results ------------------------------------------------------------ */

struct msg {
	char id[128], receipt[1024], error[256];
	int receive_count;
	bool alarm;
	char format[16], name[256], region[32], account[16], state[24], old_state[24];
	char ns[64], metric[64], dim0[64], val0[64], description[64];
	int64_t changed_at_ms;
	size_t n_dims;
	int period_s;
};

struct res {
	bool done;
	int calls;
	struct cloud_error err;
	bool failed;
	struct msg m[10];
	size_t n;
	uint64_t at; /* loop time of the answer */
	struct h *h;
};

#define CP(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

static void copy_change(struct msg *d, const struct cloud_alarm_change *a)
{
	d->alarm = true;
	CP(d->format, a->format);
	CP(d->name, a->name);
	CP(d->region, a->region);
	CP(d->account, a->account);
	CP(d->state, a->state);
	CP(d->old_state, a->old_state);
	CP(d->ns, a->namespace_);
	CP(d->metric, a->metric);
	CP(d->description, a->description);
	d->changed_at_ms = a->changed_at_ms;
	d->n_dims = a->n_dims;
	d->period_s = a->period_s;
	if (a->n_dims) {
		CP(d->dim0, a->dims[0].name);
		CP(d->val0, a->dims[0].value);
	}
}

static void got(struct res *r, const struct cloud_error *err)
{
	r->calls++;
	r->done = true;
	r->failed = err != NULL;
	if (err)
		r->err = *err;
	r->at = h_now(r->h);
}

static void cb_queue(void *ud, const struct cloud_error *err, const struct cloud_queue_msg *m,
		     size_t n)
{
	struct res *r = ud;

	got(r, err);
	for (size_t i = 0; i < n && r->n < 10; i++) {
		struct msg *d = &r->m[r->n++];
		/* exactly one of alarm and error */
		assert_true((m[i].alarm != NULL) != (m[i].error != NULL));
		CP(d->id, m[i].id);
		CP(d->receipt, m[i].receipt);
		CP(d->error, m[i].error);
		d->receive_count = m[i].receive_count;
		if (m[i].alarm)
			copy_change(d, m[i].alarm);
	}
}

static void cb_done(void *ud, const struct cloud_error *err)
{
	got(ud, err);
}

static void cb_states(void *ud, const struct cloud_error *err, const struct cloud_alarm_change *a,
		      size_t n)
{
	struct res *r = ud;

	got(r, err);
	for (size_t i = 0; i < n && r->n < 10; i++)
		copy_change(&r->m[r->n++], &a[i]);
}

/* Start op (returns rc), check the callback did not run inside it, wait. */
#define RUN(hh, rr, call)                                                         \
	do {                                                                      \
		memset((rr), 0, sizeof *(rr));                                    \
		(rr)->h = (hh);                                                   \
		int rc_ = (call);                                                 \
		assert_int_equal(rc_, 0);                                         \
		assert_int_equal((rr)->calls, 0); /* never from inside the call */ \
		assert_true(h_wait((hh), &(rr)->done));                           \
		if ((rr)->failed)                                                 \
			fail_msg("%s: %s (%s)", #call, (rr)->err.message,         \
				 bot_err_name((rr)->err.code));                   \
	} while (0)

static void receive(struct h *h, const char *q, int wait_s, int visibility_s, struct res *r)
{
	RUN(h, r, h->cloud->ops->queue_receive(h->cloud, queue(q), wait_s, 10, visibility_s,
					       cb_queue, r));
}

/* ---- plain SQS calls for the test's own checks -------------------------- */

struct raw {
	bool done;
	struct cloud_error err;
	bool failed;
	json_t *body;
};

static void on_raw(void *ud, const struct cloud_error *err, const struct aws_response *resp)
{
	struct raw *r = ud;
	r->done = true;
	r->failed = err != NULL;
	if (err)
		r->err = *err;
	else
		r->body = json_loadb(resp->body, resp->body_len, 0, NULL);
}

static json_t *sqs_call(struct h *h, const char *op, json_t *req)
{
	struct raw r = {0};
	char *body = json_dumps(req, JSON_COMPACT);

	json_decref(req);
	assert_non_null(body);
	assert_int_equal(aws_client_call(cloud_aws_client(h->cloud), &(struct aws_request){
		.service = AWS_SVC_SQS, .op = op, .body = body, .body_len = strlen(body),
	}, on_raw, &r, NULL), 0);
	free(body);
	assert_true(h_wait(h, &r.done));
	if (r.failed)
		fail_msg("%s: %s", op, r.err.message);
	return r.body;
}

/* ApproximateNumberOfMessages (visible) and ...NotVisible (taken). */
static void counts(struct h *h, const char *q, int *visible, int *taken)
{
	json_t *a = sqs_call(h, "GetQueueAttributes", json_pack("{s:s, s:[s,s]}", "QueueUrl", queue(q),
		"AttributeNames", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"));
	json_t *at = json_object_get(a, "Attributes");
	const char *v = json_string_value(json_object_get(at, "ApproximateNumberOfMessages"));
	const char *t = json_string_value(json_object_get(at, "ApproximateNumberOfMessagesNotVisible"));
	assert_non_null(v);
	assert_non_null(t);
	*visible = atoi(v);
	*taken = atoi(t);
	json_decref(a);
}

/* ---- tests -------------------------------------------------------------- */

#define LONG_NAME "intake-web-cpu-high-and-a-name-long-enough-that-the-subject-line-is-cut-short-by-sns"

static void test_sns_envelope_and_raw(void **state)
{
	struct h h;
	struct res r;
	int v, t;
	(void)state;
	h_init(&h);

	receive(&h, "env", 5, 30, &r);
	assert_int_equal(r.n, 1);
	assert_true(r.m[0].alarm);
	assert_string_equal(r.m[0].format, "sns");
	assert_string_equal(r.m[0].name, LONG_NAME); /* not the Subject's cut name */
	assert_string_equal(r.m[0].region, "eu-west-1"); /* from the ARN */
	assert_string_equal(r.m[0].account, "123456789012");
	assert_string_equal(r.m[0].state, "ALARM");
	assert_string_equal(r.m[0].old_state, "OK");
	assert_true(r.m[0].changed_at_ms == INT64_C(1720192844959));
	assert_string_equal(r.m[0].ns, "AWS/ECS");
	assert_string_equal(r.m[0].metric, "CPUUtilization");
	assert_int_equal(r.m[0].n_dims, 2);
	assert_string_equal(r.m[0].dim0, "ClusterName");
	assert_string_equal(r.m[0].val0, "prod");
	assert_int_equal(r.m[0].receive_count, 1);
	assert_true(r.m[0].id[0] && r.m[0].receipt[0]);

	struct res raw;
	receive(&h, "raw", 5, 30, &raw);
	assert_int_equal(raw.n, 1);
	assert_true(raw.m[0].alarm);
	assert_string_equal(raw.m[0].format, "raw");
	assert_string_equal(raw.m[0].name, LONG_NAME);
	assert_string_equal(raw.m[0].region, "eu-west-1");
	assert_true(raw.m[0].changed_at_ms == INT64_C(1720192844959));

	/* Done with both: deleted, so the queues hold nothing. */
	struct res d;
	RUN(&h, &d, h.cloud->ops->queue_delete(h.cloud, queue("env"), r.m[0].receipt, cb_done, &d));
	RUN(&h, &d, h.cloud->ops->queue_delete(h.cloud, queue("raw"), raw.m[0].receipt, cb_done, &d));
	counts(&h, "env", &v, &t);
	assert_int_equal(v + t, 0);
	counts(&h, "raw", &v, &t);
	assert_int_equal(v + t, 0);
	h_end(&h);
}

static void test_eventbridge(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	h_init(&h);
	receive(&h, "eb", 5, 30, &r);
	assert_int_equal(r.n, 1);
	if (!r.m[0].alarm)
		fail_msg("EventBridge body refused: %s", r.m[0].error);
	assert_string_equal(r.m[0].format, "eventbridge");
	assert_string_equal(r.m[0].name, "intake-api-5xx");
	assert_string_equal(r.m[0].region, "us-east-1");
	assert_string_equal(r.m[0].account, "123456789012");
	assert_string_equal(r.m[0].state, "ALARM");
	assert_string_equal(r.m[0].old_state, "OK");
	assert_string_equal(r.m[0].description, "5xx above 5");
	/* 17:20:44.959+0200 is 15:20:44.959Z */
	assert_true(r.m[0].changed_at_ms == INT64_C(1720192844959));
	assert_string_equal(r.m[0].ns, "AWS/ApplicationELB");
	assert_string_equal(r.m[0].metric, "HTTPCode_Target_5XX_Count");
	assert_int_equal(r.m[0].n_dims, 1);
	assert_string_equal(r.m[0].dim0, "LoadBalancer");
	assert_string_equal(r.m[0].val0, "app/api/50dc6c495c0c9188");
	assert_int_equal(r.m[0].period_s, 300);
	h_end(&h);
}

static void test_error_delete_defer(void **state)
{
	struct h h;
	struct res r, d;
	int v, t;
	(void)state;
	h_init(&h);

	/* Both messages (moto may hand them over in two polls). */
	struct msg bad = {0}, good = {0};
	for (int i = 0; i < 4 && !(bad.id[0] && good.id[0]); i++) {
		receive(&h, "work", 2, 60, &r);
		for (size_t k = 0; k < r.n; k++) {
			if (r.m[k].alarm)
				good = r.m[k];
			else
				bad = r.m[k];
		}
	}
	assert_true(bad.id[0] && good.id[0]);
	assert_false(bad.alarm);
	assert_non_null(strstr(bad.error, "not JSON"));
	assert_string_equal(good.format, "raw");
	assert_string_equal(good.name, "intake-work");
	assert_string_equal(good.state, "OK");
	assert_int_equal(bad.receive_count, 1);
	counts(&h, "work", &v, &t);
	assert_int_equal(v, 0);
	assert_int_equal(t, 2);

	/* The alarm is done with: deleted. The other is handed back now. */
	RUN(&h, &d, h.cloud->ops->queue_delete(h.cloud, queue("work"), good.receipt, cb_done, &d));
	RUN(&h, &d, h.cloud->ops->queue_defer(h.cloud, queue("work"), bad.receipt, 0, cb_done, &d));
	counts(&h, "work", &v, &t);
	assert_int_equal(v, 1); /* the deferred one, visible again */
	assert_int_equal(t, 0); /* the deleted one is gone */

	receive(&h, "work", 5, 60, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.m[0].id, bad.id);
	assert_int_equal(r.m[0].receive_count, 2);
	assert_false(r.m[0].alarm);
	RUN(&h, &d, h.cloud->ops->queue_delete(h.cloud, queue("work"), r.m[0].receipt, cb_done, &d));
	counts(&h, "work", &v, &t);
	assert_int_equal(v + t, 0);

	/* A bad receipt handle is AWS's error, passed on. */
	memset(&d, 0, sizeof d);
	d.h = &h;
	assert_int_equal(h.cloud->ops->queue_defer(h.cloud, queue("work"), "bogus", 0, cb_done, &d), 0);
	assert_true(h_wait(&h, &d.done));
	assert_true(d.failed);
	assert_string_equal(d.err.aws_code, "ReceiptHandleIsInvalid");
	h_end(&h);
}

struct sender {
	uv_timer_t t;
	struct h *h;
	bool done, failed;
	uint64_t at;
};

static void on_sent(void *ud, const struct cloud_error *err, const struct aws_response *resp)
{
	struct sender *s = ud;
	(void)resp;
	s->done = true;
	s->failed = err != NULL;
}

static void send_now(uv_timer_t *t)
{
	struct sender *s = t->data;
	json_t *req = json_pack("{s:s, s:s}", "QueueUrl", queue("poll"), "MessageBody",
				"{\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:late\","
				"\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2024-07-05T15:20:44Z\"}");
	char *body = json_dumps(req, JSON_COMPACT);

	json_decref(req);
	s->at = h_now(s->h);
	assert_int_equal(aws_client_call(cloud_aws_client(s->h->cloud), &(struct aws_request){
		.service = AWS_SVC_SQS, .op = "SendMessage", .body = body, .body_len = strlen(body),
	}, on_sent, s, NULL), 0);
	free(body);
}

static void test_long_poll(void **state)
{
	struct h h;
	struct res r;
	struct sender s = {0};
	uint64_t t0;
	(void)state;
	h_init(&h);

	/* An empty poll: no error, no message, after (about) its wait. */
	t0 = h_now(&h);
	receive(&h, "poll", 1, 0, &r);
	assert_int_equal(r.n, 0);
	assert_true(r.at - t0 >= 900);

	/* A 5 s poll; a message arrives 1 s in: the poll answers with it then. */
	s.h = &h;
	uv_timer_init(bot_loop_uv(h.loop), &s.t);
	s.t.data = &s;
	uv_timer_start(&s.t, send_now, 1000, 0);
	t0 = h_now(&h);
	receive(&h, "poll", 5, 0, &r);
	uv_close((uv_handle_t *)&s.t, NULL);
	assert_true(s.done || s.at > 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.m[0].name, "late");
	fprintf(stderr, "long poll: sent at +%llu ms, answered at +%llu ms\n",
		(unsigned long long)(s.at - t0), (unsigned long long)(r.at - t0));
	assert_true(s.at >= t0);
	assert_true(r.at >= s.at);          /* it did wait for the message */
	assert_true(r.at - t0 < 4000);      /* and did not wait out its 5 s */
	assert_true(h_wait(&h, &s.done));
	assert_false(s.failed);
	h_end(&h);
}

static const struct msg *find(const struct res *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->m[i].name, name) == 0)
			return &r->m[i];
	return NULL;
}

static void test_alarm_states(void **state)
{
	struct h h;
	struct res r;
	const char *names[] = { "intake-web-cpu", "intake-api-5xx", "no-such-alarm" };
	const char *prefixes[] = { "intake-api" };
	(void)state;
	h_init(&h);

	RUN(&h, &r, h.cloud->ops->alarm_states(h.cloud, names, 3, prefixes, 1, cb_states, &r));
	assert_int_equal(r.n, 2); /* intake-api-5xx found twice, kept once; other-thing not asked */
	const struct msg *web = find(&r, "intake-web-cpu"), *api = find(&r, "intake-api-5xx");
	assert_non_null(web);
	assert_non_null(api);
	assert_string_equal(web->format, "describe");
	assert_string_equal(web->state, "ALARM");
	assert_string_equal(api->state, "OK");
	assert_string_equal(web->region, "us-east-1");
	assert_string_equal(web->account, "123456789012");
	assert_string_equal(web->description, "intake test");
	assert_string_equal(web->ns, "AWS/ECS");
	assert_string_equal(web->metric, "CPUUtilization");
	assert_int_equal(web->n_dims, 2);
	assert_string_equal(web->dim0, "ClusterName");
	assert_int_equal(web->period_s, 60);
	/* moto has no StateTransitionedTimestamp: StateUpdatedTimestamp. */
	json_int_t want = json_integer_value(json_object_get(seeded, "updated_ms_intake-web-cpu"));
	assert_true(want > 0);
	if (web->changed_at_ms < want - 1 || web->changed_at_ms > want + 1)
		fail_msg("changed_at_ms %lld, StateUpdatedTimestamp %lld",
			 (long long)web->changed_at_ms, (long long)want);

	/* Only a prefix. */
	RUN(&h, &r, h.cloud->ops->alarm_states(h.cloud, NULL, 0, prefixes, 1, cb_states, &r));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.m[0].name, "intake-api-5xx");
	/* Nothing asked is a caller's mistake. */
	assert_int_equal(h.cloud->ops->alarm_states(h.cloud, NULL, 0, NULL, 0, cb_states, &r),
			 BOT_EINVAL);
	h_end(&h);
}

/* With a service in eu-west-1 configured, alarm_states asks there too: the
 * alarm only there is found, and the same name there is another alarm
 * (its own ARN, region and state). */
static void test_alarm_states_regions(void **state)
{
	struct h h;
	struct res r;
	struct config *cfg = NULL;
	struct config_errors errs = {0};
	struct bot_error err = { .msg = "" };
	const char *names[] = { "intake-web-cpu", "intake-eu-only" };
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, "intake", "AccessKeyId"),
		.secret_access_key = moto_key(moto, "intake", "SecretAccessKey"),
	};
	(void)state;
	if (config_load_string("regions.yaml",
			       "aws:\n  region: us-east-1\n"
			       "defaults:\n  approvers: [U0APPROVER1]\n  requesters: ['*']\n"
			       "services:\n"
			       "  web:\n    cluster: prod\n    max_desired: 10\n"
			       "  euro:\n    cluster: prod\n    max_desired: 10\n    region: eu-west-1\n",
			       0, &cfg, &errs)) {
		config_errors_print(&errs, stderr);
		fail_msg("config did not load");
	}
	config_errors_free(&errs);
	h_init(&h);
	h.cloud->ops->destroy(h.cloud);
	assert_int_equal(cloud_aws_create(h.loop, &(struct cloud_aws_opts){
		.config = cfg, .endpoint_url = moto_url(moto), .retry = &fast_retry,
		.fixed_creds = &cr,
	}, &h.cloud, &err), 0);

	RUN(&h, &r, h.cloud->ops->alarm_states(h.cloud, names, 2, NULL, 0, cb_states, &r));
	assert_int_equal(r.n, 3);
	int us = 0, eu = 0;
	for (size_t i = 0; i < r.n; i++) {
		if (strcmp(r.m[i].region, "us-east-1") == 0) {
			us++;
			assert_string_equal(r.m[i].name, "intake-web-cpu");
			assert_string_equal(r.m[i].state, "ALARM");
		} else {
			assert_string_equal(r.m[i].region, "eu-west-1");
			eu++;
			assert_string_equal(r.m[i].state,
					    strcmp(r.m[i].name, "intake-web-cpu") == 0 ? "OK" : "ALARM");
		}
	}
	assert_int_equal(us, 1);
	assert_int_equal(eu, 2);
	h_end(&h);
	config_unref(cfg);
}

static void test_dryrun_delete_leaves_message(void **state)
{
	struct h h;
	struct res r, d;
	int v, t;
	(void)state;
	h_init(&h);
	struct cloud *dry = cloud_dryrun_create(bot_loop_uv(h.loop), h.cloud);
	assert_non_null(dry);

	RUN(&h, &r, dry->ops->queue_receive(dry, queue("dry"), 5, 10, 60, cb_queue, &r));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.m[0].name, "intake-dry");
	RUN(&h, &d, dry->ops->queue_delete(dry, queue("dry"), r.m[0].receipt, cb_done, &d));
	assert_false(d.failed); /* answered as done */
	counts(&h, "dry", &v, &t);
	assert_int_equal(t, 1); /* still there, only taken */
	/* Handed back through the dry run (forwarded), it comes again. */
	RUN(&h, &d, dry->ops->queue_defer(dry, queue("dry"), r.m[0].receipt, 0, cb_done, &d));
	RUN(&h, &r, dry->ops->queue_receive(dry, queue("dry"), 5, 10, 60, cb_queue, &r));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.m[0].receive_count, 2);
	dry->ops->destroy(dry);
	h_end(&h);
}

/* Signed right but not allowed: moto's IAM check refuses a user without
 * the SQS actions, and the error says so (the checks are really on). */
static void test_access_denied(void **state)
{
	struct h h;
	struct res r = {0};
	struct bot_error err = { .msg = "" };
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, "readonly", "AccessKeyId"),
		.secret_access_key = moto_key(moto, "readonly", "SecretAccessKey"),
	};
	(void)state;
	h_init(&h);
	h.cloud->ops->destroy(h.cloud);
	assert_int_equal(cloud_aws_create(h.loop, &(struct cloud_aws_opts){
		.region = "us-east-1", .endpoint_url = moto_url(moto), .retry = &fast_retry,
		.fixed_creds = &cr,
	}, &h.cloud, &err), 0);
	r.h = &h;
	assert_int_equal(h.cloud->ops->queue_receive(h.cloud, queue("poll"), 0, 1, 0, cb_queue, &r), 0);
	assert_true(h_wait(&h, &r.done));
	assert_true(r.failed);
	assert_int_equal(r.err.http_status, 403);
	assert_string_equal(r.err.aws_code, "AccessDenied");
	assert_non_null(strstr(r.err.message, "sqs:ReceiveMessage"));
	h_end(&h);
}

static void test_no_secret_in_logs(void **state)
{
	(void)state;
	const char *secret = moto_key(moto, "intake", "SecretAccessKey");
	assert_non_null(secret);
	assert_non_null(logs.all);
	assert_null(strstr(logs.all, secret));
}

/* ---- setup -------------------------------------------------------------- */

static int seed_intake(char *msg, size_t n)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT");
	char script[512], out[128];

	snprintf(script, sizeof script, "%s/tests/fakes/moto-alarm-intake.py", src ? src : ".");
	snprintf(out, sizeof out, "%s/intake.json", logs_dir);
	char *argv[] = { "python3", script, (char *)moto_url(moto), NULL };
	if (moto_reset_auth(moto, "inf"))
		return snprintf(msg, n, "cannot turn moto's IAM checks off"), -1;
	pid_t pid = proc_spawn(argv, out, 0);
	int st = pid > 0 ? proc_wait(pid, 90000, 20) : -1;
	if (moto_reset_auth(moto, "0"))
		return snprintf(msg, n, "cannot turn moto's IAM checks on"), -1;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return snprintf(msg, n, "%s failed (status %d); output in %s", script, st, out), -1;
	json_error_t je;
	seeded = json_load_file(out, 0, &je);
	if (!json_is_object(seeded))
		return snprintf(msg, n, "%s: %s", out, je.text), -1;
	return 0;
}

static int group_setup(void **state)
{
	char msg[2048];
	(void)state;

	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_SQS");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	log_set_writer(log_capture, NULL);
	log_set_level(BOT_LOG_DEBUG);
	snprintf(logs_dir, sizeof logs_dir, "/tmp/chatops-sqs.XXXXXX");
	if (!mkdtemp(logs_dir)) {
		fprintf(stderr, "mkdtemp failed\n");
		return -1;
	}
	if (moto_start(NULL, &moto, msg, sizeof msg)) {
		fprintf(stderr, "moto: %s\n", msg);
		return -1;
	}
	/* Exactly the intake's actions (moto checks CloudWatch as monitoring:). */
	static const char policy[] =
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\","
		"\"Action\":[\"sqs:ReceiveMessage\",\"sqs:DeleteMessage\",\"sqs:ChangeMessageVisibility\","
		"\"sqs:SendMessage\",\"sqs:GetQueueAttributes\",\"monitoring:DescribeAlarms\"]}]}";
	if (moto_iam_user(moto, "intake", "chatops-intake", policy, msg, sizeof msg) ||
	    seed_intake(msg, sizeof msg)) {
		fprintf(stderr, "setup: %s\n", msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	(void)state;
	moto_stop(moto);
	moto = NULL;
	json_decref(seeded);
	log_set_writer(NULL, NULL);
	free(logs.all);
	if (strncmp(logs_dir, "/tmp/chatops-sqs.", 17) == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", logs_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", logs_dir);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sns_envelope_and_raw),
		cmocka_unit_test(test_eventbridge),
		cmocka_unit_test(test_error_delete_defer),
		cmocka_unit_test(test_long_poll),
		cmocka_unit_test(test_alarm_states),
		cmocka_unit_test(test_alarm_states_regions),
		cmocka_unit_test(test_dryrun_delete_leaves_message),
		cmocka_unit_test(test_access_denied),
		cmocka_unit_test(test_no_secret_in_logs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
