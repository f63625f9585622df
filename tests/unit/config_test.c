/* Tests for the config loader: every field read back, inheritance from
 * defaults, every kind of error with its exact position, ${VAR} expansion,
 * secrets (env, file, redaction, shape), and config/example.yaml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/base/error.h"
#include "bot/base/log.h"
#include "config/config.h"

#define MIN_MS (60ULL * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

#define APP_TOKEN "xapp-1-A0TEST-1234-cafebabe"
#define BOT_TOKEN "xoxb-1111-2222-testtesttest"

/* A valid file to build on: one service, everything else defaulted. */
#define BASE_SERVICE \
	"services:\n" \
	"  web:\n" \
	"    cluster: prod\n" \
	"    max_desired: 5\n" \
	"    approvers: [U0AAA]\n" \
	"    requesters: ['*']\n"

static char captured[4096];

static void capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	snprintf(captured, sizeof captured, "%.*s", (int)len, line);
}

static const char *const env_vars[] = {
	"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_API_URL", "AWS_REGION",
	"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "CHATOPS_TEST_APP_TOKEN",
	"CHATOPS_TEST_TOKEN_FILE", "CT_VAR", "CT_EMPTY", "CT_UNSET", "CT_MAX",
	"AWS_SECRET_ACCESS_KEY", "CT_SECRET",
};

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < BOT_ARRAY_LEN(env_vars); i++)
		unsetenv(env_vars[i]);
	captured[0] = '\0';
	log_set_writer(capture, NULL);
	log_clear_secrets();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_writer(NULL, NULL);
	log_clear_secrets();
	for (size_t i = 0; i < BOT_ARRAY_LEN(env_vars); i++)
		unsetenv(env_vars[i]);
	return 0;
}

static const char *source_root(void)
{
	const char *r = getenv("CHATOPS_SOURCE_ROOT");
	return r && *r ? r : ".";
}

static void data_path(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", source_root(), rel);
}

static void dump_errs(const struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  [%zu] %d:%d: %s\n", i, e->v[i].line, e->v[i].col, e->v[i].msg);
}

/* Load yaml that must be valid. */
static struct config *load_ok(const char *yaml, unsigned flags)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	int rc = config_load_string("t.yaml", yaml, flags, &c, &e);
	if (rc != BOT_EOK) {
		dump_errs(&e);
		fail_msg("config_load_string failed: %s", bot_err_name(rc));
	}
	assert_int_equal(e.n, 0);
	assert_non_null(c);
	config_errors_free(&e);
	return c;
}

struct want {
	int line, col;
	const char *msg; /* "=..." exact, else a substring */
};

static bool msg_matches(const char *got, const char *want)
{
	return want[0] == '=' ? strcmp(got, want + 1) == 0 : strstr(got, want) != NULL;
}

/* Load yaml that must fail with exactly these errors, in this order. */
static void load_bad(const char *yaml, unsigned flags, const struct want *w, size_t n)
{
	struct config *c = (struct config *)&c; /* must be reset to NULL */
	struct config_errors e = {0};
	int rc = config_load_string("t.yaml", yaml, flags, &c, &e);
	bool ok = rc == BOT_ECONFIG && e.n == n && c == NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = e.v[i].line == w[i].line && e.v[i].col == w[i].col &&
		     msg_matches(e.v[i].msg, w[i].msg) && e.v[i].file &&
		     strcmp(e.v[i].file, "t.yaml") == 0;
	if (!ok) {
		print_message("rc=%s, %zu errors, wanted %zu:\n", bot_err_name(rc), e.n, n);
		dump_errs(&e);
		for (size_t i = 0; i < n; i++)
			print_message("  want %d:%d: %s\n", w[i].line, w[i].col, w[i].msg);
		config_errors_free(&e);
		fail_msg("errors differ");
	}
	config_errors_free(&e);
}

#define LOAD_BAD(yaml, flags, ...) \
	do { \
		const struct want w_[] = {__VA_ARGS__}; \
		load_bad(yaml, flags, w_, BOT_ARRAY_LEN(w_)); \
	} while (0)

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/config_test_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void remove_temp(char *path)
{
	unlink(path);
	free(path);
}

/* ------------------------------------------------------------------ */

static void test_good_full_file(void **state)
{
	char path[1024];
	char *tok = write_temp(BOT_TOKEN "\n\n");
	struct config *c = NULL;
	struct config_errors e = {0};
	const struct config_service *api, *web;
	(void)state;

	setenv("CHATOPS_TEST_APP_TOKEN", APP_TOKEN, 1);
	setenv("CHATOPS_TEST_TOKEN_FILE", tok, 1);
	setenv("AWS_REGION", "ap-south-1", 1); /* the file's region wins */
	data_path(path, sizeof path, "tests/data/config/full.yaml");
	if (config_load(path, CONFIG_NEED_SLACK, &c, &e) != BOT_EOK) {
		dump_errs(&e);
		fail_msg("full.yaml did not load");
	}
	assert_int_equal(e.n, 0);
	config_errors_free(&e);
	assert_string_equal(c->path, path);
	assert_int_equal(c->refs, 1);

	assert_int_equal(c->slack.app_token.source, CONFIG_SECRET_ENV);
	assert_string_equal(c->slack.app_token.ref, "CHATOPS_TEST_APP_TOKEN");
	assert_string_equal(c->slack.app_token.value, APP_TOKEN);
	assert_int_equal(c->slack.bot_token.source, CONFIG_SECRET_FILE);
	assert_string_equal(c->slack.bot_token.ref, tok);
	assert_string_equal(c->slack.bot_token.value, BOT_TOKEN); /* trailing newlines trimmed */
	assert_string_equal(c->slack.api_url, "http://127.0.0.1:8089/api");
	assert_string_equal(c->slack.ca_file, "/etc/ssl/extra.pem");

	assert_string_equal(c->aws.region, "eu-west-2");
	assert_string_equal(c->aws.endpoint_url, "http://localhost:5000");
	assert_string_equal(c->aws.role_arn, "arn:aws:iam::123456789012:role/chatops");
	assert_string_equal(c->aws.role_session_name, "chatops.test@ci");
	assert_string_equal(c->aws.profile, "ci");

	assert_true(c->defaults.timer_ms == 15 * MIN_MS);
	assert_true(c->defaults.min_timer_ms == 2 * MIN_MS);
	assert_true(c->defaults.max_timer_ms == DAY_MS);
	assert_int_equal(c->defaults.approvers.n, 2);
	assert_string_equal(c->defaults.approvers.ids[0], "U0APPROVER1");
	assert_string_equal(c->defaults.approvers.ids[1], "W0APPROVER2");
	assert_int_equal(c->defaults.requesters.n, 1);
	assert_string_equal(c->defaults.requesters.ids[0], "*");
	assert_true(c->defaults.allow_self_approval);
	assert_int_equal(c->defaults.min_approvals, 2);
	assert_string_equal(c->defaults.channel, "C0CHATOPS1");

	/* sorted by name, whatever the file order */
	assert_int_equal(c->n_services, 2);
	assert_string_equal(c->services[0].name, "api");
	assert_string_equal(c->services[1].name, "web");

	api = config_service_find(c, "api");
	assert_ptr_equal(api, &c->services[0]);
	assert_string_equal(api->cluster, "arn:aws:ecs:eu-west-2:123456789012:cluster/prod");
	assert_string_equal(api->ecs_service, "api-v2");
	assert_int_equal(api->min_desired, 2);
	assert_int_equal(api->max_desired, 50);
	assert_int_equal(api->approvers.n, 1);
	assert_string_equal(api->approvers.ids[0], "U0LEAD1");
	assert_int_equal(api->requesters.n, 2);
	assert_string_equal(api->requesters.ids[1], "U0DEV2");
	assert_true(api->timer_ms == HOUR_MS + 30 * MIN_MS);
	assert_int_equal(api->min_approvals, 1);
	assert_false(api->allow_self_approval);
	assert_string_equal(api->sns_topic_arn, "arn:aws:sns:eu-west-2:123456789012:chatops");
	assert_string_equal(api->channel, "G0PRIVATE1");
	assert_string_equal(api->region, "eu-central-1");

	/* web inherits everything it does not set */
	web = config_service_find(c, "web");
	assert_ptr_equal(web, &c->services[1]);
	assert_string_equal(web->cluster, "prod");
	assert_string_equal(web->ecs_service, "web");
	assert_int_equal(web->min_desired, 0);
	assert_int_equal(web->max_desired, 10);
	assert_int_equal(web->approvers.n, 2);
	assert_string_equal(web->approvers.ids[1], "W0APPROVER2");
	/* shared with defaults, not copied (a copy per service is services x entries) */
	assert_ptr_equal(web->approvers.ids, c->defaults.approvers.ids);
	assert_int_equal(web->requesters.n, 1);
	assert_string_equal(web->requesters.ids[0], "*");
	assert_true(web->timer_ms == 15 * MIN_MS);
	assert_int_equal(web->min_approvals, 2);
	assert_true(web->allow_self_approval);
	assert_null(web->sns_topic_arn);
	assert_string_equal(web->channel, "C0CHATOPS1");
	assert_string_equal(web->region, "eu-west-2");

	assert_string_equal(c->store.path, "/var/lib/chatops/state.db");
	assert_string_equal(c->http.listen, "[::1]:9090");
	assert_string_equal(c->log.level, "debug");

	config_unref(c);
	remove_temp(tok);
}

static void test_defaults(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok(BASE_SERVICE, 0);
	assert_int_equal(c->slack.app_token.source, CONFIG_SECRET_ENV);
	assert_string_equal(c->slack.app_token.ref, "SLACK_APP_TOKEN");
	assert_null(c->slack.app_token.value);
	assert_string_equal(c->slack.bot_token.ref, "SLACK_BOT_TOKEN");
	assert_null(c->slack.bot_token.value);
	assert_string_equal(c->slack.api_url, "https://slack.com/api");
	assert_null(c->slack.ca_file);
	assert_string_equal(c->aws.region, "us-east-1");
	assert_null(c->aws.endpoint_url);
	assert_null(c->aws.role_arn);
	assert_string_equal(c->aws.role_session_name, "chatops-bot");
	assert_null(c->aws.profile);
	assert_true(c->defaults.timer_ms == 10 * MIN_MS);
	assert_true(c->defaults.min_timer_ms == MIN_MS);
	assert_true(c->defaults.max_timer_ms == 7 * DAY_MS);
	assert_int_equal(c->defaults.approvers.n, 0);
	assert_false(c->defaults.allow_self_approval);
	assert_int_equal(c->defaults.min_approvals, 1);
	assert_null(c->defaults.channel);
	assert_string_equal(c->services[0].ecs_service, "web");
	assert_true(c->services[0].timer_ms == 10 * MIN_MS);
	assert_int_equal(c->services[0].min_approvals, 1);
	assert_string_equal(c->services[0].region, "us-east-1");
	assert_null(c->services[0].channel);
	assert_string_equal(c->store.path, "chatops.db");
	assert_string_equal(c->store.backend, "sqlite");
	assert_null(c->http.listen);
	assert_string_equal(c->log.level, "info");
	config_unref(c);
}

static void test_region_from_env(void **state)
{
	struct config *c;
	(void)state;

	setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
	c = load_ok(BASE_SERVICE, 0);
	assert_string_equal(c->aws.region, "eu-north-1");
	assert_string_equal(c->services[0].region, "eu-north-1");
	config_unref(c);

	setenv("AWS_REGION", "sa-east-1", 1); /* AWS_REGION comes first */
	c = load_ok(BASE_SERVICE, 0);
	assert_string_equal(c->aws.region, "sa-east-1");
	config_unref(c);

	c = load_ok("aws: {region: us-west-2}\n" BASE_SERVICE, 0);
	assert_string_equal(c->aws.region, "us-west-2");
	config_unref(c);
}

static void test_empty_values_mean_unset(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok("aws:\n  endpoint_url: ${AWS_ENDPOINT_URL:-}\n  profile: \"\"\n"
		    "store:\n  path: ~\n"
		    "http:\n"
		    "defaults:\n  approvers: [U0DEF]\n  requesters: [U0REQ]\n"
		    "services:\n  web:\n    cluster: prod\n    max_desired: 5\n"
		    "    approvers:\n    channel: null\n", 0);
	assert_null(c->aws.endpoint_url);
	assert_null(c->aws.profile);
	assert_string_equal(c->store.path, "chatops.db");
	assert_null(c->http.listen);
	/* an empty approvers: inherits, like a missing one */
	assert_int_equal(c->services[0].approvers.n, 1);
	assert_string_equal(c->services[0].approvers.ids[0], "U0DEF");
	assert_null(c->services[0].channel);
	config_unref(c);
}

static void test_syntax_error(void **state)
{
	(void)state;
	LOAD_BAD("services:\n  web: [a, b\n  api: 1\n", 0,
		 {3, 6, "YAML syntax error: did not find expected ',' or ']' "
			"(while parsing a flow sequence at line 2, column 8)"});
	LOAD_BAD("services:\n  web:\n    cluster: prod\n   bad: indent\n", 0,
		 {4, 4, "YAML syntax error: "});
	LOAD_BAD("key: \"unterminated\n", 0,
		 {2, 1, "YAML syntax error: found unexpected end of stream"});
	LOAD_BAD("services:\n\tweb: 1\n", 0,
		 {2, 1, "=YAML syntax error: found character that cannot start any token (while "
			"scanning for the next token at line 2, column 1); YAML cannot indent with "
			"tabs, use spaces"});
	LOAD_BAD("log:\n  level: \xff\n", 0,
		 {2, 10, "=cannot read YAML: invalid leading UTF-8 octet (the file must be UTF-8 "
			 "text)"});
}

static void test_wrong_kind(void **state)
{
	(void)state;
	LOAD_BAD("services:\n  web:\n    cluster: [a, b]\n    max_desired: {n: 1}\n"
		 "    approvers: U0AAA\n    requesters: ['*']\n", 0,
		 {3, 14, "=services.web.cluster: expected a string, got a list"},
		 {4, 18, "=services.web.max_desired: expected an integer, got a mapping"},
		 {5, 16, "=services.web.approvers: expected a list of Slack user ids like "
			 "[U0123ABCD], got a string"});
	LOAD_BAD("- a\n- b\n", 0,
		 {1, 1, "=top level: expected a mapping of sections (slack, aws, defaults, "
			"services, store, http, log, limits, alarms), got a list"});
	LOAD_BAD("slack: []\nservices: 5\n", 0,
		 {1, 8, "=slack: expected a mapping of Slack settings, got a list"},
		 {2, 11, "=services: expected a mapping of service name to settings, got a string"});
	LOAD_BAD("services:\n  web:\n", 0,
		 {2, 7, "=services.web: expected a mapping of service settings (at least cluster "
			"and max_desired), got an empty value"});
	LOAD_BAD("? [a]\n: 1\n" BASE_SERVICE, 0,
		 {1, 3, "=top level: expected a key name, got a list"});
}

static void test_out_of_range(void **state)
{
	(void)state;
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    max_desired: ten\n"
		 "    min_desired: -1\n    approvers: [U0AAA]\n    requesters: ['*']\n"
		 "    min_approvals: 0\n    allow_self_approval: maybe\n", 0,
		 {4, 18, "=services.web.max_desired: expected an integer between 0 and 10000, "
			 "got \"ten\""},
		 {5, 18, "=services.web.min_desired: expected an integer between 0 and 10000, "
			 "got \"-1\""},
		 {8, 20, "=services.web.min_approvals: expected an integer between 1 and 100, "
			 "got \"0\""},
		 {9, 26, "=services.web.allow_self_approval: expected true or false, got \"maybe\""});
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    max_desired: 10001\n"
		 "    approvers: [U0AAA]\n    requesters: ['*']\n", 0,
		 {4, 18, "between 0 and 10000, got \"10001\""});
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    min_desired: 4\n    max_desired: 3\n"
		 "    approvers: [U0AAA]\n    requesters: ['*']\n", 0,
		 {5, 18, "=services.web.max_desired: must be at least min_desired (4), got 3"});
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    max_desired: 3\n"
		 "    approvers: [U0AAA]\n    requesters: ['*']\n"
		 "limits:\n  user_commands_per_minute: -1\n", 0,
		 {8, 29, "=limits.user_commands_per_minute: expected an integer between 0 and "
			 "10000, got \"-1\""});
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    max_desired: 3\n"
		 "    approvers: [U0AAA]\n    requesters: ['*']\n"
		 "limits:\n  read_window: 10m\n", 0,
		 {8, 16, "=limits.read_window: must be at most 300s"});
}

static void test_unknown_key_with_suggestion(void **state)
{
	(void)state;
	LOAD_BAD("services:\n  web:\n    cluster: prod\n    max_desired: 5\n"
		 "    aprovers: [U0AAA]\n    approvers: [U0AAA]\n    requesters: ['*']\n"
		 "    colour: blue\n", 0,
		 {5, 5, "=unknown key 'aprovers' in services.web (did you mean 'approvers'?); "
			"expected one of: cluster, ecs_service, min_desired, max_desired, approvers, "
			"requesters, timer, min_approvals, allow_self_approval, sns_topic_arn, "
			"channel, ..."},
		 {8, 5, "unknown key 'colour' in services.web; expected one of: cluster,"});
	/* Forbidden keys are not suggested or listed. */
	LOAD_BAD("servics: {}\nslack:\n  bot_tokn_env: X\n" BASE_SERVICE, 0,
		 {1, 1, "=unknown key 'servics' at the top level (did you mean 'services'?); "
			"expected one of: slack, aws, defaults, services, store, http, log, limits, alarms"},
		 {3, 3, "=unknown key 'bot_tokn_env' in slack (did you mean 'bot_token_env'?); "
			"expected one of: app_token_env, app_token_file, bot_token_env, "
			"bot_token_file, api_url, ca_file, app_id, allowed_channels, "
			"allow_external_users"});
}

static void test_duplicate_key(void **state)
{
	(void)state;
	LOAD_BAD("log:\n  level: info\n" BASE_SERVICE "log:\n  level: debug\n", 0,
		 {9, 1, "=log: duplicate key (first given at line 1)"});
	LOAD_BAD(BASE_SERVICE "    max_desired: 6\n", 0,
		 {7, 5, "=services.web.max_desired: duplicate key (first given at line 4)"});
	LOAD_BAD(BASE_SERVICE "  web:\n    cluster: x\n    max_desired: 1\n", 0,
		 {7, 3, "=services.web: service defined twice (first at line 2)"});
}

static void test_missing_required(void **state)
{
	(void)state;
	LOAD_BAD("defaults:\n  approvers: [U0AAA]\n  requesters: ['*']\n"
		 "services:\n  web:\n    ecs_service: w\n  api:\n    cluster: c\n", 0,
		 {5, 3, "=services.web: missing required key 'cluster' (the ECS cluster name or ARN)"},
		 {5, 3, "=services.web: missing required key 'max_desired' (the highest desired "
			"count a request may set, 0 to 10000)"},
		 {7, 3, "services.api: missing required key 'max_desired'"});
	LOAD_BAD("log: {level: info}\n", 0,
		 {1, 1, "=services: at least one service is required (services: {NAME: {cluster: "
			"..., max_desired: ...}})"});
	LOAD_BAD("log: {level: info}\nservices: {}\n", 0,
		 {2, 1, "services: at least one service is required"});
	LOAD_BAD("", 0, {1, 1, "the file is empty"});
	LOAD_BAD("# only a comment\n", 0, {1, 1, "the file is empty"});
}

static void test_bad_user_ids(void **state)
{
	(void)state;
	LOAD_BAD("defaults:\n  approvers: [U0AAA, bob, '*', u0lower, U0AAA]\n"
		 "  requesters: ['*', C0CHAN, '']\n"
		 "services:\n  web: {cluster: c, max_desired: 1}\n", 0,
		 {2, 22, "=defaults.approvers[1]: expected a Slack user id like U0123ABCD, got \"bob\""},
		 {2, 27, "=defaults.approvers[2]: expected a Slack user id like U0123ABCD, got \"*\""},
		 {2, 32, "=defaults.approvers[3]: expected a Slack user id like U0123ABCD, got "
			 "\"u0lower\""},
		 {2, 41, "=defaults.approvers[4]: U0AAA is listed twice"},
		 {3, 21, "=defaults.requesters[1]: expected a Slack user id like U0123ABCD or \"*\" "
			 "for anyone, got \"C0CHAN\""},
		 {3, 29, "=defaults.requesters[2]: empty entry; expected a Slack user id like "
			 "U0123ABCD or \"*\" for anyone"});
	/* the shape [UW][A-Z0-9]{2,} everywhere, so nothing else reaches a message */
	LOAD_BAD("services:\n  web:\n    cluster: c\n    max_desired: 1\n"
		 "    approvers: ['<!channel>', W0ENTERPRISE1]\n    requesters: ['U0AAA|x']\n", 0,
		 {5, 17, "=services.web.approvers[0]: expected a Slack user id like U0123ABCD, got "
			 "\"<!channel>\""},
		 {6, 18, "=services.web.requesters[0]: expected a Slack user id like U0123ABCD or "
			 "\"*\" for anyone, got \"U0AAA|x\""});
	LOAD_BAD("defaults:\n  channel: '#general'\n" BASE_SERVICE, 0,
		 {2, 12, "=defaults.channel: expected a Slack channel id like C0123ABCD, got "
			 "\"#general\""});
}

static void test_bad_timer(void **state)
{
	(void)state;
	LOAD_BAD("defaults:\n  timer: 10\n  min_timer: 0s\n  max_timer: [1d]\n" BASE_SERVICE, 0,
		 {2, 10, "=defaults.timer: \"10\": a unit is required (s, m, h, d, w or ms); "
			 "expected a duration like 10m, 90s, 1h30m or ISO 8601 PT10M"},
		 {3, 14, "=defaults.min_timer: must be longer than 0s"},
		 {4, 14, "=defaults.max_timer: expected a duration like 10m, got a list"});
	LOAD_BAD(BASE_SERVICE "    timer: PT\n", 0,
		 {7, 12, "services.web.timer: \"PT\": 'T' must be followed by hours"});
}

/* The store backend is one this build has; anything else is refused at
 * load, with what is accepted. */
static void test_store_backend(void **state)
{
	struct config *c = NULL;
	struct config_errors errs = {0};
	(void)state;
	LOAD_BAD(BASE_SERVICE "store:\n  backend: postgres\n", 0,
		 {8, 12, "=store.backend: expected sqlite or dynamodb, got \"postgres\""});
	assert_int_equal(config_load_string("t.yaml", BASE_SERVICE "store:\n  backend: sqlite\n",
					    0, &c, &errs), 0);
	assert_string_equal(c->store.backend, "sqlite");
	config_unref(c);
	config_errors_free(&errs);
}

/* dynamodb: the table is required and must be a name DynamoDB accepts;
 * region defaults to aws.region; each backend's keys are refused with the
 * other, at the key, so a config cannot name a store it does not use. */
static void test_store_dynamodb(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok(BASE_SERVICE "aws:\n  region: eu-west-1\n"
		    "store:\n  backend: dynamodb\n  table: chatops-gates_1.x\n", 0);
	assert_string_equal(c->store.backend, "dynamodb");
	assert_string_equal(c->store.table, "chatops-gates_1.x");
	assert_string_equal(c->store.region, "eu-west-1");
	assert_null(c->store.endpoint);
	assert_null(c->store.path);
	config_unref(c);

	c = load_ok(BASE_SERVICE "store:\n  backend: dynamodb\n  table: gates\n"
		    "  region: us-west-2\n  endpoint: http://127.0.0.1:5055\n", 0);
	assert_string_equal(c->store.region, "us-west-2");
	assert_string_equal(c->store.endpoint, "http://127.0.0.1:5055");
	config_unref(c);

	/* SQLite: none of the DynamoDB keys, path defaulted */
	c = load_ok(BASE_SERVICE, 0);
	assert_null(c->store.table);
	assert_null(c->store.region);
	assert_string_equal(c->store.path, "chatops.db");
	config_unref(c);

	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n", 0,
		 {8, 3, "=store: missing required key 'table' (the DynamoDB table of the store, "
			"made by chatops-bot store init)"});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n  table: ab\n", 0,
		 {9, 10, "=store.table: expected a DynamoDB table name: 3 to 255 characters "
			 "from A-Z a-z 0-9 _ . -, got \"ab\""});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n  table: my/gates\n", 0,
		 {9, 10, "store.table: expected a DynamoDB table name"});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n  table: gates\n  region: EU\n", 0,
		 {10, 11, "store.region: expected an AWS region like us-east-1"});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n  table: gates\n"
		 "  endpoint: http://example.com\n", 0,
		 {10, 13, "store.endpoint:"});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: dynamodb\n  table: gates\n  path: x.db\n", 0,
		 {10, 3, "=store.path: is for backend: sqlite (the DynamoDB store is store.table; "
			 "remove path)"});
	LOAD_BAD(BASE_SERVICE "store:\n  table: gates\n  region: us-east-1\n", 0,
		 {8, 3, "=store.table: only with backend: dynamodb (the backend is sqlite)"},
		 {9, 3, "=store.region: only with backend: dynamodb (the backend is sqlite)"});
	LOAD_BAD(BASE_SERVICE "store:\n  backend: sqlite\n  endpoint: https://ddb.example\n", 0,
		 {9, 3, "=store.endpoint: only with backend: dynamodb (the backend is sqlite)"});
}

static void test_timer_out_of_bounds(void **state)
{
	(void)state;
	LOAD_BAD(BASE_SERVICE "    timer: 8d\n", 0,
		 {7, 12, "=services.web.timer: 8d is outside the allowed range 1m to 7d "
			 "(defaults.min_timer and defaults.max_timer)"});
	LOAD_BAD("defaults:\n  timer: 30s\n" BASE_SERVICE, 0,
		 {2, 10, "=defaults.timer: 30s is outside the allowed range 1m to 7d "
			 "(defaults.min_timer and defaults.max_timer)"});
	/* a default timer pushed out by a new bound is reported at the bound */
	LOAD_BAD("defaults:\n  min_timer: 1h\n" BASE_SERVICE, 0,
		 {2, 14, "defaults.timer: 10m is outside the allowed range 1h to 7d"});
	LOAD_BAD("defaults:\n  min_timer: 2h\n  max_timer: 1h\n  timer: 90m\n" BASE_SERVICE, 0,
		 {3, 14, "=defaults.max_timer: 1h is shorter than defaults.min_timer (2h)"});
	/* inside the bounds is fine; the service may go to the edges */
	struct config *c = load_ok("defaults:\n  max_timer: 2h\n" BASE_SERVICE "    timer: PT2H\n", 0);
	assert_true(c->services[0].timer_ms == 2 * HOUR_MS);
	config_unref(c);
}

static void test_approver_counts(void **state)
{
	(void)state;
	LOAD_BAD("defaults:\n  min_approvals: 2\n  requesters: ['*']\n"
		 "services:\n  web:\n    cluster: c\n    max_desired: 1\n    approvers: [U0AAA]\n"
		 "  api:\n    cluster: c\n    max_desired: 1\n"
		 "    approvers: [U0AAA, U0BBB]\n    min_approvals: 3\n", 0,
		 {5, 3, "=services.web: min_approvals is 2 but only 1 approver is listed, so no "
			"request could ever be approved"},
		 {9, 3, "=services.api: min_approvals is 3 but only 2 approvers are listed, so no "
			"request could ever be approved"});
	LOAD_BAD("services:\n  web:\n    cluster: c\n    max_desired: 1\n    requesters: ['*']\n"
		 "  api:\n    cluster: c\n    max_desired: 1\n    approvers: [U0AAA]\n"
		 "    requesters: []\n", 0,
		 {2, 3, "=services.web: no approvers; add approvers here or in defaults.approvers"},
		 {6, 3, "=services.api: nobody could request this service; add requesters here or "
			"in defaults.requesters (use '*' for anyone)"});
}

static void test_several_errors_in_file_order(void **state)
{
	char path[1024];
	struct config *c = NULL;
	struct config_errors e = {0};
	static const struct want w[] = {
		{3, 3, "=slack.bot_token is not accepted: secrets never go in this file; they "
		       "come from an environment variable or a file (use bot_token_env, default "
		       "SLACK_BOT_TOKEN, or bot_token_file)"},
		{5, 10, "=defaults.timer: \"soon\": unexpected 's'; expected a duration like 10m, "
			"90s, 1h30m or ISO 8601 PT10M"},
		{7, 27, "defaults.requesters[1]: expected a Slack user id"},
		{8, 3, "unknown key 'aprovers' in defaults (did you mean 'approvers'?)"},
		{10, 3, "services.web: min_approvals is 3 but only 2 approvers are listed"},
		{12, 18, "services.web.max_desired: expected an integer between 0 and 10000, "
			 "got \"ten\""},
		{14, 3, "services.api: missing required key 'cluster'"},
		{16, 5, "services.api.max_desired: duplicate key (first given at line 15)"},
		{18, 10, "log.level: expected one of debug, info, warn, error, got \"loud\""},
	};
	(void)state;

	data_path(path, sizeof path, "tests/data/config/errors.yaml");
	assert_int_equal(config_load(path, 0, &c, &e), BOT_ECONFIG);
	assert_null(c);
	if (e.n != BOT_ARRAY_LEN(w))
		dump_errs(&e);
	assert_int_equal(e.n, BOT_ARRAY_LEN(w));
	for (size_t i = 0; i < e.n; i++) {
		if (!msg_matches(e.v[i].msg, w[i].msg))
			fail_msg("error %zu: \"%s\" lacks \"%s\"", i, e.v[i].msg, w[i].msg);
		assert_int_equal(e.v[i].line, w[i].line);
		assert_int_equal(e.v[i].col, w[i].col);
		assert_string_equal(e.v[i].file, path);
	}
	config_errors_free(&e);
	assert_null(e.v);
	assert_int_equal(e.n, 0);
}

static void test_too_many_errors(void **state)
{
	char *yaml = malloc(64 * 150 + 256);
	size_t o = 0;
	struct config *c = NULL;
	struct config_errors e = {0};
	(void)state;

	assert_non_null(yaml);
	o += (size_t)sprintf(yaml + o, "%s", BASE_SERVICE);
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(yaml + o, "    bogus%d: 1\n", i);
	assert_int_equal(config_load_string("t.yaml", yaml, 0, &c, &e), BOT_ECONFIG);
	assert_int_equal(e.n, 100);
	assert_int_equal(e.v[0].line, 7);
	assert_string_equal(e.v[99].msg, "... and 51 more problems not shown");
	assert_int_equal(e.v[99].line, 0);
	config_errors_free(&e);
	free(yaml);
}

static void test_env_expansion(void **state)
{
	struct config *c;
	(void)state;

	setenv("CT_VAR", "prod", 1);
	setenv("CT_EMPTY", "", 1);
	setenv("CT_MAX", "42", 1);
	c = load_ok("aws:\n  profile: a$$b-${CT_VAR}-$x\n"
		    "  role_session_name: \"${CT_UNSET:-fallback}.${CT_EMPTY:-e}${CT_EMPTY}\"\n"
		    "defaults:\n  approvers: [\"U0${CT_UNSET:-ABC}\"]\n"
		    "services:\n  web:\n    cluster: ${CT_VAR}-cluster\n    max_desired: ${CT_MAX}\n"
		    "    requesters: ['${CT_UNSET:-*}']\n"
		    "    ecs_service: '${CT_VAR:-}'\n", 0);
	assert_string_equal(c->aws.profile, "a$b-prod-$x");
	assert_string_equal(c->aws.role_session_name, "fallback.e");
	assert_string_equal(c->defaults.approvers.ids[0], "U0ABC");
	assert_string_equal(c->services[0].cluster, "prod-cluster");
	assert_int_equal(c->services[0].max_desired, 42);
	assert_string_equal(c->services[0].requesters.ids[0], "*");
	assert_string_equal(c->services[0].ecs_service, "prod");
	config_unref(c);
}

static void test_env_expansion_errors(void **state)
{
	(void)state;
	setenv("CT_MAX", "ten", 1);
	LOAD_BAD("aws:\n  profile: x-${CT_UNSET}\n  region: '${CT_VAR'\n  role_arn: ${}\n"
		 "  endpoint_url: ${1X}\n" BASE_SERVICE "    min_desired: ${CT_MAX}\n", 0,
		 {2, 12, "=aws.profile: environment variable CT_UNSET is not set (write "
			 "${CT_UNSET:-default} to give a default)"},
		 {3, 11, "=aws.region: malformed \"${\": expected ${NAME} or ${NAME:-default} "
			 "(write $$ for a literal $)"},
		 {4, 13, "aws.role_arn: malformed \"${\""},
		 {5, 17, "aws.endpoint_url: malformed \"${\""},
		 /* expansion happens before validation; the value is not echoed */
		 {12, 18, "=services.web.min_desired: expected an integer between 0 and 10000, "
			  "got a value from ${CT_MAX} (not shown)"});
	/* keys are not expanded */
	LOAD_BAD("${CT_VAR}: 1\n" BASE_SERVICE, 0, {1, 1, "unknown key '${CT_VAR}'"});
}

/* A value taken from the environment is never echoed in an error: the
 * message names the variable instead (issue 10: region:
 * ${AWS_SECRET_ACCESS_KEY} printed the secret). */
static void test_env_values_not_echoed(void **state)
{
	static const char secret[] = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY";
	struct config *c = NULL;
	struct config_errors e = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	(void)state;

	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	setenv("CT_SECRET", secret, 1);
	LOAD_BAD("aws:\n  region: ${AWS_SECRET_ACCESS_KEY}\n"
		 "  role_arn: x-${CT_SECRET}\n"
		 "defaults:\n  timer: ${CT_SECRET}\n  allow_self_approval: ${CT_SECRET}\n"
		 "  approvers: [U0AAA, '${CT_SECRET}']\n  requesters: ['*']\n"
		 "services:\n  web:\n    cluster: c\n    max_desired: ${CT_SECRET}\n", 0,
		 {2, 11, "=aws.region: expected an AWS region like us-east-1, got a value from "
			 "${AWS_SECRET_ACCESS_KEY} (not shown)"},
		 {3, 13, "=aws.role_arn: expected an IAM role ARN starting with arn:, got a value "
			 "from ${CT_SECRET} (not shown)"},
		 {5, 10, "=defaults.timer: expected a duration like 10m or PT10M, got a value from "
			 "${CT_SECRET} (not shown)"},
		 {6, 24, "=defaults.allow_self_approval: expected true or false, got a value from "
			 "${CT_SECRET} (not shown)"},
		 {7, 22, "=defaults.approvers[1]: expected a Slack user id like U0123ABCD, got a "
			 "value from ${CT_SECRET} (not shown)"},
		 {12, 18, "=services.web.max_desired: expected an integer between 0 and 10000, got "
			  "a value from ${CT_SECRET} (not shown)"});

	/* a valid-looking id from the environment, listed twice */
	setenv("CT_SECRET", "U0SECRETID", 1);
	LOAD_BAD("defaults:\n  approvers: [U0SECRETID, '${CT_SECRET}']\n" BASE_SERVICE, 0,
		 {2, 27, "=defaults.approvers[1]: a value from ${CT_SECRET} (not shown) is listed "
			 "twice"});

	/* a token file path or variable name taken from the environment */
	setenv("CT_SECRET", secret, 1);
	LOAD_BAD("slack:\n  app_token_file: /nonexistent/${CT_SECRET}\n"
		 "  bot_token_env: ${CT_SECRET}\n" BASE_SERVICE, CONFIG_NEED_SLACK,
		 {2, 19, "=slack.app_token_file: (the path in ${CT_SECRET}): cannot open: No such "
			 "file or directory"},
		 {3, 18, "=slack.bot_token: environment variable (the name in ${CT_SECRET}) is "
			 "not set or empty (set it, or name a file with slack.bot_token_file)"});

	/* and nothing of it reaches the printed form */
	assert_int_equal(config_load_string("t.yaml", "aws:\n  region: ${AWS_SECRET_ACCESS_KEY}\n"
					    BASE_SERVICE, 0, &c, &e), BOT_ECONFIG);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_errors_print(&e, f);
	fclose(f);
	assert_non_null(strstr(out, "${AWS_SECRET_ACCESS_KEY}"));
	assert_null(strstr(out, "wJalr"));
	free(out);
	config_errors_free(&e);
}

static void test_secret_from_env_is_redacted(void **state)
{
	struct config *c;
	(void)state;

	setenv("SLACK_APP_TOKEN", APP_TOKEN, 1);
	setenv("MY_BOT_TOKEN", BOT_TOKEN, 1);
	c = load_ok("slack:\n  bot_token_env: MY_BOT_TOKEN\n" BASE_SERVICE, CONFIG_NEED_SLACK);
	assert_string_equal(c->slack.app_token.value, APP_TOKEN);
	assert_string_equal(c->slack.bot_token.ref, "MY_BOT_TOKEN");
	assert_string_equal(c->slack.bot_token.value, BOT_TOKEN);
	/* Registered with the redactor: caught even where the token shape rule
	 * would not fire (glued to a preceding letter). */
	log_info("t", "v=Z%s w=Z%s", c->slack.bot_token.value, c->slack.app_token.value);
	assert_non_null(strstr(captured, "v=Z[REDACTED] w=Z[REDACTED]"));
	assert_null(strstr(captured, "1111-2222"));
	assert_null(strstr(captured, "cafebabe"));
	config_unref(c);
	unsetenv("MY_BOT_TOKEN");
}

static void test_secret_from_file(void **state)
{
	char yaml[512];
	char *app = write_temp(APP_TOKEN "  \r\n");
	char *bot = write_temp(BOT_TOKEN "\n");
	struct config *c;
	(void)state;

	snprintf(yaml, sizeof yaml, "slack:\n  app_token_file: %s\n  bot_token_file: '%s'\n"
		 BASE_SERVICE, app, bot);
	c = load_ok(yaml, CONFIG_NEED_SLACK);
	assert_int_equal(c->slack.app_token.source, CONFIG_SECRET_FILE);
	assert_string_equal(c->slack.app_token.ref, app);
	assert_string_equal(c->slack.app_token.value, APP_TOKEN);
	assert_string_equal(c->slack.bot_token.value, BOT_TOKEN);
	log_info("t", "v=Z%s", c->slack.bot_token.value);
	assert_non_null(strstr(captured, "v=Z[REDACTED]"));
	config_unref(c);
	remove_temp(app);
	remove_temp(bot);
}

static void test_missing_secret_with_need_slack(void **state)
{
	struct config *c;
	(void)state;

	LOAD_BAD(BASE_SERVICE, CONFIG_NEED_SLACK,
		 {0, 0, "=slack.app_token: environment variable SLACK_APP_TOKEN is not set or "
			"empty (set it, or name a file with slack.app_token_file)"},
		 {0, 0, "=slack.bot_token: environment variable SLACK_BOT_TOKEN is not set or "
			"empty (set it, or name a file with slack.bot_token_file)"});
	setenv("SLACK_APP_TOKEN", "", 1); /* empty counts as missing */
	setenv("SLACK_BOT_TOKEN", BOT_TOKEN, 1);
	LOAD_BAD("slack:\n  api_url: http://127.0.0.1:1\n" BASE_SERVICE, CONFIG_NEED_SLACK,
		 {1, 1, "slack.app_token: environment variable SLACK_APP_TOKEN is not set"});
	LOAD_BAD("slack:\n  app_token_file: /nonexistent/app.token\n" BASE_SERVICE,
		 CONFIG_NEED_SLACK,
		 {2, 19, "=slack.app_token_file: /nonexistent/app.token: cannot open: No such file "
			 "or directory"});
	char *empty = write_temp("\n \n");
	char yaml[512];
	snprintf(yaml, sizeof yaml, "slack:\n  app_token_file: %s\n" BASE_SERVICE, empty);
	LOAD_BAD(yaml, CONFIG_NEED_SLACK, {2, 19, ": the token is empty (only the first line is read)"});
	remove_temp(empty);

	/* without the flag, absence is fine */
	unsetenv("SLACK_BOT_TOKEN");
	c = load_ok("slack:\n  app_token_file: /nonexistent/app.token\n" BASE_SERVICE, 0);
	assert_null(c->slack.app_token.value);
	assert_null(c->slack.bot_token.value);
	config_unref(c);
}

static void test_token_shape(void **state)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	(void)state;

	setenv("SLACK_APP_TOKEN", BOT_TOKEN, 1);   /* swapped by mistake */
	setenv("SLACK_BOT_TOKEN", "hunter2-password", 1);
	assert_int_equal(config_load_string("t.yaml", "slack: {}\n" BASE_SERVICE, 0, &c, &e),
			 BOT_ECONFIG);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.v[0].msg, "slack.app_token: SLACK_APP_TOKEN does not look like an "
			    "app-level token (it should start with \"xapp\" and a dash)");
	assert_string_equal(e.v[1].msg, "slack.bot_token: SLACK_BOT_TOKEN does not look like a bot "
			    "token (it should start with \"xoxb\" and a dash)");
	assert_int_equal(e.v[0].line, 1);
	assert_int_equal(e.v[0].col, 1);

	/* printed, the hint survives redaction and no value appears */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_errors_print(&e, f);
	fclose(f);
	assert_non_null(strstr(out, "t.yaml:1:1: slack.app_token: SLACK_APP_TOKEN does not look "
			       "like an app-level token (it should start with \"xapp\" and a dash)\n"));
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "1111-2222"));
	assert_null(strstr(out, "[REDACTED]"));
	free(out);
	config_errors_free(&e);

	/* the wrong value was still registered as a secret */
	log_info("t", "v=%s", "hunter2-password");
	assert_non_null(strstr(captured, "v=[REDACTED]"));
}

static void test_literal_token_rejected(void **state)
{
	struct config_errors e = {0};
	struct config *c = NULL;
	(void)state;

	LOAD_BAD("slack:\n  app_token: " APP_TOKEN "\n" BASE_SERVICE, 0,
		 {2, 3, "=slack.app_token is not accepted: secrets never go in this file; they come "
			"from an environment variable or a file (use app_token_env, default "
			"SLACK_APP_TOKEN, or app_token_file)"});
	/* a token pasted where a variable name goes is refused without echoing it */
	assert_int_equal(config_load_string("t.yaml", "slack:\n  bot_token_env: " BOT_TOKEN "\n"
					    BASE_SERVICE, 0, &c, &e), BOT_ECONFIG);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].msg, "slack.bot_token_env: expected the name of an environment "
			    "variable (like MY_TOKEN), not the token itself");
	assert_null(strstr(e.v[0].msg, "1111"));
	config_errors_free(&e);
}

static void test_env_and_file_both_given(void **state)
{
	(void)state;
	LOAD_BAD("slack:\n  bot_token_env: A\n  bot_token_file: /x\n" BASE_SERVICE, 0,
		 {3, 3, "=slack.bot_token_file: both slack.bot_token_env and slack.bot_token_file "
			"are given; use one"});
}

static void test_api_url_env_override(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok("slack:\n  api_url: https://file.example/api\n" BASE_SERVICE, 0);
	assert_string_equal(c->slack.api_url, "https://file.example/api");
	config_unref(c);
	setenv("SLACK_API_URL", "http://127.0.0.1:9999/api", 1);
	c = load_ok("slack:\n  api_url: https://file.example/api\n" BASE_SERVICE, 0);
	assert_string_equal(c->slack.api_url, "http://127.0.0.1:9999/api");
	config_unref(c);
	setenv("SLACK_API_URL", "ftp://nope", 1);
	LOAD_BAD(BASE_SERVICE, 0,
		 {0, 0, "=environment variable SLACK_API_URL: expected an https:// URL (or http:// "
			"to a loopback host)"});
}

/* http:// is for loopback hosts only, in the file and in SLACK_API_URL, in
 * the words of the ws:// rule (bot/base/url.h): tokens and signed requests would
 * otherwise cross the network in clear text. */
static void test_http_refused_off_loopback(void **state)
{
	struct config *c;
	(void)state;

	LOAD_BAD("slack:\n  api_url: http://slack.example.com/api\n"
		 "aws:\n  endpoint_url: http://moto.internal:5000\n" BASE_SERVICE, 0,
		 {2, 12, "=slack.api_url: http:// (no TLS) is allowed to loopback hosts only; use "
			 "https://, got \"http://slack.example.com/api\""},
		 {4, 17, "=aws.endpoint_url: http:// (no TLS) is allowed to loopback hosts only; "
			 "use https://, got \"http://moto.internal:5000\""});
	/* the host is the one curl would connect to, not the user part */
	LOAD_BAD("aws:\n  endpoint_url: http://127.0.0.1:80@evil.example/\n" BASE_SERVICE, 0,
		 {2, 17, "aws.endpoint_url: http:// (no TLS) is allowed to loopback hosts only"});
	setenv("SLACK_API_URL", "http://203.0.113.7/api", 1);
	LOAD_BAD(BASE_SERVICE, 0,
		 {0, 0, "=environment variable SLACK_API_URL: http:// (no TLS) is allowed to "
			"loopback hosts only; use https://"});

	setenv("SLACK_API_URL", "http://[::1]:8089/api", 1);
	c = load_ok("aws:\n  endpoint_url: http://localhost:5000\n"
		    "slack:\n  api_url: https://slack.example.com/api\n" BASE_SERVICE, 0);
	assert_string_equal(c->slack.api_url, "http://[::1]:8089/api");
	assert_string_equal(c->aws.endpoint_url, "http://localhost:5000");
	config_unref(c);
}

/* slack.app_id, slack.allowed_channels and slack.allow_external_users:
 * parsed, defaulted and checked for Slack's id shapes. */
static void test_slack_identity_keys(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok(BASE_SERVICE, 0);
	assert_null(c->slack.app_id);
	assert_int_equal(c->slack.allowed_channels.n, 0);
	assert_false(c->slack.allow_external_users);
	assert_true(config_channel_allowed(c, "C0ANY"));   /* no list: every channel */
	config_unref(c);

	c = load_ok("slack:\n  app_id: A0123ABCD\n  allowed_channels: [C0OPS1, G0PRIV2, D0DM3]\n"
		    "  allow_external_users: true\n" BASE_SERVICE, 0);
	assert_string_equal(c->slack.app_id, "A0123ABCD");
	assert_int_equal(c->slack.allowed_channels.n, 3);
	assert_string_equal(c->slack.allowed_channels.ids[1], "G0PRIV2");
	assert_true(c->slack.allow_external_users);
	assert_true(config_channel_allowed(c, "C0OPS1"));
	assert_true(config_channel_allowed(c, "D0DM3"));
	assert_false(config_channel_allowed(c, "C0OTHER"));
	assert_false(config_channel_allowed(c, NULL));
	config_unref(c);

	c = load_ok("slack:\n  allowed_channels: []\n  allow_external_users: no\n" BASE_SERVICE, 0);
	assert_int_equal(c->slack.allowed_channels.n, 0);
	assert_true(config_channel_allowed(c, "C0ANY"));   /* empty list: every channel */
	assert_false(c->slack.allow_external_users);
	config_unref(c);

	LOAD_BAD("slack:\n  app_id: B0123ABCD\n"
		 "  allowed_channels: [C0OPS1, U0USER1, '#ops', C0OPS1, c0lower]\n"
		 "  allow_external_users: sometimes\n" BASE_SERVICE, 0,
		 {2, 11, "=slack.app_id: expected a Slack app id like A0123ABCD, got \"B0123ABCD\""},
		 {3, 30, "=slack.allowed_channels[1]: expected a Slack channel id like C0123ABCD, "
			 "got \"U0USER1\""},
		 {3, 39, "=slack.allowed_channels[2]: expected a Slack channel id like C0123ABCD, "
			 "got \"#ops\""},
		 {3, 47, "=slack.allowed_channels[3]: C0OPS1 is listed twice"},
		 {3, 55, "=slack.allowed_channels[4]: expected a Slack channel id like C0123ABCD, "
			 "got \"c0lower\""},
		 {4, 25, "=slack.allow_external_users: expected true or false, got \"sometimes\""});
	LOAD_BAD("slack:\n  app_id: A0\n  allowed_channels: C0OPS1\n" BASE_SERVICE, 0,
		 {2, 11, "=slack.app_id: expected a Slack app id like A0123ABCD, got \"A0\""},
		 {3, 21, "=slack.allowed_channels: expected a list of Slack channel ids like "
			 "[C0123ABCD], got a string"});
}

static void test_string_validators(void **state)
{
	(void)state;
	LOAD_BAD("aws:\n  endpoint_url: localhost:5000\n  role_arn: role/x\n"
		 "  role_session_name: a\n  region: US-EAST-1\n"
		 "http:\n  listen: '9090'\nlog:\n  level: loud\n"
		 "slack:\n  api_url: slack.com\n"
		 "services:\n  'bad name!':\n    cluster: c\n"
		 "  web:\n    cluster: c\n    max_desired: 1\n    approvers: [U0AAA]\n"
		 "    requesters: ['*']\n    sns_topic_arn: topic\n", 0,
		 {2, 17, "=aws.endpoint_url: expected an https:// URL (or http:// to a loopback "
			 "host), got \"localhost:5000\""},
		 {3, 13, "=aws.role_arn: expected an IAM role ARN starting with arn:, got \"role/x\""},
		 {4, 22, "aws.role_session_name: expected 2 to 64 characters"},
		 {5, 11, "=aws.region: expected an AWS region like us-east-1, got \"US-EAST-1\""},
		 {7, 11, "=http.listen: expected host:port with a port from 1 to 65535, like "
			 "127.0.0.1:9090, got \"9090\""},
		 {9, 10, "log.level: expected one of debug, info, warn, error"},
		 {11, 12, "=slack.api_url: expected an https:// URL (or http:// to a loopback "
			  "host), got \"slack.com\""},
		 {13, 3, "=services: invalid service name \"bad name!\": expected letters, digits, "
			 "'_', '.' and '-', starting with a letter or digit (at most 255)"},
		 {20, 20, "=services.web.sns_topic_arn: expected an SNS topic ARN starting with "
			  "arn:, got \"topic\""});
	LOAD_BAD("http:\n  listen: 0.0.0.0:70000\n" BASE_SERVICE, 0, {2, 11, "http.listen:"});
	LOAD_BAD("http:\n  listen: ':80'\n" BASE_SERVICE, 0, {2, 11, "http.listen:"});
	struct config *c = load_ok("http:\n  listen: 0.0.0.0:65535\n" BASE_SERVICE, 0);
	assert_string_equal(c->http.listen, "0.0.0.0:65535");
	config_unref(c);
}

static void test_only_one_document(void **state)
{
	(void)state;
	LOAD_BAD(BASE_SERVICE "---\nlog: {level: info}\n", 0,
		 {8, 1, "=only one YAML document is allowed; remove the second '---'"});
}

static void test_load_file_errors(void **state)
{
	struct config *c = (struct config *)&c;
	struct config_errors e = {0};
	char *big, *path;
	(void)state;

	assert_int_equal(config_load("/nonexistent/chatops.yaml", 0, &c, &e), BOT_EIO);
	assert_null(c);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].msg, "cannot open: No such file or directory");
	assert_string_equal(e.v[0].file, "/nonexistent/chatops.yaml");
	assert_int_equal(e.v[0].line, 0);
	config_errors_free(&e);

	assert_int_equal(config_load("/tmp", 0, &c, &e), BOT_ECONFIG);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].msg, "not a regular file (it is a directory)");
	config_errors_free(&e);

	big = malloc(128 * 1024 + 2);
	assert_non_null(big);
	memset(big, '#', 128 * 1024 + 1);
	big[128 * 1024 + 1] = '\0';
	path = write_temp(big);
	free(big);
	assert_int_equal(config_load(path, 0, &c, &e), BOT_ECONFIG);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].msg, "larger than 128 KiB"));
	config_errors_free(&e);
	remove_temp(path);

	/* errs may be NULL: the result code alone */
	assert_int_equal(config_load("/nonexistent/x.yaml", 0, &c, NULL), BOT_EIO);
	assert_int_equal(config_load_string("t", "services: 1\n", 0, &c, NULL), BOT_ECONFIG);
	assert_null(c);
}

/* A temporary directory for files that mkstemp cannot make (FIFOs, links). */
static void temp_dir(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/config_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
}

/* Load path, which must be refused with one error whose message is want
 * ("=..." exact, else a substring). */
static void load_file_bad(const char *path, unsigned flags, int want_rc, const char *want)
{
	struct config *c = (struct config *)&c;
	struct config_errors e = {0};
	int rc = config_load(path, flags, &c, &e);

	if (rc != want_rc || e.n != 1 || !msg_matches(e.v[0].msg, want)) {
		print_message("rc=%s, %zu errors, wanted %s \"%s\":\n", bot_err_name(rc), e.n,
			      bot_err_name(want_rc), want);
		dump_errs(&e);
		config_errors_free(&e);
		fail_msg("errors differ");
	}
	assert_null(c);
	config_errors_free(&e);
}

/* Config and token files must be regular files: a FIFO is refused at once
 * (it used to block the open forever, and a SIGHUP reload with it). Links
 * to regular files are followed. alarm() turns a blocking open into a
 * failure instead of a hang. */
static void test_files_must_be_regular(void **state)
{
	char dir[64], fifo[96], link[96], yaml[256], want[160];
	char *cfg = write_temp(BASE_SERVICE);
	struct config *c;
	(void)state;

	temp_dir(dir, sizeof dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);
	load_file_bad(fifo, 0, BOT_ECONFIG, "=not a regular file (it is a FIFO)");
	assert_int_equal(symlink(fifo, link), 0);
	load_file_bad(link, 0, BOT_ECONFIG, "=not a regular file (it is a FIFO)");

	setenv("SLACK_APP_TOKEN", APP_TOKEN, 1);
	snprintf(yaml, sizeof yaml, "slack:\n  bot_token_file: %s\n" BASE_SERVICE, fifo);
	snprintf(want, sizeof want, "=slack.bot_token_file: %s: not a regular file (it is a FIFO)",
		 fifo);
	LOAD_BAD(yaml, CONFIG_NEED_SLACK, {2, 19, want});
	snprintf(yaml, sizeof yaml, "slack:\n  bot_token_file: %s\n" BASE_SERVICE, dir);
	LOAD_BAD(yaml, CONFIG_NEED_SLACK, {2, 19, ": not a regular file (it is a directory)"});
	alarm(0);

	/* a link to a regular file is fine */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(cfg, link), 0);
	assert_int_equal(config_load(link, 0, &c, NULL), BOT_EOK);
	assert_int_equal(c->n_services, 1);
	config_unref(c);

	unlink(link);
	unlink(fifo);
	rmdir(dir);
	remove_temp(cfg);
}

/* A config or token file that its group or others may write is refused,
 * as ssh refuses such keys: whoever can write it decides who approves. */
static void test_writable_files_refused(void **state)
{
	char *cfg = write_temp(BASE_SERVICE);
	char *tok = write_temp(BOT_TOKEN "\n");
	char group[256], world[256], tok_world[384], yaml[256];
	struct config *c;
	(void)state;

	/* (the messages are made first: UBSan's nonnull checks on chmod's
	 * argument make GCC think the paths may be NULL after it) */
	snprintf(group, sizeof group, "=the file is group-writable (mode 0664), so others could "
		 "change it; run chmod go-w %s", cfg);
	snprintf(world, sizeof world, "=the file is world-writable (mode 0606), so others could "
		 "change it; run chmod go-w %s", cfg);
	snprintf(tok_world, sizeof tok_world, "=slack.bot_token_file: %s: the file is "
		 "world-writable (mode 0666), so others could change it; run chmod go-w %s", tok,
		 tok);
	snprintf(yaml, sizeof yaml, "slack:\n  bot_token_file: %s\n" BASE_SERVICE, tok);

	assert_int_equal(chmod(cfg, 0664), 0);
	load_file_bad(cfg, 0, BOT_ECONFIG, group);
	assert_int_equal(chmod(cfg, 0606), 0);
	load_file_bad(cfg, 0, BOT_ECONFIG, world);
	assert_int_equal(chmod(cfg, 0644), 0); /* readable by others is their business */
	assert_int_equal(config_load(cfg, 0, &c, NULL), BOT_EOK);
	config_unref(c);

	setenv("SLACK_APP_TOKEN", APP_TOKEN, 1);
	assert_int_equal(chmod(tok, 0666), 0);
	LOAD_BAD(yaml, CONFIG_NEED_SLACK, {2, 19, tok_world});
	assert_int_equal(chmod(tok, 0640), 0);
	c = load_ok(yaml, CONFIG_NEED_SLACK);
	assert_string_equal(c->slack.bot_token.value, BOT_TOKEN);
	config_unref(c);

	remove_temp(cfg);
	remove_temp(tok);
}

/* A token file's first line is the token; inside the token, whitespace and
 * control characters are refused at load (a second line used to become part
 * of the token, which then failed every Web API call silently). */
static void test_token_file_first_line(void **state)
{
	static const struct {
		const char *content, *value, *why;
	} cases[] = {
		{BOT_TOKEN "\n", BOT_TOKEN, NULL},
		{BOT_TOKEN, BOT_TOKEN, NULL},
		{BOT_TOKEN " \t\r\n", BOT_TOKEN, NULL},
		{BOT_TOKEN "\nxoxb-second-line\n", BOT_TOKEN, NULL},
		{BOT_TOKEN "\n\n# a comment\n", BOT_TOKEN, NULL},
		{"xoxb-1111 2222\n", NULL, "the token has a space or tab at byte 10; a token is one "
		 "word of printable ASCII (only the first line is read)"},
		{"xoxb-1111\r2222\n", NULL, "the token has a control character at byte 10"},
		{"xoxb-1111\x1b[2222\n", NULL, "the token has a control character at byte 10"},
		{"xoxb-1111\xc3\xa9\n", NULL, "the token has a non-ASCII byte at byte 10"},
		{"\n" BOT_TOKEN "\n", NULL, "the token is empty (only the first line is read)"},
	};
	char yaml[256];
	(void)state;

	setenv("SLACK_APP_TOKEN", APP_TOKEN, 1);
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		char *tok = write_temp(cases[i].content);

		snprintf(yaml, sizeof yaml, "slack:\n  bot_token_file: %s\n" BASE_SERVICE, tok);
		if (cases[i].value) {
			struct config *c = load_ok(yaml, CONFIG_NEED_SLACK);
			assert_string_equal(c->slack.bot_token.value, cases[i].value);
			config_unref(c);
		} else {
			LOAD_BAD(yaml, CONFIG_NEED_SLACK, {2, 19, cases[i].why});
		}
		remove_temp(tok);
	}
}

/* The same rule for a token from the environment, where there are no lines:
 * trailing whitespace (a newline from a secret store) is trimmed, and
 * anything else that cannot be in a token is refused, not cut. */
static void test_token_env_shape(void **state)
{
	struct config *c;
	(void)state;

	setenv("SLACK_APP_TOKEN", APP_TOKEN "\n", 1);
	setenv("SLACK_BOT_TOKEN", BOT_TOKEN, 1);
	c = load_ok(BASE_SERVICE, CONFIG_NEED_SLACK);
	assert_string_equal(c->slack.app_token.value, APP_TOKEN);
	/* registered trimmed, so the redactor finds it */
	log_info("t", "v=%s.", APP_TOKEN);
	assert_non_null(strstr(captured, "v=[REDACTED]."));
	config_unref(c);

	setenv("SLACK_BOT_TOKEN", BOT_TOKEN "\nxoxb-more", 1);
	LOAD_BAD(BASE_SERVICE, CONFIG_NEED_SLACK,
		 {0, 0, "=slack.bot_token: SLACK_BOT_TOKEN: the token has a control character at "
			"byte 28; a token is one word of printable ASCII"});
	setenv("SLACK_BOT_TOKEN", "xoxb-1111 2222", 1);
	LOAD_BAD(BASE_SERVICE, CONFIG_NEED_SLACK,
		 {0, 0, "slack.bot_token: SLACK_BOT_TOKEN: the token has a space or tab at byte "
			"10"});
}

static void test_errors_print(void **state)
{
	struct config *c = NULL;
	struct config_errors e = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	(void)state;

	setenv("SLACK_API_URL", "bad", 1);
	assert_int_equal(config_load_string("my.yaml", "log:\n  level: x\n" BASE_SERVICE, 0, &c,
					    &e), BOT_ECONFIG);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_errors_print(&e, f);
	fclose(f);
	assert_string_equal(out, "my.yaml:2:10: log.level: expected one of debug, info, warn, "
			    "error, got \"x\"\n"
			    "my.yaml: environment variable SLACK_API_URL: expected an https:// URL "
			    "(or http:// to a loopback host)\n");
	free(out);
	config_errors_free(&e);
	config_errors_free(&e); /* twice is harmless */
	config_errors_free(NULL);
}

static void test_example_yaml_loads(void **state)
{
	char path[1024];
	struct config *c = NULL;
	struct config_errors e = {0};
	const struct config_service *s;
	(void)state;

	setenv("SLACK_APP_TOKEN", APP_TOKEN, 1);
	setenv("SLACK_BOT_TOKEN", BOT_TOKEN, 1);
	data_path(path, sizeof path, "config/example.yaml");
	if (config_load(path, CONFIG_NEED_SLACK, &c, &e) != BOT_EOK)
		dump_errs(&e);
	assert_int_equal(e.n, 0);
	assert_non_null(c);
	config_errors_free(&e);
	assert_null(c->aws.endpoint_url); /* ${AWS_ENDPOINT_URL:-} is empty: unset */
	assert_int_equal(c->n_services, 1);
	s = config_service_find(c, "mysecretword-service");
	assert_non_null(s);
	assert_string_equal(s->cluster, "mysecretword-cluster");
	assert_int_equal(s->min_desired, 1);
	assert_int_equal(s->max_desired, 200);
	assert_true(s->timer_ms == 10 * MIN_MS);
	assert_true(config_users_has(&s->approvers, "U0APPROVER2", false));
	assert_true(config_users_has(&s->requesters, "U0ONCALL1", true));
	assert_string_equal(c->store.path, "chatops.db");
	assert_int_equal(s->n_actions, 3);
	assert_int_equal(config_action_find(s, "rollback")->min_approvals, 2);
	assert_int_equal(config_action_find(s, "rollback")->approvers.n, 2);
	assert_true(config_action_find(s, "restart")->timer_ms == 5 * MIN_MS);
	assert_null(s->on_alarm_action);
	assert_string_equal(c->aws.region, "us-east-1");
	assert_null(c->slack.app_id);
	assert_int_equal(c->slack.allowed_channels.n, 0);
	assert_false(c->slack.allow_external_users);
	config_unref(c);

	setenv("AWS_ENDPOINT_URL", "http://localhost:5000", 1);
	assert_int_equal(config_load(path, CONFIG_NEED_SLACK, &c, &e), BOT_EOK);
	assert_string_equal(c->aws.endpoint_url, "http://localhost:5000");
	config_unref(c);
	config_errors_free(&e);
}

static void test_ref_find_users(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok("defaults:\n  approvers: [U0AAA]\n  requesters: ['*', U0BBB]\n"
		    "services:\n  zeta: {cluster: c, max_desired: 1}\n"
		    "  alpha: {cluster: c, max_desired: 1}\n  mid.dle: {cluster: c, max_desired: 1}\n",
		    0);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(c->refs, 2);
	config_unref(c);
	assert_int_equal(c->refs, 1);
	assert_string_equal(config_service_find(c, "alpha")->name, "alpha");
	assert_string_equal(config_service_find(c, "mid.dle")->name, "mid.dle");
	assert_string_equal(config_service_find(c, "zeta")->name, "zeta");
	assert_null(config_service_find(c, "omega"));
	assert_null(config_service_find(c, NULL));
	assert_null(config_service_find(NULL, "alpha"));

	const struct config_users *r = &c->services[0].requesters;
	assert_true(config_users_has(r, "U0BBB", false));
	assert_true(config_users_has(r, "U0ZZZ", true));   /* '*' */
	assert_false(config_users_has(r, "U0ZZZ", false)); /* '*' not honoured */
	assert_false(config_users_has(&c->services[0].approvers, "U0ZZZ", true));
	assert_false(config_users_has(NULL, "U0AAA", true));
	assert_false(config_users_has(r, NULL, true));
	config_unref(c);
	config_unref(NULL);
	assert_null(config_ref(NULL));
}

static void test_bool_spellings(void **state)
{
	struct config *c;
	(void)state;

	c = load_ok("defaults:\n  allow_self_approval: Yes\n" BASE_SERVICE
		    "  api:\n    cluster: c\n    max_desired: 1\n    approvers: [U0AAA]\n"
		    "    requesters: ['*']\n    allow_self_approval: no\n", 0);
	assert_true(c->defaults.allow_self_approval);
	assert_false(config_service_find(c, "api")->allow_self_approval);
	assert_true(config_service_find(c, "web")->allow_self_approval);
	config_unref(c);
}

/* The alarm intake: off by default; its keys and bounds; which service an
 * alarm belongs to (exact name, then the longest prefix, then the ECS
 * dimensions); one alarm name under two services is refused. */
static void test_alarms(void **state)
{
	struct config *c = NULL;
	struct config_errors errs = {0};
	const char *two =
		"defaults:\n  approvers: [U0AAA]\n  requesters: ['*']\n  channel: C0ALERTS\n"
		"services:\n"
		"  web:\n    cluster: arn:aws:ecs:us-east-1:123456789012:cluster/prod\n"
		"    max_desired: 5\n    alarms: [web-cpu-high, 'web-*', 'svc-*']\n"
		"  api:\n    cluster: prod\n    ecs_service: api-svc\n    max_desired: 5\n"
		"    alarms: ['svc-api-*']\n"
		"alarms:\n  queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/alarms\n"
		"  wait_seconds: 5\n  flap_window: 10m\n";
	(void)state;

	assert_int_equal(config_load_string("t.yaml", BASE_SERVICE, 0, &c, &errs), 0);
	assert_null(c->alarms.queue_url);
	assert_int_equal(c->alarms.wait_seconds, 20);
	assert_int_equal(c->alarms.flap_window_ms, 30 * MIN_MS);
	assert_int_equal(c->alarms.reconcile_ms, 5 * MIN_MS);
	assert_null(config_service_for_alarm(c, "web-cpu-high", NULL, NULL));
	config_unref(c);
	config_errors_free(&errs);

	assert_int_equal(config_load_string("t.yaml", two, 0, &c, &errs), 0);
	assert_string_equal(c->alarms.queue_url,
			    "https://sqs.us-east-1.amazonaws.com/123456789012/alarms");
	assert_int_equal(c->alarms.wait_seconds, 5);
	assert_int_equal(c->alarms.flap_window_ms, 10 * MIN_MS);
	assert_string_equal(config_service_for_alarm(c, "web-cpu-high", NULL, NULL)->name, "web");
	assert_string_equal(config_service_for_alarm(c, "web-mem", NULL, NULL)->name, "web");
	/* the longest prefix wins over a shorter one of another service */
	assert_string_equal(config_service_for_alarm(c, "svc-api-5xx", NULL, NULL)->name, "api");
	assert_string_equal(config_service_for_alarm(c, "svc-other", NULL, NULL)->name, "web");
	/* a name listed wins over the dimensions */
	assert_string_equal(config_service_for_alarm(c, "web-x", "prod", "api-svc")->name, "web");
	/* by dimensions: the ECS service name, and the cluster by name or ARN */
	assert_string_equal(config_service_for_alarm(c, "other", "prod", "api-svc")->name, "api");
	assert_string_equal(config_service_for_alarm(c, "other", "prod", "web")->name, "web");
	assert_string_equal(config_service_for_alarm(c, "other", NULL, "web")->name, "web");
	assert_null(config_service_for_alarm(c, "other", "staging", "web"));
	assert_null(config_service_for_alarm(c, "other", "prod", "nope"));
	assert_null(config_service_for_alarm(c, "other", NULL, NULL));
	assert_null(config_service_for_alarm(c, "we", NULL, NULL));
	config_unref(c);
	config_errors_free(&errs);

	LOAD_BAD(BASE_SERVICE "alarms:\n  wait_seconds: 21\n  flap_window: 2d\n"
		 "  queue_url: http://sqs.example.com/1/q\n", 0,
		 {8, 17, "=alarms.wait_seconds: expected an integer between 1 and 20, got \"21\""},
		 {9, 16, "=alarms.flap_window: must be at most 86400s"},
		 {10, 14, "alarms.queue_url: http:// (no TLS) is allowed to loopback hosts only"});
	/* the proposal policy: off unless a target is given */
	assert_int_equal(config_load_string("t.yaml", two, 0, &c, &errs), 0);
	assert_false(config_alarm_policy_on(config_service_find(c, "web")));
	config_unref(c);
	config_errors_free(&errs);
	assert_int_equal(config_load_string("t.yaml", BASE_SERVICE "    timer: 20m\n"
					    "    on_alarm_scale_by: 1.5\n    on_alarm_cooldown: 1h\n",
					    0, &c, &errs), 0);
	const struct config_service *w = config_service_find(c, "web");
	assert_true(config_alarm_policy_on(w));
	assert_true(w->on_alarm_factor > 1.49 && w->on_alarm_factor < 1.51);
	assert_int_equal(w->on_alarm_timer_ms, 20 * MIN_MS); /* the service's timer */
	assert_int_equal(w->on_alarm_cooldown_ms, HOUR_MS);
	config_unref(c);
	config_errors_free(&errs);
	assert_int_equal(config_load_string("t.yaml", BASE_SERVICE "    on_alarm_scale_to: 4\n"
					    "    on_alarm_timer: 5m\n", 0, &c, &errs), 0);
	w = config_service_find(c, "web");
	assert_int_equal(w->on_alarm_scale_to, 4);
	assert_int_equal(w->on_alarm_timer_ms, 5 * MIN_MS);
	assert_int_equal(w->on_alarm_cooldown_ms, 30 * MIN_MS);
	config_unref(c);
	config_errors_free(&errs);
	LOAD_BAD(BASE_SERVICE "    on_alarm_scale_to: 4\n    on_alarm_scale_by: 2\n", 0,
		 {8, 24, "=services.web.on_alarm_scale_by: give on_alarm_scale_to or "
			 "on_alarm_scale_by, not both"});
	LOAD_BAD(BASE_SERVICE "    on_alarm_scale_to: 6\n", 0,
		 {7, 24, "=services.web.on_alarm_scale_to: must be between min_desired (0) and "
			 "max_desired (5), got 6"});
	LOAD_BAD(BASE_SERVICE "    on_alarm_scale_by: 0.5\n    on_alarm_timer: 1s\n", 0,
		 {7, 24, "services.web.on_alarm_scale_by: expected a factor above 1 and at most "
			 "10, like 2 or 1.5"},
		 {8, 21, "services.web.on_alarm_timer: "});
	LOAD_BAD(BASE_SERVICE "    on_alarm_cooldown: 1h\n", 0,
		 {7, 24, "=services.web: on_alarm_timer and on_alarm_cooldown need "
			 "on_alarm_action, on_alarm_scale_to or on_alarm_scale_by (the policy is off)"});

	/* posts go to the service's channel: one is needed */
	LOAD_BAD(BASE_SERVICE "alarms:\n  queue_url: https://sqs.us-east-1.amazonaws.com/1/q\n", 0,
		 {2, 3, "=services.web: alarm posts need a channel (alarms.queue_url is set); add "
			"channel here or defaults.channel"});
	LOAD_BAD("defaults:\n  approvers: [U0AAA]\n  requesters: ['*']\n"
		 "services:\n  a:\n    cluster: p\n    max_desired: 1\n    alarms: [x, 'y-*']\n"
		 "  b:\n    cluster: p\n    max_desired: 1\n    alarms: ['y-*', 'z*z', '*']\n", 0,
		 {12, 13, "=services.b.alarms[0]: already listed under services.a; an alarm belongs "
			  "to one service"},
		 {12, 21, "=services.b.alarms[1]: expected a CloudWatch alarm name (1 to 255 printable "
			  "characters), or a prefix ending in *, got \"z*z\""},
		 {12, 28, "services.b.alarms[2]: expected a CloudWatch alarm name"});
}


static void assert_users(const struct config_users *u, const char *a, const char *b)
{
	assert_int_equal(u->n, b ? 2 : 1);
	assert_string_equal(u->ids[0], a);
	if (b)
		assert_string_equal(u->ids[1], b);
}

static void test_action_kinds(void **state)
{
	size_t n = 0;
	const char *const *k = config_action_kinds(&n);
	(void)state;

	assert_int_equal(n, 3);
	assert_string_equal(k[0], "scale");
	assert_string_equal(k[1], "restart");
	assert_string_equal(k[2], "rollback");
	assert_non_null(config_action_kinds(NULL));
}

/* The list form, and no actions: = scale only, with the service's settings. */
static void test_actions_list_and_default(void **state)
{
	struct config *c = load_ok("defaults:\n  approvers: [U0AAA]\n  requesters: ['*']\n"
				   "  timer: 20m\n"
				   "services:\n  web:\n    cluster: c\n    max_desired: 5\n"
				   "    actions: [scale, restart, rollback]\n    min_approvals: 1\n"
				   "  api:\n    cluster: c\n    max_desired: 5\n    timer: 3m\n"
				   "  db:\n    cluster: c\n    max_desired: 5\n    actions: ~\n", 0);
	const struct config_service *web = config_service_find(c, "web");
	const struct config_service *api = config_service_find(c, "api");
	const struct config_action *a;
	(void)state;

	assert_int_equal(web->n_actions, 3);
	assert_string_equal(web->actions[0].kind, "scale");
	assert_string_equal(web->actions[1].kind, "restart");
	assert_string_equal(web->actions[2].kind, "rollback");
	a = config_action_find(web, "rollback");
	assert_ptr_equal(a, &web->actions[2]);
	assert_true(a->timer_ms == 20 * MIN_MS);
	assert_users(&a->approvers, "U0AAA", NULL);
	assert_users(&a->requesters, "*", NULL);
	assert_int_equal(a->min_approvals, 1);
	assert_false(a->allow_self_approval);

	assert_int_equal(api->n_actions, 1);
	a = config_action_find(api, "scale");
	assert_non_null(a);
	assert_true(a->timer_ms == 3 * MIN_MS);
	assert_users(&a->approvers, "U0AAA", NULL);
	assert_null(config_action_find(api, "restart"));
	assert_null(config_action_find(api, "rollback"));
	assert_null(config_action_find(api, "reboot"));
	assert_null(config_action_find(api, NULL));
	assert_null(config_action_find(NULL, "scale"));
	/* actions: ~ is "not given", like every empty value */
	assert_int_equal(config_service_find(c, "db")->n_actions, 1);
	assert_string_equal(config_service_find(c, "db")->actions[0].kind, "scale");
	config_unref(c);
}

/* The map form: each key overrides, the rest is the service's, which
 * is defaults:'s where the service does not say. */
static void test_actions_map_overrides(void **state)
{
	struct config *c = load_ok("defaults:\n  approvers: [U0AAA]\n  requesters: ['*']\n"
				   "  timer: 20m\n  allow_self_approval: true\n"
				   "services:\n  api:\n    cluster: c\n    max_desired: 5\n"
				   "    requesters: [U0REQ]\n"
				   "    actions:\n"
				   "      scale:\n"
				   "      restart: {timer: 5m}\n"
				   "      rollback: {approvers: [U0AAA, U0BBB], min_approvals: 2,\n"
				   "                 allow_self_approval: false, requesters: [U0OPS]}\n"
				   "  web:\n    cluster: c\n    max_desired: 5\n"
				   "    approvers: [U0WEB]\n"
				   "    actions: {scale: {}, restart: {min_approvals: 1}}\n", 0);
	const struct config_service *api = config_service_find(c, "api");
	const struct config_service *web = config_service_find(c, "web");
	const struct config_action *a;
	(void)state;

	assert_int_equal(api->n_actions, 3);
	a = config_action_find(api, "scale");
	assert_true(a->timer_ms == 20 * MIN_MS);
	assert_users(&a->approvers, "U0AAA", NULL);
	assert_users(&a->requesters, "U0REQ", NULL);
	assert_int_equal(a->min_approvals, 1);
	assert_true(a->allow_self_approval);
	a = config_action_find(api, "restart");
	assert_true(a->timer_ms == 5 * MIN_MS);
	assert_users(&a->approvers, "U0AAA", NULL);
	assert_users(&a->requesters, "U0REQ", NULL);
	assert_true(a->allow_self_approval);
	a = config_action_find(api, "rollback");
	assert_true(a->timer_ms == 20 * MIN_MS);
	assert_users(&a->approvers, "U0AAA", "U0BBB");
	assert_users(&a->requesters, "U0OPS", NULL);
	assert_int_equal(a->min_approvals, 2);
	assert_false(a->allow_self_approval);
	/* the service's own values are untouched */
	assert_users(&api->approvers, "U0AAA", NULL);
	assert_int_equal(api->min_approvals, 1);

	assert_int_equal(web->n_actions, 2);
	assert_users(&config_action_find(web, "scale")->approvers, "U0WEB", NULL);
	assert_users(&config_action_find(web, "restart")->approvers, "U0WEB", NULL);
	assert_null(config_action_find(web, "rollback"));
	config_unref(c);
}

static void test_actions_errors(void **state)
{
	(void)state;
	LOAD_BAD(BASE_SERVICE "    actions: [scale, reboot]\n", 0,
		 {7, 22, "=services.web.actions[1]: unknown action \"reboot\"; expected one of: "
			 "scale, restart, rollback"});
	LOAD_BAD(BASE_SERVICE "    actions:\n      scale:\n      reboot: {timer: 5m}\n", 0,
		 {9, 7, "=services.web.actions: unknown action \"reboot\"; expected one of: "
			"scale, restart, rollback"});
	LOAD_BAD(BASE_SERVICE "    actions: [scale, restart, scale]\n", 0,
		 {7, 31, "=services.web.actions[2]: scale is listed twice (first at line 7)"});
	LOAD_BAD(BASE_SERVICE "    actions:\n      restart:\n      restart: {timer: 5m}\n", 0,
		 {9, 7, "=services.web.actions: restart is listed twice (first at line 8)"});
	LOAD_BAD(BASE_SERVICE "    actions: []\n", 0,
		 {7, 14, "=services.web.actions: a service needs at least one action (scale, "
			 "restart, rollback); leave actions out for scale only"});
	LOAD_BAD(BASE_SERVICE "    actions: {}\n", 0,
		 {7, 14, "services.web.actions: a service needs at least one action"});
	LOAD_BAD(BASE_SERVICE "    actions: scale\n", 0,
		 {7, 14, "=services.web.actions: expected a list of actions like [scale, restart] "
			 "or a mapping of action to settings, got a string"});
	LOAD_BAD(BASE_SERVICE "    actions: [scale, [restart]]\n", 0,
		 {7, 22, "=services.web.actions[1]: expected an action name, got a list"});
	LOAD_BAD(BASE_SERVICE "    actions:\n      restart: [U0AAA]\n", 0,
		 {8, 16, "=services.web.actions.restart: expected a mapping of the action's "
			 "settings (timer, approvers, requesters, min_approvals, "
			 "allow_self_approval), or nothing for the service's, got a list"});
}

/* Per action, the keys are checked as the service's are, and so are the
 * rules across them. */
static void test_actions_override_errors(void **state)
{
	(void)state;
	LOAD_BAD(BASE_SERVICE "    actions:\n      restart: {timr: 5m}\n", 0,
		 {8, 17, "=unknown key 'timr' in services.web.actions.restart (did you mean "
			 "'timer'?); expected one of: timer, approvers, requesters, min_approvals, "
			 "allow_self_approval"});
	LOAD_BAD(BASE_SERVICE "    actions:\n      restart: {min_approvals: 0, approvers: [bob],\n"
		 "                timer: soon, allow_self_approval: maybe}\n", 0,
		 {8, 32, "=services.web.actions.restart.min_approvals: expected an integer between "
			 "1 and 100, got \"0\""},
		 {8, 47, "=services.web.actions.restart.approvers[0]: expected a Slack user id like "
			 "U0123ABCD, got \"bob\""},
		 {9, 24, "services.web.actions.restart.timer: \"soon\""},
		 {9, 51, "=services.web.actions.restart.allow_self_approval: expected true or false, "
			 "got \"maybe\""});
	/* min_approvals above the approvers: the action's own, or the service's */
	LOAD_BAD(BASE_SERVICE "    actions:\n      scale:\n      rollback: {min_approvals: 2}\n"
		 "      restart: {approvers: [U0AAA, U0BBB], min_approvals: 3}\n", 0,
		 {9, 7, "=services.web.actions.rollback: min_approvals is 2 but only 1 approver is "
			"listed, so no request could ever be approved"},
		 {10, 7, "=services.web.actions.restart: min_approvals is 3 but only 2 approvers are "
			 "listed, so no request could ever be approved"});
	LOAD_BAD(BASE_SERVICE "    min_approvals: 1\n    actions:\n      restart: {approvers: []}\n"
		 "      rollback: {requesters: []}\n", 0,
		 {9, 7, "=services.web.actions.restart: no approvers; add approvers here or in "
			"services.web"},
		 {10, 7, "=services.web.actions.rollback: nobody could request this action; add "
			 "requesters (use '*' for anyone) or leave them to services.web"});
	/* the timer bounds */
	LOAD_BAD(BASE_SERVICE "    actions:\n      restart: {timer: 30s}\n", 0,
		 {8, 24, "=services.web.actions.restart.timer: 30s is outside the allowed range 1m "
			 "to 7d (defaults.min_timer and defaults.max_timer)"});
	/* an action with enough approvers is fine under a service with too few:
	 * the service's own scale is what fails */
	LOAD_BAD(BASE_SERVICE "    min_approvals: 2\n    actions:\n"
		 "      restart: {approvers: [U0AAA, U0BBB]}\n", 0,
		 {2, 3, "=services.web: min_approvals is 2 but only 1 approver is listed, so no "
			"request could ever be approved"});
}

static void test_on_alarm_action(void **state)
{
	struct config *c;
	const struct config_service *w;
	(void)state;

	c = load_ok(BASE_SERVICE, 0);
	w = config_service_find(c, "web");
	assert_null(w->on_alarm_action);
	assert_false(config_alarm_policy_on(w));
	config_unref(c);
	c = load_ok(BASE_SERVICE "    on_alarm_scale_to: 3\n", 0);
	w = config_service_find(c, "web");
	assert_string_equal(w->on_alarm_action, "scale");
	assert_true(config_alarm_policy_on(w));
	config_unref(c);
	c = load_ok(BASE_SERVICE "    on_alarm_action: scale\n    on_alarm_scale_by: 2\n", 0);
	assert_string_equal(config_service_find(c, "web")->on_alarm_action, "scale");
	config_unref(c);
	/* restart needs no target; its timer is the action's */
	c = load_ok(BASE_SERVICE "    timer: 20m\n    actions:\n      scale:\n"
		    "      restart: {timer: 5m}\n    on_alarm_action: restart\n"
		    "    on_alarm_cooldown: 1h\n", 0);
	w = config_service_find(c, "web");
	assert_string_equal(w->on_alarm_action, "restart");
	assert_true(config_alarm_policy_on(w));
	assert_true(w->on_alarm_timer_ms == 5 * MIN_MS);
	assert_true(w->on_alarm_cooldown_ms == HOUR_MS);
	config_unref(c);

	LOAD_BAD(BASE_SERVICE "    on_alarm_action: scale\n", 0,
		 {7, 22, "=services.web.on_alarm_action: scale needs on_alarm_scale_to or "
			 "on_alarm_scale_by (the target)"});
	LOAD_BAD(BASE_SERVICE "    actions: [scale, restart]\n    on_alarm_action: restart\n"
		 "    on_alarm_scale_to: 3\n", 0,
		 {9, 24, "=services.web.on_alarm_scale_to: on_alarm_scale_* only goes with scale "
			 "(on_alarm_action is restart)"});
	LOAD_BAD(BASE_SERVICE "    actions: [scale, rollback]\n    on_alarm_scale_by: 2\n"
		 "    on_alarm_action: rollback\n", 0,
		 {8, 24, "=services.web.on_alarm_scale_by: on_alarm_scale_* only goes with scale "
			 "(on_alarm_action is rollback)"});
	LOAD_BAD(BASE_SERVICE "    on_alarm_action: rollback\n", 0,
		 {7, 22, "=services.web: the alarm policy proposes rollback, which is not in the "
			 "service's actions; add it to actions"});
	LOAD_BAD(BASE_SERVICE "    actions: [restart]\n    on_alarm_scale_to: 3\n", 0,
		 {8, 24, "=services.web: the alarm policy proposes scale, which is not in the "
			 "service's actions; add it to actions"});
	LOAD_BAD(BASE_SERVICE "    on_alarm_action: reboot\n", 0,
		 {7, 22, "=services.web.on_alarm_action: unknown action \"reboot\"; expected one of: "
			 "scale, restart, rollback"});
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_full_file),
		T(test_defaults),
		T(test_region_from_env),
		T(test_empty_values_mean_unset),
		T(test_syntax_error),
		T(test_wrong_kind),
		T(test_out_of_range),
		T(test_unknown_key_with_suggestion),
		T(test_duplicate_key),
		T(test_missing_required),
		T(test_bad_user_ids),
		T(test_bad_timer),
		T(test_store_backend),
		T(test_store_dynamodb),
		T(test_timer_out_of_bounds),
		T(test_approver_counts),
		T(test_several_errors_in_file_order),
		T(test_too_many_errors),
		T(test_env_expansion),
		T(test_env_expansion_errors),
		T(test_env_values_not_echoed),
		T(test_secret_from_env_is_redacted),
		T(test_secret_from_file),
		T(test_missing_secret_with_need_slack),
		T(test_token_shape),
		T(test_literal_token_rejected),
		T(test_env_and_file_both_given),
		T(test_api_url_env_override),
		T(test_http_refused_off_loopback),
		T(test_slack_identity_keys),
		T(test_string_validators),
		T(test_only_one_document),
		T(test_load_file_errors),
		T(test_files_must_be_regular),
		T(test_writable_files_refused),
		T(test_token_file_first_line),
		T(test_token_env_shape),
		T(test_errors_print),
		T(test_example_yaml_loads),
		T(test_ref_find_users),
		T(test_bool_spellings),
		T(test_alarms),
		T(test_action_kinds),
		T(test_actions_list_and_default),
		T(test_actions_map_overrides),
		T(test_actions_errors),
		T(test_actions_override_errors),
		T(test_on_alarm_action),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
