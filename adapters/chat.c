/* chat.c - helpers shared by every chat backend and the core. */
#include "adapters/chat.h"

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

const char *chat_escape(char *buf, size_t n, const char *s)
{
	size_t o = 0;

	if (n == 0)
		return buf;
	for (; s && *s; s++) {
		const char *e = entity(*s);
		size_t need = e ? strlen(e) : 1;
		if (o + need + 1 > n) {
			/* cut visibly; keep room for "..." */
			while (o > 0 && o + 4 > n)
				o--;
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
