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
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
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

/* How often a replica sharing the store reads the live gates. */
#define DEFAULT_SYNC_MS (2u * 1000u)
/* A never-delivered request of a shared store is failed closed only this
 * long after it was opened: the replica posting it may still be at it. */
#define DEFAULT_UNDELIVERED_GRACE_MS (2u * 60u * 1000u)
#define DEFAULT_ADOPT_AFTER_MS (15u * 1000u)
/* The live-gate listing of a shared store may lag a write (DynamoDB's
 * indexes are eventually consistent): a gate missing from it is looked up
 * only once it is older than this. */
#define LIST_LAG_MS (5u * 1000u)

/* ---- types ------------------------------------------------------------- */

/* A gate the engine still has work for (not final). */
struct gate {
	struct store_gate rec;    /* as last read from the store */
	uint64_t due;             /* monotonic ms when the deadline fires; 0 = not armed */
	uint64_t last_reminder;   /* monotonic ms of the last reminder; 0 = none */
	uint64_t seen_in;         /* the sync pass that last listed it */
	unsigned reconcile_left;  /* describe attempts left when reconciling */
	int refs;                 /* the map holds one; engine calls hold one each */
	bool dropped;             /* out of the map; freed at refs == 0 */
	bool restarted;           /* found EXECUTING at recovery, or taken over */
	bool working;             /* a store step or cloud call for it is in flight */
	bool home;                /* this process posted its card (it reminds) */
	int votes;                /* clicks on it being written (no reminder meanwhile) */
};

enum tkind {
	T_DEADLINE = 0,  /* approve by timer */
	T_REMIND_HALF,
	T_REMIND_LAST,
	T_RESUME,        /* retry whatever the state needs (after a store error) */
	T_RECONCILE,     /* describe again (EXECUTING with unknown outcome) */
};

enum op_kind { OP_DELIVER, OP_RECHECK, OP_SCALE, OP_RECONCILE, OP_STORE, OP_VOTE, OP_SYNC };

/* What follows a committed store step (see after_change). */
enum then {
	THEN_FAIL,     /* a terminal failure: tell, forget */
	THEN_TIMER,    /* approved by the timer: tell, act */
	THEN_EXECUTE,  /* the claim of execution: tell, call UpdateService */
	THEN_SUCCEED,  /* done: tell, forget */
	THEN_REISSUE,  /* the claim renewed to call once more: call */
	THEN_TAKEOVER, /* a dead process's claim taken: reconcile */
};

/* A click or cancel on its way through the store. */
struct vote {
	uint64_t id;
	char *user, *event_id, *channel, *message_ts;
	bool has_where;
	enum action { ACT_APPROVE, ACT_DENY, ACT_CANCEL } act;
	int tries;
	gate_click_fn done;
	void *ud;
	struct store_gate rec;    /* as read for this round (zero: no such gate) */
	bool missing;
	bool counted;             /* counted in its gate's votes */
	struct gate_click_result out;
	enum gate_state to;
};

/* One outstanding callback. Ops outlive the engine: destroy detaches them
 * (e = NULL) and their callbacks only free them. */
struct op {
	struct gate_engine *e;
	uint64_t id;
	enum op_kind kind;
	bool after_restart;       /* OP_RECONCILE: reconciling after a restart */
	bool after_error;         /* OP_RECONCILE: the scale call answered ambiguously */
	struct cloud_error saved; /* that answer */
	/* OP_STORE */
	enum then then;
	enum gate_state from, to;
	char *text;               /* what is told when the step is won */
	bool won, busy, armed;
	struct gate *g;           /* a request's gate until the store opened it */
	gate_request_fn req_done;
	void *req_ud;
	struct vote *vote;        /* OP_VOTE */
	bool first;               /* OP_SYNC: the recovery at start */
	struct op *prev, *next;
};

struct gate_engine {
	uv_loop_t *loop;
	struct store *store;
	struct cloud *cloud;
	struct gate_observer obs;
	uint64_t reminder_gap, reconcile_retry, reissue_guard, exec_lease;
	uint64_t sync_ms, undelivered_grace, adopt_after;
	char owner[128];          /* this process, as recorded on the claims it makes */
	char host[64];            /* the host part of owner */
	unsigned reconcile_tries;
	uv_timer_t timer;
	uv_timer_t sync;          /* the next look at the store's live gates */
	int open_handles;
	uint64_t armed_due;       /* due time the uv timer is set for; 0 = stopped */
	struct timeheap timers;   /* (due, gate id, enum tkind) */
	struct idmap gates;       /* gate id -> struct gate, every gate not final */
	struct op *ops;
	uint64_t pass;            /* sync passes made */
	gate_recover_fn rec_done;
	void *rec_ud;
	bool shared, recovered, first_done, reported, syncing, closing;
};

static void proceed(struct gate_engine *e, struct gate *g);
static void reconcile(struct gate_engine *e, struct gate *g, bool after_restart,
		      const struct cloud_error *after_error);
static void call_scale(struct gate_engine *e, struct gate *g);
static void sync_start(struct gate_engine *e, bool first);
static void on_sync(uv_timer_t *t);

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

static bool approved_state(enum gate_state s)
{
	return s == GATE_APPROVED || s == GATE_APPROVED_BY_TIMER;
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

/* Not inlined: callers hold a reference across drop(), which GCC's
 * -Wuse-after-free cannot count. */
__attribute__((noinline)) static void gate_free(struct gate *g)
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

/* A fresh read of g from the store replaces what we had, unless it is
 * older (an answer can overtake another). */
static void refresh(struct gate *g, struct store_req *r)
{
	if (r->gate.id == g->rec.id && r->gate.version >= g->rec.version)
		store_req_take_gate(r, &g->rec);
}

/* Track a gate read from the store (the map holds it). NULL on OOM. */
static struct gate *adopt(struct gate_engine *e, struct store_gate *rec)
{
	struct gate *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->rec = *rec; /* moved */
	memset(rec, 0, sizeof *rec);
	if (map_put(e, g) != BOT_EOK) {
		*rec = g->rec; /* back to its owner */
		free(g);
		return NULL;
	}
	g->refs = 1;
	return g;
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

static void vote_free(struct vote *v)
{
	if (!v)
		return;
	free(v->user);
	free(v->event_id);
	free(v->channel);
	free(v->message_ts);
	store_gate_clear(&v->rec);
	free(v);
}

static void op_free(struct op *op)
{
	free(op->text);
	if (op->g)
		gate_free(op->g);
	vote_free(op->vote);
	free(op);
}

/* Unlink and free op. */
static void op_end(struct op *op)
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
	op_free(op);
}

/* op's engine; NULL when the engine is gone (op is then freed). */
static struct gate_engine *op_engine(struct op *op)
{
	if (op->e)
		return op->e;
	op_free(op);
	return NULL;
}

/* ---- store plumbing ---------------------------------------------------- */

static void notify(struct gate_engine *e, const struct store_gate *g, enum gate_event ev,
		   const char *detail)
{
	if (e->obs.on_change)
		e->obs.on_change(e->obs.ud, g, ev, detail);
}

/* After a store error: try again later whatever the gate's state needs. */
static void resume_later(struct gate_engine *e, struct gate *g)
{
	tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RESUME);
}

/* A step could not be written (or not asked): the gate is as it was. */
static void step_failed(struct gate_engine *e, struct gate *g, enum then then)
{
	g->working = false;
	if (then == THEN_SUCCEED || then == THEN_REISSUE)
		/* the outcome is known (or a call is due) but not recorded:
		 * reconcile to record it */
		tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
	else if (then != THEN_TAKEOVER) /* a takeover is tried again by the next sync */
		resume_later(e, g);
}

/* The gate moved under us (someone else's step won): forget it once it is
 * final; anything else is looked after by its timers and the next sync. */
static void settle(struct gate_engine *e, struct gate *g)
{
	if (store_state_final(g->rec.state))
		drop(e, g);
}

/* Same owner, i.e. this process. */
static bool claim_mine(const struct gate_engine *e, const struct store_gate *r)
{
	return r->exec_owner && strcmp(r->exec_owner, e->owner) == 0;
}

/* Is the claim on an EXECUTING gate no longer held: its lease ran out, or
 * its owner was a process of this host that is gone, or nobody recorded
 * one (a gate claimed before claims had owners)? */
static bool claim_gone(const struct gate_engine *e, const struct store_gate *r, int64_t now)
{
	const char *colon;
	size_t hl = strlen(e->host);
	long pid;
	char *end;

	if (!r->exec_owner || !r->exec_lease_until || r->exec_lease_until <= now)
		return true;
	colon = strrchr(r->exec_owner, ':');
	if (!colon || (size_t)(colon - r->exec_owner) != hl ||
	    strncmp(r->exec_owner, e->host, hl) != 0)
		return false;
	pid = strtol(colon + 1, &end, 10);
	if (*end || pid <= 0 || pid == (long)getpid())
		return false;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void after_change(struct gate_engine *e, struct gate *g, struct op *op);

static void on_changed_read(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (g) {
		if (r->rc == BOT_EOK) {
			refresh(g, r);
		} else {
			log_error("gate.reload", "gate=%" PRIu64 " error=%s", op->id,
				  LOG_Q(r->err.msg));
			if (op->won && op->to != op->from)
				g->rec.state = op->to; /* what we know we wrote */
		}
		after_change(e, g, op);
	}
	op_end(op);
}

/* A store step's answer: read the gate again (the store is the truth),
 * then go on (after_change). */
static void on_changed(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (!g) {
		op_end(op);
		return;
	}
	if (r->rc) {
		log_error("gate.store", "gate=%" PRIu64 " from=%s to=%s error=%s", op->id,
			  store_state_name(op->from), store_state_name(op->to), LOG_Q(r->err.msg));
		step_failed(e, g, op->then);
		op_end(op);
		return;
	}
	op->won = r->res == STORE_DONE;
	op->busy = r->res == STORE_BUSY;
	if (op->won && op->from != op->to)
		log_info("gate.state", "gate=%" PRIu64 " from=%s to=%s", op->id,
			 store_state_name(op->from), store_state_name(op->to));
	else if (op->won)
		log_info("gate.claim", "gate=%" PRIu64 " owner=%s step=%s", op->id, LOG_Q(e->owner),
			 op->then == THEN_TAKEOVER ? "takeover" : "reissue");
	if (store_gate_get_async(e->store, op->id, on_changed_read, op) != BOT_EOK) {
		struct store_req none = {.rc = BOT_ENOMEM};
		on_changed_read(op, &none);
	}
}

static struct op *step_new(struct gate_engine *e, struct gate *g, enum then then,
			   enum gate_state from, enum gate_state to, const char *text)
{
	struct op *op = op_new(e, g->rec.id, OP_STORE);

	if (op && text && !(op->text = strdup(text))) {
		op_end(op);
		op = NULL;
	}
	if (!op)
		return NULL;
	op->then = then;
	op->from = from;
	op->to = to;
	g->working = true;
	return op;
}

/* Attempt a transition of g; after_change goes on from its answer. The
 * edge is the domain's to judge (gate_transition_allowed); the store
 * applies it only if the gate is still in c->from. text: what is told when
 * it is won. */
static void change(struct gate_engine *e, struct gate *g, struct store_change *c,
		   enum then then, const char *text)
{
	struct op *op;

	c->gate_id = g->rec.id;
	if (!gate_transition_allowed(c->from, c->to)) {
		log_error("gate.store", "gate=%" PRIu64 " from=%s to=%s error=\"not a transition\"",
			  g->rec.id, store_state_name(c->from), store_state_name(c->to));
		return;
	}
	op = step_new(e, g, then, c->from, c->to, text);
	if (!op) {
		step_failed(e, g, then);
		return;
	}
	if (store_gate_change_async(e->store, c, on_changed, op) != BOT_EOK) {
		op_end(op);
		step_failed(e, g, then);
	}
}

/* Take (takeover) or renew (reissue) the claim of an EXECUTING gate,
 * conditional on the version we read. */
static void claim(struct gate_engine *e, struct gate *g, enum then then, const char *detail)
{
	struct store_lease l = {
		.gate_id = g->rec.id, .version = g->rec.version, .owner = e->owner,
		.lease_ms = e->exec_lease, .kind = then == THEN_TAKEOVER ? "takeover" : "reissue",
		.detail = detail,
	};
	struct op *op = step_new(e, g, then, GATE_EXECUTING, GATE_EXECUTING, NULL);

	if (!op) {
		step_failed(e, g, then);
		return;
	}
	if (store_gate_lease_async(e->store, &l, on_changed, op) != BOT_EOK) {
		op_end(op);
		step_failed(e, g, then);
	}
}

/* Terminal failure out of the current state (PENDING, APPROVED* or
 * EXECUTING); ce (optional) is the cloud's answer for the audit. */
static void fail(struct gate_engine *e, struct gate *g, const char *actor, const char *kind,
		 const char *text, const struct cloud_error *ce)
{
	json_t *d = json_pack("{s:s, s:s}", "result", kind, "detail", text);
	char *detail;
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
	change(e, g, &c, THEN_FAIL, text);
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

	change(e, g, &c, THEN_TIMER, why);
	free(detail);
}

static void remind(struct gate_engine *e, struct gate *g, enum tkind kind)
{
	uint64_t now = uv_now(e->loop);

	if (g->rec.state != GATE_PENDING)
		return;
	if (e->shared && !g->home)
		return; /* the replica that posted the card reminds */
	if (g->votes)
		return; /* a click may be deciding it right now */
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

	if (!intent) {
		resume_later(e, g);
		return;
	}
	change(e, g, &c, THEN_EXECUTE, intent);
	free(intent);
}

/* What a committed (or lost) step leads to. */
static void after_change(struct gate_engine *e, struct gate *g, struct op *op)
{
	hold(g);
	g->working = false;
	switch (op->then) {
	case THEN_FAIL:
		if (op->won) {
			log_warn("gate.failed", "gate=%" PRIu64 " result=%s", g->rec.id,
				 g->rec.result_kind ? g->rec.result_kind : "?");
			notify(e, &g->rec, op->from == GATE_PENDING ? GATE_EV_DECIDED
								    : GATE_EV_FINISHED, op->text);
			drop(e, g);
		}
		break;
	case THEN_TIMER:
		if (op->won) {
			notify(e, &g->rec, GATE_EV_DECIDED, op->text);
			proceed(e, g);
		}
		break;
	case THEN_EXECUTE:
		if (op->busy) {
			/* another gate of this service is live (only possible for
			 * gates opened before the store held services): wait */
			log_info("gate.waiting", "gate=%" PRIu64 " service=%s reason=\"another live "
				 "gate holds it\"", g->rec.id, LOG_Q(g->rec.ecs_service));
			tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
		} else if (op->won) {
			notify(e, &g->rec, GATE_EV_EXECUTING, op->text);
			call_scale(e, g);
		}
		break;
	case THEN_SUCCEED:
		if (op->won) {
			notify(e, &g->rec, GATE_EV_FINISHED, op->text);
			drop(e, g);
		}
		break;
	case THEN_REISSUE:
		if (op->won)
			call_scale(e, g);
		else if (g->rec.state == GATE_EXECUTING && claim_mine(e, &g->rec))
			tpush_in(e, e->reconcile_retry, g->rec.id, T_RECONCILE);
		break;
	case THEN_TAKEOVER:
		if (op->won) {
			g->restarted = true;
			g->reconcile_left = e->reconcile_tries;
			notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
			reconcile(e, g, true, NULL);
		}
		break;
	}
	if (!op->won && !op->busy)
		settle(e, g);
	put(g);
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
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;
	char why[300], text[700];

	if (!e)
		return;
	op_end(op);
	if (!g)
		return;
	hold(g);
	g->working = false;
	if (!approved_state(g->rec.state))
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

static void recheck(struct gate_engine *e, struct gate *g)
{
	struct op *op = op_new(e, g->rec.id, OP_RECHECK);
	int rc;

	if (!op) {
		g->working = false;
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

/* Does another live gate hold the service? (A store error says no: the
 * claim of execution decides anyway.) */
static void on_holder(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;
	uint64_t holder = r->rc ? 0 : r->holder;

	if (!e)
		return;
	op_end(op);
	if (!g)
		return;
	if (!approved_state(g->rec.state)) {
		g->working = false;
		return;
	}
	if (holder && holder != g->rec.id) {
		/* only a gate opened before the store held services can be here:
		 * wait without reading AWS until the holder is final */
		log_debug("gate.waiting", "gate=%" PRIu64 " service=%s holder=%" PRIu64, g->rec.id,
			  LOG_Q(g->rec.ecs_service), holder);
		g->working = false;
		tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
		return;
	}
	recheck(e, g);
}

/* Approved (by people or the timer): read the service again, then act. */
static void proceed(struct gate_engine *e, struct gate *g)
{
	struct op *op;

	if (g->working || !approved_state(g->rec.state))
		return;
	op = op_new(e, g->rec.id, OP_STORE);
	if (!op) {
		resume_later(e, g);
		return;
	}
	g->working = true;
	if (store_service_holder_async(e->store, g->rec.cluster, g->rec.ecs_service, on_holder,
				       op) != BOT_EOK) {
		op_end(op);
		recheck(e, g);
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

	change(e, g, &c, THEN_SUCCEED, text);
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
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;
	char text[700];

	if (!e)
		return;
	op_end(op);
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
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;
	char text[700];

	if (!e)
		return;
	op_end(op);
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
		 * idempotent), once the claim is ours again: of two processes
		 * reconciling the same gate only one gets to call */
		char *d = jdump(json_pack("{s:s, s:i}", "note", "intent recorded before the restart "
					  "was not applied; calling UpdateService", "observed",
					  svc->desired));
		claim(e, g, THEN_REISSUE, d);
		free(d);
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
		if (g->working)
			break; /* what is in flight goes on from its answer */
		if (g->rec.state == GATE_PENDING && g->rec.deadline &&
		    g->rec.deadline <= store_now(e->store))
			decide_by_timer(e, g, false);
		else if (approved_state(g->rec.state))
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
	if (gethostname(e->host, sizeof e->host - 1) != 0 || !e->host[0])
		snprintf(e->host, sizeof e->host, "localhost");
	if (o->owner && o->owner[0])
		snprintf(e->owner, sizeof e->owner, "%s", o->owner);
	else
		snprintf(e->owner, sizeof e->owner, "%s:%ld", e->host, (long)getpid());
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
	e->shared = o->shared;
	e->sync_ms = o->sync_ms ? o->sync_ms : DEFAULT_SYNC_MS;
	e->undelivered_grace = !o->shared ? 0
			       : o->undelivered_grace_ms ? o->undelivered_grace_ms
							 : DEFAULT_UNDELIVERED_GRACE_MS;
	e->adopt_after = o->adopt_after_ms ? o->adopt_after_ms : DEFAULT_ADOPT_AFTER_MS;
	if (uv_timer_init(o->loop, &e->timer) != 0) {
		free(e);
		return bot_error_set(err, BOT_EIO, "gate: cannot create the timer");
	}
	if (uv_timer_init(o->loop, &e->sync) != 0) {
		uv_close((uv_handle_t *)&e->timer, NULL);
		uv_run(o->loop, UV_RUN_NOWAIT); /* deliver the close before freeing */
		free(e);
		return bot_error_set(err, BOT_EIO, "gate: cannot create the timer");
	}
	e->open_handles = 2;
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
	struct gate_engine *e = h->data;
	if (--e->open_handles == 0)
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
	e->timer.data = e;
	e->sync.data = e;
	uv_close((uv_handle_t *)&e->timer, on_close);
	uv_close((uv_handle_t *)&e->sync, on_close);
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

static void on_delivery_read(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (r->rc) {
		log_error("gate.delivered", "gate=%" PRIu64 " error=%s", op->id, LOG_Q(r->err.msg));
	} else if (g) {
		hold(g);
		refresh(g, r);
		g->home = true;
		if (op->armed)
			arm(e, g);
		notify(e, &g->rec, GATE_EV_DELIVERED, NULL);
		put(g);
	} else {
		/* decided (and forgotten) before the post was confirmed */
		notify(e, &r->gate, GATE_EV_DELIVERED, NULL);
	}
	op_end(op);
}

static void on_delivery_recorded(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);

	if (!e)
		return;
	if (r->rc) {
		/* stays PENDING without a deadline: it can never auto-approve */
		log_error("gate.delivered", "gate=%" PRIu64 " error=%s effect=\"no timer; "
			  "approvers can still decide\"", op->id, LOG_Q(r->err.msg));
		op_end(op);
		return;
	}
	op->armed = r->flag;
	if (store_gate_get_async(e->store, op->id, on_delivery_read, op) != BOT_EOK)
		op_end(op);
}

static void on_delivered(void *token, int rc, const char *channel, const char *ts,
			 const char *detail)
{
	struct op *op = token;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (rc) {
		char text[400];
		snprintf(text, sizeof text, "approval request could not be delivered; nothing will "
			 "happen (%s)", detail && detail[0] ? detail : bot_strerror(rc));
		log_warn("gate.undelivered", "gate=%" PRIu64 " rc=%s", op->id, bot_err_name(rc));
		op_end(op);
		if (g && g->rec.state == GATE_PENDING)
			fail(e, g, "system", "undelivered", text, NULL);
		return;
	}
	if (store_gate_delivered_async(e->store, op->id, channel, ts, on_delivery_recorded,
				       op) != BOT_EOK) {
		log_error("gate.delivered", "gate=%" PRIu64 " error=\"the store takes no calls\" "
			  "effect=\"no timer; approvers can still decide\"", op->id);
		op_end(op);
	}
}

static void on_opened(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct bot_error err = {0};
	struct gate *g;

	if (!e)
		return; /* op_free released the gate that was never opened */
	g = op->g;
	if (r->rc) {
		if (op->req_done)
			op->req_done(op->req_ud, r->rc, 0, &r->err);
		op_end(op);
		return;
	}
	if (r->res != STORE_DONE) {
		int rc = r->res == STORE_BUSY
				 ? bot_error_set(&err, BOT_EBUSY, "%s already has an open request (#%"
						 PRIu64 ")", g->rec.service, r->holder)
				 : bot_error_set(&err, BOT_ESTORE, "the store did not open the request");
		if (op->req_done)
			op->req_done(op->req_ud, rc, r->holder, &err);
		op_end(op);
		return;
	}
	op->g = NULL;
	store_req_take_gate(r, &g->rec); /* as stored: id, version, times */
	struct gate *known = map_get(e, g->rec.id);
	if (known) {
		/* a sync listed it before this answer came: keep that one */
		if (g->rec.version > known->rec.version) {
			store_gate_clear(&known->rec);
			known->rec = g->rec;
			memset(&g->rec, 0, sizeof g->rec);
		}
		gate_free(g);
		g = known;
	} else if (map_put(e, g) != BOT_EOK) {
		/* committed but cannot be handled here: it is never posted, so
		 * it never auto-approves; recovery fails it closed */
		log_error("gate.requested", "gate=%" PRIu64 " error=\"out of memory\"", g->rec.id);
		bot_error_set(&err, BOT_ENOMEM, "out of memory after the request was opened; it "
			      "will not be posted and fails closed at the next start");
		if (op->req_done)
			op->req_done(op->req_ud, BOT_ENOMEM, g->rec.id, &err);
		gate_free(g);
		op_end(op);
		return;
	} else {
		g->refs = 1;
	}
	log_info("gate.requested", "gate=%" PRIu64 " service=%s target=%d timer_ms=%" PRIu64,
		 g->rec.id, LOG_Q(g->rec.service), g->rec.target, g->rec.timer_ms);
	if (op->req_done)
		op->req_done(op->req_ud, BOT_EOK, g->rec.id, NULL);
	/* the same op now waits for the post */
	op->kind = OP_DELIVER;
	op->id = g->rec.id;
	hold(g);
	e->obs.post_request(e->obs.ud, &g->rec, on_delivered, op);
	put(g);
}

int gate_request(struct gate_engine *e, const struct gate_spec *spec, gate_request_fn done,
		 void *ud, struct bot_error *err)
{
	struct gate *g;
	struct op *op;
	int rc = validate(spec, err);

	if (rc)
		return rc;
	if (e->closing)
		return bot_error_set(err, BOT_ESTATE, "gate: the engine is stopping");
	g = gate_from_spec(spec);
	op = g ? op_new(e, 0, OP_STORE) : NULL;
	if (!op) {
		if (g)
			gate_free(g);
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	}
	op->g = g;
	op->req_done = done;
	op->req_ud = ud;
	rc = store_gate_open_async(e->store, &g->rec, on_opened, op);
	if (rc) {
		op_end(op);
		return bot_error_set(err, rc, "gate: the store takes no calls (%s)", bot_strerror(rc));
	}
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

/* How often a vote is judged again when the gate moved between the read
 * and the conditional write (another click, the timer, another replica).
 * Each round is one read and one atomic write; losing this many in a row
 * means the gate is changing faster than people click. */
#define VOTE_TRIES 8

static bool on_card(const struct store_gate *g, const struct vote *v)
{
	return v->has_where && v->channel && v->message_ts && g->channel && g->message_ts &&
	       strcmp(v->channel, g->channel) == 0 && strcmp(v->message_ts, g->message_ts) == 0;
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
			    const struct vote *vt)
{
	struct verdict v = {.outcome = GATE_OUT_UNKNOWN_GATE, .to = GATE_PENDING};
	const char *user = vt->user;
	enum action act = vt->act;

	if (!rec)
		return v;
	bool approver = has_user(rec->approvers, rec->n_approvers, user);
	bool requester = strcmp(user, rec->requester) == 0;
	bool allowed = !e->obs.still_allowed ||
		       e->obs.still_allowed(e->obs.ud, rec, user, act == ACT_CANCEL);

	if (act != ACT_CANCEL && !on_card(rec, vt)) {
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

/* The voter hears how it ended (g: the gate now, NULL if unknown); op ends. */
static void vote_answer(struct op *op, int rc, const struct store_gate *g,
			const struct bot_error *err)
{
	struct vote *v = op->vote;
	struct gate *held = op->e && v->counted ? map_get(op->e, v->id) : NULL;

	if (held && held->votes > 0)
		held->votes--;

	if (rc) {
		memset(&v->out, 0, sizeof v->out);
		v->out.outcome = GATE_OUT_UNKNOWN_GATE;
		g = NULL;
	}
	if (v->done)
		v->done(v->ud, rc, &v->out, g, err);
	op_end(op);
}

static void vote_fail(struct op *op, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vote_fail(struct op *op, int rc, const char *fmt, ...)
{
	struct bot_error err = {0};
	va_list ap;

	va_start(ap, fmt);
	bot_error_setv(&err, rc, fmt, ap);
	va_end(ap);
	vote_answer(op, rc, NULL, &err);
}

static void on_vote_read(void *ud, struct store_req *r);

static int vote_round(struct gate_engine *e, struct op *op)
{
	return store_gate_get_async(e->store, op->vote->id, on_vote_read, op);
}

/* After a committed decision or counted approval: tell, then act. */
static void on_vote_committed(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct vote *v;
	struct gate *g;
	enum gate_state to;

	if (!e)
		return;
	v = op->vote;
	to = v->to;
	if (r->rc) {
		/* committed, but not readable now: recovery picks it up */
		log_error("gate.click", "gate=%" PRIu64 " error=\"cannot load after decision: %s\"",
			  v->id, r->err.msg);
		vote_answer(op, BOT_EOK, &v->rec, NULL);
		return;
	}
	g = map_get(e, v->id);
	if (g)
		refresh(g, r);
	else
		g = adopt(e, &r->gate);
	if (!g) {
		log_error("gate.click", "gate=%" PRIu64 " error=\"out of memory after decision\"",
			  v->id);
		vote_answer(op, BOT_EOK, &r->gate, NULL);
		return;
	}
	hold(g);
	fill_result(&v->out, &g->rec);
	if (to == GATE_PENDING) {
		notify(e, &g->rec, GATE_EV_APPROVAL, NULL);
	} else {
		log_info("gate.state", "gate=%" PRIu64 " from=PENDING to=%s actor=%s", v->id,
			 store_state_name(to), LOG_Q(v->user));
		notify(e, &g->rec, GATE_EV_DECIDED, g->rec.decision_detail);
	}
	vote_answer(op, BOT_EOK, &g->rec, NULL);
	if (to == GATE_APPROVED)
		proceed(e, g);
	else if (to != GATE_PENDING)
		drop(e, g);
	put(g);
}

static void on_vote_written(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct vote *v;

	if (!e)
		return;
	v = op->vote;
	if (r->rc) {
		vote_answer(op, r->rc, NULL, &r->err);
		return;
	}
	if (r->res == STORE_LOST) {
		if (++v->tries >= VOTE_TRIES)
			vote_fail(op, BOT_EBUSY, "gate #%" PRIu64 ": it changed under each of %d "
				  "tries; nothing was recorded", v->id, VOTE_TRIES);
		else if (vote_round(e, op) != BOT_EOK)
			vote_fail(op, BOT_ESTATE, "the store takes no calls");
		return;
	}
	if (r->res == STORE_DUPLICATE) {
		v->out.outcome = GATE_OUT_DUPLICATE_EVENT; /* already audited the first time */
		vote_answer(op, BOT_EOK, v->missing ? NULL : &v->rec, NULL);
		return;
	}
	if (v->out.outcome == GATE_OUT_ACCEPTED_APPROVAL || v->to != GATE_PENDING) {
		if (store_gate_get_async(e->store, v->id, on_vote_committed, op) != BOT_EOK) {
			struct store_req none = {.rc = BOT_ESTATE};
			on_vote_committed(op, &none);
		}
		return;
	}
	vote_answer(op, BOT_EOK, v->missing ? NULL : &v->rec, NULL);
}

/* One round: judge the gate as read (v->rec, v->missing) and write the
 * vote, conditional on the gate still being as read. A lost round reads
 * again (on_vote_written). If the write cannot be asked for, the voter is
 * told (answer) or the error returned. */
static int vote_write(struct gate_engine *e, struct op *op, bool answer)
{
	static const char *const what[] = {"approve", "deny", "cancel"};
	struct vote *v = op->vote;
	char by[200] = "";
	char *click = NULL, *change_d = NULL;
	int rc;

	memset(&v->out, 0, sizeof v->out);
	if (!v->missing)
		fill_result(&v->out, &v->rec);
	struct verdict vd = judge(e, v->missing ? NULL : &v->rec, v);
	v->out.outcome = vd.outcome;
	if (vd.count)
		v->out.approvals++;
	v->to = vd.to;
	click = jdump(json_pack("{s:s, s:s*, s:s, s:i, s:i, s:s*, s:s*}", "vote", what[v->act],
				"event_id", v->event_id, "outcome", gate_outcome_name(vd.outcome),
				"approvals", v->out.approvals, "min_approvals",
				v->out.min_approvals, "channel", v->has_where ? v->channel : NULL,
				"message_ts", v->has_where ? v->message_ts : NULL));
	if (vd.to != GATE_PENDING) {
		decided_by_text(&v->rec, vd.to, v->user, by, sizeof by);
		change_d = jdump(json_pack("{s:s, s:s*, s:i, s:i}", "note", by, "event_id",
					   v->event_id, "approvals", v->out.approvals,
					   "min_approvals", v->rec.min_approvals));
	}
	if (!click || (vd.to != GATE_PENDING && !change_d)) {
		free(click);
		free(change_d);
		if (answer)
			vote_fail(op, BOT_ENOMEM, "gate: out of memory");
		return BOT_ENOMEM;
	}
	struct store_vote sv = {
		.gate_id = v->id, .version = v->rec.version, .gate_missing = v->missing,
		.event_id = v->event_id, .actor = v->user,
		.kind = v->act == ACT_CANCEL ? "cancel" : "click", .detail = click,
		.approve_user = vd.count ? v->user : NULL, .to = vd.to,
		.decided_by = v->user, .decision_detail = by, .change_detail = change_d,
	};
	rc = store_gate_vote_async(e->store, &sv, on_vote_written, op);
	free(click);
	free(change_d);
	if (rc == BOT_EOK && !v->counted) {
		struct gate *held = map_get(e, v->id);
		if (held) {
			held->votes++;
			v->counted = true;
		}
	}
	if (rc && answer)
		vote_fail(op, rc, "the store takes no calls (%s)", bot_strerror(rc));
	return rc;
}

static void on_vote_read(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct vote *v;

	if (!e)
		return;
	v = op->vote;
	v->missing = r->rc == BOT_ENOTFOUND;
	if (r->rc && !v->missing) {
		vote_answer(op, r->rc, NULL, &r->err);
		return;
	}
	store_gate_clear(&v->rec);
	if (!v->missing)
		store_req_take_gate(r, &v->rec);
	vote_write(e, op, true);
}

/* The one decision path for clicks and cancels: read, judge, and write the
 * vote as one conditional step of the store (see store.h); a lost race is
 * judged again on what the winner left. where: for a click, the message it
 * was made on; NULL for a cancel (a command, not a button). */
static int decide(struct gate_engine *e, uint64_t id, const char *user, enum action act,
		  const char *event_id, const struct gate_where *where, gate_click_fn done,
		  void *ud)
{
	struct vote *v;
	struct op *op;
	bool oom;

	if (!user || !user[0])
		return BOT_EINVAL;
	if (e->closing)
		return BOT_ESTATE;
	v = calloc(1, sizeof *v);
	if (!v)
		return BOT_ENOMEM;
	v->id = id;
	v->act = act;
	v->done = done;
	v->ud = ud;
	v->user = strdup(user);
	oom = !v->user;
	v->event_id = dup_or(event_id, NULL, &oom);
	if (where) {
		v->has_where = true;
		v->channel = dup_or(where->channel, NULL, &oom);
		v->message_ts = dup_or(where->message_ts, NULL, &oom);
	}
	op = oom ? NULL : op_new(e, id, OP_VOTE);
	if (!op) {
		vote_free(v);
		return BOT_ENOMEM;
	}
	op->vote = v;
	/* A gate we hold is judged as we last read it: the vote is written at
	 * once (conditional on that version, so a stale view only costs a
	 * round), in the order the clicks came. Others are read first. */
	struct gate *g = map_get(e, id);
	if (g && store_gate_copy(&v->rec, &g->rec) == BOT_EOK) {
		int rc = vote_write(e, op, false);
		if (rc)
			op_end(op);
		return rc;
	}
	if (vote_round(e, op) != BOT_EOK) {
		op_end(op);
		return BOT_ESTATE;
	}
	return BOT_EOK;
}

int gate_click(struct gate_engine *e, uint64_t id, const char *user, enum gate_vote vote,
	       const char *event_id, const struct gate_where *where, gate_click_fn done,
	       void *ud)
{
	return decide(e, id, user, vote == GATE_VOTE_DENY ? ACT_DENY : ACT_APPROVE, event_id,
		      where, done, ud);
}

int gate_cancel(struct gate_engine *e, uint64_t id, const char *user, const char *event_id,
		gate_click_fn done, void *ud)
{
	return decide(e, id, user, ACT_CANCEL, event_id, NULL, done, ud);
}

/* ---- recovery and the replicas' sync ----------------------------------- */

/* What a live gate read from the store needs from this process. first:
 * the look at start (recovery); announce: re-render its card. */
static void look_after(struct gate_engine *e, struct gate *g, bool first,
		       struct gate_recover_stats *st)
{
	int64_t now = store_now(e->store);
	bool announce = first && !e->shared;
	const struct store_gate *r = &g->rec;

	if (g->working)
		return; /* what is in flight goes on from its answer */
	switch (r->state) {
	case GATE_PENDING:
		if (!r->deadline) {
			if (r->created_at + (int64_t)e->undelivered_grace > now)
				break; /* another replica may still be posting it */
			st->failed_closed++;
			fail(e, g, "recovery", "undelivered",
			     e->shared ? "approval request delivery was never confirmed (the "
					 "process posting it stopped); nothing will happen"
				       : "approval request delivery was never confirmed before the "
					 "restart; nothing will happen", NULL);
		} else if (g->due) {
			break; /* armed here: its timer decides */
		} else if (r->deadline > now) {
			st->rearmed++;
			arm(e, g);
			if (announce)
				notify(e, r, GATE_EV_RECOVERED, NULL);
		} else {
			st->expired++;
			if (announce)
				notify(e, r, GATE_EV_RECOVERED, NULL);
			decide_by_timer(e, g, first);
		}
		break;
	case GATE_APPROVED:
	case GATE_APPROVED_BY_TIMER:
		/* the process that decided acts; another one only once it has
		 * plainly stopped doing so */
		if (e->shared && r->decided_at + (int64_t)e->adopt_after > now)
			break;
		st->resumed++;
		if (announce)
			notify(e, r, GATE_EV_RECOVERED, NULL);
		proceed(e, g);
		break;
	case GATE_EXECUTING:
		if (!e->shared) {
			if (!first)
				break;
			st->reconciling++;
			notify(e, r, GATE_EV_RECOVERED, NULL);
			g->reconcile_left = e->reconcile_tries;
			g->restarted = true;
			reconcile(e, g, true, NULL);
		} else if (!claim_mine(e, r) && claim_gone(e, r, now)) {
			char *d = jdump(json_pack("{s:s?, s:I}", "from", r->exec_owner,
						  "lease_until", (json_int_t)r->exec_lease_until));
			st->reconciling++;
			log_info("gate.takeover", "gate=%" PRIu64 " from=%s", r->id,
				 LOG_Q(r->exec_owner));
			claim(e, g, THEN_TAKEOVER, d);
			free(d);
		}
		break;
	default:
		break;
	}
}

static void report(struct gate_engine *e, int rc, const struct gate_recover_stats *st,
		   const struct bot_error *err)
{
	if (e->reported)
		return;
	e->reported = true;
	if (e->rec_done)
		e->rec_done(e->rec_ud, rc, st, err);
}

/* A gate we hold that the listing did not show: final (decided elsewhere)? */
static void on_checked(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = op_engine(op);
	struct gate *g = e ? map_get(e, op->id) : NULL;

	if (!e)
		return;
	op_end(op);
	if (!g || g->working)
		return;
	if (r->rc == BOT_ENOTFOUND) {
		drop(e, g);
	} else if (r->rc == BOT_EOK) {
		refresh(g, r);
		settle(e, g);
	}
}

struct unseen {
	uint64_t pass;
	int64_t before;
	uint64_t *ids;
	size_t n, cap;
};

static void collect_unseen(void *ud, uint64_t id, void *val)
{
	struct unseen *u = ud;
	struct gate *g = val;

	if (g->seen_in == u->pass || g->working || g->rec.updated_at > u->before)
		return;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		uint64_t *ids = realloc(u->ids, cap * sizeof *ids);
		if (!ids)
			return;
		u->ids = ids;
		u->cap = cap;
	}
	u->ids[u->n++] = id;
}

static void on_listed(void *ud, struct store_req *r)
{
	struct op *op = ud;
	bool first = op->first;
	struct gate_engine *e = op_engine(op);
	struct gate_recover_stats st = {0};
	struct unseen u = {0};

	if (!e)
		return;
	op_end(op);
	e->syncing = false;
	if (r->rc) {
		log_error("gate.sync", "first=%s error=%s", first ? "true" : "false",
			  LOG_Q(r->err.msg));
		if (first) {
			report(e, r->rc, NULL, &r->err);
			if (!e->shared && !e->closing) /* else the next sync tries again */
				uv_timer_start(&e->sync, on_sync, STORE_RETRY_MS, 0);
		}
		return;
	}
	e->pass++;
	for (size_t i = 0; i < r->n; i++) {
		struct store_gate *rec = &r->gates[i];
		struct gate *g = map_get(e, rec->id);

		if (store_state_final(rec->state))
			continue;
		if (!g) {
			g = adopt(e, rec);
			if (!g) {
				log_error("gate.sync", "gate=%" PRIu64 " error=\"out of memory\"",
					  rec->id);
				continue;
			}
		} else if (!g->working && rec->version > g->rec.version) {
			store_gate_clear(&g->rec);
			g->rec = *rec; /* moved */
			memset(rec, 0, sizeof *rec);
		}
		g->seen_in = e->pass;
		hold(g);
		look_after(e, g, first, &st);
		put(g);
	}
	if (!first && e->shared) {
		u.pass = e->pass;
		u.before = store_now(e->store) - (int64_t)LIST_LAG_MS;
		idmap_each(&e->gates, collect_unseen, &u);
		for (size_t i = 0; i < u.n; i++) {
			struct op *c = op_new(e, u.ids[i], OP_STORE);
			if (c && store_gate_get_async(e->store, u.ids[i], on_checked, c) != BOT_EOK)
				op_end(c);
		}
		free(u.ids);
	}
	if (first) {
		e->first_done = true;
		log_info("gate.recovered", "rearmed=%zu expired=%zu failed_closed=%zu resumed=%zu "
			 "reconciling=%zu", st.rearmed, st.expired, st.failed_closed, st.resumed,
			 st.reconciling);
		report(e, BOT_EOK, &st, NULL);
	}
}

static void sync_start(struct gate_engine *e, bool first)
{
	struct op *op;

	if (e->syncing || e->closing)
		return;
	op = op_new(e, 0, OP_SYNC);
	if (!op)
		return;
	op->first = first;
	e->syncing = true;
	if (store_gate_list_async(e->store, GATE_LIVE_MASK, on_listed, op) != BOT_EOK) {
		e->syncing = false;
		op_end(op);
	}
}

static void on_sync(uv_timer_t *t)
{
	struct gate_engine *e = container_of(t, struct gate_engine, sync);
	sync_start(e, !e->first_done);
}

int gate_engine_recover(struct gate_engine *e, gate_recover_fn done, void *ud)
{
	if (e->recovered)
		return BOT_ESTATE;
	e->recovered = true;
	e->rec_done = done;
	e->rec_ud = ud;
	sync_start(e, true);
	if (!e->syncing)
		return BOT_ENOMEM;
	if (e->shared)
		uv_timer_start(&e->sync, on_sync, e->sync_ms, e->sync_ms);
	return BOT_EOK;
}
