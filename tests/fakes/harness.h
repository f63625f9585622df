/* harness.h - one loop, one lws context, adapters/http and the fake Slack,
 * for integration tests that drive the loop themselves (prefix harness_).
 *
 *   struct harness h;
 *   assert_int_equal(harness_init(&h, &fake_opts), 0);
 *   ... create what is under test on h.loop, then:
 *   assert_true(harness_wait(&h, cond, arg, 5000));   // uv_run ONCE until cond
 *   ...
 *   harness_stop(&h);                                  // shutdown hooks, lws teardown
 *   ... destroy what is under test, then:
 *   assert_int_equal(harness_destroy(&h), 0);          // uv_loop_close() == 0
 *
 * Waits are bounded (every wait names its deadline) and poll a condition,
 * so a slow machine only makes a test slower, never wrong. Assertions run
 * outside loop callbacks.
 *
 * Log capture: every line the process logs (after redaction) is kept, so a
 * test can assert that an event was logged and that no secret was. Lines at
 * warn and above are echoed to stderr when HARNESS_VERBOSE is set.
 */
#ifndef TESTS_FAKES_HARNESS_H
#define TESTS_FAKES_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "adapters/http/http.h"
#include "bot/base/loop.h"
#include "tests/fakes/fake_slack.h"

struct harness {
	struct bot_loop *loop;
	uv_loop_t *uv;
	struct lws_context *ctx;
	struct fake_slack *fs;   /* NULL when created without a fake */
	uv_timer_t deadline;
	bool expired;
};

typedef bool (*harness_cond)(void *arg);

/* fake_opts NULL: no fake. Returns 0 or a bot_err code. Starts capturing
 * the log (and clears what was captured). */
int harness_init(struct harness *h, const struct fake_slack_opts *fake_opts);
/* Run the loop until cond(arg) or ms passed; returns cond(arg). cond NULL:
 * just run for ms. */
bool harness_wait(struct harness *h, harness_cond cond, void *arg, unsigned ms);
void harness_pump(struct harness *h, unsigned ms);
/* Run the ordered shutdown: every component's hook, then a last hook of
 * the harness that destroys the fake (if still there), then lws teardown;
 * returns when bot_loop_run returned. Destroy the components under test
 * after this, then call harness_destroy. */
void harness_stop(struct harness *h);
/* bot_loop_destroy()'s code: 0 iff uv_loop_close() returned 0. */
int harness_destroy(struct harness *h);
/* Destroy the fake now (its sockets get a 1001 close). */
void harness_drop_fake(struct harness *h);

/* Captured log lines containing all of the needles (NULL-terminated). */
size_t harness_log_count(const char *needle, ...);
/* Index of the first captured line containing needle and (if not NULL)
 * needle2, or -1: for asserting the order of events. */
long harness_log_index(const char *needle, const char *needle2);
/* The first captured line containing needle, or NULL. */
const char *harness_log_find(const char *needle);
/* Any captured line containing needle? Used to prove secrets never leak. */
bool harness_log_has(const char *needle);
/* Every captured line, in order: harness_log_line(i) for i < harness_log_lines()
 * (NULL past the end); e.g. to parse each as logfmt. */
size_t harness_log_lines(void);
const char *harness_log_line(size_t i);
void harness_log_clear(void);
/* Stop capturing (the default stderr writer again). */
void harness_log_release(void);

#endif
