/* fake_slack_main.c - the fake Slack as a standalone server, for hands-on and
 * black-box testing.
 *
 *   fake-slack [--port N] [--app-token T] [--bot-token T] [--ping-ms N]
 *              [--grace-ms N] [--channel ID:NAME[:out]]...
 *              [--max-connections N] [--delivery newest|random] [--seed N]
 *              [--event-retries on|off] [--ack-timeout-ms N] [--retry-delays-ms N,N,...]
 *
 * Prints one line to stdout once it listens:
 *   port=<N> api_url=http://127.0.0.1:<N>/api control=http://127.0.0.1:<N>/control/ seed=<N>
 * then serves until SIGINT/SIGTERM.
 *
 * Several replicas of one app (fake_slack.h, "Several connections of one
 * app"): start it with `--delivery random --seed N --event-retries on
 * --ack-timeout-ms 300 --retry-delays-ms 0,1000,2000` (say), point every
 * replica at api_url; each one's apps.connections.open gets its own socket,
 * numbered in the order of upgrade. GET /control/conns says which socket got
 * and acked how much, /control/deliveries where each envelope (and each
 * retry) went and which socket acked it; POST /control/drop_conn {"conn":N}
 * kills one socket. The seed printed (or in /control/state) replays a run. Point the bot's Slack API base URL at
 * api_url. The control API (JSON bodies, JSON answers):
 *   POST /control/slash      {"user","channel","command","text"}
 *   POST /control/button     {"user","channel","message_ts","action_id","value"}
 *   POST /control/mention    {"user","channel","text"}
 *   POST /control/redeliver  {"envelope_id","retry_attempt"}
 *   POST /control/raw        {"frame"}
 *   POST /control/disconnect {"reason"}
 *   POST /control/disconnect_conn {"conn","reason"}, /control/drop_conn {"conn"}
 *   POST /control/drop, /control/silence {"on"}, /control/refuse {"on"}
 *   POST /control/ratelimit  {"method","count","retry_after"}
 *   POST /control/fail       {"method","error"}
 *   POST /control/status     {"method","status"}
 *   POST /control/delay      {"ms"}: answer every Web API call ms late
 *   GET  /control/messages, /control/acks, /control/calls, /control/state,
 *        /control/conns, /control/deliveries (/control/state also has "seed" as
 *        a decimal string, "redeliveries" and "retries_pending": await 0 there
 *        rather than sleeping)
 * Injections answer {"ok":true,"envelope_id":..} or {"ok":false,"error":..}
 * ("no_open_socket", or the bot_err name such as "ENOTFOUND").
 *
 * It runs on bot/loop (one uv loop, one lws context): the fake is destroyed
 * from a shutdown hook, i.e. before lws is torn down (fake_slack.h).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/lws/lws.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "tests/fakes/fake_slack.h"

#define MAX_CHANNELS 32

struct args {
	struct fake_slack_channel chans[MAX_CHANNELS];
	unsigned delays[FAKE_SLACK_MAX_RETRIES];
};

struct app {
	struct bot_loop *loop;
	struct fake_slack *fs;
};

static void on_signal(void *ud, int signum)
{
	struct app *a = ud;

	(void)signum;
	bot_loop_shutdown(a->loop);
}

static void on_shutdown(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct app *a = ud;

	fake_slack_destroy(a->fs);
	a->fs = NULL;
	done(done_ud);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fake-slack [--port N] [--app-token T] [--bot-token T] [--ping-ms N]\n"
		   "                  [--grace-ms N] [--channel ID:NAME[:out]]...\n"
		   "                  [--max-connections N] [--delivery newest|random] [--seed N]\n"
		   "                  [--event-retries on|off] [--ack-timeout-ms N]\n"
		   "                  [--retry-delays-ms N,N,...]\n"
		   "A fake Slack (Web API + Socket Mode) on 127.0.0.1 with a control API;\n"
		   "see tests/fakes/fake_slack_main.c. --channel ...:out means the bot is not\n"
		   "a member. Default channels: C0GENERAL:general, C0RANDOM:random:out.\n"
		   "--delivery random spreads envelopes over the open sockets (PRNG seeded by\n"
		   "--seed, default from the clock, printed); --event-retries on redelivers an\n"
		   "events_api envelope not acked within --ack-timeout-ms (3000) to another\n"
		   "socket after each of --retry-delays-ms (0,60000,300000, as Slack).\n");
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s)
		return BOT_EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v > 0x7fffffffUL)
		return BOT_EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* "N,N,..." (at most FAKE_SLACK_MAX_RETRIES). */
static int parse_delays(const char *s, unsigned *out, size_t *n)
{
	char buf[256], *tok, *save = NULL;

	if (!s || strlen(s) >= sizeof buf)
		return BOT_EINVAL;
	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == FAKE_SLACK_MAX_RETRIES || parse_uint(tok, &out[*n]))
			return BOT_EINVAL;
		(*n)++;
	}
	return *n ? 0 : BOT_EINVAL;
}

static int parse_onoff(const char *s, bool *out)
{
	if (strcmp(s, "on") == 0)
		*out = true;
	else if (strcmp(s, "off") == 0)
		*out = false;
	else
		return BOT_EINVAL;
	return 0;
}

/* "ID:NAME[:out]" in place (s is argv memory). */
static int parse_channel(char *s, struct fake_slack_channel *c)
{
	char *name = strchr(s, ':'), *flag;

	if (!name || name == s || !name[1])
		return BOT_EINVAL;
	*name++ = '\0';
	flag = strchr(name, ':');
	if (flag)
		*flag++ = '\0';
	c->id = s;
	c->name = name;
	c->member = !(flag && strcmp(flag, "out") == 0);
	return 0;
}

static int parse_args(int argc, char **argv, struct fake_slack_opts *o, struct args *a)
{
	struct fake_slack_channel *chans = a->chans;
	unsigned long long seed;
	char *end;
	unsigned v;

	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (!val) {
			fprintf(stderr, "fake-slack: %s needs a value\n", k);
			return BOT_EINVAL;
		}
		i++;
		if (strcmp(k, "--port") == 0 && !parse_uint(val, &v) && v < 65536) {
			o->port = (int)v;
		} else if (strcmp(k, "--app-token") == 0) {
			o->app_token = val;
		} else if (strcmp(k, "--bot-token") == 0) {
			o->bot_token = val;
		} else if (strcmp(k, "--ping-ms") == 0 && !parse_uint(val, &v)) {
			o->ping_interval_ms = v;
		} else if (strcmp(k, "--grace-ms") == 0 && !parse_uint(val, &v)) {
			o->disconnect_grace_ms = v;
		} else if (strcmp(k, "--channel") == 0 && o->n_channels < MAX_CHANNELS &&
			   !parse_channel(val, &chans[o->n_channels])) {
			o->n_channels++;
		} else if (strcmp(k, "--max-connections") == 0 && !parse_uint(val, &v)) {
			o->max_connections = v;
		} else if (strcmp(k, "--delivery") == 0 && (strcmp(val, "newest") == 0 ||
							     strcmp(val, "random") == 0)) {
			o->random_delivery = strcmp(val, "random") == 0;
		} else if (strcmp(k, "--event-retries") == 0 &&
			   !parse_onoff(val, &o->event_retries)) {
			/* parsed */
		} else if (strcmp(k, "--seed") == 0 && val[0] >= '0' && val[0] <= '9' &&
			   (seed = strtoull(val, &end, 10), !*end) && seed) {
			o->seed = (uint64_t)seed;
		} else if (strcmp(k, "--ack-timeout-ms") == 0 && !parse_uint(val, &v)) {
			o->ack_timeout_ms = v;
		} else if (strcmp(k, "--retry-delays-ms") == 0 &&
			   !parse_delays(val, a->delays, &o->n_retry_delays)) {
			o->retry_delays_ms = a->delays;
		} else {
			fprintf(stderr, "fake-slack: bad option %s %s\n", k, val);
			return BOT_EINVAL;
		}
	}
	if (o->n_channels)
		o->channels = chans;
	return 0;
}

int main(int argc, char **argv)
{
	struct args args;
	struct fake_slack_opts o = { .control_api = true };
	struct bot_error err = {0};
	struct app a = {0};
	struct lws_context *ctx;
	int rc, port;

	if (parse_args(argc, argv, &o, &args)) {
		usage(stderr);
		return 2;
	}
	rc = bot_loop_create(&a.loop, &err);
	if (rc) {
		fprintf(stderr, "fake-slack: %s\n", err.msg);
		return 1;
	}
	ctx = bot_lws_context(a.loop, &err);
	if (!ctx) {
		fprintf(stderr, "fake-slack: %s\n", err.msg);
		rc = BOT_EIO;
		goto out;
	}
	rc = fake_slack_create(ctx, bot_loop_uv(a.loop), &o, &a.fs);
	if (rc) {
		fprintf(stderr, "fake-slack: cannot listen: %s\n", bot_strerror(rc));
		goto out;
	}
	if ((rc = bot_loop_on_shutdown(a.loop, on_shutdown, &a)) ||
	    (rc = bot_loop_on_signal(a.loop, SIGINT, on_signal, &a)) ||
	    (rc = bot_loop_on_signal(a.loop, SIGTERM, on_signal, &a))) {
		fprintf(stderr, "fake-slack: %s\n", bot_strerror(rc));
		goto out;
	}
	port = fake_slack_port(a.fs);
	printf("port=%d api_url=%s control=http://127.0.0.1:%d/control/ seed=%" PRIu64 "\n", port,
	       fake_slack_api_url(a.fs), port, fake_slack_seed(a.fs));
	fflush(stdout);
	rc = bot_loop_run(a.loop);
out:
	if (a.fs) {
		/* Never ran: destroy while the loop can still drain the close. */
		fake_slack_destroy(a.fs);
		a.fs = NULL;
	}
	if (bot_loop_destroy(a.loop) && !rc)
		rc = BOT_ESTATE;
	return rc ? 1 : 0;
}
