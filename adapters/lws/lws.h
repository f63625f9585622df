/* lws.h - the process's one libwebsockets context, on the bot's libuv loop
 * (event-loop-notes.md §1). The slack and health adapters, and the tests'
 * fakes, get their lws context here; the loop itself knows nothing of lws.
 *
 * There is ONE lws context per process (per loop), created on first use by
 * bot_lws_context() (console-only runs never load lws or its CA store). It
 * lives until the loop's shutdown: never destroy it yourself, never call
 * lws_service(). A component that needs lws creates its own vhost in that
 * context:
 *   - a client:  lws_create_vhost() with port = CONTEXT_PORT_NO_LISTEN and
 *                options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT (without it the
 *                vhost has no client SSL_CTX);
 *   - a server:  port (0 = kernel picks, see lws_get_vhost_listen_port()),
 *                iface = "127.0.0.1" unless told otherwise.
 * The vhost lives as long as the context; its wsis are closed by the
 * context's destroy at shutdown. A component with a live ws connection
 * registers a shutdown hook (bot_loop_on_shutdown) that closes it politely
 * (lws_close_reason + lws_set_timeout(PENDING_TIMEOUT_USER_OK,
 * LWS_TO_KILL_SYNC)) and calls done on CLIENT_CLOSED. lws's own log lines
 * (warn and error only) are routed into bot/base/log.h as event=lws.
 *
 * Teardown: the context registers a final teardown step with the loop
 * (bot_loop_on_teardown). In step 3 of the loop's shutdown, after every
 * hook has finished (curl cleanup, polite ws closes) and the loop's own
 * handles are closed, it calls lws_context_destroy() once; uv_run then
 * drains lws's handles. In bot_loop_destroy, outside the loop, it calls
 * lws_context_destroy() the second time lws 4.1.6 requires with a foreign
 * loop, which frees the context. After bot_loop_run() returned, lws must
 * not be touched.
 *
 * Include <uv.h> before <libwebsockets.h> wherever both are used: the libuv
 * helpers in lws's headers are guarded by UV_ERRNO_MAP.
 */
#ifndef ADAPTERS_LWS_H
#define ADAPTERS_LWS_H

#include "bot/base/error.h"
#include "bot/base/loop.h"

struct lws_context;

/* The process's lws context on loop l, created on the first call (borrowed;
 * never destroy it). NULL with err filled when creation fails (BOT_EIO, or
 * BOT_ENOMEM), or BOT_ESTATE once the loop's shutdown has begun. */
struct lws_context *bot_lws_context(struct bot_loop *l, struct bot_error *err);

#endif
