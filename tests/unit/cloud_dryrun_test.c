/* The dry-run cloud: a scale answers "dry run" on the next loop turn; one
 * still pending when the cloud is destroyed (the bot is stopping) answers
 * cancelled, which concludes nothing, as the AWS backend does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "adapters/cloud_dryrun.h"
#include "bot/base/error.h"

struct seen {
	int calls, code;
	char message[128];
};

static void on_scaled(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct seen *r = ud;
	(void)s;
	r->calls++;
	r->code = err ? err->code : 0;
	snprintf(r->message, sizeof r->message, "%.100s", err ? err->message : "");
}

static void test_scale_is_a_dry_run(void **state)
{
	uv_loop_t loop;
	struct seen r = {0};
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cloud *c = cloud_dryrun_create(&loop, NULL);
	assert_non_null(c);
	assert_int_equal(c->ops->scale(c, "prod", "web", 5, false, on_scaled, &r), 0);
	assert_int_equal(r.calls, 0); /* never from inside the call */
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.code, BOT_EDRYRUN);
	c->ops->destroy(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* With no AWS behind it (no credentials), what a person's read asks of
 * the budget and /metrics still answer; nothing dereferences the missing
 * backend. */
static void test_no_aws_behind_it(void **state)
{
	uv_loop_t loop;
	uint64_t retry = 7;
	char buf[64] = "x";
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cloud *c = cloud_dryrun_create(&loop, NULL);
	assert_non_null(c);
	assert_int_equal(c->ops->admit(c, CLOUD_ASK_SERVICE_READ, &retry), BOT_EOK);
	assert_int_equal(c->ops->metrics_text(c, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	c->ops->destroy(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_tdlist(void *ud, const struct cloud_error *err, const char *const *arns, size_t n)
{
	struct seen *r = ud;
	(void)arns;
	(void)n;
	r->calls++;
	r->code = err ? err->code : 0;
}

/* deploy (UpdateService taskDefinition) is refused like scale, saying
 * what would have been done; task definition reads without AWS fail as
 * reads do (BOT_ESTATE), not as a dry run. */
static void test_deploy_is_a_dry_run(void **state)
{
	uv_loop_t loop;
	struct seen r = {0}, l = {0};
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cloud *c = cloud_dryrun_create(&loop, NULL);
	assert_non_null(c);
	assert_int_equal(c->ops->deploy(c, "prod", "web", "web-task:3", true, on_scaled, &r), 0);
	assert_int_equal(c->ops->task_definitions(c, "web-task", on_tdlist, &l), 0);
	assert_int_equal(r.calls + l.calls, 0); /* never from inside the call */
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.code, BOT_EDRYRUN);
	assert_non_null(strstr(r.message, "taskDefinition=web-task:3"));
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.code, BOT_ESTATE);
	c->ops->destroy(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_pending_at_destroy_is_cancelled(void **state)
{
	uv_loop_t loop;
	struct seen r = {0};
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cloud *c = cloud_dryrun_create(&loop, NULL);
	assert_non_null(c);
	assert_int_equal(c->ops->scale(c, "prod", "web", 5, false, on_scaled, &r), 0);
	c->ops->destroy(c);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.code, BOT_ECANCELLED);
	assert_non_null(strstr(r.message, "stopping"));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_done(void *ud, const struct cloud_error *err)
{
	struct seen *r = ud;
	r->calls++;
	r->code = err ? err->code : 0;
	snprintf(r->message, sizeof r->message, "%.100s", err ? err->message : "");
}

static void on_queue(void *ud, const struct cloud_error *err, const struct cloud_queue_msg *m,
		     size_t n)
{
	struct seen *r = ud;
	(void)m;
	r->calls++;
	r->code = err ? err->code : -1;
	assert_int_equal(n, 0);
}

/* The intake's delete is not made but answered as done, on the next turn;
 * without AWS there is nothing to receive (an error, not an empty poll). */
static void test_queue_delete_answers_done(void **state)
{
	uv_loop_t loop;
	struct seen r = {.code = -1}, q = {0};
	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cloud *c = cloud_dryrun_create(&loop, NULL);
	assert_non_null(c);
	assert_int_equal(c->ops->queue_delete(c, "https://sqs.us-east-1.amazonaws.com/1/q", "rh",
					      on_done, &r), 0);
	assert_int_equal(c->ops->queue_receive(c, "https://sqs.us-east-1.amazonaws.com/1/q", 1, 1,
					       0, on_queue, &q), 0);
	assert_int_equal(r.calls, 0); /* never from inside the call */
	assert_int_equal(q.calls, 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.code, 0);
	assert_int_equal(q.calls, 1);
	assert_int_equal(q.code, BOT_ESTATE);
	assert_int_equal(c->ops->queue_delete(c, NULL, "rh", on_done, &r), BOT_EINVAL);
	c->ops->destroy(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_is_a_dry_run),
		cmocka_unit_test(test_no_aws_behind_it),
		cmocka_unit_test(test_deploy_is_a_dry_run),
		cmocka_unit_test(test_pending_at_destroy_is_cancelled),
		cmocka_unit_test(test_queue_delete_answers_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
