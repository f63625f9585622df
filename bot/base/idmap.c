/* idmap.c - a map from 64-bit ids to pointers (see idmap.h). */
#include "bot/base/idmap.h"
#include "bot/base/error.h"

#include <stdbool.h>
#include <stdlib.h>

static size_t home(const struct idmap *m, uint64_t key)
{
	uint64_t h = key;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (m->n_slots - 1);
}

void idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->n_slots = m->count = 0;
}

void idmap_finish(struct idmap *m)
{
	free(m->slots);
	idmap_init(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct idmap *m, uint64_t key)
{
	size_t i = home(m, key);
	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & (m->n_slots - 1);
	return i;
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
	return m->n_slots ? m->slots[find(m, key)].val : NULL;
}

static int grow(struct idmap *m)
{
	size_t old_n = m->n_slots, n = old_n ? old_n * 2 : 64;
	struct idmap_slot *old = m->slots, *nv = calloc(n, sizeof *nv);

	if (!nv)
		return BOT_ENOMEM;
	m->slots = nv;
	m->n_slots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].val)
			m->slots[find(m, old[i].key)] = old[i];
	free(old);
	return BOT_EOK;
}

int idmap_put(struct idmap *m, uint64_t key, void *val)
{
	size_t i;

	if (!val)
		return BOT_EINVAL;
	if ((m->count + 1) * 2 > m->n_slots && grow(m) != BOT_EOK)
		return BOT_ENOMEM;
	i = find(m, key);
	if (!m->slots[i].val)
		m->count++;
	m->slots[i] = (struct idmap_slot){.key = key, .val = val};
	return BOT_EOK;
}

void *idmap_del(struct idmap *m, uint64_t key)
{
	size_t mask, i, j;
	void *val;

	if (!m->n_slots)
		return NULL;
	mask = m->n_slots - 1;
	i = find(m, key);
	val = m->slots[i].val;
	if (!val)
		return NULL;
	m->slots[i].val = NULL;
	m->count--;
	/* backward shift: move j back to i unless its home k lies
	 * cyclically in (i, j], so probing never needs tombstones */
	for (j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		size_t k = home(m, m->slots[j].key);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			m->slots[i] = m->slots[j];
			m->slots[j].val = NULL;
			i = j;
		}
	}
	return val;
}

void idmap_each(const struct idmap *m, void (*fn)(void *ud, uint64_t key, void *val), void *ud)
{
	for (size_t i = 0; i < m->n_slots; i++)
		if (m->slots[i].val)
			fn(ud, m->slots[i].key, m->slots[i].val);
}
