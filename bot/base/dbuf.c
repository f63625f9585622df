/* dbuf.c - a growable byte buffer with a hard cap (see dbuf.h). */
#include "bot/base/dbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dbuf_put(struct dbuf *b, const void *s, size_t n)
{
	size_t max = b->max ? b->max : DBUF_DEFAULT_MAX;

	if (dbuf_failed(b))
		return;
	if (n > max - b->len) {
		b->toobig = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void dbuf_puts(struct dbuf *b, const char *s)
{
	dbuf_put(b, s, strlen(s));
}

void dbuf_putc(struct dbuf *b, char c)
{
	dbuf_put(b, &c, 1);
}

void dbuf_printf(struct dbuf *b, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	if (dbuf_failed(b))
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		dbuf_put(b, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	dbuf_put(b, big, (size_t)n);
	free(big);
}

char *dbuf_take(struct dbuf *b)
{
	char *p = NULL;

	if (!dbuf_failed(b)) {
		dbuf_put(b, "", 0); /* "" rather than NULL when nothing was appended */
		if (!dbuf_failed(b)) {
			p = b->p;
			b->p = NULL;
		}
	}
	dbuf_free(b);
	return p;
}

void dbuf_free(struct dbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = b->toobig = false;
}
