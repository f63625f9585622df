/* Socket Mode frames as Slack documents them: hello, disconnect reasons,
 * slash commands, block actions, app mentions, redeliveries, bad frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/slack/envelope.h"

static int parse(const char *s, struct slack_frame *f)
{
	struct bot_error err = {0};
	return slack_frame_parse(s, strlen(s), f, &err);
}

static void test_hello(void **state)
{
	struct slack_frame f;
	(void)state;
	/* Slack's SDK mock hello */
	assert_int_equal(parse("{\"type\":\"hello\",\"num_connections\":2,\"debug_info\":{\"host\":\"applink-111-xxx\","
			       "\"build_number\":10,\"approximate_connection_time\":18060},"
			       "\"connection_info\":{\"app_id\":\"A111\"}}", &f), 0);
	assert_int_equal(f.kind, SLACK_FRAME_HELLO);
	assert_int_equal(f.num_connections, 2);
	assert_int_equal(f.approximate_connection_time, 18060);
	slack_frame_finish(&f);
	/* minimal hello */
	assert_int_equal(parse("{\"type\":\"hello\"}", &f), 0);
	assert_int_equal(f.kind, SLACK_FRAME_HELLO);
	slack_frame_finish(&f);
}

static void test_disconnect_reasons(void **state)
{
	static const struct { const char *reason; enum slack_disconnect_action a; } cases[] = {
		{"warning", SLACK_DISC_REFRESH},
		{"refresh_requested", SLACK_DISC_REFRESH},
		{"link_disabled", SLACK_DISC_STOP},
		{"too_many_websockets", SLACK_DISC_BACKOFF},
		{"something_new", SLACK_DISC_REFRESH},
	};
	char buf[256];
	struct slack_frame f;
	(void)state;
	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		snprintf(buf, sizeof buf, "{\"type\":\"disconnect\",\"reason\":\"%s\",\"debug_info\":{\"host\":\"wss-111\"}}",
			 cases[i].reason);
		assert_int_equal(parse(buf, &f), 0);
		assert_int_equal(f.kind, SLACK_FRAME_DISCONNECT);
		assert_int_equal(f.action, cases[i].a);
		assert_string_equal(f.reason, cases[i].reason);
		slack_frame_finish(&f);
	}
}

static const char slash[] =
	"{\"envelope_id\":\"1d3c79ab-0ffb-41f3-a080-d19e85f53649\",\"type\":\"slash_commands\","
	"\"accepts_response_payload\":true,\"payload\":{\"token\":\"verification-token\",\"team_id\":\"T111\","
	"\"team_domain\":\"xxx\",\"channel_id\":\"C111\",\"channel_name\":\"random\",\"user_id\":\"U111\","
	"\"user_name\":\"testxyz\",\"command\":\"/scale\",\"text\":\"mysecretword-service 100\","
	"\"api_app_id\":\"A111\",\"response_url\":\"https://hooks.slack.com/commands/T111/111/xxx\","
	"\"trigger_id\":\"111.222.xxx\"}}";

static void test_slash_command(void **state)
{
	struct slack_frame f;
	char ack[256];
	(void)state;
	assert_int_equal(parse(slash, &f), 0);
	assert_int_equal(f.kind, SLACK_FRAME_ENVELOPE);
	assert_string_equal(f.type, "slash_commands");
	assert_string_equal(f.envelope_id, "1d3c79ab-0ffb-41f3-a080-d19e85f53649");
	assert_true(f.has_event);
	assert_int_equal(f.ev.type, CHAT_EV_COMMAND);
	assert_string_equal(f.ev.command, "/scale");
	assert_string_equal(f.ev.text, "mysecretword-service 100");
	assert_string_equal(f.ev.user, "U111");
	assert_string_equal(f.ev.channel, "C111");
	assert_string_equal(f.ev.response_url, "https://hooks.slack.com/commands/T111/111/xxx");
	assert_string_equal(f.dedupe_key, "cmd:111.222.xxx");
	assert_ptr_equal(f.ev.id, f.dedupe_key);
	size_t n = slack_ack_frame(f.envelope_id, ack, sizeof ack);
	assert_int_equal(n, strlen(ack));
	assert_string_equal(ack, "{\"envelope_id\":\"1d3c79ab-0ffb-41f3-a080-d19e85f53649\"}");
	assert_int_equal(slack_ack_frame(f.envelope_id, ack, 10), 0);
	slack_frame_finish(&f);
}

static void test_block_action(void **state)
{
	struct slack_frame f;
	(void)state;
	assert_int_equal(parse(
		"{\"envelope_id\":\"dbdd0ef3\",\"type\":\"interactive\",\"accepts_response_payload\":false,"
		"\"payload\":{\"type\":\"block_actions\",\"user\":{\"id\":\"W111\",\"username\":\"primary-owner\"},"
		"\"container\":{\"type\":\"message\",\"message_ts\":\"111.222\",\"channel_id\":\"C111\"},"
		"\"trigger_id\":\"111.222.valid\",\"channel\":{\"id\":\"C111\",\"name\":\"test-channel\"},"
		"\"message\":{\"type\":\"message\",\"ts\":\"111.222\"},"
		"\"response_url\":\"https://hooks.slack.com/actions/T111/111/random-value\","
		"\"actions\":[{\"action_id\":\"gate.approve\",\"block_id\":\"b\",\"value\":\"42\","
		"\"type\":\"button\",\"action_ts\":\"1596530385.194939\"}]}}", &f), 0);
	assert_true(f.has_event);
	assert_int_equal(f.ev.type, CHAT_EV_BUTTON);
	assert_string_equal(f.ev.user, "W111");
	assert_string_equal(f.ev.channel, "C111");
	assert_string_equal(f.ev.message_ts, "111.222");
	assert_string_equal(f.ev.action_id, "gate.approve");
	assert_string_equal(f.ev.value, "42");
	assert_string_equal(f.dedupe_key, "act:W111:1596530385.194939:gate.approve");
	slack_frame_finish(&f);

	/* a view submission is acked and ignored */
	assert_int_equal(parse("{\"envelope_id\":\"e2\",\"type\":\"interactive\",\"payload\":"
			       "{\"type\":\"view_submission\"}}", &f), 0);
	assert_int_equal(f.kind, SLACK_FRAME_ENVELOPE);
	assert_false(f.has_event);
	slack_frame_finish(&f);
}

static const char mention[] =
	"{\"envelope_id\":\"%s\",\"type\":\"events_api\",\"accepts_response_payload\":false,"
	"\"retry_attempt\":%d,\"retry_reason\":\"%s\",\"payload\":{\"token\":\"t\",\"team_id\":\"T111\","
	"\"api_app_id\":\"A111\",\"type\":\"event_callback\",\"event_id\":\"Ev111\",\"event_time\":1610241741,"
	"\"event\":{\"type\":\"app_mention\",\"text\":\"<@U0BOT> scale web 3\",\"user\":\"U222\","
	"\"ts\":\"1610241741.000200\",\"channel\":\"C111\",\"event_ts\":\"1610241741.000200\"}}}";

static void test_mention_and_redelivery(void **state)
{
	struct slack_frame a, b;
	char buf[1024];
	(void)state;
	snprintf(buf, sizeof buf, mention, "cda4159a", 0, "");
	assert_int_equal(parse(buf, &a), 0);
	assert_int_equal(a.ev.type, CHAT_EV_MENTION);
	assert_string_equal(a.ev.text, "<@U0BOT> scale web 3");
	assert_string_equal(a.ev.user, "U222");
	assert_int_equal(a.retry_attempt, 0);
	/* Slack redelivers with a new envelope id and retry_attempt > 0: the
	 * dedupe key must be the same, so the bot acts once. */
	snprintf(buf, sizeof buf, mention, "ffff0000", 1, "timeout");
	assert_int_equal(parse(buf, &b), 0);
	assert_int_equal(b.retry_attempt, 1);
	assert_string_not_equal(a.envelope_id, b.envelope_id);
	assert_string_equal(a.dedupe_key, b.dedupe_key);
	assert_string_equal(a.dedupe_key, "ev:Ev111");
	slack_frame_finish(&a);
	slack_frame_finish(&b);

	/* other event types: acked, ignored */
	assert_int_equal(parse("{\"envelope_id\":\"x\",\"type\":\"events_api\",\"payload\":"
			       "{\"event_id\":\"Ev2\",\"event\":{\"type\":\"reaction_added\"}}}", &a), 0);
	assert_false(a.has_event);
	slack_frame_finish(&a);
}

static void test_bad_frames(void **state)
{
	struct slack_frame f;
	struct bot_error err = {0};
	(void)state;
	static const char *const bad[] = {
		"", "not json", "[1,2]", "{}", "{\"type\":3}",
		"{\"type\":\"slash_commands\",\"payload\":{}}",                       /* no envelope id */
		"{\"type\":\"slash_commands\",\"envelope_id\":\"\",\"payload\":{}}",   /* empty id */
		"{\"type\":\"slash_commands\",\"envelope_id\":\"e\"}",                /* no payload */
		"{\"type\":\"slash_commands\",\"envelope_id\":\"e\",\"payload\":{\"command\":\"/x\"}}",
		"{\"type\":\"interactive\",\"envelope_id\":\"e\",\"payload\":{\"type\":\"block_actions\"}}",
		"{\"type\":\"events_api\",\"envelope_id\":\"e\",\"payload\":{\"event\":{}}}",
		"{\"type\":\"hello\",\"type\":\"hello\"}",                             /* duplicate key */
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(bad); i++) {
		err.msg[0] = '\0';
		assert_int_equal(slack_frame_parse(bad[i], strlen(bad[i]), &f, &err), BOT_EPARSE);
		assert_true(strlen(err.msg) > 0);
		assert_null(f.json_);
	}
	size_t big = SLACK_FRAME_MAX + 1;
	char *huge = malloc(big);
	assert_non_null(huge);
	memset(huge, ' ', big);
	assert_int_equal(slack_frame_parse(huge, big, &f, &err), BOT_ETOOBIG);
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_disconnect_reasons),
		cmocka_unit_test(test_slash_command),
		cmocka_unit_test(test_block_action),
		cmocka_unit_test(test_mention_and_redelivery),
		cmocka_unit_test(test_bad_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
