/*
 * expose_route.h: where a visitor's request goes. The route is looked up
 * again for every request (bindings come and go; after a takeover the
 * port or name belongs to the new session): the visitor's port, or, for
 * a connection routed by host (--domain), the name its Host (or
 * absolute-form target) gives. Of the route's holders the one whose turn
 * it is and whose session takes streams gets the request (cluster mode
 * rotates per request), its Basic credentials are checked, and an http
 * stream is opened there and STREAM_OPEN sent (the JSON from
 * expose_http.c, with X-Forwarded-* kept from trusted proxies and
 * replaced for anyone else).
 *
 * Not here: reading the request and serving the stream (expose.c).
 */
#ifndef HT_EXPOSE_ROUTE_H
#define HT_EXPOSE_ROUTE_H

#include "daemon.h"
#include "http1.h"
#include "mux.h"
#include "stream.h"

/* One request to route: what the visitor machine knows, and the result. */
struct expose_route {
	/* in */
	int port;            /* the EXPOSE port the visitor connected to; 0: route by host */
	const char *peer;    /* "ip:port" (peerAddr) */
	const char *peer_ip; /* for X-Forwarded-For and X-Real-IP */
	int trusted;         /* the peer is a --trusted-proxy */
	int upgrade;         /* forwarded as an upgrade */
	/* out, when routed */
	struct mux *mux;
	struct stream *st;      /* opened, STREAM_OPEN sent, bind_id set; ops and owner are the caller's */
	const char *session_id; /* for the log */
	/* out, when not */
	const char *detail; /* why, for the answer (a constant string, or why[]) */
	char why[160];
};

/*
 * Route the parsed request req (whose header array the caller owns) as
 * rt describes. Returns 0 with rt->mux, rt->st and rt->session_id set, or
 * the status the daemon answers with rt->detail: 503 (port no longer
 * exposed, every holder parked, backlogged or closing, too many streams),
 * 401 (Basic credentials missing or wrong), 431 (STREAM_OPEN too large
 * for one frame), and by host: 400 (no Host, or two) or 404 (a host
 * nobody holds; counted in the metrics). Nothing is left open on failure. Uses d->scratch.
 */
int expose_route_open(struct daemon *d, struct expose_route *rt, const struct http1_request *req);

#endif
