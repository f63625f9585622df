/* slack_ack_bench: how fast the Slack backend acks a burst of envelopes.
 *
 *   build/tests/bench/slack_ack_bench [--envelopes N] [--work-us U]
 *
 * Two processes, so the bot's numbers are its own: a child runs the fake
 * Slack on its own loop; the parent runs the bot's Slack backend
 * (adapters/slack/slack.c) against it over loopback. Once the bot is
 * connected the child injects N envelopes at once (slash commands, button
 * clicks and app mentions in turn, all distinct), and measures for each
 * the time from the fake writing it to the fake reading its ack, i.e. the
 * latency Slack would see. --work-us makes the bot's event handler burn U
 * microseconds of CPU per event (a stand-in for a store commit), to show
 * acks do not wait for handlers - but a click's, which is acked once its
 * handler settles it (chat_settle), here right after the work.
 *
 * Prints ack latency p50/p99/max, the burst's total time, events delivered,
 * and the bot process's RSS (VmRSS before/after the burst, VmHWM peak).
 * Bounded: gives up after 60 s.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/lws/lws.h"
#include "adapters/slack/slack.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/fake_slack.h"

#define APP_TOKEN "xapp-1-A0FAKE-bench"
#define BOT_TOKEN "xoxb-1-bench"
#define GIVE_UP_MS 60000

struct result {
	int ok;
	unsigned n, acked;
	double p50_ms, p99_ms, max_ms, mean_ms, burst_ms;
};

/* ---- child: the fake Slack --------------------------------------------------- */

struct child {
	struct bot_loop *loop;
	struct fake_slack *fs;
	uv_timer_t poll;
	uv_poll_t hold;            /* the parent's end closes: time to go */
	int hold_fd;
	unsigned n;
	int out_fd;
	uint64_t burst_ns, started_ns, settle_ns;
	bool sent, done;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void child_finish(struct child *c, bool ok)
{
	struct result r = { .ok = ok, .n = c->n };
	size_t n;
	const struct fake_slack_ack *acks = fake_slack_acks(c->fs, &n);
	int64_t *lat = calloc(n ? n : 1, sizeof *lat);
	uint64_t last = 0;
	double sum = 0;
	size_t k = 0;

	for (size_t i = 0; lat && i < n; i++) {
		if (acks[i].latency_ns < 0)
			continue;
		lat[k++] = acks[i].latency_ns;
		sum += (double)acks[i].latency_ns;
		if (acks[i].at_ns > last)
			last = acks[i].at_ns;
	}
	r.acked = (unsigned)k;
	if (k) {
		qsort(lat, k, sizeof *lat, cmp_i64);
		r.p50_ms = (double)lat[k / 2] / 1e6;
		r.p99_ms = (double)lat[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] / 1e6;
		r.max_ms = (double)lat[k - 1] / 1e6;
		r.mean_ms = sum / (double)k / 1e6;
		r.burst_ms = (double)(last - c->burst_ns) / 1e6;
	}
	free(lat);
	if (write(c->out_fd, &r, sizeof r) != (ssize_t)sizeof r)
		perror("bench child: write");
	c->done = true;
	/* stay up until the parent is done with its events (hold closes) */
}

static void child_release(uv_poll_t *h, int status, int events)
{
	struct child *c = h->data;

	(void)status;
	(void)events;
	uv_close((uv_handle_t *)&c->hold, NULL);
	uv_close((uv_handle_t *)&c->poll, NULL);
	bot_loop_shutdown(c->loop);
}

static void child_tick(uv_timer_t *t)
{
	struct child *c = t->data;
	uint64_t now = uv_hrtime();
	size_t n;
	char id[FAKE_SLACK_ID_MAX], ts[32], text[64];

	if (now - c->started_ns > (uint64_t)GIVE_UP_MS * 1000000u) {
		if (!c->done)
			child_finish(c, false);
		child_release(&c->hold, 0, 0);
		return;
	}
	if (c->done)
		return;
	if (!c->sent) {
		if (fake_slack_connections(c->fs) != 1) {
			c->settle_ns = 0;
			return;
		}
		if (!c->settle_ns)
			c->settle_ns = now;
		if (now - c->settle_ns < 300u * 1000000u) /* let start-up settle */
			return;
		c->burst_ns = uv_hrtime();
		for (unsigned i = 0; i < c->n; i++) {
			int rc;

			snprintf(text, sizeof text, "web %u", i);
			switch (i % 3) {
			case 0:
				rc = fake_slack_send_slash(c->fs, "U0BENCH", "C0GENERAL", "/scale", text, id);
				break;
			case 1:
				snprintf(ts, sizeof ts, "1700000000.%06u", i);
				rc = fake_slack_send_button(c->fs, "U0BENCH", "C0GENERAL", ts,
							    "gate.approve", text, id);
				break;
			default:
				rc = fake_slack_send_mention(c->fs, "U0BENCH", "C0GENERAL", text, id);
				break;
			}
			if (rc) {
				fprintf(stderr, "bench child: inject %u: %s\n", i, bot_strerror(rc));
				child_finish(c, false);
				return;
			}
		}
		c->sent = true;
		return;
	}
	(void)fake_slack_acks(c->fs, &n);
	if (n >= c->n)
		child_finish(c, true);
}

static void child_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct child *c = ud;

	fake_slack_destroy(c->fs);
	c->fs = NULL;
	done(done_ud);
}

static int run_child(unsigned n, int port_fd, int out_fd, int hold_fd)
{
	struct child c = { .n = n, .out_fd = out_fd, .hold_fd = hold_fd };
	struct bot_error err = {0};
	struct lws_context *ctx;
	int port;

	log_set_level(BOT_LOG_ERROR);
	if (bot_loop_create(&c.loop, &err) || !(ctx = bot_lws_context(c.loop, &err)) ||
	    fake_slack_create(ctx, bot_loop_uv(c.loop), &(struct fake_slack_opts){
				      .app_token = APP_TOKEN, .bot_token = BOT_TOKEN }, &c.fs) ||
	    bot_loop_on_shutdown(c.loop, child_hook, &c)) {
		fprintf(stderr, "bench child: cannot start the fake: %s\n", err.msg);
		return 1;
	}
	port = fake_slack_port(c.fs);
	if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port)
		return 1;
	close(port_fd);
	c.started_ns = uv_hrtime();
	(void)uv_timer_init(bot_loop_uv(c.loop), &c.poll);
	c.poll.data = &c;
	(void)uv_timer_start(&c.poll, child_tick, 5, 5);
	(void)uv_poll_init(bot_loop_uv(c.loop), &c.hold, hold_fd);
	c.hold.data = &c;
	(void)uv_poll_start(&c.hold, UV_READABLE | UV_DISCONNECT, child_release);
	(void)bot_loop_run(c.loop);
	return bot_loop_destroy(c.loop) ? 1 : 0;
}

/* ---- parent: the bot ----------------------------------------------------------- */

struct parent {
	struct bot_loop *loop;
	struct chat *chat;
	uv_timer_t watch;
	uv_poll_t result_poll;
	int result_fd;
	unsigned events, expect, work_us;
	struct result r;
	bool got_result, connected_seen;
	long rss_before_kb;
	uint64_t started_ns;
};

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0)
			v = strtol(line + kl, NULL, 10);
	fclose(f);
	return v;
}

static void burn(unsigned us)
{
	uint64_t until = uv_hrtime() + (uint64_t)us * 1000u;

	while (uv_hrtime() < until)
		;
}

static void on_event(void *ud, const struct chat_event *ev)
{
	struct parent *p = ud;

	p->events++;
	if (p->work_us)
		burn(p->work_us);
	/* a click is acked once "committed": after the work, as in the bot */
	chat_settle(p->chat, ev->hold, true);
}

static void maybe_done(struct parent *p)
{
	if (p->got_result && p->events >= p->expect)
		bot_loop_shutdown(p->loop);
}

static void on_result(uv_poll_t *h, int status, int events)
{
	struct parent *p = h->data;
	ssize_t n;

	(void)status;
	(void)events;
	n = read(p->result_fd, &p->r, sizeof p->r);
	if (n != (ssize_t)sizeof p->r)
		p->r.ok = 0;
	p->got_result = true;
	uv_poll_stop(h);
	uv_close((uv_handle_t *)h, NULL);
	if (!p->r.ok)
		bot_loop_shutdown(p->loop);
	maybe_done(p);
}

static void on_watch(uv_timer_t *t)
{
	struct parent *p = t->data;
	struct slack_chat_stats s;

	slack_chat_get_stats(p->chat, &s);
	if (s.connected && !p->connected_seen) {
		p->connected_seen = true;
		p->rss_before_kb = status_kb("VmRSS:");
	}
	maybe_done(p);
	if ((uv_hrtime() - p->started_ns) / 1000000u > GIVE_UP_MS + 5000) {
		fprintf(stderr, "bench: timed out (events %u of %u)\n", p->events, p->expect);
		bot_loop_shutdown(p->loop);
	}
}

static void parent_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct parent *p = ud;

	uv_close((uv_handle_t *)&p->watch, NULL);
	if (!p->got_result && !uv_is_closing((uv_handle_t *)&p->result_poll))
		uv_close((uv_handle_t *)&p->result_poll, NULL);
	done(done_ud);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "envelopes", required_argument, NULL, 'n' },
		{ "work-us", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned n = 1000, work = 0;
	int port_pipe[2], res_pipe[2], hold_pipe[2], port = 0, c, status = 0, rc = 1;
	struct parent p = {0};
	struct bot_error err = {0};
	char url[64];
	pid_t pid;

	while ((c = getopt_long(argc, argv, "n:w:h", lo, NULL)) != -1) {
		if (c == 'n')
			n = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'w')
			work = (unsigned)strtoul(optarg, NULL, 10);
		else {
			fprintf(c == 'h' ? stdout : stderr,
				"usage: slack_ack_bench [--envelopes N] [--work-us U]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (n == 0 || n > 100000)
		n = 1000;
	if (pipe(port_pipe) || pipe(res_pipe) || pipe(hold_pipe)) {
		perror("pipe");
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(port_pipe[0]);
		close(res_pipe[0]);
		close(hold_pipe[1]);
		_exit(run_child(n, port_pipe[1], res_pipe[1], hold_pipe[0]));
	}
	close(port_pipe[1]);
	close(res_pipe[1]);
	close(hold_pipe[0]);
	if (read(port_pipe[0], &port, sizeof port) != (ssize_t)sizeof port) {
		fprintf(stderr, "bench: the fake did not start\n");
		goto out;
	}
	close(port_pipe[0]);

	log_set_level(BOT_LOG_WARN);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api", port);
	p.expect = n;
	p.work_us = work;
	p.result_fd = res_pipe[0];
	p.started_ns = uv_hrtime();
	if (bot_loop_create(&p.loop, &err) ||
	    slack_chat_create(p.loop, &(struct slack_chat_opts){ .app_token = APP_TOKEN,
			      .bot_token = BOT_TOKEN, .api_url = url }, &p.chat, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		goto out;
	}
	p.chat->on_event = on_event;
	p.chat->event_ud = &p;
	(void)uv_timer_init(bot_loop_uv(p.loop), &p.watch);
	p.watch.data = &p;
	(void)uv_timer_start(&p.watch, on_watch, 10, 10);
	(void)uv_poll_init(bot_loop_uv(p.loop), &p.result_poll, p.result_fd);
	p.result_poll.data = &p;
	(void)uv_poll_start(&p.result_poll, UV_READABLE, on_result);
	if (bot_loop_on_shutdown(p.loop, parent_hook, &p) || p.chat->ops->start(p.chat)) {
		fprintf(stderr, "bench: cannot start\n");
		goto out;
	}
	(void)bot_loop_run(p.loop);
	{
		long rss_after = status_kb("VmRSS:"), hwm = status_kb("VmHWM:");
		struct slack_chat_stats s;

		slack_chat_get_stats(p.chat, &s);
		printf("slack_ack_bench: %u envelopes in one burst (slash/button/mention), handler "
		       "work %u us/event\n", n, work);
		if (!p.got_result || !p.r.ok) {
			printf("FAILED: acked %u of %u, events %u\n", p.r.acked, n, p.events);
		} else {
			printf("ack latency (fake writes envelope -> fake reads ack): p50 %.3f ms  "
			       "p99 %.3f ms  max %.3f ms  mean %.3f ms\n", p.r.p50_ms, p.r.p99_ms,
			       p.r.max_ms, p.r.mean_ms);
			printf("burst: %u acks in %.1f ms; events delivered %u/%u, duplicates %u\n",
			       p.r.acked, p.r.burst_ms, p.events, n, s.duplicates);
			rc = p.events == n ? 0 : 1;
		}
		printf("bot RSS: %.1f MB connected before the burst, %.1f MB after, peak (VmHWM) "
		       "%.1f MB\n", (double)p.rss_before_kb / 1024.0, (double)rss_after / 1024.0,
		       (double)hwm / 1024.0);
	}
out:
	if (p.chat)
		p.chat->ops->destroy(p.chat);
	if (p.loop && bot_loop_destroy(p.loop))
		rc = 1;
	close(hold_pipe[1]);  /* the fake may go now */
	if (!p.got_result)
		(void)kill(pid, SIGTERM); /* the fake would wait for its give-up time */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		rc = 1;
	return rc;
}
