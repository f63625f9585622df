/* Tests for adapters/aws/errors: every error body shape we meet (ECS JSON,
 * namespaced types, CloudWatch's query-compatible header, SNS/STS XML,
 * moto's XML 403 for JSON services, empty and garbage bodies) and the
 * classification table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "adapters/aws/errors.h"
#include "bot/base/error.h"

static struct aws_err_parsed parse(const char *body, const struct aws_err_headers *h)
{
	struct aws_err_parsed p;
	aws_err_parse(body, body ? strlen(body) : 0, h, &p);
	return p;
}

static void test_json_bodies(void **state)
{
	(void)state;
	struct aws_err_parsed p = parse(
		"{\"__type\": \"ServiceNotFoundException\", \"message\": \"Service not found.\", "
		"\"Message\": \"Service not found.\"}",
		&(struct aws_err_headers){ .request_id = "rid-1" });
	assert_string_equal(p.code, "ServiceNotFoundException");
	assert_string_equal(p.message, "Service not found.");
	assert_string_equal(p.request_id, "rid-1");

	/* Namespaced and suffixed codes, "Message" only. */
	p = parse("{\"__type\":\"com.amazonaws.ecs#AccessDeniedException:http://internal.amazon.com/\","
		  "\"Message\":\"User: arn:aws:iam::1:user/x is not authorized to perform: ecs:UpdateService\"}",
		  NULL);
	assert_string_equal(p.code, "AccessDeniedException");
	assert_non_null(strstr(p.message, "ecs:UpdateService"));

	/* CloudWatch (awsQueryCompatible): the header's code wins. */
	p = parse("{\"__type\":\"GraniteServiceVersion20100801#ResourceNotFound\",\"message\":\"no\"}",
		  &(struct aws_err_headers){ .query_error = "ResourceNotFound;Sender" });
	assert_string_equal(p.code, "ResourceNotFound");
	p = parse("{\"__type\":\"GraniteServiceVersion20100801#InvalidParameterValue\"}",
		  &(struct aws_err_headers){ .query_error = "InvalidParameterValue;Sender" });
	assert_string_equal(p.code, "InvalidParameterValue");
	assert_string_equal(p.message, "");

	/* No code in the body: X-Amzn-ErrorType. x-amz-request-id as fallback. */
	p = parse("{\"message\":\"Rate exceeded\"}",
		  &(struct aws_err_headers){ .error_type = "ThrottlingException:http://x/",
					     .request_id2 = "rid-2" });
	assert_string_equal(p.code, "ThrottlingException");
	assert_string_equal(p.request_id, "rid-2");
}

static void test_xml_bodies(void **state)
{
	(void)state;
	/* awsQuery error (SNS/STS). */
	struct aws_err_parsed p = parse(
		"<ErrorResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type>"
		"<Code>NotFound</Code><Message>Topic does not exist &amp; never did</Message></Error>"
		"<RequestId>9dd01905-5012</RequestId></ErrorResponse>", NULL);
	assert_string_equal(p.code, "NotFound");
	assert_string_equal(p.message, "Topic does not exist & never did");
	assert_string_equal(p.request_id, "9dd01905-5012");

	/* moto's auth failure for a JSON service: XML, 403, <Errors><Error>. */
	p = parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse>\n  <Errors>\n    <Error>\n"
		  "      <Code>AccessDenied</Code>\n      <Message>User: arn:aws:iam::123456789012:user/chatops-readonly "
		  "is not authorized to perform: ecs:UpdateService</Message>\n      <Type>Sender</Type>\n"
		  "    </Error>\n  </Errors>\n  <RequestId>7a62c49f</RequestId>\n</ErrorResponse>",
		  &(struct aws_err_headers){ .request_id = "hdr-wins" });
	assert_string_equal(p.code, "AccessDenied");
	assert_non_null(strstr(p.message, "chatops-readonly"));
	assert_string_equal(p.request_id, "hdr-wins");
	assert_int_equal(aws_err_classify(403, p.code), AWS_ERR_PERMISSION);
}

static void test_unreadable_bodies(void **state)
{
	(void)state;
	struct aws_err_parsed p = parse(NULL, NULL);
	assert_string_equal(p.code, "");
	p = parse("", NULL);
	assert_string_equal(p.code, "");
	p = parse("<html><body>502 Bad Gateway</body></html>", NULL);
	assert_string_equal(p.code, "");
	p = parse("{not json", NULL);
	assert_string_equal(p.code, "");
	p = parse("[1,2]", NULL);
	assert_string_equal(p.code, "");
	/* Long values are cut, never overflow. */
	char big[2000];
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"__type\":\"", 11);
	memcpy(big + sizeof big - 3, "\"}", 3);
	p = parse(big, NULL);
	assert_int_equal(strlen(p.code), sizeof p.code - 1);

	struct cloud_error e;
	memset(&e, 0, sizeof e);
	aws_err_to_cloud(&p, 502, AWS_ERR_TRANSIENT, &e);
	assert_int_equal(e.code, BOT_EREMOTE);
	assert_int_equal(e.http_status, 502);
	p = parse("", NULL);
	aws_err_to_cloud(&p, 503, AWS_ERR_TRANSIENT, &e);
	assert_string_equal(e.message, "HTTP 503");
}

static void test_sanitize(void **state)
{
	(void)state;
	char out[64];
	aws_err_sanitize_code("aws.protocoltests#FooError:http://internal.amazon.com/coral", out, sizeof out);
	assert_string_equal(out, "FooError");
	aws_err_sanitize_code("FooError", out, sizeof out);
	assert_string_equal(out, "FooError");
	aws_err_sanitize_code("a#b#FooError", out, sizeof out);
	assert_string_equal(out, "FooError");
	aws_err_sanitize_code("", out, sizeof out);
	assert_string_equal(out, "");
}

static void test_classify(void **state)
{
	(void)state;
	static const struct { long st; const char *code; enum aws_err_class want; } cases[] = {
		{403, "SignatureDoesNotMatch", AWS_ERR_AUTH},
		{403, "InvalidClientTokenId", AWS_ERR_AUTH},
		{400, "UnrecognizedClientException", AWS_ERR_AUTH},
		{400, "ExpiredTokenException", AWS_ERR_AUTH},
		{400, "AccessDeniedException", AWS_ERR_PERMISSION},
		{403, "AuthorizationError", AWS_ERR_PERMISSION},
		{400, "ServiceNotFoundException", AWS_ERR_NOT_FOUND},
		{400, "ClusterNotFoundException", AWS_ERR_NOT_FOUND},
		{404, "NotFound", AWS_ERR_NOT_FOUND},
		{400, "ResourceNotFound", AWS_ERR_NOT_FOUND},
		{400, "ThrottlingException", AWS_ERR_THROTTLE},
		{400, "Throttling", AWS_ERR_THROTTLE},
		{400, "RequestLimitExceeded", AWS_ERR_THROTTLE},
		{503, "SlowDown", AWS_ERR_THROTTLE},
		{400, "TooManyRequestsException", AWS_ERR_THROTTLE},
		{400, "RequestTimeout", AWS_ERR_TRANSIENT},
		{400, "PriorRequestNotComplete", AWS_ERR_TRANSIENT},
		{500, "ServerException", AWS_ERR_TRANSIENT},
		{500, "", AWS_ERR_TRANSIENT},
		{502, NULL, AWS_ERR_TRANSIENT},
		{503, "ServiceUnavailable", AWS_ERR_TRANSIENT},
		{504, "", AWS_ERR_TRANSIENT},
		{501, "NotImplemented", AWS_ERR_SERVER},
		{429, "", AWS_ERR_THROTTLE},
		{400, "InvalidParameterException", AWS_ERR_CLIENT},
		{400, "ClientException", AWS_ERR_CLIENT},
		{401, "", AWS_ERR_AUTH},
		{403, "", AWS_ERR_PERMISSION},
		{200, "", AWS_ERR_NONE},
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		enum aws_err_class got = aws_err_classify(cases[i].st, cases[i].code);
		if (got != cases[i].want)
			fail_msg("%ld %s: got %s, want %s", cases[i].st, cases[i].code ? cases[i].code : "NULL",
				 aws_err_class_name(got), aws_err_class_name(cases[i].want));
	}
	/* Class -> bot code and retry: the table. */
	assert_int_equal(aws_err_bot_code(AWS_ERR_AUTH, 0), BOT_EAUTH);
	assert_int_equal(aws_err_bot_code(AWS_ERR_PERMISSION, 0), BOT_EPERM);
	assert_int_equal(aws_err_bot_code(AWS_ERR_NOT_FOUND, 0), BOT_ENOTFOUND);
	assert_int_equal(aws_err_bot_code(AWS_ERR_THROTTLE, 0), BOT_ERATELIMIT);
	assert_int_equal(aws_err_bot_code(AWS_ERR_TRANSIENT, 0), BOT_EREMOTE);
	assert_int_equal(aws_err_bot_code(AWS_ERR_CLIENT, 0), BOT_EINVAL);
	assert_int_equal(aws_err_bot_code(AWS_ERR_TRANSPORT, BOT_ETIMEOUT), BOT_ETIMEOUT);
	assert_int_equal(aws_err_bot_code(AWS_ERR_TRANSPORT, BOT_ETRANSPORT), BOT_ETRANSPORT);
	assert_true(aws_err_retryable(AWS_ERR_THROTTLE));
	assert_true(aws_err_retryable(AWS_ERR_TRANSIENT));
	assert_true(aws_err_retryable(AWS_ERR_TRANSPORT));
	assert_false(aws_err_retryable(AWS_ERR_AUTH));
	assert_false(aws_err_retryable(AWS_ERR_PERMISSION));
	assert_false(aws_err_retryable(AWS_ERR_NOT_FOUND));
	assert_false(aws_err_retryable(AWS_ERR_CLIENT));
	assert_false(aws_err_retryable(AWS_ERR_SERVER));
	/* Transport results. */
	assert_int_equal(aws_err_classify_transport(BOT_ETIMEOUT), AWS_ERR_TRANSPORT);
	assert_int_equal(aws_err_classify_transport(BOT_ETRANSPORT), AWS_ERR_TRANSPORT);
	assert_false(aws_err_retryable(aws_err_classify_transport(BOT_ETLS)));
	assert_false(aws_err_retryable(aws_err_classify_transport(BOT_ECANCELLED)));
	assert_false(aws_err_retryable(aws_err_classify_transport(BOT_ETOOBIG)));
	for (int c = 0; c < AWS_ERR__N; c++)
		assert_true(strlen(aws_err_class_name((enum aws_err_class)c)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_bodies),
		cmocka_unit_test(test_xml_bodies),
		cmocka_unit_test(test_unreadable_bodies),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
