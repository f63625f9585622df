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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sorted_and_complete),
		cmocka_unit_test(test_manifest_matches_table),
		cmocka_unit_test(test_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
