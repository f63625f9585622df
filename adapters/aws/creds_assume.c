/* creds_assume.c - the assume-role source: STS AssumeRole signed with a
 * base provider's credentials, called through the STS hook handed to
 * aws_creds_create (see creds.h), so nothing here knows the aws client. */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct assume {
	struct aws__creds_source s;
	struct aws_creds_sts sts;         /* copied; .assume_role NULL: cannot fetch */
	struct aws_creds_provider *base;  /* owned */
	struct aws_creds_wait *base_wait; /* waiting for base to refresh */
	struct aws_call *call;            /* the AssumeRole call in flight */
	char *role_arn, *session_name, *external_id, *region;
	int duration_s;
};

static void on_assumed(void *ud, const struct cloud_error *err, const struct aws_creds_owned *c,
		       const char *assumed_role_arn)
{
	struct assume *a = ud;
	struct aws_creds_owned n;

	a->call = NULL;
	if (err) {
		struct cloud_error e = *err;
		char tmp[sizeof e.message];
		aws__copy(tmp, sizeof tmp, e.message);
		snprintf(e.message, sizeof e.message, "AssumeRole %.150s: %.300s", a->role_arn, tmp);
		aws__creds_fetched(&a->s, err->code, NULL, &e, NULL);
		return;
	}
	n = *c;
	n.access_key_id = strdup(c->access_key_id);
	n.secret_access_key = strdup(c->secret_access_key);
	n.session_token = strdup(c->session_token);
	if (!n.access_key_id || !n.secret_access_key || !n.session_token) {
		aws_creds_owned_clear(&n);
		aws__creds_fetched(&a->s, BOT_ENOMEM, "out of memory", NULL, NULL);
		return;
	}
	log_info("aws.creds.assumed", "role=%s arn=%s", LOG_Q(a->role_arn),
		 LOG_Q(assumed_role_arn));
	aws__creds_fetched(&a->s, 0, NULL, NULL, &n);
}

static int assume_send(struct assume *a)
{
	return a->sts.assume_role(a->sts.ctx, &(struct aws_creds_role){
		.role_arn = a->role_arn, .session_name = a->session_name,
		.external_id = a->external_id, .duration_s = a->duration_s, .region = a->region,
	}, a->base, on_assumed, a, &a->call);
}

static void on_base(void *ud, const struct cloud_error *err, const struct aws_creds *c)
{
	struct assume *a = ud;
	int rc;

	(void)c;
	a->base_wait = NULL;
	if (err) {
		aws__creds_fetched(&a->s, err->code, NULL, err, NULL);
		return;
	}
	rc = assume_send(a);
	if (rc)
		aws__creds_fetched(&a->s, rc, "AssumeRole: cannot send the request", NULL, NULL);
}

static int assume_start(struct aws__creds_source *s)
{
	struct assume *a = container_of(s, struct assume, s);

	if (!a->sts.assume_role)
		return BOT_ESTATE;
	if (aws_creds_cached(a->base))
		return assume_send(a);
	return aws_creds_refresh(a->base, on_base, a, &a->base_wait);
}

static void assume_stop(struct aws__creds_source *s)
{
	struct assume *a = container_of(s, struct assume, s);

	if (a->call && a->sts.cancel)
		a->sts.cancel(a->call); /* on_assumed runs now */
	a->call = NULL;
	aws_creds_wait_cancel(a->base_wait);
	a->base_wait = NULL;
	aws_creds_destroy(a->base);
	a->base = NULL;
}

static void assume_free(struct aws__creds_source *s)
{
	struct assume *a = container_of(s, struct assume, s);

	aws_creds_destroy(a->base); /* when never stopped (a failed create) */
	free(a->role_arn);
	free(a->session_name);
	free(a->external_id);
	free(a->region);
	free(a);
}

static const struct aws__creds_source_ops assume_ops = {
	.start = assume_start,
	.stop = assume_stop,
	.free = assume_free,
};

int aws__creds_assume_wrap(const struct aws__creds_ctx *x, const char *role_arn,
			   const char *session, const char *external_id, int duration_s,
			   struct aws_creds_provider **pp, struct bot_error *err)
{
	struct assume *a = calloc(1, sizeof *a);
	bool oom = !a;

	if (!a) {
		aws_creds_destroy(*pp);
		*pp = NULL;
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	a->s.ops = &assume_ops;
	a->base = *pp;
	*pp = NULL;
	if (x->sts)
		a->sts = *x->sts;
	a->role_arn = aws__dup(role_arn, &oom);
	a->session_name = aws__dup(session && *session ? session : "chatops-bot", &oom);
	a->external_id = aws__dup(external_id && *external_id ? external_id : NULL, &oom);
	a->region = aws__dup(x->o->region, &oom);
	a->duration_s = duration_s;
	snprintf(a->s.name, sizeof a->s.name, "assume-role:%.200s(%.80s)", role_arn,
		 aws_creds_source(a->base));
	if (oom) {
		assume_free(&a->s);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	if (aws__creds_provider_new(x, &a->s, NULL, pp))
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	return BOT_EOK;
}
