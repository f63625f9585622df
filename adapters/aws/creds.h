/* creds.h - AWS credentials: the standard provider chain, cached and
 * refreshed before they expire (prefix aws_creds_).
 *
 * Chain, resolved once at create (botocore's order):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
 *      (skipped when opts.profile names a profile explicitly, as botocore
 *      skips it for an explicit profile);
 *   2. the profile (opts.profile, else AWS_PROFILE, else "default") in the
 *      shared files AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, section
 *      [name]) and AWS_CONFIG_FILE (~/.aws/config, [profile name] or
 *      [default]): role_arn with source_profile (static keys) or
 *      credential_source (Environment | EcsContainer | Ec2InstanceMetadata)
 *      is assumed with STS; else aws_access_key_id/aws_secret_access_key
 *      (+ aws_session_token); a named profile that is in neither file is an
 *      error;
 *   3. the ECS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (http://169.254.170.2<uri>) or AWS_CONTAINER_CREDENTIALS_FULL_URI
 *      (https, or a loopback / 169.254.170.2 / 169.254.170.23 / fd00:ec2::23
 *      host), Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      (re-read at each fetch) or AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *      2 s timeout, 3 tries;
 *   4. EC2 IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true): PUT
 *      /latest/api/token, then GET .../iam/security-credentials/ and /<role>
 *      at AWS_EC2_METADATA_SERVICE_ENDPOINT (http://169.254.169.254); 1 s.
 * Then, when opts.role_arn is set (config aws.role_arn), STS AssumeRole is
 * called with the chain's credentials and its result is what callers get.
 *
 * Expiring credentials (container, IMDS, AssumeRole) are refreshed when
 * fewer than refresh_margin_s seconds are left (default 900, botocore's
 * advisory window); if a refresh fails while the old ones are still valid
 * for another 60 s they keep being used (logged at warn). Concurrent
 * callers share one fetch. Every secret key, session token, IMDS token and
 * container authorization token is registered with the log redactor; the
 * value a refresh replaces is forgotten, and so are the provider's own when
 * it is destroyed.
 * All network fetches are asynchronous on the loop (adapters/http, or for
 * AssumeRole the STS hook below, which sts.h fills in with the aws client);
 * file reads happen at create.
 *
 * Files: creds.c is the chain, the cache, refresh and waiters; each source
 * is a file of its own behind creds_source.h (creds_env.c, creds_profile.c,
 * creds_container.c, creds_imds.c, creds_assume.c). None of them includes
 * client.h or sts.h: the client signs with a provider, so the provider
 * reaches STS only through the hook it is handed.
 */
#ifndef ADAPTERS_AWS_CREDS_H
#define ADAPTERS_AWS_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/aws/ini.h"
#include "adapters/aws/sigv4.h"
#include "adapters/cloud.h"
#include "adapters/http/http.h"
#include "bot/base/error.h"

struct aws_call;
struct aws_creds_provider;
struct aws_creds_wait;

/* err NULL: creds set (valid only during the callback). Else err says why
 * (code BOT_EAUTH for "no credentials", or the fetch's error). */
typedef void (*aws_creds_cb)(void *ud, const struct cloud_error *err, const struct aws_creds *creds);

struct aws_creds_opts {
	const char *profile;           /* explicit profile (skips env keys); NULL: AWS_PROFILE / default */
	const char *role_arn;          /* assume on top of the chain; NULL: none */
	const char *role_session_name; /* NULL: "chatops-bot" */
	const char *external_id;       /* NULL: none */
	int duration_s;                /* AssumeRole DurationSeconds; 0: 3600 */
	const char *region;            /* STS region; NULL: the client's */
	long refresh_margin_s;         /* 0: 900 */
	long container_timeout_ms;     /* 0: 2000 */
	long imds_timeout_ms;          /* 0: 1000 */
	/* Use these instead of the chain (tests, tools); copied. */
	const struct aws_creds *fixed;
};

struct aws_creds_owned {
	char *access_key_id, *secret_access_key, *session_token; /* token may be NULL */
	double expiration; /* epoch seconds, 0 = does not expire */
};
void aws_creds_owned_clear(struct aws_creds_owned *c); /* frees (cleansed) and zeroes */

/* ---- the STS hook --------------------------------------------------------
 * How the assume-role source calls STS AssumeRole. Whoever owns both the
 * aws client and the provider fills it in (aws_sts_creds_hook() in sts.h),
 * so this module knows neither the client nor STS. */
struct aws_creds_role {
	const char *role_arn, *session_name; /* both set */
	const char *external_id;             /* NULL: none */
	int duration_s;                      /* 0: the role's default */
	const char *region;                  /* NULL: the client's */
};
/* err NULL: creds (expiring) and the assumed role's ARN (may be NULL), both
 * valid only during the callback. */
typedef void (*aws_creds_assumed_cb)(void *ud, const struct cloud_error *err,
				     const struct aws_creds_owned *creds, const char *assumed_role_arn);
struct aws_creds_sts {
	/* AssumeRole signed with base's credentials. Returns 0 and cb runs
	 * later, exactly once; or an error code and cb does not run. *call
	 * stays valid for cancel until cb runs. */
	int (*assume_role)(void *ctx, const struct aws_creds_role *role, struct aws_creds_provider *base,
			   aws_creds_assumed_cb cb, void *ud, struct aws_call **call);
	/* cb runs now, with BOT_ECANCELLED. */
	void (*cancel)(struct aws_call *call);
	void *ctx;
};

/* http is needed for the container and IMDS sources, sts for AssumeRole
 * (http and sts->ctx borrowed, must outlive the provider; *sts copied).
 * Without sts (NULL) an assume-role provider is still built, but refreshing
 * it returns BOT_ESTATE. Returns 0, BOT_ECONFIG (no source found, half-set
 * env, unknown profile, bad container URI...), BOT_EIO (unreadable file),
 * BOT_ENOMEM. */
int aws_creds_create(struct http *http, const struct aws_creds_sts *sts,
		     const struct aws_creds_opts *o, struct aws_creds_provider **out,
		     struct bot_error *err);
/* Cancel fetches (their waiters get BOT_ECANCELLED) and free. NULL ok. */
void aws_creds_destroy(struct aws_creds_provider *p);

/* Where they come from: "env", "profile:NAME", "container", "imds",
 * "fixed", "assume-role:ARN(<base>)" (borrowed). */
const char *aws_creds_source(const struct aws_creds_provider *p);

/* Fresh cached credentials (borrowed until the next refresh), or NULL when a
 * refresh is needed. */
const struct aws_creds *aws_creds_cached(struct aws_creds_provider *p);
/* Fetch (or join the fetch in flight). cb runs later, exactly once, unless
 * the wait is cancelled. Returns 0, or an error code (cb will not run). */
int aws_creds_refresh(struct aws_creds_provider *p, aws_creds_cb cb, void *ud,
		      struct aws_creds_wait **w);
/* Forget a waiter (its cb will not run). NULL ok. */
void aws_creds_wait_cancel(struct aws_creds_wait *w);
/* Mark the cached credentials stale (after ExpiredToken); fixed/env/profile
 * keys without an expiry stay. Returns true when a refresh can help. */
bool aws_creds_invalidate(struct aws_creds_provider *p);
/* Completed fetches (for tests). */
unsigned aws_creds_fetches(const struct aws_creds_provider *p);
/* Expiry of the cached credentials, epoch seconds (0 = none/never). */
double aws_creds_expiration(const struct aws_creds_provider *p);

/* ---- pure pieces (unit-tested) ----------------------------------------- */

/* The container endpoint / IMDS JSON {AccessKeyId, SecretAccessKey, Token,
 * Expiration[, Code]}. Returns 0, BOT_EPARSE, BOT_EAUTH (Code not
 * "Success"), BOT_ENOMEM. (creds.c) */
int aws_creds_parse_json(const char *body, size_t len, struct aws_creds_owned *out,
			 struct bot_error *err);

/* Is this AWS_CONTAINER_CREDENTIALS_FULL_URI allowed (https, or http to a
 * loopback or ECS/EKS link-local host)? (creds_container.c) */
bool aws_creds_full_uri_allowed(const char *url);

/* What a profile says, looked up in both files (borrowed from them). */
struct aws_profile {
	bool found;
	const char *access_key_id, *secret_access_key, *session_token;
	const char *role_arn, *source_profile, *credential_source, *external_id;
	const char *role_session_name, *duration_seconds, *region;
};
/* credentials file first ([name]), then config ([profile name] / [default]).
 * (creds_profile.c) */
void aws_profile_lookup(const struct aws_ini *credentials, const struct aws_ini *config,
			const char *name, struct aws_profile *out);

#endif
