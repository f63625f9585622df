/* cw.c - CloudWatch bodies, parsers and calls (see cw.h). */
#include "adapters/aws/cw.h"
#include "adapters/aws/util.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metric queries ----------------------------------------------------- */

void aws_cw_ecs_service_queries(const char *cluster_name, const char *service, int period_s,
				struct aws_cw_dim dims[2], struct aws_cw_query q[4])
{
	static const struct { const char *id, *metric, *stat; } defs[4] = {
		{"cpu_avg", "CPUUtilization", "Average"},
		{"cpu_max", "CPUUtilization", "Maximum"},
		{"mem_avg", "MemoryUtilization", "Average"},
		{"mem_max", "MemoryUtilization", "Maximum"},
	};

	dims[0] = (struct aws_cw_dim){ "ClusterName", cluster_name };
	dims[1] = (struct aws_cw_dim){ "ServiceName", service };
	for (int i = 0; i < 4; i++)
		q[i] = (struct aws_cw_query){
			.id = defs[i].id, .ns = "AWS/ECS", .metric = defs[i].metric,
			.stat = defs[i].stat, .dims = dims, .n_dims = 2, .period_s = period_s,
		};
}

size_t aws_cw_alb_queries(const char *load_balancer, const char *target_group, int period_s,
			  struct aws_cw_dim dims[2], struct aws_cw_query q[3])
{
	static const struct { const char *id, *metric, *stat; } defs[3] = {
		{"alb_requests", "RequestCount", "Sum"},
		{"alb_5xx", "HTTPCode_Target_5XX_Count", "Sum"},
		{"alb_latency", "TargetResponseTime", "Average"},
	};
	size_t nd = 0;

	dims[nd++] = (struct aws_cw_dim){ "LoadBalancer", load_balancer };
	if (target_group && *target_group)
		dims[nd++] = (struct aws_cw_dim){ "TargetGroup", target_group };
	for (int i = 0; i < 3; i++)
		q[i] = (struct aws_cw_query){
			.id = defs[i].id, .ns = "AWS/ApplicationELB", .metric = defs[i].metric,
			.stat = defs[i].stat, .dims = dims, .n_dims = nd, .period_s = period_s,
		};
	return nd;
}

int aws_cw_period_for(int minutes)
{
	int p = 60;

	if (minutes > 180)
		p = ((minutes + 179) / 180) * 60;
	return p;
}

static json_t *time_json(double t)
{
	double f = floor(t);
	return f == t ? json_integer((json_int_t)f) : json_real(t);
}

char *aws_cw_get_metric_data_body(const struct aws_cw_query *q, size_t n, double start,
				  double end, const char *next_token)
{
	json_t *root = json_object(), *qs = json_array();
	char *s = NULL;
	bool bad = !root || !qs || n == 0 || n > 500;

	for (size_t i = 0; !bad && i < n; i++) {
		json_t *dims = json_array();
		for (size_t d = 0; dims && d < q[i].n_dims; d++)
			if (!q[i].dims[d].name || !q[i].dims[d].value ||
			    json_array_append_new(dims, json_pack("{s:s, s:s}", "Name", q[i].dims[d].name,
								  "Value", q[i].dims[d].value)))
				bad = true;
		if (!q[i].id || !q[i].ns || !q[i].metric || !q[i].stat || q[i].period_s <= 0)
			bad = true;
		json_t *one = bad || !dims ? NULL : json_pack(
			"{s:s, s:{s:{s:s, s:s, s:o}, s:i, s:s}, s:b}",
			"Id", q[i].id,
			"MetricStat", "Metric", "Namespace", q[i].ns, "MetricName", q[i].metric,
			"Dimensions", dims, "Period", q[i].period_s, "Stat", q[i].stat,
			"ReturnData", 1);
		if (!one) {
			if (!bad)
				bad = true; /* json_pack stole dims on failure too */
			else
				json_decref(dims);
			break;
		}
		if (json_array_append_new(qs, one))
			bad = true;
	}
	if (!bad) {
		int r = json_object_set_new(root, "MetricDataQueries", qs); /* steals qs */
		qs = NULL;
		if (r)
			bad = true;
	}
	if (!bad && (json_object_set_new(root, "StartTime", time_json(start)) ||
		     json_object_set_new(root, "EndTime", time_json(end)) ||
		     json_object_set_new(root, "ScanBy", json_string("TimestampAscending"))))
		bad = true;
	if (!bad && next_token && *next_token &&
	    json_object_set_new(root, "NextToken", json_string(next_token)))
		bad = true;
	if (!bad)
		s = json_dumps(root, JSON_COMPACT);
	json_decref(qs);
	json_decref(root);
	return s;
}

void aws_cw_results_clear(struct aws_cw_results *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->v && i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].label);
		free(r->v[i].status);
		free(r->v[i].times);
		free(r->v[i].values);
	}
	free(r->v);
	free(r->next_token);
	memset(r, 0, sizeof *r);
}

const struct aws_cw_result *aws_cw_results_find(const struct aws_cw_results *r, const char *id)
{
	for (size_t i = 0; r && id && i < r->n; i++)
		if (r->v[i].id && strcmp(r->v[i].id, id) == 0)
			return &r->v[i];
	return NULL;
}

int aws_cw_parse_get_metric_data(const char *body, size_t len, struct aws_cw_results *out,
				 struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *res;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!j)
		return BOT_EPARSE;
	res = json_object_get(j, "MetricDataResults");
	if (res && !json_is_array(res)) {
		rc = bot_error_set(err, BOT_EPARSE, "MetricDataResults is not a list");
		goto out;
	}
	size_t n = json_array_size(res);
	if (n && !(out->v = calloc(n, sizeof *out->v))) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(res, i), *ts = json_object_get(x, "Timestamps"),
		       *vs = json_object_get(x, "Values");
		struct aws_cw_result *r = &out->v[out->n++];
		size_t nt = json_array_size(ts), nv = json_array_size(vs);
		r->id = aws__dup(aws__json_str(x, "Id"), &oom);
		r->label = aws__dup(aws__json_str(x, "Label"), &oom);
		r->status = aws__dup(aws__json_str(x, "StatusCode"), &oom);
		if (!r->id && !oom) {
			rc = bot_error_set(err, BOT_EPARSE, "MetricDataResults[%zu] has no Id", i);
			goto out;
		}
		if (nt != nv) {
			rc = bot_error_set(err, BOT_EPARSE, "result %s: %zu timestamps for %zu values",
					   r->id ? r->id : "?", nt, nv);
			goto out;
		}
		if (nv) {
			r->times = malloc(nv * sizeof *r->times);
			r->values = malloc(nv * sizeof *r->values);
			if (!r->times || !r->values) {
				oom = true;
				continue;
			}
			for (size_t k = 0; k < nv; k++) {
				json_t *t = json_array_get(ts, k), *v = json_array_get(vs, k);
				if (!json_is_number(v) || !(json_is_number(t) || json_is_string(t))) {
					rc = bot_error_set(err, BOT_EPARSE, "result %s: bad point %zu",
							   r->id ? r->id : "?", k);
					goto out;
				}
				r->times[k] = aws__json_time(t);
				r->values[k] = json_number_value(v);
			}
			r->n = nv;
		}
	}
	const char *nt = aws__json_str(j, "NextToken");
	out->next_token = aws__dup(nt && *nt ? nt : NULL, &oom);
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
	else
		aws_cw_results_sort(out);
out:
	json_decref(j);
	if (rc)
		aws_cw_results_clear(out);
	return rc;
}

/* Insertion sort by time, carrying values along (series are short, and
 * mostly sorted already thanks to ScanBy). */
static void sort_series(struct aws_cw_result *r)
{
	for (size_t i = 1; i < r->n; i++) {
		double t = r->times[i], v = r->values[i];
		size_t k = i;
		while (k > 0 && r->times[k - 1] > t) {
			r->times[k] = r->times[k - 1];
			r->values[k] = r->values[k - 1];
			k--;
		}
		r->times[k] = t;
		r->values[k] = v;
	}
}

void aws_cw_results_sort(struct aws_cw_results *r)
{
	for (size_t i = 0; r && i < r->n; i++)
		sort_series(&r->v[i]);
}

int aws_cw_results_merge(struct aws_cw_results *into, struct aws_cw_results *page)
{
	for (size_t i = 0; i < page->n; i++) {
		struct aws_cw_result *src = &page->v[i], *dst = NULL;
		for (size_t k = 0; k < into->n; k++)
			if (into->v[k].id && src->id && strcmp(into->v[k].id, src->id) == 0)
				dst = &into->v[k];
		if (!dst) {
			struct aws_cw_result *nv = realloc(into->v, (into->n + 1) * sizeof *nv);
			if (!nv)
				return BOT_ENOMEM;
			into->v = nv;
			into->v[into->n++] = *src;
			memset(src, 0, sizeof *src);
			continue;
		}
		if (src->n) {
			double *t = realloc(dst->times, (dst->n + src->n) * sizeof *t);
			if (!t)
				return BOT_ENOMEM;
			dst->times = t;
			double *v = realloc(dst->values, (dst->n + src->n) * sizeof *v);
			if (!v)
				return BOT_ENOMEM;
			dst->values = v;
			memcpy(dst->times + dst->n, src->times, src->n * sizeof *t);
			memcpy(dst->values + dst->n, src->values, src->n * sizeof *v);
			dst->n += src->n;
		}
		/* The last page's status is the one that counts. */
		if (src->status) {
			free(dst->status);
			dst->status = src->status;
			src->status = NULL;
		}
	}
	free(into->next_token);
	into->next_token = page->next_token;
	page->next_token = NULL;
	aws_cw_results_clear(page);
	aws_cw_results_sort(into);
	return BOT_EOK;
}

/* ---- GetMetricData call (pages) ----------------------------------------- */

struct gmd {
	struct aws_client *c;
	char region[48];
	struct aws_cw_query *q;
	size_t n;
	struct aws_cw_dim *dims; /* all queries' dims, copied */
	char **strs;             /* owned copies behind q and dims */
	size_t n_strs;
	double start, end;
	int pages;
	struct aws_cw_results acc;
	aws_cw_metrics_cb cb;
	void *ud;
};

static void gmd_free(struct gmd *g)
{
	for (size_t i = 0; i < g->n_strs; i++)
		free(g->strs[i]);
	free(g->strs);
	free(g->q);
	free(g->dims);
	aws_cw_results_clear(&g->acc);
	free(g);
}

static const char *keep(struct gmd *g, const char *s, bool *oom)
{
	char *d = aws__dup(s, oom);
	if (d)
		g->strs[g->n_strs++] = d;
	return d;
}

static int gmd_send(struct gmd *g);

static void reply_error(struct cloud_error *e, const struct aws_response *r, int rc, const char *what,
			const char *msg)
{
	memset(e, 0, sizeof *e);
	e->code = rc == BOT_ENOMEM ? BOT_ENOMEM : BOT_EPROTOCOL;
	e->http_status = (int)r->status;
	e->attempts = r->attempts;
	aws__copy(e->request_id, sizeof e->request_id, r->request_id);
	snprintf(e->message, sizeof e->message, "unexpected %s reply: %s", what, msg);
}

static void on_gmd(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct gmd *g = ud;
	struct aws_cw_results page;
	struct bot_error be = { .msg = "" };
	struct cloud_error e;
	int rc;

	if (err) {
		g->cb(g->ud, err, NULL);
		goto done;
	}
	rc = aws_cw_parse_get_metric_data(r->body, r->body_len, &page, &be);
	if (!rc)
		rc = aws_cw_results_merge(&g->acc, &page);
	if (rc) {
		aws_cw_results_clear(&page);
		reply_error(&e, r, rc, "GetMetricData", be.msg[0] ? be.msg : bot_strerror(rc));
		g->cb(g->ud, &e, NULL);
		goto done;
	}
	if (g->acc.next_token && ++g->pages < AWS_CW_MAX_PAGES) {
		rc = gmd_send(g);
		if (rc == BOT_EOK)
			return;
		memset(&e, 0, sizeof e);
		e.code = rc;
		e.attempts = r->attempts;
		aws__copy(e.message, sizeof e.message, "cannot request the next GetMetricData page");
		g->cb(g->ud, &e, NULL);
		goto done;
	}
	g->cb(g->ud, NULL, &g->acc);
done:
	gmd_free(g);
}

static int gmd_send(struct gmd *g)
{
	char *body = aws_cw_get_metric_data_body(g->q, g->n, g->start, g->end, g->acc.next_token);
	int rc;

	if (!body)
		return BOT_ENOMEM;
	rc = aws_client_call(g->c, &(struct aws_request){
		.service = AWS_SVC_CLOUDWATCH, .region = g->region[0] ? g->region : NULL,
		.op = "GetMetricData", .body = body, .body_len = strlen(body),
	}, on_gmd, g, NULL);
	free(body);
	return rc;
}

int aws_cw_get_metric_data(struct aws_client *c, const char *region, const struct aws_cw_query *q,
			   size_t n, double start, double end, aws_cw_metrics_cb cb, void *ud)
{
	struct gmd *g;
	size_t nd = 0, ns = 0;
	bool oom = false;
	int rc;

	if (!c || !q || !n || n > 500 || !cb || end <= start)
		return BOT_EINVAL;
	for (size_t i = 0; i < n; i++)
		nd += q[i].n_dims;
	ns = 4 * n + 2 * nd;
	g = calloc(1, sizeof *g);
	if (!g)
		return BOT_ENOMEM;
	g->q = calloc(n, sizeof *g->q);
	g->dims = calloc(nd ? nd : 1, sizeof *g->dims);
	g->strs = calloc(ns, sizeof *g->strs);
	if (!g->q || !g->dims || !g->strs) {
		gmd_free(g);
		return BOT_ENOMEM;
	}
	nd = 0;
	for (size_t i = 0; i < n; i++) {
		g->q[i] = q[i];
		g->q[i].id = keep(g, q[i].id, &oom);
		g->q[i].ns = keep(g, q[i].ns, &oom);
		g->q[i].metric = keep(g, q[i].metric, &oom);
		g->q[i].stat = keep(g, q[i].stat, &oom);
		g->q[i].dims = g->dims + nd;
		for (size_t d = 0; d < q[i].n_dims; d++, nd++) {
			g->dims[nd].name = keep(g, q[i].dims[d].name, &oom);
			g->dims[nd].value = keep(g, q[i].dims[d].value, &oom);
		}
	}
	if (oom) {
		gmd_free(g);
		return BOT_ENOMEM;
	}
	g->n = n;
	g->c = c;
	aws__copy(g->region, sizeof g->region, region);
	g->start = start;
	g->end = end;
	g->cb = cb;
	g->ud = ud;
	rc = gmd_send(g);
	if (rc)
		gmd_free(g);
	return rc;
}

/* ---- alarms ------------------------------------------------------------- */

char *aws_cw_describe_alarms_body(const struct aws_cw_alarms_filter *f, const char *next_token)
{
	json_t *j = json_object();
	bool bad = !j || !f;
	int mr = f && f->max_records > 0 && f->max_records <= 100 ? f->max_records : 100;
	char *s = NULL;

	if (!bad && f->names && f->n_names) {
		json_t *a = json_array();
		if (!a || f->n_names > 100)
			bad = true;
		for (size_t i = 0; a && !bad && i < f->n_names; i++)
			if (!f->names[i] || json_array_append_new(a, json_string(f->names[i])))
				bad = true;
		if (a && (bad || json_object_set_new(j, "AlarmNames", a))) {
			if (!bad)
				bad = true; /* set_new stole a */
			else
				json_decref(a);
		}
	}
	if (!bad && f->prefix && *f->prefix &&
	    json_object_set_new(j, "AlarmNamePrefix", json_string(f->prefix)))
		bad = true;
	if (!bad && f->state && *f->state && json_object_set_new(j, "StateValue", json_string(f->state)))
		bad = true;
	if (!bad && (json_object_set_new(j, "AlarmTypes", json_pack("[s]", "MetricAlarm")) ||
		     json_object_set_new(j, "MaxRecords", json_integer(mr))))
		bad = true;
	if (!bad && next_token && *next_token &&
	    json_object_set_new(j, "NextToken", json_string(next_token)))
		bad = true;
	if (!bad)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

void aws_cw_alarms_clear(struct aws_cw_alarms *a)
{
	if (!a)
		return;
	for (size_t i = 0; a->v && i < a->n; i++) {
		struct aws_cw_alarm *x = &a->v[i];
		free(x->name);
		free(x->arn);
		free(x->state);
		free(x->reason);
		free(x->metric);
		free(x->ns);
		free(x->description);
		free(x->statistic);
		free(x->comparison);
		for (size_t d = 0; x->dims && d < x->n_dims; d++) {
			free(x->dims[d].name);
			free(x->dims[d].value);
		}
		free(x->dims);
	}
	free(a->v);
	free(a->next_token);
	memset(a, 0, sizeof *a);
}

/* obj[key] as a whole number in [0, INT_MAX]; 0 otherwise. */
static int whole(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d = json_is_number(v) ? json_number_value(v) : -1;

	return d >= 0 && d <= INT_MAX && d == floor(d) ? (int)d : 0;
}

/* A metric-math alarm: the Dimensions of the first metric that has any;
 * the period of the first MetricStat. */
static json_t *math_dims(struct aws_cw_alarm *a, const json_t *metrics)
{
	size_t i;
	json_t *m, *found = NULL;

	a->metric_math = true;
	json_array_foreach(metrics, i, m) {
		json_t *ms = json_object_get(m, "MetricStat");
		json_t *d = json_object_get(json_object_get(ms, "Metric"), "Dimensions");
		if (!a->period_s)
			a->period_s = whole(ms, "Period");
		if (!found && json_array_size(d))
			found = d;
	}
	return found;
}

int aws_cw_parse_describe_alarms(const char *body, size_t len, struct aws_cw_alarms *out,
				 struct bot_error *err)
{
	json_t *j = aws__json_object(body, len, err), *ma;
	bool oom = false;
	int rc = BOT_EOK;

	memset(out, 0, sizeof *out);
	if (!j)
		return BOT_EPARSE;
	ma = json_object_get(j, "MetricAlarms");
	if (ma && !json_is_array(ma)) {
		rc = bot_error_set(err, BOT_EPARSE, "MetricAlarms is not a list");
		goto out;
	}
	size_t n = json_array_size(ma);
	if (n && !(out->v = calloc(n, sizeof *out->v))) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(ma, i), *dims = json_object_get(x, "Dimensions");
		struct aws_cw_alarm *a = &out->v[out->n++];
		a->name = aws__dup(aws__json_str(x, "AlarmName"), &oom);
		a->arn = aws__dup(aws__json_str(x, "AlarmArn"), &oom);
		a->state = aws__dup(aws__json_str(x, "StateValue"), &oom);
		a->reason = aws__dup(aws__json_str(x, "StateReason"), &oom);
		a->metric = aws__dup(aws__json_str(x, "MetricName"), &oom);
		a->ns = aws__dup(aws__json_str(x, "Namespace"), &oom);
		a->threshold = aws__json_num(x, "Threshold", 0);
		a->has_threshold = json_is_number(json_object_get(x, "Threshold"));
		a->updated_at = aws__json_time(json_object_get(x, "StateUpdatedTimestamp"));
		a->transitioned_at = aws__json_time(json_object_get(x, "StateTransitionedTimestamp"));
		a->description = aws__dup(aws__json_str(x, "AlarmDescription"), &oom);
		a->statistic = aws__dup(aws__json_str(x, "Statistic") ? aws__json_str(x, "Statistic")
					: aws__json_str(x, "ExtendedStatistic"), &oom);
		a->comparison = aws__dup(aws__json_str(x, "ComparisonOperator"), &oom);
		a->period_s = whole(x, "Period");
		a->evaluation_periods = whole(x, "EvaluationPeriods");
		if (!a->name && !oom) {
			rc = bot_error_set(err, BOT_EPARSE, "MetricAlarms[%zu] has no AlarmName", i);
			goto out;
		}
		if (!a->metric && json_array_size(json_object_get(x, "Metrics")))
			dims = math_dims(a, json_object_get(x, "Metrics"));
		size_t nd = json_array_size(dims);
		if (nd > AWS_CW_MAX_DIMS)
			nd = AWS_CW_MAX_DIMS;
		if (nd && (a->dims = calloc(nd, sizeof *a->dims))) {
			for (size_t d = 0; d < nd; d++) {
				json_t *dx = json_array_get(dims, d);
				a->dims[d].name = aws__dup(aws__json_str(dx, "Name"), &oom);
				a->dims[d].value = aws__dup(aws__json_str(dx, "Value"), &oom);
			}
			a->n_dims = nd;
		} else if (nd) {
			oom = true;
		}
	}
	const char *nt = aws__json_str(j, "NextToken");
	out->next_token = aws__dup(nt && *nt ? nt : NULL, &oom);
	if (oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
out:
	json_decref(j);
	if (rc)
		aws_cw_alarms_clear(out);
	return rc;
}

bool aws_cw_alarm_names_service(const struct aws_cw_alarm *a, const char *cluster_name,
				const char *service)
{
	bool svc = false, cluster_ok = true;

	for (size_t d = 0; d < a->n_dims; d++) {
		const char *n = a->dims[d].name, *v = a->dims[d].value;
		if (!n || !v)
			continue;
		if (strcmp(n, "ServiceName") == 0)
			svc = service && strcmp(v, service) == 0;
		else if (strcmp(n, "ClusterName") == 0)
			cluster_ok = cluster_name && strcmp(v, cluster_name) == 0;
	}
	return svc && cluster_ok;
}

struct da {
	struct aws_client *c;
	char region[48];
	struct aws_cw_alarms_filter f;
	char **strs;
	size_t n_strs;
	const char **names;
	int pages;
	struct aws_cw_alarms acc;
	aws_cw_alarms_cb cb;
	void *ud;
};

static void da_free(struct da *d)
{
	for (size_t i = 0; i < d->n_strs; i++)
		free(d->strs[i]);
	free(d->strs);
	free(d->names);
	aws_cw_alarms_clear(&d->acc);
	free(d);
}

static int da_send(struct da *d);

static int alarms_append(struct aws_cw_alarms *into, struct aws_cw_alarms *page)
{
	if (page->n) {
		struct aws_cw_alarm *nv = realloc(into->v, (into->n + page->n) * sizeof *nv);
		if (!nv)
			return BOT_ENOMEM;
		into->v = nv;
		memcpy(into->v + into->n, page->v, page->n * sizeof *nv);
		into->n += page->n;
		free(page->v);
		page->v = NULL;
		page->n = 0;
	}
	free(into->next_token);
	into->next_token = page->next_token;
	page->next_token = NULL;
	aws_cw_alarms_clear(page);
	return BOT_EOK;
}

static void on_da(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct da *d = ud;
	struct aws_cw_alarms page;
	struct bot_error be = { .msg = "" };
	struct cloud_error e;
	int rc;

	if (err) {
		d->cb(d->ud, err, NULL);
		goto done;
	}
	rc = aws_cw_parse_describe_alarms(r->body, r->body_len, &page, &be);
	if (!rc)
		rc = alarms_append(&d->acc, &page);
	if (rc) {
		aws_cw_alarms_clear(&page);
		reply_error(&e, r, rc, "DescribeAlarms", be.msg[0] ? be.msg : bot_strerror(rc));
		d->cb(d->ud, &e, NULL);
		goto done;
	}
	if (d->acc.next_token && ++d->pages < AWS_CW_MAX_PAGES) {
		rc = da_send(d);
		if (rc == BOT_EOK)
			return;
		memset(&e, 0, sizeof e);
		e.code = rc;
		aws__copy(e.message, sizeof e.message, "cannot request the next DescribeAlarms page");
		d->cb(d->ud, &e, NULL);
		goto done;
	}
	d->cb(d->ud, NULL, &d->acc);
done:
	da_free(d);
}

static int da_send(struct da *d)
{
	char *body = aws_cw_describe_alarms_body(&d->f, d->acc.next_token);
	int rc;

	if (!body)
		return BOT_ENOMEM;
	rc = aws_client_call(d->c, &(struct aws_request){
		.service = AWS_SVC_CLOUDWATCH, .region = d->region[0] ? d->region : NULL,
		.op = "DescribeAlarms", .body = body, .body_len = strlen(body),
	}, on_da, d, NULL);
	free(body);
	return rc;
}

int aws_cw_describe_alarms(struct aws_client *c, const char *region,
			   const struct aws_cw_alarms_filter *f, aws_cw_alarms_cb cb, void *ud)
{
	struct da *d;
	bool oom = false;
	int rc;

	if (!c || !f || !cb || f->n_names > 100)
		return BOT_EINVAL;
	d = calloc(1, sizeof *d);
	if (!d)
		return BOT_ENOMEM;
	d->strs = calloc(f->n_names + 2, sizeof *d->strs);
	d->names = f->n_names ? calloc(f->n_names, sizeof *d->names) : NULL;
	if (!d->strs || (f->n_names && !d->names)) {
		da_free(d);
		return BOT_ENOMEM;
	}
	d->f = *f;
#define KEEP(s) ((s) ? (d->strs[d->n_strs] = aws__dup((s), &oom), d->strs[d->n_strs] ? d->strs[d->n_strs++] : NULL) : NULL)
	d->f.state = KEEP(f->state);
	d->f.prefix = KEEP(f->prefix);
	for (size_t i = 0; i < f->n_names; i++)
		d->names[i] = KEEP(f->names[i]);
#undef KEEP
	d->f.names = d->names;
	if (oom) {
		da_free(d);
		return BOT_ENOMEM;
	}
	d->c = c;
	aws__copy(d->region, sizeof d->region, region);
	d->cb = cb;
	d->ud = ud;
	rc = da_send(d);
	if (rc)
		da_free(d);
	return rc;
}
