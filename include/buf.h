/*
 * buf.h: byte buffers with headroom.
 *
 *   start          pos               last            end
 *     |  headroom   |  readable data  |  free space   |
 *
 * Payload is read from a socket at `last`; the frame and WebSocket headers
 * are then written in front of it with buf_prepend(), so one buffer goes to
 * writev() with no copy of the payload. A buf owns its memory (malloc'd by
 * buf_init, released by buf_fini) unless it was set up with buf_wrap().
 */
#ifndef HT_BUF_H
#define HT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *start; /* first byte of the memory */
	uint8_t *pos;   /* first readable byte */
	uint8_t *last;  /* one past the last readable byte */
	uint8_t *end;   /* one past the memory */
	int owned;      /* 1 when buf_fini must free start */
};

/* Allocate cap bytes; pos = last = start + headroom. 0 or -ENOMEM. */
int buf_init(struct buf *b, size_t cap, size_t headroom);

/* Use caller memory (never freed by buf_fini); pos = last = mem + headroom. */
void buf_wrap(struct buf *b, void *mem, size_t cap, size_t headroom);

/* Take over mem (cap bytes from malloc: buf_fini frees it); pos = last = mem + headroom. */
void buf_own(struct buf *b, void *mem, size_t cap, size_t headroom);

/* Release owned memory; the buf is then all NULL. Safe on a zeroed buf. */
void buf_fini(struct buf *b);

/* Forget the content: pos = last = start + headroom. */
void buf_reset(struct buf *b, size_t headroom);

static inline size_t
buf_len(const struct buf *b)
{
	return (size_t)(b->last - b->pos);
}
static inline size_t
buf_room(const struct buf *b)
{
	return (size_t)(b->end - b->last);
}
static inline size_t
buf_headroom(const struct buf *b)
{
	return (size_t)(b->pos - b->start);
}
static inline size_t
buf_cap(const struct buf *b)
{
	return (size_t)(b->end - b->start);
}

/*
 * Make n bytes of headroom readable: pos moves back by n and the new pos is
 * returned for the caller to fill. NULL (nothing changed) when the headroom
 * is smaller than n.
 */
uint8_t *buf_prepend(struct buf *b, size_t n);

/* Append n bytes at last. 0, or -1 when there is no room (nothing written). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Drop n readable bytes from the front (n <= buf_len). */
void buf_consume(struct buf *b, size_t n);

/* Mark n bytes written at last (n <= buf_room), after a read() into it. */
void buf_commit(struct buf *b, size_t n);

/*
 * Move the readable bytes down so that headroom bytes precede them, making
 * the free space at the end as large as possible.
 */
void buf_compact(struct buf *b, size_t headroom);

/*
 * Ensure at least n bytes of free space at the end, first by compacting
 * (keeping headroom), then by growing an owned buffer (at most max total
 * bytes; 0 = no limit). 0, -ENOMEM, or -ENOSPC when max would be exceeded
 * or the memory is not owned.
 */
int buf_reserve(struct buf *b, size_t n, size_t headroom, size_t max);

#endif
