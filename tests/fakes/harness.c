/* harness.c - see harness.h. */
#include "tests/fakes/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/lws/lws.h"
#include "bot/base/log.h"

static char **lines;
static size_t n_lines, cap_lines;
static bool verbose;

static void capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	if (verbose && (strstr(line, "level=warn") || strstr(line, "level=error") ||
			getenv("HARNESS_VERBOSE")[0] == '2'))
		fwrite(line, 1, len, stderr);
	if (n_lines == cap_lines) {
		size_t nc = cap_lines ? cap_lines * 2 : 256;
		char **nl = realloc(lines, nc * sizeof *nl);

		if (!nl)
			return;
		lines = nl;
		cap_lines = nc;
	}
	lines[n_lines] = strndup(line, len);
	if (lines[n_lines])
		n_lines++;
}

void harness_log_clear(void)
{
	for (size_t i = 0; i < n_lines; i++)
		free(lines[i]);
	n_lines = 0;
}

void harness_log_release(void)
{
	log_set_writer(NULL, NULL);
	harness_log_clear();
	free(lines);
	lines = NULL;
	cap_lines = 0;
}

size_t harness_log_count(const char *needle, ...)
{
	size_t n = 0;

	for (size_t i = 0; i < n_lines; i++) {
		va_list ap;
		const char *s = needle;
		bool all = true;

		va_start(ap, needle);
		for (; s; s = va_arg(ap, const char *))
			if (!strstr(lines[i], s))
				all = false;
		va_end(ap);
		if (all)
			n++;
	}
	return n;
}

long harness_log_index(const char *needle, const char *needle2)
{
	for (size_t i = 0; i < n_lines; i++)
		if (strstr(lines[i], needle) && (!needle2 || strstr(lines[i], needle2)))
			return (long)i;
	return -1;
}

const char *harness_log_find(const char *needle)
{
	for (size_t i = 0; i < n_lines; i++)
		if (strstr(lines[i], needle))
			return lines[i];
	return NULL;
}

bool harness_log_has(const char *needle)
{
	return harness_log_find(needle) != NULL;
}

size_t harness_log_lines(void)
{
	return n_lines;
}

const char *harness_log_line(size_t i)
{
	return i < n_lines ? lines[i] : NULL;
}

static void deadline_cb(uv_timer_t *t)
{
	struct harness *h = t->data;

	h->expired = true;
}

int harness_init(struct harness *h, const struct fake_slack_opts *fake_opts)
{
	struct bot_error err = {0};
	int rc;

	memset(h, 0, sizeof *h);
	verbose = getenv("HARNESS_VERBOSE") != NULL;
	harness_log_clear();
	log_set_writer(capture, NULL);
	log_set_level(verbose && getenv("HARNESS_VERBOSE")[0] == '2' ? BOT_LOG_DEBUG : BOT_LOG_INFO);
	rc = bot_loop_create(&h->loop, &err);
	if (rc)
		return rc;
	h->uv = bot_loop_uv(h->loop);
	h->ctx = bot_lws_context(h->loop, &err);
	if (!h->ctx)
		return BOT_EIO;
	(void)uv_timer_init(h->uv, &h->deadline);
	h->deadline.data = h;
	if (fake_opts) {
		rc = fake_slack_create(h->ctx, h->uv, fake_opts, &h->fs);
		if (rc)
			return rc;
	}
	return 0;
}

bool harness_wait(struct harness *h, harness_cond cond, void *arg, unsigned ms)
{
	h->expired = false;
	(void)uv_timer_start(&h->deadline, deadline_cb, ms, 0);
	while (!(cond && cond(arg)) && !h->expired)
		(void)uv_run(h->uv, UV_RUN_ONCE);
	(void)uv_timer_stop(&h->deadline);
	return cond && cond(arg);
}

void harness_pump(struct harness *h, unsigned ms)
{
	(void)harness_wait(h, NULL, NULL, ms);
}

void harness_drop_fake(struct harness *h)
{
	fake_slack_destroy(h->fs);
	h->fs = NULL;
}

static void fake_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	harness_drop_fake(ud);
	done(done_ud);
}

void harness_stop(struct harness *h)
{
	if (!h->loop)
		return;
	if (bot_loop_on_shutdown(h->loop, fake_hook, h) != BOT_EOK)
		harness_drop_fake(h);
	if (!uv_is_closing((uv_handle_t *)&h->deadline))
		uv_close((uv_handle_t *)&h->deadline, NULL);
	bot_loop_shutdown(h->loop);
	(void)bot_loop_run(h->loop);
}

int harness_destroy(struct harness *h)
{
	int rc;

	if (!h->loop)
		return 0;
	rc = bot_loop_destroy(h->loop);
	if (rc)
		fprintf(stderr, "harness: bot_loop_destroy: %s\n", bot_strerror(rc));
	h->loop = NULL;
	return rc;
}
