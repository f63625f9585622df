/* store.c - the store interface: the record's vocabulary and the calls
 * into a backend (see store.h). */
#include "adapters/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot/base/log.h"

static const char *const state_text[] = {
#define GATE_STATE_TEXT(name, text) [GATE_##name] = text,
	GATE_STATE_MAP(GATE_STATE_TEXT)
#undef GATE_STATE_TEXT
};

const char *store_state_name(enum gate_state s)
{
	return (unsigned)s < GATE_STATE_COUNT ? state_text[s] : "?";
}

int store_state_parse(const char *text, enum gate_state *out)
{
	for (unsigned i = 0; text && i < GATE_STATE_COUNT; i++) {
		if (strcmp(text, state_text[i]) == 0) {
			*out = (enum gate_state)i;
			return BOT_EOK;
		}
	}
	return BOT_EPARSE;
}

bool store_state_final(enum gate_state s)
{
	return (unsigned)s < GATE_STATE_COUNT && !(GATE_LIVE_MASK & GATE_STATE_BIT(s));
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void store_gate_clear(struct store_gate *g)
{
	if (!g)
		return;
	free(g->service);
	free(g->cluster);
	free(g->ecs_service);
	free(g->requester);
	free(g->action);
	free(g->params);
	free(g->reason);
	free_strv(g->approvers, g->n_approvers);
	free(g->channel);
	free(g->message_ts);
	free(g->evidence);
	free(g->decided_by);
	free(g->decision_detail);
	free(g->exec_intent);
	free(g->exec_owner);
	free(g->result_kind);
	free(g->result_detail);
	free(g->aws_code);
	free(g->aws_request_id);
	free_strv(g->approved_by, g->n_approved);
	memset(g, 0, sizeof *g);
}

void store_gate_array_free(struct store_gate *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_gate_clear(&v[i]);
	free(v);
}

static int64_t real_clock(void *ud)
{
	struct timespec ts;
	(void)ud;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_init(struct store *s, const struct store_ops *ops, store_clock_fn clock,
		void *clock_ud, uint64_t retention_ms)
{
	s->ops = ops;
	s->clock = clock ? clock : real_clock;
	s->clock_ud = clock_ud;
	s->retention_ms = retention_ms ? retention_ms : STORE_DEFAULT_RETENTION_MS;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_stop(s);
	s->ops->close(s);
}

int64_t store_now(const struct store *s)
{
	return s->clock(s->clock_ud);
}

const char *store_where(const struct store *s)
{
	return s->ops->where(s);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

bool store_shared(const struct store *s)
{
	return s->ops->shared;
}

static char *dup_opt(const char *v, bool *oom)
{
	char *d = v ? strdup(v) : NULL;
	if (v && !d)
		*oom = true;
	return d;
}

static char **dup_strv(char *const *v, size_t n, bool *oom)
{
	char **d;
	if (!v || !n)
		return NULL;
	d = calloc(n, sizeof *d);
	if (!d) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = dup_opt(v[i], oom);
	return d;
}

int store_gate_copy(struct store_gate *dst, const struct store_gate *src)
{
	bool oom = false;

	store_gate_clear(dst);
	*dst = *src; /* numbers; every pointer is replaced below */
#define STORE_GATE_DUP(f) dst->f = dup_opt(src->f, &oom);
	STORE_GATE_DUP(service) STORE_GATE_DUP(cluster) STORE_GATE_DUP(ecs_service)
	STORE_GATE_DUP(requester) STORE_GATE_DUP(action) STORE_GATE_DUP(params)
	STORE_GATE_DUP(reason) STORE_GATE_DUP(channel) STORE_GATE_DUP(message_ts)
	STORE_GATE_DUP(evidence) STORE_GATE_DUP(decided_by) STORE_GATE_DUP(decision_detail)
	STORE_GATE_DUP(exec_intent) STORE_GATE_DUP(exec_owner) STORE_GATE_DUP(result_kind)
	STORE_GATE_DUP(result_detail) STORE_GATE_DUP(aws_code) STORE_GATE_DUP(aws_request_id)
#undef STORE_GATE_DUP
	dst->approvers = dup_strv(src->approvers, src->n_approvers, &oom);
	dst->n_approvers = dst->approvers ? src->n_approvers : 0;
	dst->approved_by = dup_strv(src->approved_by, src->n_approved, &oom);
	dst->n_approved = dst->approved_by ? src->n_approved : 0;
	if (oom) {
		store_gate_clear(dst);
		return BOT_ENOMEM;
	}
	return BOT_EOK;
}

/* ---- one call ---------------------------------------------------------- */

/* The asynchronous side: answers wait here for their loop turn. They are
 * handed over from a check handle (after the loop polled for I/O), with an
 * idle handle keeping that poll from blocking meanwhile: a chain of calls
 * that each make the next never starves sockets and timers, which a
 * zero-delay timer restarted from its own callback would (libuv < 1.45
 * runs it again in the same pass). */
/* How long one turn's answers may run before the loop polls again; what
 * is left goes first on the next turn. */
#define STORE_TURN_SLICE_NS (500u * 1000u)

struct store_defer {
	uv_loop_t *loop;
	uv_check_t turn;
	uv_idle_t awake;
	int open_handles;
	struct store_req *head, *tail; /* answered, waiting for the next turn */
	/* seen_event calls waiting for the turn's group commit */
	struct store_req *batch_head, *batch_tail;
	size_t batch_n;
};


/* The inputs every backend may rely on. */
static int check_args(const struct store_args *a, struct bot_error *err)
{
	const struct store_change *c = a->change;
	const struct store_vote *v = a->vote;
	const struct store_lease *l = a->lease;

	switch (a->op) {
	case STORE_OP_GATE_OPEN:
		if (!a->gate || !a->gate->cluster || !a->gate->ecs_service)
			return bot_error_set(err, BOT_EINVAL, "store: a gate needs its service");
		break;
	case STORE_OP_SERVICE_HOLDER:
		if (!a->cluster || !a->ecs_service)
			return bot_error_set(err, BOT_EINVAL, "store: a service needs cluster and name");
		break;
	case STORE_OP_GATE_CHANGE:
		if (!c || !c->actor || (unsigned)c->from >= GATE_STATE_COUNT ||
		    (unsigned)c->to >= GATE_STATE_COUNT || c->from == c->to)
			return bot_error_set(err, BOT_EINVAL, "store: %s -> %s is not a change",
					     c ? store_state_name(c->from) : "?",
					     c ? store_state_name(c->to) : "?");
		break;
	case STORE_OP_GATE_VOTE:
		if (!v || !v->actor || !v->kind || (unsigned)v->to >= GATE_STATE_COUNT ||
		    ((v->approve_user || v->to != GATE_PENDING) && (!v->gate_id || v->gate_missing)))
			return bot_error_set(err, BOT_EINVAL, "store: malformed vote");
		break;
	case STORE_OP_GATE_LEASE:
		if (!l || !l->gate_id || !l->owner || !l->owner[0] || !l->kind || !l->lease_ms)
			return bot_error_set(err, BOT_EINVAL, "store: malformed lease");
		break;
	case STORE_OP_SEEN_EVENT:
		if (!a->event_id || !a->event_id[0])
			return bot_error_set(err, BOT_EINVAL, "store: empty event id");
		break;
	case STORE_OP_AUDIT_ADD:
		if (!a->kind || !a->kind[0])
			return bot_error_set(err, BOT_EINVAL, "store: an audit event needs a kind");
		break;
	case STORE_OP_AUDIT_EACH:
		if (!a->row_fn)
			return bot_error_set(err, BOT_EINVAL, "store: a walk needs a function");
		break;
	case STORE_OP_ALARM_GET:
	case STORE_OP_ALARM_PUT:
		if (!a->key || !a->key[0] || strlen(a->key) > STORE_ALARM_KEY_MAX)
			return bot_error_set(err, BOT_EINVAL, "store: an alarm key has 1 to %d bytes",
					     STORE_ALARM_KEY_MAX);
		if (a->op == STORE_OP_ALARM_PUT && (!a->body || a->body[0] != '{'))
			return bot_error_set(err, BOT_EINVAL, "store: an alarm record is a JSON object");
		break;
	default:
		break;
	}
	return BOT_EOK;
}

/* A backend that answers at once: run the call into r. */
static int serve(struct store *s, const struct store_args *a, struct store_req *r)
{
	const struct store_ops *o = s->ops;
	struct bot_error *e = &r->err;

	switch (a->op) {
	case STORE_OP_GATE_OPEN:
		if (store_gate_copy(&r->gate, a->gate) != BOT_EOK)
			return bot_error_set(e, BOT_ENOMEM, "store: out of memory");
		return o->gate_open(s, &r->gate, &r->res, &r->holder, e);
	case STORE_OP_GATE_GET:
		return o->gate_get(s, a->id, &r->gate, e);
	case STORE_OP_SERVICE_HOLDER:
		return o->service_holder(s, a->cluster, a->ecs_service, &r->holder, e);
	case STORE_OP_GATE_LIST:
		return o->gate_list(s, a->mask, &r->gates, &r->n, e);
	case STORE_OP_GATE_RECENT:
		return a->limit ? o->gate_recent(s, a->limit, &r->gates, &r->n, e) : BOT_EOK;
	case STORE_OP_GATE_COUNTS:
		return o->gate_counts(s, r->counts, e);
	case STORE_OP_GATE_DELIVERED:
		return o->gate_delivered(s, a->id, a->channel, a->ts, &r->flag, e);
	case STORE_OP_GATE_CHANGE:
		return o->gate_change(s, a->change, &r->res, e);
	case STORE_OP_GATE_VOTE:
		return o->gate_vote(s, a->vote, &r->res, e);
	case STORE_OP_GATE_LEASE:
		return o->gate_lease(s, a->lease, &r->res, e);
	case STORE_OP_SEEN_EVENT:
		return o->seen_event(s, a->event_id, &r->flag, e);
	case STORE_OP_PURGE_EVENTS:
		return o->purge_events(s, a->older_than, &r->count, e);
	case STORE_OP_AUDIT_ADD:
		return o->audit_add(s, a->id, a->actor ? a->actor : "system", a->kind, a->detail,
				    e);
	case STORE_OP_AUDIT_EACH:
		return o->audit_each(s, a->since, a->row_fn, a->row_ud, e);
	case STORE_OP_ALARM_GET:
		if (!o->alarm_get)
			break;
		return o->alarm_get(s, a->key, &r->alarm, e);
	case STORE_OP_ALARM_PUT:
		if (!o->alarm_put)
			break;
		return o->alarm_put(s, a->key, a->version, a->body, &r->res, &r->alarm, e);
	}
	if (a->op == STORE_OP_ALARM_GET || a->op == STORE_OP_ALARM_PUT)
		return bot_error_set(e, BOT_ESTATE, "store: the %s backend keeps no alarm records",
				     o->name);
	return bot_error_set(e, BOT_EINVAL, "store: unknown operation");
}

static void req_init(struct store_req *r, struct store *s, enum store_op op)
{
	memset(r, 0, sizeof *r);
	r->store = s;
	r->op = op;
	r->res = STORE_LOST;
}

static void req_free(struct store_req *r)
{
	free(r->batch_id);
	store_gate_clear(&r->gate);
	store_gate_array_free(r->gates, r->n);
	store_alarm_clear(&r->alarm);
	free(r);
}

void store_alarm_clear(struct store_alarm *a)
{
	if (!a)
		return;
	free(a->key);
	free(a->body);
	memset(a, 0, sizeof *a);
}

void store_req_take_gate(struct store_req *r, struct store_gate *out)
{
	store_gate_clear(out);
	*out = r->gate;
	memset(&r->gate, 0, sizeof r->gate);
}

void store_req_take_gates(struct store_req *r, struct store_gate **out, size_t *n)
{
	*out = r->gates;
	*n = r->n;
	r->gates = NULL;
	r->n = 0;
}

/* Synchronously: run the call into r (on the stack; done == NULL). */
static int call_sync(struct store *s, const struct store_args *a, struct store_req *r)
{
	int rc;

	req_init(r, s, a->op);
	rc = check_args(a, &r->err);
	if (rc)
		return r->rc = rc;
	if (!s->ops->submit) {
		r->rc = serve(s, a, r);
		return r->rc;
	}
	if (!s->defer)
		return r->rc = bot_error_set(&r->err, BOT_ESTATE, "store: no loop to wait on");
	rc = s->ops->submit(s, a, r);
	if (rc)
		return r->rc = rc;
	while (!r->finished)
		uv_run(s->defer->loop, UV_RUN_ONCE);
	return r->rc;
}

/* ---- answering on the loop --------------------------------------------- */

static void deliver(struct store_req *r)
{
	r->finished = true;
	r->done(r->ud, r);
	req_free(r);
}

static void on_awake(uv_idle_t *h)
{
	(void)h; /* only keeps the poll from blocking */
}

static void answered(struct store_defer *d, struct store_req *r)
{
	r->next = NULL;
	if (d->tail)
		d->tail->next = r;
	else
		d->head = r;
	d->tail = r;
}

/* The turn's seen_event calls: one commit for all of them. */
static void commit_batch(struct store_defer *d)
{
	struct store_req *r = d->batch_head;
	size_t n = d->batch_n, i = 0;
	const char **ids;
	bool *seen;
	struct bot_error err = {0};
	int rc;

	if (!r)
		return;
	d->batch_head = d->batch_tail = NULL;
	d->batch_n = 0;
	ids = calloc(n, sizeof *ids);
	seen = calloc(n, sizeof *seen);
	for (struct store_req *q = r; q && ids; q = q->next)
		ids[i++] = q->batch_id;
	rc = ids && seen ? r->store->ops->seen_events(r->store, ids, n, seen, &err)
			 : bot_error_set(&err, BOT_ENOMEM, "store: out of memory");
	i = 0;
	while (r) {
		struct store_req *next = r->next;
		r->rc = rc;
		if (rc)
			r->err = err;
		else
			r->flag = seen[i];
		i++;
		answered(d, r);
		r = next;
	}
	free(ids);
	free(seen);
}

static void arm(struct store_defer *d);

static void on_turn(uv_check_t *t)
{
	struct store_defer *d = container_of(t, struct store_defer, turn);
	struct store_req *r;

	commit_batch(d);
	/* only what was answered before this turn: callbacks that call again
	 * are answered on the next one */
	r = d->head;
	d->head = d->tail = NULL;
	uv_check_stop(&d->turn);
	uv_idle_stop(&d->awake);
	uint64_t t0 = uv_hrtime();
	while (r) {
		struct store_req *next = r->next;
		deliver(r);
		r = next;
		/* a turn's callbacks (a burst's commands) take at most a slice;
		 * the rest go first next turn, after the loop polled (acks);
		 * all at once when a callback stopped the store */
		if (r && uv_hrtime() - t0 > STORE_TURN_SLICE_NS &&
		    !uv_is_closing((uv_handle_t *)&d->turn))
			break;
	}
	if (r) {
		struct store_req *last = r;
		while (last->next)
			last = last->next;
		last->next = d->head;
		if (!d->head)
			d->tail = last;
		d->head = r;
		arm(d);
	}
}

static void arm(struct store_defer *d)
{
	if (!uv_is_active((uv_handle_t *)&d->turn)) {
		uv_check_start(&d->turn, on_turn);
		uv_idle_start(&d->awake, on_awake);
	}
}

void store_finish(struct store_req *r)
{
	struct store_defer *d = r->store->defer;

	if (!r->done) { /* a synchronous call: its caller runs the loop */
		r->finished = true;
		return;
	}
	if (!d) { /* stopping: nobody waits for a turn any more */
		deliver(r);
		return;
	}
	answered(d, r);
	arm(d);
}

static void on_defer_closed(uv_handle_t *h)
{
	struct store_defer *d = h->data;
	if (--d->open_handles == 0)
		free(d);
}

int store_attach_loop(struct store *s, uv_loop_t *loop)
{
	struct store_defer *d;

	if (s->defer)
		return s->defer->loop == loop ? BOT_EOK : BOT_ESTATE;
	d = calloc(1, sizeof *d);
	if (!d)
		return BOT_ENOMEM;
	if (uv_check_init(loop, &d->turn) != 0) {
		free(d);
		return BOT_EIO;
	}
	if (uv_idle_init(loop, &d->awake) != 0) {
		/* closed right away: freed once the loop delivered the close */
		d->open_handles = 1;
		d->turn.data = d;
		uv_close((uv_handle_t *)&d->turn, on_defer_closed);
		return BOT_EIO;
	}
	d->open_handles = 2;
	d->loop = loop;
	s->defer = d;
	return BOT_EOK;
}

void store_stop(struct store *s)
{
	struct store_defer *d = s ? s->defer : NULL;
	struct store_req *r;

	if (!d)
		return;
	if (s->ops->stop)
		s->ops->stop(s); /* answers its calls in flight as cancelled */
	s->defer = NULL;
	/* what waits for a group commit is answered as stopping, unwritten */
	for (r = d->batch_head; r; r = r->next)
		r->rc = BOT_ECANCELLED;
	if (d->batch_tail) {
		d->batch_tail->next = d->head;
		if (!d->head)
			d->tail = d->batch_tail;
		d->head = d->batch_head;
	}
	d->batch_head = d->batch_tail = NULL;
	r = d->head;
	d->head = d->tail = NULL;
	while (r) {
		struct store_req *next = r->next;
		store_gate_clear(&r->gate);
		store_gate_array_free(r->gates, r->n);
		r->gates = NULL;
		r->n = 0;
		r->rc = bot_error_set(&r->err, BOT_ECANCELLED, "store: the bot is stopping");
		deliver(r);
		r = next;
	}
	d->turn.data = d->awake.data = d;
	uv_close((uv_handle_t *)&d->turn, on_defer_closed);
	uv_close((uv_handle_t *)&d->awake, on_defer_closed);
}

static void log_failure(void *ud, struct store_req *r)
{
	(void)ud;
	if (r->rc)
		log_error("store.audit", "error=%s", LOG_Q(r->err.msg));
}

static int call_async(struct store *s, const struct store_args *a, store_done_fn done, void *ud)
{
	struct bot_error err = {0};
	struct store_req *r;
	int rc;

	if (!s->defer)
		return BOT_ESTATE;
	rc = check_args(a, &err);
	if (rc)
		return rc;
	r = malloc(sizeof *r);
	if (!r)
		return BOT_ENOMEM;
	req_init(r, s, a->op);
	r->done = done ? done : log_failure;
	r->ud = ud;
	if (a->op == STORE_OP_SEEN_EVENT && !s->ops->submit && s->ops->seen_events) {
		struct store_defer *d = s->defer;
		if (!(r->batch_id = strdup(a->event_id))) {
			req_free(r);
			return BOT_ENOMEM;
		}
		r->next = NULL;
		if (d->batch_tail)
			d->batch_tail->next = r;
		else
			d->batch_head = r;
		d->batch_tail = r;
		d->batch_n++;
		arm(d);
		return BOT_EOK;
	}
	if (s->ops->submit) {
		rc = s->ops->submit(s, a, r);
		if (rc) {
			r->rc = rc;
			if (!r->err.msg[0])
				bot_error_set(&r->err, rc, "store: %s", bot_strerror(rc));
			store_finish(r);
		}
	} else {
		r->rc = serve(s, a, r);
		store_finish(r);
	}
	return BOT_EOK;
}

/* ---- the operations, both ways ----------------------------------------- */

int store_gate_open(struct store *s, struct store_gate *g, enum store_result *res,
		    uint64_t *holder, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_OPEN, .gate = g};
	struct store_req r;
	int rc = call_sync(s, &a, &r);

	*res = r.res;
	*holder = r.holder;
	if (rc == BOT_EOK && r.res == STORE_DONE) {
		/* what opening set; g's strings stay the caller's */
		g->id = r.gate.id;
		g->version = r.gate.version;
		g->created_at = r.gate.created_at;
		g->updated_at = r.gate.updated_at;
		g->state = r.gate.state;
		g->decision = r.gate.decision;
	}
	store_gate_clear(&r.gate);
	if (rc && err)
		*err = r.err;
	return rc;
}

int store_gate_get(struct store *s, uint64_t id, struct store_gate *out, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_GET, .id = id};
	struct store_req r;
	int rc;

	store_gate_clear(out);
	rc = call_sync(s, &a, &r);
	store_req_take_gate(&r, out);
	if (rc) {
		store_gate_clear(out);
		if (err)
			*err = r.err;
	}
	return rc;
}

/* The calls whose answer is a few numbers. */
static int plain(struct store *s, const struct store_args *a, struct store_req *r,
		 struct bot_error *err)
{
	int rc = call_sync(s, a, r);
	if (rc && err)
		*err = r->err;
	return rc;
}

int store_service_holder(struct store *s, const char *cluster, const char *ecs_service,
			 uint64_t *holder, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_SERVICE_HOLDER, .cluster = cluster,
			       .ecs_service = ecs_service};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*holder = rc ? 0 : r.holder;
	return rc;
}

static int listing(struct store *s, const struct store_args *a, struct store_gate **out,
		   size_t *n, struct bot_error *err)
{
	struct store_req r;
	int rc = plain(s, a, &r, err);

	store_req_take_gates(&r, out, n);
	if (rc) {
		store_gate_array_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int store_gate_list(struct store *s, unsigned mask, struct store_gate **out, size_t *n,
		    struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_LIST, .mask = mask};
	return listing(s, &a, out, n, err);
}

int store_gate_recent(struct store *s, size_t limit, struct store_gate **out, size_t *n,
		      struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_RECENT, .limit = limit > 1000 ? 1000 : limit};
	return listing(s, &a, out, n, err);
}

int store_gate_counts(struct store *s, uint64_t counts[GATE_STATE_COUNT], struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_COUNTS};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	memcpy(counts, r.counts, sizeof r.counts);
	return rc;
}

int store_gate_delivered(struct store *s, uint64_t id, const char *channel, const char *ts,
			 bool *armed, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_DELIVERED, .id = id, .channel = channel,
			       .ts = ts};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*armed = !rc && r.flag;
	return rc;
}

int store_gate_change(struct store *s, const struct store_change *c, enum store_result *res,
		      struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_CHANGE, .change = c};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*res = rc ? STORE_LOST : r.res;
	return rc;
}

int store_gate_vote(struct store *s, const struct store_vote *v, enum store_result *res,
		    struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_VOTE, .vote = v};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*res = rc ? STORE_LOST : r.res;
	return rc;
}

int store_gate_lease(struct store *s, const struct store_lease *l, enum store_result *res,
		     struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_GATE_LEASE, .lease = l};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*res = rc ? STORE_LOST : r.res;
	return rc;
}

int store_seen_event(struct store *s, const char *id, bool *seen, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_SEEN_EVENT, .event_id = id};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	*seen = !rc && r.flag;
	return rc;
}

int store_purge_events(struct store *s, int64_t older_than, int *n, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_PURGE_EVENTS, .older_than = older_than};
	struct store_req r;
	int rc = plain(s, &a, &r, err);

	if (n)
		*n = rc ? 0 : r.count;
	return rc;
}

int store_audit_add(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
		    const char *detail, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_AUDIT_ADD, .id = gate_id, .actor = actor,
			       .kind = kind, .detail = detail};
	struct store_req r;
	return plain(s, &a, &r, err);
}

int store_audit_each(struct store *s, int64_t since_ms, store_audit_fn fn, void *ud,
		     struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_AUDIT_EACH, .since = since_ms, .row_fn = fn,
			       .row_ud = ud};
	struct store_req r;
	return plain(s, &a, &r, err);
}

int store_gate_open_async(struct store *s, const struct store_gate *g, store_done_fn done,
			  void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_OPEN, .gate = g};
	return call_async(s, &a, done, ud);
}

int store_gate_get_async(struct store *s, uint64_t id, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_GET, .id = id};
	return call_async(s, &a, done, ud);
}

int store_service_holder_async(struct store *s, const char *cluster, const char *ecs_service,
			       store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_SERVICE_HOLDER, .cluster = cluster,
			       .ecs_service = ecs_service};
	return call_async(s, &a, done, ud);
}

int store_gate_list_async(struct store *s, unsigned mask, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_LIST, .mask = mask};
	return call_async(s, &a, done, ud);
}

int store_gate_recent_async(struct store *s, size_t limit, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_RECENT, .limit = limit > 1000 ? 1000 : limit};
	return call_async(s, &a, done, ud);
}

int store_gate_counts_async(struct store *s, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_COUNTS};
	return call_async(s, &a, done, ud);
}

int store_gate_delivered_async(struct store *s, uint64_t id, const char *channel,
			       const char *ts, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_DELIVERED, .id = id, .channel = channel,
			       .ts = ts};
	return call_async(s, &a, done, ud);
}

int store_gate_change_async(struct store *s, const struct store_change *c, store_done_fn done,
			    void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_CHANGE, .change = c};
	return call_async(s, &a, done, ud);
}

int store_gate_vote_async(struct store *s, const struct store_vote *v, store_done_fn done,
			  void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_VOTE, .vote = v};
	return call_async(s, &a, done, ud);
}

int store_gate_lease_async(struct store *s, const struct store_lease *l, store_done_fn done,
			   void *ud)
{
	struct store_args a = {.op = STORE_OP_GATE_LEASE, .lease = l};
	return call_async(s, &a, done, ud);
}

int store_seen_event_async(struct store *s, const char *id, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_SEEN_EVENT, .event_id = id};
	return call_async(s, &a, done, ud);
}

int store_purge_events_async(struct store *s, int64_t older_than, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_PURGE_EVENTS, .older_than = older_than};
	return call_async(s, &a, done, ud);
}

int store_audit_add_async(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
			  const char *detail, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_AUDIT_ADD, .id = gate_id, .actor = actor,
			       .kind = kind, .detail = detail};
	return call_async(s, &a, done, ud);
}

/* ---- alarm records ---------------------------------------------------- */

int store_alarm_get(struct store *s, const char *key, struct store_alarm *out,
		    struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_ALARM_GET, .key = key};
	struct store_req r;
	int rc;

	store_alarm_clear(out);
	rc = call_sync(s, &a, &r);
	*out = r.alarm;
	memset(&r.alarm, 0, sizeof r.alarm);
	if (rc) {
		store_alarm_clear(out);
		if (err)
			*err = r.err;
	}
	return rc;
}

int store_alarm_put(struct store *s, const char *key, uint64_t version, const char *body,
		    enum store_result *res, struct store_alarm *out, struct bot_error *err)
{
	struct store_args a = {.op = STORE_OP_ALARM_PUT, .key = key, .body = body,
			       .version = version};
	struct store_req r;
	int rc = call_sync(s, &a, &r);

	*res = rc ? STORE_LOST : r.res;
	if (out) {
		store_alarm_clear(out);
		if (!rc && r.res == STORE_DONE) {
			*out = r.alarm;
			memset(&r.alarm, 0, sizeof r.alarm);
		}
	}
	store_alarm_clear(&r.alarm);
	if (rc && err)
		*err = r.err;
	return rc;
}

int store_alarm_get_async(struct store *s, const char *key, store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_ALARM_GET, .key = key};
	return call_async(s, &a, done, ud);
}

int store_alarm_put_async(struct store *s, const char *key, uint64_t version, const char *body,
			  store_done_fn done, void *ud)
{
	struct store_args a = {.op = STORE_OP_ALARM_PUT, .key = key, .body = body,
			       .version = version};
	return call_async(s, &a, done, ud);
}
