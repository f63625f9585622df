/* chatops.c - /chatops [help]: what the bot does and the commands. */
#include "commands/commands.h"

#include <stdio.h>
#include <string.h>

enum cmd_status cmd_chatops(struct cmd_ctx *ctx, char *msg, size_t msg_len)
{
	char text[2048];

	if (ctx->argc > 1 && strcmp(ctx->argv[1], "help") != 0) {
		snprintf(msg, msg_len, "Unknown subcommand.");
		return CMD_USAGE;
	}
	cmd_help_text(ctx->env->cfg, ctx->ev->user, text, sizeof text);
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .text = text};
	struct chat_message m = {.channel = ctx->ev->channel, .text = text, .blocks = &b, .n_blocks = 1};
	if (chat_ephemeral(ctx->env->chat, ctx->ev->user, &m, NULL, NULL) != 0) {
		snprintf(msg, msg_len, "Could not send the help text.");
		return CMD_FAILED;
	}
	return CMD_OK;
}
