/*
 * wsdial.c: the WebSocket opening handshake inside the loop (see wsdial.h).
 *
 * One pump per readiness event, in the order the TLS engine wants (see
 * tls.h): read until -EAGAIN (that drives the TLS handshake, then brings
 * the 101), write what is left of the request, flush the records, and
 * watch what the engine or the exchange waits for.
 */
#include "wsdial.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tlsio.h"
#include "wsconnect.h"
#include "net.h"
#include "util.h"

static void
stop(struct wsdial *d)
{
	reactor_watcher_stop(d->r, &d->w);
	reactor_timer_stop(d->r, &d->timer);
	buf_fini(&d->out);
	buf_fini(&d->in);
	d->state = WSDIAL_IDLE;
}

static void
drop_conn(struct wsdial *d)
{
	if (d->tls != NULL) {
		tls_conn_fini(d->tls);
		free(d->tls);
		d->tls = NULL;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static void
fail(struct wsdial *d, const char *err)
{
	drop_conn(d);
	stop(d);
	d->done(d, -1, NULL, NULL, 0, err);
}

/* The 101 is complete and valid: hand everything over. */
static void
succeed(struct wsdial *d, size_t head_len)
{
	int fd = d->fd;
	struct tls_conn *tls = d->tls;
	struct buf in = d->in;

	reactor_watcher_stop(d->r, &d->w);
	reactor_timer_stop(d->r, &d->timer);
	buf_fini(&d->out);
	memset(&d->in, 0, sizeof(d->in));
	d->fd = -1;
	d->tls = NULL;
	d->state = WSDIAL_IDLE;
	d->done(d, fd, tls, in.pos + head_len, buf_len(&in) - head_len, NULL);
	buf_fini(&in);
}

/* Read what is there. 1: the 101 is in (*head_len), 0: more to come, -1: failed (err set). */
static int
read_some(struct wsdial *d, size_t *head_len, char *err, size_t errlen)
{
	for (;;) {
		size_t last = buf_len(&d->in);
		ssize_t n;
		int rc;

		if (buf_reserve(&d->in, 4096, 0, WSCONNECT_HEAD_MAX + 4096) < 0) {
			snprintf(err, errlen, "WebSocket handshake answer too long");
			return -1;
		}
		if (d->tls != NULL) {
			n = tls_conn_read(d->tls, d->fd, d->in.last, buf_room(&d->in));
		} else {
			n = recv(d->fd, d->in.last, buf_room(&d->in), 0);
			if (n < 0)
				n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
		}
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			snprintf(err, errlen, "%s",
				 n == 0 ? "connection closed during the WebSocket handshake"
				 : d->tls && tls_conn_error(d->tls) ? tls_conn_error(d->tls)
								     : strerror((int)-n));
			return -1;
		}
		buf_commit(&d->in, (size_t)n);
		rc = wsconnect_check((const char *)d->in.pos, buf_len(&d->in), last, d->key, d->proto, head_len, err,
				     errlen);
		if (rc != 0)
			return rc;
	}
}

/* Send what is left of the request. 0, or -1 (err set). */
static int
write_some(struct wsdial *d, char *err, size_t errlen)
{
	while (buf_len(&d->out) > 0) {
		ssize_t n;

		if (d->tls != NULL) {
			struct iovec iov = { d->out.pos, buf_len(&d->out) };

			n = tls_conn_writev(d->tls, d->fd, &iov, 1);
		} else {
			n = send(d->fd, d->out.pos, buf_len(&d->out), MSG_NOSIGNAL);
			if (n < 0)
				n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
		}
		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			snprintf(err, errlen, "%s",
				 d->tls && tls_conn_error(d->tls) ? tls_conn_error(d->tls) : strerror((int)-n));
			return -1;
		}
		buf_consume(&d->out, (size_t)n);
	}
	return 0;
}

static void
exchange(struct wsdial *d)
{
	char err[256] = "";
	size_t head_len = 0;
	unsigned want;
	int rc = read_some(d, &head_len, err, sizeof(err));

	if (rc > 0) {
		succeed(d, head_len);
		return;
	}
	if (rc < 0 || write_some(d, err, sizeof(err)) < 0) {
		fail(d, err);
		return;
	}
	if (d->tls != NULL) {
		int f = tls_conn_flush(d->tls, d->fd);

		if (f < 0 && f != -EAGAIN) {
			fail(d, tls_conn_error(d->tls) ? tls_conn_error(d->tls) : "TLS failed");
			return;
		}
		want = tls_conn_interest(d->tls);
		if (want == 0) {
			fail(d, tls_conn_error(d->tls) ? tls_conn_error(d->tls) : "TLS failed");
			return;
		}
	} else {
		want = buf_len(&d->out) > 0 ? REACTOR_WRITE : REACTOR_READ;
	}
	reactor_watcher_set(d->r, &d->w, want);
}

static void
on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct wsdial *d = container_of(w, struct wsdial, w);
	int e;

	(void)r;
	(void)events;
	if (d->state == WSDIAL_CONNECTING) {
		e = net_socket_error(d->fd);
		if (e != 0) {
			char err[160];

			snprintf(err, sizeof(err), "cannot connect: %s", strerror(e < 0 ? -e : e));
			fail(d, err);
			return;
		}
		(void)net_set_nodelay(d->fd, 1);
		d->state = WSDIAL_EXCHANGE;
	}
	exchange(d);
}

static void
on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct wsdial *d = container_of(t, struct wsdial, timer);

	(void)r;
	fail(d, d->state == WSDIAL_CONNECTING ? "cannot connect: no answer in time"
					      : "no answer to the WebSocket handshake in time");
}

/* see wsdial.h */
int
wsdial_start(struct wsdial *d, struct reactor *r, const struct url *u, const struct sockaddr *sa, socklen_t salen,
	     const char *proto, wsdial_done_cb *done, char *err, size_t errlen)
{
	char req[2048];
	ssize_t n;

	memset(&d->w, 0, sizeof(d->w));
	d->r = r;
	d->done = done;
	d->proto = proto;
	d->tls = NULL;
	memset(&d->in, 0, sizeof(d->in));
	n = wsconnect_request(u, proto, d->key, req, sizeof(req));
	if (n < 0 || buf_init(&d->out, (size_t)n, 0) < 0) {
		snprintf(err, errlen, "cannot build the WebSocket handshake request");
		return -1;
	}
	buf_append(&d->out, req, (size_t)n);
	d->fd = net_connect(sa, salen);
	if (d->fd < 0) {
		snprintf(err, errlen, "cannot connect: %s", strerror(-d->fd));
		buf_fini(&d->out);
		d->fd = -1;
		return -1;
	}
	if (u->tls && (d->tls = tlsio_client(u, err, errlen)) == NULL) {
		drop_conn(d);
		buf_fini(&d->out);
		return -1;
	}
	reactor_watcher_init(&d->w, d->fd, on_io);
	reactor_timer_init(&d->timer, on_timer);
	if (reactor_watcher_start(r, &d->w, REACTOR_WRITE) < 0) {
		snprintf(err, errlen, "cannot watch the socket");
		drop_conn(d);
		buf_fini(&d->out);
		return -1;
	}
	reactor_timer_start(r, &d->timer, WSCONNECT_TIMEOUT_MS, 0);
	d->state = WSDIAL_CONNECTING;
	return 0;
}

/* see wsdial.h */
void
wsdial_cancel(struct wsdial *d)
{
	if (d->state == WSDIAL_IDLE)
		return;
	drop_conn(d);
	stop(d);
}
