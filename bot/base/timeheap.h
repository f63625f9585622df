/* timeheap.h - a min-heap of due times (prefix timeheap_).
 *
 * Entries are (due, id, tag), ordered by due time and, for equal times, by
 * insertion order (a sequence number), so timers due together fire in the
 * order they were set. The caller provides the struct and runs the clock
 * (one uv timer for the earliest entry, see bot/domain/gate.c). Not
 * thread-safe.
 */
#ifndef BOT_BASE_TIMEHEAP_H
#define BOT_BASE_TIMEHEAP_H

#include <stddef.h>
#include <stdint.h>

struct timeheap_entry {
	uint64_t due; /* any monotonic unit */
	uint64_t seq; /* insertion order */
	uint64_t id;  /* whose timer */
	int tag;      /* what kind of timer (the caller's enum) */
};

struct timeheap {
	struct timeheap_entry *v;
	size_t n, cap;
	uint64_t seq;
};

void timeheap_init(struct timeheap *h);
void timeheap_finish(struct timeheap *h);

/* BOT_EOK or BOT_ENOMEM (unchanged). */
int timeheap_push(struct timeheap *h, uint64_t due, uint64_t id, int tag);
/* The earliest entry, or NULL when empty (valid until the next change). */
const struct timeheap_entry *timeheap_top(const struct timeheap *h);
/* Remove the earliest entry into *out; 0 when the heap was empty. */
int timeheap_pop(struct timeheap *h, struct timeheap_entry *out);

#endif
