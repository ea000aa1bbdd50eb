/*
 * mux.c: streams and session windows over one or more tunnels (see mux.h).
 *
 * Freeing rule: a stream is never freed while one of its owner's
 * callbacks runs (s->busy); a stream finished meanwhile is marked doomed
 * and freed when the callback returns. So an owner may send EOF or RESET
 * from any callback.
 */
#include "mux.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* see mux.h */
int
mux_init(struct mux *m, uint32_t max_streams, uint32_t stream_window, uint32_t session_window,
	 const struct mux_ops *ops, void *owner)
{
	int rc;

	memset(m, 0, sizeof(*m));
	rc = stream_table_init(&m->streams, max_streams);
	if (rc < 0)
		return rc;
	m->stream_window = stream_window;
	m->session_window = session_window;
	m->ops = ops;
	m->owner = owner;
	mux_reset_windows(m);
	return 0;
}

/* see mux.h */
void
mux_reset_windows(struct mux *m)
{
	flow_send_init(&m->tx, m->session_window);
	flow_recv_init(&m->rx, m->session_window);
}

static void finish(struct mux *m, struct stream *s);

static void
drop_one(struct stream *s, void *arg)
{
	finish(arg, s);
}

/* see mux.h */
void
mux_fini(struct mux *m)
{
	stream_foreach(&m->streams, drop_one, m);
	stream_table_fini(&m->streams);
}

/* see mux.h */
struct tunnel *
mux_sock(const struct mux *m, const struct stream *s)
{
	if (s->sock_index < 0 || s->sock_index >= MUX_MAX_SOCKS)
		return NULL;
	return m->socks[s->sock_index];
}

static int
pick_sock(struct mux *m)
{
	int best = -1;
	unsigned i;

	for (i = 0; i < MUX_MAX_SOCKS; i++) {
		unsigned k = (m->rr + i) % MUX_MAX_SOCKS;

		if (m->socks[k] == NULL || m->socks[k]->state != TUNNEL_OPEN)
			continue;
		if (best < 0 || m->sock_streams[k] < m->sock_streams[best])
			best = (int)k;
	}
	/* ties go round-robin: the next search starts after this pick */
	if (best >= 0)
		m->rr = (unsigned)best + 1;
	return best;
}

/* see mux.h */
struct stream *
mux_open(struct mux *m, uint32_t id, enum stream_kind kind, int sock_index)
{
	struct stream *s;

	if (sock_index < 0)
		sock_index = pick_sock(m);
	if (sock_index < 0 || sock_index >= MUX_MAX_SOCKS || m->socks[sock_index] == NULL)
		return NULL;
	s = stream_open(&m->streams, id, kind, m->stream_window);
	if (s == NULL)
		return NULL;
	s->sock_index = sock_index;
	m->sock_streams[sock_index]++;
	return s;
}

/* Return the session credit of bytes the stream will never deliver. */
static void
session_consumed(struct mux *m, size_t n)
{
	uint32_t due;

	if (n == 0)
		return;
	flow_recv_consumed(&m->rx, (uint32_t)n);
	due = flow_recv_window_due(&m->rx);
	if (due && m->socks[0] != NULL)
		tunnel_send_window(m->socks[0], 0, due);
}

static void
batch_unlink(struct mux *m, struct stream *s)
{
	struct stream **pp = &m->batch;

	while (*pp != NULL && *pp != s)
		pp = &(*pp)->batch_next;
	if (*pp == s)
		*pp = s->batch_next;
	s->in_batch = 0;
	s->batch_next = NULL;
}

static void
finish(struct mux *m, struct stream *s)
{
	if (s->busy) {
		s->doomed = 1;
		return;
	}
	if (s->in_batch)
		batch_unlink(m, s);
	session_consumed(m, flow_recv_buffered(&s->rx));
	if (s->sock_index >= 0 && s->sock_index < MUX_MAX_SOCKS && m->sock_streams[s->sock_index] > 0)
		m->sock_streams[s->sock_index]--;
	s->state = STREAM_CLOSED;
	if (s->ops && s->ops->on_close) {
		s->busy = 1;
		s->ops->on_close(s);
		s->busy = 0;
	}
	stream_free(&m->streams, s);
}

/* After an owner callback: free the stream if it finished meanwhile. */
static void
settle(struct mux *m, struct stream *s)
{
	s->busy = 0;
	if (s->doomed || s->state == STREAM_CLOSED) {
		s->doomed = 0;
		finish(m, s);
	}
}

/* see mux.h */
int
mux_send(struct mux *m, struct stream *s, uint8_t type, const void *payload, size_t len)
{
	struct tunnel *t = mux_sock(m, s);

	if (t == NULL)
		return -EPIPE;
	return tunnel_send(t, type, s->id, payload, len);
}

/* see mux.h */
size_t
mux_allowance(const struct mux *m, const struct stream *s, size_t want)
{
	if (s->state != STREAM_OPEN && s->state != STREAM_REMOTE_DONE)
		return 0;
	return flow_send_allowance(&s->tx, &m->tx, want);
}

/* see mux.h */
size_t
mux_credit(const struct mux *m, const struct stream *s, size_t want)
{
	if (s->state != STREAM_OPEN && s->state != STREAM_REMOTE_DONE)
		return 0;
	want = UTIL_MIN(want, flow_send_available(&s->tx));
	return UTIL_MIN(want, flow_send_available(&m->tx));
}

/* see mux.h */
int
mux_send_data(struct mux *m, struct stream *s, const uint8_t *p, uint32_t n, tunnel_done_cb *done, void *arg)
{
	struct tunnel *t = mux_sock(m, s);
	int rc;

	if (t == NULL)
		return -EPIPE;
	if (!flow_send_can(&s->tx, n) || !flow_send_can(&m->tx, n))
		return -ENOSPC;
	rc = tunnel_send_data(t, s->id, p, n, done, arg);
	if (rc < 0)
		return rc;
	flow_send_consume(&s->tx, n);
	flow_send_consume(&m->tx, n);
	s->bytes_out += n;
	m->data_out += n;
	return 0;
}

/* see mux.h */
void
mux_send_eof(struct mux *m, struct stream *s)
{
	if (s->state == STREAM_LOCAL_DONE || s->state == STREAM_CLOSED)
		return;
	mux_send(m, s, FRAME_EOF, NULL, 0);
	if (stream_eof_local(s) == STREAM_CLOSED)
		finish(m, s);
}

/* see mux.h */
void
mux_send_reset(struct mux *m, struct stream *s, unsigned code, const char *reason)
{
	struct tunnel *t = mux_sock(m, s);

	if (s->state == STREAM_CLOSED && !s->busy)
		return;
	if (t != NULL && tunnel_send_code(t, FRAME_RESET, s->id, code, reason) == 0 && m->ops->on_reset_sent)
		m->ops->on_reset_sent(m, code);
	stream_reset(s);
	finish(m, s);
}

/* see mux.h */
void
mux_drop(struct mux *m, struct stream *s)
{
	stream_reset(s);
	finish(m, s);
}

/* see mux.h */
void
mux_consumed(struct mux *m, struct stream *s, size_t n)
{
	uint32_t due;

	if (n == 0)
		return;
	flow_recv_consumed(&s->rx, (uint32_t)n);
	due = flow_recv_window_due(&s->rx);
	if (due && (s->state == STREAM_OPEN || s->state == STREAM_LOCAL_DONE) && mux_sock(m, s) != NULL)
		tunnel_send_window(mux_sock(m, s), s->id, due);
	session_consumed(m, n);
}

static void
credit_one(struct stream *s, void *arg)
{
	struct mux *m = arg;

	if (s->ops && s->ops->on_credit && (s->state == STREAM_OPEN || s->state == STREAM_REMOTE_DONE)) {
		s->busy = 1;
		s->ops->on_credit(s);
		settle(m, s);
	}
}

static void
on_window(struct mux *m, uint32_t sid, const uint8_t *p, size_t n)
{
	struct stream *s;
	uint32_t inc;
	int rc;

	if (frame_window_decode(p, n, &inc) != 0) {
		if (sid == 0)
			m->ops->on_error(m, FRAME_CODE_PROTOCOL_ERROR, "bad WINDOW");
		else if ((s = stream_find(&m->streams, sid)) != NULL)
			mux_send_reset(m, s, FRAME_CODE_PROTOCOL_ERROR, "bad WINDOW");
		return;
	}
	if (sid == 0) {
		rc = flow_send_grant(&m->tx, inc);
		if (rc != FRAME_CODE_NO_ERROR) {
			m->ops->on_error(m, (unsigned)rc, "session window overflow");
			return;
		}
		stream_foreach(&m->streams, credit_one, m);
		return;
	}
	s = stream_find(&m->streams, sid);
	if (s == NULL)
		return;
	rc = flow_send_grant(&s->tx, inc);
	if (rc != FRAME_CODE_NO_ERROR) {
		mux_send_reset(m, s, (unsigned)rc, "stream window overflow");
		return;
	}
	credit_one(s, m);
}

static void
on_eof(struct mux *m, struct stream *s)
{
	if (s->state == STREAM_REMOTE_DONE)
		return; /* a second EOF changes nothing */
	stream_eof_remote(s);
	s->busy = 1;
	if (s->ops && s->ops->on_eof)
		s->ops->on_eof(s);
	settle(m, s);
}

static void
on_reset(struct mux *m, struct stream *s, const uint8_t *p, size_t n)
{
	struct frame_code_payload cp;

	memset(&cp, 0, sizeof(cp));
	if (frame_code_decode(p, n, &cp) != 0)
		cp.code = FRAME_CODE_PROTOCOL_ERROR;
	stream_reset(s);
	s->busy = 1;
	if (s->ops && s->ops->on_reset)
		s->ops->on_reset(s, cp.code, cp.reason, cp.reason_len);
	settle(m, s);
}

/* see mux.h */
int
mux_on_control(struct mux *m, int sock_index, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct stream *s;

	(void)sock_index;
	switch (type) {
	case FRAME_WINDOW: on_window(m, sid, p, n); return 1;
	case FRAME_EOF:
	case FRAME_RESET:
	case FRAME_STREAM_RESPONSE_HEAD: break;
	default: return 0;
	}
	s = sid ? stream_find(&m->streams, sid) : NULL;
	if (s == NULL)
		return 1; /* late frame for a finished stream: ignored */
	if (type == FRAME_EOF) {
		on_eof(m, s);
	} else if (type == FRAME_RESET) {
		on_reset(m, s, p, n);
	} else if (s->ops && s->ops->on_head) {
		s->busy = 1;
		s->ops->on_head(s, p, n);
		settle(m, s);
	}
	return 1;
}

/* Charge a whole DATA frame at its first piece; 0 = deliver, -1 = drop. */
static int
admit_frame(struct mux *m, struct stream *s, uint32_t len)
{
	if (flow_recv_data(&m->rx, len) != FRAME_CODE_NO_ERROR) {
		m->ops->on_error(m, FRAME_CODE_FLOW_CONTROL_ERROR, "session window exceeded");
		return -1;
	}
	if (s == NULL) {
		session_consumed(m, len);
		return -1;
	}
	if (s->state == STREAM_REMOTE_DONE || s->state == STREAM_CLOSED) {
		session_consumed(m, len);
		mux_send_reset(m, s, FRAME_CODE_STREAM_CLOSED, "DATA after EOF");
		return -1;
	}
	if (flow_recv_data(&s->rx, len) != FRAME_CODE_NO_ERROR) {
		session_consumed(m, len);
		mux_send_reset(m, s, FRAME_CODE_FLOW_CONTROL_ERROR, "stream window exceeded");
		return -1;
	}
	return 0;
}

/* see mux.h */
void
mux_on_data(struct mux *m, int sock_index, const struct frame_event *ev)
{
	struct stream *s = stream_find(&m->streams, ev->stream_id);

	if (sock_index < 0 || sock_index >= MUX_MAX_SOCKS)
		return;
	if (ev->frame_start) {
		m->refusing[sock_index] = admit_frame(m, s, ev->frame_len) < 0;
		s = stream_find(&m->streams, ev->stream_id); /* a refusal may have reset it */
	}
	/* the later pieces of a refused frame go where its first one went */
	if (m->refusing[sock_index] || s == NULL || s->state == STREAM_CLOSED || ev->len == 0)
		return;
	s->bytes_in += ev->len;
	m->data_in += ev->len;
	s->busy = 1;
	if (s->ops && s->ops->on_data)
		s->ops->on_data(s, ev->payload, ev->len);
	if (!s->in_batch && s->ops && s->ops->on_batch_end && s->state != STREAM_CLOSED) {
		s->in_batch = 1;
		s->batch_next = m->batch;
		m->batch = s;
	}
	settle(m, s);
}

/* see mux.h */
void
mux_batch_end(struct mux *m)
{
	while (m->batch != NULL) {
		struct stream *s = m->batch;

		m->batch = s->batch_next;
		s->batch_next = NULL;
		s->in_batch = 0;
		if (s->ops && s->ops->on_batch_end) {
			s->busy = 1;
			s->ops->on_batch_end(s);
			settle(m, s);
		}
	}
}

/* see mux.h */
void
mux_attach(struct mux *m, int sock_index, struct tunnel *t)
{
	m->socks[sock_index] = t;
	m->sock_streams[sock_index] = 0;
}

struct detach_ctx {
	struct mux *m;
	int idx;
};

static void
detach_one(struct stream *s, void *arg)
{
	struct detach_ctx *c = arg;

	if (s->sock_index == c->idx)
		mux_drop(c->m, s);
}

/* see mux.h */
void
mux_detach(struct mux *m, int sock_index)
{
	struct detach_ctx c = { m, sock_index };

	stream_foreach(&m->streams, detach_one, &c);
	m->socks[sock_index] = NULL;
	m->sock_streams[sock_index] = 0;
}
