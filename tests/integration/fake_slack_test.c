/* The fake Slack checked against what it claims (tests/fakes/fake_slack.h),
 * in one process on one uv loop with no threads: bot/loop owns the loop and
 * the lws context, adapters/http (curl multi) makes the Web API calls, and a
 * minimal lws client plays the Socket Mode side.
 *
 * The test drives the loop itself between steps (uv_run(UV_RUN_ONCE) until a
 * condition holds or a per-step deadline passes), so every assertion runs
 * outside libuv/lws callbacks. The group teardown destroys the fake, shuts
 * the loop down in order and requires uv_loop_close() == 0 (bot_loop_destroy
 * returning 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <uv.h> /* before libwebsockets.h */
#include <libwebsockets.h>
#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/http.h"
#include "adapters/lws/lws.h"
#include "adapters/slack/envelope.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/fake_slack.h"

#define APP_TOKEN  "xapp-1-A0FAKE-test"
#define BOT_TOKEN  "xoxb-1-test"
#define STEP_MS    5000      /* bound on any single wait */
#define PING_MS    150
#define GRACE_MS   400
#define MAX_FRAMES 32
#define MAX_OUT    8
#define N_CLIENTS  12

/* ---- state ---------------------------------------------------------------- */

struct wsc {
	struct lws *wsi;
	bool established, closed, error, peer_close;
	int close_code;
	uint64_t closed_ns;
	char *frames[MAX_FRAMES];
	size_t n_frames;
	char *rx;
	size_t rx_len;
	char *out[MAX_OUT];
	size_t n_out;
};

struct t {
	struct bot_loop *loop;
	uv_loop_t *uv;
	struct lws_context *ctx;
	struct lws_vhost *cvh;
	struct http *http;
	struct fake_slack *fs;
	uv_timer_t deadline;
	bool expired;
	struct wsc clients[N_CLIENTS];
};

static struct t T;

/* ---- loop pumping ----------------------------------------------------------- */

static void deadline_cb(uv_timer_t *h)
{
	struct t *t = h->data;

	t->expired = true;
}

typedef bool (*cond_fn)(void *arg);

/* Run the loop until cond(arg) holds or ms passed; returns cond(arg). */
static bool wait_for(cond_fn cond, void *arg, unsigned ms)
{
	T.expired = false;
	uv_timer_start(&T.deadline, deadline_cb, ms, 0);
	while (!(cond && cond(arg)) && !T.expired)
		uv_run(T.uv, UV_RUN_ONCE);
	uv_timer_stop(&T.deadline);
	return cond && cond(arg);
}

static void pump_ms(unsigned ms)
{
	(void)wait_for(NULL, NULL, ms);
}

/* ---- HTTP through adapters/http ---------------------------------------------- */

struct reply {
	bool done;
	int rc;
	long status;
	char *body;
	char retry_after[16];
};

static void http_done(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct reply *rep = ud;
	const char *ra;

	(void)errmsg;
	rep->done = true;
	rep->rc = rc;
	if (!r)
		return;
	rep->status = r->status;
	rep->body = strdup(r->body ? r->body : "");
	ra = http_response_header(r, "Retry-After");
	snprintf(rep->retry_after, sizeof rep->retry_after, "%s", ra ? ra : "");
}

static bool reply_done(void *arg)
{
	return ((struct reply *)arg)->done;
}

/* POST url with optional token and content type (NULL: no Content-Type
 * header at all). Fills rep (caller frees rep->body). */
static void post(const char *url, const char *token, const char *ctype, const char *body,
		 struct reply *rep)
{
	char auth[256], ct[128];
	const char *hdrs[3] = {NULL, NULL, NULL};
	size_t n = 0;

	memset(rep, 0, sizeof *rep);
	if (token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		hdrs[n++] = auth;
	}
	snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "");
	hdrs[n++] = ct;
	assert_int_equal(http_send(T.http, &(struct http_request){ .method = "POST", .url = url,
				   .headers = hdrs, .body = body, .body_len = body ? strlen(body) : 0 },
				   http_done, rep, NULL), 0);
	assert_true(wait_for(reply_done, rep, STEP_MS));
	assert_int_equal(rep->rc, 0);
}

/* A Web API call; returns the parsed body (caller decrefs). */
static json_t *api(const char *method, const char *token, const char *ctype, const char *body,
		   struct reply *rep)
{
	char url[256];
	json_t *j;

	snprintf(url, sizeof url, "%s/%s", fake_slack_api_url(T.fs), method);
	post(url, token, ctype, body, rep);
	j = json_loads(rep->body, 0, NULL);
	assert_non_null(j);
	return j;
}

#define JSON_UTF8 "application/json; charset=utf-8"

/* The `error` of a chat call with the bot token, "" when ok. */
static char *chat_error(const char *method, const char *token, const char *ctype,
			const char *body)
{
	struct reply rep;
	json_t *j = api(method, token, ctype, body, &rep);
	const char *e = json_string_value(json_object_get(j, "error"));
	char *out = strdup(json_is_true(json_object_get(j, "ok")) ? "" : e ? e : "?");

	assert_int_equal(rep.status, 200);
	json_decref(j);
	free(rep.body);
	return out;
}

#define assert_chat_error(expect, method, token, ctype, body) do { \
	char *e_ = chat_error(method, token, ctype, body); \
	assert_string_equal(e_, expect); \
	free(e_); \
} while (0)

/* ---- a minimal Socket Mode client -------------------------------------------- */

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct wsc *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = true;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		char *nb = realloc(c->rx, c->rx_len + len + 1);

		if (!nb)
			return -1;
		c->rx = nb;
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		c->rx[c->rx_len] = '\0';
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			if (c->n_frames < MAX_FRAMES)
				c->frames[c->n_frames++] = c->rx;
			else
				free(c->rx);
			c->rx = NULL;
			c->rx_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->n_out) {
			char *s = c->out[0];
			size_t n = strlen(s);
			unsigned char *buf = malloc(LWS_PRE + n);
			int w;

			if (!buf)
				return -1;
			memcpy(buf + LWS_PRE, s, n);
			w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
			free(buf);
			free(s);
			memmove(c->out, c->out + 1, --c->n_out * sizeof c->out[0]);
			if (w < (int)n)
				return -1;
			if (c->n_out)
				lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		c->peer_close = true;
		if (len >= 2)
			c->close_code = ((const unsigned char *)in)[0] << 8 |
					((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->error = true;
		c->wsi = NULL;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->closed = true;
		c->closed_ns = uv_hrtime();
		c->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols client_protocols[] = {
	{ "test-client", client_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void client_reset(struct wsc *c)
{
	for (size_t i = 0; i < c->n_frames; i++)
		free(c->frames[i]);
	for (size_t i = 0; i < c->n_out; i++)
		free(c->out[i]);
	free(c->rx);
	memset(c, 0, sizeof *c);
}

static bool client_settled(void *arg)
{
	struct wsc *c = arg;

	return c->established || c->error || c->closed;
}

static bool client_gone(void *arg)
{
	struct wsc *c = arg;

	return c->error || c->closed;
}

static bool has_frames(void *arg)
{
	struct wsc *c = arg;

	return c->n_frames > 0;
}

/* Connect c to a ws://127.0.0.1:<port><path> URL the way the bot does (no
 * Sec-WebSocket-Protocol) and wait until it is up or failed. */
static void client_connect(struct wsc *c, const char *url)
{
	struct lws_client_connect_info ci;
	const char *hp = url + strlen("ws://"), *path = strchr(hp, '/');
	int port = atoi(strchr(hp, ':') + 1);

	client_reset(c);
	memset(&ci, 0, sizeof ci);
	ci.context = T.ctx;
	ci.vhost = T.cvh;
	ci.address = "127.0.0.1";
	ci.port = port;
	ci.path = path;
	ci.host = "127.0.0.1";
	ci.origin = "127.0.0.1";
	ci.local_protocol_name = "test-client";
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&ci))
		c->error = true;
	assert_true(wait_for(client_settled, c, STEP_MS));
}

static void client_send(struct wsc *c, const char *text)
{
	assert_non_null(c->wsi);
	assert_true(c->n_out < MAX_OUT);
	c->out[c->n_out++] = strdup(text);
	lws_callback_on_writable(c->wsi);
}

/* Pop the oldest frame (caller frees), waiting for one. */
static char *client_next(struct wsc *c)
{
	char *f;

	assert_true(wait_for(has_frames, c, STEP_MS));
	f = c->frames[0];
	memmove(c->frames, c->frames + 1, --c->n_frames * sizeof c->frames[0]);
	return f;
}

/* apps.connections.open with the app token; returns the ws URL (caller frees). */
static char *open_url(void)
{
	struct reply rep;
	json_t *j = api("apps.connections.open", APP_TOKEN, "application/x-www-form-urlencoded",
			"", &rep);
	char *url;

	assert_true(json_is_true(json_object_get(j, "ok")));
	url = strdup(json_string_value(json_object_get(j, "url")));
	json_decref(j);
	free(rep.body);
	return url;
}

/* Open + connect client i + check hello. */
static void client_up(size_t i)
{
	char *url = open_url(), *hello;
	struct slack_frame f;
	struct bot_error err = {0};

	client_connect(&T.clients[i], url);
	free(url);
	assert_true(T.clients[i].established);
	hello = client_next(&T.clients[i]);
	assert_int_equal(slack_frame_parse(hello, strlen(hello), &f, &err), 0);
	assert_int_equal(f.kind, SLACK_FRAME_HELLO);
	assert_int_equal(f.approximate_connection_time, 18060);
	slack_frame_finish(&f);
	free(hello);
}

/* ---- setup / teardown ------------------------------------------------------------ */

static int group_setup(void **state)
{
	static const struct fake_slack_channel chans[] = {
		{ "C0GENERAL", "general", true },
		{ "C0OUTSIDE", "outside", false },
	};
	struct fake_slack_opts o = {
		.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
		.n_channels = 2, .ping_interval_ms = PING_MS, .disconnect_grace_ms = GRACE_MS,
	};
	struct lws_context_creation_info vi;
	struct bot_error err = {0};

	(void)state;
	log_set_level(BOT_LOG_WARN);
	memset(&T, 0, sizeof T);
	if (bot_loop_create(&T.loop, &err))
		return -1;
	T.uv = bot_loop_uv(T.loop);
	T.ctx = bot_lws_context(T.loop, &err);
	if (!T.ctx || http_create(T.loop, NULL, &T.http, &err))
		return -1;
	memset(&vi, 0, sizeof vi);
	vi.port = CONTEXT_PORT_NO_LISTEN;
	vi.protocols = client_protocols;
	vi.vhost_name = "test-client";
	T.cvh = lws_create_vhost(T.ctx, &vi);
	if (!T.cvh)
		return -1;
	if (fake_slack_create(T.ctx, T.uv, &o, &T.fs))
		return -1;
	uv_timer_init(T.uv, &T.deadline);
	T.deadline.data = &T;
	return 0;
}

static bool all_clients_gone(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < N_CLIENTS; i++)
		if (T.clients[i].wsi)
			return false;
	return true;
}

static int group_teardown(void **state)
{
	bool ok = true;
	int rc;

	(void)state;
	/* 1. the fake first (closes its sockets politely, closes its timer) */
	fake_slack_destroy(T.fs);
	T.fs = NULL;
	(void)wait_for(all_clients_gone, NULL, STEP_MS);
	/* test_too_many_and_drop leaves client 0 up: it got a polite 1001 */
	if (!T.clients[0].peer_close || T.clients[0].close_code != 1001) {
		fprintf(stderr, "destroy: client 0 saw no 1001 close (code %d)\n",
			T.clients[0].close_code);
		ok = false;
	}
	for (size_t i = 0; i < N_CLIENTS; i++)
		client_reset(&T.clients[i]);
	/* 2. our own handle, then the ordered loop shutdown */
	uv_close((uv_handle_t *)&T.deadline, NULL);
	bot_loop_shutdown(T.loop);
	bot_loop_run(T.loop);
	http_destroy(T.http);
	rc = bot_loop_destroy(T.loop);   /* 0 iff uv_loop_close() == 0 */
	if (rc)
		fprintf(stderr, "bot_loop_destroy: %s\n", bot_strerror(rc));
	return rc || !ok ? -1 : 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_connections_open(void **state)
{
	struct reply rep;
	json_t *j;
	const char *url;
	unsigned before = fake_slack_opens(T.fs);

	(void)state;
	j = api("apps.connections.open", APP_TOKEN, "application/x-www-form-urlencoded", "", &rep);
	assert_int_equal(rep.status, 200);
	assert_true(json_is_true(json_object_get(j, "ok")));
	url = json_string_value(json_object_get(j, "url"));
	assert_non_null(url);
	assert_true(strncmp(url, "ws://127.0.0.1:", 15) == 0);
	assert_non_null(strstr(url, "/link/?ticket="));
	assert_non_null(strstr(url, "&app_id=A0FAKE"));
	json_decref(j);
	free(rep.body);
	assert_int_equal(fake_slack_opens(T.fs), before + 1);

	assert_chat_error("invalid_auth", "apps.connections.open", "xapp-1-wrong", NULL, NULL);
	assert_chat_error("not_allowed_token_type", "apps.connections.open", BOT_TOKEN, NULL, NULL);
	assert_chat_error("not_authed", "apps.connections.open", NULL, NULL, NULL);
	assert_chat_error("not_authed", "apps.connections.open", NULL,
			  "application/x-www-form-urlencoded", "token=" APP_TOKEN);
	assert_chat_error("not_allowed_token_type", "chat.postMessage", APP_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}");
	assert_int_equal(fake_slack_opens(T.fs), before + 1);
}

static void test_hello_and_ticket_reuse(void **state)
{
	char *url = open_url(), *hello;
	json_t *j;

	(void)state;
	client_connect(&T.clients[0], url);
	assert_true(T.clients[0].established);
	hello = client_next(&T.clients[0]);
	j = json_loads(hello, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "hello");
	assert_int_equal(json_integer_value(json_object_get(j, "num_connections")), 1);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(j, "connection_info"), "app_id")), "A0FAKE");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(j, "debug_info"), "host")), "fake-1");
	json_decref(j);
	free(hello);
	assert_int_equal(fake_slack_connections(T.fs), 1);

	/* the same ticket again: refused (HTTP 403, no upgrade) */
	client_connect(&T.clients[1], url);
	assert_true(T.clients[1].error);
	assert_false(T.clients[1].established);
	assert_int_equal(fake_slack_connections(T.fs), 1);
	free(url);

	/* a made-up ticket too */
	url = malloc(128);
	snprintf(url, 128, "ws://127.0.0.1:%d/link/?ticket=nope&app_id=A0FAKE",
		 fake_slack_port(T.fs));
	client_connect(&T.clients[1], url);
	assert_true(T.clients[1].error);
	free(url);
}

static void test_post_message(void **state)
{
	struct reply rep;
	json_t *j, *blocks;
	char ts[32], body[256], *big;
	const struct fake_slack_message *m;
	size_t n, n0;

	(void)state;
	(void)fake_slack_messages(T.fs, &n0);
	j = api("chat.postMessage", BOT_TOKEN, JSON_UTF8,
		"{\"channel\":\"C0GENERAL\",\"text\":\"hello\",\"blocks\":["
		"{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\"Deploy\"}},"
		"{\"type\":\"actions\",\"block_id\":\"g1\",\"elements\":[{\"type\":\"button\","
		"\"action_id\":\"gate.approve\",\"value\":\"g1\",\"style\":\"primary\","
		"\"text\":{\"type\":\"plain_text\",\"text\":\"Approve\"}}]}]}", &rep);
	assert_int_equal(rep.status, 200);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "channel")), "C0GENERAL");
	snprintf(ts, sizeof ts, "%s", json_string_value(json_object_get(j, "ts")));
	assert_non_null(strchr(ts, '.'));
	assert_int_equal(strlen(strchr(ts, '.') + 1), 6);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "message"), "ts")), ts);
	json_decref(j);
	free(rep.body);

	m = fake_slack_messages(T.fs, &n);
	assert_int_equal(n, n0 + 1);
	assert_string_equal(m[n - 1].method, "chat.postMessage");
	assert_string_equal(m[n - 1].channel, "C0GENERAL");
	assert_string_equal(m[n - 1].ts, ts);
	assert_string_equal(m[n - 1].text, "hello");
	assert_null(m[n - 1].thread_ts);

	/* a reply in the thread; ts strictly increasing */
	snprintf(body, sizeof body, "{\"channel\":\"C0GENERAL\",\"text\":\"r\",\"thread_ts\":\"%s\"}", ts);
	assert_chat_error("", "chat.postMessage", BOT_TOKEN, JSON_UTF8, body);
	m = fake_slack_messages(T.fs, &n);
	assert_string_equal(m[n - 1].thread_ts, ts);
	assert_true(m[n - 1].thread_known);
	assert_true(strcmp(m[n - 1].ts, ts) > 0);

	/* the errors */
	assert_chat_error("channel_not_found", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0NOWHERE\",\"text\":\"x\"}");
	assert_chat_error("not_in_channel", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0OUTSIDE\",\"text\":\"x\"}");
	assert_chat_error("no_text", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\"}");
	assert_chat_error("missing_post_type", "chat.postMessage", BOT_TOKEN, NULL,
			  "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}");
	assert_chat_error("invalid_charset", "chat.postMessage", BOT_TOKEN,
			  "application/json; charset=koi8-r", "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}");
	assert_chat_error("invalid_json", "chat.postMessage", BOT_TOKEN, JSON_UTF8, "{\"channel\":");
	assert_chat_error("json_not_object", "chat.postMessage", BOT_TOKEN, JSON_UTF8, "[]");
	assert_chat_error("invalid_auth", "chat.postMessage", "xoxb-wrong", JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}");
	assert_chat_error("not_authed", "chat.postMessage", NULL, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"text\":\"x\",\"token\":\"" BOT_TOKEN "\"}");
	/* form-urlencoded with the token as a field works */
	assert_chat_error("", "chat.postMessage", NULL, "application/x-www-form-urlencoded",
			  "token=" BOT_TOKEN "&channel=C0GENERAL&text=form+text");
	m = fake_slack_messages(T.fs, &n);
	assert_string_equal(m[n - 1].text, "form text");

	/* 51 blocks */
	blocks = json_array();
	for (int i = 0; i < 51; i++)
		json_array_append_new(blocks, json_pack("{s:s}", "type", "divider"));
	j = json_pack("{s:s, s:s, s:o}", "channel", "C0GENERAL", "text", "x", "blocks", blocks);
	big = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_chat_error("invalid_blocks", "chat.postMessage", BOT_TOKEN, JSON_UTF8, big);
	free(big);
	/* 50 are fine */
	blocks = json_array();
	for (int i = 0; i < 50; i++)
		json_array_append_new(blocks, json_pack("{s:s}", "type", "divider"));
	j = json_pack("{s:s, s:s, s:o}", "channel", "C0GENERAL", "text", "x", "blocks", blocks);
	big = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_chat_error("", "chat.postMessage", BOT_TOKEN, JSON_UTF8, big);
	free(big);
	/* block limits */
	assert_chat_error("invalid_blocks", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"blocks\":[{\"type\":\"section\","
			  "\"text\":{\"type\":\"mrkdwn\",\"text\":\"\"}}]}");
	assert_chat_error("invalid_blocks", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"blocks\":[{\"type\":\"divider\",\"block_id\":\"a\"},"
			  "{\"type\":\"divider\",\"block_id\":\"a\"}]}");
	assert_chat_error("invalid_blocks", "chat.postMessage", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"blocks\":[{\"type\":\"carousel\"}]}");

	/* chat.update */
	assert_chat_error("message_not_found", "chat.update", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"ts\":\"1.000001\",\"text\":\"x\"}");
	snprintf(body, sizeof body, "{\"channel\":\"C0GENERAL\",\"ts\":\"%s\",\"text\":\"done\"}", ts);
	assert_chat_error("", "chat.update", BOT_TOKEN, JSON_UTF8, body);
	m = fake_slack_messages(T.fs, &n);
	assert_string_equal(m[n - 1].method, "chat.update");
	assert_string_equal(m[n - 1].ts, ts);
	assert_string_equal(m[n - 1].text, "done");
	{
		char *txt = malloc(4002);
		json_t *u;

		memset(txt, 'x', 4001);
		txt[4001] = '\0';
		u = json_pack("{s:s, s:s, s:s}", "channel", "C0GENERAL", "ts", ts, "text", txt);
		big = json_dumps(u, JSON_COMPACT);
		json_decref(u);
		free(txt);
		assert_chat_error("msg_too_long", "chat.update", BOT_TOKEN, JSON_UTF8, big);
		free(big);
	}

	/* chat.postEphemeral */
	assert_chat_error("invalid_arguments", "chat.postEphemeral", BOT_TOKEN, JSON_UTF8,
			  "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}");
	j = api("chat.postEphemeral", BOT_TOKEN, JSON_UTF8,
		"{\"channel\":\"C0GENERAL\",\"user\":\"U1\",\"text\":\"psst\"}", &rep);
	assert_true(json_is_true(json_object_get(j, "ok")));
	snprintf(body, sizeof body, "{\"channel\":\"C0GENERAL\",\"ts\":\"%s\",\"text\":\"x\"}",
		 json_string_value(json_object_get(j, "message_ts")));
	json_decref(j);
	free(rep.body);
	m = fake_slack_messages(T.fs, &n);
	assert_string_equal(m[n - 1].method, "chat.postEphemeral");
	assert_string_equal(m[n - 1].user, "U1");
	/* an ephemeral ts cannot be updated */
	assert_chat_error("message_not_found", "chat.update", BOT_TOKEN, JSON_UTF8, body);

	/* auth.test */
	j = api("auth.test", BOT_TOKEN, NULL, NULL, &rep);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "user_id")), FAKE_SLACK_BOT_USER);
	json_decref(j);
	free(rep.body);
}

static void test_rate_limit_and_faults(void **state)
{
	struct reply rep;
	json_t *j;
	const struct fake_slack_call *c;
	size_t n, before = fake_slack_calls(T.fs, "chat.postMessage");
	const char *body = "{\"channel\":\"C0GENERAL\",\"text\":\"x\"}";

	(void)state;
	assert_int_equal(fake_slack_ratelimit(T.fs, "chat.postMessage", 2, 3), 0);
	for (int i = 0; i < 2; i++) {
		j = api("chat.postMessage", BOT_TOKEN, JSON_UTF8, body, &rep);
		assert_int_equal(rep.status, 429);
		assert_string_equal(rep.retry_after, "3");
		assert_string_equal(json_string_value(json_object_get(j, "error")), "ratelimited");
		json_decref(j);
		free(rep.body);
	}
	assert_chat_error("", "chat.postMessage", BOT_TOKEN, JSON_UTF8, body);
	assert_int_equal(fake_slack_calls(T.fs, "chat.postMessage"), before + 3);
	c = fake_slack_call_log(T.fs, &n);
	assert_int_equal(c[n - 3].http_status, 429);
	assert_int_equal(c[n - 3].retry_after_s, 3);
	assert_string_equal(c[n - 3].channel, "C0GENERAL");
	assert_int_equal(c[n - 1].http_status, 200);
	assert_null(c[n - 1].error);
	assert_true(c[n - 1].at_ns > c[n - 3].at_ns);

	/* other methods are not affected by chat.postMessage's limit */
	assert_int_equal(fake_slack_ratelimit(T.fs, "chat.postMessage", 1, 1), 0);
	assert_chat_error("", "auth.test", BOT_TOKEN, NULL, NULL);
	j = api("chat.postMessage", BOT_TOKEN, JSON_UTF8, body, &rep);
	assert_int_equal(rep.status, 429);
	json_decref(j);
	free(rep.body);

	assert_int_equal(fake_slack_fail_next(T.fs, "chat.postMessage", "fatal_error"), 0);
	assert_chat_error("fatal_error", "chat.postMessage", BOT_TOKEN, JSON_UTF8, body);
	assert_chat_error("", "chat.postMessage", BOT_TOKEN, JSON_UTF8, body);

	assert_int_equal(fake_slack_http_status_next(T.fs, "apps.connections.open", 503), 0);
	post(fake_slack_api_url(T.fs), NULL, NULL, NULL, &rep); /* no method: 404, fault kept */
	assert_int_equal(rep.status, 404);
	free(rep.body);
	{
		char url[256];

		snprintf(url, sizeof url, "%s/apps.connections.open", fake_slack_api_url(T.fs));
		post(url, APP_TOKEN, NULL, NULL, &rep);
		assert_int_equal(rep.status, 503);
		free(rep.body);
		post(url, APP_TOKEN, NULL, NULL, &rep);
		assert_int_equal(rep.status, 200);
		free(rep.body);
	}
}

static bool ack_recorded(void *arg)
{
	return fake_slack_find_ack(T.fs, arg) != NULL;
}

static void test_slash_ack_and_response_url(void **state)
{
	char id[FAKE_SLACK_ID_MAX], ack[256], *frame;
	struct slack_frame f;
	struct bot_error err = {0};
	const struct fake_slack_ack *a;
	const struct fake_slack_message *m;
	struct reply rep;
	char url[256];
	size_t n;

	(void)state;
	assert_non_null(T.clients[0].wsi);   /* from test_hello_and_ticket_reuse */
	assert_int_equal(fake_slack_send_slash(T.fs, "U123", "C0GENERAL", "/scale",
					       "svc 3 --timer 10m", id), 0);
	frame = client_next(&T.clients[0]);
	assert_int_equal(slack_frame_parse(frame, strlen(frame), &f, &err), 0);
	assert_int_equal(f.kind, SLACK_FRAME_ENVELOPE);
	assert_string_equal(f.type, "slash_commands");
	assert_string_equal(f.envelope_id, id);
	assert_true(f.has_event);
	assert_int_equal(f.ev.type, CHAT_EV_COMMAND);
	assert_string_equal(f.ev.command, "/scale");
	assert_string_equal(f.ev.text, "svc 3 --timer 10m");
	assert_string_equal(f.ev.user, "U123");
	assert_string_equal(f.ev.channel, "C0GENERAL");
	assert_non_null(f.ev.response_url);
	snprintf(url, sizeof url, "%s", f.ev.response_url);
	assert_non_null(strstr(url, "/response/"));
	slack_frame_finish(&f);
	free(frame);

	assert_true(slack_ack_frame(id, ack, sizeof ack) > 0);
	client_send(&T.clients[0], ack);
	assert_true(wait_for(ack_recorded, id, STEP_MS));
	a = fake_slack_find_ack(T.fs, id);
	assert_true(a->latency_ns >= 0);
	assert_true(a->latency_ns < (int64_t)STEP_MS * 1000000);
	assert_null(a->payload);

	/* the response_url: 5 uses, then 404 used_url */
	for (int i = 0; i < 5; i++) {
		post(url, NULL, JSON_UTF8, "{\"text\":\"working on it\",\"response_type\":\"ephemeral\"}",
		     &rep);
		assert_int_equal(rep.status, 200);
		assert_string_equal(rep.body, "ok");
		free(rep.body);
	}
	post(url, NULL, JSON_UTF8, "{\"text\":\"again\"}", &rep);
	assert_int_equal(rep.status, 404);
	assert_string_equal(rep.body, "used_url");
	free(rep.body);
	m = fake_slack_messages(T.fs, &n);
	assert_string_equal(m[n - 1].method, "response_url");
	assert_string_equal(m[n - 1].channel, "C0GENERAL");
	assert_string_equal(m[n - 1].envelope_id, id);
	assert_string_equal(m[n - 1].text, "working on it");
}

static void test_button_mention_redeliver(void **state)
{
	struct reply rep;
	json_t *j, *env;
	char ts[32], id[FAKE_SLACK_ID_MAX], id2[FAKE_SLACK_ID_MAX], *frame;
	const char *ev1;

	(void)state;
	j = api("chat.postMessage", BOT_TOKEN, JSON_UTF8,
		"{\"channel\":\"C0GENERAL\",\"text\":\"approve?\",\"blocks\":[{\"type\":\"actions\","
		"\"block_id\":\"gate.7\",\"elements\":[{\"type\":\"button\",\"action_id\":\"gate.approve\","
		"\"value\":\"7\",\"text\":{\"type\":\"plain_text\",\"text\":\"Approve\"}}]}]}", &rep);
	snprintf(ts, sizeof ts, "%s", json_string_value(json_object_get(j, "ts")));
	json_decref(j);
	free(rep.body);

	assert_int_equal(fake_slack_send_button(T.fs, "U9", "C0GENERAL", ts, "gate.approve", "7", id), 0);
	frame = client_next(&T.clients[0]);
	env = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(env, "type")), "interactive");
	{
		json_t *p = json_object_get(env, "payload");
		json_t *act = json_array_get(json_object_get(p, "actions"), 0);

		assert_string_equal(json_string_value(json_object_get(p, "type")), "block_actions");
		assert_string_equal(json_string_value(json_object_get(
			json_object_get(p, "container"), "message_ts")), ts);
		assert_string_equal(json_string_value(json_object_get(act, "block_id")), "gate.7");
		assert_string_equal(json_string_value(json_object_get(json_object_get(act, "text"),
									   "text")), "Approve");
		assert_string_equal(json_string_value(json_object_get(
			json_object_get(p, "message"), "text")), "approve?");
	}
	json_decref(env);

	assert_int_equal(fake_slack_send_mention(T.fs, "U9", "C0GENERAL", "<@U0FAKEBOT> hi", id), 0);
	frame = client_next(&T.clients[0]);
	env = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(env, "type")), "events_api");
	assert_int_equal(json_integer_value(json_object_get(env, "retry_attempt")), 0);
	ev1 = json_string_value(json_object_get(json_object_get(env, "payload"), "event_id"));
	assert_non_null(ev1);

	/* the user's message cannot be updated by the bot */
	{
		char body[256];

		snprintf(body, sizeof body, "{\"channel\":\"C0GENERAL\",\"ts\":\"%s\",\"text\":\"x\"}",
			 json_string_value(json_object_get(json_object_get(json_object_get(env, "payload"),
									   "event"), "ts")));
		assert_chat_error("cant_update_message", "chat.update", BOT_TOKEN, JSON_UTF8, body);
	}

	assert_int_equal(fake_slack_redeliver(T.fs, id, 1, id2), 0);
	assert_string_not_equal(id, id2);
	frame = client_next(&T.clients[0]);
	j = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(j, "envelope_id")), id2);
	assert_int_equal(json_integer_value(json_object_get(j, "retry_attempt")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "retry_reason")), "timeout");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "payload"),
							     "event_id")), ev1);
	json_decref(j);
	json_decref(env);

	/* raw frames go out as they are */
	assert_int_equal(fake_slack_send_raw(T.fs, "{not json", 9), 0);
	frame = client_next(&T.clients[0]);
	assert_string_equal(frame, "{not json");
	free(frame);

	/* garbage from the client is counted, not acked */
	client_send(&T.clients[0], "not json");
	pump_ms(100);
	assert_true(fake_slack_bad_frames(T.fs) >= 1);
}

static bool pongs_at_least_3(void *arg)
{
	(void)arg;
	return fake_slack_pongs(T.fs) >= 3;
}

static bool bad_frame_seen(void *arg)
{
	return fake_slack_bad_frames(T.fs) > *(unsigned *)arg;
}

static void test_pings(void **state)
{
	unsigned p, bad;

	(void)state;
	/* lws answers our pings with pongs on its own */
	assert_true(wait_for(pongs_at_least_3, NULL, STEP_MS));
	fake_slack_silence(T.fs, true);
	pump_ms(PING_MS * 2);
	p = fake_slack_pongs(T.fs);
	bad = fake_slack_bad_frames(T.fs);
	client_send(&T.clients[0], "unread while silenced");
	pump_ms(PING_MS * 3);
	assert_int_equal(fake_slack_pongs(T.fs), p);   /* no pings while silenced */
	assert_int_equal(fake_slack_bad_frames(T.fs), bad);   /* and nothing read */
	assert_int_equal(T.clients[0].n_frames, 0);           /* nor written */
	fake_slack_silence(T.fs, false);
	assert_true(wait_for(bad_frame_seen, &bad, STEP_MS));
	assert_true(wait_for(pongs_at_least_3, NULL, STEP_MS));
	p = fake_slack_pongs(T.fs);
	pump_ms(PING_MS * 3);
	assert_true(fake_slack_pongs(T.fs) > p);
}

static bool fake_has_10(void *arg)
{
	(void)arg;
	return fake_slack_connections(T.fs) == 10;
}

static bool fake_has_none(void *arg)
{
	(void)arg;
	return fake_slack_connections(T.fs) == 0;
}

static void test_disconnect_warning(void **state)
{
	struct wsc *c = &T.clients[0];
	char *frame;
	json_t *j;
	uint64_t sent;

	(void)state;
	assert_non_null(c->wsi);
	sent = uv_hrtime();
	assert_int_equal(fake_slack_disconnect(T.fs, "warning"), 0);
	frame = client_next(c);
	j = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "disconnect");
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "warning");
	json_decref(j);
	assert_false(c->closed);           /* still open during the grace */
	assert_true(wait_for(client_gone, c, STEP_MS));
	assert_true(c->closed);
	assert_true(c->peer_close);
	assert_int_equal(c->close_code, 1000);
	assert_true(c->closed_ns - sent >= (uint64_t)GRACE_MS * 1000000u);
	assert_true(wait_for(fake_has_none, NULL, STEP_MS));
	/* nothing to deliver to now */
	assert_int_equal(fake_slack_send_slash(T.fs, "U1", "C0GENERAL", "/x", "", NULL), BOT_ESTATE);

	/* link_disabled: the frame, then a polite close at once (no grace) */
	client_up(0);
	sent = uv_hrtime();
	assert_int_equal(fake_slack_disconnect(T.fs, "link_disabled"), 0);
	frame = client_next(c);
	j = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "link_disabled");
	json_decref(j);
	assert_true(wait_for(client_gone, c, STEP_MS));
	assert_true(c->peer_close);
	assert_int_equal(c->close_code, 1000);
	assert_true(c->closed_ns - sent < (uint64_t)GRACE_MS * 1000000u);
	assert_true(wait_for(fake_has_none, NULL, STEP_MS));
}

static void test_too_many_and_drop(void **state)
{
	struct wsc *last = &T.clients[10];
	char *frame;
	json_t *j;

	(void)state;
	for (size_t i = 0; i < 10; i++)
		client_up(i);
	assert_int_equal(fake_slack_connections(T.fs), 10);
	{
		char *url = open_url();

		client_connect(last, url);
		free(url);
	}
	assert_true(last->established);
	frame = client_next(last);
	j = json_loads(frame, 0, NULL);
	free(frame);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "too_many_websockets");
	json_decref(j);
	assert_true(wait_for(client_gone, last, STEP_MS));
	assert_true(wait_for(fake_has_10, NULL, STEP_MS));

	/* abrupt close: no close frame reaches the clients */
	fake_slack_drop(T.fs);
	assert_true(wait_for(all_clients_gone, NULL, STEP_MS));
	for (size_t i = 0; i < 10; i++)
		assert_false(T.clients[i].peer_close);
	assert_true(wait_for(fake_has_none, NULL, STEP_MS));

	/* refused connections: the open answers, the upgrade does not */
	fake_slack_refuse_connections(T.fs, true);
	{
		char *url = open_url();

		client_connect(&T.clients[0], url);
		free(url);
	}
	assert_true(T.clients[0].error);
	fake_slack_refuse_connections(T.fs, false);
	client_up(0);   /* and a live one for the teardown's polite close */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connections_open),
		cmocka_unit_test(test_hello_and_ticket_reuse),
		cmocka_unit_test(test_post_message),
		cmocka_unit_test(test_rate_limit_and_faults),
		cmocka_unit_test(test_slash_ack_and_response_url),
		cmocka_unit_test(test_button_mention_redeliver),
		cmocka_unit_test(test_pings),
		cmocka_unit_test(test_disconnect_warning),
		cmocka_unit_test(test_too_many_and_drop),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
