/*
 * session.h: the server side of the tunnel protocol.
 *
 * Two objects. A tconn is one tunnel WebSocket: it starts pre-auth when
 * the upgrade on /api/v1/tunnel/connect succeeds (counted against
 * --max-pre-auth-connections, bounded by --hello-timeout from TCP accept)
 * and attaches to a session with HELLO (new or resumed) or, in v2, with
 * JOIN as a secondary socket. A session outlives its sockets: it holds the
 * bindings, the stream table and the windows (the mux), and when its
 * primary socket is lost without a GOAWAY from us it parks for
 * --takeover-grace, so that a resume (HELLO with resume.sessionId) finds
 * its listeners still open.
 *
 * A session ends when: the grace of a parked session runs out; an admin
 * kill or the daemon's shutdown drained it (GOAWAY NO_ERROR); the idle
 * timeout found it with no stream and no binding; a protocol error or a
 * rejected HELLO closed it.
 */
#ifndef HT_SESSION_H
#define HT_SESSION_H

#include <stdint.h>

#include "bind.h"
#include "daemon.h"
#include "metrics.h"
#include "mux.h"
#include "tunnel.h"

struct session;

enum tconn_state {
	TCONN_PRE_AUTH, /* WebSocket up, no HELLO/JOIN yet */
	TCONN_ATTACHED, /* carries a session (primary or secondary) */
	TCONN_CLOSING,  /* closing; no session attached any more */
	TCONN_STATE_MAX
};

/* One tunnel WebSocket. */
struct tconn {
	struct tunnel t;
	struct daemon *d;
	struct session *s; /* NULL unless attached */
	enum tconn_state state;
	int index; /* socket index in the session: 0 primary */
	int v2;    /* subprotocol hoody-tunnel.v2 */
	char peer[64];
	uint64_t accepted_ms;
	struct reactor_timer hello_timer;
	struct reactor_deferred free_defer;
	struct tconn *prev, *next; /* d->tconns */
};

enum session_state {
	SESSION_ACTIVE,   /* a primary socket is attached */
	SESSION_PARKED,   /* the primary was lost: bindings kept for --takeover-grace */
	SESSION_DRAINING, /* GOAWAY sent (kill, shutdown): no new streams, in-flight ones finish */
	SESSION_CLOSING,  /* ending: bindings released, freed from the closing phase */
	SESSION_STATE_MAX
};

#define SESSION_ID_LEN 38 /* "S-" + 36-character UUID */
#define SESSION_NONCE_LEN 22

/* A v2 join ticket for one socket index. */
struct session_ticket {
	uint64_t expires_ms; /* wall clock, as sent */
	char nonce[SESSION_NONCE_LEN + 1];
	uint8_t issued, used;
};

struct session {
	/* read-only */
	char id[SESSION_ID_LEN + 1];
	enum session_state state;
	int v2;           /* negotiated hoody-tunnel.v2 */
	unsigned granted; /* connectionsGranted */
	char peer[64];    /* peer address of the primary socket */
	struct daemon *d;
	struct mux mux;
	struct bind_set binds; /* this session's bindings */
	struct tconn *socks[MUX_MAX_SOCKS];
	/* private */
	struct session_ticket tickets[MUX_MAX_SOCKS];
	struct reactor_timer live_timer, drain_timer, park_timer;
	struct reactor_deferred free_defer;
	uint64_t idle_since;            /* when streams and bindings both became 0 */
	uint64_t parked_ms;             /* when it was parked last (eviction picks the oldest) */
	uint64_t ping_sent;             /* when the last PING went out, 0 none outstanding */
	int end_on_loss;                /* we sent GOAWAY: losing the primary ends the session */
	uint8_t forward_asked, forward; /* HELLO asked for the forward extension; it was granted */
	unsigned forwards;              /* forwarded connections open now (forward.c) */
	struct session *prev, *next;
};

/*
 * Start a tunnel socket whose WebSocket handshake just completed on conn
 * (plain or TLS; moved into the tunnel). accepted_ms: when the TCP
 * connection was accepted (the hello timeout counts from there). It owns
 * the socket and one FD permit from here on. pre: bytes that followed the
 * handshake. 0 or -errno (conn closed, permit released).
 */
int tconn_start(struct daemon *d, struct conn *conn, int v2, const char *peer, uint64_t accepted_ms,
		const uint8_t *pre, size_t pre_len);

/* End every session and close every tunnel socket at once (daemon exit). */
void session_close_all(struct daemon *d);

/*
 * Daemon shutdown (SIGTERM): from now on HELLO is refused, every session
 * drains with session_shutdown(grace_ms), and the reactor is stopped once
 * no session and no tunnel socket is left (at once if there are none).
 */
void session_shutdown_all(struct daemon *d, uint64_t grace_ms);

/* The daemon's gauges: sessions, orphans, streams, bindings, permits, pre-auth connections, requests. */
void session_gauges(const struct daemon *d, struct metrics_gauges *g);

/* Queue a session-scope frame on the primary socket. 0 or -EPIPE. */
int session_send(struct session *s, uint8_t type, const void *payload, size_t len);

/* Find a session by id (not closing). */
struct session *session_find(struct daemon *d, const char *id);

/* Admin kill: GOAWAY(NO_ERROR, "killed"), bindings released at once,
 * in-flight streams get grace_ms, then the sockets close. Never parks. */
void session_kill(struct session *s, uint64_t grace_ms);

/* Daemon shutdown: GOAWAY(NO_ERROR, "shutdown") and a drain of grace_ms. */
void session_shutdown(struct session *s, uint64_t grace_ms);

/*
 * Control output (STREAM_OPEN heads, EOF, RESET) the client may leave
 * unread on its sockets. Past it no new stream is opened (visitors get 503,
 * PULL connections are closed) until the client reads again: streams whose
 * visitors come and go cost no credit, so this is what bounds them.
 */
#define SESSION_BACKLOG_MAX (4u << 20)

/* 1 while more than SESSION_BACKLOG_MAX of control output waits unread. */
int session_backlogged(const struct session *s);

/* 1 when new streams may be opened now (a primary socket, not draining, not backlogged). */
int session_accepts_streams(const struct session *s);

/* 1 while parked (EXPOSE answers 503 with Retry-After, PULL closes). */
static inline int
session_parked(const struct session *s)
{
	return s->state == SESSION_PARKED;
}

/* Streams or bindings changed: a draining session may close, the idle clock restarts. */
void session_touch(struct session *s);

/* Add the session's socket traffic to the counters in m. */
void session_add_traffic(const struct session *s, struct metrics *m);

#endif
