/*
 * forward.h: the daemon's side of the forward extension (doc/FORWARD.md).
 *
 * A client granted "forward" in HELLO_OK opens a stream with FORWARD_OPEN
 * {"host","port"}: the daemon resolves the host in its loop (resolve.h),
 * keeps the addresses --forward-allow allows (checked on the address
 * itself, so a name cannot smuggle a forbidden one), and connects to them
 * in order, without blocking, under one FD permit, until one answers or
 * --forward-connect-timeout runs out. Then FORWARD_OK {"address"} and the
 * socket joins the stream through a pump (credit both ways, as PULL);
 * else FORWARD_ERR {"code","message"} with the reason and the stream is
 * gone. The session's end, a kill or a RESET from the client cancels
 * whatever is in progress.
 */
#ifndef HT_FORWARD_H
#define HT_FORWARD_H

#include "daemon.h"

/* Start the resolver and take FORWARD_OPEN (d->forward_open) unless
 * --forward-allow is none. 0, or -1 with the reason logged. */
int forward_init(struct daemon *d);

/* Stop the resolver (after the sessions are gone). */
void forward_fini(struct daemon *d);

#endif
