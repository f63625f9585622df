/* app.h - the core: routes chat events to commands and owns the shared
 * state the commands act on (config, chat). bot/main wires it together. */
#ifndef BOT_APP_H
#define BOT_APP_H

#include <stdbool.h>
#include <uv.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "adapters/health/health.h"
#include "bot/base/error.h"
#include "adapters/store.h"
#include "config/config.h"

struct alarm_intake_stats;
struct cmd_env;
struct workflow;

struct app;

struct app_opts {
	uv_loop_t *loop;
	struct config *cfg;   /* a reference is taken */
	struct chat *chat;    /* borrowed; must outlive the app */
	struct cloud *cloud;  /* borrowed; must outlive the app (destroy it first:
			       * its pending callbacks still reach the app) */
	struct store *store;  /* borrowed; must outlive the app */
	bool dry_run;         /* plan, never touch AWS */
	/* Recovery-check timing for the workflow (0 = its defaults). */
	uint64_t verify_first_ms, verify_max_ms, verify_timeout_ms;
};

int app_create(const struct app_opts *o, struct app **out, struct bot_error *err);
void app_destroy(struct app *a); /* NULL ok */
/* Resume the gates an earlier run left; call once the chat is started. */
int app_start(struct app *a, struct bot_error *err);
/* Stop timers and in-flight work (from a loop shutdown hook). */
void app_stop(struct app *a);

/* Swap in a new config (a reference is taken; the old one is released). */
void app_set_config(struct app *a, struct config *cfg);
/* What commands act on now (commands/commands.h), as every dispatch sees
 * it; valid until the config is swapped or the app destroyed. */
void app_cmd_env(struct app *a, struct cmd_env *env);

/* A CloudWatch alarm change, as if from the alarm queue (the console's
 * alarm command): see alarm_intake_handle. */
int app_alarm_handle(struct app *a, const struct cloud_alarm_change *ch, const char *channel,
		     void (*done)(void *ud, int rc), void *ud);
void app_alarm_stats(const struct app *a, struct alarm_intake_stats *out);

/* The chat backend's event callback; ud is the app. Events whose id was
 * already processed (redeliveries, replays after a reconnect or a restart)
 * are dropped here, using the store's processed ids; the event is copied
 * and handled once the store has answered (a later loop turn). */
void app_on_chat_event(void *ud, const struct chat_event *ev);

/* The health endpoint's render callback (adapters/health); ud is the app.
 * The gate counts and the store's health are those of the store's last
 * answer: each render asks again (at most once a second), so a scrape
 * shows what the store said up to a scrape interval ago. */
size_t app_health_render(void *ud, enum health_doc doc, char *buf, size_t n, bool *healthy);

#endif
