/* act_restart.c - restart: a new deployment of the task definition the
 * service runs (UpdateService forceNewDeployment), for wedged tasks (see
 * action.h).
 *
 * Params {"task_definition": ARN, "deployment": the PRIMARY deployment's id
 * when asked}. The intent records the PRIMARY deployment seen just before
 * the call: the call landed once another deployment is PRIMARY (ECS gives
 * every deployment a new id), and did not while that one still is. */
#include "bot/domain/action.h"

#include "bot/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TD_MAX 256

static void prepare(const struct action_req *r, action_prepared_fn done, void *ud)
{
	const struct cloud_deployment *p = action__primary(r->svc);
	char why[200];
	struct chat_text t;

	chat_text_init(&t);
	if (!r->svc->task_definition) {
		chat_text_printf(&t, "ECS did not say which task definition ");
		chat_text_bold(&t, "%s", r->service);
		chat_text_printf(&t, " runs, so it cannot be restarted");
		done(ud, NULL, 0, &t);
		return;
	}
	if (action__rolling(r->svc, why, sizeof why)) {
		chat_text_bold(&t, "%s", r->service);
		chat_text_printf(&t, " is being deployed right now (%s); restart it once that has "
				 "finished", why);
		done(ud, NULL, 0, &t);
		return;
	}
	json_t *o = json_pack("{s:s, s:s*}", "task_definition", r->svc->task_definition,
			      "deployment", p ? p->id : NULL);
	char *params = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!params) {
		chat_text_printf(&t, "out of memory");
		done(ud, NULL, 0, &t);
		return;
	}
	done(ud, params, 0, NULL);
	free(params);
}

static void describe(const struct store_gate *g, struct chat_text *t)
{
	char td[TD_MAX], s[TD_MAX];

	action__json_str(g->params, "task_definition", td, sizeof td);
	chat_text_printf(t, "restart ");
	action__put_service(g, t);
	chat_text_printf(t, ": a new deployment of ");
	chat_text_code(t, "%s", action__td_short(td, s, sizeof s));
	chat_text_printf(t, " replaces its %d desired tasks", g->desired_at_request);
}

static void brief(const struct store_gate *g, char *buf, size_t n)
{
	(void)g;
	snprintf(buf, n, "restart");
}

static void call_text(const struct store_gate *g, struct chat_text *t)
{
	char td[TD_MAX], s[TD_MAX];

	action__json_str(g->params, "task_definition", td, sizeof td);
	chat_text_printf(t, "ECS UpdateService cluster=");
	chat_text_code(t, "%s", g->cluster);
	chat_text_printf(t, " service=");
	chat_text_code(t, "%s", g->ecs_service);
	chat_text_printf(t, " taskDefinition=");
	chat_text_code(t, "%s", action__td_short(td, s, sizeof s));
	chat_text_printf(t, " forceNewDeployment=true");
}

static const char *stale(const struct store_gate *g, const struct cloud_service *svc, char *buf,
			 size_t n)
{
	const struct cloud_deployment *p = action__primary(svc);
	char td[TD_MAX], was[TD_MAX], now[TD_MAX], dep[128], why[200];

	action__json_str(g->params, "task_definition", td, sizeof td);
	action__json_str(g->params, "deployment", dep, sizeof dep);
	if (action__rolling(svc, why, sizeof why)) {
		snprintf(buf, n, "a deployment is still in progress (%s); not restarted, nothing "
			 "was changed", why);
	} else if (!action__td_same(svc->task_definition, td)) {
		snprintf(buf, n, "the service's task definition changed from %s to %s since the "
			 "request (someone deployed); nothing was changed",
			 action__td_short(td, was, sizeof was),
			 action__td_short(svc->task_definition, now, sizeof now));
	} else if (dep[0] && p && p->id && strcmp(p->id, dep) != 0) {
		snprintf(buf, n, "a new deployment (%s) started since the request; nothing was "
			 "changed", p->id);
	} else {
		return NULL;
	}
	return buf;
}

static int intent(const struct store_gate *g, const struct cloud_service *svc, json_t *in,
		  int *exec_from)
{
	const struct cloud_deployment *p = action__primary(svc);
	char td[TD_MAX];

	*exec_from = svc->desired;
	action__json_str(g->params, "task_definition", td, sizeof td);
	return json_object_set_new(in, "taskDefinition", json_string(td)) ||
	       json_object_set_new(in, "forceNewDeployment", json_true()) ||
	       json_object_set_new(in, "observedDeployment",
				   p && p->id ? json_string(p->id) : json_null());
}

static int execute(struct cloud *c, const struct store_gate *g, cloud_scale_cb cb, void *ud)
{
	char td[TD_MAX];

	if (!c->ops->deploy)
		return BOT_EINVAL;
	action__json_str(g->params, "task_definition", td, sizeof td);
	return c->ops->deploy(c, g->cluster, g->ecs_service, td, true, cb, ud);
}

static void done_text(const struct store_gate *g, const struct cloud_service *after, char *buf,
		      size_t n)
{
	const struct cloud_deployment *p = after ? action__primary(after) : NULL;
	char td[TD_MAX], s[TD_MAX];

	action__json_str(g->params, "task_definition", td, sizeof td);
	snprintf(buf, n, "a new deployment%s%s of %s started", p && p->id ? " " : "",
		 p && p->id ? p->id : "", action__td_short(td, s, sizeof s));
}

static enum action_landed landed(const struct store_gate *g, const struct cloud_service *svc,
				 char *text, size_t n)
{
	const struct cloud_deployment *p = action__primary(svc);
	char seen[128];

	if (!action__json_str(g->exec_intent, "observedDeployment", seen, sizeof seen) || !p ||
	    !p->id) {
		snprintf(text, n, "ECS does not name the deployments, so whether a new one started "
			 "cannot be told; check the service's deployments");
		return ACTION_CONFLICT;
	}
	if (strcmp(p->id, seen) != 0) {
		snprintf(text, n, "deployment %s replaced %s", p->id, seen);
		return ACTION_LANDED;
	}
	snprintf(text, n, "deployment %s is still the primary one", seen);
	return ACTION_NOT_LANDED;
}

static bool steady(const struct store_gate *g, const struct cloud_service *svc, char *what,
		   size_t n)
{
	const struct cloud_deployment *p;
	char seen[128];
	bool settled = action__settled(svc, &p);
	bool fresh = p && p->id &&
		     !(action__json_str(g->exec_intent, "observedDeployment", seen, sizeof seen) &&
		       strcmp(seen, p->id) == 0);

	snprintf(what, n, "deployment %s: running %d of %d tasks, %d pending, %zu deployment%s "
		 "live", p && p->id ? p->id : "?", p ? p->running : svc->running,
		 p ? p->desired : svc->desired, svc->pending, svc->n_deployments,
		 svc->n_deployments == 1 ? "" : "s");
	return settled && fresh;
}

static bool available(const struct cloud *c)
{
	return c->ops->deploy != NULL;
}

const struct action action_restart = {
	.kind = "restart",
	.command = "/restart",
	.title = "Restart",
	.doing = "restarting",
	.result = "restarted",
	.prepare = prepare,
	.describe = describe,
	.brief = brief,
	.call_text = call_text,
	.stale = stale,
	.intent = intent,
	.execute = execute,
	.done_text = done_text,
	.landed = landed,
	.steady = steady,
	.available = available,
};
