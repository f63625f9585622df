/* chatops.c - /chatops [help]: what the bot does and the commands. */
#include "commands/commands.h"

#include <string.h>

enum cmd_status cmd_chatops(struct cmd_ctx *ctx, struct chat_text *msg)
{
	struct chat_text text;

	if (ctx->argc > 1 && strcmp(ctx->argv[1], "help") != 0) {
		chat_text_printf(msg, "Unknown subcommand.");
		return CMD_USAGE;
	}
	chat_text_init(&text);
	cmd_help_text(ctx->env->cfg, ctx->ev->user, &text);
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = &text};
	struct chat_message m = {.channel = ctx->ev->channel, .rich = &text, .blocks = &b,
				 .n_blocks = 1};
	if (chat_ephemeral(ctx->env->chat, ctx->ev->user, &m, NULL, NULL) != 0) {
		chat_text_printf(msg, "Could not send the help text.");
		return CMD_FAILED;
	}
	return CMD_OK;
}
