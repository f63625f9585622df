/* DynamoDB through our SigV4 client (adapters/aws/ddb.h) against moto
 * served single-threaded (tests/fakes/moto-single.py), so that conditional
 * writes and transactions are atomic as in AWS: a conditional put is won
 * once and the loser sees the winner's item; a cancelled transaction writes
 * nothing and says which condition failed; twenty conditional updates in
 * flight at once have exactly one winner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "adapters/aws/ddb.h"
#include "adapters/http/http.h"
#include "adapters/store/dynamodb_item.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/moto.h"

#define WAIT_MS 20000

static struct moto *moto;

struct t {
	struct bot_loop *loop;
	struct http *http;
	struct aws_creds_provider *creds;
	struct aws_client *client;
};

/* One call's answer, kept past the callback. */
struct answer {
	bool done;
	enum aws_ddb_outcome outcome;
	json_t *body, *old_item, *reasons;
	char code[64];
};

static void on_answer(void *ud, const struct aws_ddb_result *r)
{
	struct answer *a = ud;
	a->done = true;
	a->outcome = r->outcome;
	a->body = json_incref(r->body);
	a->old_item = json_incref(r->old_item);
	a->reasons = json_incref(r->reasons);
	if (r->err)
		snprintf(a->code, sizeof a->code, "%s", r->err->aws_code);
}

static void answer_clear(struct answer *a)
{
	json_decref(a->body);
	json_decref(a->old_item);
	json_decref(a->reasons);
	memset(a, 0, sizeof *a);
}

static bool wait_all(struct t *t, struct answer *a, size_t n)
{
	uv_loop_t *uv = bot_loop_uv(t->loop);
	uv_update_time(uv);
	uint64_t end = uv_now(uv) + WAIT_MS;
	for (;;) {
		size_t done = 0;
		for (size_t i = 0; i < n; i++)
			done += a[i].done;
		if (done == n)
			return true;
		uv_update_time(uv);
		if (uv_now(uv) >= end)
			return false;
		uv_run(uv, UV_RUN_ONCE);
	}
}

/* Call op and wait for its answer. */
static void call(struct t *t, const char *op, json_t *body, struct answer *a)
{
	memset(a, 0, sizeof *a);
	assert_int_equal(aws_ddb_call(t->client, op, body, on_answer, a, NULL), 0);
	assert_true(wait_all(t, a, 1));
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof *t);
	struct bot_error err = {0};
	struct answer a;

	assert_non_null(t);
	assert_int_equal(bot_loop_create(&t->loop, &err), 0);
	assert_int_equal(http_create(t->loop, &(struct http_opts){0}, &t->http, &err), 0);
	assert_int_equal(aws_creds_create(t->http, NULL, &(struct aws_creds_opts){
		.fixed = &(struct aws_creds){"AKIDDDBTEST", "ddb-test-secret", NULL}}, &t->creds,
		&err), 0);
	assert_int_equal(aws_client_create(t->loop, t->http, &(struct aws_client_opts){
		.region = "us-east-1", .endpoint_url = moto_url(moto)}, &t->client, &err), 0);
	aws_client_set_creds(t->client, t->creds);
	/* a fresh table per test */
	call(t, "DeleteTable", json_pack("{s:s}", "TableName", "gates"), &a);
	answer_clear(&a);
	call(t, "CreateTable", ddb_table_definition("gates"), &a);
	assert_int_equal(a.outcome, AWS_DDB_OK);
	answer_clear(&a);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	bot_loop_shutdown(t->loop);
	assert_int_equal(bot_loop_run(t->loop), 0);
	aws_client_destroy(t->client);
	aws_creds_destroy(t->creds);
	http_destroy(t->http);
	assert_int_equal(bot_loop_destroy(t->loop), 0);
	free(t);
	return 0;
}

static json_t *key(const char *pk, const char *sk)
{
	return json_pack("{s:o, s:o}", "pk", aws_ddb_s(pk), "sk", aws_ddb_s(sk));
}

/* The first conditional put wins; the second loses and sees the item. */
static void test_conditional_put(void **state)
{
	struct t *t = *state;
	struct answer a;
	int64_t v = 0;

	for (int i = 0; i < 2; i++) {
		json_t *item = key("svc#prod/web", "live");
		json_object_set_new(item, "gate", aws_ddb_n(7 + i));
		call(t, "PutItem", json_pack("{s:s, s:o, s:s, s:s}", "TableName", "gates",
					     "Item", item, "ConditionExpression",
					     "attribute_not_exists(pk)",
					     "ReturnValuesOnConditionCheckFailure", "ALL_OLD"), &a);
		if (i == 0) {
			assert_int_equal(a.outcome, AWS_DDB_OK);
		} else {
			assert_int_equal(a.outcome, AWS_DDB_CONDITION_FAILED);
			assert_string_equal(a.code, "ConditionalCheckFailedException");
			assert_true(aws_ddb_get_n(a.old_item, "gate", &v));
			assert_int_equal(v, 7); /* who holds it */
		}
		answer_clear(&a);
	}
	call(t, "GetItem", json_pack("{s:s, s:o, s:b}", "TableName", "gates", "Key",
				     key("svc#prod/web", "live"), "ConsistentRead", 1), &a);
	assert_int_equal(a.outcome, AWS_DDB_OK);
	assert_true(aws_ddb_get_n(json_object_get(a.body, "Item"), "gate", &v));
	assert_int_equal(v, 7);
	assert_string_equal(aws_ddb_get_s(json_object_get(a.body, "Item"), "sk"), "live");
	answer_clear(&a);
}

/* A transaction whose second condition fails writes nothing. */
static void test_transaction_cancelled(void **state)
{
	struct t *t = *state;
	struct answer a;

	call(t, "PutItem", json_pack("{s:s, s:o}", "TableName", "gates", "Item",
				     key("gate#1", "gate")), &a);
	answer_clear(&a);
	json_t *put = json_pack("{s:{s:s, s:o, s:s}}", "Put", "TableName", "gates", "Item",
				key("audit#1", "seq#1"), "ConditionExpression",
				"attribute_not_exists(pk)");
	json_t *upd = json_pack("{s:{s:s, s:o, s:s, s:s, s:{s:o}}}", "Update", "TableName", "gates",
				"Key", key("gate#1", "gate"), "UpdateExpression", "SET v = :v",
				"ConditionExpression", "v = :v", "ExpressionAttributeValues", ":v",
				aws_ddb_n(3));
	call(t, "TransactWriteItems", json_pack("{s:[o, o]}", "TransactItems", put, upd), &a);
	assert_int_equal(a.outcome, AWS_DDB_TXN_CANCELLED);
	assert_true(json_is_array(a.reasons));
	assert_int_equal(json_array_size(a.reasons), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a.reasons, 0), "Code")),
			    "None");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a.reasons, 1), "Code")),
			    "ConditionalCheckFailed");
	answer_clear(&a);
	call(t, "GetItem", json_pack("{s:s, s:o, s:b}", "TableName", "gates", "Key",
				     key("audit#1", "seq#1"), "ConsistentRead", 1), &a);
	assert_int_equal(a.outcome, AWS_DDB_OK);
	assert_null(json_object_get(a.body, "Item")); /* the first put did not land */
	answer_clear(&a);
}

/* Twenty conditional updates of one version, in flight at once: one wins. */
static void test_one_winner(void **state)
{
	enum { N = 20 };
	struct t *t = *state;
	struct answer a[N], g;
	int won = 0, lost = 0;
	int64_t v = 0;

	json_t *item = key("gate#9", "gate");
	json_object_set_new(item, "version", aws_ddb_n(1));
	call(t, "PutItem", json_pack("{s:s, s:o}", "TableName", "gates", "Item", item), &g);
	answer_clear(&g);
	memset(a, 0, sizeof a);
	for (int i = 0; i < N; i++) {
		char who[16];
		snprintf(who, sizeof who, "U%d", i);
		json_t *body = json_pack(
			"{s:s, s:o, s:s, s:s, s:{s:o, s:o, s:o}, s:s}", "TableName", "gates", "Key",
			key("gate#9", "gate"), "UpdateExpression", "SET version = :next, decided_by = :me",
			"ConditionExpression", "version = :v", "ExpressionAttributeValues", ":v",
			aws_ddb_n(1), ":next", aws_ddb_n(2), ":me", aws_ddb_s(who),
			"ReturnValuesOnConditionCheckFailure", "ALL_OLD");
		assert_int_equal(aws_ddb_call(t->client, "UpdateItem", body, on_answer, &a[i], NULL), 0);
	}
	assert_true(wait_all(t, a, N));
	for (int i = 0; i < N; i++) {
		won += a[i].outcome == AWS_DDB_OK;
		lost += a[i].outcome == AWS_DDB_CONDITION_FAILED;
		if (a[i].outcome == AWS_DDB_CONDITION_FAILED) {
			assert_true(aws_ddb_get_n(a[i].old_item, "version", &v));
			assert_int_equal(v, 2); /* the loser sees the winner's write */
		}
		answer_clear(&a[i]);
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, N - 1);
}

/* The store's table (dynamodb_item.h) as moto builds it: a gate item goes
 * in whole, comes back whole, and the by_state index finds it. */
static void test_gate_item_and_index(void **state)
{
	struct t *t = *state;
	struct answer a;
	struct bot_error err = {0};
	char *appr[] = {"UA"};
	struct store_gate g = {
		.id = 5, .version = 2, .service = "web", .cluster = "prod", .ecs_service = "web",
		.requester = "UREQ", .action = "scale", .params = "{\"target\":3}", .target = 3,
		.approvers = appr, .n_approvers = 1, .min_approvals = 1, .state = GATE_PENDING,
		.created_at = 1700000000000, .reason = "",
	}, back = {0};

	call(t, "PutItem", json_pack("{s:s, s:o}", "TableName", "gates", "Item",
				     ddb_gate_item(&g)), &a);
	assert_int_equal(a.outcome, AWS_DDB_OK);
	answer_clear(&a);
	call(t, "Query", json_pack("{s:s, s:s, s:s, s:{s:o}}", "TableName", "gates", "IndexName",
				   DDB_INDEX_BY_STATE, "KeyConditionExpression", "gstate = :s",
				   "ExpressionAttributeValues", ":s", aws_ddb_s("PENDING")), &a);
	assert_int_equal(a.outcome, AWS_DDB_OK);
	json_t *items = json_object_get(a.body, "Items");
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(ddb_gate_from_item(json_array_get(items, 0), &back, &err), 0);
	assert_int_equal(back.id, 5);
	assert_string_equal(back.params, "{\"target\":3}");
	assert_string_equal(back.reason, ""); /* an empty string is kept */
	assert_string_equal(back.approvers[0], "UA");
	store_gate_clear(&back);
	answer_clear(&a);
}

static void test_attribute_helpers(void **state)
{
	json_t *item = json_pack("{s:o, s:o, s:{s:s}, s:{s:s}}", "a", aws_ddb_s("x"), "n",
				 aws_ddb_n(-42), "big", "N", "99999999999999999999", "f", "N", "1.5");
	int64_t v = 0;
	(void)state;
	assert_string_equal(aws_ddb_get_s(item, "a"), "x");
	assert_null(aws_ddb_get_s(item, "n"));
	assert_true(aws_ddb_get_n(item, "n", &v));
	assert_int_equal(v, -42);
	assert_false(aws_ddb_get_n(item, "big", &v)); /* out of range: refused, not wrapped */
	assert_false(aws_ddb_get_n(item, "f", &v));
	assert_false(aws_ddb_get_n(item, "missing", &v));
	json_decref(item);
}

static int group_setup(void **state)
{
	char msg[2048];
	(void)state;
	log_set_level(BOT_LOG_WARN);
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true,
					   .single_threaded = true}, &moto, msg, sizeof msg)) {
		fprintf(stderr, "\n*** DynamoDB integration tests cannot run: %s\n\n", msg);
		return -1;
	}
	fprintf(stderr, "moto (single-threaded) pid %d on %s\n", moto_pid(moto), moto_url(moto));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	moto_stop(moto);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conditional_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_cancelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_winner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate_item_and_index, setup, teardown),
		cmocka_unit_test(test_attribute_helpers),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
