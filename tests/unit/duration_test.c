/* Tests for duration_parse / duration_format: both grammars, every
 * rejection with its message, and the print/parse round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "bot/base/duration.h"
#include "bot/base/error.h"

#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static uint64_t parse_ok(const char *s)
{
	struct bot_error err = {.line = 0};
	uint64_t ms = 12345;
	int rc = duration_parse(s, &ms, &err);
	if (rc != BOT_EOK)
		fail_msg("duration_parse(\"%s\") failed: %s", s, err.msg);
	return ms;
}

/* Parse must fail with BOT_EINVAL, leave the output alone, and say both
 * what is wrong (want) and what was expected. */
static void parse_bad(const char *s, const char *want)
{
	struct bot_error err = {.line = 0};
	uint64_t ms = 777;
	int rc = duration_parse(s, &ms, &err);
	if (rc != BOT_EINVAL)
		fail_msg("duration_parse(\"%s\") = %d, want BOT_EINVAL", s ? s : "(null)", rc);
	assert_int_equal(ms, 777);
	if (!strstr(err.msg, want))
		fail_msg("duration_parse(\"%s\"): message \"%s\" lacks \"%s\"", s ? s : "(null)",
			 err.msg, want);
	assert_non_null(strstr(err.msg, "expected a duration like 10m, 90s, 1h30m or ISO 8601 PT10M"));
}

static void test_short_forms(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("10m"), 10 * MIN);
	assert_int_equal(parse_ok("90s"), 90 * SEC);
	assert_int_equal(parse_ok("1h"), HOUR);
	assert_int_equal(parse_ok("1h30m"), HOUR + 30 * MIN);
	assert_int_equal(parse_ok("2d"), 2 * DAY);
	assert_int_equal(parse_ok("500ms"), 500);
	assert_int_equal(parse_ok("1m500ms"), MIN + 500);
	assert_int_equal(parse_ok("1w2d"), 9 * DAY);
	assert_int_equal(parse_ok("2d3h4m5s6ms"), 2 * DAY + 3 * HOUR + 4 * MIN + 5 * SEC + 6);
	assert_int_equal(parse_ok("0s"), 0);
	/* units are case-insensitive: M is minutes, MS milliseconds */
	assert_int_equal(parse_ok("10M"), 10 * MIN);
	assert_int_equal(parse_ok("1H30M"), HOUR + 30 * MIN);
	assert_int_equal(parse_ok("5MS"), 5);
}

static void test_iso_forms(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("PT10M"), 10 * MIN);
	assert_int_equal(parse_ok("PT1H30M"), HOUR + 30 * MIN);
	assert_int_equal(parse_ok("PT90S"), 90 * SEC);
	assert_int_equal(parse_ok("P1D"), DAY);
	assert_int_equal(parse_ok("P1DT2H"), DAY + 2 * HOUR);
	assert_int_equal(parse_ok("P2W"), 14 * DAY);
	assert_int_equal(parse_ok("pt10m"), 10 * MIN);
	assert_int_equal(parse_ok("P1dT1h1m1s"), DAY + HOUR + MIN + SEC);
	assert_int_equal(parse_ok("PT0S"), 0);
}

static void test_rejects_shape(void **state)
{
	(void)state;
	parse_bad("", "empty duration");
	parse_bad(NULL, "empty duration");
	parse_bad("10", "a unit is required");
	parse_bad("1h30", "the last number has no unit");
	parse_bad("-5m", "negative durations are not allowed");
	parse_bad("ten", "unexpected 't'");
	parse_bad("1hx", "unexpected 'x'");
	parse_bad("1h\x01", "unexpected '?'");
	parse_bad("1h\n", "spaces are not allowed");
	parse_bad("10x", "unknown unit 'x'");
	parse_bad(" 10m", "spaces are not allowed");
	parse_bad("10m ", "spaces are not allowed");
	parse_bad("1h 30m", "spaces are not allowed");
	parse_bad("1.5h", "fractions are not supported");
	parse_bad("PT0.5S", "fractions are not supported");
	parse_bad("10m10m", "unit 'm' given twice");
	parse_bad("30m1h", "units out of order");
	parse_bad("1ms1s", "units out of order");
}

static void test_rejects_iso(void **state)
{
	(void)state;
	parse_bad("P", "\"P\" alone is not a duration");
	parse_bad("PT", "'T' must be followed by hours");
	parse_bad("P1DT", "'T' must be followed by hours");
	parse_bad("P1Y", "years are not a fixed length");
	parse_bad("P1M", "months are not a fixed length");
	parse_bad("PT1H1H", "unit 'h' given twice");
	parse_bad("PT1M1H", "units out of order");
	parse_bad("P1H", "H, M and S go after a T");
	parse_bad("PT1D", "W and D go before the T");
	parse_bad("PT10", "the last number needs H, M or S");
	parse_bad("P10", "the last number needs D or W");
	parse_bad("PT1HT", "'T' given twice");
	parse_bad("P1X", "unknown ISO 8601 designator");
	parse_bad("P-1D", "negative durations are not allowed");
}

static void test_overflow(void **state)
{
	(void)state;
	/* 2^64 - 1 ms is accepted; one more is not */
	assert_true(parse_ok("18446744073709551615ms") == UINT64_MAX);
	parse_bad("18446744073709551616ms", "too large");
	parse_bad("99999999999999d", "too large");
	parse_bad("213503982334d23h", "too large");
	parse_bad("P99999999999999D", "too large");
}

static void test_long_input_is_cut_in_message(void **state)
{
	struct bot_error err = {.line = 0};
	char big[200];
	uint64_t ms;
	(void)state;
	memset(big, '9', sizeof big - 2);
	big[sizeof big - 2] = 'q';
	big[sizeof big - 1] = '\0';
	assert_int_equal(duration_parse(big, &ms, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "...\""));
	assert_true(strlen(err.msg) < sizeof err.msg - 1);
}

static void fmt_is(uint64_t ms, const char *want)
{
	char buf[DURATION_FMT_MAX];
	assert_int_equal(duration_format(ms, buf, sizeof buf), BOT_EOK);
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	(void)state;
	fmt_is(10 * MIN, "10m");
	fmt_is(HOUR + 30 * MIN, "1h30m");
	fmt_is(45 * SEC, "45s");
	fmt_is(2 * DAY + 3 * HOUR, "2d3h");
	fmt_is(14 * DAY, "14d");
	fmt_is(1500, "1s500ms");
	fmt_is(0, "0s");
	fmt_is(UINT64_MAX, "213503982334d14h25m51s615ms");
}

static void test_format_small_buffer(void **state)
{
	char buf[4];
	(void)state;
	assert_int_equal(duration_format(HOUR + 30 * MIN, buf, sizeof buf), BOT_ETOOBIG);
	assert_string_equal(buf, "1h"); /* the prefix that fit, NUL-terminated */
	assert_int_equal(duration_format(10 * MIN, buf, sizeof buf), BOT_EOK);
	assert_string_equal(buf, "10m");
	assert_int_equal(duration_format(MIN, NULL, 8), BOT_EINVAL);
	assert_int_equal(duration_format(MIN, buf, 0), BOT_EINVAL);
	assert_int_equal(duration_format(0, buf, 2), BOT_ETOOBIG);
}

static void test_round_trip(void **state)
{
	static const uint64_t samples[] = {
		1, 999, 1000, 59999, MIN, 90 * SEC, HOUR + 1, DAY - 1, 7 * DAY,
		3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7, UINT64_MAX, UINT64_MAX - 1,
	};
	(void)state;
	for (size_t i = 0; i < BOT_ARRAY_LEN(samples); i++) {
		char buf[DURATION_FMT_MAX];
		assert_int_equal(duration_format(samples[i], buf, sizeof buf), BOT_EOK);
		assert_true(parse_ok(buf) == samples[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_forms),
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_rejects_shape),
		cmocka_unit_test(test_rejects_iso),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_long_input_is_cut_in_message),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
