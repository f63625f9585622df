/* investigate.c - /investigate <service>: what state is the service in?
 *
 * Reads the service (ECS), its CPU and memory over the last 30 minutes
 * (CloudWatch) and its alarms, all at once; when the three answers are in,
 * posts the findings with a "Scale to N" button when more tasks would help.
 * Read-only: nothing changes in AWS. */
#include "commands/commands.h"
#include "adapters/cloud.h"
#include "bot/domain/findings.h"
#include "bot/base/log.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MIN 30

struct inv {
	struct chat *chat; /* outlives the cloud's pending callbacks */
	char *service, *cluster, *ecs_service, *channel, *user;
	int max_desired;
	int waiting;
	struct cloud_service *svc;
	struct cloud_metrics *metrics;
	struct cloud_alarm *alarms;
	size_t n_alarms;
	struct cloud_error describe_err, metrics_err, alarms_err;
	bool cancelled;
};

static void inv_free(struct inv *v)
{
	free(v->service);
	free(v->cluster);
	free(v->ecs_service);
	free(v->channel);
	free(v->user);
	cloud_service_free(v->svc);
	cloud_metrics_free(v->metrics);
	cloud_alarms_free(v->alarms, v->n_alarms);
	free(v);
}

static void post_failure(struct inv *v)
{
	char text[2400], esc[300], msg[1100], rid[100] = "";
	chat_escape(esc, sizeof esc, v->service);
	chat_escape(msg, sizeof msg, v->describe_err.message);
	if (v->describe_err.request_id[0])
		snprintf(rid, sizeof rid, " (request id %s)", v->describe_err.request_id);
	snprintf(text, sizeof text, "Could not read *%s* from AWS: %s%s%s%s", esc,
		 v->describe_err.aws_code[0] ? v->describe_err.aws_code : bot_err_name(v->describe_err.code),
		 msg[0] ? " — " : "", msg, rid);
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .text = text};
	struct chat_message m = {.channel = v->channel, .text = text, .blocks = &b, .n_blocks = 1};
	(void)chat_ephemeral(v->chat, v->user, &m, NULL, NULL);
}

static void post_findings(struct inv *v)
{
	struct findings f;
	char body[3000], header[200], ctx[1200], merr[1100], label[64], value[320];

	findings_analyse(v->svc, v->metrics_err.code ? NULL : v->metrics, v->alarms, v->n_alarms,
			 v->max_desired, &f);
	findings_render(v->service, v->cluster, v->svc, v->metrics_err.code ? NULL : v->metrics,
			v->alarms, v->n_alarms, &f, body, sizeof body);
	snprintf(header, sizeof header, "Investigation: %s", v->service);
	chat_escape(merr, sizeof merr, v->metrics_err.code ? v->metrics_err.message : "");
	snprintf(ctx, sizeof ctx, "Asked by <@%s>%s%s", v->user,
		 v->metrics_err.code ? " · metrics unavailable: " : "", merr);

	struct chat_button btn = {
		.action_id = "investigate.scale", .text = label, .value = value,
		.style = CHAT_BUTTON_PRIMARY,
	};
	snprintf(label, sizeof label, "Scale to %d", f.suggested);
	snprintf(value, sizeof value, "%s %d", v->service, f.suggested);
	struct chat_block blocks[4] = {
		{.type = CHAT_BLOCK_HEADER, .text = header},
		{.type = CHAT_BLOCK_SECTION, .text = body},
		{.type = CHAT_BLOCK_CONTEXT, .text = ctx},
		{.type = CHAT_BLOCK_ACTIONS, .buttons = &btn, .n_buttons = 1},
	};
	struct chat_message m = {
		.channel = v->channel, .text = header, .blocks = blocks,
		.n_blocks = f.suggested > 0 ? 4 : 3,
	};
	int rc = chat_post(v->chat, &m, NULL, NULL);
	if (rc)
		log_warn("investigate.post", "service=%s error=%s", LOG_Q(v->service),
			 bot_err_name(rc));
}

static void one_done(struct inv *v)
{
	if (--v->waiting > 0)
		return;
	if (v->describe_err.code == BOT_ECANCELLED && !v->svc) {
		/* shutting down: say nothing */
	} else if (!v->svc) {
		post_failure(v);
	} else {
		post_findings(v);
	}
	log_info("investigate", "service=%s user=%s result=%s", LOG_Q(v->service),
		 LOG_Q(v->user), v->svc ? "posted" : "failed");
	inv_free(v);
}

static void on_describe(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct inv *v = ud;
	if (err && err->code)
		v->describe_err = *err;
	else if (s && !(v->svc = cloud_service_dup(s)))
		v->describe_err.code = BOT_ENOMEM;
	one_done(v);
}

static void on_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct inv *v = ud;
	if (err && err->code)
		v->metrics_err = *err;
	else if (m && !(v->metrics = cloud_metrics_dup(m)))
		v->metrics_err.code = BOT_ENOMEM;
	one_done(v);
}

static void on_alarms(void *ud, const struct cloud_error *err, const struct cloud_alarm *a, size_t n)
{
	struct inv *v = ud;
	if (err && err->code)
		v->alarms_err = *err;
	else if (n && (v->alarms = cloud_alarms_dup(a, n)))
		v->n_alarms = n;
	one_done(v);
}

int investigate_start(const struct cmd_env *env, const struct config_service *svc,
		      const char *user, const char *channel)
{
	struct cloud *cloud = env->cloud;
	struct inv *v = calloc(1, sizeof *v);
	int rc;

	if (!v)
		return BOT_ENOMEM;
	v->chat = env->chat;
	v->service = strdup(svc->name);
	v->cluster = strdup(svc->cluster);
	v->ecs_service = strdup(svc->ecs_service ? svc->ecs_service : svc->name);
	v->channel = strdup(channel);
	v->user = strdup(user);
	v->max_desired = svc->max_desired;
	if (!v->service || !v->cluster || !v->ecs_service || !v->channel || !v->user) {
		inv_free(v);
		return BOT_ENOMEM;
	}
	/* Three calls in flight; each callback counts down. A call that fails
	 * to start counts as answered with its error. */
	v->waiting = 3;
	rc = cloud->ops->describe(cloud, v->cluster, v->ecs_service, on_describe, v);
	if (rc) {
		v->describe_err.code = rc;
		snprintf(v->describe_err.message, sizeof v->describe_err.message, "%s", bot_strerror(rc));
		v->waiting--;
	}
	rc = cloud->ops->metrics(cloud, v->cluster, v->ecs_service, WINDOW_MIN, on_metrics, v);
	if (rc) {
		v->metrics_err.code = rc;
		snprintf(v->metrics_err.message, sizeof v->metrics_err.message, "%s", bot_strerror(rc));
		v->waiting--;
	}
	rc = cloud->ops->alarms(cloud, v->cluster, v->ecs_service, on_alarms, v);
	if (rc) {
		v->alarms_err.code = rc;
		v->waiting--;
	}
	if (v->waiting == 0) {
		v->waiting = 1;
		one_done(v);
	}
	return BOT_EOK;
}

enum cmd_status cmd_investigate(struct cmd_ctx *ctx, char *msg, size_t msg_len)
{
	const struct config *cfg = ctx->env->cfg;
	const struct config_service *svc = config_service_find(cfg, ctx->argv[1]);
	char esc[300], known[1024];

	if (!svc) {
		chat_escape(esc, sizeof esc, ctx->argv[1]);
		cmd__known_services(cfg, known, sizeof known);
		snprintf(msg, msg_len, "Unknown service `%s`. %s", esc, known);
		return CMD_USAGE;
	}
	if (!cmd__may_request(svc, ctx->ev->user)) {
		snprintf(msg, msg_len, "You are not among the requesters or approvers of `%s`; "
			 "ask its owners to add you to the bot's configuration.", svc->name);
		return CMD_DENIED;
	}
	int rc = investigate_start(ctx->env, svc, ctx->ev->user,
				   cmd__channel_for(svc, ctx->ev->channel));
	if (rc) {
		snprintf(msg, msg_len, "Could not start the investigation: %s.", bot_strerror(rc));
		return CMD_FAILED;
	}
	return CMD_OK;
}
