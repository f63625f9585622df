/* app.c - the core's event routing (see app.h). */
#include "bot/app.h"
#include "bot/log.h"
#include "commands/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app {
	uv_loop_t *loop;
	struct config *cfg;
	struct chat *chat;
	struct cloud *cloud;
	bool dry_run;
};

int app_create(const struct app_opts *o, struct app **out, struct bot_error *err)
{
	struct app *a;

	*out = NULL;
	if (!o || !o->cfg || !o->chat)
		return bot_error_set(err, BOT_EINVAL, "app: config and chat are required");
	a = calloc(1, sizeof *a);
	if (!a)
		return bot_error_set(err, BOT_ENOMEM, "app: out of memory");
	a->loop = o->loop;
	a->cfg = config_ref(o->cfg);
	a->chat = o->chat;
	a->cloud = o->cloud;
	a->dry_run = o->dry_run;
	*out = a;
	return BOT_EOK;
}

void app_destroy(struct app *a)
{
	if (!a)
		return;
	config_unref(a->cfg);
	free(a);
}

struct chat *app_chat(struct app *a) { return a->chat; }
struct cloud *app_cloud(struct app *a) { return a->cloud; }
struct config *app_config(struct app *a) { return a->cfg; }
bool app_dry_run(const struct app *a) { return a->dry_run; }

void app_set_config(struct app *a, struct config *cfg)
{
	struct config *old = a->cfg;
	a->cfg = config_ref(cfg);
	config_unref(old);
}

bool app_may_request(const struct config_service *svc, const char *user)
{
	return user && (config_users_has(&svc->requesters, user, true) ||
			config_users_has(&svc->approvers, user, false));
}

bool app_may_approve(const struct config_service *svc, const char *user)
{
	return user && config_users_has(&svc->approvers, user, false);
}

const char *app_channel_for(const struct config_service *svc, const char *event_channel)
{
	return svc && svc->channel ? svc->channel : event_channel;
}

void app_known_services(struct app *a, char *buf, size_t n)
{
	size_t o = (size_t)snprintf(buf, n, "Known services:");
	for (size_t i = 0; i < a->cfg->n_services && o < n; i++) {
		char esc[300];
		chat_escape(esc, sizeof esc, a->cfg->services[i].name);
		o += (size_t)snprintf(buf + o, n - o, "%s `%s`", i ? "," : "", esc);
	}
}

/* "@bot scale web 3" -> the /scale command with "web 3". */
static void route_mention(struct app *a, const struct chat_event *ev)
{
	char word[32];
	const char *p = ev->text ? ev->text : "";
	size_t n = 0;

	/* skip a leading mention of the bot, e.g. "<@U0BOT> " */
	while (*p == ' ')
		p++;
	if (*p == '<') {
		const char *e = strchr(p, '>');
		if (e)
			p = e + 1;
	}
	while (*p == ' ')
		p++;
	while (p[n] && p[n] != ' ' && n + 2 < sizeof word)
		n++;
	word[0] = '/';
	memcpy(word + 1, p, n);
	word[n + 1] = '\0';
	struct chat_event cmd = *ev;
	cmd.type = CHAT_EV_COMMAND;
	if (!cmd_lookup(word) || n == 0) {
		strcpy(word, "/chatops");
		cmd.text = "help";
	} else {
		const char *rest = p + n;
		while (*rest == ' ')
			rest++;
		cmd.text = rest;
	}
	cmd.command = word;
	cmd_dispatch(a, &cmd);
}

void app_on_chat_event(void *ud, const struct chat_event *ev)
{
	struct app *a = ud;

	switch (ev->type) {
	case CHAT_EV_COMMAND:
		cmd_dispatch(a, ev);
		break;
	case CHAT_EV_MENTION:
		route_mention(a, ev);
		break;
	case CHAT_EV_BUTTON:
		log_info("button", "action=%s user=%s", ev->action_id, ev->user);
		break;
	}
}
