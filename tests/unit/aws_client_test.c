/* Tests for adapters/aws/client: endpoint resolution, the retry policy's
 * backoff (full jitter, caps, throttle base, retry-after), the service
 * table, and the call contract on a loop without any server: callbacks
 * later and exactly once, transport errors retried up to max_attempts,
 * cancel, destroy and shutdown with calls in flight. */
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

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "bot/base/log.h"

static void test_endpoints(void **state)
{
	char b[256];
	(void)state;
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, "us-east-1", NULL, NULL, NULL, b, sizeof b), 0);
	assert_string_equal(b, "https://ecs.us-east-1.amazonaws.com/");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_CLOUDWATCH, "eu-west-1", NULL, NULL, NULL, b, sizeof b), 0);
	assert_string_equal(b, "https://monitoring.eu-west-1.amazonaws.com/");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_SNS, "cn-north-1", NULL, NULL, NULL, b, sizeof b), 0);
	assert_string_equal(b, "https://sns.cn-north-1.amazonaws.com.cn/");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_STS, "us-west-2", NULL, "", "", b, sizeof b), 0);
	assert_string_equal(b, "https://sts.us-west-2.amazonaws.com/");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_DYNAMODB, "eu-central-1", NULL, NULL, NULL, b,
					      sizeof b), 0);
	assert_string_equal(b, "https://dynamodb.eu-central-1.amazonaws.com/");
	/* Precedence: per-service env, global env, config, default. */
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, "us-east-1", "http://svc", "http://all", "http://cfg", b, sizeof b), 0);
	assert_string_equal(b, "http://svc");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, "us-east-1", "", "http://all", "http://cfg", b, sizeof b), 0);
	assert_string_equal(b, "http://all");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, "us-east-1", NULL, NULL, "http://cfg", b, sizeof b), 0);
	assert_string_equal(b, "http://cfg");
	/* An override needs no region; the default does. */
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, NULL, NULL, NULL, "http://cfg", b, sizeof b), 0);
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, NULL, NULL, NULL, NULL, b, sizeof b), BOT_EINVAL);
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_ECS, "us-east-1", NULL, NULL, NULL, b, 10), BOT_EINVAL);
	assert_int_equal(aws_endpoint_resolve(AWS_SVC__N, "us-east-1", NULL, NULL, NULL, b, sizeof b), BOT_EINVAL);
}

static void test_service_table(void **state)
{
	(void)state;
	const struct aws_service_info *ecs = aws_service_info(AWS_SVC_ECS), *cw = aws_service_info(AWS_SVC_CLOUDWATCH);
	assert_string_equal(ecs->signing_name, "ecs");
	assert_string_equal(ecs->target_prefix, "AmazonEC2ContainerServiceV20141113");
	assert_string_equal(ecs->content_type, "application/x-amz-json-1.1");
	assert_string_equal(cw->signing_name, "monitoring");
	assert_string_equal(cw->target_prefix, "GraniteServiceVersion20100801");
	assert_string_equal(cw->content_type, "application/x-amz-json-1.0");
	assert_int_equal(aws_service_info(AWS_SVC_SNS)->protocol, AWS_PROTO_QUERY);
	assert_null(aws_service_info(AWS_SVC_SNS)->target_prefix);
	assert_string_equal(aws_service_info(AWS_SVC_STS)->env_id, "STS");
	const struct aws_service_info *ddb = aws_service_info(AWS_SVC_DYNAMODB);
	assert_string_equal(ddb->env_id, "DYNAMODB"); /* AWS_ENDPOINT_URL_DYNAMODB */
	assert_string_equal(ddb->signing_name, "dynamodb");
	assert_string_equal(ddb->target_prefix, "DynamoDB_20120810");
	assert_int_equal(ddb->protocol, AWS_PROTO_JSON_1_0);
	assert_null(aws_service_info(AWS_SVC__N));
}

/* Which errors are logged at debug: DynamoDB's lost conditions only. */
static void test_expected_errors(void **state)
{
	(void)state;
	assert_true(aws_client_error_expected(AWS_SVC_DYNAMODB, "ConditionalCheckFailedException",
					      NULL));
	assert_true(aws_client_error_expected(AWS_SVC_DYNAMODB, "TransactionCanceledException",
		"{\"CancellationReasons\": [{\"Code\": \"None\"}, "
		"{\"Code\": \"ConditionalCheckFailed\", \"Item\": {}}]}"));
	/* cancelled for another reason (or none given): a fault */
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "TransactionCanceledException",
		"{\"CancellationReasons\": [{\"Code\": \"ConditionalCheckFailed\"}, "
		"{\"Code\": \"ThrottlingError\"}]}"));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "TransactionCanceledException",
		"{\"CancellationReasons\": [{\"Code\": \"None\"}]}"));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "TransactionCanceledException",
					       NULL));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "TransactionCanceledException",
					       "not json"));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "ValidationException", NULL));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, "ResourceNotFoundException", NULL));
	assert_false(aws_client_error_expected(AWS_SVC_DYNAMODB, NULL, NULL));
	/* the same name from another service is not DynamoDB's condition */
	assert_false(aws_client_error_expected(AWS_SVC_ECS, "ConditionalCheckFailedException",
					       NULL));
}

static void test_backoff(void **state)
{
	const struct aws_retry_policy *p = &aws_retry_standard;
	(void)state;
	assert_int_equal(p->max_attempts, 3);
	/* rand * min(base * 2^(n-1), cap) */
	assert_int_equal(aws_retry_delay_ms(p, 1, AWS_ERR_TRANSIENT, 0.5, -1), 500);
	assert_int_equal(aws_retry_delay_ms(p, 2, AWS_ERR_TRANSIENT, 0.5, -1), 1000);
	assert_int_equal(aws_retry_delay_ms(p, 3, AWS_ERR_TRANSIENT, 0.5, -1), 2000);
	assert_int_equal(aws_retry_delay_ms(p, 10, AWS_ERR_TRANSIENT, 0.5, -1), 10000); /* cap 20 s */
	assert_int_equal(aws_retry_delay_ms(p, 60, AWS_ERR_TRANSIENT, 0.999, -1), 19980);
	assert_int_equal(aws_retry_delay_ms(p, 1, AWS_ERR_TRANSIENT, 0.0, -1), 0); /* full jitter */
	assert_true(aws_retry_delay_ms(p, 1, AWS_ERR_TRANSIENT, 7.0, -1) < 1000);  /* clamped rand */
	struct aws_retry_policy t = *p;
	t.throttle_base_ms = 4000;
	t.base_ms = 50;
	assert_int_equal(aws_retry_delay_ms(&t, 2, AWS_ERR_THROTTLE, 0.25, -1), 2000);
	assert_int_equal(aws_retry_delay_ms(&t, 2, AWS_ERR_TRANSPORT, 0.5, -1), 50);
	/* x-amz-retry-after: honoured, at most cap + extra. */
	assert_int_equal(aws_retry_delay_ms(p, 1, AWS_ERR_THROTTLE, 0.5, 3000), 3000);
	assert_int_equal(aws_retry_delay_ms(p, 1, AWS_ERR_THROTTLE, 0.5, 60000), 1000 + 5000);
	/* Spread: many draws stay inside [0, cap). */
	for (int i = 0; i < 100; i++) {
		uint64_t d = aws_retry_delay_ms(p, 2, AWS_ERR_TRANSIENT, i / 100.0, -1);
		assert_true(d < 2000);
	}
}

/* ---- calls on a loop, no server ---------------------------------------- */

struct got {
	int calls;
	struct cloud_error err;
};

static void on_done(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct got *g = ud;
	g->calls++;
	assert_non_null(err); /* nothing answers in these tests */
	assert_null(r);
	g->err = *err;
}

static const struct aws_retry_policy quick = {
	.max_attempts = 3, .base_ms = 1, .throttle_base_ms = 1, .max_backoff_ms = 2,
	.quota = 500, .retry_cost = 5, .timeout_cost = 10, .success_refill = 1,
};

static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 9;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void run_until(struct bot_loop *l, const int *n, int want)
{
	uv_loop_t *uv = bot_loop_uv(l);
	for (int i = 0; i < 2000 && *n < want; i++)
		uv_run(uv, UV_RUN_NOWAIT), usleep(1000);
}

static void test_calls(void **state)
{
	struct bot_loop *loop;
	struct http *http;
	struct aws_client *c;
	struct aws_creds_provider *p;
	struct bot_error err = { .msg = "" };
	char url[64];
	(void)state;
	snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
	assert_int_equal(bot_loop_create(&loop, &err), 0);
	assert_int_equal(http_create(loop, NULL, &http, &err), 0);
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1",
		.endpoint_url = url, .retry = &quick }, &c, &err), 0);
	struct aws_request rq = { .service = AWS_SVC_ECS, .op = "DescribeServices", .body = "{}", .body_len = 2 };

	/* No credentials: an error, later, once. */
	struct got g1 = {0};
	assert_int_equal(aws_client_call(c, &rq, on_done, &g1, NULL), 0);
	assert_int_equal(g1.calls, 0);
	run_until(loop, &g1.calls, 1);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g1.err.code, BOT_EAUTH);

	assert_int_equal(aws_creds_create(http, NULL, &(struct aws_creds_opts){
		.fixed = &(struct aws_creds){ "AKIDEXAMPLE", "client-test-secret", NULL } }, &p, &err), 0);
	aws_client_set_creds(c, p);

	/* Connection refused: a transport error, retried to max_attempts. */
	struct got g2 = {0};
	assert_int_equal(aws_client_call(c, &rq, on_done, &g2, NULL), 0);
	run_until(loop, &g2.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g2.err.code, BOT_ETRANSPORT);
	assert_int_equal(g2.err.attempts, 3);
	struct aws_client_stats st;
	aws_client_stats(c, &st);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.quota, 500 - 10);

	/* no_retry: one try. */
	struct got g3 = {0};
	rq.no_retry = true;
	assert_int_equal(aws_client_call(c, &rq, on_done, &g3, NULL), 0);
	run_until(loop, &g3.calls, 1);
	assert_int_equal(g3.err.attempts, 1);
	rq.no_retry = false;

	/* Cancel: now, once; a second cancel after the callback is ignored. */
	struct got g4 = {0};
	struct aws_call *call;
	assert_int_equal(aws_client_call(c, &rq, on_done, &g4, &call), 0);
	aws_call_cancel(call);
	assert_int_equal(g4.calls, 1);
	assert_int_equal(g4.err.code, BOT_ECANCELLED);

	/* Bad requests are refused synchronously, without a callback. */
	struct got g5 = {0};
	assert_int_equal(aws_client_call(c, &(struct aws_request){ .service = AWS_SVC__N, .op = "x" },
					 on_done, &g5, NULL), BOT_EINVAL);
	assert_int_equal(aws_client_call(c, &(struct aws_request){ .service = AWS_SVC_ECS },
					 on_done, &g5, NULL), BOT_EINVAL);
	assert_int_equal(g5.calls, 0);

	/* Shutdown with a call in flight: cancelled, then calls are refused. */
	struct got g6 = {0};
	assert_int_equal(aws_client_call(c, &rq, on_done, &g6, NULL), 0);
	bot_loop_shutdown(loop);
	assert_int_equal(bot_loop_run(loop), 0);
	assert_int_equal(g6.calls, 1);
	assert_int_equal(g6.err.code, BOT_ECANCELLED);
	assert_int_equal(aws_client_call(c, &rq, on_done, &g5, NULL), BOT_ESTATE);
	aws_creds_destroy(p);
	aws_client_destroy(c);
	http_destroy(http);
	assert_int_equal(bot_loop_destroy(loop), 0);
	assert_int_equal(g5.calls, 0);
}

/* Invalid endpoint settings are startup errors. */
static void test_create_errors(void **state)
{
	struct bot_loop *loop;
	struct http *http;
	struct aws_client *c = NULL;
	struct bot_error err = { .msg = "" };
	(void)state;
	assert_int_equal(bot_loop_create(&loop, &err), 0);
	assert_int_equal(http_create(loop, NULL, &http, &err), 0);
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1",
		.endpoint_url = "ftp://x" }, &c, &err), BOT_EINVAL);
	assert_null(c);
	setenv("AWS_ENDPOINT_URL_SNS", "::not a url::", 1);
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1" },
					   &c, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "AWS_ENDPOINT_URL_SNS"));
	unsetenv("AWS_ENDPOINT_URL_SNS");
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ 0 }, &c, &err), BOT_EINVAL);
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "eu-west-1" },
					   &c, &err), 0);
	char b[128];
	assert_int_equal(aws_client_endpoint(c, AWS_SVC_CLOUDWATCH, NULL, b, sizeof b), 0);
	assert_string_equal(b, "https://monitoring.eu-west-1.amazonaws.com/");
	assert_int_equal(aws_client_endpoint(c, AWS_SVC_ECS, "ap-south-1", b, sizeof b), 0);
	assert_string_equal(b, "https://ecs.ap-south-1.amazonaws.com/");
	aws_client_destroy(c);
	http_destroy(http);
	assert_int_equal(bot_loop_destroy(loop), 0);
}

/* http:// endpoints are for loopback hosts only, from every source, in the
 * words of the ws:// rule (bot/base/url.h). Refused at create, so no client
 * exists that could connect. */
static void test_http_endpoints_loopback_only(void **state)
{
	static const char *const env[] = {"AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_STS",
					  "AWS_ENDPOINT_URL"};
	struct bot_loop *loop;
	struct http *http;
	struct aws_client *c = NULL;
	struct bot_error err = { .msg = "" };
	char want[160];
	(void)state;
	assert_int_equal(bot_loop_create(&loop, &err), 0);
	assert_int_equal(http_create(loop, NULL, &http, &err), 0);

	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1",
		.endpoint_url = "http://moto.internal:5000" }, &c, &err), BOT_EPERM);
	assert_null(c);
	assert_string_equal(err.msg, "aws.endpoint_url: http:// (no TLS) is allowed to loopback "
			    "hosts only; use https://");
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
		setenv(env[i], "http://203.0.113.9:4566", 1);
		assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){
			.region = "us-east-1" }, &c, &err), BOT_EPERM);
		assert_null(c);
		snprintf(want, sizeof want, "%s: http:// (no TLS) is allowed to loopback hosts "
			 "only; use https://", env[i]);
		assert_string_equal(err.msg, want);
		/* ignored settings are not used, so not checked */
		setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
		assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){
			.region = "us-east-1" }, &c, &err), 0);
		aws_client_destroy(c);
		c = NULL;
		unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
		unsetenv(env[i]);
	}
	/* loopback and https are fine */
	setenv("AWS_ENDPOINT_URL_ECS", "http://[::1]:5000", 1);
	setenv("AWS_ENDPOINT_URL", "https://aws.example.com", 1);
	assert_int_equal(aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1",
		.endpoint_url = "http://localhost:5000" }, &c, &err), 0);
	aws_client_destroy(c);
	unsetenv("AWS_ENDPOINT_URL_ECS");
	unsetenv("AWS_ENDPOINT_URL");
	http_destroy(http);
	assert_int_equal(bot_loop_destroy(loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_service_table),
		cmocka_unit_test(test_expected_errors),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_http_endpoints_loopback_only),
	};
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_ECS");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	unsetenv("AWS_ENDPOINT_URL_SNS");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	log_set_level(BOT_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
