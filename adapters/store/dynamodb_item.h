/* dynamodb_item.h - the DynamoDB store's table layout and its gate item
 * (prefix ddb_): groundwork of the DynamoDB store backend (issue 12). Pure
 * functions, no I/O.
 *
 * One table (store.table), string keys pk and sk, on-demand billing:
 *
 *   pk                          sk           what
 *   gate#<id>                   gate         a gate (every store_gate field;
 *                                            approved_by as a list); gstate,
 *                                            gkind and gid feed the indexes;
 *                                            a_seq, a_hash, a_ord: the tail
 *                                            of the gate's audit chain
 *   svc#<cluster>#<ecs_service> lock         gate_id: the live gate holding
 *                                            the service (put with the gate,
 *                                            deleted with its final state)
 *   meta                        gate_seq     n: the last gate id handed out
 *   audit                       head         seq, hash, ord: the tail of the
 *                                            log chain (chain 0)
 *   audit                       e#<ord:013>#<chain:020>#<seq:010>
 *                                            one audit event (sealed,
 *                                            chain.h; zero-padded decimal)
 *   seen#<event id>             seen         a processed id: at (ms, when
 *                                            recorded), expires_at (ms: at +
 *                                            retention, compared in the
 *                                            conditions) and ttl (s, the
 *                                            table's Time To Live attribute)
 *   alarm#<key>                 alarm        an alarm intake record (store.h,
 *                                            struct store_alarm): alarm_key,
 *                                            version, body (the domain's
 *                                            JSON text, never read here),
 *                                            updated_at. No gkind/gstate:
 *                                            no index holds it, and no
 *                                            Query or Scan of the store
 *                                            (pk audit, pk seen#...)
 *                                            reaches it
 *
 * The audit log is a set of chains (store.h, struct store_audit_row): a
 * gate's chain (chain = its id) and the log chain (chain 0: events of no
 * gate or of a gate that does not exist, and rows imported by store copy).
 * An event (audit, e#...) holds seq, chain, at, actor, kind, detail,
 * prev_hash, hash, ord, and gate_id / from_state / to_state when set. A
 * gate's chain has its tail in the gate item itself (a_seq, a_hash, a_ord;
 * no a_seq, as on an imported gate, is an empty chain): every write of a
 * gate updates them in the same transaction as its event, conditional on
 * the a_seq it read, next to the gate's own version/state conditions. So
 * writers of one gate are ordered by that one item and writers of
 * different gates never meet. The log chain's tail is the item (audit,
 * head).
 *
 * ord orders the events: max(at, the chain's previous ord). The sort key
 * starts with it, so a Query of pk "audit" in sk order hands every chain in
 * seq order (ord never goes back within a chain, and seq breaks ties) with
 * the chains interleaved by time, even when replicas' clocks disagree or
 * an imported chain's times step back; at itself (sealed) is never
 * changed. A table written before chains (events e#<seq:020> without
 * chain or ord, one head) reads as one log chain that sorts before every
 * newer key; new events of no gate continue it from its head. All events
 * are one partition (pk "audit"), which bounds the
 * store to that partition's write rate (about 1000 small writes/s): far
 * above a chat bot's.
 *
 * Indexes: by_state (gstate, gid) lists the gates in one state, oldest
 * first (recovery); by_kind (gkind = "gate", gid) lists every gate
 * newest first (/gates, and counts). Both are
 * eventually consistent (DynamoDB GSIs). Every write that changes a gate's
 * record also changes its version (a write that only appends to its audit
 * chain moves a_seq, not the version), and the conditions of the store's
 * operations are written on version, state, the lock's
 * attribute_not_exists and the chain tails' seq (a_seq, or the log head's
 * seq).
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
/* alarm#<key>, alarm: NULL when key is longer than STORE_ALARM_KEY_MAX. */
json_t *ddb_key_alarm(const char *key);
json_t *ddb_key_audit_head(void);
/* An audit event's key: e#<ord:013>#<chain:020>#<seq:010>. NULL when ord
 * or seq does not fit (ord 0..DDB_AUDIT_ORD_MAX, seq 0..DDB_AUDIT_SEQ_MAX)
 * or on OOM. ddb_audit_sk writes the sort key alone (BOT_EOK, BOT_EINVAL). */
#define DDB_AUDIT_ORD_MAX INT64_C(9999999999999)
#define DDB_AUDIT_SEQ_MAX INT64_C(9999999999)
#define DDB_AUDIT_SK_SIZE 48
int ddb_audit_sk(char out[DDB_AUDIT_SK_SIZE], int64_t ord, uint64_t chain, int64_t seq);
json_t *ddb_key_audit_event(int64_t ord, uint64_t chain, int64_t seq);

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
