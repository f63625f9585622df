/* Tests for the error enum: names/messages come from the same X-macro. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "bot/base/error.h"

static void test_names_and_messages(void **state)
{
	(void)state;
	assert_string_equal(bot_err_name(BOT_EOK), "EOK");
	assert_string_equal(bot_err_name(BOT_EINVAL), "EINVAL");
	assert_string_equal(bot_strerror(BOT_ENOMEM), "out of memory");
	assert_string_equal(bot_strerror(9999), "unknown error");
	assert_string_equal(bot_err_name(-1), "EUNKNOWN");
}

static void test_every_code_has_distinct_text(void **state)
{
	static const int codes[] = {
#define X(name, num, msg) num,
		BOT_ERRNO_MAP(X)
#undef X
	};
	(void)state;
	for (size_t i = 0; i < BOT_ARRAY_LEN(codes); i++) {
		assert_int_equal(codes[i], (int)i); /* dense, never renumbered */
		for (size_t j = i + 1; j < BOT_ARRAY_LEN(codes); j++) {
			assert_string_not_equal(bot_err_name(codes[i]), bot_err_name(codes[j]));
			assert_string_not_equal(bot_strerror(codes[i]), bot_strerror(codes[j]));
		}
	}
}

static void test_error_set_and_at(void **state)
{
	struct bot_error e;
	(void)state;
	assert_int_equal(bot_error_set(&e, BOT_EPARSE, "bad %s at %d", "x", 3), BOT_EPARSE);
	assert_string_equal(e.msg, "bad x at 3");
	assert_null(e.file);
	assert_int_equal(bot_error_at(&e, BOT_ECONFIG, "f.yaml", 4, 7, "nope"), BOT_ECONFIG);
	assert_string_equal(e.file, "f.yaml");
	assert_int_equal(e.line, 4);
	assert_int_equal(e.col, 7);
	/* NULL err is allowed and still returns the code */
	assert_int_equal(bot_error_set(NULL, BOT_EIO, "x"), BOT_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_messages),
		cmocka_unit_test(test_every_code_has_distinct_text),
		cmocka_unit_test(test_error_set_and_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
