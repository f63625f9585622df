/* duration.h - parse and print time spans: "10m", "1h30m", ISO 8601 "PT10M".
 *
 * Accepted forms (letters are case-insensitive):
 *
 *   short     one or more <integer><unit> parts, larger units first, each
 *             unit at most once: w, d, h, m, s, ms.
 *             "10m", "90s", "1h30m", "2d", "500ms", "1w2d".
 *   ISO 8601  P[nW][nD][T[nH][nM][nS]] as used by AWS SSM:
 *             "PT10M", "PT1H30M", "PT90S", "P1D", "P1DT2H".
 *
 * Rejected, each with a message saying what was expected: empty input, a
 * bare number (units are required), negative values, fractions ("1.5h",
 * "PT0.5S": write "1h30m" or "500ms" instead), ISO years and months (not a
 * fixed length), "P" or "PT" alone, a "T" with nothing after it, duplicate
 * or out-of-order units, spaces, any other character, and totals that
 * do not fit in 64 bits of milliseconds. Zero ("0s", "PT0S") is accepted;
 * callers that need a positive span check for it.
 */
#ifndef BOT_DURATION_H
#define BOT_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "bot/base/error.h"

/* Big enough for any duration_format() output (UINT64_MAX ms is
 * "213503982334d14h25m51s615ms", 27 characters). */
#define DURATION_FMT_MAX 32

/* Parse s into milliseconds. Returns 0 and sets *ms_out, or BOT_EINVAL
 * with err->msg naming the problem (the input is quoted, cut to 32 bytes);
 * *ms_out is left untouched on error. */
int duration_parse(const char *s, uint64_t *ms_out, struct bot_error *err);

/* Write ms in the short form, largest units first, zero parts left out:
 * 600000 -> "10m", 5400000 -> "1h30m", 183600000 -> "2d3h", 1500 ->
 * "1s500ms", 0 -> "0s". The output always parses back to the same value.
 * Returns 0, BOT_EINVAL if buf is NULL or n is 0, or BOT_ETOOBIG if n is
 * too small (buf then holds the whole parts that fit, NUL-terminated). */
int duration_format(uint64_t ms, char *buf, size_t n);

#endif
