/* burst_bench: the bot under an incident's burst (issue 13).
 *
 *   build/tests/bench/burst_bench [--commands N] [--rounds R] [--flood F]
 *
 * The real chatops-bot binary as a child process, the fake Slack in this
 * process (Socket Mode, Web API), moto behind the ledger proxy that counts
 * every AWS request. Each round sends, at once, N `/scale svc-0 5` from N
 * distinct people, waits until every one is answered (one card, the rest
 * refused), then N `/investigate svc-0` (one report, the rest pointed to
 * it), then cancels the card. After the rounds, with Slack answering every
 * Web API call in 100 ms: a card is opened, F people who may not request
 * anything flood the channel with refused commands, an approver clicks
 * Approve, and the time until the card shows the decision is measured.
 *
 * Prints per burst: AWS requests sent (ledger), peak AWS requests in
 * flight (the bot's /metrics), the bot's RSS before and after and its peak
 * (VmHWM), its peak open descriptors (sampled while it works), ack latency
 * p50/p99/max as the fake measured it, and the time until every command
 * was answered. Numbers, not assertions; the issue's targets are printed
 * beside them. Bounded: every wait has a deadline, every process is
 * stopped by PID. Needs moto_server on PATH (scripts/install-moto).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"
#include "tests/fakes/proc.h"

#define APP_TOKEN "xapp-1-A0FAKE-burst-bench"
#define BOT_TOKEN "xoxb-1-burst-bench"
#define CHANNEL "C0OPS"
#define CLUSTER "crash-cluster"
#define STEP_MS 60000
#define MAX_CMDS 5000

static struct {
	struct harness h;
	struct moto *moto;
	struct ledger *ledger;
	char dir[64], bot[600], seed_script[600], cfg[160], log[160];
	pid_t pid;
	int metrics_port;
	int commands, rounds, flood;
	unsigned peak_fds;
} B;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(int64_t *v, size_t n, double p)
{
	return n ? (double)v[(size_t)(p * (double)(n - 1) + 0.5)] / 1e6 : -1;
}

static unsigned open_fds(void)
{
	char path[64];
	unsigned n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)B.pid);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Pump the fake's loop for ms, sampling the bot's descriptors every
 * 10 ms (more often would slow the fake, which shares this process). */
static void pump(unsigned ms)
{
	static long sampled;
	long until = proc_now_ms() + ms;
	do {
		harness_pump(&B.h, 2);
		if (proc_now_ms() - sampled >= 10) {
			unsigned f = open_fds();
			if (f > B.peak_fds)
				B.peak_fds = f;
			sampled = proc_now_ms();
		}
	} while (proc_now_ms() < until);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A value from the bot's /metrics (a line starting "name "), or -1. */
static double metric(const char *name)
{
	static char buf[65536];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)B.metrics_port)};
	struct timeval tv = {.tv_sec = 2};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t o = 0;
	ssize_t r;
	double v = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Connection: close\r\n\r\n";
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		close(fd);
		return -1;
	}
	while (o < sizeof buf - 1 && (r = read(fd, buf + o, sizeof buf - 1 - o)) > 0)
		o += (size_t)r;
	buf[o] = '\0';
	close(fd);
	size_t n = strlen(name);
	for (char *p = buf; (p = strstr(p, name)); p += n)
		if ((p == buf || p[-1] == '\n') && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	return v;
}

static int run(char *const argv[], const char *out)
{
	pid_t pid = proc_spawn(argv, out, 0);
	long until = proc_now_ms() + STEP_MS;
	int st = -1;

	if (pid < 0)
		return -1;
	while ((st = proc_wait(pid, 0, 0)) == -1 && proc_now_ms() < until)
		harness_pump(&B.h, 20);
	if (st == -1) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int write_config(void)
{
	FILE *f;

	snprintf(B.cfg, sizeof B.cfg, "%s/bot.yaml", B.dir);
	snprintf(B.log, sizeof B.log, "%s/bot.log", B.dir);
	if (!(f = fopen(B.cfg, "w")))
		return -1;
	fprintf(f,
		"slack:\n  app_token_env: BURST_APP_TOKEN\n  bot_token_env: BURST_BOT_TOKEN\n"
		"  api_url: %s\n"
		"aws:\n  region: us-east-1\n  endpoint_url: %s\n"
		"defaults:\n  timer: 10m\n  min_timer: 1s\n  approvers: [U0APPROVER1]\n"
		"store:\n  path: %s/bot.db\n"
		"http:\n  listen: 127.0.0.1:%d\n"
		"log:\n  level: warn\n"
		"limits:\n  user_commands_per_minute: 20\n"
		"services:\n"
		"  svc-0:\n    cluster: " CLUSTER "\n    min_desired: 1\n    max_desired: 100\n"
		"    requesters: ['*']\n"
		"  svc-1:\n    cluster: " CLUSTER "\n    min_desired: 1\n    max_desired: 100\n"
		"    requesters: [U0ONCALL1]\n",
		fake_slack_api_url(B.h.fs), ledger_url(B.ledger), B.dir, B.metrics_port);
	return fclose(f) == 0 ? 0 : -1;
}

static void env_for_bot(void)
{
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("SLACK_API_URL");
	setenv("AWS_ENDPOINT_URL", ledger_url(B.ledger), 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIABURSTBENCH000000", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "burst-bench-secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("BURST_APP_TOKEN", APP_TOKEN, 1);
	setenv("BURST_BOT_TOKEN", BOT_TOKEN, 1);
}

static bool connected(void *arg)
{
	(void)arg;
	return fake_slack_connections(B.h.fs) >= 1 && metric("chatops_up") == 1;
}

/* Answers so far: ephemerals (Web API or response_url) and top-level posts. */
static size_t answers(void)
{
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(B.h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postEphemeral") == 0 ||
		     strcmp(m[i].method, "response_url") == 0 ||
		     (strcmp(m[i].method, "chat.postMessage") == 0 && !m[i].thread_ts);
	return k;
}

/* The newest card: its gate id and ts. */
static bool newest_card(uint64_t *id, char *ts, size_t n_ts)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(B.h.fs, &n);
	for (size_t i = n; i-- > 0;) {
		const char *p;
		if (strcmp(m[i].method, "chat.postMessage") != 0 || m[i].thread_ts || !m[i].text ||
		    !m[i].ts || !(p = strstr(m[i].text, "Scale request #")))
			continue;
		*id = strtoull(p + strlen("Scale request #"), NULL, 10);
		snprintf(ts, n_ts, "%s", m[i].ts);
		return true;
	}
	return false;
}

static bool card_shows(const char *ts, const char *word)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(B.h.fs, &n);
	for (size_t i = n; i-- > 0;)
		if (strcmp(m[i].method, "chat.update") == 0 && m[i].ts && strcmp(m[i].ts, ts) == 0 &&
		    m[i].text && strstr(m[i].text, word))
			return true;
	return false;
}

/* One burst of N commands; prints its line. 0 or -1 (not answered in time). */
static int burst(int round, const char *what, const char *command, const char *text)
{
	size_t acks0 = 0, answers0 = answers(), acks_n = 0;
	int aws0 = ledger_count(B.ledger, NULL, NULL, 0);
	long rss0 = proc_status_kb(B.pid, "VmRSS");
	char user[32];

	(void)fake_slack_acks(B.h.fs, &acks0);
	B.peak_fds = open_fds();
	long t0 = proc_now_ms();
	for (int i = 0; i < B.commands; i++) {
		snprintf(user, sizeof user, "U%d%04d", round + 1, i);
		if (fake_slack_send_slash(B.h.fs, user, CHANNEL, command, text, NULL) != 0)
			return -1;
	}
	while (answers() - answers0 < (size_t)B.commands) {
		if (proc_now_ms() - t0 > STEP_MS) {
			fprintf(stderr, "burst_bench: %s round %d: %zu of %d answered\n", what,
				round + 1, answers() - answers0, B.commands);
			return -1;
		}
		pump(5);
	}
	long settle = proc_now_ms() - t0;
	pump(200); /* the last AWS answers and closes */
	const struct fake_slack_ack *acks = fake_slack_acks(B.h.fs, &acks_n);
	int64_t *lat = calloc(acks_n - acks0 + 1, sizeof *lat);
	size_t k = 0;
	for (size_t i = acks0; lat && i < acks_n; i++)
		if (acks[i].latency_ns >= 0)
			lat[k++] = acks[i].latency_ns;
	qsort(lat, k, sizeof *lat, cmp_i64);
	printf("round %d %-12s AWS requests %3d (target <= 10), peak in flight %2.0f; RSS %.1f -> "
	       "%.1f MiB (peak %.1f; target <= 24 after); peak fds %u; ack p50 %.1f p99 %.1f max "
	       "%.1f ms (n=%zu; target p99 <= 40); all %d answered in %ld ms\n", round + 1, what,
	       ledger_count(B.ledger, NULL, NULL, 0) - aws0, metric("chatops_aws_in_flight_peak"),
	       (double)rss0 / 1024.0, (double)proc_status_kb(B.pid, "VmRSS") / 1024.0,
	       (double)proc_status_kb(B.pid, "VmHWM") / 1024.0, B.peak_fds, pct_ms(lat, k, 0.5),
	       pct_ms(lat, k, 0.99), k ? (double)lat[k - 1] / 1e6 : -1, k, B.commands, settle);
	fflush(stdout);
	free(lat);
	return 0;
}

static int cancel_card(void)
{
	uint64_t id;
	char ts[32], text[48];

	if (!newest_card(&id, ts, sizeof ts))
		return -1;
	snprintf(text, sizeof text, "cancel %" PRIu64, id);
	if (fake_slack_send_slash(B.h.fs, "U0APPROVER1", CHANNEL, "/gates", text, NULL) != 0)
		return -1;
	for (long t0 = proc_now_ms(); !card_shows(ts, ", cancelled"); pump(5))
		if (proc_now_ms() - t0 > STEP_MS)
			return -1;
	return 0;
}

/* The card update behind a flood of refused commands, Slack at 100 ms. */
static int flood(void)
{
	uint64_t id = 0;
	char ts[32] = "", value[24], user[32];
	size_t cards0 = 0;

	fake_slack_answer_delay(B.h.fs, 100);
	(void)newest_card(&id, ts, sizeof ts);
	cards0 = id;
	if (fake_slack_send_slash(B.h.fs, "U0ONCALL1", CHANNEL, "/scale", "svc-0 7 --timer 10m",
				  NULL) != 0)
		return -1;
	long t0 = proc_now_ms();
	while (!newest_card(&id, ts, sizeof ts) || id == cards0 ||
	       !card_shows(ts, "approves automatically at")) {
		if (proc_now_ms() - t0 > STEP_MS)
			return -1;
		pump(5);
	}
	for (int i = 0; i < B.flood; i++) {
		snprintf(user, sizeof user, "U9%04d", i);
		if (fake_slack_send_slash(B.h.fs, user, CHANNEL, "/scale", "svc-1 3", NULL) != 0)
			return -1;
	}
	pump(50); /* the refusals are queued by now */
	snprintf(value, sizeof value, "%" PRIu64, id);
	long click = proc_now_ms();
	if (fake_slack_send_button(B.h.fs, "U0APPROVER1", CHANNEL, ts, "gate.approve", value,
				   NULL) != 0)
		return -1;
	while (!card_shows(ts, ", approved") && !card_shows(ts, ", scaling") &&
	       !card_shows(ts, ", done")) {
		if (proc_now_ms() - click > STEP_MS)
			return -1;
		pump(2);
	}
	long shown = proc_now_ms() - click;
	size_t answered0 = answers();
	for (long t1 = proc_now_ms(); answers() < answered0 + 1 && proc_now_ms() - t1 < 100;)
		pump(5);
	printf("flood: %d refused commands, Slack answering in 100 ms: click -> card shows the "
	       "decision in %ld ms (target <= 2000)\n", B.flood, shown);
	fflush(stdout);
	return 0;
}

static const struct fake_slack_channel chans[] = {{CHANNEL, "ops", true}};

static void stop_bot(void)
{
	int st = -1;
	if (B.pid <= 0)
		return;
	(void)kill(B.pid, SIGTERM);
	for (long until = proc_now_ms() + 10000; st == -1 && proc_now_ms() < until;) {
		st = proc_wait(B.pid, 0, 0);
		if (st == -1)
			harness_pump(&B.h, 20);
	}
	if (st == -1) {
		(void)kill(B.pid, SIGKILL);
		(void)waitpid(B.pid, NULL, 0);
	}
	B.pid = 0;
}

static int bench(void)
{
	char msg[4096], out[200], cmd[128];
	int rc = -1;

	snprintf(B.dir, sizeof B.dir, "/tmp/burst-bench-XXXXXX");
	if (!mkdtemp(B.dir))
		return -1;
	if (harness_init(&B.h, &(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 1}) != 0)
		return -1;
	harness_log_release();
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true}, &B.moto, msg,
		       sizeof msg) != 0 ||
	    ledger_start(moto_url(B.moto), &B.ledger, msg, sizeof msg) != 0)
		goto fail;
	snprintf(out, sizeof out, "%s/seed.log", B.dir);
	char *seed_argv[] = {"/usr/bin/env", "python3", B.seed_script, (char *)moto_url(B.moto),
			     "--cluster", CLUSTER, "--services", "2", NULL};
	snprintf(msg, sizeof msg, "crash-seed.py failed (%s)", out);
	if (run(seed_argv, out) != 0)
		goto fail;
	B.metrics_port = free_port();
	env_for_bot();
	snprintf(msg, sizeof msg, "cannot write the config");
	if (B.metrics_port < 0 || write_config() != 0)
		goto fail;
	char *argv[] = {B.bot, "--config", B.cfg, NULL};
	B.pid = proc_spawn(argv, B.log, 0);
	snprintf(msg, sizeof msg, "the bot did not connect (log: %s)", B.log);
	long t0 = proc_now_ms();
	while (!connected(NULL)) {
		if (proc_now_ms() - t0 > STEP_MS)
			goto fail;
		harness_pump(&B.h, 20);
	}
	pump(500);
	printf("bot connected: RSS %.1f MiB, %u fds\n",
	       (double)proc_status_kb(B.pid, "VmRSS") / 1024.0, open_fds());
	for (int r = 0; r < B.rounds; r++) {
		snprintf(msg, sizeof msg, "round %d did not finish (log: %s)", r + 1, B.log);
		if (burst(r, "/scale", "/scale", "svc-0 5") != 0 ||
		    burst(r, "/investigate", "/investigate", "svc-0") != 0 || cancel_card() != 0)
			goto fail;
		/* the next round reads afresh: past the read window */
		pump(10500);
	}
	snprintf(msg, sizeof msg, "the flood test did not finish (log: %s)", B.log);
	if (B.flood && flood() != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "burst_bench: %s\n", msg);
out:
	stop_bot();
	harness_stop(&B.h);
	(void)harness_destroy(&B.h);
	ledger_stop(B.ledger);
	moto_stop(B.moto);
	if (rc == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", B.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "burst_bench: could not remove %s\n", B.dir);
	} else {
		fprintf(stderr, "burst_bench: files kept in %s\n", B.dir);
	}
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: burst_bench [--commands N] [--rounds R] [--flood F]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"commands", required_argument, NULL, 'n'}, {"rounds", required_argument, NULL, 'r'},
		{"flood", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	B.commands = 1000;
	B.rounds = 3;
	B.flood = 300;
	while ((c = getopt_long(argc, argv, "n:r:f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': B.commands = atoi(optarg); break;
		case 'r': B.rounds = atoi(optarg); break;
		case 'f': B.flood = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (B.commands < 1 || B.commands > MAX_CMDS || B.rounds < 1 || B.rounds > 10 ||
	    B.flood < 0 || B.flood > MAX_CMDS) {
		usage(stderr);
		return 2;
	}
	snprintf(B.bot, sizeof B.bot, "%s/chatops-bot", BURST_BENCH_BUILD_ROOT);
	snprintf(B.seed_script, sizeof B.seed_script, "%s/tests/fakes/crash-seed.py",
		 BURST_BENCH_SOURCE_ROOT);
	setenv("CHATOPS_SOURCE_ROOT", BURST_BENCH_SOURCE_ROOT, 0);
	setenv("CHATOPS_BUILD_ROOT", BURST_BENCH_BUILD_ROOT, 0);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	return bench() ? 1 : 0;
}
