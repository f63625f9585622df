/* alarm_intake.h - CloudWatch alarms into the service's channel.
 *
 * The intake long-polls the SQS queue of alarms.queue_url (fed by the
 * alarms' SNS topic or an EventBridge rule; outbound only, like Socket
 * Mode), maps each alarm to its service (config_service_for_alarm) and
 * keeps one record per alarm in the store (store_alarm_get/put): its last
 * applied state change and its episode - from an ALARM to the OK that ends
 * it - with the episode's post. What people see:
 *   - ALARM: one post in the service's channel with the alarm (name,
 *     reason, when, what it watches), the investigation /investigate gives
 *     (read through the shared service reads) and its suggested action as
 *     a "Scale to N" button (the same path as /scale). The post's thread is
 *     the episode's record.
 *   - OK: a reply in the thread (how long it was in ALARM) and the post
 *     updated to say it recovered; INSUFFICIENT_DATA: a line in the thread.
 *   - An ALARM within alarms.flap_window of the OK that closed an episode
 *     reopens it: a line in the same thread, the post updated, no new post.
 *   - Where the service's on_alarm_* policy is on, a new episode's post is
 *     followed by a proposal: the bot opens the approval gate itself
 *     through /scale's path (requester "alarm:<name>", never a person; the
 *     card says so), at most once per service per on_alarm_cooldown (a
 *     store record decides across replicas), not while a request is open,
 *     not once the alarm is OK again; the thread says what was proposed,
 *     or why not.
 *
 * Delivery is at least once and unordered: a change older than the
 * record's is dropped (stale), the same change again acts once (dedupe on
 * alarm ARN + state change time + new state). Every decision is a write
 * conditional on the record's version, so of two replicas handling the
 * same message one acts; the other reads again and finds it done. The
 * effect (the post) is claimed in the same write (owner, lease): a replica
 * that dies mid-way leaves the claim to run out, and the message, not yet
 * deleted, comes back and is finished by whoever receives it. A message is
 * deleted only after its effect is committed; a malformed one is logged
 * and left to the queue's redrive policy; an alarm of no configured
 * service is counted and deleted.
 *
 * Alarm actions fire only on a transition and are never sent again, so a
 * reconcile loop reads the listed alarms (names and prefixes in the
 * services' alarms:) with DescribeAlarms every alarms.reconcile_every,
 * through the same AWS budget, and handles a state that differs from the
 * record's as if it had come from the queue (once: the record decides).
 *
 * Lifetime: create, start (polls when alarms.queue_url is set), set_config
 * on reload, stop from a shutdown hook (no new work; answers still in
 * flight are ignored), destroy after the loop ran. Single thread.
 */
#ifndef BOT_ALARM_INTAKE_H
#define BOT_ALARM_INTAKE_H

#include <stdint.h>
#include <uv.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "adapters/store.h"
#include "bot/base/error.h"
#include "config/config.h"

struct service_reads;
struct workflow;
struct alarm_intake;

struct alarm_intake_opts {
	uv_loop_t *loop;
	struct store *store;          /* borrowed; outlives the intake */
	struct chat *chat;            /* borrowed */
	struct cloud *cloud;          /* borrowed */
	struct service_reads *reads;  /* borrowed: shared with /investigate */
	struct workflow *wf;          /* borrowed: opens the proposals (NULL: none) */
	struct config *cfg;           /* a reference is taken */
	const char *owner;            /* this process in claims; NULL = host:pid */
	uint64_t claim_ms;            /* how long a claim on a post holds; 0 = 60 s */
	uint64_t retry_ms;            /* first wait after a failed poll; 0 = 1 s (doubles to 60 s) */
};

int alarm_intake_create(const struct alarm_intake_opts *o, struct alarm_intake **out,
			struct bot_error *err);
/* Start polling (when the config names a queue). */
void alarm_intake_start(struct alarm_intake *ai);
void alarm_intake_set_config(struct alarm_intake *ai, struct config *cfg);
void alarm_intake_stop(struct alarm_intake *ai);
void alarm_intake_destroy(struct alarm_intake *ai); /* NULL ok; calls stop */

/* Handle one change as if it came from the queue (the console's alarm
 * command; the reconcile loop). channel: where the episode is posted when
 * the service names no channel (NULL: it must name one). done (may be
 * NULL) runs once its effect is committed (rc 0), or with why not (not
 * after alarm_intake_destroy: a job still in flight then ends quietly). Returns
 * 0, or an error (done will not run): BOT_ENOTFOUND when no service has
 * the alarm. */
int alarm_intake_handle(struct alarm_intake *ai, const struct cloud_alarm_change *ch,
			const char *channel, void (*done)(void *ud, int rc), void *ud);

struct alarm_intake_stats {
	uint64_t polls, poll_errors;  /* ReceiveMessage calls, failed ones */
	uint64_t received;            /* messages taken from the queue */
	uint64_t malformed;           /* left to the redrive policy */
	uint64_t unmapped;            /* alarms of no configured service */
	uint64_t stale, duplicate;    /* older than the record's; applied already */
	uint64_t posted, replied;     /* episode posts; thread lines */
	uint64_t failed;              /* not done this time (store, chat): retried */
	uint64_t settle_retries;      /* a posted effect's record tried again */
	uint64_t deleted;             /* messages deleted after their effect */
	uint64_t in_flight;           /* changes being handled now */
	uint64_t reconciles, reconcile_errors; /* DescribeAlarms rounds, failed ones */
};
void alarm_intake_stats(const struct alarm_intake *ai, struct alarm_intake_stats *out);

#endif
