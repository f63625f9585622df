/* The replica test (issue 12): three real chatops-bot processes share one
 * store and one Slack app; the fake Slack spreads every envelope over their
 * Socket Mode connections at random; replicas are SIGKILLed at seeded random
 * moments and restarted. Afterwards the store, the AWS ledger and the fake's
 * records must agree that nothing was lost or done twice.
 *
 *   fake Slack (this process, random delivery, seed printed)
 *        |  3 sockets, one per replica
 *   chatops-bot x3 --config <dir>/replica-<i>.yaml
 *        |  ECS, CloudWatch            |  the store (store.backend dynamodb)
 *   ledger proxy -> moto (threaded)    ledger proxy -> moto (single-threaded,
 *                                      docs/aws-notes.md section 10)
 *
 * DynamoDB gets its own moto served single-threaded (its conditional writes
 * and transactions are only atomic that way), and everything else the
 * threaded one, so a slow ECS call never holds up a store write. Both sit
 * behind a ledger proxy: UpdateService is counted per service, and every
 * DynamoDB request is counted too. IAM checking stays off (signing is
 * covered by aws_test and e2e). CHATOPS_REPLICA_STORE=sqlite runs the same
 * test on one SQLite file shared by the three processes (WAL), the store the
 * bot has always had; it is how the bench compares the two.
 *
 * The driver: S services (svc-0 ..), each a slot that runs one gate life at
 * a time: `/scale svc-k T --timer Xs` (T grows with every life, so a re-check
 * never finds the service already at its target), then by role approve, deny
 * or no click (the timer decides), a click at a random moment before the
 * deadline, by a new approver for each attempt. A slash command or a click
 * delivered to a replica that died before acking it is lost, as with Slack
 * (slash commands and clicks are never redelivered, slack-protocol.md 8):
 * the user types it again (a slash after 5 s without an ack or 25 s without
 * a card, a click after 4 s without an ack while the card still shows its
 * buttons). Kills: every 1.5..5 s (seeded) one running replica, picked at
 * random, is SIGKILLed and started again 0.2..1.5 s later.
 *
 * Then, with all three replicas up and no more kills, the test waits until
 * every gate in the audit log is final, stops the replicas (SIGTERM) and
 * checks, from `chatops-bot audit --format jsonl` and `--verify`, the
 * ledger and the fake's records:
 *   - every gate left PENDING exactly once, and ended final;
 *   - per service, UpdateService calls == gates approved (by a person or by
 *     the timer), each such gate SUCCEEDED, no denied gate executed;
 *   - every click whose envelope the fake saw acked is in the audit (a
 *     click row for that gate by that user; each attempt has its own user);
 *   - the audit chain verifies;
 *   - every timer decision came 0..5 s after its deadline.
 * It prints the seed and a one-line summary (gates, kills, max lateness,
 * UpdateService calls, DynamoDB requests).
 *
 * Knobs (environment): CHATOPS_REPLICA_SEED (replay; the delivery and kill
 * schedule, though where a kill lands also depends on timing),
 * CHATOPS_REPLICA_LONG=1 (>= 100 gate lives, >= 20 kills; README),
 * CHATOPS_REPLICA_GATES, CHATOPS_REPLICA_SERVICES, CHATOPS_REPLICA_STORE
 * (dynamodb | sqlite), CHATOPS_KEEP_REPLICA_DIR (keep configs and logs).
 * Bounded: every phase has a deadline; children, proxies and moto die with
 * the test (PR_SET_PDEATHSIG) and are killed by PID and reaped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
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

#define APP_TOKEN "xapp-1-A0FAKE-replica-app"
#define BOT_TOKEN "xoxb-1-replica-bot"
#define CHANNEL "C0OPS"
#define CLUSTER "crash-cluster" /* what crash-seed.py creates */
#define TABLE "chatops-replica"
#define REQUESTER "U0ONCALL1"
#define N_REPLICAS 3
#define MAX_SERVICES 32
#define MAX_LIVES 600
#define MAX_CLICKS 6        /* attempts per gate; one approver each */
#define MAX_GATE_ID 4096
#define SHORT_GATES 40
#define SHORT_SERVICES 8
#define SHORT_MIN_KILLS 6
#define LONG_GATES 150
#define LONG_SERVICES 8
#define LONG_MIN_KILLS 30
#define TIMER_MIN_S 3
#define TIMER_MAX_S 6
#define KILL_EVERY_MIN_MS 1500
#define KILL_EVERY_MAX_MS 5000
#define DOWN_MIN_MS 200
#define DOWN_MAX_MS 1500
#define SLASH_ACK_MS 5000   /* no ack: the slash was lost, type it again */
#define SLASH_CARD_MS 25000 /* acked, no card: type it again */
#define SLASH_REFUSED_MS 2000 /* refused (e.g. the store was busy): again after this */
#define CLICK_ACK_MS 4000
#define LIFE_MAX_MS 60000   /* a life with no final card by then: leave it to the checks */
#define LATE_MAX_MS 5000
#define UP_TIMEOUT_MS 30000
#define PARK_MS 45000
/* a gate left undelivered by a kill is failed closed once its poster's
 * claim is gone (gate.h delivery_lease_ms): at once here (the poster was a
 * process of this host), within the 30 s lease across hosts */
#define SETTLE_TIMEOUT_MS 90000
#define CLI_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 10000
#define PUMP_MS 20

enum role { ROLE_TIMER, ROLE_APPROVE, ROLE_DENY };
static const char *const role_names[] = {"timer", "approve", "deny"};

/* SL_PARKED: the service is held by a request whose card the test never
 * saw (its replica died between opening it and posting the card) for
 * longer than it should be (the others fail it closed once its poster's
 * claim is gone); the slot rests and the other services go on. */
enum slot_state { SL_IDLE, SL_ASKED, SL_CARD, SL_PENDING, SL_DECIDED, SL_PARKED };

struct click {
	char env[FAKE_SLACK_ID_MAX];
	char user[24];
	long sent_ms;
};

/* One gate life as the test drove it. */
struct life {
	int svc, first_target, target;
	enum role role;
	uint64_t gate;            /* from the card; 0: no card seen */
	char ts[32];              /* the card's message ts */
	struct click clicks[MAX_CLICKS];
	int n_clicks;
};

struct slot {
	enum slot_state st;
	struct life *life;
	char slash_env[FAKE_SLACK_ID_MAX];
	long asked_ms, since_ms, click_at_ms;
	uint64_t asked_ns;
	int target;               /* the last target asked for (crash-seed.py: 1) */
	int lives;
};

struct replica {
	pid_t pid;
	char cfg[160], log[160];
	long restart_at_ms;       /* > 0: down, start again then */
	int lives;
};

/* What the audit log says about one gate. */
struct gate_rec {
	bool seen;
	char service[32];
	int out_of_pending;
	char decided_to[32];      /* the state PENDING was left for */
	char last_to[32];
	bool executing;
	int64_t late_ms;          /* timer decision: at - deadline */
	bool timer;
};

static struct {
	struct harness h;
	struct moto *moto, *ddb_moto;
	struct ledger *ledger, *ddb_ledger;
	char dir[64], bot[512], seed_script[512], store[16];
	uint64_t seed, rng;
	int gates, services, min_kills, kills, started, parked;
	struct replica rep[N_REPLICAS];
	struct slot slots[MAX_SERVICES];
	struct life lives[MAX_LIVES];
	int n_lives;
	struct gate_rec g[MAX_GATE_ID];
	long t0;
} T;

/* ---- small helpers ----------------------------------------------------- */

/* xorshift64*: the schedule, reproducible from the printed seed. */
static uint64_t rnd(void)
{
	T.rng ^= T.rng >> 12;
	T.rng ^= T.rng << 25;
	T.rng ^= T.rng >> 27;
	return T.rng * 0x2545F4914F6CDD1DULL;
}

static long rnd_between(long lo, long hi)
{
	return lo + (long)(rnd() % (uint64_t)(hi - lo + 1));
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

static long now_ms(void)
{
	return proc_now_ms();
}

/* Every line of the replicas' logs holding needle or needle2 (and the
 * markers of their lives), to say where a lost event went. */
static void print_grep(const char *needle, const char *needle2)
{
	char line[2048];

	for (int i = 0; i < N_REPLICAS; i++) {
		FILE *f = fopen(T.rep[i].log, "r");
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "=== replica") || strstr(line, needle) ||
			    (needle2 && strstr(line, needle2)))
				fprintf(stderr, "[%d] %s", i, line);
		if (f)
			fclose(f);
	}
}

static void print_tail(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char buf[6000];
	size_t n;

	if (!f)
		return;
	if (max >= sizeof buf)
		max = sizeof buf - 1;
	if (fseek(f, -(long)max, SEEK_END) != 0)
		rewind(f);
	n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "--- %s (tail) ---\n%s\n---\n", path, buf);
}

/* Run argv to completion (bounded), output into out; its wait status, or -1. */
static int run(char *const argv[], const char *out, long timeout_ms)
{
	pid_t pid = proc_spawn(argv, out, 0);
	int st;

	if (pid < 0)
		return -1;
	/* the fake keeps answering while we wait: pump the loop */
	long until = now_ms() + timeout_ms;
	do {
		st = proc_wait(pid, 0, 0);
		if (st == -1)
			harness_pump(&T.h, PUMP_MS);
	} while (st == -1 && now_ms() < until);
	if (st == -1) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	return st;
}

static bool exited_ok(int st)
{
	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- replicas ---------------------------------------------------------- */

static int write_config(int i)
{
	FILE *f;
	struct replica *r = &T.rep[i];

	snprintf(r->cfg, sizeof r->cfg, "%s/replica-%d.yaml", T.dir, i);
	snprintf(r->log, sizeof r->log, "%s/replica-%d.log", T.dir, i);
	f = fopen(r->cfg, "w");
	if (!f)
		return -1;
	fprintf(f,
		"slack:\n"
		"  app_token_env: REPLICA_APP_TOKEN\n"
		"  bot_token_env: REPLICA_BOT_TOKEN\n"
		"  api_url: %s\n"
		"aws:\n"
		"  region: us-east-1\n"
		"  endpoint_url: %s\n"
		"defaults:\n"
		"  timer: 10m\n"
		"  min_timer: 1s\n"
		"  approvers: [U0APPROVER1, U0APPROVER2, U0APPROVER3, U0APPROVER4,"
		" U0APPROVER5, U0APPROVER6]\n"
		"  requesters: [" REQUESTER "]\n"
		"log:\n"
		"  level: info\n",
		fake_slack_api_url(T.h.fs), ledger_url(T.ledger));
	if (strcmp(T.store, "sqlite") == 0)
		fprintf(f, "store:\n  path: %s/shared.db\n", T.dir);
	else
		fprintf(f, "store:\n  backend: dynamodb\n  table: " TABLE "\n  region: us-east-1\n"
			"  endpoint: %s\n", ledger_url(T.ddb_ledger));
	fprintf(f, "services:\n");
	for (int s = 0; s < T.services; s++)
		fprintf(f, "  svc-%d:\n    cluster: " CLUSTER "\n    min_desired: 1\n"
			"    max_desired: 10000\n", s);
	return fclose(f) == 0 ? 0 : -1;
}

static void start_replica(int i)
{
	struct replica *r = &T.rep[i];
	char *argv[] = {T.bot, "--config", r->cfg, NULL};
	FILE *f = fopen(r->log, "a");

	if (f) {
		fprintf(f, "=== replica %d life %d (t=%.1f s) ===\n", i, r->lives,
			(double)(now_ms() - T.t0) / 1000.0);
		fclose(f);
	}
	r->pid = proc_spawn(argv, r->log, PROC_APPEND);
	r->restart_at_ms = 0;
	r->lives++;
	if (r->pid < 0)
		fail_msg("replica %d: cannot start %s", i, T.bot);
}

static void kill_replica(int i)
{
	struct replica *r = &T.rep[i];

	if (r->pid > 0) {
		(void)kill(r->pid, SIGKILL);
		(void)waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
}

/* SIGTERM, then SIGKILL if it does not stop in time. */
static void stop_replica(int i)
{
	struct replica *r = &T.rep[i];
	int st = -1;

	if (r->pid <= 0)
		return;
	(void)kill(r->pid, SIGTERM);
	for (long until = now_ms() + STOP_TIMEOUT_MS; st == -1 && now_ms() < until;) {
		st = proc_wait(r->pid, 0, 0);
		if (st == -1)
			harness_pump(&T.h, PUMP_MS);
	}
	if (st == -1) {
		fprintf(stderr, "replica %d did not stop on SIGTERM\n", i);
		kill_replica(i);
	}
	r->pid = 0;
}

static unsigned open_sockets(void)
{
	size_t n = 0;
	unsigned k = 0;
	const struct fake_slack_conn *c = fake_slack_conns(T.h.fs, &n);

	for (size_t i = 0; i < n; i++)
		k += c[i].open && !c[i].rejected;
	return k;
}

/* A replica that exited on its own is a failure (with its log). */
static void check_alive(void);

static bool all_connected(void *arg)
{
	(void)arg;
	check_alive();
	return open_sockets() >= N_REPLICAS;
}

/* A replica that exited on its own is a failure (with its log). */
static void check_alive(void)
{
	for (int i = 0; i < N_REPLICAS; i++) {
		struct replica *r = &T.rep[i];
		int st;

		if (r->pid <= 0)
			continue;
		st = proc_wait(r->pid, 0, 0);
		if (st != -1) {
			print_tail(r->log, 4000);
			fail_msg("replica %d exited by itself (status %d)", i, st);
		}
	}
}

/* ---- the fake's records ------------------------------------------------ */

/* The card of slot s's current life: a top-level post whose fallback text is
 * "Scale request #ID: svc-K — scale to T, ..." with T one of
 * the targets this life asked for, and that no life has yet. */
static bool find_card(int svc, int first_target, int target, uint64_t *id, char *ts,
		      size_t ts_n)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(T.h.fs, &n);
	char needle[64];

	snprintf(needle, sizeof needle, ": svc-%d ", svc);
	for (size_t i = 0; i < n; i++) {
		const char *p, *a;

		if (strcmp(m[i].method, "chat.postMessage") != 0 || m[i].thread_ts || !m[i].text ||
		    !m[i].ts || !(p = strstr(m[i].text, "Scale request #")) ||
		    !strstr(m[i].text, needle) || !(a = strstr(m[i].text, " scale to ")) ||
		    atoi(a + strlen(" scale to ")) < first_target ||
		    atoi(a + strlen(" scale to ")) > target)
			continue;
		uint64_t gid = strtoull(p + strlen("Scale request #"), NULL, 10);
		bool taken = false;
		for (int k = 0; k < T.n_lives && !taken; k++)
			taken = T.lives[k].gate == gid;
		if (taken || gid == 0)
			continue;
		*id = gid;
		snprintf(ts, ts_n, "%s", m[i].ts);
		return true;
	}
	return false;
}

/* Has card ts ever been updated to show `word` (", done", "(approves...")? */
static bool card_shows(const char *ts, const char *word)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(T.h.fs, &n);

	for (size_t i = n; i-- > 0;)
		if (strcmp(m[i].method, "chat.update") == 0 && m[i].ts && strcmp(m[i].ts, ts) == 0 &&
		    m[i].text && strstr(m[i].text, word))
			return true;
	return false;
}

static bool card_final(const char *ts)
{
	return card_shows(ts, ", done") || card_shows(ts, ", denied") ||
	       card_shows(ts, ", failed") || card_shows(ts, ", cancelled");
}

static bool card_decided(const char *ts)
{
	return card_final(ts) || card_shows(ts, ", approved") || card_shows(ts, ", scaling");
}

static bool acked(const char *env)
{
	return env[0] && fake_slack_find_ack(T.h.fs, env) != NULL;
}

/* ---- the driver -------------------------------------------------------- */

/* The newest private answer to the requester naming svc-s (not svc-s0..)
 * that arrived after the slash was sent (a refusal), or NULL. */
static const char *slash_answer(int s, uint64_t after_ns)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(T.h.fs, &n);
	char needle[32];

	snprintf(needle, sizeof needle, "svc-%d", s);
	for (size_t i = n; i-- > 0 && m[i].at_ns > after_ns;) {
		const char *p;
		if (strcmp(m[i].method, "chat.postEphemeral") != 0 || !m[i].user ||
		    strcmp(m[i].user, REQUESTER) != 0 || !m[i].text)
			continue;
		for (p = strstr(m[i].text, needle); p; p = strstr(p + 1, needle))
			if (p[strlen(needle)] < '0' || p[strlen(needle)] > '9')
				return m[i].text;
	}
	return NULL;
}

static void send_slash(int s)
{
	struct slot *sl = &T.slots[s];
	char text[128];
	int timer = (int)rnd_between(TIMER_MIN_S, TIMER_MAX_S);

	snprintf(text, sizeof text, "svc-%d %d --timer %ds replica test", s, sl->target, timer);
	sl->slash_env[0] = '\0';
	if (fake_slack_send_slash(T.h.fs, REQUESTER, CHANNEL, "/scale", text, sl->slash_env) != 0)
		sl->slash_env[0] = '\0'; /* no socket open right now: again later */
	sl->asked_ms = now_ms();
	sl->asked_ns = uv_hrtime();
}

static void send_click(struct slot *sl)
{
	struct life *l = sl->life;
	struct click *c = &l->clicks[l->n_clicks];
	char value[24];

	snprintf(c->user, sizeof c->user, "U0APPROVER%d", l->n_clicks + 1);
	snprintf(value, sizeof value, "%" PRIu64, l->gate);
	if (fake_slack_send_button(T.h.fs, c->user, CHANNEL, l->ts,
				   l->role == ROLE_DENY ? "gate.deny" : "gate.approve", value,
				   c->env) != 0)
		return; /* no socket: again on the next turn */
	c->sent_ms = now_ms();
	l->n_clicks++;
}

static void step_slot(int s)
{
	struct slot *sl = &T.slots[s];
	struct life *l = sl->life;
	long now = now_ms();

	switch (sl->st) {
	case SL_IDLE:
		if (T.started >= T.gates || T.n_lives >= MAX_LIVES)
			return;
		l = sl->life = &T.lives[T.n_lives++];
		T.started++;
		sl->target += 1 + (int)(rnd() % 3);
		*l = (struct life){.svc = s, .first_target = sl->target, .target = sl->target,
				   .role = (enum role)(rnd() % 3)};
		send_slash(s);
		sl->st = SL_ASKED;
		sl->lives++;
		return;
	case SL_ASKED:
		if (find_card(s, l->first_target, l->target, &l->gate, l->ts, sizeof l->ts)) {
			sl->st = SL_CARD;
			sl->since_ms = now;
		} else if ((!acked(sl->slash_env) && now - sl->asked_ms > SLASH_ACK_MS) ||
			   now - sl->asked_ms > SLASH_CARD_MS ||
			   (now - sl->asked_ms > SLASH_REFUSED_MS && slash_answer(s, sl->asked_ns) &&
			    !strstr(slash_answer(s, sl->asked_ns), "already has an open request"))) {
			const char *said = slash_answer(s, sl->asked_ns);
			if (said && strstr(said, "already has an open request") &&
			    now - sl->asked_ms > SLASH_CARD_MS) {
				printf("replica: t=%.1f s svc-%d parked (%.160s)\n",
				       (double)(now - T.t0) / 1000.0, s, said);
				sl->st = SL_PARKED;
				sl->since_ms = now;
				T.parked++;
				return;
			}
			printf("replica: t=%.1f s /scale svc-%d again (%s%.160s)\n",
			       (double)(now - T.t0) / 1000.0, s,
			       said ? "refused: " : !acked(sl->slash_env) ? "not acked" : "no card",
			       said ? said : "");
			/* lost with a dead replica: the user types it again, with a
			 * new target (had the first one opened a gate that already
			 * finished, the same target would be refused as reached) */
			l->target = ++sl->target;
			send_slash(s);
		}
		return;
	case SL_CARD:
		if (card_decided(l->ts)) {
			sl->st = SL_DECIDED;
		} else if (card_shows(l->ts, "(approves automatically at")) {
			/* the timer runs: click somewhere before the deadline */
			sl->st = SL_PENDING;
			sl->click_at_ms = now + rnd_between(200, TIMER_MIN_S * 1000 - 1200);
		} else if (now - sl->since_ms > LIFE_MAX_MS) {
			sl->st = SL_IDLE; /* the checks will say what became of it */
		}
		return;
	case SL_PENDING:
		if (card_decided(l->ts)) {
			sl->st = SL_DECIDED;
			return;
		}
		if (l->role != ROLE_TIMER && now >= sl->click_at_ms && l->n_clicks < MAX_CLICKS &&
		    (l->n_clicks == 0 ||
		     (!acked(l->clicks[l->n_clicks - 1].env) &&
		      now - l->clicks[l->n_clicks - 1].sent_ms > CLICK_ACK_MS)))
			send_click(sl);
		if (now - sl->since_ms > LIFE_MAX_MS)
			sl->st = SL_IDLE;
		return;
	case SL_PARKED:
		if (now - sl->since_ms > PARK_MS)
			sl->st = SL_IDLE;
		return;
	case SL_DECIDED:
		if (card_final(l->ts) || now - sl->since_ms > LIFE_MAX_MS)
			sl->st = SL_IDLE;
		return;
	}
}

static bool slots_idle(void)
{
	for (int s = 0; s < T.services; s++)
		if (T.slots[s].st != SL_IDLE && T.slots[s].st != SL_PARKED)
			return false;
	return true;
}

static void drive(long budget_ms)
{
	long until = now_ms() + budget_ms;
	long next_kill = now_ms() + rnd_between(KILL_EVERY_MIN_MS, KILL_EVERY_MAX_MS);

	while (!(T.started >= T.gates && slots_idle() && T.kills >= T.min_kills)) {
		long now = now_ms();

		if (now > until)
			fail_msg("replica: the drive did not finish in %ld s (started %d of %d gates, "
				 "%d kills; seed %" PRIu64 ")", budget_ms / 1000, T.started, T.gates,
				 T.kills, T.seed);
		harness_pump(&T.h, PUMP_MS);
		check_alive();
		for (int i = 0; i < N_REPLICAS; i++)
			if (T.rep[i].pid <= 0 && T.rep[i].restart_at_ms && now >= T.rep[i].restart_at_ms)
				start_replica(i);
		if (now >= next_kill) {
			int i = (int)(rnd() % N_REPLICAS);
			if (T.rep[i].pid > 0) {
				kill_replica(i);
				T.rep[i].restart_at_ms = now + rnd_between(DOWN_MIN_MS, DOWN_MAX_MS);
				T.kills++;
			}
			next_kill = now + rnd_between(KILL_EVERY_MIN_MS, KILL_EVERY_MAX_MS);
		}
		for (int s = 0; s < T.services; s++)
			step_slot(s);
	}
	/* every replica up again for the settling */
	for (int i = 0; i < N_REPLICAS; i++)
		if (T.rep[i].pid <= 0)
			start_replica(i);
}

/* ---- the record ---------------------------------------------------------- */

static bool is_final(const char *st)
{
	return strcmp(st, "SUCCEEDED") == 0 || strcmp(st, "FAILED") == 0 ||
	       strcmp(st, "DENIED") == 0 || strcmp(st, "CANCELLED") == 0;
}

static bool is_approved(const char *st)
{
	return strcmp(st, "APPROVED") == 0 || strcmp(st, "APPROVED_BY_TIMER") == 0;
}

/* `chatops-bot audit --config <replica 0> --format jsonl` into T.g and the
 * click list; false if the export failed. */
static bool read_audit(json_t **rows_out)
{
	char out[200], *argv[] = {T.bot, "audit", "--config", T.rep[0].cfg, "--format", "jsonl",
				  NULL};
	char line[16384];
	FILE *f;
	json_t *rows = json_array();

	snprintf(out, sizeof out, "%s/audit.jsonl", T.dir);
	if (!exited_ok(run(argv, out, CLI_TIMEOUT_MS)) || !(f = fopen(out, "r"))) {
		print_tail(out, 2000);
		json_decref(rows);
		return false;
	}
	memset(T.g, 0, sizeof T.g);
	while (fgets(line, sizeof line, f)) {
		json_t *o;
		if (strncmp(line, "{\"seq\"", 6) != 0 || !(o = json_loads(line, 0, NULL)))
			continue; /* a log line on stderr */
		json_int_t gid = json_integer_value(json_object_get(o, "gate_id"));
		const char *from = json_string_value(json_object_get(o, "from"));
		const char *to = json_string_value(json_object_get(o, "to"));
		json_t *d = json_object_get(o, "detail");
		if (gid > 0 && gid < MAX_GATE_ID) {
			struct gate_rec *g = &T.g[gid];
			g->seen = true;
			if (from && to && strcmp(from, "PENDING") == 0 && strcmp(to, "PENDING") != 0) {
				g->out_of_pending++;
				snprintf(g->decided_to, sizeof g->decided_to, "%s", to);
				if (strcmp(to, "APPROVED_BY_TIMER") == 0 && json_is_object(d)) {
					json_int_t dl = json_integer_value(json_object_get(d, "deadline"));
					g->timer = true;
					g->late_ms = json_integer_value(json_object_get(o, "at_ms")) - dl;
				}
			}
			if (to)
				snprintf(g->last_to, sizeof g->last_to, "%s", to);
			if (to && strcmp(to, "EXECUTING") == 0)
				g->executing = true;
			if (json_is_object(d) && json_is_string(json_object_get(d, "service")) &&
			    !g->service[0])
				snprintf(g->service, sizeof g->service, "%s",
					 json_string_value(json_object_get(d, "service")));
		}
		(void)json_array_append_new(rows, o);
	}
	fclose(f);
	*rows_out = rows;
	return true;
}

static bool all_final(void)
{
	for (int k = 0; k < MAX_GATE_ID; k++)
		if (T.g[k].seen && !is_final(T.g[k].last_to))
			return false;
	return true;
}

/* Wait until every gate in the audit log is final (the replicas finish
 * what the kills left: takeovers, timers, executions). */
static json_t *settle(void)
{
	long until = now_ms() + SETTLE_TIMEOUT_MS;
	json_t *rows = NULL;

	for (;;) {
		check_alive();
		if (rows)
			json_decref(rows);
		rows = NULL;
		if (read_audit(&rows) && all_final())
			return rows;
		if (now_ms() > until)
			break;
		harness_pump(&T.h, 1000);
	}
	for (int k = 0; k < MAX_GATE_ID; k++)
		if (T.g[k].seen && !is_final(T.g[k].last_to))
			fprintf(stderr, "replica: gate #%d still %s\n", k, T.g[k].last_to);
	for (int i = 0; i < N_REPLICAS; i++)
		print_tail(T.rep[i].log, 3000);
	fail_msg("replica: gates not final after %d s (seed %" PRIu64 ")", SETTLE_TIMEOUT_MS / 1000,
		 T.seed);
	return rows;
}

/* The service a gate is for: from the lives the test drove, else the audit. */
static int gate_service(uint64_t gid)
{
	for (int k = 0; k < T.n_lives; k++)
		if (T.lives[k].gate == gid)
			return T.lives[k].svc;
	if (strncmp(T.g[gid].service, "svc-", 4) == 0)
		return atoi(T.g[gid].service + 4);
	return -1;
}

static bool click_audited(json_t *rows, uint64_t gid, const char *user)
{
	size_t i;
	json_t *o;

	json_array_foreach(rows, i, o) {
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *actor = json_string_value(json_object_get(o, "actor"));
		if ((json_int_t)gid == json_integer_value(json_object_get(o, "gate_id")) && kind &&
		    strcmp(kind, "click") == 0 && actor && strcmp(actor, user) == 0)
			return true;
	}
	return false;
}

/* ---- setup ------------------------------------------------------------- */

static int seed_services(void)
{
	char out[200], n[16];
	snprintf(out, sizeof out, "%s/seed.log", T.dir);
	snprintf(n, sizeof n, "%d", T.services);
	char *argv[] = {"/usr/bin/env", "python3", T.seed_script, (char *)moto_url(T.moto),
			"--cluster", CLUSTER, "--services", n, NULL};
	int st = run(argv, out, CLI_TIMEOUT_MS);
	if (!exited_ok(st)) {
		print_tail(out, 2000);
		return -1;
	}
	return 0;
}

static int create_table(void)
{
	char out[200], *argv[] = {T.bot, "store", "init", "--config", T.rep[0].cfg, NULL};

	if (strcmp(T.store, "sqlite") == 0)
		return 0; /* the first replica creates the file */
	snprintf(out, sizeof out, "%s/store-init.log", T.dir);
	if (!exited_ok(run(argv, out, CLI_TIMEOUT_MS))) {
		print_tail(out, 2000);
		return -1;
	}
	return 0;
}

static void env_for_bots(void)
{
	static const char *const vars[] = {
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_STS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_MAX_ATTEMPTS", "AWS_ROLE_ARN", "SLACK_API_URL",
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	setenv("AWS_ENDPOINT_URL", ledger_url(T.ledger), 1);
	if (T.ddb_ledger)
		setenv("AWS_ENDPOINT_URL_DYNAMODB", ledger_url(T.ddb_ledger), 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAREPLICATEST00000", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "replica-test-secret", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("REPLICA_APP_TOKEN", APP_TOKEN, 1);
	setenv("REPLICA_BOT_TOKEN", BOT_TOKEN, 1);
}

static const struct fake_slack_channel chans[] = {
	{CHANNEL, "ops", true},
};

static int setup(void **state)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT"), *build = getenv("CHATOPS_BUILD_ROOT");
	const char *store = getenv("CHATOPS_REPLICA_STORE");
	bool longrun = env_long("CHATOPS_REPLICA_LONG", 0) != 0;
	char msg[4096];
	(void)state;

	T.t0 = now_ms();
	signal(SIGCHLD, SIG_DFL);
	if (!src || !build) {
		fprintf(stderr, "replica: CHATOPS_SOURCE_ROOT/CHATOPS_BUILD_ROOT not set (meson test)\n");
		return -1;
	}
	snprintf(T.bot, sizeof T.bot, "%s/chatops-bot", build);
	snprintf(T.seed_script, sizeof T.seed_script, "%s/tests/fakes/crash-seed.py", src);
	snprintf(T.store, sizeof T.store, "%s", store && *store ? store : "dynamodb");
	if (strcmp(T.store, "dynamodb") != 0 && strcmp(T.store, "sqlite") != 0) {
		fprintf(stderr, "replica: CHATOPS_REPLICA_STORE is dynamodb or sqlite\n");
		return -1;
	}
	T.gates = (int)env_long("CHATOPS_REPLICA_GATES", longrun ? LONG_GATES : SHORT_GATES);
	T.services = (int)env_long("CHATOPS_REPLICA_SERVICES",
				   longrun ? LONG_SERVICES : SHORT_SERVICES);
	T.min_kills = longrun ? LONG_MIN_KILLS : SHORT_MIN_KILLS;
	if (T.gates < 1 || T.gates > MAX_LIVES / 2)
		T.gates = SHORT_GATES;
	if (T.services < 1 || T.services > MAX_SERVICES)
		T.services = SHORT_SERVICES;
	T.seed = (uint64_t)env_long("CHATOPS_REPLICA_SEED", (long)(time(NULL) % 1000000007L));
	if (!T.seed)
		T.seed = 1;
	T.rng = T.seed;
	printf("replica: seed=%" PRIu64 " store=%s gates=%d services=%d%s (replay: "
	       "CHATOPS_REPLICA_SEED=%" PRIu64 ")\n", T.seed, T.store, T.gates, T.services,
	       longrun ? " long" : "", T.seed);
	fflush(stdout);

	snprintf(T.dir, sizeof T.dir, "/tmp/replica-test-XXXXXX");
	if (!mkdtemp(T.dir))
		return -1;
	if (harness_init(&T.h, &(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 1, .random_delivery = true, .seed = T.seed}) != 0) {
		fprintf(stderr, "replica: the fake Slack did not start\n");
		return -1;
	}
	harness_log_release(); /* this process logs nothing worth keeping */
	if (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true}, &T.moto, msg,
		       sizeof msg) != 0 ||
	    ledger_start(moto_url(T.moto), &T.ledger, msg, sizeof msg) != 0) {
		fprintf(stderr, "replica: %s\n", msg);
		return -1;
	}
	if (strcmp(T.store, "dynamodb") == 0 &&
	    (moto_start(&(struct moto_opts){.no_seed = true, .no_auth = true,
					    .single_threaded = true}, &T.ddb_moto, msg,
			sizeof msg) != 0 ||
	     ledger_start(moto_url(T.ddb_moto), &T.ddb_ledger, msg, sizeof msg) != 0)) {
		fprintf(stderr, "replica: %s\n", msg);
		return -1;
	}
	if (seed_services() != 0)
		return -1;
	env_for_bots();
	for (int i = 0; i < N_REPLICAS; i++)
		if (write_config(i) != 0)
			return -1;
	for (int s = 0; s < T.services; s++)
		T.slots[s].target = 1; /* the seeded count: every life asks for more */
	if (create_table() != 0) {
		fprintf(stderr, "replica: `chatops-bot store init` failed\n");
		return -1;
	}
	printf("replica: setup %.1f s\n", (double)(now_ms() - T.t0) / 1000.0);
	fflush(stdout);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;

	for (int i = 0; i < N_REPLICAS; i++)
		kill_replica(i);
	harness_stop(&T.h);
	(void)harness_destroy(&T.h);
	ledger_stop(T.ddb_ledger);
	ledger_stop(T.ledger);
	moto_stop(T.ddb_moto);
	moto_stop(T.moto);
	if (getenv("CHATOPS_KEEP_REPLICA_DIR")) {
		fprintf(stderr, "replica: files kept in %s\n", T.dir);
		return 0;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.dir);
	return T.dir[0] && system(cmd) != 0 ? -1 : 0;
}

/* ---- the test ------------------------------------------------------------ */

static void test_replicas(void **state)
{
	json_t *rows;
	int n_gates = 0, timer_gates = 0, approved = 0, denied = 0, clicks_acked = 0;
	int undelivered = 0;
	int64_t max_late = 0;
	int upd_total, ddb_requests = -1;
	(void)state;

	for (int i = 0; i < N_REPLICAS; i++)
		start_replica(i);
	if (!harness_wait(&T.h, all_connected, NULL, UP_TIMEOUT_MS)) {
		for (int i = 0; i < N_REPLICAS; i++)
			print_tail(T.rep[i].log, 3000);
		fail_msg("replica: %u of %d replicas connected", open_sockets(), N_REPLICAS);
	}
	long t_drive = now_ms();
	drive(T.gates * 20000L / T.services + 120000L);
	printf("replica: drive %.1f s, %d lives started, %d kills\n",
	       (double)(now_ms() - t_drive) / 1000.0, T.started, T.kills);
	fflush(stdout);
	rows = settle();
	for (int i = 0; i < N_REPLICAS; i++)
		stop_replica(i);

	/* every gate left PENDING exactly once, and is final */
	int per_svc_approved[MAX_SERVICES] = {0};
	for (int k = 1; k < MAX_GATE_ID; k++) {
		struct gate_rec *g = &T.g[k];
		if (!g->seen)
			continue;
		n_gates++;
		if (g->out_of_pending != 1)
			fail_msg("gate #%d left PENDING %d times (seed %" PRIu64 ")", k,
				 g->out_of_pending, T.seed);
		assert_true(is_final(g->last_to));
		int svc = gate_service((uint64_t)k);
		if (is_approved(g->decided_to)) {
			approved++;
			if (strcmp(g->last_to, "SUCCEEDED") != 0)
				fail_msg("gate #%d was approved but ended %s (seed %" PRIu64 ")", k,
					 g->last_to, T.seed);
			if (svc < 0 || svc >= T.services)
				fail_msg("gate #%d: which service?", k);
			per_svc_approved[svc]++;
		} else if (g->executing) {
			fail_msg("gate #%d executed after %s (seed %" PRIu64 ")", k, g->decided_to,
				 T.seed);
		}
		denied += strcmp(g->decided_to, "DENIED") == 0;
		undelivered += strcmp(g->decided_to, "FAILED") == 0;
		if (g->timer) {
			timer_gates++;
			if (g->late_ms > max_late)
				max_late = g->late_ms;
			if (g->late_ms < 0 || g->late_ms > LATE_MAX_MS)
				fail_msg("gate #%d: the timer decided %" PRId64 " ms after its deadline "
					 "(seed %" PRIu64 ")", k, g->late_ms, T.seed);
		}
	}
	/* exactly one UpdateService per approved gate, none for the others */
	assert_int_equal(ledger_wait_idle(T.ledger, 10000), 0);
	upd_total = ledger_count(T.ledger, "UpdateService", NULL, 0);
	for (int s = 0; s < T.services; s++) {
		char name[16];
		snprintf(name, sizeof name, "svc-%d", s);
		int calls = ledger_count(T.ledger, "UpdateService", name, 0);
		if (calls != per_svc_approved[s])
			fail_msg("%s: %d UpdateService calls for %d approved gates (seed %" PRIu64 ")",
				 name, calls, per_svc_approved[s], T.seed);
	}
	assert_int_equal(upd_total, approved);
	/* every click the fake saw acked is in the record */
	for (int k = 0; k < T.n_lives; k++) {
		struct life *l = &T.lives[k];
		for (int c = 0; c < l->n_clicks; c++) {
			if (!acked(l->clicks[c].env))
				continue;
			clicks_acked++;
			if (!click_audited(rows, l->gate, l->clicks[c].user)) {
				char gate[32];
				snprintf(gate, sizeof gate, "gate=%" PRIu64 " ", l->gate);
				print_grep(l->clicks[c].env, gate);
				fprintf(stderr, "replica: the fake's connection of the click: %u\n",
					fake_slack_find_delivery(T.h.fs, l->clicks[c].env)
						? fake_slack_find_delivery(T.h.fs, l->clicks[c].env)->conn
						: 0);
				fail_msg("gate #%" PRIu64 ": the %s click by %s was acked (envelope %s) "
					 "but is not in the audit log (seed %" PRIu64 ")", l->gate,
					 role_names[l->role], l->clicks[c].user, l->clicks[c].env,
					 T.seed);
			}
		}
	}
	json_decref(rows);
	/* the audit chain verifies */
	char out[200], *argv[] = {T.bot, "audit", "--config", T.rep[0].cfg, "--verify", NULL};
	snprintf(out, sizeof out, "%s/verify.log", T.dir);
	if (!exited_ok(run(argv, out, CLI_TIMEOUT_MS))) {
		print_tail(out, 2000);
		fail_msg("audit --verify failed (seed %" PRIu64 ")", T.seed);
	}
	if (T.ddb_ledger) {
		assert_int_equal(ledger_wait_idle(T.ddb_ledger, 10000), 0);
		ddb_requests = ledger_count(T.ddb_ledger, NULL, NULL, 0);
	}
	assert_true(n_gates >= T.gates * 3 / 4); /* lost slash commands are typed again */
	assert_true(T.kills >= T.min_kills);
	printf("replica: seed=%" PRIu64 " store=%s gates=%d (approved %d, denied %d, by timer %d) "
	       "failed-undelivered=%d kills=%d parked=%d acked-clicks=%d max-lateness=%" PRId64
	       " ms UpdateService=%d aws-requests=%d dynamodb-requests=%d (%.1f per gate) "
	       "total %.1f s\n",
	       T.seed, T.store, n_gates, approved, denied, timer_gates, undelivered, T.kills,
	       T.parked, clicks_acked,
	       max_late, upd_total, ledger_count(T.ledger, NULL, NULL, 0), ddb_requests,
	       ddb_requests > 0 && n_gates ? (double)ddb_requests / n_gates : 0.0,
	       (double)(now_ms() - T.t0) / 1000.0);
	fflush(stdout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicas),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
