/* workflow_internal.h - what the workflow's files share (not for use
 * outside bot/domain/workflow.c and wf_*.c).
 *
 *   workflow.c     create/start/stop, the gate observer: keeps the card and
 *                  its thread in step with the gate; the chat output helpers
 *   wf_request.c   /scale, /restart, /rollback: read, refuse or open a gate
 *   wf_buttons.c   card buttons, /gates cancel and the /gates list
 *   wf_recovery.c  after a successful scale, watch the service recover
 *   wf_sns.c       mirror requests and decisions to the service's SNS topic
 *
 * Shared helpers are workflow__*; everything else stays static in its file.
 * Single thread, like the workflow.
 */
#ifndef BOT_WORKFLOW_INTERNAL_H
#define BOT_WORKFLOW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "adapters/store.h"
#include "bot/domain/gate.h"
#include "config/config.h"

/* Work in flight on the workflow's behalf (a cloud call, a recovery check).
 * wf_stop detaches every link (wf = NULL) and calls its stop hook; a
 * callback that finds wf NULL only releases its memory. */
struct workflow__link {
	struct workflow *wf;
	struct workflow__link *prev, *next;
	void (*stop)(struct workflow__link *l);
};

struct workflow__note;
struct workflow__request;

struct workflow {
	uv_loop_t *loop;
	struct store *store;
	struct chat *chat;
	struct cloud *cloud;
	struct service_reads *reads;
	struct config *cfg;
	struct gate_engine *engine;
	struct workflow__link *links;
	uint64_t verify_first_ms, verify_max_ms, verify_timeout_ms;
	bool stopped;
	/* The recovery summaries of gates checked in this run, so later
	 * re-renders keep them (the audit log has them durably). */
	struct workflow__note *notes;
	/* requests of this process not yet answered (wf_request.c): one
	 * per service at a time, the others are refused before any read */
	struct workflow__request *requests;
};

void workflow__link_add(struct workflow *wf, struct workflow__link *l,
			void (*stop)(struct workflow__link *));
void workflow__link_del(struct workflow__link *l);

/* Wall clock, ms (the store's clock, so tests can move it). */
int64_t workflow__now_ms(struct workflow *wf);
/* The configured service of g, or NULL when it is no longer configured. */
const struct config_service *workflow__service_of(struct workflow *wf, const struct store_gate *g);

/* ---- chat output (workflow.c) ---- */

/* A message only user sees, on channel. */
void workflow__say_ephemeral(struct workflow *wf, const char *channel, const char *user,
			     const struct chat_text *t);
/* One line of the audit trail, in the thread under g's card (none when the
 * card was never delivered). */
void workflow__say_thread(struct workflow *wf, const struct store_gate *g, const struct chat_text *t);
/* Re-render g's card (reminder: "half time"... or NULL). */
void workflow__update_card(struct workflow *wf, const struct store_gate *g, const char *reminder);

/* ---- the recovery check (wf_recovery.c) ---- */

/* Watch g's service until it runs g->target tasks (or time runs out), then
 * say so in the thread and on the card. */
void workflow__recovery_start(struct workflow *wf, const struct store_gate *g);
/* The recovery summary of gate id from this run, or NULL. */
const struct chat_text *workflow__recovery_of(struct workflow *wf, uint64_t id);
void workflow__recovery_forget(struct workflow *wf);

/* ---- SNS (wf_sns.c) ---- */

/* Mirror g's request (what = "request") or decision ("decision") to its
 * service's SNS topic, when it has one. */
void workflow__mirror(struct workflow *wf, const struct store_gate *g, const char *what);

#endif
