/* dedupe.h - "has this already been acted on?" for Slack deliveries
 * (prefix slack_dedupe_).
 *
 * Slack delivers at least once: events_api envelopes are retried
 * (retry_attempt > 0, at +0, +1 min, +5 min), and after a reconnect an
 * envelope may arrive again on the new socket with a new envelope_id. The
 * key to deduplicate on is therefore what the envelope is about, not the
 * envelope: slack_frame.dedupe_key (envelope.h) is "ev:<event_id>",
 * "cmd:<trigger_id>" or "act:<user>:<action_ts>:<action_id>".
 *
 * The backend sees the store only through struct slack_dedupe_store, so a
 * durable table (the SQLite store: INSERT OR IGNORE on the key, pruning
 * rows older than the TTL) can replace the in-memory one below without
 * touching the Slack adapter.
 *
 * The in-memory store keeps each key for ttl_ms (at least 10 minutes is
 * what Slack's retry schedule needs; the backend's default is 15). Keys
 * expire in insertion order. It holds at most max_keys: when full, the
 * oldest key is dropped early and a warning is logged (a flood of unique
 * deliveries must not grow memory without bound). Loop thread only.
 */
#ifndef ADAPTERS_SLACK_DEDUPE_H
#define ADAPTERS_SLACK_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "bot/base/error.h"

/* The interface. claim() records key and returns BOT_EOK when it has not
 * been seen within the store's retention, BOT_EDUPLICATE when it has, or
 * another bot_err code when the store failed (the backend then acts on the
 * delivery and logs: a lost duplicate check is better than a lost click).
 * now_ms is a monotonic clock in milliseconds (uv_now). */
struct slack_dedupe_store {
	int (*claim)(void *impl, const char *key, uint64_t now_ms);
	void *impl;
};

struct slack_dedupe;

#define SLACK_DEDUPE_MAX_KEY 255

/* ttl_ms > 0; max_keys 0 means 65536. Returns 0, BOT_EINVAL or BOT_ENOMEM. */
int slack_dedupe_create(uint64_t ttl_ms, size_t max_keys, struct slack_dedupe **out);
void slack_dedupe_destroy(struct slack_dedupe *d); /* NULL ok */

/* BOT_EOK (new, recorded), BOT_EDUPLICATE (seen within ttl_ms), BOT_EINVAL
 * (NULL, empty or longer than SLACK_DEDUPE_MAX_KEY), BOT_ENOMEM. Expired
 * keys are dropped on every call. */
int slack_dedupe_claim(struct slack_dedupe *d, const char *key, uint64_t now_ms);

/* Keys held now (expired ones included until the next claim). */
size_t slack_dedupe_count(const struct slack_dedupe *d);
/* Keys dropped early because the table was full. */
uint64_t slack_dedupe_evicted(const struct slack_dedupe *d);

/* The in-memory table behind the interface (d is borrowed). */
struct slack_dedupe_store slack_dedupe_store(struct slack_dedupe *d);

#endif
