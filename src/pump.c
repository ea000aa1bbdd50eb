/*
 * pump.c: raw bytes between a TCP socket and a stream (see pump.h).
 *
 * The upstream ring (ring.h) holds the bytes lent to the tunnel; they come
 * back in order through the done callback. A read takes the largest
 * contiguous free range, capped by the credit.
 */
#include "pump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

#define PUMP_RING_SIZE (512 * 1024)
#define PUMP_READ_MAX (256 * 1024)

static void pump_on_io(struct conn *c, unsigned events);
static void pump_finish(struct pump *p);
static void update_interest(struct pump *p);
static void maybe_shut_write(struct pump *p);

static const struct stream_ops pump_stream_ops;

/* The pump's fields for stream s of m; the conn is the caller's to set. */
static void
pump_setup(struct pump *p, struct mux *m, struct stream *s, int connecting, pump_done_cb *done)
{
	void *owner = p->owner;

	memset(p, 0, sizeof(*p));
	p->owner = owner;
	p->mux = m;
	p->s = s;
	p->done = done;
	p->state = connecting ? PUMP_CONNECTING : PUMP_ACTIVE;
	s->ops = &pump_stream_ops;
	s->owner = p;
}

/* see pump.h */
int
pump_start(struct pump *p, struct reactor *r, struct mux *m, struct stream *s, int fd, int connecting,
	   pump_done_cb *done)
{
	int rc;

	pump_setup(p, m, s, connecting, done);
	conn_init(&p->conn, r, fd, pump_on_io);
	rc = conn_start(&p->conn, connecting ? CONN_WRITE : CONN_READ);
	if (rc < 0) {
		p->conn.fd = -1; /* the caller keeps fd */
		s->ops = NULL;
		s->owner = NULL;
		return rc;
	}
	return 0;
}

/* see pump.h */
int
pump_adopt(struct pump *p, struct reactor *r, struct mux *m, struct stream *s, struct conn *from,
	   pump_done_cb *done)
{
	int rc;

	pump_setup(p, m, s, 0, done);
	conn_move(&p->conn, from, r, pump_on_io);
	rc = conn_start(&p->conn, CONN_READ);
	if (rc < 0) {
		conn_close(&p->conn);
		s->ops = NULL;
		s->owner = NULL;
	}
	return rc;
}

/* ---- upstream: socket -> tunnel --------------------------------------- */

static void
up_done(void *arg, uint32_t len, int sent)
{
	struct pump *p = arg;

	(void)sent;
	p->lent--;
	ring_back(&p->ring, len);
	if (p->state == PUMP_CLOSED) {
		if (p->lent == 0)
			pump_finish(p);
		return;
	}
	update_interest(p);
}

/* Lend ring bytes [start, start + n) to the tunnel as DATA frames. */
static int
send_frames(struct pump *p, size_t start, size_t n)
{
	while (n > 0) {
		uint32_t k = (uint32_t)UTIL_MIN(n, (size_t)FRAME_MAX_PAYLOAD);

		if (mux_send_data(p->mux, p->s, p->ring.mem + start, k, up_done, p) < 0)
			return -1;
		ring_lend(&p->ring, start, k);
		p->lent++;
		start += k;
		n -= k;
	}
	return 0;
}

/*
 * One read per readable event, as large as the credit and the ring allow
 * (up to PUMP_READ_MAX): the bytes leave as several DATA frames of one
 * batch, so a bulk stream costs one read and a share of one writev per
 * 256 KiB instead of a syscall per frame.
 */
static void
pump_read(struct pump *p)
{
	size_t start = 0, room, want;
	ssize_t n;

	if (ring_alloc(&p->ring, PUMP_RING_SIZE) < 0)
		return;
	room = ring_space(&p->ring, &start);
	want = mux_credit(p->mux, p->s, UTIL_MIN(room, (size_t)PUMP_READ_MAX));
	if (want == 0)
		return;
	n = conn_read(&p->conn, p->ring.mem + start, want);
	if (n < 0) {
		if (n != -EAGAIN && n != -EINTR)
			pump_abort(p, FRAME_CODE_CANCEL, "socket error");
		return;
	}
	if (n == 0) {
		p->rd_eof = 1;
		mux_send_eof(p->mux, p->s);
		return;
	}
	p->bytes_up += (uint64_t)n;
	if (send_frames(p, start, (size_t)n) < 0)
		pump_abort(p, FRAME_CODE_INTERNAL_ERROR, "tunnel gone");
}

/* ---- downstream: tunnel -> socket ------------------------------------- */

/* Push what the transport holds (TLS records). 0, or -1 when it failed (pump aborted). */
static int
flush_transport(struct pump *p)
{
	int rc = conn_flush(&p->conn);

	if (rc < 0 && rc != -EAGAIN) {
		pump_abort(p, FRAME_CODE_CANCEL, "socket write failed");
		return -1;
	}
	return 0;
}

/* Write what we can; 0, or -1 when the socket failed (pump aborted). */
static int
write_some(struct pump *p, const uint8_t *b, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t k = conn_write(&p->conn, b + *done, n - *done);

		if (k == -EINTR)
			continue;
		if (k == -EAGAIN)
			break;
		if (k < 0) {
			pump_abort(p, FRAME_CODE_CANCEL, "socket write failed");
			return -1;
		}
		*done += (size_t)k;
	}
	return flush_transport(p);
}

static void
maybe_shut_write(struct pump *p)
{
	if (p->peer_eof && !p->wr_shut && buf_len(&p->spill) == 0 && p->state == PUMP_ACTIVE) {
		conn_shutdown(&p->conn);
		p->wr_shut = 1;
	}
	if (p->wr_shut && p->rd_eof && p->state == PUMP_ACTIVE)
		pump_abort(p, 0, NULL);
}

static void
drain_spill(struct pump *p)
{
	size_t done;

	if (buf_len(&p->spill) == 0)
		return;
	if (write_some(p, p->spill.pos, buf_len(&p->spill), &done) < 0)
		return;
	buf_consume(&p->spill, done);
	p->bytes_down += done;
	if (p->s != NULL)
		mux_consumed(p->mux, p->s, done);
	if (buf_len(&p->spill) == 0)
		buf_reset(&p->spill, 0);
}

/* Copy bytes the socket did not take into the spill. 0 or -1 (aborted). */
static int
spill(struct pump *p, const uint8_t *b, size_t n)
{
	/* credit bounds this: at most one stream window is ever held */
	if (buf_reserve(&p->spill, n, 0, 0) < 0) {
		pump_abort(p, FRAME_CODE_INTERNAL_ERROR, "out of memory");
		return -1;
	}
	buf_append(&p->spill, b, n);
	return 0;
}

/* Write the gathered pieces with one writev; the rest goes to the spill. */
static void
flush_pending(struct pump *p)
{
	ssize_t n = 0;
	size_t done = 0;
	int i;

	if (p->npend == 0)
		return;
	if (p->state == PUMP_ACTIVE) {
		do
			n = conn_writev(&p->conn, p->pend, p->npend);
		while (n == -EINTR);
		if ((n < 0 && n != -EAGAIN) || flush_transport(p) < 0) {
			p->npend = 0;
			if (p->state != PUMP_CLOSED)
				pump_abort(p, FRAME_CODE_CANCEL, "socket write failed");
			return;
		}
		done = n > 0 ? (size_t)n : 0;
	}
	if (done > 0) {
		p->bytes_down += done;
		if (p->s != NULL)
			mux_consumed(p->mux, p->s, done);
	}
	for (i = 0; i < p->npend && p->state != PUMP_CLOSED; i++) {
		size_t len = p->pend[i].iov_len, skip = UTIL_MIN(done, len);

		done -= skip;
		if (skip < len && spill(p, (const uint8_t *)p->pend[i].iov_base + skip, len - skip) < 0)
			break;
	}
	p->npend = 0;
}

static void
s_on_data(struct stream *s, const uint8_t *b, size_t n)
{
	struct pump *p = s->owner;

	if (p->state == PUMP_CLOSED)
		return;
	if (p->state != PUMP_ACTIVE || buf_len(&p->spill) > 0) {
		/* connecting, or the socket is behind: keep the order */
		if (spill(p, b, n) == 0)
			update_interest(p);
		return;
	}
	if (p->npend == PUMP_PEND_MAX)
		flush_pending(p);
	if (p->state != PUMP_ACTIVE || buf_len(&p->spill) > 0) {
		if (p->state != PUMP_CLOSED && spill(p, b, n) == 0)
			update_interest(p);
		return;
	}
	p->pend[p->npend].iov_base = (void *)(uintptr_t)b;
	p->pend[p->npend].iov_len = n;
	p->npend++;
}

static void
s_on_batch_end(struct stream *s)
{
	struct pump *p = s->owner;

	flush_pending(p);
	if (p->state == PUMP_ACTIVE) {
		maybe_shut_write(p);
		update_interest(p);
	}
}

static void
s_on_eof(struct stream *s)
{
	struct pump *p = s->owner;

	flush_pending(p);
	p->peer_eof = 1;
	maybe_shut_write(p);
	if (p->state == PUMP_ACTIVE)
		update_interest(p);
}

static void
s_on_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	struct pump *p = s->owner;

	(void)reason;
	(void)rlen;
	p->reset_code = code ? code : FRAME_CODE_CANCEL;
	p->npend = 0;
	p->s = NULL;
	pump_abort(p, 0, NULL);
}

static void
s_on_credit(struct stream *s)
{
	update_interest(s->owner);
}

static void
s_on_close(struct stream *s)
{
	struct pump *p = s->owner;

	p->s = NULL; /* the mux returned this stream's credit already */
	flush_pending(p);
	if (p->state == PUMP_ACTIVE && !(p->peer_eof && p->rd_eof)) {
		/* dropped (socket lost) or reset: the socket goes too */
		pump_abort(p, 0, NULL);
	}
}

static const struct stream_ops pump_stream_ops = {
	.on_data = s_on_data,
	.on_eof = s_on_eof,
	.on_reset = s_on_reset,
	.on_credit = s_on_credit,
	.on_head = NULL,
	.on_close = s_on_close,
	.on_batch_end = s_on_batch_end,
};

/* ---- lifecycle -------------------------------------------------------- */

static void
update_interest(struct pump *p)
{
	unsigned want = 0;
	size_t start = 0;

	if (p->state == PUMP_CLOSED)
		return;
	if (p->state == PUMP_CONNECTING) {
		want = CONN_WRITE;
	} else {
		if (!p->rd_eof && p->s != NULL && (p->ring.mem == NULL || ring_space(&p->ring, &start) > 0) &&
		    mux_allowance(p->mux, p->s, 1) > 0)
			want |= CONN_READ;
		if (buf_len(&p->spill) > 0)
			want |= CONN_WRITE;
	}
	conn_interest(&p->conn, want);
}

static void
connected(struct pump *p)
{
	int err = net_socket_error(p->conn.fd);

	if (err != 0) {
		pump_abort(p, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return;
	}
	p->state = PUMP_ACTIVE;
	drain_spill(p);
	if (p->state == PUMP_ACTIVE)
		maybe_shut_write(p);
	update_interest(p);
}

static void
pump_on_io(struct conn *c, unsigned events)
{
	struct pump *p = container_of(c, struct pump, conn);

	if (p->state == PUMP_CONNECTING) {
		if (events)
			connected(p);
		return;
	}
	if ((events & REACTOR_WRITE) && p->state == PUMP_ACTIVE) {
		drain_spill(p);
		if (p->state == PUMP_ACTIVE)
			maybe_shut_write(p);
	}
	if ((events & REACTOR_READ) && p->state == PUMP_ACTIVE && p->s != NULL) {
		pump_read(p);
		if (p->state == PUMP_ACTIVE)
			maybe_shut_write(p);
	}
	update_interest(p);
}

static void
done_cb(struct reactor *r, struct reactor_deferred *d)
{
	struct pump *p = container_of(d, struct pump, done_defer);

	(void)r;
	ring_release(&p->ring);
	buf_fini(&p->spill);
	p->done(p);
}

static void
pump_finish(struct pump *p)
{
	if (p->finished)
		return;
	p->finished = 1;
	reactor_defer(p->conn.r, &p->done_defer, done_cb);
}

/* see pump.h */
void
pump_abort(struct pump *p, unsigned code, const char *reason)
{
	struct stream *s = p->s;

	if (p->state == PUMP_CLOSED)
		return;
	p->state = PUMP_CLOSED;
	conn_close(&p->conn);
	if (s != NULL) {
		p->s = NULL;
		s->owner = NULL;
		s->ops = NULL;
		if (code != 0) {
			p->reset_code = code;
			mux_send_reset(p->mux, s, code, reason);
		} else if (s->state != STREAM_CLOSED) {
			/* both directions done (or the socket closed both ways) */
			if (s->state == STREAM_OPEN || s->state == STREAM_REMOTE_DONE)
				mux_send_eof(p->mux, s);
			if (s->state != STREAM_CLOSED)
				mux_drop(p->mux, s);
		}
	}
	if (p->lent == 0)
		pump_finish(p);
}

/* see pump.h */
void
pump_fini(struct pump *p)
{
	if (p->finished)
		return;
	conn_close(&p->conn);
	ring_release(&p->ring);
	buf_fini(&p->spill);
}
