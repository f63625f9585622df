/* Tests for adapters/aws/iam_policy: the least-privilege policy printed by
 * `chatops-bot iam-policy`. The whole document for a configuration with
 * every kind of service (golden text), its determinism, what changes with
 * the account, the region and the partition, and the refusals (a bad
 * account or region, IAM wildcards in names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/iam_policy.h"
#include "config/config.h"

#define ACCOUNT "123456789012"

static const char head[] =
	"defaults:\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n";

static struct config *load(const char *yaml_tail)
{
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	char yaml[4096];

	snprintf(yaml, sizeof yaml, "%s%s", head, yaml_tail);
	if (config_load_string("t.yaml", yaml, 0, &cfg, &errs) != 0) {
		config_errors_print(&errs, stderr);
		fail_msg("the test's configuration does not load");
	}
	config_errors_free(&errs);
	return cfg;
}

/* The printed text for yaml_tail, or NULL with *rc set. */
static char *policy_text(const char *yaml_tail, const char *account, const char *region, int *rc,
			 struct bot_error *err)
{
	struct config *cfg = load(yaml_tail);
	json_t *p = NULL;
	char *text = NULL;

	*rc = aws_iam_policy_build(cfg, &(struct aws_iam_policy_opts){ .account = account,
		.region = region }, &p, err);
	if (*rc == 0) {
		assert_non_null(p);
		text = aws_iam_policy_format(p);
		assert_non_null(text);
	} else {
		assert_null(p);
	}
	json_decref(p);
	config_unref(cfg);
	return text;
}

static char *policy_ok(const char *yaml_tail, const char *account, const char *region)
{
	struct bot_error err = {0};
	int rc;
	char *text = policy_text(yaml_tail, account, region, &rc, &err);

	if (rc)
		fail_msg("aws_iam_policy_build: %d %s", rc, err.msg);
	return text;
}

/* Every kind of service: a plain one with a topic, a second in the same
 * cluster (sharing the topic), one with its own region, one whose cluster
 * is an ARN in another account and region, and a role to assume. */
static const char every_kind[] =
	"aws:\n"
	"  region: us-east-1\n"
	"  role_arn: arn:aws:iam::123456789012:role/chatops-bot\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    max_desired: 10\n"
	"    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:owners\n"
	"  worker:\n"
	"    cluster: prod\n"
	"    ecs_service: prod-worker\n"
	"    max_desired: 10\n"
	"    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:owners\n"
	"  api:\n"
	"    cluster: edge\n"
	"    region: us-west-2\n"
	"    max_desired: 10\n"
	"  billing:\n"
	"    cluster: arn:aws:ecs:eu-west-1:111122223333:cluster/finance\n"
	"    max_desired: 4\n"
	"    sns_topic_arn: arn:aws:sns:eu-west-1:111122223333:billing-owners\n";

static const char every_kind_golden[] =
	"{\n"
	"  \"Version\": \"2012-10-17\",\n"
	"  \"Statement\": [\n"
	"    {\n"
	"      \"Sid\": \"EcsServices\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"ecs:DescribeServices\",\n"
	"        \"ecs:UpdateService\"\n"
	"      ],\n"
	"      \"Resource\": [\n"
	"        \"arn:aws:ecs:eu-west-1:111122223333:service/finance/billing\",\n"
	"        \"arn:aws:ecs:us-east-1:123456789012:service/prod/prod-worker\",\n"
	"        \"arn:aws:ecs:us-east-1:123456789012:service/prod/web\",\n"
	"        \"arn:aws:ecs:us-west-2:123456789012:service/edge/api\"\n"
	"      ]\n"
	"    },\n"
	"    {\n"
	"      \"Sid\": \"EcsClusters\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"ecs:DescribeClusters\"\n"
	"      ],\n"
	"      \"Resource\": [\n"
	"        \"arn:aws:ecs:eu-west-1:111122223333:cluster/finance\",\n"
	"        \"arn:aws:ecs:us-east-1:123456789012:cluster/prod\",\n"
	"        \"arn:aws:ecs:us-west-2:123456789012:cluster/edge\"\n"
	"      ]\n"
	"    },\n"
	"    {\n"
	"      \"Sid\": \"CloudWatchMetricData\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"cloudwatch:GetMetricData\"\n"
	"      ],\n"
	"      \"Resource\": \"*\"\n"
	"    },\n"
	"    {\n"
	"      \"Sid\": \"CloudWatchAlarms\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"cloudwatch:DescribeAlarms\"\n"
	"      ],\n"
	"      \"Resource\": [\n"
	"        \"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*\",\n"
	"        \"arn:aws:cloudwatch:us-east-1:123456789012:alarm:*\",\n"
	"        \"arn:aws:cloudwatch:us-west-2:123456789012:alarm:*\"\n"
	"      ]\n"
	"    },\n"
	"    {\n"
	"      \"Sid\": \"SnsPublish\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"sns:Publish\"\n"
	"      ],\n"
	"      \"Resource\": [\n"
	"        \"arn:aws:sns:eu-west-1:111122223333:billing-owners\",\n"
	"        \"arn:aws:sns:us-east-1:123456789012:owners\"\n"
	"      ]\n"
	"    },\n"
	"    {\n"
	"      \"Sid\": \"AssumeConfiguredRole\",\n"
	"      \"Effect\": \"Allow\",\n"
	"      \"Action\": [\n"
	"        \"sts:AssumeRole\"\n"
	"      ],\n"
	"      \"Resource\": [\n"
	"        \"arn:aws:iam::123456789012:role/chatops-bot\"\n"
	"      ]\n"
	"    }\n"
	"  ]\n"
	"}\n";

static void test_every_kind_golden(void **state)
{
	(void)state;
	char *text = policy_ok(every_kind, ACCOUNT, "us-east-1");
	assert_string_equal(text, every_kind_golden);
	free(text);
}

/* The same services in another order print the same bytes. */
static void test_deterministic(void **state)
{
	(void)state;
	static const char shuffled[] =
		"aws:\n"
		"  role_arn: arn:aws:iam::123456789012:role/chatops-bot\n"
		"  region: us-east-1\n"
		"services:\n"
		"  billing:\n"
		"    cluster: arn:aws:ecs:eu-west-1:111122223333:cluster/finance\n"
		"    max_desired: 4\n"
		"    sns_topic_arn: arn:aws:sns:eu-west-1:111122223333:billing-owners\n"
		"  api:\n"
		"    cluster: edge\n"
		"    region: us-west-2\n"
		"    max_desired: 10\n"
		"  worker:\n"
		"    cluster: prod\n"
		"    ecs_service: prod-worker\n"
		"    max_desired: 10\n"
		"    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:owners\n"
		"  web:\n"
		"    cluster: prod\n"
		"    max_desired: 10\n"
		"    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:owners\n";
	char *a = policy_ok(every_kind, ACCOUNT, "us-east-1");
	char *b = policy_ok(shuffled, ACCOUNT, "us-east-1");
	char *c = policy_ok(shuffled, ACCOUNT, "us-east-1");
	assert_string_equal(a, b);
	assert_string_equal(b, c);
	free(a);
	free(b);
	free(c);
}

static const char one_service[] =
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    max_desired: 10\n";

/* one_service with aws.region set (the loader gives every service the
 * default region, so that is where the region of the ARNs comes from). */
static const char *one_service_in(const char *region)
{
	static char yaml[512];
	snprintf(yaml, sizeof yaml, "aws:\n  region: %s\n%s", region, one_service);
	return yaml;
}

/* No topic, no role: no SNS or STS statement; valid JSON either way. */
static void test_minimal_and_valid_json(void **state)
{
	(void)state;
	char *text = policy_ok(one_service_in("eu-central-1"), ACCOUNT, "us-east-1");
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	json_t *st = json_object_get(doc, "Statement");
	static const char *const sids[] = {
		"EcsServices", "EcsClusters", "CloudWatchMetricData", "CloudWatchAlarms",
	};

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "Version")), "2012-10-17");
	assert_int_equal(json_array_size(st), BOT_ARRAY_LEN(sids));
	for (size_t i = 0; i < BOT_ARRAY_LEN(sids); i++) {
		json_t *s = json_array_get(st, i);
		assert_string_equal(json_string_value(json_object_get(s, "Sid")), sids[i]);
		assert_string_equal(json_string_value(json_object_get(s, "Effect")), "Allow");
	}
	assert_null(strstr(text, "sns:"));
	assert_null(strstr(text, "sts:"));
	assert_null(strstr(text, "dynamodb")); /* the SQLite store needs nothing */
	assert_non_null(strstr(text, "\"arn:aws:ecs:eu-central-1:123456789012:service/prod/web\""));
	/* only what the bot calls: nothing it never does */
	assert_null(strstr(text, "ListServices"));
	assert_null(strstr(text, "ecs:*"));
	json_decref(doc);
	free(text);
}

/* --account '*': every account (what a user asks for when the account is
 * not known yet); the partition follows the region. */
static void test_any_account_and_partitions(void **state)
{
	(void)state;
	char *text = policy_ok(one_service_in("us-east-1"), "*", "us-east-1");
	assert_non_null(strstr(text, "\"arn:aws:ecs:us-east-1:*:service/prod/web\""));
	assert_non_null(strstr(text, "\"arn:aws:cloudwatch:us-east-1:*:alarm:*\""));
	free(text);
	text = policy_ok(one_service_in("cn-north-1"), ACCOUNT, "us-east-1");
	assert_non_null(strstr(text, "\"arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod\""));
	free(text);
	text = policy_ok(one_service_in("us-gov-west-1"), ACCOUNT, "us-east-1");
	assert_non_null(strstr(text, "\"arn:aws-us-gov:ecs:us-gov-west-1:123456789012:service/prod/web\""));
	free(text);
}

/* store.backend dynamodb: one statement, exactly the actions the store
 * calls at run time (plus DescribeTable for --check-config; nothing of
 * store init), on the table and its indexes in store.region. */
static void test_dynamodb_store(void **state)
{
	static const char *const actions[] = {
		"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
		"dynamodb:UpdateItem",
	};
	char yaml[1024];
	char *text;
	json_t *doc, *st, *a, *r;
	json_error_t je;
	(void)state;

	snprintf(yaml, sizeof yaml, "%sstore:\n  backend: dynamodb\n  table: chatops-gates\n"
		 "  region: eu-west-1\n", one_service);
	text = policy_ok(yaml, ACCOUNT, "us-east-1");
	doc = json_loads(text, 0, &je);
	assert_non_null(doc);
	st = json_array_get(json_object_get(doc, "Statement"), 4);
	assert_string_equal(json_string_value(json_object_get(st, "Sid")), "DynamoDBStore");
	a = json_object_get(st, "Action");
	assert_int_equal(json_array_size(a), BOT_ARRAY_LEN(actions));
	for (size_t i = 0; i < BOT_ARRAY_LEN(actions); i++)
		assert_string_equal(json_string_value(json_array_get(a, i)), actions[i]);
	r = json_object_get(st, "Resource");
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(json_string_value(json_array_get(r, 0)),
			    "arn:aws:dynamodb:eu-west-1:123456789012:table/chatops-gates");
	assert_string_equal(json_string_value(json_array_get(r, 1)),
			    "arn:aws:dynamodb:eu-west-1:123456789012:table/chatops-gates/index/*");
	/* what only `store init` calls is not the bot's */
	assert_null(strstr(text, "CreateTable"));
	assert_null(strstr(text, "TimeToLive"));
	assert_null(strstr(text, "dynamodb:*"));
	json_decref(doc);
	free(text);

	/* store.region defaults to aws.region; the partition follows it */
	snprintf(yaml, sizeof yaml, "aws:\n  region: cn-north-1\n%sstore:\n  backend: dynamodb\n"
		 "  table: gates\n", one_service);
	text = policy_ok(yaml, "*", "cn-north-1");
	assert_non_null(strstr(text, "\"arn:aws-cn:dynamodb:cn-north-1:*:table/gates\""));
	assert_non_null(strstr(text, "\"arn:aws-cn:dynamodb:cn-north-1:*:table/gates/index/*\""));
	free(text);
}

static void refused(const char *yaml_tail, const char *account, const char *region,
		    const char *needle);

/* The statement with this Sid, or NULL. */
static json_t *statement(json_t *doc, const char *sid)
{
	size_t i;
	json_t *st;

	json_array_foreach(json_object_get(doc, "Statement"), i, st)
		if (strcmp(json_string_value(json_object_get(st, "Sid")), sid) == 0)
			return st;
	return NULL;
}

#define INTAKE_SERVICE "services:\n  web:\n    cluster: prod\n    max_desired: 10\n" \
		       "    channel: C0123ABCD\n"

/* alarms.queue_url: the intake's three SQS calls on that queue's ARN
 * (region and account from the URL), and DescribeAlarms in the default
 * region (alarm_states), nothing when it is not set. */
static void test_alarm_intake_queue(void **state)
{
	static const char *const actions[] = {
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage",
	};
	json_error_t je;
	json_t *doc, *st, *a, *r;
	char *text;
	(void)state;

	text = policy_ok(INTAKE_SERVICE "alarms:\n  queue_url: "
			 "https://sqs.eu-west-1.amazonaws.com/210987654321/chatops-alarms\n",
			 ACCOUNT, "us-east-1");
	doc = json_loads(text, 0, &je);
	assert_non_null(doc);
	st = statement(doc, "SqsAlarmIntake");
	assert_non_null(st);
	a = json_object_get(st, "Action");
	assert_int_equal(json_array_size(a), BOT_ARRAY_LEN(actions));
	for (size_t i = 0; i < BOT_ARRAY_LEN(actions); i++)
		assert_string_equal(json_string_value(json_array_get(a, i)), actions[i]);
	r = json_object_get(st, "Resource");
	assert_int_equal(json_array_size(r), 1);
	assert_string_equal(json_string_value(json_array_get(r, 0)),
			    "arn:aws:sqs:eu-west-1:210987654321:chatops-alarms");
	/* the last here: after SnsPublish's place (no store, no role) */
	assert_ptr_equal(json_array_get(json_object_get(doc, "Statement"),
					json_array_size(json_object_get(doc, "Statement")) - 1), st);
	char *alarms = json_dumps(json_object_get(statement(doc, "CloudWatchAlarms"), "Resource"), 0);
	assert_non_null(alarms);
	assert_non_null(strstr(alarms, "\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:*\""));
	free(alarms);
	assert_null(strstr(text, "sqs:*"));
	json_decref(doc);
	free(text);

	/* CN partition; a local endpoint (no region in the URL): the default one */
	text = policy_ok(INTAKE_SERVICE "alarms:\n  queue_url: "
			 "https://sqs.cn-north-1.amazonaws.com.cn/210987654321/q\n", ACCOUNT, "us-east-1");
	assert_non_null(strstr(text, "\"arn:aws-cn:sqs:cn-north-1:210987654321:q\""));
	free(text);
	text = policy_ok(INTAKE_SERVICE "alarms:\n  queue_url: http://127.0.0.1:5000/123456789012/q\n",
			 ACCOUNT, "eu-central-1");
	assert_non_null(strstr(text, "\"arn:aws:sqs:eu-central-1:123456789012:q\""));
	free(text);
	/* no intake, no SQS */
	text = policy_ok(INTAKE_SERVICE, ACCOUNT, "us-east-1");
	assert_null(strstr(text, "sqs:"));
	free(text);
	refused(INTAKE_SERVICE "alarms:\n  queue_url: https://sqs.us-east-1.amazonaws.com/q\n",
		ACCOUNT, "us-east-1", "not an SQS queue URL");
	refused(INTAKE_SERVICE "alarms:\n  queue_url: https://sqs.us-east-1.amazonaws.com/12/q\n",
		ACCOUNT, "us-east-1", "not an SQS queue URL");
	refused(INTAKE_SERVICE "alarms:\n  queue_url: "
		"https://sqs.us-east-1.amazonaws.com/123456789012/q*\n", ACCOUNT, "us-east-1",
		"not an SQS queue URL");
}

static void refused(const char *yaml_tail, const char *account, const char *region,
		    const char *needle)
{
	struct bot_error err = {0};
	int rc;
	char *text = policy_text(yaml_tail, account, region, &rc, &err);

	assert_null(text);
	assert_int_equal(rc, BOT_EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' lacks '%s'", err.msg, needle);
}

static void test_refusals(void **state)
{
	(void)state;
	refused(one_service, "12345", "us-east-1", "not 12 digits");
	refused(one_service, NULL, "us-east-1", "not 12 digits");
	refused(one_service, "1234567890123", "us-east-1", "not 12 digits");
	refused(one_service, ACCOUNT, "", "not a region");
	refused(one_service, ACCOUNT, "us-east-1:*", "not a region");
	/* an IAM wildcard in a name would grant more than the file says */
	refused("services:\n  web:\n    cluster: \"prod*\"\n    max_desired: 1\n", ACCOUNT,
		"us-east-1", "wildcard");
	refused("services:\n  web:\n    cluster: prod\n    ecs_service: \"we?\"\n    max_desired: 1\n",
		ACCOUNT, "us-east-1", "wildcard");
	refused("aws:\n  role_arn: \"arn:aws:iam::123456789012:role/*\"\n"
		"services:\n  web:\n    cluster: prod\n    max_desired: 1\n", ACCOUNT, "us-east-1",
		"wildcard");
}

/* rollback reads the task definitions: one statement on "*" (the two
 * actions have no resource-level permissions), right after EcsClusters;
 * scale and restart need only EcsServices. */
static void test_rollback_task_definitions(void **state)
{
	json_error_t je;
	json_t *doc, *st, *a;
	char *text;
	(void)state;

	text = policy_ok("services:\n  web:\n    cluster: prod\n    max_desired: 10\n"
			 "    actions: [scale, restart, rollback]\n"
			 "  api:\n    cluster: prod\n    max_desired: 10\n", ACCOUNT, "us-east-1");
	doc = json_loads(text, 0, &je);
	assert_non_null(doc);
	st = statement(doc, "EcsTaskDefinitions");
	assert_non_null(st);
	assert_ptr_equal(json_array_get(json_object_get(doc, "Statement"), 2), st);
	a = json_object_get(st, "Action");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "ecs:DescribeTaskDefinition");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "ecs:ListTaskDefinitions");
	assert_string_equal(json_string_value(json_object_get(st, "Resource")), "*");
	json_decref(doc);
	free(text);

	/* the map form counts too */
	text = policy_ok("services:\n  web:\n    cluster: prod\n    max_desired: 10\n"
			 "    actions:\n      rollback: {timer: 5m}\n", ACCOUNT, "us-east-1");
	assert_non_null(strstr(text, "\"ecs:ListTaskDefinitions\""));
	free(text);
	/* restart (and the default, scale): no task definition reads */
	text = policy_ok("services:\n  web:\n    cluster: prod\n    max_desired: 10\n"
			 "    actions: [scale, restart]\n", ACCOUNT, "us-east-1");
	assert_null(strstr(text, "TaskDefinition"));
	assert_non_null(strstr(text, "\"ecs:UpdateService\""));
	free(text);
	text = policy_ok(one_service, ACCOUNT, "us-east-1");
	assert_null(strstr(text, "TaskDefinition"));
	free(text);
}

static void test_helpers(void **state)
{
	char buf[16];
	(void)state;
	assert_true(aws_iam_policy_account_valid("123456789012"));
	assert_true(aws_iam_policy_account_valid("*"));
	assert_false(aws_iam_policy_account_valid("12345678901a"));
	assert_false(aws_iam_policy_account_valid(""));
	assert_false(aws_iam_policy_account_valid(NULL));
	assert_true(aws_iam_policy_arn_account("arn:aws:iam::210987654321:role/x", buf, sizeof buf));
	assert_string_equal(buf, "210987654321");
	assert_false(aws_iam_policy_arn_account("arn:aws:s3:::bucket", buf, sizeof buf));
	assert_false(aws_iam_policy_arn_account("not-an-arn", buf, sizeof buf));
	assert_false(aws_iam_policy_arn_account("arn:aws:iam::210987654321:role/x", buf, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_golden),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_minimal_and_valid_json),
		cmocka_unit_test(test_any_account_and_partitions),
		cmocka_unit_test(test_dynamodb_store),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_alarm_intake_queue),
		cmocka_unit_test(test_rollback_task_definitions),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
