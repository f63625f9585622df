/* ratelimit.c - a token bucket per key (see ratelimit.h). */
#include "bot/base/ratelimit.h"
#include "bot/base/error.h"
#include "bot/base/idmap.h"

#include <stdlib.h>

#define DEFAULT_MAX_KEYS 4096

/* A token is 60,000 units, so per_minute tokens a minute are per_minute
 * units a millisecond: the refill is exact integer math. */
#define ONE 60000u

struct bucket {
	uint64_t units;  /* held */
	uint64_t at_ms;  /* when units was last brought up to date */
};

struct ratelimit {
	unsigned per_minute;
	size_t max_keys;
	struct idmap keys; /* hash -> struct bucket */
	uint64_t untracked;
};

struct sweep {
	struct ratelimit *r;
	uint64_t now_ms;
	uint64_t *full;
	size_t n, cap;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t capacity(const struct ratelimit *r)
{
	return (uint64_t)r->per_minute * ONE;
}

static void refill(const struct ratelimit *r, struct bucket *b, uint64_t now_ms)
{
	uint64_t cap = capacity(r);

	if (now_ms > b->at_ms) {
		b->units += (now_ms - b->at_ms) * r->per_minute;
		b->at_ms = now_ms;
	}
	if (b->units > cap) /* full, or the rate was lowered */
		b->units = cap;
}

int ratelimit_create(unsigned per_minute, size_t max_keys, struct ratelimit **out)
{
	struct ratelimit *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r)
		return BOT_ENOMEM;
	r->per_minute = per_minute;
	r->max_keys = max_keys ? max_keys : DEFAULT_MAX_KEYS;
	idmap_init(&r->keys);
	*out = r;
	return BOT_EOK;
}

static void free_bucket(void *ud, uint64_t key, void *val)
{
	(void)ud;
	(void)key;
	free(val);
}

void ratelimit_destroy(struct ratelimit *r)
{
	if (!r)
		return;
	idmap_each(&r->keys, free_bucket, NULL);
	idmap_finish(&r->keys);
	free(r);
}

void ratelimit_set_rate(struct ratelimit *r, unsigned per_minute)
{
	if (r)
		r->per_minute = per_minute;
}

static void find_full(void *ud, uint64_t key, void *val)
{
	struct sweep *s = ud;
	struct bucket *b = val;

	refill(s->r, b, s->now_ms);
	if (b->units < capacity(s->r) || s->n == s->cap)
		return;
	s->full[s->n++] = key;
}

/* Drop the buckets that are full again (as good as absent). */
static void sweep(struct ratelimit *r, uint64_t now_ms)
{
	struct sweep s = {.r = r, .now_ms = now_ms, .cap = r->keys.count};

	s.full = malloc(s.cap * sizeof *s.full);
	if (!s.full)
		return;
	idmap_each(&r->keys, find_full, &s);
	for (size_t i = 0; i < s.n; i++)
		free(idmap_del(&r->keys, s.full[i]));
	free(s.full);
}

bool ratelimit_take(struct ratelimit *r, const char *key, uint64_t now_ms, uint64_t *retry_ms)
{
	struct bucket *b;
	uint64_t h;

	if (!r || !r->per_minute || !key || !*key)
		return true;
	h = hash(key);
	b = idmap_get(&r->keys, h);
	if (!b) {
		if (r->keys.count >= r->max_keys)
			sweep(r, now_ms);
		b = r->keys.count < r->max_keys ? malloc(sizeof *b) : NULL;
		if (!b || idmap_put(&r->keys, h, b) != BOT_EOK) {
			free(b);
			r->untracked++;
			return true;
		}
		b->units = capacity(r);
		b->at_ms = now_ms;
	}
	refill(r, b, now_ms);
	if (b->units >= ONE) {
		b->units -= ONE;
		return true;
	}
	if (retry_ms) /* until the bucket holds one token, rounded up */
		*retry_ms = (ONE - b->units + r->per_minute - 1) / r->per_minute;
	return false;
}

size_t ratelimit_keys(const struct ratelimit *r)
{
	return r ? r->keys.count : 0;
}

uint64_t ratelimit_untracked(const struct ratelimit *r)
{
	return r ? r->untracked : 0;
}
