/*
 * testdata.h: deterministic test input shared by unit tests.
 *
 * An xorshift64 generator (the same seed gives the same bytes, so a
 * failure reproduces) and a hex decoder for known-answer vectors.
 */
#ifndef HT_TEST_TESTDATA_H
#define HT_TEST_TESTDATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The next state of the generator (never 0 for a non-zero seed). */
static inline uint64_t
testdata_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* n pseudo-random bytes into p. */
static inline void
testdata_fill(uint64_t *s, void *p, size_t n)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(testdata_next(s) >> 24);
}

/* Decode the hex text into dst (which must be large enough); the byte count. */
static inline size_t
testdata_unhex(unsigned char *dst, const char *hex)
{
	size_t n = 0;
	unsigned v;

	while (sscanf(hex + 2 * n, "%2x", &v) == 1)
		dst[n++] = (unsigned char)v;
	return n;
}

#endif
