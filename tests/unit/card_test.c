/* The approval card rendered from stored gates in each state: buttons only
 * while pending, the plain rule with the deadline, approval by timer never
 * shown as a person's, and user text escaped (by the Slack renderer). The
 * card itself holds no Slack markup: rendered for the console, no <@...>,
 * <!date...>, entities, stars or backticks are left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/console/console.h"
#include "adapters/slack/blocks.h"
#include "adapters/slack/mrkdwn.h"
#include "bot/domain/card.h"

#define T0 1795000000000LL /* 2026-11-18T11:06:40Z */

static char *approvers[] = {"U0APPROVER1", "U0APPROVER2"};

static struct store_gate gate(enum gate_state st)
{
	struct store_gate g = {
		.id = 42, .service = "web", .cluster = "prod", .ecs_service = "web-svc",
		.requester = "U0ONCALL1", .target = 10, .desired_at_request = 2,
		.reason = "CPU <!channel> & co", .timer_ms = 600000, .approvers = approvers,
		.n_approvers = 2, .min_approvals = 1, .channel = "C1", .message_ts = "1.2",
		.evidence = "web in cluster prod is ACTIVE\n• Tasks: 2 desired", .created_at = T0, .state = st, .decision = GATE_PENDING,
	};
	return g;
}

/* Off where the test's own data looks like markup. */
static bool check_markup = true;

/* Structured text as the console shows it: no Slack markup may be left
 * (the domain says what, each backend writes its own markup). */
static void assert_no_markup(const struct chat_text *t)
{
	static const char *const markup[] = {"<@", "<!", "<#", "&amp;", "&lt;", "&gt;", "*", "`"};
	char *plain = console_render_rich(t);

	assert_non_null(plain);
	if (!check_markup) {
		free(plain);
		return;
	}
	for (size_t i = 0; i < sizeof markup / sizeof markup[0]; i++)
		if (strstr(plain, markup[i]))
			fail_msg("Slack markup '%s' in the card's text: %s", markup[i], plain);
	free(plain);
}

/* One text (structured: as Slack shows it) at buf + *o. */
static void add_text(char *buf, size_t n, size_t *o, const struct chat_text *rich, const char *text)
{
	char *mine = NULL;

	if (rich) {
		assert_no_markup(rich);
		assert_non_null(mine = slack_mrkdwn(rich));
		text = mine;
	}
	if (text && *o < n)
		*o += (size_t)snprintf(buf + *o, n - *o, "%s\n", text);
	free(mine);
}

/* All the displayed text of the card, one string: structured text as Slack
 * gets it (mrkdwn), plain text (header, reason, evidence) as written. */
static const char *all_text(const struct card *c, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	add_text(buf, n, &o, c->msg.rich, NULL);
	for (size_t i = 0; i < c->msg.n_blocks; i++)
		add_text(buf, n, &o, c->msg.blocks[i].rich, c->msg.blocks[i].text);
	return buf;
}

/* One structured text as Slack gets it, into buf. */
static const char *mrkdwn(const struct chat_text *t, char *buf, size_t n)
{
	char *s = slack_mrkdwn(t);
	assert_non_null(s);
	snprintf(buf, n, "%s", s);
	free(s);
	return buf;
}

static const struct chat_block *actions(const struct card *c)
{
	for (size_t i = 0; i < c->msg.n_blocks; i++)
		if (c->msg.blocks[i].type == CHAT_BLOCK_ACTIONS)
			return &c->msg.blocks[i];
	return NULL;
}

static void test_pending_before_delivery(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_PENDING);
	struct card c;
	char t[8192];
	card_render(&c, &g, &(struct card_info){.now_ms = T0});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "Scale request #42: web"));
	assert_non_null(strstr(t, "from *2* to *10*"));
	/* what the requester typed is a plain-text block of its own: no
	 * mention, no bold decision line can be smuggled into the markup */
	const struct chat_block *reason = NULL;
	char other[8192];
	size_t o = 0;
	int n_plain = 0;
	add_text(other, sizeof other, &o, c.msg.rich, NULL);
	for (size_t i = 0; i < c.msg.n_blocks; i++) {
		if (c.msg.blocks[i].type == CHAT_BLOCK_PLAIN && n_plain++ == 0)
			reason = &c.msg.blocks[i];
		else if (c.msg.blocks[i].type != CHAT_BLOCK_PLAIN)
			add_text(other, sizeof other, &o, c.msg.blocks[i].rich, c.msg.blocks[i].text);
	}
	assert_non_null(reason);
	assert_string_equal(reason->text, "Reason: CPU <!channel> & co");
	/* the evidence as stored (plain text), under a title of its own */
	assert_non_null(strstr(t, "*What the approvers see:*\nweb in cluster prod is ACTIVE\n"
			       "• Tasks: 2 desired\n"));
	/* everywhere else (as Slack gets it), it is not */
	assert_null(strstr(other, "<!channel>"));
	assert_non_null(strstr(t, "<@U0APPROVER1>, <@U0APPROVER2>"));
	assert_non_null(strstr(t, "10m after this card is posted unless an approver denies"));
	const struct chat_block *a = actions(&c);
	assert_non_null(a);
	assert_int_equal(a->n_buttons, 2);
	assert_string_equal(a->buttons[0].action_id, CARD_ACTION_APPROVE);
	assert_int_equal(a->buttons[0].style, CHAT_BUTTON_PRIMARY);
	assert_string_equal(a->buttons[0].value, "42");
	assert_string_equal(a->buttons[1].action_id, CARD_ACTION_DENY);
	assert_int_equal(a->buttons[1].style, CHAT_BUTTON_DANGER);
	assert_non_null(a->buttons[1].confirm); /* deny asks first */
	assert_null(a->buttons[0].confirm);
}

static void test_pending_with_deadline_and_reminder(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_PENDING);
	struct card c;
	char t[8192];
	g.delivered_at = T0 + 1000;
	g.deadline = T0 + 601000;
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 541000, .reminder = "1 minute left"});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Approves automatically at <!date^1795000601^{date_short_pretty} "
			       "{time}|2026-11-18 11:16 UTC> unless an approver denies.*"));
	assert_non_null(strstr(t, "unless an approver denies"));
	assert_non_null(strstr(t, "1 minute left: about 1m to go"));
	assert_non_null(actions(&c));
}

static void test_timer_approval_is_not_a_person(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_SUCCEEDED);
	struct card c;
	char t[8192];
	struct chat_text rec;
	chat_text_init(&rec);
	chat_text_printf(&rec, "running 10 of 10");
	g.decision = GATE_APPROVED_BY_TIMER;
	g.decided_at = T0 + 601000;
	g.result_detail = "desired count set to 10 (was 2)";
	g.aws_request_id = "req-1";
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 700000, .recovery = &rec});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Approved by timer* (no person approved)"));
	assert_null(strstr(t, "Approved* by <@"));
	assert_non_null(strstr(t, "desired count set to 10 (was 2)"));
	assert_non_null(strstr(t, "`req-1`"));
	assert_non_null(strstr(t, "*Recovery:* running 10 of 10"));
	assert_null(actions(&c)); /* decided: the buttons are gone */
}

static void test_restart_resolution_is_said(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_APPROVED_BY_TIMER);
	struct chat_text t;
	char d[700];
	g.decision = GATE_APPROVED_BY_TIMER;
	g.decision_detail = "resolved after restart";
	g.decided_at = T0 + 601000;
	chat_text_init(&t);
	card_decision(&g, &t);
	assert_no_markup(&t);
	assert_non_null(strstr(mrkdwn(&t, d, sizeof d), "resolved after restart"));
	assert_non_null(strstr(d, "*Approved by timer* (no person approved)"));
	assert_non_null(strstr(d, " at <!date^1795000601^{date_short_pretty} {time}|2026-11-18 11:16 UTC>"));
}

static void test_denied_and_approved_by_people(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_DENIED);
	struct card c;
	char t[8192];
	g.decision = GATE_DENIED;
	g.decided_by = "U0APPROVER2";
	g.decided_at = T0 + 5000;
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 6000});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Denied* by <@U0APPROVER2>"));
	assert_non_null(strstr(t, "Nothing was changed."));
	assert_null(actions(&c));

	char *by[] = {"U0APPROVER1", "U0APPROVER2"};
	g = gate(GATE_EXECUTING);
	g.decision = GATE_APPROVED;
	g.approved_by = by;
	g.n_approved = 2;
	g.exec_from = 2;
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 6000});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Approved* by <@U0APPROVER1> and <@U0APPROVER2>"));
	assert_non_null(strstr(t, "desiredCount=10 (desired count before: 2)"));
}

static void test_dry_run_is_not_called_a_failure(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_FAILED);
	struct card c;
	char t[8192];
	g.decision = GATE_APPROVED_BY_TIMER;
	g.result_kind = "dry_run";
	g.result_detail = "dry run: would call ECS UpdateService(cluster=prod, service=web-svc, "
			  "desiredCount=10); nothing was changed";
	card_render(&c, &g, &(struct card_info){.now_ms = T0});
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Dry run:* dry run: would call ECS UpdateService"));
	assert_null(strstr(t, "*Failed:*"));
}

static void test_undelivered_and_bad_ids(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_FAILED);
	struct card c;
	char t[8192];
	g.decision = GATE_FAILED;
	g.decision_detail = "channel_not_found";
	g.requester = "<!here>"; /* not an id: never rendered as markup */
	card_render(&c, &g, &(struct card_info){.now_ms = T0});
	check_markup = false; /* the requester's "id" itself looks like markup */
	all_text(&c, t, sizeof t);
	check_markup = true;
	assert_non_null(strstr(t, "*Not delivered*: channel_not_found"));
	assert_non_null(strstr(t, "never be approved by the timer"));
	assert_null(strstr(t, "<!here>"));
	assert_non_null(strstr(t, "&lt;!here&gt;"));
}

/* What people typed (the reason) and what AWS reported (the evidence, as
 * stored) reach Slack as plain_text with & < > escaped: a "<!channel>" or a
 * "*" in them is shown literally, cannot ping and cannot style; no mrkdwn
 * field holds them. */
static void test_slack_shows_user_text_literally(void **state)
{
	(void)state;
	struct store_gate g = gate(GATE_PENDING);
	struct bot_error err = {0};
	struct card c;
	json_t *body = NULL;
	size_t i;
	json_t *b;

	g.reason = "CPU <!channel> *now* & co";
	g.evidence = "web <!here> *x* `y` & z";
	card_render(&c, &g, &(struct card_info){.now_ms = T0});
	assert_int_equal(slack_blocks_build(&c.msg, &body, &err), 0);
	char *all = json_dumps(body, JSON_COMPACT);
	assert_non_null(all);
	assert_null(strstr(all, "<!channel>"));
	assert_null(strstr(all, "<!here>"));
	free(all);
	int seen = 0;
	json_array_foreach(json_object_get(body, "blocks"), i, b) {
		json_t *t = json_object_get(b, "text");
		const char *type = json_string_value(json_object_get(t, "type"));
		const char *text = json_string_value(json_object_get(t, "text"));
		if (!text)
			continue;
		if (strcmp(type, "mrkdwn") == 0) {
			assert_null(strstr(text, "*now*"));
			assert_null(strstr(text, "*x*"));
			continue;
		}
		if (strcmp(text, "Reason: CPU &lt;!channel&gt; *now* &amp; co") == 0 ||
		    strcmp(text, "web &lt;!here&gt; *x* `y` &amp; z") == 0) {
			assert_string_equal(type, "plain_text");
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_before_delivery),
		cmocka_unit_test(test_pending_with_deadline_and_reminder),
		cmocka_unit_test(test_timer_approval_is_not_a_person),
		cmocka_unit_test(test_restart_resolution_is_said),
		cmocka_unit_test(test_denied_and_approved_by_people),
		cmocka_unit_test(test_dry_run_is_not_called_a_failure),
		cmocka_unit_test(test_undelivered_and_bad_ids),
		cmocka_unit_test(test_slack_shows_user_text_literally),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
