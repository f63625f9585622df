/* Refreshing credentials must not fill the log redactor's registry (64
 * values, the oldest dropped when full): every refresh of IMDS or container
 * credentials forgets the token, key and session token it replaces. Without
 * that, 70 refreshes push the first registered secret (a Slack token read
 * at start) out, and it is logged in clear.
 *
 * The credential endpoints are fakes on loopback (tests/fakes/fake_http),
 * on the bot's own loop: no network, no moto. */
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
#include "adapters/http/http.h"
#include "bot/base/log.h"
#include "tests/fakes/fake_http.h"
#include "tests/fakes/harness.h"
#include "tests/unit/aws_env.h"

#define REFRESHES 70
#define WAIT_MS   10000
/* Not token-shaped (an xoxb- token is redacted by its shape anyway): only
 * the registry can keep this one out of the log. */
#define FIRST_SECRET "first-long-lived-secret-from-a-token-file"

struct endpoint {
	int gen;            /* bumped by each token handed out */
	char token[64];     /* the IMDS session token in force */
	char json[512];
	char auth_seen[64]; /* container: the Authorization header last seen */
};

static void creds_json(struct endpoint *e)
{
	char exp[32];
	time_t t = time(NULL) + 3600;

	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(e->json, sizeof e->json,
		 "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAGEN%03d\","
		 "\"SecretAccessKey\":\"refresh-secret-%03d\",\"Token\":\"refresh-session-%03d\","
		 "\"Expiration\":\"%s\"}", e->gen, e->gen, e->gen, exp);
}

static enum fake_http_action imds(void *ud, const struct fake_http_req *req,
				  struct fake_http_resp *resp)
{
	struct endpoint *e = ud;
	char tok[64];

	if (strcmp(req->method, "PUT") == 0 && strcmp(req->path, "/latest/api/token") == 0) {
		e->gen++;
		snprintf(e->token, sizeof e->token, "imds-token-%03d", e->gen);
		resp->body = e->token;
		return FAKE_HTTP_RESPOND;
	}
	if (!fake_http_header(req, "X-aws-ec2-metadata-token", tok, sizeof tok) ||
	    strcmp(tok, e->token) != 0) {
		resp->status = 401;
		return FAKE_HTTP_RESPOND;
	}
	if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/") == 0) {
		resp->body = "refresh-role\n";
		return FAKE_HTTP_RESPOND;
	}
	creds_json(e);
	resp->body = e->json;
	return FAKE_HTTP_RESPOND;
}

static enum fake_http_action container(void *ud, const struct fake_http_req *req,
				       struct fake_http_resp *resp)
{
	struct endpoint *e = ud;

	if (!fake_http_header(req, "Authorization", e->auth_seen, sizeof e->auth_seen))
		e->auth_seen[0] = '\0';
	e->gen++;
	creds_json(e);
	resp->body = e->json;
	return FAKE_HTTP_RESPOND;
}

static bool redacted(const char *s)
{
	char *r = log_redact(s);
	bool yes = r && strcmp(r, "[REDACTED]") == 0;

	free(r);
	return yes;
}

struct fetch {
	bool done;
	int code;
};

static void on_creds(void *ud, const struct cloud_error *err, const struct aws_creds *c)
{
	struct fetch *f = ud;

	(void)c;
	f->done = true;
	f->code = err ? err->code : 0;
}

static bool fetched(void *arg)
{
	return ((struct fetch *)arg)->done;
}

/* One refresh, as the client does it after an expiry or ExpiredToken. */
static void refresh(struct harness *h, struct aws_creds_provider *p)
{
	struct fetch f = {0};

	(void)aws_creds_invalidate(p);
	assert_int_equal(aws_creds_refresh(p, on_creds, &f, NULL), 0);
	assert_true(harness_wait(h, fetched, &f, WAIT_MS));
	assert_int_equal(f.code, 0);
}

struct rig {
	struct harness h;
	struct http *http;
	struct fake_http *fake;
	struct aws_creds_provider *p;
	struct endpoint e;
};

static void rig_up(struct rig *r, fake_http_handler handler)
{
	struct bot_error err = {0};

	memset(r, 0, sizeof *r);
	assert_int_equal(harness_init(&r->h, NULL), 0);
	assert_int_equal(http_create(r->h.loop, &(struct http_opts){0}, &r->http, &err), 0);
	assert_int_equal(fake_http_start(r->h.loop, 0, handler, &r->e, &r->fake), 0);
	log_clear_secrets();
	assert_int_equal(log_add_secret(FIRST_SECRET), 0); /* registered at start */
}

static void rig_create(struct rig *r, const char *source)
{
	struct bot_error err = {0};

	assert_int_equal(aws_creds_create(r->http, NULL, &(struct aws_creds_opts){0}, &r->p, &err), 0);
	assert_string_equal(aws_creds_source(r->p), source);
}

static void rig_down(struct rig *r)
{
	aws_creds_destroy(r->p);
	fake_http_destroy(r->fake);
	harness_stop(&r->h);
	http_destroy(r->http);
	assert_int_equal(harness_destroy(&r->h), 0);
	harness_log_release();
	log_clear_secrets();
	aws_env_clean();
}

static void test_imds_refreshes_forget_old_tokens(void **state)
{
	struct rig r;
	char url[64];

	(void)state;
	aws_env_clean();
	rig_up(&r, imds);
	unsetenv("AWS_EC2_METADATA_DISABLED"); /* the fake on loopback, never a real one */
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_http_port(r.fake));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	rig_create(&r, "imds");
	for (int i = 0; i < REFRESHES; i++)
		refresh(&r.h, r.p);
	assert_int_equal(r.e.gen, REFRESHES);
	assert_true(redacted(FIRST_SECRET));
	/* what is in force is redacted; what was replaced is forgotten */
	assert_true(redacted("imds-token-070"));
	assert_true(redacted("refresh-secret-070"));
	assert_true(redacted("refresh-session-070"));
	assert_false(redacted("imds-token-001"));
	assert_false(redacted("imds-token-069"));
	assert_false(redacted("refresh-secret-069"));
	assert_false(redacted("refresh-session-069"));
	/* and the provider forgets its own when it goes */
	aws_creds_destroy(r.p);
	r.p = NULL;
	assert_false(redacted("imds-token-070"));
	assert_false(redacted("refresh-secret-070"));
	assert_true(redacted(FIRST_SECRET));
	rig_down(&r);
}

static void write_token(const char *path, int gen)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "container-auth-token-%03d\n", gen);
	assert_int_equal(fclose(f), 0);
}

/* The container's Authorization token file is re-read at each fetch and
 * rotates (EKS Pod Identity): the token it replaces is forgotten too. */
static void test_container_token_file_rotation(void **state)
{
	struct rig r;
	char url[64], path[64], want[64];

	(void)state;
	aws_env_clean();
	rig_up(&r, container);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/credentials", fake_http_port(r.fake));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	snprintf(path, sizeof path, "/tmp/chatops-token.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	rig_create(&r, "container");
	for (int i = 1; i <= REFRESHES; i++) {
		write_token(path, i);
		refresh(&r.h, r.p);
		snprintf(want, sizeof want, "container-auth-token-%03d", i);
		assert_string_equal(r.e.auth_seen, want);
	}
	assert_true(redacted(FIRST_SECRET));
	assert_true(redacted("container-auth-token-070"));
	assert_true(redacted("refresh-secret-070"));
	assert_false(redacted("container-auth-token-069"));
	assert_false(redacted("refresh-secret-069"));
	aws_creds_destroy(r.p);
	r.p = NULL;
	assert_false(redacted("container-auth-token-070"));
	unlink(path);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imds_refreshes_forget_old_tokens),
		cmocka_unit_test(test_container_token_file_rotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
