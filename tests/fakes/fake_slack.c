/* fake_slack.c - a protocol-faithful fake Slack for tests (see fake_slack.h).
 *
 * Layout: small containers and ids; the workspace model (channels,
 * messages, response_urls, tickets); Block Kit checks; the Web API; the
 * response_url endpoint; the optional control API; the HTTP protocol
 * callback; the Socket Mode websocket (per-socket queue, pings, closes);
 * injectors; read-back; create/destroy.
 *
 * lws notes (docs/event-loop-notes.md): the websocket protocol is named as
 * the vhost's "default" protocol (pvo) because Slack-style clients send no
 * Sec-WebSocket-Protocol; closes are done from SERVER_WRITEABLE with
 * lws_close_reason() + LWS_TO_KILL_SYNC and `return 0` (the polite-close
 * defect of Debian's 4.1.6); our own timers are uv timers, never lws_sul.
 */
#include "tests/fakes/fake_slack.h"

#include <uv.h> /* before libwebsockets.h, for the libuv helpers */
#include <libwebsockets.h>
#include <jansson.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot/base/error.h"

#define PING_PAYLOAD      "Ping from fake-1"
#define RX_MAX            (1024 * 1024)  /* a client frame larger than this is refused (1009) */
#define BODY_MAX          (1024 * 1024)  /* HTTP request bodies */
#define RESPONSE_URL_USES 5
#define MAX_BLOCKS        50
#define UPDATE_TEXT_MAX   4000
#define LINK_PROTOCOL     "fake-slack-link"

/* ---------------------------------------------------------------------------
 * Containers
 */

static int vec_reserve(void **arr, size_t *cap, size_t need, size_t elsz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elsz);
	if (!p)
		return BOT_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* NULL-preserving strdup. */
static char *dup0(const char *s)
{
	return s ? dupn(s, strlen(s)) : NULL;
}

/* Characters (UTF-8 code points), which is what Slack's limits count. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* ---------------------------------------------------------------------------
 * State
 */

struct chan {
	char *id, *name;
	bool member;
};

enum author { AUTHOR_BOT = 0, AUTHOR_USER, AUTHOR_EPHEMERAL };

/* A message in the workspace model. */
struct wmsg {
	char *channel, *ts, *thread_ts, *text;
	json_t *blocks;   /* owned, may be NULL */
	enum author author;
	bool deleted;
};

struct hook {           /* a response_url */
	char *id, *channel, *envelope_id, *message_ts;
	unsigned uses;
};

struct ticket {
	char *ticket;
	bool used;
};

/* An envelope sent; d.envelope_id and d.type are owned, d.first_id borrows
 * the first envelope's id. */
struct envelope {
	struct fake_slack_delivery d;
	json_t *payload;            /* owned */
	uint64_t sent_ns;           /* when written to the socket, 0 before */
	size_t first;               /* index of the envelope that first carried the payload */
	bool chain_acked;           /* on the first one: an ack came for one of the chain */
	uint64_t deadline_ns;       /* event_retries: ack deadline, 0 when none pending */
	uint64_t retry_at_ns;       /* event_retries: retry due, 0 when none pending */
};

/* What deliver() sends. */
struct dspec {
	const char *type;
	json_t *payload;            /* borrowed */
	int retry_attempt;
	size_t first;               /* NO_FIRST: a new payload */
	unsigned exclude;           /* a socket to avoid if another one qualifies, 0: none */
	bool automatic;             /* a retry: recorded (conn 0) even with no socket open */
};

#define NO_FIRST SIZE_MAX

enum fault_kind { FAULT_RATELIMIT = 0, FAULT_ERROR, FAULT_STATUS };

struct fault {
	char *method;
	enum fault_kind kind;
	unsigned count, retry_after;
	char *error;
	int status;
};

struct frame {
	struct frame *next;
	size_t len;
	size_t env;                 /* 1 + index into fs->envs, 0 if not an envelope */
	unsigned char buf[];        /* LWS_PRE + len */
};

/* Per-socket state: lws's per-session data of the link protocol, so lws
 * owns its memory; we own the queue and rx buffer and free them on CLOSED. */
struct conn {
	struct fake_slack *fs;      /* NULL once the fake is destroyed */
	unsigned id;                /* fs->crecs[id - 1]; 0 if it could not be recorded */
	struct conn *prev, *next;   /* fs->conns, oldest first */
	struct lws *wsi;            /* NULL once closed */
	struct frame *q_head, *q_tail;
	uint64_t next_ping_ns, close_at_ns;
	bool ping_due, silenced, told, rejected;
	bool close_after_drain, close_now, closing;
	uint16_t close_code;
	const char *close_reason;   /* static string */
	char *rx;
	size_t rx_len, rx_cap;
	bool rx_overflow;
};

/* Per-HTTP-connection state (per-session data of the http protocol). */
struct http_req {
	char path[512];
	bool is_post, want_body;
	uint64_t at_ns;
	char *body;
	size_t len, cap;
	bool too_big;
	unsigned char *resp;        /* LWS_PRE + resp_len */
	size_t resp_len;
	bool delayed;               /* waiting out fs->answer_delay_ms */
};

/* What each protocol's per-vhost storage holds: the way back to the fake.
 * lws frees it with the vhost; destroy sets fs to NULL. */
struct vh_ref {
	struct fake_slack *fs;
};

#define VEC(type, name) type *name; size_t n_##name, cap_##name

struct fake_slack {
	struct lws_context *ctx;
	uv_loop_t *loop;
	struct lws_vhost *vh;
	struct vh_ref *ref_http, *ref_link;
	struct lws_vhost *vh_tls;     /* with opts.tls_cert */
	struct vh_ref *ref_http_tls, *ref_link_tls;
	int tls_port;
	uv_timer_t *timer;          /* separately allocated: freed in its close cb */
	int port;
	char api_url[64];
	char *app_token, *bot_token;
	unsigned ping_ms, grace_ms, max_conns;
	unsigned answer_delay_ms;   /* fake_slack_answer_delay */
	bool control_api, refuse;
	struct conn *conns_head, *conns_tail;
	unsigned n_conns, opens, pongs, bad_frames;
	uint64_t serial, salt, ts_last_us;
	/* several connections (fake_slack.h) */
	bool random_delivery, event_retries;
	uint64_t seed, rng;
	unsigned ack_timeout_ms, redeliveries;
	unsigned retry_delays_ms[FAKE_SLACK_MAX_RETRIES];
	size_t n_retry_delays;

	VEC(struct chan, chans);
	VEC(struct wmsg, wmsgs);
	VEC(struct hook, hooks);
	VEC(struct ticket, tickets);
	VEC(struct envelope, envs);
	VEC(struct fault, faults);
	VEC(struct fake_slack_ack, acks);
	VEC(struct fake_slack_message, msgs);
	VEC(struct fake_slack_call, calls);
	VEC(struct fake_slack_conn, crecs);
};

#define PUSH(fs, name, elem) \
	(vec_reserve((void **)&(fs)->name, &(fs)->cap_##name, (fs)->n_##name + 1, \
		     sizeof *(fs)->name) ? BOT_ENOMEM \
	 : ((fs)->name[(fs)->n_##name++] = (elem), 0))

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

/* "<epoch>.<6 digits>", strictly increasing across the fake. */
static void next_ts(struct fake_slack *fs, char out[32])
{
	uv_timeval64_t tv;
	uint64_t us = 0;

	if (uv_gettimeofday(&tv) == 0)
		us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	if (us <= fs->ts_last_us)
		us = fs->ts_last_us + 1;
	fs->ts_last_us = us;
	snprintf(out, 32, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
}

/* UUID-shaped and unique within the process. */
static void make_uuid(struct fake_slack *fs, char out[FAKE_SLACK_ID_MAX])
{
	uint64_t n = ++fs->serial;

	snprintf(out, FAKE_SLACK_ID_MAX, "%08" PRIx32 "-%04x-4%03x-8%03x-%012" PRIx64,
		 (uint32_t)(fs->salt >> 32), (unsigned)(fs->salt & 0xffff),
		 (unsigned)((n >> 12) & 0xfff), (unsigned)(n & 0xfff), n);
}

static const struct chan *find_chan(const struct fake_slack *fs, const char *ref)
{
	if (!ref)
		return NULL;
	if (*ref == '#')
		ref++;
	for (size_t i = 0; i < fs->n_chans; i++)
		if (strcmp(fs->chans[i].id, ref) == 0 || strcmp(fs->chans[i].name, ref) == 0)
			return &fs->chans[i];
	return NULL;
}

static struct wmsg *find_wmsg(struct fake_slack *fs, const char *channel, const char *ts)
{
	if (!channel || !ts)
		return NULL;
	for (size_t i = 0; i < fs->n_wmsgs; i++)
		if (strcmp(fs->wmsgs[i].ts, ts) == 0 && strcmp(fs->wmsgs[i].channel, channel) == 0)
			return &fs->wmsgs[i];
	return NULL;
}

static int add_wmsg(struct fake_slack *fs, const char *channel, const char *ts,
		    const char *thread_ts, const char *text, json_t *blocks, enum author author)
{
	struct wmsg m = {
		.channel = dup0(channel), .ts = dup0(ts), .thread_ts = dup0(thread_ts),
		.text = dup0(text), .blocks = blocks ? json_incref(blocks) : NULL, .author = author,
	};

	if (!m.channel || !m.ts || (thread_ts && !m.thread_ts) || (text && !m.text) ||
	    PUSH(fs, wmsgs, m)) {
		free(m.channel);
		free(m.ts);
		free(m.thread_ts);
		free(m.text);
		json_decref(m.blocks);
		return BOT_ENOMEM;
	}
	return 0;
}

static struct envelope *find_env(const struct fake_slack *fs, const char *id)
{
	for (size_t i = 0; i < fs->n_envs; i++)
		if (strcmp(fs->envs[i].d.envelope_id, id) == 0)
			return &fs->envs[i];
	return NULL;
}

static struct fake_slack_conn *crec(struct fake_slack *fs, unsigned id)
{
	return id && id <= fs->n_crecs ? &fs->crecs[id - 1] : NULL;
}

/* splitmix64: any seed, 0 included, gives a full-period sequence. */
static uint64_t rng_next(struct fake_slack *fs)
{
	uint64_t z = (fs->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void record_call(struct fake_slack *fs, const char *method, uint64_t at, int status,
			const char *error, const char *channel, unsigned retry_after)
{
	struct fake_slack_call c = {
		.method = dup0(method), .at_ns = at, .http_status = status,
		.error = dup0(error), .channel = dup0(channel), .retry_after_s = retry_after,
	};

	if (!c.method || PUSH(fs, calls, c)) {
		free((char *)c.method);
		free((char *)c.error);
		free((char *)c.channel);
	}
}

struct msg_rec {
	const char *method, *channel, *ts, *thread_ts, *user, *text, *envelope_id;
	bool thread_known;
};

static void record_message(struct fake_slack *fs, const struct msg_rec *r, const char *body,
			   size_t body_len, uint64_t at)
{
	struct fake_slack_message m = {
		.method = dup0(r->method), .channel = dup0(r->channel), .ts = dup0(r->ts),
		.thread_ts = dup0(r->thread_ts), .thread_known = r->thread_known,
		.user = dup0(r->user), .text = dup0(r->text), .envelope_id = dup0(r->envelope_id),
		.body = dupn(body ? body : "", body ? body_len : 0), .at_ns = at,
	};

	if (!m.method || !m.body || PUSH(fs, msgs, m)) {
		free((char *)m.method);
		free((char *)m.channel);
		free((char *)m.ts);
		free((char *)m.thread_ts);
		free((char *)m.user);
		free((char *)m.text);
		free((char *)m.envelope_id);
		free((char *)m.body);
	}
}

/* ---------------------------------------------------------------------------
 * Block Kit checks (the limits in docs/slack-protocol.md §5). On failure
 * `msg` gets a Slack-style "[ERROR] ... [json-pointer:/blocks/..]" line.
 */

struct bk {
	char *msg;
	size_t n;
};

/* JSON pointers for error messages: base + "/" + key [+ "/" + idx]. */
static void jp_append(char *dst, size_t n, const char *s)
{
	size_t l = strlen(dst), k = strlen(s);

	if (l + k >= n)
		k = n - l - 1;
	memcpy(dst + l, s, k);
	dst[l + k] = '\0';
}

static void jp(char *dst, size_t n, const char *base, const char *key, long idx)
{
	char num[24];

	dst[0] = '\0';
	jp_append(dst, n, base);
	if (key) {
		jp_append(dst, n, "/");
		jp_append(dst, n, key);
	}
	if (idx >= 0) {
		snprintf(num, sizeof num, "/%ld", idx);
		jp_append(dst, n, num);
	}
}

static bool bk_fail(struct bk *b, const char *ptr, const char *what)
{
	snprintf(b->msg, b->n, "[ERROR] %s [json-pointer:%s]", what, ptr);
	return false;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A text composition object. plain_only: plain_text required. */
static bool bk_text(struct bk *b, json_t *t, const char *ptr, bool plain_only, size_t max)
{
	char p[160], lim[64];
	const char *type = jstr(t, "type"), *text = jstr(t, "text");

	if (!json_is_object(t))
		return bk_fail(b, ptr, "must be an object");
	jp(p, sizeof p, ptr, "type", -1);
	if (!type)
		return bk_fail(b, p, "missing required field: type");
	if (strcmp(type, "plain_text") != 0 && (plain_only || strcmp(type, "mrkdwn") != 0))
		return bk_fail(b, p, plain_only ? "must be plain_text" : "must be plain_text or mrkdwn");
	jp(p, sizeof p, ptr, "text", -1);
	if (!text)
		return bk_fail(b, p, "missing required field: text");
	if (utf8_chars(text) < 1)
		return bk_fail(b, p, "must be more than 0 characters");
	if (utf8_chars(text) > max) {
		snprintf(lim, sizeof lim, "must be less than %zu characters", max + 1);
		return bk_fail(b, p, lim);
	}
	return true;
}

static bool bk_opt_len(struct bk *b, json_t *o, const char *key, const char *ptr, size_t max)
{
	char p[160], lim[64];
	json_t *v = json_object_get(o, key);

	if (!v)
		return true;
	jp(p, sizeof p, ptr, key, -1);
	if (!json_is_string(v))
		return bk_fail(b, p, "must be a string");
	if (utf8_chars(json_string_value(v)) < 1)
		return bk_fail(b, p, "must be more than 0 characters");
	if (utf8_chars(json_string_value(v)) > max) {
		snprintf(lim, sizeof lim, "must be less than %zu characters", max + 1);
		return bk_fail(b, p, lim);
	}
	return true;
}

static bool bk_style(struct bk *b, json_t *o, const char *ptr)
{
	char p[160];
	json_t *v = json_object_get(o, "style");

	if (!v)
		return true;
	jp(p, sizeof p, ptr, "style", -1);
	if (!json_is_string(v) || (strcmp(json_string_value(v), "primary") != 0 &&
				   strcmp(json_string_value(v), "danger") != 0))
		return bk_fail(b, p, "must be one of primary, danger");
	return true;
}

static bool bk_confirm(struct bk *b, json_t *c, const char *ptr)
{
	char p[160];

	if (!json_is_object(c))
		return bk_fail(b, ptr, "must be an object");
	jp(p, sizeof p, ptr, "title", -1);
	if (!bk_text(b, json_object_get(c, "title"), p, true, 100))
		return false;
	jp(p, sizeof p, ptr, "text", -1);
	if (!bk_text(b, json_object_get(c, "text"), p, false, 300))
		return false;
	jp(p, sizeof p, ptr, "confirm", -1);
	if (!bk_text(b, json_object_get(c, "confirm"), p, true, 30))
		return false;
	jp(p, sizeof p, ptr, "deny", -1);
	if (!bk_text(b, json_object_get(c, "deny"), p, true, 30))
		return false;
	return bk_style(b, c, ptr);
}

static bool bk_button(struct bk *b, json_t *e, const char *ptr)
{
	char p[160];
	const char *type = jstr(e, "type");

	if (!json_is_object(e))
		return bk_fail(b, ptr, "must be an object");
	jp(p, sizeof p, ptr, "type", -1);
	if (!type || strcmp(type, "button") != 0)
		return bk_fail(b, p, "unsupported element type (the fake knows button)");
	jp(p, sizeof p, ptr, "text", -1);
	if (!bk_text(b, json_object_get(e, "text"), p, true, 75))
		return false;
	if (!bk_opt_len(b, e, "action_id", ptr, 255) || !bk_opt_len(b, e, "value", ptr, 2000) ||
	    !bk_opt_len(b, e, "url", ptr, 3000) ||
	    !bk_opt_len(b, e, "accessibility_label", ptr, 75) || !bk_style(b, e, ptr))
		return false;
	if (json_object_get(e, "confirm")) {
		jp(p, sizeof p, ptr, "confirm", -1);
		if (!bk_confirm(b, json_object_get(e, "confirm"), p))
			return false;
	}
	return true;
}

static bool bk_section(struct bk *b, json_t *blk, const char *ptr)
{
	char p[160];
	json_t *text = json_object_get(blk, "text"), *fields = json_object_get(blk, "fields");
	json_t *acc = json_object_get(blk, "accessory");
	size_t i;
	json_t *f;

	if (!text && !fields)
		return bk_fail(b, ptr, "must provide text or fields");
	jp(p, sizeof p, ptr, "text", -1);
	if (text && !bk_text(b, text, p, false, 3000))
		return false;
	if (fields) {
		jp(p, sizeof p, ptr, "fields", -1);
		if (!json_is_array(fields) || json_array_size(fields) < 1)
			return bk_fail(b, p, "must be a non-empty array");
		if (json_array_size(fields) > 10)
			return bk_fail(b, p, "must be less than 11 items");
		json_array_foreach(fields, i, f) {
			jp(p, sizeof p, ptr, "fields", (long)i);
			if (!bk_text(b, f, p, false, 2000))
				return false;
		}
	}
	if (acc) {
		const char *at = jstr(acc, "type");

		jp(p, sizeof p, ptr, "accessory", -1);
		if (at && strcmp(at, "image") == 0)
			return true;
		return bk_button(b, acc, p);
	}
	return true;
}

static bool bk_context(struct bk *b, json_t *blk, const char *ptr)
{
	char p[160];
	json_t *els = json_object_get(blk, "elements"), *e;
	size_t i;

	jp(p, sizeof p, ptr, "elements", -1);
	if (!json_is_array(els) || json_array_size(els) < 1)
		return bk_fail(b, p, "must be a non-empty array");
	if (json_array_size(els) > 10)
		return bk_fail(b, p, "must be less than 11 items");
	json_array_foreach(els, i, e) {
		const char *t = jstr(e, "type");

		jp(p, sizeof p, ptr, "elements", (long)i);
		if (t && strcmp(t, "image") == 0) {
			if (!jstr(e, "image_url") || !jstr(e, "alt_text"))
				return bk_fail(b, p, "image needs image_url and alt_text");
			continue;
		}
		if (!bk_text(b, e, p, false, 3000))
			return false;
	}
	return true;
}

static bool bk_actions(struct bk *b, json_t *blk, const char *ptr)
{
	char p[160];
	json_t *els = json_object_get(blk, "elements"), *e;
	size_t i, j;

	jp(p, sizeof p, ptr, "elements", -1);
	if (!json_is_array(els) || json_array_size(els) < 1)
		return bk_fail(b, p, "must be a non-empty array");
	if (json_array_size(els) > 25)
		return bk_fail(b, p, "must be less than 26 items");
	json_array_foreach(els, i, e) {
		const char *aid;

		jp(p, sizeof p, ptr, "elements", (long)i);
		if (!bk_button(b, e, p))
			return false;
		aid = jstr(e, "action_id");
		for (j = 0; aid && j < i; j++) {
			const char *other = jstr(json_array_get(els, j), "action_id");

			if (other && strcmp(other, aid) == 0) {
				jp(p, sizeof p, ptr, "elements", (long)i);
				jp_append(p, sizeof p, "/action_id");
				return bk_fail(b, p, "action_id must be unique within the block");
			}
		}
	}
	return true;
}

/* 0, or "invalid_blocks_format" / "invalid_blocks" with b->msg set. */
static const char *check_blocks(json_t *blocks, char *msg, size_t n)
{
	struct bk b = {msg, n};
	char p[64];
	json_t *blk;
	size_t i, j;

	if (!json_is_array(blocks)) {
		bk_fail(&b, "/blocks", "must provide an array");
		return "invalid_blocks_format";
	}
	if (json_array_size(blocks) > MAX_BLOCKS) {
		bk_fail(&b, "/blocks", "must be less than 51 items");
		return "invalid_blocks";
	}
	json_array_foreach(blocks, i, blk) {
		const char *type = jstr(blk, "type"), *bid;
		bool ok;

		jp(p, sizeof p, "/blocks", NULL, (long)i);
		if (!json_is_object(blk)) {
			bk_fail(&b, p, "must be an object");
			return "invalid_blocks";
		}
		if (!type) {
			bk_fail(&b, p, "missing required field: type");
			return "invalid_blocks";
		}
		if (!bk_opt_len(&b, blk, "block_id", p, 255))
			return "invalid_blocks";
		bid = jstr(blk, "block_id");
		for (j = 0; bid && j < i; j++) {
			const char *other = jstr(json_array_get(blocks, j), "block_id");

			if (other && strcmp(other, bid) == 0) {
				jp(p, sizeof p, "/blocks", NULL, (long)i);
				jp_append(p, sizeof p, "/block_id");
				bk_fail(&b, p, "block_id must be unique within the message");
				return "invalid_blocks";
			}
		}
		if (strcmp(type, "header") == 0) {
			char tp[80];

			jp(tp, sizeof tp, p, "text", -1);
			ok = bk_text(&b, json_object_get(blk, "text"), tp, true, 150);
		} else if (strcmp(type, "section") == 0) {
			ok = bk_section(&b, blk, p);
		} else if (strcmp(type, "context") == 0) {
			ok = bk_context(&b, blk, p);
		} else if (strcmp(type, "divider") == 0) {
			ok = true;
		} else if (strcmp(type, "actions") == 0) {
			ok = bk_actions(&b, blk, p);
		} else {
			char tp[80];

			jp(tp, sizeof tp, p, "type", -1);
			ok = bk_fail(&b, tp, "unsupported block type");
		}
		if (!ok)
			return "invalid_blocks";
	}
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Request bodies: JSON or form-urlencoded, into one JSON object of args.
 */

struct parsed {
	json_t *args;           /* object, never NULL after parse_body */
	const char *perr;       /* a body error Slack would answer, or NULL */
	const char *warning;    /* "missing_charset" */
	char *form_token;       /* a `token` form field */
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *url_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static int parse_form(const char *body, size_t len, struct parsed *p)
{
	size_t i = 0;

	while (i < len) {
		size_t end = i, eq;
		char *k, *v;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		k = url_decode(body + i, eq - i);
		v = url_decode(body + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0);
		if (!k || !v) {
			free(k);
			free(v);
			return BOT_ENOMEM;
		}
		if (*k && strcmp(k, "token") == 0) {
			free(p->form_token);
			p->form_token = v;
			v = NULL;
		} else if (*k) {
			json_t *js = json_string(v);

			if (!js)
				p->perr = "invalid_form_data";    /* not UTF-8 */
			else
				json_object_set_new(p->args, k, js);
		}
		free(k);
		free(v);
		i = end + 1;
	}
	return 0;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static int parse_body(struct lws *wsi, const struct http_req *r, struct parsed *p)
{
	char ct[256], *semi, *cs;
	json_t *j;
	json_error_t jerr;

	memset(p, 0, sizeof *p);
	p->args = json_object();
	if (!p->args)
		return BOT_ENOMEM;
	if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0) {
		p->perr = "missing_post_type";
		return 0;
	}
	semi = strchr(ct, ';');
	if (semi)
		*semi++ = '\0';
	trim(ct);
	for (char *c = ct; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	cs = semi ? strcasestr(semi, "charset=") : NULL;
	if (cs) {
		cs += strlen("charset=");
		cs[strcspn(cs, ";")] = '\0';
		trim(cs);
		if (*cs == '"') {
			cs++;
			cs[strcspn(cs, "\"")] = '\0';
		}
		if (strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "utf8") != 0 &&
		    strcasecmp(cs, "iso-8859-1") != 0) {
			p->perr = "invalid_charset";
			return 0;
		}
	}
	if (strcmp(ct, "application/json") == 0) {
		if (!cs)
			p->warning = "missing_charset";
		j = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
		if (!j) {
			p->perr = "invalid_json";
			return 0;
		}
		if (!json_is_object(j)) {
			json_decref(j);
			p->perr = "json_not_object";
			return 0;
		}
		json_decref(p->args);
		p->args = j;
		return 0;
	}
	if (strcmp(ct, "application/x-www-form-urlencoded") == 0)
		return parse_form(r->body ? r->body : "", r->len, p);
	if (strcmp(ct, "multipart/form-data") == 0)
		p->perr = "invalid_form_data";   /* Slack takes it; the fake does not */
	else
		p->perr = "invalid_post_type";
	return 0;
}

static void parsed_free(struct parsed *p)
{
	json_decref(p->args);
	free(p->form_token);
	memset(p, 0, sizeof *p);
}

/* A string argument; JSON null or absent -> NULL. */
static const char *arg_str(const struct parsed *p, const char *key)
{
	return jstr(p->args, key);
}

/* `blocks` as a new reference: an array, or a JSON string holding one (the
 * form-urlencoded style). NULL when absent; *err on a malformed value. */
static json_t *arg_blocks(const struct parsed *p, const char **err, char *msg, size_t n)
{
	json_t *v = json_object_get(p->args, "blocks"), *j;

	*err = NULL;
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v)) {
		j = json_loads(json_string_value(v), 0, NULL);
		if (!j) {
			snprintf(msg, n, "[ERROR] must be valid JSON [json-pointer:/blocks]");
			*err = "invalid_blocks_format";
		}
		return j;
	}
	return json_incref(v);
}

static bool truthy(json_t *v)
{
	if (json_is_true(v))
		return true;
	return json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0;
}

/* ---------------------------------------------------------------------------
 * Web API
 */

struct api_out {
	int status;             /* HTTP status */
	const char *error;      /* ok:false when set */
	char msg[256];          /* response_metadata.messages[0] when set */
	json_t *ok;             /* the ok:true body (without "ok") */
	unsigned retry_after;
	char *raw;              /* a non-JSON body (5xx) */
};

static bool is_method(const char *m, const char *name)
{
	return strcmp(m, name) == 0;
}

static json_t *bot_message_json(const char *text, json_t *blocks, const char *ts,
				const char *thread_ts)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			      "type", "message", "subtype", "bot_message", "text", text ? text : "",
			      "user", FAKE_SLACK_BOT_USER, "bot_id", FAKE_SLACK_BOT_ID,
			      "app_id", FAKE_SLACK_APP_ID, "team", FAKE_SLACK_TEAM_ID);

	if (!m)
		return NULL;
	if (ts)
		json_object_set_new(m, "ts", json_string(ts));
	if (blocks)
		json_object_set(m, "blocks", blocks);
	if (thread_ts)
		json_object_set_new(m, "thread_ts", json_string(thread_ts));
	return m;
}

static void api_connections_open(struct fake_slack *fs, struct api_out *o)
{
	struct ticket t;
	char id[FAKE_SLACK_ID_MAX], url[256];

	make_uuid(fs, id);
	t.ticket = dup0(id);
	t.used = false;
	if (!t.ticket || PUSH(fs, tickets, t)) {
		free(t.ticket);
		o->error = "internal_error";
		return;
	}
	fs->opens++;
	if (fs->vh_tls)   /* the certificate's names: localhost, 127.0.0.1 */
		snprintf(url, sizeof url, "wss://localhost:%d/link/?ticket=%s&app_id=%s",
			 fs->tls_port, id, FAKE_SLACK_APP_ID);
	else
		snprintf(url, sizeof url, "ws://127.0.0.1:%d/link/?ticket=%s&app_id=%s", fs->port,
			 id, FAKE_SLACK_APP_ID);
	o->ok = json_pack("{s:s}", "url", url);
}

static void api_auth_test(struct fake_slack *fs, struct api_out *o)
{
	char url[96];

	snprintf(url, sizeof url, "http://127.0.0.1:%d/", fs->port);
	o->ok = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "url", url, "team", "Fake Team",
			  "user", "fakebot", "team_id", FAKE_SLACK_TEAM_ID, "user_id",
			  FAKE_SLACK_BOT_USER, "bot_id", FAKE_SLACK_BOT_ID,
			  "is_enterprise_install", 0);
}

/* Channel argument: unknown -> channel_not_found; need_member and not a
 * member -> not_in_channel. */
static const struct chan *api_channel(struct fake_slack *fs, const struct parsed *p,
				      bool need_member, struct api_out *o)
{
	const struct chan *c = find_chan(fs, arg_str(p, "channel"));

	if (!c)
		o->error = "channel_not_found";
	else if (need_member && !c->member)
		o->error = "not_in_channel";
	return o->error ? NULL : c;
}

/* text/blocks common to the chat methods. Returns blocks (new ref) or NULL;
 * o->error set on failure. */
static json_t *api_content(const struct parsed *p, size_t text_max, struct api_out *o)
{
	const char *text = arg_str(p, "text"), *err;
	json_t *blocks = arg_blocks(p, &err, o->msg, sizeof o->msg);

	if (err) {
		o->error = err;
		goto fail;
	}
	if (text_max && text && utf8_chars(text) > text_max) {
		o->error = "msg_too_long";
		goto fail;
	}
	if ((!text || !*text) && (!json_is_array(blocks) || json_array_size(blocks) == 0)) {
		o->error = "no_text";
		goto fail;
	}
	if (blocks && (err = check_blocks(blocks, o->msg, sizeof o->msg)) != NULL) {
		o->error = err;
		goto fail;
	}
	return blocks;
fail:
	json_decref(blocks);
	return NULL;
}

static void api_post_message(struct fake_slack *fs, const struct parsed *p, const struct http_req *r,
			     struct api_out *o)
{
	const struct chan *c = api_channel(fs, p, true, o);
	const char *text = arg_str(p, "text"), *thread_ts = arg_str(p, "thread_ts");
	json_t *blocks, *msg;
	char ts[32];
	struct msg_rec rec = {0};

	if (!c)
		return;
	blocks = api_content(p, 0, o);
	if (o->error)
		return;
	next_ts(fs, ts);
	rec = (struct msg_rec){ .method = "chat.postMessage", .channel = c->id, .ts = ts,
		.thread_ts = thread_ts, .text = text,
		.thread_known = find_wmsg(fs, c->id, thread_ts) != NULL };
	if (add_wmsg(fs, c->id, ts, thread_ts, text, blocks, AUTHOR_BOT)) {
		o->error = "internal_error";
		goto out;
	}
	record_message(fs, &rec, r->body, r->len, r->at_ns);
	msg = bot_message_json(text, blocks, ts, thread_ts);
	o->ok = json_pack("{s:s, s:s, s:o*}", "channel", c->id, "ts", ts, "message", msg);
out:
	json_decref(blocks);
}

static void api_update(struct fake_slack *fs, const struct parsed *p, const struct http_req *r,
		       struct api_out *o)
{
	const struct chan *c = api_channel(fs, p, false, o);
	const char *text = arg_str(p, "text"), *ts = arg_str(p, "ts");
	struct wmsg *m;
	json_t *blocks, *msg;
	struct msg_rec rec;

	if (!c)
		return;
	blocks = api_content(p, UPDATE_TEXT_MAX, o);
	if (o->error)
		return;
	m = find_wmsg(fs, c->id, ts);
	if (!m || m->deleted || m->author == AUTHOR_EPHEMERAL) {
		o->error = "message_not_found";
		goto out;
	}
	if (m->author != AUTHOR_BOT) {
		o->error = "cant_update_message";
		goto out;
	}
	if (text) {
		char *t = dup0(text);

		if (!t) {
			o->error = "internal_error";
			goto out;
		}
		free(m->text);
		m->text = t;
	}
	if (blocks || text) {   /* text without blocks removes the old blocks */
		json_decref(m->blocks);
		m->blocks = blocks ? json_incref(blocks) : NULL;
	}
	rec = (struct msg_rec){ .method = "chat.update", .channel = c->id, .ts = m->ts,
		.thread_ts = m->thread_ts, .text = m->text,
		.thread_known = m->thread_ts && find_wmsg(fs, c->id, m->thread_ts) };
	record_message(fs, &rec, r->body, r->len, r->at_ns);
	msg = bot_message_json(m->text, m->blocks, NULL, NULL);
	o->ok = json_pack("{s:s, s:s, s:s, s:o*}", "channel", c->id, "ts", m->ts, "text",
			  m->text ? m->text : "", "message", msg);
out:
	json_decref(blocks);
}

static void api_post_ephemeral(struct fake_slack *fs, const struct parsed *p,
			       const struct http_req *r, struct api_out *o)
{
	const struct chan *c = api_channel(fs, p, true, o);
	const char *text = arg_str(p, "text"), *user = arg_str(p, "user");
	const char *thread_ts = arg_str(p, "thread_ts");
	json_t *blocks;
	char ts[32];
	struct msg_rec rec;

	if (!c)
		return;
	if (!user || !*user) {
		o->error = "invalid_arguments";
		snprintf(o->msg, sizeof o->msg, "[ERROR] missing required field: user");
		return;
	}
	blocks = api_content(p, UPDATE_TEXT_MAX, o);
	if (o->error)
		return;
	next_ts(fs, ts);
	if (add_wmsg(fs, c->id, ts, thread_ts, text, blocks, AUTHOR_EPHEMERAL)) {
		o->error = "internal_error";
		goto out;
	}
	rec = (struct msg_rec){ .method = "chat.postEphemeral", .channel = c->id, .ts = ts,
		.thread_ts = thread_ts, .user = user, .text = text,
		.thread_known = find_wmsg(fs, c->id, thread_ts) != NULL };
	record_message(fs, &rec, r->body, r->len, r->at_ns);
	o->ok = json_pack("{s:s}", "message_ts", ts);
out:
	json_decref(blocks);
}

/* The next queued fault for method, consumed. Returns false if none. */
static bool take_fault(struct fake_slack *fs, const char *method, struct fault *out)
{
	for (size_t i = 0; i < fs->n_faults; i++) {
		struct fault *f = &fs->faults[i];

		if (strcmp(f->method, method) != 0)
			continue;
		*out = *f;
		out->method = NULL;
		out->error = dup0(f->error);
		if (--f->count == 0) {
			free(f->method);
			free(f->error);
			memmove(f, f + 1, (fs->n_faults - i - 1) * sizeof *f);
			fs->n_faults--;
		}
		return true;
	}
	return false;
}

/* Applies an injected fault. Returns true if one was applied. */
static bool apply_fault(struct fake_slack *fs, const char *method, struct api_out *o,
			char *errbuf, size_t n)
{
	struct fault f;

	if (!take_fault(fs, method, &f))
		return false;
	switch (f.kind) {
	case FAULT_RATELIMIT:
		o->status = 429;
		o->retry_after = f.retry_after;
		o->error = "ratelimited";
		break;
	case FAULT_ERROR:
		snprintf(errbuf, n, "%s", f.error ? f.error : "internal_error");
		o->error = errbuf;
		break;
	case FAULT_STATUS:
		o->status = f.status;
		o->raw = dup0("<html><body>fake-slack: injected server error</body></html>");
		break;
	}
	free(f.error);
	return true;
}

/* Token check; sets o->error. bot: true for the xoxb- methods. */
static void check_token(struct fake_slack *fs, struct lws *wsi, const struct parsed *p, bool bot,
			struct api_out *o)
{
	char auth[512];
	const char *tok = NULL;
	int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);

	if (n > 0) {
		if (strncasecmp(auth, "Bearer ", 7) != 0) {
			o->error = "not_authed";
			return;
		}
		tok = auth + 7;
		while (*tok == ' ')
			tok++;
	} else if (bot && p->form_token) {
		tok = p->form_token;
	}
	if (!tok || !*tok) {
		o->error = "not_authed";
		return;
	}
	if (strcmp(tok, bot ? fs->bot_token : fs->app_token) == 0)
		return;
	if (strcmp(tok, bot ? fs->app_token : fs->bot_token) == 0)
		o->error = "not_allowed_token_type";
	else
		o->error = "invalid_auth";
}

/* {"ok":..., then the method's fields, "error", "warning", metadata}. */
static char *api_render(const struct api_out *o, const char *warning)
{
	json_t *j = json_pack("{s:b}", "ok", !o->error), *meta = NULL;
	char *s;

	if (!j)
		return NULL;
	if (o->error)
		json_object_set_new(j, "error", json_string(o->error));
	else if (o->ok)
		json_object_update(j, o->ok);
	if (warning && !o->error) {
		json_object_set_new(j, "warning", json_string(warning));
		meta = json_pack("{s:[s]}", "warnings", warning);
	}
	if (o->msg[0]) {
		if (!meta)
			meta = json_object();
		json_object_set_new(meta, "messages", json_pack("[s]", o->msg));
	}
	if (meta)
		json_object_set_new(j, "response_metadata", meta);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int respond(struct lws *wsi, struct http_req *r, unsigned status, const char *ctype,
		   const char *body, size_t len, unsigned retry_after);

static int handle_api(struct fake_slack *fs, struct lws *wsi, struct http_req *r, const char *method)
{
	struct parsed p;
	struct api_out o;
	char errbuf[128];
	bool bot = true, known = true;
	char *body = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	o.status = 200;
	if (parse_body(wsi, r, &p)) {
		o.error = "internal_error";
		goto answer;
	}
	if (apply_fault(fs, method, &o, errbuf, sizeof errbuf))
		goto answer;
	if (is_method(method, "apps.connections.open"))
		bot = false;
	else if (!is_method(method, "auth.test") && !is_method(method, "chat.postMessage") &&
		 !is_method(method, "chat.update") && !is_method(method, "chat.postEphemeral"))
		known = false;
	if (!known) {
		o.error = "unknown_method";
		goto answer;
	}
	if (!bot && p.form_token) {
		o.error = "not_authed";   /* the app token belongs in the header */
		goto answer;
	}
	check_token(fs, wsi, &p, bot, &o);
	if (o.error)
		goto answer;
	/* apps.connections.open and auth.test take no arguments: their body
	 * (usually empty, often without a Content-Type) is not looked at. */
	if (is_method(method, "apps.connections.open"))
		api_connections_open(fs, &o);
	else if (is_method(method, "auth.test"))
		api_auth_test(fs, &o);
	else if (p.perr)
		o.error = p.perr;
	else if (is_method(method, "chat.postMessage"))
		api_post_message(fs, &p, r, &o);
	else if (is_method(method, "chat.update"))
		api_update(fs, &p, r, &o);
	else
		api_post_ephemeral(fs, &p, r, &o);
answer:
	record_call(fs, method, r->at_ns, o.status, o.raw ? "http_error" : o.error,
		    p.args ? arg_str(&p, "channel") : NULL, o.retry_after);
	if (o.raw) {
		rc = respond(wsi, r, (unsigned)o.status, "text/html; charset=utf-8", o.raw,
			     strlen(o.raw), 0);
	} else {
		body = api_render(&o, p.warning);
		rc = body ? respond(wsi, r, (unsigned)o.status, "application/json; charset=utf-8",
				    body, strlen(body), o.retry_after)
			  : -1;
	}
	free(body);
	free(o.raw);
	json_decref(o.ok);
	parsed_free(&p);
	return rc;
}

/* ---------------------------------------------------------------------------
 * POST /response/<id>
 */

static struct hook *find_hook(struct fake_slack *fs, const char *id)
{
	for (size_t i = 0; i < fs->n_hooks; i++)
		if (strcmp(fs->hooks[i].id, id) == 0)
			return &fs->hooks[i];
	return NULL;
}

static int handle_response_url(struct fake_slack *fs, struct lws *wsi, struct http_req *r,
			       const char *id)
{
	struct hook *h = find_hook(fs, id);
	struct api_out o;
	char errbuf[128], ts[32], msg[256];
	json_t *j = NULL, *blocks = NULL;
	const char *text, *rtype, *err = NULL;
	unsigned status = 200;
	struct wmsg *orig;
	struct msg_rec rec;
	int rc;

	memset(&o, 0, sizeof o);
	o.status = 200;
	if (apply_fault(fs, "response_url", &o, errbuf, sizeof errbuf)) {
		status = (unsigned)o.status;
		if (o.status == 200) {  /* fail_next: Slack answers such errors with 4xx */
			status = 400;
			err = o.error;
		} else if (o.status == 429) {
			err = "rate_limited";
		} else {
			err = "internal_error";
		}
		goto answer;
	}
	if (!h) {
		status = 404;
		err = "expired_url";
		goto answer;
	}
	if (h->uses >= RESPONSE_URL_USES) {
		status = 404;
		err = "used_url";
		goto answer;
	}
	j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
	if (!json_is_object(j)) {
		status = 400;
		err = "invalid_payload";
		goto answer;
	}
	orig = find_wmsg(fs, h->channel, h->message_ts);
	if (truthy(json_object_get(j, "delete_original"))) {
		if (orig)
			orig->deleted = true;
		h->uses++;
		rec = (struct msg_rec){ .method = "response_url", .channel = h->channel,
			.ts = h->message_ts, .envelope_id = h->envelope_id };
		record_message(fs, &rec, r->body, r->len, r->at_ns);
		goto answer;
	}
	text = jstr(j, "text");
	if (json_object_get(j, "blocks")) {
		blocks = json_incref(json_object_get(j, "blocks"));
		err = check_blocks(blocks, msg, sizeof msg);
		if (err) {
			status = 400;
			goto answer;
		}
	}
	if ((!text || !*text) && (!blocks || json_array_size(blocks) == 0)) {
		status = 400;
		err = "no_text";
		goto answer;
	}
	h->uses++;
	rtype = jstr(j, "response_type");
	if (truthy(json_object_get(j, "replace_original")) && orig) {
		char *t = dup0(text);

		free(orig->text);
		orig->text = t;
		json_decref(orig->blocks);
		orig->blocks = blocks ? json_incref(blocks) : NULL;
		snprintf(ts, sizeof ts, "%s", orig->ts);
	} else {
		next_ts(fs, ts);
		if (add_wmsg(fs, h->channel, ts, NULL, text, blocks,
			     rtype && strcmp(rtype, "in_channel") == 0 ? AUTHOR_BOT
								       : AUTHOR_EPHEMERAL)) {
			status = 500;
			err = "internal_error";
			goto answer;
		}
	}
	rec = (struct msg_rec){ .method = "response_url", .channel = h->channel, .ts = ts,
		.text = text, .envelope_id = h->envelope_id };
	record_message(fs, &rec, r->body, r->len, r->at_ns);
answer:
	record_call(fs, "response_url", r->at_ns, (int)status, err, h ? h->channel : NULL,
		    o.retry_after);
	rc = respond(wsi, r, status, "text/plain; charset=utf-8", err ? err : "ok",
		     strlen(err ? err : "ok"), o.retry_after);
	free(o.raw);
	json_decref(blocks);
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Control API (standalone binary only)
 */

static json_t *messages_json(const struct fake_slack *fs)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fs->n_msgs; i++) {
		const struct fake_slack_message *m = &fs->msgs[i];

		json_array_append_new(a, json_pack("{s:s, s:s?, s:s?, s:s?, s:b, s:s?, s:s?, s:s?, s:s}",
						   "method", m->method, "channel", m->channel,
						   "ts", m->ts, "thread_ts", m->thread_ts,
						   "thread_known", m->thread_known, "user", m->user,
						   "text", m->text, "envelope_id", m->envelope_id,
						   "body", m->body));
	}
	return a;
}

static json_t *acks_json(const struct fake_slack *fs)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fs->n_acks; i++) {
		const struct fake_slack_ack *k = &fs->acks[i];

		json_array_append_new(a, json_pack("{s:s, s:f, s:s?, s:i}", "envelope_id",
						   k->envelope_id, "latency_ms",
						   (double)k->latency_ns / 1e6, "payload", k->payload,
						   "conn", (int)k->conn));
	}
	return a;
}

static json_t *calls_json(const struct fake_slack *fs)
{
	json_t *a = json_array();
	uint64_t t0 = fs->n_calls ? fs->calls[0].at_ns : 0;

	for (size_t i = 0; a && i < fs->n_calls; i++) {
		const struct fake_slack_call *c = &fs->calls[i];

		json_array_append_new(a, json_pack("{s:s, s:f, s:i, s:s?, s:s?, s:i}", "method",
						   c->method, "t_ms", (double)(c->at_ns - t0) / 1e6,
						   "status", c->http_status, "error", c->error,
						   "channel", c->channel, "retry_after",
						   (int)c->retry_after_s));
	}
	return a;
}

static json_t *conns_json(const struct fake_slack *fs)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fs->n_crecs; i++) {
		const struct fake_slack_conn *c = &fs->crecs[i];

		json_array_append_new(a, json_pack("{s:i, s:b, s:b, s:i, s:i}", "id", (int)c->id,
						   "open", c->open, "rejected", c->rejected,
						   "delivered", (int)c->delivered,
						   "acked", (int)c->acked));
	}
	return a;
}

static json_t *deliveries_json(const struct fake_slack *fs)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < fs->n_envs; i++) {
		const struct fake_slack_delivery *d = &fs->envs[i].d;

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:b, s:i, s:i}",
						   "envelope_id", d->envelope_id, "type", d->type,
						   "first_id", d->first_id, "retry_attempt",
						   d->retry_attempt, "automatic", d->automatic,
						   "conn", (int)d->conn, "acked_by",
						   (int)d->acked_by));
	}
	return a;
}

static int handle_control(struct fake_slack *fs, struct lws *wsi, struct http_req *r,
			  const char *what)
{
	json_t *in = json_loadb(r->body && r->len ? r->body : "{}", r->len ? r->len : 2, 0, NULL);
	json_t *out = NULL;
	char id[FAKE_SLACK_ID_MAX] = "";
	int rc = -1;
	unsigned status = 200;
	char *s;

	if (!json_is_object(in)) {
		json_decref(in);
		in = json_object();
	}
#define S(k) jstr(in, k)
#define I(k, d) (json_is_integer(json_object_get(in, k)) ? \
		 (int)json_integer_value(json_object_get(in, k)) : (d))
	if (strcmp(what, "slash") == 0)
		rc = fake_slack_send_slash(fs, S("user"), S("channel"), S("command"), S("text"), id);
	else if (strcmp(what, "button") == 0)
		rc = fake_slack_send_button(fs, S("user"), S("channel"), S("message_ts"),
					    S("action_id"), S("value"), id);
	else if (strcmp(what, "mention") == 0)
		rc = fake_slack_send_mention(fs, S("user"), S("channel"), S("text"), id);
	else if (strcmp(what, "redeliver") == 0)
		rc = fake_slack_redeliver(fs, S("envelope_id") ? S("envelope_id") : "",
					  I("retry_attempt", 1), id);
	else if (strcmp(what, "raw") == 0)
		rc = S("frame") ? fake_slack_send_raw(fs, S("frame"), strlen(S("frame"))) : BOT_EINVAL;
	else if (strcmp(what, "disconnect") == 0)
		rc = fake_slack_disconnect(fs, S("reason") ? S("reason") : "refresh_requested");
	else if (strcmp(what, "disconnect_conn") == 0)
		rc = fake_slack_disconnect_conn(fs, (unsigned)I("conn", 0),
						S("reason") ? S("reason") : "refresh_requested");
	else if (strcmp(what, "drop_conn") == 0)
		rc = fake_slack_drop_conn(fs, (unsigned)I("conn", 0));
	else if (strcmp(what, "drop") == 0) {
		fake_slack_drop(fs);
		rc = 0;
	} else if (strcmp(what, "silence") == 0) {
		fake_slack_silence(fs, truthy(json_object_get(in, "on")));
		rc = 0;
	} else if (strcmp(what, "refuse") == 0) {
		fake_slack_refuse_connections(fs, truthy(json_object_get(in, "on")));
		rc = 0;
	}
	else if (strcmp(what, "ratelimit") == 0)
		rc = fake_slack_ratelimit(fs, S("method") ? S("method") : "chat.postMessage",
					  (unsigned)I("count", 1), (unsigned)I("retry_after", 1));
	else if (strcmp(what, "delay") == 0) {
		fake_slack_answer_delay(fs, (unsigned)I("ms", 0));
		rc = 0;
	} else if (strcmp(what, "fail") == 0)
		rc = fake_slack_fail_next(fs, S("method") ? S("method") : "chat.postMessage",
					  S("error") ? S("error") : "internal_error");
	else if (strcmp(what, "status") == 0)
		rc = fake_slack_http_status_next(fs, S("method") ? S("method") : "chat.postMessage",
						 I("status", 500));
	else if (strcmp(what, "messages") == 0)
		out = json_pack("{s:b, s:o}", "ok", 1, "messages", messages_json(fs));
	else if (strcmp(what, "acks") == 0)
		out = json_pack("{s:b, s:o}", "ok", 1, "acks", acks_json(fs));
	else if (strcmp(what, "calls") == 0)
		out = json_pack("{s:b, s:o}", "ok", 1, "calls", calls_json(fs));
	else if (strcmp(what, "conns") == 0)
		out = json_pack("{s:b, s:o}", "ok", 1, "conns", conns_json(fs));
	else if (strcmp(what, "deliveries") == 0)
		out = json_pack("{s:b, s:o}", "ok", 1, "deliveries", deliveries_json(fs));
	else if (strcmp(what, "state") == 0) {
		char seed[24];

		snprintf(seed, sizeof seed, "%" PRIu64, fs->seed);
		out = json_pack("{s:b, s:i, s:i, s:i, s:i, s:i, s:s, s:i, s:i}", "ok", 1, "port",
				fs->port, "connections", (int)fs->n_conns, "opens", (int)fs->opens,
				"pongs", (int)fs->pongs, "bad_frames", (int)fs->bad_frames,
				"seed", seed, "redeliveries", (int)fs->redeliveries,
				"retries_pending", (int)fake_slack_retries_pending(fs));
	} else
		status = 404;
#undef S
#undef I
	if (!out && status == 200)
		out = rc ? json_pack("{s:b, s:s}", "ok", 0, "error",
				     rc == BOT_ESTATE ? "no_open_socket" : bot_err_name(rc))
			 : json_pack("{s:b, s:s*}", "ok", 1, "envelope_id", id[0] ? id : NULL);
	if (!out)
		out = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown_control");
	s = out ? json_dumps(out, JSON_COMPACT) : NULL;
	rc = s ? respond(wsi, r, status, "application/json; charset=utf-8", s, strlen(s), 0) : -1;
	free(s);
	json_decref(out);
	json_decref(in);
	return rc;
}

/* ---------------------------------------------------------------------------
 * HTTP protocol
 */

static struct fake_slack *fs_of(struct lws *wsi)
{
	struct vh_ref *ref = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));

	return ref ? ref->fs : NULL;
}

static void req_reset(struct http_req *r)
{
	free(r->body);
	free(r->resp);
	memset(r, 0, sizeof *r);
}

/* Headers now, body on the next HTTP_WRITEABLE. */
static int respond(struct lws *wsi, struct http_req *r, unsigned status, const char *ctype,
		   const char *body, size_t len, unsigned retry_after)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr - 1;
	char ra[16];

	free(r->resp);
	r->resp = malloc(LWS_PRE + len + 1);
	if (!r->resp)
		return -1;
	memcpy(r->resp + LWS_PRE, body, len);
	r->resp_len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end))
		return -1;
	if (retry_after) {
		int n = snprintf(ra, sizeof ra, "%u", retry_after);

		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
						(const unsigned char *)ra, n, &p, end))
			return -1;
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int handle_request(struct lws *wsi, struct http_req *r)
{
	struct fake_slack *fs = fs_of(wsi);
	const char *path = r->path;
	static const char gone[] = "{\"ok\":false,\"error\":\"service_unavailable\"}";

	if (!fs)   /* destroyed: the vhost lives on until the context dies */
		return respond(wsi, r, 503, "application/json; charset=utf-8", gone,
			       sizeof gone - 1, 0);
	if (r->too_big) {
		static const char big[] = "{\"ok\":false,\"error\":\"request_too_large\"}";

		return respond(wsi, r, 413, "application/json; charset=utf-8", big, sizeof big - 1, 0);
	}
	if (strncmp(path, "/api/", 5) == 0 && path[5])
		return handle_api(fs, wsi, r, path + 5);
	if (strncmp(path, "/response/", 10) == 0 && path[10])
		return handle_response_url(fs, wsi, r, path + 10);
	if (fs->control_api && strncmp(path, "/control/", 9) == 0)
		return handle_control(fs, wsi, r, path + 9);
	return respond(wsi, r, 404, "text/plain; charset=utf-8", "not found\n", 10, 0);
}

/* Ticket check before the websocket upgrade: >0 means we answered. */
static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
	struct fake_slack *fs = fs_of(wsi);
	char uri[128], buf[160];
	const char *ticket;
	struct ticket *t = NULL;

	if (!upgrade || strcmp(upgrade, "websocket") != 0)
		return -1;
	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
	    (strcmp(uri, "/link/") != 0 && strcmp(uri, "/link") != 0))
		goto refuse;
	if (!fs || fs->refuse)
		goto refuse;
	ticket = lws_get_urlarg_by_name(wsi, "ticket=", buf, sizeof buf);
	for (size_t i = 0; ticket && i < fs->n_tickets; i++)
		if (strcmp(fs->tickets[i].ticket, ticket) == 0)
			t = &fs->tickets[i];
	if (!t || t->used)
		goto refuse;
	t->used = true;
	return 0;
refuse:
	if (lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL))
		return -1;
	return 1;
}

/* A Web API call or a response_url waits answer_delay_ms before it is
 * handled (its arrival time is already recorded): a slow Slack. The wsi's
 * own timer is used, so a client that hangs up meanwhile cancels it. */
static int handle_or_delay(struct lws *wsi, struct http_req *r)
{
	struct fake_slack *fs = fs_of(wsi);

	if (fs && fs->answer_delay_ms && !r->delayed &&
	    (strncmp(r->path, "/api/", 5) == 0 || strncmp(r->path, "/response/", 10) == 0)) {
		r->delayed = true;
		lws_set_timer_usecs(wsi, (lws_usec_t)fs->answer_delay_ms * 1000);
		return 0;
	}
	return handle_request(wsi, r);
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct http_req *r = user;
	char cl[32];

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		req_reset(r);
		r->at_ns = now_ns();
		snprintf(r->path, sizeof r->path, "%.*s", (int)len, (const char *)in);
		r->is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		if (r->is_post && lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
		    strtoul(cl, NULL, 10) > 0) {
			r->want_body = true;
			return 0;
		}
		return handle_or_delay(wsi, r);
	case LWS_CALLBACK_HTTP_BODY:
		if (!r->want_body)
			return 0;
		if (r->len + len > BODY_MAX) {
			r->too_big = true;
			return 0;
		}
		if (r->len + len + 1 > r->cap) {
			size_t ncap = (r->len + len + 1) * 2;
			char *nb = realloc(r->body, ncap);

			if (!nb)
				return -1;
			r->body = nb;
			r->cap = ncap;
		}
		memcpy(r->body + r->len, in, len);
		r->len += len;
		r->body[r->len] = '\0';
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!r->want_body)
			return 0;
		r->want_body = false;
		return handle_or_delay(wsi, r);
	case LWS_CALLBACK_TIMER:
		if (!r || !r->delayed || r->resp)
			return 0;
		return handle_request(wsi, r);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		int n;

		if (!r->resp)
			return 0;
		n = lws_write(wsi, r->resp + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
		req_reset(r);
		if (n < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi, in);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (r)
			req_reset(r);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---------------------------------------------------------------------------
 * Websocket (Socket Mode link)
 */

static void reschedule(struct fake_slack *fs);

static int queue_frame(struct conn *c, const char *data, size_t len, size_t env)
{
	struct frame *f = malloc(sizeof *f + LWS_PRE + len);

	if (!f)
		return BOT_ENOMEM;
	f->next = NULL;
	f->len = len;
	f->env = env;
	memcpy(f->buf + LWS_PRE, data, len);
	if (c->q_tail)
		c->q_tail->next = f;
	else
		c->q_head = f;
	c->q_tail = f;
	lws_callback_on_writable(c->wsi);
	return 0;
}

static int queue_json(struct conn *c, json_t *j, size_t env)
{
	char *s = json_dumps(j, JSON_COMPACT);
	int rc;

	if (!s)
		return BOT_ENOMEM;
	rc = queue_frame(c, s, strlen(s), env);
	free(s);
	return rc;
}

static void conn_detach(struct conn *c)
{
	struct fake_slack *fs = c->fs;

	if (!fs)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		fs->conns_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		fs->conns_tail = c->prev;
	c->prev = c->next = NULL;
	c->fs = NULL;
	fs->n_conns--;
	if (crec(fs, c->id)) {
		crec(fs, c->id)->open = false;
		crec(fs, c->id)->closed_ns = now_ns();
	}
}

/* LWS_CALLBACK_CLOSED: lws frees the per-session memory itself afterwards. */
static void conn_closed(struct conn *c)
{
	struct frame *f, *n;

	conn_detach(c);
	for (f = c->q_head; f; f = n) {
		n = f->next;
		free(f);
	}
	c->q_head = c->q_tail = NULL;
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	c->wsi = NULL;
}

/* The polite-close workaround: never `return -1` for a close. */
static void conn_close_now(struct conn *c)
{
	const char *why = c->close_reason ? c->close_reason : "bye";

	if (c->silenced)
		lws_rx_flow_control(c->wsi, 1);   /* so the close ack can be read */
	c->closing = true;
	lws_close_reason(c->wsi, c->close_code ? c->close_code : LWS_CLOSE_STATUS_NORMAL,
			 (unsigned char *)(uintptr_t)why, strlen(why));
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static int conn_writable(struct conn *c)
{
	struct frame *f;
	unsigned char ping[LWS_PRE + sizeof PING_PAYLOAD];

	if (c->closing || !c->wsi)
		return 0;
	if (c->close_now) {
		conn_close_now(c);
		return 0;
	}
	if (c->silenced)
		return 0;
	if (c->ping_due) {
		c->ping_due = false;
		memcpy(ping + LWS_PRE, PING_PAYLOAD, sizeof PING_PAYLOAD - 1);
		if (lws_write(c->wsi, ping + LWS_PRE, sizeof PING_PAYLOAD - 1, LWS_WRITE_PING) < 0)
			return -1;
		if (c->q_head || c->close_after_drain)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	f = c->q_head;
	if (f) {
		c->q_head = f->next;
		if (!c->q_head)
			c->q_tail = NULL;
		if (f->env && c->fs && f->env <= c->fs->n_envs && !c->fs->envs[f->env - 1].sent_ns)
			c->fs->envs[f->env - 1].sent_ns = now_ns();
		if (lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len) {
			free(f);
			return -1;
		}
		free(f);
		if (c->q_head || c->close_after_drain)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->close_after_drain)
		conn_close_now(c);
	return 0;
}

static void record_ack(struct fake_slack *fs, const char *id, json_t *payload, unsigned conn)
{
	struct envelope *e = find_env(fs, id);
	uint64_t at = now_ns();
	struct fake_slack_ack a = {
		.envelope_id = dup0(id), .at_ns = at, .latency_ns = -1, .conn = conn,
		.payload = payload ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) : NULL,
	};

	if (crec(fs, conn))
		crec(fs, conn)->acked++;
	if (e) {
		a.latency_ns = (int64_t)(at - (e->sent_ns ? e->sent_ns : e->d.queued_ns));
		if (!e->d.acked_by)
			e->d.acked_by = conn;
		fs->envs[e->first].chain_acked = true;
	}
	if (!a.envelope_id || PUSH(fs, acks, a)) {
		free((char *)a.envelope_id);
		free((char *)a.payload);
	}
}

static void conn_message(struct conn *c, bool binary)
{
	struct fake_slack *fs = c->fs;
	json_t *j;
	const char *id;

	if (!fs)
		return;
	j = binary ? NULL : json_loadb(c->rx, c->rx_len, 0, NULL);
	id = jstr(j, "envelope_id");
	if (id && *id)
		record_ack(fs, id, json_object_get(j, "payload"), c->id);
	else
		fs->bad_frames++;
	json_decref(j);
}

static int conn_rx(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->closing)
		return 0;
	if (!c->rx_overflow && c->rx_len + len > RX_MAX)
		c->rx_overflow = true;
	if (!c->rx_overflow) {
		if (c->rx_len + len > c->rx_cap) {
			size_t ncap = (c->rx_len + len) * 2;
			char *nb = realloc(c->rx, ncap);

			if (!nb)
				return -1;
			c->rx = nb;
			c->rx_cap = ncap;
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (c->rx_overflow) {
		if (c->fs)
			c->fs->bad_frames++;
		c->close_now = true;
		c->close_code = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
		c->close_reason = "message too big";
		lws_callback_on_writable(wsi);
	} else {
		conn_message(c, lws_frame_is_binary(wsi));
	}
	c->rx_len = 0;
	c->rx_overflow = false;
	return 0;
}

static void conn_established(struct conn *c, struct lws *wsi)
{
	struct fake_slack *fs = fs_of(wsi);
	json_t *j;

	memset(c, 0, sizeof *c);
	c->wsi = wsi;
	if (!fs) {
		c->close_now = true;
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		c->close_reason = "going away";
		lws_callback_on_writable(wsi);
		return;
	}
	c->fs = fs;
	c->prev = fs->conns_tail;
	if (fs->conns_tail)
		fs->conns_tail->next = c;
	else
		fs->conns_head = c;
	fs->conns_tail = c;
	fs->n_conns++;
	{
		struct fake_slack_conn r = { .id = (unsigned)fs->n_crecs + 1, .open = true,
					     .opened_ns = now_ns() };

		r.rejected = fs->n_conns > fs->max_conns;
		if (!PUSH(fs, crecs, r))
			c->id = r.id;
	}
	if (!c->id) {
		j = NULL;   /* cannot keep its record: close it */
	} else if (fs->n_conns > fs->max_conns) {
		c->rejected = c->told = c->close_after_drain = true;
		j = json_pack("{s:s, s:s, s:i, s:{s:s}, s:{s:s}}", "type", "disconnect", "reason",
			      "too_many_websockets", "num_connections", (int)fs->n_conns - 1,
			      "debug_info", "host", "fake-1", "connection_info", "app_id",
			      FAKE_SLACK_APP_ID);
	} else {
		j = json_pack("{s:s, s:i, s:{s:s, s:i}, s:{s:s}}", "type", "hello", "num_connections",
			      (int)fs->n_conns, "debug_info", "host", "fake-1",
			      "approximate_connection_time", 18060, "connection_info", "app_id",
			      FAKE_SLACK_APP_ID);
	}
	if (!j || queue_json(c, j, 0)) {
		c->close_now = true;
		c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		lws_callback_on_writable(wsi);
	}
	json_decref(j);
	c->next_ping_ns = now_ns() + (uint64_t)fs->ping_ms * 1000000u;
	reschedule(fs);
}

static int link_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* 4.1.6 asks the protocol the new connection is bound to: the
		 * default one, i.e. this one. */
		return confirm_upgrade(wsi, in);
	case LWS_CALLBACK_ESTABLISHED:
		conn_established(c, wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return conn_writable(c);
	case LWS_CALLBACK_RECEIVE:
		return conn_rx(c, wsi, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c->fs)
			c->fs->pongs++;
		return 0;
	case LWS_CALLBACK_CLOSED:
		conn_closed(c);
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "http", http_cb, sizeof(struct http_req), 0, 0, NULL, 0 },
	{ LINK_PROTOCOL, link_cb, sizeof(struct conn), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The link protocol is the default one: the bot's client sends no
 * Sec-WebSocket-Protocol (event-loop-notes §6). */
static const struct lws_protocol_vhost_options pvo_default = { NULL, NULL, "default", "1" };
static const struct lws_protocol_vhost_options pvo_link = { NULL, &pvo_default, LINK_PROTOCOL, "" };

/* ---------------------------------------------------------------------------
 * Timer: pings, grace closes and events_api retries
 */

static void run_retries(struct fake_slack *fs, uint64_t now);

static void timer_cb(uv_timer_t *t)
{
	struct fake_slack *fs = t->data;
	uint64_t now = now_ns();

	if (!fs)
		return;
	if (fs->event_retries)
		run_retries(fs, now);
	for (struct conn *c = fs->conns_head; c; c = c->next) {
		if (c->closing)
			continue;
		if (fs->ping_ms && !c->silenced && now >= c->next_ping_ns) {
			c->ping_due = true;
			c->next_ping_ns = now + (uint64_t)fs->ping_ms * 1000000u;
			lws_callback_on_writable(c->wsi);
		}
		if (c->close_at_ns && now >= c->close_at_ns) {
			c->close_at_ns = 0;
			c->close_now = true;
			lws_callback_on_writable(c->wsi);
		}
	}
	reschedule(fs);
}

static void reschedule(struct fake_slack *fs)
{
	uint64_t next = UINT64_MAX, now = now_ns();

	for (struct conn *c = fs->conns_head; c; c = c->next) {
		if (c->closing)
			continue;
		if (fs->ping_ms && !c->silenced && c->next_ping_ns < next)
			next = c->next_ping_ns;
		if (c->close_at_ns && c->close_at_ns < next)
			next = c->close_at_ns;
	}
	for (size_t i = 0; fs->event_retries && i < fs->n_envs; i++) {
		const struct envelope *e = &fs->envs[i];

		if (e->deadline_ns && e->deadline_ns < next)
			next = e->deadline_ns;
		if (e->retry_at_ns && e->retry_at_ns < next)
			next = e->retry_at_ns;
	}
	if (next == UINT64_MAX) {
		uv_timer_stop(fs->timer);
		return;
	}
	uv_timer_start(fs->timer, timer_cb, next > now ? (next - now + 999999u) / 1000000u : 0, 0);
}

/* ---------------------------------------------------------------------------
 * Injectors
 */

static bool candidate(const struct conn *c, bool told_ok, unsigned exclude)
{
	return !c->closing && !c->close_now && !c->rejected && (told_ok || !c->told) &&
	       (!exclude || c->id != exclude);
}

/* Where Slack would send an envelope now (see the header): preferably not
 * to `exclude` (0: none), preferably to a socket not told to go; the newest
 * such socket, or with random_delivery one of them at random. */
static struct conn *pick_conn(struct fake_slack *fs, unsigned exclude)
{
	static const struct { bool told_ok, excl; } pass[] = {
		{ false, true }, { true, true }, { false, false }, { true, false },
	};
	struct conn *c;

	for (size_t p = 0; p < BOT_ARRAY_LEN(pass); p++) {
		unsigned ex = pass[p].excl ? exclude : 0, n = 0, k;

		for (c = fs->conns_tail; c; c = c->prev)
			if (candidate(c, pass[p].told_ok, ex))
				n++;
		if (!n)
			continue;
		k = fs->random_delivery ? (unsigned)(rng_next(fs) % n) : 0;
		for (c = fs->conns_tail; c; c = c->prev)
			if (candidate(c, pass[p].told_ok, ex) && k-- == 0)
				return c;
	}
	return NULL;
}

/* Is there a socket to deliver to? (Draws nothing from the PRNG.) */
static bool can_deliver(const struct fake_slack *fs)
{
	for (const struct conn *c = fs->conns_tail; c; c = c->prev)
		if (candidate(c, true, 0))
			return true;
	return false;
}

static bool retried(const struct fake_slack *fs, const char *type, int attempt)
{
	return fs->event_retries && strcmp(type, "events_api") == 0 && attempt >= 0 &&
	       (size_t)attempt < fs->n_retry_delays;
}

static void envelope_free(struct envelope *e)
{
	free((char *)e->d.envelope_id);
	free((char *)e->d.type);
	json_decref(e->payload);
}

static int deliver(struct fake_slack *fs, const struct dspec *s, char *id_out)
{
	struct conn *c = pick_conn(fs, s->exclude);
	struct envelope e = {0}, *pe;
	char id[FAKE_SLACK_ID_MAX];
	json_t *env;
	int rc = 0;

	if (!c && !s->automatic)
		return BOT_ESTATE;
	make_uuid(fs, id);
	env = json_pack("{s:s, s:s, s:b, s:O}", "envelope_id", id, "type", s->type,
			"accepts_response_payload", strcmp(s->type, "events_api") != 0,
			"payload", s->payload);
	if (!env)
		return BOT_ENOMEM;
	if (strcmp(s->type, "events_api") == 0) {
		json_object_set_new(env, "retry_attempt", json_integer(s->retry_attempt));
		json_object_set_new(env, "retry_reason",
				    json_string(s->retry_attempt ? "timeout" : ""));
	}
	e.d.envelope_id = dup0(id);
	e.d.type = dup0(s->type);
	e.d.retry_attempt = s->retry_attempt;
	e.d.automatic = s->automatic;
	e.d.conn = c ? c->id : 0;
	e.d.queued_ns = now_ns();
	e.payload = json_incref(s->payload);
	e.first = s->first == NO_FIRST ? fs->n_envs : s->first;
	if (retried(fs, s->type, s->retry_attempt))   /* a lost one fails at once */
		e.deadline_ns = c ? e.d.queued_ns + (uint64_t)fs->ack_timeout_ms * 1000000u
				  : e.d.queued_ns;
	if (!e.d.envelope_id || !e.d.type || PUSH(fs, envs, e)) {
		envelope_free(&e);
		json_decref(env);
		return BOT_ENOMEM;
	}
	pe = &fs->envs[fs->n_envs - 1];
	pe->d.first_id = fs->envs[pe->first].d.envelope_id;
	if (c) {
		rc = queue_json(c, env, fs->n_envs);
		if (!rc && crec(fs, c->id))
			crec(fs, c->id)->delivered++;
	}
	json_decref(env);
	if (pe->deadline_ns)
		reschedule(fs);
	if (!rc && id_out)
		snprintf(id_out, FAKE_SLACK_ID_MAX, "%s", id);
	return rc;
}

/* The retry of envelope i (its attempt timed out and its delay passed). */
static void retry_env(struct fake_slack *fs, size_t i)
{
	struct envelope *e = &fs->envs[i];
	json_t *payload = json_incref(e->payload);
	char *type = dup0(e->d.type);
	struct dspec s = { .type = type, .payload = payload,
			   .retry_attempt = e->d.retry_attempt + 1, .first = e->first,
			   .exclude = e->d.conn, .automatic = true };

	/* deliver() may grow fs->envs: e is not used after this point. */
	fs->redeliveries++;
	if (type)
		(void)deliver(fs, &s, NULL);   /* ENOMEM: the retry is lost, as with no socket */
	free(type);
	json_decref(payload);
}

static void run_retries(struct fake_slack *fs, uint64_t now)
{
	size_t n = fs->n_envs;   /* retries sent now are not due yet */

	for (size_t i = 0; i < n; i++) {
		struct envelope *e = &fs->envs[i];

		if (e->deadline_ns && now >= e->deadline_ns) {
			uint64_t at = e->deadline_ns;

			e->deadline_ns = 0;
			if (!fs->envs[e->first].chain_acked)
				e->retry_at_ns = at + (uint64_t)fs->retry_delays_ms[e->d.retry_attempt] *
							      1000000u;
		}
		if (e->retry_at_ns && now >= e->retry_at_ns) {
			e->retry_at_ns = 0;
			retry_env(fs, i);
		}
	}
}

static const char *chan_name(const struct fake_slack *fs, const char *id)
{
	const struct chan *c = find_chan(fs, id);

	return c ? c->name : "unknown";
}

/* A response_url for an event; its URL into url (256 bytes). */
static int new_hook(struct fake_slack *fs, const char *channel, const char *message_ts,
		    char url[256])
{
	struct hook h = {0};
	char id[FAKE_SLACK_ID_MAX], hid[96];

	make_uuid(fs, id);
	snprintf(hid, sizeof hid, "T0FAKE/%" PRIu64 "/%s", fs->serial, id);
	h.id = dup0(hid);
	h.channel = dup0(channel);
	h.message_ts = dup0(message_ts);
	if (!h.id || !h.channel || (message_ts && !h.message_ts) || PUSH(fs, hooks, h)) {
		free(h.id);
		free(h.channel);
		free(h.message_ts);
		return BOT_ENOMEM;
	}
	snprintf(url, 256, "http://127.0.0.1:%d/response/%s", fs->port, hid);
	return 0;
}

/* Ties the last hook to the envelope that carries it. */
static void hook_envelope(struct fake_slack *fs, const char *envelope_id)
{
	if (fs->n_hooks && envelope_id[0]) {
		free(fs->hooks[fs->n_hooks - 1].envelope_id);
		fs->hooks[fs->n_hooks - 1].envelope_id = dup0(envelope_id);
	}
}

static void trigger_id(struct fake_slack *fs, char out[64])
{
	char id[FAKE_SLACK_ID_MAX];

	make_uuid(fs, id);
	snprintf(out, 64, "%" PRIu64 ".%s.%.12s", fs->serial, FAKE_SLACK_TEAM_ID, id + 24);
}

int fake_slack_send_slash(struct fake_slack *fs, const char *user, const char *channel,
			  const char *command, const char *text, char *envelope_id_out)
{
	char url[256], trig[64], uname[96], id[FAKE_SLACK_ID_MAX] = "";
	json_t *p;
	int rc;

	if (!fs || !user || !channel || !command)
		return BOT_EINVAL;
	if (!can_deliver(fs))
		return BOT_ESTATE;
	if (new_hook(fs, channel, NULL, url))
		return BOT_ENOMEM;
	trigger_id(fs, trig);
	snprintf(uname, sizeof uname, "user-%s", user);
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "token", "fake-verification-token", "team_id", FAKE_SLACK_TEAM_ID,
		      "team_domain", "fake", "channel_id", channel, "channel_name",
		      chan_name(fs, channel), "user_id", user, "user_name", uname, "command", command,
		      "text", text ? text : "", "api_app_id", FAKE_SLACK_APP_ID,
		      "is_enterprise_install", "false", "response_url", url, "trigger_id", trig);
	if (!p)
		return BOT_ENOMEM;
	rc = deliver(fs, &(struct dspec){ .type = "slash_commands", .payload = p,
					  .first = NO_FIRST }, id);
	json_decref(p);
	hook_envelope(fs, id);
	if (envelope_id_out)
		snprintf(envelope_id_out, FAKE_SLACK_ID_MAX, "%s", id);
	return rc;
}

/* The button's block_id and label from a known message's blocks. */
static void find_button(json_t *blocks, const char *action_id, const char **block_id,
			json_t **text)
{
	size_t i, k;
	json_t *b, *e;

	json_array_foreach(blocks, i, b) {
		json_t *els = json_object_get(b, "elements");
		json_t *acc = json_object_get(b, "accessory");

		if (acc && action_id && jstr(acc, "action_id") &&
		    strcmp(jstr(acc, "action_id"), action_id) == 0) {
			*block_id = jstr(b, "block_id");
			*text = json_object_get(acc, "text");
			return;
		}
		json_array_foreach(els, k, e) {
			if (action_id && jstr(e, "action_id") &&
			    strcmp(jstr(e, "action_id"), action_id) == 0) {
				*block_id = jstr(b, "block_id");
				*text = json_object_get(e, "text");
				return;
			}
		}
	}
}

int fake_slack_send_button(struct fake_slack *fs, const char *user, const char *channel,
			   const char *message_ts, const char *action_id, const char *value,
			   char *envelope_id_out)
{
	char url[256], trig[64], uname[96], ats[32], id[FAKE_SLACK_ID_MAX] = "";
	struct wmsg *m;
	const char *block_id = NULL;
	json_t *label = NULL, *msg, *action, *p;
	int rc;

	if (!fs || !user || !channel || !message_ts || !action_id)
		return BOT_EINVAL;
	if (!can_deliver(fs))
		return BOT_ESTATE;
	m = find_wmsg(fs, channel, message_ts);
	if (m && m->blocks)
		find_button(m->blocks, action_id, &block_id, &label);
	if (new_hook(fs, channel, message_ts, url))
		return BOT_ENOMEM;
	trigger_id(fs, trig);
	next_ts(fs, ats);
	snprintf(uname, sizeof uname, "user-%s", user);
	if (m && m->author == AUTHOR_BOT)
		msg = bot_message_json(m->text, m->blocks, m->ts, m->thread_ts);
	else
		msg = json_pack("{s:s, s:s, s:s}", "type", "message", "ts", message_ts, "text",
				m && m->text ? m->text : "");
	action = json_pack("{s:s, s:s, s:O*, s:s, s:s, s:s}", "action_id", action_id, "block_id",
			   block_id ? block_id : "fake-block", "text", label, "value",
			   value ? value : "", "type", "button", "action_ts", ats);
	if (action && !label)
		json_object_set_new(action, "text", json_pack("{s:s, s:s, s:b}", "type", "plain_text",
							      "text", "Button", "emoji", 1));
	p = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:s, s:s, s:s, s:b},"
		      " s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:o*, s:{s:{}}, s:s, s:[o*]}",
		      "type", "block_actions",
		      "user", "id", user, "username", uname, "name", uname, "team_id",
		      FAKE_SLACK_TEAM_ID,
		      "api_app_id", FAKE_SLACK_APP_ID, "token", "fake-verification-token",
		      "container", "type", "message", "message_ts", message_ts, "channel_id", channel,
		      "is_ephemeral", m && m->author == AUTHOR_EPHEMERAL,
		      "trigger_id", trig, "team", "id", FAKE_SLACK_TEAM_ID, "domain", "fake",
		      "channel", "id", channel, "name", chan_name(fs, channel), "message", msg,
		      "state", "values", "response_url", url, "actions", action);
	if (!p)
		return BOT_ENOMEM;
	rc = deliver(fs, &(struct dspec){ .type = "interactive", .payload = p,
					  .first = NO_FIRST }, id);
	json_decref(p);
	hook_envelope(fs, id);
	if (envelope_id_out)
		snprintf(envelope_id_out, FAKE_SLACK_ID_MAX, "%s", id);
	return rc;
}

int fake_slack_send_mention(struct fake_slack *fs, const char *user, const char *channel,
			    const char *text, char *envelope_id_out)
{
	char ts[32], ev_id[48], ctx[128], cmid[FAKE_SLACK_ID_MAX];
	json_t *p;
	int rc;

	if (!fs || !user || !channel || !text)
		return BOT_EINVAL;
	if (!can_deliver(fs))
		return BOT_ESTATE;
	next_ts(fs, ts);
	make_uuid(fs, cmid);
	snprintf(ev_id, sizeof ev_id, "Ev0FAKE%06" PRIu64, fs->serial);
	snprintf(ctx, sizeof ctx, "1-app_mention-%s-%s", FAKE_SLACK_TEAM_ID, channel);
	if (add_wmsg(fs, channel, ts, NULL, text, NULL, AUTHOR_USER))
		return BOT_ENOMEM;
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s,"
		      " s:[{s:n, s:s, s:s, s:b, s:b}], s:b,"
		      " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		      "token", "fake-verification-token", "team_id", FAKE_SLACK_TEAM_ID,
		      "api_app_id", FAKE_SLACK_APP_ID, "type", "event_callback", "event_id", ev_id,
		      "event_time", (json_int_t)(fs->ts_last_us / 1000000u), "event_context", ctx,
		      "authorizations", "enterprise_id", "team_id", FAKE_SLACK_TEAM_ID, "user_id",
		      FAKE_SLACK_BOT_USER, "is_bot", 1, "is_enterprise_install", 0,
		      "is_ext_shared_channel", 0,
		      "event", "type", "app_mention", "client_msg_id", cmid, "text", text, "user", user,
		      "ts", ts, "team", FAKE_SLACK_TEAM_ID, "channel", channel, "event_ts", ts);
	if (!p)
		return BOT_ENOMEM;
	rc = deliver(fs, &(struct dspec){ .type = "events_api", .payload = p,
					  .first = NO_FIRST }, envelope_id_out);
	json_decref(p);
	return rc;
}

int fake_slack_redeliver(struct fake_slack *fs, const char *envelope_id, int retry_attempt,
			 char *envelope_id_out)
{
	struct envelope *e;
	struct dspec s = { .retry_attempt = retry_attempt };
	char *type;
	int rc;

	if (!fs || !envelope_id)
		return BOT_EINVAL;
	e = find_env(fs, envelope_id);
	if (!e)
		return BOT_ENOTFOUND;
	/* deliver() may grow fs->envs: keep what we need from e first. */
	s.payload = json_incref(e->payload);
	s.first = e->first;
	s.type = type = dup0(e->d.type);
	rc = type ? deliver(fs, &s, envelope_id_out) : BOT_ENOMEM;
	free(type);
	json_decref(s.payload);
	return rc;
}

int fake_slack_send_raw(struct fake_slack *fs, const char *frame, size_t len)
{
	struct conn *c;

	if (!fs || !frame)
		return BOT_EINVAL;
	c = pick_conn(fs, 0);
	return c ? queue_frame(c, frame, len, 0) : BOT_ESTATE;
}

static bool tellable(const struct conn *c, unsigned only)
{
	return !c->closing && !c->close_now && !c->told && (!only || c->id == only);
}

/* The disconnect frame to every tellable socket (only: that socket, 0: all). */
static int disconnect_some(struct fake_slack *fs, const char *reason, unsigned only)
{
	bool immediate, any = false;
	json_t *j;
	int rc = 0;

	if (!fs || !reason)
		return BOT_EINVAL;
	immediate = strcmp(reason, "link_disabled") == 0 || strcmp(reason, "too_many_websockets") == 0;
	j = json_pack("{s:s, s:s, s:{s:s}}", "type", "disconnect", "reason", reason, "debug_info",
		      "host", "fake-1");
	if (!j)
		return BOT_ENOMEM;
	for (struct conn *c = fs->conns_head; c; c = c->next) {
		if (!tellable(c, only))
			continue;
		any = true;
		c->told = true;
		if (queue_json(c, j, 0))
			rc = BOT_ENOMEM;
		if (immediate)
			c->close_after_drain = true;
		else
			c->close_at_ns = now_ns() + (uint64_t)fs->grace_ms * 1000000u;
	}
	json_decref(j);
	reschedule(fs);
	return any ? rc : BOT_ESTATE;
}

int fake_slack_disconnect(struct fake_slack *fs, const char *reason)
{
	return disconnect_some(fs, reason, 0);
}

static struct conn *open_conn(struct fake_slack *fs, unsigned id)
{
	for (struct conn *c = fs->conns_head; c; c = c->next)
		if (c->id == id && !c->closing)
			return c;
	return NULL;
}

int fake_slack_disconnect_conn(struct fake_slack *fs, unsigned conn, const char *reason)
{
	if (!fs || !conn || !reason)
		return BOT_EINVAL;
	if (!open_conn(fs, conn))
		return BOT_ENOTFOUND;
	return disconnect_some(fs, reason, conn);
}

int fake_slack_drop_conn(struct fake_slack *fs, unsigned conn)
{
	struct conn *c;

	if (!fs || !conn)
		return BOT_EINVAL;
	c = open_conn(fs, conn);
	if (!c)
		return BOT_ENOTFOUND;
	/* As fake_slack_drop: no close frame; CLOSED (which unlinks c) is
	 * delivered inside. */
	c->closing = true;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	reschedule(fs);
	return 0;
}

void fake_slack_drop(struct fake_slack *fs)
{
	struct conn *c, *next;

	if (!fs)
		return;
	for (c = fs->conns_head; c; c = next) {
		struct lws *wsi = c->wsi;

		next = c->next;
		/* No close reason set: lws kills the TCP connection without a
		 * close frame. CLOSED is delivered (and c unlinked) inside. */
		c->closing = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	reschedule(fs);
}

void fake_slack_silence(struct fake_slack *fs, bool on)
{
	if (!fs)
		return;
	for (struct conn *c = fs->conns_head; c; c = c->next) {
		if (c->closing || c->silenced == on)
			continue;
		c->silenced = on;
		lws_rx_flow_control(c->wsi, on ? 0 : 1);
		if (!on) {
			c->next_ping_ns = now_ns() + (uint64_t)fs->ping_ms * 1000000u;
			lws_callback_on_writable(c->wsi);
		}
	}
	reschedule(fs);
}

void fake_slack_refuse_connections(struct fake_slack *fs, bool on)
{
	if (fs)
		fs->refuse = on;
}

static int add_fault(struct fake_slack *fs, const char *method, enum fault_kind kind,
		     unsigned count, unsigned retry_after, const char *error, int status)
{
	struct fault f = { .method = dup0(method), .kind = kind, .count = count,
			   .retry_after = retry_after, .error = dup0(error), .status = status };

	if (!f.method || (error && !f.error) || PUSH(fs, faults, f)) {
		free(f.method);
		free(f.error);
		return BOT_ENOMEM;
	}
	return 0;
}

int fake_slack_ratelimit(struct fake_slack *fs, const char *method, unsigned count,
			 unsigned retry_after_s)
{
	if (!fs || !method)
		return BOT_EINVAL;
	if (!count)
		return 0;
	return add_fault(fs, method, FAULT_RATELIMIT, count, retry_after_s, NULL, 0);
}

void fake_slack_answer_delay(struct fake_slack *fs, unsigned ms)
{
	if (fs)
		fs->answer_delay_ms = ms;
}

int fake_slack_fail_next(struct fake_slack *fs, const char *method, const char *error)
{
	if (!fs || !method || !error)
		return BOT_EINVAL;
	return add_fault(fs, method, FAULT_ERROR, 1, 0, error, 0);
}

int fake_slack_http_status_next(struct fake_slack *fs, const char *method, int status)
{
	if (!fs || !method || status < 100 || status > 599)
		return BOT_EINVAL;
	return add_fault(fs, method, FAULT_STATUS, 1, 0, NULL, status);
}

/* ---------------------------------------------------------------------------
 * Read-back
 */

int fake_slack_port(const struct fake_slack *fs)
{
	return fs ? fs->port : -1;
}

int fake_slack_tls_port(const struct fake_slack *fs)
{
	return fs && fs->vh_tls ? fs->tls_port : -1;
}

const char *fake_slack_api_url(const struct fake_slack *fs)
{
	return fs ? fs->api_url : NULL;
}

unsigned fake_slack_connections(const struct fake_slack *fs)
{
	return fs ? fs->n_conns : 0;
}

unsigned fake_slack_opens(const struct fake_slack *fs)
{
	return fs ? fs->opens : 0;
}

unsigned fake_slack_pongs(const struct fake_slack *fs)
{
	return fs ? fs->pongs : 0;
}

unsigned fake_slack_bad_frames(const struct fake_slack *fs)
{
	return fs ? fs->bad_frames : 0;
}

uint64_t fake_slack_seed(const struct fake_slack *fs)
{
	return fs ? fs->seed : 0;
}

unsigned fake_slack_redeliveries(const struct fake_slack *fs)
{
	return fs ? fs->redeliveries : 0;
}

size_t fake_slack_retries_pending(const struct fake_slack *fs)
{
	size_t n = 0;

	for (size_t i = 0; fs && i < fs->n_envs; i++)
		if (fs->envs[i].deadline_ns || fs->envs[i].retry_at_ns)
			n++;
	return n;
}

const struct fake_slack_conn *fake_slack_conns(const struct fake_slack *fs, size_t *n)
{
	*n = fs ? fs->n_crecs : 0;
	return fs ? fs->crecs : NULL;
}

const struct fake_slack_conn *fake_slack_conn(const struct fake_slack *fs, unsigned conn)
{
	return fs && conn && conn <= fs->n_crecs ? &fs->crecs[conn - 1] : NULL;
}

size_t fake_slack_n_deliveries(const struct fake_slack *fs)
{
	return fs ? fs->n_envs : 0;
}

const struct fake_slack_delivery *fake_slack_delivery(const struct fake_slack *fs, size_t i)
{
	return fs && i < fs->n_envs ? &fs->envs[i].d : NULL;
}

const struct fake_slack_delivery *fake_slack_find_delivery(const struct fake_slack *fs,
							   const char *envelope_id)
{
	const struct envelope *e = fs && envelope_id ? find_env(fs, envelope_id) : NULL;

	return e ? &e->d : NULL;
}

const struct fake_slack_ack *fake_slack_acks(const struct fake_slack *fs, size_t *n)
{
	*n = fs ? fs->n_acks : 0;
	return fs ? fs->acks : NULL;
}

const struct fake_slack_ack *fake_slack_find_ack(const struct fake_slack *fs,
						 const char *envelope_id)
{
	for (size_t i = 0; fs && envelope_id && i < fs->n_acks; i++)
		if (strcmp(fs->acks[i].envelope_id, envelope_id) == 0)
			return &fs->acks[i];
	return NULL;
}

const struct fake_slack_message *fake_slack_messages(const struct fake_slack *fs, size_t *n)
{
	*n = fs ? fs->n_msgs : 0;
	return fs ? fs->msgs : NULL;
}

const struct fake_slack_call *fake_slack_call_log(const struct fake_slack *fs, size_t *n)
{
	*n = fs ? fs->n_calls : 0;
	return fs ? fs->calls : NULL;
}

size_t fake_slack_calls(const struct fake_slack *fs, const char *method)
{
	size_t n = 0;

	for (size_t i = 0; fs && i < fs->n_calls; i++)
		if (!method || strcmp(fs->calls[i].method, method) == 0)
			n++;
	return n;
}

/* ---------------------------------------------------------------------------
 * Lifetime
 */

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void free_records(struct fake_slack *fs)
{
	size_t i;

	for (i = 0; i < fs->n_chans; i++) {
		free(fs->chans[i].id);
		free(fs->chans[i].name);
	}
	for (i = 0; i < fs->n_wmsgs; i++) {
		free(fs->wmsgs[i].channel);
		free(fs->wmsgs[i].ts);
		free(fs->wmsgs[i].thread_ts);
		free(fs->wmsgs[i].text);
		json_decref(fs->wmsgs[i].blocks);
	}
	for (i = 0; i < fs->n_hooks; i++) {
		free(fs->hooks[i].id);
		free(fs->hooks[i].channel);
		free(fs->hooks[i].envelope_id);
		free(fs->hooks[i].message_ts);
	}
	for (i = 0; i < fs->n_tickets; i++)
		free(fs->tickets[i].ticket);
	for (i = 0; i < fs->n_envs; i++)
		envelope_free(&fs->envs[i]);
	for (i = 0; i < fs->n_faults; i++) {
		free(fs->faults[i].method);
		free(fs->faults[i].error);
	}
	for (i = 0; i < fs->n_acks; i++) {
		free((char *)fs->acks[i].envelope_id);
		free((char *)fs->acks[i].payload);
	}
	for (i = 0; i < fs->n_msgs; i++) {
		const struct fake_slack_message *m = &fs->msgs[i];

		free((char *)m->method);
		free((char *)m->channel);
		free((char *)m->ts);
		free((char *)m->thread_ts);
		free((char *)m->user);
		free((char *)m->text);
		free((char *)m->envelope_id);
		free((char *)m->body);
	}
	for (i = 0; i < fs->n_calls; i++) {
		free((char *)fs->calls[i].method);
		free((char *)fs->calls[i].error);
		free((char *)fs->calls[i].channel);
	}
	free(fs->chans);
	free(fs->wmsgs);
	free(fs->hooks);
	free(fs->tickets);
	free(fs->envs);
	free(fs->faults);
	free(fs->acks);
	free(fs->msgs);
	free(fs->calls);
	free(fs->crecs);
	free(fs->app_token);
	free(fs->bot_token);
}

void fake_slack_destroy(struct fake_slack *fs)
{
	struct conn *c, *next;

	if (!fs)
		return;
	if (fs->ref_http)
		fs->ref_http->fs = NULL;
	if (fs->ref_link)
		fs->ref_link->fs = NULL;
	if (fs->ref_http_tls)
		fs->ref_http_tls->fs = NULL;
	if (fs->ref_link_tls)
		fs->ref_link_tls->fs = NULL;
	/* Polite close of each socket from its next SERVER_WRITEABLE; the
	 * socket keeps its own buffers until lws reports it closed. */
	for (c = fs->conns_head; c; c = next) {
		next = c->next;
		c->prev = c->next = NULL;
		c->fs = NULL;
		if (c->closing)
			continue;
		c->close_now = true;
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		c->close_reason = "going away";
		lws_callback_on_writable(c->wsi);
	}
	fs->conns_head = fs->conns_tail = NULL;
	if (fs->timer) {
		fs->timer->data = NULL;
		uv_timer_stop(fs->timer);
		uv_close((uv_handle_t *)fs->timer, timer_closed);
	}
	free_records(fs);
	free(fs);
}

static int copy_opts(struct fake_slack *fs, const struct fake_slack_opts *o)
{
	static const struct fake_slack_channel defaults[] = {
		{ "C0GENERAL", "general", true },
		{ "C0RANDOM", "random", false },
	};
	const struct fake_slack_channel *ch = o && o->n_channels ? o->channels : defaults;
	size_t n = o && o->n_channels ? o->n_channels : BOT_ARRAY_LEN(defaults);

	fs->app_token = dup0(o && o->app_token ? o->app_token : "xapp-1-A0FAKE-fake");
	fs->bot_token = dup0(o && o->bot_token ? o->bot_token : "xoxb-0000-fake");
	fs->ping_ms = o && o->ping_interval_ms ? o->ping_interval_ms : 10000;
	fs->grace_ms = o && o->disconnect_grace_ms ? o->disconnect_grace_ms : 1000;
	fs->max_conns = o && o->max_connections ? o->max_connections : 10;
	fs->control_api = o && o->control_api;
	fs->random_delivery = o && o->random_delivery;
	fs->event_retries = o && o->event_retries;
	fs->ack_timeout_ms = o && o->ack_timeout_ms ? o->ack_timeout_ms : 3000;
	if (o && o->n_retry_delays && o->retry_delays_ms) {
		if (o->n_retry_delays > FAKE_SLACK_MAX_RETRIES)
			return BOT_EINVAL;
		memcpy(fs->retry_delays_ms, o->retry_delays_ms,
		       o->n_retry_delays * sizeof *o->retry_delays_ms);
		fs->n_retry_delays = o->n_retry_delays;
	} else {   /* Slack: at once, after 1 min, after 5 min (docs/slack-protocol.md §2.5) */
		static const unsigned slack[] = { 0, 60000, 300000 };

		memcpy(fs->retry_delays_ms, slack, sizeof slack);
		fs->n_retry_delays = BOT_ARRAY_LEN(slack);
	}
	/* A clock-chosen seed fits in 48 bits, easy to copy from a log line. */
	fs->seed = o && o->seed ? o->seed : (uv_hrtime() ^ (uint64_t)uv_os_getpid() << 20) &
					    0xffffffffffffull;
	if (!fs->seed)
		fs->seed = 1;
	fs->rng = fs->seed;
	if (!fs->app_token || !fs->bot_token)
		return BOT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct chan c = { dup0(ch[i].id), dup0(ch[i].name ? ch[i].name : ch[i].id),
				  ch[i].member };

		if (!ch[i].id)
			return BOT_EINVAL;
		if (!c.id || !c.name || PUSH(fs, chans, c)) {
			free(c.id);
			free(c.name);
			return BOT_ENOMEM;
		}
	}
	return 0;
}

int fake_slack_create(struct lws_context *ctx, uv_loop_t *loop, const struct fake_slack_opts *o,
		      struct fake_slack **out)
{
	struct lws_context_creation_info info;
	struct fake_slack *fs;
	int rc;

	if (!ctx || !loop || !out)
		return BOT_EINVAL;
	*out = NULL;
	fs = calloc(1, sizeof *fs);
	if (!fs)
		return BOT_ENOMEM;
	fs->ctx = ctx;
	fs->loop = loop;
	fs->salt = uv_hrtime() ^ ((uint64_t)(uintptr_t)fs << 16);
	rc = copy_opts(fs, o);
	if (rc)
		goto fail;
	fs->timer = malloc(sizeof *fs->timer);
	if (!fs->timer || uv_timer_init(loop, fs->timer)) {
		free(fs->timer);
		fs->timer = NULL;
		rc = BOT_ENOMEM;
		goto fail;
	}
	fs->timer->data = fs;

	memset(&info, 0, sizeof info);
	info.vhost_name = "fake-slack";
	info.port = o ? o->port : 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.pvo = &pvo_link;
	info.keepalive_timeout = 30;
	fs->vh = lws_create_vhost(ctx, &info);
	if (!fs->vh) {
		rc = BOT_EIO;
		goto fail;
	}
	fs->port = lws_get_vhost_listen_port(fs->vh);
	snprintf(fs->api_url, sizeof fs->api_url, "http://127.0.0.1:%d/api", fs->port);
	fs->ref_http = lws_protocol_vh_priv_zalloc(fs->vh, &protocols[0], sizeof(struct vh_ref));
	fs->ref_link = lws_protocol_vh_priv_zalloc(fs->vh, &protocols[1], sizeof(struct vh_ref));
	if (!fs->ref_http || !fs->ref_link) {
		rc = BOT_ENOMEM;
		goto fail;
	}
	fs->ref_http->fs = fs;
	fs->ref_link->fs = fs;
	if (o && o->tls_cert && o->tls_key) {
		info.vhost_name = "fake-slack-tls";
		info.port = 0;
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = o->tls_cert;
		info.ssl_private_key_filepath = o->tls_key;
		fs->vh_tls = lws_create_vhost(ctx, &info);
		if (!fs->vh_tls) {
			rc = BOT_EIO;
			goto fail;
		}
		fs->tls_port = lws_get_vhost_listen_port(fs->vh_tls);
		fs->ref_http_tls = lws_protocol_vh_priv_zalloc(fs->vh_tls, &protocols[0],
							       sizeof(struct vh_ref));
		fs->ref_link_tls = lws_protocol_vh_priv_zalloc(fs->vh_tls, &protocols[1],
							       sizeof(struct vh_ref));
		if (!fs->ref_http_tls || !fs->ref_link_tls) {
			rc = BOT_ENOMEM;
			goto fail;
		}
		fs->ref_http_tls->fs = fs;
		fs->ref_link_tls->fs = fs;
	}
	*out = fs;
	return 0;
fail:
	/* A vhost that was created stays until the context dies; it answers
	 * 503 with no fake behind it. */
	fake_slack_destroy(fs);
	return rc;
}
