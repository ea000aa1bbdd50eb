/*
 * bench.h: what the micro-benchmarks share.
 */
#ifndef HT_BENCH_H
#define HT_BENCH_H

#include <time.h>

/* Seconds on the monotonic clock, as a double (arbitrary origin). */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
