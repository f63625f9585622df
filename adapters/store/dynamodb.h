/* dynamodb.h - the gate store on DynamoDB (prefix store_dynamodb_), the
 * shared store several replicas of the bot use (adapters/store.h; table
 * layout: dynamodb_item.h).
 *
 * An ASYNCHRONOUS backend: every operation is a short chain of DynamoDB
 * calls on the bot's loop (never a blocking wait), answered through
 * store_finish(). The store's guarantees hold across processes because
 * DynamoDB, not this process, decides every conditional step:
 *
 *   - one live gate per ECS service: gate_open puts the lock item
 *     svc#<cluster>#<ecs_service> (attribute_not_exists) in the transaction
 *     that puts the gate; the final transition deletes it (condition: it
 *     names this gate) in its own transaction; into EXECUTING checks that
 *     the lock names the gate (ConditionCheck). A lost lock condition
 *     returns the lock item (ReturnValuesOnConditionCheckFailure = ALL_OLD):
 *     STORE_BUSY names the holder without another read;
 *   - a transition is an UpdateItem conditional on the state it leaves; a
 *     vote is conditional on the version read, on the approval not being
 *     counted yet, and on its event id not being recorded unexpired
 *     (attribute_not_exists(pk) OR expires_at < now), all in one
 *     TransactWriteItems with its audit events;
 *   - every audit chain stays linear under concurrent writers (chains:
 *     dynamodb_item.h). A write of a gate reads the gate (consistently),
 *     seals its events after the gate's chain tail (a_seq, a_hash in the
 *     gate item) with bot/domain/chain.h and, in the same transaction,
 *     moves that tail conditional on the a_seq it read, next to the gate's
 *     own conditions; an event of no gate, or of a gate that does not
 *     exist, goes to the log chain whose tail is audit/head, moved the same
 *     way. So writers of different gates never contend; writers of one
 *     gate are ordered by it. A transaction cancelled only because a tail
 *     (or another non-deciding item) moved is read again and retried after
 *     a short random backoff on a uv timer, at most DDB_MAX_ATTEMPTS times
 *     (store_dynamodb_retries counts them). The gate's deciding condition
 *     (state, version) and its tail share one item; the image DynamoDB
 *     returns of the item that failed (ALL_OLD) tells them apart: still as
 *     the op expected means the tail moved (retry), otherwise the deciding
 *     condition failed (the gate's state or version, the lock, the event
 *     id), and that answers STORE_LOST, BUSY or DUPLICATE at once. Every
 *     TransactWriteItems carries a ClientRequestToken, so the aws client's
 *     own retry of a request whose answer was lost is idempotent in
 *     DynamoDB.
 *
 * What each operation costs, in DynamoDB requests (no contention):
 *   gate_open 2 (GetItem of meta/gate_seq, then TransactWriteItems),
 *   gate_get 1 (GetItem), service_holder 1, gate_list 1 Query per state in
 *   the mask (more if paginated), gate_recent 1 Query, gate_counts 1 Query
 *   per page of by_kind, gate_delivered 2 (the gate's read, then the write;
 *   3 for a gate that does not exist: read again with audit/head),
 *   gate_change 2, gate_vote 2 (a TransactGetItems when it reads the event
 *   id too), gate_lease 2, seen_event 1 (PutItem), audit_add 2 (3 for a
 *   gate that does not exist),
 *   audit_each 1 Query per page, purge_events 1 Scan per page + 1 DeleteItem
 *   per expired id, alarm_get 1 (GetItem), alarm_put 1 (PutItem
 *   conditional on the version read: attribute_not_exists(pk) for 0, else
 *   version = :v; a failed condition is STORE_LOST). A write the read
 *   already answers costs only the read (a change from a state the gate
 *   has left, a stale or duplicate vote: no write is sent). Each retry
 *   after contention adds 2 (checked by tests/integration/ddb_store_test.c).
 *
 * Reads of one item use ConsistentRead, and so does audit_each (a Query of
 * the audit partition). gate_list, gate_recent and gate_counts read the
 * global secondary indexes by_state and by_kind, which DynamoDB keeps
 * EVENTUALLY consistent: a gate written a moment ago may be missing from
 * them, or listed in its previous state. That is fine for what they serve
 * (recovery at start, /gates, metrics): every decision is a conditional
 * write on the gate itself, which a stale listing cannot win.
 *
 * Dedupe items carry expires_at (ms, compared in the condition) and ttl
 * (s, DynamoDB's Time To Live attribute, enabled by
 * store_dynamodb_create_table): DynamoDB deletes expired ones itself, late;
 * purge_events deletes those recorded before a cutoff at once.
 *
 * Errors: a peer that cannot be reached or answers an error gives
 * BOT_ESTORE with the operation and the AWS error code in the message
 * (BOT_ECANCELLED when the call was cancelled because the bot stops:
 * store_close, or the aws client's shutdown). Nothing is half written: every
 * write of an operation is one request (purge_events excepted: each expired
 * id is deleted on its own, conditional on its age, so a purge cut short
 * leaves the rest to the next purge or to TTL).
 *
 * Stopping: store_stop() (and store_close()) cancels every call in flight:
 * it is answered BOT_ECANCELLED at once (what it asked for may have
 * happened: a conditional write that landed stays, and is read as such
 * next time).
 */
#ifndef ADAPTERS_STORE_DYNAMODB_H
#define ADAPTERS_STORE_DYNAMODB_H

#include <stdint.h>
#include <uv.h>

#include "adapters/aws/client.h"
#include "adapters/store.h"
#include "bot/base/error.h"

/* Tries of one operation when its transaction keeps losing to writers of
 * its audit chain's tail (or of a non-deciding item) before it answers
 * BOT_ESTORE. */
#define DDB_MAX_ATTEMPTS 10

struct store_dynamodb_opts {
	struct aws_client *aws;      /* borrowed; must outlive the store */
	const char *table;           /* copied */
	uv_loop_t *loop;             /* the aws client's loop (bot_loop_uv) */
	store_clock_fn clock;        /* NULL = CLOCK_REALTIME */
	void *clock_ud;
	uint64_t dedup_retention_ms; /* processed ids count as seen this long; 0 = 15 min */
};

/* A store handle on table (no I/O: the table is not checked here, see
 * store_dynamodb_check_table). Attaches the store to opts.loop. Returns 0,
 * BOT_EINVAL (no client, loop, or a table name DynamoDB refuses), BOT_ENOMEM. */
int store_dynamodb_open(const struct store_dynamodb_opts *o, struct store **out,
			struct bot_error *err);

/* ---- for tools (chatops-bot store init/copy), outside loop callbacks: they
 * run loop until their calls are answered. */

/* Create table as dynamodb_item.h lays it out (idempotent: an existing
 * table is fine), wait until it is ACTIVE (bounded: DDB_TABLE_WAIT_MS), and
 * enable Time To Live on the attribute ttl. 0, BOT_ESTORE, BOT_ETIMEOUT. */
#define DDB_TABLE_WAIT_MS (120 * 1000)
int store_dynamodb_create_table(struct aws_client *aws, uv_loop_t *loop, const char *table,
				struct bot_error *err);

/* DescribeTable: table exists, is ACTIVE, its keys are pk (HASH) and sk
 * (RANGE), and both indexes exist with the expected keys. 0, BOT_ENOTFOUND
 * (no such table), BOT_ESTATE (not ACTIVE yet), BOT_ECONFIG (another
 * layout, named), BOT_ESTORE (DynamoDB could not be asked). */
int store_dynamodb_check_table(struct aws_client *aws, uv_loop_t *loop, const char *table,
			       struct bot_error *err);

/* Raw import, for `store copy` (an existing store moved with its chain
 * intact); s must be a DynamoDB store. Nothing is judged or re-sealed.
 *
 * One gate as it is (id, version, state, approvals...), conditional on no
 * gate with its id existing; a live gate also takes its service's lock
 * (conditional on it being free) in the same transaction. BOT_EDUPLICATE
 * when the gate (or the lock) exists. */
int store_dynamodb_import_gate(struct store *s, const struct store_gate *g,
			       struct bot_error *err);
/* One audit row as it is (seq, at, hashes) into the log chain (rows are
 * imported in seq order), with the log head moved to it in the same
 * transaction, conditional on its seq being beyond the head's (its ord:
 * max(at, the head's ord)). BOT_EDUPLICATE when the seq is taken. Imported
 * gates' own chains start empty (a_seq 0): what they did before the copy
 * is in the log chain. */
int store_dynamodb_import_audit(struct store *s, const struct store_audit_row *r,
				struct bot_error *err);
/* One alarm record as it is (key, version, body, updated_at), conditional
 * on none with its key existing. BOT_EDUPLICATE when one exists,
 * BOT_EINVAL for a malformed record (version 0, body not an object). */
int store_dynamodb_import_alarm(struct store *s, const struct store_alarm *a,
				struct bot_error *err);
/* After the rows: the last gate id handed out and the log chain's tail
 * (audit_seq 0 = empty chain), each only moved forward. */
int store_dynamodb_import_finish(struct store *s, uint64_t gate_seq, int64_t audit_seq,
				 const char *audit_hash, struct bot_error *err);

/* How many times this handle's writes read again and retried because a
 * writer of something that does not decide got there first (an audit
 * chain's tail, a lock released meanwhile, a transaction conflict): for
 * tests and measurements. 0 for a store that is not DynamoDB. */
uint64_t store_dynamodb_retries(const struct store *s);

#endif
