/* Structured text (adapters/chat.h): spans, styles, bounds and cuts, and
 * its plain-text form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/chat.h"

/* Structured text: adjacent text in one style is one span; styles and the
 * parts that are not text are spans of their own; copies are safe. */
static void test_text_spans(void **state)
{
	struct chat_text t, u;
	(void)state;

	chat_text_init(&t);
	assert_true(chat_text_empty(&t));
	chat_text_printf(&t, "a");
	chat_text_printf(&t, "b%d", 1);
	chat_text_bold(&t, "c");
	chat_text_user(&t, "U1");
	chat_text_user(&t, ""); /* nothing */
	chat_text_date(&t, 0);
	chat_text_link(&t, "https://x.test", "l");
	assert_false(chat_text_empty(&t));
	assert_int_equal(t.n, 5);
	assert_string_equal(chat_span_text(&t, &t.spans[0]), "ab1");
	assert_int_equal(t.spans[1].style, CHAT_STYLE_BOLD);
	assert_int_equal(t.spans[2].type, CHAT_SPAN_USER);
	assert_int_equal(t.spans[3].type, CHAT_SPAN_DATE);
	assert_string_equal(chat_span_text(&t, &t.spans[3]), "1970-01-01 00:00 UTC");
	assert_string_equal(t.buf + t.spans[4].url, "https://x.test");

	u = t; /* offsets, not pointers */
	chat_text_printf(&u, " more");
	char buf[128];
	chat_text_plain(&u, buf, sizeof buf);
	assert_string_equal(buf, "ab1c@U11970-01-01 00:00 UTCl (https://x.test) more");
	chat_text_plain(&t, buf, sizeof buf);
	assert_string_equal(buf, "ab1c@U11970-01-01 00:00 UTCl (https://x.test)");

	/* cat keeps the parts and adds the current style */
	chat_text_init(&u);
	chat_text_style(&u, CHAT_STYLE_ITALIC);
	chat_text_cat(&u, &t);
	assert_int_equal(u.n, 5);
	assert_int_equal(u.spans[1].style, CHAT_STYLE_BOLD | CHAT_STYLE_ITALIC);
	assert_int_equal(u.spans[2].style, CHAT_STYLE_ITALIC);
}

/* Bounded: what does not fit is dropped at a character boundary, cut is
 * set, and nothing is added after; too many spans likewise. */
static void test_text_bounds(void **state)
{
	struct chat_text t;
	char big[CHAT_TEXT_MAX];
	(void)state;

	/* "é" is two bytes: an odd room must not split one */
	for (size_t i = 0; i + 2 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof big - 2] = '\0';
	chat_text_init(&t);
	chat_text_printf(&t, "xy");
	chat_text_printf(&t, "%s", big); /* 2 + 2998 bytes + NUL: one too many */
	assert_true(t.cut);
	assert_true(t.used <= CHAT_TEXT_MAX);
	const char *s = chat_span_text(&t, &t.spans[0]);
	size_t n = strlen(s);
	assert_true(n > 100);
	assert_int_equal((unsigned char)s[n - 1], 0xa9); /* ends on a whole "é" */
	chat_text_user(&t, "U1");
	assert_int_equal(t.n, 1);

	char buf[64];
	assert_int_equal(chat_text_plain(&t, buf, 8), 6); /* whole characters only */
	assert_string_equal(buf, "xy\xc3\xa9\xc3\xa9");

	chat_text_init(&t);
	for (size_t i = 0; i < CHAT_TEXT_SPANS + 5; i++)
		chat_text_user(&t, "U1");
	assert_int_equal(t.n, CHAT_TEXT_SPANS);
	assert_true(t.cut);
	chat_text_init(&t);
	for (size_t i = 0; i < 10; i++)
		chat_text_user(&t, "U1");
	chat_text_plain(&t, buf, sizeof buf);
	assert_string_equal(buf, "@U1@U1@U1@U1@U1@U1@U1@U1@U1@U1");
	t.cut = true;
	chat_text_plain(&t, buf, sizeof buf);
	assert_string_equal(buf, "@U1@U1@U1@U1@U1@U1@U1@U1@U1@U1...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_spans),
		cmocka_unit_test(test_text_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
