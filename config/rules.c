/* rules.c - after the walk: rules that span fields, and what depends on them.
 *
 * The walk (keys.c) stores each value on its own; what needs more than one
 * value runs here, once the whole file has been read, because defaults:
 * may come after services: in the file. The tokens are loaded (secrets.c),
 * environment overrides and defaults that depend on other fields or on the
 * environment are filled in, the timers are checked against their bounds,
 * each service inherits from defaults: and is checked for what it needs
 * (cluster, max_desired, approvers enough for min_approvals, requesters),
 * each action inherits from its service and is checked the same way, the
 * alarm policy's action must be one the service allows, and services
 * defined twice are reported. A value already reported bad
 * (struct seen) does not make a second error here.
 */
#include "config/config.h"
#include "config/config_int.h"
#include "bot/base/duration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define API_URL_DEFAULT "https://slack.com/api"

static bool given_ok(const struct seen *s, int i) { return s->val[i] && !s->bad[i]; }

static void default_str(struct loader *ld, char **field, const char *value)
{
	if (!*field && value)
		*field = config__xstrdup(ld, value);
}

static const yaml_node_t *first_of(const yaml_node_t *a, const yaml_node_t *b,
				   const yaml_node_t *c)
{
	return a ? a : b ? b : c;
}

static void finish_slack(struct loader *ld)
{
	struct config *c = ld->cfg;
	const struct seen *s = &ld->sec[TOP_SLACK];
	const yaml_node_t *sect = ld->top.key[TOP_SLACK];
	const char *env = getenv("SLACK_API_URL");

	config__load_secret(ld, &c->slack.app_token, "app_token", "SLACK_APP_TOKEN", "xapp-",
			    "an app-level token",
			    first_of(s->val[SL_APP_ENV], s->val[SL_APP_FILE], sect));
	config__load_secret(ld, &c->slack.bot_token, "bot_token", "SLACK_BOT_TOKEN", "xoxb-",
			    "a bot token", first_of(s->val[SL_BOT_ENV], s->val[SL_BOT_FILE], sect));
	if (env && *env) {
		const char *why = config__url_refusal(ld, env);
		if (why) {
			/* from the environment: the value is not shown */
			config__add_err(ld, NULL, "environment variable SLACK_API_URL: %s", why);
		} else {
			free(c->slack.api_url);
			c->slack.api_url = config__xstrdup(ld, env);
		}
	}
	default_str(ld, &c->slack.api_url, API_URL_DEFAULT);
}

static void finish_aws(struct loader *ld)
{
	struct config *c = ld->cfg;
	const char *region = getenv("AWS_REGION");

	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region)
		region = "us-east-1";
	default_str(ld, &c->aws.region, region);
	default_str(ld, &c->aws.role_session_name, "chatops-bot");
}

static void fmt_ms(char *buf, uint64_t ms)
{
	/* DURATION_FMT_MAX always fits. */
	(void)duration_format(ms, buf, DURATION_FMT_MAX);
}

static bool timer_bounds_ok(const struct loader *ld)
{
	const struct seen *d = &ld->sec[TOP_DEFAULTS];
	return !d->bad[DF_MIN_TIMER] && !d->bad[DF_MAX_TIMER] &&
	       ld->cfg->defaults.min_timer_ms <= ld->cfg->defaults.max_timer_ms;
}

/* Report a timer outside [min_timer, max_timer] at node at. */
static void check_timer(struct loader *ld, const yaml_node_t *at, const char *path, uint64_t ms)
{
	const struct config *c = ld->cfg;
	char v[DURATION_FMT_MAX], lo[DURATION_FMT_MAX], hi[DURATION_FMT_MAX];

	if (!timer_bounds_ok(ld) || (ms >= c->defaults.min_timer_ms && ms <= c->defaults.max_timer_ms))
		return;
	fmt_ms(v, ms);
	fmt_ms(lo, c->defaults.min_timer_ms);
	fmt_ms(hi, c->defaults.max_timer_ms);
	config__add_err(ld, at, "%s: %s is outside the allowed range %s to %s (defaults.min_timer "
			"and defaults.max_timer)", path, v, lo, hi);
}

static void finish_defaults(struct loader *ld)
{
	struct config *c = ld->cfg;
	const struct seen *d = &ld->sec[TOP_DEFAULTS];
	char lo[DURATION_FMT_MAX], hi[DURATION_FMT_MAX];

	if (!d->bad[DF_MIN_TIMER] && !d->bad[DF_MAX_TIMER] &&
	    c->defaults.min_timer_ms > c->defaults.max_timer_ms) {
		fmt_ms(lo, c->defaults.min_timer_ms);
		fmt_ms(hi, c->defaults.max_timer_ms);
		config__add_err(ld, first_of(d->val[DF_MAX_TIMER], d->val[DF_MIN_TIMER], NULL),
				"defaults.max_timer: %s is shorter than defaults.min_timer (%s)",
				hi, lo);
	}
	if (!d->bad[DF_TIMER])
		check_timer(ld, first_of(d->val[DF_TIMER], d->val[DF_MIN_TIMER], d->val[DF_MAX_TIMER]),
			    "defaults.timer", c->defaults.timer_ms);
}

/* Enough approvers for min_approvals (the service's, or an action's,
 * named p, reported at node at); inherit names where they could be added. */
static void check_approvers(struct loader *ld, const yaml_node_t *at, const char *p,
			    const struct config_users *u, int min_approvals, bool approvers_bad,
			    bool approvals_bad, const char *inherit)
{
	if (!approvers_bad && u->n == 0)
		config__add_err(ld, at, "%s: no approvers; add approvers here or in %s", p,
				inherit);
	else if (!approvers_bad && !approvals_bad && (size_t)min_approvals > u->n)
		config__add_err(ld, at, "%s: min_approvals is %d but only %zu approver%s "
				"listed, so no request could ever be approved", p, min_approvals,
				u->n, u->n == 1 ? " is" : "s are");
}

/* The actions: one scale row when absent; what an action does not give
 * is the service's (lists shared, not copied: see action_free, api.c); an
 * action that gives approvers, min_approvals, requesters or a timer is
 * checked as a service is. */
static void finish_actions(struct loader *ld, struct svc_tmp *t, const char *p,
			   bool approvers_bad, bool approvals_bad)
{
	struct config_service *s = &t->s;
	char ap[PATH_LEN], tp[PATH_LEN];

	if (!t->seen.val[SV_ACTIONS]) {
		s->actions = calloc(1, sizeof *s->actions);
		t->acts = calloc(1, sizeof *t->acts);
		if (!s->actions || !t->acts || !(s->actions[0].kind = config__xstrdup(ld, "scale"))) {
			ld->oom = true;
			return;
		}
		t->acts[0].key = t->key;
		s->n_actions = 1;
	}
	for (size_t i = 0; i < s->n_actions; i++) {
		struct config_action *a = &s->actions[i];
		const struct seen *as = &t->acts[i].seen;
		const yaml_node_t *at = t->acts[i].key;

		config__join(tp, p, "actions");
		config__join(ap, tp, a->kind);
		if (!as->val[AC_APPROVERS])
			a->approvers = s->approvers;
		if (!as->val[AC_REQUESTERS])
			a->requesters = s->requesters;
		if (!as->val[AC_MIN_APPROVALS])
			a->min_approvals = s->min_approvals;
		if (!as->val[AC_ALLOW_SELF])
			a->allow_self_approval = s->allow_self_approval;
		if (!as->val[AC_TIMER]) {
			a->timer_ms = s->timer_ms;
		} else if (given_ok(as, AC_TIMER)) {
			config__join(tp, ap, "timer");
			check_timer(ld, as->val[AC_TIMER], tp, a->timer_ms);
		}
		if (as->val[AC_APPROVERS] || as->val[AC_MIN_APPROVALS])
			check_approvers(ld, at, ap, &a->approvers, a->min_approvals,
					as->val[AC_APPROVERS] ? as->bad[AC_APPROVERS] : approvers_bad,
					as->val[AC_MIN_APPROVALS] ? as->bad[AC_MIN_APPROVALS]
								   : approvals_bad, p);
		if (given_ok(as, AC_REQUESTERS) && a->requesters.n == 0)
			config__add_err(ld, at, "%s: nobody could request this action; add "
					"requesters (use '*' for anyone) or leave them to %s", ap, p);
	}
}

/* The on_alarm_* policy: which action (scale with a target; restart or
 * rollback without), one the service allows; for scale one way to pick
 * the target, a target the service may have; a timer within the bounds
 * (default: the action's timer), a cooldown. */
static void finish_alarm_policy(struct loader *ld, struct svc_tmp *t, const char *p)
{
	struct config_service *s = &t->s;
	const struct seen *se = &t->seen;
	const yaml_node_t *scale = first_of(se->val[SV_OA_SCALE_TO], se->val[SV_OA_SCALE_BY], NULL);
	const struct config_action *act;
	char tp[PATH_LEN];

	if (given_ok(se, SV_OA_ACTION)) {
		if (strcmp(s->on_alarm_action, "scale") == 0 && !scale)
			config__add_err(ld, se->val[SV_OA_ACTION], "%s.on_alarm_action: scale needs "
					"on_alarm_scale_to or on_alarm_scale_by (the target)", p);
		else if (strcmp(s->on_alarm_action, "scale") != 0 && scale)
			config__add_err(ld, scale, "%s.%s: on_alarm_scale_* only goes with scale "
					"(on_alarm_action is %s)", p, se->val[SV_OA_SCALE_TO]
					? "on_alarm_scale_to" : "on_alarm_scale_by", s->on_alarm_action);
	} else if (scale && !se->val[SV_OA_ACTION]) {
		s->on_alarm_action = config__xstrdup(ld, "scale");
	}
	act = config_action_find(s, s->on_alarm_action);
	if (s->on_alarm_action && !act && !se->bad[SV_ACTIONS])
		config__add_err(ld, first_of(se->val[SV_OA_ACTION], scale, t->key), "%s: the alarm "
				"policy proposes %s, which is not in the service's actions; add it "
				"to actions", p, s->on_alarm_action);
	if (given_ok(se, SV_OA_SCALE_BY))
		s->on_alarm_factor = strtod(s->on_alarm_scale_by, NULL);
	if (se->val[SV_OA_SCALE_TO] && se->val[SV_OA_SCALE_BY])
		config__add_err(ld, se->val[SV_OA_SCALE_BY], "%s.on_alarm_scale_by: give "
				"on_alarm_scale_to or on_alarm_scale_by, not both", p);
	else if (given_ok(se, SV_OA_SCALE_TO) && given_ok(se, SV_MAX_DESIRED) &&
		 (s->on_alarm_scale_to > s->max_desired || s->on_alarm_scale_to < s->min_desired))
		config__add_err(ld, se->val[SV_OA_SCALE_TO], "%s.on_alarm_scale_to: must be between "
				"min_desired (%d) and max_desired (%d), got %d", p, s->min_desired,
				s->max_desired, s->on_alarm_scale_to);
	if (!se->val[SV_OA_TIMER])
		s->on_alarm_timer_ms = act ? act->timer_ms : s->timer_ms;
	else if (given_ok(se, SV_OA_TIMER)) {
		config__join(tp, p, "on_alarm_timer");
		check_timer(ld, se->val[SV_OA_TIMER], tp, s->on_alarm_timer_ms);
	}
	if (!se->val[SV_OA_COOLDOWN])
		s->on_alarm_cooldown_ms = 30ULL * 60 * 1000;
	if ((se->val[SV_OA_TIMER] || se->val[SV_OA_COOLDOWN]) && !scale && !se->val[SV_OA_ACTION])
		config__add_err(ld, se->val[SV_OA_TIMER] ? se->val[SV_OA_TIMER]
			       : se->val[SV_OA_COOLDOWN], "%s: on_alarm_timer and on_alarm_cooldown "
				"need on_alarm_action, on_alarm_scale_to or on_alarm_scale_by (the "
				"policy is off)", p);
}

static void finish_service(struct loader *ld, struct svc_tmp *t)
{
	struct config *c = ld->cfg;
	struct config_service *s = &t->s;
	const struct seen *se = &t->seen, *d = &ld->sec[TOP_DEFAULTS];
	char p[PATH_LEN], tp[PATH_LEN];
	bool approvers_bad, approvals_bad;

	snprintf(p, sizeof p, "services.%s", s->name);
	config__join(tp, p, "timer");
	if (!se->val[SV_CLUSTER])
		config__add_err(ld, t->key, "%s: missing required key 'cluster' (the ECS cluster "
				"name or ARN)", p);
	if (!se->val[SV_MAX_DESIRED])
		config__add_err(ld, t->key, "%s: missing required key 'max_desired' (the highest "
				"desired count a request may set, 0 to 10000)", p);
	else if (given_ok(se, SV_MAX_DESIRED) && !se->bad[SV_MIN_DESIRED] &&
		 s->max_desired < s->min_desired)
		config__add_err(ld, se->val[SV_MAX_DESIRED], "%s.max_desired: must be at least "
				"min_desired (%d), got %d", p, s->min_desired, s->max_desired);
	default_str(ld, &s->ecs_service, s->name);

	/* Inherited lists are shared with defaults, not copied: a copy per
	 * service would make a long defaults list cost services x entries. */
	if (!se->val[SV_APPROVERS])
		s->approvers = c->defaults.approvers;
	if (!se->val[SV_REQUESTERS])
		s->requesters = c->defaults.requesters;
	if (!se->val[SV_TIMER])
		s->timer_ms = c->defaults.timer_ms;
	else if (given_ok(se, SV_TIMER))
		check_timer(ld, se->val[SV_TIMER], tp, s->timer_ms);
	if (!se->val[SV_MIN_APPROVALS])
		s->min_approvals = c->defaults.min_approvals;
	if (!se->val[SV_ALLOW_SELF])
		s->allow_self_approval = c->defaults.allow_self_approval;
	default_str(ld, &s->channel, c->defaults.channel);
	default_str(ld, &s->region, c->aws.region);

	approvers_bad = se->val[SV_APPROVERS] ? se->bad[SV_APPROVERS] : d->bad[DF_APPROVERS];
	approvals_bad = se->val[SV_MIN_APPROVALS] ? se->bad[SV_MIN_APPROVALS]
						  : d->bad[DF_MIN_APPROVALS];
	check_approvers(ld, t->key, p, &s->approvers, s->min_approvals, approvers_bad,
			approvals_bad, "defaults.approvers");
	finish_actions(ld, t, p, approvers_bad, approvals_bad);
	finish_alarm_policy(ld, t, p);
	if (c->alarms.queue_url && !s->channel)
		config__add_err(ld, t->key, "%s: alarm posts need a channel (alarms.queue_url is "
				"set); add channel here or defaults.channel", p);
	if (s->requesters.n == 0 &&
	    !(se->val[SV_REQUESTERS] ? se->bad[SV_REQUESTERS] : d->bad[DF_REQUESTERS]))
		config__add_err(ld, t->key, "%s: nobody could request this service; add requesters "
				"here or in defaults.requesters (use '*' for anyone)", p);
}

static int svc_cmp(const void *a, const void *b)
{
	const struct svc_tmp *x = a, *y = b;
	return strcmp(x->s.name ? x->s.name : "", y->s.name ? y->s.name : "");
}

/* An alarm name (or prefix) belongs to one service: listed under two, its
 * alarms would go to whichever was found first. (Overlapping prefixes are
 * fine: the longest match wins.) */
static void check_alarm_names(struct loader *ld)
{
	for (size_t i = 0; i < ld->n_svcs; i++) {
		const struct svc_tmp *a = &ld->svcs[i];
		for (size_t j = i + 1; j < ld->n_svcs; j++) {
			const struct svc_tmp *b = &ld->svcs[j];
			for (size_t x = 0; x < a->s.alarms.n; x++)
				for (size_t y = 0; y < b->s.alarms.n; y++) {
					if (strcmp(a->s.alarms.ids[x], b->s.alarms.ids[y]) != 0)
						continue;
					/* (no value quoted: it may come from the environment) */
					config__add_err(ld, b->seen.val[SV_ALARMS], "services.%s.alarms[%zu]: "
							"already listed under services.%s; an alarm "
							"belongs to one service", b->s.name, y, a->s.name);
				}
		}
	}
}

static void finish_services(struct loader *ld)
{
	if (ld->n_svcs == 0 && !ld->top.bad[TOP_SERVICES]) {
		config__add_err(ld, ld->top.key[TOP_SERVICES] ? ld->top.key[TOP_SERVICES]
				: ld->root, "services: at least one service is required (services: "
				"{NAME: {cluster: ..., max_desired: ...}})");
		return;
	}
	if (ld->oom || ld->n_svcs == 0)
		return;
	qsort(ld->svcs, ld->n_svcs, sizeof *ld->svcs, svc_cmp);
	for (size_t i = 1; i < ld->n_svcs; i++) {
		struct svc_tmp *a = &ld->svcs[i - 1], *b = &ld->svcs[i];
		if (strcmp(a->s.name, b->s.name) != 0)
			continue;
		/* Report at the later one, naming the earlier. */
		if (b->key->start_mark.index < a->key->start_mark.index) {
			struct svc_tmp *tmp = a;
			a = b;
			b = tmp;
		}
		config__add_err(ld, b->key, "services.%s: service defined twice (first at line %d)",
				b->s.name, (int)a->key->start_mark.line + 1);
		a->skip = b->skip = true;
	}
	for (size_t i = 0; i < ld->n_svcs; i++)
		if (!ld->svcs[i].skip)
			finish_service(ld, &ld->svcs[i]);
	check_alarm_names(ld);
}

/* The keys of one backend are refused with the other: a table named in a
 * SQLite config (or a path in a DynamoDB one) would be silently unused, and
 * the reader would believe the store is where the key says. */
static void finish_store(struct loader *ld)
{
	static const struct {
		int key;
		const char *name, *why;
	} sqlite_only[] = {
		{ST_PATH, "path", "the DynamoDB store is store.table; remove path"},
	}, dynamodb_only[] = {
		{ST_TABLE, "table", "only with backend: dynamodb"},
		{ST_REGION, "region", "only with backend: dynamodb"},
		{ST_ENDPOINT, "endpoint", "only with backend: dynamodb"},
	};
	struct config *c = ld->cfg;
	const struct seen *s = &ld->sec[TOP_STORE];
	bool ddb;

	if (s->bad[ST_BACKEND])
		return; /* already reported; which keys fit is unknown */
	ddb = c->store.backend && strcmp(c->store.backend, "dynamodb") == 0;
	if (ddb) {
		for (size_t i = 0; i < BOT_ARRAY_LEN(sqlite_only); i++)
			if (s->val[sqlite_only[i].key])
				config__add_err(ld, s->key[sqlite_only[i].key], "store.%s: is for "
						"backend: sqlite (%s)", sqlite_only[i].name,
						sqlite_only[i].why);
		if (!s->val[ST_TABLE])
			config__add_err(ld, first_of(s->key[ST_BACKEND], ld->top.key[TOP_STORE],
						     NULL),
					"store: missing required key 'table' (the DynamoDB table "
					"of the store, made by chatops-bot store init)");
		default_str(ld, &c->store.region, c->aws.region);
		return;
	}
	for (size_t i = 0; i < BOT_ARRAY_LEN(dynamodb_only); i++)
		if (s->val[dynamodb_only[i].key])
			config__add_err(ld, s->key[dynamodb_only[i].key], "store.%s: %s (the "
					"backend is sqlite)", dynamodb_only[i].name,
					dynamodb_only[i].why);
	default_str(ld, &c->store.path, "chatops.db");
}

void config__finish(struct loader *ld)
{
	finish_slack(ld);
	finish_aws(ld);
	finish_defaults(ld);
	finish_services(ld);
	default_str(ld, &ld->cfg->store.backend, "sqlite");
	finish_store(ld);
	default_str(ld, &ld->cfg->log.level, "info");
}
