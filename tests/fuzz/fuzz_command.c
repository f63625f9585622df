/* fuzz_command - a slash command line as a person types it, through the
 * real dispatcher: "/scale web 5 --timer 10m high cpu".
 *
 * The first word is the command, the rest its text. The app is real
 * (config, SQLite store in a temporary directory, workflow, commands);
 * chat and cloud are in-process test doubles: the cloud refuses every call, so a
 * /scale that passes its checks ends in a refusal instead of a gate, and
 * each input leaves no state behind. Chat results are delivered after the
 * command returns, as a real backend does. cmd_split is also run alone.
 *
 * Checks beyond the sanitizers: every message the bot sends renders as
 * Block Kit (slack_blocks_build) and has its fallback text, and when the
 * typed text is valid UTF-8 so is every plain text it holds (cutting never
 * splits a character). */
#include "adapters/store/sqlite.h"
#include "fuzz.h"

#include <uv.h>

#include "adapters/slack/blocks.h"
#include "bot/app.h"
#include "bot/base/log.h"
#include "commands/commands.h"

static const char config_yaml[] =
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 100ms\n"
	"  max_timer: 2d\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    max_desired: 20\n"
	"    actions: [scale, rollback]\n";

/* ---- chat: record results, deliver them after the command ---------- */

#define MAX_PENDING 64

struct pending {
	chat_result_cb cb;
	void *ud;
};

static struct {
	struct chat base;
	struct pending q[MAX_PENDING];
	size_t n;
	bool input_utf8; /* the current input is valid UTF-8 */
} chat;

static void check_message(const struct chat_message *m)
{
	struct bot_error err = {0};
	json_t *j = NULL;

	FUZZ_CHECK(m->rich != NULL, "no fallback text");
	/* structured text is checked where it is rendered: Block Kit below
	 * (jansson refuses a string that is not UTF-8); plain text here */
	if (chat.input_utf8) {
		for (size_t i = 0; i < m->n_blocks; i++)
			FUZZ_CHECK(!m->blocks[i].text ||
				   fuzz_utf8_valid(m->blocks[i].text, strlen(m->blocks[i].text)),
				   "block %zu not UTF-8: %s", i, m->blocks[i].text);
	}
	FUZZ_CHECK(slack_blocks_build(m, &j, &err) == BOT_EOK, "blocks: %s", err.msg);
	json_decref(j);
}

static int later(chat_result_cb cb, void *ud)
{
	if (!cb)
		return BOT_EOK;
	FUZZ_CHECK(chat.n < MAX_PENDING, "too many messages for one command");
	chat.q[chat.n++] = (struct pending){cb, ud};
	return BOT_EOK;
}

static int c_start(struct chat *c) { (void)c; return BOT_EOK; }

static int c_post(struct chat *c, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	(void)c;
	check_message(m);
	return later(cb, ud);
}

static int c_update(struct chat *c, const char *channel, const char *ts,
		    const struct chat_message *m, chat_result_cb cb, void *ud)
{
	(void)c, (void)channel, (void)ts;
	check_message(m);
	return later(cb, ud);
}

static int c_ephemeral(struct chat *c, const char *user, const struct chat_message *m,
		       chat_result_cb cb, void *ud)
{
	(void)c, (void)user;
	check_message(m);
	return later(cb, ud);
}

static void c_stop(struct chat *c, void (*done)(void *), void *ud) { (void)c; done(ud); }
static void c_destroy(struct chat *c) { (void)c; }

static const struct chat_ops chat_ops = {
	.name = "fuzz", .start = c_start, .post = c_post, .update = c_update,
	.ephemeral = c_ephemeral, .stop = c_stop, .destroy = c_destroy,
};

/* Deliver results (a post gets a ts) until none are left. */
static void flush_chat(void)
{
	while (chat.n) {
		struct pending p = chat.q[--chat.n];
		p.cb(p.ud, BOT_EOK, "1700000000.000100", NULL);
	}
}

/* ---- cloud: every call fails to start -------------------------------- */

static int no_describe(struct cloud *c, const char *cl, const char *s, cloud_describe_cb cb,
		       void *ud)
{
	(void)c, (void)cl, (void)s, (void)cb, (void)ud;
	return BOT_ETRANSPORT;
}

static int no_scale(struct cloud *c, const char *cl, const char *s, int desired, bool force,
		    cloud_scale_cb cb, void *ud)
{
	(void)c, (void)cl, (void)s, (void)desired, (void)force, (void)cb, (void)ud;
	return BOT_ETRANSPORT;
}

static int no_metrics(struct cloud *c, const char *cl, const char *s, int minutes,
		      cloud_metrics_cb cb, void *ud)
{
	(void)c, (void)cl, (void)s, (void)minutes, (void)cb, (void)ud;
	return BOT_ETRANSPORT;
}

static int no_alarms(struct cloud *c, const char *cl, const char *s, cloud_alarms_cb cb, void *ud)
{
	(void)c, (void)cl, (void)s, (void)cb, (void)ud;
	return BOT_ETRANSPORT;
}

static int no_notify(struct cloud *c, const char *topic, const char *subject, const char *msg,
		     cloud_notify_cb cb, void *ud)
{
	(void)c, (void)topic, (void)subject, (void)msg, (void)cb, (void)ud;
	return BOT_ETRANSPORT;
}

static void no_destroy(struct cloud *c) { (void)c; }

static const struct cloud_ops cloud_ops = {
	.name = "fuzz", .describe = no_describe, .scale = no_scale, .metrics = no_metrics,
	.alarms = no_alarms, .notify = no_notify, .destroy = no_destroy,
};
static struct cloud cloud = {.ops = &cloud_ops};

/* ---- the app, made once --------------------------------------------- */

static uv_loop_t loop;
static struct app *app;
static char dir[64];

static void cleanup(void)
{
	char path[128];

	/* the app and store stay open until exit; remove the files they made */
	static const char *const files[] = {"s.db", "s.db-wal", "s.db-shm"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		(void)remove(path); /* absent files are fine */
	}
	(void)remove(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct bot_error err = {0};
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	struct store *store = NULL;
	char path[128];

	(void)argc;
	(void)argv;
	log_set_level(BOT_LOG_OFF);
	snprintf(dir, sizeof dir, "/tmp/fuzz-command-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/s.db", dir);
	chat.base.ops = &chat_ops;
	if (uv_loop_init(&loop) || store_sqlite_open(&(struct store_sqlite_opts){.path = path}, &store, &err) ||
	    store_attach_loop(store, &loop) ||
	    config_load_string("fuzz.yaml", config_yaml, 0, &cfg, &errs) ||
	    app_create(&(struct app_opts){.loop = &loop, .cfg = cfg, .chat = &chat.base,
					  .cloud = &cloud, .store = store}, &app, &err) ||
	    app_start(app, &err)) {
		fprintf(stderr, "fuzz_command: setup failed: %s\n", err.msg);
		abort();
	}
	config_unref(cfg); /* the app holds its reference */
	config_errors_free(&errs);
	return 0;
}

/* ---- one input -------------------------------------------------------- */

static void split_alone(const char *line, int max_words)
{
	struct cmd_ctx ctx = {0};
	size_t len = strlen(line);
	char *buf = fuzz_cstr((const uint8_t *)line, len);

	if (cmd_split(&ctx, buf, max_words) == BOT_EOK) {
		FUZZ_CHECK(ctx.argc >= 1 && ctx.argc <= CMD_MAX_ARGS && ctx.argc <= max_words + 1,
			   "argc %d for max %d", ctx.argc, max_words);
		for (int i = 1; i < ctx.argc; i++)
			FUZZ_CHECK(ctx.argv[i] >= buf && ctx.argv[i] <= buf + len &&
				   !strchr(ctx.argv[i], '"'), "argv[%d]", i);
		FUZZ_CHECK(ctx.rest >= buf && ctx.rest <= buf + len, "rest");
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_cstr(data, size), *text;
	struct chat_event ev = {
		.type = CHAT_EV_COMMAND, .id = "fuzz", .user = "U0ONCALL1", .channel = "C0OPS",
	};
	struct cmd_env env;

	chat.input_utf8 = fuzz_utf8_valid(line, strlen(line));
	text = line + strcspn(line, " \t\n");
	if (*text)
		*text++ = '\0';
	ev.command = line;
	ev.text = text;
	app_cmd_env(app, &env);
	cmd_dispatch(&env, &ev);
	flush_chat();
	uv_run(&loop, UV_RUN_NOWAIT);
	flush_chat();
	split_alone(text, 2);
	split_alone(text, CMD_MAX_ARGS);
	free(line);
	return 0;
}
