/*
 * reactor_backend.h: the private interface between reactor.c and the
 * polling backend (reactor_epoll.c on Linux, reactor_kqueue.c elsewhere;
 * the Makefile compiles exactly one). Only reactor*.c include it.
 *
 * The backend owns r->backend_fd, r->events/r->nevents, the kqueue scratch
 * field w->revents and the signal fields (sig_watcher, sig_*). It keeps
 * w->kernel equal to what the kernel has. Each ready entry names a watcher
 * pointer; reactor.c validates it (active, started before this poll) before
 * dispatching, so the backend never filters stale events itself.
 */
#ifndef HT_REACTOR_BACKEND_H
#define HT_REACTOR_BACKEND_H

#include "reactor.h"

/* Create the polling descriptor and the result array. 0 or -errno; on
 * failure nothing is left to release. */
int reactor_backend_init(struct reactor *r);

/* Close what init and reactor_backend_signal created; restore signals. */
void reactor_backend_fini(struct reactor *r);

/*
 * Make the kernel's registration of w->fd equal to want (READ|WRITE, 0 =
 * not registered), from what w->kernel says it is now; w->kernel = want on
 * success. 0 or -errno. Removal never fails (the fd may already be closed).
 */
int reactor_backend_set(struct reactor *r, struct reactor_watcher *w, unsigned want);

/*
 * Wait up to timeout_ms (-1: no limit, 0: do not block). Returns the number
 * of ready entries, one per watcher (read and write merged), 0 on EINTR or
 * timeout, or -errno. May grow the result array after a full batch.
 */
int reactor_backend_poll(struct reactor *r, int timeout_ms);

/* Entry i (< the last poll's result): its watcher and READ|WRITE events
 * (errors and hang-ups as both). Read each entry once, in order. */
void reactor_backend_event(struct reactor *r, int i, struct reactor_watcher **w, unsigned *events);

/*
 * Start (on = 1) or stop (on = 0) delivering signo; called by reactor.c for
 * the first and the last reactor_signal of that number. Deliveries end up
 * in reactor_signal_fire(), from the loop. 0 or -errno.
 */
int reactor_backend_signal(struct reactor *r, int signo, int on);

/* In reactor.c: run the callbacks of every reactor_signal watching signo. */
void reactor_signal_fire(struct reactor *r, int signo);

/* In reactor.c: start w without asking the kernel (the backend's own
 * signal watcher when it has no fd). */
void reactor_watcher_mark_started(struct reactor *r, struct reactor_watcher *w, unsigned interest);

#endif
