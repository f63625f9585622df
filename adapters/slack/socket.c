/* socket.c - Socket Mode connection manager (see socket.h).
 *
 * lws notes (event-loop-notes.md §2) applied here:
 * - DNS is done with uv_getaddrinfo; lws gets the numeric address and the
 *   real host name (Host header, SNI, certificate check).
 * - Our timers are uv timers; nothing here arms an lws_sul.
 * - pwsi is never cleared by lws: link->wsi is set to NULL in
 *   CLIENT_CONNECTION_ERROR and CLIENT_CLOSED (which are exclusive).
 * - A polite close is lws_close_reason + lws_set_timeout(PENDING_TIMEOUT_
 *   USER_OK, LWS_TO_KILL_SYNC) from WRITEABLE and `return 0`, never
 *   `return -1` (that is turned into an abortive close by the _DEBUG build).
 * - lws_set_timeout(..., LWS_TO_KILL_SYNC) without a close reason drops the
 *   socket and delivers CLIENT_CLOSED synchronously, so a link may be
 *   finished inside kill_link(): links are freed through link_release(),
 *   which waits while a caller up the stack still holds the link.
 *
 * Ownership: a link is our memory, passed to lws as the wsi's userdata
 * (lws does not free it). It lives until its wsi is gone. When the manager
 * is destroyed first, links are orphaned (link->ws = NULL) and freed when
 * lws reports them closed.
 */
#include "adapters/slack/socket.h"

#include <uv.h> /* before libwebsockets.h (libuv helpers) */
#include <libwebsockets.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bot/base/log.h"
#include "bot/base/url.h"

#define PROTOCOL_NAME   "slack-socket-mode"
#define VHOST_NAME      "slack-client"
#define HOST_MAX        256
#define PATH_MAX_LEN    2048
#define ACK_MAX         256
#define PING_PAYLOAD    "chatops-bot"
#define MAX_WAITERS     4
#define MAX_VHOSTS      8
#define DISPATCH_SLICE_NS (500u * 1000u)
#define DISPATCH_DEFER_NS (100u * 1000u * 1000u)

/* The link watch (socket.h): a ping every 2 s, dead after 6.5 s of nothing */
#define DEF_PING_MS     2000u
#define DEF_SILENCE_MS  6500u
#define TICK_MAX_MS     500u
#define DEF_HELLO_MS    15000u
#define DEF_CLOSE_MS    1000u
#define DEF_DRAIN_MS    15000u

static const uint32_t default_steps[] = { 1000, 2000, 4000, 8000, 16000, 30000 };
static const struct slack_retry_policy default_backoff = {
	default_steps, BOT_ARRAY_LEN(default_steps), 20, SLACK_RETRY_FOREVER,
};

enum link_state {
	L_RESOLVING = 0,
	L_CONNECTING,
	L_WAIT_HELLO,
	L_OPEN,
};

static const char *const state_names[] = {
	[L_RESOLVING] = "resolving", [L_CONNECTING] = "connecting",
	[L_WAIT_HELLO] = "wait_hello", [L_OPEN] = "open",
};

/* A frame to write; an ack carries the envelope it acknowledges. */
struct txf {
	struct txf *next;
	struct slack_frame *env;   /* owned; handed on once the ack is written */
	size_t len;
	unsigned char buf[];       /* LWS_PRE + len */
};

/* An envelope whose ack is out (or held), waiting for on_envelope. */
struct ready {
	struct ready *next;
	struct slack_frame *f;     /* not copied: f->ev points into f itself */
	uint64_t at_ns;            /* when its ack was written (held: arrived) */
};

struct resolve;

struct link {
	struct link *prev, *next;
	struct slack_ws *ws;       /* NULL: orphaned */
	struct lws *wsi;
	struct resolve *dns;       /* in flight */
	enum link_state st;
	unsigned id;
	bool tls;
	int port;
	char host[HOST_MAX];
	char path[PATH_MAX_LEN];   /* with the ticket: never logged */
	char shown_path[128];      /* the path without its query, for logs */
	uint64_t started_ms, last_rx_ms, last_ping_ms, close_at_ms, drain_at_ms;
	bool replaced;             /* superseded: a new link takes over */
	bool backoff_after;        /* told too_many_websockets */
	bool ping_due;
	bool close_wanted, close_sent;
	bool gone;                 /* finished */
	int holds;                 /* callers up the stack still using it */
	int peer_close_code;
	struct txf *tx_head, *tx_tail;
	char *rx;
	size_t rx_len, rx_cap, rx_total;
	bool rx_overflow, rx_binary;
};

struct resolve {
	uv_getaddrinfo_t req;
	struct link *link;         /* NULL: nobody waits any more */
};

struct waiter {
	void (*done)(void *ud);
	void *ud;
};

enum ws_state { WS_IDLE = 0, WS_RUNNING, WS_STOPPING, WS_STOPPED };

struct slack_ws {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct slack_api *api;
	struct slack_retry_policy backoff;
	uint32_t *backoff_steps;
	unsigned ping_ms, silence_ms, hello_ms, close_ms, drain_ms, tick_ms;
	slack_ws_envelope_cb on_envelope;
	slack_ws_state_cb on_state;
	bool (*hold)(void *ud, const struct slack_frame *f);
	void *ud;

	enum ws_state state;
	bool fatal;
	struct link *links;
	struct link *pending;      /* the link being opened */
	struct slack_api_call *open_call;
	unsigned attempt;          /* consecutive failures */
	unsigned next_id;
	bool connected_reported;

	uv_timer_t retry_timer, tick;
	uv_idle_t dispatch;
	int open_handles;
	struct ready *ready_head, *ready_tail;
	unsigned acks_queued;      /* acks not yet written, over all links */
	bool dispatching;
	struct waiter waiters[MAX_WAITERS];
	size_t n_waiters;
	bool destroyed;
	struct slack_ws_stats stats;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now_ms(struct slack_ws *ws)
{
	uv_update_time(ws->loop);
	return uv_now(ws->loop);
}

int slack_ws_parse_url(const char *url, bool *tls, char *host, size_t host_n, int *port,
		       char *path, size_t path_n)
{
	const char *p, *h, *he, *rest;
	size_t hl;

	if (!url)
		return BOT_EINVAL;
	if (strncasecmp(url, "wss://", 6) == 0) {
		*tls = true;
		*port = 443;
		p = url + 6;
	} else if (strncasecmp(url, "ws://", 5) == 0) {
		*tls = false;
		*port = 80;
		p = url + 5;
	} else {
		return BOT_EINVAL;
	}
	if (*p == '[') {            /* [v6]:port */
		h = p + 1;
		he = strchr(h, ']');
		if (!he)
			return BOT_EINVAL;
		rest = he + 1;
	} else {
		h = p;
		he = h + strcspn(h, ":/?#");
		rest = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= host_n)
		return BOT_EINVAL;
	for (const char *c = h; c < he; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != ':' && *c != '_')
			return BOT_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*rest == ':') {
		char *end;
		long v = strtol(rest + 1, &end, 10);

		if (end == rest + 1 || v < 1 || v > 65535)
			return BOT_EINVAL;
		*port = (int)v;
		rest = end;
	}
	if (*rest && *rest != '/' && *rest != '?')
		return BOT_EINVAL;
	if (snprintf(path, path_n, "%s%s", *rest == '/' ? "" : "/", rest) >= (int)path_n)
		return BOT_EINVAL;
	if (!*tls && !url_is_loopback_host(host))
		return BOT_EPERM;
	return BOT_EOK;
}

static void report(struct slack_ws *ws, enum slack_ws_state st, int rc, const char *detail)
{
	if (ws->on_state)
		ws->on_state(ws->ud, st, rc, detail);
}

/* ---- handles and freeing --------------------------------------------------- */

static void maybe_free(struct slack_ws *ws)
{
	if (!ws->destroyed || ws->open_handles || ws->dispatching)
		return;
	free(ws->backoff_steps);
	free(ws);
}

static void handle_closed(uv_handle_t *h)
{
	struct slack_ws *ws = h->data;

	ws->open_handles--;
	maybe_free(ws);
}

static void close_handles(struct slack_ws *ws)
{
	uv_handle_t *hs[] = { (uv_handle_t *)&ws->retry_timer, (uv_handle_t *)&ws->tick,
			      (uv_handle_t *)&ws->dispatch };

	for (size_t i = 0; i < BOT_ARRAY_LEN(hs); i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], handle_closed);
}

static void frame_free(struct slack_frame *f)
{
	if (f) {
		slack_frame_finish(f);
		free(f);
	}
}

static void drop_ready(struct slack_ws *ws)
{
	unsigned n = 0;

	while (ws->ready_head) {
		struct ready *r = ws->ready_head;

		ws->ready_head = r->next;
		frame_free(r->f);
		free(r);
		n++;
	}
	ws->ready_tail = NULL;
	if (n)
		log_warn("slack.ws.dispatch", "dropped=%u reason=stopped", n);
}

/* ---- dispatch (envelopes whose ack was written) ---------------------------- */

/* Acks go first: while any ack waits for its WRITEABLE (one lws_write per
 * WRITEABLE means one ack per loop iteration and link), handlers wait -
 * for at most DISPATCH_DEFER_NS, so a flood cannot starve them. Then
 * handlers run in slices of at most DISPATCH_SLICE_NS (at least one
 * envelope per loop iteration): between slices the loop polls again, so
 * envelopes arriving meanwhile are read and acked even when handlers are
 * slow. The idle handle keeps the loop from blocking meanwhile. A slice
 * is what an ack arriving meanwhile may wait: burst_bench's /scale bursts
 * (each handler a store read and a reply) had an ack p99 of 38-59 ms with
 * 2 ms slices, 20-33 ms with 0.5 ms. */
static void on_dispatch(uv_idle_t *h)
{
	struct slack_ws *ws = h->data;
	uint64_t t0 = uv_hrtime();

	if (ws->acks_queued && ws->ready_head && t0 - ws->ready_head->at_ns < DISPATCH_DEFER_NS)
		return;
	ws->dispatching = true;
	while (ws->ready_head && !ws->destroyed && uv_hrtime() - t0 < DISPATCH_SLICE_NS) {
		struct ready *r = ws->ready_head;

		ws->ready_head = r->next;
		if (!ws->ready_head)
			ws->ready_tail = NULL;
		if (ws->on_envelope && ws->state == WS_RUNNING)
			ws->on_envelope(ws->ud, r->f);
		frame_free(r->f);
		free(r);
	}
	ws->dispatching = false;
	if (ws->destroyed) {
		drop_ready(ws);
		maybe_free(ws);
		return;
	}
	if (!ws->ready_head)
		(void)uv_idle_stop(&ws->dispatch);
}

/* Hand an acked envelope on (takes f). */
static void make_ready(struct slack_ws *ws, struct slack_frame *f)
{
	struct ready *r;

	if (!ws || ws->destroyed || ws->state != WS_RUNNING || uv_is_closing((uv_handle_t *)&ws->dispatch)) {
		frame_free(f);
		return;
	}
	r = malloc(sizeof *r);
	if (!r) {
		log_error("slack.ws.dispatch", "error=ENOMEM envelope=%s", LOG_Q(f->envelope_id));
		frame_free(f);
		return;
	}
	r->next = NULL;
	r->f = f;
	r->at_ns = uv_hrtime();
	if (ws->ready_tail)
		ws->ready_tail->next = r;
	else
		ws->ready_head = r;
	ws->ready_tail = r;
	(void)uv_idle_start(&ws->dispatch, on_dispatch);
}

/* ---- links ------------------------------------------------------------------ */

static void link_free(struct link *l)
{
	struct txf *t, *n;

	for (t = l->tx_head; t; t = n) {
		n = t->next;
		if (l->ws)
			l->ws->acks_queued--;
		/* Not acked (the socket went first): still act on it; Slack
		 * may redeliver, and the dedupe catches that. */
		if (t->env)
			make_ready(l->ws, t->env);
		free(t);
	}
	free(l->rx);
	free(l);
}

/* Free a finished link unless someone up the stack still holds it. */
static void link_release(struct link *l)
{
	if (l->gone && !l->holds)
		link_free(l);
}

static void link_unlink(struct link *l)
{
	struct slack_ws *ws = l->ws;

	if (!ws)
		return;
	if (l->prev)
		l->prev->next = l->next;
	else
		ws->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	if (ws->pending == l)
		ws->pending = NULL;
	ws->stats.links--;
}

static void start_open(struct slack_ws *ws);
static void on_tick(uv_timer_t *t);
static void failed_attempt(struct slack_ws *ws, const char *why);
static void maybe_stopped(struct slack_ws *ws);

static struct link *primary(struct slack_ws *ws)
{
	for (struct link *l = ws->links; l; l = l->next)
		if (l->st == L_OPEN && !l->replaced && !l->close_wanted)
			return l;
	return NULL;
}

/* Somebody must be working on having a live link. */
static void ensure_trying(struct slack_ws *ws, const char *why)
{
	if (ws->state != WS_RUNNING || primary(ws) || ws->pending || ws->open_call ||
	    uv_is_active((uv_handle_t *)&ws->retry_timer))
		return;
	failed_attempt(ws, why);
}

/* The link is finished (its wsi is gone or never existed). */
static void link_gone(struct link *l, const char *why)
{
	struct slack_ws *ws = l->ws;
	bool was_pending, was_primary;

	if (l->gone)
		return;
	l->gone = true;
	l->wsi = NULL;
	if (l->dns) {
		l->dns->link = NULL; /* its callback frees it */
		l->dns = NULL;
	}
	if (!ws) {
		link_release(l);
		return;
	}
	was_pending = ws->pending == l;
	was_primary = l->st == L_OPEN && !l->replaced && !l->close_wanted;
	log_emit(was_primary ? BOT_LOG_WARN : BOT_LOG_INFO, "slack.ws.closed",
		 "link=%u state=%s host=%s code=%d expected=%s reason=%s", l->id,
		 state_names[l->st], LOG_Q(l->host), l->peer_close_code,
		 was_primary ? "false" : "true", LOG_Q(why));
	link_unlink(l);
	/* The link is out of the manager; an envelope still queued on it is
	 * handed on by link_free. */
	if (ws->state == WS_RUNNING) {
		if (was_pending || l->backoff_after)
			failed_attempt(ws, why);
		else
			ensure_trying(ws, why);
	}
	link_release(l);
	maybe_stopped(ws);
}

/* Drop the socket now (no close handshake). The link may be gone when this
 * returns. */
static void kill_link(struct link *l, const char *why)
{
	if (!l->wsi) {
		link_gone(l, why);
		return;
	}
	l->holds++;
	lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	l->holds--;
	if (!l->gone) { /* lws reports it later; it is not ours to use any more */
		l->close_wanted = l->close_sent = true;
		if (l->ws)
			l->close_at_ms = now_ms(l->ws) + l->ws->close_ms; /* kill again later */
	}
	link_release(l);
}

/* Polite close from the next WRITEABLE, after the queued acks. */
static void close_link(struct link *l)
{
	if (l->close_wanted || l->gone)
		return;
	if (!l->wsi || l->st < L_WAIT_HELLO) {
		kill_link(l, "closed before it was up");
		return;
	}
	l->close_wanted = true;
	l->close_at_ms = now_ms(l->ws) + l->ws->close_ms;
	lws_callback_on_writable(l->wsi);
}

/* ---- outgoing ---------------------------------------------------------------- */

static int queue_tx(struct link *l, const char *data, size_t len, struct slack_frame *env)
{
	struct txf *t = malloc(sizeof *t + LWS_PRE + len);

	if (!t)
		return BOT_ENOMEM;
	t->next = NULL;
	t->env = env;
	t->len = len;
	memcpy(t->buf + LWS_PRE, data, len);
	if (l->tx_tail)
		l->tx_tail->next = t;
	else
		l->tx_head = t;
	l->tx_tail = t;
	l->ws->acks_queued++;
	lws_callback_on_writable(l->wsi);
	return BOT_EOK;
}

static int on_writeable(struct link *l)
{
	struct slack_ws *ws = l->ws;
	unsigned char ping[LWS_PRE + sizeof PING_PAYLOAD];
	struct txf *t;
	int n;

	if (l->close_sent || !ws)
		return 0;   /* closing: never write again (notes §2.1) */
	t = l->tx_head;
	if (t) {
		l->tx_head = t->next;
		if (!l->tx_head)
			l->tx_tail = NULL;
		ws->acks_queued--;
		n = lws_write(l->wsi, t->buf + LWS_PRE, t->len, LWS_WRITE_TEXT);
		if (n < 0) {
			if (t->env)
				make_ready(ws, t->env);
			free(t);
			return -1;
		}
		ws->stats.acks++;
		if (t->env)
			make_ready(ws, t->env);
		free(t);
		if (l->tx_head || l->ping_due || l->close_wanted)
			lws_callback_on_writable(l->wsi);
		return 0;
	}
	if (l->ping_due) {
		l->ping_due = false;
		l->last_ping_ms = now_ms(ws);
		memcpy(ping + LWS_PRE, PING_PAYLOAD, sizeof PING_PAYLOAD - 1);
		if (lws_write(l->wsi, ping + LWS_PRE, sizeof PING_PAYLOAD - 1, LWS_WRITE_PING) < 0)
			return -1;
		if (l->close_wanted)
			lws_callback_on_writable(l->wsi);
		return 0;
	}
	if (l->close_wanted) {
		l->close_sent = true;
		lws_close_reason(l->wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	return 0;
}

/* ---- incoming ----------------------------------------------------------------- */

/* An envelope_id in a frame we could not use, so it can still be acked. */
static bool salvage_id(const char *text, size_t len, char *id, size_t n)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *s = json_string_value(json_object_get(j, "envelope_id"));
	bool ok = s && *s && strlen(s) < n;

	if (ok)
		snprintf(id, n, "%s", s);
	json_decref(j);
	return ok;
}

static void ack(struct link *l, const char *envelope_id, struct slack_frame *env)
{
	char buf[ACK_MAX];
	size_t n = slack_ack_frame(envelope_id, buf, sizeof buf);

	if (!n || queue_tx(l, buf, n, env)) {
		log_error("slack.ws.ack", "link=%u envelope=%s error=%s", l->id, LOG_Q(envelope_id),
			  n ? "ENOMEM" : "ETOOBIG");
		frame_free(env);
	}
}

static void link_hello(struct link *l, const struct slack_frame *f)
{
	struct slack_ws *ws = l->ws;

	if (l->st != L_WAIT_HELLO) {
		log_info("slack.ws.hello", "link=%u result=ignored reason=\"second hello\"", l->id);
		return;
	}
	l->st = L_OPEN;
	ws->pending = NULL;
	ws->attempt = 0;
	ws->stats.hellos++;
	log_info("slack.ws.connected", "link=%u host=%s path=%s num_connections=%d "
		 "approximate_connection_time_s=%d ms=%llu", l->id, LOG_Q(l->host),
		 LOG_Q(l->shown_path), f->num_connections, f->approximate_connection_time,
		 (unsigned long long)(now_ms(ws) - l->started_ms));
	/* make-before-break: the new link is up, the old ones may go */
	for (struct link *o = ws->links, *next; o; o = next) {
		next = o->next;
		if (o == l || o->close_wanted)
			continue;
		o->replaced = true;
		close_link(o);
	}
	report(ws, SLACK_WS_CONNECTED, BOT_EOK, NULL);
}

static void link_disconnect(struct link *l, const struct slack_frame *f)
{
	struct slack_ws *ws = l->ws;

	switch (f->action) {
	case SLACK_DISC_REFRESH:
		log_info("slack.ws.disconnect", "link=%u reason=%s action=refresh", l->id,
			 LOG_Q(f->reason));
		l->replaced = true;
		l->drain_at_ms = now_ms(ws) + ws->drain_ms;
		if (!ws->pending && !ws->open_call && ws->state == WS_RUNNING) {
			(void)uv_timer_stop(&ws->retry_timer);
			start_open(ws);
		}
		break;
	case SLACK_DISC_STOP:
		log_error("slack.ws.disconnect", "link=%u reason=%s action=stop msg=\"Socket Mode "
			  "is disabled for this Slack app (app settings > Socket Mode); not "
			  "reconnecting\"", l->id, LOG_Q(f->reason));
		ws->fatal = true;
		report(ws, SLACK_WS_FATAL, BOT_ECONFIG,
		       "Slack disabled Socket Mode for this app (disconnect: link_disabled)");
		slack_ws_stop(ws, NULL, NULL);
		break;
	case SLACK_DISC_BACKOFF:
		log_warn("slack.ws.disconnect", "link=%u reason=%s action=backoff num_connections=%d",
			 l->id, LOG_Q(f->reason), f->num_connections);
		l->replaced = true;
		l->backoff_after = true;
		close_link(l);
		break;
	}
}

static void on_text(struct link *l, const char *text, size_t len)
{
	struct slack_ws *ws = l->ws;
	struct slack_frame *f = malloc(sizeof *f);
	struct bot_error err = {0};
	char id[128];
	int rc;

	if (!f) {
		log_error("slack.ws.frame", "link=%u error=ENOMEM bytes=%zu", l->id, len);
		return;
	}
	rc = slack_frame_parse(text, len, f, &err);
	if (rc) {
		bool acked = false;

		ws->stats.rejected++;
		free(f);
		if (salvage_id(text, len, id, sizeof id)) {
			ws->stats.envelopes++;
			ack(l, id, NULL);
			acked = true;
		}
		log_warn("slack.ws.frame", "link=%u result=rejected reason=%s bytes=%zu acked=%s "
			 "detail=%s", l->id, rc == BOT_ETOOBIG ? "too_big" : "malformed", len,
			 acked ? "true" : "false", LOG_Q(err.msg));
		return;
	}
	switch (f->kind) {
	case SLACK_FRAME_HELLO:
		link_hello(l, f);
		frame_free(f);
		break;
	case SLACK_FRAME_DISCONNECT:
		link_disconnect(l, f);
		frame_free(f);
		break;
	case SLACK_FRAME_ENVELOPE:
		ws->stats.envelopes++;
		snprintf(id, sizeof id, "%s", f->envelope_id);
		log_debug("slack.ws.envelope", "link=%u envelope=%s type=%s retry_attempt=%d "
			  "has_event=%s", l->id, LOG_Q(id), LOG_Q(f->type), f->retry_attempt,
			  f->has_event ? "true" : "false");
		if (!f->has_event) {
			frame_free(f);
			f = NULL;
		} else if (ws->hold && ws->hold(ws->ud, f)) {
			f->link_id = l->id;
			f->held = true;
			ws->stats.held++;
			make_ready(ws, f);
			break;
		}
		ack(l, id, f);
		break;
	}
}

static int on_receive(struct link *l, struct lws *wsi, const void *in, size_t len)
{
	struct slack_ws *ws = l->ws;

	l->last_rx_ms = now_ms(ws);
	if (lws_is_first_fragment(wsi)) {
		l->rx_len = l->rx_total = 0;
		l->rx_overflow = false;
		l->rx_binary = lws_frame_is_binary(wsi);
	}
	l->rx_total += len;
	if (!l->rx_overflow && l->rx_len + len > SLACK_FRAME_MAX) {
		l->rx_overflow = true;  /* keep reading, drop the rest */
		free(l->rx);
		l->rx = NULL;
		l->rx_len = l->rx_cap = 0;
	}
	if (!l->rx_overflow && !l->rx_binary) {
		if (l->rx_len + len + 1 > l->rx_cap) {
			size_t cap = l->rx_cap ? l->rx_cap : 4096;
			char *nb;

			while (cap < l->rx_len + len + 1)
				cap *= 2;
			nb = realloc(l->rx, cap);
			if (!nb)
				return -1;
			l->rx = nb;
			l->rx_cap = cap;
		}
		memcpy(l->rx + l->rx_len, in, len);
		l->rx_len += len;
		l->rx[l->rx_len] = '\0';
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (l->rx_overflow || l->rx_binary) {
		ws->stats.rejected++;
		log_warn("slack.ws.frame", "link=%u result=rejected reason=%s bytes=%zu max=%d",
			 l->id, l->rx_overflow ? "too_big" : "binary", l->rx_total, SLACK_FRAME_MAX);
	} else {
		on_text(l, l->rx, l->rx_len);
	}
	l->rx_len = l->rx_total = 0;
	l->rx_overflow = l->rx_binary = false;
	if (l->rx_cap > 64 * 1024) { /* do not keep a big buffer around */
		free(l->rx);
		l->rx = NULL;
		l->rx_cap = 0;
	}
	return 0;
}

/* ---- the lws protocol ----------------------------------------------------------- */

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct link *l = user;
	int rc = 0;

	if (!l)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!l->ws)
			return -1; /* orphaned: drop it */
		l->st = L_WAIT_HELLO;
		l->last_rx_ms = l->last_ping_ms = now_ms(l->ws);
		log_debug("slack.ws.established", "link=%u host=%s", l->id, LOG_Q(l->host));
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		char why[200];
		bool tls;

		snprintf(why, sizeof why, "%.*s", in && len ? (int)len : in ? (int)strlen(in) : 0,
			 in ? (const char *)in : "");
		if (!why[0])
			snprintf(why, sizeof why, "connection failed");
		tls = strstr(why, "SSL") || strstr(why, "ssl") || strstr(why, "certificate") ||
			   strstr(why, "tls");

		if (l->ws)
			log_warn(tls ? "slack.ws.tls" : "slack.ws.connect",
				 "link=%u host=%s port=%d result=error reason=%s", l->id,
				 LOG_Q(l->host), l->port, LOG_Q(why));
		link_gone(l, tls ? "tls error" : "connect error");
		return 0;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!l->ws || l->gone)
			return 0;
		l->holds++;
		rc = on_receive(l, wsi, in, len);
		l->holds--;
		link_release(l);
		return rc;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		if (l->ws) {
			l->last_rx_ms = now_ms(l->ws);
			l->ws->stats.pongs++;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		l->holds++;
		rc = on_writeable(l);
		l->holds--;
		link_release(l);
		return rc;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			l->peer_close_code = ((const unsigned char *)in)[0] << 8 |
					     ((const unsigned char *)in)[1];
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		link_gone(l, l->close_sent ? "closed by us" : l->peer_close_code ? "closed by Slack"
									    : "connection lost");
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ PROTOCOL_NAME, lws_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- opening a link ---------------------------------------------------------------- */

static void connect_link(struct link *l, const char *address)
{
	struct slack_ws *ws = l->ws;
	struct lws_client_connect_info ci;
	struct lws *wsi;

	memset(&ci, 0, sizeof ci);
	ci.context = ws->ctx;
	ci.vhost = ws->vh;
	ci.address = address;
	ci.port = l->port;
	ci.path = l->path;
	ci.host = l->host;          /* Host header, SNI, certificate name */
	ci.origin = l->host;
	ci.ssl_connection = l->tls ? LCCSCF_USE_SSL : 0; /* verification stays on */
	ci.protocol = NULL;         /* Slack expects no Sec-WebSocket-Protocol */
	ci.local_protocol_name = PROTOCOL_NAME;
	ci.alpn = "http/1.1";
	ci.userdata = l;
	ci.pwsi = &l->wsi;
	l->st = L_CONNECTING;
	ws->stats.connects++;
	log_debug("slack.ws.connect", "link=%u host=%s address=%s port=%d tls=%s", l->id,
		  LOG_Q(l->host), LOG_Q(address), l->port, l->tls ? "true" : "false");
	l->holds++;
	wsi = lws_client_connect_via_info(&ci);
	l->holds--;
	if (!wsi && !l->gone) {
		/* failed synchronously without telling us (notes §2.5) */
		l->wsi = NULL;
		link_gone(l, "connect failed");
	}
	link_release(l);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct resolve *r = container_of(req, struct resolve, req);
	struct link *l = r->link;
	struct addrinfo *pick = NULL;
	char addr[INET6_ADDRSTRLEN] = "";

	for (struct addrinfo *a = res; status == 0 && a; a = a->ai_next) {
		if (a->ai_family == AF_INET) {
			pick = a;
			break;      /* prefer IPv4 */
		}
		if (a->ai_family == AF_INET6 && !pick)
			pick = a;
	}
	if (pick && pick->ai_family == AF_INET)
		(void)uv_ip4_name((struct sockaddr_in *)(void *)pick->ai_addr, addr, sizeof addr);
	else if (pick)
		(void)uv_ip6_name((struct sockaddr_in6 *)(void *)pick->ai_addr, addr, sizeof addr);
	uv_freeaddrinfo(res);
	free(r);
	if (!l)
		return; /* the link went meanwhile */
	l->dns = NULL;
	if (!addr[0]) {
		log_warn("slack.ws.dns", "link=%u host=%s result=error reason=%s", l->id,
			 LOG_Q(l->host), LOG_Q(status ? uv_strerror(status) : "no address"));
		link_gone(l, "dns failed");
		return;
	}
	connect_link(l, addr);
}

static void open_link(struct slack_ws *ws, const char *url)
{
	struct link *l = calloc(1, sizeof *l);
	struct resolve *r = NULL;
	struct addrinfo hints;
	int rc;

	if (!l) {
		failed_attempt(ws, "out of memory");
		return;
	}
	rc = slack_ws_parse_url(url, &l->tls, l->host, sizeof l->host, &l->port, l->path,
				sizeof l->path);
	if (rc) {
		log_error("slack.ws.url", "result=refused reason=%s", rc == BOT_EPERM
			  ? "\"ws:// " URL_NO_TLS_RULE "\""
			  : "\"not a ws(s):// URL\"");
		free(l);
		failed_attempt(ws, "unusable url");
		return;
	}
	snprintf(l->shown_path, sizeof l->shown_path, "%.*s", (int)strcspn(l->path, "?#"), l->path);
	l->ws = ws;
	l->id = ++ws->next_id;
	l->st = L_RESOLVING;
	l->started_ms = now_ms(ws);
	l->next = ws->links;
	if (ws->links)
		ws->links->prev = l;
	ws->links = l;
	ws->pending = l;
	ws->stats.links++;
	if (!uv_is_active((uv_handle_t *)&ws->tick))
		(void)uv_timer_start(&ws->tick, on_tick, ws->tick_ms, ws->tick_ms);
	log_info("slack.ws.open", "link=%u host=%s port=%d path=%s tls=%s", l->id, LOG_Q(l->host),
		 l->port, LOG_Q(l->shown_path), l->tls ? "true" : "false");
	r = calloc(1, sizeof *r);
	if (!r) {
		link_gone(l, "out of memory");
		return;
	}
	r->link = l;
	l->dns = r;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = uv_getaddrinfo(ws->loop, &r->req, on_resolved, l->host, NULL, &hints);
	if (rc) {
		l->dns = NULL;
		free(r);
		log_warn("slack.ws.dns", "link=%u host=%s result=error reason=%s", l->id,
			 LOG_Q(l->host), LOG_Q(uv_strerror(rc)));
		link_gone(l, "dns failed");
	}
}

static bool fatal_open_error(const struct slack_api_result *r)
{
	return r->rc == BOT_EAUTH ||
	       (r->error && (strcmp(r->error, "missing_scope") == 0 ||
			     strcmp(r->error, "not_allowed_token_type") == 0));
}

static void on_open_url(void *ud, const struct slack_api_result *r)
{
	struct slack_ws *ws = ud;
	const char *url;
	char detail[256];

	ws->open_call = NULL;
	if (ws->state != WS_RUNNING || r->rc == BOT_ECANCELLED)
		return; /* stopping (the HTTP client's shutdown hook may come first) */
	if (r->rc) {
		if (fatal_open_error(r)) {
			snprintf(detail, sizeof detail, "apps.connections.open: %s (%s)", r->error,
				 slack_api_error_hint(r->error) ? slack_api_error_hint(r->error)
				 : "check the app-level token (xapp-) and its connections:write scope");
			log_error("slack.ws.open", "result=fatal error=%s msg=\"not reconnecting\"",
				  LOG_Q(r->error ? r->error : bot_err_name(r->rc)));
			ws->fatal = true;
			report(ws, SLACK_WS_FATAL, r->rc, detail);
			slack_ws_stop(ws, NULL, NULL);
			return;
		}
		failed_attempt(ws, r->error ? r->error : bot_err_name(r->rc));
		return;
	}
	url = json_string_value(json_object_get(r->body, "url"));
	if (!url) {
		log_warn("slack.ws.open", "result=error reason=\"no url in the answer\"");
		failed_attempt(ws, "no url");
		return;
	}
	open_link(ws, url);
}

static void start_open(struct slack_ws *ws)
{
	int rc;

	if (ws->state != WS_RUNNING || ws->open_call || ws->pending)
		return;
	ws->stats.opens++;
	rc = slack_api_call(ws->api, &(struct slack_api_req){ .method = "apps.connections.open",
			    .token = SLACK_TOKEN_APP }, on_open_url, ws, &ws->open_call);
	if (rc) {
		ws->open_call = NULL;
		log_error("slack.ws.open", "result=error error=%s", bot_err_name(rc));
		failed_attempt(ws, "cannot call apps.connections.open");
	}
}

static void on_retry(uv_timer_t *t)
{
	start_open(t->data);
}

static void failed_attempt(struct slack_ws *ws, const char *why)
{
	uint64_t d;

	if (ws->state != WS_RUNNING)
		return;
	if (!slack_retry_allowed(&ws->backoff, ws->attempt)) {
		log_error("slack.ws.reconnect", "result=gave_up attempts=%u reason=%s", ws->attempt,
			  LOG_Q(why));
		ws->fatal = true;
		report(ws, SLACK_WS_FATAL, BOT_ETRANSPORT, "could not connect to Slack");
		slack_ws_stop(ws, NULL, NULL);
		return;
	}
	d = slack_retry_delay_ms(&ws->backoff, ws->attempt, slack_retry_random());
	ws->attempt++;
	ws->stats.failures++;
	ws->stats.last_backoff_ms = d;
	log_warn("slack.ws.reconnect", "attempt=%u delay_ms=%llu reason=%s", ws->attempt,
		 (unsigned long long)d, LOG_Q(why));
	if (!primary(ws))
		report(ws, SLACK_WS_RECONNECTING, BOT_EOK, why);
	(void)uv_timer_start(&ws->retry_timer, on_retry, d, 0);
}

/* ---- the watchdog tick ---------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	struct slack_ws *ws = t->data;
	uint64_t now = now_ms(ws);
	struct link *l, *next;

	for (l = ws->links; l; l = next) {
		next = l->next;
		if (l->close_wanted) {
			if (now >= l->close_at_ms) {
				log_info("slack.ws.close", "link=%u result=timeout action=drop", l->id);
				kill_link(l, "close handshake timed out");
			}
			continue;
		}
		if (l->st < L_OPEN) {
			if (now - l->started_ms >= ws->hello_ms) {
				log_warn("slack.ws.timeout", "link=%u state=%s ms=%llu", l->id,
					 state_names[l->st], (unsigned long long)(now - l->started_ms));
				kill_link(l, "no hello in time");
				continue;
			}
			if (l->st != L_WAIT_HELLO)
				continue;
		}
		if (now - l->last_rx_ms >= ws->silence_ms) {
			ws->stats.stale++;
			log_warn("slack.ws.stale", "link=%u silent_ms=%llu action=replace", l->id,
				 (unsigned long long)(now - l->last_rx_ms));
			l->replaced = true;
			if (ws->state == WS_RUNNING && !ws->pending && !ws->open_call) {
				(void)uv_timer_stop(&ws->retry_timer);
				start_open(ws);
			}
			kill_link(l, "silent (half-open)");
			continue;
		}
		if (l->replaced && l->st == L_OPEN && l->drain_at_ms && now >= l->drain_at_ms) {
			close_link(l);
			continue;
		}
		if (now - l->last_ping_ms >= ws->ping_ms && !l->ping_due) {
			l->ping_due = true;
			lws_callback_on_writable(l->wsi);
		}
	}
	if (!ws->links)
		(void)uv_timer_stop(&ws->tick);
}

/* ---- stop -------------------------------------------------------------------------- */

static void call_waiters(struct slack_ws *ws)
{
	struct waiter w[MAX_WAITERS];
	size_t n = ws->n_waiters;

	memcpy(w, ws->waiters, n * sizeof w[0]);
	ws->n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		w[i].done(w[i].ud);
}

/* From a plain uv callback: the waiters may do anything (even destroy). */
static void on_stopped(uv_timer_t *t)
{
	struct slack_ws *ws = t->data;

	close_handles(ws);
	report(ws, SLACK_WS_STOPPED, BOT_EOK, NULL);
	call_waiters(ws);
}

static void maybe_stopped(struct slack_ws *ws)
{
	if (ws->state != WS_STOPPING || ws->links || ws->open_call)
		return;
	ws->state = WS_STOPPED;
	(void)uv_timer_stop(&ws->tick);
	drop_ready(ws);
	log_info("slack.ws.stopped", "hellos=%u envelopes=%u acks=%u", ws->stats.hellos,
		 ws->stats.envelopes, ws->stats.acks);
	(void)uv_timer_start(&ws->retry_timer, on_stopped, 0, 0);
}

void slack_ws_stop(struct slack_ws *ws, void (*done)(void *ud), void *ud)
{
	struct link *l, *next;

	if (!ws)
		return;
	if (ws->state == WS_IDLE) {
		ws->state = WS_STOPPED;
		close_handles(ws);
		if (done)
			done(ud);
		return;
	}
	if (ws->state == WS_STOPPED && uv_is_closing((uv_handle_t *)&ws->retry_timer)) {
		if (done)
			done(ud); /* already finished */
		return;
	}
	if (done && ws->n_waiters < MAX_WAITERS)
		ws->waiters[ws->n_waiters++] = (struct waiter){ done, ud };
	else if (done)
		done(ud); /* more waiters than we keep: do not make it wait forever */
	if (ws->state != WS_RUNNING)
		return;
	ws->state = WS_STOPPING;
	(void)uv_timer_stop(&ws->retry_timer);
	if (ws->open_call) {
		slack_api_cancel(ws->open_call);
		ws->open_call = NULL;
	}
	for (l = ws->links; l; l = next) {
		next = l->next;
		close_link(l);
	}
	maybe_stopped(ws);
}

/* ---- lifetime ------------------------------------------------------------------------ */

int slack_ws_start(struct slack_ws *ws)
{
	if (!ws || ws->state != WS_IDLE)
		return BOT_ESTATE;
	ws->state = WS_RUNNING;
	report(ws, SLACK_WS_RECONNECTING, BOT_EOK, "starting");
	start_open(ws);
	return BOT_EOK;
}

void slack_ws_destroy(struct slack_ws *ws)
{
	struct link *l, *next;

	if (!ws || ws->destroyed)
		return;
	ws->destroyed = true;
	ws->on_envelope = NULL;
	ws->on_state = NULL;
	if (ws->open_call) {
		slack_api_cancel(ws->open_call);
		ws->open_call = NULL;
	}
	ws->state = WS_STOPPED;
	for (l = ws->links; l; l = next) {
		next = l->next;
		l->prev = l->next = NULL;
		l->ws = NULL;           /* orphaned: freed when lws reports it */
		if (l->dns) {
			l->dns->link = NULL;
			l->dns = NULL;
		}
		if (l->wsi) {
			l->holds++;
			lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
			l->holds--;
			link_release(l);
		} else {
			l->gone = true;
			link_release(l);
		}
	}
	ws->links = NULL;
	ws->pending = NULL;
	if (!ws->dispatching)
		drop_ready(ws);
	close_handles(ws);
	call_waiters(ws); /* a stop that had not finished: it has now */
	maybe_free(ws);
}

int slack_ws_ack(struct slack_ws *ws, unsigned link_id, const char *envelope_id)
{
	char buf[ACK_MAX];
	size_t n;

	struct link *to = NULL;

	if (!ws)
		return BOT_ENOTFOUND;
	for (struct link *l = ws->links; l; l = l->next)
		if (l->id == link_id && l->st == L_OPEN && l->wsi && !l->close_sent && !l->gone)
			to = l;
	if (!to) {
		to = primary(ws);
		if (!to)
			return BOT_ENOTFOUND;
		log_info("slack.ws.ack", "envelope=%s link=%u via=link%u reason=\"its link closed\"",
			 LOG_Q(envelope_id), link_id, to->id);
	}
	n = slack_ack_frame(envelope_id, buf, sizeof buf);
	if (!n)
		return BOT_EINVAL;
	return queue_tx(to, buf, n, NULL);
}

void slack_ws_get_stats(const struct slack_ws *ws, struct slack_ws_stats *out)
{
	if (ws)
		*out = ws->stats;
	else
		memset(out, 0, sizeof *out);
}

static struct lws_vhost *client_vhost(struct lws_context *ctx, const char *ca_file,
				      struct bot_error *err)
{
	/* lws keeps the name pointer for the context's lifetime: the names
	 * live in this process-wide table (one per distinct CA file). */
	static char *names[MAX_VHOSTS];
	struct lws_context_creation_info vi;
	struct lws_vhost *vh;
	char name[300];
	size_t i;

	/* One client vhost per CA setting per context: never re-created,
	 * so the OS CA store is loaded once (notes §2.6). */
	snprintf(name, sizeof name, "%s%s%s", VHOST_NAME, ca_file ? "+" : "", ca_file ? ca_file : "");
	for (i = 0; i < MAX_VHOSTS && names[i] && strcmp(names[i], name) != 0; i++)
		;
	if (i == MAX_VHOSTS) {
		bot_error_set(err, BOT_EIO, "too many distinct Slack CA files in one process");
		return NULL;
	}
	if (!names[i] && !(names[i] = strdup(name))) {
		bot_error_set(err, BOT_ENOMEM, "out of memory");
		return NULL;
	}
	vh = lws_get_vhost_by_name(ctx, names[i]);
	if (vh)
		return vh;
	memset(&vi, 0, sizeof vi);
	vi.vhost_name = names[i];
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.protocols = protocols;
	vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vi.client_ssl_ca_filepath = ca_file; /* added to the OS store */
	vh = lws_create_vhost(ctx, &vi);
	if (!vh)
		bot_error_set(err, BOT_EIO, "cannot create the Slack websocket client (lws vhost)");
	return vh;
}

int slack_ws_create(const struct slack_ws_opts *o, struct slack_ws **out, struct bot_error *err)
{
	struct slack_ws *ws = NULL;
	const struct slack_retry_policy *bp;
	int rc = BOT_EOK;

	*out = NULL;
	if (!o || !o->ctx || !o->loop || !o->api || !o->on_envelope)
		return bot_error_set(err, BOT_EINVAL, "slack socket mode: context, loop, api and "
				     "on_envelope are required");
	if (o->ca_file && access(o->ca_file, R_OK) != 0)
		return bot_error_set(err, BOT_ECONFIG, "cannot read CA file %s", o->ca_file);
	bp = o->backoff ? o->backoff : &default_backoff;
	if (!bp->delays_ms || !bp->n_delays)
		return bot_error_set(err, BOT_EINVAL, "slack socket mode: empty backoff policy");
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	ws->backoff_steps = malloc(bp->n_delays * sizeof *ws->backoff_steps);
	if (!ws->backoff_steps) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(ws->backoff_steps, bp->delays_ms, bp->n_delays * sizeof *ws->backoff_steps);
	ws->backoff = *bp;
	ws->backoff.delays_ms = ws->backoff_steps;
	ws->loop = o->loop;
	ws->ctx = o->ctx;
	ws->api = o->api;
	ws->on_envelope = o->on_envelope;
	ws->hold = o->hold;
	ws->on_state = o->on_state;
	ws->ud = o->ud;
	ws->ping_ms = o->ping_interval_ms ? o->ping_interval_ms : DEF_PING_MS;
	ws->silence_ms = o->silence_ms ? o->silence_ms : DEF_SILENCE_MS;
	ws->hello_ms = o->hello_timeout_ms ? o->hello_timeout_ms : DEF_HELLO_MS;
	ws->close_ms = o->close_timeout_ms ? o->close_timeout_ms : DEF_CLOSE_MS;
	ws->drain_ms = o->drain_timeout_ms ? o->drain_timeout_ms : DEF_DRAIN_MS;
	ws->tick_ms = ws->ping_ms / 2;
	if (ws->silence_ms / 4 < ws->tick_ms)
		ws->tick_ms = ws->silence_ms / 4;
	if (ws->tick_ms > TICK_MAX_MS)
		ws->tick_ms = TICK_MAX_MS;
	if (ws->tick_ms < 10)
		ws->tick_ms = 10;
	ws->vh = client_vhost(o->ctx, o->ca_file, err);
	if (!ws->vh) {
		rc = BOT_EIO;
		goto out;
	}
	/* cannot fail on unix */
	(void)uv_timer_init(ws->loop, &ws->retry_timer);
	(void)uv_timer_init(ws->loop, &ws->tick);
	(void)uv_idle_init(ws->loop, &ws->dispatch);
	ws->retry_timer.data = ws->tick.data = ws->dispatch.data = ws;
	ws->open_handles = 3;
	*out = ws;
	ws = NULL;
out:
	if (ws) {
		free(ws->backoff_steps);
		free(ws);
	}
	return rc;
}
