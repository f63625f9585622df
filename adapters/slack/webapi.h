/* webapi.h - Slack Web API client on adapters/http (prefix slack_api_).
 *
 *   slack_api_call(api, &(struct slack_api_req){ .method = "chat.postMessage",
 *                  .body = msg, .queue = "C123" }, on_done, me, NULL);
 *
 * Requests are POSTs with a JSON body (Content-Type: application/json;
 * charset=utf-8) and the token in the Authorization header, never in the
 * body or the URL. A request without a body (auth.test,
 * apps.connections.open) is sent form-encoded and empty, as Slack's docs
 * show. A request with .url instead of .method (a response_url) goes to that
 * URL with no token, and its path is never logged (it is a credential).
 *
 * Ordering and rate limits (Slack: per method, per workspace, and about one
 * message per second per channel; 429 + Retry-After when exceeded):
 * - Calls with the same .queue key run one at a time; use the channel id,
 *   so messages to one channel keep their order. Calls without a key are
 *   independent.
 * - Within a queue a call goes ahead of the waiting calls of a lower
 *   .prio, never ahead of one of its own priority (FIFO within a priority)
 *   and never ahead of a head already started (in flight, or waiting out a
 *   429 or a retry). So under a burst of ephemerals in a channel a gate's
 *   card update waits for at most the one call in flight, not the burst.
 * - Queues are bounded: queue_max calls per queue, total_max over all.
 *   When a bound is reached a SLACK_PRIO_LOW call is refused at once
 *   (slack_api_call returns BOT_EBUSY, its callback does not run); a call
 *   of a higher priority takes the place of the newest waiting LOW call
 *   (of its queue, else of any queue), whose callback then runs with
 *   BOT_EBUSY, error "queue_full". Higher calls are never refused for
 *   room: with no LOW call to evict they go over the bound (they are a
 *   gate's own messages, a few per decision). Drops are counted
 *   (slack_api_dropped) and logged at most once per 10 s (event
 *   slack.api.busy, with how many since the last line).
 * - A 429 locks (method, queue key) out for Retry-After seconds (1 s if the
 *   header is missing or unreadable): the call stays at the head of its
 *   queue and is sent again when the lock-out ends, so its channel keeps
 *   its order while other channels (other keys) carry on. A call gives up
 *   with BOT_ERATELIMIT after max_ratelimited 429s.
 * - HTTP 5xx, ok:false "service_unavailable", and transport errors
 *   (BOT_ETRANSPORT, BOT_ETIMEOUT) are retried with the `retry` policy's
 *   backoff, a bounded number of times. Nothing else is retried: other
 *   ok:false errors, TLS failures, 4xx.
 *
 * Errors: ok:false maps to a bot_err code by a table (slack_api_error_code)
 * and the Slack error string is passed on, e.g. BOT_ENOTFOUND +
 * "channel_not_found"; every final failure is logged once (event
 * slack.api.error) with the method, the error, the code and, for the
 * common mistakes, a hint (not_in_channel: invite the bot).
 *
 * Callbacks run on the loop, never from inside slack_api_call. Loop thread
 * only.
 */
#ifndef ADAPTERS_SLACK_WEBAPI_H
#define ADAPTERS_SLACK_WEBAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/http/http.h"
#include "adapters/slack/retry.h"
#include "bot/base/error.h"

struct slack_api;
struct slack_api_call;

enum slack_token {
	SLACK_TOKEN_BOT = 0,  /* xoxb-: chat.*, auth.test */
	SLACK_TOKEN_APP,      /* xapp-: apps.connections.open */
	SLACK_TOKEN_NONE,     /* response_url */
};

struct slack_api_opts {
	struct http *http;        /* borrowed; must outlive the client */
	const char *api_url;      /* e.g. "https://slack.com/api" (no trailing slash needed) */
	const char *bot_token;    /* copied; may be NULL if never used */
	const char *app_token;    /* copied; may be NULL if never used */
	/* Retries of 5xx and transport errors; NULL: 500, 1000, 2000 ms,
	 * 20 % jitter, 3 retries. */
	const struct slack_retry_policy *retry;
	unsigned max_ratelimited; /* 429s a call waits out; 0: 10 */
	long timeout_ms;          /* per HTTP attempt; 0: 10000 */
	size_t queue_max;         /* calls waiting per queue key; 0: 256 */
	size_t total_max;         /* calls waiting over all queues; 0: 1024 */
	/* HTTP requests in flight at once over all queues (a burst of
	 * response_url answers, each its own queue, must not open a socket
	 * each); a quarter is kept for SLACK_PRIO_HIGH calls. 0: 16. */
	unsigned max_in_flight;
};

/* What may be dropped under a burst, and what goes first (see above). */
enum slack_prio {
	SLACK_PRIO_NORMAL = 0,    /* the default: never dropped (auth.test, ...) */
	SLACK_PRIO_LOW,           /* ephemerals, informational posts: dropped when full */
	SLACK_PRIO_HIGH,          /* a gate's card, its updates and thread lines */
};

struct slack_api_req {
	const char *method;       /* "chat.postMessage" (required unless url) */
	const char *url;          /* instead of api_url/method: a response_url (no token) */
	enum slack_token token;
	json_t *body;             /* borrowed, serialised at once; NULL: empty form body */
	const char *queue;        /* ordering key (a channel id), or NULL */
	enum slack_prio prio;
};

struct slack_api_result {
	int rc;                   /* BOT_EOK or the mapped code */
	const char *error;        /* Slack's error ("channel_not_found"), "http_<status>",
				     the transport's reason, or NULL on success */
	long status;              /* last HTTP status, 0 if none arrived */
	json_t *body;             /* the parsed answer, or NULL (not JSON / no answer) */
	unsigned attempts;        /* HTTP requests made */
};

/* r and everything in it are valid only during the callback. */
typedef void (*slack_api_cb)(void *ud, const struct slack_api_result *r);

/* Copies what it keeps from o. Returns 0, BOT_EINVAL (no http/api_url),
 * BOT_ENOMEM. */
int slack_api_create(uv_loop_t *loop, const struct slack_api_opts *o, struct slack_api **out,
		     struct bot_error *err);

/* Frees the client. Pending calls are dropped WITHOUT their callbacks
 * (their owners may be gone); use slack_api_cancel_all first to tell them.
 * The memory goes in the timer's close callback. NULL ok. */
void slack_api_destroy(struct slack_api *a);

/* Queue a call. cb (may be NULL) runs exactly once, later, unless the call
 * is cancelled or the client destroyed. *out (may be NULL) identifies the
 * call for slack_api_cancel until cb starts. Returns 0, BOT_EINVAL,
 * BOT_ESTATE (after cancel_all/destroy), BOT_EBUSY (a LOW call, its queue
 * or all queues full), BOT_ENOMEM. */
int slack_api_call(struct slack_api *a, const struct slack_api_req *req, slack_api_cb cb,
		   void *ud, struct slack_api_call **out);

/* Forget a call: its callback will not run. NULL ok. */
void slack_api_cancel(struct slack_api_call *c);

/* Stop: every pending call's callback runs now with BOT_ECANCELLED, and
 * later slack_api_call()s return BOT_ESTATE. */
void slack_api_cancel_all(struct slack_api *a);

/* Calls queued or in flight. */
size_t slack_api_pending(const struct slack_api *a);
/* HTTP requests in flight now (at most opts.max_in_flight). */
unsigned slack_api_in_flight(const struct slack_api *a);
/* Calls refused or evicted for room (BOT_EBUSY) since create. */
uint64_t slack_api_dropped(const struct slack_api *a);

/* The bot_err code for a Slack `error` string (BOT_EREMOTE when unknown). */
int slack_api_error_code(const char *slack_error);
/* A short hint for an operator for the common errors, or NULL. */
const char *slack_api_error_hint(const char *slack_error);

/* For tests: is the error table sorted and unique (bsearch needs it)? */
bool slack_api_error_table_ok(void);

#endif
