/* keys.c - which keys exist, their types and defaults, and how each is stored.
 *
 * One table per section, {name, type, offset, validator}, says which keys
 * a mapping may have; one short loop (walk_map) walks a mapping against
 * its table, and a setter per type converts and checks the value and
 * stores it at base + offset. A problem is recorded with its position and
 * the walk goes on, so one run reports everything; an unknown key gets the
 * nearest known one as a hint. Which keys were given, and whether each was
 * bad, is kept in struct seen for the rules that run after the walk
 * (rules.c).
 *
 * Empty values: an empty or null scalar ("", ~, null, or "${X:-}" that
 * expands to nothing) means "not given", for every key. Optional keys then
 * take their default; required keys are reported missing (rules.c).
 */
#include "config/config.h"
#include "config/config_int.h"
#include "bot/base/duration.h"
#include "bot/base/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TIMER_DEFAULT_MS     (10ULL * 60 * 1000)
#define MIN_TIMER_DEFAULT_MS (60ULL * 1000)
#define MAX_TIMER_DEFAULT_MS (7ULL * 24 * 3600 * 1000)

/* ------------------------------------------------------------------ */
/* Key tables                                                          */

/* What a setter did with a value: nothing given, stored, or reported. */
enum vstate { V_UNSET, V_SET, V_BAD };

enum ktype {
	KT_STR,         /* char *; optional validator */
	KT_URL,         /* char *: https://, or http:// to a loopback host (bot/base/url.h) */
	KT_INT,         /* int in [min, max] */
	KT_BOOL,        /* bool: true/false/yes/no */
	KT_DURATION,    /* uint64_t ms via duration_parse, > 0; at most max s if max > 0 */
	KT_USERS,       /* struct config_users; validator per item */
	KT_CHANNELS,    /* struct config_channels; validator per item */
	KT_NAMES,       /* struct config_names; validator per item */
	KT_SECRET_ENV,  /* struct config_secret from an env var name */
	KT_SECRET_FILE, /* struct config_secret from a file path */
	KT_FORBIDDEN,   /* a key we refuse, with the reason in expect */
	KT_SECTION,     /* a nested table; top level only */
	KT_SERVICES,    /* the services: mapping */
	KT_ACTION,      /* char *: one of config_action_kinds() */
	KT_ACTIONS,     /* a service's actions: (list or mapping); base is a struct svc_tmp */
	KT__N,
};

struct table;

struct key {
	const char *name;
	enum ktype type;
	size_t off;                   /* into the table's base struct */
	bool (*valid)(const char *s); /* KT_STR, KT_USERS items */
	const char *expect;           /* what valid() wants; KT_SECRET_*: token name */
	int min, max;                 /* KT_INT; max for KT_DURATION (seconds) */
	const struct table *sub;      /* KT_SECTION */
};

struct table {
	const char *what;   /* what the mapping should be, for messages */
	const struct key *keys;
	size_t n;
};

static bool is_arn(const char *s);
static bool is_session_name(const char *s);
static bool is_region(const char *s);
static bool is_channel(const char *s);
static bool is_app_id(const char *s);
static bool is_user(const char *s);
static bool is_requester(const char *s);
static bool is_listen(const char *s);
static bool is_log_level(const char *s);
static bool is_store_backend(const char *s);
static bool is_table_name(const char *s);
static bool is_alarm_pattern(const char *s);
static bool is_factor(const char *s);

#define COFF(field) offsetof(struct config, field)
#define SOFF(field) offsetof(struct config_service, field)
#define AOFF(field) offsetof(struct config_action, field)
#define TABLE(what, keys) {what, keys, BOT_ARRAY_LEN(keys)}

#define URL_EXPECT "an https:// URL (or http:// to a loopback host)"
#define URL_NO_TLS "http:// " URL_NO_TLS_RULE "; use https://"
#define USER_EXPECT "a Slack user id like U0123ABCD"
#define CHANNEL_EXPECT "a Slack channel id like C0123ABCD"
#define TOKEN_IN_FILE \
	"is not accepted: secrets never go in this file; they come from an environment " \
	"variable or a file"

/* Each table is indexed by its enum in config_int.h (SL_*, AW_*, ...), so
 * that rules.c can find a key's entry in struct seen. */
static const struct key slack_keys[SL__N] = {
	[SL_APP_ENV] = {"app_token_env", KT_SECRET_ENV, COFF(slack.app_token), .expect = "app_token"},
	[SL_APP_FILE] = {"app_token_file", KT_SECRET_FILE, COFF(slack.app_token), .expect = "app_token"},
	[SL_BOT_ENV] = {"bot_token_env", KT_SECRET_ENV, COFF(slack.bot_token), .expect = "bot_token"},
	[SL_BOT_FILE] = {"bot_token_file", KT_SECRET_FILE, COFF(slack.bot_token), .expect = "bot_token"},
	[SL_APP_LIT] = {"app_token", KT_FORBIDDEN, 0, .expect = TOKEN_IN_FILE
			" (use app_token_env, default SLACK_APP_TOKEN, or app_token_file)"},
	[SL_BOT_LIT] = {"bot_token", KT_FORBIDDEN, 0, .expect = TOKEN_IN_FILE
			" (use bot_token_env, default SLACK_BOT_TOKEN, or bot_token_file)"},
	[SL_API_URL] = {"api_url", KT_URL, COFF(slack.api_url)},
	[SL_CA_FILE] = {"ca_file", KT_STR, COFF(slack.ca_file)},
	[SL_APP_ID] = {"app_id", KT_STR, COFF(slack.app_id), is_app_id,
		       "a Slack app id like A0123ABCD"},
	[SL_CHANNELS] = {"allowed_channels", KT_CHANNELS, COFF(slack.allowed_channels), is_channel,
			 CHANNEL_EXPECT},
	[SL_EXTERNAL] = {"allow_external_users", KT_BOOL, COFF(slack.allow_external_users)},
};

static const struct key aws_keys[AW__N] = {
	[AW_REGION] = {"region", KT_STR, COFF(aws.region), is_region, "an AWS region like us-east-1"},
	[AW_ENDPOINT] = {"endpoint_url", KT_URL, COFF(aws.endpoint_url)},
	[AW_ROLE_ARN] = {"role_arn", KT_STR, COFF(aws.role_arn), is_arn,
			 "an IAM role ARN starting with arn:"},
	[AW_SESSION] = {"role_session_name", KT_STR, COFF(aws.role_session_name), is_session_name,
			"2 to 64 characters from A-Z a-z 0-9 _ + = , . @ -"},
	[AW_PROFILE] = {"profile", KT_STR, COFF(aws.profile)},
};

static const struct key defaults_keys[DF__N] = {
	[DF_TIMER] = {"timer", KT_DURATION, COFF(defaults.timer_ms)},
	[DF_MIN_TIMER] = {"min_timer", KT_DURATION, COFF(defaults.min_timer_ms)},
	[DF_MAX_TIMER] = {"max_timer", KT_DURATION, COFF(defaults.max_timer_ms)},
	[DF_APPROVERS] = {"approvers", KT_USERS, COFF(defaults.approvers), is_user, USER_EXPECT},
	[DF_REQUESTERS] = {"requesters", KT_USERS, COFF(defaults.requesters), is_requester,
			   USER_EXPECT " or \"*\" for anyone"},
	[DF_ALLOW_SELF] = {"allow_self_approval", KT_BOOL, COFF(defaults.allow_self_approval)},
	[DF_MIN_APPROVALS] = {"min_approvals", KT_INT, COFF(defaults.min_approvals), .min = 1,
			      .max = 100},
	[DF_CHANNEL] = {"channel", KT_STR, COFF(defaults.channel), is_channel, CHANNEL_EXPECT},
};

/* The gate's settings, which a service and each of its actions may give
 * (an action inherits the service's): one entry each, for both tables. */
#define KEY_APPROVERS(off) {"approvers", KT_USERS, off, is_user, USER_EXPECT}
#define KEY_REQUESTERS(off) \
	{"requesters", KT_USERS, off, is_requester, USER_EXPECT " or \"*\" for anyone"}
#define KEY_TIMER(off) {"timer", KT_DURATION, off}
#define KEY_MIN_APPROVALS(off) {"min_approvals", KT_INT, off, .min = 1, .max = 100}
#define KEY_ALLOW_SELF(off) {"allow_self_approval", KT_BOOL, off}

static const struct key service_keys[SV__N] = {
	[SV_CLUSTER] = {"cluster", KT_STR, SOFF(cluster)},
	[SV_ECS_SERVICE] = {"ecs_service", KT_STR, SOFF(ecs_service)},
	[SV_MIN_DESIRED] = {"min_desired", KT_INT, SOFF(min_desired), .min = 0, .max = 10000},
	[SV_MAX_DESIRED] = {"max_desired", KT_INT, SOFF(max_desired), .min = 0, .max = 10000},
	[SV_APPROVERS] = KEY_APPROVERS(SOFF(approvers)),
	[SV_REQUESTERS] = KEY_REQUESTERS(SOFF(requesters)),
	[SV_TIMER] = KEY_TIMER(SOFF(timer_ms)),
	[SV_MIN_APPROVALS] = KEY_MIN_APPROVALS(SOFF(min_approvals)),
	[SV_ALLOW_SELF] = KEY_ALLOW_SELF(SOFF(allow_self_approval)),
	[SV_SNS] = {"sns_topic_arn", KT_STR, SOFF(sns_topic_arn), is_arn,
		    "an SNS topic ARN starting with arn:"},
	[SV_CHANNEL] = {"channel", KT_STR, SOFF(channel), is_channel, CHANNEL_EXPECT},
	[SV_REGION] = {"region", KT_STR, SOFF(region), is_region, "an AWS region like us-east-1"},
	[SV_ALARMS] = {"alarms", KT_NAMES, SOFF(alarms), is_alarm_pattern,
		       "a CloudWatch alarm name (1 to 255 printable characters), or a prefix "
		       "ending in *"},
	[SV_OA_SCALE_TO] = {"on_alarm_scale_to", KT_INT, SOFF(on_alarm_scale_to), .min = 1,
			    .max = 10000},
	[SV_OA_SCALE_BY] = {"on_alarm_scale_by", KT_STR, SOFF(on_alarm_scale_by), is_factor,
			    "a factor above 1 and at most 10, like 2 or 1.5"},
	[SV_OA_TIMER] = {"on_alarm_timer", KT_DURATION, SOFF(on_alarm_timer_ms)},
	[SV_OA_COOLDOWN] = {"on_alarm_cooldown", KT_DURATION, SOFF(on_alarm_cooldown_ms),
			    .max = 7 * 86400},
	[SV_ACTIONS] = {"actions", KT_ACTIONS},
	[SV_OA_ACTION] = {"on_alarm_action", KT_ACTION, SOFF(on_alarm_action)},
};

static const struct key action_keys[AC__N] = {
	[AC_TIMER] = KEY_TIMER(AOFF(timer_ms)),
	[AC_APPROVERS] = KEY_APPROVERS(AOFF(approvers)),
	[AC_REQUESTERS] = KEY_REQUESTERS(AOFF(requesters)),
	[AC_MIN_APPROVALS] = KEY_MIN_APPROVALS(AOFF(min_approvals)),
	[AC_ALLOW_SELF] = KEY_ALLOW_SELF(AOFF(allow_self_approval)),
};

static const struct key store_keys[ST__N] = {
	[ST_PATH] = {"path", KT_STR, COFF(store.path)},
	[ST_BACKEND] = {"backend", KT_STR, COFF(store.backend), is_store_backend,
			"sqlite or dynamodb"},
	[ST_TABLE] = {"table", KT_STR, COFF(store.table), is_table_name,
		      "a DynamoDB table name: 3 to 255 characters from A-Z a-z 0-9 _ . -"},
	[ST_REGION] = {"region", KT_STR, COFF(store.region), is_region,
		       "an AWS region like us-east-1"},
	[ST_ENDPOINT] = {"endpoint", KT_URL, COFF(store.endpoint)},
};

static const struct key http_keys[HT__N] = {
	[HT_LISTEN] = {"listen", KT_STR, COFF(http.listen), is_listen,
		       "host:port with a port from 1 to 65535, like 127.0.0.1:9090"},
};

static const struct key log_keys[LG__N] = {
	[LG_LEVEL] = {"level", KT_STR, COFF(log.level), is_log_level,
		      "one of debug, info, warn, error"},
};

static const struct key limits_keys[LM__N] = {
	[LM_USER_COMMANDS] = {"user_commands_per_minute", KT_INT,
			      COFF(limits.user_commands_per_minute), .min = 0, .max = 10000},
	[LM_READ_WINDOW] = {"read_window", KT_DURATION, COFF(limits.read_window_ms), .max = 300},
	[LM_AWS_IN_FLIGHT] = {"aws_in_flight", KT_INT, COFF(limits.aws_in_flight), .min = 1,
			      .max = 256},
	[LM_AWS_IN_FLIGHT_SVC] = {"aws_in_flight_per_service", KT_INT,
				  COFF(limits.aws_in_flight_per_service), .min = 1, .max = 256},
	[LM_AWS_PER_SECOND] = {"aws_calls_per_second", KT_INT, COFF(limits.aws_calls_per_second),
			       .min = 1, .max = 100},
	[LM_AWS_BURST] = {"aws_burst", KT_INT, COFF(limits.aws_burst), .min = 1, .max = 1000},
};

static const struct key alarms_keys[AL__N] = {
	[AL_QUEUE_URL] = {"queue_url", KT_URL, COFF(alarms.queue_url)},
	[AL_WAIT] = {"wait_seconds", KT_INT, COFF(alarms.wait_seconds), .min = 1, .max = 20},
	[AL_FLAP_WINDOW] = {"flap_window", KT_DURATION, COFF(alarms.flap_window_ms),
			    .max = 86400},
	[AL_RECONCILE] = {"reconcile_every", KT_DURATION, COFF(alarms.reconcile_ms), .max = 86400},
};

static const struct table slack_table = TABLE("a mapping of Slack settings", slack_keys);
static const struct table aws_table = TABLE("a mapping of AWS settings", aws_keys);
static const struct table defaults_table = TABLE("a mapping of service defaults", defaults_keys);
static const struct table service_table =
	TABLE("a mapping of service settings (at least cluster and max_desired)", service_keys);
static const struct table action_table =
	TABLE("a mapping of the action's settings (timer, approvers, requesters, min_approvals, "
	      "allow_self_approval), or nothing for the service's", action_keys);
static const struct table store_table = TABLE("a mapping with backend, path (sqlite) or table, region, endpoint (dynamodb)", store_keys);
static const struct table http_table = TABLE("a mapping with listen", http_keys);
static const struct table log_table = TABLE("a mapping with level", log_keys);
static const struct table limits_table =
	TABLE("a mapping with user_commands_per_minute, read_window, aws_in_flight, "
	      "aws_in_flight_per_service, aws_calls_per_second, aws_burst", limits_keys);
static const struct table alarms_table =
	TABLE("a mapping with queue_url, wait_seconds, flap_window, reconcile_every", alarms_keys);

static const struct key top_keys[TOP__N] = {
	[TOP_SLACK] = {"slack", KT_SECTION, .sub = &slack_table},
	[TOP_AWS] = {"aws", KT_SECTION, .sub = &aws_table},
	[TOP_DEFAULTS] = {"defaults", KT_SECTION, .sub = &defaults_table},
	[TOP_SERVICES] = {"services", KT_SERVICES},
	[TOP_STORE] = {"store", KT_SECTION, .sub = &store_table},
	[TOP_HTTP] = {"http", KT_SECTION, .sub = &http_table},
	[TOP_LOG] = {"log", KT_SECTION, .sub = &log_table},
	[TOP_LIMITS] = {"limits", KT_SECTION, .sub = &limits_table},
	[TOP_ALARMS] = {"alarms", KT_SECTION, .sub = &alarms_table},
};
static const struct table top_table =
	TABLE("a mapping of sections (slack, aws, defaults, services, store, http, log, limits, "
	      "alarms)",
	      top_keys);

/* ------------------------------------------------------------------ */
/* Validators                                                          */

static bool all_chars(const char *s, const char *extra, bool upper_only)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool ok = upper_only ? (isupper(c) || isdigit(c)) : (isalnum(c) || strchr(extra, c));
		if (!ok || c > 0x7f)
			return false;
	}
	return true;
}

static bool is_arn(const char *s) { return strncmp(s, "arn:", 4) == 0 && s[4]; }

static bool is_session_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 2 && n <= 64 && all_chars(s, "_+=,.@-", false);
}

static bool is_region(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !islower((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

/* ^[<first>][A-Z0-9]{2,}$ */
static bool is_slack_id(const char *s, const char *first)
{
	return s[0] && strchr(first, s[0]) && strlen(s) >= 3 && all_chars(s + 1, "", true);
}

static bool is_channel(const char *s) { return is_slack_id(s, "CGD"); }
static bool is_user(const char *s) { return is_slack_id(s, "UW"); }
static bool is_app_id(const char *s) { return is_slack_id(s, "A"); }
static bool is_requester(const char *s) { return strcmp(s, "*") == 0 || is_user(s); }

static bool is_env_name(const char *s)
{
	return (isalpha((unsigned char)s[0]) || s[0] == '_') && all_chars(s, "_", false);
}

static bool is_service_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 255 && isalnum((unsigned char)s[0]) && all_chars(s, "_.-", false);
}

static bool is_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || !isdigit((unsigned char)colon[1]))
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

/* The store backends this build has (bot/store_open.c picks one). */
static bool is_store_backend(const char *s)
{
	return strcmp(s, "sqlite") == 0 || strcmp(s, "dynamodb") == 0;
}

/* DynamoDB's rule for table names: [a-zA-Z0-9_.-]{3,255}. */
static bool is_table_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 3 && n <= 255 && all_chars(s, "_.-", false);
}

/* CloudWatch allows any printable ASCII but not control characters;
 * '*' only as the last character (a prefix). */
static bool is_alarm_pattern(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255 || strcmp(s, "*") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || (c == '*' && i + 1 < n))
			return false;
	}
	return true;
}

static bool is_factor(const char *s)
{
	char *end;
	double f;

	if (!isdigit((unsigned char)s[0]))
		return false;
	f = strtod(s, &end);
	return *end == '\0' && f > 1.0 && f <= 10.0;
}

static bool is_log_level(const char *s)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	for (size_t i = 0; i < BOT_ARRAY_LEN(levels); i++)
		if (strcmp(s, levels[i]) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Nodes and paths                                                     */

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return n->data.scalar.length ? "a string" : "an empty value";
	}
}

static const yaml_node_t *node(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

/* "path.name" into buf (PATH_LEN bytes). Paths are at most
 * "services." + 255, and names are known keys, so nothing is cut. */
void config__join(char *buf, const char *path, const char *name)
{
	snprintf(buf, PATH_LEN, "%.280s%s%.32s", path, *path ? "." : "", name);
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */

static bool is_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return n->data.scalar.length == 0;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* The expanded value of scalar v in *out (caller frees): V_SET, or V_UNSET
 * for an empty value, or V_BAD after reporting an error. env names the
 * variables the value came from, if any (see config__expand). */
static enum vstate get_scalar(struct loader *ld, const yaml_node_t *v, const char *path,
			      const char *expect, char **out, char *env)
{
	enum vstate st = V_BAD;
	char *s;

	*out = NULL;
	env[0] = '\0';
	if (v->type != YAML_SCALAR_NODE) {
		config__add_err(ld, v, "%s: expected %s, got %s", path, expect, node_kind(v));
		goto out;
	}
	if (strlen((const char *)v->data.scalar.value) != v->data.scalar.length) {
		config__add_err(ld, v, "%s: value contains a NUL character", path);
		goto out;
	}
	if (is_null(v)) {
		st = V_UNSET;
		goto out;
	}
	s = config__expand(ld, v, path, (const char *)v->data.scalar.value, env);
	if (!s)
		goto out;
	if (!*s) {
		free(s);
		st = V_UNSET;
		goto out;
	}
	*out = s;
	st = V_SET;
out:
	return st;
}

/* ------------------------------------------------------------------ */
/* Setters, one per key type                                           */

typedef enum vstate (*setter_fn)(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				 const yaml_node_t *v, void *base, const char *path);

#define FIELD(base, k, type) ((type *)(void *)((char *)(base) + (k)->off))

static enum vstate set_str(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			   const yaml_node_t *v, void *base, const char *path)
{
	char *s, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
	enum vstate st = get_scalar(ld, v, path, k->expect ? k->expect : "a string", &s, env);

	if (st == V_SET && k->valid && !k->valid(s)) {
		config__add_err(ld, v, "%s: expected %s, got %s", path, k->expect,
				config__shown(sh, s, env));
		free(s);
		st = V_BAD;
	}
	if (st == V_SET)
		*FIELD(base, k, char *) = s;
	return st;
}

/* Why url may not be used (see bot/base/url.h), for "<path>: <why>, got ...";
 * NULL if it may. */
const char *config__url_refusal(struct loader *ld, const char *url)
{
	int rc = url_check_http(url);

	if (rc == BOT_ENOMEM)
		ld->oom = true;
	return rc == BOT_EOK ? NULL : rc == BOT_EPERM ? URL_NO_TLS : "expected " URL_EXPECT;
}

static enum vstate set_url(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			   const yaml_node_t *v, void *base, const char *path)
{
	char *s, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
	const char *why;
	enum vstate st = get_scalar(ld, v, path, URL_EXPECT, &s, env);

	if (st != V_SET)
		return st;
	why = config__url_refusal(ld, s);
	if (why) {
		config__add_err(ld, v, "%s: %s, got %s", path, why, config__shown(sh, s, env));
		free(s);
		return V_BAD;
	}
	*FIELD(base, k, char *) = s;
	return V_SET;
}

static enum vstate set_int(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			   const yaml_node_t *v, void *base, const char *path)
{
	char *s, *end, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
	long long n = 0;
	enum vstate st = get_scalar(ld, v, path, "an integer", &s, env);

	if (st != V_SET)
		goto out;
	errno = 0;
	if (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') &&
					     isdigit((unsigned char)s[1])))
		n = strtoll(s, &end, 10);
	else
		end = s;
	if (end == s || *end || errno || n < k->min || n > k->max) {
		config__add_err(ld, v, "%s: expected an integer between %d and %d, got %s", path,
				k->min, k->max, config__shown(sh, s, env));
		st = V_BAD;
		goto out;
	}
	*FIELD(base, k, int) = (int)n;
out:
	free(s);
	return st;
}

static enum vstate set_bool(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			    const yaml_node_t *v, void *base, const char *path)
{
	char *s, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
	enum vstate st = get_scalar(ld, v, path, "true or false", &s, env);

	if (st != V_SET)
		goto out;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) {
		*FIELD(base, k, bool) = true;
	} else if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) {
		*FIELD(base, k, bool) = false;
	} else {
		config__add_err(ld, v, "%s: expected true or false, got %s", path,
				config__shown(sh, s, env));
		st = V_BAD;
	}
out:
	free(s);
	return st;
}

static enum vstate set_duration(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				const yaml_node_t *v, void *base, const char *path)
{
	char *s, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
	uint64_t ms = 0;
	struct bot_error derr;
	enum vstate st = get_scalar(ld, v, path, "a duration like 10m", &s, env);

	if (st != V_SET)
		goto out;
	if (duration_parse(s, &ms, &derr) != BOT_EOK) {
		/* derr quotes the text, so it is used only for text from the file */
		if (*env)
			config__add_err(ld, v, "%s: expected a duration like 10m or PT10M, got %s",
					path, config__shown(sh, s, env));
		else
			config__add_err(ld, v, "%s: %s", path, derr.msg);
		st = V_BAD;
	} else if (ms == 0) {
		config__add_err(ld, v, "%s: must be longer than 0s", path);
		st = V_BAD;
	} else if (k->max > 0 && ms > (uint64_t)k->max * 1000) {
		config__add_err(ld, v, "%s: must be at most %ds", path, k->max);
		st = V_BAD;
	} else {
		*FIELD(base, k, uint64_t) = ms;
	}
out:
	free(s);
	return st;
}

/* One accepted entry of a list, for the duplicate check. */
struct item {
	char *s;
	char *env;  /* the variables it came from, or NULL (see config__expand) */
	const yaml_node_t *node;
	size_t i;   /* index in the list */
	bool dup;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;
	int c = strcmp(x->s, y->s);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Mark and report every entry equal to an earlier one, at the later entry.
 * Sorting, then comparing neighbours, keeps this n log n. */
static void mark_dups(struct loader *ld, struct item *items, size_t n, const char *path)
{
	struct item **by = malloc((n ? n : 1) * sizeof *by);
	char sh[SHOWN_LEN];

	if (!by) {
		ld->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		by[i] = &items[i];
	qsort(by, n, sizeof *by, item_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(by[i - 1]->s, by[i]->s) != 0)
			continue;
		by[i]->dup = true;
		if (by[i]->env)
			config__add_err(ld, by[i]->node, "%s[%zu]: %s is listed twice", path,
					by[i]->i, config__shown(sh, by[i]->s, by[i]->env));
		else
			config__add_err(ld, by[i]->node, "%s[%zu]: %s is listed twice", path,
					by[i]->i, by[i]->s);
	}
	free(by);
}

/* Convert and check the entries of list v into items; returns how many
 * were accepted, *bad set if any was not. */
static size_t get_items(struct loader *ld, const struct key *k, const yaml_node_t *v,
			const char *path, struct item *items, bool *bad)
{
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start), m = 0;

	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *item = node(ld, v->data.sequence.items.start[i]);
		char ipath[PATH_LEN + 16], *s, env[ENV_NAMES_LEN], sh[SHOWN_LEN];
		enum vstate ist;

		snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
		ist = get_scalar(ld, item, ipath, k->expect, &s, env);
		if (ist == V_UNSET)
			config__add_err(ld, item, "%s: empty entry; expected %s", ipath, k->expect);
		if (ist == V_SET && !k->valid(s)) {
			config__add_err(ld, item, "%s: expected %s, got %s", ipath, k->expect,
					config__shown(sh, s, env));
			free(s);
			ist = V_BAD;
		}
		if (ist != V_SET) {
			*bad = true;
			continue;
		}
		items[m++] = (struct item){.s = s, .env = *env ? config__xstrdup(ld, env) : NULL,
					   .node = item, .i = i};
	}
	return m;
}

/* A list of ids into *ids and *n (allocated here; the caller's struct
 * owns them whatever happens). what is the kind of list, for messages. */
static enum vstate set_ids(struct loader *ld, const struct key *k, const yaml_node_t *v,
			   const char *path, const char *what, char ***ids, size_t *n_ids)
{
	struct item *items = NULL;
	bool bad = false;
	size_t n, m;

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return V_UNSET;
	if (v->type != YAML_SEQUENCE_NODE) {
		config__add_err(ld, v, "%s: expected %s, got %s", path, what, node_kind(v));
		return V_BAD;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	*ids = calloc(n ? n : 1, sizeof **ids);
	items = calloc(n ? n : 1, sizeof *items);
	if (!*ids || !items) {
		ld->oom = true;
		bad = true;
		goto out;
	}
	m = get_items(ld, k, v, path, items, &bad);
	mark_dups(ld, items, m, path);
	for (size_t i = 0; i < m; i++) {
		free(items[i].env);
		if (items[i].dup || ld->oom) {
			bad = true;
			free(items[i].s);
			continue;
		}
		(*ids)[(*n_ids)++] = items[i].s;
	}
out:
	free(items);
	return bad ? V_BAD : V_SET;
}

static enum vstate set_users(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			     const yaml_node_t *v, void *base, const char *path)
{
	struct config_users *u = FIELD(base, k, struct config_users);

	return set_ids(ld, k, v, path, "a list of Slack user ids like [U0123ABCD]", &u->ids,
		       &u->n);
}

static enum vstate set_channels(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				const yaml_node_t *v, void *base, const char *path)
{
	struct config_channels *c = FIELD(base, k, struct config_channels);

	return set_ids(ld, k, v, path, "a list of Slack channel ids like [C0123ABCD]", &c->ids,
		       &c->n);
}

static enum vstate set_names(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			     const yaml_node_t *v, void *base, const char *path)
{
	struct config_names *u = FIELD(base, k, struct config_names);

	return set_ids(ld, k, v, path, "a list of CloudWatch alarm names like [web-cpu-high]",
		       &u->ids, &u->n);
}

static enum vstate set_secret(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			      const yaml_node_t *v, void *base, const char *path, bool env)
{
	struct config_secret *sec = FIELD(base, k, struct config_secret);
	char *s, from[ENV_NAMES_LEN];
	enum vstate st = get_scalar(ld, v, path, env ? "an environment variable name" : "a file path",
				    &s, from);

	if (st != V_SET)
		goto out;
	/* Never echo the value: a token pasted here by mistake must not be printed. */
	if (env && !is_env_name(s)) {
		config__add_err(ld, v, "%s: expected the name of an environment variable (like "
				"MY_TOKEN), not the token itself", path);
		st = V_BAD;
	} else if (sec->source != CONFIG_SECRET_NONE) {
		config__add_err(ld, kn, "%s: both slack.%s_env and slack.%s_file are given; use "
				"one", path, k->expect, k->expect);
		st = V_BAD;
	} else {
		sec->source = env ? CONFIG_SECRET_ENV : CONFIG_SECRET_FILE;
		sec->ref = s;
		s = NULL;
		if (*from && asprintf(&sec->shown_, "(the %s in %s)", env ? "name" : "path",
				      from) < 0) {
			sec->shown_ = NULL;
			ld->oom = true;
		}
	}
out:
	free(s);
	return st;
}

static enum vstate set_secret_env(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				  const yaml_node_t *v, void *base, const char *path)
{
	return set_secret(ld, k, kn, v, base, path, true);
}

static enum vstate set_secret_file(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				   const yaml_node_t *v, void *base, const char *path)
{
	return set_secret(ld, k, kn, v, base, path, false);
}

static enum vstate set_forbidden(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				 const yaml_node_t *v, void *base, const char *path)
{
	config__add_err(ld, kn, "%s %s", path, k->expect);
	return V_BAD;
}

static bool walk_map(struct loader *ld, const yaml_node_t *map, const struct table *t, void *base,
		     const char *path, struct seen *seen);

static enum vstate set_section(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			       const yaml_node_t *v, void *base, const char *path)
{
	/* Sections only appear in top_keys, so k's index there picks the seen. */
	struct seen *seen = &ld->sec[k - top_keys];

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return V_UNSET;
	return walk_map(ld, v, k->sub, base, path, seen) ? V_SET : V_BAD;
}

static enum vstate set_services(struct loader *ld, const struct key *k, const yaml_node_t *kn,
				const yaml_node_t *v, void *base, const char *path)
{
	enum vstate st = V_SET;

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return V_UNSET;
	if (v->type != YAML_MAPPING_NODE) {
		config__add_err(ld, v, "services: expected a mapping of service name to settings, "
				"got %s", node_kind(v));
		return V_BAD;
	}
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *skn = node(ld, pr->key), *sv = node(ld, pr->value);
		bool scalar = skn->type == YAML_SCALAR_NODE;
		const char *name = scalar ? (const char *)skn->data.scalar.value : "";
		char spath[PATH_LEN];
		struct svc_tmp *t;

		if (!scalar || !is_service_name(name)) {
			config__add_err(ld, skn, "services: invalid service name%s%.64s%s: "
					"expected letters, digits, '_', '.' and '-', starting with "
					"a letter or digit (at most 255)", scalar ? " \"" : " (",
					scalar ? name : node_kind(skn), scalar ? "\"" : ")");
			st = V_BAD;
			continue;
		}
		if (ld->n_svcs == ld->cap_svcs) {
			size_t cap = ld->cap_svcs ? ld->cap_svcs * 2 : 8;
			struct svc_tmp *p = realloc(ld->svcs, cap * sizeof *p);
			if (!p) {
				ld->oom = true;
				return V_BAD;
			}
			ld->svcs = p;
			ld->cap_svcs = cap;
		}
		t = &ld->svcs[ld->n_svcs++];
		memset(t, 0, sizeof *t);
		t->key = skn;
		t->s.name = config__xstrdup(ld, name);
		snprintf(spath, sizeof spath, "services.%s", name);
		if (!walk_map(ld, sv, &service_table, &t->s, spath, &t->seen))
			t->skip = true;
	}
	return st;
}

/* "scale, restart, rollback" (config_action_kinds) into buf (n bytes). */
static const char *kinds_text(char *buf, size_t n)
{
	size_t nk, o = 0;
	const char *const *k = config_action_kinds(&nk);

	buf[0] = '\0';
	for (size_t i = 0; i < nk && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", k[i]);
	return buf;
}

/* Is s (from node v, named path) an action name? Reports it if not. */
static bool action_kind_ok(struct loader *ld, const yaml_node_t *v, const char *path,
			   const char *s, const char *env)
{
	size_t nk;
	const char *const *k = config_action_kinds(&nk);
	char sh[SHOWN_LEN], kinds[64];

	for (size_t i = 0; i < nk; i++)
		if (strcmp(s, k[i]) == 0)
			return true;
	config__add_err(ld, v, "%s: unknown action %s; expected one of: %s", path,
			config__shown(sh, s, env), kinds_text(kinds, sizeof kinds));
	return false;
}

static enum vstate set_action(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			      const yaml_node_t *v, void *base, const char *path)
{
	char *s, env[ENV_NAMES_LEN], kinds[64];
	enum vstate st = get_scalar(ld, v, path, kinds_text(kinds, sizeof kinds), &s, env);

	if (st == V_SET && !action_kind_ok(ld, v, path, s, env)) {
		free(s);
		st = V_BAD;
	}
	if (st == V_SET)
		*FIELD(base, k, char *) = s;
	return st;
}

/* One action of a service: its name (list entry, or key of the mapping
 * form) in an, and in the mapping form its settings in av (NULL in the
 * list form). Appends it to t unless bad or given twice. */
static bool add_action(struct loader *ld, struct svc_tmp *t, const yaml_node_t *an,
		       const yaml_node_t *av, const char *path)
{
	struct config_service *s = &t->s;
	char *name, env[ENV_NAMES_LEN], kinds[64], apath[PATH_LEN];
	enum vstate st = get_scalar(ld, an, path, "an action name", &name, env);
	size_t i;

	if (st == V_UNSET)
		config__add_err(ld, an, "%s: empty entry; expected one of: %s", path,
				kinds_text(kinds, sizeof kinds));
	if (st != V_SET || !action_kind_ok(ld, an, path, name, env))
		goto bad;
	for (i = 0; i < s->n_actions; i++)
		if (strcmp(s->actions[i].kind, name) == 0) {
			config__add_err(ld, an, "%s: %s is listed twice (first at line %d)", path,
					name, (int)t->acts[i].key->start_mark.line + 1);
			goto bad;
		}
	s->actions[i].kind = name;
	t->acts[i].key = an;
	s->n_actions++;
	if (!av || (av->type == YAML_SCALAR_NODE && is_null(av)))
		return true;
	config__join(apath, path, name);
	return walk_map(ld, av, &action_table, &s->actions[i], apath, &t->acts[i].seen);
bad:
	free(name);
	return false;
}

/* actions: [scale, restart] or {scale: ~, rollback: {min_approvals: 2}}.
 * What an action does not give is filled in from the service by rules.c. */
static enum vstate set_actions(struct loader *ld, const struct key *k, const yaml_node_t *kn,
			       const yaml_node_t *v, void *base, const char *path)
{
	/* Only in service_table, whose base is the first member of a svc_tmp. */
	struct svc_tmp *t = (struct svc_tmp *)base;
	bool list = v->type == YAML_SEQUENCE_NODE, ok = true;
	char kinds[64];
	size_t n;

	if (v->type == YAML_SCALAR_NODE && is_null(v))
		return V_UNSET;
	if (!list && v->type != YAML_MAPPING_NODE) {
		config__add_err(ld, v, "%s: expected a list of actions like [scale, restart] or a "
				"mapping of action to settings, got %s", path, node_kind(v));
		return V_BAD;
	}
	n = list ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
		 : (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0) {
		config__add_err(ld, v, "%s: a service needs at least one action (%s); leave "
				"actions out for scale only", path, kinds_text(kinds, sizeof kinds));
		return V_BAD;
	}
	t->s.actions = calloc(n, sizeof *t->s.actions);
	t->acts = calloc(n, sizeof *t->acts);
	if (!t->s.actions || !t->acts) {
		ld->oom = true;
		return V_BAD;
	}
	for (size_t i = 0; i < n; i++) {
		char ipath[PATH_LEN + 16];

		if (list) {
			snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
			ok &= add_action(ld, t, node(ld, v->data.sequence.items.start[i]), NULL,
					 ipath);
		} else {
			const yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
			ok &= add_action(ld, t, node(ld, pr->key), node(ld, pr->value), path);
		}
	}
	return ok ? V_SET : V_BAD;
}

static const setter_fn setters[KT__N] = {
	[KT_STR] = set_str,
	[KT_URL] = set_url,
	[KT_INT] = set_int,
	[KT_BOOL] = set_bool,
	[KT_DURATION] = set_duration,
	[KT_USERS] = set_users,
	[KT_CHANNELS] = set_channels,
	[KT_NAMES] = set_names,
	[KT_SECRET_ENV] = set_secret_env,
	[KT_SECRET_FILE] = set_secret_file,
	[KT_FORBIDDEN] = set_forbidden,
	[KT_SECTION] = set_section,
	[KT_SERVICES] = set_services,
	[KT_ACTION] = set_action,
	[KT_ACTIONS] = set_actions,
};

/* ------------------------------------------------------------------ */
/* The walk                                                            */

/* Levenshtein distance, or a large number for long strings. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void unknown_key(struct loader *ld, const yaml_node_t *kn, const struct table *t,
			const char *path, const char *name)
{
	char list[256] = "", hint[96] = "";
	size_t o = 0, best = 3, room, used;

	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		size_t d;

		if (k->type != KT_FORBIDDEN) {
			d = edit_distance(name, k->name);
			if (d < best) {
				best = d;
				snprintf(hint, sizeof hint, " (did you mean '%s'?)", k->name);
			}
		}
	}
	/* the keys that fit in the message (what it says before them is
	 * about 40 + the name, path and hint), then "..." */
	used = 60 + strlen(path) + strlen(hint) + strnlen(name, 40);
	room = used < sizeof ((struct bot_error *)0)->msg ? sizeof ((struct bot_error *)0)->msg - used
							  : 0;
	if (room > sizeof list - 1)
		room = sizeof list - 1;
	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		if (k->type == KT_FORBIDDEN)
			continue;
		if (o + strlen(k->name) + 2 + 5 > room) {
			snprintf(list + o, sizeof list - o, "%s...", o ? ", " : "");
			break;
		}
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", k->name);
	}
	config__add_err(ld, kn, "unknown key '%.40s' %s%s%s; expected one of: %s", name,
			*path ? "in " : "at the top level", path, hint, list);
}

static int find_key(const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Walk mapping map against table t, storing into base. Returns false (after
 * reporting) if map is not a mapping. */
static bool walk_map(struct loader *ld, const yaml_node_t *map, const struct table *t, void *base,
		     const char *path, struct seen *seen)
{
	if (map->type != YAML_MAPPING_NODE) {
		config__add_err(ld, map, "%s: expected %s, got %s", *path ? path : "top level",
				t->what, node_kind(map));
		return false;
	}
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *kn = node(ld, pr->key), *v = node(ld, pr->value);
		const char *name;
		char sub[PATH_LEN];
		enum vstate st;
		int i;

		if (kn->type != YAML_SCALAR_NODE) {
			config__add_err(ld, kn, "%s: expected a key name, got %s",
					*path ? path : "top level", node_kind(kn));
			continue;
		}
		name = (const char *)kn->data.scalar.value;
		i = find_key(t, name);
		if (i < 0) {
			unknown_key(ld, kn, t, path, name);
			continue;
		}
		config__join(sub, path, name);
		if (seen->key[i]) {
			config__add_err(ld, kn, "%s: duplicate key (first given at line %d)", sub,
					(int)seen->key[i]->start_mark.line + 1);
			continue;
		}
		seen->key[i] = kn;
		st = setters[t->keys[i].type](ld, &t->keys[i], kn, v, base, sub);
		if (st != V_UNSET)
			seen->val[i] = v;
		seen->bad[i] = st == V_BAD;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Defaults and the whole walk                                         */

void config__set_defaults(struct config *c)
{
	c->defaults.timer_ms = TIMER_DEFAULT_MS;
	c->defaults.min_timer_ms = MIN_TIMER_DEFAULT_MS;
	c->defaults.max_timer_ms = MAX_TIMER_DEFAULT_MS;
	c->defaults.min_approvals = 1;
	c->limits.user_commands_per_minute = 20;
	c->limits.read_window_ms = 10000;
	c->limits.aws_in_flight = 16;
	c->limits.aws_in_flight_per_service = 8;
	c->limits.aws_calls_per_second = 3;
	c->limits.aws_burst = 10;
	c->alarms.wait_seconds = 20;
	c->alarms.flap_window_ms = 30ULL * 60 * 1000;
	c->alarms.reconcile_ms = 5ULL * 60 * 1000;
}

bool config__walk(struct loader *ld)
{
	return walk_map(ld, ld->root, &top_table, ld->cfg, "", &ld->top);
}
