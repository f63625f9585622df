/* gate.c - the approval gate engine (see gate.h). */
#include "bot/domain/gate.h"
#include "bot/base/idmap.h"
#include "bot/base/log.h"
#include "bot/base/timeheap.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_REMINDER_GAP_MS (30u * 1000u)
#define DEFAULT_RECONCILE_TRIES 5u
#define DEFAULT_RECONCILE_RETRY_MS (5u * 1000u)
/* How long after the recorded call start a restarted bot waits before it
 * concludes that the previous run's UpdateService did not land and sends
 * it again: a request the dead process had already handed to the kernel
 * may still be on its way. Longer than one attempt's timeout (10 s). */
#define DEFAULT_REISSUE_GUARD_MS (20u * 1000u)
/* How long a claim of execution holds: longer than one UpdateService with
 * its retries and the answer's commit. */
#define DEFAULT_EXEC_LEASE_MS (60u * 1000u)
#define STORE_RETRY_MS 1000u
/* A gate whose service another live gate holds asks again this often. */
#define SERVICE_WAIT_MS 1000u
#define LAST_MINUTE_MS (60u * 1000u)
#define LAST_MINUTE_MIN_TIMER_MS (2u * 60u * 1000u)

/* ---- types ------------------------------------------------------------- */

/* A gate the engine still has work for (not final). */
struct gate {
	struct store_gate rec;    /* as last read from the store */
	uint64_t due;             /* monotonic ms when the deadline fires; 0 = not armed */
	uint64_t last_reminder;   /* monotonic ms of the last reminder; 0 = none */
	unsigned reconcile_left;  /* describe attempts left when reconciling */
	int refs;                 /* the map holds one; engine calls hold one each */
	bool dropped;             /* out of the map; freed at refs == 0 */
	bool restarted;           /* found EXECUTING at recovery */
	bool working;             /* a cloud call for it is in flight */
};

enum tkind {
	T_DEADLINE = 0,  /* approve by timer */
	T_REMIND_HALF,
	T_REMIND_LAST,
	T_RESUME,        /* retry whatever the state needs (after a store error) */
	T_RECONCILE,     /* describe again (EXECUTING with unknown outcome) */
};


enum op_kind { OP_DELIVER, OP_RECHECK, OP_SCALE, OP_RECONCILE };

/* One outstanding callback. Ops outlive the engine: destroy detaches them
 * (e = NULL) and their callbacks only free them. */
struct op {
	struct gate_engine *e;
	uint64_t id;
	enum op_kind kind;
	bool after_restart;       /* OP_RECONCILE: reconciling after a restart */
	bool after_error;         /* OP_RECONCILE: the scale call answered ambiguously */
	struct cloud_error saved; /* that answer */
	struct op *prev, *next;
};

struct gate_engine {
	uv_loop_t *loop;
	struct store *store;
	struct cloud *cloud;
	struct gate_observer obs;
	uint64_t reminder_gap, reconcile_retry, reissue_guard, exec_lease;
	char owner[128];          /* this process, as recorded on the claims it makes */
	unsigned reconcile_tries;
	uv_timer_t timer;
	uint64_t armed_due;       /* due time the uv timer is set for; 0 = stopped */
	struct timeheap timers;   /* (due, gate id, enum tkind) */
	struct idmap gates;       /* gate id -> struct gate, every gate not final */
	struct op *ops;
	bool recovered, closing;
};

static void proceed(struct gate_engine *e, struct gate *g);
static void reconcile(struct gate_engine *e, struct gate *g, bool after_restart,
		      const struct cloud_error *after_error);
static void call_scale(struct gate_engine *e, struct gate *g);

/* ---- names ------------------------------------------------------------- */

static const char *const outcome_names[] = {
#define GATE_OUTCOME_NAME(name, text) #name,
	GATE_OUTCOME_MAP(GATE_OUTCOME_NAME)
#undef GATE_OUTCOME_NAME
};
static const char *const outcome_texts[] = {
#define GATE_OUTCOME_TEXT(name, text) text,
	GATE_OUTCOME_MAP(GATE_OUTCOME_TEXT)
#undef GATE_OUTCOME_TEXT
};

const char *gate_outcome_name(enum gate_outcome o)
{
	return (unsigned)o < BOT_ARRAY_LEN(outcome_names) ? outcome_names[o] : "?";
}

bool gate_transition_allowed(enum gate_state from, enum gate_state to)
{
	switch (from) {
	case GATE_PENDING:
		return to == GATE_APPROVED || to == GATE_APPROVED_BY_TIMER || to == GATE_DENIED ||
		       to == GATE_CANCELLED || to == GATE_FAILED;
	case GATE_APPROVED:
	case GATE_APPROVED_BY_TIMER:
		return to == GATE_EXECUTING || to == GATE_FAILED;
	case GATE_EXECUTING:
		return to == GATE_SUCCEEDED || to == GATE_FAILED;
	default:
		return false;
	}
}

const char *gate_outcome_text(enum gate_outcome o)
{
	return (unsigned)o < BOT_ARRAY_LEN(outcome_texts) ? outcome_texts[o] : "?";
}

const char *gate_event_name(enum gate_event ev)
{
	static const char *const names[] = {
		[GATE_EV_DELIVERED] = "delivered", [GATE_EV_APPROVAL] = "approval",
		[GATE_EV_DECIDED] = "decided",     [GATE_EV_REMINDER] = "reminder",
		[GATE_EV_EXECUTING] = "executing", [GATE_EV_FINISHED] = "finished",
		[GATE_EV_RECOVERED] = "recovered",
	};
	return (unsigned)ev < BOT_ARRAY_LEN(names) ? names[ev] : "?";
}

/* ---- small helpers ----------------------------------------------------- */

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* Serialize and free j (NULL-safe); NULL on OOM. */
static char *jdump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return s;
}

static bool has_user(char *const *v, size_t n, const char *user)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], user) == 0)
			return true;
	return false;
}

/* ---- gate map (id -> gate) --------------------------------------------- */

static struct gate *map_get(const struct gate_engine *e, uint64_t id)
{
	return idmap_get(&e->gates, id);
}

static int map_put(struct gate_engine *e, struct gate *g)
{
	return idmap_put(&e->gates, g->rec.id, g);
}

static void gate_free(struct gate *g)
{
	store_gate_clear(&g->rec);
	free(g);
}

static void hold(struct gate *g)
{
	g->refs++;
}

static void put(struct gate *g)
{
	if (--g->refs == 0)
		gate_free(g);
}

/* The gate is final: forget it (memory goes when the last holder lets go). */
static void drop(struct gate_engine *e, struct gate *g)
{
	if (g->dropped)
		return;
	g->dropped = true;
	idmap_del(&e->gates, g->rec.id);
	put(g);
}

/* ---- timer heap -------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void rearm(struct gate_engine *e)
{
	uint64_t now, due;

	if (e->closing)
		return;
	if (!timeheap_top(&e->timers)) {
		if (e->armed_due)
			uv_timer_stop(&e->timer);
		e->armed_due = 0;
		return;
	}
	due = timeheap_top(&e->timers)->due;
	if (e->armed_due == due)
		return;
	/* The uv timer fires once loop time >= now + (due - now) = due; loop
	 * time lags real time, so it never fires early. */
	now = uv_now(e->loop);
	uv_timer_start(&e->timer, on_timer, due > now ? due - now : 0, 0);
	e->armed_due = due;
}

static int tpush(struct gate_engine *e, uint64_t due, uint64_t id, enum tkind kind)
{
	int rc = timeheap_push(&e->timers, due, id, (int)kind);
	if (rc == BOT_EOK)
		rearm(e);
	return rc;
}

static void tpush_in(struct gate_engine *e, uint64_t in_ms, uint64_t id, enum tkind kind)
{
	if (tpush(e, mono_ms() + in_ms, id, kind) != BOT_EOK)
		log_error("gate.timer", "gate=%" PRIu64 " error=\"out of memory\"", id);
}

/* ---- ops --------------------------------------------------------------- */

static struct op *op_new(struct gate_engine *e, uint64_t id, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	op->e = e;
	op->id = id;
	op->kind = kind;
	op->next = e->ops;
	if (e->ops)
		e->ops->prev = op;
	e->ops = op;
	return op;
}

/* Unlink and free op; returns its engine (NULL if the engine is gone). */
static struct gate_engine *op_end(struct op *op, uint64_t *id)
{
	struct gate_engine *e = op->e;
	if (e) {
		if (op->prev)
			op->prev->next = op->next;
		else
			e->ops = op->next;
		if (op->next)
			op->next->prev = op->prev;
	}
	*id = op->id;
	free(op);
	return e;
}

/* ---- store plumbing ---------------------------------------------------- */

static void notify(struct gate_engine *e, const struct store_gate *g, enum gate_event ev,
		   const char *detail)
{
	if (e->obs.on_change)
		e->obs.on_change(e->obs.ud, g, ev, detail);
}

/* Re-read g from the store (the store is the truth). */
static void reload(struct gate_engine *e, struct gate *g)
{
	struct store_gate fresh = {0};
	struct bot_error err = {0};

	if (store_gate_get(e->store, g->rec.id, &fresh, &err) != BOT_EOK) {
		log_error("gate.reload", "gate=%" PRIu64 " error=%s", g->rec.id, LOG_Q(err.msg));
		return;
	}
	store_gate_clear(&g->rec);
	g->rec = fresh;
}

/* Attempt a transition of g; *won tells whether it was this one, *busy
 * (may be NULL) that its service is held by another gate (into EXECUTING).
 * The edge is the domain's to judge (gate_transition_allowed); the store
 * applies it only if the gate is still in c->from. On a store error the
 * gate is left as it was and BOT_ESTORE... is returned. */
static int change(struct gate_engine *e, struct gate *g, struct store_change *c, bool *won,
		  bool *busy)
{
	struct bot_error err = {0};
	enum store_result res = STORE_LOST;
	int rc;

	*won = false;
	if (busy)
		*busy = false;
	c->gate_id = g->rec.id;
	if (!gate_transition_allowed(c->from, c->to)) {
		log_error("gate.store", "gate=%" PRIu64 " from=%s to=%s error=\"not a transition\"",
			  g->rec.id, store_state_name(c->from), store_state_name(c->to));
		return BOT_EINVAL;
	}
	rc = store_gate_change(e->store, c, &res, &err);
	*won = res == STORE_DONE;
	if (busy)
		*busy = res == STORE_BUSY;
	if (rc) {
		log_error("gate.store", "gate=%" PRIu64 " from=%s to=%s error=%s", g->rec.id,
			  store_state_name(c->from), store_state_name(c->to), LOG_Q(err.msg));
		return rc;
	}
	reload(e, g);
	if (*won)
		log_info("gate.state", "gate=%" PRIu64 " from=%s to=%s actor=%s", g->rec.id,
			 store_state_name(c->from), store_state_name(c->to), LOG_Q(c->actor));
	return BOT_EOK;
}

/* After a store error: try again later whatever the gate's state needs. */
static void resume_later(struct gate_engine *e, struct gate *g)
{
	tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RESUME);
}

/* Terminal failure out of the current state (PENDING, APPROVED* or
 * EXECUTING); ce (optional) is the cloud's answer for the audit. */
static void fail(struct gate_engine *e, struct gate *g, const char *actor, const char *kind,
		 const char *text, const struct cloud_error *ce)
{
	json_t *d = json_pack("{s:s, s:s}", "result", kind, "detail", text);
	char *detail;
	bool won = false;
	struct store_change c = {
		.from = g->rec.state, .to = GATE_FAILED, .actor = actor,
		.result_kind = kind, .result_detail = text,
	};

	if (d && ce) {
		json_object_set_new(d, "code", json_string(bot_err_name(ce->code)));
		json_object_set_new(d, "http_status", json_integer(ce->http_status));
		json_object_set_new(d, "aws_code", json_string(ce->aws_code));
		json_object_set_new(d, "message", json_string(ce->message));
		json_object_set_new(d, "request_id", json_string(ce->request_id));
		json_object_set_new(d, "attempts", json_integer(ce->attempts));
		c.aws_code = ce->aws_code[0] ? ce->aws_code : bot_err_name(ce->code);
		c.aws_request_id = ce->request_id[0] ? ce->request_id : NULL;
	}
	detail = jdump(d);
	c.detail = detail;
	if (g->rec.state == GATE_PENDING)
		c.decision_detail = text;
	if (change(e, g, &c, &won, NULL) != BOT_EOK) {
		resume_later(e, g);
	} else if (won) {
		log_warn("gate.failed", "gate=%" PRIu64 " result=%s", g->rec.id, kind);
		notify(e, &g->rec, c.from == GATE_PENDING ? GATE_EV_DECIDED : GATE_EV_FINISHED,
		       text);
		drop(e, g);
	}
	free(detail);
}

/* ---- decisions --------------------------------------------------------- */

static void decide_by_timer(struct gate_engine *e, struct gate *g, bool after_restart)
{
	int64_t now = store_now(e->store);
	const char *why = after_restart ? "resolved after restart"
					: "nobody objected before the deadline";
	char *detail = jdump(json_pack("{s:s, s:I, s:I, s:i, s:i}", "note", why, "deadline",
				       (json_int_t)g->rec.deadline, "late_ms",
				       (json_int_t)(now - g->rec.deadline), "approvals",
				       (int)g->rec.n_approved, "min_approvals",
				       g->rec.min_approvals));
	struct store_change c = {
		.from = GATE_PENDING, .to = GATE_APPROVED_BY_TIMER, .actor = "timer",
		.detail = detail, .decision_detail = why,
	};
	bool won = false;

	if (change(e, g, &c, &won, NULL) != BOT_EOK)
		resume_later(e, g);
	else if (won) {
		notify(e, &g->rec, GATE_EV_DECIDED, why);
		proceed(e, g);
	}
	free(detail);
}

static void remind(struct gate_engine *e, struct gate *g, enum tkind kind)
{
	uint64_t now = uv_now(e->loop);

	if (g->rec.state != GATE_PENDING)
		return;
	if (g->last_reminder && now - g->last_reminder < e->reminder_gap)
		return; /* coalesced with the previous one */
	g->last_reminder = now;
	notify(e, &g->rec, GATE_EV_REMINDER, kind == T_REMIND_HALF ? "half time" : "1 minute left");
}

/* Arm the deadline and reminders of a delivered PENDING gate from its wall
 * deadline. */
static void arm(struct gate_engine *e, struct gate *g)
{
	int64_t wall = store_now(e->store), deadline = g->rec.deadline;
	uint64_t now = mono_ms();
	int64_t left = deadline - wall;

	if (g->rec.state != GATE_PENDING || !deadline || g->due)
		return;
	/* +1: never early by a truncated millisecond */
	g->due = now + (uint64_t)(left > 0 ? left : 0) + 1;
	if (tpush(e, g->due, g->rec.id, T_DEADLINE) != BOT_EOK) {
		g->due = 0;
		log_error("gate.arm", "gate=%" PRIu64 " error=\"out of memory\"", g->rec.id);
		return;
	}
	int64_t half = deadline - (int64_t)(g->rec.timer_ms / 2);
	if (g->rec.timer_ms && half > wall)
		tpush_in(e, (uint64_t)(half - wall), g->rec.id, T_REMIND_HALF);
	int64_t last = deadline - (int64_t)LAST_MINUTE_MS;
	if (g->rec.timer_ms > LAST_MINUTE_MIN_TIMER_MS && last > wall)
		tpush_in(e, (uint64_t)(last - wall), g->rec.id, T_REMIND_LAST);
}

/* ---- re-check and execution -------------------------------------------- */

static bool service_active(const struct cloud_service *svc)
{
	return !svc->status || strcmp(svc->status, "ACTIVE") == 0;
}

/* Why the approved action would be stale now, or NULL if it is not. */
static const char *staleness(const struct store_gate *g, const struct cloud_service *svc,
			     char *buf, size_t n)
{
	int d = svc->desired, t = g->target, was = g->desired_at_request;
	bool up = t > was;

	if (!service_active(svc)) {
		snprintf(buf, n, "service %s is %s; nothing was changed", g->ecs_service,
			 svc->status);
	} else if (d == t) {
		snprintf(buf, n, "desired count is already %d (the target); nothing was changed", d);
	} else if (up && d > t) {
		snprintf(buf, n, "desired count is already %d (>= target %d); nothing was changed",
			 d, t);
	} else if (!up && d < t) {
		snprintf(buf, n, "desired count is already %d (<= target %d); nothing was changed",
			 d, t);
	} else if (d != was) {
		snprintf(buf, n, "desired count changed from %d to %d since the request (someone "
			 "else scaled); nothing was changed", was, d);
	} else {
		return NULL;
	}
	return buf;
}

static void execute(struct gate_engine *e, struct gate *g, int observed)
{
	char *intent = jdump(json_pack("{s:s, s:s, s:s, s:i, s:b, s:i}", "action",
				       "UpdateService", "cluster", g->rec.cluster, "service",
				       g->rec.ecs_service, "desiredCount", g->rec.target,
				       "forceNewDeployment", g->rec.force_new_deployment,
				       "observedDesired", observed));
	struct store_change c = {
		.from = g->rec.state, .to = GATE_EXECUTING, .actor = "system", .kind = "executing",
		.detail = intent, .exec_intent = intent, .set_exec_from = true,
		.owner = e->owner, .lease_ms = e->exec_lease,
		.exec_from = observed,
	};
	bool won = false, busy = false;

	if (!intent) {
		resume_later(e, g);
		return;
	}
	if (change(e, g, &c, &won, &busy) != BOT_EOK) {
		resume_later(e, g);
	} else if (busy) {
		/* another gate of this service is live (only possible for gates
		 * opened before the store held services): wait, then re-read */
		log_info("gate.waiting", "gate=%" PRIu64 " service=%s reason=\"another live gate "
			 "holds it\"", g->rec.id, LOG_Q(g->rec.ecs_service));
		tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
	} else if (won) {
		notify(e, &g->rec, GATE_EV_EXECUTING, intent);
		call_scale(e, g);
	}
	free(intent);
}

/* The call was cancelled because the bot is stopping: that is no answer
 * about the service, so nothing is concluded; the gate stays where it is
 * and the next start resumes or reconciles it (gate_engine_recover). */
static bool stopping(const struct gate *g, const struct cloud_error *ce, const char *what)
{
	if (!ce || ce->code != BOT_ECANCELLED)
		return false;
	log_info("gate.cancelled", "gate=%" PRIu64 " call=%s state=%s effect=\"left for "
		 "recovery at the next start\"", g->rec.id, what, store_state_name(g->rec.state));
	return true;
}

static void on_recheck(void *ud, const struct cloud_error *ce, const struct cloud_service *svc)
{
	uint64_t id;
	struct gate_engine *e = op_end(ud, &id);
	struct gate *g = e ? map_get(e, id) : NULL;
	char why[300], text[700];

	if (!g)
		return;
	hold(g);
	g->working = false;
	if (g->rec.state != GATE_APPROVED && g->rec.state != GATE_APPROVED_BY_TIMER)
		goto out;
	if (stopping(g, ce, "recheck"))
		goto out;
	if ((ce && ce->code) || !svc) {
		if (ce && ce->code == BOT_ENOTFOUND) {
			snprintf(text, sizeof text, "service %s not found in cluster %s; nothing was "
				 "changed", g->rec.ecs_service, g->rec.cluster);
			fail(e, g, "system", "stale", text, ce);
		} else {
			snprintf(text, sizeof text, "could not re-read the service before acting "
				 "(%s); nothing was changed", ce ? ce->message : "no answer");
			fail(e, g, "system", "recheck_failed", text, ce);
		}
		goto out;
	}
	if (staleness(&g->rec, svc, why, sizeof why)) {
		fail(e, g, "system", "stale", why, NULL);
		goto out;
	}
	execute(e, g, svc->desired);
out:
	put(g);
}

/* Does another live gate hold g's service? (A store error says no: the
 * claim of execution decides anyway.) */
static bool held_by_another(struct gate_engine *e, const struct gate *g)
{
	struct bot_error err = {0};
	uint64_t holder = 0;

	if (store_service_holder(e->store, g->rec.cluster, g->rec.ecs_service, &holder, &err))
		return false;
	if (holder && holder != g->rec.id)
		log_debug("gate.waiting", "gate=%" PRIu64 " service=%s holder=%" PRIu64, g->rec.id,
			 LOG_Q(g->rec.ecs_service), holder);
	return holder && holder != g->rec.id;
}

/* Approved (by people or the timer): read the service again, then act. */
static void proceed(struct gate_engine *e, struct gate *g)
{
	struct op *op;
	int rc;

	if (g->working || (g->rec.state != GATE_APPROVED && g->rec.state != GATE_APPROVED_BY_TIMER))
		return;
	if (held_by_another(e, g)) {
		/* only a gate opened before the store held services can be here:
		 * wait without reading AWS until the holder is final */
		tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
		return;
	}
	op = op_new(e, g->rec.id, OP_RECHECK);
	if (!op) {
		resume_later(e, g);
		return;
	}
	g->working = true;
	rc = e->cloud->ops->describe(e->cloud, g->rec.cluster, g->rec.ecs_service, on_recheck, op);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		snprintf(ce.message, sizeof ce.message, "%s", bot_strerror(rc));
		on_recheck(op, &ce, NULL);
	}
}

/* The outcome of a scale call may be unknown: the request may have been
 * applied although no answer came back. */
static bool ambiguous(const struct cloud_error *ce)
{
	return ce->code == BOT_ETRANSPORT || ce->code == BOT_ETIMEOUT ||
	       (ce->code == BOT_EREMOTE && (ce->http_status == 0 || ce->http_status >= 500));
}

static void succeed(struct gate_engine *e, struct gate *g, const char *request_id, int after,
		    const char *text, const char *kind)
{
	char *detail = jdump(json_pack("{s:s, s:i, s:i, s:i, s:s*, s:s}", "result", kind, "from",
				       g->rec.exec_from, "target", g->rec.target, "desired_after",
				       after, "request_id", request_id, "detail", text));
	struct store_change c = {
		.from = GATE_EXECUTING, .to = GATE_SUCCEEDED, .actor = "system", .detail = detail,
		.result_kind = kind, .result_detail = text, .aws_request_id = request_id,
	};
	bool won = false;

	if (change(e, g, &c, &won, NULL) != BOT_EOK) {
		/* the outcome is known but not recorded: reconcile to record it */
		tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
	} else if (won) {
		notify(e, &g->rec, GATE_EV_FINISHED, text);
		drop(e, g);
	}
	free(detail);
}

static void scale_failed(struct gate_engine *e, struct gate *g, const struct cloud_error *ce)
{
	char text[700];
	snprintf(text, sizeof text, "UpdateService failed: %s: %s%s%s", ce->aws_code[0] ?
		 ce->aws_code : bot_err_name(ce->code), ce->message, ce->request_id[0] ?
		 " (request id " : "", ce->request_id[0] ? ce->request_id : "");
	if (ce->request_id[0])
		strncat(text, ")", sizeof text - strlen(text) - 1);
	fail(e, g, "system", "aws_error", text, ce);
}

static void on_scaled(void *ud, const struct cloud_error *ce, const struct cloud_service *after)
{
	uint64_t id;
	struct gate_engine *e = op_end(ud, &id);
	struct gate *g = e ? map_get(e, id) : NULL;
	char text[700];

	if (!g)
		return;
	hold(g);
	g->working = false;
	if (g->rec.state != GATE_EXECUTING)
		goto out;
	if (stopping(g, ce, "scale"))
		goto out;
	if (ce && ce->code == BOT_EDRYRUN) {
		snprintf(text, sizeof text, "%s; nothing was changed", ce->message);
		fail(e, g, "system", "dry_run", text, ce);
		goto out;
	}
	if (ce && ce->code) {
		if (ambiguous(ce)) {
			g->reconcile_left = e->reconcile_tries;
			reconcile(e, g, false, ce);
		} else {
			scale_failed(e, g, ce);
		}
		goto out;
	}
	snprintf(text, sizeof text, "desired count set to %d (was %d)", g->rec.target,
		 g->rec.exec_from);
	succeed(e, g, ce && ce->request_id[0] ? ce->request_id : NULL,
		after ? after->desired : g->rec.target, text, "scaled");
out:
	put(g);
}

static void call_scale(struct gate_engine *e, struct gate *g)
{
	struct op *op = op_new(e, g->rec.id, OP_SCALE);
	int rc;

	if (!op) {
		tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
		return;
	}
	g->working = true;
	log_info("gate.scale", "gate=%" PRIu64 " cluster=%s service=%s desired=%d", g->rec.id,
		 LOG_Q(g->rec.cluster), LOG_Q(g->rec.ecs_service), g->rec.target);
	rc = e->cloud->ops->scale(e->cloud, g->rec.cluster, g->rec.ecs_service, g->rec.target,
				  g->rec.force_new_deployment, on_scaled, op);
	if (rc) {
		/* not sent: a definite failure, not an ambiguous one */
		struct cloud_error ce = {.code = rc};
		snprintf(ce.message, sizeof ce.message, "the call could not be started (%s)",
			 bot_strerror(rc));
		on_scaled(op, &ce, NULL);
	}
}

static void on_reconciled(void *ud, const struct cloud_error *ce, const struct cloud_service *svc)
{
	struct op *op = ud;
	bool after_restart = op->after_restart, after_error = op->after_error;
	struct cloud_error saved = op->saved;
	uint64_t id;
	struct gate_engine *e = op_end(op, &id);
	struct gate *g = e ? map_get(e, id) : NULL;
	char text[700];

	if (!g)
		return;
	hold(g);
	g->working = false;
	if (g->rec.state != GATE_EXECUTING)
		goto out;
	if (stopping(g, ce, "reconcile"))
		goto out;
	if ((ce && ce->code) || !svc) {
		if (ce && ce->code == BOT_ENOTFOUND) {
			snprintf(text, sizeof text, "service %s disappeared while it was being "
				 "scaled", g->rec.ecs_service);
			fail(e, g, "system", "reconcile", text, ce);
		} else if (g->reconcile_left > 1) {
			g->reconcile_left--;
			tpush_in(e, e->reconcile_retry, g->rec.id, T_RECONCILE);
		} else if (after_error) {
			scale_failed(e, g, &saved);
		} else {
			snprintf(text, sizeof text, "could not verify whether UpdateService took "
				 "effect (%s); check desired count of %s (target %d)",
				 ce ? ce->message : "no answer", g->rec.ecs_service, g->rec.target);
			fail(e, g, "system", "unverified", text, ce);
		}
		goto out;
	}
	if (svc->desired == g->rec.target) {
		snprintf(text, sizeof text, after_error ?
			 "UpdateService answered with an error, but the service shows desired count %d "
			 "(the target): it took effect" :
			 after_restart ? "reconciled after restart: desired count is %d (the target); "
			 "UpdateService was not called again" :
			 "desired count is %d (the target)", svc->desired);
		succeed(e, g, NULL, svc->desired, text, after_restart ? "reconciled" : "scaled");
	} else if (after_error) {
		scale_failed(e, g, &saved);
	} else if (svc->desired == g->rec.exec_from && after_restart &&
		   g->rec.exec_started_at + (int64_t)e->reissue_guard > store_now(e->store)) {
		/* not applied yet, but the previous run's call may still be in
		 * flight: look again once it cannot be any more */
		int64_t wait = g->rec.exec_started_at + (int64_t)e->reissue_guard -
			       store_now(e->store);
		log_info("gate.reconcile", "gate=%" PRIu64 " desired=%d effect=\"the previous run's "
			 "call may still land; looking again in %lld ms\"", g->rec.id, svc->desired,
			 (long long)wait);
		g->reconcile_left = 0;
		tpush_in(e, (uint64_t)wait, g->rec.id, T_RECONCILE);
	} else if (svc->desired == g->rec.exec_from) {
		/* intent recorded, not applied: issue the call now (absolute count,
		 * idempotent; this is the one effective call) */
		char *d = jdump(json_pack("{s:s, s:i}", "note", "intent recorded before the restart "
					  "was not applied; calling UpdateService", "observed",
					  svc->desired));
		struct bot_error err = {0};
		if (store_audit_add(e->store, g->rec.id, "recovery", "reissue", d, &err) != BOT_EOK)
			log_error("gate.store", "gate=%" PRIu64 " error=%s", g->rec.id, LOG_Q(err.msg));
		free(d);
		call_scale(e, g);
	} else {
		snprintf(text, sizeof text, "desired count is %d: neither the value before the call "
			 "(%d) nor the target (%d); someone else changed it, not overwritten",
			 svc->desired, g->rec.exec_from, g->rec.target);
		fail(e, g, "system", "reconcile_conflict", text, NULL);
	}
out:
	put(g);
}

static void reconcile(struct gate_engine *e, struct gate *g, bool after_restart,
		      const struct cloud_error *after_error)
{
	struct op *op;
	int rc;

	if (g->working || g->rec.state != GATE_EXECUTING)
		return;
	op = op_new(e, g->rec.id, OP_RECONCILE);
	if (!op) {
		tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
		return;
	}
	op->after_restart = after_restart;
	if (after_error) {
		op->after_error = true;
		op->saved = *after_error;
	}
	g->working = true;
	rc = e->cloud->ops->describe(e->cloud, g->rec.cluster, g->rec.ecs_service, on_reconciled,
				     op);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		snprintf(ce.message, sizeof ce.message, "%s", bot_strerror(rc));
		on_reconciled(op, &ce, NULL);
	}
}

/* ---- timer ------------------------------------------------------------- */

static void fire(struct gate_engine *e, const struct timeheap_entry *t)
{
	struct gate *g = map_get(e, t->id);

	if (!g)
		return; /* stale entry: the gate is final */
	hold(g);
	switch ((enum tkind)t->tag) {
	case T_DEADLINE:
		if (g->rec.state == GATE_PENDING && g->due == t->due)
			decide_by_timer(e, g, false);
		break;
	case T_REMIND_HALF:
	case T_REMIND_LAST:
		remind(e, g, (enum tkind)t->tag);
		break;
	case T_RESUME:
		if (g->rec.state == GATE_PENDING && g->rec.deadline &&
		    g->rec.deadline <= store_now(e->store))
			decide_by_timer(e, g, false);
		else if (g->rec.state == GATE_APPROVED || g->rec.state == GATE_APPROVED_BY_TIMER)
			proceed(e, g);
		else if (g->rec.state == GATE_EXECUTING)
			reconcile(e, g, false, NULL);
		break;
	case T_RECONCILE:
		if (!g->reconcile_left)
			g->reconcile_left = e->reconcile_tries;
		reconcile(e, g, g->restarted, NULL);
		break;
	}
	put(g);
}

static void on_timer(uv_timer_t *t)
{
	struct gate_engine *e = container_of(t, struct gate_engine, timer);
	uint64_t now = uv_now(e->loop);
	struct timeheap_entry te;

	e->armed_due = 0;
	while (timeheap_top(&e->timers) && timeheap_top(&e->timers)->due <= now) {
		timeheap_pop(&e->timers, &te);
		fire(e, &te);
	}
	rearm(e);
}

/* ---- public: lifetime -------------------------------------------------- */

int gate_engine_create(const struct gate_engine_opts *o, struct gate_engine **out,
		       struct bot_error *err)
{
	struct gate_engine *e;

	*out = NULL;
	if (!o || !o->loop || !o->store || !o->cloud || !o->obs.post_request)
		return bot_error_set(err, BOT_EINVAL,
				     "gate: loop, store, cloud and an observer that posts are required");
	e = calloc(1, sizeof *e);
	if (!e)
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	e->loop = o->loop;
	e->exec_lease = o->exec_lease_ms ? o->exec_lease_ms : DEFAULT_EXEC_LEASE_MS;
	if (o->owner && o->owner[0]) {
		snprintf(e->owner, sizeof e->owner, "%s", o->owner);
	} else {
		char host[64] = "";
		if (gethostname(host, sizeof host - 1) != 0 || !host[0])
			snprintf(host, sizeof host, "localhost");
		snprintf(e->owner, sizeof e->owner, "%s:%ld", host, (long)getpid());
	}
	idmap_init(&e->gates);
	timeheap_init(&e->timers);
	e->store = o->store;
	e->cloud = o->cloud;
	e->obs = o->obs;
	e->reminder_gap = o->reminder_gap_ms ? o->reminder_gap_ms : DEFAULT_REMINDER_GAP_MS;
	e->reconcile_tries = o->reconcile_tries ? o->reconcile_tries : DEFAULT_RECONCILE_TRIES;
	e->reconcile_retry = o->reconcile_retry_ms ? o->reconcile_retry_ms
						   : DEFAULT_RECONCILE_RETRY_MS;
	e->reissue_guard = o->reissue_guard_ms ? o->reissue_guard_ms : DEFAULT_REISSUE_GUARD_MS;
	if (uv_timer_init(o->loop, &e->timer) != 0) {
		free(e);
		return bot_error_set(err, BOT_EIO, "gate: cannot create the timer");
	}
	*out = e;
	return BOT_EOK;
}

static void free_gate_cb(void *ud, uint64_t id, void *g)
{
	(void)ud;
	(void)id;
	gate_free(g);
}

static void on_close(uv_handle_t *h)
{
	struct gate_engine *e = container_of((uv_timer_t *)h, struct gate_engine, timer);
	free(e);
}

void gate_engine_destroy(struct gate_engine *e)
{
	if (!e || e->closing)
		return;
	e->closing = true;
	for (struct op *op = e->ops, *next; op; op = next) {
		next = op->next;
		op->e = NULL; /* its callback will only free it */
		op->prev = op->next = NULL;
	}
	e->ops = NULL;
	idmap_each(&e->gates, free_gate_cb, NULL);
	idmap_finish(&e->gates);
	timeheap_finish(&e->timers);
	uv_close((uv_handle_t *)&e->timer, on_close);
}

size_t gate_engine_live(const struct gate_engine *e)
{
	return e->gates.count;
}

int64_t gate_engine_due_in(struct gate_engine *e, uint64_t id)
{
	struct gate *g = map_get(e, id);
	uint64_t now = mono_ms();

	if (!g || !g->due || g->rec.state != GATE_PENDING)
		return -1;
	return g->due > now ? (int64_t)(g->due - now) : 0;
}

/* ---- public: requests -------------------------------------------------- */

static char *dup_or(const char *s, const char *dflt, bool *oom)
{
	char *d;
	if (!s)
		s = dflt;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static int validate(const struct gate_spec *sp, struct bot_error *err)
{
	int min = sp->min_approvals ? sp->min_approvals : 1;

	if (!sp->service || !sp->cluster || !sp->ecs_service || !sp->requester)
		return bot_error_set(err, BOT_EINVAL, "gate: service, cluster, ECS service and "
				     "requester are required");
	if (sp->target < 0 || sp->current_desired < 0)
		return bot_error_set(err, BOT_EINVAL, "gate: desired counts cannot be negative");
	if (!sp->timer_ms)
		return bot_error_set(err, BOT_EINVAL, "gate: the timer must be longer than 0");
	if (sp->timer_ms > (uint64_t)INT64_MAX / 4)
		return bot_error_set(err, BOT_EINVAL, "gate: the timer is too long");
	if (!sp->n_approvers || !sp->approvers)
		return bot_error_set(err, BOT_EINVAL, "gate: nobody could approve or deny %s: "
				     "configure approvers", sp->service);
	for (size_t i = 0; i < sp->n_approvers; i++)
		if (!sp->approvers[i] || !sp->approvers[i][0])
			return bot_error_set(err, BOT_EINVAL, "gate: empty approver id");
	if (min < 1 || (size_t)min > sp->n_approvers)
		return bot_error_set(err, BOT_EINVAL, "gate: %d approvals needed but only %zu "
				     "approver%s configured", min, sp->n_approvers,
				     sp->n_approvers == 1 ? "" : "s");
	return BOT_EOK;
}

static struct gate *gate_from_spec(const struct gate_spec *sp)
{
	struct gate *g = calloc(1, sizeof *g);
	struct store_gate *r;
	bool oom = !g;

	if (!g)
		return NULL;
	r = &g->rec;
	r->service = dup_or(sp->service, NULL, &oom);
	r->cluster = dup_or(sp->cluster, NULL, &oom);
	r->ecs_service = dup_or(sp->ecs_service, NULL, &oom);
	r->requester = dup_or(sp->requester, NULL, &oom);
	r->reason = dup_or(sp->reason, "", &oom);
	r->channel = dup_or(sp->channel, NULL, &oom);
	r->evidence = dup_or(sp->evidence, "", &oom);
	r->action = dup_or(STORE_ACTION_SCALE, NULL, &oom);
	r->params = jdump(json_pack("{s:i}", "target", sp->target));
	oom = oom || !r->params;
	r->target = sp->target;
	r->desired_at_request = sp->current_desired;
	r->timer_ms = sp->timer_ms;
	r->min_approvals = sp->min_approvals ? sp->min_approvals : 1;
	r->allow_self = sp->allow_self;
	r->force_new_deployment = sp->force_new_deployment;
	r->approvers = calloc(sp->n_approvers, sizeof *r->approvers);
	if (r->approvers) {
		r->n_approvers = sp->n_approvers;
		for (size_t i = 0; i < sp->n_approvers; i++)
			r->approvers[i] = dup_or(sp->approvers[i], NULL, &oom);
	} else {
		oom = true;
	}
	if (oom) {
		gate_free(g);
		return NULL;
	}
	return g;
}

static void on_delivered(void *token, int rc, const char *channel, const char *ts,
			 const char *detail)
{
	uint64_t id;
	struct gate_engine *e = op_end(token, &id);
	struct gate *g = e ? map_get(e, id) : NULL;
	struct bot_error err = {0};
	bool armed = false;

	if (!e)
		return;
	if (g)
		hold(g);
	if (rc) {
		char text[400];
		snprintf(text, sizeof text, "approval request could not be delivered; nothing will "
			 "happen (%s)", detail && detail[0] ? detail : bot_strerror(rc));
		log_warn("gate.undelivered", "gate=%" PRIu64 " rc=%s", id, bot_err_name(rc));
		if (g && g->rec.state == GATE_PENDING)
			fail(e, g, "system", "undelivered", text, NULL);
		goto out;
	}
	if (store_gate_delivered(e->store, id, channel, ts, &armed, &err) != BOT_EOK) {
		/* stays PENDING without a deadline: it can never auto-approve */
		log_error("gate.delivered", "gate=%" PRIu64 " error=%s effect=\"no timer; "
			  "approvers can still decide\"", id, LOG_Q(err.msg));
		goto out;
	}
	if (g) {
		reload(e, g);
		if (armed)
			arm(e, g);
		notify(e, &g->rec, GATE_EV_DELIVERED, NULL);
	} else {
		/* decided (and forgotten) before the post was confirmed */
		struct store_gate rec = {0};
		if (store_gate_get(e->store, id, &rec, &err) == BOT_EOK)
			notify(e, &rec, GATE_EV_DELIVERED, NULL);
		store_gate_clear(&rec);
	}
out:
	if (g)
		put(g);
}

int gate_request(struct gate_engine *e, const struct gate_spec *spec, uint64_t *id_out,
		 struct bot_error *err)
{
	struct gate *g = NULL;
	struct op *op;
	enum store_result res = STORE_LOST;
	uint64_t holder = 0;
	int rc;

	if (id_out)
		*id_out = 0;
	rc = validate(spec, err);
	if (rc)
		return rc;
	g = gate_from_spec(spec);
	if (!g)
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	rc = store_gate_open(e->store, &g->rec, &res, &holder, err);
	if (rc == BOT_EOK && res == STORE_BUSY) {
		if (id_out)
			*id_out = holder;
		rc = bot_error_set(err, BOT_EBUSY, "%s already has an open request (#%" PRIu64 ")",
				   spec->service, holder);
	}
	if (rc) {
		gate_free(g);
		return rc;
	}
	op = op_new(e, g->rec.id, OP_DELIVER);
	if (!op || map_put(e, g) != BOT_EOK) {
		/* committed but cannot be handled: fail it closed right away
		 * (g is not in the map; refs: one that drop() releases, one ours) */
		if (op) {
			uint64_t unused;
			op_end(op, &unused);
		}
		g->refs = 2;
		fail(e, g, "system", "undelivered", "out of memory before the request was posted; "
		     "nothing will happen", NULL);
		if (!g->dropped) {
			g->dropped = true;
			g->refs--;
		}
		put(g);
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	}
	g->refs = 1;
	if (id_out)
		*id_out = g->rec.id;
	log_info("gate.requested", "gate=%" PRIu64 " service=%s target=%d timer_ms=%" PRIu64,
		 g->rec.id, LOG_Q(g->rec.service), g->rec.target, g->rec.timer_ms);
	hold(g);
	e->obs.post_request(e->obs.ud, &g->rec, on_delivered, op);
	put(g);
	return BOT_EOK;
}

/* ---- public: clicks ---------------------------------------------------- */

static void fill_result(struct gate_click_result *out, const struct store_gate *r)
{
	out->state = r->state;
	out->decision = r->decision;
	snprintf(out->by, sizeof out->by, "%s", r->decided_by ? r->decided_by : "");
	out->at = r->decided_at;
	out->approvals = (int)r->n_approved;
	out->min_approvals = r->min_approvals;
}

/* Get (or load) the in-memory gate for id after a committed decision. */
static struct gate *live_gate(struct gate_engine *e, uint64_t id)
{
	struct gate *g = map_get(e, id);
	struct bot_error err = {0};

	if (g)
		return g;
	g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	if (store_gate_get(e->store, id, &g->rec, &err) != BOT_EOK || map_put(e, g) != BOT_EOK) {
		gate_free(g);
		return NULL;
	}
	g->refs = 1;
	return g;
}

enum action { ACT_APPROVE, ACT_DENY, ACT_CANCEL };

/* How often a vote is judged again when the gate moved between the read
 * and the conditional write (another click, the timer, another replica).
 * Each round is one read and one atomic write; losing this many in a row
 * means the gate is changing faster than people click. */
#define VOTE_TRIES 8

static bool on_card(const struct store_gate *g, const struct gate_where *w)
{
	return w && w->channel && w->message_ts && g->channel && g->message_ts &&
	       strcmp(w->channel, g->channel) == 0 && strcmp(w->message_ts, g->message_ts) == 0;
}

/* What a vote means for the gate as read (NULL: there is no such gate):
 * the outcome, the state it moves to (PENDING: none) and whether it
 * counts an approval. The rules of the gate, in one place. */
struct verdict {
	enum gate_outcome outcome;
	enum gate_state to;
	bool count;
};

static struct verdict judge(struct gate_engine *e, const struct store_gate *rec,
			    const char *user, enum action act, const struct gate_where *where)
{
	struct verdict v = {.outcome = GATE_OUT_UNKNOWN_GATE, .to = GATE_PENDING};

	if (!rec)
		return v;
	bool approver = has_user(rec->approvers, rec->n_approvers, user);
	bool requester = strcmp(user, rec->requester) == 0;
	bool allowed = !e->obs.still_allowed ||
		       e->obs.still_allowed(e->obs.ud, rec, user, act == ACT_CANCEL);

	if (act != ACT_CANCEL && !on_card(rec, where)) {
		v.outcome = GATE_OUT_WRONG_CARD;
	} else if (rec->state != GATE_PENDING) {
		v.outcome = GATE_OUT_ALREADY_DECIDED;
	} else if ((act == ACT_CANCEL ? approver || requester : approver) && !allowed) {
		v.outcome = GATE_OUT_REVOKED;
	} else if (act == ACT_CANCEL) {
		v.outcome = approver || requester ? GATE_OUT_DECIDED_CANCELLED
						  : GATE_OUT_NOT_APPROVER;
		v.to = approver || requester ? GATE_CANCELLED : GATE_PENDING;
	} else if (!approver) {
		v.outcome = GATE_OUT_NOT_APPROVER;
	} else if (act == ACT_DENY) {
		v.outcome = GATE_OUT_DECIDED_DENIED;
		v.to = GATE_DENIED;
	} else if (requester && !rec->allow_self) {
		v.outcome = GATE_OUT_SELF_APPROVAL;
	} else if (has_user(rec->approved_by, rec->n_approved, user)) {
		v.outcome = GATE_OUT_ALREADY_COUNTED;
	} else {
		v.count = true;
		v.outcome = (int)rec->n_approved + 1 >= rec->min_approvals
				    ? GATE_OUT_DECIDED_APPROVED : GATE_OUT_ACCEPTED_APPROVAL;
		v.to = v.outcome == GATE_OUT_DECIDED_APPROVED ? GATE_APPROVED : GATE_PENDING;
	}
	return v;
}

/* "approved by UA, UB", "denied by UA", "cancelled by UA". */
static void decided_by_text(const struct store_gate *rec, enum gate_state to, const char *user,
			    char *by, size_t n)
{
	if (to == GATE_APPROVED) {
		/* everyone counted, this click last */
		size_t o = (size_t)snprintf(by, n, "approved by");
		for (size_t i = 0; i < rec->n_approved && o < n; i++)
			o += (size_t)snprintf(by + o, n - o, " %s,", rec->approved_by[i]);
		if (o < n)
			snprintf(by + o, n - o, " %s", user);
	} else {
		snprintf(by, n, "%s by %s", to == GATE_DENIED ? "denied" : "cancelled", user);
	}
}

/* One round: judge the gate as read and write the vote, conditional on the
 * gate still being as read. *res STORE_LOST: read again and judge again. */
static int vote_once(struct gate_engine *e, uint64_t id, const char *user, enum action act,
		     const char *event_id, const struct gate_where *where,
		     struct gate_click_result *out, enum gate_state *to,
		     enum store_result *res, struct bot_error *err)
{
	static const char *const what[] = {"approve", "deny", "cancel"};
	struct store_gate rec = {0};
	char by[200] = "";
	char *click = NULL, *change_d = NULL;
	bool missing;
	int rc;

	memset(out, 0, sizeof *out);
	rc = store_gate_get(e->store, id, &rec, err);
	missing = rc == BOT_ENOTFOUND;
	if (rc && !missing)
		goto out;
	rc = BOT_EOK;
	if (!missing)
		fill_result(out, &rec);
	struct verdict v = judge(e, missing ? NULL : &rec, user, act, where);
	out->outcome = v.outcome;
	if (v.count)
		out->approvals++;
	*to = v.to;
	click = jdump(json_pack("{s:s, s:s*, s:s, s:i, s:i, s:s*, s:s*}", "vote", what[act],
				"event_id", event_id, "outcome", gate_outcome_name(v.outcome),
				"approvals", out->approvals, "min_approvals", out->min_approvals,
				"channel", where ? where->channel : NULL,
				"message_ts", where ? where->message_ts : NULL));
	if (v.to != GATE_PENDING) {
		decided_by_text(&rec, v.to, user, by, sizeof by);
		change_d = jdump(json_pack("{s:s, s:s*, s:i, s:i}", "note", by, "event_id",
					   event_id, "approvals", out->approvals,
					   "min_approvals", rec.min_approvals));
	}
	if (!click || (v.to != GATE_PENDING && !change_d)) {
		rc = bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
		goto out;
	}
	struct store_vote sv = {
		.gate_id = id, .version = rec.version, .gate_missing = missing,
		.event_id = event_id, .actor = user,
		.kind = act == ACT_CANCEL ? "cancel" : "click", .detail = click,
		.approve_user = v.count ? user : NULL, .to = v.to,
		.decided_by = user, .decision_detail = by, .change_detail = change_d,
	};
	rc = store_gate_vote(e->store, &sv, res, err);
out:
	store_gate_clear(&rec);
	free(click);
	free(change_d);
	return rc;
}

/* The one decision path for clicks and cancels: read, judge, and write the
 * vote as one conditional step of the store (see store.h); a lost race is
 * judged again on what the winner left. where: for a click, the message it
 * was made on; NULL for a cancel (a command, not a button). */
static int decide(struct gate_engine *e, uint64_t id, const char *user, enum action act,
		  const char *event_id, const struct gate_where *where,
		  struct gate_click_result *out, struct bot_error *err)
{
	enum store_result res = STORE_LOST;
	enum gate_state to = GATE_PENDING;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	out->outcome = GATE_OUT_UNKNOWN_GATE;
	if (!user || !user[0])
		return bot_error_set(err, BOT_EINVAL, "gate: a click needs a user");
	for (int i = 0; i < VOTE_TRIES && rc == BOT_EOK && res == STORE_LOST; i++)
		rc = vote_once(e, id, user, act, event_id, where, out, &to, &res, err);
	if (rc == BOT_EOK && res == STORE_LOST)
		rc = bot_error_set(err, BOT_EBUSY, "gate #%" PRIu64 ": it changed under each of "
				   "%d tries; nothing was recorded", id, VOTE_TRIES);
	if (rc) {
		memset(out, 0, sizeof *out);
		out->outcome = GATE_OUT_UNKNOWN_GATE;
		return rc;
	}
	if (res == STORE_DUPLICATE) {
		out->outcome = GATE_OUT_DUPLICATE_EVENT; /* already audited the first time */
		return BOT_EOK;
	}
	/* committed: now tell, then act */
	if (out->outcome == GATE_OUT_ACCEPTED_APPROVAL || to != GATE_PENDING) {
		struct gate *g = live_gate(e, id);
		if (!g) {
			log_error("gate.click", "gate=%" PRIu64 " error=\"cannot load after decision\"",
				  id);
			return BOT_EOK; /* recovery at next start picks it up */
		}
		hold(g);
		reload(e, g);
		fill_result(out, &g->rec);
		if (to == GATE_PENDING) {
			notify(e, &g->rec, GATE_EV_APPROVAL, NULL);
		} else {
			log_info("gate.state", "gate=%" PRIu64 " from=PENDING to=%s actor=%s", id,
				 store_state_name(to), LOG_Q(user));
			notify(e, &g->rec, GATE_EV_DECIDED, g->rec.decision_detail);
			if (to == GATE_APPROVED)
				proceed(e, g);
			else
				drop(e, g);
		}
		put(g);
	}
	return BOT_EOK;
}

int gate_click(struct gate_engine *e, uint64_t id, const char *user, enum gate_vote vote,
	       const char *event_id, const struct gate_where *where,
	       struct gate_click_result *out, struct bot_error *err)
{
	return decide(e, id, user, vote == GATE_VOTE_DENY ? ACT_DENY : ACT_APPROVE, event_id,
		      where, out, err);
}

int gate_cancel(struct gate_engine *e, uint64_t id, const char *user, const char *event_id,
		struct gate_click_result *out, struct bot_error *err)
{
	return decide(e, id, user, ACT_CANCEL, event_id, NULL, out, err);
}

/* ---- public: recovery -------------------------------------------------- */

int gate_engine_recover(struct gate_engine *e, struct gate_recover_stats *st,
			struct bot_error *err)
{
	struct gate_recover_stats local = {0};
	struct store_gate *v = NULL;
	size_t n = 0;
	int64_t now;
	int rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (e->recovered)
		return bot_error_set(err, BOT_ESTATE, "gate: recovery already ran");
	e->recovered = true;
	rc = store_gate_list(e->store, GATE_LIVE_MASK, &v, &n, err);
	if (rc)
		return rc;
	now = store_now(e->store);
	for (size_t i = 0; i < n; i++) {
		struct gate *g = calloc(1, sizeof *g);
		if (!g) {
			rc = bot_error_set(err, BOT_ENOMEM, "gate: out of memory while recovering");
			break;
		}
		g->rec = v[i]; /* moved */
		memset(&v[i], 0, sizeof v[i]);
		if (store_state_final(g->rec.state)) { /* not asked for; nothing to do */
			gate_free(g);
			continue;
		}
		if (map_put(e, g) != BOT_EOK) {
			gate_free(g);
			rc = bot_error_set(err, BOT_ENOMEM, "gate: out of memory while recovering");
			break;
		}
		g->refs = 1;
		hold(g);
		switch (g->rec.state) {
		case GATE_PENDING:
			if (!g->rec.deadline) {
				st->failed_closed++;
				fail(e, g, "recovery", "undelivered",
				     "approval request delivery was never confirmed before the "
				     "restart; nothing will happen", NULL);
			} else if (g->rec.deadline > now) {
				st->rearmed++;
				arm(e, g);
				notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
			} else {
				st->expired++;
				notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
				decide_by_timer(e, g, true);
			}
			break;
		case GATE_APPROVED:
		case GATE_APPROVED_BY_TIMER:
			st->resumed++;
			notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
			proceed(e, g);
			break;
		case GATE_EXECUTING:
			st->reconciling++;
			notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
			g->reconcile_left = e->reconcile_tries;
			g->restarted = true;
			reconcile(e, g, true, NULL);
			break;
		default:
			break;
		}
		put(g);
	}
	store_gate_array_free(v, n);
	log_info("gate.recovered", "rearmed=%zu expired=%zu failed_closed=%zu resumed=%zu "
		 "reconciling=%zu", st->rearmed, st->expired, st->failed_closed, st->resumed,
		 st->reconciling);
	return rc;
}
