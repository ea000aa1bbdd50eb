/*
 * clock.c: monotonic and wall clocks, RFC 3339 formatting (see clock.h).
 *
 * Thin wrappers over clock_gettime and gmtime_r (not strftime: its %Y does
 * not promise four digits). No caching here: the
 * reactor keeps the per-iteration value.
 */
#include "clock.h"

#include <stdio.h>
#include <time.h>

/* see clock.h */
uint64_t
clock_mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* see clock.h */
uint64_t
clock_mono_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on any system we
	 * build for; a zeroed ts would still be "non-decreasing". */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* see clock.h */
int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000;
}

/* see clock.h */
size_t
clock_rfc3339(char out[CLOCK_RFC3339_SIZE], int64_t wall_ms)
{
	/* Floor division, so -1 ms is the last second of 1969. */
	int64_t secs = wall_ms / 1000 - (wall_ms % 1000 < 0);
	time_t t = (time_t)secs;
	struct tm tm;
	int n;

	out[0] = '\0';
	if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL)
		return 0;
	/* tm_year counts from 1900; RFC 3339 wants exactly four digits. */
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	n = snprintf(out, CLOCK_RFC3339_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n != 20) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}
