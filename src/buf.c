/*
 * buf.c: buffers with headroom (see buf.h).
 */
#include "buf.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* see buf.h */
int
buf_init(struct buf *b, size_t cap, size_t headroom)
{
	assert(headroom <= cap);
	b->start = malloc(cap ? cap : 1);
	if (b->start == NULL) {
		memset(b, 0, sizeof(*b));
		return -ENOMEM;
	}
	b->end = b->start + cap;
	b->pos = b->last = b->start + headroom;
	b->owned = 1;
	return 0;
}

/* see buf.h */
void
buf_wrap(struct buf *b, void *mem, size_t cap, size_t headroom)
{
	assert(headroom <= cap);
	b->start = mem;
	b->end = b->start + cap;
	b->pos = b->last = b->start + headroom;
	b->owned = 0;
}

/* see buf.h */
void
buf_own(struct buf *b, void *mem, size_t cap, size_t headroom)
{
	buf_wrap(b, mem, cap, headroom);
	b->owned = 1;
}

/* see buf.h */
void
buf_fini(struct buf *b)
{
	if (b->owned)
		free(b->start);
	memset(b, 0, sizeof(*b));
}

/* see buf.h */
void
buf_reset(struct buf *b, size_t headroom)
{
	assert(headroom <= buf_cap(b));
	b->pos = b->last = b->start + headroom;
}

/* see buf.h */
uint8_t *
buf_prepend(struct buf *b, size_t n)
{
	if (buf_headroom(b) < n)
		return NULL;
	b->pos -= n;
	return b->pos;
}

/* see buf.h */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_room(b) < n)
		return -1;
	if (n)
		memcpy(b->last, p, n);
	b->last += n;
	return 0;
}

/* see buf.h */
void
buf_consume(struct buf *b, size_t n)
{
	assert(n <= buf_len(b));
	b->pos += n;
}

/* see buf.h */
void
buf_commit(struct buf *b, size_t n)
{
	assert(n <= buf_room(b));
	b->last += n;
}

/* see buf.h */
void
buf_compact(struct buf *b, size_t headroom)
{
	size_t len = buf_len(b);

	assert(headroom + len <= buf_cap(b));
	if (b->pos == b->start + headroom)
		return;
	if (len)
		memmove(b->start + headroom, b->pos, len);
	b->pos = b->start + headroom;
	b->last = b->pos + len;
}

/* see buf.h */
int
buf_reserve(struct buf *b, size_t n, size_t headroom, size_t max)
{
	size_t len = buf_len(b), need, cap;
	uint8_t *mem;

	if (buf_room(b) >= n)
		return 0;
	if (headroom > SIZE_MAX - len || n > SIZE_MAX - len - headroom)
		return -ENOSPC;
	if (headroom + len + n <= buf_cap(b)) {
		buf_compact(b, headroom);
		return 0;
	}
	if (!b->owned && b->start != NULL)
		return -ENOSPC;
	need = headroom + len + n;
	if (max && need > max)
		return -ENOSPC;
	cap = buf_cap(b) ? buf_cap(b) : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (max && cap > max)
		cap = max;
	mem = malloc(cap);
	if (mem == NULL)
		return -ENOMEM;
	if (len)
		memcpy(mem + headroom, b->pos, len);
	if (b->owned)
		free(b->start);
	b->start = mem;
	b->end = mem + cap;
	b->pos = mem + headroom;
	b->last = b->pos + len;
	b->owned = 1;
	return 0;
}
