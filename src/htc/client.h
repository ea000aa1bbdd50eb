/*
 * client.h: htc's tunnel client: connect, HELLO, BIND every binding,
 * serve the streams the daemon opens, and close cleanly on a signal.
 *
 * The connection and the WebSocket handshake are done before the loop
 * starts (bounded by a timeout); from then on everything runs in the
 * reactor with the shared tunnel, mux and pump code. The subcommands
 * (cmd_tunnel.c) fill the bindings and print what the events report.
 */
#ifndef HTC_CLIENT_H
#define HTC_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "htc.h"
#include "json.h"
#include "wsdial.h"
#include "mux.h"
#include "reactor.h"
#include "tunnel.h"

#define CLIENT_MAX_BINDINGS 32
#define CLIENT_PING_MS 5000
#define CLIENT_JSON_TOKENS_MAX                                                                               \
	65536 /* a STREAM_OPEN of ~20,000 header fields */ /* RTT measurement interval, when asked for       \
							      (on_rtt) */

enum client_bind_kind {
	CLIENT_PULL,   /* tcp / pull */
	CLIENT_EXPOSE, /* http / expose */
};

enum client_bind_state {
	CLIENT_BIND_PENDING, /* BIND sent, no answer yet */
	CLIENT_BIND_BOUND,   /* BIND_OK */
	CLIENT_BIND_FAILED,  /* BIND_ERR */
	CLIENT_BIND_UNBOUND, /* UNBIND_OK */
};

struct client_binding {
	/* filled by the subcommand */
	enum client_bind_kind kind;
	uint16_t container_port;           /* 0: the daemon picks */
	struct url_local local;            /* where streams go */
	int bind_v6;                       /* PULL: listen on ::1 in the container */
	int takeover;                      /* EXPOSE: take the port from another session */
	int cluster;                       /* EXPOSE: share the port or subdomain with other sessions */
	int host_route;                    /* EXPOSE: routed by Host (subdomain), no container port */
	char subdomain[URL_SUBDOMAIN_MAX]; /* host_route: a name, "@", or "" for a random one */
	char basic_user[128];              /* EXPOSE: Basic Auth for visitors ("": any user) */
	const char *basic_pass;            /* NULL: no Basic Auth. Never printed. */
	/* filled by the client */
	enum client_bind_state state;
	uint32_t bind_id;
	uint16_t port;                 /* the container port granted (0 for a host route) */
	uint16_t prev_port;            /* the port held before a new session had to pick another */
	char route[URL_SUBDOMAIN_MAX]; /* host_route: the name granted; asked for again on a new session */
	char public_url[256];          /* empty when null */
	char err_code[32];             /* BIND_ERR, control characters shown as '?' */
	char err_msg[160];
	struct sockaddr_storage addr; /* resolved local address */
	socklen_t addr_len;
	/* local.c's: "host:port" of local, formatted once, the Host of requests without one */
	char authority[URL_HOST_MAX + 16];
};

enum client_state {
	CLIENT_HELLO,        /* HELLO sent, waiting for HELLO_OK */
	CLIENT_BINDING,      /* BINDs sent, waiting for every answer */
	CLIENT_READY,        /* serving streams */
	CLIENT_RECONNECTING, /* the primary socket was lost: waiting for the next attempt */
	CLIENT_STOPPING,     /* UNBINDs sent after a stop signal */
	CLIENT_CLOSED,       /* done: the loop stops */
	CLIENT_STATE_MAX
};

/* One finished request of an EXPOSE binding, for the log. */
struct client_request {
	const struct client_binding *b;
	const char *method;
	const char *target;
	int status;         /* what the visitor got: the local service's, 502 or 504 when htc or the
			       daemon answered instead, 0 when unknown (no answer) */
	uint64_t ms;        /* from STREAM_OPEN to the end */
	uint64_t bytes_out; /* response bytes sent into the tunnel */
	const char *why;    /* NULL, or why it failed: "local connect refused", "timeout", "reset", ... */
};

struct client;
struct capture;

/* What the subcommand prints. Every callback may be NULL. */
struct client_events {
	void (*on_session)(struct client *c, const char *session_id);
	void (*on_bound)(struct client *c, struct client_binding *b);
	void (*on_bind_error)(struct client *c, struct client_binding *b);
	void (*on_stream_open)(struct client *c, struct client_binding *b, uint32_t sid, const char *peer);
	void (*on_stream_close)(struct client *c, uint32_t sid, uint64_t in, uint64_t out, unsigned reset);
	void (*on_goaway)(struct client *c, unsigned code, const char *reason);
	/* An EXPOSE request finished. */
	void (*on_request)(struct client *c, const struct client_request *rq);
	/* c->state changed to st (after the change). */
	void (*on_link)(struct client *c, enum client_state st);
	/* A PONG came back after us microseconds (PINGs are sent only when this is set). */
	void (*on_rtt)(struct client *c, uint64_t us);
	/* Connection state changes: "disconnected: ...", "reconnecting in N ms", "resumed ...". */
	void (*on_state)(struct client *c, const char *line);
	/* The loop exists (c->r), before the first connection: watch more sockets in it. */
	void (*on_loop_start)(struct client *c);
	/* The loop is over, the tunnels still open: release what on_loop_start watches. */
	void (*on_loop_end)(struct client *c);
};

/* One tunnel WebSocket of the client (index 0 is the primary). */
struct client_sock {
	struct tunnel t;
	struct client *c;
	int index;
	int open;           /* t is initialised and not yet finished */
	int joined;         /* secondary: JOIN_OK received */
	struct wsdial dial; /* secondary: being opened in the loop */
	char nonce[64];     /* secondary: its join ticket, sent once open */
};

struct client {
	const struct htc_opts *o;
	const struct client_events *ev;
	struct client_binding binds[CLIENT_MAX_BINDINGS];
	unsigned nbinds;
	struct capture *cap; /* where EXPOSE exchanges are kept for the inspector; NULL: nowhere */
	/* private */
	enum client_state state;
	int exit_code;
	int connected_once; /* a session was established once: reconnect on loss */
	int fatal;          /* the server refused us for good (kill, auth): do not reconnect */
	unsigned attempts;  /* reconnect attempts since the last success */
	unsigned granted;   /* connectionsGranted */
	char session_id[64];
	struct reactor r;
	struct tunnel_loop tl;
	struct client_sock socks[MUX_MAX_SOCKS];
	struct mux mux;
	int mux_ready;
	int forward_ok;  /* HELLO_OK granted the forward extension */
	int goaway_said; /* the server's GOAWAY was printed: its close is not printed again */
	struct reactor_timer stop_timer, retry_timer;
	struct reactor_timer ping_timer;   /* on_rtt: a PING every CLIENT_PING_MS while serving */
	struct reactor_timer rejoin_timer; /* v2: ask for tickets again after a secondary was lost */
	unsigned rejoin_attempts;          /* since the last JOIN_OK (backoff) */
	struct reactor_signal sigint, sigterm, sigpipe;
	void *local_pool;      /* local.c: idle keep-alive connections to local services */
	struct json_tok *toks; /* STREAM_OPEN's tokens (grown on demand, freed at exit) */
	size_t ntoks;
};

/*
 * Ask the daemon for a TCP connection to host:port from inside the
 * container (the forward extension, doc/FORWARD.md): a new client stream
 * with ops and owner set, FORWARD_OPEN sent. ops->on_forward tells the
 * outcome (after a refusal the stream is closed: on_close follows); no
 * DATA may be sent before FORWARD_OK. NULL when the session is not up or
 * the daemon does not forward (client->forward_ok), or no stream is left.
 */
struct stream *client_forward_open(struct client *c, const char *host, uint16_t port,
				   const struct stream_ops *ops, void *owner);

/*
 * Connect, bind and serve until a stop signal or the end of the session.
 * Returns the exit status: 0 after a clean stop, 1 when connecting,
 * binding or the session failed (the reason is printed on stderr).
 */
int client_run(struct client *c);

#endif
