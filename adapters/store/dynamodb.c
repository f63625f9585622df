/* dynamodb.c - the gate store on DynamoDB (see dynamodb.h, adapters/store.h
 * and the table layout in dynamodb_item.h).
 *
 * Each call is an `struct op`: its inputs copied at submit, then a short
 * chain of DynamoDB calls on the loop. The writing operations share one
 * shape: read what the write depends on (the gate, whose item holds its
 * audit chain's tail; the log chain's head...), decide (an answer already,
 * or the one TransactWriteItems to send), write, and on a cancelled
 * transaction either answer (a deciding condition failed) or read again and
 * retry after a random backoff. */
#include "adapters/store/dynamodb.h"
#include "adapters/aws/ddb.h"
#include "adapters/store/common.h"
#include "adapters/store/dynamodb_item.h"
#include "adapters/store/dynamodb_req.h"
#include "bot/base/log.h"
#include "bot/domain/chain.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BACKOFF_BASE_MS 5
#define BACKOFF_MAX_MS 250
#define POLL_MS 200

struct op;

struct ddb {
	struct store base; /* first: the interface's part */
	struct aws_client *aws;
	uv_loop_t *loop;
	char *table, *where;
	struct op *ops; /* in flight */
	uint64_t retries; /* writes read again after losing to a non-deciding writer */
};

#define DDB(b) container_of(b, struct ddb, base)

/* How a write treats the service lock (change and vote). */
enum lock_mode {
	LOCK_EXPECT, /* it names this gate: check it (EXECUTING) or delete it (final) */
	LOCK_TAKE,   /* it is free: take it (into EXECUTING) */
	LOCK_SKIP,   /* it is not this gate's: leave it (final) */
};

/* What a transaction item decides when its condition fails. */
enum ix_role { IX_NONE, IX_SEEN, IX_GATE, IX_LOCK };

#define MAX_TX 8

struct op {
	struct ddb *d;
	struct store_req *r;
	enum store_op kind;
	struct op *prev, *next;
	struct aws_call *call;
	const char *api; /* the DynamoDB call in flight, for messages */
	uv_timer_t timer;
	bool timer_used;
	int attempt;
	int64_t now;
	/* the inputs, copied (strings in owned) */
	char **owned;
	size_t n_owned;
	uint64_t id;
	unsigned mask;
	size_t limit;
	int64_t older_than, since;
	const char *cluster, *ecs_service, *channel, *ts, *event_id, *actor, *akind, *detail;
	const char *key, *body; /* alarm_get, alarm_put */
	uint64_t version;       /* alarm_put: as the caller read it */
	struct store_gate gate; /* open: the request */
	char *request_detail;   /* open: its audit detail */
	struct store_change change;
	struct store_vote vote;
	struct store_lease lease;
	store_audit_fn row_fn;
	void *row_ud;
	/* the write in flight */
	int ix_gate, ix_log, ix_seen; /* where rw_keys put each item read (-1: none) */
	bool want_log;   /* read the log chain's head too (the gate is missing) */
	uint64_t chain;  /* the chain it appends to (0 = the log chain) */
	enum ix_role roles[MAX_TX];
	enum lock_mode lock_mode;
	uint64_t new_id;
	bool armed;
	/* pages */
	json_t *start_key;
	unsigned state_i;
	struct store_gate *gates;
	size_t n, cap;
	json_t *victims;
	size_t victim_i;
	int count;
};

static const char *const op_names[] = {
	[STORE_OP_GATE_OPEN] = "gate_open",
	[STORE_OP_GATE_GET] = "gate_get",
	[STORE_OP_SERVICE_HOLDER] = "service_holder",
	[STORE_OP_GATE_LIST] = "gate_list",
	[STORE_OP_GATE_RECENT] = "gate_recent",
	[STORE_OP_GATE_COUNTS] = "gate_counts",
	[STORE_OP_GATE_DELIVERED] = "gate_delivered",
	[STORE_OP_GATE_CHANGE] = "gate_change",
	[STORE_OP_GATE_VOTE] = "gate_vote",
	[STORE_OP_GATE_LEASE] = "gate_lease",
	[STORE_OP_SEEN_EVENT] = "seen_event",
	[STORE_OP_PURGE_EVENTS] = "purge_events",
	[STORE_OP_AUDIT_ADD] = "audit_add",
	[STORE_OP_AUDIT_EACH] = "audit_each",
	[STORE_OP_ALARM_GET] = "alarm_get",
	[STORE_OP_ALARM_PUT] = "alarm_put",
};

static const char *op_name(const struct op *o)
{
	return (unsigned)o->kind < BOT_ARRAY_LEN(op_names) && op_names[o->kind]
		       ? op_names[o->kind] : "?";
}

/* ---- ops: lifetime ------------------------------------------------------ */

static const char *keep(struct op *o, const char *s)
{
	char **nv;
	char *c;

	if (!s)
		return NULL;
	nv = realloc(o->owned, (o->n_owned + 1) * sizeof *nv);
	if (!nv)
		return NULL;
	o->owned = nv;
	c = strdup(s);
	if (c)
		o->owned[o->n_owned++] = c;
	return c;
}

static void op_free_mem(struct op *o)
{
	for (size_t i = 0; i < o->n_owned; i++)
		free(o->owned[i]);
	free(o->owned);
	store_gate_clear(&o->gate);
	free(o->request_detail);
	json_decref(o->start_key);
	json_decref(o->victims);
	store_gate_array_free(o->gates, o->n);
	free(o);
}

static void on_timer_closed(uv_handle_t *h)
{
	op_free_mem(container_of((uv_timer_t *)h, struct op, timer));
}

static void op_free(struct op *o)
{
	if (o->timer_used)
		uv_close((uv_handle_t *)&o->timer, on_timer_closed);
	else
		op_free_mem(o);
}

/* Answer the call (rc, and what the op gathered) and free the op. */
static void finish(struct op *o, int rc)
{
	struct store_req *r = o->r;

	if (o->prev)
		o->prev->next = o->next;
	else if (o->d->ops == o)
		o->d->ops = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
	if (o->timer_used)
		uv_timer_stop(&o->timer);
	r->rc = rc;
	if (rc && !r->err.msg[0])
		bot_error_set(&r->err, rc, "store: %s: %s", op_name(o), bot_strerror(rc));
	if (rc == BOT_EOK) {
		r->gates = o->gates;
		r->n = o->n;
		o->gates = NULL;
		o->n = 0;
		r->count = o->count;
	}
	op_free(o);
	store_finish(r);
}

static void fail(struct op *o, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct op *o, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bot_error_setv(&o->r->err, rc, fmt, ap);
	va_end(ap);
	finish(o, rc);
}

static void fail_oom(struct op *o)
{
	fail(o, BOT_ENOMEM, "store: %s: out of memory", op_name(o));
}

/* A reply arrived: false (and the op answered) when it cannot go on. */
static bool reply_usable(struct op *o, const struct aws_ddb_result *res, bool expect_condition)
{
	const struct cloud_error *e = res->err;
	const char *api = o->api ? o->api : "?";

	o->call = NULL;
	if (!o->d->base.defer || (e && e->code == BOT_ECANCELLED)) {
		fail(o, BOT_ECANCELLED, "store: %s: cancelled: the bot is stopping", op_name(o));
		return false;
	}
	if (res->outcome == AWS_DDB_OK)
		return true;
	if (expect_condition && (res->outcome == AWS_DDB_CONDITION_FAILED ||
				 res->outcome == AWS_DDB_TXN_CANCELLED))
		return true;
	/* the AWS code, or the kind of failure when AWS did not answer */
	const char *what = e && e->aws_code[0] ? e->aws_code
					       : bot_strerror(e ? e->code : BOT_EREMOTE);
	fail(o, BOT_ESTORE, "store: %s: DynamoDB %s on table %s failed: %s%s%s%s", op_name(o), api,
	     o->d->table, what, e && e->message[0] ? " (" : "", e ? e->message : "",
	     e && e->message[0] ? ")" : "");
	return false;
}

static int call(struct op *o, const char *api, json_t *body, aws_ddb_cb cb)
{
	if (!body)
		return BOT_ENOMEM;
	/* a transaction names the table in each of its items */
	if (strncmp(api, "Transact", 8) != 0 &&
	    json_object_set_new(body, "TableName", json_string(o->d->table)) != 0) {
		json_decref(body);
		return BOT_ENOMEM;
	}
	o->api = api;
	return aws_ddb_call(o->d->aws, api, body, cb, o, &o->call);
}

static void start_or_fail(struct op *o, const char *api, json_t *body, aws_ddb_cb cb)
{
	int rc = call(o, api, body, cb);

	if (rc == BOT_ESTATE) /* the aws client has shut down: the bot is stopping */
		fail(o, BOT_ECANCELLED, "store: %s: cancelled: the bot is stopping", op_name(o));
	else if (rc)
		fail(o, rc == BOT_ENOMEM ? rc : BOT_ESTORE,
		     "store: %s: cannot call DynamoDB %s: %s", op_name(o), api, bot_strerror(rc));
}

/* ---- read, decide, write ------------------------------------------------ */

static void rw_read(struct op *o);

static void on_backoff(uv_timer_t *t)
{
	struct op *o = container_of(t, struct op, timer);

	if (!o->d->base.defer) { /* stopped while it waited: start nothing new */
		fail(o, BOT_ECANCELLED, "store: %s: cancelled: the bot is stopping", op_name(o));
		return;
	}
	rw_read(o);
}

/* The write lost to a writer of something that does not decide: read again
 * and try again, after a random backoff, a bounded number of times. */
static void retry(struct op *o, const char *why)
{
	uint64_t cap, delay;

	o->d->retries++;
	if (++o->attempt >= DDB_MAX_ATTEMPTS) {
		fail(o, BOT_ESTORE, "store: %s: gave up after %d attempts (%s kept moving under "
		     "concurrent writers)", op_name(o), o->attempt, why);
		return;
	}
	if (!o->timer_used) {
		if (uv_timer_init(o->d->loop, &o->timer) != 0) {
			fail(o, BOT_EIO, "store: %s: cannot make a timer", op_name(o));
			return;
		}
		o->timer_used = true;
	}
	cap = (uint64_t)BACKOFF_BASE_MS << (o->attempt < 6 ? o->attempt : 6);
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	delay = 1 + ddb__random32() % cap;
	log_debug("store.retry", "op=%s attempt=%d why=%s delay_ms=%" PRIu64, op_name(o),
		  o->attempt, why, delay);
	uv_timer_start(&o->timer, on_backoff, delay, 0);
}

/* What each writing op reads: keys[] (stolen by the caller). */
static size_t rw_keys(struct op *o, json_t *keys[4]);
/* Decide from what was read (items[i] NULL = absent): answer (finish) or
 * fill tx and o->roles. Returns 1 when it answered, 0 to send tx,
 * RW_READ_LOG to read again with the log chain's head (o->want_log is then
 * set: the event goes to the log chain), or an error code (the op is not
 * answered yet). */
#define RW_READ_LOG 2
static int rw_decide(struct op *o, json_t *const items[4], json_t *tx);
/* The write landed. */
static void rw_commit(struct op *o);
/* A deciding condition failed (role, the item as it was): answer and
 * return true, or return false to retry. */
static bool rw_lost(struct op *o, enum ix_role role, const json_t *old);

static void on_rw_write(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;
	const char *why = o->chain ? "the gate's audit chain" : "the audit log head";

	if (!reply_usable(o, res, true))
		return;
	if (res->outcome == AWS_DDB_OK) {
		rw_commit(o);
		return;
	}
	/* the deciding conditions first, in the order of their priority */
	static const enum ix_role order[] = {IX_SEEN, IX_LOCK, IX_GATE};
	for (size_t k = 0; k < BOT_ARRAY_LEN(order); k++) {
		for (size_t i = 0; i < json_array_size(res->reasons) && i < MAX_TX; i++) {
			const json_t *why_i = json_array_get(res->reasons, i);
			const char *code = json_string_value(json_object_get(why_i, "Code"));
			if (o->roles[i] != order[k] || !code ||
			    strcmp(code, "ConditionalCheckFailed") != 0)
				continue;
			if (rw_lost(o, order[k], json_object_get(why_i, "Item")))
				return;
			why = order[k] == IX_LOCK ? "the service lock" : "the gate's audit chain";
		}
	}
	for (size_t i = 0; i < json_array_size(res->reasons); i++) {
		const char *code = json_string_value(
			json_object_get(json_array_get(res->reasons, i), "Code"));
		/* a conflict with another transaction in progress, or throttling
		 * of one item, passes: read again and retry */
		if (code && strcmp(code, "None") != 0 &&
		    strcmp(code, "ConditionalCheckFailed") != 0 &&
		    strcmp(code, "TransactionConflict") != 0 &&
		    strcmp(code, "ThrottlingError") != 0) {
			fail(o, BOT_ESTORE, "store: %s: DynamoDB TransactWriteItems on table %s was "
			     "cancelled: %s", op_name(o), o->d->table, code);
			return;
		}
	}
	retry(o, why);
}

static void on_rw_read(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;
	json_t *items[4] = {0}, *tx = NULL;
	const json_t *resp;
	int rc;

	if (!reply_usable(o, res, false))
		return;
	resp = json_object_get(res->body, "Responses");
	if (json_is_array(resp)) {
		for (size_t i = 0; i < json_array_size(resp) && i < 4; i++)
			items[i] = json_object_get(json_array_get(resp, i), "Item");
	} else {
		items[0] = json_object_get(res->body, "Item");
	}
	tx = json_array();
	memset(o->roles, 0, sizeof o->roles);
	o->now = store_now(&o->d->base);
	rc = tx ? rw_decide(o, items, tx) : BOT_ENOMEM;
	if (rc == 1) {
		json_decref(tx);
		return;
	}
	if (rc == RW_READ_LOG) {
		json_decref(tx);
		o->want_log = true;
		rw_read(o);
		return;
	}
	if (rc) {
		json_decref(tx);
		fail(o, rc, "store: %s: %s", op_name(o),
		     rc == BOT_ENOMEM ? "out of memory" : bot_strerror(rc));
		return;
	}
	start_or_fail(o, "TransactWriteItems",
		      json_pack("{s:o, s:o}", "TransactItems", tx, "ClientRequestToken",
				ddb__request_token()),
		      on_rw_write);
}

static void rw_read(struct op *o)
{
	json_t *keys[4] = {0}, *body;
	size_t n = rw_keys(o, keys);
	bool bad = false;

	for (size_t i = 0; i < n; i++)
		bad = bad || !keys[i];
	if (bad) {
		for (size_t i = 0; i < n; i++)
			json_decref(keys[i]);
		fail_oom(o);
		return;
	}
	if (n == 1) {
		body = json_pack("{s:o, s:b}", "Key", keys[0], "ConsistentRead", 1);
		start_or_fail(o, "GetItem", body, on_rw_read);
		return;
	}
	/* several items, one consistent snapshot */
	json_t *gets = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *g = json_pack("{s:{s:s, s:o}}", "Get", "TableName", o->d->table, "Key",
				      keys[i]);
		if (!gets || !g || json_array_append_new(gets, g) != 0)
			bad = true;
	}
	if (bad) {
		json_decref(gets);
		fail_oom(o);
		return;
	}
	start_or_fail(o, "TransactGetItems", json_pack("{s:o}", "TransactItems", gets),
		      on_rw_read);
}

/* ---- the gate a write reads --------------------------------------------- */

static bool item_version(const json_t *gate, uint64_t *v)
{
	int64_t n;
	if (!aws_ddb_get_n(gate, "version", &n) || n < 0)
		return false;
	*v = (uint64_t)n;
	return true;
}

static bool item_state(const json_t *gate, enum gate_state *s)
{
	return store_state_parse(aws_ddb_get_s(gate, "state"), s) == BOT_EOK;
}

static bool item_has(const json_t *item, const char *attr)
{
	return json_object_get(item, attr) != NULL;
}

static bool approved_already(const json_t *gate, const char *user)
{
	const json_t *l = json_object_get(json_object_get(gate, "approved_by"), "L");
	for (size_t i = 0; i < json_array_size(l); i++) {
		const char *u = json_string_value(json_object_get(json_array_get(l, i), "S"));
		if (u && strcmp(u, user) == 0)
			return true;
	}
	return false;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* Add to tx what the lock needs for c->to on gate (read as `gate`), by
 * o->lock_mode. Returns the tx index of the lock item, -1 when none. */
static int lock_item(struct op *o, json_t *tx, const json_t *gate, uint64_t id,
		     enum gate_state to, int *rc)
{
	const char *cluster = aws_ddb_get_s(gate, "cluster");
	const char *svc = aws_ddb_get_s(gate, "ecs_service");
	struct ddb__ex e;
	json_t *it = NULL;
	bool into_exec = to == GATE_EXECUTING, final = store_state_final(to);

	*rc = BOT_EOK;
	if ((!into_exec && !final) || (final && o->lock_mode == LOCK_SKIP))
		return -1;
	if (!cluster || !svc) {
		*rc = BOT_ECORRUPT;
		return -1;
	}
	ddb__ex_init(&e);
	if (into_exec && o->lock_mode == LOCK_TAKE) {
		json_t *lk = ddb_key_lock(cluster, svc);
		ddb__ex_name(&e, "pk");
		if (lk && json_object_set_new(lk, "gate_id", aws_ddb_n((int64_t)id)) == 0)
			it = ddb__tx_item(o->d->table, "Put", lk, &e, "attribute_not_exists(#pk)");
		else
			json_decref(lk);
	} else {
		ddb__ex_val(&e, ":me", aws_ddb_n((int64_t)id));
		ddb__ex_name(&e, "gate_id");
		it = ddb__tx_item(o->d->table, into_exec ? "ConditionCheck" : "Delete",
				  ddb_key_lock(cluster, svc), &e, "#gate_id = :me");
	}
	ddb__ex_free(&e);
	if (!it || json_array_append_new(tx, it) != 0) {
		*rc = BOT_ENOMEM;
		return -1;
	}
	return (int)json_array_size(tx) - 1;
}

/* ---- the chain a write appends to --------------------------------------- */

static const json_t *item_at(json_t *const items[4], int ix)
{
	return ix >= 0 ? items[ix] : NULL;
}

/* Append it to tx (stolen) as the item of role: BOT_EOK or BOT_ENOMEM. */
static int push_role(struct op *o, json_t *tx, json_t *it, enum ix_role role)
{
	int rc = ddb__push(tx, it);
	if (rc == BOT_EOK && json_array_size(tx) <= MAX_TX)
		o->roles[json_array_size(tx) - 1] = role;
	return rc;
}

/* The log chain's tail moves from old to tail (its head item). */
static int push_log_head(struct op *o, json_t *tx, const struct ddb__head *old,
			 const struct ddb__head *tail)
{
	return push_role(o, tx, ddb__log_head_item(o->d->table, old, tail), IX_NONE);
}

/* Only the gate's chain moves (an event that changes nothing else of the
 * gate): conditional on the tail as read, a retry if it moved. */
static int push_gate_tail(struct op *o, json_t *tx, uint64_t id, const struct ddb__head *old,
			  const struct ddb__head *tail)
{
	struct ddb__ex e;
	json_t *it;

	ddb__ex_init(&e);
	const char *cond = ddb__gate_head_sets(&e, old, tail);
	it = ddb__tx_item(o->d->table, "Update", ddb_key_gate(id), &e, cond);
	ddb__ex_free(&e);
	return push_role(o, tx, it, IX_NONE);
}

/* The write's gate as it failed a condition (ALL_OLD): are its deciding
 * fields still what the op expected? Then only its chain's tail (a_seq)
 * had moved. */
static bool gate_as_expected(const struct op *o, const json_t *old)
{
	uint64_t ver;
	enum gate_state st;

	if (!item_version(old, &ver) || !item_state(old, &st))
		return false;
	switch (o->kind) {
	case STORE_OP_GATE_CHANGE:
		return st == o->change.from;
	case STORE_OP_GATE_VOTE:
		return !o->vote.gate_missing && ver == o->vote.version &&
		       !(o->vote.approve_user && approved_already(old, o->vote.approve_user)) &&
		       !(o->vote.to != GATE_PENDING && st != GATE_PENDING);
	case STORE_OP_GATE_LEASE:
		return st == GATE_EXECUTING && ver == o->lease.version;
	default:
		return false;
	}
}

/* ---- open --------------------------------------------------------------- */

/* meta/gate_seq: the last gate id handed out. */
static json_t *key_gate_seq(void)
{
	return json_pack("{s:o, s:o}", "pk", aws_ddb_s("meta"), "sk", aws_ddb_s("gate_seq"));
}

/* The new gate's item with its chain's first tail. */
static json_t *new_gate_item(const struct store_gate *g, const struct ddb__head *tail)
{
	json_t *it = ddb_gate_item(g);
	if (it && (json_object_set_new(it, "a_seq", aws_ddb_n(tail->seq)) ||
		   json_object_set_new(it, "a_hash", aws_ddb_s(tail->hash)) ||
		   json_object_set_new(it, "a_ord", aws_ddb_n(tail->ord)))) {
		json_decref(it);
		it = NULL;
	}
	return it;
}

static int open_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const struct store_gate *q = &o->gate;
	struct store_gate g = {0};
	struct ddb__head old, tail;
	struct ddb__ex e;
	int64_t seq = 0;
	json_t *it;
	int rc;

	if (items[0] && !aws_ddb_get_n(items[0], "n", &seq))
		return BOT_ECORRUPT;
	o->new_id = (uint64_t)seq + 1;
	/* the request's fields only, as a new gate */
	g.id = o->new_id;
	g.version = 1;
	g.service = q->service;
	g.cluster = q->cluster;
	g.ecs_service = q->ecs_service;
	g.requester = q->requester;
	g.action = q->action ? q->action : (char *)STORE_ACTION_SCALE;
	g.params = q->params ? q->params : (char *)"{}";
	g.target = q->target;
	g.desired_at_request = q->desired_at_request;
	g.reason = q->reason ? q->reason : (char *)"";
	g.timer_ms = q->timer_ms;
	g.approvers = q->approvers;
	g.n_approvers = q->n_approvers;
	g.min_approvals = q->min_approvals;
	g.allow_self = q->allow_self;
	g.force_new_deployment = q->force_new_deployment;
	g.channel = q->channel;
	g.evidence = q->evidence ? q->evidence : (char *)"";
	g.exec_owner = q->exec_owner; /* the poster's claim, if any */
	g.exec_lease_until = q->exec_lease_until;
	g.created_at = g.updated_at = o->now;
	g.state = g.decision = GATE_PENDING;

	/* the gate's own chain starts with its request */
	o->chain = o->new_id;
	ddb__head_of_gate(NULL, o->new_id, &old);
	struct ddb__event ev = {.gate_id = o->new_id, .actor = q->requester, .kind = "requested",
			   .to = "PENDING", .detail = o->request_detail};
	if ((rc = ddb__append_events(o->d->table, tx, &old, &ev, 1, o->now, &tail)))
		return rc;

	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	it = ddb__tx_item(o->d->table, "Put", new_gate_item(&g, &tail), &e,
			  "attribute_not_exists(#pk)");
	ddb__ex_free(&e);
	/* IX_GATE: an id taken by an import: read again */
	if ((rc = push_role(o, tx, it, IX_GATE)))
		return rc;

	json_t *lk = ddb_key_lock(q->cluster, q->ecs_service);
	if (!lk || json_object_set_new(lk, "gate_id", aws_ddb_n((int64_t)o->new_id)) != 0) {
		json_decref(lk);
		return lk ? BOT_ENOMEM : BOT_EINVAL;
	}
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	it = ddb__tx_item(o->d->table, "Put", lk, &e, "attribute_not_exists(#pk)");
	ddb__ex_free(&e);
	if ((rc = push_role(o, tx, it, IX_LOCK)))
		return rc;

	ddb__ex_init(&e);
	ddb__ex_set(&e, "n", aws_ddb_n((int64_t)o->new_id));
	if (seq) {
		ddb__ex_val(&e, ":oldn", aws_ddb_n(seq));
		it = ddb__tx_item(o->d->table, "Update", key_gate_seq(), &e, "#n = :oldn");
	} else {
		ddb__ex_name(&e, "pk");
		it = ddb__tx_item(o->d->table, "Update", key_gate_seq(), &e,
				  "attribute_not_exists(#pk)");
	}
	ddb__ex_free(&e);
	return push_role(o, tx, it, IX_NONE);
}

static void open_commit(struct op *o)
{
	struct store_req *r = o->r;

	/* what opening set; the rest is the request as given */
	store_gate_clear(&r->gate);
	r->gate = o->gate;
	memset(&o->gate, 0, sizeof o->gate);
	r->gate.id = o->new_id;
	r->gate.version = 1;
	r->gate.created_at = r->gate.updated_at = o->now;
	r->gate.state = r->gate.decision = GATE_PENDING;
	r->res = STORE_DONE;
	r->holder = 0;
	finish(o, BOT_EOK);
}

/* ---- delivered ---------------------------------------------------------- */

static int delivered_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const json_t *gate = item_at(items, o->ix_gate);
	struct ddb__head old, tail;
	struct ddb__ex e;
	json_t *it;
	uint64_t v = 0;
	enum gate_state st = GATE_PENDING;
	int64_t timer_ms = 0;
	bool set_ts = false;
	int rc;

	o->armed = false;
	if (!gate && !o->want_log)
		return RW_READ_LOG; /* no such gate: its event goes to the log chain */
	if (gate) {
		if (!item_version(gate, &v) || !item_state(gate, &st))
			return BOT_ECORRUPT;
		set_ts = !item_has(gate, "message_ts");
		o->armed = st == GATE_PENDING && !item_has(gate, "deadline");
		if (o->armed)
			(void)aws_ddb_get_n(gate, "timer_ms", &timer_ms);
		ddb__head_of_gate(gate, o->id, &old);
	} else {
		ddb__head_of_log(item_at(items, o->ix_log), &old);
	}
	o->chain = old.chain;

	json_t *d = json_pack("{s:s*, s:s*, s:b}", "channel", o->channel, "ts", o->ts,
			      "timer_started", o->armed);
	char *detail = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (!detail)
		return BOT_ENOMEM;
	struct ddb__event ev = {.gate_id = o->id, .actor = "system", .kind = "delivered",
			   .detail = detail};
	rc = ddb__append_events(o->d->table, tx, &old, &ev, 1, o->now, &tail);
	free(detail);
	if (rc)
		return rc;

	ddb__ex_init(&e);
	if (!gate) {
		ddb__ex_name(&e, "pk");
		it = ddb__tx_item(o->d->table, "ConditionCheck", ddb_key_gate(o->id), &e,
				  "attribute_not_exists(#pk)");
	} else {
		char cond[160];
		ddb__ex_val(&e, ":cv", aws_ddb_n((int64_t)v));
		ddb__ex_name(&e, "version");
		if (set_ts || o->armed) {
			ddb__ex_set(&e, "version", aws_ddb_n((int64_t)(v + set_ts + o->armed)));
			ddb__ex_set(&e, "updated_at", aws_ddb_n(o->now));
			if (set_ts) {
				ddb__ex_set_s(&e, "channel", o->channel);
				ddb__ex_set_s(&e, "message_ts", o->ts);
			}
			if (o->armed) {
				ddb__ex_set(&e, "delivered_at", aws_ddb_n(o->now));
				ddb__ex_set(&e, "deadline", aws_ddb_n(o->now + timer_ms));
			}
		}
		snprintf(cond, sizeof cond, "#version = :cv AND %s",
			 ddb__gate_head_sets(&e, &old, &tail));
		it = ddb__tx_item(o->d->table, "Update", ddb_key_gate(o->id), &e, cond);
	}
	ddb__ex_free(&e);
	/* IX_NONE: the gate moved since it was read: not a loss, read it again */
	if ((rc = push_role(o, tx, it, IX_NONE)))
		return rc;
	return gate ? BOT_EOK : push_log_head(o, tx, &old, &tail);
}

/* ---- change ------------------------------------------------------------- */

static int change_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const struct store_change *c = &o->change;
	const json_t *gate = item_at(items, o->ix_gate);
	struct ddb__head old, tail;
	enum gate_state st;
	char *kind;
	int rc, li;

	if (!gate || !item_state(gate, &st) || st != c->from) {
		o->r->res = STORE_LOST; /* nothing to change: no write */
		finish(o, BOT_EOK);
		return 1;
	}
	ddb__head_of_gate(gate, c->gate_id, &old);
	o->chain = old.chain;
	kind = c->kind ? strdup(c->kind) : lower_dup(store_state_name(c->to));
	if (!kind)
		return BOT_ENOMEM;
	struct ddb__event ev = {.gate_id = c->gate_id, .actor = c->actor, .kind = kind,
			   .from = store_state_name(c->from), .to = store_state_name(c->to),
			   .detail = c->detail};
	rc = ddb__append_events(o->d->table, tx, &old, &ev, 1, o->now, &tail);
	free(kind);
	if (rc)
		return rc;
	if ((rc = push_role(o, tx, ddb__change_item(o->d->table, c, o->now, &old, &tail),
			    IX_GATE)))
		return rc;
	li = lock_item(o, tx, gate, c->gate_id, c->to, &rc);
	if (rc)
		return rc;
	if (li >= 0)
		o->roles[li] = IX_LOCK;
	return BOT_EOK;
}

/* The lock condition failed: who holds it now (0 = nobody). */
static uint64_t lock_holder_of(const json_t *old)
{
	int64_t id = 0;
	return old && aws_ddb_get_n(old, "gate_id", &id) && id > 0 ? (uint64_t)id : 0;
}

/* A lock condition of a change or vote failed: BUSY, or change mode. */
static bool lock_lost(struct op *o, uint64_t id, enum gate_state to, const json_t *old)
{
	uint64_t holder = lock_holder_of(old);

	if (to == GATE_EXECUTING) {
		if (holder && holder != id) {
			o->r->res = STORE_BUSY;
			o->r->holder = holder;
			finish(o, BOT_EOK);
			return true;
		}
		o->lock_mode = holder ? LOCK_EXPECT : LOCK_TAKE;
	} else {
		o->lock_mode = holder == id ? LOCK_EXPECT : LOCK_SKIP;
	}
	return false;
}

/* ---- vote --------------------------------------------------------------- */

static json_t *seen_item(const struct op *o, const char *id)
{
	return ddb__seen_item(id, o->now, o->d->base.retention_ms);
}

/* The condition of a (re)recording of an event id. */
static json_t *seen_put(const struct op *o, const char *id)
{
	struct ddb__ex e;
	json_t *it;

	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	ddb__ex_name(&e, "expires_at");
	ddb__ex_val(&e, ":now", aws_ddb_n(o->now));
	it = ddb__tx_item(o->d->table, "Put", seen_item(o, id), &e,
			  "attribute_not_exists(#pk) OR #expires_at < :now");
	ddb__ex_free(&e);
	return it;
}

static bool seen_live(const struct op *o, const json_t *seen)
{
	int64_t exp = 0;
	return seen && (!aws_ddb_get_n(seen, "expires_at", &exp) || exp >= o->now);
}

static void answer(struct op *o, enum store_result res)
{
	o->r->res = res;
	finish(o, BOT_EOK);
}

/* The Update of a voted gate (it exists, at the caller's version): the
 * approval and transition it carries, and its chain's move from old to
 * tail. */
static json_t *vote_gate_item(struct op *o, const struct ddb__head *old,
			      const struct ddb__head *tail)
{
	const struct store_vote *v = &o->vote;
	bool moves = v->to != GATE_PENDING;
	struct ddb__ex e;
	char cond[320];
	json_t *it;

	ddb__ex_init(&e);
	/* the caller's version, not the one read: the write stands on its own
	 * condition */
	ddb__ex_val(&e, ":cv", aws_ddb_n((int64_t)v->version));
	ddb__ex_name(&e, "version");
	if (v->approve_user) {
		ddb__ex_name(&e, "approved_by");
		ddb__ex_val(&e, ":voter", aws_ddb_s(v->approve_user));
	}
	if (moves) {
		struct store_change c = {
			.gate_id = v->gate_id, .from = GATE_PENDING, .to = v->to,
			.decided_by = v->decided_by, .decision_detail = v->decision_detail,
		};
		ddb__change_sets(&e, &c, o->now);
		ddb__ex_val(&e, ":pending", aws_ddb_s("PENDING"));
	}
	if (v->approve_user) {
		ddb__ex_val(&e, ":none", json_pack("{s:[]}", "L"));
		ddb__ex_val(&e, ":mine", json_pack("{s:[o]}", "L", aws_ddb_s(v->approve_user)));
		ddb__ex_append(&e, "%s#approved_by = list_append(if_not_exists(#approved_by, "
			       ":none), :mine)", e.len ? ", " : "");
	}
	if (moves || v->approve_user) {
		ddb__ex_set(&e, "version", aws_ddb_n((int64_t)v->version + 1));
		if (!moves)
			ddb__ex_set(&e, "updated_at", aws_ddb_n(o->now));
	}
	/* a vote that neither counts nor moves still appends to the chain:
	 * the version stays, the tail moves */
	snprintf(cond, sizeof cond, "#version = :cv%s%s AND %s",
		 v->approve_user ? " AND NOT contains(#approved_by, :voter)" : "",
		 moves ? " AND #state = :pending" : "", ddb__gate_head_sets(&e, old, tail));
	it = ddb__tx_item(o->d->table, "Update", ddb_key_gate(v->gate_id), &e, cond);
	ddb__ex_free(&e);
	return it;
}

static int vote_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const struct store_vote *v = &o->vote;
	const json_t *gate = item_at(items, o->ix_gate);
	const json_t *seen = item_at(items, o->ix_seen);
	bool moves = v->to != GATE_PENDING, in_gate = v->gate_id && !v->gate_missing;
	enum gate_state st = GATE_PENDING;
	uint64_t ver = 0;
	struct ddb__head old, tail;
	struct ddb__ex e;
	json_t *it;
	char *kind = NULL;
	int rc, li;

	/* what the read already answers (a valid answer as of the read) */
	if (seen_live(o, seen)) {
		answer(o, STORE_DUPLICATE);
		return 1;
	}
	if (in_gate) {
		if (!gate) {
			answer(o, STORE_LOST);
			return 1;
		}
		if (!item_version(gate, &ver) || !item_state(gate, &st))
			return BOT_ECORRUPT;
		if (ver != v->version ||
		    (v->approve_user && approved_already(gate, v->approve_user)) ||
		    (moves && st != GATE_PENDING)) {
			answer(o, STORE_LOST);
			return 1;
		}
		ddb__head_of_gate(gate, v->gate_id, &old);
	} else if (v->gate_id && gate) {
		answer(o, STORE_LOST); /* it was said to be missing */
		return 1;
	} else {
		ddb__head_of_log(item_at(items, o->ix_log), &old);
	}
	o->chain = old.chain;

	struct ddb__event ev[2] = {
		{.gate_id = v->gate_id, .actor = v->actor, .kind = v->kind, .detail = v->detail},
	};
	if (moves) {
		kind = lower_dup(store_state_name(v->to));
		if (!kind)
			return BOT_ENOMEM;
		ev[1] = (struct ddb__event){.gate_id = v->gate_id, .actor = v->actor, .kind = kind,
				       .from = "PENDING", .to = store_state_name(v->to),
				       .detail = v->change_detail};
	}
	rc = ddb__append_events(o->d->table, tx, &old, ev, moves ? 2 : 1, o->now, &tail);
	free(kind);
	if (rc)
		return rc;

	if (v->event_id && (rc = push_role(o, tx, seen_put(o, v->event_id), IX_SEEN)))
		return rc;
	if (in_gate) {
		if ((rc = push_role(o, tx, vote_gate_item(o, &old, &tail), IX_GATE)))
			return rc;
		if (moves) {
			li = lock_item(o, tx, gate, v->gate_id, v->to, &rc);
			if (rc)
				return rc;
			if (li >= 0)
				o->roles[li] = IX_LOCK;
		}
		return BOT_EOK;
	}
	if (v->gate_id) { /* said to be missing: it must still be */
		ddb__ex_init(&e);
		ddb__ex_name(&e, "pk");
		it = ddb__tx_item(o->d->table, "ConditionCheck", ddb_key_gate(v->gate_id), &e,
				  "attribute_not_exists(#pk)");
		ddb__ex_free(&e);
		if ((rc = push_role(o, tx, it, IX_GATE)))
			return rc;
	}
	return push_log_head(o, tx, &old, &tail);
}

/* ---- lease and audit_add ------------------------------------------------ */

static int lease_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const struct store_lease *l = &o->lease;
	const json_t *gate = item_at(items, o->ix_gate);
	struct ddb__head old, tail;
	enum gate_state st;
	struct ddb__ex e;
	uint64_t ver;
	char cond[160];
	json_t *it;
	int rc;

	if (!gate) {
		answer(o, STORE_LOST);
		return 1;
	}
	if (!item_version(gate, &ver) || !item_state(gate, &st))
		return BOT_ECORRUPT;
	if ((st != GATE_EXECUTING && st != GATE_PENDING) || ver != l->version) {
		answer(o, STORE_LOST);
		return 1;
	}
	ddb__head_of_gate(gate, l->gate_id, &old);
	o->chain = old.chain;
	struct ddb__event ev = {.gate_id = l->gate_id, .actor = l->owner, .kind = l->kind,
			   .detail = l->detail};
	if ((rc = ddb__append_events(o->d->table, tx, &old, &ev, 1, o->now, &tail)))
		return rc;
	ddb__ex_init(&e);
	ddb__ex_set_s(&e, "exec_owner", l->owner);
	ddb__ex_set(&e, "exec_lease_until", aws_ddb_n(o->now + (int64_t)l->lease_ms));
	ddb__ex_set(&e, "updated_at", aws_ddb_n(o->now));
	ddb__ex_set(&e, "version", aws_ddb_n((int64_t)l->version + 1));
	ddb__ex_name(&e, "state");
	ddb__ex_val(&e, ":cv", aws_ddb_n((int64_t)l->version));
	ddb__ex_val(&e, ":executing", aws_ddb_s("EXECUTING"));
	ddb__ex_val(&e, ":pending", aws_ddb_s("PENDING"));
	snprintf(cond, sizeof cond, "(#state = :executing OR #state = :pending) AND #version = :cv"
		 " AND %s", ddb__gate_head_sets(&e, &old, &tail));
	it = ddb__tx_item(o->d->table, "Update", ddb_key_gate(l->gate_id), &e, cond);
	ddb__ex_free(&e);
	return push_role(o, tx, it, IX_GATE);
}

static int audit_add_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	const json_t *gate = item_at(items, o->ix_gate);
	struct ddb__head old, tail;
	struct ddb__event ev = {.gate_id = o->id, .actor = o->actor ? o->actor : "system",
			   .kind = o->akind, .detail = o->detail};
	int rc;

	if (o->id && !gate && !o->want_log)
		return RW_READ_LOG; /* no such gate: the log chain */
	if (gate)
		ddb__head_of_gate(gate, o->id, &old);
	else
		ddb__head_of_log(item_at(items, o->ix_log), &old);
	o->chain = old.chain;
	if ((rc = ddb__append_events(o->d->table, tx, &old, &ev, 1, o->now, &tail)))
		return rc;
	return gate ? push_gate_tail(o, tx, o->id, &old, &tail) : push_log_head(o, tx, &old, &tail);
}

/* ---- the writing ops' table --------------------------------------------- */

/* What a writing op reads: the gate it writes (o->ix_gate), the log
 * chain's head when its event goes there (o->ix_log), the event id
 * (o->ix_seen); -1 = not read. */
static size_t rw_keys(struct op *o, json_t *keys[4])
{
	uint64_t gate = 0;
	bool log = o->want_log, seen = false;
	size_t n = 0;

	o->ix_gate = o->ix_log = o->ix_seen = -1;
	switch (o->kind) {
	case STORE_OP_GATE_OPEN:
		keys[n++] = key_gate_seq();
		return n;
	case STORE_OP_GATE_DELIVERED:
		gate = o->id;
		break;
	case STORE_OP_GATE_CHANGE:
		gate = o->change.gate_id;
		break;
	case STORE_OP_GATE_LEASE:
		gate = o->lease.gate_id;
		break;
	case STORE_OP_GATE_VOTE:
		gate = o->vote.gate_id;
		log = log || !gate || o->vote.gate_missing;
		seen = o->vote.event_id != NULL;
		break;
	default: /* audit_add */
		gate = o->id;
		log = log || !gate;
		break;
	}
	if (gate) {
		o->ix_gate = (int)n;
		keys[n++] = ddb_key_gate(gate);
	}
	if (log) {
		o->ix_log = (int)n;
		keys[n++] = ddb_key_audit_head();
	}
	if (seen) {
		o->ix_seen = (int)n;
		keys[n++] = ddb_key_seen(o->vote.event_id);
	}
	return n;
}

static int rw_decide(struct op *o, json_t *const items[4], json_t *tx)
{
	switch (o->kind) {
	case STORE_OP_GATE_OPEN:
		return open_decide(o, items, tx);
	case STORE_OP_GATE_DELIVERED:
		return delivered_decide(o, items, tx);
	case STORE_OP_GATE_CHANGE:
		return change_decide(o, items, tx);
	case STORE_OP_GATE_VOTE:
		return vote_decide(o, items, tx);
	case STORE_OP_GATE_LEASE:
		return lease_decide(o, items, tx);
	default:
		return audit_add_decide(o, items, tx);
	}
}

static void rw_commit(struct op *o)
{
	switch (o->kind) {
	case STORE_OP_GATE_OPEN:
		open_commit(o);
		return;
	case STORE_OP_GATE_DELIVERED:
		o->r->flag = o->armed;
		finish(o, BOT_EOK);
		return;
	case STORE_OP_GATE_CHANGE:
	case STORE_OP_GATE_VOTE:
	case STORE_OP_GATE_LEASE:
		answer(o, STORE_DONE);
		return;
	default:
		finish(o, BOT_EOK);
		return;
	}
}

static bool rw_lost(struct op *o, enum ix_role role, const json_t *old)
{
	switch (role) {
	case IX_SEEN:
		answer(o, STORE_DUPLICATE);
		return true;
	case IX_LOCK:
		if (o->kind == STORE_OP_GATE_OPEN) {
			uint64_t holder = lock_holder_of(old);
			if (!holder)
				return false; /* released meanwhile: try again */
			o->r->res = STORE_BUSY;
			o->r->holder = holder;
			finish(o, BOT_EOK);
			return true;
		}
		if (o->kind == STORE_OP_GATE_CHANGE)
			return lock_lost(o, o->change.gate_id, o->change.to, old);
		return lock_lost(o, o->vote.gate_id, o->vote.to, old);
	case IX_GATE:
		if (o->kind == STORE_OP_GATE_OPEN)
			return false; /* the id was taken: read the counter again */
		/* The gate's deciding condition (version/state) and its chain's
		 * tail (a_seq) are on one item. Its image as it failed tells
		 * which: still as expected, only the tail moved: read again and
		 * retry. Without an image, read again: the decision then
		 * answers LOST if the gate moved. */
		if (!old || gate_as_expected(o, old))
			return false;
		answer(o, STORE_LOST);
		return true;
	case IX_NONE:
		break;
	}
	return false;
}

/* ---- one-request ops ---------------------------------------------------- */

static void on_get(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;
	const json_t *item;
	int rc;

	if (!reply_usable(o, res, false))
		return;
	item = json_object_get(res->body, "Item");
	if (o->kind == STORE_OP_SERVICE_HOLDER) {
		o->r->holder = lock_holder_of(item);
		finish(o, BOT_EOK);
		return;
	}
	if (!item) {
		fail(o, BOT_ENOTFOUND, "no gate #%" PRIu64, o->id);
		return;
	}
	store_gate_clear(&o->r->gate);
	rc = ddb_gate_from_item(item, &o->r->gate, &o->r->err);
	finish(o, rc);
}

static void start_get(struct op *o)
{
	json_t *key = o->kind == STORE_OP_SERVICE_HOLDER ? ddb_key_lock(o->cluster, o->ecs_service)
							 : ddb_key_gate(o->id);
	if (!key) {
		fail(o, BOT_EINVAL, "store: %s: a service name too long for a key", op_name(o));
		return;
	}
	start_or_fail(o, "GetItem", json_pack("{s:o, s:b}", "Key", key, "ConsistentRead", 1),
		      on_get);
}

static void on_seen(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;

	if (!reply_usable(o, res, true))
		return;
	o->r->flag = res->outcome == AWS_DDB_CONDITION_FAILED;
	finish(o, BOT_EOK);
}

static void start_seen(struct op *o)
{
	struct ddb__ex e;
	json_t *body, *item;

	o->now = store_now(&o->d->base);
	item = seen_item(o, o->event_id);
	if (!item) {
		fail(o, BOT_EINVAL, "store: %s: an event id too long for a key", op_name(o));
		return;
	}
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	ddb__ex_name(&e, "expires_at");
	ddb__ex_val(&e, ":now", aws_ddb_n(o->now));
	body = json_pack("{s:o}", "Item", item);
	if (body)
		ddb__ex_into(&e, body, "attribute_not_exists(#pk) OR #expires_at < :now");
	if (e.bad) {
		json_decref(body);
		body = NULL;
	}
	ddb__ex_free(&e);
	start_or_fail(o, "PutItem", body, on_seen);
}

/* ---- alarm records ------------------------------------------------------ */

/* The record an item holds (r->alarm; version 0 when there is none). */
static int alarm_from_item(struct op *o, const json_t *item)
{
	struct store_alarm *a = &o->r->alarm;
	const char *body = aws_ddb_get_s(item, "body");
	int64_t v = 0, at = 0;

	store_alarm_clear(a);
	if (item && (!aws_ddb_get_n(item, "version", &v) || v <= 0 || !body ||
		     !aws_ddb_get_n(item, "updated_at", &at)))
		return bot_error_set(&o->r->err, BOT_ECORRUPT, "store: %s: the alarm record of "
				     "%s is malformed", op_name(o), o->key);
	a->key = strdup(o->key);
	if (item) {
		a->version = (uint64_t)v;
		a->body = strdup(body);
		a->updated_at = at;
	}
	if (!a->key || (item && !a->body)) {
		store_alarm_clear(a);
		return bot_error_set(&o->r->err, BOT_ENOMEM, "store: out of memory");
	}
	return BOT_EOK;
}

static void on_alarm_get(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;

	if (!reply_usable(o, res, false))
		return;
	finish(o, alarm_from_item(o, json_object_get(res->body, "Item")));
}

static void start_alarm_get(struct op *o)
{
	json_t *key = ddb_key_alarm(o->key);

	if (!key) {
		fail(o, BOT_EINVAL, "store: %s: an alarm key too long", op_name(o));
		return;
	}
	start_or_fail(o, "GetItem", json_pack("{s:o, s:b}", "Key", key, "ConsistentRead", 1),
		      on_alarm_get);
}

static void on_alarm_put(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;
	struct store_alarm *a = &o->r->alarm;

	if (!reply_usable(o, res, true))
		return;
	if (res->outcome != AWS_DDB_OK) { /* the version was not the one read */
		o->r->res = STORE_LOST;
		finish(o, BOT_EOK);
		return;
	}
	store_alarm_clear(a);
	a->key = strdup(o->key);
	a->version = o->version + 1;
	a->updated_at = o->now;
	o->r->res = STORE_DONE;
	/* written: only the answer's copy of the key can be missing */
	finish(o, a->key ? BOT_EOK : BOT_ENOMEM);
}

/* The item of key's record at version (NULL: OOM or a key too long). */
static json_t *alarm_item(const char *key, uint64_t version, const char *body, int64_t at)
{
	json_t *item = ddb_key_alarm(key);

	if (item && (json_object_set_new(item, "alarm_key", aws_ddb_s(key)) ||
		     json_object_set_new(item, "version", aws_ddb_n((int64_t)version)) ||
		     json_object_set_new(item, "body", aws_ddb_s(body)) ||
		     json_object_set_new(item, "updated_at", aws_ddb_n(at)))) {
		json_decref(item);
		item = NULL;
	}
	return item;
}

/* One PutItem conditional on the version read: attribute_not_exists for
 * none (0), else version = :v. DynamoDB applies it whole or not at all.
 * A PutItem carries no ClientRequestToken: when the aws client retries one
 * whose answer was lost (a 5xx after it landed), the retry finds its own
 * write and answers STORE_LOST; the caller reads again and sees it, as
 * store.h asks of every loser. */
static void start_alarm_put(struct op *o)
{
	struct ddb__ex e;
	json_t *item, *body = NULL;

	o->now = store_now(&o->d->base);
	if (o->version >= (uint64_t)INT64_MAX) { /* no stored version is that high */
		o->r->res = STORE_LOST;
		finish(o, BOT_EOK);
		return;
	}
	item = alarm_item(o->key, o->version + 1, o->body, o->now);
	if (!item) { /* the interface checked the key's length */
		fail_oom(o);
		return;
	}
	ddb__ex_init(&e);
	body = json_pack("{s:o}", "Item", item);
	if (o->version == 0) {
		ddb__ex_name(&e, "pk");
		if (body)
			ddb__ex_into(&e, body, "attribute_not_exists(#pk)");
	} else {
		ddb__ex_name(&e, "version");
		ddb__ex_val(&e, ":v", aws_ddb_n((int64_t)o->version));
		if (body)
			ddb__ex_into(&e, body, "#version = :v");
	}
	if (e.bad) {
		json_decref(body);
		body = NULL;
	}
	ddb__ex_free(&e);
	start_or_fail(o, "PutItem", body, on_alarm_put);
}

/* ---- pages -------------------------------------------------------------- */

static void next_page(struct op *o);

static int gate_cmp(const void *a, const void *b)
{
	const struct store_gate *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int take_gate(struct op *o, const json_t *item)
{
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 16;
		struct store_gate *nv = realloc(o->gates, nc * sizeof *nv);
		if (!nv)
			return bot_error_set(&o->r->err, BOT_ENOMEM, "store: out of memory");
		o->gates = nv;
		o->cap = nc;
	}
	memset(&o->gates[o->n], 0, sizeof *o->gates);
	int rc = ddb_gate_from_item(item, &o->gates[o->n], &o->r->err);
	if (rc == BOT_EOK)
		o->n++;
	return rc;
}

static int audit_row(struct op *o, const json_t *it)
{
	int64_t gid = 0, chain = 0;
	struct store_audit_row r = {0};

	if (!aws_ddb_get_n(it, "seq", &r.seq) || !aws_ddb_get_n(it, "at", &r.at))
		return bot_error_set(&o->r->err, BOT_ECORRUPT, "store: a malformed audit item");
	if (aws_ddb_get_n(it, "gate_id", &gid))
		r.gate_id = (uint64_t)gid;
	if (aws_ddb_get_n(it, "chain", &chain) && chain > 0)
		r.chain = (uint64_t)chain;
	r.actor = aws_ddb_get_s(it, "actor");
	r.kind = aws_ddb_get_s(it, "kind");
	r.from_state = aws_ddb_get_s(it, "from_state");
	r.to_state = aws_ddb_get_s(it, "to_state");
	r.detail = aws_ddb_get_s(it, "detail");
	r.prev_hash = aws_ddb_get_s(it, "prev_hash");
	r.hash = aws_ddb_get_s(it, "hash");
	if (!r.actor || !r.kind || !r.detail || !r.prev_hash || !r.hash)
		return bot_error_set(&o->r->err, BOT_ECORRUPT,
				     "store: audit event %" PRId64 " is malformed", r.seq);
	return o->row_fn(o->row_ud, &r);
}

/* Take one page's items; *stop when the op has what it needs. */
static int take_page(struct op *o, const json_t *items, bool *stop)
{
	int rc = BOT_EOK;
	size_t i;

	*stop = false;
	for (i = 0; rc == BOT_EOK && i < json_array_size(items); i++) {
		const json_t *it = json_array_get(items, i);
		switch (o->kind) {
		case STORE_OP_GATE_LIST:
			rc = take_gate(o, it);
			break;
		case STORE_OP_GATE_RECENT:
			rc = take_gate(o, it);
			if (rc == BOT_EOK && o->n >= o->limit)
				*stop = true;
			break;
		case STORE_OP_GATE_COUNTS: {
			enum gate_state s;
			if (store_state_parse(aws_ddb_get_s(it, "gstate"), &s) == BOT_EOK)
				o->r->counts[s]++;
			break;
		}
		case STORE_OP_AUDIT_EACH:
			rc = audit_row(o, it);
			break;
		case STORE_OP_PURGE_EVENTS:
			if (!o->victims && !(o->victims = json_array()))
				rc = BOT_ENOMEM;
			else if (json_array_append_new(o->victims,
						       json_pack("{s:O, s:O}", "pk",
								 json_object_get(it, "pk"), "sk",
								 json_object_get(it, "sk"))))
				rc = BOT_ENOMEM;
			break;
		default:
			break;
		}
		if (*stop)
			break;
	}
	return rc;
}

static void purge_next(struct op *o);

static void on_page(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;
	const json_t *lek;
	bool stop = false;
	int rc;

	if (!reply_usable(o, res, false))
		return;
	rc = take_page(o, json_object_get(res->body, "Items"), &stop);
	if (rc) {
		finish(o, rc); /* audit_each: the walker's own code */
		return;
	}
	lek = json_object_get(res->body, "LastEvaluatedKey");
	json_decref(o->start_key);
	o->start_key = stop || !lek ? NULL : json_incref((json_t *)lek);
	if (o->start_key) {
		next_page(o);
		return;
	}
	if (o->kind == STORE_OP_GATE_LIST) {
		/* the next state of the mask */
		for (o->state_i++; o->state_i < GATE_STATE_COUNT; o->state_i++)
			if (o->mask & GATE_STATE_BIT(o->state_i))
				break;
		if (o->state_i < GATE_STATE_COUNT) {
			next_page(o);
			return;
		}
		if (o->n)
			qsort(o->gates, o->n, sizeof *o->gates, gate_cmp);
	}
	if (o->kind == STORE_OP_PURGE_EVENTS) {
		purge_next(o);
		return;
	}
	finish(o, BOT_EOK);
}

static void next_page(struct op *o)
{
	struct ddb__ex e;
	json_t *body = json_object();
	const char *api = "Query";

	ddb__ex_init(&e);
	switch (o->kind) {
	case STORE_OP_GATE_LIST:
		ddb__ex_name(&e, "gstate");
		ddb__ex_val(&e, ":s", aws_ddb_s(store_state_name((enum gate_state)o->state_i)));
		json_object_set_new(body, "IndexName", json_string(DDB_INDEX_BY_STATE));
		json_object_set_new(body, "KeyConditionExpression", json_string("#gstate = :s"));
		break;
	case STORE_OP_GATE_RECENT:
	case STORE_OP_GATE_COUNTS:
		ddb__ex_name(&e, "gkind");
		ddb__ex_val(&e, ":k", aws_ddb_s("gate"));
		json_object_set_new(body, "IndexName", json_string(DDB_INDEX_BY_KIND));
		json_object_set_new(body, "KeyConditionExpression", json_string("#gkind = :k"));
		if (o->kind == STORE_OP_GATE_RECENT) {
			json_object_set_new(body, "ScanIndexForward", json_false());
			json_object_set_new(body, "Limit",
					    json_integer((json_int_t)(o->limit - o->n)));
		} else {
			ddb__ex_name(&e, "gstate");
			json_object_set_new(body, "ProjectionExpression", json_string("#gstate"));
		}
		break;
	case STORE_OP_AUDIT_EACH:
		ddb__ex_name(&e, "pk");
		ddb__ex_name(&e, "sk");
		ddb__ex_val(&e, ":a", aws_ddb_s("audit"));
		/* sk order: every chain in seq order, chains by ord; ord >= at,
		 * so the rows at or after since are all at or past e#<since> */
		{
			char lo[24];
			int64_t from = o->since < 0 ? 0 : o->since;
			snprintf(lo, sizeof lo, "e#%013" PRId64,
				 from > DDB_AUDIT_ORD_MAX ? DDB_AUDIT_ORD_MAX : from);
			ddb__ex_val(&e, ":lo", aws_ddb_s(lo));
		}
		ddb__ex_val(&e, ":hi", aws_ddb_s("e#~"));
		json_object_set_new(body, "KeyConditionExpression",
				    json_string("#pk = :a AND #sk BETWEEN :lo AND :hi"));
		json_object_set_new(body, "ConsistentRead", json_true());
		if (o->since > 0) {
			ddb__ex_name(&e, "at");
			ddb__ex_val(&e, ":since", aws_ddb_n(o->since));
			json_object_set_new(body, "FilterExpression", json_string("#at >= :since"));
		}
		break;
	default: /* purge: the processed ids recorded before the cutoff */
		api = "Scan";
		ddb__ex_name(&e, "pk");
		ddb__ex_name(&e, "sk");
		ddb__ex_name(&e, "at");
		ddb__ex_val(&e, ":p", aws_ddb_s("seen#"));
		ddb__ex_val(&e, ":cut", aws_ddb_n(o->older_than));
		json_object_set_new(body, "FilterExpression",
				    json_string("begins_with(#pk, :p) AND #at < :cut"));
		json_object_set_new(body, "ProjectionExpression", json_string("#pk, #sk"));
		json_object_set_new(body, "ConsistentRead", json_true());
		break;
	}
	if (o->start_key)
		json_object_set(body, "ExclusiveStartKey", o->start_key);
	if (body)
		ddb__ex_into(&e, body, NULL);
	if (e.bad) {
		json_decref(body);
		body = NULL;
	}
	ddb__ex_free(&e);
	start_or_fail(o, api, body, on_page);
}

static void on_purged(void *ud, const struct aws_ddb_result *res)
{
	struct op *o = ud;

	if (!reply_usable(o, res, true))
		return;
	if (res->outcome == AWS_DDB_OK)
		o->count++; /* else: recorded again since the scan, kept */
	purge_next(o);
}

/* Delete the next victim, still conditional on its age. */
static void purge_next(struct op *o)
{
	struct ddb__ex e;
	json_t *body;

	if (o->victim_i >= json_array_size(o->victims)) {
		finish(o, BOT_EOK);
		return;
	}
	ddb__ex_init(&e);
	ddb__ex_name(&e, "at");
	ddb__ex_val(&e, ":cut", aws_ddb_n(o->older_than));
	body = json_pack("{s:O}", "Key", json_array_get(o->victims, o->victim_i++));
	if (body)
		ddb__ex_into(&e, body, "#at < :cut");
	if (e.bad) {
		json_decref(body);
		body = NULL;
	}
	ddb__ex_free(&e);
	start_or_fail(o, "DeleteItem", body, on_purged);
}

/* ---- submit ------------------------------------------------------------- */

static int copy_args(struct op *o, const struct store_args *a)
{
	bool oom = false;
#define K(dst, src) do { (dst) = keep(o, src); if ((src) && !(dst)) oom = true; } while (0)
	o->id = a->id;
	o->mask = a->mask;
	o->limit = a->limit;
	o->older_than = a->older_than;
	o->since = a->since;
	o->row_fn = a->row_fn;
	o->row_ud = a->row_ud;
	K(o->cluster, a->cluster);
	K(o->ecs_service, a->ecs_service);
	K(o->channel, a->channel);
	K(o->ts, a->ts);
	K(o->event_id, a->event_id);
	K(o->actor, a->actor);
	K(o->akind, a->kind);
	K(o->detail, a->detail);
	K(o->key, a->key);
	K(o->body, a->body);
	o->version = a->version;
	if (a->gate) {
		if (store_gate_copy(&o->gate, a->gate) != BOT_EOK)
			return BOT_ENOMEM;
		if (!(o->request_detail = store__request_detail(&o->gate)))
			return BOT_ENOMEM;
	}
	if (a->change) {
		const struct store_change *c = a->change;
		o->change = *c;
		K(o->change.actor, c->actor);
		K(o->change.kind, c->kind);
		K(o->change.detail, c->detail);
		K(o->change.decided_by, c->decided_by);
		K(o->change.decision_detail, c->decision_detail);
		K(o->change.exec_intent, c->exec_intent);
		K(o->change.owner, c->owner);
		K(o->change.result_kind, c->result_kind);
		K(o->change.result_detail, c->result_detail);
		K(o->change.aws_code, c->aws_code);
		K(o->change.aws_request_id, c->aws_request_id);
	}
	if (a->vote) {
		const struct store_vote *v = a->vote;
		o->vote = *v;
		K(o->vote.event_id, v->event_id && v->event_id[0] ? v->event_id : NULL);
		K(o->vote.actor, v->actor);
		K(o->vote.kind, v->kind);
		K(o->vote.detail, v->detail);
		K(o->vote.approve_user, v->approve_user);
		K(o->vote.decided_by, v->decided_by);
		K(o->vote.decision_detail, v->decision_detail);
		K(o->vote.change_detail, v->change_detail);
	}
	if (a->lease) {
		const struct store_lease *l = a->lease;
		o->lease = *l;
		K(o->lease.owner, l->owner);
		K(o->lease.kind, l->kind);
		K(o->lease.detail, l->detail);
	}
#undef K
	return oom ? BOT_ENOMEM : BOT_EOK;
}

/* What open needs of a request (cluster and ecs_service are checked by
 * the interface): names, and a lock key DynamoDB accepts. */
static bool gate_request_ok(const struct store_gate *g)
{
	json_t *k = g->service && g->requester ? ddb_key_lock(g->cluster, g->ecs_service) : NULL;
	bool ok = k != NULL;
	json_decref(k);
	return ok;
}

static int ddb_submit(struct store *b, const struct store_args *a, struct store_req *r)
{
	struct ddb *d = DDB(b);
	struct op *o = calloc(1, sizeof *o);
	int rc;

	if (!o)
		return bot_error_set(&r->err, BOT_ENOMEM, "store: out of memory");
	o->d = d;
	o->r = r;
	o->kind = a->op;
	rc = copy_args(o, a);
	if (rc) {
		op_free_mem(o);
		return bot_error_set(&r->err, rc, "store: out of memory");
	}
	if (a->op == STORE_OP_GATE_OPEN && !gate_request_ok(&o->gate)) {
		op_free_mem(o);
		return bot_error_set(&r->err, BOT_EINVAL, "store: a gate needs service, cluster, "
				     "ecs_service and requester (short enough for a key)");
	}
	/* in flight from here: close cancels it */
	o->next = d->ops;
	if (d->ops)
		d->ops->prev = o;
	d->ops = o;
	switch (a->op) {
	case STORE_OP_GATE_GET:
	case STORE_OP_SERVICE_HOLDER:
		start_get(o);
		break;
	case STORE_OP_SEEN_EVENT:
		start_seen(o);
		break;
	case STORE_OP_ALARM_GET:
		start_alarm_get(o);
		break;
	case STORE_OP_ALARM_PUT:
		start_alarm_put(o);
		break;
	case STORE_OP_GATE_LIST:
		for (o->state_i = 0; o->state_i < GATE_STATE_COUNT; o->state_i++)
			if (o->mask & GATE_STATE_BIT(o->state_i))
				break;
		if (o->state_i < GATE_STATE_COUNT)
			next_page(o);
		else
			finish(o, BOT_EOK); /* store_finish defers the answer to a later turn */
		break;
	case STORE_OP_GATE_RECENT:
		if (!o->limit)
			finish(o, BOT_EOK);
		else
			next_page(o);
		break;
	case STORE_OP_GATE_COUNTS:
	case STORE_OP_AUDIT_EACH:
	case STORE_OP_PURGE_EVENTS:
		next_page(o);
		break;
	default:
		rw_read(o);
		break;
	}
	return BOT_EOK;
}

/* ---- the handle --------------------------------------------------------- */

/* store_stop (and close): whatever is in flight is answered now, as
 * cancelled. */
static void ddb_stop(struct store *b)
{
	struct ddb *d = DDB(b);

	while (d->ops) {
		struct op *o = d->ops;
		if (o->call)
			aws_call_cancel(o->call); /* its callback answers it */
		if (d->ops == o)
			fail(o, BOT_ECANCELLED, "store: %s: cancelled: the store stopped",
			     op_name(o));
	}
}

static void ddb_close(struct store *b)
{
	struct ddb *d = DDB(b);

	ddb_stop(b);
	free(d->table);
	free(d->where);
	free(d);
}

static const char *ddb_where(const struct store *b)
{
	return DDB(b)->where;
}

static const struct store_ops dynamodb_ops = {
	.name = "dynamodb",
	.shared = true,
	.close = ddb_close,
	.where = ddb_where,
	.submit = ddb_submit,
	.stop = ddb_stop,
};

int store_dynamodb_open(const struct store_dynamodb_opts *o, struct store **out,
			struct bot_error *err)
{
	struct ddb *d = NULL;
	int rc;

	*out = NULL;
	if (!o || !o->aws || !o->loop)
		return bot_error_set(err, BOT_EINVAL,
				     "store: DynamoDB needs an aws client and a loop");
	if (!ddb__table_name_ok(o->table))
		return bot_error_set(err, BOT_EINVAL, "store: '%s' is not a DynamoDB table name "
				     "(3 to 255 of A-Z a-z 0-9 _ . -)", o->table ? o->table : "");
	d = calloc(1, sizeof *d);
	if (!d || !(d->table = strdup(o->table)) ||
	    !(d->where = malloc(strlen(o->table) + sizeof "dynamodb:"))) {
		rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
		goto out;
	}
	sprintf(d->where, "dynamodb:%s", o->table);
	d->aws = o->aws;
	d->loop = o->loop;
	store_init(&d->base, &dynamodb_ops, o->clock, o->clock_ud, o->dedup_retention_ms);
	rc = store_attach_loop(&d->base, o->loop);
	if (rc)
		rc = bot_error_set(err, rc, "store: cannot attach to the loop: %s",
				   bot_strerror(rc));
out:
	if (rc) {
		if (d) {
			free(d->table);
			free(d->where);
			free(d);
		}
		return rc;
	}
	*out = &d->base;
	return BOT_EOK;
}

/* ---- for tools: synchronous calls --------------------------------------- */

struct wait {
	bool done;
	enum aws_ddb_outcome outcome;
	json_t *body;
	struct cloud_error err;
};

static void on_wait(void *ud, const struct aws_ddb_result *r)
{
	struct wait *w = ud;
	w->done = true;
	w->outcome = r->outcome;
	w->body = json_incref(r->body);
	if (r->err)
		w->err = *r->err;
}

/* Call api with body (stolen) and run loop until it is answered. */
static int call_wait(struct aws_client *aws, uv_loop_t *loop, const char *api, json_t *body,
		     struct wait *w, struct bot_error *err)
{
	int rc;

	memset(w, 0, sizeof *w);
	if (!body)
		return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	rc = aws_ddb_call(aws, api, body, on_wait, w, NULL);
	if (rc)
		return bot_error_set(err, rc, "store: cannot call DynamoDB %s: %s", api,
				     bot_strerror(rc));
	while (!w->done)
		uv_run(loop, UV_RUN_ONCE);
	return BOT_EOK;
}

static int wait_error(const struct wait *w, const char *api, const char *table,
		      struct bot_error *err)
{
	const struct cloud_error *e = &w->err;
	return bot_error_set(err, e->code == BOT_ECANCELLED ? BOT_ECANCELLED : BOT_ESTORE,
			     "store: DynamoDB %s on table %s failed: %s%s%s%s", api, table,
			     e->aws_code[0] ? e->aws_code : bot_strerror(e->code),
			     e->message[0] ? " (" : "", e->message, e->message[0] ? ")" : "");
}

static void on_pause(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void on_pause_closed(uv_handle_t *h)
{
	*(bool *)h->data = true;
}

/* Let ms pass on the loop (a uv timer; other work goes on meanwhile). */
static int pause_on(uv_loop_t *loop, uint64_t ms)
{
	uv_timer_t t;
	bool fired = false;

	if (uv_timer_init(loop, &t) != 0)
		return BOT_EIO;
	t.data = &fired;
	uv_timer_start(&t, on_pause, ms, 0);
	while (!fired)
		uv_run(loop, UV_RUN_ONCE);
	fired = false;
	t.data = &fired;
	uv_close((uv_handle_t *)&t, on_pause_closed);
	while (!fired) /* t lives on this stack: wait for its close */
		uv_run(loop, UV_RUN_ONCE);
	return BOT_EOK;
}

static bool index_active(const json_t *table)
{
	const json_t *gsis = json_object_get(table, "GlobalSecondaryIndexes");
	for (size_t i = 0; i < json_array_size(gsis); i++) {
		const char *st = json_string_value(
			json_object_get(json_array_get(gsis, i), "IndexStatus"));
		if (st && strcmp(st, "ACTIVE") != 0)
			return false;
	}
	return true;
}

int store_dynamodb_create_table(struct aws_client *aws, uv_loop_t *loop, const char *table,
				struct bot_error *err)
{
	struct wait w = {0};
	uint64_t start, pause = POLL_MS;
	int rc;

	if (!aws || !loop || !ddb__table_name_ok(table))
		return bot_error_set(err, BOT_EINVAL, "store: a DynamoDB table needs a client, a "
				     "loop and a valid name");
	rc = call_wait(aws, loop, "CreateTable", ddb_table_definition(table), &w, err);
	if (rc)
		goto out;
	if (w.outcome != AWS_DDB_OK && strcmp(w.err.aws_code, "ResourceInUseException") != 0) {
		rc = wait_error(&w, "CreateTable", table, err);
		goto out;
	}
	/* created or already there: wait until it (and its indexes) can be used */
	uv_update_time(loop);
	start = uv_now(loop);
	for (;;) {
		json_decref(w.body);
		rc = call_wait(aws, loop, "DescribeTable", json_pack("{s:s}", "TableName", table),
			       &w, err);
		if (rc)
			goto out;
		if (w.outcome != AWS_DDB_OK) {
			rc = wait_error(&w, "DescribeTable", table, err);
			goto out;
		}
		const json_t *t = json_object_get(w.body, "Table");
		const char *st = json_string_value(json_object_get(t, "TableStatus"));
		if (st && strcmp(st, "ACTIVE") == 0 && index_active(t))
			break;
		uv_update_time(loop);
		if (uv_now(loop) - start >= DDB_TABLE_WAIT_MS) {
			rc = bot_error_set(err, BOT_ETIMEOUT, "store: DynamoDB table %s is still %s "
					   "after %d s", table, st ? st : "?", DDB_TABLE_WAIT_MS / 1000);
			goto out;
		}
		rc = pause_on(loop, pause);
		if (rc) {
			rc = bot_error_set(err, rc, "store: cannot make a timer");
			goto out;
		}
		pause = pause * 2 > 2000 ? 2000 : pause * 2;
	}
	/* expired dedupe items go by themselves (late; the conditions compare
	 * expires_at anyway) */
	json_decref(w.body);
	rc = call_wait(aws, loop, "DescribeTimeToLive", json_pack("{s:s}", "TableName", table),
		       &w, err);
	if (rc)
		goto out;
	if (w.outcome != AWS_DDB_OK) {
		rc = wait_error(&w, "DescribeTimeToLive", table, err);
		goto out;
	}
	const json_t *ttl = json_object_get(w.body, "TimeToLiveDescription");
	const char *tst = json_string_value(json_object_get(ttl, "TimeToLiveStatus"));
	if (tst && (strcmp(tst, "ENABLED") == 0 || strcmp(tst, "ENABLING") == 0))
		goto out;
	json_decref(w.body);
	rc = call_wait(aws, loop, "UpdateTimeToLive",
		       json_pack("{s:s, s:{s:b, s:s}}", "TableName", table,
				 "TimeToLiveSpecification", "Enabled", 1, "AttributeName", "ttl"),
		       &w, err);
	if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "UpdateTimeToLive", table, err);
out:
	json_decref(w.body);
	return rc;
}

/* keys is [{AttributeName, KeyType}...]: is it (hash, range)? */
static bool keys_are(const json_t *keys, const char *hash, const char *range)
{
	bool h = false, r = false;
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const json_t *k = json_array_get(keys, i);
		const char *name = json_string_value(json_object_get(k, "AttributeName"));
		const char *type = json_string_value(json_object_get(k, "KeyType"));
		if (!name || !type)
			return false;
		if (strcmp(type, "HASH") == 0)
			h = strcmp(name, hash) == 0;
		else if (strcmp(type, "RANGE") == 0)
			r = strcmp(name, range) == 0;
	}
	return h && r && json_array_size(keys) == 2;
}

int store_dynamodb_check_table(struct aws_client *aws, uv_loop_t *loop, const char *table,
			       struct bot_error *err)
{
	static const struct {
		const char *name, *hash, *range;
	} indexes[] = {
		{DDB_INDEX_BY_STATE, "gstate", "gid"},
		{DDB_INDEX_BY_KIND, "gkind", "gid"},
	};
	struct wait w = {0};
	const json_t *t;
	const char *st;
	int rc;

	if (!aws || !loop || !ddb__table_name_ok(table))
		return bot_error_set(err, BOT_EINVAL, "store: a DynamoDB table needs a client, a "
				     "loop and a valid name");
	rc = call_wait(aws, loop, "DescribeTable", json_pack("{s:s}", "TableName", table), &w, err);
	if (rc)
		goto out;
	if (w.outcome != AWS_DDB_OK) {
		if (strcmp(w.err.aws_code, "ResourceNotFoundException") == 0)
			rc = bot_error_set(err, BOT_ENOTFOUND, "store: DynamoDB table %s does not "
					   "exist (create it first)", table);
		else
			rc = wait_error(&w, "DescribeTable", table, err);
		goto out;
	}
	t = json_object_get(w.body, "Table");
	st = json_string_value(json_object_get(t, "TableStatus"));
	if (!st || strcmp(st, "ACTIVE") != 0) {
		rc = bot_error_set(err, BOT_ESTATE, "store: DynamoDB table %s is %s, not ACTIVE",
				   table, st ? st : "in an unknown state");
		goto out;
	}
	if (!keys_are(json_object_get(t, "KeySchema"), "pk", "sk")) {
		rc = bot_error_set(err, BOT_ECONFIG, "store: DynamoDB table %s is not a gate store: "
				   "its key is not pk (HASH) + sk (RANGE)", table);
		goto out;
	}
	for (size_t k = 0; k < BOT_ARRAY_LEN(indexes); k++) {
		const json_t *gsis = json_object_get(t, "GlobalSecondaryIndexes");
		const json_t *found = NULL;
		for (size_t i = 0; i < json_array_size(gsis); i++) {
			const json_t *g = json_array_get(gsis, i);
			const char *name = json_string_value(json_object_get(g, "IndexName"));
			if (name && strcmp(name, indexes[k].name) == 0)
				found = g;
		}
		if (!found || !keys_are(json_object_get(found, "KeySchema"), indexes[k].hash,
					indexes[k].range)) {
			rc = bot_error_set(err, BOT_ECONFIG, "store: DynamoDB table %s lacks the "
					   "index %s (%s HASH + %s RANGE)", table, indexes[k].name,
					   indexes[k].hash, indexes[k].range);
			goto out;
		}
		const char *ist = json_string_value(json_object_get(found, "IndexStatus"));
		if (ist && strcmp(ist, "ACTIVE") != 0) {
			rc = bot_error_set(err, BOT_ESTATE, "store: the index %s of DynamoDB table "
					   "%s is %s, not ACTIVE", indexes[k].name, table, ist);
			goto out;
		}
	}
out:
	json_decref(w.body);
	return rc;
}

/* ---- raw import ---------------------------------------------------------- */

static struct ddb *as_ddb(struct store *s, struct bot_error *err)
{
	if (!s || s->ops != &dynamodb_ops) {
		bot_error_set(err, BOT_EINVAL, "store: not a DynamoDB store");
		return NULL;
	}
	return DDB(s);
}

int store_dynamodb_import_gate(struct store *s, const struct store_gate *g,
			       struct bot_error *err)
{
	struct ddb *d = as_ddb(s, err);
	json_t *tx, *it, *lk = NULL;
	struct wait w = {0};
	struct ddb__ex e;
	int rc;

	if (!d)
		return BOT_EINVAL;
	if (!g || !g->id || !g->cluster || !g->ecs_service)
		return bot_error_set(err, BOT_EINVAL, "store: an imported gate needs its id and "
				     "service");
	tx = json_array();
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	/* its own chain starts empty here (its history went to the log chain) */
	json_t *item = ddb_gate_item(g);
	if (item && json_object_set_new(item, "a_seq", aws_ddb_n(0)) != 0) {
		json_decref(item);
		item = NULL;
	}
	it = ddb__tx_item(d->table, "Put", item, &e, "attribute_not_exists(#pk)");
	if (!tx || ddb__push(tx, it) != BOT_EOK)
		goto oom;
	if (!store_state_final(g->state)) {
		lk = ddb_key_lock(g->cluster, g->ecs_service);
		if (!lk || json_object_set_new(lk, "gate_id", aws_ddb_n((int64_t)g->id)) != 0)
			goto oom;
		it = ddb__tx_item(d->table, "Put", lk, &e, "attribute_not_exists(#pk)");
		lk = NULL;
		if (ddb__push(tx, it) != BOT_EOK)
			goto oom;
	}
	ddb__ex_free(&e);
	rc = call_wait(d->aws, d->loop, "TransactWriteItems",
		       json_pack("{s:o, s:o}", "TransactItems", tx, "ClientRequestToken",
				 ddb__request_token()), &w, err);
	if (rc == BOT_EOK && w.outcome == AWS_DDB_TXN_CANCELLED)
		rc = bot_error_set(err, BOT_EDUPLICATE, "store: gate #%" PRIu64 " (or a live gate "
				   "of its service) is already in DynamoDB table %s", g->id,
				   d->table);
	else if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "TransactWriteItems", d->table, err);
	json_decref(w.body);
	return rc;
oom:
	ddb__ex_free(&e);
	json_decref(lk);
	json_decref(tx);
	return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
}

int store_dynamodb_import_alarm(struct store *s, const struct store_alarm *a,
				struct bot_error *err)
{
	struct ddb *d = as_ddb(s, err);
	struct wait w = {0};
	struct ddb__ex e;
	json_t *body;
	int rc;

	if (!d)
		return BOT_EINVAL;
	if (!a || !a->key || !a->key[0] || strlen(a->key) > STORE_ALARM_KEY_MAX || !a->version ||
	    a->version > (uint64_t)INT64_MAX || !a->body || a->body[0] != '{')
		return bot_error_set(err, BOT_EINVAL, "store: a malformed alarm record to import");
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	body = json_pack("{s:s, s:o*}", "TableName", d->table, "Item",
			 alarm_item(a->key, a->version, a->body, a->updated_at));
	if (body && json_object_get(body, "Item"))
		ddb__ex_into(&e, body, "attribute_not_exists(#pk)");
	if (e.bad || (body && !json_object_get(body, "Item"))) { /* OOM */
		json_decref(body);
		body = NULL;
	}
	ddb__ex_free(&e);
	rc = call_wait(d->aws, d->loop, "PutItem", body, &w, err);
	if (rc == BOT_EOK && w.outcome == AWS_DDB_CONDITION_FAILED)
		rc = bot_error_set(err, BOT_EDUPLICATE, "store: the alarm record of %s is already "
				   "in DynamoDB table %s", a->key, d->table);
	else if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "PutItem", d->table, err);
	json_decref(w.body);
	return rc;
}

int store_dynamodb_import_audit(struct store *s, const struct store_audit_row *r,
				struct bot_error *err)
{
	struct ddb *d = as_ddb(s, err);
	struct store_audit_row row;
	struct ddb__head head;
	struct wait w = {0};
	struct ddb__ex e;
	json_t *tx = NULL, *it;
	int64_t ord;
	int rc;

	if (!d)
		return BOT_EINVAL;
	if (!r || r->seq <= 0 || r->seq > DDB_AUDIT_SEQ_MAX || r->at < 0 || !r->actor ||
	    !r->kind || !r->detail || !r->prev_hash || !r->hash || strlen(r->hash) != 64)
		return bot_error_set(err, BOT_EINVAL, "store: a malformed audit row to import");
	/* the log chain's ord so far: this row's is never before it */
	rc = call_wait(d->aws, d->loop, "GetItem",
		       json_pack("{s:s, s:o, s:b}", "TableName", d->table, "Key",
				 ddb_key_audit_head(), "ConsistentRead", 1), &w, err);
	if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "GetItem", d->table, err);
	if (rc)
		goto out;
	ddb__head_of_log(json_object_get(w.body, "Item"), &head);
	json_decref(w.body);
	w.body = NULL;
	ord = r->at > head.ord ? r->at : head.ord;
	if (ord > DDB_AUDIT_ORD_MAX)
		return bot_error_set(err, BOT_EINVAL, "store: audit event %" PRId64 " is too far "
				     "in the future to import", r->seq);
	row = *r;
	row.chain = 0;
	tx = json_array();
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	it = ddb__tx_item(d->table, "Put", ddb__audit_item(&row, ord), &e,
			  "attribute_not_exists(#pk)");
	ddb__ex_free(&e);
	if (!tx || ddb__push(tx, it) != BOT_EOK)
		goto oom;
	/* the head only moves forward: a seq taken cancels the row */
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	ddb__ex_set(&e, "seq", aws_ddb_n(r->seq));
	ddb__ex_set(&e, "hash", aws_ddb_s(r->hash));
	ddb__ex_set(&e, "ord", aws_ddb_n(ord));
	it = ddb__tx_item(d->table, "Update", ddb_key_audit_head(), &e,
			  "attribute_not_exists(#pk) OR #seq < :seq");
	ddb__ex_free(&e);
	if (ddb__push(tx, it) != BOT_EOK)
		goto oom;
	rc = call_wait(d->aws, d->loop, "TransactWriteItems",
		       json_pack("{s:o, s:o}", "TransactItems", tx, "ClientRequestToken",
				 ddb__request_token()), &w, err);
	tx = NULL;
	if (rc == BOT_EOK && w.outcome == AWS_DDB_TXN_CANCELLED)
		rc = bot_error_set(err, BOT_EDUPLICATE, "store: audit event %" PRId64 " is already "
				   "in DynamoDB table %s", r->seq, d->table);
	else if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "TransactWriteItems", d->table, err);
out:
	json_decref(w.body);
	return rc;
oom:
	json_decref(tx);
	json_decref(w.body);
	return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
}

uint64_t store_dynamodb_retries(const struct store *s)
{
	return s && s->ops == &dynamodb_ops ? DDB(s)->retries : 0;
}

int store_dynamodb_import_finish(struct store *s, uint64_t gate_seq, int64_t audit_seq,
				 const char *audit_hash, struct bot_error *err)
{
	struct ddb *d = as_ddb(s, err);
	struct wait w = {0};
	struct ddb__ex e;
	json_t *tx, *it;
	int rc;

	if (!d)
		return BOT_EINVAL;
	if (audit_seq < 0 || (audit_seq > 0 && (!audit_hash || strlen(audit_hash) != 64)))
		return bot_error_set(err, BOT_EINVAL, "store: a malformed audit tail to import");
	tx = json_array();
	ddb__ex_init(&e);
	ddb__ex_name(&e, "pk");
	ddb__ex_set(&e, "n", aws_ddb_n((int64_t)gate_seq));
	it = ddb__tx_item(d->table, "Update", key_gate_seq(), &e,
			  "attribute_not_exists(#pk) OR #n <= :n");
	ddb__ex_free(&e);
	if (!tx || ddb__push(tx, it) != BOT_EOK)
		goto oom;
	if (audit_seq > 0) {
		ddb__ex_init(&e);
		ddb__ex_name(&e, "pk");
		ddb__ex_set(&e, "seq", aws_ddb_n(audit_seq));
		ddb__ex_set(&e, "hash", aws_ddb_s(audit_hash));
		it = ddb__tx_item(d->table, "Update", ddb_key_audit_head(), &e,
				  "attribute_not_exists(#pk) OR #seq <= :seq");
		ddb__ex_free(&e);
		if (ddb__push(tx, it) != BOT_EOK)
			goto oom;
	}
	rc = call_wait(d->aws, d->loop, "TransactWriteItems",
		       json_pack("{s:o, s:o}", "TransactItems", tx, "ClientRequestToken",
				 ddb__request_token()), &w, err);
	if (rc == BOT_EOK && w.outcome == AWS_DDB_TXN_CANCELLED)
		rc = bot_error_set(err, BOT_ESTATE, "store: DynamoDB table %s is ahead of the "
				   "import (its gate counter or audit chain is further)", d->table);
	else if (rc == BOT_EOK && w.outcome != AWS_DDB_OK)
		rc = wait_error(&w, "TransactWriteItems", d->table, err);
	json_decref(w.body);
	return rc;
oom:
	json_decref(tx);
	return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
}
