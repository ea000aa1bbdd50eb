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

/* What a TLS conn has beyond a plain one. */
struct conn_tls {
	struct tls_conn engine;
	struct conn *c;             /* the conn it belongs to (conn_move moves it) */
	struct reactor_timer again; /* announces input no socket event will */
	const char *plain_answer;   /* said in the clear to a peer that speaks no TLS */
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
	plain_read,  plain_writev,   plain_flush, plain_needs, plain_buffered,
	plain_ready, plain_shutdown, plain_end,   plain_error,
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

	const char *answer = c->tls->plain_answer;

	if (answer == NULL || !tls_conn_peer_not_tls(&c->tls->engine))
		return;
	while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	(void)!send(c->fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->fd, SHUT_WR);
	c->tls->plain_answer = NULL;
}

/* The engine hands out one record's plaintext per call: gather up to n. */
static ssize_t
tls_read(struct conn *c, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = tls_conn_read(&c->tls->engine, c->fd, (char *)buf + got, n - got);

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
	return tls_conn_writev(&c->tls->engine, c->fd, iov, iovcnt);
}

static int
tls_flush(struct conn *c)
{
	return tls_conn_flush(&c->tls->engine, c->fd);
}

/*
 * The engine's needs, except that once the handshake is done it reads
 * records only for an owner who reads: that is the backpressure (while
 * plaintext waits, the engine takes no records anyway).
 */
static unsigned
tls_needs(const struct conn *c, unsigned want)
{
	unsigned need = tls_conn_interest(&c->tls->engine);

	if (!(want & CONN_READ) && tls_conn_handshake_done(&c->tls->engine))
		need &= ~(unsigned)TLS_READ;
	return need;
}

static size_t
tls_buffered(const struct conn *c)
{
	return tls_conn_buffered(&c->tls->engine);
}

static int
tls_ready(const struct conn *c)
{
	return tls_conn_handshake_done(&c->tls->engine);
}

static void
tls_shutdown(struct conn *c)
{
	(void)c;
}

static void
tls_end(struct conn *c)
{
	(void)tls_conn_close(&c->tls->engine, c->fd); /* close_notify, best effort */
}

static const char *
tls_error(const struct conn *c)
{
	return tls_conn_error(&c->tls->engine);
}

static const struct conn_type tls_type = {
	tls_read, tls_writev, tls_flush, tls_needs, tls_buffered, tls_ready, tls_shutdown, tls_end, tls_error,
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
}

/* A zeroed TLS block, or NULL. */
static struct conn_tls *
tls_new(struct conn *c)
{
	struct conn_tls *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->c = c;
		reactor_timer_init(&t->again, conn_on_again);
	}
	return t;
}

/* rc: the engine's setup. */
static int
tls_attach(struct conn *c, struct conn_tls *t, int rc)
{
	if (rc < 0) {
		free(t);
		return rc;
	}
	c->tls = t;
	c->type = &tls_type;
	return 0;
}

/* see conn.h */
int
conn_tls_client(struct conn *c, const struct tls_anchors *anchors, const char *server_name, int insecure)
{
	struct conn_tls *t = tls_new(c);

	if (t == NULL)
		return -ENOMEM;
	return tls_attach(c, t, tls_conn_client(&t->engine, anchors, server_name, insecure));
}

/* see conn.h */
int
conn_tls_server(struct conn *c, const struct tls_server_creds *creds)
{
	struct conn_tls *t = tls_new(c);

	if (t == NULL)
		return -ENOMEM;
	return tls_attach(c, t, tls_conn_server(&t->engine, creds));
}

/* see conn.h */
void
conn_set_plain_answer(struct conn *c, const char *answer)
{
	if (c->tls != NULL)
		c->tls->plain_answer = answer;
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
 * Bytes a TLS engine holds are announced from the next iteration (not
 * now: other sockets get their turn first); so is a transport that has
 * nothing more to wait for, so that the owner's read meets the end. Not
 * to an owner that reads nothing now.
 */
static void
arm_again(struct conn *c, unsigned need)
{
	struct reactor_timer *t;

	if (c->tls == NULL || c->r == NULL)
		return;
	t = &c->tls->again;
	if (!(c->want & CONN_READ))
		reactor_timer_stop(c->r, t);
	else if (!reactor_timer_is_active(t) && (c->type->buffered(c) > 0 || need == 0))
		reactor_timer_start(c->r, t, 0, 0);
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
			(void)sticky(c, tls_conn_handshake(&c->tls->engine,
							   c->fd)); /* nobody reads: move it here */
		events = c->want; /* one socket event may move the engine either way */
	}
	if (events != 0)
		c->cb(c, events);
	if (c->fd < 0 || !reactor_watcher_active(&c->w))
		return; /* closed or moved */
	if (c->type != &plain_type)
		(void)conn_flush(
			c); /* records the owner's reads made (or that it wants nothing to do with) */
	conn_interest(c, c->want);
}

static void
conn_on_again(struct reactor *r, struct reactor_timer *t)
{
	struct conn *c = container_of(t, struct conn_tls, again)->c;

	(void)r;
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

/* Stop watching; the socket and the TLS block are the caller's. */
static void
conn_forget(struct conn *c)
{
	if (c->r != NULL) {
		reactor_watcher_stop(c->r, &c->w);
		if (c->tls != NULL)
			reactor_timer_stop(c->r, &c->tls->again);
	}
	c->fd = -1;
	c->tls = NULL;
	c->type = &plain_type;
}

/* see conn.h */
void
conn_close(struct conn *c)
{
	struct conn_tls *t = c->tls;
	int fd = c->fd;

	if (fd < 0)
		return;
	if (c->err == 0)
		c->type->end(c);
	conn_forget(c);
	if (t != NULL) {
		tls_conn_fini(&t->engine);
		free(t);
	}
	close(fd);
}

/* see conn.h */
void
conn_move(struct conn *dst, struct conn *src, struct reactor *r, conn_io_cb *cb)
{
	struct conn_tls *t = src->tls;
	const struct conn_type *type = src->type;
	int fd = src->fd, err = src->err;

	conn_forget(src);
	conn_init(dst, r, fd, cb);
	dst->type = type;
	dst->err = err;
	dst->tls = t;
	if (t != NULL)
		t->c = dst;
}

/* see conn.h */
const char *
conn_error(const struct conn *c)
{
	return c->type->error(c);
}
