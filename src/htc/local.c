/*
 * local.c: the local side of EXPOSE streams in htc (see local.h).
 *
 * One struct lreq serves one stream: it writes the request to a
 * connection to the local service and turns the response into
 * STREAM_RESPONSE_HEAD, DATA and EOF. Connections come from a keep-alive
 * pool per client (local_pool.c); the HTTP text and the body framing both
 * ways are local_codec.c's (no I/O there).
 *
 * Request (tunnel -> local): the head is built once from STREAM_OPEN and
 * kept whole, so a request whose pooled connection turns out dead before
 * any response byte can be sent again on a fresh one. DATA is written
 * through at once with one sendmsg() (head remainder, chunk header,
 * payload, CRLF); what the socket does not take is copied into a spill
 * buffer. Credit (mux_consumed) is returned only for payload bytes that
 * reached the socket, so the spill is bounded by the stream window.
 *
 * Response (local -> tunnel): the head is read into `in` and parsed (1xx
 * heads go out at once, then the final one); the body is read into a ring
 * whose bytes are lent to the tunnel as DATA (no copy) until their done
 * callback, with chunked bodies decoded in place. A read happens only with
 * credit and ring space. After a 101 the socket and the stream are handed
 * to a struct pump.
 *
 * With an inspector (c->cap), the exchange is captured on the way
 * (capture.h): the request head once complete, the DATA payload, the final
 * response head and the decoded body payload; capture copies only the
 * prefix it keeps.
 *
 * This file owns the machine: the states (enum lreq_state, changed only by
 * local_set_state) and the request's lifetime. A request is freed from a
 * deferred callback once its stream is gone, every lent DATA came back and
 * its connection is released. local_http_fini() orphans what cannot be
 * freed at once: the last done callback (or the pump's) frees it then.
 */
#include "local.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "capture.h"
#include "frame.h"
#include "local_codec.h"
#include "local_pool.h"
#include "http1.h"
#include "print.h"
#include "pump.h"
#include "reactor.h"
#include "ring.h"
#include "util.h"

#define LOCAL_HEAD_MAX (128 * 1024)     /* request head built from STREAM_OPEN */
#define LOCAL_RESP_HEAD_MAX (32 * 1024) /* response head (JSON must fit in one frame) */
#define LOCAL_RESP_HEADERS 128
#define LOCAL_RING_MIN 4096
#define LOCAL_SCRATCH (16 * 1024)   /* one response-head read */
#define LOCAL_POOL_IDLE_CAP 65536   /* idle local connections, at most */
#define LOCAL_SPARES 64             /* freed requests kept, with their head buffer */
#define LOCAL_SPARE_HEAD 4096       /* of up to this size */
#define LOCAL_TRIM_RING (64 * 1024) /* a ring this big counts for the heap hand-back */
#define LOCAL_SMALL_RING 4096       /* rings up to this big are kept for the next responses */
#define LOCAL_RING_STEP 256         /* and their sizes rounded up to this, so that they fit again */
#define LOCAL_RING_MAX (256 * 1024)
#define LOCAL_READS_PER_EVENT 4
#define LOCAL_MAX_INFORMATIONAL 8 /* 1xx heads forwarded before the final one */

/* A request's states. The request side (head, spill, body) runs beside HEAD and BODY. */
enum lreq_state {
	LREQ_HEAD,    /* the request goes out; waiting for the final response head */
	LREQ_BODY,    /* final head sent; the body goes out as DATA */
	LREQ_UPGRADE, /* 101 sent; bytes read past it go out, then the socket moves to the pump */
	LREQ_PUMP,    /* the pump owns the socket and the stream */
	LREQ_DONE,    /* response ended or stream reset: waiting to be freed */
	LREQ_STATE_MAX
};

/* A client's local side (client->local_pool). */
struct local {
	struct local_pool pool;
	struct lreq *reqs;  /* every request not yet freed */
	struct buf json;    /* a response head's JSON, reused from one request to the next */
	int scratch_busy;   /* a head read is being parsed out of scratch */
	struct lreq *spare; /* freed requests kept for the next ones (linked by next) */
	unsigned nspare;
	struct ring rings[LOCAL_SPARES]; /* freed small rings, nothing lent; the last fits most often */
	unsigned nrings;
	unsigned big_rings;        /* rings of LOCAL_TRIM_RING bytes or more in use */
	struct reactor_timer trim; /* the check a second after the last big ring went */
	/* response heads are read here, and only what is left over is copied to the request */
	uint8_t scratch[LOCAL_SCRATCH];
};

struct lreq {
	struct client *c;
	struct local *loc;        /* NULL once orphaned */
	struct lreq *prev, *next; /* loc->reqs */
	struct stream *s;         /* NULL once the stream is gone or with the pump */
	struct local_pool_conn *conn;
	enum lreq_state state; /* written by local_set_state only */
	struct local_request rq;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const struct client_binding *b; /* for the log */
	char method[48];                /* for the log */
	char *target;
	char why[64]; /* for the log: why it failed ("" while it did not) */
	uint64_t start_ms;
	uint64_t cap_id; /* the exchange in c->cap, 0: not captured */
	/* request: tunnel -> local */
	struct local_req_body reqb; /* the body's framing and progress */
	struct buf head;            /* whole request head, kept for a retry */
	size_t head_off;            /* bytes of it written on the current connection */
	struct buf spill;           /* body bytes (with framing) the socket has not taken */
	size_t spill_payload;       /* DATA bytes in spill not yet credited (upper bound) */
	uint8_t head_ready;         /* framing decided: the head is complete */
	uint8_t req_complete;       /* the whole body and its framing are queued */
	uint8_t peer_eof;
	uint8_t wrote_body;   /* a body byte went to (or was lost on) this connection */
	uint8_t wr_dead;      /* writing failed: the rest is dropped */
	uint8_t shut_pending; /* EOF came short of Content-Length: half-close once drained */
	uint8_t retried;
	uint8_t reusable;  /* the connection may be pooled after the response */
	uint8_t got_bytes; /* a response byte arrived on this connection */
	uint8_t logged, orphan, pump_live;
	/* response: local -> tunnel */
	struct buf in;          /* response head bytes and what followed them */
	size_t in_scanned;      /* last_len for http1_parse_response */
	int status;             /* status of the final head sent, 0 before */
	unsigned informational; /* 1xx heads sent so far */
	int keep_alive;
	struct local_resp_body respb; /* the body's framing */
	struct ring ring;             /* DATA lent to the tunnel (ring.h) */
	uint32_t lent;
	uint64_t bytes_out;
	struct reactor_deferred defer; /* resume work, or free */
	struct pump pump;
};

static const struct stream_ops local_stream_ops;
static void local_update(struct lreq *r);
static void resp_body(struct lreq *r, int sock);
static void upgrade_step(struct lreq *r);

/* ---- the state ----------------------------------------------------------- */

static void
local_set_state(struct lreq *r, enum lreq_state st)
{
	assert(st < LREQ_STATE_MAX);
	r->state = st;
}

/* ---- lifetime ------------------------------------------------------------ */

static void
lreq_unlink(struct lreq *r)
{
	struct local *loc = r->loc;

	if (loc == NULL)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		loc->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->loc = NULL;
}

/*
 * Large responses, and the inspector's bodies, leave the heap full of freed
 * memory that malloc keeps: after a burst of 1 MiB responses ~15 MiB of RSS
 * that a run of small ones never gives back. While no big ring is in use,
 * at most once a second as requests end, and once more a second after the
 * last big ring went, the free memory goes back to the system when there
 * is more than UTIL_HEAP_FREE of it (util_heap_trim).
 */
static void
heap_check(struct local *loc, uint64_t now)
{
	if (loc->big_rings == 0) /* not while large responses flow: their rings would come back at once */
		(void)util_heap_trim(now);
}

static void
on_trim(struct reactor *rc, struct reactor_timer *t)
{
	heap_check(container_of(t, struct local, trim), reactor_now(rc));
}

static void
ring_put(struct lreq *r)
{
	struct local *loc = r->c->local_pool;

	if (loc != NULL && r->ring.mem != NULL && r->ring.cap <= LOCAL_SMALL_RING &&
	    loc->nrings < LOCAL_SPARES) {
		loc->rings[loc->nrings++] = r->ring; /* nothing is lent: the request is being freed */
		memset(&r->ring, 0, sizeof(r->ring));
	}
	if (r->ring.cap >= LOCAL_TRIM_RING && loc != NULL && --loc->big_rings == 0 &&
	    !reactor_timer_is_active(&loc->trim))
		reactor_timer_start(&r->c->r, &loc->trim, UTIL_HEAP_GAP_MS, 0);
	ring_release(&r->ring); /* nothing when kept */
	if (loc != NULL)
		heap_check(loc, reactor_now(&r->c->r));
}

/*
 * Free r. Up to LOCAL_SPARES requests are kept, with a head buffer of up
 * to LOCAL_SPARE_HEAD bytes, for the next ones (lreq_new): a request costs no malloc of its
 * own nor of its head.
 */
static void
local_free(struct lreq *r)
{
	struct local *loc = r->c->local_pool;

	lreq_unlink(r);
	buf_fini(&r->spill);
	buf_fini(&r->in);
	ring_put(r);
	free(r->target);
	if (loc != NULL && loc->nspare < LOCAL_SPARES && buf_cap(&r->head) <= LOCAL_SPARE_HEAD) {
		r->next = loc->spare;
		loc->spare = r;
		loc->nspare++;
		return;
	}
	buf_fini(&r->head);
	free(r);
}

/* A zeroed request, from the spares when there is one (its head buffer kept, emptied). */
static struct lreq *
lreq_new(struct local *loc)
{
	struct lreq *r = loc->spare;
	struct buf head;

	if (r == NULL)
		return calloc(1, sizeof(*r));
	loc->spare = r->next;
	loc->nspare--;
	head = r->head;
	memset(r, 0, sizeof(*r));
	r->head = head;
	if (r->head.start != NULL)
		buf_reset(&r->head, 0);
	return r;
}

/* Nothing refers to r any more. */
static int
local_freeable(const struct lreq *r)
{
	return r->s == NULL && r->conn == NULL && r->lent == 0 && !r->pump_live &&
	       (r->state == LREQ_DONE || r->orphan);
}

/* The request's deferred work: free, or resume the body or the upgrade. */
static void
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
		resp_body(r, 0);
	else if (r->state == LREQ_UPGRADE)
		upgrade_step(r);
	local_update(r);
}

/* Free r after the current batch when nothing refers to it any more. */
static void
local_maybe_free(struct lreq *r)
{
	if (local_freeable(r))
		reactor_defer(&r->c->r, &r->defer, local_defer_cb);
}

/* Log the request once (the client's on_request callback). */
static void
local_log(struct lreq *r)
{
	struct client *c = r->c;

	if (r->logged)
		return;
	r->logged = 1;
	if (c->cap != NULL)
		capture_done(c->cap, r->cap_id, r->status, r->why[0] ? r->why : NULL);
	if (c->ev != NULL && c->ev->on_request != NULL) {
		struct client_request rq = { r->b,
					     r->method,
					     r->target ? r->target : "-",
					     r->status,
					     reactor_now(&c->r) - r->start_ms,
					     r->bytes_out,
					     r->why[0] ? r->why : NULL };

		c->ev->on_request(c, &rq);
	}
}

/* Say why r failed, once: the first reason is the one the log shows. */
static void
set_why(struct lreq *r, const char *why)
{
	if (r->why[0] == '\0')
		snprintf(r->why, sizeof(r->why), "%s", why);
}

/* The reason a connect to the local service failed, from its errno. */
static void
set_connect_why(struct lreq *r, int err)
{
	char why[64];

	if (err == ECONNREFUSED)
		set_why(r, "local connect refused");
	else if (err == ETIMEDOUT)
		set_why(r, "local connect timeout");
	else {
		snprintf(why, sizeof(why), "local connect failed: %s", strerror(err));
		set_why(r, why);
	}
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
drop_conn(struct lreq *r, int keep)
{
	struct local_pool_conn *k = r->conn;

	if (k == NULL)
		return;
	r->conn = NULL;
	drop_spill(r);
	local_pool_release(k, keep);
}

/* End the request with a RESET (unless the stream is already closed). */
static void
local_fail(struct lreq *r, unsigned code, const char *reason)
{
	struct stream *s = r->s;

	if (r->state == LREQ_DONE)
		return;
	local_set_state(r, LREQ_DONE);
	drop_conn(r, 0);
	set_why(r, reason);
	if (r->status == 0)
		r->status = 502; /* what the daemon answers the visitor for a RESET before the head */
	local_log(r);
	if (s != NULL && s->state != STREAM_CLOSED)
		mux_send_reset(&r->c->mux, s, code, r->why); /* the visitor's 502 says it */
	local_maybe_free(r);
}

/* The response is complete: EOF, and the connection back to the pool if clean. */
static void
local_finish(struct lreq *r)
{
	int keep = r->keep_alive && r->reusable && r->req_complete && !r->wr_dead && buf_len(&r->in) == 0 &&
		   buf_len(&r->spill) == 0 && r->head_off == buf_len(&r->head);

	local_set_state(r, LREQ_DONE);
	drop_conn(r, keep);
	local_log(r);
	if (r->s != NULL)
		mux_send_eof(&r->c->mux, r->s);
	local_maybe_free(r);
}

/* ---- request: tunnel -> local -------------------------------------------- */

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
finish_head(struct lreq *r)
{
	int rc = local_codec_request_end(&r->head, LOCAL_HEAD_MAX + 64, &r->rq, r->reqb.framing);

	if (rc < 0)
		return rc;
	r->head_ready = 1;
	if (r->c->cap != NULL)
		capture_req_head(r->c->cap, r->cap_id, r->head.pos, buf_len(&r->head));
	if (local_codec_req_body_empty(&r->reqb))
		r->req_complete = 1;
	return 0;
}

static void
s_on_data(struct stream *s, const uint8_t *p, size_t n)
{
	struct lreq *r = s->owner;
	struct local_piece pc;
	enum local_body_result res;
	int decided;

	if (r->state == LREQ_DONE || r->conn == NULL) {
		mux_consumed(&r->c->mux, s, n);
		return;
	}
	res = local_codec_req_body_data(&r->reqb, n, &pc, &decided);
	if (decided && finish_head(r) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (res == LOCAL_BODY_LONG) {
		local_fail(r, FRAME_CODE_PROTOCOL_ERROR, "request body longer than Content-Length");
		return;
	}
	if (res == LOCAL_BODY_COMPLETE)
		r->req_complete = 1;
	if (r->c->cap != NULL)
		capture_req_body(r->c->cap, r->cap_id, p, n);
	out_queue(r, pc.pre, pc.pre_len, p, n, pc.post, pc.post_len);
}

static void
s_on_eof(struct stream *s)
{
	struct lreq *r = s->owner;
	enum local_body_result res;
	const char *tail;
	size_t tail_len;
	int decided;

	r->peer_eof = 1;
	if (r->state == LREQ_DONE || r->conn == NULL)
		return;
	res = local_codec_req_body_end(&r->reqb, &tail, &tail_len, &decided);
	if (decided) { /* no body at all */
		if (finish_head(r) < 0) {
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
			return;
		}
		out_drain(r);
	} else if (tail_len > 0) { /* the last chunk */
		r->req_complete = 1;
		out_queue(r, tail, tail_len, (const uint8_t *)"", 0, "", 0);
		return;
	} else if (res == LOCAL_BODY_SHORT) {
		r->reusable = 0;
		r->shut_pending = 1;
		maybe_shut(r);
	}
	if (r->state != LREQ_DONE)
		local_update(r);
}

static void
s_on_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	struct lreq *r = s->owner;

	char why[64];

	(void)code;
	if (r->state == LREQ_DONE)
		return;
	local_set_state(r, LREQ_DONE);
	drop_conn(r, 0);
	if (rlen == 16 && memcmp(reason, "response timeout", 16) == 0) {
		set_why(r, "timeout");
		if (r->status == 0)
			r->status = 504; /* the daemon's answer when the head is late */
	} else {
		snprintf(why, sizeof(why), "%.*s", (int)UTIL_MIN(rlen, sizeof(why) - 1),
			 rlen ? reason : "reset");
		print_scrub(why);
		set_why(r, why);
	}
	local_log(r);
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
		local_set_state(r, LREQ_DONE);
		drop_conn(r, 0);
		local_log(r);
	}
	local_maybe_free(r);
}

static const struct stream_ops local_stream_ops = {
	.on_data = s_on_data,
	.on_eof = s_on_eof,
	.on_reset = s_on_reset,
	.on_credit = s_on_credit,
	.on_head = NULL,
	.on_close = s_on_close,
};

/* ---- response: local -> tunnel ------------------------------------------- */

/* A kept small ring of at least cap bytes into *to: 1, or 0 when the last kept one is smaller. */
static int
ring_reuse(struct local *loc, struct ring *to, size_t cap)
{
	struct ring *k;

	if (loc == NULL || loc->nrings == 0 || loc->rings[loc->nrings - 1].cap < cap)
		return 0;
	k = &loc->rings[--loc->nrings];
	*to = *k;
	to->head = to->tail = to->wrap = to->used = 0;
	memset(k, 0, sizeof(*k));
	return 1;
}

static int
ring_get(struct lreq *r)
{
	size_t cap = LOCAL_RING_MAX;

	if (r->ring.mem != NULL)
		return 0;
	if (r->state == LREQ_BODY && r->respb.body == HTTP1_BODY_LENGTH && r->respb.left <= buf_len(&r->in))
		cap = UTIL_MAX((size_t)r->respb.left, (size_t)1); /* the whole body is here */
	else if (r->state == LREQ_BODY && r->respb.body == HTTP1_BODY_LENGTH && r->respb.left < cap)
		cap = UTIL_MAX((size_t)r->respb.left, (size_t)LOCAL_RING_MIN);
	else if (r->state == LREQ_UPGRADE)
		cap = UTIL_MAX(buf_len(&r->in), (size_t)LOCAL_RING_MIN);
	if (cap <= LOCAL_SMALL_RING && ring_reuse(r->c->local_pool, &r->ring, cap))
		return 0;
	if (cap <= LOCAL_SMALL_RING)
		cap = (cap + LOCAL_RING_STEP - 1) / LOCAL_RING_STEP * LOCAL_RING_STEP;
	if (ring_alloc(&r->ring, cap) < 0)
		return -1;
	if (cap >= LOCAL_TRIM_RING)
		((struct local *)r->c->local_pool)->big_rings++;
	return 0;
}

static void
lent_done(void *arg, uint32_t len, int sent)
{
	struct lreq *r = arg;

	(void)sent;
	r->lent--;
	ring_back(&r->ring, len);
	if (r->orphan) {
		if (local_freeable(r) && !r->defer.queued)
			local_free(r);
		return;
	}
	if ((r->state == LREQ_BODY || r->state == LREQ_UPGRADE) && buf_len(&r->in) > 0)
		reactor_defer(&r->c->r, &r->defer, local_defer_cb); /* bytes wait for ring space */
	else if (r->state == LREQ_BODY)
		local_update(r);
	else
		local_maybe_free(r);
}

/* Send ring[start..start+n) as DATA. 0, or -1 (request failed). */
static int
send_ring(struct lreq *r, size_t start, size_t n)
{
	if (n == 0)
		return 0;
	if (mux_send_data(&r->c->mux, r->s, r->ring.mem + start, (uint32_t)n, lent_done, r) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "tunnel gone");
		return -1;
	}
	ring_lend(&r->ring, start, n);
	r->lent++;
	r->bytes_out += n;
	return 0;
}

/* n body bytes were read to ring[start]: send their payload; finish when the body is complete. */
static void
body_bytes(struct lreq *r, size_t start, size_t n)
{
	size_t pay;

	if (local_codec_resp_body_take(&r->respb, r->ring.mem + start, n, &pay) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad chunked body from the local service");
		return;
	}
	if (r->respb.trailing)
		r->keep_alive = 0; /* bytes after the body: not a clean connection */
	if (r->c->cap != NULL)
		capture_resp_body(r->c->cap, r->cap_id, r->ring.mem + start, pay);
	if (send_ring(r, start, pay) == 0 && local_codec_resp_body_done(&r->respb))
		local_finish(r);
}

/* The local socket ended during the body. */
static void
body_end(struct lreq *r)
{
	if (local_codec_resp_body_eof(&r->respb)) {
		r->keep_alive = 0;
		local_finish(r);
		return;
	}
	local_fail(r, FRAME_CODE_INTERNAL_ERROR, "local service closed the connection mid-response");
}

/*
 * Ask for an immediate ACK while more of a response is awaited: many local
 * servers write a head and a body (or chunks) in separate small sends
 * without TCP_NODELAY, and Nagle there plus a delayed ACK here would stall
 * each response for ~40 ms. The flag is not sticky, hence once per read
 * that left the response unfinished; a response that came whole needs
 * none (Linux only; elsewhere nothing is done).
 */
static void
quickack_if_waiting(const struct lreq *r)
{
#ifdef TCP_QUICKACK
	int one = 1;

	if (r->conn != NULL && r->conn->fd >= 0 && (r->state == LREQ_HEAD || r->state == LREQ_BODY))
		(void)setsockopt(r->conn->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
	(void)r;
#endif
}

/* Read body bytes from the socket into ring[start]: n > 0, or 0 when nothing more comes now. */
static ssize_t
body_read(struct lreq *r, size_t start, size_t want)
{
	ssize_t n = recv(r->conn->fd, r->ring.mem + start, want, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0) {
		set_why(r, errno == ECONNRESET ? "reset" : "local connection failed mid-response");
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "local connection failed mid-response");
	} else if (n == 0)
		body_end(r);
	return n > 0 ? n : 0;
}

/* One step of body input: from `in` first, then (sock) the socket. 1 = go on. */
static int
body_step(struct lreq *r, int sock)
{
	size_t start = 0, want;
	int from_sock = 0;
	ssize_t n;

	if (ring_get(r) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return 0;
	}
	want = mux_allowance(&r->c->mux, r->s, ring_space(&r->ring, &start));
	want = local_codec_resp_body_want(&r->respb, want);
	if (want == 0)
		return 0;
	if (buf_len(&r->in) > 0) {
		n = (ssize_t)UTIL_MIN(want, buf_len(&r->in));
		memcpy(r->ring.mem + start, r->in.pos, (size_t)n);
		buf_consume(&r->in, (size_t)n);
	} else if (!sock || r->conn == NULL) {
		return 0;
	} else if ((n = body_read(r, start, want)) == 0) {
		return 0;
	} else {
		from_sock = 1;
	}
	body_bytes(r, start, (size_t)n);
	if (from_sock)
		quickack_if_waiting(r);
	return r->state == LREQ_BODY && (buf_len(&r->in) > 0 || (size_t)n == want);
}

/* Move body bytes while there is credit, ring space and input (sock: read the socket too). */
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
	struct local *loc = r->c->local_pool;
	struct buf *j = &loc->json;
	int rc;

	if (j->start != NULL)
		buf_reset(j, 0);
	rc = local_codec_response_head(res, j, FRAME_MAX_PAYLOAD);
	if (rc == 0)
		rc = mux_send(&r->c->mux, r->s, FRAME_STREAM_RESPONSE_HEAD, j->pos, buf_len(j));
	if (buf_cap(j) > LOCAL_SCRATCH)
		buf_fini(j); /* a rare big head: do not keep its memory */
	if (rc < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "cannot forward the response head");
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
	local_codec_resp_body_init(&r->respb, res->body, res->content_length);
	local_set_state(r, LREQ_BODY);
	if (local_codec_resp_body_done(&r->respb)) {
		local_finish(r);
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
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad response from the local service");
			return;
		}
		if (res.status < 200 && res.status != 101 && ++r->informational > LOCAL_MAX_INFORMATIONAL) {
			local_fail(r, FRAME_CODE_INTERNAL_ERROR,
				   "too many informational responses from the local service");
			return;
		}
		if (send_head(r, &res) < 0)
			return;
		if (r->c->cap != NULL && (res.status >= 200 || res.status == 101))
			capture_resp_head(r->c->cap, r->cap_id, r->in.pos, (size_t)n);
		buf_consume(&r->in, (size_t)n);
		r->in_scanned = 0;
		if (res.status == 101) {
			r->status = 101;
			local_set_state(r, LREQ_UPGRADE);
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
	struct local_pool_conn *k = r->conn;

	r->conn = NULL;
	local_pool_close(k);
	r->retried = 1;
	r->head_off = 0;
	r->wr_dead = 0;
	r->in_scanned = 0;
	buf_reset(&r->in, 0);
	r->conn = local_pool_connect(&r->loc->pool, &r->addr, r->addr_len, r);
	if (r->conn == NULL) {
		set_connect_why(r, errno);
		local_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
	}
}

/*
 * What a head read into the client's scratch left in r->in (the start of
 * the body, or a partial head) moves to memory of the request's own.
 */
static void
keep_rest(struct lreq *r, const struct local *loc)
{
	struct buf w = r->in;

	if (r->in.start != loc->scratch)
		return;
	memset(&r->in, 0, sizeof(r->in));
	if (buf_len(&w) == 0 || r->state == LREQ_DONE)
		return;
	if (buf_reserve(&r->in, buf_len(&w), 0, 0) < 0 || buf_append(&r->in, w.pos, buf_len(&w)) < 0)
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
}

/*
 * Read response head bytes. With nothing buffered yet (the usual case) the
 * read goes to the client's scratch, and a whole small response is parsed
 * and sent from there; only a partial head or unsent body bytes are kept.
 */
static void
head_read(struct lreq *r)
{
	struct local *loc = r->c->local_pool;
	size_t room = LOCAL_RESP_HEAD_MAX - UTIL_MIN(buf_len(&r->in), (size_t)LOCAL_RESP_HEAD_MAX);
	int borrow = r->in.start == NULL && !loc->scratch_busy;
	ssize_t n;

	if (borrow)
		buf_wrap(&r->in, loc->scratch, sizeof(loc->scratch), 0);
	else if (room == 0 || buf_reserve(&r->in, UTIL_MIN(room, (size_t)16384), 0, 0) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad response from the local service");
		return;
	}
	n = recv(r->conn->fd, r->in.last, UTIL_MIN(room, buf_room(&r->in)), 0);
	if (n <= 0 && borrow)
		memset(&r->in, 0, sizeof(r->in));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (can_retry(r)) {
			retry(r);
			return;
		}
		if (n < 0 && errno == ECONNRESET)
			set_why(r, "reset");
		local_fail(r, r->got_bytes ? FRAME_CODE_INTERNAL_ERROR : FRAME_CODE_REFUSED_STREAM,
			   r->got_bytes ? "bad response from the local service"
					: "local service closed the connection");
		return;
	}
	r->got_bytes = 1;
	buf_commit(&r->in, (size_t)n);
	loc->scratch_busy += borrow;
	resp_head(r);
	loc->scratch_busy -= borrow;
	if (borrow)
		keep_rest(r, loc);
	quickack_if_waiting(r);
}

/* ---- upgrade ------------------------------------------------------------- */

static void
pump_done(struct pump *p)
{
	struct lreq *r = p->owner;

	r->pump_live = 0;
	local_set_state(r, LREQ_DONE);
	r->bytes_out += p->bytes_up;
	local_log(r);
	if (local_freeable(r) && !r->defer.queued)
		local_free(r); /* from the closing phase: safe */
}

/* The socket and the stream go to the pump (spill written, leftover sent). */
static void
handover(struct lreq *r)
{
	struct stream *s = r->s;
	int fd = local_pool_detach(r->conn);

	r->conn = NULL;
	if (r->peer_eof)
		shutdown(fd, SHUT_WR);
	r->pump.owner = r;
	if (pump_start(&r->pump, &r->c->r, &r->c->mux, s, fd, 0, pump_done) < 0) {
		close(fd);
		s->ops = &local_stream_ops;
		s->owner = r;
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "cannot watch socket");
		return;
	}
	r->s = NULL;
	local_set_state(r, LREQ_PUMP);
	r->pump_live = 1;
}

/* After a 101: send what was read past the head, then hand over. */
static void
upgrade_step(struct lreq *r)
{
	while (buf_len(&r->in) > 0) {
		size_t start = 0, want;

		if (ring_get(r) < 0) {
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
			return;
		}
		want = mux_allowance(&r->c->mux, r->s,
				     UTIL_MIN(ring_space(&r->ring, &start), buf_len(&r->in)));
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

/* ---- socket events ------------------------------------------------------- */

/* Socket interest from the request's state, spill, ring and credit. */
static void
local_update(struct lreq *r)
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
		    (r->ring.mem == NULL || ring_space(&r->ring, &start) > 0) &&
		    mux_allowance(&r->c->mux, r->s, 1) > 0)
			want |= REACTOR_READ;
	}
	local_pool_want(r->conn, want);
}

static void
connected(struct lreq *r)
{
	int err = local_pool_connected(r->conn);

	if (err != 0) {
		set_connect_why(r, -err);
		local_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return;
	}
	out_drain(r);
}

/* The socket of r's connection is ready (the pool's callback). */
static void
on_conn_io(void *owner, unsigned events)
{
	struct lreq *r = owner;
	struct local_pool_conn *k = r->conn;

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
	local_update(r);
}

/* ---- public -------------------------------------------------------------- */

/*
 * Idle local connections kept: half the descriptors htc may open, so that
 * a burst of visitors leaves its connections for the next one (no connect
 * per request at 10,000 visitors) and the other half stays for new ones.
 */
static unsigned
idle_max(void)
{
	long n = util_nofile();

	return (unsigned)UTIL_MIN(UTIL_MAX(n / 2, 64L), (long)LOCAL_POOL_IDLE_CAP);
}

static struct local *
local_get(struct client *c)
{
	struct local *loc = c->local_pool;

	if (loc == NULL) {
		loc = calloc(1, sizeof(*loc));
		if (loc == NULL)
			return NULL;
		local_pool_init(&loc->pool, &c->r, on_conn_io, idle_max());
		reactor_timer_init(&loc->trim, on_trim);
		c->local_pool = loc;
	}
	return loc;
}

static void
log_refused(struct client *c, const struct client_binding *b, const struct buf *head,
	    const struct local_request *rq)
{
	char m[48] = "-", *t = NULL;
	struct client_request req = { b, m, "-", 502, 0, 0, "invalid request" };

	if (rq->method_len > 0)
		snprintf(m, sizeof(m), "%.*s", (int)rq->method_len, (const char *)head->pos);
	if (rq->target_len > 0)
		t = strndup((const char *)head->pos + rq->target_off, rq->target_len);
	if (t != NULL)
		req.target = t;
	if (c->ev != NULL && c->ev->on_request != NULL)
		c->ev->on_request(c, &req);
	free(t);
}

/*
 * 1 when a request can go again on a fresh connection should a reused one
 * turn out closed (can_retry): no body to lose, no upgrade.
 */
static int
retryable(const struct local_request *rq)
{
	return !rq->upgrade && !rq->body_method && !(rq->has_length && rq->content_length > 0);
}

/* Fill r from the STREAM_OPEN. 0, LOCAL_CODEC_INVALID, or another -errno. */
static int
lreq_setup(struct lreq *r, struct client_binding *b, const struct json_doc *doc)
{
	int rc;

	r->b = b;
	if (b->authority[0] == '\0' && url_local_format(&b->local, b->authority, sizeof(b->authority)) < 0)
		b->authority[0] = '\0';
	rc = local_codec_request_head_doc(doc, b->authority, &r->head, LOCAL_HEAD_MAX, &r->rq);
	if (rc < 0)
		return rc;
	util_catn(r->method, sizeof(r->method), 0, (const char *)r->head.pos, r->rq.method_len);
	r->target = strndup((const char *)r->head.pos + r->rq.target_off, r->rq.target_len);
	if (r->target == NULL)
		return -ENOMEM;
	local_codec_req_body_init(&r->reqb, &r->rq);
	r->reusable = !r->rq.upgrade;
	if (r->reqb.framing != LOCAL_FRAMING_UNDECIDED)
		return finish_head(r);
	return 0;
}

/* see local.h */
int
local_http_open(struct client *c, struct client_binding *b, struct stream *s, const struct json_doc *doc,
		const char *peer)
{
	struct local *loc = local_get(c);
	struct lreq *r = loc ? lreq_new(loc) : NULL;
	int rc;

	if (r == NULL)
		return -1;
	r->c = c;
	r->start_ms = reactor_now(&c->r);
	r->addr = b->addr;
	r->addr_len = b->addr_len;
	if (c->cap != NULL)
		r->cap_id = capture_open(c->cap, (unsigned)(b - c->binds), peer, 0);
	rc = lreq_setup(r, b, doc);
	if (rc == LOCAL_CODEC_INVALID) {
		log_refused(c, b, &r->head, &r->rq);
		if (c->cap != NULL)
			capture_done(c->cap, r->cap_id, 502, "invalid request");
		local_free(r);
		mux_send_reset(&c->mux, s, FRAME_CODE_PROTOCOL_ERROR, "invalid request");
		return 0;
	}
	if (rc < 0) {
		if (c->cap != NULL)
			capture_done(c->cap, r->cap_id, 502, "cannot serve request");
		local_free(r);
		return -1;
	}
	r->loc = loc;
	r->next = loc->reqs;
	if (r->next)
		r->next->prev = r;
	loc->reqs = r;
	r->s = s;
	s->owner = r;
	s->ops = &local_stream_ops;
	r->conn = local_pool_take(&loc->pool, &r->addr, r->addr_len, r, !retryable(&r->rq));
	if (r->conn == NULL)
		r->conn = local_pool_connect(&loc->pool, &r->addr, r->addr_len, r);
	if (r->conn == NULL) {
		set_connect_why(r, errno);
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
	struct local *loc = c->local_pool;

	if (loc == NULL)
		return;
	while (loc->reqs != NULL) {
		struct lreq *r = loc->reqs;

		lreq_unlink(r);
		r->orphan = 1;
		if (r->conn != NULL) {
			struct local_pool_conn *k = r->conn;

			r->conn = NULL;
			local_pool_close(k);
		}
		if (r->s != NULL) {
			r->s->ops = NULL;
			r->s->owner = NULL;
			r->s = NULL;
		}
		if (local_freeable(r) && !r->defer.queued)
			local_free(r);
	}
	local_pool_fini(&loc->pool);
	reactor_timer_stop(&c->r, &loc->trim);
	while (loc->nrings > 0)
		ring_release(&loc->rings[--loc->nrings]);
	while (loc->spare != NULL) {
		struct lreq *r = loc->spare;

		loc->spare = r->next;
		buf_fini(&r->head);
		free(r);
	}
	buf_fini(&loc->json);
	free(loc);
	c->local_pool = NULL;
}
