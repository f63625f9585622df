/* health.c - /healthz and /metrics on an lws server vhost (see health.h). */
#include <uv.h> /* before libwebsockets.h (event-loop-notes §1) */
#include <libwebsockets.h>

#include "adapters/health/health.h"
#include "adapters/lws/lws.h"
#include "bot/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_MAX (64 * 1024)

struct health {
	struct lws_vhost *vh;
	struct vh_ref *ref;
	health_render_fn render;
	void *ud;
	int port;
};

/* The vhost's private data: points at the owner until health_destroy. */
struct vh_ref {
	struct health *h;
};

struct session {
	unsigned char *resp; /* LWS_PRE + body */
	size_t len;
};

static struct health *owner(struct lws *wsi)
{
	struct vh_ref *r = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
	return r ? r->h : NULL;
}

static int respond(struct lws *wsi, struct session *s, unsigned status, const char *ctype,
		   const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr - 1;

	free(s->resp);
	s->resp = malloc(LWS_PRE + len + 1);
	if (!s->resp)
		return -1;
	memcpy(s->resp + LWS_PRE, body, len);
	s->len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int handle(struct lws *wsi, struct session *s, const char *path)
{
	struct health *h = owner(wsi);
	bool healthy = true;
	char *doc;
	int rc;

	if (!h)
		return respond(wsi, s, 503, "text/plain; charset=utf-8", "stopping\n", 9);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return respond(wsi, s, 405, "text/plain; charset=utf-8", "GET only\n", 9);
	bool metrics = strcmp(path, "/metrics") == 0;
	if (!metrics && strcmp(path, "/healthz") != 0 && strcmp(path, "/health") != 0)
		return respond(wsi, s, 404, "text/plain; charset=utf-8", "not found\n", 10);
	doc = malloc(DOC_MAX);
	if (!doc)
		return -1;
	size_t n = h->render(h->ud, metrics ? HEALTH_DOC_METRICS : HEALTH_DOC_STATUS, doc, DOC_MAX,
			     &healthy);
	if (n >= DOC_MAX)
		n = DOC_MAX - 1;
	rc = respond(wsi, s, metrics || healthy ? 200 : 503,
		     metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json", doc, n);
	free(doc);
	return rc;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct session *s = user;
	char path[128];

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		snprintf(path, sizeof path, "%.*s", (int)len, (const char *)in);
		return handle(wsi, s, path);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		int n;
		if (!s->resp)
			return 0;
		n = lws_write(wsi, s->resp + LWS_PRE, s->len, LWS_WRITE_HTTP_FINAL);
		free(s->resp);
		s->resp = NULL;
		if (n < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return 0; /* answered from the headers; a body is ignored */
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s) {
			free(s->resp);
			s->resp = NULL;
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", http_cb, sizeof(struct session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static int split_listen(const char *listen, char *host, size_t hn, int *port)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	char *end;
	long p;

	if (!colon || colon == listen || (size_t)(colon - listen) >= hn)
		return BOT_EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return BOT_EINVAL;
	snprintf(host, hn, "%.*s", (int)(colon - listen), listen);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, hn, "127.0.0.1");
	*port = (int)p;
	return BOT_EOK;
}

int health_create(struct bot_loop *loop, const struct health_opts *o, struct health **out,
		  struct bot_error *err)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct health *h = NULL;
	char host[64], addr[80];
	int port, rc;

	*out = NULL;
	if (!o || !o->render || split_listen(o->listen, host, sizeof host, &port) != BOT_EOK)
		return bot_error_set(err, BOT_EINVAL, "http.listen: expected host:port, got '%s'",
				     o && o->listen ? o->listen : "");
	ctx = bot_lws_context(loop, err);
	if (!ctx)
		return BOT_EIO;
	h = calloc(1, sizeof *h);
	if (!h)
		return bot_error_set(err, BOT_ENOMEM, "health: out of memory");
	h->render = o->render;
	h->ud = o->ud;
	memset(&info, 0, sizeof info);
	info.vhost_name = "health";
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	info.keepalive_timeout = 5;
	h->vh = lws_create_vhost(ctx, &info);
	if (!h->vh) {
		rc = bot_error_set(err, BOT_EIO, "http.listen: cannot listen on %s (address in use, "
				   "or not an address of this host)", o->listen);
		goto fail;
	}
	h->ref = lws_protocol_vh_priv_zalloc(h->vh, &protocols[0], sizeof *h->ref);
	if (!h->ref) {
		rc = bot_error_set(err, BOT_ENOMEM, "health: out of memory");
		goto fail;
	}
	h->ref->h = h;
	h->port = lws_get_vhost_listen_port(h->vh);
	snprintf(addr, sizeof addr, "%s:%d", host, h->port);
	log_info("health.listen", "address=%s paths=/healthz,/metrics", LOG_Q(addr));
	*out = h;
	return BOT_EOK;
fail:
	free(h);
	return rc;
}

void health_destroy(struct health *h)
{
	if (!h)
		return;
	if (h->ref)
		h->ref->h = NULL; /* the vhost answers 503 until the context dies */
	free(h);
}

int health_port(const struct health *h)
{
	return h->port;
}
