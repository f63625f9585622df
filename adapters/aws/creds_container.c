/* creds_container.c - the ECS/EKS container endpoint source (see creds.h,
 * step 3): GET AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, with the Authorization token from a
 * file (re-read at each fetch) or the environment. */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTAINER_TIMEOUT_MS   2000
#define CONTAINER_ATTEMPTS     3
#define MAX_CREDS_REPLY        ((size_t)64 << 10)

struct container {
	struct aws__creds_source s;
	struct http *http;
	char *url, *auth_token, *auth_token_file;
	char *file_token;           /* last token read from auth_token_file (registered) */
	long timeout_ms;
	int attempts;
	struct http_call *hc;
};

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

static int container_send(struct container *c);

static void on_container(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct container *c = ud;
	struct aws_creds_owned n;
	struct bot_error be = { .msg = "" };
	char msg[300];

	c->hc = NULL;
	if (rc == BOT_EOK && r->status == 200) {
		rc = aws_creds_parse_json(r->body, r->body_len, &n, &be);
		if (rc == BOT_EOK) {
			aws__creds_fetched(&c->s, 0, NULL, NULL, &n);
			return;
		}
		snprintf(msg, sizeof msg, "container credentials: %s", be.msg);
		aws__creds_fetched(&c->s, BOT_EAUTH, msg, NULL, NULL);
		return;
	}
	if (rc == BOT_ECANCELLED) {
		aws__creds_fetched(&c->s, BOT_ECANCELLED, "cancelled", NULL, NULL);
		return;
	}
	if (rc)
		snprintf(msg, sizeof msg, "container credentials endpoint: %s", errmsg ? errmsg : bot_strerror(rc));
	else
		snprintf(msg, sizeof msg, "container credentials endpoint answered HTTP %ld", r->status);
	/* botocore: 3 tries; a 4xx will not get better. */
	if (++c->attempts < CONTAINER_ATTEMPTS && (rc || r->status >= 500)) {
		rc = container_send(c);
		if (rc == BOT_EOK)
			return;
	}
	aws__creds_fetched(&c->s, rc == BOT_ETIMEOUT ? BOT_ETIMEOUT : BOT_EAUTH, msg, NULL, NULL);
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

static int container_send(struct container *c)
{
	char *token = NULL, *hdr = NULL;
	const char *hdrs[2] = { NULL, NULL };
	int rc;

	if (c->auth_token_file) {
		token = read_token_file(c->auth_token_file);
		if (!token)
			return BOT_EIO;
	} else if (c->auth_token) {
		token = strdup(c->auth_token);
		if (!token)
			return BOT_ENOMEM;
	}
	if (token) {
		if (strpbrk(token, "\r\n")) {
			aws__creds_free_secret(token);
			return BOT_ECONFIG;
		}
		/* The file is re-read at each fetch (EKS rotates it); the env
		 * token was registered at create. */
		if (c->auth_token_file && (!c->file_token || strcmp(c->file_token, token) != 0)) {
			char *copy = strdup(token);
			if (!copy) {
				aws__creds_free_secret(token);
				return BOT_ENOMEM;
			}
			aws__creds_secret_replace(&c->file_token, copy);
		}
		size_t l = strlen(token) + 32;
		hdr = malloc(l);
		if (!hdr) {
			aws__creds_free_secret(token);
			return BOT_ENOMEM;
		}
		snprintf(hdr, l, "Authorization: %s", token);
		hdrs[0] = hdr;
	}
	rc = http_send(c->http, &(struct http_request){
		.method = "GET", .url = c->url, .headers = hdrs, .timeout_ms = c->timeout_ms,
		.max_response = MAX_CREDS_REPLY,
	}, on_container, c, &c->hc);
	aws__creds_free_secret(hdr);
	aws__creds_free_secret(token);
	return rc;
}

static int container_start(struct aws__creds_source *s)
{
	struct container *c = container_of(s, struct container, s);

	c->attempts = 0;
	return container_send(c);
}

static void container_stop(struct aws__creds_source *s)
{
	struct container *c = container_of(s, struct container, s);

	if (c->hc)
		http_cancel(c->hc);
}

static void container_free(struct aws__creds_source *s)
{
	struct container *c = container_of(s, struct container, s);

	free(c->url);
	log_forget_secret(c->auth_token);
	aws__creds_free_secret(c->auth_token);
	free(c->auth_token_file);
	aws__creds_secret_replace(&c->file_token, NULL);
	free(c);
}

static const struct aws__creds_source_ops container_ops = {
	.start = container_start,
	.stop = container_stop,
	.free = container_free,
};

bool aws__creds_container_set(void)
{
	return aws__creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
	       aws__creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static int setup(struct container *c, struct bot_error *err)
{
	const char *rel = aws__creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws__creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tf = aws__creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = aws__creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	bool oom = false;

	if (rel) {
		size_t l = strlen(rel) + 32;
		c->url = malloc(l);
		if (c->url)
			snprintf(c->url, l, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
		else
			oom = true;
	} else {
		if (!aws_creds_full_uri_allowed(full))
			return bot_error_set(err, BOT_ECONFIG,
					     "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a "
					     "loopback/ECS/EKS address");
		c->url = aws__dup(full, &oom);
	}
	if (tf)
		c->auth_token_file = aws__dup(tf, &oom);
	else if (tok) {
		if (strpbrk(tok, "\r\n"))
			return bot_error_set(err, BOT_ECONFIG,
					     "AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
		c->auth_token = aws__dup(tok, &oom);
		(void)log_add_secret(tok);
	}
	if (oom)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	snprintf(c->s.name, sizeof c->s.name, "container");
	return BOT_EOK;
}

int aws__creds_container_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
			     struct bot_error *err)
{
	struct container *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (!c)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	c->s.ops = &container_ops;
	c->http = x->http;
	c->timeout_ms = x->o->container_timeout_ms > 0 ? x->o->container_timeout_ms
						       : CONTAINER_TIMEOUT_MS;
	rc = setup(c, err);
	if (rc) {
		container_free(&c->s);
		return rc;
	}
	if (aws__creds_provider_new(x, &c->s, NULL, out))
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	return BOT_EOK;
}
