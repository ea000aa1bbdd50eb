/*
 * expose_upgrade.h: an upgraded visitor's socket handed over to a pump.
 *
 * When the tunnel client answers a visitor's upgrade request with 101, the
 * visitor machine (expose.c) writes the 101 head to the visitor, lends the
 * bytes the visitor sent past its request to the stream as DATA (they
 * must reach the tunnel before anything the pump reads), stops watching
 * the socket and its timers, and calls expose_upgrade_start(). From then
 * on a struct pump (pump.h) carries raw bytes both ways; it owns the
 * socket, the stream and the socket's FD permit. The visitor keeps only
 * its memory, which it frees after done has been called (and its own lent
 * DATA came back).
 *
 * Not here: the 101 head and the bytes before the hand-off (expose.c), the
 * byte pump itself (pump.c). Everything runs on the daemon's loop.
 */
#ifndef HT_EXPOSE_UPGRADE_H
#define HT_EXPOSE_UPGRADE_H

#include <stdint.h>

#include "daemon.h"
#include "mux.h"
#include "pump.h"
#include "stream.h"

struct expose_upgrade;

/*
 * Told once, from the closing phase, when the pump has finished: the
 * socket is closed, its FD permit returned, the stream no longer the
 * pump's. The owner may free u's memory from here on.
 */
typedef void expose_upgrade_done_cb(struct expose_upgrade *u);

/* Embedded in the visitor; zeroed memory is "not started". */
struct expose_upgrade {
	/* private */
	struct pump pump;
	struct daemon *d;
	const char *peer; /* for the log: the owner's "ip:port" */
	expose_upgrade_done_cb *done;
	uint8_t live; /* started and done not yet called */
};

/*
 * Hand the visitor's connection (plain or TLS) and stream st (of mux m)
 * to a pump; conn is left closed. The caller MUST have lent every byte it
 * read past the request; peer MUST stay valid until done. On success the
 * pump owns the socket, st and the socket's FD permit, and done(u)
 * follows exactly once. Returns 0, or -errno when the pump could not
 * start: then the socket is closed, and the caller still owns its permit
 * and st, whose ops it must take back.
 */
int expose_upgrade_start(struct expose_upgrade *u, struct daemon *d, struct mux *m, struct stream *st,
			 struct conn *conn, const char *peer, expose_upgrade_done_cb *done);

/*
 * At daemon exit (after reactor_fini, so no reactor call is made): close
 * the socket of a pump that has not finished and release its buffers.
 * done is not called. Harmless on a visitor that never upgraded.
 */
void expose_upgrade_fini(struct expose_upgrade *u);

#endif
