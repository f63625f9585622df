/* workflow.c - request -> card -> gate -> scale -> recovery (see workflow.h). */
#include "bot/domain/workflow.h"
#include "bot/domain/card.h"
#include "bot/base/duration.h"
#include "bot/domain/findings.h"
#include "bot/domain/gate.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_VERIFY_FIRST_MS   5000u
#define DEFAULT_VERIFY_MAX_MS     60000u
#define DEFAULT_VERIFY_TIMEOUT_MS (10u * 60u * 1000u)
#define EVIDENCE_WINDOW_MIN       30
#define RECENT_GATES              8

/* Work in flight on the workflow's behalf (a cloud call, a recovery check).
 * wf_stop detaches every link (wf = NULL) and calls its stop hook; a
 * callback that finds wf NULL only releases its memory. */
struct link {
	struct workflow *wf;
	struct link *prev, *next;
	void (*stop)(struct link *l);
};

struct workflow {
	uv_loop_t *loop;
	struct store *store;
	struct chat *chat;
	struct cloud *cloud;
	struct config *cfg;
	struct gate_engine *engine;
	struct link *links;
	uint64_t verify_first_ms, verify_max_ms, verify_timeout_ms;
	bool stopped;
	/* The recovery summaries of gates checked in this run, so later
	 * re-renders keep them (the audit log has them durably). */
	struct recovery_note *notes;
};

struct recovery_note {
	uint64_t id;
	struct chat_text text;
	struct recovery_note *next;
};

static void link_add(struct workflow *wf, struct link *l, void (*stop)(struct link *))
{
	l->wf = wf;
	l->stop = stop;
	l->prev = NULL;
	l->next = wf->links;
	if (wf->links)
		wf->links->prev = l;
	wf->links = l;
}

static void link_del(struct link *l)
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

static int64_t wall_ms(struct workflow *wf)
{
	return store_now(wf->store);
}

static const struct chat_text *recovery_of(struct workflow *wf, uint64_t id)
{
	for (struct recovery_note *n = wf->notes; n; n = n->next)
		if (n->id == id)
			return &n->text;
	return NULL;
}

static void recovery_set(struct workflow *wf, uint64_t id, const struct chat_text *text)
{
	struct recovery_note *n = malloc(sizeof *n);
	if (!n)
		return;
	n->id = id;
	n->text = *text;
	n->next = wf->notes;
	wf->notes = n;
}

/* ---- chat output --------------------------------------------------------- */

static void on_chat_result(void *ud, int rc, const char *ts, const char *detail)
{
	const char *what = ud;
	(void)ts;
	if (rc)
		log_warn("workflow.chat", "what=%s error=%s detail=%s", what, bot_err_name(rc),
			 LOG_Q(detail));
}

static void say_ephemeral(struct workflow *wf, const char *channel, const char *user,
			  const struct chat_text *text)
{
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = text};
	struct chat_message m = {.channel = channel, .rich = text, .blocks = &b, .n_blocks = 1};
	int rc = chat_ephemeral(wf->chat, user, &m, on_chat_result, (void *)"ephemeral");
	if (rc)
		log_warn("workflow.chat", "what=ephemeral error=%s", bot_err_name(rc));
}

/* Post m in g's thread (none when the card was never delivered). */
static void post_thread(struct workflow *wf, const struct store_gate *g, struct chat_message *m)
{
	if (!g->channel || !g->message_ts)
		return; /* no card, no thread (undelivered) */
	m->channel = g->channel;
	m->thread_ts = g->message_ts;
	int rc = chat_post(wf->chat, m, on_chat_result, (void *)"thread");
	if (rc)
		log_warn("workflow.chat", "what=thread gate=%" PRIu64 " error=%s", g->id,
			 bot_err_name(rc));
}

/* One line of the audit trail, in the thread under g's card. */
static void say_thread(struct workflow *wf, const struct store_gate *g, const struct chat_text *t)
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

static void update_card(struct workflow *wf, const struct store_gate *g, const char *reminder)
{
	struct card c;
	struct card_info in = {
		.now_ms = wall_ms(wf), .reminder = reminder, .recovery = recovery_of(wf, g->id),
	};

	if (!g->channel || !g->message_ts)
		return;
	card_render(&c, g, &in);
	int rc = chat_update(wf->chat, g->channel, g->message_ts, &c.msg, on_chat_result,
			     (void *)"card.update");
	if (rc)
		log_warn("workflow.chat", "what=card.update gate=%" PRIu64 " error=%s", g->id,
			 bot_err_name(rc));
}

/* ---- SNS mirror ------------------------------------------------------------ */

struct notify_op {
	struct link link;
	uint64_t id;
	char what[32];
};

static void notify_stop(struct link *l)
{
	(void)l; /* the cloud still answers once; the callback frees */
}

static void on_notified(void *ud, const struct cloud_error *err, const char *message_id)
{
	struct notify_op *op = ud;
	struct workflow *wf = op->link.wf;

	link_del(&op->link);
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
		struct bot_error e = {0};
		if (txt && store_audit_add(wf->store, op->id, "system", "sns_publish", txt, &e))
			log_warn("workflow.audit", "gate=%" PRIu64 " error=%s", op->id, LOG_Q(e.msg));
		free(txt);
		json_decref(d);
	}
	free(op);
}

static const struct config_service *service_of(struct workflow *wf, const struct store_gate *g)
{
	return config_service_find(wf->cfg, g->service);
}

/* Mirror a request or a decision to the service's SNS topic (as the lab's
 * approval step does); never retried (Publish is not idempotent). */
static void mirror(struct workflow *wf, const struct store_gate *g, const char *what)
{
	const struct config_service *svc = service_of(wf, g);
	char subject[100], message[1500], plain[700];
	struct chat_text dec;
	struct notify_op *op;

	if (!svc || !svc->sns_topic_arn)
		return;
	snprintf(subject, sizeof subject, "chatops-bot: scale %s to %d (request #%" PRIu64 ")",
		 g->service, g->target, g->id);
	if (strcmp(what, "request") == 0) {
		char dl[40] = "when the card is posted + timer";
		if (g->deadline) {
			time_t t = (time_t)(g->deadline / 1000);
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(dl, sizeof dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		snprintf(message, sizeof message,
			 "Request #%" PRIu64 " by %s: scale ECS service %s (cluster %s) from %d to %d "
			 "desired tasks. Reason: %s\nIt is approved automatically at %s unless an "
			 "approver denies it in Slack.",
			 g->id, g->requester, g->ecs_service, g->cluster, g->desired_at_request,
			 g->target, g->reason && *g->reason ? g->reason : "none given", dl);
	} else {
		/* the SNS message is plain text */
		chat_text_init(&dec);
		card_decision(g, &dec);
		chat_text_plain(&dec, plain, sizeof plain);
		snprintf(message, sizeof message, "Request #%" PRIu64 " (scale %s to %d): %s.",
			 g->id, g->service, g->target, plain);
	}
	op = calloc(1, sizeof *op);
	if (!op)
		return;
	op->id = g->id;
	snprintf(op->what, sizeof op->what, "%s", what);
	link_add(wf, &op->link, notify_stop);
	int rc = wf->cloud->ops->notify(wf->cloud, svc->sns_topic_arn, subject, message,
					on_notified, op);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		on_notified(op, &ce, NULL);
	}
}

/* ---- recovery check after a successful scale ------------------------------- */

struct verify {
	struct link link;
	uv_timer_t timer;
	int refs;              /* the timer + a call in flight */
	uint64_t id;
	char *cluster, *ecs_service;
	int target;
	int64_t exec_at;       /* wall ms the scale call started */
	uint64_t started, delay;
	int polls;
	int running, desired, pending;
	char rollout[24];
	bool steady, timed_out;
};

static void verify_unref(struct verify *v)
{
	if (--v->refs > 0)
		return;
	free(v->cluster);
	free(v->ecs_service);
	free(v);
}

static void verify_closed(uv_handle_t *h)
{
	verify_unref(h->data);
}

static void verify_stop(struct link *l)
{
	struct verify *v = container_of(l, struct verify, link);
	if (!uv_is_closing((uv_handle_t *)&v->timer))
		uv_close((uv_handle_t *)&v->timer, verify_closed);
}

static void verify_end(struct verify *v)
{
	link_del(&v->link);
	verify_stop(&v->link);
}

static void cpu_split(const struct cloud_series *s, double at, double *before, size_t *nb,
		      double *after, size_t *na)
{
	double sb = 0, sa = 0;
	*nb = *na = 0;
	for (size_t i = 0; s && i < s->n; i++) {
		if (s->times[i] < at) {
			sb += s->values[i];
			(*nb)++;
		} else {
			sa += s->values[i];
			(*na)++;
		}
	}
	*before = *nb ? sb / (double)*nb : 0;
	*after = *na ? sa / (double)*na : 0;
}

static void verify_report(struct verify *v, const struct cloud_metrics *m, const char *merr)
{
	struct workflow *wf = v->link.wf;
	struct store_gate g = {0};
	struct bot_error err = {0};
	struct chat_text text, line;
	char summary[1200], cpu[400];
	double before = 0, after = 0;
	size_t nb = 0, na = 0;
	uint64_t took = (uv_now(wf->loop) - v->started) / 1000;

	if (m)
		cpu_split(&m->cpu_avg, (double)v->exec_at / 1000.0, &before, &nb, &after, &na);
	if (!m)
		snprintf(cpu, sizeof cpu, "CPU: metrics unavailable (%s)", merr ? merr : "no answer");
	else if (nb && na)
		snprintf(cpu, sizeof cpu, "CPU average %.1f%% before the change, %.1f%% after "
			 "(%zu and %zu datapoints)", before, after, nb, na);
	else if (nb)
		snprintf(cpu, sizeof cpu, "CPU average %.1f%% before the change; no datapoints "
			 "after it yet (ECS publishes once a minute)", before);
	else
		snprintf(cpu, sizeof cpu, "CPU: no datapoints in the window");
	chat_text_init(&text);
	if (v->steady) {
		chat_text_printf(&text, "running %d of %d tasks, none pending, %" PRIu64
				 " s after the change (rollout %s). %s", v->running, v->target, took,
				 v->rollout[0] ? v->rollout : "unknown", cpu);
	} else {
		chat_text_bold(&text, "not steady");
		chat_text_printf(&text, " after %" PRIu64 " s: running %d, pending %d, desired %d "
				 "(target %d); the bot stopped watching. %s", took, v->running,
				 v->pending, v->desired, v->target, cpu);
	}
	chat_text_plain(&text, summary, sizeof summary);

	json_t *d = json_pack("{s:b, s:i, s:i, s:i, s:i, s:I, s:s}", "steady", v->steady,
			      "running", v->running, "pending", v->pending, "desired", v->desired,
			      "target", v->target, "seconds", (json_int_t)took, "summary", summary);
	char *dj = d ? json_dumps(d, JSON_COMPACT) : NULL;
	if (dj && store_audit_add(wf->store, v->id, "system", "recovery", dj, &err))
		log_warn("workflow.audit", "gate=%" PRIu64 " error=%s", v->id, LOG_Q(err.msg));
	free(dj);
	json_decref(d);
	log_info("workflow.recovery", "gate=%" PRIu64 " steady=%s running=%d target=%d seconds=%"
		 PRIu64, v->id, v->steady ? "true" : "false", v->running, v->target, took);

	recovery_set(wf, v->id, &text);
	if (store_gate_get(wf->store, v->id, &g, &err) == BOT_EOK) {
		chat_text_init(&line);
		chat_text_bold(&line, "Recovery:");
		chat_text_printf(&line, " ");
		chat_text_cat(&line, &text);
		say_thread(wf, &g, &line);
		update_card(wf, &g, NULL);
	}
	store_gate_clear(&g);
}

static void on_verify_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct verify *v = ud;

	if (v->link.wf && !v->link.wf->stopped) {
		if (err && err->code)
			verify_report(v, NULL, err->message[0] ? err->message : bot_err_name(err->code));
		else
			verify_report(v, m, NULL);
		verify_end(v);
	}
	verify_unref(v);
}

static void verify_finish(struct verify *v)
{
	struct workflow *wf = v->link.wf;
	/* the window covers the evidence period and everything since the change */
	int minutes = EVIDENCE_WINDOW_MIN + (int)((uv_now(wf->loop) - v->started) / 60000) + 1;

	v->refs++;
	int rc = wf->cloud->ops->metrics(wf->cloud, v->cluster, v->ecs_service, minutes,
					 on_verify_metrics, v);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		snprintf(ce.message, sizeof ce.message, "%s", bot_strerror(rc));
		on_verify_metrics(v, &ce, NULL);
	}
}

static void verify_poll(uv_timer_t *t);

static void on_verify_describe(void *ud, const struct cloud_error *err,
			       const struct cloud_service *s)
{
	struct verify *v = ud;
	struct workflow *wf = v->link.wf;

	if (!wf || wf->stopped)
		goto out;
	v->polls++;
	if (s && !(err && err->code)) {
		v->running = s->running;
		v->pending = s->pending;
		v->desired = s->desired;
		v->rollout[0] = '\0';
		for (size_t i = 0; i < s->n_deployments; i++)
			if (s->deployments[i].status && strcmp(s->deployments[i].status, "PRIMARY") == 0 &&
			    s->deployments[i].rollout_state)
				snprintf(v->rollout, sizeof v->rollout, "%s", s->deployments[i].rollout_state);
		v->steady = s->running == v->target && s->desired == v->target && s->pending == 0;
	} else {
		log_warn("workflow.recovery", "gate=%" PRIu64 " describe_error=%s", v->id,
			 err ? bot_err_name(err->code) : "none");
	}
	if (v->steady) {
		verify_finish(v);
	} else if (uv_now(wf->loop) - v->started >= wf->verify_timeout_ms) {
		v->timed_out = true;
		verify_finish(v);
	} else {
		uv_timer_start(&v->timer, verify_poll, v->delay, 0);
		v->delay = v->delay * 2 > wf->verify_max_ms ? wf->verify_max_ms : v->delay * 2;
	}
out:
	verify_unref(v);
}

static void verify_poll(uv_timer_t *t)
{
	struct verify *v = t->data;
	struct workflow *wf = v->link.wf;

	if (!wf)
		return;
	v->refs++;
	int rc = wf->cloud->ops->describe(wf->cloud, v->cluster, v->ecs_service, on_verify_describe, v);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		on_verify_describe(v, &ce, NULL);
	}
}

static void verify_start(struct workflow *wf, const struct store_gate *g)
{
	struct verify *v = calloc(1, sizeof *v);

	if (!v || !(v->cluster = strdup(g->cluster)) || !(v->ecs_service = strdup(g->ecs_service))) {
		if (v)
			free(v->cluster);
		free(v);
		log_warn("workflow.recovery", "gate=%" PRIu64 " error=ENOMEM", g->id);
		return;
	}
	v->id = g->id;
	v->target = g->target;
	v->exec_at = g->exec_started_at ? g->exec_started_at : wall_ms(wf);
	v->started = uv_now(wf->loop);
	v->delay = wf->verify_first_ms;
	v->refs = 1; /* the timer */
	uv_timer_init(wf->loop, &v->timer);
	v->timer.data = v;
	link_add(wf, &v->link, verify_stop);
	/* the first look right away: a service already steady reports at once */
	uv_timer_start(&v->timer, verify_poll, 0, 0);
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
	struct card_info in = {.now_ms = wall_ms(wf)};
	int rc;

	if (!op) {
		delivered(token, BOT_ENOMEM, NULL, NULL, "out of memory");
		return;
	}
	op->delivered = delivered;
	op->token = token;
	snprintf(op->channel, sizeof op->channel, "%s", g->channel ? g->channel : "");
	card_render(&c, g, &in);
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
		chat_text_printf(&t, "Your request #%" PRIu64 " to scale ", g->id);
		chat_text_bold(&t, "%s", g->service);
		chat_text_printf(&t, " to %d could not be posted, so it failed closed and nothing "
				 "will happen: ", g->target);
		card_decision(g, &t);
		say_ephemeral(wf, g->channel, g->requester, &t);
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
	default:
		chat_text_printf(&t, ". Next: re-read the service, then scale to %d.", g->target);
		break;
	}
	say_thread(wf, g, &t);
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
		update_card(wf, g, NULL);
		if (g->state == GATE_PENDING) {
			char d[DURATION_FMT_MAX];
			duration_format(g->timer_ms, d, sizeof d);
			chat_text_bold(&t, "Requested");
			chat_text_printf(&t, " by ");
			chat_text_user(&t, g->requester);
			chat_text_printf(&t, ": scale to %d (now %d). Timer %s: approves automatically "
					 "at ", g->target, g->desired_at_request, d);
			chat_text_date(&t, g->deadline / 1000);
			chat_text_printf(&t, " unless an approver denies.");
			say_thread_reason(wf, g, &t);
			mirror(wf, g, "request");
		}
		break;
	case GATE_EV_APPROVAL:
		update_card(wf, g, NULL);
		break;
	case GATE_EV_DECIDED:
		update_card(wf, g, NULL);
		said_decision(wf, g);
		mirror(wf, g, "decision");
		break;
	case GATE_EV_REMINDER:
		update_card(wf, g, detail);
		chat_text_bold(&t, "Reminder (%s):", detail ? detail : "");
		chat_text_printf(&t, " ");
		for (size_t i = 0; i < g->n_approvers; i++) {
			chat_text_user(&t, g->approvers[i]);
			chat_text_printf(&t, " ");
		}
		chat_text_printf(&t, "this request approves automatically at ");
		chat_text_date(&t, g->deadline / 1000);
		chat_text_printf(&t, " unless you deny it.");
		say_thread(wf, g, &t);
		break;
	case GATE_EV_EXECUTING:
		update_card(wf, g, NULL);
		chat_text_bold(&t, "Calling AWS:");
		chat_text_printf(&t, " ECS UpdateService cluster=");
		chat_text_code(&t, "%s", g->cluster);
		chat_text_printf(&t, " service=");
		chat_text_code(&t, "%s", g->ecs_service);
		chat_text_printf(&t, " desiredCount=%d (desired count before: %d).", g->target,
				 g->exec_from);
		say_thread(wf, g, &t);
		break;
	case GATE_EV_FINISHED: {
		bool ok = g->state == GATE_SUCCEEDED;
		bool dry = !ok && g->result_kind && strcmp(g->result_kind, "dry_run") == 0;
		update_card(wf, g, NULL);
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
			chat_text_printf(&t, " Watching the service reach %d running tasks…", g->target);
		say_thread(wf, g, &t);
		if (ok)
			verify_start(wf, g);
		break;
	}
	case GATE_EV_RECOVERED:
		update_card(wf, g, NULL);
		chat_text_printf(&t, "The bot restarted and reloaded this request (state %s).",
				 store_state_name(g->state));
		say_thread(wf, g, &t);
		break;
	}
}

/* The configuration in force is asked as well as the gate's snapshot:
 * approvers (cancel: also the requester, while still a requester). A
 * service no longer configured keeps its snapshot. */
static bool still_allowed(void *ud, const struct store_gate *g, const char *user, bool cancel)
{
	const struct config_service *svc = service_of(ud, g);

	if (!svc)
		return true;
	if (config_users_has(&svc->approvers, user, false))
		return true;
	return cancel && strcmp(user, g->requester) == 0 &&
	       config_users_has(&svc->requesters, user, true);
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
	wf->cfg = config_ref(o->cfg);
	wf->verify_first_ms = o->verify_first_ms ? o->verify_first_ms : DEFAULT_VERIFY_FIRST_MS;
	wf->verify_max_ms = o->verify_max_ms ? o->verify_max_ms : DEFAULT_VERIFY_MAX_MS;
	wf->verify_timeout_ms = o->verify_timeout_ms ? o->verify_timeout_ms : DEFAULT_VERIFY_TIMEOUT_MS;
	struct gate_engine_opts eo = {
		.loop = o->loop, .store = o->store, .cloud = o->cloud,
		.obs = {.post_request = post_request, .on_change = on_change,
			.still_allowed = still_allowed, .ud = wf},
		.reminder_gap_ms = o->reminder_gap_ms,
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

int wf_start(struct workflow *wf, struct bot_error *err)
{
	struct gate_recover_stats st = {0};
	int rc = gate_engine_recover(wf->engine, &st, err);

	if (rc == BOT_EOK)
		log_info("workflow.recover", "rearmed=%zu expired=%zu failed_closed=%zu resumed=%zu "
			 "reconciling=%zu", st.rearmed, st.expired, st.failed_closed, st.resumed,
			 st.reconciling);
	return rc;
}

void wf_stop(struct workflow *wf)
{
	if (!wf || wf->stopped)
		return;
	wf->stopped = true;
	gate_engine_destroy(wf->engine);
	wf->engine = NULL;
	while (wf->links) {
		struct link *l = wf->links;
		link_del(l);
		l->stop(l);
	}
}

void wf_destroy(struct workflow *wf)
{
	if (!wf)
		return;
	wf_stop(wf);
	while (wf->notes) {
		struct recovery_note *n = wf->notes;
		wf->notes = n->next;
		free(n);
	}
	config_unref(wf->cfg);
	free(wf);
}

void wf_set_config(struct workflow *wf, struct config *cfg)
{
	struct config *old = wf->cfg;
	wf->cfg = config_ref(cfg);
	config_unref(old);
}

uint64_t wf_parse_id(const char *s)
{
	uint64_t v = 0;

	if (!s)
		return 0;
	if (*s == '#')
		s++;
	if (!*s || strlen(s) > 15)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

/* ---- /scale: read the service, then open a gate ------------------------------- */

struct scale_op {
	struct link link;
	char *service, *user, *channel, *reply_channel, *reason;
	int target;
	uint64_t timer_ms;
	int waiting;
	struct cloud_service *svc;
	struct cloud_metrics *metrics;
	struct cloud_alarm *alarms;
	size_t n_alarms;
	struct cloud_error derr;
	bool metrics_failed;
};

static void scale_op_free(struct scale_op *op)
{
	free(op->service);
	free(op->user);
	free(op->channel);
	free(op->reply_channel);
	free(op->reason);
	cloud_service_free(op->svc);
	cloud_metrics_free(op->metrics);
	cloud_alarms_free(op->alarms, op->n_alarms);
	free(op);
}

static void scale_stop(struct link *l)
{
	(void)l; /* the cloud answers each call once; the last answer frees */
}

static void scale_refuse(struct workflow *wf, struct scale_op *op, const struct chat_text *t)
{
	log_info("workflow.scale", "service=%s user=%s result=refused", LOG_Q(op->service),
		 LOG_Q(op->user));
	say_ephemeral(wf, op->reply_channel, op->user, t);
}

/* Why the service read refuses the request, into t; false if it does not. */
static bool scale_refusal(const struct config_service *svc, const struct scale_op *op,
			  struct chat_text *t)
{
	const struct cloud_error *ce = &op->derr;

	if (!op->svc && ce->code == BOT_ENOTFOUND) {
		chat_text_printf(t, "ECS service ");
		chat_text_code(t, "%s", svc->ecs_service ? svc->ecs_service : op->service);
		chat_text_printf(t, " was not found in cluster ");
		chat_text_code(t, "%s", svc->cluster);
		chat_text_printf(t, "; nothing was requested. Check the service's ");
		chat_text_code(t, "cluster");
		chat_text_printf(t, " and ");
		chat_text_code(t, "ecs_service");
		chat_text_printf(t, " in the configuration.");
	} else if (!op->svc) {
		chat_text_printf(t, "Could not read ");
		chat_text_bold(t, "%s", op->service);
		chat_text_printf(t, " from AWS, so nothing was requested: %s",
				 ce->aws_code[0] ? ce->aws_code : bot_err_name(ce->code));
		if (ce->message[0])
			chat_text_printf(t, ": %s", ce->message);
		if (ce->request_id[0])
			chat_text_printf(t, " (request id %s)", ce->request_id);
	} else if (op->svc->status && strcmp(op->svc->status, "ACTIVE") != 0) {
		chat_text_bold(t, "%s", op->service);
		chat_text_printf(t, " is %s, not ACTIVE; nothing was requested.", op->svc->status);
	} else if (op->svc->desired == op->target) {
		chat_text_bold(t, "%s", op->service);
		chat_text_printf(t, " already has a desired count of %d; nothing to do.", op->target);
	} else {
		return false;
	}
	return true;
}

static void scale_decide(struct workflow *wf, struct scale_op *op)
{
	const struct config_service *svc = config_service_find(wf->cfg, op->service);
	char ev[3000];
	struct bot_error err = {0};
	struct chat_text t;
	struct findings f;
	uint64_t id = 0;
	int rc;

	chat_text_init(&t);
	if (!svc) {
		chat_text_printf(&t, "Service ");
		chat_text_code(&t, "%s", op->service);
		chat_text_printf(&t, " is no longer in the configuration; nothing was requested.");
		scale_refuse(wf, op, &t);
		return;
	}
	if (!op->svc && op->derr.code == BOT_ECANCELLED) {
		/* the bot is stopping: the request was never opened */
		log_info("workflow.scale", "service=%s user=%s result=cancelled_by_shutdown",
			 LOG_Q(op->service), LOG_Q(op->user));
		return;
	}
	if (scale_refusal(svc, op, &t)) {
		scale_refuse(wf, op, &t);
		return;
	}
	findings_analyse(op->svc, op->metrics, op->alarms, op->n_alarms, svc->max_desired, &f);
	findings_render(svc->name, svc->cluster, op->svc, op->metrics, op->alarms, op->n_alarms, &f,
			ev, sizeof ev);

	struct gate_spec spec = {
		.service = svc->name,
		.cluster = svc->cluster,
		.ecs_service = svc->ecs_service ? svc->ecs_service : svc->name,
		.requester = op->user,
		.target = op->target,
		.current_desired = op->svc->desired,
		.reason = op->reason,
		.timer_ms = op->timer_ms,
		.approvers = (const char *const *)svc->approvers.ids,
		.n_approvers = svc->approvers.n,
		.min_approvals = svc->min_approvals,
		.allow_self = svc->allow_self_approval,
		.channel = op->channel,
		.evidence = ev,
	};
	rc = gate_request(wf->engine, &spec, &id, &err);
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
		chat_text_printf(&t, ": %s. Nothing was requested.", err.msg);
		scale_refuse(wf, op, &t);
		return;
	}
	log_info("workflow.scale", "service=%s user=%s gate=%" PRIu64 " target=%d from=%d",
		 LOG_Q(svc->name), LOG_Q(op->user), id, op->target, op->svc->desired);
}

static void scale_one_done(struct scale_op *op)
{
	struct workflow *wf = op->link.wf;

	if (--op->waiting > 0)
		return;
	link_del(&op->link);
	if (wf && !wf->stopped)
		scale_decide(wf, op);
	scale_op_free(op);
}

static void scale_on_describe(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct scale_op *op = ud;
	if (err && err->code)
		op->derr = *err;
	else if (s && !(op->svc = cloud_service_dup(s)))
		op->derr.code = BOT_ENOMEM;
	else if (!s)
		op->derr.code = BOT_ENOTFOUND;
	scale_one_done(op);
}

static void scale_on_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct scale_op *op = ud;
	if (!(err && err->code) && m)
		op->metrics = cloud_metrics_dup(m);
	scale_one_done(op);
}

static void scale_on_alarms(void *ud, const struct cloud_error *err, const struct cloud_alarm *a,
			    size_t n)
{
	struct scale_op *op = ud;
	if (!(err && err->code) && n && (op->alarms = cloud_alarms_dup(a, n)))
		op->n_alarms = n;
	scale_one_done(op);
}

int wf_scale_start(struct workflow *wf, const struct wf_scale *req, struct bot_error *err)
{
	struct scale_op *op;
	const char *cluster = req->svc->cluster;
	const char *ecs = req->svc->ecs_service ? req->svc->ecs_service : req->svc->name;
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
	link_add(wf, &op->link, scale_stop);
	/* three reads at once; each answer counts down, a call that cannot
	 * start counts as answered */
	op->waiting = 4;
	rc = wf->cloud->ops->describe(wf->cloud, cluster, ecs, scale_on_describe, op);
	if (rc) {
		op->derr.code = rc;
		snprintf(op->derr.message, sizeof op->derr.message, "%s", bot_strerror(rc));
		op->waiting--;
	}
	if (wf->cloud->ops->metrics(wf->cloud, cluster, ecs, EVIDENCE_WINDOW_MIN, scale_on_metrics, op))
		op->waiting--;
	if (wf->cloud->ops->alarms(wf->cloud, cluster, ecs, scale_on_alarms, op))
		op->waiting--;
	scale_one_done(op); /* drop the starter's count */
	return BOT_EOK;
}

/* ---- buttons and cancel --------------------------------------------------------- */

static const char *decided_word(enum gate_state decision)
{
	switch (decision) {
	case GATE_APPROVED_BY_TIMER: return "approved by the timer";
	case GATE_APPROVED: return "approved";
	case GATE_DENIED: return "denied";
	case GATE_CANCELLED: return "cancelled";
	default: return "closed";
	}
}

static void tell_outcome(struct workflow *wf, uint64_t id, const char *user, const char *channel,
			 const char *pressed, const struct gate_click_result *r)
{
	struct chat_text t;

	chat_text_init(&t);
	switch (r->outcome) {
	case GATE_OUT_ACCEPTED_APPROVAL:
		chat_text_printf(&t, "Your approval of request #%" PRIu64 " was counted (%d of %d "
				 "needed).", id, r->approvals, r->min_approvals);
		break;
	case GATE_OUT_DECIDED_APPROVED:
		chat_text_printf(&t, "You approved request #%" PRIu64 "; the bot scales now.", id);
		break;
	case GATE_OUT_DECIDED_DENIED:
		chat_text_printf(&t, "You denied request #%" PRIu64 "; nothing will be changed.", id);
		break;
	case GATE_OUT_DECIDED_CANCELLED:
		chat_text_printf(&t, "You cancelled request #%" PRIu64 "; nothing will be changed.", id);
		break;
	case GATE_OUT_ALREADY_DECIDED:
		chat_text_printf(&t, "Your %s on request #%" PRIu64 " changed nothing: it was already "
				 "%s", pressed, id, decided_word(r->decision));
		if (r->decision != GATE_APPROVED_BY_TIMER && r->by[0]) {
			chat_text_printf(&t, " by ");
			chat_text_user(&t, r->by);
		}
		if (r->at) {
			chat_text_printf(&t, " at ");
			chat_text_date(&t, r->at / 1000);
		}
		chat_text_printf(&t, " (now %s).", store_state_name(r->state));
		break;
	case GATE_OUT_DUPLICATE_EVENT:
		return; /* a redelivery of a click we already answered */
	default:
		chat_text_printf(&t, "Your %s on request #%" PRIu64 " changed nothing: %s.", pressed, id,
				 gate_outcome_text(r->outcome));
		break;
	}
	say_ephemeral(wf, channel, user, &t);
}

static void trail_click(struct workflow *wf, uint64_t id, const char *user, const char *pressed,
			const struct gate_click_result *r)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	struct chat_text t;

	if (r->outcome == GATE_OUT_DUPLICATE_EVENT || r->outcome == GATE_OUT_UNKNOWN_GATE)
		return;
	if (r->outcome == GATE_OUT_DECIDED_APPROVED || r->outcome == GATE_OUT_DECIDED_DENIED ||
	    r->outcome == GATE_OUT_DECIDED_CANCELLED)
		return; /* the decision line (said when it was committed) names who */
	if (store_gate_get(wf->store, id, &g, &err) != BOT_EOK)
		return;
	chat_text_init(&t);
	chat_text_user(&t, user);
	chat_text_printf(&t, " pressed ");
	chat_text_bold(&t, "%s", pressed);
	if (r->outcome == GATE_OUT_ACCEPTED_APPROVAL)
		chat_text_printf(&t, ": counted (%d of %d).", r->approvals, r->min_approvals);
	else
		chat_text_printf(&t, ": refused (%s).", gate_outcome_text(r->outcome));
	say_thread(wf, &g, &t);
	store_gate_clear(&g);
}

/* What a person is told when their click was not taken. */
static void say_to(struct workflow *wf, const struct chat_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say_to(struct workflow *wf, const struct chat_event *ev, const char *fmt, ...)
{
	char text[500];
	struct chat_text t;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	chat_text_init(&t);
	chat_text_printf(&t, "%s", text);
	say_ephemeral(wf, ev->channel, ev->user, &t);
}

static void act(struct workflow *wf, uint64_t id, const struct chat_event *ev, int what)
{
	static const char *const names[] = {"Approve", "Deny", "cancel"};
	struct gate_click_result r = {0};
	struct bot_error err = {0};
	int rc;

	if (wf->stopped) {
		say_to(wf, ev, "The bot is shutting down; your click was not recorded. Press it "
		       "again once it is back.");
		return;
	}
	if (what == 2)
		rc = gate_cancel(wf->engine, id, ev->user, ev->id, &r, &err);
	else
		rc = gate_click(wf->engine, id, ev->user, what == 0 ? GATE_VOTE_APPROVE : GATE_VOTE_DENY,
				ev->id, &(struct gate_where){ev->channel, ev->message_ts}, &r, &err);
	if (rc) {
		log_error("workflow.click", "gate=%" PRIu64 " user=%s error=%s", id, LOG_Q(ev->user),
			  LOG_Q(err.msg));
		say_to(wf, ev, "Your %s on request #%" PRIu64 " could not be recorded (%s); nothing "
		       "changed. Try again.", names[what], id, bot_strerror(rc));
		return;
	}
	log_info("workflow.click", "gate=%" PRIu64 " user=%s action=%s outcome=%s", id,
		 LOG_Q(ev->user), names[what], gate_outcome_name(r.outcome));
	if (r.outcome == GATE_OUT_WRONG_CARD)
		wf->chat->refused[CHAT_REFUSED_CARD]++;
	else if (r.outcome == GATE_OUT_REVOKED)
		wf->chat->refused[CHAT_REFUSED_REVOKED]++;
	tell_outcome(wf, id, ev->user, ev->channel, names[what], &r);
	trail_click(wf, id, ev->user, names[what], &r);
}

bool wf_on_button(struct workflow *wf, const struct chat_event *ev)
{
	int what;
	uint64_t id;

	if (!ev->action_id)
		return false;
	if (strcmp(ev->action_id, CARD_ACTION_APPROVE) == 0)
		what = 0;
	else if (strcmp(ev->action_id, CARD_ACTION_DENY) == 0)
		what = 1;
	else
		return false;
	id = wf_parse_id(ev->value);
	if (!id) {
		say_to(wf, ev, "That button does not name a request; nothing changed.");
		return true;
	}
	act(wf, id, ev, what);
	return true;
}

void wf_cancel(struct workflow *wf, uint64_t id, const struct chat_event *ev)
{
	act(wf, id, ev, 2);
}

/* One "• #7 web → 5 · PENDING · asked by @U <date> in #C" line. */
static void list_line(struct workflow *wf, const struct store_gate *g, struct chat_text *t)
{
	char label[32], url[512];

	snprintf(label, sizeof label, "#%" PRIu64, g->id);
	chat_text_printf(t, "• ");
	unsigned old = chat_text_style(t, CHAT_STYLE_BOLD);
	if (chat_permalink(wf->chat, g->channel, g->message_ts, url, sizeof url) == BOT_EOK)
		chat_text_link(t, url, label);
	else
		chat_text_printf(t, "%s", label);
	chat_text_style(t, old);
	chat_text_printf(t, " %s → %d · %s · asked by ", g->service ? g->service : "", g->target,
			 store_state_name(g->state));
	chat_text_user(t, g->requester);
	chat_text_printf(t, " ");
	chat_text_date(t, g->created_at / 1000);
	if (g->channel) {
		chat_text_printf(t, " in ");
		chat_text_channel(t, g->channel);
	}
	chat_text_printf(t, "\n");
}

/* Every open request (however old), then the latest decided ones. */
int wf_list(struct workflow *wf, struct chat_text *t, struct bot_error *err)
{
	struct store_gate *live = NULL, *recent = NULL;
	size_t nl = 0, nr = 0, decided = 0;
	int rc = store_gate_list(wf->store, GATE_LIVE_MASK, &live, &nl, err);

	if (rc == BOT_EOK)
		rc = store_gate_recent(wf->store, RECENT_GATES, &recent, &nr, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < nl; i++)
		list_line(wf, &live[i], t);
	for (size_t i = 0; i < nr; i++) {
		if (GATE_LIVE_MASK & GATE_STATE_BIT(recent[i].state))
			continue;
		list_line(wf, &recent[i], t);
		decided++;
	}
	if (nl == 0 && decided == 0) {
		chat_text_printf(t, "No requests yet. Start one with ");
		chat_text_code(t, "/scale <service> <count>");
		chat_text_printf(t, ".");
	} else if (nl == 0) {
		unsigned old = chat_text_style(t, CHAT_STYLE_ITALIC);
		chat_text_printf(t, "No open requests.");
		chat_text_style(t, old);
	}
out:
	store_gate_array_free(live, nl);
	store_gate_array_free(recent, nr);
	return rc;
}
