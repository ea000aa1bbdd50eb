/*
 * test_ring.c: the lend-and-return ring against a reference model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ring.h"

static void
test_basic_wrap(void **state)
{
	struct ring r = { 0 };
	size_t start, n;

	(void)state;
	assert_int_equal(ring_alloc(&r, 100), 0);
	n = ring_space(&r, &start);
	assert_int_equal(start, 0);
	assert_int_equal(n, 100);
	ring_lend(&r, 0, 60);
	n = ring_space(&r, &start);
	assert_int_equal(start, 60);
	assert_int_equal(n, 40);
	ring_lend(&r, 60, 40);
	assert_int_equal(ring_space(&r, &start), 0); /* full, nothing back yet */
	ring_back(&r, 30);
	n = ring_space(&r, &start); /* wraps to the front */
	assert_int_equal(start, 0);
	assert_int_equal(n, 30);
	ring_lend(&r, 0, 10);
	ring_back(&r, 30); /* head reaches 60 */
	ring_back(&r, 40); /* head reaches the wrap point: back to 0 */
	n = ring_space(&r, &start);
	assert_int_equal(start, 10);
	assert_int_equal(n, 90);
	ring_back(&r, 10);
	n = ring_space(&r, &start); /* empty: starts over */
	assert_int_equal(start, 0);
	assert_int_equal(n, 100);
	ring_release(&r);
	assert_null(r.mem);
}

/* Random lends and returns: pieces never overlap lent bytes and come back in order. */
static void
test_model(void **state)
{
	enum { CAP = 1000, OPS = 200000 };
	struct ring r = { 0 };
	size_t qs[CAP], qn[CAP], qh = 0, qt = 0, i;
	unsigned char owner[CAP];

	(void)state;
	srand(7);
	memset(owner, 0, sizeof(owner));
	assert_int_equal(ring_alloc(&r, CAP), 0);
	for (i = 0; i < OPS; i++) {
		if (rand() % 2 && qh != qt) {
			size_t k;

			for (k = 0; k < qn[qh % CAP]; k++) {
				assert_int_equal(owner[qs[qh % CAP] + k], 1);
				owner[qs[qh % CAP] + k] = 0;
			}
			ring_back(&r, qn[qh % CAP]);
			qh++;
		} else {
			size_t start, room = ring_space(&r, &start), n, k;

			if (room == 0 || qt - qh == CAP)
				continue;
			n = 1 + (size_t)rand() % room;
			for (k = 0; k < n; k++) {
				assert_int_equal(owner[start + k], 0);
				owner[start + k] = 1;
			}
			ring_lend(&r, start, n);
			qs[qt % CAP] = start;
			qn[qt % CAP] = n;
			qt++;
		}
	}
	ring_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_wrap),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
