/*
 * local.c: the local side of EXPOSE streams in htc (see local.h).
 *
 * One struct lreq serves one stream: it writes the request to a connection
 * to the local service and turns the response into STREAM_RESPONSE_HEAD,
 * DATA and EOF. Connections (struct lconn) are kept alive in a pool per
 * client and reused by later requests to the same address.
 *
 * Request (tunnel -> local): the head is built once from STREAM_OPEN and
 * kept whole, so a request whose pooled connection turns out dead can be
 * sent again on a fresh one. DATA is written through at once with one
 * sendmsg() (head remainder, chunk header, payload, CRLF); what the socket
 * does not take is copied into a spill buffer. Credit (mux_consumed) is
 * returned only for payload bytes that reached the socket, so the spill is
 * bounded by the stream window.
 *
 * Response (local -> tunnel): the head is read into `in` and parsed; the
 * body is read into a ring whose bytes are lent to the tunnel as DATA (no
 * copy) until their done callback, with chunked bodies decoded in place. A
 * read happens only with credit and ring space. After a 101 the socket and
 * the stream are handed to a struct pump.
 *
 * Lifetime: a request is freed from a deferred callback once its stream
 * is gone, every lent DATA came back and its connection is released.
 * Connections are freed from a deferred callback too (the reactor's close
 * rule). local_http_fini() orphans what cannot be freed at once: the last
 * done callback (or the pump's) frees it without touching the pool.
 */
#include "htc/local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "htc/local_codec.h"
#include "http1.h"
#include "net.h"
#include "pump.h"
#include "ring.h"
#include "util.h"

#define LOCAL_HEAD_MAX (128 * 1024)     /* request head built from STREAM_OPEN */
#define LOCAL_RESP_HEAD_MAX (32 * 1024) /* response head (JSON must fit in one frame) */
#define LOCAL_RESP_HEADERS 128
#define LOCAL_JSON_TOKENS 1024
#define LOCAL_RING_MIN 4096
#define LOCAL_RING_MAX (256 * 1024)
#define LOCAL_IDLE_MAX 1024   /* idle keep-alive connections kept per client (no churn at 1,000 visitors) */
#define LOCAL_READS_PER_EVENT 4

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

static const struct stream_ops lreq_ops;

static void lreq_fail(struct lreq *r, unsigned code, const char *reason);
static void lreq_update(struct lreq *r);
static void resp_body(struct lreq *r, int sock);
static void upgrade_step(struct lreq *r);
static void out_drain(struct lreq *r);
static void conn_on_io(struct reactor *rc, struct reactor_watcher *w, unsigned events);

/* ---- the pool ---------------------------------------------------------- */

static struct local_pool *
pool_get(struct client *c)
{
	if (c->local_pool == NULL)
		c->local_pool = calloc(1, sizeof(struct local_pool));
	return c->local_pool;
}

static void
conn_free_cb(struct reactor *rc, struct reactor_deferred *d)
{
	(void)rc;
	free(container_of(d, struct lconn, free_defer));
}

static void
conn_unlink(struct lconn *k)
{
	struct local_pool *p = k->pool;

	if (p == NULL)
		return;
	if (k->req == NULL && k->fd >= 0)
		p->nidle--;
	if (k->prev)
		k->prev->next = k->next;
	else
		p->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->pool = NULL;
}

/* Close k (fd too unless it was handed over) and free it after the batch. */
static void
conn_close(struct lconn *k)
{
	conn_unlink(k);
	if (k->fd >= 0) {
		reactor_watcher_stop(k->r, &k->w);
		close(k->fd);
		k->fd = -1;
	}
	k->req = NULL;
	reactor_defer(k->r, &k->free_defer, conn_free_cb);
}

/* 1 when an idle connection still looks usable: no EOF, no stray bytes. */
static int
conn_alive(int fd)
{
	char x;
	ssize_t n = recv(fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct lconn *
conn_take_idle(struct local_pool *p, struct lreq *r)
{
	struct lconn *k = p->conns, *next;

	for (; k != NULL; k = next) {
		next = k->next;
		if (k->req != NULL || k->addr_len != r->addr_len || memcmp(&k->addr, &r->addr, r->addr_len) != 0)
			continue;
		p->nidle--;
		k->req = r;
		if (conn_alive(k->fd))
			return k;
		conn_close(k);
	}
	return NULL;
}

/* A new connection to r's address, connecting. NULL when it failed at once. */
static struct lconn *
conn_connect(struct lreq *r)
{
	struct lconn *k = calloc(1, sizeof(*k));
	int fd;

	if (k == NULL)
		return NULL;
	fd = net_connect((const struct sockaddr *)&r->addr, r->addr_len);
	if (fd < 0) {
		free(k);
		return NULL;
	}
	k->fd = fd;
	k->r = &r->c->r;
	k->connecting = 1;
	k->addr = r->addr;
	k->addr_len = r->addr_len;
	k->req = r;
	reactor_watcher_init(&k->w, fd, conn_on_io);
	if (reactor_watcher_start(k->r, &k->w, REACTOR_WRITE) < 0) {
		close(fd);
		free(k);
		return NULL;
	}
	k->pool = r->pool;
	k->next = r->pool->conns;
	if (k->next)
		k->next->prev = k;
	r->pool->conns = k;
	return k;
}

/* The request is done with k: keep it idle in the pool, or close it. */
static void
conn_release(struct lconn *k, int keep)
{
	struct local_pool *p = k->pool;

	if (!keep || p == NULL || p->nidle >= LOCAL_IDLE_MAX || k->connecting) {
		conn_close(k);
		return;
	}
	k->req = NULL;
	k->reused = 1;
	p->nidle++;
	reactor_watcher_set(k->r, &k->w, REACTOR_READ);
}

/* ---- request lifetime -------------------------------------------------- */

static void
lreq_unlink(struct lreq *r)
{
	struct local_pool *p = r->pool;

	if (p == NULL)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		p->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->pool = NULL;
}

static void
lreq_free(struct lreq *r)
{
	lreq_unlink(r);
	buf_fini(&r->head);
	buf_fini(&r->spill);
	buf_fini(&r->in);
	ring_release(&r->ring);
	free(r->target);
	free(r);
}

static int
lreq_freeable(const struct lreq *r)
{
	return r->s == NULL && r->conn == NULL && r->lent == 0 && !r->pump_live &&
	       (r->state == LREQ_DONE || r->orphan);
}

static void
defer_cb(struct reactor *rc, struct reactor_deferred *d)
{
	struct lreq *r = container_of(d, struct lreq, defer);

	(void)rc;
	if (lreq_freeable(r)) {
		lreq_free(r);
		return;
	}
	if (r->orphan || r->s == NULL)
		return;
	if (r->state == LREQ_BODY)
		resp_body(r, 0);
	else if (r->state == LREQ_UPGRADE)
		upgrade_step(r);
	lreq_update(r);
}

/* Free r after the current batch when nothing refers to it any more. */
static void
lreq_maybe_free(struct lreq *r)
{
	if (lreq_freeable(r))
		reactor_defer(&r->c->r, &r->defer, defer_cb);
}

static void
lreq_log(struct lreq *r)
{
	struct client *c = r->c;

	if (r->logged)
		return;
	r->logged = 1;
	if (c->ev != NULL && c->ev->on_request != NULL)
		c->ev->on_request(c, r->method, r->target ? r->target : "-", r->status,
				  reactor_now(&c->r) - r->start_ms, r->bytes_out);
}

/* Return the credit of body bytes that will never reach the local service. */
static void
drop_spill(struct lreq *r)
{
	if (r->s != NULL && r->spill_payload > 0)
		mux_consumed(&r->c->mux, r->s, r->spill_payload);
	if (buf_len(&r->spill) > 0)
		r->wrote_body = 1;
	r->spill_payload = 0;
	buf_reset(&r->spill, 0);
}

/* Give up the connection (pooled when keep), crediting what it will not take. */
static void
lreq_drop_conn(struct lreq *r, int keep)
{
	struct lconn *k = r->conn;

	if (k == NULL)
		return;
	r->conn = NULL;
	drop_spill(r);
	conn_release(k, keep);
}

/* End the request with a RESET (unless the stream is already closed). */
static void
lreq_fail(struct lreq *r, unsigned code, const char *reason)
{
	struct stream *s = r->s;

	if (r->state == LREQ_DONE)
		return;
	r->state = LREQ_DONE;
	lreq_drop_conn(r, 0);
	lreq_log(r);
	if (s != NULL && s->state != STREAM_CLOSED)
		mux_send_reset(&r->c->mux, s, code, reason);
	lreq_maybe_free(r);
}

/* The response is complete: EOF, and the connection back to the pool if clean. */
static void
lreq_finish(struct lreq *r)
{
	int keep = r->keep_alive && r->reusable && r->req_complete && !r->wr_dead && buf_len(&r->in) == 0 &&
		   buf_len(&r->spill) == 0 && r->head_off == buf_len(&r->head);

	r->state = LREQ_DONE;
	lreq_drop_conn(r, keep);
	lreq_log(r);
	if (r->s != NULL)
		mux_send_eof(&r->c->mux, r->s);
	lreq_maybe_free(r);
}

/* ---- request: tunnel -> local ------------------------------------------ */

static int
spill_add(struct lreq *r, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(&r->spill, n, 0, 0) < 0)
		return -1;
	return buf_append(&r->spill, p, n);
}

/* sendmsg() of iov[0..n): bytes written, 0 when the socket is full, -1 when it failed. */
static ssize_t
send_iov(struct lreq *r, struct iovec *iov, int n)
{
	struct msghdr mh;
	ssize_t k;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	do
		k = sendmsg(r->conn->fd, &mh, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	/* the peer is gone: stop writing, let the read side tell what happened */
	r->wr_dead = 1;
	drop_spill(r);
	return -1;
}

/* Bytes of the head still to write on this connection. */
static size_t
head_left(const struct lreq *r)
{
	return r->head_ready ? buf_len(&r->head) - r->head_off : 0;
}

static int
can_write(const struct lreq *r)
{
	return r->conn != NULL && !r->conn->connecting && r->head_ready && !r->wr_dead;
}

/* Account k written bytes against the head; returns what is left of k. */
static size_t
took_head(struct lreq *r, size_t k)
{
	size_t h = UTIL_MIN(k, head_left(r));

	r->head_off += h;
	return k - h;
}

/*
 * Queue pre[0..pn) p[0..n) post[0..qn) (p is DATA payload, the others
 * framing) behind what is pending, writing through when possible.
 */
static void
out_queue(struct lreq *r, const void *pre, size_t pn, const uint8_t *p, size_t n, const void *post, size_t qn)
{
	struct iovec iov[4];
	size_t k = 0, pw, dw, qw;
	ssize_t w = 0;
	int niov = 0;

	if (!r->wr_dead && can_write(r) && buf_len(&r->spill) == 0) {
		if (head_left(r) > 0)
			iov[niov++] = (struct iovec){ r->head.pos + r->head_off, head_left(r) };
		iov[niov++] = (struct iovec){ (void *)(uintptr_t)pre, pn };
		iov[niov++] = (struct iovec){ (void *)(uintptr_t)p, n };
		iov[niov++] = (struct iovec){ (void *)(uintptr_t)post, qn };
		w = send_iov(r, iov, niov);
		if (w > 0)
			k = took_head(r, (size_t)w);
	}
	if (r->wr_dead) {
		/* nothing more reaches the local service: credit it, forbid a retry */
		r->wrote_body |= pn + n + qn > 0;
		if (n > 0)
			mux_consumed(&r->c->mux, r->s, n);
		return;
	}
	pw = UTIL_MIN(k, pn);
	dw = UTIL_MIN(k - pw, n);
	qw = UTIL_MIN(k - pw - dw, qn);
	if (pw + dw + qw > 0)
		r->wrote_body = 1;
	if (dw > 0)
		mux_consumed(&r->c->mux, r->s, dw);
	if (spill_add(r, (const uint8_t *)pre + pw, pn - pw) < 0 || spill_add(r, p + dw, n - dw) < 0 ||
	    spill_add(r, (const uint8_t *)post + qw, qn - qw) < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	r->spill_payload += n - dw;
	lreq_update(r);
}

/*
 * The visitor's body ended short of its Content-Length: once what we have
 * is written, half-close so that the local service sees the truncation
 * instead of waiting for bytes that will never come.
 */
static void
maybe_shut(struct lreq *r)
{
	if (r->shut_pending && can_write(r) && head_left(r) == 0 && buf_len(&r->spill) == 0) {
		r->shut_pending = 0;
		shutdown(r->conn->fd, SHUT_WR);
	}
}

/* The socket is writable: write the head remainder and the spill. */
static void
out_drain(struct lreq *r)
{
	struct iovec iov[2];
	size_t k, bound;
	ssize_t w;
	int niov = 0;

	if (!can_write(r))
		return;
	if (head_left(r) > 0)
		iov[niov++] = (struct iovec){ r->head.pos + r->head_off, head_left(r) };
	if (buf_len(&r->spill) > 0)
		iov[niov++] = (struct iovec){ r->spill.pos, buf_len(&r->spill) };
	w = niov > 0 ? send_iov(r, iov, niov) : 0;
	if (w < 0)
		return;
	k = took_head(r, (size_t)w);
	if (k == 0) {
		maybe_shut(r);
		return;
	}
	r->wrote_body = 1;
	buf_consume(&r->spill, k);
	/* payload bytes still in the spill are at most what is left in it */
	bound = UTIL_MIN(r->spill_payload, buf_len(&r->spill));
	if (r->s != NULL && r->spill_payload > bound)
		mux_consumed(&r->c->mux, r->s, r->spill_payload - bound);
	r->spill_payload = bound;
	if (buf_len(&r->spill) == 0)
		buf_reset(&r->spill, 0);
	maybe_shut(r);
}

/* The body framing is known: complete the head. 0 or -errno. */
static int
decide(struct lreq *r, enum local_framing f)
{
	int rc;

	r->framing = f;
	rc = local_codec_request_end(&r->head, LOCAL_HEAD_MAX + 64, &r->rq, f);
	if (rc < 0)
		return rc;
	r->head_ready = 1;
	if (f == LOCAL_FRAMING_NONE || (f == LOCAL_FRAMING_LENGTH && r->rq.content_length == 0))
		r->req_complete = 1;
	return 0;
}

static void
s_on_data(struct stream *s, const uint8_t *p, size_t n)
{
	struct lreq *r = s->owner;
	char hdr[HTTP1_CHUNK_HEADER_MAX];

	r->body_in += n;
	if (r->state == LREQ_DONE || r->conn == NULL) {
		mux_consumed(&r->c->mux, s, n);
		return;
	}
	if (r->framing == LOCAL_FRAMING_UNDECIDED && decide(r, LOCAL_FRAMING_CHUNKED) < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (r->framing == LOCAL_FRAMING_CHUNKED) {
		out_queue(r, hdr, http1_chunk_header(hdr, n), p, n, HTTP1_CHUNK_END, HTTP1_CHUNK_END_LEN);
		return;
	}
	if (r->framing == LOCAL_FRAMING_LENGTH && r->body_in > r->rq.content_length) {
		lreq_fail(r, FRAME_CODE_PROTOCOL_ERROR, "request body longer than Content-Length");
		return;
	}
	if (r->framing == LOCAL_FRAMING_LENGTH && r->body_in == r->rq.content_length)
		r->req_complete = 1;
	out_queue(r, NULL, 0, p, n, NULL, 0);
}

static void
s_on_eof(struct stream *s)
{
	struct lreq *r = s->owner;

	r->peer_eof = 1;
	if (r->state == LREQ_DONE || r->conn == NULL)
		return;
	switch (r->framing) {
	case LOCAL_FRAMING_UNDECIDED:
		if (decide(r, LOCAL_FRAMING_NONE) < 0) {
			lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
			return;
		}
		out_drain(r);
		break;
	case LOCAL_FRAMING_CHUNKED:
		r->req_complete = 1;
		out_queue(r, HTTP1_LAST_CHUNK, HTTP1_LAST_CHUNK_LEN, NULL, 0, NULL, 0);
		return;
	case LOCAL_FRAMING_LENGTH:
		if (r->body_in != r->rq.content_length) {
			r->reusable = 0;
			r->shut_pending = 1;
			maybe_shut(r);
		}
		break;
	default:
		break; /* RAW: the pump learns it from the socket's half-close */
	}
	if (r->state != LREQ_DONE)
		lreq_update(r);
}

static void
s_on_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	struct lreq *r = s->owner;

	(void)code;
	(void)reason;
	(void)rlen;
	if (r->state == LREQ_DONE)
		return;
	r->state = LREQ_DONE;
	lreq_drop_conn(r, 0);
	lreq_log(r);
}

static void
s_on_credit(struct stream *s)
{
	struct lreq *r = s->owner;

	if (r->state == LREQ_BODY)
		resp_body(r, 0);
	else if (r->state == LREQ_UPGRADE)
		upgrade_step(r);
	if (r->state != LREQ_DONE)
		lreq_update(r);
}

static void
s_on_close(struct stream *s)
{
	struct lreq *r = s->owner;

	r->s = NULL;
	s->owner = NULL;
	s->ops = NULL;
	if (r->state != LREQ_DONE) {
		/* dropped: the tunnel went away */
		r->state = LREQ_DONE;
		lreq_drop_conn(r, 0);
		lreq_log(r);
	}
	lreq_maybe_free(r);
}

static const struct stream_ops lreq_ops = {
	.on_data = s_on_data,
	.on_eof = s_on_eof,
	.on_reset = s_on_reset,
	.on_credit = s_on_credit,
	.on_head = NULL,
	.on_close = s_on_close,
};

/* ---- response: local -> tunnel ----------------------------------------- */

static int
lreq_ring_alloc(struct lreq *r)
{
	size_t cap = LOCAL_RING_MAX;

	if (r->ring.mem != NULL)
		return 0;
	if (r->state == LREQ_BODY && r->body == HTTP1_BODY_LENGTH && r->remaining < cap)
		cap = UTIL_MAX((size_t)r->remaining, (size_t)LOCAL_RING_MIN);
	else if (r->state == LREQ_UPGRADE)
		cap = UTIL_MAX(buf_len(&r->in), (size_t)LOCAL_RING_MIN);
	return ring_alloc(&r->ring, cap) < 0 ? -1 : 0;
}

static void
lent_done(void *arg, uint32_t len, int sent)
{
	struct lreq *r = arg;

	(void)sent;
	r->lent--;
	ring_back(&r->ring, len);
	if (r->orphan) {
		if (lreq_freeable(r) && !r->defer.queued)
			lreq_free(r);
		return;
	}
	if ((r->state == LREQ_BODY || r->state == LREQ_UPGRADE) && buf_len(&r->in) > 0)
		reactor_defer(&r->c->r, &r->defer, defer_cb); /* bytes wait for ring space */
	else if (r->state == LREQ_BODY)
		lreq_update(r);
	else
		lreq_maybe_free(r);
}

/* Send ring[start..start+n) as DATA. 0, or -1 (request failed). */
static int
send_ring(struct lreq *r, size_t start, size_t n)
{
	if (n == 0)
		return 0;
	if (mux_send_data(&r->c->mux, r->s, r->ring.mem + start, (uint32_t)n, lent_done, r) < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "tunnel gone");
		return -1;
	}
	ring_lend(&r->ring, start, n);
	r->lent++;
	r->bytes_out += n;
	return 0;
}

/* Decode the chunked bytes ring[start..start+n) in place and send the data. */
static int
body_chunked(struct lreq *r, size_t start, size_t n)
{
	uint8_t *base = r->ring.mem + start;
	size_t off = 0, out = 0;

	while (off < n && !http1_chunked_done(&r->chunked)) {
		const uint8_t *d;
		size_t dl;
		ssize_t k = http1_chunked_decode(&r->chunked, base + off, n - off, &d, &dl);

		if (k < 0) {
			lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad chunked body from the local service");
			return -1;
		}
		if (dl > 0) {
			memmove(base + out, d, dl);
			out += dl;
		}
		off += (size_t)k;
		if (k == 0)
			break;
	}
	if (http1_chunked_done(&r->chunked) && off < n)
		r->keep_alive = 0; /* bytes after the body: not a clean connection */
	return send_ring(r, start, out);
}

/* n body bytes are at ring[start]: send them; finish when the body is complete. */
static void
body_bytes(struct lreq *r, size_t start, size_t n)
{
	switch (r->body) {
	case HTTP1_BODY_LENGTH:
		r->remaining -= n;
		if (send_ring(r, start, n) == 0 && r->remaining == 0)
			lreq_finish(r);
		break;
	case HTTP1_BODY_CHUNKED:
		if (body_chunked(r, start, n) == 0 && http1_chunked_done(&r->chunked))
			lreq_finish(r);
		break;
	default:
		send_ring(r, start, n);
		break;
	}
}

/* The local socket ended (n == 0) or failed during the body. */
static void
body_end(struct lreq *r)
{
	if (r->body == HTTP1_BODY_CLOSE) {
		r->keep_alive = 0;
		lreq_finish(r);
		return;
	}
	lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "local service closed the connection mid-response");
}

/*
 * Read from the local service, then ask for an immediate ACK: many local
 * servers write a head and a body (or chunks) in separate small sends
 * without TCP_NODELAY, and Nagle there plus a delayed ACK here would stall
 * each response for ~40 ms. The flag is not sticky, hence once per read
 * (Linux only; elsewhere nothing is done).
 */
static ssize_t
local_recv(int fd, void *p, size_t n)
{
	ssize_t k = recv(fd, p, n, 0);
#ifdef TCP_QUICKACK
	int one = 1;

	if (k > 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
	return k;
}

/* One step of body input: from `in` first, then (sock) the socket. 1 = go on. */
static int
body_step(struct lreq *r, int sock)
{
	size_t start = 0, want;
	ssize_t n;

	if (lreq_ring_alloc(r) < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return 0;
	}
	want = mux_allowance(&r->c->mux, r->s, ring_space(&r->ring, &start));
	if (r->body == HTTP1_BODY_LENGTH && want > r->remaining)
		want = (size_t)r->remaining;
	if (want == 0)
		return 0;
	if (buf_len(&r->in) > 0) {
		n = (ssize_t)UTIL_MIN(want, buf_len(&r->in));
		memcpy(r->ring.mem + start, r->in.pos, (size_t)n);
		buf_consume(&r->in, (size_t)n);
	} else if (!sock || r->conn == NULL) {
		return 0;
	} else {
		n = local_recv(r->conn->fd, r->ring.mem + start, want);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n < 0) {
			lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "local connection failed mid-response");
			return 0;
		}
		if (n == 0) {
			body_end(r);
			return 0;
		}
	}
	body_bytes(r, start, (size_t)n);
	return r->state == LREQ_BODY && (buf_len(&r->in) > 0 || (size_t)n == want);
}

/* Move body bytes while there is credit, ring space and input. */
static void
resp_body(struct lreq *r, int sock)
{
	int i;

	for (i = 0; i < LOCAL_READS_PER_EVENT && r->state == LREQ_BODY; i++)
		if (!body_step(r, sock))
			break;
}

/* Send one response head as STREAM_RESPONSE_HEAD. 0 or -1 (request failed). */
static int
send_head(struct lreq *r, const struct http1_response *res)
{
	struct buf j;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = local_codec_response_head(res, &j, FRAME_MAX_PAYLOAD);
	if (rc == 0)
		rc = mux_send(&r->c->mux, r->s, FRAME_STREAM_RESPONSE_HEAD, j.pos, buf_len(&j));
	buf_fini(&j);
	if (rc < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "cannot forward the response head");
		return -1;
	}
	return 0;
}

/* A final head was sent: set up the body. */
static void
start_body(struct lreq *r, const struct http1_response *res)
{
	r->status = res->status;
	r->keep_alive = res->keep_alive;
	r->body = res->body;
	r->remaining = res->content_length;
	r->state = LREQ_BODY;
	http1_chunked_init(&r->chunked);
	if (r->body == HTTP1_BODY_NONE || (r->body == HTTP1_BODY_LENGTH && r->remaining == 0)) {
		lreq_finish(r);
		return;
	}
	resp_body(r, 0);
}

/* Parse what `in` holds: 1xx heads go out at once, then the final one. */
static void
resp_head(struct lreq *r)
{
	struct http1_header hdrs[LOCAL_RESP_HEADERS];
	struct http1_limits lim = { LOCAL_RESP_HEAD_MAX, LOCAL_RESP_HEADERS };
	struct http1_response res;
	ssize_t n;

	while (r->state == LREQ_HEAD && buf_len(&r->in) > 0) {
		memset(&res, 0, sizeof(res));
		res.headers = hdrs;
		res.headers_cap = LOCAL_RESP_HEADERS;
		res.req_head = r->rq.is_head;
		n = http1_parse_response((const char *)r->in.pos, buf_len(&r->in), r->in_scanned, &lim, &res);
		if (n == HT_AGAIN) {
			r->in_scanned = buf_len(&r->in);
			return;
		}
		if (n < 0 || (res.status == 101 && !r->rq.upgrade) || res.te_other) {
			lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad response from the local service");
			return;
		}
		if (send_head(r, &res) < 0)
			return;
		buf_consume(&r->in, (size_t)n);
		r->in_scanned = 0;
		if (res.status == 101) {
			r->status = 101;
			r->state = LREQ_UPGRADE;
			upgrade_step(r);
		} else if (res.status >= 200) {
			start_body(r, &res);
		}
	}
}

/* Can the request go again on a fresh connection? */
static int
can_retry(const struct lreq *r)
{
	return r->conn != NULL && r->conn->reused && !r->retried && !r->got_bytes && !r->wrote_body &&
	       r->state == LREQ_HEAD;
}

static void
retry(struct lreq *r)
{
	struct lconn *k = r->conn;

	r->conn = NULL;
	conn_close(k);
	r->retried = 1;
	r->head_off = 0;
	r->wr_dead = 0;
	r->in_scanned = 0;
	buf_reset(&r->in, 0);
	r->conn = conn_connect(r);
	if (r->conn == NULL)
		lreq_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
}

/* Read response head bytes. */
static void
head_read(struct lreq *r)
{
	size_t room = LOCAL_RESP_HEAD_MAX - UTIL_MIN(buf_len(&r->in), (size_t)LOCAL_RESP_HEAD_MAX);
	ssize_t n;

	if (room == 0 || buf_reserve(&r->in, UTIL_MIN(room, (size_t)16384), 0, 0) < 0) {
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad response from the local service");
		return;
	}
	n = local_recv(r->conn->fd, r->in.last, UTIL_MIN(room, buf_room(&r->in)));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (can_retry(r))
			retry(r);
		else
			lreq_fail(r, r->got_bytes ? FRAME_CODE_INTERNAL_ERROR : FRAME_CODE_REFUSED_STREAM,
				  r->got_bytes ? "bad response from the local service"
					       : "local service closed the connection");
		return;
	}
	r->got_bytes = 1;
	buf_commit(&r->in, (size_t)n);
	resp_head(r);
}

/* ---- upgrade ------------------------------------------------------------ */

static void
pump_done(struct pump *p)
{
	struct lreq *r = p->owner;

	r->pump_live = 0;
	r->state = LREQ_DONE;
	r->bytes_out += p->bytes_up;
	lreq_log(r);
	if (lreq_freeable(r) && !r->defer.queued)
		lreq_free(r); /* from the closing phase: safe */
}

/* The socket and the stream go to the pump (spill written, leftover sent). */
static void
handover(struct lreq *r)
{
	struct lconn *k = r->conn;
	struct stream *s = r->s;
	int fd = k->fd;

	reactor_watcher_stop(k->r, &k->w);
	k->fd = -1;
	r->conn = NULL;
	conn_close(k);
	if (r->peer_eof)
		shutdown(fd, SHUT_WR);
	r->pump.owner = r;
	if (pump_start(&r->pump, &r->c->r, &r->c->mux, s, fd, 0, pump_done) < 0) {
		close(fd);
		s->ops = &lreq_ops;
		s->owner = r;
		lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "cannot watch socket");
		return;
	}
	r->s = NULL;
	r->state = LREQ_PUMP;
	r->pump_live = 1;
}

/* After a 101: send what was read past the head, then hand over. */
static void
upgrade_step(struct lreq *r)
{
	while (buf_len(&r->in) > 0) {
		size_t start = 0, want;

		if (lreq_ring_alloc(r) < 0) {
			lreq_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
			return;
		}
		want = mux_allowance(&r->c->mux, r->s, UTIL_MIN(ring_space(&r->ring, &start), buf_len(&r->in)));
		if (want == 0)
			return; /* on_credit or lent_done resumes */
		memcpy(r->ring.mem + start, r->in.pos, want);
		buf_consume(&r->in, want);
		if (send_ring(r, start, want) < 0)
			return;
	}
	if (r->conn != NULL && buf_len(&r->spill) == 0 && head_left(r) == 0)
		handover(r);
}

/* ---- events -------------------------------------------------------------- */

static void
lreq_update(struct lreq *r)
{
	unsigned want = 0;
	size_t start;

	if (r->conn == NULL || r->state == LREQ_DONE || r->state == LREQ_PUMP)
		return;
	if (r->conn->connecting) {
		want = REACTOR_WRITE;
	} else {
		if (can_write(r) && (head_left(r) > 0 || buf_len(&r->spill) > 0))
			want |= REACTOR_WRITE;
		if (r->state == LREQ_HEAD)
			want |= REACTOR_READ;
		if (r->state == LREQ_BODY && buf_len(&r->in) == 0 && r->s != NULL &&
		    (r->ring.mem == NULL || ring_space(&r->ring, &start) > 0) && mux_allowance(&r->c->mux, r->s, 1) > 0)
			want |= REACTOR_READ;
	}
	reactor_watcher_set(r->conn->r, &r->conn->w, want);
}

static void
connected(struct lreq *r)
{
	if (net_socket_error(r->conn->fd) != 0) {
		lreq_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return;
	}
	r->conn->connecting = 0;
	net_set_nodelay(r->conn->fd, 1);
	out_drain(r);
}

static void
lreq_on_io(struct lreq *r, unsigned events)
{
	struct lconn *k = r->conn;

	if (k->connecting) {
		if (events)
			connected(r);
		if (r->conn != k || r->state == LREQ_DONE)
			return;
	} else if (events & REACTOR_WRITE) {
		out_drain(r);
		if (r->state == LREQ_UPGRADE)
			upgrade_step(r);
	}
	if ((events & REACTOR_READ) && r->conn == k) {
		if (r->state == LREQ_HEAD)
			head_read(r);
		else if (r->state == LREQ_BODY)
			resp_body(r, 1);
	}
	lreq_update(r);
}

static void
conn_on_io(struct reactor *rc, struct reactor_watcher *w, unsigned events)
{
	struct lconn *k = container_of(w, struct lconn, w);

	(void)rc;
	if (k->fd < 0)
		return;
	if (k->req != NULL) {
		lreq_on_io(k->req, events);
		return;
	}
	/* idle: EOF or stray bytes end it; a stale event changes nothing */
	if (!conn_alive(k->fd))
		conn_close(k);
}

/* ---- public -------------------------------------------------------------- */

static void
log_refused(struct client *c, const struct buf *head, const struct local_request *rq)
{
	char m[48] = "-", *t = NULL;

	if (rq->method_len > 0)
		snprintf(m, sizeof(m), "%.*s", (int)rq->method_len, (const char *)head->pos);
	if (rq->target_len > 0)
		t = strndup((const char *)head->pos + rq->target_off, rq->target_len);
	if (c->ev != NULL && c->ev->on_request != NULL)
		c->ev->on_request(c, m, t ? t : "-", 0, 0, 0);
	free(t);
}

/* Fill r from the STREAM_OPEN. 0, LOCAL_CODEC_INVALID, or another -errno. */
static int
lreq_setup(struct lreq *r, struct client_binding *b, const uint8_t *json, size_t n)
{
	struct json_tok toks[LOCAL_JSON_TOKENS];
	char host[URL_HOST_MAX + 16];
	int rc;

	if (url_local_format(&b->local, host, sizeof(host)) < 0)
		host[0] = '\0';
	rc = local_codec_request_head((const char *)json, n, toks, LOCAL_JSON_TOKENS, host, &r->head,
				      LOCAL_HEAD_MAX, &r->rq);
	if (rc < 0)
		return rc;
	snprintf(r->method, sizeof(r->method), "%.*s", (int)r->rq.method_len, (const char *)r->head.pos);
	r->target = strndup((const char *)r->head.pos + r->rq.target_off, r->rq.target_len);
	if (r->target == NULL)
		return -ENOMEM;
	r->framing = r->rq.framing;
	r->reusable = !r->rq.upgrade;
	if (r->framing != LOCAL_FRAMING_UNDECIDED)
		return decide(r, r->framing);
	return 0;
}

/* see local.h */
int
local_http_open(struct client *c, struct client_binding *b, struct stream *s, const uint8_t *json, size_t n)
{
	struct local_pool *pool = pool_get(c);
	struct lreq *r = pool ? calloc(1, sizeof(*r)) : NULL;
	int rc;

	if (r == NULL)
		return -1;
	r->c = c;
	r->start_ms = reactor_now(&c->r);
	r->addr = b->addr;
	r->addr_len = b->addr_len;
	rc = lreq_setup(r, b, json, n);
	if (rc == LOCAL_CODEC_INVALID) {
		log_refused(c, &r->head, &r->rq);
		lreq_free(r);
		mux_send_reset(&c->mux, s, FRAME_CODE_PROTOCOL_ERROR, "invalid request");
		return 0;
	}
	if (rc < 0) {
		lreq_free(r);
		return -1;
	}
	r->pool = pool;
	r->next = pool->reqs;
	if (r->next)
		r->next->prev = r;
	pool->reqs = r;
	r->s = s;
	s->owner = r;
	s->ops = &lreq_ops;
	r->conn = conn_take_idle(pool, r);
	if (r->conn == NULL)
		r->conn = conn_connect(r);
	if (r->conn == NULL) {
		lreq_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return 0;
	}
	out_drain(r);
	lreq_update(r);
	return 0;
}

/* see local.h */
void
local_http_fini(struct client *c)
{
	struct local_pool *p = c->local_pool;

	if (p == NULL)
		return;
	while (p->reqs != NULL) {
		struct lreq *r = p->reqs;

		lreq_unlink(r);
		r->orphan = 1;
		if (r->conn != NULL) {
			struct lconn *k = r->conn;

			r->conn = NULL;
			conn_close(k);
		}
		if (r->s != NULL) {
			r->s->ops = NULL;
			r->s->owner = NULL;
			r->s = NULL;
		}
		if (lreq_freeable(r) && !r->defer.queued)
			lreq_free(r);
	}
	while (p->conns != NULL)
		conn_close(p->conns);
	free(p);
	c->local_pool = NULL;
}
