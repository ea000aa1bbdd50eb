/*
 * fuzz_ws.c: libFuzzer target for the WebSocket frame parser (ws.h).
 *
 * Input: byte 0 picks the split point (the rest is fed to ws_parse in two
 * pieces, each copied to its own heap buffer so ASan sees any over-read),
 * byte 1 picks a message size limit. Both roles parse every input.
 *
 * Besides "never crash", the target checks what the parser delivers
 * against a naive reference walker that decodes the same bytes frame by
 * frame without validating anything: as long as the parser has not failed,
 * the data it hands out (chunks concatenated per message, split at control
 * frames) and the control payloads it reports must equal the reference's,
 * byte for byte. So the announced frame lengths, the unmasking (with key
 * offsets across the split) and the zero-copy pointers are all checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define MAX_ITEMS 4096

/* One unit of delivered content: data gathered up to a boundary, or a control frame. */
struct item {
	int kind;         /* 0 data, ended by FIN; 1 data, ended by a control frame or input end; 2 control */
	unsigned opcode;  /* control: the opcode */
	const uint8_t *p; /* into the owner's buffer */
	size_t len;
};

struct items {
	struct item v[MAX_ITEMS];
	size_t n;
	uint8_t *buf; /* all payload bytes back to back */
	size_t len;
	size_t open; /* start in buf of the data being gathered */
};

static void
items_add_bytes(struct items *it, const uint8_t *p, size_t n)
{
	memcpy(it->buf + it->len, p, n);
	it->len += n;
}

/* Close the data being gathered as one item (kind 0 or 1); empty kind-1 items are dropped. */
static void
items_flush(struct items *it, int kind)
{
	size_t n = it->len - it->open;

	if ((n > 0 || kind == 0) && it->n < MAX_ITEMS)
		it->v[it->n++] = (struct item){ kind, 0, it->buf + it->open, n };
	it->open = it->len;
}

static void
items_control(struct items *it, unsigned opcode, const uint8_t *p, size_t n)
{
	items_flush(it, 1);
	items_add_bytes(it, p, n);
	if (it->n < MAX_ITEMS)
		it->v[it->n++] = (struct item){ 2, opcode, it->buf + it->open, n };
	it->open = it->len;
}

/* ---- reference: decode headers, unmask, nothing else ------------------ */

static void
reference(struct items *it, const uint8_t *in, size_t n)
{
	size_t off = 0;

	while (off + 2 <= n) {
		unsigned fin = in[off] >> 7, op = in[off] & 15u, masked = in[off + 1] >> 7;
		uint64_t len = in[off + 1] & 127u;
		size_t h = 2, i, take;
		uint8_t key[4] = { 0, 0, 0, 0 }, tmp[256];

		if (len == 126 || len == 127) {
			size_t ext = len == 126 ? 2 : 8;
			if (off + 2 + ext > n)
				break;
			for (len = 0, i = 0; i < ext; i++)
				len = len << 8 | in[off + 2 + i];
			h += ext;
		}
		if (masked) {
			if (off + h + 4 > n)
				break;
			memcpy(key, in + off + h, 4);
			h += 4;
		}
		off += h;
		take = (uint64_t)(n - off) < len ? n - off : (size_t)len;
		if (op & 8) {
			if (take < len)
				break; /* control frames are delivered whole only */
			for (i = 0; i < take && i < sizeof(tmp); i++)
				tmp[i] = in[off + i] ^ key[i & 3];
			items_control(it, op, tmp, take < sizeof(tmp) ? take : sizeof(tmp));
		} else {
			for (i = 0; i < take; i++) {
				uint8_t b = in[off + i] ^ key[i & 3];
				items_add_bytes(it, &b, 1);
			}
			if (take == len && fin)
				items_flush(it, 0);
		}
		off += take;
		if (take < len)
			break;
	}
	items_flush(it, 1);
}

/* ---- the parser under test ---------------------------------------------- */

static void
on_event(struct items *it, const struct ws_event *ev, const uint8_t *piece, size_t n)
{
	uint8_t close[WS_MAX_CONTROL];
	size_t cl = 0;

	switch (ev->type) {
	case WS_EV_DATA:
		if (ev->data < piece || ev->data + ev->len > piece + n)
			abort(); /* not zero-copy from this piece */
		if (ev->len == 0 && !ev->last)
			abort();
		items_add_bytes(it, ev->data, ev->len);
		if (ev->last)
			items_flush(it, 0);
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
		if (ev->len > WS_MAX_CONTROL)
			abort();
		items_control(it, ev->type == WS_EV_PING ? WS_OP_PING : WS_OP_PONG, ev->data, ev->len);
		break;
	case WS_EV_CLOSE:
		if (!(ev->code == WS_CLOSE_NO_STATUS && ev->reason_len == 0)) {
			if (!ws_close_code_valid(ev->code) ||
			    !ws_utf8_valid((const uint8_t *)ev->reason, ev->reason_len))
				abort();
			cl = ws_close_payload_encode(close, ev->code, ev->reason, ev->reason_len);
		}
		items_control(it, WS_OP_CLOSE, close, cl);
		break;
	default: abort();
	}
}

/* Feed one piece; returns -1 once the parser failed. */
static int
feed(struct ws_parser *p, struct items *it, const uint8_t *src, size_t n)
{
	uint8_t *piece = malloc(n ? n : 1);
	struct ws_event ev;
	size_t off = 0;
	int rc = 0;

	if (n)
		memcpy(piece, src, n);
	while (off < n) {
		ssize_t r = ws_parse(p, piece + off, n - off, &ev);
		if (r < 0) {
			if (p->close_code != WS_CLOSE_PROTOCOL && p->close_code != WS_CLOSE_INVALID_DATA &&
			    p->close_code != WS_CLOSE_TOO_BIG)
				abort();
			rc = -1;
			break;
		}
		if (r == 0)
			abort(); /* no progress on non-empty input */
		off += (size_t)r;
		if (ev.type != WS_EV_NONE)
			on_event(it, &ev, piece, n);
	}
	free(piece);
	return rc;
}

static int
same(const struct item *a, const struct item *b, int prefix)
{
	if (a->kind == 2 || b->kind == 2)
		return a->kind == b->kind && a->opcode == b->opcode && a->len == b->len &&
		       memcmp(a->p, b->p, a->len) == 0;
	if (prefix)
		return a->len <= b->len && memcmp(a->p, b->p, a->len) == 0;
	return a->kind == b->kind && a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static void
run(enum ws_role role, uint64_t max, const uint8_t *in, size_t n, size_t cut)
{
	static struct items got, want;
	struct ws_parser p;
	size_t i;
	int failed;

	got.n = got.len = got.open = want.n = want.len = want.open = 0;
	got.buf = malloc(n + 256 * (n / 2 + 1));
	want.buf = malloc(n + 256 * (n / 2 + 1));
	ws_parser_init(&p, role, max);
	failed = feed(&p, &got, in, cut) != 0 || feed(&p, &got, in + cut, n - cut) != 0;
	items_flush(&got, 1);
	reference(&want, in, n);
	/*
	 * Every item the parser delivered matches the reference; after an
	 * error the last one may be cut short (a prefix). Without an error
	 * the two agree exactly, down to the partial frame at the end.
	 */
	if (got.n > want.n || (!failed && got.n != want.n))
		abort();
	for (i = 0; i < got.n; i++)
		if (!same(&got.v[i], &want.v[i], failed && i + 1 == got.n && got.v[i].kind == 1))
			abort();
	free(got.buf);
	free(want.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, cut;
	uint64_t max;

	if (size < 2)
		return 0;
	n = size - 2;
	cut = n ? data[0] % (n + 1) : 0;
	max = data[1] < 128 ? 0 : (uint64_t)(data[1] - 127) * 4;
	run(WS_ROLE_SERVER, max, data + 2, n, cut);
	run(WS_ROLE_CLIENT, max, data + 2, n, cut);
	return 0;
}
