/* store.h - the durable store of approval gates, as an interface.
 *
 * The domain (bot/domain/gate.c, workflow.c, audit.c) talks to a store only
 * through the operations below; a backend (adapters/store/sqlite.c today,
 * DynamoDB next) fills in struct store_ops. Every operation is ATOMIC in
 * every backend: it happens entirely or not at all, and two store handles
 * on the same data (two processes, two replicas) never both win the same
 * conditional step. That is what makes the invariants hold across
 * processes, not only inside one:
 *
 *   - one live gate per ECS service (cluster + ecs_service): gate_open
 *     refuses with STORE_BUSY while another gate of that service is PENDING,
 *     APPROVED(_BY_TIMER) or EXECUTING, and names it; the service is held
 *     from open until the gate is final;
 *   - one action per service at a time: the step into EXECUTING (the claim
 *     of execution, with its owner and lease) succeeds only for the gate
 *     that holds its service (STORE_BUSY otherwise);
 *   - a state change happens once: every transition is conditional on the
 *     state it leaves (STORE_LOST: someone else moved it first; nothing
 *     was written);
 *   - a vote (click or cancel) is conditional on the gate being exactly as
 *     the caller read it (its version), and carries its audit event, its
 *     event-id dedupe, the approval it counts and the transition it causes
 *     in the same atomic step;
 *   - every audit chain stays linear: audit events belong to chains (the
 *     store's log chain, and one chain per gate, see struct
 *     store_audit_row); within a chain seq runs 1, 2, 3... with no gap and
 *     each event is sealed with the hash of the one before it in that chain
 *     (canonical form: bot/domain/chain.h). Writers of different gates do
 *     not order each other; writers of one gate are ordered by its chain.
 *
 * Backends store; they never decide. Which transitions exist, who may vote
 * and what a vote means is the domain's (gate.c); the backend applies the
 * conditional write it is handed. The state names below are the record's
 * vocabulary, shared by both sides.
 *
 * Two ways to call (both atomic; same semantics):
 *   - asynchronously, on the bot's loop: store_*_async() hands the call to
 *     the backend and returns; the answer (struct store_req) reaches a done
 *     callback on a later loop turn, never inside the call. The bot uses
 *     only these: a DynamoDB round trip must not stop the loop. A backend
 *     that answers at once (SQLite: a local commit, fsynced) is served by
 *     the interface: the call runs, its answer is handed over on the next
 *     turn, so callers see one behaviour whatever the backend.
 *   - synchronously (store_gate_get(), ...): for tools and tests outside
 *     the loop (chatops-bot audit, store init/copy, the conformance suite).
 *     With an asynchronous backend they run the loop until the answer is
 *     in, so never call them from a loop callback.
 * A store handle belongs to the loop thread.
 *
 * Timestamps are wall-clock milliseconds since the epoch from the store's
 * clock (store_now); 0 means "not set".
 */
#ifndef ADAPTERS_STORE_H
#define ADAPTERS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bot/base/error.h"

/* The gate's states, one list for the enum, the stored text and the names
 * shown to people. */
#define GATE_STATE_MAP(X)                      \
	X(PENDING,           "PENDING")        \
	X(APPROVED,          "APPROVED")       \
	X(APPROVED_BY_TIMER, "APPROVED_BY_TIMER") \
	X(DENIED,            "DENIED")         \
	X(CANCELLED,         "CANCELLED")      \
	X(EXECUTING,         "EXECUTING")      \
	X(SUCCEEDED,         "SUCCEEDED")      \
	X(FAILED,            "FAILED")

enum gate_state {
#define GATE_STATE_ENUM(name, text) GATE_##name,
	GATE_STATE_MAP(GATE_STATE_ENUM)
#undef GATE_STATE_ENUM
	GATE_STATE_COUNT
};

#define GATE_STATE_BIT(s) (1u << (s))
/* States the engine still has work for; a gate in one of them holds its
 * service. */
#define GATE_LIVE_MASK                                                      \
	(GATE_STATE_BIT(GATE_PENDING) | GATE_STATE_BIT(GATE_APPROVED) |     \
	 GATE_STATE_BIT(GATE_APPROVED_BY_TIMER) | GATE_STATE_BIT(GATE_EXECUTING))

/* "PENDING", ...; "?" for an out-of-range value. */
const char *store_state_name(enum gate_state s);
/* BOT_EOK or BOT_EPARSE. */
int store_state_parse(const char *text, enum gate_state *out);
/* DENIED, CANCELLED, SUCCEEDED, FAILED: not live. */
bool store_state_final(enum gate_state s);

/* What a gate does once approved. The record carries the kind and its
 * parameters (a JSON object) so a new action is a new row of the action
 * table, not a new schema. */
#define STORE_ACTION_SCALE "scale"

/* One gate, as stored. Strings are owned by the struct (store_gate_clear
 * frees them); NULL means "not set". */
struct store_gate {
	uint64_t id;
	uint64_t version;     /* bumped by every write to the gate; votes are conditional on it */
	char *service;        /* the name people use */
	char *cluster, *ecs_service;
	char *requester;      /* user id */
	char *action;         /* STORE_ACTION_SCALE, ... */
	char *params;         /* the action's parameters, JSON object text ("{}" if none) */
	int target;           /* scale: desired count asked for */
	int desired_at_request;
	char *reason;
	uint64_t timer_ms;
	char **approvers;     /* snapshot of who may decide, at request time */
	size_t n_approvers;
	int min_approvals;
	bool allow_self;
	bool force_new_deployment;
	char *channel, *message_ts; /* where the request card is (after delivery) */
	char *evidence;       /* what the approvers were shown */
	int64_t created_at;
	int64_t delivered_at; /* 0 until the card was posted */
	int64_t deadline;     /* delivered_at + timer_ms; 0 until delivered */
	enum gate_state state;
	enum gate_state decision; /* the state it left PENDING into; PENDING if not yet */
	char *decided_by;     /* a person's user id; NULL for timer/system decisions */
	int64_t decided_at;
	char *decision_detail;
	char *exec_intent;    /* JSON: the call about to be made */
	int exec_from;        /* desired count observed just before executing */
	int64_t exec_started_at;
	char *exec_owner;     /* who holds the claim (a process: host, pid): posting
			       * the card while PENDING, the call while EXECUTING */
	int64_t exec_lease_until; /* the claim is good until then (wall ms; 0 = none) */
	char *result_kind;    /* "scaled", "stale", "aws_error", "undelivered", ... */
	char *result_detail;  /* human text */
	char *aws_code, *aws_request_id;
	int64_t finished_at;
	int64_t updated_at;
	char **approved_by;   /* distinct people whose approval counted, in order */
	size_t n_approved;
};

/* Free the strings of g and zero it. NULL ok. */
void store_gate_clear(struct store_gate *g);
void store_gate_array_free(struct store_gate *v, size_t n);

/* How a conditional operation ended (its return code says whether the
 * store could answer at all). Only STORE_DONE wrote anything. */
enum store_result {
	STORE_DONE = 0,
	STORE_LOST,      /* the gate was not in the state/version required */
	STORE_BUSY,      /* its service is held by another live gate */
	STORE_DUPLICATE, /* the event id was already processed */
};

/* A state transition. NULL/unset fields leave the stored value unchanged;
 * decided_at (when leaving PENDING), exec_started_at (into EXECUTING) and
 * finished_at (into a final state) are set from the store clock. The
 * backend does not judge the edge: the domain does (gate.c). */
struct store_change {
	uint64_t gate_id;
	enum gate_state from, to;
	const char *actor;          /* user id, "timer", "system", "recovery" (required) */
	const char *kind;           /* audit kind; NULL = lower-case name of `to` */
	const char *detail;         /* audit detail, a JSON object text; NULL = "{}" */
	const char *decided_by;     /* a person, when a person decided */
	const char *decision_detail;
	const char *exec_intent;
	bool set_exec_from;
	int exec_from;
	/* Into EXECUTING: the claim. owner names the process that will make
	 * the call; lease_ms how long the claim holds (another process may take
	 * over an EXECUTING gate whose lease ran out, by reconciling it; 0 =
	 * no lease recorded). */
	const char *owner;
	uint64_t lease_ms;
	const char *result_kind, *result_detail, *aws_code, *aws_request_id;
};

/* A click or cancel, as one atomic step:
 *   1. event_id (if set) is recorded; if it was already recorded (and has
 *      not expired) the result is STORE_DUPLICATE and nothing is written;
 *   2. if gate_id is set and the gate exists, its version must equal
 *      `version` (else STORE_LOST, nothing written: read again, judge again);
 *      gate_id names a gate that does not exist only when gate_missing is
 *      true (an unknown gate's click is still audited);
 *   3. approve_user (if set) is counted as a distinct approval (it must not
 *      be counted already: STORE_LOST otherwise);
 *   4. the audit event (actor, kind, detail) is appended;
 *   5. if to != GATE_PENDING the gate moves PENDING -> to, with its own
 *      audit event (decided_by, decision_detail, change_detail), releasing
 *      the service when `to` is final. */
struct store_vote {
	uint64_t gate_id;           /* 0 = none */
	uint64_t version;
	bool gate_missing;
	const char *event_id;
	const char *actor, *kind, *detail;
	const char *approve_user;
	enum gate_state to;
	const char *decided_by, *decision_detail, *change_detail;
};

/* One audit row; strings borrowed for the duration of the callback.
 *
 * Every row belongs to one chain: chain 0 is the store's log chain, a
 * gate's chain is its id (then gate_id == chain). seq counts within the
 * chain (1, 2, 3...) and prev_hash is the hash of the chain's row before
 * (CHAIN_GENESIS for its first). The chain is not part of the sealed form
 * (chain.h): a backend with one writer may keep every row in chain 0
 * (SQLite does). */
struct store_audit_row {
	uint64_t chain;         /* 0 = the store's log chain; else the gate's id */
	int64_t seq;            /* within the chain */
	uint64_t gate_id;       /* 0 = none */
	int64_t at;
	const char *actor, *kind;
	const char *from_state, *to_state; /* NULL unless a transition */
	const char *detail;     /* JSON object text */
	const char *prev_hash, *hash;
};
typedef int (*store_audit_fn)(void *ud, const struct store_audit_row *r);

/* Wall clock in ms since the epoch (injectable for tests). */
typedef int64_t (*store_clock_fn)(void *ud);

/* Take over or renew the claim on a gate - an EXECUTING one's (who makes
 * the call), or a PENDING one's (who posts its card) - conditional on the
 * gate being in one of those states at `version` (as the caller read it):
 * exec_owner = owner, exec_lease_until = now + lease_ms, the version is
 * bumped and an audit event (actor = owner, kind, detail) appended,
 * atomically. A process takes over only a claim whose lease ran out (the
 * domain judges that); STORE_LOST: the gate moved or another process took
 * it first. */
struct store_lease {
	uint64_t gate_id, version;
	const char *owner;
	uint64_t lease_ms;
	const char *kind;   /* "takeover", "reissue", "delivery" */
	const char *detail; /* JSON object text; NULL = "{}" */
};

/* A record of the alarm intake (bot/domain/alarm_intake.c): one per key
 * (an alarm's ARN), holding the domain's JSON (the alarm's last applied
 * state change, its episode, the episode's post and gate, ...). The
 * backend stores the text; it never reads it. Writes are conditional on
 * the version the writer read (0: the record must not exist yet), so of
 * two replicas handling the same alarm message one writes and the other
 * reads again and judges again. */
#define STORE_ALARM_KEY_MAX 1024
struct store_alarm {
	char *key;          /* the alarm's ARN (1..STORE_ALARM_KEY_MAX bytes) */
	uint64_t version;   /* 0: no such record */
	char *body;         /* JSON object text (NULL when version is 0) */
	int64_t updated_at; /* store clock, set by every put */
};
void store_alarm_clear(struct store_alarm *a); /* frees and zeroes; NULL ok */

struct store;

/* The operations, for backends and the asynchronous calls. */
enum store_op {
	STORE_OP_GATE_OPEN,
	STORE_OP_GATE_GET,
	STORE_OP_SERVICE_HOLDER,
	STORE_OP_GATE_LIST,
	STORE_OP_GATE_RECENT,
	STORE_OP_GATE_COUNTS,
	STORE_OP_GATE_DELIVERED,
	STORE_OP_GATE_CHANGE,
	STORE_OP_GATE_VOTE,
	STORE_OP_GATE_LEASE,
	STORE_OP_SEEN_EVENT,
	STORE_OP_PURGE_EVENTS,
	STORE_OP_AUDIT_ADD,
	STORE_OP_AUDIT_EACH,
	STORE_OP_ALARM_GET,
	STORE_OP_ALARM_PUT,
};

/* One call's inputs. Borrowed for the duration of the submit only: a
 * backend copies what it keeps. */
struct store_args {
	enum store_op op;
	uint64_t id;                       /* get, delivered; audit_add: gate id (0 = none) */
	unsigned mask;                     /* list */
	size_t limit;                      /* recent (1..1000) */
	const char *cluster, *ecs_service; /* service_holder */
	const char *channel, *ts;          /* delivered */
	const struct store_gate *gate;     /* open: the request */
	const struct store_change *change;
	const struct store_vote *vote;
	const struct store_lease *lease;
	const char *event_id;              /* seen_event */
	int64_t older_than;                /* purge_events */
	const char *actor, *kind, *detail; /* audit_add */
	int64_t since;                     /* audit_each */
	store_audit_fn row_fn;             /* audit_each: called per row, in order */
	void *row_ud;
	const char *key;                   /* alarm_get, alarm_put */
	const char *body;                  /* alarm_put: JSON object text */
	uint64_t version;                  /* alarm_put: as read (0 = must not exist) */
};

/* One call's answer, what a done callback sees. Everything it owns (gate,
 * gates) is freed after the callback returns: move out what you keep
 * (store_req_take_gate / take_gates). */
struct store_req {
	int rc;                     /* BOT_EOK: the store answered (see res) */
	struct bot_error err;       /* when rc != 0 */
	enum store_result res;      /* open, change, vote, lease */
	uint64_t holder;            /* open (STORE_BUSY), service_holder */
	struct store_gate gate;     /* open: as stored (id, version, ...); get */
	struct store_gate *gates;   /* list, recent */
	size_t n;
	uint64_t counts[GATE_STATE_COUNT];
	bool flag;                  /* delivered: armed; seen_event: seen */
	int count;                  /* purge_events: how many */
	struct store_alarm alarm;   /* alarm_get: the record (version 0: none);
	                             * alarm_put: STORE_DONE: key, version, updated_at */
	/* the interface's own */
	enum store_op op;
	struct store *store;
	void (*done)(void *ud, struct store_req *r);
	void *ud;
	struct store_req *next;
	bool finished;
	char *batch_id;             /* seen_event waiting for its group commit */
};
typedef void (*store_done_fn)(void *ud, struct store_req *r);

/* The backend's half. Semantics are those of the store_* wrappers below;
 * each function is atomic. */
struct store_ops {
	const char *name; /* "sqlite" */
	/* Several processes (replicas) share this backend's data by design. */
	bool shared;
	void (*close)(struct store *s);
	const char *(*where)(const struct store *s);
	int (*gate_open)(struct store *s, struct store_gate *g, enum store_result *res,
			 uint64_t *holder, struct bot_error *err);
	int (*gate_get)(struct store *s, uint64_t id, struct store_gate *out,
			struct bot_error *err);
	int (*service_holder)(struct store *s, const char *cluster, const char *ecs_service,
			      uint64_t *holder, struct bot_error *err);
	int (*gate_list)(struct store *s, unsigned mask, struct store_gate **out, size_t *n,
			 struct bot_error *err);
	int (*gate_recent)(struct store *s, size_t limit, struct store_gate **out, size_t *n,
			   struct bot_error *err);
	int (*gate_counts)(struct store *s, uint64_t counts[GATE_STATE_COUNT],
			   struct bot_error *err);
	int (*gate_delivered)(struct store *s, uint64_t id, const char *channel, const char *ts,
			      bool *armed, struct bot_error *err);
	int (*gate_change)(struct store *s, const struct store_change *c, enum store_result *res,
			   struct bot_error *err);
	int (*gate_vote)(struct store *s, const struct store_vote *v, enum store_result *res,
			 struct bot_error *err);
	int (*seen_event)(struct store *s, const char *id, bool *seen, struct bot_error *err);
	/* Optional: seen_event for ids[0..n) in one atomic commit, seen[i] as
	 * seen_event says (a later id equal to an earlier one is seen). The
	 * asynchronous seen_event calls of one loop turn are answered from one
	 * such commit (a burst's envelopes share one durable write instead of
	 * one each, on the loop thread). */
	int (*seen_events)(struct store *s, const char *const *ids, size_t n, bool *seen,
			   struct bot_error *err);
	int (*purge_events)(struct store *s, int64_t older_than, int *n, struct bot_error *err);
	int (*audit_add)(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
			 const char *detail, struct bot_error *err);
	int (*audit_each)(struct store *s, int64_t since_ms, store_audit_fn fn, void *ud,
			  struct bot_error *err);
	int (*gate_lease)(struct store *s, const struct store_lease *l, enum store_result *res,
			  struct bot_error *err);
	/* An asynchronous backend sets submit instead of the functions above:
	 * start the call (copying what it needs from a), then answer by
	 * filling r and calling store_finish(r), once, from a loop callback.
	 * Returns 0, or an error (r is then answered with it by the caller). */
	int (*submit)(struct store *s, const struct store_args *a, struct store_req *r);
	/* Optional, for asynchronous backends: store_stop is running; answer
	 * every call in flight now (store_finish, rc BOT_ECANCELLED), and any
	 * answer that still lands later is dropped. */
	void (*stop)(struct store *s);
	/* Appended for the alarm intake (NULL in a backend without them: the
	 * calls then fail with BOT_ESTATE). See store_alarm_get/put. */
	int (*alarm_get)(struct store *s, const char *key, struct store_alarm *out,
			 struct bot_error *err);
	int (*alarm_put)(struct store *s, const char *key, uint64_t version, const char *body,
			 enum store_result *res, struct store_alarm *out, struct bot_error *err);
};

/* What every backend's handle starts with (backends embed it first and
 * find themselves with container_of). */
struct store {
	const struct store_ops *ops;
	store_clock_fn clock;  /* never NULL after store_init */
	void *clock_ud;
	uint64_t retention_ms; /* processed ids count as seen this long */
	struct store_defer *defer; /* the asynchronous side (store.c) */
};

#define STORE_DEFAULT_RETENTION_MS (15u * 60u * 1000u)

/* For backends: fill the common part (clock NULL = CLOCK_REALTIME,
 * retention 0 = the default). */
void store_init(struct store *s, const struct store_ops *ops, store_clock_fn clock,
		void *clock_ud, uint64_t retention_ms);

/* For asynchronous backends: r is answered; its done runs on a later loop
 * turn (at once if the store is stopping). */
void store_finish(struct store_req *r);

/* The loop the asynchronous calls answer on (required before the first;
 * an asynchronous backend sets it when it opens). 0, BOT_ENOMEM, BOT_EIO. */
int store_attach_loop(struct store *s, uv_loop_t *loop);
/* Before the loop is closed (a teardown step): answers every call still
 * waiting for its turn with BOT_ECANCELLED and closes the interface's
 * handle. Calls after it fail with BOT_ESTATE. */
void store_stop(struct store *s);
void store_close(struct store *s); /* NULL ok; after store_stop when a loop was attached */
int64_t store_now(const struct store *s);
/* "sqlite:/var/lib/chatops-bot/gates.db": where the data is, for people. */
const char *store_where(const struct store *s);
const char *store_backend(const struct store *s);
/* Is the store meant to be shared by several replicas (DynamoDB), rather
 * than owned by one process (SQLite)? */
bool store_shared(const struct store *s);

/* Insert a new PENDING gate from g's request fields (service ... evidence,
 * action, params, approvers, ...; exec_owner and exec_lease_until: the
 * poster's claim, if set) if its service has no live gate: sets
 * g->id, version, created_at, updated_at, state, and appends the
 * "requested" audit event (with the request) in the same atomic step.
 * *res is STORE_BUSY (and *holder the live gate's id) when the service is
 * held; nothing is written then. */
int store_gate_open(struct store *s, struct store_gate *g, enum store_result *res,
		    uint64_t *holder, struct bot_error *err);

/* One gate (with approved_by). BOT_ENOTFOUND if there is none. out must be
 * zeroed or hold an earlier result (it is cleared first); the caller frees
 * it with store_gate_clear. */
int store_gate_get(struct store *s, uint64_t id, struct store_gate *out, struct bot_error *err);

/* The live gate holding (cluster, ecs_service), or *holder = 0. A read: a
 * cheap check before work that would be wasted (the AWS reads of a /scale
 * whose service is taken); only gate_open decides. */
int store_service_holder(struct store *s, const char *cluster, const char *ecs_service,
			 uint64_t *holder, struct bot_error *err);

/* All gates whose state is in mask (GATE_STATE_BIT...), ordered by id, as
 * an owned array (free with store_gate_array_free): the recovery listing. */
int store_gate_list(struct store *s, unsigned mask, struct store_gate **out, size_t *n,
		    struct bot_error *err);

/* The newest `limit` gates (at most 1000), newest first, any state. */
int store_gate_recent(struct store *s, size_t limit, struct store_gate **out, size_t *n,
		      struct bot_error *err);

/* How many gates are in each state. */
int store_gate_counts(struct store *s, uint64_t counts[GATE_STATE_COUNT], struct bot_error *err);

/* The card was posted: record channel/ts (if not recorded yet) and, if the
 * gate is still PENDING without a deadline, delivered_at = now and
 * deadline = now + timer_ms. *armed is true when the deadline was set by
 * this call (the timer may start). Appends a "delivered" audit event. */
int store_gate_delivered(struct store *s, uint64_t id, const char *channel, const char *ts,
			 bool *armed, struct bot_error *err);

/* Apply c if the gate is in c->from, with its audit event, atomically.
 * Into EXECUTING it also requires that the gate holds its service
 * (STORE_BUSY if another gate does); into a final state it releases it.
 * *res STORE_LOST: the gate was not in c->from; nothing was written. */
int store_gate_change(struct store *s, const struct store_change *c, enum store_result *res,
		      struct bot_error *err);

/* See struct store_vote. */
int store_gate_vote(struct store *s, const struct store_vote *v, enum store_result *res,
		    struct bot_error *err);

/* Chat-event deduplication: records id and sets *seen = false the first
 * time (or when its earlier record is older than the retention), *seen =
 * true if it was recorded within the retention. Expired ids are purged
 * now and then. */
int store_seen_event(struct store *s, const char *id, bool *seen, struct bot_error *err);
/* Delete processed ids recorded before older_than (wall ms); *n may be NULL. */
int store_purge_events(struct store *s, int64_t older_than, int *n, struct bot_error *err);

/* Append an audit event that is not a state transition (notes, reissues,
 * refusals outside a vote). gate_id 0 = none. detail: JSON object text or
 * NULL ("{}"). */
int store_audit_add(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
		    const char *detail, struct bot_error *err);

/* Call fn for each audit row with at >= since_ms (0 = all), with its
 * chain. The rows of one chain come in seq order; rows of different chains
 * interleave, ordered by time (a backend may order by a time that never
 * goes back within a chain, so rows of different chains can be a little
 * out of `at` order when clocks disagree). A non-zero return from fn stops
 * the walk and is returned. */
int store_audit_each(struct store *s, int64_t since_ms, store_audit_fn fn, void *ud,
		     struct bot_error *err);

/* Take or renew an EXECUTING gate's claim (struct store_lease). */
int store_gate_lease(struct store *s, const struct store_lease *l, enum store_result *res,
		     struct bot_error *err);

/* ---- asynchronous calls ------------------------------------------------
 * Same operations and semantics as above; the answer is in the store_req
 * handed to done (on a later loop turn, exactly once). They return 0, or
 * BOT_ENOMEM / BOT_ESTATE (no loop attached, or stopped) / BOT_EINVAL
 * (malformed input) - then done will not run. */
int store_gate_open_async(struct store *s, const struct store_gate *g, store_done_fn done,
			  void *ud);
int store_gate_get_async(struct store *s, uint64_t id, store_done_fn done, void *ud);
int store_service_holder_async(struct store *s, const char *cluster, const char *ecs_service,
			       store_done_fn done, void *ud);
int store_gate_list_async(struct store *s, unsigned mask, store_done_fn done, void *ud);
int store_gate_recent_async(struct store *s, size_t limit, store_done_fn done, void *ud);
int store_gate_counts_async(struct store *s, store_done_fn done, void *ud);
int store_gate_delivered_async(struct store *s, uint64_t id, const char *channel,
			       const char *ts, store_done_fn done, void *ud);
int store_gate_change_async(struct store *s, const struct store_change *c, store_done_fn done,
			    void *ud);
int store_gate_vote_async(struct store *s, const struct store_vote *v, store_done_fn done,
			  void *ud);
int store_gate_lease_async(struct store *s, const struct store_lease *l, store_done_fn done,
			   void *ud);
int store_seen_event_async(struct store *s, const char *id, store_done_fn done, void *ud);
int store_purge_events_async(struct store *s, int64_t older_than, store_done_fn done, void *ud);
/* done may be NULL: a failure is then logged (layer "store"). */
int store_audit_add_async(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
			  const char *detail, store_done_fn done, void *ud);

/* The alarm record of key: *out (cleared first) holds it, or has
 * version 0 and body NULL when there is none (not an error). */
int store_alarm_get(struct store *s, const char *key, struct store_alarm *out,
		    struct bot_error *err);
/* Write key's record as body (a JSON object text) if its stored version is
 * `version` (0: if there is none): *res STORE_DONE and out (may be NULL;
 * cleared first) holds key, the new version (version + 1) and updated_at.
 * Else *res STORE_LOST and nothing was written: read again, judge again. */
int store_alarm_put(struct store *s, const char *key, uint64_t version, const char *body,
		    enum store_result *res, struct store_alarm *out, struct bot_error *err);
int store_alarm_get_async(struct store *s, const char *key, store_done_fn done, void *ud);
int store_alarm_put_async(struct store *s, const char *key, uint64_t version, const char *body,
			  store_done_fn done, void *ud);

/* Move r's gate / gates into *out (the caller owns them then). */
void store_req_take_gate(struct store_req *r, struct store_gate *out);
void store_req_take_gates(struct store_req *r, struct store_gate **out, size_t *n);

/* A deep copy of src into *dst (cleared first). BOT_EOK or BOT_ENOMEM. */
int store_gate_copy(struct store_gate *dst, const struct store_gate *src);

#endif
