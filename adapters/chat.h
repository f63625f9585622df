/* chat.h - the chat interface: how the core talks to people.
 *
 * A backend (adapters/console, adapters/slack) fills a struct chat_ops and
 * embeds a struct chat at the start of its own state. The core and the
 * commands only see this header: no Slack JSON, no libwebsockets.
 *
 * Text. Everything the domain and commands/ say is structured text (struct
 * chat_text below): plain text, emphasis, user mentions by id, channels,
 * dates and links, kept as typed. Each backend renders it in its own markup
 * and escapes it there, once: Slack as mrkdwn (<@U1>, <!date^...>, & < > as
 * entities), the console as plain text (@U1, local time). The only other
 * text is plain text shown exactly as written (a header, a button label,
 * a CHAT_BLOCK_PLAIN block): no markup goes through this interface.
 *
 * Ownership: everything passed in is borrowed for the duration of the call;
 * backends copy what they keep. Event data passed to on_event is valid only
 * during the callback.
 */
#ifndef ADAPTERS_CHAT_H
#define ADAPTERS_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- structured text -------------------------------------------------------
 *
 * A message part as a list of spans, built with the helpers below:
 *
 *   struct chat_text t;
 *   chat_text_init(&t);
 *   chat_text_user(&t, "U1");
 *   chat_text_printf(&t, " asks to scale ");
 *   chat_text_bold(&t, "%s", service);      // "*web*" in Slack, "web" on a terminal
 *   chat_text_printf(&t, " before ");
 *   chat_text_date(&t, deadline_ms / 1000);
 *
 * Strings go in as typed (never escaped: the backend does that). Bounded:
 * at most CHAT_TEXT_MAX bytes of text and CHAT_TEXT_SPANS spans; what does
 * not fit is dropped (a cut text stays valid UTF-8) and `cut` is set, and
 * backends then end the text with an ellipsis. Spans hold offsets into buf,
 * not pointers, so a chat_text may be copied.
 */
#define CHAT_TEXT_MAX   3000   /* bytes, as Slack's section text limit */
#define CHAT_TEXT_SPANS 160

enum chat_span_type {
	CHAT_SPAN_TEXT = 0, /* text as written */
	CHAT_SPAN_USER,     /* a person; text: the user id */
	CHAT_SPAN_CHANNEL,  /* a channel; text: the channel id */
	CHAT_SPAN_DATE,     /* a moment; when: epoch seconds, shown in the reader's
			     * time; text: the fallback, UTC (chat_date_utc) */
	CHAT_SPAN_LINK,     /* text: the label; url: where it goes */
};

/* Emphasis, on any span (a run of spans with the same style is emphasised
 * as one); a backend may show it or not. */
#define CHAT_STYLE_BOLD   1u
#define CHAT_STYLE_ITALIC 2u
#define CHAT_STYLE_CODE   4u   /* a literal: a name, an id, a command to type */

struct chat_span {
	unsigned char type;     /* enum chat_span_type */
	unsigned char style;    /* CHAT_STYLE_* */
	unsigned short text;    /* offset in buf of the span's NUL-terminated text */
	unsigned short url;     /* LINK: offset in buf of the URL */
	int64_t when;           /* DATE */
};

struct chat_text {
	struct chat_span spans[CHAT_TEXT_SPANS];
	size_t n;               /* spans in use */
	size_t used;            /* bytes of buf in use (NULs included) */
	unsigned style;         /* style given to the next spans (chat_text_style) */
	bool cut;               /* something did not fit and was dropped */
	char buf[CHAT_TEXT_MAX];
};

void chat_text_init(struct chat_text *t);
/* Style of the spans added from now on; returns the previous one. */
unsigned chat_text_style(struct chat_text *t, unsigned style);
/* Formatted text in the current style. */
void chat_text_printf(struct chat_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same with CHAT_STYLE_BOLD / CHAT_STYLE_CODE added. */
void chat_text_bold(struct chat_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chat_text_code(struct chat_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A user mention by id (a backend shows an id it does not accept as text). */
void chat_text_user(struct chat_text *t, const char *user_id);
void chat_text_channel(struct chat_text *t, const char *channel_id);
void chat_text_date(struct chat_text *t, int64_t epoch_s);
void chat_text_link(struct chat_text *t, const char *url, const char *label);
/* Append src's spans (their style combined with the current one). */
void chat_text_cat(struct chat_text *t, const struct chat_text *src);
/* No span with any text (nothing to show). */
bool chat_text_empty(const struct chat_text *t);

static inline const char *chat_span_text(const struct chat_text *t, const struct chat_span *s)
{
	return t->buf + s->text;
}

/* "2026-11-18 11:06 UTC": a date's plain-text form (Slack's fallback too).
 * Returns buf. */
const char *chat_date_utc(int64_t epoch_s, char *buf, size_t n);

/* t as plain text for what is not a chat (an SNS message, a log line):
 * styles dropped, @U1, #C1, UTC dates, "label (url)", "..." when cut.
 * Into buf (always NUL-terminated); returns the length written. */
size_t chat_text_plain(const struct chat_text *t, char *buf, size_t n);

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
	CHAT_BLOCK_SECTION,     /* rich */
	CHAT_BLOCK_CONTEXT,     /* rich; small print */
	CHAT_BLOCK_DIVIDER,
	CHAT_BLOCK_ACTIONS,     /* buttons */
	CHAT_BLOCK_PLAIN,       /* text: plain text shown exactly as written, no markup,
				 * no mentions: for what people typed (a reason) */
};

struct chat_block {
	enum chat_block_type type;
	const char *text;                /* HEADER, PLAIN: plain text */
	const struct chat_button *buttons;
	size_t n_buttons;
	const struct chat_text *rich;    /* SECTION, CONTEXT */
};

struct chat_message {
	const char *channel;     /* where; required for post */
	const char *thread_ts;   /* reply in this thread (optional) */
	const struct chat_block *blocks;
	size_t n_blocks;
	/* Optional short name people use for what the message is about, e.g.
	 * "#12" for request 12. A backend may let people point at the message
	 * by it (the console's "approve #12"). */
	const char *ref;
	/* Required: the fallback / notification text (what a client shows
	 * where it cannot show the blocks, or the message when it has none). */
	const struct chat_text *rich;
	/* A gate's own message (its card, a card update, a line of its
	 * thread), or one that answers many people at once (an investigation
	 * report others were pointed to): a backend sends it ahead of the
	 * other messages waiting for the same channel and never drops it for
	 * room. Other messages (ephemerals, informational posts) may wait
	 * behind, and under a burst be dropped (counted in struct
	 * chat.dropped). */
	bool urgent;
};

struct chat_hold; /* the backend's (see chat_settle) */

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
	/* Non-NULL: the backend has not told the platform it received this
	 * event, and waits for the core to say the event is durable - handled,
	 * refused or recorded - with chat_settle(). What the platform shows as
	 * received is then never lost with a dying process (Slack: a click is
	 * acked once its vote is committed; an unacked click is not sent again,
	 * its button shows a warning and the user presses again). */
	struct chat_hold *hold;
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
	X(CHAT_REFUSED_REVOKED, "revoked")             /* no longer configured */   \
	X(CHAT_REFUSED_RATE, "rate")                   /* over the user's rate */

enum chat_refusal {
#define X(code, name) code,
	CHAT_REFUSALS(X)
#undef X
	CHAT_REFUSED_COUNT
};

/* "team", "app"...; "?" for anything else. */
const char *chat_refusal_name(enum chat_refusal r);

/* Why an outgoing message was dropped (X-macro: the enum and the names in
 * /metrics); the backend counts each in struct chat and logs a burst once. */
#define CHAT_DROPS(X)                                                             \
	X(CHAT_DROPPED_BUSY, "busy")           /* the channel's queue was full */   \
	X(CHAT_DROPPED_THROTTLED, "throttled") /* over the user's ephemeral rate */

enum chat_drop {
#define X(code, name) code,
	CHAT_DROPS(X)
#undef X
	CHAT_DROPPED_COUNT
};

/* "busy", "throttled"; "?" for anything else. */
const char *chat_drop_name(enum chat_drop d);

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
	/* Optional (may be NULL = the backend never holds events): an event's
	 * hold ends (see struct chat_event). */
	void (*settle)(struct chat *c, struct chat_hold *h, bool ack);
	/* Optional (may be NULL = always): is the backend connected now? */
	bool (*connected)(struct chat *c);
};

struct chat {
	const struct chat_ops *ops;
	chat_event_cb on_event;
	void *event_ud;
	unsigned long refused[CHAT_REFUSED_COUNT]; /* events refused, by reason */
	unsigned long dropped[CHAT_DROPPED_COUNT]; /* outgoing messages dropped, by reason */
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

/* End the hold of an event (no-op for NULL): ack = true when its effect is
 * durable (or it was refused for good, or the user was told it failed);
 * false when this process did not act on it (shutting down): the platform
 * then shows it as not received. Call it exactly once per held event; it
 * frees h. */
static inline void chat_settle(struct chat *c, struct chat_hold *h, bool ack)
{
	if (h && c->ops->settle)
		c->ops->settle(c, h, ack);
}

/* Into buf, a URL that opens message ts of channel: 0, or BOT_ENOTFOUND
 * when the backend cannot tell (yet) or has no permalinks. */
int chat_permalink(struct chat *c, const char *channel, const char *ts, char *buf, size_t n);

#endif
