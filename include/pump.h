/*
 * pump.h: a TCP socket joined to a tunnel stream, raw bytes both ways.
 *
 * Used by the daemon for PULL connections and upgraded visitors, and by
 * htc for the local side of PULL streams. Upstream (socket -> tunnel):
 * bytes are read into a ring and sent as DATA straight from it (zero
 * copy); a read happens only with credit and ring space, so a blocked
 * peer stops this stream only. Downstream (tunnel -> socket): the DATA
 * pieces of one batch of tunnel input are gathered (pointers into the
 * tunnel's input buffer) and written with one writev at the end of the
 * batch; what the socket does not take is kept in a spill buffer (bounded
 * by the stream window, since credit is returned only for bytes written)
 * and written when it becomes writable.
 *
 * Half-close: socket EOF sends EOF; the peer's EOF shuts down the write
 * side once the spill is drained. The pump finishes when both directions
 * are done, on a socket error, or on RESET either way; its memory stays
 * until every DATA it lent to the tunnel has been written or dropped.
 */
#ifndef HT_PUMP_H
#define HT_PUMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"
#include "conn.h"
#include "mux.h"
#include "reactor.h"
#include "ring.h"

struct pump;

#define PUMP_PEND_MAX 32

/* Told once, when the pump is finished and may be freed (from the closing phase). */
typedef void pump_done_cb(struct pump *p);

enum pump_state {
	PUMP_CONNECTING, /* non-blocking connect in progress (htc side) */
	PUMP_ACTIVE,     /* bytes flow */
	PUMP_CLOSED,     /* socket closed; waiting for lent DATA to come back */
	PUMP_STATE_MAX
};

struct pump {
	/* read-only */
	enum pump_state state;
	struct conn conn;    /* the socket (fd -1 once closed) */
	uint64_t bytes_up;   /* socket -> tunnel */
	uint64_t bytes_down; /* tunnel -> socket */
	unsigned reset_code; /* the code that ended it, 0 when it ended cleanly */
	/* owned by the user */
	void *owner;
	/* private */
	struct mux *mux;
	struct stream *s;
	struct reactor_deferred done_defer;
	pump_done_cb *done;
	struct ring ring;                 /* upstream bytes lent to the tunnel */
	struct buf spill;                 /* downstream bytes the socket has not taken */
	struct iovec pend[PUMP_PEND_MAX]; /* DATA of the current input batch, not yet written */
	int npend;
	uint32_t lent; /* DATA frames not yet written by the tunnel */
	uint8_t rd_eof, wr_shut, peer_eof, finished;
};

/*
 * Join connected (or connecting, when connecting = 1) socket fd to stream s
 * (whose ops and owner this sets). done is called once when the pump is
 * finished. 0 or -errno (fd untouched).
 */
int pump_start(struct pump *p, struct reactor *r, struct mux *m, struct stream *s, int fd, int connecting,
	       pump_done_cb *done);

/*
 * Join the connected socket of conn `from` (plain or TLS, whatever it
 * holds) to stream s of m, as pump_start does; from is left closed. 0, or
 * -errno with the socket closed (s's ops and owner are the caller's
 * again).
 */
int pump_adopt(struct pump *p, struct reactor *r, struct mux *m, struct stream *s, struct conn *from,
	       pump_done_cb *done);

/* Close now: RESET(code, reason) to the peer when the stream is still open. */
void pump_abort(struct pump *p, unsigned code, const char *reason);

/*
 * Process exit: close the socket and release the memory of a pump that
 * has not finished, without callbacks or frames (the tunnels are gone).
 */
void pump_fini(struct pump *p);

#endif
