/* ratelimit.h - how often each key (a user) may do something (prefix
 * ratelimit_).
 *
 * A token bucket per key: `per_minute` tokens at most, refilled evenly over
 * a minute, one spent per action; a key that has not been seen is full, so
 * a burst of per_minute actions passes and then one more every 60/per_minute
 * seconds. Time is the caller's (monotonic ms), so tests need no clock.
 *
 * Memory is bounded: at most max_keys keys are tracked. A full bucket is
 * the same as an absent one, so when the table is full those are dropped
 * first; if every tracked key is still refilling, a new key is let through
 * untracked (counted in ratelimit_untracked): a flood of distinct users
 * cannot grow memory, and cannot lock out a user it has never seen.
 * Keys are hashed to 64 bits (FNV-1a); two keys sharing a hash share a
 * bucket. Not thread-safe.
 */
#ifndef BOT_BASE_RATELIMIT_H
#define BOT_BASE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* per_minute 0 = no limit; max_keys 0 = 4096. BOT_EOK or BOT_ENOMEM. */
int ratelimit_create(unsigned per_minute, size_t max_keys, struct ratelimit **out);
void ratelimit_destroy(struct ratelimit *r); /* NULL ok */

/* A new rate (a configuration reload); buckets keep what they hold, capped. */
void ratelimit_set_rate(struct ratelimit *r, unsigned per_minute);

/* Spend one of key's tokens at now_ms: true if it had one. false: refused,
 * and *retry_ms (may be NULL) says when the next one comes. A NULL r, a
 * rate of 0, or a NULL/empty key always pass. */
bool ratelimit_take(struct ratelimit *r, const char *key, uint64_t now_ms, uint64_t *retry_ms);

size_t ratelimit_keys(const struct ratelimit *r);      /* tracked now */
uint64_t ratelimit_untracked(const struct ratelimit *r); /* let through, table full */

#endif
