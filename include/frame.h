/*
 * frame.h: the tunnel frame codec (PROTOCOL.md sections 1-3).
 *
 * A tunnel frame is a 9-byte header (type u8, stream_id u32, length u32,
 * big-endian) and up to 65,536 payload bytes. One binary WebSocket message
 * carries 1 to 64 frames back to back and at most 262,144 bytes.
 *
 * This module provides:
 *   - the frame type and RESET/GOAWAY code constants, with their names;
 *   - header encode/decode and the small binary payloads (RESET/GOAWAY,
 *     WINDOW, PING/PONG);
 *   - an incremental batch reader that takes the payload of one WebSocket
 *     message as a sequence of chunks (however the WS layer split it) and
 *     reports frames, DATA payload without any copy;
 *   - a batch planner that tells the writer whether one more frame still
 *     fits in the current message.
 *
 * It does not parse JSON payloads, check a frame's direction or stream
 * scope (the session does), or touch sockets. Sans-I/O.
 */
#ifndef HT_FRAME_H
#define HT_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define FRAME_HEADER_LEN 9
#define FRAME_MAX_PAYLOAD 65536
#define FRAME_MSG_MAX_FRAMES 64
#define FRAME_MSG_MAX_BYTES 262144

#define FRAME_WINDOW_LEN 4   /* WINDOW payload: u32 increment */
#define FRAME_PING_LEN 8     /* PING/PONG payload: 8-byte nonce */
#define FRAME_CODE_MIN_LEN 2 /* RESET/GOAWAY payload: u16 code, then the reason */

/* Frame types (PROTOCOL.md section 3). */
enum frame_type {
	FRAME_HELLO = 0x01,
	FRAME_HELLO_OK = 0x02,
	FRAME_BIND = 0x03,
	FRAME_BIND_OK = 0x04,
	FRAME_BIND_ERR = 0x05,
	FRAME_UNBIND = 0x06,
	FRAME_UNBIND_OK = 0x07,
	FRAME_UNBIND_ERR = 0x08,
	FRAME_JOIN = 0x09,
	FRAME_JOIN_OK = 0x0A,
	FRAME_JOIN_ERR = 0x0B,
	FRAME_SHARD_MAP = 0x0C,
	FRAME_REISSUE_JOIN_TICKETS = 0x0D,
	FRAME_STREAM_OPEN = 0x10,
	FRAME_DATA = 0x12,
	FRAME_EOF = 0x13,
	FRAME_RESET = 0x14,
	FRAME_WINDOW = 0x15,
	FRAME_STREAM_RESPONSE_HEAD = 0x16,
	FRAME_PING = 0x20,
	FRAME_PONG = 0x21,
	FRAME_GOAWAY = 0x30,
	FRAME_BIND_REVOKED = 0x40,
	/* The forward extension (doc/FORWARD.md): streams the client opens */
	FRAME_FORWARD_OPEN = 0x41, /* c->s, a new client stream id: {"host":...,"port":N} */
	FRAME_FORWARD_OK = 0x42,   /* s->c: connected, {"address":"ip:port"} */
	FRAME_FORWARD_ERR = 0x43,  /* s->c: {"code":...,"message":...}; the stream is gone */
};

#define FRAME_EXT_FIRST 0x40 /* 0x40-0x7F: extensions, skipped when unknown */
#define FRAME_EXT_LAST 0x7F

/* RESET / GOAWAY codes (u16 on the wire). Also the error vocabulary of
 * this module and of flow.h. */
enum frame_code {
	FRAME_CODE_NO_ERROR = 0,
	FRAME_CODE_PROTOCOL_ERROR = 1,
	FRAME_CODE_INTERNAL_ERROR = 2,
	FRAME_CODE_FLOW_CONTROL_ERROR = 3,
	FRAME_CODE_STREAM_CLOSED = 4,
	FRAME_CODE_FRAME_SIZE_ERROR = 5,
	FRAME_CODE_REFUSED_STREAM = 6,
	FRAME_CODE_CANCEL = 7,
	FRAME_CODE_ENHANCE_YOUR_CALM = 8,
	FRAME_CODE_BIND_ERROR = 9,
	FRAME_CODE_IDLE_TIMEOUT = 10,
	FRAME_CODE_AUTH_ERROR = 11,
	FRAME_CODE_VERSION_MISMATCH = 12,
	FRAME_CODE_BIND_TAKEOVER = 13,
	FRAME_CODE_RESOURCE_EXHAUSTED = 14,
	FRAME_CODE_MAX
};

/* WebSocket close codes the reader asks for (RFC 6455 section 7.4.1). */
#define FRAME_WS_CLOSE_PROTOCOL 1002
#define FRAME_WS_CLOSE_TOO_BIG 1009
#define FRAME_WS_CLOSE_INTERNAL 1011

/* "BIND_TAKEOVER" for 13; "UNKNOWN" outside 0..14. Static strings. */
const char *frame_code_name(unsigned code);

/* "DATA" for 0x12; "UNKNOWN" for a type this build does not know. */
const char *frame_type_name(unsigned type);

/*
 * 1 when this build knows the type (it is in the table of section 3),
 * else 0. Says nothing about direction or stream scope.
 */
int frame_type_known(uint8_t type);

/* ---- header and small payloads ----------------------------------------- */

struct frame_header {
	uint8_t type;
	uint32_t stream_id;
	uint32_t len; /* payload length as sent; not checked here */
};

/* Write the 9-byte header. len is not checked (the caller keeps <= 65,536). */
void frame_header_encode(uint8_t out[FRAME_HEADER_LEN], uint8_t type, uint32_t stream_id, uint32_t len);

/* Read a 9-byte header; no validation (the reader validates). */
void frame_header_decode(const uint8_t in[FRAME_HEADER_LEN], struct frame_header *h);

/*
 * RESET / GOAWAY payload: u16 code, then the reason (NUL-terminated C
 * string, may be NULL). The payload is cut to fit min(cap, 65,536) bytes;
 * the reason is cut at a UTF-8 character boundary, and at its first byte
 * that is not valid UTF-8, so the output is always valid. Returns the
 * payload length (>= 2), or 0 when cap < 2.
 */
size_t frame_code_encode(uint8_t *out, size_t cap, uint16_t code, const char *reason);

/* A decoded RESET / GOAWAY payload. */
struct frame_code_payload {
	uint16_t code;      /* as sent; may be outside 0..14 (treat as unknown) */
	const char *reason; /* points into the payload, NOT NUL-terminated */
	size_t reason_len;  /* bytes of valid UTF-8 at reason */
	int reason_cut;     /* 1 when the sent reason was not valid UTF-8 and was cut */
};

/*
 * Decode a RESET / GOAWAY payload. Returns FRAME_CODE_NO_ERROR (0), or
 * FRAME_CODE_FRAME_SIZE_ERROR when n < 2.
 *
 * Lenient on the reason: a reason that is not valid UTF-8 is NOT a
 * connection error. The reason is only diagnostic text (the SDK ignores
 * the GOAWAY payload), and a peer already aborting a stream should not
 * take the whole session down with it. out->reason_len is then the
 * longest valid prefix and out->reason_cut is 1, so callers log only
 * valid UTF-8.
 */
int frame_code_decode(const uint8_t *p, size_t n, struct frame_code_payload *out);

/* WINDOW payload: the increment, big-endian. */
void frame_window_encode(uint8_t out[FRAME_WINDOW_LEN], uint32_t increment);

/*
 * Decode a WINDOW payload. Returns FRAME_CODE_NO_ERROR with *increment
 * set, FRAME_CODE_FRAME_SIZE_ERROR when n != 4, FRAME_CODE_PROTOCOL_ERROR
 * when the increment is 0. The 2^31-1 credit limit is flow.h's check.
 */
int frame_window_decode(const uint8_t *p, size_t n, uint32_t *increment);

/* PING / PONG payload: the nonce as 8 bytes, big-endian. */
void frame_ping_encode(uint8_t out[FRAME_PING_LEN], uint64_t nonce);

/* Decode a PING / PONG payload: FRAME_CODE_NO_ERROR, or FRAME_CODE_FRAME_SIZE_ERROR when n != 8. */
int frame_ping_decode(const uint8_t *p, size_t n, uint64_t *nonce);

/* ---- batch reader ------------------------------------------------------- */

/*
 * Reader states, one per part of a frame being received.
 */
enum frame_reader_state {
	FRAME_RS_HEADER = 0, /* collecting the 9 header bytes (hdr_have of them so far) */
	FRAME_RS_DATA,       /* passing a DATA payload through; left bytes to go */
	FRAME_RS_CONTROL,    /* collecting a non-DATA payload into acc; left bytes to go */
	FRAME_RS_SKIP,       /* discarding an unknown extension payload; left bytes to go */
	FRAME_RS_ERROR,      /* sticky: every feed returns HT_ERROR */
	FRAME_RS_MAX
};

enum frame_ev_type {
	FRAME_EV_NONE = 0,    /* all input consumed, the reader needs the next chunk */
	FRAME_EV_CONTROL,     /* one complete non-DATA frame */
	FRAME_EV_DATA,        /* a piece of a DATA frame's payload */
	FRAME_EV_MESSAGE_END, /* the message ended cleanly on a frame boundary */
	FRAME_EV_MAX
};

/*
 * One event. Pointers are valid until the next frame_reader_feed() call,
 * and (when they point into the chunk) as long as the chunk itself.
 */
struct frame_event {
	enum frame_ev_type type;
	uint8_t frame_type;     /* CONTROL: the frame's type; DATA: FRAME_DATA */
	uint32_t stream_id;     /* CONTROL, DATA */
	const uint8_t *payload; /* CONTROL: the whole payload; DATA: this piece */
	uint32_t len;           /* bytes at payload (a DATA piece is > 0 unless the frame is empty) */
	uint32_t frame_len;     /* DATA: the whole frame's payload length (every piece) */
	uint8_t frame_start;    /* DATA: 1 on the frame's first piece */
	uint8_t frame_end;      /* DATA: 1 on the frame's last piece */
};

/*
 * Incremental reader for the frames of binary WebSocket messages.
 * Caller-allocated. Fields marked public may be read after HT_ERROR.
 *
 * Memory: it owns at most one buffer of FRAME_MAX_PAYLOAD (65,536) bytes,
 * malloc'd the first time a non-DATA payload is split across chunks, kept
 * for reuse and freed by frame_reader_fini(). DATA is never copied.
 */
struct frame_reader {
	/* public, valid after HT_ERROR */
	int err;            /* enum frame_code for RESET/GOAWAY */
	int ws_close_code;  /* FRAME_WS_CLOSE_PROTOCOL, _TOO_BIG or _INTERNAL */
	const char *reason; /* static text for logs and the close frame */

	/* private */
	enum frame_reader_state state;
	uint8_t hdr[FRAME_HEADER_LEN];
	uint8_t hdr_have;        /* header bytes collected */
	uint8_t data_started;    /* DATA: the first piece was reported */
	struct frame_header cur; /* the frame being received */
	uint32_t left;           /* payload bytes still to come */
	uint32_t msg_frames;     /* frames begun in this message */
	uint32_t msg_off;        /* offset of the current frame in the message */
	uint8_t *acc;            /* FRAME_MAX_PAYLOAD bytes, lazily allocated */
	uint32_t acc_len;        /* bytes in acc */
};

/* Prepare r for a first message. No allocation. */
void frame_reader_init(struct frame_reader *r);

/* Release the accumulation buffer. r may be re-initialised afterwards. */
void frame_reader_fini(struct frame_reader *r);

/*
 * Feed the next chunk in[0..n) of the current binary message. msg_end is
 * 1 when no more bytes of this message follow in[0..n) (the chunk may then
 * be empty).
 *
 * Consumes bytes until it fills *ev with one event or runs out of input.
 * Returns the bytes consumed (0..n), or HT_ERROR with r->err,
 * r->ws_close_code and r->reason set (the connection must end; errors are
 * sticky). ev->type on success:
 *   FRAME_EV_NONE         only when msg_end is 0: all n bytes were
 *                         consumed, pass the next chunk;
 *   FRAME_EV_CONTROL,
 *   FRAME_EV_DATA         handle it, then call again with the rest;
 *   FRAME_EV_MESSAGE_END  only when msg_end is 1 and every byte was
 *                         consumed: the message is done; the next call
 *                         starts a new message.
 * So the caller loops until NONE or MESSAGE_END.
 *
 * A CONTROL payload points into `in` when it lay wholly inside this chunk,
 * else into the accumulation buffer. Extension frames of unknown types
 * 0x41-0x7F are skipped with no event.
 *
 * Errors (err / ws close): unknown type outside the extension range
 * (PROTOCOL_ERROR / 1002); length > 65,536 (FRAME_SIZE_ERROR / 1002);
 * a 65th frame (PROTOCOL_ERROR / 1002); more than 262,144 bytes in the
 * message (FRAME_SIZE_ERROR / 1009); the message ends inside a frame or
 * holds no frame (PROTOCOL_ERROR / 1002); out of memory for the
 * accumulation buffer (INTERNAL_ERROR / 1011). Checks happen as soon as
 * the bytes that break a rule are seen, and the outcome does not depend
 * on how the message was split into chunks.
 */
ssize_t frame_reader_feed(struct frame_reader *r, const uint8_t *in, size_t n, int msg_end,
			  struct frame_event *ev);

/* ---- batch planner ----------------------------------------------------- */

/* Frames and bytes (headers included) planned for one outgoing message. */
struct frame_batch {
	uint32_t frames;
	size_t bytes;
};

static inline void
frame_batch_reset(struct frame_batch *b)
{
	b->frames = 0;
	b->bytes = 0;
}

/*
 * 1 when one more frame with payload_len bytes keeps the message within
 * 64 frames and 262,144 bytes (9-byte header included) and payload_len
 * <= 65,536; else 0.
 */
int frame_batch_fits(const struct frame_batch *b, size_t payload_len);

/*
 * The largest payload one more frame may carry in this message
 * (0..65,536), or -1 when no further frame fits at all.
 */
ssize_t frame_batch_room(const struct frame_batch *b);

/* Account one frame; the caller checked frame_batch_fits() first. */
void frame_batch_add(struct frame_batch *b, size_t payload_len);

#endif
