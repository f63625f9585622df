/* creds_source.h - one credential source behind the chain (internal to the
 * adapters/aws/creds*.c files; prefix aws__creds_).
 *
 * A provider (creds.c) owns one source and keeps the cache, refresh and
 * waiters; the source only knows how to fetch. Static keys (fixed, env,
 * profile) are installed when the provider is made and never fetched. Each
 * fetching source embeds struct aws__creds_source first and fills in the
 * ops: creds_container.c, creds_imds.c, creds_assume.c.
 *
 * This header includes no creds header (creds.c includes it, and every
 * source includes creds.h): the types below are only named.
 */
#ifndef ADAPTERS_AWS_CREDS_SOURCE_H
#define ADAPTERS_AWS_CREDS_SOURCE_H

#include <stdbool.h>

#include "adapters/cloud.h"
#include "bot/base/error.h"

struct aws_creds_opts;
struct aws_creds_owned;
struct aws_creds_provider;
struct aws_creds_sts;
struct http;
struct aws__creds_source;

struct aws__creds_source_ops {
	/* Start one fetch. Its end is reported later, exactly once, through
	 * aws__creds_fetched() (never from inside start). Returns 0, or an
	 * error code and nothing is reported. NULL: static keys, never fetched
	 * (a refresh is BOT_ESTATE, an invalidate does nothing). */
	int (*start)(struct aws__creds_source *s);
	/* At destroy: cancel the fetch in flight (it reports BOT_ECANCELLED,
	 * now) and let go of what the source waits on. NULL: nothing to stop. */
	void (*stop)(struct aws__creds_source *s);
	/* Free s and all it owns; the secrets it registered are forgotten. */
	void (*free)(struct aws__creds_source *s);
};

struct aws__creds_source {
	const struct aws__creds_source_ops *ops;
	struct aws_creds_provider *p; /* the provider it fills; set by aws__creds_provider_new */
	char name[320];               /* aws_creds_source(): "container", "imds", ... */
};

/* What every constructor gets from aws_creds_create (all borrowed). */
struct aws__creds_ctx {
	struct http *http;              /* container, IMDS */
	const struct aws_creds_sts *sts; /* assume-role; may be NULL */
	const struct aws_creds_opts *o; /* never NULL */
};

/* ---- the chain's side (creds.c) ----------------------------------------- */

/* A provider around s, which it takes (freed through its ops on failure);
 * keys (may be NULL) are static credentials, taken too. 0 or BOT_ENOMEM. */
int aws__creds_provider_new(const struct aws__creds_ctx *x, struct aws__creds_source *s,
			    struct aws_creds_owned *keys, struct aws_creds_provider **out);
/* A provider with static keys (copied), named name: "fixed", "env",
 * "profile:NAME". 0 or BOT_ENOMEM (err set). */
int aws__creds_static_new(const struct aws__creds_ctx *x, const char *name, const char *akid,
			  const char *secret, const char *token, struct aws_creds_provider **out,
			  struct bot_error *err);
/* The fetch s started has ended: n (taken) on success; else code with msg,
 * or the error from (copied; its code, when 0, becomes code). */
void aws__creds_fetched(struct aws__creds_source *s, int code, const char *msg,
			const struct cloud_error *from, struct aws_creds_owned *n);

/* getenv, with "" read as unset. */
const char *aws__creds_env(const char *name);
/* free() after wiping the bytes. NULL ok. */
void aws__creds_free_secret(char *s);
/* *slot takes fresh (owned, may be NULL): fresh is registered with the log
 * redactor, the value it replaces is forgotten and wiped. */
void aws__creds_secret_replace(char **slot, char *fresh);

/* ---- the sources --------------------------------------------------------
 * Each returns 0 with *out set, or an error code with err set and *out
 * NULL. */

/* creds_env.c: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
 * Neither set: 0 and *out NULL. Only one: BOT_ECONFIG. */
int aws__creds_env_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
		       struct bot_error *err);
/* creds_profile.c: profile name in the shared files (named: it was asked
 * for, so it must exist). Nothing there for the chain: 0 and *out NULL. */
int aws__creds_profile_new(const struct aws__creds_ctx *x, const char *name, bool named,
			   struct aws_creds_provider **out, struct bot_error *err);
/* creds_container.c: is an AWS_CONTAINER_CREDENTIALS_*_URI set; the source. */
bool aws__creds_container_set(void);
int aws__creds_container_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
			     struct bot_error *err);
/* creds_imds.c: AWS_EC2_METADATA_DISABLED=true; the source. */
bool aws__creds_imds_disabled(void);
int aws__creds_imds_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
			struct bot_error *err);
/* creds_assume.c: wrap *pp (taken; destroyed on failure) in an AssumeRole
 * provider for role_arn (session NULL/"": "chatops-bot"). */
int aws__creds_assume_wrap(const struct aws__creds_ctx *x, const char *role_arn,
			   const char *session, const char *external_id, int duration_s,
			   struct aws_creds_provider **pp, struct bot_error *err);

#endif
