/* gate_engine.c - the approval gate engine (see gate.h): its gates, timers, store
 * steps and requests; gate_internal.h says where the rest is. */
#include "bot/domain/gate_internal.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

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
char *gate__jdump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return s;
}

bool gate__has_user(char *const *v, size_t n, const char *user)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], user) == 0)
			return true;
	return false;
}

bool gate__approved_state(enum gate_state s)
{
	return s == GATE_APPROVED || s == GATE_APPROVED_BY_TIMER;
}

/* ---- gate map (id -> gate) --------------------------------------------- */

struct gate *gate__map_get(const struct gate_engine *e, uint64_t id)
{
	return idmap_get(&e->gates, id);
}

static int map_put(struct gate_engine *e, struct gate *g)
{
	return idmap_put(&e->gates, g->rec.id, g);
}

/* Not inlined: callers hold a reference across gate__drop(), which GCC's
 * -Wuse-after-free cannot count. */
__attribute__((noinline)) static void gate_free(struct gate *g)
{
	store_gate_clear(&g->rec);
	free(g);
}

void gate__hold(struct gate *g)
{
	g->refs++;
}

void gate__put(struct gate *g)
{
	if (--g->refs == 0)
		gate_free(g);
}

/* The gate is final: forget it (memory goes when the last holder lets go). */
void gate__drop(struct gate_engine *e, struct gate *g)
{
	if (g->dropped)
		return;
	g->dropped = true;
	idmap_del(&e->gates, g->rec.id);
	gate__put(g);
}

/* A fresh read of g from the store replaces what we had, unless it is
 * older (an answer can overtake another). */
void gate__refresh(struct gate *g, struct store_req *r)
{
	if (r->gate.id == g->rec.id && r->gate.version >= g->rec.version)
		store_req_take_gate(r, &g->rec);
}

/* Track a gate read from the store (the map holds it). NULL on OOM. */
struct gate *gate__adopt(struct gate_engine *e, struct store_gate *rec)
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

void gate__tpush_in(struct gate_engine *e, uint64_t in_ms, uint64_t id, enum tkind kind)
{
	if (tpush(e, mono_ms() + in_ms, id, kind) != BOT_EOK)
		log_error("gate.timer", "gate=%" PRIu64 " error=\"out of memory\"", id);
}

/* ---- ops --------------------------------------------------------------- */

struct op *gate__op_new(struct gate_engine *e, uint64_t id, enum op_kind kind)
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

void gate__vote_free(struct vote *v)
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
	gate__vote_free(op->vote);
	free(op);
}

/* Unlink and free op. */
void gate__op_end(struct op *op)
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
struct gate_engine *gate__op_engine(struct op *op)
{
	if (op->e)
		return op->e;
	op_free(op);
	return NULL;
}

/* ---- store plumbing ---------------------------------------------------- */

void gate__notify(struct gate_engine *e, const struct store_gate *g, enum gate_event ev,
		  const char *detail)
{
	if (e->obs.on_change)
		e->obs.on_change(e->obs.ud, g, ev, detail);
}

/* After a store error: try again later whatever the gate's state needs. */
void gate__resume_later(struct gate_engine *e, struct gate *g)
{
	gate__tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RESUME);
}

/* A step could not be written (or not asked): the gate is as it was. */
static void step_failed(struct gate_engine *e, struct gate *g, enum then then)
{
	g->working = false;
	if (then == THEN_SUCCEED || then == THEN_REISSUE)
		/* the outcome is known (or a call is due) but not recorded:
		 * reconcile to record it */
		gate__tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
	else if (then == THEN_DELIVERY)
		gate__tpush_in(e, STORE_RETRY_MS, g->rec.id, T_DELIVERY);
	else if (then != THEN_TAKEOVER) /* a takeover is tried again by the next sync */
		gate__resume_later(e, g);
}

/* The gate moved under us (someone else's step won): forget it once it is
 * final; anything else is looked after by its timers and the next sync. */
void gate__settle(struct gate_engine *e, struct gate *g)
{
	if (store_state_final(g->rec.state))
		gate__drop(e, g);
}

/* Same owner, i.e. this process. */
bool gate__claim_mine(const struct gate_engine *e, const struct store_gate *r)
{
	return r->exec_owner && strcmp(r->exec_owner, e->owner) == 0;
}

/* Is the claim on a gate (being posted, or EXECUTING) no longer held: its
 * lease ran out, or its owner was a process of this host that is gone, or
 * nobody recorded one (a gate claimed before claims had owners)? */
bool gate__claim_gone(const struct gate_engine *e, const struct store_gate *r, int64_t now)
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


static void on_changed_read(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (g) {
		if (r->rc == BOT_EOK) {
			gate__refresh(g, r);
		} else {
			log_error("gate.reload", "gate=%" PRIu64 " error=%s", op->id,
				  LOG_Q(r->err.msg));
			if (op->won && op->to != op->from)
				g->rec.state = op->to; /* what we know we wrote */
		}
		gate__after_change(e, g, op);
	}
	gate__op_end(op);
}

/* A store step's answer: read the gate again (the store is the truth),
 * then go on (after_change). */
static void on_changed(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (!g) {
		gate__op_end(op);
		return;
	}
	if (r->rc) {
		log_error("gate.store", "gate=%" PRIu64 " from=%s to=%s error=%s", op->id,
			  store_state_name(op->from), store_state_name(op->to), LOG_Q(r->err.msg));
		step_failed(e, g, op->then);
		gate__op_end(op);
		return;
	}
	op->won = r->res == STORE_DONE;
	op->busy = r->res == STORE_BUSY;
	if (op->won && op->from != op->to)
		log_info("gate.state", "gate=%" PRIu64 " from=%s to=%s", op->id,
			 store_state_name(op->from), store_state_name(op->to));
	else if (op->won)
		log_info("gate.claim", "gate=%" PRIu64 " owner=%s step=%s", op->id, LOG_Q(e->owner),
			 op->then == THEN_TAKEOVER ? "takeover"
			 : op->then == THEN_DELIVERY ? "delivery" : "reissue");
	if (store_gate_get_async(e->store, op->id, on_changed_read, op) != BOT_EOK) {
		struct store_req none = {.rc = BOT_ENOMEM};
		on_changed_read(op, &none);
	}
}

static struct op *step_new(struct gate_engine *e, struct gate *g, enum then then,
			   enum gate_state from, enum gate_state to, const char *text)
{
	struct op *op = gate__op_new(e, g->rec.id, OP_STORE);

	if (op && text && !(op->text = strdup(text))) {
		gate__op_end(op);
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
void gate__change(struct gate_engine *e, struct gate *g, struct store_change *c,
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
		gate__op_end(op);
		step_failed(e, g, then);
	}
}

/* Take (takeover) or renew (reissue) the claim of an EXECUTING gate, or
 * renew ours on a PENDING one being posted (delivery), conditional on the
 * version we read. */
void gate__claim(struct gate_engine *e, struct gate *g, enum then then, const char *detail)
{
	bool delivery = then == THEN_DELIVERY;
	enum gate_state st = delivery ? GATE_PENDING : GATE_EXECUTING;
	struct store_lease l = {
		.gate_id = g->rec.id, .version = g->rec.version, .owner = e->owner,
		.lease_ms = delivery ? e->delivery_lease : e->exec_lease,
		.kind = delivery ? "delivery" : then == THEN_TAKEOVER ? "takeover" : "reissue",
		.detail = detail,
	};
	struct op *op = step_new(e, g, then, st, st, NULL);

	if (!op) {
		step_failed(e, g, then);
		return;
	}
	if (store_gate_lease_async(e->store, &l, on_changed, op) != BOT_EOK) {
		gate__op_end(op);
		step_failed(e, g, then);
	}
}

/* Terminal failure out of the current state (PENDING, APPROVED* or
 * EXECUTING); ce (optional) is the cloud's answer for the audit. */
void gate__fail(struct gate_engine *e, struct gate *g, const char *actor, const char *kind,
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
	detail = gate__jdump(d);
	c.detail = detail;
	if (g->rec.state == GATE_PENDING)
		c.decision_detail = text;
	gate__change(e, g, &c, THEN_FAIL, text);
	free(detail);
}

/* ---- decisions --------------------------------------------------------- */

void gate__decide_by_timer(struct gate_engine *e, struct gate *g, bool after_restart)
{
	int64_t now = store_now(e->store);
	const char *why = after_restart ? "resolved after restart"
					: "nobody objected before the deadline";
	char *detail = gate__jdump(json_pack("{s:s, s:I, s:I, s:i, s:i}", "note", why, "deadline",
				       (json_int_t)g->rec.deadline, "late_ms",
				       (json_int_t)(now - g->rec.deadline), "approvals",
				       (int)g->rec.n_approved, "min_approvals",
				       g->rec.min_approvals));
	struct store_change c = {
		.from = GATE_PENDING, .to = GATE_APPROVED_BY_TIMER, .actor = "timer",
		.detail = detail, .decision_detail = why,
	};

	gate__change(e, g, &c, THEN_TIMER, why);
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
	gate__notify(e, &g->rec, GATE_EV_REMINDER, kind == T_REMIND_HALF ? "half time" : "1 minute left");
}

/* Arm the deadline and reminders of a delivered PENDING gate from its wall
 * deadline. */
void gate__arm(struct gate_engine *e, struct gate *g)
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
		gate__tpush_in(e, (uint64_t)(half - wall), g->rec.id, T_REMIND_HALF);
	int64_t last = deadline - (int64_t)LAST_MINUTE_MS;
	if (g->rec.timer_ms > LAST_MINUTE_MIN_TIMER_MS && last > wall)
		gate__tpush_in(e, (uint64_t)(last - wall), g->rec.id, T_REMIND_LAST);
}

/* ---- timer ------------------------------------------------------------- */

static void fire(struct gate_engine *e, const struct timeheap_entry *t)
{
	struct gate *g = gate__map_get(e, t->id);

	if (!g)
		return; /* stale entry: the gate is final */
	gate__hold(g);
	switch ((enum tkind)t->tag) {
	case T_DEADLINE:
		if (g->rec.state == GATE_PENDING && g->due == t->due)
			gate__decide_by_timer(e, g, false);
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
			gate__decide_by_timer(e, g, false);
		else if (gate__approved_state(g->rec.state))
			gate__proceed(e, g);
		else if (g->rec.state == GATE_EXECUTING)
			gate__reconcile(e, g, false, NULL);
		break;
	case T_RECONCILE:
		if (!g->reconcile_left)
			g->reconcile_left = e->reconcile_tries;
		gate__reconcile(e, g, g->restarted, NULL);
		break;
	case T_DELIVERY:
		if (!g->delivering || g->rec.state != GATE_PENDING || g->rec.message_ts)
			break; /* posted, or decided: nothing to hold */
		if (g->working) /* another step first; the claim right after it */
			gate__tpush_in(e, e->delivery_lease / 8, g->rec.id, T_DELIVERY);
		else
			gate__claim(e, g, THEN_DELIVERY, NULL);
		break;
	}
	gate__put(g);
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
	e->delivery_lease = o->delivery_lease_ms ? o->delivery_lease_ms
						 : DEFAULT_DELIVERY_LEASE_MS;
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
	struct gate *g = gate__map_get(e, id);
	uint64_t now = mono_ms();

	if (!g || !g->due || g->rec.state != GATE_PENDING)
		return -1;
	return g->due > now ? (int64_t)(g->due - now) : 0;
}

/* ---- public: requests -------------------------------------------------- */

char *gate__dup_or(const char *s, const char *dflt, bool *oom)
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
	if (!action_find(sp->action))
		return bot_error_set(err, BOT_EINVAL, "gate: unknown action \"%s\"", sp->action);
	if (sp->params) {
		json_t *o = json_loads(sp->params, 0, NULL);
		bool ok = json_is_object(o);
		json_decref(o);
		if (!ok)
			return bot_error_set(err, BOT_EINVAL, "gate: the action's parameters are not "
					     "a JSON object");
	}
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
	r->service = gate__dup_or(sp->service, NULL, &oom);
	r->cluster = gate__dup_or(sp->cluster, NULL, &oom);
	r->ecs_service = gate__dup_or(sp->ecs_service, NULL, &oom);
	r->requester = gate__dup_or(sp->requester, NULL, &oom);
	r->reason = gate__dup_or(sp->reason, "", &oom);
	r->channel = gate__dup_or(sp->channel, NULL, &oom);
	r->evidence = gate__dup_or(sp->evidence, "", &oom);
	r->action = gate__dup_or(action_find(sp->action)->kind, NULL, &oom);
	r->params = sp->params ? strdup(sp->params)
			       : gate__jdump(json_pack("{s:i}", "target", sp->target));
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
			r->approvers[i] = gate__dup_or(sp->approvers[i], NULL, &oom);
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
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (r->rc) {
		log_error("gate.delivered", "gate=%" PRIu64 " error=%s", op->id, LOG_Q(r->err.msg));
	} else if (g) {
		gate__hold(g);
		gate__refresh(g, r);
		g->home = true;
		if (op->armed)
			gate__arm(e, g);
		gate__notify(e, &g->rec, GATE_EV_DELIVERED, NULL);
		gate__put(g);
	} else {
		/* decided (and forgotten) before the post was confirmed */
		gate__notify(e, &r->gate, GATE_EV_DELIVERED, NULL);
	}
	gate__op_end(op);
}

static void on_delivery_recorded(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = gate__op_engine(op);

	if (!e)
		return;
	if (r->rc) {
		/* stays PENDING without a deadline: it can never auto-approve */
		log_error("gate.delivered", "gate=%" PRIu64 " error=%s effect=\"no timer; "
			  "approvers can still decide\"", op->id, LOG_Q(r->err.msg));
		gate__op_end(op);
		return;
	}
	op->armed = r->flag;
	if (store_gate_get_async(e->store, op->id, on_delivery_read, op) != BOT_EOK)
		gate__op_end(op);
}

static void on_delivered(void *token, int rc, const char *channel, const char *ts,
			 const char *detail)
{
	struct op *op = token;
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return;
	if (g)
		g->delivering = false;
	if (rc) {
		char text[400];
		snprintf(text, sizeof text, "approval request could not be delivered; nothing will "
			 "happen (%s)", detail && detail[0] ? detail : bot_strerror(rc));
		log_warn("gate.undelivered", "gate=%" PRIu64 " rc=%s", op->id, bot_err_name(rc));
		gate__op_end(op);
		if (g && g->rec.state == GATE_PENDING)
			gate__fail(e, g, "system", "undelivered", text, NULL);
		return;
	}
	if (store_gate_delivered_async(e->store, op->id, channel, ts, on_delivery_recorded,
				       op) != BOT_EOK) {
		log_error("gate.delivered", "gate=%" PRIu64 " error=\"the store takes no calls\" "
			  "effect=\"no timer; approvers can still decide\"", op->id);
		gate__op_end(op);
	}
}

static void on_opened(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = gate__op_engine(op);
	struct bot_error err = {0};
	struct gate *g;

	if (!e)
		return; /* op_free released the gate that was never opened */
	g = op->g;
	if (r->rc) {
		if (op->req_done)
			op->req_done(op->req_ud, r->rc, 0, &r->err);
		gate__op_end(op);
		return;
	}
	if (r->res != STORE_DONE) {
		int rc = r->res == STORE_BUSY
				 ? bot_error_set(&err, BOT_EBUSY, "%s already has an open request (#%"
						 PRIu64 ")", g->rec.service, r->holder)
				 : bot_error_set(&err, BOT_ESTORE, "the store did not open the request");
		if (op->req_done)
			op->req_done(op->req_ud, rc, r->holder, &err);
		gate__op_end(op);
		return;
	}
	op->g = NULL;
	store_req_take_gate(r, &g->rec); /* as stored: id, version, times */
	struct gate *known = gate__map_get(e, g->rec.id);
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
		gate__op_end(op);
		return;
	} else {
		g->refs = 1;
	}
	log_info("gate.requested", "gate=%" PRIu64 " service=%s action=%s target=%d timer_ms=%"
		 PRIu64, g->rec.id, LOG_Q(g->rec.service), g->rec.action, g->rec.target,
		 g->rec.timer_ms);
	if (op->req_done)
		op->req_done(op->req_ud, BOT_EOK, g->rec.id, NULL);
	/* the same op now waits for the post; with replicas, our claim on the
	 * request is renewed at half time while it is in flight */
	op->kind = OP_DELIVER;
	op->id = g->rec.id;
	gate__hold(g);
	g->delivering = true;
	if (e->shared)
		gate__tpush_in(e, e->delivery_lease / 2, g->rec.id, T_DELIVERY);
	e->obs.post_request(e->obs.ud, &g->rec, on_delivered, op);
	gate__put(g);
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
	op = g ? gate__op_new(e, 0, OP_STORE) : NULL;
	if (!op) {
		if (g)
			gate_free(g);
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	}
	op->g = g;
	op->req_done = done;
	op->req_ud = ud;
	/* the poster's claim: who posts the card, and for how long others
	 * leave the request alone if it is never delivered */
	g->rec.exec_owner = strdup(e->owner);
	g->rec.exec_lease_until = store_now(e->store) + (int64_t)e->delivery_lease;
	if (!g->rec.exec_owner) {
		gate__op_end(op);
		return bot_error_set(err, BOT_ENOMEM, "gate: out of memory");
	}
	rc = store_gate_open_async(e->store, &g->rec, on_opened, op);
	if (rc) {
		gate__op_end(op);
		return bot_error_set(err, rc, "gate: the store takes no calls (%s)", bot_strerror(rc));
	}
	return BOT_EOK;
}
