/* ratelimit (bot/base/ratelimit.h): the bucket's arithmetic, per-key
 * independence, reloads, and the bound on memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "bot/base/ratelimit.h"

static struct ratelimit *make(unsigned per_minute, size_t max_keys)
{
	struct ratelimit *r;
	assert_int_equal(ratelimit_create(per_minute, max_keys, &r), 0);
	return r;
}

/* A burst of per_minute passes; then one every 60/per_minute s, exactly,
 * even when asked every millisecond (no refill lost to rounding). */
static void test_burst_then_steady(void **state)
{
	struct ratelimit *r = make(20, 0);
	uint64_t retry = 0, t = 1000;

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_true(ratelimit_take(r, "U1", t, NULL));
	assert_false(ratelimit_take(r, "U1", t, &retry));
	assert_int_equal(retry, 3000);
	uint64_t until = t;
	while (!ratelimit_take(r, "U1", ++until, &retry))
		;
	assert_int_equal(until - t, 3000);
	assert_false(ratelimit_take(r, "U1", until, &retry));
	assert_int_equal(retry, 3000);
	ratelimit_destroy(r);
}

static void test_keys_are_independent(void **state)
{
	struct ratelimit *r = make(2, 0);

	(void)state;
	assert_true(ratelimit_take(r, "U1", 0, NULL));
	assert_true(ratelimit_take(r, "U1", 0, NULL));
	assert_false(ratelimit_take(r, "U1", 0, NULL));
	assert_true(ratelimit_take(r, "U2", 0, NULL));
	assert_int_equal(ratelimit_keys(r), 2);
	/* no key, or no limit: always */
	assert_true(ratelimit_take(r, NULL, 0, NULL));
	assert_true(ratelimit_take(r, "", 0, NULL));
	assert_true(ratelimit_take(NULL, "U1", 0, NULL));
	ratelimit_set_rate(r, 0);
	for (int i = 0; i < 100; i++)
		assert_true(ratelimit_take(r, "U1", 0, NULL));
	ratelimit_destroy(r);
}

/* A lower rate caps what a bucket holds at once. */
static void test_reload_lowers_the_cap(void **state)
{
	struct ratelimit *r = make(60, 0);
	int passed = 0;

	(void)state;
	assert_true(ratelimit_take(r, "U1", 0, NULL)); /* tracked, 59 left */
	ratelimit_set_rate(r, 5);
	while (ratelimit_take(r, "U1", 0, NULL))
		passed++;
	assert_int_equal(passed, 5);
	ratelimit_destroy(r);
}

/* At most max_keys buckets: full ones are dropped for a newcomer; when
 * every tracked key is still refilling, a newcomer passes untracked. */
static void test_memory_is_bounded(void **state)
{
	struct ratelimit *r = make(1, 4);
	char key[16];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "U%d", i);
		assert_true(ratelimit_take(r, key, 0, NULL));
	}
	assert_int_equal(ratelimit_keys(r), 4);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "V%d", i);
		assert_true(ratelimit_take(r, key, 10, NULL));
	}
	assert_int_equal(ratelimit_keys(r), 4);
	assert_int_equal(ratelimit_untracked(r), 100);
	/* a minute on, the four are full again: dropped for the next one */
	assert_true(ratelimit_take(r, "W", 60000, NULL));
	assert_int_equal(ratelimit_keys(r), 1);
	assert_false(ratelimit_take(r, "W", 60000, NULL));
	assert_int_equal(ratelimit_untracked(r), 100);
	ratelimit_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_steady),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_reload_lowers_the_cap),
		cmocka_unit_test(test_memory_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
