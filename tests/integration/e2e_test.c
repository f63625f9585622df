/* The whole bot end to end, as its users see it: the fake Slack (Socket
 * Mode + Web API over real sockets) on one side, moto_server with IAM and
 * SigV4 checking on the other, the real app, workflow, gate engine and
 * SQLite store in between. AWS traffic goes through the ledger proxy, so
 * the tests count from outside which calls really reached AWS.
 *
 * Covered: approval by timer (desired count becomes the target, the card
 * says the timer approved), approve now, deny (no UpdateService ever), an
 * unauthorized click and a self-approval refused, every kind of bad input
 * (no AWS mutation, only the requester hears), AccessDenied shown in the
 * trail with the bot still serving, a restart with a pending gate whose
 * deadline passed while the bot was down, and --check-config against the
 * seeded account.
 *
 * The bot acts as an IAM user holding exactly the policy `chatops-bot
 * iam-policy` prints for the test's configuration (account learned from
 * STS), as moto can evaluate it (tests/fakes/moto.h, moto_policy_for_moto):
 * every test proves those actions are enough (no call of the bot is refused)
 * and one proves moto refuses an action outside them. The AccessDenied test
 * runs as a user holding the same policy without ecs:UpdateService. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapters/aws/cloud_aws.h"
#include "bot/app.h"
#include "bot/domain/alarm_intake.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "adapters/store.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/logfmt.h"
#include "tests/fakes/moto.h"
#include "tests/integration/e2e_common.h"

/* canaries: no log line may ever hold them (see scripts/canary-check) */
#define APP_TOKEN "xapp-1-A0FAKE-c4n4ry-e2e-app"
#define BOT_TOKEN "xoxb-1-c4n4ry-e2e-bot"
#define SERVICE   "mysecretword-service"
#define CLUSTER   "mysecretword-cluster"
#define BOT_USER  "chatops-bot-e2e"
#define NOSCALE_USER "chatops-bot-e2e-noscale"

static struct moto *moto;
static struct ledger *ledger;
/* The alarm intake's queue (SNS topic -> SQS), made at group setup. */
static char alarm_queue[256], alarm_topic[256];
/* What `chatops-bot iam-policy` printed for config_fmt: stdout, stderr. */
static char printed[16384], printed_note[1024];

static const struct fake_slack_channel chans[] = {
	{"C0OPS", "ops", true},
	{"C0OUTSIDE", "elsewhere", false},
};

static const char config_fmt[] =
	"slack:\n"
	"  app_token_env: E2E_APP_TOKEN\n"
	"  bot_token_env: E2E_BOT_TOKEN\n"
	"aws:\n"
	"  region: us-east-1\n"
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 1s\n"
	"  approvers: [U0APPROVER1, U0APPROVER2]\n"
	"  requesters: [U0ONCALL1]\n"
	"store:\n"
	"  path: %s/bot.db\n"
	"services:\n"  /* last: tests may append services */
	"  " SERVICE ":\n"
	"    cluster: " CLUSTER "\n"
	"    min_desired: 1\n"
	"    max_desired: 200\n"
	"    sns_topic_arn: %s\n";

/* ---- setup ------------------------------------------------------------------ */

/* config_fmt for dir, for `chatops-bot iam-policy` (e2e_print_policy), with
 * the intake on, so the policy covers its queue (every test's bot user has
 * it; only setup_alarms's config polls). */
static void policy_yaml(char *yaml, size_t n, const char *dir)
{
	int o = snprintf(yaml, n, "alarms:\n  queue_url: %s\n", alarm_queue);
	snprintf(yaml + o, n - (size_t)o, config_fmt, dir, moto_topic_arn(moto));
	snprintf(yaml + strlen(yaml), n - strlen(yaml), "    channel: " E2E_CHANNEL "\n");
}

/* policy without one action (its statement kept, the action gone). */
static char *without_action(const char *policy, const char *action)
{
	json_t *doc = json_loads(policy, 0, NULL), *st, *a;
	char *out = NULL;
	size_t i, j;

	json_array_foreach(json_object_get(doc, "Statement"), i, st) {
		json_t *actions = json_object_get(st, "Action");
		json_array_foreach(actions, j, a)
			if (strcmp(json_string_value(a), action) == 0) {
				(void)json_array_remove(actions, j);
				break;
			}
	}
	out = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	return out;
}

/* The alarms' topic and queue in moto (tests/fakes/moto-alarms.py). */
static int alarm_setup(char *msg, size_t n)
{
	char out[1024];
	const char *args[] = {"setup"};
	json_t *j;

	if (moto_script(moto, "moto-alarms.py", args, 1, out, sizeof out, msg, n))
		return -1;
	j = json_loads(out, 0, NULL);
	snprintf(alarm_queue, sizeof alarm_queue, "%s", json_string_value(json_object_get(j, "queue_url")));
	snprintf(alarm_topic, sizeof alarm_topic, "%s", json_string_value(json_object_get(j, "topic_arn")));
	json_decref(j);
	if (strncmp(alarm_queue, "http", 4) != 0 || strncmp(alarm_topic, "arn:", 4) != 0) {
		snprintf(msg, n, "moto-alarms.py setup printed: %.200s", out);
		return -1;
	}
	return 0;
}

/* CloudWatch's notification of name's change to state at at_ms, through
 * the topic to the queue. */
static void alarm_publish(const char *name, const char *state, int64_t at_ms)
{
	char msg[1024], at[32];
	const char *args[] = {"publish", alarm_topic, name, state, at, CLUSTER, SERVICE};

	snprintf(at, sizeof at, "%lld", (long long)at_ms);
	if (moto_script(moto, "moto-alarms.py", args, 7, NULL, 0, msg, sizeof msg))
		fail_msg("publish: %s", msg);
}

static int group_setup(void **state)
{
	char msg[1024];
	char *noscale = NULL;
	int rc = -1;
	(void)state;
	if (moto_start(&(struct moto_opts){0}, &moto, msg, sizeof msg) != 0 ||
	    ledger_start(moto_url(moto), &ledger, msg, sizeof msg) != 0 ||
	    alarm_setup(msg, sizeof msg) != 0 ||
	    e2e_print_policy(moto, policy_yaml, printed, sizeof printed, printed_note,
			     sizeof printed_note, msg, sizeof msg) != 0 ||
	    e2e_policy_user(moto, "bot", BOT_USER, printed, msg, sizeof msg) != 0)
		goto out;
	noscale = without_action(printed, "ecs:UpdateService");
	/* "noscale": the printed policy without ecs:UpdateService */
	if (!noscale ||
	    e2e_policy_user(moto, "noscale", NOSCALE_USER, noscale, msg, sizeof msg) != 0)
		goto out;
	setenv("E2E_APP_TOKEN", APP_TOKEN, 1);
	setenv("E2E_BOT_TOKEN", BOT_TOKEN, 1);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "e2e: %s\n", msg);
	free(noscale);
	return rc;
}

static int group_teardown(void **state)
{
	(void)state;
	ledger_stop(ledger);
	moto_stop(moto);
	return 0;
}

static int updates(const char *service)
{
	return ledger_count(ledger, "UpdateService", service, 200);
}

/* Start the bot as t->who, with a burst of 6 ephemerals per user (30 by
 * default; see test_ephemerals_throttled_per_user). */
static void bot_up(struct e2e *t)
{
	e2e_bot_up(t, &(struct e2e_bot_opts){.app_token = APP_TOKEN, .bot_token = BOT_TOKEN,
					    .moto = moto, .ledger = ledger,
					    .ephemeral_per_minute = 6});
}

/* Put the service back at 1 desired task, as seeded. */
static void reset_service(struct e2e *t);

/* What a test adds to config_fmt: sections before it, services after. */
static const char *extra_top, *extra_services;

static void setup_as(void **state, const char *who)
{
	struct e2e *t = e2e_new(&(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 2, .ping_interval_ms = 200}, "/tmp/e2e-XXXXXX", who);
	char yaml[2048];

	int o = snprintf(yaml, sizeof yaml, "%s", extra_top ? extra_top : "");
	snprintf(yaml + o, sizeof yaml - (size_t)o, config_fmt, t->dir, moto_topic_arn(moto));
	if (extra_services)
		snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "%s", extra_services);
	e2e_load_config(t, yaml);
	reset_service(t);
	bot_up(t);
	t->updates_before = updates(SERVICE);
	t->denied_before = ledger_count(ledger, NULL, NULL, 403);
	*state = t;
}

static int setup(void **state)
{
	setup_as(state, "bot");
	return 0;
}

/* A tight AWS budget (one call per API per second), a second service. */
static int setup_budget(void **state)
{
	extra_top = "limits:\n  aws_calls_per_second: 1\n  aws_burst: 1\n";
	extra_services = "  other-service:\n    cluster: " CLUSTER "\n    max_desired: 5\n";
	setup_as(state, "bot");
	extra_top = extra_services = NULL;
	return 0;
}

/* Three commands a minute per person, reads reused for three seconds. */
static int setup_limits(void **state)
{
	extra_top = "limits:\n  user_commands_per_minute: 3\n  read_window: 3s\n";
	setup_as(state, "bot");
	extra_top = NULL;
	return 0;
}

/* The alarm intake on its moto queue, with the proposal policy: 3 tasks,
 * approved by silence after 2 s. */
static int setup_alarms(void **state)
{
	static char top[512];
	snprintf(top, sizeof top, "alarms:\n  queue_url: %s\n  wait_seconds: 1\n", alarm_queue);
	extra_top = top;
	extra_services = "    channel: " E2E_CHANNEL "\n    on_alarm_scale_to: 3\n"
			 "    on_alarm_timer: 2s\n";
	int rc = setup(state);
	extra_top = extra_services = NULL;
	return rc;
}

static int setup_noscale(void **state)
{
	setup_as(state, "noscale");
	return 0;
}

static int teardown(void **state)
{
	struct e2e *t = *state;

	e2e_bot_finish(t);
	/* the printed policy was enough for everything the bot did */
	if (!t->denial_expected)
		assert_int_equal(ledger_count(ledger, NULL, NULL, 403), t->denied_before);
	/* no secret reached any log line */
	assert_false(harness_log_has(APP_TOKEN));
	assert_false(harness_log_has(BOT_TOKEN));
	assert_false(harness_log_has(moto_key(moto, "scaler", "SecretAccessKey")));
	assert_false(harness_log_has(moto_key(moto, "readonly", "SecretAccessKey")));
	assert_false(harness_log_has(moto_key(moto, "bot", "SecretAccessKey")));
	assert_false(harness_log_has(moto_key(moto, "noscale", "SecretAccessKey")));
	assert_false(harness_log_has("c4n4ry"));
	/* every line is one logfmt event: outside values are quoted */
	for (size_t i = 0; i < harness_log_lines(); i++) {
		struct logfmt_line l;
		char why[128];

		if (!logfmt_parse(harness_log_line(i), &l, why, sizeof why))
			fail_msg("not logfmt (%s): %s", why, harness_log_line(i));
	}
	e2e_free(t);
	return 0;
}

/* ---- AWS, read directly ------------------------------------------------------ */

struct svc_read {
	bool done;
	int code;
	int desired;
};

static void on_read(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct svc_read *r = ud;
	r->done = true;
	r->code = err ? err->code : 0;
	r->desired = s ? s->desired : -1;
}

static void on_reset(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	on_read(ud, err, s);
}

static bool read_done(void *arg)
{
	return ((struct svc_read *)arg)->done;
}

/* What moto says the desired count is now (signed as the scaler). */
static struct cloud *admin_cloud(struct e2e *t)
{
	struct bot_error err = {0};
	struct cloud *c = NULL;
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, "scaler", "AccessKeyId"),
		.secret_access_key = moto_key(moto, "scaler", "SecretAccessKey"),
	};
	/* straight to moto: these calls are the test's, not the bot's */
	assert_int_equal(cloud_aws_create(t->h.loop, &(struct cloud_aws_opts){
			.region = "us-east-1", .endpoint_url = moto_url(moto), .fixed_creds = &cr},
			&c, &err), 0);
	return c;
}

static int desired_now(struct e2e *t)
{
	struct cloud *c = admin_cloud(t);
	struct svc_read r = {0};
	assert_int_equal(c->ops->describe(c, CLUSTER, SERVICE, on_read, &r), 0);
	assert_true(harness_wait(&t->h, read_done, &r, E2E_STEP_MS));
	c->ops->destroy(c);
	assert_int_equal(r.code, 0);
	return r.desired;
}

static void reset_service(struct e2e *t)
{
	struct cloud *c = admin_cloud(t);
	struct svc_read r = {0};
	assert_int_equal(c->ops->scale(c, CLUSTER, SERVICE, 1, false, on_reset, &r), 0);
	assert_true(harness_wait(&t->h, read_done, &r, E2E_STEP_MS));
	c->ops->destroy(c);
	assert_int_equal(r.code, 0);
}

/* ---- Slack, as the fake saw it ---------------------------------------------------- */

/* /scale as user; waits for a new card (with its deadline) and returns it. */
static struct e2e_card request(struct e2e *t, const char *user, const char *text)
{
	return e2e_request(t, user, "/scale", "Scale", NULL, text);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_silence_approves_by_timer(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 100 --timer 1s CPU pegged after launch");
	const struct fake_slack_message *m;

	assert_int_equal(updates(SERVICE), t->updates_before);
	e2e_wait_card(t, &c, "*Approved by timer* (no person approved)", "*Done:*");
	assert_null(strstr(e2e_find_card(t, &c, "*Done:*", NULL)->body,
			   CARD_ACTION_APPROVE)); /* buttons gone */
	assert_int_equal(updates(SERVICE), t->updates_before + 1);
	assert_int_equal(desired_now(t), 100);
	/* the thread under the card holds the trail, AWS request id and recovery included */
	m = e2e_wait_msg(t, "chat.postMessage", "*Calling AWS:* ECS UpdateService", NULL);
	assert_string_equal(m->thread_ts, c.ts);
	assert_true(m->thread_known);
	m = e2e_wait_msg(t, "chat.postMessage", "*Succeeded:* desired count set to 100 (was 1)", NULL);
	assert_string_equal(m->thread_ts, c.ts);
	m = e2e_wait_msg(t, "chat.postMessage", "*Recovery:* running 100 of 100 tasks", NULL);
	assert_string_equal(m->thread_ts, c.ts);
	/* the request and the decision went to the owners' SNS topic */
	char *data = moto_get(moto, "/moto-api/data.json");
	assert_non_null(data);
	assert_non_null(strstr(data, "is approved automatically at"));
	assert_non_null(strstr(data, "Approved by timer"));
	free(data);
}

static void test_approve_now(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 5");

	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Approved* by <@U0APPROVER2>", "*Done:*");
	assert_int_equal(updates(SERVICE), t->updates_before + 1);
	assert_int_equal(desired_now(t), 5);
	const struct fake_slack_message *m = e2e_wait_msg(t, "chat.postEphemeral", "You approved request", NULL);
	assert_string_equal(m->user, "U0APPROVER2");

	/* what the health endpoint reports about it: the store's counts as of
	 * its last answer (each scrape asks again) */
	char doc[8192];
	bool healthy = false;
	uint64_t until = uv_hrtime() / 1000000u + E2E_STEP_MS;
	do {
		app_health_render(t->app, HEALTH_DOC_METRICS, doc, sizeof doc, &healthy);
		harness_pump(&t->h, 20);
	} while (!strstr(doc, "chatops_gates{state=\"SUCCEEDED\"} 1\n") &&
		 uv_hrtime() / 1000000u < until);
	assert_true(healthy);
	assert_non_null(strstr(doc, "chatops_chat_connected 1\n"));
	assert_non_null(strstr(doc, "chatops_gates{state=\"SUCCEEDED\"} 1\n"));
	assert_non_null(strstr(doc, "chatops_gates{state=\"PENDING\"} 0\n"));
	app_health_render(t->app, HEALTH_DOC_STATUS, doc, sizeof doc, &healthy);
	assert_non_null(strstr(doc, "\"chat\":\"slack\",\"chat_connected\":true"));
}

/* The first chat.update of card c at or after since_ns showing needle: its
 * arrival time at the fake, or 0. */
static uint64_t update_arrival(struct e2e *t, const struct e2e_card *c, const char *needle,
			       uint64_t since_ns)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].method, "chat.update") == 0 && m[i].ts &&
		    strcmp(m[i].ts, c->ts) == 0 && m[i].at_ns >= since_ns &&
		    strstr(m[i].body, needle))
			return m[i].at_ns;
	return 0;
}

struct count_look {
	struct e2e *t;
	const char *method, *needle;
	size_t want;
};

static bool counted(void *arg)
{
	struct count_look *l = arg;
	return e2e_count_msgs(l->t, l->method, l->needle) >= l->want;
}

/* Issue "Bounded under an incident's burst": with Slack answering in
 * 100 ms, 300 refused commands in the card's channel (one refusal, an
 * ephemeral, each) must not hold back the card's update or the decision
 * line: both reach Slack within 2 s of the click. The flood comes from 300
 * people, so the per-user ephemeral throttle cannot be what saves it: only
 * the queue's priority can. */
static void test_card_update_ahead_of_flood(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 7");
	char id[FAKE_SLACK_ID_MAX], user[32];
	struct e2e_look dl = {t, "chat.postMessage", "*Decision:*", "Approved"};

	fake_slack_answer_delay(t->h.fs, 100);
	for (int i = 0; i < 300; i++) {
		snprintf(user, sizeof user, "U0STRANGER%03d", i);
		assert_int_equal(fake_slack_send_slash(t->h.fs, user, E2E_CHANNEL, "/scale",
						       SERVICE " 50", id), 0);
	}
	/* the click goes out on the same socket after the flood, so the bot
	 * has queued every refusal before it sees the click */
	uint64_t t0 = uv_hrtime();
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	struct e2e_card_look l = {t, &c, "*Approved* by <@U0APPROVER1>", NULL};
	assert_true(harness_wait(&t->h, e2e_card_seen, &l, 45000));
	assert_true(harness_wait(&t->h, e2e_seen, &dl, 45000));
	uint64_t card_ms = (update_arrival(t, &c, "*Approved* by <@U0APPROVER1>", t0) - t0) / 1000000u;
	uint64_t line_ms = (e2e_find_msg(t, "chat.postMessage", "*Decision:*", "Approved")->at_ns - t0) /
			   1000000u;
	print_message("click -> card update %llu ms, -> decision line %llu ms "
		      "(ephemerals answered by then: %zu)\n", (unsigned long long)card_ms,
		      (unsigned long long)line_ms, fake_slack_calls(t->h.fs, "chat.postEphemeral"));
	assert_true(card_ms <= 2000);
	assert_true(line_ms <= 2000);
	/* the refusals were not all skipped: the flood goes out, behind; and
	 * 300 do not fit in one channel's queue (256): the rest go to each
	 * asker's response_url instead (logged once for the burst as refused
	 * by the queue), none is dropped */
	struct e2e_look el = {t, "chat.postEphemeral", "You may not request changes", NULL};
	assert_true(harness_wait(&t->h, e2e_seen, &el, E2E_STEP_MS));
	struct count_look ul = {t, "response_url", "You may not request changes",
				300 - 256 - 1};
	assert_true(harness_wait(&t->h, counted, &ul, E2E_STEP_MS));
	print_message("through response_url: %zu, dropped: %lu\n",
		      e2e_count_msgs(t, "response_url", "You may not request changes"),
		      t->chat->dropped[CHAT_DROPPED_BUSY]);
	assert_int_equal(t->chat->dropped[CHAT_DROPPED_BUSY], 0);
	assert_int_equal(harness_log_count("slack.api.busy", NULL), 1);
	fake_slack_answer_delay(t->h.fs, 0);
}

struct throttled {
	struct e2e *t;
	unsigned long dropped;
	size_t delivered;
};

static size_t ephemerals_to(struct e2e *t, const char *user)
{
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postEphemeral") == 0 && m[i].user &&
		     strcmp(m[i].user, user) == 0;
	return k;
}

static bool throttled_done(void *arg)
{
	struct throttled *w = arg;
	return w->t->chat->dropped[CHAT_DROPPED_THROTTLED] >= w->dropped &&
	       ephemerals_to(w->t, "U0STRANGER") >= w->delivered;
}

/* One person's flood of refused commands: they get the first 6 refusals
 * (the bot is set to a burst of 6 ephemerals per user here; 30 by
 * default), the rest are dropped,
 * counted in /metrics and logged once for that user. Every command is
 * accounted for (6 + 6 = 12), so nothing else can still arrive. */
static void test_ephemerals_throttled_per_user(void **state)
{
	struct e2e *t = *state;
	struct throttled w = {t, 6, 6};
	char id[FAKE_SLACK_ID_MAX], doc[8192];
	bool healthy;

	for (int i = 0; i < 12; i++)
		assert_int_equal(fake_slack_send_slash(t->h.fs, "U0STRANGER", E2E_CHANNEL, "/scale",
						       SERVICE " 50", id), 0);
	assert_true(harness_wait(&t->h, throttled_done, &w, E2E_STEP_MS));
	assert_int_equal(ephemerals_to(t, "U0STRANGER"), 6);
	assert_int_equal(t->chat->dropped[CHAT_DROPPED_THROTTLED], 6);
	assert_int_equal(harness_log_count("slack.throttled", "U0STRANGER", NULL), 1);
	app_health_render(t->app, HEALTH_DOC_METRICS, doc, sizeof doc, &healthy);
	assert_non_null(strstr(doc, "chatops_chat_dropped_total{reason=\"throttled\"} 6\n"));
	/* someone else is still answered */
	assert_int_equal(fake_slack_send_slash(t->h.fs, "U0STRANGER2", E2E_CHANNEL, "/scale",
					       SERVICE " 50", id), 0);
	const struct fake_slack_message *m = e2e_wait_msg(t, "chat.postEphemeral", "U0STRANGER2", NULL);
	assert_string_equal(m->user, "U0STRANGER2");
}

static void test_deny_never_scales(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 50 --timer 1s");

	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_DENY);
	e2e_wait_card(t, &c, "*Denied* by <@U0APPROVER1>", "Nothing was changed");
	(void)e2e_wait_msg(t, "chat.postMessage", "Nothing will be changed in AWS", NULL);
	harness_pump(&t->h, 1500); /* well past the timer */
	assert_int_equal(updates(SERVICE), t->updates_before);
	assert_int_equal(updates(NULL), t->updates_before);
	assert_int_equal(desired_now(t), 1);
	/* a late approval changes nothing and says why, to the clicker only */
	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	const struct fake_slack_message *m =
		e2e_wait_msg(t, "chat.postEphemeral", "changed nothing: it was already denied", NULL);
	assert_string_equal(m->user, "U0APPROVER2");
	harness_pump(&t->h, 200);
	assert_int_equal(updates(SERVICE), t->updates_before);
}

struct thread_lines {
	struct e2e *t;
	const char *needle;
	size_t n;
};

static bool thread_lines_at_least(void *arg)
{
	struct thread_lines *w = arg;
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(w->t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postMessage") == 0 && m[i].thread_ts &&
		     strstr(m[i].body, w->needle) != NULL;
	return k >= w->n;
}

/* Only the gate's own card, in its own channel, from our own workspace, by
 * an approver the configuration in force still names, decides. Everything
 * else is refused (privately), written to the trail, counted, and never
 * scales. */
static void test_only_its_card_our_team_current_approvers(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 9 --timer 1m");
	const struct fake_slack_message *m;
	struct config_errors errs = {0};
	struct config *revoked = NULL;
	char id[FAKE_SLACK_ID_MAX], yaml[2048], frame[1200], doc[8192], *p;
	bool healthy;

	/* the right gate id, another message / another channel */
	assert_int_equal(fake_slack_send_button(t->h.fs, "U0APPROVER2", E2E_CHANNEL, "1111.2222",
						CARD_ACTION_APPROVE, c.id, id), 0);
	m = e2e_wait_msg(t, "chat.postEphemeral", "that button is not on this request's card", NULL);
	assert_string_equal(m->user, "U0APPROVER2");
	m = e2e_wait_msg(t, "chat.postMessage", "<@U0APPROVER2> pressed *Approve*: refused (that "
			 "button is not on this request's card)", NULL);
	assert_string_equal(m->thread_ts, c.ts);
	assert_int_equal(fake_slack_send_button(t->h.fs, "U0APPROVER2", "C0OUTSIDE", c.ts,
						CARD_ACTION_APPROVE, c.id, id), 0);
	struct thread_lines w = {t, "pressed *Approve*: refused (that button is not on", 2};
	assert_true(harness_wait(&t->h, thread_lines_at_least, &w, E2E_STEP_MS));
	/* the right card, but from another workspace: acked, nothing else */
	snprintf(frame, sizeof frame,
		 "{\"envelope_id\":\"foreign-1\",\"type\":\"interactive\",\"payload\":{"
		 "\"type\":\"block_actions\",\"user\":{\"id\":\"U0APPROVER2\",\"team_id\":\"T0OTHER\"},"
		 "\"api_app_id\":\"A0FAKE\",\"team\":{\"id\":\"T0OTHER\"},\"channel\":{\"id\":\"%s\"},"
		 "\"container\":{\"type\":\"message\",\"message_ts\":\"%s\",\"channel_id\":\"%s\"},"
		 "\"actions\":[{\"action_id\":\"%s\",\"value\":\"%s\",\"action_ts\":\"9.9\"}]}}",
		 E2E_CHANNEL, c.ts, E2E_CHANNEL, CARD_ACTION_APPROVE, c.id);
	assert_int_equal(fake_slack_send_raw(t->h.fs, frame, strlen(frame)), 0);

	/* a reload drops U0APPROVER2 from the approvers: no longer decides */
	int o = snprintf(yaml, sizeof yaml, "%s", extra_top ? extra_top : "");
	snprintf(yaml + o, sizeof yaml - (size_t)o, config_fmt, t->dir, moto_topic_arn(moto));
	if (extra_services)
		snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "%s", extra_services);
	p = strstr(yaml, "approvers: [U0APPROVER1, U0APPROVER2]");
	assert_non_null(p);
	memcpy(p, "approvers: [U0APPROVER1]             ", 37);
	assert_int_equal(config_load_string("e2e.yaml", yaml, CONFIG_NEED_SLACK, &revoked, &errs), 0);
	config_errors_free(&errs);
	app_set_config(t->app, revoked);
	config_unref(revoked);
	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	m = e2e_wait_msg(t, "chat.postEphemeral", "you may no longer decide this request", NULL);
	assert_string_equal(m->user, "U0APPROVER2");
	(void)e2e_wait_msg(t, "chat.postMessage", "<@U0APPROVER2> pressed *Approve*: refused (you may "
			   "no longer decide", NULL);
	assert_int_equal(updates(SERVICE), t->updates_before);

	/* the one still named decides, on the card */
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_DENY);
	e2e_wait_card(t, &c, "*Denied* by <@U0APPROVER1>", NULL);
	assert_int_equal(updates(SERVICE), t->updates_before);
	assert_null(e2e_find_msg(t, "chat.postEphemeral", "You approved request", NULL));
	app_health_render(t->app, HEALTH_DOC_METRICS, doc, sizeof doc, &healthy);
	assert_non_null(strstr(doc, "chatops_chat_refused_total{reason=\"card\"} 2\n"));
	assert_non_null(strstr(doc, "chatops_chat_refused_total{reason=\"revoked\"} 1\n"));
	assert_non_null(strstr(doc, "chatops_chat_refused_total{reason=\"team\"} 1\n"));
}

static void test_unauthorized_and_self_approval(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0APPROVER1", SERVICE " 7 --timer 1m");
	const struct fake_slack_message *m;

	e2e_click(t, "U0STRANGER", &c, CARD_ACTION_APPROVE);
	m = e2e_wait_msg(t, "chat.postEphemeral", "you are not an approver of this service", NULL);
	assert_string_equal(m->user, "U0STRANGER");
	m = e2e_wait_msg(t, "chat.postMessage", "<@U0STRANGER> pressed *Approve*: refused", NULL);
	assert_string_equal(m->thread_ts, c.ts);
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE); /* the requester */
	m = e2e_wait_msg(t, "chat.postEphemeral", "you may not approve your own request", NULL);
	assert_string_equal(m->user, "U0APPROVER1");
	harness_pump(&t->h, 200);
	assert_int_equal(updates(SERVICE), t->updates_before);
	/* another approver may: then it scales, once */
	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Approved* by <@U0APPROVER2>", "*Done:*");
	assert_int_equal(updates(SERVICE), t->updates_before + 1);
}

static void test_bad_input_changes_nothing(void **state)
{
	struct e2e *t = *state;
	static const struct {
		const char *user, *text, *want;
	} cases[] = {
		{"U0ONCALL1", SERVICE, "Missing arguments"},
		{"U0ONCALL1", SERVICE " lots", "must be a whole number of tasks"},
		{"U0ONCALL1", SERVICE " -3", "is negative"},
		{"U0ONCALL1", SERVICE " 201", "between 1 and 200 tasks; 201 is out of bounds"},
		{"U0ONCALL1", "nope-service 3", "Unknown service `nope-service`"},
		{"U0ONCALL1", SERVICE " 3 --timer soon", "is not a duration"},
		{"U0ONCALL1", SERVICE " 3 --timer 500ms", "out of bounds"},
		{"U0ONCALL1", SERVICE " 3 --timer 30d", "out of bounds"},
		{"U0STRANGER", SERVICE " 3", "You may not request changes"},
	};
	size_t n0 = 0;

	(void)fake_slack_messages(t->h.fs, &n0);
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		e2e_command(t, cases[i].user, "/scale", cases[i].text);
		const struct fake_slack_message *m =
			e2e_wait_msg(t, "chat.postEphemeral", cases[i].want, NULL);
		assert_string_equal(m->user, cases[i].user);
	}
	harness_pump(&t->h, 300);
	/* nothing but private answers; no card; no AWS call of any kind */
	size_t n = 0;
	const struct fake_slack_message *all = fake_slack_messages(t->h.fs, &n);
	for (size_t i = n0; i < n; i++)
		assert_string_equal(all[i].method, "chat.postEphemeral");
	assert_int_equal(updates(NULL), t->updates_before);
	assert_int_equal(ledger_count(ledger, "UpdateService", NULL, 0), t->updates_before);
	assert_int_equal(desired_now(t), 1);
}

static void test_access_denied_shown_bot_serves_on(void **state)
{
	struct e2e *t = *state; /* the printed policy without ecs:UpdateService */
	t->denial_expected = true;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 9 --timer 1s");
	const struct fake_slack_message *m;

	m = e2e_wait_msg(t, "chat.postMessage", "*Failed* (aws_error)", "AccessDenied");
	assert_string_equal(m->thread_ts, c.ts);
	assert_non_null(strstr(m->body, "ecs:UpdateService"));
	e2e_wait_card(t, &c, "*Failed:*", "AccessDenied");
	assert_int_equal(desired_now(t), 1);
	/* still serving */
	char id[FAKE_SLACK_ID_MAX];
	assert_int_equal(fake_slack_send_slash(t->h.fs, "U0ONCALL1", E2E_CHANNEL, "/gates", "", id), 0);
	m = e2e_wait_msg(t, "chat.postEphemeral", "Approval requests", "FAILED");
	assert_string_equal(m->user, "U0ONCALL1");
	/* with a link to the card, built from auth.test's workspace url */
	char link[128];
	snprintf(link, sizeof link, "/archives/" E2E_CHANNEL "/p%.10s%s|#%s>", c.ts, c.ts + 11, c.id);
	assert_non_null(strstr(m->body, link));
}

static void test_restart_with_pending_gate(void **state)
{
	struct e2e *t = *state;
	struct e2e_card c = request(t, "U0ONCALL1", SERVICE " 12 --timer 1s");

	/* the bot goes down before the deadline and stays down past it */
	e2e_bot_down(t);
	harness_pump(&t->h, 1500);
	assert_int_equal(updates(SERVICE), t->updates_before);
	bot_up(t);
	/* it resolves the gate as the timer's, says so, and scales once */
	e2e_wait_card(t, &c, "resolved after restart", "*Done:*");
	const struct fake_slack_message *m;
	assert_int_equal(updates(SERVICE), t->updates_before + 1);
	assert_int_equal(desired_now(t), 12);
	m = e2e_wait_msg(t, "chat.postMessage", "The bot restarted and reloaded this request", NULL);
	assert_string_equal(m->thread_ts, c.ts);

	/* a gate still pending at the restart is re-armed and approves on time */
	struct e2e_card c2 = request(t, "U0ONCALL1", SERVICE " 4 --timer 2s");
	e2e_bot_down(t);
	bot_up(t);
	assert_int_equal(updates(SERVICE), t->updates_before + 1);
	e2e_wait_card(t, &c2, "*Approved by timer*", "*Done:*");
	assert_int_equal(updates(SERVICE), t->updates_before + 2);
	assert_int_equal(desired_now(t), 4);
}

/* Run the binary with --check-config on a file; returns its exit status
 * and its output in out. */
static int check_config(struct e2e *t, const char *extra, char *out, size_t n)
{
	char path[128], yaml[2048], cmd[1024];
	const char *root = getenv("CHATOPS_BUILD_ROOT");
	FILE *f;

	assert_non_null(root);
	snprintf(path, sizeof path, "%s/check.yaml", t->dir);
	int o = snprintf(yaml, sizeof yaml, "%s", extra_top ? extra_top : "");
	snprintf(yaml + o, sizeof yaml - (size_t)o, config_fmt, t->dir, moto_topic_arn(moto));
	if (extra_services)
		snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "%s", extra_services);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fchmod(fileno(f), 0600), 0); /* the bot refuses g+w, o+w */
	fputs(yaml, f);
	fputs(extra, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s "
		 "AWS_EC2_METADATA_DISABLED=true %s/chatops-bot --config %s --check-config 2>/dev/null",
		 moto_url(moto), moto_key(moto, "bot", "AccessKeyId"),
		 moto_key(moto, "bot", "SecretAccessKey"), root, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	size_t got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	int st = pclose(f);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* --check-config against the seeded account, as the printed policy's user
 * (GetCallerIdentity, DescribeClusters, DescribeServices): the binary,
 * black-box. */
static void test_check_config_against_moto(void **state)
{
	struct e2e *t = *state;
	char out[4096];

	assert_int_equal(check_config(t, "", out, sizeof out), 0);
	assert_non_null(strstr(out, "configuration is valid"));
	assert_non_null(strstr(out, "AWS: signed in as arn:aws:iam::123456789012:user/" BOT_USER));
	assert_non_null(strstr(out, SERVICE));
	assert_null(strstr(out, moto_key(moto, "bot", "SecretAccessKey")));
	/* a service that is not in the account: named, and exit 3 */
	assert_int_equal(check_config(t, "  ghost-service:\n    cluster: " CLUSTER "\n"
				      "    max_desired: 5\n", out, sizeof out), 3);
	assert_non_null(strstr(out, "ghost-service"));
	assert_non_null(strstr(out, "MISSING"));
}

struct list_read {
	bool done;
	struct cloud_error err;
	size_t n;
};

static void on_list(void *ud, const struct cloud_error *err, const char *const *names, size_t n)
{
	struct list_read *r = ud;
	(void)names;
	r->done = true;
	if (err)
		r->err = *err;
	r->n = n;
}

static bool list_done(void *arg)
{
	return ((struct list_read *)arg)->done;
}

/* The policy is what `chatops-bot iam-policy` printed for this very file,
 * with the account from STS; moto enforces its actions: the bot's own keys
 * may describe the service but not list the cluster (ecs:ListServices is
 * not a call the bot makes, so the policy does not allow it). */
static void test_printed_policy_enforced(void **state)
{
	struct e2e *t = *state;
	struct svc_read r = {0};
	struct list_read l = {0};
	char want[256];

	t->denial_expected = true;
	assert_non_null(strstr(printed_note, "account 123456789012, from STS GetCallerIdentity "
				"(arn:aws:iam::123456789012:user/chatops-scaler)"));
	assert_non_null(strstr(printed, "\"arn:aws:ecs:us-east-1:123456789012:service/" CLUSTER "/"
				SERVICE "\""));
	snprintf(want, sizeof want, "\"%s\"", moto_topic_arn(moto));
	assert_non_null(strstr(printed, want));
	assert_null(strstr(printed, "ecs:ListServices"));

	assert_int_equal(t->cloud->ops->describe(t->cloud, CLUSTER, SERVICE, on_read, &r), 0);
	assert_true(harness_wait(&t->h, read_done, &r, E2E_STEP_MS));
	assert_int_equal(r.code, 0);
	int denied = ledger_count(ledger, NULL, NULL, 403);
	assert_int_equal(t->cloud->ops->list_services(t->cloud, CLUSTER, on_list, &l), 0);
	assert_true(harness_wait(&t->h, list_done, &l, E2E_STEP_MS));
	assert_int_not_equal(l.err.code, 0);
	assert_string_equal(l.err.aws_code, "AccessDenied");
	assert_non_null(strstr(l.err.message, "user/" BOT_USER " is not authorized to perform: "
				"ecs:ListServices"));
	assert_int_equal(ledger_count(ledger, NULL, NULL, 403), denied + 1);
	/* the evidence reads of a request ran under the policy too */
	int metrics = ledger_count(ledger, "GetMetricData", NULL, 200);
	int alarms = ledger_count(ledger, "DescribeAlarms", NULL, 200);
	(void)request(t, "U0ONCALL1", SERVICE " 3 --timer 1m");
	assert_true(ledger_count(ledger, "GetMetricData", NULL, 200) > metrics);
	assert_true(ledger_count(ledger, "DescribeAlarms", NULL, 200) > alarms);
	assert_int_equal(ledger_count(ledger, NULL, NULL, 403), denied + 1);
}



/* A burst of /investigate and /scale of one service from three people
 * (four commands each: fewer than the per-person ephemeral throttle lets
 * through), through Socket Mode, counted at the ledger in front of moto:
 * one read (one DescribeServices, one GetMetricData), one report in the
 * channel, one card; everyone else is answered, pointed to them. */
static void test_burst_shares_one_read(void **state)
{
	struct e2e *t = *state;
	static const char *const users[] = {"U0ONCALL1", "U0APPROVER1", "U0APPROVER2"};
	int describes = ledger_count(ledger, "DescribeServices", NULL, 0);
	int metrics = ledger_count(ledger, "GetMetricData", NULL, 0);

	for (int round = 0; round < 2; round++)
		for (int u = 0; u < 3; u++) {
			e2e_command(t, users[u], "/investigate", SERVICE);
			e2e_command(t, users[u], "/scale", SERVICE " 4");
		}
	/* every command was answered: 1 report + 5 pointers, 1 card + 5 refusals */
	struct count_look l = {t, "chat.postEphemeral", "", 10};
	assert_true(harness_wait(&t->h, counted, &l, E2E_STEP_MS));
	(void)e2e_wait_msg(t, "chat.postMessage", "Investigation: " SERVICE, NULL);
	(void)e2e_wait_msg(t, "chat.postMessage", "Scale request #", NULL);
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 1);
	assert_int_equal(ledger_count(ledger, "GetMetricData", NULL, 0) - metrics, 1);
	assert_int_equal(e2e_count_msgs(t, "chat.postMessage", "Investigation: " SERVICE), 1);
	assert_int_equal(e2e_count_msgs(t, "chat.postMessage", "Scale request #"), 1);
	assert_int_equal(e2e_count_msgs(t, "chat.postEphemeral", "is under way") +
			 e2e_count_msgs(t, "chat.postEphemeral", "was read from AWS"), 5);
}

/* The AWS budget spent: a new read is refused at once with when to retry,
 * and nothing is sent; after that a read goes. */
static void test_budget_spent_says_busy(void **state)
{
	struct e2e *t = *state;
	int describes = ledger_count(ledger, "DescribeServices", NULL, 0);

	e2e_command(t, "U0ONCALL1", "/investigate", SERVICE);
	e2e_command(t, "U0ONCALL1", "/investigate", "other-service");
	const struct fake_slack_message *m =
		e2e_wait_msg(t, "chat.postEphemeral", "The bot is busy: its AWS request budget is spent",
			     "other-service");
	if (!strstr(m->body, "retry in 1 s"))
		fail_msg("%s", m->body);
	(void)e2e_wait_msg(t, "chat.postMessage", "Investigation: " SERVICE, NULL);
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 1);
	assert_int_equal(harness_log_count("aws.budget", "result=busy", NULL), 1);
	/* a second later there is a token again */
	harness_pump(&t->h, 1100);
	e2e_command(t, "U0ONCALL1", "/investigate", "other-service");
	(void)e2e_wait_msg(t, "chat.postEphemeral", "was not found in cluster", NULL);
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 2);
}

/* limits.user_commands_per_minute over Socket Mode: the fourth and fifth
 * command of one person within the minute are refused with when to try
 * again, and read nothing; someone else is not held back. */
static void test_user_rate_limit(void **state)
{
	struct e2e *t = *state;
	int describes = ledger_count(ledger, "DescribeServices", NULL, 0);

	for (int i = 0; i < 5; i++)
		e2e_command(t, "U0ONCALL1", "/investigate", SERVICE);
	struct count_look l = {t, "chat.postEphemeral", "You sent more than 3 commands in a "
			       "minute", 2};
	assert_true(harness_wait(&t->h, counted, &l, E2E_STEP_MS));
	const struct fake_slack_message *m =
		e2e_wait_msg(t, "chat.postEphemeral", "You sent more than 3 commands", NULL);
	assert_non_null(strstr(m->body, "Nothing was done."));
	assert_string_equal(m->user, "U0ONCALL1");
	e2e_command(t, "U0APPROVER1", "/chatops", "help");
	m = e2e_wait_msg(t, "chat.postEphemeral", "You may approve or deny requests for", NULL);
	assert_string_equal(m->user, "U0APPROVER1");
	(void)e2e_wait_msg(t, "chat.postMessage", "Investigation: " SERVICE, NULL);
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 1);
	assert_int_equal(e2e_count_msgs(t, "chat.postEphemeral", "You sent more than"), 2);
}

/* limits.read_window over Socket Mode: within it a repeated /investigate
 * points to the report; after it, a new read and a new report. */
static void test_read_window(void **state)
{
	struct e2e *t = *state;
	int describes = ledger_count(ledger, "DescribeServices", NULL, 0);

	e2e_command(t, "U0ONCALL1", "/investigate", SERVICE);
	(void)e2e_wait_msg(t, "chat.postMessage", "Investigation: " SERVICE, NULL);
	e2e_command(t, "U0APPROVER1", "/investigate", SERVICE);
	const struct fake_slack_message *m =
		e2e_wait_msg(t, "chat.postEphemeral", "was read from AWS", NULL);
	assert_non_null(strstr(m->body, "the report"));
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 1);
	harness_pump(&t->h, 3100);
	e2e_command(t, "U0APPROVER1", "/investigate", SERVICE);
	struct count_look l = {t, "chat.postMessage", "Investigation: " SERVICE, 2};
	assert_true(harness_wait(&t->h, counted, &l, E2E_STEP_MS));
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0) - describes, 2);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The lab's whole flow from the alarm, with a human veto nobody used:
 * CloudWatch's notification (SNS -> SQS, as AWS delivers it) -> one post
 * with the alarm, the investigation and the Scale button -> the policy's
 * proposal (requested by the alarm) -> silence approves at the timer ->
 * scaled in ECS -> OK -> a line in the thread saying what was done, and
 * the post updated. The same notification again changes nothing. */
static void test_alarm_end_to_end(void **state)
{
	struct e2e *t = *state;
	const struct fake_slack_message *post, *m;
	int64_t fired = wall_ms() - 1000;

	alarm_publish("mysecretword-service-cpu-high", "ALARM", fired);
	post = e2e_wait_msg(t, "chat.postMessage", "ALARM: mysecretword-service-cpu-high", NULL);
	assert_string_equal(post->channel, E2E_CHANNEL);
	assert_null(post->thread_ts);
	assert_non_null(strstr(post->body, "Threshold Crossed: 1 out of the last 1 datapoints"));
	assert_non_null(strstr(post->body, "CPUUtilization (AVERAGE)"));
	assert_non_null(strstr(post->body, "investigate.scale")); /* the suggested action */
	assert_non_null(strstr(post->body, "mysecretword-cluster"));  /* the investigation */
	char post_ts[32];
	snprintf(post_ts, sizeof post_ts, "%s", post->ts);

	/* the policy's proposal: a card requested by the alarm, approved by
	 * the timer, scaled */
	m = e2e_wait_msg(t, "chat.postMessage", "*Proposed* (on_alarm policy): request #1", NULL);
	assert_string_equal(m->thread_ts, post_ts);
	m = e2e_wait_msg(t, "chat.postMessage", "Scale request #1", CARD_ACTION_APPROVE);
	assert_non_null(strstr(m->body, "CloudWatch alarm *mysecretword-service-cpu-high* asks"));
	struct e2e_card c = {{0}};
	snprintf(c.ts, sizeof c.ts, "%s", m->ts);
	snprintf(c.id, sizeof c.id, "1");
	e2e_wait_card(t, &c, "*Approved by timer* (no person approved)", "*Done:*");
	assert_int_equal(desired_now(t), 3);
	assert_int_equal(updates(SERVICE), t->updates_before + 1);

	/* recovered */
	alarm_publish("mysecretword-service-cpu-high", "OK", wall_ms());
	m = e2e_wait_msg(t, "chat.postMessage", "*OK* at", "It was in ALARM for");
	assert_string_equal(m->thread_ts, post_ts);
	assert_non_null(strstr(m->body, "request #1"));
	assert_non_null(strstr(m->body, "to scale to 3 (SUCCEEDED)"));
	m = e2e_wait_msg(t, "chat.update", "Recovered: mysecretword-service-cpu-high", NULL);
	assert_string_equal(m->ts, post_ts);

	/* SNS and SQS are at-least-once: the same notification again is one */
	alarm_publish("mysecretword-service-cpu-high", "OK", wall_ms() - 60000); /* older: stale */
	struct alarm_intake_stats st;
	app_alarm_stats(t->app, &st);
	for (int i = 0; i < E2E_STEP_MS / 50 && (st.stale < 1 || st.deleted < 3); i++) {
		harness_pump(&t->h, 50);
		app_alarm_stats(t->app, &st);
	}
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.posted, 1);
	assert_int_equal(st.deleted, 3);
	size_t n = 0, posts = 0;
	const struct fake_slack_message *all = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		posts += strcmp(all[i].method, "chat.postMessage") == 0 &&
			 strstr(all[i].body, "ALARM: mysecretword-service-cpu-high") != NULL;
	assert_int_equal(posts, 1);
	/* and /metrics says so */
	static char doc[65536];
	bool healthy = false;
	app_health_render(t->app, HEALTH_DOC_METRICS, doc, sizeof doc, &healthy);
	assert_non_null(strstr(doc, "chatops_alarm_messages_total{outcome=\"posted\"} 1\n"));
	assert_non_null(strstr(doc, "chatops_alarm_messages_total{outcome=\"stale\"} 1\n"));
	assert_non_null(strstr(doc, "chatops_alarm_messages_total{outcome=\"deleted\"} 3\n"));
	assert_non_null(strstr(doc, "chatops_alarm_record_retries_total 0\n"));
	/* the printed policy covered the queue: nothing was refused */
	assert_int_equal(ledger_count(ledger, NULL, NULL, 403), t->denied_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_silence_approves_by_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approve_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_update_ahead_of_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ephemerals_throttled_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_never_scales, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized_and_self_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_its_card_our_team_current_approvers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_denied_shown_bot_serves_on,
						setup_noscale, teardown),
		cmocka_unit_test_setup_teardown(test_restart_with_pending_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_config_against_moto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_printed_policy_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_shares_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_spent_says_busy, setup_budget, teardown),
		cmocka_unit_test_setup_teardown(test_user_rate_limit, setup_limits, teardown),
		cmocka_unit_test_setup_teardown(test_read_window, setup_limits, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_end_to_end, setup_alarms, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
