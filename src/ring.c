/*
 * ring.c: the lend-and-return byte ring (see ring.h).
 */
#include "ring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

/* see ring.h */
int
ring_alloc(struct ring *r, size_t cap)
{
	if (r->mem != NULL)
		return 0;
	r->mem = malloc(cap);
	if (r->mem == NULL)
		return -ENOMEM;
	r->cap = cap;
	r->head = r->tail = r->wrap = r->used = 0;
	return 0;
}

/* see ring.h */
void
ring_release(struct ring *r)
{
	free(r->mem);
	r->mem = NULL;
	r->cap = r->head = r->tail = r->wrap = r->used = 0;
}

/* see ring.h */
size_t
ring_space(struct ring *r, size_t *start)
{
	if (r->used == 0) {
		r->head = r->tail = 0;
		r->wrap = 0;
	}
	if (r->wrap == 0) {
		/* not wrapped: [tail, cap), or wrap to [0, head) once the end is full */
		if (r->tail < r->cap) {
			*start = r->tail;
			return r->cap - r->tail;
		}
		if (r->head == 0) {
			*start = 0;
			return 0;
		}
		r->wrap = r->tail;
		r->tail = 0;
	}
	*start = r->tail;
	return r->head - r->tail;
}

/* see ring.h */
void
ring_lend(struct ring *r, size_t start, size_t n)
{
	assert(start + n <= r->cap);
	r->tail = start + n;
	r->used += n;
}

/* see ring.h */
void
ring_back(struct ring *r, size_t n)
{
	assert(n <= r->used);
	r->used -= n;
	r->head += n;
	if (r->wrap && r->head == r->wrap) {
		r->head = 0;
		r->wrap = 0;
	}
}
