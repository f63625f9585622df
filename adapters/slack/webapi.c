/* webapi.c - Slack Web API client (see webapi.h).
 *
 * Calls wait in queues. A queue is a list of calls with one key (a channel
 * id, or a response_url), ordered by priority then age; a call made
 * without a key gets a queue of its own. Only the head of a queue is ever
 * in flight, and once started it stays the head until it is over (so a
 * 429 or a retry keeps its place). Calls evicted for room wait in a list
 * of their own (doomed) until pump() runs their callbacks. One uv timer runs
 * pump(), which starts every head whose time has come: not before its
 * retry backoff (not_before) and not before the lock-out of its
 * (method, key) pair set by a 429. Everything is started from the timer,
 * never from slack_api_call, so callbacks never run inside a call.
 */
#include "adapters/slack/webapi.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/base/log.h"

#define DEFAULT_TIMEOUT_MS      10000L
#define DEFAULT_MAX_RATELIMITED 10u
#define DEFAULT_RETRY_AFTER_S   1u
#define MAX_RETRY_AFTER_S       3600u
#define MAX_BODY                ((size_t)1 << 20)
#define DEFAULT_QUEUE_MAX       256u
#define DEFAULT_TOTAL_MAX       1024u
#define DEFAULT_MAX_IN_FLIGHT   16u
#define BUSY_LOG_MS             10000u

static const uint32_t default_steps[] = { 500, 1000, 2000 };
static const struct slack_retry_policy default_retry = {
	default_steps, BOT_ARRAY_LEN(default_steps), 20, 3,
};

/* ---- the error table ------------------------------------------------------ */

static const struct api_error {
	const char *error;
	int code;
	const char *hint;
} errors[] = {
	/* sorted by error (bsearch; checked by slack_api_error_table_ok) */
	{ "account_inactive", BOT_EAUTH, "the token belongs to a deactivated user or workspace" },
	{ "cant_update_message", BOT_EPERM, "only messages this bot posted can be updated" },
	{ "channel_not_found", BOT_ENOTFOUND, "check the channel id and that the bot can see the channel" },
	{ "edit_window_closed", BOT_EPERM, NULL },
	{ "fatal_error", BOT_EREMOTE, NULL },
	{ "internal_error", BOT_EREMOTE, NULL },
	{ "invalid_arguments", BOT_EINVAL, NULL },
	{ "invalid_auth", BOT_EAUTH, "the token is not valid: check SLACK_BOT_TOKEN / SLACK_APP_TOKEN" },
	{ "invalid_blocks", BOT_EINVAL, NULL },
	{ "invalid_blocks_format", BOT_EINVAL, NULL },
	{ "invalid_charset", BOT_EINVAL, NULL },
	{ "invalid_json", BOT_EINVAL, NULL },
	{ "is_archived", BOT_EPERM, "the channel is archived" },
	{ "json_not_object", BOT_EINVAL, NULL },
	{ "message_not_found", BOT_ENOTFOUND, NULL },
	{ "missing_post_type", BOT_EINVAL, NULL },
	{ "missing_scope", BOT_EPERM, "add the missing OAuth scope to the Slack app and reinstall it" },
	{ "msg_blocks_too_long", BOT_EINVAL, NULL },
	{ "msg_too_long", BOT_EINVAL, NULL },
	{ "no_permission", BOT_EPERM, NULL },
	{ "no_text", BOT_EINVAL, NULL },
	{ "not_allowed_token_type", BOT_EAUTH,
	  "wrong kind of token: chat.* take the bot token (xoxb-), Socket Mode the app token (xapp-)" },
	{ "not_authed", BOT_EAUTH, "no token was sent" },
	{ "not_in_channel", BOT_EPERM, "invite the bot to the channel (/invite @<bot>)" },
	{ "rate_limited", BOT_ERATELIMIT, NULL },
	{ "ratelimited", BOT_ERATELIMIT, NULL },
	{ "request_timeout", BOT_EREMOTE, NULL },
	{ "restricted_action", BOT_EPERM, NULL },
	{ "service_unavailable", BOT_EREMOTE, NULL },
	{ "team_disabled", BOT_EAUTH, NULL },
	{ "thread_not_found", BOT_ENOTFOUND, NULL },
	{ "token_expired", BOT_EAUTH, NULL },
	{ "token_revoked", BOT_EAUTH, "the token was revoked: reinstall the app and update the token" },
	{ "too_many_attachments", BOT_EINVAL, NULL },
	{ "user_not_found", BOT_ENOTFOUND, NULL },
	{ "user_not_in_channel", BOT_EPERM, "the user is not in that channel" },
	{ "user_removed_from_team", BOT_EAUTH, NULL },
};

static int cmp_error(const void *k, const void *e)
{
	return strcmp(k, ((const struct api_error *)e)->error);
}

static const struct api_error *find_error(const char *s)
{
	if (!s)
		return NULL;
	return bsearch(s, errors, BOT_ARRAY_LEN(errors), sizeof errors[0], cmp_error);
}

int slack_api_error_code(const char *slack_error)
{
	const struct api_error *e = find_error(slack_error);

	return e ? e->code : BOT_EREMOTE;
}

const char *slack_api_error_hint(const char *slack_error)
{
	const struct api_error *e = find_error(slack_error);

	return e ? e->hint : NULL;
}

bool slack_api_error_table_ok(void)
{
	for (size_t i = 1; i < BOT_ARRAY_LEN(errors); i++)
		if (strcmp(errors[i - 1].error, errors[i].error) >= 0)
			return false;
	return true;
}

/* ---- state ------------------------------------------------------------------- */

struct queue;

struct slack_api_call {
	struct slack_api_call *next;   /* in its queue */
	struct queue *q;
	struct slack_api *a;
	char *what;                    /* method name, or "response_url" (logs) */
	char *url;
	char *body;
	size_t body_len;
	bool form;                     /* empty form-encoded body */
	bool secret_url;               /* a response_url: never log it */
	enum slack_token token;
	slack_api_cb cb;
	void *ud;
	struct http_call *http;        /* in flight */
	enum slack_prio prio;
	bool doomed;                   /* evicted: in a->doomed, not in a queue */
	uint64_t seq;                  /* order of creation: the newest is evicted */
	uint64_t not_before;           /* uv_now() ms */
	unsigned attempts, retries, ratelimited;
	char errbuf[128];
};

struct queue {
	struct queue *prev, *next;
	char *key;                     /* NULL: a call of its own */
	struct slack_api_call *head, *tail;
	size_t n;                      /* calls in it */
};

struct lockout {
	struct lockout *next;
	uint64_t until;
	char key[];                    /* "<method>\n<queue key>" */
};

struct slack_api {
	uv_loop_t *loop;
	struct http *http;
	char *api_url;
	char *bot_auth, *app_auth;     /* "Authorization: Bearer ..." */
	struct slack_retry_policy retry;
	uint32_t *retry_steps;
	unsigned max_ratelimited;
	long timeout_ms;
	uv_timer_t timer;
	bool timer_closing, timer_closed;
	struct queue *qhead, *qtail;
	struct lockout *lockouts;
	size_t pending;
	size_t queue_max, total_max;
	unsigned max_in_flight, in_flight; /* HTTP requests, over all queues */
	struct slack_api_call *doomed; /* evicted, callback not run yet */
	uint64_t seq, dropped;
	uint64_t busy_log_ms;          /* last slack.api.busy line */
	unsigned long busy_unlogged;   /* drops since that line */
	bool busy_logged;
	bool stopped, destroyed;
	int in_cb;
};

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t now_ms(struct slack_api *a)
{
	uv_update_time(a->loop);
	return uv_now(a->loop);
}

static void maybe_free(struct slack_api *a)
{
	if (!a->destroyed || !a->timer_closed || a->in_cb)
		return;
	while (a->lockouts) {
		struct lockout *l = a->lockouts;
		a->lockouts = l->next;
		free(l);
	}
	/* The tokens stay registered with the redactor: the config may have
	 * registered the same values, and the registry does not count. */
	free(a->bot_auth);
	free(a->app_auth);
	free(a->api_url);
	free(a->retry_steps);
	free(a);
}

static void timer_closed(uv_handle_t *h)
{
	struct slack_api *a = h->data;

	a->timer_closed = true;
	maybe_free(a);
}

static void close_timer(struct slack_api *a)
{
	if (a->timer_closing)
		return;
	a->timer_closing = true;
	(void)uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, timer_closed);
}

static void on_timer(uv_timer_t *t);

static void schedule(struct slack_api *a, uint64_t delay_ms)
{
	if (a->timer_closing || a->destroyed)
		return;
	/* Only ever pull the wake-up earlier (pump re-arms for the rest). */
	if (uv_is_active((uv_handle_t *)&a->timer) && uv_timer_get_due_in(&a->timer) <= delay_ms)
		return;
	(void)uv_timer_start(&a->timer, on_timer, delay_ms, 0);
}

static void call_free(struct slack_api_call *c)
{
	free(c->what);
	free(c->url);
	free(c->body);
	free(c);
}

/* Take c out of its queue (anywhere in it); frees an emptied queue. */
static void unqueue(struct slack_api_call *c)
{
	struct slack_api *a = c->a;
	struct queue *q = c->q;
	struct slack_api_call **pp;

	if (!q)
		return;
	for (pp = &q->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (q->tail == c) {
		q->tail = NULL;
		for (struct slack_api_call *x = q->head; x; x = x->next)
			q->tail = x;
	}
	c->next = NULL;
	c->q = NULL;
	q->n--;
	a->pending--;
	if (!q->head) {
		if (q->prev)
			q->prev->next = q->next;
		else
			a->qhead = q->next;
		if (q->next)
			q->next->prev = q->prev;
		else
			a->qtail = q->prev;
		free(q->key);
		free(q);
	}
}

static const char *lockout_key(const struct slack_api_call *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s\n%s", c->what, c->q && c->q->key ? c->q->key : "");
	return buf;
}

static uint64_t lockout_until(struct slack_api *a, const struct slack_api_call *c, uint64_t now)
{
	char k[512];
	struct lockout **pp = &a->lockouts, *l;
	uint64_t until = 0;

	lockout_key(c, k, sizeof k);
	while ((l = *pp)) {
		if (l->until <= now) { /* expired: drop */
			*pp = l->next;
			free(l);
			continue;
		}
		if (strcmp(l->key, k) == 0)
			until = l->until;
		pp = &l->next;
	}
	return until;
}

static void set_lockout(struct slack_api *a, const struct slack_api_call *c, uint64_t until)
{
	char k[512];
	struct lockout *l;
	size_t n;

	lockout_key(c, k, sizeof k);
	for (l = a->lockouts; l; l = l->next) {
		if (strcmp(l->key, k) == 0) {
			if (until > l->until)
				l->until = until;
			return;
		}
	}
	n = strlen(k);
	l = malloc(sizeof *l + n + 1);
	if (!l)
		return; /* no lock-out: the call itself still waits (not_before) */
	memcpy(l->key, k, n + 1);
	l->until = until;
	l->next = a->lockouts;
	a->lockouts = l;
}

/* For logs: the queue key when it is a channel id, else "-". */
static const char *log_queue(const struct slack_api_call *c)
{
	if (c->secret_url || !c->q || !c->q->key)
		return "-";
	return c->q->key;
}

/* ---- finishing ------------------------------------------------------------------ */

static void log_failure(const struct slack_api_call *c, const struct slack_api_result *r)
{
	const char *hint = slack_api_error_hint(r->error);
	enum log_level lvl = r->rc == BOT_EAUTH ? BOT_LOG_ERROR : BOT_LOG_WARN;

	if (r->rc == BOT_ECANCELLED || r->rc == BOT_EBUSY)
		return; /* EBUSY: note_busy logs a burst once */
	log_emit(lvl, "slack.api.error", "method=%s channel=%s error=%s code=%s status=%ld "
		 "attempts=%u%s%s", c->what, LOG_Q(log_queue(c)),
		 LOG_Q(r->error ? r->error : "unknown"), bot_err_name(r->rc), r->status,
		 r->attempts, hint ? " hint=" : "", hint ? LOG_Q(hint) : "");
}

/* The call is over: out of its queue, callback, freed. */
static void finish(struct slack_api_call *c, int rc, const char *error, long status, json_t *body)
{
	struct slack_api *a = c->a;
	struct slack_api_result r = {
		.rc = rc, .error = rc ? error : NULL, .status = status, .body = body,
		.attempts = c->attempts,
	};

	if (rc)
		log_failure(c, &r);
	unqueue(c);
	if (c->cb) {
		a->in_cb++;
		c->cb(c->ud, &r);
		a->in_cb--;
	}
	call_free(c);
	if (a->destroyed) {
		maybe_free(a);
		return;
	}
	schedule(a, 0); /* the next call of that queue may go now */
}

/* Try again after delay (the call stays at the head of its queue). */
static void again(struct slack_api_call *c, uint64_t delay_ms)
{
	c->not_before = now_ms(c->a) + delay_ms;
	schedule(c->a, delay_ms);
}

static bool retry_transient(struct slack_api_call *c, const char *why, long status)
{
	struct slack_api *a = c->a;
	uint64_t d;

	if (!slack_retry_allowed(&a->retry, c->retries))
		return false;
	d = slack_retry_delay_ms(&a->retry, c->retries, slack_retry_random());
	c->retries++;
	log_info("slack.api.retry", "method=%s channel=%s reason=%s status=%ld retry=%u delay_ms=%llu",
		 c->what, LOG_Q(log_queue(c)), LOG_Q(why), status, c->retries,
		 (unsigned long long)d);
	again(c, d);
	return true;
}

static unsigned parse_retry_after(const char *v)
{
	char *end;
	unsigned long s;

	if (!v)
		return DEFAULT_RETRY_AFTER_S;
	while (*v == ' ')
		v++;
	if (!isdigit((unsigned char)*v))
		return DEFAULT_RETRY_AFTER_S;  /* an HTTP date, or garbage */
	s = strtoul(v, &end, 10);
	while (*end == ' ')
		end++;
	if (*end)
		return DEFAULT_RETRY_AFTER_S;
	return s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : (unsigned)s;
}

/* A 429 (or ok:false ratelimited): lock (method, key) out and wait. */
static void rate_limited(struct slack_api_call *c, unsigned retry_after_s, long status)
{
	struct slack_api *a = c->a;
	uint64_t ms = (uint64_t)retry_after_s * 1000u;

	c->ratelimited++;
	log_warn("slack.api.ratelimited", "method=%s channel=%s retry_after_s=%u count=%u",
		 c->what, LOG_Q(log_queue(c)), retry_after_s, c->ratelimited);
	if (c->ratelimited > a->max_ratelimited) {
		finish(c, BOT_ERATELIMIT, "ratelimited", status, NULL);
		return;
	}
	set_lockout(a, c, now_ms(a) + ms);
	again(c, ms);
}

/* A response_url answers plain text: "ok", or e.g. 404 "used_url". */
static const char *plain_error(const struct http_response *r, char *buf, size_t n)
{
	size_t len = r->body_len;

	while (len && isspace((unsigned char)r->body[len - 1]))
		len--;
	if (len == 0 || len >= n)
		goto generic;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)r->body[i]) && r->body[i] != '_')
			goto generic;
	memcpy(buf, r->body, len);
	buf[len] = '\0';
	return buf;
generic:
	snprintf(buf, n, "http_%ld", r->status);
	return buf;
}

static void on_response_url(struct slack_api_call *c, const struct http_response *r)
{
	const char *e;

	if (r->status >= 200 && r->status < 300) {
		finish(c, BOT_EOK, NULL, r->status, NULL);
		return;
	}
	e = plain_error(r, c->errbuf, sizeof c->errbuf);
	if (r->status == 404 || r->status == 410)
		finish(c, BOT_ENOTFOUND, e, r->status, NULL);
	else if (r->status == 400)
		finish(c, BOT_EINVAL, e, r->status, NULL);
	else
		finish(c, BOT_EREMOTE, e, r->status, NULL);
}

static void on_json(struct slack_api_call *c, const struct http_response *r)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	const char *e;

	if (!json_is_object(j)) {
		finish(c, BOT_EPROTOCOL, "invalid_response", r->status, NULL);
		goto out;
	}
	if (json_is_true(json_object_get(j, "ok"))) {
		const char *w = json_string_value(json_object_get(j, "warning"));

		if (w)
			log_info("slack.api.warning", "method=%s warning=%s", c->what, LOG_Q(w));
		finish(c, BOT_EOK, NULL, r->status, j);
		goto out;
	}
	e = json_string_value(json_object_get(j, "error"));
	if (!e)
		e = "unknown_error";
	snprintf(c->errbuf, sizeof c->errbuf, "%s", e);
	if (strcmp(e, "ratelimited") == 0 || strcmp(e, "rate_limited") == 0)
		rate_limited(c, parse_retry_after(http_response_header(r, "Retry-After")), r->status);
	else if (strcmp(e, "service_unavailable") == 0 && retry_transient(c, e, r->status))
		; /* waiting for the retry */
	else
		finish(c, slack_api_error_code(e), c->errbuf, r->status, j);
out:
	json_decref(j);
}

static void on_http(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct slack_api_call *c = ud;

	c->http = NULL;
	c->a->in_flight--;
	schedule(c->a, 0); /* a head held back for room may go now */
	c->attempts++;
	if (rc) {
		snprintf(c->errbuf, sizeof c->errbuf, "%s", errmsg ? errmsg : bot_strerror(rc));
		if ((rc == BOT_ETRANSPORT || rc == BOT_ETIMEOUT) && !c->a->stopped &&
		    retry_transient(c, c->errbuf, 0))
			return;
		finish(c, rc, c->errbuf, 0, NULL);
		return;
	}
	if (r->status == 429) {
		rate_limited(c, parse_retry_after(http_response_header(r, "Retry-After")), r->status);
		return;
	}
	if (r->status >= 500) {
		snprintf(c->errbuf, sizeof c->errbuf, "http_%ld", r->status);
		if (!retry_transient(c, c->errbuf, r->status))
			finish(c, BOT_EREMOTE, c->errbuf, r->status, NULL);
		return;
	}
	if (c->secret_url) {
		on_response_url(c, r);
		return;
	}
	if (r->status != 200) {
		snprintf(c->errbuf, sizeof c->errbuf, "http_%ld", r->status);
		finish(c, r->status == 404 ? BOT_ENOTFOUND : BOT_EREMOTE, c->errbuf, r->status, NULL);
		return;
	}
	on_json(c, r);
}

/* ---- starting ------------------------------------------------------------------ */

static int start(struct slack_api_call *c)
{
	struct slack_api *a = c->a;
	const char *hdrs[4] = { NULL, NULL, NULL, NULL };
	size_t n = 0;

	if (c->token == SLACK_TOKEN_BOT)
		hdrs[n++] = a->bot_auth;
	else if (c->token == SLACK_TOKEN_APP)
		hdrs[n++] = a->app_auth;
	hdrs[n++] = c->form ? "Content-Type: application/x-www-form-urlencoded"
			    : "Content-Type: application/json; charset=utf-8";
	hdrs[n++] = "Accept: application/json";
	int rc = http_send(a->http, &(struct http_request){
				 .method = "POST", .url = c->url, .headers = hdrs,
				 .body = c->body, .body_len = c->body_len,
				 .timeout_ms = a->timeout_ms, .max_response = MAX_BODY,
				 .secret_path = c->secret_url },
			 on_http, c, &c->http);
	if (rc == BOT_EOK)
		a->in_flight++;
	return rc;
}

/* May c's request go now? Not when as many as allowed are in flight; a
 * quarter of them is kept for urgent calls (a gate's messages). */
static bool room_for(const struct slack_api *a, const struct slack_api_call *c)
{
	unsigned cap = a->max_in_flight;

	if (c->prio != SLACK_PRIO_HIGH)
		cap -= cap / 4;
	return a->in_flight < cap;
}

/* Start every queue head that may go; re-arm for the earliest that may not.
 * A start that fails synchronously finishes its call, whose callback may
 * change the queue list: then scan again from the top (each pass finishes
 * one call, so this ends). */
static void pump(struct slack_api *a)
{
	uint64_t now, next;
	bool rescan;

	/* Evicted calls first: their callbacks may queue calls (and evict). */
	while (a->doomed && !a->destroyed) {
		struct slack_api_call *c = a->doomed;

		a->doomed = c->next;
		c->next = NULL;
		c->doomed = false;
		finish(c, BOT_EBUSY, "queue_full", 0, NULL);
	}
	if (a->destroyed)
		return;
	do {
		rescan = false;
		now = now_ms(a);
		next = UINT64_MAX;
		for (struct queue *q = a->qhead; q; q = q->next) {
			struct slack_api_call *c = q->head;
			uint64_t t;
			int rc;

			if (c->http || !room_for(a, c))
				continue; /* a call's end pumps again */
			t = lockout_until(a, c, now);
			if (c->not_before > t)
				t = c->not_before;
			if (t > now) {
				if (t < next)
					next = t;
				continue;
			}
			rc = start(c);
			if (rc) {
				snprintf(c->errbuf, sizeof c->errbuf, "cannot send: %s", bot_strerror(rc));
				finish(c, rc == BOT_ESTATE ? BOT_ECANCELLED : rc, c->errbuf, 0, NULL);
				rescan = !a->destroyed;
				break;
			}
		}
	} while (rescan);
	if (!a->destroyed && next != UINT64_MAX)
		schedule(a, next - now);
}

static void on_timer(uv_timer_t *t)
{
	pump(t->data);
}

/* ---- public ------------------------------------------------------------------ */

static struct queue *find_queue(struct slack_api *a, const char *key)
{
	if (key)
		for (struct queue *q = a->qhead; q; q = q->next)
			if (q->key && strcmp(q->key, key) == 0)
				return q;
	return NULL;
}

static struct queue *queue_for(struct slack_api *a, const char *key)
{
	struct queue *q = find_queue(a, key);

	if (q)
		return q;
	q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	if (key && !(q->key = strdup(key))) {
		free(q);
		return NULL;
	}
	q->prev = a->qtail;
	if (a->qtail)
		a->qtail->next = q;
	else
		a->qhead = q;
	a->qtail = q;
	return q;
}

/* A head that has been sent keeps its place (in flight, or waiting out a
 * 429 or a retry). */
static bool started(const struct slack_api_call *c)
{
	return c->http || c->attempts;
}

static int rank(enum slack_prio p)
{
	return p == SLACK_PRIO_HIGH ? 2 : p == SLACK_PRIO_NORMAL ? 1 : 0;
}

/* Put c after every call of its priority or higher, never before a
 * started head: the queue stays ordered by priority, FIFO within one. */
static void enqueue(struct queue *q, struct slack_api_call *c)
{
	struct slack_api_call **pp = &q->head;

	if (*pp && started(*pp))
		pp = &(*pp)->next;
	while (*pp && rank((*pp)->prio) >= rank(c->prio))
		pp = &(*pp)->next;
	c->next = *pp;
	*pp = c;
	if (!c->next)
		q->tail = c;
	q->n++;
}

/* The newest LOW call of q not started yet (LOW calls are at the end). */
static struct slack_api_call *newest_low(struct queue *q)
{
	struct slack_api_call *c = q ? q->tail : NULL;

	return c && c->prio == SLACK_PRIO_LOW && !started(c) ? c : NULL;
}

static struct slack_api_call *newest_low_anywhere(struct slack_api *a)
{
	struct slack_api_call *best = NULL, *c;

	for (struct queue *q = a->qhead; q; q = q->next)
		if ((c = newest_low(q)) && (!best || c->seq > best->seq))
			best = c;
	return best;
}

/* A call refused or evicted for room: counted; one log line per burst
 * (at most one per BUSY_LOG_MS, saying how many since the last). */
static void note_busy(struct slack_api *a, const char *what, const char *key, const char *action)
{
	uint64_t now = now_ms(a);

	a->dropped++;
	a->busy_unlogged++;
	if (a->busy_logged && now - a->busy_log_ms < BUSY_LOG_MS)
		return;
	log_warn("slack.api.busy", "method=%s channel=%s action=%s dropped=%lu dropped_total=%llu "
		 "queue_max=%zu total_max=%zu", what, LOG_Q(key ? key : "-"), action,
		 a->busy_unlogged, (unsigned long long)a->dropped, a->queue_max, a->total_max);
	a->busy_logged = true;
	a->busy_log_ms = now;
	a->busy_unlogged = 0;
}

/* Out of its queue into the doomed list: pump() runs its callback with
 * BOT_EBUSY (never from inside slack_api_call). */
static void evict(struct slack_api *a, struct slack_api_call *c)
{
	struct slack_api_call **pp = &a->doomed;

	note_busy(a, c->what, c->secret_url ? NULL : c->q->key, "evicted");
	unqueue(c);
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	c->doomed = true;
}

/* Room for c in q (NULL: a queue of its own)? BOT_EOK, possibly after
 * evicting a LOW call, or BOT_EBUSY for a LOW call. Higher calls are let
 * in over the bound when there is no LOW call to evict. */
static int make_room(struct slack_api *a, struct queue *q, struct slack_api_call *c,
		     const char *key)
{
	bool q_full = q && q->n >= a->queue_max;
	struct slack_api_call *victim = NULL;

	if (!q_full && a->pending < a->total_max)
		return BOT_EOK;
	if (c->prio == SLACK_PRIO_LOW) {
		note_busy(a, c->what, c->secret_url ? NULL : key, "refused");
		return BOT_EBUSY;
	}
	if (q_full)
		victim = newest_low(q);
	/* another queue's call only makes room when all of them are full */
	if (!victim && a->pending >= a->total_max)
		victim = newest_low_anywhere(a);
	if (victim)
		evict(a, victim);
	return BOT_EOK;
}

int slack_api_call(struct slack_api *a, const struct slack_api_req *req, slack_api_cb cb,
		   void *ud, struct slack_api_call **out)
{
	struct slack_api_call *c = NULL;
	struct queue *q;
	const char *key;
	size_t n;
	int rc = BOT_EOK;

	if (out)
		*out = NULL;
	if (!a || !req || (!req->method == !req->url))
		return BOT_EINVAL;
	if (a->stopped || a->destroyed)
		return BOT_ESTATE;
	if ((req->token == SLACK_TOKEN_BOT && !a->bot_auth) ||
	    (req->token == SLACK_TOKEN_APP && !a->app_auth))
		return BOT_EINVAL;
	c = calloc(1, sizeof *c);
	if (!c)
		return BOT_ENOMEM;
	c->a = a;
	c->cb = cb;
	c->ud = ud;
	c->prio = req->prio;
	c->seq = ++a->seq;
	c->token = req->url ? SLACK_TOKEN_NONE : req->token;
	c->secret_url = req->url != NULL;
	c->what = strdup(req->url ? "response_url" : req->method);
	if (req->url) {
		c->url = strdup(req->url);
	} else {
		n = strlen(a->api_url) + strlen(req->method) + 2;
		c->url = malloc(n);
		if (c->url)
			snprintf(c->url, n, "%s/%s", a->api_url, req->method);
	}
	if (!c->what || !c->url) {
		rc = BOT_ENOMEM;
		goto out;
	}
	if (req->body) {
		c->body = json_dumps(req->body, JSON_COMPACT);
		if (!c->body) {
			rc = BOT_ENOMEM;
			goto out;
		}
		c->body_len = strlen(c->body);
	} else {
		c->form = true;
	}
	/* A response_url is its own ordering key: replies to one event keep
	 * their order. */
	key = req->url ? req->url : req->queue;
	rc = make_room(a, find_queue(a, key), c, key);
	if (rc)
		goto out;
	q = queue_for(a, key);
	if (!q) {
		rc = BOT_ENOMEM;
		goto out;
	}
	c->q = q;
	enqueue(q, c);
	a->pending++;
	schedule(a, 0);
	if (out)
		*out = c;
	c = NULL;
out:
	if (c)
		call_free(c);
	return rc;
}

void slack_api_cancel(struct slack_api_call *c)
{
	struct slack_api *a;

	if (!c)
		return;
	a = c->a;
	c->cb = NULL;
	if (c->doomed) {
		struct slack_api_call **pp = &a->doomed;

		while (*pp != c)
			pp = &(*pp)->next;
		*pp = c->next;
		call_free(c);
		return;
	}
	if (c->http) {
		/* its on_http runs now with BOT_ECANCELLED and finishes it */
		http_cancel(c->http);
		return;
	}
	unqueue(c);
	call_free(c);
	schedule(a, 0);
}

/* Finish every call, with its callback (cb_ok) or without. */
static void drop_all(struct slack_api *a, bool cb_ok)
{
	while (a->doomed) {
		struct slack_api_call *c = a->doomed;

		a->doomed = c->next;
		c->next = NULL;
		c->doomed = false;
		if (!cb_ok)
			c->cb = NULL;
		finish(c, BOT_EBUSY, "queue_full", 0, NULL);
		if (a->destroyed && cb_ok)
			return;
	}
	while (a->qhead) {
		struct slack_api_call *c = a->qhead->head;

		if (!cb_ok)
			c->cb = NULL;
		if (c->http)
			http_cancel(c->http); /* -> on_http(ECANCELLED) -> finish */
		else
			finish(c, BOT_ECANCELLED, "cancelled", 0, NULL);
		if (a->destroyed && cb_ok)
			return; /* a callback destroyed the client, which dropped the rest */
	}
}

void slack_api_cancel_all(struct slack_api *a)
{
	if (!a || a->stopped)
		return;
	a->stopped = true;
	drop_all(a, true);
	if (!a->destroyed)
		close_timer(a);
}

unsigned slack_api_in_flight(const struct slack_api *a)
{
	return a->in_flight;
}

size_t slack_api_pending(const struct slack_api *a)
{
	return a ? a->pending : 0;
}

uint64_t slack_api_dropped(const struct slack_api *a)
{
	return a ? a->dropped : 0;
}

void slack_api_destroy(struct slack_api *a)
{
	if (!a || a->destroyed)
		return;
	a->stopped = true;
	a->destroyed = true;
	a->in_cb++; /* keep a alive while the in-flight calls are cancelled */
	drop_all(a, false);
	a->in_cb--;
	close_timer(a);
	maybe_free(a);
}

static char *auth_header(const char *token)
{
	static const char pre[] = "Authorization: Bearer ";
	size_t n;
	char *h;

	if (!token || !*token)
		return NULL;
	n = sizeof pre + strlen(token);
	h = malloc(n);
	if (h)
		snprintf(h, n, "%s%s", pre, token);
	return h;
}

int slack_api_create(uv_loop_t *loop, const struct slack_api_opts *o, struct slack_api **out,
		     struct bot_error *err)
{
	struct slack_api *a = NULL;
	const struct slack_retry_policy *rp;
	size_t n;
	int rc = BOT_EOK;

	*out = NULL;
	if (!loop || !o || !o->http || !o->api_url || !*o->api_url)
		return bot_error_set(err, BOT_EINVAL, "slack web api: http client and api_url required");
	rp = o->retry ? o->retry : &default_retry;
	if (!rp->delays_ms || !rp->n_delays)
		return bot_error_set(err, BOT_EINVAL, "slack web api: empty retry policy");
	a = calloc(1, sizeof *a);
	if (!a)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	a->loop = loop;
	a->http = o->http;
	a->max_ratelimited = o->max_ratelimited ? o->max_ratelimited : DEFAULT_MAX_RATELIMITED;
	a->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	a->queue_max = o->queue_max ? o->queue_max : DEFAULT_QUEUE_MAX;
	a->total_max = o->total_max ? o->total_max : DEFAULT_TOTAL_MAX;
	a->max_in_flight = o->max_in_flight ? o->max_in_flight : DEFAULT_MAX_IN_FLIGHT;
	if (a->max_in_flight < 4)
		a->max_in_flight = 4; /* room for urgent calls */
	a->api_url = strdup(o->api_url);
	a->retry_steps = malloc(rp->n_delays * sizeof *a->retry_steps);
	if (!a->api_url || !a->retry_steps) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	n = strlen(a->api_url);
	while (n && a->api_url[n - 1] == '/')
		a->api_url[--n] = '\0';
	memcpy(a->retry_steps, rp->delays_ms, rp->n_delays * sizeof *a->retry_steps);
	a->retry = *rp;
	a->retry.delays_ms = a->retry_steps;
	if ((o->bot_token && !(a->bot_auth = auth_header(o->bot_token))) ||
	    (o->app_token && !(a->app_auth = auth_header(o->app_token)))) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	/* Tokens never reach a log line (config registers them too; this
	 * covers tokens that did not come from the config). */
	if ((o->bot_token && log_add_secret(o->bot_token) == BOT_ENOMEM) ||
	    (o->app_token && log_add_secret(o->app_token) == BOT_ENOMEM)) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	(void)uv_timer_init(loop, &a->timer); /* cannot fail on unix */
	a->timer.data = a;
	*out = a;
	a = NULL;
out:
	if (a) {
		free(a->bot_auth);
		free(a->app_auth);
		free(a->api_url);
		free(a->retry_steps);
		free(a);
	}
	return rc;
}
