/*
 * muxpair.c: two ends of a session in one process (see muxpair.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>

#include "muxpair.h"

/* ---- owners -------------------------------------------------------------- */

static void
tp_ev(struct tp_owner *o, char c)
{
	if (o->nev + 1 < sizeof(o->ev))
		o->ev[o->nev++] = c;
	o->ev[o->nev] = '\0';
}

static void
tp_act(struct tp_owner *o, struct stream *s, enum tp_act a)
{
	if (a == TP_ACT_EOF)
		mux_send_eof(&o->e->m, s);
	else if (a == TP_ACT_RESET)
		mux_send_reset(&o->e->m, s, FRAME_CODE_CANCEL, "owner");
	if (a != TP_ACT_NONE) {
		/* the stream stays valid until the callback returns */
		assert_int_equal(s->id, o->id);
		assert_int_equal(o->n_close, 0);
	}
}

static void
tp_o_data(struct stream *s, const uint8_t *p, size_t n)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'd');
	o->n_data++;
	if (o->rx_len + n > o->rx_cap) {
		size_t cap = o->rx_cap ? o->rx_cap : 65536;

		while (cap < o->rx_len + n)
			cap *= 2;
		o->rx = realloc(o->rx, cap);
		assert_non_null(o->rx);
		o->rx_cap = cap;
	}
	if (o->npiece == 0)
		o->batch_from = o->rx_len;
	if (o->npiece < 64) {
		o->piece[o->npiece] = p;
		o->piece_len[o->npiece++] = n;
	}
	memcpy(o->rx + o->rx_len, p, n);
	o->rx_len += n;
	if (o->auto_consume)
		mux_consumed(&o->e->m, s, n);
	tp_act(o, s, o->act_data);
	o->in_cb = 0;
}

static void
tp_o_eof(struct stream *s)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'e');
	o->n_eof++;
	tp_act(o, s, o->act_eof);
	o->in_cb = 0;
}

static void
tp_o_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	struct tp_owner *o = s->owner;

	(void)reason;
	(void)rlen;
	o->in_cb = 1;
	tp_ev(o, 'r');
	o->n_reset++;
	o->reset_code = code;
	o->in_cb = 0;
}

static void
tp_o_credit(struct stream *s)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'w');
	o->n_credit++;
	tp_act(o, s, o->act_credit);
	o->in_cb = 0;
}

static void
tp_o_head(struct stream *s, const uint8_t *json, size_t n)
{
	struct tp_owner *o = s->owner;

	(void)json;
	(void)n;
	tp_ev(o, 'h');
	o->n_head++;
}

static void
tp_o_close(struct stream *s)
{
	struct tp_owner *o = s->owner;

	tp_ev(o, 'c');
	o->n_close++;
	if (o->in_cb)
		o->closed_in_cb = 1;
	o->s = NULL;
}

static void
tp_o_batch(struct stream *s)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'b');
	o->n_batch++;
	{
		/* the bytes given to on_data stay valid until on_batch_end */
		size_t off = o->batch_from;
		unsigned i;

		for (i = 0; i < o->npiece; i++) {
			if (memcmp(o->piece[i], o->rx + off, o->piece_len[i]) != 0)
				o->bad_pieces++;
			off += o->piece_len[i];
		}
		o->npiece = 0;
	}
	if (o->batch_hook)
		o->batch_hook(o);
	tp_act(o, s, o->act_batch);
	o->in_cb = 0;
}

static const struct stream_ops tp_owner_ops = {
	.on_data = tp_o_data,
	.on_eof = tp_o_eof,
	.on_reset = tp_o_reset,
	.on_credit = tp_o_credit,
	.on_head = tp_o_head,
	.on_close = tp_o_close,
	.on_batch_end = tp_o_batch,
};

/* see muxpair.h */
void
tp_own(struct tp_owner *o, struct tp_end *e, struct stream *s)
{
	o->e = e;
	o->s = s;
	o->id = s->id;
	o->sock = s->sock_index;
	s->ops = &tp_owner_ops;
	s->owner = o;
}

/* see muxpair.h */
void
tp_owner_release(struct tp_owner *o)
{
	free(o->rx);
	o->rx = NULL;
	o->rx_len = o->rx_cap = 0;
}

/* see muxpair.h */
struct tp_owner *
tp_peer(struct tp_end *e, uint32_t id)
{
	size_t i;

	for (i = 0; i < e->nowners; i++)
		if (e->owners[i].id == id)
			return &e->owners[i];
	return NULL;
}

/* ---- sending ------------------------------------------------------------- */

static void
tp_free_done(void *arg, uint32_t len, int sent)
{
	(void)len;
	(void)sent;
	free(arg);
}

/* see muxpair.h */
int
tp_send_copy(struct mux *m, struct stream *s, const uint8_t *p, uint32_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	assert_non_null(c);
	memcpy(c, p, n);
	rc = mux_send_data(m, s, c, n, tp_free_done, c);
	if (rc < 0)
		free(c);
	return rc;
}

/* see muxpair.h */
void
tp_raw(struct tp_end *e, int i, uint8_t type, uint32_t sid, const void *p, size_t n)
{
	assert_int_equal(tunnel_send(&e->socks[i].t, type, sid, p, n), 0);
}

/* see muxpair.h */
void
tp_raw_window(struct tp_end *e, int i, uint32_t sid, uint32_t inc)
{
	uint8_t p[4];

	frame_window_encode(p, inc);
	tp_raw(e, i, FRAME_WINDOW, sid, p, 4);
}

/* ---- tunnel wiring ------------------------------------------------------- */

static void
tp_log(struct tp_end *e, int sock, uint8_t type, uint32_t sid, uint32_t len, uint32_t value)
{
	struct tp_frame *f;

	if (e->nlog == TP_LOG)
		return;
	f = &e->log[e->nlog++];
	f->type = type;
	f->sid = sid;
	f->len = len;
	f->value = value;
	f->sock = sock;
}

static void
tp_t_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct tp_sock *ts = t->owner;
	struct tp_end *e = ts->e;
	uint32_t value = 0;

	if (type == FRAME_WINDOW && n == 4)
		value = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	else if ((type == FRAME_RESET || type == FRAME_GOAWAY) && n >= 2)
		value = (uint32_t)p[0] << 8 | p[1];
	tp_log(e, ts->index, type, sid, (uint32_t)n, value);
	if (!e->mux_live)
		return;
	if (mux_on_control(&e->m, ts->index, type, sid, p, n))
		return;
	if (type == FRAME_STREAM_OPEN && e->accept && e->nowners < TP_OWNERS) {
		struct stream *s = mux_open(&e->m, sid, STREAM_KIND_TCP, ts->index);
		struct tp_owner *o = &e->owners[e->nowners++];

		assert_non_null(s);
		memset(o, 0, sizeof(*o));
		o->auto_consume = 1;
		tp_own(o, e, s);
		return;
	}
	e->unhandled++;
}

static void
tp_t_data(struct tunnel *t, const struct frame_event *ev)
{
	struct tp_sock *ts = t->owner;

	if (ev->frame_start)
		tp_log(ts->e, ts->index, FRAME_DATA, ev->stream_id, ev->frame_len, 0);
	if (ts->e->mux_live)
		mux_on_data(&ts->e->m, ts->index, ev);
}

static void
tp_t_input_end(struct tunnel *t)
{
	struct tp_sock *ts = t->owner;

	if (ts->e->mux_live)
		mux_batch_end(&ts->e->m);
}

static void
tp_t_closed(struct tunnel *t, unsigned code, const char *reason)
{
	struct tp_sock *ts = t->owner;

	(void)reason;
	ts->closed++;
	ts->close_code = code;
	if (ts->e->mux_live && ts->e->m.socks[ts->index] == t)
		mux_detach(&ts->e->m, ts->index);
}

static const struct tunnel_ops tp_tunnel_ops = {
	.on_control = tp_t_control,
	.on_data = tp_t_data,
	.on_closed = tp_t_closed,
	.on_input_end = tp_t_input_end,
};

static void
tp_m_error(struct mux *m, unsigned code, const char *reason)
{
	struct tp_end *e = m->owner;

	(void)reason;
	e->errors++;
	e->last_error = code;
	if (e->close_on_error && e->socks[0].t.state == TUNNEL_OPEN)
		tunnel_close(&e->socks[0].t, WS_CLOSE_PROTOCOL, "protocol error", 1000);
}

static void
tp_m_reset_sent(struct mux *m, unsigned code)
{
	struct tp_end *e = m->owner;

	e->resets_sent++;
	e->last_reset_sent = code;
}

static const struct mux_ops tp_mux_ops = {
	.on_error = tp_m_error,
	.on_reset_sent = tp_m_reset_sent,
};

/* ---- running ------------------------------------------------------------- */

static void
tp_deadline_cb(struct reactor *r, struct reactor_timer *t)
{
	struct tp *tp = container_of(t, struct tp, deadline);

	tp->timed_out = 1;
	reactor_stop(r);
}

static int
tp_cond_hook(struct reactor *r, struct reactor_hook *h)
{
	struct tp *tp = container_of(h, struct tp, cond_hook);

	if (tp->cond != NULL && tp->cond(tp, tp->cond_arg))
		reactor_stop(r);
	return 0;
}

/* see muxpair.h */
int
tp_run_until(struct tp *tp, int (*cond)(struct tp *, void *), void *arg, uint64_t ms)
{
	tp->cond = cond;
	tp->cond_arg = arg;
	tp->timed_out = 0;
	reactor_timer_init(&tp->deadline, tp_deadline_cb);
	reactor_timer_start(&tp->r, &tp->deadline, ms, 0);
	reactor_hook_start(&tp->r, &tp->cond_hook, tp_cond_hook);
	assert_int_equal(reactor_run(&tp->r), 0);
	reactor_hook_stop(&tp->r, &tp->cond_hook);
	reactor_timer_stop(&tp->r, &tp->deadline);
	tp->cond = NULL;
	return cond == NULL ? 1 : cond(tp, arg);
}

/* see muxpair.h */
void
tp_run_ms(struct tp *tp, uint64_t ms)
{
	tp_run_until(tp, NULL, NULL, ms);
}

/* Nothing queued on the end's open tunnels, nothing to read on the sockets they read. */
static int
tp_end_idle(const struct tp_end *e)
{
	int i;

	for (i = 0; i < TP_SOCKS; i++) {
		const struct tunnel *t = &e->socks[i].t;
		struct pollfd pf = { .fd = t->conn.fd, .events = POLLIN };

		if (!e->socks[i].live || t->state == TUNNEL_CLOSED)
			continue;
		if (t->queued_bytes > 0)
			return 0;
		if (reactor_watcher_active(&t->conn.w) && (t->conn.w.interest & REACTOR_READ) &&
		    poll(&pf, 1, 0) > 0)
			return 0;
	}
	return 1;
}

static int
tp_cond_idle(struct tp *tp, void *arg)
{
	(void)arg;
	return tp_end_idle(&tp->srv) && tp_end_idle(&tp->cli);
}

/* see muxpair.h */
void
tp_run_idle(struct tp *tp)
{
	if (!tp_run_until(tp, tp_cond_idle, NULL, TP_IDLE_MS))
		fail_msg("the two ends are still busy after %d ms", TP_IDLE_MS);
}

/* see muxpair.h */
void
tp_spin(struct tp *tp)
{
	reactor_stop(&tp->r);
	assert_int_equal(reactor_run(&tp->r), 0);
}

/* ---- setup --------------------------------------------------------------- */

static void
tp_end_init(struct tp *tp, struct tp_end *e, int server, uint32_t max_streams, uint32_t sw, uint32_t sesw)
{
	memset(e, 0, sizeof(*e));
	e->tp = tp;
	e->server = server;
	assert_int_equal(mux_init(&e->m, max_streams, sw, sesw, &tp_mux_ops, e), 0);
	e->mux_live = 1;
	e->accept = !server;
}

/* see muxpair.h */
struct tp *
tp_new(int nsocks, uint32_t stream_window, uint32_t session_window)
{
	struct tp *tp = calloc(1, sizeof(*tp));
	int i;

	assert_non_null(tp);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(reactor_init(&tp->r), 0);
	tunnel_loop_init(&tp->tl, &tp->r);
	tp_end_init(tp, &tp->srv, 1, 256, stream_window, session_window);
	tp_end_init(tp, &tp->cli, 0, 256, stream_window, session_window);
	tp->nsocks = nsocks;
	for (i = 0; i < nsocks; i++) {
		struct tp_sock *a = &tp->srv.socks[i], *b = &tp->cli.socks[i];
		struct conn ca, cb;
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
		a->e = &tp->srv;
		a->index = i;
		b->e = &tp->cli;
		b->index = i;
		conn_init(&ca, tp->tl.r, sv[0], NULL);
		conn_init(&cb, tp->tl.r, sv[1], NULL);
		assert_int_equal(tunnel_init(&a->t, &tp->tl, &ca, WS_ROLE_SERVER, &tp_tunnel_ops, a, NULL, 0),
				 0);
		assert_int_equal(tunnel_init(&b->t, &tp->tl, &cb, WS_ROLE_CLIENT, &tp_tunnel_ops, b, NULL, 0),
				 0);
		a->live = b->live = 1;
		mux_attach(&tp->srv.m, i, &a->t);
		mux_attach(&tp->cli.m, i, &b->t);
	}
	return tp;
}

/* see muxpair.h */
void
tp_end_fini(struct tp_end *e)
{
	size_t i;

	if (e->mux_live) {
		mux_fini(&e->m);
		e->mux_live = 0;
	}
	for (i = 0; i < TP_SOCKS; i++)
		if (e->socks[i].live) {
			tunnel_fini(&e->socks[i].t);
			e->socks[i].live = 0;
		}
}

/* see muxpair.h */
void
tp_free(struct tp *tp)
{
	size_t i;

	tp_end_fini(&tp->srv);
	tp_end_fini(&tp->cli);
	tunnel_loop_fini(&tp->tl);
	reactor_fini(&tp->r); /* runs what was deferred (on_closed, pump done) */
	for (i = 0; i < tp->srv.nowners; i++)
		tp_owner_release(&tp->srv.owners[i]);
	for (i = 0; i < tp->cli.nowners; i++)
		tp_owner_release(&tp->cli.owners[i]);
	free(tp);
}

/* see muxpair.h */
struct stream *
tp_open(struct tp *tp, struct tp_owner *o, int sock)
{
	struct stream *s = mux_open(&tp->srv.m, 0, STREAM_KIND_TCP, sock);

	if (s == NULL)
		return NULL;
	if (o != NULL)
		tp_own(o, &tp->srv, s);
	assert_int_equal(mux_send(&tp->srv.m, s, FRAME_STREAM_OPEN, "{}", 2), 0);
	return s;
}

/* see muxpair.h */
int
tp_cond_peer(struct tp *tp, void *arg)
{
	return tp_peer(&tp->cli, (uint32_t)(uintptr_t)arg) != NULL;
}

/* see muxpair.h */
struct tp_owner *
tp_open_both(struct tp *tp, struct tp_owner *o, int sock)
{
	struct stream *s = tp_open(tp, o, sock);

	assert_non_null(s);
	assert_true(tp_run_until(tp, tp_cond_peer, (void *)(uintptr_t)s->id, 2000));
	return tp_peer(&tp->cli, s->id);
}

/* see muxpair.h */
unsigned
tp_count(const struct tp_end *e, uint8_t type, uint32_t sid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < e->nlog; i++)
		if (e->log[i].type == type && (sid == UINT32_MAX || e->log[i].sid == sid))
			n++;
	return n;
}

/* see muxpair.h */
const struct tp_frame *
tp_last(const struct tp_end *e, uint8_t type, uint32_t sid)
{
	size_t i = e->nlog;

	while (i-- > 0)
		if (e->log[i].type == type && e->log[i].sid == sid)
			return &e->log[i];
	return NULL;
}
