/* cw.h - Amazon CloudWatch over awsJson1_0 (prefix aws_cw_): GetMetricData
 * and DescribeAlarms. The signing name is "monitoring" and X-Amz-Target is
 * GraniteServiceVersion20100801.<Op> (botocore's choice of protocol for this
 * service; client.h does the framing).
 *
 * GetMetricData follows NextToken (at most AWS_CW_MAX_PAGES pages) and hands
 * back each query's points in ascending time order. An empty series means
 * "no data" (ECS publishes only while tasks run), never zero.
 * DescribeAlarms follows NextToken the same way. Bodies and parsers are
 * pure; timestamps are epoch seconds (numbers in JSON; ISO strings, as moto
 * sends for some fields, are accepted too). */
#ifndef ADAPTERS_AWS_CW_H
#define ADAPTERS_AWS_CW_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/aws/client.h"

#define AWS_CW_MAX_PAGES 10
/* Dimensions kept per alarm (CloudWatch allows 30). */
#define AWS_CW_MAX_DIMS 30

struct aws_cw_dim {
	const char *name, *value;
};

struct aws_cw_query {
	const char *id;          /* [a-z][A-Za-z0-9_]*: "cpu_avg" */
	const char *ns;          /* "AWS/ECS" */
	const char *metric;      /* "CPUUtilization" */
	const char *stat;        /* "Average", "Maximum", "Sum", "p99" */
	const struct aws_cw_dim *dims;
	size_t n_dims;
	int period_s;            /* multiple of 60 */
};

struct aws_cw_result {
	char *id, *label, *status; /* status: Complete | PartialData | InternalError | Forbidden */
	double *times, *values;    /* ascending by time after aws_cw_results_sort */
	size_t n;
};

struct aws_cw_results {
	struct aws_cw_result *v;
	size_t n;
	char *next_token;          /* NULL on the last page */
};
void aws_cw_results_clear(struct aws_cw_results *r);
/* The result for id, or NULL. */
const struct aws_cw_result *aws_cw_results_find(const struct aws_cw_results *r, const char *id);

/* The 4 queries behind cloud_metrics: cpu_avg, cpu_max, mem_avg, mem_max
 * on AWS/ECS with ClusterName (a name, not an ARN) + ServiceName. dims must
 * have room for 2 and q for 4; they point into each other and the args. */
void aws_cw_ecs_service_queries(const char *cluster_name, const char *service, int period_s,
				struct aws_cw_dim dims[2], struct aws_cw_query q[4]);
/* Application Load Balancer queries: alb_requests (RequestCount, Sum),
 * alb_5xx (HTTPCode_Target_5XX_Count, Sum), alb_latency (TargetResponseTime,
 * Average). load_balancer is the ARN suffix "app/<name>/<id>"; target_group
 * ("targetgroup/<name>/<id>") may be NULL. Returns the number of dims used. */
size_t aws_cw_alb_queries(const char *load_balancer, const char *target_group, int period_s,
			  struct aws_cw_dim dims[2], struct aws_cw_query q[3]);
/* A period (s) that keeps a window of minutes under ~180 points, >= 60. */
int aws_cw_period_for(int minutes);

char *aws_cw_get_metric_data_body(const struct aws_cw_query *q, size_t n, double start,
				  double end, const char *next_token);
int aws_cw_parse_get_metric_data(const char *body, size_t len, struct aws_cw_results *out,
				 struct bot_error *err);
/* Append page's points to into (by id; new ids are added); sorts. page is
 * emptied. 0 or BOT_ENOMEM. */
int aws_cw_results_merge(struct aws_cw_results *into, struct aws_cw_results *page);
void aws_cw_results_sort(struct aws_cw_results *r);

typedef void (*aws_cw_metrics_cb)(void *ud, const struct cloud_error *err,
				  const struct aws_cw_results *r);
/* Queries are copied. */
int aws_cw_get_metric_data(struct aws_client *c, const char *region, const struct aws_cw_query *q,
			   size_t n, double start, double end, aws_cw_metrics_cb cb, void *ud);

/* ---- alarms ------------------------------------------------------------- */

struct aws_cw_alarm {
	char *name, *arn, *state, *reason, *metric, *ns;
	double threshold, updated_at;
	/* Dimensions; for a metric-math alarm (no MetricName, Metrics[]) those
	 * of the first metric in Metrics that has any. */
	struct { char *name, *value; } *dims;
	size_t n_dims;
	char *description, *statistic, *comparison; /* NULL when absent */
	double transitioned_at;  /* StateTransitionedTimestamp; 0 when absent (moto) */
	int period_s, evaluation_periods;
	bool has_threshold, metric_math;
};

struct aws_cw_alarms {
	struct aws_cw_alarm *v;
	size_t n;
	char *next_token;
};
void aws_cw_alarms_clear(struct aws_cw_alarms *a);

struct aws_cw_alarms_filter {
	const char *state;           /* "ALARM" | "OK" | "INSUFFICIENT_DATA" | NULL */
	const char *prefix;          /* AlarmNamePrefix, or NULL */
	const char *const *names;    /* AlarmNames (<= 100), or NULL */
	size_t n_names;
	int max_records;             /* 1..100; 0 = 100 */
};

char *aws_cw_describe_alarms_body(const struct aws_cw_alarms_filter *f, const char *next_token);
int aws_cw_parse_describe_alarms(const char *body, size_t len, struct aws_cw_alarms *out,
				 struct bot_error *err);
/* Do the alarm's dimensions name this ECS service: ServiceName == service
 * and, when a ClusterName dimension is present, ClusterName == cluster_name? */
bool aws_cw_alarm_names_service(const struct aws_cw_alarm *a, const char *cluster_name,
				const char *service);

typedef void (*aws_cw_alarms_cb)(void *ud, const struct cloud_error *err,
				 const struct aws_cw_alarms *a);
/* All pages (metric alarms only). The filter is copied. */
int aws_cw_describe_alarms(struct aws_client *c, const char *region,
			   const struct aws_cw_alarms_filter *f, aws_cw_alarms_cb cb, void *ud);

#endif
