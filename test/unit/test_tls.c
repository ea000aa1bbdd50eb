/*
 * test_tls.c: the BearSSL transport, client and server in one process.
 *
 * Certificates come from test/tools/gen_test_certs.sh, run into a fresh
 * temporary directory, or into $TEST_TLS_CERTDIR (kept) when set (the tests
 * are skipped, saying why, when /usr/bin/openssl is missing); the CA and
 * the server credentials most tests use are loaded once with them (fx).
 * A client and a server tls_conn talk over a non-blocking socketpair,
 * driven the way a reactor would drive them: call writev/flush/read until
 * -EAGAIN, then poll() each fd for exactly tls_conn_interest(). A wrong
 * interest shows up as a stall, which fails the test after STALL_MS.
 * Variants: forced EAGAIN on every second socket call with tiny socket
 * buffers, a relay the test runs itself that moves one byte at a time,
 * one-byte application writes and reads. Also: the suites and versions
 * offered and accepted, the AES-GCM code each mode gives the engines, the
 * GHASH powers wiped with their connection, seeding with getrandom failing
 * (fakerandom.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fakerandom.h"
#include "tls.h"
#include "tls_cpu.h"
#include "tls_crypto.h"
#include "tls_ghash.h"
#include "util.h"

#define MIB (1024 * 1024)
#define STALL_MS 3000
#define RUN_LIMIT_S 60

static char tmpdir[200];
static char certdir[256];
static int have_certs;

/* ---- certificates ------------------------------------------------------- */

/* Path of a file in the generated directory (rotating static buffers). */
static const char *
P(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int k;
	char *b = bufs[k++ & 3];

	snprintf(b, PATH_MAX, "%s/%s", certdir, name);
	return b;
}

/* The generator, relative to the directory the tests run from (the repo root). */
static const char *
script_path(void)
{
	static char path[PATH_MAX];
	const char *slash;

	if (access("test/tools/gen_test_certs.sh", R_OK) == 0)
		return "test/tools/gen_test_certs.sh";
	slash = strrchr(__FILE__, '/');
	snprintf(path, sizeof(path), "%.*s/../tools/gen_test_certs.sh", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".");
	return path;
}

static void
load_anchors(struct tls_anchors *a, const char *file)
{
	char err[256] = "";

	if (tls_anchors_load(a, P(file), err, sizeof(err)) != 0)
		fail_msg("anchors %s: %s", file, err);
}

static void
load_creds(struct tls_server_creds *c, const char *cert, const char *key)
{
	char err[256] = "";

	if (tls_server_creds_load(c, P(cert), P(key), err, sizeof(err)) != 0)
		fail_msg("creds %s + %s: %s", cert, key, err);
}

/*
 * What most tests share, loaded once by group_setup: the CA that signed
 * the server certificates (and another one), and the RSA and EC server
 * credentials. Tests of loading itself, and of credentials going away
 * while in use, load their own.
 */
static struct {
	struct tls_anchors ca, ca2;      /* ca.pem, ca2.pem */
	struct tls_server_creds rsa, ec; /* server.pem + server.key, server-ec.pem + server-ec.key */
} fx;

/* Load anchors (a) or credentials (c) of the fixture; 0, or -1 with a message. */
static int
fixture_load(struct tls_anchors *a, struct tls_server_creds *c, const char *file, const char *key)
{
	char err[256] = "";
	int rc = a != NULL ? tls_anchors_load(a, P(file), err, sizeof(err))
			   : tls_server_creds_load(c, P(file), P(key), err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "test_tls: loading %s: %s\n", file, err);
	return rc;
}

static int
group_setup(void **state)
{
	char cmd[3 * PATH_MAX];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (access("/usr/bin/openssl", X_OK) != 0) {
		fprintf(stderr, "test_tls: /usr/bin/openssl not found: certificate tests are SKIPPED "
				"(apt-get install openssl)\n");
		return 0;
	}
	/* TEST_TLS_CERTDIR: a kept directory, generated once (the script is idempotent). */
	if (getenv("TEST_TLS_CERTDIR") != NULL && strlen(getenv("TEST_TLS_CERTDIR")) < 200) {
		snprintf(certdir, sizeof(certdir), "%s", getenv("TEST_TLS_CERTDIR"));
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tls.XXXXXX");
		if (mkdtemp(tmpdir) == NULL)
			return -1;
		snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	}
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", script_path(), certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: %s failed\n", cmd);
		return -1;
	}
	if (fixture_load(&fx.ca, NULL, "ca.pem", NULL) != 0 ||
	    fixture_load(&fx.ca2, NULL, "ca2.pem", NULL) != 0 ||
	    fixture_load(NULL, &fx.rsa, "server.pem", "server.key") != 0 ||
	    fixture_load(NULL, &fx.ec, "server-ec.pem", "server-ec.key") != 0)
		return -1;
	have_certs = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	tls_anchors_fini(&fx.ca);
	tls_anchors_fini(&fx.ca2);
	tls_server_creds_fini(&fx.rsa);
	tls_server_creds_fini(&fx.ec);
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

/* ---- the driver --------------------------------------------------------- */

/* Deterministic test data. */
static void
fill(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed | 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* One side: a tls_conn, its fd, what it sends and what it expects. */
struct peer {
	struct tls_conn t;
	int fd;
	const char *name;
	unsigned char *tx;
	size_t txlen, txoff;
	unsigned char *rx;
	size_t rxlen, rxoff;
	size_t wchunk;  /* most bytes per writev (split into two iovecs) */
	size_t rchunk;  /* read buffer size */
	int want_close; /* tls_conn_close() once everything is sent */
	int closed;
	int eof;             /* tls_conn_read returned 0 */
	int err;             /* first failure returned by a call */
	unsigned long calls; /* shim: socket calls seen */
	int shim;            /* shim: fail every second call with EAGAIN */
};

/* Forced EAGAIN on every second call; short transfers on the others. */
static ssize_t
shim_recv(void *ctx, int fd, void *buf, size_t len)
{
	struct peer *p = ctx;
	ssize_t n;

	if (p->calls++ % 2 == 0)
		return -EAGAIN;
	n = recv(fd, buf, UTIL_MIN(len, (size_t)777), 0);
	return n < 0 ? -errno : n;
}

static ssize_t
shim_send(void *ctx, int fd, const void *buf, size_t len)
{
	struct peer *p = ctx;
	ssize_t n;

	if (p->calls++ % 2 == 0)
		return -EAGAIN;
	n = send(fd, buf, UTIL_MIN(len, (size_t)1000), MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

/* Every byte through, one send(2) per call: counts the calls and their bytes. */
static ssize_t
counting_send(void *ctx, int fd, const void *buf, size_t len)
{
	struct peer *p = ctx;
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return -errno;
	p->calls++;
	return n;
}

static void
peer_data(struct peer *p, size_t txlen, size_t rxlen, uint32_t seed)
{
	p->tx = malloc(txlen ? txlen : 1);
	p->rx = malloc(rxlen ? rxlen : 1);
	assert_non_null(p->tx);
	assert_non_null(p->rx);
	fill(p->tx, txlen, seed);
	p->txlen = txlen;
	p->rxlen = rxlen;
	if (p->wchunk == 0)
		p->wchunk = 100000;
	if (p->rchunk == 0)
		p->rchunk = 65536;
}

/* Forget what a peer sent and received, for another exchange on the same connection. */
static void
peer_reset(struct peer *p)
{
	free(p->tx);
	free(p->rx);
	p->tx = p->rx = NULL;
	p->txlen = p->txoff = p->rxlen = p->rxoff = 0;
}

/* Read until -EAGAIN (or the end). 1 when something came. */
static int
peer_read(struct peer *p)
{
	unsigned char buf[65536];
	ssize_t r;
	int moved = 0;

	while (!p->eof && !p->err) {
		r = tls_conn_read(&p->t, p->fd, buf, UTIL_MIN(p->rchunk, sizeof(buf)));
		if (r == -EAGAIN)
			break;
		if (r == 0) {
			p->eof = 1;
			moved = 1;
			break;
		}
		if (r < 0) {
			p->err = (int)r;
			break;
		}
		if (p->rxoff + (size_t)r > p->rxlen)
			fail_msg("%s: %zu bytes more than the %zu expected", p->name,
				 p->rxoff + (size_t)r - p->rxlen, p->rxlen);
		memcpy(p->rx + p->rxoff, buf, (size_t)r);
		p->rxoff += (size_t)r;
		moved = 1;
	}
	return moved;
}

/* Write what is pending (two iovecs per call); when all is written, flush or close. */
static int
peer_write(struct peer *p)
{
	struct iovec iov[2];
	size_t n, half;
	ssize_t r;
	int moved = 0;

	while (!p->err && p->txoff < p->txlen) {
		n = UTIL_MIN(p->wchunk, p->txlen - p->txoff);
		half = n / 2;
		iov[0].iov_base = p->tx + p->txoff;
		iov[0].iov_len = half;
		iov[1].iov_base = p->tx + p->txoff + half;
		iov[1].iov_len = n - half;
		r = tls_conn_writev(&p->t, p->fd, iov, 2);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			p->err = r < 0 ? (int)r : -EIO;
			return moved;
		}
		assert_true((size_t)r <= n);
		p->txoff += (size_t)r;
		moved = 1;
	}
	/* With data still pending, writev has already pushed the records it could. */
	if (p->err || p->txoff < p->txlen)
		return moved;
	if (p->want_close && !p->closed) {
		p->closed = 1;
		r = tls_conn_close(&p->t, p->fd);
	} else {
		r = tls_conn_flush(&p->t, p->fd);
	}
	if (r < 0 && r != -EAGAIN)
		p->err = (int)r;
	return moved;
}

/*
 * What a reactor callback does on any event: read until -EAGAIN, then
 * write what is pending (a handshake that completed inside the read lets
 * writes through). 1 when application bytes moved.
 */
static int
peer_step(struct peer *p)
{
	int moved;

	if (p->err)
		return 0;
	moved = peer_read(p);
	moved |= peer_write(p);
	return moved;
}

/* A relay between two socketpairs moving one byte per step each way. */
struct relay {
	int fd[2];          /* fd[0] faces the client, fd[1] the server */
	unsigned char b[2]; /* b[i]: byte read from fd[i], to write to fd[1 - i] */
	int full[2];
	int eof[2];
	unsigned long moved;
};

static int
relay_dir(struct relay *r, int i)
{
	ssize_t n;

	if (!r->full[i] && !r->eof[i]) {
		n = read(r->fd[i], &r->b[i], 1);
		if (n == 1)
			r->full[i] = 1;
		else if (n == 0 || (n < 0 && errno != EAGAIN)) {
			r->eof[i] = 1;
			shutdown(r->fd[1 - i], SHUT_WR);
		}
		return n == 1;
	}
	if (r->full[i]) {
		n = write(r->fd[1 - i], &r->b[i], 1);
		if (n == 1) {
			r->full[i] = 0;
			r->moved++;
		}
		return n == 1;
	}
	return 0;
}

static int
relay_step(struct relay *r)
{
	int a, b;

	if (r == NULL)
		return 0;
	a = relay_dir(r, 0);
	b = relay_dir(r, 1);
	return a || b;
}

static int
peer_done(const struct peer *p)
{
	return p->err != 0 || (p->txoff == p->txlen && p->rxoff == p->rxlen &&
			       (p->want_close ? p->eof : (tls_conn_interest(&p->t) & TLS_WRITE) == 0));
}

static short
poll_events(unsigned interest)
{
	return (short)(((interest & TLS_READ) ? POLLIN : 0) | ((interest & TLS_WRITE) ? POLLOUT : 0));
}

/* Shut a failed peer's socket down, as an application would close it. */
static void
drop_failed(struct peer *p)
{
	if (p->err && p->fd >= 0) {
		shutdown(p->fd, SHUT_RDWR);
		p->fd = -1;
	}
}

/*
 * Run both peers until each is done (or failed), strictly as a reactor
 * would: a peer runs only when poll() reports an event for exactly the
 * interest it asked for (both run once at the start). A missing interest
 * bit therefore stalls the run, and a stall fails the test.
 */
static void
run(struct peer *a, struct peer *b, struct relay *r)
{
	struct pollfd pf[4];
	time_t start = time(NULL);
	int n, i, relayed, ready[2] = { 1, 1 };

	for (;;) {
		if (ready[0])
			peer_step(a);
		if (ready[1])
			peer_step(b);
		drop_failed(a);
		drop_failed(b);
		if (peer_done(a) && peer_done(b))
			break;
		relayed = relay_step(r);
		if (time(NULL) - start > RUN_LIMIT_S)
			fail_msg("transfer still running after %d s", RUN_LIMIT_S);
		n = 0;
		pf[n++] = (struct pollfd){ .fd = a->fd, .events = poll_events(tls_conn_interest(&a->t)) };
		pf[n++] = (struct pollfd){ .fd = b->fd, .events = poll_events(tls_conn_interest(&b->t)) };
		for (i = 0; r != NULL && i < 2; i++) {
			pf[n].fd = r->fd[i];
			pf[n].events = (short)((!r->full[i] && !r->eof[i] ? POLLIN : 0) |
					       (r->full[1 - i] ? POLLOUT : 0));
			n++;
		}
		if (poll(pf, (nfds_t)n, relayed ? 0 : STALL_MS) == 0 && !relayed)
			fail_msg("stalled: %s interest %u (sent %zu/%zu, got %zu/%zu), %s interest %u "
				 "(sent %zu/%zu, got %zu/%zu)",
				 a->name, tls_conn_interest(&a->t), a->txoff, a->txlen, a->rxoff, a->rxlen,
				 b->name, tls_conn_interest(&b->t), b->txoff, b->txlen, b->rxoff, b->rxlen);
		ready[0] = pf[0].revents != 0;
		ready[1] = pf[1].revents != 0;
	}
}

/* A client/server pair over one socketpair (or two, with a relay between). */
struct pair {
	struct peer c, s;
	struct relay r;
	int fds[4];
	int nfds;
};

static struct pair *
pair_new(void)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	p->c.fd = p->fds[0] = sv[0];
	p->s.fd = p->fds[1] = sv[1];
	p->nfds = 2;
	p->c.name = "client";
	p->s.name = "server";
	return p;
}

/* Put a one-byte relay between client and server. */
static void
pair_add_relay(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	p->r.fd[0] = p->fds[1];
	p->r.fd[1] = p->fds[2] = sv[0];
	p->s.fd = p->fds[3] = sv[1];
	p->nfds = 4;
}

static void
pair_start(struct pair *p, const struct tls_anchors *a, const char *name, int insecure,
	   const struct tls_server_creds *cr)
{
	assert_int_equal(tls_conn_client(&p->c.t, a, name, insecure), 0);
	assert_int_equal(tls_conn_server(&p->s.t, cr), 0);
}

static void
pair_free(struct pair *p)
{
	int i;

	tls_conn_fini(&p->c.t);
	tls_conn_fini(&p->s.t);
	for (i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	free(p->c.tx);
	free(p->c.rx);
	free(p->s.tx);
	free(p->s.rx);
	free(p);
}

static void
assert_received(const struct peer *from, const struct peer *to)
{
	assert_int_equal(to->rxoff, to->rxlen);
	assert_int_equal(from->txoff, to->rxlen);
	assert_memory_equal(from->tx, to->rx, to->rxlen);
}

/* Exchange c2s bytes one way and s2c the other, checking every byte. */
static void
exchange(struct pair *p, size_t c2s, size_t s2c, struct relay *r)
{
	peer_data(&p->c, c2s, s2c, 0x1234567);
	peer_data(&p->s, s2c, c2s, 0x7654321);
	run(&p->c, &p->s, r);
	if (p->c.err || p->s.err)
		fail_msg("client: %s (%d); server: %s (%d)", tls_conn_error(&p->c.t), p->c.err,
			 tls_conn_error(&p->s.t), p->s.err);
	assert_true(tls_conn_handshake_done(&p->c.t));
	assert_true(tls_conn_handshake_done(&p->s.t));
	assert_received(&p->c, &p->s);
	assert_received(&p->s, &p->c);
	assert_null(tls_conn_error(&p->c.t));
	assert_null(tls_conn_error(&p->s.t));
}

/* A full handshake with a 1 MiB exchange each way under the given creds. */
static void
transfer_with(const struct tls_server_creds *cr)
{
	struct pair *p = pair_new();

	pair_start(p, &fx.ca, "localhost", 0, cr);
	exchange(p, MIB, MIB, NULL);
	pair_free(p);
}

/* Run a handshake expected to fail on the client; returns the pair for checks. */
static struct pair *
failing_handshake(const struct tls_anchors *a, const char *name, const struct tls_server_creds *cr)
{
	struct pair *p = pair_new();

	pair_start(p, a, name, 0, cr);
	peer_data(&p->c, 100, 100, 1);
	peer_data(&p->s, 100, 100, 2);
	run(&p->c, &p->s, NULL);
	assert_int_equal(p->c.err, -EPROTO);
	assert_false(tls_conn_handshake_done(&p->c.t));
	assert_int_equal(p->s.rxoff, 0);
	assert_int_not_equal(p->s.err, 0); /* the server saw an alert, or the socket close */
	assert_non_null(tls_conn_error(&p->s.t));
	print_message("  client: %s; server: %s\n", tls_conn_error(&p->c.t), tls_conn_error(&p->s.t));
	return p;
}

/* ---- anchors ------------------------------------------------------------ */

static void
test_anchors_system_bundle(void **state)
{
	const char *path = "/etc/ssl/certs/ca-certificates.crt";
	struct tls_anchors a;
	char err[256] = "";

	(void)state;
	if (access(path, R_OK) != 0)
		skip();
	assert_int_equal(tls_anchors_load(&a, path, err, sizeof(err)), 0);
	print_message("  %zu anchors, %zu skipped\n", a.n, a.skipped);
	assert_true(a.n > 50);
	assert_non_null(a.ta[0].dn.data);
	assert_true(a.ta[0].flags & BR_X509_TA_CA);
	tls_anchors_fini(&a);
	assert_null(a.ta);
	assert_int_equal(a.n, 0);
}

static void
test_anchors_ca_files(void **state)
{
	struct tls_anchors a;

	(void)state;
	NEED_CERTS();
	load_anchors(&a, "ca.pem");
	assert_int_equal(a.n, 1);
	assert_true(a.ta[0].flags & BR_X509_TA_CA);
	assert_int_equal(a.ta[0].pkey.key_type, BR_KEYTYPE_RSA);
	tls_anchors_fini(&a);
	/* A chain file: both certificates; the server one is not a CA. */
	load_anchors(&a, "server-chain.pem");
	assert_int_equal(a.n, 2);
	assert_false(a.ta[0].flags & BR_X509_TA_CA);
	assert_true(a.ta[1].flags & BR_X509_TA_CA);
	tls_anchors_fini(&a);
	load_anchors(&a, "server-ec.pem");
	assert_int_equal(a.ta[0].pkey.key_type, BR_KEYTYPE_EC);
	tls_anchors_fini(&a);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_anchors_errors(void **state)
{
	struct tls_anchors a;
	char err[256];

	(void)state;
	NEED_CERTS();
	err[0] = '\0';
	assert_int_equal(tls_anchors_load(&a, P("nope.pem"), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nope.pem"));
	assert_non_null(strstr(err, "No such file"));
	assert_null(a.ta);

	write_file(P("garbage.pem"), "this is not a certificate\n");
	assert_int_equal(tls_anchors_load(&a, P("garbage.pem"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no usable certificate"));

	/* A key file has PEM objects, but no certificate. */
	assert_int_equal(tls_anchors_load(&a, P("server.key"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no usable certificate"));

	/* A certificate BearSSL cannot decode is skipped, and alone it is an error. */
	write_file(P("badcert.pem"), "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n");
	assert_int_equal(tls_anchors_load(&a, P("badcert.pem"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "1 could not be decoded"));

	/* Unterminated object. */
	write_file(P("cut.pem"), "-----BEGIN CERTIFICATE-----\nAAECAwQF\n");
	assert_int_equal(tls_anchors_load(&a, P("cut.pem"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "malformed PEM"));

	assert_int_equal(tls_anchors_load(&a, certdir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* ---- server credentials ------------------------------------------------- */

static void
test_creds_load(void **state)
{
	struct tls_server_creds c;

	(void)state;
	NEED_CERTS();
	load_creds(&c, "server.pem", "server.key"); /* PKCS#8 RSA */
	assert_int_equal(c.key_type, BR_KEYTYPE_RSA);
	assert_int_equal(c.chain_len, 1);
	tls_server_creds_fini(&c);
	assert_null(c.d);
	load_creds(&c, "server-chain.pem", "server-rsa.key"); /* PKCS#1 RSA */
	assert_int_equal(c.chain_len, 2);
	tls_server_creds_fini(&c);
	load_creds(&c, "server-ec.pem", "server-ec.key"); /* SEC1 EC */
	assert_int_equal(c.key_type, BR_KEYTYPE_EC);
	tls_server_creds_fini(&c);
	load_creds(&c, "server-ec.pem", "server-ec-p8.key"); /* PKCS#8 EC */
	assert_int_equal(c.key_type, BR_KEYTYPE_EC);
	tls_server_creds_fini(&c);
	/* Certificate and key in one file. */
	{
		char cmd[3 * PATH_MAX];
		snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", P("server-ec.pem"), P("server-ec.key"),
			 P("both.pem"));
		assert_int_equal(system(cmd), 0);
	}
	load_creds(&c, "both.pem", "both.pem");
	tls_server_creds_fini(&c);
	tls_server_creds_fini(&c); /* twice is harmless */
}

/* Load must fail with rc and a message containing want. */
static void
creds_fail(const char *cert, const char *key, int rc, const char *want)
{
	struct tls_server_creds c;
	char err[256] = "";

	assert_int_equal(tls_server_creds_load(&c, P(cert), P(key), err, sizeof(err)), rc);
	if (strstr(err, want) == NULL)
		fail_msg("%s + %s: expected \"%s\" in \"%s\"", cert, key, want, err);
	assert_null(c.d);
}

static void
test_creds_errors(void **state)
{
	(void)state;
	NEED_CERTS();
	write_file(P("garbage.pem"), "garbage\n");
	creds_fail("missing.pem", "server.key", -ENOENT, "cannot open");
	creds_fail("server.pem", "missing.key", -ENOENT, "missing.key");
	creds_fail("garbage.pem", "server.key", -EINVAL, "no certificate found");
	creds_fail("server.key", "server.key", -EINVAL, "no certificate found");
	creds_fail("server.pem", "server.pem", -EINVAL, "no private key found");
	creds_fail("server.pem", "garbage.pem", -EINVAL, "no private key found");
	creds_fail("server.pem", "encrypted.key", -EINVAL, "encrypted private keys are not supported");
	creds_fail("server.pem", "wrongname.key", -EINVAL, "does not match the certificate");
	creds_fail("server.pem", "server-ec.key", -EINVAL, "is EC but the certificate");
	creds_fail("server-ec.pem", "server.key", -EINVAL, "is RSA but the certificate");
	write_file(P("badkey.pem"), "-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n");
	creds_fail("server.pem", "badkey.pem", -EINVAL, "cannot decode the private key");
	write_file(P("badcert.pem"), "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n");
	creds_fail("badcert.pem", "server.key", -EINVAL, "cannot decode the certificate");
}

/* ---- transfers ---------------------------------------------------------- */

static void
test_transfer_rsa(void **state)
{
	(void)state;
	NEED_CERTS();
	transfer_with(&fx.rsa);
}

static void
test_transfer_ec(void **state)
{
	(void)state;
	NEED_CERTS();
	transfer_with(&fx.ec);
}

static void
tiny_buffers(int fd)
{
	int sz = 1024;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
}

static void
test_transfer_eagain_tiny_buffers(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	tiny_buffers(p->c.fd);
	tiny_buffers(p->s.fd);
	pair_start(p, &fx.ca, "localhost", 0, &fx.ec);
	tls_conn_set_io(&p->c.t, shim_recv, shim_send, &p->c);
	tls_conn_set_io(&p->s.t, shim_recv, shim_send, &p->s);
	p->c.wchunk = 5000;
	p->s.rchunk = 3000;
	exchange(p, MIB, MIB, NULL);
	print_message("  socket calls: client %lu, server %lu\n", p->c.calls, p->s.calls);
	assert_true(p->c.calls > 2000);
	pair_free(p);
}

/*
 * Records are staged and sent together: 4 MiB (256 full records) leaves
 * the client in far fewer send calls than records, and arrives intact.
 */
static void
test_records_batched(void **state)
{
	struct pair *p;
	int big = 1 << 20;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	assert_int_equal(setsockopt(p->c.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	assert_int_equal(setsockopt(p->s.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	pair_start(p, &fx.ca, "localhost", 0, &fx.ec);
	tls_conn_set_io(&p->c.t, NULL, counting_send, &p->c);
	p->c.wchunk = 256 * 1024;
	exchange(p, 4 * MIB, 0, NULL);
	print_message("  4 MiB in %lu send calls\n", p->c.calls);
	assert_true(p->c.calls < 256 / 2); /* one send per record before staging */
	pair_free(p);
}

static void
test_transfer_relay_one_byte(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_add_relay(p);
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	/* 256 KiB each way (16 full records cut into bytes): 1 MiB would take ~12 s. */
	exchange(p, 256 * 1024, 256 * 1024, &p->r);
	print_message("  relay moved %lu bytes one at a time\n", p->r.moved);
	assert_true(p->r.moved > 2 * 256 * 1024);
	pair_free(p);
}

static void
test_one_byte_writes_and_reads(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.ec);
	p->c.wchunk = 1; /* one record per byte */
	p->s.rchunk = 1;
	p->s.wchunk = 3; /* two iovecs of 1 and 2 bytes */
	p->c.rchunk = 1;
	exchange(p, 20000, 20000, NULL);
	pair_free(p);
}

/* ---- verification ------------------------------------------------------- */

static void
test_untrusted_issuer(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = failing_handshake(&fx.ca2, "localhost", &fx.rsa);
	assert_string_equal(tls_conn_error(&p->c.t), "certificate signed by an unknown issuer");
	assert_int_equal(tls_conn_br_error(&p->c.t), BR_ERR_X509_NOT_TRUSTED);
	/* Sticky: the next calls fail the same way. */
	assert_int_equal(tls_conn_read(&p->c.t, p->fds[0], (char[8]){ 0 }, 8), -EPROTO);
	assert_int_equal(tls_conn_flush(&p->c.t, p->fds[0]), -EPROTO);
	assert_int_equal(tls_conn_interest(&p->c.t), 0);
	pair_free(p);
}

static void
test_wrong_host_name(void **state)
{
	struct tls_server_creds cr;
	struct pair *p;

	(void)state;
	NEED_CERTS();
	load_creds(&cr, "wrongname.pem", "wrongname.key");
	p = failing_handshake(&fx.ca, "localhost", &cr);
	assert_string_equal(tls_conn_error(&p->c.t), "certificate does not match the host name");
	pair_free(p);
	tls_server_creds_fini(&cr);
	/* The right certificate, asked for under another name. */
	p = failing_handshake(&fx.ca, "example.com", &fx.rsa);
	assert_string_equal(tls_conn_error(&p->c.t), "certificate does not match the host name");
	pair_free(p);
}

static void
test_expired_cert(void **state)
{
	struct tls_server_creds cr;
	struct pair *p;

	(void)state;
	NEED_CERTS();
	load_creds(&cr, "expired.pem", "expired.key");
	p = failing_handshake(&fx.ca, "localhost", &cr);
	assert_string_equal(tls_conn_error(&p->c.t), "certificate expired or not yet valid");
	pair_free(p);
	tls_server_creds_fini(&cr);
}

static void
test_ip_literal_name(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_start(p, &fx.ca, "127.0.0.1", 0, &fx.rsa);
	exchange(p, 1000, 1000, NULL);
	pair_free(p);
}

static void
test_insecure_accepts_anything(void **state)
{
	static const char *const certs[][2] = {
		{ "server.pem", "server.key" },       /* untrusted issuer (anchors: none) */
		{ "expired.pem", "expired.key" },     /* expired */
		{ "wrongname.pem", "wrongname.key" }, /* wrong name */
		{ "server-ec.pem", "server-ec.key" }, /* EC key */
	};
	struct tls_server_creds cr;
	struct pair *p;
	size_t i;

	(void)state;
	NEED_CERTS();
	for (i = 0; i < UTIL_ARRAY_SIZE(certs); i++) {
		load_creds(&cr, certs[i][0], certs[i][1]);
		p = pair_new();
		pair_start(p, i % 2 ? &fx.ca2 : NULL, "localhost", 1, &cr);
		exchange(p, 70000, 70000, NULL);
		pair_free(p);
		tls_server_creds_fini(&cr);
	}
}

/* ---- closing ------------------------------------------------------------ */

static void
test_close_notify(void **state)
{
	char x = 'x';
	struct iovec iov = { .iov_base = &x, .iov_len = 1 };
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	/* The client sends 5000 bytes then closes; the server answers the close. */
	p->c.want_close = 1;
	peer_data(&p->c, 5000, 0, 3);
	peer_data(&p->s, 0, 5000, 4);
	run(&p->c, &p->s, NULL);
	assert_int_equal(p->c.err, 0);
	assert_int_equal(p->s.err, 0);
	assert_received(&p->c, &p->s);
	assert_true(p->s.eof);
	assert_null(tls_conn_error(&p->s.t));
	/* The server's writes now fail; after its reply went out it wants nothing. */
	assert_int_equal(tls_conn_writev(&p->s.t, p->s.fd, &iov, 1), -EPIPE);
	while (tls_conn_flush(&p->s.t, p->s.fd) == -EAGAIN)
		;
	assert_int_equal(tls_conn_interest(&p->s.t), 0);
	/* The client sees the server's close_notify: 0, and a clean end. */
	p->c.eof = 0;
	while (!p->c.eof && !p->c.err)
		peer_step(&p->c);
	assert_int_equal(p->c.err, 0);
	assert_true(p->c.eof);
	assert_null(tls_conn_error(&p->c.t));
	assert_int_equal(tls_conn_interest(&p->c.t), 0);
	assert_int_equal(tls_conn_writev(&p->c.t, p->c.fd, &iov, 1), -EPIPE);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, (char[4]){ 0 }, 4), 0);
	pair_free(p);
}

/* Server closes right after the client has gone: its reply cannot be sent. */
static void
test_close_peer_gone(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.ec);
	exchange(p, 10, 10, NULL);
	assert_int_equal(tls_conn_close(&p->c.t, p->c.fd), 0);
	close(p->fds[0]); /* the client leaves without waiting for the answer */
	p->fds[0] = p->c.fd = -1;
	p->s.eof = 0;
	while (!p->s.eof && !p->s.err)
		peer_step(&p->s);
	assert_int_equal(p->s.err, 0);
	assert_null(tls_conn_error(&p->s.t));
	while (tls_conn_flush(&p->s.t, p->s.fd) == -EAGAIN)
		;
	assert_int_equal(tls_conn_interest(&p->s.t), 0);
	pair_free(p);
}

static void
test_eof_without_close_notify(void **state)
{
	char buf[16];
	struct pair *p;

	(void)state;
	NEED_CERTS();
	/* After the handshake: end of stream, with a note. */
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	exchange(p, 10, 10, NULL);
	shutdown(p->s.fd, SHUT_WR);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, buf, sizeof(buf)), 0);
	assert_string_equal(tls_conn_error(&p->c.t), "peer closed the connection without close_notify");
	assert_int_equal(tls_conn_interest(&p->c.t) & TLS_READ, 0);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, buf, sizeof(buf)), 0);
	pair_free(p);
	/* During the handshake: a failure. */
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	assert_int_equal(tls_conn_flush(&p->c.t, p->c.fd), 0); /* ClientHello sent */
	shutdown(p->s.fd, SHUT_WR);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, buf, sizeof(buf)), -ECONNRESET);
	assert_non_null(strstr(tls_conn_error(&p->c.t), "during the TLS handshake"));
	pair_free(p);
}

/* A plain-HTTP client talking to the TLS server. */
static void
test_not_tls(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	struct pair *p;
	char buf[16];
	ssize_t r;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	assert_int_equal(tls_conn_server(&p->s.t, &fx.rsa), 0);
	assert_int_equal(write(p->c.fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	r = tls_conn_read(&p->s.t, p->s.fd, buf, sizeof(buf));
	assert_int_equal(r, -EPROTO);
	assert_string_equal(tls_conn_error(&p->s.t),
			    "the peer does not speak TLS (plain HTTP on a TLS port?)");
	assert_int_equal(tls_conn_interest(&p->s.t), 0);
	pair_free(p);
	/* A wss:// client that reaches a plain HTTP server. */
	p = pair_new();
	assert_int_equal(tls_conn_client(&p->c.t, NULL, "localhost", 1), 0);
	assert_int_equal(tls_conn_flush(&p->c.t, p->c.fd), 0);
	assert_int_equal(write(p->s.fd, resp, sizeof(resp) - 1), (ssize_t)sizeof(resp) - 1);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, buf, sizeof(buf)), -EPROTO);
	assert_string_equal(tls_conn_error(&p->c.t),
			    "the peer does not speak TLS (plain HTTP on a TLS port?)");
	pair_free(p);
}

/* ---- suites, versions and the AES-GCM code ------------------------------ */

/*
 * Restrict one side to the given suites (n > 0) and versions, then restart
 * its handshake (a reset discards the hello already assembled).
 */
static void
restrict_side(struct tls_conn *t, int server, const uint16_t *suites, size_t n, unsigned vmin, unsigned vmax)
{
	if (n > 0)
		br_ssl_engine_set_suites(t->eng, suites, n);
	br_ssl_engine_set_versions(t->eng, vmin, vmax);
	if (server)
		assert_true(br_ssl_server_reset(&t->ssl.server));
	else
		assert_true(br_ssl_client_reset(&t->ssl.client, "localhost", 0));
}

/* The suite the handshake of t agreed on. */
static unsigned
agreed_suite(const struct tls_conn *t)
{
	br_ssl_session_parameters sp;

	br_ssl_engine_get_session_parameters(t->eng, &sp);
	return sp.cipher_suite;
}

/*
 * A handshake (and 1000 bytes each way) between our server with cr and our
 * client, one side of them restricted as restrict_side says. Returns the
 * agreed suite, or 0 when the handshake failed (both sides then report it).
 */
static unsigned
restricted_handshake(const struct tls_server_creds *cr, int restrict_server, const uint16_t *suites, size_t n,
		     unsigned vmin, unsigned vmax)
{
	struct pair *p = pair_new();
	unsigned got = 0;

	pair_start(p, &fx.ca, "localhost", 0, cr);
	restrict_side(restrict_server ? &p->s.t : &p->c.t, restrict_server, suites, n, vmin, vmax);
	peer_data(&p->c, 1000, 1000, 5);
	peer_data(&p->s, 1000, 1000, 6);
	run(&p->c, &p->s, NULL);
	if (p->c.err == 0 && p->s.err == 0) {
		assert_received(&p->c, &p->s);
		assert_received(&p->s, &p->c);
		got = agreed_suite(&p->c.t);
		assert_int_equal(agreed_suite(&p->s.t), got);
	} else {
		assert_int_not_equal(p->c.err, 0);
		assert_int_not_equal(p->s.err, 0);
		assert_false(tls_conn_handshake_done(&p->c.t));
		assert_int_equal(p->s.rxoff, 0);
		print_message("  refused: client: %s; server: %s\n", tls_conn_error(&p->c.t),
			      tls_conn_error(&p->s.t));
	}
	pair_free(p);
	return got;
}

struct suite_case {
	uint16_t suite;
	const char *name;
	int ec; /* 1: needs the EC certificate, 0: the RSA one */
};

#define SUITE(s, ec)                                                                                         \
	{                                                                                                    \
		BR_##s, #s, ec                                                                               \
	}

/* What the server takes, alone in the client's list: ECDHE with an AEAD, each certificate type. */
static const struct suite_case accepted[] = {
	SUITE(TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0),
	SUITE(TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 0),
	SUITE(TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 0),
	SUITE(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 1),
	SUITE(TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 1),
	SUITE(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 1),
};

/* What it refuses, though BearSSL implements it: static RSA and ECDH, CBC, 3DES, AES-CCM. */
static const struct suite_case refused[] = {
	SUITE(TLS_RSA_WITH_AES_128_GCM_SHA256, 0),        SUITE(TLS_RSA_WITH_AES_256_GCM_SHA384, 0),
	SUITE(TLS_RSA_WITH_AES_128_CBC_SHA256, 0),        SUITE(TLS_RSA_WITH_AES_128_CBC_SHA, 0),
	SUITE(TLS_RSA_WITH_3DES_EDE_CBC_SHA, 0),          SUITE(TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, 0),
	SUITE(TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, 0),  SUITE(TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, 0),
	SUITE(TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, 0),    SUITE(TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, 1),
	SUITE(TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, 1),   SUITE(TLS_ECDHE_ECDSA_WITH_AES_128_CCM, 1),
	SUITE(TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256, 1), SUITE(TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA, 1),
};

/* The server: each accepted suite alone works, each refused one fails the handshake. */
static void
test_server_suites(void **state)
{
	size_t i;
	unsigned got;

	(void)state;
	NEED_CERTS();
	for (i = 0; i < UTIL_ARRAY_SIZE(accepted); i++) {
		got = restricted_handshake(accepted[i].ec ? &fx.ec : &fx.rsa, 0, &accepted[i].suite, 1,
					   BR_TLS12, BR_TLS12);
		if (got != accepted[i].suite)
			fail_msg("%s: the handshake agreed on %#x", accepted[i].name, got);
	}
	for (i = 0; i < UTIL_ARRAY_SIZE(refused); i++) {
		got = restricted_handshake(refused[i].ec ? &fx.ec : &fx.rsa, 0, &refused[i].suite, 1,
					   BR_TLS12, BR_TLS12);
		if (got != 0)
			fail_msg("%s was accepted", refused[i].name);
	}
}

/* The client: a server that takes only a refused suite gets no handshake; an accepted one does. */
static void
test_client_suites(void **state)
{
	size_t i;

	(void)state;
	NEED_CERTS();
	for (i = 0; i < UTIL_ARRAY_SIZE(refused); i++)
		if (restricted_handshake(refused[i].ec ? &fx.ec : &fx.rsa, 1, &refused[i].suite, 1, BR_TLS12,
					 BR_TLS12) != 0)
			fail_msg("the client offered %s", refused[i].name);
	for (i = 0; i < UTIL_ARRAY_SIZE(accepted); i++)
		if (restricted_handshake(accepted[i].ec ? &fx.ec : &fx.rsa, 1, &accepted[i].suite, 1,
					 BR_TLS12, BR_TLS12) != accepted[i].suite)
			fail_msg("the client did not offer %s", accepted[i].name);
}

/* TLS 1.0 and 1.1 are refused both ways. */
static void
test_versions(void **state)
{
	static const unsigned old[][2] = { { BR_TLS10, BR_TLS10 },
					   { BR_TLS11, BR_TLS11 },
					   { BR_TLS10, BR_TLS11 } };
	size_t i;
	int server;

	(void)state;
	NEED_CERTS();
	for (server = 0; server <= 1; server++)
		for (i = 0; i < UTIL_ARRAY_SIZE(old); i++)
			if (restricted_handshake(&fx.rsa, server, NULL, 0, old[i][0], old[i][1]) != 0)
				fail_msg("%s: versions %#x..%#x accepted", server ? "server" : "client",
					 old[i][0], old[i][1]);
	assert_int_equal(restricted_handshake(&fx.rsa, 0, NULL, 0, BR_TLS10, BR_TLS12),
			 tls_crypto_aes_first() ? BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
						: BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256);
}

/*
 * The order: AES-128-GCM first with AES acceleration, ChaCha20-Poly1305
 * first without (hidden here), and the server's order wins over the
 * client's.
 */
static void
test_suite_order(void **state)
{
	static const uint16_t chacha_first[] = {
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	};
	static const uint16_t aes_first[] = {
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	uint16_t list[TLS_CRYPTO_SUITES_MAX];
	int hide;

	(void)state;
	NEED_CERTS();
	for (hide = 0; hide <= 1; hide++) {
		tls_cpu_hide(hide ? TLS_CPU_AESNI | TLS_CPU_PCLMUL : 0);
		if (!hide && !tls_crypto_aes_first()) {
			print_message("  this CPU lacks AES-NI or PCLMULQDQ: no AES-first order to check\n");
			continue;
		}
		assert_int_equal(tls_crypto_aes_first(), !hide);
		assert_int_equal(tls_crypto_suites(list), TLS_CRYPTO_SUITES_MAX);
		assert_int_equal(list[0], hide ? BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
					       : BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
		/* our client with our server */
		assert_int_equal(restricted_handshake(&fx.rsa, 0, NULL, 0, BR_TLS12, BR_TLS12),
				 hide ? BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
				      : BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
		/* a client preferring the other order */
		assert_int_equal(restricted_handshake(&fx.rsa, 0, hide ? aes_first : chacha_first, 3,
						      BR_TLS12, BR_TLS12),
				 hide ? BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
				      : BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
	}
	tls_cpu_hide(0);
}

static void
test_crypto_parse(void **state)
{
	enum tls_crypto_mode m = TLS_CRYPTO_MODE_MAX;
	char line[300];

	(void)state;
	assert_int_equal(tls_crypto_parse(NULL, &m), 0);
	assert_int_equal(m, TLS_CRYPTO_AUTO);
	m = TLS_CRYPTO_MODE_MAX;
	assert_int_equal(tls_crypto_parse("", &m), 0);
	assert_int_equal(m, TLS_CRYPTO_AUTO);
	assert_int_equal(tls_crypto_parse("bearssl", &m), 0);
	assert_int_equal(m, TLS_CRYPTO_BEARSSL);
	assert_int_equal(tls_crypto_parse("Auto", &m), 0);
	assert_int_equal(m, TLS_CRYPTO_AUTO);
	assert_int_equal(tls_crypto_parse("BearSSL", &m), 0);
	assert_int_equal(m, TLS_CRYPTO_BEARSSL);
	assert_int_equal(tls_crypto_parse("openssl", &m), -EINVAL);
	assert_int_equal(tls_crypto_parse("bearssl ", &m), -EINVAL);
	assert_int_equal(m, TLS_CRYPTO_BEARSSL);
	assert_int_equal(tls_crypto_mode(), TLS_CRYPTO_AUTO);
	tls_crypto_describe(line, sizeof(line));
	print_message("  auto:    %s\n", line);
	assert_non_null(strstr(line, "ECDHE with "));
	assert_null(strstr(line, "bearssl"));
	tls_crypto_set_mode(TLS_CRYPTO_BEARSSL);
	tls_crypto_describe(line, sizeof(line));
	print_message("  bearssl: %s\n", line);
	assert_non_null(strstr(line, "AES-CTR BearSSL "));
	assert_non_null(strstr(line, "GHASH BearSSL "));
	assert_non_null(strstr(line, "(HOODY_TUNNEL_CRYPTO=bearssl)"));
	tls_crypto_set_mode(TLS_CRYPTO_AUTO);
	assert_non_null(tls_crypto_describe(line, 10));
	assert_int_equal(strlen(line), 9);
}

/*
 * Both modes: the engines of a pair get exactly the implementations
 * tls_crypto_pick names (BearSSL's own in TLS_CRYPTO_BEARSSL), and an
 * AES-GCM transfer works with them.
 */
static void
test_crypto_mode_engines(void **state)
{
	struct tls_crypto_impl im;
	struct pair *p;
	int mode;

	(void)state;
	NEED_CERTS();
	for (mode = TLS_CRYPTO_AUTO; mode < TLS_CRYPTO_MODE_MAX; mode++) {
		tls_crypto_set_mode((enum tls_crypto_mode)mode);
		tls_crypto_pick((enum tls_crypto_mode)mode, &im);
		print_message("  mode %d: AES-CTR %s, GHASH %s\n", mode, im.ctr_name, im.ghash_name);
		if (mode == TLS_CRYPTO_BEARSSL) {
			assert_ptr_equal(im.ctr, br_aes_x86ni_ctr_get_vtable() ? br_aes_x86ni_ctr_get_vtable()
									       : &br_aes_ct64_ctr_vtable);
			assert_ptr_equal(im.ghash,
					 br_ghash_pclmul_get() ? br_ghash_pclmul_get() : br_ghash_ctmul64);
		}
		p = pair_new();
		pair_start(p, &fx.ca, "localhost", 0, &fx.ec);
		/* signatures with SHA-256 and up only, both ways */
		assert_null(br_ssl_engine_get_hash(p->c.t.eng, br_sha1_ID));
		assert_null(br_ssl_engine_get_hash(p->s.t.eng, br_sha1_ID));
		assert_null(br_ssl_engine_get_hash(p->s.t.eng, br_sha224_ID));
		assert_null(br_ssl_engine_get_hash(p->c.t.eng, br_md5_ID));
		assert_non_null(br_ssl_engine_get_hash(p->s.t.eng, br_sha256_ID));
		assert_ptr_equal(p->c.t.eng->iaes_ctr, im.ctr);
		assert_ptr_equal(p->s.t.eng->iaes_ctr, im.ctr);
		assert_ptr_equal(p->c.t.eng->ighash, im.ghash);
		assert_ptr_equal(p->s.t.eng->ighash, im.ghash);
		restrict_side(&p->c.t, 0,
			      (const uint16_t[]){ mode ? BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
						       : BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 },
			      1, BR_TLS12, BR_TLS12);
		exchange(p, MIB, MIB, NULL);
		pair_free(p);
	}
	tls_crypto_set_mode(TLS_CRYPTO_AUTO);
}

/* The H of one direction's AES-GCM record context (both ends of a pair share it). */
static void
gcm_key(const struct tls_conn *t, int out, unsigned char h[16])
{
	memcpy(h, out ? t->eng->out.gcm.h : t->eng->in.gcm.h, 16);
}

/*
 * The GHASH powers kept for a connection's keys are wiped when it ends;
 * another connection's stay until it ends too.
 */
static void
test_ghash_keys_wiped(void **state)
{
	static const uint16_t gcm[] = { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 };
	unsigned char a_up[16], a_down[16], b_up[16], b_down[16];
	struct pair *a, *b;

	(void)state;
	NEED_CERTS();
	if (tls_ghash_best_get() == NULL) {
		print_message("skipped: this CPU lacks PCLMULQDQ or SSSE3: no GHASH of ours keeps powers\n");
		skip();
	}
	a = pair_new();
	b = pair_new();
	pair_start(a, &fx.ca, "localhost", 0, &fx.rsa);
	pair_start(b, &fx.ca, "localhost", 0, &fx.rsa);
	restrict_side(&a->c.t, 0, gcm, 1, BR_TLS12, BR_TLS12);
	restrict_side(&b->c.t, 0, gcm, 1, BR_TLS12, BR_TLS12);
	exchange(a, 100000, 100000, NULL); /* full records: the kept powers are used */
	exchange(b, 100000, 100000, NULL);
	gcm_key(&a->c.t, 1, a_up);
	gcm_key(&a->c.t, 0, a_down);
	gcm_key(&b->c.t, 1, b_up);
	gcm_key(&b->c.t, 0, b_down);
	assert_memory_equal(a->s.t.eng->in.gcm.h, a_up, 16); /* the server's in is the client's out */
	assert_true(tls_ghash_kept(a_up) && tls_ghash_kept(a_down));
	assert_true(tls_ghash_kept(b_up) && tls_ghash_kept(b_down));
	/* a ends (its client first: the keys go with it; its server finds nothing left) */
	tls_conn_fini(&a->c.t);
	assert_false(tls_ghash_kept(a_up) || tls_ghash_kept(a_down));
	assert_true(tls_ghash_kept(b_up) && tls_ghash_kept(b_down));
	pair_free(a);
	assert_true(tls_ghash_kept(b_up) && tls_ghash_kept(b_down));
	/* b keeps working after all powers are gone (computed again), then ends: nothing is kept */
	tls_ghash_forget_all();
	peer_reset(&b->c);
	peer_reset(&b->s);
	exchange(b, 50000, 50000, NULL);
	assert_true(tls_ghash_kept(b_up) && tls_ghash_kept(b_down));
	pair_free(b);
	assert_false(tls_ghash_kept(b_up) || tls_ghash_kept(b_down));
}

/* ---- interest, backpressure, creds lifetime, arguments ------------------ */

static void
test_interest_and_backpressure(void **state)
{
	static unsigned char big[256 * 1024];
	struct iovec iov = { .iov_base = big, .iov_len = sizeof(big) };
	unsigned char one;
	size_t sent = 0;
	struct pair *p;
	ssize_t r;

	(void)state;
	NEED_CERTS();
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	/* The ClientHello is ready before anything was sent. */
	assert_true(tls_conn_interest(&p->c.t) & TLS_WRITE);
	assert_false(tls_conn_handshake_done(&p->c.t));
	assert_int_equal(tls_conn_writev(&p->c.t, p->c.fd, &iov, 1), -EAGAIN); /* handshake first */
	exchange(p, 1, 1, NULL);
	/* Idle: both only wait for records. */
	assert_int_equal(tls_conn_interest(&p->c.t), TLS_READ);
	assert_int_equal(tls_conn_interest(&p->s.t), TLS_READ);
	/* The server writes until the socket is full and the engine stops taking data. */
	for (;;) {
		r = tls_conn_writev(&p->s.t, p->s.fd, &iov, 1);
		if (r == -EAGAIN)
			break;
		assert_true(r > 0);
		sent += (size_t)r;
		assert_true(sent < 64 * MIB);
	}
	assert_true(tls_conn_interest(&p->s.t) & TLS_WRITE);
	/* The client takes one byte: the rest of the record waits in the engine. */
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, &one, 1), 1);
	assert_int_equal(one, big[0]);
	assert_true(tls_conn_pending(&p->c.t) > 0);
	assert_int_equal(tls_conn_interest(&p->c.t) & TLS_READ, 0);
	assert_int_equal(tls_conn_read(&p->c.t, p->c.fd, (char[0x100]){ 0 }, 0), -EINVAL);
	pair_free(p);
}

static void
test_creds_reload_keeps_old(void **state)
{
	struct tls_server_creds cr;
	struct pair *p, *q;

	(void)state;
	NEED_CERTS();
	load_creds(&cr, "server.pem", "server.key");
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &cr);
	/* Reload: the old creds go away while p still uses them (ASan checks). */
	tls_server_creds_fini(&cr);
	load_creds(&cr, "server-ec.pem", "server-ec.key");
	q = pair_new();
	pair_start(q, &fx.ca, "localhost", 0, &cr);
	exchange(p, 50000, 50000, NULL);
	exchange(q, 50000, 50000, NULL);
	pair_free(p);
	pair_free(q);
	tls_server_creds_fini(&cr);
}

/*
 * getrandom failing: the engines are seeded by BearSSL's own OS seeder
 * (/dev/urandom) instead, never from a fixed value; a handshake works.
 */
static void
test_seed_without_getrandom(void **state)
{
	struct pair *p;

	(void)state;
	NEED_CERTS();
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	p = pair_new();
	pair_start(p, &fx.ca, "localhost", 0, &fx.rsa);
	fakerandom_off();
	exchange(p, 1000, 1000, NULL);
	pair_free(p);
}

static void
test_conn_arguments(void **state)
{
	struct tls_anchors none;
	struct tls_server_creds empty;
	struct tls_conn c;
	char longname[300];

	(void)state;
	NEED_CERTS();
	memset(&none, 0, sizeof(none));
	memset(&empty, 0, sizeof(empty));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tls_conn_client(&c, NULL, "localhost", 0), -EINVAL);
	assert_int_equal(tls_conn_client(&c, &none, "localhost", 0), -EINVAL);
	assert_int_equal(tls_conn_client(&c, &fx.ca, NULL, 0), -EINVAL);
	assert_int_equal(tls_conn_client(&c, &fx.ca, longname, 0), -EINVAL);
	assert_int_equal(tls_conn_server(&c, &empty), -EINVAL);
	/* Insecure needs neither anchors nor a name. */
	assert_int_equal(tls_conn_client(&c, NULL, NULL, 1), 0);
	tls_conn_fini(&c);
	tls_conn_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anchors_system_bundle),
		cmocka_unit_test(test_anchors_ca_files),
		cmocka_unit_test(test_anchors_errors),
		cmocka_unit_test(test_creds_load),
		cmocka_unit_test(test_creds_errors),
		cmocka_unit_test(test_transfer_rsa),
		cmocka_unit_test(test_transfer_ec),
		cmocka_unit_test(test_transfer_eagain_tiny_buffers),
		cmocka_unit_test(test_records_batched),
		cmocka_unit_test(test_transfer_relay_one_byte),
		cmocka_unit_test(test_one_byte_writes_and_reads),
		cmocka_unit_test(test_untrusted_issuer),
		cmocka_unit_test(test_wrong_host_name),
		cmocka_unit_test(test_expired_cert),
		cmocka_unit_test(test_ip_literal_name),
		cmocka_unit_test(test_insecure_accepts_anything),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_close_peer_gone),
		cmocka_unit_test(test_eof_without_close_notify),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_server_suites),
		cmocka_unit_test(test_client_suites),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_suite_order),
		cmocka_unit_test(test_crypto_parse),
		cmocka_unit_test(test_crypto_mode_engines),
		cmocka_unit_test(test_ghash_keys_wiped),
		cmocka_unit_test(test_interest_and_backpressure),
		cmocka_unit_test(test_creds_reload_keeps_old),
		cmocka_unit_test(test_seed_without_getrandom),
		cmocka_unit_test(test_conn_arguments),
	};

	/* TEST_TLS_FILTER=pattern runs a subset (cmocka's glob). */
	if (getenv("TEST_TLS_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_TLS_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
