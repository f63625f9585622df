/* workflow.c - the workflow's life (create, start, stop) and the gate
 * observer: every committed transition is rendered to chat, the card
 * updated and a line said in its thread (see workflow.h; the other jobs
 * are in wf_*.c, see workflow_internal.h). */
#include "bot/domain/workflow.h"
#include "bot/domain/service_read.h"
#include "bot/domain/workflow_internal.h"
#include "bot/domain/action.h"
#include "bot/domain/card.h"
#include "bot/base/duration.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_VERIFY_FIRST_MS   5000u
#define DEFAULT_VERIFY_MAX_MS     60000u
#define DEFAULT_VERIFY_TIMEOUT_MS (10u * 60u * 1000u)

/* ---- shared state ---------------------------------------------------------- */

void workflow__link_add(struct workflow *wf, struct workflow__link *l,
			void (*stop)(struct workflow__link *))
{
	l->wf = wf;
	l->stop = stop;
	l->prev = NULL;
	l->next = wf->links;
	if (wf->links)
		wf->links->prev = l;
	wf->links = l;
}

void workflow__link_del(struct workflow__link *l)
{
	if (!l->wf)
		return;
	if (l->prev)
		l->prev->next = l->next;
	else
		l->wf->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->wf = NULL;
	l->prev = l->next = NULL;
}

int64_t workflow__now_ms(struct workflow *wf)
{
	return store_now(wf->store);
}

const struct config_service *workflow__service_of(struct workflow *wf, const struct store_gate *g)
{
	return config_service_find(wf->cfg, g->service);
}

/* ---- chat output --------------------------------------------------------- */

/* BOT_EBUSY: the backend dropped a message that was not urgent under a
 * burst; it counted and logged that once for the burst, not per message. */
static void on_chat_result(void *ud, int rc, const char *ts, const char *detail)
{
	const char *what = ud;
	(void)ts;
	if (rc && rc != BOT_EBUSY)
		log_warn("workflow.chat", "what=%s error=%s detail=%s", what, bot_err_name(rc),
			 LOG_Q(detail));
}

void workflow__say_ephemeral(struct workflow *wf, const char *channel, const char *user,
			     const struct chat_text *text)
{
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = text};
	struct chat_message m = {.channel = channel, .rich = text, .blocks = &b, .n_blocks = 1};
	if (!card_actor_is_person(user))
		return; /* an alarm reads no ephemerals; its proposal reports elsewhere */
	int rc = chat_ephemeral(wf->chat, user, &m, on_chat_result, (void *)"ephemeral");
	if (rc && rc != BOT_EBUSY)
		log_warn("workflow.chat", "what=ephemeral error=%s", bot_err_name(rc));
}

/* Post m in g's thread (none when the card was never delivered). */
static void post_thread(struct workflow *wf, const struct store_gate *g, struct chat_message *m)
{
	if (!g->channel || !g->message_ts)
		return; /* no card, no thread (undelivered) */
	m->channel = g->channel;
	m->thread_ts = g->message_ts;
	m->urgent = true; /* the gate's trail: ahead of the channel's chatter */
	int rc = chat_post(wf->chat, m, on_chat_result, (void *)"thread");
	if (rc)
		log_warn("workflow.chat", "what=thread gate=%" PRIu64 " error=%s", g->id,
			 bot_err_name(rc));
}

void workflow__say_thread(struct workflow *wf, const struct store_gate *g, const struct chat_text *t)
{
	post_thread(wf, g, &(struct chat_message){.rich = t});
}

/* A thread line followed by what the requester typed, as plain text. */
static void say_thread_reason(struct workflow *wf, const struct store_gate *g,
			      const struct chat_text *line)
{
	char reason[700];

	card_reason(g, reason, sizeof reason);
	struct chat_block b[2] = {
		{.type = CHAT_BLOCK_SECTION, .rich = line},
		{.type = CHAT_BLOCK_PLAIN, .text = reason},
	};
	post_thread(wf, g, &(struct chat_message){.rich = line, .blocks = b, .n_blocks = 2});
}

void workflow__update_card(struct workflow *wf, const struct store_gate *g, const char *reminder)
{
	struct card c;
	struct card_info in = {
		.now_ms = workflow__now_ms(wf), .reminder = reminder,
		.recovery = workflow__recovery_of(wf, g->id),
	};

	if (!g->channel || !g->message_ts)
		return;
	card_render(&c, g, &in);
	c.msg.urgent = true; /* what approvers see: ahead of the channel's chatter */
	int rc = chat_update(wf->chat, g->channel, g->message_ts, &c.msg, on_chat_result,
			     (void *)"card.update");
	if (rc)
		log_warn("workflow.chat", "what=card.update gate=%" PRIu64 " error=%s", g->id,
			 bot_err_name(rc));
}

/* ---- the gate observer ------------------------------------------------------ */

struct post_op {
	gate_delivered_fn delivered;
	void *token;
	char channel[64];
};

static void on_card_posted(void *ud, int rc, const char *ts, const char *detail)
{
	struct post_op *op = ud;
	op->delivered(op->token, rc, op->channel, ts, detail);
	free(op);
}

static void post_request(void *ud, const struct store_gate *g, gate_delivered_fn delivered,
			 void *token)
{
	struct workflow *wf = ud;
	struct post_op *op = calloc(1, sizeof *op);
	struct card c;
	struct card_info in = {.now_ms = workflow__now_ms(wf)};
	int rc;

	if (!op) {
		delivered(token, BOT_ENOMEM, NULL, NULL, "out of memory");
		return;
	}
	op->delivered = delivered;
	op->token = token;
	snprintf(op->channel, sizeof op->channel, "%s", g->channel ? g->channel : "");
	card_render(&c, g, &in);
	c.msg.urgent = true; /* the card itself: never dropped for room */
	rc = chat_post(wf->chat, &c.msg, on_card_posted, op);
	if (rc) {
		free(op);
		delivered(token, rc, NULL, NULL, bot_strerror(rc));
	}
}

static void said_decision(struct workflow *wf, const struct store_gate *g)
{
	struct chat_text t;

	chat_text_init(&t);
	if (g->state == GATE_FAILED && g->decision == GATE_FAILED) {
		/* never delivered: no thread; tell the requester */
		char b[200];
		card_brief(g, b, sizeof b);
		chat_text_printf(&t, "Your request #%" PRIu64 " for ", g->id);
		chat_text_bold(&t, "%s", g->service);
		chat_text_printf(&t, " (%s) could not be posted, so it failed closed and nothing "
				 "will happen: ", b);
		card_decision(g, &t);
		workflow__say_ephemeral(wf, g->channel, g->requester, &t);
		return;
	}
	chat_text_bold(&t, "Decision:");
	chat_text_printf(&t, " ");
	card_decision(g, &t);
	switch (g->state) {
	case GATE_DENIED:
	case GATE_CANCELLED:
		chat_text_printf(&t, ". Nothing will be changed in AWS.");
		break;
	case GATE_FAILED:
		chat_text_printf(&t, ".");
		break;
	default: {
		char b[200];
		card_brief(g, b, sizeof b);
		chat_text_printf(&t, ". Next: re-read the service, then %s.", b);
		break;
	}
	}
	workflow__say_thread(wf, g, &t);
}

static void on_change(void *ud, const struct store_gate *g, enum gate_event ev, const char *detail)
{
	struct workflow *wf = ud;
	const char *res;
	struct chat_text t;

	log_info("workflow.event", "gate=%" PRIu64 " gate_event=%s state=%s", g->id,
		 gate_event_name(ev), store_state_name(g->state));
	chat_text_init(&t);
	switch (ev) {
	case GATE_EV_DELIVERED:
		workflow__update_card(wf, g, NULL);
		if (g->state == GATE_PENDING) {
			char d[DURATION_FMT_MAX], b[200];
			duration_format(g->timer_ms, d, sizeof d);
			card_brief(g, b, sizeof b);
			chat_text_bold(&t, "Requested");
			chat_text_printf(&t, " by ");
			card_put_actor(&t, g->requester);
			chat_text_printf(&t, ": %s (desired count now %d). Timer %s: approves "
					 "automatically at ", b, g->desired_at_request, d);
			chat_text_date(&t, g->deadline / 1000);
			chat_text_printf(&t, " unless an approver denies.");
			say_thread_reason(wf, g, &t);
			workflow__mirror(wf, g, "request");
		}
		break;
	case GATE_EV_APPROVAL:
		workflow__update_card(wf, g, NULL);
		break;
	case GATE_EV_DECIDED:
		workflow__update_card(wf, g, NULL);
		said_decision(wf, g);
		workflow__mirror(wf, g, "decision");
		break;
	case GATE_EV_REMINDER:
		workflow__update_card(wf, g, detail);
		chat_text_bold(&t, "Reminder (%s):", detail ? detail : "");
		chat_text_printf(&t, " ");
		for (size_t i = 0; i < g->n_approvers; i++) {
			chat_text_user(&t, g->approvers[i]);
			chat_text_printf(&t, " ");
		}
		chat_text_printf(&t, "this request approves automatically at ");
		chat_text_date(&t, g->deadline / 1000);
		chat_text_printf(&t, " unless you deny it.");
		workflow__say_thread(wf, g, &t);
		break;
	case GATE_EV_EXECUTING:
		if (wf->reads) /* what was read of it is about to be wrong */
			service_reads_forget(wf->reads, g->service);
		workflow__update_card(wf, g, NULL);
		chat_text_bold(&t, "Calling AWS:");
		chat_text_printf(&t, " ");
		if (action_find(g->action))
			action_find(g->action)->call_text(g, &t);
		chat_text_printf(&t, ".");
		workflow__say_thread(wf, g, &t);
		break;
	case GATE_EV_FINISHED: {
		bool ok = g->state == GATE_SUCCEEDED;
		if (wf->reads)
			service_reads_forget(wf->reads, g->service);
		bool dry = !ok && g->result_kind && strcmp(g->result_kind, "dry_run") == 0;
		workflow__update_card(wf, g, NULL);
		res = g->result_detail ? g->result_detail : detail ? detail : "";
		if (ok) {
			chat_text_bold(&t, "Succeeded:");
			chat_text_printf(&t, " %s.", res);
		} else if (dry) {
			chat_text_bold(&t, "Dry run:");
			chat_text_printf(&t, " %s.", res);
		} else {
			chat_text_bold(&t, "Failed");
			chat_text_printf(&t, " (%s): %s.", g->result_kind ? g->result_kind : "error", res);
		}
		if (!dry && g->aws_request_id && *g->aws_request_id) {
			chat_text_printf(&t, " AWS request id ");
			chat_text_code(&t, "%s", g->aws_request_id);
			chat_text_printf(&t, ".");
		}
		if (ok)
			chat_text_printf(&t, " Watching the service settle…");
		workflow__say_thread(wf, g, &t);
		if (ok)
			workflow__recovery_start(wf, g);
		break;
	}
	case GATE_EV_RECOVERED:
		workflow__update_card(wf, g, NULL);
		chat_text_printf(&t, "The bot restarted and reloaded this request (state %s).",
				 store_state_name(g->state));
		workflow__say_thread(wf, g, &t);
		break;
	}
}

/* The configuration in force is asked as well as the gate's snapshot:
 * approvers (cancel: also the requester, while still a requester). A
 * service no longer configured keeps its snapshot. */
static bool still_allowed(void *ud, const struct store_gate *g, const char *user, bool cancel)
{
	const struct config_service *svc = workflow__service_of(ud, g);
	const struct config_action *rule;

	if (!svc)
		return true;
	/* the action's rule; an action no longer allowed keeps the service's */
	rule = config_action_find(svc, g->action ? g->action : STORE_ACTION_SCALE);
	if (config_users_has(rule ? &rule->approvers : &svc->approvers, user, false))
		return true;
	return cancel && strcmp(user, g->requester) == 0 &&
	       config_users_has(rule ? &rule->requesters : &svc->requesters, user, true);
}

/* ---- create / start / stop ---------------------------------------------------- */

int wf_create(const struct workflow_opts *o, struct workflow **out, struct bot_error *err)
{
	struct workflow *wf;
	int rc;

	*out = NULL;
	if (!o || !o->loop || !o->store || !o->chat || !o->cloud || !o->cfg)
		return bot_error_set(err, BOT_EINVAL, "workflow: loop, store, chat, cloud and config "
				     "are required");
	wf = calloc(1, sizeof *wf);
	if (!wf)
		return bot_error_set(err, BOT_ENOMEM, "workflow: out of memory");
	wf->loop = o->loop;
	wf->store = o->store;
	wf->chat = o->chat;
	wf->cloud = o->cloud;
	wf->reads = o->reads;
	wf->cfg = config_ref(o->cfg);
	wf->verify_first_ms = o->verify_first_ms ? o->verify_first_ms : DEFAULT_VERIFY_FIRST_MS;
	wf->verify_max_ms = o->verify_max_ms ? o->verify_max_ms : DEFAULT_VERIFY_MAX_MS;
	wf->verify_timeout_ms = o->verify_timeout_ms ? o->verify_timeout_ms : DEFAULT_VERIFY_TIMEOUT_MS;
	struct gate_engine_opts eo = {
		.loop = o->loop, .store = o->store, .cloud = o->cloud,
		.obs = {.post_request = post_request, .on_change = on_change,
			.still_allowed = still_allowed, .ud = wf},
		.reminder_gap_ms = o->reminder_gap_ms,
		.shared = store_shared(o->store),
	};
	rc = gate_engine_create(&eo, &wf->engine, err);
	if (rc) {
		config_unref(wf->cfg);
		free(wf);
		return rc;
	}
	*out = wf;
	return BOT_EOK;
}

static void on_recovered(void *ud, int rc, const struct gate_recover_stats *st,
			 const struct bot_error *err)
{
	(void)ud;
	if (rc)
		log_error("workflow.recover", "error=%s effect=\"tried again shortly\"",
			  LOG_Q(err ? err->msg : bot_strerror(rc)));
	else
		log_info("workflow.recover", "rearmed=%zu expired=%zu failed_closed=%zu resumed=%zu "
			 "reconciling=%zu", st->rearmed, st->expired, st->failed_closed,
			 st->resumed, st->reconciling);
}

int wf_start(struct workflow *wf, struct bot_error *err)
{
	int rc = gate_engine_recover(wf->engine, on_recovered, wf);
	if (rc)
		return bot_error_set(err, rc, "workflow: cannot start recovery (%s)", bot_strerror(rc));
	return BOT_EOK;
}

void wf_stop(struct workflow *wf)
{
	if (!wf || wf->stopped)
		return;
	wf->stopped = true;
	gate_engine_destroy(wf->engine);
	wf->engine = NULL;
	while (wf->links) {
		struct workflow__link *l = wf->links;
		workflow__link_del(l);
		l->stop(l);
	}
}

void wf_destroy(struct workflow *wf)
{
	if (!wf)
		return;
	wf_stop(wf);
	workflow__recovery_forget(wf);
	config_unref(wf->cfg);
	free(wf);
}

void wf_set_config(struct workflow *wf, struct config *cfg)
{
	struct config *old = wf->cfg;
	wf->cfg = config_ref(cfg);
	config_unref(old);
}

