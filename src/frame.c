/*
 * frame.c: tunnel frame codec (see frame.h).
 *
 * The reader is a four-state machine (header, DATA payload, control
 * payload, skipped payload) driven by the chunks of one WebSocket message.
 * Every limit is checked at the byte that breaks it, in a fixed order per
 * frame (frame count, message size on header bytes, type, frame length,
 * message size with the payload, truncation), so a message is accepted or
 * rejected the same way whatever its chunking. DATA payload is reported
 * as pointers into the caller's chunk; only a non-DATA payload that is
 * split across chunks is copied, into one lazily allocated buffer.
 *
 * The writer side is planning only: the tunnel layer builds the iovecs.
 */
#include "frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[FRAME_CODE_MAX] = {
	[FRAME_CODE_NO_ERROR] = "NO_ERROR",
	[FRAME_CODE_PROTOCOL_ERROR] = "PROTOCOL_ERROR",
	[FRAME_CODE_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[FRAME_CODE_FLOW_CONTROL_ERROR] = "FLOW_CONTROL_ERROR",
	[FRAME_CODE_STREAM_CLOSED] = "STREAM_CLOSED",
	[FRAME_CODE_FRAME_SIZE_ERROR] = "FRAME_SIZE_ERROR",
	[FRAME_CODE_REFUSED_STREAM] = "REFUSED_STREAM",
	[FRAME_CODE_CANCEL] = "CANCEL",
	[FRAME_CODE_ENHANCE_YOUR_CALM] = "ENHANCE_YOUR_CALM",
	[FRAME_CODE_BIND_ERROR] = "BIND_ERROR",
	[FRAME_CODE_IDLE_TIMEOUT] = "IDLE_TIMEOUT",
	[FRAME_CODE_AUTH_ERROR] = "AUTH_ERROR",
	[FRAME_CODE_VERSION_MISMATCH] = "VERSION_MISMATCH",
	[FRAME_CODE_BIND_TAKEOVER] = "BIND_TAKEOVER",
	[FRAME_CODE_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
};

/* Indexed by type byte; NULL = unknown. */
static const char *const type_names[0x80] = {
	[FRAME_HELLO] = "HELLO",
	[FRAME_HELLO_OK] = "HELLO_OK",
	[FRAME_BIND] = "BIND",
	[FRAME_BIND_OK] = "BIND_OK",
	[FRAME_BIND_ERR] = "BIND_ERR",
	[FRAME_UNBIND] = "UNBIND",
	[FRAME_UNBIND_OK] = "UNBIND_OK",
	[FRAME_UNBIND_ERR] = "UNBIND_ERR",
	[FRAME_JOIN] = "JOIN",
	[FRAME_JOIN_OK] = "JOIN_OK",
	[FRAME_JOIN_ERR] = "JOIN_ERR",
	[FRAME_SHARD_MAP] = "SHARD_MAP",
	[FRAME_REISSUE_JOIN_TICKETS] = "REISSUE_JOIN_TICKETS",
	[FRAME_STREAM_OPEN] = "STREAM_OPEN",
	[FRAME_DATA] = "DATA",
	[FRAME_EOF] = "EOF",
	[FRAME_RESET] = "RESET",
	[FRAME_WINDOW] = "WINDOW",
	[FRAME_STREAM_RESPONSE_HEAD] = "STREAM_RESPONSE_HEAD",
	[FRAME_PING] = "PING",
	[FRAME_PONG] = "PONG",
	[FRAME_GOAWAY] = "GOAWAY",
	[FRAME_BIND_REVOKED] = "BIND_REVOKED",
	[FRAME_FORWARD_OPEN] = "FORWARD_OPEN",
	[FRAME_FORWARD_OK] = "FORWARD_OK",
	[FRAME_FORWARD_ERR] = "FORWARD_ERR",
};

/* see frame.h */
const char *
frame_code_name(unsigned code)
{
	return code < FRAME_CODE_MAX ? code_names[code] : "UNKNOWN";
}

/* see frame.h */
const char *
frame_type_name(unsigned type)
{
	return type < UTIL_ARRAY_SIZE(type_names) && type_names[type] ? type_names[type] : "UNKNOWN";
}

/* see frame.h */
int
frame_type_known(uint8_t type)
{
	return type < UTIL_ARRAY_SIZE(type_names) && type_names[type] != NULL;
}

/* ---- byte order and UTF-8 ----------------------------------------------- */

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Length of the longest prefix of p[0..n) made of whole, well-formed UTF-8
 * characters (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
 * A character cut by the end of the range is not part of the prefix.
 */
static size_t
utf8_valid_prefix(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t need, k;
		uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3;
		else
			return i;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
		else if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
		if (n - i <= need)
			return i;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (k = 2; k <= need; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return i;
		i += need + 1;
	}
	return i;
}

/* ---- header and small payloads ----------------------------------------- */

/* see frame.h */
void
frame_header_encode(uint8_t out[FRAME_HEADER_LEN], uint8_t type, uint32_t stream_id, uint32_t len)
{
	out[0] = type;
	put_be32(out + 1, stream_id);
	put_be32(out + 5, len);
}

/* see frame.h */
void
frame_header_decode(const uint8_t in[FRAME_HEADER_LEN], struct frame_header *h)
{
	h->type = in[0];
	h->stream_id = get_be32(in + 1);
	h->len = get_be32(in + 5);
}

/* see frame.h */
size_t
frame_code_encode(uint8_t *out, size_t cap, uint16_t code, const char *reason)
{
	size_t room, rlen;

	if (cap < FRAME_CODE_MIN_LEN)
		return 0;
	put_be16(out, code);
	room = UTIL_MIN(cap, (size_t)FRAME_MAX_PAYLOAD) - FRAME_CODE_MIN_LEN;
	rlen = reason ? strnlen(reason, room) : 0;
	rlen = utf8_valid_prefix((const uint8_t *)reason, rlen);
	if (rlen)
		memcpy(out + FRAME_CODE_MIN_LEN, reason, rlen);
	return FRAME_CODE_MIN_LEN + rlen;
}

/* see frame.h */
int
frame_code_decode(const uint8_t *p, size_t n, struct frame_code_payload *out)
{
	size_t rlen;

	if (n < FRAME_CODE_MIN_LEN)
		return FRAME_CODE_FRAME_SIZE_ERROR;
	out->code = (uint16_t)(p[0] << 8 | p[1]);
	out->reason = (const char *)(p + FRAME_CODE_MIN_LEN);
	rlen = n - FRAME_CODE_MIN_LEN;
	out->reason_len = utf8_valid_prefix(p + FRAME_CODE_MIN_LEN, rlen);
	out->reason_cut = out->reason_len != rlen;
	return FRAME_CODE_NO_ERROR;
}

/* see frame.h */
void
frame_window_encode(uint8_t out[FRAME_WINDOW_LEN], uint32_t increment)
{
	put_be32(out, increment);
}

/* see frame.h */
int
frame_window_decode(const uint8_t *p, size_t n, uint32_t *increment)
{
	if (n != FRAME_WINDOW_LEN)
		return FRAME_CODE_FRAME_SIZE_ERROR;
	*increment = get_be32(p);
	return *increment ? FRAME_CODE_NO_ERROR : FRAME_CODE_PROTOCOL_ERROR;
}

/* see frame.h */
void
frame_ping_encode(uint8_t out[FRAME_PING_LEN], uint64_t nonce)
{
	put_be32(out, (uint32_t)(nonce >> 32));
	put_be32(out + 4, (uint32_t)nonce);
}

/* see frame.h */
int
frame_ping_decode(const uint8_t *p, size_t n, uint64_t *nonce)
{
	if (n != FRAME_PING_LEN)
		return FRAME_CODE_FRAME_SIZE_ERROR;
	*nonce = (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
	return FRAME_CODE_NO_ERROR;
}

/* ---- batch reader ------------------------------------------------------- */

/* see frame.h */
void
frame_reader_init(struct frame_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->state = FRAME_RS_HEADER;
	r->reason = "";
}

/* see frame.h */
void
frame_reader_fini(struct frame_reader *r)
{
	free(r->acc);
	r->acc = NULL;
	r->acc_len = 0;
}

/* The one place the reader changes state. */
static void
reader_set_state(struct frame_reader *r, enum frame_reader_state state)
{
	assert(state < FRAME_RS_MAX);
	r->state = state;
}

static ssize_t
reader_fail(struct frame_reader *r, int err, int ws_close_code, const char *reason)
{
	reader_set_state(r, FRAME_RS_ERROR);
	r->err = err;
	r->ws_close_code = ws_close_code;
	r->reason = reason;
	return HT_ERROR;
}

static ssize_t
reader_truncated(struct frame_reader *r)
{
	return reader_fail(r, FRAME_CODE_PROTOCOL_ERROR, FRAME_WS_CLOSE_PROTOCOL,
			   "message ends inside a frame");
}

static ssize_t
reader_too_big(struct frame_reader *r)
{
	return reader_fail(r, FRAME_CODE_FRAME_SIZE_ERROR, FRAME_WS_CLOSE_TOO_BIG,
			   "message over 262144 bytes");
}

/* The current frame is complete: account it and wait for the next header. */
static void
reader_frame_done(struct frame_reader *r)
{
	r->msg_off += FRAME_HEADER_LEN + r->cur.len;
	r->msg_frames++;
	r->hdr_have = 0;
	r->acc_len = 0;
	reader_set_state(r, FRAME_RS_HEADER);
}

/* All of the message consumed at a frame boundary, or not. */
static ssize_t
reader_message_end(struct frame_reader *r, struct frame_event *ev)
{
	if (r->state != FRAME_RS_HEADER || r->hdr_have != 0)
		return reader_truncated(r);
	if (r->msg_frames == 0)
		return reader_fail(r, FRAME_CODE_PROTOCOL_ERROR, FRAME_WS_CLOSE_PROTOCOL,
				   "message without frames");
	r->msg_frames = 0;
	r->msg_off = 0;
	ev->type = FRAME_EV_MESSAGE_END;
	return 0;
}

/* A complete header in r->hdr: validate it and choose the payload state. */
static ssize_t
reader_header_done(struct frame_reader *r)
{
	struct frame_header *h = &r->cur;

	frame_header_decode(r->hdr, h);
	if (!frame_type_known(h->type) && (h->type < FRAME_EXT_FIRST || h->type > FRAME_EXT_LAST))
		return reader_fail(r, FRAME_CODE_PROTOCOL_ERROR, FRAME_WS_CLOSE_PROTOCOL,
				   "unknown frame type");
	if (h->len > FRAME_MAX_PAYLOAD)
		return reader_fail(r, FRAME_CODE_FRAME_SIZE_ERROR, FRAME_WS_CLOSE_PROTOCOL,
				   "frame payload over 65536 bytes");
	if ((uint64_t)r->msg_off + FRAME_HEADER_LEN + h->len > FRAME_MSG_MAX_BYTES)
		return reader_too_big(r);
	r->left = h->len;
	r->acc_len = 0;
	r->data_started = 0;
	if (h->type == FRAME_DATA)
		reader_set_state(r, FRAME_RS_DATA);
	else if (frame_type_known(h->type))
		reader_set_state(r, FRAME_RS_CONTROL);
	else
		reader_set_state(r, FRAME_RS_SKIP);
	return 0;
}

/* FRAME_RS_HEADER with n > 0: take header bytes. Returns bytes consumed. */
static ssize_t
reader_header(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end)
{
	size_t take = UTIL_MIN(n, (size_t)(FRAME_HEADER_LEN - r->hdr_have));

	if (r->hdr_have == 0 && r->msg_frames == FRAME_MSG_MAX_FRAMES)
		return reader_fail(r, FRAME_CODE_PROTOCOL_ERROR, FRAME_WS_CLOSE_PROTOCOL,
				   "more than 64 frames in one message");
	if ((uint64_t)r->msg_off + r->hdr_have + take > FRAME_MSG_MAX_BYTES)
		return reader_too_big(r);
	if (msg_end && r->hdr_have + take < FRAME_HEADER_LEN)
		return reader_truncated(r);
	memcpy(r->hdr + r->hdr_have, in, take);
	r->hdr_have = (uint8_t)(r->hdr_have + take);
	if (r->hdr_have == FRAME_HEADER_LEN && reader_header_done(r) < 0)
		return HT_ERROR;
	return (ssize_t)take;
}

/* FRAME_RS_DATA: report the next piece (the empty frame as one piece). */
static ssize_t
reader_data(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end, struct frame_event *ev)
{
	uint32_t take = (uint32_t)UTIL_MIN(n, (size_t)r->left);

	if (msg_end && n < r->left)
		return reader_truncated(r);
	if (take == 0 && r->cur.len != 0)
		return 0; /* nothing to report before more bytes arrive */
	ev->type = FRAME_EV_DATA;
	ev->frame_type = FRAME_DATA;
	ev->stream_id = r->cur.stream_id;
	ev->payload = in;
	ev->len = take;
	ev->frame_len = r->cur.len;
	ev->frame_start = !r->data_started;
	r->data_started = 1;
	r->left -= take;
	ev->frame_end = r->left == 0;
	if (r->left == 0)
		reader_frame_done(r);
	return (ssize_t)take;
}

static void
reader_control_event(struct frame_reader *r, const uint8_t *payload, struct frame_event *ev)
{
	ev->type = FRAME_EV_CONTROL;
	ev->frame_type = r->cur.type;
	ev->stream_id = r->cur.stream_id;
	ev->payload = payload;
	ev->len = r->cur.len;
	ev->frame_len = r->cur.len;
	ev->frame_start = 1;
	ev->frame_end = 1;
}

/* FRAME_RS_CONTROL: zero copy when the payload is wholly in this chunk. */
static ssize_t
reader_control(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end, struct frame_event *ev)
{
	uint32_t take = (uint32_t)UTIL_MIN(n, (size_t)r->left);

	if (msg_end && n < r->left)
		return reader_truncated(r);
	if (r->acc_len == 0 && take == r->left) {
		reader_control_event(r, in, ev);
		reader_frame_done(r);
		return (ssize_t)take;
	}
	if (take == 0)
		return 0;
	if (r->acc == NULL && (r->acc = malloc(FRAME_MAX_PAYLOAD)) == NULL)
		return reader_fail(r, FRAME_CODE_INTERNAL_ERROR, FRAME_WS_CLOSE_INTERNAL, "out of memory");
	memcpy(r->acc + r->acc_len, in, take);
	r->acc_len += take;
	r->left -= take;
	if (r->left == 0) {
		reader_control_event(r, r->acc, ev);
		reader_frame_done(r);
	}
	return (ssize_t)take;
}

/* FRAME_RS_SKIP: drop an unknown extension's payload. */
static ssize_t
reader_skip(struct frame_reader *r, size_t n, int msg_end)
{
	uint32_t take = (uint32_t)UTIL_MIN(n, (size_t)r->left);

	if (msg_end && n < r->left)
		return reader_truncated(r);
	r->left -= take;
	if (r->left == 0)
		reader_frame_done(r);
	return (ssize_t)take;
}

/* One step in the current state; fills *ev or consumes bytes (or both). */
static ssize_t
reader_step(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end, struct frame_event *ev)
{
	switch (r->state) {
	case FRAME_RS_HEADER: return reader_header(r, in, n, msg_end);
	case FRAME_RS_DATA: return reader_data(r, in, n, msg_end, ev);
	case FRAME_RS_CONTROL: return reader_control(r, in, n, msg_end, ev);
	case FRAME_RS_SKIP: return reader_skip(r, n, msg_end);
	case FRAME_RS_ERROR:
	case FRAME_RS_MAX: break;
	}
	return HT_ERROR;
}

/* see frame.h */
ssize_t
frame_reader_feed(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end, struct frame_event *ev)
{
	size_t off = 0;

	ev->type = FRAME_EV_NONE;
	if (r->state == FRAME_RS_ERROR)
		return HT_ERROR;
	for (;;) {
		ssize_t k;

		/* A zero-length DATA or control frame whose header just
		 * completed is reported even with no input left. */
		if (off == n && (r->state == FRAME_RS_HEADER || r->left != 0))
			break;
		k = reader_step(r, in + off, n - off, msg_end, ev);
		if (k < 0)
			return HT_ERROR;
		off += (size_t)k;
		if (ev->type != FRAME_EV_NONE)
			return (ssize_t)off;
	}
	if (msg_end && reader_message_end(r, ev) < 0)
		return HT_ERROR;
	return (ssize_t)off;
}

/* ---- batch planner ----------------------------------------------------- */

/* see frame.h */
int
frame_batch_fits(const struct frame_batch *b, size_t payload_len)
{
	if (b->frames >= FRAME_MSG_MAX_FRAMES || payload_len > FRAME_MAX_PAYLOAD)
		return 0;
	return b->bytes <= FRAME_MSG_MAX_BYTES - FRAME_HEADER_LEN &&
	       payload_len <= FRAME_MSG_MAX_BYTES - FRAME_HEADER_LEN - b->bytes;
}

/* see frame.h */
ssize_t
frame_batch_room(const struct frame_batch *b)
{
	if (b->frames >= FRAME_MSG_MAX_FRAMES || b->bytes > FRAME_MSG_MAX_BYTES - FRAME_HEADER_LEN)
		return -1;
	return (ssize_t)UTIL_MIN((size_t)FRAME_MAX_PAYLOAD,
				 FRAME_MSG_MAX_BYTES - FRAME_HEADER_LEN - b->bytes);
}

/* see frame.h */
void
frame_batch_add(struct frame_batch *b, size_t payload_len)
{
	assert(frame_batch_fits(b, payload_len));
	b->frames++;
	b->bytes += FRAME_HEADER_LEN + payload_len;
}
