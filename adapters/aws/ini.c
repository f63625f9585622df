/* ini.c - shared config/credentials files (see ini.h). */
#include "adapters/aws/ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INI_MAX_FILE ((size_t)1 << 20)

struct entry {
	char *section, *key, *value;
};

struct aws_ini {
	struct entry *v;
	size_t n, cap;
	char **sections;
	size_t n_sections, cap_sections;
};

static char *trim_dup(const char *s, size_t n, bool lower)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
	d[n] = '\0';
	return d;
}

static int add_section(struct aws_ini *ini, char *name)
{
	if (ini->n_sections == ini->cap_sections) {
		size_t cap = ini->cap_sections ? ini->cap_sections * 2 : 8;
		char **nv = realloc(ini->sections, cap * sizeof *nv);
		if (!nv)
			return BOT_ENOMEM;
		ini->sections = nv;
		ini->cap_sections = cap;
	}
	ini->sections[ini->n_sections++] = name;
	return BOT_EOK;
}

static int add_entry(struct aws_ini *ini, const char *section, char *key, char *value)
{
	char *sec = strdup(section);

	if (!sec || ini->n == ini->cap) {
		size_t cap = ini->cap ? ini->cap * 2 : 16;
		struct entry *nv = sec ? realloc(ini->v, cap * sizeof *nv) : NULL;
		if (!nv) {
			free(sec);
			free(key);
			free(value);
			return BOT_ENOMEM;
		}
		ini->v = nv;
		ini->cap = cap;
	}
	ini->v[ini->n++] = (struct entry){ sec, key, value };
	return BOT_EOK;
}

int aws_ini_parse(const char *text, size_t len, struct aws_ini **out)
{
	struct aws_ini *ini = calloc(1, sizeof *ini);
	const char *p = text, *end = text + len;
	char *section = NULL, *parent = NULL; /* parent key for indented lines */
	int rc = BOT_EOK;

	*out = NULL;
	if (!ini)
		return BOT_ENOMEM;
	while (p < end && rc == BOT_EOK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *s = p;
		bool indented = s < le && (*s == ' ' || *s == '\t');

		p = nl ? nl + 1 : end;
		while (s < le && isspace((unsigned char)*s))
			s++;
		if (s == le || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(le - s));
			free(parent);
			parent = NULL;
			if (!close)
				continue; /* malformed header: ignore the line */
			free(section);
			section = trim_dup(s + 1, (size_t)(close - s - 1), false);
			char *copy = section ? strdup(section) : NULL;
			if (!copy || add_section(ini, copy)) {
				free(copy);
				rc = BOT_ENOMEM;
				break;
			}
			continue;
		}
		const char *eq = memchr(s, '=', (size_t)(le - s));
		if (!eq || !section)
			continue;
		char *key = trim_dup(s, (size_t)(eq - s), true);
		char *value = trim_dup(eq + 1, (size_t)(le - eq - 1), false);
		if (!key || !value) {
			free(key);
			free(value);
			rc = BOT_ENOMEM;
			break;
		}
		if (indented && parent) {
			size_t l = strlen(parent) + strlen(key) + 2;
			char *full = malloc(l);
			if (!full) {
				free(key);
				free(value);
				rc = BOT_ENOMEM;
				break;
			}
			snprintf(full, l, "%s.%s", parent, key);
			free(key);
			key = full;
		} else {
			free(parent);
			parent = value[0] ? NULL : strdup(key);
		}
		rc = add_entry(ini, section, key, value);
	}
	free(section);
	free(parent);
	if (rc) {
		aws_ini_free(ini);
		return rc;
	}
	*out = ini;
	return BOT_EOK;
}

int aws_ini_load(const char *path, struct aws_ini **out, struct bot_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR)
			return aws_ini_parse("", 0, out);
		return bot_error_set(err, BOT_EIO, "cannot read %s: %s", path, strerror(errno));
	}
	buf = malloc(INI_MAX_FILE);
	if (!buf) {
		fclose(f);
		return bot_error_set(err, BOT_ENOMEM, "out of memory reading %s", path);
	}
	n = fread(buf, 1, INI_MAX_FILE, f);
	if (ferror(f) || n == INI_MAX_FILE) {
		rc = bot_error_set(err, BOT_EIO, "cannot read %s (error or over 1 MiB)", path);
	} else {
		rc = aws_ini_parse(buf, n, out);
		if (rc)
			bot_error_set(err, rc, "out of memory parsing %s", path);
	}
	fclose(f);
	free(buf);
	return rc;
}

void aws_ini_free(struct aws_ini *ini)
{
	if (!ini)
		return;
	for (size_t i = 0; i < ini->n; i++) {
		free(ini->v[i].section);
		free(ini->v[i].key);
		free(ini->v[i].value);
	}
	for (size_t i = 0; i < ini->n_sections; i++)
		free(ini->sections[i]);
	free(ini->sections);
	free(ini->v);
	free(ini);
}

const char *aws_ini_get(const struct aws_ini *ini, const char *section, const char *key)
{
	const char *found = NULL;

	for (size_t i = 0; ini && section && key && i < ini->n; i++)
		if (strcmp(ini->v[i].section, section) == 0 && strcmp(ini->v[i].key, key) == 0)
			found = ini->v[i].value;
	return found;
}

int aws_ini_has_section(const struct aws_ini *ini, const char *section)
{
	for (size_t i = 0; ini && section && i < ini->n_sections; i++)
		if (strcmp(ini->sections[i], section) == 0)
			return 1;
	return 0;
}
