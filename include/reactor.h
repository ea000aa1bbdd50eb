/*
 * reactor.h: the single-threaded event loop (fd readiness, timers, signals).
 *
 * One iteration: run due timers, run before-poll hooks (and what they
 * deferred, then the hooks again, a few rounds at most), apply queued
 * interest changes, poll (epoll on Linux, kqueue elsewhere), dispatch the
 * batch of ready fds, then the closing phase runs deferred callbacks. The
 * monotonic clock is read once per iteration (reactor_now). reactor_run
 * loops until reactor_stop: with nothing registered it blocks in the poll.
 *
 * Every watcher, timer, hook, signal and deferred node is caller-owned and
 * embedded in the owner's struct (recover it with container_of); the
 * reactor never allocates per registration. A zeroed struct is "not
 * started". Fields under "private" belong to the reactor. Not thread-safe.
 *
 * The close rule: during a dispatch batch, the memory of a stopped watcher
 * must stay valid until the batch ends. Release it from a reactor_defer
 * callback (the closing phase); stop the watcher before closing its fd.
 */
#ifndef HT_REACTOR_H
#define HT_REACTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define REACTOR_READ 1u
#define REACTOR_WRITE 2u

struct reactor;
struct reactor_watcher;
struct reactor_timer;
struct reactor_hook;
struct reactor_signal;
struct reactor_deferred;

/* events: REACTOR_READ|REACTOR_WRITE, filtered by the current interest. An
 * error or hang-up is reported as both, so the handler's own read or write
 * meets it. */
typedef void reactor_io_cb(struct reactor *r, struct reactor_watcher *w, unsigned events);
typedef void reactor_timer_cb(struct reactor *r, struct reactor_timer *t);
/* Return non-zero when more work is ready: the next poll will not block. */
typedef int reactor_hook_cb(struct reactor *r, struct reactor_hook *h);
typedef void reactor_signal_cb(struct reactor *r, struct reactor_signal *s);
typedef void reactor_deferred_cb(struct reactor *r, struct reactor_deferred *d);

struct reactor_node {
	struct reactor_node *prev, *next;
}; /* private list link */

struct reactor_watcher {
	int fd;            /* read-only: set by reactor_watcher_init */
	unsigned interest; /* read-only: READ|WRITE the owner wants */
	/* private */
	unsigned kernel;  /* READ|WRITE the backend has registered */
	unsigned revents; /* kqueue: events merged during one poll */
	int active;
	uint64_t since;             /* r->polls at start: stale-event check */
	struct reactor_node change; /* in r->changes while interest != kernel */
	reactor_io_cb *cb;
};

struct reactor_timer {
	/* private */
	uint64_t deadline, seq; /* heap key; seq: start order, breaks ties */
	/* later_seq != 0: restarted to a later deadline, the key it takes when due */
	uint64_t later, later_seq;
	struct reactor_timer *left, *right, *parent; /* links in the reactor's timer heap */
	uint64_t repeat;
	reactor_timer_cb *cb;
	int active; /* in the heap */
};

struct reactor_hook {
	struct reactor_node node;
	reactor_hook_cb *cb;
}; /* private */
struct reactor_signal {
	struct reactor_node node;
	int signo;
	reactor_signal_cb *cb;
}; /* private */
struct reactor_deferred {
	struct reactor_deferred *next;
	reactor_deferred_cb *cb;
	int queued;
}; /* private */

struct reactor {
	uint64_t now;   /* read-only: cached monotonic ms, see reactor_now */
	uint64_t polls; /* read-only: polls done (the stale-event generation) */
	/* private */
	int backend_fd, nevents, stopping, wake;
	void *events; /* backend's result array, nevents long */
	struct reactor_node changes, hooks, signals, *walk;
	struct reactor_timer *timers;     /* root of the timer heap: the next due */
	struct reactor_timer *timer_last; /* its last node in level order */
	size_t ntimers;
	uint64_t timer_seq;
	struct reactor_deferred *defer_head, **defer_tail;
	struct reactor_watcher sig_watcher; /* delivers signals from the loop */
	sigset_t sig_watched, sig_blocked, sig_fired;
};

/* Set up r (which must not move afterwards). 0, or -errno (nothing to fini). */
int reactor_init(struct reactor *r);
/* Run pending deferred callbacks, release the reactor's own resources and
 * restore signals it blocked. Started watchers/timers/hooks are forgotten. */
void reactor_fini(struct reactor *r);
/* Loop until reactor_stop. 0 after a stop, or -errno of a failed poll or
 * interest update (EINTR is not a failure). Not reentrant. */
int reactor_run(struct reactor *r);
/* Make reactor_run return once the current iteration is done. */
void reactor_stop(struct reactor *r);
/* Make the next poll non-blocking (more work is ready without an fd). */
void reactor_wake_next(struct reactor *r);

/* Monotonic ms, read once per iteration (just after the poll returns). */
static inline uint64_t
reactor_now(const struct reactor *r)
{
	return r->now;
}
/* Re-read the clock into reactor_now (e.g. after a long computation). */
void reactor_update_time(struct reactor *r);

/* Prepare a stopped watcher for fd; cb receives its events. */
void reactor_watcher_init(struct reactor_watcher *w, int fd, reactor_io_cb *cb);
/* Register the fd with interest READ|WRITE (may be 0). The kernel sees it
 * at once, so a bad fd fails here: 0 or -errno. One watcher per fd. */
int reactor_watcher_start(struct reactor *r, struct reactor_watcher *w, unsigned interest);
/* Change the interest. Queued: applied once, just before the next poll;
 * events already polled are filtered against the new value. */
void reactor_watcher_set(struct reactor *r, struct reactor_watcher *w, unsigned interest);
/* Unregister (before close(fd)); pending events of this batch are dropped.
 * A stopped watcher may be stopped again. */
void reactor_watcher_stop(struct reactor *r, struct reactor_watcher *w);
static inline int
reactor_watcher_active(const struct reactor_watcher *w)
{
	return w->active;
}

/* Prepare a stopped timer. */
void reactor_timer_init(struct reactor_timer *t, reactor_timer_cb *cb);
/* (Re)start t: first due at reactor_now + timeout_ms, then every repeat_ms
 * when non-zero. Equal deadlines fire in start order. A timer started from
 * a timer callback never fires in the same pass. Cannot fail: the timer
 * is linked into the heap through its own fields, nothing is allocated. */
void reactor_timer_start(struct reactor *r, struct reactor_timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
/* Cancel t (no-op when not started). Safe from any callback, t's own too. */
void reactor_timer_stop(struct reactor *r, struct reactor_timer *t);
static inline int
reactor_timer_is_active(const struct reactor_timer *t)
{
	return t->active;
}

/* Call cb(r, d) in the closing phase, after the current dispatch batch (or
 * in the current iteration's, outside one), in FIFO order. Deferring a
 * queued node again does nothing. A node queued by a deferred callback
 * runs after the next hooks, before the poll, or in the next iteration,
 * whose poll then does not block. */
void reactor_defer(struct reactor *r, struct reactor_deferred *d, reactor_deferred_cb *cb);

/* Call cb once per iteration before the poll, in start order (the place to
 * flush batched output). Starting a started hook only replaces cb. */
void reactor_hook_start(struct reactor *r, struct reactor_hook *h, reactor_hook_cb *cb);
void reactor_hook_stop(struct reactor *r, struct reactor_hook *h);

/* Deliver signo as an event: cb runs from the loop, never in signal
 * context. Linux blocks signo (sigprocmask; call before starting threads)
 * and reads a signalfd, and unblocks it again (a pending instance is then
 * delivered as usual) when its last watcher stops; kqueue sets SIG_IGN,
 * uses EVFILT_SIGNAL, and resets SIG_DFL. 0, -EINVAL (bad signo), -errno. */
int reactor_signal_start(struct reactor *r, struct reactor_signal *s, int signo, reactor_signal_cb *cb);
void reactor_signal_stop(struct reactor *r, struct reactor_signal *s);

#endif
