/*
 * local_int.h: what the two halves of htc's local HTTP side share, and
 * nobody else.
 *
 * local.c owns requests and connections: the keep-alive pool, a
 * request's lifetime, writing the request to the local service, and the
 * socket events. local_resp.c reads the response and turns it into
 * STREAM_RESPONSE_HEAD, DATA (lent from a ring) and EOF, and hands an
 * upgraded socket to a pump. Everything runs on the client's reactor.
 */
#ifndef HT_HTC_LOCAL_INT_H
#define HT_HTC_LOCAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "client.h"
#include "local_codec.h"
#include "http1.h"
#include "pump.h"
#include "reactor.h"
#include "ring.h"
#include "stream.h"

struct lreq;

/* One connection to a local service: busy (req set) or idle in the pool. */
struct lconn {
	struct local_pool *pool;   /* NULL once closed or orphaned */
	struct lreq *req;          /* the request it serves, NULL when idle */
	struct lconn *prev, *next; /* pool->conns while open */
	struct reactor *r;
	int fd;
	int connecting;            /* non-blocking connect in progress */
	int reused;                /* it served an earlier request */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct reactor_watcher w;
	struct reactor_deferred free_defer;
};

struct local_pool {
	struct lconn *conns; /* every open connection */
	struct lreq *reqs;   /* every request not yet freed */
	unsigned nidle;
};

enum lreq_state {
	LREQ_HEAD,    /* the request goes out; waiting for the final response head */
	LREQ_BODY,    /* final head sent; the body goes out as DATA */
	LREQ_UPGRADE, /* 101 sent; bytes read past it go out, then the socket moves to the pump */
	LREQ_PUMP,    /* the pump owns the socket and the stream */
	LREQ_DONE,    /* response ended or stream reset: waiting to be freed */
	LREQ_STATE_MAX
};

struct lreq {
	struct client *c;
	struct local_pool *pool;   /* NULL once orphaned */
	struct lreq *prev, *next;  /* pool->reqs */
	struct stream *s;          /* NULL once the stream is gone or with the pump */
	struct lconn *conn;
	enum lreq_state state;
	struct local_request rq;
	enum local_framing framing;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char method[48];           /* for the log */
	char *target;
	uint64_t start_ms;
	/* request: tunnel -> local */
	struct buf head;           /* whole request head, kept for a retry */
	size_t head_off;           /* bytes of it written on the current connection */
	struct buf spill;          /* body bytes (with framing) the socket has not taken */
	size_t spill_payload;      /* DATA bytes in spill not yet credited (upper bound) */
	uint64_t body_in;          /* DATA bytes received */
	uint8_t head_ready;        /* framing decided: the head is complete */
	uint8_t req_complete;      /* the whole body and its framing are queued */
	uint8_t peer_eof;
	uint8_t wrote_body;        /* a body byte went to (or was lost on) this connection */
	uint8_t wr_dead;           /* writing failed: the rest is dropped */
	uint8_t shut_pending;      /* EOF came short of Content-Length: half-close once drained */
	uint8_t retried;
	uint8_t reusable;          /* the connection may be pooled after the response */
	uint8_t got_bytes;         /* a response byte arrived on this connection */
	uint8_t logged, orphan, pump_live;
	/* response: local -> tunnel */
	struct buf in;             /* response head bytes and what followed them */
	size_t in_scanned;         /* last_len for http1_parse_response */
	int status;                /* status of the final head sent, 0 before */
	unsigned informational;    /* 1xx heads sent so far */
	int keep_alive;
	enum http1_body body;
	uint64_t remaining;        /* LENGTH: body bytes still to come */
	struct http1_chunked chunked;
	struct ring ring;          /* DATA lent to the tunnel (ring.h) */
	uint32_t lent;
	uint64_t bytes_out;
	struct reactor_deferred defer; /* resume work, or free */
	struct pump pump;
};

/* ---- local.c ------------------------------------------------------------- */

/* The stream callbacks of an EXPOSE request (the request side). */
extern const struct stream_ops local_stream_ops;

/* A fresh connection to r's address, connecting; NULL when that failed. */
struct lconn *local_conn_connect(struct lreq *r);

/* Close a connection (freed from a deferred callback). */
void local_conn_close(struct lconn *k);

/* Bytes of the request head not yet written on the current connection. */
size_t local_head_left(const struct lreq *r);

/* Socket interest from the request's state, spill, ring and credit. */
void local_update(struct lreq *r);

/* End the request with a RESET (unless the stream is already closed). */
void local_fail(struct lreq *r, unsigned code, const char *reason);

/* The response is complete: EOF, and the connection back to the pool if clean. */
void local_finish(struct lreq *r);

/* Log the request once (the client's on_request callback). */
void local_log(struct lreq *r);

/* Nothing refers to r any more: free now (local_free) or after the batch (local_maybe_free). */
int local_freeable(const struct lreq *r);
void local_free(struct lreq *r);
void local_maybe_free(struct lreq *r);

/* The request's deferred work: resume the body or the upgrade, or free. */
void local_defer_cb(struct reactor *rc, struct reactor_deferred *d);

/* ---- local_resp.c ----------------------------------------------------------- */

/* Read response head bytes from the local service and parse them. */
void local_resp_head_read(struct lreq *r);

/* Move body bytes while there is credit, ring space and input (sock: read the socket too). */
void local_resp_body(struct lreq *r, int sock);

/* After a 101: send what was read past the head, then hand the socket to a pump. */
void local_resp_upgrade(struct lreq *r);

#endif
