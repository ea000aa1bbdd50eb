/*
 * expose.h: EXPOSE listeners and the visitor connection machine: each
 * visitor request becomes an http stream (STREAM_OPEN with method, target,
 * headers), its body is de-framed into DATA, and the client's response
 * head and body are written back with HTTP/1.1 framing; keep-alive,
 * pipelining, upgrades, and the 502/503/504 answers a visitor may see.
 *
 * The machine is expose.c's. Beside it: the HTTP text and the body
 * framing (expose_http.c, no I/O), finding a request's session and
 * opening its stream (expose_route.c), the bytes on their way to the
 * visitor (expose_out.c), and an upgraded socket's hand-off to a pump
 * (expose_upgrade.c).
 */
#ifndef HT_EXPOSE_H
#define HT_EXPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "daemon.h"
#include "reactor.h"

/* Set up the visitor pool (d->visitors) and register with the binding
 * registry what EXPOSE listeners do with their connections. 0 or -errno. */
int expose_init(struct daemon *d);

/*
 * Host routing (--domain). expose_vhost_start listens on --vhost-listen
 * when given (0, or -errno logged); every connection there is routed by
 * host. expose_vhost_stop closes that listener.
 */
int expose_vhost_start(struct daemon *d);
void expose_vhost_stop(struct daemon *d);

/*
 * A connection of the control plane (plain or TLS) whose request is for a
 * routed host becomes a visitor routed by host: the socket (from is left
 * closed), its FD permit, and the n bytes read from the request head on
 * (copied) are the visitor's.
 */
void expose_adopt(struct daemon *d, struct conn *from, const uint8_t *pre, size_t n);

/* Release the pool and whatever visitors are left (after reactor_fini:
 * no reactor call is made; their fds are closed). */
void expose_fini(struct daemon *d);

#endif
