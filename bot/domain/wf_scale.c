/* wf_scale.c - /scale: read the service (bot/domain/service_read.h), refuse
 * what cannot be done (to the requester only), else open a gate with the
 * findings as evidence; the gate observer posts the card. */
#include "bot/domain/workflow.h"
#include "bot/domain/workflow_internal.h"
#include "bot/domain/findings.h"
#include "bot/domain/service_read.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scale_op {
	struct workflow__link link;
	char *service, *user, *channel, *reply_channel, *reason;
	int target, from;
	uint64_t timer_ms;
	bool requesting; /* the read is done; the store is opening the gate */
};

static void scale_op_free(struct scale_op *op)
{
	free(op->service);
	free(op->user);
	free(op->channel);
	free(op->reply_channel);
	free(op->reason);
	free(op);
}

static void scale_stop(struct workflow__link *l)
{
	struct scale_op *op = container_of(l, struct scale_op, link);
	/* a read answers once (its callback frees); a request whose engine
	 * stopped never answers */
	if (op->requesting)
		scale_op_free(op);
}

static void scale_refuse(struct workflow *wf, struct scale_op *op, const struct chat_text *t)
{
	log_info("workflow.scale", "service=%s user=%s result=refused", LOG_Q(op->service),
		 LOG_Q(op->user));
	workflow__say_ephemeral(wf, op->reply_channel, op->user, t);
}

/* Why what was read refuses the request, into t; false if it does not. */
static bool scale_refusal(const struct scale_op *op, const struct service_read *r,
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
	} else if (r->svc->desired == op->target) {
		chat_text_bold(t, "%s", op->service);
		chat_text_printf(t, " already has a desired count of %d; nothing to do.", op->target);
	} else {
		return false;
	}
	return true;
}

/* How opening the gate ended, told to the requester when it did not. */
static void on_requested_now(struct workflow *wf, struct scale_op *op, int rc, uint64_t id,
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
		scale_refuse(wf, op, &t);
		return;
	}
	if (rc) {
		chat_text_printf(&t, "Could not open the request for ");
		chat_text_bold(&t, "%s", op->service);
		chat_text_printf(&t, ": %s. Nothing was requested.", err ? err->msg : bot_strerror(rc));
		scale_refuse(wf, op, &t);
		return;
	}
	log_info("workflow.scale", "service=%s user=%s gate=%" PRIu64 " target=%d from=%d",
		 LOG_Q(op->service), LOG_Q(op->user), id, op->target, op->from);
}

static void on_requested(void *ud, int rc, uint64_t id, const struct bot_error *err)
{
	struct scale_op *op = ud;
	struct workflow *wf = op->link.wf;

	workflow__link_del(&op->link);
	if (wf)
		on_requested_now(wf, op, rc, id, err);
	scale_op_free(op);
}

/* Open the gate for what was read, or refuse; true when the store was
 * asked (op then lives until on_requested). */
static bool scale_decide(struct workflow *wf, struct scale_op *op, const struct service_read *r)
{
	const struct config_service *svc = config_service_find(wf->cfg, op->service);
	/* what the approvers see, stored with the gate as plain text (the store
	 * keeps text, never a backend's markup); the card shows it as stored */
	char ev[CHAT_TEXT_MAX + 8];
	struct bot_error err = {0};
	struct chat_text t, found;
	struct findings f;
	int rc;

	chat_text_init(&t);
	if (!svc) {
		chat_text_printf(&t, "Service ");
		chat_text_code(&t, "%s", op->service);
		chat_text_printf(&t, " is no longer in the configuration; nothing was requested.");
		scale_refuse(wf, op, &t);
		return false;
	}
	if (!r->svc && r->err.code == BOT_ECANCELLED) {
		/* the bot is stopping: the request was never opened */
		log_info("workflow.scale", "service=%s user=%s result=cancelled_by_shutdown",
			 LOG_Q(op->service), LOG_Q(op->user));
		return false;
	}
	if (scale_refusal(op, r, &t)) {
		scale_refuse(wf, op, &t);
		return false;
	}
	findings_analyse(r->svc, r->metrics, r->alarms, r->n_alarms, svc->max_desired, &f);
	chat_text_init(&found);
	findings_render(svc->name, svc->cluster, r->svc, r->metrics, r->alarms, r->n_alarms, &f,
			&found);
	chat_text_plain(&found, ev, sizeof ev);

	struct gate_spec spec = {
		.service = svc->name,
		.cluster = svc->cluster,
		.ecs_service = svc->ecs_service ? svc->ecs_service : svc->name,
		.requester = op->user,
		.target = op->target,
		.current_desired = r->svc->desired,
		.reason = op->reason,
		.timer_ms = op->timer_ms,
		.approvers = (const char *const *)svc->approvers.ids,
		.n_approvers = svc->approvers.n,
		.min_approvals = svc->min_approvals,
		.allow_self = svc->allow_self_approval,
		.channel = op->channel,
		.evidence = ev,
	};
	op->from = r->svc->desired;
	op->requesting = true;
	workflow__link_add(wf, &op->link, scale_stop);
	rc = gate_request(wf->engine, &spec, on_requested, op, &err);
	if (rc) {
		workflow__link_del(&op->link);
		op->requesting = false;
		on_requested_now(wf, op, rc, 0, &err);
		return false;
	}
	return true;
}

static void scale_on_read(void *ud, const struct service_read *r)
{
	struct scale_op *op = ud;
	struct workflow *wf = op->link.wf;

	workflow__link_del(&op->link);
	if (wf && !wf->stopped && scale_decide(wf, op, r))
		return; /* op waits for the store */
	scale_op_free(op);
}

int wf_scale_start(struct workflow *wf, const struct wf_scale *req, struct bot_error *err)
{
	struct scale_op *op;
	int rc;

	if (wf->stopped)
		return bot_error_set(err, BOT_ESTATE, "the bot is shutting down");
	op = calloc(1, sizeof *op);
	if (!op)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	op->service = strdup(req->svc->name);
	op->user = strdup(req->user);
	op->channel = strdup(req->channel);
	op->reply_channel = strdup(req->reply_channel ? req->reply_channel : req->channel);
	op->reason = req->reason && *req->reason ? strdup(req->reason) : NULL;
	op->target = req->target;
	op->timer_ms = req->timer_ms;
	if (!op->service || !op->user || !op->channel || !op->reply_channel ||
	    (req->reason && *req->reason && !op->reason)) {
		scale_op_free(op);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	workflow__link_add(wf, &op->link, scale_stop);
	rc = service_read_start(wf->cloud, req->svc, scale_on_read, op);
	if (rc) {
		workflow__link_del(&op->link);
		scale_op_free(op);
		return bot_error_set(err, rc, "out of memory");
	}
	return BOT_EOK;
}
