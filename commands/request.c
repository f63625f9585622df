/* request.c - what /scale, /restart and /rollback share: the service, its
 * rule for the action (config_action: who may ask and approve, the timer),
 * the options (--timer; --to for rollback) and the reason, all checked
 * before anything is read; then the workflow takes the request
 * (wf_request_start). Any problem is answered to the requester only and
 * nothing is read or changed.
 *
 *   /restart <service> [--timer 10m] [reason...]
 *   /rollback <service> [--to REVISION] [--timer 10m] [reason...]
 */
#include "commands/commands.h"
#include "bot/base/duration.h"
#include "bot/base/error.h"
#include "bot/domain/workflow.h"
#include "config/config.h"

#include <stdlib.h>
#include <string.h>

#define REASON_MAX 500
#define TO_MAX 256

/* --to's value: a revision number (7), family:revision (web:7) or a task
 * definition ARN; the action checks it against ECS. 0, or a message. */
static int parse_to(const char *val, char *to, struct chat_text *msg)
{
	size_t n = strlen(val);

	if (!n) {
		chat_text_code(msg, "--to");
		chat_text_printf(msg, " needs a revision, e.g. ");
		chat_text_code(msg, "--to 7");
		chat_text_printf(msg, " or ");
		chat_text_code(msg, "--to web:7");
		chat_text_printf(msg, ".");
		return -1;
	}
	for (const char *p = val; *p; p++)
		if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= 'A' && *p <= 'Z') && !strchr(":/-_.", *p)) {
			chat_text_code(msg, "%s", val);
			chat_text_printf(msg, " is not a task definition revision: write a number (");
			chat_text_code(msg, "--to 7");
			chat_text_printf(msg, ") or family:revision (");
			chat_text_code(msg, "--to web:7");
			chat_text_printf(msg, ").");
			return -1;
		}
	if (n >= TO_MAX || (strspn(val, "0123456789") == n && n > 7)) {
		chat_text_printf(msg, "The revision ");
		chat_text_code(msg, "%.40s…", val);
		chat_text_printf(msg, " is far too long.");
		return -1;
	}
	memcpy(to, val, n + 1);
	return 0;
}

/* One line of plain words: every control character (new lines, tabs...)
 * becomes a space, runs of spaces one, none at the ends. In place. */
static void fold_reason(char *s)
{
	char *o = s;
	bool space = true; /* drops leading spaces */

	for (const char *p = s; *p; p++) {
		bool ws = (unsigned char)*p < 0x20 || *p == 0x7f || *p == ' ';
		if (ws && space)
			continue;
		*o++ = ws ? ' ' : *p;
		space = ws;
	}
	if (o > s && o[-1] == ' ')
		o--;
	*o = '\0';
}

/* --timer's value (NUL-terminated) into *timer_ms, within the configured
 * bounds; 0, or a message in msg. */
static int parse_timer(const struct config *cfg, const char *val, uint64_t *timer_ms,
		       struct chat_text *msg)
{
	struct bot_error err = {0};
	char lo[DURATION_FMT_MAX], hi[DURATION_FMT_MAX];

	if (!*val) {
		chat_text_code(msg, "--timer");
		chat_text_printf(msg, " needs a duration, e.g. ");
		chat_text_code(msg, "--timer 10m");
		chat_text_printf(msg, " or ");
		chat_text_code(msg, "--timer PT10M");
		chat_text_printf(msg, ".");
		return -1;
	}
	if (duration_parse(val, timer_ms, &err) != 0) {
		static const char *const forms[] = {"10m", "90s", "1h30m", "PT10M"};
		chat_text_code(msg, "%s", val);
		chat_text_printf(msg, " is not a duration: write it like ");
		for (size_t i = 0; i < BOT_ARRAY_LEN(forms); i++) {
			chat_text_printf(msg, "%s", i == 0 ? "" : i + 1 < BOT_ARRAY_LEN(forms) ?
					 ", " : " or ");
			chat_text_code(msg, "%s", forms[i]);
		}
		chat_text_printf(msg, ".");
		return -1;
	}
	duration_format(cfg->defaults.min_timer_ms, lo, sizeof lo);
	duration_format(cfg->defaults.max_timer_ms, hi, sizeof hi);
	if (*timer_ms < cfg->defaults.min_timer_ms || *timer_ms > cfg->defaults.max_timer_ms) {
		chat_text_printf(msg, "The timer ");
		chat_text_code(msg, "%s", val);
		chat_text_printf(msg, " is out of bounds: it must be between %s and %s.", lo, hi);
		return -1;
	}
	return 0;
}

/* Leading --options of the rest of the line (--timer; --to when to is
 * not NULL, copied into to[TO_MAX]); *reason points after them. */
static int parse_options(struct cmd_ctx *ctx, const struct config *cfg,
			 const struct config_action *rule, uint64_t *timer_ms, char *to,
			 const char **reason, struct chat_text *msg)
{
	char *p = (char *)(ctx->rest ? ctx->rest : "");

	*timer_ms = rule->timer_ms;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "--", 2) != 0)
			break;
		char *w = p, *val;
		while (*p && *p != ' ' && *p != '\t' && *p != '=')
			p++;
		size_t wl = (size_t)(p - w);
		bool is_timer = wl == 7 && strncmp(w, "--timer", 7) == 0;
		bool is_to = to && wl == 4 && strncmp(w, "--to", 4) == 0;
		if (is_timer || is_to) {
			if (*p == '=')
				p++;
			while (*p == ' ' || *p == '\t')
				p++;
			val = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
			char save = *p;
			*p = '\0';
			if (is_timer && parse_timer(cfg, val, timer_ms, msg) != 0)
				return -1;
			if (is_to && parse_to(val, to, msg) != 0)
				return -1;
			*p = save;
			continue;
		}
		*p = '\0';
		chat_text_printf(msg, "Unknown option ");
		chat_text_code(msg, "%s", w);
		chat_text_printf(msg, " (the options are ");
		chat_text_code(msg, "--timer");
		if (to) {
			chat_text_printf(msg, " and ");
			chat_text_code(msg, "--to");
		}
		chat_text_printf(msg, ").");
		return -1;
	}
	fold_reason(p);
	if (strlen(p) > REASON_MAX) {
		chat_text_printf(msg, "The reason is too long (%zu characters; at most %d).", strlen(p),
				 REASON_MAX);
		return -1;
	}
	*reason = p;
	return 0;
}


static bool may_request(const struct config_action *rule, const char *user)
{
	return user && (config_users_has(&rule->requesters, user, true) ||
			config_users_has(&rule->approvers, user, false));
}

enum cmd_status cmd__request_check(struct cmd_ctx *ctx, const char *kind,
				   const struct config_service **svc_out,
				   const struct config_action **rule_out, struct chat_text *msg)
{
	const struct config *cfg = ctx->env->cfg;
	const struct config_service *svc = config_service_find(cfg, ctx->argv[1]);
	const struct config_action *rule;

	if (!svc) {
		chat_text_printf(msg, "Unknown service ");
		chat_text_code(msg, "%s", ctx->argv[1]);
		chat_text_printf(msg, ". ");
		cmd__known_services(cfg, msg);
		return CMD_USAGE;
	}
	rule = config_action_find(svc, kind);
	if (!rule) {
		chat_text_code(msg, "%s", ctx->argv[0]);
		chat_text_printf(msg, " is not allowed for ");
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, " (its configuration allows: ");
		for (size_t i = 0; i < svc->n_actions; i++)
			chat_text_printf(msg, "%s%s", i ? ", " : "", svc->actions[i].kind);
		chat_text_printf(msg, "). Nothing was requested.");
		return CMD_DENIED;
	}
	if (!may_request(rule, ctx->ev->user)) {
		chat_text_printf(msg, "You may not request changes to ");
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, " with ");
		chat_text_code(msg, "%s", ctx->argv[0]);
		chat_text_printf(msg, ": you are not among its requesters or approvers. Nothing was "
				 "requested.");
		return CMD_DENIED;
	}
	*svc_out = svc;
	*rule_out = rule;
	return CMD_OK;
}

enum cmd_status cmd__request_open(struct cmd_ctx *ctx, const char *kind,
				  const struct config_service *svc,
				  const struct config_action *rule, const struct action_args *args,
				  bool with_to, struct chat_text *msg)
{
	struct bot_error err = {0};
	uint64_t timer_ms;
	const char *reason = NULL;
	char to[TO_MAX] = "";

	if (parse_options(ctx, ctx->env->cfg, rule, &timer_ms, with_to ? to : NULL, &reason,
			  msg) != 0)
		return CMD_USAGE;
	struct wf_request req = {
		.svc = svc,
		.action = kind,
		.args = *args,
		.user = ctx->ev->user,
		.channel = cmd__channel_for(svc, ctx->ev->channel),
		.reply_channel = ctx->ev->channel,
		.timer_ms = timer_ms,
		.reason = reason,
	};
	if (to[0])
		req.args.to = to;
	if (wf_request_start(ctx->env->wf, &req, &err) != 0) {
		chat_text_printf(msg, "Could not start the request: %s. Nothing was requested.",
				 err.msg);
		return CMD_FAILED;
	}
	return CMD_OK;
}

enum cmd_status cmd_restart(struct cmd_ctx *ctx, struct chat_text *msg)
{
	const struct config_service *svc;
	const struct config_action *rule;
	struct action_args args = {0};
	enum cmd_status st = cmd__request_check(ctx, "restart", &svc, &rule, msg);

	return st != CMD_OK ? st : cmd__request_open(ctx, "restart", svc, rule, &args, false, msg);
}

enum cmd_status cmd_rollback(struct cmd_ctx *ctx, struct chat_text *msg)
{
	const struct config_service *svc;
	const struct config_action *rule;
	struct action_args args = {0};
	enum cmd_status st = cmd__request_check(ctx, "rollback", &svc, &rule, msg);

	return st != CMD_OK ? st : cmd__request_open(ctx, "rollback", svc, rule, &args, true, msg);
}
