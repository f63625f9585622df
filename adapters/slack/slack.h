/* slack.h - the Slack chat backend (struct chat over Socket Mode + Web API).
 *
 *   struct chat *c;
 *   slack_chat_create(loop, &(struct slack_chat_opts){ .app_token = ...,
 *                     .bot_token = ..., .api_url = cfg->slack.api_url }, &c, &err);
 *   c->on_event = app_on_chat_event; c->event_ud = app;
 *   c->ops->start(c);
 *
 * Incoming (socket.h): every envelope is acked at once - but a button
 * click: its envelope is acked only when the core settles it
 * (chat_settle: the vote is committed or refused), so a click is never
 * acked and then lost with a dying process (Slack does not send a click
 * again: an unacked one shows a warning by its button, and the user
 * presses again). Events are deduplicated on what they are about (event_id, trigger_id, or user +
 * action_ts + action id, see envelope.h) through a struct
 * slack_dedupe_store - in memory by default, for dedupe_ttl_ms (15 min;
 * Slack's last retry comes after 5 min) - so a redelivery, or a replay
 * after a reconnect, reaches on_event once. Slash commands, button clicks
 * and app mentions become chat events; other envelopes are acked and
 * ignored.
 *
 * Outgoing (webapi.h): post -> chat.postMessage, update -> chat.update,
 * ephemeral -> chat.postEphemeral (m->channel and the user), each queued by
 * channel so messages to one channel keep their order (also under 429).
 * Under a burst: an urgent message (a gate's card, its updates, its
 * thread lines) goes ahead of the rest of its channel's queue and is never
 * dropped; an ephemeral whose channel queue is full goes to the asker's
 * response_url (remembered from their command or click, below) instead;
 * otherwise an ephemeral or a post that is not urgent is dropped
 * (BOT_EBUSY, counted in chat.dropped["busy"]) when its queue or all of
 * them are full (api_queue_max, api_total_max), or evicted by an urgent
 * one. At most 16 Web API requests are in flight at once (webapi.h). Ephemerals that are not urgent are throttled per user
 * (ephemeral_per_minute: a burst of that many, then one every
 * 60/ephemeral_per_minute s); the excess returns BOT_EBUSY, counted in
 * chat.dropped["throttled"] and logged once a minute per user
 * (slack.throttled).
 * When chat.postEphemeral cannot reach the user (the bot is not in the
 * channel: not_in_channel / channel_not_found / user_not_in_channel) and
 * the user sent a command or clicked a button in that channel in the last
 * 30 minutes, the reply goes to that event's response_url instead (which
 * works without membership; at most 5 uses per URL, as Slack allows).
 * Result callbacks get rc (a bot_err code) and, on failure, Slack's error
 * string as detail; ts is the message ts (postEphemeral: message_ts).
 * A call that cannot start returns the code and its callback is not run.
 *
 * Lifetime: create registers a bot_loop shutdown hook that closes the
 * websocket politely and cancels queued Web API calls (their callbacks run
 * with BOT_ECANCELLED); ops->stop does the same for callers that stop
 * earlier. Fatal conditions - invalid tokens at start (auth.test,
 * apps.connections.open), Socket Mode disabled (link_disabled) - are logged
 * as event=slack.fatal and reported to on_fatal; the backend stops. Tokens
 * are registered with the log redactor and never logged.
 */
#ifndef ADAPTERS_SLACK_SLACK_H
#define ADAPTERS_SLACK_SLACK_H

#include <stdint.h>

#include "adapters/chat.h"
#include "adapters/slack/dedupe.h"
#include "adapters/slack/retry.h"
#include "adapters/slack/socket.h"
#include "bot/base/error.h"
#include "bot/base/loop.h"

struct slack_chat_opts {
	const char *app_token;    /* xapp-... (required) */
	const char *bot_token;    /* xoxb-... (required) */
	/* The app's id (A...). NULL: read from the app token
	 * (xapp-1-<app id>-...); given, it must agree with the token. */
	const char *app_id;
	/* Serve users of another org in a shared channel (Slack Connect)?
	 * Default no; slack_chat_set_allow_external() changes it. */
	bool allow_external_users;
	const char *api_url;      /* NULL: https://slack.com/api */
	const char *ca_file;      /* extra trust anchors for the Web API and the websocket */
	/* Where "already acted on" is kept; NULL: in memory (borrowed,
	 * must outlive the backend). */
	const struct slack_dedupe_store *dedupe;
	uint64_t dedupe_ttl_ms;   /* in-memory store only; 0: 15 minutes */
	/* Called once when the backend gives up for good (see above). */
	void (*on_fatal)(void *ud, int rc, const char *detail);
	void *fatal_ud;
	/* Tuning (tests use short values); 0/NULL: the defaults in
	 * socket.h and webapi.h. */
	const struct slack_retry_policy *reconnect_backoff;
	const struct slack_retry_policy *api_retry;
	unsigned api_max_ratelimited;
	unsigned ping_interval_ms, silence_ms, hello_timeout_ms, close_timeout_ms,
		 drain_timeout_ms;
	long api_timeout_ms;
	size_t api_queue_max, api_total_max;  /* 0: webapi.h's 256 and 1024 */
	unsigned ephemeral_per_minute;        /* 0: 30 (a person within limits.user_commands_per_minute,
						 20, always hears back) */
};

/* Who may speak to the bot. The backend learns its workspace (team id,
 * enterprise id in an org) and bot user from auth.test before it opens
 * the websocket (auth.test is retried with the reconnect backoff until it
 * answers), and its app id from the options or the app token. An envelope
 * whose team, org or api_app_id differs, or (unless allowed) whose acting
 * user belongs to another workspace, is acked and nothing else: counted in
 * chat.refused by reason and logged once at warn with the quoted values. */
void slack_chat_set_allow_external(struct chat *c, bool allow);

struct slack_chat_stats {
	struct slack_ws_stats ws;
	unsigned events;          /* delivered to on_event */
	unsigned duplicates;      /* dropped by the dedupe */
	unsigned fallbacks;       /* ephemerals sent through a response_url */
	unsigned held;            /* clicks the core has not settled yet (unacked) */
	size_t api_pending;       /* Web API calls queued or in flight */
	bool connected;           /* a link is up (last state report) */
};

/* 0, or BOT_EINVAL (missing token), BOT_ECONFIG (ca_file), BOT_EIO (lws,
 * curl), BOT_ENOMEM, with err filled. */
int slack_chat_create(struct bot_loop *loop, const struct slack_chat_opts *o, struct chat **out,
		      struct bot_error *err);

/* c must be a chat made by slack_chat_create. */
void slack_chat_get_stats(struct chat *c, struct slack_chat_stats *out);

#endif
