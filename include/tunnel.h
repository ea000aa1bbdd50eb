/*
 * tunnel.h: one WebSocket that carries tunnel frames, in either role.
 *
 * Input: bytes from the socket go through the WebSocket parser and the
 * frame reader; complete control frames and DATA pieces are handed to the
 * owner's callbacks (the session in the daemon, the client in htc). The
 * input buffer is reused after each read: the parsers keep partial headers
 * themselves and DATA pieces must be consumed (written through or copied
 * into the stream's spill buffer) inside the callback.
 *
 * Output: frames are queued (FIFO) and sent in the before-poll hook of the
 * tunnel loop: consecutive frames are packed into binary WebSocket messages
 * of at most 64 frames and 262,144 bytes, and as many messages as fit go
 * out in one writev(). Control payloads are copied into the tunnel's arena;
 * DATA payloads are referenced where they lie (the owner's buffer) and the
 * owner is told through its done callback once they are on the wire (or
 * dropped because the socket died). A client-role tunnel masks headers and
 * payload in place, so a referenced payload is scrambled after sending.
 *
 * Memory: the arena holds only what is queued (bytes of written items are
 * given back as the queue advances), and the frames queued while the
 * input of any tunnel of the loop is processed (PONGs, refusals, WINDOWs:
 * "replies", also those a multi-socket session sends on its primary for
 * frames that came on another socket; DATA is not one, credit bounds it)
 * are bounded by reply_max. A peer that keeps sending and never reads its
 * replies is cut off (WebSocket code 1008) once more than reply_max of
 * them wait, instead of growing the queue without end.
 */
#ifndef HT_TUNNEL_H
#define HT_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "frame.h"
#include "reactor.h"
#include "ws.h"

/* Default bound on unwritten replies (tunnel.reply_max). */
#define TUNNEL_REPLY_MAX (1024 * 1024)

/* The on_closed reason when the peer was cut off for not reading its replies. */
extern const char tunnel_reason_replies[];

struct tunnel;

/* A loop-wide flusher: one per reactor, shared by every tunnel. */
struct tunnel_loop {
	struct reactor *r;
	struct reactor_hook hook;
	struct tunnel *dirty; /* tunnels with unplanned output */
	unsigned in_input;    /* a tunnel's input is being processed (nesting depth) */
};

void tunnel_loop_init(struct tunnel_loop *l, struct reactor *r);
void tunnel_loop_fini(struct tunnel_loop *l);

/* Called with the payload's length once it was written (sent = 1) or
 * dropped because the tunnel died (sent = 0). */
typedef void tunnel_done_cb(void *arg, uint32_t len, int sent);

struct tunnel_ops {
	/* A complete non-DATA frame (payload valid during the call). */
	void (*on_control)(struct tunnel *t, uint8_t type, uint32_t stream_id, const uint8_t *p, size_t n);
	/* A piece of a DATA frame (see struct frame_event). */
	void (*on_data)(struct tunnel *t, const struct frame_event *ev);
	/*
	 * The tunnel is finished (peer close, error, or the end of
	 * tunnel_close); called once from the closing phase. ws_code is the
	 * close code seen or sent (1006 when the connection was lost), reason
	 * a static text. The owner may free the tunnel here (tunnel_fini).
	 */
	void (*on_closed)(struct tunnel *t, unsigned ws_code, const char *reason);
	/* May be NULL: the bytes of one read were all handed over; DATA
	 * pointers given to on_data become invalid after this returns. */
	void (*on_input_end)(struct tunnel *t);
};

enum tunnel_state {
	TUNNEL_OPEN,    /* frames flow both ways */
	TUNNEL_CLOSING, /* our CLOSE is queued or sent; waiting for the peer's or the timer */
	TUNNEL_CLOSED,  /* fd closed; on_closed delivered or about to be */
	TUNNEL_STATE_MAX
};

/* One queued output unit. Private. */
struct tunnel_item {
	uint8_t hdr[WS_MAX_HEADER + FRAME_HEADER_LEN]; /* [ws header][frame header] */
	uint8_t hoff;                                  /* first used byte of hdr */
	uint8_t kind;                                  /* TUNNEL_ITEM_* (tunnel.c) */
	uint8_t reply;                                 /* queued while tunnel input was processed */
	uint32_t len;                                  /* payload bytes */
	const uint8_t *ext;                            /* payload outside the arena, or NULL */
	size_t arena_off; /* payload position in the arena when ext == NULL (see arena_abs) */
	tunnel_done_cb *done;
	void *done_arg;
};

struct tunnel {
	/* read-only */
	enum tunnel_state state;
	enum ws_role role;
	struct conn conn;    /* the socket, plain or TLS */
	uint64_t last_rx_ms; /* reactor time of the last byte received */
	uint64_t bytes_in, bytes_out, frames_in, frames_out;
	size_t queued_bytes; /* payload + headers waiting to be written */
	size_t reply_bytes;  /* replies queued and not written yet */
	unsigned close_code; /* after close: the code */
	/* The peer started the closing handshake: the code of its CLOSE
	 * (WS_CLOSE_NO_STATUS when it carried none) and its reason, cut to
	 * fit, NUL-terminated. 0 and "" when the peer sent no CLOSE, or sent
	 * it only in answer to ours (a lost connection, our own close). */
	unsigned peer_close_code;
	char peer_close_reason[WS_MAX_CONTROL];
	/* owned by the user */
	void *owner;
	size_t reply_max; /* TUNNEL_REPLY_MAX after tunnel_init; the owner may change it */
	/* private */
	const struct tunnel_ops *ops;
	struct tunnel_loop *loop;
	struct reactor_timer close_timer;
	struct reactor_deferred closed_defer;
	struct reactor_deferred pre_defer; /* bytes that came with the handshake */
	struct ws_parser wp;
	struct frame_reader fr;
	struct buf in;
	struct buf arena;                   /* control payloads and pre-encoded WS control frames */
	size_t arena_abs;                   /* position of arena.pos: items address the arena by position */
	struct tunnel_item *q;              /* ring of items */
	size_t qcap, qhead, qlen, qplanned; /* qplanned: items with message framing done */
	size_t head_off;                    /* bytes of the head item already written */
	struct tunnel *dirty_next;
	int dirty, shut_wr;
	const char *close_reason;
	char why[128]; /* a transport's failure, copied before its conn closes */
	int rand_err;  /* client: the -errno of a mask key that could not be had; the next flush ends t */
};

/*
 * Take over connection c (plain or TLS, moved into t->conn) on which the
 * WebSocket handshake is complete. `pre` holds bytes already read past the
 * handshake (may be empty). 0, or -ENOMEM/-errno (c untouched on error).
 */
int tunnel_init(struct tunnel *t, struct tunnel_loop *loop, struct conn *c, enum ws_role role,
		const struct tunnel_ops *ops, void *owner, const uint8_t *pre, size_t pre_len);

/*
 * Release the memory; the conn must be closed already (on_closed was
 * delivered) or is closed here. Items still queued are dropped (done
 * callbacks with sent = 0).
 */
void tunnel_fini(struct tunnel *t);

/* Queue a frame whose payload is copied (control frames). 0 or -ENOMEM. */
int tunnel_send(struct tunnel *t, uint8_t type, uint32_t stream_id, const void *payload, size_t len);

/* Queue a frame whose payload is written with len bytes of uint16 code + reason (RESET, GOAWAY). */
int tunnel_send_code(struct tunnel *t, uint8_t type, uint32_t stream_id, unsigned code, const char *reason);

/* Queue WINDOW(stream_id, increment). */
int tunnel_send_window(struct tunnel *t, uint32_t stream_id, uint32_t increment);

/*
 * Queue a DATA frame (len <= FRAME_MAX_PAYLOAD) whose payload stays in the
 * caller's memory until done(done_arg, len, sent) is called. 0 or -ENOMEM
 * (then done is not called).
 */
int tunnel_send_data(struct tunnel *t, uint32_t stream_id, const uint8_t *p, uint32_t len,
		     tunnel_done_cb *done, void *done_arg);

/*
 * Start the close handshake: queue a WebSocket CLOSE with code and a
 * static reason after what is queued, flush, then wait (bounded by
 * timeout_ms) for the peer's CLOSE or EOF. on_closed follows.
 */
void tunnel_close(struct tunnel *t, unsigned ws_code, const char *reason, uint64_t timeout_ms);

/* Close the socket now, dropping queued output; on_closed follows. */
void tunnel_abort(struct tunnel *t, unsigned ws_code, const char *reason);

/* Bytes of copied output (control frames and their payloads) not yet written. */
static inline size_t
tunnel_backlog(const struct tunnel *t)
{
	return buf_len(&t->arena);
}

/* Write what is queued now instead of waiting for the before-poll hook. */
void tunnel_flush(struct tunnel *t);

#endif
