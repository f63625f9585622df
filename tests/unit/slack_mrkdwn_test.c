/* Structured text as Slack mrkdwn (adapters/slack/mrkdwn.c): text escaped
 * once, here; mentions, channels, dates and links in Slack's syntax; a run
 * of styled spans emphasised once; ids that are not ids and URLs that would
 * break the syntax shown as text; a cut text ends visibly. And a message
 * with structured text through the Block Kit renderer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/chat.h"
#include "adapters/slack/blocks.h"
#include "adapters/slack/mrkdwn.h"

#define T0 1795000000 /* 2026-11-18T11:06:40Z */

/* Render t and compare with want. */
static void expect(const struct chat_text *t, const char *want)
{
	char *got = slack_mrkdwn(t);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_escapes_text_once(void **state)
{
	struct chat_text t;
	(void)state;

	chat_text_init(&t);
	chat_text_printf(&t, "a & b <@U1> c > d &amp;");
	expect(&t, "a &amp; b &lt;@U1&gt; c &gt; d &amp;amp;");
}

/* Plain text for Slack (a plain_text section): only & < > are entities. */
static void test_escape_plain(void **state)
{
	(void)state;
	char *e = slack_mrkdwn_escape("a & <@U1> *b* `c` &amp;");
	assert_non_null(e);
	assert_string_equal(e, "a &amp; &lt;@U1&gt; *b* `c` &amp;amp;");
	free(e);
	e = slack_mrkdwn_escape(NULL);
	assert_non_null(e);
	assert_string_equal(e, "");
	free(e);
}

static void test_mentions_channels_dates_links(void **state)
{
	struct chat_text t;
	(void)state;

	chat_text_init(&t);
	chat_text_user(&t, "U0APPROVER1");
	chat_text_printf(&t, " in ");
	chat_text_channel(&t, "C0OPS");
	chat_text_printf(&t, " at ");
	chat_text_date(&t, T0);
	chat_text_printf(&t, ": ");
	chat_text_link(&t, "https://x.test/a?b=1&c=2", "R&D <1>");
	expect(&t, "<@U0APPROVER1> in <#C0OPS> at "
		   "<!date^1795000000^{date_short_pretty} {time}|2026-11-18 11:06 UTC>: "
		   "<https://x.test/a?b=1&c=2|R&amp;D &lt;1&gt;>");
}

/* A stored id is never markup; a URL that would end the link early is not
 * linked. */
static void test_bad_ids_and_urls_are_text(void **state)
{
	struct chat_text t;
	(void)state;

	chat_text_init(&t);
	chat_text_user(&t, "<!here>");
	chat_text_printf(&t, " ");
	chat_text_user(&t, "u1");
	chat_text_printf(&t, " ");
	chat_text_channel(&t, "#ops>");
	chat_text_printf(&t, " ");
	chat_text_link(&t, "https://x.test/|<!channel>", "see");
	chat_text_printf(&t, " ");
	chat_text_link(&t, NULL, "no url");
	expect(&t, "&lt;!here&gt; u1 #ops&gt; see no url");
}

/* Emphasis wraps each run of spans once, dates and mentions included, and
 * is closed before the text ends. */
static void test_style_runs(void **state)
{
	struct chat_text t;
	(void)state;

	chat_text_init(&t);
	chat_text_bold(&t, "Approved");
	chat_text_printf(&t, " by ");
	chat_text_user(&t, "U1");
	chat_text_printf(&t, "\n");
	unsigned old = chat_text_style(&t, CHAT_STYLE_BOLD);
	chat_text_printf(&t, "Approves at ");
	chat_text_date(&t, T0);
	chat_text_printf(&t, " unless denied.");
	chat_text_style(&t, old);
	chat_text_printf(&t, " ");
	chat_text_style(&t, CHAT_STYLE_ITALIC);
	chat_text_printf(&t, "(soon)");
	chat_text_style(&t, 0);
	chat_text_printf(&t, " run ");
	chat_text_code(&t, "/gates cancel %d", 7);
	chat_text_printf(&t, " ");
	chat_text_code(&t, "a<b");
	expect(&t, "*Approved* by <@U1>\n*Approves at "
		   "<!date^1795000000^{date_short_pretty} {time}|2026-11-18 11:06 UTC> unless "
		   "denied.* _(soon)_ run `/gates cancel 7` `a&lt;b`");

	chat_text_init(&t);
	chat_text_bold(&t, "%s", ""); /* nothing: no "**" */
	chat_text_printf(&t, "x");
	chat_text_bold(&t, "y");
	expect(&t, "x*y*");
}

/* A text that did not fit ends in an ellipsis, after the styles close. */
static void test_cut_is_visible(void **state)
{
	struct chat_text t;
	char big[CHAT_TEXT_MAX + 10];
	(void)state;

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	chat_text_init(&t);
	chat_text_bold(&t, "%s", big);
	chat_text_user(&t, "U1"); /* after a cut: dropped */
	assert_true(t.cut);
	char *got = slack_mrkdwn(&t);
	assert_non_null(got);
	assert_int_equal(got[0], '*');
	size_t n = strlen(got);
	assert_true(n > 4);
	assert_string_equal(got + n - 4, "*" SLACK_MRKDWN_ELLIPSIS);
	assert_null(strstr(got, "<@U1>"));
	free(got);
}

static const char *sget(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	return s;
}

/* Through Block Kit: structured section, context and fallback become
 * mrkdwn; an empty structured text drops its block like an empty string. */
static void test_blocks_render_structured_text(void **state)
{
	struct chat_text what, ctx, empty, fb;
	struct bot_error err = {0};
	(void)state;

	chat_text_init(&what);
	chat_text_user(&what, "U1");
	chat_text_printf(&what, " asks to scale ");
	chat_text_bold(&what, "web & co");
	chat_text_init(&ctx);
	chat_text_printf(&ctx, "asked ");
	chat_text_date(&ctx, T0);
	chat_text_init(&empty);
	chat_text_init(&fb);
	chat_text_printf(&fb, "Scale <web>");
	struct chat_block b[] = {
		{.type = CHAT_BLOCK_SECTION, .rich = &what},
		{.type = CHAT_BLOCK_SECTION, .rich = &empty},
		{.type = CHAT_BLOCK_CONTEXT, .rich = &ctx},
	};
	struct chat_message m = {.channel = "C1", .rich = &fb, .blocks = b, .n_blocks = 3};
	json_t *body = slack_blocks_message(&m, &err);
	assert_non_null(body);
	assert_string_equal(sget(body, "text"), "Scale &lt;web&gt;");
	json_t *blocks = json_object_get(body, "blocks");
	assert_int_equal(json_array_size(blocks), 2);
	assert_string_equal(sget(json_object_get(json_array_get(blocks, 0), "text"), "text"),
			    "<@U1> asks to scale *web &amp; co*");
	json_t *el = json_array_get(json_object_get(json_array_get(blocks, 1), "elements"), 0);
	assert_string_equal(sget(el, "text"),
			    "asked <!date^1795000000^{date_short_pretty} {time}|2026-11-18 11:06 UTC>");
	json_decref(body);

	/* a structured fallback with nothing in it is no fallback */
	m.rich = &empty;
	assert_null(slack_blocks_message(&m, &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes_text_once),
		cmocka_unit_test(test_escape_plain),
		cmocka_unit_test(test_mentions_channels_dates_links),
		cmocka_unit_test(test_bad_ids_and_urls_are_text),
		cmocka_unit_test(test_style_runs),
		cmocka_unit_test(test_cut_is_visible),
		cmocka_unit_test(test_blocks_render_structured_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
