/* health.h - the health and metrics endpoint for the people who run the bot.
 *
 *   GET /healthz   200 (or 503) with a small JSON status document
 *   GET /metrics   Prometheus text exposition (version 0.0.4)
 *
 * Served by a server vhost in the process's one lws context, on the bot's
 * loop (config `http.listen`, off by default). Read-only, no secrets: the
 * bodies are whatever the owner's render callback writes. Any other path is
 * 404, any other method 405.
 */
#ifndef ADAPTERS_HEALTH_H
#define ADAPTERS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/base/error.h"
#include "bot/base/loop.h"

enum health_doc { HEALTH_DOC_STATUS = 0, HEALTH_DOC_METRICS };

/* Write the document into buf (at most n bytes, NUL-terminated) and return
 * its length; set *healthy = false to answer /healthz with 503. */
typedef size_t (*health_render_fn)(void *ud, enum health_doc doc, char *buf, size_t n,
				   bool *healthy);

struct health_opts {
	const char *listen;        /* "127.0.0.1:9090" ("localhost" means 127.0.0.1; port 0 = any) */
	health_render_fn render;   /* required */
	void *ud;
};

struct health;

/* Listen now. BOT_EINVAL (bad address), BOT_EIO (cannot bind: err says
 * where), BOT_ENOMEM. */
int health_create(struct bot_loop *loop, const struct health_opts *o, struct health **out,
		  struct bot_error *err);
/* Stop answering (the listening socket itself lives until the lws context
 * is destroyed at shutdown; requests then get 503). NULL ok. */
void health_destroy(struct health *h);
int health_port(const struct health *h);

#endif
