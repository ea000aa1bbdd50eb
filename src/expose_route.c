/*
 * expose_route.c: a visitor's request to its binding's session (see
 * expose_route.h).
 */
#include "expose_route.h"

#include <stdio.h>

#include "auth.h"
#include "bind.h"
#include "expose_http.h"
#include "forwarded.h"
#include "frame.h"
#include "metrics.h"
#include "session.h"
#include "util.h"

/* The route of a request by its host: NULL with the status in *status and rt->detail. */
static struct bind_route *
route_by_host(struct daemon *d, struct expose_route *rt, const struct http1_request *req, int *status)
{
	char name[BIND_NAME_MAX + 1];
	struct bind_route *r = NULL;
	const char *host;
	size_t len;

	if (expose_http_host(req, &host, &len) < 0) {
		rt->detail = "exactly one Host header is required";
		*status = 400;
		return NULL;
	}
	if (bind_host_name(d->cfg->domain, host, len, name))
		r = bind_route_host(d, name);
	if (r == NULL) {
		snprintf(rt->why, sizeof(rt->why), "no tunnel is serving %.*s", (int)UTIL_MIN(len, 100),
			 host);
		rt->detail = rt->why;
		metrics_unknown_host(&d->metrics);
		*status = 404;
	}
	return r;
}

/* The route of the request: its port's, or its host's. NULL with the status to answer. */
static struct bind_route *
find_route(struct daemon *d, struct expose_route *rt, const struct http1_request *req, int *status)
{
	struct bind_route *r;

	if (rt->port == 0)
		return route_by_host(d, rt, req, status);
	r = bind_route_port(d, rt->port);
	if (r == NULL || r->kind != BIND_EXPOSE) {
		rt->detail = "this port is no longer exposed";
		*status = 503;
		return NULL;
	}
	return r;
}

/* The visitor's Basic credentials match the binding's (constant time). */
static int
basic_ok(const struct binding *b, const struct http1_request *req)
{
	const struct http1_header *h = http1_find_header(req->headers, req->num_headers, "Authorization");

	return h != NULL && auth_basic_check(h->value, h->value_len, b->basic_user[0] ? b->basic_user : NULL,
					     b->basic_pass) == 1;
}

/* Why a binding's session takes no stream now. */
static const char *
refused_why(const struct session *s)
{
	return session_parked(s)       ? "the tunnel client is reconnecting"
	       : session_backlogged(s) ? "the tunnel client is not reading"
				       : "the tunnel is closing";
}

/* Send STREAM_OPEN on st: 0, or the status to answer (st dropped). */
static int
send_open(struct daemon *d, struct expose_route *rt, struct binding *b, struct stream *st,
	  const struct http1_request *req)
{
	struct mux *m = &b->s->mux;
	struct forwarded_values fwd;
	struct expose_http_open o;
	const char *host;
	size_t host_len;

	forwarded_values(rt->trusted, rt->peer_ip, req->headers, req->num_headers, &fwd);
	if (!rt->trusted && req->target_len > 0 && req->target[0] != '/' &&
	    expose_http_host(req, &host, &host_len) == 0) /* absolute form: its authority is the host */
		snprintf(fwd.host, sizeof(fwd.host), "%.*s", (int)UTIL_MIN(host_len, sizeof(fwd.host) - 1),
			 host);
	o = (struct expose_http_open){ b->id, b->port, rt->peer, &fwd, rt->upgrade };
	buf_reset(&d->scratch, 0);
	if (expose_http_open_json(&d->scratch, &o, req) < 0 || buf_len(&d->scratch) > FRAME_MAX_PAYLOAD) {
		mux_drop(m, st);
		rt->detail = "request head too large for the tunnel";
		return 431;
	}
	if (mux_send(m, st, FRAME_STREAM_OPEN, d->scratch.pos, buf_len(&d->scratch)) < 0) {
		mux_drop(m, st);
		rt->detail = "the tunnel is closing";
		return 503;
	}
	return 0;
}

/* The holder whose turn it is among those whose sessions take streams; NULL: none. */
static struct binding *
pick(struct bind_route *r)
{
	struct binding *b;

	for (b = bind_route_next(r, NULL); b != NULL; b = bind_route_next(r, b))
		if (session_accepts_streams(b->s))
			return b;
	return NULL;
}

/* see expose_route.h */
int
expose_route_open(struct daemon *d, struct expose_route *rt, const struct http1_request *req)
{
	struct bind_route *r;
	struct binding *b;
	struct stream *st;
	int status = 0;

	r = find_route(d, rt, req, &status);
	if (r == NULL)
		return status;
	b = pick(r);
	if (b == NULL) {
		rt->detail = refused_why(r->first->s);
		return 503;
	}
	if (b->basic_pass[0] && !basic_ok(b, req)) {
		rt->detail = "authentication required";
		return 401;
	}
	bind_route_took(r, b);
	st = mux_open(&b->s->mux, 0, STREAM_KIND_HTTP, -1);
	if (st == NULL) {
		rt->detail = "too many requests in flight on this tunnel";
		return 503;
	}
	status = send_open(d, rt, b, st, req);
	if (status != 0)
		return status;
	st->bind_id = b->id;
	rt->mux = &b->s->mux;
	rt->st = st;
	rt->session_id = b->s->id;
	metrics_stream_opened(&d->metrics, METRICS_KIND_HTTP);
	return 0;
}
