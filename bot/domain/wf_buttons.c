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
#include <stdlib.h>
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
		chat_text_printf(&t, "You approved request #%" PRIu64 "; the bot acts now.", id);
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

static void trail_click(struct workflow *wf, const struct store_gate *g, const char *user,
			const char *pressed, const struct gate_click_result *r)
{
	struct chat_text t;

	if (!g || r->outcome == GATE_OUT_DUPLICATE_EVENT || r->outcome == GATE_OUT_UNKNOWN_GATE)
		return;
	if (r->outcome == GATE_OUT_DECIDED_APPROVED || r->outcome == GATE_OUT_DECIDED_DENIED ||
	    r->outcome == GATE_OUT_DECIDED_CANCELLED)
		return; /* the decision line (said when it was committed) names who */
	chat_text_init(&t);
	chat_text_user(&t, user);
	chat_text_printf(&t, " pressed ");
	chat_text_bold(&t, "%s", pressed);
	if (r->outcome == GATE_OUT_ACCEPTED_APPROVAL)
		chat_text_printf(&t, ": counted (%d of %d).", r->approvals, r->min_approvals);
	else
		chat_text_printf(&t, ": refused (%s).", gate_outcome_text(r->outcome));
	workflow__say_thread(wf, g, &t);
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

static const char *const act_names[] = {"Approve", "Deny", "cancel"};

/* A click or cancel while the store decides it. */
struct click_op {
	struct workflow__link link;
	uint64_t id;
	int what;
	char *user, *channel;
	struct chat *chat;
	struct chat_hold *hold; /* the click's ack waits for its answer */
};

static void click_free(struct click_op *c)
{
	free(c->user);
	free(c->channel);
	free(c);
}

/* The bot stops before the click's answer: this process will not tell
 * its outcome, so the click stays unacked (its button shows a warning;
 * if the vote did commit, pressing again is refused as a repeat). */
static void click_stop(struct workflow__link *l)
{
	struct click_op *c = container_of(l, struct click_op, link);

	chat_settle(c->chat, c->hold, false);
	click_free(c);
}

static void on_clicked(void *ud, int rc, const struct gate_click_result *r,
		       const struct store_gate *g, const struct bot_error *err)
{
	struct click_op *c = ud;
	struct workflow *wf = c->link.wf;
	const char *name = act_names[c->what];

	workflow__link_del(&c->link);
	if (!wf)
		goto out;
	if (rc) {
		struct chat_text t;
		log_error("workflow.click", "gate=%" PRIu64 " user=%s error=%s", c->id,
			  LOG_Q(c->user), LOG_Q(err ? err->msg : bot_strerror(rc)));
		chat_text_init(&t);
		chat_text_printf(&t, "Your %s on request #%" PRIu64 " could not be recorded (%s); "
				 "nothing changed. Try again.", name, c->id, bot_strerror(rc));
		workflow__say_ephemeral(wf, c->channel, c->user, &t);
		goto out;
	}
	log_info("workflow.click", "gate=%" PRIu64 " user=%s action=%s outcome=%s", c->id,
		 LOG_Q(c->user), name, gate_outcome_name(r->outcome));
	if (r->outcome == GATE_OUT_WRONG_CARD)
		wf->chat->refused[CHAT_REFUSED_CARD]++;
	else if (r->outcome == GATE_OUT_REVOKED)
		wf->chat->refused[CHAT_REFUSED_REVOKED]++;
	tell_outcome(wf, c->id, c->user, c->channel, name, r);
	trail_click(wf, g, c->user, name, r);
out:
	/* committed, or refused and audited, or told it failed: done with it */
	chat_settle(c->chat, c->hold, true);
	click_free(c);
}

/* A click or a cancel; a click's hold (ev->hold) is settled on every path. */
static void act(struct workflow *wf, uint64_t id, const struct chat_event *ev, int what)
{
	struct click_op *c;
	int rc;

	if (wf->stopped) {
		/* not recorded: not acked either (the button shows a warning) */
		say_to(wf, ev, "The bot is shutting down; your click was not recorded. Press it "
		       "again in a moment.");
		chat_settle(wf->chat, ev->hold, false);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c || !(c->user = strdup(ev->user)) || !(c->channel = strdup(ev->channel))) {
		if (c)
			click_free(c);
		say_to(wf, ev, "Your %s on request #%" PRIu64 " could not be recorded (out of "
		       "memory); nothing changed. Try again.", act_names[what], id);
		chat_settle(wf->chat, ev->hold, true);
		return;
	}
	c->id = id;
	c->what = what;
	c->chat = wf->chat;
	c->hold = ev->hold;
	workflow__link_add(wf, &c->link, click_stop);
	if (what == 2)
		rc = gate_cancel(wf->engine, id, ev->user, ev->id, on_clicked, c);
	else
		rc = gate_click(wf->engine, id, ev->user, what == 0 ? GATE_VOTE_APPROVE : GATE_VOTE_DENY,
				ev->id, &(struct gate_where){ev->channel, ev->message_ts}, on_clicked,
				c);
	if (rc) {
		workflow__link_del(&c->link);
		click_free(c);
		log_error("workflow.click", "gate=%" PRIu64 " user=%s error=%s", id, LOG_Q(ev->user),
			  LOG_Q(bot_strerror(rc)));
		say_to(wf, ev, "Your %s on request #%" PRIu64 " could not be recorded (%s); nothing "
		       "changed. Try again.", act_names[what], id, bot_strerror(rc));
		chat_settle(wf->chat, ev->hold, true);
	}
}

bool wf_is_gate_button(const struct chat_event *ev)
{
	return ev->type == CHAT_EV_BUTTON && ev->action_id &&
	       (strcmp(ev->action_id, CARD_ACTION_APPROVE) == 0 ||
		strcmp(ev->action_id, CARD_ACTION_DENY) == 0);
}

bool wf_on_button(struct workflow *wf, const struct chat_event *ev)
{
	int what;
	uint64_t id;

	if (!wf_is_gate_button(ev))
		return false;
	what = strcmp(ev->action_id, CARD_ACTION_APPROVE) == 0 ? 0 : 1;
	id = wf_parse_id(ev->value);
	if (!id) {
		say_to(wf, ev, "That button does not name a request; nothing changed.");
		chat_settle(wf->chat, ev->hold, true);
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
	char b[200];
	card_brief(g, b, sizeof b);
	chat_text_printf(t, " %s: %s · %s · asked by ", g->service ? g->service : "", b,
			 store_state_name(g->state));
	card_put_actor(t, g->requester);
	chat_text_printf(t, " ");
	chat_text_date(t, g->created_at / 1000);
	if (g->channel) {
		chat_text_printf(t, " in ");
		chat_text_channel(t, g->channel);
	}
	chat_text_printf(t, "\n");
}

/* /gates while the store lists: open requests first, then recent ones. */
struct list_op {
	struct workflow__link link;
	char *channel, *user;
	struct store_gate *live;
	size_t nl;
};

static void list_free(struct list_op *l)
{
	store_gate_array_free(l->live, l->nl);
	free(l->channel);
	free(l->user);
	free(l);
}

static void list_stop(struct workflow__link *lk)
{
	/* a list op is linked only while one of its store calls is in
	 * flight, and the store answers each exactly once (cancelled when it
	 * stops): on_live or on_recent frees, seeing no workflow */
	(void)lk;
}

static void list_send(struct workflow *wf, struct list_op *l, const struct store_gate *recent,
		      size_t nr)
{
	struct chat_text title, text;
	size_t decided = 0;

	chat_text_init(&text);
	for (size_t i = 0; i < l->nl; i++)
		list_line(wf, &l->live[i], &text);
	for (size_t i = 0; i < nr; i++) {
		if (GATE_LIVE_MASK & GATE_STATE_BIT(recent[i].state))
			continue;
		list_line(wf, &recent[i], &text);
		decided++;
	}
	if (l->nl == 0 && decided == 0) {
		chat_text_printf(&text, "No requests yet. Start one with ");
		chat_text_code(&text, "/scale <service> <count>");
		chat_text_printf(&text, ", ");
		chat_text_code(&text, "/restart <service>");
		chat_text_printf(&text, " or ");
		chat_text_code(&text, "/rollback <service>");
		chat_text_printf(&text, ".");
	} else if (l->nl == 0) {
		unsigned old = chat_text_style(&text, CHAT_STYLE_ITALIC);
		chat_text_printf(&text, "No open requests.");
		chat_text_style(&text, old);
	}
	chat_text_init(&title);
	chat_text_bold(&title, "Approval requests");
	chat_text_printf(&title, " (open first, then the latest)");
	struct chat_block b[2] = {
		{.type = CHAT_BLOCK_SECTION, .rich = &title},
		{.type = CHAT_BLOCK_SECTION, .rich = &text},
	};
	struct chat_message m = {.channel = l->channel, .rich = &text, .blocks = b, .n_blocks = 2};
	if (chat_ephemeral(wf->chat, l->user, &m, NULL, NULL) != 0)
		log_error("workflow.list", "user=%s error=\"cannot send the list\"", LOG_Q(l->user));
}

static void list_failed(struct workflow *wf, struct list_op *l, const struct bot_error *err)
{
	struct chat_text t;

	log_error("workflow.list", "user=%s error=%s", LOG_Q(l->user), LOG_Q(err->msg));
	chat_text_init(&t);
	chat_text_printf(&t, "Could not read the requests: %s", err->msg);
	workflow__say_ephemeral(wf, l->channel, l->user, &t);
}

static void on_recent(void *ud, struct store_req *r)
{
	struct list_op *l = ud;
	struct workflow *wf = l->link.wf;

	workflow__link_del(&l->link);
	if (wf && r->rc)
		list_failed(wf, l, &r->err);
	else if (wf)
		list_send(wf, l, r->gates, r->n);
	list_free(l);
}

static void on_live(void *ud, struct store_req *r)
{
	struct list_op *l = ud;
	struct workflow *wf = l->link.wf;
	struct bot_error err = {0};
	int rc;

	if (!wf || r->rc) {
		workflow__link_del(&l->link);
		if (wf)
			list_failed(wf, l, &r->err);
		list_free(l);
		return;
	}
	store_req_take_gates(r, &l->live, &l->nl);
	rc = store_gate_recent_async(wf->store, RECENT_GATES, on_recent, l);
	if (rc) {
		workflow__link_del(&l->link);
		bot_error_set(&err, rc, "the store takes no calls (%s)", bot_strerror(rc));
		list_failed(wf, l, &err);
		list_free(l);
	}
}

int wf_list_send(struct workflow *wf, const char *channel, const char *user,
		 struct bot_error *err)
{
	struct list_op *l;
	int rc;

	if (wf->stopped)
		return bot_error_set(err, BOT_ESTATE, "the bot is shutting down");
	l = calloc(1, sizeof *l);
	if (!l || !(l->channel = strdup(channel)) || !(l->user = strdup(user))) {
		if (l)
			list_free(l);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	workflow__link_add(wf, &l->link, list_stop);
	rc = store_gate_list_async(wf->store, GATE_LIVE_MASK, on_live, l);
	if (rc) {
		workflow__link_del(&l->link);
		list_free(l);
		return bot_error_set(err, rc, "the store takes no calls (%s)", bot_strerror(rc));
	}
	return BOT_EOK;
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

