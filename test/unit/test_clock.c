/*
 * test_clock.c: RFC 3339 formatting of known instants, clock monotonicity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "clock.h"

static void
check(int64_t ms, const char *want)
{
	char out[CLOCK_RFC3339_SIZE];

	memset(out, 'X', sizeof(out));
	assert_int_equal(clock_rfc3339(out, ms), strlen(want));
	assert_string_equal(out, want);
}

static void
test_rfc3339_known(void **state)
{
	(void)state;
	check(0, "1970-01-01T00:00:00Z");
	check(999, "1970-01-01T00:00:00Z"); /* milliseconds truncated */
	check(1795424400000, "2026-11-23T09:00:00Z");
	check(1795424400999, "2026-11-23T09:00:00Z");
	check(951868799000, "2000-02-29T23:59:59Z");  /* leap day */
	check(2147483648000, "2038-01-19T03:14:08Z"); /* past 32-bit time_t */
	check(4107542400000, "2100-03-01T00:00:00Z"); /* 2100 is not leap */
	check(253402300799000, "9999-12-31T23:59:59Z");
	check(-1, "1969-12-31T23:59:59Z"); /* floor, not towards zero */
	check(-1000, "1969-12-31T23:59:59Z");
	check(-1001, "1969-12-31T23:59:58Z");
	check(-62167219200000, "0000-01-01T00:00:00Z");
}

static void
test_rfc3339_out_of_range(void **state)
{
	char out[CLOCK_RFC3339_SIZE];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(clock_rfc3339(out, 253402300800000), 0); /* year 10000 */
	assert_string_equal(out, "");
	memset(out, 'X', sizeof(out));
	assert_int_equal(clock_rfc3339(out, -62167219200001), 0); /* year -1 */
	assert_string_equal(out, "");
	assert_int_equal(clock_rfc3339(out, INT64_MAX), 0);
	assert_int_equal(clock_rfc3339(out, INT64_MIN), 0);
	assert_string_equal(out, "");
}

static void
test_wall_matches_time(void **state)
{
	int64_t before = (int64_t)time(NULL) * 1000, now = clock_wall_ms();
	int64_t after = ((int64_t)time(NULL) + 1) * 1000;

	(void)state;
	assert_true(now >= before && now < after);
}

/* Microseconds and milliseconds read the same clock: us / 1000 lies between two ms readings. */
static void
test_mono_us_agrees_with_ms(void **state)
{
	uint64_t a, us, b;

	(void)state;
	a = clock_mono_ms();
	us = clock_mono_us();
	b = clock_mono_ms();
	assert_true(us / 1000 >= a && us / 1000 <= b);
}

static void
test_mono_non_decreasing(void **state)
{
	struct timespec ten_ms = { 0, 10 * 1000000L };
	uint64_t prev = clock_mono_ms(), t0 = prev, now;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		now = clock_mono_ms();
		assert_true(now >= prev);
		prev = now;
	}
	nanosleep(&ten_ms, NULL);
	assert_true(clock_mono_ms() >= t0 + 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_us_agrees_with_ms), cmocka_unit_test(test_rfc3339_known),
		cmocka_unit_test(test_rfc3339_out_of_range),   cmocka_unit_test(test_wall_matches_time),
		cmocka_unit_test(test_mono_non_decreasing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
