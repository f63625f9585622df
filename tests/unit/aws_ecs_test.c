/* Tests for adapters/aws/ecs: request bodies byte for byte and every reply
 * shape (full service with deployments and events, failures, empty,
 * malformed; UpdateService; ListServices pages; DescribeClusters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/ecs.h"

static void test_bodies(void **state)
{
	(void)state;
	const char *names[] = { "mysecretword-service" };
	char *b = aws_ecs_describe_services_body("mysecretword-cluster", names, 1);
	assert_string_equal(b, "{\"cluster\":\"mysecretword-cluster\",\"services\":[\"mysecretword-service\"]}");
	free(b);
	b = aws_ecs_update_service_body("c", "s", 100, false);
	assert_string_equal(b, "{\"cluster\":\"c\",\"service\":\"s\",\"desiredCount\":100}");
	free(b);
	b = aws_ecs_update_service_body("c", "s", 0, true);
	assert_string_equal(b, "{\"cluster\":\"c\",\"service\":\"s\",\"desiredCount\":0,\"forceNewDeployment\":true}");
	free(b);
	b = aws_ecs_list_services_body("c", "tok/+=", 0);
	assert_string_equal(b, "{\"cluster\":\"c\",\"maxResults\":100,\"nextToken\":\"tok/+=\"}");
	free(b);
	b = aws_ecs_list_services_body("c", NULL, 5);
	assert_string_equal(b, "{\"cluster\":\"c\",\"maxResults\":5}");
	free(b);
	const char *cl[] = { "a", "arn:aws:ecs:us-east-1:1:cluster/b" };
	b = aws_ecs_describe_clusters_body(cl, 2);
	assert_string_equal(b, "{\"clusters\":[\"a\",\"arn:aws:ecs:us-east-1:1:cluster/b\"]}");
	free(b);
	/* Quotes and non-ASCII are JSON-escaped, not pasted. */
	const char *odd[] = { "a\"b\\c\xc3\xa9" };
	b = aws_ecs_describe_services_body("c", odd, 1);
	assert_string_equal(b, "{\"cluster\":\"c\",\"services\":[\"a\\\"b\\\\c\xc3\xa9\"]}");
	free(b);
	/* Refused: too many names (ECS takes 10), negative counts, NULLs. */
	const char *eleven[11] = { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11" };
	assert_null(aws_ecs_describe_services_body("c", eleven, 11));
	assert_null(aws_ecs_describe_services_body("c", names, 0));
	assert_null(aws_ecs_update_service_body("c", "s", -1, false));
	assert_null(aws_ecs_update_service_body(NULL, "s", 1, false));
}

/* A DescribeServices reply shaped like real ECS (trimmed). */
static const char describe_full[] =
	"{\"services\":[{\"serviceArn\":\"arn:aws:ecs:us-east-1:123456789012:service/mysecretword-cluster/mysecretword-service\","
	"\"serviceName\":\"mysecretword-service\",\"clusterArn\":\"arn:aws:ecs:us-east-1:123456789012:cluster/mysecretword-cluster\","
	"\"status\":\"ACTIVE\",\"desiredCount\":4,\"runningCount\":2,\"pendingCount\":2,\"launchType\":\"FARGATE\","
	"\"taskDefinition\":\"arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:2\","
	"\"deployments\":[{\"id\":\"ecs-svc/111\",\"status\":\"PRIMARY\","
	"\"taskDefinition\":\"arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:2\",\"desiredCount\":4,\"pendingCount\":2,"
	"\"runningCount\":1,\"failedTasks\":3,\"createdAt\":1795469000.5,\"updatedAt\":1795469553.213,"
	"\"rolloutState\":\"IN_PROGRESS\",\"rolloutStateReason\":\"ECS deployment ecs-svc/111 in progress.\"},"
	"{\"id\":\"ecs-svc/000\",\"status\":\"ACTIVE\","
	"\"taskDefinition\":\"arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:1\",\"desiredCount\":1,\"pendingCount\":0,\"runningCount\":1,"
	"\"failedTasks\":0,\"createdAt\":1795460000,\"rolloutState\":\"COMPLETED\"}],"
	"\"events\":[{\"id\":\"e1\",\"createdAt\":1795469500.0,\"message\":\"(service mysecretword-service) has started 2 tasks\"},"
	"{\"id\":\"e3\",\"createdAt\":1795469600.0,\"message\":\"(service mysecretword-service) newest\"},"
	"{\"id\":\"e2\",\"createdAt\":1795469400.0,\"message\":\"(service mysecretword-service) oldest\"}]}],"
	"\"failures\":[]}";

static void test_describe_full(void **state)
{
	struct aws_ecs_services r;
	struct bot_error err;
	(void)state;
	assert_int_equal(aws_ecs_parse_describe_services(describe_full, strlen(describe_full), "hint", &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.n_failures, 0);
	const struct cloud_service *s = r.v[0];
	assert_string_equal(s->name, "mysecretword-service");
	assert_string_equal(s->cluster, "mysecretword-cluster"); /* from clusterArn, not the hint */
	assert_string_equal(s->status, "ACTIVE");
	assert_int_equal(s->desired, 4);
	assert_int_equal(s->running, 2);
	assert_int_equal(s->pending, 2);
	assert_int_equal(s->n_deployments, 2);
	assert_string_equal(s->deployments[0].id, "ecs-svc/111");
	assert_string_equal(s->deployments[0].status, "PRIMARY");
	assert_string_equal(s->deployments[0].rollout_state, "IN_PROGRESS");
	assert_int_equal(s->deployments[0].failed, 3);
	assert_int_equal(s->deployments[0].running, 1);
	assert_true(s->deployments[0].updated_at > 1795469553.2 && s->deployments[0].updated_at < 1795469553.3);
	assert_true(s->deployments[1].updated_at == 1795460000.0); /* createdAt when no updatedAt */
	assert_string_equal(s->deployments[1].rollout_state, "COMPLETED");
	/* The task definitions: the service's current one and each deployment's. */
	assert_string_equal(s->task_definition,
			    "arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:2");
	assert_string_equal(s->deployments[0].task_definition,
			    "arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:2");
	assert_string_equal(s->deployments[1].task_definition,
			    "arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:1");
	assert_true(s->deployments[0].created_at == 1795469000.5); /* createdAt, not updatedAt */
	assert_true(s->deployments[1].created_at == 1795460000.0);
	assert_int_equal(s->n_events, 3);
	assert_non_null(strstr(s->events[0].message, "newest")); /* newest first */
	assert_non_null(strstr(s->events[2].message, "oldest"));
	assert_true(s->events[0].created_at > s->events[1].created_at);
	/* The result can outlive the reply through cloud_service_dup. */
	struct cloud_service *d = cloud_service_dup(s);
	aws_ecs_services_clear(&r);
	assert_string_equal(d->deployments[1].id, "ecs-svc/000");
	assert_string_equal(d->deployments[1].task_definition,
			    "arn:aws:ecs:us-east-1:123456789012:task-definition/mysecretword-task:1");
	assert_true(d->deployments[1].created_at == 1795460000.0);
	assert_non_null(strstr(d->task_definition, "mysecretword-task:2"));
	cloud_service_free(d);
}

static void test_describe_failures_and_empty(void **state)
{
	struct aws_ecs_services r;
	struct bot_error err;
	(void)state;
	const char *missing = "{\"services\":[],\"failures\":[{\"arn\":\"arn:aws:ecs:us-east-1:123456789012:service/nope-service\",\"reason\":\"MISSING\"}]}";
	assert_int_equal(aws_ecs_parse_describe_services(missing, strlen(missing), NULL, &r, &err), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.n_failures, 1);
	assert_string_equal(r.failures[0].reason, "MISSING");
	assert_null(r.failures[0].detail);
	aws_ecs_services_clear(&r);

	assert_int_equal(aws_ecs_parse_describe_services("{}", 2, NULL, &r, &err), 0);
	assert_int_equal(r.n, 0);
	aws_ecs_services_clear(&r);

	/* moto: no events, no clusterArn -> the hint; ISO timestamps accepted. */
	const char *bare = "{\"services\":[{\"serviceName\":\"s\",\"status\":\"DRAINING\",\"desiredCount\":0,"
			   "\"deployments\":[{\"id\":\"d\",\"status\":\"PRIMARY\",\"updatedAt\":\"2026-11-23T21:48:34.5+00:00\"}],\"events\":[]}]}";
	assert_int_equal(aws_ecs_parse_describe_services(bare, strlen(bare), "arn:aws:ecs:eu-west-1:1:cluster/hinted", &r, &err), 0);
	assert_string_equal(r.v[0]->cluster, "hinted");
	assert_int_equal(r.v[0]->n_events, 0);
	assert_null(r.v[0]->deployments[0].rollout_state);
	assert_null(r.v[0]->task_definition); /* not told: NULL */
	assert_null(r.v[0]->deployments[0].task_definition);
	assert_true(r.v[0]->deployments[0].created_at == 0);
	assert_true(r.v[0]->deployments[0].updated_at == 1795470514.5);
	aws_ecs_services_clear(&r);

	/* Malformed. */
	assert_int_equal(aws_ecs_parse_describe_services("", 0, NULL, &r, &err), BOT_EPARSE);
	assert_int_equal(aws_ecs_parse_describe_services("[]", 2, NULL, &r, &err), BOT_EPARSE);
	assert_int_equal(aws_ecs_parse_describe_services("{\"services\":{}}", 15, NULL, &r, &err), BOT_EPARSE);
	const char *noname = "{\"services\":[{\"status\":\"ACTIVE\"}]}";
	assert_int_equal(aws_ecs_parse_describe_services(noname, strlen(noname), NULL, &r, &err), BOT_EPARSE);
	assert_non_null(strstr(err.msg, "serviceName"));
}

static void test_events_capped(void **state)
{
	char body[16384];
	size_t o = 0;
	struct aws_ecs_services r;
	struct bot_error err;
	(void)state;
	o += (size_t)snprintf(body + o, sizeof body - o, "{\"services\":[{\"serviceName\":\"s\",\"events\":[");
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(body + o, sizeof body - o, "%s{\"createdAt\":%d,\"message\":\"m%d\"}",
				      i ? "," : "", 1000 + i, i);
	snprintf(body + o, sizeof body - o, "]}]}");
	assert_int_equal(aws_ecs_parse_describe_services(body, strlen(body), NULL, &r, &err), 0);
	assert_int_equal(r.v[0]->n_events, AWS_ECS_MAX_EVENTS);
	assert_string_equal(r.v[0]->events[0].message, "m29");
	assert_string_equal(r.v[0]->events[AWS_ECS_MAX_EVENTS - 1].message, "m10");
	aws_ecs_services_clear(&r);
}

static void test_update_reply(void **state)
{
	struct cloud_service *s;
	struct bot_error err;
	(void)state;
	const char *ok = "{\"service\":{\"serviceName\":\"mysecretword-service\",\"clusterArn\":\"arn:aws:ecs:us-east-1:1:cluster/c\","
			 "\"desiredCount\":100,\"runningCount\":100,\"pendingCount\":0,\"status\":\"ACTIVE\"}}";
	assert_int_equal(aws_ecs_parse_update_service(ok, strlen(ok), NULL, &s, &err), 0);
	assert_int_equal(s->desired, 100);
	assert_string_equal(s->cluster, "c");
	assert_int_equal(s->n_deployments, 0);
	cloud_service_free(s);
	assert_int_equal(aws_ecs_parse_update_service("{}", 2, NULL, &s, &err), BOT_EPARSE);
	assert_null(s);
}

static void test_list_reply(void **state)
{
	struct aws_ecs_list l;
	struct bot_error err;
	(void)state;
	const char *page = "{\"serviceArns\":[\"arn:aws:ecs:us-east-1:1:service/c/web\",\"arn:aws:ecs:us-east-1:1:service/worker\"],"
			   "\"nextToken\":\"next/page+1=\"}";
	assert_int_equal(aws_ecs_parse_list_services(page, strlen(page), &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "web");      /* new-style ARN */
	assert_string_equal(l.names[1], "worker");   /* old-style ARN */
	assert_string_equal(l.next_token, "next/page+1=");
	aws_ecs_list_clear(&l);
	assert_int_equal(aws_ecs_parse_list_services("{\"serviceArns\":[],\"nextToken\":\"\"}", 33, &l, &err), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.next_token);
	aws_ecs_list_clear(&l);
	assert_int_equal(aws_ecs_parse_list_services("{\"serviceArns\":[1]}", 19, &l, &err), BOT_EPARSE);
}

static void test_clusters_reply(void **state)
{
	struct aws_ecs_clusters c;
	struct bot_error err;
	(void)state;
	const char *body = "{\"clusters\":[{\"clusterArn\":\"arn:aws:ecs:us-east-1:1:cluster/mysecretword-cluster\","
			   "\"clusterName\":\"mysecretword-cluster\",\"status\":\"ACTIVE\",\"runningTasksCount\":3,"
			   "\"pendingTasksCount\":1,\"activeServicesCount\":2}],"
			   "\"failures\":[{\"arn\":\"arn:aws:ecs:us-east-1:1:cluster/nope\",\"reason\":\"MISSING\"}]}";
	assert_int_equal(aws_ecs_parse_describe_clusters(body, strlen(body), &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.v[0].name, "mysecretword-cluster");
	assert_string_equal(c.v[0].status, "ACTIVE");
	assert_int_equal(c.v[0].running_tasks, 3);
	assert_int_equal(c.v[0].pending_tasks, 1);
	assert_int_equal(c.v[0].active_services, 2);
	assert_int_equal(c.n_failures, 1);
	assert_string_equal(c.failures[0].reason, "MISSING");
	aws_ecs_clusters_clear(&c);
	const char *arn_only = "{\"clusters\":[{\"clusterArn\":\"arn:aws:ecs:us-east-1:1:cluster/x\"}]}";
	assert_int_equal(aws_ecs_parse_describe_clusters(arn_only, strlen(arn_only), &c, &err), 0);
	assert_string_equal(c.v[0].name, "x");
	aws_ecs_clusters_clear(&c);
	assert_int_equal(aws_ecs_parse_describe_clusters("{\"clusters\":[{}]}", 17, &c, &err), BOT_EPARSE);
}

/* Counts are ints. A number outside int range used to be cast from double
 * to int (undefined behaviour, found by fuzzing DescribeServices under
 * UBSan; x86 gave INT_MIN); it and a fraction are now a parse error that
 * names the field. A real with no fraction (4.0) is still a count. */
static void test_counts_out_of_int_range(void **state)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"services\":[{\"serviceName\":\"s\",\"desiredCount\":7.9547e+09}]}",
		 "desiredCount: 7.9547e+09 is not"},
		{"{\"services\":[{\"serviceName\":\"s\",\"runningCount\":-1e300}]}", "runningCount"},
		{"{\"services\":[{\"serviceName\":\"s\",\"pendingCount\":4294967296}]}",
		 "pendingCount: 4294967296 is not"},
		{"{\"services\":[{\"serviceName\":\"s\",\"deployments\":[{\"id\":\"d\","
		 "\"failedTasks\":2.5}]}]}", "failedTasks: 2.5 is not"},
	};
	struct aws_ecs_services r;
	struct aws_ecs_clusters c;
	struct cloud_service *one;
	struct bot_error err;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		assert_int_equal(aws_ecs_parse_describe_services(bad[i].body, strlen(bad[i].body), NULL,
								 &r, &err), BOT_EPARSE);
		assert_non_null(strstr(err.msg, bad[i].field));
		assert_non_null(strstr(err.msg, "whole number in int range"));
		assert_int_equal(r.n, 0);
	}
	const char *upd = "{\"service\":{\"serviceName\":\"s\",\"desiredCount\":1e10}}";
	assert_int_equal(aws_ecs_parse_update_service(upd, strlen(upd), NULL, &one, &err), BOT_EPARSE);
	assert_null(one);
	const char *cl = "{\"clusters\":[{\"clusterName\":\"c\",\"runningTasksCount\":3e9}]}";
	assert_int_equal(aws_ecs_parse_describe_clusters(cl, strlen(cl), &c, &err), BOT_EPARSE);
	assert_non_null(strstr(err.msg, "runningTasksCount"));
	assert_int_equal(c.n, 0);

	/* the edges of int, and a real with no fraction, are counts */
	const char *ok = "{\"services\":[{\"serviceName\":\"s\",\"desiredCount\":2147483647,"
			 "\"runningCount\":4.0,\"pendingCount\":-2147483648}]}";
	assert_int_equal(aws_ecs_parse_describe_services(ok, strlen(ok), NULL, &r, &err), 0);
	assert_int_equal(r.v[0]->desired, 2147483647);
	assert_int_equal(r.v[0]->running, 4);
	assert_int_equal(r.v[0]->pending, -2147483647 - 1);
	aws_ecs_services_clear(&r);
}

static void test_taskdef_bodies(void **state)
{
	(void)state;
	char *b = aws_ecs_deploy_body("c", "s", "fam:3", false);
	/* No desiredCount: a deploy leaves the count as it is. */
	assert_string_equal(b, "{\"cluster\":\"c\",\"service\":\"s\",\"taskDefinition\":\"fam:3\"}");
	free(b);
	b = aws_ecs_deploy_body("c", "s", "arn:aws:ecs:us-east-1:1:task-definition/fam:1", true);
	assert_string_equal(b, "{\"cluster\":\"c\",\"service\":\"s\",\"taskDefinition\":"
			       "\"arn:aws:ecs:us-east-1:1:task-definition/fam:1\",\"forceNewDeployment\":true}");
	free(b);
	assert_null(aws_ecs_deploy_body("c", "s", "", false));
	assert_null(aws_ecs_deploy_body("c", "s", NULL, false));
	assert_null(aws_ecs_deploy_body("c", NULL, "fam:1", false));
	/* scale's body is unchanged by the deploy one */
	b = aws_ecs_update_service_body("c", "s", 2, false);
	assert_string_equal(b, "{\"cluster\":\"c\",\"service\":\"s\",\"desiredCount\":2}");
	free(b);

	b = aws_ecs_list_task_definitions_body("mysecretword-task", NULL, 0);
	assert_string_equal(b, "{\"familyPrefix\":\"mysecretword-task\",\"status\":\"ACTIVE\","
			       "\"sort\":\"DESC\",\"maxResults\":100}");
	free(b);
	b = aws_ecs_list_task_definitions_body("f", "tok==", 7);
	assert_string_equal(b, "{\"familyPrefix\":\"f\",\"status\":\"ACTIVE\",\"sort\":\"DESC\","
			       "\"maxResults\":7,\"nextToken\":\"tok==\"}");
	free(b);
	b = aws_ecs_list_task_definitions_body("f", NULL, 1000);
	assert_non_null(strstr(b, "\"maxResults\":100"));
	free(b);
	assert_null(aws_ecs_list_task_definitions_body("", NULL, 0));
	assert_null(aws_ecs_list_task_definitions_body(NULL, NULL, 0));

	b = aws_ecs_describe_task_definition_body("fam:2");
	assert_string_equal(b, "{\"taskDefinition\":\"fam:2\"}");
	free(b);
	assert_null(aws_ecs_describe_task_definition_body(""));
}

static void test_taskdef_list_reply(void **state)
{
	struct aws_ecs_taskdefs t;
	struct bot_error err;
	(void)state;
	const char *page = "{\"taskDefinitionArns\":[\"arn:aws:ecs:us-east-1:123456789012:task-definition/f:2\","
			   "\"arn:aws:ecs:us-east-1:123456789012:task-definition/f:1\"],\"nextToken\":\"n2\"}";
	assert_int_equal(aws_ecs_parse_list_task_definitions(page, strlen(page), &t, &err), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.arns[0], "arn:aws:ecs:us-east-1:123456789012:task-definition/f:2"); /* order kept */
	assert_string_equal(t.arns[1], "arn:aws:ecs:us-east-1:123456789012:task-definition/f:1");
	assert_string_equal(t.next_token, "n2");
	aws_ecs_taskdefs_clear(&t);
	const char *last = "{\"taskDefinitionArns\":[],\"nextToken\":\"\"}";
	assert_int_equal(aws_ecs_parse_list_task_definitions(last, strlen(last), &t, &err), 0);
	assert_int_equal(t.n, 0);
	assert_null(t.next_token); /* "" is the last page */
	aws_ecs_taskdefs_clear(&t);
	assert_int_equal(aws_ecs_parse_list_task_definitions("{\"taskDefinitionArns\":{}}", strlen("{\"taskDefinitionArns\":{}}"), &t, &err),
			 BOT_EPARSE);
	assert_int_equal(aws_ecs_parse_list_task_definitions("{\"taskDefinitionArns\":[1]}", strlen("{\"taskDefinitionArns\":[1]}"), &t, &err),
			 BOT_EPARSE);
	assert_null(t.arns);
	assert_int_equal(aws_ecs_parse_list_task_definitions("nope", 4, &t, &err), BOT_EPARSE);
}

static void test_taskdef_describe_reply(void **state)
{
	struct cloud_task_definition *td;
	struct bot_error err;
	(void)state;
	const char *full =
		"{\"taskDefinition\":{\"taskDefinitionArn\":\"arn:aws:ecs:us-east-1:123456789012:task-definition/f:3\","
		"\"family\":\"f\",\"revision\":3,\"status\":\"ACTIVE\",\"cpu\":\"256\","
		"\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"nginx:1.27\",\"essential\":true},"
		"{\"name\":\"sidecar\",\"image\":\"public.ecr.aws/x/y@sha256:ab\"}]},\"tags\":[]}";
	assert_int_equal(aws_ecs_parse_describe_task_definition(full, strlen(full), &td, &err), 0);
	assert_string_equal(td->arn, "arn:aws:ecs:us-east-1:123456789012:task-definition/f:3");
	assert_string_equal(td->family, "f");
	assert_int_equal(td->revision, 3);
	assert_string_equal(td->status, "ACTIVE");
	assert_int_equal(td->n_containers, 2);
	assert_string_equal(td->containers[0].name, "app");
	assert_string_equal(td->containers[0].image, "nginx:1.27");
	assert_string_equal(td->containers[1].image, "public.ecr.aws/x/y@sha256:ab");
	cloud_task_definition_free(td);
	cloud_task_definition_free(NULL);

	const char *bad[] = {
		"{}",                                                       /* no taskDefinition */
		"{\"taskDefinition\":{\"revision\":1}}",                    /* no family */
		"{\"taskDefinition\":{\"family\":\"f\"}}",                  /* no revision */
		"{\"taskDefinition\":{\"family\":\"f\",\"revision\":\"2\"}}", /* revision not a number */
		"{\"taskDefinition\":{\"family\":\"f\",\"revision\":1,\"containerDefinitions\":{}}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		td = (void *)1;
		assert_int_equal(aws_ecs_parse_describe_task_definition(bad[i], strlen(bad[i]), &td, &err),
				 BOT_EPARSE);
		assert_null(td);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_describe_full),
		cmocka_unit_test(test_describe_failures_and_empty),
		cmocka_unit_test(test_events_capped),
		cmocka_unit_test(test_update_reply),
		cmocka_unit_test(test_list_reply),
		cmocka_unit_test(test_clusters_reply),
		cmocka_unit_test(test_counts_out_of_int_range),
		cmocka_unit_test(test_taskdef_bodies),
		cmocka_unit_test(test_taskdef_list_reply),
		cmocka_unit_test(test_taskdef_describe_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
