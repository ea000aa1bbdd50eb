/*
 * ring.h: a byte ring whose bytes are lent out in order and come back in
 * the same order (to the tunnel as zero-copy DATA, returned by the done
 * callback). Each read goes into the largest contiguous free range, so a
 * piece never wraps: [head, tail) is lent, or [head, wrap) + [0, tail)
 * once the writer wrapped. Memory is allocated on first use.
 */
#ifndef HT_RING_H
#define HT_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring {
	uint8_t *mem; /* NULL until ring_alloc */
	size_t cap;
	size_t head; /* oldest lent byte */
	size_t tail; /* where the next piece goes */
	size_t wrap; /* end of the lent bytes before tail wrapped, 0 when not wrapped */
	size_t used; /* bytes lent */
};

/* Allocate cap bytes unless already allocated. 0 or -ENOMEM. */
int ring_alloc(struct ring *r, size_t cap);

/* Release the memory (nothing may be lent any more). */
void ring_release(struct ring *r);

/* The largest contiguous free range: its offset in *start, its length returned (0: full). */
size_t ring_space(struct ring *r, size_t *start);

/* n bytes were written at offset start (from ring_space) and lent out. */
void ring_lend(struct ring *r, size_t start, size_t n);

/* The oldest n lent bytes came back. */
void ring_back(struct ring *r, size_t n);

#endif
