/* store_open.c - pick and open the configured store backend (see store_open.h). */
#include "bot/store_open.h"
#include "adapters/aws/cloud_aws.h"
#include "adapters/store/dynamodb.h"
#include "adapters/store/sqlite.h"

#include <stdio.h>
#include <string.h>

bool bot_store_is_dynamodb(const struct config *cfg)
{
	return cfg && cfg->store.backend && strcmp(cfg->store.backend, "dynamodb") == 0;
}

int bot_store_aws_client(const struct config *cfg, struct cloud *aws, struct aws_client **out,
			 struct bot_error *err)
{
	bool ddb = bot_store_is_dynamodb(cfg);

	*out = NULL;
	if (!aws || !cloud_is_aws(aws))
		return bot_error_set(err, BOT_ECONFIG, "the DynamoDB store needs AWS");
	return cloud_aws_client_for(aws, ddb ? cfg->store.region : NULL,
				    ddb ? cfg->store.endpoint : NULL, "store.endpoint", out, err);
}

static int open_dynamodb(const struct config *cfg, uv_loop_t *loop, struct cloud *aws,
			 struct store **out, struct bot_error *err)
{
	struct aws_client *client;
	int rc;

	if (!loop)
		return bot_error_set(err, BOT_ECONFIG, "the DynamoDB store needs a loop");
	rc = bot_store_aws_client(cfg, aws, &client, err);
	if (rc)
		return rc;
	return store_dynamodb_open(&(struct store_dynamodb_opts){
		.aws = client, .table = cfg->store.table, .loop = loop}, out, err);
}

int bot_store_open(const struct config *cfg, uv_loop_t *loop, struct cloud *aws,
		   const char *db_path, bool read_only, struct store **out,
		   struct bot_error *err)
{
	int rc;

	struct store_sqlite_opts so = {
		.path = db_path ? db_path : cfg ? cfg->store.path : NULL,
		.read_only = read_only,
	};

	*out = NULL;
	/* --db names a SQLite file; otherwise the configured backend (the
	 * loader accepts only backends this table knows) */
	if (!db_path && bot_store_is_dynamodb(cfg))
		return open_dynamodb(cfg, loop, aws, out, err);
	if (!db_path && cfg && cfg->store.backend && strcmp(cfg->store.backend, "sqlite") != 0)
		return bot_error_set(err, BOT_ECONFIG, "store.backend: unknown backend '%s'",
				     cfg->store.backend);
	rc = store_sqlite_open(&so, out, err);
	if (rc == BOT_EOK && loop && (rc = store_attach_loop(*out, loop)) != BOT_EOK) {
		store_close(*out);
		*out = NULL;
		return bot_error_set(err, rc, "store: cannot attach to the loop");
	}
	return rc;
}

int bot_tool_open(struct bot_tool *t, const struct config *cfg, struct bot_error *err)
{
	int rc;

	memset(t, 0, sizeof *t);
	rc = bot_loop_create(&t->loop, err);
	if (!rc)
		rc = cloud_aws_create(t->loop, &(struct cloud_aws_opts){.config = cfg}, &t->aws, err);
	if (!rc)
		rc = bot_store_aws_client(cfg, t->aws, &t->ddb, err);
	if (rc)
		bot_tool_close(t, NULL);
	return rc;
}

void bot_tool_close(struct bot_tool *t, struct store *s)
{
	if (s && t->loop)
		store_stop(s);
	if (t->loop) {
		bot_loop_shutdown(t->loop);
		(void)bot_loop_run(t->loop);
	}
	if (t->aws)
		t->aws->ops->destroy(t->aws);
	/* a failure here leaves a handle open: nothing a tool can do more */
	(void)bot_loop_destroy(t->loop);
	store_close(s);
	memset(t, 0, sizeof *t);
}

int bot_tool_load_config(const char *tool, const char *path, struct config **out)
{
	struct config_errors errs = {0};
	int rc = config_load(path, 0, out, &errs);

	if (rc) {
		config_errors_print(&errs, stderr);
		fprintf(stderr, "chatops-bot %s: %s has errors (above)\n", tool, path);
	}
	config_errors_free(&errs);
	return rc;
}
