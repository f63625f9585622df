/* The shared growable buffer: appends, printf past the small-buffer path,
 * "" for an empty take, the hard cap, and sticky failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bot/base/dbuf.h"

static void test_append_and_take(void **state)
{
	struct dbuf b = {0};
	char big[600];
	(void)state;

	char *s = dbuf_take(&b);
	assert_string_equal(s, ""); /* nothing appended: "", not NULL */
	free(s);
	dbuf_puts(&b, "key");
	dbuf_putc(&b, '=');
	dbuf_printf(&b, "%d", 42);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	dbuf_printf(&b, "/%s", big); /* longer than the printf fast path */
	assert_false(dbuf_failed(&b));
	assert_int_equal(b.len, 6 + 1 + sizeof big - 1);
	s = dbuf_take(&b);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "key=42/xxx", 10), 0);
	assert_int_equal(strlen(s), 6 + 1 + sizeof big - 1);
	free(s);
	assert_null(b.p); /* emptied, reusable */
	assert_int_equal(b.len, 0);
}

static void test_cap_is_sticky(void **state)
{
	struct dbuf b = {.max = 8};
	(void)state;

	dbuf_puts(&b, "12345678");
	assert_false(dbuf_failed(&b));
	dbuf_putc(&b, '9');
	assert_true(b.toobig);
	dbuf_free(&b);
	dbuf_puts(&b, "1234");
	dbuf_puts(&b, "56789"); /* passes the cap: refused as a whole */
	dbuf_puts(&b, "a");     /* and everything after it */
	assert_true(dbuf_failed(&b));
	assert_int_equal(b.len, 4);
	assert_null(dbuf_take(&b));
	assert_false(dbuf_failed(&b)); /* take resets */
	assert_int_equal(b.max, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_take),
		cmocka_unit_test(test_cap_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
