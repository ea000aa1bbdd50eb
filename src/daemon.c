/*
 * daemon.c: accepting under the FD budget and pausing listeners (see
 * daemon.h).
 *
 * The budget is checked before accept(): with a permit the connection is
 * accepted normally; without one it goes through one of the few refusal
 * slots kept inside the reserve (accept, write a canned answer, close),
 * so the daemon never meets EMFILE and never spins on a listener it
 * cannot serve. Only when the refusal slots are busy too do listeners stop
 * being watched; they resume when a permit or slot comes back, with a
 * timer as a safety net.
 */
#include "daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "session.h"
#include "util.h"

#define ACCEPT_RETRY_MS 1000

static void
set_listeners(struct daemon *d, int paused)
{
	struct daemon_listener *l;

	if (d->accept_paused == paused)
		return;
	d->accept_paused = paused;
	for (l = d->listeners; l != NULL; l = l->next)
		reactor_watcher_set(&d->r, &l->w, paused ? 0 : REACTOR_READ);
	if (paused) {
		log_warn("file descriptors exhausted: accepting paused");
		reactor_timer_start(&d->r, &d->accept_timer, ACCEPT_RETRY_MS, 0);
	} else {
		log_info("file descriptors available again: accepting resumed");
		reactor_timer_stop(&d->r, &d->accept_timer);
	}
}

/* see daemon.h */
void
daemon_fds_changed(void *arg, int available_now)
{
	struct daemon *d = arg;

	(void)available_now;
	set_listeners(d, fdbudget_should_pause_accept(&d->fds));
}

/* see daemon.h */
int
daemon_accept(struct daemon *d, int lfd, struct sockaddr_storage *peer, const char *refusal)
{
	socklen_t len = sizeof(*peer);
	int fd;

	if (fdbudget_acquire(&d->fds, 1) == 0) {
		fd = net_accept(lfd, peer, &len);
		if (fd < 0)
			fdbudget_release(&d->fds, 1);
		return fd;
	}
	if (fdbudget_refusal_acquire(&d->fds) < 0) {
		set_listeners(d, 1);
		return -EAGAIN;
	}
	fd = net_accept(lfd, peer, &len);
	if (fd >= 0) {
		if (refusal != NULL)
			(void)!send(fd, refusal, strlen(refusal), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		d->metrics.fd_refusals_total++;
	}
	fdbudget_refusal_release(&d->fds);
	return fd >= 0 ? DAEMON_ACCEPT_REFUSED : fd;
}

/* see daemon.h */
int
daemon_listener_start(struct daemon *d, struct daemon_listener *l, int fd, reactor_io_cb *cb)
{
	int rc;

	l->fd = fd;
	reactor_watcher_init(&l->w, fd, cb);
	rc = reactor_watcher_start(&d->r, &l->w, d->accept_paused ? 0 : REACTOR_READ);
	if (rc < 0)
		return rc;
	l->prev = NULL;
	l->next = d->listeners;
	if (d->listeners)
		d->listeners->prev = l;
	d->listeners = l;
	return 0;
}

/* see daemon.h */
void
daemon_listener_stop(struct daemon *d, struct daemon_listener *l)
{
	reactor_watcher_stop(&d->r, &l->w);
	close(l->fd);
	l->fd = -1;
	if (l->prev)
		l->prev->next = l->next;
	else
		d->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

/* see daemon.h */
int
daemon_listener_move(struct daemon *d, struct daemon_listener *from, struct daemon_listener *to, reactor_io_cb *cb)
{
	int fd = from->fd, rc;

	reactor_watcher_stop(&d->r, &from->w);
	if (from->prev)
		from->prev->next = from->next;
	else
		d->listeners = from->next;
	if (from->next)
		from->next->prev = from->prev;
	from->prev = from->next = NULL;
	from->fd = -1;
	rc = daemon_listener_start(d, to, fd, cb);
	return rc;
}

/* see daemon.h */
void
daemon_gauges(struct daemon *d, struct metrics_gauges *g)
{
	struct session *s;

	memset(g, 0, sizeof(*g));
	g->sessions_active = d->nsessions - d->norphans;
	g->orphaned_sessions = d->norphans;
	g->bindings_active = d->nbinds;
	g->fd_permits_available = (int64_t)fdbudget_available(&d->fds);
	g->pre_auth_connections = d->npreauth;
	g->requests_in_flight = d->requests_in_flight;
	for (s = d->sessions; s != NULL; s = s->next)
		g->streams_active += s->mux.streams.count;
}

/* see daemon.h */
void
daemon_check_drained(struct daemon *d)
{
	if (d->draining && d->sessions == NULL && d->tconns == NULL) {
		log_info("drained: exiting");
		reactor_stop(&d->r);
	}
}
