/* Tests for adapters/aws/cw: GetMetricData and DescribeAlarms bodies, every
 * reply shape (values, empty "no data", partial pages merged, descending
 * order sorted, malformed), the ECS/ALB query sets and the alarm filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/cw.h"

static void test_metric_body(void **state)
{
	struct aws_cw_dim dims[2];
	struct aws_cw_query q[4];
	(void)state;
	aws_cw_ecs_service_queries("mysecretword-cluster", "mysecretword-service", 60, dims, q);
	char *b = aws_cw_get_metric_data_body(q, 1, 1795467600, 1795469400, NULL);
	assert_string_equal(b,
		"{\"MetricDataQueries\":[{\"Id\":\"cpu_avg\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"AWS/ECS\","
		"\"MetricName\":\"CPUUtilization\",\"Dimensions\":[{\"Name\":\"ClusterName\",\"Value\":\"mysecretword-cluster\"},"
		"{\"Name\":\"ServiceName\",\"Value\":\"mysecretword-service\"}]},\"Period\":60,\"Stat\":\"Average\"},"
		"\"ReturnData\":true}],\"StartTime\":1795467600,\"EndTime\":1795469400,\"ScanBy\":\"TimestampAscending\"}");
	free(b);
	b = aws_cw_get_metric_data_body(q, 4, 1.5, 100, "tok");
	json_t *j = json_loads(b, 0, NULL);
	free(b);
	assert_int_equal(json_array_size(json_object_get(j, "MetricDataQueries")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "NextToken")), "tok");
	assert_true(json_is_real(json_object_get(j, "StartTime")));
	const char *ids[] = { "cpu_avg", "cpu_max", "mem_avg", "mem_max" };
	const char *stats[] = { "Average", "Maximum", "Average", "Maximum" };
	for (int i = 0; i < 4; i++) {
		json_t *x = json_array_get(json_object_get(j, "MetricDataQueries"), (size_t)i);
		assert_string_equal(json_string_value(json_object_get(x, "Id")), ids[i]);
		assert_string_equal(json_string_value(json_object_get(json_object_get(x, "MetricStat"), "Stat")), stats[i]);
	}
	json_decref(j);
	/* Refused: no queries, a query without an id, NULL dimension value. */
	assert_null(aws_cw_get_metric_data_body(q, 0, 0, 1, NULL));
	struct aws_cw_query bad = q[0];
	bad.id = NULL;
	assert_null(aws_cw_get_metric_data_body(&bad, 1, 0, 1, NULL));
	struct aws_cw_dim nd[1] = { { "ServiceName", NULL } };
	bad = q[0];
	bad.dims = nd;
	bad.n_dims = 1;
	assert_null(aws_cw_get_metric_data_body(&bad, 1, 0, 1, NULL));
}

static void test_alb_and_period(void **state)
{
	struct aws_cw_dim dims[2];
	struct aws_cw_query q[3];
	(void)state;
	assert_int_equal(aws_cw_alb_queries("app/web/50dc6c495c0c9188", "targetgroup/web/6d0ecf831eec9f09", 300, dims, q), 2);
	assert_string_equal(q[0].ns, "AWS/ApplicationELB");
	assert_string_equal(q[0].metric, "RequestCount");
	assert_string_equal(q[0].stat, "Sum");
	assert_string_equal(q[1].metric, "HTTPCode_Target_5XX_Count");
	assert_string_equal(q[2].metric, "TargetResponseTime");
	assert_string_equal(q[2].stat, "Average");
	assert_string_equal(q[2].dims[1].name, "TargetGroup");
	assert_int_equal(aws_cw_alb_queries("app/web/1", NULL, 60, dims, q), 1);
	assert_int_equal(q[0].n_dims, 1);
	char *b = aws_cw_get_metric_data_body(q, 3, 0, 600, NULL);
	assert_non_null(strstr(b, "\"Name\":\"LoadBalancer\",\"Value\":\"app/web/1\""));
	free(b);
	assert_int_equal(aws_cw_period_for(30), 60);
	assert_int_equal(aws_cw_period_for(180), 60);
	assert_int_equal(aws_cw_period_for(181), 120);
	assert_int_equal(aws_cw_period_for(24 * 60), 480);
}

static void test_metric_reply(void **state)
{
	struct aws_cw_results r;
	struct bot_error err;
	(void)state;
	/* Descending timestamps (the API default) come back ascending. */
	const char *body =
		"{\"MetricDataResults\":[{\"Id\":\"cpu_avg\",\"Label\":\"CPUUtilization\",\"StatusCode\":\"Complete\","
		"\"Timestamps\":[1795469340,1795469280,1795469220],\"Values\":[99.0,98.5,40.25]},"
		"{\"Id\":\"mem_avg\",\"Label\":\"MemoryUtilization\",\"StatusCode\":\"Complete\",\"Timestamps\":[],\"Values\":[]}],"
		"\"Messages\":[]}";
	assert_int_equal(aws_cw_parse_get_metric_data(body, strlen(body), &r, &err), 0);
	assert_int_equal(r.n, 2);
	assert_null(r.next_token);
	const struct aws_cw_result *cpu = aws_cw_results_find(&r, "cpu_avg");
	assert_non_null(cpu);
	assert_int_equal(cpu->n, 3);
	assert_true(cpu->times[0] == 1795469220 && cpu->values[0] == 40.25);
	assert_true(cpu->times[2] == 1795469340 && cpu->values[2] == 99.0);
	assert_string_equal(cpu->status, "Complete");
	assert_int_equal(aws_cw_results_find(&r, "mem_avg")->n, 0); /* no data */
	assert_null(aws_cw_results_find(&r, "nope"));
	aws_cw_results_clear(&r);

	/* Empty and malformed. */
	assert_int_equal(aws_cw_parse_get_metric_data("{\"MetricDataResults\":[]}", 24, &r, &err), 0);
	assert_int_equal(r.n, 0);
	aws_cw_results_clear(&r);
	const char *uneven = "{\"MetricDataResults\":[{\"Id\":\"a\",\"Timestamps\":[1,2],\"Values\":[1]}]}";
	assert_int_equal(aws_cw_parse_get_metric_data(uneven, strlen(uneven), &r, &err), BOT_EPARSE);
	const char *noid = "{\"MetricDataResults\":[{\"Timestamps\":[],\"Values\":[]}]}";
	assert_int_equal(aws_cw_parse_get_metric_data(noid, strlen(noid), &r, &err), BOT_EPARSE);
	const char *badv = "{\"MetricDataResults\":[{\"Id\":\"a\",\"Timestamps\":[1],\"Values\":[\"x\"]}]}";
	assert_int_equal(aws_cw_parse_get_metric_data(badv, strlen(badv), &r, &err), BOT_EPARSE);
	assert_int_equal(aws_cw_parse_get_metric_data("nope", 4, &r, &err), BOT_EPARSE);
}

static void test_metric_pages_merge(void **state)
{
	struct aws_cw_results acc = {0}, page;
	struct bot_error err;
	(void)state;
	const char *p1 = "{\"MetricDataResults\":[{\"Id\":\"cpu_avg\",\"StatusCode\":\"PartialData\","
			 "\"Timestamps\":[\"2026-11-23T21:02:00Z\",\"2026-11-23T21:01:00Z\"],\"Values\":[2,1]}],\"NextToken\":\"p2\"}";
	const char *p2 = "{\"MetricDataResults\":[{\"Id\":\"cpu_avg\",\"StatusCode\":\"Complete\","
			 "\"Timestamps\":[\"2026-11-23T21:00:00Z\"],\"Values\":[0]},"
			 "{\"Id\":\"cpu_max\",\"StatusCode\":\"Complete\",\"Timestamps\":[1],\"Values\":[5]}]}";
	assert_int_equal(aws_cw_parse_get_metric_data(p1, strlen(p1), &page, &err), 0);
	assert_int_equal(aws_cw_results_merge(&acc, &page), 0);
	assert_string_equal(acc.next_token, "p2");
	assert_int_equal(aws_cw_parse_get_metric_data(p2, strlen(p2), &page, &err), 0);
	assert_int_equal(aws_cw_results_merge(&acc, &page), 0);
	assert_null(acc.next_token);
	assert_int_equal(acc.n, 2);
	const struct aws_cw_result *cpu = aws_cw_results_find(&acc, "cpu_avg");
	assert_int_equal(cpu->n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(cpu->values[i] == (double)i); /* sorted across pages */
	assert_true(cpu->times[1] - cpu->times[0] == 60);
	assert_string_equal(cpu->status, "Complete");
	assert_int_equal(aws_cw_results_find(&acc, "cpu_max")->n, 1);
	aws_cw_results_clear(&acc);
}

static void test_alarms_body(void **state)
{
	(void)state;
	char *b = aws_cw_describe_alarms_body(&(struct aws_cw_alarms_filter){ .state = "ALARM" }, NULL);
	assert_string_equal(b, "{\"StateValue\":\"ALARM\",\"AlarmTypes\":[\"MetricAlarm\"],\"MaxRecords\":100}");
	free(b);
	const char *names[] = { "a", "b" };
	b = aws_cw_describe_alarms_body(&(struct aws_cw_alarms_filter){ .names = names, .n_names = 2,
		.prefix = "mysecretword-", .max_records = 10 }, "next");
	assert_string_equal(b, "{\"AlarmNames\":[\"a\",\"b\"],\"AlarmNamePrefix\":\"mysecretword-\","
			       "\"AlarmTypes\":[\"MetricAlarm\"],\"MaxRecords\":10,\"NextToken\":\"next\"}");
	free(b);
	assert_null(aws_cw_describe_alarms_body(NULL, NULL));
}

static void test_alarms_reply_and_filter(void **state)
{
	struct aws_cw_alarms a;
	struct bot_error err;
	(void)state;
	const char *body =
		"{\"MetricAlarms\":[{\"AlarmName\":\"mysecretword-service-cpu-high\",\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:1:alarm:x\","
		"\"StateValue\":\"ALARM\",\"StateReason\":\"Threshold Crossed: CPU 99% > 80%\",\"StateUpdatedTimestamp\":1795469000.25,"
		"\"MetricName\":\"CPUUtilization\",\"Namespace\":\"AWS/ECS\",\"Threshold\":80.0,"
		"\"Dimensions\":[{\"Name\":\"ClusterName\",\"Value\":\"mysecretword-cluster\"},{\"Name\":\"ServiceName\",\"Value\":\"mysecretword-service\"}]},"
		"{\"AlarmName\":\"svc-only\",\"StateValue\":\"ALARM\",\"StateUpdatedTimestamp\":\"2026-11-23T21:48:34.592495Z\","
		"\"Threshold\":1,\"Dimensions\":[{\"Name\":\"ServiceName\",\"Value\":\"mysecretword-service\"}]},"
		"{\"AlarmName\":\"other-cluster\",\"StateValue\":\"ALARM\",\"Dimensions\":[{\"Name\":\"ClusterName\",\"Value\":\"x\"},"
		"{\"Name\":\"ServiceName\",\"Value\":\"mysecretword-service\"}]},"
		"{\"AlarmName\":\"alb\",\"StateValue\":\"ALARM\",\"Dimensions\":[{\"Name\":\"LoadBalancer\",\"Value\":\"app/x/1\"}]}],"
		"\"CompositeAlarms\":[],\"NextToken\":\"more\"}";
	assert_int_equal(aws_cw_parse_describe_alarms(body, strlen(body), &a, &err), 0);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.next_token, "more");
	assert_string_equal(a.v[0].state, "ALARM");
	assert_string_equal(a.v[0].reason, "Threshold Crossed: CPU 99% > 80%");
	assert_string_equal(a.v[0].metric, "CPUUtilization");
	assert_string_equal(a.v[0].ns, "AWS/ECS");
	assert_true(a.v[0].threshold == 80.0);
	assert_true(a.v[0].updated_at == 1795469000.25);
	assert_true(a.v[1].updated_at > 1795470514.5 && a.v[1].updated_at < 1795470514.7);
	assert_int_equal(a.v[0].n_dims, 2);
	assert_true(aws_cw_alarm_names_service(&a.v[0], "mysecretword-cluster", "mysecretword-service"));
	assert_true(aws_cw_alarm_names_service(&a.v[1], "mysecretword-cluster", "mysecretword-service"));
	assert_false(aws_cw_alarm_names_service(&a.v[2], "mysecretword-cluster", "mysecretword-service"));
	assert_false(aws_cw_alarm_names_service(&a.v[3], "mysecretword-cluster", "mysecretword-service"));
	assert_false(aws_cw_alarm_names_service(&a.v[0], "mysecretword-cluster", "mysecretword"));
	aws_cw_alarms_clear(&a);

	assert_int_equal(aws_cw_parse_describe_alarms("{\"MetricAlarms\":[]}", 19, &a, &err), 0);
	assert_int_equal(a.n, 0);
	assert_null(a.next_token);
	aws_cw_alarms_clear(&a);
	assert_int_equal(aws_cw_parse_describe_alarms("{}", 2, &a, &err), 0);
	aws_cw_alarms_clear(&a);
	assert_int_equal(aws_cw_parse_describe_alarms("{\"MetricAlarms\":[{}]}", 21, &a, &err), BOT_EPARSE);
	assert_int_equal(aws_cw_parse_describe_alarms("{\"MetricAlarms\":1}", 18, &a, &err), BOT_EPARSE);
}

/* What the alarm intake's alarm_states reads besides: description,
 * statistic, comparison, periods, StateTransitionedTimestamp (absent in
 * moto: 0), and a metric-math alarm's dims from its first metric with any. */
static void test_alarms_reply_intake_fields(void **state)
{
	struct aws_cw_alarms a;
	struct bot_error err = { .msg = "" };
	const char *body =
		"{\"MetricAlarms\":[{\"AlarmName\":\"cpu\",\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:1:alarm:cpu\","
		"\"AlarmDescription\":\"CPU\",\"StateValue\":\"ALARM\",\"StateReason\":\"r\","
		"\"StateUpdatedTimestamp\":1720192900.5,\"StateTransitionedTimestamp\":1720192844.959,"
		"\"MetricName\":\"CPUUtilization\",\"Namespace\":\"AWS/ECS\",\"Statistic\":\"Average\","
		"\"Dimensions\":[{\"Name\":\"ServiceName\",\"Value\":\"web\"}],\"Period\":60,"
		"\"EvaluationPeriods\":3,\"Threshold\":80.0,\"ComparisonOperator\":\"GreaterThanThreshold\"},"
		"{\"AlarmName\":\"rate\",\"StateValue\":\"OK\",\"StateUpdatedTimestamp\":\"2024-07-05T15:20:44.959Z\","
		"\"EvaluationPeriods\":2,\"ComparisonOperator\":\"GreaterThanThreshold\",\"Metrics\":["
		"{\"Id\":\"e\",\"Expression\":\"m1/m2\"},{\"Id\":\"m1\",\"MetricStat\":{\"Metric\":"
		"{\"Namespace\":\"N\",\"MetricName\":\"M\",\"Dimensions\":[]},\"Period\":300,\"Stat\":\"Sum\"}},"
		"{\"Id\":\"m2\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"N\",\"MetricName\":\"M2\","
		"\"Dimensions\":[{\"Name\":\"LoadBalancer\",\"Value\":\"app/x/1\"}]},\"Period\":60,"
		"\"Stat\":\"Sum\"}}]}]}";
	(void)state;

	assert_int_equal(aws_cw_parse_describe_alarms(body, strlen(body), &a, &err), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[0].description, "CPU");
	assert_string_equal(a.v[0].statistic, "Average");
	assert_string_equal(a.v[0].comparison, "GreaterThanThreshold");
	assert_int_equal(a.v[0].period_s, 60);
	assert_int_equal(a.v[0].evaluation_periods, 3);
	assert_true(a.v[0].has_threshold);
	assert_false(a.v[0].metric_math);
	assert_true(a.v[0].transitioned_at == 1720192844.959);
	assert_true(a.v[0].updated_at == 1720192900.5);
	assert_int_equal(a.v[0].n_dims, 1);

	assert_true(a.v[1].metric_math);
	assert_null(a.v[1].metric);
	assert_false(a.v[1].has_threshold);
	assert_true(a.v[1].transitioned_at == 0);
	assert_true(a.v[1].updated_at > 1720192844.9 && a.v[1].updated_at < 1720192845.0);
	assert_int_equal(a.v[1].period_s, 300); /* the first MetricStat's */
	assert_int_equal(a.v[1].n_dims, 1);     /* m2's: m1 has none */
	assert_string_equal(a.v[1].dims[0].name, "LoadBalancer");
	assert_string_equal(a.v[1].dims[0].value, "app/x/1");
	aws_cw_alarms_clear(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_body),
		cmocka_unit_test(test_alb_and_period),
		cmocka_unit_test(test_metric_reply),
		cmocka_unit_test(test_metric_pages_merge),
		cmocka_unit_test(test_alarms_body),
		cmocka_unit_test(test_alarms_reply_and_filter),
		cmocka_unit_test(test_alarms_reply_intake_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
