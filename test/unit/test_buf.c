/*
 * test_buf.c: buffers with headroom (init, wrap, prepend, append, consume,
 * compact, reserve).
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

	buf_own(&b, malloc(16), 16, 4); /* owned: grows, and buf_fini frees it (ASan/LSan would say) */
	assert_true(b.owned);
	assert_int_equal(buf_headroom(&b), 4);
	assert_int_equal(buf_append(&b, "0123456789ab", 12), 0);
	assert_int_equal(buf_reserve(&b, 100, 0, 0), 0);
	assert_true(buf_cap(&b) >= 112);
	assert_memory_equal(b.pos, "0123456789ab", 12);
	buf_fini(&b);
	assert_null(b.start);
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
	assert_int_equal(buf_append(&b,
				    "xxxxxxxxxx"
				    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN",
				    60),
			 0);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_wrap_reset),       cmocka_unit_test(test_prepend),
		cmocka_unit_test(test_append_consume_commit), cmocka_unit_test(test_compact),
		cmocka_unit_test(test_reserve_compaction),    cmocka_unit_test(test_reserve_growth),
		cmocka_unit_test(test_reserve_not_owned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
