/* Tests for the awsQuery services: SNS Publish and STS AssumeRole /
 * GetCallerIdentity bodies (botocore-identical form encoding) and replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "adapters/aws/sns.h"
#include "adapters/aws/sts.h"

static void test_publish_body(void **state)
{
	(void)state;
	char *b = aws_sns_publish_body(&(struct aws_sns_publish){
		.topic_arn = "arn:aws:sns:us-east-1:123456789012:mysecretword-owners",
		.subject = "Approval needed",
		.message = "Scale to 100? a&b=c ~ok/100% \xc3\xa9\n",
	});
	/* What botocore sends (and moto re-encodes): space '+', ':' '/' '&' '='
	 * '%' and UTF-8 as uppercase %XX, '~' literal. */
	assert_string_equal(b,
		"Action=Publish&Version=2010-03-31"
		"&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Amysecretword-owners"
		"&Message=Scale+to+100%3F+a%26b%3Dc+~ok%2F100%25+%C3%A9%0A"
		"&Subject=Approval+needed");
	free(b);
	struct aws_sns_attr attrs[] = { { "requester", "U123" }, { "gate", "g 7" } };
	b = aws_sns_publish_body(&(struct aws_sns_publish){ .topic_arn = "t", .message = "m",
							    .attrs = attrs, .n_attrs = 2 });
	assert_string_equal(b,
		"Action=Publish&Version=2010-03-31&TopicArn=t&Message=m"
		"&MessageAttributes.entry.1.Name=requester&MessageAttributes.entry.1.Value.DataType=String"
		"&MessageAttributes.entry.1.Value.StringValue=U123"
		"&MessageAttributes.entry.2.Name=gate&MessageAttributes.entry.2.Value.DataType=String"
		"&MessageAttributes.entry.2.Value.StringValue=g+7");
	free(b);
	assert_null(aws_sns_publish_body(&(struct aws_sns_publish){ .topic_arn = "t" }));
	assert_null(aws_sns_publish_body(NULL));
}

static void test_publish_reply(void **state)
{
	struct bot_error err;
	char *id = NULL;
	(void)state;
	const char *ok = "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>"
			 "<MessageId>50d6a2b0-96f3-5c4b-8d05-0b1c9d1d3a5f</MessageId></PublishResult>"
			 "<ResponseMetadata><RequestId>f187a3c1</RequestId></ResponseMetadata></PublishResponse>";
	assert_int_equal(aws_sns_parse_publish(ok, strlen(ok), &id, &err), 0);
	assert_string_equal(id, "50d6a2b0-96f3-5c4b-8d05-0b1c9d1d3a5f");
	free(id);
	const char *empty = "<PublishResponse><PublishResult><MessageId></MessageId></PublishResult></PublishResponse>";
	assert_int_equal(aws_sns_parse_publish(empty, strlen(empty), &id, &err), BOT_EPARSE);
	assert_null(id);
	assert_int_equal(aws_sns_parse_publish("", 0, &id, &err), BOT_EPARSE);
}

static void test_assume_body(void **state)
{
	(void)state;
	char *b = aws_sts_assume_role_body(&(struct aws_sts_assume_params){
		.role_arn = "arn:aws:iam::123456789012:role/mysecretword-scaler-role",
		.session_name = "chatops-bot", .duration_s = 900, .external_id = "ext id+1" });
	assert_string_equal(b,
		"Action=AssumeRole&Version=2011-06-15"
		"&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmysecretword-scaler-role"
		"&RoleSessionName=chatops-bot&DurationSeconds=900&ExternalId=ext+id%2B1");
	free(b);
	b = aws_sts_assume_role_body(&(struct aws_sts_assume_params){ .role_arn = "r", .session_name = "s" });
	assert_string_equal(b, "Action=AssumeRole&Version=2011-06-15&RoleArn=r&RoleSessionName=s");
	free(b);
}

static const char assume_reply[] =
	"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <AssumeRoleResult>\n"
	"    <Credentials>\n"
	"      <AccessKeyId>ASIAQWERTYUIOP123456</AccessKeyId>\n"
	"      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
	"      <SessionToken>FQoGZXIvYXdzEBYaD+token/with=base64&amp;entity==</SessionToken>\n"
	"      <Expiration>2026-11-23T21:48:34.592495Z</Expiration>\n"
	"    </Credentials>\n"
	"    <AssumedRoleUser>\n"
	"      <AssumedRoleId>AROA123:chatops-bot</AssumedRoleId>\n"
	"      <Arn>arn:aws:sts::123456789012:assumed-role/mysecretword-scaler-role/chatops-bot</Arn>\n"
	"    </AssumedRoleUser>\n"
	"    <PackedPolicySize>6</PackedPolicySize>\n"
	"  </AssumeRoleResult>\n"
	"  <ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata>\n"
	"</AssumeRoleResponse>";

static void test_assume_reply(void **state)
{
	struct aws_sts_assumed a;
	struct bot_error err;
	(void)state;
	assert_int_equal(aws_sts_parse_assume_role(assume_reply, strlen(assume_reply), &a, &err), 0);
	assert_string_equal(a.creds.access_key_id, "ASIAQWERTYUIOP123456");
	assert_string_equal(a.creds.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
	assert_string_equal(a.creds.session_token, "FQoGZXIvYXdzEBYaD+token/with=base64&entity==");
	assert_true(a.creds.expiration > 1795470514.5 && a.creds.expiration < 1795470514.6);
	assert_string_equal(a.assumed_role_arn,
			    "arn:aws:sts::123456789012:assumed-role/mysecretword-scaler-role/chatops-bot");
	aws_sts_assumed_clear(&a);

	/* Missing pieces are errors, not half credentials. */
	char broken[sizeof assume_reply];
	memcpy(broken, assume_reply, sizeof assume_reply);
	char *p = strstr(broken, "<SessionToken>");
	memcpy(p, "<SessionTokeX>", 14);
	assert_int_equal(aws_sts_parse_assume_role(broken, strlen(broken), &a, &err), BOT_EPARSE);
	memcpy(broken, assume_reply, sizeof assume_reply);
	p = strstr(broken, "2026-11-23T");
	memcpy(p, "yesterday!!", 11);
	assert_int_equal(aws_sts_parse_assume_role(broken, strlen(broken), &a, &err), BOT_EPARSE);
	assert_non_null(strstr(err.msg, "Expiration"));
	assert_int_equal(aws_sts_parse_assume_role("<x/>", 4, &a, &err), BOT_EPARSE);
}

static void test_identity_reply(void **state)
{
	struct aws_sts_identity id;
	struct bot_error err;
	(void)state;
	const char *ok = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
			 "<GetCallerIdentityResult><UserId>AIDA123</UserId><Account>123456789012</Account>"
			 "<Arn>arn:aws:iam::123456789012:user/chatops-scaler</Arn></GetCallerIdentityResult>"
			 "<ResponseMetadata><RequestId>01234567</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
	assert_int_equal(aws_sts_parse_caller_identity(ok, strlen(ok), &id, &err), 0);
	assert_string_equal(id.arn, "arn:aws:iam::123456789012:user/chatops-scaler");
	assert_string_equal(id.account, "123456789012");
	assert_string_equal(id.user_id, "AIDA123");
	aws_sts_identity_clear(&id);
	const char *noarn = "<GetCallerIdentityResult><Account>1</Account></GetCallerIdentityResult>";
	assert_int_equal(aws_sts_parse_caller_identity(noarn, strlen(noarn), &id, &err), BOT_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_body),
		cmocka_unit_test(test_publish_reply),
		cmocka_unit_test(test_assume_body),
		cmocka_unit_test(test_assume_reply),
		cmocka_unit_test(test_identity_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
