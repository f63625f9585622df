/* Tests for adapters/aws/alarm_msg: the three shapes an alarm state change
 * reaches SQS in (SNS envelope, raw delivery, EventBridge), metric math,
 * exact times from every zone spelling, region and account from the ARN,
 * and a refusal with a reason for every kind of bad body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/alarm_msg.h"

/* The alarm JSON CloudWatch publishes (shape of a real notification). */
#define ALARM_JSON                                                                          \
	"{\"AlarmName\":\"prod-web-cpu-high-with-a-rather-long-name-that-the-subject-line-"    \
	"cuts-short-because-it-is-long\",\"AlarmDescription\":\"CPU above 80% for 3 minutes\"," \
	"\"AWSAccountId\":\"123456789012\",\"AlarmConfigurationUpdatedTimestamp\":"            \
	"\"2024-07-01T09:00:00.000+0000\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":"     \
	"\"Threshold Crossed: 3 out of the last 3 datapoints [91.2 (05/07/24 15:19:00)] were " \
	"greater than the threshold (80.0).\",\"StateChangeTime\":\"2024-07-05T15:20:44.959+0000\"," \
	"\"Region\":\"EU (Ireland)\",\"AlarmArn\":\"arn:aws:cloudwatch:eu-west-1:210987654321:" \
	"alarm:prod-web-cpu-high-with-a-rather-long-name-that-the-subject-line-cuts-short-"    \
	"because-it-is-long\",\"OldStateValue\":\"OK\",\"OKActions\":[],\"AlarmActions\":"     \
	"[\"arn:aws:sns:eu-west-1:210987654321:alarms\"],\"InsufficientDataActions\":[],"      \
	"\"Trigger\":{\"MetricName\":\"CPUUtilization\",\"Namespace\":\"AWS/ECS\","            \
	"\"StatisticType\":\"Statistic\",\"Statistic\":\"AVERAGE\",\"Unit\":null,"             \
	"\"Dimensions\":[{\"value\":\"prod\",\"name\":\"ClusterName\"},{\"value\":\"web\","     \
	"\"name\":\"ServiceName\"}],\"Period\":60,\"EvaluationPeriods\":3,"                    \
	"\"DatapointsToAlarm\":3,\"ComparisonOperator\":\"GreaterThanThreshold\","            \
	"\"Threshold\":80.0,\"TreatMissingData\":\"missing\",\"EvaluateLowSampleCountPercentile\":\"\"}}"

/* What SQS holds for an SNS subscription without raw delivery, pretty-
 * printed as moto sends it; Message is ALARM_JSON as a JSON string. */
static const char sns_envelope[] =
	"{\n"
	"  \"Type\" : \"Notification\",\n"
	"  \"MessageId\" : \"5a4a3a2c-aaaa-5b1b-9c0e-0d0e1f2a3b4c\",\n"
	"  \"TopicArn\" : \"arn:aws:sns:eu-west-1:210987654321:alarms\",\n"
	"  \"Subject\" : \"ALARM: \\\"prod-web-cpu-high-with-a-rather-long-name-that-the-subject-...\\\" in EU (Ireland)\",\n"
	"  \"Message\" : \"{\\\"AlarmName\\\":\\\"prod-web-cpu-high-with-a-rather-long-name-that-the-subject-line-"
	"cuts-short-because-it-is-long\\\",\\\"AlarmDescription\\\":null,\\\"AWSAccountId\\\":\\\"123456789012\\\","
	"\\\"NewStateValue\\\":\\\"ALARM\\\",\\\"NewStateReason\\\":\\\"Threshold Crossed\\\","
	"\\\"StateChangeTime\\\":\\\"2024-07-05T15:20:44.959+0000\\\",\\\"Region\\\":\\\"EU (Ireland)\\\","
	"\\\"AlarmArn\\\":\\\"arn:aws:cloudwatch:eu-west-1:210987654321:alarm:prod-web-cpu-high-with-a-rather-"
	"long-name-that-the-subject-line-cuts-short-because-it-is-long\\\",\\\"OldStateValue\\\":\\\"OK\\\","
	"\\\"Trigger\\\":{\\\"MetricName\\\":\\\"CPUUtilization\\\",\\\"Namespace\\\":\\\"AWS/ECS\\\","
	"\\\"Statistic\\\":\\\"AVERAGE\\\",\\\"Dimensions\\\":[{\\\"value\\\":\\\"prod\\\",\\\"name\\\":"
	"\\\"ClusterName\\\"},{\\\"value\\\":\\\"web\\\",\\\"name\\\":\\\"ServiceName\\\"}],\\\"Period\\\":60,"
	"\\\"EvaluationPeriods\\\":3,\\\"ComparisonOperator\\\":\\\"GreaterThanThreshold\\\",\\\"Threshold\\\":80.0}}\",\n"
	"  \"Timestamp\" : \"2024-07-05T15:20:45.012Z\",\n"
	"  \"SignatureVersion\" : \"1\",\n"
	"  \"Signature\" : \"EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=\",\n"
	"  \"SigningCertURL\" : \"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem\",\n"
	"  \"UnsubscribeURL\" : \"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:210987654321:alarms:0a1b\"\n"
	"}\n";

/* An EventBridge "CloudWatch Alarm State Change" (rule target SQS). */
static const char eventbridge[] =
	"{\"version\":\"0\",\"id\":\"c4c1c1c9-6542-e61b-6ef0-8c4d36933a92\","
	"\"detail-type\":\"CloudWatch Alarm State Change\",\"source\":\"aws.cloudwatch\","
	"\"account\":\"123456789012\",\"time\":\"2024-07-05T15:20:45Z\",\"region\":\"us-east-1\","
	"\"resources\":[\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx\"],"
	"\"detail\":{\"alarmName\":\"api-5xx\",\"state\":{\"value\":\"ALARM\",\"reason\":"
	"\"Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).\","
	"\"reasonData\":\"{\\\"version\\\":\\\"1.0\\\"}\",\"timestamp\":\"2024-07-05T15:20:44.959+0000\"},"
	"\"previousState\":{\"value\":\"INSUFFICIENT_DATA\",\"reason\":\"Unchecked\","
	"\"timestamp\":\"2024-07-05T15:10:00.000+0000\"},\"configuration\":{\"description\":\"5xx\","
	"\"metrics\":[{\"id\":\"m1\",\"metricStat\":{\"metric\":{\"namespace\":\"AWS/ApplicationELB\","
	"\"name\":\"HTTPCode_Target_5XX_Count\",\"dimensions\":{\"LoadBalancer\":\"app/api/50dc6c495c0c9188\","
	"\"TargetGroup\":\"targetgroup/api/6d0ecf831eec9f09\"}},\"period\":300,\"stat\":\"Sum\"},"
	"\"returnData\":true}]}}}";

/* A metric-math alarm, raw delivery: Trigger.Metrics, no MetricName. */
static const char math_raw[] =
	"{\"AlarmName\":\"error-rate\",\"AlarmDescription\":null,\"AWSAccountId\":\"123456789012\","
	"\"NewStateValue\":\"OK\",\"NewStateReason\":\"back under\",\"StateChangeTime\":"
	"\"2024-12-31T23:59:59.999-0130\",\"Region\":\"US East (N. Virginia)\","
	"\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:error-rate\","
	"\"OldStateValue\":\"ALARM\",\"Trigger\":{\"Period\":60,\"EvaluationPeriods\":2,"
	"\"ComparisonOperator\":\"GreaterThanThreshold\",\"Threshold\":1.5,"
	"\"TreatMissingData\":\"missing\",\"Metrics\":[{\"Expression\":\"100*e/r\",\"Id\":\"rate\","
	"\"Label\":\"rate\",\"ReturnData\":true},{\"Id\":\"r\",\"MetricStat\":{\"Metric\":"
	"{\"Dimensions\":[],\"MetricName\":\"RequestCount\",\"Namespace\":\"AWS/ApplicationELB\"},"
	"\"Period\":60,\"Stat\":\"Sum\"},\"ReturnData\":false},{\"Id\":\"e\",\"MetricStat\":"
	"{\"Metric\":{\"Dimensions\":[{\"value\":\"app/api/1\",\"name\":\"LoadBalancer\"}],"
	"\"MetricName\":\"HTTPCode_Target_5XX_Count\",\"Namespace\":\"AWS/ApplicationELB\"},"
	"\"Period\":60,\"Stat\":\"Sum\"},\"ReturnData\":false}]}}";

static struct aws_alarm_msg *parse_ok(const char *body)
{
	struct bot_error err = { .msg = "" };
	struct aws_alarm_msg *m = NULL;
	int rc = aws_alarm_msg_parse(body, strlen(body), &m, &err);
	if (rc)
		fail_msg("refused (%s): %s", bot_err_name(rc), err.msg);
	assert_non_null(m);
	return m;
}

/* Refused with code and a reason containing needle. */
/* len < 0: strlen(body). */
static void refused(const char *body, long len, int code, const char *needle)
{
	struct bot_error err = { .msg = "" };
	struct aws_alarm_msg *m = (struct aws_alarm_msg *)&err; /* must be reset */
	int rc = aws_alarm_msg_parse(body, len < 0 ? strlen(body) : (size_t)len, &m, &err);

	if (rc != code || !strstr(err.msg, needle))
		fail_msg("want %s with '%s', got %s: '%s'", bot_err_name(code), needle,
			 bot_err_name(rc), err.msg);
	assert_null(m);
}

static void test_sns_envelope(void **state)
{
	(void)state;
	struct aws_alarm_msg *m = parse_ok(sns_envelope);
	const struct cloud_alarm_change *c = aws_alarm_msg_change(m);

	assert_string_equal(c->format, "sns");
	/* The full name, not the Subject's cut one. */
	assert_string_equal(c->name, "prod-web-cpu-high-with-a-rather-long-name-that-the-subject-"
			    "line-cuts-short-because-it-is-long");
	assert_string_equal(c->arn, "arn:aws:cloudwatch:eu-west-1:210987654321:alarm:prod-web-cpu-"
			    "high-with-a-rather-long-name-that-the-subject-line-cuts-short-because-it-is-long");
	/* From the ARN: not "EU (Ireland)", not AWSAccountId. */
	assert_string_equal(c->region, "eu-west-1");
	assert_string_equal(c->account, "210987654321");
	assert_null(c->description); /* null */
	assert_string_equal(c->state, "ALARM");
	assert_string_equal(c->old_state, "OK");
	assert_string_equal(c->reason, "Threshold Crossed");
	assert_true(c->changed_at_ms == INT64_C(1720192844959));
	assert_string_equal(c->namespace_, "AWS/ECS");
	assert_string_equal(c->metric, "CPUUtilization");
	assert_string_equal(c->statistic, "AVERAGE");
	assert_string_equal(c->comparison, "GreaterThanThreshold");
	assert_false(c->metric_math);
	assert_true(c->has_threshold);
	assert_true(c->threshold == 80.0);
	assert_int_equal(c->period_s, 60);
	assert_int_equal(c->evaluation_periods, 3);
	assert_int_equal(c->n_dims, 2);
	assert_string_equal(c->dims[0].name, "ClusterName");
	assert_string_equal(c->dims[0].value, "prod");
	assert_string_equal(c->dims[1].name, "ServiceName");
	assert_string_equal(c->dims[1].value, "web");
	aws_alarm_msg_free(m);
}

static void test_raw(void **state)
{
	(void)state;
	struct aws_alarm_msg *m = parse_ok(ALARM_JSON);
	const struct cloud_alarm_change *c = aws_alarm_msg_change(m);

	assert_string_equal(c->format, "raw");
	assert_string_equal(c->region, "eu-west-1");
	assert_string_equal(c->account, "210987654321");
	assert_string_equal(c->description, "CPU above 80% for 3 minutes");
	assert_string_equal(c->reason, "Threshold Crossed: 3 out of the last 3 datapoints [91.2 "
			    "(05/07/24 15:19:00)] were greater than the threshold (80.0).");
	assert_true(c->changed_at_ms == INT64_C(1720192844959));
	assert_int_equal(c->n_dims, 2);
	assert_string_equal(c->dims[1].value, "web");
	aws_alarm_msg_free(m);

	/* Without a Trigger, reason or name: the name is the ARN's. */
	m = parse_ok("{\"AlarmArn\":\"arn:aws:cloudwatch:ap-southeast-2:000000000001:alarm:a:b\","
		     "\"NewStateValue\":\"INSUFFICIENT_DATA\",\"StateChangeTime\":\"2024-07-05T15:20:44Z\"}");
	c = aws_alarm_msg_change(m);
	assert_string_equal(c->name, "a:b");
	assert_string_equal(c->region, "ap-southeast-2");
	assert_string_equal(c->account, "000000000001");
	assert_string_equal(c->reason, "");
	assert_null(c->old_state);
	assert_null(c->metric);
	assert_null(c->dims);
	assert_int_equal(c->n_dims, 0);
	assert_false(c->has_threshold);
	assert_true(c->changed_at_ms == INT64_C(1720192844000));
	aws_alarm_msg_free(m);
}

static void test_eventbridge(void **state)
{
	(void)state;
	struct aws_alarm_msg *m = parse_ok(eventbridge);
	const struct cloud_alarm_change *c = aws_alarm_msg_change(m);

	assert_string_equal(c->format, "eventbridge");
	assert_string_equal(c->name, "api-5xx");
	assert_string_equal(c->arn, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx");
	assert_string_equal(c->region, "us-east-1");
	assert_string_equal(c->account, "123456789012");
	assert_string_equal(c->description, "5xx");
	assert_string_equal(c->state, "ALARM");
	assert_string_equal(c->old_state, "INSUFFICIENT_DATA");
	assert_true(c->changed_at_ms == INT64_C(1720192844959)); /* state.timestamp, not time */
	assert_string_equal(c->namespace_, "AWS/ApplicationELB");
	assert_string_equal(c->metric, "HTTPCode_Target_5XX_Count");
	assert_string_equal(c->statistic, "Sum");
	assert_int_equal(c->period_s, 300);
	assert_false(c->metric_math);
	assert_int_equal(c->n_dims, 2);
	assert_string_equal(c->dims[0].name, "LoadBalancer");
	assert_string_equal(c->dims[0].value, "app/api/50dc6c495c0c9188");
	assert_string_equal(c->dims[1].name, "TargetGroup");
	assert_string_equal(c->dims[1].value, "targetgroup/api/6d0ecf831eec9f09");
	aws_alarm_msg_free(m);

	/* Metric math in EventBridge: an expression plus metrics. */
	m = parse_ok("{\"detail-type\":\"CloudWatch Alarm State Change\",\"source\":\"aws.cloudwatch\","
		     "\"resources\":[\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:m\"],\"detail\":"
		     "{\"state\":{\"value\":\"OK\",\"timestamp\":\"2024-07-05T15:20:44.959Z\"},"
		     "\"configuration\":{\"metrics\":[{\"id\":\"e1\",\"expression\":\"m1*2\"},{\"id\":\"m1\","
		     "\"metricStat\":{\"metric\":{\"namespace\":\"N\",\"name\":\"M\",\"dimensions\":"
		     "{\"ServiceName\":\"web\"}},\"period\":60,\"stat\":\"Sum\"}}]}}}");
	c = aws_alarm_msg_change(m);
	assert_true(c->metric_math);
	assert_null(c->metric);
	assert_null(c->namespace_);
	assert_string_equal(c->name, "m"); /* no alarmName: the ARN's */
	assert_int_equal(c->n_dims, 1);
	assert_string_equal(c->dims[0].name, "ServiceName");
	assert_int_equal(c->period_s, 60);
	aws_alarm_msg_free(m);
}

static void test_metric_math(void **state)
{
	(void)state;
	struct aws_alarm_msg *m = parse_ok(math_raw);
	const struct cloud_alarm_change *c = aws_alarm_msg_change(m);

	assert_string_equal(c->format, "raw");
	assert_true(c->metric_math);
	assert_null(c->namespace_);
	assert_null(c->metric);
	/* The first metric with dimensions ("r" has none). */
	assert_int_equal(c->n_dims, 1);
	assert_string_equal(c->dims[0].name, "LoadBalancer");
	assert_string_equal(c->dims[0].value, "app/api/1");
	assert_true(c->has_threshold);
	assert_true(c->threshold == 1.5);
	assert_int_equal(c->evaluation_periods, 2);
	assert_string_equal(c->old_state, "ALARM");
	/* 2024-12-31T23:59:59.999-01:30 is 2025-01-01T01:29:59.999Z. */
	assert_true(c->changed_at_ms == INT64_C(1735694999999));
	aws_alarm_msg_free(m);
}

static void test_times(void **state)
{
	(void)state;
	static const struct { const char *s; int64_t ms; } ok[] = {
		{"2024-07-05T15:20:44.959+0000", INT64_C(1720192844959)},
		{"2024-07-05T15:20:44.959Z", INT64_C(1720192844959)},
		{"2024-07-05T15:20:44.959+00:00", INT64_C(1720192844959)},
		{"2024-07-05T17:20:44.959+0200", INT64_C(1720192844959)},
		{"2024-07-05T17:20:44.959+02:00", INT64_C(1720192844959)},
		{"2024-07-05T10:50:44.959-0430", INT64_C(1720192844959)},
		{"2024-07-06T00:20:44.959+09", INT64_C(1720192844959)},
		{"2024-07-05T15:20:44Z", INT64_C(1720192844000)},
		{"2024-07-05T15:20:44.9Z", INT64_C(1720192844900)},
		{"2024-07-05T15:20:44.959123456Z", INT64_C(1720192844959)}, /* truncated to ms */
		{"1970-01-01T00:00:00.000+0000", 0},
		{"2024-02-29T00:00:00.000Z", INT64_C(1709164800000)}, /* leap day */
		{"2000-03-01T00:00:00Z", INT64_C(951868800000)},
	};
	static const char *const bad[] = {
		"", "2024-07-05", "2024-07-05 15:20:44Z", "2024-07-05T15:20:44", /* no zone */
		"2024-07-05T15:20:44.Z", "2024-07-05T15:20:44.959+0",
		"2024-07-05T15:20:44.959+000", "2024-13-05T15:20:44Z", "2023-02-29T00:00:00Z",
		"2024-07-05T24:00:00Z", "2024-07-05T15:60:00Z", "2024-07-05T15:20:44.959+2400",
		"2024-07-05T15:20:44Zjunk", "1969-12-31T23:59:59Z", "2024-07-05T15:20:44.9591234567Z",
		"2024-07-0xT15:20:44Z",
	};
	int64_t ms;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ms = -1;
		if (!aws_alarm_msg_time_ms(ok[i].s, &ms) || ms != ok[i].ms)
			fail_msg("%s -> %lld, want %lld", ok[i].s, (long long)ms, (long long)ok[i].ms);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (aws_alarm_msg_time_ms(bad[i], &ms))
			fail_msg("%s accepted as %lld", bad[i], (long long)ms);
}

static void test_arn(void **state)
{
	(void)state;
	char region[64], account[16];
	const char *name = NULL;

	assert_true(aws_alarm_msg_arn("arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x y",
				      region, sizeof region, account, sizeof account, &name));
	assert_string_equal(region, "cn-north-1");
	assert_string_equal(account, "123456789012");
	assert_string_equal(name, "x y");
	static const char *const bad[] = {
		"arn:aws:cloudwatch:us-east-1:123456789012:alarm:",      /* no name */
		"arn:aws:cloudwatch:us-east-1:12345678901:alarm:x",      /* 11 digits */
		"arn:aws:cloudwatch:us-east-1:1234567890123:alarm:x",    /* 13 digits */
		"arn:aws:cloudwatch::123456789012:alarm:x",              /* no region */
		"arn:aws:sns:us-east-1:123456789012:alarm:x",            /* not CloudWatch */
		"arn:aws:cloudwatch:us-east-1:123456789012:dashboard:x", /* not an alarm */
		"arn:aws:cloudwatch:US-EAST-1:123456789012:alarm:x",     /* not a region code */
		"aws:cloudwatch:us-east-1:123456789012:alarm:x", "arn:aws:cloudwatch", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (aws_alarm_msg_arn(bad[i], region, sizeof region, account, sizeof account, &name))
			fail_msg("accepted %s", bad[i]);
	assert_false(aws_alarm_msg_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:x",
				       region, 4, account, sizeof account, &name)); /* no room */
}

/* body with the first occurrence of from replaced by to (caller frees). */
static char *with(const char *body, const char *from, const char *to)
{
	const char *p = strstr(body, from);
	assert_non_null(p);
	size_t n = strlen(body) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(p - body), body, to, p + strlen(from));
	return s;
}

static void refused_with(const char *body, const char *from, const char *to, int code,
			 const char *needle)
{
	char *s = with(body, from, to);
	refused(s, -1, code, needle);
	free(s);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("", 0, BOT_EPARSE, "empty");
	refused("hello", -1, BOT_EPARSE, "not JSON");
	refused("[1,2]", -1, BOT_EPARSE, "not an object");
	refused("{\"hello\":\"world\"}", -1, BOT_EPARSE, "not an alarm notification");
	refused("{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"x\"}", -1, BOT_EPARSE,
		"SubscriptionConfirmation");
	/* An SNS notification of something else. */
	refused("{\"Type\":\"Notification\",\"Message\":\"deploy finished\"}", -1, BOT_EPARSE,
		"Message is not JSON");
	refused("{\"Type\":\"Notification\",\"Message\":\"{\\\"a\\\":1}\"}", -1, BOT_EPARSE,
		"not a CloudWatch alarm");
	refused_with(ALARM_JSON, "arn:aws:cloudwatch:eu-west-1:210987654321:alarm:",
		     "arn:aws:cloudwatch:eu-west-1:2109876:alarm:", BOT_EPARSE,
		     "not a CloudWatch alarm ARN");
	refused_with(ALARM_JSON, "\"NewStateValue\":\"ALARM\"", "\"NewStateValue\":\"alarm\"",
		     BOT_EPARSE, "NewStateValue is not ALARM, OK or INSUFFICIENT_DATA");
	refused_with(ALARM_JSON, "\"NewStateValue\":\"ALARM\",", "", BOT_EPARSE,
		     "no NewStateValue");
	refused_with(ALARM_JSON, "\"OldStateValue\":\"OK\"", "\"OldStateValue\":\"FINE\"",
		     BOT_EPARSE, "OldStateValue is not");
	refused_with(ALARM_JSON, "2024-07-05T15:20:44.959+0000", "05/07/2024 15:20", BOT_EPARSE,
		     "StateChangeTime '05/07/2024 15:20' is not a time");
	refused_with(ALARM_JSON, "\"StateChangeTime\":\"2024-07-05T15:20:44.959+0000\",", "",
		     BOT_EPARSE, "no StateChangeTime");
	refused_with(ALARM_JSON, "\"AlarmArn\"", "\"AlarmArnX\"", BOT_EPARSE, "no AlarmArn");
	refused_with(ALARM_JSON, "\"Trigger\":{", "\"Trigger\":[],\"X\":{", BOT_EPARSE,
		     "Trigger is not an object");
	refused_with(ALARM_JSON, "{\"value\":\"prod\",\"name\":\"ClusterName\"}", "{\"value\":\"x\"}",
		     BOT_EPARSE, "Trigger.Dimensions[0] has no name or no value");
	refused_with(ALARM_JSON, "{\"value\":\"prod\",\"name\":\"ClusterName\"}",
		     "{\"value\":1,\"name\":\"n\"}", BOT_EPARSE, "value is not a string");
	refused_with(eventbridge, "CloudWatch Alarm State Change", "EC2 Instance State-change",
		     BOT_EPARSE, "not \"CloudWatch Alarm State Change\"");
	refused_with(eventbridge, "aws.cloudwatch", "my.app", BOT_EPARSE, "not aws.cloudwatch");
	refused_with(eventbridge, "\"resources\":[\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx\"]",
		     "\"resources\":[]", BOT_EPARSE, "resources[0]");
	refused_with(eventbridge, "{\"value\":\"ALARM\"", "{\"value\":\"RED\"", BOT_EPARSE,
		     "value is not ALARM");
	refused_with(eventbridge, "\"LoadBalancer\":\"app/api/50dc6c495c0c9188\"",
		     "\"LoadBalancer\":[1]", BOT_EPARSE, "dimension LoadBalancer is not a string");
	refused("{\"AlarmArn\":1,\"NewStateValue\":\"OK\"}", -1, BOT_EPARSE, "AlarmArn is not a string");
}

static void test_bounds(void **state)
{
	(void)state;
	char dims[4096] = "", *body;
	size_t o = 0;

	/* 31 dimensions in the SNS form, then in the EventBridge form. */
	for (int i = 0; i < 31; i++)
		o += (size_t)snprintf(dims + o, sizeof dims - o, "%s{\"name\":\"d%d\",\"value\":\"v\"}",
				      i ? "," : "", i);
	char arr[4200];
	snprintf(arr, sizeof arr, "\"Dimensions\":[%s]", dims);
	refused_with(ALARM_JSON, "\"Dimensions\":[{\"value\":\"prod\",\"name\":\"ClusterName\"},"
		     "{\"value\":\"web\",\"name\":\"ServiceName\"}]", arr, BOT_ETOOBIG,
		     "31 dimensions (at most 30)");
	o = 0;
	for (int i = 0; i < 31; i++)
		o += (size_t)snprintf(dims + o, sizeof dims - o, "%s\"d%d\":\"v\"", i ? "," : "", i);
	snprintf(arr, sizeof arr, "\"dimensions\":{%s}", dims);
	refused_with(eventbridge, "\"dimensions\":{\"LoadBalancer\":\"app/api/50dc6c495c0c9188\","
		     "\"TargetGroup\":\"targetgroup/api/6d0ecf831eec9f09\"}", arr, BOT_ETOOBIG,
		     "31 dimensions");
	/* 30 is fine. */
	o = 0;
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(dims + o, sizeof dims - o, "%s\"d%d\":\"v\"", i ? "," : "", i);
	snprintf(arr, sizeof arr, "\"dimensions\":{%s}", dims);
	body = with(eventbridge, "\"dimensions\":{\"LoadBalancer\":\"app/api/50dc6c495c0c9188\","
		    "\"TargetGroup\":\"targetgroup/api/6d0ecf831eec9f09\"}", arr);
	struct aws_alarm_msg *m = parse_ok(body);
	assert_int_equal(aws_alarm_msg_change(m)->n_dims, 30);
	assert_string_equal(aws_alarm_msg_change(m)->dims[29].name, "d29");
	aws_alarm_msg_free(m);
	free(body);

	/* A huge body: refused by its length, before any parsing. */
	size_t big = AWS_ALARM_MSG_MAX_BODY + 1;
	body = malloc(big);
	assert_non_null(body);
	memset(body, ' ', big);
	memcpy(body, ALARM_JSON, strlen(ALARM_JSON)); /* valid JSON then spaces */
	refused(body, (long)big, BOT_ETOOBIG, "over the 262144-byte bound");
	/* At the bound, the same text parses. */
	m = NULL;
	struct bot_error err = { .msg = "" };
	assert_int_equal(aws_alarm_msg_parse(body, big - 1, &m, &err), BOT_EOK);
	aws_alarm_msg_free(m);
	free(body);

	/* An over-long name. */
	char *longname = malloc(AWS_ALARM_MSG_MAX_STR + 2);
	assert_non_null(longname);
	memset(longname, 'n', AWS_ALARM_MSG_MAX_STR + 1);
	longname[AWS_ALARM_MSG_MAX_STR + 1] = '\0';
	body = with(ALARM_JSON, "\"Namespace\":\"AWS/ECS\"", "\"Namespace\":\"@\"");
	char *b2 = with(body, "@", longname);
	refused(b2, -1, BOT_ETOOBIG, "Namespace is longer than 2048 bytes");
	free(b2);
	free(body);
	free(longname);
	/* Numbers out of range are not taken (and do not trap UBSan). */
	body = with(ALARM_JSON, "\"Period\":60", "\"Period\":1e300");
	m = parse_ok(body);
	assert_int_equal(aws_alarm_msg_change(m)->period_s, 0);
	aws_alarm_msg_free(m);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sns_envelope),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_eventbridge),
		cmocka_unit_test(test_metric_math),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_arn),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
