/* mrkdwn.h - structured text (struct chat_text, adapters/chat.h) as Slack
 * mrkdwn: the one place where what the core says becomes Slack markup.
 *
 *   text      escaped: & < > as &amp; &lt; &gt; (Slack's only three)
 *   styles    *bold*, _italic_, `code` around each run of spans that has them
 *   user      <@U1> for an id of [A-Z0-9]; anything else is shown as
 *             escaped text (a stored id is never markup)
 *   channel   <#C1>, on the same rule
 *   date      <!date^EPOCH^{date_short_pretty} {time}|2026-11-18 11:06 UTC>:
 *             each reader's local time, the UTC fallback where the client
 *             cannot
 *   link      <url|label>; the label alone when the URL holds < > or |
 *   cut       a text that did not fit ends in SLACK_MRKDWN_ELLIPSIS
 */
#ifndef ADAPTERS_SLACK_MRKDWN_H
#define ADAPTERS_SLACK_MRKDWN_H

#include "adapters/chat.h"
#include "bot/base/dbuf.h"

#define SLACK_MRKDWN_ELLIPSIS "\xe2\x80\xa6"

/* Append t rendered to b (dbuf's sticky failure applies). */
void slack_mrkdwn_put(struct dbuf *b, const struct chat_text *t);
/* t rendered, as a new string the caller frees; NULL on OOM. */
char *slack_mrkdwn(const struct chat_text *t);
/* s with & < > as entities (Slack's rule for every text it shows, plain
 * text too), as a new string the caller frees; NULL on OOM. */
char *slack_mrkdwn_escape(const char *s);

#endif
