/* card.c - the approval card (see card.h). */
#include "bot/domain/card.h"
#include "bot/domain/action.h"
#include "bot/base/duration.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A user by id; NULL is "someone" (the backend shows a bad id as text). */
bool card_actor_is_person(const char *id)
{
	return id && strncmp(id, CARD_ACTOR_ALARM, strlen(CARD_ACTOR_ALARM)) != 0;
}

void card_put_actor(struct chat_text *t, const char *id)
{
	if (!id) {
		chat_text_printf(t, "someone");
	} else if (!card_actor_is_person(id)) {
		chat_text_printf(t, "CloudWatch alarm ");
		chat_text_bold(t, "%s", id + strlen(CARD_ACTOR_ALARM));
	} else {
		chat_text_user(t, id);
	}
}

#define put_user card_put_actor

/* The gate's action; an unknown kind (a newer version's record) is shown
 * by name and never executed (gate_exec.c fails it). */
static const struct action *action_of(const struct store_gate *g)
{
	return action_find(g->action);
}


static void put_date(struct chat_text *t, int64_t t_ms)
{
	chat_text_date(t, t_ms / 1000);
}

static void put_timer(struct chat_text *t, uint64_t ms)
{
	char d[DURATION_FMT_MAX];
	if (duration_format(ms, d, sizeof d) != 0)
		snprintf(d, sizeof d, "%" PRIu64 "ms", ms);
	chat_text_printf(t, "%s", d);
}

static bool is(const char *s, const char *v)
{
	return s && strcmp(s, v) == 0;
}

void card_decision(const struct store_gate *g, struct chat_text *t)
{
	switch (g->decision) {
	case GATE_APPROVED:
		chat_text_bold(t, "Approved");
		chat_text_printf(t, " by ");
		if (g->n_approved == 0)
			put_user(t, g->decided_by);
		for (size_t i = 0; i < g->n_approved; i++) {
			if (i)
				chat_text_printf(t, i + 1 == g->n_approved ? " and " : ", ");
			put_user(t, g->approved_by[i]);
		}
		break;
	case GATE_APPROVED_BY_TIMER:
		chat_text_bold(t, "Approved by timer");
		chat_text_printf(t, " (no person approved): no approver denied within ");
		put_timer(t, g->timer_ms);
		if (is(g->decision_detail, "resolved after restart"))
			chat_text_printf(t, "; the deadline passed while the bot was down, resolved "
					 "after restart");
		break;
	case GATE_DENIED:
		chat_text_bold(t, "Denied");
		chat_text_printf(t, " by ");
		put_user(t, g->decided_by);
		break;
	case GATE_CANCELLED:
		chat_text_bold(t, "Cancelled");
		chat_text_printf(t, " by ");
		put_user(t, g->decided_by);
		break;
	case GATE_FAILED:
		chat_text_bold(t, "Not delivered");
		chat_text_printf(t, ": %s. It failed closed: it can never be approved by the timer",
				 g->decision_detail ? g->decision_detail :
				 "the request could not be posted");
		break;
	default:
		chat_text_bold(t, "Pending");
		return;
	}
	if (g->decided_at) {
		chat_text_printf(t, " at ");
		put_date(t, g->decided_at);
	}
}

void card_brief(const struct store_gate *g, char *buf, size_t n)
{
	const struct action *act = action_of(g);

	if (act)
		act->brief(g, buf, n);
	else
		snprintf(buf, n, "%s", g->action ? g->action : "?");
}

void card_reason(const struct store_gate *g, char *buf, size_t n)
{
	snprintf(buf, n, "Reason: %s", g->reason && *g->reason ? g->reason : "none given");
}

static void render_what(struct card *c, const struct store_gate *g)
{
	struct chat_text *t = &c->what;
	const struct action *act = action_of(g);

	put_user(t, g->requester);
	chat_text_printf(t, " asks to ");
	if (act) {
		act->describe(g, t);
	} else {
		chat_text_printf(t, "%s ", g->action ? g->action : "?");
		action__put_service(g, t);
	}
	chat_text_printf(t, ".");
	/* as typed, in a plain-text block: a reason cannot fake a decision
	 * line, a mention or a link */
	card_reason(g, c->reason, sizeof c->reason);
}

static void render_rule(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	struct chat_text *t = &c->rule;

	chat_text_bold(t, "Approvers:");
	chat_text_printf(t, " ");
	for (size_t i = 0; i < g->n_approvers; i++) {
		if (i)
			chat_text_printf(t, ", ");
		put_user(t, g->approvers[i]);
	}
	chat_text_printf(t, " · %d approval%s needed", g->min_approvals,
			 g->min_approvals == 1 ? "" : "s");
	if (!g->allow_self)
		chat_text_printf(t, " (not the requester's own)");
	if (g->n_approved) {
		chat_text_printf(t, "\n");
		chat_text_bold(t, "Approved so far:");
		chat_text_printf(t, " ");
		for (size_t i = 0; i < g->n_approved; i++) {
			if (i)
				chat_text_printf(t, ", ");
			put_user(t, g->approved_by[i]);
		}
		chat_text_printf(t, " (%zu of %d)", g->n_approved, g->min_approvals);
	}
	chat_text_printf(t, "\n");
	if (g->deadline) {
		unsigned old = chat_text_style(t, CHAT_STYLE_BOLD);
		chat_text_printf(t, "Approves automatically at ");
		put_date(t, g->deadline);
		chat_text_printf(t, " unless an approver denies.");
		chat_text_style(t, old);
		if (in && in->reminder) {
			int64_t left = g->deadline - in->now_ms;
			chat_text_printf(t, " ");
			old = chat_text_style(t, CHAT_STYLE_ITALIC);
			chat_text_printf(t, "(%s", in->reminder);
			if (left > 0 && left < 48LL * 3600 * 1000) {
				uint64_t mins = (uint64_t)(left + 30000) / 60000;
				chat_text_printf(t, ": about ");
				put_timer(t, (mins ? mins : 1) * 60000);
				chat_text_printf(t, " to go");
			}
			chat_text_printf(t, ")");
			chat_text_style(t, old);
		}
	} else {
		unsigned old = chat_text_style(t, CHAT_STYLE_BOLD);
		chat_text_printf(t, "Approves automatically ");
		put_timer(t, g->timer_ms);
		chat_text_printf(t, " after this card is posted unless an approver denies.");
		chat_text_style(t, old);
	}
}

static void render_status(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	struct chat_text *t = &c->status;

	card_decision(g, t);
	if (g->state == GATE_FAILED && g->decision == GATE_FAILED) {
		chat_text_printf(t, ". Nothing was changed.");
		return;
	}
	chat_text_printf(t, ".");
	switch (g->state) {
	case GATE_DENIED:
	case GATE_CANCELLED:
		chat_text_printf(t, " Nothing was changed.");
		break;
	case GATE_APPROVED:
	case GATE_APPROVED_BY_TIMER:
		chat_text_printf(t, "\n");
		chat_text_bold(t, "Next:");
		char b[200];
		card_brief(g, b, sizeof b);
		chat_text_printf(t, " re-reading the service, then: %s.", b);
		break;
	case GATE_EXECUTING:
		chat_text_printf(t, "\n");
		chat_text_bold(t, "Calling AWS:");
		chat_text_printf(t, " ");
		if (action_of(g))
			action_of(g)->call_text(g, t);
		chat_text_printf(t, "…");
		break;
	case GATE_SUCCEEDED:
		chat_text_printf(t, "\n");
		chat_text_bold(t, "Done:");
		chat_text_printf(t, " %s", g->result_detail ? g->result_detail : "done");
		if (g->aws_request_id && *g->aws_request_id) {
			chat_text_printf(t, " (AWS request id ");
			chat_text_code(t, "%s", g->aws_request_id);
			chat_text_printf(t, ")");
		}
		if (in && in->recovery) {
			chat_text_printf(t, "\n");
			chat_text_bold(t, "Recovery:");
			chat_text_printf(t, " ");
			chat_text_cat(t, in->recovery);
		}
		break;
	case GATE_FAILED:
		chat_text_printf(t, "\n");
		chat_text_bold(t, is(g->result_kind, "dry_run") ? "Dry run:" : "Failed:");
		chat_text_printf(t, " %s", g->result_detail ? g->result_detail : "unknown error");
		break;
	default:
		break;
	}
}

static const char *state_word(const struct store_gate *g)
{
	switch (g->state) {
	case GATE_PENDING: return "waiting for approval";
	case GATE_APPROVED: return "approved";
	case GATE_APPROVED_BY_TIMER: return "approved by timer";
	case GATE_DENIED: return "denied";
	case GATE_CANCELLED: return "cancelled";
	case GATE_EXECUTING: return action_of(g) ? action_of(g)->doing : "executing";
	case GATE_SUCCEEDED: return "done";
	case GATE_FAILED: return "failed";
	default: return "?";
	}
}

void card_render(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	size_t nb = 0;
	bool pending = g->state == GATE_PENDING;

	memset(c, 0, sizeof *c);
	chat_text_init(&c->what);
	chat_text_init(&c->seen);
	chat_text_init(&c->rule);
	chat_text_init(&c->status);
	chat_text_init(&c->context);
	chat_text_init(&c->fallback);
	snprintf(c->header, sizeof c->header, "%s request #%" PRIu64 ": %s",
		 action_of(g) ? action_of(g)->title : "Action", g->id, g->service ? g->service : "?");
	render_what(c, g);

	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_HEADER, .text = c->header};
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &c->what};
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_PLAIN, .text = c->reason};
	if (g->evidence && *g->evidence) {
		/* stored as plain text (wf_request.c), shown as stored */
		chat_text_bold(&c->seen, "What the approvers see:");
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &c->seen};
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_PLAIN, .text = g->evidence};
	}
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_DIVIDER};
	if (pending) {
		render_rule(c, g, in);
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &c->rule};
		snprintf(c->value, sizeof c->value, "%" PRIu64, g->id);
		snprintf(c->confirm_text, sizeof c->confirm_text,
			 "Deny request #%" PRIu64 "? Nothing will be changed.", g->id);
		c->confirm = (struct chat_confirm){
			.title = "Deny this request?", .text = c->confirm_text,
			.yes = "Deny", .no = "Keep it",
		};
		c->buttons[0] = (struct chat_button){
			.action_id = CARD_ACTION_APPROVE, .text = "Approve", .value = c->value,
			.style = CHAT_BUTTON_PRIMARY,
		};
		c->buttons[1] = (struct chat_button){
			.action_id = CARD_ACTION_DENY, .text = "Deny", .value = c->value,
			.style = CHAT_BUTTON_DANGER, .confirm = &c->confirm,
		};
		c->blocks[nb++] = (struct chat_block){
			.type = CHAT_BLOCK_ACTIONS, .buttons = c->buttons, .n_buttons = 2,
		};
	} else {
		render_status(c, g, in);
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &c->status};
	}

	chat_text_printf(&c->context, "Request #%" PRIu64 " · asked ", g->id);
	put_date(&c->context, g->created_at);
	chat_text_printf(&c->context, " · timer ");
	put_timer(&c->context, g->timer_ms);
	chat_text_printf(&c->context, " · %s · audit trail in the thread", state_word(g));
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .rich = &c->context};

	char b[200];
	card_brief(g, b, sizeof b);
	chat_text_printf(&c->fallback, "%s request #%" PRIu64 ": %s — %s, %s",
			 action_of(g) ? action_of(g)->title : "Action", g->id,
			 g->service ? g->service : "", b, state_word(g));
	if (pending && g->deadline) {
		chat_text_printf(&c->fallback, " (approves automatically at ");
		put_date(&c->fallback, g->deadline);
		chat_text_printf(&c->fallback, " unless an approver denies)");
	}

	snprintf(c->ref, sizeof c->ref, "#%" PRIu64, g->id);
	c->msg = (struct chat_message){
		.channel = g->channel, .rich = &c->fallback, .blocks = c->blocks, .n_blocks = nb,
		.ref = c->ref,
	};
}
