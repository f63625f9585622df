/* Tests for adapters/aws/creds and ini: the chain's order and its startup
 * errors (no network: sources that fetch are only created here; the
 * integration test fetches), shared-file parsing and profile lookup, the
 * container/IMDS JSON shapes, the container URI rule, the redactor
 * registration of loaded secrets, and the assume-role source driven through
 * a fake STS hook (what it asks STS for, joining, errors, cancel). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/aws/creds.h"
#include "adapters/aws/ini.h"
#include "bot/base/log.h"
#include "tests/unit/aws_env.h"

static void test_ini(void **state)
{
	struct aws_ini *ini;
	(void)state;
	const char *text =
		"# comment\n; another\n"
		"[default]\nAWS_Access_Key_ID = AKIA1 \n aws_secret_access_key=s1\n"
		"[profile dev]\nregion = eu-west-1\nregion = eu-west-2\n"
		"s3 =\n  max_concurrent_requests = 10\n  addressing_style = path\n"
		"role_arn = arn:aws:iam::1:role/r\n"
		"[services my-svcs]\necs =\n  endpoint_url = http://localhost:4566\n"
		"key outside = x\n[broken\nnot a pair\n";
	assert_int_equal(aws_ini_parse(text, strlen(text), &ini), 0);
	assert_string_equal(aws_ini_get(ini, "default", "aws_access_key_id"), "AKIA1"); /* lowered, trimmed */
	assert_string_equal(aws_ini_get(ini, "default", "aws_secret_access_key"), "s1");
	assert_string_equal(aws_ini_get(ini, "profile dev", "region"), "eu-west-2"); /* last wins */
	assert_string_equal(aws_ini_get(ini, "profile dev", "s3.max_concurrent_requests"), "10");
	assert_string_equal(aws_ini_get(ini, "profile dev", "role_arn"), "arn:aws:iam::1:role/r");
	assert_string_equal(aws_ini_get(ini, "services my-svcs", "ecs.endpoint_url"), "http://localhost:4566");
	assert_null(aws_ini_get(ini, "default", "region"));
	assert_null(aws_ini_get(ini, "nope", "region"));
	assert_true(aws_ini_has_section(ini, "profile dev"));
	assert_false(aws_ini_has_section(ini, "profile nope"));
	aws_ini_free(ini);
	/* A missing file is an empty file. */
	struct bot_error err;
	assert_int_equal(aws_ini_load("/nonexistent/x", &ini, &err), 0);
	assert_null(aws_ini_get(ini, "default", "a"));
	aws_ini_free(ini);
}

static void test_profile_lookup(void **state)
{
	struct aws_ini *cred, *conf;
	struct aws_profile p;
	(void)state;
	const char *c = "[default]\naws_access_key_id = AKIAC\naws_secret_access_key = SC\n"
			"[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = SDEV\naws_security_token = TOLD\n";
	const char *f = "[default]\nregion = us-west-2\naws_access_key_id = AKIAFROMCONFIG\n"
			"[profile dev]\nregion = eu-west-1\nrole_arn = arn:r\nsource_profile = default\n"
			"[profile only-config]\naws_access_key_id = AKIAOC\naws_secret_access_key = SOC\n";
	assert_int_equal(aws_ini_parse(c, strlen(c), &cred), 0);
	assert_int_equal(aws_ini_parse(f, strlen(f), &conf), 0);
	aws_profile_lookup(cred, conf, "default", &p);
	assert_true(p.found);
	assert_string_equal(p.access_key_id, "AKIAC"); /* credentials file wins */
	assert_string_equal(p.region, "us-west-2");
	aws_profile_lookup(cred, conf, "dev", &p);
	assert_string_equal(p.session_token, "TOLD"); /* legacy key name */
	assert_string_equal(p.role_arn, "arn:r");
	assert_string_equal(p.source_profile, "default");
	assert_string_equal(p.region, "eu-west-1");
	aws_profile_lookup(cred, conf, "only-config", &p);
	assert_true(p.found);
	assert_string_equal(p.secret_access_key, "SOC");
	aws_profile_lookup(cred, conf, "nope", &p);
	assert_false(p.found);
	assert_null(p.access_key_id);
	aws_ini_free(cred);
	aws_ini_free(conf);
}

static void test_json(void **state)
{
	struct aws_creds_owned c;
	struct bot_error err;
	(void)state;
	const char *ecs = "{\"RoleArn\":\"arn:aws:iam::1:role/task\",\"AccessKeyId\":\"ASIAECS\","
			  "\"SecretAccessKey\":\"sk\",\"Token\":\"tok==\",\"Expiration\":\"2026-11-23T21:48:34Z\"}";
	assert_int_equal(aws_creds_parse_json(ecs, strlen(ecs), &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIAECS");
	assert_string_equal(c.session_token, "tok==");
	assert_true(c.expiration == 1795470514.0);
	aws_creds_owned_clear(&c);
	assert_null(c.access_key_id);
	const char *imds = "{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-23T20:00:00Z\",\"Type\":\"AWS-HMAC\","
			   "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"sk\",\"Token\":\"\",\"Expiration\":\"2026-11-23T21:48:34Z\"}";
	assert_int_equal(aws_creds_parse_json(imds, strlen(imds), &c, &err), 0);
	assert_null(c.session_token); /* empty token = none: never send it empty */
	aws_creds_owned_clear(&c);
	const char *noexp = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}";
	assert_int_equal(aws_creds_parse_json(noexp, strlen(noexp), &c, &err), 0);
	assert_true(c.expiration == 0);
	aws_creds_owned_clear(&c);
	const char *fail = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}";
	assert_int_equal(aws_creds_parse_json(fail, strlen(fail), &c, &err), BOT_EAUTH);
	assert_non_null(strstr(err.msg, "AssumeRoleUnauthorizedAccess"));
	const char *nokey = "{\"SecretAccessKey\":\"s\"}";
	assert_int_equal(aws_creds_parse_json(nokey, strlen(nokey), &c, &err), BOT_EPARSE);
	const char *badexp = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}";
	assert_int_equal(aws_creds_parse_json(badexp, strlen(badexp), &c, &err), BOT_EPARSE);
	assert_int_equal(aws_creds_parse_json("<html>", 6, &c, &err), BOT_EPARSE);
}

static void test_full_uri(void **state)
{
	(void)state;
	assert_true(aws_creds_full_uri_allowed("https://creds.example.com/x"));
	assert_true(aws_creds_full_uri_allowed("http://127.0.0.1:8080/creds"));
	assert_true(aws_creds_full_uri_allowed("http://127.1.2.3/creds"));
	assert_true(aws_creds_full_uri_allowed("http://localhost/creds"));
	assert_true(aws_creds_full_uri_allowed("http://[::1]:9/creds"));
	assert_true(aws_creds_full_uri_allowed("http://169.254.170.2/v2/credentials/x"));
	assert_true(aws_creds_full_uri_allowed("http://169.254.170.23/v1/credentials"));
	assert_true(aws_creds_full_uri_allowed("http://[fd00:ec2::23]/v1/credentials"));
	assert_false(aws_creds_full_uri_allowed("http://192.0.2.10/creds"));
	assert_false(aws_creds_full_uri_allowed("http://evil.example.com/creds"));
	assert_false(aws_creds_full_uri_allowed("http://128.0.0.1/creds"));
	assert_false(aws_creds_full_uri_allowed("ftp://127.0.0.1/creds"));
	assert_false(aws_creds_full_uri_allowed("not a url"));
	assert_false(aws_creds_full_uri_allowed(NULL));
}

static struct aws_creds_provider *create(const struct aws_creds_opts *o, int want_rc)
{
	struct aws_creds_provider *p = NULL;
	struct bot_error err = { .msg = "" };
	int rc = aws_creds_create(NULL, NULL, o, &p, &err);
	if (rc != want_rc)
		fail_msg("aws_creds_create: %d (%s), want %d", rc, err.msg, want_rc);
	return p;
}

static void write_tmp(char *path, size_t n, const char *text)
{
	snprintf(path, n, "/tmp/chatops-creds-test.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_chain_order(void **state)
{
	struct aws_creds_provider *p;
	char cred[64], conf[64];
	(void)state;
	aws_env_clean();
	/* Nothing at all (IMDS disabled): a startup error. */
	create(NULL, BOT_ECONFIG);
	/* IMDS is the last resort. */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	p = create(NULL, 0);
	assert_string_equal(aws_creds_source(p), "imds");
	assert_null(aws_creds_cached(p)); /* fetched on first use */
	aws_creds_destroy(p);
	/* The container endpoint comes before IMDS. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
	p = create(NULL, 0);
	assert_string_equal(aws_creds_source(p), "container");
	aws_creds_destroy(p);
	/* A profile from the files comes before the container. */
	write_tmp(cred, sizeof cred, "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret-1\n"
				     "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret-1\n");
	write_tmp(conf, sizeof conf, "[profile roled]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Environment\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	p = create(NULL, 0);
	assert_string_equal(aws_creds_source(p), "profile:default");
	assert_string_equal(aws_creds_cached(p)->access_key_id, "AKIAPROFILE");
	aws_creds_destroy(p);
	setenv("AWS_PROFILE", "other", 1);
	p = create(NULL, 0);
	assert_string_equal(aws_creds_cached(p)->access_key_id, "AKIAOTHER");
	aws_creds_destroy(p);
	/* The environment comes first... */
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret-123", 1);
	setenv("AWS_SESSION_TOKEN", "env-session-token-456", 1);
	p = create(NULL, 0);
	assert_string_equal(aws_creds_source(p), "env");
	const struct aws_creds *c = aws_creds_cached(p);
	assert_string_equal(c->access_key_id, "AKIAENV");
	assert_string_equal(c->session_token, "env-session-token-456");
	assert_false(aws_creds_invalidate(p)); /* static keys do not refresh */
	assert_non_null(aws_creds_cached(p));
	/* ...and its secrets are redacted from logs. */
	char *red = log_redact("key env-secret-123 token env-session-token-456");
	assert_null(strstr(red, "env-secret-123"));
	assert_null(strstr(red, "env-session-token-456"));
	free(red);
	aws_creds_destroy(p);
	/* ...unless a profile is named explicitly (config aws.profile). */
	p = create(&(struct aws_creds_opts){ .profile = "other" }, 0);
	assert_string_equal(aws_creds_source(p), "profile:other");
	aws_creds_destroy(p);
	/* credential_source = Environment with role_arn: assume on env keys. */
	p = create(&(struct aws_creds_opts){ .profile = "roled" }, 0);
	assert_string_equal(aws_creds_source(p), "assume-role:arn:aws:iam::1:role/r(env)");
	assert_null(aws_creds_cached(p));
	aws_creds_destroy(p);
	/* The config's role_arn wraps whatever the chain found. */
	p = create(&(struct aws_creds_opts){ .role_arn = "arn:aws:iam::1:role/bot" }, 0);
	assert_string_equal(aws_creds_source(p), "assume-role:arn:aws:iam::1:role/bot(env)");
	aws_creds_destroy(p);
	/* Half an env key pair is an error, not a fall-through. */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	create(NULL, BOT_ECONFIG);
	/* A named profile that does not exist. */
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_PROFILE", "missing", 1);
	create(NULL, BOT_ECONFIG);
	/* A container URI that is neither https nor local. */
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
	create(NULL, BOT_ECONFIG);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\r\ntoken", 1);
	create(NULL, BOT_ECONFIG);
	/* Fixed credentials (tools, tests) skip the chain. */
	p = create(&(struct aws_creds_opts){ .fixed = &(struct aws_creds){ "AKIAFIX", "fixed-secret-9", NULL } }, 0);
	assert_string_equal(aws_creds_source(p), "fixed");
	assert_null(aws_creds_cached(p)->session_token);
	aws_creds_destroy(p);
	unlink(cred);
	unlink(conf);
	aws_env_clean();
}

/* A fake STS hook: records what it is asked, answers when the test says. */
struct fake_sts {
	int calls, cancels;
	char role_arn[128], session[64], external_id[64], region[32], signed_with[32];
	int duration_s;
	aws_creds_assumed_cb cb;
	void *ud;
};

static int fake_assume(void *ctx, const struct aws_creds_role *r, struct aws_creds_provider *base,
		       aws_creds_assumed_cb cb, void *ud, struct aws_call **call)
{
	struct fake_sts *f = ctx;
	const struct aws_creds *c = aws_creds_cached(base);

	f->calls++;
	snprintf(f->role_arn, sizeof f->role_arn, "%s", r->role_arn);
	snprintf(f->session, sizeof f->session, "%s", r->session_name);
	snprintf(f->external_id, sizeof f->external_id, "%s", r->external_id ? r->external_id : "-");
	snprintf(f->region, sizeof f->region, "%s", r->region ? r->region : "-");
	snprintf(f->signed_with, sizeof f->signed_with, "%s", c ? c->access_key_id : "-");
	f->duration_s = r->duration_s;
	f->cb = cb;
	f->ud = ud;
	*call = (struct aws_call *)(void *)f; /* opaque to the provider */
	return 0;
}

static void fake_cancel(struct aws_call *call)
{
	struct fake_sts *f = (struct fake_sts *)(void *)call;
	struct cloud_error e = { .code = BOT_ECANCELLED };
	aws_creds_assumed_cb cb = f->cb;

	f->cancels++;
	f->cb = NULL;
	snprintf(e.message, sizeof e.message, "cancelled");
	cb(f->ud, &e, NULL, NULL);
}

struct got {
	int calls, code;
	char akid[32], msg[512];
};

static void on_got(void *ud, const struct cloud_error *err, const struct aws_creds *c)
{
	struct got *g = ud;

	g->calls++;
	g->code = err ? err->code : 0;
	snprintf(g->akid, sizeof g->akid, "%s", c ? c->access_key_id : "-");
	snprintf(g->msg, sizeof g->msg, "%s", err ? err->message : "");
}

static bool is_redacted(const char *secret)
{
	char *r = log_redact(secret);
	bool yes = r && !strstr(r, secret);

	free(r);
	return yes;
}

static void test_assume_hook(void **state)
{
	struct fake_sts f = {0};
	struct aws_creds_sts hook = { .assume_role = fake_assume, .cancel = fake_cancel, .ctx = &f };
	struct aws_creds_provider *p = NULL;
	struct bot_error err = { .msg = "" };
	struct got g1 = {0}, g2 = {0}, g3 = {0}, g4 = {0};
	const struct aws_creds_opts o = {
		.role_arn = "arn:aws:iam::1:role/bot", .external_id = "ext-1", .duration_s = 900,
		.region = "eu-west-1",
	};
	double exp = (double)time(NULL) + 3600;
	(void)state;
	aws_env_clean();
	setenv("AWS_ACCESS_KEY_ID", "AKIABASE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "base-secret-1", 1);

	assert_int_equal(aws_creds_create(NULL, &hook, &o, &p, &err), 0);
	assert_string_equal(aws_creds_source(p), "assume-role:arn:aws:iam::1:role/bot(env)");
	assert_null(aws_creds_cached(p));
	/* One AssumeRole, signed with the base's keys; a second caller joins it. */
	assert_int_equal(aws_creds_refresh(p, on_got, &g1, NULL), 0);
	assert_int_equal(aws_creds_refresh(p, on_got, &g2, NULL), 0);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.role_arn, "arn:aws:iam::1:role/bot");
	assert_string_equal(f.session, "chatops-bot");
	assert_string_equal(f.external_id, "ext-1");
	assert_string_equal(f.region, "eu-west-1");
	assert_int_equal(f.duration_s, 900);
	assert_string_equal(f.signed_with, "AKIABASE");
	assert_int_equal(g1.calls + g2.calls, 0); /* later, not from refresh */
	f.cb(f.ud, NULL, &(struct aws_creds_owned){ "ASIAASSUMED", "assumed-secret-77",
		"assumed-session-88", exp }, "arn:aws:sts::1:assumed-role/bot/chatops-bot");
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g1.code, 0);
	assert_string_equal(g2.akid, "ASIAASSUMED");
	assert_string_equal(aws_creds_cached(p)->session_token, "assumed-session-88");
	assert_true(aws_creds_expiration(p) == exp);
	assert_int_equal(aws_creds_fetches(p), 1);
	assert_true(is_redacted("assumed-secret-77"));
	assert_true(is_redacted("assumed-session-88"));

	/* After ExpiredToken: refreshed; STS's error is passed on, named. */
	assert_true(aws_creds_invalidate(p));
	assert_null(aws_creds_cached(p));
	assert_int_equal(aws_creds_refresh(p, on_got, &g3, NULL), 0);
	assert_int_equal(f.calls, 2);
	struct cloud_error denied = { .code = BOT_EAUTH, .http_status = 403 };
	snprintf(denied.message, sizeof denied.message, "AccessDenied: not allowed");
	f.cb(f.ud, &denied, NULL, NULL);
	assert_int_equal(g3.calls, 1);
	assert_int_equal(g3.code, BOT_EAUTH);
	assert_string_equal(g3.msg, "AssumeRole arn:aws:iam::1:role/bot: AccessDenied: not allowed");

	/* Destroyed with a call in flight: the waiter is told, the call is
	 * cancelled through the hook, the provider's secrets are forgotten. */
	assert_int_equal(aws_creds_refresh(p, on_got, &g4, NULL), 0);
	assert_int_equal(f.calls, 3);
	aws_creds_destroy(p);
	assert_int_equal(g4.calls, 1);
	assert_int_equal(g4.code, BOT_ECANCELLED);
	assert_int_equal(f.cancels, 1);
	assert_false(is_redacted("assumed-secret-77"));
	assert_false(is_redacted("base-secret-1"));

	/* Without a hook the provider is built, but cannot fetch. */
	assert_int_equal(aws_creds_create(NULL, NULL, &o, &p, &err), 0);
	assert_int_equal(aws_creds_refresh(p, on_got, &g4, NULL), BOT_ESTATE);
	aws_creds_destroy(p);
	aws_env_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_profile_lookup),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_full_uri),
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_assume_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
