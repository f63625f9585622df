/* The command table: sorted (bsearch relies on it), complete, and the
 * argument splitter shared by every command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include "bot/base/error.h"
#include "commands/commands.h"
#include "config/config.h"

static void test_table_sorted_and_complete(void **state)
{
	(void)state;
	assert_true(cmd_table_len > 0);
	for (size_t i = 0; i < cmd_table_len; i++) {
		const struct cmd_def *d = &cmd_table[i];
		assert_non_null(d->fn);
		assert_true(d->name[0] == '/');
		assert_non_null(d->usage);
		assert_true(strncmp(d->usage, d->name, strlen(d->name)) == 0);
		assert_true(strlen(d->summary) > 10);
		assert_true(d->min_args <= d->max_args);
		if (i > 0)
			assert_true(strcmp(cmd_table[i - 1].name, d->name) < 0);
		assert_ptr_equal(cmd_lookup(d->name), d);
		assert_ptr_equal(cmd_lookup(d->name + 1), d); /* without the slash */
	}
	assert_null(cmd_lookup("/nope"));
	assert_null(cmd_lookup(""));
	assert_null(cmd_lookup(NULL));
}

static void test_split(void **state)
{
	struct cmd_ctx ctx = {0};
	char buf[128];
	(void)state;

	strcpy(buf, "  web   5  high cpu after launch  ");
	assert_int_equal(cmd_split(&ctx, buf, 2), BOT_EOK);
	assert_int_equal(ctx.argc, 3);
	assert_string_equal(ctx.argv[1], "web");
	assert_string_equal(ctx.argv[2], "5");
	assert_string_equal(ctx.rest, "high cpu after launch");

	strcpy(buf, "\"my service\" 3");
	assert_int_equal(cmd_split(&ctx, buf, 5), BOT_EOK);
	assert_int_equal(ctx.argc, 3);
	assert_string_equal(ctx.argv[1], "my service");
	assert_string_equal(ctx.rest, "");

	strcpy(buf, "unbalanced \"quote");
	assert_int_equal(cmd_split(&ctx, buf, 5), BOT_EINVAL);

	strcpy(buf, "");
	assert_int_equal(cmd_split(&ctx, buf, 3), BOT_EOK);
	assert_int_equal(ctx.argc, 1);
	assert_string_equal(ctx.rest, "");
}

/* The Slack app manifest registers exactly the commands of the table, so a
 * new command cannot be forgotten there (or an old one left behind). */
static void test_manifest_matches_table(void **state)
{
	char path[512], line[512];
	bool seen[64] = {false};
	size_t n = 0;
	const char *root = getenv("CHATOPS_SOURCE_ROOT");
	(void)state;

	assert_non_null(root);
	assert_true(cmd_table_len < 64);
	snprintf(path, sizeof path, "%s/config/slack-app-manifest.yaml", root);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *p = strstr(line, "- command: ");
		if (!p)
			continue;
		p += strlen("- command: ");
		p[strcspn(p, " \r\n")] = '\0';
		const struct cmd_def *d = cmd_lookup(p);
		assert_non_null(d); /* the manifest names no unknown command */
		assert_false(seen[d - cmd_table]);
		seen[d - cmd_table] = true;
		n++;
	}
	fclose(f);
	assert_int_equal(n, cmd_table_len);
}


/* /chatops help lists, per service the user may request or approve, the
 * actions it allows, and what an action sets apart from its service. */
static void test_help_lists_actions(void **state)
{
	static const char yaml[] =
		"defaults:\n  approvers: [U0AAA, U0BBB]\n  requesters: [U0REQ]\n"
		"services:\n"
		"  api:\n    cluster: c\n    max_desired: 5\n"
		"  web:\n    cluster: c\n    max_desired: 5\n"
		"    actions:\n      scale:\n      restart: {timer: 5m, requesters: ['*']}\n"
		"      rollback: {min_approvals: 2, allow_self_approval: true}\n"
		"  db:\n    cluster: c\n    max_desired: 5\n    approvers: [U0DBA]\n"
		"    requesters: [U0DBA]\n    actions: {restart: {allow_self_approval: true}}\n";
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	struct chat_text t;
	char buf[4096];
	(void)state;

	assert_int_equal(config_load_string("t.yaml", yaml, 0, &cfg, &errs), 0);
	config_errors_free(&errs);
	chat_text_init(&t);
	cmd_help_text(cfg, "U0REQ", &t);
	chat_text_plain(&t, buf, sizeof buf);
	assert_non_null(strstr(buf, "Actions by service:\napi: scale\nweb: scale, restart, "
			       "rollback (restart: timer 5m; requested by anyone) (rollback: 2 approvals of @U0AAA, "
			       "@U0BBB; self-approval allowed)\n"));
	assert_null(strstr(buf, "db:")); /* not U0REQ's */
	chat_text_init(&t);
	cmd_help_text(cfg, NULL, &t);
	chat_text_plain(&t, buf, sizeof buf);
	assert_non_null(strstr(buf, "\ndb: restart (restart: self-approval allowed)\n"));
	chat_text_init(&t);
	cmd_help_text(cfg, "U0NOBODY", &t);
	chat_text_plain(&t, buf, sizeof buf);
	/* anyone may request web's restart (requesters: ['*']), nothing else */
	assert_non_null(strstr(buf, "Actions by service:\nweb: "));
	assert_null(strstr(buf, "api: scale"));
	assert_null(strstr(buf, "db:"));
	config_unref(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_lists_actions),
		cmocka_unit_test(test_table_sorted_and_complete),
		cmocka_unit_test(test_manifest_matches_table),
		cmocka_unit_test(test_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
