/* dynamodb_req.h - pieces of the DynamoDB store's requests (prefix ddb__):
 * internal to the DynamoDB store (adapters/store/dynamodb.c), and reached
 * by its unit test (tests/unit/ddb_req_test.c). Pure: values in, DynamoDB
 * JSON out.
 *
 * Every transaction item asks for ReturnValuesOnConditionCheckFailure =
 * ALL_OLD and names each attribute through a placeholder (#name; some of
 * ours, like state, are reserved words); only placeholders an expression
 * uses are sent (DynamoDB refuses unused ones). */
#ifndef ADAPTERS_STORE_DYNAMODB_REQ_H
#define ADAPTERS_STORE_DYNAMODB_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/store.h"

/* An UpdateExpression's SET list with the names and values its
 * expressions use. Every attribute is named through a placeholder (#name:
 * some of ours, like state, are reserved words). Errors (OOM, too long)
 * stick in bad; the item built from it is then NULL. */
struct ddb__ex {
	json_t *names, *values;
	char set[2048];
	size_t len;
	bool bad;
};

void ddb__ex_init(struct ddb__ex *e);
void ddb__ex_free(struct ddb__ex *e);
/* Declare #attr. */
void ddb__ex_name(struct ddb__ex *e, const char *attr);
/* Declare the value placeholder ph (":x"); v is stolen. */
void ddb__ex_val(struct ddb__ex *e, const char *ph, json_t *v);
/* Append raw text to the SET list (its names and values declared apart). */
void ddb__ex_append(struct ddb__ex *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* SET #attr = :attr (v stolen; NULL: nothing is set). */
void ddb__ex_set(struct ddb__ex *e, const char *attr, json_t *v);
void ddb__ex_set_s(struct ddb__ex *e, const char *attr, const char *s);
/* Put UpdateExpression (if any SET), ConditionExpression (cond, if any)
 * and the names and values into obj. */
void ddb__ex_into(struct ddb__ex *e, json_t *obj, const char *cond);

/* One TransactWriteItems entry {verb: {TableName, Key (Item for Put), ...,
 * ReturnValuesOnConditionCheckFailure: ALL_OLD}} with e's expressions and
 * cond. key is stolen. New reference; NULL on OOM (or e->bad). */
json_t *ddb__tx_item(const char *table, const char *verb, json_t *key, struct ddb__ex *e,
		     const char *cond);
/* Append it to tx (stolen): BOT_EOK, or BOT_ENOMEM when it is NULL. */
int ddb__push(json_t *tx, json_t *it);

/* The item of one audit row of chain r->chain at ord (audit,
 * e#<ord>#<chain>#<seq>). New reference; NULL on OOM or a seq/ord that does
 * not fit the key. */
json_t *ddb__audit_item(const struct store_audit_row *r, int64_t ord);

struct ddb__head;

/* The SET list of transition c at now (state, gstate, updated_at, and the
 * fields store.h says it sets). */
void ddb__change_sets(struct ddb__ex *e, const struct store_change *c, int64_t now);

/* A random ClientRequestToken (32 hex digits): a retry of the same request
 * by the aws client is then idempotent in DynamoDB. New reference. */
json_t *ddb__request_token(void);
uint32_t ddb__random32(void);

/* DynamoDB's rule for table names: 3 to 255 of [A-Za-z0-9_.-]. */
bool ddb__table_name_ok(const char *t);

/* One audit event to append (strings borrowed; actor NULL = "system",
 * detail NULL = "{}"). */
struct ddb__event {
	uint64_t gate_id;
	const char *actor, *kind, *from, *to, *detail;
};

/* The tail of one audit chain as read: its last seq (0: empty), that
 * event's hash (CHAIN_GENESIS when empty) and ord (0 when empty). */
struct ddb__head {
	uint64_t chain; /* 0 = the log chain, else the gate's id */
	int64_t seq, ord;
	char hash[65];
};

/* The tail of gate id's chain from its item (a_seq, a_hash, a_ord; an
 * item without a_seq, or NULL, is an empty chain). */
void ddb__head_of_gate(const json_t *gate, uint64_t id, struct ddb__head *h);
/* The log chain's tail from its head item (audit, head) (NULL: empty). */
void ddb__head_of_log(const json_t *item, struct ddb__head *h);

/* Seal ev[0..n) at now after the tail h of chain h->chain and append one
 * Put per event to the TransactItems array tx (attribute_not_exists). ord
 * is max(now, h->ord) for all of them. *tail is then the chain's new tail
 * (for the caller's Update of the tail: ddb__log_head_item or
 * ddb__gate_head_sets). BOT_EOK, BOT_ENOMEM, BOT_EINVAL (seq or ord out of
 * the key's range). */
int ddb__append_events(const char *table, json_t *tx, const struct ddb__head *h,
		       const struct ddb__event *ev, size_t n, int64_t now,
		       struct ddb__head *tail);

/* The log head's Update from old to tail, conditional on the seq it had
 * (attribute_not_exists for an empty chain). New reference; NULL on OOM. */
json_t *ddb__log_head_item(const char *table, const struct ddb__head *old,
			   const struct ddb__head *tail);

/* Add to e's SET list a gate chain's move from old to tail (a_seq, a_hash,
 * a_ord) and return its condition, to be ANDed with the gate's own:
 * "#a_seq = :olda", or for an empty chain "(attribute_not_exists(#a_seq)
 * OR #a_seq = :olda)" (static text). */
const char *ddb__gate_head_sets(struct ddb__ex *e, const struct ddb__head *old,
				const struct ddb__head *tail);

/* A processed event id recorded at now: at, expires_at (now + retention,
 * compared in conditions) and ttl (seconds, for DynamoDB's Time To Live,
 * never before expires_at). New reference; NULL on OOM or an id too long
 * for a key. */
json_t *ddb__seen_item(const char *event_id, int64_t now, uint64_t retention_ms);

/* The transaction item of transition c at now: an Update of the gate
 * conditional on its state being c->from (and its chain's tail being
 * `old`), bumping its version and moving the chain's tail to `tail`. New
 * reference; NULL on OOM. */
json_t *ddb__change_item(const char *table, const struct store_change *c, int64_t now,
			 const struct ddb__head *old, const struct ddb__head *tail);

#endif
