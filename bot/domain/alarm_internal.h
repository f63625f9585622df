/* alarm_internal.h - what the alarm intake's files share (not an
 * interface: see alarm_intake.h).
 *
 *   alarm_jobs.c     a change's job: read the record, judge, write, do the
 *                    effect, settle, delete; the queue, the reconcile loop
 *                    and the intake's life
 *   alarm_post.c     what people see: the episode's post, its thread lines
 *   alarm_propose.c  the on_alarm_* policy's proposal after a new episode
 *
 * The record (the store keeps it as text; only these files read it):
 *   service, name, state, changed_at, src     the last change applied, and
 *                                             whether DescribeAlarms or the
 *                                             queue told it
 *   episode, alarm_at, last_alarm_at, ok_at,  the episode it belongs to
 *   flaps
 *   reason, watch, description, region, account, evidence, suggested,
 *   desired, read_at                          what the post shows
 *   channel, ts                               the post (once posted)
 *   pending, claim, claim_until               the effect owed, and by whom
 */
#ifndef BOT_ALARM_INTERNAL_H
#define BOT_ALARM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "bot/domain/alarm_intake.h"

/* What a change owes people: nothing, the episode's post, or a thread line
 * (and the post updated). */
enum effect { EF_NONE = 0, EF_POST, EF_REPLY };

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

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline int64_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static inline void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
	else
		json_object_del(o, k);
}

static inline void set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

static inline int64_t now_ms(const struct alarm_intake *ai)
{
	return store_now(ai->store);
}

/* alarm_jobs.c */
bool alarm__job_live(struct job *j);          /* false: it was ended (stopping) */
void alarm__job_done(struct job *j, const char *outcome); /* effect committed: delete, end */
void alarm__job_fail(struct job *j, int rc, const char *what, const char *detail);

/* alarm_post.c */
char *alarm__describe_watch(const struct cloud_alarm_change *c); /* "" when not told */
/* The episode's post from j->put: posted (j->effect EF_POST, cb told) or
 * updated in place (cb not told). */
int alarm__post_episode(struct job *j, chat_result_cb cb);
/* The change's line in the episode's thread (an OK's says what was done
 * meanwhile, from j->gates). */
int alarm__post_line(struct job *j, chat_result_cb cb);

/* alarm_propose.c: the episode is posted and the policy is on; the job
 * ends when the proposal is made or refused (the thread says which). */
void alarm__propose(struct job *j);

#endif
