/* act_scale.c - scale: UpdateService desiredCount to an absolute count (see
 * action.h). Params {"target": N}; the record's target and
 * desired_at_request columns carry the same for the card and older
 * readers. */
#include "bot/domain/action.h"

#include <stdio.h>
#include <string.h>

static void prepare(const struct action_req *r, action_prepared_fn done, void *ud)
{
	int n = r->args.count;
	char params[48];
	struct chat_text t;

	chat_text_init(&t);
	if (n < r->min_desired || n > r->max_desired) {
		chat_text_code(&t, "%s", r->service);
		chat_text_printf(&t, " may be scaled to between %d and %d tasks; %d is out of bounds",
				 r->min_desired, r->max_desired, n);
		done(ud, NULL, 0, &t);
		return;
	}
	if (r->svc->desired == n) {
		chat_text_bold(&t, "%s", r->service);
		chat_text_printf(&t, " already has a desired count of %d", n);
		done(ud, NULL, 0, &t);
		return;
	}
	snprintf(params, sizeof params, "{\"target\":%d}", n);
	done(ud, params, n, NULL);
}

static void describe(const struct store_gate *g, struct chat_text *t)
{
	chat_text_printf(t, "scale ");
	action__put_service(g, t);
	chat_text_printf(t, " from ");
	chat_text_bold(t, "%d", g->desired_at_request);
	chat_text_printf(t, " to ");
	chat_text_bold(t, "%d", g->target);
	chat_text_printf(t, " desired tasks%s", g->force_new_deployment ? ", with a new deployment"
									  : "");
}

static void brief(const struct store_gate *g, char *buf, size_t n)
{
	snprintf(buf, n, "scale to %d", g->target);
}

static void call_text(const struct store_gate *g, struct chat_text *t)
{
	chat_text_printf(t, "ECS UpdateService cluster=");
	chat_text_code(t, "%s", g->cluster);
	chat_text_printf(t, " service=");
	chat_text_code(t, "%s", g->ecs_service);
	chat_text_printf(t, " desiredCount=%d (desired count before: %d)", g->target, g->exec_from);
}

static const char *stale(const struct store_gate *g, const struct cloud_service *svc, char *buf,
			 size_t n)
{
	int d = svc->desired, t = g->target, was = g->desired_at_request;
	bool up = t > was;

	if (d == t)
		snprintf(buf, n, "desired count is already %d (the target); nothing was changed", d);
	else if (up && d > t)
		snprintf(buf, n, "desired count is already %d (>= target %d); nothing was changed",
			 d, t);
	else if (!up && d < t)
		snprintf(buf, n, "desired count is already %d (<= target %d); nothing was changed",
			 d, t);
	else if (d != was)
		snprintf(buf, n, "desired count changed from %d to %d since the request (someone "
			 "else scaled); nothing was changed", was, d);
	else
		return NULL;
	return buf;
}

static int intent(const struct store_gate *g, const struct cloud_service *svc, json_t *in,
		  int *exec_from)
{
	*exec_from = svc->desired;
	return json_object_set_new(in, "desiredCount", json_integer(g->target)) ||
	       json_object_set_new(in, "forceNewDeployment",
				   json_boolean(g->force_new_deployment)) ||
	       json_object_set_new(in, "observedDesired", json_integer(svc->desired));
}

static int execute(struct cloud *c, const struct store_gate *g, cloud_scale_cb cb, void *ud)
{
	return c->ops->scale(c, g->cluster, g->ecs_service, g->target, g->force_new_deployment,
			     cb, ud);
}

static void done_text(const struct store_gate *g, const struct cloud_service *after, char *buf,
		      size_t n)
{
	(void)after;
	snprintf(buf, n, "desired count set to %d (was %d)", g->target, g->exec_from);
}

static enum action_landed landed(const struct store_gate *g, const struct cloud_service *svc,
				 char *text, size_t n)
{
	if (svc->desired == g->target) {
		snprintf(text, n, "desired count is %d (the target)", svc->desired);
		return ACTION_LANDED;
	}
	if (svc->desired == g->exec_from) {
		snprintf(text, n, "desired count is still %d", svc->desired);
		return ACTION_NOT_LANDED;
	}
	snprintf(text, n, "desired count is %d: neither the value before the call (%d) nor the "
		 "target (%d); someone else changed it, not overwritten", svc->desired,
		 g->exec_from, g->target);
	return ACTION_CONFLICT;
}

static bool steady(const struct store_gate *g, const struct cloud_service *svc, char *what,
		   size_t n)
{
	bool ok = svc->running == g->target && svc->desired == g->target && svc->pending == 0;

	if (ok)
		snprintf(what, n, "running %d of %d tasks, none pending", svc->running, g->target);
	else
		snprintf(what, n, "running %d, pending %d, desired %d (target %d)", svc->running,
			 svc->pending, svc->desired, g->target);
	return ok;
}

static bool available(const struct cloud *c)
{
	return c->ops->scale != NULL;
}

const struct action action_scale = {
	.kind = STORE_ACTION_SCALE,
	.command = "/scale",
	.title = "Scale",
	.doing = "scaling",
	.result = "scaled",
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
