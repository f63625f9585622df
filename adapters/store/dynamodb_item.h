/* dynamodb_item.h - the DynamoDB store's table layout and its gate item
 * (prefix ddb_): groundwork of the DynamoDB store backend (issue 12). Pure
 * functions, no I/O.
 *
 * One table (store.table), string keys pk and sk, on-demand billing:
 *
 *   pk                          sk           what
 *   gate#<id>                   gate         a gate (every store_gate field;
 *                                            approved_by as a list); gstate,
 *                                            gkind and gid feed the indexes
 *   svc#<cluster>#<ecs_service> lock         gate_id: the live gate holding
 *                                            the service (put with the gate,
 *                                            deleted with its final state)
 *   meta                        gate_seq     n: the last gate id handed out
 *   audit                       head         seq, hash: the chain's tail
 *   audit                       e#<seq:020>  one audit event (sealed, chain.h)
 *   seen#<event id>             seen         a processed id: at (ms, when
 *                                            recorded), expires_at (ms: at +
 *                                            retention, compared in the
 *                                            conditions) and ttl (s, the
 *                                            table's Time To Live attribute)
 *
 * An audit event (audit, e#<seq>) holds seq, at, actor, kind, detail,
 * prev_hash, hash, and gate_id / from_state / to_state when set; the head
 * (audit, head) holds seq and hash of the last one. Every write but a
 * seen_event's (and purge's deletes) appends an event and so moves the
 * head: writes are ordered by it as well as by their own conditions. The
 * chain is one partition (pk "audit"), which bounds the store to that
 * partition's write rate (about 1000 small writes/s): far above a chat bot's.
 *
 * Indexes: by_state (gstate, gid) lists the gates in one state, oldest
 * first (recovery); by_kind (gkind = "gate", gid) lists every gate
 * newest first (/gates, and counts). Both are
 * eventually consistent (DynamoDB GSIs). Every write that changes a gate also changes its
 * version, and the conditions of the store's operations are written on
 * version, state, the lock's attribute_not_exists and the audit head's seq.
 */
#ifndef ADAPTERS_STORE_DYNAMODB_ITEM_H
#define ADAPTERS_STORE_DYNAMODB_ITEM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/store.h"
#include "bot/base/error.h"

#define DDB_INDEX_BY_STATE "by_state"
#define DDB_INDEX_BY_KIND "by_kind"

/* The keys, as DynamoDB key objects {"pk": {"S": ...}, "sk": {"S": ...}}
 * (new references; NULL on OOM or a name too long for a key). */
json_t *ddb_key_gate(uint64_t id);
json_t *ddb_key_lock(const char *cluster, const char *ecs_service);
json_t *ddb_key_seen(const char *event_id);
json_t *ddb_key_audit_head(void);
json_t *ddb_key_audit_event(int64_t seq);

/* g as an item (its keys included); NULL strings and unset times are left
 * out. New reference, NULL on OOM. */
json_t *ddb_gate_item(const struct store_gate *g);
/* The gate an item holds. out must be zeroed; on failure it is cleared.
 * BOT_EOK, BOT_ECORRUPT (a field missing or of the wrong type, naming it in
 * err), BOT_ENOMEM. */
int ddb_gate_from_item(const json_t *item, struct store_gate *out, struct bot_error *err);

/* The CreateTable request for table (new reference). */
json_t *ddb_table_definition(const char *table);

#endif
