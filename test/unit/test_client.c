/*
 * test_client.c: htc's reconnect backoff (client_retry_delay): the first
 * retry within 100 ms, then about 200 ms doubling up to 5 s, each with
 * random jitter of +-20 %; with getrandom failing (fakerandom.h) it says
 * so and makes up no delay.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fakerandom.h"
#include "htc/client_int.h"

static void
test_retry_delay(void **state)
{
	uint64_t ms, lo, hi, base, first = 0;
	unsigned attempt, i;
	int differ = 0;

	(void)state;
	for (attempt = 0; attempt < 12; attempt++) {
		base = attempt == 0 ? 100 : (100u << (attempt < 6 ? attempt : 6));
		base = base > 5000 ? 5000 : base;
		lo = attempt == 0 ? 0 : base - base / 5;
		hi = attempt == 0 ? 99 : base + base / 5;
		for (i = 0; i < 50; i++) {
			assert_int_equal(client_retry_delay(attempt, &ms), 0);
			assert_true(ms >= lo && ms <= hi);
			if (i == 0)
				first = ms;
			differ |= ms != first;
		}
	}
	assert_true(differ);
}

static void
test_retry_delay_without_random(void **state)
{
	uint64_t ms = 12345;

	(void)state;
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	assert_int_equal(client_retry_delay(0, &ms), -ENOSYS);
	assert_int_equal(client_retry_delay(5, &ms), -ENOSYS);
	fakerandom_off();
	assert_int_equal(ms, 12345);
	assert_int_equal(client_retry_delay(5, &ms), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_retry_delay_without_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
