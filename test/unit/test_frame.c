/*
 * test_frame.c: the tunnel frame codec.
 *
 * Encoders against hand-written bytes, decoders on good and bad payloads,
 * the batch reader fed every message whole, byte by byte, split at every
 * offset and in three pieces (guard-page buffers from feed.h), each error
 * the protocol names, and the batch planner against both message limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "feed.h"
#include "frame.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t
rng(void)
{
	return (uint32_t)(testdata_next(&rng_state) >> 16);
}

/* A frame of a test message; payload byte i is pat(seed, i). */
struct tframe {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	uint8_t seed;
};

static uint8_t
pat(uint8_t seed, size_t i)
{
	return (uint8_t)(seed + i * 7 + (i >> 8));
}

static int
is_skipped(uint8_t type)
{
	return type >= FRAME_EXT_FIRST && type <= FRAME_EXT_LAST && !frame_type_known(type);
}

static size_t
build_msg(const struct tframe *f, size_t nf, uint8_t *out)
{
	size_t off = 0, i, k;

	for (i = 0; i < nf; i++) {
		frame_header_encode(out + off, f[i].type, f[i].sid, f[i].len);
		off += FRAME_HEADER_LEN;
		for (k = 0; k < f[i].len; k++)
			out[off + k] = pat(f[i].seed, k);
		off += f[i].len;
	}
	return off;
}

static size_t
msg_size(const struct tframe *f, size_t nf)
{
	size_t n = 0, i;

	for (i = 0; i < nf; i++)
		n += FRAME_HEADER_LEN + f[i].len;
	return n;
}

/*
 * feed_piece() for the long byte-by-byte runs: one mapping, made once,
 * whose page ends at a PROT_NONE guard page. Each piece is copied against
 * the guard and poisoned after the call, so a reader that kept a pointer
 * into an old chunk reports poison and fails the content check. (One
 * mmap per byte of a 256 KiB message costs seconds of system time.)
 */
static void
feed_piece_reuse(void *ctx, feed_chunk_fn chunk, const uint8_t *p, size_t n)
{
	static struct feed_guard g;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n > page) {
		feed_piece(ctx, chunk, p, n);
		return;
	}
	if (g.map == NULL) {
		uint8_t zero[1] = { 0 };

		assert_int_equal(feed_guard_make(&g, zero, 1), 0);
		assert_int_equal(g.maplen, 2 * page);
	}
	memcpy(g.map + page - n, p, n);
	chunk(ctx, g.map + page - n, n);
	memset(g.map + page - n, 0xA5, n);
}

/* ---- the collecting consumer --------------------------------------------- */

struct rx_frame {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	uint32_t have;
	uint8_t *payload;
};

#define RX_MAX 80

struct rx {
	struct frame_reader r;
	size_t total; /* bytes in the whole message */
	size_t fed;   /* bytes handed over so far */
	int failed;
	int msg_ends;
	int in_data; /* a DATA frame is being assembled in frames[nframes - 1] */
	size_t nframes;
	struct rx_frame frames[RX_MAX];
	size_t zero_copy; /* CONTROL payloads that pointed into the chunk */
	size_t copied;    /* CONTROL payloads that pointed into the reader's buffer */

	/* expectation */
	const struct tframe *want;
	size_t nwant;
	int want_err; /* 0: success expected */
	int want_ws;
};

static void
rx_clear(struct rx *x)
{
	size_t i;

	for (i = 0; i < x->nframes; i++)
		free(x->frames[i].payload);
	x->nframes = 0;
	x->failed = 0;
	x->msg_ends = 0;
	x->in_data = 0;
	x->fed = 0;
	x->zero_copy = 0;
	x->copied = 0;
}

static void
rx_reset(void *ctx)
{
	struct rx *x = ctx;

	rx_clear(x);
	frame_reader_fini(&x->r);
	frame_reader_init(&x->r);
}

static struct rx_frame *
rx_new_frame(struct rx *x, uint8_t type, uint32_t sid, uint32_t len)
{
	struct rx_frame *f;

	assert_true(x->nframes < RX_MAX);
	f = &x->frames[x->nframes++];
	f->type = type;
	f->sid = sid;
	f->len = len;
	f->have = 0;
	f->payload = malloc(len ? len : 1);
	assert_non_null(f->payload);
	return f;
}

static void
rx_control(struct rx *x, const struct frame_event *ev, const uint8_t *p, size_t n)
{
	struct rx_frame *f;

	assert_false(x->in_data);
	if (ev->len > 0 && ev->payload >= p && ev->payload + ev->len <= p + n)
		x->zero_copy++;
	else if (ev->len > 0) {
		assert_ptr_equal(ev->payload, x->r.acc);
		x->copied++;
	}
	f = rx_new_frame(x, ev->frame_type, ev->stream_id, ev->len);
	memcpy(f->payload, ev->payload, ev->len);
	f->have = ev->len;
}

static void
rx_data(struct rx *x, const struct frame_event *ev, const uint8_t *p, size_t n)
{
	struct rx_frame *f;

	assert_int_equal(ev->frame_type, FRAME_DATA);
	assert_true(ev->payload >= p && ev->payload + ev->len <= p + n);
	assert_true(ev->len > 0 || ev->frame_len == 0);
	if (ev->frame_start) {
		assert_false(x->in_data);
		rx_new_frame(x, FRAME_DATA, ev->stream_id, ev->frame_len);
		x->in_data = 1;
	}
	assert_true(x->in_data);
	f = &x->frames[x->nframes - 1];
	assert_int_equal(f->sid, ev->stream_id);
	assert_int_equal(f->len, ev->frame_len);
	assert_true(f->have + ev->len <= f->len);
	memcpy(f->payload + f->have, ev->payload, ev->len);
	f->have += ev->len;
	if (ev->frame_end) {
		assert_int_equal(f->have, f->len);
		x->in_data = 0;
	}
}

/* Feed one chunk; msg_end when it is the last of the message. */
static void
rx_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct rx *x = ctx;
	int msg_end;
	struct frame_event ev;

	x->fed += n;
	msg_end = x->fed == x->total;
	if (x->failed) {
		assert_int_equal(frame_reader_feed(&x->r, p, n, msg_end, &ev), HT_ERROR);
		return;
	}
	for (;;) {
		ssize_t k = frame_reader_feed(&x->r, p, n, msg_end, &ev);

		if (k < 0) {
			assert_int_equal(k, HT_ERROR);
			x->failed = 1;
			return;
		}
		assert_true((size_t)k <= n);
		if (ev.type == FRAME_EV_CONTROL)
			rx_control(x, &ev, p, n);
		else if (ev.type == FRAME_EV_DATA)
			rx_data(x, &ev, p, n);
		p += k;
		n -= (size_t)k;
		if (ev.type == FRAME_EV_NONE) {
			assert_int_equal(n, 0);
			assert_false(msg_end);
			return;
		}
		if (ev.type == FRAME_EV_MESSAGE_END) {
			assert_int_equal(n, 0);
			assert_true(msg_end);
			x->msg_ends++;
			return;
		}
	}
}

/* The collected frames equal the non-skipped input frames, in order. */
static void
rx_check_frames(const struct rx *x)
{
	size_t i, j = 0, k;

	for (i = 0; i < x->nwant; i++) {
		const struct tframe *w = &x->want[i];
		const struct rx_frame *f;

		if (is_skipped(w->type))
			continue;
		assert_true(j < x->nframes);
		f = &x->frames[j++];
		assert_int_equal(f->type, w->type);
		assert_int_equal(f->sid, w->sid);
		assert_int_equal(f->len, w->len);
		assert_int_equal(f->have, w->len);
		for (k = 0; k < w->len; k++)
			if (f->payload[k] != pat(w->seed, k))
				fail_msg("frame %zu byte %zu differs", i, k);
	}
	assert_int_equal(j, x->nframes);
}

static void
rx_check(void *ctx)
{
	struct rx *x = ctx;

	assert_int_equal(x->fed, x->total);
	if (x->want_err) {
		assert_true(x->failed);
		assert_int_equal(x->r.err, x->want_err);
		assert_int_equal(x->r.ws_close_code, x->want_ws);
		assert_true(x->r.reason[0] != '\0');
		assert_int_equal(x->msg_ends, 0);
		return;
	}
	if (x->failed)
		fail_msg("unexpected error %d (%s)", x->r.err, x->r.reason);
	assert_int_equal(x->msg_ends, 1);
	assert_false(x->in_data);
	rx_check_frames(x);
}

static void
rx_setup(struct rx *x, const struct tframe *want, size_t nwant, size_t total, int err, int ws)
{
	memset(x, 0, sizeof(*x));
	frame_reader_init(&x->r);
	x->want = want;
	x->nwant = nwant;
	x->total = total;
	x->want_err = err;
	x->want_ws = ws;
}

static void
rx_teardown(struct rx *x)
{
	rx_clear(x);
	frame_reader_fini(&x->r);
}

/* Three pieces at every pair of cut points (small messages). */
static void
feed_three_ways(const uint8_t *msg, size_t n, struct rx *x)
{
	size_t i, j;

	for (i = 1; i + 1 < n; i++) {
		for (j = i + 1; j < n; j++) {
			rx_reset(x);
			feed_piece(x, rx_chunk, msg, i);
			feed_piece(x, rx_chunk, msg + i, j - i);
			feed_piece(x, rx_chunk, msg + j, n - j);
			rx_check(x);
		}
	}
}

/* Pieces ending at the given ascending cut points (0 < cut < n). */
static void
feed_cuts(const uint8_t *msg, size_t n, struct rx *x, const size_t *cuts, size_t ncuts)
{
	size_t i, at = 0;

	rx_reset(x);
	for (i = 0; i < ncuts; i++) {
		feed_piece(x, rx_chunk, msg + at, cuts[i] - at);
		at = cuts[i];
	}
	feed_piece(x, rx_chunk, msg + at, n - at);
	rx_check(x);
}

/* Whole / byte by byte / two pieces everywhere, and three for small ones. */
static void
run_all_ways(const struct tframe *f, size_t nf, int err, int ws)
{
	size_t n = msg_size(f, nf);
	uint8_t *msg = malloc(n ? n : 1);
	struct rx x;

	assert_non_null(msg);
	build_msg(f, nf, msg);
	rx_setup(&x, f, nf, n, err, ws);
	feed_all_ways(msg, n, &x, rx_reset, rx_chunk, rx_check);
	if (n <= 80)
		feed_three_ways(msg, n, &x);
	rx_teardown(&x);
	free(msg);
}

/* ---- encoders and decoders --------------------------------------------- */

static void
test_header_encode_decode(void **state)
{
	static const uint8_t want[9] = { 0x12, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x00, 0x00 };
	uint8_t out[9];
	struct frame_header h;

	(void)state;
	frame_header_encode(out, FRAME_DATA, 0xDEADBEEFu, 65536);
	assert_memory_equal(out, want, 9);
	frame_header_decode(out, &h);
	assert_int_equal(h.type, FRAME_DATA);
	assert_int_equal(h.stream_id, 0xDEADBEEFu);
	assert_int_equal(h.len, 65536);

	frame_header_encode(out, 0xFF, 0xFFFFFFFFu, 0xFFFFFFFFu);
	frame_header_decode(out, &h);
	assert_int_equal(h.type, 0xFF);
	assert_int_equal(h.stream_id, 0xFFFFFFFFu);
	assert_int_equal(h.len, 0xFFFFFFFFu);
}

/* A whole frame (header, then payload) at out; its length. */
static size_t
put_frame(uint8_t *out, uint8_t type, uint32_t stream_id, const void *payload, size_t len)
{
	frame_header_encode(out, type, stream_id, (uint32_t)len);
	if (len)
		memcpy(out + FRAME_HEADER_LEN, payload, len);
	return FRAME_HEADER_LEN + len;
}

/* WINDOW(7, 65536) on the wire: header, then the u32 increment. */
static void
test_window_frame_bytes(void **state)
{
	static const uint8_t want[] = { 0x15, 0, 0, 0, 7, 0, 0, 0, 4, 0, 1, 0, 0 };
	uint8_t inc[4], out[32];

	(void)state;
	frame_window_encode(inc, 65536);
	assert_int_equal(put_frame(out, FRAME_WINDOW, 7, inc, sizeof(inc)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(put_frame(out, FRAME_EOF, 3, NULL, 0), 9);
	assert_int_equal(out[0], FRAME_EOF);
}

static void
test_code_encode(void **state)
{
	static const uint8_t want[] = { 0x00, 0x0D, 't', 'a', 'k', 'e', 'n' };
	uint8_t out[80000];
	char *longr;
	size_t n;

	(void)state;
	n = frame_code_encode(out, sizeof(out), FRAME_CODE_BIND_TAKEOVER, "taken");
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(frame_code_encode(out, sizeof(out), 7, NULL), 2);
	assert_int_equal(out[1], 7);
	assert_int_equal(frame_code_encode(out, 1, 7, "x"), 0);
	assert_int_equal(frame_code_encode(out, 2, 7, "x"), 2);

	/* "a" U+00E9 U+1F600: cuts fall on character boundaries only */
	assert_int_equal(frame_code_encode(out, 4, 1, "a\xC3\xA9\xF0\x9F\x98\x80"), 3);
	assert_int_equal(frame_code_encode(out, 5, 1, "a\xC3\xA9\xF0\x9F\x98\x80"), 5);
	assert_int_equal(frame_code_encode(out, 8, 1, "a\xC3\xA9\xF0\x9F\x98\x80"), 5);
	assert_int_equal(frame_code_encode(out, 9, 1, "a\xC3\xA9\xF0\x9F\x98\x80"), 9);
	assert_memory_equal(out + 2, "a\xC3\xA9\xF0\x9F\x98\x80", 7);
	/* invalid UTF-8 from the caller is cut where it starts */
	assert_int_equal(frame_code_encode(out, sizeof(out), 1, "ok\xFFno"), 4);

	/* never more than one frame's payload */
	longr = malloc(70001);
	assert_non_null(longr);
	memset(longr, 'r', 70000);
	longr[70000] = '\0';
	assert_int_equal(frame_code_encode(out, sizeof(out), 2, longr), FRAME_MAX_PAYLOAD);
	free(longr);
}

static void
test_code_decode(void **state)
{
	struct frame_code_payload c;
	static const uint8_t ok[] = { 0x00, 0x0E, 'f', 'u', 'l', 'l', 0xF0, 0x9F, 0x98, 0x80 };
	static const struct {
		const char *p;
		size_t n, valid;
	} bad[] = {
		{ "\x00\x01"
		  "ab\xC0\x80",
		  6, 2 }, /* overlong NUL */
		{ "\x00\x01"
		  "ab\xED\xA0\x80",
		  7, 2 }, /* surrogate */
		{ "\x00\x01"
		  "ab\xF4\x90\x80\x80",
		  8, 2 }, /* above U+10FFFF */
		{ "\x00\x01"
		  "ab\xF5\x80\x80\x80",
		  8, 2 },
		{ "\x00\x01"
		  "ab\xE2\x82",
		  6, 2 }, /* cut by the end */
		{ "\x00\x01"
		  "\x80",
		  3, 0 }, /* lone continuation */
		{ "\x00\x01"
		  "ab\xE0\x80\xAF",
		  7, 2 }, /* overlong 3-byte */
		{ "\x00\x01"
		  "ab\xE2\x28\xA1",
		  7, 2 }, /* bad continuation */
	};
	size_t i;

	(void)state;
	assert_int_equal(frame_code_decode(ok, sizeof(ok), &c), FRAME_CODE_NO_ERROR);
	assert_int_equal(c.code, FRAME_CODE_RESOURCE_EXHAUSTED);
	assert_int_equal(c.reason_len, 8);
	assert_memory_equal(c.reason, "full\xF0\x9F\x98\x80", 8);
	assert_false(c.reason_cut);

	assert_int_equal(frame_code_decode(ok, 2, &c), FRAME_CODE_NO_ERROR);
	assert_int_equal(c.reason_len, 0);
	assert_int_equal(frame_code_decode(ok, 1, &c), FRAME_CODE_FRAME_SIZE_ERROR);
	assert_int_equal(frame_code_decode(ok, 0, &c), FRAME_CODE_FRAME_SIZE_ERROR);

	for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
		assert_int_equal(frame_code_decode((const uint8_t *)bad[i].p, bad[i].n, &c), 0);
		assert_int_equal(c.code, 1);
		assert_int_equal(c.reason_len, bad[i].valid);
		assert_true(c.reason_cut);
	}
	/* an unknown code is passed through, the name says so */
	assert_int_equal(frame_code_decode((const uint8_t *)"\xFF\xFF", 2, &c), 0);
	assert_int_equal(c.code, 0xFFFF);
	assert_string_equal(frame_code_name(c.code), "UNKNOWN");
}

static void
test_window_ping(void **state)
{
	uint8_t w[5], p[9];
	uint32_t inc = 99;
	uint64_t nonce = 0;

	(void)state;
	frame_window_encode(w, 0x7FFFFFFFu);
	assert_memory_equal(w, "\x7F\xFF\xFF\xFF", 4);
	assert_int_equal(frame_window_decode(w, 4, &inc), FRAME_CODE_NO_ERROR);
	assert_int_equal(inc, 0x7FFFFFFFu);
	frame_window_encode(w, 0);
	assert_int_equal(frame_window_decode(w, 4, &inc), FRAME_CODE_PROTOCOL_ERROR);
	assert_int_equal(frame_window_decode(w, 3, &inc), FRAME_CODE_FRAME_SIZE_ERROR);
	assert_int_equal(frame_window_decode(w, 5, &inc), FRAME_CODE_FRAME_SIZE_ERROR);
	frame_window_encode(w, 1);
	assert_int_equal(frame_window_decode(w, 4, &inc), FRAME_CODE_NO_ERROR);
	assert_int_equal(inc, 1);

	frame_ping_encode(p, 0x0102030405060708ull);
	assert_memory_equal(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(frame_ping_decode(p, 8, &nonce), FRAME_CODE_NO_ERROR);
	assert_true(nonce == 0x0102030405060708ull);
	frame_ping_encode(p, UINT64_MAX);
	assert_int_equal(frame_ping_decode(p, 8, &nonce), FRAME_CODE_NO_ERROR);
	assert_true(nonce == UINT64_MAX);
	assert_int_equal(frame_ping_decode(p, 7, &nonce), FRAME_CODE_FRAME_SIZE_ERROR);
	assert_int_equal(frame_ping_decode(p, 9, &nonce), FRAME_CODE_FRAME_SIZE_ERROR);
	assert_int_equal(frame_ping_decode(p, 0, &nonce), FRAME_CODE_FRAME_SIZE_ERROR);
}

static void
test_names(void **state)
{
	static const uint8_t known[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
					 0x0A, 0x0B, 0x0C, 0x0D, 0x10, 0x12, 0x13, 0x14, 0x15,
					 0x16, 0x20, 0x21, 0x30, 0x40, 0x41, 0x42, 0x43 };
	unsigned t;
	size_t i, count = 0;

	(void)state;
	assert_string_equal(frame_code_name(FRAME_CODE_NO_ERROR), "NO_ERROR");
	assert_string_equal(frame_code_name(FRAME_CODE_FLOW_CONTROL_ERROR), "FLOW_CONTROL_ERROR");
	assert_string_equal(frame_code_name(FRAME_CODE_BIND_TAKEOVER), "BIND_TAKEOVER");
	assert_string_equal(frame_code_name(FRAME_CODE_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	assert_string_equal(frame_code_name(15), "UNKNOWN");
	for (t = 0; t < FRAME_CODE_MAX; t++)
		assert_string_not_equal(frame_code_name(t), "UNKNOWN");

	assert_string_equal(frame_type_name(FRAME_DATA), "DATA");
	assert_string_equal(frame_type_name(FRAME_HELLO), "HELLO");
	assert_string_equal(frame_type_name(FRAME_STREAM_RESPONSE_HEAD), "STREAM_RESPONSE_HEAD");
	assert_string_equal(frame_type_name(FRAME_BIND_REVOKED), "BIND_REVOKED");
	assert_string_equal(frame_type_name(FRAME_FORWARD_OPEN), "FORWARD_OPEN");
	assert_string_equal(frame_type_name(FRAME_FORWARD_OK), "FORWARD_OK");
	assert_string_equal(frame_type_name(FRAME_FORWARD_ERR), "FORWARD_ERR");
	assert_string_equal(frame_type_name(0x44), "UNKNOWN");
	assert_string_equal(frame_type_name(0x80), "UNKNOWN");
	assert_string_equal(frame_type_name(100000), "UNKNOWN");
	for (t = 0; t < 256; t++) {
		int k = frame_type_known((uint8_t)t);

		count += (size_t)k;
		for (i = 0; i < sizeof(known) && known[i] != t; i++)
			;
		assert_int_equal(k, i < sizeof(known));
		assert_int_equal(k, strcmp(frame_type_name(t), "UNKNOWN") != 0);
	}
	assert_int_equal(count, sizeof(known));
}

/* ---- reader: accepted messages ------------------------------------------ */

/* The forward extension on the wire (doc/FORWARD.md): a client stream id, JSON payloads. */
static void
test_forward_frames(void **state)
{
	static const char open_js[] = "{\"host\":\"db\",\"port\":5432}";
	static const uint8_t want_open[] = { 0x41, 0x80, 0,   0,   1,   0,   0,   0,   25,  '{', '"', 'h',
					     'o',  's',  't', '"', ':', '"', 'd', 'b', '"', ',', '"', 'p',
					     'o',  'r',  't', '"', ':', '5', '4', '3', '2', '}' };
	static const uint8_t want_ok_hdr[] = { 0x42, 0x80, 0, 0, 1, 0, 0, 0, 28 };
	static const uint8_t want_err_hdr[] = { 0x43, 0x80, 0, 0, 2, 0, 0, 0, 0x30 };
	static const struct tframe fw[] = { { FRAME_FORWARD_OPEN, 0x80000001u, 25, 1 },
					    { FRAME_FORWARD_OK, 0x80000001u, 28, 2 },
					    { FRAME_FORWARD_ERR, 0x80000002u, 48, 3 } };
	uint8_t out[64];
	struct frame_header h;

	(void)state;
	assert_int_equal(put_frame(out, FRAME_FORWARD_OPEN, 0x80000001u, open_js, sizeof(open_js) - 1),
			 sizeof(want_open));
	assert_memory_equal(out, want_open, sizeof(want_open));
	frame_header_encode(out, FRAME_FORWARD_OK, 0x80000001u, 28);
	assert_memory_equal(out, want_ok_hdr, sizeof(want_ok_hdr));
	frame_header_encode(out, FRAME_FORWARD_ERR, 0x80000002u, 48);
	assert_memory_equal(out, want_err_hdr, sizeof(want_err_hdr));
	frame_header_decode(want_open, &h);
	assert_int_equal(h.type, FRAME_FORWARD_OPEN);
	assert_int_equal(h.stream_id, 0x80000001u);
	assert_true(frame_type_known(FRAME_FORWARD_OPEN));
	/* read like any frame, whole, byte by byte and split anywhere */
	run_all_ways(fw, 3, 0, 0);
}

static void
test_read_one_frame(void **state)
{
	static const struct tframe f1[] = { { FRAME_PING, 0, 8, 1 } };
	static const struct tframe f2[] = { { FRAME_DATA, 5, 1, 2 } };
	static const struct tframe f3[] = { { FRAME_DATA, 5, 0, 0 } };
	static const struct tframe f4[] = { { FRAME_EOF, 9, 0, 0 } };

	(void)state;
	run_all_ways(f1, 1, 0, 0);
	run_all_ways(f2, 1, 0, 0);
	run_all_ways(f3, 1, 0, 0);
	run_all_ways(f4, 1, 0, 0);
}

static void
test_read_two_frames(void **state)
{
	static const struct tframe a[] = { { FRAME_STREAM_OPEN, 1, 40, 3 }, { FRAME_DATA, 1, 17, 4 } };
	static const struct tframe b[] = { { FRAME_DATA, 3, 0, 0 }, { FRAME_EOF, 3, 0, 0 } };
	static const struct tframe c[] = { { 0x55, 0, 12, 5 }, { FRAME_WINDOW, 0, 4, 6 } };
	static const struct tframe d[] = { { FRAME_DATA, 1, 20, 7 }, { FRAME_DATA, 2, 1, 8 } };

	(void)state;
	run_all_ways(a, 2, 0, 0);
	run_all_ways(b, 2, 0, 0);
	run_all_ways(c, 2, 0, 0); /* the extension frame is skipped, the WINDOW reported */
	run_all_ways(d, 2, 0, 0);
}

/* 64 frames: control frames, DATA of 0, 1 and 65,536 bytes, extensions. */
static size_t
mixed_64(struct tframe *f)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		f[i].sid = (uint32_t)(i % 5);
		f[i].seed = (uint8_t)i;
		switch (i % 8) {
		case 0:
			f[i].type = FRAME_DATA;
			f[i].len = 0;
			break;
		case 1:
			f[i].type = FRAME_DATA;
			f[i].len = 1;
			break;
		case 2:
			f[i].type = FRAME_WINDOW;
			f[i].len = 4;
			break;
		case 3:
			f[i].type = FRAME_BIND_REVOKED;
			f[i].len = 30;
			break;
		case 4:
			f[i].type = 0x7F;
			f[i].len = 6;
			break;
		case 5:
			f[i].type = FRAME_EOF;
			f[i].len = 0;
			break;
		case 6:
			f[i].type = FRAME_DATA;
			f[i].len = 300;
			break;
		default:
			f[i].type = FRAME_RESET;
			f[i].len = 9;
			break;
		}
	}
	f[10].type = FRAME_DATA; /* the largest DATA */
	f[10].len = 65536;
	f[11].type = FRAME_HELLO_OK; /* a control payload of the maximum size */
	f[11].len = 65536;
	f[20].type = 0x41; /* a large skipped extension */
	f[20].len = 40000;
	return 64;
}

static void
test_read_64_frames(void **state)
{
	struct tframe f[64];
	size_t nf = mixed_64(f), n = msg_size(f, nf), i, cuts[3000], nc = 0, off = 0;
	uint8_t *msg = malloc(n);
	struct rx x;

	(void)state;
	assert_true(n <= FRAME_MSG_MAX_BYTES);
	build_msg(f, nf, msg);
	rx_setup(&x, f, nf, n, 0, 0);

	/* whole: the control payloads are all zero copy */
	rx_reset(&x);
	feed_piece(&x, rx_chunk, msg, n);
	rx_check(&x);
	assert_int_equal(x.copied, 0);
	assert_true(x.zero_copy > 0);

	/* byte by byte: every non-empty control payload went through acc */
	rx_reset(&x);
	for (i = 0; i < n; i++)
		feed_piece_reuse(&x, rx_chunk, msg + i, 1);
	rx_check(&x);
	assert_true(x.copied > 0);

	/* two pieces at every offset near a frame boundary or inside a header */
	for (i = 0; i < nf; i++) {
		size_t d;

		for (d = 0; d <= FRAME_HEADER_LEN + 2; d++) {
			if (off + d > 0 && off + d < n) {
				rx_reset(&x);
				feed_piece(&x, rx_chunk, msg, off + d);
				feed_piece(&x, rx_chunk, msg + off + d, n - off - d);
				rx_check(&x);
			}
			if (off >= d + 1 && off - d - 1 > 0) {
				rx_reset(&x);
				feed_piece(&x, rx_chunk, msg, off - d - 1);
				feed_piece(&x, rx_chunk, msg + off - d - 1, n - off + d + 1);
				rx_check(&x);
			}
		}
		off += FRAME_HEADER_LEN + f[i].len;
	}

	/* many pieces: every 997 bytes, then random cut sets */
	for (i = 997; i < n; i += 997)
		cuts[nc++] = i;
	feed_cuts(msg, n, &x, cuts, nc);
	for (i = 0; i < 50; i++) {
		size_t k, at = 0;

		nc = 0;
		for (k = 0; k < 40; k++) {
			at += 1 + rng() % (n / 30);
			if (at >= n)
				break;
			cuts[nc++] = at;
		}
		feed_cuts(msg, n, &x, cuts, nc);
	}
	rx_teardown(&x);
	free(msg);
}

/* 64 frames and exactly 262,144 bytes: both limits reached, accepted. */
static void
test_read_limits_exact(void **state)
{
	struct tframe f[64];
	size_t i, n;
	uint8_t *msg;
	struct rx x;

	(void)state;
	for (i = 0; i < 64; i++) {
		f[i].type = FRAME_DATA;
		f[i].sid = (uint32_t)i + 1;
		f[i].len = i < 3 ? 65536 : 1000;
		f[i].seed = (uint8_t)i;
	}
	f[63].len = 4960;
	n = msg_size(f, 64);
	assert_int_equal(n, FRAME_MSG_MAX_BYTES);
	msg = malloc(n);
	build_msg(f, 64, msg);
	rx_setup(&x, f, 64, n, 0, 0);
	rx_reset(&x);
	feed_piece(&x, rx_chunk, msg, n);
	rx_check(&x);
	rx_reset(&x);
	for (i = 0; i < n; i++)
		feed_piece_reuse(&x, rx_chunk, msg + i, 1);
	rx_check(&x);
	/* the same reader takes full messages again: the limits are per message */
	for (i = 0; i < 3; i++) {
		rx_clear(&x);
		feed_piece(&x, rx_chunk, msg, n);
		rx_check(&x);
	}
	rx_teardown(&x);
	free(msg);
}

/* A header split across three chunks, the payload in a fourth. */
static void
test_read_split_header(void **state)
{
	static const struct tframe f[] = { { FRAME_BIND_OK, 0, 50, 9 }, { FRAME_DATA, 7, 30, 10 } };
	size_t n = msg_size(f, 2);
	uint8_t msg[200];
	static const size_t cuts[] = { 2, 6, 9, 59 + 4, 59 + 9 + 10 };
	struct rx x;
	size_t i, j;

	(void)state;
	build_msg(f, 2, msg);
	rx_setup(&x, f, 2, n, 0, 0);
	for (i = 1; i <= UTIL_ARRAY_SIZE(cuts); i++)
		feed_cuts(msg, n, &x, cuts, i);
	/* every way of cutting the first header into three */
	for (i = 1; i < 8; i++) {
		for (j = i + 1; j < 9; j++) {
			size_t c[3] = { i, j, 30 };

			feed_cuts(msg, n, &x, c, 3);
			assert_int_equal(x.copied, 1); /* the BIND_OK payload was split */
		}
	}
	rx_teardown(&x);
}

/* One reader, three messages in a row; the last ends with an empty chunk. */
static void
test_read_consecutive_messages(void **state)
{
	uint8_t m1[64], m2[64];
	size_t n1, n2;
	struct frame_reader r;
	struct frame_event ev;
	ssize_t k;
	int i;

	(void)state;
	n1 = put_frame(m1, FRAME_PING, 0, "12345678", 8);
	n2 = put_frame(m2, FRAME_DATA, 4, "abc", 3);
	n2 += put_frame(m2 + n2, FRAME_EOF, 4, NULL, 0);
	frame_reader_init(&r);
	for (i = 0; i < 2; i++) {
		k = frame_reader_feed(&r, m1, n1, 1, &ev);
		assert_int_equal(k, n1);
		assert_int_equal(ev.type, FRAME_EV_CONTROL);
		assert_int_equal(ev.frame_type, FRAME_PING);
		assert_memory_equal(ev.payload, "12345678", 8);
		assert_int_equal(frame_reader_feed(&r, m1 + n1, 0, 1, &ev), 0);
		assert_int_equal(ev.type, FRAME_EV_MESSAGE_END);
	}
	/* the whole message with msg_end 0, then an empty final chunk */
	k = frame_reader_feed(&r, m2, n2, 0, &ev);
	assert_int_equal(k, 12);
	assert_int_equal(ev.type, FRAME_EV_DATA);
	assert_true(ev.frame_start && ev.frame_end);
	assert_int_equal(ev.len, 3);
	assert_int_equal(frame_reader_feed(&r, m2 + 12, n2 - 12, 0, &ev), 9);
	assert_int_equal(ev.type, FRAME_EV_CONTROL);
	assert_int_equal(ev.frame_type, FRAME_EOF);
	assert_int_equal(ev.len, 0);
	assert_int_equal(frame_reader_feed(&r, m2 + n2, 0, 0, &ev), 0);
	assert_int_equal(ev.type, FRAME_EV_NONE);
	assert_int_equal(frame_reader_feed(&r, NULL, 0, 1, &ev), 0);
	assert_int_equal(ev.type, FRAME_EV_MESSAGE_END);
	frame_reader_fini(&r);
	frame_reader_fini(&r); /* idempotent */
}

/* Pieces of one DATA frame carry start/end flags and the frame length. */
static void
test_read_data_pieces(void **state)
{
	uint8_t msg[9 + 100];
	struct frame_reader r;
	struct frame_event ev;

	(void)state;
	memset(msg, 'z', sizeof(msg));
	frame_header_encode(msg, FRAME_DATA, 77, 100);
	frame_reader_init(&r);
	/* header alone: no event yet (no empty piece for a non-empty frame) */
	assert_int_equal(frame_reader_feed(&r, msg, 9, 0, &ev), 9);
	assert_int_equal(ev.type, FRAME_EV_NONE);
	assert_int_equal(frame_reader_feed(&r, msg + 9, 40, 0, &ev), 40);
	assert_int_equal(ev.type, FRAME_EV_DATA);
	assert_int_equal(ev.stream_id, 77);
	assert_int_equal(ev.frame_len, 100);
	assert_ptr_equal(ev.payload, msg + 9);
	assert_true(ev.frame_start && !ev.frame_end);
	assert_int_equal(frame_reader_feed(&r, msg + 49, 60, 1, &ev), 60);
	assert_int_equal(ev.len, 60);
	assert_int_equal(ev.frame_len, 100);
	assert_true(!ev.frame_start && ev.frame_end);
	assert_int_equal(frame_reader_feed(&r, msg + 109, 0, 1, &ev), 0);
	assert_int_equal(ev.type, FRAME_EV_MESSAGE_END);
	frame_reader_fini(&r);
}

/* ---- reader: rejected messages ------------------------------------------ */

static void
test_err_65_frames(void **state)
{
	struct tframe f[65];
	size_t i;

	(void)state;
	for (i = 0; i < 65; i++) {
		f[i].type = i % 2 ? FRAME_EOF : FRAME_DATA;
		f[i].sid = 1;
		f[i].len = i % 2 ? 0 : 1;
		f[i].seed = 0;
	}
	run_all_ways(f, 65, FRAME_CODE_PROTOCOL_ERROR, 1002);
	/* a 65th frame that is an extension counts too */
	f[64].type = 0x60;
	run_all_ways(f, 65, FRAME_CODE_PROTOCOL_ERROR, 1002);
}

/*
 * Large messages: the first n bytes of the frames f, whole, byte by byte,
 * and a few two-piece splits.
 */
static void
run_large(const struct tframe *f, size_t nf, size_t n, int err, int ws)
{
	uint8_t *msg = malloc(msg_size(f, nf));
	struct rx x;
	size_t i, cut;

	assert_true(n <= msg_size(f, nf));
	build_msg(f, nf, msg);
	rx_setup(&x, f, nf, n, err, ws);
	rx_reset(&x);
	feed_piece(&x, rx_chunk, msg, n);
	rx_check(&x);
	rx_reset(&x);
	for (i = 0; i < n; i++)
		feed_piece_reuse(&x, rx_chunk, msg + i, 1);
	rx_check(&x);
	for (i = 0; i < 40; i++) {
		cut = i < 20 ? n - 1 - i : 1 + rng() % (n - 1);
		feed_cuts(msg, n, &x, &cut, 1);
	}
	rx_teardown(&x);
	free(msg);
}

static void
test_err_message_too_big(void **state)
{
	struct tframe f[4] = { { FRAME_DATA, 1, 65536, 1 },
			       { FRAME_DATA, 1, 65536, 2 },
			       { FRAME_DATA, 1, 65536, 3 },
			       { FRAME_DATA, 1, 65501, 4 } };
	struct tframe g[5] = { { FRAME_DATA, 1, 65536, 1 },
			       { FRAME_DATA, 1, 65536, 2 },
			       { FRAME_DATA, 1, 65536, 3 },
			       { FRAME_DATA, 1, 65491, 4 },
			       { FRAME_EOF, 1, 0, 0 } };

	(void)state;
	assert_int_equal(msg_size(f, 4), FRAME_MSG_MAX_BYTES + 1);
	run_large(f, 4, FRAME_MSG_MAX_BYTES + 1, FRAME_CODE_FRAME_SIZE_ERROR, 1009);
	/* one byte less: fine */
	f[3].len = 65500;
	run_large(f, 4, FRAME_MSG_MAX_BYTES, 0, 0);
	/* exactly full, then the first byte of another header: over the limit,
	 * not "truncated", however the message is split */
	assert_int_equal(msg_size(g, 4), FRAME_MSG_MAX_BYTES - 9);
	run_large(g, 5, FRAME_MSG_MAX_BYTES, 0, 0);
	run_large(g, 5, FRAME_MSG_MAX_BYTES - 4, FRAME_CODE_PROTOCOL_ERROR, 1002);
	g[3].len = 65500;
	run_large(g, 5, FRAME_MSG_MAX_BYTES + 1, FRAME_CODE_FRAME_SIZE_ERROR, 1009);
}

static void
test_err_frame_too_long(void **state)
{
	uint8_t msg[9 + 16];
	struct rx x;
	static const uint8_t types[] = { FRAME_DATA, FRAME_HELLO, 0x41 };
	size_t i;

	(void)state;
	memset(msg, 0, sizeof(msg));
	/* only the header (and a bit) is sent: the length alone is the error */
	for (i = 0; i < sizeof(types); i++) {
		frame_header_encode(msg, types[i], 1, 65537);
		rx_setup(&x, NULL, 0, sizeof(msg), FRAME_CODE_FRAME_SIZE_ERROR, 1002);
		feed_all_ways(msg, sizeof(msg), &x, rx_reset, rx_chunk, rx_check);
		rx_teardown(&x);
		frame_header_encode(msg, types[i], 1, 0xFFFFFFFFu);
		rx_setup(&x, NULL, 0, sizeof(msg), FRAME_CODE_FRAME_SIZE_ERROR, 1002);
		feed_all_ways(msg, sizeof(msg), &x, rx_reset, rx_chunk, rx_check);
		rx_teardown(&x);
	}
}

static void
test_err_truncated(void **state)
{
	/* the message ends inside the second frame's header */
	static const struct tframe ok[] = { { FRAME_DATA, 1, 5, 1 } };
	static const struct tframe cut_data[] = { { FRAME_EOF, 1, 0, 0 }, { FRAME_DATA, 1, 10, 2 } };
	static const struct tframe cut_ctl[] = { { FRAME_STREAM_OPEN, 1, 20, 3 } };
	static const struct tframe cut_ext[] = { { 0x50, 1, 20, 3 } };
	uint8_t msg[64];
	size_t n, cut;
	struct rx x;

	(void)state;
	n = build_msg(ok, 1, msg);
	for (cut = 1; cut < FRAME_HEADER_LEN; cut++) {
		frame_header_encode(msg + n, FRAME_EOF, 1, 0);
		rx_setup(&x, NULL, 0, n + cut, FRAME_CODE_PROTOCOL_ERROR, 1002);
		feed_all_ways(msg, n + cut, &x, rx_reset, rx_chunk, rx_check);
		rx_teardown(&x);
		/* also when it is the only frame */
		rx_setup(&x, NULL, 0, cut, FRAME_CODE_PROTOCOL_ERROR, 1002);
		feed_all_ways(msg + n, cut, &x, rx_reset, rx_chunk, rx_check);
		rx_teardown(&x);
	}
	/* payloads cut short: DATA, control, extension */
	n = build_msg(cut_data, 2, msg);
	rx_setup(&x, NULL, 0, n - 5, FRAME_CODE_PROTOCOL_ERROR, 1002);
	feed_all_ways(msg, n - 5, &x, rx_reset, rx_chunk, rx_check);
	rx_teardown(&x);
	n = build_msg(cut_ctl, 1, msg);
	rx_setup(&x, NULL, 0, n - 1, FRAME_CODE_PROTOCOL_ERROR, 1002);
	feed_all_ways(msg, n - 1, &x, rx_reset, rx_chunk, rx_check);
	rx_teardown(&x);
	/* a DATA payload cut short in the last chunk is rejected at once,
	 * before any of it is reported */
	{
		struct frame_reader r;
		struct frame_event ev;

		n = build_msg(cut_data, 2, msg);
		frame_reader_init(&r);
		assert_int_equal(frame_reader_feed(&r, msg, n - 5, 1, &ev), 9);
		assert_int_equal(ev.type, FRAME_EV_CONTROL);
		assert_int_equal(frame_reader_feed(&r, msg + 9, n - 14, 1, &ev), HT_ERROR);
		assert_int_equal(ev.type, FRAME_EV_NONE);
		assert_int_equal(r.err, FRAME_CODE_PROTOCOL_ERROR);
		frame_reader_fini(&r);
		/* same for a control payload: nothing copied, nothing allocated */
		n = build_msg(cut_ctl, 1, msg);
		frame_reader_init(&r);
		assert_int_equal(frame_reader_feed(&r, msg, n - 1, 1, &ev), HT_ERROR);
		assert_null(r.acc);
		frame_reader_fini(&r);
	}
	n = build_msg(cut_ext, 1, msg);
	rx_setup(&x, NULL, 0, n - 19, FRAME_CODE_PROTOCOL_ERROR, 1002);
	feed_all_ways(msg, n - 19, &x, rx_reset, rx_chunk, rx_check);
	rx_teardown(&x);
}

static void
test_err_bad_type(void **state)
{
	static const uint8_t bad[] = { 0x80, 0xFF, 0xC0, 0x3F, 0x00, 0x11, 0x0E, 0x17, 0x22, 0x31 };
	struct tframe f[2] = { { FRAME_PING, 0, 8, 1 }, { 0, 1, 3, 2 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		f[1].type = bad[i];
		run_all_ways(f, 2, FRAME_CODE_PROTOCOL_ERROR, 1002);
		run_all_ways(f + 1, 1, FRAME_CODE_PROTOCOL_ERROR, 1002);
	}
}

static void
test_err_empty_message(void **state)
{
	struct frame_reader r;
	struct frame_event ev;
	uint8_t b = 0;

	(void)state;
	frame_reader_init(&r);
	assert_int_equal(frame_reader_feed(&r, &b, 0, 0, &ev), 0);
	assert_int_equal(ev.type, FRAME_EV_NONE);
	assert_int_equal(frame_reader_feed(&r, NULL, 0, 1, &ev), HT_ERROR);
	assert_int_equal(r.err, FRAME_CODE_PROTOCOL_ERROR);
	assert_int_equal(r.ws_close_code, 1002);
	/* sticky */
	assert_int_equal(frame_reader_feed(&r, &b, 1, 1, &ev), HT_ERROR);
	frame_reader_fini(&r);
}

/* ---- batch planner ------------------------------------------------------ */

static size_t
random_payload(void)
{
	switch (rng() % 5) {
	case 0: return 0;
	case 1: return rng() % 64;
	case 2: return rng() % 4096;
	case 3: return 65536 - rng() % 16;
	default: return rng() % 65538; /* sometimes one too many */
	}
}

static void
test_batch_planner(void **state)
{
	struct frame_batch b;
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		frame_batch_reset(&b);
		for (;;) {
			size_t len = random_payload();
			ssize_t room = frame_batch_room(&b);
			int exact = b.frames < 64 && len <= 65536 && b.bytes + 9 + len <= 262144;

			assert_int_equal(frame_batch_fits(&b, len), exact);
			if (room >= 0) {
				assert_true(frame_batch_fits(&b, (size_t)room));
				assert_false(frame_batch_fits(&b, (size_t)room + 1));
			} else {
				assert_false(frame_batch_fits(&b, 0));
			}
			if (!exact) {
				if (rng() % 4 == 0)
					break;
				continue;
			}
			frame_batch_add(&b, len);
			assert_true(b.frames <= FRAME_MSG_MAX_FRAMES);
			assert_true(b.bytes <= FRAME_MSG_MAX_BYTES);
			if (room < 0)
				fail_msg("room said full but a frame fit");
		}
	}
	frame_batch_reset(&b);
	assert_int_equal(frame_batch_room(&b), 65536);
	for (round = 0; round < 64; round++)
		frame_batch_add(&b, 0);
	assert_int_equal(frame_batch_room(&b), -1);
	assert_false(frame_batch_fits(&b, 0));
}

/* What the planner accepts, the reader accepts (planner + put_frame). */
static void
test_batch_roundtrip(void **state)
{
	uint8_t *msg = malloc(FRAME_MSG_MAX_BYTES), *payload = calloc(1, FRAME_MAX_PAYLOAD);
	int round;

	(void)state;
	assert_non_null(msg);
	assert_non_null(payload);
	for (round = 0; round < 200; round++) {
		struct frame_batch b;
		struct frame_reader r;
		struct frame_event ev;
		size_t n = 0, events = 0, off = 0, len;

		frame_batch_reset(&b);
		while (frame_batch_fits(&b, len = random_payload())) {
			uint8_t type = len % 3 ? FRAME_DATA : FRAME_STREAM_OPEN;
			assert_true(n + 9 + len <= FRAME_MSG_MAX_BYTES); /* the planner never overfills */
			n += put_frame(msg + n, type, 1, payload, len);
			frame_batch_add(&b, len);
		}
		assert_int_equal(n, b.bytes);
		frame_reader_init(&r);
		for (;;) {
			ssize_t k = frame_reader_feed(&r, msg + off, n - off, 1, &ev);

			assert_true(k >= 0);
			off += (size_t)k;
			if (ev.type == FRAME_EV_MESSAGE_END)
				break;
			events++;
		}
		assert_int_equal(off, n);
		assert_int_equal(events, b.frames);
		frame_reader_fini(&r);
	}
	free(msg);
	free(payload);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_encode_decode),
		cmocka_unit_test(test_window_frame_bytes),
		cmocka_unit_test(test_code_encode),
		cmocka_unit_test(test_code_decode),
		cmocka_unit_test(test_window_ping),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_forward_frames),
		cmocka_unit_test(test_read_one_frame),
		cmocka_unit_test(test_read_two_frames),
		cmocka_unit_test(test_read_64_frames),
		cmocka_unit_test(test_read_limits_exact),
		cmocka_unit_test(test_read_split_header),
		cmocka_unit_test(test_read_consecutive_messages),
		cmocka_unit_test(test_read_data_pieces),
		cmocka_unit_test(test_err_65_frames),
		cmocka_unit_test(test_err_message_too_big),
		cmocka_unit_test(test_err_frame_too_long),
		cmocka_unit_test(test_err_truncated),
		cmocka_unit_test(test_err_bad_type),
		cmocka_unit_test(test_err_empty_message),
		cmocka_unit_test(test_batch_planner),
		cmocka_unit_test(test_batch_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
