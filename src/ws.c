/*
 * ws.c: WebSocket frame parser and encoder (RFC 6455), see ws.h.
 *
 * The parser is a flat state machine over the header fields. Header bytes
 * beyond the first two are gathered into p->hdr so input may be split at
 * any byte; each field is validated as soon as it is complete, so a bad
 * frame is refused before its payload is looked at. Data payload is
 * unmasked in place and reported zero-copy; control payload is gathered in
 * p->ctl and reported whole once the frame is complete.
 *
 * No allocation, no I/O, no reassembly of data messages.
 */
#include "ws.h"

#include <assert.h>
#include <string.h>

/* ---- UTF-8 -------------------------------------------------------------- */

/*
 * Start a sequence at lead byte b (>= 0x80): how many continuation bytes
 * follow and the range allowed for the first one, which is where overlong
 * forms, surrogates and code points above U+10FFFF are excluded (RFC 3629).
 */
static int
utf8_lead(struct ws_utf8 *u, uint8_t b)
{
	u->lo = 0x80;
	u->hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF) {
		u->need = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		u->need = 2;
		if (b == 0xE0)
			u->lo = 0xA0; /* overlong below U+0800 */
		else if (b == 0xED)
			u->hi = 0x9F; /* surrogates U+D800..DFFF */
	} else if (b >= 0xF0 && b <= 0xF4) {
		u->need = 3;
		if (b == 0xF0)
			u->lo = 0x90; /* overlong below U+10000 */
		else if (b == 0xF4)
			u->hi = 0x8F; /* above U+10FFFF */
	} else {
		return -1; /* continuation byte, C0/C1 overlong, F5..FF */
	}
	return 0;
}

/* see ws.h */
int
ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b = p[i];
		if (u->need > 0) {
			if (b < u->lo || b > u->hi)
				return -1;
			u->need--;
			u->lo = 0x80;
			u->hi = 0xBF;
			i++;
			continue;
		}
		/* Between characters: skip ASCII a word at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i < n && p[i] < 0x80) {
			i++;
			continue;
		}
		if (i < n && utf8_lead(u, p[i++]) != 0)
			return -1;
	}
	return 0;
}

/* see ws.h */
int
ws_utf8_valid(const uint8_t *p, size_t n)
{
	struct ws_utf8 u = { 0, 0, 0 };

	return ws_utf8_feed(&u, p, n) == 0 && ws_utf8_complete(&u);
}

/* ---- masking and encoding ----------------------------------------------- */

/* see ws.h */
void
ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t offset)
{
	uint8_t k[8];
	uint64_t w, x;
	size_t i;

	/* The key rotated to start at offset, twice: p[i] ^= k[i & 7]. */
	for (i = 0; i < 8; i++)
		k[i] = key[(offset + i) & 3];
	memcpy(&w, k, 8);
	for (i = 0; i + 32 <= n; i += 32) {
		uint64_t v[4];
		memcpy(v, p + i, 32);
		v[0] ^= w;
		v[1] ^= w;
		v[2] ^= w;
		v[3] ^= w;
		memcpy(p + i, v, 32);
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, p + i, 8);
		x ^= w;
		memcpy(p + i, &x, 8);
	}
	for (; i < n; i++)
		p[i] ^= k[i & 7];
}

/* see ws.h */
size_t
ws_header_encode(uint8_t out[WS_MAX_HEADER], unsigned opcode, int fin, uint64_t payload_len,
		 const uint8_t *mask_key)
{
	size_t h = 2;
	int i;

	out[0] = (uint8_t)((fin ? 0x80u : 0u) | (opcode & 0x0Fu));
	if (payload_len < 126) {
		out[1] = (uint8_t)payload_len;
	} else if (payload_len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		h = 4;
	} else {
		out[1] = 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		h = 10;
	}
	if (mask_key != NULL) {
		out[1] |= 0x80;
		memcpy(out + h, mask_key, 4);
		h += 4;
	}
	return h;
}

/* see ws.h */
int
ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* see ws.h */
const char *
ws_close_code_name(unsigned code)
{
	switch (code) {
	case WS_CLOSE_NORMAL: return "normal closure";
	case WS_CLOSE_GOING_AWAY: return "going away";
	case WS_CLOSE_PROTOCOL: return "protocol error";
	case WS_CLOSE_UNSUPPORTED: return "unsupported data";
	case WS_CLOSE_NO_STATUS: return "no status";
	case WS_CLOSE_ABNORMAL: return "abnormal closure";
	case WS_CLOSE_INVALID_DATA: return "invalid data";
	case WS_CLOSE_POLICY: return "policy violation";
	case WS_CLOSE_TOO_BIG: return "message too big";
	case WS_CLOSE_EXTENSION: return "extension required";
	case WS_CLOSE_INTERNAL: return "internal error";
	case WS_CLOSE_SERVICE_RESTART: return "service restart";
	case WS_CLOSE_TRY_AGAIN_LATER: return "try again later";
	case WS_CLOSE_BAD_GATEWAY: return "bad gateway";
	default: return NULL;
	}
}

/* see ws.h */
size_t
ws_close_payload_encode(uint8_t out[WS_MAX_CONTROL], unsigned code, const char *reason, size_t len)
{
	if (code == 0)
		return 0;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (len > WS_MAX_CLOSE_REASON) {
		/* Cut before the character that straddles the limit. */
		len = WS_MAX_CLOSE_REASON;
		while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
			len--;
	}
	if (len > 0)
		memcpy(out + 2, reason, len);
	return 2 + len;
}

/* ---- parser ------------------------------------------------------------- */

/* Every state change goes through here (one place to trace or assert). */
static void
set_state(struct ws_parser *p, enum ws_rx_state state)
{
	assert(state < WS_RX_MAX);
	p->state = state;
}

/* see ws.h */
void
ws_parser_init(struct ws_parser *p, enum ws_role role, uint64_t max_message)
{
	memset(p, 0, sizeof(*p));
	set_state(p, WS_RX_HDR1);
	p->role = role;
	p->max_message = max_message ? max_message : UINT64_MAX;
}

/* see ws.h */
int
ws_parser_in_message(const struct ws_parser *p)
{
	return p->in_message;
}

/* see ws.h */
int
ws_parser_closed(const struct ws_parser *p)
{
	return p->state == WS_RX_CLOSED;
}

static ssize_t
fail(struct ws_parser *p, unsigned code, const char *why)
{
	set_state(p, WS_RX_FAILED);
	p->close_code = code;
	p->error = why;
	return HT_ERROR;
}

static void
gather(struct ws_parser *p, enum ws_rx_state state, uint8_t need)
{
	set_state(p, state);
	p->need = need;
	p->have = 0;
}

static int
is_control(unsigned opcode)
{
	return (opcode & 0x8) != 0;
}

/* First header byte: FIN, RSV, opcode and its place in the message sequence. */
static ssize_t
on_hdr1(struct ws_parser *p, uint8_t b)
{
	unsigned op = b & 0x0Fu;

	if (b & 0x70)
		return fail(p, WS_CLOSE_PROTOCOL, "RSV bits set without an extension");
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
	    op != WS_OP_PING && op != WS_OP_PONG)
		return fail(p, WS_CLOSE_PROTOCOL, "unknown opcode");
	p->fin = (uint8_t)(b >> 7);
	p->opcode = (uint8_t)op;
	if (is_control(op)) {
		if (!p->fin)
			return fail(p, WS_CLOSE_PROTOCOL, "fragmented control frame");
	} else if (op == WS_OP_CONT) {
		if (!p->in_message)
			return fail(p, WS_CLOSE_PROTOCOL, "continuation frame without a message");
	} else if (p->in_message) {
		return fail(p, WS_CLOSE_PROTOCOL, "new data message inside a fragmented message");
	}
	set_state(p, WS_RX_HDR2);
	return 0;
}

/*
 * The payload length is known: check the message limit. Returns 0 when a
 * mask key follows, 1 when the header is complete, or HT_ERROR.
 */
static ssize_t
on_length(struct ws_parser *p, uint64_t len)
{
	p->frame_len = len;
	if (!is_control(p->opcode)) {
		uint64_t so_far = p->opcode == WS_OP_CONT ? p->msg_len : 0;
		if (len > p->max_message - so_far)
			return fail(p, WS_CLOSE_TOO_BIG, "message too big");
	}
	if (!p->masked)
		return 1;
	gather(p, WS_RX_MASK, 4);
	return 0;
}

/* Second header byte: MASK bit and the 7-bit length. Returns as on_length(). */
static ssize_t
on_hdr2(struct ws_parser *p, uint8_t b)
{
	unsigned len7 = b & 0x7Fu;

	p->masked = (uint8_t)(b >> 7);
	if (p->role == WS_ROLE_SERVER && !p->masked)
		return fail(p, WS_CLOSE_PROTOCOL, "unmasked frame from client");
	if (p->role == WS_ROLE_CLIENT && p->masked)
		return fail(p, WS_CLOSE_PROTOCOL, "masked frame from server");
	if (is_control(p->opcode) && len7 > WS_MAX_CONTROL)
		return fail(p, WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
	if (len7 == 126) {
		gather(p, WS_RX_LEN16, 2);
		return 0;
	}
	if (len7 == 127) {
		gather(p, WS_RX_LEN64, 8);
		return 0;
	}
	return on_length(p, len7);
}

/* Extended length complete in p->hdr. Returns as on_length(). */
static ssize_t
on_extlen(struct ws_parser *p)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < p->have; i++)
		v = v << 8 | p->hdr[i];
	if (p->state == WS_RX_LEN16) {
		if (v < 126)
			return fail(p, WS_CLOSE_PROTOCOL, "non-minimal 16-bit length");
	} else {
		if (v >> 63)
			return fail(p, WS_CLOSE_PROTOCOL, "64-bit length with the top bit set");
		if (v <= 0xFFFF)
			return fail(p, WS_CLOSE_PROTOCOL, "non-minimal 64-bit length");
	}
	return on_length(p, v);
}

/*
 * The header is complete (length known, key read if any): account the
 * frame in its message. Returns 1 when the frame has no payload and must be
 * finished at once, else 0 (state is then WS_RX_PAYLOAD).
 */
static int
frame_begin(struct ws_parser *p)
{
	p->frame_left = p->frame_len;
	if (is_control(p->opcode)) {
		p->ctl_len = 0;
	} else {
		if (p->opcode != WS_OP_CONT) {
			p->in_message = 1;
			p->msg_opcode = p->opcode;
			p->msg_first = 1;
			p->msg_len = 0;
			memset(&p->utf8, 0, sizeof(p->utf8));
		}
		p->msg_len += p->frame_len;
	}
	if (p->frame_len == 0)
		return 1;
	set_state(p, WS_RX_PAYLOAD);
	return 0;
}

/* A whole CLOSE payload is in p->ctl: validate it into ev. */
static ssize_t
close_done(struct ws_parser *p, struct ws_event *ev)
{
	ev->code = WS_CLOSE_NO_STATUS;
	ev->reason = (const char *)p->ctl + 2;
	ev->reason_len = 0;
	if (p->ctl_len == 1)
		return fail(p, WS_CLOSE_PROTOCOL, "close payload of one byte");
	if (p->ctl_len >= 2) {
		ev->code = (unsigned)p->ctl[0] << 8 | p->ctl[1];
		ev->reason_len = (size_t)p->ctl_len - 2;
		if (!ws_close_code_valid(ev->code))
			return fail(p, WS_CLOSE_PROTOCOL, "invalid close code");
		if (!ws_utf8_valid(p->ctl + 2, ev->reason_len))
			return fail(p, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
	}
	ev->type = WS_EV_CLOSE;
	set_state(p, WS_RX_CLOSED);
	return 0;
}

/* A whole control frame is in p->ctl: report it. */
static ssize_t
control_done(struct ws_parser *p, struct ws_event *ev)
{
	set_state(p, WS_RX_HDR1);
	if (p->opcode == WS_OP_CLOSE)
		return close_done(p, ev);
	ev->type = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
	ev->data = p->ctl;
	ev->len = p->ctl_len;
	return 0;
}

/* Gather control payload; report the frame when it is complete. */
static ssize_t
control_chunk(struct ws_parser *p, const uint8_t *in, size_t n, struct ws_event *ev)
{
	uint8_t *dst = p->ctl + p->ctl_len;

	memcpy(dst, in, n);
	if (p->masked)
		ws_mask(dst, n, p->key, p->ctl_len);
	p->ctl_len = (uint8_t)(p->ctl_len + n);
	p->frame_left -= n;
	if (p->frame_left == 0)
		return control_done(p, ev);
	return 0;
}

/*
 * n bytes of data payload at in (n may be 0 only for an empty frame):
 * unmask, validate text, report. The final chunk of a text message must
 * end on a character boundary.
 */
static ssize_t
data_chunk(struct ws_parser *p, uint8_t *in, size_t n, struct ws_event *ev)
{
	int last;

	if (p->masked)
		ws_mask(in, n, p->key, (size_t)((p->frame_len - p->frame_left) & 3));
	p->frame_left -= n;
	last = p->frame_left == 0 && p->fin;
	if (p->msg_opcode == WS_OP_TEXT) {
		if (ws_utf8_feed(&p->utf8, in, n) != 0)
			return fail(p, WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
		if (last && !ws_utf8_complete(&p->utf8))
			return fail(p, WS_CLOSE_INVALID_DATA, "text message ends inside a character");
	}
	if (p->frame_left == 0)
		set_state(p, WS_RX_HDR1);
	if (n == 0 && !last)
		return 0; /* empty non-final fragment: nothing to tell */
	ev->type = WS_EV_DATA;
	ev->data = in;
	ev->len = n;
	ev->opcode = p->msg_opcode;
	ev->first = p->msg_first;
	ev->last = last;
	p->msg_first = 0;
	if (last)
		p->in_message = 0;
	return 0;
}

/* Header complete: start the frame, finishing it at once when empty. */
static ssize_t
header_done(struct ws_parser *p, uint8_t *at, struct ws_event *ev)
{
	if (!frame_begin(p))
		return 0;
	if (is_control(p->opcode))
		return control_done(p, ev);
	return data_chunk(p, at, 0, ev);
}

/* Gather one byte of a multi-byte header field; act when it is complete. */
static ssize_t
on_gathered(struct ws_parser *p, uint8_t b, uint8_t *next, struct ws_event *ev)
{
	ssize_t rc;

	p->hdr[p->have++] = b;
	if (p->have < p->need)
		return 0;
	if (p->state == WS_RX_MASK) {
		memcpy(p->key, p->hdr, 4);
		return header_done(p, next, ev);
	}
	rc = on_extlen(p);
	if (rc != 1)
		return rc;
	return header_done(p, next, ev);
}

/* see ws.h */
ssize_t
ws_parse(struct ws_parser *p, uint8_t *in, size_t n, struct ws_event *ev)
{
	size_t off = 0;
	ssize_t rc = 0;

	ev->type = WS_EV_NONE;
	while (ev->type == WS_EV_NONE && off < n) {
		switch (p->state) {
		case WS_RX_HDR1: rc = on_hdr1(p, in[off++]); break;
		case WS_RX_HDR2:
			rc = on_hdr2(p, in[off++]);
			if (rc == 1)
				rc = header_done(p, in + off, ev);
			break;
		case WS_RX_LEN16:
		case WS_RX_LEN64:
		case WS_RX_MASK:
			off++;
			rc = on_gathered(p, in[off - 1], in + off, ev);
			break;
		case WS_RX_PAYLOAD: {
			size_t take = n - off;
			if (take > p->frame_left)
				take = (size_t)p->frame_left;
			if (is_control(p->opcode))
				rc = control_chunk(p, in + off, take, ev);
			else
				rc = data_chunk(p, in + off, take, ev);
			off += take;
			break;
		}
		case WS_RX_CLOSED: return fail(p, WS_CLOSE_PROTOCOL, "data after a close frame");
		case WS_RX_FAILED:
		case WS_RX_MAX:
		default: return HT_ERROR;
		}
		if (rc != 0)
			return HT_ERROR;
	}
	if (n == 0 && p->state == WS_RX_FAILED)
		return HT_ERROR;
	return (ssize_t)off;
}
