/* cloud_aws.h - the AWS backend of adapters/cloud.h (prefix cloud_aws_):
 * ECS for describe/scale/list/clusters, CloudWatch for metrics and alarms,
 * SNS for notify, on one aws_client (client.h) with the standard credential
 * chain (creds.h).
 *
 * Creating it (bot/main.c):
 *
 *   struct cloud *cloud;
 *   struct bot_error err;
 *   int rc = cloud_aws_create(loop, &(struct cloud_aws_opts){ .config = cfg }, &cloud, &err);
 *   if (rc) { fprintf(stderr, "AWS: %s\n", err.msg); exit(...); }   // startup errors are fatal
 *   ... cloud->ops->describe(cloud, ...) ...
 *   cloud->ops->destroy(cloud);   // before bot_loop_destroy; safe with calls in flight
 *
 * Everything comes from cfg->aws (region, endpoint_url, role_arn,
 * role_session_name, profile) and the standard AWS environment (see
 * client.h for endpoints, creds.h for credentials); a field set in opts
 * wins over the config. Each call goes to the region of the service it
 * names: the region in a cluster ARN, else the service's `region:` in the
 * config, else aws.region.
 *
 * Semantics of the ops (cloud.h): describe answers BOT_ENOTFOUND for a
 * service ECS reports MISSING; scale is UpdateService with an absolute
 * desiredCount (retried: idempotent); metrics are CPUUtilization and
 * MemoryUtilization (Average, Maximum) of AWS/ECS ClusterName+ServiceName
 * over the last `minutes`; alarms are the metric alarms in ALARM whose
 * dimensions name the service (ServiceName, and ClusterName when present);
 * notify is SNS Publish, sent once, never retried.
 *
 * The alarm intake (cloud.h): queue_receive is an SQS ReceiveMessage long
 * poll (sqs.h; in the queue URL's region, outside the request budget) whose
 * every body goes through alarm_msg.h (alarm, or error with the reason);
 * queue_delete and queue_defer are DeleteMessage and
 * ChangeMessageVisibility; alarm_states is DescribeAlarms in the default
 * region and in each other region a configured service is in, one call per
 * 100 names and one per prefix there (at most 1000 names, 50 prefixes and
 * 1000 alarms; BOT_EINVAL for none asked or an empty one), budgeted like
 * every CloudWatch call; an alarm is one ARN. Region and account of a
 * "describe" change come from its ARN (the region asked and no account when
 * it has none).
 *
 * Teardown: the backend registers a bot_loop shutdown hook (through its
 * aws_client) that cancels every call in flight: their callbacks run with
 * BOT_ECANCELLED. destroy does the same first, then frees; calls made after
 * shutdown began return BOT_ESTATE (their callbacks will not run).
 */
#ifndef ADAPTERS_AWS_CLOUD_AWS_H
#define ADAPTERS_AWS_CLOUD_AWS_H

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"
#include "adapters/cloud.h"
#include "adapters/http/http.h"
#include "bot/base/loop.h"
#include "config/config.h"

struct cloud_aws_opts {
	const struct config *config;    /* aws section + services (borrowed during create); may be NULL */
	/* Overrides (NULL/0 = from config, then environment/defaults): */
	const char *region;
	const char *endpoint_url;
	const char *role_arn;
	const char *role_session_name;
	const char *profile;
	const char *ca_file;            /* extra CA bundle for https endpoints */
	struct http *http;              /* share an HTTP client (borrowed); NULL = own one */
	const struct aws_retry_policy *retry; /* NULL = standard mode (AWS_MAX_ATTEMPTS honoured) */
	long timeout_ms;                /* per attempt; 0 = 10000 */
	long creds_refresh_margin_s;    /* 0 = 900 */
	int assume_duration_s;          /* AssumeRole DurationSeconds; 0 = 3600 */
	const struct aws_creds *fixed_creds; /* skip the chain (tools, tests); copied */
};

/* Returns 0 and *out, or BOT_ECONFIG (no credentials, bad endpoint, bad
 * profile...), BOT_EIO, BOT_ENOMEM with the reason in err. */
int cloud_aws_create(struct bot_loop *loop, const struct cloud_aws_opts *o, struct cloud **out,
		     struct bot_error *err);

/* The region of calls about services that name none: aws.region, else
 * AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 (borrowed from cfg or
 * the environment). cfg may be NULL. */
const char *cloud_aws_region(const struct config *cfg);

/* Is c the AWS backend? The accessors below return NULL when it is not. */
bool cloud_is_aws(const struct cloud *c);
struct aws_client *cloud_aws_client(struct cloud *c);
struct aws_creds_provider *cloud_aws_creds(struct cloud *c);

/* An aws client for calls that are not the cloud's own (the DynamoDB
 * store), on this backend's HTTP client, credential chain and retry policy:
 * the backend's own client when region is NULL or its region and
 * endpoint_url is NULL; otherwise a second client in region whose every
 * call goes to endpoint_url when it is set (before AWS_ENDPOINT_URL_*;
 * endpoint_what names it in errors, "store.endpoint"), else to the
 * endpoint the environment or aws.endpoint_url gives. Borrowed: it lives
 * as long as c (destroy the store first). 0, BOT_EINVAL (c is not the AWS
 * backend, or a bad endpoint, in err), BOT_ENOMEM. */
int cloud_aws_client_for(struct cloud *c, const char *region, const char *endpoint_url,
			 const char *endpoint_what, struct aws_client **out,
			 struct bot_error *err);

/* ---- --check-config ---------------------------------------------------- */

struct cloud_aws_check_item {
	const char *service;      /* the config's name for it */
	const char *cluster, *ecs_service, *region;
	int code;                 /* 0: exists and ACTIVE; BOT_ENOTFOUND: cluster or service
	                           * missing/inactive; other: could not tell (auth, network...) */
	char detail[320];         /* "ACTIVE, desired 1, running 1, pending 0" or what went wrong */
	struct cloud_error err;   /* the AWS error behind a non-zero code */
};

struct cloud_aws_check {
	const char *identity;     /* STS GetCallerIdentity Arn, NULL when it failed */
	struct cloud_error identity_err;
	const char *creds_source; /* aws_creds_source() */
	const struct cloud_aws_check_item *items; /* one per configured service, config order */
	size_t n;
	size_t failed;            /* items with code != 0 */
};

/* Valid only during the callback. */
typedef void (*cloud_aws_check_cb)(void *ud, const struct cloud_aws_check *result);

/* Confirm every service in cfg exists: STS GetCallerIdentity once, then per
 * service DescribeClusters (the cluster is ACTIVE) and DescribeServices (the
 * service is there and ACTIVE), one service at a time. cb runs once, later,
 * on the loop. Usage from main for --check-config:
 *
 *   cloud_aws_check_config(cloud, cfg, on_checked, &st);
 *   bot_loop_run(loop);      // on_checked prints each item, sets the exit
 *                            // code, then calls bot_loop_shutdown(loop)
 *
 * Returns 0, BOT_EINVAL (c is not the AWS backend), BOT_ENOMEM, BOT_ESTATE. */
int cloud_aws_check_config(struct cloud *c, const struct config *cfg, cloud_aws_check_cb cb,
			   void *ud);

#endif
