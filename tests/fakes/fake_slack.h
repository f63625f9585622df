/* fake_slack.h - a protocol-faithful fake Slack for tests (prefix fake_slack_).
 *
 * One loopback port (127.0.0.1, chosen by the kernel) serves, from a server
 * vhost created in a caller's lws context on the caller's uv loop:
 *
 *   POST /api/apps.connections.open   app token (xapp-) in the Authorization
 *        header -> {"ok":true,"url":"ws://127.0.0.1:<port>/link/?ticket=..&app_id=A0FAKE"}
 *   POST /api/auth.test, chat.postMessage, chat.update, chat.postEphemeral
 *        bot token (xoxb-) in the Authorization header (or a `token` form
 *        field); JSON or form-urlencoded bodies, checked the way Slack does
 *   POST /response/<id>                the response_url of slash commands and
 *        button clicks (5 uses, then 404 "used_url")
 *   GET  /link/?ticket=...             the Socket Mode websocket
 *   /control/...                       only with opts.control_api (the
 *        standalone fake-slack binary; see fake_slack_main.c)
 *
 * Behaviour and decisions (the parts a test may rely on):
 * - Web API answers are HTTP 200 `application/json; charset=utf-8` with
 *   {"ok":false,"error":"..."} on failure, except injected 429/5xx.
 *   Check order: injected faults (fake_slack_ratelimit / _fail_next /
 *   _http_status_next, in the order they were queued) -> token -> content
 *   type/charset -> JSON -> arguments. Unknown methods: unknown_method.
 *   `application/json` without a charset is accepted with the warning
 *   "missing_charset" as Slack does. An app token on a chat.* method or on
 *   auth.test, or a bot token on apps.connections.open, gives
 *   not_allowed_token_type. A token sent as a form field to
 *   apps.connections.open gives not_authed (Slack: "passing it as a POST
 *   parameter will result in an error").
 * - Tickets are single use; an unknown or reused ticket, or any upgrade while
 *   fake_slack_refuse_connections(fs, true), is answered with HTTP 403 and no
 *   upgrade (connections.open itself keeps answering ok; use
 *   fake_slack_fail_next to make connections.open fail).
 * - On upgrade the socket gets `hello`; the 11th simultaneous socket gets
 *   {"type":"disconnect","reason":"too_many_websockets",...} and is closed.
 *   Pings go out every ping_interval_ms with payload "Ping from fake-1".
 * - Envelopes go to ONE socket: the newest open one that has not been sent a
 *   disconnect; if every socket has been told to go, the newest open one.
 *   With no socket open the injectors return BOT_ESTATE (nothing is queued).
 *   With opts.random_delivery, ONE socket chosen at random instead (see
 *   "Several connections of one app" below).
 * - fake_slack_disconnect applies to every open socket. warning,
 *   refresh_requested and unknown reasons: the frame, then a polite close
 *   (1000) after opts.disconnect_grace_ms. link_disabled and
 *   too_many_websockets: the frame, then a polite close at once.
 * - fake_slack_silence(fs, true) turns the sockets open at that moment
 *   half-open: no pings, no frames out, nothing read (so the client's pings
 *   get no pong). Sockets opened later are normal. silence(fs, false) resumes.
 * - Chat messages live in a small model of the workspace: what the bot
 *   posted (and ephemerals, and the user messages behind app_mentions), so
 *   chat.update can answer message_not_found / cant_update_message and a
 *   button payload can carry the original message and its blocks.
 *
 * Several connections of one app (docs/slack-protocol.md §1.3-1.4, §7.5, §8):
 * - Every apps.connections.open hands out a new single-use URL; up to
 *   max_connections (10) sockets are open at once; the next one is upgraded,
 *   gets the too_many_websockets disconnect frame (as Slack's SDK mock sends
 *   it, with num_connections) and a polite close, and never gets an
 *   envelope (fake_slack_connections() counts it until it is closed).
 * - Sockets are numbered 1, 2, ... in the order they were upgraded (the
 *   refused ones too); fake_slack_conns() reads back each one's counts.
 * - opts.random_delivery: each envelope goes to one socket picked uniformly
 *   with a PRNG (splitmix64) seeded by opts.seed (0: from the clock;
 *   fake_slack_seed() says which, so a failing run can be replayed). Picked
 *   among the open sockets not told to go (if all were told: among those);
 *   half-open (silenced) sockets are picked too, as Slack keeps sending to
 *   ghost sockets. Without the option: the newest, as above.
 * - opts.event_retries: an events_api envelope for whose payload no ack
 *   arrived (on any socket, for any of its envelopes) within ack_timeout_ms
 *   of its sending is sent again after retry_delays_ms[attempt] (Slack:
 *   at once, +1 min, +5 min), with a NEW envelope_id, the same payload
 *   (same event_id), retry_attempt + 1 and retry_reason "timeout"; to
 *   another socket than the one that failed when there is one. An ack that
 *   comes after the deadline does not cancel that retry (Slack counts the
 *   timeout as a failed delivery) but stops later ones. A retry due while
 *   no socket is open is lost (recorded with conn 0) and the next one is
 *   still scheduled. slash_commands and interactive envelopes are never
 *   retried: Slack shows the user "operation_timeout" / a warning icon, and
 *   no source shows a retry (§2.5, §8).
 * - Acks are matched by envelope_id whichever socket they arrive on;
 *   fake_slack_ack.conn and fake_slack_delivery.acked_by say which one.
 * - fake_slack_drop_conn / fake_slack_disconnect_conn act on one socket
 *   (a replica dying, or told to go) while the others stay.
 *
 * Lifetime and teardown order (the fake registers nothing with bot_loop):
 *   1. fake_slack_destroy(fs): detaches the fake from its vhost (later
 *      requests get 503 and upgrades are refused), starts a polite close
 *      (1001 "going away") of every socket, uv_close()s its timer, and frees
 *      all records at once. The per-socket buffers live in lws's per-session
 *      data and are freed when lws reports the socket closed, so it is safe
 *      to call destroy from any uv or lws callback.
 *   2. Then the usual loop teardown: lws_context_destroy() once, run the
 *      loop until it returns, lws_context_destroy() again (the vhost and its
 *      listening socket live until the context dies), uv_loop_close().
 *   Call fake_slack_destroy() BEFORE the first lws_context_destroy() (its
 *   timer must be closed while the loop still runs). Anything returned by the
 *   read-back functions is invalid after destroy.
 *
 * Read-back arrays (fake_slack_acks, _messages, _call_log, _conns, and the
 * records of _delivery, _find_delivery, _conn) are owned by the
 * fake and grow as the loop runs: the pointer is valid until control returns
 * to the loop; the strings in each record are valid until destroy.
 *
 * Single-threaded: call everything from the loop's thread.
 */
#ifndef TESTS_FAKES_FAKE_SLACK_H
#define TESTS_FAKES_FAKE_SLACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct lws_context;
struct fake_slack;

/* Ids handed out by the injectors fit in this (with the NUL). */
#define FAKE_SLACK_ID_MAX 64

/* Fixed identities the fake uses in payloads and answers. */
#define FAKE_SLACK_APP_ID   "A0FAKE"
#define FAKE_SLACK_TEAM_ID  "T0FAKE"
#define FAKE_SLACK_BOT_USER "U0FAKEBOT"
#define FAKE_SLACK_BOT_ID   "B0FAKE"

struct fake_slack_channel {
	const char *id;    /* "C0GENERAL" */
	const char *name;  /* "general" (without '#') */
	bool member;       /* the bot is in the channel */
};

struct fake_slack_opts {
	const char *app_token;   /* xapp-...; NULL: "xapp-1-A0FAKE-fake" */
	const char *bot_token;   /* xoxb-...; NULL: "xoxb-0000-fake" */
	/* Known channels; NULL/0: C0GENERAL "general" (member) and
	 * C0RANDOM "random" (not a member). Copied. */
	const struct fake_slack_channel *channels;
	size_t n_channels;
	unsigned ping_interval_ms;     /* 0: 10000 (Slack's ~10 s) */
	unsigned disconnect_grace_ms;  /* 0: 1000 (Slack waits ~10 s) */
	unsigned max_connections;      /* 0: 10 (Slack's limit) */
	int port;                      /* 0: any free port */
	bool control_api;              /* serve /control/... (standalone binary) */
	/* TLS for the websocket: with both set, a second listener on
	 * 127.0.0.1 serves the same protocols over TLS with this certificate
	 * (tests/fakes/tls_cert.h) and apps.connections.open hands out
	 * wss://localhost:<tls port>/link/?ticket=... (the Web API stays on
	 * the plain port). */
	const char *tls_cert, *tls_key;
	/* Several connections (see above). Both off: the behaviour of one
	 * connection, as before. */
	bool random_delivery;          /* spread envelopes over the sockets */
	uint64_t seed;                 /* 0: chosen from the clock */
	bool event_retries;            /* redeliver unacked events_api envelopes */
	unsigned ack_timeout_ms;       /* 0: 3000 (Slack's 3 s) */
	/* Delay before retry k+1 once attempt k timed out; its length is the
	 * number of retries (at most FAKE_SLACK_MAX_RETRIES). NULL/0: Slack's
	 * {0, 60000, 300000}. Copied. */
	const unsigned *retry_delays_ms;
	size_t n_retry_delays;
};

#define FAKE_SLACK_MAX_RETRIES 8

/* --- lifetime ------------------------------------------------------------ */

/* Create the server vhost in ctx (an lws context on `loop`, made with
 * LWS_SERVER_OPTION_EXPLICIT_VHOSTS) and start the ping timer on loop.
 * Returns 0 or a bot_err code (BOT_EIO when the port cannot be bound). */
int fake_slack_create(struct lws_context *ctx, uv_loop_t *loop,
		      const struct fake_slack_opts *o, struct fake_slack **out);
/* See "Lifetime and teardown order" above. Accepts NULL. */
void fake_slack_destroy(struct fake_slack *fs);

int fake_slack_port(const struct fake_slack *fs);
/* The TLS listener's port, or -1 without tls_cert. */
int fake_slack_tls_port(const struct fake_slack *fs);
/* "http://127.0.0.1:<port>/api" (no trailing slash); borrowed. */
const char *fake_slack_api_url(const struct fake_slack *fs);
/* Websockets currently open (including ones being told to go away). */
unsigned fake_slack_connections(const struct fake_slack *fs);
/* Successful apps.connections.open calls so far. */
unsigned fake_slack_opens(const struct fake_slack *fs);
/* Pongs received from clients (answers to our pings). */
unsigned fake_slack_pongs(const struct fake_slack *fs);
/* Text frames from clients that were not an ack (bad JSON, no envelope_id). */
unsigned fake_slack_bad_frames(const struct fake_slack *fs);
/* The PRNG seed in use (opts.seed, or the one chosen from the clock). */
uint64_t fake_slack_seed(const struct fake_slack *fs);
/* Automatic events_api retries so far (lost ones included). */
unsigned fake_slack_redeliveries(const struct fake_slack *fs);
/* Envelopes whose ack deadline or retry is still ahead: 0 means no
 * automatic retry can come any more without a new injection (tests await
 * this instead of sleeping). */
size_t fake_slack_retries_pending(const struct fake_slack *fs);

/* --- injectors (Socket Mode) -------------------------------------------- */

/* Each returns 0 or BOT_ESTATE (no socket open) / BOT_ENOMEM / BOT_EINVAL,
 * and copies the new envelope id into envelope_id_out when it is not NULL
 * (FAKE_SLACK_ID_MAX bytes). */
int fake_slack_send_slash(struct fake_slack *fs, const char *user, const char *channel,
			  const char *command, const char *text, char *envelope_id_out);
/* A block_actions click on a button of message_ts. If the fake knows that
 * message (the bot posted it), the payload carries it and the button's
 * block_id/text come from its blocks. */
int fake_slack_send_button(struct fake_slack *fs, const char *user, const char *channel,
			   const char *message_ts, const char *action_id, const char *value,
			   char *envelope_id_out);
/* An events_api app_mention (event_id fresh, retry_attempt 0). The mention
 * becomes a user message with a fresh ts in the workspace model. */
int fake_slack_send_mention(struct fake_slack *fs, const char *user, const char *channel,
			    const char *text, char *envelope_id_out);
/* Send an earlier envelope again: same payload (same event_id), a NEW
 * envelope_id; events_api envelopes get retry_attempt and
 * retry_reason "timeout" as Slack does. BOT_ENOTFOUND for an unknown id. */
int fake_slack_redeliver(struct fake_slack *fs, const char *envelope_id, int retry_attempt,
			 char *envelope_id_out);
/* Any text frame, as is (malformed or oversized frames). */
int fake_slack_send_raw(struct fake_slack *fs, const char *frame, size_t len);
/* See the header comment for what each reason does. BOT_ESTATE if no socket. */
int fake_slack_disconnect(struct fake_slack *fs, const char *reason);
/* Abrupt TCP close of every socket (no close frame). */
void fake_slack_drop(struct fake_slack *fs);
/* The same for socket `conn` only (a replica dying); the others stay.
 * BOT_ENOTFOUND if that socket is not open. */
int fake_slack_drop_conn(struct fake_slack *fs, unsigned conn);
/* fake_slack_disconnect for socket `conn` only. BOT_ENOTFOUND if that
 * socket is not open, BOT_ESTATE if it was already told to go. */
int fake_slack_disconnect_conn(struct fake_slack *fs, unsigned conn, const char *reason);
void fake_slack_silence(struct fake_slack *fs, bool on);
void fake_slack_refuse_connections(struct fake_slack *fs, bool on);

/* --- injectors (Web API) ------------------------------------------------ */

/* method: "apps.connections.open", "auth.test", "chat.postMessage",
 * "chat.update", "chat.postEphemeral", or "response_url" (POST /response/..).
 * The next `count` calls answer HTTP 429, Retry-After: retry_after_s,
 * {"ok":false,"error":"ratelimited"} (response_url: body "rate_limited"). */
int fake_slack_ratelimit(struct fake_slack *fs, const char *method, unsigned count,
			 unsigned retry_after_s);
/* Every Web API call and response_url from now on is answered ms after it
 * arrived (0: at once), as a slow Slack: the call log and messages keep
 * the arrival time. Faults and checks apply when the answer is made. */
void fake_slack_answer_delay(struct fake_slack *fs, unsigned ms);
/* The next call answers HTTP 200 {"ok":false,"error":<error>}
 * (response_url: HTTP 400 with <error> as the body). */
int fake_slack_fail_next(struct fake_slack *fs, const char *method, const char *error);
/* The next call answers HTTP <status> (e.g. 500, 503) with an HTML body. */
int fake_slack_http_status_next(struct fake_slack *fs, const char *method, int status);

/* --- read-back ------------------------------------------------------------ */

struct fake_slack_ack {
	const char *envelope_id;
	int64_t latency_ns;      /* arrival - when the envelope was written; -1 if unknown id */
	uint64_t at_ns;          /* uv_hrtime() at arrival */
	const char *payload;     /* the ack's "payload" as compact JSON, or NULL */
	unsigned conn;           /* the socket it arrived on */
};
const struct fake_slack_ack *fake_slack_acks(const struct fake_slack *fs, size_t *n);
/* The ack for envelope_id, or NULL. */
const struct fake_slack_ack *fake_slack_find_ack(const struct fake_slack *fs,
						 const char *envelope_id);

/* One socket (see "Several connections of one app"). */
struct fake_slack_conn {
	unsigned id;             /* 1, 2, ...: the order of upgrades */
	bool open;               /* not closed yet (it may be closing) */
	bool rejected;           /* refused with too_many_websockets */
	unsigned delivered;      /* envelopes sent to it (retries included) */
	unsigned acked;          /* acks that arrived on it (any envelope_id) */
	uint64_t opened_ns, closed_ns;   /* uv_hrtime(); closed_ns 0 while open */
};
/* Every socket ever upgraded, conns[i].id == i + 1. */
const struct fake_slack_conn *fake_slack_conns(const struct fake_slack *fs, size_t *n);
/* Socket `conn`, or NULL. */
const struct fake_slack_conn *fake_slack_conn(const struct fake_slack *fs, unsigned conn);

/* One envelope the fake sent (injected, redelivered, or retried), in order. */
struct fake_slack_delivery {
	const char *envelope_id;
	const char *type;        /* "slash_commands" | "interactive" | "events_api" */
	const char *first_id;    /* the envelope_id that first carried this payload */
	int retry_attempt;       /* 0 for a first delivery */
	bool automatic;          /* a retry of opts.event_retries */
	unsigned conn;           /* the socket it went to; 0: a retry lost (none open) */
	unsigned acked_by;       /* the socket of its first ack; 0: not acked */
	uint64_t queued_ns;
};
size_t fake_slack_n_deliveries(const struct fake_slack *fs);
/* Delivery i (< fake_slack_n_deliveries), or NULL. */
const struct fake_slack_delivery *fake_slack_delivery(const struct fake_slack *fs, size_t i);
const struct fake_slack_delivery *fake_slack_find_delivery(const struct fake_slack *fs,
							   const char *envelope_id);

/* Everything the bot successfully posted, updated, sent ephemerally, or sent
 * to a response_url, in arrival order. */
struct fake_slack_message {
	const char *method;      /* "chat.postMessage" | "chat.update" |
				    "chat.postEphemeral" | "response_url" */
	const char *channel;     /* channel id (response_url: the originating channel) */
	const char *ts;          /* posted/updated ts, ephemeral message_ts; may be NULL */
	const char *thread_ts;   /* NULL when not in a thread */
	bool thread_known;       /* thread_ts names a message the fake knows */
	const char *user;        /* postEphemeral: the recipient; else NULL */
	const char *text;        /* NULL when absent */
	const char *envelope_id; /* response_url: the envelope that handed it out */
	const char *body;        /* the raw request body */
	uint64_t at_ns;
};
const struct fake_slack_message *fake_slack_messages(const struct fake_slack *fs, size_t *n);

/* Every HTTP call that reached /api/ or /response/, answered or not. */
struct fake_slack_call {
	const char *method;      /* as in the path ("response_url" for /response/) */
	uint64_t at_ns;          /* uv_hrtime() when the request arrived */
	int http_status;         /* 200, 429, 5xx, 404... */
	const char *error;       /* the `error` answered, NULL when ok */
	const char *channel;     /* the channel argument if it could be read, else NULL */
	unsigned retry_after_s;  /* for 429 */
};
const struct fake_slack_call *fake_slack_call_log(const struct fake_slack *fs, size_t *n);
/* How many calls of method arrived (NULL: all). */
size_t fake_slack_calls(const struct fake_slack *fs, const char *method);

#endif
