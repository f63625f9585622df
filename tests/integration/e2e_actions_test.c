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
#include <unistd.h>

#include "bot/app.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "adapters/store.h"
#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"
#include "tests/integration/e2e_common.h"

#define APP_TOKEN "xapp-1-A0FAKE-c4n4ry-e2ea-app"
#define BOT_TOKEN "xoxb-1-c4n4ry-e2ea-bot"
#define CLUSTER   "mysecretword-cluster"
#define BOT_USER  "chatops-bot-e2e-actions"

static struct moto *moto;
static struct ledger *ledger;
/* What `chatops-bot iam-policy` printed for config_fmt: the bot's user
 * holds exactly that. */
static char printed[16384], printed_note[1024];

static const struct fake_slack_channel chans[] = {
	{"C0OPS", "ops", true},
};

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
	ALL_ACTIONS("rb-timer")
	ALL_ACTIONS("rb-deny")
	ALL_ACTIONS("rb-to")
	ALL_ACTIONS("rb-stale")
	"  rb-mofn:\n    cluster: " CLUSTER "\n    max_desired: 5\n"
	"    actions:\n      scale:\n      rollback: {min_approvals: 2}\n"
	"  so-scale:\n    cluster: " CLUSTER "\n    max_desired: 5\n"
	"    actions: [scale]\n";

/* ---- setup ------------------------------------------------------------------ */

/* config_fmt for dir, for `chatops-bot iam-policy` (e2e_print_policy). */
static void policy_yaml(char *yaml, size_t n, const char *dir)
{
	snprintf(yaml, n, config_fmt, dir);
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
	int rc = -1;
	(void)state;

	/* read by moto at every CreateService: one task running (see the top) */
	setenv("MOTO_ECS_SERVICE_RUNNING", "1", 1);
	int started = moto_start(&(struct moto_opts){0}, &moto, msg, sizeof msg);
	unsetenv("MOTO_ECS_SERVICE_RUNNING");
	if (started || ledger_start(moto_url(moto), &ledger, msg, sizeof msg) != 0 ||
	    e2e_print_policy(moto, policy_yaml, printed, sizeof printed, printed_note,
			     sizeof printed_note, msg, sizeof msg) != 0 ||
	    e2e_policy_user(moto, "bot", BOT_USER, printed, msg, sizeof msg) != 0)
		goto out;
	setenv("E2E_APP_TOKEN", APP_TOKEN, 1);
	setenv("E2E_BOT_TOKEN", BOT_TOKEN, 1);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "e2e_actions: %s\n", msg);
	return rc;
}

static int group_teardown(void **state)
{
	(void)state;
	ledger_stop(ledger);
	moto_stop(moto);
	return 0;
}

static int setup(void **state)
{
	struct e2e *t = e2e_new(&(struct fake_slack_opts){
			.app_token = APP_TOKEN, .bot_token = BOT_TOKEN, .channels = chans,
			.n_channels = 1, .ping_interval_ms = 200}, "/tmp/e2ea-XXXXXX", "bot");
	char yaml[4096];

	snprintf(yaml, sizeof yaml, config_fmt, t->dir);
	e2e_load_config(t, yaml);
	e2e_bot_up(t, &(struct e2e_bot_opts){.app_token = APP_TOKEN, .bot_token = BOT_TOKEN,
					    .moto = moto, .ledger = ledger});
	t->denied_before = ledger_count(ledger, NULL, NULL, 403);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct e2e *t = *state;

	e2e_bot_finish(t);
	/* the policy held was enough for everything the bot did */
	assert_int_equal(ledger_count(ledger, NULL, NULL, 403), t->denied_before);
	assert_false(harness_log_has("c4n4ry"));
	assert_false(harness_log_has(moto_key(moto, "bot", "SecretAccessKey")));
	e2e_free(t);
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
	assert_true(harness_wait(&t->h, gate_done, &g, E2E_STEP_MS));
	assert_int_equal(g.rc, 0);
	return g;
}

/* ---- Slack, as the fake saw it ---------------------------------------------- */

/* A line in card c's thread holding needle (and needle2). */
static const struct fake_slack_message *wait_thread(struct e2e *t, const struct e2e_card *c,
						     const char *needle, const char *needle2)
{
	const struct fake_slack_message *m = e2e_wait_msg(t, "chat.postMessage", needle, needle2);
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
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/restart", "Restart", "rs-person",
					"rs-person tasks wedged");
	char want[256];

	assert_non_null(strstr(c.body, "a new deployment of `rs-person-task:1` replaces its 1 "
			       "desired tasks"));
	assert_int_equal(gate_now(t, c.id).state, GATE_PENDING);
	assert_string_equal(gate_now(t, c.id).action, "restart");
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Approved* by <@U0APPROVER1>", "*Done:*");

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
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/restart", "Restart", "rs-timer",
					"rs-timer --timer 1s");

	assert_int_equal(updates("rs-timer", NULL).all, 0);
	e2e_wait_card(t, &c, "*Approved by timer* (no person approved)", "*Done:*");
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
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/restart", "Restart", "rs-deny",
					"rs-deny --timer 2s");

	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_DENY);
	e2e_wait_card(t, &c, "*Denied* by <@U0APPROVER2>", "Nothing was changed");
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_DENIED);
	/* a final state: the timer cannot fire it any more; a late click is
	 * answered (the bot saw it) and changes nothing */
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	const struct fake_slack_message *m =
		e2e_wait_msg(t, "chat.postEphemeral", "changed nothing: it was already denied", NULL);
	assert_string_equal(m->user, "U0APPROVER1");
	assert_int_equal(gate_now(t, c.id).state, GATE_DENIED);
	assert_int_equal(updates("rs-deny", NULL).all, 0);
	struct ecs_state after = ecs("state", "rs-deny", NULL, NULL, NULL);
	assert_string_equal(after.dep, before.dep);
	assert_string_equal(after.td, before.td);
}

/* Nobody answers a rollback: the timer approves it, the service ends on
 * the previous revision with one UpdateService naming it. */
static void test_rollback_approved_by_timer(void **state)
{
	struct e2e *t = *state;
	(void)ecs_service("rb-timer", 2, 2);
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-timer",
					"rb-timer --timer 1s");

	assert_int_equal(updates("rb-timer", NULL).all, 0);
	e2e_wait_card(t, &c, "*Approved by timer* (no person approved)", "*Done:*");
	struct ecs_state after = ecs("state", "rb-timer", NULL, NULL, NULL);
	assert_true(ends_with(after.td, "/rb-timer-task:1"));
	struct updates u = updates("rb-timer", "/rb-timer-task:1");
	assert_int_equal(u.all, 1);
	assert_int_equal(u.to_td, 1);
	assert_int_equal(u.forced, 0);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_SUCCEEDED);
	assert_string_equal(g.kind, "rolled_back");
}

/* A denied rollback: no UpdateService, the service stays on :2. */
static void test_rollback_denied(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rb-deny", 2, 2);
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-deny",
					"rb-deny --timer 2s");

	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_DENY);
	e2e_wait_card(t, &c, "*Denied* by <@U0APPROVER1>", "Nothing was changed");
	assert_int_equal(gate_now(t, c.id).state, GATE_DENIED);
	/* past its 2 s timer, a late click is answered and changes nothing */
	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	(void)e2e_wait_msg(t, "chat.postEphemeral", "changed nothing: it was already denied", NULL);
	assert_int_equal(gate_now(t, c.id).state, GATE_DENIED);
	assert_int_equal(updates("rb-deny", NULL).all, 0);
	struct ecs_state after = ecs("state", "rb-deny", NULL, NULL, NULL);
	assert_string_equal(after.td, before.td);
}

/* Someone forces a deployment between the request and the approval: the
 * fire-time re-check refuses (FAILED, stale), says so in the thread, and
 * the bot calls nothing; moto keeps the other person's deployment. */
static void test_restart_refused_by_recheck(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rs-stale", 2, 1);
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/restart", "Restart", "rs-stale",
					"rs-stale --timer 1m");
	char want[256];

	struct ecs_state forced = ecs("force", "rs-stale", NULL, NULL, NULL);
	assert_string_not_equal(forced.dep, before.dep);
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	snprintf(want, sizeof want, "a new deployment (%s) started since the request", forced.dep);
	e2e_wait_card(t, &c, "*Failed:*", want);
	(void)wait_thread(t, &c, "*Failed* (stale): ", want);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rs-stale", NULL).all, 0);
	assert_int_equal(e2e_count_msgs(t, "chat.postMessage", "*Calling AWS:*"), 0);
	struct ecs_state after = ecs("state", "rs-stale", NULL, NULL, NULL);
	assert_string_equal(after.dep, forced.dep);

	/* and someone deploys another revision after the next request: what
	 * the approvers approved (restarting :1) is not what runs any more */
	c = e2e_request(t, "U0ONCALL1", "/restart", "Restart", "rs-stale", "rs-stale --timer 1m");
	assert_non_null(strstr(c.body, "a new deployment of `rs-stale-task:1`"));
	struct ecs_state moved = ecs("deploy", "rs-stale", "rs-stale-task:2", NULL, NULL);
	assert_true(ends_with(moved.td, "rs-stale-task:2"));
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Failed:*", "task definition changed from rs-stale-task:1 to "
		      "rs-stale-task:2 since the request (someone deployed)");
	g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rs-stale", NULL).all, 0);
	after = ecs("state", "rs-stale", NULL, NULL, NULL);
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
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-person",
					"rb-person 1.22 leaks memory");

	assert_non_null(strstr(c.body, "from `rb-person-task:2` to `rb-person-task:1`"));
	/* jansson writes UTF-8 as is: the arrow is in the body as typed */
	assert_non_null(strstr(c.body, "Image of `app`: `nginx:1.22` → `nginx:1.21`"));
	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Approved* by <@U0APPROVER2>", "*Done:*");

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
	e2e_wait_card(t, &c, "*Done:* task definition set to rb-person-task:1", NULL);
}

/* --to 1 from :3 (not the previous revision, :2): the card and the call
 * name :1; the service ends on :1. */
static void test_rollback_to_revision(void **state)
{
	struct e2e *t = *state;
	struct ecs_state before = ecs_service("rb-to", 3, 3);
	assert_true(ends_with(before.td, "/rb-to-task:3"));
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-to",
					"rb-to --to 1 back to the last good one");

	assert_non_null(strstr(c.body, "from `rb-to-task:3` to `rb-to-task:1`"));
	assert_non_null(strstr(c.body, "`nginx:1.23` → `nginx:1.21`"));
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Done:* task definition set to rb-to-task:1 (was rb-to-task:3)", NULL);
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
	e2e_command(t, "U0ONCALL1", "/rollback", "rb-to");
	const struct fake_slack_message *m = e2e_wait_msg(t, "chat.postEphemeral",
		"The task definition family `rb-to-task` has no ACTIVE revision older than 1 to "
		"roll back to. Nothing was requested.", NULL);
	assert_string_equal(m->user, "U0ONCALL1");
	e2e_command(t, "U0ONCALL1", "/rollback", "rb-to --to 1");
	(void)e2e_wait_msg(t, "chat.postEphemeral", "The service already runs `rb-to-task:1`. Nothing "
			   "was requested.", NULL);
	assert_int_equal(e2e_count_msgs(t, "chat.postMessage", "Rollback request #"), 1);
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
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-stale",
					"rb-stale --timer 1m");

	assert_non_null(strstr(c.body, "from `rb-stale-task:2` to `rb-stale-task:1`"));
	char third[256];
	snprintf(third, sizeof third, "%.*s3", (int)strlen(before.td) - 1, before.td);
	struct ecs_state moved = ecs("deploy", "rb-stale", third, NULL, NULL);
	assert_true(ends_with(moved.td, "/rb-stale-task:3"));
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	const char *why = "the service's task definition changed from rb-stale-task:2 to "
			  "rb-stale-task:3 since the request (someone deployed); nothing was changed";
	e2e_wait_card(t, &c, "*Failed:*", why);
	(void)wait_thread(t, &c, "*Failed* (stale): ", why);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rb-stale", NULL).all, 0);
	assert_true(ends_with(ecs("state", "rb-stale", NULL, NULL, NULL).td, "/rb-stale-task:3"));

	/* from :3 the previous is :2; someone deploys :2 before the approval */
	struct e2e_card c2 = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-stale",
					 "rb-stale --timer 1m");
	assert_non_null(strstr(c2.body, "from `rb-stale-task:3` to `rb-stale-task:2`"));
	(void)ecs("deploy", "rb-stale", before.td, NULL, NULL);
	e2e_click(t, "U0APPROVER2", &c2, CARD_ACTION_APPROVE);
	why = "the service already runs rb-stale-task:2 (the target); nothing was changed";
	e2e_wait_card(t, &c2, "*Failed:*", why);
	(void)wait_thread(t, &c2, "*Failed* (stale): ", why);
	g = gate_now(t, c2.id);
	assert_int_equal(g.state, GATE_FAILED);
	assert_string_equal(g.kind, "stale");
	assert_int_equal(updates("rb-stale", NULL).all, 0);
	assert_int_equal(e2e_count_msgs(t, "chat.postMessage", "*Calling AWS:*"), 0);
}

/* M-of-N: rollback: {min_approvals: 2}. One approval keeps the gate
 * PENDING (the card says 1 of 2, nothing is called); the second executes. */
static void test_rollback_two_approvals(void **state)
{
	struct e2e *t = *state;
	(void)ecs_service("rb-mofn", 2, 2);
	struct e2e_card c = e2e_request(t, "U0ONCALL1", "/rollback", "Rollback", "rb-mofn",
					"rb-mofn --timer 1m");

	assert_non_null(strstr(c.body, "2 approvals needed"));
	e2e_click(t, "U0APPROVER1", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Approved so far:* <@U0APPROVER1> (1 of 2)", CARD_ACTION_APPROVE);
	struct gate_read g = gate_now(t, c.id);
	assert_int_equal(g.state, GATE_PENDING);
	assert_int_equal(g.n_approved, 1);
	assert_int_equal(updates("rb-mofn", NULL).all, 0);
	assert_true(ends_with(ecs("state", "rb-mofn", NULL, NULL, NULL).td, "/rb-mofn-task:2"));

	e2e_click(t, "U0APPROVER2", &c, CARD_ACTION_APPROVE);
	e2e_wait_card(t, &c, "*Done:* task definition set to rb-mofn-task:1", NULL);
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
	e2e_command(t, "U0ONCALL1", "/restart", "so-scale");
	const struct fake_slack_message *m = e2e_wait_msg(t, "chat.postEphemeral",
		"`/restart` is not allowed for `so-scale` (its configuration allows: scale). "
		"Nothing was requested.", NULL);
	assert_string_equal(m->user, "U0ONCALL1");
	e2e_command(t, "U0APPROVER1", "/rollback", "so-scale --to 1");
	m = e2e_wait_msg(t, "chat.postEphemeral", "`/rollback` is not allowed for `so-scale` (its "
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
	assert_true(harness_wait(&t->h, holder_done, &h, E2E_STEP_MS));
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
		cmocka_unit_test_setup_teardown(test_rollback_approved_by_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_two_approvals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_printed_policy_covers_actions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
