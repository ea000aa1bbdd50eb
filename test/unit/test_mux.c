/*
 * test_mux.c: streams and session windows over real tunnels. Two muxes
 * (a server end and a client end, like the daemon and htc) talk over
 * tunnels on socketpairs in one reactor (muxpair.h). Rule breaking frames
 * (DATA over credit, WINDOW 0, WINDOW overflow, DATA for unknown ids) are
 * queued on the sender's tunnel directly, past its mux. Where a test checks
 * that something did not happen, it first runs the loop until both ends
 * are idle (tp_run_idle), not for a fixed time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "muxpair.h"

#define SW 65536u    /* stream window */
#define SESW 262144u /* session window */

static uint8_t pattern[4 * 65536];

static void
fill_pattern(void)
{
	size_t i;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
}

struct want_rx {
	struct tp_owner *o;
	size_t n;
};

static int
cond_rx(struct tp *tp, void *arg)
{
	struct want_rx *w = arg;

	(void)tp;
	return w->o->rx_len >= w->n;
}

static void
wait_rx(struct tp *tp, struct tp_owner *o, size_t n)
{
	struct want_rx w = { o, n };

	assert_true(tp_run_until(tp, cond_rx, &w, 3000));
	assert_int_equal(o->rx_len, n);
}

struct want_frame {
	struct tp_end *e;
	uint8_t type;
	uint32_t sid;
	unsigned n;
};

static int
cond_frame(struct tp *tp, void *arg)
{
	struct want_frame *w = arg;

	(void)tp;
	return tp_count(w->e, w->type, w->sid) >= w->n;
}

/* Wait until end e received n frames of type for sid. */
static void
wait_frames(struct tp *tp, struct tp_end *e, uint8_t type, uint32_t sid, unsigned n)
{
	struct want_frame w = { e, type, sid, n };

	assert_true(tp_run_until(tp, cond_frame, &w, 3000));
}

static int
cond_closed(struct tp *tp, void *arg)
{
	struct tp_owner *o = arg;

	(void)tp;
	return o->n_close > 0;
}

static void
wait_closed(struct tp *tp, struct tp_owner *o)
{
	assert_true(tp_run_until(tp, cond_closed, o, 3000));
}

/* ---- data and credit ----------------------------------------------------- */

static void
test_data_within_credit(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	assert_int_equal(b->sock, 0);
	/* server -> client */
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, 1000), 0);
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern + 1000, 20000), 0);
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern + 21000, 30000), 0);
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, 0), 0); /* empty DATA costs nothing */
	assert_int_equal(mux_credit(&tp->srv.m, a.s, SIZE_MAX), SW - 51000);
	wait_rx(tp, b, 51000);
	assert_memory_equal(b->rx, pattern, 51000);
	assert_true(b->n_data >= 3);
	assert_int_equal(b->s->bytes_in, 51000);
	assert_int_equal(a.s->bytes_out, 51000);
	assert_int_equal(tp->srv.m.data_out, 51000);
	assert_int_equal(tp->cli.m.data_in, 51000);
	/* client -> server: masked on the wire, same bytes */
	assert_int_equal(tp_send_copy(&tp->cli.m, b->s, pattern + 7, 40000), 0);
	wait_rx(tp, &a, 40000);
	assert_memory_equal(a.rx, pattern + 7, 40000);
	assert_int_equal(a.n_eof + a.n_reset + a.n_close, 0);
	assert_int_equal(tp->srv.errors + tp->cli.errors, 0);
	/* more than the credit is refused by the sender */
	assert_int_equal(mux_allowance(&tp->cli.m, b->s, SIZE_MAX), SW - 40000);
	assert_int_equal(tp_send_copy(&tp->cli.m, b->s, pattern, SW - 40000 + 1), -ENOSPC);
	tp_free(tp);
	tp_owner_release(&a);
}

/* The receiver returns stream credit once half the window was consumed, session credit likewise. */
static void
test_window_returned_at_half(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;
	uint32_t sid, i;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	b->auto_consume = 0;
	sid = a.id;
	for (i = 0; i < 4; i++)
		assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern + i * 16384, 16384), 0);
	assert_int_equal(mux_credit(&tp->srv.m, a.s, SIZE_MAX), 0);
	assert_int_equal(mux_allowance(&tp->srv.m, a.s, SIZE_MAX), 0);
	wait_rx(tp, b, SW);
	tp_run_idle(tp);
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, UINT32_MAX), 0);

	mux_consumed(&tp->cli.m, b->s, SW / 2 - 1);
	tp_run_idle(tp);
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, UINT32_MAX), 0);
	mux_consumed(&tp->cli.m, b->s, 1);
	wait_frames(tp, &tp->srv, FRAME_WINDOW, sid, 1);
	f = tp_last(&tp->srv, FRAME_WINDOW, sid);
	assert_int_equal(f->value, SW / 2);
	assert_int_equal(a.n_credit, 1);
	assert_int_equal(mux_credit(&tp->srv.m, a.s, SIZE_MAX), SW / 2);
	mux_consumed(&tp->cli.m, b->s, SW / 2);
	wait_frames(tp, &tp->srv, FRAME_WINDOW, sid, 2);
	assert_int_equal(mux_credit(&tp->srv.m, a.s, SIZE_MAX), SW);
	/* session: 64 KiB consumed so far, the threshold is 128 KiB */
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, 0), 0);
	assert_int_equal(flow_send_available(&tp->srv.m.tx), SESW - SW);

	for (i = 0; i < 4; i++)
		assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern + SW + i * 16384, 16384), 0);
	wait_rx(tp, b, 2 * SW);
	assert_memory_equal(b->rx, pattern, 2 * SW);
	mux_consumed(&tp->cli.m, b->s, SW - 1);
	tp_run_idle(tp);
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, 0), 0);
	mux_consumed(&tp->cli.m, b->s, 1);
	wait_frames(tp, &tp->srv, FRAME_WINDOW, 0, 1);
	f = tp_last(&tp->srv, FRAME_WINDOW, 0);
	assert_int_equal(f->value, SESW / 2);
	assert_int_equal(flow_send_available(&tp->srv.m.tx), SESW);
	/* 64 KiB - 1 consumed at once went back in one WINDOW; the last byte waits */
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, sid), 3);
	assert_int_equal(tp_last(&tp->srv, FRAME_WINDOW, sid)->value, SW - 1);
	assert_int_equal(tp->srv.errors + tp->cli.errors, 0);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_data_over_stream_credit(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;
	uint32_t sid;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	b->auto_consume = 0;
	sid = a.id;
	tp_raw(&tp->srv, 0, FRAME_DATA, sid, pattern, SW);
	tp_raw(&tp->srv, 0, FRAME_DATA, sid, pattern, 1);
	wait_closed(tp, b);
	assert_int_equal(b->rx_len, SW); /* what was within credit arrived */
	assert_int_equal(b->n_close, 1);
	assert_int_equal(b->n_reset, 0);
	assert_null(stream_find(&tp->cli.m.streams, sid));
	assert_int_equal(tp->cli.resets_sent, 1);
	assert_int_equal(tp->cli.last_reset_sent, FRAME_CODE_FLOW_CONTROL_ERROR);
	wait_closed(tp, &a);
	f = tp_last(&tp->srv, FRAME_RESET, sid);
	assert_non_null(f);
	assert_int_equal(f->value, FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_string_equal(a.ev, "rc");
	assert_int_equal(a.reset_code, FRAME_CODE_FLOW_CONTROL_ERROR);
	/* no session error; the refused and the unconsumed bytes went back to the session */
	assert_int_equal(tp->cli.errors, 0);
	assert_int_equal(flow_recv_buffered(&tp->cli.m.rx), 0);
	assert_int_equal(tp->cli.m.rx.pending + (uint64_t)tp->cli.m.rx.available, SESW);
	assert_int_equal(tp->cli.m.sock_streams[0], 0);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_data_over_session_credit(void **state)
{
	struct tp *tp = tp_new(1, SW, SW); /* session window = one stream window */
	struct tp_owner a1, a2, *b1, *b2;

	(void)state;
	fill_pattern();
	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	b1 = tp_open_both(tp, &a1, -1);
	b2 = tp_open_both(tp, &a2, -1);
	b1->auto_consume = b2->auto_consume = 0;
	tp->cli.close_on_error = 1;
	tp_raw(&tp->srv, 0, FRAME_DATA, a1.id, pattern, 40000);
	tp_raw(&tp->srv, 0, FRAME_DATA, a2.id, pattern, 40000);
	assert_true(tp_run_until(tp, cond_closed, &a1, 3000)); /* the session went down */
	assert_int_equal(tp->cli.errors, 1);
	assert_int_equal(tp->cli.last_error, FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(b1->rx_len, 40000);
	assert_int_equal(b2->rx_len, 0); /* the frame over credit never reached its owner */
	assert_int_equal(tp->srv.socks[0].closed, 1);
	assert_int_equal(tp->srv.socks[0].close_code, WS_CLOSE_PROTOCOL);
	tp_free(tp);
	tp_owner_release(&a1);
	tp_owner_release(&a2);
}

/* Pieces of a DATA frame refused for session credit are not delivered either. */
static void
test_session_overrun_later_pieces(void **state)
{
	struct tp *tp;
	struct tp_owner a1, a2, *b1, *b2;
	struct frame_event ev;

	(void)state;
	tp = tp_new(1, SW, SW);
	fill_pattern();
	memset(&a1, 0, sizeof(a1));
	memset(&a2, 0, sizeof(a2));
	b1 = tp_open_both(tp, &a1, -1);
	b2 = tp_open_both(tp, &a2, -1);
	b1->auto_consume = b2->auto_consume = 0;
	memset(&ev, 0, sizeof(ev));
	ev.type = FRAME_EV_DATA;
	ev.frame_type = FRAME_DATA;
	ev.stream_id = a1.id;
	ev.payload = pattern;
	ev.len = ev.frame_len = SW;
	ev.frame_start = ev.frame_end = 1;
	mux_on_data(&tp->cli.m, 0, &ev); /* all of the session credit */
	assert_int_equal(b1->rx_len, SW);
	ev.stream_id = a2.id;
	ev.frame_len = 1000;
	ev.len = 400;
	ev.frame_end = 0;
	mux_on_data(&tp->cli.m, 0, &ev);
	assert_int_equal(tp->cli.errors, 1);
	assert_int_equal(tp->cli.last_error, FRAME_CODE_FLOW_CONTROL_ERROR);
	ev.frame_start = 0;
	ev.frame_end = 1;
	ev.payload = pattern + 400;
	ev.len = 600;
	mux_on_data(&tp->cli.m, 0, &ev);
	mux_batch_end(&tp->cli.m);
	assert_int_equal(b2->rx_len, 0);
	tp_free(tp);
	tp_owner_release(&a1);
	tp_owner_release(&a2);
}

static void
test_window_zero(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;
	uint8_t three[3] = { 0, 0, 1 };

	(void)state;
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	tp_raw_window(&tp->srv, 0, a.id, 0);
	wait_closed(tp, &a);
	assert_int_equal(b->n_close, 1);
	assert_int_equal(b->n_credit, 0);
	f = tp_last(&tp->srv, FRAME_RESET, a.id);
	assert_non_null(f);
	assert_int_equal(f->value, FRAME_CODE_PROTOCOL_ERROR);
	assert_int_equal(a.reset_code, FRAME_CODE_PROTOCOL_ERROR);
	assert_int_equal(tp->cli.errors, 0);

	/* a WINDOW payload of the wrong size is a protocol error too */
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	tp_raw(&tp->srv, 0, FRAME_WINDOW, a.id, three, 3);
	wait_closed(tp, &a);
	assert_int_equal(a.reset_code, FRAME_CODE_PROTOCOL_ERROR);

	/* session scope */
	tp_raw_window(&tp->srv, 0, 0, 0);
	tp_run_idle(tp);
	assert_int_equal(tp->cli.errors, 1);
	assert_int_equal(tp->cli.last_error, FRAME_CODE_PROTOCOL_ERROR);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_window_overflow(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;

	(void)state;
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	/* up to exactly 2^31-1 is fine */
	tp_raw_window(&tp->srv, 0, a.id, FLOW_WINDOW_MAX - SW);
	tp_raw_window(&tp->srv, 0, 0, FLOW_WINDOW_MAX - SESW);
	tp_run_idle(tp);
	assert_non_null(b->s);
	assert_int_equal(b->n_credit, 2); /* once for the stream, once for the session */
	assert_int_equal(mux_credit(&tp->cli.m, b->s, SIZE_MAX), FLOW_WINDOW_MAX);
	assert_int_equal(tp->cli.errors, 0);
	/* one more byte of stream credit: RESET(FLOW_CONTROL_ERROR) */
	tp_raw_window(&tp->srv, 0, a.id, 1);
	wait_closed(tp, &a);
	f = tp_last(&tp->srv, FRAME_RESET, a.id);
	assert_non_null(f);
	assert_int_equal(f->value, FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(b->n_close, 1);
	assert_int_equal(tp->cli.errors, 0);
	/* one more byte of session credit: session error */
	tp_raw_window(&tp->srv, 0, 0, 1);
	tp_run_idle(tp);
	assert_int_equal(tp->cli.errors, 1);
	assert_int_equal(tp->cli.last_error, FRAME_CODE_FLOW_CONTROL_ERROR);
	tp_free(tp);
	tp_owner_release(&a);
}

/* DATA for an id that is not open returns session credit (and resets nothing). */
static void
test_unknown_stream_returns_session_credit(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	/* a stream that was reset: its late DATA counts the same */
	mux_send_reset(&tp->srv.m, a.s, FRAME_CODE_CANCEL, NULL);
	wait_closed(tp, b);
	tp_raw(&tp->srv, 0, FRAME_DATA, a.id, pattern, SW);
	tp_raw(&tp->srv, 0, FRAME_DATA, 999, pattern, SW - 1);
	tp_run_idle(tp);
	assert_int_equal(tp_count(&tp->srv, FRAME_WINDOW, 0), 0);
	tp_raw(&tp->srv, 0, FRAME_DATA, 999, pattern, 1);
	wait_frames(tp, &tp->srv, FRAME_WINDOW, 0, 1);
	f = tp_last(&tp->srv, FRAME_WINDOW, 0);
	assert_int_equal(f->value, SESW / 2);
	assert_int_equal(tp_count(&tp->srv, FRAME_RESET, UINT32_MAX), 0);
	assert_int_equal(tp->cli.errors, 0);
	assert_int_equal(tp->cli.resets_sent, 0);
	tp_free(tp);
	tp_owner_release(&a);
}

/* ---- ending streams ------------------------------------------------------- */

static void
eof_case(int order)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	uint32_t sid;

	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	sid = a.id;
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, 100), 0);
	if (order == 0) { /* server first */
		mux_send_eof(&tp->srv.m, a.s);
		assert_int_equal(a.s->state, STREAM_LOCAL_DONE);
		assert_int_equal(mux_allowance(&tp->srv.m, a.s, 10), 0);
		wait_frames(tp, &tp->cli, FRAME_EOF, sid, 1);
		assert_string_equal(b->ev, "deb");
		assert_int_equal(b->s->state, STREAM_REMOTE_DONE);
		/* half-closed: the other direction still flows */
		assert_int_equal(tp_send_copy(&tp->cli.m, b->s, pattern, 300), 0);
		mux_send_eof(&tp->cli.m, b->s);
		assert_string_equal(b->ev, "debc");
	} else if (order == 1) { /* client first */
		wait_rx(tp, b, 100);
		mux_send_eof(&tp->cli.m, b->s);
		wait_frames(tp, &tp->srv, FRAME_EOF, sid, 1);
		assert_string_equal(a.ev, "e");
		assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, 300), 0);
		mux_send_eof(&tp->srv.m, a.s);
		assert_string_equal(a.ev, "ec");
	} else { /* both at once: each sees the other's EOF after its own */
		wait_rx(tp, b, 100);
		mux_send_eof(&tp->srv.m, a.s);
		mux_send_eof(&tp->cli.m, b->s);
		mux_send_eof(&tp->cli.m, b->s); /* twice is harmless */
	}
	wait_closed(tp, &a);
	wait_closed(tp, b);
	tp_run_idle(tp);
	assert_int_equal(a.n_close, 1);
	assert_int_equal(b->n_close, 1);
	assert_int_equal(a.n_eof, 1);
	assert_int_equal(b->n_eof, 1);
	assert_int_equal(a.n_reset + b->n_reset, 0);
	assert_null(stream_find(&tp->srv.m.streams, sid));
	assert_null(stream_find(&tp->cli.m.streams, sid));
	assert_int_equal(tp->srv.m.streams.count, 0);
	assert_int_equal(tp->cli.m.streams.count, 0);
	assert_int_equal(tp->srv.m.sock_streams[0], 0);
	assert_int_equal(tp->cli.m.sock_streams[0], 0);
	assert_int_equal(tp_count(&tp->srv, FRAME_RESET, UINT32_MAX), 0);
	assert_int_equal(tp_count(&tp->cli, FRAME_RESET, UINT32_MAX), 0);
	assert_int_equal(tp_count(&tp->srv, FRAME_EOF, sid), 1);
	assert_int_equal(tp_count(&tp->cli, FRAME_EOF, sid), 1);
	if (order == 0)
		assert_int_equal(a.rx_len, 300);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_eof_server_first(void **state)
{
	(void)state;
	eof_case(0);
}

static void
test_eof_client_first(void **state)
{
	(void)state;
	eof_case(1);
}

static void
test_eof_simultaneous(void **state)
{
	(void)state;
	eof_case(2);
}

static void
test_reset_received(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;

	(void)state;
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	mux_send_reset(&tp->srv.m, a.s, FRAME_CODE_REFUSED_STREAM, "nope");
	assert_string_equal(a.ev, "c"); /* our own RESET: closed at once, no on_reset */
	assert_null(a.s);
	assert_int_equal(tp->srv.resets_sent, 1);
	wait_closed(tp, b);
	assert_string_equal(b->ev, "rc");
	assert_int_equal(b->reset_code, FRAME_CODE_REFUSED_STREAM);
	assert_int_equal(tp->cli.m.streams.count, 0);
	/* the other way */
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	mux_send_reset(&tp->cli.m, b->s, FRAME_CODE_CANCEL, NULL);
	assert_string_equal(b->ev, "c");
	wait_closed(tp, &a);
	assert_string_equal(a.ev, "rc");
	assert_int_equal(a.reset_code, FRAME_CODE_CANCEL);
	f = tp_last(&tp->srv, FRAME_RESET, a.id);
	assert_non_null(f);
	/* a late RESET or EOF for the finished stream is ignored */
	tp_raw(&tp->cli, 0, FRAME_EOF, a.id, NULL, 0);
	tp_run_idle(tp);
	assert_int_equal(a.n_close, 1);
	assert_int_equal(tp->srv.errors, 0);
	tp_free(tp);
	tp_owner_release(&a);
}

/* DATA after the peer's EOF: RESET(STREAM_CLOSED), and its session credit comes back. */
static void
test_data_after_eof(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	const struct tp_frame *f;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	mux_send_eof(&tp->srv.m, a.s);
	tp_raw(&tp->srv, 0, FRAME_DATA, a.id, pattern, 500);
	wait_closed(tp, &a);
	f = tp_last(&tp->srv, FRAME_RESET, a.id);
	assert_non_null(f);
	assert_int_equal(f->value, FRAME_CODE_STREAM_CLOSED);
	assert_string_equal(b->ev, "ec");
	assert_int_equal(b->rx_len, 0);
	assert_int_equal(tp->cli.m.rx.pending, 500);
	assert_int_equal(flow_recv_buffered(&tp->cli.m.rx), 0);
	tp_free(tp);
	tp_owner_release(&a);
}

/* STREAM_RESPONSE_HEAD reaches the owner's on_head; without on_head it is dropped. */
static void
test_response_head(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;

	(void)state;
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	assert_int_equal(mux_send(&tp->cli.m, b->s, FRAME_STREAM_RESPONSE_HEAD, "{\"status\":200}", 14), 0);
	wait_frames(tp, &tp->srv, FRAME_STREAM_RESPONSE_HEAD, a.id, 1);
	assert_string_equal(a.ev, "h");
	assert_int_equal(a.n_head, 1);
	assert_int_equal(tp->srv.unhandled, 0);
	/* a head for an unknown stream is ignored */
	tp_raw(&tp->cli, 0, FRAME_STREAM_RESPONSE_HEAD, 4242, "{}", 2);
	tp_run_idle(tp);
	assert_int_equal(tp->srv.errors + tp->srv.unhandled, 0);
	tp_free(tp);
	tp_owner_release(&a);
}

/* ---- owners acting from inside their callbacks --------------------------- */

struct act_case {
	enum tp_act data, eof, batch; /* the client owner's actions */
	int send_eof;                 /* the server sends EOF after its DATA */
	const char *b_ev;             /* expected client owner events */
	const char *a_ev;             /* expected server owner events */
};

static void
act_case_run(const struct act_case *c)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;

	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	b->act_data = c->data;
	b->act_eof = c->eof;
	b->act_batch = c->batch;
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, 1000), 0);
	if (c->send_eof)
		mux_send_eof(&tp->srv.m, a.s);
	if (c->data == TP_ACT_EOF && !c->send_eof) {
		/* the server answers the client's EOF */
		wait_frames(tp, &tp->srv, FRAME_EOF, a.id, 1);
		mux_send_eof(&tp->srv.m, a.s);
	}
	wait_closed(tp, b);
	wait_closed(tp, &a);
	tp_run_idle(tp);
	assert_int_equal(b->closed_in_cb, 0); /* freed after the callback returned */
	assert_int_equal(b->n_close, 1);
	assert_int_equal(a.n_close, 1);
	assert_string_equal(b->ev, c->b_ev);
	assert_string_equal(a.ev, c->a_ev);
	assert_int_equal(tp->srv.m.streams.count, 0);
	assert_int_equal(tp->cli.m.streams.count, 0);
	assert_int_equal(tp->srv.errors + tp->cli.errors, 0);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_act_in_callbacks(void **state)
{
	static const struct act_case cases[] = {
		{ TP_ACT_RESET, TP_ACT_NONE, TP_ACT_NONE, 0, "dc", "rc" },
		{ TP_ACT_RESET, TP_ACT_NONE, TP_ACT_NONE, 1, "dc", "rc" },
		{ TP_ACT_EOF, TP_ACT_NONE, TP_ACT_NONE, 0, "dbec", "ec" },
		/* a stream that ends inside the batch gets on_close instead of on_batch_end */
		{ TP_ACT_EOF, TP_ACT_NONE, TP_ACT_NONE, 1, "dec", "ec" },
		{ TP_ACT_NONE, TP_ACT_EOF, TP_ACT_NONE, 1, "dec", "ec" },
		{ TP_ACT_NONE, TP_ACT_RESET, TP_ACT_NONE, 1, "dec", "rc" },
		{ TP_ACT_NONE, TP_ACT_NONE, TP_ACT_RESET, 0, "dbc", "rc" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		act_case_run(&cases[i]);
	}
}

/* The owner resets on the first piece of a DATA frame: later pieces are dropped, credit kept exact. */
static void
test_reset_mid_frame(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;
	struct frame_event ev;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	b->auto_consume = 0;
	b->act_data = TP_ACT_RESET;
	memset(&ev, 0, sizeof(ev));
	ev.type = FRAME_EV_DATA;
	ev.frame_type = FRAME_DATA;
	ev.stream_id = a.id;
	ev.payload = pattern;
	ev.frame_len = 1000;
	ev.len = 100;
	ev.frame_start = 1;
	mux_on_data(&tp->cli.m, 0, &ev);
	assert_string_equal(b->ev, "dc");
	ev.frame_start = 0;
	ev.frame_end = 1;
	ev.payload = pattern + 100;
	ev.len = 900;
	mux_on_data(&tp->cli.m, 0, &ev);
	mux_batch_end(&tp->cli.m);
	assert_string_equal(b->ev, "dc");
	assert_int_equal(b->rx_len, 100);
	/* all 1,000 bytes are back with the session: none buffered, none lost */
	assert_int_equal(flow_recv_buffered(&tp->cli.m.rx), 0);
	assert_int_equal(tp->cli.m.rx.pending + (uint64_t)tp->cli.m.rx.available, SESW);
	assert_int_equal(tp->cli.m.rx.pending, 1000);
	wait_closed(tp, &a);
	tp_free(tp);
	tp_owner_release(&a);
}

static void
test_reset_from_on_credit(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a, *b;

	(void)state;
	fill_pattern();
	memset(&a, 0, sizeof(a));
	b = tp_open_both(tp, &a, -1);
	a.act_credit = TP_ACT_RESET;
	assert_int_equal(tp_send_copy(&tp->srv.m, a.s, pattern, SW / 2), 0);
	wait_closed(tp, &a); /* the client consumed half a window: WINDOW, then on_credit resets */
	assert_string_equal(a.ev, "wc");
	assert_int_equal(a.closed_in_cb, 0);
	wait_closed(tp, b);
	assert_int_equal(b->reset_code, FRAME_CODE_CANCEL);
	tp_free(tp);
	tp_owner_release(&a);
}

/* ---- sockets -------------------------------------------------------------- */

static void
test_detach_drops_that_socket(void **state)
{
	struct tp *tp = tp_new(2, SW, SESW);
	struct tp_owner a[6];
	int i;

	(void)state;
	memset(a, 0, sizeof(a));
	for (i = 0; i < 6; i++)
		tp_open_both(tp, &a[i], -1);
	for (i = 0; i < 6; i++)
		assert_int_equal(a[i].sock, i % 2); /* least loaded alternates */
	assert_int_equal(tp->srv.m.sock_streams[0], 3);
	assert_int_equal(tp->srv.m.sock_streams[1], 3);
	mux_detach(&tp->srv.m, 1);
	for (i = 0; i < 6; i++) {
		if (i % 2) {
			assert_string_equal(a[i].ev, "c");
			assert_null(stream_find(&tp->srv.m.streams, a[i].id));
		} else {
			assert_string_equal(a[i].ev, "");
			assert_non_null(stream_find(&tp->srv.m.streams, a[i].id));
		}
	}
	assert_int_equal(tp->srv.m.sock_streams[0], 3);
	assert_int_equal(tp->srv.m.sock_streams[1], 0);
	assert_null(tp->srv.m.socks[1]);
	assert_int_equal(tp->srv.m.streams.count, 3);
	/* new streams go to the socket that is left */
	assert_non_null(tp_open(tp, NULL, -1));
	assert_int_equal(tp->srv.m.sock_streams[0], 4);
	assert_null(mux_open(&tp->srv.m, 0, STREAM_KIND_TCP, 1));
	tp_free(tp);
	for (i = 0; i < 6; i++)
		tp_owner_release(&a[i]);
}

static void
test_least_loaded(void **state)
{
	struct tp *tp = tp_new(3, SW, SESW);
	struct tp_owner a[12];
	int i, n[3] = { 0, 0, 0 };

	(void)state;
	memset(a, 0, sizeof(a));
	for (i = 0; i < 6; i++)
		tp_open_both(tp, &a[i], -1);
	for (i = 0; i < 6; i++)
		n[a[i].sock]++;
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 2);
	assert_int_equal(n[2], 2);
	/* two streams of socket 1 end: the next two go there */
	for (i = 0; i < 6; i++)
		if (a[i].sock == 1)
			mux_send_reset(&tp->srv.m, a[i].s, FRAME_CODE_CANCEL, NULL);
	assert_int_equal(tp->srv.m.sock_streams[1], 0);
	tp_open_both(tp, &a[6], -1);
	tp_open_both(tp, &a[7], -1);
	assert_int_equal(a[6].sock, 1);
	assert_int_equal(a[7].sock, 1);
	/* the client end pins each stream to the socket that carried STREAM_OPEN */
	assert_int_equal(tp_peer(&tp->cli, a[6].id)->sock, 1);
	/* a closing socket takes no new stream */
	tunnel_close(&tp->srv.socks[2].t, WS_CLOSE_GOING_AWAY, "bye", 1000);
	for (i = 8; i < 12; i++) {
		assert_non_null(tp_open(tp, &a[i], -1));
		assert_true(a[i].sock == 0 || a[i].sock == 1);
	}
	tp_free(tp);
	for (i = 0; i < 12; i++)
		tp_owner_release(&a[i]);
}

/* Equal loads: consecutive streams take turns over the sockets (PROTOCOL.md 8: ties round-robin). */
static void
test_ties_round_robin(void **state)
{
	struct tp *tp;
	int i, n[3] = { 0, 0, 0 };

	(void)state;
	tp = tp_new(3, SW, SESW);
	for (i = 0; i < 30; i++) {
		struct stream *s = mux_open(&tp->srv.m, 0, STREAM_KIND_TCP, -1);

		assert_non_null(s);
		n[s->sock_index]++;
		mux_drop(&tp->srv.m, s);
	}
	printf("ties: %d %d %d\n", n[0], n[1], n[2]);
	assert_int_equal(n[0], 10);
	assert_int_equal(n[1], 10);
	assert_int_equal(n[2], 10);
	tp_free(tp);
}

/* ---- batches --------------------------------------------------------------- */

static void
test_batch_end_once_per_batch(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a[3], *b[3];
	int i;

	(void)state;
	fill_pattern();
	memset(a, 0, sizeof(a));
	for (i = 0; i < 3; i++)
		b[i] = tp_open_both(tp, &a[i], -1);
	/* one iteration's frames go out as one message and arrive in one read */
	for (i = 0; i < 3; i++)
		assert_int_equal(tp_send_copy(&tp->srv.m, a[0].s, pattern + i * 1000, 1000), 0);
	assert_int_equal(tp_send_copy(&tp->srv.m, a[1].s, pattern + 5000, 500), 0);
	assert_int_equal(tunnel_send(&tp->srv.socks[0].t, FRAME_PING, 0, "12345678", 8), 0);
	assert_int_equal(tp_send_copy(&tp->srv.m, a[0].s, pattern + 3000, 1000), 0);
	wait_rx(tp, b[0], 4000);
	wait_rx(tp, b[1], 500);
	assert_string_equal(b[0]->ev, "ddddb");
	assert_string_equal(b[1]->ev, "db");
	assert_string_equal(b[2]->ev, "");
	assert_int_equal(b[0]->bad_pieces + b[1]->bad_pieces, 0);
	assert_memory_equal(b[0]->rx, pattern, 4000);
	/* the next batch: one more on_batch_end */
	assert_int_equal(tp_send_copy(&tp->srv.m, a[0].s, pattern, 10), 0);
	wait_rx(tp, b[0], 4010);
	assert_string_equal(b[0]->ev, "ddddbdb");
	assert_int_equal(b[1]->n_batch, 1);
	assert_int_equal(b[2]->n_batch, 0);
	tp_free(tp);
	for (i = 0; i < 3; i++)
		tp_owner_release(&a[i]);
}

/* The bytes of a large batch (many frames, several messages in one read) stay valid until on_batch_end. */
static void
test_batch_pointers_valid(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a[2], *b[2];
	int i;

	(void)state;
	fill_pattern();
	memset(a, 0, sizeof(a));
	for (i = 0; i < 2; i++)
		b[i] = tp_open_both(tp, &a[i], -1);
	for (i = 0; i < 40; i++)
		assert_int_equal(tp_send_copy(&tp->srv.m, a[i & 1].s, pattern + i * 1500, 1500), 0);
	wait_rx(tp, b[0], 20 * 1500);
	wait_rx(tp, b[1], 20 * 1500);
	assert_int_equal(b[0]->bad_pieces + b[1]->bad_pieces, 0);
	assert_true(b[0]->n_batch >= 1);
	tp_free(tp);
	for (i = 0; i < 2; i++)
		tp_owner_release(&a[i]);
}

static void
test_fini_closes_streams(void **state)
{
	struct tp *tp = tp_new(1, SW, SESW);
	struct tp_owner a[3], *b[3];
	int i;

	(void)state;
	memset(a, 0, sizeof(a));
	for (i = 0; i < 3; i++)
		b[i] = tp_open_both(tp, &a[i], -1);
	mux_send_reset(&tp->srv.m, a[1].s, FRAME_CODE_CANCEL, NULL);
	tp_end_fini(&tp->srv);
	for (i = 0; i < 3; i++)
		assert_int_equal(a[i].n_close, 1);
	(void)b;
	tp_free(tp);
}

/* A lost tunnel: every stream it carried is closed on the client end. */
static void
test_lost_tunnel_drops_streams(void **state)
{
	struct tp *tp = tp_new(2, SW, SESW);
	struct tp_owner a[4], *b[4];
	int i;

	(void)state;
	memset(a, 0, sizeof(a));
	for (i = 0; i < 4; i++)
		b[i] = tp_open_both(tp, &a[i], -1);
	tunnel_abort(&tp->srv.socks[1].t, WS_CLOSE_ABNORMAL, "test");
	assert_true(tp_run_until(tp, cond_closed, b[1], 3000));
	tp_run_idle(tp);
	for (i = 0; i < 4; i++) {
		assert_int_equal(b[i]->n_close, (unsigned)(i % 2));
		assert_int_equal(a[i].n_close, (unsigned)(i % 2));
	}
	assert_int_equal(tp->cli.socks[1].closed, 1);
	assert_int_equal(tp->cli.socks[1].close_code, WS_CLOSE_ABNORMAL);
	tp_free(tp);
	for (i = 0; i < 4; i++)
		tp_owner_release(&a[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_within_credit),
		cmocka_unit_test(test_window_returned_at_half),
		cmocka_unit_test(test_data_over_stream_credit),
		cmocka_unit_test(test_data_over_session_credit),
		cmocka_unit_test(test_session_overrun_later_pieces),
		cmocka_unit_test(test_window_zero),
		cmocka_unit_test(test_window_overflow),
		cmocka_unit_test(test_unknown_stream_returns_session_credit),
		cmocka_unit_test(test_data_after_eof),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_eof_server_first),
		cmocka_unit_test(test_eof_client_first),
		cmocka_unit_test(test_eof_simultaneous),
		cmocka_unit_test(test_reset_received),
		cmocka_unit_test(test_act_in_callbacks),
		cmocka_unit_test(test_reset_mid_frame),
		cmocka_unit_test(test_reset_from_on_credit),
		cmocka_unit_test(test_detach_drops_that_socket),
		cmocka_unit_test(test_least_loaded),
		cmocka_unit_test(test_ties_round_robin),
		cmocka_unit_test(test_batch_end_once_per_batch),
		cmocka_unit_test(test_batch_pointers_valid),
		cmocka_unit_test(test_fini_closes_streams),
		cmocka_unit_test(test_lost_tunnel_drops_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
