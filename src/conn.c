/*
 * conn.c: a stream socket, plain or TLS, inside the reactor (see conn.h).
 *
 * Two transports sit behind one table: plain TCP (recv, sendmsg) and TLS
 * (the engine pump of tls.h). Everything a transport adds to the owner's
 * view is here: the events a TLS engine needs while the owner wants
 * something else, the re-announcement of bytes the engine holds, the
 * plain-text answer to a peer that speaks no TLS, close_notify at the end.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

struct conn_type {
	ssize_t (*read)(struct conn *c, void *buf, size_t n);
	ssize_t (*writev)(struct conn *c, const struct iovec *iov, int iovcnt);
	int (*flush)(struct conn *c);
	/* socket events needed for what the owner wants */
	unsigned (*needs)(const struct conn *c, unsigned want);
	/* bytes readable without a socket event */
	size_t (*buffered)(const struct conn *c);
	int (*ready)(const struct conn *c);
	void (*shutdown)(struct conn *c);
	void (*end)(struct conn *c); /* before the fd is closed */
	const char *(*error)(const struct conn *c);
};

static void conn_on_io(struct reactor *r, struct reactor_watcher *w, unsigned events);
static void conn_on_again(struct reactor *r, struct reactor_timer *t);

/* ---- plain TCP ----------------------------------------------------------- */

static ssize_t
plain_read(struct conn *c, void *buf, size_t n)
{
	ssize_t k;

	do
		k = recv(c->fd, buf, n, 0);
	while (k < 0 && errno == EINTR);
	if (k >= 0)
		return k;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static ssize_t
plain_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh;
	ssize_t k;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	do
		k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k >= 0)
		return k;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static int
plain_flush(struct conn *c)
{
	(void)c;
	return 0;
}

static unsigned
plain_needs(const struct conn *c, unsigned want)
{
	(void)c;
	return want;
}

static size_t
plain_buffered(const struct conn *c)
{
	(void)c;
	return 0;
}

static int
plain_ready(const struct conn *c)
{
	(void)c;
	return 1;
}

static void
plain_shutdown(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
}

static void
plain_end(struct conn *c)
{
	(void)c;
}

static const char *
plain_error(const struct conn *c)
{
	(void)c;
	return NULL;
}

static const struct conn_type plain_type = {
	plain_read, plain_writev, plain_flush, plain_needs, plain_buffered,
	plain_ready, plain_shutdown, plain_end, plain_error,
};

/* ---- TLS ----------------------------------------------------------------- */

/*
 * A peer that sent something else than a TLS handshake is told so in the
 * clear, as nginx does for plain HTTP on an https port. What it sent is
 * dropped first: closing with unread input would reset the answer away.
 */
static void
tls_say_plain(struct conn *c)
{
	char sink[4096];

	if (c->plain_answer == NULL || !tls_conn_peer_not_tls(c->tls))
		return;
	while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	(void)!send(c->fd, c->plain_answer, strlen(c->plain_answer), MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->fd, SHUT_WR);
	c->plain_answer = NULL;
}

/* The engine hands out one record's plaintext per call: gather up to n. */
static ssize_t
tls_read(struct conn *c, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = tls_conn_read(c->tls, c->fd, (char *)buf + got, n - got);

		if (k <= 0) {
			if (got > 0)
				return (ssize_t)got; /* the end or the failure comes with the next call */
			if (k < 0 && k != -EAGAIN)
				tls_say_plain(c);
			return k;
		}
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static ssize_t
tls_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	return tls_conn_writev(c->tls, c->fd, iov, iovcnt);
}

static int
tls_flush(struct conn *c)
{
	return tls_conn_flush(c->tls, c->fd);
}

/*
 * The engine's needs, except that once the handshake is done it reads
 * records only for an owner who reads: that is the backpressure (while
 * plaintext waits, the engine takes no records anyway).
 */
static unsigned
tls_needs(const struct conn *c, unsigned want)
{
	unsigned need = tls_conn_interest(c->tls);

	if (!(want & CONN_READ) && tls_conn_handshake_done(c->tls))
		need &= ~(unsigned)TLS_READ;
	return need;
}

static size_t
tls_buffered(const struct conn *c)
{
	return tls_conn_buffered(c->tls);
}

static int
tls_ready(const struct conn *c)
{
	return tls_conn_handshake_done(c->tls);
}

static void
tls_shutdown(struct conn *c)
{
	(void)c;
}

static void
tls_end(struct conn *c)
{
	(void)tls_conn_close(c->tls, c->fd); /* close_notify, best effort */
}

static const char *
tls_error(const struct conn *c)
{
	return tls_conn_error(c->tls);
}

static const struct conn_type tls_type = {
	tls_read, tls_writev, tls_flush, tls_needs, tls_buffered,
	tls_ready, tls_shutdown, tls_end, tls_error,
};

/* ---- setup --------------------------------------------------------------- */

/* see conn.h */
void
conn_init(struct conn *c, struct reactor *r, int fd, conn_io_cb *cb)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->r = r;
	c->cb = cb;
	c->type = &plain_type;
	reactor_watcher_init(&c->w, fd, conn_on_io);
	reactor_timer_init(&c->again, conn_on_again);
}

static int
tls_attach(struct conn *c, struct tls_conn *tls, int rc)
{
	if (rc < 0) {
		free(tls);
		return rc;
	}
	c->tls = tls;
	c->type = &tls_type;
	return 0;
}

/* see conn.h */
int
conn_tls_client(struct conn *c, const struct tls_anchors *anchors, const char *server_name, int insecure)
{
	struct tls_conn *tls = calloc(1, sizeof(*tls));

	if (tls == NULL)
		return -ENOMEM;
	return tls_attach(c, tls, tls_conn_client(tls, anchors, server_name, insecure));
}

/* see conn.h */
int
conn_tls_server(struct conn *c, const struct tls_server_creds *creds)
{
	struct tls_conn *tls = calloc(1, sizeof(*tls));

	if (tls == NULL)
		return -ENOMEM;
	return tls_attach(c, tls, tls_conn_server(tls, creds));
}

/* see conn.h */
void
conn_set_plain_answer(struct conn *c, const char *answer)
{
	c->plain_answer = answer;
}

/* see conn.h */
int
conn_start(struct conn *c, unsigned want)
{
	int rc = reactor_watcher_start(c->r, &c->w, 0);

	if (rc < 0)
		return rc;
	conn_interest(c, want);
	return 0;
}

/* ---- I/O ----------------------------------------------------------------- */

/* Remember the first failure; -EAGAIN and -EINTR are none. */
static ssize_t
sticky(struct conn *c, ssize_t rc)
{
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR && c->err == 0)
		c->err = (int)rc;
	return rc;
}

/* see conn.h */
ssize_t
conn_read(struct conn *c, void *buf, size_t n)
{
	if (c->err != 0)
		return c->err;
	if (n == 0)
		return -EINVAL;
	return sticky(c, c->type->read(c, buf, n));
}

/* see conn.h */
ssize_t
conn_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	if (c->err != 0)
		return c->err;
	return sticky(c, c->type->writev(c, iov, iovcnt));
}

/* see conn.h */
ssize_t
conn_write(struct conn *c, const void *p, size_t n)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return conn_writev(c, &iov, 1);
}

/* see conn.h */
int
conn_flush(struct conn *c)
{
	if (c->err != 0)
		return c->err;
	return (int)sticky(c, c->type->flush(c));
}

/* ---- readiness ----------------------------------------------------------- */

/*
 * Bytes the transport holds are announced from the next iteration (not
 * now: other sockets get their turn first); so is a transport that has
 * nothing more to wait for, so that the owner's read meets the end.
 */
static void
arm_again(struct conn *c, unsigned need)
{
	if (!(c->want & CONN_READ)) {
		if (!c->asked_again)
			reactor_timer_stop(c->r, &c->again); /* an announcement nobody wants any more */
		return;
	}
	if (!reactor_timer_is_active(&c->again) && (c->type->buffered(c) > 0 || need == 0))
		reactor_timer_start(c->r, &c->again, 0, 0);
}

/* see conn.h */
void
conn_interest(struct conn *c, unsigned want)
{
	unsigned need;

	c->want = want;
	if (c->fd < 0 || c->r == NULL || !reactor_watcher_active(&c->w))
		return;
	need = c->err != 0 ? 0 : c->type->needs(c, want);
	reactor_watcher_set(c->r, &c->w, need);
	arm_again(c, need);
}

/* see conn.h */
void
conn_again(struct conn *c)
{
	if (c->fd < 0 || c->r == NULL)
		return;
	c->asked_again = 1;
	if (!reactor_timer_is_active(&c->again))
		reactor_timer_start(c->r, &c->again, 0, 0);
}

/* see conn.h */
unsigned
conn_wants(const struct conn *c, unsigned want)
{
	return c->err != 0 || c->fd < 0 ? 0 : c->type->needs(c, want);
}

/* see conn.h */
int
conn_ready(const struct conn *c)
{
	return c->type->ready(c);
}

static void
conn_on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct conn *c = container_of(w, struct conn, w);

	(void)r;
	if (c->type != &plain_type) {
		if (!(c->want & CONN_READ) && !c->type->ready(c))
			(void)sticky(c, tls_conn_handshake(c->tls, c->fd)); /* nobody reads: move it here */
		events = c->want; /* one socket event may move the engine either way */
	}
	if (events != 0)
		c->cb(c, events);
	if (c->fd < 0 || !reactor_watcher_active(&c->w))
		return; /* closed or moved */
	if (c->type != &plain_type)
		(void)conn_flush(c); /* records the owner's reads made (or that it wants nothing to do with) */
	conn_interest(c, c->want);
}

static void
conn_on_again(struct reactor *r, struct reactor_timer *t)
{
	struct conn *c = container_of(t, struct conn, again);

	(void)r;
	c->asked_again = 0;
	c->cb(c, CONN_READ | (c->want & CONN_WRITE));
	if (c->fd >= 0 && reactor_watcher_active(&c->w))
		conn_interest(c, c->want);
}

/* ---- the end ------------------------------------------------------------- */

/* see conn.h */
void
conn_shutdown(struct conn *c)
{
	if (c->fd >= 0)
		c->type->shutdown(c);
}

static void
conn_forget(struct conn *c)
{
	if (c->r != NULL) {
		reactor_watcher_stop(c->r, &c->w);
		reactor_timer_stop(c->r, &c->again);
	}
	c->fd = -1;
	c->tls = NULL;
	c->type = &plain_type;
}

/* see conn.h */
void
conn_close(struct conn *c)
{
	int fd = c->fd;

	if (fd < 0)
		return;
	if (c->err == 0)
		c->type->end(c);
	if (c->tls != NULL) {
		tls_conn_fini(c->tls);
		free(c->tls);
	}
	conn_forget(c);
	close(fd);
}

/* see conn.h */
void
conn_move(struct conn *dst, struct conn *src, struct reactor *r, conn_io_cb *cb)
{
	struct tls_conn *tls = src->tls;
	const struct conn_type *type = src->type;
	const char *answer = src->plain_answer;
	int fd = src->fd, err = src->err;

	conn_forget(src);
	conn_init(dst, r, fd, cb);
	dst->tls = tls;
	dst->type = type;
	dst->err = err;
	dst->plain_answer = answer;
}

/* see conn.h */
const char *
conn_error(const struct conn *c)
{
	return c->type->error(c);
}
