/* duration.c - parse and print time spans (see duration.h). */
#include "bot/base/duration.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define HINT "expected a duration like 10m, 90s, 1h30m or ISO 8601 PT10M"

/* Units from largest to smallest; a part's index must grow along a string. */
enum unit { U_W, U_D, U_H, U_M, U_S, U_MS, U__N };

static const struct {
	const char *name;   /* short-form suffix, and what duration_format prints */
	uint64_t ms;
} units[U__N] = {
	[U_W] = {"w", 7ULL * 24 * 3600 * 1000},
	[U_D] = {"d", 24ULL * 3600 * 1000},
	[U_H] = {"h", 3600ULL * 1000},
	[U_M] = {"m", 60ULL * 1000},
	[U_S] = {"s", 1000},
	[U_MS] = {"ms", 1},
};

/* State shared by the two grammars. */
struct dparse {
	const char *s;      /* the whole input, for messages */
	uint64_t total;
	int last;           /* index of the previous unit, -1 at start */
	struct bot_error *err;
};

static int fail(struct dparse *d, const char *what)
{
	return bot_error_set(d->err, BOT_EINVAL, "\"%.32s%s\": %s; " HINT, d->s,
			     strlen(d->s) > 32 ? "..." : "", what);
}

/* Read the digits at *pp into *v. Returns 0, or an error if there are no
 * digits, a fraction follows, or the number overflows. */
static int number(struct dparse *d, const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (*p == '-')
		return fail(d, "negative durations are not allowed");
	if (isspace((unsigned char)*p))
		return fail(d, "spaces are not allowed");
	if (!isdigit((unsigned char)*p)) {
		char what[32];
		snprintf(what, sizeof what, "unexpected '%c'", isprint((unsigned char)*p) ? *p : '?');
		return fail(d, what);
	}
	for (; isdigit((unsigned char)*p); p++) {
		unsigned dig = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - dig) / 10)
			return fail(d, "too large");
		n = n * 10 + dig;
	}
	if (*p == '.' || *p == ',')
		return fail(d, "fractions are not supported (write 1h30m or 500ms instead)");
	*v = n;
	*pp = p;
	return BOT_EOK;
}

/* Add n of unit u, checking order, duplicates and overflow. */
static int add_part(struct dparse *d, uint64_t n, enum unit u)
{
	char what[96];

	if ((int)u == d->last) {
		snprintf(what, sizeof what, "unit '%s' given twice", units[u].name);
		return fail(d, what);
	}
	if ((int)u < d->last)
		return fail(d, "units out of order (larger units come first, as in 1h30m)");
	if (n > (UINT64_MAX - d->total) / units[u].ms)
		return fail(d, "too large");
	d->total += n * units[u].ms;
	d->last = (int)u;
	return BOT_EOK;
}

/* "1h30m", "500ms", "2d". */
static int parse_short(struct dparse *d, const char *p)
{
	int rc = BOT_EOK;
	uint64_t n;
	enum unit u;
	char what[96];
	bool first = true;

	while (*p) {
		rc = number(d, &p, &n);
		if (rc)
			goto out;
		if (!*p) {
			rc = fail(d, first ? "a unit is required (s, m, h, d, w or ms)"
				  : "the last number has no unit");
			goto out;
		}
		switch (tolower((unsigned char)*p)) {
		case 'w': u = U_W; break;
		case 'd': u = U_D; break;
		case 'h': u = U_H; break;
		case 's': u = U_S; break;
		case 'm':
			u = tolower((unsigned char)p[1]) == 's' ? U_MS : U_M;
			break;
		default:
			snprintf(what, sizeof what, "unknown unit '%c' (use s, m, h, d, w or ms)",
				 isprint((unsigned char)*p) ? *p : '?');
			rc = fail(d, what);
			goto out;
		}
		p += strlen(units[u].name);
		rc = add_part(d, n, u);
		if (rc)
			goto out;
		first = false;
	}
out:
	return rc;
}

/* After the 'P': "T10M", "1DT2H", "2W". */
static int parse_iso(struct dparse *d, const char *p)
{
	int rc = BOT_EOK;
	bool in_time = false, any = false;
	uint64_t n;
	enum unit u;

	if (!*p) {
		rc = fail(d, "\"P\" alone is not a duration (write PT10M or P1D)");
		goto out;
	}
	while (*p) {
		if (*p == 'T' || *p == 't') {
			if (in_time) {
				rc = fail(d, "'T' given twice");
				goto out;
			}
			in_time = true;
			p++;
			if (!*p) {
				rc = fail(d, "'T' must be followed by hours, minutes or seconds (PT10M)");
				goto out;
			}
			continue;
		}
		rc = number(d, &p, &n);
		if (rc)
			goto out;
		switch (toupper((unsigned char)*p)) {
		case 'Y':
			rc = fail(d, "years are not a fixed length; use days (P365D)");
			goto out;
		case 'W': u = U_W; break;
		case 'D': u = U_D; break;
		case 'H': u = U_H; break;
		case 'S': u = U_S; break;
		case 'M':
			if (!in_time) {
				rc = fail(d, "months are not a fixed length; use days, or PT..M for minutes");
				goto out;
			}
			u = U_M;
			break;
		case '\0':
			rc = fail(d, in_time ? "the last number needs H, M or S"
				  : "the last number needs D or W (or a T before hours, minutes, seconds)");
			goto out;
		default:
			rc = fail(d, "unknown ISO 8601 designator (use W, D, then T and H, M, S)");
			goto out;
		}
		/* Days and weeks belong before the T; hours and seconds after. */
		if ((u <= U_D) == in_time) {
			rc = fail(d, in_time ? "W and D go before the T (P1DT2H)"
				  : "H, M and S go after a T (PT2H)");
			goto out;
		}
		p++;
		rc = add_part(d, n, u);
		if (rc)
			goto out;
		any = true;
	}
	if (!any)
		rc = fail(d, "no time given after \"PT\" (write PT10M)");
out:
	return rc;
}

int duration_parse(const char *s, uint64_t *ms_out, struct bot_error *err)
{
	struct dparse d = {.s = s ? s : "", .total = 0, .last = -1, .err = err};
	int rc;

	if (!s || !*s) {
		rc = bot_error_set(err, BOT_EINVAL, "empty duration; " HINT);
		goto out;
	}
	if (*s == 'P' || *s == 'p')
		rc = parse_iso(&d, s + 1);
	else
		rc = parse_short(&d, s);
	if (rc == BOT_EOK && ms_out)
		*ms_out = d.total;
out:
	return rc;
}

int duration_format(uint64_t ms, char *buf, size_t n)
{
	size_t o = 0;
	int rc = BOT_EOK;

	if (!buf || n == 0)
		return BOT_EINVAL;
	buf[0] = '\0';
	if (ms == 0) {
		if (snprintf(buf, n, "0s") >= (int)n)
			rc = BOT_ETOOBIG;
		goto out;
	}
	/* Weeks are left out on purpose: "14d" reads better than "2w". */
	for (int u = U_D; u < U__N && ms; u++) {
		uint64_t q = ms / units[u].ms;
		int w;

		if (!q)
			continue;
		ms %= units[u].ms;
		w = snprintf(buf + o, n - o, "%llu%s", (unsigned long long)q, units[u].name);
		if (w < 0 || (size_t)w >= n - o) {
			buf[o] = '\0'; /* keep only whole parts */
			rc = BOT_ETOOBIG;
			goto out;
		}
		o += (size_t)w;
	}
out:
	return rc;
}
