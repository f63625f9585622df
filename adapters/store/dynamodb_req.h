/* dynamodb_req.h - pieces of the DynamoDB store's requests (prefix ddb__):
 * internal to adapters/store/dynamodb.c, declared here for its unit test
 * (tests/unit/ddb_req_test.c). Pure: values in, DynamoDB JSON out.
 *
 * Every transaction item asks for ReturnValuesOnConditionCheckFailure =
 * ALL_OLD and names each attribute through a placeholder (#name; some of
 * ours, like state, are reserved words); only placeholders an expression
 * uses are sent (DynamoDB refuses unused ones). */
#ifndef ADAPTERS_STORE_DYNAMODB_REQ_H
#define ADAPTERS_STORE_DYNAMODB_REQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/store.h"

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
