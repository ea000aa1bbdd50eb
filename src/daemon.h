/*
 * daemon.h: the daemon's shared state and the helpers every daemon module
 * uses: accepting under the FD budget, pausing and resuming listeners.
 *
 * There is one struct daemon per process (main.c owns it). Modules reach
 * it through the objects they serve (session->d, binding->d).
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
#include "slab.h"
#include "tls.h"
#include "tunnel.h"

struct session;
struct tconn;
struct binding;
struct ctl_conn;

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
	int ctl_port;                    /* the control-plane port (RESERVED_PORT) */
	struct daemon_listener ctl;      /* the control-plane listener */
	struct daemon_listener *listeners;
	int accept_paused;
	unsigned ctl_reserved;           /* admin connections living on the reserve (ctl.c) */
	struct reactor_timer accept_timer; /* safety net: re-check a paused accept */
	struct session *sessions;        /* every session */
	struct tconn *tconns;            /* every tunnel socket */
	unsigned nsessions;              /* sessions not closing (parked included) */
	unsigned norphans;               /* parked sessions */
	unsigned npreauth;               /* control connections and tunnel sockets before HELLO */
	struct binding *binds;           /* every binding */
	unsigned nbinds;
	uint32_t next_bind_id;
	struct slab pulls;               /* PULL connections */
	struct slab visitors;            /* EXPOSE visitor connections (expose.c) */
	unsigned requests_in_flight;     /* EXPOSE requests between STREAM_OPEN and the end of the response */
	struct ctl_conn *ctls;           /* control-plane HTTP connections */
	int draining;                    /* SIGTERM received */
	struct reactor_timer drain_timer;
	struct reactor_signal sigterm, sigint, sigpipe;
	const char *token;
	size_t token_len;
	const char *admin_token;
	struct buf scratch;              /* JSON payloads are built here */
	struct forwarded fwd;            /* --trusted-proxy */
	struct tls_server_creds tls_creds; /* --tls-cert/--tls-key; .d NULL: plain */
	struct reactor_signal sighup;    /* reload the TLS certificate */
};

/* Result of daemon_accept beyond an fd. */
#define DAEMON_ACCEPT_REFUSED (-100000) /* accepted and closed at once: no permit */

/*
 * Accept one connection from listener fd under the FD budget. With a
 * permit: returns the new non-blocking fd (the caller owns one permit and
 * releases it with fdbudget_release when the fd is closed) and the peer
 * address. Without: the connection is taken through a refusal slot,
 * `refusal` (may be NULL) is written to it, it is closed, and
 * DAEMON_ACCEPT_REFUSED is returned; when no refusal slot is free either
 * the listeners are paused and -EAGAIN returned. Other failures: -errno.
 */
int daemon_accept(struct daemon *d, int lfd, struct sockaddr_storage *peer, const char *refusal);

/* Start watching a listener (READ unless accepts are paused). */
int daemon_listener_start(struct daemon *d, struct daemon_listener *l, int fd, reactor_io_cb *cb);
/* Stop watching and close it. */
void daemon_listener_stop(struct daemon *d, struct daemon_listener *l);

/* Hand the listening socket of `from` to `to` (watched with cb) without
 * closing it, so the port never stops accepting. 0 or -errno. */
int daemon_listener_move(struct daemon *d, struct daemon_listener *from, struct daemon_listener *to,
			 reactor_io_cb *cb);

/* Called by the FD budget when permits or refusal slots change. */
void daemon_fds_changed(void *arg, int available_now);

/* Sessions in the list, counters of the gauges. */
void daemon_gauges(struct daemon *d, struct metrics_gauges *g);

/* 1 once the drain (SIGTERM) has finished its work: no session left. */
void daemon_check_drained(struct daemon *d);

#endif
