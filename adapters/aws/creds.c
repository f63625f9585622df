/* creds.c - the credential chain, its cache and refresh (see creds.h). */
#include "adapters/aws/creds.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MARGIN_S       900
#define STILL_USABLE_S         60
#define CONTAINER_TIMEOUT_MS   2000
#define CONTAINER_ATTEMPTS     3
#define IMDS_TIMEOUT_MS        1000
#define IMDS_TTL_S             "21600"
#define MAX_CREDS_REPLY        ((size_t)64 << 10)

enum src { SRC_FIXED, SRC_ENV, SRC_PROFILE, SRC_CONTAINER, SRC_IMDS, SRC_ASSUME };

struct aws_creds_wait {
	struct aws_creds_wait *next;
	struct aws_creds_provider *p;
	aws_creds_cb cb;
	void *ud;
};

struct aws_creds_provider {
	enum src kind;
	struct http *http;
	struct aws_creds_sts sts;   /* .assume_role NULL: cannot assume */
	char source[320];
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
	/* container */
	char *url, *auth_token, *auth_token_file;
	char *file_token;           /* last token read from auth_token_file (registered) */
	long c_timeout_ms;
	int c_attempts;
	/* IMDS */
	char *imds_base;
	long i_timeout_ms;
	int i_stage;
	char *imds_token, *imds_role;
	struct http_call *hc;
	/* AssumeRole */
	struct aws_creds_provider *base;
	struct aws_creds_wait *base_wait;
	struct aws_call *call;      /* the AssumeRole in flight */
	char *role_arn, *session_name, *external_id, *region;
	int duration_s;
};

/* ---- owned credentials -------------------------------------------------- */

static void free_secret(char *s)
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
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	memset(c, 0, sizeof *c);
}

/* *slot takes fresh (owned): fresh is registered with the redactor, the
 * value it replaces is forgotten and cleansed. A refreshed token must not
 * stay registered: the registry is small and drops its oldest when full. */
static void secret_replace(char **slot, char *fresh)
{
	(void)log_add_secret(fresh);
	if (*slot)
		log_forget_secret(*slot);
	free_secret(*slot);
	*slot = fresh;
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

static int set_static(struct aws_creds_provider *p, const char *akid, const char *secret,
		      const char *token)
{
	struct aws_creds_owned n = {0};
	bool oom = false;

	n.access_key_id = aws__dup(akid, &oom);
	n.secret_access_key = aws__dup(secret, &oom);
	n.session_token = token && *token ? aws__dup(token, &oom) : NULL;
	if (oom) {
		aws_creds_owned_clear(&n);
		return BOT_ENOMEM;
	}
	install(p, &n);
	return BOT_EOK;
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

bool aws_creds_full_uri_allowed(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (!u || !url)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "https") == 0) {
		ok = true;
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0)
		goto out;
	{
		const char *h = host;
		char v6[64];
		struct in_addr a4;
		struct in6_addr a6;
		size_t hl = strlen(h);

		if (strcasecmp(h, "localhost") == 0 || strcmp(h, "169.254.170.2") == 0 ||
		    strcmp(h, "169.254.170.23") == 0) {
			ok = true;
		} else if (inet_pton(AF_INET, h, &a4) == 1) {
			ok = (ntohl(a4.s_addr) >> 24) == 127;
		} else if (hl > 2 && h[0] == '[' && h[hl - 1] == ']' && hl - 2 < sizeof v6) {
			memcpy(v6, h + 1, hl - 2);
			v6[hl - 2] = '\0';
			struct in6_addr ecs;
			if (inet_pton(AF_INET6, v6, &a6) == 1 &&
			    inet_pton(AF_INET6, "fd00:ec2::23", &ecs) == 1)
				ok = IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, &ecs, sizeof a6) == 0;
		}
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static const char *pick(const struct aws_ini *a, const char *sa, const struct aws_ini *b,
			const char *sb, const char *key)
{
	const char *v = aws_ini_get(a, sa, key);
	return v ? v : aws_ini_get(b, sb, key);
}

void aws_profile_lookup(const struct aws_ini *credentials, const struct aws_ini *config,
			const char *name, struct aws_profile *out)
{
	char sec[160];

	memset(out, 0, sizeof *out);
	snprintf(sec, sizeof sec, "profile %s", name);
	/* [default] in the config file is the default profile; so is
	 * [profile default]. */
	const char *csec = aws_ini_has_section(config, sec) ? sec
			 : strcmp(name, "default") == 0 ? "default" : sec;
	out->found = aws_ini_has_section(credentials, name) || aws_ini_has_section(config, csec);
	out->access_key_id = pick(credentials, name, config, csec, "aws_access_key_id");
	out->secret_access_key = pick(credentials, name, config, csec, "aws_secret_access_key");
	out->session_token = pick(credentials, name, config, csec, "aws_session_token");
	if (!out->session_token)
		out->session_token = pick(credentials, name, config, csec, "aws_security_token");
	out->role_arn = pick(credentials, name, config, csec, "role_arn");
	out->source_profile = pick(credentials, name, config, csec, "source_profile");
	out->credential_source = pick(credentials, name, config, csec, "credential_source");
	out->external_id = pick(credentials, name, config, csec, "external_id");
	out->role_session_name = pick(credentials, name, config, csec, "role_session_name");
	out->duration_seconds = pick(credentials, name, config, csec, "duration_seconds");
	out->region = pick(credentials, name, config, csec, "region");
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

static void fetch_done(struct aws_creds_provider *p, int code, const char *msg,
		       const struct cloud_error *from, struct aws_creds_owned *n)
{
	struct cloud_error e;
	time_t now = time(NULL);

	p->fetching = false;
	if (n) {
		p->fetches++;
		install(p, n);
		if (p->cur.expiration > 0) {
			char exp[32];
			aws__iso8601_format(p->cur.expiration, exp, sizeof exp);
			log_info("aws.creds", "source=%s expires=%s", LOG_Q(p->source), exp);
		} else {
			log_info("aws.creds", "source=%s", LOG_Q(p->source));
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
			 LOG_Q(p->source), LOG_Q(e.message));
		notify(p, NULL);
		return;
	}
	log_warn("aws.creds", "source=%s error=%s msg=%s", LOG_Q(p->source), bot_err_name(e.code),
		 LOG_Q(e.message));
	notify(p, &e);
}

/* ---- container endpoint ------------------------------------------------- */

static int container_send(struct aws_creds_provider *p);

static void on_container(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct aws_creds_provider *p = ud;
	struct aws_creds_owned n;
	struct bot_error be = { .msg = "" };
	char msg[300];

	p->hc = NULL;
	if (rc == BOT_EOK && r->status == 200) {
		rc = aws_creds_parse_json(r->body, r->body_len, &n, &be);
		if (rc == BOT_EOK) {
			fetch_done(p, 0, NULL, NULL, &n);
			return;
		}
		snprintf(msg, sizeof msg, "container credentials: %s", be.msg);
		fetch_done(p, BOT_EAUTH, msg, NULL, NULL);
		return;
	}
	if (rc == BOT_ECANCELLED) {
		fetch_done(p, BOT_ECANCELLED, "cancelled", NULL, NULL);
		return;
	}
	if (rc)
		snprintf(msg, sizeof msg, "container credentials endpoint: %s", errmsg ? errmsg : bot_strerror(rc));
	else
		snprintf(msg, sizeof msg, "container credentials endpoint answered HTTP %ld", r->status);
	/* botocore: 3 tries; a 4xx will not get better. */
	if (++p->c_attempts < CONTAINER_ATTEMPTS && (rc || r->status >= 500)) {
		rc = container_send(p);
		if (rc == BOT_EOK)
			return;
	}
	fetch_done(p, rc == BOT_ETIMEOUT ? BOT_ETIMEOUT : BOT_EAUTH, msg, NULL, NULL);
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char buf[8192];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return strdup(buf);
}

static int container_send(struct aws_creds_provider *p)
{
	char *token = NULL, *hdr = NULL;
	const char *hdrs[2] = { NULL, NULL };
	int rc;

	if (p->auth_token_file) {
		token = read_token_file(p->auth_token_file);
		if (!token)
			return BOT_EIO;
	} else if (p->auth_token) {
		token = strdup(p->auth_token);
		if (!token)
			return BOT_ENOMEM;
	}
	if (token) {
		if (strpbrk(token, "\r\n")) {
			free_secret(token);
			return BOT_ECONFIG;
		}
		/* The file is re-read at each fetch (EKS rotates it); the env
		 * token was registered at create. */
		if (p->auth_token_file && (!p->file_token || strcmp(p->file_token, token) != 0)) {
			char *copy = strdup(token);
			if (!copy) {
				free_secret(token);
				return BOT_ENOMEM;
			}
			secret_replace(&p->file_token, copy);
		}
		size_t l = strlen(token) + 32;
		hdr = malloc(l);
		if (!hdr) {
			free_secret(token);
			return BOT_ENOMEM;
		}
		snprintf(hdr, l, "Authorization: %s", token);
		hdrs[0] = hdr;
	}
	rc = http_send(p->http, &(struct http_request){
		.method = "GET", .url = p->url, .headers = hdrs, .timeout_ms = p->c_timeout_ms,
		.max_response = MAX_CREDS_REPLY,
	}, on_container, p, &p->hc);
	free_secret(hdr);
	free_secret(token);
	return rc;
}

/* ---- IMDSv2 ------------------------------------------------------------- */

static int imds_send(struct aws_creds_provider *p);

static void on_imds(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct aws_creds_provider *p = ud;
	struct aws_creds_owned n;
	struct bot_error be = { .msg = "" };
	char msg[300];

	p->hc = NULL;
	if (rc == BOT_ECANCELLED) {
		fetch_done(p, BOT_ECANCELLED, "cancelled", NULL, NULL);
		return;
	}
	if (rc || r->status != 200) {
		if (rc)
			snprintf(msg, sizeof msg, "IMDS (step %d): %s", p->i_stage + 1,
				 errmsg ? errmsg : bot_strerror(rc));
		else
			snprintf(msg, sizeof msg, "IMDS (step %d) answered HTTP %ld", p->i_stage + 1,
				 r->status);
		fetch_done(p, BOT_EAUTH, msg, NULL, NULL);
		return;
	}
	switch (p->i_stage) {
	case 0: {
		char *token = strdup(r->body);
		if (!token || !*token || strpbrk(token, "\r\n")) {
			free_secret(token);
			fetch_done(p, BOT_EAUTH, "IMDS gave no usable token", NULL, NULL);
			return;
		}
		secret_replace(&p->imds_token, token); /* one per refresh */
		break;
	}
	case 1: {
		size_t l = strcspn(r->body, "\r\n");
		free(p->imds_role);
		p->imds_role = strndup(r->body, l);
		if (!p->imds_role || !*p->imds_role || strpbrk(p->imds_role, "/?#% ")) {
			fetch_done(p, BOT_EAUTH, "IMDS lists no instance role", NULL, NULL);
			return;
		}
		break;
	}
	default:
		rc = aws_creds_parse_json(r->body, r->body_len, &n, &be);
		if (rc) {
			snprintf(msg, sizeof msg, "IMDS credentials: %s", be.msg);
			fetch_done(p, BOT_EAUTH, msg, NULL, NULL);
		} else {
			fetch_done(p, 0, NULL, NULL, &n);
		}
		return;
	}
	p->i_stage++;
	rc = imds_send(p);
	if (rc)
		fetch_done(p, rc, "IMDS: cannot send the request", NULL, NULL);
}

static int imds_send(struct aws_creds_provider *p)
{
	char url[512], hdr[256];
	const char *hdrs[2] = { hdr, NULL };
	const char *method = "GET";
	const char *base = p->imds_base;
	size_t bl = strlen(base);
	const char *sep = bl && base[bl - 1] == '/' ? "" : "/";

	switch (p->i_stage) {
	case 0:
		method = "PUT";
		snprintf(url, sizeof url, "%s%slatest/api/token", base, sep);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TTL_S);
		break;
	case 1:
		snprintf(url, sizeof url, "%s%slatest/meta-data/iam/security-credentials/", base, sep);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", p->imds_token);
		break;
	default:
		snprintf(url, sizeof url, "%s%slatest/meta-data/iam/security-credentials/%s", base,
			 sep, p->imds_role);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", p->imds_token);
		break;
	}
	int rc = http_send(p->http, &(struct http_request){
		.method = method, .url = url, .headers = hdrs, .timeout_ms = p->i_timeout_ms,
		.max_response = MAX_CREDS_REPLY,
	}, on_imds, p, &p->hc);
	OPENSSL_cleanse(hdr, sizeof hdr);
	return rc;
}

/* ---- AssumeRole --------------------------------------------------------- */

static void on_sts(void *ud, const struct cloud_error *err, const struct aws_creds_owned *c,
		   const char *assumed_role_arn)
{
	struct aws_creds_provider *p = ud;
	struct aws_creds_owned n;

	p->call = NULL;
	if (err) {
		struct cloud_error e = *err;
		char tmp[sizeof e.message];
		aws__copy(tmp, sizeof tmp, e.message);
		snprintf(e.message, sizeof e.message, "AssumeRole %.150s: %.300s", p->role_arn, tmp);
		fetch_done(p, err->code, NULL, &e, NULL);
		return;
	}
	n = *c;
	n.access_key_id = strdup(c->access_key_id);
	n.secret_access_key = strdup(c->secret_access_key);
	n.session_token = strdup(c->session_token);
	if (!n.access_key_id || !n.secret_access_key || !n.session_token) {
		aws_creds_owned_clear(&n);
		fetch_done(p, BOT_ENOMEM, "out of memory", NULL, NULL);
		return;
	}
	log_info("aws.creds.assumed", "role=%s arn=%s", LOG_Q(p->role_arn),
		 LOG_Q(assumed_role_arn));
	fetch_done(p, 0, NULL, NULL, &n);
}

static int assume_send(struct aws_creds_provider *p)
{
	return p->sts.assume_role(p->sts.ctx, &(struct aws_creds_role){
		.role_arn = p->role_arn, .session_name = p->session_name,
		.external_id = p->external_id, .duration_s = p->duration_s, .region = p->region,
	}, p->base, on_sts, p, &p->call);
}

static void on_base(void *ud, const struct cloud_error *err, const struct aws_creds *c)
{
	struct aws_creds_provider *p = ud;
	int rc;

	(void)c;
	p->base_wait = NULL;
	if (err) {
		fetch_done(p, err->code, NULL, err, NULL);
		return;
	}
	rc = assume_send(p);
	if (rc)
		fetch_done(p, rc, "AssumeRole: cannot send the request", NULL, NULL);
}

/* ---- the provider ------------------------------------------------------- */

static int start_fetch(struct aws_creds_provider *p)
{
	switch (p->kind) {
	case SRC_CONTAINER:
		p->c_attempts = 0;
		return container_send(p);
	case SRC_IMDS:
		p->i_stage = 0;
		return imds_send(p);
	case SRC_ASSUME:
		if (!p->sts.assume_role)
			return BOT_ESTATE;
		if (aws_creds_cached(p->base))
			return assume_send(p);
		return aws_creds_refresh(p->base, on_base, p, &p->base_wait);
	default:
		return BOT_ESTATE; /* static keys never need fetching */
	}
}

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
		rc = start_fetch(p);
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
	if (!p || p->kind == SRC_FIXED || p->kind == SRC_ENV || p->kind == SRC_PROFILE)
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
	return p ? p->source : "none";
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
	free(p->url);
	log_forget_secret(p->auth_token);
	free_secret(p->auth_token);
	free(p->auth_token_file);
	secret_replace(&p->file_token, NULL);
	free(p->imds_base);
	secret_replace(&p->imds_token, NULL);
	free(p->imds_role);
	free(p->role_arn);
	free(p->session_name);
	free(p->external_id);
	free(p->region);
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
	p->in_notify++; /* the cancels below call back into fetch_done */
	if (p->hc)
		http_cancel(p->hc);
	if (p->call && p->sts.cancel)
		p->sts.cancel(p->call); /* on_sts runs now */
	if (p->base_wait)
		aws_creds_wait_cancel(p->base_wait);
	p->base_wait = NULL;
	p->in_notify--;
	if (p->base) {
		aws_creds_destroy(p->base);
		p->base = NULL;
	}
	if (p->in_notify == 0)
		provider_free(p);
}

/* ---- building the chain ------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static struct aws_creds_provider *new_provider(struct http *http, const struct aws_creds_sts *sts,
					       const struct aws_creds_opts *o, enum src kind)
{
	struct aws_creds_provider *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->kind = kind;
	p->http = http;
	if (sts)
		p->sts = *sts;
	p->margin_s = o->refresh_margin_s > 0 ? o->refresh_margin_s : DEFAULT_MARGIN_S;
	p->c_timeout_ms = o->container_timeout_ms > 0 ? o->container_timeout_ms : CONTAINER_TIMEOUT_MS;
	p->i_timeout_ms = o->imds_timeout_ms > 0 ? o->imds_timeout_ms : IMDS_TIMEOUT_MS;
	return p;
}

static int make_container(struct aws_creds_provider *p, struct bot_error *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	bool oom = false;

	if (rel) {
		size_t l = strlen(rel) + 32;
		p->url = malloc(l);
		if (p->url)
			snprintf(p->url, l, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
		else
			oom = true;
	} else {
		if (!aws_creds_full_uri_allowed(full))
			return bot_error_set(err, BOT_ECONFIG,
					     "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a "
					     "loopback/ECS/EKS address");
		p->url = aws__dup(full, &oom);
	}
	if (tf)
		p->auth_token_file = aws__dup(tf, &oom);
	else if (tok) {
		if (strpbrk(tok, "\r\n"))
			return bot_error_set(err, BOT_ECONFIG,
					     "AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
		p->auth_token = aws__dup(tok, &oom);
		(void)log_add_secret(tok);
	}
	if (oom)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	snprintf(p->source, sizeof p->source, "container");
	return BOT_EOK;
}

static int make_imds(struct aws_creds_provider *p, struct bot_error *err)
{
	bool oom = false;
	const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");

	p->imds_base = aws__dup(ep ? ep : "http://169.254.169.254", &oom);
	if (oom)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	snprintf(p->source, sizeof p->source, "imds");
	return BOT_EOK;
}

static bool imds_disabled(void)
{
	const char *v = env("AWS_EC2_METADATA_DISABLED");
	return v && strcasecmp(v, "true") == 0;
}

/* Wrap base in an AssumeRole provider. Takes base (freed on failure). */
static int wrap_assume(struct http *http, const struct aws_creds_sts *sts,
		       const struct aws_creds_opts *o, const char *role_arn, const char *session,
		       const char *external_id, int duration_s, struct aws_creds_provider **pp,
		       struct bot_error *err)
{
	struct aws_creds_provider *a = new_provider(http, sts, o, SRC_ASSUME);
	bool oom = !a;

	if (a) {
		a->base = *pp;
		a->role_arn = aws__dup(role_arn, &oom);
		a->session_name = aws__dup(session && *session ? session : "chatops-bot", &oom);
		a->external_id = aws__dup(external_id && *external_id ? external_id : NULL, &oom);
		a->region = aws__dup(o->region, &oom);
		a->duration_s = duration_s;
		snprintf(a->source, sizeof a->source, "assume-role:%.200s(%.80s)", role_arn,
			 a->base->source);
	}
	if (oom) {
		if (a)
			aws_creds_destroy(a);
		else
			aws_creds_destroy(*pp);
		*pp = NULL;
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	*pp = a;
	return BOT_EOK;
}

static char *home_path(const char *rel)
{
	const char *home = env("HOME");
	size_t l;
	char *p;

	if (!home)
		return NULL;
	l = strlen(home) + strlen(rel) + 2;
	p = malloc(l);
	if (p)
		snprintf(p, l, "%s/%s", home, rel);
	return p;
}

static int load_files(struct aws_ini **cred, struct aws_ini **conf, struct bot_error *err)
{
	char *cp = NULL, *fp = NULL;
	const char *c = env("AWS_SHARED_CREDENTIALS_FILE"), *f = env("AWS_CONFIG_FILE");
	int rc = BOT_EOK;

	*cred = *conf = NULL;
	if (!c)
		c = cp = home_path(".aws/credentials");
	if (!f)
		f = fp = home_path(".aws/config");
	rc = c ? aws_ini_load(c, cred, err) : aws_ini_parse("", 0, cred);
	if (!rc)
		rc = f ? aws_ini_load(f, conf, err) : aws_ini_parse("", 0, conf);
	free(cp);
	free(fp);
	return rc;
}

/* The profile's role: its base is source_profile's static keys or a
 * credential_source. */
static int profile_role(struct http *http, const struct aws_creds_sts *sts,
			const struct aws_creds_opts *o, const struct aws_ini *cred, const struct aws_ini *conf, const char *name,
			const struct aws_profile *pr, struct aws_creds_provider **out,
			struct bot_error *err)
{
	struct aws_creds_provider *b = NULL;
	int rc = BOT_EOK;

	if (pr->source_profile) {
		struct aws_profile sp;
		aws_profile_lookup(cred, conf, pr->source_profile, &sp);
		if (!sp.access_key_id || !sp.secret_access_key)
			return bot_error_set(err, BOT_ECONFIG,
					     "profile %s: source_profile %s has no static keys "
					     "(chained roles are not supported)", name, pr->source_profile);
		b = new_provider(http, sts, o, SRC_PROFILE);
		if (!b || set_static(b, sp.access_key_id, sp.secret_access_key, sp.session_token)) {
			aws_creds_destroy(b);
			return bot_error_set(err, BOT_ENOMEM, "out of memory");
		}
		snprintf(b->source, sizeof b->source, "profile:%.200s", pr->source_profile);
	} else if (pr->credential_source) {
		const char *cs = pr->credential_source;
		if (strcmp(cs, "Environment") == 0) {
			const char *k = env("AWS_ACCESS_KEY_ID"), *s = env("AWS_SECRET_ACCESS_KEY");
			if (!k || !s)
				return bot_error_set(err, BOT_ECONFIG, "profile %s: credential_source "
						     "Environment but no AWS_ACCESS_KEY_ID/SECRET", name);
			b = new_provider(http, sts, o, SRC_ENV);
			if (!b || set_static(b, k, s, env("AWS_SESSION_TOKEN"))) {
				aws_creds_destroy(b);
				return bot_error_set(err, BOT_ENOMEM, "out of memory");
			}
			snprintf(b->source, sizeof b->source, "env");
		} else if (strcmp(cs, "EcsContainer") == 0) {
			b = new_provider(http, sts, o, SRC_CONTAINER);
			rc = b ? make_container(b, err) : bot_error_set(err, BOT_ENOMEM, "out of memory");
		} else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
			b = new_provider(http, sts, o, SRC_IMDS);
			rc = b ? make_imds(b, err) : bot_error_set(err, BOT_ENOMEM, "out of memory");
		} else {
			return bot_error_set(err, BOT_ECONFIG, "profile %s: unknown credential_source %s",
					     name, cs);
		}
		if (rc) {
			aws_creds_destroy(b);
			return rc;
		}
	} else {
		return bot_error_set(err, BOT_ECONFIG,
				     "profile %s: role_arn needs source_profile or credential_source", name);
	}
	int dur = pr->duration_seconds ? atoi(pr->duration_seconds) : 0;
	rc = wrap_assume(http, sts, o, pr->role_arn, pr->role_session_name, pr->external_id, dur, &b,
			 err);
	*out = b;
	return rc;
}

int aws_creds_create(struct http *http, const struct aws_creds_sts *sts,
		     const struct aws_creds_opts *o, struct aws_creds_provider **out,
		     struct bot_error *err)
{
	static const struct aws_creds_opts none = {0};
	struct aws_creds_provider *p = NULL;
	struct aws_ini *cred = NULL, *conf = NULL;
	const char *profile, *k, *s;
	bool explicit_profile;
	int rc = BOT_EOK;

	*out = NULL;
	if (!o)
		o = &none;
	explicit_profile = o->profile && *o->profile;
	profile = explicit_profile ? o->profile : env("AWS_PROFILE");
	if (!profile)
		profile = env("AWS_DEFAULT_PROFILE");
	bool named = profile != NULL;
	if (!profile)
		profile = "default";

	if (o->fixed) {
		p = new_provider(http, sts, o, SRC_FIXED);
		if (!p || set_static(p, o->fixed->access_key_id, o->fixed->secret_access_key,
				     o->fixed->session_token)) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(p->source, sizeof p->source, "fixed");
		goto role;
	}
	k = env("AWS_ACCESS_KEY_ID");
	s = env("AWS_SECRET_ACCESS_KEY");
	if (!explicit_profile && (k || s)) {
		if (!k || !s) {
			rc = bot_error_set(err, BOT_ECONFIG, "%s is set but %s is not",
					   k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
					   k ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			goto out;
		}
		p = new_provider(http, sts, o, SRC_ENV);
		if (!p || set_static(p, k, s, env("AWS_SESSION_TOKEN"))) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(p->source, sizeof p->source, "env");
		goto role;
	}
	rc = load_files(&cred, &conf, err);
	if (rc)
		goto out;
	struct aws_profile pr;
	aws_profile_lookup(cred, conf, profile, &pr);
	if (pr.found && pr.role_arn && !(o->role_arn && *o->role_arn)) {
		rc = profile_role(http, sts, o, cred, conf, profile, &pr, &p, err);
		goto out;
	}
	if (pr.found && (pr.access_key_id || pr.secret_access_key)) {
		if (!pr.access_key_id || !pr.secret_access_key) {
			rc = bot_error_set(err, BOT_ECONFIG, "profile %s has only half a key pair", profile);
			goto out;
		}
		p = new_provider(http, sts, o, SRC_PROFILE);
		if (!p || set_static(p, pr.access_key_id, pr.secret_access_key, pr.session_token)) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(p->source, sizeof p->source, "profile:%.200s", profile);
		goto role;
	}
	if (named && !pr.found) {
		rc = bot_error_set(err, BOT_ECONFIG, "AWS profile %s is in neither the shared "
				   "credentials nor the config file", profile);
		goto out;
	}
	if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
		p = new_provider(http, sts, o, SRC_CONTAINER);
		rc = p ? make_container(p, err) : bot_error_set(err, BOT_ENOMEM, "out of memory");
		if (rc)
			goto out;
		goto role;
	}
	if (!imds_disabled()) {
		p = new_provider(http, sts, o, SRC_IMDS);
		rc = p ? make_imds(p, err) : bot_error_set(err, BOT_ENOMEM, "out of memory");
		if (rc)
			goto out;
		goto role;
	}
	rc = bot_error_set(err, BOT_ECONFIG, "no AWS credentials: set AWS_ACCESS_KEY_ID/"
			   "AWS_SECRET_ACCESS_KEY, a profile, or run where the container "
			   "endpoint or IMDS provides them");
	goto out;
role:
	if (o->role_arn && *o->role_arn)
		rc = wrap_assume(http, sts, o, o->role_arn, o->role_session_name, o->external_id,
				 o->duration_s, &p, err);
out:
	aws_ini_free(cred);
	aws_ini_free(conf);
	if (rc) {
		aws_creds_destroy(p);
		return rc;
	}
	log_info("aws.creds.chain", "source=%s", LOG_Q(p->source));
	*out = p;
	return BOT_EOK;
}
