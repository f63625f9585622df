/* lws.c - the process's lws context on the bot's loop, lws log routing, and
 * the context's two destroys in the loop's teardown (see lws.h). The order
 * and the reasons for it are in /work/shared/docs/event-loop-notes.md §1. */
#include <uv.h> /* before libwebsockets.h: lws's libuv helpers need it */
#include <libwebsockets.h>

#include "adapters/lws/lws.h"
#include "bot/base/log.h"

#include <stdlib.h>
#include <string.h>

#define LWS_FD_LIMIT 256

/* One per loop that asked for lws; in practice one per process. */
struct lws_slot {
	struct lws_slot *next;
	struct bot_loop *loop;
	/* lws writes NULL here (pcontext) once the context is really freed. */
	struct lws_context *ctx;
};

/* The loop has no room for adapter state, so the slots are found by loop.
 * Loop-thread only, like everything on the loop. */
static struct lws_slot *slots;

/* ---- lws log routing ---------------------------------------------------- */

/* lws's emit function has no user pointer; the routing is process-wide,
 * like lws's own log level. Lines arrive ending in '\n'. */
static void lws_log_emit(int level, const char *line)
{
	char msg[400], q[512];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (n >= sizeof msg)
		n = sizeof msg - 1;
	memcpy(msg, line, n);
	msg[n] = '\0';
	if (level & LLL_ERR)
		log_error("lws", "msg=%s", log_q(q, sizeof q, msg));
	else
		log_warn("lws", "msg=%s", log_q(q, sizeof q, msg));
}

/* ---- teardown ----------------------------------------------------------- */

/* Step 3 of the loop's shutdown (notes §1 step 5), from a plain uv callback
 * after every hook: the first of the two destroys starts async closes of
 * lws's handles; lws's event-pipe poll keeps the loop alive until they are
 * done, then uv_run returns. */
static void on_drain(void *ud)
{
	struct lws_slot *s = ud;

	if (s->ctx)
		lws_context_destroy(s->ctx);
}

/* In bot_loop_destroy, outside the loop (notes §1 step 7): the second
 * destroy frees the context and dlcloses the evlib plugin; lws NULLs
 * s->ctx. */
static void on_after(void *ud)
{
	struct lws_slot *s = ud, **pp;

	if (s->ctx)
		lws_context_destroy(s->ctx);
	for (pp = &slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->ctx) {
		/* lws may still write through pcontext: keep the slot. */
		log_error("loop.destroy", "error=\"lws context not freed\"");
		return;
	}
	free(s);
}

/* ---- create ------------------------------------------------------------- */

static struct lws_slot *slot_new(struct bot_loop *l, struct bot_error *err)
{
	struct lws_slot *s;
	int rc;

	s = calloc(1, sizeof *s);
	if (!s) {
		bot_error_set(err, BOT_ENOMEM, "out of memory for the libwebsockets context");
		return NULL;
	}
	s->loop = l;
	/* Registered before the context exists, so that a context always has
	 * its destroys; with no context the steps do nothing. */
	rc = bot_loop_on_teardown(l, on_drain, on_after, s);
	if (rc) {
		bot_error_set(err, rc, "cannot register the libwebsockets teardown: %s",
			      bot_strerror(rc));
		free(s);
		return NULL;
	}
	s->next = slots;
	slots = s;
	return s;
}

struct lws_context *bot_lws_context(struct bot_loop *l, struct bot_error *err)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_slot *s;
	void *foreign[1];
	uint64_t t0;

	for (s = slots; s && s->loop != l; s = s->next)
		;
	if (s && s->ctx)
		return s->ctx;
	if (bot_loop_stopping(l)) {
		bot_error_set(err, BOT_ESTATE, "the event loop is shutting down");
		return NULL;
	}
	/* A slot without a context: the last creation failed; try again. */
	if (!s && !(s = slot_new(l, err)))
		return NULL;

	/* lws's own noise goes through our logfmt writer and its redaction;
	 * NOTICE and below (plugin loading, "Using foreign event loop...")
	 * are dropped. */
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof info);
	foreign[0] = bot_loop_uv(l); /* read only during lws_create_context() */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = foreign;
	info.pcontext = &s->ctx;
	info.port = CONTEXT_PORT_NO_LISTEN;
	/* Without a limit lws sizes two fd tables from `ulimit -n` (2 x 160 kB
	 * at 20000, far more in containers with 1M); with one it looks fds up
	 * linearly. It counts lws's own sockets only (ws clients, a health
	 * endpoint), never curl's. */
	info.fd_limit_per_thread = LWS_FD_LIMIT;

	t0 = uv_hrtime();
	ctx = lws_create_context(&info);
	if (!ctx) {
		bot_error_set(err, BOT_EIO,
			      "cannot create the libwebsockets context on the uv loop "
			      "(is the libwebsockets-evlib-uv package installed?)");
		return NULL;
	}
	s->ctx = ctx;
	log_debug("loop.lws", "result=created ms=%llu",
		  (unsigned long long)((uv_hrtime() - t0) / 1000000u));
	return ctx;
}
