/* wf_request.c - /scale, /restart, /rollback: local checks first - one
 * request per service in flight in this process, and the store's live gate
 * for the service (a read) - then read the service afresh
 * (bot/domain/service_read.h: a read in flight is joined, a kept one is
 * not), refuse what cannot be done (to the requester only), let the action
 * prepare its parameters (bot/domain/action.h: rollback reads the task
 * definitions), else open a gate with the findings as evidence; the gate
 * observer posts the card. Only the gate's opening decides (the store holds
 * each service for one live gate); the checks before it spare AWS the
 * reads of a request that cannot be. */
#include "bot/domain/workflow.h"
#include "bot/domain/workflow_internal.h"
#include "bot/domain/action.h"
#include "bot/domain/card.h"
#include "bot/domain/findings.h"
#include "bot/domain/service_read.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct workflow__request {
	struct workflow__link link;
	struct workflow__request *prev, *next; /* wf->requests while it is unanswered */
	char *service, *user, *channel, *reply_channel, *reason, *to, *evidence;
	const struct action *act;
	int count, target, from;
	uint64_t timer_ms;
	bool listed;
	bool preparing;  /* the read is done; the action prepares its parameters */
	bool requesting; /* the store is opening the gate */
	void (*done)(void *ud, uint64_t gate_id, const struct chat_text *why);
	void *done_ud;
};

#define req_op workflow__request

static void unlist(struct workflow *wf, struct req_op *op)
{
	if (!op->listed)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		wf->requests = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
	op->listed = false;
}

/* Done with op's work on wf's behalf (wf may be NULL: stopped). */
static void req_detach(struct req_op *op)
{
	struct workflow *wf = op->link.wf;

	if (wf)
		unlist(wf, op);
	workflow__link_del(&op->link);
}

/* How it ended, to a requester that asked to be told (once). */
static void req_tell(struct req_op *op, uint64_t id, const struct chat_text *why)
{
	void (*done)(void *, uint64_t, const struct chat_text *) = op->done;

	op->done = NULL;
	if (done)
		done(op->done_ud, id, why);
}

static void req_op_free(struct req_op *op)
{
	req_tell(op, 0, NULL); /* not told yet: it never got an answer (stopping) */
	free(op->service);
	free(op->user);
	free(op->channel);
	free(op->reply_channel);
	free(op->reason);
	free(op->to);
	free(op->evidence);
	free(op);
}

static void req_stop(struct workflow__link *l)
{
	struct req_op *op = container_of(l, struct req_op, link);
	/* a read and a prepare answer once (their callbacks free); a request
	 * whose engine stopped never answers; wf->requests is not read once
	 * stopped */
	op->listed = false;
	if (op->requesting)
		req_op_free(op);
}

static void req_refuse(struct workflow *wf, struct req_op *op, const struct chat_text *t)
{
	log_info("workflow.request", "service=%s action=%s user=%s result=refused",
		 LOG_Q(op->service), op->act->kind, LOG_Q(op->user));
	if (op->done)
		req_tell(op, 0, t);
	else
		workflow__say_ephemeral(wf, op->reply_channel, op->user, t);
}

/* Why what was read refuses the request, into t; false if it does not. */
static bool req_refusal(const struct req_op *op, const struct service_read *r,
			  struct chat_text *t)
{
	if (!r->svc) {
		service_read_explain(r, t);
		if (r->err.code == BOT_ENOTFOUND) {
			chat_text_printf(t, "; nothing was requested. Check the service's ");
			chat_text_code(t, "cluster");
			chat_text_printf(t, " and ");
			chat_text_code(t, "ecs_service");
			chat_text_printf(t, " in the configuration.");
		} else {
			chat_text_printf(t, ". Nothing was requested.");
		}
	} else if (r->svc->status && strcmp(r->svc->status, "ACTIVE") != 0) {
		chat_text_bold(t, "%s", op->service);
		chat_text_printf(t, " is %s, not ACTIVE; nothing was requested.", r->svc->status);
	} else {
		return false;
	}
	return true;
}

/* How opening the gate ended, told to the requester when it did not. */
static void on_requested_now(struct workflow *wf, struct req_op *op, int rc, uint64_t id,
			     const struct bot_error *err)
{
	struct chat_text t;

	chat_text_init(&t);
	if (rc == BOT_EBUSY) {
		/* the store holds each service for its one live gate */
		chat_text_bold(&t, "%s", op->service);
		chat_text_printf(&t, " already has an open request (#%" PRIu64 "); decide or cancel "
				 "it first (", id);
		chat_text_code(&t, "/gates cancel %" PRIu64, id);
		chat_text_printf(&t, ").");
		req_refuse(wf, op, &t);
		return;
	}
	if (rc) {
		chat_text_printf(&t, "Could not open the request for ");
		chat_text_bold(&t, "%s", op->service);
		chat_text_printf(&t, ": %s. Nothing was requested.", err ? err->msg : bot_strerror(rc));
		req_refuse(wf, op, &t);
		return;
	}
	log_info("workflow.request", "service=%s action=%s user=%s gate=%" PRIu64 " target=%d "
		 "from=%d", LOG_Q(op->service), op->act->kind, LOG_Q(op->user), id, op->target,
		 op->from);
	req_tell(op, id, NULL);
}

static void on_requested(void *ud, int rc, uint64_t id, const struct bot_error *err)
{
	struct req_op *op = ud;
	struct workflow *wf = op->link.wf;

	req_detach(op);
	if (wf)
		on_requested_now(wf, op, rc, id, err);
	req_op_free(op);
}

/* The request's rule: the action's row of the service's configuration
 * (approvers, how many, self-approval); NULL if the action is not (or no
 * longer) allowed there. */
static const struct config_action *rule_of(struct workflow *wf, const struct req_op *op,
					   const struct config_service **svc)
{
	*svc = config_service_find(wf->cfg, op->service);
	return *svc ? config_action_find(*svc, op->act->kind) : NULL;
}

/* Open the gate with the action's parameters; true when the store was
 * asked (op then lives until on_requested). */
static bool open_gate(struct workflow *wf, struct req_op *op, const char *params, int target)
{
	const struct config_service *svc;
	const struct config_action *rule = rule_of(wf, op, &svc);
	struct bot_error err = {0};
	struct chat_text t;
	int rc;

	chat_text_init(&t);
	if (!rule) {
		chat_text_code(&t, "%s", op->act->command);
		chat_text_printf(&t, " is no longer allowed for ");
		chat_text_code(&t, "%s", op->service);
		chat_text_printf(&t, " by the configuration in force; nothing was requested.");
		req_refuse(wf, op, &t);
		return false;
	}
	struct gate_spec spec = {
		.service = svc->name,
		.cluster = svc->cluster,
		.ecs_service = svc->ecs_service ? svc->ecs_service : svc->name,
		.requester = op->user,
		.action = op->act->kind,
		.params = params,
		.target = target,
		.current_desired = op->from,
		.reason = op->reason,
		.timer_ms = op->timer_ms,
		.approvers = (const char *const *)rule->approvers.ids,
		.n_approvers = rule->approvers.n,
		.min_approvals = rule->min_approvals,
		.allow_self = rule->allow_self_approval,
		.channel = op->channel,
		.evidence = op->evidence,
	};
	op->target = target;
	op->requesting = true;
	workflow__link_add(wf, &op->link, req_stop);
	rc = gate_request(wf->engine, &spec, on_requested, op, &err);
	if (rc) {
		req_detach(op);
		op->requesting = false;
		on_requested_now(wf, op, rc, 0, &err);
		return false;
	}
	return true;
}

/* The action's answer: its parameters, or why it cannot be. */
static void on_prepared(void *ud, const char *params, int target, const struct chat_text *why)
{
	struct req_op *op = ud;
	struct workflow *wf = op->link.wf;

	op->preparing = false;
	workflow__link_del(&op->link);
	if (wf && !wf->stopped) {
		if (!params) {
			struct chat_text t;
			chat_text_init(&t);
			if (why)
				chat_text_cat(&t, why);
			chat_text_printf(&t, ". Nothing was requested.");
			req_refuse(wf, op, &t);
		} else if (open_gate(wf, op, params, target)) {
			return; /* op waits for the store */
		}
		unlist(wf, op);
	}
	req_op_free(op);
}

/* Refuse what was read, or let the action prepare the request; true when
 * it was asked (op then lives until on_prepared). */
static bool req_decide(struct workflow *wf, struct req_op *op, const struct service_read *r)
{
	const struct config_service *svc;
	const struct config_action *rule = rule_of(wf, op, &svc);
	/* what the approvers see, stored with the gate as plain text (the store
	 * keeps text, never a backend's markup); the card shows it as stored */
	char ev[CHAT_TEXT_MAX + 8];
	struct chat_text t, found;
	struct findings f;

	chat_text_init(&t);
	if (!svc || !rule) {
		chat_text_printf(&t, "Service ");
		chat_text_code(&t, "%s", op->service);
		chat_text_printf(&t, !svc ? " is no longer in the configuration; nothing was "
				 "requested." : " no longer allows this action; nothing was requested.");
		req_refuse(wf, op, &t);
		return false;
	}
	if (!r->svc && r->err.code == BOT_ECANCELLED) {
		/* the bot is stopping: the request was never opened */
		log_info("workflow.request", "service=%s user=%s result=cancelled_by_shutdown",
			 LOG_Q(op->service), LOG_Q(op->user));
		return false;
	}
	if (req_refusal(op, r, &t)) {
		req_refuse(wf, op, &t);
		return false;
	}
	if (!op->act->available(wf->cloud)) {
		chat_text_printf(&t, "This bot's cloud backend cannot ");
		chat_text_code(&t, "%s", op->act->command);
		chat_text_printf(&t, "; nothing was requested.");
		req_refuse(wf, op, &t);
		return false;
	}
	findings_analyse(r->svc, r->metrics, r->alarms, r->n_alarms, svc->max_desired, &f);
	chat_text_init(&found);
	findings_render(svc->name, svc->cluster, r->svc, r->metrics, r->alarms, r->n_alarms, &f,
			&found);
	char when[32];
	service_read_when(r, when, sizeof when);
	if (when[0])
		chat_text_printf(&found, "\nRead from AWS at %s.", when);
	chat_text_plain(&found, ev, sizeof ev);
	op->evidence = strdup(ev);
	if (!op->evidence) {
		chat_text_printf(&t, "Out of memory; nothing was requested.");
		req_refuse(wf, op, &t);
		return false;
	}
	op->from = r->svc->desired;

	struct action_req areq = {
		.cloud = wf->cloud, .svc = r->svc, .service = svc->name,
		.min_desired = svc->min_desired, .max_desired = svc->max_desired,
		.args = {.count = op->count, .to = op->to},
	};
	op->preparing = true;
	workflow__link_add(wf, &op->link, req_stop);
	op->act->prepare(&areq, on_prepared, op);
	return true;
}

static void req_on_read(void *ud, const struct service_read *r)
{
	struct req_op *op = ud;
	struct workflow *wf = op->link.wf;

	workflow__link_del(&op->link); /* still listed: the request goes on */
	if (wf && !wf->stopped && req_decide(wf, op, r))
		return; /* op waits for the store */
	if (wf)
		unlist(wf, op);
	req_op_free(op);
}

/* The service's live gate, read before anything else: refused with a
 * link to its card. */
static void on_holder_read(void *ud, struct store_req *r)
{
	struct req_op *op = ud;
	struct workflow *wf = op->link.wf;
	const struct store_gate *g = &r->gate;
	char label[32], url[512];
	struct chat_text t;

	req_detach(op);
	if (!wf || wf->stopped)
		goto out;
	chat_text_init(&t);
	chat_text_bold(&t, "%s", op->service);
	chat_text_printf(&t, " already has an open request (");
	snprintf(label, sizeof label, "#%" PRIu64, r->rc ? r->holder : g->id);
	if (!r->rc && g->channel && g->message_ts &&
	    chat_permalink(wf->chat, g->channel, g->message_ts, url, sizeof url) == BOT_EOK)
		chat_text_link(&t, url, label);
	else
		chat_text_printf(&t, "%s", label);
	if (!r->rc) {
		chat_text_printf(&t, ", asked by ");
		card_put_actor(&t, g->requester);
	}
	chat_text_printf(&t, "); decide or cancel it first (");
	chat_text_code(&t, "/gates cancel %" PRIu64, r->rc ? r->holder : g->id);
	chat_text_printf(&t, ").");
	req_refuse(wf, op, &t);
out:
	req_op_free(op);
}

static void on_holder(void *ud, struct store_req *r)
{
	struct req_op *op = ud;
	struct workflow *wf = op->link.wf;
	uint64_t holder = r->rc ? 0 : r->holder;
	int rc;

	if (!wf || wf->stopped) {
		req_detach(op);
		req_op_free(op);
		return;
	}
	if (r->rc) /* the opening decides anyway */
		log_warn("workflow.request", "service=%s check=holder error=%s", LOG_Q(op->service),
			 LOG_Q(r->err.msg));
	if (holder) {
		r->holder = holder;
		if (store_gate_get_async(wf->store, holder, on_holder_read, op) == BOT_EOK)
			return;
		on_holder_read(op, &(struct store_req){.rc = BOT_ENOMEM, .holder = holder});
		return;
	}
	/* the configuration may have been reloaded since the command */
	const struct config_service *svc = config_service_find(wf->cfg, op->service);
	rc = !svc ? BOT_ENOTFOUND : wf->reads ? service_reads_get(wf->reads, svc, false, req_on_read, op)
						 : service_read_start(wf->cloud, svc, req_on_read, op);
	if (rc) {
		struct chat_text t;
		chat_text_init(&t);
		if (rc == BOT_ENOTFOUND) {
			chat_text_printf(&t, "Service ");
			chat_text_code(&t, "%s", op->service);
			chat_text_printf(&t, " is no longer in the configuration; nothing was "
					 "requested.");
		} else {
			chat_text_printf(&t, "Could not read ");
			chat_text_bold(&t, "%s", op->service);
			chat_text_printf(&t, " (%s); nothing was requested.", bot_strerror(rc));
		}
		req_refuse(wf, op, &t);
		req_detach(op);
		req_op_free(op);
	}
}

/* Another request of this service is on its way here: who asked. */
static const struct req_op *in_flight(const struct workflow *wf, const char *service)
{
	for (const struct req_op *o = wf->requests; o; o = o->next)
		if (strcmp(o->service, service) == 0)
			return o;
	return NULL;
}

int wf_request_start(struct workflow *wf, const struct wf_request *req, struct bot_error *err)
{
	const struct action *act = action_find(req->action);
	struct req_op *op;
	int rc;

	if (wf->stopped)
		return bot_error_set(err, BOT_ESTATE, "the bot is shutting down");
	if (!act)
		return bot_error_set(err, BOT_EINVAL, "unknown action \"%s\"", req->action);
	const struct req_op *busy = in_flight(wf, req->svc->name);
	if (busy) {
		struct chat_text t;
		chat_text_init(&t);
		chat_text_bold(&t, "%s", req->svc->name);
		chat_text_printf(&t, ": a request by ");
		card_put_actor(&t, busy->user);
		chat_text_printf(&t, " is being opened right now; its card follows here. Nothing "
				 "was requested.");
		log_info("workflow.request", "service=%s user=%s result=refused reason=in_flight",
			 LOG_Q(req->svc->name), LOG_Q(req->user));
		if (req->done)
			return bot_error_set(err, BOT_EBUSY, "a request for %s is being opened right "
					     "now", req->svc->name);
		workflow__say_ephemeral(wf, req->reply_channel ? req->reply_channel : req->channel,
					req->user, &t);
		return BOT_EOK;
	}
	op = calloc(1, sizeof *op);
	if (!op)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	op->service = strdup(req->svc->name);
	op->user = strdup(req->user);
	op->channel = strdup(req->channel);
	op->reply_channel = strdup(req->reply_channel ? req->reply_channel : req->channel);
	op->reason = req->reason && *req->reason ? strdup(req->reason) : NULL;
	op->to = req->args.to ? strdup(req->args.to) : NULL;
	op->act = act;
	op->count = req->args.count;
	op->timer_ms = req->timer_ms;
	op->done = req->done;
	op->done_ud = req->done_ud;
	if (!op->service || !op->user || !op->channel || !op->reply_channel ||
	    (req->reason && *req->reason && !op->reason) || (req->args.to && !op->to)) {
		op->done = NULL; /* the error return is the answer */
		req_op_free(op);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	workflow__link_add(wf, &op->link, req_stop);
	op->next = wf->requests;
	if (wf->requests)
		wf->requests->prev = op;
	wf->requests = op;
	op->listed = true;
	rc = store_service_holder_async(wf->store, req->svc->cluster,
					req->svc->ecs_service ? req->svc->ecs_service
							      : req->svc->name, on_holder, op);
	if (rc) {
		req_detach(op);
		op->done = NULL; /* the error return is the answer */
		req_op_free(op);
		return bot_error_set(err, rc, "the store takes no calls (%s)", bot_strerror(rc));
	}
	return BOT_EOK;
}
