/* creds_imds.c - the EC2 instance metadata source, IMDSv2 (see creds.h,
 * step 4): PUT /latest/api/token, then GET the role name and its
 * credentials at AWS_EC2_METADATA_SERVICE_ENDPOINT. */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"
#include "adapters/aws/util.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_TIMEOUT_MS        1000
#define IMDS_TTL_S             "21600"
#define MAX_CREDS_REPLY        ((size_t)64 << 10)

struct imds {
	struct aws__creds_source s;
	struct http *http;
	char *base;
	long timeout_ms;
	int stage;                  /* 0 token, 1 role name, 2 credentials */
	char *token, *role;         /* token registered, one per fetch */
	struct http_call *hc;
};

static int imds_send(struct imds *m);

static void on_imds(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct imds *m = ud;
	struct aws_creds_owned n;
	struct bot_error be = { .msg = "" };
	char msg[300];

	m->hc = NULL;
	if (rc == BOT_ECANCELLED) {
		aws__creds_fetched(&m->s, BOT_ECANCELLED, "cancelled", NULL, NULL);
		return;
	}
	if (rc || r->status != 200) {
		if (rc)
			snprintf(msg, sizeof msg, "IMDS (step %d): %s", m->stage + 1,
				 errmsg ? errmsg : bot_strerror(rc));
		else
			snprintf(msg, sizeof msg, "IMDS (step %d) answered HTTP %ld", m->stage + 1,
				 r->status);
		aws__creds_fetched(&m->s, BOT_EAUTH, msg, NULL, NULL);
		return;
	}
	switch (m->stage) {
	case 0: {
		char *token = strdup(r->body);
		if (!token || !*token || strpbrk(token, "\r\n")) {
			aws__creds_free_secret(token);
			aws__creds_fetched(&m->s, BOT_EAUTH, "IMDS gave no usable token", NULL, NULL);
			return;
		}
		aws__creds_secret_replace(&m->token, token); /* one per refresh */
		break;
	}
	case 1: {
		size_t l = strcspn(r->body, "\r\n");
		free(m->role);
		m->role = strndup(r->body, l);
		if (!m->role || !*m->role || strpbrk(m->role, "/?#% ")) {
			aws__creds_fetched(&m->s, BOT_EAUTH, "IMDS lists no instance role", NULL, NULL);
			return;
		}
		break;
	}
	default:
		rc = aws_creds_parse_json(r->body, r->body_len, &n, &be);
		if (rc) {
			snprintf(msg, sizeof msg, "IMDS credentials: %s", be.msg);
			aws__creds_fetched(&m->s, BOT_EAUTH, msg, NULL, NULL);
		} else {
			aws__creds_fetched(&m->s, 0, NULL, NULL, &n);
		}
		return;
	}
	m->stage++;
	rc = imds_send(m);
	if (rc)
		aws__creds_fetched(&m->s, rc, "IMDS: cannot send the request", NULL, NULL);
}

static int imds_send(struct imds *m)
{
	char url[512], hdr[256];
	const char *hdrs[2] = { hdr, NULL };
	const char *method = "GET";
	const char *base = m->base;
	size_t bl = strlen(base);
	const char *sep = bl && base[bl - 1] == '/' ? "" : "/";

	switch (m->stage) {
	case 0:
		method = "PUT";
		snprintf(url, sizeof url, "%s%slatest/api/token", base, sep);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TTL_S);
		break;
	case 1:
		snprintf(url, sizeof url, "%s%slatest/meta-data/iam/security-credentials/", base, sep);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", m->token);
		break;
	default:
		snprintf(url, sizeof url, "%s%slatest/meta-data/iam/security-credentials/%s", base,
			 sep, m->role);
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", m->token);
		break;
	}
	int rc = http_send(m->http, &(struct http_request){
		.method = method, .url = url, .headers = hdrs, .timeout_ms = m->timeout_ms,
		.max_response = MAX_CREDS_REPLY,
	}, on_imds, m, &m->hc);
	OPENSSL_cleanse(hdr, sizeof hdr);
	return rc;
}

static int imds_start(struct aws__creds_source *s)
{
	struct imds *m = container_of(s, struct imds, s);

	m->stage = 0;
	return imds_send(m);
}

static void imds_stop(struct aws__creds_source *s)
{
	struct imds *m = container_of(s, struct imds, s);

	if (m->hc)
		http_cancel(m->hc);
}

static void imds_free(struct aws__creds_source *s)
{
	struct imds *m = container_of(s, struct imds, s);

	free(m->base);
	aws__creds_secret_replace(&m->token, NULL);
	free(m->role);
	free(m);
}

static const struct aws__creds_source_ops imds_ops = {
	.start = imds_start,
	.stop = imds_stop,
	.free = imds_free,
};

bool aws__creds_imds_disabled(void)
{
	const char *v = aws__creds_env("AWS_EC2_METADATA_DISABLED");
	return v && strcasecmp(v, "true") == 0;
}

int aws__creds_imds_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
			struct bot_error *err)
{
	const char *ep = aws__creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct imds *m = calloc(1, sizeof *m);
	bool oom = !m;

	*out = NULL;
	if (m) {
		m->s.ops = &imds_ops;
		m->http = x->http;
		m->timeout_ms = x->o->imds_timeout_ms > 0 ? x->o->imds_timeout_ms : IMDS_TIMEOUT_MS;
		m->base = aws__dup(ep ? ep : "http://169.254.169.254", &oom);
		snprintf(m->s.name, sizeof m->s.name, "imds");
	}
	if (oom) {
		if (m)
			imds_free(&m->s);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	if (aws__creds_provider_new(x, &m->s, NULL, out))
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	return BOT_EOK;
}
