/* /restart and /rollback end to end (issue 17), as e2e_test.c does /scale:
 * the fake Slack on one side, moto_server with IAM and SigV4 checking on
 * the other (through the ledger proxy, which counts the calls that reached
 * AWS and records UpdateService's taskDefinition and forceNewDeployment),
 * the real app, workflow, gate engine and SQLite store in between.
 *
 * Each test has its own ECS service and task definition family in moto
 * (tests/fakes/moto-actions.py creates them, reads them back, and changes
 * them behind the bot's back), so the tests do not see each other's
 * deployments. Every test asserts on ECS as moto tells it, on what Slack
 * got (card, thread, ephemerals) and on the gate in the store.
 *
 * moto runs here with MOTO_ECS_SERVICE_RUNNING=1: every service reports one
 * running task and its deployment COMPLETED, so with the one desired task
 * the tests use, the recovery check of restart (a new PRIMARY, settled) and
 * of rollback (the service on the target, settled) passes and the thread
 * says "Recovery: ..."; without it moto reports 0 running and the bot would
 * report "not steady" after its verify timeout. moto keeps a single
 * deployment per service: forceNewDeployment replaces its id in place, and
 * a taskDefinition update changes the service's taskDefinition only.
 *
 * The bot acts as an IAM user holding exactly what `chatops-bot iam-policy`
 * prints for this file's configuration (see test_printed_policy_covers_actions). */
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
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/aws/cloud_aws.h"
#include "adapters/slack/slack.h"
#include "bot/app.h"
#include "bot/domain/audit.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "adapters/store.h"
#include "adapters/store/sqlite.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"

#define APP_TOKEN "xapp-1-A0FAKE-c4n4ry-e2ea-app"
#define BOT_TOKEN "xoxb-1-c4n4ry-e2ea-bot"
#define CLUSTER   "mysecretword-cluster"
#define CHANNEL   "C0OPS"
#define STEP_MS   10000
#define BOT_USER  "chatops-bot-e2e-actions"

static struct moto *moto;
static struct ledger *ledger;
/* What `chatops-bot iam-policy` printed for config_fmt: the bot's user
 * holds exactly that. */
static char printed[16384], printed_note[1024];

static const struct fake_slack_channel chans[] = {
	{"C0OPS", "ops", true},
};

static const uint32_t backoff_steps[] = {50, 100, 200};
static const struct slack_retry_policy fast_backoff = {backoff_steps, 3, 20, SLACK_RETRY_FOREVER};
static const uint32_t api_steps[] = {20, 40};
static const struct slack_retry_policy fast_api = {api_steps, 2, 0, 2};

#define ALL_ACTIONS(name)                                                               \
	"  " name ":\n    cluster: " CLUSTER "\n    max_desired: 5\n"                   \
	"    actions: [scale, restart, rollback]\n"

/* One service per test; each is an ECS service of the same name in moto,
 * made by the test itself (moto-actions.py service). */
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
	"services:\n"
	ALL_ACTIONS("rs-person")
	ALL_ACTIONS("rs-timer")
	ALL_ACTIONS("rs-deny")
	ALL_ACTIONS("rs-stale")
	ALL_ACTIONS("rb-person")
	ALL_ACTIONS("rb-to")
	ALL_ACTIONS("rb-stale")
	"  rb-mofn:\n    cluster: " CLUSTER "\n    max_desired: 5\n"
	"    actions:\n      scale:\n      rollback: {min_approvals: 2}\n"
	"  so-scale:\n    cluster: " CLUSTER "\n    max_desired: 5\n"
	"    actions: [scale]\n";

struct e2e {
	struct harness h;
	char dir[64];
	struct config *cfg;
	struct store *store;
	struct chat *chat;
	struct cloud *cloud;
	struct app *app;
	int denied_before; /* ledger calls refused (HTTP 403) at test start */
};

/* ---- setup ------------------------------------------------------------------ */

static int read_small(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t got;

	if (!f)
		return -1;
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
	return 0;
}

/* `chatops-bot iam-policy` on config_fmt, with the seeded scaler's keys
 * (the account from STS): into printed and printed_note. 0 or -1. */
static int print_policy(char *msg, size_t n)
{
	char dir[64] = "/tmp/e2ea-policy-XXXXXX", path[128], err_path[128], yaml[4096], cmd[1024];
	const char *root = getenv("CHATOPS_BUILD_ROOT");
	FILE *f;
	int st = -1;

	if (!root || !mkdtemp(dir)) {
		snprintf(msg, n, "no CHATOPS_BUILD_ROOT or no temporary directory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/bot.yaml", dir);
	snprintf(err_path, sizeof err_path, "%s/iam-policy.err", dir);
	snprintf(yaml, sizeof yaml, config_fmt, dir);
	f = fopen(path, "w");
	if (f) {
		fputs(yaml, f);
		fclose(f);
	}
	snprintf(cmd, sizeof cmd, "AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s "
		 "AWS_EC2_METADATA_DISABLED=true %s/chatops-bot iam-policy --config %s 2>%s",
		 moto_url(moto), moto_key(moto, "scaler", "AccessKeyId"),
		 moto_key(moto, "scaler", "SecretAccessKey"), root, path, err_path);
	f = popen(cmd, "r");
	if (f) {
		size_t got = fread(printed, 1, sizeof printed - 1, f);
		printed[got] = '\0';
		st = pclose(f);
	}
	(void)read_small(err_path, printed_note, sizeof printed_note);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "e2e_actions: could not remove %s\n", dir);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(msg, n, "chatops-bot iam-policy failed (%d): %.400s", st, printed_note);
		return -1;
	}
	return 0;
}

/* Does policy (a document's text) allow action in some statement? */
static bool policy_has(const char *policy, const char *action)
{
	json_t *doc = json_loads(policy, 0, NULL), *st, *a;
	bool has = false;
	size_t i, j;

	json_array_foreach(json_object_get(doc, "Statement"), i, st) {
		json_t *actions = json_object_get(st, "Action");
		if (json_is_string(actions))
			has |= strcmp(json_string_value(actions), action) == 0;
		json_array_foreach(actions, j, a)
			has |= strcmp(json_string_value(a), action) == 0;
	}
	json_decref(doc);
	return has;
}

static int group_setup(void **state)
{
	char msg[1024];
	char *for_moto = NULL;
	int rc = -1;
	(void)state;

	/* read by moto at every CreateService: one task running (see the top) */
	setenv("MOTO_ECS_SERVICE_RUNNING", "1", 1);
	int started = moto_start(&(struct moto_opts){0}, &moto, msg, sizeof msg);
	unsetenv("MOTO_ECS_SERVICE_RUNNING");
	if (started || ledger_start(moto_url(moto), &ledger, msg, sizeof msg) != 0 ||
	    print_policy(msg, sizeof msg) != 0)
		goto out;
	for_moto = moto_policy_for_moto(printed);
	if (!for_moto) {
		snprintf(msg, sizeof msg, "the printed policy is not a policy document: %.400s",
			 printed);
		goto out;
	}
	if (moto_iam_user(moto, "bot", BOT_USER, for_moto, msg, sizeof msg) != 0)
		goto out;
	setenv("E2E_APP_TOKEN", APP_TOKEN, 1);
	setenv("E2E_BOT_TOKEN", BOT_TOKEN, 1);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "e2e_actions: %s\n", msg);
	free(for_moto);
	return rc;
}

static int group_teardown(void **state)
{
	(void)state;
	ledger_stop(ledger);
	moto_stop(moto);
	return 0;
}

static bool connected(void *arg)
{
	struct e2e *t = arg;
	struct slack_chat_stats s;
	slack_chat_get_stats(t->chat, &s);
	return s.connected && fake_slack_connections(t->h.fs) >= 1;
}

static void bot_up(struct e2e *t)
{
	struct bot_error err = {0};
	struct aws_creds cr = {
		.access_key_id = moto_key(moto, "bot", "AccessKeyId"),
		.secret_access_key = moto_key(moto, "bot", "SecretAccessKey"),
	};

	assert_int_equal(store_sqlite_open(&(struct store_sqlite_opts){.path = t->cfg->store.path}, &t->store, &err), 0);
	assert_int_equal(store_attach_loop(t->store, t->h.uv), 0);
	assert_int_equal(slack_chat_create(t->h.loop, &(struct slack_chat_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN,
			.api_url = fake_slack_api_url(t->h.fs),
			.reconnect_backoff = &fast_backoff, .api_retry = &fast_api,
			.ping_interval_ms = 200, .silence_ms = 2000, .close_timeout_ms = 300,
			.drain_timeout_ms = 2000}, &t->chat, &err), 0);
	assert_int_equal(cloud_aws_create(t->h.loop, &(struct cloud_aws_opts){
			.config = t->cfg, .endpoint_url = ledger_url(ledger), .fixed_creds = &cr},
			&t->cloud, &err), 0);
	assert_int_equal(app_create(&(struct app_opts){
			.loop = t->h.uv, .cfg = t->cfg, .chat = t->chat, .cloud = t->cloud,
			.store = t->store, .verify_first_ms = 50, .verify_max_ms = 200,
			.verify_timeout_ms = 3000}, &t->app, &err), 0);
	t->chat->on_event = app_on_chat_event;
	t->chat->event_ud = t->app;
	assert_int_equal(t->chat->ops->start(t->chat), 0);
	assert_int_equal(app_start(t->app, &err), 0);
	assert_true(harness_wait(&t->h, connected, t, STEP_MS));
}

static int setup(void **state)
{
	struct e2e *t = calloc(1, sizeof *t);
	struct config_errors errs = {0};
	char yaml[4096];

	assert_non_null(t);
	assert_int_equal(harness_init(&t->h, &(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 1, .ping_interval_ms = 200}), 0);
	log_set_level(BOT_LOG_DEBUG);
	snprintf(t->dir, sizeof t->dir, "/tmp/e2ea-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(yaml, sizeof yaml, config_fmt, t->dir);
	assert_int_equal(config_load_string("e2e.yaml", yaml, CONFIG_NEED_SLACK, &t->cfg, &errs), 0);
	config_errors_free(&errs);
	bot_up(t);
	t->denied_before = ledger_count(ledger, NULL, NULL, 403);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct e2e *t = *state;
	struct bot_error err = {0};
	char cmd[128];

	app_stop(t->app);
	harness_stop(&t->h);
	t->cloud->ops->destroy(t->cloud);
	app_destroy(t->app);
	t->chat->ops->destroy(t->chat);
	store_stop(t->store);
	assert_int_equal(harness_destroy(&t->h), 0);
	/* whatever happened, the audit chain verifies */
	assert_int_equal(audit_verify(t->store, NULL, NULL, NULL, &err), 0);
	/* the policy held was enough for everything the bot did */
	assert_int_equal(ledger_count(ledger, NULL, NULL, 403), t->denied_before);
	store_close(t->store);
	config_unref(t->cfg);
	assert_false(harness_log_has("c4n4ry"));
	assert_false(harness_log_has(moto_key(moto, "bot", "SecretAccessKey")));
	harness_log_release();
	snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

/* ---- ECS, as moto tells it (tests/fakes/moto-actions.py) ------------------- */

struct ecs_state {
	char td[256];      /* the service's task definition ARN */
	char dep[128];     /* its (only) deployment's id */
	int n_deployments;
	int desired;
};

/* moto-actions.py cmd svc [arg...]: the service's state after it. */
static struct ecs_state ecs(const char *cmd, const char *svc, const char *a1, const char *a2,
			    const char *a3)
{
	const char *args[] = {cmd, svc, a1, a2, a3};
	size_t n = a3 ? 5 : a2 ? 4 : a1 ? 3 : 2;
	char out[4096], msg[1024];
	struct ecs_state s = {{0}};
	json_t *j, *deps;

	if (moto_script(moto, "moto-actions.py", args, n, out, sizeof out, msg, sizeof msg))
		fail_msg("moto-actions.py %s %s: %s", cmd, svc, msg);
	j = json_loads(out, 0, NULL);
	if (!j)
		fail_msg("moto-actions.py %s %s printed: %.300s", cmd, svc, out);
	deps = json_object_get(j, "deployments");
	snprintf(s.td, sizeof s.td, "%s", json_string_value(json_object_get(j, "taskDefinition")));
	snprintf(s.dep, sizeof s.dep, "%s",
		 json_string_value(json_object_get(json_array_get(deps, 0), "id")));
	s.n_deployments = (int)json_array_size(deps);
	s.desired = (int)json_integer_value(json_object_get(j, "desiredCount"));
	json_decref(j);
	return s;
}

/* A new ECS service svc on revision `on` of `revisions` of family svc-task. */
static struct ecs_state ecs_service(const char *svc, int revisions, int on)
{
	char fam[64], r[8], o[8];

	snprintf(fam, sizeof fam, "%s-task", svc);
	snprintf(r, sizeof r, "%d", revisions);
	snprintf(o, sizeof o, "%d", on);
	struct ecs_state s = ecs("service", svc, fam, r, o);
	assert_int_equal(s.n_deployments, 1);
	return s;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && strcmp(s + a - b, tail) == 0;
}

/* The bot's UpdateService calls for svc that reached moto (HTTP 200), and
 * how many of them had forceNewDeployment=true / named a task definition
 * ending in td_tail (NULL: not counted). */
struct updates {
	int all, forced, to_td;
};

static struct updates updates(const char *svc, const char *td_tail)
{
	struct updates u = {0};
	char line[2048];
	FILE *f = fopen(ledger_path(ledger), "r");

	if (!f)
		return u;
	while (fgets(line, sizeof line, f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *target = json_string_value(json_object_get(j, "target"));
		const char *s = json_string_value(json_object_get(j, "service"));
		const char *td = json_string_value(json_object_get(j, "taskDefinition"));
		if (j && target && ends_with(target, ".UpdateService") && s && strcmp(s, svc) == 0 &&
		    json_integer_value(json_object_get(j, "status")) == 200) {
			u.all++;
			u.forced += json_is_true(json_object_get(j, "forceNewDeployment"));
			u.to_td += td && td_tail && ends_with(td, td_tail);
		}
		json_decref(j);
	}
	fclose(f);
	return u;
}

/* ---- the store -------------------------------------------------------------- */

struct gate_read {
	bool done;
	int rc;
	enum gate_state state;
	char kind[64], action[32];
	size_t n_approved;
};

static void on_gate(void *ud, struct store_req *r)
{
	struct gate_read *g = ud;
	g->done = true;
	g->rc = r->rc;
	g->state = r->gate.state;
	snprintf(g->kind, sizeof g->kind, "%s", r->gate.result_kind ? r->gate.result_kind : "");
	snprintf(g->action, sizeof g->action, "%s", r->gate.action ? r->gate.action : "");
	g->n_approved = r->gate.n_approved;
}

static bool gate_done(void *arg)
{
	return ((struct gate_read *)arg)->done;
}

/* Gate id as stored now. */
static struct gate_read gate_now(struct e2e *t, const char *id)
{
	struct gate_read g = {0};

	assert_int_equal(store_gate_get_async(t->store, strtoull(id, NULL, 10), on_gate, &g), 0);
	assert_true(harness_wait(&t->h, gate_done, &g, STEP_MS));
	assert_int_equal(g.rc, 0);
	return g;
}

/* ---- Slack, as the fake saw it ---------------------------------------------- */

static const struct fake_slack_message *find_msg(struct e2e *t, const char *method,
						  const char *needle, const char *needle2)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = n; i-- > 0;)
		if ((!method || strcmp(m[i].method, method) == 0) && m[i].body &&
		    strstr(m[i].body, needle) && (!needle2 || strstr(m[i].body, needle2)))
			return &m[i];
	return NULL;
}

struct look {
	struct e2e *t;
	const char *method, *needle, *needle2;
};

static bool seen(void *arg)
{
	struct look *l = arg;
	return find_msg(l->t, l->method, l->needle, l->needle2) != NULL;
}

static const struct fake_slack_message *wait_msg(struct e2e *t, const char *method,
						  const char *needle, const char *needle2)
{
	struct look l = {t, method, needle, needle2};
	if (!harness_wait(&t->h, seen, &l, STEP_MS))
		fail_msg("no %s with \"%s\"%s%s%s", method ? method : "message", needle,
			 needle2 ? " and \"" : "", needle2 ? needle2 : "", needle2 ? "\"" : "");
	return find_msg(t, method, needle, needle2);
}

static void command(struct e2e *t, const char *user, const char *cmd, const char *text)
{
	char id[FAKE_SLACK_ID_MAX];
	assert_int_equal(fake_slack_send_slash(t->h.fs, user, CHANNEL, cmd, text, id), 0);
}

static size_t count_posts(struct e2e *t, const char *needle)
{
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postMessage") == 0 && m[i].body &&
		     strstr(m[i].body, needle) != NULL;
	return k;
}

struct card_ref {
	char ts[32];
	char id[16];
	char body[8192]; /* the card as first posted */
};

struct more {
	struct e2e *t;
	const char *needle;
	size_t than;
};

static bool more_posts(void *arg)
{
	struct more *w = arg;
	return count_posts(w->t, w->needle) > w->than;
}

/* cmd ("/restart") as user; waits for the new card of title ("Restart")
 * for svc, and for its deadline, and returns it. */
static struct card_ref request(struct e2e *t, const char *user, const char *cmd,
			       const char *title, const char *svc, const char *text)
{
	struct card_ref c = {{0}};
	char hdr[64];
	const struct fake_slack_message *m;

	snprintf(hdr, sizeof hdr, "%s request #", title);
	struct more w = {t, hdr, count_posts(t, hdr)};
	command(t, user, cmd, text);
	if (!harness_wait(&t->h, more_posts, &w, STEP_MS)) {
		m = find_msg(t, "chat.postEphemeral", svc, NULL);
		fail_msg("no %s card for %s %s (last ephemeral: %.600s)", title, cmd, text,
			 m ? m->body : "none");
	}
	m = find_msg(t, "chat.postMessage", hdr, CARD_ACTION_APPROVE);
	assert_string_equal(m->channel, CHANNEL);
	assert_null(m->thread_ts);
	snprintf(c.ts, sizeof c.ts, "%s", m->ts);
	snprintf(c.body, sizeof c.body, "%s", m->body);
	const char *p = strstr(m->text, hdr);
	assert_non_null(p);
	snprintf(c.id, sizeof c.id, "%d", atoi(p + strlen(hdr)));
	/* the header names the action, the number and the service */
	snprintf(hdr, sizeof hdr, "%s request #%s: %s", title, c.id, svc);
	assert_non_null(strstr(m->body, hdr));
	(void)wait_msg(t, "chat.update", hdr, "Approves automatically at");
	return c;
}

struct card_look {
	struct e2e *t;
	const struct card_ref *c;
	const char *needle, *needle2;
};

static const struct fake_slack_message *find_card(struct card_look *l)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(l->t->h.fs, &n);
	for (size_t i = n; i-- > 0;)
		if (strcmp(m[i].method, "chat.update") == 0 && m[i].ts &&
		    strcmp(m[i].ts, l->c->ts) == 0 && strstr(m[i].body, l->needle) &&
		    (!l->needle2 || strstr(m[i].body, l->needle2)))
			return &m[i];
	return NULL;
}

static bool card_seen(void *arg)
{
	return find_card(arg) != NULL;
}

/* Wait until card c was updated to show needle (and needle2); the update. */
static const struct fake_slack_message *wait_card(struct e2e *t, const struct card_ref *c,
						   const char *needle, const char *needle2)
{
	struct card_look l = {t, c, needle, needle2};
	if (!harness_wait(&t->h, card_seen, &l, STEP_MS))
		fail_msg("card %s never showed \"%s\"%s%s", c->id, needle, needle2 ? " and " : "",
			 needle2 ? needle2 : "");
	return find_card(&l);
}

static void click(struct e2e *t, const char *user, const struct card_ref *c, const char *action)
{
	char id[FAKE_SLACK_ID_MAX];
	assert_int_equal(fake_slack_send_button(t->h.fs, user, CHANNEL, c->ts, action, c->id, id), 0);
}

/* A line in card c's thread holding needle (and needle2). */
static const struct fake_slack_message *wait_thread(struct e2e *t, const struct card_ref *c,
						     const char *needle, const char *needle2)
{
	const struct fake_slack_message *m = wait_msg(t, "chat.postMessage", needle, needle2);
	assert_non_null(m->thread_ts);
	assert_string_equal(m->thread_ts, c->ts);
	return m;
}

/* ---- restart ------------------------------------------------------------------ */

/* A person approves: one UpdateService forceNewDeployment=true on the
 * task definition the service runs; moto's deployment has a new id; the
 * card and thread say so; the recovery check sees the new deployment. */
static void test_restart_approved_by_person(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rs-person", 1, 1);
	struct card_ref c = request(t, "U0ONCALL1", "/restart", "Restart", "rs-person",
				    "rs-person tasks wedged");
	char want[256];

	assert_non_null(strstr(c.body, "a new deployment of `rs-person-task:1` replaces its 1 "
			       "desired tasks"));
	assert_int_equal(gate_now(t, c.id).state, GATE_PENDING);
	assert_string_equal(gate_now(t, c.id).action, "restart");
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	wait_card(t, &c, "*Approved* by <@U0APPROVER1>", "*Done:*");

	struct ecs_state after = ecs("state", "rs-person", NULL, NULL, NULL);
	assert_string_not_equal(after.dep, before.dep);
	assert_string_equal(after.td, before.td);
	assert_int_equal(after.n_deployments, 1);
	struct updates u = updates("rs-person", ":1");
	assert_int_equal(u.all, 1);
	assert_int_equal(u.forced, 1);
	assert_int_equal(u.to_td, 1);

	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_string_equal(g.kind, "restarted");
	(void)wait_thread(t, &c, "*Calling AWS:* ECS UpdateService cluster=`" CLUSTER
			  "` service=`rs-person` taskDefinition=`rs-person-task:1` "
			  "forceNewDeployment=true", NULL);
	snprintf(want, sizeof want, "*Succeeded:* a new deployment %s of rs-person-task:1 started",
		 after.dep);
	(void)wait_thread(t, &c, want, NULL);
	snprintf(want, sizeof want, "*Recovery:* deployment %s: running 1 of 1 tasks", after.dep);
	(void)wait_thread(t, &c, want, NULL);
	/* the recovery line does not call AWS again, nor does anything else */
	assert_int_equal(updates("rs-person", NULL).all, 1);
}

/* Nobody answers: the timer approves, and it restarts the same way. */
static void test_restart_approved_by_timer(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rs-timer", 1, 1);
	struct card_ref c = request(t, "U0ONCALL1", "/restart", "Restart", "rs-timer",
				    "rs-timer --timer 1s");

	assert_int_equal(updates("rs-timer", NULL).all, 0);
	wait_card(t, &c, "*Approved by timer* (no person approved)", "*Done:*");
	struct ecs_state after = ecs("state", "rs-timer", NULL, NULL, NULL);
	assert_string_not_equal(after.dep, before.dep);
	struct updates u = updates("rs-timer", ":1");
	assert_int_equal(u.all, 1);
	assert_int_equal(u.forced, 1);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_string_equal(g.kind, "restarted");
	(void)wait_thread(t, &c, "*Succeeded:* a new deployment ", "of rs-timer-task:1 started");
}

/* Denied: no UpdateService, the deployment id as it was; a late approval
 * changes nothing. */
static void test_restart_denied(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rs-deny", 1, 1);
	struct card_ref c = request(t, "U0ONCALL1", "/restart", "Restart", "rs-deny",
				    "rs-deny --timer 2s");

	click(t, "U0APPROVER2", &c, CARD_ACTION_DENY);
	wait_card(t, &c, "*Denied* by <@U0APPROVER2>", "Nothing was changed");
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_DENIED);
	/* a final state: the timer cannot fire it any more; a late click is
	 * answered (the bot saw it) and changes nothing */
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	const struct fake_slack_message *m =
		wait_msg(t, "chat.postEphemeral", "changed nothing: it was already denied", NULL);
	assert_string_equal(m->user, "U0APPROVER1");
	assert_int_equal(gate_now(t, c.id).state, GATE_DENIED);
	assert_int_equal(updates("rs-deny", NULL).all, 0);
	struct ecs_state after = ecs("state", "rs-deny", NULL, NULL, NULL);
	assert_string_equal(after.dep, before.dep);
	assert_string_equal(after.td, before.td);
}

/* Someone forces a deployment between the request and the approval: the
 * fire-time re-check refuses (FAILED, stale), says so in the thread, and
 * the bot calls nothing; moto keeps the other person's deployment. */
static void test_restart_refused_by_recheck(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rs-stale", 1, 1);
	struct card_ref c = request(t, "U0ONCALL1", "/restart", "Restart", "rs-stale",
				    "rs-stale --timer 1m");
	char want[256];

	struct ecs_state forced = ecs("force", "rs-stale", NULL, NULL, NULL);
	assert_string_not_equal(forced.dep, before.dep);
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	snprintf(want, sizeof want, "a new deployment (%s) started since the request", forced.dep);
	wait_card(t, &c, "*Failed:*", want);
	(void)wait_thread(t, &c, "*Failed* (stale): ", want);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rs-stale", NULL).all, 0);
	assert_int_equal(count_posts(t, "*Calling AWS:*"), 0);
	struct ecs_state after = ecs("state", "rs-stale", NULL, NULL, NULL);
	assert_string_equal(after.dep, forced.dep);
}

/* ---- rollback ----------------------------------------------------------------- */

/* The service on :2, the previous revision :1: the card shows from -> to
 * and the image change; a person approves; the service ends on :1 with one
 * UpdateService naming :1, without forceNewDeployment. */
static void test_rollback_approved_by_person(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rb-person", 2, 2);
	assert_true(ends_with(before.td, "/rb-person-task:2"));
	struct card_ref c = request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-person",
				    "rb-person 1.22 leaks memory");

	assert_non_null(strstr(c.body, "from `rb-person-task:2` to `rb-person-task:1`"));
	/* jansson writes UTF-8 as is: the arrow is in the body as typed */
	assert_non_null(strstr(c.body, "Image of `app`: `nginx:1.22` → `nginx:1.21`"));
	click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	wait_card(t, &c, "*Approved* by <@U0APPROVER2>", "*Done:*");

	struct ecs_state after = ecs("state", "rb-person", NULL, NULL, NULL);
	assert_true(ends_with(after.td, "/rb-person-task:1"));
	struct updates u = updates("rb-person", "/rb-person-task:1");
	assert_int_equal(u.all, 1);
	assert_int_equal(u.to_td, 1);
	assert_int_equal(u.forced, 0);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_string_equal(g.kind, "rolled_back");
	(void)wait_thread(t, &c, "*Calling AWS:* ECS UpdateService cluster=`" CLUSTER
			  "` service=`rb-person` taskDefinition=`rb-person-task:1` (running "
			  "before: `rb-person-task:2`)", NULL);
	(void)wait_thread(t, &c, "*Succeeded:* task definition set to rb-person-task:1 (was "
			  "rb-person-task:2)", NULL);
	(void)wait_thread(t, &c, "*Recovery:* rb-person-task:1: running 1 of 1 tasks", NULL);
	wait_card(t, &c, "*Done:* task definition set to rb-person-task:1", NULL);
}

/* --to 1 from :3 (not the previous revision, :2): the card and the call
 * name :1; the service ends on :1. */
static void test_rollback_to_revision(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rb-to", 3, 3);
	assert_true(ends_with(before.td, "/rb-to-task:3"));
	struct card_ref c = request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-to",
				    "rb-to --to 1 back to the last good one");

	assert_non_null(strstr(c.body, "from `rb-to-task:3` to `rb-to-task:1`"));
	assert_non_null(strstr(c.body, "`nginx:1.23` → `nginx:1.21`"));
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	wait_card(t, &c, "*Done:* task definition set to rb-to-task:1 (was rb-to-task:3)", NULL);
	struct ecs_state after = ecs("state", "rb-to", NULL, NULL, NULL);
	assert_true(ends_with(after.td, "/rb-to-task:1"));
	struct updates u = updates("rb-to", "/rb-to-task:1");
	assert_int_equal(u.all, 1);
	assert_int_equal(u.to_td, 1);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_string_equal(g.kind, "rolled_back");

	/* now on :1: nothing older to go back to, and --to 1 is where it is;
	 * both refused to the requester at request time, no card, no call */
	command(t, "U0ONCALL1", "/rollback", "rb-to");
	const struct fake_slack_message *m = wait_msg(t, "chat.postEphemeral",
		"The task definition family `rb-to-task` has no ACTIVE revision older than 1 to "
		"roll back to. Nothing was requested.", NULL);
	assert_string_equal(m->user, "U0ONCALL1");
	command(t, "U0ONCALL1", "/rollback", "rb-to --to 1");
	(void)wait_msg(t, "chat.postEphemeral", "The service already runs `rb-to-task:1`. Nothing "
		       "was requested.", NULL);
	assert_int_equal(count_posts(t, "Rollback request #"), 1);
	assert_int_equal(updates("rb-to", NULL).all, 1);
}

/* The fire-time re-check, both ways: someone deploys another revision
 * after the request (the service no longer runs "from"); then, on a second
 * request, someone deploys the target itself (the service already runs
 * "to"). Each is FAILED stale, said in the thread, and nothing is called. */
static void test_rollback_refused_by_recheck(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rb-stale", 3, 2);
	struct card_ref c = request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-stale",
				    "rb-stale --timer 1m");

	assert_non_null(strstr(c.body, "from `rb-stale-task:2` to `rb-stale-task:1`"));
	char third[256];
	snprintf(third, sizeof third, "%.*s3", (int)strlen(before.td) - 1, before.td);
	struct ecs_state moved = ecs("deploy", "rb-stale", third, NULL, NULL);
	assert_true(ends_with(moved.td, "/rb-stale-task:3"));
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	const char *why = "the service's task definition changed from rb-stale-task:2 to "
			  "rb-stale-task:3 since the request (someone deployed); nothing was changed";
	wait_card(t, &c, "*Failed:*", why);
	(void)wait_thread(t, &c, "*Failed* (stale): ", why);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rb-stale", NULL).all, 0);
	assert_true(ends_with(ecs("state", "rb-stale", NULL, NULL, NULL).td, "/rb-stale-task:3"));

	/* from :3 the previous is :2; someone deploys :2 before the approval */
	struct card_ref c2 = request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-stale",
				     "rb-stale --timer 1m");
	assert_non_null(strstr(c2.body, "from `rb-stale-task:3` to `rb-stale-task:2`"));
	(void)ecs("deploy", "rb-stale", before.td, NULL, NULL);
	click(t, "U0APPROVER2", &c2, CARD_ACTION_APPROVE);
	why = "the service already runs rb-stale-task:2 (the target); nothing was changed";
	wait_card(t, &c2, "*Failed:*", why);
	(void)wait_thread(t, &c2, "*Failed* (stale): ", why);
	g = gate_now(t, c2.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rb-stale", NULL).all, 0);
	assert_int_equal(count_posts(t, "*Calling AWS:*"), 0);
}

/* M-of-N: rollback: {min_approvals: 2}. One approval keeps the gate
 * PENDING (the card says 1 of 2, nothing is called); the second executes. */
static void test_rollback_two_approvals(void **state)
{
	struct e2e *t = *state;
	(void)ecs_service("rb-mofn", 2, 2);
	struct card_ref c = request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-mofn",
				    "rb-mofn --timer 1m");

	assert_non_null(strstr(c.body, "2 approvals needed"));
	click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	wait_card(t, &c, "*Approved so far:* <@U0APPROVER1> (1 of 2)", CARD_ACTION_APPROVE);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_PENDING);
	assert_int_equal(g.n_approved, 1);
	assert_int_equal(updates("rb-mofn", NULL).all, 0);
	assert_true(ends_with(ecs("state", "rb-mofn", NULL, NULL, NULL).td, "/rb-mofn-task:2"));

	click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	wait_card(t, &c, "*Done:* task definition set to rb-mofn-task:1", NULL);
	g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_int_equal(g.n_approved, 2);
	assert_string_equal(g.kind, "rolled_back");
	assert_int_equal(updates("rb-mofn", "/rb-mofn-task:1").to_td, 1);
	assert_int_equal(updates("rb-mofn", NULL).all, 1);
	assert_true(ends_with(ecs("state", "rb-mofn", NULL, NULL, NULL).td, "/rb-mofn-task:1"));
}

/* ---- what the configuration allows --------------------------------------------- */

struct holder_read {
	bool done;
	int rc;
	uint64_t holder;
};

static void on_holder(void *ud, struct store_req *r)
{
	struct holder_read *h = ud;
	h->done = true;
	h->rc = r->rc;
	h->holder = r->holder;
}

static bool holder_done(void *arg)
{
	return ((struct holder_read *)arg)->done;
}

/* actions: [scale]: /restart and /rollback are refused to the requester,
 * before anything is read: no card, no gate, no AWS call. */
static void test_action_not_allowed(void **state)
{
	struct e2e *t = *state;
	int describes = ledger_count(ledger, "DescribeServices", NULL, 0);
	size_t n0 = 0;

	(void)fake_slack_messages(t->h.fs, &n0);
	command(t, "U0ONCALL1", "/restart", "so-scale");
	const struct fake_slack_message *m = wait_msg(t, "chat.postEphemeral",
		"`/restart` is not allowed for `so-scale` (its configuration allows: scale). "
		"Nothing was requested.", NULL);
	assert_string_equal(m->user, "U0ONCALL1");
	command(t, "U0APPROVER1", "/rollback", "so-scale --to 1");
	m = wait_msg(t, "chat.postEphemeral", "`/rollback` is not allowed for `so-scale` (its "
		     "configuration allows: scale). Nothing was requested.", NULL);
	assert_string_equal(m->user, "U0APPROVER1");

	/* the refusal is the command's answer, before any read: once it is in,
	 * nothing of the request is still on its way */
	size_t n = 0;
	const struct fake_slack_message *all = fake_slack_messages(t->h.fs, &n);
	for (size_t i = n0; i < n; i++)
		assert_string_equal(all[i].method, "chat.postEphemeral");
	struct holder_read h = {0};
	assert_int_equal(store_service_holder_async(t->store, CLUSTER, "so-scale", on_holder, &h), 0);
	assert_true(harness_wait(&t->h, holder_done, &h, STEP_MS));
	assert_int_equal(h.rc, 0);
	assert_int_equal(h.holder, 0);
	assert_int_equal(ledger_count(ledger, "DescribeServices", NULL, 0), describes);
	assert_int_equal(updates("so-scale", NULL).all, 0);
}

/* The bot's user holds exactly what `chatops-bot iam-policy` printed for
 * this configuration (group_setup), and every test's teardown checks that
 * nothing the bot did was refused: so the printed actions are enough for
 * restart and rollback. Rollback being allowed here, they include the task
 * definition reads it needs (which moto enforces: without them the
 * rollback tests fail with AccessDenied before any card). */
static void test_printed_policy_covers_actions(void **state)
{
	(void)state;
	assert_non_null(strstr(printed_note, "account 123456789012, from STS GetCallerIdentity"));
	assert_true(policy_has(printed, "ecs:UpdateService"));  /* restart and rollback */
	assert_true(policy_has(printed, "ecs:DescribeServices"));
	assert_true(policy_has(printed, "ecs:ListTaskDefinitions"));
	assert_true(policy_has(printed, "ecs:DescribeTaskDefinition"));
	assert_false(policy_has(printed, "ecs:ListServices")); /* not a call the bot makes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_approved_by_person, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_approved_by_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_refused_by_recheck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_approved_by_person, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_to_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_refused_by_recheck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_two_approvals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_printed_policy_covers_actions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
