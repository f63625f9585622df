/* act_rollback.c - rollback: UpdateService to an earlier revision of the
 * service's task definition family, the one before the current revision
 * or the one named with --to (see action.h).
 *
 * At request time the target is found (ListTaskDefinitions of the family,
 * newest first: the first revision older than the current one) and both
 * revisions are described, so the card can show the images that change.
 * Params {"from": ARN, "to": ARN, "images": [{"container", "from", "to"}]}.
 * The call names an absolute task definition, so it is idempotent: it
 * landed once the service runs "to", not while it still runs "from". */
#include "bot/domain/action.h"
#include "bot/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TD_MAX 256
#define IMAGES_SHOWN 3

/* ---- request time ------------------------------------------------------ */

struct prep {
	struct cloud *cloud;
	action_prepared_fn done;
	void *ud;
	char service[128];
	char from[TD_MAX];       /* the service's task definition, as ECS named it */
	char family[TD_MAX];
	int revision;            /* the current one */
	char target[TD_MAX];     /* asked for: "family:N" or an ARN */
	char to[TD_MAX];         /* its ARN, once described */
	json_t *to_images;       /* {container: image} of the target */
};

/* "family:N" (or an ARN ending so) into family and N; false if not. */
static bool split_td(const char *td, char *family, size_t n, int *rev)
{
	char s[TD_MAX];
	const char *short_ = action__td_short(td, s, sizeof s);
	const char *colon = strrchr(short_, ':');
	char *end;
	long v;

	if (!colon || colon == short_ || !colon[1])
		return false;
	v = strtol(colon + 1, &end, 10);
	if (*end || v < 1 || v > 1000000)
		return false;
	snprintf(family, n, "%.*s", (int)(colon - short_), short_);
	*rev = (int)v;
	return true;
}

static void refuse(struct prep *p, const struct chat_text *t)
{
	p->done(p->ud, NULL, 0, t);
	json_decref(p->to_images);
	free(p);
}

static void refusef(struct prep *p, const char *pre, const char *code, const char *post)
{
	struct chat_text t;

	chat_text_init(&t);
	chat_text_printf(&t, "%s", pre);
	if (code)
		chat_text_code(&t, "%s", code);
	chat_text_printf(&t, "%s", post);
	refuse(p, &t);
}

static void refuse_cloud(struct prep *p, const char *what, const struct cloud_error *ce)
{
	char post[700];

	snprintf(post, sizeof post, " (%s: %s)", ce->aws_code[0] ? ce->aws_code :
		 bot_err_name(ce->code), ce->message[0] ? ce->message : bot_strerror(ce->code));
	refusef(p, what, NULL, post);
}

static json_t *images_of(const struct cloud_task_definition *td)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < td->n_containers; i++)
		if (td->containers[i].name && td->containers[i].image)
			json_object_set_new(o, td->containers[i].name,
					    json_string(td->containers[i].image));
	return o;
}

/* The params, once the target is known; cur: the current revision as
 * described, or NULL when it could not be (the images are then not
 * compared: "images" is null, and the card does not claim they are the
 * same). */
static void finish(struct prep *p, const struct cloud_task_definition *cur)
{
	json_t *from = cur ? images_of(cur) : NULL, *changes = cur ? json_array() : json_null();
	const char *name;
	json_t *img;

	json_object_foreach(p->to_images, name, img) {
		const char *was = json_string_value(json_object_get(from, name));
		if (was && strcmp(was, json_string_value(img)) != 0)
			json_array_append_new(changes, json_pack("{s:s, s:s, s:O}", "container", name,
								 "from", was, "to", img));
	}
	json_t *o = json_pack("{s:s, s:s, s:o}", "from", p->from, "to", p->to, "images",
			      changes ? changes : json_null());
	char *params = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	json_decref(from);
	if (!params) {
		refusef(p, "out of memory", NULL, "");
		return;
	}
	p->done(p->ud, params, 0, NULL);
	free(params);
	json_decref(p->to_images);
	free(p);
}

static void on_current(void *ud, const struct cloud_error *ce, const struct cloud_task_definition *td)
{
	/* only for the card's images: without them the rollback is still exact */
	finish(ud, ce && ce->code ? NULL : td);
}

static void on_target(void *ud, const struct cloud_error *ce, const struct cloud_task_definition *td)
{
	struct prep *p = ud;
	char s[TD_MAX], fam[TD_MAX], msg[TD_MAX + 80];
	int rev = 0;

	if ((ce && ce->code) || !td || !td->arn) {
		struct cloud_error none = {.code = BOT_ENOTFOUND};
		snprintf(msg, sizeof msg, "Task definition %s could not be read, so nothing can be "
			 "rolled back to it", p->target);
		refuse_cloud(p, msg, ce && ce->code ? ce : &none);
		return;
	}
	if (!split_td(td->arn, fam, sizeof fam, &rev) || strcmp(fam, p->family) != 0) {
		refusef(p, "", action__td_short(td->arn, s, sizeof s),
			" is not a revision of the service's family; a rollback stays in its family");
		return;
	}
	if (td->status && strcmp(td->status, "ACTIVE") != 0) {
		snprintf(fam, sizeof fam, " is %s; ECS runs only ACTIVE revisions", td->status);
		refusef(p, "", action__td_short(td->arn, s, sizeof s), fam);
		return;
	}
	if (rev == p->revision) {
		refusef(p, "The service already runs ", action__td_short(td->arn, s, sizeof s), "");
		return;
	}
	snprintf(p->to, sizeof p->to, "%s", td->arn);
	p->to_images = images_of(td);
	if (!p->cloud->ops->describe_task_definition(p->cloud, p->from, on_current, p))
		return;
	finish(p, NULL);
}

static void describe_target(struct prep *p)
{
	int rc = p->cloud->ops->describe_task_definition(p->cloud, p->target, on_target, p);

	if (rc) {
		struct cloud_error ce = {.code = rc};
		snprintf(ce.message, sizeof ce.message, "%s", bot_strerror(rc));
		on_target(p, &ce, NULL);
	}
}

static void on_list(void *ud, const struct cloud_error *ce, const char *const *arns, size_t n)
{
	struct prep *p = ud;
	char fam[TD_MAX];
	int rev;

	if (ce && ce->code) {
		refuse_cloud(p, "Could not list the revisions of the task definition family", ce);
		return;
	}
	for (size_t i = 0; i < n; i++) /* newest first: the first older one */
		if (split_td(arns[i], fam, sizeof fam, &rev) && strcmp(fam, p->family) == 0 &&
		    rev < p->revision) {
			snprintf(p->target, sizeof p->target, "%s", arns[i]);
			describe_target(p);
			return;
		}
	snprintf(fam, sizeof fam, " has no ACTIVE revision older than %d to roll back to",
		 p->revision);
	refusef(p, "The task definition family ", p->family, fam);
}

static void prepare(const struct action_req *r, action_prepared_fn done, void *ud)
{
	struct prep *p = calloc(1, sizeof *p);
	struct chat_text t;
	const char *to = r->args.to;
	char fam[TD_MAX];
	int rev;

	chat_text_init(&t);
	if (!p) {
		chat_text_printf(&t, "out of memory");
		done(ud, NULL, 0, &t);
		return;
	}
	*p = (struct prep){.cloud = r->cloud, .done = done, .ud = ud};
	snprintf(p->service, sizeof p->service, "%s", r->service);
	if (!r->svc->task_definition ||
	    !split_td(r->svc->task_definition, p->family, sizeof p->family, &p->revision)) {
		refusef(p, "ECS did not say which task definition revision the service runs, so it "
			"cannot be rolled back", NULL, "");
		return;
	}
	snprintf(p->from, sizeof p->from, "%s", r->svc->task_definition);
	if (!to) {
		if (r->cloud->ops->task_definitions(r->cloud, p->family, on_list, p) != BOT_EOK)
			refusef(p, "Could not ask ECS for the revisions of ", p->family, "");
		return;
	}
	if (strspn(to, "0123456789") == strlen(to) && *to && strlen(to) <= 7) {
		snprintf(p->target, sizeof p->target, "%.200s:%.12s", p->family, to);
	} else if (split_td(to, fam, sizeof fam, &rev)) {
		if (strcmp(fam, p->family) != 0) {
			char post[TD_MAX + 100];
			snprintf(post, sizeof post, " is not a revision of %s, the family the service "
				 "runs; a rollback stays in its family", p->family);
			refusef(p, "", to, post);
			return;
		}
		snprintf(p->target, sizeof p->target, "%s", to);
	} else {
		refusef(p, "", to, " is not a revision: write a number (--to 7) or family:revision "
			"(--to web:7)");
		return;
	}
	describe_target(p);
}

/* ---- the gate ------------------------------------------------------------ */

static void describe(const struct store_gate *g, struct chat_text *t)
{
	char from[TD_MAX], to[TD_MAX], s[TD_MAX];
	json_t *o = g->params ? json_loads(g->params, 0, NULL) : NULL;
	json_t *images = json_object_get(o, "images"), *c;
	size_t i;

	action__json_str(g->params, "from", from, sizeof from);
	action__json_str(g->params, "to", to, sizeof to);
	chat_text_printf(t, "roll back ");
	action__put_service(g, t);
	chat_text_printf(t, " from ");
	chat_text_code(t, "%s", action__td_short(from, s, sizeof s));
	chat_text_printf(t, " to ");
	chat_text_code(t, "%s", action__td_short(to, s, sizeof s));
	json_array_foreach(images, i, c) {
		if (i == IMAGES_SHOWN) {
			chat_text_printf(t, "; %zu more images change", json_array_size(images) - i);
			break;
		}
		chat_text_printf(t, i ? "; " : ". Image of ");
		if (i)
			chat_text_printf(t, "image of ");
		chat_text_code(t, "%s", json_string_value(json_object_get(c, "container")));
		chat_text_printf(t, ": ");
		chat_text_code(t, "%s", json_string_value(json_object_get(c, "from")));
		chat_text_printf(t, " → ");
		chat_text_code(t, "%s", json_string_value(json_object_get(c, "to")));
	}
	if (json_is_array(images) && json_array_size(images) == 0)
		chat_text_printf(t, " (the container images are the same)");
	json_decref(o);
}

static void brief(const struct store_gate *g, char *buf, size_t n)
{
	char to[TD_MAX], s[TD_MAX];

	action__json_str(g->params, "to", to, sizeof to);
	snprintf(buf, n, "roll back to %s", action__td_short(to, s, sizeof s));
}

static void call_text(const struct store_gate *g, struct chat_text *t)
{
	char to[TD_MAX], from[TD_MAX], s[TD_MAX];

	action__json_str(g->params, "to", to, sizeof to);
	action__json_str(g->params, "from", from, sizeof from);
	chat_text_printf(t, "ECS UpdateService cluster=");
	chat_text_code(t, "%s", g->cluster);
	chat_text_printf(t, " service=");
	chat_text_code(t, "%s", g->ecs_service);
	chat_text_printf(t, " taskDefinition=");
	chat_text_code(t, "%s", action__td_short(to, s, sizeof s));
	chat_text_printf(t, " (running before: ");
	chat_text_code(t, "%s", action__td_short(from, s, sizeof s));
	chat_text_printf(t, ")");
}

static const char *stale(const struct store_gate *g, const struct cloud_service *svc, char *buf,
			 size_t n)
{
	char to[TD_MAX], from[TD_MAX], a[TD_MAX], b[TD_MAX];

	action__json_str(g->params, "to", to, sizeof to);
	action__json_str(g->params, "from", from, sizeof from);
	if (action__td_same(svc->task_definition, to))
		snprintf(buf, n, "the service already runs %s (the target); nothing was changed",
			 action__td_short(to, a, sizeof a));
	else if (!action__td_same(svc->task_definition, from))
		snprintf(buf, n, "the service's task definition changed from %s to %s since the "
			 "request (someone deployed); nothing was changed",
			 action__td_short(from, a, sizeof a),
			 action__td_short(svc->task_definition, b, sizeof b));
	else
		return NULL;
	return buf;
}

static int intent(const struct store_gate *g, const struct cloud_service *svc, json_t *in,
		  int *exec_from)
{
	char to[TD_MAX];

	*exec_from = svc->desired;
	action__json_str(g->params, "to", to, sizeof to);
	return json_object_set_new(in, "taskDefinition", json_string(to)) ||
	       json_object_set_new(in, "observedTaskDefinition",
				   svc->task_definition ? json_string(svc->task_definition)
							: json_null());
}

static int execute(struct cloud *c, const struct store_gate *g, cloud_scale_cb cb, void *ud)
{
	char to[TD_MAX];

	if (!c->ops->deploy)
		return BOT_EINVAL;
	action__json_str(g->params, "to", to, sizeof to);
	return c->ops->deploy(c, g->cluster, g->ecs_service, to, false, cb, ud);
}

static void done_text(const struct store_gate *g, const struct cloud_service *after, char *buf,
		      size_t n)
{
	char to[TD_MAX], from[TD_MAX], a[TD_MAX], b[TD_MAX];

	(void)after;
	action__json_str(g->params, "to", to, sizeof to);
	action__json_str(g->params, "from", from, sizeof from);
	snprintf(buf, n, "task definition set to %s (was %s)", action__td_short(to, a, sizeof a),
		 action__td_short(from, b, sizeof b));
}

static enum action_landed landed(const struct store_gate *g, const struct cloud_service *svc,
				 char *text, size_t n)
{
	char to[TD_MAX], from[TD_MAX], a[TD_MAX], b[TD_MAX], c[TD_MAX];

	action__json_str(g->params, "to", to, sizeof to);
	action__json_str(g->params, "from", from, sizeof from);
	action__td_short(svc->task_definition, c, sizeof c);
	if (action__td_same(svc->task_definition, to)) {
		snprintf(text, n, "the service runs %s (the target)", c);
		return ACTION_LANDED;
	}
	if (action__td_same(svc->task_definition, from)) {
		snprintf(text, n, "the service still runs %s", c);
		return ACTION_NOT_LANDED;
	}
	snprintf(text, n, "the service runs %s: neither %s (before the call) nor %s (the target); "
		 "someone else deployed, not overwritten", c[0] ? c : "an unknown revision",
		 action__td_short(from, a, sizeof a), action__td_short(to, b, sizeof b));
	return ACTION_CONFLICT;
}

static bool steady(const struct store_gate *g, const struct cloud_service *svc, char *what,
		   size_t n)
{
	const struct cloud_deployment *p;
	char to[TD_MAX], s[TD_MAX];
	bool settled = action__settled(svc, &p);
	bool there = action__td_same(svc->task_definition,
				     action__json_str(g->params, "to", to, sizeof to));

	snprintf(what, n, "%s: running %d of %d tasks, %d pending, %zu deployment%s live",
		 svc->task_definition ? action__td_short(svc->task_definition, s, sizeof s) : "?",
		 p ? p->running : svc->running, p ? p->desired : svc->desired, svc->pending,
		 svc->n_deployments, svc->n_deployments == 1 ? "" : "s");
	return settled && there;
}

static bool available(const struct cloud *c)
{
	return c->ops->deploy && c->ops->task_definitions && c->ops->describe_task_definition;
}

const struct action action_rollback = {
	.kind = "rollback",
	.command = "/rollback",
	.title = "Rollback",
	.doing = "rolling back",
	.result = "rolled_back",
	.prepare = prepare,
	.describe = describe,
	.brief = brief,
	.call_text = call_text,
	.stale = stale,
	.intent = intent,
	.execute = execute,
	.done_text = done_text,
	.landed = landed,
	.steady = steady,
	.available = available,
};
