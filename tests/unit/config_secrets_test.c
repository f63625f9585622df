/* Tests for config/secrets.c at its own seam (config_int.h), where each rule
 * can be pinned without a whole file around it: a value that took text from
 * the environment is never quoted in a message, however the ${VAR} names
 * are cut; the token shape check (its bytes at the edges of printable
 * ASCII, first line or not) never quotes the token; and a token refused
 * for its shape is still registered with the log redactor. config_test.c
 * covers the same rules through config_load(). */
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
#include "config/config.h"
#include "config/config_int.h"

#define SECRET "s3cr3t-VALUE-42"

static struct config_errors errs;
static struct loader ld;

static const char *const env_vars[] = {"CT_S", "CT_EMPTY", "CT_UNSET", "CT_TOKEN"};

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < BOT_ARRAY_LEN(env_vars); i++)
		unsetenv(env_vars[i]);
	setenv("CT_S", SECRET, 1);
	setenv("CT_EMPTY", "", 1);
	memset(&errs, 0, sizeof errs);
	errs.name_ = strdup("t.yaml");
	assert_non_null(errs.name_);
	memset(&ld, 0, sizeof ld);
	ld.errs = &errs;
	log_clear_secrets();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_errors_free(&errs);
	log_clear_secrets();
	for (size_t i = 0; i < BOT_ARRAY_LEN(env_vars); i++)
		unsetenv(env_vars[i]);
	return 0;
}

/* raw expanded with no error; env names in *env (ENV_NAMES_LEN bytes). */
static char *expand_ok(const char *raw, char *env)
{
	char *s = config__expand(&ld, NULL, "k", raw, env);

	assert_non_null(s);
	assert_int_equal(errs.n, 0);
	assert_false(ld.oom);
	return s;
}

static void test_shown_quotes_only_file_text(void **state)
{
	char buf[SHOWN_LEN], long_text[101];
	(void)state;

	assert_string_equal(config__shown(buf, "us-east-1", ""), "\"us-east-1\"");
	assert_string_equal(config__shown(buf, "us-east-1", NULL), "\"us-east-1\"");
	assert_string_equal(config__shown(buf, SECRET, "${CT_S}"),
			    "a value from ${CT_S} (not shown)");
	memset(long_text, 'x', 100);
	long_text[100] = '\0';
	assert_int_equal(strlen(config__shown(buf, long_text, "")), 64 + 2);
}

/* Every value that took text from a variable has it named in env, so that
 * config__shown hides it; text from the file or a default does not. */
static void test_expand_names_each_source(void **state)
{
	char env[ENV_NAMES_LEN], buf[SHOWN_LEN];
	char *s;
	(void)state;

	s = expand_ok("x-${CT_S}", env);
	assert_string_equal(s, "x-" SECRET);
	assert_string_equal(env, "${CT_S}");
	assert_null(strstr(config__shown(buf, s, env), "s3cr3t"));
	free(s);

	s = expand_ok("$$${CT_S}$x", env);
	assert_string_equal(s, "$" SECRET "$x");
	assert_string_equal(env, "${CT_S}");
	free(s);

	/* a default (also for set but empty) is file text: quoted */
	s = expand_ok("${CT_UNSET:-d1}.${CT_EMPTY:-d2}${CT_EMPTY}", env);
	assert_string_equal(s, "d1.d2");
	assert_string_equal(env, "");
	free(s);

	s = expand_ok("no dollar", env);
	assert_string_equal(env, "");
	free(s);
}

/* The names are cut to fit, but never to nothing: the first one always
 * stays, even when it alone is longer than the room for names. */
static void test_expand_env_names_never_empty(void **state)
{
	char env[ENV_NAMES_LEN], buf[SHOWN_LEN], name[121], raw[256];
	char *s;
	(void)state;

	memset(name, 'N', 120);
	name[120] = '\0';
	setenv(name, SECRET, 1);
	snprintf(raw, sizeof raw, "${%s}", name);
	s = expand_ok(raw, env);
	assert_string_equal(s, SECRET);
	assert_true(strncmp(env, "${NNNN", 6) == 0);
	assert_true(strlen(env) < ENV_NAMES_LEN);
	assert_null(strstr(config__shown(buf, s, env), "s3cr3t"));
	free(s);
	unsetenv(name);

	raw[0] = '\0';
	for (int i = 0; i < 30; i++)
		strcat(raw, "${CT_S}");
	s = expand_ok(raw, env);
	assert_true(strncmp(env, "${CT_S}, ${CT_S}", 16) == 0);
	assert_true(strlen(env) < ENV_NAMES_LEN);
	free(s);
}

/* Errors name the variable, never a value from the environment. */
static void test_expand_errors(void **state)
{
	static const struct {
		const char *raw, *msg;
	} bad[] = {
		{"${CT_S}-${CT_UNSET}", "k: environment variable CT_UNSET is not set (write "
		 "${CT_UNSET:-default} to give a default)"},
		{"${CT_S}${CT_S", "k: malformed \"${\": expected ${NAME} or ${NAME:-default} "
		 "(write $$ for a literal $)"},
		{"${CT_S}${1X}", NULL},
		{"${CT_S}${}", NULL},
		{"${CT_S}${CT_S:-x", NULL},
	};
	char env[ENV_NAMES_LEN], raw[200];
	(void)state;

	for (size_t i = 0; i < BOT_ARRAY_LEN(bad); i++) {
		assert_null(config__expand(&ld, NULL, "k", bad[i].raw, env));
		assert_int_equal(errs.n, i + 1);
		assert_int_equal(errs.v[i].line, 0);
		if (bad[i].msg)
			assert_string_equal(errs.v[i].msg, bad[i].msg);
		else
			assert_non_null(strstr(errs.v[i].msg, "malformed"));
		assert_null(strstr(errs.v[i].msg, "s3cr3t"));
	}
	memset(raw, 'N', sizeof raw);
	memcpy(raw, "${", 2);
	memcpy(raw + 130, "}", 2);
	assert_null(config__expand(&ld, NULL, "k", raw, env));
	assert_string_equal(errs.v[errs.n - 1].msg, "k: environment variable name is too long");
}

static void test_token_clean(void **state)
{
	static const struct {
		const char *in;
		bool first_line;
		const char *out, *why;
	} cases[] = {
		{"xoxb-1\r\n", true, "xoxb-1", NULL},
		{"xoxb-1\nxoxb-2", true, "xoxb-1", NULL},
		{"xoxb-~!1 \t\r\n", false, "xoxb-~!1", NULL},
		{"xoxb-1\nxoxb-2", false, NULL, "the token has a control character at byte 7"},
		{"xoxb-\x7f" "1", false, NULL, "the token has a control character at byte 6"},
		{"xoxb-\x01" "1", true, NULL, "the token has a control character at byte 6"},
		{"xoxb-\xc3\xa9" "1", false, NULL, "the token has a non-ASCII byte at byte 6"},
		{"xoxb-1 2", false, NULL, "the token has a space or tab at byte 7"},
		{"xoxb-1\t2", true, NULL, "the token has a space or tab at byte 7"},
		{" \t\n", false, NULL, "the token is empty"},
		{"\nxoxb-1", true, NULL, "the token is empty"},
	};
	(void)state;

	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		char s[64], why[128] = "";
		size_t len = strlen(cases[i].in);
		bool ok;

		snprintf(s, sizeof s, "%s", cases[i].in);
		ok = config__token_clean(s, &len, cases[i].first_line, why, sizeof why);
		if (cases[i].out) {
			assert_true(ok);
			assert_string_equal(s, cases[i].out);
			assert_int_equal(len, strlen(cases[i].out));
		} else {
			assert_false(ok);
			assert_true(strncmp(why, cases[i].why, strlen(cases[i].why)) == 0);
			assert_null(strstr(why, "xoxb"));
		}
	}
}

/* A token of the wrong shape is refused without being quoted, and is still
 * registered with the redactor: it was meant to be secret. */
static void test_wrong_shape_refused_and_redacted(void **state)
{
	static const char value[] = "wrong-kind-1234-abcd";
	struct config_secret sec = {.source = CONFIG_SECRET_ENV};
	char *line;
	(void)state;

	setenv("CT_TOKEN", value, 1);
	sec.ref = strdup("CT_TOKEN");
	assert_non_null(sec.ref);
	config__load_secret(&ld, &sec, "bot_token", "SLACK_BOT_TOKEN", "xoxb-", "a bot token",
			    NULL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].msg, "slack.bot_token: CT_TOKEN does not look like a bot "
			    "token (it should start with \"xoxb\" and a dash)");
	line = log_redact("t=wrong-kind-1234-abcd");
	assert_non_null(line);
	assert_null(strstr(line, value));
	free(line);
	config__secret_free(&sec);

	/* refused for a space: registered too, as trimmed */
	setenv("CT_TOKEN", "xoxb-1 secretpart\n", 1);
	memset(&sec, 0, sizeof sec);
	sec.source = CONFIG_SECRET_ENV;
	sec.ref = strdup("CT_TOKEN");
	assert_non_null(sec.ref);
	config__load_secret(&ld, &sec, "bot_token", "SLACK_BOT_TOKEN", "xoxb-", "a bot token",
			    NULL);
	assert_int_equal(errs.n, 2);
	assert_null(strstr(errs.v[1].msg, "secretpart"));
	line = log_redact("t=xoxb-1 secretpart.");
	assert_non_null(line);
	assert_null(strstr(line, "secretpart"));
	free(line);
	config__secret_free(&sec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shown_quotes_only_file_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_names_each_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_env_names_never_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_shape_refused_and_redacted, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
