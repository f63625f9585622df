/* scale.c - /scale <service> <count> [--timer 10m|PT10M] [reason...]
 *
 * Checks every word before anything happens (service, who asks, the count
 * and its bounds, the timer and its bounds); any problem is answered to the
 * requester only, with the usage line, and nothing is read or changed. Then
 * the workflow reads the service and opens an approval gate. */
#include "commands/commands.h"
#include "bot/base/duration.h"
#include "bot/domain/workflow.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 500

/* A desired count as typed: digits only. 0, or a message in msg. */
static int parse_count(const char *s, int *out, char *msg, size_t n)
{
	char e[64];
	long v = 0;

	chat_escape(e, sizeof e, s);
	if (s[0] == '-' && s[1]) {
		snprintf(msg, n, "The count must be zero or more; `%s` is negative.", e);
		return -1;
	}
	if (s[0] == '+')
		s++;
	if (!*s) {
		snprintf(msg, n, "The count must be a whole number, e.g. `3`.");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(msg, n, "The count must be a whole number of tasks; `%s` is not.", e);
			return -1;
		}
		if (v > 1000000) {
			snprintf(msg, n, "The count `%s` is far too large.", e);
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

/* Leading --options of the rest of the line; *reason points after them. */
static int parse_options(struct cmd_ctx *ctx, const struct config *cfg,
			 const struct config_service *svc, uint64_t *timer_ms, const char **reason,
			 char *msg, size_t n)
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
			struct bot_error err = {0};
			char e[80], lo[DURATION_FMT_MAX], hi[DURATION_FMT_MAX];
			chat_escape(e, sizeof e, val);
			if (!*val) {
				snprintf(msg, n, "`--timer` needs a duration, e.g. `--timer 10m` or `--timer PT10M`.");
				return -1;
			}
			if (duration_parse(val, timer_ms, &err) != 0) {
				snprintf(msg, n, "`%s` is not a duration: write it like `10m`, `90s`, `1h30m` "
					 "or `PT10M`.", e);
				return -1;
			}
			duration_format(cfg->defaults.min_timer_ms, lo, sizeof lo);
			duration_format(cfg->defaults.max_timer_ms, hi, sizeof hi);
			if (*timer_ms < cfg->defaults.min_timer_ms || *timer_ms > cfg->defaults.max_timer_ms) {
				snprintf(msg, n, "The timer `%s` is out of bounds: it must be between %s and %s.",
					 e, lo, hi);
				return -1;
			}
			*p = save;
			continue;
		}
		char e[64];
		*p = '\0';
		chat_escape(e, sizeof e, w);
		snprintf(msg, n, "Unknown option `%s` (the only option is `--timer`).", e);
		return -1;
	}
	fold_reason(p);
	if (strlen(p) > REASON_MAX) {
		snprintf(msg, n, "The reason is too long (%zu characters; at most %d).", strlen(p),
			 REASON_MAX);
		return -1;
	}
	*reason = p;
	return 0;
}

enum cmd_status cmd_scale(struct cmd_ctx *ctx, char *msg, size_t msg_len)
{
	const struct config *cfg = ctx->env->cfg;
	const struct config_service *svc = config_service_find(cfg, ctx->argv[1]);
	char esc[300], known[1024];
	struct bot_error err = {0};
	uint64_t timer_ms;
	const char *reason = NULL;
	int count;

	if (!svc) {
		chat_escape(esc, sizeof esc, ctx->argv[1]);
		cmd__known_services(cfg, known, sizeof known);
		snprintf(msg, msg_len, "Unknown service `%s`. %s", esc, known);
		return CMD_USAGE;
	}
	chat_escape(esc, sizeof esc, svc->name);
	if (!cmd__may_request(svc, ctx->ev->user)) {
		snprintf(msg, msg_len, "You may not request changes to `%s`: you are not among its "
			 "requesters or approvers. Nothing was requested.", esc);
		return CMD_DENIED;
	}
	if (parse_count(ctx->argv[2], &count, msg, msg_len) != 0)
		return CMD_USAGE;
	if (count < svc->min_desired || count > svc->max_desired) {
		snprintf(msg, msg_len, "`%s` may be scaled to between %d and %d tasks; %d is out of "
			 "bounds.", esc, svc->min_desired, svc->max_desired, count);
		return CMD_USAGE;
	}
	if (parse_options(ctx, cfg, svc, &timer_ms, &reason, msg, msg_len) != 0)
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
		snprintf(msg, msg_len, "Could not start the request: %s. Nothing was requested.", err.msg);
		return CMD_FAILED;
	}
	return CMD_OK;
}
