/* cloud_dryrun.c - forward reads, refuse writes (see cloud_dryrun.h). */
#include "adapters/cloud_dryrun.h"
#include "bot/base/error.h"
#include "bot/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dry {
	struct cloud cloud;
	uv_loop_t *loop;
	struct cloud *inner;
	struct pending *pending; /* answers not yet delivered */
};

/* Callbacks never run from inside the call: answers go out on the next
 * loop turn from a zero timer. */
struct pending {
	uv_timer_t timer;
	struct pending *next;
	struct dry *d;
	enum { P_SCALE, P_NOTIFY, P_DESCRIBE, P_METRICS, P_ALARMS, P_CLUSTER, P_LIST, P_QUEUE,
	       P_DONE, P_STATES, P_TDLIST, P_TD } kind;
	union {
		cloud_scale_cb scale;
		cloud_notify_cb notify;
		cloud_describe_cb describe;
		cloud_metrics_cb metrics;
		cloud_alarms_cb alarms;
		cloud_cluster_cb cluster;
		cloud_list_cb list;
		cloud_queue_cb queue;
		cloud_done_cb done;
		cloud_alarm_states_cb states;
		cloud_task_definitions_cb tdlist;
		cloud_task_definition_cb td;
	} cb;
	void *ud;
	bool ok;                 /* answer success (err NULL): a delete not done */
	struct cloud_error err;
};

static void pending_closed(uv_handle_t *h)
{
	free(h->data);
}

static void pending_unlink(struct pending *p)
{
	for (struct pending **pp = &p->d->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
}

static void fire(uv_timer_t *t)
{
	struct pending *p = t->data;

	pending_unlink(p);
	switch (p->kind) {
	case P_SCALE: p->cb.scale(p->ud, &p->err, NULL); break;
	case P_NOTIFY: p->cb.notify(p->ud, &p->err, NULL); break;
	case P_DESCRIBE: p->cb.describe(p->ud, &p->err, NULL); break;
	case P_METRICS: p->cb.metrics(p->ud, &p->err, NULL); break;
	case P_ALARMS: p->cb.alarms(p->ud, &p->err, NULL, 0); break;
	case P_CLUSTER: p->cb.cluster(p->ud, &p->err, NULL); break;
	case P_LIST: p->cb.list(p->ud, &p->err, NULL, 0); break;
	case P_QUEUE: p->cb.queue(p->ud, &p->err, NULL, 0); break;
	case P_DONE: p->cb.done(p->ud, p->ok ? NULL : &p->err); break;
	case P_STATES: p->cb.states(p->ud, &p->err, NULL, 0); break;
	case P_TDLIST: p->cb.tdlist(p->ud, &p->err, NULL, 0); break;
	case P_TD: p->cb.td(p->ud, &p->err, NULL); break;
	}
	uv_close((uv_handle_t *)&p->timer, pending_closed);
}

/* Queue an answer for the next loop turn; the caller sets p->cb. */
__attribute__((format(printf, 4, 5)))
static struct pending *answer_later(struct dry *d, int kind, void *ud, const char *fmt, ...)
{
	struct pending *p = calloc(1, sizeof *p);
	va_list ap;

	if (!p)
		return NULL;
	p->d = d;
	p->kind = kind;
	p->ud = ud;
	p->err.code = kind == P_SCALE || kind == P_NOTIFY ? BOT_EDRYRUN : BOT_ESTATE;
	va_start(ap, fmt);
	vsnprintf(p->err.message, sizeof p->err.message, fmt, ap);
	va_end(ap);
	uv_timer_init(d->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, fire, 0, 0);
	p->next = d->pending;
	d->pending = p;
	return p;
}

#define NO_AWS "no AWS access in this run (dry-run without an AWS endpoint)"

static int dry_describe(struct cloud *c, const char *cluster, const char *service,
			cloud_describe_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner)
		return d->inner->ops->describe(d->inner, cluster, service, cb, ud);
	struct pending *p = answer_later(d, P_DESCRIBE, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.describe = cb;
	return BOT_EOK;
}

static int dry_metrics(struct cloud *c, const char *cluster, const char *service, int minutes,
		       cloud_metrics_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner)
		return d->inner->ops->metrics(d->inner, cluster, service, minutes, cb, ud);
	struct pending *p = answer_later(d, P_METRICS, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.metrics = cb;
	return BOT_EOK;
}

static int dry_alarms(struct cloud *c, const char *cluster, const char *service,
		      cloud_alarms_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner)
		return d->inner->ops->alarms(d->inner, cluster, service, cb, ud);
	struct pending *p = answer_later(d, P_ALARMS, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.alarms = cb;
	return BOT_EOK;
}

static int dry_describe_cluster(struct cloud *c, const char *cluster, cloud_cluster_cb cb,
				void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->describe_cluster)
		return d->inner->ops->describe_cluster(d->inner, cluster, cb, ud);
	struct pending *p = answer_later(d, P_CLUSTER, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.cluster = cb;
	return BOT_EOK;
}

static int dry_list_services(struct cloud *c, const char *cluster, cloud_list_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->list_services)
		return d->inner->ops->list_services(d->inner, cluster, cb, ud);
	struct pending *p = answer_later(d, P_LIST, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.list = cb;
	return BOT_EOK;
}

static int dry_scale(struct cloud *c, const char *cluster, const char *service, int desired,
		     bool force, cloud_scale_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	log_info("dryrun.scale", "cluster=%s service=%s desired=%d force_new_deployment=%s",
		 LOG_Q(cluster), LOG_Q(service), desired, force ? "true" : "false");
	struct pending *p = answer_later(d, P_SCALE, ud,
		"dry run: would call ECS UpdateService(cluster=%s, service=%s, desiredCount=%d)",
		cluster, service, desired);
	if (!p)
		return BOT_ENOMEM;
	p->cb.scale = cb;
	return BOT_EOK;
}

static int dry_notify(struct cloud *c, const char *topic, const char *subject, const char *message,
		      cloud_notify_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	(void)message;
	log_info("dryrun.notify", "topic=%s", LOG_Q(topic));
	struct pending *p = answer_later(d, P_NOTIFY, ud, "dry run: would publish to %s: %s", topic,
					 subject ? subject : "");
	if (!p)
		return BOT_ENOMEM;
	p->cb.notify = cb;
	return BOT_EOK;
}

/* The alarm intake: receiving, deferring and reading alarm states are
 * forwarded (they change nothing a person would see); a delete is not made
 * (the message stays for the real run) but answered as done, so the intake
 * goes on as it would. */
static int dry_queue_receive(struct cloud *c, const char *queue_url, int wait_s, int max,
			     int visibility_s, cloud_queue_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->queue_receive)
		return d->inner->ops->queue_receive(d->inner, queue_url, wait_s, max, visibility_s,
						    cb, ud);
	struct pending *p = answer_later(d, P_QUEUE, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.queue = cb;
	return BOT_EOK;
}

static int dry_queue_defer(struct cloud *c, const char *queue_url, const char *receipt,
			   int visibility_s, cloud_done_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->queue_defer)
		return d->inner->ops->queue_defer(d->inner, queue_url, receipt, visibility_s, cb, ud);
	struct pending *p = answer_later(d, P_DONE, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.done = cb;
	return BOT_EOK;
}

static int dry_queue_delete(struct cloud *c, const char *queue_url, const char *receipt,
			    cloud_done_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	(void)receipt; /* a credential of sorts for the message: not logged */
	if (!queue_url || !receipt || !cb)
		return BOT_EINVAL;
	log_info("dryrun.queue_delete", "queue=%s result=not-deleted", LOG_Q(queue_url));
	struct pending *p = answer_later(d, P_DONE, ud, "dry run: would call SQS DeleteMessage on %s",
					 queue_url);
	if (!p)
		return BOT_ENOMEM;
	p->ok = true;
	p->cb.done = cb;
	return BOT_EOK;
}

static int dry_alarm_states(struct cloud *c, const char *const *names, size_t n_names,
			    const char *const *prefixes, size_t n_prefixes,
			    cloud_alarm_states_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->alarm_states)
		return d->inner->ops->alarm_states(d->inner, names, n_names, prefixes, n_prefixes,
						   cb, ud);
	struct pending *p = answer_later(d, P_STATES, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.states = cb;
	return BOT_EOK;
}

/* Task definitions are read (forwarded); a deploy changes the service and
 * is refused like scale (issue 17). */
static int dry_task_definitions(struct cloud *c, const char *family,
				cloud_task_definitions_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->task_definitions)
		return d->inner->ops->task_definitions(d->inner, family, cb, ud);
	struct pending *p = answer_later(d, P_TDLIST, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.tdlist = cb;
	return BOT_EOK;
}

static int dry_describe_task_definition(struct cloud *c, const char *task_definition,
					cloud_task_definition_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->describe_task_definition)
		return d->inner->ops->describe_task_definition(d->inner, task_definition, cb, ud);
	struct pending *p = answer_later(d, P_TD, ud, NO_AWS);
	if (!p)
		return BOT_ENOMEM;
	p->cb.td = cb;
	return BOT_EOK;
}

static int dry_deploy(struct cloud *c, const char *cluster, const char *service,
		      const char *task_definition, bool force, cloud_scale_cb cb, void *ud)
{
	struct dry *d = (struct dry *)c;
	log_info("dryrun.deploy", "cluster=%s service=%s task_definition=%s force_new_deployment=%s",
		 LOG_Q(cluster), LOG_Q(service), LOG_Q(task_definition), force ? "true" : "false");
	/* P_SCALE: answered BOT_EDRYRUN, like scale. */
	struct pending *p = answer_later(d, P_SCALE, ud,
		"dry run: would call ECS UpdateService(cluster=%s, service=%s, taskDefinition=%s)",
		cluster, service, task_definition);
	if (!p)
		return BOT_ENOMEM;
	p->cb.scale = cb;
	return BOT_EOK;
}

static void dry_destroy(struct cloud *c)
{
	struct dry *d = (struct dry *)c;
	if (!d)
		return;
	/* Deliver what is still pending as cancelled (as the AWS backend does
	 * at shutdown: ECANCELLED concludes nothing), so no caller waits
	 * forever and no planned answer is taken for a result. */
	while (d->pending) {
		struct pending *p = d->pending;
		uv_timer_stop(&p->timer);
		p->err.code = BOT_ECANCELLED;
		p->ok = false;
		snprintf(p->err.message, sizeof p->err.message, "cancelled: the bot is stopping");
		fire(&p->timer);
	}
	free(d);
}

/* Reads are forwarded: so is what they may cost. */
static int dry_admit(struct cloud *c, enum cloud_ask what, uint64_t *retry_ms)
{
	struct dry *d = (struct dry *)c;
	/* no AWS behind it: every read fails at once, nothing to budget */
	return d->inner && d->inner->ops->admit ? d->inner->ops->admit(d->inner, what, retry_ms)
						  : BOT_EOK;
}

static size_t dry_metrics_text(struct cloud *c, char *buf, size_t n)
{
	struct dry *d = (struct dry *)c;
	if (d->inner && d->inner->ops->metrics_text)
		return d->inner->ops->metrics_text(d->inner, buf, n);
	if (n)
		buf[0] = '\0';
	return 0;
}

static const struct cloud_ops dry_ops = {
	.name = "dry-run",
	.describe = dry_describe,
	.scale = dry_scale,
	.metrics = dry_metrics,
	.alarms = dry_alarms,
	.notify = dry_notify,
	.destroy = dry_destroy,
	.describe_cluster = dry_describe_cluster,
	.list_services = dry_list_services,
	.admit = dry_admit,
	.metrics_text = dry_metrics_text,
	.queue_receive = dry_queue_receive,
	.queue_delete = dry_queue_delete,
	.queue_defer = dry_queue_defer,
	.alarm_states = dry_alarm_states,
	.task_definitions = dry_task_definitions,
	.describe_task_definition = dry_describe_task_definition,
	.deploy = dry_deploy,
};

struct cloud *cloud_dryrun_create(uv_loop_t *loop, struct cloud *inner)
{
	struct dry *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->cloud.ops = &dry_ops;
	d->loop = loop;
	d->inner = inner;
	return &d->cloud;
}
