/* mrkdwn.c - struct chat_text -> Slack mrkdwn (see mrkdwn.h). */
#include "adapters/slack/mrkdwn.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

static void put_escaped(struct dbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': dbuf_puts(b, "&amp;"); break;
		case '<': dbuf_puts(b, "&lt;"); break;
		case '>': dbuf_puts(b, "&gt;"); break;
		default: dbuf_putc(b, *s); break;
		}
	}
}

/* Slack ids (U…, W…, C…) are upper-case letters and digits. */
static bool slack_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* Close the styles in `from` that are open, innermost first, then open
 * those of `to`, outermost first. */
static void restyle(struct dbuf *b, unsigned from, unsigned to)
{
	if (from == to)
		return;
	if (from & CHAT_STYLE_CODE)
		dbuf_putc(b, '`');
	if (from & CHAT_STYLE_ITALIC)
		dbuf_putc(b, '_');
	if (from & CHAT_STYLE_BOLD)
		dbuf_putc(b, '*');
	if (to & CHAT_STYLE_BOLD)
		dbuf_putc(b, '*');
	if (to & CHAT_STYLE_ITALIC)
		dbuf_putc(b, '_');
	if (to & CHAT_STYLE_CODE)
		dbuf_putc(b, '`');
}

static void put_span(struct dbuf *b, const struct chat_text *t, const struct chat_span *s)
{
	const char *text = chat_span_text(t, s), *url;

	switch ((enum chat_span_type)s->type) {
	case CHAT_SPAN_TEXT:
		put_escaped(b, text);
		break;
	case CHAT_SPAN_USER:
	case CHAT_SPAN_CHANNEL:
		if (slack_id(text))
			dbuf_printf(b, "<%c%s>", s->type == CHAT_SPAN_USER ? '@' : '#', text);
		else
			put_escaped(b, text);
		break;
	case CHAT_SPAN_DATE:
		dbuf_printf(b, "<!date^%" PRId64 "^{date_short_pretty} {time}|", s->when);
		put_escaped(b, text);
		dbuf_putc(b, '>');
		break;
	case CHAT_SPAN_LINK:
		url = t->buf + s->url;
		if (strpbrk(url, "<>|")) {
			put_escaped(b, text);
			break;
		}
		dbuf_printf(b, "<%s|", url);
		put_escaped(b, text);
		dbuf_putc(b, '>');
		break;
	}
}

void slack_mrkdwn_put(struct dbuf *b, const struct chat_text *t)
{
	unsigned open = 0;

	for (size_t i = 0; i < t->n; i++) {
		restyle(b, open, t->spans[i].style);
		open = t->spans[i].style;
		put_span(b, t, &t->spans[i]);
	}
	restyle(b, open, 0);
	if (t->cut)
		dbuf_puts(b, SLACK_MRKDWN_ELLIPSIS);
}

char *slack_mrkdwn(const struct chat_text *t)
{
	/* every byte an entity at worst, plus the markup around each span */
	struct dbuf b = {.max = 6 * CHAT_TEXT_MAX + 80 * CHAT_TEXT_SPANS};

	slack_mrkdwn_put(&b, t);
	return dbuf_take(&b);
}

char *slack_mrkdwn_escape(const char *s)
{
	struct dbuf b = {0};

	put_escaped(&b, s ? s : "");
	return dbuf_take(&b);
}
