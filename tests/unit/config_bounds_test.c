/* Tests for the config loader's bounds (issue 10): alias fan-out, anchors,
 * nesting depth, list length and file size are refused quickly with a
 * position, before any document is built; files at the bounds load. The
 * loads print their CPU time; the bound asserted on it is loose (seconds,
 * where a load takes milliseconds) so that it cannot flake, and the numbers
 * worth reading come from tests/bench/config_bench. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot/base/dbuf.h"
#include "bot/base/error.h"
#include "config/config.h"
#include "tests/unit/config_gen.h"

#define CPU_BOUND_MS 2000.0 /* a load here takes < 50 ms; before the bounds, seconds */

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Load yaml (taking it); return the code, with the first error in *first
 * (when refused) and the config in *out (when loaded, else NULL). */
static int load(const char *what, char *yaml, struct bot_error *first, struct config **out)
{
	struct config_errors e = {0};
	double t0;
	int rc;

	assert_non_null(yaml);
	t0 = cpu_ms();
	rc = config_load_string("t.yaml", yaml, 0, out, &e);
	t0 = cpu_ms() - t0;
	print_message("  %s: %zu KB, %s in %.2f ms CPU\n", what, strlen(yaml) / 1024,
		      rc == BOT_EOK ? "loaded" : "refused", t0);
	assert_true(t0 < CPU_BOUND_MS);
	memset(first, 0, sizeof *first);
	if (e.n) {
		*first = e.v[0];
		first->file = NULL; /* owned by e */
		print_message("    %d:%d: %s\n", first->line, first->col, first->msg);
	}
	config_errors_free(&e);
	free(yaml);
	return rc;
}

static void refused(const char *what, char *yaml, int line, int col, const char *msg)
{
	struct bot_error first;
	struct config *c = NULL;

	assert_int_equal(load(what, yaml, &first, &c), BOT_ECONFIG);
	assert_null(c);
	if (!strstr(first.msg, msg))
		fail_msg("%s: wanted \"%s\" in \"%s\"", what, msg, first.msg);
	assert_int_equal(first.line, line);
	assert_int_equal(first.col, col);
}

static struct config *loaded(const char *what, char *yaml)
{
	struct bot_error first;
	struct config *c = NULL;

	if (load(what, yaml, &first, &c) != BOT_EOK)
		fail_msg("%s did not load: %d:%d: %s", what, first.line, first.col, first.msg);
	return c;
}

static char *dup_str(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

/* ------------------------------------------------------------------ */

static void test_alias_fanout_refused(void **state)
{
	(void)state;
	/* 56 KB: before the budget this loaded in 2.7 s of CPU and 207 MB.
	 * Each service adds 2 aliases of 1001 nodes; the 10th alias (s4's
	 * requesters, line 9) passes 10000. */
	refused("fan-out 1000 ids x 700 services", config_gen_fanout(1000, 700), 9, 63,
		"=aliases stand for more than 10000 values in all (alias fan-out; *a alone "
		"is 1001); at most 10000 are allowed" + 1);
	/* lists of lists of aliases: 10^9 values from a few hundred bytes */
	refused("billion laughs", config_gen_laughs(9, 10), 8, 27, "alias fan-out; *l3 alone");
}

static void test_alias_cycle_refused(void **state)
{
	(void)state;
	refused("cycle", dup_str("defaults:\n  approvers: &a [U0AAA, *a]\n"), 2, 25,
		"alias *a is used inside the node it names; a config cannot contain itself");
}

static void test_anchor_count(void **state)
{
	struct config *c;
	(void)state;

	/* the 65th anchor, &a64 */
	refused("65 anchors", config_gen_anchors(65), 2, 965,
		"more than 64 anchors (&name) in the file; at most 64 are allowed");
	c = loaded("64 anchors", config_gen_anchors(64));
	assert_int_equal(c->defaults.approvers.n, 64);
	config_unref(c);
}

static void test_nesting_depth(void **state)
{
	char *yaml;
	(void)state;

	/* the top mapping is level 1, so 15 lists fit under x and the 16th does not */
	refused("nested 20000 deep", config_gen_deep(20000), 3, 19,
		"lists and mappings nest more than 16 deep here; a config needs at most 5 levels");
	refused("nested 16 lists", config_gen_deep(16), 3, 19, "nest more than 16 deep");
	/* at the bound, the walk runs and reports the unknown key instead */
	yaml = config_gen_deep(15);
	refused("nested 15 lists", yaml, 3, 1, "unknown key 'x' at the top level");
}

static void test_list_length(void **state)
{
	struct config *c;
	(void)state;

	refused("list of 10000 ids", config_gen_long_list(10000), 3, 15,
		"this list has more than 1000 entries; at most 1000 are allowed");
	refused("list of 1001 ids", config_gen_long_list(1001), 3, 15, "more than 1000 entries");
	c = loaded("list of 1000 ids", config_gen_long_list(1000));
	assert_int_equal(c->defaults.requesters.n, 1000);
	assert_string_equal(c->defaults.requesters.ids[999], "U0000999");
	config_unref(c);
}

/* Duplicates in a long list are found (by sorting, not pairwise) and each
 * is reported at its later entry. */
static void test_duplicates_in_long_list(void **state)
{
	struct dbuf b = {0};
	(void)state;

	dbuf_puts(&b, "defaults:\n  approvers: [U0AAA]\n  requesters: [U0000999");
	for (size_t i = 1; i < 1000; i++)
		dbuf_printf(&b, ", U%07zu", i);
	dbuf_puts(&b, "]\nservices:\n  web: {cluster: c, max_desired: 1}\n");
	/* entry 999 repeats entry 0 */
	refused("1000 ids, last one twice", dbuf_take(&b), 3, 16 + 10 * 999,
		"=defaults.requesters[999]: U0000999 is listed twice" + 1);
}

static void test_file_size(void **state)
{
	size_t n = 128 * 1024 + 1;
	char *big = malloc(n + 1);
	(void)state;

	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	refused("128 KiB + 1", big, 0, 0, "the file is larger than 128 KiB; this is not a config "
		"file");
}

/* The biggest files that load, each at a different bound. */
static void test_big_valid_files_load(void **state)
{
	struct config *c;
	(void)state;

	c = loaded("127 KiB of services", config_gen_big_services(127 * 1024));
	assert_true(c->n_services > 1500);
	/* service-00060 aliases service-00000's anchored list */
	assert_int_equal(config_service_find(c, "service-00060")->approvers.n, 10);
	assert_string_equal(config_service_find(c, "service-00060")->approvers.ids[9], "U0000009");
	/* and the rest inherit defaults' 1000 approvers */
	assert_int_equal(config_service_find(c, "service-01500")->approvers.n, 1000);
	config_unref(c);

	c = loaded("alias budget with 64 anchors", config_gen_alias_budget());
	assert_int_equal(c->n_services, 156);
	assert_int_equal(c->services[0].approvers.n, 64);
	config_unref(c);

	c = loaded("6 services x 2 x 1000 ids", config_gen_big_lists(6, 1000));
	assert_int_equal(c->n_services, 6);
	assert_int_equal(c->services[5].requesters.n, 1000);
	config_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alias_fanout_refused),
		cmocka_unit_test(test_alias_cycle_refused),
		cmocka_unit_test(test_anchor_count),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_list_length),
		cmocka_unit_test(test_duplicates_in_long_list),
		cmocka_unit_test(test_file_size),
		cmocka_unit_test(test_big_valid_files_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
