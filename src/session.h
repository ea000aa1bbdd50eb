/*
 * session.h: the server side of the tunnel protocol.
 *
 * A session starts when a WebSocket upgrade on /api/v1/tunnel/connect
 * succeeds (pre-auth: counted against --max-pre-auth-connections, bounded
 * by --hello-timeout from TCP accept), becomes active with HELLO/HELLO_OK,
 * holds bindings and streams, sends PING when the peer is silent, and ends
 * through one of: the peer closing or vanishing, a protocol error (GOAWAY
 * then close), idle or pong timeout (GOAWAY IDLE_TIMEOUT), admin kill or
 * daemon shutdown (GOAWAY NO_ERROR, then a bounded drain).
 */
#ifndef HT_SESSION_H
#define HT_SESSION_H

#include <stdint.h>

#include "daemon.h"
#include "mux.h"
#include "tunnel.h"

enum session_state {
	SESSION_PRE_AUTH, /* WebSocket up, no HELLO yet */
	SESSION_ACTIVE,   /* HELLO_OK sent: binds and streams allowed */
	SESSION_DRAINING, /* GOAWAY sent (kill, shutdown): no new streams, waiting for in-flight ones */
	SESSION_CLOSING,  /* the socket is closing; freed once it is closed */
	SESSION_STATE_MAX
};

#define SESSION_ID_LEN 38 /* "S-" + 36-character UUID */

struct session {
	/* read-only */
	char id[SESSION_ID_LEN + 1];
	enum session_state state;
	int v2;                   /* negotiated hoody-tunnel.v2 */
	unsigned granted;         /* connectionsGranted */
	char peer[64];            /* peer address of the primary socket */
	struct daemon *d;
	struct mux mux;
	struct binding *binds;    /* this session's bindings */
	unsigned nbinds;
	/* private */
	struct tunnel tun;        /* the primary socket */
	struct reactor_timer hello_timer, live_timer, drain_timer;
	struct reactor_deferred free_defer;
	uint64_t idle_since;      /* when streams and bindings both became 0 */
	uint64_t ping_sent;       /* when the last PING went out, 0 none outstanding */
	struct session *prev, *next;
};

/*
 * Start a session on a socket whose WebSocket handshake just completed.
 * accepted_ms: when the TCP connection was accepted (the hello timeout
 * counts from there). The session owns fd and one FD permit from here on.
 * pre: bytes that followed the handshake. 0 or -errno (fd closed, permit
 * released).
 */
int session_start(struct daemon *d, int fd, int v2, const char *peer, uint64_t accepted_ms,
		  const uint8_t *pre, size_t pre_len);

/* Find a session by id (any state). */
struct session *session_find(struct daemon *d, const char *id);

/*
 * Admin kill: GOAWAY(NO_ERROR, "killed"), bindings released at once,
 * streams get grace_ms to finish, then the socket closes.
 */
void session_kill(struct session *s, uint64_t grace_ms);

/* Daemon shutdown: GOAWAY(NO_ERROR, "shutdown") and a drain of grace_ms. */
void session_shutdown(struct session *s, uint64_t grace_ms);

/* A binding of this session got a connection and opens a stream; helpers
 * for bind/pull: 1 when new streams may be opened now. */
int session_accepts_streams(const struct session *s);

/* Streams or bindings changed: re-evaluate the idle timer. */
void session_touch(struct session *s);

#endif
