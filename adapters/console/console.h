/* console.h - the bot in a terminal: a chat backend on stdin/stdout.
 *
 * A person types what they would type in Slack:
 *
 *   /scale mysecretword-service 100     a slash command
 *   approve 3                           press the "Approve" button on message 3
 *   as U0APPROVER1                      act as another user from now on
 *   whoami, help                        console helpers
 *   anything else                       a mention of the bot (free text)
 *
 * Messages are printed as plain text (structured text rendered here: @U1,
 * #C1, local time, "label (url)"); buttons show what to type to press them.
 * A button with a confirm dialog asks for "y" before the click counts.
 */
#ifndef ADAPTERS_CONSOLE_H
#define ADAPTERS_CONSOLE_H

#include <uv.h>

#include "adapters/chat.h"
#include "bot/base/error.h"

struct console_opts {
	int in_fd;             /* default 0 when both fds are 0: stdin */
	int out_fd;            /* default 1 */
	const char *user;      /* initial user id, e.g. "U0ONCALL1" (required) */
	const char *channel;   /* channel id shown and used for events; default "C0CONSOLE" */
	bool color;            /* ANSI colours (default off; main turns on for a tty) */
	/* Called once at end of input (EOF or "quit"). */
	void (*on_eof)(void *ud);
	void *eof_ud;
	/* Optional: "alarm <name> [ALARM|OK|INSUFFICIENT_DATA] [reason]" typed
	 * in the console, a CloudWatch alarm's state change as the alarm
	 * queue would bring it (the demo has no queue). Returns 0, or an error
	 * the console explains: BOT_ENOTFOUND (no service has the alarm). */
	int (*on_alarm)(void *ud, const char *name, const char *state, const char *reason,
			const char *channel);
	void *alarm_ud;
};

/* Create the console backend on loop. Events go to (*out)->on_event once
 * chat->ops->start() is called. */
int console_chat_create(uv_loop_t *loop, const struct console_opts *o, struct chat **out,
			struct bot_error *err);

/* Render structured text as plain terminal text into a new string (caller
 * frees; NULL on OOM): styles dropped, users @U1, channels #C1, dates in
 * local time ("2026-11-18 12:06 CET"), links "label (url)", "..." when
 * cut. Exposed for tests. */
char *console_render_rich(const struct chat_text *t);

#endif
