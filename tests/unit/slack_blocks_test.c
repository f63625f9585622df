/* Tests for the Block Kit renderer: shape, limits, visible truncation, ids.
 * What is shown comes as structured text (rendered to mrkdwn here) or plain
 * text; the cut tests build structured text whose mrkdwn crosses a limit
 * (entities and Slack's <...> constructs make it longer than the text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/chat.h"
#include "adapters/slack/blocks.h"
#include "adapters/slack/mrkdwn.h"
#include "bot/base/error.h"

#define ELL SLACK_BLOCKS_ELLIPSIS

/* ---- helpers -------------------------------------------------------- */

/* Code points in s; fails the test if s is not valid UTF-8. */
static size_t cps(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p) {
		size_t l = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
		assert_true(l > 0);
		for (size_t i = 1; i < l; i++)
			assert_int_equal(p[i] & 0xc0, 0x80);
		p += l;
		n++;
	}
	return n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* n copies of unit, concatenated; caller frees. */
static char *repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = malloc(ul * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

static char *concat(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	assert_non_null(s);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

/* A new structured text holding s as typed (NULL: empty); caller frees. */
static struct chat_text *text_new(const char *s)
{
	struct chat_text *t = malloc(sizeof *t);

	assert_non_null(t);
	chat_text_init(t);
	if (s)
		chat_text_printf(t, "%s", s);
	return t;
}

/* t's mrkdwn (what the section shows when nothing is cut); caller frees. */
static char *md(const struct chat_text *t)
{
	char *s = slack_mrkdwn(t);
	assert_non_null(s);
	return s;
}

/* Build m, check success, and check the body survives a dump/load. */
static json_t *build(const struct chat_message *m)
{
	struct bot_error err = {0};
	json_t *body = NULL;

	assert_int_equal(slack_blocks_build(m, &body, &err), BOT_EOK);
	assert_non_null(body);
	char *dump = json_dumps(body, JSON_COMPACT);
	assert_non_null(dump);
	json_t *again = json_loads(dump, 0, NULL);
	assert_non_null(again);
	assert_true(json_equal(body, again));
	json_decref(again);
	free(dump);
	return body;
}

static json_t *blocks_of(json_t *body)
{
	json_t *b = json_object_get(body, "blocks");
	assert_true(json_is_array(b));
	return b;
}

static const char *sget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

/* The rendered text of a one-section message. Caller frees. */
static char *section_rich(const struct chat_text *t)
{
	struct chat_text fb;
	chat_text_init(&fb);
	chat_text_printf(&fb, "t");
	const struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = t};
	const struct chat_message m = {.channel = "C1", .rich = &fb, .blocks = &b, .n_blocks = 1};
	json_t *body = build(&m);
	json_t *blk = json_array_get(blocks_of(body), 0);
	char *out = strdup(sget(json_object_get(blk, "text"), "text"));

	assert_string_equal(sget(json_object_get(blk, "text"), "type"), "mrkdwn");
	json_decref(body);
	assert_non_null(out);
	return out;
}

/* Same, for a section holding text as typed. */
static char *section_text(const char *text)
{
	struct chat_text *t = text_new(text);
	char *out = section_rich(t);
	free(t);
	return out;
}

/* A structured text of n_amp '&' then n_a 'a': 5 * n_amp + n_a code points
 * of mrkdwn ("&amp;" each) from few bytes of text, to reach Slack's limits. */
static void pad(struct chat_text *t, size_t n_amp, size_t n_a)
{
	char *amps = repeat("&", n_amp), *as = repeat("a", n_a);
	chat_text_printf(t, "%s%s", amps, as);
	free(amps);
	free(as);
}

/* ---- the approval card --------------------------------------------- */

static const struct chat_confirm deny_confirm = {
	.title = "Deny deploy?", .text = "The requester will be told.",
	.yes = "Deny", .no = "Cancel",
};

static const struct chat_button card_buttons[] = {
	{.action_id = "gate.approve", .text = "Approve", .value = "g-42", .style = CHAT_BUTTON_PRIMARY},
	{.action_id = "gate.deny", .text = "Deny", .value = "g-42", .style = CHAT_BUTTON_DANGER,
	 .confirm = &deny_confirm},
	{.action_id = "gate.details", .text = "Details & <logs>"},
};

static struct chat_text card_what, card_when, card_fallback;
static const struct chat_block card_blocks[] = {
	{.type = CHAT_BLOCK_HEADER, .text = "Deploy request: R&D <api>"},
	{.type = CHAT_BLOCK_SECTION, .rich = &card_what},
	{.type = CHAT_BLOCK_CONTEXT, .rich = &card_when},
	{.type = CHAT_BLOCK_DIVIDER},
	{.type = CHAT_BLOCK_ACTIONS, .buttons = card_buttons, .n_buttons = 3},
};

/* The card's structured texts (card_blocks points at them). */
static void card_texts(void)
{
	chat_text_init(&card_what);
	chat_text_user(&card_what, "U123");
	chat_text_printf(&card_what, " wants to deploy ");
	chat_text_bold(&card_what, "api");
	chat_text_printf(&card_what, " & friends <v2>");
	chat_text_init(&card_when);
	chat_text_printf(&card_when, "requested ");
	chat_text_date(&card_when, 1700000000);
	chat_text_init(&card_fallback);
	chat_text_printf(&card_fallback, "Deploy api? & more");
}

static void test_approval_card(void **state)
{
	(void)state;
	card_texts();
	const struct chat_message m = {
		.channel = "C0123", .rich = &card_fallback,
		.blocks = card_blocks, .n_blocks = BOT_ARRAY_LEN(card_blocks),
	};
	json_t *body = build(&m), *blocks = blocks_of(body), *b, *t, *el;
	const char *type, *text;
	int emoji = 0;

	assert_string_equal(sget(body, "channel"), "C0123");
	assert_string_equal(sget(body, "text"), "Deploy api? &amp; more");
	assert_null(json_object_get(body, "thread_ts"));
	assert_int_equal(json_object_size(body), 3);
	assert_int_equal(json_array_size(blocks), 5);

	/* header: plain text, not escaped by us, emoji on */
	b = json_array_get(blocks, 0);
	assert_string_equal(sget(b, "type"), "header");
	assert_int_equal(json_unpack(json_object_get(b, "text"), "{s:s, s:s, s:b !}",
				     "type", &type, "text", &text, "emoji", &emoji), 0);
	assert_string_equal(type, "plain_text");
	assert_string_equal(text, "Deploy request: R&D <api>");
	assert_true(emoji);

	/* section: the structured text as mrkdwn, escaped here */
	b = json_array_get(blocks, 1);
	assert_string_equal(sget(b, "type"), "section");
	t = json_object_get(b, "text");
	assert_string_equal(sget(t, "type"), "mrkdwn");
	assert_string_equal(sget(t, "text"), "<@U123> wants to deploy *api* &amp; friends &lt;v2&gt;");
	assert_int_equal(json_object_size(b), 3); /* type, text, block_id */

	/* context: one mrkdwn element */
	b = json_array_get(blocks, 2);
	assert_string_equal(sget(b, "type"), "context");
	assert_int_equal(json_array_size(json_object_get(b, "elements")), 1);
	el = json_array_get(json_object_get(b, "elements"), 0);
	assert_string_equal(sget(el, "type"), "mrkdwn");
	assert_string_equal(sget(el, "text"), "requested <!date^1700000000^{date_short_pretty} "
			    "{time}|2023-11-14 22:13 UTC>");

	/* divider: just type and block_id */
	b = json_array_get(blocks, 3);
	assert_string_equal(sget(b, "type"), "divider");
	assert_int_equal(json_object_size(b), 2);

	/* actions */
	b = json_array_get(blocks, 4);
	assert_string_equal(sget(b, "type"), "actions");
	json_t *els = json_object_get(b, "elements");
	assert_int_equal(json_array_size(els), 3);

	el = json_array_get(els, 0);
	assert_string_equal(sget(el, "type"), "button");
	assert_string_equal(sget(el, "action_id"), "gate.approve");
	assert_string_equal(sget(el, "value"), "g-42");
	assert_string_equal(sget(el, "style"), "primary");
	assert_string_equal(sget(json_object_get(el, "text"), "type"), "plain_text");
	assert_string_equal(sget(json_object_get(el, "text"), "text"), "Approve");
	assert_null(json_object_get(el, "confirm"));

	el = json_array_get(els, 1);
	assert_string_equal(sget(el, "action_id"), "gate.deny");
	assert_string_equal(sget(el, "style"), "danger");
	json_t *c = json_object_get(el, "confirm");
	assert_true(json_is_object(c));
	static const struct {
		const char *key, *want;
	} parts[] = {
		{"title", "Deny deploy?"}, {"text", "The requester will be told."},
		{"confirm", "Deny"}, {"deny", "Cancel"},
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(parts); i++) {
		json_t *o = json_object_get(c, parts[i].key);
		assert_string_equal(sget(o, "type"), "plain_text");
		assert_string_equal(sget(o, "text"), parts[i].want);
	}
	assert_string_equal(sget(c, "style"), "danger");

	/* default button: no style key, no value when none, label not escaped */
	el = json_array_get(els, 2);
	assert_null(json_object_get(el, "style"));
	assert_null(json_object_get(el, "value"));
	assert_null(json_object_get(el, "confirm"));
	assert_string_equal(sget(json_object_get(el, "text"), "text"), "Details & <logs>");

	json_decref(body);
}

static void test_confirm_on_primary_has_no_style(void **state)
{
	(void)state;
	const struct chat_button btn = {.action_id = "a", .text = "Go", .style = CHAT_BUTTON_PRIMARY,
					.confirm = &deny_confirm};
	const struct chat_block b = {.type = CHAT_BLOCK_ACTIONS, .buttons = &btn, .n_buttons = 1};
	struct chat_text *fb = text_new("t");
	const struct chat_message m = {.rich = fb, .blocks = &b, .n_blocks = 1};
	json_t *body = build(&m);
	free(fb);
	json_t *el = json_array_get(json_object_get(json_array_get(blocks_of(body), 0), "elements"), 0);

	assert_null(json_object_get(json_object_get(el, "confirm"), "style"));
	assert_null(json_object_get(body, "channel")); /* not set, not sent */
	json_decref(body);
}

static void test_thread_ts_only_when_set(void **state)
{
	(void)state;
	struct chat_text *hi = text_new("hi");
	struct chat_message m = {.channel = "C1", .rich = hi};
	json_t *body = build(&m);

	assert_null(json_object_get(body, "thread_ts"));
	assert_null(json_object_get(body, "blocks")); /* no blocks: plain message */
	json_decref(body);

	m.thread_ts = "";
	body = build(&m);
	assert_null(json_object_get(body, "thread_ts"));
	json_decref(body);

	m.thread_ts = "1700000000.000100";
	body = build(&m);
	assert_string_equal(sget(body, "thread_ts"), "1700000000.000100");
	json_decref(body);
	free(hi);
}

/* ---- limits --------------------------------------------------------- */

static void test_sixty_blocks_capped(void **state)
{
	(void)state;
	static struct chat_text texts[60];
	struct chat_block blocks[60];
	struct chat_text *fb = text_new("t");

	for (size_t i = 0; i < 60; i++) {
		chat_text_init(&texts[i]);
		chat_text_printf(&texts[i], "s%zu", i);
		blocks[i] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &texts[i]};
	}
	const struct chat_message m = {.rich = fb, .blocks = blocks, .n_blocks = 60};
	json_t *body = build(&m), *list = blocks_of(body);

	assert_int_equal(json_array_size(list), SLACK_BLOCKS_MAX);
	json_t *b48 = json_array_get(list, 48);
	assert_string_equal(sget(json_object_get(b48, "text"), "text"), "s48");
	json_t *note = json_array_get(list, 49);
	assert_string_equal(sget(note, "type"), "context");
	json_t *el = json_array_get(json_object_get(note, "elements"), 0);
	assert_string_equal(sget(el, "type"), "mrkdwn");
	assert_string_equal(sget(el, "text"), ELL " 11 more blocks not shown");
	assert_non_null(json_object_get(note, "block_id"));
	json_decref(body);

	/* exactly 50 is untouched */
	const struct chat_message m50 = {.rich = fb, .blocks = blocks, .n_blocks = 50};
	body = build(&m50);
	assert_int_equal(json_array_size(blocks_of(body)), 50);
	assert_string_equal(sget(json_object_get(json_array_get(blocks_of(body), 49), "text"), "text"),
			    "s49");
	json_decref(body);
	free(fb);
}

static void test_long_section_multibyte(void **state)
{
	(void)state;
	/* 3- and 4-byte characters all the way through the cut: every cut
	 * straddles one (after 2,500 code points of "&amp;") */
	static const struct {
		const char *unit;
		size_t n;
	} units[] = {
		{"\xe2\x82\xac" /* € */, 600}, {"\xf0\x9f\x9a\x80" /* rocket */, 600},
		{"a\xc3\xa9" /* aé */, 300},
	};
	for (size_t u = 0; u < BOT_ARRAY_LEN(units); u++) {
		struct chat_text *t = text_new(NULL);
		char *run = repeat(units[u].unit, units[u].n);
		pad(t, 500, 0);
		chat_text_printf(t, "%s", run);
		assert_false(t->cut);
		char *full = md(t), *out = section_rich(t);

		assert_int_equal(cps(out), SLACK_BLOCKS_TEXT_MAX); /* 2999 + the marker */
		assert_true(ends_with(out, ELL));
		size_t kept = strlen(out) - strlen(ELL);
		assert_memory_equal(out, full, kept); /* a clean prefix of the whole */
		free(out);
		free(full);
		free(run);
		free(t);
	}

	/* 3000 exactly fits and is not touched */
	struct chat_text *t = text_new(NULL);
	pad(t, 600, 0);
	char *full = md(t), *out = section_rich(t);
	assert_int_equal(cps(full), 3000);
	assert_string_equal(out, full);
	free(out);
	free(full);
	free(t);
}

static void test_cut_never_splits_entity(void **state)
{
	(void)state;
	char *tail = repeat("b", 1000);

	/* the cut (after 2999 code points) falls inside "&amp;" */
	struct chat_text *head = text_new(NULL), *t = text_new(NULL);
	pad(head, 500, 497); /* 2997 code points of mrkdwn */
	pad(t, 500, 497);
	chat_text_printf(t, "&%s", tail);
	char *out = section_rich(t), *h = md(head);
	char *want = concat(h, ELL);
	assert_string_equal(out, want);
	assert_true(cps(out) <= SLACK_BLOCKS_TEXT_MAX);
	free(out);
	free(want);
	free(h);

	/* "&lt;" entirely before the cut survives */
	chat_text_init(head);
	chat_text_init(t);
	pad(head, 500, 494);
	chat_text_printf(head, "<x");
	pad(t, 500, 494);
	chat_text_printf(t, "<x%s", tail);
	out = section_rich(t);
	h = md(head);
	assert_true(ends_with(h, "&lt;x"));
	want = concat(h, ELL);
	assert_string_equal(out, want);
	free(out);
	free(want);
	free(h);
	free(head);
	free(t);
	free(tail);
}

static void test_cut_never_splits_angle(void **state)
{
	(void)state;
	char *tail = repeat("z", 1000);
	struct chat_text *head = text_new(NULL);

	pad(head, 500, 496); /* the construct starts 3 characters before the cut */
	char *h = md(head), *want = concat(h, ELL);
	for (int i = 0; i < 3; i++) {
		struct chat_text *t = text_new(NULL);
		pad(t, 500, 496);
		if (i == 0)
			chat_text_user(t, "U123ABCDEF");
		else if (i == 1)
			chat_text_date(t, 1700000000);
		else
			chat_text_link(t, "https://example.com/a?b=1&c=2", "the logs");
		chat_text_printf(t, "%s", tail);
		assert_false(t->cut);
		char *full = md(t), *out = section_rich(t);

		assert_int_equal(full[strlen(h)], '<');
		assert_string_equal(out, want);
		assert_null(strchr(out, '<'));
		free(out);
		free(full);
		free(t);
	}
	free(want);
	free(h);

	/* a complete mention just before the cut is kept */
	struct chat_text *t = text_new(NULL);
	pad(t, 500, 480);
	chat_text_user(t, "U123");
	chat_text_printf(t, " %s", tail);
	char *out = section_rich(t);
	assert_non_null(strstr(out, "<@U123> z"));
	assert_true(ends_with(out, ELL));
	assert_int_equal(cps(out), SLACK_BLOCKS_TEXT_MAX);
	free(out);
	free(t);
	free(head);
	free(tail);
}

static void test_cut_after_link_with_raw_amp(void **state)
{
	(void)state;
	static const char url[] = "https://acme.slack.com/archives/C1/p1?thread_ts=1.2&cid=C1";
	size_t link = sizeof url - 1 + 4; /* "<url|x>" */
	struct chat_text *head = text_new(NULL), *t = text_new(NULL);
	pad(head, 500, SLACK_BLOCKS_TEXT_MAX - 1 - link - 2500);
	pad(t, 500, SLACK_BLOCKS_TEXT_MAX - 1 - link - 2500);
	chat_text_link(t, url, "x");
	chat_text_printf(t, "zzzzzzzzzz");
	char *full = md(t), *h = md(head), *out = section_rich(t);
	char *want = concat(h, ELL);

	assert_non_null(strstr(full, "&cid=C1|x>zz")); /* the link ends just before the cut */
	assert_int_equal(cps(h) + link, SLACK_BLOCKS_TEXT_MAX - 1);
	assert_string_equal(out, want);
	assert_null(strchr(out, '<'));
	free(want);
	free(out);
	free(h);
	free(full);
	free(head);
	free(t);
}

static void test_plain_text_limits(void **state)
{
	(void)state;
	char *long_header = repeat("H", 200);
	char *long_label = repeat("\xc3\xa9", 100); /* é */
	char *long_title = repeat("T", 150);
	char *long_yes = repeat("Y", 40);
	char *long_text = repeat("&", 400); /* plain text: '&' is a character, not an entity */
	const struct chat_confirm c = {.title = long_title, .text = long_text, .yes = long_yes,
				       .no = "No"};
	const struct chat_button btn = {.action_id = "x", .text = long_label, .confirm = &c};
	const struct chat_block blocks[] = {
		{.type = CHAT_BLOCK_HEADER, .text = long_header},
		{.type = CHAT_BLOCK_ACTIONS, .buttons = &btn, .n_buttons = 1},
	};
	struct chat_text *fb = text_new("t");
	const struct chat_message m = {.rich = fb, .blocks = blocks, .n_blocks = 2};
	json_t *body = build(&m), *list = blocks_of(body);

	free(fb);
	const char *h = sget(json_object_get(json_array_get(list, 0), "text"), "text");
	assert_int_equal(cps(h), SLACK_BLOCKS_HEADER_MAX);
	assert_true(ends_with(h, ELL));

	json_t *el = json_array_get(json_object_get(json_array_get(list, 1), "elements"), 0);
	const char *label = sget(json_object_get(el, "text"), "text");
	assert_int_equal(cps(label), SLACK_BLOCKS_BUTTON_TEXT_MAX);
	assert_true(ends_with(label, ELL));

	json_t *cf = json_object_get(el, "confirm");
	assert_int_equal(cps(sget(json_object_get(cf, "title"), "text")), SLACK_BLOCKS_CONFIRM_TITLE_MAX);
	const char *ct = sget(json_object_get(cf, "text"), "text");
	assert_int_equal(cps(ct), SLACK_BLOCKS_CONFIRM_TEXT_MAX);
	assert_true(ends_with(ct, "&&" ELL)); /* no entity back-off in plain text */
	assert_int_equal(cps(sget(json_object_get(cf, "confirm"), "text")), SLACK_BLOCKS_CONFIRM_BUTTON_MAX);
	assert_string_equal(sget(json_object_get(cf, "deny"), "text"), "No");

	json_decref(body);
	free(long_header);
	free(long_label);
	free(long_title);
	free(long_yes);
	free(long_text);
}

static void test_fallback_text_capped(void **state)
{
	(void)state;
	struct chat_text *head = text_new(NULL), *t = text_new(NULL);
	pad(head, 700, 397); /* 3897 code points of mrkdwn */
	pad(t, 700, 397);
	chat_text_user(t, "U1");
	chat_text_printf(t, " and more text after the cut");
	const struct chat_message m = {.channel = "C1", .rich = t};
	json_t *body = build(&m);
	const char *got = sget(body, "text");
	char *h = md(head), *want = concat(h, ELL);

	assert_true(cps(got) <= SLACK_BLOCKS_FALLBACK_MAX);
	assert_string_equal(got, want);
	json_decref(body);
	free(want);
	free(h);
	free(head);
	free(t);
}

static void test_invalid_utf8_replaced(void **state)
{
	(void)state;
	char *out = section_text("ok \xff bad \xc3 \xed\xa0\x80 end");

	assert_string_equal(out, "ok \xef\xbf\xbd bad \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
	free(out);
}

static void test_thirty_buttons_split(void **state)
{
	(void)state;
	struct chat_button btns[30];
	char ids[30][32];

	for (size_t i = 0; i < 30; i++) {
		snprintf(ids[i], sizeof ids[i], "act.%zu", i);
		btns[i] = (struct chat_button){.action_id = ids[i], .text = ids[i], .value = ids[i]};
	}
	struct chat_text *after = text_new("after"), *fb = text_new("t");
	const struct chat_block b[] = {
		{.type = CHAT_BLOCK_ACTIONS, .buttons = btns, .n_buttons = 30},
		{.type = CHAT_BLOCK_CONTEXT, .rich = after},
	};
	const struct chat_message m = {.rich = fb, .blocks = b, .n_blocks = 2};
	json_t *body = build(&m), *list = blocks_of(body);

	assert_int_equal(json_array_size(list), 3);
	json_t *e0 = json_object_get(json_array_get(list, 0), "elements");
	json_t *e1 = json_object_get(json_array_get(list, 1), "elements");
	assert_string_equal(sget(json_array_get(list, 1), "type"), "actions");
	assert_int_equal(json_array_size(e0), SLACK_BLOCKS_ACTIONS_MAX);
	assert_int_equal(json_array_size(e1), 5);
	assert_string_equal(sget(json_array_get(e0, 0), "action_id"), "act.0");
	assert_string_equal(sget(json_array_get(e0, 24), "action_id"), "act.24");
	assert_string_equal(sget(json_array_get(e1, 0), "action_id"), "act.25");
	assert_string_equal(sget(json_array_get(e1, 4), "action_id"), "act.29");
	assert_string_equal(sget(json_array_get(list, 2), "type"), "context");
	json_decref(body);

	/* exactly 25: one block */
	const struct chat_block b25 = {.type = CHAT_BLOCK_ACTIONS, .buttons = btns, .n_buttons = 25};
	const struct chat_message m25 = {.rich = fb, .blocks = &b25, .n_blocks = 1};
	body = build(&m25);
	assert_int_equal(json_array_size(blocks_of(body)), 1);
	json_decref(body);
	free(after);
	free(fb);
}

static void test_empty_blocks_dropped(void **state)
{
	(void)state;
	struct chat_text *empty = text_new(""), *kept = text_new("kept"), *fb = text_new("t");
	const struct chat_block b[] = {
		{.type = CHAT_BLOCK_SECTION, .rich = empty},
		{.type = CHAT_BLOCK_SECTION, .rich = NULL},
		{.type = CHAT_BLOCK_HEADER, .text = ""},
		{.type = CHAT_BLOCK_CONTEXT, .rich = empty},
		{.type = CHAT_BLOCK_CONTEXT, .rich = NULL},
		{.type = CHAT_BLOCK_PLAIN, .text = ""},
		{.type = CHAT_BLOCK_ACTIONS, .n_buttons = 0},
	};
	struct chat_message m = {.rich = fb, .blocks = b, .n_blocks = BOT_ARRAY_LEN(b)};
	json_t *body = build(&m);

	assert_null(json_object_get(body, "blocks")); /* nothing left: plain text message */
	json_decref(body);

	const struct chat_block b2[] = {
		{.type = CHAT_BLOCK_SECTION, .rich = empty},
		{.type = CHAT_BLOCK_SECTION, .rich = kept},
	};
	m.blocks = b2;
	m.n_blocks = 2;
	body = build(&m);
	assert_int_equal(json_array_size(blocks_of(body)), 1);
	assert_string_equal(sget(json_object_get(json_array_get(blocks_of(body), 0), "text"), "text"),
			    "kept");
	json_decref(body);
	free(empty);
	free(kept);
	free(fb);
}

/* ---- block ids ------------------------------------------------------ */

static void collect_ids(json_t *body, json_t *seen)
{
	size_t i;
	json_t *b;

	json_array_foreach(blocks_of(body), i, b) {
		const char *id = sget(b, "block_id");
		assert_true(strlen(id) > 0 && strlen(id) <= 255);
		assert_null(json_object_get(seen, id)); /* never seen before */
		assert_int_equal(json_object_set_new(seen, id, json_true()), 0);
	}
}

static void test_block_ids_unique(void **state)
{
	(void)state;
	card_texts();
	const struct chat_message m = {
		.channel = "C1", .rich = &card_fallback, .blocks = card_blocks,
		.n_blocks = BOT_ARRAY_LEN(card_blocks),
	};
	json_t *seen = json_object();
	json_t *a = build(&m), *b = build(&m);

	assert_non_null(seen);
	collect_ids(a, seen); /* unique within the first render */
	collect_ids(b, seen); /* and none repeats in the second */
	assert_int_equal(json_object_size(seen), 2 * BOT_ARRAY_LEN(card_blocks));

	/* apart from the ids, the two renders are identical */
	size_t i;
	json_t *blk;
	json_array_foreach(blocks_of(a), i, blk)
		json_object_del(blk, "block_id");
	json_array_foreach(blocks_of(b), i, blk)
		json_object_del(blk, "block_id");
	assert_true(json_equal(a, b));

	json_decref(a);
	json_decref(b);
	json_decref(seen);
}

/* ---- errors --------------------------------------------------------- */

static int build_rc(const struct chat_message *m, struct bot_error *err)
{
	json_t *out = (json_t *)&out; /* poison: must come back NULL */
	int rc = slack_blocks_build(m, &out, err);

	if (rc)
		assert_null(out);
	else
		json_decref(out);
	return rc;
}

static void test_invalid_inputs(void **state)
{
	(void)state;
	struct bot_error err = {0};

	/* NULL message, NULL out */
	assert_int_equal(build_rc(NULL, &err), BOT_EINVAL);
	assert_true(err.msg[0] != '\0');
	assert_int_equal(slack_blocks_build(NULL, NULL, NULL), BOT_EINVAL);
	assert_null(slack_blocks_message(NULL, &err));
	assert_null(slack_blocks_message(NULL, NULL));

	/* missing / empty fallback text */
	struct chat_text *empty = text_new(""), *fb = text_new("t");
	struct chat_message m = {.channel = "C1"};
	assert_int_equal(build_rc(&m, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "text"));
	m.rich = empty;
	assert_int_equal(build_rc(&m, NULL), BOT_EINVAL);
	free(empty);

	/* n_blocks without blocks */
	m.rich = fb;
	m.n_blocks = 2;
	assert_int_equal(build_rc(&m, &err), BOT_EINVAL);

	/* unknown block type */
	const struct chat_block bad_type = {.type = (enum chat_block_type)99, .text = "x"};
	m.blocks = &bad_type;
	m.n_blocks = 1;
	assert_int_equal(build_rc(&m, &err), BOT_EINVAL);
	assert_non_null(strstr(err.msg, "block 0"));

	/* n_buttons without buttons */
	const struct chat_block no_btns = {.type = CHAT_BLOCK_ACTIONS, .n_buttons = 1};
	m.blocks = &no_btns;
	assert_int_equal(build_rc(&m, &err), BOT_EINVAL);

	/* buttons missing what they need, identifiers too long or not UTF-8 */
	char *long_id = repeat("i", SLACK_BLOCKS_ACTION_ID_MAX + 1);
	char *long_value = repeat("v", SLACK_BLOCKS_VALUE_MAX + 1);
	char *max_value = repeat("v", SLACK_BLOCKS_VALUE_MAX);
	const struct chat_confirm half = {.title = "t", .text = NULL, .yes = "y", .no = "n"};
	const struct {
		struct chat_button b;
		int rc;
	} cases[] = {
		{{.action_id = NULL, .text = "x"}, BOT_EINVAL},
		{{.action_id = "", .text = "x"}, BOT_EINVAL},
		{{.action_id = "a", .text = NULL}, BOT_EINVAL},
		{{.action_id = "a", .text = ""}, BOT_EINVAL},
		{{.action_id = long_id, .text = "x"}, BOT_ETOOBIG},
		{{.action_id = "a", .text = "x", .value = long_value}, BOT_ETOOBIG},
		{{.action_id = "a", .text = "x", .value = max_value}, BOT_EOK},
		{{.action_id = "a\xff", .text = "x"}, BOT_EINVAL},
		{{.action_id = "a", .text = "x", .confirm = &half}, BOT_EINVAL},
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		const struct chat_block blk = {.type = CHAT_BLOCK_ACTIONS, .buttons = &cases[i].b,
					       .n_buttons = 1};
		m.blocks = &blk;
		memset(&err, 0, sizeof err);
		assert_int_equal(build_rc(&m, &err), cases[i].rc);
		if (cases[i].rc)
			assert_true(err.msg[0] != '\0');
	}
	free(long_id);
	free(long_value);
	free(max_value);

	/* a channel that is not UTF-8 */
	struct chat_message bad_channel = {.channel = "C\xc0", .rich = fb};
	assert_int_equal(build_rc(&bad_channel, &err), BOT_EINVAL);
	free(fb);
}

static void test_message_wrapper(void **state)
{
	(void)state;
	struct chat_text *hello = text_new("hello & <you>");
	const struct chat_message m = {.channel = "C9", .rich = hello};
	struct bot_error err = {0};
	json_t *body = slack_blocks_message(&m, &err);

	assert_non_null(body);
	assert_string_equal(sget(body, "channel"), "C9");
	assert_string_equal(sget(body, "text"), "hello &amp; &lt;you&gt;");
	json_decref(body);
	free(hello);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_approval_card),
		cmocka_unit_test(test_confirm_on_primary_has_no_style),
		cmocka_unit_test(test_thread_ts_only_when_set),
		cmocka_unit_test(test_sixty_blocks_capped),
		cmocka_unit_test(test_long_section_multibyte),
		cmocka_unit_test(test_cut_never_splits_entity),
		cmocka_unit_test(test_cut_never_splits_angle),
		cmocka_unit_test(test_cut_after_link_with_raw_amp),
		cmocka_unit_test(test_plain_text_limits),
		cmocka_unit_test(test_fallback_text_capped),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_thirty_buttons_split),
		cmocka_unit_test(test_empty_blocks_dropped),
		cmocka_unit_test(test_block_ids_unique),
		cmocka_unit_test(test_invalid_inputs),
		cmocka_unit_test(test_message_wrapper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
