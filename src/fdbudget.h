/*
 * fdbudget.h: the FD-permit budget (DESIGN.md "FD-permit budget", STYLE.md
 * "The FD-permit budget, put together from four anchors").
 *
 * Pure accounting, no sockets: a counter of permits = RLIMIT_NOFILE -
 * reserve. Every fd the daemon opens for outside work costs one permit,
 * taken *before* accept() or socket() and given back on close():
 *   - an EXPOSE or vhost visitor connection: 1
 *   - a PULL connection: 1
 *   - a tunnel WebSocket (control-plane connection, primary or v2
 *     secondary, before and after HELLO): 1
 *   - a binding's listening socket (EXPOSE, PULL): 1. Bindings come and
 *     go, so their listeners are budgeted like any other socket; a BIND
 *     that finds no permit fails with INTERNAL.
 * A request for n permits is all-or-nothing.
 *
 * The reserve is the part of RLIMIT_NOFILE never handed out as permits. It
 * covers the fds the daemon holds for itself, whose number is fixed:
 *   stdin, stdout, stderr                  3
 *   control-plane listener(s)              1-2 (IPv4 and IPv6)
 *   vhost listener(s)                      0-2
 *   epoll (or kqueue) fd                   1
 *   signalfd (or a self-pipe)              1-2
 *   a log file, if any                     0-1
 *   short-lived reads (/proc/self for metrics, TLS PEM files at start,
 *   the token file)                        1-2
 *   refusal slots (below)                  refusal_slots, default 4
 * about 10-17 fds, so the default reserve of 64 leaves a wide margin for
 * libc (resolver, getrandom fallbacks) and a debugger.
 *
 * Refusal path. With no permit left, listeners stay watched, but an accept
 * goes through a refusal slot: accept, write a canned 503 (EXPOSE
 * visitors, WebSocket upgrades) or nothing (PULL), close at once, release
 * the slot. The slots live inside the reserve, so a refusal can never hit
 * EMFILE, and at most refusal_slots refusals are in flight. Only when
 * permits AND refusal slots are all taken do listeners stop being watched
 * (fdbudget_should_pause_accept); they are re-armed when either returns
 * (the on_change hook), with a timer as a safety net in the daemon.
 *
 * Single-threaded, like the rest of the daemon. Caller-owned struct, no
 * allocation.
 */
#ifndef HT_FDBUDGET_H
#define HT_FDBUDGET_H

#include <stdint.h>

/* Default number of refusal slots carved out of the reserve. */
#define FDBUDGET_REFUSAL_SLOTS 4
/* Fewest reserve fds left for the daemon's own fixed fds once the refusal
 * slots are taken out (see the table above). */
#define FDBUDGET_FIXED_MIN 8

/*
 * Called when the answer to "may listeners be watched?" may have changed:
 * when fdbudget_available() crosses zero either way, and when the refusal
 * slots fill up or free up while no permit is left. available_now is 1
 * when a permit is available, else 0. The usual body:
 *	if (fdbudget_should_pause_accept(b)) stop watching listeners;
 *	else watch them again;
 * It runs inside acquire/release: it must not call acquire/release itself.
 */
typedef void fdbudget_change_fn(void *arg, int available_now);

struct fdbudget {
	/* Read-only for everyone but fdbudget.c. */
	unsigned long total;      /* permits: RLIMIT_NOFILE - reserve */
	unsigned long in_use;     /* permits held now */
	unsigned reserve;         /* fds not handed out as permits */
	unsigned refusal_slots;   /* refusal slots, inside the reserve */
	unsigned refusals_in_use; /* refusal slots held now */

	/* Counters for metrics (monotonic). */
	uint64_t acquired_total;     /* permits handed out */
	uint64_t refused_total;      /* fdbudget_acquire calls that found no permit */
	uint64_t refusals_total;     /* refusal slots handed out (visitors refused) */
	uint64_t paused_total;       /* refusal acquires that found no slot either */
	uint64_t over_release_total; /* releases beyond what was held (a bug; clamped) */

	/* Private. */
	fdbudget_change_fn *on_change;
	void *arg;
};

/*
 * Set up b for a process limited to rlimit_nofile fds: total = rlimit -
 * reserve permits, none in use, counters zero, no hook. refusal_slots are
 * part of the reserve. Returns 0, or -EINVAL when reserve < refusal_slots
 * + FDBUDGET_FIXED_MIN or rlimit_nofile <= reserve (no permit at all):
 * the daemon should refuse to start and say why.
 */
int fdbudget_init(struct fdbudget *b, long rlimit_nofile, unsigned reserve, unsigned refusal_slots);

/*
 * Install (or with NULL remove) the change hook; arg is passed back.
 * It is not called by this function.
 */
void fdbudget_set_listener(struct fdbudget *b, fdbudget_change_fn *on_change, void *arg);

/*
 * Take n permits, all or nothing. 0 (n == 0 always succeeds), or -1 when
 * fewer than n are available: nothing taken, refused_total counts it. May
 * call the hook (available reaching 0).
 */
int fdbudget_acquire(struct fdbudget *b, unsigned n);

/*
 * Give back n permits. Releasing more than in_use is an internal error: it
 * is clamped to in_use and counted in over_release_total rather than
 * asserted, so a double release during teardown cannot take the daemon
 * down (tests assert the counter stays 0). May call the hook (available
 * leaving 0).
 */
void fdbudget_release(struct fdbudget *b, unsigned n);

/*
 * Take one refusal slot (to accept a connection only to refuse it). 0, or
 * -1 when all are held (paused_total counts it: the caller should stop
 * watching the listener). May call the hook (pause begins).
 */
int fdbudget_refusal_acquire(struct fdbudget *b);

/* Give back one refusal slot (clamped and counted like fdbudget_release).
 * May call the hook (pause ends). */
void fdbudget_refusal_release(struct fdbudget *b);

/* Permits available now (hoody_tunnel_fd_permits_available). */
unsigned long fdbudget_available(const struct fdbudget *b);

/* 1 when no permit is available (/healthz/ready fails), else 0. */
int fdbudget_exhausted(const struct fdbudget *b);

/* 1 when no permit and no refusal slot is available: listeners should not
 * be watched. */
int fdbudget_should_pause_accept(const struct fdbudget *b);

#endif
