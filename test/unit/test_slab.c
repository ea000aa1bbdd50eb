/*
 * test_slab.c: the object pool: capacity, free list, growth, iteration,
 * and a random alloc/free run checked against a plain model.
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
	void *objs[10];
	int i, k;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), 10, 4), 0);
	for (i = 0; i < 10; i++) {
		objs[i] = slab_alloc(&s);
		assert_non_null(objs[i]);
		for (k = 0; k < i; k++)
			assert_ptr_not_equal(objs[k], objs[i]);
	}
	assert_int_equal(s.allocated, 10); /* chunks of 4, 4, 2: never past the cap */
	assert_int_equal(s.nchunks, 3);
	assert_null(slab_alloc(&s));
	assert_null(slab_alloc(&s));
	assert_int_equal(s.allocated, 10);

	/* one free makes exactly one more alloc possible */
	slab_free(&s, objs[3]);
	objs[3] = slab_alloc(&s);
	assert_non_null(objs[3]);
	assert_null(slab_alloc(&s));
	slab_free(&s, NULL); /* ignored */
	assert_null(slab_alloc(&s));
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
		p = slab_alloc(&s);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 0xab, 24);
		slab_free(&s, p);
		p = slab_alloc(&s);
		for (size_t k = 0; k < 24; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xcd, 24); /* writes the whole object: ASan checks bounds */
	}
	slab_fini(&s);
}

/* A freed slot is the next one handed out (LIFO), zero-filled again. */
static void
test_reuse_lifo(void **state)
{
	struct slab s;
	struct obj *a, *b, *c;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), 8, 0), 0);
	a = slab_alloc(&s);
	b = slab_alloc(&s);
	assert_non_null(a);
	assert_non_null(b);
	a->id = 1;
	slab_free(&s, a);
	c = slab_alloc(&s);
	assert_ptr_equal(c, a); /* LIFO: same slot */
	assert_int_equal(c->id, 0);
	slab_free(&s, b);
	slab_free(&s, c);
	assert_ptr_equal(slab_alloc(&s), c); /* the last freed first */
	assert_ptr_equal(slab_alloc(&s), b);
	slab_fini(&s);
}

static void
test_pointer_stability(void **state)
{
	enum { N = 1000 };
	struct slab s;
	struct obj *p[N];
	uint32_t idx = 0;
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), N, 3), 0);
	for (i = 0; i < N; i++) {
		p[i] = slab_alloc(&s);
		assert_non_null(p[i]);
		p[i]->id = (uint64_t)i * 7919;
		memset(p[i]->pad, i & 0xff, sizeof(p[i]->pad));
		/* growth of the pool never moves or touches the earlier objects */
		assert_int_equal(p[0]->id, 0);
		assert_int_equal((unsigned char)p[0]->pad[39], 0);
	}
	assert_int_equal(s.allocated, N);
	for (i = 0; i < N; i++) {
		assert_ptr_equal(slab_next(&s, &idx), p[i]); /* still where it was */
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
		p[i] = slab_alloc(&s);
	for (i = 0; i < 10; i += 3)
		slab_free(&s, p[i]); /* 0, 3, 6, 9 */
	idx = 0;
	while ((o = slab_next(&s, &idx)) != NULL) {
		uint32_t k = idx - 1; /* a fresh pool hands out slots 0, 1, 2, ... */
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
		assert_non_null(slab_alloc(&s));
	slab_fini(&s); /* LeakSanitizer checks that every chunk went */
	assert_null(s.chunks);
}

static void
test_out_of_memory(void **state)
{
	struct slab s;
	uint32_t idx = 0;

	(void)state;
	/* a chunk of one 2^60-byte object: malloc must refuse */
	assert_int_equal(slab_init(&s, (size_t)1 << 60, 4, 1), 0);
	assert_null(slab_alloc(&s));
	assert_null(slab_alloc(&s)); /* and again: nothing half-grown */
	assert_int_equal(s.allocated, 0);
	assert_int_equal(s.nchunks, 0);
	assert_null(slab_next(&s, &idx));
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
	enum { CAP = 300, STEPS = 200000 };
	struct obj *m[CAP]; /* the live objects, m[0..live) */
	struct slab s;
	uint64_t x = 0x9e3779b97f4a7c15ull, fails = 0, serial = 0;
	uint32_t live = 0, idx;
	int i;

	(void)state;
	assert_int_equal(slab_init(&s, sizeof(struct obj), CAP, 16), 0);
	for (i = 0; i < STEPS; i++) {
		uint64_t r = rnd(&x);
		/* bias toward alloc in the first half, toward free in the second */
		int do_alloc = (r % 100) < (i < STEPS / 2 ? 60u : 40u);

		if (do_alloc) {
			struct obj *o = slab_alloc(&s);
			if (live == CAP) {
				assert_null(o);
				fails++;
				continue;
			}
			assert_non_null(o);
			assert_int_equal(o->id, 0);
			o->id = ++serial;
			m[live++] = o;
		} else if (live > 0) {
			uint32_t k = (uint32_t)(r >> 32) % live;

			assert_true(m[k]->id != 0);
			slab_free(&s, m[k]);
			m[k] = m[--live];
		}
		if (i % 997 == 0) {
			/* the walk sees exactly the live objects, each once, intact */
			uint64_t sum = 0, want = 0;
			uint32_t seen = 0, k;
			struct obj *o;

			for (k = 0; k < live; k++)
				want += m[k]->id;
			idx = 0;
			while ((o = slab_next(&s, &idx)) != NULL) {
				sum += o->id;
				seen++;
			}
			assert_int_equal(seen, live);
			assert_int_equal(sum, want);
		}
	}
	assert_true(fails > 0); /* the run did reach the cap */
	assert_true(s.allocated <= CAP);
	slab_fini(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_alloc_to_cap),
		cmocka_unit_test(test_objects_zeroed_and_aligned),
		cmocka_unit_test(test_reuse_lifo),
		cmocka_unit_test(test_pointer_stability),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_fini_with_live_objects),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
