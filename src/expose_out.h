/*
 * expose_out.h: the bytes on their way to one visitor's socket.
 *
 * Response bytes are written through when nothing waits; what the socket
 * does not take is kept in a buffer and written when it becomes writable.
 * Bytes are payload (a response body's DATA, whose stream credit is owed
 * to the tunnel client) or framing (heads, chunk headers, the daemon's
 * own answers). Credit is returned through the owner's callback only for
 * payload bytes that reached the socket, so the buffer never holds much
 * more than one stream window. What the socket takes is also counted for
 * the send timeout (net_progress).
 *
 * Not here: deciding the framing (expose_http.c) or when to write and
 * what to do when the socket fails (expose.c). No reactor calls.
 */
#ifndef HT_EXPOSE_OUT_H
#define HT_EXPOSE_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "expose_http.h"
#include "net.h"

/* n payload bytes reached the socket: return their credit. */
typedef void expose_out_credit_cb(void *arg, size_t n);

/* Embedded in its owner; set up with expose_out_init. */
struct expose_out {
	/* read-only */
	struct buf buf;           /* bytes the socket has not taken, oldest first */
	size_t owed;              /* payload bytes among them (credit not yet returned) */
	struct net_progress sent; /* the owner sets the mark; writes here count */
	/* private */
	size_t max; /* buf may not grow past this with DATA */
	expose_out_credit_cb *credit;
	void *arg;
};

/* Set up an empty o: DATA may fill its buffer up to max bytes. */
void expose_out_init(struct expose_out *o, size_t max, expose_out_credit_cb *credit, void *arg);

/* Release the buffer, and forget its owed credit (the socket is gone). */
void expose_out_fini(struct expose_out *o);

/* Append framing bytes. 0 or -ENOMEM. */
int expose_out_append(struct expose_out *o, const void *p, size_t n);

/*
 * Write what the buffer holds to conn c (plain or TLS; what the
 * transport holds is pushed too), crediting the payload among the bytes
 * taken. 0 (all written, or the socket is full) or -errno (the socket
 * failed; what the buffer holds stays).
 */
int expose_out_flush(struct expose_out *o, struct conn *c);

/* expose_out_data: the buffer went past its bound (or out of memory). */
#define EXPOSE_OUT_FULL 1

/*
 * Queue a framed DATA piece: pc->pre, p[0..pc->take), pc->post. With
 * through, the buffer and the piece go out in one conn_writev first, and only
 * what the transport does not take is kept (the caller asks for it when the
 * buffer is empty or holds framing only, such as a held response head).
 * The payload bytes taken are credited, the rest is owed.
 * Returns 0, EXPOSE_OUT_FULL (the caller gives up on the visitor), or
 * -errno when the socket failed.
 */
int expose_out_data(struct expose_out *o, struct conn *c, int through, const struct expose_http_piece *pc,
		    const uint8_t *p);

#endif
