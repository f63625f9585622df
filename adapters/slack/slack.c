/* slack.c - the Slack chat backend (see slack.h). */
#include "adapters/slack/slack.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/http.h"
#include "adapters/lws/lws.h"
#include "adapters/slack/blocks.h"
#include "adapters/slack/envelope.h"
#include "adapters/slack/webapi.h"
#include "bot/base/log.h"
#include "bot/base/ratelimit.h"

#define DEFAULT_API_URL     "https://slack.com/api"
#define DEFAULT_DEDUPE_TTL  (15u * 60u * 1000u)
#define RURL_MAX            1024 /* a burst of commands: each asker's */
#define RURL_TTL_MS         (30u * 60u * 1000u)
#define RURL_USES           5
#define ID_MAX              32
#define MAX_STOP_WAITERS    4
/* Ephemerals per user: a burst of 6, then one every 10 s. Someone who sent
 * a flood of commands has several identical answers already; the rest
 * would only hold up the channel's queue. */
#define DEFAULT_EPHEMERAL_PER_MINUTE 30u /* above the command rate: replies pass */
#define EPHEMERAL_USERS              1024u  /* users tracked (ratelimit.h) */

/* A response_url recently handed to us, for the ephemeral fallback. */
struct rurl {
	char channel[ID_MAX], user[ID_MAX];
	char *url;
	uint64_t at_ms;
	unsigned uses;
};

struct stop_waiter {
	void (*done)(void *ud);
	void *ud;
};

#define HOLD_ENVELOPES 4 /* a click and Slack's retries of it */

/* A click the core holds (chat_settle): its envelope is acked once the
 * click is durable. Repeats of it arriving meanwhile (Slack's retries, a
 * redelivery after a reconnect) wait with it: acking one of them now
 * would let Slack forget the click if this process died before the vote
 * committed. */
struct chat_hold {
	struct slack_chat *sc;
	struct chat_hold *prev, *next;
	char key[192];            /* the dedupe key */
	size_t n;
	struct {
		unsigned link;
		char id[128];
	} env[HOLD_ENVELOPES];
};

struct slack_chat {
	struct chat chat;         /* first: the backend is a struct chat */
	struct bot_loop *loop;
	uv_loop_t *uv;
	struct http *http;
	struct slack_api *api;
	struct slack_ws *ws;
	struct slack_dedupe *mem_dedupe;
	struct slack_dedupe_store dedupe;
	void (*on_fatal)(void *ud, int rc, const char *detail);
	void *fatal_ud;
	bool started, stopping, stopped, fatal_sent, connected, hooked;
	struct stop_waiter waiters[MAX_STOP_WAITERS];
	size_t n_waiters;
	struct rurl rurls[RURL_MAX];
	unsigned events, duplicates, fallbacks;
	char team_url[160];       /* auth.test "url", e.g. https://acme.slack.com/ */
	/* who we are: app id from the options or token; the rest from auth.test */
	char app_id[ID_MAX], team_id[ID_MAX], enterprise_id[ID_MAX], bot_user[ID_MAX];
	bool identified, allow_external;
	uv_timer_t *auth_timer;   /* auth.test retries (heap: closed, then freed) */
	unsigned auth_failures;
	const struct slack_retry_policy *auth_backoff;
	struct chat_hold *holds;  /* clicks the core has not settled */
	unsigned held_now;
	struct ratelimit *eph_limit;  /* ephemerals per user */
	struct ratelimit *eph_log;    /* one slack.throttled line per user a minute */
};

enum req_kind { REQ_POST, REQ_UPDATE, REQ_EPHEMERAL, REQ_RESPONSE_URL };

/* One outgoing chat call, for its callback (and the ephemeral fallback). */
struct req {
	struct slack_chat *sc;
	enum req_kind kind;
	chat_result_cb cb;
	void *ud;
	json_t *fallback;         /* REQ_EPHEMERAL: the message, for a response_url */
	char channel[ID_MAX], user[ID_MAX];
};

static struct slack_chat *of(struct chat *c)
{
	return container_of(c, struct slack_chat, chat);
}

static uint64_t now_ms(struct slack_chat *sc)
{
	uv_update_time(sc->uv);
	return uv_now(sc->uv);
}

/* ---- fatal ------------------------------------------------------------------ */

static void stop_internal(struct slack_chat *sc, void (*done)(void *), void *ud);

static void fatal(struct slack_chat *sc, int rc, const char *detail)
{
	char qd[400];

	if (sc->fatal_sent)
		return;
	sc->fatal_sent = true;
	log_error("slack.fatal", "code=%s msg=%s action=stop", bot_err_name(rc),
		  log_q(qd, sizeof qd, detail));
	if (sc->on_fatal)
		sc->on_fatal(sc->fatal_ud, rc, detail);
	stop_internal(sc, NULL, NULL);
}

/* ---- response_url memory ------------------------------------------------------ */

static void remember_rurl(struct slack_chat *sc, const struct chat_event *ev)
{
	struct rurl *slot = NULL, *oldest = &sc->rurls[0];
	char *url;

	if (!ev->response_url || !ev->channel || !ev->user || strlen(ev->channel) >= ID_MAX ||
	    strlen(ev->user) >= ID_MAX)
		return;
	for (size_t i = 0; i < RURL_MAX; i++) {
		struct rurl *r = &sc->rurls[i];

		if (r->url && strcmp(r->channel, ev->channel) == 0 && strcmp(r->user, ev->user) == 0)
			slot = r;
		if (!r->url && !slot)
			slot = r;
		if (r->at_ms < oldest->at_ms)
			oldest = r;
	}
	if (!slot)
		slot = oldest;
	url = strdup(ev->response_url);
	if (!url)
		return; /* only a fallback */
	free(slot->url);
	slot->url = url;
	snprintf(slot->channel, sizeof slot->channel, "%s", ev->channel);
	snprintf(slot->user, sizeof slot->user, "%s", ev->user);
	slot->at_ms = now_ms(sc);
	slot->uses = 0;
}

static struct rurl *find_rurl(struct slack_chat *sc, const char *channel, const char *user)
{
	uint64_t now = now_ms(sc);

	for (size_t i = 0; i < RURL_MAX; i++) {
		struct rurl *r = &sc->rurls[i];

		if (r->url && strcmp(r->channel, channel) == 0 && strcmp(r->user, user) == 0 &&
		    now - r->at_ms < RURL_TTL_MS && r->uses < RURL_USES)
			return r;
	}
	return NULL;
}

/* ---- incoming ------------------------------------------------------------------ */

static const char *ev_name(enum chat_event_type t)
{
	switch (t) {
	case CHAT_EV_COMMAND: return "command";
	case CHAT_EV_BUTTON: return "button";
	case CHAT_EV_MENTION: return "mention";
	}
	return "?";
}

static bool same(const char *ours, const char *theirs)
{
	return theirs && strcmp(ours, theirs) == 0;
}

/* Why this envelope is not ours to act on, or CHAT_REFUSED_COUNT when it
 * is. A missing team or app id is a refusal too: Slack always sends them. */
static enum chat_refusal refusal(const struct slack_chat *sc, const struct slack_origin *o)
{
	if (!same(sc->app_id, o->app_id))
		return CHAT_REFUSED_APP;
	if (!same(sc->team_id, o->team_id))
		return CHAT_REFUSED_TEAM;
	if (sc->enterprise_id[0] ? !same(sc->enterprise_id, o->enterprise_id) : o->enterprise_id != NULL)
		return CHAT_REFUSED_ENTERPRISE;
	if (o->user_team_id && !same(sc->team_id, o->user_team_id) &&
	    !same(sc->enterprise_id, o->user_team_id) && !sc->allow_external)
		return CHAT_REFUSED_EXTERNAL_USER;
	return CHAT_REFUSED_COUNT;
}

static void refuse(struct slack_chat *sc, const struct slack_frame *f, enum chat_refusal why)
{
	const struct slack_origin *o = &f->origin;
	char qe[160], qt[80], qn[80], qa[80], qu[80], qus[80], qch[80];

	sc->chat.refused[why]++;
	/* once per envelope: its redeliveries only at debug */
	if (f->retry_attempt > 0 && !log_enabled(BOT_LOG_DEBUG))
		return;
	log_emit(f->retry_attempt > 0 ? BOT_LOG_DEBUG : BOT_LOG_WARN, "slack.refused",
		 "reason=%s envelope=%s team=%s enterprise=%s app=%s user=%s user_team=%s "
		 "channel=%s", chat_refusal_name(why), log_q(qe, sizeof qe, f->envelope_id),
		 log_q(qt, sizeof qt, o->team_id ? o->team_id : "-"),
		 log_q(qn, sizeof qn, o->enterprise_id ? o->enterprise_id : "-"),
		 log_q(qa, sizeof qa, o->app_id ? o->app_id : "-"),
		 log_q(qu, sizeof qu, f->ev.user ? f->ev.user : "-"),
		 log_q(qus, sizeof qus, o->user_team_id ? o->user_team_id : "-"),
		 log_q(qch, sizeof qch, f->ev.channel ? f->ev.channel : "-"));
}

/* Ack a held envelope now (it was refused, or what it carries is durable). */
static void ack_held(struct slack_chat *sc, unsigned link, const char *envelope_id)
{
	int rc = slack_ws_ack(sc->ws, link, envelope_id);

	if (rc == BOT_ENOTFOUND)
		log_info("slack.ack", "envelope=%s link=%u result=not_sent reason=\"no open "
			 "connection\"", LOG_Q(envelope_id), link);
	else if (rc)
		log_error("slack.ack", "envelope=%s link=%u error=%s", LOG_Q(envelope_id), link,
			  bot_err_name(rc));
}

static struct chat_hold *hold_find(struct slack_chat *sc, const char *key)
{
	for (struct chat_hold *h = sc->holds; h; h = h->next)
		if (strcmp(h->key, key) == 0)
			return h;
	return NULL;
}

static struct chat_hold *hold_new(struct slack_chat *sc, const struct slack_frame *f)
{
	struct chat_hold *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->sc = sc;
	snprintf(h->key, sizeof h->key, "%s", f->dedupe_key);
	h->env[0].link = f->link_id;
	snprintf(h->env[0].id, sizeof h->env[0].id, "%s", f->envelope_id);
	h->n = 1;
	h->next = sc->holds;
	if (sc->holds)
		sc->holds->prev = h;
	sc->holds = h;
	sc->held_now++;
	return h;
}

/* A repeat of a held click: it waits with the first one when it can. */
static void hold_join(struct slack_chat *sc, const struct slack_frame *f)
{
	struct chat_hold *h = hold_find(sc, f->dedupe_key);

	if (h && h->n < HOLD_ENVELOPES) {
		h->env[h->n].link = f->link_id;
		snprintf(h->env[h->n].id, sizeof h->env[h->n].id, "%s", f->envelope_id);
		h->n++;
		return;
	}
	ack_held(sc, f->link_id, f->envelope_id);
}

static void sc_settle(struct chat *c, struct chat_hold *h, bool ack)
{
	struct slack_chat *sc = h->sc;

	(void)c;
	if (h->prev)
		h->prev->next = h->next;
	else
		sc->holds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	sc->held_now--;
	for (size_t i = 0; i < h->n; i++) {
		if (ack)
			ack_held(sc, h->env[i].link, h->env[i].id);
		else
			log_info("slack.ack", "envelope=%s result=not_sent reason=\"not acted on "
				 "here\"", LOG_Q(h->env[i].id));
	}
	free(h);
}

/* Held envelopes: clicks (see struct chat_hold). Commands and mentions
 * are acked on arrival: Slack's 3 s bound is for the ack, and a command's
 * work may take longer than that. */
static bool hold_envelope(void *ud, const struct slack_frame *f)
{
	(void)ud;
	return f->ev.type == CHAT_EV_BUTTON;
}

static void on_envelope(void *ud, const struct slack_frame *f)
{
	struct slack_chat *sc = ud;
	struct chat_event ev = f->ev;
	enum chat_refusal why;
	int rc;

	if (!f->has_event || sc->stopping)
		return; /* a held one stays unacked: its button shows a warning */
	/* the websocket opens only once auth.test said who we are */
	why = sc->identified ? refusal(sc, &f->origin) : CHAT_REFUSED_TEAM;
	if (why != CHAT_REFUSED_COUNT) {
		refuse(sc, f, why);
		if (f->held)
			ack_held(sc, f->link_id, f->envelope_id);
		return;
	}
	rc = sc->dedupe.claim(sc->dedupe.impl, f->dedupe_key, now_ms(sc));
	if (rc == BOT_EDUPLICATE) {
		sc->duplicates++;
		log_info("slack.event", "result=duplicate type=%s envelope=%s retry_attempt=%d",
			 ev_name(ev.type), LOG_Q(f->envelope_id), f->retry_attempt);
		if (f->held)
			hold_join(sc, f);
		return;
	}
	if (rc)  /* act anyway: a lost duplicate check beats a lost click */
		log_warn("slack.dedupe", "result=error code=%s envelope=%s action=deliver",
			 bot_err_name(rc), LOG_Q(f->envelope_id));
	if (ev.type == CHAT_EV_COMMAND || ev.type == CHAT_EV_BUTTON)
		remember_rurl(sc, &ev);
	sc->events++;
	log_info("slack.event", "type=%s envelope=%s user=%s channel=%s%s%s retry_attempt=%d",
		 ev_name(ev.type), LOG_Q(f->envelope_id), LOG_Q(ev.user), LOG_Q(ev.channel),
		 ev.type == CHAT_EV_COMMAND ? " command=" : ev.type == CHAT_EV_BUTTON ? " action=" : "",
		 ev.type == CHAT_EV_COMMAND ? LOG_Q(ev.command)
		 : ev.type == CHAT_EV_BUTTON ? LOG_Q(ev.action_id) : "",
		 f->retry_attempt);
	ev.hold = NULL;
	if (f->held && sc->chat.on_event && !(ev.hold = hold_new(sc, f))) {
		log_error("slack.event", "envelope=%s error=ENOMEM action=ack_now",
			  LOG_Q(f->envelope_id));
		ack_held(sc, f->link_id, f->envelope_id);
	}
	if (sc->chat.on_event)
		sc->chat.on_event(sc->chat.event_ud, &ev);
	else if (f->held)
		ack_held(sc, f->link_id, f->envelope_id);
}

static void on_ws_state(void *ud, enum slack_ws_state st, int rc, const char *detail)
{
	struct slack_chat *sc = ud;

	switch (st) {
	case SLACK_WS_CONNECTED:
		sc->connected = true;
		break;
	case SLACK_WS_RECONNECTING:
	case SLACK_WS_STOPPED:
		sc->connected = false;
		break;
	case SLACK_WS_FATAL:
		sc->connected = false;
		fatal(sc, rc, detail);
		break;
	}
}

/* ---- outgoing ------------------------------------------------------------------ */

static void req_free(struct req *r)
{
	json_decref(r->fallback);
	free(r);
}

static int send_response_url(struct slack_chat *sc, struct req *r, struct rurl *u);

static bool ephemeral_unreachable(const char *error)
{
	return error && (strcmp(error, "not_in_channel") == 0 ||
			 strcmp(error, "channel_not_found") == 0 ||
			 strcmp(error, "user_not_in_channel") == 0);
}

static void on_api_done(void *ud, const struct slack_api_result *res)
{
	struct req *r = ud;
	struct slack_chat *sc = r->sc;
	const char *ts = NULL;
	struct rurl *u;

	if (res->rc == BOT_EOK) {
		ts = json_string_value(json_object_get(res->body, r->kind == REQ_EPHEMERAL
						       ? "message_ts" : "ts"));
	} else if (r->kind == REQ_EPHEMERAL && res->rc == BOT_EBUSY && !sc->stopping &&
		   (u = find_rurl(sc, r->channel, r->user))) {
		/* evicted for a gate's message: answered the other way (a
		 * refusal there is counted by send_response_url) */
		int rc = send_response_url(sc, r, u);
		if (rc == BOT_EOK)
			return;
		if (r->cb)
			r->cb(r->ud, rc, NULL, "queue_full");
		req_free(r);
		return;
	} else if (r->kind == REQ_EPHEMERAL && ephemeral_unreachable(res->error) &&
		   !sc->stopping && (u = find_rurl(sc, r->channel, r->user)) &&
		   send_response_url(sc, r, u) == BOT_EOK) {
		log_info("slack.ephemeral", "channel=%s user=%s via=response_url reason=%s",
			 LOG_Q(r->channel), LOG_Q(r->user), LOG_Q(res->error));
		return; /* r now belongs to the response_url call */
	}
	if (res->rc == BOT_EBUSY)
		sc->chat.dropped[CHAT_DROPPED_BUSY]++; /* evicted by a gate's message */
	if (r->cb)
		r->cb(r->ud, res->rc, ts, res->rc ? res->error : NULL);
	req_free(r);
}

static int send_response_url(struct slack_chat *sc, struct req *r, struct rurl *u)
{
	int rc;

	if (!r->fallback)
		return BOT_EINVAL;
	json_object_del(r->fallback, "channel");
	json_object_del(r->fallback, "user");
	if (json_object_set_new(r->fallback, "response_type", json_string("ephemeral")) ||
	    json_object_set_new(r->fallback, "replace_original", json_false()))
		return BOT_ENOMEM;
	rc = slack_api_call(sc->api, &(struct slack_api_req){ .url = u->url, .body = r->fallback,
			    .prio = SLACK_PRIO_LOW }, on_api_done, r, NULL);
	if (rc == BOT_EBUSY)
		sc->chat.dropped[CHAT_DROPPED_BUSY]++;
	if (rc)
		return rc;
	u->uses++;
	sc->fallbacks++;
	r->kind = REQ_RESPONSE_URL;
	return BOT_EOK;
}

/* Render m, add extra fields, queue the call by channel: m->urgent ahead
 * of the rest (webapi.h); what is not urgent may be dropped for room
 * (BOT_EBUSY, counted), an update never. */
static int send_message(struct slack_chat *sc, enum req_kind kind, const char *method,
			const char *channel, const char *ts, const char *user,
			const struct chat_message *m, chat_result_cb cb, void *ud)
{
	enum slack_prio prio = m && m->urgent ? SLACK_PRIO_HIGH
			       : kind == REQ_UPDATE ? SLACK_PRIO_NORMAL : SLACK_PRIO_LOW;
	struct bot_error err = {0};
	json_t *body = NULL;
	struct req *r = NULL;
	char qe[300];
	int rc;

	if (!sc->started || sc->stopping)
		return BOT_ESTATE;
	if (!m || !channel || !*channel || strlen(channel) >= ID_MAX ||
	    (user && (!*user || strlen(user) >= ID_MAX)) || (kind == REQ_UPDATE && (!ts || !*ts)))
		return BOT_EINVAL;
	rc = slack_blocks_build(m, &body, &err);
	if (rc) {
		log_warn("slack.render", "method=%s error=%s detail=%s", method, bot_err_name(rc),
			 log_q(qe, sizeof qe, err.msg));
		goto out;
	}
	if (json_object_set_new(body, "channel", json_string(channel)) ||
	    (ts && json_object_set_new(body, "ts", json_string(ts))) ||
	    (user && json_object_set_new(body, "user", json_string(user)))) {
		rc = BOT_ENOMEM;
		goto out;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		rc = BOT_ENOMEM;
		goto out;
	}
	r->sc = sc;
	r->kind = kind;
	r->cb = cb;
	r->ud = ud;
	snprintf(r->channel, sizeof r->channel, "%s", channel);
	snprintf(r->user, sizeof r->user, "%s", user ? user : "");
	if (kind == REQ_EPHEMERAL)
		r->fallback = json_incref(body);
	rc = slack_api_call(sc->api, &(struct slack_api_req){ .method = method, .body = body,
			    .queue = channel, .prio = prio }, on_api_done, r, NULL);
	struct rurl *u;
	if (rc == BOT_EBUSY && kind == REQ_EPHEMERAL && (u = find_rurl(sc, channel, user))) {
		/* the channel's queue is full (a burst): answer through the
		 * asker's response_url, its own queue, instead of not at all */
		rc = send_response_url(sc, r, u); /* counted as a fallback (or a drop) */
	} else if (rc == BOT_EBUSY) {
		sc->chat.dropped[CHAT_DROPPED_BUSY]++;
	}
	if (rc)
		goto out;
	r = NULL;
out:
	if (r)
		req_free(r);
	json_decref(body);
	return rc;
}

static int sc_post(struct chat *c, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	return send_message(of(c), REQ_POST, "chat.postMessage", m ? m->channel : NULL, NULL, NULL,
			    m, cb, ud);
}

static int sc_update(struct chat *c, const char *channel, const char *ts,
		     const struct chat_message *m, chat_result_cb cb, void *ud)
{
	return send_message(of(c), REQ_UPDATE, "chat.update", channel, ts, NULL, m, cb, ud);
}

static int sc_ephemeral(struct chat *c, const char *user, const struct chat_message *m,
			chat_result_cb cb, void *ud)
{
	struct slack_chat *sc = of(c);
	uint64_t now;

	if (!user)
		return BOT_EINVAL;
	now = now_ms(sc);
	if (m && !m->urgent && !ratelimit_take(sc->eph_limit, user, now, NULL)) {
		sc->chat.dropped[CHAT_DROPPED_THROTTLED]++;
		if (ratelimit_take(sc->eph_log, user, now, NULL))
			log_info("slack.throttled", "user=%s channel=%s dropped_total=%lu "
				 "note=\"more ephemerals to this user are dropped for a minute\"",
				 LOG_Q(user), LOG_Q(m->channel ? m->channel : "-"),
				 sc->chat.dropped[CHAT_DROPPED_THROTTLED]);
		return BOT_EBUSY;
	}
	return send_message(sc, REQ_EPHEMERAL, "chat.postEphemeral", m ? m->channel : NULL,
			    NULL, user, m, cb, ud);
}

/* ---- start ------------------------------------------------------------------ */

static const uint32_t auth_delays_ms[] = { 1000, 2000, 5000, 10000, 30000 };
static const struct slack_retry_policy auth_default_backoff = {
	auth_delays_ms, BOT_ARRAY_LEN(auth_delays_ms), 20, SLACK_RETRY_FOREVER };

static int ask_auth(struct slack_chat *sc);

static void on_auth_timer(uv_timer_t *t)
{
	struct slack_chat *sc = t->data;
	int rc;

	if (!sc || sc->stopping)
		return;
	rc = ask_auth(sc);
	if (rc)
		fatal(sc, rc, "auth.test could not be sent");
}

/* What auth.test says about us; false (with why) when it does not say
 * which workspace we are in. */
static bool learn_identity(struct slack_chat *sc, json_t *body, const char **why)
{
	const char *team = json_string_value(json_object_get(body, "team_id"));
	const char *ent = json_string_value(json_object_get(body, "enterprise_id"));
	const char *uid = json_string_value(json_object_get(body, "user_id"));
	const char *url = json_string_value(json_object_get(body, "url"));

	if (!slack_id_valid(team, "T")) {
		*why = "auth.test did not name the bot's workspace (team_id)";
		return false;
	}
	if (ent && *ent && !slack_id_valid(ent, "E")) {
		*why = "auth.test named an enterprise_id not of Slack's shape";
		return false;
	}
	snprintf(sc->team_id, sizeof sc->team_id, "%s", team);
	snprintf(sc->enterprise_id, sizeof sc->enterprise_id, "%s", ent ? ent : "");
	snprintf(sc->bot_user, sizeof sc->bot_user, "%s", slack_id_valid(uid, "UW") ? uid : "");
	if (url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0))
		snprintf(sc->team_url, sizeof sc->team_url, "%s", url);
	sc->identified = true;
	return true;
}

static void on_auth(void *ud, const struct slack_api_result *r)
{
	struct slack_chat *sc = ud;
	const char *why = NULL;
	char d[200];

	if (r->rc == BOT_ECANCELLED || sc->stopping)
		return;
	if (r->rc == BOT_EOK) {
		if (!learn_identity(sc, r->body, &why)) {
			fatal(sc, BOT_EAUTH, why);
			return;
		}
		log_info("slack.auth", "result=ok team=%s team_id=%s enterprise_id=%s app_id=%s "
			 "user=%s user_id=%s",
			 LOG_Q(json_string_value(json_object_get(r->body, "team"))),
			 LOG_Q(sc->team_id), LOG_Q(sc->enterprise_id[0] ? sc->enterprise_id : "-"),
			 LOG_Q(sc->app_id), LOG_Q(json_string_value(json_object_get(r->body, "user"))),
			 LOG_Q(sc->bot_user[0] ? sc->bot_user : "-"));
		int rc = slack_ws_start(sc->ws);
		if (rc && rc != BOT_ESTATE)
			fatal(sc, rc, "cannot start the Socket Mode connection");
		return;
	}
	if (r->rc == BOT_EAUTH) {
		snprintf(d, sizeof d, "auth.test: %s (check the bot token, xoxb-)",
			 r->error ? r->error : "rejected");
		fatal(sc, r->rc, d);
		return;
	}
	/* not an answer: without knowing who we are no envelope can be
	 * checked, so the websocket waits; ask again after a backoff */
	uint64_t delay = slack_retry_delay_ms(sc->auth_backoff, sc->auth_failures++,
					      slack_retry_random());
	log_warn("slack.auth", "result=retry error=%s retry_in_ms=%llu",
		 LOG_Q(r->error ? r->error : bot_err_name(r->rc)),
		 (unsigned long long)delay);
	(void)uv_timer_start(sc->auth_timer, on_auth_timer, delay, 0);
}

static int ask_auth(struct slack_chat *sc)
{
	return slack_api_call(sc->api, &(struct slack_api_req){ .method = "auth.test" }, on_auth,
			      sc, NULL);
}

static int sc_start(struct chat *c)
{
	struct slack_chat *sc = of(c);

	if (sc->started)
		return BOT_ESTATE;
	sc->started = true;
	return ask_auth(sc);
}

void slack_chat_set_allow_external(struct chat *c, bool allow)
{
	of(c)->allow_external = allow;
}

/* The app id in an app-level token: xapp-<n>-<A...>-... */
static bool app_id_of_token(const char *token, char *out, size_t n)
{
	const char *p = strncmp(token, "xapp-", 5) == 0 ? strchr(token + 5, '-') : NULL;
	const char *e = p ? strchr(p + 1, '-') : NULL;
	char id[ID_MAX];

	if (!e || (size_t)(e - p - 1) >= sizeof id)
		return false;
	memcpy(id, p + 1, (size_t)(e - p - 1));
	id[e - p - 1] = '\0';
	if (!slack_id_valid(id, "A"))
		return false;
	snprintf(out, n, "%s", id);
	return true;
}

/* ---- stop / destroy ------------------------------------------------------------ */

static void finish_stop(void *ud)
{
	struct slack_chat *sc = ud;
	struct stop_waiter w[MAX_STOP_WAITERS];
	size_t n = sc->n_waiters;

	/* The websocket is closed: nothing queued will be sent now. Their
	 * callbacks run with BOT_ECANCELLED (the app is still there). */
	slack_api_cancel_all(sc->api);
	sc->stopped = true;
	memcpy(w, sc->waiters, n * sizeof w[0]);
	sc->n_waiters = 0;
	for (size_t i = 0; i < n; i++)
		w[i].done(w[i].ud);
}

static void stop_internal(struct slack_chat *sc, void (*done)(void *), void *ud)
{
	if (sc->stopped) {
		if (done)
			done(ud);
		return;
	}
	if (done && sc->n_waiters < MAX_STOP_WAITERS)
		sc->waiters[sc->n_waiters++] = (struct stop_waiter){ done, ud };
	else if (done)
		done(ud);
	if (sc->stopping)
		return;
	sc->stopping = true;
	if (sc->auth_timer)
		(void)uv_timer_stop(sc->auth_timer);
	slack_ws_stop(sc->ws, finish_stop, sc);
}

static void sc_stop(struct chat *c, void (*done)(void *ud), void *ud)
{
	stop_internal(of(c), done, ud);
}

static void on_loop_shutdown(void *ud, bot_loop_done_fn done, void *done_ud)
{
	stop_internal(ud, done, done_ud);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void sc_destroy(struct chat *c)
{
	struct slack_chat *sc;

	if (!c)
		return;
	sc = of(c);
	if (sc->hooked)
		bot_loop_off_shutdown(sc->loop, on_loop_shutdown, sc);
	/* holds still open: the core settles its holds before the chat is
	 * destroyed (app_destroy, wf_stop), so none is settled after this */
	while (sc->holds) {
		struct chat_hold *h = sc->holds;
		sc->holds = h->next;
		free(h);
	}
	slack_ws_destroy(sc->ws);
	slack_api_destroy(sc->api);
	http_destroy(sc->http);
	slack_dedupe_destroy(sc->mem_dedupe);
	ratelimit_destroy(sc->eph_limit);
	ratelimit_destroy(sc->eph_log);
	for (size_t i = 0; i < RURL_MAX; i++)
		free(sc->rurls[i].url);
	if (sc->auth_timer) {
		sc->auth_timer->data = NULL;
		uv_close((uv_handle_t *)sc->auth_timer, free_handle);
	}
	free(sc);
}

/* https://<team>.slack.com/archives/<channel>/p<ts without the dot> */
static int sc_permalink(struct chat *c, const char *channel, const char *ts, char *buf, size_t n)
{
	struct slack_chat *sc = of(c);
	char p[40];
	size_t o = 0;

	if (!sc->team_url[0])
		return BOT_ENOTFOUND;
	for (const char *q = ts; *q && o + 1 < sizeof p; q++) {
		if (*q >= '0' && *q <= '9')
			p[o++] = *q;
		else if (*q != '.')
			return BOT_EINVAL;
	}
	p[o] = '\0';
	for (const char *q = channel; *q; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')))
			return BOT_EINVAL;
	int w = snprintf(buf, n, "%s%sarchives/%s/p%s", sc->team_url,
			 sc->team_url[strlen(sc->team_url) - 1] == '/' ? "" : "/", channel, p);
	return w > 0 && (size_t)w < n ? BOT_EOK : BOT_ETOOBIG;
}

static bool sc_connected(struct chat *c)
{
	return of(c)->connected;
}

static const struct chat_ops slack_ops = {
	.name = "slack",
	.start = sc_start,
	.post = sc_post,
	.update = sc_update,
	.ephemeral = sc_ephemeral,
	.stop = sc_stop,
	.destroy = sc_destroy,
	.permalink = sc_permalink,
	.settle = sc_settle,
	.connected = sc_connected,
};

void slack_chat_get_stats(struct chat *c, struct slack_chat_stats *out)
{
	struct slack_chat *sc = of(c);

	memset(out, 0, sizeof *out);
	slack_ws_get_stats(sc->ws, &out->ws);
	out->events = sc->events;
	out->duplicates = sc->duplicates;
	out->fallbacks = sc->fallbacks;
	out->held = sc->held_now;
	out->api_pending = slack_api_pending(sc->api);
	out->connected = sc->connected;
}

/* Our app id: the configured one, which the token must agree with, or
 * the token's. Without either nothing could tell our envelopes apart. */
static int app_id_from(const struct slack_chat_opts *o, char *out, size_t n, struct bot_error *err)
{
	char tok[ID_MAX];
	bool have = app_id_of_token(o->app_token, tok, sizeof tok);

	if (o->app_id && *o->app_id) {
		if (!slack_id_valid(o->app_id, "A"))
			return bot_error_set(err, BOT_EINVAL, "slack.app_id is not an app id (A...)");
		if (have && strcmp(tok, o->app_id) != 0)
			return bot_error_set(err, BOT_EINVAL, "slack.app_id %s is not the app of the app "
					     "token (%s): is the token from another app?",
					     o->app_id, tok);
		snprintf(out, n, "%s", o->app_id);
		return BOT_EOK;
	}
	if (!have)
		return bot_error_set(err, BOT_EINVAL, "slack: the app token does not show the app id "
				     "(xapp-1-A...-...); set slack.app_id");
	snprintf(out, n, "%s", tok);
	return BOT_EOK;
}

int slack_chat_create(struct bot_loop *loop, const struct slack_chat_opts *o, struct chat **out,
		      struct bot_error *err)
{
	struct slack_chat *sc = NULL;
	struct lws_context *ctx;
	int rc = BOT_EOK;

	*out = NULL;
	if (!loop || !o || !o->app_token || !*o->app_token || !o->bot_token || !*o->bot_token)
		return bot_error_set(err, BOT_EINVAL, "slack: the app token (xapp-) and the bot "
				     "token (xoxb-) are both required");
	/* before anything can log them */
	if (log_add_secret(o->app_token) == BOT_ENOMEM || log_add_secret(o->bot_token) == BOT_ENOMEM)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	sc = calloc(1, sizeof *sc);
	if (!sc)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	sc->chat.ops = &slack_ops;
	sc->loop = loop;
	sc->uv = bot_loop_uv(loop);
	sc->on_fatal = o->on_fatal;
	sc->fatal_ud = o->fatal_ud;
	sc->allow_external = o->allow_external_users;
	sc->auth_backoff = o->reconnect_backoff ? o->reconnect_backoff : &auth_default_backoff;
	rc = app_id_from(o, sc->app_id, sizeof sc->app_id, err);
	if (rc)
		goto out;
	sc->auth_timer = malloc(sizeof *sc->auth_timer);
	if (!sc->auth_timer) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	(void)uv_timer_init(sc->uv, sc->auth_timer);
	sc->auth_timer->data = sc;
	ctx = bot_lws_context(loop, err);
	if (!ctx) {
		rc = BOT_EIO;
		goto out;
	}
	rc = http_create(loop, &(struct http_opts){ .ca_file = o->ca_file }, &sc->http, err);
	if (rc)
		goto out;
	rc = slack_api_create(sc->uv, &(struct slack_api_opts){
			.http = sc->http, .api_url = o->api_url ? o->api_url : DEFAULT_API_URL,
			.bot_token = o->bot_token, .app_token = o->app_token, .retry = o->api_retry,
			.max_ratelimited = o->api_max_ratelimited, .timeout_ms = o->api_timeout_ms,
			.queue_max = o->api_queue_max, .total_max = o->api_total_max },
			&sc->api, err);
	if (rc)
		goto out;
	if (ratelimit_create(o->ephemeral_per_minute ? o->ephemeral_per_minute
			     : DEFAULT_EPHEMERAL_PER_MINUTE, EPHEMERAL_USERS, &sc->eph_limit) ||
	    ratelimit_create(1, EPHEMERAL_USERS, &sc->eph_log)) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	if (o->dedupe) {
		sc->dedupe = *o->dedupe;
	} else {
		rc = slack_dedupe_create(o->dedupe_ttl_ms ? o->dedupe_ttl_ms : DEFAULT_DEDUPE_TTL, 0,
					 &sc->mem_dedupe);
		if (rc) {
			bot_error_set(err, rc, "slack: cannot create the dedupe table");
			goto out;
		}
		sc->dedupe = slack_dedupe_store(sc->mem_dedupe);
	}
	rc = slack_ws_create(&(struct slack_ws_opts){
			.ctx = ctx, .loop = sc->uv, .api = sc->api, .ca_file = o->ca_file,
			.backoff = o->reconnect_backoff, .ping_interval_ms = o->ping_interval_ms,
			.silence_ms = o->silence_ms, .hello_timeout_ms = o->hello_timeout_ms,
			.close_timeout_ms = o->close_timeout_ms, .drain_timeout_ms = o->drain_timeout_ms,
			.on_envelope = on_envelope, .on_state = on_ws_state, .hold = hold_envelope,
			.ud = sc },
			&sc->ws, err);
	if (rc)
		goto out;
	rc = bot_loop_on_shutdown(loop, on_loop_shutdown, sc);
	if (rc) {
		bot_error_set(err, rc, "slack: cannot register the shutdown hook");
		goto out;
	}
	sc->hooked = true;
	*out = &sc->chat;
	sc = NULL;
out:
	if (sc)
		sc_destroy(&sc->chat);
	return rc;
}
