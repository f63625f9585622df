/* wf_sns.c - the workflow's SNS mirror: each request and decision is
 * published to the service's topic, as the lab's approval step does. */
#include "bot/domain/workflow_internal.h"
#include "bot/domain/action.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct notify_op {
	struct workflow__link link;
	uint64_t id;
	char what[32];
};

static void notify_stop(struct workflow__link *l)
{
	(void)l; /* the cloud still answers once; the callback frees */
}

static void on_notified(void *ud, const struct cloud_error *err, const char *message_id)
{
	struct notify_op *op = ud;
	struct workflow *wf = op->link.wf;

	workflow__link_del(&op->link);
	if (err && err->code) {
		log_warn("workflow.sns", "gate=%" PRIu64 " what=%s error=%s aws_code=%s", op->id,
			 op->what, bot_err_name(err->code), LOG_Q(err->aws_code));
	} else {
		log_info("workflow.sns", "gate=%" PRIu64 " what=%s message_id=%s", op->id, op->what,
			 LOG_Q(message_id));
	}
	if (wf) {
		json_t *d = json_pack("{s:s, s:s*, s:s*, s:s*}", "what", op->what, "message_id",
				      message_id, "error", err && err->code ? bot_err_name(err->code)
				      : NULL, "aws_code", err && err->aws_code[0] ? err->aws_code : NULL);
		char *txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
		if (txt && store_audit_add_async(wf->store, op->id, "system", "sns_publish", txt,
						 NULL, NULL))
			log_warn("workflow.audit", "gate=%" PRIu64 " error=\"the store takes no "
				 "calls\"", op->id);
		free(txt);
		json_decref(d);
	}
	free(op);
}

/* Mirror a request or a decision to the service's SNS topic (as the lab's
 * approval step does); never retried (Publish is not idempotent). */
void workflow__mirror(struct workflow *wf, const struct store_gate *g, const char *what)
{
	const struct config_service *svc = workflow__service_of(wf, g);
	char subject[100], message[1500], plain[700];
	struct chat_text dec;
	struct notify_op *op;

	if (!svc || !svc->sns_topic_arn)
		return;
	char b[200];
	struct chat_text desc;
	char whats[900];

	card_brief(g, b, sizeof b);
	snprintf(subject, sizeof subject, "chatops-bot: %.28s %.24s (request #%" PRIu64 ")",
		 g->service, b, g->id);
	if (strcmp(what, "request") == 0) {
		char dl[40] = "when the card is posted + timer";
		if (g->deadline) {
			time_t t = (time_t)(g->deadline / 1000);
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(dl, sizeof dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		chat_text_init(&desc);
		if (action_find(g->action))
			action_find(g->action)->describe(g, &desc);
		chat_text_plain(&desc, whats, sizeof whats);
		snprintf(message, sizeof message,
			 "Request #%" PRIu64 " by %s: %s. Reason: %s\nIt is approved automatically "
			 "at %s unless an approver denies it in Slack.",
			 g->id, g->requester, whats, g->reason && *g->reason ? g->reason : "none given",
			 dl);
	} else {
		/* the SNS message is plain text */
		chat_text_init(&dec);
		card_decision(g, &dec);
		chat_text_plain(&dec, plain, sizeof plain);
		snprintf(message, sizeof message, "Request #%" PRIu64 " (%s: %s): %s.",
			 g->id, g->service, b, plain);
	}
	op = calloc(1, sizeof *op);
	if (!op)
		return;
	op->id = g->id;
	snprintf(op->what, sizeof op->what, "%s", what);
	workflow__link_add(wf, &op->link, notify_stop);
	int rc = wf->cloud->ops->notify(wf->cloud, svc->sns_topic_arn, subject, message,
					on_notified, op);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		on_notified(op, &ce, NULL);
	}
}

