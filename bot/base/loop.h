/* loop.h - the one event loop: libuv, single thread, signals, and an
 * orderly shutdown. libc + libuv only.
 *
 * Everything the bot does runs on this loop (design.md "One event loop"):
 * libcurl through adapters/http, libwebsockets through adapters/lws (the
 * process's one lws context, created on this loop by bot_lws_context()), and
 * plain uv timers. Nothing here is thread-safe; call it from the loop thread.
 *
 * Lifetime:
 *
 *   bot_loop_create()      embeds a uv_loop_t, ignores SIGPIPE
 *   bot_loop_on_signal()   SIGINT/SIGTERM/SIGHUP callbacks (uv_signal)
 *   bot_loop_on_shutdown() components register polite-close hooks
 *   bot_loop_on_teardown() components register final teardown steps
 *   bot_loop_run()         uv_run until the shutdown below has completed
 *   bot_loop_shutdown()    (from any callback) runs the hooks, waits for them
 *                          (safety timer), then tears down in the order of
 *                          event-loop-notes.md §1
 *   bot_loop_destroy()     the "after" teardown steps (outside the loop; the
 *                          lws adapter's second lws_context_destroy),
 *                          uv_loop_close
 *
 * Shutdown order (event-loop-notes.md §1):
 *   1. every hook is started, in registration order, on a fresh loop
 *      iteration (never inside the caller's callback);
 *   2. the loop waits until each hook has called done, or until the safety
 *      timeout (bot_loop_set_shutdown_timeout, default 3000 ms) has passed;
 *      curl teardown (adapters/http registers its own hook) and polite ws
 *      closes therefore happen before lws is destroyed;
 *   3. the loop closes its own timers and signal handles, then runs every
 *      teardown step's drain function in registration order (the lws
 *      adapter's first lws_context_destroy); uv_run then drains and returns;
 *   4. bot_loop_destroy(), after the run: every teardown step's after
 *      function in registration order (the lws adapter's second destroy,
 *      which frees the context), then uv_loop_close.
 * A hook must leave no uv handle active when it calls done (closing is fine:
 * the drain delivers the close callbacks). After bot_loop_run() returned,
 * lws must not be touched; component destroy functions only free memory.
 */
#ifndef BOT_LOOP_H
#define BOT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bot/base/error.h"

struct bot_loop;

/* A signal arrived (on the loop thread, not in signal context). */
typedef void (*bot_loop_signal_fn)(void *ud, int signum);
/* Called by a shutdown hook when its polite close is finished. */
typedef void (*bot_loop_done_fn)(void *done_ud);
/* Start a polite close; call done(done_ud) when finished, from this call or
 * any later callback. Calling done more than once, or after the safety
 * timeout, is harmless. */
typedef void (*bot_loop_hook_fn)(void *ud, bot_loop_done_fn done, void *done_ud);
/* One final teardown step (step 3 or 4 of the order above). */
typedef void (*bot_loop_step_fn)(void *ud);

/* 0, or BOT_ENOMEM / BOT_EIO (uv_loop_init failed) with detail in err. */
int bot_loop_create(struct bot_loop **out, struct bot_error *err);

/* The embedded libuv loop (borrowed; valid until bot_loop_destroy). */
uv_loop_t *bot_loop_uv(struct bot_loop *l);

/* Register cb for signum (SIGINT, SIGTERM or SIGHUP; else BOT_EINVAL).
 * A second call for the same signal replaces the callback; cb == NULL
 * removes it (the signal then gets its default action again). Signal
 * handles do not keep the loop alive on their own. Returns 0, BOT_EINVAL,
 * BOT_ESTATE (after shutdown began) or BOT_EIO. */
int bot_loop_on_signal(struct bot_loop *l, int signum, bot_loop_signal_fn cb, void *ud);

/* Register a shutdown hook (see the order above). The same (hook, ud) pair
 * may be registered once; returns 0, BOT_ENOMEM, BOT_EDUPLICATE or
 * BOT_ESTATE (shutdown already running). */
int bot_loop_on_shutdown(struct bot_loop *l, bot_loop_hook_fn hook, void *ud);
/* Remove a hook, e.g. when its component is destroyed early. If the hook
 * was already started and has not called done, it counts as done now.
 * Unknown pairs are ignored. */
void bot_loop_off_shutdown(struct bot_loop *l, bot_loop_hook_fn hook, void *ud);

/* Register a final teardown step: drain(ud) runs in step 3, from a plain uv
 * callback after the loop's own handles were closed; it may start
 * asynchronous closes, which uv_run then drains. after(ud) runs in step 4,
 * inside bot_loop_destroy once uv_run has returned and late closes were
 * delivered, right before uv_loop_close; it must leave no handle behind.
 * Either function may be NULL, not both. Steps stay registered until
 * bot_loop_destroy. Returns 0, BOT_EINVAL, BOT_ENOMEM, BOT_EDUPLICATE (the
 * same triple again) or BOT_ESTATE (shutdown already running). */
int bot_loop_on_teardown(struct bot_loop *l, bot_loop_step_fn drain, bot_loop_step_fn after,
			 void *ud);

/* True once the shutdown was asked for (bot_loop_shutdown, or the loop ran
 * out of work) or has happened: a component should not start now. */
bool bot_loop_stopping(const struct bot_loop *l);

/* How long step 2 of the shutdown waits for hooks (default 3000 ms). */
void bot_loop_set_shutdown_timeout(struct bot_loop *l, uint64_t ms);

/* Begin the orderly shutdown. Idempotent; safe from any callback (lws, curl
 * done callbacks, uv callbacks, signal callbacks) because the work starts on
 * the next loop iteration. */
void bot_loop_shutdown(struct bot_loop *l);

/* Run the loop until the shutdown has completed. If the loop runs out of
 * work before anyone asked for a shutdown, the shutdown is started then.
 * Returns 0 (BOT_ESTATE if called again after it returned). */
int bot_loop_run(struct bot_loop *l);

/* After bot_loop_run returned: runs the teardown steps' after functions
 * (step 4) and closes the uv loop. If the loop never ran, it runs the
 * shutdown first. Handles closed by destroy functions after the run still
 * get their close callbacks here, before the after functions (logged as
 * loop.late_close at warn). Returns 0 when uv_loop_close() succeeded, else
 * logs the open handles and returns BOT_ESTATE (the memory is then kept,
 * since libuv still points into it). NULL is ok (returns 0). */
int bot_loop_destroy(struct bot_loop *l);

#endif
