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
 * Response (local -> tunnel): local_resp.c. The socket events of a
 * request's connection are dispatched here and read there.
 *
 * Lifetime: a request is freed from a deferred callback once its stream
 * is gone, every lent DATA came back and its connection is released.
 * Connections are freed from a deferred callback too (the reactor's close
 * rule). local_http_fini() orphans what cannot be freed at once: the last
 * done callback (or the pump's) frees it without touching the pool.
 */
#include "local.h"
#include "local_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "local_codec.h"
#include "http1.h"
#include "net.h"
#include "pump.h"
#include "ring.h"
#include "util.h"

#define LOCAL_HEAD_MAX (128 * 1024)     /* request head built from STREAM_OPEN */
#define LOCAL_JSON_TOKENS 1024
#define LOCAL_IDLE_MAX 1024   /* idle keep-alive connections kept per client (no churn at 1,000 visitors) */

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
/* see local_int.h */
void
local_conn_close(struct lconn *k)
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
		local_conn_close(k);
	}
	return NULL;
}

/* A new connection to r's address, connecting. NULL when it failed at once. */
/* see local_int.h */
struct lconn *
local_conn_connect(struct lreq *r)
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
		local_conn_close(k);
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

/* see local_int.h */
void
local_free(struct lreq *r)
{
	lreq_unlink(r);
	buf_fini(&r->head);
	buf_fini(&r->spill);
	buf_fini(&r->in);
	ring_release(&r->ring);
	free(r->target);
	free(r);
}

/* see local_int.h */
int
local_freeable(const struct lreq *r)
{
	return r->s == NULL && r->conn == NULL && r->lent == 0 && !r->pump_live &&
	       (r->state == LREQ_DONE || r->orphan);
}

/* see local_int.h */
void
local_defer_cb(struct reactor *rc, struct reactor_deferred *d)
{
	struct lreq *r = container_of(d, struct lreq, defer);

	(void)rc;
	if (local_freeable(r)) {
		local_free(r);
		return;
	}
	if (r->orphan || r->s == NULL)
		return;
	if (r->state == LREQ_BODY)
		local_resp_body(r, 0);
	else if (r->state == LREQ_UPGRADE)
		local_resp_upgrade(r);
	local_update(r);
}

/* Free r after the current batch when nothing refers to it any more. */
/* see local_int.h */
void
local_maybe_free(struct lreq *r)
{
	if (local_freeable(r))
		reactor_defer(&r->c->r, &r->defer, local_defer_cb);
}

/* see local_int.h */
void
local_log(struct lreq *r)
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
/* see local_int.h */
void
local_fail(struct lreq *r, unsigned code, const char *reason)
{
	struct stream *s = r->s;

	if (r->state == LREQ_DONE)
		return;
	r->state = LREQ_DONE;
	lreq_drop_conn(r, 0);
	local_log(r);
	if (s != NULL && s->state != STREAM_CLOSED)
		mux_send_reset(&r->c->mux, s, code, reason);
	local_maybe_free(r);
}

/* The response is complete: EOF, and the connection back to the pool if clean. */
/* see local_int.h */
void
local_finish(struct lreq *r)
{
	int keep = r->keep_alive && r->reusable && r->req_complete && !r->wr_dead && buf_len(&r->in) == 0 &&
		   buf_len(&r->spill) == 0 && r->head_off == buf_len(&r->head);

	r->state = LREQ_DONE;
	lreq_drop_conn(r, keep);
	local_log(r);
	if (r->s != NULL)
		mux_send_eof(&r->c->mux, r->s);
	local_maybe_free(r);
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
/* see local_int.h */
size_t
local_head_left(const struct lreq *r)
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
	size_t h = UTIL_MIN(k, local_head_left(r));

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
		if (local_head_left(r) > 0)
			iov[niov++] = (struct iovec){ r->head.pos + r->head_off, local_head_left(r) };
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
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	r->spill_payload += n - dw;
	local_update(r);
}

/*
 * The visitor's body ended short of its Content-Length: once what we have
 * is written, half-close so that the local service sees the truncation
 * instead of waiting for bytes that will never come.
 */
static void
maybe_shut(struct lreq *r)
{
	if (r->shut_pending && can_write(r) && local_head_left(r) == 0 && buf_len(&r->spill) == 0) {
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
	if (local_head_left(r) > 0)
		iov[niov++] = (struct iovec){ r->head.pos + r->head_off, local_head_left(r) };
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
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (r->framing == LOCAL_FRAMING_CHUNKED) {
		out_queue(r, hdr, http1_chunk_header(hdr, n), p, n, HTTP1_CHUNK_END, HTTP1_CHUNK_END_LEN);
		return;
	}
	if (r->framing == LOCAL_FRAMING_LENGTH && r->body_in > r->rq.content_length) {
		local_fail(r, FRAME_CODE_PROTOCOL_ERROR, "request body longer than Content-Length");
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
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
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
		local_update(r);
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
	local_log(r);
}

static void
s_on_credit(struct stream *s)
{
	struct lreq *r = s->owner;

	if (r->state == LREQ_BODY)
		local_resp_body(r, 0);
	else if (r->state == LREQ_UPGRADE)
		local_resp_upgrade(r);
	if (r->state != LREQ_DONE)
		local_update(r);
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
		local_log(r);
	}
	local_maybe_free(r);
}

/* see local_int.h */
const struct stream_ops local_stream_ops = {
	.on_data = s_on_data,
	.on_eof = s_on_eof,
	.on_reset = s_on_reset,
	.on_credit = s_on_credit,
	.on_head = NULL,
	.on_close = s_on_close,
};

/* ---- events -------------------------------------------------------------- */

/* see local_int.h */
void
local_update(struct lreq *r)
{
	unsigned want = 0;
	size_t start;

	if (r->conn == NULL || r->state == LREQ_DONE || r->state == LREQ_PUMP)
		return;
	if (r->conn->connecting) {
		want = REACTOR_WRITE;
	} else {
		if (can_write(r) && (local_head_left(r) > 0 || buf_len(&r->spill) > 0))
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
		local_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
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
			local_resp_upgrade(r);
	}
	if ((events & REACTOR_READ) && r->conn == k) {
		if (r->state == LREQ_HEAD)
			local_resp_head_read(r);
		else if (r->state == LREQ_BODY)
			local_resp_body(r, 1);
	}
	local_update(r);
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
		local_conn_close(k);
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
		local_free(r);
		mux_send_reset(&c->mux, s, FRAME_CODE_PROTOCOL_ERROR, "invalid request");
		return 0;
	}
	if (rc < 0) {
		local_free(r);
		return -1;
	}
	r->pool = pool;
	r->next = pool->reqs;
	if (r->next)
		r->next->prev = r;
	pool->reqs = r;
	r->s = s;
	s->owner = r;
	s->ops = &local_stream_ops;
	r->conn = conn_take_idle(pool, r);
	if (r->conn == NULL)
		r->conn = local_conn_connect(r);
	if (r->conn == NULL) {
		local_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return 0;
	}
	out_drain(r);
	local_update(r);
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
			local_conn_close(k);
		}
		if (r->s != NULL) {
			r->s->ops = NULL;
			r->s->owner = NULL;
			r->s = NULL;
		}
		if (local_freeable(r) && !r->defer.queued)
			local_free(r);
	}
	while (p->conns != NULL)
		local_conn_close(p->conns);
	free(p);
	c->local_pool = NULL;
}
