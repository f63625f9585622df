/* gate_vote.c - clicks and cancels on a gate (see gate_internal.h). */
#include "bot/domain/gate_internal.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

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
	enum vote_act act = vt->act;

	if (!rec)
		return v;
	bool approver = gate__has_user(rec->approvers, rec->n_approvers, user);
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
	} else if (gate__has_user(rec->approved_by, rec->n_approved, user)) {
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
	struct gate *held = op->e && v->counted ? gate__map_get(op->e, v->id) : NULL;

	if (held && held->votes > 0)
		held->votes--;

	if (rc) {
		memset(&v->out, 0, sizeof v->out);
		v->out.outcome = GATE_OUT_UNKNOWN_GATE;
		g = NULL;
	}
	if (v->done)
		v->done(v->ud, rc, &v->out, g, err);
	gate__op_end(op);
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
	struct gate_engine *e = gate__op_engine(op);
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
	g = gate__map_get(e, v->id);
	if (g)
		gate__refresh(g, r);
	else
		g = gate__adopt(e, &r->gate);
	if (!g) {
		log_error("gate.click", "gate=%" PRIu64 " error=\"out of memory after decision\"",
			  v->id);
		vote_answer(op, BOT_EOK, &r->gate, NULL);
		return;
	}
	gate__hold(g);
	fill_result(&v->out, &g->rec);
	if (to == GATE_PENDING) {
		gate__notify(e, &g->rec, GATE_EV_APPROVAL, NULL);
	} else {
		log_info("gate.state", "gate=%" PRIu64 " from=PENDING to=%s actor=%s", v->id,
			 store_state_name(to), LOG_Q(v->user));
		gate__notify(e, &g->rec, GATE_EV_DECIDED, g->rec.decision_detail);
	}
	vote_answer(op, BOT_EOK, &g->rec, NULL);
	if (to == GATE_APPROVED)
		gate__proceed(e, g);
	else if (to != GATE_PENDING)
		gate__drop(e, g);
	gate__put(g);
}

static void on_vote_written(void *ud, struct store_req *r)
{
	struct op *op = ud;
	struct gate_engine *e = gate__op_engine(op);
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
	click = gate__jdump(json_pack("{s:s, s:s*, s:s, s:i, s:i, s:s*, s:s*}", "vote", what[v->act],
				"event_id", v->event_id, "outcome", gate_outcome_name(vd.outcome),
				"approvals", v->out.approvals, "min_approvals",
				v->out.min_approvals, "channel", v->has_where ? v->channel : NULL,
				"message_ts", v->has_where ? v->message_ts : NULL));
	if (vd.to != GATE_PENDING) {
		decided_by_text(&v->rec, vd.to, v->user, by, sizeof by);
		change_d = gate__jdump(json_pack("{s:s, s:s*, s:i, s:i}", "note", by, "event_id",
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
		struct gate *held = gate__map_get(e, v->id);
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
	struct gate_engine *e = gate__op_engine(op);
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
static int decide(struct gate_engine *e, uint64_t id, const char *user, enum vote_act act,
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
	v->event_id = gate__dup_or(event_id, NULL, &oom);
	if (where) {
		v->has_where = true;
		v->channel = gate__dup_or(where->channel, NULL, &oom);
		v->message_ts = gate__dup_or(where->message_ts, NULL, &oom);
	}
	op = oom ? NULL : gate__op_new(e, id, OP_VOTE);
	if (!op) {
		gate__vote_free(v);
		return BOT_ENOMEM;
	}
	op->vote = v;
	/* A gate we hold is judged as we last read it: the vote is written at
	 * once (conditional on that version, so a stale view only costs a
	 * round), in the order the clicks came. Others are read first. */
	struct gate *g = gate__map_get(e, id);
	if (g && store_gate_copy(&v->rec, &g->rec) == BOT_EOK) {
		int rc = vote_write(e, op, false);
		if (rc)
			gate__op_end(op);
		return rc;
	}
	if (vote_round(e, op) != BOT_EOK) {
		gate__op_end(op);
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
