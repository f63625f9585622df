/* chat.c - helpers shared by every chat backend and the core. */
#include "adapters/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *entity(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	default: return NULL;
	}
}

const char *chat_refusal_name(enum chat_refusal r)
{
	static const char *const names[] = {
#define X(code, name) [code] = name,
		CHAT_REFUSALS(X)
#undef X
	};
	return (unsigned)r < CHAT_REFUSED_COUNT ? names[r] : "?";
}

const char *chat_escape(char *buf, size_t n, const char *s)
{
	size_t o = 0, fit = 0; /* fit: end of the last whole character with room for "..." after */

	if (n == 0)
		return buf;
	for (; s && *s; s++) {
		const char *e = entity(*s);
		size_t need = e ? strlen(e) : 1;
		if (o + need + 1 > n) {
			/* cut visibly after a whole character: never inside an
			 * entity or a UTF-8 sequence */
			o = fit;
			if (o + 4 <= n) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (e)
			memcpy(buf + o, e, need);
		else
			buf[o] = *s;
		o += need;
		/* a character ends here unless a UTF-8 continuation byte follows */
		if (((unsigned char)s[1] & 0xc0) != 0x80 && o + 4 <= n)
			fit = o;
	}
	buf[o] = '\0';
	return buf;
}

char *chat_escape_dup(const char *s)
{
	size_t need = 1;

	for (const char *p = s; p && *p; p++)
		need += entity(*p) ? strlen(entity(*p)) : 1;
	char *out = malloc(need);
	if (out)
		chat_escape(out, need, s);
	return out;
}

const char *chat_link(struct chat *c, const char *channel, const char *ts, const char *label,
		      char *buf, size_t n)
{
	char url[512];

	if (c && c->ops->permalink && channel && ts &&
	    c->ops->permalink(c, channel, ts, url, sizeof url) == 0 && !strpbrk(url, "<>|"))
		snprintf(buf, n, "<%s|%s>", url, label);
	else
		snprintf(buf, n, "%s", label);
	return buf;
}
