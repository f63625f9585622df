/* store_open.h - pick and open the configured store backend (wiring).
 *
 * The only place that knows the concrete store backends: the domain gets a
 * struct store * and talks to it through adapters/store.h.
 *
 * SQLite needs nothing but its file. DynamoDB needs AWS: its calls go
 * through an aws client of the bot's AWS backend (cloud_aws_create), so the
 * store and the cloud share one HTTP client, one credential chain and one
 * retry policy (a second client on them when store.region or
 * store.endpoint differ from the cloud's; cloud_aws_client_for).
 */
#ifndef BOT_STORE_OPEN_H
#define BOT_STORE_OPEN_H

#include <stdbool.h>

#include "adapters/aws/client.h"
#include "adapters/cloud.h"
#include "adapters/store.h"
#include "bot/base/error.h"
#include "bot/base/loop.h"
#include "config/config.h"

/* Does cfg's store live in DynamoDB? (cfg may be NULL: no.) */
bool bot_store_is_dynamodb(const struct config *cfg);

/* Open cfg's store (store.backend, default sqlite, at store.path), or the
 * SQLite file db_path when it is set (cfg may then be NULL). read_only: for
 * inspection (chatops-bot audit): never creates, migrates or writes (a
 * DynamoDB store is opened as it is: audit only reads it). loop: where the
 * asynchronous calls answer (NULL: synchronous use only, by a tool; SQLite
 * only). aws: the AWS backend (cloud_aws_create) for DynamoDB, borrowed: it
 * must outlive the store; NULL with SQLite. The owner calls store_stop
 * before the loop closes. BOT_ECONFIG (DynamoDB without AWS or a loop),
 * what the backend answers. */
int bot_store_open(const struct config *cfg, uv_loop_t *loop, struct cloud *aws,
		   const char *db_path, bool read_only, struct store **out,
		   struct bot_error *err);

/* The aws client DynamoDB calls of cfg's store go through: in
 * store.region (default aws.region), to store.endpoint when set. Borrowed
 * from aws (lives as long as it). cfg NULL: the cloud's own client. */
int bot_store_aws_client(const struct config *cfg, struct cloud *aws, struct aws_client **out,
			 struct bot_error *err);

/* ---- for the subcommands (store init/copy, audit, --check-config) ------
 * A loop and the AWS backend made from cfg (cfg NULL: the environment
 * alone), the tool's synchronous store calls run that loop. */
struct bot_tool {
	struct bot_loop *loop;
	struct cloud *aws;
	struct aws_client *ddb; /* bot_store_aws_client's */
};

/* Load a subcommand's --config FILE; on errors print each (file:line:col)
 * and "chatops-bot <tool>: FILE has errors (above)" on stderr. Returns 0
 * or config_load's code. */
int bot_tool_load_config(const char *tool, const char *path, struct config **out);

/* 0, or the reason AWS cannot be used (no credentials, bad endpoint...) in
 * err; t is then closed already. */
int bot_tool_open(struct bot_tool *t, const struct config *cfg, struct bot_error *err);
/* Stop s (a store opened on t's loop, or NULL), shut the loop down, free
 * the AWS backend and the loop, then close s. t may be zeroed. */
void bot_tool_close(struct bot_tool *t, struct store *s);

#endif
