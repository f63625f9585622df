/* gate_sync.c - the gate engine's look at the store: recovery at start,
 * and with a shared store the replicas' periodic look (see gate_internal.h). */
#include "bot/domain/gate_internal.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sync_start(struct gate_engine *e, bool first);
static void on_sync(uv_timer_t *t);

/* ---- recovery and the replicas' sync ----------------------------------- */

/* Has the poster of a never-delivered request stopped: its claim is gone
 * (gate__claim_gone), or - a request opened before requests recorded
 * their poster - it is older than a delivery lease? Never our own. */
static bool delivery_gone(const struct gate_engine *e, const struct store_gate *r, int64_t now)
{
	if (!r->exec_owner)
		return r->created_at + (int64_t)e->delivery_lease <= now;
	return !gate__claim_mine(e, r) && gate__claim_gone(e, r, now);
}

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
			if (e->shared && !delivery_gone(e, r, now))
				break; /* its poster may still be at it */
			st->failed_closed++;
			gate__fail(e, g, "recovery", "undelivered",
			     e->shared ? "approval request delivery was never confirmed (the "
					 "process posting it stopped); nothing will happen"
				       : "approval request delivery was never confirmed before the "
					 "restart; nothing will happen", NULL);
		} else if (g->due) {
			break; /* armed here: its timer decides */
		} else if (r->deadline > now) {
			st->rearmed++;
			gate__arm(e, g);
			if (announce)
				gate__notify(e, r, GATE_EV_RECOVERED, NULL);
		} else {
			st->expired++;
			if (announce)
				gate__notify(e, r, GATE_EV_RECOVERED, NULL);
			gate__decide_by_timer(e, g, first);
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
			gate__notify(e, r, GATE_EV_RECOVERED, NULL);
		gate__proceed(e, g);
		break;
	case GATE_EXECUTING:
		if (!e->shared) {
			if (!first)
				break;
			st->reconciling++;
			gate__notify(e, r, GATE_EV_RECOVERED, NULL);
			g->reconcile_left = e->reconcile_tries;
			g->restarted = true;
			gate__reconcile(e, g, true, NULL);
		} else if (!gate__claim_mine(e, r) && gate__claim_gone(e, r, now)) {
			char *d = gate__jdump(json_pack("{s:s?, s:I}", "from", r->exec_owner,
						  "lease_until", (json_int_t)r->exec_lease_until));
			st->reconciling++;
			log_info("gate.takeover", "gate=%" PRIu64 " from=%s", r->id,
				 LOG_Q(r->exec_owner));
			gate__claim(e, g, THEN_TAKEOVER, d);
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
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return;
	gate__op_end(op);
	if (!g || g->working)
		return;
	if (r->rc == BOT_ENOTFOUND) {
		gate__drop(e, g);
	} else if (r->rc == BOT_EOK) {
		gate__refresh(g, r);
		gate__settle(e, g);
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
	struct gate_engine *e = gate__op_engine(op);
	struct gate_recover_stats st = {0};
	struct unseen u = {0};

	if (!e)
		return;
	gate__op_end(op);
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
		struct gate *g = gate__map_get(e, rec->id);

		if (store_state_final(rec->state))
			continue;
		if (!g) {
			g = gate__adopt(e, rec);
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
		gate__hold(g);
		look_after(e, g, first, &st);
		gate__put(g);
	}
	if (!first && e->shared) {
		u.pass = e->pass;
		u.before = store_now(e->store) - (int64_t)LIST_LAG_MS;
		idmap_each(&e->gates, collect_unseen, &u);
		for (size_t i = 0; i < u.n; i++) {
			struct op *c = gate__op_new(e, u.ids[i], OP_STORE);
			if (c && store_gate_get_async(e->store, u.ids[i], on_checked, c) != BOT_EOK)
				gate__op_end(c);
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
	op = gate__op_new(e, 0, OP_SYNC);
	if (!op)
		return;
	op->first = first;
	e->syncing = true;
	if (store_gate_list_async(e->store, GATE_LIVE_MASK, on_listed, op) != BOT_EOK) {
		e->syncing = false;
		gate__op_end(op);
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
