/*
 * test_buf.c: buffers with headroom (init, wrap, prepend, append, consume,
 * compact, reserve) and the writev batch builder (merging, slot limit,
 * partial consumption).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void
assert_content(const struct buf *b, const char *s)
{
	assert_int_equal(buf_len(b), strlen(s));
	assert_memory_equal(b->pos, s, strlen(s));
}

static void
test_init_wrap_reset(void **state)
{
	struct buf b, z;
	uint8_t mem[32];

	(void)state;
	assert_int_equal(buf_init(&b, 100, 16), 0);
	assert_true(b.owned);
	assert_int_equal(buf_cap(&b), 100);
	assert_int_equal(buf_headroom(&b), 16);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), 84);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	buf_consume(&b, 2);
	buf_reset(&b, 4);
	assert_int_equal(buf_headroom(&b), 4);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), 96);
	buf_fini(&b);
	assert_null(b.start);
	assert_null(b.pos);
	assert_int_equal(b.owned, 0);
	buf_fini(&b); /* again: harmless */

	assert_int_equal(buf_init(&b, 0, 0), 0); /* empty but valid */
	assert_int_equal(buf_room(&b), 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	buf_fini(&b);

	buf_wrap(&b, mem, sizeof(mem), 8);
	assert_ptr_equal(b.start, mem);
	assert_ptr_equal(b.pos, mem + 8);
	assert_false(b.owned);
	assert_int_equal(buf_room(&b), 24);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_memory_equal(mem + 8, "abc", 3);
	buf_fini(&b); /* must not free the stack memory (ASan would say) */
	assert_null(b.start);

	memset(&z, 0, sizeof(z));
	buf_fini(&z); /* a zeroed buf */
}

static void
test_prepend(void **state)
{
	struct buf b;
	uint8_t *p;

	(void)state;
	assert_int_equal(buf_init(&b, 64, 10), 0);
	assert_int_equal(buf_append(&b, "payload", 7), 0);

	p = buf_prepend(&b, 4);
	assert_non_null(p);
	assert_ptr_equal(p, b.pos);
	memcpy(p, "HDR:", 4);
	assert_content(&b, "HDR:payload");
	assert_int_equal(buf_headroom(&b), 6);

	/* beyond the headroom: NULL and nothing moves */
	assert_null(buf_prepend(&b, 7));
	assert_int_equal(buf_headroom(&b), 6);
	assert_content(&b, "HDR:payload");

	/* exactly the headroom left */
	p = buf_prepend(&b, 6);
	assert_non_null(p);
	memcpy(p, "WSHEAD", 6);
	assert_content(&b, "WSHEADHDR:payload");
	assert_ptr_equal(b.pos, b.start);
	assert_null(buf_prepend(&b, 1));
	assert_non_null(buf_prepend(&b, 0));
	buf_fini(&b);
}

static void
test_append_consume_commit(void **state)
{
	struct buf b;
	uint8_t mem[16];

	(void)state;
	memset(mem, '.', sizeof(mem));
	buf_wrap(&b, mem, sizeof(mem), 2);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(buf_room(&b), 4);

	/* beyond the room: fails, nothing written */
	assert_int_equal(buf_append(&b, "ABCDE", 5), -1);
	assert_int_equal(buf_len(&b), 10);
	assert_memory_equal(mem + 12, "....", 4);
	assert_int_equal(buf_append(&b, NULL, 0), 0);

	/* exactly the room */
	assert_int_equal(buf_append(&b, "ABCD", 4), 0);
	assert_int_equal(buf_room(&b), 0);
	assert_content(&b, "0123456789ABCD");

	buf_consume(&b, 3);
	assert_content(&b, "3456789ABCD");
	assert_int_equal(buf_headroom(&b), 5);
	buf_consume(&b, 11);
	assert_int_equal(buf_len(&b), 0);

	/* a read() into last, then commit */
	buf_reset(&b, 0);
	memcpy(b.last, "read", 4);
	buf_commit(&b, 4);
	assert_content(&b, "read");
	buf_commit(&b, 0);
	assert_content(&b, "read");
	buf_fini(&b);
}

static void
test_compact(void **state)
{
	struct buf b;
	uint8_t *start;

	(void)state;
	assert_int_equal(buf_init(&b, 64, 0), 0);
	start = b.start;
	assert_int_equal(buf_append(&b, "xxxxxxxxxx"
					"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN", 60), 0);
	buf_consume(&b, 10);
	assert_int_equal(buf_room(&b), 4);

	/* overlapping move down to headroom 4 */
	buf_compact(&b, 4);
	assert_ptr_equal(b.start, start);
	assert_ptr_equal(b.pos, start + 4);
	assert_content(&b, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN");
	assert_int_equal(buf_room(&b), 10);

	/* already in place: nothing changes */
	buf_compact(&b, 4);
	assert_ptr_equal(b.pos, start + 4);
	assert_content(&b, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN");

	/* moving up (headroom grows), overlapping too */
	buf_compact(&b, 8);
	assert_ptr_equal(b.pos, start + 8);
	assert_content(&b, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN");
	assert_int_equal(buf_room(&b), 6);

	/* empty: only the pointers move */
	buf_consume(&b, buf_len(&b));
	buf_compact(&b, 0);
	assert_ptr_equal(b.pos, start);
	assert_int_equal(buf_room(&b), 64);
	buf_fini(&b);
}

static void
test_reserve_compaction(void **state)
{
	struct buf b;
	uint8_t *start;

	(void)state;
	assert_int_equal(buf_init(&b, 64, 8), 0);
	start = b.start;
	assert_int_equal(buf_append(&b, "0123456789012345678901234567890123456789ABCDEFGHIJ", 50), 0);
	buf_consume(&b, 40);
	assert_int_equal(buf_room(&b), 6);

	/* enough room already: nothing moves */
	assert_int_equal(buf_reserve(&b, 6, 8, 0), 0);
	assert_ptr_equal(b.pos, start + 48);

	/* compaction frees the consumed front: same memory, data after the headroom
	 * (8 + 10 + 46 is exactly the capacity) */
	assert_int_equal(buf_reserve(&b, 46, 8, 0), 0);
	assert_ptr_equal(b.start, start);
	assert_ptr_equal(b.pos, start + 8);
	assert_content(&b, "ABCDEFGHIJ");
	assert_int_equal(buf_room(&b), 46);
	assert_int_equal(buf_cap(&b), 64);
	buf_fini(&b);
}

static void
test_reserve_growth(void **state)
{
	struct buf b, z;

	(void)state;
	assert_int_equal(buf_init(&b, 64, 8), 0);
	assert_int_equal(buf_append(&b, "keep me", 7), 0);

	assert_int_equal(buf_reserve(&b, 100, 16, 0), 0);
	assert_true(b.owned);
	assert_int_equal(buf_cap(&b), 128); /* doubled until 16 + 7 + 100 fit */
	assert_int_equal(buf_headroom(&b), 16);
	assert_content(&b, "keep me");
	assert_true(buf_room(&b) >= 100);
	memset(b.last, 'z', 100); /* the room is real memory (ASan) */

	/* limited: the need fits under max, but doubling would pass it */
	assert_int_equal(buf_reserve(&b, 200, 16, 300), 0);
	assert_int_equal(buf_cap(&b), 256);
	assert_int_equal(buf_reserve(&b, 260, 16, 300), 0);
	assert_int_equal(buf_cap(&b), 300); /* clamped to max */
	assert_content(&b, "keep me");
	assert_int_equal(buf_room(&b), 300 - 16 - 7);

	/* the need itself above max: refused, nothing changed */
	assert_int_equal(buf_reserve(&b, 290, 16, 300), -ENOSPC);
	assert_int_equal(buf_cap(&b), 300);
	assert_content(&b, "keep me");

	/* sizes that would overflow are refused, not wrapped */
	assert_int_equal(buf_reserve(&b, SIZE_MAX, 16, 0), -ENOSPC);
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 20, 16, 0), -ENOSPC);
	assert_int_equal(buf_reserve(&b, 1000, SIZE_MAX, 0), -ENOSPC);
	assert_content(&b, "keep me");
	buf_fini(&b);

	/* a need of exactly max is allowed */
	assert_int_equal(buf_init(&b, 64, 0), 0);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(buf_reserve(&b, 91, 0, 100), -ENOSPC);
	assert_int_equal(buf_reserve(&b, 90, 0, 100), 0);
	assert_int_equal(buf_cap(&b), 100);
	assert_int_equal(buf_room(&b), 90);
	assert_content(&b, "0123456789");
	buf_fini(&b);

	/* a zeroed buf grows into an owned one */
	memset(&z, 0, sizeof(z));
	assert_int_equal(buf_reserve(&z, 10, 4, 0), 0);
	assert_true(z.owned);
	assert_int_equal(buf_cap(&z), 256);
	assert_int_equal(buf_headroom(&z), 4);
	assert_int_equal(buf_append(&z, "0123456789", 10), 0);
	buf_fini(&z);
}

static void
test_reserve_not_owned(void **state)
{
	struct buf b;
	uint8_t mem[32];

	(void)state;
	buf_wrap(&b, mem, sizeof(mem), 0);
	assert_int_equal(buf_append(&b, "0123456789abcdefghij", 20), 0);
	buf_consume(&b, 15);
	/* compaction still works in caller memory */
	assert_int_equal(buf_reserve(&b, 20, 2, 0), 0);
	assert_ptr_equal(b.start, mem);
	assert_ptr_equal(b.pos, mem + 2);
	assert_content(&b, "fghij");
	/* growth does not */
	assert_int_equal(buf_reserve(&b, 26, 2, 0), -ENOSPC);
	assert_ptr_equal(b.start, mem);
	assert_false(b.owned);
	assert_content(&b, "fghij");
	buf_fini(&b);
}

/* ---- iovec builder ---------------------------------------------------- */

/* The bytes an iov batch stands for, in order. */
static size_t
flatten(const struct buf_iov *io, char *out)
{
	size_t n = 0, total = 0;
	int i;

	for (i = 0; i < io->n; i++) {
		assert_true(io->v[i].iov_len > 0);
		memcpy(out + n, io->v[i].iov_base, io->v[i].iov_len);
		n += io->v[i].iov_len;
	}
	for (i = 0; i < io->n; i++)
		total += io->v[i].iov_len;
	assert_int_equal(total, io->len);
	return n;
}

static void
test_iov_add(void **state)
{
	static const char src[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct buf_iov io;
	char out[256];
	size_t n;

	(void)state;
	buf_iov_reset(&io);
	assert_int_equal(buf_iov_add(&io, src, 4), 0);
	assert_int_equal(buf_iov_add(&io, src + 4, 6), 0); /* contiguous: merged */
	assert_int_equal(io.n, 1);
	assert_int_equal(io.v[0].iov_len, 10);
	assert_int_equal(buf_iov_add(&io, src + 20, 3), 0); /* gap: new range */
	assert_int_equal(io.n, 2);
	assert_int_equal(buf_iov_add(&io, src + 10, 2), 0); /* before the last: not merged */
	assert_int_equal(io.n, 3);
	assert_int_equal(buf_iov_add(&io, src + 30, 0), 0); /* empty: ignored */
	assert_int_equal(buf_iov_add(&io, NULL, 0), 0);
	assert_int_equal(io.n, 3);
	assert_int_equal(io.len, 15);
	n = flatten(&io, out);
	assert_int_equal(n, 15);
	assert_memory_equal(out, "0123456789klmab", 15);

	buf_iov_reset(&io);
	assert_int_equal(io.n, 0);
	assert_int_equal(io.len, 0);
}

static void
test_iov_limit(void **state)
{
	static char src[BUF_IOV_MAX * 2 + 2];
	struct buf_iov io;
	int i;

	(void)state;
	buf_iov_reset(&io);
	for (i = 0; i < BUF_IOV_MAX; i++)
		assert_int_equal(buf_iov_add(&io, src + 2 * i, 1), 0); /* every other byte */
	assert_int_equal(io.n, BUF_IOV_MAX);
	assert_int_equal(io.len, BUF_IOV_MAX);

	/* full: a separate range is refused and nothing changes */
	assert_int_equal(buf_iov_add(&io, src + 2 * BUF_IOV_MAX + 1, 1), -1);
	assert_int_equal(io.n, BUF_IOV_MAX);
	assert_int_equal(io.len, BUF_IOV_MAX);
	/* but one contiguous with the last range still merges */
	assert_int_equal(buf_iov_add(&io, src + 2 * (BUF_IOV_MAX - 1) + 1, 2), 0);
	assert_int_equal(io.n, BUF_IOV_MAX);
	assert_int_equal(io.len, BUF_IOV_MAX + 2);
	assert_int_equal(io.v[BUF_IOV_MAX - 1].iov_len, 3);
	/* and an empty one is still fine */
	assert_int_equal(buf_iov_add(&io, src, 0), 0);
}

static void
test_iov_consume(void **state)
{
	static const char a[] = "AAAAAAAAAA", b[] = "BBBBBBBBBBBBBBBBBBBB";
	static const char c[] = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
	struct buf_iov io;
	char out[128];
	size_t n;

	(void)state;
	buf_iov_reset(&io);
	buf_iov_add(&io, a, 10);
	buf_iov_add(&io, b, 20);
	buf_iov_add(&io, c, 30);
	assert_int_equal(io.n, 3);

	buf_iov_consume(&io, 0); /* nothing */
	assert_int_equal(io.n, 3);
	assert_int_equal(io.len, 60);

	buf_iov_consume(&io, 4); /* inside the first range */
	assert_int_equal(io.n, 3);
	assert_ptr_equal(io.v[0].iov_base, a + 4);
	assert_int_equal(io.v[0].iov_len, 6);
	assert_int_equal(io.len, 56);

	buf_iov_consume(&io, 6 + 5); /* the rest of the first and into the second */
	assert_int_equal(io.n, 2);
	assert_ptr_equal(io.v[0].iov_base, b + 5);
	assert_int_equal(io.v[0].iov_len, 15);
	assert_ptr_equal(io.v[1].iov_base, c);
	assert_int_equal(io.len, 45);

	buf_iov_consume(&io, 15); /* exactly a range boundary */
	assert_int_equal(io.n, 1);
	assert_ptr_equal(io.v[0].iov_base, c);
	assert_int_equal(io.v[0].iov_len, 30);

	buf_iov_consume(&io, 29);
	n = flatten(&io, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'C');
	buf_iov_consume(&io, 1); /* everything */
	assert_int_equal(io.n, 0);
	assert_int_equal(io.len, 0);

	/* across several ranges at once, then adding after a consume */
	buf_iov_add(&io, a, 3);
	buf_iov_add(&io, b, 3);
	buf_iov_add(&io, c, 3);
	buf_iov_add(&io, a + 5, 3);
	buf_iov_consume(&io, 7);
	assert_int_equal(io.n, 2);
	n = flatten(&io, out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "CCAAA", 5);
	assert_int_equal(buf_iov_add(&io, a + 8, 2), 0); /* contiguous with a + 5 .. a + 8 */
	assert_int_equal(io.n, 2);
	assert_int_equal(io.len, 7);
}

/* Random adds and partial consumes against a flat copy. */
static void
test_iov_model(void **state)
{
	static char src[4096];
	static char model[1 << 16], out[1 << 16];
	struct buf_iov io;
	uint32_t x = 12345;
	size_t mlen = 0, i, n;
	int round;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (char)(i * 7 + i / 256);
	buf_iov_reset(&io);
	for (round = 0; round < 20000; round++) {
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 3 != 0) {
			size_t off = (x >> 4) % 4000, len = (x >> 20) % 64;
			/* sometimes continue right after the last range */
			if (io.n > 0 && (x & 8)) {
				const struct iovec *last = &io.v[io.n - 1];
				const char *end = (const char *)last->iov_base + last->iov_len;
				if (end + len <= src + sizeof(src))
					off = (size_t)(end - src);
			}
			if (buf_iov_add(&io, src + off, len) == 0) {
				memcpy(model + mlen, src + off, len);
				mlen += len;
			} else {
				assert_int_equal(io.n, BUF_IOV_MAX);
			}
		} else if (mlen > 0) {
			size_t k = (x >> 8) % (mlen + 1);
			buf_iov_consume(&io, k);
			memmove(model, model + k, mlen - k);
			mlen -= k;
		}
		assert_int_equal(io.len, mlen);
		if (round % 50 == 0) {
			n = flatten(&io, out);
			assert_int_equal(n, mlen);
			assert_memory_equal(out, model, mlen);
		}
		if (mlen > sizeof(model) - 64) {
			buf_iov_consume(&io, mlen);
			mlen = 0;
		}
	}
	n = flatten(&io, out);
	assert_int_equal(n, mlen);
	assert_memory_equal(out, model, mlen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_wrap_reset),
		cmocka_unit_test(test_prepend),
		cmocka_unit_test(test_append_consume_commit),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_reserve_compaction),
		cmocka_unit_test(test_reserve_growth),
		cmocka_unit_test(test_reserve_not_owned),
		cmocka_unit_test(test_iov_add),
		cmocka_unit_test(test_iov_limit),
		cmocka_unit_test(test_iov_consume),
		cmocka_unit_test(test_iov_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
