/*
 * test_fdbudget.c: permits, refusal slots, the change hook, the counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/resource.h>

#include "fdbudget.h"

/* Records every hook call. */
struct hook_log {
	int calls;
	int last_avail;
	int last_paused; /* fdbudget_should_pause_accept() seen inside the hook */
	struct fdbudget *b;
};

static void
on_change(void *arg, int available_now)
{
	struct hook_log *h = arg;

	h->calls++;
	h->last_avail = available_now;
	h->last_paused = fdbudget_should_pause_accept(h->b);
}

/* A budget of `permits` permits with 4 refusal slots and a hook. */
static void
setup(struct fdbudget *b, struct hook_log *h, unsigned long permits)
{
	*h = (struct hook_log){ .last_avail = -1, .last_paused = -1, .b = b };
	assert_int_equal(fdbudget_init(b, (long)(64 + permits), 64, 4), 0);
	fdbudget_set_listener(b, on_change, h);
}

static void
test_init(void **state)
{
	struct fdbudget b;

	(void)state;
	assert_int_equal(fdbudget_init(&b, 1024, 64, 4), 0);
	assert_int_equal(b.total, 960);
	assert_int_equal(fdbudget_available(&b), 960);
	assert_int_equal(b.in_use, 0);
	assert_int_equal(b.reserve, 64);
	assert_int_equal(b.refusal_slots, 4);
	assert_false(fdbudget_exhausted(&b));
	assert_false(fdbudget_should_pause_accept(&b));
	/* The reserve must cover the refusal slots and the fixed fds. */
	assert_int_equal(fdbudget_init(&b, 1024, 4 + FDBUDGET_FIXED_MIN - 1, 4), -EINVAL);
	assert_int_equal(fdbudget_init(&b, 1024, 4 + FDBUDGET_FIXED_MIN, 4), 0);
	assert_int_equal(fdbudget_init(&b, 1024, 64, 60), -EINVAL);
	/* A limit at or below the reserve leaves no permit: refuse. */
	assert_int_equal(fdbudget_init(&b, 64, 64, 4), -EINVAL);
	assert_int_equal(fdbudget_init(&b, 10, 64, 4), -EINVAL);
	assert_int_equal(fdbudget_init(&b, -1, 64, 4), -EINVAL);
	assert_int_equal(fdbudget_init(&b, 65, 64, 4), 0);
	assert_int_equal(fdbudget_available(&b), 1);
}

static void
test_exhaust_refuse_recover(void **state)
{
	struct fdbudget b;
	struct hook_log h;
	unsigned i;

	(void)state;
	setup(&b, &h, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(fdbudget_available(&b), 0);
	assert_true(fdbudget_exhausted(&b));
	assert_false(fdbudget_should_pause_accept(&b));
	assert_int_equal(fdbudget_acquire(&b, 1), -1);
	assert_int_equal(fdbudget_acquire(&b, 1), -1);
	assert_int_equal(b.refused_total, 2);
	assert_int_equal(b.in_use, 5);
	fdbudget_release(&b, 1);
	assert_false(fdbudget_exhausted(&b));
	assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(b.acquired_total, 6);
	fdbudget_release(&b, 5);
	assert_int_equal(fdbudget_available(&b), 5);
	assert_int_equal(b.in_use, 0);
	assert_int_equal(b.over_release_total, 0);
}

static void
test_all_or_nothing(void **state)
{
	struct fdbudget b;
	struct hook_log h;

	(void)state;
	setup(&b, &h, 5);
	assert_int_equal(fdbudget_acquire(&b, 3), 0);
	assert_int_equal(fdbudget_acquire(&b, 3), -1); /* only 2 left: take none */
	assert_int_equal(b.in_use, 3);
	assert_int_equal(fdbudget_available(&b), 2);
	assert_int_equal(b.refused_total, 1);
	assert_int_equal(fdbudget_acquire(&b, 2), 0);
	assert_int_equal(fdbudget_available(&b), 0);
	assert_int_equal(fdbudget_acquire(&b, 0), 0); /* zero is always fine */
	assert_int_equal(b.acquired_total, 5);
	assert_int_equal(fdbudget_acquire(&b, 6), -1);
	fdbudget_release(&b, 5);
	assert_int_equal(fdbudget_acquire(&b, 6), -1); /* more than total */
	assert_int_equal(b.in_use, 0);
}

static void
test_hook_fires_at_zero_crossings(void **state)
{
	struct fdbudget b;
	struct hook_log h;

	(void)state;
	setup(&b, &h, 3);
	assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(h.calls, 0); /* still above zero */
	assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(h.calls, 1); /* 1 -> 0 */
	assert_int_equal(h.last_avail, 0);
	assert_int_equal(h.last_paused, 0); /* refusal slots still free */
	assert_int_equal(fdbudget_acquire(&b, 1), -1);
	assert_int_equal(h.calls, 1); /* a refusal changes nothing */
	fdbudget_release(&b, 1);
	assert_int_equal(h.calls, 2); /* 0 -> 1 */
	assert_int_equal(h.last_avail, 1);
	fdbudget_release(&b, 1);
	fdbudget_release(&b, 1);
	assert_int_equal(h.calls, 2);
	/* A multi-permit take that lands exactly on zero fires once. */
	assert_int_equal(fdbudget_acquire(&b, 3), 0);
	assert_int_equal(h.calls, 3);
	assert_int_equal(h.last_avail, 0);
	fdbudget_release(&b, 3);
	assert_int_equal(h.calls, 4);
	assert_int_equal(h.last_avail, 1);
	/* No hook: nothing is called, accounting still right. */
	fdbudget_set_listener(&b, NULL, NULL);
	assert_int_equal(fdbudget_acquire(&b, 3), 0);
	fdbudget_release(&b, 3);
	assert_int_equal(h.calls, 4);
}

static void
test_refusal_slots_and_pause(void **state)
{
	struct fdbudget b;
	struct hook_log h;
	unsigned i;

	(void)state;
	setup(&b, &h, 1);
	/* With permits available a refusal slot changes no predicate. */
	assert_int_equal(fdbudget_refusal_acquire(&b), 0);
	fdbudget_refusal_release(&b);
	assert_int_equal(h.calls, 0);

	assert_int_equal(fdbudget_acquire(&b, 1), 0);
	assert_int_equal(h.calls, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(fdbudget_refusal_acquire(&b), 0);
	assert_int_equal(h.calls, 1);
	assert_false(fdbudget_should_pause_accept(&b));
	assert_int_equal(fdbudget_refusal_acquire(&b), 0); /* the last slot */
	assert_true(fdbudget_should_pause_accept(&b));
	assert_int_equal(h.calls, 2); /* pause begins */
	assert_int_equal(h.last_avail, 0);
	assert_int_equal(h.last_paused, 1);
	assert_int_equal(fdbudget_refusal_acquire(&b), -1);
	assert_int_equal(b.paused_total, 1);
	assert_int_equal(b.refusals_total, 5);
	fdbudget_refusal_release(&b);
	assert_int_equal(h.calls, 3); /* pause ends: a slot is back */
	assert_int_equal(h.last_avail, 0);
	assert_int_equal(h.last_paused, 0);
	assert_false(fdbudget_should_pause_accept(&b));

	/* Paused again, then a permit returns: one call ends both states. */
	assert_int_equal(fdbudget_refusal_acquire(&b), 0);
	assert_int_equal(h.calls, 4);
	assert_int_equal(h.last_paused, 1);
	fdbudget_release(&b, 1);
	assert_int_equal(h.calls, 5);
	assert_int_equal(h.last_avail, 1);
	assert_int_equal(h.last_paused, 0);
	for (i = 0; i < 4; i++)
		fdbudget_refusal_release(&b);
	assert_int_equal(h.calls, 5);
	assert_int_equal(b.refusals_in_use, 0);
	assert_int_equal(b.over_release_total, 0);
}

static void
test_over_release_clamped(void **state)
{
	struct fdbudget b;
	struct hook_log h;

	(void)state;
	setup(&b, &h, 4);
	assert_int_equal(fdbudget_acquire(&b, 2), 0);
	fdbudget_release(&b, 3);
	assert_int_equal(b.in_use, 0);
	assert_int_equal(fdbudget_available(&b), 4);
	assert_int_equal(b.over_release_total, 1);
	fdbudget_release(&b, 1);
	assert_int_equal(b.over_release_total, 2);
	fdbudget_refusal_release(&b);
	assert_int_equal(b.refusals_in_use, 0);
	assert_int_equal(b.over_release_total, 3);
	assert_int_equal(fdbudget_acquire(&b, 4), 0);
	assert_int_equal(fdbudget_acquire(&b, 1), -1);
}

/* Many interleaved takes and returns: every permit comes back. */
static void
test_no_leak_after_churn(void **state)
{
	struct fdbudget b;
	struct hook_log h;
	unsigned held = 0, i, refused = 0;

	(void)state;
	setup(&b, &h, 100);
	for (i = 0; i < 10000; i++) {
		unsigned n = 1 + (i * 7) % 5;
		if ((i % 3) != 2) {
			if (fdbudget_acquire(&b, n) == 0)
				held += n;
			else
				refused++;
		} else if (held >= n) {
			fdbudget_release(&b, n);
			held -= n;
		}
		assert_int_equal(b.in_use, held);
		assert_int_equal(fdbudget_exhausted(&b), held == 100);
	}
	assert_true(refused > 0);
	assert_int_equal(b.refused_total, refused);
	fdbudget_release(&b, held);
	assert_int_equal(fdbudget_available(&b), 100);
	assert_int_equal(b.over_release_total, 0);
	/* Every crossing into zero was matched by one out of it. */
	assert_int_equal(h.calls % 2, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_exhaust_refuse_recover),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_hook_fires_at_zero_crossings),
		cmocka_unit_test(test_refusal_slots_and_pause),
		cmocka_unit_test(test_over_release_clamped),
		cmocka_unit_test(test_no_leak_after_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
