/*
 * ws.h: the WebSocket frame codec (RFC 6455), both roles, sans-I/O.
 *
 * The parser consumes a byte range and reports one event per call: a chunk
 * of a data message, or a whole control frame (PING, PONG, CLOSE). It never
 * reads or writes a socket, never allocates and never copies data payload:
 * payload is unmasked in place in the caller's buffer and handed out as a
 * pointer into it, so a large message arrives as a series of chunks that
 * the caller consumes as they come (no reassembly). Control payloads (at
 * most 125 bytes) are gathered inside the parser, because they may arrive
 * split over several reads and may sit between the fragments of a data
 * message.
 *
 * Every rule of RFC 6455 section 5 is checked where the field is decoded:
 * RSV bits, known opcodes, control frames short and unfragmented, minimal
 * length encodings, masking direction, fragment sequencing, the message size
 * limit, UTF-8 of text messages (incrementally, across chunks and
 * fragments) and of close reasons, and close codes.
 *
 * The encoder writes a 2..14 byte frame header into caller memory (buffer
 * headroom in front of the payload); ws_mask() masks the payload in place.
 *
 * Not here: the opening handshake (ws_handshake.h), sockets, timers,
 * automatic PONG or CLOSE replies (the connection decides), extensions
 * (permessage-deflate is never negotiated).
 */
#ifndef HT_WS_H
#define HT_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define WS_MAX_HEADER 14   /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_MAX_CONTROL 125 /* largest control frame payload */
#define WS_MAX_CLOSE_REASON (WS_MAX_CONTROL - 2)

/* Opcodes (RFC 6455 5.2). */
enum ws_opcode {
	WS_OP_CONT = 0x0,   /* continuation of a fragmented data message */
	WS_OP_TEXT = 0x1,   /* data message, UTF-8 */
	WS_OP_BINARY = 0x2, /* data message, any bytes */
	WS_OP_CLOSE = 0x8,  /* control: close handshake */
	WS_OP_PING = 0x9,   /* control: ping */
	WS_OP_PONG = 0xA    /* control: pong */
};

/* Close status codes (RFC 6455 7.4.1) used by this codec and its callers. */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,     /* any framing violation */
	WS_CLOSE_UNSUPPORTED = 1003,  /* a message type the endpoint does not take */
	WS_CLOSE_NO_STATUS = 1005,    /* reported for an empty CLOSE; never sent */
	WS_CLOSE_ABNORMAL = 1006,     /* connection lost without CLOSE; never sent */
	WS_CLOSE_INVALID_DATA = 1007, /* text or close reason not UTF-8 */
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009, /* message above the parser's limit */
	WS_CLOSE_EXTENSION = 1010,
	WS_CLOSE_INTERNAL = 1011,
	WS_CLOSE_SERVICE_RESTART = 1012,
	WS_CLOSE_TRY_AGAIN_LATER = 1013,
	WS_CLOSE_BAD_GATEWAY = 1014
};

/* Which end of the connection the parser serves. */
enum ws_role {
	WS_ROLE_SERVER, /* receives frames from a client: every frame must be masked */
	WS_ROLE_CLIENT  /* receives frames from a server: no frame may be masked */
};

/*
 * Receive states. Each header state gathers a fixed number of bytes (kept
 * in the parser, so the input may be split anywhere) and validates its
 * field as soon as it is complete.
 */
enum ws_rx_state {
	WS_RX_HDR1,    /* first header byte: FIN, RSV1-3, opcode */
	WS_RX_HDR2,    /* second header byte: MASK bit, 7-bit length */
	WS_RX_LEN16,   /* 2-byte extended length (7-bit length was 126) */
	WS_RX_LEN64,   /* 8-byte extended length (7-bit length was 127) */
	WS_RX_MASK,    /* 4-byte masking key */
	WS_RX_PAYLOAD, /* frame payload, frame_left bytes to go (never 0 here) */
	WS_RX_CLOSED,  /* a CLOSE frame was delivered; any further byte is an error */
	WS_RX_FAILED,  /* protocol error reported; sticky */
	WS_RX_MAX
};

/* What one ws_parse() call reports. */
enum ws_event_type {
	WS_EV_NONE,  /* nothing yet: input exhausted, or header bytes gathered */
	WS_EV_DATA,  /* a chunk of a text or binary message */
	WS_EV_PING,  /* a whole PING frame */
	WS_EV_PONG,  /* a whole PONG frame */
	WS_EV_CLOSE, /* a whole CLOSE frame (validated) */
	WS_EV_MAX
};

struct ws_event {
	enum ws_event_type type;
	/*
	 * DATA: the chunk, pointing into the caller's input (already
	 * unmasked); may be empty only when last is set.
	 * PING/PONG: the whole payload, pointing into the parser (valid until
	 * the next ws_parse call).
	 */
	const uint8_t *data;
	size_t len;
	unsigned opcode;    /* DATA: WS_OP_TEXT or WS_OP_BINARY of the message */
	int first;          /* DATA: 1 on the message's first chunk */
	int last;           /* DATA: 1 on the message's final chunk */
	unsigned code;      /* CLOSE: status code, WS_CLOSE_NO_STATUS when absent */
	const char *reason; /* CLOSE: UTF-8 reason inside the parser (like PING data), not terminated */
	size_t reason_len;
};

/* Incremental UTF-8 validator: where a sequence stopped. Zero it to start. */
struct ws_utf8 {
	uint8_t need; /* continuation bytes still expected */
	uint8_t lo;   /* range allowed for the next continuation byte */
	uint8_t hi;
};

/*
 * Parser context, caller-allocated; ws_parser_init() before use. Fields
 * under "public" may be read; the rest are private.
 */
struct ws_parser {
	/* public, read-only */
	unsigned close_code; /* after HT_ERROR: the code to close with */
	const char *error;   /* after HT_ERROR: static text, e.g. "RSV bits set" */

	/* private */
	enum ws_rx_state state;
	enum ws_role role;
	uint64_t max_message; /* payload bytes per message */
	uint64_t frame_len;   /* announced payload length of the current frame */
	uint64_t frame_left;  /* payload bytes of the current frame still to come */
	uint64_t msg_len;     /* payload announced so far in the current message */
	uint8_t fin;          /* current frame has FIN */
	uint8_t opcode;       /* current frame's opcode */
	uint8_t masked;       /* current frame has a mask key */
	uint8_t in_message;   /* a data message started and has not ended */
	uint8_t msg_opcode;   /* WS_OP_TEXT or WS_OP_BINARY while in_message */
	uint8_t msg_first;    /* the next DATA chunk is the message's first */
	uint8_t need;         /* bytes the current header state still gathers */
	uint8_t have;         /* bytes gathered into hdr[] */
	uint8_t hdr[8];       /* extended length or mask key being gathered */
	uint8_t key[4];       /* mask key of the current frame */
	struct ws_utf8 utf8;  /* text message validation state */
	uint8_t ctl_len;      /* control payload gathered so far */
	uint8_t ctl[WS_MAX_CONTROL];
};

/*
 * Prepare p for a new connection. max_message limits the payload of one
 * data message (sum of its fragments); 0 means no limit. A frame whose
 * header would take the message past the limit fails with 1009 before any
 * of its payload is delivered.
 */
void ws_parser_init(struct ws_parser *p, enum ws_role role, uint64_t max_message);

/*
 * Consume input and report at most ONE event in *ev.
 *
 * in[0..n) is the next bytes of the stream. The parser keeps every partial
 * header and control payload itself, so the caller never re-feeds bytes:
 * it advances by the return value and calls again until its input is used
 * up. Data payload is unmasked IN PLACE and reported as a pointer into in;
 * the caller must use it (or copy it) before reusing that memory.
 *
 * Returns the number of bytes consumed (>= 0), with ev->type telling what
 * was found (WS_EV_NONE when the input ran out first; a call with n > 0
 * always consumes at least one byte or fails). Returns HT_ERROR on a
 * protocol violation, with p->close_code (1002, 1007, 1009) and p->error
 * set; the error is sticky and the caller should send a CLOSE with that
 * code and close the connection. After a WS_EV_CLOSE the parser accepts no
 * more bytes (HT_ERROR, 1002).
 */
ssize_t ws_parse(struct ws_parser *p, uint8_t *in, size_t n, struct ws_event *ev);

/* 1 while a data message has started and its final chunk is not yet delivered. */
int ws_parser_in_message(const struct ws_parser *p);

/* 1 once a CLOSE frame has been delivered (the peer will send nothing more). */
int ws_parser_closed(const struct ws_parser *p);

/*
 * Write a frame header into out: FIN when fin, the opcode, the minimal
 * length encoding of payload_len, and the MASK bit plus key when mask_key is
 * not NULL. Returns the header length (2..14). The payload is not touched:
 * a client masks it with ws_mask(payload, len, mask_key, 0).
 */
size_t ws_header_encode(uint8_t out[WS_MAX_HEADER], unsigned opcode, int fin, uint64_t payload_len,
			const uint8_t *mask_key);

/*
 * XOR p[0..n) with the masking key, in place. offset is the position of
 * p[0] within the frame payload, so a payload may be (un)masked in pieces.
 * Masking and unmasking are the same operation.
 */
void ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t offset);

/*
 * Build a CLOSE payload: the 2-byte code and the reason, truncated at a
 * UTF-8 character boundary to fit 125 bytes (the reason must be valid
 * UTF-8). code 0 builds the empty payload (no status). Returns its length.
 */
size_t ws_close_payload_encode(uint8_t out[WS_MAX_CONTROL], unsigned code, const char *reason, size_t len);

/*
 * 1 when a peer may send code in a CLOSE frame: 1000-1003, 1007-1014 and
 * 3000-4999; 0 for everything else (1004-1006, 1015, <1000, 1016-2999, >4999).
 */
int ws_close_code_valid(unsigned code);

/*
 * The name of a close code of RFC 6455 7.4.1 or the IANA registry
 * ("going away" for 1001), or NULL for any other code.
 */
const char *ws_close_code_name(unsigned code);

/*
 * Feed n bytes to an incremental validator. 0 while the text so far is a
 * valid UTF-8 prefix, -1 on an invalid byte (overlong form, surrogate, above
 * U+10FFFF, stray continuation). The validator must not be fed after -1.
 */
int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n);

/* 1 when the bytes fed so far end on a character boundary. */
static inline int
ws_utf8_complete(const struct ws_utf8 *u)
{
	return u->need == 0;
}

/* 1 when p[0..n) is complete, valid UTF-8. */
int ws_utf8_valid(const uint8_t *p, size_t n);

#endif
