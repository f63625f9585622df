/* sns.h - Amazon SNS Publish over awsQuery (prefix aws_sns_). The form is
 * encoded exactly as botocore does it (space -> '+'); the reply is XML.
 * Publish is not idempotent, so it is sent once and never retried (a
 * retry after a lost reply could notify the owners twice). */
#ifndef ADAPTERS_AWS_SNS_H
#define ADAPTERS_AWS_SNS_H

#include <stddef.h>

#include "adapters/aws/client.h"

struct aws_sns_attr {
	const char *name, *value; /* String attributes */
};

struct aws_sns_publish {
	const char *topic_arn;    /* required */
	const char *message;      /* required */
	const char *subject;      /* optional (email subject) */
	const struct aws_sns_attr *attrs;
	size_t n_attrs;
};

/* Pure: body (caller frees; NULL on OOM/bad arguments) and reply parser
 * (MessageId, caller frees). */
char *aws_sns_publish_body(const struct aws_sns_publish *p);
int aws_sns_parse_publish(const char *xml, size_t len, char **message_id, struct bot_error *err);

typedef void (*aws_sns_publish_cb)(void *ud, const struct cloud_error *err, const char *message_id);
int aws_sns_publish(struct aws_client *c, const char *region, const struct aws_sns_publish *p,
		    aws_sns_publish_cb cb, void *ud, struct aws_call **out);

#endif
