/* http.h - asynchronous HTTP(S) client: a libcurl multi handle on the bot's
 * one uv loop (no threads for numeric hosts and "localhost"; see
 * event-loop-notes.md §3 for the resolver thread curl starts for other
 * names).
 *
 *   struct http *h;
 *   http_create(loop, &(struct http_opts){ .user_agent = "bot/1" }, &h, &err);
 *   http_send(h, &(struct http_request){ .url = "https://slack.com/api/x",
 *             .headers = (const char *const[]){ "Authorization: Bearer ...", NULL } },
 *             on_done, me, &me->call);
 *   ...
 *   static void on_done(void *ud, int rc, const struct http_response *r, const char *errmsg)
 *
 * Callbacks always run on the loop, never from inside http_send and never
 * from inside a curl callback. Inside a callback the caller may use
 * http_send, http_cancel and http_destroy freely.
 *
 * TLS verification is always on (peer and host name); opts.ca_file can only
 * add trust anchors to the system store. Logs carry method, host, path
 * (never the query), status, bytes and duration; header values are never
 * logged (they hold tokens).
 */
#ifndef ADAPTERS_HTTP_H
#define ADAPTERS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/base/error.h"
#include "bot/base/loop.h"

struct http;
struct http_call;

struct http_opts {
	/* PEM file of extra CA certificates, ADDED to the system store (for a
	 * private CA or a test server); NULL for none. Read once by
	 * http_create: a missing or empty file is BOT_ECONFIG. */
	const char *ca_file;
	/* User-Agent header; NULL for "chatops-bot". */
	const char *user_agent;
};

/* Create the client on loop and register its shutdown hook, which cancels
 * in-flight calls and tears curl down before lws is destroyed (notes §1
 * step 3). All strings in o are copied. Returns 0, BOT_ENOMEM, BOT_ECONFIG
 * (ca_file), BOT_EIO (curl/uv setup). */
int http_create(struct bot_loop *loop, const struct http_opts *o, struct http **out,
		struct bot_error *err);

/* Cancel every call still in flight - their callbacks run synchronously,
 * before this returns, with BOT_ECANCELLED - and free the client (the memory
 * goes in the uv close callbacks when handles are still open). Safe inside
 * a done callback and after bot_loop_run returned. NULL ok. */
void http_destroy(struct http *h);

struct http_request {
	const char *method;          /* "GET" (default), "POST", "PUT", ...: A-Z only */
	const char *url;             /* http:// or https:// only */
	const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
	const char *body;            /* copied; NULL with body_len 0 for none */
	size_t body_len;
	long timeout_ms;             /* whole call; 0 = 30000 */
	size_t max_response;         /* body cap; 0 = 4 MiB; over it: BOT_ETOOBIG */
	bool secret_path;            /* the path is a credential (a Slack response_url):
					logs show "/[REDACTED]" instead */
};

struct http_response {
	long status;          /* any HTTP status; rc is 0 whenever one arrived */
	const char *body;     /* NUL-terminated (not counted in body_len) */
	size_t body_len;
	long duration_ms;
	const struct http_call *call; /* private: for http_response_header */
};

/* Value of response header name (case-insensitive; the last one when it is
 * repeated), or NULL. Valid only during the callback, like the response. */
const char *http_response_header(const struct http_response *r, const char *name);

/* rc: 0 when a response arrived (resp non-NULL, any status); otherwise resp
 * is NULL and errmsg says why: BOT_ETIMEOUT (timeout_ms passed),
 * BOT_ETLS (certificate or handshake failure), BOT_ETRANSPORT (DNS,
 * connect, reset, bad reply), BOT_ETOOBIG (body over max_response),
 * BOT_ECANCELLED (http_cancel, http_destroy, loop shutdown).
 * resp, its body and errmsg are valid only during the callback. */
typedef void (*http_done_cb)(void *ud, int rc, const struct http_response *resp,
			     const char *errmsg);

/* Start a call. The request and everything it points to are copied, so they
 * may go away on return. cb runs exactly once, later, on the loop (never
 * from inside http_send). *call_out (may be NULL) identifies the call for
 * http_cancel until cb starts; clear your copy in cb. Returns 0, or
 * BOT_EINVAL (bad method/URL/header; cb will not run), BOT_ESTATE (client
 * shut down), BOT_ENOMEM, BOT_EIO. */
int http_send(struct http *h, const struct http_request *req, http_done_cb cb, void *ud,
	      struct http_call **call_out);

/* Cancel a call that is still in flight: its callback runs synchronously,
 * before http_cancel returns, with BOT_ECANCELLED. Once the callback has
 * started the call is gone, so c must not be used any more (calling this
 * from the call's own callback is ignored). NULL ok. */
void http_cancel(struct http_call *c);

#endif
