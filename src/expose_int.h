/*
 * expose_int.h: what the two halves of the visitor machine share, and
 * nobody else.
 *
 * expose.c owns a visitor's life: accepting, reading the request (head,
 * body lent to the tunnel as DATA), timers, keep-alive and lingering.
 * expose_resp.c writes to the visitor: the response arriving on the
 * stream (head, body, end), the daemon's own answers, and the switch to a
 * pump after a 101. Everything runs on the reactor thread.
 */
#ifndef HT_EXPOSE_INT_H
#define HT_EXPOSE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "daemon.h"
#include "expose_http.h"
#include "http1.h"
#include "mux.h"
#include "net.h"
#include "pump.h"
#include "reactor.h"
#include "stream.h"

/*
 * Visitor states. One request/response exchange at a time; the request
 * side (body still to send, req_done) runs beside WAIT and RESPONSE.
 */
enum visitor_state {
	VISITOR_IDLE,	   /* keep-alive between requests, nothing buffered: the idle timer runs */
	VISITOR_HEAD,	   /* reading a request head: the head timer runs from its first byte */
	VISITOR_WAIT,	   /* STREAM_OPEN sent, waiting for the response head: the response timer runs */
	VISITOR_RESPONSE,  /* response head written, body DATA written through */
	VISITOR_FLUSH,	   /* answer complete: write what is left, then the next request or close */
	VISITOR_LINGER,	   /* last answer written, write side shut: drop input, then close */
	VISITOR_UPGRADING, /* 101 accepted: its head or bytes read past the request still to go */
	VISITOR_UPGRADED,  /* the socket belongs to the pump */
	VISITOR_CLOSED,	   /* socket closed; freed once no DATA lent from `in` is queued */
	VISITOR_STATE_MAX
};

struct visitor {
	enum visitor_state state;
	int fd; /* -1 once closed or handed to the pump */
	struct daemon *d;
	int port;		    /* its binding is looked up again per request: bindings come and go */
	char peer[NET_ADDR_STRLEN]; /* "ip:port" */
	char peer_ip[NET_ADDR_STRLEN];
	uint8_t trusted;              /* the peer is a --trusted-proxy */
	struct reactor_watcher w;
	struct reactor_timer timer;	     /* head, idle, response, send or linger timeout, by state */
	struct net_progress sent;            /* does the visitor take its answer (send timeout) */
	struct reactor_timer cont_timer;     /* our own 100 Continue */
	struct reactor_deferred kick_defer;  /* parse a buffered (pipelined) request */
	struct reactor_deferred touch_defer; /* tell the session a stream ended */
	struct reactor_deferred free_defer;
	struct reactor_deferred head_defer;  /* write a held response head at the end of the batch */
	uint8_t head_held;                   /* the head waits in out to leave with the first body bytes */
	struct session *touch_s;
	/* request bytes: head, body (lent to the tunnel), pipelined requests */
	struct buf in;
	size_t in_max;
	size_t scanned; /* head bytes searched already (http1 last_len) */
	uint32_t lent;	/* DATA frames pointing into `in` still queued in a tunnel */
	/* response bytes the socket has not taken */
	struct buf out;
	size_t owed; /* payload bytes in out whose credit is not returned yet */
	size_t out_max;
	uint8_t rd_eof, keep_alive, in_flight, freeing;
	size_t lingered; /* bytes dropped while lingering */
	/* the current exchange */
	struct mux *mux;
	struct stream *st;
	struct expose_http_req rq;
	enum http1_body req_body;
	uint64_t req_left; /* Content-Length body bytes still to send */
	struct http1_chunked ck;
	uint64_t open_ms;
	uint8_t req_done; /* nothing more to send upstream (EOF sent) */
	uint8_t got_body; /* body bytes arrived (no 100 Continue needed) */
	uint8_t expect, continue_sent;
	uint8_t informational; /* 1xx heads of this response so far */
	enum expose_http_body body;
	uint64_t resp_left; /* EXPOSE_HTTP_BODY_LENGTH bytes still to write */
	struct pump pump;   /* after a 101 */
};

/* Neither closed nor handed to a pump: the visitor still owns its socket. */
static inline int
expose_live(const struct visitor *v)
{
	return v->state != VISITOR_CLOSED && v->state != VISITOR_UPGRADED;
}

/* Writing a response: the timer is the send timeout while output waits. */
static inline int
expose_sending(const struct visitor *v)
{
	return v->state == VISITOR_RESPONSE || v->state == VISITOR_FLUSH || v->state == VISITOR_UPGRADING;
}

/* After an error answer: may the connection carry another request? */
static inline int
expose_reusable(const struct visitor *v)
{
	return v->req_done && !v->rq.upgrade;
}

/* ---- expose.c ----------------------------------------------------------- */

/* Enter st and start the timer that state runs (head, idle, response, linger). */
void expose_set_state(struct visitor *v, enum visitor_state st);

/* Free a CLOSED visitor once no DATA lent from its input is queued. */
void expose_maybe_free(struct visitor *v);

/* Tell session t (if it still exists) that one of its streams ended. */
void expose_touch_session(struct daemon *d, struct session *t);

/* The exchange is over for the tunnel: RESET(code) an open stream, detach it. */
void expose_exchange_end(struct visitor *v, unsigned code, const char *reason);

/* Close the socket (cancelling a stream in flight); freed when nothing is lent. */
void expose_close(struct visitor *v);

/* The answer is written: the next request, keep-alive idle, or linger and close. */
void expose_exchange_next(struct visitor *v);

/* Socket interest from the state, the output and the stream's credit. */
void expose_update_interest(struct visitor *v);

/* Send n bytes of `in` as DATA (zero copy: `in` stays put until done). 0 or -1. */
int expose_lend(struct visitor *v, const uint8_t *p, size_t n);

/* Send the de-framed request body buffered in `in`, within credit. */
void expose_send_body(struct visitor *v);

/* ---- expose_resp.c ------------------------------------------------------ */

/* The stream callbacks of a visitor's request (the response side). */
extern const struct stream_ops expose_resp_stream_ops;

/* Write what out holds; then the next exchange or the upgrade when it is empty. */
void expose_resp_flush(struct visitor *v);

/* Append to out. 0, or -1 when out of memory. */
int expose_resp_append(struct visitor *v, const void *p, size_t n);

/*
 * The daemon's own answer (status, text detail, extra header lines),
 * then close or go on as keep_alive allows.
 */
void expose_resp_answer(struct visitor *v, int status, const char *detail, size_t dlen, int keep_alive,
			const char *extra);
void expose_resp_answer_str(struct visitor *v, int status, const char *detail, int keep_alive, const char *extra);

#endif
