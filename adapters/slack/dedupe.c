/* dedupe.c - in-memory dedupe table (see dedupe.h).
 *
 * A chained hash table for lookups plus a FIFO of the same entries in
 * insertion order. With one TTL for every key, insertion order is expiry
 * order, so pruning pops from the head of the FIFO; removing the popped
 * entry from its bucket walks one short chain.
 */
#include "adapters/slack/dedupe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bot/base/log.h"

#define DEFAULT_MAX_KEYS ((size_t)65536)
#define MIN_BUCKETS      64u

struct entry {
	struct entry *chain;   /* next in the bucket */
	struct entry *older;   /* FIFO: next to expire after this one... */
	struct entry *newer;
	uint64_t at_ms;
	uint32_t hash;
	char key[];
};

struct slack_dedupe {
	uint64_t ttl_ms;
	size_t max_keys, n;
	struct entry **buckets;
	size_t n_buckets;          /* power of two */
	struct entry *oldest, *newest;
	uint64_t evicted;
	bool warned;
};

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

int slack_dedupe_create(uint64_t ttl_ms, size_t max_keys, struct slack_dedupe **out)
{
	struct slack_dedupe *d;

	*out = NULL;
	if (ttl_ms == 0)
		return BOT_EINVAL;
	d = calloc(1, sizeof *d);
	if (!d)
		return BOT_ENOMEM;
	d->ttl_ms = ttl_ms;
	d->max_keys = max_keys ? max_keys : DEFAULT_MAX_KEYS;
	d->n_buckets = MIN_BUCKETS;
	d->buckets = calloc(d->n_buckets, sizeof *d->buckets);
	if (!d->buckets) {
		free(d);
		return BOT_ENOMEM;
	}
	*out = d;
	return BOT_EOK;
}

void slack_dedupe_destroy(struct slack_dedupe *d)
{
	struct entry *e, *next;

	if (!d)
		return;
	for (e = d->oldest; e; e = next) {
		next = e->newer;
		free(e);
	}
	free(d->buckets);
	free(d);
}

/* Remove the oldest entry from the table. */
static void drop_oldest(struct slack_dedupe *d)
{
	struct entry *e = d->oldest, **pp;

	for (pp = &d->buckets[e->hash & (d->n_buckets - 1)]; *pp; pp = &(*pp)->chain) {
		if (*pp == e) {
			*pp = e->chain;
			break;
		}
	}
	d->oldest = e->newer;
	if (d->oldest)
		d->oldest->older = NULL;
	else
		d->newest = NULL;
	d->n--;
	free(e);
}

static void grow(struct slack_dedupe *d)
{
	size_t nb = d->n_buckets * 2;
	struct entry **b = calloc(nb, sizeof *b);

	if (!b)
		return; /* longer chains, still correct */
	for (struct entry *e = d->oldest; e; e = e->newer) {
		size_t i = e->hash & (nb - 1);

		e->chain = b[i];
		b[i] = e;
	}
	free(d->buckets);
	d->buckets = b;
	d->n_buckets = nb;
}

int slack_dedupe_claim(struct slack_dedupe *d, const char *key, uint64_t now_ms)
{
	struct entry *e;
	size_t len;
	uint32_t h;

	if (!d || !key)
		return BOT_EINVAL;
	len = strlen(key);
	if (len == 0 || len > SLACK_DEDUPE_MAX_KEY)
		return BOT_EINVAL;
	/* Expire: everything claimed ttl_ms or longer ago. A clock that went
	 * backwards (it is monotonic, but be safe) expires nothing. */
	while (d->oldest && now_ms >= d->oldest->at_ms && now_ms - d->oldest->at_ms >= d->ttl_ms)
		drop_oldest(d);
	h = fnv1a(key, len);
	for (e = d->buckets[h & (d->n_buckets - 1)]; e; e = e->chain)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return BOT_EDUPLICATE;
	if (d->n >= d->max_keys) {
		drop_oldest(d);
		d->evicted++;
		if (!d->warned) {
			d->warned = true;
			log_warn("slack.dedupe", "action=evict_early max_keys=%zu ttl_ms=%llu "
				 "msg=\"table full: the oldest ids are forgotten before their TTL\"",
				 d->max_keys, (unsigned long long)d->ttl_ms);
		}
	}
	e = malloc(sizeof *e + len + 1);
	if (!e)
		return BOT_ENOMEM;
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->at_ms = now_ms;
	e->newer = NULL;
	e->older = d->newest;
	if (d->newest)
		d->newest->newer = e;
	else
		d->oldest = e;
	d->newest = e;
	e->chain = d->buckets[h & (d->n_buckets - 1)];
	d->buckets[h & (d->n_buckets - 1)] = e;
	d->n++;
	if (d->n > d->n_buckets - d->n_buckets / 4)
		grow(d);
	return BOT_EOK;
}

size_t slack_dedupe_count(const struct slack_dedupe *d)
{
	return d ? d->n : 0;
}

uint64_t slack_dedupe_evicted(const struct slack_dedupe *d)
{
	return d ? d->evicted : 0;
}

static int mem_claim(void *impl, const char *key, uint64_t now_ms)
{
	return slack_dedupe_claim(impl, key, now_ms);
}

struct slack_dedupe_store slack_dedupe_store(struct slack_dedupe *d)
{
	return (struct slack_dedupe_store){ .claim = mem_claim, .impl = d };
}
