/* secrets.c - what must not be shown: ${VAR} expansion and the Slack tokens.
 *
 * Any scalar may take text from the environment (${VAR}, ${VAR:-default});
 * such a value may be a secret put in the wrong key, so a message names the
 * variables it came from instead of quoting it (config__shown). The tokens
 * never appear in the file: each comes from an environment variable or the
 * first line of a file (which must be as private as the config file), is
 * trimmed and checked for shape, registered with the log redactor, and
 * wiped when freed. No message here quotes a token.
 */
#include "config/config.h"
#include "config/config_int.h"
#include "bot/base/dbuf.h"
#include "bot/base/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SECRET_FILE_MAX (64 * 1024)   /* token file size cap */

/* ------------------------------------------------------------------ */
/* ${VAR} expansion                                                    */

/* Note in env (ENV_NAMES_LEN bytes) that a value took text from var. The
 * first name always fits (cut if need be): env must not stay empty. */
static void note_env(char *env, const char *var)
{
	size_t o = strlen(env), vl = strlen(var);

	if (o == 0 && vl > ENV_NAMES_LEN - 8)
		vl = ENV_NAMES_LEN - 8;
	if (o + vl + 5 >= ENV_NAMES_LEN) /* the names before say enough */
		return;
	if (o) {
		memcpy(env + o, ", ", 2);
		o += 2;
	}
	memcpy(env + o, "${", 2);
	memcpy(env + o + 2, var, vl);
	memcpy(env + o + 2 + vl, "}", 2);
}

/* Expand ${VAR}, ${VAR:-default} and $$ in raw. A '$' before anything else
 * is kept as is. As in the shell, ":-" also applies when VAR is set but
 * empty; the default text is used literally (no nesting). The variables
 * whose values were used are named in env (ENV_NAMES_LEN bytes, "" if
 * none). Returns a new string, or NULL after reporting an error (ld->oom
 * on allocation failure). */
char *config__expand(struct loader *ld, const yaml_node_t *n, const char *path, const char *raw,
		     char *env)
{
	struct dbuf b = {0};
	char *res = NULL;
	const char *p = raw;

	env[0] = '\0';
	if (!strchr(raw, '$')) /* most values: an exact-size copy, not a dbuf */
		return config__xstrdup(ld, raw);
	dbuf_put(&b, "", 0);
	while (*p) {
		const char *dollar = strchr(p, '$'), *name, *name_end, *q, *def = NULL, *val;
		size_t dlen = 0;
		char var[128];

		if (!dollar) {
			dbuf_put(&b, p, strlen(p));
			break;
		}
		dbuf_put(&b, p, (size_t)(dollar - p));
		p = dollar;
		if (p[1] != '{') {
			dbuf_put(&b, "$", 1);
			p += p[1] == '$' ? 2 : 1;
			continue;
		}
		name = name_end = p + 2;
		if (isalpha((unsigned char)*name_end) || *name_end == '_')
			while (isalnum((unsigned char)*name_end) || *name_end == '_')
				name_end++;
		q = name_end;
		if (q > name && q[0] == ':' && q[1] == '-') {
			def = q + 2;
			q = strchr(def, '}');
			if (q)
				dlen = (size_t)(q - def);
			else
				q = def + strlen(def);
		}
		if (name_end == name || *q != '}') {
			config__add_err(ld, n, "%s: malformed \"${\": expected ${NAME} or "
					"${NAME:-default} (write $$ for a literal $)", path);
			goto out;
		}
		if ((size_t)(name_end - name) >= sizeof var) {
			config__add_err(ld, n, "%s: environment variable name is too long", path);
			goto out;
		}
		snprintf(var, sizeof var, "%.*s", (int)(name_end - name), name);
		val = getenv(var);
		if (val && *val) {
			dbuf_put(&b, val, strlen(val));
			note_env(env, var);
		} else if (def) {
			dbuf_put(&b, def, dlen);
		} else if (!val) {
			config__add_err(ld, n, "%s: environment variable %s is not set "
					"(write ${%s:-default} to give a default)", path, var, var);
			goto out;
		}
		p = q + 1;
	}
	if (dbuf_failed(&b)) {
		ld->oom = true;
		goto out;
	}
	res = b.p;
	b.p = NULL;
out:
	free(b.p);
	return res;
}

/* ------------------------------------------------------------------ */
/* Values in messages                                                  */

/* Value s as an error message may show it, in buf (SHOWN_LEN bytes):
 * quoted, or, when any of it came from the environment (env not empty),
 * only the variables' names: a secret put in the wrong key, such as
 * region: ${AWS_SECRET_ACCESS_KEY}, must not be printed. */
const char *config__shown(char *buf, const char *s, const char *env)
{
	if (env && *env)
		snprintf(buf, SHOWN_LEN, "a value from %s (not shown)", env);
	else
		snprintf(buf, SHOWN_LEN, "\"%.64s\"", s);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Tokens                                                              */

/* Trim the token in s (length *len) of trailing whitespace, after cutting
 * it to its first line if first_line, and check what is left: a Slack
 * token is one word of printable ASCII. Returns false with the reason in
 * why (n bytes). */
bool config__token_clean(char *s, size_t *len, bool first_line, char *why, size_t n)
{
	size_t l = first_line ? strcspn(s, "\n") : *len;

	if (l > *len)
		l = *len;
	while (l > 0 && isspace((unsigned char)s[l - 1]))
		l--;
	s[l] = '\0';
	*len = l;
	if (l == 0) {
		snprintf(why, n, "the token is empty");
		return false;
	}
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > ' ' && c < 0x7f)
			continue;
		snprintf(why, n, "the token has a %s at byte %zu; a token is one word of printable "
			 "ASCII", c == ' ' || c == '\t' ? "space or tab" : c < ' ' || c == 0x7f
			 ? "control character" : "non-ASCII byte", i + 1);
		return false;
	}
	return true;
}

/* Read a token file: the first line is the token (see config__token_clean). name
 * is the file as messages show it. Returns 0, or a reason in why. */
static int read_secret_file(const char *path, const char *name, char **out, char *why,
			    size_t n)
{
	char *buf = NULL, bad[128];
	size_t len = 0;
	int rc = config__read_private(path, name, SECRET_FILE_MAX, &buf, &len, why, n);

	*out = NULL;
	if (rc)
		goto out;
	rc = BOT_ECONFIG;
	if (len > SECRET_FILE_MAX) {
		snprintf(why, n, "the file is larger than %d bytes", SECRET_FILE_MAX);
		goto out;
	}
	if (len == 0) {
		snprintf(why, n, "the file is empty");
		goto out;
	}
	if (!config__token_clean(buf, &len, true, bad, sizeof bad)) {
		snprintf(why, n, "%s (only the first line is read)", bad);
		goto out;
	}
	*out = strdup(buf);
	rc = *out ? BOT_EOK : BOT_ENOMEM;
	if (!*out)
		snprintf(why, n, "out of memory");
out:
	if (buf) {
		explicit_bzero(buf, SECRET_FILE_MAX + 2); /* all of it: see config__read_private */
		free(buf);
	}
	return rc;
}

/* Fill a token from its source. what is "app_token"/"bot_token", def_env
 * the default variable, prefix the shape, at the node errors point at. */
void config__load_secret(struct loader *ld, struct config_secret *sec, const char *what,
			 const char *def_env, const char *prefix, const char *kind,
			 const yaml_node_t *at)
{
	bool need = ld->flags & CONFIG_NEED_SLACK;
	char why[PATH_LEN + 128], src[PATH_LEN];
	const char *ref;
	size_t len;
	bool clean;

	if (sec->source == CONFIG_SECRET_NONE) {
		sec->source = CONFIG_SECRET_ENV;
		sec->ref = config__xstrdup(ld, def_env);
		if (!sec->ref)
			return;
	}
	/* A name or path that came from the environment is not printed. */
	ref = sec->shown_ ? sec->shown_ : sec->ref;
	if (sec->source == CONFIG_SECRET_ENV) {
		const char *v = getenv(sec->ref);
		snprintf(src, sizeof src, "%s", ref);
		if (v && *v)
			sec->value = config__xstrdup(ld, v);
		else if (need)
			config__add_err(ld, at, "slack.%s: environment variable %s is not set "
					"or empty (set it, or name a file with slack.%s_file)",
					what, ref, what);
	} else {
		snprintf(src, sizeof src, "the token in %.256s", ref);
		int rc = read_secret_file(sec->ref, ref, &sec->value, why, sizeof why);
		if (rc == BOT_ENOMEM)
			ld->oom = true;
		else if (rc && need)
			config__add_err(ld, at, "slack.%s_file: %s: %s", what, ref, why);
	}
	if (!sec->value)
		return;
	/* As for a file (cleaned when read): trailing whitespace, such as a
	 * newline from a secret store, is trimmed; whatever else is not a token
	 * is refused. Registered trimmed, so that the redactor matches it. */
	len = strlen(sec->value);
	clean = sec->source != CONFIG_SECRET_ENV ||
		config__token_clean(sec->value, &len, false, why, sizeof why);
	if (log_add_secret(sec->value) == BOT_ENOMEM)
		ld->oom = true;
	if (!clean) {
		config__add_err(ld, at, "slack.%s: %s: %s", what, src, why);
		return;
	}
	/* The message must not contain the literal prefix: the redactor would
	 * blank it when printed, so it is spelled out. */
	if (strncmp(sec->value, prefix, strlen(prefix)) != 0)
		config__add_err(ld, at, "slack.%s: %s does not look like %s (it should start with "
				"\"%.*s\" and a dash)", what, src, kind, (int)strlen(prefix) - 1,
				prefix);
}

void config__secret_free(struct config_secret *s)
{
	if (s->value) {
		explicit_bzero(s->value, strlen(s->value));
		free(s->value);
	}
	free(s->ref);
	free(s->shown_);
}
