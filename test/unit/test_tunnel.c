/*
 * test_tunnel.c: one tunnel on one end of a socketpair, the test on the
 * other end with the project's own WebSocket parser and frame reader as a
 * raw peer. Checked: how frames are packed into messages (<= 64 frames,
 * <= 262,144 bytes, as few messages as that allows), masking in the client
 * role, DATA done callbacks (written, or dropped on abort), partial writes
 * across many flushes, WebSocket PING, the protocol errors that close the
 * connection (text 1003, 65 frames 1002, too big 1009), the close
 * handshake, bytes handed over with the handshake (`pre`), and a client
 * that can get no mask key (getrandom failing, through fakerandom.h): the
 * connection ends with 1011 and why. Input is fed whole, byte by byte and
 * split at every offset (one read per piece).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakerandom.h"
#include "feed.h"
#include "frame.h"
#include "reactor.h"
#include "tunnel.h"
#include "ws.h"

/* ---- byte vectors ------------------------------------------------------- */

struct vec {
	uint8_t *p;
	size_t n, cap;
};

static void
vec_add(struct vec *v, const void *p, size_t n)
{
	if (v->n + n > v->cap) {
		size_t cap = v->cap ? v->cap : 4096;

		while (cap < v->n + n)
			cap *= 2;
		v->p = realloc(v->p, cap);
		assert_non_null(v->p);
		v->cap = cap;
	}
	if (n)
		memcpy(v->p + v->n, p, n);
	v->n += n;
}

static void
vec_free(struct vec *v)
{
	free(v->p);
	memset(v, 0, sizeof(*v));
}

/* Append one WebSocket frame (masked when mask). */
static void
ws_frame(struct vec *v, unsigned opcode, int fin, const void *payload, size_t n, int mask)
{
	uint8_t h[WS_MAX_HEADER], key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t hl = ws_header_encode(h, opcode, fin, n, mask ? key : NULL), at;

	vec_add(v, h, hl);
	at = v->n;
	vec_add(v, payload, n);
	if (mask)
		ws_mask(v->p + at, n, key, 0);
}

/* Append one tunnel frame (header + payload) to a message body. */
static void
tframe(struct vec *v, uint8_t type, uint32_t sid, const void *payload, size_t n)
{
	uint8_t h[FRAME_HEADER_LEN];

	frame_header_encode(h, type, sid, (uint32_t)n);
	vec_add(v, h, sizeof(h));
	vec_add(v, payload, n);
}

static uint8_t
pat(uint32_t k, size_t j)
{
	return (uint8_t)(k * 31 + j * 7 + (j >> 8));
}

/* ---- the raw peer: a reader of what the tunnel wrote --------------------- */

#define RR_MAX 20000

struct rr_frame {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	unsigned msg; /* message index */
	int bad;      /* DATA payload differs from pat(sid, .) */
};

struct rr {
	struct ws_parser wp;
	struct frame_reader fr;
	struct vec raw; /* every byte read, as on the wire */
	unsigned msgs;
	unsigned msg_frames[RR_MAX];
	size_t msg_bytes[RR_MAX];
	struct rr_frame f[RR_MAX];
	size_t nf;
	size_t data_off; /* offset in the current DATA frame */
	struct vec data; /* DATA payload, concatenated */
	struct vec ctl;  /* control payloads, concatenated */
	unsigned pings, pongs, closes, texts;
	uint8_t pong[WS_MAX_CONTROL];
	size_t pong_len;
	unsigned close_code;
	int failed, eof;
};

static void
rr_init(struct rr *r, enum ws_role role)
{
	memset(r, 0, sizeof(*r));
	ws_parser_init(&r->wp, role, 0);
	frame_reader_init(&r->fr);
}

static void
rr_fini(struct rr *r)
{
	frame_reader_fini(&r->fr);
	vec_free(&r->raw);
	vec_free(&r->data);
	vec_free(&r->ctl);
}

static void
rr_message_chunk(struct rr *r, const uint8_t *p, size_t n, int last)
{
	r->msg_bytes[r->msgs] += n;
	for (;;) {
		struct frame_event ev;
		ssize_t k = frame_reader_feed(&r->fr, p, n, last, &ev);

		assert_true(k >= 0);
		p += k;
		n -= (size_t)k;
		if (ev.type == FRAME_EV_NONE)
			return;
		if (ev.type == FRAME_EV_MESSAGE_END) {
			r->msgs++;
			assert_true(r->msgs < RR_MAX);
			return;
		}
		if (ev.type == FRAME_EV_CONTROL || ev.frame_start) {
			struct rr_frame *f = &r->f[r->nf++];

			assert_true(r->nf < RR_MAX);
			f->type = ev.frame_type;
			f->sid = ev.stream_id;
			f->len = ev.type == FRAME_EV_CONTROL ? ev.len : ev.frame_len;
			f->msg = r->msgs;
			r->msg_frames[r->msgs]++;
			r->data_off = 0;
		}
		if (ev.type == FRAME_EV_CONTROL) {
			vec_add(&r->ctl, ev.payload, ev.len);
		} else {
			uint32_t i;

			for (i = 0; i < ev.len; i++)
				if (ev.payload[i] != pat(ev.stream_id, r->data_off + i))
					r->f[r->nf - 1].bad = 1;
			r->data_off += ev.len;
			vec_add(&r->data, ev.payload, ev.len);
		}
	}
}

static void
rr_feed(struct rr *r, uint8_t *p, size_t n)
{
	vec_add(&r->raw, p, n);
	while (n > 0 && !r->failed) {
		struct ws_event ev;
		ssize_t k = ws_parse(&r->wp, p, n, &ev);

		if (k < 0) {
			r->failed = 1;
			return;
		}
		p += k;
		n -= (size_t)k;
		switch (ev.type) {
		case WS_EV_DATA:
			if (ev.opcode == WS_OP_TEXT)
				r->texts++;
			rr_message_chunk(r, ev.data, ev.len, ev.last);
			break;
		case WS_EV_PING: r->pings++; break;
		case WS_EV_PONG:
			r->pongs++;
			memcpy(r->pong, ev.data, ev.len);
			r->pong_len = ev.len;
			break;
		case WS_EV_CLOSE:
			r->closes++;
			r->close_code = ev.code;
			return; /* nothing may follow */
		default: break;
		}
	}
}

/* Read what the socket has (at most max bytes; 0 = no limit). */
static void
rr_read(struct rr *r, int fd, size_t max)
{
	static uint8_t buf[65536];
	size_t got = 0;

	while (max == 0 || got < max) {
		size_t want = max ? max - got : sizeof(buf);
		ssize_t n = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf));

		if (n == 0)
			r->eof = 1;
		if (n <= 0)
			return;
		got += (size_t)n;
		rr_feed(r, buf, (size_t)n);
	}
}

/* ---- the tunnel under test ----------------------------------------------- */

static void
free_done(void *arg, uint32_t len, int sent)
{
	(void)len;
	(void)sent;
	free(arg);
}

struct ctl_ev {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
};

struct tt {
	struct reactor r;
	struct tunnel_loop tl;
	struct tunnel t;
	int live;
	int raw;
	enum ws_role role;
	struct rr rr;            /* what the tunnel wrote */
	struct ctl_ev ctl[1024]; /* what the tunnel read */
	size_t nctl;
	struct vec ctlp;         /* their payloads */
	struct ctl_ev dfr[1024]; /* DATA frames (at their first piece) */
	size_t ndfr;
	struct vec data;  /* DATA payload read, concatenated */
	int piece_errors; /* frame_start / frame_end inconsistent */
	uint32_t piece_left;
	unsigned input_ends, closed, close_code;
	char close_why[160]; /* the reason on_closed got */
	struct reactor_timer deadline;
	struct reactor_hook hook;
	int (*cond)(struct tt *);
};

static void
t_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct tt *x = t->owner;

	if (x->nctl < 1024) {
		x->ctl[x->nctl].type = type;
		x->ctl[x->nctl].sid = sid;
		x->ctl[x->nctl].len = (uint32_t)n;
		x->nctl++;
	}
	vec_add(&x->ctlp, p, n);
}

static void
t_data(struct tunnel *t, const struct frame_event *ev)
{
	struct tt *x = t->owner;

	if (ev->frame_start) {
		if (x->piece_left != 0)
			x->piece_errors++;
		x->piece_left = ev->frame_len;
		if (x->ndfr < 1024) {
			x->dfr[x->ndfr].type = FRAME_DATA;
			x->dfr[x->ndfr].sid = ev->stream_id;
			x->dfr[x->ndfr].len = ev->frame_len;
			x->ndfr++;
		}
	}
	if (ev->len > x->piece_left)
		x->piece_errors++;
	else
		x->piece_left -= ev->len;
	if (ev->frame_end != (x->piece_left == 0))
		x->piece_errors++;
	vec_add(&x->data, ev->payload, ev->len);
}

static void
t_closed(struct tunnel *t, unsigned code, const char *reason)
{
	struct tt *x = t->owner;

	x->closed++;
	x->close_code = code;
	snprintf(x->close_why, sizeof(x->close_why), "%s", reason ? reason : "");
}

static void
t_input_end(struct tunnel *t)
{
	struct tt *x = t->owner;

	x->input_ends++;
}

static const struct tunnel_ops tt_ops = {
	.on_control = t_control,
	.on_data = t_data,
	.on_closed = t_closed,
	.on_input_end = t_input_end,
};

static struct tt *
tt_new_pre(enum ws_role role, const uint8_t *pre, size_t pre_len, const uint8_t *sock_bytes, size_t sock_len)
{
	struct tt *x = calloc(1, sizeof(*x));
	struct conn c;
	int sv[2];

	assert_non_null(x);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(reactor_init(&x->r), 0);
	tunnel_loop_init(&x->tl, &x->r);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	if (sock_len > 0)
		assert_int_equal(write(sv[1], sock_bytes, sock_len), (ssize_t)sock_len);
	x->role = role;
	conn_init(&c, &x->r, sv[0], NULL);
	assert_int_equal(tunnel_init(&x->t, &x->tl, &c, role, &tt_ops, x, pre, pre_len), 0);
	x->live = 1;
	x->raw = sv[1];
	rr_init(&x->rr, role == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
	return x;
}

static struct tt *
tt_new(enum ws_role role)
{
	return tt_new_pre(role, NULL, 0, NULL, 0);
}

static void
tt_free(struct tt *x)
{
	if (x->live)
		tunnel_fini(&x->t);
	tunnel_loop_fini(&x->tl);
	reactor_fini(&x->r);
	if (x->raw >= 0)
		close(x->raw);
	rr_fini(&x->rr);
	vec_free(&x->ctlp);
	vec_free(&x->data);
	free(x);
}

static void
tt_deadline(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(r);
}

static int
tt_hook(struct reactor *r, struct reactor_hook *h)
{
	struct tt *x = container_of(h, struct tt, hook);

	if (x->cond != NULL && x->cond(x))
		reactor_stop(r);
	return 0;
}

/* Run until cond holds (checked before each poll) or ms passed; 1 when it held. */
static int
tt_run_until(struct tt *x, int (*cond)(struct tt *), uint64_t ms)
{
	x->cond = cond;
	reactor_timer_init(&x->deadline, tt_deadline);
	reactor_timer_start(&x->r, &x->deadline, ms, 0);
	reactor_hook_start(&x->r, &x->hook, tt_hook);
	assert_int_equal(reactor_run(&x->r), 0);
	reactor_hook_stop(&x->r, &x->hook);
	reactor_timer_stop(&x->r, &x->deadline);
	x->cond = NULL;
	return cond == NULL || cond(x);
}

/* One non-blocking loop iteration: flush what is queued, read what came. */
static void
tt_spin(struct tt *x)
{
	reactor_stop(&x->r);
	assert_int_equal(reactor_run(&x->r), 0);
}

/* Write all of p to the raw end, letting the tunnel read when the socket is full. */
static void
raw_send(struct tt *x, const void *p, size_t n)
{
	const uint8_t *b = p;
	int i;

	for (i = 0; n > 0 && i < 100000; i++) {
		ssize_t k = send(x->raw, b, n, MSG_NOSIGNAL);

		if (k < 0) {
			assert_true(errno == EAGAIN);
			tt_spin(x);
			rr_read(&x->rr, x->raw, 0);
			continue;
		}
		b += k;
		n -= (size_t)k;
	}
	assert_int_equal(n, 0);
}

static int
cond_closed(struct tt *x)
{
	return x->closed > 0;
}

/* Spin and read the raw side until the reader holds n frames. */
static void
tt_collect(struct tt *x, size_t nframes)
{
	int i;

	for (i = 0; i < 100000 && x->rr.nf < nframes; i++) {
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	assert_int_equal(x->rr.nf, nframes);
	assert_int_equal(x->rr.failed, 0);
}

/* Every message within the limits, and no message could have taken the next frame. */
static void
check_packing(const struct rr *r, int greedy)
{
	size_t i = 0;
	unsigned m;

	for (m = 0; m < r->msgs; m++) {
		size_t bytes = 0;
		unsigned frames = 0;

		while (i < r->nf && r->f[i].msg == m) {
			bytes += FRAME_HEADER_LEN + r->f[i].len;
			frames++;
			i++;
		}
		assert_int_equal(frames, r->msg_frames[m]);
		assert_int_equal(bytes, r->msg_bytes[m]);
		assert_true(frames >= 1 && frames <= FRAME_MSG_MAX_FRAMES);
		assert_true(bytes <= FRAME_MSG_MAX_BYTES);
		if (greedy && i < r->nf) /* the next frame did not fit */
			assert_true(frames == FRAME_MSG_MAX_FRAMES ||
				    bytes + FRAME_HEADER_LEN + r->f[i].len > FRAME_MSG_MAX_BYTES);
	}
	assert_int_equal(i, r->nf);
}

/* ---- batching -------------------------------------------------------------- */

static void
batching_small(enum ws_role role)
{
	struct tt *x = tt_new(role);
	static uint8_t payload[200][40];
	uint32_t k;
	size_t j;

	for (k = 0; k < 200; k++) {
		for (j = 0; j < 40; j++)
			payload[k][j] = pat(k + 1, j);
		if (k % 3 == 0)
			assert_int_equal(tunnel_send_window(&x->t, k + 1, 1000 + k), 0);
		else
			assert_int_equal(tunnel_send_data(&x->t, k + 1, payload[k], 40, NULL, NULL), 0);
	}
	assert_int_equal(x->t.frames_out, 200);
	tt_collect(x, 200);
	assert_int_equal(x->rr.msgs, 4);
	assert_int_equal(x->rr.msg_frames[0], 64);
	assert_int_equal(x->rr.msg_frames[1], 64);
	assert_int_equal(x->rr.msg_frames[2], 64);
	assert_int_equal(x->rr.msg_frames[3], 8);
	for (k = 0; k < 200; k++) {
		assert_int_equal(x->rr.f[k].sid, k + 1);
		assert_int_equal(x->rr.f[k].type, k % 3 == 0 ? FRAME_WINDOW : FRAME_DATA);
		assert_int_equal(x->rr.f[k].bad, 0);
	}
	check_packing(&x->rr, 1);
	assert_int_equal(x->t.queued_bytes, 0);
	assert_int_equal(x->t.bytes_out, x->rr.raw.n);
	tt_free(x);
}

static void
test_batching_small_frames(void **state)
{
	(void)state;
	batching_small(WS_ROLE_SERVER);
	batching_small(WS_ROLE_CLIENT);
}

static uint8_t big[FRAME_MAX_PAYLOAD * 2];

static void
fill_big(uint32_t sid)
{
	size_t j;

	for (j = 0; j < sizeof(big); j++)
		big[j] = pat(sid, j);
}

static void
test_batching_large_frames(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	uint32_t k;

	(void)state;
	fill_big(7);
	/* 65,545 bytes a frame: three fit in 262,144, a fourth does not */
	for (k = 0; k < 10; k++)
		assert_int_equal(tunnel_send_data(&x->t, 7, big, FRAME_MAX_PAYLOAD, NULL, NULL), 0);
	tt_collect(x, 10);
	assert_int_equal(x->rr.msgs, 4);
	assert_int_equal(x->rr.msg_frames[0], 3);
	assert_int_equal(x->rr.msg_frames[3], 1);
	for (k = 0; k < 10; k++)
		assert_int_equal(x->rr.f[k].len, FRAME_MAX_PAYLOAD);
	check_packing(&x->rr, 1);
	tt_free(x);
}

/* Random sizes 0..65,536: every message at its limit, nothing lost or reordered. */
static void
test_batching_random_sizes(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);
	uint32_t k, seed = 99, sizes[300];
	size_t total = 0;

	(void)state;
	for (k = 0; k < 300; k++) {
		uint32_t sid = k % 5 + 1;
		uint8_t *copy;

		seed = seed * 1103515245u + 12345u;
		sizes[k] =
			(seed >> 8) % 4 == 0 ? (seed >> 12) % (FRAME_MAX_PAYLOAD + 1) : (seed >> 12) % 3000;
		copy = malloc(sizes[k] + 1);
		assert_non_null(copy);
		fill_big(sid);
		memcpy(copy, big, sizes[k]);
		/* the client role masks the lent bytes in place: lend a copy */
		assert_int_equal(tunnel_send_data(&x->t, sid, copy, sizes[k], free_done, copy), 0);
		total += sizes[k];
	}
	tt_collect(x, 300);
	for (k = 0; k < 300; k++) {
		assert_int_equal(x->rr.f[k].len, sizes[k]);
		assert_int_equal(x->rr.f[k].sid, k % 5 + 1);
		assert_int_equal(x->rr.f[k].bad, 0);
	}
	assert_int_equal(x->rr.data.n, total);
	check_packing(&x->rr, 1);
	tt_free(x);
}

/* ---- masking ----------------------------------------------------------------- */

static int
contains(const struct vec *v, const uint8_t *p, size_t n)
{
	return memmem(v->p, v->n, p, n) != NULL;
}

static void
test_client_masks(void **state)
{
	static uint8_t plain[3000], lent[3000];
	struct tt *x;
	size_t j;

	(void)state;
	for (j = 0; j < sizeof(plain); j++)
		plain[j] = pat(3, j);
	for (j = 0; j < 2; j++) {
		enum ws_role role = j ? WS_ROLE_CLIENT : WS_ROLE_SERVER;

		x = tt_new(role);
		memcpy(lent, plain, sizeof(plain));
		assert_int_equal(tunnel_send_data(&x->t, 3, lent, sizeof(lent), NULL, NULL), 0);
		assert_int_equal(tunnel_send(&x->t, FRAME_BIND, 0, "{\"clientBindRef\":1}", 19), 0);
		tt_collect(x, 2);
		/* parsed (the reader's role insists on the masking direction): the same bytes */
		assert_int_equal(x->rr.data.n, sizeof(plain));
		assert_memory_equal(x->rr.data.p, plain, sizeof(plain));
		assert_int_equal(x->rr.ctl.n, 19);
		assert_memory_equal(x->rr.ctl.p, "{\"clientBindRef\":1}", 19);
		/* on the wire: plain for the server role, masked for the client */
		assert_int_equal(contains(&x->rr.raw, plain, 64), role == WS_ROLE_SERVER);
		assert_int_equal(contains(&x->rr.raw, (const uint8_t *)"clientBindRef", 13),
				 role == WS_ROLE_SERVER);
		assert_int_equal((x->rr.raw.p[1] & 0x80) != 0, role == WS_ROLE_CLIENT);
		tt_free(x);
	}
}

/*
 * A client with no random numbers: once the mask keys drawn before are used
 * up, the connection ends (1011, and why) instead of masking with a key
 * made up; what went out before is masked and parses. The same for a
 * control frame (CLOSE) queued then.
 */
static void
test_mask_without_random(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);
	int i;

	(void)state;
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	/* at most 1,024 keys are left from before; each flush below takes one */
	for (i = 0; i < 1100 && x->closed == 0; i++) {
		if (x->t.state == TUNNEL_OPEN)
			assert_int_equal(tunnel_send_window(&x->t, 0, 5), 0);
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, WS_CLOSE_INTERNAL);
	assert_non_null(strstr(x->close_why, "no random numbers for a WebSocket mask key: "));
	assert_non_null(strstr(x->close_why, strerror(ENOSYS)));
	assert_int_equal(x->rr.failed, 0);
	assert_true(x->rr.nf < 1100);
	print_message("  %zu messages went out before the keys ran out\n", x->rr.nf);
	tt_free(x);
	/* CLOSE needs a key too */
	x = tt_new(WS_ROLE_CLIENT);
	tunnel_close(&x->t, WS_CLOSE_NORMAL, "bye", 1000);
	for (i = 0; i < 10 && x->closed == 0; i++)
		tt_spin(x);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, WS_CLOSE_INTERNAL);
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->rr.closes, 0);
	fakerandom_off();
	tt_free(x);
}

/* ---- done callbacks ------------------------------------------------------------ */

struct done_rec {
	unsigned calls;
	uint32_t len;
	int sent;
	unsigned order;
};

static unsigned done_seq;

static void
rec_done(void *arg, uint32_t len, int sent)
{
	struct done_rec *d = arg;

	d->calls++;
	d->len = len;
	d->sent = sent;
	d->order = done_seq++;
}

static void
test_done_after_write(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct done_rec d[100];
	uint32_t k;

	(void)state;
	memset(d, 0, sizeof(d));
	done_seq = 0;
	fill_big(9);
	for (k = 0; k < 100; k++) {
		assert_int_equal(tunnel_send_data(&x->t, 9, big, k * 100, rec_done, &d[k]), 0);
		if (k % 10 == 0)
			assert_int_equal(tunnel_send_window(&x->t, 0, 5), 0);
	}
	for (k = 0; k < 100; k++)
		assert_int_equal(d[k].calls, 0); /* nothing before the flush */
	tt_collect(x, 110);
	for (k = 0; k < 100; k++) {
		assert_int_equal(d[k].calls, 1);
		assert_int_equal(d[k].sent, 1);
		assert_int_equal(d[k].len, k * 100);
		assert_int_equal(d[k].order, k);
	}
	tt_free(x);
	for (k = 0; k < 100; k++)
		assert_int_equal(d[k].calls, 1);
}

static void
test_done_on_abort(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct done_rec d[40];
	int sndbuf = 4096;
	uint32_t k;
	unsigned sent = 0, dropped = 0;

	(void)state;
	memset(d, 0, sizeof(d));
	fill_big(9);
	/* a small send buffer and a peer that does not read: part goes, the rest waits */
	assert_int_equal(setsockopt(x->t.conn.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	for (k = 0; k < 40; k++)
		assert_int_equal(tunnel_send_data(&x->t, 9, big, k < 5 ? 100 : 20000, rec_done, &d[k]), 0);
	tt_spin(x);
	tt_spin(x);
	assert_true(x->t.qlen > 0);
	tunnel_abort(&x->t, WS_CLOSE_GOING_AWAY, "test");
	for (k = 0; k < 40; k++) {
		assert_int_equal(d[k].calls, 1);
		if (d[k].sent)
			sent++;
		else
			dropped++;
		/* written ones first, in order */
		if (k > 0 && d[k].sent)
			assert_int_equal(d[k - 1].sent, 1);
	}
	assert_true(dropped > 0);
	assert_true(sent >= 5);
	assert_int_equal(x->closed, 0); /* on_closed comes from the closing phase */
	assert_true(tt_run_until(x, cond_closed, 1000));
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, WS_CLOSE_GOING_AWAY);
	assert_int_equal(tunnel_send_data(&x->t, 9, big, 10, rec_done, &d[0]), -EPIPE);
	tt_free(x);
	for (k = 0; k < 40; k++)
		assert_int_equal(d[k].calls, 1);
}

/* tunnel_fini with items queued drops them: done with sent = 0, once. */
static void
test_done_on_fini(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);
	struct done_rec d[5];
	static uint8_t lent[5][100];
	uint32_t k;

	(void)state;
	memset(d, 0, sizeof(d));
	for (k = 0; k < 5; k++)
		assert_int_equal(tunnel_send_data(&x->t, 1, lent[k], 100, rec_done, &d[k]), 0);
	tt_free(x);
	for (k = 0; k < 5; k++) {
		assert_int_equal(d[k].calls, 1);
		assert_int_equal(d[k].sent, 0);
		assert_int_equal(d[k].len, 100);
	}
}

/* ---- partial writes ---------------------------------------------------------- */

static void
test_partial_writes(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);
	int sndbuf = 4096, rounds = 0, partial = 0;
	uint32_t k = 0, seed = 5, want = 1500;
	size_t total = 0;

	(void)state;
	assert_int_equal(setsockopt(x->t.conn.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	/* queue more every round while the reader takes a little at a time */
	while (x->rr.nf < want) {
		int i;

		for (i = 0; i < 10 && k < want; i++, k++) {
			uint32_t n, sid = k % 7 + 1;
			uint8_t *copy;

			seed = seed * 1103515245u + 12345u;
			n = (seed >> 8) % 8 == 0 ? (seed >> 12) % (FRAME_MAX_PAYLOAD + 1)
						 : (seed >> 12) % 2000;
			if (k % 4 == 3) {
				assert_int_equal(tunnel_send_window(&x->t, sid, k + 1), 0);
				continue;
			}
			copy = malloc(n + 1);
			assert_non_null(copy);
			fill_big(sid);
			memcpy(copy, big, n);
			assert_int_equal(tunnel_send_data(&x->t, sid, copy, n, free_done, copy), 0);
			total += n;
		}
		tt_spin(x);
		if (x->t.qlen > 0)
			partial++;
		rr_read(&x->rr, x->raw, 3000 + (seed >> 20) % 30000);
		assert_int_equal(x->rr.failed, 0);
		assert_true(++rounds < 200000);
	}
	assert_int_equal(x->rr.nf, want);
	assert_true(partial > 50); /* really many flushes with output left over */
	assert_int_equal(x->rr.data.n, total);
	assert_true(x->rr.msgs < want / 2); /* frames queued together still share messages */
	for (k = 0; k < want; k++) {
		assert_int_equal(x->rr.f[k].bad, 0);
		assert_int_equal(x->rr.f[k].sid, k % 7 + 1);
		assert_int_equal(x->rr.f[k].type, k % 4 == 3 ? FRAME_WINDOW : FRAME_DATA);
	}
	check_packing(&x->rr, 0); /* queued over many rounds: no greedy bound */
	assert_int_equal(x->t.queued_bytes, 0);
	tt_free(x);
}

/* ---- input: frames, PING, protocol errors --------------------------------------- */

struct feedctx {
	struct tt *x;
	enum ws_role role;
	const struct vec *expect_ctl; /* expected control payloads */
	size_t nctl, ndata;
	size_t data_len;
	const uint8_t *data;
	unsigned close_code; /* 0: must stay open */
	size_t pong_len;
	const uint8_t *pong;
};

static void
fc_reset(void *ctx)
{
	struct feedctx *c = ctx;

	if (c->x != NULL)
		tt_free(c->x);
	c->x = tt_new(c->role);
}

static void
fc_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct feedctx *c = ctx;

	if (c->x->t.state == TUNNEL_CLOSED)
		return;
	assert_int_equal(send(c->x->raw, p, n, MSG_NOSIGNAL), (ssize_t)n);
	tt_spin(c->x); /* one read per piece */
	rr_read(&c->x->rr, c->x->raw, 0);
}

static void
fc_check(void *ctx)
{
	struct feedctx *c = ctx;
	struct tt *x = c->x;

	tt_spin(x);
	rr_read(&x->rr, x->raw, 0);
	if (c->close_code == 0) {
		assert_int_equal(x->t.state, TUNNEL_OPEN);
		assert_int_equal(x->nctl, c->nctl);
		assert_int_equal(x->ctlp.n, c->expect_ctl->n);
		assert_memory_equal(x->ctlp.p, c->expect_ctl->p, c->expect_ctl->n);
		assert_int_equal(x->ndfr, c->ndata);
		assert_int_equal(x->data.n, c->data_len);
		if (c->data_len)
			assert_memory_equal(x->data.p, c->data, c->data_len);
		assert_int_equal(x->piece_errors, 0);
		assert_int_equal(x->rr.closes, 0);
		if (c->pong != NULL) {
			assert_int_equal(x->rr.pongs, 1);
			assert_int_equal(x->rr.pong_len, c->pong_len);
			assert_memory_equal(x->rr.pong, c->pong, c->pong_len);
		}
		return;
	}
	/* the peer sees CLOSE with the code, answers by closing; on_closed once */
	assert_int_equal(x->rr.closes, 1);
	assert_int_equal(x->rr.close_code, c->close_code);
	close(x->raw);
	x->raw = -1;
	assert_true(tt_run_until(x, cond_closed, 2000));
	tt_spin(x);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, c->close_code);
}

static void
feed_case(struct feedctx *c, const struct vec *in)
{
	feed_all_ways(in->p, in->n, c, fc_reset, fc_chunk, fc_check);
	tt_free(c->x);
	c->x = NULL;
}

/* A fragmented message with frames across the fragment boundary and a PING between fragments. */
static void
test_input_all_ways(void **state)
{
	struct vec msg1 = { 0 }, msg2 = { 0 }, in = { 0 }, ctl = { 0 }, data = { 0 };
	static const uint8_t win[4] = { 0, 0, 1, 0 }, rst[6] = { 0, 7, 'b', 'y', 'e', '!' };
	uint8_t d1[40], d2[5];
	struct feedctx c;
	size_t j;

	(void)state;
	for (j = 0; j < sizeof(d1); j++)
		d1[j] = (uint8_t)(0xa0 + j);
	for (j = 0; j < sizeof(d2); j++)
		d2[j] = (uint8_t)j;
	tframe(&msg1, FRAME_WINDOW, 3, win, 4);
	tframe(&msg1, FRAME_DATA, 3, d1, sizeof(d1));
	tframe(&msg1, FRAME_RESET, 5, rst, sizeof(rst));
	tframe(&msg1, FRAME_DATA, 5, NULL, 0); /* empty DATA */
	tframe(&msg1, FRAME_EOF, 3, NULL, 0);
	tframe(&msg2, FRAME_DATA, 9, d2, sizeof(d2));
	tframe(&msg2, FRAME_PING, 0, "nonce-01", 8);
	vec_add(&ctl, win, 4);
	vec_add(&ctl, rst, sizeof(rst));
	vec_add(&ctl, "nonce-01", 8);
	vec_add(&data, d1, sizeof(d1));
	vec_add(&data, d2, sizeof(d2));
	for (j = 0; j < 2; j++) {
		int mask = j == 0; /* the peer of a server-role tunnel masks */

		in.n = 0;
		/* message 1 in two fragments cut inside the DATA frame, a PING between them */
		ws_frame(&in, WS_OP_BINARY, 0, msg1.p, 30, mask);
		ws_frame(&in, WS_OP_PING, 1, "hi!", 3, mask);
		ws_frame(&in, WS_OP_CONT, 1, msg1.p + 30, msg1.n - 30, mask);
		ws_frame(&in, WS_OP_BINARY, 1, msg2.p, msg2.n, mask);
		memset(&c, 0, sizeof(c));
		c.role = j == 0 ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
		c.expect_ctl = &ctl;
		c.nctl = 4;
		c.ndata = 3;
		c.data = data.p;
		c.data_len = data.n;
		c.pong = (const uint8_t *)"hi!";
		c.pong_len = 3;
		feed_case(&c, &in);
	}
	vec_free(&msg1);
	vec_free(&msg2);
	vec_free(&in);
	vec_free(&ctl);
	vec_free(&data);
}

static void
error_case(const struct vec *in, unsigned code)
{
	struct feedctx c;
	struct vec none = { 0 };

	memset(&c, 0, sizeof(c));
	c.role = WS_ROLE_SERVER;
	c.expect_ctl = &none;
	c.close_code = code;
	feed_case(&c, in);
}

static void
test_text_closes_1003(void **state)
{
	struct vec in = { 0 };

	(void)state;
	ws_frame(&in, WS_OP_TEXT, 1, "hello", 5, 1);
	error_case(&in, WS_CLOSE_UNSUPPORTED);
	vec_free(&in);
}

static void
test_65_frames_closes_1002(void **state)
{
	struct vec msg = { 0 }, in = { 0 };
	struct tt *x;
	int i;

	(void)state;
	for (i = 0; i < 65; i++)
		tframe(&msg, FRAME_EOF, (uint32_t)i + 1, NULL, 0);
	ws_frame(&in, WS_OP_BINARY, 1, msg.p, msg.n, 1);
	error_case(&in, WS_CLOSE_PROTOCOL);
	/* 64 frames are fine */
	x = tt_new(WS_ROLE_SERVER);
	in.n = 0;
	ws_frame(&in, WS_OP_BINARY, 1, msg.p, msg.n - FRAME_HEADER_LEN, 1);
	raw_send(x, in.p, in.n);
	tt_spin(x);
	tt_spin(x);
	assert_int_equal(x->nctl, 64);
	assert_int_equal(x->t.state, TUNNEL_OPEN);
	tt_free(x);
	vec_free(&msg);
	vec_free(&in);
}

static void
test_too_big_closes_1009(void **state)
{
	struct vec in = { 0 }, msg = { 0 };
	static uint8_t zero[FRAME_MAX_PAYLOAD];
	uint8_t h[WS_MAX_HEADER], key[4] = { 1, 2, 3, 4 };
	struct tt *x;
	size_t hl;
	int i;

	(void)state;
	/* one frame announcing 262,145 bytes: refused at its header */
	hl = ws_header_encode(h, WS_OP_BINARY, 1, FRAME_MSG_MAX_BYTES + 1, key);
	vec_add(&in, h, hl);
	error_case(&in, WS_CLOSE_TOO_BIG);

	/* exactly 262,144 bytes in four frames: accepted */
	for (i = 0; i < 3; i++)
		tframe(&msg, FRAME_DATA, 1, zero, FRAME_MAX_PAYLOAD);
	tframe(&msg, FRAME_DATA, 1, zero, FRAME_MSG_MAX_BYTES - 4 * FRAME_HEADER_LEN - 3 * FRAME_MAX_PAYLOAD);
	assert_int_equal(msg.n, FRAME_MSG_MAX_BYTES);
	in.n = 0;
	ws_frame(&in, WS_OP_BINARY, 0, msg.p, 100000, 1);
	ws_frame(&in, WS_OP_CONT, 1, msg.p + 100000, msg.n - 100000, 1);
	x = tt_new(WS_ROLE_SERVER);
	raw_send(x, in.p, in.n);
	for (i = 0; i < 10; i++)
		tt_spin(x);
	assert_int_equal(x->ndfr, 4);
	assert_int_equal(x->data.n, FRAME_MSG_MAX_BYTES - 4 * FRAME_HEADER_LEN);
	assert_int_equal(x->t.state, TUNNEL_OPEN);
	tt_free(x);

	/* one byte more across two fragments: 1009 at the second header */
	in.n = 0;
	vec_add(&msg, zero, 1);
	ws_frame(&in, WS_OP_BINARY, 0, msg.p, 100000, 1);
	ws_frame(&in, WS_OP_CONT, 1, msg.p + 100000, msg.n - 100000, 1);
	x = tt_new(WS_ROLE_SERVER);
	raw_send(x, in.p, in.n);
	for (i = 0; i < 10; i++) {
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	assert_int_equal(x->rr.closes, 1);
	assert_int_equal(x->rr.close_code, WS_CLOSE_TOO_BIG);
	tt_free(x);
	vec_free(&in);
	vec_free(&msg);
}

/* ---- closing ------------------------------------------------------------------- */

static void
test_close_handshake(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct vec out = { 0 };
	uint8_t cp[WS_MAX_CONTROL];
	size_t n;

	(void)state;
	assert_int_equal(tunnel_send(&x->t, FRAME_GOAWAY, 0, "\0\0", 2), 0);
	tunnel_close(&x->t, WS_CLOSE_GOING_AWAY, "going", 1000);
	assert_int_equal(x->t.state, TUNNEL_CLOSING);
	assert_int_equal(tunnel_send(&x->t, FRAME_EOF, 1, NULL, 0), -EPIPE); /* nothing after CLOSE */
	tt_spin(x);
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->rr.nf, 1); /* what was queued before CLOSE went first */
	assert_int_equal(x->rr.closes, 1);
	assert_int_equal(x->rr.close_code, WS_CLOSE_GOING_AWAY);
	tt_spin(x);
	assert_int_equal(x->closed, 0); /* waiting for the answer */
	n = ws_close_payload_encode(cp, WS_CLOSE_GOING_AWAY, "ok", 2);
	ws_frame(&out, WS_OP_CLOSE, 1, cp, n, 1);
	raw_send(x, out.p, out.n);
	assert_true(tt_run_until(x, cond_closed, 2000));
	tt_spin(x);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, WS_CLOSE_GOING_AWAY);
	assert_int_equal(x->t.peer_close_code, 0); /* the peer only answered ours */
	assert_string_equal(x->t.peer_close_reason, "");
	assert_int_equal(x->t.state, TUNNEL_CLOSED);
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->rr.eof, 1);                 /* the socket is closed */
	tunnel_close(&x->t, WS_CLOSE_NORMAL, NULL, 10); /* too late: nothing happens */
	tt_spin(x);
	assert_int_equal(x->closed, 1);
	vec_free(&out);
	tt_free(x);
}

/* Between two tunnels: both sides see one on_closed with the code. */
static void
test_close_handshake_pair(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct tt *peer = calloc(1, sizeof(*peer));
	struct tunnel *y = &peer->t;
	struct conn c;

	(void)state;
	assert_non_null(peer);
	/* the raw end becomes a client-role tunnel in the same loop */
	conn_init(&c, &x->r, x->raw, NULL);
	assert_int_equal(tunnel_init(y, &x->tl, &c, WS_ROLE_CLIENT, &tt_ops, peer, NULL, 0), 0);
	x->raw = -1;
	tunnel_close(&x->t, 4000, "app", 1000);
	assert_true(tt_run_until(x, cond_closed, 2000));
	tt_run_until(x, NULL, 20);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->close_code, 4000);
	assert_int_equal(peer->closed, 1);
	assert_int_equal(peer->close_code, 4000); /* the peer echoes the code */
	assert_int_equal(x->t.peer_close_code, 0);
	assert_int_equal(y->peer_close_code, 4000); /* and knows who closed */
	assert_string_equal(y->peer_close_reason, "app");
	tunnel_fini(y);
	vec_free(&peer->ctlp);
	vec_free(&peer->data);
	free(peer);
	tt_free(x);
}

static void
test_close_timeout(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);

	(void)state;
	tunnel_close(&x->t, WS_CLOSE_NORMAL, "bye", 50);
	tt_run_until(x, NULL, 20);
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->rr.closes, 1);
	assert_int_equal(x->closed, 0);
	assert_true(tt_run_until(x, cond_closed, 2000));
	assert_int_equal(x->close_code, WS_CLOSE_NORMAL);
	tt_free(x);
}

/* The peer closes first: we echo its code and end when it hangs up;
 * its code and reason are kept for the owner. */
static void
test_peer_closes(void **state)
{
	static const struct {
		unsigned sent, echoed, seen;
		const char *reason;
	} cases[] = { { 1001, 1001, 1001, "" },
		      { 0, WS_CLOSE_NORMAL, WS_CLOSE_NO_STATUS, "" },
		      { 4000, 4000, 4000, "laptop asleep" } };
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		struct tt *x = tt_new(WS_ROLE_SERVER);
		struct vec out = { 0 };
		uint8_t cp[WS_MAX_CONTROL];
		size_t n =
			ws_close_payload_encode(cp, cases[i].sent, cases[i].reason, strlen(cases[i].reason));

		ws_frame(&out, WS_OP_CLOSE, 1, cp, n, 1);
		raw_send(x, out.p, out.n);
		tt_spin(x);
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
		assert_int_equal(x->rr.closes, 1);
		assert_int_equal(x->rr.close_code, cases[i].echoed);
		assert_int_equal(x->rr.eof, 1); /* and shut down its write side */
		close(x->raw);
		x->raw = -1;
		assert_true(tt_run_until(x, cond_closed, 2000));
		assert_int_equal(x->closed, 1);
		assert_int_equal(x->close_code, cases[i].echoed);
		assert_int_equal(x->t.peer_close_code, cases[i].seen);
		assert_string_equal(x->t.peer_close_reason, cases[i].reason);
		vec_free(&out);
		tt_free(x);
	}
}

/* The peer hangs up without a CLOSE: 1006, and no peer close recorded. */
static void
test_peer_vanishes(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);

	(void)state;
	close(x->raw);
	x->raw = -1;
	assert_true(tt_run_until(x, cond_closed, 2000));
	assert_int_equal(x->close_code, WS_CLOSE_ABNORMAL);
	assert_int_equal(x->t.peer_close_code, 0);
	assert_string_equal(x->t.peer_close_reason, "");
	tt_free(x);
}

/* A PING the peer sent before it saw our CLOSE must not turn a clean close into 1006. */
static void
test_ping_while_closing(void **state)
{
	struct tt *x;
	struct vec out = { 0 };
	uint8_t cp[WS_MAX_CONTROL];
	size_t n;

	(void)state;
	x = tt_new(WS_ROLE_SERVER);
	tunnel_close(&x->t, WS_CLOSE_NORMAL, "bye", 1000);
	tt_spin(x);
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->rr.closes, 1);
	/* the PING was on its way (its own read), the CLOSE answer follows */
	ws_frame(&out, WS_OP_PING, 1, "late", 4, 1);
	raw_send(x, out.p, out.n);
	tt_spin(x);
	tt_spin(x);
	out.n = 0;
	n = ws_close_payload_encode(cp, WS_CLOSE_NORMAL, NULL, 0);
	ws_frame(&out, WS_OP_CLOSE, 1, cp, n, 1);
	if (x->t.state != TUNNEL_CLOSED)
		raw_send(x, out.p, out.n);
	assert_true(tt_run_until(x, cond_closed, 2000));
	assert_int_equal(x->close_code, WS_CLOSE_NORMAL);
	vec_free(&out);
	tt_free(x);
}

/* ---- memory: the arena and replies ---------------------------------------------- */

/*
 * The output queue never empties (a DATA frame is always waiting) while
 * thousands of WINDOWs pass through the arena: written bytes are given
 * back, so the arena stays the size of what is queued. Client role, so
 * the arena bytes are masked in place too.
 */
static void
test_arena_bounded_busy_queue(void **state)
{
	struct tt *x = tt_new(WS_ROLE_CLIENT);
	int sndbuf = 4096, rounds = 0, empty = 0;
	uint32_t k = 0, nwin = 0;
	size_t total = 0, i;

	(void)state;
	assert_int_equal(setsockopt(x->t.conn.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	fill_big(3);
	while (k < 1000) {
		while (x->t.queued_bytes < 48 * 1024 && k < 1000) {
			uint8_t *copy = malloc(4096);

			assert_non_null(copy);
			memcpy(copy, big, 4096);
			assert_int_equal(tunnel_send_data(&x->t, 3, copy, 4096, free_done, copy), 0);
			total += 4096;
			for (i = 0; i < 5; i++, nwin++)
				assert_int_equal(tunnel_send_window(&x->t, 9, nwin + 1), 0);
			k++;
		}
		tt_spin(x);
		if (x->t.qlen == 0)
			empty++;
		rr_read(&x->rr, x->raw, 8192);
		assert_int_equal(x->rr.failed, 0);
		assert_true(++rounds < 100000);
	}
	assert_int_equal(empty, 0); /* the queue really stayed busy */
	/* 5,000 WINDOWs went through: 65,000 bytes if none were given back */
	assert_true(buf_cap(&x->t.arena) <= 16 * 1024);
	/* drain: every frame intact and in order */
	for (i = 0; i < 100000 && x->t.qlen > 0; i++) {
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	rr_read(&x->rr, x->raw, 0);
	assert_int_equal(x->t.qlen, 0);
	assert_int_equal(x->rr.data.n, total);
	assert_int_equal(x->rr.ctl.n, (size_t)nwin * FRAME_WINDOW_LEN);
	for (i = 0; i < nwin; i++) {
		uint32_t inc;

		assert_int_equal(
			frame_window_decode(x->rr.ctl.p + i * FRAME_WINDOW_LEN, FRAME_WINDOW_LEN, &inc),
			FRAME_CODE_NO_ERROR);
		assert_int_equal(inc, i + 1);
	}
	for (i = 0; i < x->rr.nf; i++)
		assert_int_equal(x->rr.f[i].bad, 0);
	tt_free(x);
}

/* A raw peer that sends PINGs (WebSocket or tunnel) and reads nothing. */
static size_t
ping_flood(struct tt *x, int tunnel_pings, size_t limit)
{
	struct vec one = { 0 }, burst = { 0 };
	uint8_t payload[125];
	size_t sent = 0;
	int i;

	memset(payload, 'p', sizeof(payload));
	if (tunnel_pings) {
		struct vec msg = { 0 };

		for (i = 0; i < 64; i++)
			tframe(&msg, FRAME_PING, 0, "12345678", 8);
		ws_frame(&one, WS_OP_BINARY, 1, msg.p, msg.n, 1);
		vec_free(&msg);
	} else {
		ws_frame(&one, WS_OP_PING, 1, payload, sizeof(payload), 1);
	}
	for (i = 0; i < 64; i++)
		vec_add(&burst, one.p, one.n);
	while (!x->closed && sent < limit) {
		ssize_t k = send(x->raw, burst.p, burst.n, MSG_NOSIGNAL);

		if (k > 0)
			sent += (size_t)k;
		tt_spin(x);
	}
	vec_free(&one);
	vec_free(&burst);
	return sent;
}

static void
t_echo_ping(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	if (type == FRAME_PING)
		assert_int_equal(tunnel_send(t, FRAME_PONG, sid, p, n), 0);
	t_control(t, type, sid, p, n);
}

static const struct tunnel_ops tt_echo_ops = {
	.on_control = t_echo_ping,
	.on_data = t_data,
	.on_closed = t_closed,
	.on_input_end = t_input_end,
};

/*
 * Replies the peer never reads are bounded: past reply_max the tunnel is
 * cut off with 1008, for WebSocket PINGs and for tunnel PINGs answered by
 * the owner alike, and the arena never held much more than reply_max.
 */
static void
test_reply_flood_cut_off(void **state)
{
	int sndbuf = 4096, kind;

	(void)state;
	for (kind = 0; kind < 2; kind++) {
		struct tt *x = tt_new(WS_ROLE_SERVER);
		size_t sent;

		if (kind)
			x->t.ops = &tt_echo_ops;
		x->t.reply_max = 64 * 1024;
		assert_int_equal(setsockopt(x->t.conn.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
		sent = ping_flood(x, kind, 256u << 20);
		assert_true(tt_run_until(x, cond_closed, 2000));
		assert_int_equal(x->close_code, WS_CLOSE_POLICY);
		assert_true(sent < (64u << 20));
		assert_true(buf_cap(&x->t.arena) <= 4 * 64 * 1024);
		assert_int_equal(x->t.qlen, 0);
		tt_free(x);
	}
}

/* A WINDOW releases 4 MiB of DATA (64 frames of 64 KiB) from within the input. */
static void
t_window_sends_data(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	int i;

	if (type == FRAME_WINDOW)
		for (i = 0; i < 64; i++)
			assert_int_equal(tunnel_send_data(t, 5, big, FRAME_MAX_PAYLOAD, NULL, NULL), 0);
	t_control(t, type, sid, p, n);
}

static const struct tunnel_ops tt_window_ops = {
	.on_control = t_window_sends_data,
	.on_data = t_data,
	.on_closed = t_closed,
	.on_input_end = t_input_end,
};

/*
 * DATA queued while input is processed is no reply: credit bounds it. A
 * credit update that releases 4 MiB (4 x reply_max) at once, from a peer
 * that reads everything, must not cut the tunnel.
 */
static void
test_data_is_no_reply(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct vec msg = { 0 }, in = { 0 };
	uint8_t w[FRAME_WINDOW_LEN];
	int i;

	(void)state;
	x->t.ops = &tt_window_ops;
	fill_big(5);
	frame_window_encode(w, 1u << 22);
	tframe(&msg, FRAME_WINDOW, 0, w, sizeof(w));
	ws_frame(&in, WS_OP_BINARY, 1, msg.p, msg.n, 1);
	raw_send(x, in.p, in.n);
	for (i = 0; i < 100000 && x->rr.data.n < 64u * FRAME_MAX_PAYLOAD && !x->closed; i++) {
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	assert_int_equal(x->closed, 0);
	assert_int_equal(x->rr.data.n, 64u * FRAME_MAX_PAYLOAD);
	assert_int_equal(x->t.reply_bytes, 0);
	vec_free(&msg);
	vec_free(&in);
	tt_free(x);
}

/* A peer that reads its replies, even in bursts, is never cut off. */
static void
test_replies_read_not_cut(void **state)
{
	struct tt *x = tt_new(WS_ROLE_SERVER);
	struct vec burst = { 0 };
	uint8_t payload[125];
	unsigned i, n;

	(void)state;
	memset(payload, 'q', sizeof(payload));
	for (n = 0; burst.n < 64 * 1024; n++)
		ws_frame(&burst, WS_OP_PING, 1, payload, sizeof(payload), 1);
	/* 8 MiB of PINGs, 8 times reply_max, read after each 64 KiB burst */
	for (i = 0; i < 128; i++) {
		raw_send(x, burst.p, burst.n);
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	for (i = 0; i < 1000 && x->rr.pongs < 128 * n; i++) {
		tt_spin(x);
		rr_read(&x->rr, x->raw, 0);
	}
	assert_int_equal(x->closed, 0);
	assert_int_equal(x->rr.pongs, 128 * n);
	assert_memory_equal(x->rr.pong, payload, sizeof(payload));
	assert_int_equal(x->t.reply_bytes, 0);
	vec_free(&burst);
	tt_free(x);
}

/* ---- bytes that came with the handshake ------------------------------------------ */

static void
test_pre_bytes(void **state)
{
	struct vec msg = { 0 }, in = { 0 };
	struct tt *x;
	size_t cut;

	(void)state;
	tframe(&msg, FRAME_HELLO, 0, "{\"version\":\"hoody-tunnel.v1\"}", 29);
	tframe(&msg, FRAME_BIND, 0, "{}", 2);
	ws_frame(&in, WS_OP_BINARY, 1, msg.p, msg.n, 1);
	/* the whole message came with the handshake; the socket stays silent */
	x = tt_new_pre(WS_ROLE_SERVER, in.p, in.n, NULL, 0);
	tt_run_until(x, NULL, 30);
	assert_int_equal(x->nctl, 2);
	assert_int_equal(x->ctl[0].type, FRAME_HELLO);
	assert_int_equal(x->ctl[1].type, FRAME_BIND);
	tt_free(x);
	/* part came with the handshake, the rest later from the socket, at every cut */
	for (cut = 1; cut < in.n; cut++) {
		x = tt_new_pre(WS_ROLE_SERVER, in.p, cut, NULL, 0);
		tt_spin(x);
		raw_send(x, in.p + cut, in.n - cut);
		tt_run_until(x, NULL, 2);
		tt_spin(x);
		assert_int_equal(x->nctl, 2);
		assert_int_equal(x->ctl[1].type, FRAME_BIND);
		assert_memory_equal(x->ctlp.p, "{\"version\":\"hoody-tunnel.v1\"}{}", 31);
		tt_free(x);
	}
	vec_free(&msg);
	vec_free(&in);
}

/* The socket already holds more when the tunnel starts outside the loop (htc connects before running it). */
static void
test_pre_bytes_then_socket(void **state)
{
	struct vec msg = { 0 }, in = { 0 };
	struct tt *x;
	size_t cut;

	(void)state;
	tframe(&msg, FRAME_HELLO, 0, "{\"version\":\"hoody-tunnel.v1\"}", 29);
	tframe(&msg, FRAME_BIND, 0, "{}", 2);
	ws_frame(&in, WS_OP_BINARY, 1, msg.p, msg.n, 1);
	for (cut = 1; cut < in.n; cut += 7) {
		x = tt_new_pre(WS_ROLE_SERVER, in.p, cut, in.p + cut, in.n - cut);
		tt_run_until(x, NULL, 2);
		tt_spin(x);
		assert_int_equal(x->t.state, TUNNEL_OPEN);
		assert_int_equal(x->nctl, 2);
		assert_memory_equal(x->ctlp.p, "{\"version\":\"hoody-tunnel.v1\"}{}", 31);
		tt_free(x);
	}
	vec_free(&msg);
	vec_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batching_small_frames), cmocka_unit_test(test_batching_large_frames),
		cmocka_unit_test(test_batching_random_sizes), cmocka_unit_test(test_client_masks),
		cmocka_unit_test(test_mask_without_random),   cmocka_unit_test(test_done_after_write),
		cmocka_unit_test(test_done_on_abort),         cmocka_unit_test(test_done_on_fini),
		cmocka_unit_test(test_partial_writes),        cmocka_unit_test(test_input_all_ways),
		cmocka_unit_test(test_text_closes_1003),      cmocka_unit_test(test_65_frames_closes_1002),
		cmocka_unit_test(test_too_big_closes_1009),   cmocka_unit_test(test_close_handshake),
		cmocka_unit_test(test_close_handshake_pair),  cmocka_unit_test(test_close_timeout),
		cmocka_unit_test(test_peer_closes),           cmocka_unit_test(test_peer_vanishes),
		cmocka_unit_test(test_ping_while_closing),    cmocka_unit_test(test_arena_bounded_busy_queue),
		cmocka_unit_test(test_reply_flood_cut_off),   cmocka_unit_test(test_replies_read_not_cut),
		cmocka_unit_test(test_data_is_no_reply),      cmocka_unit_test(test_pre_bytes),
		cmocka_unit_test(test_pre_bytes_then_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
