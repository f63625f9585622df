/* workflow.h - the remediation workflow in chat: request -> approval card
 * -> gate -> scale -> recovery check, with the audit trail in a thread.
 *
 * The workflow is the gate engine's observer (bot/domain/gate.h). It owns the
 * engine and renders every committed transition to chat: the card (one
 * living message, bot/domain/card.h) is updated at each state and a thread under
 * it gets one line per step - request, each click (accepted or refused),
 * reminders, the decision, the AWS call and its request id, the result and
 * the recovery check (running tasks reaching the target, CPU before and
 * after). Optionally each request and decision is mirrored to the
 * service's SNS topic.
 *
 * What the workflow guarantees on top of the engine:
 *   - a request is only opened after the service was read: a service that
 *     is missing, not ACTIVE or already at the target is refused, as is a
 *     second open request for the same service;
 *   - replies about a person's own action (refusals, "already decided")
 *     go to that person only (ephemeral);
 *   - nothing here decides: every decision is the engine's committed one.
 *
 * The code: workflow.c (life and the gate observer), wf_request.c,
 * wf_buttons.c, wf_recovery.c, wf_sns.c; what they share is in
 * workflow_internal.h. The service read before a request is
 * bot/domain/service_read.h, shared with /investigate.
 *
 * Lifetime: wf_create, wf_start (recover gates left by an earlier run),
 * wf_stop from a loop shutdown hook (closes timers; callbacks still in
 * flight are then ignored), wf_destroy after the loop ran. Single thread.
 */
#ifndef BOT_WORKFLOW_H
#define BOT_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "bot/base/error.h"
#include "adapters/store.h"
#include "bot/domain/action.h"
#include "config/config.h"

struct service_reads;
struct workflow;

struct workflow_opts {
	uv_loop_t *loop;
	struct store *store;   /* borrowed; outlives the workflow */
	struct chat *chat;     /* borrowed */
	struct cloud *cloud;   /* borrowed */
	struct service_reads *reads; /* borrowed: /scale's reads (shared with /investigate) */
	struct config *cfg;    /* a reference is taken (wf_set_config swaps it) */
	/* The recovery check after a successful scale: poll DescribeServices
	 * starting verify_first_ms apart, doubling up to verify_max_ms, until
	 * running == desired == target with nothing pending, or verify_timeout_ms
	 * passed. 0 = 5 s, 60 s, 10 min. */
	uint64_t verify_first_ms, verify_max_ms, verify_timeout_ms;
	uint64_t reminder_gap_ms;  /* passed to the engine; 0 = its default */
};

int wf_create(const struct workflow_opts *o, struct workflow **out, struct bot_error *err);
/* Reload the gates an earlier run left (re-arm, resolve, reconcile) and
 * re-render their cards. Call once, after the chat backend started. */
int wf_start(struct workflow *wf, struct bot_error *err);
/* Stop timers and forget in-flight work; call from a shutdown hook. */
void wf_stop(struct workflow *wf);
void wf_destroy(struct workflow *wf); /* NULL ok; calls wf_stop */

void wf_set_config(struct workflow *wf, struct config *cfg);

/* A validated request (commands/scale.c, restart.c, rollback.c check the
 * words). */
struct wf_request {
	const struct config_service *svc;
	const char *action;    /* bot/domain/action.h kind; NULL = "scale" */
	struct action_args args; /* the action's own words (count, --to) */
	const char *user;      /* requester */
	const char *channel;   /* where the card goes */
	const char *reply_channel; /* where the requester typed (ephemeral errors) */
	uint64_t timer_ms;
	const char *reason;    /* may be NULL */
	/* Optional, for a requester who is not a person (an alarm's proposal,
	 * user "alarm:<name>"): how it ended, instead of an ephemeral - the
	 * gate's id once the request is open, else 0 and why (NULL: the bot
	 * stopped first). Runs exactly once, on a later loop turn, when
	 * wf_request_start returned 0. */
	void (*done)(void *ud, uint64_t gate_id, const struct chat_text *why);
	void *done_ud;
};

/* Read the service, refuse what cannot be done (ephemeral to the user),
 * let the action prepare, else open a gate and post its card. Returns 0
 * once the work started (the outcome is reported in chat), or an error
 * (nothing was started). */
int wf_request_start(struct workflow *wf, const struct wf_request *req, struct bot_error *err);

/* Is ev a press of a card button (CARD_ACTION_APPROVE / CARD_ACTION_DENY)? */
bool wf_is_gate_button(const struct chat_event *ev);

/* A press of a card button. Returns false if the action is not the
 * workflow's; true: the press is taken, and its hold (ev->hold) is
 * settled once the vote is committed or refused (chat_settle). */
bool wf_on_button(struct workflow *wf, const struct chat_event *ev);

/* /gates cancel <id> by user: replies (ephemeral) on ev's channel. */
void wf_cancel(struct workflow *wf, uint64_t id, const struct chat_event *ev);

/* /gates: pending and the most recent gates, one line each, sent to user
 * as an ephemeral on channel once the store has answered (a store error is
 * told the same way). Returns 0, or an error when it could not start. */
int wf_list_send(struct workflow *wf, const char *channel, const char *user,
		 struct bot_error *err);

/* Parse a gate id as typed or as a button value: "7" or "#7"; 0 if bad. */
uint64_t wf_parse_id(const char *s);

#endif
