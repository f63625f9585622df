/* iam_policy.h - the least-privilege IAM policy for a configuration (prefix
 * aws_iam_policy_): what `chatops-bot iam-policy --config FILE` prints.
 *
 * It allows exactly the calls the bot makes for that file, on the resources
 * it names. Statements come in this order, each only when needed:
 *
 *   EcsServices           ecs:DescribeServices, ecs:UpdateService on every
 *                         configured service,
 *                         arn:P:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE
 *   EcsClusters           ecs:DescribeClusters on their clusters
 *                         (--check-config), arn:P:ecs:REGION:ACCOUNT:cluster/CLUSTER
 *   EcsTaskDefinitions    when a service allows rollback (actions:):
 *                         ecs:ListTaskDefinitions, ecs:DescribeTaskDefinition
 *                         on "*": neither has resource-level permissions
 *                         (restart needs only UpdateService, above)
 *   CloudWatchMetricData  cloudwatch:GetMetricData on "*": the action has no
 *                         resource-level permissions
 *   CloudWatchAlarms      cloudwatch:DescribeAlarms on
 *                         arn:P:cloudwatch:REGION:ACCOUNT:alarm:* for each region
 *                         with a service (the bot lists the metric alarms in
 *                         ALARM, then keeps those naming the service)
 *   SnsPublish            sns:Publish on every sns_topic_arn
 *   SqsAlarmIntake        with alarms.queue_url: sqs:ReceiveMessage,
 *                         sqs:DeleteMessage, sqs:ChangeMessageVisibility on
 *                         the queue, arn:P:sqs:REGION:ACCOUNT:NAME from
 *                         https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (a URL
 *                         naming no region: the default one); the intake's
 *                         DescribeAlarms adds the default region to
 *                         CloudWatchAlarms
 *   DynamoDBStore         with store.backend dynamodb: what the store calls at
 *                         run time, on arn:P:dynamodb:REGION:ACCOUNT:table/TABLE
 *                         and its indexes, .../table/TABLE/index/(any) (REGION: store.region):
 *                         GetItem, PutItem, UpdateItem, DeleteItem, Query,
 *                         Scan, ConditionCheckItem (TransactWriteItems and
 *                         TransactGetItems are authorised per contained
 *                         action: there is no IAM action of their own), and
 *                         DescribeTable (--check-config). `store init` needs
 *                         more, not printed: CreateTable, DescribeTable,
 *                         DescribeTimeToLive, UpdateTimeToLive
 *   AssumeConfiguredRole  sts:AssumeRole on aws.role_arn
 *
 * STS GetCallerIdentity (--check-config) needs no permission. A service's
 * region and account are those of its cluster when the cluster is given as
 * an ARN; else its `region:` (or opts.region) and opts.account. P is the
 * partition of the region (aws, aws-cn, aws-us-gov...).
 *
 * The output is deterministic: statements in the order above, actions and
 * resources sorted, duplicates merged. With role_arn set, the caller needs
 * only AssumeConfiguredRole and the role the rest; one document holding
 * both is what is printed (README, Security model).
 */
#ifndef ADAPTERS_AWS_IAM_POLICY_H
#define ADAPTERS_AWS_IAM_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bot/base/error.h"
#include "config/config.h"

struct aws_iam_policy_opts {
	const char *account; /* the account the bot calls AWS in: 12 digits, or "*" for any */
	const char *region;  /* region of services that name none (cloud_aws_region()) */
};

/* Build the policy document for cfg (borrowed for the call). Returns 0 and
 * *out (the caller's: json_decref), or BOT_EINVAL (a bad account or region,
 * a name holding an IAM wildcard '*' or '?', nothing to allow) or
 * BOT_ENOMEM, with the reason in err. */
int aws_iam_policy_build(const struct config *cfg, const struct aws_iam_policy_opts *o,
			 json_t **out, struct bot_error *err);

/* The document as printed: two-space indent, a final newline. The caller
 * frees; NULL when out of memory. */
char *aws_iam_policy_format(const json_t *policy);

/* Is s an account the policy may name: 12 digits, or "*"? */
bool aws_iam_policy_account_valid(const char *s);

/* The account field of an ARN ("arn:aws:iam::123456789012:role/x") into
 * buf; false when s is not an ARN or names no account. */
bool aws_iam_policy_arn_account(const char *arn, char *buf, size_t n);

#endif
