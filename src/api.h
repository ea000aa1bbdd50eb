/*
 * api.h: the control-plane handlers: health, tunnels, sessions, bindings,
 * metrics (also at /metrics, where Prometheus looks), DELETE session, and
 * the probes. Each fills a response; ctl.c writes it. Bodies are bare JSON
 * objects; errors are {"error":"..."}.
 *
 * Who needs the admin bearer token is --admin-auth's rule (auth.h): health
 * and the probes never; reads from another host (default) or from anyone
 * (all); writes always unless the mode is none. A request relayed by a
 * proxy on this host counts as from another host (forwarded_local). The
 * token is --admin-token when given, else the tunnel token.
 */
#ifndef HT_API_H
#define HT_API_H

#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "daemon.h"
#include "http1.h"

struct api_response {
	int status;
	const char *content_type;
	struct buf *body;          /* the caller's buffer, reset by api_handle */
	const char *extra_headers; /* lines ending in CRLF, or NULL */
};

/*
 * Answer the request (method, target, headers) that came on a socket whose
 * peer is `peer` into res: 404 for no route, 401 with
 * WWW-Authenticate: Bearer when the token is needed and missing or wrong,
 * 405 with Allow for another method, else the route's answer.
 */
void api_handle(struct daemon *d, const struct http1_request *rq, const struct sockaddr *peer,
		struct api_response *res);

#endif
