/*
 * clock.h: the two clocks the program reads, and RFC 3339 formatting.
 *
 * The monotonic clock measures intervals (timers, timeouts, rates); it
 * never jumps when the administrator sets the date. The wall clock is only
 * for what people read: log lines, "connected at" fields in the API. The
 * reactor caches the monotonic value once per loop iteration (reactor_now);
 * call clock_mono_ms directly only outside the loop or when a fresh reading
 * matters. No state, no allocation, libc only.
 */
#ifndef HT_CLOCK_H
#define HT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes clock_rfc3339 needs, terminator included ("2026-11-23T09:00:00Z" is 20). */
#define CLOCK_RFC3339_SIZE 32

/* Milliseconds of CLOCK_MONOTONIC: arbitrary origin, never decreases. */
uint64_t clock_mono_ms(void);

/* Microseconds of CLOCK_MONOTONIC, same origin (round trips, durations). */
uint64_t clock_mono_us(void);

/* Milliseconds since 1970-01-01T00:00:00Z (CLOCK_REALTIME); may jump. */
int64_t clock_wall_ms(void);

/*
 * Format wall_ms (milliseconds since the epoch, may be negative) as UTC
 * with second precision, e.g. "2026-11-23T09:00:00Z", into out, which
 * holds CLOCK_RFC3339_SIZE bytes and is always NUL-terminated. The
 * milliseconds are truncated towards the past. Returns the text length
 * (20), or 0 with out = "" when the year falls outside 0000..9999.
 */
size_t clock_rfc3339(char out[CLOCK_RFC3339_SIZE], int64_t wall_ms);

#endif
