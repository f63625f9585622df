/* gates.c - /gates: the open and recent approval requests;
 *           /gates cancel <id>: withdraw an open one (requester or approver). */
#include "commands/commands.h"
#include "bot/domain/workflow.h"

#include <string.h>

enum cmd_status cmd_gates(struct cmd_ctx *ctx, struct chat_text *msg)
{
	struct workflow *wf = ctx->env->wf;
	struct bot_error err = {0};

	if (ctx->argc == 1 || (ctx->argc == 2 && strcmp(ctx->argv[1], "list") == 0)) {
		if (wf_list_send(wf, ctx->ev->channel, ctx->ev->user, &err) != 0) {
			chat_text_printf(msg, "Could not read the requests: %s", err.msg);
			return CMD_FAILED;
		}
		return CMD_OK;
	}
	if (strcmp(ctx->argv[1], "cancel") == 0) {
		uint64_t id = ctx->argc == 3 ? wf_parse_id(ctx->argv[2]) : 0;
		if (!id) {
			if (ctx->argc == 3) {
				chat_text_code(msg, "%s", ctx->argv[2]);
				chat_text_printf(msg, " is not a request number (e.g. ");
				chat_text_code(msg, "7");
				chat_text_printf(msg, ").");
			} else {
				chat_text_printf(msg, "Which request? Give its number, e.g. ");
				chat_text_code(msg, "/gates cancel 7");
				chat_text_printf(msg, ".");
			}
			return CMD_USAGE;
		}
		wf_cancel(wf, id, ctx->ev);
		return CMD_OK;
	}
	chat_text_printf(msg, "Unknown subcommand ");
	chat_text_code(msg, "%s", ctx->argv[1]);
	chat_text_printf(msg, ".");
	return CMD_USAGE;
}
