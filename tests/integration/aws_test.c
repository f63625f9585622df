/* The AWS backend against a real moto_server with IAM and SigV4 checking
 * on (tests/fakes/moto.h), signed by our own signer (adapters/aws/sigv4.c):
 *
 *   signature   wrong secret -> SignatureDoesNotMatch (EAUTH, not retried);
 *               unknown key -> InvalidClientTokenId; right key accepted
 *   ECS         DescribeServices (counts, deployments, missing service),
 *               UpdateService (desiredCount, forceNewDeployment, read back),
 *               ListServices, DescribeClusters, AccessDenied for a user
 *               without ecs:UpdateService
 *   CloudWatch  GetMetricData (CPU/memory avg+max of the seeded service,
 *               "no data" for a service without datapoints), DescribeAlarms
 *               (only ALARM alarms naming this service)
 *   SNS         Publish (form body with spaces and '&', read back from
 *               moto), AccessDenied without sns:Publish
 *   STS         AssumeRole (role_arn), refresh before expiry, session
 *               token on ECS JSON 1.1, CloudWatch JSON 1.0, SNS and STS
 *               query requests, GetCallerIdentity
 *   credentials env, shared credentials/config files with AWS_PROFILE (and
 *               a profile role_arn/source_profile), container endpoint
 *               (Authorization token file, a 500 then 200), IMDSv2
 *   endpoints   AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECS wins over it
 *   retries     throttling, 503, 500 and dropped connections retried with
 *               configured (short) backoff through a fault-injecting proxy;
 *               exhausted attempts; client errors and SNS not retried
 *   lifetime    destroy and loop shutdown with calls in HTTP and in backoff:
 *               each callback exactly once with ECANCELLED, loop closes
 *   --check-config  identity + every configured service checked
 *   logs        no secret key or session token in any log line
 *
 * Each test runs the loop with bounded waits (uv_run ONCE with a 20 ms
 * ticker, until a condition or a deadline), asserts outside callbacks,
 * then shuts the loop down and checks bot_loop_destroy() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "adapters/aws/client.h"
#include "adapters/aws/cloud_aws.h"
#include "adapters/aws/creds.h"
#include "adapters/aws/sts.h"
#include "adapters/cloud.h"
#include "adapters/cloud_dryrun.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "config/config.h"
#include "tests/fakes/fake_http.h"
#include "tests/fakes/moto.h"

#define WAIT_MS 20000 /* generous: two cores shared with two other builds */
#define CLUSTER "mysecretword-cluster"
#define SERVICE "mysecretword-service"

static struct moto *moto;

/* Fast retries for tests (standard mode's shape, milliseconds not seconds). */
static const struct aws_retry_policy fast_retry = {
	.max_attempts = 3, .base_ms = 5, .throttle_base_ms = 10, .max_backoff_ms = 50,
	.max_retry_after_extra_ms = 50, .quota = 500, .retry_cost = 5, .timeout_cost = 10,
	.success_refill = 1,
};

/* ---- log capture: every line is kept to look for secrets at the end ---- */

static struct {
	char *all;
	size_t len, cap;
	char secrets[8][1024];
	int n_secrets;
} logs;

static void log_capture(void *ud, const char *line, size_t len)
{
	(void)ud;
	fwrite(line, 1, len, stderr);
	if (logs.len + len + 1 > logs.cap) {
		size_t cap = logs.cap ? logs.cap * 2 : 1 << 16;
		while (cap < logs.len + len + 1)
			cap *= 2;
		char *n = realloc(logs.all, cap);
		if (!n)
			return;
		logs.all = n;
		logs.cap = cap;
	}
	memcpy(logs.all + logs.len, line, len);
	logs.len += len;
	logs.all[logs.len] = '\0';
}

static void remember_secret(const char *s)
{
	if (s && *s && logs.n_secrets < 8)
		snprintf(logs.secrets[logs.n_secrets++], sizeof logs.secrets[0], "%s", s);
}

/* ---- environment ------------------------------------------------------- */

static void env_clean(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_STS",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_MAX_ATTEMPTS", "AWS_REGION", "AWS_DEFAULT_REGION",
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	/* Never let a test reach a real instance metadata service or the
	 * runner's own ~/.aws files. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
}

/* ---- loop harness ------------------------------------------------------ */

struct h {
	struct bot_loop *loop;
	uv_timer_t ticker;
	struct cloud *cloud;
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void ticker_closed(uv_handle_t *hd)
{
	(void)hd;
}

static void h_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct h *h = ud;
	if (!uv_is_closing((uv_handle_t *)&h->ticker)) {
		uv_timer_stop(&h->ticker);
		uv_close((uv_handle_t *)&h->ticker, ticker_closed);
	}
	done(done_ud);
}

static void h_init(struct h *h)
{
	struct bot_error err = { .msg = "" };

	memset(h, 0, sizeof *h);
	assert_int_equal(bot_loop_create(&h->loop, &err), 0);
	uv_timer_init(bot_loop_uv(h->loop), &h->ticker);
	uv_timer_start(&h->ticker, on_tick, 20, 20);
	assert_int_equal(bot_loop_on_shutdown(h->loop, h_hook, h), 0);
}

/* Run the loop until *flag or WAIT_MS. */
static bool h_wait(struct h *h, const bool *flag)
{
	uv_loop_t *uv = bot_loop_uv(h->loop);
	uint64_t end;

	uv_update_time(uv);
	end = uv_now(uv) + WAIT_MS;
	while (!*flag) {
		uv_update_time(uv);
		if (uv_now(uv) >= end)
			return false;
		uv_run(uv, UV_RUN_ONCE);
	}
	return true;
}

/* Run the loop for ms (to see that nothing more happens). */
static void h_spin(struct h *h, uint64_t ms)
{
	uv_loop_t *uv = bot_loop_uv(h->loop);
	uv_update_time(uv);
	uint64_t end = uv_now(uv) + ms;
	while (uv_now(uv) < end) {
		uv_run(uv, UV_RUN_ONCE);
		uv_update_time(uv);
	}
}

/* Run the loop until a log line after mark contains needle, or WAIT_MS. */
static bool h_wait_log(struct h *h, size_t mark, const char *needle)
{
	uv_loop_t *uv = bot_loop_uv(h->loop);
	uv_update_time(uv);
	uint64_t end = uv_now(uv) + WAIT_MS;
	while (!(logs.all && logs.len > mark && strstr(logs.all + mark, needle))) {
		uv_update_time(uv);
		if (uv_now(uv) >= end)
			return false;
		uv_run(uv, UV_RUN_ONCE);
	}
	return true;
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	assert_true(port > 0);
	return port;
}

static void h_end(struct h *h)
{
	if (h->cloud)
		h->cloud->ops->destroy(h->cloud);
	h->cloud = NULL;
	bot_loop_shutdown(h->loop);
	assert_int_equal(bot_loop_run(h->loop), 0);
	assert_int_equal(bot_loop_destroy(h->loop), 0);
}

static struct cloud *make_cloud(struct h *h, const struct cloud_aws_opts *o)
{
	struct bot_error err = { .msg = "" };
	struct cloud *c = NULL;
	int rc = cloud_aws_create(h->loop, o, &c, &err);
	if (rc)
		fail_msg("cloud_aws_create: %s (%s)", err.msg, bot_err_name(rc));
	h->cloud = c;
	return c;
}

static struct cloud *cloud_as(struct h *h, const char *who, const char *secret_override)
{
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, who, "AccessKeyId"),
		.secret_access_key = secret_override ? secret_override : moto_key(moto, who, "SecretAccessKey"),
	};
	assert_non_null(cr.access_key_id);
	return make_cloud(h, &(struct cloud_aws_opts){
		.region = "us-east-1", .endpoint_url = moto_url(moto), .retry = &fast_retry,
		.fixed_creds = &cr,
	});
}

/* ---- results ----------------------------------------------------------- */

struct res {
	bool done;
	int calls;
	bool ok;
	struct cloud_error err;
	struct cloud_service *svc;
	struct cloud_metrics *m;
	struct cloud_alarm *alarms;
	size_t n_alarms;
	char id[256];
	char names[8][128];
	size_t n_names;
	char cluster_status[32];
};

static void res_free(struct res *r)
{
	cloud_service_free(r->svc);
	cloud_metrics_free(r->m);
	cloud_alarms_free(r->alarms, r->n_alarms);
	memset(r, 0, sizeof *r);
}

static void got(struct res *r, const struct cloud_error *err)
{
	r->calls++;
	r->done = true;
	r->ok = !err || err->code == 0;
	if (err)
		r->err = *err;
}

static void cb_service(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct res *r = ud;
	got(r, err);
	if (s && !r->svc)
		r->svc = cloud_service_dup(s);
}

static void cb_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct res *r = ud;
	got(r, err);
	if (m)
		r->m = cloud_metrics_dup(m);
}

static void cb_alarms(void *ud, const struct cloud_error *err, const struct cloud_alarm *a, size_t n)
{
	struct res *r = ud;
	got(r, err);
	if (n) {
		r->alarms = cloud_alarms_dup(a, n);
		r->n_alarms = n;
	}
}

static void cb_notify(void *ud, const struct cloud_error *err, const char *id)
{
	struct res *r = ud;
	got(r, err);
	if (id)
		snprintf(r->id, sizeof r->id, "%s", id);
}

static void cb_list(void *ud, const struct cloud_error *err, const char *const *names, size_t n)
{
	struct res *r = ud;
	got(r, err);
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(r->names[r->n_names++], sizeof r->names[0], "%s", names[i]);
}

static void cb_cluster(void *ud, const struct cloud_error *err, const struct cloud_cluster *c)
{
	struct res *r = ud;
	got(r, err);
	if (c)
		snprintf(r->cluster_status, sizeof r->cluster_status, "%s", c->status ? c->status : "");
}

static void cb_identity(void *ud, const struct cloud_error *err, const struct aws_sts_identity *id)
{
	struct res *r = ud;
	got(r, err);
	if (id && id->arn)
		snprintf(r->id, sizeof r->id, "%s", id->arn);
}

/* Start op (an expression returning the rc), check the callback did not
 * run inside it, wait for it. */
#define RUN(h, r, call)                                                      \
	do {                                                                 \
		memset((r), 0, sizeof *(r));                                 \
		int rc_ = (call);                                            \
		assert_int_equal(rc_, 0);                                    \
		assert_int_equal((r)->calls, 0); /* never from inside the call */ \
		assert_true(h_wait((h), &(r)->done));                        \
	} while (0)

static void describe(struct h *h, struct cloud *c, const char *svc, struct res *r)
{
	RUN(h, r, c->ops->describe(c, CLUSTER, svc, cb_service, r));
}

/* ---- tests: signatures and permissions ---------------------------------- */

static void test_signature_checked(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();

	/* The right secret: accepted (a JSON 1.1 POST with X-Amz-Target). */
	h_init(&h);
	struct cloud *c = cloud_as(&h, "readonly", NULL);
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	assert_non_null(r.svc);
	assert_string_equal(r.svc->name, SERVICE);
	res_free(&r);
	h_end(&h);

	/* A wrong secret: moto's verifier rejects the signature; not retried. */
	h_init(&h);
	c = cloud_as(&h, "readonly", "definitely-not-the-secret-key-0123456789");
	describe(&h, c, SERVICE, &r);
	assert_false(r.ok);
	assert_int_equal(r.err.code, BOT_EAUTH);
	assert_int_equal(r.err.http_status, 403);
	assert_string_equal(r.err.aws_code, "SignatureDoesNotMatch");
	assert_int_equal(r.err.attempts, 1);
	assert_int_equal(r.calls, 1);
	res_free(&r);
	h_end(&h);

	/* An unknown key id. */
	h_init(&h);
	struct aws_creds bogus = { "AKIAUNKNOWNKEY000000", "whatever-secret-0000", NULL };
	c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
		.retry = &fast_retry, .fixed_creds = &bogus });
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.err.code, BOT_EAUTH);
	assert_string_equal(r.err.aws_code, "InvalidClientTokenId");
	res_free(&r);
	h_end(&h);
}

static void test_access_denied(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = cloud_as(&h, "readonly", NULL);

	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 5, false, cb_service, &r));
	assert_int_equal(r.err.code, BOT_EPERM);
	assert_int_equal(r.err.http_status, 403);
	assert_string_equal(r.err.aws_code, "AccessDenied");
	assert_non_null(strstr(r.err.message, "chatops-readonly"));
	assert_non_null(strstr(r.err.message, "ecs:UpdateService"));
	assert_int_equal(r.err.attempts, 1);
	assert_null(r.svc);
	res_free(&r);

	/* SNS Publish without sns:Publish: a query-protocol AccessDenied. */
	RUN(&h, &r, c->ops->notify(c, moto_topic_arn(moto), "s", "m", cb_notify, &r));
	assert_int_equal(r.err.code, BOT_EPERM);
	assert_non_null(strstr(r.err.message, "sns:Publish"));
	res_free(&r);

	/* The service was not changed. */
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	assert_true(r.svc->desired != 5);
	res_free(&r);
	h_end(&h);
}

/* ---- tests: ECS ---------------------------------------------------------- */

static void test_ecs_describe_scale(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = cloud_as(&h, "scaler", NULL);

	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	assert_string_equal(r.svc->name, SERVICE);
	assert_string_equal(r.svc->cluster, CLUSTER);
	assert_string_equal(r.svc->status, "ACTIVE");
	assert_non_null(strstr(r.svc->arn, "service/"));
	assert_true(r.svc->n_deployments >= 1);
	assert_string_equal(r.svc->deployments[0].status, "PRIMARY");
	assert_non_null(r.svc->deployments[0].rollout_state);
	assert_true(r.svc->deployments[0].updated_at > 1.6e9);
	res_free(&r);

	/* Absolute desiredCount with a new deployment; then read back. */
	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 7, true, cb_service, &r));
	assert_true(r.ok);
	assert_int_equal(r.svc->desired, 7);
	res_free(&r);
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.svc->desired, 7);
	res_free(&r);
	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 1, false, cb_service, &r));
	assert_int_equal(r.svc->desired, 1);
	res_free(&r);

	/* Missing things. */
	describe(&h, c, "nope-service", &r);
	assert_int_equal(r.err.code, BOT_ENOTFOUND);
	assert_non_null(strstr(r.err.message, "MISSING"));
	res_free(&r);
	RUN(&h, &r, c->ops->scale(c, CLUSTER, "nope-service", 2, false, cb_service, &r));
	assert_int_equal(r.err.code, BOT_ENOTFOUND);
	assert_string_equal(r.err.aws_code, "ServiceNotFoundException");
	assert_int_equal(r.err.http_status, 400);
	assert_int_equal(r.err.attempts, 1);
	res_free(&r);
	RUN(&h, &r, c->ops->scale(c, "no-such-cluster", SERVICE, 2, false, cb_service, &r));
	assert_int_equal(r.err.code, BOT_ENOTFOUND);
	assert_string_equal(r.err.aws_code, "ClusterNotFoundException");
	res_free(&r);
	h_end(&h);
}

static void test_ecs_discovery(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = cloud_as(&h, "scaler", NULL);

	RUN(&h, &r, c->ops->list_services(c, CLUSTER, cb_list, &r));
	assert_true(r.ok);
	assert_int_equal(r.n_names, 2);
	assert_string_equal(r.names[0], "mysecretword-service");
	assert_string_equal(r.names[1], "mysecretword-worker");
	res_free(&r);
	RUN(&h, &r, c->ops->list_services(c, "empty-cluster", cb_list, &r));
	assert_true(r.ok);
	assert_int_equal(r.n_names, 0);
	res_free(&r);

	RUN(&h, &r, c->ops->describe_cluster(c, CLUSTER, cb_cluster, &r));
	assert_true(r.ok);
	assert_string_equal(r.cluster_status, "ACTIVE");
	res_free(&r);
	RUN(&h, &r, c->ops->describe_cluster(c, "no-such-cluster", cb_cluster, &r));
	assert_int_equal(r.err.code, BOT_ENOTFOUND);
	res_free(&r);
	h_end(&h);
}

static void check_cb(void *ud, const struct cloud_aws_check *k)
{
	struct res *r = ud;
	r->calls++;
	r->done = true;
	snprintf(r->id, sizeof r->id, "%s", k->identity ? k->identity : "");
	r->n_names = k->n;
	for (size_t i = 0; i < k->n && i < 8; i++) {
		snprintf(r->names[i], sizeof r->names[i], "%s %d %.100s", k->items[i].service,
			 k->items[i].code, k->items[i].detail);
		fprintf(stderr, "check item %zu: %s\n", i, r->names[i]);
	}
	r->err.attempts = (int)k->failed;
}

static const char *item(const struct res *r, const char *service)
{
	size_t l = strlen(service);
	for (size_t i = 0; i < r->n_names; i++)
		if (strncmp(r->names[i], service, l) == 0 && r->names[i][l] == ' ')
			return r->names[i] + l + 1;
	fail_msg("no check item for %s", service);
	return "";
}

static void test_check_config(void **state)
{
	struct h h;
	struct res r;
	struct config *cfg = NULL;
	struct config_errors errs = {0};
	(void)state;
	env_clean();
	const char *yaml =
		"aws:\n  region: us-east-1\n"
		"defaults:\n  approvers: [U0APPROVER1]\n  requesters: ['*']\n"
		"services:\n"
		"  web:\n    cluster: mysecretword-cluster\n    ecs_service: mysecretword-service\n    max_desired: 10\n"
		"  ghost:\n    cluster: mysecretword-cluster\n    ecs_service: ghost-service\n    max_desired: 10\n"
		"  lost:\n    cluster: lost-cluster\n    max_desired: 10\n"
		/* the cluster exists in us-east-1 only: found there, not in eu-west-1 */
		"  euro:\n    cluster: mysecretword-cluster\n    ecs_service: mysecretword-service\n"
		"    max_desired: 10\n    region: eu-west-1\n";
	if (config_load_string("check.yaml", yaml, 0, &cfg, &errs)) {
		config_errors_print(&errs, stderr);
		fail_msg("config did not load");
	}
	config_errors_free(&errs);
	h_init(&h);
	struct aws_creds cr = { moto_key(moto, "scaler", "AccessKeyId"),
				moto_key(moto, "scaler", "SecretAccessKey"), NULL };
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){ .config = cfg,
		.endpoint_url = moto_url(moto), .retry = &fast_retry, .fixed_creds = &cr });
	RUN(&h, &r, cloud_aws_check_config(c, cfg, check_cb, &r));
	assert_non_null(strstr(r.id, "user/chatops-scaler"));
	assert_int_equal(r.n_names, 4);
	assert_int_equal(r.err.attempts, 3); /* failed */
	assert_non_null(strstr(item(&r, "web"), "0 ACTIVE, desired"));
	char nf[8];
	snprintf(nf, sizeof nf, "%d ", BOT_ENOTFOUND);
	assert_true(strncmp(item(&r, "ghost"), nf, strlen(nf)) == 0);
	assert_non_null(strstr(item(&r, "ghost"), "ghost-service"));
	assert_true(strncmp(item(&r, "lost"), nf, strlen(nf)) == 0);
	assert_non_null(strstr(item(&r, "lost"), "lost-cluster"));
	assert_true(strncmp(item(&r, "euro"), nf, strlen(nf)) == 0);
	res_free(&r);
	/* The ops route too: a cluster ARN names its region; a cluster the
	 * config has in two regions falls back to the default region. */
	RUN(&h, &r, c->ops->describe_cluster(c, CLUSTER, cb_cluster, &r));
	assert_true(r.ok);
	res_free(&r);
	RUN(&h, &r, c->ops->describe(c, "arn:aws:ecs:eu-west-1:123456789012:cluster/mysecretword-cluster",
				     SERVICE, cb_service, &r));
	assert_int_equal(r.err.code, BOT_ENOTFOUND); /* the ARN's region, not the default */
	res_free(&r);
	RUN(&h, &r, c->ops->describe(c, "arn:aws:ecs:us-east-1:123456789012:cluster/mysecretword-cluster",
				     SERVICE, cb_service, &r));
	assert_true(r.ok);
	assert_string_equal(r.svc->cluster, CLUSTER);
	res_free(&r);
	h_end(&h);
	config_unref(cfg);
}

/* ---- tests: CloudWatch and SNS ------------------------------------------- */

static void test_cw_metrics_alarms(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = cloud_as(&h, "scaler", NULL);

	RUN(&h, &r, c->ops->metrics(c, CLUSTER, SERVICE, 30, cb_metrics, &r));
	assert_true(r.ok);
	const struct cloud_series *cpu = &r.m->cpu_avg, *cmax = &r.m->cpu_max, *mem = &r.m->mem_avg;
	assert_string_equal(cpu->name, "CPUUtilization");
	assert_string_equal(cpu->stat, "Average");
	assert_string_equal(cmax->stat, "Maximum");
	assert_int_equal(cpu->period_s, 60);
	assert_true(cpu->n >= 20 && cpu->n <= 31);
	assert_true(mem->n >= 20);
	assert_true(r.m->mem_max.n >= 20);
	for (size_t i = 1; i < cpu->n; i++)
		assert_true(cpu->times[i] > cpu->times[i - 1]); /* ascending */
	assert_true(cpu->times[0] >= r.m->start && cpu->times[cpu->n - 1] <= r.m->end);
	assert_true(cpu->values[cpu->n - 1] > 98.0 && cpu->values[cpu->n - 1] < 100.0);
	assert_true(cpu->values[0] < 60.0); /* the seeded ramp starts low */
	for (size_t i = 0; i < cmax->n && i < cpu->n; i++)
		assert_true(cmax->values[i] >= cpu->values[i] - 1e-9);
	assert_true(mem->values[0] >= 59.0 && mem->values[0] <= 75.0);
	res_free(&r);

	/* No datapoints: empty series, not zeros, not an error. */
	RUN(&h, &r, c->ops->metrics(c, CLUSTER, "mysecretword-worker", 30, cb_metrics, &r));
	assert_true(r.ok);
	assert_int_equal(r.m->cpu_avg.n, 0);
	assert_int_equal(r.m->mem_max.n, 0);
	res_free(&r);

	/* Only the ALARM alarm naming this service in this cluster. */
	RUN(&h, &r, c->ops->alarms(c, CLUSTER, SERVICE, cb_alarms, &r));
	assert_true(r.ok);
	assert_int_equal(r.n_alarms, 1);
	assert_string_equal(r.alarms[0].name, "mysecretword-service-cpu-high");
	assert_string_equal(r.alarms[0].state, "ALARM");
	assert_string_equal(r.alarms[0].metric, "CPUUtilization");
	assert_true(r.alarms[0].threshold == 80.0);
	assert_non_null(strstr(r.alarms[0].reason, "Threshold Crossed"));
	res_free(&r);
	RUN(&h, &r, c->ops->alarms(c, CLUSTER, "mysecretword-worker", cb_alarms, &r));
	assert_true(r.ok);
	assert_int_equal(r.n_alarms, 0);
	res_free(&r);
	h_end(&h);
}

static void test_sns_publish(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = cloud_as(&h, "scaler", NULL);
	const char *msg = "Scale mysecretword-service to 3? Approve or deny: A&B = 100% ~ok";

	RUN(&h, &r, c->ops->notify(c, moto_topic_arn(moto), "Approval needed: mysecretword", msg,
				   cb_notify, &r));
	assert_true(r.ok);
	assert_true(strlen(r.id) > 8);
	char id[256];
	snprintf(id, sizeof id, "%s", r.id);
	res_free(&r);
	h_end(&h);

	/* moto kept exactly what we sent (the signed form decoded as sent). */
	char *data = moto_get(moto, "/moto-api/data.json");
	assert_non_null(data);
	assert_non_null(strstr(data, id));
	json_t *j = json_loads(data, 0, NULL);
	free(data);
	assert_non_null(j);
	char *dump = json_dumps(j, 0);
	assert_non_null(strstr(dump, msg));
	assert_non_null(strstr(dump, "Approval needed: mysecretword"));
	free(dump);
	json_decref(j);
}

/* ---- tests: credentials -------------------------------------------------- */

static void test_creds_env_and_endpoints(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	setenv("AWS_ACCESS_KEY_ID", moto_key(moto, "scaler", "AccessKeyId"), 1);
	setenv("AWS_SECRET_ACCESS_KEY", moto_key(moto, "scaler", "SecretAccessKey"), 1);
	setenv("AWS_ENDPOINT_URL", moto_url(moto), 1);
	setenv("AWS_REGION", "us-east-1", 1);

	h_init(&h);
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){ .retry = &fast_retry });
	assert_string_equal(aws_creds_source(cloud_aws_creds(c)), "env");
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	h_end(&h);

	/* AWS_ENDPOINT_URL_ECS beats AWS_ENDPOINT_URL (a closed port: ECS fails,
	 * CloudWatch still reaches moto). */
	char dead[64];
	snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
	setenv("AWS_ENDPOINT_URL_ECS", dead, 1);
	h_init(&h);
	struct aws_retry_policy once = fast_retry;
	once.max_attempts = 2;
	c = make_cloud(&h, &(struct cloud_aws_opts){ .retry = &once });
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.err.code, BOT_ETRANSPORT);
	assert_int_equal(r.err.http_status, 0);
	assert_int_equal(r.err.attempts, 2); /* a transport error is retried */
	res_free(&r);
	RUN(&h, &r, c->ops->alarms(c, CLUSTER, SERVICE, cb_alarms, &r));
	assert_true(r.ok);
	res_free(&r);
	h_end(&h);

	/* A config endpoint loses to the environment... */
	unsetenv("AWS_ENDPOINT_URL_ECS");
	h_init(&h);
	c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = dead,
						     .retry = &fast_retry });
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	h_end(&h);
	/* ...unless configured endpoints from the environment are ignored. */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	h_init(&h);
	c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
						     .retry = &fast_retry });
	char url[256];
	assert_int_equal(aws_client_endpoint(cloud_aws_client(c), AWS_SVC_ECS, NULL, url, sizeof url), 0);
	assert_string_equal(url, moto_url(moto));
	h_end(&h);
	env_clean();
}

static char tmpdir[256];

static void write_file(const char *name, const char *text, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_creds_profile(void **state)
{
	struct h h;
	struct res r;
	char cred[512], conf[512], text[2048];
	(void)state;
	env_clean();
	snprintf(text, sizeof text,
		 "[default]\naws_access_key_id = AKIADEFAULTNOTUSED00\naws_secret_access_key = nope-nope\n\n"
		 "# the bot's profile\n[chatops]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		 moto_key(moto, "scaler", "AccessKeyId"), moto_key(moto, "scaler", "SecretAccessKey"));
	write_file("credentials", text, cred, sizeof cred);
	snprintf(text, sizeof text,
		 "[profile chatops]\nregion = us-east-1\n\n"
		 "[profile chatops-role]\nrole_arn = %s\nsource_profile = chatops\nrole_session_name = from-profile\n",
		 moto_role_arn(moto));
	write_file("config", text, conf, sizeof conf);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	setenv("AWS_PROFILE", "chatops", 1);

	h_init(&h);
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
								   .retry = &fast_retry });
	assert_string_equal(aws_creds_source(cloud_aws_creds(c)), "profile:chatops");
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	h_end(&h);

	/* A profile that assumes a role with source_profile keys. */
	setenv("AWS_PROFILE", "chatops-role", 1);
	h_init(&h);
	c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
						     .retry = &fast_retry });
	assert_non_null(strstr(aws_creds_source(cloud_aws_creds(c)), "assume-role:"));
	RUN(&h, &r, aws_sts_get_caller_identity(cloud_aws_client(c), NULL, cb_identity, &r, NULL));
	assert_true(r.ok);
	assert_non_null(strstr(r.id, "assumed-role/mysecretword-scaler-role/from-profile"));
	res_free(&r);
	h_end(&h);

	/* A named profile in neither file is a startup error. */
	setenv("AWS_PROFILE", "no-such-profile", 1);
	h_init(&h);
	struct bot_error err = { .msg = "" };
	struct cloud *bad = NULL;
	assert_int_equal(cloud_aws_create(h.loop, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto) },
					  &bad, &err), BOT_ECONFIG);
	assert_null(bad);
	assert_non_null(strstr(err.msg, "no-such-profile"));
	h_end(&h);
	env_clean();
}

struct creds_srv {
	int hits;
	char auth[256];
	char json[2048];
	int fail_first;   /* answer 500 this many times */
	/* IMDS */
	char ttl[32], token_seen[256];
	int puts;
};

static enum fake_http_action container_handler(void *ud, const struct fake_http_req *req,
					       struct fake_http_resp *resp)
{
	struct creds_srv *s = ud;
	char buf[256];

	s->hits++;
	if (fake_http_header(req, "Authorization", buf, sizeof buf))
		snprintf(s->auth, sizeof s->auth, "%s", buf);
	if (strcmp(req->method, "GET") != 0 || strcmp(req->path, "/v2/credentials/abc") != 0) {
		resp->status = 404;
		return FAKE_HTTP_RESPOND;
	}
	if (s->fail_first > 0) {
		s->fail_first--;
		resp->status = 500;
		resp->body = "{\"message\":\"try again\"}";
		return FAKE_HTTP_RESPOND;
	}
	resp->status = 200;
	resp->headers = "Content-Type: application/json\r\n";
	resp->body = s->json;
	return FAKE_HTTP_RESPOND;
}

static void creds_json(struct creds_srv *s, const char *extra)
{
	char exp[32];
	time_t t = time(NULL) + 3600;
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(s->json, sizeof s->json,
		 "{%s\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Expiration\":\"%s\"}",
		 extra, moto_key(moto, "scaler", "AccessKeyId"),
		 moto_key(moto, "scaler", "SecretAccessKey"), exp);
}

static void test_creds_container(void **state)
{
	struct h h;
	struct res r;
	struct creds_srv s = { .fail_first = 1 };
	struct fake_http *f;
	char url[128], tokpath[512];
	(void)state;
	env_clean();
	creds_json(&s, "\"RoleArn\":\"arn:aws:iam::123456789012:role/task\",");
	write_file("token", "Bearer-ecs-task-token-123\n", tokpath, sizeof tokpath);

	h_init(&h);
	assert_int_equal(fake_http_start(h.loop, 0, container_handler, &s, &f), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/credentials/abc", fake_http_port(f));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokpath, 1);
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
								   .retry = &fast_retry });
	assert_string_equal(aws_creds_source(cloud_aws_creds(c)), "container");
	assert_int_equal(s.hits, 0); /* fetched lazily, on the loop */
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	assert_int_equal(s.hits, 2); /* a 500, then the credentials */
	assert_string_equal(s.auth, "Bearer-ecs-task-token-123");
	assert_true(aws_creds_expiration(cloud_aws_creds(c)) > (double)time(NULL) + 3000);
	/* Cached: a second call does not fetch again. */
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	assert_int_equal(s.hits, 2);
	fake_http_destroy(f);
	h_end(&h);

	/* Not loopback, not https: refused at create. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds", 1);
	h_init(&h);
	struct bot_error err = { .msg = "" };
	struct cloud *bad = NULL;
	assert_int_equal(cloud_aws_create(h.loop, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto) },
					  &bad, &err), BOT_ECONFIG);
	h_end(&h);
	env_clean();
}

static enum fake_http_action imds_handler(void *ud, const struct fake_http_req *req,
					  struct fake_http_resp *resp)
{
	struct creds_srv *s = ud;
	char buf[256];

	s->hits++;
	if (strcmp(req->method, "PUT") == 0 && strcmp(req->path, "/latest/api/token") == 0) {
		s->puts++;
		if (!fake_http_header(req, "X-aws-ec2-metadata-token-ttl-seconds", s->ttl, sizeof s->ttl)) {
			resp->status = 400;
			return FAKE_HTTP_RESPOND;
		}
		resp->body = "imds-session-token-XYZ";
		return FAKE_HTTP_RESPOND;
	}
	if (!fake_http_header(req, "X-aws-ec2-metadata-token", buf, sizeof buf) ||
	    strcmp(buf, "imds-session-token-XYZ") != 0) {
		resp->status = 401; /* IMDSv1 is off */
		return FAKE_HTTP_RESPOND;
	}
	snprintf(s->token_seen, sizeof s->token_seen, "%s", buf);
	if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/") == 0) {
		resp->body = "chatops-instance-role\n";
		return FAKE_HTTP_RESPOND;
	}
	if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/chatops-instance-role") == 0) {
		resp->body = s->json;
		return FAKE_HTTP_RESPOND;
	}
	resp->status = 404;
	return FAKE_HTTP_RESPOND;
}

static void test_creds_imds(void **state)
{
	struct h h;
	struct res r;
	struct creds_srv s = {0};
	struct fake_http *f;
	char url[128];
	(void)state;
	env_clean();
	creds_json(&s, "\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",");
	unsetenv("AWS_EC2_METADATA_DISABLED");

	h_init(&h);
	assert_int_equal(fake_http_start(h.loop, 0, imds_handler, &s, &f), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", fake_http_port(f));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){ .endpoint_url = moto_url(moto),
								   .retry = &fast_retry });
	assert_string_equal(aws_creds_source(cloud_aws_creds(c)), "imds");
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	assert_int_equal(s.puts, 1);
	assert_string_equal(s.ttl, "21600");
	assert_string_equal(s.token_seen, "imds-session-token-XYZ");
	assert_int_equal(s.hits, 3);
	fake_http_destroy(f);
	h_end(&h);
	env_clean();
}

/* role_arn through moto STS, refreshed before expiry; the session token
 * signs every request shape. */
static void test_assume_role(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	setenv("AWS_ACCESS_KEY_ID", moto_key(moto, "scaler", "AccessKeyId"), 1);
	setenv("AWS_SECRET_ACCESS_KEY", moto_key(moto, "scaler", "SecretAccessKey"), 1);

	h_init(&h);
	/* A 900 s session with a 3600 s refresh margin: every call refreshes. */
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){
		.endpoint_url = moto_url(moto), .retry = &fast_retry,
		.role_arn = moto_role_arn(moto), .role_session_name = "chatops-bot",
		.assume_duration_s = 900, .creds_refresh_margin_s = 3600,
	});
	struct aws_creds_provider *p = cloud_aws_creds(c);
	assert_non_null(strstr(aws_creds_source(p), "assume-role:"));
	assert_non_null(strstr(aws_creds_source(p), "(env)"));

	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	assert_int_equal(aws_creds_fetches(p), 1);
	/* the credentials came from STS: a session token, ASIA key */
	double exp = aws_creds_expiration(p);
	assert_true(exp > (double)time(NULL) + 800 && exp < (double)time(NULL) + 1000);

	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 4, false, cb_service, &r));
	assert_true(r.ok);
	assert_int_equal(r.svc->desired, 4);
	res_free(&r);
	assert_int_equal(aws_creds_fetches(p), 2); /* refreshed before expiry */

	/* The role may not ListServices: the denial names the assumed role. */
	RUN(&h, &r, c->ops->list_services(c, CLUSTER, cb_list, &r));
	assert_int_equal(r.err.code, BOT_EPERM);
	assert_non_null(strstr(r.err.message, "assumed-role/mysecretword-scaler-role/chatops-bot"));
	res_free(&r);
	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 1, false, cb_service, &r));
	assert_true(r.ok);
	res_free(&r);
	h_end(&h);
	env_clean();
}

static void test_session_token_shapes(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	setenv("AWS_ACCESS_KEY_ID", moto_key(moto, "scaler", "AccessKeyId"), 1);
	setenv("AWS_SECRET_ACCESS_KEY", moto_key(moto, "scaler", "SecretAccessKey"), 1);
	h_init(&h);
	struct cloud *c = make_cloud(&h, &(struct cloud_aws_opts){
		.endpoint_url = moto_url(moto), .retry = &fast_retry,
		.role_arn = "arn:aws:iam::123456789012:role/chatops-test-session-role",
	});
	/* CloudWatch JSON 1.0 with a session token */
	RUN(&h, &r, c->ops->metrics(c, CLUSTER, SERVICE, 30, cb_metrics, &r));
	assert_true(r.ok);
	assert_true(r.m->cpu_avg.n > 0);
	res_free(&r);
	const struct aws_creds *cr = aws_creds_cached(cloud_aws_creds(c));
	assert_non_null(cr);
	assert_non_null(cr->session_token);
	assert_true(strlen(cr->session_token) > 100);
	assert_true(strncmp(cr->access_key_id, "ASIA", 4) == 0);
	remember_secret(cr->session_token);
	remember_secret(cr->secret_access_key);
	/* SNS query with a session token */
	RUN(&h, &r, c->ops->notify(c, moto_topic_arn(moto), NULL, "session token publish", cb_notify, &r));
	assert_true(r.ok);
	res_free(&r);
	/* ECS JSON 1.1 (read) with a session token */
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	res_free(&r);
	/* STS query with a session token */
	RUN(&h, &r, aws_sts_get_caller_identity(cloud_aws_client(c), NULL, cb_identity, &r, NULL));
	assert_true(r.ok);
	assert_non_null(strstr(r.id, "assumed-role/chatops-test-session-role/chatops-bot"));
	res_free(&r);
	h_end(&h);
	env_clean();
}

/* ---- tests: retries through a fault-injecting proxy ---------------------- */

struct faults {
	const char *plan[16]; /* per request: "throttle", "503", "500", "hangup", "400", "hold", NULL = forward */
	int n, i;
	int seen;
};

static enum fake_http_action fault_handler(void *ud, const struct fake_http_req *req,
					   struct fake_http_resp *resp)
{
	struct faults *f = ud;
	const char *what = f->i < f->n ? f->plan[f->i] : NULL;

	(void)req;
	f->i++;
	f->seen++;
	if (!what)
		return FAKE_HTTP_FORWARD;
	if (strcmp(what, "throttle") == 0) {
		resp->status = 400;
		resp->headers = "Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: req-throttle-1\r\n";
		resp->body = "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}";
	} else if (strcmp(what, "503") == 0) {
		resp->status = 503;
		resp->body = "<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>busy &amp; tired</Message></Error></ErrorResponse>";
	} else if (strcmp(what, "500") == 0) {
		resp->status = 500;
		resp->headers = "x-amzn-RequestId: req-500\r\n";
		resp->body = "{\"__type\":\"com.amazonaws.ecs#ServerException\",\"message\":\"Service encountered an error\"}";
	} else if (strcmp(what, "400") == 0) {
		resp->status = 400;
		resp->body = "{\"__type\":\"InvalidParameterException\",\"message\":\"bad\"}";
	} else if (strcmp(what, "hangup") == 0) {
		return FAKE_HTTP_HANGUP;
	} else if (strcmp(what, "hold") == 0) {
		return FAKE_HTTP_HOLD;
	}
	return FAKE_HTTP_RESPOND;
}

static void plan(struct faults *f, int n, ...)
{
	va_list ap;
	memset(f->plan, 0, sizeof f->plan);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		f->plan[i] = va_arg(ap, const char *);
	va_end(ap);
	f->n = n;
	f->i = 0;
	f->seen = 0;
}

static struct cloud *proxied_cloud(struct h *h, struct faults *fl, struct fake_http **fp,
				   const struct aws_retry_policy *rp)
{
	char url[64];
	assert_int_equal(fake_http_start(h->loop, moto_port(moto), fault_handler, fl, fp), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", fake_http_port(*fp));
	struct aws_creds cr = { moto_key(moto, "scaler", "AccessKeyId"),
				moto_key(moto, "scaler", "SecretAccessKey"), NULL };
	return make_cloud(h, &(struct cloud_aws_opts){ .endpoint_url = url, .retry = rp,
						      .fixed_creds = &cr, .timeout_ms = 5000 });
}

static void test_retries(void **state)
{
	struct h h;
	struct res r;
	struct faults fl = {0};
	struct fake_http *f;
	struct aws_client_stats st;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *c = proxied_cloud(&h, &fl, &f, &fast_retry);
	struct aws_client *cl = cloud_aws_client(c);

	/* Throttled, then 503, then through to moto: success on try 3. */
	plan(&fl, 2, "throttle", "503");
	describe(&h, c, SERVICE, &r);
	assert_true(r.ok);
	assert_string_equal(r.svc->name, SERVICE);
	res_free(&r);
	assert_int_equal(fl.seen, 3);
	aws_client_stats(cl, &st);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.quota, 500); /* refunded on success */

	/* Dropped connections are retried too (UpdateService: idempotent). */
	plan(&fl, 2, "hangup", "hangup");
	RUN(&h, &r, c->ops->scale(c, CLUSTER, SERVICE, 2, false, cb_service, &r));
	assert_true(r.ok);
	assert_int_equal(r.svc->desired, 2);
	res_free(&r);
	assert_int_equal(fl.seen, 3);

	/* Three 500s: attempts exhausted, the last error is reported. */
	plan(&fl, 3, "500", "500", "500");
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.err.code, BOT_EREMOTE);
	assert_int_equal(r.err.http_status, 500);
	assert_string_equal(r.err.aws_code, "ServerException");
	assert_string_equal(r.err.request_id, "req-500");
	assert_int_equal(r.err.attempts, 3);
	res_free(&r);
	assert_int_equal(fl.seen, 3);
	aws_client_stats(cl, &st);
	assert_int_equal(st.quota, 500 - 10);

	/* Throttling through every try: ERATELIMIT with AWS's words. */
	plan(&fl, 3, "throttle", "throttle", "throttle");
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.err.code, BOT_ERATELIMIT);
	assert_string_equal(r.err.aws_code, "ThrottlingException");
	assert_string_equal(r.err.message, "Rate exceeded");
	assert_string_equal(r.err.request_id, "req-throttle-1");
	res_free(&r);

	/* A client error is final at once. */
	plan(&fl, 1, "400");
	describe(&h, c, SERVICE, &r);
	assert_int_equal(r.err.code, BOT_EINVAL);
	assert_int_equal(r.err.attempts, 1);
	res_free(&r);
	assert_int_equal(fl.seen, 1);

	/* SNS Publish is never retried, even after a 503 (XML error body). */
	plan(&fl, 1, "503");
	RUN(&h, &r, c->ops->notify(c, moto_topic_arn(moto), "s", "once only", cb_notify, &r));
	assert_int_equal(r.err.code, BOT_EREMOTE);
	assert_string_equal(r.err.aws_code, "ServiceUnavailable");
	assert_string_equal(r.err.message, "busy & tired");
	assert_int_equal(r.err.attempts, 1);
	res_free(&r);
	assert_int_equal(fl.seen, 1);
	h_spin(&h, 100);
	assert_int_equal(fl.seen, 1);

	fake_http_destroy(f);
	h_end(&h);
}

/* ---- tests: teardown with calls in flight -------------------------------- */

static void test_destroy_in_flight(void **state)
{
	struct h h;
	struct res a, b, d;
	struct faults fl = {0};
	struct fake_http *f;
	struct aws_retry_policy slow = fast_retry;
	(void)state;
	env_clean();
	slow.base_ms = slow.max_backoff_ms = 60000; /* a retry that would wait a minute */

	/* destroy(): one call held in HTTP, one sleeping in backoff. */
	h_init(&h);
	struct cloud *c = proxied_cloud(&h, &fl, &f, &slow);
	plan(&fl, 2, "hold", "503");
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	size_t mark = logs.len;
	assert_int_equal(c->ops->describe(c, CLUSTER, SERVICE, cb_service, &a), 0);
	/* let the first request reach the proxy before the second */
	uv_loop_t *uv = bot_loop_uv(h.loop);
	for (int i = 0; i < 500 && fl.seen < 1; i++)
		uv_run(uv, UV_RUN_ONCE);
	assert_int_equal(c->ops->alarms(c, CLUSTER, SERVICE, cb_alarms, &b), 0);
	for (int i = 0; i < 500 && fl.seen < 2; i++)
		uv_run(uv, UV_RUN_ONCE);
	assert_int_equal(fl.seen, 2);
	/* the 503 arrives: b sleeps in backoff */
	assert_true(h_wait_log(&h, mark, "event=aws.retry svc=monitoring op=DescribeAlarms"));
	assert_int_equal(a.calls + b.calls, 0);
	c->ops->destroy(c);
	h.cloud = NULL;
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.err.code, BOT_ECANCELLED);
	assert_int_equal(b.err.code, BOT_ECANCELLED);
	h_spin(&h, 50);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	res_free(&a);
	res_free(&b);
	fake_http_destroy(f);
	h_end(&h);

	/* Loop shutdown with the same two states: the hooks cancel them; a
	 * call after shutdown is refused. */
	h_init(&h);
	c = proxied_cloud(&h, &fl, &f, &slow);
	plan(&fl, 2, "hold", "503");
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&d, 0, sizeof d);
	mark = logs.len;
	assert_int_equal(c->ops->describe(c, CLUSTER, SERVICE, cb_service, &a), 0);
	for (int i = 0; i < 500 && fl.seen < 1; i++)
		uv_run(uv = bot_loop_uv(h.loop), UV_RUN_ONCE);
	assert_int_equal(c->ops->metrics(c, CLUSTER, SERVICE, 30, cb_metrics, &b), 0);
	for (int i = 0; i < 500 && fl.seen < 2; i++)
		uv_run(uv, UV_RUN_ONCE);
	assert_true(h_wait_log(&h, mark, "event=aws.retry svc=monitoring op=GetMetricData"));
	assert_int_equal(a.calls + b.calls, 0);
	bot_loop_shutdown(h.loop);
	assert_int_equal(bot_loop_run(h.loop), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.err.code, BOT_ECANCELLED);
	assert_int_equal(b.err.code, BOT_ECANCELLED);
	assert_int_equal(c->ops->describe(c, CLUSTER, SERVICE, cb_service, &d), BOT_ESTATE);
	c->ops->destroy(c);
	fake_http_destroy(f);
	assert_int_equal(d.calls, 0);
	assert_int_equal(bot_loop_destroy(h.loop), 0);
	res_free(&a);
	res_free(&b);
}

/* The dry-run wrapper forwards the appended read ops to AWS. */
static void test_dryrun_forwards(void **state)
{
	struct h h;
	struct res r;
	(void)state;
	env_clean();
	h_init(&h);
	struct cloud *inner = cloud_as(&h, "scaler", NULL);
	struct cloud *dry = cloud_dryrun_create(bot_loop_uv(h.loop), inner);
	assert_non_null(dry);
	RUN(&h, &r, dry->ops->list_services(dry, CLUSTER, cb_list, &r));
	assert_true(r.ok);
	assert_int_equal(r.n_names, 2);
	res_free(&r);
	RUN(&h, &r, dry->ops->describe_cluster(dry, CLUSTER, cb_cluster, &r));
	assert_string_equal(r.cluster_status, "ACTIVE");
	res_free(&r);
	RUN(&h, &r, dry->ops->scale(dry, CLUSTER, SERVICE, 50, false, cb_service, &r));
	assert_int_equal(r.err.code, BOT_EDRYRUN);
	res_free(&r);
	dry->ops->destroy(dry);
	h_end(&h);
}

/* ---- task definitions and deploy (issue 17 groundwork) ------------------ */

struct tdres {
	bool done;
	int calls;
	struct cloud_error err;
	bool ok;
	char arns[8][256];
	size_t n;
	struct cloud_task_definition td; /* scalars, and: */
	char family[128], image[128];
	size_t n_containers;
};

static void cb_tdlist(void *ud, const struct cloud_error *err, const char *const *arns, size_t n)
{
	struct tdres *r = ud;
	r->calls++;
	r->done = true;
	r->ok = !err;
	if (err)
		r->err = *err;
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(r->arns[i], sizeof r->arns[i], "%s", arns[i]);
	r->n = n;
}

static void cb_td(void *ud, const struct cloud_error *err, const struct cloud_task_definition *td)
{
	struct tdres *r = ud;
	r->calls++;
	r->done = true;
	r->ok = !err;
	if (err)
		r->err = *err;
	if (td) {
		r->td.revision = td->revision;
		snprintf(r->family, sizeof r->family, "%s", td->family);
		r->n_containers = td->n_containers;
		if (td->n_containers)
			snprintf(r->image, sizeof r->image, "%s", td->containers[0].image);
	}
}

static void test_ecs_task_definitions_deploy(void **state)
{
	struct h h;
	struct res r;
	struct tdres t;
	char out[1024], msg[2048];
	(void)state;
	env_clean();

	/* The seed's two revisions of the lab's family (the service runs 2,
	 * nginx:1.27; revision 1 is nginx:1.25) and a family
	 * "mysecretword-task-other" that only shares the prefix. */
	const char *no_args[1] = { NULL };
	if (moto_script(moto, "moto-taskdef.py", no_args, 0, out, sizeof out, msg, sizeof msg))
		fail_msg("moto-taskdef.py: %s", msg);
	json_t *seed = json_loads(out, 0, NULL);
	assert_non_null(seed);
	char rev1[256], rev2[256];
	snprintf(rev1, sizeof rev1, "%s", json_string_value(json_object_get(seed, "rev1")));
	snprintf(rev2, sizeof rev2, "%s", json_string_value(json_object_get(seed, "rev2")));
	json_decref(seed);
	assert_non_null(strstr(rev1, "task-definition/mysecretword-task:1"));
	assert_non_null(strstr(rev2, "task-definition/mysecretword-task:2"));

	h_init(&h);
	/* The scaler's policy lacks the task definition reads: the bot's
	 * policy needs ecs:ListTaskDefinitions and ecs:DescribeTaskDefinition. */
	struct cloud *c = cloud_as(&h, "scaler", NULL);
	RUN(&h, &t, c->ops->task_definitions(c, "mysecretword-task", cb_tdlist, &t));
	assert_int_equal(t.err.code, BOT_EPERM);
	assert_non_null(strstr(t.err.message, "ecs:ListTaskDefinitions"));
	RUN(&h, &t, c->ops->describe_task_definition(c, "mysecretword-task:1", cb_td, &t));
	assert_int_equal(t.err.code, BOT_EPERM);
	assert_non_null(strstr(t.err.message, "ecs:DescribeTaskDefinition"));
	c->ops->destroy(c);
	h.cloud = NULL;

	/* A user holding exactly what restart/rollback call. */
	if (moto_iam_user(moto, "deployer", "chatops-deployer",
			  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\","
			  "\"Action\":[\"ecs:DescribeServices\",\"ecs:UpdateService\","
			  "\"ecs:ListTaskDefinitions\",\"ecs:DescribeTaskDefinition\"]}]}",
			  msg, sizeof msg))
		fail_msg("moto_iam_user: %s", msg);
	remember_secret(moto_key(moto, "deployer", "SecretAccessKey"));
	c = cloud_as(&h, "deployer", NULL);

	/* Newest first, exactly this family (moto lists oldest first and
	 * ignores sort DESC: the backend orders by revision). */
	RUN(&h, &t, c->ops->task_definitions(c, "mysecretword-task", cb_tdlist, &t));
	assert_true(t.ok);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.arns[0], rev2);
	assert_string_equal(t.arns[1], rev1);
	RUN(&h, &t, c->ops->task_definitions(c, "no-such-family", cb_tdlist, &t));
	assert_true(t.ok);
	assert_int_equal(t.n, 0);

	RUN(&h, &t, c->ops->describe_task_definition(c, "mysecretword-task:2", cb_td, &t));
	assert_true(t.ok);
	assert_string_equal(t.family, "mysecretword-task");
	assert_int_equal(t.td.revision, 2);
	assert_int_equal(t.n_containers, 1);
	assert_string_equal(t.image, "nginx:1.27");
	RUN(&h, &t, c->ops->describe_task_definition(c, rev1, cb_td, &t));
	assert_int_equal(t.td.revision, 1);
	assert_string_equal(t.image, "nginx:1.25");
	/* ECS answers a missing revision with ClientException (no NotFound). */
	RUN(&h, &t, c->ops->describe_task_definition(c, "mysecretword-task:9", cb_td, &t));
	assert_false(t.ok);
	assert_string_equal(t.err.aws_code, "ClientException");

	describe(&h, c, SERVICE, &r);
	assert_string_equal(r.svc->task_definition, rev2);
	assert_int_equal(r.svc->n_deployments, 1);
	assert_string_equal(r.svc->deployments[0].task_definition, rev2);
	assert_true(r.svc->deployments[0].created_at > 1.6e9);
	char dep0[128];
	snprintf(dep0, sizeof dep0, "%s", r.svc->deployments[0].id);
	int desired0 = r.svc->desired;
	res_free(&r);

	/* Deploy revision 1 (no force): the service's taskDefinition changes,
	 * desiredCount does not. moto 5.2.1 does NOT touch the deployments
	 * list here: the same single deployment, still naming revision 2. */
	RUN(&h, &r, c->ops->deploy(c, CLUSTER, SERVICE, rev1, false, cb_service, &r));
	assert_true(r.ok);
	assert_string_equal(r.svc->task_definition, rev1);
	res_free(&r);
	describe(&h, c, SERVICE, &r);
	assert_string_equal(r.svc->task_definition, rev1);
	assert_int_equal(r.svc->desired, desired0);
	assert_int_equal(r.svc->n_deployments, 1);
	assert_string_equal(r.svc->deployments[0].id, dep0);
	res_free(&r);

	/* Forward again to the newer revision with forceNewDeployment. moto 5.2.1:
	 * the list still has ONE deployment, PRIMARY, with a new id and a new
	 * createdAt (the old one is replaced, not kept as ACTIVE), and its
	 * taskDefinition is the one the deployment was first created with
	 * (moto does not update it), so a recovery check on moto must read
	 * the service's taskDefinition and the deployment id/createdAt, not
	 * the deployment's taskDefinition. moto stores taskDefinition as sent
	 * (a "family:revision" stays that, not an ARN): compare by
	 * family:revision, so this test sends the ARN. */
	RUN(&h, &r, c->ops->deploy(c, CLUSTER, SERVICE, rev2, true, cb_service, &r));
	assert_true(r.ok);
	res_free(&r);
	describe(&h, c, SERVICE, &r);
	assert_string_equal(r.svc->task_definition, rev2);
	assert_int_equal(r.svc->n_deployments, 1);
	assert_string_equal(r.svc->deployments[0].status, "PRIMARY");
	assert_string_not_equal(r.svc->deployments[0].id, dep0);
	res_free(&r);

	/* A bad target is ECS's error, not a crash. */
	RUN(&h, &r, c->ops->deploy(c, CLUSTER, "nope-service", rev2, false, cb_service, &r));
	assert_int_equal(r.err.code, BOT_ENOTFOUND);
	res_free(&r);

	/* Dry run: the reads are forwarded, the deploy refused and nothing
	 * changes. */
	struct cloud *dry = cloud_dryrun_create(bot_loop_uv(h.loop), c);
	assert_non_null(dry);
	RUN(&h, &t, dry->ops->task_definitions(dry, "mysecretword-task", cb_tdlist, &t));
	assert_int_equal(t.n, 2);
	RUN(&h, &t, dry->ops->describe_task_definition(dry, rev2, cb_td, &t));
	assert_string_equal(t.image, "nginx:1.27");
	RUN(&h, &r, dry->ops->deploy(dry, CLUSTER, SERVICE, rev1, true, cb_service, &r));
	assert_int_equal(r.err.code, BOT_EDRYRUN);
	assert_non_null(strstr(r.err.message, "taskDefinition="));
	assert_null(r.svc);
	res_free(&r);
	describe(&h, c, SERVICE, &r);
	assert_string_equal(r.svc->task_definition, rev2);
	res_free(&r);
	dry->ops->destroy(dry);
	h_end(&h);
}

/* ---- setup -------------------------------------------------------------- */

static int group_setup(void **state)
{
	char msg[2048];
	(void)state;
	log_set_writer(log_capture, NULL);
	log_set_level(BOT_LOG_DEBUG);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/chatops-aws-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp failed\n");
		return -1;
	}
	if (moto_start(NULL, &moto, msg, sizeof msg)) {
		fprintf(stderr, "\n*** AWS integration tests cannot run: %s\n\n", msg);
		return -1;
	}
	fprintf(stderr, "moto_server pid %d on %s\n", moto_pid(moto), moto_url(moto));
	remember_secret(moto_key(moto, "readonly", "SecretAccessKey"));
	remember_secret(moto_key(moto, "scaler", "SecretAccessKey"));
	return 0;
}

static int group_teardown(void **state)
{
	int bad = 0;
	(void)state;
	moto_stop(moto);
	moto = NULL;
	/* No secret key or session token may have reached any log line. */
	for (int i = 0; i < logs.n_secrets; i++) {
		if (logs.all && strstr(logs.all, logs.secrets[i])) {
			fprintf(stderr, "SECRET LEAKED INTO LOGS: secret #%d\n", i);
			bad = 1;
		}
	}
	if (!logs.all || !strstr(logs.all, "event=aws.sigv4.canonical_request")) {
		fprintf(stderr, "expected the SignatureDoesNotMatch diagnostics at debug\n");
		bad = 1;
	}
	if (logs.n_secrets < 4) {
		fprintf(stderr, "expected 4 secrets to check, got %d\n", logs.n_secrets);
		bad = 1;
	}
	free(logs.all);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		bad = 1;
	log_set_writer(NULL, NULL);
	return bad ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_checked),
		cmocka_unit_test(test_access_denied),
		cmocka_unit_test(test_ecs_describe_scale),
		cmocka_unit_test(test_ecs_discovery),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_cw_metrics_alarms),
		cmocka_unit_test(test_sns_publish),
		cmocka_unit_test(test_creds_env_and_endpoints),
		cmocka_unit_test(test_creds_profile),
		cmocka_unit_test(test_creds_container),
		cmocka_unit_test(test_creds_imds),
		cmocka_unit_test(test_assume_role),
		cmocka_unit_test(test_session_token_shapes),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_destroy_in_flight),
		cmocka_unit_test(test_dryrun_forwards),
		cmocka_unit_test(test_ecs_task_definitions_deploy),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
