/* The crash test (issues 5 and 17): the gate engine, its store and the real
 * AWS backend, SIGKILLed at many points of the gates' lives and restarted
 * each time; afterwards every gate is resolved once, UpdateService reached
 * moto exactly once per approved gate, whatever its action (scale, restart,
 * rollback), and the audit chain verifies.
 *
 *   moto_server (auth off, see below) <- ledger proxy <- crash_child
 *
 * Setup: moto without the lab seed, seeded by tests/fakes/crash-seed.py with
 * cluster crash-cluster and services svc-0 .. svc-(N-1) at desiredCount 1,
 * svc-K on revision 2 of its own task definition family crash-K (revision
 * 1 is there to roll back to); what was seeded (ARNs, the PRIMARY
 * deployment's id) goes to a file crash_child builds its parameters from.
 * The ledger proxy (tests/fakes/ledger.h) in front of moto records, fsync'd
 * before it answers, every call moto answered with what an UpdateService
 * asked for (desiredCount, taskDefinition, forceNewDeployment), so the calls
 * can be counted from outside the bot even when the bot was killed before
 * it read the answer. IAM/SigV4 checking stays off: signing is covered by aws_test,
 * and here it would only make every one of ~1000 calls slower.
 *
 * Kill loop (>= 200 kills): exec crash_child --stay (tests/integration/
 * crash_child.c: real store, engine and AWS backend; actions by i % 3:
 * scale, restart, rollback; roles by i % 4: timer, approve, deny, stranger
 * then timer; 3 and 4 are coprime, so every action meets every role).
 * The proxy adds 20 ms to every call (like a real endpoint), posting a card takes 4 ms and UpdateService
 * leaves the host 8 ms after EXECUTING was committed: windows that are that
 * long or longer in production but sub-millisecond here, widened so that
 * random kills land in them. Let it run for a pseudo-random
 * 5..150 ms (xorshift, seed printed; CHATOPS_CRASH_SEED replays the schedule,
 * though where each kill lands also depends on timing), SIGKILL,
 * reap. The number of gates the child may open grows with the kill index, so
 * new gates keep arriving until the last kill and kills land in every
 * phase. After each kill the test waits until the proxy has no connection
 * of the dead child left (everything it had sent has reached moto), then
 * reads the store read-only and the ledger to record where the kill landed:
 * before delivery, PENDING with the timer running, approved (re-check in
 * flight), EXECUTING with UpdateService not answered yet (before or during
 * the call), EXECUTING with the call answered but SUCCEEDED not committed.
 * The test asserts that kills hit PENDING and EXECUTING at least a few
 * times for each action; otherwise it would prove little.
 *
 * Then one life without a kill, until it prints ALL FINAL and exits 0
 * (bounded). Checks:
 *   - all N gates exist and are final;
 *   - per gate, the audit chain of transitions is unbroken (each from is
 *     the previous to, the last to is the stored state), exactly one
 *     transition leaves PENDING, and the click (the same event id, re-sent
 *     in every life) was audited at most once;
 *   - SUCCEEDED: exactly one UpdateService for its service in the ledger,
 *     answered 200, and it is the action's call; moto (read back with
 *     boto3) shows the action's effect and nothing else:
 *       scale     the call set desiredCount; desired 2, task definition
 *                 and deployment as seeded;
 *       restart   the call had forceNewDeployment on crash-K:2; another
 *                 deployment id than the seeded one, still crash-K:2,
 *                 desired 1;
 *       rollback  the call set taskDefinition crash-K:1 without a new
 *                 deployment forced; moto runs crash-K:1, desired 1;
 *     a gate reconciled after a kill must not have called again: a
 *     second call, even one that changed nothing (a restart re-issued
 *     although the first had landed makes another deployment), is a
 *     double;
 *     DENIED, CANCELLED and gates that failed before approval: no
 *     UpdateService, the service exactly as seeded; any other FAILED gate:
 *     at most one, its reason printed, the service as seeded or as that
 *     one call left it;
 *   - nobody but an approver decided, and audit_verify passes.
 *
 * Knobs (environment): CHATOPS_CRASH_SEED, CHATOPS_CRASH_KILLS (never below
 * 200), CHATOPS_CRASH_GATES. Bounded: every wait has a deadline; children,
 * the proxy and moto die with the test (PR_SET_PDEATHSIG) and are killed and
 * reaped on failure too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot/domain/audit.h"
#include "bot/base/error.h"
#include "adapters/store.h"
#include "adapters/store/sqlite.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"
#include "tests/fakes/proc.h"

#define CLUSTER "crash-cluster"
#define MIN_KILLS 200
#define DEFAULT_KILLS 200
#define DEFAULT_GATES 160
#define MAX_GATES 1000       /* store_gate_recent's limit */
#define KILL_MIN_MS 5
#define KILL_MAX_MS 150
#define RAMP_PERCENT 100     /* new gates arrive during this share of the kills */
#define DEFAULT_LATENCY_MS 20 /* added to every AWS call by the proxy */
#define POST_MS "4"          /* crash_child --post-ms: posting a card takes this long */
#define SEND_DELAY_MS "8"    /* crash_child --send-delay-ms: EXECUTING committed, call not sent */
#define MIN_HITS 3           /* kills that must land in PENDING, and in EXECUTING, per action */
#define N_ACTIONS 3          /* gate i's action: kinds[i % 3] */
#define ROW_ANY N_ACTIONS    /* hits: the row of kills that found any gate in a phase */
#define IDLE_TIMEOUT_MS 5000
#define START_TIMEOUT_MS 10000
#define FINAL_TIMEOUT_MS 60000
#define SCRIPT_TIMEOUT_MS 60000

/* Where a kill landed (a kill counts once in each phase some gate was in). */
enum hit {
	HIT_IDLE = 0,      /* no gate had work left */
	HIT_UNDELIVERED,   /* PENDING, card not confirmed (no deadline) */
	HIT_PENDING,       /* PENDING, timer running */
	HIT_APPROVED,      /* APPROVED / APPROVED_BY_TIMER: re-check in flight */
	HIT_EXEC_UNSENT,   /* EXECUTING, UpdateService never reached moto */
	HIT_EXEC_IN_FLIGHT, /* EXECUTING, the call reached moto after the kill */
	HIT_EXEC_ANSWERED, /* EXECUTING, answered before the kill, SUCCEEDED not committed */
	HIT_COUNT
};

static const char *const hit_names[HIT_COUNT] = {
	[HIT_IDLE] = "no live gate",
	[HIT_UNDELIVERED] = "PENDING before delivery",
	[HIT_PENDING] = "PENDING (timer running)",
	[HIT_APPROVED] = "APPROVED* (re-check in flight)",
	[HIT_EXEC_UNSENT] = "EXECUTING, call not sent",
	[HIT_EXEC_IN_FLIGHT] = "EXECUTING, call in flight",
	[HIT_EXEC_ANSWERED] = "EXECUTING, answered, not committed",
};

/* What the audit log says about one gate. */
struct gate_audit {
	int out_of_pending;     /* transitions from PENDING */
	int clicks;             /* click events with an event id */
	int reissues;           /* UpdateService re-issued after a restart */
	char last_to[24];       /* state after the last transition */
	char broken[160];       /* first break in its chain of transitions */
};

static const char *const kinds[N_ACTIONS] = {"scale", "restart", "rollback"};

static struct {
	struct moto *moto;
	struct ledger *ledger;
	char dir[64], db[128], log[128], final_log[128], seed_file[128];
	char child[512], seed_script[512];
	int gates, kills, latency_ms;
	uint64_t seed, rng;
	long t_start;
	pid_t pid;              /* the running child, if any */
	json_t *seeded;         /* crash-seed.py's file: {"svc-K": {"from", "to", ...}} */
	struct gate_audit au[MAX_GATES + 1];
} T;

/* ---- small helpers ----------------------------------------------------- */

/* xorshift64*: the kill schedule, reproducible from the printed seed. */
static uint64_t rnd(void)
{
	T.rng ^= T.rng >> 12;
	T.rng ^= T.rng << 25;
	T.rng ^= T.rng >> 27;
	return T.rng * 0x2545F4914F6CDD1DULL;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 0);
	return errno || *end ? dflt : n;
}

static void kill_child(void)
{
	if (T.pid > 0) {
		(void)kill(T.pid, SIGKILL);
		(void)waitpid(T.pid, NULL, 0);
	}
	T.pid = 0;
}

static void print_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[3000];
	size_t n = 0;

	if (!f)
		return;
	if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) != 0)
		rewind(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "--- %s (tail) ---\n%s\n---\n", path, buf);
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* python3 crash-seed.py ... (bounded); 0 or -1 with its output printed. */
static int run_seed(const char *out, bool dump)
{
	char n[16];
	snprintf(n, sizeof n, "%d", T.gates);
	char *argv[] = {"/usr/bin/env", "python3", T.seed_script, (char *)moto_url(T.moto),
			"--cluster", CLUSTER, "--services", n, dump ? "--dump" : "--out",
			dump ? NULL : T.seed_file, NULL};
	pid_t pid = proc_spawn(argv, out, PROC_APPEND);
	int st;

	if (pid < 0)
		return -1;
	st = proc_wait(pid, SCRIPT_TIMEOUT_MS, 2);
	if (st == -1) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "crash: crash-seed.py%s failed (status %d)\n", dump ? " --dump" : "",
			st);
		print_tail(out);
		return -1;
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------- */

static void env_for_child(void)
{
	static const char *const vars[] = {
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_STS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_MAX_ATTEMPTS", "AWS_ROLE_ARN",
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	setenv("AWS_ENDPOINT_URL", ledger_url(T.ledger), 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIACRASHTEST0000000", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "crash-test-secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
}

static int setup(void **state)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT"), *build = getenv("CHATOPS_BUILD_ROOT");
	char msg[4096], out[160];
	(void)state;

	T.t_start = proc_now_ms();
	/* a runner may have left SIGCHLD ignored; then waitpid() cannot
	 * report a child's status */
	signal(SIGCHLD, SIG_DFL);
	if (!src || !build) {
		fprintf(stderr, "crash: CHATOPS_SOURCE_ROOT/CHATOPS_BUILD_ROOT not set (meson test)\n");
		return -1;
	}
	snprintf(T.child, sizeof T.child, "%s/tests/integration/crash_child", build);
	snprintf(T.seed_script, sizeof T.seed_script, "%s/tests/fakes/crash-seed.py", src);
	T.kills = (int)env_long("CHATOPS_CRASH_KILLS", DEFAULT_KILLS);
	if (T.kills < MIN_KILLS)
		T.kills = MIN_KILLS;
	T.gates = (int)env_long("CHATOPS_CRASH_GATES", DEFAULT_GATES);
	if (T.gates < 8 || T.gates > MAX_GATES)
		T.gates = DEFAULT_GATES;
	T.latency_ms = (int)env_long("CHATOPS_CRASH_LATENCY_MS", DEFAULT_LATENCY_MS);
	T.seed = (uint64_t)env_long("CHATOPS_CRASH_SEED", 20261201);
	T.rng = T.seed ? T.seed : 1;
	snprintf(T.dir, sizeof T.dir, "/tmp/crash-test-XXXXXX");
	if (!mkdtemp(T.dir))
		return -1;
	snprintf(T.db, sizeof T.db, "%s/gates.db", T.dir);
	snprintf(T.log, sizeof T.log, "%s/lives.log", T.dir);
	snprintf(T.final_log, sizeof T.final_log, "%s/final.log", T.dir);
	snprintf(T.seed_file, sizeof T.seed_file, "%s/seeded.json", T.dir);
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true}, &T.moto, msg,
		       sizeof msg) != 0) {
		fprintf(stderr, "crash: %s\n", msg);
		return -1;
	}
	snprintf(out, sizeof out, "%s/seed.log", T.dir);
	if (run_seed(out, false) != 0)
		return -1;
	json_error_t je;
	T.seeded = json_load_file(T.seed_file, 0, &je);
	if (!T.seeded) {
		fprintf(stderr, "crash: %s: %s\n", T.seed_file, je.text);
		return -1;
	}
	if (ledger_start_opts(moto_url(T.moto), &(struct ledger_opts){.latency_ms = T.latency_ms},
			      &T.ledger, msg, sizeof msg) != 0) {
		fprintf(stderr, "crash: %s\n", msg);
		return -1;
	}
	env_for_child();
	printf("crash: seed=%" PRIu64 " gates=%d kills=%d latency=%d ms (replay: "
	       "CHATOPS_CRASH_SEED=%" PRIu64 ") setup %.1f s\n", T.seed, T.gates, T.kills,
	       T.latency_ms, T.seed, (double)(proc_now_ms() - T.t_start) / 1000.0);
	fflush(stdout);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;

	kill_child();
	ledger_stop(T.ledger);
	moto_stop(T.moto);
	T.ledger = NULL;
	T.moto = NULL;
	json_decref(T.seeded);
	T.seeded = NULL;
	if (getenv("CHATOPS_KEEP_CRASH_DIR")) {
		fprintf(stderr, "crash: files kept in %s\n", T.dir);
		return 0;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.dir);
	return T.dir[0] && system(cmd) != 0 ? -1 : 0;
}

/* ---- the kill loop ----------------------------------------------------- */

static struct store *open_ro(void)
{
	struct store *s = NULL;
	struct bot_error err = {0};
	int rc = store_sqlite_open(&(struct store_sqlite_opts){.path = T.db, .read_only = true}, &s, &err);

	if (rc == BOT_ENOTFOUND)
		return NULL; /* killed before the store was created */
	if (rc)
		fail_msg("crash: cannot read the store: %s", err.msg);
	return s;
}

/* UpdateService calls per service number, as the ledger holds them now. */
static void ledger_snapshot(int *calls)
{
	FILE *f = fopen(ledger_path(T.ledger), "r");
	char line[1024];

	memset(calls, 0, (size_t)T.gates * sizeof calls[0]);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *target = json_string_value(json_object_get(j, "target"));
		const char *svc = json_string_value(json_object_get(j, "service"));
		size_t tl = target ? strlen(target) : 0;
		int i = -1;
		if (tl > 14 && strcmp(target + tl - 14, ".UpdateService") == 0 && svc &&
		    sscanf(svc, "svc-%d", &i) == 1 && i >= 0 && i < T.gates)
			calls[i]++;
		json_decref(j);
	}
	fclose(f);
}

/* Which phases the gates of each action were in when the child was
 * killed. before: the ledger right after the kill; after: once the proxy
 * was idle. */
static void classify(bool hit[N_ACTIONS + 1][HIT_COUNT], const int *before, const int *after,
		     bool *in_exec)
{
	struct store *s = open_ro();
	struct store_gate *v = NULL;
	size_t n = 0;
	struct bot_error err = {0};

	memset(hit, 0, (N_ACTIONS + 1) * sizeof hit[0]);
	if (s) {
		assert_int_equal(store_gate_list(s, GATE_LIVE_MASK, &v, &n, &err), 0);
		store_close(s);
	}
	if (n == 0)
		hit[ROW_ANY][HIT_IDLE] = true;
	for (size_t i = 0; i < n; i++) {
		const struct store_gate *g = &v[i];
		int svc = -1;
		assert_int_equal(sscanf(g->ecs_service, "svc-%d", &svc), 1);
		assert_true(svc >= 0 && svc < T.gates);
		assert_string_equal(g->action, kinds[svc % N_ACTIONS]);
		bool *h = hit[svc % N_ACTIONS];
		switch (g->state) {
		case GATE_PENDING:
			h[g->deadline ? HIT_PENDING : HIT_UNDELIVERED] = true;
			break;
		case GATE_APPROVED:
		case GATE_APPROVED_BY_TIMER:
			h[HIT_APPROVED] = true;
			break;
		case GATE_EXECUTING: {
			h[before[svc] ? HIT_EXEC_ANSWERED :
			  after[svc] ? HIT_EXEC_IN_FLIGHT : HIT_EXEC_UNSENT] = true;
			if (g->id <= MAX_GATES)
				in_exec[g->id] = true;
			break;
		}
		default:
			break;
		}
	}
	for (int a = 0; a < N_ACTIONS; a++)
		for (int h = 0; h < HIT_COUNT; h++)
			hit[ROW_ANY][h] = hit[ROW_ANY][h] || hit[a][h];
	store_gate_array_free(v, n);
}

/* Gates the child may open in life k: grows to all of them over the first
 * RAMP_PERCENT of the kills. */
static int allowance(int k)
{
	long ramp = (long)T.kills * RAMP_PERCENT / 100;
	long a = ((long)(k + 1) * T.gates + ramp - 1) / ramp;
	return a < T.gates ? (int)a : T.gates;
}

/* How many lives said STARTED (recovery begun, the loop about to run). The
 * log only grows: each call reads what was added since the last one. */
static int started_lives(void)
{
	static long off;
	static int n;
	FILE *f = fopen(T.log, "r");
	char line[256];

	if (!f)
		return n;
	if (fseek(f, off, SEEK_SET) == 0) {
		while (fgets(line, sizeof line, f))
			if (strchr(line, '\n')) { /* whole lines only */
				n += strcmp(line, "STARTED\n") == 0;
				off = ftell(f);
			}
	}
	fclose(f);
	return n;
}

/* Wait (bounded) until the life just spawned says STARTED, so that its
 * kill delay counts from there: on a loaded machine start-up alone can
 * outlast the whole kill window, and no kill would ever land past the
 * re-check. false if the child ended first or took too long. */
static bool wait_started(int before)
{
	long until = proc_now_ms() + START_TIMEOUT_MS;

	while (proc_now_ms() < until) {
		if (started_lives() > before)
			return true;
		if (waitpid(T.pid, NULL, WNOHANG) != 0)
			return false;
		proc_sleep_ms(1);
	}
	return false;
}

static void kill_loop(int hits[N_ACTIONS + 1][HIT_COUNT], int *exec_gates, long *life_ms)
{
	static bool in_exec[MAX_GATES + 1];
	static int before[MAX_GATES], after[MAX_GATES];
	char gates[16];

	for (int k = 0; k < T.kills; k++) {
		long wait = KILL_MIN_MS + (long)(rnd() % (KILL_MAX_MS - KILL_MIN_MS + 1));
		bool hit[N_ACTIONS + 1][HIT_COUNT];
		int st;

		/* every other life: the delay counts from STARTED, not from
		 * the spawn (start-up kills stay covered by the others) */
		bool after_start = rnd() % 2;
		int before_started = after_start ? started_lives() : 0;
		snprintf(gates, sizeof gates, "%d", allowance(k));
		char *argv[] = {T.child, "--db", T.db, "--gates", gates, "--seed", T.seed_file,
				"--cluster", CLUSTER, "--post-ms", POST_MS, "--send-delay-ms",
				SEND_DELAY_MS, "--stay", NULL};
		long t0 = proc_now_ms();
		T.pid = proc_spawn(argv, T.log, PROC_APPEND);
		assert_true(T.pid > 0);
		if (after_start && !wait_started(before_started)) {
			print_tail(T.log);
			fail_msg("crash: life %d did not say STARTED within %d ms", k, START_TIMEOUT_MS);
		}
		st = proc_wait(T.pid, wait, 2);
		if (st != -1) {
			T.pid = 0;
			print_tail(T.log);
			fail_msg("crash: life %d ended on its own before its kill (status %d)", k, st);
		}
		assert_int_equal(kill(T.pid, SIGKILL), 0);
		st = proc_wait(T.pid, 5000, 2);
		assert_true(st >= 0);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		T.pid = 0;
		*life_ms += proc_now_ms() - t0;
		ledger_snapshot(before);
		/* then whatever the dead child had sent reaches moto */
		if (ledger_wait_idle(T.ledger, IDLE_TIMEOUT_MS) != 0)
			fail_msg("crash: the ledger proxy still has connections %d ms after kill %d",
				 IDLE_TIMEOUT_MS, k);
		ledger_snapshot(after);
		classify(hit, before, after, in_exec);
		for (int a = 0; a <= N_ACTIONS; a++)
			for (int h = 0; h < HIT_COUNT; h++)
				hits[a][h] += hit[a][h];
	}
	*exec_gates = 0;
	for (int i = 0; i <= MAX_GATES; i++)
		*exec_gates += in_exec[i];
}

/* ---- the checks -------------------------------------------------------- */

static int on_audit(void *ud, const struct store_audit_row *r)
{
	struct gate_audit *a;
	(void)ud;

	if (r->gate_id == 0 || r->gate_id > MAX_GATES)
		return 0;
	a = &T.au[r->gate_id];
	if (r->to_state) {
		const char *want = r->from_state ? r->from_state : "";
		if (!a->broken[0] && strcmp(want, a->last_to) != 0)
			snprintf(a->broken, sizeof a->broken, "seq %" PRId64 ": %s -> %s after %s",
				 r->seq, r->from_state ? r->from_state : "(none)", r->to_state,
				 a->last_to[0] ? a->last_to : "(nothing)");
		snprintf(a->last_to, sizeof a->last_to, "%s", r->to_state);
		if (r->from_state && strcmp(r->from_state, "PENDING") == 0)
			a->out_of_pending++;
	} else if (strcmp(r->kind, "click") == 0) {
		json_t *d = json_loads(r->detail, 0, NULL);
		if (json_string_value(json_object_get(d, "event_id")))
			a->clicks++;
		json_decref(d);
	} else if (strcmp(r->kind, "reissue") == 0) {
		a->reissues++;
	}
	return 0;
}

/* What moto shows now: {"svc-K": {"desired", "taskDefinition",
 * "deployment", "deployments"}} (crash-seed.py --dump). */
static json_t *moto_state(void)
{
	char out[160];
	json_error_t je;
	json_t *j;

	snprintf(out, sizeof out, "%s/dump.json", T.dir);
	assert_int_equal(run_seed(out, true), 0);
	j = json_load_file(out, 0, &je);
	if (!j)
		fail_msg("crash: moto dump unreadable: %s", je.text);
	return j;
}

static bool is_approver(const char *u)
{
	return u && (strcmp(u, "U0APPROVER1") == 0 || strcmp(u, "U0APPROVER2") == 0);
}

struct tally {
	int state[GATE_STATE_COUNT];
	int undelivered, reconciled, timer_after_restart, other_failed, reissued, updates;
	int by_role[4][GATE_STATE_COUNT];
	int by_action[N_ACTIONS][GATE_STATE_COUNT];
	int reconciled_by[N_ACTIONS], reissued_by[N_ACTIONS];
};

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Did the one UpdateService of gate g (action a, service as seeded sd) ask
 * for what its action asks, and for nothing else? Counts the calls
 * answered 200; returns a reason for the mismatch, or NULL. */
static const char *wrong_call(const struct store_gate *g, int a, json_t *sd, char *buf, size_t n)
{
	const struct ledger *l = T.ledger;
	const char *svc = g->ecs_service, *from = jstr(sd, "from"), *to = jstr(sd, "to");
	int count = ledger_count_with(l, "UpdateService", svc, 200, "desiredCount", NULL);
	int force = ledger_count_with(l, "UpdateService", svc, 200, "forceNewDeployment", NULL);
	int td = ledger_count_with(l, "UpdateService", svc, 200, "taskDefinition", NULL);
	int td_from = ledger_count_with(l, "UpdateService", svc, 200, "taskDefinition", from);
	int td_to = ledger_count_with(l, "UpdateService", svc, 200, "taskDefinition", to);
	bool ok = a == 0 ? count == 1 && force == 0 && td == 0 :
		  a == 1 ? count == 0 && force == 1 && td_from == 1 :
			   count == 0 && force == 0 && td_to == 1;

	if (ok)
		return NULL;
	snprintf(buf, n, "the call is not a %s's: desiredCount set %d, forceNewDeployment %d, "
		 "taskDefinition %d (:2 %d, :1 %d)", kinds[a], count, force, td, td_from, td_to);
	return buf;
}

/* Is moto's svc (ms) as seeded (sd), or as action a leaves it when it
 * landed? A reason for the difference, or NULL. */
static const char *wrong_ecs(int a, bool landed, json_t *sd, json_t *ms, char *buf, size_t n)
{
	int want = a == 0 && landed ? 2 : 1;
	const char *td = a == 2 && landed ? jstr(sd, "to") : jstr(sd, "from");
	const char *dep = jstr(ms, "deployment"), *seeded_dep = jstr(sd, "deployment");
	bool new_dep = a == 1 && landed;

	if (!json_is_object(ms))
		snprintf(buf, n, "moto does not know the service");
	else if (json_integer_value(json_object_get(ms, "desired")) != want)
		snprintf(buf, n, "moto shows desiredCount %" JSON_INTEGER_FORMAT ", want %d",
			 json_integer_value(json_object_get(ms, "desired")), want);
	else if (!same(jstr(ms, "taskDefinition"), td))
		snprintf(buf, n, "moto runs %s, want %s", jstr(ms, "taskDefinition"), td);
	else if (json_integer_value(json_object_get(ms, "deployments")) != 1 || !dep)
		snprintf(buf, n, "moto shows %" JSON_INTEGER_FORMAT " deployments, want 1 PRIMARY",
			 json_integer_value(json_object_get(ms, "deployments")));
	else if (new_dep == same(dep, seeded_dep))
		snprintf(buf, n, "moto's deployment is %s, %s the seeded %s", dep,
			 new_dep ? "still" : "not", seeded_dep);
	else
		return NULL;
	return buf;
}

/* One gate against the ledger, moto and its audit; returns the number of
 * problems found (each printed). */
static int check_gate(const struct store_gate *g, json_t *moto, struct tally *t)
{
	const struct gate_audit *a = &T.au[g->id];
	int all = ledger_count(T.ledger, "UpdateService", g->ecs_service, 0);
	int ok = ledger_count(T.ledger, "UpdateService", g->ecs_service, 200);
	json_t *ms = json_object_get(moto, g->ecs_service);
	json_t *sd = json_object_get(T.seeded, g->ecs_service);
	int bad = 0, i = -1, act;
	bool approved = g->decision == GATE_APPROVED || g->decision == GATE_APPROVED_BY_TIMER;
	bool landed = false;
	char why[400];

#define BAD(...)                                                                   \
	do {                                                                       \
		fprintf(stderr, "crash: gate %" PRIu64 " (%s, %s, %s): ", g->id,   \
			g->ecs_service, g->action, store_state_name(g->state));    \
		fprintf(stderr, __VA_ARGS__);                                      \
		fputc('\n', stderr);                                               \
		bad++;                                                             \
	} while (0)

	if (sscanf(g->ecs_service, "svc-%d", &i) != 1 || i < 0 || i >= T.gates || !sd) {
		BAD("not one of the test's services");
		return bad;
	}
	act = i % N_ACTIONS;
	t->state[g->state]++;
	t->by_role[i % 4][g->state]++;
	t->by_action[act][g->state]++;
	t->updates += all;
	t->reissued += a->reissues > 0;
	t->reissued_by[act] += a->reissues > 0;
	if (!same(g->action, kinds[act]))
		BAD("action %s, want %s", g->action ? g->action : "(none)", kinds[act]);
	if (!store_state_final(g->state))
		BAD("not final");
	if (a->broken[0])
		BAD("audit transitions do not chain: %s", a->broken);
	if (strcmp(a->last_to, store_state_name(g->state)) != 0)
		BAD("audit ends in %s, the store says %s", a->last_to, store_state_name(g->state));
	if (a->out_of_pending != 1)
		BAD("%d transitions out of PENDING in the audit (want exactly 1)", a->out_of_pending);
	if (a->clicks > 1)
		BAD("its click (one event id, re-sent after restarts) was processed %d times",
		    a->clicks);
	if (g->decided_by && !is_approver(g->decided_by))
		BAD("decided by %s, who is not an approver", g->decided_by);
	switch (g->state) {
	case GATE_SUCCEEDED:
		landed = true;
		if (!approved)
			BAD("succeeded without an approval (decision %s)",
			    store_state_name(g->decision));
		if (all != 1 || ok != 1)
			BAD("%d UpdateService calls in the ledger (%d answered 200); want "
			    "exactly 1%s", all, ok, a->reissues ? " (re-issued after a restart)" : "");
		else if (wrong_call(g, act, sd, why, sizeof why))
			BAD("%s", why);
		if (g->result_kind && strcmp(g->result_kind, "reconciled") == 0) {
			t->reconciled++;
			t->reconciled_by[act]++;
		}
		break;
	case GATE_DENIED:
	case GATE_CANCELLED:
		if (all != 0)
			BAD("%d UpdateService calls after %s", all, store_state_name(g->state));
		break;
	case GATE_FAILED:
		if (!approved) {
			if (g->result_kind && strcmp(g->result_kind, "undelivered") == 0)
				t->undelivered++;
			if (all != 0)
				BAD("%d UpdateService calls, but it was never approved", all);
		} else {
			t->other_failed++;
			fprintf(stderr, "crash: gate %" PRIu64 " (%s, %s) FAILED after approval: "
				"%s: %s (%d UpdateService)\n", g->id, g->ecs_service, g->action,
				g->result_kind ? g->result_kind : "?",
				g->result_detail ? g->result_detail : "", all);
			if (all > 1)
				BAD("%d UpdateService calls (want at most 1)", all);
			landed = ok > 0;
			if (landed && wrong_call(g, act, sd, why, sizeof why))
				BAD("%s", why);
		}
		break;
	default:
		break;
	}
	if (g->decision == GATE_APPROVED_BY_TIMER && g->decision_detail &&
	    strcmp(g->decision_detail, "resolved after restart") == 0)
		t->timer_after_restart++;
	if (wrong_ecs(act, landed, sd, ms, why, sizeof why))
		BAD("%s", why);
#undef BAD
	return bad;
}

static void print_states(const char *label, const int *st)
{
	printf("crash:     %-9s", label);
	for (int i = 0; i < GATE_STATE_COUNT; i++)
		if (st[i])
			printf(" %s %d", store_state_name((enum gate_state)i), st[i]);
	printf("\n");
}

static int exec_hits(const int *h)
{
	return h[HIT_EXEC_UNSENT] + h[HIT_EXEC_IN_FLIGHT] + h[HIT_EXEC_ANSWERED];
}

static void test_crash_loop(void **state)
{
	int hits[N_ACTIONS + 1][HIT_COUNT] = {{0}}, exec_gates = 0, bad = 0, st;
	long life_ms = 0, t_loop = proc_now_ms(), t_final;
	char gates[16];
	struct store *s;
	struct store_gate *v = NULL;
	size_t n = 0, checked = 0;
	struct bot_error err = {0};
	struct tally t = {0};
	json_t *moto;
	(void)state;

	kill_loop(hits, &exec_gates, &life_ms);
	t_final = proc_now_ms();
	printf("crash: %d kills in %.1f s (lives %.1f s, %.0f ms each on average)\n", T.kills,
	       (double)(t_final - t_loop) / 1000.0, (double)life_ms / 1000.0,
	       (double)life_ms / T.kills);
	printf("crash: kills that found a gate in each phase (a kill may count in several):\n");
	printf("crash:   %-36s %8s %8s %8s %8s\n", "", "any", kinds[0], kinds[1], kinds[2]);
	for (int h = 0; h < HIT_COUNT; h++)
		printf("crash:   %-36s %8d %8d %8d %8d\n", hit_names[h], hits[ROW_ANY][h],
		       hits[0][h], hits[1][h], hits[2][h]);
	printf("crash:   distinct gates in EXECUTING at a kill: %d\n", exec_gates);
	fflush(stdout);

	/* the last life: no kill */
	snprintf(gates, sizeof gates, "%d", T.gates);
	char *argv[] = {T.child, "--db", T.db, "--gates", gates, "--seed", T.seed_file,
			"--cluster", CLUSTER, "--post-ms", POST_MS, "--send-delay-ms", SEND_DELAY_MS,
			NULL};
	T.pid = proc_spawn(argv, T.final_log, PROC_APPEND);
	assert_true(T.pid > 0);
	st = proc_wait(T.pid, FINAL_TIMEOUT_MS, 2);
	if (st < 0) {
		kill_child();
		print_tail(T.final_log);
		fail_msg("crash: the last life did not finish within %d ms", FINAL_TIMEOUT_MS);
	}
	T.pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !file_has(T.final_log, "ALL FINAL")) {
		print_tail(T.final_log);
		fail_msg("crash: the last life ended with status %d without ALL FINAL", st);
	}
	printf("crash: last life finished in %.1f s\n", (double)(proc_now_ms() - t_final) / 1000.0);
	assert_int_equal(ledger_wait_idle(T.ledger, IDLE_TIMEOUT_MS), 0);

	/* the verdict */
	s = open_ro();
	assert_non_null(s);
	assert_int_equal(store_audit_each(s, 0, on_audit, NULL, &err), 0);
	assert_int_equal(store_gate_recent(s, MAX_GATES, &v, &n, &err), 0);
	moto = moto_state();
	if ((int)n != T.gates) {
		fprintf(stderr, "crash: %zu gates in the store, want %d\n", n, T.gates);
		bad++;
	}
	for (size_t i = 0; i < n; i++) {
		bad += check_gate(&v[i], moto, &t);
		checked++;
	}
	int total_updates = ledger_count(T.ledger, "UpdateService", NULL, 0);
	if (total_updates != t.updates) {
		fprintf(stderr, "crash: %d UpdateService calls in the ledger, %d for our gates\n",
			total_updates, t.updates);
		bad++;
	}
	size_t events = 0;
	int64_t bad_seq = 0;
	int vrc = audit_verify(s, &events, NULL, &bad_seq, &err);
	if (vrc != 0) {
		fprintf(stderr, "crash: audit_verify: %s\n", err.msg);
		bad++;
	}
	store_gate_array_free(v, n);
	store_close(s);
	json_decref(moto);

	printf("crash: final states of %zu gates:", checked);
	for (int i = 0; i < GATE_STATE_COUNT; i++)
		if (t.state[i])
			printf(" %s %d", store_state_name((enum gate_state)i), t.state[i]);
	printf("\ncrash:   by action:\n");
	for (int a = 0; a < N_ACTIONS; a++)
		print_states(kinds[a], t.by_action[a]);
	printf("crash:   by role (timer / approve / deny / stranger+timer):\n");
	for (int r = 0; r < 4; r++) {
		char label[16];
		snprintf(label, sizeof label, "role %d:", r);
		print_states(label, t.by_role[r]);
	}
	printf("crash:   FAILED undelivered (killed before the card was confirmed) %d, FAILED "
	       "after approval %d\n", t.undelivered, t.other_failed);
	printf("crash:   SUCCEEDED by reconciling after a restart %d (scale %d, restart %d, "
	       "rollback %d); UpdateService re-issued after a restart %d (%d, %d, %d); timer "
	       "decisions made at recovery %d\n", t.reconciled, t.reconciled_by[0],
	       t.reconciled_by[1], t.reconciled_by[2], t.reissued, t.reissued_by[0],
	       t.reissued_by[1], t.reissued_by[2], t.timer_after_restart);
	printf("crash: UpdateService calls in the ledger %d; audit chain: %zu events, %s\n",
	       total_updates, events, vrc == 0 ? "verified" : "BROKEN");
	printf("crash: total %.1f s\n", (double)(proc_now_ms() - T.t_start) / 1000.0);
	fflush(stdout);

	assert_int_equal(bad, 0);
	/* the kills must have landed where it matters, for every action, or
	 * this proved little */
	for (int a = 0; a < N_ACTIONS; a++) {
		int pending = hits[a][HIT_PENDING] + hits[a][HIT_UNDELIVERED];
		if (pending < MIN_HITS)
			fail_msg("crash: only %d kills hit a PENDING %s gate (want >= %d)", pending,
				 kinds[a], MIN_HITS);
		if (exec_hits(hits[a]) < MIN_HITS)
			fail_msg("crash: only %d kills hit an EXECUTING %s gate (want >= %d)",
				 exec_hits(hits[a]), kinds[a], MIN_HITS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_loop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
