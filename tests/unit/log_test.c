/* Tests for logging: logfmt shape, levels, and that secrets can't be logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/base/error.h"
#include "bot/base/log.h"
#include "tests/fakes/logfmt.h"

static char captured[16384];
static int lines;

static void capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	lines++;
	snprintf(captured, sizeof captured, "%.*s", (int)len, line);
}

static int setup(void **state)
{
	(void)state;
	captured[0] = '\0';
	lines = 0;
	log_set_writer(capture, NULL);
	log_set_level(BOT_LOG_DEBUG);
	log_clear_secrets();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_writer(NULL, NULL);
	log_clear_secrets();
	log_set_level(BOT_LOG_INFO);
	return 0;
}

static void test_logfmt_line(void **state)
{
	(void)state;
	log_info("gate.created", "id=%d service=%s", 7, "web");
	assert_int_equal(lines, 1);
	assert_non_null(strstr(captured, " level=info event=gate.created id=7 service=web\n"));
	assert_memory_equal(captured, "ts=", 3);
	/* exactly one newline, at the end */
	assert_ptr_equal(strchr(captured, '\n'), captured + strlen(captured) - 1);
}

static void test_levels_filter(void **state)
{
	(void)state;
	log_set_level(BOT_LOG_WARN);
	log_info("x", "a=1");
	log_debug("x", "a=%d", 2);
	assert_int_equal(lines, 0);
	log_error("y", "b=1");
	assert_int_equal(lines, 1);
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), BOT_EOK);
	assert_int_equal(l, BOT_LOG_DEBUG);
	assert_int_equal(log_level_parse("loud", &l), BOT_EINVAL);
}

static void test_registered_secret_never_logged(void **state)
{
	(void)state;
	const char *secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	assert_int_equal(log_add_secret(secret), BOT_EOK);
	log_info("aws.creds", "secret=%s again=%s%s", secret, secret, "tail");
	assert_null(strstr(captured, "wJalrXUtnFEMI"));
	assert_non_null(strstr(captured, "secret=[REDACTED] again=[REDACTED]tail"));
	/* too short to register safely */
	assert_int_equal(log_add_secret("abc"), BOT_EINVAL);
	log_forget_secret(secret);
	log_info("aws.creds", "secret=%s", secret);
	assert_non_null(strstr(captured, secret));
}

/* Two holders of one value (two AWS backends on the same keys): the first
 * to let go must not unmask the other's. */
static void test_secret_registrations_counted(void **state)
{
	(void)state;
	const char *secret = "shared-secret-key-0123456789";
	char *red;

	assert_int_equal(log_add_secret(secret), BOT_EOK);
	assert_int_equal(log_add_secret(secret), BOT_EOK);
	log_forget_secret(secret);
	red = log_redact(secret);
	assert_string_equal(red, "[REDACTED]");
	free(red);
	log_forget_secret(secret);
	red = log_redact(secret);
	assert_string_equal(red, secret);
	free(red);
	log_forget_secret(secret); /* one too many: ignored */
	log_forget_secret("never-registered");
}

static void test_token_shapes_redacted(void **state)
{
	(void)state;
	log_info("slack", "bot=xoxb-1234-5678-abcdEFGH app=xapp-1-A0-123-ffff user=xoxp-9-9");
	assert_null(strstr(captured, "1234-5678"));
	assert_null(strstr(captured, "A0-123"));
	assert_null(strstr(captured, "xoxp-9"));
	assert_non_null(strstr(captured, "bot=[REDACTED] app=[REDACTED] user=[REDACTED]"));

	log_info("http", "hdr=\"Authorization: Bearer abc.def-ghi\" next=1");
	assert_null(strstr(captured, "abc.def"));
	assert_non_null(strstr(captured, "Bearer [REDACTED]\" next=1"));

	log_info("ws", "url=wss://x.slack.com/link/?ticket=SECRET123&app_id=A1");
	assert_null(strstr(captured, "SECRET123"));
	assert_non_null(strstr(captured, "ticket=[REDACTED]&app_id=A1"));

	log_info("resp", "url=https://hooks.slack.com/commands/T1/2/zzzSECRET");
	assert_null(strstr(captured, "zzzSECRET"));

	/* a word that merely contains "xox" is not a token */
	log_info("w", "word=boxoxb-fine");
	assert_non_null(strstr(captured, "word=boxoxb-fine"));
}

static void test_secret_survives_truncation(void **state)
{
	(void)state;
	char *big = malloc(12000);
	assert_non_null(big);
	memset(big, 'a', 8170);
	strcpy(big + 8170, "xoxb-000000000000-111111111111-SECRETSECRET");
	log_info("big", "v=%s", big);
	assert_null(strstr(captured, "SECRETSECRET"));
	assert_null(strstr(captured, "xoxb-0000"));
	assert_true(strlen(captured) <= 8192);
	free(big);
}

static void test_control_chars_escaped(void **state)
{
	(void)state;
	log_info("cmd", "text=%s", "line1\nlevel=error event=forged");
	assert_int_equal(lines, 1);
	assert_non_null(strstr(captured, "line1\\nlevel=error"));
	assert_ptr_equal(strchr(captured, '\n'), captured + strlen(captured) - 1);
}

static void test_quote(void **state)
{
	char b[32];
	(void)state;
	assert_string_equal(log_q(b, sizeof b, "plain"), "plain");
	assert_string_equal(log_q(b, sizeof b, "U0BOB.x-y_z/1:2"), "U0BOB.x-y_z/1:2");
	assert_string_equal(log_q(b, sizeof b, "two words"), "\"two words\"");
	assert_string_equal(log_q(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(log_q(b, sizeof b, ""), "\"\"");
	/* NULL is an absent value, not an empty one */
	assert_string_equal(log_q(b, sizeof b, NULL), "-");
	/* every character that could end a bare value or start a key */
	assert_string_equal(log_q(b, sizeof b, "admin=yes"), "\"admin=yes\"");
	assert_string_equal(log_q(b, sizeof b, "a\"b"), "\"a\\\"b\"");
	assert_string_equal(log_q(b, sizeof b, "a\\b"), "\"a\\\\b\"");
	assert_string_equal(log_q(b, sizeof b, "a\\"), "\"a\\\\\"");
	assert_string_equal(log_q(b, sizeof b, "a\nb"), "\"a\nb\"");
	assert_string_equal(log_q(b, sizeof b, "a\tb"), "\"a\tb\"");
	assert_string_equal(log_q(b, sizeof b, "a\x7f"), "\"a\x7f\"");
	assert_string_equal(log_q(b, sizeof b, "\x01"), "\"\x01\"");
	const char *long_v = "a value that is far too long for this buffer";
	log_q(b, sizeof b, long_v);
	assert_true(strlen(b) < sizeof b);
	assert_non_null(strstr(b, "..."));
	assert_string_equal(log_q(b, sizeof b, "abcdefghijklmnopqrstuvwxyz0123456789"),
			    "abcdefghijklmnopqrstuvwxyz01...");
}

/* However it is cut, a quoted value is closed, and never ends in half an
 * escape (which would escape the closing quote). */
static void test_quote_cut(void **state)
{
	char b[64], v[200];
	(void)state;
	/* too small for any quoted value: empty, never a lone '"' */
	assert_string_equal(log_q(b, 0, "a b"), "");
	for (size_t n = 1; n < 8; n++) {
		log_q(b, n, "a b");
		assert_true(strcmp(b, "") == 0 || strcmp(b, "\"\"") == 0);
	}
	for (size_t n = 8; n <= sizeof b; n++) {
		for (int k = 0; k < 3; k++) {
			const char *fill = k == 0 ? "\"" : k == 1 ? "\\" : "a\"";
			size_t fl = strlen(fill), o = 0;
			while (o + fl < sizeof v) {
				memcpy(v + o, fill, fl);
				o += fl;
			}
			v[o] = '\0';
			log_q(b, n, v);
			size_t bl = strlen(b);
			assert_true(bl < n);
			assert_true(bl >= 5);
			assert_int_equal(b[0], '"');
			assert_memory_equal(b + bl - 4, "...\"", 4);
			/* escapes pair up: an even run of backslashes before "..." */
			size_t bs = 0;
			for (size_t i = bl - 4; i > 1 && b[i - 1] == '\\'; i--)
				bs++;
			assert_int_equal(bs % 2, 0);
		}
	}
}

static void parse_ok(const char *line, struct logfmt_line *l)
{
	char why[128];
	if (!logfmt_parse(line, l, why, sizeof why))
		fail_msg("not logfmt (%s): %s", why, line);
}

/* LOG_Q at a call site: a value with key=value inside stays one value, in
 * log_info and inside log_debug's do/while, several per line. */
static void test_quote_macro(void **state)
{
	struct logfmt_line l;
	char v[64];
	const char *evil[] = {
		"x admin=yes", "a\" b=c", "a\\\" b=c", "a\\", "\"", "=", "\nlevel=error b=c",
		"Bearer tok\" b=c", "ticket=abc\" b=c", "hooks.slack.com/x\" b=c", "", NULL,
	};
	(void)state;
	for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
		log_info("t.q", "user=%s channel=%s n=%zu", LOG_Q(evil[i]), LOG_Q("C0GENERAL"), i);
		parse_ok(captured, &l);
		assert_int_equal(l.n, 6);
		assert_false(logfmt_has_key(&l, "admin"));
		assert_false(logfmt_has_key(&l, "b"));
		assert_string_equal(logfmt_value(captured, &l, "channel", v, sizeof v), "C0GENERAL");
		if (evil[i] && !strchr(evil[i], '\n') && !strstr(evil[i], "b=c\"") &&
		    !strstr(evil[i], "Bearer") && !strstr(evil[i], "ticket") &&
		    !strstr(evil[i], "hooks"))
			assert_string_equal(logfmt_value(captured, &l, "user", v, sizeof v), evil[i]);

		log_debug("t.q", "envelope=%s action=%s", LOG_Q(evil[i]), LOG_Q(evil[i]));
		parse_ok(captured, &l);
		assert_int_equal(l.n, 5);
		assert_true(logfmt_has_key(&l, "envelope"));
		assert_true(logfmt_has_key(&l, "action"));
	}
	assert_non_null(strstr(captured, "envelope=- action=-"));
	/* the credential shapes are still redacted inside quotes */
	log_info("t.q", "a=%s", LOG_Q("Bearer tok\" b=c"));
	assert_non_null(strstr(captured, "a=\"Bearer [REDACTED]\\\" b=c\""));
	/* the buffer lives as long as the block: usable in a branch */
	for (int i = 0; i < 2; i++)
		if (i)
			log_debug("t.q", "v=%s", LOG_Q(i ? "one two" : "x"));
	assert_non_null(strstr(captured, "v=\"one two\"\n"));
}

/* A line over the cap is cut where it still parses: the quoted value it
 * ends in is closed, a half key is dropped, and truncated=true is a key of
 * its own. The prefix shifts the cut over every position. */
static void test_truncated_line_parses(void **state)
{
	static const char pad[] = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
				  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
				  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
	struct logfmt_line l;
	size_t big = 20000;
	char *v = malloc(big + 1), *q = malloc(2 * big + 8);
	(void)state;
	assert_non_null(v);
	assert_non_null(q);
	/* inside a quoted value full of escapes */
	for (size_t i = 0; i < big; i++)
		v[i] = i % 3 == 0 ? '"' : i % 3 == 1 ? '\\' : 'a';
	v[big] = '\0';
	log_q(q, 2 * big + 8, v);
	for (int shift = 1; shift < 12; shift++) {
		log_info("t.cut", "pad=%.*s key=%s", shift, pad, q);
		parse_ok(captured, &l);
		assert_true(strlen(captured) <= 8192);
		assert_true(logfmt_has_key(&l, "key"));
		assert_true(logfmt_has_key(&l, "truncated"));
	}
	/* over many pairs of 200 bytes, so the cut lands in keys too */
	size_t o = 0;
	for (int k = 0; o + 210 < big; k++) {
		o += (size_t)sprintf(v + o, "k%c%c=", 'a' + k / 26 % 26, 'a' + k % 26);
		memset(v + o, 'v', 200);
		o += 200;
		v[o++] = ' ';
	}
	v[o - 1] = '\0';
	for (int shift = 1; shift < (int)sizeof pad; shift++) {
		log_info("t.cut", "pad=%.*s %s", shift, pad, v);
		parse_ok(captured, &l);
		assert_true(strlen(captured) <= 8192);
		assert_true(logfmt_has_key(&l, "truncated"));
	}
	free(v);
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logfmt_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registered_secret_never_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_registrations_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_shapes_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_survives_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_chars_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote_macro, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_line_parses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
