/*
 * conn.h: a stream socket inside the reactor, plain TCP or TLS.
 *
 * A struct conn owns a connected non-blocking socket, its reactor watcher,
 * an optional TLS engine (tls.h) and a sticky error. Its owner reads and
 * writes through conn_read(), conn_writev() and conn_flush() and says
 * which events it wants with conn_interest(); whether TLS is there is the
 * conn's business, not the owner's: one transport table (plain or TLS) is
 * behind every call, so the owner's code is the same either way.
 *
 * Readiness. The owner's callback receives CONN_READ when a conn_read()
 * may make progress and CONN_WRITE when a conn_writev() may; with TLS one
 * socket event may move the engine either way, so the owner is offered
 * everything it wants. Plaintext (or read-ahead) the TLS engine already
 * holds raises no socket event: the conn announces it itself, from a zero
 * timer in the next loop iteration, whenever the owner wants to read and
 * such bytes wait. This is the only re-arm path for transport input.
 *
 * Memory: a plain conn is its struct (the socket's watcher and five
 * words); TLS adds one malloc'd block (the engine, see tls.h).
 *
 * The owner's pattern per event: read until -EAGAIN (or its budget), then
 * write what is pending, then conn_flush(), then conn_interest(). Ask for
 * CONN_WRITE only after a write was partial or returned -EAGAIN: a TLS
 * engine that can take plaintext announces nothing. A TLS handshake moves
 * on whatever the owner wants; when it fails while the owner wants
 * nothing, the owner learns it from its next call.
 *
 * Errors are sticky: after the first failure (anything but -EAGAIN and
 * -EINTR) every read, write and flush returns it again. The end of the
 * stream is not a failure: conn_read() returns 0 again.
 *
 * Not here: accepting, connecting, buffering. The conn owns no buffer of
 * its own (the TLS engine has its I/O buffers, see tls.h).
 */
#ifndef HT_CONN_H
#define HT_CONN_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "reactor.h"
#include "tls.h"

/* Events, equal to REACTOR_READ/REACTOR_WRITE and TLS_READ/TLS_WRITE. */
#define CONN_READ 1u
#define CONN_WRITE 2u

struct conn;
struct conn_type;
struct conn_tls;

/* The owner's readiness callback (recover the owner with container_of). */
typedef void conn_io_cb(struct conn *c, unsigned events);

struct conn {
	/* read-only */
	int fd;  /* -1 when closed or moved */
	int err; /* 0, or the first failure (-errno), sticky */
	/* private */
	unsigned want;                /* CONN_READ|CONN_WRITE the owner asked for */
	const struct conn_type *type; /* plain or TLS */
	struct conn_tls *tls;         /* TLS only: the engine and its announcer, malloc'd */
	struct reactor *r;            /* NULL: not in a loop (conn_wants and poll) */
	struct reactor_watcher w;
	conn_io_cb *cb;
};

/*
 * Take over connected socket fd as a plain conn of loop r (NULL for a conn
 * driven by poll(2) with conn_wants()); cb gets its events. Nothing is
 * watched before conn_start().
 */
void conn_init(struct conn *c, struct reactor *r, int fd, conn_io_cb *cb);

/*
 * Make c speak TLS from now on, as a client of server_name (verified with
 * anchors unless insecure; see tls_conn_client) or as a server with creds
 * (see tls_conn_server). Call before any I/O. 0, or -errno (c stays
 * plain and usable; nothing to undo).
 */
int conn_tls_client(struct conn *c, const struct tls_anchors *anchors, const char *server_name, int insecure);
int conn_tls_server(struct conn *c, const struct tls_server_creds *creds);

/*
 * TLS server: when the peer's first bytes are not a TLS handshake (a
 * plain HTTP client on a TLS port), write `answer` (static, complete) in
 * the clear before the read fails, so the peer learns what went wrong.
 * No effect on a plain conn.
 */
void conn_set_plain_answer(struct conn *c, const char *answer);

/* Start watching with conn_interest(c, want). 0 or -errno. */
int conn_start(struct conn *c, unsigned want);

/*
 * Read what is there, up to n bytes (n > 0): > 0 bytes read, 0 at the end
 * of the stream, -EAGAIN when nothing is there now, or a failure (-errno;
 * conn_error() may say more). Fewer than n bytes means the transport had
 * no more for now: the socket, or the conn's own announcement, will tell.
 */
ssize_t conn_read(struct conn *c, void *buf, size_t n);

/*
 * Write from the iovecs as far as the transport takes them: bytes taken
 * (>= 0; they are the conn's now; TLS records may still wait for
 * conn_flush), -EAGAIN when nothing was taken, or a failure.
 */
ssize_t conn_writev(struct conn *c, const struct iovec *iov, int iovcnt);

/* conn_writev() of one buffer. */
ssize_t conn_write(struct conn *c, const void *p, size_t n);

/*
 * Push what the transport holds (TLS records: handshake, data, alerts).
 * 0 when nothing waits, -EAGAIN when some does, or a failure. Plain: 0.
 */
int conn_flush(struct conn *c);

/*
 * The owner wants events (CONN_READ|CONN_WRITE, may be 0). The watcher is
 * set to what the transport needs for that (TLS adds its handshake and
 * record needs, and drops READ while the owner does not read), and input
 * the transport already holds is announced in the next iteration.
 */
void conn_interest(struct conn *c, unsigned want);

/*
 * The socket events a poll(2) user must wait for to make progress with
 * what the owner wants (CONN_READ|CONN_WRITE); 0 when nothing can come
 * (failed, or ended cleanly).
 */
unsigned conn_wants(const struct conn *c, unsigned want);

/* 1 once the transport may carry application bytes (TLS: handshake done). */
int conn_ready(const struct conn *c);

/*
 * Half-close: no more bytes from us. Plain TCP: shutdown(SHUT_WR). TLS:
 * nothing (close_notify would end the peer's side too; it is sent by
 * conn_close). Reads go on.
 */
void conn_shutdown(struct conn *c);

/*
 * Stop watching, end the transport (TLS: close_notify, best effort),
 * close the fd and free the transport state. Safe to call twice; c may be
 * initialised again afterwards.
 */
void conn_close(struct conn *c);

/*
 * Hand src's socket and transport to dst, to be watched in loop r with cb
 * (the socket is never closed meanwhile; src is left closed, fd -1). The
 * owner of dst calls conn_start().
 */
void conn_move(struct conn *dst, struct conn *src, struct reactor *r, conn_io_cb *cb);

/*
 * What the transport has to say about a failure or an unclean end (TLS:
 * "certificate signed by an unknown issuer", "peer closed the connection
 * without close_notify"), or NULL when it has nothing beyond the errno.
 * Valid until conn_close(): an owner that reports it later copies it.
 */
const char *conn_error(const struct conn *c);

#endif
