/* service_read.c - describe + metrics + alarms, at once (see service_read.h). */
#include "bot/domain/service_read.h"
#include "bot/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct read_op {
	struct service_read r;
	char *service, *cluster, *ecs_service;
	int waiting;           /* answers still to come, plus the starter's count */
	service_read_cb cb;
	void *ud;
};

static void op_free(struct read_op *op)
{
	free(op->service);
	free(op->cluster);
	free(op->ecs_service);
	cloud_service_free(op->r.svc);
	cloud_metrics_free(op->r.metrics);
	cloud_alarms_free(op->r.alarms, op->r.n_alarms);
	free(op);
}

static void one_done(struct read_op *op)
{
	if (--op->waiting > 0)
		return;
	op->cb(op->ud, &op->r);
	op_free(op);
}

/* A call that could not start counts as answered with its error. */
static void not_started(struct read_op *op, struct cloud_error *e, int rc)
{
	memset(e, 0, sizeof *e);
	e->code = rc;
	snprintf(e->message, sizeof e->message, "%s", bot_strerror(rc));
	op->waiting--;
}

static void on_describe(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.err = *err;
	else if (!s)
		op->r.err.code = BOT_ENOTFOUND; /* no error, no service: missing all the same */
	else if (!(op->r.svc = cloud_service_dup(s)))
		op->r.err.code = BOT_ENOMEM;
	one_done(op);
}

static void on_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.metrics_err = *err;
	else if (m && !(op->r.metrics = cloud_metrics_dup(m)))
		op->r.metrics_err.code = BOT_ENOMEM;
	one_done(op);
}

static void on_alarms(void *ud, const struct cloud_error *err, const struct cloud_alarm *a, size_t n)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.alarms_err = *err;
	else if (n && !(op->r.alarms = cloud_alarms_dup(a, n)))
		op->r.alarms_err.code = BOT_ENOMEM;
	else if (n)
		op->r.n_alarms = n;
	one_done(op);
}

int service_read_start(struct cloud *cloud, const struct config_service *svc, service_read_cb cb,
		       void *ud)
{
	struct read_op *op = calloc(1, sizeof *op);
	int rc;

	if (!op)
		return BOT_ENOMEM;
	op->service = strdup(svc->name);
	op->cluster = strdup(svc->cluster);
	op->ecs_service = strdup(svc->ecs_service ? svc->ecs_service : svc->name);
	if (!op->service || !op->cluster || !op->ecs_service) {
		op_free(op);
		return BOT_ENOMEM;
	}
	op->r.service = op->service;
	op->r.cluster = op->cluster;
	op->r.ecs_service = op->ecs_service;
	op->cb = cb;
	op->ud = ud;
	/* three reads at once; each answer counts down */
	op->waiting = 4;
	rc = cloud->ops->describe(cloud, op->cluster, op->ecs_service, on_describe, op);
	if (rc)
		not_started(op, &op->r.err, rc);
	rc = cloud->ops->metrics(cloud, op->cluster, op->ecs_service, SERVICE_READ_WINDOW_MIN,
				 on_metrics, op);
	if (rc)
		not_started(op, &op->r.metrics_err, rc);
	rc = cloud->ops->alarms(cloud, op->cluster, op->ecs_service, on_alarms, op);
	if (rc)
		not_started(op, &op->r.alarms_err, rc);
	one_done(op); /* drop the starter's count */
	return BOT_EOK;
}

void service_read_explain(const struct service_read *r, struct chat_text *t)
{
	const struct cloud_error *e = &r->err;

	if (e->code == BOT_ENOTFOUND) {
		chat_text_printf(t, "ECS service ");
		chat_text_code(t, "%s", r->ecs_service);
		chat_text_printf(t, " was not found in cluster ");
		chat_text_code(t, "%s", r->cluster);
		return;
	}
	chat_text_printf(t, "Could not read ");
	chat_text_bold(t, "%s", r->service);
	chat_text_printf(t, " from AWS: %s", e->aws_code[0] ? e->aws_code : bot_err_name(e->code));
	if (e->message[0])
		chat_text_printf(t, ": %s", e->message);
	if (e->request_id[0])
		chat_text_printf(t, " (request id %s)", e->request_id);
}
