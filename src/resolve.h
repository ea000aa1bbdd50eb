/*
 * resolve.h: name resolution inside the daemon's loop (c-ares).
 *
 * A lookup never blocks the loop: c-ares' sockets are watched by the
 * reactor and its retransmissions run from a reactor timer. /etc/hosts
 * and /etc/resolv.conf are honoured (c-ares reads them at start-up);
 * `servers` ("IP[:PORT],...") replaces the name servers of resolv.conf,
 * which is how tests point the daemon at a resolver of their own.
 *
 * An IP literal is answered without asking anyone. Every answer comes
 * from the loop (never from inside resolve_lookup), exactly once per
 * lookup, unless the lookup was cancelled first; each lookup has its own
 * deadline. Addresses come in c-ares' order (RFC 6724 preference), IPv6
 * and IPv4 alike, with the port set.
 */
#ifndef HT_RESOLVE_H
#define HT_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reactor.h"

#define RESOLVE_MAX_ADDRS 16 /* addresses kept per answer */
#define RESOLVE_MAX_SOCKS 16 /* c-ares sockets watched at once */

enum resolve_status {
	RESOLVE_OK,        /* n >= 1 addresses */
	RESOLVE_NOT_FOUND, /* no such name, or no address for it */
	RESOLVE_TIMEOUT,   /* no answer before the deadline */
	RESOLVE_FAILED,    /* anything else: the reason is in the message */
};

/* The answer: addrs[0..n) with the port set; why is a short text for the log (static). */
typedef void resolve_cb(void *arg, enum resolve_status st, const struct sockaddr_storage *addrs, size_t n,
			const char *why);

struct resolve_lookup;

struct resolver {
	/* private */
	struct reactor *r;
	void *channel; /* ares_channel */
	uint64_t timeout_ms;
	struct reactor_timer timer; /* c-ares' own timeouts */
	struct reactor_watcher socks[RESOLVE_MAX_SOCKS];
	int sock_fd[RESOLVE_MAX_SOCKS]; /* the fd of each watcher, -1: a free slot */
	unsigned nlookups;              /* pending, for resolve_fini */
};

/*
 * Set up a resolver on loop r: servers NULL for resolv.conf's, each
 * lookup answered within timeout_ms. 0, or -1 with a message in err.
 */
int resolve_init(struct resolver *rs, struct reactor *r, const char *servers, uint64_t timeout_ms, char *err,
		 size_t errlen);

/* Tear down: pending lookups are dropped without their callbacks. */
void resolve_fini(struct resolver *rs);

/*
 * Resolve host (a name or an IP literal) for TCP port. The answer goes to
 * cb(arg, ...) from the loop. Returns a handle for resolve_cancel, or NULL
 * when out of memory (no callback then).
 */
struct resolve_lookup *resolve_start(struct resolver *rs, const char *host, uint16_t port, resolve_cb *cb,
				     void *arg);

/* The caller no longer wants the answer: cb is not called (the handle is freed by the resolver). */
void resolve_cancel(struct resolve_lookup *l);

#endif
