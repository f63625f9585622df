/* e2e_common.c - see e2e_common.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/e2e_common.h"

#include "adapters/aws/cloud_aws.h"
#include "adapters/slack/slack.h"
#include "adapters/store.h"
#include "adapters/store/sqlite.h"
#include "bot/app.h"
#include "bot/base/log.h"
#include "bot/domain/audit.h"
#include "bot/domain/card.h"

/* Fast reconnects and API retries: the tests' waits stay short. */
static const uint32_t backoff_steps[] = {50, 100, 200};
static const struct slack_retry_policy fast_backoff = {backoff_steps, 3, 20, SLACK_RETRY_FOREVER};
static const uint32_t api_steps[] = {20, 40};
static const struct slack_retry_policy fast_api = {api_steps, 2, 0, 2};

/* ---- the bot ---------------------------------------------------------------- */

struct e2e *e2e_new(const struct fake_slack_opts *fake, const char *dir_template,
		    const char *who)
{
	struct e2e *t = calloc(1, sizeof *t);

	assert_non_null(t);
	t->who = who;
	assert_int_equal(harness_init(&t->h, fake), 0);
	log_set_level(BOT_LOG_DEBUG);
	snprintf(t->dir, sizeof t->dir, "%s", dir_template);
	assert_non_null(mkdtemp(t->dir));
	return t;
}

void e2e_load_config(struct e2e *t, const char *yaml)
{
	struct config_errors errs = {0};

	assert_int_equal(config_load_string("e2e.yaml", yaml, CONFIG_NEED_SLACK, &t->cfg, &errs), 0);
	config_errors_free(&errs);
}

static bool connected(void *arg)
{
	struct e2e *t = arg;
	struct slack_chat_stats s;
	slack_chat_get_stats(t->chat, &s);
	return s.connected && fake_slack_connections(t->h.fs) >= 1;
}

void e2e_bot_up(struct e2e *t, const struct e2e_bot_opts *o)
{
	struct bot_error err = {0};
	struct aws_creds cr = {
		.access_key_id = moto_key(o->moto, t->who, "AccessKeyId"),
		.secret_access_key = moto_key(o->moto, t->who, "SecretAccessKey"),
	};

	assert_int_equal(store_sqlite_open(&(struct store_sqlite_opts){.path = t->cfg->store.path}, &t->store, &err), 0);
	assert_int_equal(store_attach_loop(t->store, t->h.uv), 0);
	assert_int_equal(slack_chat_create(t->h.loop, &(struct slack_chat_opts){
			.app_token = o->app_token, .bot_token = o->bot_token,
			.api_url = fake_slack_api_url(t->h.fs),
			.reconnect_backoff = &fast_backoff, .api_retry = &fast_api,
			.ping_interval_ms = 200, .silence_ms = 2000, .close_timeout_ms = 300,
			.drain_timeout_ms = 2000, .ephemeral_per_minute = o->ephemeral_per_minute},
			&t->chat, &err), 0);
	assert_int_equal(cloud_aws_create(t->h.loop, &(struct cloud_aws_opts){
			.config = t->cfg, .endpoint_url = ledger_url(o->ledger), .fixed_creds = &cr},
			&t->cloud, &err), 0);
	assert_int_equal(app_create(&(struct app_opts){
			.loop = t->h.uv, .cfg = t->cfg, .chat = t->chat, .cloud = t->cloud,
			.store = t->store, .verify_first_ms = 50, .verify_max_ms = 200,
			.verify_timeout_ms = 3000}, &t->app, &err), 0);
	t->chat->on_event = app_on_chat_event;
	t->chat->event_ud = t->app;
	assert_int_equal(t->chat->ops->start(t->chat), 0);
	assert_int_equal(app_start(t->app, &err), 0);
	assert_true(harness_wait(&t->h, connected, t, E2E_STEP_MS));
}

static bool chat_stopped(void *arg)
{
	return *(bool *)arg;
}

static void on_stopped(void *ud)
{
	*(bool *)ud = true;
}

void e2e_bot_down(struct e2e *t)
{
	bool stopped = false;

	app_stop(t->app);
	t->chat->ops->stop(t->chat, on_stopped, &stopped);
	assert_true(harness_wait(&t->h, chat_stopped, &stopped, E2E_STEP_MS));
	t->cloud->ops->destroy(t->cloud);
	harness_pump(&t->h, 50); /* close callbacks */
	app_destroy(t->app);
	t->chat->ops->destroy(t->chat);
	store_close(t->store);
	harness_pump(&t->h, 10); /* the store's handle closes */
	t->app = NULL;
	t->chat = NULL;
	t->cloud = NULL;
	t->store = NULL;
}

void e2e_bot_finish(struct e2e *t)
{
	struct bot_error err = {0};

	app_stop(t->app); /* what bot/main's shutdown hook does */
	harness_stop(&t->h);
	t->cloud->ops->destroy(t->cloud);
	app_destroy(t->app);
	t->chat->ops->destroy(t->chat);
	store_stop(t->store); /* its handle closes with the loop */
	assert_int_equal(harness_destroy(&t->h), 0);
	/* whatever happened, the audit chain verifies */
	assert_int_equal(audit_verify(t->store, NULL, NULL, NULL, &err), 0);
	store_close(t->store);
	config_unref(t->cfg);
}

void e2e_free(struct e2e *t)
{
	char cmd[128];

	harness_log_release();
	snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
}

/* Read a whole small file into buf (NUL-terminated). 0 or -1. */
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

int e2e_print_policy(struct moto *moto, void (*write_yaml)(char *yaml, size_t n, const char *dir),
		     char *out, size_t n_out, char *note, size_t n_note, char *msg, size_t n)
{
	char dir[64] = "/tmp/e2e-policy-XXXXXX", path[128], err_path[128], yaml[4096], cmd[1024];
	const char *root = getenv("CHATOPS_BUILD_ROOT");
	FILE *f;
	int st = -1;

	if (!root || !mkdtemp(dir)) {
		snprintf(msg, n, "no CHATOPS_BUILD_ROOT or no temporary directory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/bot.yaml", dir);
	snprintf(err_path, sizeof err_path, "%s/iam-policy.err", dir);
	write_yaml(yaml, sizeof yaml, dir);
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
		size_t got = fread(out, 1, n_out - 1, f);
		out[got] = '\0';
		st = pclose(f);
	}
	(void)read_small(err_path, note, n_note);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "e2e: could not remove %s\n", dir);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(msg, n, "chatops-bot iam-policy failed (%d): %.400s", st, note);
		return -1;
	}
	return 0;
}

int e2e_policy_user(struct moto *moto, const char *who, const char *user, const char *policy,
		    char *msg, size_t n)
{
	char *for_moto = moto_policy_for_moto(policy);
	int rc = -1;

	if (!for_moto)
		snprintf(msg, n, "the printed policy is not a policy document: %.400s", policy);
	else
		rc = moto_iam_user(moto, who, user, for_moto, msg, n);
	free(for_moto);
	return rc;
}

/* ---- Slack, as the fake saw it ---------------------------------------------- */

const struct fake_slack_message *e2e_find_msg(struct e2e *t, const char *method,
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

bool e2e_seen(void *look)
{
	struct e2e_look *l = look;
	return e2e_find_msg(l->t, l->method, l->needle, l->needle2) != NULL;
}

const struct fake_slack_message *e2e_wait_msg(struct e2e *t, const char *method,
					      const char *needle, const char *needle2)
{
	struct e2e_look l = {t, method, needle, needle2};
	if (!harness_wait(&t->h, e2e_seen, &l, E2E_STEP_MS))
		fail_msg("no %s with \"%s\"%s%s%s", method ? method : "message", needle,
			 needle2 ? " and \"" : "", needle2 ? needle2 : "", needle2 ? "\"" : "");
	return e2e_find_msg(t, method, needle, needle2);
}

size_t e2e_count_msgs(struct e2e *t, const char *method, const char *needle)
{
	size_t n = 0, c = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		c += strcmp(m[i].method, method) == 0 && m[i].body && strstr(m[i].body, needle);
	return c;
}

/* ---- acting as Slack's users ------------------------------------------------ */

void e2e_command(struct e2e *t, const char *user, const char *cmd, const char *text)
{
	char id[FAKE_SLACK_ID_MAX];
	assert_int_equal(fake_slack_send_slash(t->h.fs, user, E2E_CHANNEL, cmd, text, id), 0);
}

/* Cards posted so far whose body holds hdr: top-level posts (a card is
 * never in a thread). */
static size_t cards(struct e2e *t, const char *hdr)
{
	size_t n = 0, k = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = 0; i < n; i++)
		k += strcmp(m[i].method, "chat.postMessage") == 0 && !m[i].thread_ts &&
		     m[i].body && strstr(m[i].body, hdr) != NULL;
	return k;
}

struct more {
	struct e2e *t;
	const char *hdr;
	size_t than;
};

static bool more_cards(void *arg)
{
	struct more *w = arg;
	return cards(w->t, w->hdr) > w->than;
}

struct e2e_card e2e_request(struct e2e *t, const char *user, const char *cmd, const char *title,
			    const char *svc, const char *text)
{
	struct e2e_card c = {{0}};
	char hdr[64];
	const struct fake_slack_message *m;

	snprintf(hdr, sizeof hdr, "%s request #", title);
	struct more w = {t, hdr, cards(t, hdr)};
	e2e_command(t, user, cmd, text);
	if (!harness_wait(&t->h, more_cards, &w, E2E_STEP_MS)) {
		m = svc ? e2e_find_msg(t, "chat.postEphemeral", svc, NULL) : NULL;
		fail_msg("no %s card for %s %s (last ephemeral: %.600s)", title, cmd, text,
			 m ? m->body : "none");
	}
	m = e2e_find_msg(t, "chat.postMessage", hdr, CARD_ACTION_APPROVE);
	assert_string_equal(m->channel, E2E_CHANNEL);
	assert_null(m->thread_ts);
	snprintf(c.ts, sizeof c.ts, "%s", m->ts);
	snprintf(c.body, sizeof c.body, "%s", m->body);
	const char *p = strstr(m->text, hdr);
	assert_non_null(p);
	snprintf(c.id, sizeof c.id, "%d", atoi(p + strlen(hdr)));
	/* the header names the action, the number and the service */
	snprintf(hdr, sizeof hdr, "%s request #%s:%s%s", title, c.id, svc ? " " : "",
		 svc ? svc : "");
	if (svc)
		assert_non_null(strstr(m->body, hdr));
	/* the timer runs once the post is confirmed: the card gets the deadline */
	(void)e2e_wait_msg(t, "chat.update", hdr, "Approves automatically at");
	return c;
}

void e2e_click(struct e2e *t, const char *user, const struct e2e_card *c, const char *action)
{
	char id[FAKE_SLACK_ID_MAX];
	assert_int_equal(fake_slack_send_button(t->h.fs, user, E2E_CHANNEL, c->ts, action, c->id,
						id), 0);
}

const struct fake_slack_message *e2e_find_card(struct e2e *t, const struct e2e_card *c,
					       const char *needle, const char *needle2)
{
	size_t n = 0;
	const struct fake_slack_message *m = fake_slack_messages(t->h.fs, &n);
	for (size_t i = n; i-- > 0;)
		if (strcmp(m[i].method, "chat.update") == 0 && m[i].ts &&
		    strcmp(m[i].ts, c->ts) == 0 && strstr(m[i].body, needle) &&
		    (!needle2 || strstr(m[i].body, needle2)))
			return &m[i];
	return NULL;
}

bool e2e_card_seen(void *look)
{
	struct e2e_card_look *l = look;
	return e2e_find_card(l->t, l->c, l->needle, l->needle2) != NULL;
}

const struct fake_slack_message *e2e_wait_card(struct e2e *t, const struct e2e_card *c,
					       const char *needle, const char *needle2)
{
	struct e2e_card_look l = {t, c, needle, needle2};
	if (!harness_wait(&t->h, e2e_card_seen, &l, E2E_STEP_MS))
		fail_msg("card %s never showed \"%s\"%s%s", c->id, needle, needle2 ? " and " : "",
			 needle2 ? needle2 : "");
	return e2e_find_card(t, c, needle, needle2);
}
