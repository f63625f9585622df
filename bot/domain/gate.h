/* gate.h - the approval gate engine: state machine, timers, execution.
 *
 *   PENDING -> APPROVED (people) | APPROVED_BY_TIMER (nobody objected in
 *              time) | DENIED | CANCELLED (requester or approver)
 *              | FAILED (the request could not be delivered: fail closed)
 *   APPROVED | APPROVED_BY_TIMER -> EXECUTING -> SUCCEEDED | FAILED
 *   APPROVED | APPROVED_BY_TIMER -> FAILED (stale: the service changed)
 *
 * Rules the engine enforces (and the tests check):
 *   - every transition is committed to the store (adapters/store.h) before
 *     the observer hears of it or the cloud is called; the first commit out
 *     of PENDING is the decision, a later one changes nothing (deny wins
 *     when it commits first; so does the timer). A click is read, judged
 *     here, and written as one conditional step of the store; if the gate
 *     moved in between (another click, the timer, another process), it is
 *     judged again on what the winner left;
 *   - one live gate per ECS service, held from request to final state, and
 *     so one action per service at a time: the store enforces it for every
 *     process sharing it (gate_request says BOT_EBUSY);
 *   - the timer starts only when the request card was posted: deadline =
 *     delivered_at + timer_ms, stored as wall time; a failed post fails the
 *     gate closed, it never auto-approves;
 *   - approval by timer is its own state, actor "timer", decided_by NULL;
 *   - several processes (replicas) may share one store: each learns of the
 *     others' live gates (sync_ms), arms their deadlines, and every step is
 *     a conditional write, so exactly one of them decides, executes (the
 *     claim: owner + lease) and tells (card updates come from the winner
 *     only); a claim whose owner died is taken over when its lease ran out
 *     and reconciled, never called again blindly;
 *   - before acting, the service is described again; a stale request
 *     (desired already at/beyond target, service gone or not ACTIVE, desired
 *     changed since the request) fails with result_kind "stale";
 *   - EXECUTING (with the intent) is committed before UpdateService; after
 *     a restart EXECUTING gates are reconciled by DescribeServices, never by
 *     calling again blindly (see gate_engine_recover).
 *
 * Timers: one uv_timer on a min-heap of (monotonic due time, gate) entries.
 * The wall-clock deadline is converted once, when armed (delivery or
 * recovery), into a monotonic due time: due = now_mono + (deadline -
 * now_wall). Reminders at half time and at one minute left (the latter only
 * for timers longer than 2 minutes) go to the observer, never more than one
 * per gate per reminder_gap_ms, and never once the gate left PENDING.
 *
 * Single-threaded, on the loop thread, and never waiting: the store is
 * called asynchronously, so requests, clicks and recovery answer through
 * callbacks. Observer callbacks must not destroy the engine; they may call
 * gate_click/gate_cancel/gate_request. Callbacks still due when the engine
 * is destroyed never run.
 */
#ifndef BOT_GATE_H
#define BOT_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/cloud.h"
#include "bot/base/error.h"
#include "adapters/store.h"

struct gate_engine;

enum gate_event {
	GATE_EV_DELIVERED = 0, /* card posted (timer armed if still PENDING) */
	GATE_EV_APPROVAL,      /* an approval counted; more are needed */
	GATE_EV_DECIDED,       /* left PENDING: see g->state (FAILED = undelivered) */
	GATE_EV_REMINDER,      /* countdown reminder; detail: "half time" | "1 minute left" */
	GATE_EV_EXECUTING,     /* UpdateService is being called (intent recorded) */
	GATE_EV_FINISHED,      /* SUCCEEDED or FAILED after approval; detail says why */
	GATE_EV_RECOVERED,     /* reloaded after a restart: re-render its card */
};

const char *gate_event_name(enum gate_event ev);

/* Report the outcome of post_request, exactly once, from any later
 * callback (or from inside post_request). rc 0 = the card was posted (ts is
 * its id); otherwise detail says why not. Arguments are borrowed. */
typedef void (*gate_delivered_fn)(void *token, int rc, const char *channel, const char *ts,
				  const char *detail);

/* How the engine talks to whoever renders gates (the workflow layer, tests).
 * g is valid only during the call. */
struct gate_observer {
	/* Post the approval request card for g (required). */
	void (*post_request)(void *ud, const struct store_gate *g, gate_delivered_fn delivered,
			     void *token);
	/* Something happened to g, already committed (optional). */
	void (*on_change)(void *ud, const struct store_gate *g, enum gate_event ev,
			  const char *detail);
	/* Does the configuration in force now still let user decide g
	 * (cancel: withdraw it)? Optional; NULL = yes. The gate's own
	 * snapshot of approvers is checked as well: both must agree, so an
	 * approver removed by a reload can no longer decide open gates. */
	bool (*still_allowed)(void *ud, const struct store_gate *g, const char *user, bool cancel);
	void *ud;
};

struct gate_engine_opts {
	uv_loop_t *loop;
	struct store *store;     /* borrowed; outlives the engine */
	struct cloud *cloud;     /* borrowed; see gate_engine_destroy */
	struct gate_observer obs;
	uint64_t reminder_gap_ms; /* min gap between reminders of a gate; 0 = 30 s */
	unsigned reconcile_tries; /* describe attempts when reconciling; 0 = 5 */
	uint64_t reconcile_retry_ms; /* between them; 0 = 5 s */
	/* After a restart, an EXECUTING gate whose call has not landed is only
	 * re-issued once this long has passed since the call started (the
	 * dead run's request may still be in flight); 0 = 20 s. */
	uint64_t reissue_guard_ms;
	/* Who this engine is on the claims of execution it records (another
	 * replica sees it on the gate); NULL = "<hostname>:<pid>". */
	const char *owner;
	uint64_t exec_lease_ms;   /* how long a claim holds; 0 = 60 s */
	/* The store is shared with other replicas: learn of their gates every
	 * sync_ms (0 = 2 s), take over claims whose lease ran out, remind only
	 * on the cards this process posted. A request is opened with its
	 * poster's claim (owner, delivery_lease_ms: 0 = 30 s, renewed at half
	 * time while the post is in flight); a never-delivered request is
	 * failed closed by another replica once that claim is gone (lease out,
	 * or the poster a process of this host that is gone). Off: one process
	 * owns the store; recovery at start is the only look at it. */
	bool shared;
	uint64_t sync_ms;
	uint64_t delivery_lease_ms;
	/* A gate approved by another replica is executed here only once it has
	 * stayed APPROVED this long (its decider died); 0 = 15 s. */
	uint64_t adopt_after_ms;
};

/* 0, BOT_EINVAL (missing loop/store/cloud/post_request), BOT_ENOMEM, BOT_EIO. */
int gate_engine_create(const struct gate_engine_opts *o, struct gate_engine **out,
		       struct bot_error *err);

/* Stop all timers and forget in-flight work (their callbacks, when they
 * come, do nothing). The memory is released by the timer's close callback:
 * run the loop afterwards. NULL ok. */
void gate_engine_destroy(struct gate_engine *e);

struct gate_recover_stats {
	size_t rearmed;          /* PENDING, deadline in the future: timer re-armed */
	size_t expired;          /* PENDING, deadline passed: approved by timer now */
	size_t failed_closed;    /* PENDING, never delivered: FAILED */
	size_t resumed;          /* APPROVED*: re-check and execute */
	size_t reconciling;      /* EXECUTING: reconcile by describe */
};

typedef void (*gate_recover_fn)(void *ud, int rc, const struct gate_recover_stats *st,
				const struct bot_error *err);

/* Call once at start, before new requests. Reloads every live gate:
 *   PENDING with a deadline in the future -> timer re-armed with the time
 *     left (re-rendered: GATE_EV_RECOVERED);
 *   PENDING whose deadline passed while the bot was down -> APPROVED_BY_TIMER
 *     with decision_detail "resolved after restart", then re-check + execute;
 *   PENDING without a deadline (delivery never confirmed) -> FAILED closed;
 *   APPROVED / APPROVED_BY_TIMER -> re-check + execute;
 *   EXECUTING -> reconcile: describe; desired == target -> SUCCEEDED
 *     "reconciled after restart" (no call); desired == the value seen before
 *     the call (exec_from) -> the call did not take effect: call it once
 *     more (UpdateService with an absolute count is idempotent), but not
 *     before reissue_guard_ms after the call started; anything
 *     else -> FAILED "reconcile_conflict" (someone else changed it; never
 *     overwritten blindly).
 * With a shared store, a gate another live replica is working on is left to
 * it (see gate_engine_opts.shared). done (may be NULL) runs once the live
 * gates were read: rc 0 with the counts, or the store's error (recovery is
 * then tried again on the next sync of a shared store). Returns 0,
 * BOT_ESTATE (ran already) or BOT_ENOMEM. */
int gate_engine_recover(struct gate_engine *e, gate_recover_fn done, void *ud);

/* What is asked. Strings are copied. */
struct gate_spec {
	const char *service;      /* name people use (required) */
	const char *cluster, *ecs_service; /* required */
	const char *requester;    /* user id (required) */
	const char *action;       /* bot/domain/action.h kind; NULL = scale */
	const char *params;       /* its parameters (JSON object text); NULL = {"target": target} */
	int target;               /* scale: desired count asked for (>= 0) */
	int current_desired;      /* desired count when asked */
	const char *reason;
	uint64_t timer_ms;        /* silence for this long after delivery = approval (> 0) */
	const char *const *approvers; /* user ids who may decide (>= 1) */
	size_t n_approvers;
	int min_approvals;        /* distinct people needed; 0 = 1 */
	bool allow_self;          /* may the requester approve their own request */
	bool force_new_deployment;
	const char *channel;      /* where the card goes (informative for the observer) */
	const char *evidence;     /* what the approvers are shown, kept for the audit */
};

/* How a request ended: rc 0 and the new gate's id; BOT_EBUSY when its ECS
 * service already has a live gate (in any process on the same store): id
 * is then that gate's; or a store error (nothing was opened). */
typedef void (*gate_request_fn)(void *ud, int rc, uint64_t id, const struct bot_error *err);

/* Commit a new PENDING gate, then ask the observer to post it. The timer
 * does not run until the post is confirmed. Returns BOT_EINVAL for a bad
 * spec, BOT_ENOMEM or BOT_ESTATE (the store cannot take calls) - done will
 * not run then; else 0 and done (may be NULL) runs once, later. */
int gate_request(struct gate_engine *e, const struct gate_spec *spec, gate_request_fn done,
		 void *ud, struct bot_error *err);

enum gate_vote { GATE_VOTE_APPROVE = 0, GATE_VOTE_DENY };

#define GATE_OUTCOME_MAP(X)                                                   \
	X(ACCEPTED_APPROVAL, "approval counted; more approvals are needed")   \
	X(DECIDED_APPROVED,  "approved")                                      \
	X(DECIDED_DENIED,    "denied")                                        \
	X(DECIDED_CANCELLED, "cancelled")                                     \
	X(NOT_APPROVER,      "you are not an approver of this service")       \
	X(SELF_APPROVAL,     "you may not approve your own request")          \
	X(ALREADY_DECIDED,   "this request was already decided")              \
	X(ALREADY_COUNTED,   "your approval was already counted")             \
	X(DUPLICATE_EVENT,   "this click was already processed")              \
	X(UNKNOWN_GATE,      "no such approval request")                      \
	X(WRONG_CARD,        "that button is not on this request's card")     \
	X(REVOKED,           "you may no longer decide this request: the "    \
			     "configuration in force does not name you")

enum gate_outcome {
#define GATE_OUTCOME_ENUM(name, text) GATE_OUT_##name,
	GATE_OUTCOME_MAP(GATE_OUTCOME_ENUM)
#undef GATE_OUTCOME_ENUM
};

const char *gate_outcome_name(enum gate_outcome o); /* "ALREADY_DECIDED" */

/* Is from -> to an edge of the gate's state machine?
 *   PENDING -> APPROVED | APPROVED_BY_TIMER | DENIED | CANCELLED | FAILED
 *   APPROVED, APPROVED_BY_TIMER -> EXECUTING | FAILED
 *   EXECUTING -> SUCCEEDED | FAILED */
bool gate_transition_allowed(enum gate_state from, enum gate_state to);
const char *gate_outcome_text(enum gate_outcome o); /* human sentence */

struct gate_click_result {
	enum gate_outcome outcome;
	enum gate_state state;    /* the gate's state after the click */
	enum gate_state decision; /* how it left PENDING (PENDING if it has not) */
	char by[64];              /* who decided: a user id; "" for timer/system */
	int64_t at;               /* when it was decided (wall ms; 0 if not) */
	int approvals, min_approvals;
};

/* Where a click was made: the message that held the button. A click
 * decides only its own gate's card, so these must be the channel and ts
 * recorded when the card was delivered (else WRONG_CARD, audited). */
struct gate_where {
	const char *channel, *message_ts;
};

/* How a click or cancel ended: rc 0 with *r filled (g: the gate as it is
 * now, NULL for an unknown gate), or a store error (then nothing changed;
 * r->outcome is UNKNOWN_GATE). Everything is valid during the call only. */
typedef void (*gate_click_fn)(void *ud, int rc, const struct gate_click_result *r,
			      const struct store_gate *g, const struct bot_error *err);

/* A button press. Every click is audited, refused ones included, except an
 * exact redelivery (same event_id, DUPLICATE_EVENT). event_id may be NULL;
 * where is required (a click without one is a WRONG_CARD). Arguments are
 * copied. Returns 0 and done runs once, later; or BOT_EINVAL / BOT_ENOMEM /
 * BOT_ESTATE and it will not. */
int gate_click(struct gate_engine *e, uint64_t id, const char *user, enum gate_vote vote,
	       const char *event_id, const struct gate_where *where, gate_click_fn done,
	       void *ud);

/* Withdraw a PENDING request: the requester or an approver may
 * (DECIDED_CANCELLED); others get NOT_APPROVER. Audited like a click. */
int gate_cancel(struct gate_engine *e, uint64_t id, const char *user, const char *event_id,
		gate_click_fn done, void *ud);

/* Milliseconds (monotonic) until gate id's deadline fires, or -1 if no
 * deadline is armed for it. For tests and /gates. */
int64_t gate_engine_due_in(struct gate_engine *e, uint64_t id);
/* Gates the engine holds in memory (not final). */
size_t gate_engine_live(const struct gate_engine *e);

#endif
