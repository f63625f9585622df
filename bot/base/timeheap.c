/* timeheap.c - a min-heap of due times (see timeheap.h). */
#include "bot/base/timeheap.h"
#include "bot/base/error.h"

#include <stdbool.h>
#include <stdlib.h>

static bool less(const struct timeheap_entry *a, const struct timeheap_entry *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void swap(struct timeheap_entry *a, struct timeheap_entry *b)
{
	struct timeheap_entry t = *a;
	*a = *b;
	*b = t;
}

void timeheap_init(struct timeheap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->seq = 0;
}

void timeheap_finish(struct timeheap *h)
{
	free(h->v);
	timeheap_init(h);
}

int timeheap_push(struct timeheap *h, uint64_t due, uint64_t id, int tag)
{
	size_t i;

	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct timeheap_entry *nv = realloc(h->v, nc * sizeof *nv);
		if (!nv)
			return BOT_ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	i = h->n++;
	h->v[i] = (struct timeheap_entry){.due = due, .seq = ++h->seq, .id = id, .tag = tag};
	while (i > 0 && less(&h->v[i], &h->v[(i - 1) / 2])) {
		swap(&h->v[i], &h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return BOT_EOK;
}

const struct timeheap_entry *timeheap_top(const struct timeheap *h)
{
	return h->n ? &h->v[0] : NULL;
}

int timeheap_pop(struct timeheap *h, struct timeheap_entry *out)
{
	size_t i = 0, n;

	if (!h->n)
		return 0;
	*out = h->v[0];
	n = --h->n;
	h->v[0] = h->v[n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && less(&h->v[l], &h->v[m]))
			m = l;
		if (r < n && less(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		swap(&h->v[m], &h->v[i]);
		i = m;
	}
	return 1;
}
