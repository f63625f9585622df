/* envelope.h - Socket Mode frames: parse, normalise, acknowledge.
 *
 * Validates a text frame from Slack at the edge (jansson) and turns it into
 * what the rest of the bot understands: hello, disconnect (with the reason
 * sorted into an action), or an envelope carrying a chat_event. Nothing
 * past this file sees Slack JSON.
 */
#ifndef ADAPTERS_SLACK_ENVELOPE_H
#define ADAPTERS_SLACK_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/chat.h"
#include "bot/base/error.h"

/* Frames larger than this are refused (Slack payloads are far smaller). */
#define SLACK_FRAME_MAX (512 * 1024)

enum slack_frame_kind {
	SLACK_FRAME_HELLO = 0,
	SLACK_FRAME_DISCONNECT,
	SLACK_FRAME_ENVELOPE,   /* ack it; ev is set when has_event */
};

/* What to do about a disconnect, from its reason. */
enum slack_disconnect_action {
	SLACK_DISC_REFRESH = 0, /* warning, refresh_requested, unknown: open a new link first */
	SLACK_DISC_STOP,        /* link_disabled: Socket Mode was turned off */
	SLACK_DISC_BACKOFF,     /* too_many_websockets: close this one, back off */
};

/* Who an envelope comes from and is addressed to, as its payload says
 * (borrowed from the frame; NULL when absent). slack.c compares these with
 * the bot's own identity before anything acts on the envelope. */
struct slack_origin {
	const char *team_id;       /* the workspace it comes from */
	const char *enterprise_id; /* the organisation (Enterprise Grid), if any */
	const char *app_id;        /* api_app_id: the app it is addressed to */
	const char *user_team_id;  /* the acting user's own workspace, when sent
				    * (clicks, events; Slack Connect users differ) */
};

struct slack_frame {
	enum slack_frame_kind kind;
	/* hello */
	int num_connections;
	int approximate_connection_time; /* seconds, 0 if absent */
	/* disconnect */
	enum slack_disconnect_action action;
	char reason[48];
	/* envelope */
	char envelope_id[128];
	char type[32];          /* events_api | slash_commands | interactive | ... */
	int retry_attempt;
	bool has_event;         /* false for envelopes we ack but ignore */
	char dedupe_key[192];   /* stable across redeliveries of the same thing */
	struct chat_event ev;   /* strings borrowed from the frame; valid until finish */
	struct slack_origin origin; /* set with has_event */
	unsigned link_id;       /* set by the socket: the link it came on */
	bool held;              /* set by the socket: not acked yet (socket.h) */
	void *json_;            /* private: the parsed document */
};

/* Parse one complete text frame. BOT_EPARSE (with detail) for anything
 * malformed - including user, channel, team or app ids not of Slack's
 * shape, so that no such value ever reaches a message; BOT_ETOOBIG for a
 * frame over SLACK_FRAME_MAX. On success call slack_frame_finish() when
 * done with it. */
int slack_frame_parse(const char *text, size_t len, struct slack_frame *out, struct bot_error *err);
void slack_frame_finish(struct slack_frame *f);

/* Slack's id shapes: a capital letter from first (e.g. "UW" for users),
 * then 2 to 31 capital letters or digits. */
bool slack_id_valid(const char *id, const char *first);

/* The ack for an envelope: {"envelope_id":"..."} into buf. Returns its
 * length, or 0 if buf is too small. */
size_t slack_ack_frame(const char *envelope_id, char *buf, size_t n);

#endif
