/* Console chat round trip: type into the terminal, see events come out;
 * post messages with buttons, see them rendered, press them by typing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/console/console.h"

#define MAX_EV 16

struct seen_ev {
	enum chat_event_type type;
	char user[32], command[32], text[128], action[32], value[32], ts[16], id[32];
};

struct seen {
	int n;
	struct seen_ev ev[MAX_EV];
	bool eof;
};

struct fixture {
	uv_loop_t loop;
	int in[2];   /* test writes in[0]; console reads in[1] */
	int out[2];  /* console writes out[1]; test reads out[0] */
	struct chat *chat;
	struct seen seen;
	char screen[65536];
	size_t screen_len;
	/* the last "alarm" line handed to the bot */
	int alarms;
	char alarm_name[64], alarm_state[24], alarm_reason[64], alarm_channel[16];
};

static int rec_alarm(void *ud, const char *name, const char *state, const char *reason,
		     const char *channel)
{
	struct fixture *f = ud;
	if (strcmp(name, "unknown-one") == 0)
		return BOT_ENOTFOUND;
	f->alarms++;
	snprintf(f->alarm_name, sizeof f->alarm_name, "%s", name);
	snprintf(f->alarm_state, sizeof f->alarm_state, "%s", state);
	snprintf(f->alarm_reason, sizeof f->alarm_reason, "%s", reason ? reason : "(none)");
	snprintf(f->alarm_channel, sizeof f->alarm_channel, "%s", channel);
	return 0;
}

static void on_event(void *ud, const struct chat_event *ev)
{
	struct seen *s = ud;
	if (s->n == MAX_EV)
		return;
	struct seen_ev *e = &s->ev[s->n++];
	e->type = ev->type;
	snprintf(e->user, sizeof e->user, "%s", ev->user ? ev->user : "");
	snprintf(e->command, sizeof e->command, "%s", ev->command ? ev->command : "");
	snprintf(e->text, sizeof e->text, "%s", ev->text ? ev->text : "");
	snprintf(e->action, sizeof e->action, "%s", ev->action_id ? ev->action_id : "");
	snprintf(e->value, sizeof e->value, "%s", ev->value ? ev->value : "");
	snprintf(e->ts, sizeof e->ts, "%s", ev->message_ts ? ev->message_ts : "");
	snprintf(e->id, sizeof e->id, "%s", ev->id ? ev->id : "");
}

static void on_eof(void *ud)
{
	((struct seen *)ud)->eof = true;
}

static void drain_screen(struct fixture *f)
{
	for (;;) {
		ssize_t n = read(f->out[0], f->screen + f->screen_len,
				 sizeof f->screen - 1 - f->screen_len);
		if (n <= 0)
			break;
		f->screen_len += (size_t)n;
	}
	f->screen[f->screen_len] = '\0';
}

/* Type a line and run the loop until `want` events have arrived (or a
 * bounded number of iterations passed). */
static void type(struct fixture *f, const char *line, int want)
{
	size_t n = strlen(line);
	assert_int_equal(write(f->in[0], line, n), (ssize_t)n);
	for (int i = 0; i < 200 && f->seen.n < want; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	drain_screen(f);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct bot_error err;

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->in), 0);
	assert_int_equal(pipe(f->out), 0);
	fcntl(f->out[0], F_SETFL, O_NONBLOCK);
	struct console_opts o = {
		.in_fd = f->in[1], .out_fd = f->out[1], .user = "U0ONCALL1",
		.channel = "C0OPS", .on_eof = on_eof, .eof_ud = &f->seen,
		.on_alarm = rec_alarm, .alarm_ud = f,
	};
	assert_int_equal(console_chat_create(&f->loop, &o, &f->chat, &err), 0);
	f->chat->on_event = on_event;
	f->chat->event_ud = &f->seen;
	assert_int_equal(f->chat->ops->start(f->chat), 0);
	*state = f;
	return 0;
}

static void stop_done(void *ud) { *(bool *)ud = true; }

static int teardown(void **state)
{
	struct fixture *f = *state;
	bool stopped = false;
	f->chat->ops->stop(f->chat, stop_done, &stopped);
	assert_true(stopped);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	f->chat->ops->destroy(f->chat);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->in[0]);
	close(f->out[0]);
	close(f->out[1]);
	free(f);
	return 0;
}

static char posted_ts[32];
static void on_posted(void *ud, int rc, const char *ts, const char *detail)
{
	(void)detail;
	*(int *)ud = rc;
	snprintf(posted_ts, sizeof posted_ts, "%s", ts ? ts : "");
}

static const struct chat_confirm deny_confirm = {
	.title = "Deny?", .text = "Deny scaling web to 5?", .yes = "Deny", .no = "Cancel",
};
static const struct chat_button buttons[] = {
	{.action_id = "gate.approve", .text = "Approve", .value = "g-7", .style = CHAT_BUTTON_PRIMARY},
	{.action_id = "gate.deny", .text = "Deny", .value = "g-7", .style = CHAT_BUTTON_DANGER,
	 .confirm = &deny_confirm},
};
/* t, reset to hold just s; returns t. */
static const struct chat_text *text_of(struct chat_text *t, const char *s)
{
	chat_text_init(t);
	chat_text_printf(t, "%s", s);
	return t;
}

static struct chat_text card_what, card_title;
static const struct chat_block blocks[] = {
	{.type = CHAT_BLOCK_HEADER, .text = "Scale request"},
	{.type = CHAT_BLOCK_SECTION, .rich = &card_what},
	{.type = CHAT_BLOCK_ACTIONS, .buttons = buttons, .n_buttons = 2},
};

/* The card's texts (blocks[] points at them). */
static void card_texts(void)
{
	chat_text_init(&card_what);
	chat_text_user(&card_what, "U0ONCALL1");
	chat_text_printf(&card_what, " asks to scale ");
	chat_text_bold(&card_what, "web");
	chat_text_printf(&card_what, " 1 → 5 & more");
	text_of(&card_title, "Scale request");
}

static void post_card(struct fixture *f)
{
	card_texts();
	struct chat_message m = {.channel = "C0OPS", .rich = &card_title, .blocks = blocks,
				 .n_blocks = BOT_ARRAY_LEN(blocks)};
	int rc = -1;
	assert_int_equal(chat_post(f->chat, &m, on_posted, &rc), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(posted_ts, "1");
	drain_screen(f);
}

static void test_command_event(void **state)
{
	struct fixture *f = *state;
	type(f, "/scale   web 5 high cpu\n", 1);
	assert_int_equal(f->seen.n, 1);
	assert_int_equal(f->seen.ev[0].type, CHAT_EV_COMMAND);
	assert_string_equal(f->seen.ev[0].command, "/scale");
	assert_string_equal(f->seen.ev[0].text, "web 5 high cpu");
	assert_string_equal(f->seen.ev[0].user, "U0ONCALL1");
	/* ids are unique across runs: "console-<run>-<n>" */
	assert_int_equal(strncmp(f->seen.ev[0].id, "console-", 8), 0);
	const char *n = strrchr(f->seen.ev[0].id, '-');
	assert_true(n && n > f->seen.ev[0].id + 8);
	assert_string_equal(n, "-1");
}

/* "alarm <name> [state] [reason]" hands the change to the bot; a state
 * word is optional and any case; a bad line or an unknown alarm is told,
 * and nothing becomes a chat event. */
static void test_alarm_line(void **state)
{
	struct fixture *f = *state;

	type(f, "alarm web-cpu-high\n", 0);
	assert_int_equal(f->alarms, 1);
	assert_string_equal(f->alarm_name, "web-cpu-high");
	assert_string_equal(f->alarm_state, "ALARM");
	assert_string_equal(f->alarm_reason, "(none)");
	assert_string_equal(f->alarm_channel, "C0OPS");
	type(f, "alarm   web-cpu-high ok   CPU back at 40%\n", 0);
	assert_int_equal(f->alarms, 2);
	assert_string_equal(f->alarm_state, "OK");
	assert_string_equal(f->alarm_reason, "CPU back at 40%");
	type(f, "alarm web-cpu-high insufficient_data\n", 0);
	assert_string_equal(f->alarm_state, "INSUFFICIENT_DATA");
	type(f, "alarm\tweb-cpu-high\tOK\tback\n", 0);
	assert_string_equal(f->alarm_name, "web-cpu-high");
	assert_string_equal(f->alarm_state, "OK");
	assert_string_equal(f->alarm_reason, "back");
	type(f, "alarm web-cpu-high okay then\n", 0); /* "okay" is no state word */
	assert_string_equal(f->alarm_state, "ALARM");
	assert_string_equal(f->alarm_reason, "okay then");
	type(f, "alarm\n", 0);
	assert_non_null(strstr(f->screen, "usage: alarm <name> [ALARM|OK|INSUFFICIENT_DATA]"));
	type(f, "alarm unknown-one\n", 0);
	assert_non_null(strstr(f->screen, "no service has alarm unknown-one"));
	assert_int_equal(f->alarms, 5);
	assert_int_equal(f->seen.n, 0);
}

static void test_buttons_render_and_press(void **state)
{
	struct fixture *f = *state;
	post_card(f);
	assert_non_null(strstr(f->screen, "Scale request"));
	assert_non_null(strstr(f->screen, "@U0ONCALL1 asks to scale web 1 → 5 & more"));
	assert_non_null(strstr(f->screen, "[ Approve ]  type: approve 1"));
	assert_non_null(strstr(f->screen, "[ Deny ]  type: deny 1"));

	type(f, "approve 1\n", 1);
	assert_int_equal(f->seen.n, 1);
	assert_int_equal(f->seen.ev[0].type, CHAT_EV_BUTTON);
	assert_string_equal(f->seen.ev[0].action, "gate.approve");
	assert_string_equal(f->seen.ev[0].value, "g-7");
	assert_string_equal(f->seen.ev[0].ts, "1");

	/* deny asks for confirmation; "n" cancels, "y" confirms */
	type(f, "deny 1\n", 1);
	assert_non_null(strstr(f->screen, "Deny scaling web to 5?"));
	type(f, "n\n", 1);
	assert_int_equal(f->seen.n, 1);
	assert_non_null(strstr(f->screen, "(cancelled)"));
	type(f, "DENY 1\n", 1);
	type(f, "y\n", 2);
	assert_int_equal(f->seen.n, 2);
	assert_string_equal(f->seen.ev[1].action, "gate.deny");

	/* act as someone else */
	type(f, "as U0APPROVER1\n", 2);
	assert_non_null(strstr(f->screen, "you are now @U0APPROVER1"));
	type(f, "approve 1\n", 3);
	assert_string_equal(f->seen.ev[2].user, "U0APPROVER1");
	type(f, "as nobody\n", 3);
	assert_non_null(strstr(f->screen, "usage: as <user-id>"));
}

/* A card names itself with a ref ("#7"); buttons are pressed by it, and the
 * newest message with that ref is the one pressed (a card posted after an
 * investigation report is message 2, not 1). */
static void test_press_by_ref(void **state)
{
	struct fixture *f = *state;
	int rc = -1;
	struct chat_text rt, dt, dtext;
	card_texts();
	struct chat_message report = {.channel = "C0OPS", .rich = text_of(&rt, "report")};
	struct chat_message m = {.channel = "C0OPS", .rich = &card_title, .blocks = blocks,
				 .n_blocks = BOT_ARRAY_LEN(blocks), .ref = "#7"};
	assert_int_equal(chat_post(f->chat, &report, on_posted, &rc), 0);
	assert_int_equal(chat_post(f->chat, &m, on_posted, &rc), 0);
	assert_string_equal(posted_ts, "2");
	drain_screen(f);
	assert_non_null(strstr(f->screen, "[ Approve ]  type: approve #7"));

	type(f, "approve #7\n", 1);
	assert_string_equal(f->seen.ev[0].action, "gate.approve");
	assert_string_equal(f->seen.ev[0].ts, "2");
	type(f, "deny #7\n", 1);
	type(f, "y\n", 2);
	assert_string_equal(f->seen.ev[1].action, "gate.deny");
	assert_string_equal(f->seen.ev[1].ts, "2");

	type(f, "approve #8\n", 2);
	assert_non_null(strstr(f->screen, "no card #8 with buttons"));
	type(f, "approve 1\n", 2);
	assert_non_null(strstr(f->screen, "message 1 has no buttons"));

	/* the card decided: its update has no buttons left */
	struct chat_block done = {.type = CHAT_BLOCK_SECTION, .rich = text_of(&dtext, "Approved")};
	struct chat_message upd = {.rich = text_of(&dt, "Approved"), .blocks = &done, .n_blocks = 1,
				   .ref = "#7"};
	assert_int_equal(chat_update(f->chat, "C0OPS", "2", &upd, on_posted, &rc), 0);
	drain_screen(f);
	type(f, "approve #7\n", 2);
	assert_non_null(strstr(f->screen, "card #7 has no buttons (any more)"));
}

/* A label of several words ("Scale to 2") is pressed as shown; free text
 * that happens to end in a number stays text for the bot. */
static void test_press_multiword_label(void **state)
{
	struct fixture *f = *state;
	int rc = -1;
	static const struct chat_button scale = {.action_id = "investigate.scale",
						 .text = "Scale to 2", .value = "web:2"};
	struct chat_block b = {.type = CHAT_BLOCK_ACTIONS, .buttons = &scale, .n_buttons = 1};
	struct chat_text rt;
	struct chat_message m = {.channel = "C0OPS", .rich = text_of(&rt, "report"), .blocks = &b,
				 .n_blocks = 1};
	assert_int_equal(chat_post(f->chat, &m, on_posted, &rc), 0);
	drain_screen(f);
	assert_non_null(strstr(f->screen, "[ Scale to 2 ]  type: scale to 2 1"));
	type(f, "scale to 2 1\n", 1);
	assert_int_equal(f->seen.ev[0].type, CHAT_EV_BUTTON);
	assert_string_equal(f->seen.ev[0].action, "investigate.scale");
	type(f, "what about web 1\n", 2);
	assert_int_equal(f->seen.ev[1].type, CHAT_EV_MENTION);
	assert_string_equal(f->seen.ev[1].text, "what about web 1");
}

static void test_update_removes_buttons(void **state)
{
	struct fixture *f = *state;
	int rc = -1;
	post_card(f);
	struct chat_text by, fb;
	chat_text_init(&by);
	chat_text_printf(&by, "Approved by ");
	chat_text_user(&by, "U0APPROVER1");
	struct chat_block done = {.type = CHAT_BLOCK_SECTION, .rich = &by};
	struct chat_message m = {.rich = text_of(&fb, "Approved"), .blocks = &done, .n_blocks = 1};
	assert_int_equal(chat_update(f->chat, "C0OPS", "1", &m, on_posted, &rc), 0);
	assert_int_equal(rc, 0);
	drain_screen(f);
	assert_non_null(strstr(f->screen, "updated message 1"));
	assert_non_null(strstr(f->screen, "Approved by @U0APPROVER1"));
	type(f, "approve 1\n", 0);
	assert_int_equal(f->seen.n, 0);
	assert_non_null(strstr(f->screen, "message 1 has no buttons"));
	/* unknown message */
	assert_int_equal(chat_update(f->chat, "C0OPS", "99", &m, on_posted, &rc), 0);
	assert_int_equal(rc, BOT_ENOTFOUND);
}

static void test_mention_ephemeral_and_eof(void **state)
{
	struct fixture *f = *state;
	type(f, "what is going on with web?\n", 1);
	assert_int_equal(f->seen.ev[0].type, CHAT_EV_MENTION);
	assert_string_equal(f->seen.ev[0].text, "what is going on with web?");

	struct chat_text only;
	struct chat_message m = {.rich = text_of(&only, "Only you see <b>this</b> & *that*")};
	assert_int_equal(chat_ephemeral(f->chat, "U0ONCALL1", &m, NULL, NULL), 0);
	drain_screen(f);
	assert_non_null(strstr(f->screen, "(only visible to @U0ONCALL1)"));
	assert_non_null(strstr(f->screen, "  Only you see <b>this</b> & *that*\n")); /* as typed */

	/* a long line is refused, not truncated into a command */
	char big[5000];
	memset(big, 'x', sizeof big - 2);
	big[0] = '/';
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	type(f, big, 1);
	assert_int_equal(f->seen.n, 1);
	assert_non_null(strstr(f->screen, "line too long"));

	type(f, "quit\n", 1);
	assert_true(f->seen.eof);
}

/* Structured text as a terminal shows it: @U1, #C1, the reader's local
 * time, "label (url)", text as typed (nothing to un-escape), styles as
 * plain words; no Slack markup anywhere. */
static void test_render_rich(void **state)
{
	struct chat_text t;
	(void)state;

	/* EST5: UTC-5, no daylight saving, so the expected time is fixed */
	assert_int_equal(setenv("TZ", "EST5", 1), 0);
	tzset();
	chat_text_init(&t);
	chat_text_bold(&t, "Approved");
	chat_text_printf(&t, " by ");
	chat_text_user(&t, "U0APPROVER1");
	chat_text_printf(&t, " at ");
	chat_text_date(&t, 1795000000); /* 2026-11-18T11:06:40Z */
	chat_text_printf(&t, " in ");
	chat_text_channel(&t, "C0OPS");
	chat_text_printf(&t, ": ");
	chat_text_link(&t, "https://x.test/1", "#1");
	chat_text_printf(&t, " & <b> ");
	chat_text_code(&t, "/gates cancel 1");
	char *r = console_render_rich(&t);
	assert_non_null(r);
	assert_string_equal(r, "Approved by @U0APPROVER1 at 2026-11-18 06:06 EST in #C0OPS: "
			       "#1 (https://x.test/1) & <b> /gates cancel 1");
	assert_null(strstr(r, "<@"));
	assert_null(strstr(r, "<!date"));
	free(r);
	unsetenv("TZ");
	tzset();
}

/* A message in structured text is printed without markup. */
static void test_post_rich(void **state)
{
	struct fixture *f = *state;
	struct chat_text what, fb;
	int rc = -1;

	chat_text_init(&what);
	chat_text_user(&what, "U0ONCALL1");
	chat_text_printf(&what, " asks to scale ");
	chat_text_bold(&what, "web & co");
	chat_text_printf(&what, "\nline two");
	chat_text_init(&fb);
	chat_text_printf(&fb, "Scale web");
	struct chat_block b[] = {
		{.type = CHAT_BLOCK_HEADER, .text = "Scale request"},
		{.type = CHAT_BLOCK_SECTION, .rich = &what},
		{.type = CHAT_BLOCK_CONTEXT, .rich = &fb},
	};
	struct chat_message m = {.channel = "C0OPS", .rich = &fb, .blocks = b, .n_blocks = 3};
	assert_int_equal(chat_post(f->chat, &m, on_posted, &rc), 0);
	assert_int_equal(rc, 0);
	/* a thread reply: only the fallback */
	struct chat_message reply = {.channel = "C0OPS", .thread_ts = "1", .rich = &what};
	assert_int_equal(chat_post(f->chat, &reply, on_posted, &rc), 0);
	assert_int_equal(chat_ephemeral(f->chat, "U0ONCALL1", &m, NULL, NULL), 0);
	drain_screen(f);
	assert_non_null(strstr(f->screen, "  @U0ONCALL1 asks to scale web & co\n  line two\n"));
	assert_non_null(strstr(f->screen, "    | @U0ONCALL1 asks to scale web & co\n    | line two\n"));
	assert_null(strstr(f->screen, "<@"));
	assert_null(strstr(f->screen, "&amp;"));
	assert_null(strstr(f->screen, "*web"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_command_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buttons_render_and_press, setup, teardown),
		cmocka_unit_test_setup_teardown(test_press_by_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_press_multiword_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_removes_buttons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mention_ephemeral_and_eof, setup, teardown),
		cmocka_unit_test(test_render_rich),
		cmocka_unit_test_setup_teardown(test_post_rich, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
