/* service_read.h - one read of a service as people ask about it: ECS
 * DescribeServices, its CPU and memory metrics over the last
 * SERVICE_READ_WINDOW_MIN minutes, and its alarms, all three at once, with
 * one error mapping. /investigate shows it; /scale reads it before it
 * opens a request.
 *
 * Errors: the service read is what matters. A service that is missing in
 * ECS is err.code BOT_ENOTFOUND however the cloud said it (an error, or no
 * service in the answer); a read the bot could not start carries that code
 * and its message; BOT_ECANCELLED means the bot is stopping. Metrics and
 * alarms are extras: when one fails it is NULL/0 and its own error says
 * why.
 *
 * Single thread. The callback runs exactly once, when the three answers are
 * in; it may run before service_read_start returns (every call refused at
 * once). Nothing here can be cancelled: the cloud answers every call once
 * (BOT_ECANCELLED when stopping), and the caller ignores what it no longer
 * wants.
 */
#ifndef BOT_SERVICE_READ_H
#define BOT_SERVICE_READ_H

#include <stddef.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "config/config.h"

#define SERVICE_READ_WINDOW_MIN 30

struct service_read {
	const char *service;         /* the configured name */
	const char *cluster;
	const char *ecs_service;     /* the ECS name (ecs_service, else the name) */
	struct cloud_service *svc;   /* NULL when the read failed: err says why */
	struct cloud_metrics *metrics; /* NULL when unavailable: metrics_err */
	struct cloud_alarm *alarms;
	size_t n_alarms;
	struct cloud_error err;      /* the service read (code 0 when svc is set) */
	struct cloud_error metrics_err, alarms_err;
};

/* r and everything in it are valid only during the callback. */
typedef void (*service_read_cb)(void *ud, const struct service_read *r);

/* Read svc (its names are copied). 0 once the reads started (cb will run),
 * or BOT_ENOMEM (cb will not). */
int service_read_start(struct cloud *cloud, const struct config_service *svc, service_read_cb cb,
		       void *ud);

/* Why r has no service, for people, appended to t: "ECS service `x` was
 * not found in cluster `y`" or "Could not read *x* from AWS: <code>:
 * <message> (request id ...)". */
void service_read_explain(const struct service_read *r, struct chat_text *t);

#endif
