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

/* The item of one audit row (audit, e#<seq>). New reference; NULL on OOM. */
json_t *ddb__audit_item(const struct store_audit_row *r);

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

/* Seal ev[0..n) at now after the chain's tail (head_seq, head_hash; 0 and
 * CHAIN_GENESIS for an empty chain) and append to the TransactItems array
 * tx: one Put per event (audit/e#<seq>, attribute_not_exists) and the
 * head's Update, conditional on the seq it had (attribute_not_exists for
 * an empty chain). BOT_EOK or BOT_ENOMEM. */
int ddb__append_events(const char *table, json_t *tx, int64_t head_seq, const char *head_hash,
		       const struct ddb__event *ev, size_t n, int64_t now);

/* A processed event id recorded at now: at, expires_at (now + retention,
 * compared in conditions) and ttl (seconds, for DynamoDB's Time To Live,
 * never before expires_at). New reference; NULL on OOM or an id too long
 * for a key. */
json_t *ddb__seen_item(const char *event_id, int64_t now, uint64_t retention_ms);

/* The transaction item of transition c at now: an Update of the gate
 * conditional on its state being c->from, bumping its version. New
 * reference; NULL on OOM. */
json_t *ddb__change_item(const char *table, const struct store_change *c, int64_t now);

#endif
