/*
 * muxpair.h: two ends of a session in one process, for the mux and pump
 * tests. Each end has its own mux; they are joined by 1..TP_SOCKS tunnels,
 * each over a non-blocking AF_UNIX socketpair, the "server" end in
 * WS_ROLE_SERVER (like the daemon) and the "client" end in WS_ROLE_CLIENT
 * (like htc), all in one reactor with one tunnel loop. The wiring is the
 * one session.c and htc/client.c use: on_control -> mux_on_control (the
 * rest is the policy's), on_data -> mux_on_data, on_input_end ->
 * mux_batch_end, on_closed -> mux_detach.
 *
 * Every frame an end receives is logged (DATA once per frame) before the
 * mux sees it, so a test can check which WINDOW, RESET or EOF went out.
 * The client end answers STREAM_OPEN by opening the stream with a test
 * owner (struct tp_owner) that records what the mux tells it and may act
 * (EOF, RESET) from inside its callbacks.
 */
#ifndef HT_TEST_MUXPAIR_H
#define HT_TEST_MUXPAIR_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux.h"
#include "reactor.h"
#include "stream.h"
#include "tunnel.h"

#define TP_SOCKS 4
#define TP_LOG 8192
#define TP_OWNERS 64

struct tp;
struct tp_end;

/* One received frame. value: WINDOW increment, RESET code, else 0. */
struct tp_frame {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	uint32_t value;
	int sock;
};

enum tp_act { TP_ACT_NONE, TP_ACT_EOF, TP_ACT_RESET };

struct tp_owner {
	struct tp_end *e;
	struct stream *s;
	uint32_t id;
	int sock;
	uint8_t *rx;               /* every DATA byte received, in order */
	size_t rx_len, rx_cap;
	int auto_consume;          /* mux_consumed at once for every piece */
	unsigned n_data, n_eof, n_reset, n_close, n_batch, n_credit, n_head;
	unsigned reset_code;
	char ev[512];              /* one letter per callback: d e r c b w h */
	size_t nev;
	enum tp_act act_data, act_eof, act_batch, act_credit;
	int in_cb;                 /* inside one of our callbacks */
	int closed_in_cb;          /* on_close came while we were in a callback */
	void (*batch_hook)(struct tp_owner *o); /* extra check at on_batch_end */
	const uint8_t *piece[64];  /* pieces of the current input batch, as given */
	size_t piece_len[64];
	unsigned npiece;
	size_t batch_from;         /* rx offset where the current batch began */
	unsigned bad_pieces;       /* pieces whose bytes changed before on_batch_end */
	void *user;
};

struct tp_sock {
	struct tunnel t;
	struct tp_end *e;
	int index;
	int live;        /* tunnel_init done, tunnel_fini not yet */
	int closed;      /* on_closed calls */
	unsigned close_code;
};

struct tp_end {
	struct tp *tp;
	int server;
	struct mux m;
	int mux_live;
	struct tp_sock socks[TP_SOCKS];
	struct tp_frame log[TP_LOG];
	size_t nlog;
	unsigned errors, last_error;
	unsigned resets_sent, last_reset_sent;
	int close_on_error;  /* on_error closes the primary like the real policies */
	int accept;          /* open a stream with a test owner on STREAM_OPEN */
	struct tp_owner owners[TP_OWNERS];
	size_t nowners;
	unsigned unhandled;  /* frames neither the mux nor STREAM_OPEN took */
};

struct tp {
	struct reactor r;
	struct tunnel_loop tl;
	struct tp_end srv, cli;
	int nsocks;
	struct reactor_timer deadline;
	struct reactor_hook cond_hook;
	int (*cond)(struct tp *tp, void *arg);
	void *cond_arg;
	int timed_out;
};

/* ---- owners -------------------------------------------------------------- */

static inline void
tp_ev(struct tp_owner *o, char c)
{
	if (o->nev + 1 < sizeof(o->ev))
		o->ev[o->nev++] = c;
	o->ev[o->nev] = '\0';
}

static inline void
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

static inline void
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

static inline void
tp_o_eof(struct stream *s)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'e');
	o->n_eof++;
	tp_act(o, s, o->act_eof);
	o->in_cb = 0;
}

static inline void
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

static inline void
tp_o_credit(struct stream *s)
{
	struct tp_owner *o = s->owner;

	o->in_cb = 1;
	tp_ev(o, 'w');
	o->n_credit++;
	tp_act(o, s, o->act_credit);
	o->in_cb = 0;
}

static inline void
tp_o_head(struct stream *s, const uint8_t *json, size_t n)
{
	struct tp_owner *o = s->owner;

	(void)json;
	(void)n;
	tp_ev(o, 'h');
	o->n_head++;
}

static inline void
tp_o_close(struct stream *s)
{
	struct tp_owner *o = s->owner;

	tp_ev(o, 'c');
	o->n_close++;
	if (o->in_cb)
		o->closed_in_cb = 1;
	o->s = NULL;
}

static inline void
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

static inline void
tp_own(struct tp_owner *o, struct tp_end *e, struct stream *s)
{
	o->e = e;
	o->s = s;
	o->id = s->id;
	o->sock = s->sock_index;
	s->ops = &tp_owner_ops;
	s->owner = o;
}

static inline void
tp_owner_release(struct tp_owner *o)
{
	free(o->rx);
	o->rx = NULL;
	o->rx_len = o->rx_cap = 0;
}

/* The client-end owner of stream id (opened on STREAM_OPEN), or NULL. */
static inline struct tp_owner *
tp_peer(struct tp_end *e, uint32_t id)
{
	size_t i;

	for (i = 0; i < e->nowners; i++)
		if (e->owners[i].id == id)
			return &e->owners[i];
	return NULL;
}

/* ---- sending ------------------------------------------------------------- */

static inline void
tp_free_done(void *arg, uint32_t len, int sent)
{
	(void)len;
	(void)sent;
	free(arg);
}

/* DATA from a private copy (a client-role tunnel masks it in place). */
static inline int
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

/* A raw frame on socket i of end e, past the mux (to break the rules). */
static inline void
tp_raw(struct tp_end *e, int i, uint8_t type, uint32_t sid, const void *p, size_t n)
{
	assert_int_equal(tunnel_send(&e->socks[i].t, type, sid, p, n), 0);
}

static inline void
tp_raw_window(struct tp_end *e, int i, uint32_t sid, uint32_t inc)
{
	uint8_t p[4];

	frame_window_encode(p, inc);
	tp_raw(e, i, FRAME_WINDOW, sid, p, 4);
}

/* ---- tunnel wiring ------------------------------------------------------- */

static inline void
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

static inline void
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

static inline void
tp_t_data(struct tunnel *t, const struct frame_event *ev)
{
	struct tp_sock *ts = t->owner;

	if (ev->frame_start)
		tp_log(ts->e, ts->index, FRAME_DATA, ev->stream_id, ev->frame_len, 0);
	if (ts->e->mux_live)
		mux_on_data(&ts->e->m, ts->index, ev);
}

static inline void
tp_t_input_end(struct tunnel *t)
{
	struct tp_sock *ts = t->owner;

	if (ts->e->mux_live)
		mux_batch_end(&ts->e->m);
}

static inline void
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

static inline void
tp_m_error(struct mux *m, unsigned code, const char *reason)
{
	struct tp_end *e = m->owner;

	(void)reason;
	e->errors++;
	e->last_error = code;
	if (e->close_on_error && e->socks[0].t.state == TUNNEL_OPEN)
		tunnel_close(&e->socks[0].t, WS_CLOSE_PROTOCOL, "protocol error", 1000);
}

static inline void
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

static inline void
tp_deadline_cb(struct reactor *r, struct reactor_timer *t)
{
	struct tp *tp = container_of(t, struct tp, deadline);

	tp->timed_out = 1;
	reactor_stop(r);
}

static inline int
tp_cond_hook(struct reactor *r, struct reactor_hook *h)
{
	struct tp *tp = container_of(h, struct tp, cond_hook);

	if (tp->cond != NULL && tp->cond(tp, tp->cond_arg))
		reactor_stop(r);
	return 0;
}

/* Run until cond(tp, arg) holds (checked before every poll) or ms passed. 1 when it held. */
static inline int
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

/* Run the loop for ms. */
static inline void
tp_run_ms(struct tp *tp, uint64_t ms)
{
	tp_run_until(tp, NULL, NULL, ms);
}

/* One non-blocking iteration. */
static inline void
tp_spin(struct tp *tp)
{
	reactor_stop(&tp->r);
	assert_int_equal(reactor_run(&tp->r), 0);
}

/* ---- setup --------------------------------------------------------------- */

static inline void
tp_end_init(struct tp *tp, struct tp_end *e, int server, uint32_t max_streams, uint32_t sw, uint32_t sesw)
{
	memset(e, 0, sizeof(*e));
	e->tp = tp;
	e->server = server;
	assert_int_equal(mux_init(&e->m, max_streams, sw, sesw, &tp_mux_ops, e), 0);
	e->mux_live = 1;
	e->accept = !server;
}

static inline struct tp *
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
		assert_int_equal(tunnel_init(&a->t, &tp->tl, &ca, WS_ROLE_SERVER, &tp_tunnel_ops, a, NULL, 0), 0);
		assert_int_equal(tunnel_init(&b->t, &tp->tl, &cb, WS_ROLE_CLIENT, &tp_tunnel_ops, b, NULL, 0), 0);
		a->live = b->live = 1;
		mux_attach(&tp->srv.m, i, &a->t);
		mux_attach(&tp->cli.m, i, &b->t);
	}
	return tp;
}

static inline void
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

static inline void
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

/* Open a stream from the server end (socket: -1 picks) with owner o, and send STREAM_OPEN. */
static inline struct stream *
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

static inline int
tp_cond_peer(struct tp *tp, void *arg)
{
	return tp_peer(&tp->cli, (uint32_t)(uintptr_t)arg) != NULL;
}

/* Open from the server end and wait for the client end's owner. */
static inline struct tp_owner *
tp_open_both(struct tp *tp, struct tp_owner *o, int sock)
{
	struct stream *s = tp_open(tp, o, sock);

	assert_non_null(s);
	assert_true(tp_run_until(tp, tp_cond_peer, (void *)(uintptr_t)s->id, 2000));
	return tp_peer(&tp->cli, s->id);
}

/* Frames of a type (and stream, unless sid is UINT32_MAX) an end received. */
static inline unsigned
tp_count(const struct tp_end *e, uint8_t type, uint32_t sid)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < e->nlog; i++)
		if (e->log[i].type == type && (sid == UINT32_MAX || e->log[i].sid == sid))
			n++;
	return n;
}

/* The last frame of a type for sid, or NULL. */
static inline const struct tp_frame *
tp_last(const struct tp_end *e, uint8_t type, uint32_t sid)
{
	size_t i = e->nlog;

	while (i-- > 0)
		if (e->log[i].type == type && e->log[i].sid == sid)
			return &e->log[i];
	return NULL;
}

#endif
