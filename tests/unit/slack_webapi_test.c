/* The Web API's ok:false error table: sorted for bsearch, and the codes
 * callers act on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/slack/webapi.h"

static void test_error_table(void **state)
{
	(void)state;
	assert_true(slack_api_error_table_ok());
	assert_int_equal(slack_api_error_code("channel_not_found"), BOT_ENOTFOUND);
	assert_int_equal(slack_api_error_code("invalid_auth"), BOT_EAUTH);
	assert_int_equal(slack_api_error_code("not_in_channel"), BOT_EPERM);
	assert_int_equal(slack_api_error_code("message_not_found"), BOT_ENOTFOUND);
	assert_int_equal(slack_api_error_code("msg_too_long"), BOT_EINVAL);
	assert_int_equal(slack_api_error_code("ratelimited"), BOT_ERATELIMIT);
	assert_int_equal(slack_api_error_code("something_new"), BOT_EREMOTE);
	assert_int_equal(slack_api_error_code(NULL), BOT_EREMOTE);
	assert_non_null(slack_api_error_hint("not_in_channel"));
	assert_null(slack_api_error_hint("something_new"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
