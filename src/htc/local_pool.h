/*
 * local_pool.h: htc's connections to local services, kept alive between
 * requests (private to htc's EXPOSE side, local.c).
 *
 * A connection either serves one request (busy: its socket events go to
 * the pool's callback with the request as owner) or waits idle in the
 * pool for the next request to the same address, most recently used
 * first. An idle connection is closed as soon as the local service closes
 * it or sends anything unasked; one whose close is not yet seen can still
 * be taken, so a caller that could not send its request again asks for a
 * check (one peek: no EOF, no stray bytes). At most idle_max idle
 * connections are kept per client. Connections
 * are freed from a deferred callback (the reactor's close rule).
 *
 * Not here: what is written or read on a busy connection (local.c).
 */
#ifndef HTC_LOCAL_POOL_H
#define HTC_LOCAL_POOL_H

#include <sys/socket.h>

#include "reactor.h"

struct local_pool;

/* One connection to a local service. */
struct local_pool_conn {
	/* read-only */
	int fd;         /* -1 once closed or detached */
	int connecting; /* non-blocking connect in progress */
	int reused;     /* it served an earlier request */
	/* private */
	struct local_pool *pool;                       /* NULL once closed, or the pool is gone */
	void *owner;                                   /* the request it serves, NULL when idle */
	struct local_pool_conn *prev, *next;           /* pool->conns while open */
	struct local_pool_conn *idle_prev, *idle_next; /* pool->idle while idle */
	int idle;
	struct reactor *r;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct reactor_watcher w;
	struct reactor_deferred free_defer;
};

/* A busy connection's socket is ready (REACTOR_READ / REACTOR_WRITE). */
typedef void local_pool_io_cb(void *owner, unsigned events);

struct local_pool {
	/* private */
	struct reactor *r;
	local_pool_io_cb *on_io;
	struct local_pool_conn *conns; /* every open connection */
	struct local_pool_conn *idle;  /* the idle ones, most recently used first */
	unsigned nidle, idle_max;
};

/*
 * Set up an empty pool whose busy connections report to on_io, keeping at
 * most idle_max idle connections.
 */
void local_pool_init(struct local_pool *p, struct reactor *r, local_pool_io_cb *on_io, unsigned idle_max);

/* Close every connection (client exit). Busy ones MUST have been released or closed by their owners. */
void local_pool_fini(struct local_pool *p);

/*
 * An idle connection to addr, now busy for owner; NULL when there is none.
 * With check, only one that still looks usable (a peek: no EOF, no stray
 * bytes), for a request that could not go again on a fresh connection.
 */
struct local_pool_conn *local_pool_take(struct local_pool *p, const struct sockaddr_storage *addr,
					socklen_t len, void *owner, int check);

/*
 * A new connection to addr, busy for owner and connecting: its first
 * event tells the connect finished (then call local_pool_connected).
 * NULL when it failed at once.
 */
struct local_pool_conn *local_pool_connect(struct local_pool *p, const struct sockaddr_storage *addr,
					   socklen_t len, void *owner);

/* The connect finished: 0 (TCP_NODELAY is then set), or -errno: it failed. */
int local_pool_connected(struct local_pool_conn *k);

/* The socket events a busy connection's owner wants. */
void local_pool_want(struct local_pool_conn *k, unsigned events);

/* The owner is done with k: keep it idle for the next request (when keep, and room) or close it. */
void local_pool_release(struct local_pool_conn *k, int keep);

/* Close k; it is freed after the current batch. */
void local_pool_close(struct local_pool_conn *k);

/* Close k but keep its socket (no longer watched): the fd is the caller's now. */
int local_pool_detach(struct local_pool_conn *k);

#endif
