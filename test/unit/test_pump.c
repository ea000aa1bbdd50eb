/*
 * test_pump.c: a raw socket joined to a stream. The pump sits on the
 * server end of a muxpair (muxpair.h) with one end of a socketpair as its
 * "local" socket; the test holds the other end of that socketpair and the
 * stream's far owner on the client end, so every byte really crosses both
 * tunnels. Checked: order and completeness both ways (more than the ring),
 * reads stop without credit and resume on WINDOW, the spill buffer stays
 * within one stream window when the socket's reader stalls, half-close
 * both ways, socket errors and RESET, and the done callback (once, after
 * every lent DATA came back).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>

#include "muxpair.h"
#include "pump.h"

static uint8_t
up_pat(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 9) + 5);
}

static uint8_t
down_pat(size_t i)
{
	return (uint8_t)(i * 29 + (i >> 11) + 3);
}

/* ---- the pump under test --------------------------------------------------- */

/* What the done callback saw; the pump itself is freed there (ASan checks later use). */
static struct {
	unsigned calls;
	uint32_t lent;
	enum pump_state state;
	unsigned reset_code;
	uint64_t up, down;
} pd;

static void
pd_done(struct pump *p)
{
	pd.calls++;
	pd.lent = p->lent;
	pd.state = p->state;
	pd.reset_code = p->reset_code;
	pd.up = p->bytes_up;
	pd.down = p->bytes_down;
	free(p);
}

/* The test's side of things, driven from a hook every loop iteration. */
struct drv {
	struct reactor_hook hook;
	struct tp *tp;
	int fd; /* our end of the local socketpair */
	/* writing into the local socket */
	size_t to_write, written;
	int shut_after; /* shutdown(SHUT_WR) once written */
	/* reading from it */
	int reading;
	size_t nread;
	unsigned bad; /* bytes not matching down_pat */
	int rd_eof, rd_err;
	/* the far owner sending DATA */
	struct tp_owner *far;
	size_t far_total, far_sent;
	int far_eof_after; /* EOF once far_total went out */
	int far_eof_done;
};

static struct drv dv;

static int
drv_hook(struct reactor *r, struct reactor_hook *h)
{
	struct drv *d = container_of(h, struct drv, hook);
	static uint8_t buf[65536];

	(void)r;
	while (d->written < d->to_write) {
		size_t n = d->to_write - d->written, i;
		ssize_t k;

		if (n > sizeof(buf))
			n = sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = up_pat(d->written + i);
		k = send(d->fd, buf, n, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		d->written += (size_t)k;
	}
	if (d->shut_after == 1 && d->written == d->to_write) {
		shutdown(d->fd, SHUT_WR);
		d->shut_after = 2;
	}
	while (d->reading && !d->rd_eof && !d->rd_err) {
		ssize_t k = recv(d->fd, buf, sizeof(buf), 0), i;

		if (k == 0)
			d->rd_eof = 1;
		if (k < 0 && errno != EAGAIN)
			d->rd_err = errno;
		if (k <= 0)
			break;
		for (i = 0; i < k; i++)
			if (buf[i] != down_pat(d->nread + (size_t)i))
				d->bad++;
		d->nread += (size_t)k;
	}
	while (d->far != NULL && d->far->s != NULL && d->far_sent < d->far_total) {
		size_t n = mux_allowance(&d->tp->cli.m, d->far->s, d->far_total - d->far_sent), i;

		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			buf[i] = down_pat(d->far_sent + i);
		assert_int_equal(tp_send_copy(&d->tp->cli.m, d->far->s, buf, (uint32_t)n), 0);
		d->far_sent += n;
	}
	if (d->far != NULL && d->far->s != NULL && d->far_eof_after && !d->far_eof_done &&
	    d->far_sent == d->far_total) {
		d->far_eof_done = 1;
		mux_send_eof(&d->tp->cli.m, d->far->s);
	}
	return d->to_write > d->written || d->reading;
}

struct pt {
	struct tp *tp;
	struct pump *p;
	struct tp_owner *far;
	int lfd; /* our end */
	uint32_t sid;
};

static void
pt_start(struct pt *t, uint32_t sw, uint32_t sesw, int sndbuf)
{
	struct stream *s;
	int lp[2];

	memset(t, 0, sizeof(*t));
	memset(&pd, 0, sizeof(pd));
	t->tp = tp_new(1, sw, sesw);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, lp), 0);
	if (sndbuf)
		assert_int_equal(setsockopt(lp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	t->lfd = lp[1];
	s = tp_open(t->tp, NULL, -1);
	assert_non_null(s);
	t->sid = s->id;
	t->p = calloc(1, sizeof(*t->p));
	assert_non_null(t->p);
	assert_int_equal(pump_start(t->p, &t->tp->r, &t->tp->srv.m, s, lp[0], 0, pd_done), 0);
	assert_true(tp_run_until(t->tp, tp_cond_peer, (void *)(uintptr_t)t->sid, 2000));
	t->far = tp_peer(&t->tp->cli, t->sid);
	memset(&dv, 0, sizeof(dv));
	dv.tp = t->tp;
	dv.fd = t->lfd;
	reactor_hook_start(&t->tp->r, &dv.hook, drv_hook);
}

static void
pt_stop(struct pt *t)
{
	reactor_hook_stop(&t->tp->r, &dv.hook);
	if (pd.calls == 0) /* still running: its stream goes with the mux, then done() frees it */
		tp_end_fini(&t->tp->srv);
	tp_free(t->tp);
	assert_int_equal(pd.calls, 1);
	if (t->lfd >= 0)
		close(t->lfd);
}

static size_t want_rx;

static int
cond_rx(struct tp *tp, void *arg)
{
	struct tp_owner *o = arg;

	(void)tp;
	return o->rx_len >= want_rx;
}

static int
cond_far_eof(struct tp *tp, void *arg)
{
	struct tp_owner *o = arg;

	(void)tp;
	return o->n_eof > 0 || o->n_close > 0;
}

static int
cond_far_closed(struct tp *tp, void *arg)
{
	struct tp_owner *o = arg;

	(void)tp;
	return o->n_close > 0;
}

static int
cond_done(struct tp *tp, void *arg)
{
	(void)tp;
	(void)arg;
	return pd.calls > 0;
}

static int
cond_read(struct tp *tp, void *arg)
{
	(void)tp;
	(void)arg;
	return dv.nread >= dv.far_total && (dv.rd_eof || !dv.far_eof_after);
}

static int
cond_rd_eof(struct tp *tp, void *arg)
{
	(void)tp;
	(void)arg;
	return dv.rd_eof || dv.rd_err;
}

static void
check_up(const struct tp_owner *o, size_t n)
{
	size_t i;

	assert_int_equal(o->rx_len, n);
	for (i = 0; i < n; i++)
		if (o->rx[i] != up_pat(i))
			fail_msg("upstream byte %zu differs", i);
}

/* ---- upstream ---------------------------------------------------------------- */

static void
test_upstream_bulk_in_order(void **state)
{
	struct pt t;
	const size_t total = 3 * 1024 * 1024 + 12345; /* six rings and more */

	(void)state;
	pt_start(&t, 256 * 1024, 1024 * 1024, 0);
	dv.to_write = total;
	dv.shut_after = 1;
	assert_true(tp_run_until(t.tp, cond_far_eof, t.far, 5000));
	check_up(t.far, total);
	assert_int_equal(t.far->n_eof, 1);
	assert_int_equal(t.far->n_close, 0);
	assert_int_equal(t.p->bytes_up, total);
	assert_true(t.p->ring.cap < total / 4); /* the ring really wrapped, many times */
	assert_int_equal(pd.calls, 0);
	/* the far end closes its side too: the local socket sees EOF, the pump ends */
	dv.reading = 1;
	mux_send_eof(&t.tp->cli.m, t.far->s);
	assert_true(tp_run_until(t.tp, cond_done, NULL, 3000));
	assert_true(tp_run_until(t.tp, cond_rd_eof, NULL, 3000));
	assert_int_equal(dv.rd_eof, 1);
	assert_int_equal(pd.calls, 1);
	assert_int_equal(pd.lent, 0);
	assert_int_equal(pd.reset_code, 0);
	assert_int_equal(pd.up, total);
	assert_int_equal(t.far->n_close, 1);
	assert_int_equal(t.far->n_reset, 0);
	assert_int_equal(t.tp->srv.m.streams.count, 0);
	assert_int_equal(tp_count(&t.tp->srv, FRAME_RESET, UINT32_MAX) +
				 tp_count(&t.tp->cli, FRAME_RESET, UINT32_MAX),
			 0);
	pt_stop(&t);
}

static size_t
inq(int fd)
{
	int n = 0;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

static void
test_upstream_stops_without_credit(void **state)
{
	struct pt t;
	const uint32_t sw = 65536;
	size_t total = 150000;

	(void)state;
	pt_start(&t, sw, 4 * sw, 0);
	t.far->auto_consume = 0;
	dv.to_write = total;
	tp_run_ms(t.tp, 50);
	assert_int_equal(dv.written, total);
	/* exactly one window crossed; the rest waits in the socket, unread */
	assert_int_equal(t.far->rx_len, sw);
	assert_int_equal(inq(t.p->conn.fd), total - sw);
	assert_int_equal(t.p->conn.w.interest & REACTOR_READ, 0);
	/* half a window consumed: WINDOW, and reading resumes for that much */
	mux_consumed(&t.tp->cli.m, t.far->s, sw / 2);
	want_rx = sw + sw / 2;
	assert_true(tp_run_until(t.tp, cond_rx, t.far, 2000));
	tp_run_ms(t.tp, 20);
	assert_int_equal(t.far->rx_len, sw + sw / 2);
	assert_int_equal(inq(t.p->conn.fd), total - sw - sw / 2);
	/* consume as it comes: everything arrives, in order */
	t.far->auto_consume = 1;
	mux_consumed(&t.tp->cli.m, t.far->s, sw);
	want_rx = total;
	assert_true(tp_run_until(t.tp, cond_rx, t.far, 3000));
	check_up(t.far, total);
	pt_stop(&t);
}

/* ---- downstream -------------------------------------------------------------- */

static void
test_downstream_in_order(void **state)
{
	struct pt t;

	(void)state;
	pt_start(&t, 128 * 1024, 1024 * 1024, 0);
	dv.far = t.far;
	dv.far_total = 2 * 1024 * 1024 + 777;
	dv.far_eof_after = 1;
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_read, NULL, 5000));
	assert_int_equal(dv.nread, dv.far_total);
	assert_int_equal(dv.bad, 0);
	assert_int_equal(dv.rd_eof, 1); /* the far EOF became a shutdown of the write side */
	assert_int_equal(t.p->bytes_down, dv.far_total);
	assert_int_equal(pd.calls, 0); /* our direction is still open */
	/* and data still flows the other way */
	dv.to_write = 5000;
	dv.shut_after = 1;
	assert_true(tp_run_until(t.tp, cond_done, NULL, 3000));
	check_up(t.far, 5000);
	assert_int_equal(t.far->n_eof, 1);
	assert_int_equal(t.far->n_close, 1);
	assert_int_equal(pd.reset_code, 0);
	pt_stop(&t);
}

/* The local reader stalls: the spill holds at most about one stream window, the far sender stops. */
static void
test_spill_bounded(void **state)
{
	struct pt t;
	const uint32_t sw = 65536;
	size_t spill, cap;

	(void)state;
	pt_start(&t, sw, 16 * sw, 8192);
	dv.far = t.far;
	dv.far_total = 4 * 1024 * 1024;
	tp_run_ms(t.tp, 150);
	spill = buf_len(&t.p->spill);
	cap = buf_cap(&t.p->spill);
	assert_true(dv.far_sent < dv.far_total); /* blocked */
	assert_int_equal(mux_credit(&t.tp->cli.m, t.far->s, SIZE_MAX), 0);
	assert_true(spill > 0);
	assert_true(spill <= sw);
	assert_true(cap <= 2 * (size_t)sw);
	/* nothing is lost or made up: socket + spill = what was sent */
	assert_int_equal(inq(t.lfd) + spill, dv.far_sent);
	tp_run_ms(t.tp, 50);
	assert_int_equal(buf_len(&t.p->spill), spill); /* no further */
	/* the reader wakes up: everything arrives in order and the spill drains */
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_read, NULL, 5000));
	assert_int_equal(dv.nread, dv.far_total);
	assert_int_equal(dv.bad, 0);
	assert_int_equal(buf_len(&t.p->spill), 0);
	pt_stop(&t);
}

/* More DATA pieces in one batch than the pump gathers for one sendmsg, with a socket that takes only part. */
static void
test_many_pieces_one_batch(void **state)
{
	struct pt t;
	static uint8_t chunk[700];
	size_t j, total = 0;
	int i;

	(void)state;
	pt_start(&t, 256 * 1024, 1024 * 1024, 8192);
	for (i = 0; i < 150; i++) {
		size_t n = 100 + (size_t)(i * 37) % 600;

		for (j = 0; j < n; j++)
			chunk[j] = down_pat(total + j);
		assert_int_equal(tp_send_copy(&t.tp->cli.m, t.far->s, chunk, (uint32_t)n), 0);
		total += n;
	}
	dv.far_total = total; /* for cond_read */
	tp_run_ms(t.tp, 30);
	assert_true(buf_len(&t.p->spill) > 0); /* the socket did not take it all */
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_read, NULL, 3000));
	assert_int_equal(dv.nread, total);
	assert_int_equal(dv.bad, 0);
	assert_int_equal(t.p->bytes_down, total);
	pt_stop(&t);
}

/* ---- half-close ---------------------------------------------------------------- */

static void
test_socket_eof_first(void **state)
{
	struct pt t;

	(void)state;
	pt_start(&t, 65536, 262144, 0);
	dv.to_write = 1000;
	dv.shut_after = 1;
	assert_true(tp_run_until(t.tp, cond_far_eof, t.far, 2000));
	check_up(t.far, 1000);
	assert_string_equal(t.far->ev, "dbe");
	/* half-closed: the far end may still send, the socket still gets it */
	dv.far = t.far;
	dv.far_total = 300000;
	dv.far_eof_after = 1;
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_read, NULL, 3000));
	assert_int_equal(dv.bad, 0);
	assert_int_equal(dv.rd_eof, 1);
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	assert_int_equal(pd.calls, 1);
	assert_int_equal(pd.reset_code, 0);
	assert_int_equal(t.far->n_close, 1);
	assert_int_equal(t.far->n_reset, 0);
	assert_int_equal(tp_count(&t.tp->cli, FRAME_RESET, UINT32_MAX), 0);
	pt_stop(&t);
}

/* Peer EOF while the spill holds bytes: the write side shuts only after they are out. */
static void
test_peer_eof_waits_for_spill(void **state)
{
	struct pt t;

	(void)state;
	pt_start(&t, 65536, 1024 * 1024, 8192);
	dv.far = t.far;
	dv.far_total = 200000;
	dv.far_eof_after = 1;
	tp_run_ms(t.tp, 80);
	assert_true(buf_len(&t.p->spill) > 0);
	assert_int_equal(t.p->peer_eof, 0); /* not all sent yet: credit */
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_read, NULL, 3000));
	assert_int_equal(dv.nread, 200000);
	assert_int_equal(dv.bad, 0);
	assert_int_equal(dv.rd_eof, 1);
	assert_int_equal(pd.calls, 0);
	dv.to_write = 10;
	dv.shut_after = 1;
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	check_up(t.far, 10);
	assert_int_equal(t.far->n_close, 1);
	pt_stop(&t);
}

/* ---- errors and resets ---------------------------------------------------------- */

static void
test_socket_error_resets(void **state)
{
	struct pt t;
	const struct tp_frame *f;

	(void)state;
	pt_start(&t, 65536, 262144, 0);
	dv.far = t.far;
	dv.far_total = 1000;
	tp_run_ms(t.tp, 30);
	assert_int_equal(inq(t.lfd), 1000);
	/* close our end with bytes unread: the pump's socket fails (ECONNRESET) */
	close(t.lfd);
	t.lfd = -1;
	assert_true(tp_run_until(t.tp, cond_far_closed, t.far, 2000));
	assert_string_equal(t.far->ev + strlen(t.far->ev) - 2, "rc");
	assert_int_equal(t.far->reset_code, FRAME_CODE_CANCEL);
	f = tp_last(&t.tp->cli, FRAME_RESET, t.sid);
	assert_non_null(f);
	assert_int_equal(f->value, FRAME_CODE_CANCEL);
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	assert_int_equal(pd.reset_code, FRAME_CODE_CANCEL);
	pt_stop(&t);
}

static void
test_peer_reset_closes_socket(void **state)
{
	struct pt t;

	(void)state;
	pt_start(&t, 65536, 262144, 0);
	dv.to_write = 2000;
	want_rx = 2000;
	assert_true(tp_run_until(t.tp, cond_rx, t.far, 2000));
	mux_send_reset(&t.tp->cli.m, t.far->s, FRAME_CODE_REFUSED_STREAM, "no");
	dv.reading = 1;
	assert_true(tp_run_until(t.tp, cond_rd_eof, NULL, 2000));
	assert_true(dv.rd_eof || dv.rd_err == ECONNRESET);
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	assert_int_equal(pd.calls, 1);
	assert_int_equal(pd.reset_code, FRAME_CODE_REFUSED_STREAM);
	assert_int_equal(t.tp->srv.m.streams.count, 0);
	/* the pump sent no RESET back */
	assert_int_equal(tp_count(&t.tp->cli, FRAME_RESET, UINT32_MAX), 0);
	pt_stop(&t);
}

/* ---- the done callback ---------------------------------------------------------- */

static void
test_done_waits_for_lent_data(void **state)
{
	struct pt t;
	int i;

	(void)state;
	pt_start(&t, 65536, 262144, 0);
	reactor_hook_stop(&t.tp->r, &dv.hook);
	assert_int_equal(send(t.lfd, "0123456789", 10, 0), 10);
	/* one iteration: the pump reads and lends DATA; the flush is the next iteration's */
	for (i = 0; i < 100 && t.p->bytes_up == 0; i++)
		tp_spin(t.tp);
	assert_int_equal(t.p->bytes_up, 10);
	assert_int_equal(t.p->lent, 1);
	pump_abort(t.p, FRAME_CODE_CANCEL, "test");
	assert_int_equal(t.p->state, PUMP_CLOSED);
	assert_int_equal(pd.calls, 0);
	/* the bytes go out (then the RESET), and only then is the pump done */
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	assert_int_equal(pd.calls, 1);
	assert_int_equal(pd.lent, 0);
	assert_true(tp_run_until(t.tp, cond_far_closed, t.far, 2000));
	assert_int_equal(t.far->rx_len, 10);
	assert_int_equal(t.far->reset_code, FRAME_CODE_CANCEL);
	tp_run_ms(t.tp, 10);
	assert_int_equal(pd.calls, 1);
	reactor_hook_start(&t.tp->r, &dv.hook, drv_hook);
	pt_stop(&t);
}

/* The tunnel dies with DATA lent: it comes back unsent, the pump ends once. */
static void
test_done_when_tunnel_dies(void **state)
{
	struct pt t;
	int i;

	(void)state;
	pt_start(&t, 65536, 262144, 0);
	reactor_hook_stop(&t.tp->r, &dv.hook);
	assert_int_equal(send(t.lfd, "abcdef", 6, 0), 6);
	for (i = 0; i < 100 && t.p->bytes_up == 0; i++)
		tp_spin(t.tp);
	assert_int_equal(t.p->lent, 1);
	tunnel_abort(&t.tp->srv.socks[0].t, WS_CLOSE_ABNORMAL, "test");
	assert_int_equal(t.p->lent, 0);
	assert_true(tp_run_until(t.tp, cond_done, NULL, 2000));
	tp_run_ms(t.tp, 10);
	assert_int_equal(pd.calls, 1);
	assert_int_equal(pd.lent, 0);
	/* the local socket was closed */
	assert_int_equal(recv(t.lfd, (char[8]){ 0 }, 8, 0), 0);
	reactor_hook_start(&t.tp->r, &dv.hook, drv_hook);
	pt_stop(&t);
}

/* ---- connecting (htc's side) ------------------------------------------------------ */

static int
listen_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int
connect_loopback(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	assert_true(rc == 0 || errno == EINPROGRESS);
	return fd;
}

/* The stream's pump connects; a refused connect resets the stream with REFUSED_STREAM. */
static void
test_connect_refused(void **state)
{
	struct tp *tp = tp_new(1, 65536, 262144);
	struct stream *s;
	struct pump *p;
	struct tp_owner *far;
	int port, lfd = listen_loopback(&port);

	(void)state;
	memset(&pd, 0, sizeof(pd));
	close(lfd); /* nobody listens there now */
	s = tp_open(tp, NULL, -1);
	assert_non_null(s);
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	assert_int_equal(pump_start(p, &tp->r, &tp->srv.m, s, connect_loopback(port), 1, pd_done), 0);
	assert_true(tp_run_until(tp, cond_done, NULL, 2000));
	far = tp_peer(&tp->cli, 1);
	assert_non_null(far);
	assert_true(tp_run_until(tp, cond_far_closed, far, 2000));
	assert_int_equal(far->reset_code, FRAME_CODE_REFUSED_STREAM);
	assert_int_equal(pd.reset_code, FRAME_CODE_REFUSED_STREAM);
	tp_free(tp);
}

/* DATA (and EOF) that arrive while connecting are kept and written, in order, once connected. */
static void
test_connect_then_flow(void **state)
{
	struct tp *tp = tp_new(1, 65536, 262144);
	struct stream *s;
	struct pump *p;
	struct tp_owner *far;
	static uint8_t got[100000];
	size_t n = 0;
	int port, lfd = listen_loopback(&port), afd = -1, dummy, i;

	(void)state;
	memset(&pd, 0, sizeof(pd));
	/* a full accept queue drops the pump's SYN: its connect stays in progress (about 1 s) */
	assert_int_equal(listen(lfd, 0), 0);
	dummy = connect_loopback(port);
	tp_run_ms(tp, 20);
	s = tp_open(tp, NULL, -1);
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	assert_int_equal(pump_start(p, &tp->r, &tp->srv.m, s, connect_loopback(port), 1, pd_done), 0);
	assert_true(tp_run_until(tp, tp_cond_peer, (void *)(uintptr_t)1, 2000));
	far = tp_peer(&tp->cli, 1);
	for (i = 0; i < 3; i++) {
		static uint8_t chunk[20000];
		size_t j;

		for (j = 0; j < sizeof(chunk); j++)
			chunk[j] = down_pat((size_t)i * sizeof(chunk) + j);
		assert_int_equal(tp_send_copy(&tp->cli.m, far->s, chunk, sizeof(chunk)), 0);
	}
	mux_send_eof(&tp->cli.m, far->s);
	tp_run_ms(tp, 50);
	assert_int_equal(p->state, PUMP_CONNECTING);
	assert_int_equal(buf_len(&p->spill), 60000);
	/* make room in the queue: the SYN is retried and the connect completes */
	close(accept(lfd, NULL, NULL));
	close(dummy);
	for (i = 0; i < 400 && afd < 0; i++) {
		struct pollfd pfd = { lfd, POLLIN, 0 };

		tp_run_ms(tp, 5);
		if (poll(&pfd, 1, 0) == 1)
			afd = accept(lfd, NULL, NULL);
	}
	assert_true(afd >= 0);
	for (i = 0; i < 4000 && n < 60000; i++) {
		ssize_t k;

		tp_spin(tp);
		k = recv(afd, got + n, sizeof(got) - n, MSG_DONTWAIT);
		if (k > 0)
			n += (size_t)k;
	}
	assert_int_equal(n, 60000);
	for (i = 0; i < 60000; i++)
		assert_int_equal(got[i], down_pat((size_t)i));
	/* then the far EOF: the write side is shut */
	tp_run_ms(tp, 10);
	assert_int_equal(recv(afd, got, sizeof(got), MSG_DONTWAIT), 0);
	assert_int_equal(send(afd, "x", 1, 0), 1);
	shutdown(afd, SHUT_WR);
	assert_true(tp_run_until(tp, cond_done, NULL, 2000));
	assert_int_equal(pd.reset_code, 0);
	assert_true(tp_run_until(tp, cond_far_closed, far, 2000));
	assert_int_equal(far->n_reset, 0);
	assert_int_equal(far->rx_len, 1);
	close(afd);
	close(lfd);
	tp_free(tp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_bulk_in_order),
		cmocka_unit_test(test_upstream_stops_without_credit),
		cmocka_unit_test(test_downstream_in_order),
		cmocka_unit_test(test_spill_bounded),
		cmocka_unit_test(test_many_pieces_one_batch),
		cmocka_unit_test(test_socket_eof_first),
		cmocka_unit_test(test_peer_eof_waits_for_spill),
		cmocka_unit_test(test_socket_error_resets),
		cmocka_unit_test(test_peer_reset_closes_socket),
		cmocka_unit_test(test_done_waits_for_lent_data),
		cmocka_unit_test(test_done_when_tunnel_dies),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_then_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
