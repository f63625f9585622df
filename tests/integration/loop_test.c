/* The proof of the architecture (design.md "One event loop"): in one
 * process, on one uv loop, with no threads,
 *   - an lws server vhost on 127.0.0.1 serves HTTP (/ok, /slow, /big, /echo,
 *     /hang) and a websocket protocol (echo + server pushes);
 *   - an lws client holds a ws connection to it and exchanges messages
 *     (round trips, a 100 kB message arriving in fragments);
 *   - meanwhile adapters/http runs concurrent curl calls against the same
 *     server (ok, slow, big, refused port, timeout, too big, 404, POST,
 *     chained, cancelled, one still in flight at shutdown);
 *   - uv timers tick;
 * then bot_loop_shutdown tears it all down (polite ws close, curl cleanup,
 * lws destroy twice) and uv_loop_close() must return 0.
 * A second test runs HTTPS against lws TLS vhosts with throwaway
 * certificates (BOT_ETLS unless the CA is added with opts.ca_file); a third
 * checks hooks, the safety timeout, signals and teardown steps without lws.
 *
 * Checks inside loop callbacks are recorded (CHECK) and asserted after the
 * run, so a failure never longjmps out of lws or libuv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uv.h> /* before libwebsockets.h */
#include <libwebsockets.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/http/http.h"
#include "adapters/lws/lws.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/tls_cert.h"

#define WATCHDOG_MS  20000
#define N_PINGS      5
#define N_PUSHES     5
#define BIG_HTTP     ((size_t)1 << 20)
#define BIG_WS       ((size_t)100 * 1000)
#define CHUNK        16384

/* ---- shared helpers ----------------------------------------------------- */

struct failures {
	int n;
	char first[256];
};

#define CHECK(f, cond) check_((f), (cond), #cond, __LINE__)

static void check_(struct failures *f, bool ok, const char *what, int line)
{
	if (ok)
		return;
	f->n++;
	if (!f->first[0])
		snprintf(f->first, sizeof f->first, "line %d: %s", line, what);
	fprintf(stderr, "CHECK FAILED line %d: %s\n", line, what);
}

static int thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Log capture: everything still goes to stderr (meson keeps it); count the
 * lines a clean run must not have. */
static struct {
	int errors;     /* level=error */
	int late_close; /* event=loop.late_close */
	int lws;        /* event=lws: lws's own log, routed */
} logstats;

static void log_capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	fwrite(line, 1, len, stderr);
	if (strstr(line, " level=error "))
		logstats.errors++;
	if (strstr(line, " event=loop.late_close "))
		logstats.late_close++;
	if (strstr(line, " event=lws "))
		logstats.lws++;
}

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd); /* nobody listens there now: connect is refused */
	return port;
}

static unsigned char big_byte(size_t i)
{
	return (unsigned char)('a' + i % 26);
}

/* A queued ws message with LWS_PRE headroom. */
struct msg {
	struct msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE + len */
};

struct msgq {
	struct msg *head, *tail;
};

static bool msgq_push(struct msgq *q, const void *data, size_t len)
{
	struct msg *m = malloc(sizeof *m + LWS_PRE + len);

	if (!m)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	return true;
}

static struct msg *msgq_pop(struct msgq *q)
{
	struct msg *m = q->head;

	if (m) {
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
	}
	return m;
}

static void msgq_clear(struct msgq *q)
{
	struct msg *m;

	while ((m = msgq_pop(q)))
		free(m);
}

/* Reassembly buffer for fragmented ws messages. */
struct rxbuf {
	unsigned char *p;
	size_t len, cap;
	int fragments;
};

static bool rx_append(struct rxbuf *b, bool first, const void *in, size_t len)
{
	if (first) {
		b->len = 0;
		b->fragments = 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *np;
		while (cap < b->len + len + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return false;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, in, len);
	b->len += len;
	b->p[b->len] = '\0';
	b->fragments++;
	return true;
}

/* Write one queued message (one lws_write per WRITEABLE, notes §2). */
static int write_one(struct lws *wsi, struct msgq *q)
{
	struct msg *m = msgq_pop(q);
	int n;

	if (!m)
		return 0;
	n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
	free(m);
	if (n < 0)
		return -1;
	if (q->head)
		lws_callback_on_writable(wsi);
	return 0;
}

/* ==== test 1: everything on one loop ===================================== */

enum path_kind { P_OK, P_SLOW, P_BIG, P_ECHO, P_HANG, P_404 };

struct scenario;

/* A /slow response waiting for its uv timer. Lives until the timer's close
 * callback, independently of the wsi (lws frees the wsi's pss on close). */
struct slow {
	uv_timer_t timer;
	struct scenario *t;
	struct lws *wsi; /* NULL once the connection is gone */
	struct slow *next;
};

struct http_pss {
	enum path_kind kind;
	int status;
	const char *ctype;
	const unsigned char *body;
	size_t len, sent;
	char *owned; /* /echo body */
	bool ready, hdr_done;
	struct slow *slow;
};

struct expect {
	struct scenario *t;
	const char *name;
	int rc;
	long status;
	size_t len;        /* SIZE_MAX: don't check */
	const char *body;  /* NULL: don't check */
	long min_ms, max_ms;
	uint64_t t0;
	int calls;
	bool counted;      /* part of the "all done" condition */
	void (*extra)(struct expect *e, const struct http_response *r);
};

struct scenario {
	struct failures f;
	struct bot_loop *loop;
	struct lws_context *lws;
	struct http *http;
	struct lws_protocols srv_protocols[3];
	struct lws_protocols cli_protocols[2];
	struct lws_vhost *srv_vh, *cli_vh;
	int port, refused_port;
	unsigned char *big;

	/* server side */
	struct slow *slows;
	struct lws *srv_wsi;
	struct msgq srv_q;
	struct rxbuf srv_rx;
	uv_timer_t push_timer;
	int pushes_sent;
	int srv_close_code;
	bool srv_closed;

	/* ws client */
	struct lws *cli_wsi;
	struct msgq cli_q;
	struct rxbuf cli_rx;
	int hellos, echoes, pushes, big_fragments;
	bool cli_established, big_ok, cli_closing, cli_closed, cli_conn_error;
	bot_loop_done_fn cli_done;
	void *cli_done_ud;

	/* http */
	struct expect ex[12];
	int n_ex, http_outstanding;
	struct http_call *hang_call;
	bool cancel_cb_ran_sync;

	/* timers */
	uv_timer_t start, tick, oneshot, watchdog;
	int ticks, oneshots;
	bool watchdog_fired;
	int max_threads;
	uint64_t t_start, t_shutdown;
	bool shutdown_called;
};

static void sample_threads(struct scenario *t)
{
	int n = thread_count();

	if (n > t->max_threads)
		t->max_threads = n;
}

static void maybe_finish(struct scenario *t)
{
	if (t->shutdown_called)
		return;
	if (t->http_outstanding || t->echoes < N_PINGS || !t->big_ok || t->pushes < N_PUSHES ||
	    t->hellos != 1 || t->oneshots != 1 || t->ticks < 10)
		return;
	t->shutdown_called = true;
	t->t_shutdown = uv_hrtime();
	/* From inside whichever callback completed the scenario: an lws
	 * callback, an http callback or a uv timer. */
	bot_loop_shutdown(t->loop);
}

/* ---- the server: HTTP ---------------------------------------------------- */

static void slow_closed(uv_handle_t *h)
{
	struct slow *s = container_of((uv_timer_t *)h, struct slow, timer);
	struct slow **pp;

	for (pp = &s->t->slows; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

static void slow_fire(uv_timer_t *tm)
{
	struct slow *s = container_of(tm, struct slow, timer);

	if (s->wsi) {
		struct http_pss *pss = lws_wsi_user(s->wsi);
		pss->ready = true;
		pss->slow = NULL;
		/* From a uv callback: fine, it drives uv_poll directly. */
		lws_callback_on_writable(s->wsi);
	}
	uv_close((uv_handle_t *)&s->timer, slow_closed);
}

static void pss_release(struct http_pss *pss)
{
	if (pss->slow) {
		pss->slow->wsi = NULL;
		(void)uv_timer_stop(&pss->slow->timer);
		if (!uv_is_closing((uv_handle_t *)&pss->slow->timer))
			uv_close((uv_handle_t *)&pss->slow->timer, slow_closed);
		pss->slow = NULL;
	}
	free(pss->owned);
	pss->owned = NULL;
}

static void respond(struct http_pss *pss, int status, const char *ctype, const void *body,
		    size_t len)
{
	pss->status = status;
	pss->ctype = ctype;
	pss->body = body;
	pss->len = len;
	pss->sent = 0;
	pss->hdr_done = false;
}

static int srv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct scenario *t = lws_vhost_user(lws_get_vhost(wsi));
	struct http_pss *pss = user;
	static const char ok_body[] = "{\"ok\":true}";
	static const char not_found[] = "not found";
	static const char slow_body[] = "slow";

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		const char *path = in;
		pss_release(pss);
		memset(pss, 0, sizeof *pss);
		if (strcmp(path, "/ok") == 0) {
			respond(pss, 200, "application/json", ok_body, strlen(ok_body));
			pss->ready = true;
		} else if (strcmp(path, "/big") == 0) {
			respond(pss, 200, "application/octet-stream", t->big, BIG_HTTP);
			pss->ready = true;
		} else if (strcmp(path, "/slow") == 0) {
			struct slow *s = calloc(1, sizeof *s);
			if (!s)
				return -1;
			respond(pss, 200, "text/plain", slow_body, strlen(slow_body));
			s->t = t;
			s->wsi = wsi;
			s->next = t->slows;
			t->slows = s;
			pss->slow = s;
			(void)uv_timer_init(bot_loop_uv(t->loop), &s->timer);
			(void)uv_timer_start(&s->timer, slow_fire, 1000, 0);
			return 0;
		} else if (strcmp(path, "/hang") == 0) {
			pss->kind = P_HANG; /* never answered */
			return 0;
		} else if (strcmp(path, "/echo") == 0 &&
			   lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) {
			pss->kind = P_ECHO; /* answered at BODY_COMPLETION */
			pss->owned = strdup("echo:");
			return pss->owned ? 0 : -1;
		} else {
			respond(pss, 404, "text/plain", not_found, strlen(not_found));
			pss->ready = true;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_BODY: {
		size_t have = strlen(pss->owned);
		char *n = realloc(pss->owned, have + len + 1);
		if (!n)
			return -1;
		memcpy(n + have, in, len);
		n[have + len] = '\0';
		pss->owned = n;
		return 0;
	}
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		respond(pss, 200, "text/plain", pss->owned, strlen(pss->owned));
		pss->ready = true;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		unsigned char buf[LWS_PRE + CHUNK];
		unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
		size_t n;
		bool final;

		if (!pss->ready || (pss->hdr_done && pss->sent == pss->len))
			return 0;
		if (!pss->hdr_done) {
			if (lws_add_http_common_headers(wsi, (unsigned)pss->status, pss->ctype,
							(lws_filepos_t)pss->len, &p, end) ||
			    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-test:",
							(const unsigned char *)"one", 3, &p, end) ||
			    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-test:",
							(const unsigned char *)"two", 3, &p, end) ||
			    lws_finalize_write_http_header(wsi, start, &p, end))
				return 1;
			pss->hdr_done = true;
			lws_callback_on_writable(wsi);
			return 0;
		}
		n = pss->len - pss->sent;
		if (n > CHUNK)
			n = CHUNK;
		final = pss->sent + n == pss->len;
		memcpy(start, pss->body + pss->sent, n);
		if (lws_write(wsi, start, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return 1;
		pss->sent += n;
		if (final) {
			free(pss->owned);
			pss->owned = NULL;
			if (lws_http_transaction_completed(wsi))
				return -1;
			return 0;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss)
			pss_release(pss);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the server: websocket ----------------------------------------------- */

static void srv_send(struct scenario *t, const void *data, size_t len)
{
	CHECK(&t->f, t->srv_wsi != NULL);
	if (!t->srv_wsi)
		return;
	CHECK(&t->f, msgq_push(&t->srv_q, data, len));
	lws_callback_on_writable(t->srv_wsi);
}

static void push_fire(uv_timer_t *tm)
{
	struct scenario *t = container_of(tm, struct scenario, push_timer);
	char b[32];

	if (!t->srv_wsi || t->pushes_sent >= N_PUSHES) {
		(void)uv_timer_stop(tm);
		return;
	}
	snprintf(b, sizeof b, "push-%d", ++t->pushes_sent);
	srv_send(t, b, strlen(b));
}

static int srv_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct scenario *t = lws_vhost_user(lws_get_vhost(wsi));

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		t->srv_wsi = wsi;
		srv_send(t, "hello", 5);
		(void)uv_timer_start(&t->push_timer, push_fire, 100, 100);
		break;
	case LWS_CALLBACK_RECEIVE:
		CHECK(&t->f, rx_append(&t->srv_rx, lws_is_first_fragment(wsi), in, len));
		if (lws_is_final_fragment(wsi))
			srv_send(t, t->srv_rx.p, t->srv_rx.len); /* echo */
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_one(wsi, &t->srv_q);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *c = in;
			t->srv_close_code = c[0] << 8 | c[1];
		}
		break;
	case LWS_CALLBACK_CLOSED:
		t->srv_wsi = NULL;
		t->srv_closed = true;
		msgq_clear(&t->srv_q);
		(void)uv_timer_stop(&t->push_timer);
		break;
	default:
		break;
	}
	(void)user;
	return 0;
}

/* ---- the ws client -------------------------------------------------------- */

static void cli_send(struct scenario *t, const void *data, size_t len)
{
	if (!t->cli_wsi || t->cli_closing)
		return;
	CHECK(&t->f, msgq_push(&t->cli_q, data, len));
	lws_callback_on_writable(t->cli_wsi);
}

static void cli_ping(struct scenario *t, int k)
{
	char b[32];

	snprintf(b, sizeof b, "ping-%d", k);
	cli_send(t, b, strlen(b));
}

static void cli_message(struct scenario *t, const unsigned char *m, size_t len, int fragments)
{
	char want[32];

	if (len == 5 && memcmp(m, "hello", 5) == 0) {
		t->hellos++;
	} else if (len > 5 && memcmp(m, "push-", 5) == 0) {
		t->pushes++;
	} else if (len > 5 && memcmp(m, "ping-", 5) == 0) {
		snprintf(want, sizeof want, "ping-%d", t->echoes + 1);
		CHECK(&t->f, len == strlen(want) && memcmp(m, want, len) == 0);
		t->echoes++;
		if (t->echoes < N_PINGS) {
			cli_ping(t, t->echoes + 1);
		} else {
			/* then one big message, echoed back in fragments */
			unsigned char *b = malloc(BIG_WS);
			CHECK(&t->f, b != NULL);
			if (b) {
				for (size_t i = 0; i < BIG_WS; i++)
					b[i] = big_byte(i);
				cli_send(t, b, BIG_WS);
				free(b);
			}
		}
	} else if (len == BIG_WS) {
		bool same = true;
		for (size_t i = 0; i < len && same; i++)
			same = m[i] == big_byte(i);
		CHECK(&t->f, same);
		t->big_ok = same;
		t->big_fragments = fragments;
	} else {
		CHECK(&t->f, !"unexpected ws message");
	}
	maybe_finish(t);
}

static int cli_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct scenario *t = lws_vhost_user(lws_get_vhost(wsi));

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		t->cli_established = true;
		cli_ping(t, 1);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		CHECK(&t->f, rx_append(&t->cli_rx, lws_is_first_fragment(wsi), in, len));
		if (lws_is_final_fragment(wsi))
			cli_message(t, t->cli_rx.p, t->cli_rx.len, t->cli_rx.fragments);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (t->cli_closing)
			return 0; /* called once more while the close ack is awaited */
		return write_one(wsi, &t->cli_q);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "ws client connection error: %s\n", in ? (const char *)in : "?");
		t->cli_conn_error = true;
		/* fallthrough */
	case LWS_CALLBACK_CLIENT_CLOSED:
		t->cli_wsi = NULL; /* pwsi is never cleared by lws (notes 2.4) */
		t->cli_closed = true;
		msgq_clear(&t->cli_q);
		if (t->cli_done) {
			bot_loop_done_fn done = t->cli_done;
			t->cli_done = NULL;
			done(t->cli_done_ud);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Polite close (notes 2.1): no `return -1` from WRITEABLE, which Debian's
 * _DEBUG build turns into an abortive close. */
static void cli_stop_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct scenario *t = ud;

	t->cli_closing = true;
	if (!t->cli_wsi) {
		done(done_ud);
		return;
	}
	t->cli_done = done;
	t->cli_done_ud = done_ud;
	lws_close_reason(t->cli_wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
	lws_set_timeout(t->cli_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* The test's own uv handles close with the loop. */
static void test_stop_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct scenario *t = ud;

	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_close((uv_handle_t *)&t->oneshot, NULL);
	uv_close((uv_handle_t *)&t->watchdog, NULL);
	uv_close((uv_handle_t *)&t->push_timer, NULL);
	if (!uv_is_closing((uv_handle_t *)&t->start))
		uv_close((uv_handle_t *)&t->start, NULL);
	for (struct slow *s = t->slows; s; s = s->next) {
		if (s->wsi) /* the wsi outlives this timer: unlink both ways */
			((struct http_pss *)lws_wsi_user(s->wsi))->slow = NULL;
		s->wsi = NULL;
		if (!uv_is_closing((uv_handle_t *)&s->timer))
			uv_close((uv_handle_t *)&s->timer, slow_closed);
	}
	done(done_ud);
}

/* ---- http expectations ---------------------------------------------------- */

static void on_http(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct expect *e = ud;
	struct scenario *t = e->t;
	long ms = (long)((uv_hrtime() - e->t0) / 1000000u);

	sample_threads(t);
	e->calls++;
	if (rc != e->rc || (rc == 0 && r->status != e->status))
		fprintf(stderr, "http %s: rc=%s status=%ld err=%s\n", e->name, bot_err_name(rc),
			r ? r->status : 0, errmsg ? errmsg : "-");
	CHECK(&t->f, e->calls == 1);
	CHECK(&t->f, rc == e->rc);
	CHECK(&t->f, (rc == 0) == (r != NULL));
	CHECK(&t->f, (rc == 0) == (errmsg == NULL));
	if (rc == 0 && r) {
		CHECK(&t->f, r->status == e->status);
		if (e->len != SIZE_MAX)
			CHECK(&t->f, r->body_len == e->len);
		if (e->body)
			CHECK(&t->f, strcmp(r->body, e->body) == 0);
		CHECK(&t->f, r->body[r->body_len] == '\0');
	}
	CHECK(&t->f, ms >= e->min_ms);
	if (e->max_ms)
		CHECK(&t->f, ms <= e->max_ms);
	if (e->extra)
		e->extra(e, rc == 0 ? r : NULL);
	if (e->counted)
		t->http_outstanding--;
	maybe_finish(t);
}

static struct expect *expect_new(struct scenario *t, const char *name, int rc, long status)
{
	struct expect *e = &t->ex[t->n_ex++];

	assert_true((size_t)t->n_ex <= BOT_ARRAY_LEN(t->ex));
	memset(e, 0, sizeof *e);
	e->t = t;
	e->name = name;
	e->rc = rc;
	e->status = status;
	e->len = SIZE_MAX;
	e->counted = true;
	return e;
}

static void send_expect(struct scenario *t, struct expect *e, const struct http_request *req,
			struct http_call **call)
{
	e->t0 = uv_hrtime();
	if (e->counted)
		t->http_outstanding++;
	CHECK(&t->f, http_send(t->http, req, on_http, e, call) == BOT_EOK);
}

static void url(char *b, size_t n, int port, const char *path)
{
	snprintf(b, n, "http://127.0.0.1:%d%s", port, path);
}

static void extra_ok(struct expect *e, const struct http_response *r)
{
	struct scenario *t = e->t;
	const char *ct;
	char u[96];

	if (!r)
		return;
	ct = http_response_header(r, "Content-Type");
	CHECK(&t->f, ct && strcmp(ct, "application/json") == 0);
	/* case-insensitive, last value wins */
	CHECK(&t->f, http_response_header(r, "X-TEST") &&
		      strcmp(http_response_header(r, "X-TEST"), "two") == 0);
	CHECK(&t->f, http_response_header(r, "X-Absent") == NULL);
	/* send from inside a done callback */
	struct expect *c = expect_new(t, "chained", 0, 200);
	c->body = "{\"ok\":true}";
	url(u, sizeof u, t->port, "/ok");
	send_expect(t, c, &(struct http_request){ .url = u }, NULL);
}

static void extra_big(struct expect *e, const struct http_response *r)
{
	bool same = true;

	if (!r)
		return;
	for (size_t i = 0; i < r->body_len && same; i++)
		same = (unsigned char)r->body[i] == big_byte(i);
	CHECK(&e->t->f, same);
}

static void extra_cancel(struct expect *e, const struct http_response *r)
{
	(void)r;
	e->t->cancel_cb_ran_sync = true;
}

static void extra_hang(struct expect *e, const struct http_response *r)
{
	(void)r;
	/* cancelled by adapters/http's shutdown hook */
	CHECK(&e->t->f, e->t->shutdown_called);
	e->t->hang_call = NULL;
}

static void start_http(struct scenario *t)
{
	struct http_call *call = NULL;
	struct expect *e;
	char u[96];
	char *body;

	e = expect_new(t, "ok", 0, 200);
	e->body = "{\"ok\":true}";
	e->extra = extra_ok;
	url(u, sizeof u, t->port, "/ok");
	send_expect(t, e, &(struct http_request){ .url = u, .headers = (const char *const[]){
		"Authorization: Bearer xoxb-not-logged", "Accept: application/json", NULL } },
		NULL);

	e = expect_new(t, "slow", 0, 200);
	e->body = "slow";
	e->min_ms = 950;
	url(u, sizeof u, t->port, "/slow");
	send_expect(t, e, &(struct http_request){ .url = u }, NULL);

	e = expect_new(t, "big", 0, 200);
	e->len = BIG_HTTP;
	e->extra = extra_big;
	url(u, sizeof u, t->port, "/big");
	send_expect(t, e, &(struct http_request){ .url = u }, NULL);

	e = expect_new(t, "refused", BOT_ETRANSPORT, 0);
	url(u, sizeof u, t->refused_port, "/ok");
	send_expect(t, e, &(struct http_request){ .url = u }, NULL);

	e = expect_new(t, "timeout", BOT_ETIMEOUT, 0);
	e->min_ms = 150;
	e->max_ms = 900;
	url(u, sizeof u, t->port, "/slow");
	send_expect(t, e, &(struct http_request){ .url = u, .timeout_ms = 200 }, NULL);

	e = expect_new(t, "toobig", BOT_ETOOBIG, 0);
	url(u, sizeof u, t->port, "/big");
	send_expect(t, e, &(struct http_request){ .url = u, .max_response = 65536 }, NULL);

	e = expect_new(t, "notfound", 0, 404);
	e->body = "not found";
	url(u, sizeof u, t->port, "/nope");
	send_expect(t, e, &(struct http_request){ .url = u }, NULL);

	/* the body is copied: scribble over it and free it right away */
	e = expect_new(t, "echo", 0, 200);
	e->body = "echo:a=1&b=two";
	body = strdup("a=1&b=two");
	CHECK(&t->f, body != NULL);
	url(u, sizeof u, t->port, "/echo");
	send_expect(t, e, &(struct http_request){ .method = "POST", .url = u, .body = body,
		.body_len = strlen("a=1&b=two"), .headers = (const char *const[]){
		"Content-Type: application/x-www-form-urlencoded", NULL } }, NULL);
	memset(body, 'X', strlen(body));
	free(body);

	/* cancelled at once: the callback runs inside http_cancel */
	e = expect_new(t, "cancelled", BOT_ECANCELLED, 0);
	e->extra = extra_cancel;
	url(u, sizeof u, t->port, "/slow");
	send_expect(t, e, &(struct http_request){ .url = u }, &call);
	CHECK(&t->f, call != NULL);
	CHECK(&t->f, !t->cancel_cb_ran_sync);
	http_cancel(call);
	CHECK(&t->f, t->cancel_cb_ran_sync);

	/* still in flight at shutdown */
	e = expect_new(t, "hang", BOT_ECANCELLED, 0);
	e->counted = false;
	e->extra = extra_hang;
	url(u, sizeof u, t->port, "/hang");
	send_expect(t, e, &(struct http_request){ .url = u }, &t->hang_call);

	/* refused synchronously: no callback */
	CHECK(&t->f, http_send(t->http, &(struct http_request){ .url = "ftp://127.0.0.1/x" },
			       on_http, e, NULL) == BOT_EINVAL);
	CHECK(&t->f, http_send(t->http, &(struct http_request){ .url = u, .headers =
		(const char *const[]){ "X-Bad: a\r\nInjected: 1", NULL } }, on_http, e, NULL) ==
		BOT_EINVAL);
	CHECK(&t->f, http_send(t->http, &(struct http_request){ .method = "get", .url = u },
			       on_http, e, NULL) == BOT_EINVAL);
}

/* ---- timers and start ----------------------------------------------------- */

static void on_tick(uv_timer_t *tm)
{
	struct scenario *t = container_of(tm, struct scenario, tick);

	t->ticks++;
	sample_threads(t);
	maybe_finish(t);
}

static void on_oneshot(uv_timer_t *tm)
{
	struct scenario *t = container_of(tm, struct scenario, oneshot);

	t->oneshots++;
	maybe_finish(t);
}

static void on_watchdog(uv_timer_t *tm)
{
	struct scenario *t = container_of(tm, struct scenario, watchdog);

	t->watchdog_fired = true;
	fprintf(stderr, "WATCHDOG: echoes=%d big=%d pushes=%d http_outstanding=%d ticks=%d\n",
		t->echoes, t->big_ok, t->pushes, t->http_outstanding, t->ticks);
	bot_loop_shutdown(t->loop);
}

static void on_start(uv_timer_t *tm)
{
	struct scenario *t = container_of(tm, struct scenario, start);
	struct lws_client_connect_info ci;

	uv_close((uv_handle_t *)tm, NULL);
	sample_threads(t);
	memset(&ci, 0, sizeof ci);
	ci.context = t->lws;
	ci.vhost = t->cli_vh;
	ci.address = "127.0.0.1";
	ci.port = t->port;
	ci.path = "/ws";
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.protocol = NULL; /* no Sec-WebSocket-Protocol, like Slack */
	ci.local_protocol_name = "test-client";
	ci.pwsi = &t->cli_wsi;
	CHECK(&t->f, lws_client_connect_via_info(&ci) != NULL);
	start_http(t);
}

static const struct lws_protocol_vhost_options pvo_default = { NULL, NULL, "default", "1" };
static const struct lws_protocol_vhost_options pvo_ws = { NULL, &pvo_default, "test-ws", "" };

static void test_one_loop(void **state)
{
	struct scenario *t = calloc(1, sizeof *t);
	struct lws_context_creation_info vi;
	struct bot_error err = { .msg = "" };
	uv_loop_t *uv;
	uint64_t t_end;

	(void)state;
	assert_non_null(t);
	logstats.errors = logstats.late_close = 0;
	t->big = malloc(BIG_HTTP);
	assert_non_null(t->big);
	for (size_t i = 0; i < BIG_HTTP; i++)
		t->big[i] = big_byte(i);
	t->refused_port = free_port();
	assert_true(t->refused_port > 0);

	assert_int_equal(bot_loop_create(&t->loop, &err), BOT_EOK);
	uv = bot_loop_uv(t->loop);
	t->lws = bot_lws_context(t->loop, &err);
	assert_non_null(t->lws);
	assert_ptr_equal(bot_lws_context(t->loop, &err), t->lws); /* one per process */

	/* server vhost: HTTP + a ws protocol that is the default for upgrades
	 * without Sec-WebSocket-Protocol (notes §6) */
	t->srv_protocols[0] = (struct lws_protocols){ .name = "http", .callback = srv_http_cb,
		.per_session_data_size = sizeof(struct http_pss) };
	t->srv_protocols[1] = (struct lws_protocols){ .name = "test-ws", .callback = srv_ws_cb };
	memset(&vi, 0, sizeof vi);
	vi.vhost_name = "test-server";
	vi.port = 0;
	vi.iface = "127.0.0.1";
	vi.protocols = t->srv_protocols;
	vi.pvo = &pvo_ws;
	vi.user = t;
	vi.keepalive_timeout = 60; /* /hang stays unanswered until shutdown */
	vi.timeout_secs = 60;
	t->srv_vh = lws_create_vhost(t->lws, &vi);
	assert_non_null(t->srv_vh);
	t->port = lws_get_vhost_listen_port(t->srv_vh);
	assert_true(t->port > 0);

	/* client vhost */
	t->cli_protocols[0] = (struct lws_protocols){ .name = "test-client", .callback = cli_cb };
	memset(&vi, 0, sizeof vi);
	vi.vhost_name = "test-client";
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vi.protocols = t->cli_protocols;
	vi.user = t;
	t->cli_vh = lws_create_vhost(t->lws, &vi);
	assert_non_null(t->cli_vh);

	assert_int_equal(http_create(t->loop, &(struct http_opts){ .user_agent = "loop-test" },
				     &t->http, &err), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(t->loop, cli_stop_hook, t), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(t->loop, test_stop_hook, t), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(t->loop, test_stop_hook, t), BOT_EDUPLICATE);

	(void)uv_timer_init(uv, &t->start);
	(void)uv_timer_init(uv, &t->tick);
	(void)uv_timer_init(uv, &t->oneshot);
	(void)uv_timer_init(uv, &t->watchdog);
	(void)uv_timer_init(uv, &t->push_timer);
	(void)uv_timer_start(&t->start, on_start, 0, 0);
	(void)uv_timer_start(&t->tick, on_tick, 50, 50);
	(void)uv_timer_start(&t->oneshot, on_oneshot, 300, 0);
	(void)uv_timer_start(&t->watchdog, on_watchdog, WATCHDOG_MS, 0);

	t->t_start = uv_hrtime();
	assert_int_equal(bot_loop_run(t->loop), BOT_EOK);
	t_end = uv_hrtime();
	sample_threads(t);

	fprintf(stderr,
		"loop test: run_ms=%llu shutdown_ms=%llu max_threads=%d ticks=%d "
		"echoes=%d pushes=%d big_ws_fragments=%d srv_close_code=%d\n",
		(unsigned long long)((t_end - t->t_start) / 1000000u),
		(unsigned long long)(t->t_shutdown ? (t_end - t->t_shutdown) / 1000000u : 0),
		t->max_threads, t->ticks, t->echoes, t->pushes, t->big_fragments,
		t->srv_close_code);

	/* components are destroyed after the run: memory only */
	http_destroy(t->http);
	assert_int_equal(bot_loop_destroy(t->loop), BOT_EOK); /* uv_loop_close() == 0 */

	if (t->f.n)
		fail_msg("%d check(s) failed, first: %s", t->f.n, t->f.first);
	assert_false(t->watchdog_fired);
	assert_int_equal(t->max_threads, 1);
	assert_int_equal(t->http_outstanding, 0);
	for (int i = 0; i < t->n_ex; i++)
		assert_int_equal(t->ex[i].calls, 1);
	assert_null(t->hang_call);
	assert_true(t->cli_established);
	assert_false(t->cli_conn_error);
	assert_true(t->cli_closed);
	assert_int_equal(t->hellos, 1);
	assert_int_equal(t->echoes, N_PINGS);
	assert_true(t->big_ok);
	assert_true(t->big_fragments > 1); /* reassembled from fragments */
	assert_true(t->pushes >= N_PUSHES);
	assert_true(t->srv_closed);
	assert_int_equal(t->srv_close_code, LWS_CLOSE_STATUS_NORMAL); /* polite, not 1006 */
	assert_true(t->ticks >= 15);
	assert_int_equal(t->oneshots, 1);
	assert_null(t->slows);
	assert_int_equal(logstats.late_close, 0);
	assert_int_equal(logstats.errors, 0);

	free(t->cli_rx.p);
	free(t->srv_rx.p);
	free(t->big);
	free(t);
}

/* ==== test 2: TLS verification ============================================ */

struct tls_case {
	struct failures *f;
	const char *name;
	int want;
	int got;
	int calls;
	int *outstanding;
	struct bot_loop *loop;
	struct http **destroy_me; /* destroy this client inside the callback */
};

struct tls_scenario {
	struct failures f;
	struct bot_loop *loop;
	struct http *plain, *trusting;
	int outstanding;
	int max_threads;
	uv_timer_t watchdog;
	bool watchdog_fired;
};

static int tls_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	static const char body[] = "{\"tls\":true}";

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		unsigned char buf[LWS_PRE + 512];
		unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
		if (lws_add_http_common_headers(wsi, 200, "application/json", strlen(body), &p,
						end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		unsigned char buf[LWS_PRE + sizeof body];
		memcpy(buf + LWS_PRE, body, strlen(body));
		if (lws_write(wsi, buf + LWS_PRE, strlen(body), LWS_WRITE_HTTP_FINAL) !=
		    (int)strlen(body))
			return 1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void tls_done(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct tls_case *c = ud;
	struct tls_scenario *t = container_of(c->outstanding, struct tls_scenario, outstanding);
	int n = thread_count();

	if (n > t->max_threads)
		t->max_threads = n;
	c->calls++;
	c->got = rc;
	fprintf(stderr, "tls %s: rc=%s status=%ld err=%s\n", c->name, bot_err_name(rc),
		r ? r->status : 0, errmsg ? errmsg : "-");
	CHECK(c->f, rc == c->want);
	if (rc == 0)
		CHECK(c->f, r && r->status == 200 && strcmp(r->body, "{\"tls\":true}") == 0);
	if (c->destroy_me) {
		/* destroying the client from inside its own callback is fine */
		http_destroy(*c->destroy_me);
		*c->destroy_me = NULL;
	}
	if (--*c->outstanding == 0)
		bot_loop_shutdown(c->loop);
}

static void tls_watchdog(uv_timer_t *tm)
{
	struct tls_scenario *t = container_of(tm, struct tls_scenario, watchdog);

	t->watchdog_fired = true;
	bot_loop_shutdown(t->loop);
}

static void tls_stop_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct tls_scenario *t = ud;

	uv_close((uv_handle_t *)&t->watchdog, NULL);
	done(done_ud);
}

static struct lws_vhost *tls_vhost(struct lws_context *ctx, const char *name,
				   const struct fake_tls_cert *cert,
				   const struct lws_protocols *protocols)
{
	struct lws_context_creation_info vi;

	memset(&vi, 0, sizeof vi);
	vi.vhost_name = name;
	vi.port = 0;
	vi.iface = "127.0.0.1";
	vi.protocols = protocols;
	vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	vi.ssl_cert_filepath = cert->cert;
	vi.ssl_private_key_filepath = cert->key;
	return lws_create_vhost(ctx, &vi);
}

static void test_tls(void **state)
{
	static const struct lws_protocols protocols[] = {
		{ .name = "http", .callback = tls_http_cb },
		{ .name = NULL },
	};
	struct tls_scenario t = { .max_threads = 0 };
	struct fake_tls_cert ca_a, ca_b;
	struct bot_error err = { .msg = "" };
	struct lws_context *ctx;
	struct lws_vhost *va, *vb;
	struct http *bad = NULL;
	char u[4][96];
	int pa, pb;

	(void)state;
	logstats.errors = logstats.late_close = 0;
	assert_int_equal(fake_tls_cert_create(&ca_a, &err), BOT_EOK);
	assert_int_equal(fake_tls_cert_create(&ca_b, &err), BOT_EOK);

	assert_int_equal(bot_loop_create(&t.loop, &err), BOT_EOK);
	ctx = bot_lws_context(t.loop, &err);
	assert_non_null(ctx);
	va = tls_vhost(ctx, "tls-a", &ca_a, protocols);
	vb = tls_vhost(ctx, "tls-b", &ca_b, protocols);
	assert_non_null(va);
	assert_non_null(vb);
	pa = lws_get_vhost_listen_port(va);
	pb = lws_get_vhost_listen_port(vb);

	/* a port held by someone else: NULL, and lws's error comes out as
	 * logfmt lines (lws vhosts on one port would share it instead) */
	{
		struct lws_context_creation_info vi;
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		assert_int_equal(listen(fd, 1), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
		memset(&vi, 0, sizeof vi);
		vi.vhost_name = "taken";
		vi.port = ntohs(sa.sin_port);
		vi.iface = "127.0.0.1";
		vi.protocols = protocols;
		logstats.lws = logstats.errors = 0;
		assert_null(lws_create_vhost(ctx, &vi));
		close(fd);
		assert_true(logstats.lws >= 1);
		assert_true(logstats.errors >= 1);
	}

	/* a CA file that does not exist or holds no certificate */
	assert_int_equal(http_create(t.loop, &(struct http_opts){ .ca_file = "/nonexistent.pem" },
				     &bad, &err), BOT_ECONFIG);
	assert_null(bad);
	assert_int_equal(http_create(t.loop, &(struct http_opts){ .ca_file = "/dev/null" },
				     &bad, &err), BOT_ECONFIG);

	assert_int_equal(http_create(t.loop, NULL, &t.plain, &err), BOT_EOK);
	assert_int_equal(http_create(t.loop, &(struct http_opts){ .ca_file = ca_a.cert },
				     &t.trusting, &err), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(t.loop, tls_stop_hook, &t), BOT_EOK);
	(void)uv_timer_init(bot_loop_uv(t.loop), &t.watchdog);
	(void)uv_timer_start(&t.watchdog, tls_watchdog, WATCHDOG_MS, 0);

	snprintf(u[0], sizeof u[0], "https://localhost:%d/ok", pa);
	snprintf(u[1], sizeof u[1], "https://127.0.0.1:%d/ok", pa);
	snprintf(u[2], sizeof u[2], "https://localhost:%d/ok", pb);
	struct tls_case cases[] = {
		{ &t.f, "untrusted", BOT_ETLS, -1, 0, &t.outstanding, t.loop, &t.plain },
		{ &t.f, "trusted-name", BOT_EOK, -1, 0, &t.outstanding, t.loop, NULL },
		{ &t.f, "trusted-ip", BOT_EOK, -1, 0, &t.outstanding, t.loop, NULL },
		{ &t.f, "other-cert", BOT_ETLS, -1, 0, &t.outstanding, t.loop, NULL },
	};
	struct http *via[] = { t.plain, t.trusting, t.trusting, t.trusting };
	const char *urls[] = { u[0], u[0], u[1], u[2] };
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		t.outstanding++;
		assert_int_equal(http_send(via[i], &(struct http_request){ .url = urls[i] },
					   tls_done, &cases[i], NULL), BOT_EOK);
	}

	assert_int_equal(bot_loop_run(t.loop), BOT_EOK);
	http_destroy(t.trusting);
	assert_null(t.plain); /* destroyed in its callback */
	assert_int_equal(bot_loop_destroy(t.loop), BOT_EOK);
	fake_tls_cert_remove(&ca_a);
	fake_tls_cert_remove(&ca_b);

	fprintf(stderr, "tls test: max_threads=%d\n", t.max_threads);
	if (t.f.n)
		fail_msg("%d check(s) failed, first: %s", t.f.n, t.f.first);
	assert_false(t.watchdog_fired);
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++)
		assert_int_equal(cases[i].calls, 1);
	assert_int_equal(t.max_threads, 1);
	assert_int_equal(logstats.late_close, 0);
}

/* ==== test 3: hooks, safety timeout, signals, teardown steps (no lws) ==== */

struct hooks_scenario {
	struct bot_loop *loop;
	uv_timer_t raise_timer, slow_done, step_timer;
	bot_loop_done_fn done;
	void *done_ud;
	int sighup, slow_hook_calls, stuck_hook_calls, removed_hook_calls;
	bool stopping_in_drain;
	char trace[16]; /* h: slow hook done, a/b: drain steps, c: closed, A/B: after */
	uint64_t t0;
};

static void trace(struct hooks_scenario *s, char c)
{
	size_t n = strlen(s->trace);

	if (n + 1 < sizeof s->trace)
		s->trace[n] = c;
}

static void step_closed(uv_handle_t *h)
{
	trace(container_of((uv_timer_t *)h, struct hooks_scenario, step_timer), 'c');
}

/* A drain step may start closes; uv_run delivers them before it returns. */
static void drain_a(void *ud)
{
	struct hooks_scenario *s = ud;

	trace(s, 'a');
	s->stopping_in_drain = bot_loop_stopping(s->loop);
	uv_close((uv_handle_t *)&s->step_timer, step_closed);
}

static void drain_b(void *ud)
{
	trace(ud, 'b');
}

static void after_a(void *ud)
{
	trace(ud, 'A');
}

static void after_b(void *ud)
{
	trace(ud, 'B');
}

static void on_sighup(void *ud, int signum)
{
	struct hooks_scenario *s = ud;

	if (signum == SIGHUP)
		s->sighup++;
	bot_loop_shutdown(s->loop);
	bot_loop_shutdown(s->loop); /* idempotent */
}

static void on_raise(uv_timer_t *tm)
{
	uv_close((uv_handle_t *)tm, NULL);
	raise(SIGHUP);
}

static void slow_done_fire(uv_timer_t *tm)
{
	struct hooks_scenario *s = container_of(tm, struct hooks_scenario, slow_done);

	uv_close((uv_handle_t *)tm, NULL);
	trace(s, 'h');
	s->done(s->done_ud);
	s->done(s->done_ud); /* twice: harmless */
}

static void slow_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct hooks_scenario *s = ud;

	s->slow_hook_calls++;
	s->done = done;
	s->done_ud = done_ud;
	(void)uv_timer_init(bot_loop_uv(s->loop), &s->slow_done);
	(void)uv_timer_start(&s->slow_done, slow_done_fire, 50, 0);
}

static void stuck_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct hooks_scenario *s = ud;

	(void)done;
	(void)done_ud;
	s->stuck_hook_calls++; /* never calls done: the safety timer moves on */
}

static void removed_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct hooks_scenario *s = ud;

	s->removed_hook_calls++;
	done(done_ud);
}

static void test_hooks_and_signals(void **state)
{
	struct hooks_scenario s;
	struct bot_error err = { .msg = "" };
	struct bot_loop *idle = NULL;
	uint64_t ms;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(bot_loop_create(&s.loop, &err), BOT_EOK);
	bot_loop_set_shutdown_timeout(s.loop, 300);
	assert_int_equal(bot_loop_on_signal(s.loop, SIGUSR1, on_sighup, &s), BOT_EINVAL);
	assert_int_equal(bot_loop_on_signal(s.loop, SIGHUP, on_sighup, &s), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(s.loop, slow_hook, &s), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(s.loop, removed_hook, &s), BOT_EOK);
	assert_int_equal(bot_loop_on_shutdown(s.loop, stuck_hook, &s), BOT_EOK);
	bot_loop_off_shutdown(s.loop, removed_hook, &s);
	assert_int_equal(bot_loop_on_teardown(s.loop, drain_a, after_a, &s), BOT_EOK);
	assert_int_equal(bot_loop_on_teardown(s.loop, drain_b, after_b, &s), BOT_EOK);
	assert_int_equal(bot_loop_on_teardown(s.loop, drain_b, after_b, &s), BOT_EDUPLICATE);
	assert_int_equal(bot_loop_on_teardown(s.loop, NULL, NULL, &s), BOT_EINVAL);
	(void)uv_timer_init(bot_loop_uv(s.loop), &s.step_timer); /* closed by drain_a */
	assert_false(bot_loop_stopping(s.loop));
	(void)uv_timer_init(bot_loop_uv(s.loop), &s.raise_timer);
	(void)uv_timer_start(&s.raise_timer, on_raise, 20, 0);

	s.t0 = uv_hrtime();
	assert_int_equal(bot_loop_run(s.loop), BOT_EOK);
	ms = (uv_hrtime() - s.t0) / 1000000u;
	assert_int_equal(bot_loop_run(s.loop), BOT_ESTATE); /* only once */
	/* drain steps after every hook, in order; their closes drained */
	assert_string_equal(s.trace, "habc");
	assert_true(s.stopping_in_drain);
	assert_true(bot_loop_stopping(s.loop));
	assert_int_equal(bot_loop_on_teardown(s.loop, drain_a, NULL, &s), BOT_ESTATE);
	/* no lws context once the shutdown has begun */
	assert_null(bot_lws_context(s.loop, &err));
	assert_non_null(strstr(err.msg, "shutting down"));
	assert_int_equal(bot_loop_destroy(s.loop), BOT_EOK);
	assert_string_equal(s.trace, "habcAB"); /* after steps: in destroy, in order */
	assert_int_equal(s.sighup, 1);
	assert_int_equal(s.slow_hook_calls, 1);
	assert_int_equal(s.stuck_hook_calls, 1);
	assert_int_equal(s.removed_hook_calls, 0);
	assert_true(ms >= 300 && ms < 2000); /* waited for the safety timeout */

	/* a loop with nothing to do shuts itself down in order; a handle
	 * closed after the run still gets its close callback */
	assert_int_equal(bot_loop_create(&idle, &err), BOT_EOK);
	assert_int_equal(bot_loop_run(idle), BOT_EOK);
	(void)uv_timer_init(bot_loop_uv(idle), &s.raise_timer);
	uv_close((uv_handle_t *)&s.raise_timer, NULL);
	logstats.late_close = 0;
	assert_int_equal(bot_loop_destroy(idle), BOT_EOK);
	assert_int_equal(logstats.late_close, 1);
	/* never run: destroy still tears down */
	assert_int_equal(bot_loop_create(&idle, &err), BOT_EOK);
	assert_int_equal(bot_loop_destroy(idle), BOT_EOK);
	assert_int_equal(bot_loop_destroy(NULL), BOT_EOK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_loop),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_hooks_and_signals),
	};

	/* hard backstop if the loop cannot even drain (the watchdogs cover
	 * the run); generous for valgrind */
	alarm(300);
	log_set_writer(log_capture, NULL);
	log_set_level(BOT_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
