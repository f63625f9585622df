/* fake_http.h - a tiny HTTP/1.1 server on the bot's loop for tests (prefix
 * fake_http_): fault injection in front of moto, a container-credentials
 * endpoint, a fake IMDS.
 *
 * Listens on 127.0.0.1 (kernel-chosen port). For each request (read whole:
 * headers + Content-Length body) it asks the handler what to do:
 *   FAKE_HTTP_RESPOND  answer with resp (status, extra header lines, body),
 *                      then close the connection;
 *   FAKE_HTTP_FORWARD  send the request bytes unchanged to
 *                      127.0.0.1:upstream_port and relay the answer until
 *                      the upstream closes (moto's werkzeug closes after each
 *                      reply), then close;
 *   FAKE_HTTP_HANGUP   close at once without answering (a transport error);
 *   FAKE_HTTP_HOLD     never answer (the connection stays open until the
 *                      client gives up or the fake is closed).
 * One request per connection ("Connection: close" on our answers).
 * Registers a bot_loop shutdown hook that closes everything; destroy does
 * the same earlier. Memory goes in uv close callbacks.
 */
#ifndef TESTS_FAKES_FAKE_HTTP_H
#define TESTS_FAKES_FAKE_HTTP_H

#include <stddef.h>

#include "bot/base/loop.h"

struct fake_http;

struct fake_http_req {
	const char *method, *path; /* NUL-terminated copies */
	const char *head;          /* the raw header block (request line included) */
	const char *body;
	size_t body_len;
};

struct fake_http_resp {
	int status;
	const char *headers; /* extra "Name: value\r\n" lines, or NULL */
	const char *body;    /* NULL = empty */
};

enum fake_http_action { FAKE_HTTP_RESPOND, FAKE_HTTP_FORWARD, FAKE_HTTP_HANGUP, FAKE_HTTP_HOLD };

typedef enum fake_http_action (*fake_http_handler)(void *ud, const struct fake_http_req *req,
						    struct fake_http_resp *resp);

/* upstream_port 0: FORWARD answers 502. Returns 0 or -1. */
int fake_http_start(struct bot_loop *loop, int upstream_port, fake_http_handler h, void *ud,
		    struct fake_http **out);
int fake_http_port(const struct fake_http *f);
/* Requests seen so far. */
unsigned fake_http_count(const struct fake_http *f);
/* Header value (first match, case-insensitive) copied into buf; NULL if absent. */
const char *fake_http_header(const struct fake_http_req *r, const char *name, char *buf, size_t n);
void fake_http_destroy(struct fake_http *f); /* NULL ok */

#endif
