/* error.h - the one error enum and the caller-supplied error detail.
 *
 * Codes come from a single X-macro list that pairs each code with its
 * message, so bot_strerror() and bot_err_name() can never drift from the
 * enum. 0 is success. Codes are never renumbered: new ones go at the end.
 */
#ifndef BOT_ERROR_H
#define BOT_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define BOT_ERRNO_MAP(X)                                        \
	X(OK,        0,  "success")                             \
	X(NOMEM,     1,  "out of memory")                       \
	X(INVAL,     2,  "invalid argument")                    \
	X(CONFIG,    3,  "configuration error")                 \
	X(IO,        4,  "input/output error")                  \
	X(PARSE,     5,  "malformed input")                     \
	X(NOTFOUND,  6,  "not found")                           \
	X(PERM,      7,  "not permitted")                       \
	X(STATE,     8,  "invalid state")                       \
	X(TIMEOUT,   9,  "timed out")                           \
	X(TRANSPORT, 10, "transport error")                     \
	X(PROTOCOL,  11, "protocol error")                      \
	X(REMOTE,    12, "remote service error")                \
	X(RATELIMIT, 13, "rate limited")                        \
	X(AUTH,      14, "authentication failed")               \
	X(TOOBIG,    15, "too large")                           \
	X(STORE,     16, "store error")                         \
	X(VERSION,   17, "unsupported version")                 \
	X(CANCELLED, 18, "cancelled")                           \
	X(DUPLICATE, 19, "duplicate")                           \
	X(TLS,       20, "TLS error")                           \
	X(CORRUPT,   21, "data corrupt")                        \
	X(DRYRUN,    22, "dry run: nothing was changed")          \
	X(BUSY,      23, "busy")

enum bot_err {
#define BOT_ERR_ENUM(name, num, msg) BOT_E##name = num,
	BOT_ERRNO_MAP(BOT_ERR_ENUM)
#undef BOT_ERR_ENUM
};

/* Human detail for an error, filled by the callee (jansson json_error_t
 * style). file/line/col are set when the error points into an input file
 * (config), else file is NULL and line/col are 0. */
struct bot_error {
	char msg[256];
	const char *file; /* borrowed; must outlive the error */
	int line, col;
};

/* Static message for a code; never NULL ("unknown error" for unknown). */
const char *bot_strerror(int code);
/* Symbolic name, e.g. "EINVAL"; never NULL. */
const char *bot_err_name(int code);

/* Set err->msg (if err is not NULL) and return code, so callers can write
 * `return bot_error_set(err, BOT_EINVAL, "bad %s", what);`. */
int bot_error_set(struct bot_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int bot_error_setv(struct bot_error *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Same, and also record a position in an input file. */
int bot_error_at(struct bot_error *err, int code, const char *file, int line,
		 int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void bot_error_clear(struct bot_error *err);

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

#define BOT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
