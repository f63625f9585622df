/* envelope.c - Socket Mode frame parsing and normalisation (see envelope.h). */
#include "adapters/slack/envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *reason;
	enum slack_disconnect_action action;
} disconnect_table[] = {
	{"link_disabled", SLACK_DISC_STOP},
	{"refresh_requested", SLACK_DISC_REFRESH},
	{"too_many_websockets", SLACK_DISC_BACKOFF},
	{"warning", SLACK_DISC_REFRESH},
};

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *str2(json_t *o, const char *k1, const char *k2)
{
	return str(json_object_get(o, k1), k2);
}

bool slack_id_valid(const char *id, const char *first)
{
	size_t n;

	if (!id || !*id || !strchr(first, id[0]))
		return false;
	for (n = 1; id[n]; n++)
		if (!((id[n] >= 'A' && id[n] <= 'Z') || (id[n] >= '0' && id[n] <= '9')))
			return false;
	return n >= 3 && n <= 32;
}

/* Every id the event carries is of Slack's shape, or the envelope is
 * refused as malformed: a user "id" like "<!channel>" must never reach a
 * message, a log key or the store. */
static int check_ids(const struct slack_frame *f, struct bot_error *err)
{
	const struct chat_event *ev = &f->ev;
	const struct slack_origin *o = &f->origin;
	static const char *const channel = "CGD";
	const char *what = NULL;

	if (!slack_id_valid(ev->user, "UW"))
		what = "user";
	else if (ev->channel && !slack_id_valid(ev->channel, channel))
		what = "channel";
	else if (o->team_id && !slack_id_valid(o->team_id, "T"))
		what = "team";
	else if (o->user_team_id && !slack_id_valid(o->user_team_id, "TE"))
		what = "user team";
	else if (o->enterprise_id && !slack_id_valid(o->enterprise_id, "E"))
		what = "enterprise";
	else if (o->app_id && !slack_id_valid(o->app_id, "A"))
		what = "app";
	if (what)
		return bot_error_set(err, BOT_EPARSE, "%s envelope with a %s id not of Slack's shape",
				     f->type, what);
	return BOT_EOK;
}

static int parse_slash(json_t *p, struct slack_frame *f, struct bot_error *err)
{
	struct chat_event *ev = &f->ev;

	ev->type = CHAT_EV_COMMAND;
	ev->command = str(p, "command");
	ev->text = str(p, "text");
	ev->user = str(p, "user_id");
	ev->user_name = str(p, "user_name");
	ev->channel = str(p, "channel_id");
	ev->response_url = str(p, "response_url");
	if (!ev->command || !ev->user || !ev->channel)
		return bot_error_set(err, BOT_EPARSE, "slash command without command/user_id/channel_id");
	if (!ev->text)
		ev->text = "";
	f->origin = (struct slack_origin){
		.team_id = str(p, "team_id"), .enterprise_id = str(p, "enterprise_id"),
		.app_id = str(p, "api_app_id"),
	};
	const char *trigger = str(p, "trigger_id");
	snprintf(f->dedupe_key, sizeof f->dedupe_key, "cmd:%s", trigger ? trigger : f->envelope_id);
	f->has_event = true;
	return BOT_EOK;
}

static int parse_interactive(json_t *p, struct slack_frame *f, struct bot_error *err)
{
	struct chat_event *ev = &f->ev;
	const char *ptype = str(p, "type");
	json_t *actions = json_object_get(p, "actions"), *a;

	if (!ptype || strcmp(ptype, "block_actions") != 0)
		return BOT_EOK; /* shortcuts, view submissions...: ack and ignore */
	if (!json_is_array(actions) || json_array_size(actions) == 0)
		return bot_error_set(err, BOT_EPARSE, "block_actions without actions");
	a = json_array_get(actions, 0);
	ev->type = CHAT_EV_BUTTON;
	ev->user = str2(p, "user", "id");
	ev->user_name = str2(p, "user", "username");
	ev->channel = str2(p, "channel", "id");
	if (!ev->channel)
		ev->channel = str2(p, "container", "channel_id");
	ev->message_ts = str2(p, "container", "message_ts");
	if (!ev->message_ts)
		ev->message_ts = str2(p, "message", "ts");
	ev->response_url = str(p, "response_url");
	ev->action_id = str(a, "action_id");
	ev->value = str(a, "value");
	if (!ev->user || !ev->action_id)
		return bot_error_set(err, BOT_EPARSE, "block_actions without user.id/action_id");
	if (!ev->value)
		ev->value = "";
	f->origin = (struct slack_origin){
		.team_id = str2(p, "team", "id"), .enterprise_id = str2(p, "enterprise", "id"),
		.app_id = str(p, "api_app_id"), .user_team_id = str2(p, "user", "team_id"),
	};
	/* A click is one action_ts by one user on one action. */
	const char *ats = str(a, "action_ts");
	snprintf(f->dedupe_key, sizeof f->dedupe_key, "act:%s:%s:%s", ev->user,
		 ats ? ats : f->envelope_id, ev->action_id);
	f->has_event = true;
	return BOT_EOK;
}

static int parse_events_api(json_t *p, struct slack_frame *f, struct bot_error *err)
{
	struct chat_event *ev = &f->ev;
	json_t *e = json_object_get(p, "event");
	const char *etype = str(e, "type"), *event_id = str(p, "event_id");

	if (!json_is_object(e) || !etype)
		return bot_error_set(err, BOT_EPARSE, "events_api envelope without event.type");
	if (strcmp(etype, "app_mention") != 0)
		return BOT_EOK;
	ev->type = CHAT_EV_MENTION;
	ev->user = str(e, "user");
	ev->channel = str(e, "channel");
	ev->text = str(e, "text");
	ev->thread_ts = str(e, "thread_ts");
	if (!ev->user || !ev->channel || !ev->text)
		return bot_error_set(err, BOT_EPARSE, "app_mention without user/channel/text");
	f->origin = (struct slack_origin){
		.team_id = str(p, "team_id"), .enterprise_id = str(p, "enterprise_id"),
		.app_id = str(p, "api_app_id"),
		/* Slack Connect: user_team is the speaker's own workspace */
		.user_team_id = str(e, "user_team") ? str(e, "user_team") : str(e, "team"),
	};
	/* event_id is documented as unique; the retries carry the same one. */
	snprintf(f->dedupe_key, sizeof f->dedupe_key, "ev:%s", event_id ? event_id : f->envelope_id);
	f->has_event = true;
	return BOT_EOK;
}

int slack_frame_parse(const char *text, size_t len, struct slack_frame *f, struct bot_error *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	const char *type;
	int rc = BOT_EOK;

	memset(f, 0, sizeof *f);
	if (len > SLACK_FRAME_MAX)
		return bot_error_set(err, BOT_ETOOBIG, "frame of %zu bytes exceeds %d", len, SLACK_FRAME_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return bot_error_set(err, BOT_EPARSE, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
	if (!json_is_object(root)) {
		rc = bot_error_set(err, BOT_EPARSE, "frame is not a JSON object");
		goto out;
	}
	f->json_ = root;
	type = str(root, "type");
	if (!type) {
		rc = bot_error_set(err, BOT_EPARSE, "frame without a type");
		goto out;
	}
	if (strcmp(type, "hello") == 0) {
		f->kind = SLACK_FRAME_HELLO;
		f->num_connections = (int)json_integer_value(json_object_get(root, "num_connections"));
		f->approximate_connection_time = (int)json_integer_value(
			json_object_get(json_object_get(root, "debug_info"), "approximate_connection_time"));
		goto out;
	}
	if (strcmp(type, "disconnect") == 0) {
		const char *reason = str(root, "reason");
		f->kind = SLACK_FRAME_DISCONNECT;
		f->action = SLACK_DISC_REFRESH; /* unknown reasons: reconnect, as the SDKs do */
		snprintf(f->reason, sizeof f->reason, "%s", reason ? reason : "unknown");
		for (size_t i = 0; reason && i < BOT_ARRAY_LEN(disconnect_table); i++)
			if (strcmp(reason, disconnect_table[i].reason) == 0)
				f->action = disconnect_table[i].action;
		goto out;
	}
	const char *eid = str(root, "envelope_id");
	if (!eid || !*eid || strlen(eid) >= sizeof f->envelope_id) {
		rc = bot_error_set(err, BOT_EPARSE, "%s frame without a usable envelope_id", type);
		goto out;
	}
	f->kind = SLACK_FRAME_ENVELOPE;
	snprintf(f->envelope_id, sizeof f->envelope_id, "%s", eid);
	snprintf(f->type, sizeof f->type, "%s", type);
	f->retry_attempt = (int)json_integer_value(json_object_get(root, "retry_attempt"));
	json_t *payload = json_object_get(root, "payload");
	if (!json_is_object(payload)) {
		rc = bot_error_set(err, BOT_EPARSE, "%s envelope without a payload object", type);
		goto out;
	}
	if (strcmp(type, "slash_commands") == 0)
		rc = parse_slash(payload, f, err);
	else if (strcmp(type, "interactive") == 0)
		rc = parse_interactive(payload, f, err);
	else if (strcmp(type, "events_api") == 0)
		rc = parse_events_api(payload, f, err);
	if (rc == BOT_EOK && f->has_event)
		rc = check_ids(f, err);
	if (rc == BOT_EOK && f->has_event)
		f->ev.id = f->dedupe_key;
out:
	if (rc) {
		json_decref(root);
		memset(f, 0, sizeof *f);
	}
	return rc;
}

void slack_frame_finish(struct slack_frame *f)
{
	if (f && f->json_) {
		json_decref(f->json_);
		f->json_ = NULL;
	}
}

size_t slack_ack_frame(const char *envelope_id, char *buf, size_t n)
{
	json_t *o = json_pack("{s:s}", "envelope_id", envelope_id);
	size_t len = 0;

	if (!o)
		return 0;
	len = json_dumpb(o, buf, n, JSON_COMPACT);
	json_decref(o);
	if (len >= n)
		return 0;
	buf[len] = '\0';
	return len;
}
