/* app.c - the core's event routing (see app.h). */
#include "bot/app.h"
#include "bot/domain/alarm_intake.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "bot/base/ratelimit.h"
#include "bot/domain/service_read.h"
#include "bot/domain/workflow.h"
#include "commands/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending;

struct app {
	uv_loop_t *loop;
	struct config *cfg;
	struct chat *chat;
	struct cloud *cloud;
	struct store *store;
	struct workflow *wf;
	struct service_reads *reads; /* shared by /investigate and /scale */
	struct alarm_intake *alarms; /* CloudWatch alarms from the queue */
	bool dry_run, stopped;
	int64_t started_ms;
	uint64_t events, duplicates;
	struct pending *pending;  /* events waiting for the store's dedupe answer */
	struct ratelimit *limit;  /* commands per user (limits.user_commands_per_minute) */
	/* The store's gate counts for /metrics, as last answered (a scrape
	 * asks again at most once a second and shows the previous answer). */
	struct counting *counting; /* a count in flight */
	uint64_t counts[GATE_STATE_COUNT];
	bool counts_known, store_ok;
	int64_t counted_at;
};

/* One chat event while the store says whether it was processed already:
 * a deep copy (the backend's event is borrowed only during its call). */
struct pending {
	struct app *a;          /* NULL once the app is gone */
	struct pending *prev, *next;
	struct chat_event ev;
	char strings[];         /* ev's strings */
};

struct counting {
	struct app *a;          /* NULL once the app is gone */
};

static int64_t store_clock(void *ud)
{
	return store_now(ud);
}

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
	if (ratelimit_create((unsigned)o->cfg->limits.user_commands_per_minute, 0, &a->limit) ||
	    service_reads_create(o->cloud, store_clock, o->store, o->cfg->limits.read_window_ms,
				 &a->reads)) {
		ratelimit_destroy(a->limit);
		config_unref(a->cfg);
		free(a);
		return bot_error_set(err, BOT_ENOMEM, "app: out of memory");
	}
	struct workflow_opts wo = {
		.loop = o->loop, .store = o->store, .chat = o->chat, .cloud = o->cloud, .cfg = o->cfg,
		.reads = a->reads,
		.verify_first_ms = o->verify_first_ms, .verify_max_ms = o->verify_max_ms,
		.verify_timeout_ms = o->verify_timeout_ms,
	};
	int rc = wf_create(&wo, &a->wf, err);
	if (rc == BOT_EOK) {
		struct alarm_intake_opts ao = {
			.loop = o->loop, .store = o->store, .chat = o->chat, .cloud = o->cloud,
			.reads = a->reads, .wf = a->wf, .cfg = o->cfg,
		};
		rc = alarm_intake_create(&ao, &a->alarms, err);
		if (rc)
			wf_destroy(a->wf);
	}
	if (rc) {
		service_reads_destroy(a->reads);
		ratelimit_destroy(a->limit);
		config_unref(a->cfg);
		free(a);
		return rc;
	}
	*out = a;
	return BOT_EOK;
}

int app_start(struct app *a, struct bot_error *err)
{
	int rc = wf_start(a->wf, err);
	if (rc == BOT_EOK)
		alarm_intake_start(a->alarms);
	return rc;
}

void app_stop(struct app *a)
{
	if (!a)
		return;
	a->stopped = true;
	alarm_intake_stop(a->alarms);
	wf_stop(a->wf);
}

void app_destroy(struct app *a)
{
	if (!a)
		return;
	/* answers still to come find no app; nothing here acts on their
	 * events, so they stay unacked */
	for (struct pending *p = a->pending; p; p = p->next) {
		chat_settle(a->chat, p->ev.hold, false);
		p->ev.hold = NULL;
		p->a = NULL;
	}
	if (a->counting)
		a->counting->a = NULL;
	alarm_intake_destroy(a->alarms);
	wf_destroy(a->wf);
	service_reads_destroy(a->reads);
	ratelimit_destroy(a->limit);
	config_unref(a->cfg);
	free(a);
}


void app_set_config(struct app *a, struct config *cfg)
{
	struct config *old = a->cfg;
	a->cfg = config_ref(cfg);
	config_unref(old);
	ratelimit_set_rate(a->limit, (unsigned)cfg->limits.user_commands_per_minute);
	service_reads_set_window(a->reads, cfg->limits.read_window_ms);
	wf_set_config(a->wf, cfg);
	alarm_intake_set_config(a->alarms, cfg);
}

int app_alarm_handle(struct app *a, const struct cloud_alarm_change *ch, const char *channel,
		     void (*done)(void *ud, int rc), void *ud)
{
	return alarm_intake_handle(a->alarms, ch, channel, done, ud);
}

void app_alarm_stats(const struct app *a, struct alarm_intake_stats *out)
{
	alarm_intake_stats(a->alarms, out);
}

void app_cmd_env(struct app *a, struct cmd_env *env)
{
	*env = (struct cmd_env){.cfg = a->cfg, .chat = a->chat, .cloud = a->cloud, .wf = a->wf,
				.reads = a->reads};
}

/* Over the user's command rate: say when to try again, do nothing. */
static void slow_down(struct app *a, const struct chat_event *ev, uint64_t retry_ms)
{
	struct chat_text t;
	struct chat_message m = {.channel = ev->channel, .rich = &t};
	int limit = a->cfg->limits.user_commands_per_minute;

	a->chat->refused[CHAT_REFUSED_RATE]++;
	log_info("event.refused", "reason=rate user=%s command=%s limit_per_minute=%d "
		 "retry_ms=%llu", LOG_Q(ev->user), LOG_Q(ev->command), limit,
		 (unsigned long long)retry_ms);
	chat_text_init(&t);
	chat_text_printf(&t, "You sent more than %d command%s in a minute; try again in %llu s. "
			 "Nothing was done.", limit, limit == 1 ? "" : "s",
			 (unsigned long long)((retry_ms + 999) / 1000));
	if (ev->channel && ev->user)
		(void)chat_ephemeral(a->chat, ev->user, &m, NULL, NULL);
}

/* Commands see only the narrow env, never the app. Each one spends from
 * its user's rate (limits.user_commands_per_minute). */
static void dispatch(struct app *a, const struct chat_event *ev)
{
	struct cmd_env env;
	uint64_t retry_ms = 0;

	if (!ratelimit_take(a->limit, ev->user, uv_now(a->loop), &retry_ms)) {
		slow_down(a, ev, retry_ms);
		return;
	}
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

/* Act on ev, then settle its hold - but a card button's, which the
 * workflow settles once the vote is committed. */
static void route(struct app *a, const struct chat_event *ev)
{
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
			return;
		if (ev->action_id && strcmp(ev->action_id, "investigate.scale") == 0)
			route_investigate_scale(a, ev);
		else
			log_warn("button", "action=%s result=unknown_action", LOG_Q(ev->action_id));
		break;
	}
	chat_settle(a->chat, ev->hold, true);
}

#define EVENT_STRINGS(X)                                                              \
	X(id) X(user) X(user_name) X(channel) X(command) X(text) X(response_url)     \
	X(action_id) X(value) X(message_ts) X(thread_ts)

static struct pending *pending_new(struct app *a, const struct chat_event *ev)
{
	size_t len = 0, o = 0;
	struct pending *p;

#define EVENT_LEN(f) len += ev->f ? strlen(ev->f) + 1 : 0;
	EVENT_STRINGS(EVENT_LEN)
#undef EVENT_LEN
	p = malloc(sizeof *p + len);
	if (!p)
		return NULL;
	p->a = a;
	p->ev = *ev;
#define EVENT_COPY(f)                                           \
	if (ev->f) {                                            \
		size_t l = strlen(ev->f) + 1;                   \
		memcpy(p->strings + o, ev->f, l);               \
		p->ev.f = p->strings + o;                       \
		o += l;                                         \
	}
	EVENT_STRINGS(EVENT_COPY)
#undef EVENT_COPY
	p->prev = NULL;
	p->next = a->pending;
	if (a->pending)
		a->pending->prev = p;
	a->pending = p;
	return p;
}

static void pending_free(struct pending *p)
{
	if (p->a) {
		if (p->prev)
			p->prev->next = p->next;
		else
			p->a->pending = p->next;
		if (p->next)
			p->next->prev = p->prev;
	}
	free(p);
}

static void on_dedupe(void *ud, struct store_req *r)
{
	struct pending *p = ud;
	struct app *a = p->a;

	if (!a || a->stopped) {
		log_info("event.dropped", "id=%s reason=\"the bot is stopping\"", LOG_Q(p->ev.id));
		if (a)
			chat_settle(a->chat, p->ev.hold, false);
	} else if (r->rc) {
		/* act rather than drop: every decision is still one conditional
		 * commit, so a repeat cannot decide twice */
		log_warn("event.dedupe", "id=%s error=%s", LOG_Q(p->ev.id), LOG_Q(r->err.msg));
		route(a, &p->ev);
	} else if (r->flag) {
		log_info("event.duplicate", "id=%s action=dropped", LOG_Q(p->ev.id));
		a->duplicates++;
		chat_settle(a->chat, p->ev.hold, true);
	} else {
		route(a, &p->ev);
	}
	pending_free(p);
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
 *      here means: act anyway). (unit.gate, unit.store_conformance.*)
 *      A card button skips layer 2: its id recorded there before the vote
 *      commits would make a second delivery of the same click (Slack sends
 *      an envelope twice now and then) look handled on every replica if
 *      this process died in between - a click never acked (see
 *      chat_settle) nor recorded, yet refused.
 * The store answers on a later loop turn: the event waits as a copy. */
void app_on_chat_event(void *ud, const struct chat_event *ev)
{
	struct app *a = ud;
	struct pending *p;
	char key[256];
	int rc;

	a->events++;
	if (a->stopped) {
		chat_settle(a->chat, ev->hold, false);
		return;
	}
	if (!ev->id || !*ev->id || wf_is_gate_button(ev)) {
		route(a, ev);
		return;
	}
	/* own namespace: the gate engine records click ids in the same table
	 * (its refusal of a repeated click is audited) */
	snprintf(key, sizeof key, "app:%s", ev->id);
	p = pending_new(a, ev);
	rc = p ? store_seen_event_async(a->store, key, on_dedupe, p) : BOT_ENOMEM;
	if (rc) {
		log_warn("event.dedupe", "id=%s error=%s", LOG_Q(ev->id), LOG_Q(bot_strerror(rc)));
		if (p)
			pending_free(p);
		route(a, ev);
	}
}

static void on_counted(void *ud, struct store_req *r)
{
	struct counting *c = ud;
	struct app *a = c->a;

	free(c);
	if (!a)
		return;
	a->counting = NULL;
	if (r->rc == BOT_ECANCELLED)
		return;
	a->counts_known = true;
	a->store_ok = r->rc == BOT_EOK;
	a->counted_at = store_now(a->store);
	if (a->store_ok)
		memcpy(a->counts, r->counts, sizeof a->counts);
	else
		log_warn("health.store", "error=%s", LOG_Q(r->err.msg));
}

/* Ask the store for fresh counts, unless a count is on its way or the last
 * one is younger than a second. */
static void count_gates(struct app *a)
{
	struct counting *c;

	if (a->counting || a->stopped ||
	    (a->counts_known && store_now(a->store) - a->counted_at < 1000))
		return;
	c = malloc(sizeof *c);
	if (!c)
		return;
	c->a = a;
	if (store_gate_counts_async(a->store, on_counted, c) != BOT_EOK) {
		free(c);
		return;
	}
	a->counting = c;
}

size_t app_health_render(void *ud, enum health_doc doc, char *buf, size_t n, bool *healthy)
{
	struct app *a = ud;
	uint64_t open = 0;
	const uint64_t *counts = a->counts;
	/* until the store first answered, it is presumed fine */
	bool store_ok = !a->counts_known || a->store_ok;
	bool have_counts = a->counts_known && a->store_ok;
	int64_t up = (store_now(a->store) - a->started_ms) / 1000;
	size_t o = 0;
	int w;

	bool chat_up = !a->chat->ops->connected || a->chat->ops->connected(a->chat);

	/* a Slack reconnect is routine: reported, not "unhealthy" (a probe
	 * restarting the bot would only make it reconnect again) */
	count_gates(a); /* for the next scrape */
	*healthy = store_ok;
	if (have_counts)
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
	PUT("# HELP chatops_chat_dropped_total Outgoing messages (not a gate's) dropped under "
	    "a burst, by reason.\n# TYPE chatops_chat_dropped_total counter\n");
	for (int d = 0; d < CHAT_DROPPED_COUNT; d++)
		PUT("chatops_chat_dropped_total{reason=\"%s\"} %lu\n",
		    chat_drop_name((enum chat_drop)d), a->chat->dropped[d]);
	PUT("# HELP chatops_gates Approval gates in the store, by state.\n# TYPE chatops_gates gauge\n");
	for (int s = 0; have_counts && s < GATE_STATE_COUNT; s++)
		PUT("chatops_gates{state=\"%s\"} %llu\n", store_state_name((enum gate_state)s),
		    (unsigned long long)counts[s]);
	struct service_reads_stats rs;
	service_reads_stats(a->reads, &rs);
	PUT("# HELP chatops_service_reads_total Asks for a service read (/investigate, /scale), "
	    "by how they were served.\n# TYPE chatops_service_reads_total counter\n"
	    "chatops_service_reads_total{served=\"read\"} %llu\n"
	    "chatops_service_reads_total{served=\"joined\"} %llu\n"
	    "chatops_service_reads_total{served=\"reused\"} %llu\n"
	    "chatops_service_reads_total{served=\"busy\"} %llu\n",
	    (unsigned long long)rs.reads, (unsigned long long)rs.joined,
	    (unsigned long long)rs.reused, (unsigned long long)rs.busy);
	struct alarm_intake_stats as;
	alarm_intake_stats(a->alarms, &as);
	PUT("# HELP chatops_alarm_messages_total Alarm queue messages and changes, by outcome.\n"
	    "# TYPE chatops_alarm_messages_total counter\n"
	    "chatops_alarm_messages_total{outcome=\"received\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"malformed\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"unmapped\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"stale\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"duplicate\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"posted\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"replied\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"failed\"} %llu\n"
	    "chatops_alarm_messages_total{outcome=\"deleted\"} %llu\n"
	    "# HELP chatops_alarm_polls_total Alarm queue polls (ReceiveMessage), and failed ones.\n"
	    "# TYPE chatops_alarm_polls_total counter\n"
	    "chatops_alarm_polls_total %llu\nchatops_alarm_poll_errors_total %llu\n"
	    "# HELP chatops_alarm_reconciles_total DescribeAlarms rounds of the alarm intake, and "
	    "failed ones.\n# TYPE chatops_alarm_reconciles_total counter\n"
	    "chatops_alarm_reconciles_total %llu\nchatops_alarm_reconcile_errors_total %llu\n"
	    "# HELP chatops_alarm_record_retries_total Alarm records written again after a "
	    "failure, their effect already posted.\n"
	    "# TYPE chatops_alarm_record_retries_total counter\n"
	    "chatops_alarm_record_retries_total %llu\n",
	    (unsigned long long)as.received, (unsigned long long)as.malformed,
	    (unsigned long long)as.unmapped, (unsigned long long)as.stale,
	    (unsigned long long)as.duplicate, (unsigned long long)as.posted,
	    (unsigned long long)as.replied, (unsigned long long)as.failed,
	    (unsigned long long)as.deleted, (unsigned long long)as.polls,
	    (unsigned long long)as.poll_errors, (unsigned long long)as.reconciles,
	    (unsigned long long)as.reconcile_errors, (unsigned long long)as.settle_retries);
	if (a->cloud->ops->metrics_text && o < n)
		o += a->cloud->ops->metrics_text(a->cloud, buf + o, n - o);
#undef PUT
	return o < n ? o : n - 1;
}
