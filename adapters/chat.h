/* chat.h - the chat interface: how the core talks to people.
 *
 * A backend (adapters/console, adapters/slack) fills a struct chat_ops and
 * embeds a struct chat at the start of its own state. The core and the
 * commands only see this header: no Slack JSON, no libwebsockets.
 *
 * Text is Slack-flavoured mrkdwn, the de-facto chat markup: *bold*, _italic_,
 * `code`, <@U123> user mentions, <!date^EPOCH^{time}|fallback> dates. Every
 * user-controlled string must go through chat_escape() before it is put in
 * a message; the console backend renders the same markup as plain text.
 *
 * Ownership: everything passed in is borrowed for the duration of the call;
 * backends copy what they keep. Event data passed to on_event is valid only
 * during the callback.
 */
#ifndef ADAPTERS_CHAT_H
#define ADAPTERS_CHAT_H

#include <stdbool.h>
#include <stddef.h>

enum chat_button_style {
	CHAT_BUTTON_DEFAULT = 0,
	CHAT_BUTTON_PRIMARY,
	CHAT_BUTTON_DANGER,
};

struct chat_confirm {
	const char *title;   /* plain text */
	const char *text;    /* plain text */
	const char *yes;     /* e.g. "Deny" */
	const char *no;      /* e.g. "Cancel" */
};

struct chat_button {
	const char *action_id;  /* e.g. "gate.approve" */
	const char *text;       /* plain text label, e.g. "Approve" */
	const char *value;      /* opaque, comes back in the event (e.g. gate id) */
	enum chat_button_style style;
	const struct chat_confirm *confirm; /* optional dialog before the click counts */
};

enum chat_block_type {
	CHAT_BLOCK_HEADER = 0,  /* text: plain text title */
	CHAT_BLOCK_SECTION,     /* text: mrkdwn */
	CHAT_BLOCK_CONTEXT,     /* text: mrkdwn, small print */
	CHAT_BLOCK_DIVIDER,
	CHAT_BLOCK_ACTIONS,     /* buttons */
	CHAT_BLOCK_PLAIN,       /* text: plain text shown exactly as written, no markup,
				 * no mentions: for what people typed (a reason) */
};

struct chat_block {
	enum chat_block_type type;
	const char *text;
	const struct chat_button *buttons;
	size_t n_buttons;
};

struct chat_message {
	const char *channel;     /* where; required for post */
	const char *thread_ts;   /* reply in this thread (optional) */
	const char *text;        /* mrkdwn fallback / notification text; required */
	const struct chat_block *blocks;
	size_t n_blocks;
	/* Optional short name people use for what the message is about, e.g.
	 * "#12" for request 12. A backend may let people point at the message
	 * by it (the console's "approve #12"). */
	const char *ref;
};

enum chat_event_type {
	CHAT_EV_COMMAND = 0,  /* a slash command: command + text */
	CHAT_EV_BUTTON,       /* a button press: action_id + value + message_ts */
	CHAT_EV_MENTION,      /* free text addressed to the bot */
};

struct chat_event {
	enum chat_event_type type;
	const char *id;           /* stable id for deduplication */
	const char *user;         /* who (user id) */
	const char *user_name;    /* display name if known (may be NULL) */
	const char *channel;      /* where */
	const char *command;      /* "/scale" (COMMAND) */
	const char *text;         /* arguments (COMMAND) or message text (MENTION) */
	const char *response_url; /* optional reply channel for the event (Slack) */
	const char *action_id;    /* BUTTON */
	const char *value;        /* BUTTON */
	const char *message_ts;   /* BUTTON: the message that holds the button */
	const char *thread_ts;    /* MENTION in a thread */
};

/* Result of an outgoing call. rc is 0 or a bot_err code; ts is the message
 * id on success of post (borrowed, valid during the callback); detail is a
 * human message on failure (e.g. "channel_not_found"). */
typedef void (*chat_result_cb)(void *ud, int rc, const char *ts, const char *detail);
typedef void (*chat_event_cb)(void *ud, const struct chat_event *ev);

/* Why an event was refused before anything acted on it (X-macro: the enum
 * and the names in /metrics). Backends count what they refuse at the edge,
 * the core what it refuses later; each is counted in struct chat. */
#define CHAT_REFUSALS(X)                                                          \
	X(CHAT_REFUSED_TEAM, "team")                   /* from another workspace */ \
	X(CHAT_REFUSED_ENTERPRISE, "enterprise")       /* from another org */       \
	X(CHAT_REFUSED_APP, "app")                     /* for another app */        \
	X(CHAT_REFUSED_EXTERNAL_USER, "external_user") /* a Slack Connect user */   \
	X(CHAT_REFUSED_CHANNEL, "channel")             /* not an allowed channel */ \
	X(CHAT_REFUSED_CARD, "card")                   /* click not on its card */  \
	X(CHAT_REFUSED_REVOKED, "revoked")             /* no longer configured */

enum chat_refusal {
#define X(code, name) code,
	CHAT_REFUSALS(X)
#undef X
	CHAT_REFUSED_COUNT
};

/* "team", "app"...; "?" for anything else. */
const char *chat_refusal_name(enum chat_refusal r);

struct chat;

struct chat_ops {
	const char *name;
	/* Start receiving events (connect, open the terminal...). */
	int (*start)(struct chat *c);
	/* Post a new message. cb may be NULL. */
	int (*post)(struct chat *c, const struct chat_message *m, chat_result_cb cb, void *ud);
	/* Replace the content of a message previously posted by the bot. */
	int (*update)(struct chat *c, const char *channel, const char *ts,
		      const struct chat_message *m, chat_result_cb cb, void *ud);
	/* A message only `user` sees. */
	int (*ephemeral)(struct chat *c, const char *user, const struct chat_message *m,
			 chat_result_cb cb, void *ud);
	/* Begin a polite shutdown; done is called once nothing is in flight. */
	void (*stop)(struct chat *c, void (*done)(void *ud), void *ud);
	void (*destroy)(struct chat *c);
	/* Optional (may be NULL): a URL that opens message ts of channel, into
	 * buf; 0 or BOT_ENOTFOUND when the backend cannot tell (yet). */
	int (*permalink)(struct chat *c, const char *channel, const char *ts, char *buf, size_t n);
	/* Optional (may be NULL = always): is the backend connected now? */
	bool (*connected)(struct chat *c);
};

struct chat {
	const struct chat_ops *ops;
	chat_event_cb on_event;
	void *event_ud;
	unsigned long refused[CHAT_REFUSED_COUNT]; /* events refused, by reason */
};

static inline int chat_post(struct chat *c, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	return c->ops->post(c, m, cb, ud);
}

static inline int chat_update(struct chat *c, const char *channel, const char *ts,
			      const struct chat_message *m, chat_result_cb cb, void *ud)
{
	return c->ops->update(c, channel, ts, m, cb, ud);
}

static inline int chat_ephemeral(struct chat *c, const char *user, const struct chat_message *m,
				 chat_result_cb cb, void *ud)
{
	return c->ops->ephemeral(c, user, m, cb, ud);
}

/* A mrkdwn link "<url|label>" to message ts when the backend can make one,
 * else label alone. label must already be mrkdwn-safe. Returns buf. */
const char *chat_link(struct chat *c, const char *channel, const char *ts, const char *label,
		      char *buf, size_t n);

/* Escape a user-controlled string for mrkdwn (& < > only). Writes into buf
 * (always NUL-terminated, cut visibly with "..." when too small) and
 * returns buf. */
const char *chat_escape(char *buf, size_t n, const char *s);
/* Same, returning a new string the caller frees (NULL on OOM). */
char *chat_escape_dup(const char *s);

#endif
