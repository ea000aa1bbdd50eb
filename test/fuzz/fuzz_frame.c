/*
 * fuzz_frame.c: libFuzzer target for the tunnel frame reader.
 *
 * Input layout:
 *   byte 0     bits 0-3: number of cut points k; bit 4: feed the message a
 *              second time (whole) on the same reader; bit 5: prepend four
 *              big DATA frames so the message nears the 262,144-byte limit
 *   2k bytes   cut points, u16 big-endian, taken modulo the message length
 *   the rest   the WebSocket message payload
 *
 * Each chunk is copied into its own malloc'd buffer of exactly its size
 * (freed right after), so ASan sees any read outside it. The result is
 * compared with a straightforward whole-message parser written here from
 * PROTOCOL.md: same verdict, same error codes, same frames and bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define CHECK(c)                                                                                             \
	do {                                                                                                 \
		if (!(c))                                                                                    \
			abort();                                                                             \
	} while (0)

#define PREFIX_FRAMES 4
#define PREFIX_LAST_LEN (65536 - 300)

/* ---- reference parser --------------------------------------------------- */

struct ref_frame {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	size_t off; /* payload offset in the message */
};

struct ref {
	int err, ws; /* 0, 0: accepted */
	size_t nframes;
	struct ref_frame f[FRAME_MSG_MAX_FRAMES];
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
ref_fail(struct ref *r, int err, int ws)
{
	r->err = err;
	r->ws = ws;
	return -1;
}

/* One frame at offset o; 1 = go on, 0 = message done, -1 = error. */
static int
ref_frame(struct ref *r, const uint8_t *m, size_t n, size_t *o, size_t *frames)
{
	size_t take = UTIL_MIN((size_t)FRAME_HEADER_LEN, n - *o);
	uint8_t type;
	uint32_t len;
	int known, ext;

	if (*o == n)
		return *frames ? 0 : ref_fail(r, FRAME_CODE_PROTOCOL_ERROR, 1002);
	if (*frames == FRAME_MSG_MAX_FRAMES)
		return ref_fail(r, FRAME_CODE_PROTOCOL_ERROR, 1002);
	if (*o + take > FRAME_MSG_MAX_BYTES)
		return ref_fail(r, FRAME_CODE_FRAME_SIZE_ERROR, 1009);
	if (take < FRAME_HEADER_LEN)
		return ref_fail(r, FRAME_CODE_PROTOCOL_ERROR, 1002);
	type = m[*o];
	len = be32(m + *o + 5);
	known = frame_type_known(type);
	ext = type >= 0x40 && type <= 0x7F;
	if (!known && !ext)
		return ref_fail(r, FRAME_CODE_PROTOCOL_ERROR, 1002);
	if (len > FRAME_MAX_PAYLOAD)
		return ref_fail(r, FRAME_CODE_FRAME_SIZE_ERROR, 1002);
	if (*o + FRAME_HEADER_LEN + len > FRAME_MSG_MAX_BYTES)
		return ref_fail(r, FRAME_CODE_FRAME_SIZE_ERROR, 1009);
	if (known)
		r->f[r->nframes++] = (struct ref_frame){ type, be32(m + *o + 1), len, *o + FRAME_HEADER_LEN };
	if (n - *o - FRAME_HEADER_LEN < len)
		return ref_fail(r, FRAME_CODE_PROTOCOL_ERROR, 1002);
	*o += FRAME_HEADER_LEN + len;
	(*frames)++;
	return 1;
}

static void
ref_parse(struct ref *r, const uint8_t *m, size_t n)
{
	size_t o = 0, frames = 0;

	memset(r, 0, sizeof(*r));
	while (ref_frame(r, m, n, &o, &frames) > 0)
		;
}

/* ---- the reader under test ---------------------------------------------- */

struct run {
	struct frame_reader rd;
	const struct ref *ref;
	const uint8_t *msg; /* the whole message, to compare payload bytes */
	size_t j;           /* next reference frame */
	size_t data_have;   /* bytes of reference frame j seen so far (DATA) */
	int failed, ended;
};

static void
on_event(struct run *u, const struct frame_event *ev, const uint8_t *in, size_t n)
{
	const struct ref_frame *f;
	const uint8_t *acc = u->rd.acc;
	int in_chunk = ev->payload >= in && ev->payload + ev->len <= in + n;
	int in_acc = acc && ev->payload >= acc && ev->payload + ev->len <= acc + FRAME_MAX_PAYLOAD;

	CHECK(u->j < u->ref->nframes);
	f = &u->ref->f[u->j];
	CHECK(ev->frame_type == f->type && ev->stream_id == f->sid);
	if (ev->type == FRAME_EV_CONTROL) {
		CHECK(ev->len == 0 || in_chunk || in_acc);
		CHECK(ev->len == f->len);
		CHECK(memcmp(ev->payload, u->msg + f->off, ev->len) == 0);
		u->j++;
		return;
	}
	CHECK(in_chunk);
	CHECK(ev->frame_type == FRAME_DATA && ev->frame_len == f->len);
	CHECK(ev->frame_start == (u->data_have == 0));
	CHECK(ev->len > 0 || f->len == 0);
	CHECK(u->data_have + ev->len <= f->len);
	CHECK(memcmp(ev->payload, u->msg + f->off + u->data_have, ev->len) == 0);
	u->data_have += ev->len;
	CHECK(ev->frame_end == (u->data_have == f->len));
	if (ev->frame_end) {
		u->j++;
		u->data_have = 0;
	}
}

static void
feed_chunk(struct run *u, const uint8_t *src, size_t n, int msg_end)
{
	uint8_t *in = malloc(n ? n : 1);
	const uint8_t *p = in;
	size_t left = n;
	struct frame_event ev;

	CHECK(in != NULL);
	memcpy(in, src, n);
	while (!u->failed) {
		ssize_t k = frame_reader_feed(&u->rd, p, left, msg_end, &ev);

		if (k < 0) {
			CHECK(k == HT_ERROR);
			u->failed = 1;
			break;
		}
		CHECK((size_t)k <= left);
		if (ev.type == FRAME_EV_CONTROL || ev.type == FRAME_EV_DATA)
			on_event(u, &ev, p, left);
		p += k;
		left -= (size_t)k;
		if (ev.type == FRAME_EV_NONE) {
			CHECK(left == 0 && !msg_end);
			break;
		}
		if (ev.type == FRAME_EV_MESSAGE_END) {
			CHECK(left == 0 && msg_end);
			u->ended = 1;
			break;
		}
	}
	free(in);
}

/* Feed msg[0..n) cut at cuts[0..k) (ascending); check against ref. */
static void
run_message(struct run *u, const struct ref *ref, const uint8_t *msg, size_t n, const size_t *cuts, size_t k)
{
	size_t i, at = 0;

	u->ref = ref;
	u->msg = msg;
	u->j = 0;
	u->data_have = 0;
	u->ended = 0;
	for (i = 0; i < k; i++) {
		feed_chunk(u, msg + at, cuts[i] - at, 0);
		at = cuts[i];
	}
	feed_chunk(u, msg + at, n - at, 1);
	if (ref->err) {
		CHECK(u->failed && !u->ended);
		CHECK(u->rd.err == ref->err && u->rd.ws_close_code == ref->ws);
		CHECK(u->rd.reason != NULL && u->rd.reason[0] != '\0');
	} else {
		CHECK(!u->failed && u->ended);
		CHECK(u->j == ref->nframes);
	}
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Message = optional big prefix + the fuzzer's bytes. */
static uint8_t *
make_message(int prefix, const uint8_t *data, size_t size, size_t *n)
{
	size_t pre = 0, i;
	uint8_t *m;

	if (prefix)
		pre = (PREFIX_FRAMES - 1) * (FRAME_HEADER_LEN + 65536) + FRAME_HEADER_LEN + PREFIX_LAST_LEN;
	m = calloc(1, pre + size + 1);
	CHECK(m != NULL);
	for (i = 0; prefix && i < PREFIX_FRAMES; i++) {
		uint32_t len = i + 1 < PREFIX_FRAMES ? 65536 : PREFIX_LAST_LEN;
		size_t at = i * (FRAME_HEADER_LEN + 65536);

		frame_header_encode(m + at, FRAME_DATA, (uint32_t)i + 1, len);
	}
	if (size)
		memcpy(m + pre, data, size);
	*n = pre + size;
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ref ref;
	struct run u;
	size_t k, i, n, cuts[16];
	uint8_t *msg;
	int again, prefix;

	if (size < 1)
		return 0;
	k = data[0] & 15;
	again = (data[0] >> 4) & 1;
	prefix = (data[0] >> 5) & 1;
	if (size < 1 + 2 * k)
		return 0;
	msg = make_message(prefix, data + 1 + 2 * k, size - 1 - 2 * k, &n);
	for (i = 0; i < k; i++)
		cuts[i] = ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (n + 1);
	qsort(cuts, k, sizeof(cuts[0]), cmp_size);

	ref_parse(&ref, msg, n);
	memset(&u, 0, sizeof(u));
	frame_reader_init(&u.rd);
	run_message(&u, &ref, msg, n, cuts, k);
	if (again && !ref.err)
		run_message(&u, &ref, msg, n, NULL, 0);
	frame_reader_fini(&u.rd);
	free(msg);
	return 0;
}
