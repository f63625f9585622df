/* wf_buttons.c - the card's Approve/Deny buttons, /gates cancel, and the
 * /gates list. The engine decides; this tells the person who clicked
 * (ephemeral) and notes the click in the card's thread. */
#include "bot/domain/workflow.h"
#include "bot/domain/workflow_internal.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RECENT_GATES 8

/* ---- clicks and cancel --------------------------------------------------------- */

static const char *decided_word(enum gate_state decision)
{
	switch (decision) {
	case GATE_APPROVED_BY_TIMER: return "approved by the timer";
	case GATE_APPROVED: return "approved";
	case GATE_DENIED: return "denied";
	case GATE_CANCELLED: return "cancelled";
	default: return "closed";
	}
}

static void tell_outcome(struct workflow *wf, uint64_t id, const char *user, const char *channel,
			 const char *pressed, const struct gate_click_result *r)
{
	struct chat_text t;

	chat_text_init(&t);
	switch (r->outcome) {
	case GATE_OUT_ACCEPTED_APPROVAL:
		chat_text_printf(&t, "Your approval of request #%" PRIu64 " was counted (%d of %d "
				 "needed).", id, r->approvals, r->min_approvals);
		break;
	case GATE_OUT_DECIDED_APPROVED:
		chat_text_printf(&t, "You approved request #%" PRIu64 "; the bot scales now.", id);
		break;
	case GATE_OUT_DECIDED_DENIED:
		chat_text_printf(&t, "You denied request #%" PRIu64 "; nothing will be changed.", id);
		break;
	case GATE_OUT_DECIDED_CANCELLED:
		chat_text_printf(&t, "You cancelled request #%" PRIu64 "; nothing will be changed.", id);
		break;
	case GATE_OUT_ALREADY_DECIDED:
		chat_text_printf(&t, "Your %s on request #%" PRIu64 " changed nothing: it was already "
				 "%s", pressed, id, decided_word(r->decision));
		if (r->decision != GATE_APPROVED_BY_TIMER && r->by[0]) {
			chat_text_printf(&t, " by ");
			chat_text_user(&t, r->by);
		}
		if (r->at) {
			chat_text_printf(&t, " at ");
			chat_text_date(&t, r->at / 1000);
		}
		chat_text_printf(&t, " (now %s).", store_state_name(r->state));
		break;
	case GATE_OUT_DUPLICATE_EVENT:
		return; /* a redelivery of a click we already answered */
	default:
		chat_text_printf(&t, "Your %s on request #%" PRIu64 " changed nothing: %s.", pressed, id,
				 gate_outcome_text(r->outcome));
		break;
	}
	workflow__say_ephemeral(wf, channel, user, &t);
}

static void trail_click(struct workflow *wf, uint64_t id, const char *user, const char *pressed,
			const struct gate_click_result *r)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	struct chat_text t;

	if (r->outcome == GATE_OUT_DUPLICATE_EVENT || r->outcome == GATE_OUT_UNKNOWN_GATE)
		return;
	if (r->outcome == GATE_OUT_DECIDED_APPROVED || r->outcome == GATE_OUT_DECIDED_DENIED ||
	    r->outcome == GATE_OUT_DECIDED_CANCELLED)
		return; /* the decision line (said when it was committed) names who */
	if (store_gate_get(wf->store, id, &g, &err) != BOT_EOK)
		return;
	chat_text_init(&t);
	chat_text_user(&t, user);
	chat_text_printf(&t, " pressed ");
	chat_text_bold(&t, "%s", pressed);
	if (r->outcome == GATE_OUT_ACCEPTED_APPROVAL)
		chat_text_printf(&t, ": counted (%d of %d).", r->approvals, r->min_approvals);
	else
		chat_text_printf(&t, ": refused (%s).", gate_outcome_text(r->outcome));
	workflow__say_thread(wf, &g, &t);
	store_gate_clear(&g);
}

/* What a person is told when their click was not taken. */
static void say_to(struct workflow *wf, const struct chat_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say_to(struct workflow *wf, const struct chat_event *ev, const char *fmt, ...)
{
	char text[500];
	struct chat_text t;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	chat_text_init(&t);
	chat_text_printf(&t, "%s", text);
	workflow__say_ephemeral(wf, ev->channel, ev->user, &t);
}

static void act(struct workflow *wf, uint64_t id, const struct chat_event *ev, int what)
{
	static const char *const names[] = {"Approve", "Deny", "cancel"};
	struct gate_click_result r = {0};
	struct bot_error err = {0};
	int rc;

	if (wf->stopped) {
		say_to(wf, ev, "The bot is shutting down; your click was not recorded. Press it "
		       "again once it is back.");
		return;
	}
	if (what == 2)
		rc = gate_cancel(wf->engine, id, ev->user, ev->id, &r, &err);
	else
		rc = gate_click(wf->engine, id, ev->user, what == 0 ? GATE_VOTE_APPROVE : GATE_VOTE_DENY,
				ev->id, &(struct gate_where){ev->channel, ev->message_ts}, &r, &err);
	if (rc) {
		log_error("workflow.click", "gate=%" PRIu64 " user=%s error=%s", id, LOG_Q(ev->user),
			  LOG_Q(err.msg));
		say_to(wf, ev, "Your %s on request #%" PRIu64 " could not be recorded (%s); nothing "
		       "changed. Try again.", names[what], id, bot_strerror(rc));
		return;
	}
	log_info("workflow.click", "gate=%" PRIu64 " user=%s action=%s outcome=%s", id,
		 LOG_Q(ev->user), names[what], gate_outcome_name(r.outcome));
	if (r.outcome == GATE_OUT_WRONG_CARD)
		wf->chat->refused[CHAT_REFUSED_CARD]++;
	else if (r.outcome == GATE_OUT_REVOKED)
		wf->chat->refused[CHAT_REFUSED_REVOKED]++;
	tell_outcome(wf, id, ev->user, ev->channel, names[what], &r);
	trail_click(wf, id, ev->user, names[what], &r);
}

bool wf_on_button(struct workflow *wf, const struct chat_event *ev)
{
	int what;
	uint64_t id;

	if (!ev->action_id)
		return false;
	if (strcmp(ev->action_id, CARD_ACTION_APPROVE) == 0)
		what = 0;
	else if (strcmp(ev->action_id, CARD_ACTION_DENY) == 0)
		what = 1;
	else
		return false;
	id = wf_parse_id(ev->value);
	if (!id) {
		say_to(wf, ev, "That button does not name a request; nothing changed.");
		return true;
	}
	act(wf, id, ev, what);
	return true;
}

void wf_cancel(struct workflow *wf, uint64_t id, const struct chat_event *ev)
{
	act(wf, id, ev, 2);
}

/* ---- /gates: the list -------------------------------------------------------- */

/* One "• #7 web → 5 · PENDING · asked by @U <date> in #C" line. */
static void list_line(struct workflow *wf, const struct store_gate *g, struct chat_text *t)
{
	char label[32], url[512];

	snprintf(label, sizeof label, "#%" PRIu64, g->id);
	chat_text_printf(t, "• ");
	unsigned old = chat_text_style(t, CHAT_STYLE_BOLD);
	if (chat_permalink(wf->chat, g->channel, g->message_ts, url, sizeof url) == BOT_EOK)
		chat_text_link(t, url, label);
	else
		chat_text_printf(t, "%s", label);
	chat_text_style(t, old);
	chat_text_printf(t, " %s → %d · %s · asked by ", g->service ? g->service : "", g->target,
			 store_state_name(g->state));
	chat_text_user(t, g->requester);
	chat_text_printf(t, " ");
	chat_text_date(t, g->created_at / 1000);
	if (g->channel) {
		chat_text_printf(t, " in ");
		chat_text_channel(t, g->channel);
	}
	chat_text_printf(t, "\n");
}

/* Every open request (however old), then the latest decided ones. */
int wf_list(struct workflow *wf, struct chat_text *t, struct bot_error *err)
{
	struct store_gate *live = NULL, *recent = NULL;
	size_t nl = 0, nr = 0, decided = 0;
	int rc = store_gate_list(wf->store, GATE_LIVE_MASK, &live, &nl, err);

	if (rc == BOT_EOK)
		rc = store_gate_recent(wf->store, RECENT_GATES, &recent, &nr, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < nl; i++)
		list_line(wf, &live[i], t);
	for (size_t i = 0; i < nr; i++) {
		if (GATE_LIVE_MASK & GATE_STATE_BIT(recent[i].state))
			continue;
		list_line(wf, &recent[i], t);
		decided++;
	}
	if (nl == 0 && decided == 0) {
		chat_text_printf(t, "No requests yet. Start one with ");
		chat_text_code(t, "/scale <service> <count>");
		chat_text_printf(t, ".");
	} else if (nl == 0) {
		unsigned old = chat_text_style(t, CHAT_STYLE_ITALIC);
		chat_text_printf(t, "No open requests.");
		chat_text_style(t, old);
	}
out:
	store_gate_array_free(live, nl);
	store_gate_array_free(recent, nr);
	return rc;
}

/* "7" or "#7": the ids people type and the buttons carry. */
uint64_t wf_parse_id(const char *s)
{
	uint64_t v = 0;

	if (!s)
		return 0;
	if (*s == '#')
		s++;
	if (!*s || strlen(s) > 15)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

