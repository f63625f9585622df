/* investigate.c - /investigate <service>: what state is the service in?
 *
 * Reads the service (bot/domain/service_read.h: ECS, its CPU and memory
 * over the last 30 minutes, its alarms, all at once, shared with every
 * other ask of the service meanwhile and reused for limits.read_window);
 * when the answers are in, posts the findings with the read's time and a
 * "Scale to N" button when more tasks would help, or says why the service
 * could not be read (missing in ECS: not found). A report of a read still
 * reused is not posted twice in a channel: a repeated ask gets a link to
 * it. Read-only: nothing changes in AWS. */
#include "commands/commands.h"
#include "adapters/cloud.h"
#include "bot/domain/findings.h"
#include "bot/domain/service_read.h"
#include "bot/base/log.h"
#include "adapters/store.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inv {
	struct chat *chat; /* outlives the cloud's pending callbacks */
	char *channel, *user;
	int max_desired;
	bool can_scale;    /* the service allows scale: the report offers it */
	struct service_report_claim *claim; /* ended once the post is answered */
	int64_t read_at_ms;
};

static void inv_free(struct inv *v)
{
	service_reads_report_done(v->claim, NULL, 0); /* no-op once ended */
	free(v->channel);
	free(v->user);
	free(v);
}

/* The report's post was answered: remember it for repeated asks. */
static void on_posted(void *ud, int rc, const char *ts, const char *detail)
{
	struct inv *v = ud;

	(void)detail;
	service_reads_report_done(v->claim, rc ? NULL : ts, v->read_at_ms);
	v->claim = NULL;
	inv_free(v);
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

/* Posts the report; true when on_posted will run (and free v). */
static bool post_findings(struct inv *v, const struct service_read *r)
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
	if (r->read_at_ms > 0) {
		chat_text_printf(&ctx, " · read from AWS ");
		chat_text_date(&ctx, r->read_at_ms / 1000);
	}
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
	/* urgent: it answers everyone pointed to it, so it is never dropped */
	struct chat_message m = {
		.channel = v->channel, .rich = &fallback, .blocks = blocks,
		.n_blocks = f.suggested > 0 && v->can_scale ? 4 : 3, .urgent = true,
	};
	v->read_at_ms = r->read_at_ms;
	int rc = chat_post(v->chat, &m, on_posted, v);
	if (rc)
		log_warn("investigate.post", "service=%s error=%s", LOG_Q(r->service),
			 bot_err_name(rc));
	return rc == BOT_EOK;
}

static void on_read(void *ud, const struct service_read *r)
{
	struct inv *v = ud;

	log_info("investigate", "service=%s user=%s result=%s%s", LOG_Q(r->service),
		 LOG_Q(v->user), r->svc ? "found" : r->err.code == BOT_ENOTFOUND ? "not_found" :
		 "failed", r->reused ? " read=reused" : "");
	if (r->err.code == BOT_ECANCELLED && !r->svc) {
		/* shutting down: say nothing */
	} else if (!r->svc) {
		post_failure(v, r);
	} else if (post_findings(v, r)) {
		return; /* on_posted frees v (it may have already) */
	}
	inv_free(v);
}

/* Someone told the report is on its way: if the read fails, they hear it
 * too (the first asker gets the failure; nothing is posted). */
struct pointed {
	struct chat *chat;
	char *channel, *user;
};

static void on_pointed_read(void *ud, const struct service_read *r)
{
	struct pointed *p = ud;

	if (!r->svc && r->err.code != BOT_ECANCELLED) {
		struct inv v = {.chat = p->chat, .channel = p->channel, .user = p->user};
		post_failure(&v, r);
	}
	free(p->channel);
	free(p->user);
	free(p);
}

static void follow_read(const struct cmd_env *env, const struct config_service *svc,
			const char *channel, const char *user)
{
	struct pointed *p = calloc(1, sizeof *p);

	if (p && (p->channel = strdup(channel)) && (p->user = strdup(user))) {
		p->chat = env->chat;
		if (service_reads_follow(env->reads, svc, on_pointed_read, p) == BOT_EOK)
			return; /* else the read is in: the report is being posted */
	}
	if (p) {
		free(p->channel);
		free(p->user);
	}
	free(p);
}

/* Where the report asked for already is, for the asker. */
static void point_to(const struct cmd_env *env, const struct config_service *svc,
		     const char *channel, const struct service_report *rep, struct chat_text *t)
{
	char url[512];

	if (rep->pending) {
		chat_text_printf(t, "An investigation of ");
		chat_text_bold(t, "%s", svc->name);
		chat_text_printf(t, " asked by ");
		chat_text_user(t, rep->user);
		chat_text_printf(t, " is under way; its report will be in ");
		chat_text_channel(t, channel);
		chat_text_printf(t, " in a moment.");
		return;
	}
	chat_text_bold(t, "%s", svc->name);
	chat_text_printf(t, " was read from AWS ");
	chat_text_date(t, rep->at_ms / 1000);
	chat_text_printf(t, " for ");
	chat_text_user(t, rep->user);
	chat_text_printf(t, ": see ");
	if (chat_permalink(env->chat, channel, rep->ts, url, sizeof url) == BOT_EOK)
		chat_text_link(t, url, "the report");
	else
		chat_text_printf(t, "the report");
	chat_text_printf(t, " in ");
	chat_text_channel(t, channel);
	chat_text_printf(t, ". Ask again in a few seconds for a new read.");
}

int investigate_start(const struct cmd_env *env, const struct config_service *svc,
		      const char *user, const char *channel, struct chat_text *note)
{
	struct service_report rep;
	struct service_report_claim *claim = NULL;
	struct inv *v;
	int rc;

	if (env->reads) {
		rc = service_reads_claim_report(env->reads, svc, channel, user, &rep, &claim);
		if (rc == BOT_EDUPLICATE) {
			point_to(env, svc, channel, &rep, note);
			if (rep.pending)
				follow_read(env, svc, channel, user);
			log_info("investigate", "service=%s user=%s result=pointed%s", LOG_Q(svc->name),
				 LOG_Q(user), rep.pending ? " report=pending" : "");
			return BOT_EOK;
		}
		if (rc)
			return rc;
	}
	if (!(v = calloc(1, sizeof *v))) {
		service_reads_report_done(claim, NULL, 0);
		return BOT_ENOMEM;
	}
	v->claim = claim;
	v->chat = env->chat;
	v->channel = strdup(channel);
	v->user = strdup(user);
	v->max_desired = svc->max_desired;
	v->can_scale = config_action_find(svc, STORE_ACTION_SCALE) != NULL;
	if (!v->channel || !v->user) {
		inv_free(v);
		return BOT_ENOMEM;
	}
	rc = env->reads ? service_reads_get(env->reads, svc, true, on_read, v)
			: service_read_start(env->cloud, svc, on_read, v);
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
				   cmd__channel_for(svc, ctx->ev->channel), msg);
	if (rc) {
		chat_text_printf(msg, "Could not start the investigation: %s.", bot_strerror(rc));
		return CMD_FAILED;
	}
	return CMD_OK;
}
