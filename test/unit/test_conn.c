/*
 * test_conn.c: the conn transport (plain TCP or TLS in the reactor) as its
 * owner sees it. Both ends of a socketpair are conns of one reactor, each
 * with an owner (struct side) that follows conn.h's pattern per event:
 * read until -EAGAIN (or its budget), write what is pending, flush, say
 * what it wants. Checked: data both ways, no call for events not asked
 * for, half-close, sticky errors, close twice, conn_move
 * (plain, and TLS with plaintext still in the engine), the TLS handshake
 * driven by events only with 1 MiB each way written before it ends, the
 * re-announcement of bytes the engine holds (small reads, reads paused
 * and resumed), owners that do not read during the handshake, the plain
 * answer to a non-TLS peer, certificate failures and conn_wants().
 *
 * Certificates come from test/tools/gen_test_certs.sh run into a fresh
 * temporary directory; the TLS tests are skipped, saying why, when
 * /usr/bin/openssl is missing. Every run is bounded by a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "util.h"

#define MIB (1024 * 1024)
#define DEADLINE_MS 5000
#define ANSWER "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static char tmpdir[200];
static int have_certs;
static struct tls_anchors anchors, other_anchors; /* ca.pem (the server's issuer), ca2.pem */
static struct tls_server_creds creds;

/* ---- certificates ------------------------------------------------------- */

/* Path of a generated file (rotating static buffers). */
static const char *
P(const char *name)
{
	static char bufs[2][PATH_MAX];
	static int k;
	char *b = bufs[k++ & 1];

	snprintf(b, PATH_MAX, "%s/%s", tmpdir, name);
	return b;
}

/* The generator, from the repo root (where the tests run) or next to this file. */
static const char *
script_path(void)
{
	static char path[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');

	if (access("test/tools/gen_test_certs.sh", R_OK) == 0 || slash == NULL)
		return "test/tools/gen_test_certs.sh";
	snprintf(path, sizeof(path), "%.*s/../tools/gen_test_certs.sh", (int)(slash - __FILE__), __FILE__);
	return path;
}

static int
group_setup(void **state)
{
	char cmd[2 * PATH_MAX], err[256] = "";

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (access("/usr/bin/openssl", X_OK) != 0) {
		fprintf(stderr, "test_conn: /usr/bin/openssl not found: TLS tests are SKIPPED "
				"(apt-get install openssl)\n");
		return 0;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conn.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", script_path(), tmpdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_conn: %s failed\n", cmd);
		return -1;
	}
	if (tls_anchors_load(&anchors, P("ca.pem"), err, sizeof(err)) != 0 ||
	    tls_anchors_load(&other_anchors, P("ca2.pem"), err, sizeof(err)) != 0 ||
	    tls_server_creds_load(&creds, P("server.pem"), P("server.key"), err, sizeof(err)) != 0) {
		fprintf(stderr, "test_conn: %s\n", err);
		return -1;
	}
	have_certs = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[PATH_MAX];

	(void)state;
	tls_anchors_fini(&anchors);
	tls_anchors_fini(&other_anchors);
	tls_server_creds_fini(&creds);
	if (tmpdir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

#define NEED_CERTS()                                                                                         \
	do {                                                                                                 \
		if (!have_certs)                                                                             \
			skip();                                                                              \
	} while (0)

/* ---- the owner ---------------------------------------------------------- */

static uint8_t
pat(size_t i, unsigned seed)
{
	return (uint8_t)(i * 31 + (i >> 10) + seed);
}

/* One owner of a conn: what it sends, what it got, what it saw. */
struct side {
	struct conn c;
	int paused;       /* does not want CONN_READ */
	size_t rchunk;    /* bytes per conn_read */
	unsigned rbudget; /* conn_read calls per callback (0: until -EAGAIN) */
	uint8_t *rx;
	size_t rxlen, rxwant;
	size_t rbase; /* rx[i] is byte rbase + i of pattern rseed */
	unsigned rseed;
	uint8_t *tx;
	size_t txlen, txoff;
	int blocked;               /* the last write returned -EAGAIN: wants CONN_WRITE */
	unsigned eagains, retried; /* writes refused, writes taken after a refusal */
	int eof, err;
	unsigned asked; /* the owner's last conn_interest() */
	unsigned calls, rcalls, wcalls;
	unsigned unwanted;    /* calls with an event not asked for, or none at all */
	int stop_on_data;     /* reactor_stop() in the first call that got bytes */
	size_t pause_at;      /* stop wanting CONN_READ once rxlen >= pause_at (0: never) */
	struct side *move_to; /* hand the conn over once rxlen >= move_at */
	size_t move_at;
};

static struct reactor R;
static struct side A, B, N; /* A client, B server, N a new owner for conn_move */
static int raw_fd = -1;     /* B's peer when it is no conn */

static void
side_interest(struct side *s)
{
	s->asked = (s->paused || s->eof || s->err ? 0 : CONN_READ) | (s->blocked ? CONN_WRITE : 0);
	conn_interest(&s->c, s->asked);
}

static void
side_read(struct side *s)
{
	uint8_t buf[65536];
	unsigned n;
	ssize_t k;

	for (n = 0; !s->eof && !s->err && (s->rbudget == 0 || n < s->rbudget); n++) {
		k = conn_read(&s->c, buf, UTIL_MIN(s->rchunk, sizeof(buf)));
		if (k == -EAGAIN)
			return;
		if (k == 0)
			s->eof = 1;
		else if (k < 0)
			s->err = (int)k;
		else if (s->rxlen + (size_t)k > s->rxwant)
			s->err = -EOVERFLOW; /* more than was sent */
		else {
			memcpy(s->rx + s->rxlen, buf, (size_t)k);
			s->rxlen += (size_t)k;
		}
	}
}

static void
side_write(struct side *s)
{
	ssize_t k;

	while (s->txoff < s->txlen && !s->err) {
		k = conn_write(&s->c, s->tx + s->txoff, UTIL_MIN(s->txlen - s->txoff, (size_t)65536));
		if (k == -EAGAIN) {
			s->blocked = 1;
			s->eagains++;
			return;
		}
		if (k < 0) {
			s->err = (int)k;
			return;
		}
		s->retried += s->blocked;
		s->blocked = 0;
		s->txoff += (size_t)k;
	}
	s->blocked = 0;
}

static void
side_cb(struct conn *c, unsigned events)
{
	struct side *s = container_of(c, struct side, c);
	struct side *to = s->move_to;

	s->calls++;
	if (events == 0 || (events & ~s->asked))
		s->unwanted++;
	s->wcalls += (events & CONN_WRITE) != 0;
	if (events & CONN_READ) {
		s->rcalls++;
		side_read(s);
	}
	if (s->pause_at != 0 && s->rxlen >= s->pause_at) {
		s->paused = 1;
		s->pause_at = 0;
	}
	if (to != NULL && s->rxlen >= s->move_at) {
		s->move_to = NULL;
		conn_move(&to->c, c, &R, side_cb);
		to->asked = CONN_READ;
		assert_int_equal(conn_start(&to->c, CONN_READ), 0);
		return;
	}
	side_write(s);
	(void)conn_flush(c);
	side_interest(s);
	if (s->stop_on_data && s->rxlen > 0) {
		s->stop_on_data = 0;
		reactor_stop(&R);
	}
}

/* Expect rxwant bytes of pattern rseed; send txlen bytes of pattern tseed. */
static void
side_data(struct side *s, size_t rxwant, unsigned rseed, size_t txlen, unsigned tseed)
{
	size_t i;

	s->rxwant = rxwant;
	s->rseed = rseed;
	s->rx = malloc(rxwant + 1);
	s->tx = malloc(txlen + 1);
	assert_non_null(s->rx);
	assert_non_null(s->tx);
	for (i = 0; i < txlen; i++)
		s->tx[i] = pat(i, tseed);
	s->txlen = txlen;
}

static void
side_check(const struct side *s)
{
	size_t i;

	assert_int_equal(s->err, 0);
	assert_int_equal(s->rxlen, s->rxwant);
	for (i = 0; i < s->rxlen; i++)
		if (s->rx[i] != pat(s->rbase + i, s->rseed))
			fail_msg("byte %zu of %zu: %u, expected %u", i, s->rxlen, s->rx[i],
				 pat(s->rbase + i, s->rseed));
	assert_int_equal(s->txoff, s->txlen);
	assert_int_equal(s->unwanted, 0);
}

/* ---- the loop ----------------------------------------------------------- */

static int (*run_cond)(void);
static struct reactor_timer deadline;
static struct reactor_hook cond_hook;

static void
on_deadline(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(r);
}

static int
on_cond(struct reactor *r, struct reactor_hook *h)
{
	(void)h;
	if (run_cond != NULL && run_cond())
		reactor_stop(r);
	return 0;
}

/* Run until cond holds (checked before each poll), a reactor_stop, or ms passed; 1 when it held. */
static int
run_until(int (*cond)(void), uint64_t ms)
{
	run_cond = cond;
	reactor_timer_init(&deadline, on_deadline);
	reactor_timer_start(&R, &deadline, ms, 0);
	reactor_hook_start(&R, &cond_hook, on_cond);
	assert_int_equal(reactor_run(&R), 0);
	reactor_hook_stop(&R, &cond_hook);
	reactor_timer_stop(&R, &deadline);
	run_cond = NULL;
	return cond == NULL || cond();
}

/* One loop iteration that does not block. */
static void
spin(void)
{
	reactor_stop(&R);
	assert_int_equal(reactor_run(&R), 0);
}

static int
side_done(const struct side *s)
{
	return s->err != 0 || (s->rxlen >= s->rxwant && s->txoff == s->txlen);
}

static int
cond_done(void)
{
	return side_done(&A) && side_done(&B) && side_done(&N);
}

static int
cond_failed(void)
{
	return A.err != 0 || B.err != 0;
}

/* Both handshakes done and nothing left to send. */
static int
cond_idle(void)
{
	return cond_failed() ||
	       (conn_ready(&A.c) && conn_ready(&B.c) && conn_wants(&A.c, CONN_READ) == CONN_READ &&
		conn_wants(&B.c, CONN_READ) == CONN_READ);
}

static int
cond_eof(void)
{
	return cond_failed() || (B.eof && A.rxlen == A.rxwant);
}

static int
cond_a_end(void)
{
	return A.err || A.eof;
}

/* ---- fixture ------------------------------------------------------------ */

static void
side_init(struct side *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->rchunk = 65536;
	conn_init(&s->c, &R, fd, side_cb);
}

/* A and B on a socketpair, plain; nothing started. */
static int
setup(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(reactor_init(&R), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	side_init(&A, sv[0]);
	side_init(&B, sv[1]);
	side_init(&N, -1);
	raw_fd = -1;
	return 0;
}

static int
teardown(void **state)
{
	struct side *s[3] = { &A, &B, &N };
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		conn_close(&s[i]->c);
		free(s[i]->rx);
		free(s[i]->tx);
	}
	if (raw_fd >= 0)
		close(raw_fd);
	reactor_fini(&R);
	return 0;
}

/* A becomes a TLS client of name verified with a, B a TLS server. */
static void
make_tls(const struct tls_anchors *a, const char *name)
{
	assert_int_equal(conn_tls_client(&A.c, a, name, 0), 0);
	assert_int_equal(conn_tls_server(&B.c, &creds), 0);
}

/* Both started; each owner writes what it has at once and says what it wants. */
static void
start_both(void)
{
	assert_int_equal(conn_start(&A.c, 0), 0);
	assert_int_equal(conn_start(&B.c, 0), 0);
	side_write(&A);
	side_interest(&A);
	side_write(&B);
	side_interest(&B);
}

/* ---- plain -------------------------------------------------------------- */

/* More than the socket buffers both ways: partial writes, CONN_WRITE, retries. */
static void
test_plain_both_ways(void **state)
{
	(void)state;
	side_data(&A, 3 * MIB, 2, 3 * MIB, 1);
	side_data(&B, 3 * MIB, 1, 3 * MIB, 2);
	start_both();
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&A);
	side_check(&B);
	assert_true(A.eagains > 0 && A.retried > 0 && A.wcalls > 0);
	assert_true(conn_ready(&A.c));
}

/* Interest 0: no call at all; READ only: never CONN_WRITE (the socket is always writable). */
static void
test_plain_interest(void **state)
{
	(void)state;
	side_data(&A, 0, 0, 10, 7);
	side_data(&B, 10, 7, 0, 0);
	B.paused = 1;
	start_both();
	assert_int_equal(A.txoff, 10);
	run_until(NULL, 50);
	assert_int_equal(B.calls, 0);
	B.paused = 0;
	side_interest(&B);
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
	assert_int_equal(B.wcalls, 0);
	assert_int_equal(B.calls, B.rcalls);
}

/* conn_shutdown(): the peer reads the end, and still sends to us. */
static void
test_plain_shutdown(void **state)
{
	(void)state;
	side_data(&A, 1000, 3, 0, 0);
	side_data(&B, 0, 0, 1000, 3);
	start_both();
	conn_shutdown(&A.c);
	assert_true(run_until(cond_eof, DEADLINE_MS));
	assert_true(B.eof);
	side_check(&A);
	assert_false(A.eof);
	assert_int_equal(conn_write(&A.c, "x", 1), -EPIPE);
}

/* A write to a peer that is gone fails and every call returns the same; closing twice is harmless. */
static void
test_plain_sticky_error_close(void **state)
{
	int fd = A.c.fd, i, err;
	ssize_t k = 0;
	char buf[16];

	(void)state;
	start_both();
	conn_close(&B.c);
	for (i = 0; i < 100 && (k = conn_write(&A.c, "data", 4)) > 0; i++)
		;
	assert_true(k == -EPIPE || k == -ECONNRESET);
	err = (int)k;
	assert_int_equal(A.c.err, err);
	for (i = 0; i < 3; i++) {
		assert_int_equal(conn_read(&A.c, buf, sizeof(buf)), err); /* not the end (0) */
		assert_int_equal(conn_write(&A.c, "data", 4), err);
		assert_int_equal(conn_flush(&A.c), err);
	}
	assert_int_equal(conn_wants(&A.c, CONN_READ | CONN_WRITE), 0);
	assert_null(conn_error(&A.c));
	conn_close(&A.c);
	assert_int_equal(A.c.fd, -1);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	conn_close(&A.c);
	assert_int_equal(A.c.fd, -1);
	run_until(NULL, 20);
	assert_int_equal(A.calls + B.calls, 0);
}

/* conn_move() from within the old owner's call: the new one gets the rest, the fd lives on. */
static void
test_plain_move(void **state)
{
	int fd = B.c.fd;

	(void)state;
	side_data(&A, 0, 0, 200000, 5);
	side_data(&B, 100, 5, 0, 0);
	side_data(&N, 200000 - 100, 5, 0, 0);
	N.rbase = 100;
	B.rchunk = 100;
	B.rbudget = 1;
	B.move_to = &N;
	B.move_at = 100;
	start_both();
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
	side_check(&N);
	assert_int_equal(B.calls, 1);
	assert_int_equal(B.c.fd, -1);
	assert_int_equal(N.c.fd, fd);
	conn_close(&B.c); /* the old owner's close: none of the new one's business */
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
}

/* ---- TLS ---------------------------------------------------------------- */

/* The handshake from reactor events only, 1 MiB each way written before it ends. */
static void
test_tls_mib_each_way(void **state)
{
	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, MIB, 2, MIB, 1);
	side_data(&B, MIB, 1, MIB, 2);
	assert_false(conn_ready(&A.c));
	assert_false(conn_ready(&B.c));
	start_both();
	assert_true(A.blocked && A.eagains == 1); /* the handshake is not done: -EAGAIN */
	assert_true(B.blocked && B.eagains == 1);
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&A);
	side_check(&B);
	assert_true(conn_ready(&A.c));
	assert_true(conn_ready(&B.c));
	assert_true(A.retried > 0 && B.retried > 0);
	assert_null(conn_error(&A.c));
}

/* 100 bytes per call: the engine holds the rest and no socket event will come. */
static void
test_tls_small_reads(void **state)
{
	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, 0, 0, 100000, 9);
	side_data(&B, 100000, 9, 0, 0);
	B.rchunk = 100;
	B.rbudget = 1;
	start_both();
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
	assert_true(B.rcalls >= 1000);
}

static int
cond_paused(void)
{
	return B.err || (B.paused && A.txoff == A.txlen && !(conn_wants(&A.c, CONN_READ) & CONN_WRITE));
}

/* Reads stopped while plaintext waits in the engine, then wanted again: all of it comes. */
static void
test_tls_pause_resume(void **state)
{
	unsigned calls;

	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, 0, 0, 60000, 4);
	side_data(&B, 60000, 4, 0, 0);
	B.rchunk = 1000;
	B.rbudget = 1;
	B.pause_at = 1000;
	start_both();
	assert_true(run_until(cond_paused, DEADLINE_MS)); /* and A sent everything */
	assert_int_equal(B.rxlen, 1000);
	calls = B.calls;
	run_until(NULL, 30);
	assert_int_equal(B.calls, calls);
	B.paused = 0;
	side_interest(&B);
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
}

/* Reads stopped from outside the owner's call (backpressure) while an announcement waits: no call. */
static void
test_tls_pause_from_outside(void **state)
{
	unsigned calls;
	int i;

	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, 0, 0, 50000, 6);
	side_data(&B, 50000, 6, 0, 0);
	B.rchunk = 100;
	B.rbudget = 1;
	B.stop_on_data = 1;
	start_both();
	run_until(NULL, DEADLINE_MS); /* until B's first bytes */
	assert_int_equal(B.rxlen, 100);
	calls = B.calls;
	B.paused = 1;
	side_interest(&B);
	for (i = 0; i < 5; i++)
		spin();
	assert_int_equal(B.calls, calls);
	B.paused = 0;
	side_interest(&B);
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
}

/* A TLS server whose owner wants nothing yet: not called while the client says hello. */
static void
test_tls_interest_zero(void **state)
{
	uint64_t polls;

	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	B.paused = 1;
	start_both();
	polls = R.polls;
	run_until(NULL, 50);
	assert_int_equal(B.calls, 0);
	assert_in_range(R.polls - polls, 0, 100); /* no busy loop either */
	B.paused = 0;
	side_interest(&B);
	assert_true(run_until(cond_idle, DEADLINE_MS));
	assert_int_equal(A.unwanted + B.unwanted, 0);
}

static int
cond_done_calm(void)
{
	return cond_done() || A.calls > 10000; /* a busy loop ends the run early */
}

/* A TLS client whose owner only writes: the handshake completes all the same, without a busy loop. */
static void
test_tls_write_only_client(void **state)
{
	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, 0, 0, 100000, 3);
	side_data(&B, 100000, 3, 0, 0);
	A.paused = 1;
	start_both();
	assert_true(run_until(cond_done_calm, DEADLINE_MS));
	assert_in_range(A.calls, 1, 1000);
	assert_true(conn_ready(&A.c));
	assert_int_equal(A.rcalls, 0);
	side_check(&A);
	side_check(&B);
}

/* conn_move() with plaintext buffered in the engine: the new owner gets every byte. */
static void
test_tls_move_buffered(void **state)
{
	int fd = B.c.fd;

	(void)state;
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	side_data(&A, 0, 0, 50000, 8);
	side_data(&B, 100, 8, 0, 0);
	side_data(&N, 50000 - 100, 8, 0, 0);
	N.rbase = 100;
	B.rchunk = 100;
	B.rbudget = 1;
	B.move_to = &N;
	B.move_at = 100;
	start_both();
	assert_true(run_until(cond_done, DEADLINE_MS));
	side_check(&B);
	side_check(&N);
	assert_int_equal(B.c.fd, -1);
	assert_int_equal(N.c.fd, fd);
	assert_true(conn_ready(&N.c));
}

/* A plain HTTP request on a TLS port: the read fails, the peer reads the answer, then EOF. */
static void
test_tls_plain_answer(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	char buf[1024];
	size_t got = 0;
	ssize_t k;

	(void)state;
	NEED_CERTS();
	raw_fd = A.c.fd; /* the peer is no conn */
	A.c.fd = -1;
	assert_int_equal(conn_tls_server(&B.c, &creds), 0);
	conn_set_plain_answer(&B.c, ANSWER);
	B.asked = CONN_READ;
	assert_int_equal(conn_start(&B.c, CONN_READ), 0);
	assert_int_equal(send(raw_fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	assert_true(run_until(cond_failed, DEADLINE_MS));
	assert_true(B.err < 0 && B.err != -EAGAIN);
	while ((k = recv(raw_fd, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)k;
	assert_int_equal(k, 0); /* the end, not -EAGAIN */
	assert_int_equal(got, strlen(ANSWER));
	assert_memory_equal(buf, ANSWER, got);
	assert_int_equal(B.rxlen, 0);
}

/* A certificate failure: the read and flush fail, conn_error() says why, all of it sticks. */
static void
handshake_fails(const struct tls_anchors *a, const char *name, const char *why)
{
	char buf[16];
	int err, i;

	NEED_CERTS();
	make_tls(a, name);
	side_data(&A, 0, 0, 1000, 1);
	start_both();
	assert_true(run_until(cond_a_end, DEADLINE_MS));
	assert_true(A.err < 0 && A.err != -EAGAIN);
	assert_false(conn_ready(&A.c));
	err = A.err;
	assert_int_equal(A.c.err, err);
	assert_non_null(conn_error(&A.c));
	if (strstr(conn_error(&A.c), why) == NULL)
		fail_msg("conn_error: \"%s\", expected \"%s\" in it", conn_error(&A.c), why);
	for (i = 0; i < 2; i++) {
		assert_int_equal(conn_read(&A.c, buf, sizeof(buf)), err);
		assert_int_equal(conn_flush(&A.c), err);
		assert_int_equal(conn_write(&A.c, "x", 1), err);
	}
	assert_non_null(strstr(conn_error(&A.c), why));
	assert_int_equal(conn_wants(&A.c, CONN_READ | CONN_WRITE), 0);
	assert_int_equal(B.rxlen, 0);
}

static void
test_tls_unknown_issuer(void **state)
{
	(void)state;
	handshake_fails(&other_anchors, "localhost", "issuer");
}

static void
test_tls_wrong_name(void **state)
{
	(void)state;
	handshake_fails(&anchors, "other.example", "name");
}

/* What a poll(2) user waits for: plain as asked; TLS adds the handshake, drops READ when not asked. */
static void
test_wants(void **state)
{
	unsigned w;

	(void)state;
	for (w = 0; w <= (CONN_READ | CONN_WRITE); w++)
		assert_int_equal(conn_wants(&A.c, w), w);
	NEED_CERTS();
	make_tls(&anchors, "localhost");
	assert_int_equal(conn_wants(&A.c, CONN_READ) & CONN_WRITE, CONN_WRITE); /* the ClientHello */
	assert_int_equal(conn_wants(&A.c, 0) & CONN_WRITE, CONN_WRITE);
	assert_int_equal(conn_wants(&B.c, 0), CONN_READ); /* waits for it */
	start_both();
	assert_true(run_until(cond_idle, DEADLINE_MS));
	assert_true(conn_ready(&A.c) && conn_ready(&B.c));
	assert_int_equal(conn_wants(&A.c, 0), 0); /* no reader, no records */
	/* The peer's close_notify: a clean end, nothing more to wait for. */
	conn_close(&B.c);
	assert_true(run_until(cond_a_end, DEADLINE_MS));
	assert_int_equal(A.err, 0);
	assert_int_equal(conn_wants(&A.c, CONN_READ), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_interest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_sticky_error_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_mib_each_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_small_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_pause_from_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_interest_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_write_only_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_move_buffered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_plain_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_unknown_issuer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_wrong_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wants, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
