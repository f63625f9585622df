/* gate_exec.c - the gate engine's execution: re-check the service, call
 * UpdateService, reconcile an unknown outcome (see gate_internal.h). */
#include "bot/domain/gate_internal.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void call_action(struct gate_engine *e, struct gate *g);

/* ---- re-check and execution -------------------------------------------- */

static bool service_active(const struct cloud_service *svc)
{
	return !svc->status || strcmp(svc->status, "ACTIVE") == 0;
}

/* Why the approved action would be stale now, or NULL if it is not. */
static const char *staleness(const struct action *act, const struct store_gate *g,
			     const struct cloud_service *svc, char *buf, size_t n)
{
	if (!service_active(svc)) {
		snprintf(buf, n, "service %s is %s; nothing was changed", g->ecs_service,
			 svc->status);
		return buf;
	}
	return act->stale(g, svc, buf, n);
}

static void execute(struct gate_engine *e, struct gate *g, const struct action *act,
		    const struct cloud_service *svc)
{
	json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "action", "UpdateService", "kind", act->kind,
			       "cluster", g->rec.cluster, "service", g->rec.ecs_service);
	int observed = svc->desired;
	char *intent = NULL;

	if (in && act->intent(&g->rec, svc, in, &observed) == 0)
		intent = gate__jdump(in); /* takes in */
	else
		json_decref(in);
	struct store_change c = {
		.from = g->rec.state, .to = GATE_EXECUTING, .actor = "system", .kind = "executing",
		.detail = intent, .exec_intent = intent, .set_exec_from = true,
		.owner = e->owner, .lease_ms = e->exec_lease,
		.exec_from = observed,
	};

	if (!intent) {
		gate__resume_later(e, g);
		return;
	}
	gate__change(e, g, &c, THEN_EXECUTE, intent);
	free(intent);
}

/* What a committed (or lost) step leads to. */
void gate__after_change(struct gate_engine *e, struct gate *g, struct op *op)
{
	gate__hold(g);
	g->working = false;
	switch (op->then) {
	case THEN_FAIL:
		if (op->won) {
			log_warn("gate.failed", "gate=%" PRIu64 " result=%s", g->rec.id,
				 g->rec.result_kind ? g->rec.result_kind : "?");
			gate__notify(e, &g->rec, op->from == GATE_PENDING ? GATE_EV_DECIDED
								    : GATE_EV_FINISHED, op->text);
			gate__drop(e, g);
		}
		break;
	case THEN_TIMER:
		if (op->won) {
			gate__notify(e, &g->rec, GATE_EV_DECIDED, op->text);
			gate__proceed(e, g);
		}
		break;
	case THEN_EXECUTE:
		if (op->busy) {
			/* another gate of this service is live (only possible for
			 * gates opened before the store held services): wait */
			log_info("gate.waiting", "gate=%" PRIu64 " service=%s reason=\"another live "
				 "gate holds it\"", g->rec.id, LOG_Q(g->rec.ecs_service));
			gate__tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
		} else if (op->won) {
			gate__notify(e, &g->rec, GATE_EV_EXECUTING, op->text);
			call_action(e, g);
		}
		break;
	case THEN_SUCCEED:
		if (op->won) {
			gate__notify(e, &g->rec, GATE_EV_FINISHED, op->text);
			gate__drop(e, g);
		}
		break;
	case THEN_REISSUE:
		if (op->won)
			call_action(e, g);
		else if (g->rec.state == GATE_EXECUTING && gate__claim_mine(e, &g->rec))
			gate__tpush_in(e, e->reconcile_retry, g->rec.id, T_RECONCILE);
		break;
	case THEN_TAKEOVER:
		if (op->won) {
			g->restarted = true;
			g->reconcile_left = e->reconcile_tries;
			gate__notify(e, &g->rec, GATE_EV_RECOVERED, NULL);
			gate__reconcile(e, g, true, NULL);
		}
		break;
	case THEN_DELIVERY:
		/* lost: the record moved (it is read again now); try again soon */
		if (g->delivering && g->rec.state == GATE_PENDING && !g->rec.message_ts)
			gate__tpush_in(e, op->won ? e->delivery_lease / 2 : e->delivery_lease / 8,
				       g->rec.id, T_DELIVERY);
		break;
	}
	if (!op->won && !op->busy)
		gate__settle(e, g);
	gate__put(g);
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

/* A cloud call's answer for its gate: NULL when nothing is left to do
 * (the engine or the gate is gone, the gate left the state the call was
 * made in, or a stop cancelled the call); else the gate, held (put it). */
static struct gate *answered(struct op *op, struct gate_engine **ep, bool executing,
			     const struct cloud_error *ce, const char *what)
{
	struct gate_engine *e = *ep = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;

	if (!e)
		return NULL;
	gate__op_end(op);
	if (!g)
		return NULL;
	g->working = false;
	if (!(executing ? g->rec.state == GATE_EXECUTING : gate__approved_state(g->rec.state)) ||
	    stopping(g, ce, what))
		return NULL;
	gate__hold(g);
	return g;
}

static void on_recheck(void *ud, const struct cloud_error *ce, const struct cloud_service *svc)
{
	struct op *op = ud;
	struct gate_engine *e;
	struct gate *g = answered(op, &e, false, ce, "recheck");
	const struct action *act;
	char why[700], text[700];

	if (!g)
		return;
	act = action_find(g->rec.action);
	if ((ce && ce->code) || !svc) {
		if (ce && ce->code == BOT_ENOTFOUND) {
			snprintf(text, sizeof text, "service %s not found in cluster %s; nothing was "
				 "changed", g->rec.ecs_service, g->rec.cluster);
			gate__fail(e, g, "system", "stale", text, ce);
		} else {
			snprintf(text, sizeof text, "could not re-read the service before acting "
				 "(%s); nothing was changed", ce ? ce->message : "no answer");
			gate__fail(e, g, "system", "recheck_failed", text, ce);
		}
		goto out;
	}
	if (staleness(act, &g->rec, svc, why, sizeof why)) {
		gate__fail(e, g, "system", "stale", why, NULL);
		goto out;
	}
	execute(e, g, act, svc);
out:
	gate__put(g);
}

static void recheck(struct gate_engine *e, struct gate *g)
{
	struct op *op = gate__op_new(e, g->rec.id, OP_RECHECK);
	int rc;

	if (!op) {
		g->working = false;
		gate__resume_later(e, g);
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
	struct gate_engine *e = gate__op_engine(op);
	struct gate *g = e ? gate__map_get(e, op->id) : NULL;
	uint64_t holder = r->rc ? 0 : r->holder;

	if (!e)
		return;
	gate__op_end(op);
	if (!g)
		return;
	if (!gate__approved_state(g->rec.state)) {
		g->working = false;
		return;
	}
	if (holder && holder != g->rec.id) {
		/* only a gate opened before the store held services can be here:
		 * wait without reading AWS until the holder is final */
		log_debug("gate.waiting", "gate=%" PRIu64 " service=%s holder=%" PRIu64, g->rec.id,
			  LOG_Q(g->rec.ecs_service), holder);
		g->working = false;
		gate__tpush_in(e, SERVICE_WAIT_MS, g->rec.id, T_RESUME);
		return;
	}
	recheck(e, g);
}

/* Approved (by people or the timer): read the service again, then act. */
void gate__proceed(struct gate_engine *e, struct gate *g)
{
	struct op *op;

	if (g->working || !gate__approved_state(g->rec.state))
		return;
	if (!action_find(g->rec.action) || !action_find(g->rec.action)->available(e->cloud)) {
		char text[300];
		snprintf(text, sizeof text, "action \"%s\" %s; nothing was changed",
			 g->rec.action ? g->rec.action : "?", action_find(g->rec.action) ?
			 "is not supported by this bot's cloud backend" :
			 "is unknown to this version");
		gate__fail(e, g, "system", "unsupported", text, NULL);
		return;
	}
	op = gate__op_new(e, g->rec.id, OP_STORE);
	if (!op) {
		gate__resume_later(e, g);
		return;
	}
	g->working = true;
	if (store_service_holder_async(e->store, g->rec.cluster, g->rec.ecs_service, on_holder,
				       op) != BOT_EOK) {
		gate__op_end(op);
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
	char *detail = gate__jdump(json_pack("{s:s, s:s, s:i, s:i, s:i, s:s*, s:s}", "result", kind,
				       "action", action_find(g->rec.action)->kind, "from",
				       g->rec.exec_from, "target", g->rec.target, "desired_after",
				       after, "request_id", request_id, "detail", text));
	struct store_change c = {
		.from = GATE_EXECUTING, .to = GATE_SUCCEEDED, .actor = "system", .detail = detail,
		.result_kind = kind, .result_detail = text, .aws_request_id = request_id,
	};

	gate__change(e, g, &c, THEN_SUCCEED, text);
	free(detail);
}

static void call_failed(struct gate_engine *e, struct gate *g, const struct cloud_error *ce)
{
	char text[700];
	snprintf(text, sizeof text, "UpdateService failed: %s: %s%s%s", ce->aws_code[0] ?
		 ce->aws_code : bot_err_name(ce->code), ce->message, ce->request_id[0] ?
		 " (request id " : "", ce->request_id[0] ? ce->request_id : "");
	if (ce->request_id[0])
		strncat(text, ")", sizeof text - strlen(text) - 1);
	gate__fail(e, g, "system", "aws_error", text, ce);
}

static void on_scaled(void *ud, const struct cloud_error *ce, const struct cloud_service *after)
{
	struct op *op = ud;
	struct gate_engine *e;
	struct gate *g = answered(op, &e, true, ce, "scale");
	const struct action *act;
	char text[700];

	if (!g)
		return;
	if (ce && ce->code == BOT_EDRYRUN) {
		snprintf(text, sizeof text, "%s; nothing was changed", ce->message);
		gate__fail(e, g, "system", "dry_run", text, ce);
		goto out;
	}
	if (ce && ce->code) {
		if (ambiguous(ce)) {
			g->reconcile_left = e->reconcile_tries;
			gate__reconcile(e, g, false, ce);
		} else {
			call_failed(e, g, ce);
		}
		goto out;
	}
	act = action_find(g->rec.action);
	act->done_text(&g->rec, after, text, sizeof text);
	succeed(e, g, ce && ce->request_id[0] ? ce->request_id : NULL,
		after ? after->desired : g->rec.exec_from, text, act->result);
out:
	gate__put(g);
}

static void call_action(struct gate_engine *e, struct gate *g)
{
	const struct action *act = action_find(g->rec.action);
	struct op *op = gate__op_new(e, g->rec.id, OP_SCALE);
	int rc;

	if (!op) {
		gate__tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
		return;
	}
	g->working = true;
	log_info("gate.call", "gate=%" PRIu64 " action=%s cluster=%s service=%s desired=%d",
		 g->rec.id, act->kind, LOG_Q(g->rec.cluster), LOG_Q(g->rec.ecs_service),
		 g->rec.target);
	rc = act->execute(e->cloud, &g->rec, on_scaled, op);
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
	struct gate_engine *e;
	struct gate *g = answered(op, &e, true, ce, "reconcile");
	const struct action *act;
	enum action_landed landed;
	char text[900], seen[600];

	if (!g)
		return;
	if ((ce && ce->code) || !svc) {
		if (ce && ce->code == BOT_ENOTFOUND) {
			snprintf(text, sizeof text, "service %s disappeared while the call was "
				 "being made", g->rec.ecs_service);
			gate__fail(e, g, "system", "reconcile", text, ce);
		} else if (g->reconcile_left > 1) {
			g->reconcile_left--;
			gate__tpush_in(e, e->reconcile_retry, g->rec.id, T_RECONCILE);
		} else if (after_error) {
			call_failed(e, g, &saved);
		} else {
			char b[200];
			action_find(g->rec.action)->brief(&g->rec, b, sizeof b);
			snprintf(text, sizeof text, "could not verify whether UpdateService took "
				 "effect (%s); check %s (the request: %s)",
				 ce ? ce->message : "no answer", g->rec.ecs_service, b);
			gate__fail(e, g, "system", "unverified", text, ce);
		}
		goto out;
	}
	act = action_find(g->rec.action);
	landed = act->landed(&g->rec, svc, seen, sizeof seen);
	if (landed == ACTION_LANDED) {
		snprintf(text, sizeof text, after_error ?
			 "UpdateService answered with an error, but it took effect: %s" :
			 after_restart ? "reconciled after restart: %s; UpdateService was not called "
			 "again" : "%s", seen);
		succeed(e, g, NULL, svc->desired, text, after_restart ? "reconciled" : act->result);
	} else if (after_error) {
		call_failed(e, g, &saved);
	} else if (landed == ACTION_NOT_LANDED && after_restart &&
		   g->rec.exec_started_at + (int64_t)e->reissue_guard > store_now(e->store)) {
		/* not applied yet, but the previous run's call may still be in
		 * flight: look again once it cannot be any more */
		int64_t wait = g->rec.exec_started_at + (int64_t)e->reissue_guard -
			       store_now(e->store);
		log_info("gate.reconcile", "gate=%" PRIu64 " seen=%s effect=\"the previous run's "
			 "call may still land; looking again in %lld ms\"", g->rec.id, LOG_Q(seen),
			 (long long)wait);
		g->reconcile_left = 0;
		gate__tpush_in(e, (uint64_t)wait, g->rec.id, T_RECONCILE);
	} else if (landed == ACTION_NOT_LANDED) {
		/* intent recorded, not applied: make the call now, once the
		 * claim is ours again: of two processes reconciling the same
		 * gate only one gets to call */
		char *d = gate__jdump(json_pack("{s:s, s:s, s:i}", "note", "intent recorded before "
					  "the restart was not applied; calling UpdateService",
					  "seen", seen, "observed", svc->desired));
		gate__claim(e, g, THEN_REISSUE, d);
		free(d);
	} else {
		gate__fail(e, g, "system", "reconcile_conflict", seen, NULL);
	}
out:
	gate__put(g);
}

void gate__reconcile(struct gate_engine *e, struct gate *g, bool after_restart,
		     const struct cloud_error *after_error)
{
	struct op *op;
	int rc;

	if (g->working || g->rec.state != GATE_EXECUTING)
		return;
	if (!action_find(g->rec.action)) {
		/* a newer version's action: this one cannot tell whether it landed */
		char text[300];
		snprintf(text, sizeof text, "action \"%s\" is unknown to this version, so whether its "
			 "call took effect cannot be told; check %s", g->rec.action,
			 g->rec.ecs_service);
		gate__fail(e, g, "system", "unverified", text, NULL);
		return;
	}
	op = gate__op_new(e, g->rec.id, OP_RECONCILE);
	if (!op) {
		gate__tpush_in(e, STORE_RETRY_MS, g->rec.id, T_RECONCILE);
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
