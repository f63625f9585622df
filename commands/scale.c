/* scale.c - /scale <service> <count> [--timer 10m|PT10M] [reason...]
 *
 * Checks every word before anything happens (service, that it allows
 * scale, who asks, the count and its bounds, the timer and its bounds; see
 * request.c); any problem is answered to the requester only, with the usage
 * line, and nothing is read or changed. Then the workflow reads the service
 * and opens an approval gate. */
#include "commands/commands.h"
#include "bot/base/error.h"
#include "bot/domain/workflow.h"
#include "config/config.h"

#include <stdlib.h>
#include <string.h>

/* A desired count as typed: digits only. 0, or a message in msg. */
static int parse_count(const char *s, int *out, struct chat_text *msg)
{
	const char *typed = s;
	long v = 0;

	if (s[0] == '-' && s[1]) {
		chat_text_printf(msg, "The count must be zero or more; ");
		chat_text_code(msg, "%s", typed);
		chat_text_printf(msg, " is negative.");
		return -1;
	}
	if (s[0] == '+')
		s++;
	if (!*s) {
		chat_text_printf(msg, "The count must be a whole number, e.g. ");
		chat_text_code(msg, "3");
		chat_text_printf(msg, ".");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			chat_text_printf(msg, "The count must be a whole number of tasks; ");
			chat_text_code(msg, "%s", typed);
			chat_text_printf(msg, " is not.");
			return -1;
		}
		if (v > 1000000) {
			chat_text_printf(msg, "The count ");
			chat_text_code(msg, "%s", typed);
			chat_text_printf(msg, " is far too large.");
			return -1;
		}
		v = v * 10 + (*p - '0');
	}
	*out = (int)v;
	return 0;
}

enum cmd_status cmd_scale(struct cmd_ctx *ctx, struct chat_text *msg)
{
	const struct config_service *svc;
	const struct config_action *rule;
	struct action_args args = {0};
	enum cmd_status st = cmd__request_check(ctx, STORE_ACTION_SCALE, &svc, &rule, msg);

	if (st != CMD_OK)
		return st;
	if (parse_count(ctx->argv[2], &args.count, msg) != 0)
		return CMD_USAGE;
	if (args.count < svc->min_desired || args.count > svc->max_desired) {
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, " may be scaled to between %d and %d tasks; %d is out of "
				 "bounds.", svc->min_desired, svc->max_desired, args.count);
		return CMD_USAGE;
	}
	return cmd__request_open(ctx, STORE_ACTION_SCALE, svc, rule, &args, false, msg);
}
