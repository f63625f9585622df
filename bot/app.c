/* app.c - the core's event routing (see app.h). */
#include "bot/app.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "bot/domain/workflow.h"
#include "commands/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app {
	uv_loop_t *loop;
	struct config *cfg;
	struct chat *chat;
	struct cloud *cloud;
	struct store *store;
	struct workflow *wf;
	bool dry_run;
	int64_t started_ms;
	uint64_t events, duplicates;
};

int app_create(const struct app_opts *o, struct app **out, struct bot_error *err)
{
	struct app *a;

	*out = NULL;
	if (!o || !o->cfg || !o->chat || !o->cloud || !o->store || !o->loop)
		return bot_error_set(err, BOT_EINVAL, "app: loop, config, chat, cloud and store are "
				     "required");
	a = calloc(1, sizeof *a);
	if (!a)
		return bot_error_set(err, BOT_ENOMEM, "app: out of memory");
	a->loop = o->loop;
	a->cfg = config_ref(o->cfg);
	a->chat = o->chat;
	a->cloud = o->cloud;
	a->store = o->store;
	a->dry_run = o->dry_run;
	a->started_ms = store_now(o->store);
	struct workflow_opts wo = {
		.loop = o->loop, .store = o->store, .chat = o->chat, .cloud = o->cloud, .cfg = o->cfg,
		.verify_first_ms = o->verify_first_ms, .verify_max_ms = o->verify_max_ms,
		.verify_timeout_ms = o->verify_timeout_ms,
	};
	int rc = wf_create(&wo, &a->wf, err);
	if (rc) {
		config_unref(a->cfg);
		free(a);
		return rc;
	}
	*out = a;
	return BOT_EOK;
}

int app_start(struct app *a, struct bot_error *err)
{
	return wf_start(a->wf, err);
}

void app_stop(struct app *a)
{
	if (a)
		wf_stop(a->wf);
}

void app_destroy(struct app *a)
{
	if (!a)
		return;
	wf_destroy(a->wf);
	config_unref(a->cfg);
	free(a);
}


void app_set_config(struct app *a, struct config *cfg)
{
	struct config *old = a->cfg;
	a->cfg = config_ref(cfg);
	config_unref(old);
	wf_set_config(a->wf, cfg);
}

void app_cmd_env(struct app *a, struct cmd_env *env)
{
	*env = (struct cmd_env){.cfg = a->cfg, .chat = a->chat, .cloud = a->cloud, .wf = a->wf};
}

/* Commands see only the narrow env, never the app. */
static void dispatch(struct app *a, const struct chat_event *ev)
{
	struct cmd_env env;

	app_cmd_env(a, &env);
	cmd_dispatch(&env, ev);
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
	dispatch(a, &cmd);
}

/* The "Scale to N" button of an investigation: the same checks as typing
 * /scale <service> <N> (value is "<service> <N>"). */
static void route_investigate_scale(struct app *a, const struct chat_event *ev)
{
	struct chat_event cmd = *ev;
	cmd.type = CHAT_EV_COMMAND;
	cmd.command = "/scale";
	cmd.text = ev->value ? ev->value : "";
	dispatch(a, &cmd);
}

/* Deduplication has three layers; each catches a case the others miss.
 *   1. The chat backend, in memory (adapters/slack/dedupe.h): Slack's retry
 *      or a replay after a reconnect is dropped before anything durable
 *      happens, at no cost. (integration.slack, unit.slack_dedupe)
 *   2. Here, in the store's processed ids ("app:<id>"): a redelivery that
 *      reaches a process without that memory - after a restart, or another
 *      replica sharing the store - is dropped before a command or mention
 *      runs again (/investigate would post twice). (unit.app)
 *   3. The gate's vote (store_gate_vote): a click's event id is recorded in
 *      the same atomic step as the vote it carries, so a click is audited
 *      and counted once even when layer 2 could not answer (a store error
 *      here means: act anyway). (unit.gate, unit.store_conformance.*) */
static bool already_processed(struct app *a, const struct chat_event *ev)
{
	struct bot_error err = {0};
	bool seen = false;
	char key[256];

	if (!ev->id || !*ev->id)
		return false;
	/* own namespace: the gate engine records click ids in the same table
	 * (its refusal of a repeated click is audited) */
	snprintf(key, sizeof key, "app:%s", ev->id);
	if (store_seen_event(a->store, key, &seen, &err) != BOT_EOK) {
		/* act rather than drop: every decision is still one conditional
		 * commit, so a repeat cannot decide twice */
		log_warn("event.dedupe", "id=%s error=%s", LOG_Q(ev->id), LOG_Q(err.msg));
		return false;
	}
	if (seen)
		log_info("event.duplicate", "id=%s action=dropped", LOG_Q(ev->id));
	return seen;
}

void app_on_chat_event(void *ud, const struct chat_event *ev)
{
	struct app *a = ud;

	a->events++;
	if (already_processed(a, ev)) {
		a->duplicates++;
		return;
	}
	switch (ev->type) {
	case CHAT_EV_COMMAND:
		dispatch(a, ev);
		break;
	case CHAT_EV_MENTION:
		route_mention(a, ev);
		break;
	case CHAT_EV_BUTTON:
		log_info("button", "action=%s user=%s", LOG_Q(ev->action_id), LOG_Q(ev->user));
		if (wf_on_button(a->wf, ev))
			break;
		if (ev->action_id && strcmp(ev->action_id, "investigate.scale") == 0)
			route_investigate_scale(a, ev);
		else
			log_warn("button", "action=%s result=unknown_action", LOG_Q(ev->action_id));
		break;
	}
}

size_t app_health_render(void *ud, enum health_doc doc, char *buf, size_t n, bool *healthy)
{
	struct app *a = ud;
	uint64_t counts[GATE_STATE_COUNT], open = 0;
	struct bot_error err = {0};
	bool store_ok = store_gate_counts(a->store, counts, &err) == BOT_EOK;
	int64_t up = (store_now(a->store) - a->started_ms) / 1000;
	size_t o = 0;
	int w;

	bool chat_up = !a->chat->ops->connected || a->chat->ops->connected(a->chat);

	/* a Slack reconnect is routine: reported, not "unhealthy" (a probe
	 * restarting the bot would only make it reconnect again) */
	*healthy = store_ok;
	if (store_ok)
		for (int s = 0; s < GATE_STATE_COUNT; s++)
			if (GATE_LIVE_MASK & GATE_STATE_BIT(s))
				open += counts[s];
	if (doc == HEALTH_DOC_STATUS) {
		w = snprintf(buf, n, "{\"status\":\"%s\",\"chat\":\"%s\",\"chat_connected\":%s,"
			     "\"cloud\":\"%s\",\"dry_run\":%s,\"store\":\"%s\",\"open_gates\":%llu,"
			     "\"uptime_s\":%lld}\n", store_ok ? "ok" : "degraded", a->chat->ops->name,
			     chat_up ? "true" : "false", a->cloud->ops->name,
			     a->dry_run ? "true" : "false", store_ok ? "ok" : "error",
			     (unsigned long long)open, (long long)up);
		return w < 0 ? 0 : (size_t)w;
	}
#define PUT(...)                                                        \
	do {                                                            \
		w = snprintf(buf + o, o < n ? n - o : 0, __VA_ARGS__);  \
		if (w > 0)                                              \
			o += (size_t)w;                                 \
	} while (0)
	PUT("# HELP chatops_up 1 while the bot runs.\n# TYPE chatops_up gauge\nchatops_up 1\n");
	PUT("# HELP chatops_uptime_seconds Seconds since the bot started.\n"
	    "# TYPE chatops_uptime_seconds gauge\nchatops_uptime_seconds %lld\n", (long long)up);
	PUT("# HELP chatops_store_ok 1 when the store answers.\n# TYPE chatops_store_ok gauge\n"
	    "chatops_store_ok %d\n", store_ok ? 1 : 0);
	PUT("# HELP chatops_chat_connected 1 while the chat backend is connected.\n"
	    "# TYPE chatops_chat_connected gauge\nchatops_chat_connected %d\n", chat_up ? 1 : 0);
	PUT("# HELP chatops_chat_events_total Chat events received (commands, clicks, mentions).\n"
	    "# TYPE chatops_chat_events_total counter\nchatops_chat_events_total %llu\n",
	    (unsigned long long)a->events);
	PUT("# HELP chatops_chat_events_duplicate_total Events dropped as already processed.\n"
	    "# TYPE chatops_chat_events_duplicate_total counter\n"
	    "chatops_chat_events_duplicate_total %llu\n", (unsigned long long)a->duplicates);
	PUT("# HELP chatops_chat_refused_total Events refused before anything acted on them, "
	    "by reason.\n# TYPE chatops_chat_refused_total counter\n");
	for (int r = 0; r < CHAT_REFUSED_COUNT; r++)
		PUT("chatops_chat_refused_total{reason=\"%s\"} %lu\n",
		    chat_refusal_name((enum chat_refusal)r), a->chat->refused[r]);
	PUT("# HELP chatops_gates Approval gates in the store, by state.\n# TYPE chatops_gates gauge\n");
	for (int s = 0; store_ok && s < GATE_STATE_COUNT; s++)
		PUT("chatops_gates{state=\"%s\"} %llu\n", store_state_name((enum gate_state)s),
		    (unsigned long long)counts[s]);
#undef PUT
	return o < n ? o : n - 1;
}
