/* Tests for logging: logfmt shape, levels, and that secrets can't be logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/error.h"
#include "bot/log.h"

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
	assert_string_equal(log_q(b, sizeof b, "two words"), "\"two words\"");
	assert_string_equal(log_q(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(log_q(b, sizeof b, ""), "\"\"");
	assert_string_equal(log_q(b, sizeof b, NULL), "\"\"");
	const char *long_v = "a value that is far too long for this buffer";
	log_q(b, sizeof b, long_v);
	assert_true(strlen(b) < sizeof b);
	assert_non_null(strstr(b, "..."));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
