/* The app's layer of event deduplication (bot/app.c already_processed):
 * an event id handled once is dropped when it comes again - also after a
 * restart, when the chat backend's in-memory layer is empty, because the
 * record is in the store. Without that layer a command redelivered after a
 * restart runs twice (this test then fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "adapters/store.h"
#include "adapters/store/sqlite.h"
#include "bot/app.h"
#include "bot/base/log.h"

static const char config_yaml[] =
	"defaults:\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    max_desired: 20\n";

/* This test is the backend: a held event's hold is ours. */
struct chat_hold {
	int settled;
	bool ack;
	size_t audit_rows; /* in the store when it was settled */
};

static struct {
	struct chat base;
	int replies; /* ephemerals and posts */
	struct store *store;
	char last[512]; /* the last ephemeral, as plain text */
} chat;

static int count_row(void *ud, const struct store_audit_row *r)
{
	(void)r;
	(*(size_t *)ud)++;
	return 0;
}

static size_t audit_rows(struct store *s)
{
	struct bot_error err = {0};
	size_t n = 0;

	assert_int_equal(store_audit_each(s, 0, count_row, &n, &err), 0);
	return n;
}

static int c_start(struct chat *c) { (void)c; return BOT_EOK; }
static int c_post(struct chat *c, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	(void)c, (void)m, (void)cb, (void)ud;
	chat.replies++;
	return BOT_EOK;
}
static int c_update(struct chat *c, const char *ch, const char *ts, const struct chat_message *m,
		    chat_result_cb cb, void *ud)
{
	(void)c, (void)ch, (void)ts, (void)m, (void)cb, (void)ud;
	return BOT_EOK;
}
static int c_ephemeral(struct chat *c, const char *user, const struct chat_message *m,
		       chat_result_cb cb, void *ud)
{
	(void)c, (void)user, (void)cb, (void)ud;
	chat.replies++;
	if (m->rich)
		chat_text_plain(m->rich, chat.last, sizeof chat.last);
	return BOT_EOK;
}
static void c_stop(struct chat *c, void (*done)(void *), void *ud) { (void)c; done(ud); }
static void c_destroy(struct chat *c) { (void)c; }
static void c_settle(struct chat *c, struct chat_hold *h, bool ack)
{
	(void)c;
	h->settled++;
	h->ack = ack;
	h->audit_rows = audit_rows(chat.store);
}
static const struct chat_ops chat_ops = {
	.name = "test", .start = c_start, .post = c_post, .update = c_update,
	.ephemeral = c_ephemeral, .stop = c_stop, .destroy = c_destroy, .settle = c_settle,
};

static void no_destroy(struct cloud *c) { (void)c; }
static const struct cloud_ops cloud_ops = {.name = "none", .destroy = no_destroy};

struct fixture {
	char dir[64], path[128];
	uv_loop_t loop;
	struct config *cfg;
	struct cloud cloud;
	struct store *store;
	struct app *app;
};

/* A process's life: a fresh store handle and app (no memory of earlier
 * runs but what the store holds). */
static void start(struct fixture *f)
{
	struct bot_error err = {0};
	struct store_sqlite_opts so = {.path = f->path};

	assert_int_equal(store_sqlite_open(&so, &f->store, &err), 0);
	assert_int_equal(store_attach_loop(f->store, &f->loop), 0);
	chat.store = f->store;
	assert_int_equal(app_create(&(struct app_opts){.loop = &f->loop, .cfg = f->cfg,
						       .chat = &chat.base, .cloud = &f->cloud,
						       .store = f->store}, &f->app, &err), 0);
	assert_int_equal(app_start(f->app, &err), 0);
}

static void stop(struct fixture *f)
{
	app_stop(f->app);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	app_destroy(f->app);
	store_close(f->store);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* the store's handle closes */
	f->app = NULL;
	f->store = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct config_errors errs = {0};

	assert_non_null(f);
	log_set_level(BOT_LOG_OFF);
	snprintf(f->dir, sizeof f->dir, "/tmp/app_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/s.db", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	if (config_load_string("t.yaml", config_yaml, 0, &f->cfg, &errs) != BOT_EOK) {
		config_errors_print(&errs, stderr);
		fail();
	}
	config_errors_free(&errs);
	f->cloud.ops = &cloud_ops;
	chat.base.ops = &chat_ops;
	chat.replies = 0;
	memset(chat.base.refused, 0, sizeof chat.base.refused);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const side[] = {"", "-wal", "-shm"};
	char p[160];

	stop(f);
	config_unref(f->cfg);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, side[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void help(struct fixture *f, const char *id)
{
	struct chat_event ev = {
		.type = CHAT_EV_COMMAND, .id = id, .user = "U0ONCALL1", .channel = "C0OPS",
		.command = "/chatops", .text = "help",
	};
	app_on_chat_event(f->app, &ev);
	/* handled once the store said whether it was seen (a later turn) */
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_redelivery_after_restart_dropped(void **state)
{
	struct fixture *f = *state;

	start(f);
	help(f, "cmd:T1");
	assert_int_equal(chat.replies, 1);
	help(f, "cmd:T1"); /* a redelivery in the same run */
	assert_int_equal(chat.replies, 1);
	stop(f);

	start(f); /* a restart: the chat backend's memory is gone */
	help(f, "cmd:T1");
	assert_int_equal(chat.replies, 1);
	help(f, "cmd:T2"); /* a new event is handled */
	assert_int_equal(chat.replies, 2);
	help(f, NULL); /* no id: nothing to deduplicate on, handled */
	assert_int_equal(chat.replies, 3);
}

/* limits.user_commands_per_minute (here 2, from a reload): a third
 * command within the minute is refused with when to try again, and acts
 * not; another user is not held up. */
static void test_user_command_rate(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg;
	char yaml[sizeof config_yaml + 64];

	snprintf(yaml, sizeof yaml, "%slimits:\n  user_commands_per_minute: 2\n", config_yaml);
	assert_int_equal(config_load_string("t.yaml", yaml, 0, &cfg, &errs), BOT_EOK);
	config_errors_free(&errs);
	start(f);
	app_set_config(f->app, cfg);
	config_unref(cfg);
	help(f, "cmd:R1");
	help(f, "cmd:R2");
	assert_int_equal(chat.replies, 2);
	assert_int_equal(chat.base.refused[CHAT_REFUSED_RATE], 0);
	help(f, "cmd:R3");
	assert_int_equal(chat.replies, 3);
	assert_string_equal(chat.last, "You sent more than 2 commands in a minute; try again in "
				       "30 s. Nothing was done.");
	assert_int_equal(chat.base.refused[CHAT_REFUSED_RATE], 1);
	struct chat_event ev = {
		.type = CHAT_EV_COMMAND, .id = "cmd:R4", .user = "U0OTHER", .channel = "C0OPS",
		.command = "/chatops", .text = "help",
	};
	app_on_chat_event(f->app, &ev);
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(chat.replies, 4);
	assert_int_equal(chat.base.refused[CHAT_REFUSED_RATE], 1);
}

static bool held_settled(void *arg)
{
	return ((struct chat_hold *)arg)->settled > 0;
}

static void run_until(struct fixture *f, bool (*done)(void *), void *arg)
{
	for (int i = 0; i < 10000 && !done(arg); i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(done(arg));
}

static void click(struct fixture *f, const char *id, const char *action, const char *value,
		  struct chat_hold *h)
{
	struct chat_event ev = {
		.type = CHAT_EV_BUTTON, .id = id, .user = "U0APPROVER1", .channel = "C0OPS",
		.action_id = action, .value = value, .message_ts = "1.1", .hold = h,
	};
	app_on_chat_event(f->app, &ev);
}

/* A card click's hold is settled once, with an ack, only after its vote is
 * in the store (audited); the click's id is not recorded as processed
 * before that (layer 2 is skipped for card buttons: a process dying in
 * between would make the click look handled to every replica). Other
 * held events are settled once handled; a stopping app does not ack. */
static void test_click_settled_after_its_vote(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	static const char *const approvers[] = {"U0APPROVER1"};
	struct store_gate g = {0}, got = {0};
	enum store_result res;
	uint64_t holder;
	bool armed, seen;
	char value[24];

	start(f);
	g.service = "web";
	g.cluster = "prod";
	g.ecs_service = "web-svc";
	g.requester = "U0ONCALL1";
	g.target = 5;
	g.desired_at_request = 1;
	g.timer_ms = 600000;
	g.approvers = (char **)approvers;
	g.n_approvers = 1;
	g.min_approvals = 1;
	assert_int_equal(store_gate_open(f->store, &g, &res, &holder, &err), 0);
	assert_int_equal(store_gate_delivered(f->store, g.id, "C0OPS", "1.1", &armed, &err), 0);
	snprintf(value, sizeof value, "%" PRIu64, g.id);

	size_t before = audit_rows(f->store);
	struct chat_hold deny = {0};
	click(f, "act:U0APPROVER1:1.5:gate.deny", "gate.deny", value, &deny);
	assert_int_equal(deny.settled, 0); /* the vote is not written yet */
	run_until(f, held_settled, &deny);
	assert_true(deny.ack);
	assert_true(deny.audit_rows > before); /* settled after the vote was audited */
	assert_int_equal(store_gate_get(f->store, g.id, &got, &err), 0);
	assert_int_equal(got.state, GATE_DENIED);
	store_gate_clear(&got);
	assert_int_equal(store_seen_event(f->store, "app:act:U0APPROVER1:1.5:gate.deny", &seen,
					  &err), 0);
	assert_false(seen);

	/* the same click again (another replica's view): refused, settled once */
	struct chat_hold again = {0};
	click(f, "act:U0APPROVER1:1.5:gate.deny", "gate.deny", value, &again);
	run_until(f, held_settled, &again);
	assert_true(again.ack);
	assert_int_equal(deny.settled, 1);

	/* a button that names no request, and one the workflow does not know */
	struct chat_hold bad = {0}, other = {0};
	click(f, "act:U0APPROVER1:1.6:gate.approve", "gate.approve", "nope", &bad);
	assert_int_equal(bad.settled, 1);
	assert_true(bad.ack);
	click(f, "act:U0APPROVER1:1.7:x.y", "x.y", "1", &other);
	run_until(f, held_settled, &other);
	assert_int_equal(other.settled, 1);
	assert_true(other.ack);

	/* stopping: not acted on, not acked */
	struct chat_hold late = {0};
	app_stop(f->app);
	click(f, "act:U0APPROVER1:1.8:gate.approve", "gate.approve", value, &late);
	assert_int_equal(late.settled, 1);
	assert_false(late.ack);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redelivery_after_restart_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_click_settled_after_its_vote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_command_rate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
