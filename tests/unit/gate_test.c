/* The gate engine against a real SQLite store, an in-test cloud that counts
 * (and can fail or stall) calls, and an in-test observer that delivers or
 * fails delivery on demand. The observer and the cloud check on every call
 * that the store already holds what they are being told (commit first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/store/sqlite.h"
#include "bot/domain/audit.h"
#include "bot/domain/gate.h"
#include "bot/base/log.h"

/* ---- fake cloud -------------------------------------------------------- */

struct fixture;

struct reply {
	uv_timer_t t;
	struct fake_cloud *fc;
	bool is_scale;
	cloud_describe_cb dcb;
	cloud_scale_cb scb;
	void *ud;
	int desired;
	struct reply *next;
};

struct fake_cloud {
	struct cloud base;
	struct fixture *f;
	int desired;
	const char *status;
	bool missing;
	int describe_calls, scale_calls, applied;
	int fail_describe;        /* bot_err to answer describe with */
	int fail_scale;           /* bot_err to answer scale with */
	int fail_http;
	bool apply_on_call;       /* the change lands when the call is made */
	bool apply_despite_error; /* ...even if the answer is an error */
	bool hold_describe, hold_scale; /* never answer (until released) */
	const char *success_request_id;
	struct reply *held;
	/* restart: the service's one deployment, whose id a forced deployment
	 * replaces, as ECS does; a deploy's reply has desired DEPLOY */
	int deployment, deploy_calls;
	char deployment_id[32];
};

#define DEPLOY (-1)

/* The call's effect on the service. */
static void apply(struct fake_cloud *fc, int desired)
{
	if (desired == DEPLOY)
		fc->deployment++;
	else
		fc->desired = desired;
}

/* ---- fixture ----------------------------------------------------------- */

#define MAX_EV 256

struct seen_ev {
	enum gate_event ev;
	uint64_t id;
	enum gate_state state;
	char detail[256];
	uint64_t iter;
};

enum deliver_mode { DELIVER_ASYNC = 0, DELIVER_SYNC, DELIVER_FAIL, DELIVER_HOLD };

struct fixture {
	char dir[64], path[128];
	uv_loop_t loop;
	uv_prepare_t iter_h;
	uint64_t iter;
	int64_t offset;           /* added to the real wall clock */
	struct store *store;
	struct fake_cloud cloud;
	struct gate_engine *eng;
	enum deliver_mode mode;
	int posts;
	gate_delivered_fn held_fn;
	void *held_token;
	struct seen_ev ev[MAX_EV];
	int n_ev;
	uint64_t reminder_gap_ms;
	uint64_t delivery_lease_ms; /* engines started from now on (0 = default) */
	const char *revoked;      /* the configuration no longer names this user */
	bool shared;              /* engines started from now on share the store */
	struct replica *replica;  /* another engine on the store (stopped at teardown) */
};

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono(void)
{
	return uv_hrtime() / 1000000u;
}

static int64_t test_clock(void *ud)
{
	return real_ms() + ((struct fixture *)ud)->offset;
}

static enum gate_state stored_state(struct fixture *f, uint64_t id)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	assert_int_equal(store_gate_get(f->store, id, &g, &err), 0);
	enum gate_state s = g.state;
	store_gate_clear(&g);
	return s;
}

static void reply_closed(uv_handle_t *h)
{
	free(h);
}

static void on_reply(uv_timer_t *t)
{
	struct reply *r = (struct reply *)t;
	struct fake_cloud *fc = r->fc;
	struct cloud_error ce = {0};
	snprintf(fc->deployment_id, sizeof fc->deployment_id, "ecs-svc/%d", fc->deployment);
	struct cloud_deployment dep = {
		.id = fc->deployment_id, .status = "PRIMARY", .desired = fc->desired,
		.running = fc->desired,
	};
	struct cloud_service svc = {
		.name = "web-svc", .cluster = "prod", .status = fc->status, .desired = fc->desired,
		.running = fc->desired, .task_definition = "web:4", .deployments = &dep,
		.n_deployments = 1,
	};

	if (r->is_scale) {
		if (fc->fail_scale) {
			ce.code = fc->fail_scale;
			ce.http_status = fc->fail_http;
			snprintf(ce.aws_code, sizeof ce.aws_code, "%s",
				 fc->fail_scale == BOT_EPERM ? "AccessDeniedException" : "");
			snprintf(ce.message, sizeof ce.message, "not allowed to UpdateService");
			snprintf(ce.request_id, sizeof ce.request_id, "req-fail-1");
			ce.attempts = 1;
			if (fc->apply_despite_error && !fc->apply_on_call) {
				apply(fc, r->desired);
				fc->applied++;
			}
			r->scb(r->ud, &ce, NULL);
		} else {
			if (!fc->apply_on_call) {
				apply(fc, r->desired);
				fc->applied++;
			}
			svc.desired = fc->desired;
			if (fc->success_request_id)
				snprintf(ce.request_id, sizeof ce.request_id, "%s", fc->success_request_id);
			r->scb(r->ud, fc->success_request_id ? &ce : NULL, &svc);
		}
	} else if (fc->missing || fc->fail_describe) {
		ce.code = fc->missing ? BOT_ENOTFOUND : fc->fail_describe;
		snprintf(ce.message, sizeof ce.message, "%s", fc->missing ? "MISSING" : "boom");
		r->dcb(r->ud, &ce, NULL);
	} else {
		r->dcb(r->ud, NULL, &svc);
	}
	uv_close((uv_handle_t *)t, reply_closed);
}

static struct reply *new_reply(struct fake_cloud *fc, bool hold)
{
	struct reply *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->fc = fc;
	assert_int_equal(uv_timer_init(&fc->f->loop, &r->t), 0);
	if (hold) {
		r->next = fc->held;
		fc->held = r;
	} else {
		assert_int_equal(uv_timer_start(&r->t, on_reply, 0, 0), 0);
	}
	return r;
}

static void release_held(struct fake_cloud *fc)
{
	for (struct reply *r = fc->held, *next; r; r = next) {
		next = r->next;
		assert_int_equal(uv_timer_start(&r->t, on_reply, 0, 0), 0);
	}
	fc->held = NULL;
}

static int fake_describe(struct cloud *c, const char *cluster, const char *service,
			 cloud_describe_cb cb, void *ud)
{
	struct fake_cloud *fc = (struct fake_cloud *)c;
	(void)cluster;
	(void)service;
	fc->describe_calls++;
	struct reply *r = new_reply(fc, fc->hold_describe);
	r->dcb = cb;
	r->ud = ud;
	return 0;
}

static int fake_scale(struct cloud *c, const char *cluster, const char *service, int desired,
		      bool force, cloud_scale_cb cb, void *ud)
{
	struct fake_cloud *fc = (struct fake_cloud *)c;
	struct store_gate *v;
	struct bot_error err = {0};
	size_t n;
	bool intent = false;
	(void)force;

	/* exactly-once discipline: EXECUTING with the intent is committed first */
	assert_int_equal(store_gate_list(fc->f->store, GATE_STATE_BIT(GATE_EXECUTING), &v, &n,
					 &err), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].cluster, cluster) == 0 && strcmp(v[i].ecs_service, service) == 0 &&
		    (desired == DEPLOY ? strcmp(v[i].action, "restart") == 0
				       : v[i].target == desired) && v[i].exec_intent)
			intent = true;
	store_gate_array_free(v, n);
	assert_true(intent);

	fc->scale_calls++;
	if (fc->apply_on_call) {
		apply(fc, desired);
		fc->applied++;
	}
	struct reply *r = new_reply(fc, fc->hold_scale);
	r->is_scale = true;
	r->scb = cb;
	r->ud = ud;
	r->desired = desired;
	return 0;
}

/* UpdateService forceNewDeployment of web:4 (restart): counted with the
 * scale calls (applied, held, failed alike), its effect a new deployment. */
static int fake_deploy(struct cloud *c, const char *cluster, const char *service,
		       const char *td, bool force, cloud_scale_cb cb, void *ud)
{
	struct fake_cloud *fc = (struct fake_cloud *)c;

	assert_true(force);
	assert_string_equal(td, "web:4");
	fc->deploy_calls++;
	return fake_scale(c, cluster, service, DEPLOY, force, cb, ud);
}

static const struct cloud_ops fake_ops = {
	.name = "fake",
	.describe = fake_describe,
	.scale = fake_scale,
	.deploy = fake_deploy,
};

/* ---- observer ---------------------------------------------------------- */

static void deliver_now(uv_timer_t *t);

struct pending_delivery {
	uv_timer_t t;
	gate_delivered_fn fn;
	void *token;
	int rc;
};

static bool still_allowed(void *ud, const struct store_gate *g, const char *user, bool cancel)
{
	struct fixture *f = ud;
	(void)g;
	(void)cancel;
	return !f->revoked || strcmp(f->revoked, user) != 0;
}

static void post_request(void *ud, const struct store_gate *g, gate_delivered_fn fn, void *token)
{
	struct fixture *f = ud;
	f->posts++;
	/* the request is committed before it is posted */
	assert_int_equal(stored_state(f, g->id), GATE_PENDING);
	assert_int_equal(g->deadline, 0);
	switch (f->mode) {
	case DELIVER_SYNC:
		fn(token, 0, "COPS", "1700000000.000100", NULL);
		break;
	case DELIVER_HOLD:
		f->held_fn = fn;
		f->held_token = token;
		break;
	case DELIVER_ASYNC:
	case DELIVER_FAIL: {
		struct pending_delivery *p = calloc(1, sizeof *p);
		assert_non_null(p);
		p->fn = fn;
		p->token = token;
		p->rc = f->mode == DELIVER_FAIL ? BOT_ETRANSPORT : 0;
		assert_int_equal(uv_timer_init(&f->loop, &p->t), 0);
		assert_int_equal(uv_timer_start(&p->t, deliver_now, 1, 0), 0);
		break;
	}
	}
}

static void deliver_now(uv_timer_t *t)
{
	struct pending_delivery *p = (struct pending_delivery *)t;
	p->fn(p->token, p->rc, "COPS", p->rc ? NULL : "1700000000.000100",
	      p->rc ? "channel_not_found" : NULL);
	uv_close((uv_handle_t *)t, reply_closed);
}

static void on_change(void *ud, const struct store_gate *g, enum gate_event ev, const char *detail)
{
	struct fixture *f = ud;
	/* what we are told is already committed */
	assert_int_equal(stored_state(f, g->id), g->state);
	if (f->n_ev == MAX_EV)
		return;
	struct seen_ev *e = &f->ev[f->n_ev++];
	e->ev = ev;
	e->id = g->id;
	e->state = g->state;
	e->iter = f->iter;
	snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
}

static int count_ev(struct fixture *f, uint64_t id, enum gate_event ev)
{
	int n = 0;
	for (int i = 0; i < f->n_ev; i++)
		if (f->ev[i].id == id && f->ev[i].ev == ev)
			n++;
	return n;
}

static const struct seen_ev *find_ev(struct fixture *f, uint64_t id, enum gate_event ev)
{
	for (int i = 0; i < f->n_ev; i++)
		if (f->ev[i].id == id && f->ev[i].ev == ev)
			return &f->ev[i];
	return NULL;
}

/* ---- fixture plumbing -------------------------------------------------- */

static void on_prepare(uv_prepare_t *h)
{
	struct fixture *f = h->data;
	f->iter++;
}

static void open_store(struct fixture *f)
{
	struct bot_error err = {0};
	struct store_sqlite_opts so = {.path = f->path, .clock = test_clock, .clock_ud = f};
	assert_int_equal(store_sqlite_open(&so, &f->store, &err), 0);
	assert_int_equal(store_attach_loop(f->store, &f->loop), 0);
}

/* ---- the engine's answers, awaited ------------------------------------- */

struct answer {
	bool done;
	int rc;
	uint64_t id;
	struct gate_click_result r;
	struct gate_recover_stats st;
	struct bot_error err;
};

static void await(struct fixture *f, struct answer *a)
{
	uint64_t end = mono() + 10000;
	while (!a->done && mono() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		if (!a->done)
			usleep(100);
	}
	assert_true(a->done);
}

static void on_requested(void *ud, int rc, uint64_t id, const struct bot_error *err)
{
	struct answer *a = ud;
	a->done = true;
	a->rc = rc;
	a->id = id;
	if (err)
		a->err = *err;
}

static void on_clicked(void *ud, int rc, const struct gate_click_result *r,
		       const struct store_gate *g, const struct bot_error *err)
{
	struct answer *a = ud;
	(void)g;
	a->done = true;
	a->rc = rc;
	a->r = *r;
	if (err)
		a->err = *err;
}

static void on_recovered(void *ud, int rc, const struct gate_recover_stats *st,
			 const struct bot_error *err)
{
	struct answer *a = ud;
	a->done = true;
	a->rc = rc;
	if (st)
		a->st = *st;
	if (err)
		a->err = *err;
}

/* gate_request, waited for: its rc, *id (new gate or holder) and err. */
static int req_sync(struct fixture *f, const struct gate_spec *s, uint64_t *id,
		    struct bot_error *err)
{
	struct answer a = {0};
	int rc = gate_request(f->eng, s, on_requested, &a, err);
	if (rc)
		return rc;
	await(f, &a);
	*id = a.id;
	*err = a.err;
	return a.rc;
}

static int click_sync(struct fixture *f, uint64_t id, const char *user, enum gate_vote v,
		      const char *event_id, const struct gate_where *w,
		      struct gate_click_result *out, struct bot_error *err)
{
	struct answer a = {0};
	int rc = gate_click(f->eng, id, user, v, event_id, w, on_clicked, &a);
	if (rc)
		return rc;
	await(f, &a);
	*out = a.r;
	*err = a.err;
	return a.rc;
}

static int cancel_sync(struct fixture *f, uint64_t id, const char *user, const char *event_id,
		       struct gate_click_result *out, struct bot_error *err)
{
	struct answer a = {0};
	int rc = gate_cancel(f->eng, id, user, event_id, on_clicked, &a);
	if (rc)
		return rc;
	await(f, &a);
	*out = a.r;
	*err = a.err;
	return a.rc;
}

static void start_engine(struct fixture *f)
{
	struct bot_error err = {0};
	struct gate_engine_opts o = {
		.loop = &f->loop,
		.store = f->store,
		.cloud = &f->cloud.base,
		.obs = {.post_request = post_request, .on_change = on_change,
			.still_allowed = still_allowed, .ud = f},
		.reminder_gap_ms = f->reminder_gap_ms,
		.reconcile_retry_ms = 20,
		.reissue_guard_ms = 300,
		.shared = f->shared, .owner = f->shared ? "host-a:1" : NULL, .sync_ms = 100,
		.adopt_after_ms = 300, .delivery_lease_ms = f->delivery_lease_ms,
	};
	assert_int_equal(gate_engine_create(&o, &f->eng, &err), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	log_set_level(BOT_LOG_WARN);
	snprintf(f->dir, sizeof f->dir, "/tmp/gate_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/gates.db", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_prepare_init(&f->loop, &f->iter_h), 0);
	f->iter_h.data = f;
	assert_int_equal(uv_prepare_start(&f->iter_h, on_prepare), 0);
	uv_unref((uv_handle_t *)&f->iter_h);
	f->cloud.base.ops = &fake_ops;
	f->cloud.f = f;
	f->cloud.desired = 1;
	f->cloud.status = "ACTIVE";
	open_store(f);
	start_engine(f);
	*state = f;
	return 0;
}

static void rm_db(const char *path)
{
	char p[160];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

/* Stop the engine the way a crash would: in-flight answers are lost. */
static void kill_engine(struct fixture *f)
{
	gate_engine_destroy(f->eng);
	f->eng = NULL;
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

struct replica;
static void replica_down(struct fixture *f, struct replica *r);

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};

	kill_engine(f);
	if (f->replica) /* a failed test left it running */
		replica_down(f, f->replica);
	if (f->held_fn)
		f->held_fn(f->held_token, BOT_ECANCELLED, NULL, NULL, "shutdown");
	release_held(&f->cloud);
	uv_close((uv_handle_t *)&f->iter_h, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	/* whatever happened, the audit chain is intact */
	assert_int_equal(audit_verify(f->store, NULL, NULL, NULL, &err), 0);
	store_close(f->store);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* its handle's close */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rm_db(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Crash and restart: engine gone, store closed and reopened, recover. */
static void restart(struct fixture *f, struct gate_recover_stats *st)
{
	struct answer a = {0};
	kill_engine(f);
	store_close(f->store);
	open_store(f);
	start_engine(f);
	assert_int_equal(gate_engine_recover(f->eng, on_recovered, &a), 0);
	await(f, &a);
	assert_int_equal(a.rc, 0);
	if (st)
		*st = a.st;
}

static void run_for(struct fixture *f, int ms)
{
	uint64_t end = mono() + (uint64_t)ms;
	while (mono() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(500);
	}
}

static bool wait_state(struct fixture *f, uint64_t id, enum gate_state want, int ms)
{
	uint64_t end = mono() + (uint64_t)ms;
	while (stored_state(f, id) != want) {
		if (mono() > end)
			return false;
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(300);
	}
	/* let the answers that follow a commit settle */
	for (int i = 0; i < 3; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	return true;
}

static bool wait_final(struct fixture *f, uint64_t id, int ms)
{
	uint64_t end = mono() + (uint64_t)ms;
	while (!store_state_final(stored_state(f, id))) {
		if (mono() > end)
			return false;
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(300);
	}
	return true;
}

static const char *const approvers3[] = {"UALICE", "UBOB", "UCAROL"};

static struct gate_spec spec(uint64_t timer_ms)
{
	struct gate_spec s = {
		.service = "web", .cluster = "prod", .ecs_service = "web-svc",
		.requester = "UREQ", .target = 5, .current_desired = 1, .reason = "high cpu",
		.timer_ms = timer_ms, .approvers = approvers3, .n_approvers = 3,
		.min_approvals = 1, .channel = "COPS", .evidence = "CPU 97%, 3 alarms",
	};
	return s;
}

static uint64_t request(struct fixture *f, const struct gate_spec *s)
{
	struct bot_error err = {0};
	uint64_t id = 0;
	assert_int_equal(req_sync(f, s, &id, &err), 0);
	assert_true(id > 0);
	return id;
}

/* Request and wait until the card is posted and the timer armed. */
static uint64_t request_spec_delivered(struct fixture *f, const struct gate_spec *s)
{
	uint64_t id = request(f, s);
	uint64_t end = mono() + 1000;
	while (!find_ev(f, id, GATE_EV_DELIVERED) && mono() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	assert_non_null(find_ev(f, id, GATE_EV_DELIVERED));
	return id;
}

static uint64_t request_delivered(struct fixture *f, uint64_t timer_ms)
{
	struct gate_spec s = spec(timer_ms);
	return request_spec_delivered(f, &s);
}

static struct store_gate load(struct fixture *f, uint64_t id)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	assert_int_equal(store_gate_get(f->store, id, &g, &err), 0);
	return g;
}

static int count_audit(struct fixture *f, const char *where)
{
	char sql[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit WHERE %s", where);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Run SQL on the store file through a second connection. */
static void exec_sql(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* A click on gate id's own card (where it was delivered). */
static int click(struct fixture *f, uint64_t id, const char *user, enum gate_vote v,
		 const char *event_id, struct gate_click_result *out)
{
	struct bot_error err = {0};
	struct store_gate g = {0};
	int rc = store_gate_get(f->store, id, &g, &err);
	struct gate_where w = {rc == 0 ? g.channel : NULL, rc == 0 ? g.message_ts : NULL};
	assert_int_equal(click_sync(f, id, user, v, event_id, &w, out, &err), 0);
	store_gate_clear(&g);
	return (int)out->outcome;
}

/* ---- tests: the state machine ------------------------------------------ */

static void test_approve_executes_once(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	assert_int_equal(stored_state(f, id), GATE_PENDING);
	int64_t due = gate_engine_due_in(f->eng, id);
	assert_true(due > 59000 && due <= 60001);
	struct store_gate g = load(f, id);
	assert_int_equal(g.deadline - g.delivered_at, 60000);
	store_gate_clear(&g);

	f->cloud.success_request_id = "req-ok-7";
	assert_int_equal(click(f, id, "UBOB", GATE_VOTE_APPROVE, "ev-1", &r),
			 GATE_OUT_DECIDED_APPROVED);
	assert_int_equal(r.state, GATE_APPROVED);
	assert_string_equal(r.by, "UBOB");
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.describe_calls, 1);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(f->cloud.desired, 5);

	g = load(f, id);
	assert_int_equal(g.decision, GATE_APPROVED);
	assert_string_equal(g.decided_by, "UBOB");
	assert_string_equal(g.result_kind, "scaled");
	assert_string_equal(g.aws_request_id, "req-ok-7");
	assert_int_equal(g.exec_from, 1);
	assert_non_null(strstr(g.exec_intent, "\"desiredCount\":5"));
	/* the claim names this process and holds for the default lease */
	char me[80];
	snprintf(me, sizeof me, ":%ld", (long)getpid());
	assert_non_null(g.exec_owner);
	assert_non_null(strstr(g.exec_owner, me));
	assert_int_equal(g.exec_lease_until - g.exec_started_at, 60000);
	store_gate_clear(&g);
	assert_int_equal(count_ev(f, id, GATE_EV_DECIDED), 1);
	assert_int_equal(count_ev(f, id, GATE_EV_EXECUTING), 1);
	assert_int_equal(count_ev(f, id, GATE_EV_FINISHED), 1);
	assert_int_equal(gate_engine_live(f->eng), 0);
	/* every transition is in the audit log, in order */
	assert_int_equal(count_audit(f, "to_state='APPROVED' AND actor='UBOB'"), 1);
	assert_int_equal(count_audit(f, "to_state='EXECUTING'"), 1);
	assert_int_equal(count_audit(f, "to_state='SUCCEEDED'"), 1);
	assert_int_equal(count_audit(f, "kind='click' AND actor='UBOB' AND "
				       "detail LIKE '%DECIDED_APPROVED%'"), 1);
}

static void test_deny_then_click_after(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	assert_int_equal(click(f, id, "UCAROL", GATE_VOTE_DENY, "ev-d", &r),
			 GATE_OUT_DECIDED_DENIED);
	int64_t decided_at = r.at;
	assert_true(decided_at > 0);
	/* a click after the decision changes nothing and says who and when */
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, "ev-late", &r),
			 GATE_OUT_ALREADY_DECIDED);
	assert_int_equal(r.state, GATE_DENIED);
	assert_int_equal(r.decision, GATE_DENIED);
	assert_string_equal(r.by, "UCAROL");
	assert_int_equal(r.at, decided_at);
	run_for(f, 30);
	assert_int_equal(stored_state(f, id), GATE_DENIED);
	assert_int_equal(f->cloud.describe_calls, 0);
	assert_int_equal(f->cloud.scale_calls, 0);
	assert_int_equal(gate_engine_due_in(f->eng, id), -1);
	assert_int_equal(count_audit(f, "kind='click' AND actor='UALICE' AND "
				       "detail LIKE '%ALREADY_DECIDED%'"), 1);
}

static void test_timer_approves_honestly(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 150);

	assert_true(wait_state(f, id, GATE_SUCCEEDED, 3000));
	struct store_gate g = load(f, id);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_null(g.decided_by); /* not a person */
	assert_true(g.decided_at >= g.deadline);
	assert_string_equal(g.decision_detail, "nobody objected before the deadline");
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(count_audit(f, "to_state='APPROVED_BY_TIMER' AND actor='timer'"), 1);
	assert_int_equal(count_audit(f, "to_state='APPROVED'"), 0);
	/* half-time reminder came, while it was still pending */
	const struct seen_ev *rem = find_ev(f, id, GATE_EV_REMINDER);
	assert_non_null(rem);
	assert_string_equal(rem->detail, "half time");
	assert_int_equal(rem->state, GATE_PENDING);
	/* late click: told it was the timer */
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_DENY, NULL, &r),
			 GATE_OUT_ALREADY_DECIDED);
	assert_int_equal(r.decision, GATE_APPROVED_BY_TIMER);
	assert_string_equal(r.by, "");
}

/* ---- deny and timer in the same loop turn ------------------------------ */

struct race {
	struct fixture *f;
	uint64_t id;
	uv_timer_t blocker, deny;
	int block_ms;
	uint64_t deny_iter;
	int64_t due_at_deny;
	struct answer ans;
	struct gate_click_result r;
};

static void race_block(uv_timer_t *t)
{
	struct race *x = t->data;
	usleep((useconds_t)x->block_ms * 1000); /* both timers fall due meanwhile */
}

static void race_deny(uv_timer_t *t)
{
	struct race *x = t->data;
	x->deny_iter = x->f->iter;
	x->due_at_deny = gate_engine_due_in(x->f->eng, x->id);
	/* inside a loop callback: the answer is awaited by race() */
	struct store_gate g = load(x->f, x->id);
	struct gate_where w = {g.channel, g.message_ts};
	assert_int_equal(gate_click(x->f->eng, x->id, "UALICE", GATE_VOTE_DENY, "ev-race", &w,
				    on_clicked, &x->ans), 0);
	store_gate_clear(&g);
}

static void race(struct fixture *f, bool deny_first, struct race *x)
{
	memset(x, 0, sizeof *x);
	x->f = f;
	x->id = request_delivered(f, 100);
	int64_t due = gate_engine_due_in(f->eng, x->id);
	assert_true(due > 20);
	x->block_ms = (int)due + 40;
	uv_timer_init(&f->loop, &x->blocker);
	uv_timer_init(&f->loop, &x->deny);
	x->blocker.data = x->deny.data = x;
	uv_timer_start(&x->blocker, race_block, 1, 0);
	/* Both the deny and the deadline are overdue when the blocker returns,
	 * so both run in the next loop turn, in the order of their due times.
	 * The engine's one timer drains every overdue entry when it fires,
	 * first due at half time (the reminder): a deny that is to commit
	 * first must be due before that. */
	uv_timer_start(&x->deny, race_deny, (uint64_t)(deny_first ? due / 2 - 10 : due + 10), 0);
	assert_true(wait_state(f, x->id, deny_first ? GATE_DENIED : GATE_SUCCEEDED, 3000));
	await(f, &x->ans);
	x->r = x->ans.r;
	run_for(f, 20);
	uv_close((uv_handle_t *)&x->blocker, NULL);
	uv_close((uv_handle_t *)&x->deny, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_race_deny_commits_first(void **state)
{
	struct fixture *f = *state;
	struct race x;
	race(f, true, &x);
	assert_int_equal(x.r.outcome, GATE_OUT_DECIDED_DENIED);
	/* the deadline was already due in the very turn the deny ran */
	assert_int_equal(x.due_at_deny, 0);
	const struct seen_ev *d = find_ev(f, x.id, GATE_EV_DECIDED);
	assert_non_null(d);
	/* told once the store answered: a turn or two after the click */
	assert_true(d->iter - x.deny_iter <= 3);
	assert_int_equal(count_ev(f, x.id, GATE_EV_DECIDED), 1);
	assert_int_equal(count_audit(f, "from_state='PENDING'"), 1);
	assert_int_equal(f->cloud.describe_calls, 0);
	assert_int_equal(f->cloud.scale_calls, 0);
}

static void test_race_timer_commits_first(void **state)
{
	struct fixture *f = *state;
	struct race x;
	race(f, false, &x);
	assert_int_equal(x.r.outcome, GATE_OUT_ALREADY_DECIDED);
	assert_int_equal(x.r.decision, GATE_APPROVED_BY_TIMER);
	const struct seen_ev *d = find_ev(f, x.id, GATE_EV_DECIDED);
	assert_non_null(d);
	assert_true(d->iter - x.deny_iter <= 3); /* committed in the deny's turn */
	assert_int_equal(count_audit(f, "from_state='PENDING'"), 1);
	assert_int_equal(f->cloud.scale_calls, 1);
}

/* ---- who may decide ---------------------------------------------------- */

static void test_two_approvers_min2(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_spec s = spec(60000);
	s.min_approvals = 2;
	uint64_t id = request_spec_delivered(f, &s);

	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, "ev-a1", &r),
			 GATE_OUT_ACCEPTED_APPROVAL);
	assert_int_equal(r.approvals, 1);
	assert_int_equal(r.min_approvals, 2);
	/* the same person again counts once */
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, "ev-a2", &r),
			 GATE_OUT_ALREADY_COUNTED);
	assert_int_equal(r.approvals, 1);
	/* a redelivered event is not processed twice (nor audited twice) */
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, "ev-a1", &r),
			 GATE_OUT_DUPLICATE_EVENT);
	/* two approvers "at once": same loop turn, back to back */
	assert_int_equal(click(f, id, "UBOB", GATE_VOTE_APPROVE, "ev-b1", &r),
			 GATE_OUT_DECIDED_APPROVED);
	assert_int_equal(click(f, id, "UCAROL", GATE_VOTE_APPROVE, "ev-c1", &r),
			 GATE_OUT_ALREADY_DECIDED);
	assert_string_equal(r.by, "UBOB");
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 1);
	struct store_gate g = load(f, id);
	assert_int_equal(g.n_approved, 2);
	assert_string_equal(g.decision_detail, "approved by UALICE, UBOB");
	store_gate_clear(&g);
	assert_int_equal(count_ev(f, id, GATE_EV_APPROVAL), 1);
	assert_int_equal(count_audit(f, "kind='click'"), 4); /* the duplicate is not */
}

static void test_unauthorized_and_self_refused(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_spec s = spec(60000);
	const char *const with_req[] = {"UREQ", "UALICE"};
	s.approvers = with_req;
	s.n_approvers = 2;
	uint64_t id = request_spec_delivered(f, &s);

	assert_int_equal(click(f, id, "UMALLORY", GATE_VOTE_APPROVE, NULL, &r),
			 GATE_OUT_NOT_APPROVER);
	assert_int_equal(click(f, id, "UMALLORY", GATE_VOTE_DENY, NULL, &r),
			 GATE_OUT_NOT_APPROVER);
	assert_int_equal(click(f, id, "UREQ", GATE_VOTE_APPROVE, NULL, &r),
			 GATE_OUT_SELF_APPROVAL);
	assert_int_equal(stored_state(f, id), GATE_PENDING);
	assert_int_equal(count_audit(f, "kind='click' AND actor='UMALLORY' AND "
				       "detail LIKE '%NOT_APPROVER%'"), 2);
	assert_int_equal(count_audit(f, "kind='click' AND actor='UREQ' AND "
				       "detail LIKE '%SELF_APPROVAL%'"), 1);
	/* unknown gate: refused and audited */
	assert_int_equal(click(f, id + 999, "UALICE", GATE_VOTE_APPROVE, NULL, &r),
			 GATE_OUT_UNKNOWN_GATE);
	assert_int_equal(count_audit(f, "detail LIKE '%UNKNOWN_GATE%'"), 1);

	/* allowed by configuration (another service: web-svc is still held) */
	s.allow_self = true;
	s.ecs_service = "web-svc-2";
	uint64_t id2 = request_spec_delivered(f, &s);
	assert_int_equal(click(f, id2, "UREQ", GATE_VOTE_APPROVE, NULL, &r),
			 GATE_OUT_DECIDED_APPROVED);
	assert_true(wait_state(f, id2, GATE_SUCCEEDED, 2000));
}

/* A click decides only its own gate's card: another message, another
 * channel, or no card at all is refused and audited with where it came
 * from; the gate stays PENDING. */
static void test_click_only_on_its_card(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct bot_error err = {0};
	uint64_t id = request_delivered(f, 60000);
	struct store_gate g = load(f, id);
	const struct gate_where elsewhere[] = {
		{g.channel, "9999.0001"}, {"C0ELSEWHERE", g.message_ts}, {NULL, NULL},
	};

	for (size_t i = 0; i < BOT_ARRAY_LEN(elsewhere); i++) {
		assert_int_equal(click_sync(f, id, "UALICE", GATE_VOTE_APPROVE, NULL,
					    &elsewhere[i], &r, &err), 0);
		assert_int_equal(r.outcome, GATE_OUT_WRONG_CARD);
	}
	assert_int_equal(click_sync(f, id, "UALICE", GATE_VOTE_DENY, NULL, NULL, &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_WRONG_CARD);
	assert_int_equal(stored_state(f, id), GATE_PENDING);
	assert_int_equal(count_audit(f, "kind='click' AND detail LIKE '%WRONG_CARD%'"), 4);
	assert_int_equal(count_audit(f, "detail LIKE '%C0ELSEWHERE%'"), 1);
	/* on its own card it decides */
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_DENY, NULL, &r), GATE_OUT_DECIDED_DENIED);
	store_gate_clear(&g);
}

/* Who may decide is the gate's snapshot AND the configuration in force:
 * an approver removed since the request is refused (REVOKED, audited),
 * as is a removed requester withdrawing; the others still decide. */
static void test_revoked_approver(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct bot_error err = {0};
	uint64_t id = request_delivered(f, 60000);

	f->revoked = "UALICE";
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r), GATE_OUT_REVOKED);
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_DENY, NULL, &r), GATE_OUT_REVOKED);
	assert_int_equal(stored_state(f, id), GATE_PENDING);
	assert_int_equal(count_audit(f, "actor='UALICE' AND detail LIKE '%REVOKED%'"), 2);
	/* strangers are still plain strangers */
	assert_int_equal(click(f, id, "UMALLORY", GATE_VOTE_DENY, NULL, &r), GATE_OUT_NOT_APPROVER);
	f->revoked = "UREQ";
	assert_int_equal(cancel_sync(f, id, "UREQ", NULL, &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_REVOKED);
	assert_int_equal(click(f, id, "UBOB", GATE_VOTE_DENY, NULL, &r), GATE_OUT_DECIDED_DENIED);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct bot_error err = {0};
	uint64_t id = request_delivered(f, 60000);

	assert_int_equal(cancel_sync(f, id, "UMALLORY", NULL, &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_NOT_APPROVER);
	assert_int_equal(cancel_sync(f, id, "UREQ", "ev-x", &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_DECIDED_CANCELLED);
	assert_int_equal(stored_state(f, id), GATE_CANCELLED);
	assert_int_equal(cancel_sync(f, id, "UREQ", NULL, &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_ALREADY_DECIDED);
	assert_int_equal(gate_engine_due_in(f->eng, id), -1);
	assert_int_equal(count_audit(f, "kind='cancel'"), 3);
}

static void test_bad_spec(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct gate_spec s = spec(60000);
	uint64_t id;
	s.n_approvers = 0;
	assert_int_equal(req_sync(f, &s, &id, &err), BOT_EINVAL);
	s = spec(60000);
	s.min_approvals = 4;
	assert_int_equal(req_sync(f, &s, &id, &err), BOT_EINVAL);
	s = spec(0);
	assert_int_equal(req_sync(f, &s, &id, &err), BOT_EINVAL);
	assert_int_equal(f->posts, 0);
}

/* ---- no silent consent ------------------------------------------------- */

static void test_delivery_failure_fails_closed(void **state)
{
	struct fixture *f = *state;
	struct gate_recover_stats st;
	f->mode = DELIVER_FAIL;
	struct gate_spec s = spec(50);
	uint64_t id = request(f, &s);

	assert_true(wait_state(f, id, GATE_FAILED, 1000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "undelivered");
	assert_non_null(strstr(g.result_detail, "could not be delivered; nothing will happen"));
	assert_int_equal(g.deadline, 0);
	store_gate_clear(&g);
	/* well past the would-be deadline, and across a restart: never approved */
	f->offset += 3600 * 1000;
	run_for(f, 120);
	restart(f, &st);
	run_for(f, 50);
	assert_int_equal(stored_state(f, id), GATE_FAILED);
	assert_int_equal(f->cloud.describe_calls + f->cloud.scale_calls, 0);
	assert_int_equal(count_audit(f, "to_state LIKE 'APPROVED%'"), 0);
}

static void test_unconfirmed_delivery_never_times_out(void **state)
{
	struct fixture *f = *state;
	struct gate_recover_stats st;
	f->mode = DELIVER_HOLD;
	struct gate_spec s = spec(50);
	uint64_t id = request(f, &s);

	run_for(f, 150);
	assert_int_equal(stored_state(f, id), GATE_PENDING);
	assert_int_equal(gate_engine_due_in(f->eng, id), -1);
	/* the bot dies before the post is confirmed */
	restart(f, &st);
	assert_int_equal(st.failed_closed, 1);
	assert_int_equal(stored_state(f, id), GATE_FAILED);
	/* the late confirmation (old engine's token) changes nothing */
	f->held_fn(f->held_token, 0, "COPS", "1.2", NULL);
	f->held_fn = NULL;
	run_for(f, 20);
	assert_int_equal(stored_state(f, id), GATE_FAILED);
	assert_int_equal(f->cloud.scale_calls, 0);
}

static void test_decided_before_delivery_confirmed(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	f->mode = DELIVER_HOLD;
	struct gate_spec s = spec(50);
	uint64_t id = request(f, &s);
	struct bot_error err = {0};

	/* no card yet: no click can be on it */
	assert_int_equal(click(f, id, "UBOB", GATE_VOTE_DENY, NULL, &r), GATE_OUT_WRONG_CARD);
	/* a withdrawal (a command, not a button) decides */
	assert_int_equal(cancel_sync(f, id, "UBOB", NULL, &r, &err), 0);
	assert_int_equal(r.outcome, GATE_OUT_DECIDED_CANCELLED);
	f->held_fn(f->held_token, 0, "COPS", "1.3", NULL);
	f->held_fn = NULL;
	run_for(f, 100);
	struct store_gate g = load(f, id);
	assert_int_equal(g.state, GATE_CANCELLED);
	assert_string_equal(g.message_ts, "1.3"); /* the card can be updated */
	assert_int_equal(g.deadline, 0);          /* no timer ever ran */
	store_gate_clear(&g);
	const struct seen_ev *d = find_ev(f, id, GATE_EV_DELIVERED);
	assert_non_null(d);
	assert_int_equal(d->state, GATE_CANCELLED);
}

/* ---- re-check before acting -------------------------------------------- */

static void test_stale_already_at_target(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	f->cloud.desired = 6; /* someone scaled past the target meanwhile */
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "stale");
	assert_non_null(strstr(g.result_detail, "already 6 (>= target 5)"));
	store_gate_clear(&g);
	assert_int_equal(f->cloud.describe_calls, 1);
	assert_int_equal(f->cloud.scale_calls, 0);
	assert_non_null(strstr(find_ev(f, id, GATE_EV_FINISHED)->detail, "nothing was changed"));
}

static void test_stale_changed_or_gone(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	f->cloud.desired = 3; /* 1 -> 3 by someone else; target 5 */
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "stale");
	assert_non_null(strstr(g.result_detail, "changed from 1 to 3"));
	store_gate_clear(&g);

	f->cloud.desired = 1;
	f->cloud.missing = true;
	uint64_t id2 = request_delivered(f, 60000);
	click(f, id2, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id2, GATE_FAILED, 2000));
	g = load(f, id2);
	assert_string_equal(g.result_kind, "stale");
	assert_non_null(strstr(g.result_detail, "not found"));
	store_gate_clear(&g);

	f->cloud.missing = false;
	f->cloud.status = "INACTIVE";
	uint64_t id3 = request_delivered(f, 60000);
	click(f, id3, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id3, GATE_FAILED, 2000));
	g = load(f, id3);
	assert_string_equal(g.result_kind, "stale");
	assert_non_null(strstr(g.result_detail, "INACTIVE"));
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 0);
}

static void test_aws_failure_recorded(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	f->cloud.fail_scale = BOT_EPERM;
	f->cloud.fail_http = 400;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "aws_error");
	assert_string_equal(g.aws_code, "AccessDeniedException");
	assert_string_equal(g.aws_request_id, "req-fail-1");
	assert_non_null(strstr(g.result_detail, "not allowed to UpdateService"));
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(count_audit(f, "to_state='FAILED' AND detail LIKE "
				       "'%\"http_status\":400%' AND detail LIKE '%req-fail-1%'"), 1);
}

static void test_ambiguous_error_checked(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	/* the answer is lost, but the change landed: verified, not re-sent */
	f->cloud.fail_scale = BOT_ETRANSPORT;
	f->cloud.apply_despite_error = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(f->cloud.describe_calls, 2);

	/* lost and not applied: FAILED with the original error, not re-sent */
	f->cloud.desired = 1;
	f->cloud.apply_despite_error = false;
	uint64_t id2 = request_delivered(f, 60000);
	click(f, id2, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id2, GATE_FAILED, 2000));
	assert_int_equal(f->cloud.scale_calls, 2);
	assert_int_equal(f->cloud.applied, 1);
}

/* Calls cancelled because the bot is stopping (the HTTP client's shutdown
 * hook cancels everything in flight) say nothing about the service: the
 * gate is left as it was for the next start, never failed. */
static void test_cancelled_calls_conclude_nothing(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);

	/* UpdateService cut short: the gate stays EXECUTING */
	f->cloud.fail_scale = BOT_ECANCELLED;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 50);
	assert_int_equal(stored_state(f, id), GATE_EXECUTING);
	assert_int_equal(f->cloud.scale_calls, 1);
	/* the next start reconciles it: it never landed, so it is sent again */
	f->cloud.fail_scale = 0;
	restart(f, &st);
	assert_int_equal(st.reconciling, 1);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 2);
	assert_int_equal(f->cloud.applied, 1);

	/* the re-check cut short: the gate stays APPROVED */
	f->cloud.desired = 1;
	f->cloud.fail_describe = BOT_ECANCELLED;
	uint64_t id2 = request_delivered(f, 60000);
	click(f, id2, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	run_for(f, 50);
	assert_int_equal(stored_state(f, id2), GATE_APPROVED);
	assert_int_equal(f->cloud.scale_calls, 2);
	/* the next start resumes it */
	f->cloud.fail_describe = 0;
	restart(f, &st);
	assert_int_equal(st.resumed, 1);
	assert_true(wait_state(f, id2, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 3);
	assert_int_equal(count_audit(f, "to_state='FAILED'"), 0);
}

/* ---- restart ----------------------------------------------------------- */

static void test_restart_unexpired_rearmed(void **state)
{
	struct fixture *f = *state;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 3000);

	f->offset += 2500; /* down for 2.5 s of the 3 s */
	restart(f, &st);
	assert_int_equal(st.rearmed, 1);
	assert_int_equal(st.expired, 0);
	int64_t left = gate_engine_due_in(f->eng, id);
	assert_true(left >= 350 && left <= 520);
	assert_non_null(find_ev(f, id, GATE_EV_RECOVERED));
	uint64_t t0 = mono();
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 3000));
	uint64_t took = mono() - t0;
	assert_true(took >= 350 && took < 1500);
	struct store_gate g = load(f, id);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_true(g.decided_at >= g.deadline);
	store_gate_clear(&g);
	run_for(f, 50);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(count_audit(f, "to_state='APPROVED_BY_TIMER'"), 1);
}

static void test_restart_expired_resolved(void **state)
{
	struct fixture *f = *state;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);
	struct gate_spec s2 = spec(600000);
	s2.ecs_service = "web-svc-2";
	uint64_t id2 = request_spec_delivered(f, &s2);

	f->offset += 120000; /* down for two minutes: the first deadline passed */
	restart(f, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.rearmed, 1);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	struct store_gate g = load(f, id);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_string_equal(g.decision_detail, "resolved after restart");
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_non_null(strstr(find_ev(f, id, GATE_EV_DECIDED)->detail, "resolved after restart"));
	assert_int_equal(count_audit(f, "to_state='APPROVED_BY_TIMER' AND actor='timer' AND "
				       "detail LIKE '%resolved after restart%'"), 1);
	assert_int_equal(stored_state(f, id2), GATE_PENDING);
	int64_t left = gate_engine_due_in(f->eng, id2);
	assert_true(left > 470000 && left <= 480100);
}

static void test_restart_executing_applied(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);

	/* UpdateService lands, the bot dies before hearing back */
	f->cloud.apply_on_call = true;
	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 20);
	assert_int_equal(f->cloud.scale_calls, 1);
	restart(f, &st);
	assert_int_equal(st.reconciling, 1);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 1); /* not called again */
	assert_int_equal(f->cloud.applied, 1);
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "reconciled");
	assert_non_null(strstr(g.result_detail, "reconciled after restart"));
	store_gate_clear(&g);
	/* the old engine's answer arriving late changes nothing */
	release_held(&f->cloud);
	run_for(f, 20);
	assert_int_equal(stored_state(f, id), GATE_SUCCEEDED);
	assert_int_equal(count_audit(f, "to_state='SUCCEEDED'"), 1);
}

static void test_restart_executing_not_applied(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);

	/* intent committed; the call never reached AWS */
	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 20);
	/* the lost call never lands; the re-issued one does */
	f->cloud.hold_scale = false;
	f->cloud.apply_on_call = true;
	uint64_t t0 = mono();
	restart(f, &st);
	/* not at once: the dead run's call might still be in flight */
	run_for(f, 100);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(stored_state(f, id), GATE_EXECUTING);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_true(mono() - t0 >= 250); /* the guard (300 ms from the call) was kept */
	assert_int_equal(f->cloud.scale_calls, 2);
	assert_int_equal(f->cloud.applied, 1); /* exactly one effective call */
	assert_int_equal(f->cloud.desired, 5);
	assert_int_equal(count_audit(f, "kind='reissue'"), 1);
}

static void test_restart_approved_resumes(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);

	f->cloud.hold_describe = true; /* die during the re-check */
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	run_for(f, 20);
	assert_int_equal(stored_state(f, id), GATE_APPROVED);
	f->cloud.hold_describe = false;
	restart(f, &st);
	assert_int_equal(st.resumed, 1);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.scale_calls, 1);
}

static void test_restart_conflict_not_overwritten(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);

	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	f->cloud.hold_scale = false;
	f->cloud.desired = 2; /* someone else while we were down */
	restart(f, &st);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "reconcile_conflict");
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 1);
	f->cloud.apply_on_call = true; /* the lost call never lands */
}

/* ---- reminders --------------------------------------------------------- */

/* ---- another action: restart, reconciled by its deployment ---------------- */

static uint64_t request_restart(struct fixture *f)
{
	struct gate_spec s = spec(60000);
	s.action = "restart";
	s.params = "{\"task_definition\":\"web:4\",\"deployment\":\"ecs-svc/0\"}";
	s.target = 0;
	return request_spec_delivered(f, &s);
}

static void test_restart_action_once(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_restart(f);

	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.deploy_calls, 1);
	assert_int_equal(f->cloud.deployment, 1);
	struct store_gate g = load(f, id);
	assert_string_equal(g.action, "restart");
	assert_string_equal(g.result_kind, "restarted");
	assert_non_null(strstr(g.exec_intent, "\"observedDeployment\":\"ecs-svc/0\""));
	store_gate_clear(&g);
}

/* Someone restarted it between the request and the approval: reported,
 * not restarted again. */
static void test_restart_action_stale(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_restart(f);

	f->cloud.deployment = 7;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	assert_int_equal(f->cloud.deploy_calls, 0);
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "stale");
	assert_non_null(strstr(g.result_detail, "ecs-svc/7"));
	store_gate_clear(&g);
}

/* The call landed, the bot died before the answer: a new deployment is
 * PRIMARY, so it is done - never a second forced deployment. */
static void test_restart_action_reconciled_landed(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_restart(f);

	f->cloud.apply_on_call = true;
	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 20);
	restart(f, &st);
	assert_int_equal(st.reconciling, 1);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.deploy_calls, 1);
	assert_int_equal(f->cloud.deployment, 1);
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "reconciled");
	assert_non_null(strstr(g.result_detail, "deployment ecs-svc/1 replaced ecs-svc/0"));
	store_gate_clear(&g);
	release_held(&f->cloud);
	run_for(f, 20);
}

/* The call never reached ECS: the same deployment is PRIMARY, so it is
 * made once more, after the guard - one effective restart. */
static void test_restart_action_reissued(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_restart(f);

	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 20);
	f->cloud.hold_scale = false;
	f->cloud.apply_on_call = true;
	restart(f, &st);
	run_for(f, 100);
	assert_int_equal(f->cloud.deploy_calls, 1); /* the guard: not yet */
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 2000));
	assert_int_equal(f->cloud.deploy_calls, 2);
	assert_int_equal(f->cloud.applied, 1);
	assert_int_equal(f->cloud.deployment, 1);
	assert_int_equal(count_audit(f, "kind='reissue'"), 1);
}

/* A gate of an action this version does not know (a newer version wrote
 * it), found EXECUTING: nothing is called, it is reported unverified. */
static void test_unknown_action_never_called(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct gate_recover_stats st;
	uint64_t id = request_delivered(f, 60000);
	char sql[200];

	f->cloud.hold_scale = true;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_EXECUTING, 2000));
	run_for(f, 20);
	kill_engine(f);
	snprintf(sql, sizeof sql, "UPDATE gates SET action = 'reboot' WHERE id = %llu",
		 (unsigned long long)id);
	exec_sql(f, sql);
	f->cloud.hold_scale = false;
	restart(f, &st);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	assert_int_equal(f->cloud.scale_calls, 1); /* the first run's, never again */
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "unverified");
	assert_non_null(strstr(g.result_detail, "\"reboot\" is unknown to this version"));
	store_gate_clear(&g);
	release_held(&f->cloud);
	run_for(f, 20);
}

/* ...and approved, it is failed 'unsupported' before any read or call. */
static void test_unknown_action_never_executed(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);
	char sql[200];

	snprintf(sql, sizeof sql, "UPDATE gates SET action = 'reboot' WHERE id = %llu",
		 (unsigned long long)id);
	exec_sql(f, sql);
	int describes = f->cloud.describe_calls;
	click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r);
	assert_true(wait_state(f, id, GATE_FAILED, 2000));
	assert_int_equal(f->cloud.scale_calls, 0);
	assert_int_equal(f->cloud.describe_calls, describes);
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "unsupported");
	assert_non_null(strstr(g.result_detail, "\"reboot\" is unknown to this version"));
	store_gate_clear(&g);
}

static void test_reminders_coalesced(void **state)
{
	struct fixture *f = *state;
	struct gate_recover_stats st;
	/* 2 min 1 s: half time is 60.5 s before the deadline, the one-minute
	 * reminder 60 s before: 0.5 s apart, so they coalesce into one */
	uint64_t id = request_delivered(f, 121000);

	f->offset += 121000 - 60700; /* restart 60.7 s before the deadline */
	restart(f, &st);
	run_for(f, 800);
	assert_int_equal(count_ev(f, id, GATE_EV_REMINDER), 1);
	assert_string_equal(find_ev(f, id, GATE_EV_REMINDER)->detail, "half time");
	assert_int_equal(stored_state(f, id), GATE_PENDING);
}

static void test_no_reminder_after_decision(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 200);

	click(f, id, "UALICE", GATE_VOTE_DENY, NULL, &r);
	run_for(f, 300);
	assert_int_equal(count_ev(f, id, GATE_EV_REMINDER), 0);
	assert_int_equal(stored_state(f, id), GATE_DENIED);
}

static void test_sync_delivery_and_many(void **state)
{
	struct fixture *f = *state;
	f->mode = DELIVER_SYNC;
	uint64_t ids[50];
	char names[50][16];
	for (int i = 0; i < 50; i++) {
		struct gate_spec s = spec((uint64_t)(20 + i * 3));
		snprintf(names[i], sizeof names[i], "web-svc-%d", i);
		s.ecs_service = names[i];
		ids[i] = request(f, &s);
	}
	for (int i = 0; i < 50; i++)
		assert_true(wait_final(f, ids[i], 3000));
	run_for(f, 20);
	/* the fake cloud is one service under 50 names: a gate that re-read it
	 * after another one scaled it finds it changed (stale); every gate that
	 * did not is one UpdateService */
	int succeeded = 0;
	for (int i = 0; i < 50; i++) {
		enum gate_state st = stored_state(f, ids[i]);
		assert_true(st == GATE_SUCCEEDED || st == GATE_FAILED);
		succeeded += st == GATE_SUCCEEDED;
	}
	assert_true(succeeded >= 1);
	assert_int_equal(f->cloud.scale_calls, succeeded);
	assert_int_equal(gate_engine_live(f->eng), 0);
	assert_int_equal(count_audit(f, "from_state='PENDING'"), 50);
}

/* One live gate per ECS service: a second request for it (under another
 * name) is refused with the holder's id and nothing is posted; once the
 * holder is final the service is free. */
static void test_one_live_gate_per_service(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	struct bot_error err = {0};
	uint64_t id = request_delivered(f, 60000), other = 0;
	struct gate_spec s = spec(60000);
	int posts = f->posts;

	s.service = "web-alias";
	assert_int_equal(req_sync(f, &s, &other, &err), BOT_EBUSY);
	assert_int_equal(other, id);
	assert_non_null(strstr(err.msg, "already has an open request"));
	assert_int_equal(f->posts, posts);
	assert_int_equal(count_audit(f, "kind='requested'"), 1);
	click(f, id, "UALICE", GATE_VOTE_DENY, NULL, &r);
	assert_int_equal(stored_state(f, id), GATE_DENIED);
	other = request(f, &s);
	assert_true(other > id);
}

/* A gate whose service another live gate holds (possible only for gates
 * opened before the store held services, v1) waits without reading AWS,
 * and acts once the holder is final. */
static void test_waits_for_service_holder(void **state)
{
	struct fixture *f = *state;
	struct gate_click_result r;
	uint64_t id = request_delivered(f, 60000);

	exec_sql(f, "INSERT INTO gates (id, service, cluster, ecs_service, requester, target,"
		    " desired_at_request, timer_ms, approvers, created_at, state, updated_at)"
		    " VALUES (1000, 'web2', 'prod', 'web-svc', 'UREQ', 9, 1, 60000, '[\"UA\"]', 1,"
		    " 'PENDING', 1);"
		    "UPDATE service_locks SET gate_id = 1000 WHERE ecs_service = 'web-svc';");
	assert_int_equal(click(f, id, "UALICE", GATE_VOTE_APPROVE, NULL, &r),
			 GATE_OUT_DECIDED_APPROVED);
	run_for(f, 300);
	assert_int_equal(stored_state(f, id), GATE_APPROVED);
	assert_int_equal(f->cloud.describe_calls, 0); /* no AWS read while waiting */
	exec_sql(f, "UPDATE gates SET state = 'DENIED' WHERE id = 1000");
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 5000));
	assert_int_equal(f->cloud.describe_calls, 1);
	assert_int_equal(f->cloud.scale_calls, 1);
}


/* ---- replicas sharing one store ---------------------------------------- */

/* Another process on the same store: its own handle and engine, the same
 * observer (what it tells lands in f->ev) and cloud. */
struct replica {
	struct store *store;
	struct gate_engine *eng;
};

static struct replica *replica_up(struct fixture *f, const char *owner)
{
	struct replica *r = calloc(1, sizeof *r);
	struct bot_error err = {0};
	struct store_sqlite_opts so = {.path = f->path, .clock = test_clock, .clock_ud = f};
	struct answer a = {0};

	assert_non_null(r);
	assert_int_equal(store_sqlite_open(&so, &r->store, &err), 0);
	assert_int_equal(store_attach_loop(r->store, &f->loop), 0);
	struct gate_engine_opts o = {
		.loop = &f->loop, .store = r->store, .cloud = &f->cloud.base,
		.obs = {.post_request = post_request, .on_change = on_change,
			.still_allowed = still_allowed, .ud = f},
		.reconcile_retry_ms = 20, .reissue_guard_ms = 300, .owner = owner,
		.shared = true, .sync_ms = 100, .adopt_after_ms = 300,
	};
	assert_int_equal(gate_engine_create(&o, &r->eng, &err), 0);
	f->replica = r;
	assert_int_equal(gate_engine_recover(r->eng, on_recovered, &a), 0);
	await(f, &a);
	assert_int_equal(a.rc, 0);
	return r;
}

static void replica_down(struct fixture *f, struct replica *r)
{
	f->replica = NULL;
	gate_engine_destroy(r->eng);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	store_close(r->store);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	free(r);
}

/* The default engine again, now as a replica ("host-a:1"). */
static void share(struct fixture *f)
{
	struct answer a = {0};
	kill_engine(f);
	f->shared = true;
	start_engine(f);
	assert_int_equal(gate_engine_recover(f->eng, on_recovered, &a), 0);
	await(f, &a);
}

static bool armed_in(struct fixture *f, struct gate_engine *e, uint64_t id, int ms)
{
	uint64_t end = mono() + (uint64_t)ms;
	while (gate_engine_due_in(e, id) < 0) {
		if (mono() > end)
			return false;
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(300);
	}
	return true;
}

/* The replica that posted a card dies: another one learns of the gate from
 * the store and approves it by timer on time, once. */
static void test_replica_fires_a_dead_replicas_deadline(void **state)
{
	struct fixture *f = *state;
	struct replica *b;

	share(f);
	uint64_t id = request_delivered(f, 700);
	b = replica_up(f, "host-b:2");
	assert_true(armed_in(f, b->eng, id, 2000));
	kill_engine(f); /* host-a dies with its timers */
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 5000));
	struct store_gate g = load(f, id);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_true(g.decided_at >= g.deadline);
	assert_true(g.decided_at - g.deadline < 1000);
	assert_string_equal(g.exec_owner, "host-b:2");
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(count_ev(f, id, GATE_EV_DECIDED), 1);
	replica_down(f, b);
}

/* Both replicas alive: both fire the deadline, one decides, one executes,
 * one tells; the half-time reminder comes from the one that posted. */
static void test_replicas_decide_once(void **state)
{
	struct fixture *f = *state;
	struct replica *b;

	share(f);
	b = replica_up(f, "host-b:2");
	uint64_t id = request_delivered(f, 400);
	assert_true(armed_in(f, b->eng, id, 2000));
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 5000));
	run_for(f, 400); /* past the adoption window: nobody acts twice */
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(f->cloud.describe_calls, 1);
	assert_int_equal(count_ev(f, id, GATE_EV_DECIDED), 1);
	assert_int_equal(count_ev(f, id, GATE_EV_EXECUTING), 1);
	assert_int_equal(count_ev(f, id, GATE_EV_FINISHED), 1);
	assert_int_equal(count_ev(f, id, GATE_EV_REMINDER), 1);
	assert_int_equal(count_audit(f, "from_state='PENDING'"), 1);
	replica_down(f, b);
	kill_engine(f);
}

/* A gate claimed by a process that is gone, as a crash leaves it. */
static uint64_t claimed_by(struct fixture *f, const char *owner, uint64_t lease_ms)
{
	static const char *const who[] = {"UALICE"};
	struct bot_error err = {0};
	enum store_result res;
	uint64_t holder;
	struct store_gate g = {
		.service = (char *)"web", .cluster = (char *)"prod", .ecs_service = (char *)"web-svc",
		.requester = (char *)"UREQ", .action = (char *)STORE_ACTION_SCALE,
		.params = (char *)"{\"target\":5}", .target = 5, .desired_at_request = 1,
		.timer_ms = 60000, .approvers = (char **)who, .n_approvers = 1, .min_approvals = 1,
		.channel = (char *)"COPS",
	};
	assert_int_equal(store_gate_open(f->store, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_DONE);
	struct store_change c1 = {.gate_id = g.id, .from = GATE_PENDING, .to = GATE_APPROVED,
				  .actor = "UALICE", .decided_by = "UALICE"};
	assert_int_equal(store_gate_change(f->store, &c1, &res, &err), 0);
	struct store_change c2 = {.gate_id = g.id, .from = GATE_APPROVED, .to = GATE_EXECUTING,
				  .actor = "system", .exec_intent = "{}", .set_exec_from = true,
				  .exec_from = 1, .owner = owner, .lease_ms = lease_ms};
	assert_int_equal(store_gate_change(f->store, &c2, &res, &err), 0);
	assert_int_equal(res, STORE_DONE);
	return g.id;
}

/* Its lease runs out: another replica takes the claim (conditionally,
 * audited), reconciles from ECS and calls UpdateService once. */
static void test_takeover_when_the_lease_ran_out(void **state)
{
	struct fixture *f = *state;
	struct replica *b;

	kill_engine(f);
	uint64_t id = claimed_by(f, "host-x:1", 600);
	b = replica_up(f, "host-b:2");
	/* its first look found the claim held: nothing taken, nothing read */
	assert_int_equal(count_audit(f, "kind='takeover'"), 0);
	assert_int_equal(f->cloud.describe_calls, 0);
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 5000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.exec_owner, "host-b:2");
	assert_true(g.exec_lease_until > g.exec_started_at + 600);
	store_gate_clear(&g);
	assert_int_equal(count_audit(f, "kind='takeover' AND actor='host-b:2' AND "
				       "detail LIKE '%host-x:1%'"), 1);
	assert_int_equal(count_audit(f, "kind='reissue'"), 1);
	assert_int_equal(f->cloud.scale_calls, 1);
	assert_int_equal(f->cloud.desired, 5);
	replica_down(f, b);
}

/* The owner name of a process of this host that has exited. */
static void dead_local_owner(char *owner, size_t n)
{
	char host[64] = "";
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	snprintf(owner, n, "%s:%ld", host, (long)pid);
}

/* The claim's owner was a process of this host that is gone: no need to
 * wait for the lease. */
static void test_takeover_of_a_dead_local_process(void **state)
{
	struct fixture *f = *state;
	struct replica *b;
	char owner[96];

	dead_local_owner(owner, sizeof owner);
	kill_engine(f);
	f->cloud.desired = 5; /* the dead process's call had landed */
	uint64_t id = claimed_by(f, owner, 3600u * 1000u);
	b = replica_up(f, "host-b:2");
	assert_true(wait_state(f, id, GATE_SUCCEEDED, 5000));
	struct store_gate g = load(f, id);
	assert_string_equal(g.result_kind, "reconciled");
	store_gate_clear(&g);
	assert_int_equal(count_audit(f, "kind='takeover'"), 1);
	assert_int_equal(f->cloud.scale_calls, 0); /* never called blindly */
	replica_down(f, b);
}

/* A request's poster dies before its card is posted: another replica
 * leaves the request alone while the poster's claim holds, then fails it
 * closed - not minutes later. */
static void test_dead_posters_request_failed_when_its_claim_ends(void **state)
{
	struct fixture *f = *state;
	struct replica *b;
	struct gate_spec s = spec(60000);

	f->delivery_lease_ms = 500;
	share(f);
	f->mode = DELIVER_HOLD;
	uint64_t id = request(f, &s);
	struct store_gate g = load(f, id);
	assert_string_equal(g.exec_owner, "host-a:1");
	/* a lease from the request (made just before the commit) */
	assert_true(g.exec_lease_until > g.created_at && g.exec_lease_until <= g.created_at + 500);
	store_gate_clear(&g);
	b = replica_up(f, "host-b:2");
	assert_int_equal(stored_state(f, id), GATE_PENDING); /* its first look: claim held */
	kill_engine(f); /* host-a dies; its post never completes (teardown ends it) */
	assert_true(wait_state(f, id, GATE_FAILED, 5000));
	g = load(f, id);
	assert_string_equal(g.result_kind, "undelivered");
	assert_true(g.finished_at >= g.exec_lease_until); /* not before the claim ended */
	store_gate_clear(&g);
	assert_int_equal(f->cloud.scale_calls, 0);
	replica_down(f, b);
}

static bool audit_at_least(struct fixture *f, const char *where, int n, int ms)
{
	uint64_t end = mono() + (uint64_t)ms;
	while (count_audit(f, where) < n) {
		if (mono() > end)
			return false;
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	return true;
}

/* A slow post (Slack retrying): the poster renews its claim at half time,
 * so the other replica leaves the request alone well past the first
 * lease; once posted, its timer runs as usual. */
static void test_poster_renews_its_claim_while_posting(void **state)
{
	struct fixture *f = *state;
	struct replica *b;
	struct gate_spec s = spec(60000);

	f->delivery_lease_ms = 300;
	share(f);
	f->mode = DELIVER_HOLD;
	uint64_t id = request(f, &s);
	b = replica_up(f, "host-b:2");
	assert_true(audit_at_least(f, "kind='delivery' AND actor='host-a:1'", 4, 5000));
	assert_int_equal(stored_state(f, id), GATE_PENDING);
	f->held_fn(f->held_token, 0, "COPS", "1.5", NULL);
	f->held_fn = NULL;
	uint64_t end = mono() + 2000;
	while (!find_ev(f, id, GATE_EV_DELIVERED) && mono() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(300);
	}
	assert_non_null(find_ev(f, id, GATE_EV_DELIVERED));
	struct store_gate g = load(f, id);
	assert_int_equal(g.state, GATE_PENDING);
	assert_true(g.deadline > 0);
	store_gate_clear(&g);
	replica_down(f, b);
	kill_engine(f);
}

/* The poster was a process of this host that is gone: its request is
 * failed closed at once, whatever its lease says. */
static void test_dead_local_posters_request_failed_at_once(void **state)
{
	struct fixture *f = *state;
	static const char *const who[] = {"UALICE"};
	struct bot_error err = {0};
	enum store_result res;
	uint64_t holder;
	struct replica *b;
	char owner[96];

	dead_local_owner(owner, sizeof owner);
	kill_engine(f);
	struct store_gate g = {
		.service = (char *)"web", .cluster = (char *)"prod", .ecs_service = (char *)"web-svc",
		.requester = (char *)"UREQ", .action = (char *)STORE_ACTION_SCALE,
		.params = (char *)"{\"target\":5}", .target = 5, .desired_at_request = 1,
		.timer_ms = 60000, .approvers = (char **)who, .n_approvers = 1, .min_approvals = 1,
		.channel = (char *)"COPS", .exec_owner = owner,
		.exec_lease_until = real_ms() + 3600 * 1000,
	};
	assert_int_equal(store_gate_open(f->store, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_DONE);
	b = replica_up(f, "host-b:2");
	assert_true(wait_state(f, g.id, GATE_FAILED, 5000));
	assert_int_equal(f->cloud.scale_calls, 0);
	replica_down(f, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_approve_executes_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_then_click_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_approves_honestly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_deny_commits_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_timer_commits_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_approvers_min2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized_and_self_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_click_only_on_its_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_approver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_failure_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unconfirmed_delivery_never_times_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decided_before_delivery_confirmed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_already_at_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_changed_or_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aws_failure_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_error_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_calls_conclude_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_unexpired_rearmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_expired_resolved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_executing_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_executing_not_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_approved_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_conflict_not_overwritten, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_action_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_action_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_action_reconciled_landed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_action_reissued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_action_never_called, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_action_never_executed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reminders_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reminder_after_decision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_delivery_and_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_live_gate_per_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waits_for_service_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replica_fires_a_dead_replicas_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replicas_decide_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_when_the_lease_ran_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_takeover_of_a_dead_local_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dead_posters_request_failed_when_its_claim_ends,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_poster_renews_its_claim_while_posting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dead_local_posters_request_failed_at_once,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
