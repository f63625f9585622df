/* chat.c - helpers shared by every chat backend and the core. */
#include "adapters/chat.h"
#include "bot/base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *chat_refusal_name(enum chat_refusal r)
{
	static const char *const names[] = {
#define X(code, name) [code] = name,
		CHAT_REFUSALS(X)
#undef X
	};
	return (unsigned)r < CHAT_REFUSED_COUNT ? names[r] : "?";
}

const char *chat_drop_name(enum chat_drop d)
{
	static const char *const names[] = {
#define X(code, name) [code] = name,
		CHAT_DROPS(X)
#undef X
	};
	return (unsigned)d < CHAT_DROPPED_COUNT ? names[d] : "?";
}

int chat_permalink(struct chat *c, const char *channel, const char *ts, char *buf, size_t n)
{
	if (!c || !c->ops->permalink || !channel || !ts || n == 0)
		return BOT_ENOTFOUND;
	return c->ops->permalink(c, channel, ts, buf, n);
}

/* ---- structured text ------------------------------------------------------- */

void chat_text_init(struct chat_text *t)
{
	t->n = 0;
	t->used = 0;
	t->style = 0;
	t->cut = false;
	t->buf[0] = '\0';
}

unsigned chat_text_style(struct chat_text *t, unsigned style)
{
	unsigned old = t->style;
	t->style = style;
	return old;
}

/* Cut s[0..len) back to a whole UTF-8 character. */
static size_t utf8_back(const char *s, size_t len)
{
	size_t i = len;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && ((unsigned char)s[i - 1] & 0x80)) {
		/* s[i-1] leads a sequence: whole if it has all its bytes */
		unsigned char lead = (unsigned char)s[i - 1];
		size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
		return len - (i - 1) >= need ? len : i - 1;
	}
	return len;
}

/* The last span, when the next text in the current style can extend it. */
static struct chat_span *extendable(struct chat_text *t)
{
	struct chat_span *s = t->n ? &t->spans[t->n - 1] : NULL;

	if (s && s->type == CHAT_SPAN_TEXT && s->style == t->style &&
	    s->text + strlen(t->buf + s->text) + 1 == t->used)
		return s;
	return NULL;
}

/* Append a string of len bytes at the end of buf; returns its offset, or
 * -1 if nothing of it fits (cut is then set). With `whole`, a string that
 * does not fit entirely is not stored at all (an id, a URL). */
static long store(struct chat_text *t, const char *s, size_t len, bool whole)
{
	size_t room = t->used < CHAT_TEXT_MAX ? CHAT_TEXT_MAX - t->used : 0;
	size_t at = t->used;

	if (len + 1 > room) {
		t->cut = true;
		if (whole || room < 2)
			return -1;
		len = utf8_back(s, room - 1);
		if (len == 0)
			return -1;
	}
	memcpy(t->buf + at, s, len);
	t->buf[at + len] = '\0';
	t->used = at + len + 1;
	return (long)at;
}

static struct chat_span *new_span(struct chat_text *t, enum chat_span_type type)
{
	if (t->n == CHAT_TEXT_SPANS) {
		t->cut = true;
		return NULL;
	}
	struct chat_span *s = &t->spans[t->n];
	*s = (struct chat_span){.type = (unsigned char)type, .style = (unsigned char)t->style};
	return s;
}

static void add_text(struct chat_text *t, const char *s, size_t len)
{
	struct chat_span *last, *sp;
	long at;

	if (len == 0 || t->cut)
		return; /* after a cut, nothing more: the ellipsis marks the end */
	last = extendable(t);
	if (last) {
		t->used--; /* write over the NUL: the span grows */
		if (store(t, s, len, false) < 0)
			t->used++;
		return;
	}
	if (!(sp = new_span(t, CHAT_SPAN_TEXT)) || (at = store(t, s, len, false)) < 0)
		return;
	sp->text = (unsigned short)at;
	t->n++;
}

static void add_vf(struct chat_text *t, unsigned style, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void add_vf(struct chat_text *t, unsigned style, const char *fmt, va_list ap)
{
	char tmp[CHAT_TEXT_MAX];
	unsigned old = chat_text_style(t, t->style | style);
	int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
	bool too_long = w >= (int)sizeof tmp;

	if (too_long)
		w = (int)utf8_back(tmp, sizeof tmp - 1);
	if (w > 0)
		add_text(t, tmp, (size_t)w);
	if (too_long)
		t->cut = true;
	t->style = old;
}

void chat_text_printf(struct chat_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_vf(t, 0, fmt, ap);
	va_end(ap);
}

void chat_text_bold(struct chat_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_vf(t, CHAT_STYLE_BOLD, fmt, ap);
	va_end(ap);
}

void chat_text_code(struct chat_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_vf(t, CHAT_STYLE_CODE, fmt, ap);
	va_end(ap);
}

/* A span whose text must be whole (an id, a label with its URL). */
static struct chat_span *add_whole(struct chat_text *t, enum chat_span_type type, const char *s)
{
	struct chat_span *sp;
	long at;

	if (!s || !*s || t->cut)
		return NULL;
	if (!(sp = new_span(t, type)) || (at = store(t, s, strlen(s), true)) < 0)
		return NULL;
	sp->text = (unsigned short)at;
	t->n++;
	return sp;
}

void chat_text_user(struct chat_text *t, const char *user_id)
{
	(void)add_whole(t, CHAT_SPAN_USER, user_id);
}

void chat_text_channel(struct chat_text *t, const char *channel_id)
{
	(void)add_whole(t, CHAT_SPAN_CHANNEL, channel_id);
}

void chat_text_date(struct chat_text *t, int64_t epoch_s)
{
	char fallback[48];
	struct chat_span *sp = add_whole(t, CHAT_SPAN_DATE, chat_date_utc(epoch_s, fallback,
									 sizeof fallback));
	if (sp)
		sp->when = epoch_s;
}

void chat_text_link(struct chat_text *t, const char *url, const char *label)
{
	size_t used = t->used, n = t->n;
	struct chat_span *sp;
	long at;

	if (!url || !*url) {
		add_text(t, label ? label : "", label ? strlen(label) : 0);
		return;
	}
	sp = add_whole(t, CHAT_SPAN_LINK, label && *label ? label : url);
	if (!sp)
		return;
	at = store(t, url, strlen(url), true);
	if (at < 0) { /* label and URL go together or not at all */
		t->used = used;
		t->n = n;
		return;
	}
	sp->url = (unsigned short)at;
}

void chat_text_cat(struct chat_text *t, const struct chat_text *src)
{
	unsigned base = t->style;

	for (size_t i = 0; i < src->n; i++) {
		const struct chat_span *s = &src->spans[i];
		const char *text = chat_span_text(src, s);

		t->style = base | s->style;
		switch ((enum chat_span_type)s->type) {
		case CHAT_SPAN_TEXT: add_text(t, text, strlen(text)); break;
		case CHAT_SPAN_USER: chat_text_user(t, text); break;
		case CHAT_SPAN_CHANNEL: chat_text_channel(t, text); break;
		case CHAT_SPAN_DATE: chat_text_date(t, s->when); break;
		case CHAT_SPAN_LINK: chat_text_link(t, src->buf + s->url, text); break;
		}
	}
	t->style = base;
	if (src->cut)
		t->cut = true;
}

bool chat_text_empty(const struct chat_text *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->spans[i].type == CHAT_SPAN_DATE || *chat_span_text(t, &t->spans[i]))
			return false;
	return true;
}

const char *chat_date_utc(int64_t epoch_s, char *buf, size_t n)
{
	time_t tt = (time_t)epoch_s;
	struct tm tm;

	if (n == 0)
		return buf;
	if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(buf, n, "?");
	return buf;
}

size_t chat_text_plain(const struct chat_text *t, char *buf, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < t->n && o + 1 < n; i++) {
		const struct chat_span *s = &t->spans[i];
		const char *text = chat_span_text(t, s);
		int w = 0;

		switch ((enum chat_span_type)s->type) {
		case CHAT_SPAN_TEXT: w = snprintf(buf + o, n - o, "%s", text); break;
		case CHAT_SPAN_USER: w = snprintf(buf + o, n - o, "@%s", text); break;
		case CHAT_SPAN_CHANNEL: w = snprintf(buf + o, n - o, "#%s", text); break;
		case CHAT_SPAN_DATE: w = snprintf(buf + o, n - o, "%s", text); break;
		case CHAT_SPAN_LINK:
			w = snprintf(buf + o, n - o, "%s (%s)", text, t->buf + s->url);
			break;
		}
		if (w < 0)
			break;
		o = o + (size_t)w < n ? o + (size_t)w : n - 1;
	}
	if (t->cut && o + 1 < n)
		o += (size_t)snprintf(buf + o, n - o, "...");
	if (o + 1 >= n) /* cut by buf: end on a whole character */
		buf[o = utf8_back(buf, o)] = '\0';
	return o;
}
