/* The store conformance suite: what every store backend must do, checked
 * only through adapters/store.h. Run as `store_conformance BACKEND`; each
 * test opens TWO handles (A and B) on the same data, as two processes or two
 * replicas would, and interleaves them: a read on one, a write on the
 * other, then the first one's conditional write, which must lose and leave
 * nothing behind.
 *
 * Backends: sqlite (two connections to one file); dynamodb (two handles on
 * one table of a moto_server served single-threaded, so that its
 * conditional writes and transactions are atomic as in AWS; a fresh table
 * per test). A new backend adds one row to the table at the bottom and one
 * test() line to meson.build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "adapters/http/http.h"
#include "adapters/store.h"
#include "adapters/store/dynamodb.h"
#include "adapters/store/sqlite.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "bot/domain/audit.h"
#include "tests/fakes/moto.h"

struct harness;

struct backend {
	const char *name;
	/* Once per run: start the peer the backend needs (0 ok, else the suite
	 * fails). NULL: none. */
	int (*group_setup)(void);
	void (*group_teardown)(void);
	/* Make h->loop and an empty place for the data (0 ok, else the test
	 * fails). */
	int (*setup)(struct harness *h);
	/* A new handle on the data made by setup, on h's clock and h->loop. */
	int (*open)(struct harness *h, struct store **out, struct bot_error *err);
	/* After both handles were closed: remove the data, drain and close
	 * h->loop (asserting that it closes). */
	void (*teardown)(struct harness *h);
	/* How many times s's writes were read again and retried after losing
	 * to a writer of something that does not decide (NULL: the backend
	 * never retries). */
	uint64_t (*retries)(const struct store *s);
};

struct ddb_env;

struct harness {
	const struct backend *be;
	int64_t now; /* the fake wall clock every handle reads */
	bool tick;   /* every read of it moves it on by 1 ms */
	uv_loop_t *loop; /* the asynchronous calls answer here */
	uv_loop_t own_loop; /* sqlite: a plain loop */
	struct ddb_env *ddb; /* dynamodb: its loop, clients and table */
	struct store *a, *b;
	char dir[64], path[128];
};

static const struct backend *backend;

static int64_t clock_of(void *ud)
{
	struct harness *h = ud;
	return h->tick ? h->now++ : h->now;
}

/* ---- backends ---------------------------------------------------------- */

static int sqlite_setup(struct harness *h)
{
	if (uv_loop_init(&h->own_loop) != 0)
		return -1;
	h->loop = &h->own_loop;
	snprintf(h->dir, sizeof h->dir, "/tmp/store_conf.XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(h->path, sizeof h->path, "%s/gates.db", h->dir);
	return 0;
}

static int sqlite_open(struct harness *h, struct store **out, struct bot_error *err)
{
	struct store_sqlite_opts o = {.path = h->path, .clock = clock_of, .clock_ud = h};
	return store_sqlite_open(&o, out, err);
}

static void sqlite_teardown(struct harness *h)
{
	static const char *const side[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	for (size_t i = 0; i < sizeof side / sizeof *side; i++) {
		snprintf(p, sizeof p, "%s%s", h->path, side[i]);
		unlink(p);
	}
	rmdir(h->dir);
	uv_run(h->loop, UV_RUN_DEFAULT); /* the closes */
	assert_int_equal(uv_loop_close(h->loop), 0);
}

/* DynamoDB: one moto_server (single-threaded) for the run, a bot loop with
 * an http + credentials + aws client per test, and a fresh table per test
 * that both handles share. */
static struct moto *moto;

struct ddb_env {
	struct bot_loop *loop;
	struct http *http;
	struct aws_creds_provider *creds;
	struct aws_client *aws;
	char table[64];
};

static int ddb_group_setup(void)
{
	static const char *const endpoints[] = {
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_STS",
	};
	char msg[2048];

	log_set_level(BOT_LOG_WARN);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true,
					   .single_threaded = true}, &moto, msg, sizeof msg)) {
		fprintf(stderr, "\n*** the DynamoDB store conformance cannot run: %s\n\n", msg);
		return -1;
	}
	for (size_t i = 0; i < sizeof endpoints / sizeof *endpoints; i++)
		setenv(endpoints[i], moto_url(moto), 1); /* 127.0.0.1 only */
	fprintf(stderr, "moto (single-threaded) pid %d on %s\n", moto_pid(moto), moto_url(moto));
	return 0;
}

static void ddb_group_teardown(void)
{
	moto_stop(moto);
	moto = NULL;
}

static int ddb_setup(struct harness *h)
{
	static unsigned n;
	struct ddb_env *e = calloc(1, sizeof *e);
	struct bot_error err = {0};

	if (!e)
		return -1;
	h->ddb = e;
	if (bot_loop_create(&e->loop, &err) || http_create(e->loop, &(struct http_opts){0},
							   &e->http, &err) ||
	    aws_creds_create(e->http, NULL, &(struct aws_creds_opts){
		    .fixed = &(struct aws_creds){"AKIDCONFORMANCE", "conformance-c4n4ry-secret", NULL}},
		    &e->creds, &err) ||
	    aws_client_create(e->loop, e->http, &(struct aws_client_opts){.region = "us-east-1"},
			      &e->aws, &err)) {
		fprintf(stderr, "dynamodb setup: %s\n", err.msg);
		return -1;
	}
	aws_client_set_creds(e->aws, e->creds);
	h->loop = bot_loop_uv(e->loop);
	snprintf(e->table, sizeof e->table, "conformance-%d-%u", (int)getpid(), ++n);
	if (store_dynamodb_create_table(e->aws, h->loop, e->table, &err) ||
	    store_dynamodb_check_table(e->aws, h->loop, e->table, &err)) {
		fprintf(stderr, "dynamodb setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int ddb_open(struct harness *h, struct store **out, struct bot_error *err)
{
	struct store_dynamodb_opts o = {.aws = h->ddb->aws, .table = h->ddb->table,
					.loop = h->loop, .clock = clock_of, .clock_ud = h};
	return store_dynamodb_open(&o, out, err);
}

static void ddb_teardown(struct harness *h)
{
	struct ddb_env *e = h->ddb;

	if (!e)
		return;
	if (e->loop) {
		bot_loop_shutdown(e->loop);
		assert_int_equal(bot_loop_run(e->loop), 0);
	}
	aws_client_destroy(e->aws);
	aws_creds_destroy(e->creds);
	http_destroy(e->http);
	assert_int_equal(bot_loop_destroy(e->loop), 0);
	free(e);
	h->ddb = NULL;
}

static const struct backend backends[] = {
	{"sqlite", NULL, NULL, sqlite_setup, sqlite_open, sqlite_teardown, NULL},
	{"dynamodb", ddb_group_setup, ddb_group_teardown, ddb_setup, ddb_open, ddb_teardown,
	 store_dynamodb_retries},
};

/* ---- fixture ----------------------------------------------------------- */

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof *h);
	struct bot_error err = {0};

	assert_non_null(h);
	h->be = backend;
	h->now = 1700000000000;
	assert_int_equal(h->be->setup(h), 0);
	if (h->be->open(h, &h->a, &err) != BOT_EOK || h->be->open(h, &h->b, &err) != BOT_EOK)
		fail_msg("%s: open: %s", h->be->name, err.msg);
	assert_int_equal(store_attach_loop(h->a, h->loop), 0);
	assert_int_equal(store_attach_loop(h->b, h->loop), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	store_close(h->a);
	store_close(h->b);
	h->be->teardown(h);
	free(h);
	return 0;
}

static const char *const approvers[] = {"UAPPROVER1", "UAPPROVER2"};

static void fill(struct store_gate *g, const char *service, const char *ecs_service)
{
	memset(g, 0, sizeof *g);
	g->service = (char *)service;
	g->cluster = (char *)"prod";
	g->ecs_service = (char *)ecs_service;
	g->requester = (char *)"UREQ";
	g->action = (char *)STORE_ACTION_SCALE;
	g->params = (char *)"{\"target\":5}";
	g->target = 5;
	g->desired_at_request = 1;
	g->reason = (char *)"high cpu";
	g->timer_ms = 600000;
	g->approvers = (char **)approvers; /* read-only use by open */
	g->n_approvers = 2;
	g->min_approvals = 1;
	g->channel = (char *)"COPS";
	g->evidence = (char *)"CPU 97% for 10 min";
}

/* Open a gate on s; returns its id (asserts it was opened). */
static uint64_t open_on(struct store *s, struct store_gate *g)
{
	struct bot_error err = {0};
	enum store_result res;
	uint64_t holder = 99;

	assert_int_equal(store_gate_open(s, g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(holder, 0);
	assert_true(g->id > 0);
	return g->id;
}

static uint64_t open_web(struct store *s, const char *ecs_service)
{
	struct store_gate g;
	fill(&g, ecs_service, ecs_service);
	return open_on(s, &g);
}

static struct store_gate get(struct store *s, uint64_t id)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	if (store_gate_get(s, id, &g, &err) != BOT_EOK)
		fail_msg("get #%llu: %s", (unsigned long long)id, err.msg);
	return g;
}

static enum store_result change(struct store *s, uint64_t id, enum gate_state from,
				enum gate_state to, const char *actor)
{
	struct store_change c = {.gate_id = id, .from = from, .to = to, .actor = actor,
				 .decided_by = from == GATE_PENDING && strcmp(actor, "timer") != 0
						       ? actor : NULL};
	struct bot_error err = {0};
	enum store_result res;
	assert_int_equal(store_gate_change(s, &c, &res, &err), 0);
	return res;
}

struct audit_count {
	size_t n;
	uint64_t gate;
	const char *kind;
	size_t matching;
	const char *needle;
};

static int count_row(void *ud, const struct store_audit_row *r)
{
	struct audit_count *c = ud;
	c->n++;
	if ((!c->gate || r->gate_id == c->gate) && (!c->kind || strcmp(r->kind, c->kind) == 0) &&
	    (!c->needle || (r->detail && strstr(r->detail, c->needle))))
		c->matching++;
	return 0;
}

/* Audit events in s; with gate/kind/needle set, *matching counts those. */
static size_t audits(struct store *s, uint64_t gate, const char *kind, const char *needle,
		     size_t *matching)
{
	struct audit_count c = {.gate = gate, .kind = kind, .needle = needle};
	struct bot_error err = {0};
	assert_int_equal(store_audit_each(s, 0, count_row, &c, &err), 0);
	if (matching)
		*matching = c.matching;
	return c.n;
}

static void deliver(struct store *s, uint64_t id, const char *ts)
{
	struct bot_error err = {0};
	bool armed;
	assert_int_equal(store_gate_delivered(s, id, "COPS", ts, &armed, &err), 0);
}

/* ---- the request ------------------------------------------------------- */

static void test_open_get_roundtrip(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	uint64_t id = open_web(h->a, "web");
	struct store_gate g = get(h->b, id); /* the other handle sees it */
	size_t requested;

	assert_int_equal(g.id, id);
	assert_true(g.version > 0);
	assert_string_equal(g.service, "web");
	assert_string_equal(g.cluster, "prod");
	assert_string_equal(g.ecs_service, "web");
	assert_string_equal(g.requester, "UREQ");
	assert_string_equal(g.action, STORE_ACTION_SCALE);
	assert_string_equal(g.params, "{\"target\":5}");
	assert_int_equal(g.target, 5);
	assert_int_equal(g.desired_at_request, 1);
	assert_string_equal(g.reason, "high cpu");
	assert_int_equal(g.timer_ms, 600000);
	assert_int_equal(g.n_approvers, 2);
	assert_string_equal(g.approvers[1], "UAPPROVER2");
	assert_int_equal(g.min_approvals, 1);
	assert_string_equal(g.channel, "COPS");
	assert_string_equal(g.evidence, "CPU 97% for 10 min");
	assert_int_equal(g.state, GATE_PENDING);
	assert_int_equal(g.decision, GATE_PENDING);
	assert_int_equal(g.created_at, h->now);
	assert_int_equal(g.delivered_at, 0);
	assert_int_equal(g.deadline, 0);
	assert_null(g.decided_by);
	assert_int_equal(g.n_approved, 0);
	store_gate_clear(&g);
	assert_int_equal(store_gate_get(h->a, id + 1000, &g, &err), BOT_ENOTFOUND);
	/* the request is audited with the evidence the approvers saw */
	audits(h->a, id, "requested", "CPU 97%", &requested);
	assert_int_equal(requested, 1);
}

/* Every action kind with its parameters as the actions make them
 * (bot/domain/act_*.c prepare): a restart names the task definition and
 * the PRIMARY deployment at request time, a rollback both revisions and
 * the images that change (here with a quote, a backslash and non-ASCII
 * text, which the store must keep byte for byte: it stores the JSON text,
 * it does not parse it). */
#define TD_ARN "arn:aws:ecs:us-east-1:123456789012:task-definition/"
#define ECR "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
static const struct {
	const char *action, *params;
} action_kinds[] = {
	{STORE_ACTION_SCALE, "{\"target\":5}"},
	{"restart", "{\"task_definition\":\"" TD_ARN "web:7\",\"deployment\":"
		    "\"ecs-svc/6046879682958700\"}"},
	{"rollback", "{\"from\":\"" TD_ARN "web:7\",\"to\":\"" TD_ARN "web:6\",\"images\":["
		     "{\"container\":\"app\",\"from\":\"" ECR "web:1.27\",\"to\":\"" ECR
		     "web:1.25\"},{\"container\":\"log \\\"router\\\"\",\"from\":"
		     "\"fluent\\\\bit:2 \xe2\x86\x92 \\u00e9\",\"to\":\"fluent/bit:1\"}]}"},
	{"rollback", "{\"from\":\"" TD_ARN "api:3\",\"to\":\"" TD_ARN "api:1\",\"images\":[]}"},
};
#define N_KINDS (sizeof action_kinds / sizeof action_kinds[0])

/* Is g the gate opened from action_kinds[k], action and params exactly? */
static void assert_kind(const struct store_gate *g, size_t k)
{
	assert_non_null(g->action);
	assert_non_null(g->params);
	assert_string_equal(g->action, action_kinds[k].action);
	assert_string_equal(g->params, action_kinds[k].params);
}

/* What an asynchronous list answered: action and params of each gate,
 * moved out of the answer (it is freed after the callback). */
struct kinds_seen {
	int calls, rc;
	size_t n;
	uint64_t id[N_KINDS];
	char *action[N_KINDS], *params[N_KINDS];
};

static void on_kinds(void *ud, struct store_req *r)
{
	struct kinds_seen *k = ud;

	k->calls++;
	k->rc = r->rc;
	k->n = r->n;
	for (size_t i = 0; i < r->n && i < N_KINDS; i++) {
		k->id[i] = r->gates[i].id;
		k->action[i] = r->gates[i].action;
		k->params[i] = r->gates[i].params;
		r->gates[i].action = r->gates[i].params = NULL; /* moved out */
	}
}

/* Every action kind is stored, read and listed as it was given (issue 17
 * adds actions as rows of a table, never as a schema change): by get on
 * both handles, by the live and the recent listing, synchronous and not,
 * and still after the gate went through execution to a final state. */
static void test_action_kinds(void **state)
{
	struct harness *h = *state;
	uint64_t ids[N_KINDS];
	struct store_gate *v;
	size_t n;
	struct bot_error err = {0};
	struct kinds_seen seen = {0};
	enum store_result res;

	for (size_t i = 0; i < N_KINDS; i++) {
		struct store_gate g;
		char name[16];
		snprintf(name, sizeof name, "svc%zu", i);
		fill(&g, name, name);
		g.action = (char *)action_kinds[i].action;
		g.params = (char *)action_kinds[i].params;
		g.target = i == 0 ? 5 : 0;
		ids[i] = open_on(i % 2 ? h->b : h->a, &g);
	}
	for (size_t i = 0; i < N_KINDS; i++) {
		struct store_gate g = get(h->a, ids[i]);
		assert_kind(&g, i);
		store_gate_clear(&g);
		g = get(h->b, ids[i]);
		assert_kind(&g, i);
		store_gate_clear(&g);
	}
	assert_int_equal(store_gate_list(h->b, GATE_STATE_BIT(GATE_PENDING), &v, &n, &err), 0);
	assert_int_equal(n, N_KINDS);
	for (size_t i = 0; i < N_KINDS; i++) {
		assert_int_equal(v[i].id, ids[i]);
		assert_kind(&v[i], i);
	}
	store_gate_array_free(v, n);
	assert_int_equal(store_gate_list_async(h->a, GATE_LIVE_MASK, on_kinds, &seen), 0);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.rc, 0);
	assert_int_equal(seen.n, N_KINDS);
	for (size_t i = 0; i < N_KINDS; i++) {
		assert_int_equal(seen.id[i], ids[i]);
		assert_non_null(seen.action[i]);
		assert_non_null(seen.params[i]);
		assert_string_equal(seen.action[i], action_kinds[i].action);
		assert_string_equal(seen.params[i], action_kinds[i].params);
		free(seen.action[i]);
		free(seen.params[i]);
	}

	/* through execution to the end: the record is rewritten at each step,
	 * the action and its parameters stay as they were */
	for (size_t i = 0; i < N_KINDS; i++) {
		struct store *s = i % 2 ? h->a : h->b;
		struct store_change ex = {.gate_id = ids[i], .from = GATE_APPROVED,
					  .to = GATE_EXECUTING, .actor = "system",
					  .exec_intent = "{\"action\":\"UpdateService\"}",
					  .set_exec_from = true, .exec_from = 1, .owner = "host:1",
					  .lease_ms = 60000};
		struct store_change done = {.gate_id = ids[i], .from = GATE_EXECUTING,
					    .to = i == 3 ? GATE_FAILED : GATE_SUCCEEDED,
					    .actor = "system", .result_kind = "done"};
		assert_int_equal(change(s, ids[i], GATE_PENDING, GATE_APPROVED, "UAPPROVER1"),
				 STORE_DONE);
		assert_int_equal(store_gate_change(s, &ex, &res, &err), 0);
		assert_int_equal(res, STORE_DONE);
		assert_int_equal(store_gate_change(s, &done, &res, &err), 0);
		assert_int_equal(res, STORE_DONE);
	}
	assert_int_equal(store_gate_recent(h->a, 10, &v, &n, &err), 0);
	assert_int_equal(n, N_KINDS);
	for (size_t i = 0; i < N_KINDS; i++) { /* newest first */
		assert_int_equal(v[i].id, ids[N_KINDS - 1 - i]);
		assert_true(store_state_final(v[i].state));
		assert_kind(&v[i], N_KINDS - 1 - i);
	}
	store_gate_array_free(v, n);
	for (size_t i = 0; i < N_KINDS; i++) {
		struct store_gate g = get(h->b, ids[i]);
		assert_kind(&g, i);
		store_gate_clear(&g);
	}
}

/* One live gate per ECS service, across handles; the holder is named;
 * the service is free again once its gate is final. */
static void test_one_live_gate_per_service(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	enum store_result res;
	uint64_t holder = 0;
	struct store_gate g;
	uint64_t first = open_web(h->a, "web");
	size_t before = audits(h->a, 0, NULL, NULL, NULL);

	/* another name for the same ECS service, through the other handle */
	fill(&g, "web-alias", "web");
	assert_int_equal(store_gate_open(h->b, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_BUSY);
	assert_int_equal(holder, first);
	assert_int_equal(g.id, 0);
	assert_int_equal(store_service_holder(h->b, "prod", "web", &holder, &err), 0);
	assert_int_equal(holder, first);
	assert_int_equal(store_service_holder(h->b, "prod", "api", &holder, &err), 0);
	assert_int_equal(holder, 0);
	assert_int_equal(audits(h->a, 0, NULL, NULL, NULL), before); /* nothing written */

	/* the same service name in another cluster is another service */
	fill(&g, "web", "web");
	g.cluster = (char *)"staging";
	open_on(h->b, &g);

	/* still held while APPROVED and EXECUTING */
	assert_int_equal(change(h->b, first, GATE_PENDING, GATE_APPROVED, "UAPPROVER1"), STORE_DONE);
	fill(&g, "web", "web");
	assert_int_equal(store_gate_open(h->b, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_BUSY);
	assert_int_equal(change(h->a, first, GATE_APPROVED, GATE_EXECUTING, "system"), STORE_DONE);
	assert_int_equal(store_gate_open(h->b, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_BUSY);
	/* final: free */
	assert_int_equal(change(h->a, first, GATE_EXECUTING, GATE_SUCCEEDED, "system"), STORE_DONE);
	assert_int_equal(store_service_holder(h->a, "prod", "web", &holder, &err), 0);
	assert_int_equal(holder, 0); /* free once final */
	fill(&g, "web", "web");
	uint64_t second = open_on(h->b, &g);
	assert_true(second > first);
	/* and a denied one frees it too */
	assert_int_equal(change(h->a, second, GATE_PENDING, GATE_DENIED, "UAPPROVER2"), STORE_DONE);
	open_web(h->a, "web");
}

/* ---- transitions ------------------------------------------------------- */

/* Deny on A and the timer on B: whoever commits first decides; the loser
 * writes nothing. */
static void test_change_is_conditional(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	uint64_t id = open_web(h->a, "web");

	h->now += 1000;
	assert_int_equal(change(h->a, id, GATE_PENDING, GATE_DENIED, "UAPPROVER1"), STORE_DONE);
	size_t n = audits(h->a, 0, NULL, NULL, NULL);
	assert_int_equal(change(h->b, id, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_LOST);
	assert_int_equal(audits(h->b, 0, NULL, NULL, NULL), n);

	struct store_gate g = get(h->b, id);
	assert_int_equal(g.state, GATE_DENIED);
	assert_int_equal(g.decision, GATE_DENIED);
	assert_string_equal(g.decided_by, "UAPPROVER1");
	assert_int_equal(g.decided_at, h->now);
	assert_int_equal(g.finished_at, h->now);
	store_gate_clear(&g);
	size_t denied;
	audits(h->a, id, "denied", NULL, &denied);
	assert_int_equal(denied, 1);

	/* the same interleaving the other way round: the timer first */
	uint64_t id2 = open_web(h->b, "api");
	assert_int_equal(change(h->b, id2, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_DONE);
	assert_int_equal(change(h->a, id2, GATE_PENDING, GATE_DENIED, "UAPPROVER1"), STORE_LOST);
	g = get(h->a, id2);
	assert_int_equal(g.state, GATE_APPROVED_BY_TIMER);
	assert_null(g.decided_by); /* the timer is not a person */
	store_gate_clear(&g);

	/* malformed changes are refused before the backend sees them; a gate
	 * that does not exist is never changed */
	struct store_change same = {.gate_id = id2, .from = GATE_EXECUTING,
				    .to = GATE_EXECUTING, .actor = "system"};
	enum store_result res;
	assert_int_equal(store_gate_change(h->a, &same, &res, &err), BOT_EINVAL);
	assert_int_equal(change(h->a, id2 + 1000, GATE_PENDING, GATE_DENIED, "U1"), STORE_LOST);
}

static void test_execution_columns(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	enum store_result res;
	uint64_t id = open_web(h->a, "web");

	assert_int_equal(change(h->a, id, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_DONE);
	struct store_change c2 = {.gate_id = id, .from = GATE_APPROVED_BY_TIMER,
				  .to = GATE_EXECUTING, .actor = "system",
				  .exec_intent = "{\"desiredCount\":5}", .set_exec_from = true,
				  .exec_from = 1, .owner = "host-b:42", .lease_ms = 60000};
	h->now += 5;
	assert_int_equal(store_gate_change(h->b, &c2, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	/* a second claim of the same execution loses */
	assert_int_equal(store_gate_change(h->a, &c2, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
	struct store_change c3 = {.gate_id = id, .from = GATE_EXECUTING, .to = GATE_FAILED,
				  .actor = "system", .result_kind = "aws_error",
				  .result_detail = "denied", .aws_code = "AccessDeniedException",
				  .aws_request_id = "req-1"};
	h->now += 5;
	assert_int_equal(store_gate_change(h->a, &c3, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	struct store_gate g = get(h->b, id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_string_equal(g.exec_intent, "{\"desiredCount\":5}");
	assert_int_equal(g.exec_from, 1);
	assert_int_equal(g.exec_started_at, h->now - 5);
	assert_string_equal(g.exec_owner, "host-b:42"); /* the claim names its owner */
	assert_int_equal(g.exec_lease_until, h->now - 5 + 60000);
	assert_string_equal(g.result_kind, "aws_error");
	assert_string_equal(g.result_detail, "denied");
	assert_string_equal(g.aws_code, "AccessDeniedException");
	assert_string_equal(g.aws_request_id, "req-1");
	assert_int_equal(g.finished_at, h->now);
	store_gate_clear(&g);
}

/* A claim whose owner died is taken over by another process, once: the
 * lease is conditional on the version read, and only EXECUTING gates have
 * one. */
static void test_lease_takeover(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	enum store_result res;
	uint64_t id = open_web(h->a, "web");
	size_t n;

	assert_int_equal(change(h->a, id, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_DONE);
	struct store_lease early = {.gate_id = id, .owner = "host-b:7", .lease_ms = 60000, .kind = "takeover"};
	/* not EXECUTING: there is no claim to take */
	struct store_gate g0 = get(h->b, id);
	early.version = g0.version;
	store_gate_clear(&g0);
	assert_int_equal(store_gate_lease(h->b, &early, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
	struct store_change c = {.gate_id = id, .from = GATE_APPROVED_BY_TIMER,
				 .to = GATE_EXECUTING, .actor = "system", .owner = "host-a:1",
				 .lease_ms = 60000, .exec_intent = "{}"};
	assert_int_equal(store_gate_change(h->a, &c, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	struct store_gate g = get(h->b, id);
	uint64_t v = g.version;
	store_gate_clear(&g);
	h->now += 61000; /* host-a's lease ran out */
	struct store_lease b = {.gate_id = id, .version = v, .owner = "host-b:7",
				.lease_ms = 30000, .kind = "takeover",
				.detail = "{\"from\":\"host-a:1\"}"};
	struct store_lease c2 = b;
	c2.owner = "host-c:9";
	assert_int_equal(store_gate_lease(h->b, &b, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	/* a third process read the same version: it lost */
	assert_int_equal(store_gate_lease(h->a, &c2, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
	g = get(h->a, id);
	assert_int_equal(g.state, GATE_EXECUTING);
	assert_string_equal(g.exec_owner, "host-b:7");
	assert_int_equal(g.exec_lease_until, h->now + 30000);
	assert_true(g.version > v);
	store_gate_clear(&g);
	assert_int_equal(audits(h->a, id, "takeover", "host-a:1", &n) > 0, 1);
	assert_int_equal(n, 1);
	/* malformed: no owner */
	b.owner = NULL;
	assert_int_equal(store_gate_lease(h->a, &b, &res, &err), BOT_EINVAL);
}

/* A request opened with its poster's claim keeps it; the poster renews it
 * on the PENDING gate (conditional on the version, audited); a final gate
 * has no claim to renew. */
static void test_posters_claim(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	enum store_result res;
	struct store_gate g;
	size_t n;

	fill(&g, "web", "web");
	g.exec_owner = (char *)"host-a:1";
	g.exec_lease_until = h->now + 30000;
	uint64_t id = open_on(h->a, &g);
	struct store_gate got = get(h->b, id);
	assert_string_equal(got.exec_owner, "host-a:1");
	assert_int_equal(got.exec_lease_until, h->now + 30000);
	uint64_t v = got.version;
	store_gate_clear(&got);
	h->now += 15000;
	struct store_lease l = {.gate_id = id, .version = v, .owner = "host-a:1",
				.lease_ms = 30000, .kind = "delivery"};
	assert_int_equal(store_gate_lease(h->a, &l, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	got = get(h->b, id);
	assert_int_equal(got.state, GATE_PENDING);
	assert_int_equal(got.exec_lease_until, h->now + 30000);
	assert_true(got.version > v);
	store_gate_clear(&got);
	assert_true(audits(h->a, id, "delivery", NULL, &n) > 0);
	assert_int_equal(n, 1);
	/* the version it read is gone: lost */
	assert_int_equal(store_gate_lease(h->b, &l, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
	/* failed closed: nothing left to claim */
	assert_int_equal(change(h->b, id, GATE_PENDING, GATE_FAILED, "recovery"), STORE_DONE);
	got = get(h->a, id);
	l.version = got.version;
	store_gate_clear(&got);
	assert_int_equal(store_gate_lease(h->a, &l, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
}

struct answer {
	int calls;
	int rc;
	enum store_result res;
	uint64_t id, holder;
	bool flag;
};

static void on_answer(void *ud, struct store_req *r)
{
	struct answer *a = ud;
	a->calls++;
	a->rc = r->rc;
	a->flag = r->flag;
	a->res = r->res;
	a->id = r->gate.id;
	a->holder = r->holder;
}

/* The asynchronous calls: answered on a later loop turn, never inside the
 * call, with the same atomic semantics; stopping answers what is left. */
static void test_async_calls(void **state)
{
	struct harness *h = *state;
	struct answer o1 = {0}, o2 = {0}, va = {0}, vb = {0}, late = {0};
	struct store_gate g;

	fill(&g, "web", "web");
	assert_int_equal(store_gate_open_async(h->a, &g, on_answer, &o1), 0);
	assert_int_equal(store_gate_open_async(h->b, &g, on_answer, &o2), 0);
	assert_int_equal(o1.calls + o2.calls, 0); /* not inside the call */
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(o1.calls, 1);
	assert_int_equal(o2.calls, 1);
	assert_int_equal(o1.rc, 0);
	assert_int_equal(o2.rc, 0);
	/* one of the two opens won; the other names it */
	assert_true((o1.res == STORE_DONE) != (o2.res == STORE_DONE));
	uint64_t id = o1.res == STORE_DONE ? o1.id : o2.id;
	assert_true(id > 0);
	assert_int_equal(o1.res == STORE_DONE ? o2.holder : o1.holder, id);
	/* two votes on one version, one from each handle: one counts */
	struct store_gate r = get(h->a, id);
	struct store_vote v1 = {.gate_id = id, .version = r.version, .actor = "UAPPROVER1",
				.kind = "click", .approve_user = "UAPPROVER1",
				.to = GATE_APPROVED, .decided_by = "UAPPROVER1"};
	struct store_vote v2 = {.gate_id = id, .version = r.version, .actor = "UAPPROVER2",
				.kind = "click", .to = GATE_DENIED, .decided_by = "UAPPROVER2"};
	store_gate_clear(&r);
	assert_int_equal(store_gate_vote_async(h->a, &v1, on_answer, &va), 0);
	assert_int_equal(store_gate_vote_async(h->b, &v2, on_answer, &vb), 0);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(va.calls + vb.calls, 2);
	assert_true((va.res == STORE_DONE) != (vb.res == STORE_DONE));
	r = get(h->b, id);
	assert_int_equal(r.state, va.res == STORE_DONE ? GATE_APPROVED : GATE_DENIED);
	store_gate_clear(&r);
	/* malformed input is refused at the call, no answer follows */
	assert_int_equal(store_seen_event_async(h->a, "", on_answer, &late), BOT_EINVAL);
	/* stopping: what waits for its turn is answered as cancelled, and
	 * nothing more is accepted */
	assert_int_equal(store_gate_get_async(h->a, id, on_answer, &late), 0);
	store_stop(h->a);
	/* an answer waiting for its turn (SQLite) and a call still in flight
	 * (DynamoDB) are both answered now */
	assert_int_equal(late.calls, 1);
	assert_int_equal(store_gate_get_async(h->a, id, on_answer, &late), BOT_ESTATE);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.rc, BOT_ECANCELLED);
}

static void test_delivered_arms_once(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	bool armed;
	uint64_t id = open_web(h->a, "web");
	struct store_gate g = get(h->a, id);
	uint64_t v0 = g.version;
	store_gate_clear(&g);

	h->now += 250;
	assert_int_equal(store_gate_delivered(h->a, id, "COPS", "1700.1", &armed, &err), 0);
	assert_true(armed);
	g = get(h->b, id);
	assert_int_equal(g.delivered_at, h->now);
	assert_int_equal(g.deadline, h->now + 600000);
	assert_string_equal(g.message_ts, "1700.1");
	assert_true(g.version > v0); /* a vote read before delivery is stale */
	store_gate_clear(&g);
	h->now += 10;
	assert_int_equal(store_gate_delivered(h->b, id, "COPS", "1700.2", &armed, &err), 0);
	assert_false(armed);
	g = get(h->a, id);
	assert_string_equal(g.message_ts, "1700.1");
	assert_int_equal(g.deadline, h->now - 10 + 600000);
	store_gate_clear(&g);
	size_t delivered;
	audits(h->a, id, "delivered", NULL, &delivered);
	assert_int_equal(delivered, 2);

	/* decided before the post was confirmed: ts recorded, no deadline */
	uint64_t id2 = open_web(h->a, "api");
	assert_int_equal(change(h->b, id2, GATE_PENDING, GATE_CANCELLED, "UREQ"), STORE_DONE);
	assert_int_equal(store_gate_delivered(h->a, id2, "COPS", "1700.3", &armed, &err), 0);
	assert_false(armed);
	g = get(h->b, id2);
	assert_string_equal(g.message_ts, "1700.3");
	assert_int_equal(g.deadline, 0);
	store_gate_clear(&g);
}

/* ---- votes ------------------------------------------------------------- */

static enum store_result vote(struct store *s, const struct store_gate *as_read,
			      const char *user, const char *event_id, bool approve,
			      enum gate_state to)
{
	struct store_vote v = {
		.gate_id = as_read->id, .version = as_read->version, .event_id = event_id,
		.actor = user, .kind = "click", .detail = "{\"vote\":\"approve\"}",
		.approve_user = approve ? user : NULL, .to = to, .decided_by = user,
		.decision_detail = "approved", .change_detail = "{}",
	};
	struct bot_error err = {0};
	enum store_result res;
	assert_int_equal(store_gate_vote(s, &v, &res, &err), 0);
	return res;
}

/* Two approvers read the same version on two handles: the first vote
 * counts; the second is stale, writes nothing, and counts once read again. */
static void test_votes_conditional_on_version(void **state)
{
	struct harness *h = *state;
	struct store_gate g;
	fill(&g, "web", "web");
	g.min_approvals = 2;
	uint64_t id = open_on(h->a, &g);
	deliver(h->a, id, "1.1");
	struct store_gate ra = get(h->a, id), rb = get(h->b, id);

	assert_int_equal(vote(h->a, &ra, "UAPPROVER1", "E1", true, GATE_PENDING), STORE_DONE);
	size_t n = audits(h->a, 0, NULL, NULL, NULL);
	assert_int_equal(vote(h->b, &rb, "UAPPROVER2", "E2", true, GATE_APPROVED), STORE_LOST);
	assert_int_equal(audits(h->b, 0, NULL, NULL, NULL), n);
	struct store_gate now = get(h->b, id);
	assert_int_equal(now.state, GATE_PENDING);
	assert_int_equal(now.n_approved, 1);
	/* the lost vote's event id was not recorded either */
	assert_int_equal(vote(h->b, &now, "UAPPROVER2", "E2", true, GATE_APPROVED), STORE_DONE);
	store_gate_clear(&now);
	now = get(h->a, id);
	assert_int_equal(now.state, GATE_APPROVED);
	assert_int_equal(now.decision, GATE_APPROVED);
	assert_string_equal(now.decided_by, "UAPPROVER2");
	assert_string_equal(now.decision_detail, "approved");
	assert_int_equal(now.n_approved, 2);
	assert_string_equal(now.approved_by[0], "UAPPROVER1");
	assert_string_equal(now.approved_by[1], "UAPPROVER2");
	/* a click and a transition: two events for the deciding vote */
	assert_int_equal(audits(h->a, 0, NULL, NULL, NULL), n + 2);
	/* approving twice is never counted twice, even with a fresh read */
	assert_int_equal(vote(h->a, &now, "UAPPROVER1", "E3", true, GATE_PENDING), STORE_LOST);
	store_gate_clear(&now);
	store_gate_clear(&ra);
	store_gate_clear(&rb);
}

/* Deny (a vote on A, read before) against the timer (a change on B): the
 * timer commits between the read and the vote, so the deny loses; judged
 * again it is a refusal, which is audited without moving the gate. */
static void test_deny_vs_timer_interleaved(void **state)
{
	struct harness *h = *state;
	uint64_t id = open_web(h->a, "web");
	deliver(h->a, id, "1.1");
	struct store_gate ra = get(h->a, id);

	assert_int_equal(change(h->b, id, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_DONE);
	assert_int_equal(vote(h->a, &ra, "UAPPROVER1", "D1", false, GATE_DENIED), STORE_LOST);
	store_gate_clear(&ra);
	ra = get(h->a, id);
	assert_int_equal(ra.state, GATE_APPROVED_BY_TIMER);
	size_t clicks;
	audits(h->a, id, "click", NULL, &clicks);
	assert_int_equal(clicks, 0);
	assert_int_equal(vote(h->a, &ra, "UAPPROVER1", "D1", false, GATE_PENDING), STORE_DONE);
	audits(h->a, id, "click", NULL, &clicks);
	assert_int_equal(clicks, 1);
	store_gate_clear(&ra);
	ra = get(h->b, id);
	assert_int_equal(ra.state, GATE_APPROVED_BY_TIMER); /* a refusal moves nothing */
	store_gate_clear(&ra);

	/* and the other order: the deny commits first, the timer loses */
	uint64_t id2 = open_web(h->b, "api");
	deliver(h->b, id2, "1.2");
	struct store_gate rb = get(h->b, id2);
	assert_int_equal(vote(h->b, &rb, "UAPPROVER2", "D2", false, GATE_DENIED), STORE_DONE);
	assert_int_equal(change(h->a, id2, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_LOST);
	store_gate_clear(&rb);
	rb = get(h->a, id2);
	assert_int_equal(rb.state, GATE_DENIED);
	assert_string_equal(rb.decided_by, "UAPPROVER2");
	store_gate_clear(&rb);
}

/* An event id is processed once across handles (a redelivery to another
 * replica), until it expires. */
static void test_vote_dedupe_and_expiry(void **state)
{
	struct harness *h = *state;
	uint64_t id = open_web(h->a, "web");
	deliver(h->a, id, "1.1");
	struct store_gate r = get(h->a, id);

	assert_int_equal(vote(h->a, &r, "UMALLORY", "EV-1", false, GATE_PENDING), STORE_DONE);
	size_t n = audits(h->a, 0, NULL, NULL, NULL);
	assert_int_equal(vote(h->b, &r, "UMALLORY", "EV-1", false, GATE_PENDING),
			 STORE_DUPLICATE);
	assert_int_equal(audits(h->a, 0, NULL, NULL, NULL), n);
	h->now += STORE_DEFAULT_RETENTION_MS - 1;
	assert_int_equal(vote(h->b, &r, "UMALLORY", "EV-1", false, GATE_PENDING),
			 STORE_DUPLICATE);
	h->now += 2; /* now older than the retention: expired, handled again */
	assert_int_equal(vote(h->b, &r, "UMALLORY", "EV-1", false, GATE_PENDING), STORE_DONE);
	assert_int_equal(audits(h->a, 0, NULL, NULL, NULL), n + 1);
	store_gate_clear(&r);
}

/* A click on a gate that does not exist is audited; a vote claiming the gate
 * is missing loses when it exists. */
static void test_vote_on_missing_gate(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	enum store_result res;
	uint64_t id = open_web(h->a, "web");
	struct store_vote v = {.gate_id = id + 50, .gate_missing = true, .actor = "U1",
			       .kind = "click", .detail = "{\"outcome\":\"UNKNOWN_GATE\"}"};
	size_t unknown;

	assert_int_equal(store_gate_vote(h->b, &v, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	audits(h->a, id + 50, "click", "UNKNOWN_GATE", &unknown);
	assert_int_equal(unknown, 1);
	v.gate_id = id;
	assert_int_equal(store_gate_vote(h->b, &v, &res, &err), 0);
	assert_int_equal(res, STORE_LOST);
	/* a vote that would count or move a missing gate is malformed */
	v.gate_id = id + 50;
	v.approve_user = "U1";
	assert_int_equal(store_gate_vote(h->b, &v, &res, &err), BOT_EINVAL);
}

/* ---- dedupe of chat events --------------------------------------------- */

static void test_seen_and_purge(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	bool seen;
	int n = -1;

	assert_int_equal(store_seen_event(h->a, "Ev1", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(store_seen_event(h->b, "Ev1", &seen, &err), 0);
	assert_true(seen);
	h->now += 10 * 60 * 1000; /* 10 minutes: still remembered */
	assert_int_equal(store_seen_event(h->a, "Ev1", &seen, &err), 0);
	assert_true(seen);
	assert_int_equal(store_seen_event(h->b, "Ev2", &seen, &err), 0);
	assert_false(seen);
	h->now += 6 * 60 * 1000; /* Ev1 is 16 min old: expired */
	assert_int_equal(store_seen_event(h->b, "Ev1", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(store_seen_event(h->a, "Ev1", &seen, &err), 0);
	assert_true(seen);
	assert_int_equal(store_purge_events(h->a, h->now + 1, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_seen_event(h->b, "Ev2", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(store_seen_event(h->a, "", &seen, &err), BOT_EINVAL);
}

/* Processed ids asked for together (a burst: SQLite answers a loop turn's
 * asks from one commit): each id is new exactly once, whichever handle
 * asks, also twice within one turn; a stop answers what still waits. */
static void test_seen_async_together(void **state)
{
	struct harness *h = *state;
	struct answer a1 = {0}, a2 = {0}, a3 = {0}, b1 = {0}, c = {0}, late = {0};

	assert_int_equal(store_seen_event_async(h->a, "Burst1", on_answer, &a1), 0);
	assert_int_equal(store_seen_event_async(h->a, "Burst2", on_answer, &a2), 0);
	assert_int_equal(store_seen_event_async(h->a, "Burst1", on_answer, &a3), 0);
	assert_int_equal(store_seen_event_async(h->b, "Burst1", on_answer, &b1), 0);
	assert_int_equal(a1.calls + a2.calls + a3.calls + b1.calls, 0); /* never inside */
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(a1.calls + a2.calls + a3.calls + b1.calls, 4);
	assert_int_equal(a1.rc | a2.rc | a3.rc | b1.rc, 0);
	assert_false(a2.flag);
	assert_int_equal(!a1.flag + !a3.flag + !b1.flag, 1);
	/* a later turn: remembered */
	assert_int_equal(store_seen_event_async(h->b, "Burst2", on_answer, &c), 0);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_true(c.flag);
	assert_int_equal(store_seen_event_async(h->a, "Burst3", on_answer, &late), 0);
	store_stop(h->a);
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.rc, BOT_ECANCELLED);
}

/* ---- audit chain ------------------------------------------------------- */

static void test_chain_verifies_with_two_writers(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	size_t n = 0;

	for (int i = 0; i < 6; i++) {
		struct store *s = i % 2 ? h->b : h->a;
		char name[16];
		snprintf(name, sizeof name, "svc%d", i);
		uint64_t id = open_web(s, name);
		h->now += 7;
		deliver(i % 2 ? h->a : h->b, id, "1.1");
		assert_int_equal(store_audit_add(s, id, "recovery", "note", "{\"n\":1}", &err), 0);
		assert_int_equal(change(i % 2 ? h->a : h->b, id, GATE_PENDING, GATE_DENIED, "U1"),
				 STORE_DONE);
	}
	assert_int_equal(store_audit_add(h->b, 0, NULL, "startup", NULL, &err), 0);
	assert_int_equal(audit_verify(h->a, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, 6 * 4 + 1);
	assert_int_equal(audit_verify(h->b, &n, NULL, NULL, &err), 0);
	assert_int_equal(store_audit_add(h->a, 0, "x", "", NULL, &err), BOT_EINVAL);
}

/* Both handles write at once (the bot's loop does not wait for one answer
 * before it asks again): every write lands once, no event is lost or
 * doubled, and every chain is one line. */
static void test_concurrent_writers(void **state)
{
	enum { K = 4 };
	struct harness *h = *state;
	struct answer opens[2][K], notes[2][K];
	struct bot_error err = {0};
	struct store_gate g;
	char names[2][K][16];
	size_t n = 0, before = audits(h->a, 0, NULL, NULL, NULL);

	memset(opens, 0, sizeof opens);
	memset(notes, 0, sizeof notes);
	for (int k = 0; k < K; k++) {
		for (int s = 0; s < 2; s++) {
			struct store *st = s ? h->b : h->a;
			snprintf(names[s][k], sizeof names[s][k], "svc-%d-%d", s, k);
			fill(&g, names[s][k], names[s][k]);
			assert_int_equal(store_gate_open_async(st, &g, on_answer, &opens[s][k]), 0);
			assert_int_equal(store_audit_add_async(st, 0, "system", "note", "{}",
							       on_answer, &notes[s][k]), 0);
		}
	}
	uv_run(h->loop, UV_RUN_DEFAULT);
	for (int s = 0; s < 2; s++) {
		for (int k = 0; k < K; k++) {
			assert_int_equal(opens[s][k].calls, 1);
			assert_int_equal(opens[s][k].rc, 0);
			assert_int_equal(opens[s][k].res, STORE_DONE);
			assert_int_equal(notes[s][k].calls, 1);
			assert_int_equal(notes[s][k].rc, 0);
			for (int t = 0; t < 2; t++)
				for (int j = 0; j < K; j++)
					if (t != s || j != k)
						assert_true(opens[s][k].id != opens[t][j].id);
		}
	}
	assert_int_equal(audits(h->b, 0, NULL, NULL, NULL), before + 4 * K);
	assert_int_equal(audit_verify(h->b, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, before + 4 * K);
}

static uint64_t retries(const struct harness *h)
{
	return h->be->retries ? h->be->retries(h->a) + h->be->retries(h->b) : 0;
}

/* The versions of gates ids[0..n) (a synchronous read runs the loop: read
 * them all before putting writes in flight together). */
static void versions(struct harness *h, const uint64_t *ids, uint64_t *ver, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct store_gate g = get(h->a, ids[i]);
		ver[i] = g.version;
		store_gate_clear(&g);
	}
}

/* Run the loop until every call is answered: each once, without error,
 * and (want_done) STORE_DONE; res says nothing for delivered, audit_add. */
static void run_all(struct harness *h, struct answer *a, size_t n, bool want_done)
{
	uv_run(h->loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].rc, 0);
		if (want_done && a[i].res != STORE_DONE)
			fail_msg("answer %zu of %zu: %d, not STORE_DONE", i, n, (int)a[i].res);
	}
}

/* Writers of DIFFERENT gates, all in flight at once from both handles
 * (three replicas clicking on different cards): every write lands at its
 * first try - no audit chain funnels them through one item - and every
 * chain verifies. */
static void test_writers_of_different_gates_never_meet(void **state)
{
	enum { G = 16 };
	struct harness *h = *state;
	struct answer del[G], votes[G], execs[G], notes[G];
	struct bot_error err = {0};
	uint64_t ids[G], ver[G], before;
	char name[32], ev[G][32];
	size_t n = 0, base = audits(h->a, 0, NULL, NULL, NULL);

	memset(del, 0, sizeof del);
	memset(votes, 0, sizeof votes);
	memset(execs, 0, sizeof execs);
	memset(notes, 0, sizeof notes);
	for (int i = 0; i < G; i++) {
		snprintf(name, sizeof name, "svc-%d", i);
		ids[i] = open_web(i % 2 ? h->b : h->a, name);
	}
	before = retries(h);
	for (int i = 0; i < G; i++)
		assert_int_equal(store_gate_delivered_async(i % 2 ? h->a : h->b, ids[i], "COPS",
							    "1.1", on_answer, &del[i]), 0);
	run_all(h, del, G, false);
	versions(h, ids, ver, G); /* first: the writes must all be in flight together */
	for (int i = 0; i < G; i++) {
		snprintf(ev[i], sizeof ev[i], "Ev-click-%d", i);
		struct store_vote v = {.gate_id = ids[i], .version = ver[i], .event_id = ev[i],
				       .actor = "UAPPROVER1", .kind = "click",
				       .approve_user = "UAPPROVER1", .to = GATE_APPROVED,
				       .decided_by = "UAPPROVER1"};
		assert_int_equal(store_gate_vote_async(i % 2 ? h->b : h->a, &v, on_answer,
						       &votes[i]), 0);
	}
	run_all(h, votes, G, true);
	for (int i = 0; i < G; i++) {
		struct store_change c = {.gate_id = ids[i], .from = GATE_APPROVED,
					 .to = GATE_EXECUTING, .actor = "system",
					 .owner = "host:1", .lease_ms = 60000};
		assert_int_equal(store_gate_change_async(i % 2 ? h->a : h->b, &c, on_answer,
							 &execs[i]), 0);
	}
	run_all(h, execs, G, true);
	for (int i = 0; i < G; i++)
		assert_int_equal(store_audit_add_async(i % 2 ? h->b : h->a, ids[i], "recovery",
						       "note", "{}", on_answer, &notes[i]), 0);
	run_all(h, notes, G, false);
	assert_int_equal(retries(h), before); /* nobody waited for anybody */
	assert_int_equal(audit_verify(h->b, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, base + (size_t)G * 6); /* requested, delivered, click, approved,
						     executing, note */
	for (int i = 0; i < G; i++) {
		struct store_gate g = get(h->b, ids[i]);
		assert_int_equal(g.state, GATE_EXECUTING);
		assert_int_equal(g.n_approved, 1);
		store_gate_clear(&g);
	}
}

/* Writers of ONE gate still line up: notes racing each other, and notes
 * racing a vote, a change and a lease renewal on the same gate. A note
 * moves only the gate's audit chain, not what the vote or change is
 * conditional on: they still win (read again and retried, never LOST),
 * and the chain of each gate is one line. */
static void test_writers_of_one_gate_line_up(void **state)
{
	enum { N = 6, G = 4 };
	struct harness *h = *state;
	struct answer notes[N], votes[G], changes[G], leases[G], side[3][G];
	struct bot_error err = {0};
	uint64_t ids[G], ver[G];
	char name[32];
	size_t n = 0, matching = 0, base = audits(h->a, 0, NULL, NULL, NULL);

	memset(notes, 0, sizeof notes);
	memset(votes, 0, sizeof votes);
	memset(changes, 0, sizeof changes);
	memset(leases, 0, sizeof leases);
	memset(side, 0, sizeof side);
	for (int i = 0; i < G; i++) {
		snprintf(name, sizeof name, "one-%d", i);
		ids[i] = open_web(i % 2 ? h->b : h->a, name);
	}
	/* every write at its own time: two writers that sealed after the same
	 * tail would not even share a key */
	h->tick = true;
	for (int k = 0; k < N; k++)
		assert_int_equal(store_audit_add_async(k % 2 ? h->b : h->a, ids[0], "recovery",
						       "note", "{}", on_answer, &notes[k]), 0);
	run_all(h, notes, N, false);
	audits(h->a, ids[0], "note", NULL, &matching);
	assert_int_equal(matching, N);

	versions(h, ids, ver, G);
	for (int i = 0; i < G; i++) {
		struct store_vote v = {.gate_id = ids[i], .version = ver[i],
				       .actor = "UAPPROVER2", .kind = "click",
				       .approve_user = "UAPPROVER2", .to = GATE_APPROVED,
				       .decided_by = "UAPPROVER2"};
		assert_int_equal(store_audit_add_async(h->a, ids[i], "recovery", "note", "{}",
						       on_answer, &side[0][i]), 0);
		assert_int_equal(store_gate_vote_async(h->b, &v, on_answer, &votes[i]), 0);
	}
	run_all(h, side[0], G, false);
	run_all(h, votes, G, true);
	for (int i = 0; i < G; i++) {
		struct store_change c = {.gate_id = ids[i], .from = GATE_APPROVED,
					 .to = GATE_EXECUTING, .actor = "system",
					 .owner = "host:1", .lease_ms = 60000};
		assert_int_equal(store_audit_add_async(h->b, ids[i], "recovery", "note", "{}",
						       on_answer, &side[1][i]), 0);
		assert_int_equal(store_gate_change_async(h->a, &c, on_answer, &changes[i]), 0);
	}
	run_all(h, side[1], G, false);
	run_all(h, changes, G, true);
	versions(h, ids, ver, G);
	for (int i = 0; i < G; i++) {
		struct store_lease l = {.gate_id = ids[i], .version = ver[i],
					.owner = "host:2", .lease_ms = 60000, .kind = "renew"};
		assert_int_equal(store_audit_add_async(h->a, ids[i], "recovery", "note", "{}",
						       on_answer, &side[2][i]), 0);
		assert_int_equal(store_gate_lease_async(h->b, &l, on_answer, &leases[i]), 0);
	}
	run_all(h, side[2], G, false);
	run_all(h, leases, G, true);
	assert_int_equal(audit_verify(h->a, &n, NULL, NULL, &err), 0);
	/* requested + N notes; then per gate: note, click, approved, note,
	 * executing, note, renew */
	assert_int_equal(n, base + G + N + (size_t)G * 7);
	for (int i = 0; i < G; i++) {
		struct store_gate g = get(h->b, ids[i]);
		assert_int_equal(g.state, GATE_EXECUTING);
		assert_string_equal(g.exec_owner, "host:2");
		store_gate_clear(&g);
	}
}

/* A clock that steps back (another replica's, or NTP): each chain still
 * comes out in its own order and verifies; at is what the clock said. */
static void test_clock_steps_back(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	size_t n = 0, base = audits(h->a, 0, NULL, NULL, NULL);
	uint64_t id = open_web(h->a, "web");

	h->now -= 5000;
	deliver(h->b, id, "1.1");
	assert_int_equal(store_audit_add(h->b, 0, "system", "startup", NULL, &err), 0);
	h->now -= 5000;
	assert_int_equal(store_audit_add(h->a, id, "recovery", "note", NULL, &err), 0);
	assert_int_equal(store_audit_add(h->a, 0, "system", "startup", NULL, &err), 0);
	assert_int_equal(change(h->b, id, GATE_PENDING, GATE_DENIED, "UAPPROVER1"), STORE_DONE);
	assert_int_equal(audit_verify(h->a, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, base + 6);
	/* since: what was written at or after a time, by its own clock */
	struct audit_count c = {0};
	assert_int_equal(store_audit_each(h->b, h->now + 5000, count_row, &c, &err), 0);
	assert_int_equal(c.n, 3); /* requested, delivered, the first startup */
}

/* ---- alarm records ----------------------------------------------------- */

#define ARN "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu"

/* key's record as s reads it (asserts the read answered). */
static struct store_alarm alarm_get(struct store *s, const char *key)
{
	struct store_alarm a = {0};
	struct bot_error err = {0};
	if (store_alarm_get(s, key, &a, &err) != BOT_EOK)
		fail_msg("alarm_get %s: %s", key, err.msg);
	return a;
}

/* Put and return how it ended; a DONE answer must name the new version,
 * the key and the store clock's time. */
static enum store_result alarm_put(struct harness *h, struct store *s, const char *key,
				   uint64_t version, const char *body)
{
	struct store_alarm out = {0};
	struct bot_error err = {0};
	enum store_result res = STORE_BUSY;

	if (store_alarm_put(s, key, version, body, &res, &out, &err) != BOT_EOK)
		fail_msg("alarm_put %s v%llu: %s", key, (unsigned long long)version, err.msg);
	if (res == STORE_DONE) {
		assert_string_equal(out.key, key);
		assert_int_equal(out.version, version + 1);
		assert_int_equal(out.updated_at, h->now);
		assert_null(out.body);
	} else {
		assert_int_equal(res, STORE_LOST);
		assert_null(out.key);
		assert_int_equal(out.version, 0);
	}
	store_alarm_clear(&out);
	return res;
}

/* key's record is exactly (version, body, updated_at) as s reads it. */
static void alarm_is(struct store *s, const char *key, uint64_t version, const char *body,
		     int64_t updated_at)
{
	struct store_alarm a = alarm_get(s, key);
	assert_string_equal(a.key, key);
	assert_int_equal(a.version, version);
	if (body)
		assert_string_equal(a.body, body);
	else
		assert_null(a.body);
	assert_int_equal(a.updated_at, updated_at);
	store_alarm_clear(&a);
}

/* One record per key, each write conditional on the version read, across
 * handles: the loser writes nothing. */
static void test_alarm_records(void **state)
{
	struct harness *h = *state;
	const char *b1 = "{\"state\":\"ALARM\",\"episode\":1}";
	const char *b2 = "{\"state\":\"OK\",\"episode\":1,\"gate\":7}";
	int64_t t1;

	alarm_is(h->a, ARN, 0, NULL, 0); /* none: not an error */
	assert_int_equal(alarm_put(h, h->a, ARN, 0, b1), STORE_DONE);
	t1 = h->now;
	alarm_is(h->b, ARN, 1, b1, t1); /* the other handle reads it */
	/* created already: a second create loses and changes nothing */
	h->now += 1000;
	assert_int_equal(alarm_put(h, h->b, ARN, 0, "{\"other\":1}"), STORE_LOST);
	alarm_is(h->a, ARN, 1, b1, t1);
	/* the next write at the version read */
	assert_int_equal(alarm_put(h, h->b, ARN, 1, b2), STORE_DONE);
	alarm_is(h->a, ARN, 2, b2, h->now);
	/* a writer that read version 1 is stale now; so is one from the future */
	h->now += 1000;
	assert_int_equal(alarm_put(h, h->a, ARN, 1, b1), STORE_LOST);
	assert_int_equal(alarm_put(h, h->a, ARN, 3, b1), STORE_LOST);
	alarm_is(h->b, ARN, 2, b2, h->now - 1000);
	/* a record that does not exist is not at version 1 either */
	assert_int_equal(alarm_put(h, h->a, ARN ":x", 1, b1), STORE_LOST);
	alarm_is(h->a, ARN ":x", 0, NULL, 0);
}

/* Keys that differ slightly are different records. */
static void test_alarm_keys_apart(void **state)
{
	struct harness *h = *state;
	static const char *const keys[] = {
		ARN, ARN "2", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpX",
		"arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cp",
		"ARN:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu", ARN " ",
		"arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu#alarm",
	};
	enum { N = sizeof keys / sizeof *keys };
	char body[64];

	for (size_t i = 0; i < N; i++) {
		alarm_is(h->a, keys[i], 0, NULL, 0);
		snprintf(body, sizeof body, "{\"i\":%zu}", i);
		for (size_t v = 0; v <= i; v++) /* key i at version i + 1 */
			assert_int_equal(alarm_put(h, v % 2 ? h->b : h->a, keys[i], v, body),
					 STORE_DONE);
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(body, sizeof body, "{\"i\":%zu}", i);
		alarm_is(h->b, keys[i], i + 1, body, h->now);
	}
}

/* Malformed input is refused before the backend: nothing is written. */
static void test_alarm_bad_args(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	struct store_alarm a = {0};
	enum store_result res;
	char key[STORE_ALARM_KEY_MAX + 2];
	struct answer late = {0};

	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0'; /* one byte too many */
	assert_int_equal(store_alarm_get(h->a, "", &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_get(h->a, NULL, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_get(h->a, key, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, "", 0, "{}", &res, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, key, 0, "{}", &res, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, ARN, 0, "[1]", &res, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, ARN, 0, "", &res, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, ARN, 0, NULL, &res, &a, &err), BOT_EINVAL);
	assert_int_equal(store_alarm_put(h->a, ARN, 0, " {}", &res, &a, &err), BOT_EINVAL);
	assert_null(a.key);
	assert_int_equal(store_alarm_put_async(h->a, "", 0, "{}", on_answer, &late), BOT_EINVAL);
	assert_int_equal(store_alarm_put_async(h->a, key, 0, "{}", on_answer, &late),
			 BOT_EINVAL);
	assert_int_equal(store_alarm_put_async(h->a, ARN, 0, "x", on_answer, &late), BOT_EINVAL);
	assert_int_equal(store_alarm_get_async(h->a, "", on_answer, &late), BOT_EINVAL);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(late.calls, 0);
	alarm_is(h->b, ARN, 0, NULL, 0);
	key[STORE_ALARM_KEY_MAX - 1] = '\0'; /* a key just short enough... */
	alarm_is(h->b, key, 0, NULL, 0);
	key[STORE_ALARM_KEY_MAX - 1] = 'k'; /* ... was not written as the long one */
	key[STORE_ALARM_KEY_MAX] = '\0';
	alarm_is(h->b, key, 0, NULL, 0);
	/* the longest key is a key like any other */
	assert_int_equal(alarm_put(h, h->a, key, 0, "{}"), STORE_DONE);
	alarm_is(h->b, key, 1, "{}", h->now);
}

struct alarm_answer {
	int calls;
	int rc;
	enum store_result res;
	struct store_alarm alarm; /* moved out of the answer */
};

static void on_alarm(void *ud, struct store_req *r)
{
	struct alarm_answer *a = ud;
	a->calls++;
	a->rc = r->rc;
	a->res = r->res;
	store_alarm_clear(&a->alarm);
	a->alarm = r->alarm;
	memset(&r->alarm, 0, sizeof r->alarm);
}

/* The asynchronous calls: answered on a later turn, with the same
 * semantics; of two puts at one version from two handles, one wins. */
static void test_alarm_async(void **state)
{
	struct harness *h = *state;
	struct alarm_answer g = {0}, p1 = {0}, p2 = {0}, st = {0};

	assert_int_equal(store_alarm_get_async(h->a, ARN, on_alarm, &g), 0);
	assert_int_equal(store_alarm_put_async(h->a, ARN, 0, "{\"by\":\"a\"}", on_alarm, &p1), 0);
	assert_int_equal(store_alarm_put_async(h->b, ARN, 0, "{\"by\":\"b\"}", on_alarm, &p2), 0);
	assert_int_equal(g.calls + p1.calls + p2.calls, 0); /* not inside the call */
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.alarm.version, 0);
	assert_null(g.alarm.body);
	assert_int_equal(p1.calls, 1);
	assert_int_equal(p2.calls, 1);
	assert_int_equal(p1.rc, 0);
	assert_int_equal(p2.rc, 0);
	assert_true((p1.res == STORE_DONE) != (p2.res == STORE_DONE));
	struct alarm_answer *won = p1.res == STORE_DONE ? &p1 : &p2;
	struct alarm_answer *lost = p1.res == STORE_DONE ? &p2 : &p1;
	assert_int_equal(lost->res, STORE_LOST);
	assert_string_equal(won->alarm.key, ARN);
	assert_int_equal(won->alarm.version, 1);
	assert_int_equal(won->alarm.updated_at, h->now);
	assert_int_equal(lost->alarm.version, 0);
	assert_null(lost->alarm.key);
	alarm_is(h->a, ARN, 1, won == &p1 ? "{\"by\":\"a\"}" : "{\"by\":\"b\"}", h->now);
	/* the same read, asynchronously */
	assert_int_equal(store_alarm_get_async(h->b, ARN, on_alarm, &g), 0);
	/* a stale put, asynchronously */
	assert_int_equal(store_alarm_put_async(h->b, ARN, 0, "{}", on_alarm, &st), 0);
	uv_run(h->loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.alarm.version, 1);
	assert_string_equal(g.alarm.key, ARN);
	assert_string_equal(g.alarm.body, won == &p1 ? "{\"by\":\"a\"}" : "{\"by\":\"b\"}");
	assert_int_equal(g.alarm.updated_at, h->now);
	assert_int_equal(st.calls, 1);
	assert_int_equal(st.rc, 0);
	assert_int_equal(st.res, STORE_LOST);
	store_alarm_clear(&g.alarm);
	store_alarm_clear(&p1.alarm);
	store_alarm_clear(&p2.alarm);
	store_alarm_clear(&st.alarm);
}

/* Two replicas handling the same alarm messages: every round both put at
 * the version they read, all in flight together over several keys; each
 * round of each key has exactly one winner, and the record holds its
 * body. */
static void test_alarm_race(void **state)
{
	enum { K = 3, ROUNDS = 6 };
	struct harness *h = *state;
	struct alarm_answer ans[K][2];
	char keys[K][80], body[K][2][48];

	for (int k = 0; k < K; k++)
		snprintf(keys[k], sizeof keys[k], ARN "-%d", k);
	for (uint64_t v = 0; v < ROUNDS; v++) {
		memset(ans, 0, sizeof ans);
		for (int k = 0; k < K; k++) {
			for (int s = 0; s < 2; s++) {
				snprintf(body[k][s], sizeof body[k][s], "{\"round\":%d,\"by\":%d}",
					 (int)v, s);
				assert_int_equal(store_alarm_put_async(s ? h->b : h->a, keys[k], v,
								       body[k][s], on_alarm,
								       &ans[k][s]), 0);
			}
		}
		uv_run(h->loop, UV_RUN_DEFAULT);
		for (int k = 0; k < K; k++) {
			int wins = 0, winner = -1;
			for (int s = 0; s < 2; s++) {
				assert_int_equal(ans[k][s].calls, 1);
				assert_int_equal(ans[k][s].rc, 0);
				if (ans[k][s].res == STORE_DONE) {
					wins++;
					winner = s;
					assert_int_equal(ans[k][s].alarm.version, v + 1);
				} else {
					assert_int_equal(ans[k][s].res, STORE_LOST);
				}
				store_alarm_clear(&ans[k][s].alarm);
			}
			if (wins != 1)
				fail_msg("key %d round %d: %d winners", k, (int)v, wins);
			alarm_is(winner % 2 ? h->a : h->b, keys[k], v + 1, body[k][winner], h->now);
		}
	}
}

/* Alarm records stay out of every gate listing, count, audit walk and the
 * purge of processed ids; nothing they write is audited. */
static void test_alarms_out_of_listings(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	uint64_t before[GATE_STATE_COUNT], after[GATE_STATE_COUNT];
	struct store_gate *v;
	size_t n_live, n_recent, n_audit, n = 0;
	int purged = -1;
	uint64_t p = open_web(h->a, "p"), de = open_web(h->b, "de");
	char key[80];

	assert_int_equal(change(h->a, de, GATE_PENDING, GATE_DENIED, "U1"), STORE_DONE);
	assert_int_equal(store_gate_counts(h->b, before, &err), 0);
	n_audit = audits(h->a, 0, NULL, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "%s-%d", ARN, i);
		/* bodies that look like gates and audit events to a careless reader */
		assert_int_equal(alarm_put(h, h->a, key, 0,
					   "{\"gstate\":\"PENDING\",\"gkind\":\"gate\"}"),
				 STORE_DONE);
		assert_int_equal(alarm_put(h, h->b, key, 1, "{\"kind\":\"note\",\"at\":1}"),
				 STORE_DONE);
	}
	assert_int_equal(store_gate_counts(h->a, after, &err), 0);
	assert_memory_equal(before, after, sizeof before);
	assert_int_equal(after[GATE_PENDING], 1);
	assert_int_equal(after[GATE_DENIED], 1);
	assert_int_equal(store_gate_list(h->b, (1u << GATE_STATE_COUNT) - 1, &v, &n_live, &err), 0);
	assert_int_equal(n_live, 2);
	assert_int_equal(v[0].id, p);
	assert_int_equal(v[1].id, de);
	store_gate_array_free(v, n_live);
	assert_int_equal(store_gate_recent(h->a, 100, &v, &n_recent, &err), 0);
	assert_int_equal(n_recent, 2);
	store_gate_array_free(v, n_recent);
	assert_int_equal(audits(h->b, 0, NULL, NULL, NULL), n_audit);
	assert_int_equal(audit_verify(h->a, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, n_audit);
	/* a purge of everything processed before a far future keeps them */
	h->now += 3600 * 1000;
	assert_int_equal(store_purge_events(h->a, h->now + 1, &purged, &err), 0);
	assert_int_equal(purged, 0);
	alarm_is(h->b, key, 2, "{\"kind\":\"note\",\"at\":1}", h->now - 3600 * 1000);
}

/* ---- recovery listings ------------------------------------------------- */

static void test_listings(void **state)
{
	struct harness *h = *state;
	struct bot_error err = {0};
	struct store_gate *v;
	size_t n;
	uint64_t counts[GATE_STATE_COUNT];
	uint64_t p = open_web(h->a, "p"), ap = open_web(h->b, "ap"), ex = open_web(h->a, "ex"),
		 de = open_web(h->b, "de"), su = open_web(h->a, "su");

	assert_int_equal(change(h->b, ap, GATE_PENDING, GATE_APPROVED, "U1"), STORE_DONE);
	assert_int_equal(change(h->a, ex, GATE_PENDING, GATE_APPROVED_BY_TIMER, "timer"),
			 STORE_DONE);
	assert_int_equal(change(h->b, ex, GATE_APPROVED_BY_TIMER, GATE_EXECUTING, "system"),
			 STORE_DONE);
	assert_int_equal(change(h->a, de, GATE_PENDING, GATE_DENIED, "U1"), STORE_DONE);
	assert_int_equal(change(h->a, su, GATE_PENDING, GATE_APPROVED, "U1"), STORE_DONE);
	assert_int_equal(change(h->a, su, GATE_APPROVED, GATE_EXECUTING, "system"), STORE_DONE);
	assert_int_equal(change(h->b, su, GATE_EXECUTING, GATE_SUCCEEDED, "system"), STORE_DONE);

	/* what a restarted replica must pick up, in id order */
	assert_int_equal(store_gate_list(h->b, GATE_LIVE_MASK, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, p);
	assert_int_equal(v[1].id, ap);
	assert_int_equal(v[2].id, ex);
	assert_int_equal(v[2].state, GATE_EXECUTING);
	store_gate_array_free(v, n);
	assert_int_equal(store_gate_list(h->a, GATE_STATE_BIT(GATE_EXECUTING), &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, ex);
	store_gate_array_free(v, n);
	/* newest first, bounded */
	assert_int_equal(store_gate_recent(h->a, 2, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, su);
	assert_int_equal(v[1].id, de);
	store_gate_array_free(v, n);
	assert_int_equal(store_gate_recent(h->a, 0, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_gate_counts(h->b, counts, &err), 0);
	assert_int_equal(counts[GATE_PENDING], 1);
	assert_int_equal(counts[GATE_APPROVED], 1);
	assert_int_equal(counts[GATE_EXECUTING], 1);
	assert_int_equal(counts[GATE_DENIED], 1);
	assert_int_equal(counts[GATE_SUCCEEDED], 1);
	assert_int_equal(counts[GATE_FAILED], 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_live_gate_per_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_is_conditional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execution_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_posters_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivered_arms_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_votes_conditional_on_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_vs_timer_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vote_dedupe_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vote_on_missing_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_async_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_verifies_with_two_writers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writers_of_different_gates_never_meet, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writers_of_one_gate_line_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_steps_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_keys_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarms_out_of_listings, setup, teardown),
	};
	const char *name = argc > 1 ? argv[1] : "sqlite";

	for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
		if (strcmp(backends[i].name, name) == 0)
			backend = &backends[i];
	if (!backend) {
		fprintf(stderr, "store_conformance: no backend '%s'\n", name);
		return 2;
	}
	char group[64];
	int rc;
	snprintf(group, sizeof group, "store conformance: %s", name);
	if (backend->group_setup && backend->group_setup() != 0)
		return 1;
	rc = _cmocka_run_group_tests(group, tests, sizeof tests / sizeof *tests, NULL, NULL);
	if (backend->group_teardown)
		backend->group_teardown();
	return rc;
}
