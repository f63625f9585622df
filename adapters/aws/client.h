/* client.h - one AWS API call on the loop (prefix aws_client_): resolve the
 * endpoint, get credentials, sign with our SigV4 signer (sigv4.h), send with
 * adapters/http, retry as the AWS SDKs' "standard" mode does, and hand back
 * either the 2xx body or a typed error (struct cloud_error).
 *
 *   aws_client_create(loop, http, &(struct aws_client_opts){ .region = "us-east-1" }, &c, &err);
 *   aws_client_set_creds(c, provider);
 *   aws_client_call(c, &(struct aws_request){ .service = AWS_SVC_ECS, .op = "DescribeServices",
 *                   .body = json, .body_len = n }, on_done, me, NULL);
 *
 * Protocols: ECS is awsJson1_1, CloudWatch, DynamoDB and SQS awsJson1_0 (POST / with
 * X-Amz-Target "<prefix>.<op>"), SNS and STS awsQuery (the caller's form
 * body carries Action= and Version=). Signed headers: content-type, host,
 * x-amz-date, x-amz-target (JSON), x-amz-security-token (temporary
 * credentials). The Host header is set explicitly so what is signed is what
 * is sent.
 *
 * Endpoints, first match wins (AWS SDKs' "service-specific endpoints"),
 * after opts.pinned_endpoint_url when it is set:
 *   AWS_ENDPOINT_URL_<ECS|CLOUDWATCH|SNS|STS|DYNAMODB|SQS>, AWS_ENDPOINT_URL (both ignored
 *   when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), opts.endpoint_url
 *   (config aws.endpoint_url), else https://<ecs|monitoring|sns|sts|dynamodb|sqs>.<region>.amazonaws.com
 *   (.amazonaws.com.cn for cn-*). The environment is read once, at create.
 *   The signing scope is always <region>/<signing name> whatever the URL.
 *
 * Retries (struct aws_retry_policy, data): at most max_attempts tries;
 * only throttling, transient (500/502/503/504, RequestTimeout...) and
 * transport errors (no response) are retried, after
 * rand[0,1) * min(base * 2^(n-1), max_backoff) ms (full jitter; the
 * throttle base is separate), never more than a server's x-amz-retry-after
 * allows plus max_retry_after_extra_ms; a retry quota (500 tokens, 5 per
 * retry, 10 per timeout retry, refunded on success) stops retry storms.
 * An ExpiredToken answer makes the credentials refresh once and the call
 * go again. Requests with no_retry (SNS Publish: not idempotent) are tried
 * once.
 *
 * Callbacks run exactly once, on the loop, never from inside
 * aws_client_call. Cancel, destroy and the loop's shutdown hook deliver
 * BOT_ECANCELLED synchronously. Logs carry service, op, region, attempt,
 * status, AWS code and request id: never a header value or a body. On
 * SignatureDoesNotMatch the canonical request is logged at debug
 * (sigv4.h: the token masked; it never holds the secret).
 */
#ifndef ADAPTERS_AWS_CLIENT_H
#define ADAPTERS_AWS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/aws/errors.h"
#include "adapters/aws/sigv4.h"
#include "adapters/cloud.h"
#include "adapters/http/http.h"
#include "bot/base/error.h"
#include "bot/base/loop.h"

struct aws_client;
struct aws_call;
struct aws_creds_provider;

enum aws_service {
	AWS_SVC_ECS = 0,
	AWS_SVC_CLOUDWATCH,
	AWS_SVC_SNS,
	AWS_SVC_STS,
	AWS_SVC_DYNAMODB,
	AWS_SVC_SQS,
	AWS_SVC__N
};

enum aws_protocol { AWS_PROTO_JSON_1_0, AWS_PROTO_JSON_1_1, AWS_PROTO_QUERY };

struct aws_service_info {
	const char *env_id;        /* "ECS": AWS_ENDPOINT_URL_ECS */
	const char *host_prefix;   /* "monitoring" in monitoring.<region>.amazonaws.com */
	const char *signing_name;  /* SigV4 service: "monitoring" */
	const char *target_prefix; /* "GraniteServiceVersion20100801" (JSON), NULL (query) */
	enum aws_protocol protocol;
	const char *content_type;
};

/* Never NULL for a valid service. */
const struct aws_service_info *aws_service_info(enum aws_service s);

struct aws_retry_policy {
	int max_attempts;          /* tries including the first; 1 = no retries */
	uint32_t base_ms;          /* transient/transport backoff base */
	uint32_t throttle_base_ms; /* throttling backoff base */
	uint32_t max_backoff_ms;   /* cap of the exponential part */
	uint32_t max_retry_after_extra_ms; /* x-amz-retry-after may add at most this */
	int quota;                 /* retry tokens (start and max); 0 = no quota */
	int retry_cost;            /* tokens per retry */
	int timeout_cost;          /* tokens per retry after a timeout */
	int success_refill;        /* tokens back per first-try success */
};

/* Standard mode: 3 attempts, 1 s bases, 20 s cap, 5 s retry-after extra,
 * quota 500/5/10/1. */
extern const struct aws_retry_policy aws_retry_standard;

/* Delay before the next try after attempts_done failed tries (>= 1) with
 * class c. rand01 in [0,1). retry_after_ms < 0: no x-amz-retry-after. Pure. */
uint64_t aws_retry_delay_ms(const struct aws_retry_policy *p, int attempts_done,
			    enum aws_err_class c, double rand01, long retry_after_ms);

struct aws_client_opts {
	const char *region;        /* default region (required) */
	const char *endpoint_url;  /* config override for every service; NULL none */
	/* An endpoint for every call of this client that wins over the
	 * environment too (a per-service setting of the config, like
	 * store.endpoint); NULL none. pinned_what names it in errors. */
	const char *pinned_endpoint_url;
	const char *pinned_what;
	const struct aws_retry_policy *retry; /* NULL = aws_retry_standard; copied */
	long timeout_ms;           /* per attempt; 0 = 10000 */
	/* Randomness for the jitter (tests); NULL = OpenSSL RAND_bytes. */
	double (*rand01)(void *ud);
	void *rand_ud;
};

/* http and loop are borrowed and must outlive the client. Registers a
 * shutdown hook that cancels every call. Returns 0, BOT_EINVAL (no region,
 * bad endpoint URL in opts or env), BOT_ENOMEM. */
int aws_client_create(struct bot_loop *loop, struct http *http, const struct aws_client_opts *o,
		      struct aws_client **out, struct bot_error *err);
/* The budget (budget.h) ECS, CloudWatch and SNS calls spend from (not
 * DynamoDB, STS and SQS: the bot's own plumbing and its intake): every
 * attempt, retries included, takes a token of its API and room in flight,
 * waiting for them when there are none (borrowed; may be shared by several
 * clients; NULL: none). */
struct aws_budget;
void aws_client_set_budget(struct aws_client *c, struct aws_budget *b);
/* The credentials used by calls that name none (borrowed). */
void aws_client_set_creds(struct aws_client *c, struct aws_creds_provider *p);
/* Cancel every call (callbacks run now with BOT_ECANCELLED) and free. NULL ok. */
void aws_client_destroy(struct aws_client *c);
/* Cancel every call in flight; the client stays usable. */
void aws_client_cancel_all(struct aws_client *c);
/* The client's default region (borrowed). */
const char *aws_client_region(const struct aws_client *c);

/* The URL a call to svc in region goes to (with the env snapshot). */
int aws_client_endpoint(const struct aws_client *c, enum aws_service svc, const char *region,
			char *buf, size_t n);
/* The resolution rule itself, pure: svc_env (AWS_ENDPOINT_URL_<ID>),
 * global_env (AWS_ENDPOINT_URL), config_url, then the AWS default. Empty
 * strings count as unset. Returns 0 or BOT_EINVAL (buf too small, no
 * region). */
int aws_endpoint_resolve(enum aws_service svc, const char *region, const char *svc_env,
			 const char *global_env, const char *config_url, char *buf, size_t n);

struct aws_request {
	enum aws_service service;
	const char *region;     /* NULL = the client's */
	const char *op;         /* "DescribeServices": the X-Amz-Target suffix (JSON), for logs */
	const char *body;       /* JSON document, or the form with Action=&Version= (copied) */
	size_t body_len;
	bool no_retry;          /* one try only */
	/* Per attempt; 0 = the client's. An SQS long poll needs more than
	 * its WaitTimeSeconds. */
	long timeout_ms;
	struct aws_creds_provider *creds; /* NULL = the client's (aws_client_set_creds) */
};

struct aws_response {
	long status;            /* 2xx */
	const char *body;       /* NUL-terminated */
	size_t body_len;
	const char *request_id; /* "" if none */
	int attempts;
};

/* Success: err NULL, resp set. Failure: err set (code, http_status,
 * aws_code, message, request_id, attempts); resp is the error answer
 * (status and body: DynamoDB puts the item a condition failed on there)
 * when AWS answered, NULL when it did not (transport, cancel). Both valid
 * only during the callback. */
typedef void (*aws_client_cb)(void *ud, const struct cloud_error *err,
			      const struct aws_response *resp);

/* Start a call. *out (may be NULL) is valid for aws_call_cancel until cb
 * starts. Returns 0, or BOT_EINVAL / BOT_ESTATE (shut down) / BOT_ENOMEM
 * and cb will not run. */
int aws_client_call(struct aws_client *c, const struct aws_request *r, aws_client_cb cb, void *ud,
		    struct aws_call **out);
/* Cancel: cb runs now with BOT_ECANCELLED. Ignored once cb has started. */
void aws_call_cancel(struct aws_call *call);

/* Is this error an expected outcome rather than a fault: a DynamoDB
 * ConditionalCheckFailedException, or a TransactionCanceledException whose
 * every CancellationReasons code is None or ConditionalCheckFailed (body:
 * the error answer, may be NULL)? A lost condition is how a shared store
 * answers a lost race, so the client logs it at debug; every other error
 * (of DynamoDB too: throttling, validation, a transaction cancelled for
 * another reason) at warn. Pure. */
bool aws_client_error_expected(enum aws_service svc, const char *aws_code, const char *body);

struct aws_client_stats {
	unsigned calls;     /* started */
	unsigned attempts;  /* HTTP requests sent */
	unsigned retries;   /* attempts after a retryable failure */
	int quota;          /* retry tokens left */
};
void aws_client_stats(const struct aws_client *c, struct aws_client_stats *out);

#endif
