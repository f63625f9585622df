/* commands.c - the command table, lookup, argument splitting, dispatch. */
#include "commands/commands.h"
#include "bot/base/duration.h"
#include "bot/base/error.h"
#include "bot/base/log.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keep sorted by name: cmd_lookup uses bsearch and a unit test checks it. */
const struct cmd_def cmd_table[] = {
	{"/chatops", cmd_chatops, 0, 1, false, CMD_ANYONE, false, "/chatops [help]",
	 "What the bot does and what you may ask of it"},
	{"/gates", cmd_gates, 0, 2, false, CMD_REQUESTERS, false, "/gates [cancel <id>]",
	 "Open and recent approval requests; cancel an open one (requester or approver)"},
	{"/investigate", cmd_investigate, 1, 1, false, CMD_REQUESTERS, true, "/investigate <service>",
	 "Service state, CPU and memory over 30 min, alarms, and a suggested action"},
	{"/restart", cmd_restart, 1, 1, true, CMD_REQUESTERS, true,
	 "/restart <service> [--timer 10m|PT10M] [reason...]",
	 "Ask for a new deployment of the service's task definition (replaces every task); "
	 "approved like /scale"},
	{"/rollback", cmd_rollback, 1, 1, true, CMD_REQUESTERS, true,
	 "/rollback <service> [--to REVISION] [--timer 10m|PT10M] [reason...]",
	 "Ask to deploy the task definition revision before the current one (or --to one); "
	 "approved like /scale"},
	{"/scale", cmd_scale, 2, 2, true, CMD_REQUESTERS, true,
	 "/scale <service> <count> [--timer 10m|PT10M] [reason...]",
	 "Ask to set the desired task count; approvers get Approve/Deny, silence until the "
	 "timer ends counts as approval"},
};
const size_t cmd_table_len = BOT_ARRAY_LEN(cmd_table);

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd_def *)elem)->name);
}

const struct cmd_def *cmd_lookup(const char *name)
{
	char buf[64];

	if (!name || !*name)
		return NULL;
	if (name[0] != '/') {
		snprintf(buf, sizeof buf, "/%s", name);
		name = buf;
	}
	return bsearch(name, cmd_table, cmd_table_len, sizeof cmd_table[0], cmp_name);
}

static char *skip_ws(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

int cmd_split(struct cmd_ctx *ctx, char *buf, int max_words)
{
	char *p = skip_ws(buf);

	if (max_words > CMD_MAX_ARGS - 1)
		max_words = CMD_MAX_ARGS - 1;
	ctx->argc = 1;
	while (*p && ctx->argc <= max_words) {
		char *w = p, *o = p;
		bool quoted = false;
		for (; *p; p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (!quoted && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
				break;
			*o++ = *p;
		}
		if (quoted)
			return BOT_EINVAL;
		bool more = *p != '\0';
		*o = '\0';
		ctx->argv[ctx->argc++] = w;
		if (more)
			p = skip_ws(p + 1);
	}
	ctx->rest = p;
	/* trim trailing whitespace of rest */
	size_t n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
		p[--n] = '\0';
	return BOT_EOK;
}

bool cmd__may_request(const struct config_service *svc, const char *user)
{
	if (!user)
		return false;
	if (config_users_has(&svc->requesters, user, true) ||
	    config_users_has(&svc->approvers, user, false))
		return true;
	for (size_t i = 0; i < svc->n_actions; i++) /* an action's own people */
		if (config_users_has(&svc->actions[i].requesters, user, true) ||
		    config_users_has(&svc->actions[i].approvers, user, false))
			return true;
	return false;
}

bool cmd__may_approve(const struct config_service *svc, const char *user)
{
	return user && config_users_has(&svc->approvers, user, false);
}

const char *cmd__channel_for(const struct config_service *svc, const char *event_channel)
{
	return svc && svc->channel ? svc->channel : event_channel;
}

void cmd__known_services(const struct config *cfg, struct chat_text *t)
{
	chat_text_printf(t, "Known services:");
	for (size_t i = 0; i < cfg->n_services; i++) {
		chat_text_printf(t, "%s ", i ? "," : "");
		chat_text_code(t, "%s", cfg->services[i].name);
	}
}

/* May user use a command of this audience on some service? */
static bool may_use(const struct config *cfg, const char *user, enum cmd_audience who)
{
	if (who == CMD_ANYONE)
		return true;
	if (!user)
		return false;
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cmd__may_request(&cfg->services[i], user))
			return true;
	return false;
}

static void put_services(const struct config *cfg, const char *user, bool approve,
			 struct chat_text *t)
{
	size_t k = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *s = &cfg->services[i];
		if (!(approve ? cmd__may_approve(s, user) : cmd__may_request(s, user)))
			continue;
		if (k++)
			chat_text_printf(t, ", ");
		chat_text_code(t, "%s", s->name);
	}
	if (k == 0)
		chat_text_printf(t, "none");
}

/* At most this many users of a list are named; then "and N more". */
#define HELP_USERS_MAX 5

static void put_users(const struct config_users *u, struct chat_text *t)
{
	for (size_t i = 0; i < u->n && i < HELP_USERS_MAX; i++) {
		chat_text_printf(t, "%s", i ? ", " : "");
		if (strcmp(u->ids[i], "*") == 0)
			chat_text_printf(t, "anyone");
		else
			chat_text_user(t, u->ids[i]);
	}
	if (u->n > HELP_USERS_MAX)
		chat_text_printf(t, " and %zu more", u->n - HELP_USERS_MAX);
}

/* What action a gives that differs from its service s, as
 * " (rollback: 2 approvals of @U1, @U2; timer 5m)"; nothing when the same. */
static void put_action_overrides(const struct config_service *s, const struct config_action *a,
				 struct chat_text *t)
{
	const char *sep = "";
	char d[DURATION_FMT_MAX];

	if (a->approvers.ids == s->approvers.ids && a->min_approvals == s->min_approvals &&
	    a->timer_ms == s->timer_ms && a->requesters.ids == s->requesters.ids &&
	    a->allow_self_approval == s->allow_self_approval)
		return;
	chat_text_printf(t, " (%s: ", a->kind);
	if (a->approvers.ids != s->approvers.ids || a->min_approvals != s->min_approvals) {
		chat_text_printf(t, "%d approval%s of ", a->min_approvals,
				 a->min_approvals == 1 ? "" : "s");
		put_users(&a->approvers, t);
		sep = "; ";
	}
	if (a->timer_ms != s->timer_ms && duration_format(a->timer_ms, d, sizeof d) == BOT_EOK) {
		chat_text_printf(t, "%stimer %s", sep, d);
		sep = "; ";
	}
	if (a->requesters.ids != s->requesters.ids) {
		chat_text_printf(t, "%srequested by ", sep);
		put_users(&a->requesters, t);
		sep = "; ";
	}
	if (a->allow_self_approval != s->allow_self_approval)
		chat_text_printf(t, "%sself-approval %s", sep,
				 a->allow_self_approval ? "allowed" : "not allowed");
	chat_text_printf(t, ")");
}

/* "Actions: `web`: scale, restart, rollback (rollback: ...)", one line per
 * service user may request or approve (every service when user is NULL). */
static void put_actions(const struct config *cfg, const char *user, struct chat_text *t)
{
	char kinds[64];
	size_t k = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *s = &cfg->services[i];
		if (user && !cmd__may_request(s, user) && !cmd__may_approve(s, user))
			continue;
		chat_text_printf(t, "%s", k++ ? "\n" : "Actions by service:\n");
		chat_text_code(t, "%s", s->name);
		/* one span for the names: the text has a budget of spans */
		kinds[0] = '\0';
		for (size_t j = 0, o = 0; j < s->n_actions && o < sizeof kinds; j++)
			o += (size_t)snprintf(kinds + o, sizeof kinds - o, "%s%s", j ? ", " : "",
					      s->actions[j].kind);
		chat_text_printf(t, ": %s", kinds);
		for (size_t j = 0; j < s->n_actions; j++)
			put_action_overrides(s, &s->actions[j], t);
	}
	if (k)
		chat_text_printf(t, "\n");
}

void cmd_help_text(const struct config *cfg, const char *user, struct chat_text *t)
{
	size_t hidden = 0;

	chat_text_bold(t, "chatops-bot");
	chat_text_printf(t, " investigates ECS services and scales them after approval: approvers "
			 "get ");
	chat_text_bold(t, "Approve");
	chat_text_printf(t, " / ");
	chat_text_bold(t, "Deny");
	chat_text_printf(t, " buttons, and if nobody denies before the timer ends, silence counts "
			 "as approval.\n");
	for (size_t i = 0; i < cmd_table_len; i++) {
		if (user && !may_use(cfg, user, cmd_table[i].audience)) {
			hidden++;
			continue;
		}
		chat_text_code(t, "%s", cmd_table[i].usage);
		chat_text_printf(t, " %s\n", cmd_table[i].summary);
	}
	put_actions(cfg, user, t);
	if (!user)
		return;
	chat_text_printf(t, "You may request changes to: ");
	put_services(cfg, user, false, t);
	chat_text_printf(t, "\nYou may approve or deny requests for: ");
	put_services(cfg, user, true, t);
	if (hidden) {
		chat_text_printf(t, "\n");
		unsigned old = chat_text_style(t, CHAT_STYLE_ITALIC);
		chat_text_printf(t, "%zu command%s hidden: ask a service's owners to add you to the "
				 "bot's requesters.", hidden, hidden == 1 ? "" : "s");
		chat_text_style(t, old);
	}
}

static void reply_ephemeral(const struct cmd_env *env, const struct chat_event *ev,
			    const struct chat_text *t)
{
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = t};
	struct chat_message m = {.channel = ev->channel, .rich = t, .blocks = &b, .n_blocks = 1};
	int rc = chat_ephemeral(env->chat, ev->user, &m, NULL, NULL);
	/* BOT_EBUSY: dropped under a burst, counted and logged by the backend */
	if (rc && rc != BOT_EBUSY)
		log_warn("command.reply", "error=%s", bot_err_name(rc));
}

/* slack.allowed_channels: a command typed elsewhere is told where to go. */
static bool channel_refused(const struct cmd_env *env, const struct chat_event *ev,
			    struct chat_text *out)
{
	const struct config *cfg = env->cfg;
	const struct config_channels *ch = &cfg->slack.allowed_channels;

	if (config_channel_allowed(cfg, ev->channel))
		return false;
	env->chat->refused[CHAT_REFUSED_CHANNEL]++;
	chat_text_printf(out, "The bot takes commands only in");
	for (size_t i = 0; i < ch->n; i++) {
		chat_text_printf(out, "%s ", i == 0 ? "" : i + 1 == ch->n ? " and" : ",");
		chat_text_channel(out, ch->ids[i]);
	}
	chat_text_printf(out, "; nothing was done here.");
	log_info("command", "name=%s user=%s channel=%s result=channel_not_allowed",
		 LOG_Q(ev->command), LOG_Q(ev->user), LOG_Q(ev->channel));
	reply_ephemeral(env, ev, out);
	return true;
}

/* "Usage: /scale <service> ..." with the usage as code. */
static void put_usage(struct chat_text *t, const struct cmd_def *def)
{
	chat_text_printf(t, "Usage: ");
	chat_text_code(t, "%s", def->usage);
}

void cmd_dispatch(const struct cmd_env *env, const struct chat_event *ev)
{
	struct cmd_ctx ctx = {.env = env, .ev = ev};
	const struct cmd_def *def = cmd_lookup(ev->command);
	struct chat_text msg, out;
	char *text = NULL;
	enum cmd_status st;

	chat_text_init(&msg);
	chat_text_init(&out);
	if (channel_refused(env, ev, &out))
		return;
	if (!def) {
		chat_text_printf(&out, "Unknown command ");
		chat_text_code(&out, "%s", ev->command ? ev->command : "");
		chat_text_printf(&out, ". Known commands:");
		for (size_t i = 0; i < cmd_table_len; i++) {
			chat_text_printf(&out, " ");
			chat_text_code(&out, "%s", cmd_table[i].name);
		}
		reply_ephemeral(env, ev, &out);
		return;
	}
	text = strdup(ev->text ? ev->text : "");
	if (!text) {
		chat_text_printf(&out, "Out of memory; nothing was done.");
		reply_ephemeral(env, ev, &out);
		return;
	}
	/* commands that act per service say more (which services you may
	 * ask for); the others are refused here */
	if (!def->checks_audience && !may_use(env->cfg, ev->user, def->audience)) {
		chat_text_code(&out, "%s", def->name);
		chat_text_printf(&out, " is for the requesters and approvers of a service, and the "
				 "bot's configuration names you for none. Ask a service's owners to "
				 "add you; ");
		chat_text_code(&out, "/chatops help");
		chat_text_printf(&out, " says what you may do.");
		reply_ephemeral(env, ev, &out);
		goto out;
	}
	ctx.argv[0] = (char *)def->name;
	if (cmd_split(&ctx, text, def->max_args) != BOT_EOK) {
		chat_text_printf(&out, "Unbalanced quote. ");
		put_usage(&out, def);
		reply_ephemeral(env, ev, &out);
		goto out;
	}
	if (ctx.argc - 1 < def->min_args || (*ctx.rest && !def->takes_rest)) {
		chat_text_printf(&out, "%s arguments. ", ctx.argc - 1 < def->min_args ? "Missing" :
				 "Too many");
		put_usage(&out, def);
		reply_ephemeral(env, ev, &out);
		goto out;
	}
	st = def->fn(&ctx, &msg);
	log_info("command", "name=%s user=%s status=%d", def->name, LOG_Q(ev->user), (int)st);
	switch (st) {
	case CMD_OK:
		if (msg.n) /* a note for the asker, e.g. where the answer already is */
			reply_ephemeral(env, ev, &msg);
		break;
	case CMD_USAGE:
		chat_text_cat(&out, &msg);
		chat_text_printf(&out, "\n");
		put_usage(&out, def);
		reply_ephemeral(env, ev, &out);
		break;
	case CMD_DENIED:
	case CMD_FAILED:
		reply_ephemeral(env, ev, &msg);
		break;
	}
out:
	free(text);
}
