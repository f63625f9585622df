/* iam_policy.c - the least-privilege IAM policy for a configuration (see
 * iam_policy.h). Pure: no I/O, no AWS call. */
#include "adapters/aws/iam_policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARN_FIELD_MAX 64

/* ---- a sorted set of owned strings -------------------------------------- */

struct strset {
	char **v;
	size_t n, cap;
	bool oom;
};

/* Takes s (NULL records an allocation failure). */
static void set_take(struct strset *set, char *s)
{
	if (!s) {
		set->oom = true;
		return;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		char **v = realloc(set->v, cap * sizeof *v);
		if (!v) {
			free(s);
			set->oom = true;
			return;
		}
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = s;
}

static void set_addf(struct strset *set, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_addf(struct strset *set, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	set_take(set, s);
}

static void set_clear(struct strset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof *set);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set as a sorted JSON array without duplicates (new reference), or NULL. */
static json_t *set_json(struct strset *set)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	if (set->n > 1) /* qsort's pointer must not be NULL, even for 0 items */
		qsort(set->v, set->n, sizeof *set->v, str_cmp);
	for (size_t i = 0; i < set->n; i++) {
		if (i > 0 && strcmp(set->v[i], set->v[i - 1]) == 0)
			continue;
		if (json_array_append_new(a, json_string(set->v[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* ---- ARNs, partitions, names -------------------------------------------- */

struct arn {
	char partition[ARN_FIELD_MAX], service[ARN_FIELD_MAX], region[ARN_FIELD_MAX],
	     account[ARN_FIELD_MAX];
	const char *resource; /* borrowed from the parsed string */
};

/* "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE"; false when s is not one. */
static bool arn_parse(const char *s, struct arn *a)
{
	char *fields[4] = { a->partition, a->service, a->region, a->account };
	const char *p;

	if (!s || strncmp(s, "arn:", 4) != 0)
		return false;
	p = s + 4;
	for (size_t i = 0; i < 4; i++) {
		const char *colon = strchr(p, ':');
		if (!colon || (size_t)(colon - p) >= ARN_FIELD_MAX)
			return false;
		memcpy(fields[i], p, (size_t)(colon - p));
		fields[i][colon - p] = '\0';
		p = colon + 1;
	}
	a->resource = p;
	return a->partition[0] && a->service[0];
}

bool aws_iam_policy_arn_account(const char *arn, char *buf, size_t n)
{
	struct arn a;

	if (!arn_parse(arn, &a) || !a.account[0] || strlen(a.account) >= n)
		return false;
	memcpy(buf, a.account, strlen(a.account) + 1);
	return true;
}

bool aws_iam_policy_account_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	if (strcmp(s, "*") == 0)
		return true;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n == 12 && s[n] == '\0';
}

/* The partition a region belongs to (regions of other partitions than
 * these are not expected here). */
static const char *partition_of(const char *region)
{
	static const struct { const char *prefix, *partition; } map[] = {
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-iso-", "aws-iso"},
	};

	for (size_t i = 0; i < BOT_ARRAY_LEN(map); i++)
		if (strncmp(region, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].partition;
	return "aws";
}

static bool region_valid(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* '*' and '?' are wildcards in a policy's Resource: a name holding one
 * would grant more than the configuration says. */
static bool has_wildcard(const char *s)
{
	return s && strpbrk(s, "*?") != NULL;
}

/* ---- what the configuration asks for ----------------------------------- */

struct wants {
	struct strset services, clusters, alarms, topics, roles, tables, queues;
	bool task_definitions; /* some service allows rollback */
};

static void wants_clear(struct wants *w)
{
	set_clear(&w->services);
	set_clear(&w->clusters);
	set_clear(&w->alarms);
	set_clear(&w->topics);
	set_clear(&w->roles);
	set_clear(&w->tables);
	set_clear(&w->queues);
}

static bool wants_oom(const struct wants *w)
{
	return w->services.oom || w->clusters.oom || w->alarms.oom || w->topics.oom ||
	       w->roles.oom || w->tables.oom || w->queues.oom;
}

/* Where a service lives: its cluster ARN's fields, else the defaults. */
struct place {
	const char *partition, *region, *account, *cluster;
	struct arn arn;
};

static void place_of(const struct config_service *s, const struct aws_iam_policy_opts *o,
		     struct place *pl)
{
	pl->region = s->region ? s->region : o->region;
	pl->partition = partition_of(pl->region);
	pl->account = o->account;
	pl->cluster = s->cluster;
	if (!arn_parse(s->cluster, &pl->arn) || strncmp(pl->arn.resource, "cluster/", 8) != 0)
		return;
	pl->partition = pl->arn.partition;
	if (pl->arn.region[0])
		pl->region = pl->arn.region;
	if (pl->arn.account[0])
		pl->account = pl->arn.account;
	pl->cluster = pl->arn.resource + 8;
}

static int add_service(struct wants *w, const struct config_service *s,
		       const struct aws_iam_policy_opts *o, struct bot_error *err)
{
	const char *svc = s->ecs_service ? s->ecs_service : s->name;
	struct place pl;

	place_of(s, o, &pl);
	if (!region_valid(pl.region))
		return bot_error_set(err, BOT_EINVAL, "service %s: '%s' is not a region name",
				     s->name, pl.region);
	if (has_wildcard(s->cluster) || has_wildcard(svc) || has_wildcard(s->sns_topic_arn))
		return bot_error_set(err, BOT_EINVAL, "service %s: a cluster, service or topic "
				     "name holds '*' or '?', which IAM reads as a wildcard", s->name);
	set_addf(&w->clusters, "arn:%s:ecs:%s:%s:cluster/%s", pl.partition, pl.region, pl.account,
		 pl.cluster);
	if (strncmp(svc, "arn:", 4) == 0)
		set_take(&w->services, strdup(svc));
	else
		set_addf(&w->services, "arn:%s:ecs:%s:%s:service/%s/%s", pl.partition, pl.region,
			 pl.account, pl.cluster, svc);
	/* CloudWatch is called in the service's region, in the bot's account */
	set_addf(&w->alarms, "arn:%s:cloudwatch:%s:%s:alarm:*", pl.partition, pl.region, o->account);
	if (s->sns_topic_arn)
		set_take(&w->topics, strdup(s->sns_topic_arn));
	/* rollback finds the previous revision; restart is UpdateService alone */
	if (config_action_find(s, "rollback"))
		w->task_definitions = true;
	return BOT_EOK;
}

/* The DynamoDB store's table and its indexes, in store.region (else the
 * default region), in the bot's account. */
static int add_table(struct wants *w, const struct config *cfg,
		     const struct aws_iam_policy_opts *o, struct bot_error *err)
{
	const char *region = cfg->store.region ? cfg->store.region : o->region;
	const char *table = cfg->store.table;

	if (!region_valid(region))
		return bot_error_set(err, BOT_EINVAL, "store.region: '%s' is not a region name",
				     region ? region : "");
	if (!table || !*table || has_wildcard(table))
		return bot_error_set(err, BOT_EINVAL, "store.table: not a table name");
	set_addf(&w->tables, "arn:%s:dynamodb:%s:%s:table/%s", partition_of(region), region,
		 o->account, table);
	set_addf(&w->tables, "arn:%s:dynamodb:%s:%s:table/%s/index/*", partition_of(region),
		 region, o->account, table);
	return BOT_EOK;
}

/* The alarm intake's queue: alarms.queue_url is
 * https://sqs.<region>.amazonaws.com[.cn]/<account>/<name> (or the legacy
 * https://<region>.queue.amazonaws.com/...); a URL naming no region (a
 * local endpoint) is in the default region. Its ARN gets the three calls
 * the intake makes; DescribeAlarms (alarm_states) runs in the default
 * region. */
static int add_queue(struct wants *w, const char *url, const struct aws_iam_policy_opts *o,
		     struct bot_error *err)
{
	char region[ARN_FIELD_MAX] = "", account[ARN_FIELD_MAX], name[128];
	const char *h = strstr(url, "://"), *path, *slash, *r = NULL;
	size_t rl = 0;

	if (!h)
		goto bad;
	h += 3;
	path = h + strcspn(h, "/");
	if (strncmp(h, "sqs.", 4) == 0) {
		r = h + 4;
		rl = strcspn(r, "./");
	} else if (strstr(h, ".queue.amazonaws.com") &&
		   (size_t)(strstr(h, ".queue.amazonaws.com") - h) < (size_t)(path - h)) {
		r = h;
		rl = strcspn(r, "./");
	}
	if (r) {
		if (rl == 0 || rl >= sizeof region || r + rl > path)
			goto bad;
		memcpy(region, r, rl);
		region[rl] = '\0';
	} else {
		snprintf(region, sizeof region, "%s", o->region ? o->region : "");
	}
	/* /<account>/<name> and nothing else */
	if (*path != '/' || !(slash = strchr(path + 1, '/')) || (size_t)(slash - path - 1) >= sizeof account ||
	    strchr(slash + 1, '/') || !slash[1] || strlen(slash + 1) >= sizeof name)
		goto bad;
	memcpy(account, path + 1, (size_t)(slash - path - 1));
	account[slash - path - 1] = '\0';
	snprintf(name, sizeof name, "%s", slash + 1);
	if (!region_valid(region))
		return bot_error_set(err, BOT_EINVAL, "alarms.queue_url: '%s' is not a region name",
				     region);
	if (strcmp(account, "*") == 0 || !aws_iam_policy_account_valid(account) || has_wildcard(name))
		goto bad;
	set_addf(&w->queues, "arn:%s:sqs:%s:%s:%s", partition_of(region), region, account, name);
	set_addf(&w->alarms, "arn:%s:cloudwatch:%s:%s:alarm:*", partition_of(o->region), o->region,
		 o->account);
	return BOT_EOK;
bad:
	return bot_error_set(err, BOT_EINVAL, "alarms.queue_url: not an SQS queue URL "
			     "(https://sqs.<region>.amazonaws.com/<account>/<name>)");
}

static int collect(const struct config *cfg, const struct aws_iam_policy_opts *o,
		   struct wants *w, struct bot_error *err)
{
	int rc = BOT_EOK;

	for (size_t i = 0; i < cfg->n_services && rc == BOT_EOK; i++)
		rc = add_service(w, &cfg->services[i], o, err);
	if (rc == BOT_EOK && cfg->alarms.queue_url && *cfg->alarms.queue_url)
		rc = add_queue(w, cfg->alarms.queue_url, o, err);
	if (rc == BOT_EOK && cfg->store.backend && strcmp(cfg->store.backend, "dynamodb") == 0)
		rc = add_table(w, cfg, o, err);
	if (rc == BOT_EOK && cfg->aws.role_arn) {
		if (has_wildcard(cfg->aws.role_arn))
			rc = bot_error_set(err, BOT_EINVAL, "aws.role_arn holds '*' or '?', which IAM "
					   "reads as a wildcard");
		else
			set_take(&w->roles, strdup(cfg->aws.role_arn));
	}
	if (rc == BOT_EOK && wants_oom(w))
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
	return rc;
}

/* ---- the document -------------------------------------------------------- */

/* Append {Sid, Effect: Allow, Action, Resource}; steals actions and resource
 * (either NULL: an allocation failed). Skips a statement without resources. */
static int add_statement(json_t *stmts, const char *sid, json_t *actions, json_t *resource)
{
	json_t *st;

	if (!actions || !resource) {
		json_decref(actions);
		json_decref(resource);
		return BOT_ENOMEM;
	}
	if (json_is_array(resource) && json_array_size(resource) == 0) {
		json_decref(actions);
		json_decref(resource);
		return BOT_EOK;
	}
	st = json_pack("{s:s, s:s, s:o, s:o}", "Sid", sid, "Effect", "Allow", "Action", actions,
		       "Resource", resource);
	if (!st || json_array_append_new(stmts, st))
		return BOT_ENOMEM;
	return BOT_EOK;
}

static int add_statements(json_t *stmts, struct wants *w)
{
	int rc;

	rc = add_statement(stmts, "EcsServices",
			   json_pack("[s, s]", "ecs:DescribeServices", "ecs:UpdateService"),
			   set_json(&w->services));
	if (!rc)
		rc = add_statement(stmts, "EcsClusters", json_pack("[s]", "ecs:DescribeClusters"),
				   set_json(&w->clusters));
	/* neither action has resource-level permissions: "*" */
	if (!rc && w->task_definitions)
		rc = add_statement(stmts, "EcsTaskDefinitions",
				   json_pack("[s, s]", "ecs:DescribeTaskDefinition",
					     "ecs:ListTaskDefinitions"), json_string("*"));
	if (!rc && w->services.n)
		rc = add_statement(stmts, "CloudWatchMetricData",
				   json_pack("[s]", "cloudwatch:GetMetricData"), json_string("*"));
	if (!rc)
		rc = add_statement(stmts, "CloudWatchAlarms",
				   json_pack("[s]", "cloudwatch:DescribeAlarms"), set_json(&w->alarms));
	if (!rc)
		rc = add_statement(stmts, "SnsPublish", json_pack("[s]", "sns:Publish"),
				   set_json(&w->topics));
	if (!rc)
		rc = add_statement(stmts, "SqsAlarmIntake",
				   json_pack("[s, s, s]", "sqs:ChangeMessageVisibility",
					     "sqs:DeleteMessage", "sqs:ReceiveMessage"),
				   set_json(&w->queues));
	if (!rc)
		rc = add_statement(stmts, "DynamoDBStore",
				   json_pack("[s, s, s, s, s, s, s, s]", "dynamodb:ConditionCheckItem",
					     "dynamodb:DeleteItem", "dynamodb:DescribeTable",
					     "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
					     "dynamodb:Scan", "dynamodb:UpdateItem"),
				   set_json(&w->tables));
	if (!rc)
		rc = add_statement(stmts, "AssumeConfiguredRole", json_pack("[s]", "sts:AssumeRole"),
				   set_json(&w->roles));
	return rc;
}

int aws_iam_policy_build(const struct config *cfg, const struct aws_iam_policy_opts *o,
			 json_t **out, struct bot_error *err)
{
	struct wants w = {{0}};
	json_t *doc = NULL, *stmts = NULL;
	int rc;

	*out = NULL;
	if (!aws_iam_policy_account_valid(o->account)) {
		rc = bot_error_set(err, BOT_EINVAL, "account '%s' is not 12 digits (or '*')",
				   o->account ? o->account : "");
		goto out;
	}
	if (!region_valid(o->region)) {
		rc = bot_error_set(err, BOT_EINVAL, "'%s' is not a region name",
				   o->region ? o->region : "");
		goto out;
	}
	rc = collect(cfg, o, &w, err);
	if (rc)
		goto out;
	stmts = json_array();
	doc = json_pack("{s:s, s:O}", "Version", "2012-10-17", "Statement", stmts);
	if (!stmts || !doc) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	rc = add_statements(stmts, &w);
	if (rc) {
		bot_error_set(err, rc, "out of memory");
		goto out;
	}
	if (json_array_size(stmts) == 0) {
		rc = bot_error_set(err, BOT_EINVAL, "the configuration names nothing to allow");
		goto out;
	}
	*out = doc;
	doc = NULL;
out:
	json_decref(stmts);
	json_decref(doc);
	wants_clear(&w);
	return rc;
}

char *aws_iam_policy_format(const json_t *policy)
{
	char *body = json_dumps(policy, JSON_INDENT(2));
	char *text = NULL;

	if (body && asprintf(&text, "%s\n", body) < 0)
		text = NULL;
	free(body);
	return text;
}
