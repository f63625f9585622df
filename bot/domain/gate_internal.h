/* gate_internal.h - what the gate engine's files share (prefix gate__).
 *
 *   gate_engine.c the engine: its gates, timers, store steps, requests
 *   gate_exec.c   re-check, UpdateService, reconciliation
 *   gate_vote.c   clicks and cancels
 *   gate_sync.c   recovery at start and the replicas' periodic look
 *
 * Only these files include it; everyone else sees gate.h. */
#ifndef BOT_DOMAIN_GATE_INTERNAL_H
#define BOT_DOMAIN_GATE_INTERNAL_H

#include "bot/domain/gate.h"
#include "bot/domain/action.h"
#include "bot/base/idmap.h"
#include "bot/base/timeheap.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define DEFAULT_REMINDER_GAP_MS (30u * 1000u)
#define DEFAULT_RECONCILE_TRIES 5u
#define DEFAULT_RECONCILE_RETRY_MS (5u * 1000u)
/* How long after the recorded call start a restarted bot waits before it
 * concludes that the previous run's UpdateService did not land and sends
 * it again: a request the dead process had already handed to the kernel
 * may still be on its way. Longer than one attempt's timeout (10 s). */
#define DEFAULT_REISSUE_GUARD_MS (20u * 1000u)
/* How long a claim of execution holds: longer than one UpdateService with
 * its retries and the answer's commit. */
#define DEFAULT_EXEC_LEASE_MS (60u * 1000u)
#define STORE_RETRY_MS 1000u
/* A gate whose service another live gate holds asks again this often. */
#define SERVICE_WAIT_MS 1000u
#define LAST_MINUTE_MS (60u * 1000u)
#define LAST_MINUTE_MIN_TIMER_MS (2u * 60u * 1000u)

/* How often a replica sharing the store reads the live gates. */
#define DEFAULT_SYNC_MS (2u * 1000u)
/* A request is opened with its poster's claim (owner, lease) for this
 * long, renewed at half time while the post is in flight: another replica
 * fails a never-delivered request closed only once that claim is gone. */
#define DEFAULT_DELIVERY_LEASE_MS (30u * 1000u)
#define DEFAULT_ADOPT_AFTER_MS (15u * 1000u)
/* The live-gate listing of a shared store may lag a write (DynamoDB's
 * indexes are eventually consistent): a gate missing from it is looked up
 * only once it is older than this. */
#define LIST_LAG_MS (5u * 1000u)


/* A gate the engine still has work for (not final). */
struct gate {
	struct store_gate rec;    /* as last read from the store */
	uint64_t due;             /* monotonic ms when the deadline fires; 0 = not armed */
	uint64_t last_reminder;   /* monotonic ms of the last reminder; 0 = none */
	uint64_t seen_in;         /* the sync pass that last listed it */
	unsigned reconcile_left;  /* describe attempts left when reconciling */
	int refs;                 /* the map holds one; engine calls hold one each */
	bool dropped;             /* out of the map; freed at refs == 0 */
	bool restarted;           /* found EXECUTING at recovery, or taken over */
	bool working;             /* a store step or cloud call for it is in flight */
	bool home;                /* this process posted its card (it reminds) */
	bool delivering;          /* this process is posting its card */
	int votes;                /* clicks on it being written (no reminder meanwhile) */
};

enum tkind {
	T_DEADLINE = 0,  /* approve by timer */
	T_REMIND_HALF,
	T_REMIND_LAST,
	T_RESUME,        /* retry whatever the state needs (after a store error) */
	T_RECONCILE,     /* describe again (EXECUTING with unknown outcome) */
	T_DELIVERY,      /* renew the claim on a request whose post is in flight */
};

enum op_kind { OP_DELIVER, OP_RECHECK, OP_SCALE, OP_RECONCILE, OP_STORE, OP_VOTE, OP_SYNC };

/* What follows a committed store step (see after_change). */
enum then {
	THEN_FAIL,     /* a terminal failure: tell, forget */
	THEN_TIMER,    /* approved by the timer: tell, act */
	THEN_EXECUTE,  /* the claim of execution: tell, call UpdateService */
	THEN_SUCCEED,  /* done: tell, forget */
	THEN_REISSUE,  /* the claim renewed to call once more: call */
	THEN_TAKEOVER, /* a dead process's claim taken: reconcile */
	THEN_DELIVERY, /* the poster's claim renewed: renew again while posting */
};

/* A click or cancel on its way through the store. */
struct vote {
	uint64_t id;
	char *user, *event_id, *channel, *message_ts;
	bool has_where;
	enum vote_act { ACT_APPROVE, ACT_DENY, ACT_CANCEL } act;
	int tries;
	gate_click_fn done;
	void *ud;
	struct store_gate rec;    /* as read for this round (zero: no such gate) */
	bool missing;
	bool counted;             /* counted in its gate's votes */
	struct gate_click_result out;
	enum gate_state to;
};

/* One outstanding callback. Ops outlive the engine: destroy detaches them
 * (e = NULL) and their callbacks only free them. */
struct op {
	struct gate_engine *e;
	uint64_t id;
	enum op_kind kind;
	bool after_restart;       /* OP_RECONCILE: reconciling after a restart */
	bool after_error;         /* OP_RECONCILE: the scale call answered ambiguously */
	struct cloud_error saved; /* that answer */
	/* OP_STORE */
	enum then then;
	enum gate_state from, to;
	char *text;               /* what is told when the step is won */
	bool won, busy, armed;
	struct gate *g;           /* a request's gate until the store opened it */
	gate_request_fn req_done;
	void *req_ud;
	struct vote *vote;        /* OP_VOTE */
	bool first;               /* OP_SYNC: the recovery at start */
	struct op *prev, *next;
};

struct gate_engine {
	uv_loop_t *loop;
	struct store *store;
	struct cloud *cloud;
	struct gate_observer obs;
	uint64_t reminder_gap, reconcile_retry, reissue_guard, exec_lease;
	uint64_t sync_ms, delivery_lease, adopt_after;
	char owner[128];          /* this process, as recorded on the claims it makes */
	char host[64];            /* the host part of owner */
	unsigned reconcile_tries;
	uv_timer_t timer;
	uv_timer_t sync;          /* the next look at the store's live gates */
	int open_handles;
	uint64_t armed_due;       /* due time the uv timer is set for; 0 = stopped */
	struct timeheap timers;   /* (due, gate id, enum tkind) */
	struct idmap gates;       /* gate id -> struct gate, every gate not final */
	struct op *ops;
	uint64_t pass;            /* sync passes made */
	gate_recover_fn rec_done;
	void *rec_ud;
	bool shared, recovered, first_done, reported, syncing, closing;
};

/* ---- gate_engine.c --------------------------------------------------- */

/* The map of live gates; a gate is freed when dropped and unreferenced. */
struct gate *gate__map_get(const struct gate_engine *e, uint64_t id);
struct gate *gate__adopt(struct gate_engine *e, struct store_gate *rec);
void gate__hold(struct gate *g);
void gate__put(struct gate *g);
void gate__drop(struct gate_engine *e, struct gate *g);
void gate__refresh(struct gate *g, struct store_req *r);

/* Outstanding callbacks (they outlive the engine). */
struct op *gate__op_new(struct gate_engine *e, uint64_t id, enum op_kind kind);
void gate__op_end(struct op *op);
struct gate_engine *gate__op_engine(struct op *op);
void gate__vote_free(struct vote *v);

/* Timers, store steps and what they tell. */
void gate__tpush_in(struct gate_engine *e, uint64_t in_ms, uint64_t id, enum tkind kind);
void gate__arm(struct gate_engine *e, struct gate *g);
void gate__notify(struct gate_engine *e, const struct store_gate *g, enum gate_event ev,
		  const char *detail);
void gate__resume_later(struct gate_engine *e, struct gate *g);
void gate__settle(struct gate_engine *e, struct gate *g);
void gate__change(struct gate_engine *e, struct gate *g, struct store_change *c,
		  enum then then, const char *text);
void gate__fail(struct gate_engine *e, struct gate *g, const char *actor, const char *kind,
		const char *text, const struct cloud_error *ce);
void gate__decide_by_timer(struct gate_engine *e, struct gate *g, bool after_restart);

/* Claims (owner and lease): of a request being posted, of an execution. */
void gate__claim(struct gate_engine *e, struct gate *g, enum then then, const char *detail);
bool gate__claim_mine(const struct gate_engine *e, const struct store_gate *r);
bool gate__claim_gone(const struct gate_engine *e, const struct store_gate *r, int64_t now);

/* Small helpers. */
bool gate__approved_state(enum gate_state s);
bool gate__has_user(char *const *v, size_t n, const char *user);
char *gate__dup_or(const char *s, const char *dflt, bool *oom);
char *gate__jdump(json_t *j);

/* ---- gate_exec.c ----------------------------------------------------- */

void gate__after_change(struct gate_engine *e, struct gate *g, struct op *op);
void gate__proceed(struct gate_engine *e, struct gate *g);
void gate__reconcile(struct gate_engine *e, struct gate *g, bool after_restart,
		     const struct cloud_error *after_error);

#endif
