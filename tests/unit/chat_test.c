/* chat_escape: & < > become entities, and a buffer too small cuts the text
 * visibly with "..." after a whole character, never inside an entity or a
 * UTF-8 sequence (both found by tests/fuzz/fuzz_mrkdwn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/chat.h"

static void test_escape(void **state)
{
	char buf[64];
	(void)state;

	assert_string_equal(chat_escape(buf, sizeof buf, "a & <@U1> b"), "a &amp; &lt;@U1&gt; b");
	assert_string_equal(chat_escape(buf, sizeof buf, NULL), "");
	assert_string_equal(chat_escape(buf, 4, "abc"), "abc"); /* exactly fits */
	assert_string_equal(chat_escape(buf, 7, "abcdefgh"), "abc...");
	assert_string_equal(chat_escape(buf, 3, "abcdefgh"), ""); /* no room for "..." */

	char *d = chat_escape_dup("x<y");
	assert_non_null(d);
	assert_string_equal(d, "x&lt;y");
	free(d);
}

/* "a&lt;b&lt;c" in 8 bytes: the cut used to back off into "&lt;", leaving
 * "a&lt..." (Slack then shows "&lt" literally). */
static void test_cut_never_splits_an_entity(void **state)
{
	char buf[8];
	(void)state;

	assert_string_equal(chat_escape(buf, sizeof buf, "a<b<c"), "a...");
	assert_string_equal(chat_escape(buf, sizeof buf, "ab&&&"), "ab...");
}

/* "éAééé" in 8 bytes: the cut used to keep the first byte of the second
 * "é" ("éA\xc3..."), which is not UTF-8. */
static void test_cut_never_splits_a_character(void **state)
{
	char buf[8];
	(void)state;

	assert_string_equal(chat_escape(buf, sizeof buf, "\xc3\xa9" "A\xc3\xa9\xc3\xa9\xc3\xa9"),
			    "\xc3\xa9" "A...");
	/* a 4-byte character: nothing of it, or all of it */
	assert_string_equal(chat_escape(buf, sizeof buf, "ab\xf0\x9f\x9a\x80\xf0\x9f\x9a\x80"),
			    "ab...");
	assert_string_equal(chat_escape(buf, sizeof buf, "\xf0\x9f\x9a\x80" "abcdef"),
			    "\xf0\x9f\x9a\x80...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_cut_never_splits_an_entity),
		cmocka_unit_test(test_cut_never_splits_a_character),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
