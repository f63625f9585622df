/* cloud_aws.c - struct cloud on ECS, CloudWatch and SNS (see cloud_aws.h). */
#include "adapters/aws/cloud_aws.h"
#include "adapters/aws/alarm_msg.h"
#include "adapters/aws/budget.h"
#include "adapters/aws/cw.h"
#include "adapters/aws/ecs.h"
#include "adapters/aws/sns.h"
#include "adapters/aws/sqs.h"
#include "adapters/aws/sts.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LIST_PAGES 10

struct route {
	char *cluster, *service, *region;
};

struct aws_cloud {
	struct cloud cloud;
	struct bot_loop *loop;
	struct http *http;
	bool own_http;
	struct aws_client *client;
	struct aws_budget *budget;      /* what every client of this cloud spends */
	struct aws_creds_provider *creds;
	struct aws_retry_policy retry;  /* what every client of this cloud retries by */
	long timeout_ms;
	char *config_url;               /* aws.endpoint_url (or opts), for those clients */
	struct aws_client **extra;      /* cloud_aws_client_for's own clients */
	size_t n_extra;
	struct route *routes;
	size_t n_routes;
	bool dying;
};

static const struct cloud_ops aws_ops;

bool cloud_is_aws(const struct cloud *c)
{
	return c && c->ops == &aws_ops;
}

struct aws_client *cloud_aws_client(struct cloud *c)
{
	return cloud_is_aws(c) ? ((struct aws_cloud *)c)->client : NULL;
}

struct aws_creds_provider *cloud_aws_creds(struct cloud *c)
{
	return cloud_is_aws(c) ? ((struct aws_cloud *)c)->creds : NULL;
}

/* The region for a call about (cluster, service); NULL = the default.
 * A cluster ARN names its region. Otherwise the config's route for
 * (cluster, service); for a cluster alone, the routes' region only when
 * they all agree (the same name in two regions is two clusters). */
static const char *region_for(struct aws_cloud *a, const char *cluster, const char *service,
			      char *buf, size_t n)
{
	const char *found = NULL;

	if (aws__arn_region(cluster, buf, n))
		return buf;
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct route *r = &a->routes[i];
		if (strcmp(r->cluster, cluster) != 0)
			continue;
		if (service) {
			if (strcmp(r->service, service) == 0)
				return r->region;
		} else if (!found) {
			found = r->region;
		} else if (strcmp(found, r->region) != 0) {
			return NULL;
		}
	}
	return found;
}

static void err_from_rc(struct cloud_error *e, int rc, const char *msg)
{
	memset(e, 0, sizeof e[0]);
	e->code = rc;
	aws__copy(e->message, sizeof e->message, msg);
}

/* ---- describe ----------------------------------------------------------- */

struct op {
	struct aws_cloud *a;
	union {
		cloud_describe_cb describe;
		cloud_scale_cb scale;
		cloud_metrics_cb metrics;
		cloud_alarms_cb alarms;
		cloud_notify_cb notify;
		cloud_cluster_cb cluster;
		cloud_list_cb list;
		cloud_task_definitions_cb tdlist;
		cloud_task_definition_cb td;
	} cb;
	void *ud;
	char cluster[256], service[256], region[48];
	int minutes;
	double start, end;
	/* list_services */
	struct aws_ecs_list acc;
	int pages;
	/* task_definitions: the family asked for, the ARNs kept so far */
	char family[256];
	struct aws_ecs_taskdefs tacc;
};

static struct op *op_new_in(struct aws_cloud *a, void *ud, const char *region,
			    const char *cluster, const char *service)
{
	struct op *o = calloc(1, sizeof *o);
	char rb[48];

	if (!o)
		return NULL;
	o->a = a;
	o->ud = ud;
	aws__copy(o->cluster, sizeof o->cluster, cluster);
	aws__copy(o->service, sizeof o->service, service);
	const char *r = region ? region
		      : cluster ? region_for(a, cluster, service, rb, sizeof rb) : NULL;
	aws__copy(o->region, sizeof o->region, r);
	return o;
}

static struct op *op_new(struct aws_cloud *a, void *ud, const char *cluster, const char *service)
{
	return op_new_in(a, ud, NULL, cluster, service);
}

static const char *op_region(const struct op *o)
{
	return o->region[0] ? o->region : NULL;
}

/* ECS answers "not found" as a failure entry, not an error: make it one. */
static void missing(struct cloud_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void missing(struct cloud_error *e, const char *fmt, ...)
{
	va_list ap;

	memset(e, 0, sizeof *e);
	e->code = BOT_ENOTFOUND;
	aws__copy(e->aws_code, sizeof e->aws_code, "MISSING");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	e->attempts = 1;
}

static void on_describe(void *ud, const struct cloud_error *err, const struct aws_ecs_services *r)
{
	struct op *o = ud;
	struct cloud_error e;

	if (err) {
		o->cb.describe(o->ud, err, NULL);
	} else if (r->n == 0) {
		missing(&e, "service %.200s not found in cluster %.200s (%.60s)", o->service, o->cluster,
			r->n_failures && r->failures[0].reason ? r->failures[0].reason : "no such service");
		o->cb.describe(o->ud, &e, NULL);
	} else {
		o->cb.describe(o->ud, NULL, r->v[0]);
	}
	free(o);
}

/* region NULL: routed (region_for). */
static int describe_in(struct aws_cloud *a, const char *region, const char *cluster,
		       const char *service, cloud_describe_cb cb, void *ud)
{
	struct op *o;
	int rc;

	if (!cluster || !service || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new_in(a, ud, region, cluster, service);
	if (!o)
		return BOT_ENOMEM;
	o->cb.describe = cb;
	const char *names[1] = { service };
	rc = aws_ecs_describe_services(a->client, op_region(o), cluster, names, 1, on_describe, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static int aws_describe(struct cloud *c, const char *cluster, const char *service,
			cloud_describe_cb cb, void *ud)
{
	return describe_in((struct aws_cloud *)c, NULL, cluster, service, cb, ud);
}

/* ---- scale -------------------------------------------------------------- */

static void on_scale(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct op *o = ud;

	o->cb.scale(o->ud, err, err ? NULL : s);
	free(o);
}

static int aws_scale(struct cloud *c, const char *cluster, const char *service, int desired,
		     bool force_new_deployment, cloud_scale_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	int rc;

	if (!cluster || !service || !cb || desired < 0)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, cluster, service);
	if (!o)
		return BOT_ENOMEM;
	o->cb.scale = cb;
	log_info("aws.scale", "cluster=%s service=%s desired=%d force_new_deployment=%s",
		 LOG_Q(cluster), LOG_Q(service), desired, force_new_deployment ? "true" : "false");
	rc = aws_ecs_update_service(a->client, op_region(o), cluster, service, desired,
				    force_new_deployment, on_scale, o, NULL);
	if (rc)
		free(o);
	return rc;
}

/* ---- metrics ------------------------------------------------------------ */

static void fill_series(struct cloud_series *s, const struct aws_cw_result *r, const char *name,
			const char *stat, int period)
{
	s->name = name;
	s->stat = stat;
	s->period_s = period;
	s->values = r ? r->values : NULL;
	s->times = r ? r->times : NULL;
	s->n = r ? r->n : 0;
}

static void on_metrics(void *ud, const struct cloud_error *err, const struct aws_cw_results *r)
{
	struct op *o = ud;
	struct cloud_metrics m;
	int period = aws_cw_period_for(o->minutes);

	if (err) {
		o->cb.metrics(o->ud, err, NULL);
		free(o);
		return;
	}
	memset(&m, 0, sizeof m);
	m.start = o->start;
	m.end = o->end;
	fill_series(&m.cpu_avg, aws_cw_results_find(r, "cpu_avg"), "CPUUtilization", "Average", period);
	fill_series(&m.cpu_max, aws_cw_results_find(r, "cpu_max"), "CPUUtilization", "Maximum", period);
	fill_series(&m.mem_avg, aws_cw_results_find(r, "mem_avg"), "MemoryUtilization", "Average", period);
	fill_series(&m.mem_max, aws_cw_results_find(r, "mem_max"), "MemoryUtilization", "Maximum", period);
	o->cb.metrics(o->ud, NULL, &m);
	free(o);
}

static int aws_metrics(struct cloud *c, const char *cluster, const char *service, int minutes,
		       cloud_metrics_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct aws_cw_dim dims[2];
	struct aws_cw_query q[4];
	struct op *o;
	int rc;

	if (!cluster || !service || !cb || minutes <= 0 || minutes > 60 * 24 * 15)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, cluster, service);
	if (!o)
		return BOT_ENOMEM;
	o->cb.metrics = cb;
	o->minutes = minutes;
	/* Whole minutes, and the current (incomplete) minute included. */
	o->end = (double)((time(NULL) / 60 + 1) * 60);
	o->start = o->end - (double)minutes * 60;
	aws_cw_ecs_service_queries(aws__cluster_name(cluster), service, aws_cw_period_for(minutes),
				   dims, q);
	rc = aws_cw_get_metric_data(a->client, op_region(o), q, 4, o->start, o->end, on_metrics, o);
	if (rc)
		free(o);
	return rc;
}

/* ---- alarms ------------------------------------------------------------- */

static void on_alarms(void *ud, const struct cloud_error *err, const struct aws_cw_alarms *r)
{
	struct op *o = ud;
	struct cloud_alarm *v = NULL;
	size_t n = 0;

	if (err) {
		o->cb.alarms(o->ud, err, NULL, 0);
		free(o);
		return;
	}
	if (r->n && !(v = calloc(r->n, sizeof *v))) {
		struct cloud_error e;
		err_from_rc(&e, BOT_ENOMEM, "out of memory");
		o->cb.alarms(o->ud, &e, NULL, 0);
		free(o);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct aws_cw_alarm *x = &r->v[i];
		if (!x->state || strcmp(x->state, "ALARM") != 0 ||
		    !aws_cw_alarm_names_service(x, aws__cluster_name(o->cluster), o->service))
			continue;
		v[n++] = (struct cloud_alarm){
			.name = x->name, .state = x->state, .reason = x->reason, .metric = x->metric,
			.threshold = x->threshold, .updated_at = x->updated_at,
		};
	}
	o->cb.alarms(o->ud, NULL, v, n);
	free(v);
	free(o);
}

static int aws_alarms(struct cloud *c, const char *cluster, const char *service,
		      cloud_alarms_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	int rc;

	if (!cluster || !service || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, cluster, service);
	if (!o)
		return BOT_ENOMEM;
	o->cb.alarms = cb;
	rc = aws_cw_describe_alarms(a->client, op_region(o),
				    &(struct aws_cw_alarms_filter){ .state = "ALARM" }, on_alarms, o);
	if (rc)
		free(o);
	return rc;
}

/* ---- notify ------------------------------------------------------------- */

static void on_notify(void *ud, const struct cloud_error *err, const char *id)
{
	struct op *o = ud;

	o->cb.notify(o->ud, err, err ? NULL : id);
	free(o);
}

static int aws_notify(struct cloud *c, const char *topic_arn, const char *subject,
		      const char *message, cloud_notify_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	char rb[48];
	struct op *o;
	int rc;

	if (!topic_arn || !message || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, NULL, NULL);
	if (!o)
		return BOT_ENOMEM;
	o->cb.notify = cb;
	rc = aws_sns_publish(a->client, aws__arn_region(topic_arn, rb, sizeof rb) ? rb : NULL,
			     &(struct aws_sns_publish){ .topic_arn = topic_arn, .subject = subject,
							.message = message }, on_notify, o, NULL);
	if (rc)
		free(o);
	return rc;
}

/* ---- clusters and service lists ----------------------------------------- */

static void on_cluster(void *ud, const struct cloud_error *err, const struct aws_ecs_clusters *r)
{
	struct op *o = ud;
	struct cloud_error e;

	if (err) {
		o->cb.cluster(o->ud, err, NULL);
	} else if (r->n == 0) {
		missing(&e, "cluster %.200s not found (%.60s)", o->cluster,
			r->n_failures && r->failures[0].reason ? r->failures[0].reason : "no such cluster");
		o->cb.cluster(o->ud, &e, NULL);
	} else {
		o->cb.cluster(o->ud, NULL, &r->v[0]);
	}
	free(o);
}

static int describe_cluster_in(struct aws_cloud *a, const char *region, const char *cluster,
			       cloud_cluster_cb cb, void *ud)
{
	struct op *o;
	int rc;

	if (!cluster || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new_in(a, ud, region, cluster, NULL);
	if (!o)
		return BOT_ENOMEM;
	o->cb.cluster = cb;
	const char *names[1] = { cluster };
	rc = aws_ecs_describe_clusters(a->client, op_region(o), names, 1, on_cluster, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static int aws_describe_cluster(struct cloud *c, const char *cluster, cloud_cluster_cb cb, void *ud)
{
	return describe_cluster_in((struct aws_cloud *)c, NULL, cluster, cb, ud);
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void on_list(void *ud, const struct cloud_error *err, const struct aws_ecs_list *page)
{
	struct op *o = ud;
	struct cloud_error e;
	int rc;

	if (err) {
		o->cb.list(o->ud, err, NULL, 0);
		goto done;
	}
	if (page->n) {
		char **nv = realloc(o->acc.names, (o->acc.n + page->n) * sizeof *nv);
		if (!nv) {
			err_from_rc(&e, BOT_ENOMEM, "out of memory");
			o->cb.list(o->ud, &e, NULL, 0);
			goto done;
		}
		o->acc.names = nv;
		for (size_t i = 0; i < page->n; i++) {
			o->acc.names[o->acc.n] = strdup(page->names[i]);
			if (o->acc.names[o->acc.n])
				o->acc.n++;
		}
	}
	if (page->next_token && ++o->pages < MAX_LIST_PAGES) {
		rc = aws_ecs_list_services(o->a->client, op_region(o), o->cluster, page->next_token, 100,
					   on_list, o, NULL);
		if (rc == BOT_EOK)
			return;
		err_from_rc(&e, rc, "cannot request the next ListServices page");
		o->cb.list(o->ud, &e, NULL, 0);
		goto done;
	}
	if (o->acc.n)
		qsort(o->acc.names, o->acc.n, sizeof *o->acc.names, name_cmp);
	o->cb.list(o->ud, NULL, (const char *const *)o->acc.names, o->acc.n);
done:
	aws_ecs_list_clear(&o->acc);
	free(o);
}

static int aws_list_services(struct cloud *c, const char *cluster, cloud_list_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	int rc;

	if (!cluster || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, cluster, NULL);
	if (!o)
		return BOT_ENOMEM;
	o->cb.list = cb;
	rc = aws_ecs_list_services(a->client, op_region(o), cluster, NULL, 100, on_list, o, NULL);
	if (rc)
		free(o);
	return rc;
}

/* ---- task definitions and deploy (issue 17) ------------------------------ */

/* Is arn ("arn:...:task-definition/<family>:<revision>") a revision of
 * exactly family? familyPrefix also matches "<family>-other". */
static bool arn_of_family(const char *arn, const char *family)
{
	const char *tail = aws__arn_tail(arn);
	size_t n = strlen(family);

	return tail && strncmp(tail, family, n) == 0 && tail[n] == ':';
}

/* The revision of a task definition ARN or "family:revision" (0 if none). */
static long arn_revision(const char *arn)
{
	const char *colon = strrchr(arn, ':');
	char *end;
	long r = colon ? strtol(colon + 1, &end, 10) : 0;

	return colon && *end == '\0' && r > 0 ? r : 0;
}

static int revision_desc(const void *x, const void *y)
{
	long a = arn_revision(*(const char *const *)x), b = arn_revision(*(const char *const *)y);
	return a < b ? 1 : a > b ? -1 : 0;
}

static void on_task_definitions(void *ud, const struct cloud_error *err,
				const struct aws_ecs_taskdefs *page)
{
	struct op *o = ud;
	struct cloud_error e;
	int rc;

	if (err) {
		o->cb.tdlist(o->ud, err, NULL, 0);
		goto done;
	}
	bool oom = false;
	for (size_t i = 0; i < page->n && o->tacc.n < CLOUD_MAX_TASK_DEFINITIONS && !oom; i++) {
		if (!arn_of_family(page->arns[i], o->family))
			continue;
		if (!o->tacc.arns)
			o->tacc.arns = calloc(CLOUD_MAX_TASK_DEFINITIONS, sizeof *o->tacc.arns);
		if (o->tacc.arns)
			o->tacc.arns[o->tacc.n] = strdup(page->arns[i]);
		if (!o->tacc.arns || !o->tacc.arns[o->tacc.n])
			oom = true;
		else
			o->tacc.n++;
	}
	if (oom) {
		err_from_rc(&e, BOT_ENOMEM, "out of memory");
		o->cb.tdlist(o->ud, &e, NULL, 0);
		goto done;
	}
	/* Newest first across pages too (sort DESC), so a full list or the
	 * last page ends it; MAX_LIST_PAGES bounds the calls. */
	if (page->next_token && o->tacc.n < CLOUD_MAX_TASK_DEFINITIONS &&
	    ++o->pages < MAX_LIST_PAGES) {
		rc = aws_ecs_list_task_definitions(o->a->client, op_region(o), o->family,
						   page->next_token, 100, on_task_definitions, o,
						   NULL);
		if (rc == BOT_EOK)
			return;
		err_from_rc(&e, rc, "cannot request the next ListTaskDefinitions page");
		o->cb.tdlist(o->ud, &e, NULL, 0);
		goto done;
	}
	/* Newest first by revision number, whatever order came: moto 5.2.1
	 * ignores sort DESC and lists oldest first. */
	if (o->tacc.n)
		qsort(o->tacc.arns, o->tacc.n, sizeof *o->tacc.arns, revision_desc);
	o->cb.tdlist(o->ud, NULL, (const char *const *)o->tacc.arns, o->tacc.n);
done:
	aws_ecs_taskdefs_clear(&o->tacc);
	free(o);
}

static int aws_task_definitions(struct cloud *c, const char *family,
				cloud_task_definitions_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	int rc;

	if (!family || !*family || strlen(family) >= sizeof o->family || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	/* A family is regional but belongs to no cluster: the default region. */
	o = op_new_in(a, ud, NULL, NULL, NULL);
	if (!o)
		return BOT_ENOMEM;
	o->cb.tdlist = cb;
	aws__copy(o->family, sizeof o->family, family);
	rc = aws_ecs_list_task_definitions(a->client, op_region(o), family, NULL, 100,
					   on_task_definitions, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static void on_task_definition(void *ud, const struct cloud_error *err,
			       const struct cloud_task_definition *td)
{
	struct op *o = ud;

	o->cb.td(o->ud, err, err ? NULL : td);
	free(o);
}

static int aws_describe_task_definition(struct cloud *c, const char *task_definition,
					cloud_task_definition_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	char rb[48];
	int rc;

	if (!task_definition || !*task_definition || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	/* An ARN names its region; a family:revision is the default's. */
	o = op_new_in(a, ud, aws__arn_region(task_definition, rb, sizeof rb) ? rb : NULL, NULL,
		      NULL);
	if (!o)
		return BOT_ENOMEM;
	o->cb.td = cb;
	rc = aws_ecs_describe_task_definition(a->client, op_region(o), task_definition,
					      on_task_definition, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static int aws_deploy(struct cloud *c, const char *cluster, const char *service,
		      const char *task_definition, bool force_new_deployment, cloud_scale_cb cb,
		      void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct op *o;
	int rc;

	if (!cluster || !service || !task_definition || !*task_definition || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = op_new(a, ud, cluster, service);
	if (!o)
		return BOT_ENOMEM;
	o->cb.scale = cb;
	log_info("aws.deploy", "cluster=%s service=%s task_definition=%s force_new_deployment=%s",
		 LOG_Q(cluster), LOG_Q(service), LOG_Q(task_definition),
		 force_new_deployment ? "true" : "false");
	rc = aws_ecs_deploy(a->client, op_region(o), cluster, service, task_definition,
			    force_new_deployment, on_scale, o, NULL);
	if (rc)
		free(o);
	return rc;
}

/* ---- alarm intake: SQS queue and alarm states ---------------------------- */

struct qop {
	struct aws_cloud *a;
	union {
		cloud_queue_cb queue;
		cloud_done_cb done;
	} cb;
	void *ud;
	const char *what; /* "DeleteMessage" | "ChangeMessageVisibility" */
};

static struct qop *qop_new(struct aws_cloud *a, void *ud, const char *what)
{
	struct qop *o = calloc(1, sizeof *o);

	if (o) {
		o->a = a;
		o->ud = ud;
		o->what = what;
	}
	return o;
}

/* Each body through the alarm parser: alarm or error per message. */
static void on_queue(void *ud, const struct cloud_error *err, const struct aws_sqs_msgs *r)
{
	struct qop *o = ud;
	struct cloud_queue_msg *v = NULL;
	struct aws_alarm_msg **parsed = NULL;
	struct bot_error *why = NULL;
	struct cloud_error e;
	size_t n = r ? r->n : 0;

	if (err) {
		o->cb.queue(o->ud, err, NULL, 0);
		goto out;
	}
	if (n) {
		v = calloc(n, sizeof *v);
		parsed = calloc(n, sizeof *parsed);
		why = calloc(n, sizeof *why);
		if (!v || !parsed || !why) {
			err_from_rc(&e, BOT_ENOMEM, "out of memory");
			o->cb.queue(o->ud, &e, NULL, 0);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct aws_sqs_msg *m = &r->v[i];
		v[i].id = m->id;
		v[i].receipt = m->receipt;
		v[i].receive_count = m->receive_count;
		if (aws_alarm_msg_parse(m->body, m->body_len, &parsed[i], &why[i]) == BOT_EOK) {
			v[i].alarm = aws_alarm_msg_change(parsed[i]);
		} else {
			v[i].error = why[i].msg;
			log_debug("aws.sqs", "op=ReceiveMessage message_id=%s receive_count=%d "
				 "result=unreadable reason=%s", LOG_Q(m->id), m->receive_count,
				 LOG_Q(why[i].msg));
		}
	}
	o->cb.queue(o->ud, NULL, v, n);
out:
	for (size_t i = 0; parsed && i < n; i++)
		aws_alarm_msg_free(parsed[i]);
	free(parsed);
	free(why);
	free(v);
	free(o);
}

static int aws_queue_receive(struct cloud *c, const char *queue_url, int wait_s, int max,
			     int visibility_s, cloud_queue_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct qop *o;
	int rc;

	if (!queue_url || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = qop_new(a, ud, "ReceiveMessage");
	if (!o)
		return BOT_ENOMEM;
	o->cb.queue = cb;
	rc = aws_sqs_receive(a->client, queue_url, max, wait_s, visibility_s, on_queue, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static void on_queue_done(void *ud, const struct cloud_error *err)
{
	struct qop *o = ud;

	o->cb.done(o->ud, err);
	free(o);
}

static int aws_queue_delete(struct cloud *c, const char *queue_url, const char *receipt,
			    cloud_done_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct qop *o;
	int rc;

	if (!queue_url || !receipt || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = qop_new(a, ud, "DeleteMessage");
	if (!o)
		return BOT_ENOMEM;
	o->cb.done = cb;
	rc = aws_sqs_delete(a->client, queue_url, receipt, on_queue_done, o, NULL);
	if (rc)
		free(o);
	return rc;
}

static int aws_queue_defer(struct cloud *c, const char *queue_url, const char *receipt,
			   int visibility_s, cloud_done_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct qop *o;
	int rc;

	if (!queue_url || !receipt || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	o = qop_new(a, ud, "ChangeMessageVisibility");
	if (!o)
		return BOT_ENOMEM;
	o->cb.done = cb;
	rc = aws_sqs_change_visibility(a->client, queue_url, receipt, visibility_s, on_queue_done,
				       o, NULL);
	if (rc)
		free(o);
	return rc;
}

/* alarm_states: DescribeAlarms once per chunk of 100 names and once per
 * prefix (the API takes one), one after the other, in the default region
 * and then in every other region a configured service is in (a listed
 * alarm is its service's, which may be elsewhere); an alarm found twice
 * (by name and by prefix) is kept once. */
#define STATES_MAX_NAMES 1000
#define STATES_MAX_PREFIXES 50
#define STATES_MAX_ALARMS 1000

struct states {
	struct aws_cloud *a;
	cloud_alarm_states_cb cb;
	void *ud;
	char **names, **prefixes;
	size_t n_names, n_prefixes, next_name, next_prefix;
	char (*regions)[48];     /* default first */
	size_t n_regions, region; /* the one being asked */
	size_t *region_of;       /* per alarm in acc: its index in regions */
	struct aws_cw_alarms acc;
};

static void states_free(struct states *s)
{
	for (size_t i = 0; s->names && i < s->n_names; i++)
		free(s->names[i]);
	for (size_t i = 0; s->prefixes && i < s->n_prefixes; i++)
		free(s->prefixes[i]);
	free(s->names);
	free(s->prefixes);
	free(s->regions);
	free(s->region_of);
	aws_cw_alarms_clear(&s->acc);
	free(s);
}

static bool states_have(const struct states *s, const struct aws_cw_alarm *x)
{
	for (size_t i = 0; i < s->acc.n; i++)
		if (strcmp(s->acc.v[i].arn, x->arn) == 0)
			return true;
	return false;
}

static int64_t ms_of(double t)
{
	return t > 0 ? (int64_t)llround(t * 1000.0) : 0;
}

/* Every alarm found, as changes ("describe"); storage lives for the call. */
static void states_deliver(struct states *s)
{
	struct dim_store { char region[64], account[16]; } *ra = NULL;
	struct cloud_alarm_change *v = NULL;
	struct cloud_alarm_dim *dims = NULL;
	size_t n = s->acc.n, nd = 0, used = 0;
	struct cloud_error e;

	for (size_t i = 0; i < n; i++)
		nd += s->acc.v[i].n_dims;
	if (n && (!(v = calloc(n, sizeof *v)) || !(ra = calloc(n, sizeof *ra)) ||
		  (nd && !(dims = calloc(nd, sizeof *dims))))) {
		err_from_rc(&e, BOT_ENOMEM, "out of memory");
		s->cb(s->ud, &e, NULL, 0);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct aws_cw_alarm *x = &s->acc.v[i];
		struct cloud_alarm_change *c = &v[i];
		c->format = "describe";
		c->arn = x->arn;
		c->name = x->name;
		c->description = x->description;
		if (aws_alarm_msg_arn(x->arn, ra[i].region, sizeof ra[i].region, ra[i].account,
				      sizeof ra[i].account, NULL)) {
			c->region = ra[i].region;
			c->account = ra[i].account;
		} else {
			/* not told: the region asked */
			c->region = s->regions[s->region_of[i]];
		}
		c->state = x->state;
		c->reason = x->reason ? x->reason : "";
		/* StateTransitionedTimestamp is when the state last changed;
		 * StateUpdatedTimestamp also moves on a reason update (moto
		 * sends only this one). */
		c->changed_at_ms = ms_of(x->transitioned_at > 0 ? x->transitioned_at : x->updated_at);
		c->namespace_ = x->ns;
		c->metric = x->metric;
		c->statistic = x->statistic;
		c->comparison = x->comparison;
		c->metric_math = x->metric_math;
		c->has_threshold = x->has_threshold;
		c->threshold = x->threshold;
		c->period_s = x->period_s;
		c->evaluation_periods = x->evaluation_periods;
		c->dims = dims ? dims + used : NULL;
		for (size_t d = 0; d < x->n_dims; d++) {
			if (!x->dims[d].name || !x->dims[d].value)
				continue;
			dims[used].name = x->dims[d].name;
			dims[used].value = x->dims[d].value;
			used++;
			c->n_dims++;
		}
		if (!c->n_dims)
			c->dims = NULL;
	}
	log_debug("aws.alarm_states", "names=%zu prefixes=%zu alarms=%zu", s->n_names,
		  s->n_prefixes, n);
	s->cb(s->ud, NULL, v, n);
out:
	free(dims);
	free(ra);
	free(v);
	states_free(s);
}

static void on_states(void *ud, const struct cloud_error *err, const struct aws_cw_alarms *r);

/* The next DescribeAlarms, or the answer when none is left. */
static int states_step(struct states *s)
{
	struct aws_cw_alarms_filter f = {0};

	if (s->next_name < s->n_names) {
		f.names = (const char *const *)s->names + s->next_name;
		f.n_names = s->n_names - s->next_name > 100 ? 100 : s->n_names - s->next_name;
		s->next_name += f.n_names;
	} else if (s->next_prefix < s->n_prefixes) {
		f.prefix = s->prefixes[s->next_prefix++];
	} else if (s->region + 1 < s->n_regions) {
		s->region++;
		s->next_name = s->next_prefix = 0;
		return states_step(s);
	} else {
		states_deliver(s);
		return BOT_EOK;
	}
	return aws_cw_describe_alarms(s->a->client, s->regions[s->region], &f, on_states, s);
}

static void on_states(void *ud, const struct cloud_error *err, const struct aws_cw_alarms *r)
{
	struct states *s = ud;
	struct cloud_error e;
	int rc;

	if (err) {
		s->cb(s->ud, err, NULL, 0);
		states_free(s);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct aws_cw_alarm *x = &r->v[i];
		if (!x->name || !x->arn || !x->state || states_have(s, x))
			continue;
		if (s->acc.n >= STATES_MAX_ALARMS) {
			err_from_rc(&e, BOT_ETOOBIG, "");
			snprintf(e.message, sizeof e.message, "more than %d alarms match the "
				 "names and prefixes", STATES_MAX_ALARMS);
			s->cb(s->ud, &e, NULL, 0);
			states_free(s);
			return;
		}
		struct aws_cw_alarm *nv = realloc(s->acc.v, (s->acc.n + 1) * sizeof *nv);
		size_t *ro = nv ? realloc(s->region_of, (s->acc.n + 1) * sizeof *ro) : NULL;
		if (nv)
			s->acc.v = nv;
		if (ro)
			s->region_of = ro;
		if (!nv || !ro) {
			err_from_rc(&e, BOT_ENOMEM, "out of memory");
			s->cb(s->ud, &e, NULL, 0);
			states_free(s);
			return;
		}
		s->region_of[s->acc.n] = s->region;
		/* Take x's strings rather than copy them: the page is cw.c's
		 * own (not const there), cleared right after this callback,
		 * and clearing a zeroed entry frees nothing. */
		s->acc.v[s->acc.n++] = *x;
		memset((void *)x, 0, sizeof *x);
	}
	rc = states_step(s);
	if (rc) {
		err_from_rc(&e, rc, "cannot request the next DescribeAlarms");
		s->cb(s->ud, &e, NULL, 0);
		states_free(s);
	}
}

static char **dup_list(const char *const *v, size_t n, bool *oom)
{
	char **d = n ? calloc(n, sizeof *d) : NULL;

	if (n && !d)
		*oom = true;
	for (size_t i = 0; d && i < n; i++)
		d[i] = aws__dup(v[i], oom);
	return d;
}

static int aws_alarm_states(struct cloud *c, const char *const *names, size_t n_names,
			    const char *const *prefixes, size_t n_prefixes,
			    cloud_alarm_states_cb cb, void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct states *s;
	bool oom = false;
	int rc;

	if (!cb || (!n_names && !n_prefixes) || (n_names && !names) || (n_prefixes && !prefixes) ||
	    n_names > STATES_MAX_NAMES || n_prefixes > STATES_MAX_PREFIXES)
		return BOT_EINVAL;
	for (size_t i = 0; i < n_names; i++)
		if (!names[i] || !*names[i])
			return BOT_EINVAL;
	for (size_t i = 0; i < n_prefixes; i++)
		if (!prefixes[i] || !*prefixes[i])
			return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	s = calloc(1, sizeof *s);
	if (!s)
		return BOT_ENOMEM;
	s->a = a;
	s->cb = cb;
	s->ud = ud;
	s->names = dup_list(names, n_names, &oom);
	s->n_names = s->names ? n_names : 0;
	s->prefixes = dup_list(prefixes, n_prefixes, &oom);
	s->n_prefixes = s->prefixes ? n_prefixes : 0;
	s->regions = calloc(a->n_routes + 1, sizeof *s->regions);
	if (!s->regions)
		oom = true;
	for (size_t i = 0; s->regions && i <= a->n_routes; i++) {
		const char *r = i == 0 ? aws_client_region(a->client) : a->routes[i - 1].region;
		bool seen = false;
		for (size_t k = 0; k < s->n_regions && !seen; k++)
			seen = strcmp(s->regions[k], r) == 0;
		if (!seen)
			aws__copy(s->regions[s->n_regions++], sizeof s->regions[0], r);
	}
	if (oom) {
		states_free(s);
		return BOT_ENOMEM;
	}
	/* The first step is always a call: the answer never comes from here. */
	rc = states_step(s);
	if (rc)
		states_free(s);
	return rc;
}

/* ---- --check-config ----------------------------------------------------- */

struct check {
	struct aws_cloud *a;
	cloud_aws_check_cb cb;
	void *ud;
	struct cloud_aws_check_item *items;
	char **strs;
	size_t n, next, n_strs;
	char *identity;
	struct cloud_error identity_err;
};

static void check_free(struct check *k)
{
	for (size_t i = 0; i < k->n_strs; i++)
		free(k->strs[i]);
	free(k->strs);
	free(k->items);
	free(k->identity);
	free(k);
}

static void check_next(struct check *k);

static void check_done(struct check *k)
{
	struct cloud_aws_check r = {
		.identity = k->identity,
		.identity_err = k->identity_err,
		.creds_source = aws_creds_source(k->a->creds),
		.items = k->items,
		.n = k->n,
	};
	for (size_t i = 0; i < k->n; i++)
		if (k->items[i].code)
			r.failed++;
	log_info("aws.check", "services=%zu failed=%zu identity=%s", r.n, r.failed,
		 LOG_Q(r.identity));
	k->cb(k->ud, &r);
	check_free(k);
}

static void item_fail(struct cloud_aws_check_item *it, const struct cloud_error *e)
{
	it->err = *e;
	it->code = e->code ? e->code : BOT_EREMOTE;
	snprintf(it->detail, sizeof it->detail, "%.63s%s%.250s", e->aws_code[0] ? e->aws_code : bot_err_name(e->code),
		 e->message[0] ? ": " : "", e->message);
}

static void on_check_service(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct check *k = ud;
	struct cloud_aws_check_item *it = &k->items[k->next];

	if (err) {
		item_fail(it, err);
	} else if (!s->status || strcmp(s->status, "ACTIVE") != 0) {
		it->code = BOT_ENOTFOUND;
		snprintf(it->detail, sizeof it->detail, "service is %.40s, not ACTIVE",
			 s->status ? s->status : "in an unknown state");
	} else {
		snprintf(it->detail, sizeof it->detail, "ACTIVE, desired %d, running %d, pending %d",
			 s->desired, s->running, s->pending);
	}
	k->next++;
	check_next(k);
}

static void on_check_cluster(void *ud, const struct cloud_error *err, const struct cloud_cluster *cl)
{
	struct check *k = ud;
	struct cloud_aws_check_item *it = &k->items[k->next];
	int rc;

	if (err) {
		item_fail(it, err);
	} else if (!cl->status || strcmp(cl->status, "ACTIVE") != 0) {
		it->code = BOT_ENOTFOUND;
		snprintf(it->detail, sizeof it->detail, "cluster %.200s is %.40s, not ACTIVE", it->cluster,
			 cl->status ? cl->status : "in an unknown state");
	} else {
		rc = describe_in(k->a, it->region, it->cluster, it->ecs_service, on_check_service, k);
		if (rc == BOT_EOK)
			return;
		struct cloud_error e;
		err_from_rc(&e, rc, "cannot call DescribeServices");
		item_fail(it, &e);
	}
	k->next++;
	check_next(k);
}

/* One service at a time: callbacks always come from the loop, so this
 * never recurses deeper than one step per item. */
static void check_next(struct check *k)
{
	while (k->next < k->n) {
		struct cloud_aws_check_item *it = &k->items[k->next];
		int rc = describe_cluster_in(k->a, it->region, it->cluster, on_check_cluster, k);
		if (rc == BOT_EOK)
			return;
		struct cloud_error e;
		err_from_rc(&e, rc, "cannot call DescribeClusters");
		item_fail(it, &e);
		k->next++;
	}
	check_done(k);
}

static void on_identity(void *ud, const struct cloud_error *err, const struct aws_sts_identity *id)
{
	struct check *k = ud;

	if (err)
		k->identity_err = *err;
	else
		k->identity = id->arn ? strdup(id->arn) : NULL;
	check_next(k);
}

int cloud_aws_check_config(struct cloud *c, const struct config *cfg, cloud_aws_check_cb cb,
			   void *ud)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct check *k;
	bool oom = false;
	int rc;

	if (!cloud_is_aws(c) || !cfg || !cb)
		return BOT_EINVAL;
	if (a->dying)
		return BOT_ESTATE;
	k = calloc(1, sizeof *k);
	if (!k)
		return BOT_ENOMEM;
	k->a = a;
	k->cb = cb;
	k->ud = ud;
	k->n = cfg->n_services;
	k->items = calloc(k->n ? k->n : 1, sizeof *k->items);
	k->strs = calloc(4 * k->n + 1, sizeof *k->strs);
	if (!k->items || !k->strs) {
		check_free(k);
		return BOT_ENOMEM;
	}
#define KEEP(s) (k->strs[k->n_strs] = aws__dup((s), &oom), k->strs[k->n_strs] ? k->strs[k->n_strs++] : NULL)
	for (size_t i = 0; i < k->n; i++) {
		const struct config_service *s = &cfg->services[i];
		struct cloud_aws_check_item *it = &k->items[i];
		it->service = KEEP(s->name);
		it->cluster = KEEP(s->cluster);
		it->ecs_service = KEEP(s->ecs_service ? s->ecs_service : s->name);
		it->region = KEEP(s->region ? s->region : aws_client_region(a->client));
	}
#undef KEEP
	if (oom) {
		check_free(k);
		return BOT_ENOMEM;
	}
	rc = aws_sts_get_caller_identity(a->client, NULL, on_identity, k, NULL);
	if (rc)
		check_free(k);
	return rc;
}

/* ---- lifetime ----------------------------------------------------------- */

static void aws_destroy(struct cloud *c)
{
	struct aws_cloud *a = (struct aws_cloud *)c;

	if (!a || a->dying)
		return;
	a->dying = true;
	/* Callers hear BOT_ECANCELLED first; then the credential fetches
	 * stop, then the client and HTTP go. */
	aws_client_cancel_all(a->client);
	for (size_t i = 0; i < a->n_extra; i++)
		aws_client_cancel_all(a->extra[i]);
	aws_creds_destroy(a->creds);
	for (size_t i = 0; i < a->n_extra; i++)
		aws_client_destroy(a->extra[i]);
	free(a->extra);
	free(a->config_url);
	aws_client_destroy(a->client);
	if (a->own_http)
		http_destroy(a->http);
	for (size_t i = 0; i < a->n_routes; i++) {
		free(a->routes[i].cluster);
		free(a->routes[i].service);
		free(a->routes[i].region);
	}
	free(a->routes);
	aws_budget_destroy(a->budget);
	free(a);
}

/* The APIs a service read calls (service_read.h), by budget name. */
static const char *const read_apis[] = {
	"ecs.DescribeServices", "monitoring.GetMetricData", "monitoring.DescribeAlarms",
};

static int aws_admit(struct cloud *c, enum cloud_ask what, uint64_t *retry_ms)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	uint64_t wait = 0;
	int rc;

	(void)what; /* one kind of ask so far */
	rc = aws_budget_check(a->budget, read_apis, BOT_ARRAY_LEN(read_apis),
			      uv_now(bot_loop_uv(a->loop)), &wait);
	if (rc) {
		log_info("aws.budget", "ask=service_read result=busy retry_ms=%llu",
			 (unsigned long long)wait);
		if (retry_ms)
			*retry_ms = wait;
	}
	return rc;
}

static size_t aws_metrics_text(struct cloud *c, char *buf, size_t n)
{
	struct aws_cloud *a = (struct aws_cloud *)c;
	struct aws_budget_stats st;
	struct aws_client_stats cs;
	size_t o = 0;
	int w;

	if (!n)
		return 0;
	buf[0] = '\0';
	aws_budget_stats(a->budget, uv_now(bot_loop_uv(a->loop)), &st);
	aws_client_stats(a->client, &cs);
#define PUT(...)                                                        \
	do {                                                            \
		w = snprintf(buf + o, o < n ? n - o : 0, __VA_ARGS__);  \
		if (w > 0)                                              \
			o += (size_t)w;                                 \
	} while (0)
	PUT("# HELP chatops_aws_in_flight AWS requests (ECS, CloudWatch, SNS) in flight, and "
	    "the cap.\n# TYPE chatops_aws_in_flight gauge\nchatops_aws_in_flight %u\n"
	    "chatops_aws_in_flight_max %u\n", st.in_flight, st.in_flight_max);
	PUT("# HELP chatops_aws_in_flight_peak Most AWS requests in flight at once since start.\n"
	    "# TYPE chatops_aws_in_flight_peak gauge\nchatops_aws_in_flight_peak %u\n",
	    st.peak_in_flight);
	PUT("# HELP chatops_aws_waiting AWS requests waiting for room in flight.\n"
	    "# TYPE chatops_aws_waiting gauge\nchatops_aws_waiting %u\n", st.waiting);
	PUT("# HELP chatops_aws_budget_tokens Tokens left per API (refilled at %u/s, up to %u).\n"
	    "# TYPE chatops_aws_budget_tokens gauge\n", st.per_second, st.burst);
	for (size_t i = 0; i < st.n_apis; i++)
		PUT("chatops_aws_budget_tokens{api=\"%s\"} %.2f\n", st.apis[i].name,
		    st.apis[i].tokens);
	PUT("# HELP chatops_aws_requests_total AWS attempts sent per API (retries included).\n"
	    "# TYPE chatops_aws_requests_total counter\n");
	for (size_t i = 0; i < st.n_apis; i++)
		PUT("chatops_aws_requests_total{api=\"%s\"} %llu\n", st.apis[i].name,
		    (unsigned long long)st.apis[i].spent);
	PUT("# HELP chatops_aws_budget_refused_total Asks refused as busy (budget spent).\n"
	    "# TYPE chatops_aws_budget_refused_total counter\nchatops_aws_budget_refused_total "
	    "%llu\n", (unsigned long long)st.refused);
	PUT("# HELP chatops_aws_budget_delayed_total Attempts that waited for a token.\n"
	    "# TYPE chatops_aws_budget_delayed_total counter\nchatops_aws_budget_delayed_total "
	    "%llu\n", (unsigned long long)st.delayed);
	PUT("# HELP chatops_aws_retries_total AWS attempts after a retryable failure.\n"
	    "# TYPE chatops_aws_retries_total counter\nchatops_aws_retries_total %u\n",
	    cs.retries);
#undef PUT
	return o < n ? o : n - 1;
}

static const struct cloud_ops aws_ops = {
	.name = "aws",
	.describe = aws_describe,
	.scale = aws_scale,
	.metrics = aws_metrics,
	.alarms = aws_alarms,
	.notify = aws_notify,
	.destroy = aws_destroy,
	.describe_cluster = aws_describe_cluster,
	.list_services = aws_list_services,
	.admit = aws_admit,
	.metrics_text = aws_metrics_text,
	.queue_receive = aws_queue_receive,
	.queue_delete = aws_queue_delete,
	.queue_defer = aws_queue_defer,
	.alarm_states = aws_alarm_states,
	.task_definitions = aws_task_definitions,
	.describe_task_definition = aws_describe_task_definition,
	.deploy = aws_deploy,
};

static const char *pick(const char *a, const char *b)
{
	return a && *a ? a : b && *b ? b : NULL;
}

const char *cloud_aws_region(const struct config *cfg)
{
	const char *region = pick(cfg ? cfg->aws.region : NULL, getenv("AWS_REGION"));

	if (!region)
		region = pick(getenv("AWS_DEFAULT_REGION"), "us-east-1");
	return region;
}

int cloud_aws_create(struct bot_loop *loop, const struct cloud_aws_opts *o, struct cloud **out,
		     struct bot_error *err)
{
	static const struct cloud_aws_opts none = {0};
	const struct config *cfg;
	struct aws_cloud *a;
	struct aws_retry_policy retry = aws_retry_standard;
	const char *region;
	char ep[512];
	bool oom = false;
	int rc;

	*out = NULL;
	if (!o)
		o = &none;
	cfg = o->config;
	a = calloc(1, sizeof *a);
	if (!a)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	a->cloud.ops = &aws_ops;
	a->loop = loop;
	region = pick(o->region, cloud_aws_region(cfg));
	if (o->retry) {
		retry = *o->retry;
	} else if (getenv("AWS_MAX_ATTEMPTS")) {
		int n = atoi(getenv("AWS_MAX_ATTEMPTS"));
		if (n >= 1 && n <= 20)
			retry.max_attempts = n;
	}

	a->retry = retry;
	a->timeout_ms = o->timeout_ms;
	a->config_url = aws__dup(pick(o->endpoint_url, cfg ? cfg->aws.endpoint_url : NULL), &oom);
	if (oom) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto fail;
	}
	if (o->http) {
		a->http = o->http;
	} else {
		rc = http_create(loop, &(struct http_opts){ .ca_file = o->ca_file }, &a->http, err);
		if (rc)
			goto fail;
		a->own_http = true;
	}
	struct aws_budget_opts bo = {0};
	if (cfg)
		bo = (struct aws_budget_opts){
			.in_flight = (unsigned)cfg->limits.aws_in_flight,
			.in_flight_per_service = (unsigned)cfg->limits.aws_in_flight_per_service,
			.per_second = (unsigned)cfg->limits.aws_calls_per_second,
			.burst = (unsigned)cfg->limits.aws_burst,
		};
	if (aws_budget_create(&bo, &a->budget)) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto fail;
	}
	rc = aws_client_create(loop, a->http, &(struct aws_client_opts){
		.region = region,
		.endpoint_url = a->config_url,
		.retry = &retry,
		.timeout_ms = o->timeout_ms,
	}, &a->client, err);
	if (rc)
		goto fail;
	struct aws_creds_sts sts = aws_sts_creds_hook(a->client);
	rc = aws_creds_create(a->http, &sts, &(struct aws_creds_opts){
		.profile = pick(o->profile, cfg ? cfg->aws.profile : NULL),
		.role_arn = pick(o->role_arn, cfg ? cfg->aws.role_arn : NULL),
		.role_session_name = pick(o->role_session_name, cfg ? cfg->aws.role_session_name : NULL),
		.duration_s = o->assume_duration_s,
		.refresh_margin_s = o->creds_refresh_margin_s,
		.fixed = o->fixed_creds,
	}, &a->creds, err);
	if (rc)
		goto fail;
	aws_client_set_creds(a->client, a->creds);
	aws_client_set_budget(a->client, a->budget);

	if (cfg && cfg->n_services) {
		a->routes = calloc(cfg->n_services, sizeof *a->routes);
		if (!a->routes)
			oom = true;
		for (size_t i = 0; a->routes && i < cfg->n_services; i++) {
			const struct config_service *s = &cfg->services[i];
			struct route *r = &a->routes[a->n_routes++];
			r->cluster = aws__dup(s->cluster, &oom);
			r->service = aws__dup(s->ecs_service ? s->ecs_service : s->name, &oom);
			r->region = aws__dup(s->region ? s->region : region, &oom);
			if (!r->cluster || !r->service || !r->region)
				oom = true;
		}
		if (oom) {
			rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (aws_client_endpoint(a->client, AWS_SVC_ECS, NULL, ep, sizeof ep) != BOT_EOK)
		ep[0] = '\0';
	log_info("aws.ready", "region=%s ecs_endpoint=%s credentials=%s max_attempts=%d",
		 LOG_Q(region), LOG_Q(ep[0] ? ep : "-"), LOG_Q(aws_creds_source(a->creds)),
		 retry.max_attempts);
	*out = &a->cloud;
	return BOT_EOK;
fail:
	aws_destroy(&a->cloud);
	return rc;
}

int cloud_aws_client_for(struct cloud *c, const char *region, const char *endpoint_url,
			 const char *endpoint_what, struct aws_client **out, struct bot_error *err)
{
	struct aws_cloud *a = cloud_is_aws(c) ? (struct aws_cloud *)c : NULL;
	struct aws_client *cl = NULL, **grown;
	int rc;

	*out = NULL;
	if (!a || a->dying)
		return bot_error_set(err, BOT_EINVAL, "not the AWS backend");
	if ((!region || !*region || strcmp(region, aws_client_region(a->client)) == 0) &&
	    (!endpoint_url || !*endpoint_url)) {
		*out = a->client;
		return BOT_EOK;
	}
	grown = realloc(a->extra, (a->n_extra + 1) * sizeof *grown);
	if (!grown)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	a->extra = grown;
	rc = aws_client_create(a->loop, a->http, &(struct aws_client_opts){
		.region = region && *region ? region : aws_client_region(a->client),
		.endpoint_url = a->config_url,
		.pinned_endpoint_url = endpoint_url,
		.pinned_what = endpoint_what,
		.retry = &a->retry,
		.timeout_ms = a->timeout_ms,
	}, &cl, err);
	if (rc)
		return rc;
	aws_client_set_creds(cl, a->creds);
	aws_client_set_budget(cl, a->budget);
	a->extra[a->n_extra++] = cl;
	*out = cl;
	return BOT_EOK;
}
