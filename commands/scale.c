/* scale.c - /scale <service> <count> [--timer 10m|PT10M] [reason...]
 *
 * Checks every word before anything happens (service, who asks, the count
 * and its bounds, the timer and its bounds); any problem is answered to the
 * requester only, with the usage line, and nothing is read or changed. Then
 * the workflow reads the service and opens an approval gate. */
#include "commands/commands.h"
#include "bot/base/duration.h"
#include "bot/base/error.h"
#include "bot/domain/workflow.h"
#include "config/config.h"

#include <stdlib.h>
#include <string.h>

#define REASON_MAX 500

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

/* Leading --options of the rest of the line; *reason points after them. */
static int parse_options(struct cmd_ctx *ctx, const struct config *cfg,
			 const struct config_service *svc, uint64_t *timer_ms, const char **reason,
			 struct chat_text *msg)
{
	char *p = (char *)(ctx->rest ? ctx->rest : "");

	*timer_ms = svc->timer_ms;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "--", 2) != 0)
			break;
		char *w = p, *val;
		while (*p && *p != ' ' && *p != '\t' && *p != '=')
			p++;
		size_t wl = (size_t)(p - w);
		if (wl == 7 && strncmp(w, "--timer", 7) == 0) {
			if (*p == '=')
				p++;
			while (*p == ' ' || *p == '\t')
				p++;
			val = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
			char save = *p;
			*p = '\0';
			if (parse_timer(cfg, val, timer_ms, msg) != 0)
				return -1;
			*p = save;
			continue;
		}
		*p = '\0';
		chat_text_printf(msg, "Unknown option ");
		chat_text_code(msg, "%s", w);
		chat_text_printf(msg, " (the only option is ");
		chat_text_code(msg, "--timer");
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

enum cmd_status cmd_scale(struct cmd_ctx *ctx, struct chat_text *msg)
{
	const struct config *cfg = ctx->env->cfg;
	const struct config_service *svc = config_service_find(cfg, ctx->argv[1]);
	struct bot_error err = {0};
	uint64_t timer_ms;
	const char *reason = NULL;
	int count;

	if (!svc) {
		chat_text_printf(msg, "Unknown service ");
		chat_text_code(msg, "%s", ctx->argv[1]);
		chat_text_printf(msg, ". ");
		cmd__known_services(cfg, msg);
		return CMD_USAGE;
	}
	if (!cmd__may_request(svc, ctx->ev->user)) {
		chat_text_printf(msg, "You may not request changes to ");
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, ": you are not among its requesters or approvers. Nothing was "
				 "requested.");
		return CMD_DENIED;
	}
	if (parse_count(ctx->argv[2], &count, msg) != 0)
		return CMD_USAGE;
	if (count < svc->min_desired || count > svc->max_desired) {
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, " may be scaled to between %d and %d tasks; %d is out of "
				 "bounds.", svc->min_desired, svc->max_desired, count);
		return CMD_USAGE;
	}
	if (parse_options(ctx, cfg, svc, &timer_ms, &reason, msg) != 0)
		return CMD_USAGE;

	struct wf_scale req = {
		.svc = svc,
		.user = ctx->ev->user,
		.channel = cmd__channel_for(svc, ctx->ev->channel),
		.reply_channel = ctx->ev->channel,
		.target = count,
		.timer_ms = timer_ms,
		.reason = reason,
	};
	if (wf_scale_start(ctx->env->wf, &req, &err) != 0) {
		chat_text_printf(msg, "Could not start the request: %s. Nothing was requested.",
				 err.msg);
		return CMD_FAILED;
	}
	return CMD_OK;
}
