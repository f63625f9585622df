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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_is_a_dry_run),
		cmocka_unit_test(test_pending_at_destroy_is_cancelled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
