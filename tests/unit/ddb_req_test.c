/* The DynamoDB store's request pieces (adapters/store/dynamodb_req.h):
 * audit events are sealed as chain.h says and linked to the tail of their
 * chain they were read after (a gate's a_seq, or the log head), keyed so
 * that sk order keeps every chain's order, a tail moves only from the seq
 * read, a processed id
 * expires when the retention says and TTL never deletes it earlier, a
 * transition is conditional on the state it leaves, and every item names
 * exactly the placeholders its expressions use (DynamoDB refuses others). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "adapters/aws/ddb.h"
#include "adapters/store/dynamodb_req.h"
#include "bot/domain/chain.h"

/* The one verb object of a transaction item ({"Put": {...}}), and its verb. */
static const json_t *inner(const json_t *it, const char **verb)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)it, k, v) {
		*verb = k;
		return v;
	}
	fail_msg("empty transaction item");
	return NULL;
}

static bool used(const json_t *in, const char *ph)
{
	static const char *const exprs[] = {"UpdateExpression", "ConditionExpression"};
	for (size_t i = 0; i < 2; i++) {
		const char *e = json_string_value(json_object_get(in, exprs[i]));
		size_t n = strlen(ph);
		for (const char *p = e; p && (p = strstr(p, ph)); p += n) {
			char c = p[n];
			if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9')))
				return true;
		}
	}
	return false;
}

/* Every placeholder declared is used, and the item asks for the old item. */
static void assert_tidy(const json_t *it, const char *table)
{
	const char *verb = NULL, *k;
	const json_t *in = inner(it, &verb);
	json_t *v;

	assert_string_equal(json_string_value(json_object_get(in, "TableName")), table);
	assert_string_equal(json_string_value(json_object_get(
		in, "ReturnValuesOnConditionCheckFailure")), "ALL_OLD");
	json_object_foreach(json_object_get(in, "ExpressionAttributeNames"), k, v)
		if (!used(in, k))
			fail_msg("%s: name %s is not used", verb, k);
	json_object_foreach(json_object_get(in, "ExpressionAttributeValues"), k, v)
		if (!used(in, k))
			fail_msg("%s: value %s is not used", verb, k);
}

static const char *val_s(const json_t *in, const char *ph)
{
	return aws_ddb_get_s(json_object_get(in, "ExpressionAttributeValues"), ph);
}

static int64_t val_n(const json_t *in, const char *ph)
{
	int64_t n = -1;
	assert_true(aws_ddb_get_n(json_object_get(in, "ExpressionAttributeValues"), ph, &n));
	return n;
}

/* Two events on an empty gate chain: seq 1 and 2 of chain 7, sealed,
 * linked, keyed by ord/chain/seq; the tail says where the chain ends. */
static void test_events_at_genesis(void **state)
{
	struct ddb__event ev[2] = {
		{.gate_id = 7, .actor = "U1", .kind = "click", .detail = "{\"vote\":\"approve\"}"},
		{.gate_id = 7, .actor = "U1", .kind = "approved", .from = "PENDING",
		 .to = "APPROVED"},
	};
	struct ddb__head old, tail;
	json_t *tx = json_array();
	const char *verb;
	char hash[65];
	int64_t n = 0;
	(void)state;

	ddb__head_of_gate(NULL, 7, &old);
	assert_int_equal(old.seq, 0);
	assert_string_equal(old.hash, CHAIN_GENESIS);
	assert_int_equal(ddb__append_events("gates", tx, &old, ev, 2, 1700, &tail), 0);
	assert_int_equal(json_array_size(tx), 2); /* the events only: the tail is the caller's */
	for (size_t i = 0; i < 2; i++)
		assert_tidy(json_array_get(tx, i), "gates");
	const json_t *e1 = json_object_get(inner(json_array_get(tx, 0), &verb), "Item");
	assert_string_equal(verb, "Put");
	const json_t *e2 = json_object_get(inner(json_array_get(tx, 1), &verb), "Item");
	assert_string_equal(aws_ddb_get_s(e1, "pk"), "audit");
	assert_string_equal(aws_ddb_get_s(e1, "sk"),
			    "e#0000000001700#00000000000000000007#0000000001");
	assert_string_equal(aws_ddb_get_s(e2, "sk"),
			    "e#0000000001700#00000000000000000007#0000000002");
	assert_true(aws_ddb_get_n(e2, "chain", &n) && n == 7);
	assert_true(aws_ddb_get_n(e2, "ord", &n) && n == 1700);
	assert_string_equal(aws_ddb_get_s(e1, "prev_hash"), CHAIN_GENESIS);
	assert_string_equal(aws_ddb_get_s(e2, "prev_hash"), aws_ddb_get_s(e1, "hash"));
	assert_string_equal(aws_ddb_get_s(e2, "from_state"), "PENDING");
	assert_null(json_object_get(e1, "from_state")); /* NULL: absent, not "" */
	assert_string_equal(aws_ddb_get_s(e2, "detail"), "{}");
	/* the seal is chain.h's, over what is stored (the chain is not in it) */
	struct store_audit_row r = {.seq = 2, .gate_id = 7, .at = 1700, .actor = "U1",
				    .kind = "approved", .from_state = "PENDING",
				    .to_state = "APPROVED", .detail = "{}",
				    .prev_hash = aws_ddb_get_s(e1, "hash")};
	assert_int_equal(chain_hash(&r, hash), 0);
	assert_string_equal(aws_ddb_get_s(e2, "hash"), hash);
	assert_int_equal(tail.chain, 7);
	assert_int_equal(tail.seq, 2);
	assert_int_equal(tail.ord, 1700);
	assert_string_equal(tail.hash, hash);

	/* the gate's Update moves its tail from an empty chain: a gate
	 * imported without a_seq is one */
	struct ddb__ex e;
	ddb__ex_init(&e);
	const char *cond = ddb__gate_head_sets(&e, &old, &tail);
	json_t *it = ddb__tx_item("gates", "Update", json_pack("{s:{s:s}}", "pk", "S", "gate#7"),
				  &e, cond);
	ddb__ex_free(&e);
	assert_tidy(it, "gates");
	const json_t *in = inner(it, &verb);
	assert_string_equal(json_string_value(json_object_get(in, "ConditionExpression")),
			    "(attribute_not_exists(#a_seq) OR #a_seq = :olda)");
	assert_int_equal(val_n(in, ":olda"), 0);
	assert_int_equal(val_n(in, ":a_seq"), 2);
	assert_int_equal(val_n(in, ":a_ord"), 1700);
	assert_string_equal(val_s(in, ":a_hash"), hash);
	json_decref(it);

	/* the log chain's head is created (it must not exist yet) */
	ddb__head_of_log(NULL, &old);
	it = ddb__log_head_item("gates", &old, &tail);
	assert_tidy(it, "gates");
	in = inner(it, &verb);
	assert_string_equal(verb, "Update");
	assert_string_equal(aws_ddb_get_s(json_object_get(in, "Key"), "sk"), "head");
	assert_string_equal(json_string_value(json_object_get(in, "ConditionExpression")),
			    "attribute_not_exists(#pk)");
	assert_int_equal(val_n(in, ":seq"), 2);
	assert_string_equal(val_s(in, ":hash"), hash);
	json_decref(it);
	json_decref(tx);
}

/* After seq 41 of the log chain: the event is 42, linked to the head's
 * hash, and the head moves only from 41. Its ord never goes back: the
 * head's ord (a faster clock wrote it) wins over an earlier now. A system
 * event has no gate and actor "system". */
static void test_events_after_head(void **state)
{
	static const char tail_hash[] =
		"ab00000000000000000000000000000000000000000000000000000000000001";
	json_t *head_item = json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "seq", "N", "41", "hash",
				      "S", tail_hash, "ord", "N", "900");
	struct ddb__event ev = {.kind = "startup"};
	struct ddb__head old, tail;
	json_t *tx = json_array();
	const char *verb;
	(void)state;

	ddb__head_of_log(head_item, &old);
	assert_int_equal(old.chain, 0);
	assert_int_equal(old.seq, 41);
	assert_int_equal(old.ord, 900);
	assert_int_equal(ddb__append_events("t1", tx, &old, &ev, 1, 5, &tail), 0);
	assert_int_equal(json_array_size(tx), 1);
	const json_t *e = json_object_get(inner(json_array_get(tx, 0), &verb), "Item");
	assert_string_equal(aws_ddb_get_s(e, "sk"),
			    "e#0000000000900#00000000000000000000#0000000042");
	assert_string_equal(aws_ddb_get_s(e, "prev_hash"), tail_hash);
	assert_string_equal(aws_ddb_get_s(e, "actor"), "system");
	assert_null(json_object_get(e, "gate_id"));
	int64_t at = 0;
	assert_true(aws_ddb_get_n(e, "at", &at) && at == 5); /* at, sealed, is now's */
	assert_int_equal(tail.ord, 900);
	json_t *it = ddb__log_head_item("t1", &old, &tail);
	assert_tidy(it, "t1");
	const json_t *head = inner(it, &verb);
	assert_string_equal(json_string_value(json_object_get(head, "ConditionExpression")),
			    "#seq = :oldseq");
	assert_int_equal(val_n(head, ":oldseq"), 41);
	assert_int_equal(val_n(head, ":seq"), 42);
	assert_int_equal(val_n(head, ":ord"), 900);
	json_decref(it);

	/* a gate chain with a tail: conditional on exactly that a_seq */
	json_t *gate = json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "a_seq", "N", "3", "a_hash",
				 "S", tail_hash, "a_ord", "N", "10");
	struct ddb__ex x;
	ddb__head_of_gate(gate, 12, &old);
	assert_int_equal(old.chain, 12);
	assert_int_equal(old.seq, 3);
	ddb__ex_init(&x);
	assert_string_equal(ddb__gate_head_sets(&x, &old, &tail), "#a_seq = :olda");
	ddb__ex_free(&x);
	/* a malformed tail reads as an empty chain (its write then fails its
	 * condition, rather than sealing after a wrong hash) */
	json_object_set_new(gate, "a_hash", json_pack("{s:s}", "S", "short"));
	ddb__head_of_gate(gate, 12, &old);
	assert_int_equal(old.seq, 0);
	json_decref(gate);
	json_decref(head_item);
	json_decref(tx);
}

static void test_seen_item(void **state)
{
	json_t *it = ddb__seen_item("Ev1", 1700000000123, 900000);
	int64_t at = 0, exp = 0, ttl = 0;
	char big[1100];
	(void)state;

	assert_non_null(it);
	assert_string_equal(aws_ddb_get_s(it, "pk"), "seen#Ev1");
	assert_true(aws_ddb_get_n(it, "at", &at));
	assert_true(aws_ddb_get_n(it, "expires_at", &exp));
	assert_true(aws_ddb_get_n(it, "ttl", &ttl));
	assert_int_equal(at, 1700000000123);
	assert_int_equal(exp, 1700000000123 + 900000);
	assert_true(ttl * 1000 > exp); /* TTL (seconds) never deletes it early */
	json_decref(it);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_null(ddb__seen_item(big, 1, 1)); /* too long for a key */
}

/* A transition sets what store.h says and only that, on the state it
 * leaves. */
static void test_change_item(void **state)
{
	struct store_change deny = {.gate_id = 3, .from = GATE_PENDING, .to = GATE_DENIED,
				    .actor = "U1", .decided_by = "U1"};
	struct store_change exec = {.gate_id = 3, .from = GATE_APPROVED, .to = GATE_EXECUTING,
				    .actor = "system", .owner = "host:1", .lease_ms = 60000,
				    .exec_intent = "{}", .set_exec_from = true, .exec_from = 0};
	const char *verb;
	json_t *it;
	(void)state;

	struct ddb__head old = {.chain = 3, .seq = 4, .ord = 900, .hash = CHAIN_GENESIS};
	struct ddb__head tail = {.chain = 3, .seq = 5, .ord = 1000, .hash = CHAIN_GENESIS};
	it = ddb__change_item("g", &deny, 1000, &old, &tail);
	assert_non_null(it);
	assert_tidy(it, "g");
	const json_t *in = inner(it, &verb);
	const char *upd = json_string_value(json_object_get(in, "UpdateExpression"));
	assert_string_equal(verb, "Update");
	assert_string_equal(aws_ddb_get_s(json_object_get(in, "Key"), "pk"), "gate#3");
	/* the state it leaves, and the gate's chain as read */
	assert_string_equal(json_string_value(json_object_get(in, "ConditionExpression")),
			    "#state = :from AND #a_seq = :olda");
	assert_int_equal(val_n(in, ":olda"), 4);
	assert_int_equal(val_n(in, ":a_seq"), 5);
	assert_string_equal(val_s(in, ":from"), "PENDING");
	assert_string_equal(val_s(in, ":state"), "DENIED");
	assert_non_null(strstr(upd, "#gstate = :state"));    /* the index follows */
	assert_non_null(strstr(upd, "#decision = :state"));  /* left PENDING */
	assert_non_null(strstr(upd, "#version = #version + :one"));
	assert_int_equal(val_n(in, ":decided_at"), 1000);
	assert_int_equal(val_n(in, ":finished_at"), 1000);   /* final */
	assert_string_equal(val_s(in, ":decided_by"), "U1");
	assert_null(strstr(upd, "exec_owner"));
	json_decref(it);

	it = ddb__change_item("g", &exec, 2000, &old, &tail);
	assert_tidy(it, "g");
	in = inner(it, &verb);
	upd = json_string_value(json_object_get(in, "UpdateExpression"));
	assert_null(strstr(upd, "#decision"));    /* not leaving PENDING */
	assert_null(strstr(upd, "#finished_at")); /* not final */
	assert_string_equal(val_s(in, ":exec_owner"), "host:1");
	assert_int_equal(val_n(in, ":exec_lease_until"), 62000);
	assert_int_equal(val_n(in, ":exec_started_at"), 2000);
	assert_int_equal(val_n(in, ":exec_from"), 0); /* set, even to 0 */
	json_decref(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_at_genesis),
		cmocka_unit_test(test_events_after_head),
		cmocka_unit_test(test_seen_item),
		cmocka_unit_test(test_change_item),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
