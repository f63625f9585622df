/* cloud.c - owned copies of cloud results (see cloud.h). */
#include "adapters/cloud.h"

#include <stdlib.h>
#include <string.h>

static char *sdup(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

void cloud_service_free(struct cloud_service *s)
{
	if (!s)
		return;
	free((char *)s->name);
	free((char *)s->cluster);
	free((char *)s->arn);
	free((char *)s->status);
	for (size_t i = 0; s->deployments && i < s->n_deployments; i++) {
		free((char *)s->deployments[i].id);
		free((char *)s->deployments[i].status);
		free((char *)s->deployments[i].rollout_state);
		free((char *)s->deployments[i].task_definition);
	}
	free((void *)s->deployments);
	for (size_t i = 0; s->events && i < s->n_events; i++)
		free((char *)s->events[i].message);
	free((void *)s->events);
	free((char *)s->task_definition);
	free(s);
}

struct cloud_service *cloud_service_dup(const struct cloud_service *s)
{
	struct cloud_service *d = calloc(1, sizeof *d);
	bool oom = !d;

	if (!d)
		return NULL;
	*d = *s;
	d->deployments = NULL;
	d->events = NULL;
	d->n_deployments = d->n_events = 0;
	d->name = sdup(s->name, &oom);
	d->cluster = sdup(s->cluster, &oom);
	d->arn = sdup(s->arn, &oom);
	d->status = sdup(s->status, &oom);
	d->task_definition = sdup(s->task_definition, &oom);
	if (s->n_deployments) {
		struct cloud_deployment *dep = calloc(s->n_deployments, sizeof *dep);
		oom |= !dep;
		for (size_t i = 0; dep && i < s->n_deployments; i++) {
			dep[i] = s->deployments[i];
			dep[i].id = sdup(s->deployments[i].id, &oom);
			dep[i].status = sdup(s->deployments[i].status, &oom);
			dep[i].rollout_state = sdup(s->deployments[i].rollout_state, &oom);
			dep[i].task_definition = sdup(s->deployments[i].task_definition, &oom);
		}
		d->deployments = dep;
		d->n_deployments = dep ? s->n_deployments : 0;
	}
	if (s->n_events) {
		struct cloud_event *ev = calloc(s->n_events, sizeof *ev);
		oom |= !ev;
		for (size_t i = 0; ev && i < s->n_events; i++) {
			ev[i] = s->events[i];
			ev[i].message = sdup(s->events[i].message, &oom);
		}
		d->events = ev;
		d->n_events = ev ? s->n_events : 0;
	}
	if (oom) {
		cloud_service_free(d);
		return NULL;
	}
	return d;
}

static void series_free(struct cloud_series *s)
{
	free((char *)s->name);
	free((char *)s->stat);
	free((void *)s->values);
	free((void *)s->times);
}

static void series_dup(struct cloud_series *d, const struct cloud_series *s, bool *oom)
{
	*d = *s;
	d->name = sdup(s->name, oom);
	d->stat = sdup(s->stat, oom);
	d->values = NULL;
	d->times = NULL;
	if (s->n) {
		double *v = malloc(s->n * sizeof *v), *t = malloc(s->n * sizeof *t);
		if (!v || !t) {
			*oom = true;
			free(v);
			free(t);
			d->n = 0;
			return;
		}
		memcpy(v, s->values, s->n * sizeof *v);
		if (s->times)
			memcpy(t, s->times, s->n * sizeof *t);
		else
			memset(t, 0, s->n * sizeof *t);
		d->values = v;
		d->times = t;
	}
}

void cloud_metrics_free(struct cloud_metrics *m)
{
	if (!m)
		return;
	series_free(&m->cpu_avg);
	series_free(&m->cpu_max);
	series_free(&m->mem_avg);
	series_free(&m->mem_max);
	free(m);
}

struct cloud_metrics *cloud_metrics_dup(const struct cloud_metrics *m)
{
	struct cloud_metrics *d = calloc(1, sizeof *d);
	bool oom = false;

	if (!d)
		return NULL;
	d->start = m->start;
	d->end = m->end;
	series_dup(&d->cpu_avg, &m->cpu_avg, &oom);
	series_dup(&d->cpu_max, &m->cpu_max, &oom);
	series_dup(&d->mem_avg, &m->mem_avg, &oom);
	series_dup(&d->mem_max, &m->mem_max, &oom);
	if (oom) {
		cloud_metrics_free(d);
		return NULL;
	}
	return d;
}

void cloud_alarms_free(struct cloud_alarm *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free((char *)a[i].name);
		free((char *)a[i].state);
		free((char *)a[i].reason);
		free((char *)a[i].metric);
	}
	free(a);
}

struct cloud_alarm *cloud_alarms_dup(const struct cloud_alarm *a, size_t n)
{
	bool oom = false;
	struct cloud_alarm *d = calloc(n ? n : 1, sizeof *d);

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		d[i] = a[i];
		d[i].name = sdup(a[i].name, &oom);
		d[i].state = sdup(a[i].state, &oom);
		d[i].reason = sdup(a[i].reason, &oom);
		d[i].metric = sdup(a[i].metric, &oom);
	}
	if (oom) {
		cloud_alarms_free(d, n);
		return NULL;
	}
	return d;
}

void cloud_task_definition_free(struct cloud_task_definition *td)
{
	if (!td)
		return;
	free((char *)td->arn);
	free((char *)td->family);
	free((char *)td->status);
	for (size_t i = 0; td->containers && i < td->n_containers; i++) {
		free((char *)td->containers[i].name);
		free((char *)td->containers[i].image);
	}
	free((void *)td->containers);
	free(td);
}
