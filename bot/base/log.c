/* log.c - logfmt lines with redaction (see log.h). */
#include "bot/base/log.h"
#include "bot/base/dbuf.h"
#include "bot/base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192
#define MAX_SECRETS 64
#define REDACTED "[REDACTED]"

static enum log_level cur_level = BOT_LOG_INFO;
static log_writer_fn writer;
static void *writer_ud;
static char *secrets[MAX_SECRETS];
static unsigned secret_refs[MAX_SECRETS]; /* adds not yet matched by a forget */
static size_t n_secrets;

static const char *const level_names[] = {
	[BOT_LOG_DEBUG] = "debug",
	[BOT_LOG_INFO] = "info",
	[BOT_LOG_WARN] = "warn",
	[BOT_LOG_ERROR] = "error",
	[BOT_LOG_OFF] = "off",
};

void log_set_level(enum log_level level) { cur_level = level; }
enum log_level log_get_level(void) { return cur_level; }
bool log_enabled(enum log_level level) { return level >= cur_level && level < BOT_LOG_OFF; }

const char *log_level_name(enum log_level level)
{
	return level <= BOT_LOG_OFF ? level_names[level] : "?";
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; s && i < BOT_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return BOT_EOK;
		}
	}
	return BOT_EINVAL;
}

void log_set_writer(log_writer_fn fn, void *ud)
{
	writer = fn;
	writer_ud = ud;
}

static void drop_secret(size_t i)
{
	free(secrets[i]);
	memmove(secrets + i, secrets + i + 1, (n_secrets - i - 1) * sizeof *secrets);
	memmove(secret_refs + i, secret_refs + i + 1, (n_secrets - i - 1) * sizeof *secret_refs);
	n_secrets--;
}

int log_add_secret(const char *secret)
{
	if (!secret || !*secret)
		return BOT_EOK;
	if (strlen(secret) < 4)
		return BOT_EINVAL;
	for (size_t i = 0; i < n_secrets; i++) {
		if (strcmp(secrets[i], secret) == 0) {
			secret_refs[i]++;
			return BOT_EOK;
		}
	}
	if (n_secrets == MAX_SECRETS) {
		/* Last resort: forget the oldest. Holders forget what they
		 * replace, so this only happens when one leaks. */
		drop_secret(0);
	}
	secrets[n_secrets] = strdup(secret);
	if (!secrets[n_secrets])
		return BOT_ENOMEM;
	secret_refs[n_secrets] = 1;
	n_secrets++;
	return BOT_EOK;
}

void log_forget_secret(const char *secret)
{
	for (size_t i = 0; secret && i < n_secrets; i++) {
		if (strcmp(secrets[i], secret) == 0) {
			if (--secret_refs[i] == 0)
				drop_secret(i);
			return;
		}
	}
}

void log_clear_secrets(void)
{
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	n_secrets = 0;
}

static bool is_tok_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* '\\' ends a value too: in a quoted logfmt value it starts an escape, and
 * swallowing it with the credential would turn an escaped quote (\") that
 * follows into a closing one, letting the rest of the value become keys. */
static bool is_value_end(char c)
{
	return c == '\0' || c == ' ' || c == '"' || c == '\\' || c == '\'' || c == '&' ||
	       c == '\n' || c == '\r' || c == '\t' || c == ',' || c == '>' ||
	       c == '|' || c == '}';
}

/* Length of a token-shaped credential starting at s, or 0. Patterns:
 * Slack tokens xox?-..., app tokens xapp-..., and "Bearer <value>". */
static size_t token_at(const char *s, size_t *keep)
{
	size_t n = 0;

	*keep = 0;
	if (strncmp(s, "xox", 3) == 0 && s[3] && s[3] != '-' && s[4] == '-')
		n = 5;
	else if (strncmp(s, "xapp-", 5) == 0)
		n = 5;
	else if (strncasecmp(s, "bearer ", 7) == 0) {
		*keep = 7;
		n = 7;
		while (s[n] && !is_value_end(s[n]))
			n++;
		return n > 7 ? n : 0;
	} else if (strncmp(s, "ticket=", 7) == 0) {
		*keep = 7;
		n = 7;
		while (s[n] && !is_value_end(s[n]))
			n++;
		return n > 7 ? n : 0;
	} else if (strncmp(s, "hooks.slack.com/", 16) == 0) {
		*keep = 16;
		n = 16;
		while (s[n] && !is_value_end(s[n]))
			n++;
		return n > 16 ? n : 0;
	} else {
		return 0;
	}
	while (s[n] && is_tok_char(s[n]))
		n++;
	return n;
}

char *log_redact(const char *s)
{
	struct dbuf b = {0};

	dbuf_put(&b, "", 0);
	for (size_t i = 0; s[i];) {
		size_t keep, n = 0;
		/* Registered secrets first: they may have any shape. */
		for (size_t k = 0; k < n_secrets; k++) {
			size_t sl = strlen(secrets[k]);
			if (strncmp(s + i, secrets[k], sl) == 0 && sl > n)
				n = sl;
		}
		if (n) {
			dbuf_put(&b, REDACTED, sizeof REDACTED - 1);
			i += n;
			continue;
		}
		/* Token shapes only start at a word boundary. */
		if ((i == 0 || !is_tok_char(s[i - 1])) && (n = token_at(s + i, &keep))) {
			dbuf_put(&b, s + i, keep);
			dbuf_put(&b, REDACTED, sizeof REDACTED - 1);
			i += n;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			dbuf_put(&b, "\\n", 2);
		else if (c == '\r')
			dbuf_put(&b, "\\r", 2);
		else if (c == '\t')
			dbuf_put(&b, "\\t", 2);
		else if (c < 0x20 || c == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\x%02x", c);
			dbuf_put(&b, esc, 4);
		} else {
			dbuf_put(&b, (const char *)&c, 1);
		}
		i++;
	}
	if (dbuf_failed(&b)) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == ' ' || c == '=' || c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

const char *log_q(char *buf, size_t n, const char *s)
{
	size_t o = 0;

	if (n == 0)
		return "";
	if (!s)
		s = "-";
	if (!needs_quotes(s)) {
		snprintf(buf, n, "%s", s);
		if (strlen(s) >= n && n > 4)
			memcpy(buf + n - 4, "...", 4);
		return buf;
	}
	if (n < 8) {
		/* No room for any of the value: an empty one, never a lone '"'. */
		snprintf(buf, n, "%s", n >= 3 ? "\"\"" : "");
		return buf;
	}
	buf[o++] = '"';
	for (const char *p = s; *p; p++) {
		size_t need = (*p == '"' || *p == '\\') ? 2 : 1;
		if (o + need + 5 > n) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 2)
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Where to cut a line so that it keeps at most max bytes and still parses
 * as logfmt: never inside a key, never between a '\\' and the character it
 * escapes, never inside a UTF-8 character. *open is set when the cut is
 * inside a quoted value; the caller closes the quotes. line is longer than
 * max. */
static size_t cut_at(const char *line, size_t max, bool *open)
{
	bool in_q = false, in_key = true;
	size_t i = 0, pair = 0;

	while (i < max) {
		char c = line[i];
		if (in_q && c == '\\') {
			if (i + 1 >= max)
				break;
			i += 2;
			continue;
		}
		if (c == '"') {
			in_q = !in_q;
		} else if (!in_q && c == ' ') {
			pair = i;
			in_key = true;
		} else if (!in_q && c == '=') {
			in_key = false;
		}
		i++;
	}
	while (i > 0 && ((unsigned char)line[i] & 0xc0) == 0x80)
		i--;
	if (in_key || (!in_q && i > 0 && line[i - 1] == '=')) {
		/* Half a key, or a key and no value yet: drop the pair. */
		i = pair;
		in_q = false;
	}
	*open = in_q;
	return i;
}

static void default_write(const char *line, size_t len)
{
	/* One write() per line keeps lines whole when stderr is shared. */
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, line, len);
		if (w <= 0)
			return; /* nowhere left to report a failed log write */
		line += w;
		len -= (size_t)w;
	}
}

void log_emit(enum log_level level, const char *event, const char *fmt, ...)
{
	char head[96], *body = NULL, *full = NULL, *safe = NULL;
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(head, sizeof head, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	body = malloc((size_t)n + 1);
	if (!body)
		goto out;
	va_start(ap, fmt);
	vsnprintf(body, (size_t)n + 1, fmt, ap);
	va_end(ap);

	n = snprintf(NULL, 0, "%s%s%s%s", head, event, *body ? " " : "", body);
	full = malloc((size_t)n + 1);
	if (!full)
		goto out;
	snprintf(full, (size_t)n + 1, "%s%s%s%s", head, event, *body ? " " : "", body);

	/* Redact the whole line before any truncation, so a cut can never
	 * leave half a secret behind. */
	safe = log_redact(full);
	if (!safe)
		goto out;
	size_t len = strlen(safe);
	if (len > LINE_MAX_BYTES - 2) {
		static const char cut[] = " truncated=true";
		bool open;
		/* Room for the marker and a closing quote. */
		len = cut_at(safe, LINE_MAX_BYTES - 2 - (sizeof cut - 1) - 1, &open);
		if (open)
			safe[len++] = '"';
		memcpy(safe + len, cut, sizeof cut);
		len += sizeof cut - 1;
	}
	char *line = realloc(safe, len + 2);
	if (!line)
		goto out;
	safe = line;
	safe[len++] = '\n';
	safe[len] = '\0';
	if (writer)
		writer(writer_ud, safe, len);
	else
		default_write(safe, len);
out:
	free(body);
	free(full);
	free(safe);
}
