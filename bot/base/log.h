/* log.h - one line per event, logfmt, to stderr, with a redaction layer.
 *
 *   ts=2026-11-24T09:00:00.123Z level=info event=slack.connected url=wss://...
 *
 * Every line passes through log_redact() before it is written: registered
 * secret values (tokens, keys read from env or files) and anything shaped
 * like a Slack token, a Bearer credential, a response_url or a websocket
 * ticket are replaced by [REDACTED]. Control characters are escaped, so a
 * user-supplied value can never split one event over two lines, and every
 * value that comes from outside is quoted with LOG_Q() (below), so it can
 * never add a key to the line either.
 */
#ifndef BOT_LOG_H
#define BOT_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	BOT_LOG_DEBUG = 0,
	BOT_LOG_INFO,
	BOT_LOG_WARN,
	BOT_LOG_ERROR,
	BOT_LOG_OFF,
};

/* Receives one finished, redacted line (ending in '\n'); len excludes NUL. */
typedef void (*log_writer_fn)(void *ud, const char *line, size_t len);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);
/* "debug", "info", "warn", "error", "off"; returns 0 or BOT_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* NULL restores the default writer (stderr). */
void log_set_writer(log_writer_fn fn, void *ud);

/* Register a secret value to be redacted from every line (copied). Values
 * shorter than 4 bytes are refused with BOT_EINVAL (they would redact common
 * words); empty/NULL is ignored and returns 0.
 *
 * Registrations are counted: a value added twice (two credential providers
 * holding the same key) stays redacted until it is forgotten twice. Whoever
 * replaces a secret (a refreshed token, rotated keys) forgets the old one:
 * the registry holds 64 values and, when full, drops the oldest, which is
 * usually a long-lived one such as a Slack token. */
int log_add_secret(const char *secret);
/* Undo one log_add_secret of this value; unknown values are ignored. */
void log_forget_secret(const char *secret);
void log_clear_secrets(void);

void log_emit(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) \
	do { if (log_enabled(BOT_LOG_DEBUG)) log_emit(BOT_LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...)  log_emit(BOT_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_emit(BOT_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(BOT_LOG_ERROR, ev, __VA_ARGS__)

/* Redact and escape s (NUL-terminated). Returns a new string the caller
 * frees, or NULL on allocation failure. Exposed for tests and for anything
 * that echoes diagnostic text (e.g. --check-config). */
char *log_redact(const char *s);

/* Quote a value for logfmt if needed, into buf, and return buf.
 *
 *   plain      -> plain             NULL -> -
 *   a b        -> "a b"             ""   -> ""
 *   x admin=1  -> "x admin=1"       a"b  -> "a\"b"       a\b -> "a\\b"
 *
 * A value is quoted when it is empty or holds a space, '=', '"', '\\' or a
 * control character; inside the quotes '"' and '\\' are escaped (control
 * characters are escaped later, for the whole line, by log_redact()). So a
 * value, whatever it holds, stays one value: it can never add a key to the
 * line. Always NUL-terminates; a value too long is cut and ends in "..."
 * (inside the quotes when quoted). Returns buf, or a string literal when
 * n == 0. */
const char *log_q(char *buf, size_t n, const char *s);

/* Quote at the call site. Every value in a log line that our own code did
 * not pick from a fixed set (numbers, enum and table names, bot_err_name())
 * goes through LOG_Q: anything from the network (Slack, AWS, HTTP), the
 * config file, the environment, the filesystem, a user, or an error message
 * that may repeat one of those.
 *
 *   log_info("slack.event", "envelope=%s user=%s", LOG_Q(f->envelope_id),
 *            LOG_Q(ev->user));
 *
 * The buffer is a compound literal (C11 6.5.2.5): an unnamed char array that
 * lives until the end of the enclosing block, so the result is valid for the
 * whole log_* call, including inside the do/while of log_debug. Each use has
 * its own buffer; don't keep the pointer past the statement. A value that
 * does not fit in LOG_Q_MAX bytes, quotes and escapes included, is cut
 * ("..."); 320 holds a whole struct bot_error message, quoted. */
#define LOG_Q_MAX 320
#define LOG_Q(s) log_q((char[LOG_Q_MAX]){0}, LOG_Q_MAX, (s))

#endif
