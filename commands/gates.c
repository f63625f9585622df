/* gates.c - /gates: the open and recent approval requests;
 *           /gates cancel <id>: withdraw an open one (requester or approver). */
#include "commands/commands.h"
#include "bot/domain/workflow.h"

#include <stdio.h>
#include <string.h>

enum cmd_status cmd_gates(struct cmd_ctx *ctx, char *msg, size_t msg_len)
{
	struct workflow *wf = ctx->env->wf;
	struct bot_error err = {0};
	struct chat_text text;
	char esc[64];

	if (ctx->argc == 1 || (ctx->argc == 2 && strcmp(ctx->argv[1], "list") == 0)) {
		chat_text_init(&text);
		if (wf_list(wf, &text, &err) != 0) {
			snprintf(msg, msg_len, "Could not read the requests: %s", err.msg);
			return CMD_FAILED;
		}
		struct chat_block b[2] = {
			{.type = CHAT_BLOCK_SECTION, .text = "*Approval requests* (open first, then the latest)"},
			{.type = CHAT_BLOCK_SECTION, .rich = &text},
		};
		struct chat_message m = {.channel = ctx->ev->channel, .rich = &text, .blocks = b, .n_blocks = 2};
		if (chat_ephemeral(ctx->env->chat, ctx->ev->user, &m, NULL, NULL) != 0) {
			snprintf(msg, msg_len, "Could not send the list.");
			return CMD_FAILED;
		}
		return CMD_OK;
	}
	if (strcmp(ctx->argv[1], "cancel") == 0) {
		uint64_t id = ctx->argc == 3 ? wf_parse_id(ctx->argv[2]) : 0;
		if (!id) {
			if (ctx->argc == 3) {
				chat_escape(esc, sizeof esc, ctx->argv[2]);
				snprintf(msg, msg_len, "`%s` is not a request number (e.g. `7`).", esc);
			} else {
				snprintf(msg, msg_len, "Which request? Give its number, e.g. `/gates cancel 7`.");
			}
			return CMD_USAGE;
		}
		wf_cancel(wf, id, ctx->ev);
		return CMD_OK;
	}
	chat_escape(esc, sizeof esc, ctx->argv[1]);
	snprintf(msg, msg_len, "Unknown subcommand `%s`.", esc);
	return CMD_USAGE;
}
