/* Tests for adapters/aws/sqs: the JSON bodies of ReceiveMessage,
 * DeleteMessage and ChangeMessageVisibility, the reply parser (messages,
 * receive counts, none, malformed) and the region of a queue URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/sqs.h"

#define Q "https://sqs.eu-west-1.amazonaws.com/123456789012/alarms"

static void test_bodies(void **state)
{
	(void)state;
	char *b = aws_sqs_receive_body(Q, 10, 20, 0);
	assert_string_equal(b, "{\"QueueUrl\":\"" Q "\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":20,"
			    "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],"
			    "\"AttributeNames\":[\"ApproximateReceiveCount\"]}");
	free(b);
	b = aws_sqs_receive_body(Q, 1, 0, 45);
	json_t *j = json_loads(b, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "VisibilityTimeout")), 45);
	assert_int_equal(json_integer_value(json_object_get(j, "WaitTimeSeconds")), 0);
	json_decref(j);
	free(b);
	assert_null(aws_sqs_receive_body(Q, 0, 1, 0));
	assert_null(aws_sqs_receive_body(Q, 11, 1, 0));
	assert_null(aws_sqs_receive_body(Q, 1, 21, 0));
	assert_null(aws_sqs_receive_body(Q, 1, -1, 0));
	assert_null(aws_sqs_receive_body(Q, 1, 1, 43201));
	assert_null(aws_sqs_receive_body(NULL, 1, 1, 0));
	assert_null(aws_sqs_receive_body("", 1, 1, 0));

	b = aws_sqs_delete_body(Q, "AQEB+/=rh");
	assert_string_equal(b, "{\"QueueUrl\":\"" Q "\",\"ReceiptHandle\":\"AQEB+/=rh\"}");
	free(b);
	assert_null(aws_sqs_delete_body(Q, ""));
	b = aws_sqs_visibility_body(Q, "rh", 0);
	assert_string_equal(b, "{\"QueueUrl\":\"" Q "\",\"ReceiptHandle\":\"rh\",\"VisibilityTimeout\":0}");
	free(b);
	assert_null(aws_sqs_visibility_body(Q, "rh", -1));
	assert_null(aws_sqs_visibility_body(Q, NULL, 0));
}

static void test_parse(void **state)
{
	(void)state;
	struct aws_sqs_msgs m;
	struct bot_error err = { .msg = "" };
	const char *r = "{\"Messages\":[{\"MessageId\":\"m1\",\"ReceiptHandle\":\"r1\",\"MD5OfBody\":\"x\","
			"\"Body\":\"{\\\"a\\\":1}\",\"Attributes\":{\"ApproximateReceiveCount\":\"3\"}},"
			"{\"MessageId\":\"m2\",\"ReceiptHandle\":\"r2\",\"Body\":\"\"}]}";

	assert_int_equal(aws_sqs_parse_receive(r, strlen(r), &m, &err), BOT_EOK);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].id, "m1");
	assert_string_equal(m.v[0].receipt, "r1");
	assert_string_equal(m.v[0].body, "{\"a\":1}");
	assert_int_equal(m.v[0].body_len, 7);
	assert_int_equal(m.v[0].receive_count, 3);
	assert_string_equal(m.v[1].body, "");
	assert_int_equal(m.v[1].receive_count, 0);
	aws_sqs_msgs_clear(&m);

	/* An empty poll: {} (AWS) or no Messages. */
	assert_int_equal(aws_sqs_parse_receive("{}", 2, &m, &err), BOT_EOK);
	assert_int_equal(m.n, 0);
	assert_null(m.v);

	r = "{\"Messages\":[{\"MessageId\":\"m1\",\"Body\":\"x\"}]}";
	assert_int_equal(aws_sqs_parse_receive(r, strlen(r), &m, &err), BOT_EPARSE);
	assert_non_null(strstr(err.msg, "no MessageId or ReceiptHandle"));
	assert_int_equal(m.n, 0);
	r = "{\"Messages\":{}}";
	assert_int_equal(aws_sqs_parse_receive(r, strlen(r), &m, &err), BOT_EPARSE);
	assert_non_null(strstr(err.msg, "not a list"));
	assert_int_equal(aws_sqs_parse_receive("<xml/>", 6, &m, &err), BOT_EPARSE);
	/* A count that is not a number is 0, never garbage. */
	r = "{\"Messages\":[{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"Attributes\":"
	    "{\"ApproximateReceiveCount\":\"99999999999999999999\"}}]}";
	assert_int_equal(aws_sqs_parse_receive(r, strlen(r), &m, &err), BOT_EOK);
	assert_int_equal(m.v[0].receive_count, 0);
	aws_sqs_msgs_clear(&m);
}

static void test_region(void **state)
{
	(void)state;
	char b[48];
	assert_true(aws_sqs_queue_region(Q, b, sizeof b));
	assert_string_equal(b, "eu-west-1");
	assert_true(aws_sqs_queue_region("https://sqs.cn-north-1.amazonaws.com.cn/1/q", b, sizeof b));
	assert_string_equal(b, "cn-north-1");
	assert_true(aws_sqs_queue_region("https://ap-south-1.queue.amazonaws.com/1/q", b, sizeof b));
	assert_string_equal(b, "ap-south-1");
	assert_false(aws_sqs_queue_region("http://127.0.0.1:5000/123456789012/q", b, sizeof b));
	assert_false(aws_sqs_queue_region("https://queue.amazonaws.com/1/q", b, sizeof b));
	assert_false(aws_sqs_queue_region("https://sqs.amazonaws.com/1/q", b, sizeof b));
	assert_false(aws_sqs_queue_region("not a url", b, sizeof b));
	assert_false(aws_sqs_queue_region(Q, b, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_region),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
