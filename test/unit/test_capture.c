/*
 * test_capture.c: the inspector's ring of exchanges. Ids name slots
 * (id - 1) % N, so the oldest is evicted and calls with its id do nothing;
 * bodies are cut at the cap with their full size kept; heads are cut at
 * CAPTURE_HEAD_MAX; buffers are reused when a slot is (no growth over
 * thousands of exchanges); the walk is newest first and skips open ones;
 * the done callback runs once; clear gives the memory back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "htc/capture.h"

static unsigned done_calls;
static uint64_t done_last;

static void
on_done(void *arg, const struct capture_ex *x)
{
	(void)arg;
	done_calls++;
	done_last = x->id;
}

static uint64_t
one(struct capture *c, const char *head, size_t body, int status)
{
	uint64_t id = capture_open(c, 0, "1.2.3.4:5", 0);
	uint8_t *b = malloc(body + 1);

	memset(b, 'x', body);
	capture_req_head(c, id, head, strlen(head));
	capture_req_body(c, id, b, body);
	capture_resp_head(c, id, "HTTP/1.1 200 OK\r\n\r\n", 19);
	capture_resp_body(c, id, b, body);
	capture_done(c, id, status, NULL);
	free(b);
	return id;
}

static void
test_ring_evicts_oldest(void **state)
{
	struct capture c;
	const struct capture_ex *x;
	uint64_t ids[5], late;
	int i;

	(void)state;
	assert_int_equal(capture_init(&c, 3, 1024), 0);
	late = capture_open(&c, 0, NULL, 0); /* still open when evicted */
	for (i = 0; i < 5; i++)
		ids[i] = one(&c, "GET / HTTP/1.1\r\n\r\n", 10, 200);
	assert_null(capture_get(&c, late));
	assert_null(capture_get(&c, ids[1]));
	assert_non_null(capture_get(&c, ids[2]));
	/* a late call with the evicted id touches nothing */
	capture_resp_body(&c, late, "zzz", 3);
	capture_done(&c, late, 500, "late");
	x = capture_get(&c, ids[2]);
	assert_int_equal(x->resp.body_size, 10);
	assert_int_equal(x->status, 200);
	/* newest first */
	x = capture_next(&c, NULL);
	assert_int_equal(x->id, ids[4]);
	x = capture_next(&c, x);
	assert_int_equal(x->id, ids[3]);
	x = capture_next(&c, x);
	assert_int_equal(x->id, ids[2]);
	assert_null(capture_next(&c, x));
	capture_fini(&c);
}

static void
test_body_cap_and_size(void **state)
{
	struct capture c;
	const struct capture_ex *x;
	uint64_t id;
	char chunk[700];
	int i;

	(void)state;
	assert_int_equal(capture_init(&c, 4, 1000), 0);
	id = capture_open(&c, 1, NULL, 0);
	for (i = 0; i < 10; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		capture_resp_body(&c, id, chunk, sizeof(chunk));
	}
	capture_done(&c, id, 200, NULL);
	x = capture_get(&c, id);
	assert_int_equal(x->resp.body_len, 1000);
	assert_int_equal(x->resp.body_size, 7000);
	assert_true(x->resp.body_cap <= 1000);
	assert_int_equal(x->resp.body[699], 'a');
	assert_int_equal(x->resp.body[700], 'b');
	assert_int_equal(x->binding, 1);
	/* a zero cap keeps sizes only */
	capture_fini(&c);
	assert_int_equal(capture_init(&c, 2, 0), 0);
	id = one(&c, "GET / HTTP/1.1\r\n\r\n", 50, 200);
	x = capture_get(&c, id);
	assert_int_equal(x->req.body_len, 0);
	assert_int_equal(x->req.body_size, 50);
	capture_fini(&c);
}

static void
test_head_cut(void **state)
{
	struct capture c;
	const struct capture_ex *x;
	char *big = malloc(CAPTURE_HEAD_MAX + 100);
	uint64_t id;

	(void)state;
	memset(big, 'h', CAPTURE_HEAD_MAX + 100);
	assert_int_equal(capture_init(&c, 2, 16), 0);
	id = capture_open(&c, 0, NULL, 0);
	capture_req_head(&c, id, big, CAPTURE_HEAD_MAX + 100);
	x = capture_get(&c, id);
	assert_int_equal(x->req.head_len, CAPTURE_HEAD_MAX);
	assert_true(x->req.head_truncated);
	/* a retry replaces it */
	capture_req_head(&c, id, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_int_equal(x->req.head_len, 18);
	assert_false(x->req.head_truncated);
	free(big);
	capture_fini(&c);
}

static void
test_memory_bounded(void **state)
{
	struct capture c;
	size_t after_fill, bound;
	int i;

	(void)state;
	assert_int_equal(capture_init(&c, 50, 4096), 0);
	for (i = 0; i < 50; i++)
		one(&c, "POST /x HTTP/1.1\r\nHost: a\r\n\r\n", 10000, 200);
	after_fill = capture_memory(&c);
	for (i = 0; i < 5000; i++)
		one(&c, "POST /x HTTP/1.1\r\nHost: a\r\n\r\n", 10000, 200);
	assert_int_equal(capture_memory(&c), after_fill); /* slots reuse their buffers */
	bound = 50 * (sizeof(struct capture_ex) + 2 * 4096 + 2 * 512);
	assert_true(capture_memory(&c) <= bound);
	capture_clear(&c);
	assert_int_equal(capture_memory(&c), 50 * sizeof(struct capture_ex));
	assert_null(capture_next(&c, NULL));
	capture_fini(&c);
}

/* Big bodies do not pin memory: once small exchanges take their slots, it is back to their size. */
static void
test_big_bodies_released(void **state)
{
	struct capture c;
	size_t small, big;
	int i;

	(void)state;
	assert_int_equal(capture_init(&c, 20, 65536), 0);
	for (i = 0; i < 20; i++)
		one(&c, "GET /s HTTP/1.1\r\nHost: a\r\n\r\n", 100, 200);
	small = capture_memory(&c);
	for (i = 0; i < 20; i++)
		one(&c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", 1 << 20, 200);
	big = capture_memory(&c);
	assert_true(big >= small + 20 * 65536);
	for (i = 0; i < 20; i++)
		one(&c, "GET /s HTTP/1.1\r\nHost: a\r\n\r\n", 100, 200);
	assert_true(capture_memory(&c) <= small + 20 * 512);
	capture_fini(&c);
}

static void
test_done_once_and_open_skipped(void **state)
{
	struct capture c;
	uint64_t a, b;

	(void)state;
	assert_int_equal(capture_init(&c, 8, 64), 0);
	capture_set_done_cb(&c, on_done, NULL);
	done_calls = 0;
	a = capture_open(&c, 0, NULL, 0);
	b = capture_open(&c, 0, NULL, 7);
	assert_null(capture_next(&c, NULL)); /* both open */
	capture_done(&c, b, 204, NULL);
	capture_done(&c, b, 500, "again");
	assert_int_equal(done_calls, 1);
	assert_int_equal(done_last, b);
	assert_int_equal(capture_get(&c, b)->status, 204);
	assert_int_equal(capture_get(&c, b)->replay_of, 7);
	assert_int_equal(capture_next(&c, NULL)->id, b);
	assert_null(capture_next(&c, capture_next(&c, NULL)));
	capture_done(&c, a, 0, "local connect refused");
	assert_string_equal(capture_get(&c, a)->why, "local connect refused");
	assert_int_equal(done_calls, 2);
	capture_fini(&c);
	assert_int_equal(capture_init(&c, 0, 1), -22);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_evicts_oldest),
		cmocka_unit_test(test_body_cap_and_size),
		cmocka_unit_test(test_head_cut),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_big_bodies_released),
		cmocka_unit_test(test_done_once_and_open_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
