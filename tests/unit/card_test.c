/* The approval card rendered from stored gates in each state: buttons only
 * while pending, the plain rule with the deadline, approval by timer never
 * shown as a person's, and user text escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

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
		.evidence = "*web* is ACTIVE", .created_at = T0, .state = st, .decision = GATE_PENDING,
	};
	return g;
}

/* All the displayed text of the card, one string. */
static const char *all_text(const struct card *c, char *buf, size_t n)
{
	size_t o = (size_t)snprintf(buf, n, "%s\n", c->msg.text);
	for (size_t i = 0; i < c->msg.n_blocks && o < n; i++)
		if (c->msg.blocks[i].text)
			o += (size_t)snprintf(buf + o, n - o, "%s\n", c->msg.blocks[i].text);
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
	for (size_t i = 0; i < c.msg.n_blocks; i++) {
		if (c.msg.blocks[i].type == CHAT_BLOCK_PLAIN)
			reason = &c.msg.blocks[i];
		else if (c.msg.blocks[i].text)
			assert_null(strstr(c.msg.blocks[i].text, "<!channel>"));
	}
	assert_non_null(reason);
	assert_string_equal(reason->text, "Reason: CPU <!channel> & co");
	assert_null(strstr(c.msg.text, "<!channel>"));
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
	char t[8192], d[96];
	g.delivered_at = T0 + 1000;
	g.deadline = T0 + 601000;
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 541000, .reminder = "1 minute left"});
	all_text(&c, t, sizeof t);
	card_date(g.deadline, d, sizeof d);
	assert_non_null(strstr(t, "Approves automatically at "));
	assert_non_null(strstr(t, d));
	assert_non_null(strstr(d, "|2026-11-18 11:16 UTC>"));
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
	g.decision = GATE_APPROVED_BY_TIMER;
	g.decided_at = T0 + 601000;
	g.result_detail = "desired count set to 10 (was 2)";
	g.aws_request_id = "req-1";
	card_render(&c, &g, &(struct card_info){.now_ms = T0 + 700000, .recovery = "running 10 of 10"});
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
	char d[700];
	g.decision = GATE_APPROVED_BY_TIMER;
	g.decision_detail = "resolved after restart";
	card_decision(&g, d, sizeof d);
	assert_non_null(strstr(d, "resolved after restart"));
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
	assert_non_null(strstr(t, "UpdateService desiredCount=10 (was 2)"));
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
	all_text(&c, t, sizeof t);
	assert_non_null(strstr(t, "*Not delivered*: channel_not_found"));
	assert_non_null(strstr(t, "never be approved by the timer"));
	assert_null(strstr(t, "<!here>"));
	assert_non_null(strstr(t, "&lt;!here&gt;"));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
