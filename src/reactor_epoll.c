/*
 * reactor_epoll.c: the Linux backend of the reactor (see reactor_backend.h):
 * one epoll set, a growable epoll_event array, signals through a signalfd.
 *
 * Level-triggered, on purpose. Handlers are budgeted per event (so many
 * bytes written, so many frames parsed) and may leave data unread so that
 * one fast peer cannot starve the others. Level-triggered epoll reports
 * that fd again on the next iteration with no bookkeeping of ours;
 * edge-triggered would report it never again until new data arrives, which
 * would force a "still ready" list in the reactor. The cost, re-reporting
 * an fd whose owner does not want it now, is avoided by interest: an owner
 * that stops reading clears READ (queued, applied before the next poll),
 * and a watcher with no interest is removed from the set altogether,
 * because EPOLLERR/EPOLLHUP are reported even for an empty mask and would
 * otherwise wake every poll.
 *
 * epoll_data.ptr holds the watcher; reactor.c checks it before dispatch.
 */
#include "reactor_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define EVENTS_MIN 64
#define EVENTS_MAX 4096

/* see reactor_backend.h */
int
reactor_backend_init(struct reactor *r)
{
	r->events = calloc(EVENTS_MIN, sizeof(struct epoll_event));
	if (r->events == NULL)
		return -ENOMEM;
	r->nevents = EVENTS_MIN;
	r->backend_fd = epoll_create1(EPOLL_CLOEXEC);
	if (r->backend_fd < 0) {
		int err = -errno;

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
	if (r->sig_watcher.fd >= 0) {
		close(r->sig_watcher.fd);
		r->sig_watcher.fd = -1;
	}
	if (!sigisemptyset(&r->sig_blocked))
		(void)sigprocmask(SIG_UNBLOCK, &r->sig_blocked, NULL);
	sigemptyset(&r->sig_blocked);
	sigemptyset(&r->sig_watched);
	close(r->backend_fd);
	r->backend_fd = -1;
	free(r->events);
	r->events = NULL;
}

static int
ctl(struct reactor *r, int op, struct reactor_watcher *w, unsigned want)
{
	struct epoll_event ev;

	ev.events = (want & REACTOR_READ ? EPOLLIN : 0u) | (want & REACTOR_WRITE ? EPOLLOUT : 0u);
	ev.data.ptr = w;
	return epoll_ctl(r->backend_fd, op, w->fd, &ev) == 0 ? 0 : -errno;
}

/* see reactor_backend.h */
int
reactor_backend_set(struct reactor *r, struct reactor_watcher *w, unsigned want)
{
	int err;

	if (want == 0) {
		/* ENOENT/EBADF: closed already, the kernel dropped it. */
		if (w->kernel)
			(void)ctl(r, EPOLL_CTL_DEL, w, 0);
		w->kernel = 0;
		return 0;
	}
	if (w->kernel == 0) {
		err = ctl(r, EPOLL_CTL_ADD, w, want);
		if (err == -EEXIST) /* a previous owner never stopped: take over */
			err = ctl(r, EPOLL_CTL_MOD, w, want);
	} else {
		err = ctl(r, EPOLL_CTL_MOD, w, want);
		if (err == -ENOENT) /* fd closed and reopened under us */
			err = ctl(r, EPOLL_CTL_ADD, w, want);
	}
	if (err == 0)
		w->kernel = want;
	return err;
}

/* see reactor_backend.h */
int
reactor_backend_poll(struct reactor *r, int timeout_ms)
{
	int n = epoll_wait(r->backend_fd, r->events, r->nevents, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == r->nevents && r->nevents < EVENTS_MAX) {
		/* A full batch: take more next time. realloc keeps this one. */
		void *p = realloc(r->events, (size_t)r->nevents * 2 * sizeof(struct epoll_event));

		if (p != NULL) {
			r->events = p;
			r->nevents *= 2;
		}
	}
	return n;
}

/* see reactor_backend.h */
void
reactor_backend_event(struct reactor *r, int i, struct reactor_watcher **w, unsigned *events)
{
	const struct epoll_event *ev = (const struct epoll_event *)r->events + i;
	unsigned e = 0;

	if (ev->events & (EPOLLIN | EPOLLPRI))
		e |= REACTOR_READ;
	if (ev->events & EPOLLOUT)
		e |= REACTOR_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		e |= REACTOR_READ | REACTOR_WRITE;
	*w = ev->data.ptr;
	*events = e;
}

/*
 * The signalfd is readable: read one batch of records, then fire them.
 * Reading first matters: a callback may stop the last signal watcher, and
 * nothing here touches the fd after the callbacks. Level-triggered epoll
 * brings us back if more records remain.
 */
static void
signal_ready(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct signalfd_siginfo si[16];
	ssize_t n;
	size_t i;

	(void)events;
	n = read(w->fd, si, sizeof(si));
	for (i = 0; n > 0 && i < (size_t)n / sizeof(si[0]); i++)
		reactor_signal_fire(r, (int)si[i].ssi_signo);
}

/* Create the signalfd and its watcher on first use; kept until fini. */
static int
signal_fd_update(struct reactor *r)
{
	int fd, err;

	if (r->sig_watcher.fd >= 0)
		return signalfd(r->sig_watcher.fd, &r->sig_watched, 0) < 0 ? -errno : 0;
	fd = signalfd(-1, &r->sig_watched, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	reactor_watcher_init(&r->sig_watcher, fd, signal_ready);
	err = reactor_watcher_start(r, &r->sig_watcher, REACTOR_READ);
	if (err) {
		close(fd);
		r->sig_watcher.fd = -1;
	}
	return err;
}

/* Undo our own block of signo, if the block was ours. */
static void
signal_unblock(struct reactor *r, int signo)
{
	sigset_t one;

	if (!sigismember(&r->sig_blocked, signo))
		return;
	sigdelset(&r->sig_blocked, signo);
	sigemptyset(&one);
	sigaddset(&one, signo);
	(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
}

/* see reactor_backend.h */
int
reactor_backend_signal(struct reactor *r, int signo, int on)
{
	sigset_t one, old;
	int err;

	sigemptyset(&one);
	sigaddset(&one, signo);
	if (!on) {
		sigdelset(&r->sig_watched, signo);
		err = signal_fd_update(r);
		signal_unblock(r, signo);
		return err;
	}
	/* Blocked first, so no instance is lost between the two calls. */
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -errno;
	if (!sigismember(&old, signo))
		sigaddset(&r->sig_blocked, signo);
	sigaddset(&r->sig_watched, signo);
	err = signal_fd_update(r);
	if (err) {
		sigdelset(&r->sig_watched, signo);
		signal_unblock(r, signo);
	}
	return err;
}
