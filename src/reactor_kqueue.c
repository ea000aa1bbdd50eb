/*
 * reactor_kqueue.c: the BSD/macOS backend of the reactor (see
 * reactor_backend.h): one kqueue, a growable kevent array, signals through
 * EVFILT_SIGNAL.
 *
 * kqueue reports reading and writing as separate filters, so one fd may
 * come back as two kevents. As Redis's ae_kqueue.c does, they are merged
 * per watcher before dispatch so that both backends call a handler once
 * per batch with READ|WRITE together: the first kevent of a watcher claims
 * an output slot (compacted in place at the front of the array) and the
 * events accumulate in w->revents, which is consumed when the slot is read.
 * Filters are level-triggered (no EV_CLEAR), for the reasons given in
 * reactor_epoll.c. udata holds the watcher; reactor.c checks it.
 */
#include "reactor_backend.h"

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define EVENTS_MIN 64
#define EVENTS_MAX 4096

/* see reactor_backend.h */
int
reactor_backend_init(struct reactor *r)
{
	r->events = calloc(EVENTS_MIN, sizeof(struct kevent));
	if (r->events == NULL)
		return -ENOMEM;
	r->nevents = EVENTS_MIN;
	r->backend_fd = kqueue();
	if (r->backend_fd < 0 || fcntl(r->backend_fd, F_SETFD, FD_CLOEXEC) < 0) {
		int err = -errno;

		if (r->backend_fd >= 0)
			close(r->backend_fd);
		free(r->events);
		r->events = NULL;
		return err;
	}
	return 0;
}

/* see reactor_backend.h */
void
reactor_backend_fini(struct reactor *r)
{
	int signo;

	for (signo = 1; signo < NSIG; signo++)
		if (sigismember(&r->sig_watched, signo) == 1)
			(void)signal(signo, SIG_DFL);
	sigemptyset(&r->sig_watched);
	close(r->backend_fd);
	r->backend_fd = -1;
	free(r->events);
	r->events = NULL;
}

/*
 * see reactor_backend.h
 *
 * EV_RECEIPT gets one result per change (EV_ERROR, data = errno or 0)
 * without draining ready events, and keeps going after a failed change, so
 * w->kernel always says exactly which filters exist, even after a partial
 * failure. A failed removal means the fd is closed already.
 */
int
reactor_backend_set(struct reactor *r, struct reactor_watcher *w, unsigned want)
{
	static const struct timespec zero;
	unsigned add = want & ~w->kernel, del = w->kernel & ~want, kernel = w->kernel;
	struct kevent ch[2], out[2];
	int i, n = 0, err = 0;

	if (add & REACTOR_READ)
		EV_SET(&ch[n++], w->fd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, (void *)w);
	else if (del & REACTOR_READ)
		EV_SET(&ch[n++], w->fd, EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, (void *)w);
	if (add & REACTOR_WRITE)
		EV_SET(&ch[n++], w->fd, EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, (void *)w);
	else if (del & REACTOR_WRITE)
		EV_SET(&ch[n++], w->fd, EVFILT_WRITE, EV_DELETE | EV_RECEIPT, 0, 0, (void *)w);
	if (n == 0)
		return 0;
	n = kevent(r->backend_fd, ch, n, out, n, &zero);
	if (n < 0) {
		if (want)
			return -errno;
		w->kernel = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned bit = out[i].filter == EVFILT_WRITE ? REACTOR_WRITE : REACTOR_READ;

		if (del & bit)
			kernel &= ~bit;
		else if (out[i].data == 0)
			kernel |= bit;
		else
			err = -(int)out[i].data;
	}
	w->kernel = kernel;
	return err;
}

/* Merge one kevent into the output: returns the new output count. */
static int
merge(struct kevent *ev, int m, struct reactor_watcher *w, unsigned e)
{
	if (w->revents == 0)
		ev[m++].udata = (void *)w;
	w->revents |= e;
	return m;
}

/* see reactor_backend.h */
int
reactor_backend_poll(struct reactor *r, int timeout_ms)
{
	struct kevent *ev = r->events;
	struct timespec ts, *tsp = NULL;
	int i, n, m = 0;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	n = kevent(r->backend_fd, NULL, 0, ev, r->nevents, tsp);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* m <= i: writing slot m never clobbers an unread kevent. */
	for (i = 0; i < n; i++) {
		struct reactor_watcher *w = (struct reactor_watcher *)ev[i].udata;
		unsigned e = ev[i].filter == EVFILT_WRITE ? REACTOR_WRITE : REACTOR_READ;

		if (ev[i].filter == EVFILT_SIGNAL) {
			sigaddset(&r->sig_fired, (int)ev[i].ident);
			w = &r->sig_watcher;
		} else if (ev[i].flags & (EV_EOF | EV_ERROR)) {
			e = REACTOR_READ | REACTOR_WRITE;
		}
		m = merge(ev, m, w, e);
	}
	if (n == r->nevents && r->nevents < EVENTS_MAX) {
		void *p = realloc(r->events, (size_t)r->nevents * 2 * sizeof(struct kevent));

		if (p != NULL) {
			r->events = p;
			r->nevents *= 2;
		}
	}
	return m;
}

/* see reactor_backend.h */
void
reactor_backend_event(struct reactor *r, int i, struct reactor_watcher **w, unsigned *events)
{
	struct reactor_watcher *x = (struct reactor_watcher *)((struct kevent *)r->events)[i].udata;

	*w = x;
	*events = x->revents;
	x->revents = 0;
}

/* The signal watcher's callback: fire what this poll collected. */
static void
signal_ready(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	sigset_t fired = r->sig_fired;
	int signo;

	(void)w;
	(void)events;
	sigemptyset(&r->sig_fired);
	for (signo = 1; signo < NSIG; signo++)
		if (sigismember(&fired, signo) == 1)
			reactor_signal_fire(r, signo);
}

/*
 * see reactor_backend.h
 *
 * EVFILT_SIGNAL records a signal even when it is ignored, and only then is
 * the default action (often "terminate") kept away: SIG_IGN while watched,
 * SIG_DFL after.
 */
int
reactor_backend_signal(struct reactor *r, int signo, int on)
{
	struct kevent ch;

	EV_SET(&ch, signo, EVFILT_SIGNAL, on ? EV_ADD : EV_DELETE, 0, 0, NULL);
	if (on) {
		if (signal(signo, SIG_IGN) == SIG_ERR)
			return -errno;
		if (kevent(r->backend_fd, &ch, 1, NULL, 0, NULL) < 0) {
			int err = -errno;

			(void)signal(signo, SIG_DFL);
			return err;
		}
		sigaddset(&r->sig_watched, signo);
		if (!r->sig_watcher.active) {
			reactor_watcher_init(&r->sig_watcher, -1, signal_ready);
			reactor_watcher_mark_started(r, &r->sig_watcher, REACTOR_READ);
		}
		return 0;
	}
	(void)kevent(r->backend_fd, &ch, 1, NULL, 0, NULL);
	(void)signal(signo, SIG_DFL);
	sigdelset(&r->sig_watched, signo);
	sigdelset(&r->sig_fired, signo);
	return 0;
}
