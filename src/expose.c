/*
 * expose.c: EXPOSE listeners and the visitor connection machine (see
 * expose.h).
 *
 * A visitor is one TCP connection accepted on an EXPOSE port. It reads a
 * request head, routes it to its binding's session (expose_route.c: one
 * http stream per request, STREAM_OPEN), and sends the de-framed request
 * body as DATA straight from its input buffer (zero copy, within credit:
 * the buffer is never moved while DATA lent from it is queued in the
 * tunnel). Requests on one connection are answered strictly in order:
 * bytes after a request wait in the input buffer until the answer before
 * them is written.
 *
 * The response head arrives as JSON on the stream and is written as
 * HTTP/1.1 (held back to leave with the first body bytes); its DATA is
 * framed and written through when nothing waits in `out`; what the socket
 * does not take is copied into `out`, whose payload credit is returned only
 * once written, so `out` never holds much more than one stream window.
 *
 * This file owns the machine: the states (enum visitor_state, changed only
 * by expose_set_state), the timers of each state, close and free. The HTTP
 * text and the body framing are expose_http.c's (no I/O there), finding
 * the session of a request is expose_route.c's, and the socket of an
 * upgraded visitor goes to a pump through expose_upgrade.c.
 * Everything runs on the daemon's loop.
 */
#include "expose.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind.h"
#include "buf.h"
#include "expose_http.h"
#include "expose_out.h"
#include "expose_route.h"
#include "expose_upgrade.h"
#include "http1.h"
#include "log.h"
#include "mux.h"
#include "net.h"
#include "session.h"
#include "stream.h"
#include "util.h"

#define IN_INIT 2048            /* first input buffer (nginx: 1 KiB); grows for a bigger head */
#define IN_MIN_READ 1024        /* less room than this: compact or grow before reading */
#define IN_SPARES 64            /* input buffers kept from idle visitors for the next requests */
#define IN_BODY_MAX (64 * 1024) /* input buffer bound when heads are limited to less */
#define CONTINUE_DELAY_MS 1000  /* our own 100 Continue when the client sent none */
#define OUT_SLACK (256 * 1024)  /* out may exceed two stream windows by this much */
#define OUT_KEEP (64 * 1024)    /* a larger idle out buffer is released */
#define LINGER_MS 2000          /* after a last answer: read and drop for at most this long */
#define LINGER_MAX (256 * 1024) /* ... or this many bytes, then close */
#define DETAIL_MAX 160          /* bytes of an answer's detail that are logged */

#define STR_(x) #x
#define STR(x) STR_(x)

/* The answer of a visitor that cannot be served at all (no permit, no slot). */
#define REFUSAL_BODY "503 Service Unavailable: server at capacity\n"
#define REFUSAL_BODY_LEN 44
_Static_assert(sizeof(REFUSAL_BODY) - 1 == REFUSAL_BODY_LEN, "REFUSAL_BODY_LEN");
/* clang-format off */
static const char refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
			      "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Length: " STR(REFUSAL_BODY_LEN) "\r\n"
			      "Connection: close\r\n"
			      "Retry-After: 5\r\n"
			      "\r\n" REFUSAL_BODY;
/* clang-format on */

static const char continue_head[] = "HTTP/1.1 100 Continue\r\n\r\n";

/*
 * Visitor states. One request/response exchange at a time; the request
 * side (body still to send, req_done) runs beside WAIT and RESPONSE. The
 * timer of each state is started by expose_set_state.
 */
enum visitor_state {
	VISITOR_IDLE,      /* keep-alive between requests, nothing buffered: the idle timer runs */
	VISITOR_HEAD,      /* reading a request head: the head timer runs from its first byte */
	VISITOR_WAIT,      /* STREAM_OPEN sent, waiting for the response head: the response timer runs */
	VISITOR_RESPONSE,  /* response head written, body DATA written through */
	VISITOR_FLUSH,     /* answer complete: write what is left, then the next request or close */
	VISITOR_LINGER,    /* last answer written, write side shut: drop input, then close */
	VISITOR_UPGRADING, /* 101 accepted: its head or bytes read past the request still to go */
	VISITOR_UPGRADED,  /* the socket belongs to the pump (expose_upgrade.c) */
	VISITOR_CLOSED,    /* socket closed; freed once no DATA lent from `in` is queued */
	VISITOR_STATE_MAX
};

/* slab_alloc zero-fills: a new visitor starts IDLE, so its head timer starts. */
_Static_assert(VISITOR_IDLE == 0, "a zeroed visitor is IDLE");

struct visitor {
	enum visitor_state state; /* written by expose_set_state only */
	struct conn conn;         /* plain, or TLS when it came from the control plane; fd -1 once
				     closed or handed over */
	struct daemon *d;
	int port;                   /* its route is looked up again per request; 0: routed by host */
	char peer[NET_ADDR_STRLEN]; /* "ip:port" */
	char peer_ip[NET_ADDR_STRLEN];
	uint8_t trusted;                 /* the peer is a --trusted-proxy */
	struct reactor_timer timer;      /* head, idle, response, send or linger timeout, by state */
	uint8_t send_timing;             /* a writing state's output waits: the timer is the send timeout */
	struct reactor_timer cont_timer; /* our own 100 Continue */
	struct reactor_deferred kick_defer;  /* parse a buffered (pipelined) request */
	struct reactor_deferred touch_defer; /* tell the session a stream ended */
	struct reactor_deferred free_defer;
	struct reactor_deferred head_defer; /* write a held response head at the end of the batch */
	uint8_t head_held;                  /* the head waits in out to leave with the first body bytes */
	struct session *touch_s;
	/* request bytes: head, body (lent to the tunnel), pipelined requests */
	struct buf in;
	size_t in_max;
	size_t scanned;        /* head bytes searched already (http1 last_len) */
	uint32_t lent;         /* DATA frames pointing into `in` still queued in a tunnel */
	struct expose_out out; /* response bytes the socket has not taken; its progress (send timeout) */
	uint8_t rd_eof, keep_alive, in_flight, freeing;
	size_t lingered; /* bytes dropped while lingering */
	/* the current exchange */
	struct mux *mux;
	struct stream *st;
	struct expose_http_req rq;
	struct expose_http_req_body req; /* the request body's framing (none: req_done from the start) */
	uint64_t open_ms;
	uint8_t req_done; /* nothing more to send upstream (EOF sent) */
	uint8_t got_body; /* body bytes arrived (no 100 Continue needed) */
	uint8_t expect, continue_sent;
	uint8_t informational;             /* 1xx heads of this response so far */
	struct expose_http_resp_body resp; /* the response body's framing */
	struct expose_upgrade up;          /* after a 101 */
};

/*
 * Header slots for the request head parser. They are filled and used
 * within one call (the daemon has one loop and one thread), so one array
 * of --max-headers entries serves every visitor.
 */
static struct http1_header *hdr_slots;
static size_t hdr_nslots;

static const struct stream_ops visitor_stream_ops;
static void update_interest(struct visitor *v);
static void visitor_flush(struct visitor *v);

/* ---- the state ---------------------------------------------------------- */

/* Neither closed nor handed to a pump: the visitor still owns its socket. */
static int
live(const struct visitor *v)
{
	return v->state != VISITOR_CLOSED && v->state != VISITOR_UPGRADED;
}

/* Writing a response: the timer is the send timeout while output waits. */
static int
sending(const struct visitor *v)
{
	return v->state == VISITOR_RESPONSE || v->state == VISITOR_FLUSH || v->state == VISITOR_UPGRADING;
}

/* After an error answer: may the connection carry another request? */
static int
reusable(const struct visitor *v)
{
	return v->req_done && !v->rq.upgrade;
}

/*
 * Enter st and start the timer that state runs (head, idle, response,
 * linger), or stop it. The send timeout of the writing states is started
 * by update_interest, while output waits.
 */
static void
expose_set_state(struct visitor *v, enum visitor_state st)
{
	const struct config *c = v->d->cfg;
	enum visitor_state prev = v->state;
	uint64_t ms = 0;

	assert(st < VISITOR_STATE_MAX);
	v->state = st;
	switch (st) {
	case VISITOR_HEAD:
		if (prev == VISITOR_HEAD)
			return; /* trickled bytes never extend it (slowloris) */
		ms = c->head_timeout_ms;
		break;
	case VISITOR_IDLE: ms = c->visitor_idle_timeout_ms; break;
	case VISITOR_WAIT: ms = c->response_timeout_ms; break;
	case VISITOR_LINGER: ms = LINGER_MS; break;
	default: break;
	}
	v->send_timing = 0;
	if (ms > 0)
		reactor_timer_start(&v->d->r, &v->timer, ms, 0);
	else if (!sending(v))
		reactor_timer_stop(&v->d->r, &v->timer);
	/* a writing state leaves the timer armed (cheaper than taking it out of
	   the heap each request): it means nothing until output waits */
}

/* ---- close and free ----------------------------------------------------- */

/*
 * Input buffers of IN_INIT bytes that idle visitors gave up, kept for the
 * next requests: a keep-alive visitor holds no buffer between requests, and
 * at 1,000 visitors taking and freeing one each request was 2-4 % of the
 * daemon's time in malloc. At most IN_SPARES (128 KiB) are kept.
 */
static uint8_t *in_spare[IN_SPARES];
static unsigned in_nspare;

/* An empty `in` gets a spare buffer when there is one: 1, else 0. */
static int
in_take_spare(struct visitor *v)
{
	if (v->in.start != NULL || in_nspare == 0)
		return 0;
	buf_own(&v->in, in_spare[--in_nspare], IN_INIT, 0);
	return 1;
}

/* Let go of `in`: kept as a spare when it is one of IN_INIT bytes and there is room. */
static void
in_release(struct visitor *v)
{
	if (v->in.owned && buf_cap(&v->in) == IN_INIT && in_nspare < IN_SPARES) {
		in_spare[in_nspare++] = v->in.start;
		memset(&v->in, 0, sizeof(v->in));
		return;
	}
	buf_fini(&v->in);
}

static void
free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, free_defer);

	(void)r;
	in_release(v);
	expose_out_fini(&v->out);
	slab_free(&v->d->visitors, v);
}

/* Free a CLOSED visitor once no DATA lent from its input is queued. */
static void
maybe_free(struct visitor *v)
{
	if (v->state != VISITOR_CLOSED || v->lent > 0 || v->freeing)
		return;
	v->freeing = 1;
	reactor_defer(&v->d->r, &v->free_defer, free_cb);
}

/* Tell session t (if it still exists) that one of its streams ended. */
static void
touch_session(struct daemon *d, struct session *t)
{
	struct session *s;

	for (s = d->sessions; s != NULL; s = s->next) {
		if (s == t) {
			session_touch(s);
			return;
		}
	}
}

static void
touch_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, touch_defer);

	(void)r;
	touch_session(v->d, v->touch_s);
	v->touch_s = NULL;
}

/*
 * The exchange is over for the tunnel: detach the stream (RESET(code)
 * when it is still open), count the request out of flight.
 */
static void
exchange_end(struct visitor *v, unsigned code, const char *reason)
{
	struct daemon *d = v->d;
	struct stream *st = v->st;

	reactor_timer_stop(&d->r, &v->cont_timer);
	if (st != NULL) {
		v->st = NULL;
		st->ops = NULL;
		st->owner = NULL;
		if (st->state != STREAM_CLOSED)
			mux_send_reset(v->mux, st, code, reason);
	}
	if (v->mux != NULL) {
		v->touch_s = v->mux->owner;
		reactor_defer(&d->r, &v->touch_defer, touch_cb);
		v->mux = NULL;
	}
	if (v->in_flight) {
		v->in_flight = 0;
		d->requests_in_flight--;
	}
}

static void
exchange_reset(struct visitor *v)
{
	v->st = NULL;
	v->mux = NULL;
	memset(&v->rq, 0, sizeof(v->rq));
	expose_http_req_body_init(&v->req, HTTP1_BODY_NONE, 0);
	v->req_done = v->got_body = v->expect = v->continue_sent = v->informational = 0;
	expose_http_resp_body_init(&v->resp, EXPOSE_HTTP_BODY_NONE, 0);
}

/* Close the socket (cancelling a stream in flight); freed when nothing is lent. */
static void
visitor_close(struct visitor *v)
{
	struct daemon *d = v->d;

	if (!live(v))
		return;
	exchange_end(v, FRAME_CODE_CANCEL, "visitor closed");
	conn_close(&v->conn);
	fdbudget_release(&d->fds, 1);
	expose_set_state(v, VISITOR_CLOSED);
	expose_out_fini(&v->out);
	maybe_free(v);
}

/* ---- output ------------------------------------------------------------- */

/* Return stream credit for n response bytes that reached the visitor (or never will). */
static void
credit(void *arg, size_t n)
{
	struct visitor *v = arg;

	if (n > 0 && v->st != NULL)
		mux_consumed(v->mux, v->st, n);
}

/* ---- the daemon's own answers ------------------------------------------- */

static void
count_response(struct visitor *v, int status)
{
	metrics_visitor_response(&v->d->metrics, status);
	if (v->port == 0)
		metrics_routed_response(&v->d->metrics, status);
}

/* Queue the daemon's own answer, then close or go on as keep_alive allows. */
static void
answer(struct visitor *v, int status, const char *detail, size_t dlen, int keep_alive, const char *extra)
{
	struct buf *out = &v->out.buf;

	v->keep_alive = v->keep_alive && keep_alive;
	if (expose_http_error_response(out, status, detail, dlen, v->keep_alive, v->rq.head, extra) < 0) {
		visitor_close(v);
		return;
	}
	count_response(v, status);
	log_debug("visitor %s: answered %d (%.*s)", v->peer, status, (int)UTIL_MIN(dlen, DETAIL_MAX),
		  detail ? detail : "");
	expose_set_state(v, VISITOR_FLUSH);
	visitor_flush(v);
}

static void
answer_str(struct visitor *v, int status, const char *detail, int keep_alive, const char *extra)
{
	answer(v, status, detail, strlen(detail), keep_alive, extra);
}

/* ---- request side ------------------------------------------------------- */

static void
up_done(void *arg, uint32_t len, int sent)
{
	struct visitor *v = arg;

	(void)len;
	(void)sent;
	v->lent--;
	if (v->state == VISITOR_CLOSED)
		maybe_free(v);
	else if (live(v) && v->lent == 0)
		update_interest(v); /* `in` may be compacted again */
}

/* Send n bytes of `in` as DATA (zero copy: `in` stays put until done). 0 or -1. */
static int
lend(struct visitor *v, const uint8_t *p, size_t n)
{
	if (mux_send_data(v->mux, v->st, p, (uint32_t)n, up_done, v) < 0)
		return -1;
	v->lent++;
	return 0;
}

/* Room to read into `in`, compacting or growing it when nothing is lent. */
static size_t
in_room(struct visitor *v)
{
	size_t len = buf_len(&v->in), want;

	if (buf_room(&v->in) >= IN_MIN_READ || v->lent > 0)
		return buf_room(&v->in);
	if (v->in.start != NULL)
		buf_compact(&v->in, 0);
	if (buf_room(&v->in) >= IN_MIN_READ || len >= v->in_max)
		return buf_room(&v->in);
	want = UTIL_MIN(UTIL_MAX((size_t)IN_INIT, buf_cap(&v->in)), v->in_max - len);
	if (want != IN_INIT || !in_take_spare(v))
		(void)buf_reserve(&v->in, want, 0, v->in_max);
	return buf_room(&v->in);
}

static int
in_can_take(const struct visitor *v)
{
	return buf_room(&v->in) > 0 || (v->lent == 0 && buf_len(&v->in) < v->in_max);
}

static void
body_failed(struct visitor *v, const char *why)
{
	exchange_end(v, FRAME_CODE_CANCEL, why);
	if (v->state == VISITOR_WAIT)
		answer_str(v, 400, why, 0, NULL);
	else
		visitor_close(v);
}

/* Send the de-framed request body buffered in `in`, within credit. */
static void
send_body(struct visitor *v)
{
	while (!v->req_done && v->st != NULL && buf_len(&v->in) > 0) {
		size_t allow = mux_allowance(v->mux, v->st, buf_len(&v->in)), dlen;
		const uint8_t *data;
		ssize_t used;

		if (allow == 0)
			return; /* on_credit resumes */
		used = expose_http_req_body_take(&v->req, v->in.pos, allow, &data, &dlen);
		if (used < 0) {
			body_failed(v, http1_chunked_error_str(v->req.ck.err));
			return;
		}
		if (dlen > 0 && lend(v, data, dlen) < 0) {
			body_failed(v, "tunnel gone");
			return;
		}
		buf_consume(&v->in, (size_t)used);
		if (expose_http_req_body_done(&v->req)) {
			v->req_done = 1;
			mux_send_eof(v->mux, v->st); /* may finish the stream: on_close clears v->st */
		}
	}
}

/* Route the request and serve its stream: 0, or the status to answer (*detail why, maybe in why[]). */
static int
open_stream(struct visitor *v, const struct http1_request *req, const char **detail, char *why, size_t whylen)
{
	struct daemon *d = v->d;
	struct expose_route rt = { .port = v->port,
				   .peer = v->peer,
				   .peer_ip = v->peer_ip,
				   .trusted = v->trusted,
				   .upgrade = v->rq.upgrade };
	int status = expose_route_open(d, &rt, req);

	if (status != 0) {
		*detail = rt.detail;
		if (rt.detail == rt.why) { /* rt ends here: the caller keeps a copy */
			snprintf(why, whylen, "%s", rt.why);
			*detail = why;
		}
		return status;
	}
	rt.st->ops = &visitor_stream_ops;
	rt.st->owner = v;
	v->mux = rt.mux;
	v->st = rt.st;
	d->requests_in_flight++;
	v->in_flight = 1;
	v->open_ms = reactor_now(&d->r);
	log_debug("visitor %s: %.*s %.*s -> session %s stream %u", v->peer, (int)req->method_len, req->method,
		  (int)UTIL_MIN(req->target_len, 200), req->target, rt.session_id, rt.st->id);
	return 0;
}

static void
start_request(struct visitor *v, const struct http1_request *req, size_t head_len)
{
	int has_body = req->body == HTTP1_BODY_CHUNKED ||
		       (req->body == HTTP1_BODY_LENGTH && req->content_length > 0);
	char why[sizeof(((struct expose_route *)NULL)->why)];
	const char *detail = NULL;
	int status;

	exchange_reset(v);
	v->rq.head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	v->rq.minor = req->minor_version;
	v->rq.keep_alive = req->keep_alive;
	v->rq.upgrade = req->upgrade && !has_body;
	v->keep_alive = req->keep_alive;
	expose_http_req_body_init(&v->req, has_body ? req->body : HTTP1_BODY_NONE, req->content_length);
	v->expect = req->expect_continue && has_body;
	status = open_stream(v, req, &detail, why, sizeof(why));
	buf_consume(&v->in, head_len); /* req points into `in`: used up by now */
	v->scanned = 0;
	if (status != 0) {
		answer_str(v, status, detail,
			   !has_body && !v->rq.upgrade && (status == 503 || status == 401 || status == 404),
			   status == 503   ? EXPOSE_HTTP_RETRY
			   : status == 401 ? EXPOSE_HTTP_AUTH
					   : NULL);
		return;
	}
	if (!v->rq.upgrade && !has_body) {
		v->req_done = 1;
		mux_send_eof(v->mux, v->st); /* same batch as STREAM_OPEN */
	}
	expose_set_state(v, VISITOR_WAIT);
	if (v->expect && buf_len(&v->in) == 0)
		reactor_timer_start(&v->d->r, &v->cont_timer, CONTINUE_DELAY_MS, 0);
	if (has_body) {
		v->got_body = buf_len(&v->in) > 0;
		send_body(v);
	}
}

/*
 * A routed connection asks for the control plane (/api/v1/tunnel,
 * /healthz): the socket, its permit and what was read from this request
 * on go to ctl.c; the visitor ends without closing the socket.
 */
static void
give_to_ctl(struct visitor *v)
{
	struct daemon *d = v->d;

	d->ctl_adopt(d, &v->conn, v->in.pos, buf_len(&v->in));
	buf_consume(&v->in, buf_len(&v->in));
	expose_set_state(v, VISITOR_CLOSED);
	expose_out_fini(&v->out);
	maybe_free(v);
}

static void
parse_head(struct visitor *v)
{
	const struct config *c = v->d->cfg;
	struct http1_limits lim = { c->max_head_size, c->max_headers };
	struct http1_request req;
	ssize_t n;

	if (buf_len(&v->in) == 0)
		return;
	if (v->state == VISITOR_IDLE)
		expose_set_state(v, VISITOR_HEAD);
	memset(&req, 0, sizeof(req));
	req.headers = hdr_slots;
	req.headers_cap = hdr_nslots;
	n = http1_parse_request((const char *)v->in.pos, buf_len(&v->in), v->scanned, &lim, &req);
	if (n == HT_AGAIN) {
		v->scanned = buf_len(&v->in);
		return;
	}
	v->rq.head = 0;
	if (n < 0) {
		log_debug("visitor %s: bad request head: %s", v->peer, http1_error_str(req.err));
		answer_str(v, http1_error_status(req.err), http1_error_str(req.err), 0, NULL);
		return;
	}
	if (req.minor_version == 1 && req.host_count != 1) {
		answer_str(v, 400, "exactly one Host header is required", 0, NULL);
		return;
	}
	if (v->port == 0 && expose_http_reserved(req.target, req.target_len)) {
		give_to_ctl(v);
		return;
	}
	start_request(v, &req, (size_t)n);
}

/* Bytes of a new exchange are buffered: parse them from the closing phase
 * (never recursively: one answer may end right away and start the next). */
static void
kick_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, kick_defer);

	(void)r;
	if (v->state != VISITOR_HEAD)
		return;
	parse_head(v);
	if (live(v))
		update_interest(v);
}

/* ---- after an answer: the next request, or linger and close ------------- */

/*
 * The last answer is written: shut the write side and read what the
 * visitor still sends for a while, so that closing with unread bytes does
 * not make the kernel send a reset that destroys the answer in flight.
 */
static void
linger(struct visitor *v)
{
	if (v->rd_eof || v->conn.err != 0) {
		visitor_close(v);
		return;
	}
	conn_shutdown(&v->conn);
	expose_out_fini(&v->out);
	expose_set_state(v, VISITOR_LINGER);
}

static void
linger_read(struct visitor *v)
{
	uint8_t sink[4096];
	ssize_t n = conn_read(&v->conn, sink, sizeof(sink));

	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n > 0)
		v->lingered += (size_t)n;
	if (n <= 0 || v->lingered > LINGER_MAX)
		visitor_close(v);
}

/* The answer is written: the next request, keep-alive idle, or linger and close. */
static void
exchange_next(struct visitor *v)
{
	if (!v->keep_alive || v->rd_eof) {
		linger(v);
		return;
	}
	exchange_reset(v);
	if (buf_cap(&v->out.buf) > OUT_KEEP)
		expose_out_fini(&v->out);
	/* big responses leave freed output buffers that malloc keeps */
	(void)util_heap_trim(reactor_now(&v->d->r));
	if (buf_len(&v->in) > 0) {
		expose_set_state(v, VISITOR_HEAD);
		reactor_defer(&v->d->r, &v->kick_defer, kick_cb);
		return;
	}
	expose_set_state(v, VISITOR_IDLE);
	v->scanned = 0;
	if (v->lent == 0)
		in_release(v); /* an idle connection keeps no buffer */
}

/* ---- upgrade ------------------------------------------------------------ */

static void
upgrade_done(struct expose_upgrade *u)
{
	struct visitor *v = container_of(u, struct visitor, up);

	touch_session(v->d, v->touch_s);
	v->touch_s = NULL;
	expose_set_state(v, VISITOR_CLOSED);
	maybe_free(v);
}

/* The 101 head is written: send what the visitor sent past its request, then pump. */
static void
upgrade_switch(struct visitor *v)
{
	struct daemon *d = v->d;
	struct stream *st = v->st;
	struct mux *m = v->mux;

	if (st == NULL) {
		visitor_close(v);
		return;
	}
	while (buf_len(&v->in) > 0) {
		size_t n = mux_allowance(m, st, buf_len(&v->in));

		if (n == 0)
			return; /* on_credit resumes */
		if (lend(v, v->in.pos, n) < 0) {
			visitor_close(v);
			return;
		}
		buf_consume(&v->in, n);
	}
	reactor_timer_stop(&d->r, &v->cont_timer);
	if (expose_upgrade_start(&v->up, d, m, st, &v->conn, v->peer, upgrade_done) < 0) {
		visitor_close(v); /* still owns st: RESET; the socket is closed */
		return;
	}
	v->st = NULL;
	v->mux = NULL;
	v->touch_s = m->owner;
	if (v->in_flight) {
		v->in_flight = 0;
		d->requests_in_flight--;
	}
	expose_set_state(v, VISITOR_UPGRADED);
}

/* ---- writing the response ----------------------------------------------- */

/* Write what out holds; then the next exchange or the upgrade when it is empty. */
static void
visitor_flush(struct visitor *v)
{
	v->head_held = 0;
	if (!live(v))
		return;
	if (expose_out_flush(&v->out, &v->conn) < 0) {
		visitor_close(v);
		return;
	}
	if (buf_len(&v->out.buf) == 0) {
		if (v->state == VISITOR_FLUSH)
			exchange_next(v);
		else if (v->state == VISITOR_UPGRADING)
			upgrade_switch(v);
	}
	update_interest(v);
}

/* Response DATA: framed, written through when nothing waits, the rest kept in out. */
static void
body_write(struct visitor *v, const uint8_t *p, size_t n)
{
	struct expose_http_piece pc;
	int joined, rc;

	expose_http_resp_body_data(&v->resp, n, &pc);
	credit(v, pc.drop);
	if (pc.take == 0)
		return;
	/* a held head leaves with the first body bytes in one sendmsg */
	joined = v->head_held && v->out.owed == 0 && buf_len(&v->out.buf) > 0;
	rc = expose_out_data(&v->out, &v->conn, joined || buf_len(&v->out.buf) == 0, &pc, p);
	if (rc < 0) {
		visitor_close(v);
		return;
	}
	if (joined)
		v->head_held = 0;
	if (rc == EXPOSE_OUT_FULL) {
		log_warn_kv(LOG_KV(LOG_S("peer", v->peer)),
			    "visitor %s: response spill over its bound, closing", v->peer);
		exchange_end(v, FRAME_CODE_ENHANCE_YOUR_CALM, "response buffer exceeded");
		visitor_close(v);
		return;
	}
	update_interest(v);
}

/* ---- the response arriving on the stream -------------------------------- */

static void
informational(struct visitor *v, const struct expose_http_head *h, size_t mark)
{
	if (h->status == 100) {
		if (!v->expect || v->continue_sent) {
			v->out.buf.last = v->out.buf.pos + mark; /* never two, never unasked */
			return;
		}
		v->continue_sent = 1;
		reactor_timer_stop(&v->d->r, &v->cont_timer);
	}
	visitor_flush(v);
}

static void
head_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, head_defer);

	(void)r;
	if (v->head_held && live(v))
		visitor_flush(v);
}

static void
response_start(struct visitor *v, const struct expose_http_head *h)
{
	struct daemon *d = v->d;

	reactor_timer_stop(&d->r, &v->cont_timer);
	metrics_ttfb_observe(&d->metrics, reactor_now(&d->r) - v->open_ms);
	count_response(v, h->status);
	if (h->status == 101) {
		/* raw bytes until the pump takes over */
		expose_http_resp_body_init(&v->resp, EXPOSE_HTTP_BODY_CLOSE, 0);
		expose_set_state(v, VISITOR_UPGRADING);
		visitor_flush(v);
		return;
	}
	expose_http_resp_body_init(&v->resp, h->body, h->length);
	v->keep_alive = v->keep_alive && h->keep_alive;
	if (v->rq.upgrade && !v->req_done) {
		v->req_done = 1; /* not upgraded: the request had no body */
		mux_send_eof(v->mux, v->st);
	}
	expose_set_state(v, VISITOR_RESPONSE);
	/* hold the head: the body usually follows in the same batch of tunnel input */
	v->head_held = 1;
	reactor_defer(&d->r, &v->head_defer, head_cb);
}

/* A stream-level fault once the response started: the visitor connection goes. */
static void
fail_after_head(struct visitor *v, unsigned code, const char *why)
{
	log_debug("visitor %s: %s, closing", v->peer, why);
	exchange_end(v, code, why);
	visitor_close(v);
}

static void
v_on_head(struct stream *st, const uint8_t *json, size_t n)
{
	struct visitor *v = st->owner;
	size_t mark = buf_len(&v->out.buf);
	struct expose_http_head h;

	if (v->state != VISITOR_WAIT) {
		fail_after_head(v, FRAME_CODE_PROTOCOL_ERROR, "response head after the final one");
		return;
	}
	if (v->informational >= EXPOSE_HTTP_MAX_INFORMATIONAL) {
		/* each one waits in out for the visitor: not without end */
		log_info_kv(LOG_KV(LOG_S("peer", v->peer)),
			    "visitor %s: more than %d informational heads from the tunnel client", v->peer,
			    EXPOSE_HTTP_MAX_INFORMATIONAL);
		exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "too many informational heads");
		answer_str(v, 502, "too many informational responses from the tunnel client", 0, NULL);
		return;
	}
	if (expose_http_response_head(&v->out.buf, json, n, &v->rq, &h) < 0) {
		log_info_kv(LOG_KV(LOG_S("peer", v->peer)),
			    "visitor %s: invalid response head from the tunnel client", v->peer);
		exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "invalid response head");
		answer_str(v, 502, "invalid response head from the tunnel client", reusable(v), NULL);
		return;
	}
	if (!h.final) {
		v->informational++;
		informational(v, &h, mark);
	} else {
		response_start(v, &h);
	}
}

static void
v_on_data(struct stream *st, const uint8_t *p, size_t n)
{
	struct visitor *v = st->owner;

	switch (v->state) {
	case VISITOR_RESPONSE:
	case VISITOR_UPGRADING: body_write(v, p, n); break;
	case VISITOR_WAIT:
		exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "DATA before the response head");
		answer_str(v, 502, "response body before its head", reusable(v), NULL);
		break;
	default:
		if (v->mux != NULL)
			mux_consumed(v->mux, st, n);
		break;
	}
}

static void
response_end(struct visitor *v)
{
	const char *tail;
	size_t tail_len;

	if (!expose_http_resp_body_end(&v->resp, &tail, &tail_len))
		v->keep_alive = 0; /* short body, or the end is the close itself */
	if (expose_out_append(&v->out, tail, tail_len) < 0)
		v->keep_alive = 0;
	if (!v->req_done)
		v->keep_alive = 0; /* the rest of the request body cannot be skipped safely */
	exchange_end(v, FRAME_CODE_CANCEL, "response complete");
	expose_set_state(v, VISITOR_FLUSH);
	visitor_flush(v);
}

static void
v_on_eof(struct stream *st)
{
	struct visitor *v = st->owner;

	switch (v->state) {
	case VISITOR_WAIT:
		exchange_end(v, FRAME_CODE_CANCEL, "EOF before the response head");
		answer_str(v, 502, "the tunnel client sent no response", reusable(v), NULL);
		break;
	case VISITOR_RESPONSE: response_end(v); break;
	case VISITOR_UPGRADING:
		v->keep_alive = 0;
		exchange_end(v, FRAME_CODE_CANCEL, "upgrade ended");
		expose_set_state(v, VISITOR_FLUSH);
		visitor_flush(v);
		break;
	default: break;
	}
}

static void
v_on_reset(struct stream *st, unsigned code, const char *reason, size_t rlen)
{
	struct visitor *v = st->owner;
	char detail[96];

	v->st = NULL; /* already reset: no frame goes back */
	st->ops = NULL;
	st->owner = NULL;
	if (v->state != VISITOR_WAIT) {
		fail_after_head(v, code, "reset by the tunnel client");
		return;
	}
	exchange_end(v, code, NULL);
	if (rlen == 0) {
		snprintf(detail, sizeof(detail), "request reset by the tunnel client (code %u)", code);
		reason = detail;
		rlen = strlen(detail);
	}
	answer(v, 502, reason, rlen, reusable(v), NULL);
}

static void
v_on_credit(struct stream *st)
{
	struct visitor *v = st->owner;

	if ((v->state == VISITOR_WAIT || v->state == VISITOR_RESPONSE) && !v->req_done && !v->rq.upgrade)
		send_body(v);
	else if (v->state == VISITOR_UPGRADING)
		visitor_flush(v);
	if (live(v))
		update_interest(v);
}

static void
v_on_close(struct stream *st)
{
	struct visitor *v = st->owner;

	if (v == NULL || v->st != st)
		return;
	v->st = NULL; /* being freed by the mux */
	switch (v->state) {
	case VISITOR_WAIT:
		exchange_end(v, FRAME_CODE_CANCEL, NULL);
		answer_str(v, 502, "the tunnel session ended", 0, NULL);
		break;
	case VISITOR_RESPONSE:
	case VISITOR_UPGRADING: fail_after_head(v, FRAME_CODE_CANCEL, "the tunnel session ended"); break;
	default: break;
	}
}

static const struct stream_ops visitor_stream_ops = {
	.on_data = v_on_data,
	.on_eof = v_on_eof,
	.on_reset = v_on_reset,
	.on_credit = v_on_credit,
	.on_head = v_on_head,
	.on_close = v_on_close,
};

/* ---- socket events and timers ------------------------------------------- */

/* The send timeout runs while a writing state has output waiting. */
static void
send_timer_update(struct visitor *v)
{
	if (!sending(v))
		return;
	if (buf_len(&v->out.buf) == 0) {
		v->send_timing = 0; /* the timer stays armed, and is ignored if it fires */
	} else if (!v->send_timing) {
		v->send_timing = 1;
		net_progress_mark(&v->out.sent, v->conn.fd);
		reactor_timer_start(&v->d->r, &v->timer, v->d->cfg->send_timeout_ms, 0);
	}
}

/* Socket interest from the state, the output and the stream's credit. */
static void
update_interest(struct visitor *v)
{
	unsigned want = 0;
	int rd = 0;

	if (!live(v))
		return;
	if (buf_len(&v->out.buf) > 0)
		want |= CONN_WRITE;
	send_timer_update(v);
	switch (v->state) {
	case VISITOR_IDLE:
	case VISITOR_HEAD: rd = 1; break;
	case VISITOR_WAIT:
	case VISITOR_RESPONSE:
		if (!v->req_done && !v->rq.upgrade)
			rd = v->st != NULL && mux_allowance(v->mux, v->st, 1) > 0;
		else
			rd = 1; /* pipelined bytes, or the visitor leaving */
		break;
	case VISITOR_FLUSH: rd = v->keep_alive; break;
	case VISITOR_LINGER: conn_interest(&v->conn, CONN_READ); return;
	default: break;
	}
	if (rd && !v->rd_eof && in_can_take(v))
		want |= CONN_READ;
	conn_interest(&v->conn, want);
}

static void
visitor_eof(struct visitor *v)
{
	v->rd_eof = 1;
	if (v->state == VISITOR_FLUSH) {
		v->keep_alive = 0; /* finish writing, then close */
		return;
	}
	if (v->state == VISITOR_WAIT || v->state == VISITOR_RESPONSE)
		log_debug("visitor %s: left with a request in flight", v->peer);
	visitor_close(v); /* cancels a stream in flight */
}

static void
on_readable(struct visitor *v)
{
	size_t room;
	ssize_t n;

	if (v->state == VISITOR_LINGER) {
		linger_read(v);
		return;
	}
	room = in_room(v);
	if (room == 0)
		return;
	n = conn_read(&v->conn, v->in.last, room);
	if (n < 0) {
		if (n != -EAGAIN && n != -EINTR)
			visitor_close(v);
		return;
	}
	if (n == 0) {
		visitor_eof(v);
		return;
	}
	buf_commit(&v->in, (size_t)n);
	switch (v->state) {
	case VISITOR_IDLE:
	case VISITOR_HEAD: parse_head(v); break;
	case VISITOR_WAIT:
	case VISITOR_RESPONSE:
		if (!v->req_done && !v->rq.upgrade) {
			v->got_body = 1;
			reactor_timer_stop(&v->d->r, &v->cont_timer);
			send_body(v);
		}
		break;
	default: break; /* kept for later */
	}
}

static void
v_on_io(struct conn *c, unsigned events)
{
	struct visitor *v = container_of(c, struct visitor, conn);

	if (events & CONN_WRITE)
		visitor_flush(v);
	if ((events & CONN_READ) && live(v) && !v->rd_eof)
		on_readable(v);
	if (live(v))
		update_interest(v);
}

/* The send timeout: close unless the visitor took a byte meanwhile. */
static void
send_timeout(struct visitor *v)
{
	if (net_progress_check(&v->out.sent, v->conn.fd)) {
		reactor_timer_start(&v->d->r, &v->timer, v->d->cfg->send_timeout_ms, 0);
		return;
	}
	log_info_kv(LOG_KV(LOG_S("peer", v->peer)),
		    "visitor %s: took no byte of its answer in %llu ms, closing", v->peer,
		    (unsigned long long)v->d->cfg->send_timeout_ms);
	exchange_end(v, FRAME_CODE_CANCEL, "visitor not reading");
	visitor_close(v);
}

static void
v_on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct visitor *v = container_of(t, struct visitor, timer);

	(void)r;
	switch (v->state) {
	case VISITOR_HEAD:
		log_debug("visitor %s: no complete request head in time", v->peer);
		answer_str(v, 408, "request head not received in time", 0, NULL);
		break;
	case VISITOR_IDLE:
	case VISITOR_LINGER: visitor_close(v); break;
	case VISITOR_WAIT:
		log_info_kv(LOG_KV(LOG_S("peer", v->peer)), "visitor %s: no response head in time", v->peer);
		exchange_end(v, FRAME_CODE_CANCEL, "response timeout");
		answer_str(v, 504, "no response from the tunnel client in time", reusable(v), NULL);
		break;
	case VISITOR_RESPONSE:
	case VISITOR_FLUSH:
	case VISITOR_UPGRADING:
		if (v->send_timing)
			send_timeout(v);
		break;
	default: break;
	}
	if (live(v))
		update_interest(v);
}

static void
v_on_continue(struct reactor *r, struct reactor_timer *t)
{
	struct visitor *v = container_of(t, struct visitor, cont_timer);

	(void)r;
	if (v->state != VISITOR_WAIT || !v->expect || v->continue_sent || v->got_body)
		return;
	if (expose_out_append(&v->out, continue_head, sizeof(continue_head) - 1) < 0) {
		visitor_close(v);
		return;
	}
	v->continue_sent = 1;
	visitor_flush(v);
}

/* ---- accepting ---------------------------------------------------------- */

/*
 * A visitor for port (0: routed by host) from peer, its conn not yet set;
 * NULL when the pool is empty (counted as a 503).
 */
static struct visitor *
visitor_new(struct daemon *d, const struct sockaddr_storage *peer, int port)
{
	struct visitor *v = slab_alloc(&d->visitors);

	if (v == NULL) {
		metrics_visitor_response(&d->metrics, 503);
		return NULL;
	}
	v->d = d;
	v->port = port;
	v->in_max = UTIL_MAX((size_t)d->cfg->max_head_size, (size_t)IN_BODY_MAX);
	expose_out_init(&v->out, 2 * (size_t)d->cfg->stream_initial_window + OUT_SLACK, credit, v);
	if (net_format_addr((const struct sockaddr *)peer, v->peer, sizeof(v->peer)) < 0)
		snprintf(v->peer, sizeof(v->peer), "unknown");
	if (net_format_ip((const struct sockaddr *)peer, v->peer_ip, sizeof(v->peer_ip)) < 0)
		snprintf(v->peer_ip, sizeof(v->peer_ip), "unknown");
	v->trusted = (uint8_t)forwarded_trusted(&d->fwd, (const struct sockaddr *)peer);
	reactor_timer_init(&v->timer, v_on_timer);
	reactor_timer_init(&v->cont_timer, v_on_continue);
	return v;
}

/* Watch the visitor's conn: 0, or -1 with the socket closed, its permit back and v freed. */
static int
visitor_go(struct visitor *v)
{
	struct daemon *d = v->d;

	(void)net_set_nodelay(v->conn.fd, 1);
	if (conn_start(&v->conn, CONN_READ) < 0) {
		conn_close(&v->conn);
		fdbudget_release(&d->fds, 1);
		slab_free(&d->visitors, v);
		return -1;
	}
	expose_set_state(v, VISITOR_HEAD); /* from IDLE: the head timer runs from accept */
	return 0;
}

/* An accepted socket fd (non-blocking, one FD permit) becomes a visitor for port (0: by host). */
static void
visitor_accept(struct daemon *d, int fd, const struct sockaddr_storage *peer, int port)
{
	struct visitor *v = visitor_new(d, peer, port);

	if (v == NULL) {
		(void)!send(fd, refusal, sizeof(refusal) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		fdbudget_release(&d->fds, 1);
		return;
	}
	conn_init(&v->conn, &d->r, fd, v_on_io);
	(void)visitor_go(v);
}

/* A connection accepted on an EXPOSE port. */
static void
visitor_start(struct bind_route *rt, int fd, const struct sockaddr_storage *peer)
{
	visitor_accept(rt->d, fd, peer, rt->port);
}

/* What EXPOSE listeners do with their connections (bind_register). */
static const struct bind_ops expose_bind_ops = {
	.refusal = refusal,
	.on_accept = visitor_start,
};

/* see expose.h */
void
expose_adopt(struct daemon *d, struct conn *from, const uint8_t *pre, size_t n)
{
	struct sockaddr_storage peer;
	struct visitor *v;

	net_peer_addr(from->fd, &peer);
	v = visitor_new(d, &peer, 0);
	if (v == NULL) {
		conn_close(from);
		fdbudget_release(&d->fds, 1);
		return;
	}
	conn_move(&v->conn, from, &d->r, v_on_io);
	if (visitor_go(v) < 0)
		return;
	if (n > 0 && (buf_reserve(&v->in, UTIL_MAX(n, (size_t)IN_INIT), 0, UTIL_MAX(n, v->in_max)) < 0 ||
		      buf_append(&v->in, pre, n) < 0)) {
		visitor_close(v);
		return;
	}
	reactor_defer(&d->r, &v->kick_defer, kick_cb);
}

/* A connection accepted on --vhost-listen. */
static void
vhost_accepted(void *arg, int fd, const struct sockaddr_storage *peer, int reserved)
{
	(void)reserved; /* the listener keeps no reserve */
	visitor_accept(arg, fd, peer, 0);
}

static void
vhost_on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	static const struct daemon_accept_ops ops = { .refusal = refusal, .on_accept = vhost_accepted };
	struct daemon *d = container_of(w, struct daemon, vhost.w);

	(void)r;
	(void)events;
	daemon_accept_batch(d, d->vhost.fd, &ops, NULL, d);
}

/* see expose.h */
int
expose_vhost_start(struct daemon *d)
{
	int rc = daemon_listen(d, &d->vhost, "vhost-listen", "vhost", d->cfg->vhost_listen, 80,
			       vhost_on_accept);

	if (rc == -ENOENT)
		return 0; /* neither --vhost-listen nor a socket named "vhost" */
	if (rc == 0 && d->cfg->domain == NULL) {
		log_error("--vhost-listen: a socket named 'vhost' was passed, but there is no --domain to "
			  "route by");
		return -1;
	}
	return rc;
}

/* see expose.h */
void
expose_vhost_stop(struct daemon *d)
{
	if (d->vhost.fd >= 0)
		daemon_listener_stop(d, &d->vhost);
}

/* ---- the pool ----------------------------------------------------------- */

/* see expose.h */
int
expose_init(struct daemon *d)
{
	long lim = util_nofile();
	uint32_t cap = (uint32_t)UTIL_MIN(UTIL_MAX(lim, 64L), 1L << 22);
	int rc;

	bind_register(BIND_EXPOSE, &expose_bind_ops);
	hdr_nslots = d->cfg->max_headers > 0 ? d->cfg->max_headers : HTTP1_DEFAULT_MAX_HEADERS;
	hdr_slots = calloc(hdr_nslots, sizeof(*hdr_slots));
	if (hdr_slots == NULL)
		return -ENOMEM;
	rc = slab_init(&d->visitors, sizeof(struct visitor), cap, 256);
	if (rc < 0) {
		free(hdr_slots);
		hdr_slots = NULL;
	}
	return rc;
}

/* see expose.h */
void
expose_fini(struct daemon *d)
{
	struct visitor *v;
	uint32_t i = 0;

	while ((v = slab_next(&d->visitors, &i)) != NULL) {
		conn_close(&v->conn); /* no reactor call: the loop is gone */
		expose_upgrade_fini(&v->up);
		buf_fini(&v->in);
		expose_out_fini(&v->out);
	}
	slab_fini(&d->visitors);
	while (in_nspare > 0)
		free(in_spare[--in_nspare]);
	free(hdr_slots);
	hdr_slots = NULL;
	hdr_nslots = 0;
}
