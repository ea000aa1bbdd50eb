/*
 * test_ws.c: the WebSocket frame codec (ws.h).
 *
 * Every vector goes through a collector that calls ws_parse() until each
 * piece is used up, checks the per-chunk invariants (zero-copy pointers
 * inside the piece, first/last sequencing, progress on every call) and
 * turns the events into records: one per whole data message (chunks
 * concatenated) and one per control frame. The records, the error code and
 * the parser's final state are then compared with what the vector should
 * give, for every way of splitting the input (feed.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "ws.h"

/* ---- collector ---------------------------------------------------------- */

#define MAX_RECS 32

struct rec {
	enum ws_event_type type;
	unsigned opcode; /* DATA */
	unsigned code;   /* CLOSE */
	size_t len;
	const uint8_t *bytes; /* payload; CLOSE: the reason */
};

struct coll {
	enum ws_role role;
	uint64_t max;
	struct ws_parser p;
	struct rec recs[MAX_RECS];
	uint8_t *owned[MAX_RECS];
	size_t nrecs;
	uint8_t *msg; /* current message being concatenated */
	size_t msg_len;
	int in_msg;
	unsigned msg_opcode;
	int failed;
	unsigned code;
	/* expectations */
	const struct rec *want;
	size_t nwant;
	unsigned want_code; /* 0: no error expected */
	int want_open;      /* a message is still in progress at the end */
};

static void
coll_clear(struct coll *c)
{
	size_t i;

	for (i = 0; i < c->nrecs; i++)
		free(c->owned[i]);
	free(c->msg);
	c->msg = NULL;
	c->msg_len = 0;
	c->nrecs = 0;
}

static void
coll_reset(void *ctx)
{
	struct coll *c = ctx;

	coll_clear(c);
	ws_parser_init(&c->p, c->role, c->max);
	c->in_msg = 0;
	c->failed = 0;
	c->code = 0;
}

static void
push(struct coll *c, enum ws_event_type type, unsigned opcode, unsigned code, const void *p, size_t n)
{
	uint8_t *copy = malloc(n + 1);

	assert_non_null(copy);
	assert_true(c->nrecs < MAX_RECS);
	if (n)
		memcpy(copy, p, n);
	c->owned[c->nrecs] = copy;
	c->recs[c->nrecs++] = (struct rec){ type, opcode, code, n, copy };
}

static void
on_data(struct coll *c, const struct ws_event *ev, const uint8_t *piece, size_t n)
{
	assert_int_equal(ev->first, !c->in_msg);
	assert_true(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
	if (ev->first)
		c->msg_opcode = ev->opcode;
	assert_int_equal(ev->opcode, c->msg_opcode);
	assert_true(ev->len > 0 || ev->last);
	/* zero-copy: the chunk lies inside the piece just fed */
	assert_true(ev->data >= piece && ev->data + ev->len <= piece + n);
	c->msg = realloc(c->msg, c->msg_len + ev->len + 1);
	assert_non_null(c->msg);
	if (ev->len)
		memcpy(c->msg + c->msg_len, ev->data, ev->len);
	c->msg_len += ev->len;
	c->in_msg = !ev->last;
	assert_int_equal(ws_parser_in_message(&c->p), !ev->last);
	if (ev->last) {
		push(c, WS_EV_DATA, c->msg_opcode, 0, c->msg, c->msg_len);
		c->msg_len = 0;
	}
}

static void
on_event(struct coll *c, const struct ws_event *ev, const uint8_t *piece, size_t n)
{
	switch (ev->type) {
	case WS_EV_DATA: on_data(c, ev, piece, n); break;
	case WS_EV_PING:
	case WS_EV_PONG:
		assert_true(ev->len <= WS_MAX_CONTROL);
		push(c, ev->type, 0, 0, ev->data, ev->len);
		break;
	case WS_EV_CLOSE:
		assert_true(ws_parser_closed(&c->p));
		push(c, ev->type, 0, ev->code, ev->reason, ev->reason_len);
		break;
	default: fail_msg("unexpected event %d", ev->type);
	}
}

static void
coll_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct coll *c = ctx;
	uint8_t *in = (uint8_t *)(uintptr_t)p; /* feed.h's private copy: ours to unmask */
	struct ws_event ev;
	size_t off = 0;
	ssize_t r;

	if (c->failed)
		return;
	while (off < n) {
		r = ws_parse(&c->p, in + off, n - off, &ev);
		if (r < 0) {
			assert_int_equal(r, HT_ERROR);
			assert_non_null(c->p.error);
			c->failed = 1;
			c->code = c->p.close_code;
			/* sticky */
			assert_int_equal(ws_parse(&c->p, in + off, n - off, &ev), HT_ERROR);
			return;
		}
		assert_true(r > 0); /* progress on every call */
		off += (size_t)r;
		if (ev.type != WS_EV_NONE)
			on_event(c, &ev, in, n);
	}
	r = ws_parse(&c->p, in + n, 0, &ev);
	assert_int_equal(r, 0);
	assert_int_equal(ev.type, WS_EV_NONE);
}

static void
coll_check(void *ctx)
{
	struct coll *c = ctx;
	size_t i;

	assert_int_equal(c->code, c->want_code);
	assert_int_equal(c->failed, c->want_code != 0);
	assert_int_equal(c->nrecs, c->nwant);
	for (i = 0; c->want != NULL && i < c->nwant; i++) {
		const struct rec *w = &c->want[i], *g = &c->recs[i];
		assert_int_equal(g->type, w->type);
		assert_int_equal(g->opcode, w->opcode);
		assert_int_equal(g->code, w->code);
		assert_int_equal(g->len, w->len);
		if (w->len)
			assert_memory_equal(g->bytes, w->bytes, w->len);
	}
	if (!c->failed)
		assert_int_equal(c->in_msg, c->want_open);
}

/*
 * Run a vector all ways and check it gives want[0..nwant) and want_code
 * (want NULL: only the number of records is checked).
 */
static void
run(enum ws_role role, uint64_t max, const void *in, size_t n, const struct rec *want, size_t nwant,
    unsigned want_code)
{
	struct coll c;

	memset(&c, 0, sizeof(c));
	c.role = role;
	c.max = max;
	c.want = want;
	c.nwant = nwant;
	c.want_code = want_code;
	feed_all_ways(in, n, &c, coll_reset, coll_chunk, coll_check);
	coll_clear(&c);
}

/* Large vectors: whole, byte by byte, and split near both ends and in the middle. */
static void
run_large(enum ws_role role, const void *in, size_t n, const struct rec *want, size_t nwant)
{
	static const size_t cuts[] = { 1, 2, 3, 4, 5, 9, 10, 11, 13, 14, 15, 4096, 32768 };
	const uint8_t *b = in;
	struct coll c;
	size_t i, k;

	memset(&c, 0, sizeof(c));
	c.role = role;
	c.want = want;
	c.nwant = nwant;
	coll_reset(&c);
	feed_piece(&c, coll_chunk, b, n);
	coll_check(&c);
	coll_reset(&c);
	for (i = 0; i < n; i++)
		feed_piece(&c, coll_chunk, b + i, 1);
	coll_check(&c);
	for (k = 0; k < 2 * UTIL_ARRAY_SIZE(cuts); k++) {
		size_t cut = k % 2 ? n - cuts[k / 2] : cuts[k / 2];
		if (cut == 0 || cut >= n)
			continue;
		coll_reset(&c);
		feed_piece(&c, coll_chunk, b, cut);
		feed_piece(&c, coll_chunk, b + cut, n - cut);
		coll_check(&c);
	}
	coll_clear(&c);
}

#define REC_DATA(op, s, n)                                                                                   \
	{                                                                                                    \
		WS_EV_DATA, (op), 0, (n), (const uint8_t *)(s)                                               \
	}
#define REC_CTL(t, s, n)                                                                                     \
	{                                                                                                    \
		(t), 0, 0, (n), (const uint8_t *)(s)                                                         \
	}
#define REC_CLOSE(code, s, n)                                                                                \
	{                                                                                                    \
		WS_EV_CLOSE, 0, (code), (n), (const uint8_t *)(s)                                            \
	}

/* ---- RFC 6455 section 5.7 examples -------------------------------------- */

static const uint8_t rfc_text_unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
static const uint8_t rfc_text_masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
static const uint8_t rfc_fragmented[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f };
static const uint8_t rfc_ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
static const uint8_t rfc_pong_masked[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };

static void
test_rfc_single_unmasked(void **state)
{
	static const struct rec want[] = { REC_DATA(WS_OP_TEXT, "Hello", 5) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, rfc_text_unmasked, sizeof(rfc_text_unmasked), want, 1, 0);
}

static void
test_rfc_single_masked(void **state)
{
	static const struct rec want[] = { REC_DATA(WS_OP_TEXT, "Hello", 5) };
	(void)state;
	run(WS_ROLE_SERVER, 0, rfc_text_masked, sizeof(rfc_text_masked), want, 1, 0);
}

static void
test_rfc_fragmented(void **state)
{
	static const struct rec want[] = { REC_DATA(WS_OP_TEXT, "Hello", 5) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, rfc_fragmented, sizeof(rfc_fragmented), want, 1, 0);
}

static void
test_rfc_ping_pong(void **state)
{
	static const struct rec ping[] = { REC_CTL(WS_EV_PING, "Hello", 5) };
	static const struct rec pong[] = { REC_CTL(WS_EV_PONG, "Hello", 5) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, rfc_ping, sizeof(rfc_ping), ping, 1, 0);
	run(WS_ROLE_SERVER, 0, rfc_pong_masked, sizeof(rfc_pong_masked), pong, 1, 0);
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
	return p;
}

static void
test_rfc_256_bytes(void **state)
{
	uint8_t *payload = pattern(256, 7);
	uint8_t v[4 + 256] = { 0x82, 0x7E, 0x01, 0x00 };
	struct rec want[] = { REC_DATA(WS_OP_BINARY, payload, 256) };

	(void)state;
	memcpy(v + 4, payload, 256);
	run(WS_ROLE_CLIENT, 0, v, sizeof(v), want, 1, 0);
	free(payload);
}

static void
test_rfc_64k(void **state)
{
	size_t n = 65536;
	uint8_t *payload = pattern(n, 3);
	uint8_t *v = malloc(10 + n);
	static const uint8_t hdr[10] = { 0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };
	struct rec want[] = { REC_DATA(WS_OP_BINARY, payload, n) };

	(void)state;
	assert_non_null(v);
	memcpy(v, hdr, 10);
	memcpy(v + 10, payload, n);
	run_large(WS_ROLE_CLIENT, v, 10 + n, want, 1);
	free(v);
	free(payload);
}

/* Our encoder produces the RFC's bytes exactly. */
static void
test_rfc_encode(void **state)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t out[WS_MAX_HEADER + 5];
	size_t h;

	(void)state;
	h = ws_header_encode(out, WS_OP_TEXT, 1, 5, NULL);
	memcpy(out + h, "Hello", 5);
	assert_int_equal(h + 5, sizeof(rfc_text_unmasked));
	assert_memory_equal(out, rfc_text_unmasked, h + 5);

	h = ws_header_encode(out, WS_OP_TEXT, 1, 5, key);
	memcpy(out + h, "Hello", 5);
	ws_mask(out + h, 5, key, 0);
	assert_memory_equal(out, rfc_text_masked, sizeof(rfc_text_masked));

	h = ws_header_encode(out, WS_OP_PONG, 1, 5, key);
	memcpy(out + h, "Hello", 5);
	ws_mask(out + h, 5, key, 0);
	assert_memory_equal(out, rfc_pong_masked, sizeof(rfc_pong_masked));

	assert_int_equal(ws_header_encode(out, WS_OP_TEXT, 0, 3, NULL), 2);
	assert_memory_equal(out, rfc_fragmented, 2);
	assert_int_equal(ws_header_encode(out, WS_OP_CONT, 1, 2, NULL), 2);
	assert_memory_equal(out, rfc_fragmented + 5, 2);

	assert_int_equal(ws_header_encode(out, WS_OP_BINARY, 1, 256, NULL), 4);
	assert_memory_equal(out, "\x82\x7E\x01\x00", 4);
	assert_int_equal(ws_header_encode(out, WS_OP_BINARY, 1, 65536, NULL), 10);
	assert_memory_equal(out, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10);
}

/* ---- fragmentation and control frames ----------------------------------- */

static void
test_ping_inside_fragmented(void **state)
{
	/* "Hel" (text, not final), PING "hi", PONG "", "lo" (final) */
	static const uint8_t v[] = { 0x01, 0x03, 'H',  'e',  'l',  0x89, 0x02, 'h',
				     'i',  0x8A, 0x00, 0x80, 0x02, 'l',  'o' };
	static const struct rec want[] = { REC_CTL(WS_EV_PING, "hi", 2), REC_CTL(WS_EV_PONG, "", 0),
					   REC_DATA(WS_OP_TEXT, "Hello", 5) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, v, sizeof(v), want, 3, 0);
}

/* Masked, with the key offset carried across a control frame and splits. */
static void
test_masked_fragments_with_ping(void **state)
{
	static const uint8_t k1[4] = { 1, 2, 3, 4 }, k2[4] = { 0xAA, 0xBB, 0xCC, 0xDD },
			     k3[4] = { 9, 8, 7, 6 };
	static const struct rec want[] = { REC_CTL(WS_EV_PING, "ping!", 5),
					   REC_DATA(WS_OP_BINARY, "0123456789abcdefghij", 20) };
	uint8_t v[64];
	size_t n = 0;

	(void)state;
	n += ws_header_encode(v + n, WS_OP_BINARY, 0, 13, k1);
	memcpy(v + n, "0123456789abc", 13);
	ws_mask(v + n, 13, k1, 0);
	n += 13;
	n += ws_header_encode(v + n, WS_OP_PING, 1, 5, k2);
	memcpy(v + n, "ping!", 5);
	ws_mask(v + n, 5, k2, 0);
	n += 5;
	n += ws_header_encode(v + n, WS_OP_CONT, 1, 7, k3);
	memcpy(v + n, "defghij", 7);
	ws_mask(v + n, 7, k3, 0);
	n += 7;
	run(WS_ROLE_SERVER, 0, v, n, want, 2, 0);
}

static void
test_empty_frames(void **state)
{
	/* empty final text; empty fragments around "ab"; empty binary in pieces */
	static const uint8_t v[] = { 0x81, 0x00, 0x01, 0x00, 0x00, 0x02, 'a',  'b',
				     0x00, 0x00, 0x80, 0x00, 0x02, 0x00, 0x80, 0x00 };
	static const struct rec want[] = { REC_DATA(WS_OP_TEXT, "", 0), REC_DATA(WS_OP_TEXT, "ab", 2),
					   REC_DATA(WS_OP_BINARY, "", 0) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, v, sizeof(v), want, 3, 0);
}

static void
test_close_frames(void **state)
{
	static const uint8_t empty[] = { 0x88, 0x00 };
	static const uint8_t bye[] = { 0x88, 0x05, 0x03, 0xE8, 'b', 'y', 'e' };
	static const uint8_t utf8[] = { 0x88, 0x06, 0x0F, 0xA0, 0xC3, 0xA9, 0xE2, 0x82 }; /* truncated */
	static const uint8_t utf8ok[] = { 0x88, 0x07, 0x0F, 0xA0, 0xC3, 0xA9, 0xE2, 0x82, 0xAC };
	static const struct rec w_empty[] = { REC_CLOSE(1005, "", 0) };
	static const struct rec w_bye[] = { REC_CLOSE(1000, "bye", 3) };
	static const struct rec w_utf8[] = { REC_CLOSE(4000, "\xC3\xA9\xE2\x82\xAC", 5) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, empty, sizeof(empty), w_empty, 1, 0);
	run(WS_ROLE_CLIENT, 0, bye, sizeof(bye), w_bye, 1, 0);
	run(WS_ROLE_CLIENT, 0, utf8ok, sizeof(utf8ok), w_utf8, 1, 0);
	run(WS_ROLE_CLIENT, 0, utf8, 8, NULL, 0, WS_CLOSE_INVALID_DATA);
}

static void
test_close_codes(void **state)
{
	static const unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
					 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned bad[] = {
		0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535
	};
	uint8_t v[4] = { 0x88, 0x02 };
	struct rec want[] = { REC_CLOSE(0, "", 0) };
	size_t i;

	(void)state;
	assert_string_equal(ws_close_code_name(1001), "going away");
	assert_string_equal(ws_close_code_name(WS_CLOSE_NO_STATUS), "no status");
	for (i = 0; i < UTIL_ARRAY_SIZE(good); i++) {
		/* the registered codes have a name, the application ones none */
		if (good[i] < 3000)
			assert_non_null(ws_close_code_name(good[i]));
		else
			assert_null(ws_close_code_name(good[i]));
		assert_true(ws_close_code_valid(good[i]));
		v[2] = (uint8_t)(good[i] >> 8);
		v[3] = (uint8_t)good[i];
		want[0].code = good[i];
		run(WS_ROLE_CLIENT, 0, v, 4, want, 1, 0);
	}
	for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
		if (bad[i] != 1005 && bad[i] != 1006) /* named, but never sent */
			assert_null(ws_close_code_name(bad[i]));
		assert_false(ws_close_code_valid(bad[i]));
		v[2] = (uint8_t)(bad[i] >> 8);
		v[3] = (uint8_t)bad[i];
		run(WS_ROLE_CLIENT, 0, v, 4, NULL, 0, WS_CLOSE_PROTOCOL);
	}
}

static void
test_data_after_close(void **state)
{
	static const uint8_t v[] = { 0x88, 0x02, 0x03, 0xE8, 0x81, 0x00 };
	static const struct rec want[] = { REC_CLOSE(1000, "", 0) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, v, sizeof(v), want, 1, WS_CLOSE_PROTOCOL);
}

/* ---- validation errors -------------------------------------------------- */

struct bad {
	const char *name;
	enum ws_role role;
	uint64_t max;
	uint8_t len;
	uint8_t bytes[16];
	unsigned code;
	size_t nrecs; /* whole messages or control frames before the error */
};

static const struct bad bad_vectors[] = {
	{ "RSV1", WS_ROLE_CLIENT, 0, 2, { 0xC1, 0x00 }, 1002, 0 },
	{ "RSV2", WS_ROLE_CLIENT, 0, 2, { 0xA2, 0x00 }, 1002, 0 },
	{ "RSV3", WS_ROLE_CLIENT, 0, 2, { 0x91, 0x00 }, 1002, 0 },
	{ "RSV on control", WS_ROLE_CLIENT, 0, 2, { 0xC9, 0x00 }, 1002, 0 },
	{ "opcode 3", WS_ROLE_CLIENT, 0, 2, { 0x83, 0x00 }, 1002, 0 },
	{ "opcode 7", WS_ROLE_CLIENT, 0, 2, { 0x87, 0x00 }, 1002, 0 },
	{ "opcode B", WS_ROLE_CLIENT, 0, 2, { 0x8B, 0x00 }, 1002, 0 },
	{ "opcode F", WS_ROLE_CLIENT, 0, 2, { 0x8F, 0x00 }, 1002, 0 },
	{ "ping not final", WS_ROLE_CLIENT, 0, 2, { 0x09, 0x00 }, 1002, 0 },
	{ "close not final", WS_ROLE_CLIENT, 0, 2, { 0x08, 0x00 }, 1002, 0 },
	{ "ping 126 bytes", WS_ROLE_CLIENT, 0, 4, { 0x89, 0x7E, 0x00, 0x7E }, 1002, 0 },
	{ "pong 127 form", WS_ROLE_CLIENT, 0, 2, { 0x8A, 0x7F }, 1002, 0 },
	{ "close 126 form", WS_ROLE_CLIENT, 0, 2, { 0x88, 0x7E }, 1002, 0 },
	{ "16-bit length 125", WS_ROLE_CLIENT, 0, 4, { 0x82, 0x7E, 0x00, 0x7D }, 1002, 0 },
	{ "16-bit length 0", WS_ROLE_CLIENT, 0, 4, { 0x82, 0x7E, 0x00, 0x00 }, 1002, 0 },
	{ "64-bit length 65535",
	  WS_ROLE_CLIENT,
	  0,
	  10,
	  { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF },
	  1002,
	  0 },
	{ "64-bit length 5", WS_ROLE_CLIENT, 0, 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5 }, 1002, 0 },
	{ "64-bit MSB", WS_ROLE_CLIENT, 0, 10, { 0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 1002, 0 },
	{ "64-bit MSB max",
	  WS_ROLE_CLIENT,
	  0,
	  10,
	  { 0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
	  1002,
	  0 },
	{ "unmasked to server", WS_ROLE_SERVER, 0, 3, { 0x81, 0x01, 'a' }, 1002, 0 },
	{ "unmasked ping to server", WS_ROLE_SERVER, 0, 2, { 0x89, 0x00 }, 1002, 0 },
	{ "masked to client", WS_ROLE_CLIENT, 0, 7, { 0x81, 0x81, 1, 2, 3, 4, 'a' }, 1002, 0 },
	{ "masked pong to client", WS_ROLE_CLIENT, 0, 6, { 0x8A, 0x80, 1, 2, 3, 4 }, 1002, 0 },
	{ "continuation first", WS_ROLE_CLIENT, 0, 3, { 0x80, 0x01, 'a' }, 1002, 0 },
	{ "continuation non-final first", WS_ROLE_CLIENT, 0, 2, { 0x00, 0x00 }, 1002, 0 },
	{ "continuation after message", WS_ROLE_CLIENT, 0, 5, { 0x81, 0x01, 'a', 0x80, 0x00 }, 1002, 1 },
	{ "text inside fragmented", WS_ROLE_CLIENT, 0, 6, { 0x01, 0x01, 'a', 0x81, 0x01, 'b' }, 1002, 0 },
	{ "binary inside fragmented", WS_ROLE_CLIENT, 0, 5, { 0x02, 0x01, 'a', 0x02, 0x00 }, 1002, 0 },
	{ "close of one byte", WS_ROLE_CLIENT, 0, 3, { 0x88, 0x01, 0x03 }, 1002, 0 },
	{ "too big single", WS_ROLE_CLIENT, 10, 2, { 0x82, 0x0B }, 1009, 0 },
	{ "too big 16-bit", WS_ROLE_CLIENT, 1000, 4, { 0x82, 0x7E, 0x03, 0xE9 }, 1009, 0 },
	{ "too big 64-bit", WS_ROLE_CLIENT, 1000, 10, { 0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0 }, 1009, 0 },
	{ "too big fragments", WS_ROLE_CLIENT, 4, 7, { 0x02, 0x03, 'a', 'b', 'c', 0x80, 0x02 }, 1009, 0 },
	{ "text bad byte", WS_ROLE_CLIENT, 0, 3, { 0x81, 0x01, 0xFF }, 1007, 0 },
	{ "text overlong", WS_ROLE_CLIENT, 0, 4, { 0x81, 0x02, 0xC0, 0x80 }, 1007, 0 },
	{ "text surrogate", WS_ROLE_CLIENT, 0, 5, { 0x81, 0x03, 0xED, 0xA0, 0x80 }, 1007, 0 },
	{ "text truncated", WS_ROLE_CLIENT, 0, 4, { 0x81, 0x02, 0xE2, 0x82 }, 1007, 0 },
	{ "text truncated fragments", WS_ROLE_CLIENT, 0, 6, { 0x01, 0x02, 0xE2, 0x82, 0x80, 0x00 }, 1007, 0 },
	{ "close reason not UTF-8", WS_ROLE_CLIENT, 0, 5, { 0x88, 0x03, 0x03, 0xE8, 0xFF }, 1007, 0 },
};

static void
test_bad_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(bad_vectors); i++) {
		const struct bad *b = &bad_vectors[i];
		print_message("  %s\n", b->name);
		run(b->role, b->max, b->bytes, b->len, NULL, b->nrecs, b->code);
	}
}

/* Chunks delivered before the error are still seen, never after it. */
static void
test_error_after_chunk(void **state)
{
	struct ws_parser p;
	uint8_t v[] = { 0x01, 0x02, 'o', 'k', 0x81, 0x00 };
	struct ws_event ev;
	ssize_t r;

	(void)state;
	ws_parser_init(&p, WS_ROLE_CLIENT, 0);
	r = ws_parse(&p, v, sizeof(v), &ev);
	assert_int_equal(r, 4);
	assert_int_equal(ev.type, WS_EV_DATA);
	assert_int_equal(ev.len, 2);
	assert_true(ev.first && !ev.last);
	assert_true(ws_parser_in_message(&p));
	assert_int_equal(ws_parse(&p, v + 4, 2, &ev), HT_ERROR);
	assert_int_equal(p.close_code, WS_CLOSE_PROTOCOL);
	assert_int_equal(ev.type, WS_EV_NONE);
	assert_int_equal(ws_parse(&p, v, 0, &ev), HT_ERROR);
}

/* ---- message size limit ------------------------------------------------- */

static void
test_max_message(void **state)
{
	uint8_t v[2100], *payload = pattern(1000, 1);
	size_t n = 0, i;
	struct rec want[] = { REC_DATA(WS_OP_BINARY, payload, 1000) };
	struct ws_parser p;
	struct ws_event ev;
	uint8_t big[4] = { 0x82, 0x7E, 0x03, 0xE9 };
	uint8_t ping[5] = { 0x89, 0x03, 'x', 'y', 'z' };

	(void)state;
	for (i = 0; i < 10; i++) {
		n += ws_header_encode(v + n, i ? WS_OP_CONT : WS_OP_BINARY, i == 9, 100, NULL);
		memcpy(v + n, payload + 100 * i, 100);
		n += 100;
	}
	/* exactly at the limit: accepted, twice in a row (the count restarts) */
	memcpy(v + n, v, n);
	{
		struct rec two[] = { want[0], want[0] };
		run(WS_ROLE_CLIENT, 1000, v, 2 * n, two, 2, 0);
	}
	/* one byte more in an 11th fragment: refused before its payload */
	v[n - 102] &= 0x7F; /* last fragment no longer final */
	v[n] = 0x80;
	v[n + 1] = 0x01;
	v[n + 2] = 'x';
	run(WS_ROLE_CLIENT, 1000, v, n + 3, NULL, 0, WS_CLOSE_TOO_BIG);
	/* a single 1001-byte frame fails at its header: no DATA at all */
	ws_parser_init(&p, WS_ROLE_CLIENT, 1000);
	assert_int_equal(ws_parse(&p, big, 4, &ev), HT_ERROR);
	assert_int_equal(p.close_code, WS_CLOSE_TOO_BIG);
	/* control frames do not count */
	ws_parser_init(&p, WS_ROLE_CLIENT, 1);
	assert_int_equal(ws_parse(&p, ping, 5, &ev), 5);
	assert_int_equal(ev.type, WS_EV_PING);
	free(payload);
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Reference decoder (RFC 3629), written plainly: 1 when s[0..n) is valid. */
static int
ref_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		uint8_t b = s[i];
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xE0) == 0xC0) {
			len = 2;
			cp = b & 0x1Fu;
		} else if ((b & 0xF0) == 0xE0) {
			len = 3;
			cp = b & 0x0Fu;
		} else if ((b & 0xF8) == 0xF0) {
			len = 4;
			cp = b & 0x07u;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3Fu);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
			return 0;
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += len;
	}
	return 1;
}

static void
test_utf8_exhaustive(void **state)
{
	uint8_t s[12];
	unsigned a, b, c, d;

	(void)state;
	for (a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		assert_int_equal(ws_utf8_valid(s, 1), ref_utf8_valid(s, 1));
		for (b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			assert_int_equal(ws_utf8_valid(s, 2), ref_utf8_valid(s, 2));
		}
	}
	for (a = 0xC0; a < 256; a++)
		for (b = 0x70; b < 0xD0; b++)
			for (c = 0; c < 256; c++) {
				s[0] = (uint8_t)a;
				s[1] = (uint8_t)b;
				s[2] = (uint8_t)c;
				assert_int_equal(ws_utf8_valid(s, 3), ref_utf8_valid(s, 3));
			}
	/* 4-byte: every lead F0..F7 with every second byte, fixed tails */
	for (a = 0xF0; a < 0xF8; a++)
		for (b = 0; b < 256; b++)
			for (c = 0x7F; c <= 0xC0; c += 0x41 - 0x3F)
				for (d = 0x7F; d <= 0xC0; d++) {
					s[0] = (uint8_t)a;
					s[1] = (uint8_t)b;
					s[2] = (uint8_t)c;
					s[3] = (uint8_t)d;
					assert_int_equal(ws_utf8_valid(s, 4), ref_utf8_valid(s, 4));
				}
	/* the ASCII fast path stops at the right byte */
	for (a = 0; a < 12; a++) {
		memset(s, 'a', sizeof(s));
		s[a] = 0x80;
		assert_false(ws_utf8_valid(s, sizeof(s)));
		s[a] = 0xC3;
		assert_false(ws_utf8_valid(s, a + 1));
		if (a + 1 < sizeof(s)) {
			s[a + 1] = 0xA9;
			assert_true(ws_utf8_valid(s, sizeof(s)));
		}
	}
}

/* A text message of payload s[0..n) as two fragments split at cut, fed all ways. */
static void
run_text_split(const uint8_t *s, size_t n, size_t cut, unsigned want_code)
{
	uint8_t v[64];
	size_t m = 0;
	struct rec want[] = { REC_DATA(WS_OP_TEXT, s, n) };

	m += ws_header_encode(v + m, WS_OP_TEXT, 0, cut, NULL);
	memcpy(v + m, s, cut);
	m += cut;
	m += ws_header_encode(v + m, WS_OP_CONT, 1, n - cut, NULL);
	memcpy(v + m, s + cut, n - cut);
	m += n - cut;
	run(WS_ROLE_CLIENT, 0, v, m, want, want_code ? 0 : 1, want_code);
}

static void
test_utf8_split(void **state)
{
	static const struct {
		const char *s;
		int valid;
	} cases[] = {
		{ "a\xF0\x9F\x98\x80z", 1 },    /* U+1F600 */
		{ "\xF4\x8F\xBF\xBF", 1 },      /* U+10FFFF */
		{ "\xE2\x82\xAC\xC3\xA9x", 1 }, /* euro, e-acute */
		{ "\xED\x9F\xBF", 1 },          /* U+D7FF */
		{ "\xEE\x80\x80", 1 },          /* U+E000 */
		{ "a\xF0\x9F\x98", 0 },         /* truncated at the end */
		{ "\xF0\x9F\x98"
		  "A",
		  0 },                     /* truncated, then ASCII */
		{ "\xF0\x8F\xBF\xBF", 0 }, /* overlong 4-byte */
		{ "\xE0\x9F\xBF", 0 },     /* overlong 3-byte */
		{ "\xC1\xBF", 0 },         /* overlong 2-byte */
		{ "\xED\xA0\x80", 0 },     /* surrogate U+D800 */
		{ "\xED\xBF\xBF", 0 },     /* surrogate U+DFFF */
		{ "\xF4\x90\x80\x80", 0 }, /* U+110000 */
		{ "\xF5\x80\x80\x80", 0 },
		{ "ab\x80", 0 }, /* stray continuation */
	};
	size_t i, cut;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		const uint8_t *s = (const uint8_t *)cases[i].s;
		size_t n = strlen(cases[i].s);
		uint8_t v[16] = { 0x81, (uint8_t)n };
		struct rec want[] = { REC_DATA(WS_OP_TEXT, s, n) };

		assert_int_equal(ws_utf8_valid(s, n), cases[i].valid);
		memcpy(v + 2, s, n);
		/* one frame, split at every byte by feed_all_ways */
		run(WS_ROLE_CLIENT, 0, v, n + 2, want, cases[i].valid, cases[i].valid ? 0 : 1007);
		/* two fragments split at every offset of the payload */
		for (cut = 0; cut <= n; cut++)
			run_text_split(s, n, cut, cases[i].valid ? 0 : 1007);
	}
}

/* Binary messages are not checked for UTF-8. */
static void
test_binary_not_utf8(void **state)
{
	static const uint8_t v[] = { 0x82, 0x03, 0xFF, 0xC0, 0xED };
	static const struct rec want[] = { REC_DATA(WS_OP_BINARY, "\xFF\xC0\xED", 3) };
	(void)state;
	run(WS_ROLE_CLIENT, 0, v, sizeof(v), want, 1, 0);
}

/* ---- encoder round trip ------------------------------------------------- */

static void
roundtrip(uint64_t len, int masked)
{
	static const uint8_t key[4] = { 0xDE, 0xAD, 0xBE, 0xEF };
	size_t n = (size_t)len, h, want_h, off, step;
	uint8_t *payload = pattern(n, (unsigned)len), *v = malloc(WS_MAX_HEADER + n + 1);
	struct ws_parser p;
	struct ws_event ev;
	size_t got = 0, events = 0;
	ssize_t r;

	assert_non_null(v);
	h = ws_header_encode(v, WS_OP_BINARY, 1, len, masked ? key : NULL);
	want_h = (len < 126 ? 2 : len <= 65535 ? 4 : 10) + (masked ? 4 : 0);
	assert_int_equal(h, want_h);
	memcpy(v + h, payload, n);
	if (masked)
		ws_mask(v + h, n, key, 0);
	/* whole: the payload is reported in one zero-copy chunk */
	ws_parser_init(&p, masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT, 0);
	r = ws_parse(&p, v, h + n, &ev);
	assert_int_equal(r, (ssize_t)(h + n));
	assert_int_equal(ev.type, WS_EV_DATA);
	assert_ptr_equal(ev.data, v + h);
	assert_int_equal(ev.len, n);
	assert_true(ev.first && ev.last);
	assert_memory_equal(ev.data, payload, n);
	/* again in odd-sized pieces (the key offset runs across them) */
	if (masked)
		ws_mask(v + h, n, key, 0);
	ws_parser_init(&p, masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT, 0);
	step = 4093;
	for (off = 0; off < h + n || events == 0;) {
		size_t piece = UTIL_MIN(step, h + n - off);
		r = ws_parse(&p, v + off, piece, &ev);
		assert_true(r >= 0);
		off += (size_t)r;
		if (ev.type == WS_EV_DATA) {
			assert_memory_equal(ev.data, payload + got, ev.len);
			assert_int_equal(ev.first, got == 0);
			got += ev.len;
			assert_int_equal(ev.last, got == n);
			events += ev.last;
		}
	}
	assert_int_equal(got, n);
	assert_int_equal(events, 1);
	free(v);
	free(payload);
}

static void
test_encode_roundtrip(void **state)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 1 << 20 };
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(lens); i++) {
		roundtrip(lens[i], 0);
		roundtrip(lens[i], 1);
	}
}

static void
test_encode_flags(void **state)
{
	uint8_t out[WS_MAX_HEADER];

	(void)state;
	assert_int_equal(ws_header_encode(out, WS_OP_CLOSE, 1, 0, NULL), 2);
	assert_memory_equal(out, "\x88\x00", 2);
	assert_int_equal(ws_header_encode(out, WS_OP_BINARY, 0, 125, NULL), 2);
	assert_memory_equal(out, "\x02\x7D", 2);
	assert_int_equal(ws_header_encode(out, WS_OP_CONT, 0, 126, NULL), 4);
	assert_memory_equal(out, "\x00\x7E\x00\x7E", 4);
	assert_int_equal(ws_header_encode(out, WS_OP_BINARY, 1, 0xFFFF, (const uint8_t *)"KEYS"), 8);
	assert_memory_equal(out, "\x82\xFE\xFF\xFFKEYS", 8);
	assert_int_equal(
		ws_header_encode(out, WS_OP_BINARY, 1, 0x0102030405060708ull, (const uint8_t *)"abcd"), 14);
	assert_memory_equal(out,
			    "\x82\xFF\x01\x02\x03\x04\x05\x06\x07\x08"
			    "abcd",
			    14);
}

/* ---- masking ------------------------------------------------------------ */

static void
test_mask_reference(void **state)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0xAB, 0xCD };
	uint8_t buf[64], ref[64], orig[64];
	size_t off, len, align, i;

	(void)state;
	for (i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)(i * 7 + 1);
	for (align = 0; align < 8; align++)
		for (off = 0; off < 4; off++)
			for (len = 0; len <= 40; len++) {
				memcpy(buf, orig, sizeof(buf));
				memcpy(ref, orig, sizeof(ref));
				for (i = 0; i < len; i++)
					ref[align + i] ^= key[(off + i) % 4];
				ws_mask(buf + align, len, key, off);
				/* bytes outside the range are untouched */
				assert_memory_equal(buf, ref, sizeof(buf));
				ws_mask(buf + align, len, key, off);
				assert_memory_equal(buf, orig, sizeof(buf));
			}
	/* pieces with running offsets equal one pass */
	memcpy(buf, orig, 64);
	memcpy(ref, orig, 64);
	ws_mask(ref, 64, key, 0);
	ws_mask(buf, 3, key, 0);
	ws_mask(buf + 3, 10, key, 3);
	ws_mask(buf + 13, 51, key, 13);
	assert_memory_equal(buf, ref, 64);
}

/* ---- close payload ------------------------------------------------------ */

static void
test_close_payload(void **state)
{
	uint8_t out[WS_MAX_CONTROL];
	char reason[300];
	size_t n, i;

	(void)state;
	assert_int_equal(ws_close_payload_encode(out, 0, "x", 1), 0);
	n = ws_close_payload_encode(out, 1000, "bye", 3);
	assert_int_equal(n, 5);
	assert_memory_equal(out,
			    "\x03\xE8"
			    "bye",
			    5);
	memset(reason, 'r', sizeof(reason));
	n = ws_close_payload_encode(out, 1001, reason, 200);
	assert_int_equal(n, 125);
	/* 2-byte characters: 61 whole ones fit in 123 bytes */
	for (i = 0; i < 200; i += 2)
		memcpy(reason + i, "\xC3\xA9", 2);
	n = ws_close_payload_encode(out, 1002, reason, 200);
	assert_int_equal(n, 2 + 122);
	assert_true(ws_utf8_valid(out + 2, n - 2));
	/* a 4-byte character straddling the limit is dropped whole */
	memset(reason, 'a', sizeof(reason));
	memcpy(reason + 121, "\xF0\x9F\x98\x80", 4);
	n = ws_close_payload_encode(out, 4000, reason, 130);
	assert_int_equal(n, 2 + 121);
	assert_true(ws_utf8_valid(out + 2, n - 2));
	/* exactly 123 bytes ending in a whole character is kept */
	memcpy(reason + 119, "\xF0\x9F\x98\x80", 4);
	assert_int_equal(ws_close_payload_encode(out, 4000, reason, 123), 125);
}

/* The encoded close round-trips through the parser. */
static void
test_close_roundtrip(void **state)
{
	uint8_t v[WS_MAX_HEADER + WS_MAX_CONTROL];
	uint8_t payload[WS_MAX_CONTROL];
	struct rec want[] = { REC_CLOSE(1011, "internal \xE2\x9C\x93", 12) };
	size_t n, h;

	(void)state;
	n = ws_close_payload_encode(payload, 1011, "internal \xE2\x9C\x93", 12);
	h = ws_header_encode(v, WS_OP_CLOSE, 1, n, (const uint8_t *)"\x01\x02\x03\x04");
	memcpy(v + h, payload, n);
	ws_mask(v + h, n, (const uint8_t *)"\x01\x02\x03\x04", 0);
	run(WS_ROLE_SERVER, 0, v, h + n, want, 1, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_single_unmasked),
		cmocka_unit_test(test_rfc_single_masked),
		cmocka_unit_test(test_rfc_fragmented),
		cmocka_unit_test(test_rfc_ping_pong),
		cmocka_unit_test(test_rfc_256_bytes),
		cmocka_unit_test(test_rfc_64k),
		cmocka_unit_test(test_rfc_encode),
		cmocka_unit_test(test_ping_inside_fragmented),
		cmocka_unit_test(test_masked_fragments_with_ping),
		cmocka_unit_test(test_empty_frames),
		cmocka_unit_test(test_close_frames),
		cmocka_unit_test(test_close_codes),
		cmocka_unit_test(test_data_after_close),
		cmocka_unit_test(test_bad_vectors),
		cmocka_unit_test(test_error_after_chunk),
		cmocka_unit_test(test_max_message),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_utf8_split),
		cmocka_unit_test(test_binary_not_utf8),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_encode_flags),
		cmocka_unit_test(test_mask_reference),
		cmocka_unit_test(test_close_payload),
		cmocka_unit_test(test_close_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
