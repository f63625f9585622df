/* investigate.c - /investigate <service>: what state is the service in?
 *
 * Reads the service (bot/domain/service_read.h: ECS, its CPU and memory
 * over the last 30 minutes, its alarms, all at once); when the answers are
 * in, posts the findings with a "Scale to N" button when more tasks would
 * help, or says why the service could not be read (missing in ECS: not
 * found). Read-only: nothing changes in AWS. */
#include "commands/commands.h"
#include "adapters/cloud.h"
#include "bot/domain/findings.h"
#include "bot/domain/service_read.h"
#include "bot/base/log.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inv {
	struct chat *chat; /* outlives the cloud's pending callbacks */
	char *channel, *user;
	int max_desired;
};

static void inv_free(struct inv *v)
{
	free(v->channel);
	free(v->user);
	free(v);
}

static void post_failure(struct inv *v, const struct service_read *r)
{
	struct chat_text t;

	chat_text_init(&t);
	service_read_explain(r, &t);
	chat_text_printf(&t, ".");
	struct chat_block b = {.type = CHAT_BLOCK_SECTION, .rich = &t};
	struct chat_message m = {.channel = v->channel, .rich = &t, .blocks = &b, .n_blocks = 1};
	(void)chat_ephemeral(v->chat, v->user, &m, NULL, NULL);
}

static void post_findings(struct inv *v, const struct service_read *r)
{
	struct findings f;
	struct chat_text body, ctx;
	char header[200], label[64], value[320];

	findings_analyse(r->svc, r->metrics, r->alarms, r->n_alarms, v->max_desired, &f);
	chat_text_init(&body);
	findings_render(r->service, r->cluster, r->svc, r->metrics, r->alarms, r->n_alarms, &f,
			&body);
	snprintf(header, sizeof header, "Investigation: %s", r->service);
	chat_text_init(&ctx);
	chat_text_printf(&ctx, "Asked by ");
	chat_text_user(&ctx, v->user);
	if (r->metrics_err.code)
		chat_text_printf(&ctx, " · metrics unavailable: %s", r->metrics_err.message);

	struct chat_button btn = {
		.action_id = "investigate.scale", .text = label, .value = value,
		.style = CHAT_BUTTON_PRIMARY,
	};
	snprintf(label, sizeof label, "Scale to %d", f.suggested);
	snprintf(value, sizeof value, "%s %d", r->service, f.suggested);
	struct chat_block blocks[4] = {
		{.type = CHAT_BLOCK_HEADER, .text = header},
		{.type = CHAT_BLOCK_SECTION, .rich = &body},
		{.type = CHAT_BLOCK_CONTEXT, .rich = &ctx},
		{.type = CHAT_BLOCK_ACTIONS, .buttons = &btn, .n_buttons = 1},
	};
	struct chat_text fallback;
	chat_text_init(&fallback);
	chat_text_printf(&fallback, "%s", header);
	struct chat_message m = {
		.channel = v->channel, .rich = &fallback, .blocks = blocks,
		.n_blocks = f.suggested > 0 ? 4 : 3,
	};
	int rc = chat_post(v->chat, &m, NULL, NULL);
	if (rc)
		log_warn("investigate.post", "service=%s error=%s", LOG_Q(r->service),
			 bot_err_name(rc));
}

static void on_read(void *ud, const struct service_read *r)
{
	struct inv *v = ud;

	if (r->err.code == BOT_ECANCELLED && !r->svc) {
		/* shutting down: say nothing */
	} else if (!r->svc) {
		post_failure(v, r);
	} else {
		post_findings(v, r);
	}
	log_info("investigate", "service=%s user=%s result=%s", LOG_Q(r->service),
		 LOG_Q(v->user), r->svc ? "posted" : r->err.code == BOT_ENOTFOUND ? "not_found" :
		 "failed");
	inv_free(v);
}

int investigate_start(const struct cmd_env *env, const struct config_service *svc,
		      const char *user, const char *channel)
{
	struct inv *v = calloc(1, sizeof *v);
	int rc;

	if (!v)
		return BOT_ENOMEM;
	v->chat = env->chat;
	v->channel = strdup(channel);
	v->user = strdup(user);
	v->max_desired = svc->max_desired;
	if (!v->channel || !v->user) {
		inv_free(v);
		return BOT_ENOMEM;
	}
	rc = service_read_start(env->cloud, svc, on_read, v);
	if (rc)
		inv_free(v);
	return rc;
}

enum cmd_status cmd_investigate(struct cmd_ctx *ctx, struct chat_text *msg)
{
	const struct config *cfg = ctx->env->cfg;
	const struct config_service *svc = config_service_find(cfg, ctx->argv[1]);

	if (!svc) {
		chat_text_printf(msg, "Unknown service ");
		chat_text_code(msg, "%s", ctx->argv[1]);
		chat_text_printf(msg, ". ");
		cmd__known_services(cfg, msg);
		return CMD_USAGE;
	}
	if (!cmd__may_request(svc, ctx->ev->user)) {
		chat_text_printf(msg, "You are not among the requesters or approvers of ");
		chat_text_code(msg, "%s", svc->name);
		chat_text_printf(msg, "; ask its owners to add you to the bot's configuration.");
		return CMD_DENIED;
	}
	int rc = investigate_start(ctx->env, svc, ctx->ev->user,
				   cmd__channel_for(svc, ctx->ev->channel));
	if (rc) {
		chat_text_printf(msg, "Could not start the investigation: %s.", bot_strerror(rc));
		return CMD_FAILED;
	}
	return CMD_OK;
}
