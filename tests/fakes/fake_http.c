/* fake_http.c - see fake_http.h. */
#include "tests/fakes/fake_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#define MAX_REQ ((size_t)1 << 20)

struct conn;

struct fake_http {
	struct bot_loop *loop;
	uv_tcp_t server;
	int port, upstream;
	fake_http_handler h;
	void *ud;
	struct conn *conns;
	unsigned count;
	bool closed, destroyed, server_closed;
	int open; /* conns not yet fully closed */
};

struct conn {
	struct conn *next;
	struct fake_http *f;
	uv_tcp_t cli, up;
	bool up_init, cli_closing, up_closing, done;
	uv_connect_t connect;
	char *buf;
	size_t len, cap;
	int handles; /* open uv handles of this conn */
};

struct wreq {
	uv_write_t w;
	struct conn *c;
	bool close_after;
	char data[];
};

static void maybe_free_server(struct fake_http *f)
{
	if (f->destroyed && f->server_closed && f->open == 0)
		free(f);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct fake_http *f = c->f;

	if (--c->handles > 0)
		return;
	for (struct conn **pp = &f->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c->buf);
	free(c);
	f->open--;
	maybe_free_server(f);
}

static void conn_close(struct conn *c)
{
	if (!c->cli_closing) {
		c->cli_closing = true;
		uv_close((uv_handle_t *)&c->cli, conn_handle_closed);
	}
	if (c->up_init && !c->up_closing) {
		c->up_closing = true;
		uv_close((uv_handle_t *)&c->up, conn_handle_closed);
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct wreq *r = container_of(w, struct wreq, w);

	(void)status;
	if (r->close_after)
		conn_close(r->c);
	free(r);
}

static void write_to(struct conn *c, uv_stream_t *s, const char *data, size_t n, bool close_after)
{
	struct wreq *r = malloc(sizeof *r + n);
	uv_buf_t b;

	if (!r || uv_is_closing((uv_handle_t *)s)) {
		free(r);
		if (close_after)
			conn_close(c);
		return;
	}
	memcpy(r->data, data, n);
	r->c = c;
	r->close_after = close_after;
	b = uv_buf_init(r->data, (unsigned)n);
	if (uv_write(&r->w, s, &b, 1, on_written) != 0) {
		free(r);
		conn_close(c);
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void respond(struct conn *c, const struct fake_http_resp *r)
{
	const char *body = r->body ? r->body : "";
	size_t bl = strlen(body);
	size_t n = 256 + (r->headers ? strlen(r->headers) : 0) + bl;
	char *out = malloc(n);
	int w;

	if (!out) {
		conn_close(c);
		return;
	}
	w = snprintf(out, n, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     r->status, reason(r->status), bl, r->headers ? r->headers : "");
	memcpy(out + w, body, bl);
	write_to(c, (uv_stream_t *)&c->cli, out, (size_t)w + bl, true);
	free(out);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	b->base = malloc(sz);
	b->len = b->base ? sz : 0;
}

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n > 0)
		write_to(c, (uv_stream_t *)&c->cli, b->base, (size_t)n, false);
	else if (n < 0)
		/* upstream done: close once what we relayed is written */
		write_to(c, (uv_stream_t *)&c->cli, "", 0, true);
	free(b->base);
}

static void on_up_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (status != 0 || c->cli_closing) {
		respond(c, &(struct fake_http_resp){ .status = 502, .body = "upstream unreachable" });
		return;
	}
	write_to(c, (uv_stream_t *)&c->up, c->buf, c->len, false);
	(void)uv_read_start((uv_stream_t *)&c->up, alloc_cb, on_up_read);
}

static void forward(struct conn *c)
{
	struct sockaddr_in sa;
	struct fake_http *f = c->f;

	if (!f->upstream) {
		respond(c, &(struct fake_http_resp){ .status = 502, .body = "no upstream" });
		return;
	}
	uv_ip4_addr("127.0.0.1", f->upstream, &sa);
	(void)uv_tcp_init(bot_loop_uv(f->loop), &c->up);
	c->up.data = c;
	c->up_init = true;
	c->handles++;
	c->connect.data = c;
	if (uv_tcp_connect(&c->connect, &c->up, (struct sockaddr *)&sa, on_up_connect) != 0)
		respond(c, &(struct fake_http_resp){ .status = 502, .body = "connect failed" });
}

/* A complete request is in c->buf: split it and ask the handler. */
static void handle(struct conn *c, size_t head_len, size_t body_len)
{
	struct fake_http *f = c->f;
	char method[16] = "", path[1024] = "";
	struct fake_http_resp resp = { .status = 200 };
	char *head = strndup(c->buf, head_len), *body = strndup(c->buf + head_len, body_len);

	if (!head || !body) {
		free(head);
		free(body);
		conn_close(c);
		return;
	}
	(void)sscanf(head, "%15s %1023s", method, path);
	struct fake_http_req req = { method, path, head, body, body_len };
	f->count++;
	c->done = true;
	switch (f->h(f->ud, &req, &resp)) {
	case FAKE_HTTP_RESPOND: respond(c, &resp); break;
	case FAKE_HTTP_FORWARD: forward(c); break;
	case FAKE_HTTP_HANGUP: conn_close(c); break;
	case FAKE_HTTP_HOLD: break; /* answer nothing; a client EOF closes it */
	}
	free(head);
	free(body);
}

static void on_cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n < 0) {
		free(b->base);
		if (!c->done || !c->up_init)
			conn_close(c);
		return;
	}
	if (n > 0 && !c->done) {
		if (c->len + (size_t)n + 1 > MAX_REQ) {
			free(b->base);
			conn_close(c);
			return;
		}
		if (c->len + (size_t)n + 1 > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			while (cap < c->len + (size_t)n + 1)
				cap *= 2;
			char *nb = realloc(c->buf, cap);
			if (!nb) {
				free(b->base);
				conn_close(c);
				return;
			}
			c->buf = nb;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, b->base, (size_t)n);
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		char *eoh = strstr(c->buf, "\r\n\r\n");
		if (eoh) {
			size_t hl = (size_t)(eoh - c->buf) + 4, cl = 0;
			for (char *p = c->buf; p < eoh; p = strstr(p, "\r\n") + 2) {
				if (strncasecmp(p, "Content-Length:", 15) == 0)
					cl = strtoul(p + 15, NULL, 10);
				if (!strstr(p, "\r\n"))
					break;
			}
			if (c->len >= hl + cl)
				handle(c, hl, cl);
		}
	}
	free(b->base);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct fake_http *f = server->data;
	struct conn *c;

	if (status != 0 || f->closed)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->f = f;
	(void)uv_tcp_init(bot_loop_uv(f->loop), &c->cli);
	c->cli.data = c;
	c->handles = 1;
	c->next = f->conns;
	f->conns = c;
	f->open++;
	if (uv_accept(server, (uv_stream_t *)&c->cli) != 0 ||
	    uv_read_start((uv_stream_t *)&c->cli, alloc_cb, on_cli_read) != 0)
		conn_close(c);
}

static void server_closed(uv_handle_t *h)
{
	struct fake_http *f = h->data;
	f->server_closed = true;
	maybe_free_server(f);
}

static void close_all(struct fake_http *f)
{
	if (f->closed)
		return;
	f->closed = true;
	for (struct conn *c = f->conns; c; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&f->server, server_closed);
}

static void on_shutdown(void *ud, bot_loop_done_fn done, void *done_ud)
{
	close_all(ud);
	done(done_ud);
}

int fake_http_start(struct bot_loop *loop, int upstream_port, fake_http_handler h, void *ud,
		    struct fake_http **out)
{
	struct fake_http *f = calloc(1, sizeof *f);
	struct sockaddr_in sa;
	int sl = sizeof sa;

	*out = NULL;
	if (!f)
		return -1;
	f->loop = loop;
	f->upstream = upstream_port;
	f->h = h;
	f->ud = ud;
	(void)uv_tcp_init(bot_loop_uv(loop), &f->server);
	f->server.data = f;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	if (uv_tcp_bind(&f->server, (struct sockaddr *)&sa, 0) != 0 ||
	    uv_listen((uv_stream_t *)&f->server, 64, on_connection) != 0 ||
	    uv_tcp_getsockname(&f->server, (struct sockaddr *)&sa, &sl) != 0 ||
	    bot_loop_on_shutdown(loop, on_shutdown, f) != 0) {
		f->destroyed = true;
		close_all(f);
		return -1;
	}
	f->port = ntohs(sa.sin_port);
	*out = f;
	return 0;
}

int fake_http_port(const struct fake_http *f) { return f->port; }
unsigned fake_http_count(const struct fake_http *f) { return f->count; }

const char *fake_http_header(const struct fake_http_req *r, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *p = strstr(r->head, "\r\n");

	while (p && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		const char *e = strstr(p, "\r\n");
		if (!e)
			break;
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, n, "%.*s", (int)(e - v), v);
			return buf;
		}
		p = e;
	}
	return NULL;
}

void fake_http_destroy(struct fake_http *f)
{
	if (!f || f->destroyed)
		return;
	f->destroyed = true;
	bot_loop_off_shutdown(f->loop, on_shutdown, f);
	close_all(f);
	maybe_free_server(f);
}
