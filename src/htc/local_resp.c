/*
 * local_resp.c: the response side of htc's EXPOSE streams (see local_int.h).
 *
 * The head is read into `in` and parsed (1xx heads go out at once, then
 * the final one) and sent as STREAM_RESPONSE_HEAD; the body is read into a
 * ring whose bytes are lent to the tunnel as DATA (no copy) until their
 * done callback, with chunked bodies decoded in place. A read happens only
 * with credit and ring space. A request whose reused keep-alive connection
 * turns out dead before any response byte is sent again on a fresh one.
 * After a 101 the socket and the stream are handed to a struct pump.
 */
#include "local_int.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "util.h"

#define LOCAL_RESP_HEAD_MAX (32 * 1024) /* response head (JSON must fit in one frame) */
#define LOCAL_RESP_HEADERS 128
#define LOCAL_RING_MIN 4096
#define LOCAL_RING_MAX (256 * 1024)
#define LOCAL_READS_PER_EVENT 4
#define LOCAL_MAX_INFORMATIONAL 8 /* 1xx heads forwarded before the final one */

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
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad chunked body from the local service");
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
			local_finish(r);
		break;
	case HTTP1_BODY_CHUNKED:
		if (body_chunked(r, start, n) == 0 && http1_chunked_done(&r->chunked))
			local_finish(r);
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
		local_finish(r);
		return;
	}
	local_fail(r, FRAME_CODE_INTERNAL_ERROR, "local service closed the connection mid-response");
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
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
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
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "local connection failed mid-response");
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
/* see local_int.h */
void
local_resp_body(struct lreq *r, int sock)
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
	r->body = res->body;
	r->remaining = res->content_length;
	r->state = LREQ_BODY;
	http1_chunked_init(&r->chunked);
	if (r->body == HTTP1_BODY_NONE || (r->body == HTTP1_BODY_LENGTH && r->remaining == 0)) {
		local_finish(r);
		return;
	}
	local_resp_body(r, 0);
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
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "too many informational responses from the local service");
			return;
		}
		if (send_head(r, &res) < 0)
			return;
		buf_consume(&r->in, (size_t)n);
		r->in_scanned = 0;
		if (res.status == 101) {
			r->status = 101;
			r->state = LREQ_UPGRADE;
			local_resp_upgrade(r);
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
	local_conn_close(k);
	r->retried = 1;
	r->head_off = 0;
	r->wr_dead = 0;
	r->in_scanned = 0;
	buf_reset(&r->in, 0);
	r->conn = local_conn_connect(r);
	if (r->conn == NULL)
		local_fail(r, FRAME_CODE_REFUSED_STREAM, "local connect failed");
}

/* Read response head bytes. */
/* see local_int.h */
void
local_resp_head_read(struct lreq *r)
{
	size_t room = LOCAL_RESP_HEAD_MAX - UTIL_MIN(buf_len(&r->in), (size_t)LOCAL_RESP_HEAD_MAX);
	ssize_t n;

	if (room == 0 || buf_reserve(&r->in, UTIL_MIN(room, (size_t)16384), 0, 0) < 0) {
		local_fail(r, FRAME_CODE_INTERNAL_ERROR, "bad response from the local service");
		return;
	}
	n = local_recv(r->conn->fd, r->in.last, UTIL_MIN(room, buf_room(&r->in)));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (can_retry(r))
			retry(r);
		else
			local_fail(r, r->got_bytes ? FRAME_CODE_INTERNAL_ERROR : FRAME_CODE_REFUSED_STREAM,
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
	local_log(r);
	if (local_freeable(r) && !r->defer.queued)
		local_free(r); /* from the closing phase: safe */
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
	local_conn_close(k);
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
	r->state = LREQ_PUMP;
	r->pump_live = 1;
}

/* After a 101: send what was read past the head, then hand over. */
/* see local_int.h */
void
local_resp_upgrade(struct lreq *r)
{
	while (buf_len(&r->in) > 0) {
		size_t start = 0, want;

		if (lreq_ring_alloc(r) < 0) {
			local_fail(r, FRAME_CODE_INTERNAL_ERROR, "out of memory");
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
	if (r->conn != NULL && buf_len(&r->spill) == 0 && local_head_left(r) == 0)
		handover(r);
}
