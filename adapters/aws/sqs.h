/* sqs.h - Amazon SQS over awsJson1_0 (prefix aws_sqs_): ReceiveMessage
 * (long polling), DeleteMessage, ChangeMessageVisibility. X-Amz-Target is
 * AmazonSQS.<Op>, the signing name "sqs" (client.h does the framing). The
 * request goes to the SQS endpoint of the queue's region (from its URL,
 * https://sqs.<region>.amazonaws.com/<account>/<name>; the client's region
 * when the URL names none, as a local one does), AWS_ENDPOINT_URL_SQS and
 * AWS_ENDPOINT_URL applying as for every service; the QueueUrl goes in the
 * body.
 *
 * Queue calls are not spent from the request budget (budget.h): a long poll
 * holds a connection for up to 20 s, not the account's API rate. A receive
 * gives its HTTP request wait_s plus AWS_SQS_POLL_SLACK_MS to answer, so a
 * poll that waits its full time is never cut by the client's own timeout.
 *
 * Bodies and the reply parser are pure; callbacks run once, on the loop,
 * never inside the call. */
#ifndef ADAPTERS_AWS_SQS_H
#define ADAPTERS_AWS_SQS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/aws/client.h"

#define AWS_SQS_MAX_MESSAGES 10
#define AWS_SQS_MAX_WAIT_S 20
#define AWS_SQS_POLL_SLACK_MS 10000L

struct aws_sqs_msg {
	char *id, *receipt, *body;
	size_t body_len;
	int receive_count; /* ApproximateReceiveCount; 0 when not told */
};

struct aws_sqs_msgs {
	struct aws_sqs_msg *v;
	size_t n;
};
void aws_sqs_msgs_clear(struct aws_sqs_msgs *m);

/* The region of a queue URL ("https://sqs.eu-west-1.amazonaws.com/1/q" and
 * the legacy "https://eu-west-1.queue.amazonaws.com/1/q" -> "eu-west-1")
 * into buf; false when the URL names none. */
bool aws_sqs_queue_region(const char *queue_url, char *buf, size_t n);

/* Bodies (caller frees; NULL on OOM or bad arguments: no URL, max outside
 * 1..10, wait_s outside 0..20, visibility_s outside 0..43200; visibility
 * 0 leaves the queue's default). */
char *aws_sqs_receive_body(const char *queue_url, int max, int wait_s, int visibility_s);
char *aws_sqs_delete_body(const char *queue_url, const char *receipt);
char *aws_sqs_visibility_body(const char *queue_url, const char *receipt, int visibility_s);
/* ReceiveMessage reply -> messages (every one with an id and a receipt;
 * a missing Body is ""). BOT_EPARSE with a reason otherwise. */
int aws_sqs_parse_receive(const char *body, size_t len, struct aws_sqs_msgs *out,
			  struct bot_error *err);

/* msgs valid only during the callback; NULL when err is set. */
typedef void (*aws_sqs_receive_cb)(void *ud, const struct cloud_error *err,
				   const struct aws_sqs_msgs *msgs);
typedef void (*aws_sqs_done_cb)(void *ud, const struct cloud_error *err);

/* 0, or BOT_EINVAL / BOT_ENOMEM / BOT_ESTATE and cb will not run. */
int aws_sqs_receive(struct aws_client *c, const char *queue_url, int max, int wait_s,
		    int visibility_s, aws_sqs_receive_cb cb, void *ud, struct aws_call **out);
int aws_sqs_delete(struct aws_client *c, const char *queue_url, const char *receipt,
		   aws_sqs_done_cb cb, void *ud, struct aws_call **out);
int aws_sqs_change_visibility(struct aws_client *c, const char *queue_url, const char *receipt,
			      int visibility_s, aws_sqs_done_cb cb, void *ud,
			      struct aws_call **out);

#endif
