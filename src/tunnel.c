/*
 * tunnel.c: tunnel frames over one WebSocket (see tunnel.h).
 *
 * The output queue is a ring of items. An item is either one tunnel frame
 * (its 9-byte header kept inline, the payload in the arena or in the
 * owner's memory) or one complete WebSocket control frame pre-encoded into
 * the arena. Items are "planned" in the before-poll hook: runs of frames
 * become binary messages (the WebSocket header is written in front of the
 * first frame's header, in the same inline array, so header bytes of a
 * message are contiguous), then the planned prefix of the ring goes out
 * with writev(). Planning never changes once done, so a partially written
 * message stays intact across iterations.
 */
#include "tunnel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "util.h"

#define TUNNEL_IN_SIZE (256 * 1024) /* one read per readable event, at most this */
#define TUNNEL_IOV_MAX 512
#define HDR_END (WS_MAX_HEADER + FRAME_HEADER_LEN)

enum {
	TUNNEL_ITEM_FRAME, /* a tunnel frame, batched into a binary message */
	TUNNEL_ITEM_WSCTL, /* a whole WebSocket control frame in the arena */
};

static void tunnel_on_io(struct conn *c, unsigned events);

const char tunnel_reason_replies[] = "peer does not read its replies";

static void tunnel_finish(struct tunnel *t, unsigned code, const char *reason);

/*
 * Mask keys: RFC 6455 wants them unpredictable, not secret. They come from
 * the OS in blocks of 1,024 keys, so masking costs no syscall per message.
 * 0, or the -errno of util_random when a new block is needed and none
 * comes: then the frame is not sent at all (a fixed key never is).
 */
static int
mask_key(uint8_t key[4])
{
	static uint8_t pool[4096];
	static size_t left;
	int rc;

	if (left < 4) {
		rc = util_random(pool, sizeof(pool));
		if (rc < 0)
			return rc;
		left = sizeof(pool);
	}
	left -= 4;
	memcpy(key, pool + left, 4);
	return 0;
}

/*
 * No mask key could be had (t->rand_err): nothing more can be sent, so the
 * connection ends, and the owner's on_closed gets why (it logs it).
 */
static void
fail_random(struct tunnel *t)
{
	snprintf(t->why, sizeof(t->why), "no random numbers for a WebSocket mask key: %s",
		 strerror(-t->rand_err));
	tunnel_finish(t, WS_CLOSE_INTERNAL, t->why);
}

/* ---- loop-wide flusher -------------------------------------------------- */

static int
loop_hook(struct reactor *r, struct reactor_hook *h)
{
	struct tunnel_loop *l = container_of(h, struct tunnel_loop, hook);

	(void)r;
	while (l->dirty != NULL) {
		struct tunnel *t = l->dirty;

		l->dirty = t->dirty_next;
		t->dirty_next = NULL;
		t->dirty = 0;
		tunnel_flush(t);
	}
	return 0;
}

/* see tunnel.h */
void
tunnel_loop_init(struct tunnel_loop *l, struct reactor *r)
{
	memset(l, 0, sizeof(*l));
	l->r = r;
	reactor_hook_start(r, &l->hook, loop_hook);
}

/* see tunnel.h */
void
tunnel_loop_fini(struct tunnel_loop *l)
{
	reactor_hook_stop(l->r, &l->hook);
}

static void
mark_dirty(struct tunnel *t)
{
	if (t->dirty || t->state == TUNNEL_CLOSED)
		return;
	t->dirty = 1;
	t->dirty_next = t->loop->dirty;
	t->loop->dirty = t;
}

static void
unmark_dirty(struct tunnel *t)
{
	struct tunnel **pp = &t->loop->dirty;

	if (!t->dirty)
		return;
	while (*pp != NULL && *pp != t)
		pp = &(*pp)->dirty_next;
	if (*pp == t)
		*pp = t->dirty_next;
	t->dirty = 0;
	t->dirty_next = NULL;
}

/* ---- setup -------------------------------------------------------------- */

static void process_input(struct tunnel *t);

static void
pre_cb(struct reactor *r, struct reactor_deferred *d)
{
	struct tunnel *t = container_of(d, struct tunnel, pre_defer);

	(void)r;
	if (t->state != TUNNEL_CLOSED && buf_len(&t->in) > 0)
		process_input(t);
}

/* see tunnel.h */
int
tunnel_init(struct tunnel *t, struct tunnel_loop *loop, struct conn *c, enum ws_role role,
	    const struct tunnel_ops *ops, void *owner, const uint8_t *pre, size_t pre_len)
{
	memset(t, 0, sizeof(*t));
	t->role = role;
	t->ops = ops;
	t->owner = owner;
	t->loop = loop;
	t->state = TUNNEL_OPEN;
	t->reply_max = TUNNEL_REPLY_MAX;
	t->last_rx_ms = reactor_now(loop->r);
	if (buf_init(&t->in, TUNNEL_IN_SIZE, 0) < 0)
		return -ENOMEM;
	if (buf_init(&t->arena, 4096, 0) < 0) {
		buf_fini(&t->in);
		return -ENOMEM;
	}
	ws_parser_init(&t->wp, role, FRAME_MSG_MAX_BYTES);
	frame_reader_init(&t->fr);
	reactor_timer_init(&t->close_timer, NULL);
	conn_move(&t->conn, c, loop->r, tunnel_on_io);
	if (conn_start(&t->conn, CONN_READ) < 0) {
		conn_move(c, &t->conn, c->r, c->cb); /* the caller's again */
		buf_fini(&t->in);
		buf_fini(&t->arena);
		frame_reader_fini(&t->fr);
		return -EBADF;
	}
	if (pre_len > 0) {
		/* bytes that arrived with the handshake: the socket may never
		 * be readable again for them, so process them from the loop */
		buf_append(&t->in, pre, UTIL_MIN(pre_len, buf_room(&t->in)));
		reactor_defer(loop->r, &t->pre_defer, pre_cb);
	}
	return 0;
}

static void
arena_clear(struct tunnel *t)
{
	buf_reset(&t->arena, 0);
	t->arena_abs = 0;
}

static void
drop_queue(struct tunnel *t)
{
	while (t->qlen > 0) {
		struct tunnel_item *it = &t->q[t->qhead];

		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
		if (it->done)
			it->done(it->done_arg, it->len, 0);
	}
	t->qplanned = 0;
	t->head_off = 0;
	t->queued_bytes = 0;
	t->reply_bytes = 0;
	arena_clear(t);
}

/* see tunnel.h */
void
tunnel_fini(struct tunnel *t)
{
	if (t->state != TUNNEL_CLOSED) {
		conn_close(&t->conn);
		t->state = TUNNEL_CLOSED;
	}
	unmark_dirty(t);
	reactor_timer_stop(t->loop->r, &t->close_timer);
	drop_queue(t);
	free(t->q);
	buf_fini(&t->in);
	buf_fini(&t->arena);
	frame_reader_fini(&t->fr);
	t->q = NULL;
}

/* ---- queueing ----------------------------------------------------------- */

static struct tunnel_item *
push_item(struct tunnel *t)
{
	struct tunnel_item *it;

	if (t->qlen == t->qcap) {
		size_t ncap = t->qcap ? t->qcap * 2 : 64, i;
		struct tunnel_item *nq = malloc(ncap * sizeof(*nq));

		if (nq == NULL)
			return NULL;
		for (i = 0; i < t->qlen; i++)
			nq[i] = t->q[(t->qhead + i) % t->qcap];
		free(t->q);
		t->q = nq;
		t->qcap = ncap;
		t->qhead = 0;
	}
	it = &t->q[(t->qhead + t->qlen) % t->qcap];
	memset(it, 0, sizeof(*it));
	t->qlen++;
	mark_dirty(t);
	return it;
}

/*
 * Copy len bytes into the arena; their position in *off. 0 or -ENOMEM.
 * Positions grow with every byte put and are mapped through arena_abs, so
 * the buffer may compact (written bytes are consumed from its front)
 * without touching the items that point into it.
 */
static int
arena_put(struct tunnel *t, const void *p, size_t len, size_t *off)
{
	struct buf *a = &t->arena;
	size_t want = len;

	if (t->qlen == 0)
		arena_clear(t);
	if (buf_room(a) < len && buf_headroom(a) < buf_len(a))
		want += buf_len(a); /* compacting would win little: grow, so moves stay amortised */
	if (buf_reserve(a, want, 0, 0) < 0)
		return -ENOMEM;
	*off = t->arena_abs + buf_len(a);
	buf_append(a, p, len);
	return 0;
}

/* Item it, first in the queue, was written: its arena bytes are free. */
static void
arena_release(struct tunnel *t, const struct tunnel_item *it)
{
	if (it->ext != NULL || it->len == 0)
		return;
	buf_consume(&t->arena, it->arena_off + it->len - t->arena_abs);
	t->arena_abs = it->arena_off + it->len;
}

/* Bytes an item adds to reply_bytes. */
static size_t
reply_size(const struct tunnel_item *it)
{
	return (it->kind == TUNNEL_ITEM_FRAME ? FRAME_HEADER_LEN : 0) + it->len;
}

/* Mark a just-queued item as a reply when tunnel input is being processed. */
static void
reply_mark(struct tunnel *t, struct tunnel_item *it)
{
	if (t->loop->in_input == 0)
		return;
	it->reply = 1;
	t->reply_bytes += reply_size(it);
}

/* Too many unread replies: cut off (at a point where no caller holds t's items). */
static int
reply_check(struct tunnel *t)
{
	if (t->reply_bytes <= t->reply_max || t->state == TUNNEL_CLOSED)
		return 0;
	/* it reads nothing, so a CLOSE would wait in vain */
	tunnel_finish(t, WS_CLOSE_POLICY, tunnel_reason_replies);
	return -1;
}

static int
queue_frame(struct tunnel *t, uint8_t type, uint32_t sid, const void *payload, size_t len, const uint8_t *ext,
	    tunnel_done_cb *done, void *arg)
{
	struct tunnel_item *it;
	size_t off = 0;

	if (t->state != TUNNEL_OPEN || len > FRAME_MAX_PAYLOAD)
		return -EPIPE;
	if (ext == NULL && len > 0 && arena_put(t, payload, len, &off) < 0)
		return -ENOMEM;
	it = push_item(t);
	if (it == NULL)
		return -ENOMEM;
	it->kind = TUNNEL_ITEM_FRAME;
	frame_header_encode(it->hdr + WS_MAX_HEADER, type, sid, (uint32_t)len);
	it->hoff = WS_MAX_HEADER;
	it->len = (uint32_t)len;
	it->ext = ext;
	it->arena_off = off;
	it->done = done;
	it->done_arg = arg;
	if (type != FRAME_DATA)
		reply_mark(t, it); /* DATA is bounded by the peer's credit, not by this */
	t->queued_bytes += FRAME_HEADER_LEN + len;
	t->frames_out++;
	return 0;
}

/* see tunnel.h */
int
tunnel_send(struct tunnel *t, uint8_t type, uint32_t stream_id, const void *payload, size_t len)
{
	return queue_frame(t, type, stream_id, payload, len, NULL, NULL, NULL);
}

/* see tunnel.h */
int
tunnel_send_code(struct tunnel *t, uint8_t type, uint32_t stream_id, unsigned code, const char *reason)
{
	uint8_t p[2 + 256];
	size_t n = frame_code_encode(p, sizeof(p), (uint16_t)code, reason ? reason : "");

	return tunnel_send(t, type, stream_id, p, n);
}

/* see tunnel.h */
int
tunnel_send_window(struct tunnel *t, uint32_t stream_id, uint32_t increment)
{
	uint8_t p[FRAME_WINDOW_LEN];

	frame_window_encode(p, increment);
	return tunnel_send(t, FRAME_WINDOW, stream_id, p, sizeof(p));
}

/* see tunnel.h */
int
tunnel_send_data(struct tunnel *t, uint32_t stream_id, const uint8_t *p, uint32_t len, tunnel_done_cb *done,
		 void *done_arg)
{
	static const uint8_t empty[1];

	return queue_frame(t, FRAME_DATA, stream_id, NULL, len, len ? p : empty, done, done_arg);
}

/* Queue a complete WebSocket control frame (PONG, CLOSE). */
static int
queue_wsctl(struct tunnel *t, unsigned opcode, const uint8_t *payload, size_t len)
{
	uint8_t frame[WS_MAX_HEADER + WS_MAX_CONTROL], key[4];
	struct tunnel_item *it;
	size_t h, off;
	int rc;

	if (t->role == WS_ROLE_CLIENT && (rc = mask_key(key)) < 0) {
		/* the next flush ends the connection */
		t->rand_err = rc;
		mark_dirty(t);
		return rc;
	}
	h = ws_header_encode(frame, opcode, 1, len, t->role == WS_ROLE_CLIENT ? key : NULL);
	memcpy(frame + h, payload, len);
	if (t->role == WS_ROLE_CLIENT)
		ws_mask(frame + h, len, key, 0);
	if (arena_put(t, frame, h + len, &off) < 0)
		return -ENOMEM;
	it = push_item(t);
	if (it == NULL)
		return -ENOMEM;
	it->kind = TUNNEL_ITEM_WSCTL;
	it->hoff = HDR_END;
	it->len = (uint32_t)(h + len);
	it->arena_off = off;
	reply_mark(t, it);
	t->queued_bytes += h + len;
	return 0;
}

/* ---- planning ----------------------------------------------------------- */

static struct tunnel_item *
item_at(struct tunnel *t, size_t i)
{
	return &t->q[(t->qhead + i) % t->qcap];
}

static uint8_t *
item_payload(struct tunnel *t, const struct tunnel_item *it)
{
	/* ext payloads are the owner's memory, lent to us until done(): the
	 * client role masks them in place */
	return it->ext ? (uint8_t *)(uintptr_t)it->ext : t->arena.pos + (it->arena_off - t->arena_abs);
}

/* Frame items [first, end) become one binary message: 0, or the -errno of a missing mask key. */
static int
plan_message(struct tunnel *t, size_t first, size_t end, size_t bytes)
{
	struct tunnel_item *it = item_at(t, first);
	uint8_t ws[WS_MAX_HEADER], key[4];
	int masked = t->role == WS_ROLE_CLIENT, rc;
	size_t h, i, off = 0;

	if (masked && (rc = mask_key(key)) < 0)
		return rc;
	h = ws_header_encode(ws, WS_OP_BINARY, 1, bytes, masked ? key : NULL);
	memcpy(it->hdr + WS_MAX_HEADER - h, ws, h);
	it->hoff = (uint8_t)(WS_MAX_HEADER - h);
	t->queued_bytes += h;
	if (!masked)
		return 0;
	for (i = first; i < end; i++) {
		it = item_at(t, i);
		ws_mask(it->hdr + WS_MAX_HEADER, FRAME_HEADER_LEN, key, off);
		off += FRAME_HEADER_LEN;
		ws_mask(item_payload(t, it), it->len, key, off);
		off += it->len;
	}
	return 0;
}

/* Message framing for every queued item: 0, or the -errno of a missing mask key. */
static int
plan(struct tunnel *t)
{
	int rc;

	while (t->qplanned < t->qlen) {
		struct frame_batch b;
		size_t first = t->qplanned, i = first;

		if (item_at(t, i)->kind == TUNNEL_ITEM_WSCTL) {
			t->qplanned++;
			continue;
		}
		frame_batch_reset(&b);
		while (i < t->qlen && item_at(t, i)->kind == TUNNEL_ITEM_FRAME &&
		       frame_batch_fits(&b, item_at(t, i)->len)) {
			frame_batch_add(&b, item_at(t, i)->len);
			i++;
		}
		rc = plan_message(t, first, i, b.bytes);
		if (rc < 0)
			return rc;
		t->qplanned = i;
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static size_t
build_iov(struct tunnel *t, struct iovec *iov, int *niov)
{
	size_t i, skip = t->head_off, total = 0;
	int n = 0;

	for (i = 0; i < t->qplanned && n + 2 <= TUNNEL_IOV_MAX; i++) {
		struct tunnel_item *it = item_at(t, i);
		const uint8_t *seg[2];
		size_t len[2];
		int k;

		seg[0] = it->hdr + it->hoff;
		len[0] = it->kind == TUNNEL_ITEM_FRAME ? (size_t)(HDR_END - it->hoff) : 0;
		seg[1] = item_payload(t, it);
		len[1] = it->len;
		for (k = 0; k < 2; k++) {
			size_t d = UTIL_MIN(skip, len[k]);

			skip -= d;
			if (len[k] - d == 0)
				continue;
			iov[n].iov_base = (void *)(uintptr_t)(seg[k] + d);
			iov[n].iov_len = len[k] - d;
			total += len[k] - d;
			n++;
		}
	}
	*niov = n;
	return total;
}

/* Account n written bytes: complete items are popped and reported. */
static void
advance(struct tunnel *t, size_t n)
{
	t->bytes_out += n;
	t->queued_bytes -= n;
	n += t->head_off;
	while (t->qplanned > 0) {
		struct tunnel_item *it = item_at(t, 0);
		size_t size = (it->kind == TUNNEL_ITEM_FRAME ? (size_t)(HDR_END - it->hoff) : 0) + it->len;

		if (n < size)
			break;
		n -= size;
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
		t->qplanned--;
		arena_release(t, it);
		if (it->reply)
			t->reply_bytes -= reply_size(it);
		if (it->done)
			it->done(it->done_arg, it->len, 1);
	}
	t->head_off = n;
	if (t->qlen == 0)
		arena_clear(t);
}

/* The transport failed: keep its account of why (the conn forgets it on close). */
static const char *
transport_why(struct tunnel *t, const char *fallback)
{
	const char *why = conn_error(&t->conn);

	if (why == NULL)
		return fallback;
	snprintf(t->why, sizeof(t->why), "%s", why);
	return t->why;
}

/* see tunnel.h */
void
tunnel_flush(struct tunnel *t)
{
	struct iovec iov[TUNNEL_IOV_MAX];
	ssize_t n;
	int niov;

	if (t->state == TUNNEL_CLOSED || reply_check(t) < 0)
		return;
	if (t->rand_err == 0)
		t->rand_err = plan(t);
	if (t->rand_err < 0) {
		fail_random(t);
		return;
	}
	while (t->qplanned > 0) {
		build_iov(t, iov, &niov);
		n = conn_writev(&t->conn, iov, niov);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			tunnel_finish(t, WS_CLOSE_ABNORMAL, transport_why(t, "write failed"));
			return;
		}
		advance(t, (size_t)n);
	}
	n = conn_flush(&t->conn);
	if (n < 0 && n != -EAGAIN) {
		tunnel_finish(t, WS_CLOSE_ABNORMAL, transport_why(t, "write failed"));
		return;
	}
	if (t->state == TUNNEL_CLOSING && t->qlen == 0 && !t->shut_wr) {
		/* our CLOSE is out: the peer answers with its CLOSE, then EOF */
		conn_shutdown(&t->conn);
		t->shut_wr = 1;
	}
	conn_interest(&t->conn, CONN_READ | (t->qlen || n == -EAGAIN ? CONN_WRITE : 0));
}

/* ---- reading ------------------------------------------------------------ */

static void
on_close_timer(struct reactor *r, struct reactor_timer *tm)
{
	struct tunnel *t = container_of(tm, struct tunnel, close_timer);

	(void)r;
	tunnel_finish(t, t->close_code, t->close_reason ? t->close_reason : "close timeout");
}

/* see tunnel.h */
void
tunnel_close(struct tunnel *t, unsigned ws_code, const char *reason, uint64_t timeout_ms)
{
	uint8_t p[WS_MAX_CONTROL];
	size_t n;

	if (t->state != TUNNEL_OPEN)
		return;
	n = ws_close_payload_encode(p, ws_code, reason, reason ? strlen(reason) : 0);
	queue_wsctl(t, WS_OP_CLOSE, p, n);
	t->state = TUNNEL_CLOSING;
	t->close_code = ws_code;
	t->close_reason = reason;
	reactor_timer_init(&t->close_timer, on_close_timer);
	reactor_timer_start(t->loop->r, &t->close_timer, timeout_ms, 0);
	mark_dirty(t);
}

static void
closed_cb(struct reactor *r, struct reactor_deferred *d)
{
	struct tunnel *t = container_of(d, struct tunnel, closed_defer);

	(void)r;
	t->ops->on_closed(t, t->close_code, t->close_reason);
}

/* Close the fd now and tell the owner from the closing phase. */
static void
tunnel_finish(struct tunnel *t, unsigned code, const char *reason)
{
	if (t->state == TUNNEL_CLOSED)
		return;
	reactor_timer_stop(t->loop->r, &t->close_timer);
	conn_close(&t->conn); /* TLS: close_notify, best effort */
	t->state = TUNNEL_CLOSED;
	t->close_code = code;
	t->close_reason = reason;
	unmark_dirty(t);
	drop_queue(t);
	reactor_defer(t->loop->r, &t->closed_defer, closed_cb);
}

/* see tunnel.h */
void
tunnel_abort(struct tunnel *t, unsigned ws_code, const char *reason)
{
	tunnel_finish(t, ws_code, reason);
}

/* A protocol violation: send CLOSE with the code, then end. */
static void
fail(struct tunnel *t, unsigned ws_code, const char *reason)
{
	if (t->state == TUNNEL_OPEN)
		tunnel_close(t, ws_code, reason, 1000);
	else
		tunnel_finish(t, ws_code, reason);
}

/* Feed one chunk of a binary message to the frame reader. */
static int
feed_frames(struct tunnel *t, const uint8_t *p, size_t n, int last)
{
	for (;;) {
		struct frame_event ev;
		ssize_t k = frame_reader_feed(&t->fr, p, n, last, &ev);

		if (k < 0) {
			fail(t, (unsigned)t->fr.ws_close_code, t->fr.reason);
			return -1;
		}
		p += k;
		n -= (size_t)k;
		if (ev.type == FRAME_EV_NONE || ev.type == FRAME_EV_MESSAGE_END)
			return 0;
		if (ev.type == FRAME_EV_CONTROL) {
			t->frames_in++;
			t->ops->on_control(t, ev.frame_type, ev.stream_id, ev.payload, ev.len);
		} else {
			if (ev.frame_start)
				t->frames_in++;
			t->ops->on_data(t, &ev);
		}
		if (t->state != TUNNEL_OPEN)
			return -1;
	}
}

static int
handle_ws_event(struct tunnel *t, const struct ws_event *ev)
{
	switch (ev->type) {
	case WS_EV_DATA:
		if (ev->opcode != WS_OP_BINARY) {
			fail(t, WS_CLOSE_UNSUPPORTED, "text message");
			return -1;
		}
		return feed_frames(t, ev->data, ev->len, ev->last);
	case WS_EV_PING:
		/* once our CLOSE is out nothing more may be sent */
		if (t->state == TUNNEL_OPEN)
			queue_wsctl(t, WS_OP_PONG, ev->data, ev->len);
		return 0;
	case WS_EV_CLOSE:
		if (t->state == TUNNEL_OPEN) {
			/* echo the peer's code, then end once our CLOSE is out */
			unsigned code = ev->code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev->code;
			size_t n = UTIL_MIN(ev->reason_len, sizeof(t->peer_close_reason) - 1);

			t->peer_close_code = ev->code;
			if (n > 0)
				memcpy(t->peer_close_reason, ev->reason, n);
			t->peer_close_reason[n] = '\0';
			tunnel_close(t, code, "peer closed", 1000);
			t->close_reason = "peer closed";
			return -1;
		}
		tunnel_finish(t, t->close_code, t->close_reason);
		return -1;
	default: return 0;
	}
}

static void
process_input(struct tunnel *t)
{
	uint8_t *p = t->in.pos;
	size_t n = buf_len(&t->in);

	t->loop->in_input++;
	while (n > 0 && t->state != TUNNEL_CLOSED) {
		struct ws_event ev;
		ssize_t k;

		if (t->state == TUNNEL_CLOSING && t->wp.state == WS_RX_FAILED)
			break; /* our CLOSE for the violation is queued: the rest cannot be parsed, drop it */
		k = ws_parse(&t->wp, p, n, &ev);

		if (k < 0) {
			fail(t, t->wp.close_code, t->wp.error);
			break;
		}
		p += k;
		n -= (size_t)k;
		if (t->state == TUNNEL_CLOSING && ev.type == WS_EV_DATA)
			continue; /* after our CLOSE, data is read and dropped */
		if (handle_ws_event(t, &ev) < 0 || reply_check(t) < 0)
			break;
	}
	if (t->ops->on_input_end)
		t->ops->on_input_end(t);
	t->loop->in_input--;
	buf_reset(&t->in, 0);
}

/*
 * Read what is there, at most TUNNEL_READ_ROUNDS buffers per event, so
 * one busy peer cannot hold the loop. A short read means the transport
 * has nothing more for now; what it still holds (TLS) is announced by
 * the conn in the next iteration.
 */
#define TUNNEL_READ_ROUNDS 4

static void
on_readable(struct tunnel *t)
{
	int round;

	if (buf_len(&t->in) > 0) /* bytes that came with the handshake go first */
		process_input(t);
	for (round = 0; round < TUNNEL_READ_ROUNDS && t->state != TUNNEL_CLOSED; round++) {
		size_t room;
		ssize_t n;

		buf_reset(&t->in, 0);
		room = buf_room(&t->in);
		n = conn_read(&t->conn, t->in.last, room);
		if (n > 0) {
			buf_commit(&t->in, (size_t)n);
			t->bytes_in += (uint64_t)n;
			t->last_rx_ms = reactor_now(t->loop->r);
			process_input(t);
			if ((size_t)n < room)
				return; /* drained for now */
			continue;
		}
		if (n == 0) {
			if (t->state == TUNNEL_CLOSING)
				tunnel_finish(t, t->close_code, t->close_reason);
			else
				tunnel_finish(t, WS_CLOSE_ABNORMAL, "connection lost");
			return;
		}
		if (n != -EAGAIN && n != -EINTR)
			tunnel_finish(t, WS_CLOSE_ABNORMAL, transport_why(t, "read failed"));
		return;
	}
}

static void
tunnel_on_io(struct conn *c, unsigned events)
{
	struct tunnel *t = container_of(c, struct tunnel, conn);

	if ((events & CONN_READ) && t->state != TUNNEL_CLOSED)
		on_readable(t);
	if ((events & CONN_WRITE) && t->state != TUNNEL_CLOSED)
		tunnel_flush(t);
}
