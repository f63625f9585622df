/* action.c - the table of actions and what their files share (see
 * action.h). */
#include "bot/domain/action.h"

#include <stdio.h>
#include <string.h>

extern const struct action action_scale, action_restart, action_rollback;

/* One row per action; help lists them in this order. */
static const struct action *const table[] = {
	&action_scale,
	&action_restart,
	&action_rollback,
};

const struct action *action_find(const char *kind)
{
	if (!kind)
		kind = STORE_ACTION_SCALE;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i]->kind, kind) == 0)
			return table[i];
	return NULL;
}

const struct action *const *action_all(size_t *n)
{
	*n = sizeof table / sizeof table[0];
	return table;
}

void action__put_service(const struct store_gate *g, struct chat_text *t)
{
	chat_text_bold(t, "%s", g->service ? g->service : "");
	chat_text_printf(t, " (ECS service ");
	chat_text_code(t, "%s", g->ecs_service ? g->ecs_service : "");
	chat_text_printf(t, " in cluster ");
	chat_text_code(t, "%s", g->cluster ? g->cluster : "");
	chat_text_printf(t, ")");
}

const char *action__td_short(const char *td, char *buf, size_t n)
{
	const char *slash = td ? strrchr(td, '/') : NULL;

	snprintf(buf, n, "%s", !td ? "" : slash ? slash + 1 : td);
	return buf;
}

bool action__td_same(const char *a, const char *b)
{
	char x[256], y[256];

	if (!a || !b)
		return false;
	return strcmp(action__td_short(a, x, sizeof x), action__td_short(b, y, sizeof y)) == 0;
}

const struct cloud_deployment *action__primary(const struct cloud_service *svc)
{
	for (size_t i = 0; i < svc->n_deployments; i++)
		if (svc->deployments[i].status && strcmp(svc->deployments[i].status, "PRIMARY") == 0)
			return &svc->deployments[i];
	return NULL;
}

bool action__rolling(const struct cloud_service *svc, char *buf, size_t n)
{
	size_t live = 0;

	for (size_t i = 0; i < svc->n_deployments; i++)
		if (!svc->deployments[i].status ||
		    strcmp(svc->deployments[i].status, "INACTIVE") != 0)
			live++;
	if (live > 1) {
		snprintf(buf, n, "%zu deployments are live: one is still replacing another", live);
		return true;
	}
	return false;
}

const char *action__json_str(const char *json, const char *key, char *buf, size_t n)
{
	json_t *o = json ? json_loads(json, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(buf, n, "%s", v ? v : "");
	json_decref(o);
	return v ? buf : NULL;
}

bool action__settled(const struct cloud_service *svc, const struct cloud_deployment **primary)
{
	char why[160];
	const struct cloud_deployment *p = action__primary(svc);

	*primary = p;
	return p && !action__rolling(svc, why, sizeof why) && svc->pending == 0 &&
	       svc->running == svc->desired && p->running == p->desired &&
	       !(p->rollout_state && strcmp(p->rollout_state, "FAILED") == 0);
}
