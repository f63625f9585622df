/* Tests for bot/base/url: the one rule for http:// and ws:// (loopback hosts
 * only), with the host taken as curl takes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bot/base/error.h"
#include "bot/base/url.h"

static void test_loopback_hosts(void **state)
{
	static const char *const yes[] = {
		"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1",
		"[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::ffff:127.9.9.9]",
	};
	static const char *const no[] = {
		"", "example.com", "localhost.", "localhost.example.com", "127.0.0.1.example.com",
		"128.0.0.1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "::", "[::2]", "::ffff:10.0.0.1",
		"[::1", "127.1", "0x7f000001",
	};
	(void)state;

	for (size_t i = 0; i < BOT_ARRAY_LEN(yes); i++)
		if (!url_is_loopback_host(yes[i]))
			fail_msg("%s should be a loopback host", yes[i]);
	for (size_t i = 0; i < BOT_ARRAY_LEN(no); i++)
		if (url_is_loopback_host(no[i]))
			fail_msg("%s should not be a loopback host", no[i]);
	assert_false(url_is_loopback_host(NULL));
}

static void test_check_http(void **state)
{
	static const struct {
		const char *url;
		int rc;
	} cases[] = {
		{"https://slack.com/api", BOT_EOK},
		{"HTTPS://example.com:8443/x", BOT_EOK},
		{"http://127.0.0.1:8089/api", BOT_EOK},
		{"http://localhost:5000", BOT_EOK},
		{"http://[::1]:5000/", BOT_EOK},
		{"http://127.7.7.7", BOT_EOK},
		{"http://user@127.0.0.1/", BOT_EOK},                /* the host is 127.0.0.1 */
		{"http://slack.com/api", BOT_EPERM},
		{"http://10.0.0.5:4566", BOT_EPERM},
		{"http://169.254.169.254/", BOT_EPERM},
		{"http://127.0.0.1.example.com/", BOT_EPERM},
		{"http://localhost.example.com/", BOT_EPERM},
		{"http://127.0.0.1@example.com/", BOT_EPERM},      /* 127.0.0.1 is the user */
		{"http://127.0.0.1:80@example.com/", BOT_EPERM},   /* user and password */
		{"http://[::2]/", BOT_EPERM},
		{"ftp://127.0.0.1/", BOT_EINVAL},
		{"ws://127.0.0.1/", BOT_EINVAL},
		{"slack.com/api", BOT_EINVAL},
		{"http://", BOT_EINVAL},
		{"https://", BOT_EINVAL},
		{"", BOT_EINVAL},
		{NULL, BOT_EINVAL},
	};
	(void)state;

	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		int rc = url_check_http(cases[i].url);
		if (rc != cases[i].rc)
			fail_msg("%s: got %s, want %s", cases[i].url ? cases[i].url : "(null)",
				 bot_err_name(rc), bot_err_name(cases[i].rc));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_hosts),
		cmocka_unit_test(test_check_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
