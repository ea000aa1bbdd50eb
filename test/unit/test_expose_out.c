/*
 * test_expose_out.c: the bytes on their way to a visitor (expose_out.c),
 * over a socketpair: writing through, the held head leaving with the
 * first body bytes, what a full socket leaves behind, the credit returned
 * only for payload that reached the socket, the bound, a failed socket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expose_http.h"
#include "expose_out.h"
#include "http1.h"

struct pair {
	int fd[2];     /* fd[0]: the visitor's socket, written; fd[1]: the visitor, read */
	struct conn c; /* a plain conn on fd[0], outside any loop */
	struct expose_out o;
	size_t credited;
};

static void
on_credit(void *arg, size_t n)
{
	struct pair *p = arg;

	assert_true(n > 0);
	p->credited += n;
}

static void
pair_open(struct pair *p, size_t max)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	assert_int_equal(fcntl(p->fd[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(p->fd[1], F_SETFL, O_NONBLOCK), 0);
	conn_init(&p->c, NULL, p->fd[0], NULL);
	expose_out_init(&p->o, max, on_credit, p);
}

static void
pair_close(struct pair *p)
{
	expose_out_fini(&p->o);
	conn_close(&p->c); /* closes fd[0] */
	if (p->fd[1] >= 0)
		close(p->fd[1]);
}

/* Everything the visitor can read now, appended to got. */
static size_t
drain(struct pair *p, char *got, size_t cap, size_t have)
{
	ssize_t n;

	while (have < cap && (n = read(p->fd[1], got + have, cap - have)) > 0)
		have += (size_t)n;
	return have;
}

static void
frame(enum expose_http_body body, uint64_t length, size_t n, struct expose_http_piece *pc)
{
	struct expose_http_resp_body b;

	expose_http_resp_body_init(&b, body, length);
	expose_http_resp_body_data(&b, n, pc);
}

static void
test_through_when_empty(void **state)
{
	struct expose_http_piece pc;
	struct pair p;
	char got[64];
	size_t n;

	(void)state;
	pair_open(&p, 1 << 20);
	frame(EXPOSE_HTTP_BODY_CHUNKED, 0, 5, &pc);
	assert_int_equal(expose_out_data(&p.o, &p.c, 1, &pc, (const uint8_t *)"hello"), 0);
	n = drain(&p, got, sizeof(got), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(got, "5\r\nhello\r\n", 10);
	assert_int_equal(p.credited, 5);
	assert_int_equal(buf_len(&p.o.buf), 0);
	assert_int_equal(p.o.owed, 0);
	assert_int_equal(p.o.sent.pushed, 10);
	pair_close(&p);
}

static void
test_held_head_leaves_with_body(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	struct expose_http_piece pc;
	struct pair p;
	char got[128];
	size_t n;

	(void)state;
	pair_open(&p, 1 << 20);
	assert_int_equal(expose_out_append(&p.o, head, sizeof(head) - 1), 0);
	assert_int_equal(p.o.owed, 0); /* framing */
	frame(EXPOSE_HTTP_BODY_LENGTH, 5, 5, &pc);
	assert_int_equal(expose_out_data(&p.o, &p.c, 1, &pc, (const uint8_t *)"hello"), 0);
	n = drain(&p, got, sizeof(got), 0);
	assert_int_equal(n, sizeof(head) - 1 + 5);
	assert_memory_equal(got, head, sizeof(head) - 1);
	assert_memory_equal(got + sizeof(head) - 1, "hello", 5);
	assert_int_equal(p.credited, 5);
	assert_int_equal(buf_len(&p.o.buf), 0);
	pair_close(&p);
}

static void
test_queued_behind_waiting_bytes(void **state)
{
	struct expose_http_piece pc;
	struct pair p;
	char got[64];
	size_t n;

	(void)state;
	pair_open(&p, 1 << 20);
	frame(EXPOSE_HTTP_BODY_CLOSE, 0, 3, &pc);
	/* not through: nothing is written, the piece waits behind what is there */
	assert_int_equal(expose_out_append(&p.o, "ab", 2), 0);
	assert_int_equal(expose_out_data(&p.o, &p.c, 0, &pc, (const uint8_t *)"cde"), 0);
	assert_int_equal(drain(&p, got, sizeof(got), 0), 0);
	assert_int_equal(p.credited, 0);
	assert_int_equal(p.o.owed, 3);
	assert_int_equal(expose_out_flush(&p.o, &p.c), 0);
	n = drain(&p, got, sizeof(got), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(got, "abcde", 5);
	assert_int_equal(p.credited, 3);
	assert_int_equal(p.o.owed, 0);
	pair_close(&p);
}

/*
 * A piece much larger than the socket takes: the rest is kept, credit is
 * never ahead of the payload the visitor could read, and all of it is
 * returned once everything is written.
 */
static void
test_full_socket_keeps_the_rest(void **state)
{
	enum { N = 1 << 20 };
	struct expose_http_piece pc;
	uint8_t *body = malloc(N);
	char *got = malloc(N + 64);
	struct pair p;
	size_t have = 0, i, hl;

	(void)state;
	assert_non_null(body);
	assert_non_null(got);
	for (i = 0; i < N; i++)
		body[i] = (uint8_t)(i * 7);
	pair_open(&p, 2 * N);
	frame(EXPOSE_HTTP_BODY_CHUNKED, 0, N, &pc);
	hl = pc.pre_len;
	assert_int_equal(expose_out_data(&p.o, &p.c, 1, &pc, body), 0);
	assert_true(buf_len(&p.o.buf) > 0); /* the socket did not take a megabyte */
	assert_int_equal(p.credited + p.o.owed, N);
	for (i = 0; i < 100000 && buf_len(&p.o.buf) > 0; i++) {
		have = drain(&p, got, N + 64, have);
		/* credit only for payload the visitor could have read */
		assert_true(p.credited <= (have > hl ? have - hl : 0));
		assert_int_equal(expose_out_flush(&p.o, &p.c), 0);
	}
	have = drain(&p, got, N + 64, have);
	assert_int_equal(buf_len(&p.o.buf), 0);
	assert_int_equal(p.credited, N);
	assert_int_equal(p.o.owed, 0);
	assert_int_equal(have, hl + N + 2);
	assert_memory_equal(got + hl, body, N);
	assert_memory_equal(got + hl + N, "\r\n", 2);
	pair_close(&p);
	free(body);
	free(got);
}

static void
test_bound(void **state)
{
	enum { N = 1 << 20 };
	struct expose_http_piece pc;
	uint8_t *body = calloc(1, N);
	struct pair p;

	(void)state;
	assert_non_null(body);
	pair_open(&p, 4096);
	frame(EXPOSE_HTTP_BODY_CLOSE, 0, N, &pc);
	assert_int_equal(expose_out_data(&p.o, &p.c, 0, &pc, body), EXPOSE_OUT_FULL);
	pair_close(&p);
	free(body);
}

static void
test_socket_failed(void **state)
{
	struct expose_http_piece pc;
	struct pair p;

	(void)state;
	pair_open(&p, 1 << 20);
	close(p.fd[1]);
	p.fd[1] = -1;
	frame(EXPOSE_HTTP_BODY_CLOSE, 0, 3, &pc);
	assert_int_equal(expose_out_data(&p.o, &p.c, 1, &pc, (const uint8_t *)"abc"), -EPIPE);
	assert_int_equal(p.credited, 0);
	assert_int_equal(expose_out_append(&p.o, "ab", 2), 0);
	assert_int_equal(expose_out_flush(&p.o, &p.c), -EPIPE);
	assert_int_equal(buf_len(&p.o.buf), 2); /* kept: the owner closes */
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_through_when_empty),
		cmocka_unit_test(test_held_head_leaves_with_body),
		cmocka_unit_test(test_queued_behind_waiting_bytes),
		cmocka_unit_test(test_full_socket_keeps_the_rest),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_socket_failed),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
