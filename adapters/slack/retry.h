/* retry.h - retry and backoff policies as data (prefix slack_retry_).
 *
 * A policy is a table of delays plus jitter and a bound, the way lws's
 * lws_retry_bo_t describes one (style.md habit 10): the Socket Mode
 * reconnect and the Web API's retries of 5xx/transport errors are two
 * instances of it. Pure functions, no clock: the caller supplies the random
 * value, so tests can pin the jitter.
 *
 *   static const uint32_t steps[] = { 1000, 2000, 4000, 8000, 16000, 30000 };
 *   static const struct slack_retry_policy reconnect = {
 *           steps, BOT_ARRAY_LEN(steps), 20, SLACK_RETRY_FOREVER };
 *   if (slack_retry_allowed(&reconnect, attempt))
 *           delay = slack_retry_delay_ms(&reconnect, attempt, slack_retry_random());
 */
#ifndef ADAPTERS_SLACK_RETRY_H
#define ADAPTERS_SLACK_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLACK_RETRY_FOREVER 0u

struct slack_retry_policy {
	const uint32_t *delays_ms; /* delay before retry 0, 1, ...; the last repeats */
	size_t n_delays;           /* >= 1 */
	unsigned jitter_pct;       /* each delay grows by a random 0..jitter_pct % (<= 100) */
	unsigned max_retries;      /* retries allowed; SLACK_RETRY_FOREVER never gives up */
};

/* May retry number `attempt` (0 = the first retry) happen? */
bool slack_retry_allowed(const struct slack_retry_policy *p, unsigned attempt);

/* The delay before retry number `attempt`: delays_ms[min(attempt, n-1)]
 * plus (rnd % (jitter_pct + 1)) percent of it. Any rnd is fine; 0 means no
 * jitter. A NULL or empty policy gives 0. */
uint64_t slack_retry_delay_ms(const struct slack_retry_policy *p, unsigned attempt, uint32_t rnd);

/* A non-cryptographic random value for jitter (xorshift, seeded once from
 * the clock and the pid). Loop thread only. */
uint32_t slack_retry_random(void);

#endif
