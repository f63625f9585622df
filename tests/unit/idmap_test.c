/* bot/base/idmap and bot/base/timeheap: the gate engine's id map and timer
 * heap, checked against plain arrays over many random operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "bot/base/error.h"
#include "bot/base/idmap.h"
#include "bot/base/timeheap.h"

#define N_KEYS 3000

/* Every operation mirrored in a plain array: inserts, replaces, deletes
 * (backward shift under collisions and growth), lookups of absent keys. */
static void test_idmap_matches_array(void **state)
{
	static int vals[N_KEYS];
	static void *ref[N_KEYS];
	struct idmap m;
	size_t count = 0;
	(void)state;

	idmap_init(&m);
	srand(7);
	for (int step = 0; step < 60000; step++) {
		/* dense small keys and sparse large ones: both kinds of ids */
		size_t i = (size_t)rand() % N_KEYS;
		uint64_t key = i % 2 ? i : (uint64_t)i << 40;
		int op = rand() % 3;
		if (op < 2) {
			assert_int_equal(idmap_put(&m, key, &vals[i]), BOT_EOK);
			count += !ref[i];
			ref[i] = &vals[i];
		} else {
			assert_ptr_equal(idmap_del(&m, key), ref[i]);
			count -= !!ref[i];
			ref[i] = NULL;
		}
		assert_int_equal(m.count, count);
		if (step % 997 == 0)
			for (size_t k = 0; k < N_KEYS; k++)
				assert_ptr_equal(idmap_get(&m, k % 2 ? k : (uint64_t)k << 40), ref[k]);
	}
	assert_true(m.n_slots >= 2 * m.count);
	assert_int_equal(idmap_put(&m, 1, NULL), BOT_EINVAL);
	idmap_finish(&m);
	assert_null(idmap_get(&m, 1));
	assert_null(idmap_del(&m, 1));
}

static void count_cb(void *ud, uint64_t key, void *val)
{
	(void)key;
	(void)val;
	(*(size_t *)ud)++;
}

static void test_idmap_each(void **state)
{
	int v[10];
	struct idmap m;
	size_t n = 0;
	(void)state;

	idmap_init(&m);
	for (int i = 0; i < 10; i++)
		assert_int_equal(idmap_put(&m, (uint64_t)i + 1, &v[i]), 0);
	idmap_del(&m, 3);
	idmap_each(&m, count_cb, &n);
	assert_int_equal(n, 9);
	idmap_finish(&m);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Pops come out in due order; equal due times in the order they were set. */
static void test_timeheap_order(void **state)
{
	enum { N = 5000 };
	static uint64_t due[N];
	struct timeheap h;
	struct timeheap_entry e, prev = {0};
	(void)state;

	timeheap_init(&h);
	assert_null(timeheap_top(&h));
	assert_int_equal(timeheap_pop(&h, &e), 0);
	srand(11);
	for (int i = 0; i < N; i++) {
		due[i] = (uint64_t)(rand() % 200); /* many ties */
		assert_int_equal(timeheap_push(&h, due[i], (uint64_t)i, i % 5), 0);
	}
	qsort(due, N, sizeof *due, cmp_u64);
	for (int i = 0; i < N; i++) {
		assert_int_equal(timeheap_top(&h)->due, due[i]);
		assert_int_equal(timeheap_pop(&h, &e), 1);
		assert_int_equal(e.due, due[i]);
		assert_int_equal(e.tag, (int)(e.id % 5));
		if (i && e.due == prev.due)
			assert_true(e.seq > prev.seq && e.id > prev.id);
		prev = e;
	}
	assert_null(timeheap_top(&h));
	timeheap_finish(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idmap_matches_array),
		cmocka_unit_test(test_idmap_each),
		cmocka_unit_test(test_timeheap_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
