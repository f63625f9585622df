/* logfmt.h - a strict logfmt reader for tests (prefix logfmt_): proves
 * that a log line is one well-formed event and that no value added a key.
 *
 * A line is pairs separated by single spaces, optionally ending in '\n':
 *   key    [a-z_.]+
 *   value  bare: one or more bytes, none of them ' ', '=', '"' or a control
 *          character; or quoted: "..." where '\' escapes '"', '\' (what
 *          log_q writes) or n, r, t, xHH (what log_redact writes for control
 *          characters), and no raw '"' or control character appears.
 * A key appearing twice is an error: an injected key may repeat a real one.
 * Anything else (a key without '=', an empty bare value, a stray quote, an
 * unfinished quote, two spaces) is an error.
 */
#ifndef TESTS_FAKES_LOGFMT_H
#define TESTS_FAKES_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>

#define LOGFMT_MAX_PAIRS 64
#define LOGFMT_KEY_MAX 48

struct logfmt_line {
	size_t n;
	char keys[LOGFMT_MAX_PAIRS][LOGFMT_KEY_MAX];
	/* Where each value starts in the line, and its length as written
	 * (quotes and escapes included). */
	size_t val_off[LOGFMT_MAX_PAIRS], val_len[LOGFMT_MAX_PAIRS];
};

/* Parse line into out. Returns true, or false with a reason (and the byte
 * offset where it went wrong) in why. */
bool logfmt_parse(const char *line, struct logfmt_line *out, char *why, size_t why_n);
/* Does a parsed line have this key? */
bool logfmt_has_key(const struct logfmt_line *l, const char *key);
/* The value of key, unquoted and unescaped, into buf; NULL if absent. */
const char *logfmt_value(const char *line, const struct logfmt_line *l, const char *key,
			 char *buf, size_t n);

#endif
