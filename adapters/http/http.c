/* http.c - libcurl multi on the bot's uv loop (the multi-uv pattern, with
 * the rules of event-loop-notes.md §3):
 *   - CURLMOPT_SOCKETFUNCTION keeps one uv_poll_t per socket, allocated on
 *     first sight and attached with curl_multi_assign; on CURL_POLL_REMOVE
 *     it is stopped and uv_close'd at once (curl closes the fd right after,
 *     and the number may be reused in the same call) and freed only in the
 *     close callback;
 *   - CURLMOPT_TIMERFUNCTION drives one uv_timer_t;
 *   - curl is never called from its own callbacks (only curl_multi_assign,
 *     which curl allows there); finished transfers are collected with
 *     curl_multi_info_read after each socket_action, and the user callbacks
 *     run from there, outside curl.
 * Memory owned by the loop (the poll handles, the timer, and the client
 * itself once destroyed) is freed in uv close callbacks.
 */
#include "adapters/http/http.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot/base/log.h"
#include "build_config.h"

#define DEFAULT_TIMEOUT_MS   30000L
#define DEFAULT_MAX_RESPONSE ((size_t)4 << 20)
#define BODY_MIN_CAP         ((size_t)16 << 10)

struct http_sock {
	uv_poll_t poll;
	struct http *h;
	curl_socket_t fd;
	struct http_sock *prev, *next;
};

enum call_state { CALL_ACTIVE, CALL_FINISHING };

struct http_call {
	struct http_call *prev, *next;
	struct http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	http_done_cb cb;
	void *ud;
	enum call_state state;
	char method[16];
	char *host; /* host[:port], for logs */
	char *path; /* path without the query (it may hold secrets), for logs */
	char *body;
	size_t body_len, body_cap, max_response;
	bool too_big, oom;
	uint64_t t0;
	char errbuf[CURL_ERROR_SIZE];
};

struct http {
	struct bot_loop *loop;
	uv_loop_t *uv;
	CURLM *multi;
	uv_timer_t timer;
	struct http_call *calls; /* in flight */
	struct http_sock *socks; /* poll handles not yet closed */
	int open_handles;        /* timer + socks until their close callbacks */
	STACK_OF(X509) *cas;     /* extra trust anchors from opts.ca_file */
	char *user_agent;
	bool in_multi_cleanup;
	bool tearing_down;
	bool torn_down;
	bool destroy_requested;
	bool global_init;
};

/* ---- small helpers ------------------------------------------------------ */

static void acc(CURLcode *cc, CURLcode r)
{
	if (*cc == CURLE_OK)
		*cc = r;
}

static long ms_since(uint64_t t0)
{
	return (long)((uv_hrtime() - t0) / 1000000u);
}

static void maybe_free(struct http *h)
{
	if (!h->destroy_requested || h->open_handles || h->tearing_down)
		return;
	if (h->cas)
		sk_X509_pop_free(h->cas, X509_free);
	free(h->user_agent);
	if (h->global_init)
		curl_global_cleanup();
	free(h);
}

/* ---- sockets and timer (curl callbacks: no curl calls in here) ----------- */

static void sock_closed(uv_handle_t *hd)
{
	struct http_sock *s = container_of(hd, struct http_sock, poll);
	struct http *h = s->h;

	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	h->open_handles--;
	maybe_free(h);
}

static void sock_close(struct http_sock *s)
{
	if (uv_is_closing((uv_handle_t *)&s->poll))
		return;
	(void)uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void drain(struct http *h);

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = container_of(p, struct http_sock, poll);
	struct http *h = s->h;
	/* Read the fd first: after socket_action s may be closing. */
	curl_socket_t fd = s->fd;
	int flags = 0, running = 0;
	CURLMcode mc;

	if (!h->multi)
		return;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	mc = curl_multi_socket_action(h->multi, fd, flags, &running);
	if (mc != CURLM_OK)
		log_error("http.multi", "op=socket_action error=%s", LOG_Q(curl_multi_strerror(mc)));
	drain(h);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			if (!h->in_multi_cleanup)
				(void)curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		if (uv_poll_init_socket(h->uv, &s->poll, fd) != 0) {
			free(s); /* not registered with the loop on failure */
			return -1;
		}
		s->h = h;
		s->fd = fd;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		h->open_handles++;
		(void)curl_multi_assign(h->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, on_poll) != 0)
		return -1;
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	struct http *h = container_of(t, struct http, timer);
	int running = 0;
	CURLMcode mc;

	if (!h->multi)
		return;
	mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (mc != CURLM_OK)
		log_error("http.multi", "op=timeout error=%s", LOG_Q(curl_multi_strerror(mc)));
	drain(h);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct http *h = userp;

	(void)m;
	if (h->torn_down || uv_is_closing((uv_handle_t *)&h->timer))
		return 0;
	if (timeout_ms < 0)
		(void)uv_timer_stop(&h->timer);
	else /* 0 ms runs on the next iteration, outside this callback */
		(void)uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static void timer_closed(uv_handle_t *hd)
{
	struct http *h = container_of((uv_timer_t *)hd, struct http, timer);

	h->open_handles--;
	maybe_free(h);
}

/* The extra CA certificates are added to the store curl has already filled
 * from the system bundle: trust is widened, never replaced, and
 * verification stays on. */
static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *userp)
{
	struct http *h = userp;
	X509_STORE *st = SSL_CTX_get_cert_store(ssl_ctx);

	(void)e;
	if (!st)
		return CURLE_SSL_CACERT_BADFILE;
	for (int i = 0; i < sk_X509_num(h->cas); i++) {
		/* OpenSSL 3 returns 1 for a certificate already present. */
		if (X509_STORE_add_cert(st, sk_X509_value(h->cas, i)) != 1) {
			ERR_clear_error();
			return CURLE_SSL_CACERT_BADFILE;
		}
	}
	return CURLE_OK;
}

/* ---- calls -------------------------------------------------------------- */

static void call_unlink(struct http_call *c)
{
	struct http *h = c->h;

	if (c->prev)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void call_free(struct http_call *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	free(c->host);
	free(c->path);
	free(c->body);
	free(c);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct http_call *c = userp;
	size_t n = size * nmemb, need, cap;
	char *nb;

	if (n > c->max_response - c->body_len) {
		c->too_big = true;
		return 0; /* != n: curl stops with CURLE_WRITE_ERROR */
	}
	need = c->body_len + n + 1;
	if (need > c->body_cap) {
		cap = c->body_cap ? c->body_cap : BODY_MIN_CAP;
		while (cap < need)
			cap *= 2;
		if (cap > c->max_response + 1)
			cap = c->max_response + 1;
		nb = realloc(c->body, cap);
		if (!nb) {
			c->oom = true;
			return 0;
		}
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, ptr, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	return n;
}

static int map_result(CURLcode res, const struct http_call *c)
{
	if (c->too_big)
		return BOT_ETOOBIG;
	if (c->oom)
		return BOT_ENOMEM;
	switch (res) {
	case CURLE_OK:
		return BOT_EOK;
	case CURLE_FILESIZE_EXCEEDED:
		return BOT_ETOOBIG;
	case CURLE_OPERATION_TIMEDOUT:
		return BOT_ETIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return BOT_ETLS;
	case CURLE_OUT_OF_MEMORY:
		return BOT_ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return BOT_EINVAL;
	default: /* DNS, connect, send/recv, reset, bad reply, ... */
		return BOT_ETRANSPORT;
	}
}

/* A finished transfer, from the info_read drain (outside curl callbacks). */
static void call_finish(struct http_call *c, CURLcode res)
{
	struct http *h = c->h;
	struct http_response r;
	char msg[300];
	const char *errmsg = NULL;
	long status = 0, ms = ms_since(c->t0);
	int rc;

	call_unlink(c);
	c->state = CALL_FINISHING;
	(void)curl_multi_remove_handle(h->multi, c->easy);
	rc = map_result(res, c);
	(void)curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == BOT_EOK) {
		log_info("http.done", "method=%s host=%s path=%s status=%ld bytes=%zu ms=%ld",
			 c->method, LOG_Q(c->host), LOG_Q(c->path), status, c->body_len, ms);
		memset(&r, 0, sizeof r);
		r.status = status;
		r.body = c->body ? c->body : "";
		r.body_len = c->body_len;
		r.duration_ms = ms;
		r.call = c;
		c->cb(c->ud, rc, &r, NULL);
	} else {
		if (rc == BOT_ETOOBIG)
			snprintf(msg, sizeof msg, "response body over %zu bytes", c->max_response);
		else
			snprintf(msg, sizeof msg, "%s",
				 c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
		errmsg = msg;
		log_warn("http.fail", "method=%s host=%s path=%s error=%s status=%ld ms=%ld msg=%s",
			 c->method, LOG_Q(c->host), LOG_Q(c->path), bot_err_name(rc), status, ms,
			 LOG_Q(errmsg));
		c->cb(c->ud, rc, NULL, errmsg);
	}
	call_free(c);
}

static void call_cancel(struct http_call *c)
{
	struct http *h = c->h;

	call_unlink(c);
	c->state = CALL_FINISHING;
	/* Outside curl callbacks; fires CURL_POLL_REMOVE for its socket. */
	(void)curl_multi_remove_handle(h->multi, c->easy);
	log_info("http.cancel", "method=%s host=%s path=%s ms=%ld", c->method, LOG_Q(c->host),
		 LOG_Q(c->path), ms_since(c->t0));
	c->cb(c->ud, BOT_ECANCELLED, NULL, "cancelled");
	call_free(c);
}

static void drain(struct http *h)
{
	CURLMsg *m;
	int left;

	/* A callback may destroy the client: h stays allocated until its
	 * close callbacks, and multi becomes NULL, which ends this loop. */
	while (h->multi && (m = curl_multi_info_read(h->multi, &left))) {
		char *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv)
			call_finish((struct http_call *)(void *)priv, m->data.result);
	}
}

void http_cancel(struct http_call *c)
{
	if (!c || c->state != CALL_ACTIVE)
		return;
	call_cancel(c);
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	struct curl_header *hd = NULL;
	CURL *e;

	if (!r || !r->call || !name)
		return NULL;
	e = r->call->easy;
	if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return NULL;
	if (hd->amount > 1 &&
	    curl_easy_header(e, name, hd->amount - 1, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return NULL;
	return hd->value;
}

/* ---- send --------------------------------------------------------------- */

static bool method_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n >= sizeof ((struct http_call *)0)->method)
		return false;
	for (size_t i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return false;
	return true;
}

static bool header_ok(const char *hd)
{
	const char *colon = strchr(hd, ':');

	return colon && colon != hd && !strpbrk(hd, "\r\n");
}

/* Split the URL for logging (host, path without query) and check its
 * scheme. */
static int parse_url(struct http_call *c, const char *url, bool secret_path,
		     struct bot_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = BOT_EOK;
	size_t n;

	if (!u)
		return BOT_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = bot_error_set(err, BOT_EINVAL, "malformed URL");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = bot_error_set(err, BOT_EINVAL, "unsupported URL scheme");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		path = NULL;
	n = strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
	c->host = malloc(n);
	c->path = strdup(secret_path ? "/[REDACTED]" : path ? path : "/");
	if (!c->host || !c->path) {
		rc = BOT_ENOMEM;
		goto out;
	}
	snprintf(c->host, n, "%s%s%s", host, port ? ":" : "", port ? port : "");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

static int setup_easy(struct http *h, struct http_call *c, const struct http_request *req)
{
	CURLcode cc = CURLE_OK;
	CURL *e = c->easy;
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	const char *body = req->body ? req->body : "";

	for (const char *const *p = req->headers; p && *p; p++) {
		struct curl_slist *n = curl_slist_append(c->hdrs, *p);
		if (!n)
			return BOT_ENOMEM;
		c->hdrs = n;
	}
	/* No "Expect: 100-continue" round trip for larger bodies. */
	{
		struct curl_slist *n = curl_slist_append(c->hdrs, "Expect:");
		if (!n)
			return BOT_ENOMEM;
		c->hdrs = n;
	}

	acc(&cc, curl_easy_setopt(e, CURLOPT_URL, req->url));
	acc(&cc, curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
	acc(&cc, curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
	acc(&cc, curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)c));
	acc(&cc, curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write));
	acc(&cc, curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)c));
	acc(&cc, curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf));
	acc(&cc, curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout));
	acc(&cc, curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent));
	acc(&cc, curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs));
	acc(&cc, curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L)); /* never resend auth */
	acc(&cc, curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L));
	acc(&cc, curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L));
	acc(&cc, curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response));
	if (h->cas) {
		acc(&cc, curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx));
		acc(&cc, curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, (void *)h));
	}
	if (strcmp(c->method, "GET") == 0) {
		acc(&cc, curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
	} else if (strcmp(c->method, "HEAD") == 0) {
		acc(&cc, curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
	} else {
		/* POST semantics (always a Content-Length, even 0) with the
		 * method name replaced for PUT, PATCH, DELETE... */
		if (strcmp(c->method, "POST") != 0)
			acc(&cc, curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method));
		acc(&cc, curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len));
		acc(&cc, curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body));
	}
	if (cc == CURLE_OUT_OF_MEMORY)
		return BOT_ENOMEM;
	return cc == CURLE_OK ? BOT_EOK : BOT_EIO;
}

int http_send(struct http *h, const struct http_request *req, http_done_cb cb, void *ud,
	      struct http_call **call_out)
{
	struct http_call *c = NULL;
	struct bot_error err = { .msg = "" };
	const char *method;
	int rc = BOT_EOK;

	if (call_out)
		*call_out = NULL;
	if (!h || !req || !req->url || !cb)
		return BOT_EINVAL;
	if (h->tearing_down || h->torn_down || h->destroy_requested)
		return BOT_ESTATE;
	method = req->method ? req->method : "GET";
	if (!method_ok(method) || (req->body_len && !req->body))
		return BOT_EINVAL;
	if (req->body_len && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
		return BOT_EINVAL;
	for (const char *const *p = req->headers; p && *p; p++)
		if (!header_ok(*p))
			return BOT_EINVAL;

	c = calloc(1, sizeof *c);
	if (!c)
		return BOT_ENOMEM;
	c->h = h;
	c->cb = cb;
	c->ud = ud;
	c->state = CALL_ACTIVE;
	c->max_response = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	snprintf(c->method, sizeof c->method, "%s", method);
	rc = parse_url(c, req->url, req->secret_path, &err);
	if (rc) {
		log_warn("http.send", "method=%s error=%s msg=%s", c->method, bot_err_name(rc),
			 LOG_Q(err.msg));
		goto out;
	}
	c->easy = curl_easy_init();
	if (!c->easy) {
		rc = BOT_ENOMEM;
		goto out;
	}
	rc = setup_easy(h, c, req);
	if (rc)
		goto out;
	c->t0 = uv_hrtime();
	/* Outside curl callbacks (user callbacks never run inside them);
	 * curl arms our timer at 0 ms and the transfer starts next
	 * iteration. */
	if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
		rc = BOT_EIO;
		goto out;
	}
	c->next = h->calls;
	if (h->calls)
		h->calls->prev = c;
	h->calls = c;
	log_debug("http.start", "method=%s host=%s path=%s", c->method, LOG_Q(c->host),
		  LOG_Q(c->path));
	if (call_out)
		*call_out = c;
	c = NULL;
out:
	call_free(c);
	return rc;
}

/* ---- lifetime ----------------------------------------------------------- */

/* Cancel everything (callbacks run now), clean the multi up, close the
 * handles. The notes' step 3: in-flight handles first (their REMOVE closes
 * the polls), then curl_multi_cleanup, then the timer. */
static void teardown(struct http *h)
{
	if (h->tearing_down || h->torn_down)
		return;
	h->tearing_down = true;
	while (h->calls)
		call_cancel(h->calls);
	if (h->multi) {
		h->in_multi_cleanup = true;
		(void)curl_multi_cleanup(h->multi);
		h->in_multi_cleanup = false;
		h->multi = NULL;
	}
	/* curl 7.88 has removed every socket by now; be sure anyway. */
	for (struct http_sock *s = h->socks; s; s = s->next)
		sock_close(s);
	(void)uv_timer_stop(&h->timer);
	if (!uv_is_closing((uv_handle_t *)&h->timer))
		uv_close((uv_handle_t *)&h->timer, timer_closed);
	h->torn_down = true;
	h->tearing_down = false;
}

static void on_loop_shutdown(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct http *h = ud;

	teardown(h);
	done(done_ud);
}

void http_destroy(struct http *h)
{
	if (!h || h->destroy_requested)
		return;
	h->destroy_requested = true;
	bot_loop_off_shutdown(h->loop, on_loop_shutdown, h);
	if (h->tearing_down)
		return; /* inside a cancel callback: the outer teardown finishes */
	teardown(h);
	maybe_free(h);
}

static int load_cas(struct http *h, const char *path, struct bot_error *err)
{
	STACK_OF(X509_INFO) *infos = NULL;
	BIO *b = NULL;
	int rc = BOT_EOK;

	b = BIO_new_file(path, "r");
	if (!b) {
		rc = bot_error_set(err, BOT_ECONFIG, "cannot read CA file %s", path);
		goto out;
	}
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	h->cas = sk_X509_new_null();
	if (!infos || !h->cas) {
		rc = bot_error_set(err, infos ? BOT_ENOMEM : BOT_ECONFIG,
				   "cannot parse CA file %s", path);
		goto out;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);
		if (!xi->x509)
			continue;
		if (!sk_X509_push(h->cas, xi->x509)) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory reading %s", path);
			goto out;
		}
		xi->x509 = NULL; /* now owned by h->cas */
	}
	if (sk_X509_num(h->cas) == 0)
		rc = bot_error_set(err, BOT_ECONFIG, "no certificate in CA file %s", path);
out:
	ERR_clear_error();
	if (infos)
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	return rc;
}

int http_create(struct bot_loop *loop, const struct http_opts *o, struct http **out,
		struct bot_error *err)
{
	static const struct http_opts no_opts = { NULL, NULL };
	const curl_version_info_data *vi;
	struct http *h = NULL;
	CURLMcode mc = CURLM_OK;
	int rc = BOT_EOK;

	*out = NULL;
	if (!o)
		o = &no_opts;
	h = calloc(1, sizeof *h);
	if (!h)
		return bot_error_set(err, BOT_ENOMEM, "out of memory for the HTTP client");
	h->loop = loop;
	h->uv = bot_loop_uv(loop);
	h->destroy_requested = true; /* until fully created: error paths free */

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = bot_error_set(err, BOT_EIO, "curl_global_init failed");
		goto out;
	}
	h->global_init = true;
	h->user_agent = strdup(o->user_agent ? o->user_agent : "chatops-bot/" BOT_VERSION);
	if (!h->user_agent) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory for the HTTP client");
		goto out;
	}
	if (o->ca_file) {
		vi = curl_version_info(CURLVERSION_NOW);
		if (!vi->ssl_version || strncmp(vi->ssl_version, "OpenSSL/", 8) != 0) {
			rc = bot_error_set(err, BOT_ECONFIG,
					   "ca_file needs libcurl built with OpenSSL (this one: %s)",
					   vi->ssl_version ? vi->ssl_version : "no TLS");
			goto out;
		}
		rc = load_cas(h, o->ca_file, err);
		if (rc)
			goto out;
	}
	h->multi = curl_multi_init();
	if (!h->multi) {
		rc = bot_error_set(err, BOT_EIO, "curl_multi_init failed");
		goto out;
	}
	if (!mc)
		mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	if (!mc)
		mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, (void *)h);
	if (!mc)
		mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	if (!mc)
		mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, (void *)h);
	if (mc) {
		rc = bot_error_set(err, BOT_EIO, "curl_multi_setopt: %s", curl_multi_strerror(mc));
		goto out;
	}
	(void)uv_timer_init(h->uv, &h->timer); /* cannot fail on unix */
	h->open_handles = 1;
	rc = bot_loop_on_shutdown(loop, on_loop_shutdown, h);
	if (rc) {
		bot_error_set(err, rc, "cannot register the HTTP client's shutdown hook");
		goto out;
	}
	h->destroy_requested = false;
	*out = h;
	h = NULL;
out:
	if (h) {
		if (h->open_handles) {
			teardown(h); /* freed in the timer's close callback */
		} else {
			if (h->multi)
				(void)curl_multi_cleanup(h->multi);
			h->multi = NULL;
			maybe_free(h);
		}
	}
	return rc;
}
