/* loop.c - the one libuv loop, signals, and the orderly shutdown. The
 * teardown order and the reasons for it are in
 * /work/shared/docs/event-loop-notes.md §1; the comments below cite it. */
#include "bot/base/loop.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bot/base/log.h"

#define DEFAULT_SHUTDOWN_TIMEOUT_MS 3000

enum loop_state {
	LOOP_RUNNING,  /* normal operation (a shutdown may be requested) */
	LOOP_HOOKS,    /* hooks started, waiting for their done calls */
	LOOP_DRAINING, /* own handles closed, drain steps run, uv_run drains */
	LOOP_DONE,     /* bot_loop_run returned */
};

enum hook_state { HOOK_IDLE, HOOK_STARTED, HOOK_DONE, HOOK_REMOVED };

struct hook {
	struct hook *next;
	struct bot_loop *loop;
	bot_loop_hook_fn fn;
	void *ud;
	enum hook_state state;
};

struct step {
	struct step *next;
	bot_loop_step_fn drain, after;
	void *ud;
};

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define N_SIGNALS BOT_ARRAY_LEN(handled_signals)

struct sig_slot {
	uv_signal_t handle;
	bot_loop_signal_fn cb;
	void *ud;
	bool inited;
};

struct bot_loop {
	uv_loop_t uv;
	enum loop_state state;
	bool shutdown_requested;
	bool starting_hooks;
	bool in_run;       /* inside bot_loop_run: uv_run is not reentrant */
	struct sig_slot sig[N_SIGNALS];
	uv_timer_t kick;   /* moves each shutdown step onto a fresh iteration */
	uv_timer_t safety; /* bounds the wait for hooks */
	uint64_t shutdown_timeout_ms;
	struct hook *hooks; /* registration order */
	unsigned hooks_pending;
	struct step *steps; /* registration order */
};

/* ---- create ------------------------------------------------------------- */

int bot_loop_create(struct bot_loop **out, struct bot_error *err)
{
	struct bot_loop *l = NULL;
	struct sigaction sa;
	int rc = BOT_EOK, urc;

	*out = NULL;
	/* A write to a socket whose peer has gone raises SIGPIPE, which would
	 * kill the process. lws and OpenSSL write to sockets without
	 * MSG_NOSIGNAL in places, and curl runs with CURLOPT_NOSIGNAL (it must
	 * not touch signals on our loop), so ignore SIGPIPE once for the whole
	 * process: the write then fails with EPIPE and is handled as a
	 * transport error. (lws's context creation does the same, but console
	 * runs never create one.) */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) != 0) {
		rc = bot_error_set(err, BOT_EIO, "cannot ignore SIGPIPE");
		goto out;
	}

	l = calloc(1, sizeof *l);
	if (!l) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory for the event loop");
		goto out;
	}
	urc = uv_loop_init(&l->uv);
	if (urc) {
		rc = bot_error_set(err, BOT_EIO, "uv_loop_init: %s", uv_strerror(urc));
		free(l);
		l = NULL;
		goto out;
	}
	/* Timer init cannot fail on unix; unstarted timers keep nothing alive. */
	(void)uv_timer_init(&l->uv, &l->kick);
	(void)uv_timer_init(&l->uv, &l->safety);
	l->kick.data = l;
	l->safety.data = l;
	l->shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
	l->state = LOOP_RUNNING;
	*out = l;
out:
	return rc;
}

uv_loop_t *bot_loop_uv(struct bot_loop *l)
{
	return &l->uv;
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum)
{
	struct sig_slot *s = container_of(h, struct sig_slot, handle);

	if (s->cb)
		s->cb(s->ud, signum);
}

int bot_loop_on_signal(struct bot_loop *l, int signum, bot_loop_signal_fn cb, void *ud)
{
	struct sig_slot *s = NULL;
	int urc;

	for (size_t i = 0; i < N_SIGNALS; i++)
		if (handled_signals[i] == signum)
			s = &l->sig[i];
	if (!s)
		return BOT_EINVAL;
	if (l->state != LOOP_RUNNING)
		return BOT_ESTATE;

	if (!cb) {
		if (s->inited)
			(void)uv_signal_stop(&s->handle); /* restores SIG_DFL */
		s->cb = NULL;
		s->ud = NULL;
		return BOT_EOK;
	}
	if (!s->inited) {
		urc = uv_signal_init(&l->uv, &s->handle);
		if (urc)
			return BOT_EIO;
		s->inited = true;
		/* Signals alone must not keep the loop alive. */
		uv_unref((uv_handle_t *)&s->handle);
	}
	s->cb = cb;
	s->ud = ud;
	urc = uv_signal_start(&s->handle, on_signal, signum);
	return urc ? BOT_EIO : BOT_EOK;
}

/* ---- shutdown hooks ----------------------------------------------------- */

int bot_loop_on_shutdown(struct bot_loop *l, bot_loop_hook_fn hook, void *ud)
{
	struct hook *h, **tail;

	if (l->state != LOOP_RUNNING)
		return BOT_ESTATE;
	for (tail = &l->hooks; *tail; tail = &(*tail)->next)
		if ((*tail)->fn == hook && (*tail)->ud == ud && (*tail)->state != HOOK_REMOVED)
			return BOT_EDUPLICATE;
	h = calloc(1, sizeof *h);
	if (!h)
		return BOT_ENOMEM;
	h->loop = l;
	h->fn = hook;
	h->ud = ud;
	h->state = HOOK_IDLE;
	*tail = h;
	return BOT_EOK;
}

static void maybe_teardown(struct bot_loop *l);

void bot_loop_off_shutdown(struct bot_loop *l, bot_loop_hook_fn hook, void *ud)
{
	struct hook **pp, *h;

	if (!l)
		return;
	for (pp = &l->hooks; (h = *pp); pp = &h->next) {
		if (h->fn != hook || h->ud != ud || h->state == HOOK_REMOVED)
			continue;
		if (l->state == LOOP_RUNNING) {
			/* Nothing iterates the list now: free at once. */
			*pp = h->next;
			free(h);
			return;
		}
		/* During shutdown the node may be on the caller's stack (the
		 * hook loop) or be a done_ud still held by someone: keep it
		 * until bot_loop_destroy. */
		if (h->state == HOOK_STARTED)
			l->hooks_pending--;
		h->state = HOOK_REMOVED;
		maybe_teardown(l);
		return;
	}
}

/* ---- final teardown steps ---------------------------------------------- */

int bot_loop_on_teardown(struct bot_loop *l, bot_loop_step_fn drain, bot_loop_step_fn after,
			 void *ud)
{
	struct step *st, **tail;

	if (!drain && !after)
		return BOT_EINVAL;
	if (l->state != LOOP_RUNNING)
		return BOT_ESTATE;
	for (tail = &l->steps; *tail; tail = &(*tail)->next)
		if ((*tail)->drain == drain && (*tail)->after == after && (*tail)->ud == ud)
			return BOT_EDUPLICATE;
	st = calloc(1, sizeof *st);
	if (!st)
		return BOT_ENOMEM;
	st->drain = drain;
	st->after = after;
	st->ud = ud;
	*tail = st;
	return BOT_EOK;
}

bool bot_loop_stopping(const struct bot_loop *l)
{
	return l->state != LOOP_RUNNING || l->shutdown_requested;
}

void bot_loop_set_shutdown_timeout(struct bot_loop *l, uint64_t ms)
{
	l->shutdown_timeout_ms = ms;
}

static void hook_done(void *done_ud)
{
	struct hook *h = done_ud;
	struct bot_loop *l = h->loop;

	if (h->state != HOOK_STARTED)
		return; /* twice, after removal, or late: harmless */
	h->state = HOOK_DONE;
	l->hooks_pending--;
	maybe_teardown(l);
}

/* Step 3: close our own handles, then run the drain steps (the lws adapter
 * starts lws's asynchronous destroy there). Runs from the kick timer, i.e. a
 * plain uv callback, never inside an lws or curl callback. */
static void on_teardown(uv_timer_t *t)
{
	struct bot_loop *l = t->data;

	l->state = LOOP_DRAINING;
	(void)uv_timer_stop(&l->safety);
	uv_close((uv_handle_t *)&l->kick, NULL);
	uv_close((uv_handle_t *)&l->safety, NULL);
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (l->sig[i].inited)
			uv_close((uv_handle_t *)&l->sig[i].handle, NULL);
	/* Notes §1 step 5, e.g. the first of lws's two destroys: what the
	 * steps start closing keeps the loop alive until it is closed, then
	 * uv_run returns. */
	for (struct step *st = l->steps; st; st = st->next)
		if (st->drain)
			st->drain(st->ud);
	log_debug("loop.shutdown", "step=drain");
}

static void maybe_teardown(struct bot_loop *l)
{
	if (l->state != LOOP_HOOKS || l->starting_hooks || l->hooks_pending)
		return;
	(void)uv_timer_stop(&l->safety);
	/* A hook may call done from inside an lws callback; the teardown
	 * itself always runs from a fresh uv callback. */
	(void)uv_timer_start(&l->kick, on_teardown, 0, 0);
}

static void on_safety(uv_timer_t *t)
{
	struct bot_loop *l = t->data;

	if (l->state != LOOP_HOOKS)
		return;
	log_warn("loop.shutdown", "step=hooks result=timeout pending=%u timeout_ms=%llu",
		 l->hooks_pending, (unsigned long long)l->shutdown_timeout_ms);
	l->hooks_pending = 0;
	for (struct hook *h = l->hooks; h; h = h->next)
		if (h->state == HOOK_STARTED)
			h->state = HOOK_DONE; /* a late done is then ignored */
	maybe_teardown(l);
}

/* Steps 1-2: start every hook on a fresh iteration, arm the safety timer. */
static void on_start_hooks(uv_timer_t *t)
{
	struct bot_loop *l = t->data;
	unsigned n = 0;

	l->state = LOOP_HOOKS;
	(void)uv_timer_start(&l->safety, on_safety, l->shutdown_timeout_ms, 0);
	l->starting_hooks = true;
	for (struct hook *h = l->hooks; h; h = h->next) {
		if (h->state != HOOK_IDLE)
			continue;
		h->state = HOOK_STARTED;
		l->hooks_pending++;
		n++;
		h->fn(h->ud, hook_done, h);
	}
	l->starting_hooks = false;
	log_debug("loop.shutdown", "step=hooks started=%u pending=%u", n, l->hooks_pending);
	maybe_teardown(l);
}

void bot_loop_shutdown(struct bot_loop *l)
{
	if (!l || l->state != LOOP_RUNNING || l->shutdown_requested)
		return;
	l->shutdown_requested = true;
	log_info("loop.shutdown", "step=start");
	(void)uv_timer_start(&l->kick, on_start_hooks, 0, 0);
}

/* ---- run / destroy ------------------------------------------------------ */

int bot_loop_run(struct bot_loop *l)
{
	if (l->state == LOOP_DONE || l->in_run)
		return BOT_ESTATE;
	l->in_run = true;
	for (;;) {
		(void)uv_run(&l->uv, UV_RUN_DEFAULT);
		if (l->state == LOOP_DRAINING)
			break;
		if (!l->shutdown_requested) {
			/* Nothing left to wait for and nobody asked to stop:
			 * still tear down in order. */
			log_info("loop.idle", "action=shutdown");
			bot_loop_shutdown(l);
		}
	}
	l->in_run = false;
	l->state = LOOP_DONE;
	log_info("loop.shutdown", "step=done");
	return BOT_EOK;
}

struct walk_stats {
	int closing, open;
	bool log;
};

static void walk_cb(uv_handle_t *h, void *arg)
{
	struct walk_stats *w = arg;

	if (uv_is_closing(h))
		w->closing++;
	else
		w->open++;
	if (w->log)
		log_error("loop.open_handle", "type=%s active=%d closing=%d",
			  uv_handle_type_name(uv_handle_get_type(h)), uv_is_active(h),
			  uv_is_closing(h));
}

int bot_loop_destroy(struct bot_loop *l)
{
	struct walk_stats w = { 0, 0, false };
	int urc;

	if (!l)
		return BOT_EOK;
	if (l->in_run) {
		log_error("loop.destroy", "error=\"called from inside the running loop\"");
		return BOT_ESTATE;
	}
	if (l->state == LOOP_RUNNING) {
		/* Never ran (startup failed): still tear down in order. */
		bot_loop_shutdown(l);
		(void)bot_loop_run(l);
	}

	/* Handles closed by destroy functions after the run still need their
	 * close callbacks (which usually free memory). Deliver them before the
	 * after steps (while the lws plugin is still loaded); this is not the
	 * normal path. */
	uv_walk(&l->uv, walk_cb, &w);
	if (w.closing) {
		log_warn("loop.late_close", "handles=%d", w.closing);
		(void)uv_run(&l->uv, UV_RUN_NOWAIT);
	}

	/* Outside the loop (notes §1 step 7), e.g. lws's second destroy, which
	 * frees the context and dlcloses the evlib plugin. */
	while (l->steps) {
		struct step *st = l->steps;
		l->steps = st->next;
		if (st->after)
			st->after(st->ud); /* once, even if destroy is called again */
		free(st);
	}

	urc = uv_loop_close(&l->uv);
	if (urc) {
		w = (struct walk_stats){ 0, 0, true };
		uv_walk(&l->uv, walk_cb, &w);
		log_error("loop.destroy", "error=%s open=%d closing=%d", uv_err_name(urc), w.open,
			  w.closing);
		/* libuv still points into *l: keep it. */
		return BOT_ESTATE;
	}
	while (l->hooks) {
		struct hook *h = l->hooks;
		l->hooks = h->next;
		free(h);
	}
	free(l);
	return BOT_EOK;
}
