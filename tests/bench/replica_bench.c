/* replica_bench: three chatops-bot replicas on a shared store, DynamoDB
 * (moto) against SQLite (issue 12).
 *
 *   build/tests/bench/replica_bench [--store dynamodb|sqlite|both]
 *                                   [--gates N] [--services S] [--idle-s I]
 *
 * For each store: the fake Slack (random delivery over the three Socket
 * Mode connections), moto behind the ledger proxy for ECS/CloudWatch, and
 * for DynamoDB a second, single-threaded moto behind its own ledger proxy
 * (docs/aws-notes.md section 10), as integration.replica sets them up, but
 * no kills. The replicas idle for I seconds (what the store costs with no
 * gate: every replica lists the live gates every 2 s), then N gate lives
 * run, S at a time: /scale with a 10 minute timer, and once the card shows
 * its deadline an approver clicks Approve.
 *
 * Prints, per store:
 *   - click -> committed decision: the audit row of the decision (its
 *     at_ms, taken when the deciding write was made) minus the wall time
 *     the click was handed to the fake; and click -> card shows the
 *     decision (the chat.update the fake received), p50/p99/max;
 *   - RSS of each replica (VmRSS and VmHWM) at the end;
 *   - AWS requests per gate: ECS+CloudWatch (ledger), DynamoDB (its
 *     ledger; the idle rate per replica and minute, and per gate after
 *     subtracting that idle rate over the run).
 * Numbers, not assertions. Bounded: every wait has a deadline, every
 * process is stopped by PID. Needs moto_server on PATH (scripts/install-moto)
 * and, for DynamoDB, a bot with store.backend dynamodb. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot/base/error.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"
#include "tests/fakes/proc.h"

#define APP_TOKEN "xapp-1-A0FAKE-replica-bench"
#define BOT_TOKEN "xoxb-1-replica-bench"
#define CHANNEL "C0OPS"
#define CLUSTER "crash-cluster"
#define TABLE "chatops-bench"
#define N_REPLICAS 3
#define MAX_GATES 1000
#define MAX_SERVICES 32
#define STEP_MS 20000
#define CLI_TIMEOUT_MS 60000
#define PUMP_MS 5

struct life {
	int svc, target;
	uint64_t gate;
	char ts[32];
	int64_t click_wall_ms;
	long click_mono_ms, shown_ms;
	int state; /* 0 asked, 1 card, 2 clicked, 3 shown decided, 4 final */
	long since_ms;
};

static struct {
	struct harness h;
	struct moto *moto, *ddb_moto;
	struct ledger *ledger, *ddb_ledger;
	char dir[64], bot[600], seed_script[600];
	const char *store;
	pid_t pid[N_REPLICAS];
	char cfg[N_REPLICAS][160], log[N_REPLICAS][160];
	int gates, services, idle_s, abandoned;
	struct life lives[MAX_GATES];
} B;

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, double p)
{
	if (!n)
		return -1;
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

static int run(char *const argv[], const char *out)
{
	pid_t pid = proc_spawn(argv, out, 0);
	long until = proc_now_ms() + CLI_TIMEOUT_MS;
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

static int write_config(int i)
{
	FILE *f;

	snprintf(B.cfg[i], sizeof B.cfg[i], "%s/replica-%d.yaml", B.dir, i);
	snprintf(B.log[i], sizeof B.log[i], "%s/replica-%d.log", B.dir, i);
	f = fopen(B.cfg[i], "w");
	if (!f)
		return -1;
	fprintf(f,
		"slack:\n  app_token_env: REPLICA_APP_TOKEN\n  bot_token_env: REPLICA_BOT_TOKEN\n"
		"  api_url: %s\n"
		"aws:\n  region: us-east-1\n  endpoint_url: %s\n"
		"defaults:\n  timer: 10m\n  min_timer: 1s\n  approvers: [U0APPROVER1]\n"
		"  requesters: [U0ONCALL1]\n"
		"log:\n  level: warn\n",
		fake_slack_api_url(B.h.fs), ledger_url(B.ledger));
	if (strcmp(B.store, "sqlite") == 0)
		fprintf(f, "store:\n  path: %s/shared.db\n", B.dir);
	else
		fprintf(f, "store:\n  backend: dynamodb\n  table: " TABLE "\n  region: us-east-1\n"
			"  endpoint: %s\n", ledger_url(B.ddb_ledger));
	fprintf(f, "services:\n");
	for (int s = 0; s < B.services; s++)
		fprintf(f, "  svc-%d:\n    cluster: " CLUSTER "\n    min_desired: 1\n"
			"    max_desired: 10000\n", s);
	return fclose(f) == 0 ? 0 : -1;
}

static unsigned open_sockets(void)
{
	size_t n = 0;
	unsigned k = 0;
	const struct fake_slack_conn *c = fake_slack_conns(B.h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += c[i].open && !c[i].rejected;
	return k;
}

static bool all_connected(void *arg)
{
	(void)arg;
	return open_sockets() >= N_REPLICAS;
}

static bool find_card(int svc, int target, uint64_t *id, char *ts, size_t n_ts)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(B.h.fs, &n);
	char needle[32], arrow[32];

	snprintf(needle, sizeof needle, ": svc-%d ", svc);
	snprintf(arrow, sizeof arrow, " -&gt; %d,", target);
	for (size_t i = 0; i < n; i++) {
		const char *p;
		if (strcmp(m[i].method, "chat.postMessage") != 0 || m[i].thread_ts || !m[i].text ||
		    !m[i].ts || !(p = strstr(m[i].text, "Scale request #")) ||
		    !strstr(m[i].text, needle) || !strstr(m[i].text, arrow))
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

/* Gate lives, `services` at a time (one per service); 0 or -1 (timed out). */
static int drive(void)
{
	int started = 0, done = 0, busy[MAX_SERVICES];
	long until = proc_now_ms() + (long)B.gates * 2000 + 2L * STEP_MS + 60000;

	for (int s = 0; s < B.services; s++)
		busy[s] = -1;
	while (done < B.gates) {
		long now = proc_now_ms();
		if (now > until)
			return -1;
		harness_pump(&B.h, PUMP_MS);
		for (int s = 0; s < B.services; s++) {
			struct life *l;
			char text[96], value[24], env[FAKE_SLACK_ID_MAX];

			if (busy[s] < 0) {
				if (started >= B.gates)
					continue;
				busy[s] = started;
				l = &B.lives[started++];
				/* one life per service at a time; targets grow, so none
				 * is the service's current count */
				*l = (struct life){.svc = s, .target = 2 + started, .since_ms = now};
				snprintf(text, sizeof text, "svc-%d %d --timer 10m bench", s, l->target);
				if (fake_slack_send_slash(B.h.fs, "U0ONCALL1", CHANNEL, "/scale", text,
							  NULL) != 0)
					return -1;
				continue;
			}
			l = &B.lives[busy[s]];
			switch (l->state) {
			case 0:
				if (find_card(s, l->target, &l->gate, l->ts, sizeof l->ts))
					l->state = 1;
				break;
			case 1:
				if (!card_shows(l->ts, "(approves automatically at"))
					break;
				snprintf(value, sizeof value, "%" PRIu64, l->gate);
				l->click_wall_ms = wall_ms();
				l->click_mono_ms = proc_now_ms();
				if (fake_slack_send_button(B.h.fs, "U0APPROVER1", CHANNEL, l->ts,
							   "gate.approve", value, env) != 0)
					return -1;
				l->state = 2;
				break;
			case 2:
				if (card_shows(l->ts, ", approved") || card_shows(l->ts, ", scaling") ||
				    card_shows(l->ts, ", done")) {
					l->shown_ms = proc_now_ms();
					l->state = 3;
				}
				break;
			case 3:
				if (card_shows(l->ts, ", done") || card_shows(l->ts, ", failed")) {
					l->state = 4;
					busy[s] = -1;
					done++;
				}
				break;
			default:
				break;
			}
			if (busy[s] >= 0 && now - l->since_ms > STEP_MS) {
				/* stuck (e.g. a store write that gave up under
				 * contention): counted, left out of the numbers */
				l->state = 5;
				busy[s] = -1;
				done++;
				B.abandoned++;
			}
		}
	}
	return 0;
}

/* at_ms of each gate's decision (PENDING -> APPROVED), from the audit. */
static int decision_times(int64_t *at, size_t n_at)
{
	char out[200], line[16384];
	char *argv[] = {B.bot, "audit", "--config", B.cfg[0], "--format", "jsonl", NULL};
	FILE *f;

	snprintf(out, sizeof out, "%s/audit.jsonl", B.dir);
	if (run(argv, out) != 0 || !(f = fopen(out, "r")))
		return -1;
	while (fgets(line, sizeof line, f)) {
		json_t *o = strncmp(line, "{\"seq\"", 6) == 0 ? json_loads(line, 0, NULL) : NULL;
		const char *from = json_string_value(json_object_get(o, "from"));
		const char *to = json_string_value(json_object_get(o, "to"));
		json_int_t gid = json_integer_value(json_object_get(o, "gate_id"));
		if (o && from && to && strcmp(from, "PENDING") == 0 && strcmp(to, "APPROVED") == 0 &&
		    gid > 0 && (size_t)gid < n_at)
			at[gid] = json_integer_value(json_object_get(o, "at_ms"));
		json_decref(o);
	}
	fclose(f);
	return 0;
}

static void env_for_bots(void)
{
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("SLACK_API_URL");
	setenv("AWS_ENDPOINT_URL", ledger_url(B.ledger), 1);
	if (B.ddb_ledger)
		setenv("AWS_ENDPOINT_URL_DYNAMODB", ledger_url(B.ddb_ledger), 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAREPLICABENCH0000", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "replica-bench-secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("REPLICA_APP_TOKEN", APP_TOKEN, 1);
	setenv("REPLICA_BOT_TOKEN", BOT_TOKEN, 1);
}

static const struct fake_slack_channel chans[] = {{CHANNEL, "ops", true}};

static void stop_all(void)
{
	for (int i = 0; i < N_REPLICAS; i++) {
		int st = -1;
		if (B.pid[i] <= 0)
			continue;
		(void)kill(B.pid[i], SIGTERM);
		for (long until = proc_now_ms() + 10000; st == -1 && proc_now_ms() < until;) {
			st = proc_wait(B.pid[i], 0, 0);
			if (st == -1)
				harness_pump(&B.h, 20);
		}
		if (st == -1) {
			(void)kill(B.pid[i], SIGKILL);
			(void)waitpid(B.pid[i], NULL, 0);
		}
		B.pid[i] = 0;
	}
}

/* One store: set up, idle, drive, measure, tear down. 0 or -1. */
static int bench_store(const char *store)
{
	char msg[4096], out[200], n[16], cmd[128];
	int rc = -1;
	int64_t click_commit[MAX_GATES], click_shown[MAX_GATES];
	int64_t *at = calloc(MAX_GATES * 4, sizeof *at);
	size_t nc = 0, ns = 0;
	int ddb_idle0 = 0, ddb_idle1 = 0, ddb_end = 0, aws_before = 0;
	long t_drive = 0, t_idle = 0;

	memset(&B.lives, 0, sizeof B.lives);
	B.abandoned = 0;
	B.store = store;
	snprintf(B.dir, sizeof B.dir, "/tmp/replica-bench-XXXXXX");
	if (!at || !mkdtemp(B.dir))
		goto out;
	if (harness_init(&B.h, &(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 1, .random_delivery = true, .seed = 12}) != 0)
		goto out;
	harness_log_release();
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true}, &B.moto, msg,
		       sizeof msg) != 0 ||
	    ledger_start(moto_url(B.moto), &B.ledger, msg, sizeof msg) != 0)
		goto fail;
	if (strcmp(store, "dynamodb") == 0 &&
	    (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true,
					    .single_threaded = true}, &B.ddb_moto, msg,
			sizeof msg) != 0 ||
	     ledger_start(moto_url(B.ddb_moto), &B.ddb_ledger, msg, sizeof msg) != 0))
		goto fail;
	snprintf(out, sizeof out, "%s/seed.log", B.dir);
	snprintf(n, sizeof n, "%d", B.services);
	char *seed_argv[] = {"/usr/bin/env", "python3", B.seed_script, (char *)moto_url(B.moto),
			     "--cluster", CLUSTER, "--services", n, NULL};
	snprintf(msg, sizeof msg, "crash-seed.py failed (%s)", out);
	if (run(seed_argv, out) != 0)
		goto fail;
	env_for_bots();
	for (int i = 0; i < N_REPLICAS; i++)
		if (write_config(i) != 0)
			goto fail;
	if (B.ddb_ledger) {
		char *init_argv[] = {B.bot, "store", "init", "--config", B.cfg[0], NULL};
		snprintf(out, sizeof out, "%s/store-init.log", B.dir);
		snprintf(msg, sizeof msg, "chatops-bot store init failed (%s)", out);
		if (run(init_argv, out) != 0)
			goto fail;
	}
	for (int i = 0; i < N_REPLICAS; i++) {
		char *argv[] = {B.bot, "--config", B.cfg[i], NULL};
		B.pid[i] = proc_spawn(argv, B.log[i], 0);
	}
	snprintf(msg, sizeof msg, "the replicas did not connect (logs in %s)", B.dir);
	if (!harness_wait(&B.h, all_connected, NULL, STEP_MS))
		goto fail;
	/* idle: what the store costs with nothing to do */
	harness_pump(&B.h, 2000);
	if (B.ddb_ledger)
		ddb_idle0 = ledger_count(B.ddb_ledger, NULL, NULL, 0);
	t_idle = proc_now_ms();
	harness_pump(&B.h, (unsigned)B.idle_s * 1000u);
	t_idle = proc_now_ms() - t_idle;
	if (B.ddb_ledger)
		ddb_idle1 = ledger_count(B.ddb_ledger, NULL, NULL, 0);
	aws_before = ledger_count(B.ledger, NULL, NULL, 0);
	t_drive = proc_now_ms();
	snprintf(msg, sizeof msg, "the gate lives did not finish in time (logs in %s)", B.dir);
	if (drive() != 0)
		goto fail;
	t_drive = proc_now_ms() - t_drive;
	if (B.ddb_ledger)
		ddb_end = ledger_count(B.ddb_ledger, NULL, NULL, 0);
	printf("%s: RSS per replica (VmRSS / VmHWM, MiB):", store);
	for (int i = 0; i < N_REPLICAS; i++)
		printf(" %.1f / %.1f", (double)proc_status_kb(B.pid[i], "VmRSS") / 1024.0,
		       (double)proc_status_kb(B.pid[i], "VmHWM") / 1024.0);
	printf("\n");
	int aws = ledger_count(B.ledger, NULL, NULL, 0) - aws_before;
	snprintf(msg, sizeof msg, "audit export failed");
	if (decision_times(at, MAX_GATES * 4) != 0)
		goto fail;
	for (int k = 0; k < B.gates; k++) {
		struct life *l = &B.lives[k];
		if (l->gate && l->gate < MAX_GATES * 4 && at[l->gate])
			click_commit[nc++] = at[l->gate] - l->click_wall_ms;
		if (l->shown_ms)
			click_shown[ns++] = l->shown_ms - l->click_mono_ms;
	}
	qsort(click_commit, nc, sizeof *click_commit, cmp_i64);
	qsort(click_shown, ns, sizeof *click_shown, cmp_i64);
	printf("%s: %d gates in %.1f s, %d at a time; click -> committed decision p50 %" PRId64
	       " ms p99 %" PRId64 " ms max %" PRId64 " ms (n=%zu); click -> card shows it p50 %"
	       PRId64 " ms p99 %" PRId64 " ms max %" PRId64 " ms\n", store, B.gates,
	       (double)t_drive / 1000.0, B.services, pct(click_commit, nc, 0.5),
	       pct(click_commit, nc, 0.99), nc ? click_commit[nc - 1] : -1, nc,
	       pct(click_shown, ns, 0.5), pct(click_shown, ns, 0.99),
	       ns ? click_shown[ns - 1] : -1);
	printf("%s: AWS requests per gate: ECS+CloudWatch %.1f (UpdateService %d for %d gates, "
	       "%d given up after %d s)", store, (double)aws / B.gates,
	       ledger_count(B.ledger, "UpdateService", NULL, 0), B.gates, B.abandoned,
	       STEP_MS / 1000);
	if (B.ddb_ledger) {
		double idle_rate = (double)(ddb_idle1 - ddb_idle0) / ((double)t_idle / 1000.0);
		double during = (double)(ddb_end - ddb_idle1);
		printf("; DynamoDB %.1f (%.1f net of the idle rate); idle %.1f requests/min per "
		       "replica", during / B.gates,
		       (during - idle_rate * ((double)t_drive / 1000.0)) / B.gates,
		       idle_rate * 60.0 / N_REPLICAS);
	}
	printf("\n");
	fflush(stdout);
	rc = 0;
	goto out_stop;
fail:
	fprintf(stderr, "replica_bench (%s): %s\n", store, msg);
out_stop:
	stop_all();
	harness_stop(&B.h);
	(void)harness_destroy(&B.h);
	ledger_stop(B.ddb_ledger);
	ledger_stop(B.ledger);
	moto_stop(B.ddb_moto);
	moto_stop(B.moto);
	B.ddb_ledger = B.ledger = NULL;
	B.ddb_moto = B.moto = NULL;
	if (rc == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", B.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "replica_bench: could not remove %s\n", B.dir);
	} else {
		fprintf(stderr, "replica_bench: files kept in %s\n", B.dir);
	}
out:
	free(at);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: replica_bench [--store dynamodb|sqlite|both] [--gates N] "
		   "[--services S] [--idle-s I]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"store", required_argument, NULL, 's'}, {"gates", required_argument, NULL, 'n'},
		{"services", required_argument, NULL, 'c'}, {"idle-s", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *store = "both";
	int c, rc = 0;

	B.gates = 60;
	B.services = 6;
	B.idle_s = 10;
	while ((c = getopt_long(argc, argv, "s:n:c:i:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'n': B.gates = atoi(optarg); break;
		case 'c': B.services = atoi(optarg); break;
		case 'i': B.idle_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (B.gates < 1 || B.gates > MAX_GATES || B.services < 1 || B.services > MAX_SERVICES ||
	    B.idle_s < 1 || (strcmp(store, "both") && strcmp(store, "sqlite") &&
			     strcmp(store, "dynamodb"))) {
		usage(stderr);
		return 2;
	}
	snprintf(B.bot, sizeof B.bot, "%s/chatops-bot", REPLICA_BENCH_BUILD_ROOT);
	snprintf(B.seed_script, sizeof B.seed_script, "%s/tests/fakes/crash-seed.py",
		 REPLICA_BENCH_SOURCE_ROOT);
	/* the fakes (moto, ledger) find their scripts from here, as under meson test */
	setenv("CHATOPS_SOURCE_ROOT", REPLICA_BENCH_SOURCE_ROOT, 0);
	setenv("CHATOPS_BUILD_ROOT", REPLICA_BENCH_BUILD_ROOT, 0);
	signal(SIGCHLD, SIG_DFL);
	if (strcmp(store, "sqlite") != 0)
		rc |= bench_store("dynamodb");
	if (strcmp(store, "dynamodb") != 0)
		rc |= bench_store("sqlite");
	return rc ? 1 : 0;
}
