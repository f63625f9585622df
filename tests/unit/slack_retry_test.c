/* Backoff policies as data: table lookup, the last step repeating, jitter
 * bounds, the retry bound and "forever". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/slack/retry.h"
#include "bot/base/error.h"

static const uint32_t steps[] = { 100, 200, 400 };

static void test_table(void **state)
{
	const struct slack_retry_policy p = { steps, BOT_ARRAY_LEN(steps), 0, 3 };

	(void)state;
	assert_int_equal(slack_retry_delay_ms(&p, 0, 12345), 100);
	assert_int_equal(slack_retry_delay_ms(&p, 1, 12345), 200);
	assert_int_equal(slack_retry_delay_ms(&p, 2, 12345), 400);
	/* past the table: the last step repeats */
	assert_int_equal(slack_retry_delay_ms(&p, 3, 1), 400);
	assert_int_equal(slack_retry_delay_ms(&p, 1000000, 1), 400);
	assert_int_equal(slack_retry_delay_ms(NULL, 0, 1), 0);
	assert_int_equal(slack_retry_delay_ms(&(struct slack_retry_policy){ steps, 0, 0, 0 }, 0, 1), 0);
}

static void test_bound(void **state)
{
	const struct slack_retry_policy three = { steps, BOT_ARRAY_LEN(steps), 0, 3 };
	const struct slack_retry_policy forever = { steps, BOT_ARRAY_LEN(steps), 0,
						    SLACK_RETRY_FOREVER };

	(void)state;
	assert_true(slack_retry_allowed(&three, 0));
	assert_true(slack_retry_allowed(&three, 2));
	assert_false(slack_retry_allowed(&three, 3));
	assert_false(slack_retry_allowed(NULL, 0));
	assert_true(slack_retry_allowed(&forever, 0));
	assert_true(slack_retry_allowed(&forever, 4000000000u));
}

static void test_jitter(void **state)
{
	const struct slack_retry_policy p = { steps, BOT_ARRAY_LEN(steps), 20, 0 };
	const struct slack_retry_policy huge = { steps, BOT_ARRAY_LEN(steps), 250, 0 };
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	/* rnd % 21 percent of 400: 0..80 */
	assert_int_equal(slack_retry_delay_ms(&p, 2, 0), 400);
	assert_int_equal(slack_retry_delay_ms(&p, 2, 20), 480);
	assert_int_equal(slack_retry_delay_ms(&p, 2, 21), 400);
	assert_int_equal(slack_retry_delay_ms(&p, 2, 10), 440);
	for (int i = 0; i < 10000; i++) {
		uint64_t d = slack_retry_delay_ms(&p, 2, slack_retry_random());
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	assert_true(lo >= 400 && lo < 410);
	assert_true(hi <= 480 && hi > 470);
	/* jitter is capped at 100 % */
	assert_true(slack_retry_delay_ms(&huge, 0, 100) == 200);
	assert_true(slack_retry_delay_ms(&huge, 0, 250) <= 200);
}

static void test_random_varies(void **state)
{
	uint32_t a = slack_retry_random(), b = slack_retry_random(), c = slack_retry_random();

	(void)state;
	assert_false(a == b && b == c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_random_varies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
