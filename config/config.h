/* config.h - the bot's configuration: a YAML file validated fully at start.
 *
 * config_load() reads the whole file and reports every problem it finds,
 * each with file:line:column and what was expected; unknown keys are errors.
 * The file, and any token file, must be a regular file that neither its
 * group nor others may write. Bounds on size (128 KiB), list length, nesting,
 * anchors and alias fan-out keep any load to milliseconds. Error messages
 * never quote a value that came from the environment.
 * Scalars may contain ${VAR} (or ${VAR:-default}) which is expanded from the
 * environment; "$$" is a literal '$'. Secrets (Slack tokens) are never
 * written in the file: they come from an environment variable or a file
 * named in it, are registered with the log redactor on load, and are never
 * printed. An empty value ("", ~, or a ${VAR:-} that expands to nothing)
 * means "not set": the key takes its default, as if it were absent.
 *
 * A loaded config is immutable and reference counted: SIGHUP loads a new
 * one and swaps it in; anything that still holds the old one keeps it alive
 * until config_unref().
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bot/base/error.h"

/* A list of Slack user ids (U.../W...). "*" is allowed in requester lists
 * only and means "anyone in the workspace". */
struct config_users {
	char **ids;
	size_t n;
};

/* A list of CloudWatch alarm names; one ending in '*' is a name prefix. */
struct config_names {
	char **ids;
	size_t n;
};

/* A list of Slack channel ids (C..., G... or D...). */
struct config_channels {
	char **ids;
	size_t n;
};

/* One action a service allows behind the approval gate, with the gate's
 * settings for it. In the file, a service's actions: is a list of names
 * ([scale, restart]) or a mapping of name to overrides of timer,
 * approvers, requesters, min_approvals and allow_self_approval; what is
 * not overridden is the service's (which inherits defaults:). Absent, the
 * service allows scale only. */
struct config_action {
	char *kind;              /* "scale" | "restart" | "rollback" */
	uint64_t timer_ms;       /* the service's if absent */
	struct config_users approvers, requesters; /* the service's if absent */
	int min_approvals;       /* the service's if absent */
	bool allow_self_approval;/* the service's if absent */
};

struct config_service {
	char *name;              /* key under services: (what users type) */
	char *cluster;           /* ECS cluster name or ARN (required) */
	char *ecs_service;       /* ECS service name; defaults to name */
	int min_desired;         /* default 0 */
	int max_desired;         /* required, >= min_desired */
	struct config_users approvers;   /* defaults.approvers if absent */
	struct config_users requesters;  /* defaults.requesters if absent */
	uint64_t timer_ms;       /* defaults.timer if absent */
	int min_approvals;       /* defaults.min_approvals if absent */
	bool allow_self_approval;/* defaults.allow_self_approval if absent */
	char *sns_topic_arn;     /* optional; NULL when absent */
	char *channel;           /* optional channel id for approval cards */
	char *region;            /* optional; aws.region if absent */
	/* CloudWatch alarms that are this service's (alarm intake): by name,
	 * or by prefix ("web-*"); an alarm on the ECS dimensions ClusterName
	 * and ServiceName of this service is its own without being listed. */
	struct config_names alarms;
	/* Optional policy, off by default: on an ALARM of this service, the
	 * bot opens the approval gate itself (requester: the alarm), to
	 * on_alarm_scale_to tasks, or the current desired count times
	 * on_alarm_scale_by (rounded up, at least one more), within
	 * max_desired; with on_alarm_timer (default: timer); at most one
	 * proposal per on_alarm_cooldown (default 30 min). */
	int on_alarm_scale_to;      /* 0 = not set */
	char *on_alarm_scale_by;    /* as written ("2", "1.5"); NULL = not set */
	double on_alarm_factor;     /* on_alarm_scale_by's value; 0 = not set */
	uint64_t on_alarm_timer_ms; /* default: on_alarm_action's timer */
	uint64_t on_alarm_cooldown_ms;
	/* The action the policy proposes: NULL when the policy is off;
	 * "scale" when on_alarm_scale_to or on_alarm_scale_by is set (the
	 * only action they go with); else on_alarm_action as written
	 * ("restart", "rollback"). Always one of actions. */
	char *on_alarm_action;
	/* The actions allowed, in file order; n_actions >= 1 (absent in the
	 * file: one "scale" row with the service's settings). */
	struct config_action *actions;
	size_t n_actions;
};

/* Does svc propose an action (on_alarm_action) on its alarms? */
static inline int config_alarm_policy_on(const struct config_service *svc)
{
	return svc->on_alarm_action != NULL;
}

/* The action names a config may allow, in one list (n set to its length;
 * borrowed, static): "scale", "restart", "rollback". */
const char *const *config_action_kinds(size_t *n);
/* svc's settings for action kind; NULL if svc does not allow it (or either
 * is NULL). Borrowed from the config. */
const struct config_action *config_action_find(const struct config_service *svc,
					       const char *kind);

enum config_secret_source {
	CONFIG_SECRET_NONE = 0,
	CONFIG_SECRET_ENV,
	CONFIG_SECRET_FILE,
};

struct config_secret {
	enum config_secret_source source;
	char *ref;    /* env var name or file path */
	char *value;  /* the secret (never print); NULL if not loaded */
	char *shown_; /* private: how messages name ref when it came from ${VAR} */
};

struct config {
	char *path;   /* the file it came from */

	struct {
		struct config_secret app_token;  /* xapp-...; env SLACK_APP_TOKEN by default */
		struct config_secret bot_token;  /* xoxb-...; env SLACK_BOT_TOKEN by default */
		char *api_url;   /* default https://slack.com/api; env SLACK_API_URL overrides */
		char *ca_file;   /* optional extra CA bundle (added to system CAs) */
		/* Optional: the app's id (A...). When set, envelopes and the app
		 * token must be from this app; NULL: learn it when connecting. */
		char *app_id;
		/* Channels where commands are served; n == 0 (absent or []) means
		 * every channel. See config_channel_allowed(). */
		struct config_channels allowed_channels;
		/* Serve users from another organisation in a shared channel (Slack
		 * Connect)? Default false: they are refused. */
		bool allow_external_users;
	} slack;

	struct {
		char *region;        /* default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
		char *endpoint_url;  /* optional override for every service */
		char *role_arn;      /* optional AssumeRole target */
		char *role_session_name; /* default "chatops-bot" */
		char *profile;       /* optional shared-config profile */
	} aws;

	struct {
		uint64_t timer_ms;       /* default 10 min */
		uint64_t min_timer_ms;   /* default 1 min: shortest --timer accepted */
		uint64_t max_timer_ms;   /* default 7 days: longest --timer accepted */
		struct config_users approvers;
		struct config_users requesters;
		bool allow_self_approval; /* default false */
		int min_approvals;        /* default 1 */
		char *channel;            /* optional default channel */
	} defaults;

	struct config_service *services;
	size_t n_services;

	struct {
		char *backend;  /* "sqlite" (default) or "dynamodb" */
		char *path;     /* sqlite: default "chatops.db" (relative to the working
		                 * dir); NULL with dynamodb (refused there) */
		char *table;    /* dynamodb: the table (required); NULL with sqlite */
		char *region;   /* dynamodb: default aws.region; NULL with sqlite */
		char *endpoint; /* dynamodb: endpoint override; NULL = AWS_ENDPOINT_URL_DYNAMODB,
		                 * AWS_ENDPOINT_URL, aws.endpoint_url, then AWS's */
	} store;

	struct {
		char *listen; /* "127.0.0.1:9090"; NULL = off (default) */
	} http;

	struct {
		/* Commands (slash commands, mentions, the investigation's
		 * "Scale" button) one user may send per minute; more are refused
		 * with a "try again in N s". 0 = no limit. Default 20. */
		int user_commands_per_minute;
		/* How long a read of a service (ECS, metrics, alarms) is reused
		 * by later /investigate asks (/scale only joins a read in
		 * flight), and a posted report pointed to instead of posted
		 * again. Default 10 s, at most 5 min. */
		uint64_t read_window_ms;
		/* The AWS budget (adapters/aws/budget.h) of ECS, CloudWatch
		 * and SNS requests: at most aws_in_flight at once (16), and
		 * aws_in_flight_per_service to one service endpoint (8); per
		 * API, aws_calls_per_second (3) with bursts of aws_burst (10),
		 * retries included. A person's ask beyond it is told to retry
		 * in N s. Read at start. */
		int aws_in_flight, aws_in_flight_per_service;
		int aws_calls_per_second, aws_burst;
	} limits;

	/* The alarm intake (bot/domain/alarm_intake.h): off unless queue_url
	 * is set. */
	struct {
		char *queue_url;          /* SQS queue fed by the alarms' SNS topic or an
		                           * EventBridge rule */
		int wait_seconds;         /* long poll, 1..20; default 20 */
		uint64_t flap_window_ms;  /* an ALARM this soon after OK stays in the
		                           * episode's thread; default 30 min, at most 1 day */
		uint64_t reconcile_ms;    /* DescribeAlarms of the listed alarms this often,
		                           * for transitions the queue missed; default 5 min,
		                           * at most 1 day */
	} alarms;

	struct {
		char *level;  /* "info" by default */
	} log;

	int refs;
};

/* All problems found in one file. */
struct config_errors {
	struct bot_error *v;
	size_t n;
	char *name_;  /* private: owns the file name every v[i].file points at */
};

enum config_flags {
	CONFIG_NEED_SLACK = 1 << 0, /* missing Slack token sources are errors */
};

/* Load and validate path. On success returns 0 and *out (refs = 1). On
 * failure returns BOT_ECONFIG (or BOT_EIO / BOT_ENOMEM) with every problem
 * in errs (caller frees with config_errors_free); *out is NULL. */
int config_load(const char *path, unsigned flags, struct config **out,
		struct config_errors *errs);
/* Same from a string, for tests; name is used in error positions. */
int config_load_string(const char *name, const char *yaml, unsigned flags,
		       struct config **out, struct config_errors *errs);

struct config *config_ref(struct config *c);
void config_unref(struct config *c); /* NULL ok */

void config_errors_free(struct config_errors *errs);
/* Print each error as "file:line:col: message" to f, redacted; an error
 * not tied to a position (line 0: file unreadable, environment) prints as
 * "file: message". Errors come in file order, those without a position last. */
void config_errors_print(const struct config_errors *errs, void *FILE_f);

/* The service an alarm belongs to: one whose alarms list names it (exact
 * name first, then the longest matching prefix), else the one whose cluster
 * and ECS service match the alarm's ClusterName and ServiceName dimensions
 * (either may be NULL; a cluster ARN matches its name). NULL if none. */
const struct config_service *config_service_for_alarm(const struct config *c,
						      const char *alarm_name,
						      const char *cluster_dim,
						      const char *service_dim);
/* Lookup by the user-facing name; NULL if unknown. */
const struct config_service *config_service_find(const struct config *c, const char *name);
/* True if commands may be served in channel: allowed_channels is empty,
 * or lists it. False for a NULL channel when the list is not empty. */
bool config_channel_allowed(const struct config *c, const char *channel);
/* True if id is in list (exact match, or "*" present when allow_star). */
bool config_users_has(const struct config_users *u, const char *id, bool allow_star);

#endif
