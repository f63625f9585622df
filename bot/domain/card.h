/* card.h - the approval card and the audit-trail lines, rendered from a
 * stored gate.
 *
 * One living message per gate: the card is posted when the request is made
 * and replaced (chat update) at every state, so its content is a pure
 * function of the gate as stored plus a few things only the workflow knows
 * right now (a reminder, the recovery summary). Buttons appear only while
 * the gate is PENDING and delivered-or-being-delivered; once decided they
 * are gone. The text is structured (struct chat_text): the chat backend
 * renders and escapes it. What people typed (the reason) and the evidence
 * as stored (plain text: what the approvers saw) are plain-text blocks,
 * shown exactly as written.
 *
 * Pure: no I/O, the time comes in. Unit-tested directly.
 */
#ifndef BOT_CARD_H
#define BOT_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/chat.h"
#include "adapters/store.h"

/* A requester that is not a person: "alarm:<name>", a CloudWatch alarm
 * whose policy proposed the request (bot/domain/alarm_intake.c). */
#define CARD_ACTOR_ALARM "alarm:"

/* Who did something, for people: a user mention, or "CloudWatch alarm
 * <name>" for an alarm; "someone" for NULL. */
void card_put_actor(struct chat_text *t, const char *id);
/* Is id a person (a user id), not an alarm? */
bool card_actor_is_person(const char *id);

/* Action ids of the card's buttons; the value is the gate id in decimal. */
#define CARD_ACTION_APPROVE "gate.approve"
#define CARD_ACTION_DENY    "gate.deny"

struct card_info {
	int64_t now_ms;          /* wall clock */
	const char *reminder;    /* "half time", "1 minute left" or NULL */
	const struct chat_text *recovery; /* summary of the recovery check, or NULL */
};

/* A rendered card; msg points into the struct and borrows the gate's
 * strings (channel, evidence), so keep both where they are while msg is in
 * use. */
struct card {
	struct chat_message msg;
	struct chat_block blocks[10];
	struct chat_button buttons[2];
	struct chat_confirm confirm;
	char header[160];
	char reason[700];        /* plain text: what the requester typed */
	struct chat_text what, seen, rule, status, context, fallback;
	char value[24];
	char ref[24];
	char confirm_text[200];
};

/* Render g (which must have service, requester, approvers...) for channel
 * (the card's channel; NULL = g->channel). */
void card_render(struct card *c, const struct store_gate *g, const struct card_info *info);

/* "Reason: <what the requester typed>" (or "none given"), plain text for a
 * CHAT_BLOCK_PLAIN block, into buf. */
void card_reason(const struct store_gate *g, char *buf, size_t n);

/* What g does, short and plain ("scale to 5", "restart", "roll back to
 * web:6"), into buf: for thread lines, lists and mirrors. */
void card_brief(const struct store_gate *g, char *buf, size_t n);

/* Append one sentence saying how g left PENDING and by whom, the outcome
 * in bold: "Approved by <U1> at <date>", "Approved by timer (no person
 * approved): ...", "Denied by <U2>", "Not delivered: ...". */
void card_decision(const struct store_gate *g, struct chat_text *t);

#endif
