/*
 * expose_out.c: the bytes on their way to one visitor's socket (see
 * expose_out.h).
 *
 * Payload and framing share one buffer, in order, and only `owed` says how
 * much of it is payload. Of the bytes a write takes from the buffer, the
 * first len - owed are counted as framing and the rest as payload: when
 * framing sits behind payload (a chunk's CRLF), credit comes a little late,
 * never early.
 */
#include "expose_out.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http1.h"
#include "util.h"

/* see expose_out.h */
void
expose_out_init(struct expose_out *o, size_t max, expose_out_credit_cb *credit, void *arg)
{
	memset(o, 0, sizeof(*o));
	o->max = max;
	o->credit = credit;
	o->arg = arg;
}

/* see expose_out.h */
void
expose_out_fini(struct expose_out *o)
{
	buf_fini(&o->buf);
	o->owed = 0;
}

/* see expose_out.h */
int
expose_out_append(struct expose_out *o, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(&o->buf, n, 0, 0) < 0)
		return -ENOMEM;
	buf_append(&o->buf, p, n);
	return 0;
}

/* k bytes of the buffer were written: return the credit of the payload among them. */
static void
written(struct expose_out *o, size_t k)
{
	size_t framing = buf_len(&o->buf) - o->owed, pay = k > framing ? k - framing : 0;

	buf_consume(&o->buf, k);
	if (pay > 0) {
		o->owed -= pay;
		o->credit(o->arg, pay);
	}
}

/* Push what the transport holds (TLS records); 0 while it only waits for the socket. */
static int
flushed(struct conn *c)
{
	int rc = conn_flush(c);

	return rc == -EAGAIN ? 0 : rc;
}

/* see expose_out.h */
int
expose_out_flush(struct expose_out *o, struct conn *c)
{
	while (buf_len(&o->buf) > 0) {
		ssize_t k = conn_write(c, o->buf.pos, buf_len(&o->buf));

		if (k == -EAGAIN || k == -EINTR)
			break;
		if (k < 0)
			return (int)k;
		net_progress_pushed(&o->sent, (size_t)k);
		written(o, (size_t)k);
	}
	if (buf_len(&o->buf) == 0)
		buf_reset(&o->buf, 0);
	return flushed(c);
}

/* One writev of the buffer and the piece (empty ranges skipped): bytes taken, or -errno. */
static ssize_t
send_through(struct expose_out *o, struct conn *c, const struct expose_http_piece *pc, const uint8_t *p)
{
	const void *base[4] = { o->buf.pos, pc->pre, p, pc->post };
	size_t len[4] = { buf_len(&o->buf), pc->pre_len, pc->take, pc->post_len };
	struct iovec iov[4];
	int n = 0, i;
	ssize_t k;

	for (i = 0; i < 4; i++)
		if (len[i] > 0)
			iov[n++] =
				(struct iovec){ .iov_base = (void *)(uintptr_t)base[i], .iov_len = len[i] };
	k = conn_writev(c, iov, n);
	if (k >= 0) {
		net_progress_pushed(&o->sent, (size_t)k);
		return k;
	}
	return k == -EAGAIN || k == -EINTR ? 0 : k;
}

/* see expose_out.h */
int
expose_out_data(struct expose_out *o, struct conn *c, int through, const struct expose_http_piece *pc,
		const uint8_t *p)
{
	size_t ol = buf_len(&o->buf), hl = pc->pre_len, tl = pc->post_len, n = pc->take, k = 0, pay, tail;

	if (through) {
		ssize_t w = send_through(o, c, pc, p);

		if (w < 0)
			return (int)w;
		if (ol > 0)
			written(o, UTIL_MIN((size_t)w, ol));
		k = (size_t)w > ol ? (size_t)w - ol : 0;
	}
	pay = k > hl ? UTIL_MIN(k - hl, n) : 0;
	if (pay > 0)
		o->credit(o->arg, pay);
	tail = k > hl + n ? k - hl - n : 0;
	if ((k < hl && expose_out_append(o, pc->pre + k, hl - k) < 0) ||
	    expose_out_append(o, p + pay, n - pay) < 0 ||
	    expose_out_append(o, pc->post + tail, tl - tail) < 0 || buf_len(&o->buf) > o->max)
		return EXPOSE_OUT_FULL;
	o->owed += n - pay;
	return through ? flushed(c) : 0;
}
