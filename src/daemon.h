/*
 * daemon.h: the daemon's shared state and the helpers every daemon module
 * uses: accepting under the FD budget, pausing and resuming listeners.
 *
 * There is one struct daemon per process (main.c owns it). Modules reach
 * it through the objects they serve (session->d, binding->d). This is the
 * bottom of the daemon: daemon.c knows listeners and the FD budget, not
 * what is accepted (sessions, bindings and visitors are above it).
 */
#ifndef HT_DAEMON_H
#define HT_DAEMON_H

#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "fdbudget.h"
#include "forwarded.h"
#include "metrics.h"
#include "reactor.h"
#include "resolve.h"
#include "slab.h"
#include "tls.h"
#include "tunnel.h"

struct session;
struct tconn;
struct binding;
struct bind_route;
struct session;
struct conn;
struct ctl_conn;

/* Where the daemon is in its life; main.c and session.c move it forward only. */
enum daemon_phase {
	DAEMON_RUNNING = 0, /* serving */
	DAEMON_DRAINING,    /* a stop signal came: sessions drain, new ones are refused */
	DAEMON_EXITING,     /* the loop is stopping (drained, grace over, or a second signal) */
	DAEMON_PHASE_MAX
};

/* A listening socket the FD budget may pause (control plane, bindings). */
struct daemon_listener {
	int fd;
	struct reactor_watcher w;
	struct daemon_listener *prev, *next;
};

struct daemon {
	struct config *cfg;
	struct reactor r;
	struct tunnel_loop tl;
	struct metrics metrics;
	struct fdbudget fds;
	uint64_t started_wall_ms;
	int ctl_port;                 /* the control-plane port (RESERVED_PORT) */
	struct daemon_listener ctl;   /* the control-plane listener */
	struct daemon_listener vhost; /* --vhost-listen: host-routed visitors (expose.c) */
	/* Hand a routed connection whose next request is for the control plane
	 * to it (set by ctl.c): the socket (conn is left closed), its FD permit
	 * and the bytes read so far (from a request head on) are the control
	 * plane's from then on. */
	void (*ctl_adopt)(struct daemon *d, struct conn *conn, const uint8_t *pre, size_t n);
	/* FORWARD_OPEN on stream sid of session s (socket index), set by
	 * forward.c when forwarding is on; NULL: the extension is off. */
	void (*forward_open)(struct session *s, int index, uint32_t sid, const uint8_t *json, size_t n);
	struct resolver resolver; /* names of forwarded connections (forward.c) */
	struct daemon_listener *listeners;
	struct listenfds *activated; /* sockets from the service manager (listenfds.h); NULL: none */
	int accept_paused;
	unsigned ctl_reserved;             /* admin connections living on the reserve (ctl.c) */
	struct reactor_timer accept_timer; /* safety net: re-check a paused accept */
	struct session *sessions;          /* every session */
	struct tconn *tconns;              /* every tunnel socket */
	unsigned nsessions;                /* sessions not closing (parked included) */
	unsigned norphans;                 /* parked sessions */
	unsigned npreauth;                 /* control connections and tunnel sockets before HELLO */
	struct binding *binds;             /* every binding */
	unsigned nbinds;
	struct bind_route **routes; /* the route table (bind_route.c): ports and host names */
	unsigned nroutes, route_buckets;
	uint32_t next_bind_id;
	struct slab pulls;           /* PULL connections */
	struct slab visitors;        /* EXPOSE visitor connections (expose.c) */
	unsigned requests_in_flight; /* EXPOSE requests between STREAM_OPEN and the end of the response */
	struct ctl_conn *ctls;       /* control-plane HTTP connections */
	enum daemon_phase phase;     /* RUNNING until SIGTERM (session_shutdown_all) */
	struct reactor_timer drain_timer;
	struct reactor_signal sigterm, sigint, sigpipe;
	const char *token;
	size_t token_len;
	const char *admin_token;
	struct buf scratch;                /* JSON payloads are built here */
	struct forwarded fwd;              /* --trusted-proxy */
	struct tls_server_creds tls_creds; /* --tls-cert/--tls-key; .d NULL: plain */
	struct reactor_signal sighup;      /* reload the TLS certificate */
};

/* Accepts per readiness event of a listener: a bounded batch, so that one
 * busy listener cannot starve the loop. */
#define DAEMON_ACCEPT_BATCH 32

/* The backlog of every listening socket (control plane, bindings). */
#define DAEMON_LISTEN_BACKLOG 511

/*
 * One connection daemon_accept_batch accepted: fd is non-blocking and owns
 * one FD permit (fdbudget_release when it is closed) or, when reserved,
 * one place of the listener's reserve (the owner gives that back instead).
 * The callback owns fd from here on.
 */
typedef void daemon_accept_cb(void *arg, int fd, const struct sockaddr_storage *peer, int reserved);

/* How the connections of one kind of listener are accepted. */
struct daemon_accept_ops {
	const char *refusal;         /* written to a connection refused for want of a permit; NULL: none */
	unsigned reserve_max;        /* connections taken beyond the permits once they are gone; 0: none */
	daemon_accept_cb *on_accept; /* each accepted connection */
};

/*
 * Set up accepting under the FD budget: the budget's change hook pauses
 * and resumes the listeners, and a timer re-checks a pause. Call once,
 * after fdbudget_init and reactor_init.
 */
void daemon_accept_init(struct daemon *d);

/*
 * Listener lfd is readable: accept up to DAEMON_ACCEPT_BATCH connections
 * and hand each to ops->on_accept(arg, ...). With a permit a connection is
 * accepted normally. Without one it goes, while *reserve_used <
 * ops->reserve_max, on the reserve (*reserve_used counts it; reserve_used
 * may be NULL when reserve_max is 0); otherwise through a refusal slot:
 * accepted, ops->refusal written, closed at once. When no refusal slot is
 * free either, the listeners are paused (they resume when a permit or a
 * slot returns, or on a timer). Stops at the first accept that finds no
 * connection or fails.
 */
void daemon_accept_batch(struct daemon *d, int lfd, const struct daemon_accept_ops *ops,
			 unsigned *reserve_used, void *arg);

/* Start watching a listener (READ unless accepts are paused). */
int daemon_listener_start(struct daemon *d, struct daemon_listener *l, int fd, reactor_io_cb *cb);
/*
 * Start watching the socket the service manager passed under fdname
 * (d->activated, socket activation) or, when it passed none, listen on
 * addr (HOST:PORT, port the default when addr has none): 0, -ENOENT when
 * addr is NULL and no socket was passed, or -errno logged with the
 * setting's name: flag is the option without "--" ("listen"), shown as
 * config_name() says (--listen, or HOODY_TUNNEL_LISTEN when it came from
 * the environment).
 */
int daemon_listen(struct daemon *d, struct daemon_listener *l, const char *flag, const char *fdname,
		  const char *addr, int port, reactor_io_cb *cb);

/* Stop watching and close it. */
void daemon_listener_stop(struct daemon *d, struct daemon_listener *l);

/* Hand the listening socket of `from` to `to` (watched with cb) without
 * closing it, so the port never stops accepting. 0 or -errno. */
int daemon_listener_move(struct daemon *d, struct daemon_listener *from, struct daemon_listener *to,
			 reactor_io_cb *cb);

#endif
