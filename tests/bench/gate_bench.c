/* gate_bench: how the gate engine and its store hold up.
 *
 *   build/tests/bench/gate_bench [--gates N] [--timers M] [--dir DIR]
 *
 * Prints: time to create N pending gates (each = request commit + delivery
 * commit, synchronous=FULL), commit latencies (a dedup insert, a decision),
 * RSS with them pending, restart reload (store open + recover) time, and
 * the lateness of M timers spread over ~2 s (wall time the decision was
 * committed minus the stored deadline). Bounded: a few tens of seconds. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/store/sqlite.h"
#include "bot/domain/gate.h"
#include "bot/base/log.h"

struct bench {
	uv_loop_t loop;
	struct store *store;
	struct gate_engine *eng;
	struct cloud cloud;
	char path[256];
	/* timer lateness */
	int64_t *late;
	size_t n_late, cap_late;
	size_t finished;
};

static struct bench B;

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long rss_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (fp && fgets(line, sizeof line, fp))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (fp)
		fclose(fp);
	return kb;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, double p)
{
	size_t i;
	if (!n)
		return -1;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* ---- an instant cloud (answers on the next loop turn) ------------------ */

struct answer {
	uv_timer_t t;
	bool scale;
	cloud_describe_cb dcb;
	cloud_scale_cb scb;
	void *ud;
	int desired;
};

static void answer_closed(uv_handle_t *h)
{
	free(h);
}

static void on_answer(uv_timer_t *t)
{
	struct answer *a = (struct answer *)t;
	struct cloud_service svc = {.name = "svc", .cluster = "bench", .status = "ACTIVE",
				    .desired = a->desired};
	if (a->scale)
		a->scb(a->ud, NULL, &svc);
	else
		a->dcb(a->ud, NULL, &svc);
	uv_close((uv_handle_t *)t, answer_closed);
}

static int answer(bool scale, int desired, cloud_describe_cb dcb, cloud_scale_cb scb, void *ud)
{
	struct answer *a = calloc(1, sizeof *a);
	if (!a)
		return BOT_ENOMEM;
	a->scale = scale;
	a->desired = desired;
	a->dcb = dcb;
	a->scb = scb;
	a->ud = ud;
	uv_timer_init(&B.loop, &a->t);
	uv_timer_start(&a->t, on_answer, 0, 0);
	return 0;
}

static int b_describe(struct cloud *c, const char *cluster, const char *service,
		      cloud_describe_cb cb, void *ud)
{
	(void)c;
	(void)cluster;
	(void)service;
	return answer(false, 1, cb, NULL, ud);
}

static int b_scale(struct cloud *c, const char *cluster, const char *service, int desired,
		   bool force, cloud_scale_cb cb, void *ud)
{
	(void)c;
	(void)cluster;
	(void)service;
	(void)force;
	return answer(true, desired, NULL, cb, ud);
}

static const struct cloud_ops bench_ops = {.name = "bench", .describe = b_describe,
					    .scale = b_scale};

/* ---- observer ---------------------------------------------------------- */

static void post_now(void *ud, const struct store_gate *g, gate_delivered_fn fn, void *token)
{
	char ts[32];
	(void)ud;
	snprintf(ts, sizeof ts, "1700000000.%06" PRIu64, g->id);
	fn(token, 0, "CBENCH", ts, NULL);
}

static void on_change(void *ud, const struct store_gate *g, enum gate_event ev, const char *detail)
{
	(void)ud;
	(void)detail;
	if (ev == GATE_EV_DECIDED && g->state == GATE_APPROVED_BY_TIMER) {
		if (B.n_late < B.cap_late)
			B.late[B.n_late++] = g->decided_at - g->deadline;
	}
	if (ev == GATE_EV_FINISHED)
		B.finished++;
}

static int start(void)
{
	struct bot_error err = {0};
	struct store_sqlite_opts so = {.path = B.path};
	struct gate_engine_opts eo = {
		.loop = &B.loop, .store = NULL, .cloud = &B.cloud,
		.obs = {.post_request = post_now, .on_change = on_change},
	};
	if (store_sqlite_open(&so, &B.store, &err) != BOT_EOK) {
		fprintf(stderr, "gate_bench: %s\n", err.msg);
		return 1;
	}
	if (store_attach_loop(B.store, &B.loop) != BOT_EOK)
		return 1;
	eo.store = B.store;
	if (gate_engine_create(&eo, &B.eng, &err) != BOT_EOK) {
		fprintf(stderr, "gate_bench: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static void stop(void)
{
	gate_engine_destroy(B.eng);
	B.eng = NULL;
	uv_run(&B.loop, UV_RUN_NOWAIT);
	store_close(B.store);
	uv_run(&B.loop, UV_RUN_NOWAIT);
	B.store = NULL;
}

static const char *const approvers[] = {"UALICE", "UBOB"};

struct reply {
	bool done;
	int rc;
	uint64_t id;
	struct gate_recover_stats st;
	char msg[256];
};

static void await(struct reply *a)
{
	while (!a->done)
		uv_run(&B.loop, UV_RUN_ONCE);
}

static void on_requested(void *ud, int rc, uint64_t id, const struct bot_error *err)
{
	struct reply *a = ud;
	a->done = true;
	a->rc = rc;
	a->id = id;
	if (err)
		snprintf(a->msg, sizeof a->msg, "%s", err->msg);
}

static void on_clicked(void *ud, int rc, const struct gate_click_result *r,
		       const struct store_gate *g, const struct bot_error *err)
{
	struct reply *a = ud;
	(void)r;
	(void)g;
	a->done = true;
	a->rc = rc;
	if (err)
		snprintf(a->msg, sizeof a->msg, "%s", err->msg);
}

static void on_recovered(void *ud, int rc, const struct gate_recover_stats *st,
			 const struct bot_error *err)
{
	struct reply *a = ud;
	a->done = true;
	a->rc = rc;
	if (st)
		a->st = *st;
	if (err)
		snprintf(a->msg, sizeof a->msg, "%s", err->msg);
}

/* Open a gate and wait for the store's answer (its post follows). */
static int request(int i, uint64_t timer_ms, uint64_t *id)
{
	struct reply a = {0};
	struct bot_error err = {0};
	char svc[32];
	snprintf(svc, sizeof svc, "svc-%d", i);
	struct gate_spec s = {
		.service = svc, .cluster = "bench", .ecs_service = svc, .requester = "UREQ",
		.target = 5, .current_desired = 1, .reason = "bench", .timer_ms = timer_ms,
		.approvers = approvers, .n_approvers = 2, .channel = "CBENCH",
		.evidence = "CPU 97% for 10 minutes; 2 alarms in ALARM",
	};
	if (gate_request(B.eng, &s, on_requested, &a, &err) != BOT_EOK) {
		fprintf(stderr, "gate_bench: %s\n", err.msg);
		return 1;
	}
	await(&a);
	if (a.rc) {
		fprintf(stderr, "gate_bench: %s\n", a.msg);
		return 1;
	}
	*id = a.id;
	return 0;
}

static void rm_db(void)
{
	char p[300];
	unlink(B.path);
	snprintf(p, sizeof p, "%s-wal", B.path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", B.path);
	unlink(p);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"gates", required_argument, NULL, 'g'},
		{"timers", required_argument, NULL, 't'},
		{"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int n_gates = 10000, n_timers = 2000, c, rc = 1;
	char dir[200] = "";
	uint64_t *ids = NULL;
	int64_t *lat = NULL;

	while ((c = getopt_long(argc, argv, "g:t:d:", longopts, NULL)) != -1) {
		if (c == 'g')
			n_gates = atoi(optarg);
		else if (c == 't')
			n_timers = atoi(optarg);
		else if (c == 'd')
			snprintf(dir, sizeof dir, "%s", optarg);
		else {
			fprintf(stderr, "usage: gate_bench [--gates N] [--timers M] [--dir DIR]\n");
			return 2;
		}
	}
	if (n_gates < 1 || n_timers < 1)
		return 2;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/gate_bench.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(B.path, sizeof B.path, "%s/bench.db", dir);
	rm_db();
	log_set_level(BOT_LOG_ERROR);
	uv_loop_init(&B.loop);
	B.cloud.ops = &bench_ops;
	ids = calloc((size_t)n_gates, sizeof *ids);
	lat = calloc((size_t)(n_gates > 1000 ? n_gates : 1000), sizeof *lat);
	B.cap_late = (size_t)n_timers;
	B.late = calloc(B.cap_late, sizeof *B.late);
	if (!ids || !lat || !B.late || start())
		goto out;
	long rss0 = rss_kb();
	printf("gate_bench: store %s (WAL, synchronous=FULL)\n", B.path);

	/* 1. create N pending gates (10 min timers) */
	uint64_t t0 = now_ns();
	for (int i = 0; i < n_gates; i++) {
		uint64_t t1 = now_ns();
		if (request(i, 600000, &ids[i]))
			goto out;
		lat[i] = (int64_t)(now_ns() - t1) / 1000;
	}
	double create_s = (double)(now_ns() - t0) / 1e9;
	qsort(lat, (size_t)n_gates, sizeof *lat, cmp_i64);
	printf("create %d pending gates: %.2f s (%.0f/s); per request (2 commits) p50 %" PRId64
	       " us, p99 %" PRId64 " us\n", n_gates, create_s, n_gates / create_s,
	       pct(lat, (size_t)n_gates, 0.5), pct(lat, (size_t)n_gates, 0.99));
	long rss1 = rss_kb();
	printf("RSS with %zu gates pending: %ld kB (before: %ld kB, +%ld kB, %.0f B/gate)\n",
	       gate_engine_live(B.eng), rss1, rss0, rss1 - rss0,
	       (double)(rss1 - rss0) * 1024.0 / n_gates);

	/* 2. commit latency: a dedup insert; a decision (deny click) */
	{
		struct bot_error err = {0};
		bool seen;
		char id[32];
		for (int i = 0; i < 1000; i++) {
			snprintf(id, sizeof id, "Ev%d", i);
			uint64_t t1 = now_ns();
			store_seen_event(B.store, id, &seen, &err);
			lat[i] = (int64_t)(now_ns() - t1) / 1000;
		}
		qsort(lat, 1000, sizeof *lat, cmp_i64);
		printf("commit latency, dedup insert: p50 %" PRId64 " us, p99 %" PRId64 " us\n",
		       pct(lat, 1000, 0.5), pct(lat, 1000, 0.99));
		int n_deny = n_gates < 1000 ? n_gates / 2 : 1000;
		for (int i = 0; i < n_deny; i++) {
			struct store_gate g = {0};
			snprintf(id, sizeof id, "Click%d", i);
			store_gate_get(B.store, ids[n_gates - 1 - i], &g, &err);
			struct reply a = {0};
			uint64_t t1 = now_ns();
			if (gate_click(B.eng, ids[n_gates - 1 - i], "UALICE", GATE_VOTE_DENY, id,
				       &(struct gate_where){g.channel, g.message_ts}, on_clicked,
				       &a) == BOT_EOK)
				await(&a);
			lat[i] = (int64_t)(now_ns() - t1) / 1000;
			store_gate_clear(&g);
		}
		qsort(lat, (size_t)n_deny, sizeof *lat, cmp_i64);
		printf("commit latency, decision (deny click: dedup + audit + transition, 1 txn): "
		       "p50 %" PRId64 " us, p99 %" PRId64 " us\n", pct(lat, (size_t)n_deny, 0.5),
		       pct(lat, (size_t)n_deny, 0.99));
	}

	/* 3. restart: open the store again and recover every pending gate */
	stop();
	{
		struct reply a = {0};
		uint64_t t1 = now_ns();
		if (start())
			goto out;
		uint64_t t2 = now_ns();
		if (gate_engine_recover(B.eng, on_recovered, &a) != BOT_EOK) {
			fprintf(stderr, "gate_bench: cannot start recovery\n");
			goto out;
		}
		await(&a);
		if (a.rc) {
			fprintf(stderr, "gate_bench: %s\n", a.msg);
			goto out;
		}
		struct gate_recover_stats st = a.st;
		uint64_t t3 = now_ns();
		printf("restart reload: %.1f ms (store open + checks %.1f ms, recover %.1f ms): "
		       "%zu re-armed, RSS %ld kB\n", (double)(t3 - t1) / 1e6, (double)(t2 - t1) / 1e6,
		       (double)(t3 - t2) / 1e6, st.rearmed, rss_kb());
	}

	/* 4. timer lateness: M gates due over ~2 s, on top of the pending ones */
	{
		int64_t first = wall_ms();
		for (int i = 0; i < n_timers; i++) {
			uint64_t id;
			/* deadline = delivery + timer: spread 1.0 .. 3.0 s from the start */
			int64_t target = first + 1000 + (int64_t)i * 2000 / n_timers;
			int64_t timer = target - wall_ms();
			if (request(n_gates + i, (uint64_t)(timer > 1 ? timer : 1), &id))
				goto out;
		}
		uint64_t end = now_ns() + 15ull * 1000000000ull;
		while (B.finished < (size_t)n_timers && now_ns() < end)
			uv_run(&B.loop, UV_RUN_ONCE);
		qsort(B.late, B.n_late, sizeof *B.late, cmp_i64);
		printf("timer lateness (%zu of %d fired over ~2 s, decision committed - deadline): "
		       "p50 %" PRId64 " ms, p99 %" PRId64 " ms, max %" PRId64 " ms; %zu executed\n",
		       B.n_late, n_timers, pct(B.late, B.n_late, 0.5), pct(B.late, B.n_late, 0.99),
		       B.n_late ? B.late[B.n_late - 1] : -1, B.finished);
		if (B.n_late && B.late[0] < 0)
			printf("ERROR: a timer fired %" PRId64 " ms early\n", -B.late[0]);
		else if (B.n_late == (size_t)n_timers)
			rc = 0;
	}
out:
	if (B.eng || B.store)
		stop();
	uv_run(&B.loop, UV_RUN_DEFAULT);
	uv_loop_close(&B.loop);
	rm_db();
	rmdir(dir);
	free(ids);
	free(lat);
	free(B.late);
	return rc;
}
