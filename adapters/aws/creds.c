/* creds.c - the credential chain, its cache, refresh and waiters (see
 * creds.h). The sources are files of their own behind creds_source.h. */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"

#include <jansson.h>
#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MARGIN_S       900
#define STILL_USABLE_S         60

struct aws_creds_wait {
	struct aws_creds_wait *next;
	struct aws_creds_provider *p;
	aws_creds_cb cb;
	void *ud;
};

struct aws_creds_provider {
	struct aws__creds_source *src;
	struct aws_creds_owned cur;
	bool have;
	struct aws_creds view;      /* points into cur */
	long margin_s;
	unsigned fetches;
	struct aws_creds_wait *waiters;  /* waiting for the fetch in flight */
	struct aws_creds_wait *notifying; /* being called back right now */
	bool fetching;
	int in_notify;
	bool dead;                  /* destroyed while notifying: free after */
};

/* ---- owned credentials and secrets -------------------------------------- */

void aws__creds_free_secret(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void aws_creds_owned_clear(struct aws_creds_owned *c)
{
	if (!c)
		return;
	free(c->access_key_id);
	aws__creds_free_secret(c->secret_access_key);
	aws__creds_free_secret(c->session_token);
	memset(c, 0, sizeof *c);
}

/* A refreshed token must not stay registered: the registry is small and
 * drops its oldest when full. */
void aws__creds_secret_replace(char **slot, char *fresh)
{
	(void)log_add_secret(fresh);
	if (*slot)
		log_forget_secret(*slot);
	aws__creds_free_secret(*slot);
	*slot = fresh;
}

const char *aws__creds_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void forget(const struct aws_creds_owned *c)
{
	log_forget_secret(c->secret_access_key);
	log_forget_secret(c->session_token);
}

/* Take ownership of n as the current credentials. */
static void install(struct aws_creds_provider *p, struct aws_creds_owned *n)
{
	if (p->have) {
		forget(&p->cur);
		aws_creds_owned_clear(&p->cur);
	}
	p->cur = *n;
	memset(n, 0, sizeof *n);
	(void)log_add_secret(p->cur.secret_access_key);
	(void)log_add_secret(p->cur.session_token);
	p->view.access_key_id = p->cur.access_key_id;
	p->view.secret_access_key = p->cur.secret_access_key;
	p->view.session_token = p->cur.session_token;
	p->have = true;
}

int aws_creds_parse_json(const char *body, size_t len, struct aws_creds_owned *out,
			 struct bot_error *err)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	const char *code, *akid, *secret, *token, *exp;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!json_is_object(j)) {
		rc = bot_error_set(err, BOT_EPARSE, "credentials reply is not a JSON object");
		goto out;
	}
	code = aws__json_str(j, "Code");
	if (code && strcmp(code, "Success") != 0) {
		rc = bot_error_set(err, BOT_EAUTH, "credentials endpoint says Code=%.64s", code);
		goto out;
	}
	akid = aws__json_str(j, "AccessKeyId");
	secret = aws__json_str(j, "SecretAccessKey");
	token = aws__json_str(j, "Token");
	exp = aws__json_str(j, "Expiration");
	if (!akid || !*akid || !secret || !*secret) {
		rc = bot_error_set(err, BOT_EPARSE, "credentials reply lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (exp && !aws__iso8601_parse(exp, &out->expiration)) {
		rc = bot_error_set(err, BOT_EPARSE, "credentials reply has a malformed Expiration");
		goto out;
	}
	out->access_key_id = aws__dup(akid, &oom);
	out->secret_access_key = aws__dup(secret, &oom);
	out->session_token = token && *token ? aws__dup(token, &oom) : NULL;
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
out:
	json_decref(j);
	if (rc)
		aws_creds_owned_clear(out);
	return rc;
}

/* ---- notifying waiters -------------------------------------------------- */

static void provider_free(struct aws_creds_provider *p);

static void notify(struct aws_creds_provider *p, const struct cloud_error *err)
{
	struct aws_creds_wait *w;

	p->notifying = p->waiters;
	p->waiters = NULL;
	p->in_notify++;
	while ((w = p->notifying) && !p->dead) {
		p->notifying = w->next;
		w->cb(w->ud, err, err ? NULL : &p->view);
		free(w);
	}
	p->in_notify--;
	if (p->dead && p->in_notify == 0)
		provider_free(p);
}

void aws__creds_fetched(struct aws__creds_source *s, int code, const char *msg,
			const struct cloud_error *from, struct aws_creds_owned *n)
{
	struct aws_creds_provider *p = s->p;
	struct cloud_error e;
	time_t now = time(NULL);

	p->fetching = false;
	if (n) {
		p->fetches++;
		install(p, n);
		if (p->cur.expiration > 0) {
			char exp[32];
			aws__iso8601_format(p->cur.expiration, exp, sizeof exp);
			log_info("aws.creds", "source=%s expires=%s", LOG_Q(s->name), exp);
		} else {
			log_info("aws.creds", "source=%s", LOG_Q(s->name));
		}
		notify(p, NULL);
		return;
	}
	memset(&e, 0, sizeof e);
	if (from) {
		e = *from;
		if (e.code == BOT_EOK)
			e.code = code;
	} else {
		e.code = code;
		aws__copy(e.message, sizeof e.message, msg);
	}
	if (p->have && p->cur.expiration > (double)now + STILL_USABLE_S && e.code != BOT_ECANCELLED) {
		log_warn("aws.creds", "source=%s refresh=failed using=cached msg=%s",
			 LOG_Q(s->name), LOG_Q(e.message));
		notify(p, NULL);
		return;
	}
	log_warn("aws.creds", "source=%s error=%s msg=%s", LOG_Q(s->name), bot_err_name(e.code),
		 LOG_Q(e.message));
	notify(p, &e);
}

/* ---- the provider ------------------------------------------------------- */

const struct aws_creds *aws_creds_cached(struct aws_creds_provider *p)
{
	if (!p || !p->have)
		return NULL;
	if (p->cur.expiration > 0 && (double)time(NULL) >= p->cur.expiration - (double)p->margin_s)
		return NULL;
	return &p->view;
}

int aws_creds_refresh(struct aws_creds_provider *p, aws_creds_cb cb, void *ud,
		      struct aws_creds_wait **wo)
{
	struct aws_creds_wait *w;
	int rc;

	if (wo)
		*wo = NULL;
	if (!p || !cb || p->dead)
		return BOT_EINVAL;
	w = calloc(1, sizeof *w);
	if (!w)
		return BOT_ENOMEM;
	w->p = p;
	w->cb = cb;
	w->ud = ud;
	if (!p->fetching) {
		/* static keys never need fetching */
		rc = p->src->ops->start ? p->src->ops->start(p->src) : BOT_ESTATE;
		if (rc) {
			free(w);
			return rc;
		}
		p->fetching = true;
	}
	w->next = p->waiters;
	p->waiters = w;
	if (wo)
		*wo = w;
	return BOT_EOK;
}

static bool unlink_from(struct aws_creds_wait **list, struct aws_creds_wait *w)
{
	for (struct aws_creds_wait **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return true;
		}
	return false;
}

void aws_creds_wait_cancel(struct aws_creds_wait *w)
{
	if (!w)
		return;
	if (unlink_from(&w->p->waiters, w) || unlink_from(&w->p->notifying, w))
		free(w);
}

bool aws_creds_invalidate(struct aws_creds_provider *p)
{
	if (!p || !p->src->ops->start)
		return false;
	if (p->have)
		p->cur.expiration = 1; /* long past: the next call refreshes */
	return true;
}

unsigned aws_creds_fetches(const struct aws_creds_provider *p)
{
	return p ? p->fetches : 0;
}

double aws_creds_expiration(const struct aws_creds_provider *p)
{
	return p && p->have ? p->cur.expiration : 0;
}

const char *aws_creds_source(const struct aws_creds_provider *p)
{
	return p ? p->src->name : "none";
}

static void provider_free(struct aws_creds_provider *p)
{
	struct aws_creds_wait *w;

	while ((w = p->waiters)) {
		p->waiters = w->next;
		free(w);
	}
	while ((w = p->notifying)) {
		p->notifying = w->next;
		free(w);
	}
	if (p->have)
		forget(&p->cur);
	aws_creds_owned_clear(&p->cur);
	p->src->ops->free(p->src);
	free(p);
}

void aws_creds_destroy(struct aws_creds_provider *p)
{
	struct aws_creds_wait *w;

	if (!p || p->dead)
		return;
	p->dead = true;
	/* Waiters are told first, then the fetches stop (their callbacks
	 * find no waiters and p->dead). */
	if (p->waiters) {
		struct cloud_error e = { .code = BOT_ECANCELLED };
		aws__copy(e.message, sizeof e.message, "credentials provider destroyed");
		while ((w = p->waiters)) {
			p->waiters = w->next;
			w->cb(w->ud, &e, NULL);
			free(w);
		}
	}
	p->in_notify++; /* stop() calls back into aws__creds_fetched */
	if (p->src->ops->stop)
		p->src->ops->stop(p->src);
	p->in_notify--;
	if (p->in_notify == 0)
		provider_free(p);
}

int aws__creds_provider_new(const struct aws__creds_ctx *x, struct aws__creds_source *s,
			    struct aws_creds_owned *keys, struct aws_creds_provider **out)
{
	struct aws_creds_provider *p = calloc(1, sizeof *p);

	*out = NULL;
	if (!p) {
		aws_creds_owned_clear(keys);
		s->ops->free(s);
		return BOT_ENOMEM;
	}
	p->src = s;
	s->p = p;
	p->margin_s = x->o->refresh_margin_s > 0 ? x->o->refresh_margin_s : DEFAULT_MARGIN_S;
	if (keys)
		install(p, keys);
	*out = p;
	return BOT_EOK;
}

/* ---- static keys: fixed, env, profile ----------------------------------- */

static void static_free(struct aws__creds_source *s)
{
	free(s);
}

static const struct aws__creds_source_ops static_ops = { .free = static_free };

int aws__creds_static_new(const struct aws__creds_ctx *x, const char *name, const char *akid,
			  const char *secret, const char *token, struct aws_creds_provider **out,
			  struct bot_error *err)
{
	struct aws__creds_source *s = calloc(1, sizeof *s);
	struct aws_creds_owned n = {0};
	bool oom = !s;

	*out = NULL;
	n.access_key_id = aws__dup(akid, &oom);
	n.secret_access_key = aws__dup(secret, &oom);
	n.session_token = token && *token ? aws__dup(token, &oom) : NULL;
	if (oom) {
		aws_creds_owned_clear(&n);
		free(s);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	s->ops = &static_ops;
	aws__copy(s->name, sizeof s->name, name);
	if (aws__creds_provider_new(x, s, &n, out))
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	return BOT_EOK;
}

/* ---- building the chain ------------------------------------------------- */

/* The first source that has credentials, in creds.h's order. */
static int find_source(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
		       struct bot_error *err)
{
	const struct aws_creds_opts *o = x->o;
	bool explicit_profile = o->profile && *o->profile;
	const char *profile = explicit_profile ? o->profile : aws__creds_env("AWS_PROFILE");
	int rc;

	if (o->fixed)
		return aws__creds_static_new(x, "fixed", o->fixed->access_key_id,
					     o->fixed->secret_access_key, o->fixed->session_token,
					     out, err);
	if (!explicit_profile) {
		rc = aws__creds_env_new(x, out, err);
		if (rc || *out)
			return rc;
	}
	if (!profile)
		profile = aws__creds_env("AWS_DEFAULT_PROFILE");
	rc = aws__creds_profile_new(x, profile ? profile : "default", profile != NULL, out, err);
	if (rc || *out)
		return rc;
	if (aws__creds_container_set())
		return aws__creds_container_new(x, out, err);
	if (!aws__creds_imds_disabled())
		return aws__creds_imds_new(x, out, err);
	return bot_error_set(err, BOT_ECONFIG, "no AWS credentials: set AWS_ACCESS_KEY_ID/"
			     "AWS_SECRET_ACCESS_KEY, a profile, or run where the container "
			     "endpoint or IMDS provides them");
}

int aws_creds_create(struct http *http, const struct aws_creds_sts *sts,
		     const struct aws_creds_opts *o, struct aws_creds_provider **out,
		     struct bot_error *err)
{
	static const struct aws_creds_opts none = {0};
	struct aws_creds_provider *p = NULL;
	int rc;

	*out = NULL;
	struct aws__creds_ctx x = { .http = http, .sts = sts, .o = o ? o : &none };
	rc = find_source(&x, &p, err);
	/* The config's role_arn wraps whatever the chain found (a profile's
	 * own role_arn is only used when there is none). */
	if (rc == BOT_EOK && x.o->role_arn && *x.o->role_arn)
		rc = aws__creds_assume_wrap(&x, x.o->role_arn, x.o->role_session_name,
					    x.o->external_id, x.o->duration_s, &p, err);
	if (rc)
		return rc;
	log_info("aws.creds.chain", "source=%s", LOG_Q(aws_creds_source(p)));
	*out = p;
	return BOT_EOK;
}
