/* The health endpoint on the bot's loop, queried over real HTTP by the
 * bot's own curl client: /healthz (200, then 503 when the owner says it is
 * unhealthy), /metrics, 404 and 405, and a second listener on a taken port
 * refused. Ends with uv_loop_close() == 0 (bot_loop_destroy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/health/health.h"
#include "adapters/http/http.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"

#define STEPS 5

struct t {
	struct bot_loop *loop;
	struct health *h;
	struct http *http;
	bool healthy;
	int renders;
	int step;
	long status[STEPS];
	char body[STEPS][512];
	int second_rc;
	char url[96];
};

static size_t render(void *ud, enum health_doc doc, char *buf, size_t n, bool *healthy)
{
	struct t *t = ud;
	t->renders++;
	*healthy = t->healthy;
	int w = doc == HEALTH_DOC_METRICS ? snprintf(buf, n, "chatops_up 1\n")
					  : snprintf(buf, n, "{\"status\":\"%s\"}\n",
						     t->healthy ? "ok" : "degraded");
	return (size_t)w;
}

static void hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct t *t = ud;
	health_destroy(t->h);
	t->h = NULL;
	done(done_ud);
}

static void next(struct t *t);

static void on_done(void *ud, int rc, const struct http_response *r, const char *errmsg)
{
	struct t *t = ud;
	(void)errmsg;
	if (rc == 0) {
		t->status[t->step] = r->status;
		snprintf(t->body[t->step], sizeof t->body[0], "%s", r->body);
	} else {
		t->status[t->step] = -rc;
	}
	t->step++;
	next(t);
}

static void get(struct t *t, const char *method, const char *path)
{
	char url[160];
	snprintf(url, sizeof url, "%s%s", t->url, path);
	struct http_request req = {.method = method, .url = url, .timeout_ms = 5000};
	if (http_send(t->http, &req, on_done, t, NULL) != 0) {
		t->status[t->step++] = -1;
		bot_loop_shutdown(t->loop);
	}
}

static void next(struct t *t)
{
	switch (t->step) {
	case 0: get(t, "GET", "/healthz"); break;
	case 1: get(t, "GET", "/metrics"); break;
	case 2: get(t, "GET", "/nope"); break;
	case 3: get(t, "POST", "/healthz"); break;
	case 4: t->healthy = false; get(t, "GET", "/healthz"); break;
	default: bot_loop_shutdown(t->loop); break;
	}
}

static void test_health(void **state)
{
	struct t t = {.healthy = true};
	struct bot_error err = {0};
	char addr[64];
	(void)state;

	log_set_level(BOT_LOG_WARN);
	assert_int_equal(bot_loop_create(&t.loop, &err), 0);
	assert_int_equal(health_create(t.loop, &(struct health_opts){.listen = "127.0.0.1:0",
			 .render = render, .ud = &t}, &t.h, &err), 0);
	assert_true(health_port(t.h) > 0);
	assert_int_equal(bot_loop_on_shutdown(t.loop, hook, &t), 0);
	snprintf(t.url, sizeof t.url, "http://127.0.0.1:%d", health_port(t.h));

	/* a port another socket holds: refused with a clear error. (Two vhosts
	 * of one lws context may share a port, so the holder is a plain
	 * socket, as another program would be.) */
	struct health *h2 = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
	t.second_rc = health_create(t.loop, &(struct health_opts){.listen = addr,
				    .render = render, .ud = &t}, &h2, &err);
	assert_int_equal(t.second_rc, BOT_EIO);
	assert_null(h2);
	assert_non_null(strstr(err.msg, "cannot listen on"));
	close(fd);
	assert_int_equal(health_create(t.loop, &(struct health_opts){.listen = "no-port",
			 .render = render, .ud = &t}, &h2, &err), BOT_EINVAL);

	assert_int_equal(http_create(t.loop, &(struct http_opts){0}, &t.http, &err), 0);
	next(&t);
	assert_int_equal(bot_loop_run(t.loop), 0);
	http_destroy(t.http);
	assert_int_equal(bot_loop_destroy(t.loop), 0);

	assert_int_equal(t.step, STEPS);
	assert_int_equal(t.status[0], 200);
	assert_string_equal(t.body[0], "{\"status\":\"ok\"}\n");
	assert_int_equal(t.status[1], 200);
	assert_non_null(strstr(t.body[1], "chatops_up 1"));
	assert_int_equal(t.status[2], 404);
	assert_int_equal(t.status[3], 405);
	assert_int_equal(t.status[4], 503);
	assert_non_null(strstr(t.body[4], "degraded"));
	assert_int_equal(t.renders, 3); /* 404/405 never asked the owner */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
