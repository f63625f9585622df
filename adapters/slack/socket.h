/* socket.h - the Socket Mode connection manager (prefix slack_ws_).
 *
 * Keeps one live websocket to Slack, on the process's lws context and the
 * bot's uv loop:
 *
 *   apps.connections.open (app token, a fresh URL every time)
 *     -> resolve the host with uv_getaddrinfo (lws 4.1.6 would block)
 *     -> lws connect: numeric address, the real host name for SNI and the
 *        certificate check, no Sec-WebSocket-Protocol
 *     -> `hello` -> connected
 *
 * Envelopes are acknowledged ({"envelope_id":...}) from the receive
 * callback: the ack is queued at once and written on the next WRITEABLE,
 * acks before anything else, one lws_write per WRITEABLE with LWS_PRE
 * headroom. The envelope is handed to on_envelope only after its ack was
 * written, from a plain uv callback (idle), in slices of at most 0.5 ms of
 * handler time per loop iteration, so slow handlers delay later acks by at
 * most one slice, never by the whole backlog. An envelope is acked even
 * when its payload cannot be understood (it is then logged and dropped),
 * so Slack does not retry it.
 *
 * Held envelopes: when the owner's hold() says so for an envelope, it is
 * not acked on arrival but handed to on_envelope at once; the owner acks it
 * with slack_ws_ack() once what it carries is durable (a click's vote
 * committed). Until then Slack treats it as not received: if the process
 * dies first, nothing was promised (a click is not sent again; its button
 * shows a warning).
 *
 * Frames arrive in pieces of at most 4 kB and are reassembled up to
 * SLACK_FRAME_MAX; a larger frame, a binary frame or malformed JSON is
 * dropped with a log line (event slack.ws.frame) and the link stays up.
 *
 * Disconnects (table in envelope.c):
 *   warning, refresh_requested, unknown -> open the replacement now; the old
 *       link keeps being read, and is closed politely once the new one said
 *       hello (make-before-break), or after drain_timeout_ms at the latest;
 *   link_disabled -> stop for good: on_state(SLACK_WS_FATAL, BOT_ECONFIG);
 *   too_many_websockets -> close that link and back off.
 * apps.connections.open answering invalid_auth (or another token error,
 * or missing_scope) is fatal too; anything else that fails - the call,
 * DNS, TCP, TLS, the upgrade, a hello that does not come within
 * hello_timeout_ms, an unexpected close - is retried with the `backoff`
 * policy (exponential with jitter, forever by default) and logged each
 * time. The failure count resets on hello.
 *
 * Half-open links: we send a ping every ping_interval_ms (2 s); a link on
 * which nothing (no frame, no pong) arrived for silence_ms (6.5 s) is dead:
 * a replacement is opened at once and the dead link is dropped, so a
 * half-open link is replaced within about 7 s. (lws 4.1.6 answers the
 * server's pings itself and tells the application nothing, so pongs to our
 * own pings are the liveness signal; any text frame counts too.) Slack
 * pings every ~10 s and answers ours at once, though now and then late
 * (slack-protocol.md 1.5): a false alarm needs three pongs in a row more
 * than 4.5 s late, and costs a make-before-break replacement, no envelope.
 *
 * URLs: wss:// always; ws:// only to a loopback host (127.0.0.0/8, ::1,
 * localhost), which is what the fake Slack of the tests serves - a
 * plain-text link anywhere else is refused, and there is no option to turn
 * certificate checks off. ca_file adds trust anchors to the system store.
 * Logs show the host and the path, never the query: the ticket in it is a
 * credential.
 *
 * Closing is polite (1000, lws_close_reason + LWS_TO_KILL_SYNC from
 * WRITEABLE, after the queued acks) and bounded by close_timeout_ms, after
 * which the socket is dropped (Slack is known not to finish the close
 * handshake).
 */
#ifndef ADAPTERS_SLACK_SOCKET_H
#define ADAPTERS_SLACK_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "adapters/slack/envelope.h"
#include "adapters/slack/retry.h"
#include "adapters/slack/webapi.h"
#include "bot/base/error.h"

struct lws_context;
struct slack_ws;

enum slack_ws_state {
	SLACK_WS_CONNECTED = 0, /* a link said hello */
	SLACK_WS_RECONNECTING,  /* no live link; a new one is being opened or waited for */
	SLACK_WS_FATAL,         /* gave up for good (rc, detail say why); no reconnects */
	SLACK_WS_STOPPED,       /* slack_ws_stop finished */
};

/* f and its strings are valid only during the call. */
typedef void (*slack_ws_envelope_cb)(void *ud, const struct slack_frame *f);
typedef void (*slack_ws_state_cb)(void *ud, enum slack_ws_state st, int rc, const char *detail);

struct slack_ws_opts {
	struct lws_context *ctx;   /* the process's context (bot_lws_context) */
	uv_loop_t *loop;
	struct slack_api *api;     /* borrowed: apps.connections.open with the app token */
	const char *ca_file;       /* extra trust anchors (PEM), or NULL */
	/* NULL: 1, 2, 4, 8, 16, 30 s, 20 % jitter, forever */
	const struct slack_retry_policy *backoff;
	unsigned ping_interval_ms; /* 0: 2000 */
	unsigned silence_ms;       /* 0: 6500 */
	unsigned hello_timeout_ms; /* from connections.open's answer to hello; 0: 15000 */
	unsigned close_timeout_ms; /* 0: 1000 */
	unsigned drain_timeout_ms; /* a replaced link is closed after this at the latest; 0: 15000 */
	slack_ws_envelope_cb on_envelope;
	slack_ws_state_cb on_state; /* may be NULL */
	/* May be NULL (ack every envelope on arrival). Called for each
	 * envelope with an event, before its ack: true = do not ack it; the
	 * owner calls slack_ws_ack(ws, f->link_id, f->envelope_id) later. */
	bool (*hold)(void *ud, const struct slack_frame *f);
	void *ud;
};

struct slack_ws_stats {
	unsigned opens;            /* apps.connections.open calls made */
	unsigned connects;         /* lws connects started */
	unsigned hellos;           /* links that said hello */
	unsigned failures;         /* failed attempts (each followed by a backoff) */
	unsigned stale;            /* links dropped as half-open */
	unsigned envelopes;        /* envelopes received */
	unsigned acks;             /* acks written */
	unsigned held;             /* envelopes handed on unacked (hold) */
	unsigned pongs;            /* answers to our pings */
	unsigned rejected;         /* frames dropped: malformed, binary, too big */
	unsigned links;            /* links alive now (resolving, connecting or open) */
	uint64_t last_backoff_ms;  /* the last backoff delay chosen */
};

/* Creates (or finds) the client vhost "slack-client" in ctx, with ca_file.
 * Returns 0, BOT_EINVAL, BOT_ECONFIG (unreadable ca_file), BOT_EIO (vhost),
 * BOT_ENOMEM. */
int slack_ws_create(const struct slack_ws_opts *o, struct slack_ws **out, struct bot_error *err);
/* Begin connecting. BOT_ESTATE if already started or stopped. */
int slack_ws_start(struct slack_ws *ws);
/* Polite close of every link, then done(ud) (from this call if nothing is
 * open, else from a later callback). May be called again (each done is
 * called once); done may be NULL. */
void slack_ws_stop(struct slack_ws *ws, void (*done)(void *ud), void *ud);
/* Frees the manager. Links still open are dropped (their memory goes when
 * lws reports them closed). Safe after bot_loop_run returned. NULL ok. */
void slack_ws_destroy(struct slack_ws *ws);

/* Ack a held envelope on the link it came on or, when that one is closed
 * or closing, on the newest open link (Slack matches acks by envelope_id;
 * the fake does so on any socket). BOT_EOK (queued), BOT_ENOTFOUND (no
 * open link: the ack is lost), BOT_EINVAL (id too long), BOT_ENOMEM. */
int slack_ws_ack(struct slack_ws *ws, unsigned link_id, const char *envelope_id);

void slack_ws_get_stats(const struct slack_ws *ws, struct slack_ws_stats *out);

/* Split a Socket Mode URL (exposed for tests). Accepts wss://host[:port]/..
 * and, for a loopback host only, ws://. host gets the name (no brackets),
 * path the rest including the query ("/" if none). Returns 0, BOT_EINVAL
 * (malformed, too long) or BOT_EPERM (ws:// to a non-loopback host). */
int slack_ws_parse_url(const char *url, bool *tls, char *host, size_t host_n, int *port,
		       char *path, size_t path_n);

#endif
