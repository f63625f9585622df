/* config_bench: how long the config loader takes on hostile and on big
 * valid files (issue 10: a 49 KB file with alias fan-out took 21.6 s and
 * 604 MB; any file that loads must load in under 50 ms).
 *
 *   build/tests/bench/config_bench [-r RUNS] [-c TEXT]
 *
 * Each case runs in a child process so that its peak RSS is its own. Prints
 * per case: file size, outcome (loaded, or the first error with its
 * position), the best wall and CPU times of N loads (default 5) and the
 * child's peak RSS. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/unit/config_gen.h"

struct bench_case {
	const char *name;
	char *yaml;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void run_case(const struct bench_case *bc, int runs)
{
	struct config_errors e = {0};
	struct config *c = NULL;
	struct rusage ru;
	char what[160] = "loaded";
	double best = -1, best_cpu = -1;
	int rc = BOT_EOK;

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms(), c0 = cpu_ms(), dt, dc;

		config_errors_free(&e);
		rc = config_load_string("bench.yaml", bc->yaml, 0, &c, &e);
		dt = now_ms() - t0;
		dc = cpu_ms() - c0;
		config_unref(c);
		c = NULL;
		if (best < 0 || dt < best)
			best = dt;
		if (best_cpu < 0 || dc < best_cpu)
			best_cpu = dc;
	}
	if (rc != BOT_EOK)
		snprintf(what, sizeof what, "refused %d:%d: %.100s", e.n ? e.v[0].line : 0,
			 e.n ? e.v[0].col : 0, e.n ? e.v[0].msg : bot_err_name(rc));
	config_errors_free(&e);
	getrusage(RUSAGE_SELF, &ru);
	printf("%-34s %7zu KB %8.2f ms %8.2f ms %5ld MB  %s\n", bc->name, strlen(bc->yaml) / 1024,
	       best, best_cpu, ru.ru_maxrss / 1024, what);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench_case cases[] = {
		{"fan-out 1000 ids x 700 services", config_gen_fanout(1000, 700)},
		{"fan-out 100 ids x 100 services", config_gen_fanout(100, 100)},
		{"billion laughs 9 x 10", config_gen_laughs(9, 10)},
		{"5000 anchors", config_gen_anchors(5000)},
		{"nested 20000 deep", config_gen_deep(20000)},
		{"list of 10000 ids", config_gen_long_list(10000)},
		{"valid: 127 KiB of services", config_gen_big_services(127 * 1024)},
		{"valid: alias budget, 64 anchors", config_gen_alias_budget()},
		{"valid: 6 services x 2 x 1000 ids", config_gen_big_lists(6, 1000)},
	};
	const char *only = NULL;
	int runs = 5, opt;

	while ((opt = getopt(argc, argv, "r:c:h")) != -1) {
		if (opt == 'r') {
			runs = atoi(optarg);
		} else if (opt == 'c') {
			only = optarg;
		} else {
			fprintf(stderr, "usage: %s [-r RUNS] [-c TEXT]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	printf("%-34s %10s %11s %11s %8s  %s\n", "case", "size", "best wall", "best CPU", "peak RSS",
	       "outcome");
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		pid_t pid;

		if (only && !strstr(cases[i].name, only))
			continue;
		if (!cases[i].yaml) {
			fprintf(stderr, "%s: out of memory\n", cases[i].name);
			return 1;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			run_case(&cases[i], runs);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
			perror("fork/wait");
			return 1;
		}
	}
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++)
		free(cases[i].yaml);
	return 0;
}
