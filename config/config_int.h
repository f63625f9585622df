/* config_int.h - what the files of config/ share; nothing outside config/
 * includes it (tests may). Shared functions have the prefix config__.
 *
 * One load, in order: api.c (config.h's functions and the error list)
 * reads and parses with load.c (file checks, bounds, libyaml), walks the
 * document with keys.c (key tables and setters), then runs rules.c (what
 * spans fields); secrets.c (${VAR}, values not shown, tokens) serves the
 * last two. A load's state is one struct loader, passed to every step: the
 * errors found so far, the config being filled, the document, and which
 * keys each mapping had (struct seen), so that the rules can point at the
 * right node and stay quiet about values already reported.
 */
#ifndef CONFIG_CONFIG_INT_H
#define CONFIG_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config/config.h"

#define KEYS_MAX        24            /* keys per table */
#define PATH_LEN        320           /* "services.<255 chars>.<key>" */
#define ENV_NAMES_LEN   96            /* "${A}, ${B}": variables a value came from */
#define SHOWN_LEN       (ENV_NAMES_LEN + 32) /* a value as a message shows it */

/* Each key's index in its table (keys.c), which is also its index in
 * struct seen. */
enum { SL_APP_ENV, SL_APP_FILE, SL_BOT_ENV, SL_BOT_FILE, SL_APP_LIT, SL_BOT_LIT,
       SL_API_URL, SL_CA_FILE, SL_APP_ID, SL_CHANNELS, SL_EXTERNAL, SL__N };
enum { AW_REGION, AW_ENDPOINT, AW_ROLE_ARN, AW_SESSION, AW_PROFILE, AW__N };
enum { DF_TIMER, DF_MIN_TIMER, DF_MAX_TIMER, DF_APPROVERS, DF_REQUESTERS, DF_ALLOW_SELF,
       DF_MIN_APPROVALS, DF_CHANNEL, DF__N };
enum { SV_CLUSTER, SV_ECS_SERVICE, SV_MIN_DESIRED, SV_MAX_DESIRED, SV_APPROVERS,
       SV_REQUESTERS, SV_TIMER, SV_MIN_APPROVALS, SV_ALLOW_SELF, SV_SNS, SV_CHANNEL,
       SV_REGION, SV_ALARMS, SV_OA_SCALE_TO, SV_OA_SCALE_BY, SV_OA_TIMER, SV_OA_COOLDOWN,
       SV_ACTIONS, SV_OA_ACTION, SV__N };
/* An action's overrides (services.NAME.actions.KIND: in the map form). */
enum { AC_TIMER, AC_APPROVERS, AC_REQUESTERS, AC_MIN_APPROVALS, AC_ALLOW_SELF, AC__N };
enum { ST_PATH, ST_BACKEND, ST_TABLE, ST_REGION, ST_ENDPOINT, ST__N };
enum { HT_LISTEN, HT__N };
enum { LG_LEVEL, LG__N };
enum { AL_QUEUE_URL, AL_WAIT, AL_FLAP_WINDOW, AL_RECONCILE, AL__N };
enum {
	LM_USER_COMMANDS, LM_READ_WINDOW, LM_AWS_IN_FLIGHT, LM_AWS_IN_FLIGHT_SVC,
	LM_AWS_PER_SECOND, LM_AWS_BURST, LM__N
};
enum { TOP_SLACK, TOP_AWS, TOP_DEFAULTS, TOP_SERVICES, TOP_STORE, TOP_HTTP, TOP_LOG, TOP_LIMITS,
       TOP_ALARMS, TOP__N };

_Static_assert(SL__N <= KEYS_MAX && AW__N <= KEYS_MAX && DF__N <= KEYS_MAX &&
	       SV__N <= KEYS_MAX && AC__N <= KEYS_MAX && ST__N <= KEYS_MAX && TOP__N <= KEYS_MAX, "struct seen too small");

/* Which keys a mapping had: the key node (for duplicates) and the value
 * node when a value was given (for positions of later errors), and whether
 * that value was reported bad (later rules then stay quiet about it). */
struct seen {
	const yaml_node_t *key[KEYS_MAX];
	const yaml_node_t *val[KEYS_MAX];
	bool bad[KEYS_MAX];
};

/* What the walk saw of one action, parallel to config_service.actions. */
struct act_tmp {
	const yaml_node_t *key; /* the action's name (list entry or map key) */
	struct seen seen;       /* its overrides (map form), by AC_* */
};

struct svc_tmp {
	struct config_service s; /* first: keys.c finds the svc_tmp from &s */
	const yaml_node_t *key; /* the service name's node */
	struct seen seen;
	struct act_tmp *acts;   /* s.n_actions of them; freed with ld->svcs */
	bool skip;              /* body unusable or duplicate: no cross checks */
};

struct loader {
	unsigned flags;
	struct config *cfg;
	struct config_errors *errs;
	size_t dropped;    /* errors beyond ERRORS_MAX */
	bool oom;
	yaml_document_t *doc;
	const yaml_node_t *root;
	struct seen top;
	struct seen sec[KEYS_MAX]; /* per top-level section, by top_keys index */
	struct svc_tmp *svcs;
	size_t n_svcs, cap_svcs;
};

/* api.c: the error list. Record an error at node n (1-based position), or
 * for the whole file when n is NULL (line 0); or at line:col. Past
 * ERRORS_MAX (100) errors they are only counted. */
void config__add_err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void config__add_err_at(struct loader *ld, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* strdup that sets ld->oom on failure. */
char *config__xstrdup(struct loader *ld, const char *s);

/* load.c: files and the document. */
/* Read the file at path into *buf (NUL-terminated; the caller frees) and
 * *len, at most max + 1 bytes, so that the caller can tell "too big". The
 * file must be a regular file (symlinks are followed) that neither its
 * group nor others may write. name is the file as the chmod hint shows it.
 * Returns BOT_EOK, or BOT_EIO (cannot open or read), BOT_ECONFIG (refused)
 * or BOT_ENOMEM with the reason in why (n bytes). */
int config__read_private(const char *path, const char *name, size_t max, char **buf,
			 size_t *len, char *why, size_t n);
/* The config file at path, as config__read_private with the size cap; a
 * refusal is recorded as a file-level error. */
int config__read_file(struct loader *ld, const char *path, char **buf, size_t *len);
/* Check buf against the size cap (128 KiB) and the bounds on the document's
 * shape (nesting, list length, anchors, alias fan-out), then parse it into
 * doc. Returns true if doc was built (the caller deletes it); false after
 * reporting why not. */
bool config__parse(struct loader *ld, const char *buf, size_t len, yaml_document_t *doc);

/* keys.c: the key tables and the walk. */
/* The defaults that do not depend on other fields (timers, min_approvals). */
void config__set_defaults(struct config *c);
/* Walk ld->root (a node of any kind) against the top-level table into
 * ld->cfg, recording which keys were given in ld->top and ld->sec, and
 * the services in ld->svcs. Returns false (after reporting) if the root is
 * not a mapping; then no rule may run. */
bool config__walk(struct loader *ld);
/* "path.name" into buf (PATH_LEN bytes); "name" when path is "". */
void config__join(char *buf, const char *path, const char *name);
/* Why url may not be used (see bot/base/url.h), for "<path>: <why>, got
 * ..."; NULL if it may. Sets ld->oom on allocation failure. */
const char *config__url_refusal(struct loader *ld, const char *url);

/* rules.c: after a walk that found a mapping at the top: load the tokens,
 * fill in what depends on other fields or the environment, and check the
 * rules that span fields (timers, services, approvers). */
void config__finish(struct loader *ld);

/* secrets.c: values from the environment, and the Slack tokens. */
/* raw with ${VAR}, ${VAR:-default} and $$ expanded: a new string (the
 * caller frees), or NULL after reporting an error at node n, named path
 * (ld->oom on allocation failure). env (ENV_NAMES_LEN bytes) names the
 * variables whose values were used, "" if none. */
char *config__expand(struct loader *ld, const yaml_node_t *n, const char *path, const char *raw,
		     char *env);
/* Value s as a message may show it, in buf (SHOWN_LEN bytes): quoted and
 * cut to 64 bytes, or, when env (from config__expand) is not empty, only
 * the names of the variables it came from. Returns buf. */
const char *config__shown(char *buf, const char *s, const char *env);
/* Cut the token in s (length *len) to its first line if first_line, trim
 * trailing whitespace, and check that what is left is one word of
 * printable ASCII. Returns false with the reason in why (n bytes); the
 * reason never quotes the token. */
bool config__token_clean(char *s, size_t *len, bool first_line, char *why, size_t n);
/* Fill sec from its source (def_env when the file named none): read it,
 * register it with the log redactor, check its shape (prefix like "xoxb-",
 * kind like "a bot token"). what is "app_token" or "bot_token"; errors
 * point at node at. A missing token is an error only with CONFIG_NEED_SLACK. */
void config__load_secret(struct loader *ld, struct config_secret *sec, const char *what,
			 const char *def_env, const char *prefix, const char *kind,
			 const yaml_node_t *at);
/* Free what sec holds, wiping the value first. */
void config__secret_free(struct config_secret *s);

#endif
