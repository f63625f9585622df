/* sts.h - STS over awsQuery (prefix aws_sts_): AssumeRole for role_arn
 * credentials and GetCallerIdentity (who am I, for --check-config). Bodies
 * are form-encoded exactly as botocore does; replies are XML. */
#ifndef ADAPTERS_AWS_STS_H
#define ADAPTERS_AWS_STS_H

#include <stddef.h>

#include "adapters/aws/client.h"
#include "adapters/aws/creds.h"

struct aws_sts_assume_params {
	const char *role_arn;          /* required */
	const char *session_name;      /* required, 2-64 chars */
	const char *external_id;       /* optional */
	int duration_s;                /* 0 = the role's default (3600) */
	const char *region;            /* NULL = the client's */
};

struct aws_sts_assumed {
	struct aws_creds_owned creds;  /* with expiration */
	char *assumed_role_arn;        /* AssumedRoleUser/Arn, may be NULL */
};
void aws_sts_assumed_clear(struct aws_sts_assumed *a);

struct aws_sts_identity {
	char *arn, *account, *user_id;
};
void aws_sts_identity_clear(struct aws_sts_identity *id);

/* Pure: the request body (caller frees) and the reply parsers. */
char *aws_sts_assume_role_body(const struct aws_sts_assume_params *p);
int aws_sts_parse_assume_role(const char *xml, size_t len, struct aws_sts_assumed *out,
			      struct bot_error *err);
int aws_sts_parse_caller_identity(const char *xml, size_t len, struct aws_sts_identity *out,
				  struct bot_error *err);

/* result valid only during the callback (NULL on error). */
typedef void (*aws_sts_assume_cb)(void *ud, const struct cloud_error *err,
				  const struct aws_sts_assumed *result);
typedef void (*aws_sts_identity_cb)(void *ud, const struct cloud_error *err,
				    const struct aws_sts_identity *id);

/* AssumeRole signed with creds (NULL = the client's provider). */
int aws_sts_assume_role(struct aws_client *c, const struct aws_sts_assume_params *p,
			struct aws_creds_provider *creds, aws_sts_assume_cb cb, void *ud,
			struct aws_call **out);
int aws_sts_get_caller_identity(struct aws_client *c, const char *region,
				aws_sts_identity_cb cb, void *ud, struct aws_call **out);

/* The STS hook for aws_creds_create (creds.h): AssumeRole through c
 * (borrowed; it must outlive the provider), cancelled with aws_call_cancel. */
struct aws_creds_sts aws_sts_creds_hook(struct aws_client *c);

#endif
