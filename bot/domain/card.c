/* card.c - the approval card (see card.h). */
#include "bot/domain/card.h"
#include "bot/base/duration.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Append to buf at *o, never past n; the text is cut (not failed) when the
 * buffer is full, and blocks.c cuts again visibly at Slack's limits. */
static void put(char *buf, size_t n, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t n, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*o >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *o, n - *o, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	*o += (size_t)w;
	if (*o >= n)
		*o = n - 1;
}

static void put_esc(char *buf, size_t n, size_t *o, const char *s)
{
	if (*o + 1 >= n)
		return;
	chat_escape(buf + *o, n - *o, s ? s : "");
	*o += strlen(buf + *o);
}

/* Slack user ids are [A-Z0-9]; anything else is shown escaped, never as a
 * mention (a stored id is never markup). */
static void put_user(char *buf, size_t n, size_t *o, const char *id)
{
	bool ok = id && *id;
	for (const char *p = id; ok && *p; p++)
		ok = (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
	if (ok)
		put(buf, n, o, "<@%s>", id);
	else
		put_esc(buf, n, o, id ? id : "someone");
}

size_t card_date(int64_t t_ms, char *buf, size_t n)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;
	char fb[40] = "?";

	if (gmtime_r(&t, &tm))
		strftime(fb, sizeof fb, "%Y-%m-%d %H:%M UTC", &tm);
	int w = snprintf(buf, n, "<!date^%lld^{date_short_pretty} {time}|%s>", (long long)t, fb);
	return w < 0 ? 0 : (size_t)w;
}

static void put_date(char *buf, size_t n, size_t *o, int64_t t_ms)
{
	char d[96];
	card_date(t_ms, d, sizeof d);
	put(buf, n, o, "%s", d);
}

static void put_timer(char *buf, size_t n, size_t *o, uint64_t ms)
{
	char d[DURATION_FMT_MAX];
	if (duration_format(ms, d, sizeof d) != 0)
		snprintf(d, sizeof d, "%" PRIu64 "ms", ms);
	put(buf, n, o, "%s", d);
}

static bool is(const char *s, const char *v)
{
	return s && strcmp(s, v) == 0;
}

size_t card_decision(const struct store_gate *g, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	switch (g->decision) {
	case GATE_APPROVED:
		put(buf, n, &o, "*Approved* by ");
		if (g->n_approved == 0)
			put_user(buf, n, &o, g->decided_by);
		for (size_t i = 0; i < g->n_approved; i++) {
			if (i)
				put(buf, n, &o, i + 1 == g->n_approved ? " and " : ", ");
			put_user(buf, n, &o, g->approved_by[i]);
		}
		break;
	case GATE_APPROVED_BY_TIMER:
		put(buf, n, &o, "*Approved by timer* (no person approved): no approver denied within ");
		put_timer(buf, n, &o, g->timer_ms);
		if (is(g->decision_detail, "resolved after restart"))
			put(buf, n, &o, "; the deadline passed while the bot was down, resolved after restart");
		break;
	case GATE_DENIED:
		put(buf, n, &o, "*Denied* by ");
		put_user(buf, n, &o, g->decided_by);
		break;
	case GATE_CANCELLED:
		put(buf, n, &o, "*Cancelled* by ");
		put_user(buf, n, &o, g->decided_by);
		break;
	case GATE_FAILED:
		put(buf, n, &o, "*Not delivered*: ");
		put_esc(buf, n, &o, g->decision_detail ? g->decision_detail : "the request could not be posted");
		put(buf, n, &o, ". It failed closed: it can never be approved by the timer");
		break;
	default:
		put(buf, n, &o, "*Pending*");
		return o;
	}
	if (g->decided_at) {
		put(buf, n, &o, " at ");
		put_date(buf, n, &o, g->decided_at);
	}
	return o;
}

void card_reason(const struct store_gate *g, char *buf, size_t n)
{
	snprintf(buf, n, "Reason: %s", g->reason && *g->reason ? g->reason : "none given");
}

static void render_what(struct card *c, const struct store_gate *g)
{
	size_t n = sizeof c->what, o = 0;

	put_user(c->what, n, &o, g->requester);
	put(c->what, n, &o, " asks to scale *");
	put_esc(c->what, n, &o, g->service);
	put(c->what, n, &o, "* (ECS service `");
	put_esc(c->what, n, &o, g->ecs_service);
	put(c->what, n, &o, "` in cluster `");
	put_esc(c->what, n, &o, g->cluster);
	put(c->what, n, &o, "`) from *%d* to *%d* desired tasks%s.",
	    g->desired_at_request, g->target, g->force_new_deployment ? ", with a new deployment" : "");
	/* as typed, in a plain-text block: a reason cannot fake a decision
	 * line, a mention or a link */
	card_reason(g, c->reason, sizeof c->reason);
}

static void render_rule(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	size_t n = sizeof c->rule, o = 0;

	put(c->rule, n, &o, "*Approvers:* ");
	for (size_t i = 0; i < g->n_approvers; i++) {
		if (i)
			put(c->rule, n, &o, ", ");
		put_user(c->rule, n, &o, g->approvers[i]);
	}
	put(c->rule, n, &o, " · %d approval%s needed", g->min_approvals,
	    g->min_approvals == 1 ? "" : "s");
	if (!g->allow_self)
		put(c->rule, n, &o, " (not the requester's own)");
	if (g->n_approved) {
		put(c->rule, n, &o, "\n*Approved so far:* ");
		for (size_t i = 0; i < g->n_approved; i++) {
			if (i)
				put(c->rule, n, &o, ", ");
			put_user(c->rule, n, &o, g->approved_by[i]);
		}
		put(c->rule, n, &o, " (%zu of %d)", g->n_approved, g->min_approvals);
	}
	put(c->rule, n, &o, "\n");
	if (g->deadline) {
		put(c->rule, n, &o, "*Approves automatically at ");
		put_date(c->rule, n, &o, g->deadline);
		put(c->rule, n, &o, " unless an approver denies.*");
		if (in && in->reminder) {
			int64_t left = g->deadline - (in ? in->now_ms : 0);
			put(c->rule, n, &o, " _(%s", in->reminder);
			if (left > 0 && left < 48LL * 3600 * 1000) {
				uint64_t mins = (uint64_t)(left + 30000) / 60000;
				put(c->rule, n, &o, ": about ");
				put_timer(c->rule, n, &o, (mins ? mins : 1) * 60000);
				put(c->rule, n, &o, " to go");
			}
			put(c->rule, n, &o, ")_");
		}
	} else {
		put(c->rule, n, &o, "*Approves automatically ");
		put_timer(c->rule, n, &o, g->timer_ms);
		put(c->rule, n, &o, " after this card is posted unless an approver denies.*");
	}
}

static void render_status(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	size_t n = sizeof c->status, o = 0;
	char d[700];

	if (g->state == GATE_FAILED && g->decision == GATE_FAILED) {
		card_decision(g, d, sizeof d);
		put(c->status, n, &o, "%s. Nothing was changed.", d);
		return;
	}
	card_decision(g, d, sizeof d);
	put(c->status, n, &o, "%s.", d);
	switch (g->state) {
	case GATE_DENIED:
	case GATE_CANCELLED:
		put(c->status, n, &o, " Nothing was changed.");
		break;
	case GATE_APPROVED:
	case GATE_APPROVED_BY_TIMER:
		put(c->status, n, &o, "\n*Next:* re-reading the service, then scaling to %d.", g->target);
		break;
	case GATE_EXECUTING:
		put(c->status, n, &o, "\n*Scaling:* ECS UpdateService desiredCount=%d (was %d)…",
		    g->target, g->exec_from);
		break;
	case GATE_SUCCEEDED:
		put(c->status, n, &o, "\n*Done:* ");
		put_esc(c->status, n, &o, g->result_detail ? g->result_detail : "scaled");
		if (g->aws_request_id && *g->aws_request_id) {
			put(c->status, n, &o, " (AWS request id `");
			put_esc(c->status, n, &o, g->aws_request_id);
			put(c->status, n, &o, "`)");
		}
		if (in && in->recovery)
			put(c->status, n, &o, "\n*Recovery:* %s", in->recovery);
		break;
	case GATE_FAILED:
		put(c->status, n, &o, is(g->result_kind, "dry_run") ? "\n*Dry run:* " : "\n*Failed:* ");
		put_esc(c->status, n, &o, g->result_detail ? g->result_detail : "unknown error");
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
	case GATE_EXECUTING: return "scaling";
	case GATE_SUCCEEDED: return "done";
	case GATE_FAILED: return "failed";
	default: return "?";
	}
}

void card_render(struct card *c, const struct store_gate *g, const struct card_info *in)
{
	size_t nb = 0, o = 0;
	bool pending = g->state == GATE_PENDING;

	memset(c, 0, sizeof *c);
	snprintf(c->header, sizeof c->header, "Scale request #%" PRIu64 ": %s", g->id,
		 g->service ? g->service : "?");
	render_what(c, g);

	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_HEADER, .text = c->header};
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .text = c->what};
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_PLAIN, .text = c->reason};
	if (g->evidence && *g->evidence) {
		/* evidence is stored as mrkdwn, escaped when it was made */
		snprintf(c->evidence, sizeof c->evidence, "*What the approvers see:*\n%s", g->evidence);
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .text = c->evidence};
	}
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_DIVIDER};
	if (pending) {
		render_rule(c, g, in);
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .text = c->rule};
		snprintf(c->value, sizeof c->value, "%" PRIu64, g->id);
		snprintf(c->confirm_text, sizeof c->confirm_text,
			 "Deny request #%" PRIu64 "? The service will not be scaled.", g->id);
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
		c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .text = c->status};
	}

	put(c->context, sizeof c->context, &o, "Request #%" PRIu64 " · asked ", g->id);
	put_date(c->context, sizeof c->context, &o, g->created_at);
	put(c->context, sizeof c->context, &o, " · timer ");
	put_timer(c->context, sizeof c->context, &o, g->timer_ms);
	put(c->context, sizeof c->context, &o, " · %s · audit trail in the thread", state_word(g));
	c->blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .text = c->context};

	o = 0;
	put(c->fallback, sizeof c->fallback, &o, "Scale request #%" PRIu64 ": ", g->id);
	put_esc(c->fallback, sizeof c->fallback, &o, g->service);
	put(c->fallback, sizeof c->fallback, &o, " %d -> %d, %s", g->desired_at_request, g->target,
	    state_word(g));
	if (pending && g->deadline) {
		put(c->fallback, sizeof c->fallback, &o, " (approves automatically at ");
		put_date(c->fallback, sizeof c->fallback, &o, g->deadline);
		put(c->fallback, sizeof c->fallback, &o, " unless an approver denies)");
	}

	snprintf(c->ref, sizeof c->ref, "#%" PRIu64, g->id);
	c->msg = (struct chat_message){
		.channel = g->channel, .text = c->fallback, .blocks = c->blocks, .n_blocks = nb,
		.ref = c->ref,
	};
}
