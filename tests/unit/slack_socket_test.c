/* Socket Mode URL policy: wss anywhere, ws:// to loopback only, host/port/
 * path split (the ticket stays in the path, never in the host). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "adapters/slack/socket.h"

static int parse(const char *url, bool *tls, char *host, int *port, char *path)
{
	return slack_ws_parse_url(url, tls, host, 64, port, path, 128);
}

static void test_wss(void **state)
{
	bool tls = false;
	char host[64], path[128];
	int port = 0;

	(void)state;
	assert_int_equal(parse("wss://wss-primary.slack.com/link/?ticket=abc-123&app_id=A1", &tls,
			       host, &port, path), 0);
	assert_true(tls);
	assert_string_equal(host, "wss-primary.slack.com");
	assert_int_equal(port, 443);
	assert_string_equal(path, "/link/?ticket=abc-123&app_id=A1");
	assert_int_equal(parse("WSS://h.example:8443", &tls, host, &port, path), 0);
	assert_string_equal(host, "h.example");
	assert_int_equal(port, 8443);
	assert_string_equal(path, "/");
	assert_int_equal(parse("wss://h.example?ticket=x", &tls, host, &port, path), 0);
	assert_string_equal(path, "/?ticket=x");
	assert_int_equal(parse("wss://[2001:db8::1]:444/link", &tls, host, &port, path), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 444);
}

static void test_ws_loopback_only(void **state)
{
	bool tls = true;
	char host[64], path[128];
	int port = 0;

	(void)state;
	assert_int_equal(parse("ws://127.0.0.1:4567/link/?ticket=t", &tls, host, &port, path), 0);
	assert_false(tls);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 4567);
	assert_int_equal(parse("ws://localhost/link", &tls, host, &port, path), 0);
	assert_int_equal(port, 80);
	assert_int_equal(parse("ws://127.10.0.3:1/", &tls, host, &port, path), 0);
	assert_int_equal(parse("ws://[::1]:9/", &tls, host, &port, path), 0);
	/* plain text to anything else: refused */
	assert_int_equal(parse("ws://wss-primary.slack.com/link/", &tls, host, &port, path), BOT_EPERM);
	assert_int_equal(parse("ws://10.0.0.1/link/", &tls, host, &port, path), BOT_EPERM);
	assert_int_equal(parse("ws://128.0.0.1/", &tls, host, &port, path), BOT_EPERM);
	assert_int_equal(parse("ws://localhost.evil.example/", &tls, host, &port, path), BOT_EPERM);
}

static void test_malformed(void **state)
{
	bool tls;
	char host[64], path[128], longhost[100];
	int port;

	(void)state;
	assert_int_equal(parse(NULL, &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("https://slack.com/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://:443/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://h:0/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://h:70000/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://h:12x/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://h@evil/", &tls, host, &port, path), BOT_EINVAL);
	assert_int_equal(parse("wss://[::1/", &tls, host, &port, path), BOT_EINVAL);
	memset(longhost, 0, sizeof longhost);
	memcpy(longhost, "wss://", 6);
	memset(longhost + 6, 'a', 80);
	assert_int_equal(parse(longhost, &tls, host, &port, path), BOT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wss),
		cmocka_unit_test(test_ws_loopback_only),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
