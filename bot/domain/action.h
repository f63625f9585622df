/* action.h - what a gate does once approved: one small interface, one
 * table row per action (scale, restart, rollback).
 *
 * The gate engine, the store and the card know no action: a gate record
 * carries its action's kind and parameters (store_gate.action, .params, a
 * JSON object), and everything that depends on the kind goes through the
 * row that action_find() returns:
 *
 *   prepare   at request time, from the service as read: the parameters,
 *             or why the request cannot be (rollback reads the task
 *             definitions to find its target);
 *   describe  what it does, for the card, the thread and /gates;
 *   stale     the re-check at fire time, on the service read again;
 *   intent    what is recorded before the call (what was observed), the
 *             reference for reconcile;
 *   execute   the one AWS call;
 *   landed    after a crash or an ambiguous answer: did the recorded call
 *             take effect? Read from ECS itself, never by a blind second call;
 *   steady    the recovery check after it succeeded.
 *
 * Adding an action is one file (act_<kind>.c) and its row in action.c; the
 * configuration names it under a service's `actions:` (config_action_kinds()
 * lists the names it accepts; unit.action checks both lists agree).
 *
 * Pure but for prepare and execute (which call the cloud); single thread.
 */
#ifndef BOT_ACTION_H
#define BOT_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "adapters/store.h"

/* What a person typed after the service, already split by the command:
 * the action's own words. */
struct action_args {
	int count;           /* scale: the desired count asked for */
	const char *to;      /* rollback --to: "7", "family:7" or an ARN; NULL = previous */
};

/* The request's context at prepare time (borrowed for the call). */
struct action_req {
	struct cloud *cloud;
	const struct cloud_service *svc;   /* as just read (ACTIVE, found) */
	const char *service;               /* the name people use */
	int min_desired, max_desired;      /* scale's bounds */
	struct action_args args;
};

/* prepare's answer, exactly once (maybe before prepare returns): params
 * (a JSON object's text, borrowed) when the request may be opened; else
 * NULL and why (to the requester: "nothing was requested" is added by the
 * caller). target is scale's desired count (0 for others). */
typedef void (*action_prepared_fn)(void *ud, const char *params, int target,
				   const struct chat_text *why);

/* Did the recorded call take effect? */
enum action_landed {
	ACTION_LANDED = 0,    /* yes: succeed without calling again */
	ACTION_NOT_LANDED,    /* the service is as it was: the call may be made (once) */
	ACTION_CONFLICT,      /* neither: someone else changed it; never overwritten */
};

struct action {
	const char *kind;     /* STORE_ACTION_*: "scale" */
	const char *command;  /* "/scale" */
	const char *title;    /* card header: "Scale request #7" */
	const char *doing;    /* state word while executing: "scaling" */
	const char *result;   /* result_kind once it succeeded: "scaled" */

	/* Request time: check what was asked against svc, build the params. */
	void (*prepare)(const struct action_req *r, action_prepared_fn done, void *ud);
	/* "scale *web* from *2* to *5* desired tasks" (after "<who> asks to "). */
	void (*describe)(const struct store_gate *g, struct chat_text *t);
	/* Short, plain: "scale to 5", "restart", "roll back to web:6". */
	void (*brief)(const struct store_gate *g, char *buf, size_t n);
	/* The call as the thread tells it, after "Calling AWS: ". */
	void (*call_text)(const struct store_gate *g, struct chat_text *t);

	/* Fire time: why acting on svc now would be wrong (buf), or NULL. */
	const char *(*stale)(const struct store_gate *g, const struct cloud_service *svc,
			     char *buf, size_t n);
	/* Add what was observed before the call to intent (a JSON object);
	 * *exec_from: scale's desired count before (others: svc->desired). */
	int (*intent)(const struct store_gate *g, const struct cloud_service *svc, json_t *intent,
		      int *exec_from);
	/* The call. cb as cloud_ops.scale's; returns the cloud's rc. */
	int (*execute)(struct cloud *c, const struct store_gate *g, cloud_scale_cb cb, void *ud);
	/* What a successful answer means, for the card ("desired count set to 5 (was 2)"). */
	void (*done_text)(const struct store_gate *g, const struct cloud_service *after,
			  char *buf, size_t n);
	/* Reconcile: did g's recorded call land on svc? text says what was seen. */
	enum action_landed (*landed)(const struct store_gate *g, const struct cloud_service *svc,
				     char *text, size_t n);
	/* Recovery check: is svc steady as the action wants it? what: a
	 * plain line of what was seen ("running 5 of 5 tasks, none pending"). */
	bool (*steady)(const struct store_gate *g, const struct cloud_service *svc, char *what,
		       size_t n);
	/* Which cloud ops it needs beyond describe (NULL in the backend:
	 * the action is unavailable there). */
	bool (*available)(const struct cloud *c);
};

/* The row for kind (NULL: "scale", for records older than the column);
 * NULL if unknown. */
const struct action *action_find(const char *kind);
/* Every action, in table order. */
const struct action *const *action_all(size_t *n);

/* Shared by the actions' files. */
/* The service as a card names it: "*web* (ECS service `w` in cluster `c`)". */
void action__put_service(const struct store_gate *g, struct chat_text *t);
/* "family:revision" of a task definition ARN or short name (the last
 * path element), into buf; "" for NULL. */
const char *action__td_short(const char *td, char *buf, size_t n);
/* Do two task definition references name the same revision? */
bool action__td_same(const char *a, const char *b);
/* The PRIMARY deployment of svc, or NULL. */
const struct cloud_deployment *action__primary(const struct cloud_service *svc);
/* Is a deployment of svc still replacing another (more than one live
 * deployment)? buf says so. A lone PRIMARY that has not reached its count
 * (tasks that fail to start: what a restart is for) is not. */
bool action__rolling(const struct cloud_service *svc, char *buf, size_t n);
/* The string at key of a JSON object's text, into buf; NULL if absent. */
const char *action__json_str(const char *json, const char *key, char *buf, size_t n);
/* One live deployment, PRIMARY, not FAILED, running all it wants with
 * nothing pending: *primary is it (or NULL). */
bool action__settled(const struct cloud_service *svc, const struct cloud_deployment **primary);

#endif
