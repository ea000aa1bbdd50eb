/*
 * daemon.c: accepting under the FD budget and pausing listeners (see
 * daemon.h). What is accepted is the caller's business.
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

#include "listenfds.h"
#include "log.h"
#include "net.h"
#include "util.h"

#define ACCEPT_RETRY_MS 1000 /* a paused accept is looked at again this often */
#define REFUSED (-100000)    /* accept_one: accepted and closed at once, no permit */

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

/* The FD budget's hook: permits or refusal slots came or went. */
static void
on_fds_changed(void *arg, int available_now)
{
	struct daemon *d = arg;

	(void)available_now;
	set_listeners(d, fdbudget_should_pause_accept(&d->fds));
}

/* The safety net of a pause: look again, and again later while paused. */
static void
on_accept_retry(struct reactor *r, struct reactor_timer *t)
{
	struct daemon *d = container_of(t, struct daemon, accept_timer);

	(void)r;
	set_listeners(d, fdbudget_should_pause_accept(&d->fds));
	if (d->accept_paused)
		reactor_timer_start(&d->r, &d->accept_timer, ACCEPT_RETRY_MS, 0);
}

/* see daemon.h */
void
daemon_accept_init(struct daemon *d)
{
	fdbudget_set_listener(&d->fds, on_fds_changed, d);
	reactor_timer_init(&d->accept_timer, on_accept_retry);
}

/*
 * Accept one connection from lfd under the FD budget: the new fd (the
 * caller owns one permit), or REFUSED when it was taken through a refusal
 * slot and closed, or -EAGAIN and the listeners paused when neither a
 * permit nor a refusal slot is left, or another -errno.
 */
static int
accept_one(struct daemon *d, int lfd, struct sockaddr_storage *peer, const char *refusal)
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
	return fd >= 0 ? REFUSED : fd;
}

/* see daemon.h */
void
daemon_accept_batch(struct daemon *d, int lfd, const struct daemon_accept_ops *ops, unsigned *reserve_used,
		    void *arg)
{
	int i;

	for (i = 0; i < DAEMON_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd, reserved = 0;

		if (ops->reserve_max > 0 && *reserve_used < ops->reserve_max && fdbudget_exhausted(&d->fds)) {
			fd = net_accept(lfd, &peer, &len);
			reserved = 1;
		} else {
			fd = accept_one(d, lfd, &peer, ops->refusal);
		}
		if (fd == REFUSED)
			continue;
		if (fd < 0)
			return;
		if (reserved)
			(*reserve_used)++;
		ops->on_accept(arg, fd, &peer, reserved);
	}
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
int
daemon_listen(struct daemon *d, struct daemon_listener *l, const char *flag, const char *fdname,
	      const char *addr, int port, reactor_io_cb *cb)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char name[64];
	int fd, rc;

	fd = d->activated != NULL ? listenfds_take(d->activated, fdname) : -1;
	if (fd >= 0) {
		rc = daemon_listener_start(d, l, fd, cb);
		if (rc < 0)
			close(fd);
		else
			log_info("%s: the service manager's socket '%s' (fd %d), port %d",
				 config_name(d->cfg, flag, name, sizeof(name)), fdname, fd,
				 net_local_port(fd));
		return rc;
	}
	if (addr == NULL)
		return -ENOENT;
	rc = net_parse_hostport(addr, port, &ss, &len);
	if (rc < 0) {
		log_error("%s %s: not an address", config_name(d->cfg, flag, name, sizeof(name)), addr);
		return rc;
	}
	fd = net_listen((struct sockaddr *)&ss, len, DAEMON_LISTEN_BACKLOG, 0);
	if (fd < 0) {
		log_error("%s: cannot listen on %s: %s", config_name(d->cfg, flag, name, sizeof(name)), addr,
			  strerror(-fd));
		return fd;
	}
	rc = daemon_listener_start(d, l, fd, cb);
	if (rc < 0)
		close(fd);
	return rc;
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
daemon_listener_move(struct daemon *d, struct daemon_listener *from, struct daemon_listener *to,
		     reactor_io_cb *cb)
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
