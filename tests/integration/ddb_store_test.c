/* The DynamoDB store beyond what every backend shares (the conformance
 * suite): the table helpers of `store init` (idempotent create, a check that
 * names what is wrong), errors from a peer that refuses or cannot be
 * reached (BOT_ESTORE naming the operation and the AWS code, never a
 * crash), calls in flight when the store closes (answered cancelled, once),
 * and the raw import of `store copy` (a chain carried over stays whole and
 * goes on). Against moto served single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "adapters/aws/ddb.h"
#include "adapters/http/http.h"
#include "adapters/store/dynamodb.h"
#include "adapters/store/dynamodb_item.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "bot/domain/audit.h"
#include "bot/domain/chain.h"
#include "tests/fakes/moto.h"

static struct moto *moto;

struct t {
	struct bot_loop *loop;
	struct http *http;
	struct aws_creds_provider *creds;
	struct aws_client *aws;
	uv_loop_t *uv;
	char table[64];
	int64_t now;
};

static int64_t clock_of(void *ud)
{
	return ((struct t *)ud)->now;
}

static int make_client(struct t *t, const char *endpoint)
{
	static const struct aws_retry_policy quick = {
		.max_attempts = 2, .base_ms = 10, .throttle_base_ms = 10, .max_backoff_ms = 20,
	};
	struct bot_error err = {0};
	return aws_client_create(t->loop, t->http, &(struct aws_client_opts){
		.region = "us-east-1", .endpoint_url = endpoint, .retry = &quick,
		.timeout_ms = 2000}, &t->aws, &err);
}

static int setup(void **state)
{
	static unsigned n;
	struct t *t = calloc(1, sizeof *t);
	struct bot_error err = {0};

	assert_non_null(t);
	t->now = 1700000000000;
	assert_int_equal(bot_loop_create(&t->loop, &err), 0);
	t->uv = bot_loop_uv(t->loop);
	assert_int_equal(http_create(t->loop, &(struct http_opts){0}, &t->http, &err), 0);
	assert_int_equal(aws_creds_create(t->http, NULL, &(struct aws_creds_opts){
		.fixed = &(struct aws_creds){"AKIDDDBSTORE", "ddb-store-c4n4ry-secret", NULL}}, &t->creds,
		&err), 0);
	assert_int_equal(make_client(t, NULL), 0);
	aws_client_set_creds(t->aws, t->creds);
	snprintf(t->table, sizeof t->table, "ddbstore-%d-%u", (int)getpid(), ++n);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	bot_loop_shutdown(t->loop);
	assert_int_equal(bot_loop_run(t->loop), 0);
	aws_client_destroy(t->aws);
	aws_creds_destroy(t->creds);
	http_destroy(t->http);
	assert_int_equal(bot_loop_destroy(t->loop), 0);
	free(t);
	return 0;
}

static void on_raw(void *ud, const struct aws_ddb_result *r)
{
	*(int *)ud = (int)r->outcome;
}

/* One DynamoDB call, waited for: its outcome. */
static int raw_call(struct t *t, const char *op, json_t *body)
{
	int outcome = -1;
	assert_int_equal(aws_ddb_call(t->aws, op, body, on_raw, &outcome, NULL), 0);
	while (outcome < 0)
		uv_run(t->uv, UV_RUN_ONCE);
	return outcome;
}

static struct store *open_on(struct t *t, const char *table)
{
	struct store *s = NULL;
	struct bot_error err = {0};
	struct store_dynamodb_opts o = {.aws = t->aws, .table = table, .loop = t->uv,
					.clock = clock_of, .clock_ud = t};
	assert_int_equal(store_dynamodb_open(&o, &s, &err), 0);
	assert_string_equal(store_backend(s), "dynamodb");
	return s;
}

static void test_table_helpers(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct store *s = NULL;

	assert_int_equal(store_dynamodb_check_table(t->aws, t->uv, t->table, &err), BOT_ENOTFOUND);
	assert_non_null(strstr(err.msg, t->table));
	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	/* again: already there is fine */
	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	assert_int_equal(store_dynamodb_check_table(t->aws, t->uv, t->table, &err), 0);

	/* a table of another layout is named as such */
	char other[80];
	struct bot_error e2 = {0};
	snprintf(other, sizeof other, "%s-other", t->table);
	assert_int_equal(raw_call(t, "CreateTable", json_pack(
		"{s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "TableName", other, "BillingMode",
		"PAY_PER_REQUEST", "AttributeDefinitions", "AttributeName", "id", "AttributeType",
		"S", "KeySchema", "AttributeName", "id", "KeyType", "HASH")), AWS_DDB_OK);
	assert_int_equal(store_dynamodb_check_table(t->aws, t->uv, other, &e2), BOT_ECONFIG);
	assert_non_null(strstr(e2.msg, "pk (HASH) + sk (RANGE)"));

	/* bad names are refused before any call */
	struct store_dynamodb_opts o = {.aws = t->aws, .table = "x", .loop = t->uv};
	assert_int_equal(store_dynamodb_open(&o, &s, &e2), BOT_EINVAL);
	assert_null(s);
	o.table = "bad name";
	assert_int_equal(store_dynamodb_open(&o, &s, &e2), BOT_EINVAL);
	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, "bad/name", &e2), BOT_EINVAL);
}

/* DynamoDB answers with an error: BOT_ESTORE, naming the operation and the
 * AWS code; nothing crashes and the store keeps answering. */
static void test_errors_from_peer(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct store *s = open_on(t, "no-such-table");
	struct store_gate g = {0};
	enum store_result res;
	uint64_t holder;
	bool seen;

	assert_string_equal(store_where(s), "dynamodb:no-such-table");
	assert_int_equal(store_gate_get(s, 1, &g, &err), BOT_ESTORE);
	assert_non_null(strstr(err.msg, "gate_get"));
	assert_non_null(strstr(err.msg, "ResourceNotFoundException"));
	log_info("test.error", "msg=%s", LOG_Q(err.msg));
	assert_int_equal(store_seen_event(s, "E1", &seen, &err), BOT_ESTORE);
	assert_non_null(strstr(err.msg, "seen_event"));
	char *appr[] = {"U1"};
	struct store_gate q = {.service = "web", .cluster = "prod", .ecs_service = "web",
			       .requester = "U0", .approvers = appr, .n_approvers = 1};
	assert_int_equal(store_gate_open(s, &q, &res, &holder, &err), BOT_ESTORE);
	assert_non_null(strstr(err.msg, "gate_open"));
	assert_int_equal(q.id, 0);
	store_close(s);
}

/* Nobody listens: a transport error after the client's retries. */
static void test_unreachable_peer(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct store *s;
	struct store_gate g = {0};

	aws_client_destroy(t->aws);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	assert_int_equal(make_client(t, "http://127.0.0.1:9"), 0); /* discard: closed */
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	aws_client_set_creds(t->aws, t->creds);
	s = open_on(t, t->table);
	assert_int_equal(store_gate_get(s, 1, &g, &err), BOT_ESTORE);
	assert_non_null(strstr(err.msg, "gate_get"));
	assert_non_null(strstr(err.msg, "transport error")); /* what kind of failure */
	log_info("test.error", "msg=%s", LOG_Q(err.msg));
	store_close(s);
}

struct answer {
	int calls, rc;
};

static void on_answer(void *ud, struct store_req *r)
{
	struct answer *a = ud;
	a->calls++;
	a->rc = r->rc;
}

static enum store_result busy_res;
static uint64_t busy_holder;

static void on_busy(void *ud, struct store_req *r)
{
	on_answer(ud, r);
	busy_res = r->res;
	busy_holder = r->holder;
}

/* Closing with calls in flight answers each once, as cancelled, at once. */
static void test_close_cancels_in_flight(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct answer a = {0}, b = {0};
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	assert_int_equal(store_gate_get_async(s, 1, on_answer, &a), 0);
	assert_int_equal(store_audit_add_async(s, 0, "x", "note", NULL, on_answer, &b), 0);
	store_close(s);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.rc, BOT_ECANCELLED);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.rc, BOT_ECANCELLED);
	uv_run(t->uv, UV_RUN_NOWAIT);
	assert_int_equal(a.calls + b.calls, 2);
}

struct rows {
	struct store_audit_row r[8];
	char hash[8][65], prev[8][65];
	size_t n;
};

static int keep_row(void *ud, const struct store_audit_row *r)
{
	struct rows *w = ud;
	return w->n >= 8 ? 1 : (w->r[w->n++] = *r, 0);
}

/* store copy: gates and the chain go over as they are; the store goes on
 * from where they left off. */
static void test_import(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	char *appr[] = {"UA"}, *approved[] = {"UA"};
	char prev[65] = CHAIN_GENESIS, hash[65];
	struct store *s;
	size_t n = 0;
	uint64_t holder = 0;
	enum store_result res;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	struct store_gate live = {
		.id = 40, .version = 3, .service = "web", .cluster = "prod", .ecs_service = "web",
		.requester = "UR", .action = "scale", .params = "{}", .approvers = appr,
		.n_approvers = 1, .min_approvals = 1, .state = GATE_APPROVED,
		.decision = GATE_APPROVED, .decided_by = "UA", .approved_by = approved,
		.n_approved = 1, .created_at = 5, .updated_at = 6,
	}, done_g = live;
	done_g.id = 41;
	done_g.ecs_service = "api";
	done_g.state = GATE_SUCCEEDED;
	assert_int_equal(store_dynamodb_import_gate(s, &live, &err), 0);
	assert_int_equal(store_dynamodb_import_gate(s, &done_g, &err), 0);
	assert_int_equal(store_dynamodb_import_gate(s, &live, &err), BOT_EDUPLICATE);
	for (int64_t seq = 1; seq <= 3; seq++) {
		struct store_audit_row r = {.seq = seq, .gate_id = 40, .at = 10 + seq,
					    .actor = "UA", .kind = "note", .detail = "{}",
					    .prev_hash = prev};
		assert_int_equal(chain_hash(&r, hash), 0);
		r.hash = hash;
		assert_int_equal(store_dynamodb_import_audit(s, &r, &err), 0);
		if (seq == 3)
			assert_int_equal(store_dynamodb_import_audit(s, &r, &err), BOT_EDUPLICATE);
		memcpy(prev, hash, sizeof prev);
	}
	assert_int_equal(store_dynamodb_import_finish(s, 41, 3, prev, &err), 0);
	assert_int_equal(store_dynamodb_import_finish(s, 30, 2, prev, &err), BOT_ESTATE);

	struct store_gate g = {0};
	assert_int_equal(store_gate_get(s, 40, &g, &err), 0);
	assert_int_equal(g.version, 3);
	assert_int_equal(g.state, GATE_APPROVED);
	assert_string_equal(g.approved_by[0], "UA");
	store_gate_clear(&g);
	assert_int_equal(store_service_holder(s, "prod", "web", &holder, &err), 0);
	assert_int_equal(holder, 40); /* a live gate holds its service */
	assert_int_equal(store_service_holder(s, "prod", "api", &holder, &err), 0);
	assert_int_equal(holder, 0);
	/* and it goes on: the next gate is 42, its request the first event of
	 * its own chain (the imported rows are the log chain, seq 1..3) */
	struct store_gate q = {.service = "api", .cluster = "prod", .ecs_service = "api",
			       .requester = "U0", .approvers = appr, .n_approvers = 1};
	assert_int_equal(store_gate_open(s, &q, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(q.id, 42);
	assert_int_equal(audit_verify(s, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, 4);
	struct rows w = {0};
	assert_int_equal(store_audit_each(s, 12, keep_row, &w, &err), 0);
	assert_int_equal(w.n, 3); /* at >= 12: seq 2, 3 and the new one */
	assert_int_equal(w.r[0].seq, 2);
	assert_int_equal(w.r[0].chain, 0);
	assert_int_equal(w.r[1].seq, 3);
	assert_int_equal(w.r[2].chain, 42);
	assert_int_equal(w.r[2].seq, 1);
	store_close(s);
}

/* store copy: alarm records go over as they are (version, body, time),
 * once, and the intake goes on from them. */
static void test_import_alarms(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct store_alarm a = {.key = "arn:aws:cloudwatch:us-east-1:1:alarm:cpu", .version = 5,
				.body = "{\"episode\":3}", .updated_at = 77}, got = {0};
	uint64_t counts[GATE_STATE_COUNT], none[GATE_STATE_COUNT] = {0};
	enum store_result res;
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	assert_int_equal(store_dynamodb_import_alarm(s, &a, &err), 0);
	assert_int_equal(store_dynamodb_import_alarm(s, &a, &err), BOT_EDUPLICATE);
	assert_non_null(strstr(err.msg, "arn:aws:cloudwatch:us-east-1:1:alarm:cpu"));
	struct store_alarm bad = a;
	bad.key = "arn:2";
	bad.version = 0;
	assert_int_equal(store_dynamodb_import_alarm(s, &bad, &err), BOT_EINVAL);
	bad.version = 1;
	bad.body = "[]";
	assert_int_equal(store_dynamodb_import_alarm(s, &bad, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_get(s, "arn:2", &got, &err), 0);
	assert_int_equal(got.version, 0);
	assert_int_equal(store_alarm_get(s, a.key, &got, &err), 0);
	assert_int_equal(got.version, 5);
	assert_string_equal(got.body, "{\"episode\":3}");
	assert_int_equal(got.updated_at, 77);
	assert_int_equal(store_alarm_put(s, a.key, 4, "{}", &res, &got, &err), 0);
	assert_int_equal(res, STORE_LOST);
	assert_int_equal(store_alarm_put(s, a.key, 5, "{}", &res, &got, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(got.version, 6);
	assert_int_equal(got.updated_at, t->now);
	store_alarm_clear(&got);
	/* no gate counted */
	assert_int_equal(store_gate_counts(s, counts, &err), 0);
	assert_memory_equal(counts, none, sizeof counts);
	store_close(s);
}

/* Write the lock of prod/web as naming `holder` (0: delete it), behind the
 * store's back: the states a lock can be found in after an import or a
 * hand repair. */
static void set_lock(struct t *t, uint64_t holder)
{
	json_t *key = json_pack("{s:{s:s}, s:{s:s}}", "pk", "S", "svc#prod#web", "sk", "S", "lock");
	if (holder) {
		json_object_set_new(key, "gate_id", aws_ddb_n((int64_t)holder));
		assert_int_equal(raw_call(t, "PutItem", json_pack("{s:s, s:o}", "TableName",
								  t->table, "Item", key)),
				 AWS_DDB_OK);
	} else {
		assert_int_equal(raw_call(t, "DeleteItem", json_pack("{s:s, s:o}", "TableName",
								     t->table, "Key", key)),
				 AWS_DDB_OK);
	}
}

static enum store_result change(struct store *s, uint64_t id, enum gate_state from,
				enum gate_state to)
{
	struct store_change c = {.gate_id = id, .from = from, .to = to, .actor = "system",
				 .owner = "host:1", .lease_ms = 1000};
	struct bot_error err = {0};
	enum store_result res = STORE_DONE;
	assert_int_equal(store_gate_change(s, &c, &res, &err), 0);
	return res;
}

/* Into EXECUTING only while the lock names the gate: BUSY (naming the
 * holder) when it names another, taken when it is free; a final state
 * deletes only its own lock. */
static void test_lock_paths(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	char *appr[] = {"UA"};
	uint64_t holder = 0;
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	struct store_gate g = {
		.id = 7, .version = 2, .service = "web", .cluster = "prod", .ecs_service = "web",
		.requester = "UR", .action = "scale", .approvers = appr, .n_approvers = 1,
		.state = GATE_APPROVED, .decision = GATE_APPROVED, .created_at = 1,
	};
	assert_int_equal(store_dynamodb_import_gate(s, &g, &err), 0);
	set_lock(t, 99); /* another gate holds the service */
	size_t before = 0;
	assert_int_equal(audit_verify(s, &before, NULL, NULL, &err), 0);
	struct answer a = {0};
	struct store_change c = {.gate_id = 7, .from = GATE_APPROVED, .to = GATE_EXECUTING,
				 .actor = "system"};
	assert_int_equal(store_gate_change_async(s, &c, on_busy, &a), 0);
	uv_run(t->uv, UV_RUN_DEFAULT);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.rc, 0);
	assert_int_equal(busy_res, STORE_BUSY);
	assert_int_equal(busy_holder, 99);
	size_t after = 0;
	assert_int_equal(audit_verify(s, &after, NULL, NULL, &err), 0);
	assert_int_equal(after, before); /* nothing written */

	set_lock(t, 0); /* free: the claim takes it */
	assert_int_equal(change(s, 7, GATE_APPROVED, GATE_EXECUTING), STORE_DONE);
	assert_int_equal(store_service_holder(s, "prod", "web", &holder, &err), 0);
	assert_int_equal(holder, 7);

	set_lock(t, 98); /* someone else's lock survives this gate's end */
	assert_int_equal(change(s, 7, GATE_EXECUTING, GATE_SUCCEEDED), STORE_DONE);
	assert_int_equal(store_service_holder(s, "prod", "web", &holder, &err), 0);
	assert_int_equal(holder, 98);
	store_close(s);
}

/* The chain of every row, and where each went. */
struct chains {
	size_t n;
	uint64_t chain[32], gate[32];
	int64_t seq[32];
	char kind[32][24];
};

static int note_chain(void *ud, const struct store_audit_row *r)
{
	struct chains *c = ud;
	if (c->n < 32) {
		c->chain[c->n] = r->chain;
		c->gate[c->n] = r->gate_id;
		c->seq[c->n] = r->seq;
		snprintf(c->kind[c->n], sizeof c->kind[c->n], "%s", r->kind);
	}
	c->n++;
	return 0;
}

/* The key of gate (or log, 0) chain's event seq written at ord. */
static json_t *event_key(int64_t ord, uint64_t chain, int64_t seq)
{
	char sk[DDB_AUDIT_SK_SIZE];
	assert_int_equal(ddb_audit_sk(sk, ord, chain, seq), 0);
	return json_pack("{s:{s:s}, s:{s:s}}", "pk", "S", "audit", "sk", "S", sk);
}

static void set_actor(struct t *t, int64_t ord, uint64_t chain, int64_t seq, const char *actor)
{
	assert_int_equal(raw_call(t, "UpdateItem",
				  json_pack("{s:s, s:o, s:s, s:s, s:{s:s}, s:{s:{s:s}}}",
					    "TableName", t->table, "Key", event_key(ord, chain, seq),
					    "UpdateExpression", "SET #a = :a", "ConditionExpression",
					    "attribute_exists(pk)", "ExpressionAttributeNames", "#a",
					    "actor", "ExpressionAttributeValues", ":a", "S", actor)),
			 AWS_DDB_OK);
}

/* Each gate's events are its own chain (the gate's id), the rest the log
 * chain; verify reads them from the table and catches an edit and a
 * removal inside a gate's chain, naming the gate and the seq. */
static void test_gate_chains_in_the_table(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	char *appr[] = {"UA"};
	enum store_result res;
	uint64_t holder = 0, bad_chain = 0;
	int64_t bad_seq = 0;
	struct chains c = {0};
	size_t n = 0;
	bool armed;
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	struct store_gate q = {.service = "web", .cluster = "prod", .ecs_service = "web",
			       .requester = "U0", .approvers = appr, .n_approvers = 1};
	struct store_gate q2 = q;
	q2.service = q2.ecs_service = "api";
	assert_int_equal(store_gate_open(s, &q, &res, &holder, &err), 0);
	assert_int_equal(store_gate_open(s, &q2, &res, &holder, &err), 0);
	assert_int_equal(store_gate_delivered(s, q.id, "C1", "1.1", &armed, &err), 0);
	assert_int_equal(store_audit_add(s, 0, "system", "startup", NULL, &err), 0);
	assert_int_equal(store_audit_add(s, 99, "UX", "note", NULL, &err), 0); /* no gate 99 */
	assert_int_equal(store_gate_delivered(s, 98, "C1", "1.2", &armed, &err), 0);
	assert_int_equal(store_audit_add(s, q.id, "UA", "note", NULL, &err), 0);
	struct store_change deny = {.gate_id = q.id, .from = GATE_PENDING, .to = GATE_DENIED,
				    .actor = "UA", .decided_by = "UA"};
	assert_int_equal(store_gate_change(s, &deny, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(store_audit_each(s, 0, note_chain, &c, &err), 0);
	assert_int_equal(c.n, 8);
	for (size_t i = 0; i < c.n; i++) {
		if (c.gate[i] == q.id || c.gate[i] == q2.id)
			assert_int_equal(c.chain[i], c.gate[i]);
		else
			assert_int_equal(c.chain[i], 0); /* none, 99 and 98: the log chain */
	}
	/* one clock reading: sk order is chain, then seq */
	assert_int_equal(c.chain[0], 0);
	assert_int_equal(c.seq[2], 3);
	assert_int_equal(c.chain[3], q.id);
	assert_string_equal(c.kind[3], "requested");
	assert_int_equal(c.seq[6], 4);
	assert_string_equal(c.kind[6], "denied");
	assert_int_equal(audit_verify(s, &n, &bad_chain, &bad_seq, &err), 0);
	assert_int_equal(n, 8);
	/* the gate item keeps its chain's tail, and the gate reads as before */
	struct store_gate g = {0};
	assert_int_equal(store_gate_get(s, q.id, &g, &err), 0);
	assert_int_equal(g.state, GATE_DENIED);
	store_gate_clear(&g);

	/* an edit in gate q's chain: its seq 2 (the delivery) */
	set_actor(t, t->now, q.id, 2, "UMALLORY");
	assert_int_equal(audit_verify(s, &n, &bad_chain, &bad_seq, &err), BOT_ECORRUPT);
	assert_int_equal(bad_chain, q.id);
	assert_int_equal(bad_seq, 2);
	char want[80];
	snprintf(want, sizeof want, "audit chain of gate %llu broken at seq 2: its content",
		 (unsigned long long)q.id);
	assert_non_null(strstr(err.msg, want));
	set_actor(t, t->now, q.id, 2, "system");
	assert_int_equal(audit_verify(s, &n, NULL, NULL, &err), 0);

	/* a removal: the note (seq 3) is missing, the denial no longer follows */
	assert_int_equal(raw_call(t, "DeleteItem",
				  json_pack("{s:s, s:o, s:s}", "TableName", t->table, "Key",
					    event_key(t->now, q.id, 3), "ConditionExpression",
					    "attribute_exists(pk)")),
			 AWS_DDB_OK);
	assert_int_equal(audit_verify(s, &n, &bad_chain, &bad_seq, &err), BOT_ECORRUPT);
	assert_int_equal(bad_chain, q.id);
	assert_int_equal(bad_seq, 4);
	assert_non_null(strstr(err.msg, "expected seq 3"));
	store_close(s);
}

/* A table written before audit chains: its events keyed e#<seq:020>,
 * without chain or ord, and the one head. They read as the log chain (in
 * seq order, before every new key), new events of no gate continue that
 * chain from its head, gates start their own, and it all verifies. */
static void test_table_from_before_chains(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	char prev[65] = CHAIN_GENESIS, hash[65], sk[32], seq_s[24];
	char *appr[] = {"UA"};
	enum store_result res;
	uint64_t holder = 0;
	struct chains c = {0};
	size_t n = 0;
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	for (int64_t seq = 1; seq <= 2; seq++) {
		struct store_audit_row r = {.seq = seq, .gate_id = 7, .at = 1000 + seq,
					    .actor = "UA", .kind = "note", .detail = "{}",
					    .prev_hash = prev};
		assert_int_equal(chain_hash(&r, hash), 0);
		snprintf(sk, sizeof sk, "e#%020lld", (long long)seq);
		snprintf(seq_s, sizeof seq_s, "%lld", (long long)seq);
		json_t *item = json_pack(
			"{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s},"
			" s:{s:s}, s:{s:s}}", "pk", "S", "audit", "sk", "S", sk, "seq", "N", seq_s,
			"at", "N", seq == 1 ? "1001" : "1002", "gate_id", "N", "7", "actor", "S",
			"UA", "kind", "S", "note", "detail", "S", "{}", "prev_hash", "S", prev,
			"hash", "S", hash);
		assert_int_equal(raw_call(t, "PutItem", json_pack("{s:s, s:o}", "TableName",
								  t->table, "Item", item)),
				 AWS_DDB_OK);
		memcpy(prev, hash, sizeof prev);
	}
	assert_int_equal(raw_call(t, "PutItem",
				  json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
					    "TableName", t->table, "Item", "pk", "S", "audit", "sk",
					    "S", "head", "seq", "N", "2", "hash", "S", prev)),
			 AWS_DDB_OK);
	s = open_on(t, t->table);
	assert_int_equal(store_audit_add(s, 0, "system", "startup", NULL, &err), 0);
	struct store_gate q = {.service = "web", .cluster = "prod", .ecs_service = "web",
			       .requester = "U0", .approvers = appr, .n_approvers = 1};
	assert_int_equal(store_gate_open(s, &q, &res, &holder, &err), 0);
	assert_int_equal(audit_verify(s, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_audit_each(s, 0, note_chain, &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.chain[2], 0);
	assert_int_equal(c.seq[2], 3); /* the log chain goes on from the old head */
	assert_int_equal(c.chain[3], q.id);
	assert_int_equal(c.seq[3], 1);
	store_close(s);
}

static unsigned calls_of(struct t *t)
{
	struct aws_client_stats st;
	aws_client_stats(t->aws, &st);
	return st.calls;
}

static int count_rows(void *ud, const struct store_audit_row *r)
{
	(void)r;
	++*(size_t *)ud;
	return 0;
}

/* What each operation costs in DynamoDB requests, uncontended (dynamodb.h
 * promises these numbers). */
static void test_request_costs(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	char *appr[] = {"UA"};
	enum store_result res;
	uint64_t holder, counts[GATE_STATE_COUNT];
	struct store_gate g = {0}, *v = NULL;
	size_t nv = 0, rows = 0;
	bool flag;
	int purged = 0;
	struct store *s;
	unsigned c;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	struct store_gate q = {.service = "web", .cluster = "prod", .ecs_service = "web",
			       .requester = "U0", .approvers = appr, .n_approvers = 1};
#define COSTS(n, call) do { c = calls_of(t); assert_int_equal(call, 0); \
		assert_int_equal(calls_of(t) - c, n); } while (0)
	COSTS(2, store_gate_open(s, &q, &res, &holder, &err));
	COSTS(1, store_gate_get(s, q.id, &g, &err));
	COSTS(1, store_service_holder(s, "prod", "web", &holder, &err));
	COSTS(2, store_gate_delivered(s, q.id, "C1", "1.1", &flag, &err));
	store_gate_clear(&g);
	assert_int_equal(store_gate_get(s, q.id, &g, &err), 0);
	struct store_vote vote = {.gate_id = q.id, .version = g.version, .event_id = "E1",
				  .actor = "UA", .kind = "click", .approve_user = "UA",
				  .to = GATE_APPROVED, .decided_by = "UA"};
	COSTS(2, store_gate_vote(s, &vote, &res, &err));
	assert_int_equal(res, STORE_DONE);
	struct store_change ch = {.gate_id = q.id, .from = GATE_APPROVED, .to = GATE_EXECUTING,
				  .actor = "system", .owner = "h:1", .lease_ms = 1000};
	COSTS(2, store_gate_change(s, &ch, &res, &err));
	assert_int_equal(res, STORE_DONE);
	store_gate_clear(&g);
	assert_int_equal(store_gate_get(s, q.id, &g, &err), 0);
	struct store_lease l = {.gate_id = q.id, .version = g.version, .owner = "h:2",
				.lease_ms = 1000, .kind = "renew"};
	COSTS(2, store_gate_lease(s, &l, &res, &err));
	assert_int_equal(res, STORE_DONE);
	COSTS(2, store_audit_add(s, q.id, "x", "note", NULL, &err));
	COSTS(1, store_seen_event(s, "E2", &flag, &err));
	COSTS(1, store_seen_event(s, "E3", &flag, &err));
	COSTS(1, store_audit_each(s, 0, count_rows, &rows, &err));
	assert_int_equal(rows, 7); /* requested, delivered, click, approved, executing, renew, note */
	/* the log chain: a note of no gate; of a missing gate and its card
	 * (the gate is read first, then again with the log head) */
	COSTS(2, store_audit_add(s, 0, "x", "note", NULL, &err));
	COSTS(3, store_audit_add(s, 999, "x", "note", NULL, &err));
	COSTS(3, store_gate_delivered(s, 998, "C1", "1.2", &flag, &err));
	COSTS(2, store_gate_list(s, GATE_STATE_BIT(GATE_PENDING) | GATE_STATE_BIT(GATE_EXECUTING),
				 &v, &nv, &err));
	assert_int_equal(nv, 1);
	store_gate_array_free(v, nv);
	COSTS(1, store_gate_recent(s, 10, &v, &nv, &err));
	store_gate_array_free(v, nv);
	COSTS(1, store_gate_counts(s, counts, &err));
	assert_int_equal(counts[GATE_EXECUTING], 1);
	/* a scan and one delete per expired id (E1, E2, E3) */
	COSTS(4, store_purge_events(s, t->now + 1, &purged, &err));
	assert_int_equal(purged, 3);
	/* a lost race costs the read only when the read shows it lost */
	struct store_change late = {.gate_id = q.id, .from = GATE_PENDING, .to = GATE_DENIED,
				    .actor = "U9"};
	COSTS(1, store_gate_change(s, &late, &res, &err));
	assert_int_equal(res, STORE_LOST);
	/* alarm records: one request each, a lost put included */
	struct store_alarm a = {0};
	COSTS(1, store_alarm_get(s, "arn:x", &a, &err));
	COSTS(1, store_alarm_put(s, "arn:x", 0, "{}", &res, &a, &err));
	assert_int_equal(res, STORE_DONE);
	COSTS(1, store_alarm_put(s, "arn:x", 0, "{}", &res, &a, &err));
	assert_int_equal(res, STORE_LOST);
	store_alarm_clear(&a);
#undef COSTS
	store_gate_clear(&g);
	store_close(s);
}

/* aws.error lines by level, each still written to stderr (the canary check) */
struct levels {
	int warn, debug;
};

static void count_levels(void *ud, const char *line, size_t len)
{
	struct levels *l = ud;
	if (memmem(line, len, "event=aws.error", 15)) {
		l->warn += memmem(line, len, "level=warn", 10) != NULL;
		l->debug += memmem(line, len, "level=debug", 11) != NULL;
	}
	fwrite(line, 1, len, stderr);
}

/* A lost condition is an answer of a shared store, logged at debug (a
 * PutItem's ConditionalCheckFailedException, a transaction cancelled by
 * its conditions); a real error stays at warn. */
static void test_lost_conditions_log_debug(void **state)
{
	struct t *t = *state;
	struct bot_error err = {0};
	struct levels lv = {0};
	char prev[65] = CHAIN_GENESIS, hash[65];
	char *appr[] = {"UA"};
	struct store *s;

	assert_int_equal(store_dynamodb_create_table(t->aws, t->uv, t->table, &err), 0);
	s = open_on(t, t->table);
	struct store_gate g = {
		.id = 7, .version = 1, .service = "web", .cluster = "prod", .ecs_service = "web",
		.requester = "UR", .action = "scale", .params = "{}", .approvers = appr,
		.n_approvers = 1, .min_approvals = 1, .state = GATE_PENDING, .created_at = 5,
		.updated_at = 5,
	};
	struct store_audit_row r = {.seq = 1, .gate_id = 7, .at = 11, .actor = "UA",
				    .kind = "note", .detail = "{}", .prev_hash = prev};
	assert_int_equal(chain_hash(&r, hash), 0);
	r.hash = hash;
	assert_int_equal(store_dynamodb_import_gate(s, &g, &err), 0);
	assert_int_equal(store_dynamodb_import_audit(s, &r, &err), 0);

	log_set_writer(count_levels, &lv);
	/* transaction cancelled by its conditions; PutItem's condition */
	assert_int_equal(store_dynamodb_import_gate(s, &g, &err), BOT_EDUPLICATE);
	assert_int_equal(store_dynamodb_import_audit(s, &r, &err), BOT_EDUPLICATE);
	assert_int_equal(lv.warn, 0);
	assert_int_equal(lv.debug, 2);
	/* a fault: no such table */
	assert_int_equal(store_dynamodb_check_table(t->aws, t->uv, "no-such-table", &err),
			 BOT_ENOTFOUND);
	assert_int_equal(lv.warn, 1);
	log_set_writer(NULL, NULL);
	store_close(s);
}

static int group_setup(void **state)
{
	char msg[2048];
	(void)state;
	log_set_level(BOT_LOG_DEBUG); /* every line is searched for the canary secret */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true,
					   .single_threaded = true}, &moto, msg, sizeof msg)) {
		fprintf(stderr, "\n*** DynamoDB store tests cannot run: %s\n\n", msg);
		return -1;
	}
	setenv("AWS_ENDPOINT_URL", moto_url(moto), 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_url(moto), 1);
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
		cmocka_unit_test_setup_teardown(test_table_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_from_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_cancels_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_alarms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_conditions_log_debug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_costs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate_chains_in_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_from_before_chains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
