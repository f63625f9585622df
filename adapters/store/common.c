/* common.c - what every store backend writes the same way (see common.h). */
#include "adapters/store/common.h"

#include <jansson.h>
#include <string.h>

char *store__request_detail(const struct store_gate *g)
{
	json_t *appr = json_array();
	json_t *params = json_loads(g->params ? g->params : "{}", 0, NULL);
	char *out = NULL;

	for (size_t i = 0; appr && i < g->n_approvers; i++)
		json_array_append_new(appr, json_string(g->approvers[i]));
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:o, s:i, s:b, s:b, s:s*,"
			      " s:s}",
			      "service", g->service, "cluster", g->cluster, "ecs_service",
			      g->ecs_service, "requester", g->requester, "target", g->target,
			      "desired_at_request", g->desired_at_request, "reason",
			      g->reason ? g->reason : "", "timer_ms", (json_int_t)g->timer_ms,
			      "approvers", appr ? appr : json_null(), "min_approvals",
			      g->min_approvals, "allow_self", g->allow_self,
			      "force_new_deployment", g->force_new_deployment, "channel",
			      g->channel, "evidence", g->evidence ? g->evidence : "");
	/* v1 events carried no action; scale keeps their shape */
	if (d && g->action && strcmp(g->action, STORE_ACTION_SCALE) != 0) {
		json_object_set_new(d, "action", json_string(g->action));
		json_object_set(d, "params", params ? params : json_null());
	}
	json_decref(params);
	if (d)
		out = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	return out;
}
