/*
 * feed.h: feeding codec input every way a socket could deliver it.
 *
 * feed_all_ways() runs one vector through a codec whole, byte by byte, and
 * split into two pieces at every offset. Each piece is copied into a
 * guard-page buffer whose last byte sits right before an inaccessible page,
 * so a codec that reads past what it was given faults at once.
 *
 * The test supplies three callbacks: reset (fresh codec state), chunk (feed
 * one piece; the codec must keep what it needs, the piece is unmapped
 * afterwards) and check (assert the collected events).
 */
#ifndef HT_TEST_FEED_H
#define HT_TEST_FEED_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef void (*feed_reset_fn)(void *ctx);
typedef void (*feed_chunk_fn)(void *ctx, const uint8_t *p, size_t n);
typedef void (*feed_check_fn)(void *ctx);

struct feed_guard {
	uint8_t *map;
	size_t maplen;
	uint8_t *p; /* the n bytes, ending at the guard page */
};

/* Copy n bytes so that p[n] is the first byte of a PROT_NONE page. */
static inline int
feed_guard_make(struct feed_guard *g, const uint8_t *src, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data_pages = (n + page - 1) / page;

	if (data_pages == 0)
		data_pages = 1;
	g->maplen = (data_pages + 1) * page;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -1;
	if (mprotect(g->map + data_pages * page, page, PROT_NONE) != 0)
		return -1;
	g->p = g->map + data_pages * page - n;
	if (n)
		memcpy(g->p, src, n);
	return 0;
}

static inline void
feed_guard_free(struct feed_guard *g)
{
	munmap(g->map, g->maplen);
}

/* Feed one piece from its own guard buffer. */
static inline void
feed_piece(void *ctx, feed_chunk_fn chunk, const uint8_t *p, size_t n)
{
	struct feed_guard g;

	if (feed_guard_make(&g, p, n) != 0)
		return;
	chunk(ctx, g.p, n);
	feed_guard_free(&g);
}

/* Whole, byte by byte, and split in two at every offset 1..n-1. */
static inline void
feed_all_ways(const void *data, size_t n, void *ctx, feed_reset_fn reset, feed_chunk_fn chunk,
	      feed_check_fn check)
{
	const uint8_t *p = data;
	size_t i;

	reset(ctx);
	feed_piece(ctx, chunk, p, n);
	check(ctx);

	reset(ctx);
	for (i = 0; i < n; i++)
		feed_piece(ctx, chunk, p + i, 1);
	check(ctx);

	for (i = 1; i < n; i++) {
		reset(ctx);
		feed_piece(ctx, chunk, p, i);
		feed_piece(ctx, chunk, p + i, n - i);
		check(ctx);
	}
}

#endif
