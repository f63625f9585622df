/* sts.c - AssumeRole and GetCallerIdentity (see sts.h). */
#include "adapters/aws/sts.h"
#include "adapters/aws/util.h"
#include "adapters/aws/xml.h"
#include "bot/base/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_VERSION "2011-06-15"

void aws_sts_assumed_clear(struct aws_sts_assumed *a)
{
	if (!a)
		return;
	aws_creds_owned_clear(&a->creds);
	free(a->assumed_role_arn);
	a->assumed_role_arn = NULL;
}

void aws_sts_identity_clear(struct aws_sts_identity *id)
{
	if (!id)
		return;
	free(id->arn);
	free(id->account);
	free(id->user_id);
	memset(id, 0, sizeof *id);
}

char *aws_sts_assume_role_body(const struct aws_sts_assume_params *p)
{
	struct dbuf b = {.max = AWS__BUF_MAX};
	char num[16];

	aws__form_add(&b, "Action", "AssumeRole");
	aws__form_add(&b, "Version", STS_VERSION);
	aws__form_add(&b, "RoleArn", p->role_arn);
	aws__form_add(&b, "RoleSessionName", p->session_name);
	if (p->duration_s > 0) {
		snprintf(num, sizeof num, "%d", p->duration_s);
		aws__form_add(&b, "DurationSeconds", num);
	}
	if (p->external_id && *p->external_id)
		aws__form_add(&b, "ExternalId", p->external_id);
	return dbuf_take(&b);
}

int aws_sts_parse_assume_role(const char *xml, size_t len, struct aws_sts_assumed *out,
			      struct bot_error *err)
{
	struct aws_xml_span cr;
	char *exp = NULL;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!aws_xml_find_path(xml, len, "AssumeRoleResult/Credentials", &cr))
		return bot_error_set(err, BOT_EPARSE, "AssumeRole reply has no Credentials");
	out->creds.access_key_id = aws_xml_text(cr.p, cr.n, "AccessKeyId", &oom);
	out->creds.secret_access_key = aws_xml_text(cr.p, cr.n, "SecretAccessKey", &oom);
	out->creds.session_token = aws_xml_text(cr.p, cr.n, "SessionToken", &oom);
	exp = aws_xml_text(cr.p, cr.n, "Expiration", &oom);
	out->assumed_role_arn = aws_xml_text(xml, len, "AssumedRoleUser/Arn", &oom);
	if (oom) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
	} else if (!out->creds.access_key_id || !*out->creds.access_key_id ||
		   !out->creds.secret_access_key || !*out->creds.secret_access_key ||
		   !out->creds.session_token || !*out->creds.session_token) {
		rc = bot_error_set(err, BOT_EPARSE, "AssumeRole reply lacks a key, secret or token");
	} else if (!exp || !aws__iso8601_parse(exp, &out->creds.expiration)) {
		rc = bot_error_set(err, BOT_EPARSE, "AssumeRole reply has no valid Expiration");
	}
	free(exp);
	if (rc)
		aws_sts_assumed_clear(out);
	return rc;
}

int aws_sts_parse_caller_identity(const char *xml, size_t len, struct aws_sts_identity *out,
				  struct bot_error *err)
{
	struct aws_xml_span r;
	bool oom = false;

	memset(out, 0, sizeof *out);
	if (!aws_xml_find(xml, len, "GetCallerIdentityResult", &r))
		return bot_error_set(err, BOT_EPARSE, "GetCallerIdentity reply has no result");
	out->arn = aws_xml_text(r.p, r.n, "Arn", &oom);
	out->account = aws_xml_text(r.p, r.n, "Account", &oom);
	out->user_id = aws_xml_text(r.p, r.n, "UserId", &oom);
	if (oom || !out->arn) {
		aws_sts_identity_clear(out);
		return oom ? bot_error_set(err, BOT_ENOMEM, "out of memory")
			   : bot_error_set(err, BOT_EPARSE, "GetCallerIdentity reply has no Arn");
	}
	return BOT_EOK;
}

/* ---- calls -------------------------------------------------------------- */

struct sts_ctx {
	aws_sts_assume_cb assume_cb;
	aws_creds_assumed_cb creds_cb; /* through the creds hook instead */
	aws_sts_identity_cb identity_cb;
	void *ud;
};

static void parse_failed(struct cloud_error *e, const struct aws_response *r, int rc,
			 const char *msg)
{
	memset(e, 0, sizeof *e);
	e->code = rc;
	e->http_status = (int)r->status;
	e->attempts = r->attempts;
	aws__copy(e->request_id, sizeof e->request_id, r->request_id);
	aws__copy(e->message, sizeof e->message, msg);
}

static void assumed(const struct sts_ctx *x, const struct cloud_error *err,
		    const struct aws_sts_assumed *a)
{
	if (x->assume_cb)
		x->assume_cb(x->ud, err, a);
	else
		x->creds_cb(x->ud, err, a ? &a->creds : NULL, a ? a->assumed_role_arn : NULL);
}

static void on_assume(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct sts_ctx *x = ud;
	struct aws_sts_assumed a;
	struct bot_error be = { .msg = "" };
	struct cloud_error e;

	if (err) {
		assumed(x, err, NULL);
	} else if (aws_sts_parse_assume_role(r->body, r->body_len, &a, &be)) {
		parse_failed(&e, r, BOT_EPROTOCOL, be.msg);
		assumed(x, &e, NULL);
	} else {
		assumed(x, NULL, &a);
		aws_sts_assumed_clear(&a);
	}
	free(x);
}

/* AssumeRole answering through one of the callbacks set in cbs. */
static int assume_role(struct aws_client *c, const struct aws_sts_assume_params *p,
		       struct aws_creds_provider *creds, const struct sts_ctx *cbs,
		       struct aws_call **out)
{
	struct sts_ctx *x;
	char *body;
	int rc;

	if (!p || !p->role_arn || !p->session_name || (!cbs->assume_cb && !cbs->creds_cb))
		return BOT_EINVAL;
	x = calloc(1, sizeof *x);
	body = aws_sts_assume_role_body(p);
	if (!x || !body) {
		free(x);
		free(body);
		return BOT_ENOMEM;
	}
	*x = *cbs;
	rc = aws_client_call(c, &(struct aws_request){
		.service = AWS_SVC_STS, .region = p->region, .op = "AssumeRole",
		.body = body, .body_len = strlen(body), .creds = creds,
	}, on_assume, x, out);
	free(body);
	if (rc)
		free(x);
	return rc;
}

int aws_sts_assume_role(struct aws_client *c, const struct aws_sts_assume_params *p,
			struct aws_creds_provider *creds, aws_sts_assume_cb cb, void *ud,
			struct aws_call **out)
{
	return assume_role(c, p, creds, &(struct sts_ctx){ .assume_cb = cb, .ud = ud }, out);
}

static int creds_assume_role(void *ctx, const struct aws_creds_role *role,
			     struct aws_creds_provider *base, aws_creds_assumed_cb cb, void *ud,
			     struct aws_call **call)
{
	if (!role)
		return BOT_EINVAL;
	return assume_role(ctx, &(struct aws_sts_assume_params){
		.role_arn = role->role_arn, .session_name = role->session_name,
		.external_id = role->external_id, .duration_s = role->duration_s,
		.region = role->region,
	}, base, &(struct sts_ctx){ .creds_cb = cb, .ud = ud }, call);
}

struct aws_creds_sts aws_sts_creds_hook(struct aws_client *c)
{
	return (struct aws_creds_sts){
		.assume_role = creds_assume_role, .cancel = aws_call_cancel, .ctx = c,
	};
}

static void on_identity(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct sts_ctx *x = ud;
	struct aws_sts_identity id;
	struct bot_error be = { .msg = "" };
	struct cloud_error e;

	if (err) {
		x->identity_cb(x->ud, err, NULL);
	} else if (aws_sts_parse_caller_identity(r->body, r->body_len, &id, &be)) {
		parse_failed(&e, r, BOT_EPROTOCOL, be.msg);
		x->identity_cb(x->ud, &e, NULL);
	} else {
		x->identity_cb(x->ud, NULL, &id);
		aws_sts_identity_clear(&id);
	}
	free(x);
}

int aws_sts_get_caller_identity(struct aws_client *c, const char *region,
				aws_sts_identity_cb cb, void *ud, struct aws_call **out)
{
	static const char body[] = "Action=GetCallerIdentity&Version=" STS_VERSION;
	struct sts_ctx *x;
	int rc;

	if (!cb)
		return BOT_EINVAL;
	x = calloc(1, sizeof *x);
	if (!x)
		return BOT_ENOMEM;
	x->identity_cb = cb;
	x->ud = ud;
	rc = aws_client_call(c, &(struct aws_request){
		.service = AWS_SVC_STS, .region = region, .op = "GetCallerIdentity",
		.body = body, .body_len = sizeof body - 1,
	}, on_identity, x, out);
	if (rc)
		free(x);
	return rc;
}
