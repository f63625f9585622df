/* alarm_jobs.c - a CloudWatch alarm change's job, the queue, the
 * reconcile loop and the intake's life (see alarm_intake.h; the files and
 * the record's fields are in alarm_internal.h).
 *
 * One change is one job: read the alarm's record, judge the change against
 * it (stale, the same again, or new: which effect), write the new record
 * conditionally on the version read - with the effect pending and claimed
 * by this job - do the effect (post, or a thread line and the post
 * updated), write the record again without the pending effect, and only
 * then delete the queue message. A lost write means another replica (or
 * another job) moved the record first: read again, judge again.
 */
#include "bot/domain/alarm_internal.h"
#include "bot/base/log.h"
#include "bot/domain/service_read.h"
#include "bot/domain/findings.h"

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

static const char *const effect_name[] = {"", "post", "reply"};

static void poll_now(struct alarm_intake *ai);
static void job_get(struct job *j);

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
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
bool alarm__job_live(struct job *j)
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
void alarm__job_done(struct job *j, const char *outcome)
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
void alarm__job_fail(struct job *j, int rc, const char *what, const char *detail)
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

/* ---- the effect, then the record without it --------------------------- */

static void settle(struct job *j, const char *ts);

static void settle_again(uv_timer_t *t)
{
	struct job *j = t->data;

	retry_stop(j);
	if (alarm__job_live(j))
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
	alarm__job_fail(j, rc, "record", why);
}

static void on_settled(struct store_req *r, void *ud)
{
	struct job *j = ud;

	if (!alarm__job_live(j))
		return;
	if (r->rc)
		settle_failed(j, r->rc, r->err.msg);
	else if (r->res == STORE_DONE && j->effect == EF_POST && jint(j->put, "ok_at") == 0 &&
		 config_alarm_policy_on(j->svc) && j->ai->wf)
		alarm__propose(j);
	else
		/* LOST: our claim ran out and another process took the effect
		 * over; it is done either way */
		alarm__job_done(j, r->res == STORE_DONE ? (j->effect == EF_POST ? "posted" : "replied")
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

	if (!alarm__job_live(j))
		return;
	if (rc) {
		alarm__job_fail(j, rc, effect_name[j->effect], detail);
		return;
	}
	if (j->effect == EF_POST) {
		j->ai->st.posted++;
		settle(j, ts);
	} else {
		j->ai->st.replied++;
		(void)alarm__post_episode(j, NULL); /* the post says how it stands */
		settle(j, NULL);
	}
}

static void on_recent(void *ud, struct store_req *r)
{
	struct job *j = ud;

	if (!alarm__job_live(j))
		return;
	if (r->rc == BOT_EOK)
		store_req_take_gates(r, &j->gates, &j->n_gates);
	/* else the line goes without what was done meanwhile */
	if (alarm__post_line(j, on_chat))
		alarm__job_fail(j, BOT_ENOMEM, effect_name[j->effect], NULL);
}

static void do_effect(struct job *j)
{
	int rc;

	if (j->effect == EF_REPLY && strcmp(j->ch.state, "OK") == 0 &&
	    store_gate_recent_async(j->ai->store, 50, on_recent, j) == BOT_EOK)
		return;

	switch (j->effect) {
	case EF_NONE:
		alarm__job_done(j, "recorded");
		return;
	case EF_POST:
		rc = alarm__post_episode(j, on_chat);
		break;
	case EF_REPLY:
	default:
		rc = alarm__post_line(j, on_chat);
		break;
	}
	if (rc)
		alarm__job_fail(j, rc, effect_name[j->effect], NULL);
}

/* ---- the conditional write -------------------------------------------- */

static void on_put(void *ud, struct store_req *r)
{
	struct job *j = ud;

	if (!alarm__job_live(j))
		return;
	if (r->rc) {
		alarm__job_fail(j, r->rc, "record", r->err.msg);
		return;
	}
	if (r->res != STORE_DONE) {
		/* another process moved the record first: read, judge again */
		if (++j->tries >= TRIES_MAX) {
			alarm__job_fail(j, BOT_EBUSY, "record", "the record kept changing");
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
		alarm__job_fail(j, rc, "record", NULL);
}

/* ---- a new episode: read the service first ---------------------------- */

static void on_read(void *ud, const struct service_read *r)
{
	struct job *j = ud;
	struct chat_text t;
	char ev[CHAT_TEXT_MAX], when[32];
	int suggested = 0;

	if (!alarm__job_live(j))
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
		alarm__job_done(j, "stale");
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
		alarm__job_done(j, "duplicate");
		return;
	}
	if (rec && j->ch.at == rec_at && rec_state && strcmp(rec_state, state) == 0) {
		const char *pending = jstr(rec, "pending"), *claim = jstr(rec, "claim");
		if (!pending) {
			ai->st.duplicate++;
			alarm__job_done(j, "duplicate");
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
			alarm__job_fail(j, BOT_ENOMEM, "judge", NULL);
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
			alarm__job_fail(j, BOT_ENOMEM, "judge", NULL);
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
		alarm__job_fail(j, BOT_ENOMEM, "judge", NULL);
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
			alarm__job_fail(j, rc, "read", NULL);
		return;
	}
	write_record(j);
}

static void on_get(void *ud, struct store_req *r)
{
	struct job *j = ud;
	json_error_t jerr;

	if (!alarm__job_live(j))
		return;
	if (r->rc) {
		alarm__job_fail(j, r->rc, "record", r->err.msg);
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
		alarm__job_fail(j, rc, "record", NULL);
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
	j->ch.watch = alarm__describe_watch(c);
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
