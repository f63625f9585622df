/* alarm_post.c - what people see of an alarm's episode: one post (the
 * alarm, what the bot read when it fired, the suggested action), updated
 * as the episode goes, and a line in its thread per change. */
#include "bot/domain/alarm_internal.h"
#include "bot/base/duration.h"
#include "bot/domain/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "12m3s" for people: whole seconds. */
static void fmt_span(int64_t ms, char *buf, size_t n)
{
	if (ms < 0)
		ms = 0;
	if (duration_format((uint64_t)(ms / 1000 * 1000), buf, n) != BOT_EOK)
		snprintf(buf, n, "?");
}

static const char *comparison_sign(const char *op)
{
	static const struct { const char *op, *sign; } t[] = {
		{"GreaterThanThreshold", ">"}, {"GreaterThanOrEqualToThreshold", ">="},
		{"LessThanThreshold", "<"}, {"LessThanOrEqualToThreshold", "<="},
	};
	for (size_t i = 0; op && i < BOT_ARRAY_LEN(t); i++)
		if (strcmp(op, t[i].op) == 0)
			return t[i].sign;
	return op;
}

/* "AWS/ECS CPUUtilization (Average) > 80 for 3 x 60 s" */
char *alarm__describe_watch(const struct cloud_alarm_change *c)
{
	char buf[512];
	size_t o = 0;

#define ADD(...) o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, __VA_ARGS__)
	buf[0] = '\0';
	if (!c->metric_math && !c->metric)
		return strdup(""); /* not told (the console's) */
	if (c->metric_math)
		ADD("a metric math expression");
	else
		ADD("%s %s", c->namespace_ ? c->namespace_ : "?", c->metric ? c->metric : "?");
	if (c->statistic)
		ADD(" (%s)", c->statistic);
	if (c->has_threshold && c->comparison)
		ADD(" %s %g", comparison_sign(c->comparison), c->threshold);
	if (c->evaluation_periods > 0 && c->period_s > 0)
		ADD(" for %d x %d s", c->evaluation_periods, c->period_s);
#undef ADD
	return strdup(buf);
}

/* ---- what people see -------------------------------------------------- */

/* The episode's post, from the record. */
int alarm__post_episode(struct job *j, chat_result_cb cb)
{
	const json_t *p = j->put;
	const char *name = jstr(p, "name"), *reason = jstr(p, "reason");
	const char *desc = jstr(p, "description"), *evidence = jstr(p, "evidence");
	int64_t alarm_at = jint(p, "alarm_at"), ok_at = jint(p, "ok_at");
	int flaps = (int)jint(p, "flaps"), suggested = (int)jint(p, "suggested");
	bool open = ok_at == 0;
	char header[160], span[DURATION_FMT_MAX], label[64], value[320];
	struct chat_text body, read, foot, fallback;
	struct chat_block blocks[6];
	size_t nb = 0;

	snprintf(header, sizeof header, "%s: %s", open ? "ALARM" : "Recovered",
		 name ? name : "?");
	chat_text_init(&body);
	chat_text_bold(&body, "%s", j->svc->name);
	if (open) {
		chat_text_printf(&body, ": alarm %s is in ALARM since ", name);
		chat_text_date(&body, alarm_at / 1000);
		chat_text_printf(&body, ".");
	} else {
		fmt_span(ok_at - jint(p, "last_alarm_at"), span, sizeof span);
		chat_text_printf(&body, ": alarm %s was in ALARM from ", name);
		chat_text_date(&body, alarm_at / 1000);
		chat_text_printf(&body, "; OK since ");
		chat_text_date(&body, ok_at / 1000);
		chat_text_printf(&body, " (after %s in ALARM).", span);
	}
	chat_text_printf(&body, "\nReason: %s", reason && *reason ? reason : "(none given)");
	if (jstr(p, "watch") && *jstr(p, "watch"))
		chat_text_printf(&body, "\nWatching: %s", jstr(p, "watch"));
	if (desc && *desc)
		chat_text_printf(&body, "\n%s", desc);
	if (flaps > 0)
		chat_text_printf(&body, "\nBack in ALARM %d time%s soon after OK; see the thread.",
				 flaps, flaps == 1 ? "" : "s");
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_HEADER, .text = header};
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_SECTION, .rich = &body};

	chat_text_init(&read);
	chat_text_printf(&read, "What the bot read when it fired");
	if (jint(p, "read_at") > 0) {
		chat_text_printf(&read, " (from AWS ");
		chat_text_date(&read, jint(p, "read_at") / 1000);
		chat_text_printf(&read, ")");
	}
	chat_text_printf(&read, ":");
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .rich = &read};
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_PLAIN,
					   .text = evidence && *evidence ? evidence : "(nothing)"};

	chat_text_init(&foot);
	chat_text_printf(&foot, "Alarm episode %lld · %s · account %s · the thread is the record",
			 (long long)jint(p, "episode"), jstr(p, "region"), jstr(p, "account"));
	blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_CONTEXT, .rich = &foot};

	struct chat_button btn = {
		.action_id = "investigate.scale", .text = label, .value = value,
		.style = CHAT_BUTTON_PRIMARY,
	};
	if (open && suggested > 0 && config_action_find(j->svc, STORE_ACTION_SCALE)) {
		snprintf(label, sizeof label, "Scale to %d", suggested);
		snprintf(value, sizeof value, "%s %d", j->svc->name, suggested);
		blocks[nb++] = (struct chat_block){.type = CHAT_BLOCK_ACTIONS, .buttons = &btn,
						   .n_buttons = 1};
	}
	chat_text_init(&fallback);
	chat_text_printf(&fallback, "%s (%s)", header, j->svc->name);
	struct chat_message m = {.channel = jstr(p, "channel"), .rich = &fallback,
				 .blocks = blocks, .n_blocks = nb, .urgent = true};
	if (j->effect == EF_POST)
		return chat_post(j->ai->chat, &m, cb, j);
	return chat_update(j->ai->chat, m.channel, jstr(p, "ts"), &m, NULL, NULL);
}

/* What was asked of the service while the episode was open: its requests
 * (newest first), each with its state and a link to its card. */
static void meanwhile(struct job *j, struct chat_text *t)
{
	int64_t since = jint(j->put, "alarm_at");
	size_t shown = 0;
	char url[512];

	for (size_t i = 0; i < j->n_gates; i++) {
		const struct store_gate *g = &j->gates[i];
		if (!g->service || strcmp(g->service, j->svc->name) != 0 || g->created_at < since)
			continue;
		chat_text_printf(t, shown++ ? "; " : "\nMeanwhile: ");
		if (g->channel && g->message_ts &&
		    chat_permalink(j->ai->chat, g->channel, g->message_ts, url, sizeof url) == BOT_EOK) {
			char label[32];
			snprintf(label, sizeof label, "request #%llu", (unsigned long long)g->id);
			chat_text_link(t, url, label);
		} else {
			chat_text_printf(t, "request #%llu", (unsigned long long)g->id);
		}
		char b[200];
		card_brief(g, b, sizeof b);
		chat_text_printf(t, " to %s (%s)", b, store_state_name(g->state));
	}
	if (!shown)
		chat_text_printf(t, "\nNo request was made meanwhile.");
}

/* One line in the episode's thread for the change. */
int alarm__post_line(struct job *j, chat_result_cb cb)
{
	const json_t *p = j->put;
	const char *reason = j->ch.reason && *j->ch.reason ? j->ch.reason : "(none given)";
	char span[DURATION_FMT_MAX];
	struct chat_text t;

	chat_text_init(&t);
	chat_text_bold(&t, "%s", j->ch.state);
	chat_text_printf(&t, " at ");
	chat_text_date(&t, j->ch.at / 1000);
	chat_text_printf(&t, ": %s", reason);
	if (strcmp(j->ch.state, "OK") == 0) {
		fmt_span(j->ch.at - jint(p, "last_alarm_at"), span, sizeof span);
		chat_text_printf(&t, "\nIt was in ALARM for %s.", span);
		meanwhile(j, &t);
	} else if (j->reopened) {
		int flaps = (int)jint(p, "flaps");
		chat_text_printf(&t, "\nBack in ALARM within the flap window (%d time%s in this "
				 "episode).", flaps, flaps == 1 ? "" : "s");
	}
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = &t};
	struct chat_message m = {.channel = jstr(p, "channel"), .thread_ts = jstr(p, "ts"),
				 .rich = &t, .blocks = &b, .n_blocks = 1, .urgent = true};
	return chat_post(j->ai->chat, &m, cb, j);
}

