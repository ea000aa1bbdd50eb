/*
 * test_slab.c: the object pool: capacity, free list, generations, growth,
 * statistics, and a random alloc/free run checked against a plain model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

/* Let the out-of-memory test get NULL from a huge malloc under ASan too. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

struct obj {
	uint64_t id;
	char pad[40];
};

static void
test_init_rejects(void **state)
{
	struct slab s;

	(void)state;
	assert_int_equal(slab_init(&s, 0, 10, 0), -EINVAL);
	slab_fini(&s);
	assert_int_equal(slab_init(&s, 8, 0, 0), -EINVAL);
	assert_int_equal(slab_init(&s, 8, UINT32_MAX, 0), -EINVAL);
	assert_int_equal(slab_init(&s, SIZE_MAX - 8, 10, 0), -EINVAL);
	slab_fini(&s);
	assert_int_equal(slab_init(&s, 8, 10, 0), 0);
	slab_fini(&s);
	slab_fini(&s); /* twice is harmless */
}

static void
test_alloc_to_cap(void **state)
{
	struct slab s;
	struct slab_stats st;
	void *objs[10];
	slab_handle h;
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), 10, 4), 0);
	for (i = 0; i < 10; i++) {
		objs[i] = slab_alloc(&s, &h);
		assert_non_null(objs[i]);
		assert_ptr_equal(slab_get(&s, h), objs[i]);
		assert_int_equal(slab_index_of(&s, objs[i]), i);
	}
	slab_stats(&s, &st);
	assert_int_equal(st.in_use, 10);
	assert_int_equal(st.allocated, 10); /* chunks of 4, 4, 2: never past the cap */
	assert_int_equal(st.alloc_failures, 0);

	h = 12345;
	assert_null(slab_alloc(&s, &h));
	assert_int_equal(h, SLAB_HANDLE_NONE);
	assert_null(slab_alloc(&s, NULL));
	slab_stats(&s, &st);
	assert_int_equal(st.alloc_failures, 2);
	assert_int_equal(st.nomem_failures, 0);
	assert_int_equal(st.capacity, 10);
	assert_int_equal(st.in_use, 10);

	/* one free makes exactly one more alloc possible */
	slab_free(&s, objs[3]);
	objs[3] = slab_alloc(&s, NULL);
	assert_non_null(objs[3]);
	assert_null(slab_alloc(&s, NULL));
	slab_stats(&s, &st);
	assert_int_equal(st.alloc_failures, 3);
	slab_fini(&s);
}

static void
test_objects_zeroed_and_aligned(void **state)
{
	struct slab s;
	unsigned char *p;
	size_t i;

	(void)state;
	assert_int_equal(slab_init(&s, 24, 4, 2), 0);
	for (i = 0; i < 4; i++) {
		p = slab_alloc(&s, NULL);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 0xab, 24);
		slab_free(&s, p);
		p = slab_alloc(&s, NULL);
		for (size_t k = 0; k < 24; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xcd, 24); /* writes the whole object: ASan checks bounds */
	}
	slab_fini(&s);
}

static void
test_reuse_new_generation(void **state)
{
	struct slab s;
	slab_handle h1, h2;
	void *a, *b;

	(void)state;
	assert_int_equal(slab_init(&s, 16, 8, 0), 0);
	a = slab_alloc(&s, &h1);
	assert_non_null(a);
	assert_int_not_equal(h1, SLAB_HANDLE_NONE);
	assert_int_equal(slab_handle_of(&s, a), h1);
	slab_free(&s, a);
	assert_null(slab_get(&s, h1)); /* freed: stale at once */

	b = slab_alloc(&s, &h2);
	assert_ptr_equal(b, a); /* LIFO: same slot */
	assert_int_equal(slab_handle_index(h2), slab_handle_index(h1));
	assert_int_not_equal(slab_handle_gen(h2), slab_handle_gen(h1));
	assert_null(slab_get(&s, h1)); /* the old handle does not reach the new object */
	assert_ptr_equal(slab_get(&s, h2), b);
	assert_int_equal(slab_handle_of(&s, b), h2);
	slab_fini(&s);
}

static void
test_invalid_handles(void **state)
{
	struct slab s;
	slab_handle h, forged;
	void *a;

	(void)state;
	assert_int_equal(slab_init(&s, 16, 8, 2), 0);
	assert_null(slab_get(&s, SLAB_HANDLE_NONE));
	assert_null(slab_get(&s, (slab_handle)1 << 32 | 0)); /* nothing allocated yet */
	a = slab_alloc(&s, &h);
	assert_non_null(a);
	/* out of range index, in range but never allocated, even generation */
	assert_null(slab_get(&s, (slab_handle)slab_handle_gen(h) << 32 | 7));
	assert_null(slab_get(&s, (slab_handle)slab_handle_gen(h) << 32 | 1));
	forged = (slab_handle)(slab_handle_gen(h) + 1) << 32 | slab_handle_index(h);
	assert_null(slab_get(&s, forged));
	forged = (slab_handle)(slab_handle_gen(h) + 2) << 32 | slab_handle_index(h);
	assert_null(slab_get(&s, forged));
	assert_null(slab_get(&s, (slab_handle)slab_handle_gen(h) << 32 | 0xffffffffu));
	/* a freed slot's (even) generation is never a valid handle */
	slab_free(&s, a);
	forged = (slab_handle)(slab_handle_gen(h) + 1) << 32 | slab_handle_index(h);
	assert_null(slab_get(&s, forged));
	assert_null(slab_get(&s, h));
	slab_free(&s, NULL); /* ignored */
	slab_fini(&s);
}

static void
test_high_water(void **state)
{
	struct slab s;
	struct slab_stats st;
	void *p[6];
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, 8, 100, 0), 0);
	p[0] = slab_alloc(&s, NULL);
	slab_stats(&s, &st);
	assert_int_equal(st.high_water, 1);
	slab_free(&s, p[0]);
	for (i = 0; i < 6; i++)
		p[i] = slab_alloc(&s, NULL);
	for (i = 0; i < 4; i++)
		slab_free(&s, p[i]);
	slab_stats(&s, &st);
	assert_int_equal(st.in_use, 2);
	assert_int_equal(st.high_water, 6);
	for (i = 0; i < 3; i++)
		p[i] = slab_alloc(&s, NULL);
	slab_stats(&s, &st);
	assert_int_equal(st.in_use, 5);
	assert_int_equal(st.high_water, 6);
	for (i = 3; i < 6; i++)
		p[i] = slab_alloc(&s, NULL);
	slab_stats(&s, &st);
	assert_int_equal(st.in_use, 8);
	assert_int_equal(st.high_water, 8);
	slab_fini(&s);
}

static void
test_pointer_stability(void **state)
{
	enum { N = 1000 };
	struct slab s;
	struct slab_stats st;
	struct obj *p[N];
	slab_handle h[N];
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), N, 3), 0);
	for (i = 0; i < N; i++) {
		p[i] = slab_alloc(&s, &h[i]);
		assert_non_null(p[i]);
		p[i]->id = (uint64_t)i * 7919;
		memset(p[i]->pad, i & 0xff, sizeof(p[i]->pad));
		/* growth of the pool never moves the earlier objects */
		assert_ptr_equal(slab_get(&s, h[0]), p[0]);
	}
	slab_stats(&s, &st);
	assert_int_equal(st.allocated, N);
	for (i = 0; i < N; i++) {
		assert_ptr_equal(slab_get(&s, h[i]), p[i]);
		assert_int_equal(p[i]->id, (uint64_t)i * 7919);
		assert_int_equal((unsigned char)p[i]->pad[39], i & 0xff);
	}
	slab_fini(&s);
}

static void
test_iterate(void **state)
{
	struct slab s;
	void *p[10];
	uint32_t idx = 0, seen = 0;
	void *o;
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, 8, 10, 4), 0);
	assert_null(slab_next(&s, &idx));
	for (i = 0; i < 10; i++)
		p[i] = slab_alloc(&s, NULL);
	for (i = 0; i < 10; i += 3)
		slab_free(&s, p[i]); /* 0, 3, 6, 9 */
	idx = 0;
	while ((o = slab_next(&s, &idx)) != NULL) {
		uint32_t k = slab_index_of(&s, o);
		assert_int_equal(k + 1, idx);
		assert_int_not_equal(k % 3, 0);
		assert_ptr_equal(o, p[k]);
		seen++;
		slab_free(&s, o); /* freeing during the walk is allowed */
	}
	assert_int_equal(seen, 6);
	idx = 0;
	assert_null(slab_next(&s, &idx));
	slab_fini(&s);
}

static void
test_fini_with_live_objects(void **state)
{
	struct slab s;
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, 100, 50, 7), 0);
	for (i = 0; i < 33; i++)
		assert_non_null(slab_alloc(&s, NULL));
	slab_fini(&s); /* LeakSanitizer checks that every chunk went */
	assert_null(s.chunks);
}

static void
test_out_of_memory(void **state)
{
	struct slab s;
	struct slab_stats st;
	slab_handle h = 99;

	(void)state;
	/* a chunk of one 2^60-byte object: malloc must refuse */
	assert_int_equal(slab_init(&s, (size_t)1 << 60, 4, 1), 0);
	assert_null(slab_alloc(&s, &h));
	assert_int_equal(h, SLAB_HANDLE_NONE);
	slab_stats(&s, &st);
	assert_int_equal(st.alloc_failures, 1);
	assert_int_equal(st.nomem_failures, 1);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(st.in_use, 0);
	slab_fini(&s);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

static void
test_random_vs_model(void **state)
{
	enum { CAP = 300, STEPS = 200000, OLD = 64 };
	struct model {
		struct obj *p; /* NULL: not allocated */
		slab_handle h;
	} m[CAP];
	slab_handle old[OLD]; /* handles of freed objects: must stay stale */
	struct slab s;
	struct slab_stats st;
	uint64_t x = 0x9e3779b97f4a7c15ull, fails = 0, serial = 0;
	uint32_t live = 0, hw = 0;
	int i, nold = 0;

	(void)state;
	memset(m, 0, sizeof(m));
	assert_int_equal(slab_init(&s, sizeof(struct obj), CAP, 16), 0);
	for (i = 0; i < STEPS; i++) {
		uint64_t r = rnd(&x);
		/* bias toward alloc in the first half, toward free in the second */
		int do_alloc = (r % 100) < (i < STEPS / 2 ? 60u : 40u);

		if (do_alloc) {
			slab_handle h;
			struct obj *o = slab_alloc(&s, &h);
			if (live == CAP) {
				assert_null(o);
				fails++;
				continue;
			}
			assert_non_null(o);
			assert_int_equal(o->id, 0);
			uint32_t k = slab_handle_index(h);
			assert_true(k < CAP);
			assert_null(m[k].p);
			m[k].p = o;
			m[k].h = h;
			o->id = ++serial;
			if (++live > hw)
				hw = live;
		} else if (live > 0) {
			uint32_t k = (uint32_t)(r >> 32) % CAP;
			while (m[k].p == NULL)
				k = (k + 1) % CAP;
			assert_ptr_equal(slab_get(&s, m[k].h), m[k].p);
			slab_free(&s, m[k].p);
			old[nold++ % OLD] = m[k].h;
			m[k].p = NULL;
			live--;
		}
		if (i % 997 == 0) {
			for (uint32_t k = 0; k < CAP; k++)
				if (m[k].p != NULL)
					assert_ptr_equal(slab_get(&s, m[k].h), m[k].p);
			for (int k = 0; k < (nold < OLD ? nold : OLD); k++)
				assert_null(slab_get(&s, old[k]));
		}
	}
	slab_stats(&s, &st);
	assert_int_equal(st.in_use, live);
	assert_int_equal(st.high_water, hw);
	assert_int_equal(st.alloc_failures, fails);
	assert_true(fails > 0); /* the run did reach the cap */
	slab_fini(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_alloc_to_cap),
		cmocka_unit_test(test_objects_zeroed_and_aligned),
		cmocka_unit_test(test_reuse_new_generation),
		cmocka_unit_test(test_invalid_handles),
		cmocka_unit_test(test_high_water),
		cmocka_unit_test(test_pointer_stability),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_fini_with_live_objects),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
