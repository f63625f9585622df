/* api.c - config.h's functions, and the order in which a load runs.
 *
 * (Not called config.c: unit.layering counts config.c and config.h as one
 * module, and this file includes config_int.h, which includes config.h.)
 *
 * load_buf runs one load. The text is checked against bounds and parsed
 * into a libyaml document, which keeps the position of every node
 * (load.c). The document is walked against the key tables, and each value
 * is converted, checked and stored (keys.c). Then the rules that span
 * fields run (rules.c), because defaults: may come after services: in the
 * file. ${VAR} expansion and the tokens are in secrets.c. A problem is
 * recorded with its position and the load goes on, so one run reports
 * everything; the error list, kept here, is sorted into file order last.
 */
#include "config/config.h"
#include "config/config_int.h"
#include "bot/base/log.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define ERRORS_MAX      100           /* then "... and N more" */

/* ------------------------------------------------------------------ */
/* Errors                                                              */

static void __attribute__((format(printf, 4, 0)))
verr(struct loader *ld, int line, int col, const char *fmt, va_list ap)
{
	struct config_errors *e = ld->errs;
	struct bot_error *v;

	if (e->n >= ERRORS_MAX) {
		ld->dropped++;
		return;
	}
	v = realloc(e->v, (e->n + 1) * sizeof *v);
	if (!v) {
		ld->oom = true;
		return;
	}
	e->v = v;
	bot_error_setv(&v[e->n], BOT_ECONFIG, fmt, ap);
	v[e->n].file = e->name_;
	v[e->n].line = line;
	v[e->n].col = col;
	e->n++;
}

void config__add_err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, n ? (int)n->start_mark.line + 1 : 0, n ? (int)n->start_mark.column + 1 : 0,
	     fmt, ap);
	va_end(ap);
}

void config__add_err_at(struct loader *ld, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, line, col, fmt, ap);
	va_end(ap);
}

/* File-level errors (line 0) sort after positioned ones. */
static long err_rank(const struct bot_error *e)
{
	return e->line > 0 ? (long)e->line * 100000L + e->col : LONG_MAX;
}

/* Stable insertion sort into file order; the list is short (ERRORS_MAX). */
static void sort_errors(struct config_errors *e)
{
	for (size_t i = 1; i < e->n; i++) {
		struct bot_error tmp = e->v[i];
		size_t j = i;
		while (j > 0 && err_rank(&e->v[j - 1]) > err_rank(&tmp)) {
			e->v[j] = e->v[j - 1];
			j--;
		}
		e->v[j] = tmp;
	}
}

static int errors_init(struct config_errors *errs, const char *name)
{
	errs->v = NULL;
	errs->n = 0;
	errs->name_ = strdup(name ? name : "(config)");
	return errs->name_ ? BOT_EOK : BOT_ENOMEM;
}

/* Add the overflow note, sort, and pick the return code. */
static int finish_errors(struct loader *ld, int rc)
{
	sort_errors(ld->errs);
	if (ld->dropped) {
		size_t d = ld->dropped;
		ld->dropped = 0;
		ld->errs->n--; /* make room for the note in place of the last one */
		config__add_err_at(ld, 0, 0, "... and %zu more problem%s not shown", d + 1,
				   d + 1 == 1 ? "" : "s");
	}
	if (ld->oom)
		return BOT_ENOMEM;
	if (rc == BOT_EOK && ld->errs->n)
		rc = BOT_ECONFIG;
	return rc;
}

char *config__xstrdup(struct loader *ld, const char *s)
{
	char *d = strdup(s);
	if (!d)
		ld->oom = true;
	return d;
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */

static void ids_free(char ***ids, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*ids)[i]);
	free(*ids);
	*ids = NULL;
	*n = 0;
}

static void users_free(struct config_users *u) { ids_free(&u->ids, &u->n); }

/* An action owns the lists it gave; the others are the service's (see
 * finish_actions, rules.c). */
static void action_free(const struct config_service *s, struct config_action *a)
{
	free(a->kind);
	if (a->approvers.ids != s->approvers.ids)
		users_free(&a->approvers);
	if (a->requesters.ids != s->requesters.ids)
		users_free(&a->requesters);
}

/* c owns the defaults lists that s may share (see finish_service, rules.c). */
static void service_free(const struct config *c, struct config_service *s)
{
	for (size_t i = 0; i < s->n_actions; i++)
		action_free(s, &s->actions[i]);
	free(s->actions);
	free(s->on_alarm_action);
	free(s->name);
	free(s->cluster);
	free(s->ecs_service);
	if (s->approvers.ids != c->defaults.approvers.ids)
		users_free(&s->approvers);
	if (s->requesters.ids != c->defaults.requesters.ids)
		users_free(&s->requesters);
	free(s->sns_topic_arn);
	free(s->channel);
	free(s->region);
	ids_free(&s->alarms.ids, &s->alarms.n);
	free(s->on_alarm_scale_by);
}

static void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	config__secret_free(&c->slack.app_token);
	config__secret_free(&c->slack.bot_token);
	free(c->slack.api_url);
	free(c->slack.ca_file);
	free(c->slack.app_id);
	ids_free(&c->slack.allowed_channels.ids, &c->slack.allowed_channels.n);
	free(c->aws.region);
	free(c->aws.endpoint_url);
	free(c->aws.role_arn);
	free(c->aws.role_session_name);
	free(c->aws.profile);
	for (size_t i = 0; i < c->n_services; i++)
		service_free(c, &c->services[i]);
	users_free(&c->defaults.approvers);
	users_free(&c->defaults.requesters);
	free(c->defaults.channel);
	free(c->services);
	free(c->store.path);
	free(c->store.backend);
	free(c->store.table);
	free(c->store.region);
	free(c->store.endpoint);
	free(c->http.listen);
	free(c->alarms.queue_url);
	free(c->log.level);
	free(c);
}

/* Move the services into the config (whatever happened, so config_free
 * owns them). */
static void take_services(struct loader *ld)
{
	struct config *c = ld->cfg;

	if (ld->n_svcs) {
		c->services = calloc(ld->n_svcs, sizeof *c->services);
		if (!c->services) {
			ld->oom = true;
			for (size_t i = 0; i < ld->n_svcs; i++)
				service_free(c, &ld->svcs[i].s);
		} else {
			for (size_t i = 0; i < ld->n_svcs; i++)
				c->services[i] = ld->svcs[i].s;
			c->n_services = ld->n_svcs;
		}
	}
	for (size_t i = 0; i < ld->n_svcs; i++)
		free(ld->svcs[i].acts);
	free(ld->svcs);
	ld->svcs = NULL;
	ld->n_svcs = 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

static int load_buf(const char *name, const char *buf, size_t len, unsigned flags,
		    struct config **out, struct config_errors *errs)
{
	struct loader ld = {.flags = flags, .errs = errs};
	yaml_document_t doc;
	int rc = BOT_EOK;

	ld.cfg = calloc(1, sizeof *ld.cfg);
	if (!ld.cfg || !(ld.cfg->path = strdup(name))) {
		ld.oom = true;
		goto out_nodoc;
	}
	ld.cfg->refs = 1;
	config__set_defaults(ld.cfg);
	if (!config__parse(&ld, buf, len, &doc))
		goto out_nodoc;
	ld.doc = &doc;
	ld.root = yaml_document_get_root_node(&doc);
	if (!ld.root) {
		config__add_err_at(&ld, 1, 1, "the file is empty; expected a mapping with at "
				   "least a services: section");
	} else if (config__walk(&ld)) {
		config__finish(&ld);
	}
	take_services(&ld);
	yaml_document_delete(&doc);
out_nodoc:
	rc = finish_errors(&ld, rc);
	if (rc == BOT_EOK)
		*out = ld.cfg;
	else
		config_free(ld.cfg);
	return rc;
}

int config_load(const char *path, unsigned flags, struct config **out,
		struct config_errors *errs)
{
	struct config_errors local = {0};
	struct loader ld = {.errs = errs ? errs : &local};
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (out)
		*out = NULL;
	if (!path || !out)
		return BOT_EINVAL;
	rc = errors_init(ld.errs, path);
	if (rc)
		goto out;
	rc = config__read_file(&ld, path, &buf, &len);
	if (rc) {
		rc = finish_errors(&ld, rc);
		goto out;
	}
	rc = load_buf(path, buf, len, flags, out, ld.errs);
out:
	free(buf);
	if (ld.errs == &local)
		config_errors_free(&local);
	return rc;
}

int config_load_string(const char *name, const char *yaml, unsigned flags,
		       struct config **out, struct config_errors *errs)
{
	struct config_errors local = {0};
	struct config_errors *e = errs ? errs : &local;
	int rc;

	if (out)
		*out = NULL;
	if (!yaml || !out)
		return BOT_EINVAL;
	if (!name)
		name = "(string)";
	rc = errors_init(e, name);
	if (rc == BOT_EOK)
		rc = load_buf(name, yaml, strlen(yaml), flags, out, e);
	if (e == &local)
		config_errors_free(&local);
	return rc;
}

/* ------------------------------------------------------------------ */
/* References, errors and lookups                                      */

struct config *config_ref(struct config *c)
{
	if (c)
		c->refs++;
	return c;
}

void config_unref(struct config *c)
{
	if (c && --c->refs == 0)
		config_free(c);
}

void config_errors_free(struct config_errors *errs)
{
	if (!errs)
		return;
	free(errs->v);
	free(errs->name_);
	errs->v = NULL;
	errs->n = 0;
	errs->name_ = NULL;
}

void config_errors_print(const struct config_errors *errs, void *FILE_f)
{
	FILE *f = FILE_f;

	for (size_t i = 0; errs && f && i < errs->n; i++) {
		const struct bot_error *e = &errs->v[i];
		/* Messages never hold secret values; redact anyway as a last guard. */
		char *msg = log_redact(e->msg);
		const char *file = e->file ? e->file : "config";

		if (e->line > 0)
			fprintf(f, "%s:%d:%d: %s\n", file, e->line, e->col, msg ? msg : e->msg);
		else
			fprintf(f, "%s: %s\n", file, msg ? msg : e->msg);
		free(msg);
	}
}

/* The one list of action names; a unit test checks it against the
 * domain's action table. */
static const char *const action_kinds[] = {"scale", "restart", "rollback"};

const char *const *config_action_kinds(size_t *n)
{
	if (n)
		*n = BOT_ARRAY_LEN(action_kinds);
	return action_kinds;
}

const struct config_action *config_action_find(const struct config_service *svc,
					       const char *kind)
{
	for (size_t i = 0; svc && kind && i < svc->n_actions; i++)
		if (svc->actions[i].kind && strcmp(svc->actions[i].kind, kind) == 0)
			return &svc->actions[i];
	return NULL;
}

static int service_name_cmp(const void *key, const void *elem)
{
	const struct config_service *s = elem;
	return strcmp(key, s->name);
}

const struct config_service *config_service_find(const struct config *c, const char *name)
{
	if (!c || !name || !c->n_services)
		return NULL;
	return bsearch(name, c->services, c->n_services, sizeof *c->services, service_name_cmp);
}

/* "arn:aws:ecs:us-east-1:123:cluster/prod" names cluster "prod". */
static bool cluster_is(const char *configured, const char *dim)
{
	const char *slash;

	if (strcmp(configured, dim) == 0)
		return true;
	slash = strncmp(configured, "arn:", 4) == 0 ? strrchr(configured, '/') : NULL;
	return slash && strcmp(slash + 1, dim) == 0;
}

const struct config_service *config_service_for_alarm(const struct config *c,
						      const char *alarm_name,
						      const char *cluster_dim,
						      const char *service_dim)
{
	const struct config_service *best = NULL;
	size_t best_len = 0;

	if (!c)
		return NULL;
	for (size_t i = 0; alarm_name && i < c->n_services; i++) {
		const struct config_names *l = &c->services[i].alarms;
		for (size_t j = 0; j < l->n; j++) {
			size_t n = strlen(l->ids[j]);
			if (strcmp(l->ids[j], alarm_name) == 0)
				return &c->services[i];
			if (l->ids[j][n - 1] == '*' && n - 1 > best_len &&
			    strncmp(l->ids[j], alarm_name, n - 1) == 0) {
				best = &c->services[i];
				best_len = n - 1;
			}
		}
	}
	if (best || !service_dim)
		return best;
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_service *s = &c->services[i];
		if (strcmp(s->ecs_service, service_dim) == 0 &&
		    (!cluster_dim || cluster_is(s->cluster, cluster_dim)))
			return s;
	}
	return NULL;
}

bool config_channel_allowed(const struct config *c, const char *channel)
{
	const struct config_channels *l = c ? &c->slack.allowed_channels : NULL;

	if (!l || l->n == 0)
		return true;
	for (size_t i = 0; channel && i < l->n; i++)
		if (strcmp(l->ids[i], channel) == 0)
			return true;
	return false;
}

bool config_users_has(const struct config_users *u, const char *id, bool allow_star)
{
	for (size_t i = 0; u && id && i < u->n; i++)
		if (strcmp(u->ids[i], id) == 0 || (allow_star && strcmp(u->ids[i], "*") == 0))
			return true;
	return false;
}
