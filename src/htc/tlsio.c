/*
 * tlsio.c: plain or TLS exchanges with deadlines (see tlsio.h).
 */
#include "tlsio.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "print.h"
#include "net.h"
#include "util.h"

static const char *cfg_ca_file;
static int cfg_insecure;
static struct tls_anchors anchors;
static int anchors_loaded;

/* see tlsio.h */
void
tlsio_configure(const char *ca_file, int insecure)
{
	cfg_ca_file = ca_file;
	cfg_insecure = insecure;
}

static void
free_anchors(void)
{
	tls_anchors_fini(&anchors);
}

static int
load_anchors(char *err, size_t errlen)
{
	const char *path = cfg_ca_file ? cfg_ca_file : TLSIO_DEFAULT_CA;
	char why[256];

	if (anchors_loaded)
		return 0;
	if (tls_anchors_load(&anchors, path, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "cannot load trust anchors from %s: %s", path, why);
		return -1;
	}
	if (anchors.n == 0) {
		snprintf(err, errlen, "no usable certificate in %s", path);
		tls_anchors_fini(&anchors);
		return -1;
	}
	anchors_loaded = 1;
	atexit(free_anchors);
	return 0;
}

/* Wait for the socket events the conn needs (CONN_*). 0, or -1 on timeout/error. */
static int
wait_io(int fd, unsigned want, uint64_t deadline)
{
	struct pollfd p = { fd, 0, 0 };
	uint64_t now;
	int n;

	p.events = (short)((want & CONN_READ ? POLLIN : 0) | (want & CONN_WRITE ? POLLOUT : 0));
	if (p.events == 0)
		p.events = POLLIN;
	do {
		now = clock_mono_ms();
		if (now >= deadline)
			return -1;
		n = poll(&p, 1, (int)(deadline - now));
	} while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -1;
}

/* Connect to one resolved address by the deadline: the fd, or -errno (-ETIMEDOUT). */
static int
dial_one(const struct addrinfo *ai, uint64_t deadline)
{
	int fd = net_connect(ai->ai_addr, ai->ai_addrlen), rc;

	if (fd < 0)
		return fd;
	rc = wait_io(fd, CONN_WRITE, deadline) == 0 ? net_socket_error(fd) : -ETIMEDOUT;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* see tlsio.h */
int
tlsio_dial(const struct url *u, uint64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints, *list = NULL, *ai;
	char port[8], addr[URL_HOST_MAX + 16];
	int fd = -EHOSTUNREACH, g, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (u->host_v6 ? AI_NUMERICHOST : 0);
	snprintf(port, sizeof(port), "%u", (unsigned)u->port);
	g = getaddrinfo(u->host, port, &hints, &list);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", u->host,
			 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -EHOSTUNREACH;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = dial_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(list);
	if (fd < 0) {
		url_authority(u, 0, addr, sizeof(addr));
		snprintf(err, errlen, "cannot connect to %s: %s", addr,
			 fd == -ETIMEDOUT ? "timed out" : strerror(-fd));
		return fd;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
tls_fail(struct tlsio *io, const char *what, char *err, size_t errlen)
{
	const char *why = conn_error(&io->conn);

	snprintf(err, errlen, "TLS %s: %s", what, why ? why : "connection failed");
}

static int
handshake(struct tlsio *io, uint64_t deadline, char *err, size_t errlen)
{
	struct conn *c = &io->conn;

	while (!conn_ready(c) || conn_flush(c) == -EAGAIN) {
		ssize_t r;
		int f = conn_flush(c);

		if (f < 0 && f != -EAGAIN) {
			tls_fail(io, "handshake", err, errlen);
			return -1;
		}
		r = conn_read(c, io->stash + io->stash_len, sizeof(io->stash) - io->stash_len);
		if (r > 0) {
			io->stash_len += (size_t)r;
			continue;
		}
		if (conn_ready(c))
			break; /* the read that just returned finished it */
		if (r != -EAGAIN || conn_wants(c, CONN_READ) == 0) {
			tls_fail(io, "handshake", err, errlen);
			return -1;
		}
		if (wait_io(c->fd, conn_wants(c, CONN_READ), deadline) < 0) {
			snprintf(err, errlen, "TLS handshake: no answer in time");
			return -1;
		}
	}
	return 0;
}

/* see tlsio.h */
int
tlsio_secure(struct conn *c, const struct url *u, char *err, size_t errlen)
{
	if (cfg_insecure)
		print_err("WARNING: --insecure: the certificate of %s is not verified", u->host);
	else if (load_anchors(err, errlen) < 0)
		return -1;
	if (conn_tls_client(c, cfg_insecure ? NULL : &anchors, u->host, cfg_insecure) < 0) {
		snprintf(err, errlen, "cannot set up TLS");
		return -1;
	}
	return 0;
}

/* see tlsio.h */
int
tlsio_start(struct tlsio *io, int fd, const struct url *u, uint64_t deadline, char *err, size_t errlen)
{
	conn_init(&io->conn, NULL, fd, NULL);
	io->stash_len = 0;
	if (!u->tls)
		return 0;
	if (tlsio_secure(&io->conn, u, err, errlen) < 0 || handshake(io, deadline, err, errlen) < 0) {
		tlsio_close(io);
		return -1;
	}
	return 0;
}

/* see tlsio.h */
int
tlsio_send_all(struct tlsio *io, const void *p, size_t n, uint64_t deadline, char *err, size_t errlen)
{
	struct conn *c = &io->conn;
	const char *b = p;

	while (n > 0) {
		ssize_t k = conn_write(c, b, n);

		if (k > 0) {
			b += k;
			n -= (size_t)k;
		} else if (k != -EAGAIN) {
			if (conn_error(c) != NULL)
				tls_fail(io, "send", err, errlen);
			else
				snprintf(err, errlen, "send: %s", strerror(k < 0 ? (int)-k : EIO));
			return -1;
		} else if (wait_io(c->fd, conn_wants(c, CONN_WRITE) | CONN_WRITE, deadline) < 0) {
			snprintf(err, errlen, "send: timed out");
			return -1;
		}
	}
	while (conn_flush(c) == -EAGAIN) {
		if (wait_io(c->fd, CONN_WRITE, deadline) < 0) {
			snprintf(err, errlen, "send: timed out");
			return -1;
		}
	}
	return 0;
}

/* see tlsio.h */
ssize_t
tlsio_recv(struct tlsio *io, void *buf, size_t n, uint64_t deadline, char *err, size_t errlen)
{
	struct conn *c = &io->conn;

	if (io->stash_len > 0) {
		size_t k = UTIL_MIN(n, io->stash_len);

		memcpy(buf, io->stash, k);
		memmove(io->stash, io->stash + k, io->stash_len - k);
		io->stash_len -= k;
		return (ssize_t)k;
	}
	for (;;) {
		ssize_t r = conn_read(c, buf, n);

		if (r >= 0)
			return r;
		if (r != -EAGAIN) {
			if (conn_error(c) != NULL)
				tls_fail(io, "receive", err, errlen);
			else
				snprintf(err, errlen, "receive: %s", strerror((int)-r));
			return -1;
		}
		if (wait_io(c->fd, conn_wants(c, CONN_READ), deadline) < 0) {
			snprintf(err, errlen, "receive: timed out");
			return -1;
		}
	}
}

/* see tlsio.h */
void
tlsio_close(struct tlsio *io)
{
	conn_close(&io->conn);
}
