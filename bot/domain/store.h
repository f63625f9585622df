/* store.h - the durable store of approval gates (SQLite, WAL).
 *
 * Tables (schema v1, see the migration list in store.c):
 *   gates          one row per approval gate, its state and its outcome
 *   approvals      distinct people who approved a gate (UNIQUE(gate_id,user))
 *   audit          append-only, hash-chained event log: every state
 *                  transition, every click (refused ones too), delivery
 *   processed_ids  chat event ids already handled (deduplication)
 *
 * The commit is the decision: every state change is ONE statement
 *   UPDATE gates SET state=?, ... WHERE id=? AND state=<from>
 * executed in the same transaction that appends its audit event; the
 * change "won" when that statement changed exactly one row. Nothing outside
 * (chat, cloud) may be told or done before store_gate_change() returned 0
 * with *won set.
 *
 * Durability: journal_mode=WAL, synchronous=FULL (every commit is fsynced:
 * a decision that was announced is never lost, not even on power loss).
 * The schema version lives in PRAGMA user_version; migrations are a table
 * applied one transaction each. A file that is not a SQLite database or
 * fails PRAGMA quick_check is refused with BOT_ECORRUPT, a database written
 * by a newer bot with BOT_EVERSION; in both cases the file is not modified.
 *
 * Single-threaded: a store belongs to the loop thread. Other processes may
 * read the same file (chatops-bot audit); writers wait busy_timeout_ms.
 *
 * Timestamps are wall-clock milliseconds since the epoch; 0 means "not set"
 * (NULL in the database).
 */
#ifndef BOT_STORE_H
#define BOT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot/base/error.h"

/* The gate's states, one list for the enum, the stored text and the names
 * shown to people. (Defined here because the store is the lowest layer
 * that knows them; gate.h re-uses them.) */
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
/* States the engine still has work for. */
#define GATE_LIVE_MASK                                                      \
	(GATE_STATE_BIT(GATE_PENDING) | GATE_STATE_BIT(GATE_APPROVED) |     \
	 GATE_STATE_BIT(GATE_APPROVED_BY_TIMER) | GATE_STATE_BIT(GATE_EXECUTING))

/* "PENDING", ...; "?" for an out-of-range value. */
const char *store_state_name(enum gate_state s);
/* BOT_EOK or BOT_EPARSE. */
int store_state_parse(const char *text, enum gate_state *out);
/* DENIED, CANCELLED, SUCCEEDED, FAILED. */
bool store_state_final(enum gate_state s);
/* Is from -> to an edge of the state machine? */
bool store_transition_allowed(enum gate_state from, enum gate_state to);

#define STORE_SCHEMA_VERSION 1
#define STORE_GENESIS_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct store;

/* Wall clock in ms since the epoch (injectable for tests). */
typedef int64_t (*store_clock_fn)(void *ud);

struct store_opts {
	const char *path;
	uint64_t dedup_retention_ms; /* processed ids kept this long; 0 = 15 min */
	int busy_timeout_ms;         /* 0 = 5000 */
	store_clock_fn clock;        /* NULL = CLOCK_REALTIME */
	void *clock_ud;
	/* Open an existing store for reading (chatops-bot audit): never
	 * creates the file, never migrates, never writes. */
	bool read_only;
};

/* One gate, as stored. Strings are owned by the struct (store_gate_clear
 * frees them); NULL means NULL in the database. */
struct store_gate {
	uint64_t id;
	char *service;        /* the name people use */
	char *cluster, *ecs_service;
	char *requester;      /* user id */
	int target;           /* desired count asked for */
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
	char *exec_intent;    /* JSON: the UpdateService about to be called */
	int exec_from;        /* desired count observed just before executing */
	int64_t exec_started_at;
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

/* Open (creating and migrating as needed). Returns 0, BOT_EIO (cannot
 * open), BOT_ECORRUPT (not a database / damaged; untouched), BOT_EVERSION
 * (newer schema; untouched), BOT_ENOTFOUND (read_only and no store there),
 * BOT_ESTORE (migration failed; rolled back), BOT_ENOMEM; detail in err. */
int store_open(const struct store_opts *o, struct store **out, struct bot_error *err);
void store_close(struct store *s); /* NULL ok */

int64_t store_now(const struct store *s);
const char *store_path(const struct store *s);
int store_schema_version(const struct store *s);

/* Transactions nest: the outermost store_begin is BEGIN IMMEDIATE (the
 * write lock is taken up front, so read-check-write inside is atomic), inner
 * ones are savepoints. Each store_begin that returned 0 must be ended by
 * exactly one store_commit or store_rollback. Every write function below
 * opens its own (nested) transaction, so it can be used alone or grouped. */
int store_begin(struct store *s, struct bot_error *err);
int store_commit(struct store *s, struct bot_error *err);
void store_rollback(struct store *s);

/* Insert a new PENDING gate from g's request fields (service ... evidence,
 * approvers, min_approvals, allow_self, force_new_deployment); sets g->id,
 * created_at, updated_at and state, and appends the "requested" audit event
 * (with the evidence) in the same transaction. */
int store_gate_insert(struct store *s, struct store_gate *g, struct bot_error *err);

/* Load one gate (with approved_by). BOT_ENOTFOUND if there is none.
 * out must be zeroed or hold an earlier result (it is cleared first); the
 * caller frees it with store_gate_clear. */
int store_gate_get(struct store *s, uint64_t id, struct store_gate *out, struct bot_error *err);

/* All gates whose state is in mask (GATE_STATE_BIT...), ordered by id, as
 * an owned array (free with store_gate_array_free). */
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

/* A state transition. NULL/unset fields leave the column unchanged;
 * decided_at (when leaving PENDING), exec_started_at (into EXECUTING) and
 * finished_at (into a final state) are set from the store clock. */
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
	const char *result_kind, *result_detail, *aws_code, *aws_request_id;
};

/* Apply c as one conditional UPDATE plus its audit event, in one
 * transaction. *won is true when this call made the change (the gate was in
 * c->from); false means someone else decided first and nothing was written.
 * BOT_EINVAL for an edge that is not in the state machine. */
int store_gate_change(struct store *s, const struct store_change *c, bool *won,
		      struct bot_error *err);

/* Count user's approval of gate id (INSERT OR IGNORE): *added is false when
 * that person had already been counted. *count is the number of distinct
 * approvers afterwards (may be NULL). */
int store_approval_add(struct store *s, uint64_t id, const char *user, bool *added, int *count,
		       struct bot_error *err);

/* Append an audit event that is not a state transition (clicks, refusals,
 * notes). gate_id 0 = none. detail: JSON object text or NULL. */
int store_audit_add(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
		    const char *detail, struct bot_error *err);

/* One audit row; strings borrowed for the duration of the callback. */
struct store_audit_row {
	int64_t seq;
	uint64_t gate_id;       /* 0 = none */
	int64_t at;
	const char *actor, *kind;
	const char *from_state, *to_state; /* NULL unless a transition */
	const char *detail;     /* JSON object text */
	const char *prev_hash, *hash;
};

/* SHA-256 (lower-case hex, 64 chars + NUL) of the row's canonical form:
 * prev_hash, seq, gate_id, at, actor, kind, from, to, detail, each written
 * as "<len>:<bytes>;" (NULL as "~;"). r->hash is not used. */
int store_audit_hash(const struct store_audit_row *r, char out[65]);

/* Call fn for each audit row with at >= since_ms (0 = all), in seq order.
 * A non-zero return from fn stops the walk and is returned. */
typedef int (*store_audit_fn)(void *ud, const struct store_audit_row *r);
int store_audit_each(struct store *s, int64_t since_ms, store_audit_fn fn, void *ud,
		     struct bot_error *err);

/* Deduplication of chat events: records id and sets *seen = false the first
 * time, sets *seen = true if it was recorded before (one INSERT OR IGNORE).
 * Ids older than the retention are purged now and then (at most once a
 * minute, from this call). */
int store_seen_event(struct store *s, const char *id, bool *seen, struct bot_error *err);
/* Delete processed ids recorded before older_than (wall ms); *n may be NULL. */
int store_purge_events(struct store *s, int64_t older_than, int *n, struct bot_error *err);

#endif
