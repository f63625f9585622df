/* cloud.h - the cloud interface: how the core reads and changes services.
 *
 * The AWS backend (adapters/aws) implements it with ECS, CloudWatch and SNS;
 * a dry-run wrapper forwards reads and refuses writes. The core, the gate
 * engine and the commands only see this header.
 *
 * Every call is asynchronous on the loop; the callback runs exactly once,
 * never from inside the call itself. Results passed to callbacks are valid
 * only during the callback.
 */
#ifndef ADAPTERS_CLOUD_H
#define ADAPTERS_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What AWS said when a call failed, for the audit trail. */
struct cloud_error {
	int code;              /* bot_err: EAUTH, EPERM, ENOTFOUND, ERATELIMIT, ETRANSPORT, EREMOTE... */
	int http_status;       /* 0 when no response arrived */
	char aws_code[64];     /* e.g. "AccessDeniedException" ("" if none) */
	char message[512];     /* AWS's message, or a transport description */
	char request_id[72];   /* x-amzn-RequestId ("" if none) */
	int attempts;          /* how many tries were made */
};

struct cloud_deployment {
	const char *id, *status;        /* PRIMARY | ACTIVE | INACTIVE */
	const char *rollout_state;      /* COMPLETED | FAILED | IN_PROGRESS | NULL */
	int desired, running, pending, failed;
	double updated_at;              /* epoch seconds, 0 if unknown */
	/* Appended for restart/rollback (issue 17). */
	const char *task_definition;    /* the deployment's task definition ARN (NULL if not told) */
	double created_at;              /* epoch seconds, 0 if unknown */
};

struct cloud_event {
	const char *message;
	double created_at;
};

struct cloud_service {
	const char *name, *cluster, *arn, *status; /* status: ACTIVE | DRAINING | INACTIVE */
	int desired, running, pending;
	const struct cloud_deployment *deployments;
	size_t n_deployments;
	const struct cloud_event *events; /* newest first */
	size_t n_events;
	/* Appended for restart/rollback (issue 17): the service's current
	 * task definition ARN (NULL if not told). */
	const char *task_definition;
};

/* A metric series over a window: values[i] at times[i] (ascending). */
struct cloud_series {
	const char *name;      /* "CPUUtilization" */
	const char *stat;      /* "Average" | "Maximum" */
	int period_s;
	const double *values;
	const double *times;
	size_t n;              /* 0 = no data (e.g. no running tasks), not zero */
};

struct cloud_metrics {
	struct cloud_series cpu_avg, cpu_max, mem_avg, mem_max;
	double start, end;     /* the window, epoch seconds */
};

struct cloud_alarm {
	const char *name, *state, *reason, *metric;
	double threshold;
	double updated_at;
};

typedef void (*cloud_describe_cb)(void *ud, const struct cloud_error *err,
				  const struct cloud_service *svc);
typedef void (*cloud_scale_cb)(void *ud, const struct cloud_error *err,
			       const struct cloud_service *svc_after);
typedef void (*cloud_metrics_cb)(void *ud, const struct cloud_error *err,
				 const struct cloud_metrics *m);
typedef void (*cloud_alarms_cb)(void *ud, const struct cloud_error *err,
				const struct cloud_alarm *alarms, size_t n);
typedef void (*cloud_notify_cb)(void *ud, const struct cloud_error *err, const char *message_id);

/* An ECS cluster (discovery, --check-config). */
struct cloud_cluster {
	const char *name, *arn, *status; /* ACTIVE | PROVISIONING | DEPROVISIONING | FAILED | INACTIVE */
	int running_tasks, pending_tasks, active_services;
};

typedef void (*cloud_cluster_cb)(void *ud, const struct cloud_error *err,
				 const struct cloud_cluster *cluster);
/* names: service names (not ARNs), sorted. */
typedef void (*cloud_list_cb)(void *ud, const struct cloud_error *err,
			      const char *const *names, size_t n);

/* One CloudWatch alarm state change, however it arrived: an SNS
 * notification (through SQS, with or without raw delivery), an EventBridge
 * "CloudWatch Alarm State Change" event, or found by DescribeAlarms. */
struct cloud_alarm_dim {
	const char *name, *value;
};

struct cloud_alarm_change {
	const char *format;      /* "sns" | "raw" | "eventbridge" | "describe" */
	const char *arn;         /* arn:aws:cloudwatch:<region>:<account>:alarm:<name> */
	const char *name;
	const char *description; /* NULL if none */
	const char *region, *account; /* taken from the ARN */
	const char *state;       /* "ALARM" | "OK" | "INSUFFICIENT_DATA" */
	const char *old_state;   /* NULL if not told */
	const char *reason;      /* NewStateReason ("" if none) */
	int64_t changed_at_ms;   /* StateChangeTime, epoch ms */
	/* What it watches: one metric (namespace, metric, dims), or metric
	 * math (metric_math; namespace/metric then NULL, dims those of the
	 * first metric that has any). */
	const char *namespace_, *metric, *statistic, *comparison;
	const struct cloud_alarm_dim *dims;
	size_t n_dims;
	bool metric_math;
	bool has_threshold;
	double threshold;
	int period_s, evaluation_periods;
};

/* A message taken from a queue (SQS). Exactly one of alarm and error is
 * set: error says, for the log, why the body is not an alarm change we can
 * read (the message is then left to the queue's redrive policy). */
struct cloud_queue_msg {
	const char *id;          /* SQS MessageId */
	const char *receipt;     /* its receipt handle, for delete/defer */
	int receive_count;       /* ApproximateReceiveCount (1 on first delivery) */
	const struct cloud_alarm_change *alarm;
	const char *error;
};

/* n == 0 with err NULL: the long poll ended with no message. */
typedef void (*cloud_queue_cb)(void *ud, const struct cloud_error *err,
			       const struct cloud_queue_msg *msgs, size_t n);
typedef void (*cloud_done_cb)(void *ud, const struct cloud_error *err);
typedef void (*cloud_alarm_states_cb)(void *ud, const struct cloud_error *err,
				      const struct cloud_alarm_change *alarms, size_t n);

/* A task definition revision (DescribeTaskDefinition), for restart and
 * rollback (issue 17). */
struct cloud_container {
	const char *name, *image;
};

struct cloud_task_definition {
	const char *arn, *family, *status; /* status: ACTIVE | INACTIVE | DELETE_IN_PROGRESS */
	int revision;
	const struct cloud_container *containers;
	size_t n_containers;
};

/* arns: task definition ARNs of one family, newest revision first. */
typedef void (*cloud_task_definitions_cb)(void *ud, const struct cloud_error *err,
					  const char *const *arns, size_t n);
typedef void (*cloud_task_definition_cb)(void *ud, const struct cloud_error *err,
					 const struct cloud_task_definition *td);

struct cloud;

/* Work a person asked for, as a whole, for admission (ops->admit). */
enum cloud_ask {
	CLOUD_ASK_SERVICE_READ = 0, /* describe + metrics + alarms of one service */
};

struct cloud_ops {
	const char *name;
	/* DescribeServices for one service. A missing service is an error with
	 * code BOT_ENOTFOUND. */
	int (*describe)(struct cloud *c, const char *cluster, const char *service,
			cloud_describe_cb cb, void *ud);
	/* UpdateService desiredCount (absolute; idempotent). */
	int (*scale)(struct cloud *c, const char *cluster, const char *service, int desired,
		     bool force_new_deployment, cloud_scale_cb cb, void *ud);
	/* CPU and memory (average and max) over the last `minutes`. */
	int (*metrics)(struct cloud *c, const char *cluster, const char *service, int minutes,
		       cloud_metrics_cb cb, void *ud);
	/* Alarms in ALARM state whose dimensions name this service. */
	int (*alarms)(struct cloud *c, const char *cluster, const char *service,
		      cloud_alarms_cb cb, void *ud);
	/* SNS Publish (never retried automatically: not idempotent). */
	int (*notify)(struct cloud *c, const char *topic_arn, const char *subject,
		      const char *message, cloud_notify_cb cb, void *ud);
	void (*destroy)(struct cloud *c);
	/* Appended for discovery and --check-config (may be NULL in backends
	 * that predate them; check before calling). */
	/* DescribeClusters for one cluster (name or ARN). A missing one is an
	 * error with code BOT_ENOTFOUND. */
	int (*describe_cluster)(struct cloud *c, const char *cluster, cloud_cluster_cb cb, void *ud);
	/* ListServices: every service in cluster (all pages, bounded). */
	int (*list_services)(struct cloud *c, const char *cluster, cloud_list_cb cb, void *ud);
	/* Optional (NULL: always admitted). May `what`, asked by a person,
	 * start now? BOT_EOK, or BOT_EBUSY and *retry_ms when the backend's
	 * budget of requests is spent: the asker is told at once to retry
	 * then, rather than queued into a timeout. The calls spend the budget
	 * when they are made, right after. */
	int (*admit)(struct cloud *c, enum cloud_ask what, uint64_t *retry_ms);
	/* Optional: the backend's own /metrics lines (Prometheus text) into
	 * buf (n bytes, NUL-terminated); returns the length written. */
	size_t (*metrics_text)(struct cloud *c, char *buf, size_t n);
	/* Appended for the alarm intake (optional: NULL in a backend without
	 * it). Queue calls are not spent from the request budget (a long poll
	 * holds a connection, not the account's API rate). */
	/* SQS ReceiveMessage: up to max (1..10) messages, waiting up to
	 * wait_s (0..20) for the first; what is taken stays invisible to other
	 * receivers for visibility_s (0: the queue's default). */
	int (*queue_receive)(struct cloud *c, const char *queue_url, int wait_s, int max,
			     int visibility_s, cloud_queue_cb cb, void *ud);
	/* SQS DeleteMessage: done with it (after its effect is committed). A
	 * dry run does not delete and answers success. */
	int (*queue_delete)(struct cloud *c, const char *queue_url, const char *receipt,
			    cloud_done_cb cb, void *ud);
	/* SQS ChangeMessageVisibility: hand it back in visibility_s (0: now). */
	int (*queue_defer)(struct cloud *c, const char *queue_url, const char *receipt,
			   int visibility_s, cloud_done_cb cb, void *ud);
	/* DescribeAlarms (metric alarms) with these names and/or name
	 * prefixes, all pages (bounded): each one's current state as a change
	 * (format "describe", changed_at_ms from StateTransitionedTimestamp,
	 * else StateUpdatedTimestamp). */
	int (*alarm_states)(struct cloud *c, const char *const *names, size_t n_names,
			    const char *const *prefixes, size_t n_prefixes,
			    cloud_alarm_states_cb cb, void *ud);
	/* Appended for restart and rollback (issue 17); optional (NULL in a
	 * backend without them, check before calling). */
	/* ListTaskDefinitions: the ACTIVE revisions of exactly this family,
	 * newest first, at most CLOUD_MAX_TASK_DEFINITIONS. */
	int (*task_definitions)(struct cloud *c, const char *family, cloud_task_definitions_cb cb,
				void *ud);
	/* DescribeTaskDefinition of "family:revision", "family" (latest
	 * ACTIVE) or an ARN. A missing one is an error (ECS answers it with
	 * ClientException, so the code is not BOT_ENOTFOUND). */
	int (*describe_task_definition)(struct cloud *c, const char *task_definition,
					cloud_task_definition_cb cb, void *ud);
	/* UpdateService taskDefinition (and forceNewDeployment): start a
	 * deployment of that task definition, desiredCount untouched. A dry
	 * run refuses it, like scale. */
	int (*deploy)(struct cloud *c, const char *cluster, const char *service,
		      const char *task_definition, bool force_new_deployment, cloud_scale_cb cb,
		      void *ud);
};

struct cloud {
	const struct cloud_ops *ops;
};

/* Owned copies of callback data (for keeping results past a callback).
 * Each _dup returns NULL on OOM; each _free accepts NULL. */
struct cloud_service *cloud_service_dup(const struct cloud_service *s);
void cloud_service_free(struct cloud_service *s);
struct cloud_metrics *cloud_metrics_dup(const struct cloud_metrics *m);
void cloud_metrics_free(struct cloud_metrics *m);
struct cloud_alarm *cloud_alarms_dup(const struct cloud_alarm *a, size_t n);
void cloud_alarms_free(struct cloud_alarm *a, size_t n);
void cloud_task_definition_free(struct cloud_task_definition *td);

/* The bound on cloud_ops.task_definitions (ListTaskDefinitions pages). */
#define CLOUD_MAX_TASK_DEFINITIONS 100

#endif
