/*
 * mux.h: one session's multiplexing state, the part both programs share.
 *
 * A mux holds the stream table, the session windows and the tunnel sockets
 * (index 0 is the primary; v2 adds secondaries). It applies the
 * stream-level rules of PROTOCOL.md sections 6-7 to incoming frames (DATA
 * credit, EOF, RESET, WINDOW) and tells each stream's owner through its
 * stream_ops; session-level frames (HELLO, BIND, PING, ...) are left to
 * the policy on top (the daemon's session, htc's client). Outgoing DATA is
 * charged to both windows here, and received bytes are turned back into
 * WINDOW frames once their owner reports them written.
 */
#ifndef HT_MUX_H
#define HT_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "stream.h"
#include "tunnel.h"

#define MUX_MAX_SOCKS 16

struct mux;

struct mux_ops {
	/* A session-level protocol error (session credit overrun, bad WINDOW(0)):
	 * the policy sends GOAWAY and closes. */
	void (*on_error)(struct mux *m, unsigned code, const char *reason);
	/* A RESET was sent (for counting); may be NULL. */
	void (*on_reset_sent)(struct mux *m, unsigned code);
};

struct mux {
	/* read-only */
	struct stream_table streams;
	struct flow_send tx; /* session credit for DATA we send */
	struct flow_recv rx; /* session credit we granted */
	uint32_t stream_window;
	uint32_t session_window;
	struct tunnel *socks[MUX_MAX_SOCKS];  /* NULL where no socket is attached */
	uint32_t sock_streams[MUX_MAX_SOCKS]; /* open streams per socket */
	unsigned rr;                          /* round-robin start for ties */
	uint64_t data_in, data_out;           /* DATA payload bytes */
	struct stream *batch;                 /* streams that got DATA in the current input batch */
	uint8_t refusing[MUX_MAX_SOCKS];      /* the DATA frame in progress on that socket was refused */
	/* owned by the user */
	const struct mux_ops *ops;
	void *owner;
};

/* 0, or -errno. Windows in bytes (1..2^31-1). */
int mux_init(struct mux *m, uint32_t max_streams, uint32_t stream_window, uint32_t session_window,
	     const struct mux_ops *ops, void *owner);
/* Every stream is closed (on_close called) and freed. */
void mux_fini(struct mux *m);

/* Reset the session windows to their initial values (a fresh connection). */
void mux_reset_windows(struct mux *m);

/*
 * Open a stream on the least-loaded live socket (ties round-robin): id 0
 * allocates the next server id. NULL when the table is full or no socket
 * is attached. The caller sets s->ops/owner and sends STREAM_OPEN with
 * mux_send(). sock_index < 0 picks; else the given socket (client side:
 * the socket that carried STREAM_OPEN).
 */
struct stream *mux_open(struct mux *m, uint32_t id, enum stream_kind kind, int sock_index);

/* The socket that carries stream s (NULL when it is gone). */
struct tunnel *mux_sock(const struct mux *m, const struct stream *s);

/* Queue a control frame for stream s on its socket. 0 or -errno. */
int mux_send(struct mux *m, struct stream *s, uint8_t type, const void *payload, size_t len);

/* Bytes of DATA that may be sent for s now in one frame (stream, session and frame limits). */
size_t mux_allowance(const struct mux *m, const struct stream *s, size_t want);

/* Bytes of DATA that may be sent for s now over several frames (credit only). */
size_t mux_credit(const struct mux *m, const struct stream *s, size_t want);

/*
 * Send DATA (n <= mux_allowance) referencing p until done() (tunnel.h).
 * 0, or -errno (done not called).
 */
int mux_send_data(struct mux *m, struct stream *s, const uint8_t *p, uint32_t n, tunnel_done_cb *done,
		  void *arg);

/* Send EOF; the stream is freed (on_close) when the peer had sent EOF too. */
void mux_send_eof(struct mux *m, struct stream *s);

/* Send RESET(code, reason) and free the stream (on_close). */
void mux_send_reset(struct mux *m, struct stream *s, unsigned code, const char *reason);

/* Close s without a frame (the socket is gone): on_close, then free. */
void mux_drop(struct mux *m, struct stream *s);

/* n bytes of s's incoming DATA reached the destination: return credit. */
void mux_consumed(struct mux *m, struct stream *s, size_t n);

/*
 * Handle a stream-level control frame from socket `sock_index`: EOF, RESET,
 * WINDOW (stream and session), STREAM_RESPONSE_HEAD. Returns 1 when it was
 * one of those (handled), 0 when the policy must handle it.
 */
int mux_on_control(struct mux *m, int sock_index, uint8_t type, uint32_t sid, const uint8_t *p, size_t n);

/* Handle a DATA piece (credit checks, then the owner's on_data). */
void mux_on_data(struct mux *m, int sock_index, const struct frame_event *ev);

/* The end of one batch of tunnel input: on_batch_end for every stream that
 * got DATA in it. */
void mux_batch_end(struct mux *m);

/* Attach / detach a socket; detaching drops (on_close) the streams it carried. */
void mux_attach(struct mux *m, int sock_index, struct tunnel *t);
void mux_detach(struct mux *m, int sock_index);

#endif
