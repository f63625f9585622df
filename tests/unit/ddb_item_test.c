/* The DynamoDB store's gate item (adapters/store/dynamodb_item.h): every
 * field survives the round trip, unset ones are left out, a malformed item
 * is refused naming the field, and the keys have their documented shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "adapters/aws/ddb.h"
#include "adapters/store/dynamodb_item.h"

static char *approvers[] = {"UA", "UB"};
static char *approved[] = {"UB"};

static struct store_gate full(void)
{
	struct store_gate g = {
		.id = 42, .version = 7, .service = "web", .cluster = "prod", .ecs_service = "web-svc",
		.requester = "UREQ", .action = "scale", .params = "{\"target\":5}", .target = 5,
		.desired_at_request = 2, .reason = "cpu <!channel> *hot*", .timer_ms = 600000,
		.approvers = approvers, .n_approvers = 2, .min_approvals = 2, .allow_self = true,
		.force_new_deployment = false, .channel = "C1", .message_ts = "1700.1",
		.evidence = "CPU 97%", .created_at = 1700000000000, .delivered_at = 1700000000100,
		.deadline = 1700000600100, .state = GATE_EXECUTING, .decision = GATE_APPROVED,
		.decided_by = "UB", .decided_at = 1700000000200, .decision_detail = "approved by UB",
		.exec_intent = "{}", .exec_from = -1, .exec_started_at = 1700000000300,
		.exec_owner = "host:1", .exec_lease_until = 1700000060300, .result_kind = "scaled",
		.result_detail = "ok", .aws_code = "X", .aws_request_id = "r-1",
		.finished_at = 1700000000400, .updated_at = 1700000000400,
		.approved_by = approved, .n_approved = 1,
	};
	return g;
}

static void test_roundtrip_full(void **state)
{
	struct store_gate in = full(), out = {0};
	struct bot_error err = {0};
	json_t *item = ddb_gate_item(&in);
	(void)state;

	assert_non_null(item);
	assert_string_equal(aws_ddb_get_s(item, "pk"), "gate#42");
	assert_string_equal(aws_ddb_get_s(item, "sk"), "gate");
	assert_string_equal(aws_ddb_get_s(item, "gstate"), "EXECUTING"); /* by_state */
	assert_string_equal(aws_ddb_get_s(item, "gkind"), "gate");     /* by_kind */
	assert_int_equal(ddb_gate_from_item(item, &out, &err), 0);
	assert_int_equal(out.id, 42);
	assert_int_equal(out.version, 7);
	assert_string_equal(out.reason, "cpu <!channel> *hot*");
	assert_string_equal(out.params, "{\"target\":5}");
	assert_int_equal(out.n_approvers, 2);
	assert_string_equal(out.approvers[1], "UB");
	assert_int_equal(out.min_approvals, 2);
	assert_true(out.allow_self);
	assert_false(out.force_new_deployment);
	assert_int_equal(out.deadline, 1700000600100);
	assert_int_equal(out.state, GATE_EXECUTING);
	assert_int_equal(out.decision, GATE_APPROVED);
	assert_int_equal(out.exec_from, -1);
	assert_string_equal(out.exec_owner, "host:1");
	assert_int_equal(out.exec_lease_until, 1700000060300);
	assert_string_equal(out.aws_request_id, "r-1");
	assert_int_equal(out.n_approved, 1);
	assert_string_equal(out.approved_by[0], "UB");
	store_gate_clear(&out);
	json_decref(item);
}

/* The gate item also carries its audit chain's tail (a_seq, a_hash,
 * a_ord, dynamodb_item.h): the gate read from it is the same gate. */
static void test_chain_tail_stays_out_of_the_gate(void **state)
{
	struct store_gate in = full(), out = {0}, plain = {0};
	struct bot_error err = {0};
	json_t *item = ddb_gate_item(&in), *bare = ddb_gate_item(&in);
	(void)state;

	assert_int_equal(json_object_set_new(item, "a_seq", aws_ddb_n(9)), 0);
	assert_int_equal(json_object_set_new(item, "a_hash", aws_ddb_s("ab12")), 0);
	assert_int_equal(json_object_set_new(item, "a_ord", aws_ddb_n(1700000000999)), 0);
	assert_int_equal(ddb_gate_from_item(item, &out, &err), 0);
	assert_int_equal(ddb_gate_from_item(bare, &plain, &err), 0);
	assert_int_equal(out.version, 7); /* not the chain's seq */
	assert_int_equal(out.updated_at, plain.updated_at);
	assert_string_equal(out.approved_by[0], plain.approved_by[0]);
	/* the item made from it again has no tail: ddb_gate_item writes the
	 * gate's fields only (the store writes the tail itself) */
	json_t *again = ddb_gate_item(&out);
	assert_true(json_equal(again, bare));
	json_decref(again);
	store_gate_clear(&out);
	store_gate_clear(&plain);
	json_decref(item);
	json_decref(bare);
}

/* A new gate: unset strings and times are absent, not empty. */
static void test_roundtrip_minimal(void **state)
{
	struct store_gate in = {
		.id = 1, .version = 1, .service = "web", .cluster = "prod", .ecs_service = "web",
		.requester = "U1", .action = "restart", .state = GATE_PENDING,
	}, out = {0};
	struct bot_error err = {0};
	json_t *item = ddb_gate_item(&in);
	(void)state;

	assert_null(json_object_get(item, "decided_by"));
	assert_null(json_object_get(item, "deadline"));
	assert_non_null(json_object_get(item, "approvers")); /* an empty list */
	assert_int_equal(ddb_gate_from_item(item, &out, &err), 0);
	assert_null(out.decided_by);
	assert_int_equal(out.deadline, 0);
	assert_int_equal(out.n_approvers, 0);
	assert_int_equal(out.decision, GATE_PENDING);
	assert_string_equal(out.action, "restart");
	store_gate_clear(&out);
	json_decref(item);
}

static void expect_corrupt(json_t *item, const char *field)
{
	struct store_gate out = {0};
	struct bot_error err = {0};
	assert_int_equal(ddb_gate_from_item(item, &out, &err), BOT_ECORRUPT);
	assert_non_null(strstr(err.msg, field));
	assert_null(out.service); /* nothing half-read is left */
	json_decref(item);
}

static void test_malformed_refused(void **state)
{
	struct store_gate in = full();
	json_t *item;
	(void)state;

	item = ddb_gate_item(&in);
	json_object_del(item, "state");
	expect_corrupt(item, "state");
	item = ddb_gate_item(&in);
	json_object_set_new(item, "version", aws_ddb_s("seven"));
	expect_corrupt(item, "version");
	item = ddb_gate_item(&in);
	json_object_set_new(item, "target", aws_ddb_n(5000000000LL)); /* not an int */
	expect_corrupt(item, "target");
	item = ddb_gate_item(&in);
	json_object_set_new(item, "state", aws_ddb_s("MAYBE"));
	expect_corrupt(item, "state");
	item = ddb_gate_item(&in);
	json_object_set_new(item, "approved_by", json_pack("{s:[{s:i}]}", "L", "N", 1));
	expect_corrupt(item, "approved_by");
	item = ddb_gate_item(&in);
	json_object_set_new(item, "id", aws_ddb_n(-1));
	expect_corrupt(item, "id");
}

static void test_keys(void **state)
{
	json_t *k;
	char long_name[2000];
	(void)state;

	k = ddb_key_lock("prod", "web-svc");
	assert_string_equal(aws_ddb_get_s(k, "pk"), "svc#prod#web-svc");
	assert_string_equal(aws_ddb_get_s(k, "sk"), "lock");
	json_decref(k);
	k = ddb_key_audit_event(1700000000123, 42, 17);
	/* zero-padded: sorts as numbers, by ord, then chain, then seq */
	assert_string_equal(aws_ddb_get_s(k, "sk"),
			    "e#1700000000123#00000000000000000042#0000000017");
	json_decref(k);
	k = ddb_key_audit_event(5, 0, 1);
	assert_string_equal(aws_ddb_get_s(k, "sk"),
			    "e#0000000000005#00000000000000000000#0000000001");
	json_decref(k);
	char a[DDB_AUDIT_SK_SIZE], b[DDB_AUDIT_SK_SIZE];
	assert_int_equal(ddb_audit_sk(a, 999, 7, 10), 0);
	assert_int_equal(ddb_audit_sk(b, 1000, 3, 1), 0);
	assert_true(strcmp(a, b) < 0); /* ord first */
	assert_int_equal(ddb_audit_sk(b, 999, 7, 9), 0);
	assert_true(strcmp(b, a) < 0); /* seq within a chain */
	assert_true(strcmp(a, "e#~") < 0 && strcmp(a, "e#0000000000000") > 0);
	assert_true(strcmp("head", "e#~") > 0); /* the log head is outside the events */
	/* what does not fit the key is refused, not cut */
	assert_null(ddb_key_audit_event(DDB_AUDIT_ORD_MAX + 1, 1, 1));
	assert_null(ddb_key_audit_event(1, 1, DDB_AUDIT_SEQ_MAX + 1));
	assert_null(ddb_key_audit_event(-1, 1, 1));
	assert_int_equal(ddb_audit_sk(a, DDB_AUDIT_ORD_MAX, UINT64_MAX, DDB_AUDIT_SEQ_MAX), 0);
	assert_int_equal(strlen(a), DDB_AUDIT_SK_SIZE - 1);
	k = ddb_key_seen("ev:Ev1");
	assert_string_equal(aws_ddb_get_s(k, "pk"), "seen#ev:Ev1");
	json_decref(k);
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	assert_null(ddb_key_seen(long_name)); /* too long for a key: refused, not cut */
	/* an alarm record: its own pk prefix, out of the audit partition and
	 * of purge's seen# scan; STORE_ALARM_KEY_MAX bytes fit, one more not */
	k = ddb_key_alarm("arn:aws:cloudwatch:us-east-1:1:alarm:cpu");
	assert_string_equal(aws_ddb_get_s(k, "pk"),
			    "alarm#arn:aws:cloudwatch:us-east-1:1:alarm:cpu");
	assert_string_equal(aws_ddb_get_s(k, "sk"), "alarm");
	json_decref(k);
	long_name[STORE_ALARM_KEY_MAX] = '\0';
	k = ddb_key_alarm(long_name);
	assert_non_null(k);
	assert_int_equal(strlen(aws_ddb_get_s(k, "pk")), STORE_ALARM_KEY_MAX + 6);
	json_decref(k);
	long_name[STORE_ALARM_KEY_MAX] = 'a';
	long_name[STORE_ALARM_KEY_MAX + 1] = '\0';
	assert_null(ddb_key_alarm(long_name));
	k = ddb_table_definition("gates");
	assert_int_equal(json_array_size(json_object_get(k, "GlobalSecondaryIndexes")), 2);
	json_decref(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_chain_tail_stays_out_of_the_gate),
		cmocka_unit_test(test_roundtrip_minimal),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
