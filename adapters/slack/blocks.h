/* blocks.h - render a struct chat_message as a Slack Web API JSON body.
 *
 * The result is the body for chat.postMessage:
 *
 *   {"channel":"C1","text":"<fallback>","blocks":[...],"thread_ts":"1.2"}
 *
 * channel and thread_ts appear only when set (non-empty); "blocks" only when
 * at least one block survives (no blocks + text is a valid plain message,
 * and for chat.update "text given, blocks omitted" removes the old blocks).
 * Callers add "ts" (chat.update), "user" (chat.postEphemeral) or
 * "response_type"/"replace_original" (response_url) themselves.
 *
 * Text handling. Structured text (a section's, a context's and the
 * message's `rich`: the fallback) is rendered to mrkdwn here
 * (adapters/slack/mrkdwn.h), escaped on the way. A PLAIN block becomes a
 * plain_text section with & < > escaped. The other plain-text fields
 * (header, button label, confirm dialog) are plain_text objects, passed as
 * they are. Invalid UTF-8 in any displayed text is replaced by U+FFFD rather
 * than failing.
 *
 * Size never fails a displayed text: anything over a Block Kit limit is cut
 * visibly, ending in SLACK_BLOCKS_ELLIPSIS, at a code point boundary, and in
 * mrkdwn never inside an entity (&amp;) or an angle construct (<@U1>,
 * <!date^...|...>, <url|label>): the cut backs off to before the '&'/'<'.
 * Characters are counted as code points. Identifiers are different: an
 * action_id or button value over its limit would route the click to the
 * wrong thing if cut, so that is BOT_ETOOBIG.
 *
 * Layout decisions:
 * - header/section/context with NULL or empty text, and actions with no
 *   buttons, are dropped (Slack rejects empty texts; a lone space would post
 *   a blank block).
 * - An actions block with more than SLACK_BLOCKS_ACTIONS_MAX buttons is split
 *   into several consecutive actions blocks of at most 25 (nothing hidden).
 * - More than SLACK_BLOCKS_MAX blocks after that: the first 49 are kept and
 *   a context block "… N more blocks not shown" is appended.
 * - Every block gets block_id "<seq>.<index>", where seq is a per-process
 *   counter (base 36) seeded from the wall clock in microseconds on first
 *   use and bumped per render. So ids are unique within a message, differ
 *   between two renders of the same message (Slack: "If a message is
 *   updated, use a new block_id"), and do not repeat across restarts.
 *   The counter is not locked: render from the loop thread only.
 */
#ifndef ADAPTERS_SLACK_BLOCKS_H
#define ADAPTERS_SLACK_BLOCKS_H

#include <jansson.h>

#include "adapters/chat.h"
#include "bot/base/error.h"

/* Block Kit limits, in characters (code points). */
#define SLACK_BLOCKS_MAX              50    /* blocks per message */
#define SLACK_BLOCKS_TEXT_MAX         3000  /* section and context text */
#define SLACK_BLOCKS_HEADER_MAX       150
#define SLACK_BLOCKS_ACTIONS_MAX      25    /* elements per actions block */
#define SLACK_BLOCKS_BUTTON_TEXT_MAX  75
#define SLACK_BLOCKS_VALUE_MAX        2000
#define SLACK_BLOCKS_ACTION_ID_MAX    255
#define SLACK_BLOCKS_CONFIRM_TITLE_MAX 100
#define SLACK_BLOCKS_CONFIRM_TEXT_MAX 300
#define SLACK_BLOCKS_CONFIRM_BUTTON_MAX 30
/* chat.update refuses text over 4,000 characters (msg_too_long); keep the
 * fallback text under that with some room. */
#define SLACK_BLOCKS_FALLBACK_MAX     3900

/* The visible truncation marker: U+2026 HORIZONTAL ELLIPSIS. */
#define SLACK_BLOCKS_ELLIPSIS "\xe2\x80\xa6"

/* Render m. On success returns 0 and sets *out to a new object the caller
 * owns (json_decref). On failure *out is NULL, err (may be NULL) holds the
 * detail, and the code is BOT_EINVAL (NULL message, missing or empty
 * fallback text m->rich, n_blocks without blocks, unknown block type,
 * button without action_id or label, confirm without one of its four
 * texts, identifier not valid UTF-8), BOT_ETOOBIG (action_id/value over its
 * limit)
 * or BOT_ENOMEM. */
int slack_blocks_build(const struct chat_message *m, json_t **out, struct bot_error *err);

/* Same, returning the new object, or NULL with err filled. */
json_t *slack_blocks_message(const struct chat_message *m, struct bot_error *err);

#endif
