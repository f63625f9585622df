/* ddb.h - DynamoDB calls (prefix aws_ddb_): a JSON request in, the parsed
 * answer out, with the two answers a conditional write can give told apart
 * from errors. The groundwork of the DynamoDB store backend (issue 12).
 *
 * DynamoDB speaks awsJson1_0 (X-Amz-Target DynamoDB_20120810.<Op>) through
 * the aws client (client.h: SigV4, endpoints incl. AWS_ENDPOINT_URL_DYNAMODB,
 * the standard retry policy: throttling and 5xx are retried, a failed
 * condition never is).
 *
 *   ConditionalCheckFailedException -> AWS_DDB_CONDITION_FAILED, with the
 *     item as it was when the request asked for it
 *     (ReturnValuesOnConditionCheckFailure = ALL_OLD): who won;
 *   TransactionCanceledException -> AWS_DDB_TXN_CANCELLED, with
 *     CancellationReasons (one per action, in order: {"Code": "None" |
 *     "ConditionalCheckFailed" | ..., "Item": ...}): nothing was written.
 *
 * Attribute values are DynamoDB's typed JSON ({"S": "..."}, {"N": "12"});
 * the helpers below make and read them. Callbacks run once, on the loop.
 */
#ifndef ADAPTERS_AWS_DDB_H
#define ADAPTERS_AWS_DDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "adapters/aws/client.h"

enum aws_ddb_outcome {
	AWS_DDB_OK = 0,
	AWS_DDB_CONDITION_FAILED,
	AWS_DDB_TXN_CANCELLED,
	AWS_DDB_ERROR,
};

/* Valid only during the callback. */
struct aws_ddb_result {
	enum aws_ddb_outcome outcome;
	json_t *body;     /* OK: the answer ({} for an empty one) */
	json_t *old_item; /* CONDITION_FAILED: the item as it was (NULL unless asked for) */
	json_t *reasons;  /* TXN_CANCELLED: CancellationReasons (an array; may be NULL) */
	const struct cloud_error *err; /* everything but OK */
};

typedef void (*aws_ddb_cb)(void *ud, const struct aws_ddb_result *r);

/* Call op ("PutItem", "TransactWriteItems", ...) with body (a reference is
 * stolen). *out as aws_client_call. Returns 0, or BOT_EINVAL / BOT_ENOMEM
 * / BOT_ESTATE and cb will not run. */
int aws_ddb_call(struct aws_client *c, const char *op, json_t *body, aws_ddb_cb cb, void *ud,
		 struct aws_call **out);

/* {"S": s} and {"N": "<n>"} (new references; NULL on OOM). */
json_t *aws_ddb_s(const char *s);
json_t *aws_ddb_n(int64_t n);
/* item[name].S, or NULL. */
const char *aws_ddb_get_s(const json_t *item, const char *name);
/* item[name].N as an integer: false when absent or not an integer. */
bool aws_ddb_get_n(const json_t *item, const char *name, int64_t *out);

#endif
