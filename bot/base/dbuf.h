/* dbuf.h - a growable, NUL-terminated byte buffer with a hard cap (prefix
 * dbuf_), in the manner of curl's dynbuf.
 *
 *   struct dbuf b = {.max = 4096};   // or {0}: the default cap
 *   dbuf_puts(&b, "a");
 *   dbuf_printf(&b, "=%d", 3);
 *   char *s = dbuf_take(&b);          // "a=3", caller frees; NULL if it failed
 *
 * Failure is sticky: once an allocation failed (oom) or an append would pass
 * the cap (toobig), every later append is ignored and dbuf_take returns
 * NULL, so callers check once at the end. Not thread-safe; caller memory.
 */
#ifndef BOT_DBUF_H
#define BOT_DBUF_H

#include <stdbool.h>
#include <stddef.h>

/* The cap when max is 0. */
#define DBUF_DEFAULT_MAX ((size_t)16 << 20)

struct dbuf {
	char *p;          /* NUL-terminated once anything was appended (even "") */
	size_t len, cap;
	size_t max;       /* most bytes it may hold (without the NUL); 0 = DBUF_DEFAULT_MAX */
	bool oom;         /* an allocation failed */
	bool toobig;      /* an append would have passed max */
};

void dbuf_put(struct dbuf *b, const void *s, size_t n);
void dbuf_puts(struct dbuf *b, const char *s);
void dbuf_putc(struct dbuf *b, char c);
void dbuf_printf(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool dbuf_failed(const struct dbuf *b)
{
	return b->oom || b->toobig;
}
/* The string (the caller frees; "" when nothing was appended), or NULL
 * after a failure. The buffer is left empty and reusable either way. */
char *dbuf_take(struct dbuf *b);
/* Free and empty the buffer (keeps max). */
void dbuf_free(struct dbuf *b);

#endif
