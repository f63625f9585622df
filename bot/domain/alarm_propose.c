/* alarm_propose.c - the on_alarm_* policy: after a new episode's post,
 * the bot opens the approval gate itself through the path a person's
 * command takes (wf_request_start; on_alarm_action: scale, restart or
 * rollback; requester "alarm:<name>"), at most once per service per cooldown (a store record,
 * written once the gate opened), never while a request is open, never once
 * the alarm changed; the episode's thread says what was proposed or why
 * not. */
#include "bot/domain/alarm_internal.h"
#include "bot/base/duration.h"
#include "bot/base/log.h"
#include "bot/domain/card.h"
#include "bot/domain/workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the proposal (on_alarm_* policy) ------------------------------------ */

/* Does the policy propose a scale (on_alarm_scale_to/by), or another
 * action (on_alarm_action: restart, rollback)? */
static bool proposes_scale(const struct config_service *s)
{
	return !s->on_alarm_action || strcmp(s->on_alarm_action, STORE_ACTION_SCALE) == 0;
}

static void on_note(void *ud, int rc, const char *ts, const char *detail)
{
	struct job *j = ud;

	(void)ts;
	if (!alarm__job_live(j))
		return;
	if (rc)
		log_warn("alarm.propose", "alarm=%s what=thread_line error=%s", LOG_Q(j->ch.name),
			 LOG_Q(detail ? detail : bot_err_name(rc)));
	alarm__job_done(j, "posted");
}

/* The proposal's outcome as a line in the episode's thread; the job ends
 * once it is posted. */
static void propose_say(struct job *j, const char *outcome, const struct chat_text *t)
{
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = t};
	struct chat_message m = {.channel = jstr(j->put, "channel"), .thread_ts = jstr(j->put, "ts"),
				 .rich = t, .blocks = &b, .n_blocks = 1, .urgent = true};

	log_info("alarm.propose", "alarm=%s service=%s outcome=%s target=%d", LOG_Q(j->ch.name),
		 LOG_Q(j->svc->name), outcome, j->prop_target);
	if (chat_post(j->ai->chat, &m, on_note, j) != BOT_EOK)
		alarm__job_done(j, "posted");
}

static void propose_not(struct job *j, const char *outcome, const struct chat_text *why)
{
	struct chat_text t;

	chat_text_init(&t);
	chat_text_bold(&t, "Not proposed");
	chat_text_printf(&t, " (on_alarm policy): ");
	chat_text_cat(&t, why);
	propose_say(j, outcome, &t);
}

/* The gate is open: the cooldown starts now (a store record per service,
 * written conditionally on the version read before). */
static void on_prop_put(void *ud, struct store_req *r)
{
	struct job *j = ud;
	struct chat_text t;
	char d[DURATION_FMT_MAX];

	if (!alarm__job_live(j))
		return;
	if (r->rc || r->res != STORE_DONE)
		/* the gate is open either way; another replica's proposal (LOST)
		 * could not have opened one too: the service is held */
		log_info("alarm.propose", "alarm=%s cooldown_record=%s", LOG_Q(j->ch.name),
			 r->rc ? "store_error" : "lost");
	chat_text_init(&t);
	chat_text_bold(&t, "Proposed");
	duration_format(j->svc->on_alarm_timer_ms, d, sizeof d);
	char what[300];
	if (proposes_scale(j->svc))
		snprintf(what, sizeof what, "scale %s to %d", j->svc->name, j->prop_target);
	else
		snprintf(what, sizeof what, "%s %s", j->svc->on_alarm_action, j->svc->name);
	chat_text_printf(&t, " (on_alarm policy): request #%llu to %s. Any approver may approve "
			 "or deny on its card; without a decision the timer approves it in %s.",
			 (unsigned long long)j->prop_gate, what, d);
	propose_say(j, "proposed", &t);
}

static void on_proposed(void *ud, uint64_t gate_id, const struct chat_text *why)
{
	struct job *j = ud;
	json_t *next;
	char *text;

	if (!alarm__job_live(j))
		return;
	if (!gate_id) {
		if (why)
			propose_not(j, "refused", why);
		else
			alarm__job_done(j, "posted");
		return;
	}
	j->prop_gate = gate_id;
	next = json_pack("{s:I, s:s, s:I, s:I}", "at", (json_int_t)now_ms(j->ai), "alarm",
			 j->ch.name, "episode", (json_int_t)jint(j->put, "episode"), "gate",
			 (json_int_t)gate_id);
	text = next ? json_dumps(next, JSON_COMPACT) : NULL;
	json_decref(next);
	if (!text || store_alarm_put_async(j->ai->store, j->prop_key, j->prop_version, text,
					   on_prop_put, j) != BOT_EOK)
		on_prop_put(j, &(struct store_req){.rc = BOT_ENOMEM});
	free(text);
}

/* The alarm is still in ALARM: open the request as /scale would. */
static void on_prop_alarm(void *ud, struct store_req *r)
{
	struct job *j = ud;
	struct bot_error err = {0};
	char reason[400];
	char user[300];
	json_t *now = NULL;

	if (!alarm__job_live(j))
		return;
	if (r->rc == BOT_EOK && r->alarm.body)
		now = json_loads(r->alarm.body, 0, NULL);
	if (!now || jint(now, "changed_at") != j->ch.at) {
		struct chat_text t;
		chat_text_init(&t);
		chat_text_printf(&t, "the alarm changed (%s) before the request was opened.",
				 now ? jstr(now, "state") : "unreadable");
		json_decref(now);
		propose_not(j, "alarm_changed", &t);
		return;
	}
	json_decref(now);
	snprintf(user, sizeof user, "%s%s", CARD_ACTOR_ALARM, j->ch.name);
	snprintf(reason, sizeof reason, "%s: %s", j->ch.name, j->ch.reason);
	struct wf_request req = {
		.svc = j->svc, .action = j->svc->on_alarm_action, .user = user,
		.channel = jstr(j->put, "channel"), .args = {.count = j->prop_target},
		.timer_ms = j->svc->on_alarm_timer_ms, .reason = reason,
		.done = on_proposed, .done_ud = j,
	};
	if (wf_request_start(j->ai->wf, &req, &err) != BOT_EOK) {
		struct chat_text t;
		chat_text_init(&t);
		chat_text_printf(&t, "%s.", err.msg);
		propose_not(j, "refused", &t);
	}
}

/* The cooldown: the service's last proposal. */
static void on_prop_get(void *ud, struct store_req *r)
{
	struct job *j = ud;
	struct alarm_intake *ai;
	json_t *last = NULL;

	if (!alarm__job_live(j))
		return;
	ai = j->ai;
	if (r->rc) {
		alarm__job_done(j, "posted");
		return;
	}
	if (r->alarm.body)
		last = json_loads(r->alarm.body, 0, NULL);
	int64_t at = jint(last, "at");
	if (at && now_ms(ai) - at < (int64_t)j->svc->on_alarm_cooldown_ms) {
		struct chat_text t;
		char d[DURATION_FMT_MAX];
		chat_text_init(&t);
		duration_format(j->svc->on_alarm_cooldown_ms, d, sizeof d);
		chat_text_printf(&t, "the last proposal for %s was at ", j->svc->name);
		chat_text_date(&t, at / 1000);
		chat_text_printf(&t, " (by alarm %s); the policy waits %s between proposals.",
				 jstr(last, "alarm") ? jstr(last, "alarm") : "?", d);
		json_decref(last);
		propose_not(j, "cooldown", &t);
		return;
	}
	json_decref(last);
	j->prop_version = r->alarm.version;
	if (store_alarm_get_async(ai->store, j->ch.arn, on_prop_alarm, j) != BOT_EOK)
		alarm__job_done(j, "posted");
}

/* The episode is posted and the service's policy is on: what would be
 * proposed, then the cooldown (a store record per service). */
void alarm__propose(struct job *j)
{
	const struct config_service *s = j->svc;
	int desired = (int)jint(j->put, "desired"), target;
	struct chat_text t;

	chat_text_init(&t);
	if (!json_object_get(j->put, "desired")) {
		chat_text_printf(&t, "%s could not be read when the alarm fired.", s->name);
		propose_not(j, "unread", &t);
		return;
	}
	if (!proposes_scale(s)) {
		target = 0; /* the action prepares its own parameters */
	} else if (s->on_alarm_scale_to > 0) {
		target = s->on_alarm_scale_to < s->max_desired ? s->on_alarm_scale_to : s->max_desired;
	} else {
		double want = (double)desired * s->on_alarm_factor;
		target = (int)want;
		if ((double)target < want)
			target++;
		if (target <= desired)
			target = desired + 1;
		if (target > s->max_desired)
			target = s->max_desired;
	}
	j->prop_target = target;
	if (proposes_scale(s) && target <= desired) {
		chat_text_printf(&t, "%s already has %d desired tasks (the policy's target is %d%s).",
				 s->name, desired, target,
				 s->on_alarm_scale_to > 0 ? "" : ", within max_desired");
		propose_not(j, "at_target", &t);
		return;
	}
	size_t n = strlen("proposal:") + strlen(s->name) + 1;
	if (!(j->prop_key = malloc(n))) {
		alarm__job_done(j, "posted");
		return;
	}
	snprintf(j->prop_key, n, "proposal:%s", s->name);
	if (store_alarm_get_async(j->ai->store, j->prop_key, on_prop_get, j) != BOT_EOK)
		alarm__job_done(j, "posted");
}

