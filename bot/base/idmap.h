/* idmap.h - a map from 64-bit ids to pointers (prefix idmap_).
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), kept at most half full; the caller provides the struct
 * (idmap_init / idmap_finish). Values are borrowed: the map never frees
 * them. NULL is not a value (it means "absent"). Not thread-safe.
 */
#ifndef BOT_BASE_IDMAP_H
#define BOT_BASE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key;
	void *val; /* NULL: empty */
};

struct idmap {
	struct idmap_slot *slots;
	size_t n_slots; /* 0 or a power of two */
	size_t count;
};

void idmap_init(struct idmap *m);
/* Free the table (not the values). */
void idmap_finish(struct idmap *m);

/* The value for key, or NULL. */
void *idmap_get(const struct idmap *m, uint64_t key);
/* Set key to val (non-NULL), replacing an earlier value. BOT_EOK,
 * BOT_EINVAL (val NULL) or BOT_ENOMEM (the map is unchanged). */
int idmap_put(struct idmap *m, uint64_t key, void *val);
/* Remove key; returns its value, or NULL if it was not there. */
void *idmap_del(struct idmap *m, uint64_t key);

/* Call fn for every value (in no particular order). fn must not change
 * the map. */
void idmap_each(const struct idmap *m, void (*fn)(void *ud, uint64_t key, void *val), void *ud);

#endif
