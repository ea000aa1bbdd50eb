/*
 * expose_route.c: a visitor's request to its binding's session (see
 * expose_route.h).
 */
#include "expose_route.h"

#include "auth.h"
#include "bind.h"
#include "expose_http.h"
#include "forwarded.h"
#include "frame.h"
#include "metrics.h"
#include "session.h"

/* The EXPOSE binding on port now (after a takeover: the new owner's). */
static struct binding *
find_binding(struct daemon *d, int port)
{
	struct binding *b = bind_find_port(d, port);

	return b != NULL && b->kind == BIND_EXPOSE ? b : NULL;
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

	forwarded_values(rt->trusted, rt->peer_ip, req->headers, req->num_headers, &fwd);
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

/* see expose_route.h */
int
expose_route_open(struct daemon *d, struct expose_route *rt, const struct http1_request *req)
{
	struct binding *b = find_binding(d, rt->port);
	struct stream *st;
	int status;

	if (b == NULL) {
		rt->detail = "this port is no longer exposed";
		return 503;
	}
	if (b->basic_pass[0] && !basic_ok(b, req)) {
		rt->detail = "authentication required";
		return 401;
	}
	if (!session_accepts_streams(b->s)) {
		rt->detail = refused_why(b->s);
		return 503;
	}
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
