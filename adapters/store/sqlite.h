/* sqlite.h - the store on SQLite: the embedded default for one replica
 * (prefix store_sqlite_; the operations are adapters/store.h's).
 *
 * Tables (schema v3, see the migration list in sqlite.c):
 *   gates          one row per approval gate: its request, action, state,
 *                  outcome and version
 *   approvals      distinct people who approved a gate (UNIQUE(gate_id,user))
 *   service_locks  (cluster, ecs_service) -> the one live gate holding it
 *   audit          append-only, hash-chained event log: every state
 *                  transition, every click (refused ones too), delivery
 *   processed_ids  chat event ids already handled (deduplication)
 *   alarms         the alarm intake's records: key (an alarm's ARN) ->
 *                  version, body (the domain's JSON text), updated_at
 *
 * Atomicity: every operation is one transaction, BEGIN IMMEDIATE (the
 * write lock is taken up front, so its reads and conditional writes see
 * no other writer: two handles on one file, in one process or two, are
 * serialised by SQLite's lock). A conditional write that finds the gate
 * moved rolls back and reports STORE_LOST / STORE_BUSY / STORE_DUPLICATE.
 *
 * Durability: journal_mode=WAL, synchronous=FULL (every commit is fsynced:
 * a decision that was announced is never lost, not even on power loss).
 * The schema version lives in PRAGMA user_version; migrations are a table
 * applied one transaction each. A file that is not a SQLite database or
 * fails PRAGMA quick_check is refused with BOT_ECORRUPT, a database written
 * by a newer bot with BOT_EVERSION; in both cases the file is not modified.
 * A new file is created 0600. Other processes may read the same file
 * (chatops-bot audit); writers wait busy_timeout_ms.
 */
#ifndef ADAPTERS_STORE_SQLITE_H
#define ADAPTERS_STORE_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapters/store.h"
#include "bot/base/error.h"

#define STORE_SQLITE_SCHEMA_VERSION 3

struct store_sqlite_opts {
	const char *path;
	uint64_t dedup_retention_ms; /* processed ids kept this long; 0 = 15 min */
	int busy_timeout_ms;         /* 0 = 5000 */
	store_clock_fn clock;        /* NULL = CLOCK_REALTIME */
	void *clock_ud;
	/* Open an existing store for reading (chatops-bot audit): never
	 * creates the file, never migrates, never writes. */
	bool read_only;
};

/* Open (creating and migrating as needed). Returns 0, BOT_EIO (cannot
 * open), BOT_ECORRUPT (not a database / damaged; untouched), BOT_EVERSION
 * (newer schema; untouched), BOT_ENOTFOUND (read_only and no store there),
 * BOT_ESTORE (migration failed; rolled back), BOT_ENOMEM; detail in err.
 * Close with store_close. */
int store_sqlite_open(const struct store_sqlite_opts *o, struct store **out,
		      struct bot_error *err);

/* For `store copy`: fn for each alarm record of s, in key order (the
 * record borrowed for the call); a read-only store from before schema v3
 * has none. A non-zero return from fn stops the walk and is returned.
 * BOT_EINVAL when s is not a SQLite store. */
typedef int (*store_sqlite_alarm_fn)(void *ud, const struct store_alarm *a);
int store_sqlite_alarm_each(struct store *s, store_sqlite_alarm_fn fn, void *ud,
			    struct bot_error *err);

/* The schema version of an open SQLite store; -1 for another backend. */
int store_sqlite_schema_version(const struct store *s);

#endif
