/* ddb.c - DynamoDB calls (see ddb.h). */
#include "adapters/aws/ddb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ddb_call {
	aws_ddb_cb cb;
	void *ud;
};

/* The error document's Item / CancellationReasons, when AWS sent them. */
static json_t *error_doc(const struct aws_response *r)
{
	return r && r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
}

static void on_reply(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct ddb_call *x = ud;
	struct aws_ddb_result res = {.outcome = AWS_DDB_OK, .err = err};
	struct cloud_error perr;
	json_t *doc = NULL;

	if (err) {
		res.outcome = AWS_DDB_ERROR;
		if (strcmp(err->aws_code, "ConditionalCheckFailedException") == 0) {
			res.outcome = AWS_DDB_CONDITION_FAILED;
			doc = error_doc(r);
			res.old_item = json_object_get(doc, "Item");
		} else if (strcmp(err->aws_code, "TransactionCanceledException") == 0) {
			res.outcome = AWS_DDB_TXN_CANCELLED;
			doc = error_doc(r);
			res.reasons = json_object_get(doc, "CancellationReasons");
		}
	} else {
		doc = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : json_object();
		if (!json_is_object(doc)) {
			memset(&perr, 0, sizeof perr);
			perr.code = BOT_EPROTOCOL;
			perr.http_status = (int)r->status;
			perr.attempts = r->attempts;
			snprintf(perr.message, sizeof perr.message, "DynamoDB answered with a body "
				 "that is not a JSON object");
			snprintf(perr.request_id, sizeof perr.request_id, "%s", r->request_id);
			res.outcome = AWS_DDB_ERROR;
			res.err = &perr;
		}
		res.body = res.outcome == AWS_DDB_OK ? doc : NULL;
	}
	x->cb(x->ud, &res);
	json_decref(doc);
	free(x);
}

int aws_ddb_call(struct aws_client *c, const char *op, json_t *body, aws_ddb_cb cb, void *ud,
		 struct aws_call **out)
{
	struct ddb_call *x = NULL;
	char *text = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!c || !op || !body || !cb) {
		rc = BOT_EINVAL;
		goto out;
	}
	text = json_dumps(body, JSON_COMPACT);
	x = malloc(sizeof *x);
	if (!text || !x) {
		rc = BOT_ENOMEM;
		goto out;
	}
	x->cb = cb;
	x->ud = ud;
	rc = aws_client_call(c, &(struct aws_request){.service = AWS_SVC_DYNAMODB, .op = op,
						       .body = text, .body_len = strlen(text)},
			     on_reply, x, out);
	if (rc == BOT_EOK)
		x = NULL; /* the callback frees it */
out:
	free(x);
	free(text);
	json_decref(body);
	return rc;
}

json_t *aws_ddb_s(const char *s)
{
	return s ? json_pack("{s:s}", "S", s) : NULL;
}

json_t *aws_ddb_n(int64_t n)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRId64, n);
	return json_pack("{s:s}", "N", buf);
}

const char *aws_ddb_get_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

bool aws_ddb_get_n(const json_t *item, const char *name, int64_t *out)
{
	const char *s = json_string_value(json_object_get(json_object_get(item, name), "N"));
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = (int64_t)v;
	return true;
}
