/* unit.action: the action table (bot/domain/action.h) - every action's
 * fire-time re-check, reconcile and recovery rules on services as ECS
 * describes them, and rollback's choice of target at request time against
 * a cloud that answers ListTaskDefinitions / DescribeTaskDefinition as ECS
 * does (end to end against moto: integration.e2e). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bot/domain/action.h"
#include "config/config.h"

#define ARN(fam_rev) "arn:aws:ecs:us-east-1:123456789012:task-definition/" fam_rev

static void test_table_matches_config(void **state)
{
	size_t nk = 0, na = 0;
	const char *const *kinds = config_action_kinds(&nk);
	const struct action *const *all = action_all(&na);

	(void)state;
	assert_int_equal(nk, na);
	for (size_t i = 0; i < nk; i++) {
		const struct action *a = action_find(kinds[i]);
		assert_non_null(a);
		assert_string_equal(a->kind, kinds[i]);
		/* every row is complete */
		assert_non_null(a->prepare);
		assert_non_null(a->describe);
		assert_non_null(a->brief);
		assert_non_null(a->call_text);
		assert_non_null(a->stale);
		assert_non_null(a->intent);
		assert_non_null(a->execute);
		assert_non_null(a->done_text);
		assert_non_null(a->landed);
		assert_non_null(a->steady);
		assert_non_null(a->available);
		assert_true(a->command[0] == '/' && strcmp(a->command + 1, a->kind) == 0);
	}
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t k = 0; k < nk; k++)
			found = found || strcmp(kinds[k], all[i]->kind) == 0;
		assert_true(found);
	}
	assert_string_equal(action_find(NULL)->kind, "scale"); /* records before the column */
	assert_null(action_find("reboot"));
}

static struct cloud_deployment dep(const char *id, const char *status, int desired, int running)
{
	return (struct cloud_deployment){.id = id, .status = status, .desired = desired,
					 .running = running, .rollout_state = "COMPLETED"};
}

/* ---- scale ------------------------------------------------------------- */

static void test_scale_rules(void **state)
{
	const struct action *a = action_find("scale");
	struct store_gate g = {.target = 5, .desired_at_request = 2, .exec_from = 2};
	struct cloud_service s = {.status = "ACTIVE", .desired = 2};
	char buf[400];

	(void)state;
	assert_null(a->stale(&g, &s, buf, sizeof buf));
	s.desired = 5;
	assert_non_null(a->stale(&g, &s, buf, sizeof buf));
	s.desired = 3; /* someone else scaled */
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "changed from 2 to 3"));

	s.desired = 5;
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_LANDED);
	s.desired = 2;
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_NOT_LANDED);
	s.desired = 4;
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_CONFLICT);

	s = (struct cloud_service){.desired = 5, .running = 5};
	assert_true(a->steady(&g, &s, buf, sizeof buf));
	s.pending = 1;
	assert_false(a->steady(&g, &s, buf, sizeof buf));
}

/* ---- restart ----------------------------------------------------------- */

static void test_restart_rules(void **state)
{
	const struct action *a = action_find("restart");
	struct store_gate g = {
		.params = "{\"task_definition\":\"" ARN("web:4") "\",\"deployment\":\"ecs-svc/1\"}",
		.exec_intent = "{\"observedDeployment\":\"ecs-svc/1\"}",
		.cluster = "c", .ecs_service = "web",
	};
	struct cloud_deployment one[] = {dep("ecs-svc/1", "PRIMARY", 3, 3)};
	struct cloud_deployment two[] = {dep("ecs-svc/2", "PRIMARY", 3, 1),
					 dep("ecs-svc/1", "ACTIVE", 3, 2)};
	struct cloud_deployment fresh[] = {dep("ecs-svc/2", "PRIMARY", 3, 3)};
	struct cloud_service s = {.status = "ACTIVE", .desired = 3, .running = 3,
				  .task_definition = ARN("web:4"), .deployments = one,
				  .n_deployments = 1};
	char buf[400];

	(void)state;
	assert_null(a->stale(&g, &s, buf, sizeof buf));
	s.deployments = two;
	s.n_deployments = 2; /* a deployment still replacing another */
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "in progress"));
	s.deployments = fresh;
	s.n_deployments = 1; /* someone restarted since the request */
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "ecs-svc/2"));
	s.deployments = one;
	s.task_definition = ARN("web:5"); /* someone deployed */
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "changed from web:4 to web:5"));
	s.task_definition = "web:4"; /* the short form names the same revision */
	assert_null(a->stale(&g, &s, buf, sizeof buf));

	/* reconcile: the PRIMARY deployment seen before the call */
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_NOT_LANDED);
	s.deployments = two;
	s.n_deployments = 2;
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_LANDED);
	s.n_deployments = 0;
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_CONFLICT);

	/* recovery: the new deployment alone, all running */
	s.deployments = two;
	s.n_deployments = 2;
	assert_false(a->steady(&g, &s, buf, sizeof buf));
	s.deployments = one;
	s.n_deployments = 1;
	assert_false(a->steady(&g, &s, buf, sizeof buf)); /* still the old one */
	s.deployments = fresh;
	assert_true(a->steady(&g, &s, buf, sizeof buf));
	fresh[0].rollout_state = "FAILED";
	assert_false(a->steady(&g, &s, buf, sizeof buf));
	fresh[0].rollout_state = "COMPLETED";
	s.pending = 1;
	assert_false(a->steady(&g, &s, buf, sizeof buf));
}

/* ---- rollback ---------------------------------------------------------- */

static void test_rollback_rules(void **state)
{
	const struct action *a = action_find("rollback");
	struct store_gate g = {
		.params = "{\"from\":\"" ARN("web:4") "\",\"to\":\"" ARN("web:3") "\",\"images\":"
			  "[{\"container\":\"app\",\"from\":\"img:4\",\"to\":\"img:3\"}]}",
		.service = "web", .cluster = "c", .ecs_service = "web",
	};
	struct cloud_deployment one[] = {dep("ecs-svc/2", "PRIMARY", 3, 3)};
	struct cloud_deployment two[] = {dep("ecs-svc/2", "PRIMARY", 3, 1),
					 dep("ecs-svc/1", "ACTIVE", 3, 2)};
	struct cloud_service s = {.status = "ACTIVE", .desired = 3, .running = 3,
				  .task_definition = ARN("web:4"), .deployments = one,
				  .n_deployments = 1};
	char buf[600];
	struct chat_text t;

	(void)state;
	assert_null(a->stale(&g, &s, buf, sizeof buf));
	s.task_definition = "web:3";
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "already runs web:3"));
	s.task_definition = ARN("web:5");
	assert_non_null(strstr(a->stale(&g, &s, buf, sizeof buf), "changed from web:4 to web:5"));

	s.task_definition = ARN("web:3");
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_LANDED);
	s.task_definition = ARN("web:4");
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_NOT_LANDED);
	s.task_definition = ARN("web:5");
	assert_int_equal(a->landed(&g, &s, buf, sizeof buf), ACTION_CONFLICT);

	s.task_definition = ARN("web:3");
	s.deployments = two;
	s.n_deployments = 2;
	assert_false(a->steady(&g, &s, buf, sizeof buf));
	s.deployments = one;
	s.n_deployments = 1;
	assert_true(a->steady(&g, &s, buf, sizeof buf));
	s.task_definition = ARN("web:4");
	assert_false(a->steady(&g, &s, buf, sizeof buf));

	chat_text_init(&t);
	a->describe(&g, &t);
	chat_text_plain(&t, buf, sizeof buf);
	assert_non_null(strstr(buf, "from web:4 to web:3"));
	assert_non_null(strstr(buf, "app: img:4 → img:3"));
	a->brief(&g, buf, sizeof buf);
	assert_string_equal(buf, "roll back to web:3");
}

/* ---- rollback's target, at request time ---------------------------------- */

/* A cloud with a family's revisions, answering as ECS does (synchronously). */
static struct fake {
	struct cloud base;
	const char *const *arns;
	size_t n;
	const char *inactive;    /* this revision is INACTIVE */
	int lists, describes;
} F;

static int f_list(struct cloud *c, const char *family, cloud_task_definitions_cb cb, void *ud)
{
	(void)c;
	(void)family;
	F.lists++;
	cb(ud, NULL, F.arns, F.n);
	return 0;
}

static int f_describe(struct cloud *c, const char *td, cloud_task_definition_cb cb, void *ud)
{
	char s[256], want[256];
	static char arn[300], image[64];
	struct cloud_container ct = {.name = "app", .image = image};
	struct cloud_task_definition d = {.arn = arn, .family = "web", .status = "ACTIVE",
					  .containers = &ct, .n_containers = 1};

	(void)c;
	F.describes++;
	action__td_short(td, want, sizeof want);
	for (size_t i = 0; i < F.n; i++)
		if (strcmp(action__td_short(F.arns[i], s, sizeof s), want) == 0) {
			snprintf(arn, sizeof arn, "%s", F.arns[i]);
			snprintf(image, sizeof image, "img:%s", strchr(s, ':') + 1);
			if (F.inactive && strcmp(F.inactive, s) == 0)
				d.status = "INACTIVE";
			cb(ud, NULL, &d);
			return 0;
		}
	struct cloud_error ce = {.code = BOT_EREMOTE, .http_status = 400};
	snprintf(ce.aws_code, sizeof ce.aws_code, "ClientException");
	snprintf(ce.message, sizeof ce.message, "Unable to describe task definition.");
	cb(ud, &ce, NULL);
	return 0;
}

static const struct cloud_ops fake_ops = {
	.name = "fake", .task_definitions = f_list, .describe_task_definition = f_describe,
};

struct answer {
	char params[1024];
	char why[600];
	int calls;
};

static void on_prepared(void *ud, const char *params, int target, const struct chat_text *why)
{
	struct answer *a = ud;

	(void)target;
	a->calls++;
	a->params[0] = a->why[0] = '\0';
	if (params)
		snprintf(a->params, sizeof a->params, "%s", params);
	if (why)
		chat_text_plain(why, a->why, sizeof a->why);
}

static struct answer rollback_prepare(const char *current, const char *to)
{
	struct cloud_service s = {.status = "ACTIVE", .desired = 2, .task_definition = current};
	struct action_req r = {.cloud = &F.base, .svc = &s, .service = "web", .max_desired = 10,
			       .args = {.to = to}};
	struct answer a = {0};

	F.base.ops = &fake_ops;
	action_find("rollback")->prepare(&r, on_prepared, &a);
	assert_int_equal(a.calls, 1);
	return a;
}

static void test_rollback_finds_its_target(void **state)
{
	static const char *const arns[] = {ARN("web:6"), ARN("web:5"), ARN("web:3"),
					   ARN("web:1")};
	struct answer a;

	(void)state;
	F = (struct fake){.arns = arns, .n = 4};
	/* the newest revision older than the current one, skipping gaps */
	a = rollback_prepare(ARN("web:5"), NULL);
	assert_non_null(strstr(a.params, "\"to\":\"" ARN("web:3") "\""));
	assert_non_null(strstr(a.params, "\"from\":\"" ARN("web:5") "\""));
	assert_non_null(strstr(a.params, "\"from\":\"img:5\",\"to\":\"img:3\""));
	assert_int_equal(F.lists, 1);

	/* --to by number, by family:revision */
	a = rollback_prepare(ARN("web:5"), "1");
	assert_non_null(strstr(a.params, "\"to\":\"" ARN("web:1") "\""));
	a = rollback_prepare(ARN("web:5"), "web:6"); /* forward is allowed with --to */
	assert_non_null(strstr(a.params, "\"to\":\"" ARN("web:6") "\""));

	/* refusals say why and give no params */
	a = rollback_prepare(ARN("web:5"), "5");
	assert_string_equal(a.params, "");
	assert_non_null(strstr(a.why, "already runs web:5"));
	a = rollback_prepare(ARN("web:5"), "api:2");
	assert_non_null(strstr(a.why, "not a revision of web"));
	a = rollback_prepare(ARN("web:5"), "2");
	assert_non_null(strstr(a.why, "could not be read"));
	assert_non_null(strstr(a.why, "ClientException"));
	a = rollback_prepare(ARN("web:5"), "seven");
	assert_non_null(strstr(a.why, "is not a revision"));
	a = rollback_prepare(ARN("web:1"), NULL);
	assert_non_null(strstr(a.why, "no ACTIVE revision older than 1"));
	a = rollback_prepare(NULL, NULL);
	assert_non_null(strstr(a.why, "cannot be rolled back"));
	F.inactive = "web:3";
	a = rollback_prepare(ARN("web:5"), "3");
	assert_non_null(strstr(a.why, "is INACTIVE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_config),
		cmocka_unit_test(test_scale_rules),
		cmocka_unit_test(test_restart_rules),
		cmocka_unit_test(test_rollback_rules),
		cmocka_unit_test(test_rollback_finds_its_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
