/* The in-memory dedupe table: first claim wins, later ones are duplicates
 * until the TTL passes, expiry in insertion order, the size cap, growth,
 * bad keys, and the store interface the backend uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "adapters/store/sqlite.h"
#include "adapters/slack/dedupe.h"
#include "bot/base/log.h"

#define TTL (10 * 60 * 1000u)

static void test_claim_once(void **state)
{
	struct slack_dedupe *d = NULL;

	(void)state;
	assert_int_equal(slack_dedupe_create(TTL, 0, &d), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev1", 1000), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev1", 1001), BOT_EDUPLICATE);
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev2", 1002), BOT_EOK);
	/* still a duplicate one millisecond before the TTL ends */
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev1", 1000 + TTL - 1), BOT_EDUPLICATE);
	assert_int_equal(slack_dedupe_count(d), 2);
	/* at the TTL it is forgotten, and may be claimed again */
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev1", 1000 + TTL), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev1", 1000 + TTL + 5), BOT_EDUPLICATE);
	/* Ev2 expired too by now */
	assert_int_equal(slack_dedupe_claim(d, "ev:Ev2", 1002 + TTL), BOT_EOK);
	slack_dedupe_destroy(d);
	slack_dedupe_destroy(NULL);
}

static void test_expiry_order(void **state)
{
	struct slack_dedupe *d = NULL;
	char k[32];

	(void)state;
	assert_int_equal(slack_dedupe_create(100, 0, &d), BOT_EOK);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof k, "k%d", i);
		assert_int_equal(slack_dedupe_claim(d, k, (uint64_t)i * 10), BOT_EOK);
	}
	assert_int_equal(slack_dedupe_count(d), 10);
	/* at t=150, keys claimed at 0..50 are gone (>= 100 ms old) */
	assert_int_equal(slack_dedupe_claim(d, "other", 150), BOT_EOK);
	assert_int_equal(slack_dedupe_count(d), 5); /* k6..k9 + other */
	assert_int_equal(slack_dedupe_claim(d, "k6", 151), BOT_EDUPLICATE);
	assert_int_equal(slack_dedupe_claim(d, "k5", 151), BOT_EOK);
	/* a clock that went backwards expires nothing */
	assert_int_equal(slack_dedupe_claim(d, "k6", 1), BOT_EDUPLICATE);
	slack_dedupe_destroy(d);
}

static int warnings;
static void count_warn(void *ud, const char *line, size_t len)
{
	(void)ud;
	(void)len;
	if (strstr(line, "event=slack.dedupe") && strstr(line, "level=warn"))
		warnings++;
}

static void test_cap_and_growth(void **state)
{
	struct slack_dedupe *d = NULL;
	char k[32];

	(void)state;
	log_set_writer(count_warn, NULL);
	assert_int_equal(slack_dedupe_create(TTL, 1000, &d), BOT_EOK);
	/* many keys: the table grows (past 64 buckets) and stays correct */
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof k, "act:U1:%d.000:a", i);
		assert_int_equal(slack_dedupe_claim(d, k, 5), BOT_EOK);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof k, "act:U1:%d.000:a", i);
		assert_int_equal(slack_dedupe_claim(d, k, 6), BOT_EDUPLICATE);
	}
	assert_int_equal(slack_dedupe_count(d), 1000);
	assert_int_equal(warnings, 0);
	/* full: the oldest goes early, with one warning */
	assert_int_equal(slack_dedupe_claim(d, "new-1", 7), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, "new-2", 7), BOT_EOK);
	assert_int_equal(slack_dedupe_count(d), 1000);
	assert_int_equal(slack_dedupe_evicted(d), 2);
	assert_int_equal(warnings, 1);
	assert_int_equal(slack_dedupe_claim(d, "act:U1:0.000:a", 8), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, "act:U1:999.000:a", 8), BOT_EDUPLICATE);
	assert_int_equal(slack_dedupe_claim(d, "new-1", 8), BOT_EDUPLICATE);
	slack_dedupe_destroy(d);
	log_set_writer(NULL, NULL);
}

static void test_bad_keys(void **state)
{
	struct slack_dedupe *d = NULL;
	char big[SLACK_DEDUPE_MAX_KEY + 2];

	(void)state;
	assert_int_equal(slack_dedupe_create(0, 0, &d), BOT_EINVAL);
	assert_null(d);
	assert_int_equal(slack_dedupe_create(TTL, 0, &d), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, NULL, 1), BOT_EINVAL);
	assert_int_equal(slack_dedupe_claim(d, "", 1), BOT_EINVAL);
	assert_int_equal(slack_dedupe_claim(NULL, "k", 1), BOT_EINVAL);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(slack_dedupe_claim(d, big, 1), BOT_EINVAL);
	big[SLACK_DEDUPE_MAX_KEY] = '\0';
	assert_int_equal(slack_dedupe_claim(d, big, 1), BOT_EOK);
	assert_int_equal(slack_dedupe_claim(d, big, 1), BOT_EDUPLICATE);
	slack_dedupe_destroy(d);
}

static void test_store_interface(void **state)
{
	struct slack_dedupe *d = NULL;
	struct slack_dedupe_store s;

	(void)state;
	assert_int_equal(slack_dedupe_create(TTL, 0, &d), BOT_EOK);
	s = slack_dedupe_store(d);
	assert_int_equal(s.claim(s.impl, "cmd:1.T.abc", 10), BOT_EOK);
	assert_int_equal(s.claim(s.impl, "cmd:1.T.abc", 11), BOT_EDUPLICATE);
	assert_int_equal(slack_dedupe_claim(d, "cmd:1.T.abc", 12), BOT_EDUPLICATE);
	slack_dedupe_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_once),
		cmocka_unit_test(test_expiry_order),
		cmocka_unit_test(test_cap_and_growth),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_store_interface),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
