/* logfmt.c - see logfmt.h. */
#include "tests/fakes/logfmt.h"

#include <stdio.h>
#include <string.h>

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_' || c == '.';
}

static bool is_ctl(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 0x20 || u == 0x7f;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool fail(char *why, size_t n, size_t at, const char *what)
{
	snprintf(why, n, "at byte %zu: %s", at, what);
	return false;
}

bool logfmt_parse(const char *line, struct logfmt_line *out, char *why, size_t why_n)
{
	size_t i = 0, len = strlen(line);

	memset(out, 0, sizeof *out);
	if (len && line[len - 1] == '\n')
		len--;
	if (len == 0)
		return fail(why, why_n, 0, "empty line");
	while (i < len) {
		size_t k0 = i, v0;

		while (i < len && is_key_char(line[i]))
			i++;
		if (i == k0)
			return fail(why, why_n, i, "expected a key");
		if (i - k0 >= LOGFMT_KEY_MAX)
			return fail(why, why_n, k0, "key too long");
		if (i >= len || line[i] != '=')
			return fail(why, why_n, i, "key without '='");
		if (out->n == LOGFMT_MAX_PAIRS)
			return fail(why, why_n, k0, "too many pairs");
		memcpy(out->keys[out->n], line + k0, i - k0);
		out->keys[out->n][i - k0] = '\0';
		if (logfmt_has_key(out, out->keys[out->n]))
			return fail(why, why_n, k0, "duplicate key");
		v0 = ++i;
		if (i < len && line[i] == '"') {
			for (i++;; i++) {
				if (i >= len)
					return fail(why, why_n, v0, "unterminated quoted value");
				if (line[i] == '"')
					break;
				if (is_ctl(line[i]))
					return fail(why, why_n, i, "control character in a value");
				if (line[i] != '\\')
					continue;
				i++;
				if (i < len && (line[i] == '"' || line[i] == '\\' || line[i] == 'n' ||
						line[i] == 'r' || line[i] == 't'))
					continue;
				if (i + 2 < len && line[i] == 'x' && is_hex(line[i + 1]) &&
				    is_hex(line[i + 2])) {
					i += 2;
					continue;
				}
				return fail(why, why_n, i - 1, "bad escape in a quoted value");
			}
			i++; /* the closing quote */
		} else {
			while (i < len && line[i] != ' ' && line[i] != '=' && line[i] != '"' &&
			       !is_ctl(line[i]))
				i++;
			if (i == v0)
				return fail(why, why_n, v0, "empty bare value");
		}
		out->val_off[out->n] = v0;
		out->val_len[out->n] = i - v0;
		out->n++;
		if (i == len)
			break;
		if (line[i] != ' ')
			return fail(why, why_n, i, "expected a space after a value");
		i++;
		if (i == len)
			return fail(why, why_n, i, "trailing space");
	}
	return true;
}

bool logfmt_has_key(const struct logfmt_line *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->keys[i], key) == 0)
			return true;
	return false;
}

const char *logfmt_value(const char *line, const struct logfmt_line *l, const char *key,
			 char *buf, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return NULL;
	for (size_t k = 0; k < l->n; k++) {
		const char *v = line + l->val_off[k];
		size_t vl = l->val_len[k];
		bool quoted = vl >= 2 && v[0] == '"';

		if (strcmp(l->keys[k], key) != 0)
			continue;
		if (quoted) {
			v++;
			vl -= 2;
		}
		for (size_t i = 0; i < vl && o + 1 < n; i++) {
			/* \" and \\ only; other escapes are kept as written */
			if (quoted && v[i] == '\\' && i + 1 < vl && (v[i + 1] == '"' || v[i + 1] == '\\'))
				i++;
			buf[o++] = v[i];
		}
		buf[o] = '\0';
		return buf;
	}
	return NULL;
}
