/* alarm_intake.c - CloudWatch alarms into the service's channel (see
 * alarm_intake.h).
 *
 * One change is one job: read the alarm's record, judge the change against
 * it (stale, the same again, or new: which effect), write the new record
 * conditionally on the version read - with the effect pending and claimed
 * by this process - do the effect (post, or a thread line and the post
 * updated), write the record again without the pending effect, and only
 * then delete the queue message. A lost write means another replica moved
 * the record first: read again, judge again.
 *
 * The record (the store keeps it as text; only this file reads it):
 *   service, name, state, changed_at          the last change applied
 *   episode, alarm_at, ok_at, flaps           the episode it belongs to
 *   reason, watch, description, region, account, evidence, suggested,
 *   read_at                                   what the post shows
 *   channel, ts                               the post (once posted)
 *   pending, claim, claim_until               the effect owed, and by whom
 */
#include "bot/domain/alarm_intake.h"
#include "bot/base/duration.h"
#include "bot/base/log.h"
#include "bot/domain/card.h"
#include "bot/domain/findings.h"
#include "bot/domain/service_read.h"
#include "bot/domain/workflow.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CLAIM_MS   60000u
#define DEFAULT_RETRY_MS   1000u
#define MAX_RETRY_MS       60000u
#define VISIBILITY_S       60    /* a message taken is ours this long */
#define BUSY_DEFER_S       30    /* another replica is on it: look again then */
#define RECEIVE_MAX        10
#define JOBS_MAX           32    /* changes handled at once; polling waits beyond */
#define TRIES_MAX          8     /* lost writes before giving up this delivery */
/* The record after a post failed to be written: tried again this often
 * (200 ms, doubling) before the job gives up - then the message comes back
 * and the post is made again, which is what the retries spare. */
#define SETTLE_TRIES       5
#define SETTLE_FIRST_MS    200
/* A notification this close after the time DescribeAlarms gave the same
 * state is that transition; later, it is a new one (an OK between them
 * was lost). */
#define DESCRIBE_SLACK_MS  60000

enum effect { EF_NONE = 0, EF_POST, EF_REPLY };
static const char *const effect_name[] = {"", "post", "reply"};

struct alarm_intake {
	uv_loop_t *loop;
	struct store *store;
	struct chat *chat;
	struct cloud *cloud;
	struct service_reads *reads;
	struct workflow *wf;
	struct config *cfg;
	char owner[160];
	uint64_t claim_ms, retry_first_ms, retry_ms;
	uv_timer_t timer, rtimer;     /* poll retry; reconcile */
	int closing;                  /* timers whose close has not run yet */
	bool destroyed;               /* freed once they have */
	uint64_t job_seq;
	char *poll_url;               /* the queue the receive in flight polls */
	bool timer_open, started, stopped, polling, poll_failing;
	bool reconciling;
	struct job *jobs;
	struct alarm_intake_stats st;
};

/* The change being handled, as owned copies. */
struct change {
	char *arn, *name, *description, *region, *account, *state, *reason, *watch;
	int64_t at;
};

struct job {
	struct alarm_intake *ai;  /* NULL once the intake is gone */
	struct job *prev, *next;
	struct config *cfg;       /* a reference: svc points into it */
	const struct config_service *svc;
	char *channel;            /* where a new episode is posted */
	struct change ch;
	char *queue_url, *receipt, *msg_id; /* NULL when not from the queue */
	void (*done)(void *ud, int rc);
	void *done_ud;
	int tries;
	uint64_t version;         /* of the record as read (0: none) */
	json_t *rec;              /* the record as read; NULL: none */
	json_t *put;              /* the record being written */
	enum effect effect;
	bool reopened;            /* EF_REPLY: an ALARM that reopened the episode */
	struct store_gate *gates; /* OK: the service's requests during the episode */
	size_t n_gates;
	char *prop_key;           /* the service's proposal record */
	uint64_t prop_version;    /* as read before the proposal */
	uint64_t prop_gate;
	int prop_target;
	bool from_describe;       /* found by the reconcile loop */
	char claim[200];          /* this job in claims: owner#seq */
	uv_timer_t *retry;        /* the record's next try after a failure */
	int settle_tries;
};

static void poll_now(struct alarm_intake *ai);
static void job_get(struct job *j);

/* ---- small helpers -------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
	else
		json_object_del(o, k);
}

static void set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

static int64_t now_ms(const struct alarm_intake *ai)
{
	return store_now(ai->store);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* "12m3s" for people: whole seconds. */
static void fmt_span(int64_t ms, char *buf, size_t n)
{
	if (ms < 0)
		ms = 0;
	if (duration_format((uint64_t)(ms / 1000 * 1000), buf, n) != BOT_EOK)
		snprintf(buf, n, "?");
}

static const char *comparison_sign(const char *op)
{
	static const struct { const char *op, *sign; } t[] = {
		{"GreaterThanThreshold", ">"}, {"GreaterThanOrEqualToThreshold", ">="},
		{"LessThanThreshold", "<"}, {"LessThanOrEqualToThreshold", "<="},
	};
	for (size_t i = 0; op && i < BOT_ARRAY_LEN(t); i++)
		if (strcmp(op, t[i].op) == 0)
			return t[i].sign;
	return op;
}

/* "AWS/ECS CPUUtilization (Average) > 80 for 3 x 60 s" */
static char *describe_watch(const struct cloud_alarm_change *c)
{
	char buf[512];
	size_t o = 0;

#define ADD(...) o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, __VA_ARGS__)
	buf[0] = '\0';
	if (!c->metric_math && !c->metric)
		return strdup(""); /* not told (the console's) */
	if (c->metric_math)
		ADD("a metric math expression");
	else
		ADD("%s %s", c->namespace_ ? c->namespace_ : "?", c->metric ? c->metric : "?");
	if (c->statistic)
		ADD(" (%s)", c->statistic);
	if (c->has_threshold && c->comparison)
		ADD(" %s %g", comparison_sign(c->comparison), c->threshold);
	if (c->evaluation_periods > 0 && c->period_s > 0)
		ADD(" for %d x %d s", c->evaluation_periods, c->period_s);
#undef ADD
	return strdup(buf);
}

static const char *dim(const struct cloud_alarm_change *c, const char *name)
{
	for (size_t i = 0; i < c->n_dims; i++)
		if (c->dims[i].name && strcmp(c->dims[i].name, name) == 0)
			return c->dims[i].value;
	return NULL;
}

/* ---- the job's life ------------------------------------------------- */

static void change_free(struct change *c)
{
	free(c->arn);
	free(c->name);
	free(c->description);
	free(c->region);
	free(c->account);
	free(c->state);
	free(c->reason);
	free(c->watch);
}

static void retry_closed(uv_handle_t *h)
{
	free(h);
}

static void retry_stop(struct job *j)
{
	if (j->retry) {
		uv_timer_stop(j->retry);
		uv_close((uv_handle_t *)j->retry, retry_closed);
		j->retry = NULL;
	}
}

static void job_free(struct job *j)
{
	retry_stop(j);
	change_free(&j->ch);
	free(j->queue_url);
	free(j->receipt);
	free(j->msg_id);
	free(j->channel);
	free(j->prop_key);
	json_decref(j->rec);
	json_decref(j->put);
	store_gate_array_free(j->gates, j->n_gates);
	config_unref(j->cfg);
	free(j);
}

/* The job is over: tell its caller, let polling go on. */
static void job_end(struct job *j, int rc)
{
	struct alarm_intake *ai = j->ai;

	if (ai) {
		if (j->prev)
			j->prev->next = j->next;
		else
			ai->jobs = j->next;
		if (j->next)
			j->next->prev = j->prev;
		ai->st.in_flight--;
		if (j->done)
			j->done(j->done_ud, rc);
	}
	job_free(j);
	if (ai && !ai->stopped)
		poll_now(ai);
}

/* Is the job still wanted? (Its answers keep coming while stopping.) */
static bool job_live(struct job *j)
{
	if (j->ai && !j->ai->stopped)
		return true;
	job_end(j, BOT_ECANCELLED);
	return false;
}

static void on_deleted(void *ud, const struct cloud_error *err)
{
	struct job *j = ud;

	if (err) {
		/* it comes back and is found done (a duplicate) */
		log_warn("alarm.delete", "alarm=%s message=%s error=%s", LOG_Q(j->ch.name),
			 LOG_Q(j->msg_id), LOG_Q(err->message));
	} else if (j->ai) {
		j->ai->st.deleted++;
	}
	job_end(j, BOT_EOK);
}

/* Its effect is committed (or there was none): the message may go. */
static void job_done(struct job *j, const char *outcome)
{
	struct cloud *cl = j->ai->cloud;

	log_info("alarm", "alarm=%s service=%s state=%s outcome=%s%s%s", LOG_Q(j->ch.name),
		 LOG_Q(j->svc ? j->svc->name : NULL), LOG_Q(j->ch.state), outcome,
		 j->msg_id ? " message=" : "", j->msg_id ? LOG_Q(j->msg_id) : "");
	if (j->receipt && cl->ops->queue_delete &&
	    cl->ops->queue_delete(cl, j->queue_url, j->receipt, on_deleted, j) == BOT_EOK)
		return;
	job_end(j, BOT_EOK);
}

static void on_deferred(void *ud, const struct cloud_error *err)
{
	(void)err; /* it comes back at its visibility timeout anyway */
	job_end(ud, BOT_EBUSY);
}

/* Not done this time: the message (not deleted) comes back, sooner when
 * defer_s is set. */
static void job_fail(struct job *j, int rc, const char *what, const char *detail)
{
	j->ai->st.failed++;
	log_warn("alarm", "alarm=%s service=%s state=%s outcome=retry step=%s error=%s",
		 LOG_Q(j->ch.name), LOG_Q(j->svc ? j->svc->name : NULL), LOG_Q(j->ch.state), what,
		 LOG_Q(detail ? detail : bot_err_name(rc)));
	job_end(j, rc);
}

/* Another process is doing this change's effect: look again later. */
static void job_busy(struct job *j)
{
	struct cloud *cl = j->ai->cloud;

	log_info("alarm", "alarm=%s state=%s outcome=busy claim=%s", LOG_Q(j->ch.name),
		 LOG_Q(j->ch.state), LOG_Q(jstr(j->rec, "claim")));
	if (j->receipt && cl->ops->queue_defer &&
	    cl->ops->queue_defer(cl, j->queue_url, j->receipt, BUSY_DEFER_S, on_deferred, j) ==
		    BOT_EOK)
		return;
	job_end(j, BOT_EBUSY);
}

/* ---- what people see -------------------------------------------------- */

/* The episode's post, from the record. */
static int post_episode(struct job *j, chat_result_cb cb)
{
	const json_t *p = j->put;
	const char *name = jstr(p, "name"), *reason = jstr(p, "reason");
	const char *desc = jstr(p, "description"), *evidence = jstr(p, "evidence");
	int64_t alarm_at = jint(p, "alarm_at"), ok_at = jint(p, "ok_at");
	int flaps = (int)jint(p, "flaps"), suggested = (int)jint(p, "suggested");
	bool open = ok_at == 0;
	char header[160], span[DURATION_FMT_MAX], label[64], value[320];
	struct chat_text body, read, foot, fallback;
	struct chat_block blocks[6];
	size_t nb = 0;

	snprintf(header, sizeof header, "%s: %s", open ? "ALARM" : "Recovered",
		 name ? name : "?");
	chat_text_init(&body);
	chat_text_bold(&body, "%s", j->svc->name);
	if (open) {
		chat_text_printf(&body, ": alarm %s is in ALARM since ", name);
		chat_text_date(&body, alarm_at / 1000);
		chat_text_printf(&body, ".");
	} else {
		fmt_span(ok_at - jint(p, "last_alarm_at"), span, sizeof span);
		chat_text_printf(&body, ": alarm %s was in ALARM from ", name);
		chat_text_date(&body, alarm_at / 1000);
		chat_text_printf(&body, "; OK since ");
		chat_text_date(&body, ok_at / 1000);
		chat_text_printf(&body, " (after %s in ALARM).", span);
	}
	chat_text_printf(&body, "\nReason: %s", reason && *reason ? reason : "(none given)");
	if (jstr(p, "watch") && *jstr(p, "watch"))
		chat_text_printf(&body, "\nWatching: %s", jstr(p, "watch"));
	if (desc && *desc)
		chat_text_printf(&body, "\n%s", desc);
	if (flaps > 0)
		chat_text_printf(&body, "\nBack in ALARM %d time%s soon after OK; see the thread.",
				 flaps, flaps == 1 ? "" : "s");
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_HEADER, .text = header};
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &body};

	chat_text_init(&read);
	chat_text_printf(&read, "What the bot read when it fired");
	if (jint(p, "read_at") > 0) {
		chat_text_printf(&read, " (from AWS ");
		chat_text_date(&read, jint(p, "read_at") / 1000);
		chat_text_printf(&read, ")");
	}
	chat_text_printf(&read, ":");
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .rich = &read};
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_PLAIN,
					   .text = evidence && *evidence ? evidence : "(nothing)"};

	chat_text_init(&foot);
	chat_text_printf(&foot, "Alarm episode %lld · %s · account %s · the thread is the record",
			 (long long)jint(p, "episode"), jstr(p, "region"), jstr(p, "account"));
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .rich = &foot};

	struct chat_button btn = {
		.action_id = "investigate.scale", .text = label, .value = value,
		.style = CHAT_BUTTON_PRIMARY,
	};
	if (open && suggested > 0) {
		snprintf(label, sizeof label, "Scale to %d", suggested);
		snprintf(value, sizeof value, "%s %d", j->svc->name, suggested);
		blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_ACTIONS, .buttons = &btn,
						   .n_buttons = 1};
	}
	chat_text_init(&fallback);
	chat_text_printf(&fallback, "%s (%s)", header, j->svc->name);
	struct chat_message m = {.channel = jstr(p, "channel"), .rich = &fallback,
				 .blocks = blocks, .n_blocks = nb, .urgent = true};
	if (j->effect == EF_POST)
		return chat_post(j->ai->chat, &m, cb, j);
	return chat_update(j->ai->chat, m.channel, jstr(p, "ts"), &m, NULL, NULL);
}

/* What was asked of the service while the episode was open: its requests
 * (newest first), each with its state and a link to its card. */
static void meanwhile(struct job *j, struct chat_text *t)
{
	int64_t since = jint(j->put, "alarm_at");
	size_t shown = 0;
	char url[512];

	for (size_t i = 0; i < j->n_gates; i++) {
		const struct store_gate *g = &j->gates[i];
		if (!g->service || strcmp(g->service, j->svc->name) != 0 || g->created_at < since)
			continue;
		chat_text_printf(t, shown++ ? "; " : "\nMeanwhile: ");
		if (g->channel && g->message_ts &&
		    chat_permalink(j->ai->chat, g->channel, g->message_ts, url, sizeof url) == BOT_EOK) {
			char label[32];
			snprintf(label, sizeof label, "request #%llu", (unsigned long long)g->id);
			chat_text_link(t, url, label);
		} else {
			chat_text_printf(t, "request #%llu", (unsigned long long)g->id);
		}
		if (!g->action || strcmp(g->action, STORE_ACTION_SCALE) == 0)
			chat_text_printf(t, " to scale to %d (%s)", g->target,
					 store_state_name(g->state));
		else
			chat_text_printf(t, " to %s (%s)", g->action, store_state_name(g->state));
	}
	if (!shown)
		chat_text_printf(t, "\nNo request was made meanwhile.");
}

/* One line in the episode's thread for the change. */
static int post_line(struct job *j, chat_result_cb cb)
{
	const json_t *p = j->put;
	const char *reason = j->ch.reason && *j->ch.reason ? j->ch.reason : "(none given)";
	char span[DURATION_FMT_MAX];
	struct chat_text t;

	chat_text_init(&t);
	chat_text_bold(&t, "%s", j->ch.state);
	chat_text_printf(&t, " at ");
	chat_text_date(&t, j->ch.at / 1000);
	chat_text_printf(&t, ": %s", reason);
	if (strcmp(j->ch.state, "OK") == 0) {
		fmt_span(j->ch.at - jint(p, "last_alarm_at"), span, sizeof span);
		chat_text_printf(&t, "\nIt was in ALARM for %s.", span);
		meanwhile(j, &t);
	} else if (j->reopened) {
		int flaps = (int)jint(p, "flaps");
		chat_text_printf(&t, "\nBack in ALARM within the flap window (%d time%s in this "
				 "episode).", flaps, flaps == 1 ? "" : "s");
	}
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = &t};
	struct chat_message m = {.channel = jstr(p, "channel"), .thread_ts = jstr(p, "ts"),
				 .rich = &t, .blocks = &b, .n_blocks = 1, .urgent = true};
	return chat_post(j->ai->chat, &m, cb, j);
}

/* ---- the effect, then the record without it --------------------------- */

static void propose(struct job *j);

static void settle(struct job *j, const char *ts);

static void settle_again(uv_timer_t *t)
{
	struct job *j = t->data;

	retry_stop(j);
	if (job_live(j))
		settle(j, NULL);
}

/* The effect is out, its record not written: try again before giving up
 * (which would make whoever gets the message next post it again). */
static void settle_failed(struct job *j, int rc, const char *why)
{
	struct alarm_intake *ai = j->ai;

	if (++j->settle_tries < SETTLE_TRIES && (j->retry = malloc(sizeof *j->retry))) {
		ai->st.settle_retries++;
		log_warn("alarm", "alarm=%s state=%s step=record error=%s retry_ms=%d",
			 LOG_Q(j->ch.name), LOG_Q(j->ch.state), LOG_Q(why ? why : bot_err_name(rc)),
			 SETTLE_FIRST_MS << (j->settle_tries - 1));
		uv_timer_init(ai->loop, j->retry);
		j->retry->data = j;
		uv_timer_start(j->retry, settle_again,
			       (uint64_t)SETTLE_FIRST_MS << (j->settle_tries - 1), 0);
		return;
	}
	job_fail(j, rc, "record", why);
}

static void on_settled(struct store_req *r, void *ud)
{
	struct job *j = ud;

	if (!job_live(j))
		return;
	if (r->rc)
		settle_failed(j, r->rc, r->err.msg);
	else if (r->res == STORE_DONE && j->effect == EF_POST && jint(j->put, "ok_at") == 0 &&
		 config_alarm_policy_on(j->svc) && j->ai->wf)
		propose(j);
	else
		/* LOST: our claim ran out and another process took the effect
		 * over; it is done either way */
		job_done(j, r->res == STORE_DONE ? (j->effect == EF_POST ? "posted" : "replied")
						 : "done_by_other");
}

static void on_settled_cb(void *ud, struct store_req *r)
{
	on_settled(r, ud);
}

static void settle(struct job *j, const char *ts)
{
	char *text;
	int rc;

	if (ts) {
		set_str(j->put, "ts", ts);
	}
	json_object_del(j->put, "pending");
	json_object_del(j->put, "claim");
	json_object_del(j->put, "claim_until");
	text = json_dumps(j->put, JSON_COMPACT);
	rc = text ? store_alarm_put_async(j->ai->store, j->ch.arn, j->version, text,
					  on_settled_cb, j)
		  : BOT_ENOMEM;
	free(text);
	if (rc)
		settle_failed(j, rc, NULL);
}

static void on_chat(void *ud, int rc, const char *ts, const char *detail)
{
	struct job *j = ud;

	if (!job_live(j))
		return;
	if (rc) {
		job_fail(j, rc, effect_name[j->effect], detail);
		return;
	}
	if (j->effect == EF_POST) {
		j->ai->st.posted++;
		settle(j, ts);
	} else {
		j->ai->st.replied++;
		(void)post_episode(j, NULL); /* the post says how it stands */
		settle(j, NULL);
	}
}

static void on_recent(void *ud, struct store_req *r)
{
	struct job *j = ud;

	if (!job_live(j))
		return;
	if (r->rc == BOT_EOK)
		store_req_take_gates(r, &j->gates, &j->n_gates);
	/* else the line goes without what was done meanwhile */
	if (post_line(j, on_chat))
		job_fail(j, BOT_ENOMEM, effect_name[j->effect], NULL);
}

static void do_effect(struct job *j)
{
	int rc;

	if (j->effect == EF_REPLY && strcmp(j->ch.state, "OK") == 0 &&
	    store_gate_recent_async(j->ai->store, 50, on_recent, j) == BOT_EOK)
		return;

	switch (j->effect) {
	case EF_NONE:
		job_done(j, "recorded");
		return;
	case EF_POST:
		rc = post_episode(j, on_chat);
		break;
	case EF_REPLY:
	default:
		rc = post_line(j, on_chat);
		break;
	}
	if (rc)
		job_fail(j, rc, effect_name[j->effect], NULL);
}

/* ---- the proposal (on_alarm_* policy) ------------------------------------ */

static void on_note(void *ud, int rc, const char *ts, const char *detail)
{
	struct job *j = ud;

	(void)ts;
	if (!job_live(j))
		return;
	if (rc)
		log_warn("alarm.propose", "alarm=%s what=thread_line error=%s", LOG_Q(j->ch.name),
			 LOG_Q(detail ? detail : bot_err_name(rc)));
	job_done(j, "posted");
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
		job_done(j, "posted");
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

	if (!job_live(j))
		return;
	if (r->rc || r->res != STORE_DONE)
		/* the gate is open either way; another replica's proposal (LOST)
		 * could not have opened one too: the service is held */
		log_info("alarm.propose", "alarm=%s cooldown_record=%s", LOG_Q(j->ch.name),
			 r->rc ? "store_error" : "lost");
	chat_text_init(&t);
	chat_text_bold(&t, "Proposed");
	duration_format(j->svc->on_alarm_timer_ms, d, sizeof d);
	chat_text_printf(&t, " (on_alarm policy): request #%llu to scale %s to %d. Any approver "
			 "may approve or deny on its card; without a decision the timer approves "
			 "it in %s.", (unsigned long long)j->prop_gate, j->svc->name, j->prop_target,
			 d);
	propose_say(j, "proposed", &t);
}

static void on_proposed(void *ud, uint64_t gate_id, const struct chat_text *why)
{
	struct job *j = ud;
	json_t *next;
	char *text;

	if (!job_live(j))
		return;
	if (!gate_id) {
		if (why)
			propose_not(j, "refused", why);
		else
			job_done(j, "posted");
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

	if (!job_live(j))
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
	struct wf_scale req = {
		.svc = j->svc, .user = user, .channel = jstr(j->put, "channel"),
		.target = j->prop_target, .timer_ms = j->svc->on_alarm_timer_ms, .reason = reason,
		.done = on_proposed, .done_ud = j,
	};
	if (wf_scale_start(j->ai->wf, &req, &err) != BOT_EOK) {
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

	if (!job_live(j))
		return;
	ai = j->ai;
	if (r->rc) {
		job_done(j, "posted");
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
		job_done(j, "posted");
}

/* The episode is posted and the service's policy is on: what would be
 * proposed, then the cooldown (a store record per service). */
static void propose(struct job *j)
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
	if (s->on_alarm_scale_to > 0) {
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
	if (target <= desired) {
		chat_text_printf(&t, "%s already has %d desired tasks (the policy's target is %d%s).",
				 s->name, desired, target,
				 s->on_alarm_scale_to > 0 ? "" : ", within max_desired");
		propose_not(j, "at_target", &t);
		return;
	}
	size_t n = strlen("proposal:") + strlen(s->name) + 1;
	if (!(j->prop_key = malloc(n))) {
		job_done(j, "posted");
		return;
	}
	snprintf(j->prop_key, n, "proposal:%s", s->name);
	if (store_alarm_get_async(j->ai->store, j->prop_key, on_prop_get, j) != BOT_EOK)
		job_done(j, "posted");
}

/* ---- the conditional write -------------------------------------------- */

static void on_put(void *ud, struct store_req *r)
{
	struct job *j = ud;

	if (!job_live(j))
		return;
	if (r->rc) {
		job_fail(j, r->rc, "record", r->err.msg);
		return;
	}
	if (r->res != STORE_DONE) {
		/* another process moved the record first: read, judge again */
		if (++j->tries >= TRIES_MAX) {
			job_fail(j, BOT_EBUSY, "record", "the record kept changing");
			return;
		}
		json_decref(j->rec);
		json_decref(j->put);
		j->rec = j->put = NULL;
		job_get(j);
		return;
	}
	j->version = r->alarm.version;
	do_effect(j);
}

static void write_record(struct job *j)
{
	char *text;
	int rc;

	if (j->effect == EF_NONE) {
		/* whatever was owed for an earlier change is superseded */
		json_object_del(j->put, "pending");
		json_object_del(j->put, "claim");
		json_object_del(j->put, "claim_until");
	} else {
		set_str(j->put, "pending", effect_name[j->effect]);
		set_str(j->put, "claim", j->claim);
		set_int(j->put, "claim_until", now_ms(j->ai) + (int64_t)j->ai->claim_ms);
	}
	text = json_dumps(j->put, JSON_COMPACT);
	rc = text ? store_alarm_put_async(j->ai->store, j->ch.arn, j->version, text, on_put, j)
		  : BOT_ENOMEM;
	free(text);
	if (rc)
		job_fail(j, rc, "record", NULL);
}

/* ---- a new episode: read the service first ---------------------------- */

static void on_read(void *ud, const struct service_read *r)
{
	struct job *j = ud;
	struct chat_text t;
	char ev[CHAT_TEXT_MAX], when[32];
	int suggested = 0;

	if (!job_live(j))
		return;
	chat_text_init(&t);
	if (r->svc) {
		struct findings f;
		findings_analyse(r->svc, r->metrics, r->alarms, r->n_alarms, j->svc->max_desired, &f);
		findings_render(r->service, r->cluster, r->svc, r->metrics, r->alarms, r->n_alarms,
				&f, &t);
		suggested = f.suggested;
		service_read_when(r, when, sizeof when);
	} else {
		service_read_explain(r, &t);
		chat_text_printf(&t, ".");
	}
	chat_text_plain(&t, ev, sizeof ev);
	set_str(j->put, "evidence", ev);
	set_int(j->put, "suggested", suggested);
	set_int(j->put, "read_at", r->svc ? r->read_at_ms : 0);
	if (r->svc)
		set_int(j->put, "desired", r->svc->desired);
	write_record(j);
}

/* ---- judging a change against the record ------------------------------ */

static json_t *new_episode(struct job *j, int64_t episode)
{
	json_t *p = json_object();

	if (!p)
		return NULL;
	set_str(p, "service", j->svc->name);
	set_str(p, "name", j->ch.name);
	set_int(p, "episode", episode);
	set_int(p, "alarm_at", j->ch.at);
	set_int(p, "last_alarm_at", j->ch.at);
	set_int(p, "ok_at", 0);
	set_int(p, "flaps", 0);
	set_str(p, "reason", j->ch.reason);
	set_str(p, "watch", j->ch.watch);
	set_str(p, "description", j->ch.description);
	set_str(p, "region", j->ch.region);
	set_str(p, "account", j->ch.account);
	set_str(p, "channel", j->channel);
	return p;
}

static void judge(struct job *j)
{
	struct alarm_intake *ai = j->ai;
	const json_t *rec = j->rec;
	const char *state = j->ch.state, *rec_state = jstr(rec, "state");
	int64_t rec_at = jint(rec, "changed_at");
	bool alarm = strcmp(state, "ALARM") == 0, ok = strcmp(state, "OK") == 0;
	bool posted = jstr(rec, "ts") != NULL;
	bool open = rec && posted && jint(rec, "ok_at") == 0;

	if (rec && j->ch.at < rec_at) {
		ai->st.stale++;
		job_done(j, "stale");
		return;
	}
	/* DescribeAlarms tells the state now, with a time that need not be the
	 * notification's to the millisecond: it only fills in a transition the
	 * queue missed, one whose state differs from the record's; and the
	 * notification of a transition it filled in is that transition */
	const char *src = jstr(rec, "src");
	if (rec && rec_state && strcmp(rec_state, state) == 0 && !jstr(rec, "pending") &&
	    (j->from_describe || (src && strcmp(src, "describe") == 0 &&
				  j->ch.at - rec_at <= DESCRIBE_SLACK_MS))) {
		ai->st.duplicate++;
		job_done(j, "duplicate");
		return;
	}
	if (rec && j->ch.at == rec_at && rec_state && strcmp(rec_state, state) == 0) {
		const char *pending = jstr(rec, "pending"), *claim = jstr(rec, "claim");
		if (!pending) {
			ai->st.duplicate++;
			job_done(j, "duplicate");
			return;
		}
		/* a live claim of another job - of another replica, or of this
		 * process handling the same change twice - is busy; this job's
		 * own (a write it lost, that landed) is its to finish */
		if (jint(rec, "claim_until") > now_ms(ai) && claim && strcmp(claim, j->claim) != 0) {
			job_busy(j);
			return;
		}
		/* its effect is owed and nobody holds it: finish it */
		j->effect = strcmp(pending, "post") == 0 ? EF_POST : EF_REPLY;
		j->put = json_deep_copy(rec);
		j->reopened = alarm && jint(rec, "flaps") > 0;
		if (!j->put)
			job_fail(j, BOT_ENOMEM, "judge", NULL);
		else
			write_record(j);
		return;
	}

	/* a change newer than the record's, while an effect is owed for the
	 * one before: let that finish first (if its claim ran out, its owner
	 * died; the change it owed is superseded) */
	if (jstr(rec, "pending") && jint(rec, "claim_until") > now_ms(ai)) {
		job_busy(j);
		return;
	}
	/* an episode whose post a dead replica owed, over by now: posted as
	 * recovered rather than never shown */
	if (ok && rec && !posted && jstr(rec, "pending") && strcmp(jstr(rec, "pending"), "post") == 0 &&
	    jint(rec, "episode") > 0) {
		j->effect = EF_POST;
		if (!(j->put = json_deep_copy(rec))) {
			job_fail(j, BOT_ENOMEM, "judge", NULL);
			return;
		}
		set_int(j->put, "ok_at", j->ch.at);
		set_str(j->put, "state", state);
		set_int(j->put, "changed_at", j->ch.at);
		set_str(j->put, "src", j->from_describe ? "describe" : "queue");
		write_record(j);
		return;
	}
	/* a change newer than the record's */
	if (alarm && !open &&
	    !(rec && posted && j->ch.at - jint(rec, "ok_at") <= (int64_t)j->cfg->alarms.flap_window_ms)) {
		/* a new episode: one post, after reading the service */
		j->effect = EF_POST;
		j->put = new_episode(j, rec ? jint(rec, "episode") + 1 : 1);
	} else {
		j->put = rec ? json_deep_copy(rec) : json_object();
		if (j->put && alarm && !open && rec) {
			/* back in ALARM within the flap window: the same episode */
			j->effect = EF_REPLY;
			j->reopened = true;
			set_int(j->put, "ok_at", 0);
			set_int(j->put, "last_alarm_at", j->ch.at);
			set_int(j->put, "flaps", jint(rec, "flaps") + 1);
		} else if (j->put && open) {
			j->effect = EF_REPLY;
			if (ok)
				set_int(j->put, "ok_at", j->ch.at);
			else if (alarm)
				set_int(j->put, "last_alarm_at", j->ch.at);
		} else if (j->put && !rec) {
			/* OK or INSUFFICIENT_DATA with no episode: only remembered */
			set_str(j->put, "service", j->svc->name);
			set_str(j->put, "name", j->ch.name);
			set_int(j->put, "episode", 0);
		}
	}
	if (!j->put) {
		job_fail(j, BOT_ENOMEM, "judge", NULL);
		return;
	}
	set_str(j->put, "state", state);
	set_int(j->put, "changed_at", j->ch.at);
	set_str(j->put, "src", j->from_describe ? "describe" : "queue");
	set_str(j->put, "last_reason", j->ch.reason);
	if (j->effect == EF_POST) {
		int rc = ai->reads ? service_reads_get(ai->reads, j->svc, true, on_read, j)
				   : service_read_start(ai->cloud, j->svc, on_read, j);
		if (rc)
			job_fail(j, rc, "read", NULL);
		return;
	}
	write_record(j);
}

static void on_get(void *ud, struct store_req *r)
{
	struct job *j = ud;
	json_error_t jerr;

	if (!job_live(j))
		return;
	if (r->rc) {
		job_fail(j, r->rc, "record", r->err.msg);
		return;
	}
	j->version = r->alarm.version;
	j->rec = NULL;
	if (r->alarm.version && r->alarm.body) {
		j->rec = json_loads(r->alarm.body, 0, &jerr);
		if (!json_is_object(j->rec)) {
			/* not ours to repair: say so and start the record afresh */
			log_warn("alarm.record", "alarm=%s result=unreadable error=%s",
				 LOG_Q(j->ch.name), LOG_Q(jerr.text));
			json_decref(j->rec);
			j->rec = json_object();
		}
	}
	judge(j);
}

static void job_get(struct job *j)
{
	int rc = store_alarm_get_async(j->ai->store, j->ch.arn, on_get, j);
	if (rc)
		job_fail(j, rc, "record", NULL);
}

/* Take a change: a job, or counted and dropped when it is of no service. */
static int job_start(struct alarm_intake *ai, const struct cloud_alarm_change *c,
		     const struct cloud_queue_msg *msg, const char *channel,
		     void (*done)(void *ud, int rc), void *ud, bool *unmapped)
{
	struct job *j;
	const struct config_service *svc;

	*unmapped = false;
	svc = config_service_for_alarm(ai->cfg, c->name, dim(c, "ClusterName"),
				       dim(c, "ServiceName"));
	if (svc && svc->channel)
		channel = svc->channel;
	if (!svc || !channel) {
		ai->st.unmapped++;
		log_info("alarm", "alarm=%s state=%s outcome=%s", LOG_Q(c->name), LOG_Q(c->state),
			 svc ? "no_channel" : "unmapped");
		*unmapped = true;
		return BOT_ENOTFOUND;
	}
	if (!(j = calloc(1, sizeof *j)))
		return BOT_ENOMEM;
	j->ai = ai;
	j->cfg = config_ref(ai->cfg);
	j->svc = svc;
	j->done = done;
	j->done_ud = ud;
	j->ch.at = c->changed_at_ms;
	j->ch.arn = dup_or_null(c->arn);
	j->ch.name = dup_or_null(c->name);
	j->ch.description = dup_or_null(c->description);
	j->ch.region = dup_or_null(c->region);
	j->ch.account = dup_or_null(c->account);
	j->ch.state = dup_or_null(c->state);
	j->ch.reason = strdup(c->reason ? c->reason : "");
	j->ch.watch = describe_watch(c);
	j->channel = strdup(channel);
	j->from_describe = c->format && strcmp(c->format, "describe") == 0;
	snprintf(j->claim, sizeof j->claim, "%s#%llu", ai->owner,
		 (unsigned long long)++ai->job_seq);
	if (msg) {
		j->queue_url = dup_or_null(ai->poll_url); /* the one it came from */
		j->receipt = dup_or_null(msg->receipt);
		j->msg_id = dup_or_null(msg->id);
	}
	if (!j->channel || !j->ch.arn || !j->ch.name || !j->ch.state || !j->ch.reason || !j->ch.watch ||
	    (c->description && !j->ch.description) || !j->ch.region || !j->ch.account ||
	    (msg && (!j->queue_url || !j->receipt))) {
		job_free(j);
		return BOT_ENOMEM;
	}
	j->next = ai->jobs;
	if (ai->jobs)
		ai->jobs->prev = j;
	ai->jobs = j;
	ai->st.in_flight++;
	job_get(j);
	return BOT_EOK;
}

int alarm_intake_handle(struct alarm_intake *ai, const struct cloud_alarm_change *ch,
			const char *channel, void (*done)(void *ud, int rc), void *ud)
{
	bool unmapped;

	if (!ai || !ch || !ch->arn || !ch->name || !ch->state || !ch->region || !ch->account)
		return BOT_EINVAL;
	if (ai->stopped)
		return BOT_ESTATE;
	return job_start(ai, ch, NULL, channel, done, ud, &unmapped);
}

/* ---- the reconcile loop: DescribeAlarms as a safety net ----------------- */

static void on_states(void *ud, const struct cloud_error *err,
		      const struct cloud_alarm_change *alarms, size_t n)
{
	struct alarm_intake *ai = ud;
	size_t taken = 0, skipped = 0;

	ai->reconciling = false;
	if (ai->stopped)
		return;
	ai->st.reconciles++;
	if (err) {
		ai->st.reconcile_errors++;
		log_warn("alarm.reconcile", "error=%s message=%s", bot_err_name(err->code),
			 LOG_Q(err->message));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool unmapped;
		/* room is kept for the queue's changes; the next round sees the rest */
		if (ai->st.in_flight + RECEIVE_MAX >= JOBS_MAX) {
			skipped++;
			continue;
		}
		if (job_start(ai, &alarms[i], NULL, NULL, NULL, NULL, &unmapped) == BOT_EOK)
			taken++;
	}
	log_debug("alarm.reconcile", "alarms=%zu handled=%zu deferred=%zu", n, taken, skipped);
}

static void reconcile(uv_timer_t *t)
{
	struct alarm_intake *ai = t->data;
	const struct config *c = ai->cfg;
	struct cloud *cl = ai->cloud;
	const char **names = NULL, **prefixes = NULL;
	char **owned = NULL;
	size_t nn = 0, np = 0, total = 0, no = 0;

	if (ai->stopped || ai->reconciling || !c->alarms.queue_url || !cl->ops->alarm_states)
		return;
	for (size_t i = 0; i < c->n_services; i++)
		total += c->services[i].alarms.n;
	if (!total)
		return; /* nothing listed by name: alarms mapped by dimensions only */
	names = calloc(total, sizeof *names);
	prefixes = calloc(total, sizeof *prefixes);
	owned = calloc(total, sizeof *owned);
	for (size_t i = 0; names && prefixes && owned && i < c->n_services; i++) {
		const struct config_names *l = &c->services[i].alarms;
		for (size_t k = 0; k < l->n; k++) {
			size_t len = strlen(l->ids[k]);
			if (l->ids[k][len - 1] != '*') {
				names[nn++] = l->ids[k];
			} else if ((owned[no] = strndup(l->ids[k], len - 1))) {
				prefixes[np++] = owned[no++];
			}
		}
	}
	if (names && prefixes && owned) {
		ai->reconciling = true;
		if (cl->ops->alarm_states(cl, names, nn, prefixes, np, on_states, ai) != BOT_EOK) {
			ai->reconciling = false;
			ai->st.reconcile_errors++;
		}
	}
	for (size_t i = 0; owned && i < no; i++)
		free(owned[i]);
	free(owned);
	free(names);
	free(prefixes);
}

static void reconcile_arm(struct alarm_intake *ai)
{
	uint64_t every = ai->cfg->alarms.reconcile_ms;

	if (!ai->timer_open || ai->stopped || !ai->started)
		return;
	uv_timer_stop(&ai->rtimer);
	if (ai->cfg->alarms.queue_url && every)
		/* the first round soon after start: what fired while the bot was away */
		uv_timer_start(&ai->rtimer, reconcile, every < 2000 ? every : 2000, every);
}

/* ---- the queue -------------------------------------------------------- */

static void on_unmapped_deleted(void *ud, const struct cloud_error *err)
{
	struct alarm_intake *ai = ud;
	if (!err)
		ai->st.deleted++;
}

static void on_timer(uv_timer_t *t)
{
	poll_now(t->data);
}

static void poll_later(struct alarm_intake *ai)
{
	if (!ai->timer_open || ai->stopped)
		return;
	uv_timer_start(&ai->timer, on_timer, ai->retry_ms, 0);
	ai->retry_ms = ai->retry_ms * 2 > MAX_RETRY_MS ? MAX_RETRY_MS : ai->retry_ms * 2;
}

static void on_received(void *ud, const struct cloud_error *err,
			const struct cloud_queue_msg *msgs, size_t n)
{
	struct alarm_intake *ai = ud;
	struct cloud *cl = ai->cloud;

	ai->polling = false;
	if (ai->stopped)
		return;
	if (err) {
		ai->st.poll_errors++;
		if (!ai->poll_failing)
			log_warn("alarm.poll", "queue=%s error=%s message=%s", LOG_Q(ai->cfg->alarms.queue_url),
				 bot_err_name(err->code), LOG_Q(err->message));
		ai->poll_failing = true;
		poll_later(ai);
		return;
	}
	if (ai->poll_failing)
		log_info("alarm.poll", "queue=%s result=ok", LOG_Q(ai->cfg->alarms.queue_url));
	ai->poll_failing = false;
	ai->retry_ms = ai->retry_first_ms;
	for (size_t i = 0; i < n; i++) {
		const struct cloud_queue_msg *m = &msgs[i];
		bool unmapped = false;
		ai->st.received++;
		if (!m->alarm) {
			ai->st.malformed++;
			/* logged on its first delivery; later ones at debug */
			log_emit(m->receive_count <= 1 ? BOT_LOG_WARN : BOT_LOG_DEBUG, "alarm.malformed",
				 "message=%s receive_count=%d error=%s", LOG_Q(m->id), m->receive_count,
				 LOG_Q(m->error));
			continue;
		}
		int rc = job_start(ai, m->alarm, m, NULL, NULL, NULL, &unmapped);
		if (unmapped && cl->ops->queue_delete)
			(void)cl->ops->queue_delete(cl, ai->poll_url, m->receipt, on_unmapped_deleted,
						    ai);
		else if (rc)
			log_warn("alarm", "alarm=%s outcome=retry error=%s", LOG_Q(m->alarm->name),
				 bot_err_name(rc));
	}
	poll_now(ai);
}

static void poll_now(struct alarm_intake *ai)
{
	struct cloud *cl = ai->cloud;
	const char *url = ai->cfg->alarms.queue_url;

	if (ai->stopped || !ai->started || ai->polling || !url || !cl->ops->queue_receive ||
	    ai->st.in_flight + RECEIVE_MAX > JOBS_MAX)
		return;
	if (ai->timer_open)
		uv_timer_stop(&ai->timer);
	if (!ai->poll_url || strcmp(ai->poll_url, url) != 0) {
		char *u = strdup(url);
		if (!u) {
			poll_later(ai);
			return;
		}
		free(ai->poll_url);
		ai->poll_url = u;
	}
	ai->polling = true;
	ai->st.polls++;
	int rc = cl->ops->queue_receive(cl, url, ai->cfg->alarms.wait_seconds, RECEIVE_MAX,
					VISIBILITY_S, on_received, ai);
	if (rc) {
		ai->polling = false;
		ai->st.poll_errors++;
		log_warn("alarm.poll", "queue=%s error=%s", LOG_Q(url), bot_err_name(rc));
		poll_later(ai);
	}
}

/* ---- life -------------------------------------------------------------- */

int alarm_intake_create(const struct alarm_intake_opts *o, struct alarm_intake **out,
			struct bot_error *err)
{
	struct alarm_intake *ai;
	char host[128] = "";

	*out = NULL;
	if (!o || !o->loop || !o->store || !o->chat || !o->cloud || !o->cfg)
		return bot_error_set(err, BOT_EINVAL, "alarm intake: loop, store, chat, cloud and "
				     "config are required");
	if (!(ai = calloc(1, sizeof *ai)))
		return bot_error_set(err, BOT_ENOMEM, "alarm intake: out of memory");
	ai->loop = o->loop;
	ai->store = o->store;
	ai->chat = o->chat;
	ai->cloud = o->cloud;
	ai->reads = o->reads;
	ai->wf = o->wf;
	ai->cfg = config_ref(o->cfg);
	ai->claim_ms = o->claim_ms ? o->claim_ms : DEFAULT_CLAIM_MS;
	ai->retry_first_ms = ai->retry_ms = o->retry_ms ? o->retry_ms : DEFAULT_RETRY_MS;
	if (o->owner && o->owner[0]) {
		snprintf(ai->owner, sizeof ai->owner, "%s", o->owner);
	} else {
		if (gethostname(host, sizeof host - 1) != 0 || !host[0])
			snprintf(host, sizeof host, "localhost");
		snprintf(ai->owner, sizeof ai->owner, "%s:%ld", host, (long)getpid());
	}
	if (uv_timer_init(o->loop, &ai->timer) != 0 || uv_timer_init(o->loop, &ai->rtimer) != 0) {
		/* (uv_timer_init allocates nothing: nothing to close) */
		config_unref(ai->cfg);
		free(ai);
		return bot_error_set(err, BOT_EIO, "alarm intake: no timer");
	}
	ai->timer.data = ai;
	ai->rtimer.data = ai;
	ai->timer_open = true;
	*out = ai;
	return BOT_EOK;
}

void alarm_intake_start(struct alarm_intake *ai)
{
	if (!ai || ai->stopped)
		return;
	ai->started = true;
	if (ai->cfg->alarms.queue_url)
		log_info("alarm.intake", "queue=%s wait_s=%d", LOG_Q(ai->cfg->alarms.queue_url),
			 ai->cfg->alarms.wait_seconds);
	poll_now(ai);
	reconcile_arm(ai);
}

void alarm_intake_set_config(struct alarm_intake *ai, struct config *cfg)
{
	struct config *old = ai->cfg;
	ai->cfg = config_ref(cfg);
	config_unref(old);
	poll_now(ai); /* a queue named now starts (a changed one at the next poll) */
	reconcile_arm(ai);
}

static void intake_free(struct alarm_intake *ai)
{
	free(ai->poll_url);
	free(ai);
}

static void timer_closed(uv_handle_t *h)
{
	struct alarm_intake *ai = h->data;

	if (--ai->closing == 0 && ai->destroyed)
		intake_free(ai);
}

void alarm_intake_stop(struct alarm_intake *ai)
{
	struct job *next;

	if (!ai || ai->stopped)
		return;
	ai->stopped = true;
	/* a job waiting for its record's next try has nothing else coming:
	 * it ends now (its message, not deleted, comes back) */
	for (struct job *j = ai->jobs; j; j = next) {
		next = j->next;
		if (j->retry)
			job_end(j, BOT_ECANCELLED);
	}
	if (ai->timer_open) {
		uv_timer_stop(&ai->timer);
		uv_timer_stop(&ai->rtimer);
		ai->closing = 2;
		uv_close((uv_handle_t *)&ai->timer, timer_closed);
		uv_close((uv_handle_t *)&ai->rtimer, timer_closed);
		ai->timer_open = false;
	}
}

void alarm_intake_destroy(struct alarm_intake *ai)
{
	if (!ai)
		return;
	alarm_intake_stop(ai);
	/* answers still to come find no intake and free their job */
	for (struct job *j = ai->jobs; j; j = j->next)
		j->ai = NULL;
	config_unref(ai->cfg);
	ai->cfg = NULL;
	ai->destroyed = true;
	if (ai->closing == 0)
		intake_free(ai); /* else the last timer's close frees it */
}

void alarm_intake_stats(const struct alarm_intake *ai, struct alarm_intake_stats *out)
{
	*out = ai ? ai->st : (struct alarm_intake_stats){0};
}
