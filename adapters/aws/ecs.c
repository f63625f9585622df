/* ecs.c - ECS bodies, parsers and calls (see ecs.h). */
#include "adapters/aws/ecs.h"
#include "adapters/aws/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- results ------------------------------------------------------------ */

static void failures_free(struct aws_ecs_failure *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].arn);
		free(f[i].reason);
		free(f[i].detail);
	}
	free(f);
}

void aws_ecs_services_clear(struct aws_ecs_services *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->v && i < s->n; i++)
		cloud_service_free(s->v[i]);
	free(s->v);
	failures_free(s->failures, s->n_failures);
	memset(s, 0, sizeof *s);
}

void aws_ecs_list_clear(struct aws_ecs_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->names && i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->next_token);
	memset(l, 0, sizeof *l);
}

void aws_ecs_clusters_clear(struct aws_ecs_clusters *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->v && i < c->n; i++) {
		free((char *)c->v[i].name);
		free((char *)c->v[i].arn);
		free((char *)c->v[i].status);
	}
	free(c->v);
	failures_free(c->failures, c->n_failures);
	memset(c, 0, sizeof *c);
}

void aws_ecs_taskdefs_clear(struct aws_ecs_taskdefs *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->arns && i < t->n; i++)
		free(t->arns[i]);
	free(t->arns);
	free(t->next_token);
	memset(t, 0, sizeof *t);
}

/* ---- bodies ------------------------------------------------------------- */

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		if (!v[i] || json_array_append_new(a, json_string(v[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *aws_ecs_describe_services_body(const char *cluster, const char *const *services, size_t n)
{
	if (!cluster || !services || n == 0 || n > AWS_ECS_MAX_DESCRIBE)
		return NULL;
	return dump(json_pack("{s:s, s:o}", "cluster", cluster, "services", str_array(services, n)));
}

char *aws_ecs_update_service_body(const char *cluster, const char *service, int desired,
				  bool force_new_deployment)
{
	json_t *j;

	if (!cluster || !service || desired < 0)
		return NULL;
	j = json_pack("{s:s, s:s, s:i}", "cluster", cluster, "service", service, "desiredCount",
		      desired);
	if (j && force_new_deployment && json_object_set_new(j, "forceNewDeployment", json_true())) {
		json_decref(j);
		return NULL;
	}
	return dump(j);
}

char *aws_ecs_list_services_body(const char *cluster, const char *next_token, int max_results)
{
	json_t *j;

	if (!cluster)
		return NULL;
	if (max_results <= 0 || max_results > 100)
		max_results = 100;
	j = json_pack("{s:s, s:i}", "cluster", cluster, "maxResults", max_results);
	if (j && next_token && *next_token &&
	    json_object_set_new(j, "nextToken", json_string(next_token))) {
		json_decref(j);
		return NULL;
	}
	return dump(j);
}

char *aws_ecs_describe_clusters_body(const char *const *clusters, size_t n)
{
	if (!clusters || n == 0 || n > AWS_ECS_MAX_CLUSTERS)
		return NULL;
	return dump(json_pack("{s:o}", "clusters", str_array(clusters, n)));
}

char *aws_ecs_deploy_body(const char *cluster, const char *service, const char *task_definition,
			  bool force_new_deployment)
{
	json_t *j;

	if (!cluster || !service || !task_definition || !*task_definition)
		return NULL;
	j = json_pack("{s:s, s:s, s:s}", "cluster", cluster, "service", service, "taskDefinition",
		      task_definition);
	if (j && force_new_deployment && json_object_set_new(j, "forceNewDeployment", json_true())) {
		json_decref(j);
		return NULL;
	}
	return dump(j);
}

char *aws_ecs_list_task_definitions_body(const char *family_prefix, const char *next_token,
					 int max_results)
{
	json_t *j;

	if (!family_prefix || !*family_prefix)
		return NULL;
	if (max_results <= 0 || max_results > 100)
		max_results = 100;
	j = json_pack("{s:s, s:s, s:s, s:i}", "familyPrefix", family_prefix, "status", "ACTIVE",
		      "sort", "DESC", "maxResults", max_results);
	if (j && next_token && *next_token &&
	    json_object_set_new(j, "nextToken", json_string(next_token))) {
		json_decref(j);
		return NULL;
	}
	return dump(j);
}

char *aws_ecs_describe_task_definition_body(const char *task_definition)
{
	if (!task_definition || !*task_definition)
		return NULL;
	return dump(json_pack("{s:s}", "taskDefinition", task_definition));
}

/* ---- parsers ------------------------------------------------------------ */

static int event_cmp(const void *a, const void *b)
{
	const struct cloud_event *x = a, *y = b;
	return x->created_at < y->created_at ? 1 : x->created_at > y->created_at ? -1 : 0;
}

static int parse_service(const json_t *o, const char *cluster_hint, struct cloud_service **out,
			 struct bot_error *err)
{
	struct cloud_service *s;
	json_t *deps, *evs;
	const char *carn;
	bool oom = false;
	int bad = BOT_EOK; /* a count that is not an int (the first one is in err) */

	*out = NULL;
	if (!json_is_object(o))
		return bot_error_set(err, BOT_EPARSE, "service is not an object");
	s = calloc(1, sizeof *s);
	if (!s)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	s->name = aws__dup(aws__json_str(o, "serviceName"), &oom);
	s->arn = aws__dup(aws__json_str(o, "serviceArn"), &oom);
	s->status = aws__dup(aws__json_str(o, "status"), &oom);
	s->task_definition = aws__dup(aws__json_str(o, "taskDefinition"), &oom);
	carn = aws__json_str(o, "clusterArn");
	s->cluster = aws__dup(carn ? aws__cluster_name(carn) : aws__cluster_name(cluster_hint), &oom);
	s->desired = aws__json_int(o, "desiredCount", 0, &bad, err);
	s->running = aws__json_int(o, "runningCount", 0, &bad, err);
	s->pending = aws__json_int(o, "pendingCount", 0, &bad, err);

	deps = json_object_get(o, "deployments");
	if (json_is_array(deps) && json_array_size(deps)) {
		size_t n = json_array_size(deps);
		struct cloud_deployment *d = calloc(n, sizeof *d);
		if (!d)
			oom = true;
		for (size_t i = 0; d && i < n; i++) {
			json_t *x = json_array_get(deps, i);
			d[i].id = aws__dup(aws__json_str(x, "id"), &oom);
			d[i].status = aws__dup(aws__json_str(x, "status"), &oom);
			d[i].rollout_state = aws__dup(aws__json_str(x, "rolloutState"), &oom);
			d[i].desired = aws__json_int(x, "desiredCount", 0, &bad, err);
			d[i].running = aws__json_int(x, "runningCount", 0, &bad, err);
			d[i].pending = aws__json_int(x, "pendingCount", 0, &bad, err);
			d[i].failed = aws__json_int(x, "failedTasks", 0, &bad, err);
			d[i].task_definition = aws__dup(aws__json_str(x, "taskDefinition"), &oom);
			d[i].created_at = aws__json_time(json_object_get(x, "createdAt"));
			d[i].updated_at = aws__json_time(json_object_get(x, "updatedAt"));
			if (d[i].updated_at == 0)
				d[i].updated_at = d[i].created_at;
		}
		s->deployments = d;
		s->n_deployments = d ? n : 0;
	}
	evs = json_object_get(o, "events");
	if (json_is_array(evs) && json_array_size(evs)) {
		size_t n = json_array_size(evs);
		struct cloud_event *e = calloc(n, sizeof *e);
		if (!e)
			oom = true;
		for (size_t i = 0; e && i < n; i++) {
			json_t *x = json_array_get(evs, i);
			e[i].message = aws__dup(aws__json_str(x, "message"), &oom);
			e[i].created_at = aws__json_time(json_object_get(x, "createdAt"));
		}
		if (e) {
			qsort(e, n, sizeof *e, event_cmp);
			for (size_t i = AWS_ECS_MAX_EVENTS; i < n; i++)
				free((char *)e[i].message);
			if (n > AWS_ECS_MAX_EVENTS)
				n = AWS_ECS_MAX_EVENTS;
		}
		s->events = e;
		s->n_events = e ? n : 0;
	}
	if (oom) {
		cloud_service_free(s);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	if (bad) {
		cloud_service_free(s);
		return bad;
	}
	if (!s->name) {
		cloud_service_free(s);
		return bot_error_set(err, BOT_EPARSE, "service without serviceName");
	}
	*out = s;
	return BOT_EOK;
}

static int parse_failures(const json_t *j, struct aws_ecs_failure **out, size_t *n_out,
			  struct bot_error *err)
{
	json_t *f = json_object_get(j, "failures");
	size_t n = json_is_array(f) ? json_array_size(f) : 0;
	bool oom = false;

	*out = NULL;
	*n_out = 0;
	if (!n)
		return BOT_EOK;
	struct aws_ecs_failure *v = calloc(n, sizeof *v);
	if (!v)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(f, i);
		v[i].arn = aws__dup(aws__json_str(x, "arn"), &oom);
		v[i].reason = aws__dup(aws__json_str(x, "reason"), &oom);
		v[i].detail = aws__dup(aws__json_str(x, "detail"), &oom);
	}
	if (oom) {
		failures_free(v, n);
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	}
	*out = v;
	*n_out = n;
	return BOT_EOK;
}

int aws_ecs_parse_describe_services(const char *body, size_t len, const char *cluster_hint,
				    struct aws_ecs_services *out, struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *svcs;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!j)
		return BOT_EPARSE;
	svcs = json_object_get(j, "services");
	if (svcs && !json_is_array(svcs)) {
		rc = bot_error_set(err, BOT_EPARSE, "services is not a list");
		goto out;
	}
	size_t n = json_array_size(svcs);
	if (n) {
		out->v = calloc(n, sizeof *out->v);
		if (!out->v) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n && !rc; i++) {
		rc = parse_service(json_array_get(svcs, i), cluster_hint, &out->v[i], err);
		if (!rc)
			out->n++;
	}
	if (!rc)
		rc = parse_failures(j, &out->failures, &out->n_failures, err);
out:
	json_decref(j);
	if (rc)
		aws_ecs_services_clear(out);
	return rc;
}

int aws_ecs_parse_update_service(const char *body, size_t len, const char *cluster_hint,
				 struct cloud_service **out, struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err);
	int rc;

	*out = NULL;
	if (!j)
		return BOT_EPARSE;
	if (!json_is_object(json_object_get(j, "service")))
		rc = bot_error_set(err, BOT_EPARSE, "UpdateService reply has no service");
	else
		rc = parse_service(json_object_get(j, "service"), cluster_hint, out, err);
	json_decref(j);
	return rc;
}

/* One page of a List* reply: the strings of `key` (each ARN whole, or its
 * last segment when tail) and nextToken. The caller clears on error. */
static int parse_arn_page(const char *body, size_t len, const char *key, bool tail,
			  char ***items, size_t *n_items, char **next_token,
			  struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *arns;
	bool oom = false;
	int rc = BOT_EOK;

	if (!j)
		return BOT_EPARSE;
	arns = json_object_get(j, key);
	if (arns && !json_is_array(arns)) {
		rc = bot_error_set(err, BOT_EPARSE, "%s is not a list", key);
		goto out;
	}
	size_t n = json_array_size(arns);
	if (n && !(*items = calloc(n, sizeof **items)))
		oom = true;
	for (size_t i = 0; *items && i < n; i++) {
		const char *a = json_string_value(json_array_get(arns, i));
		if (!a) {
			rc = bot_error_set(err, BOT_EPARSE, "%s[%zu] is not a string", key, i);
			goto out;
		}
		(*items)[*n_items] = aws__dup(tail ? aws__arn_tail(a) : a, &oom);
		if ((*items)[*n_items])
			(*n_items)++;
	}
	const char *nt = aws__json_str(j, "nextToken");
	*next_token = aws__dup(nt && *nt ? nt : NULL, &oom);
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
out:
	json_decref(j);
	return rc;
}

int aws_ecs_parse_list_services(const char *body, size_t len, struct aws_ecs_list *out,
				struct bot_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = parse_arn_page(body, len, "serviceArns", true, &out->names, &out->n,
				&out->next_token, err);
	if (rc)
		aws_ecs_list_clear(out);
	return rc;
}

int aws_ecs_parse_describe_clusters(const char *body, size_t len, struct aws_ecs_clusters *out,
				    struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *cl;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!j)
		return BOT_EPARSE;
	cl = json_object_get(j, "clusters");
	if (cl && !json_is_array(cl)) {
		rc = bot_error_set(err, BOT_EPARSE, "clusters is not a list");
		goto out;
	}
	size_t n = json_array_size(cl);
	if (n) {
		out->v = calloc(n, sizeof *out->v);
		if (!out->v) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(cl, i);
		struct cloud_cluster *c = &out->v[out->n++];
		const char *name = aws__json_str(x, "clusterName"), *arn = aws__json_str(x, "clusterArn");
		c->name = aws__dup(name ? name : aws__cluster_name(arn), &oom);
		c->arn = aws__dup(arn, &oom);
		c->status = aws__dup(aws__json_str(x, "status"), &oom);
		c->running_tasks = aws__json_int(x, "runningTasksCount", 0, &rc, err);
		c->pending_tasks = aws__json_int(x, "pendingTasksCount", 0, &rc, err);
		c->active_services = aws__json_int(x, "activeServicesCount", 0, &rc, err);
		if (rc)
			goto out;
		if (!c->name && !oom) {
			rc = bot_error_set(err, BOT_EPARSE, "cluster without clusterName/clusterArn");
			goto out;
		}
	}
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
	if (!rc)
		rc = parse_failures(j, &out->failures, &out->n_failures, err);
out:
	json_decref(j);
	if (rc)
		aws_ecs_clusters_clear(out);
	return rc;
}

int aws_ecs_parse_list_task_definitions(const char *body, size_t len,
					struct aws_ecs_taskdefs *out, struct bot_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = parse_arn_page(body, len, "taskDefinitionArns", false, &out->arns, &out->n,
				&out->next_token, err);
	if (rc)
		aws_ecs_taskdefs_clear(out);
	return rc;
}

int aws_ecs_parse_describe_task_definition(const char *body, size_t len,
					   struct cloud_task_definition **out,
					   struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *o, *cs;
	struct cloud_task_definition *td = NULL;
	bool oom = false;
	int rc = BOT_EOK;

	*out = NULL;
	if (!j)
		return BOT_EPARSE;
	o = json_object_get(j, "taskDefinition");
	if (!json_is_object(o)) {
		rc = bot_error_set(err, BOT_EPARSE, "reply has no taskDefinition");
		goto out;
	}
	td = calloc(1, sizeof *td);
	if (!td) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	td->arn = aws__dup(aws__json_str(o, "taskDefinitionArn"), &oom);
	td->family = aws__dup(aws__json_str(o, "family"), &oom);
	td->status = aws__dup(aws__json_str(o, "status"), &oom);
	td->revision = aws__json_int(o, "revision", 0, &rc, err);
	if (rc)
		goto out;
	cs = json_object_get(o, "containerDefinitions");
	if (cs && !json_is_array(cs)) {
		rc = bot_error_set(err, BOT_EPARSE, "containerDefinitions is not a list");
		goto out;
	}
	size_t n = json_array_size(cs);
	if (n) {
		struct cloud_container *c = calloc(n, sizeof *c);
		if (!c)
			oom = true;
		for (size_t i = 0; c && i < n; i++) {
			json_t *x = json_array_get(cs, i);
			c[i].name = aws__dup(aws__json_str(x, "name"), &oom);
			c[i].image = aws__dup(aws__json_str(x, "image"), &oom);
		}
		td->containers = c;
		td->n_containers = c ? n : 0;
	}
	if (oom) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	if (!td->family || td->revision <= 0) {
		rc = bot_error_set(err, BOT_EPARSE, "taskDefinition without family or revision");
		goto out;
	}
	*out = td;
	td = NULL;
out:
	cloud_task_definition_free(td);
	json_decref(j);
	return rc;
}

/* ---- calls -------------------------------------------------------------- */

enum kind { K_SERVICES, K_UPDATE, K_LIST, K_CLUSTERS, K_TDLIST, K_TD };

struct ctx {
	enum kind kind;
	union {
		aws_ecs_services_cb services;
		aws_ecs_service_cb update;
		aws_ecs_list_cb list;
		aws_ecs_clusters_cb clusters;
		aws_ecs_taskdefs_cb tdlist;
		aws_ecs_taskdef_cb td;
	} cb;
	void *ud;
	char cluster[256];
};

static void deliver_err(struct ctx *x, const struct cloud_error *e)
{
	switch (x->kind) {
	case K_SERVICES: x->cb.services(x->ud, e, NULL); break;
	case K_UPDATE: x->cb.update(x->ud, e, NULL); break;
	case K_LIST: x->cb.list(x->ud, e, NULL); break;
	case K_CLUSTERS: x->cb.clusters(x->ud, e, NULL); break;
	case K_TDLIST: x->cb.tdlist(x->ud, e, NULL); break;
	case K_TD: x->cb.td(x->ud, e, NULL); break;
	}
}

static void on_reply(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct ctx *x = ud;
	struct bot_error be = { .msg = "" };
	int rc = BOT_EOK;

	if (err) {
		deliver_err(x, err);
		goto out;
	}
	switch (x->kind) {
	case K_SERVICES: {
		struct aws_ecs_services s;
		rc = aws_ecs_parse_describe_services(r->body, r->body_len, x->cluster, &s, &be);
		if (!rc) {
			x->cb.services(x->ud, NULL, &s);
			aws_ecs_services_clear(&s);
		}
		break;
	}
	case K_UPDATE: {
		struct cloud_service *s;
		rc = aws_ecs_parse_update_service(r->body, r->body_len, x->cluster, &s, &be);
		if (!rc) {
			x->cb.update(x->ud, NULL, s);
			cloud_service_free(s);
		}
		break;
	}
	case K_LIST: {
		struct aws_ecs_list l;
		rc = aws_ecs_parse_list_services(r->body, r->body_len, &l, &be);
		if (!rc) {
			x->cb.list(x->ud, NULL, &l);
			aws_ecs_list_clear(&l);
		}
		break;
	}
	case K_CLUSTERS: {
		struct aws_ecs_clusters c;
		rc = aws_ecs_parse_describe_clusters(r->body, r->body_len, &c, &be);
		if (!rc) {
			x->cb.clusters(x->ud, NULL, &c);
			aws_ecs_clusters_clear(&c);
		}
		break;
	}
	case K_TDLIST: {
		struct aws_ecs_taskdefs t;
		rc = aws_ecs_parse_list_task_definitions(r->body, r->body_len, &t, &be);
		if (!rc) {
			x->cb.tdlist(x->ud, NULL, &t);
			aws_ecs_taskdefs_clear(&t);
		}
		break;
	}
	case K_TD: {
		struct cloud_task_definition *td;
		rc = aws_ecs_parse_describe_task_definition(r->body, r->body_len, &td, &be);
		if (!rc) {
			x->cb.td(x->ud, NULL, td);
			cloud_task_definition_free(td);
		}
		break;
	}
	}
	if (rc) {
		struct cloud_error e = { .code = rc == BOT_ENOMEM ? BOT_ENOMEM : BOT_EPROTOCOL };
		e.http_status = (int)r->status;
		e.attempts = r->attempts;
		aws__copy(e.request_id, sizeof e.request_id, r->request_id);
		snprintf(e.message, sizeof e.message, "unexpected ECS reply: %s", be.msg);
		deliver_err(x, &e);
	}
out:
	free(x);
}

static int start(struct aws_client *c, const char *region, const char *op, char *body,
		 struct ctx *x, struct aws_call **out)
{
	int rc;

	if (!x || !body) {
		free(x);
		free(body);
		return BOT_ENOMEM;
	}
	rc = aws_client_call(c, &(struct aws_request){
		.service = AWS_SVC_ECS, .region = region, .op = op,
		.body = body, .body_len = strlen(body),
	}, on_reply, x, out);
	free(body);
	if (rc)
		free(x);
	return rc;
}

static struct ctx *ctx_new(enum kind k, void *ud, const char *cluster)
{
	struct ctx *x = calloc(1, sizeof *x);
	if (x) {
		x->kind = k;
		x->ud = ud;
		aws__copy(x->cluster, sizeof x->cluster, cluster);
	}
	return x;
}

int aws_ecs_describe_services(struct aws_client *c, const char *region, const char *cluster,
			      const char *const *services, size_t n, aws_ecs_services_cb cb,
			      void *ud, struct aws_call **out)
{
	if (!cb || !cluster || !services || n == 0 || n > AWS_ECS_MAX_DESCRIBE)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_SERVICES, ud, cluster);
	if (x)
		x->cb.services = cb;
	return start(c, region, "DescribeServices",
		     aws_ecs_describe_services_body(cluster, services, n), x, out);
}

int aws_ecs_update_service(struct aws_client *c, const char *region, const char *cluster,
			   const char *service, int desired, bool force_new_deployment,
			   aws_ecs_service_cb cb, void *ud, struct aws_call **out)
{
	if (!cb || !cluster || !service || desired < 0)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_UPDATE, ud, cluster);
	if (x)
		x->cb.update = cb;
	return start(c, region, "UpdateService",
		     aws_ecs_update_service_body(cluster, service, desired, force_new_deployment), x,
		     out);
}

int aws_ecs_list_services(struct aws_client *c, const char *region, const char *cluster,
			  const char *next_token, int max_results, aws_ecs_list_cb cb, void *ud,
			  struct aws_call **out)
{
	if (!cb || !cluster)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_LIST, ud, cluster);
	if (x)
		x->cb.list = cb;
	return start(c, region, "ListServices",
		     aws_ecs_list_services_body(cluster, next_token, max_results), x, out);
}

int aws_ecs_describe_clusters(struct aws_client *c, const char *region,
			      const char *const *clusters, size_t n, aws_ecs_clusters_cb cb,
			      void *ud, struct aws_call **out)
{
	if (!cb || !clusters || n == 0 || n > AWS_ECS_MAX_CLUSTERS)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_CLUSTERS, ud, NULL);
	if (x)
		x->cb.clusters = cb;
	return start(c, region, "DescribeClusters", aws_ecs_describe_clusters_body(clusters, n),
		     x, out);
}

int aws_ecs_deploy(struct aws_client *c, const char *region, const char *cluster,
		   const char *service, const char *task_definition, bool force_new_deployment,
		   aws_ecs_service_cb cb, void *ud, struct aws_call **out)
{
	if (!cb || !cluster || !service || !task_definition || !*task_definition)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_UPDATE, ud, cluster);
	if (x)
		x->cb.update = cb;
	return start(c, region, "UpdateService",
		     aws_ecs_deploy_body(cluster, service, task_definition, force_new_deployment), x,
		     out);
}

int aws_ecs_list_task_definitions(struct aws_client *c, const char *region,
				  const char *family_prefix, const char *next_token,
				  int max_results, aws_ecs_taskdefs_cb cb, void *ud,
				  struct aws_call **out)
{
	if (!cb || !family_prefix || !*family_prefix)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_TDLIST, ud, NULL);
	if (x)
		x->cb.tdlist = cb;
	return start(c, region, "ListTaskDefinitions",
		     aws_ecs_list_task_definitions_body(family_prefix, next_token, max_results), x,
		     out);
}

int aws_ecs_describe_task_definition(struct aws_client *c, const char *region,
				     const char *task_definition, aws_ecs_taskdef_cb cb, void *ud,
				     struct aws_call **out)
{
	if (!cb || !task_definition || !*task_definition)
		return BOT_EINVAL;
	struct ctx *x = ctx_new(K_TD, ud, NULL);
	if (x)
		x->cb.td = cb;
	return start(c, region, "DescribeTaskDefinition",
		     aws_ecs_describe_task_definition_body(task_definition), x, out);
}
