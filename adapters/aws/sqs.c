/* sqs.c - SQS ReceiveMessage, DeleteMessage, ChangeMessageVisibility (see
 * sqs.h). */
#include "adapters/aws/sqs.h"
#include "adapters/aws/util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aws_sqs_msgs_clear(struct aws_sqs_msgs *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->v && i < m->n; i++) {
		free(m->v[i].id);
		free(m->v[i].receipt);
		free(m->v[i].body);
	}
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* A region code: [a-z0-9-]+ with a digit (never "queue", "sqs"...). */
static bool region_like(const char *s, size_t l)
{
	bool digit = false;

	for (size_t i = 0; i < l; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit = true;
		else if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	}
	return l > 0 && digit;
}

bool aws_sqs_queue_region(const char *queue_url, char *buf, size_t n)
{
	const char *h, *e, *r = NULL;
	size_t l = 0;

	if (!queue_url || !(h = strstr(queue_url, "://")))
		return false;
	h += 3;
	e = h + strcspn(h, "/:");
	if (strncmp(h, "sqs.", 4) == 0) {                /* sqs.<region>.amazonaws.com */
		r = h + 4;
		const char *dot = memchr(r, '.', (size_t)(e - r));
		l = dot ? (size_t)(dot - r) : 0;
	} else {                                         /* <region>.queue.amazonaws.com */
		const char *dot = memchr(h, '.', (size_t)(e - h));
		if (dot && strncmp(dot, ".queue.", 7) == 0) {
			r = h;
			l = (size_t)(dot - h);
		}
	}
	if (!r || !region_like(r, l) || l >= n)
		return false;
	memcpy(buf, r, l);
	buf[l] = '\0';
	return true;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

char *aws_sqs_receive_body(const char *queue_url, int max, int wait_s, int visibility_s)
{
	json_t *j;

	if (!queue_url || !*queue_url || max < 1 || max > AWS_SQS_MAX_MESSAGES || wait_s < 0 ||
	    wait_s > AWS_SQS_MAX_WAIT_S || visibility_s < 0 || visibility_s > 43200)
		return NULL;
	/* Both names of the attribute list: MessageSystemAttributeNames is
	 * the current one, AttributeNames what older servers know. */
	j = json_pack("{s:s, s:i, s:i, s:[s], s:[s]}", "QueueUrl", queue_url,
		      "MaxNumberOfMessages", max, "WaitTimeSeconds", wait_s,
		      "MessageSystemAttributeNames", "ApproximateReceiveCount",
		      "AttributeNames", "ApproximateReceiveCount");
	if (j && visibility_s > 0 &&
	    json_object_set_new(j, "VisibilityTimeout", json_integer(visibility_s))) {
		json_decref(j);
		return NULL;
	}
	return dump(j);
}

char *aws_sqs_delete_body(const char *queue_url, const char *receipt)
{
	if (!queue_url || !*queue_url || !receipt || !*receipt)
		return NULL;
	return dump(json_pack("{s:s, s:s}", "QueueUrl", queue_url, "ReceiptHandle", receipt));
}

char *aws_sqs_visibility_body(const char *queue_url, const char *receipt, int visibility_s)
{
	if (!queue_url || !*queue_url || !receipt || !*receipt || visibility_s < 0 ||
	    visibility_s > 43200)
		return NULL;
	return dump(json_pack("{s:s, s:s, s:i}", "QueueUrl", queue_url, "ReceiptHandle", receipt,
			      "VisibilityTimeout", visibility_s));
}

static int count(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 0 || v > INT_MAX ? 0 : (int)v;
}

int aws_sqs_parse_receive(const char *body, size_t len, struct aws_sqs_msgs *out,
			  struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *msgs;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!j)
		return BOT_EPARSE;
	msgs = json_object_get(j, "Messages");
	if (msgs && !json_is_array(msgs) && !json_is_null(msgs)) {
		rc = bot_error_set(err, BOT_EPARSE, "Messages is not a list");
		goto out;
	}
	size_t n = json_array_size(msgs);
	if (n > AWS_SQS_MAX_MESSAGES) {
		rc = bot_error_set(err, BOT_EPARSE, "%zu messages in one reply (at most %d)", n,
				   AWS_SQS_MAX_MESSAGES);
		goto out;
	}
	if (n && !(out->v = calloc(n, sizeof *out->v))) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(msgs, i), *b = json_object_get(x, "Body");
		struct aws_sqs_msg *m = &out->v[out->n++];
		const char *id = aws__json_str(x, "MessageId"), *rh = aws__json_str(x, "ReceiptHandle");
		if (!id || !*id || !rh || !*rh) {
			rc = bot_error_set(err, BOT_EPARSE, "Messages[%zu] has no MessageId or "
					   "ReceiptHandle", i);
			goto out;
		}
		m->id = aws__dup(id, &oom);
		m->receipt = aws__dup(rh, &oom);
		m->body = aws__dup(json_is_string(b) ? json_string_value(b) : "", &oom);
		m->body_len = json_is_string(b) ? json_string_length(b) : 0;
		m->receive_count = count(aws__json_str(json_object_get(x, "Attributes"),
						       "ApproximateReceiveCount"));
	}
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
out:
	json_decref(j);
	if (rc)
		aws_sqs_msgs_clear(out);
	return rc;
}

/* ---- calls -------------------------------------------------------------- */

struct sqs_call {
	union {
		aws_sqs_receive_cb receive;
		aws_sqs_done_cb done;
	} cb;
	void *ud;
};

static void on_receive(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct sqs_call *x = ud;
	struct aws_sqs_msgs msgs;
	struct bot_error be = { .msg = "" };
	int rc;

	if (err) {
		x->cb.receive(x->ud, err, NULL);
	} else if ((rc = aws_sqs_parse_receive(r->body, r->body_len, &msgs, &be))) {
		struct cloud_error e = { .code = rc == BOT_ENOMEM ? BOT_ENOMEM : BOT_EPROTOCOL,
					 .http_status = (int)r->status, .attempts = r->attempts };
		aws__copy(e.request_id, sizeof e.request_id, r->request_id);
		snprintf(e.message, sizeof e.message, "unexpected ReceiveMessage reply: %s", be.msg);
		x->cb.receive(x->ud, &e, NULL);
	} else {
		x->cb.receive(x->ud, NULL, &msgs);
		aws_sqs_msgs_clear(&msgs);
	}
	free(x);
}

static void on_done(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct sqs_call *x = ud;

	(void)r;
	x->cb.done(x->ud, err);
	free(x);
}

/* Send body (taken) as op to the queue's region. */
static int sqs_send(struct aws_client *c, const char *queue_url, const char *op, char *body,
		long timeout_ms, aws_client_cb on, struct sqs_call *x, struct aws_call **out)
{
	char region[48];
	int rc;

	if (!body || !x) {
		free(body);
		free(x);
		return BOT_ENOMEM;
	}
	rc = aws_client_call(c, &(struct aws_request){
		.service = AWS_SVC_SQS,
		.region = aws_sqs_queue_region(queue_url, region, sizeof region) ? region : NULL,
		.op = op, .body = body, .body_len = strlen(body), .timeout_ms = timeout_ms,
	}, on, x, out);
	free(body);
	if (rc)
		free(x);
	return rc;
}

int aws_sqs_receive(struct aws_client *c, const char *queue_url, int max, int wait_s,
		    int visibility_s, aws_sqs_receive_cb cb, void *ud, struct aws_call **out)
{
	struct sqs_call *x;
	char *body;

	if (out)
		*out = NULL;
	if (!c || !cb || !queue_url || !*queue_url || max < 1 || max > AWS_SQS_MAX_MESSAGES ||
	    wait_s < 0 || wait_s > AWS_SQS_MAX_WAIT_S || visibility_s < 0 || visibility_s > 43200)
		return BOT_EINVAL;
	body = aws_sqs_receive_body(queue_url, max, wait_s, visibility_s);
	x = calloc(1, sizeof *x);
	if (x) {
		x->cb.receive = cb;
		x->ud = ud;
	}
	return sqs_send(c, queue_url, "ReceiveMessage", body,
		    (long)wait_s * 1000 + AWS_SQS_POLL_SLACK_MS, on_receive, x, out);
}

int aws_sqs_delete(struct aws_client *c, const char *queue_url, const char *receipt,
		   aws_sqs_done_cb cb, void *ud, struct aws_call **out)
{
	struct sqs_call *x;

	if (out)
		*out = NULL;
	if (!c || !cb || !queue_url || !*queue_url || !receipt || !*receipt)
		return BOT_EINVAL;
	x = calloc(1, sizeof *x);
	if (x) {
		x->cb.done = cb;
		x->ud = ud;
	}
	return sqs_send(c, queue_url, "DeleteMessage", aws_sqs_delete_body(queue_url, receipt), 0,
		    on_done, x, out);
}

int aws_sqs_change_visibility(struct aws_client *c, const char *queue_url, const char *receipt,
			      int visibility_s, aws_sqs_done_cb cb, void *ud,
			      struct aws_call **out)
{
	struct sqs_call *x;

	if (out)
		*out = NULL;
	if (!c || !cb || !queue_url || !*queue_url || !receipt || !*receipt || visibility_s < 0 ||
	    visibility_s > 43200)
		return BOT_EINVAL;
	x = calloc(1, sizeof *x);
	if (x) {
		x->cb.done = cb;
		x->ud = ud;
	}
	return sqs_send(c, queue_url, "ChangeMessageVisibility",
		    aws_sqs_visibility_body(queue_url, receipt, visibility_s), 0, on_done, x, out);
}
