/* wf_recovery.c - after a successful action, watch the service: poll
 * DescribeServices (backing off) until the action calls it steady
 * (action.h: scale, running == desired == target with nothing pending;
 * restart, the new deployment alone and complete; rollback, the target
 * revision alone and complete) or time runs out, then report the tasks and
 * the CPU before and after the change in the thread, on the card and in
 * the audit log. */
#include "bot/domain/workflow_internal.h"
#include "bot/domain/action.h"
#include "bot/domain/service_read.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the summaries of this run ---------------------------------------------- */

struct workflow__note {
	uint64_t id;
	struct chat_text text;
	struct workflow__note *next;
};

const struct chat_text *workflow__recovery_of(struct workflow *wf, uint64_t id)
{
	for (struct workflow__note *n = wf->notes; n; n = n->next)
		if (n->id == id)
			return &n->text;
	return NULL;
}

static void recovery_set(struct workflow *wf, uint64_t id, const struct chat_text *text)
{
	struct workflow__note *n = malloc(sizeof *n);
	if (!n)
		return;
	n->id = id;
	n->text = *text;
	n->next = wf->notes;
	wf->notes = n;
}

void workflow__recovery_forget(struct workflow *wf)
{
	while (wf->notes) {
		struct workflow__note *n = wf->notes;
		wf->notes = n->next;
		free(n);
	}
}

/* ---- one check: poll, then report -------------------------------------------- */

struct verify {
	struct workflow__link link;
	uv_timer_t timer;
	int refs;              /* the timer + a call in flight */
	uint64_t id;
	struct store_gate rec; /* the gate as it succeeded */
	const struct action *act;
	char what[400];        /* what the last look saw, as the action tells it */
	int target;
	int64_t exec_at;       /* wall ms the call started */
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
	store_gate_clear(&v->rec);
	free(v);
}

static void verify_closed(uv_handle_t *h)
{
	verify_unref(h->data);
}

static void verify_stop(struct workflow__link *l)
{
	struct verify *v = container_of(l, struct verify, link);
	if (!uv_is_closing((uv_handle_t *)&v->timer))
		uv_close((uv_handle_t *)&v->timer, verify_closed);
}

static void verify_end(struct verify *v)
{
	workflow__link_del(&v->link);
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

/* The summary's thread line, once the gate (its card) is read. */
struct recovery_post {
	struct workflow__link link;
	struct chat_text line;
};

static void recovery_post_stop(struct workflow__link *l)
{
	/* its store call answers exactly once, also when the store stops
	 * (cancelled): on_recovery_gate frees, seeing no workflow */
	(void)l;
}

static void on_recovery_gate(void *ud, struct store_req *r)
{
	struct recovery_post *p = ud;
	struct workflow *wf = p->link.wf;

	workflow__link_del(&p->link);
	if (wf && r->rc == BOT_EOK) {
		workflow__say_thread(wf, &r->gate, &p->line);
		workflow__update_card(wf, &r->gate, NULL);
	} else if (wf) {
		log_warn("workflow.recovery", "gate=%" PRIu64 " error=%s", r->gate.id,
			 LOG_Q(r->err.msg));
	}
	free(p);
}

static void verify_report(struct verify *v, const struct cloud_metrics *m, const char *merr)
{
	struct workflow *wf = v->link.wf;
	struct chat_text text;
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
		chat_text_printf(&text, "%s, %" PRIu64 " s after the change (rollout %s). %s",
				 v->what, took, v->rollout[0] ? v->rollout : "unknown", cpu);
	} else {
		chat_text_bold(&text, "not steady");
		chat_text_printf(&text, " after %" PRIu64 " s: %s; the bot stopped watching. %s",
				 took, v->what[0] ? v->what : "the service could not be read", cpu);
	}
	chat_text_plain(&text, summary, sizeof summary);

	json_t *d = json_pack("{s:b, s:s, s:i, s:i, s:i, s:i, s:I, s:s}", "steady", v->steady,
			      "action", v->act->kind, "running", v->running, "pending", v->pending,
			      "desired", v->desired, "target", v->target, "seconds", (json_int_t)took,
			      "summary", summary);
	char *dj = d ? json_dumps(d, JSON_COMPACT) : NULL;
	if (dj && store_audit_add_async(wf->store, v->id, "system", "recovery", dj, NULL, NULL))
		log_warn("workflow.audit", "gate=%" PRIu64 " error=\"the store takes no calls\"",
			 v->id);
	free(dj);
	json_decref(d);
	log_info("workflow.recovery", "gate=%" PRIu64 " steady=%s running=%d target=%d seconds=%"
		 PRIu64, v->id, v->steady ? "true" : "false", v->running, v->target, took);

	recovery_set(wf, v->id, &text);
	struct recovery_post *p = calloc(1, sizeof *p);
	if (!p)
		return;
	chat_text_init(&p->line);
	chat_text_bold(&p->line, "Recovery:");
	chat_text_printf(&p->line, " ");
	chat_text_cat(&p->line, &text);
	workflow__link_add(wf, &p->link, recovery_post_stop);
	if (store_gate_get_async(wf->store, v->id, on_recovery_gate, p) != BOT_EOK) {
		workflow__link_del(&p->link);
		free(p);
	}
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
	int minutes = SERVICE_READ_WINDOW_MIN + (int)((uv_now(wf->loop) - v->started) / 60000) + 1;

	v->refs++;
	int rc = wf->cloud->ops->metrics(wf->cloud, v->rec.cluster, v->rec.ecs_service, minutes,
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
		v->steady = v->act->steady(&v->rec, s, v->what, sizeof v->what);
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
	int rc = wf->cloud->ops->describe(wf->cloud, v->rec.cluster, v->rec.ecs_service,
					  on_verify_describe, v);
	if (rc) {
		struct cloud_error ce = {.code = rc};
		on_verify_describe(v, &ce, NULL);
	}
}

void workflow__recovery_start(struct workflow *wf, const struct store_gate *g)
{
	const struct action *act = action_find(g->action);
	struct verify *v;

	if (!act)
		return; /* not executed by this version (gate_exec.c) */
	v = calloc(1, sizeof *v);
	if (!v || store_gate_copy(&v->rec, g) != BOT_EOK) {
		if (v)
			store_gate_clear(&v->rec);
		free(v);
		log_warn("workflow.recovery", "gate=%" PRIu64 " error=ENOMEM", g->id);
		return;
	}
	v->act = act;
	v->id = g->id;
	v->target = g->target;
	v->exec_at = g->exec_started_at ? g->exec_started_at : workflow__now_ms(wf);
	v->started = uv_now(wf->loop);
	v->delay = wf->verify_first_ms;
	v->refs = 1; /* the timer */
	uv_timer_init(wf->loop, &v->timer);
	v->timer.data = v;
	workflow__link_add(wf, &v->link, verify_stop);
	/* the first look right away: a service already steady reports at once */
	uv_timer_start(&v->timer, verify_poll, 0, 0);
}

