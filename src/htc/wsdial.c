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
	conn_close(&d->conn);
	reactor_timer_stop(d->r, &d->timer);
	buf_fini(&d->out);
	buf_fini(&d->in);
	d->state = WSDIAL_IDLE;
}

static void
fail(struct wsdial *d, const char *err)
{
	stop(d);
	d->done(d, NULL, NULL, 0, err);
}

/* The 101 is complete and valid: hand everything over. */
static void
succeed(struct wsdial *d, size_t head_len)
{
	reactor_timer_stop(d->r, &d->timer);
	buf_fini(&d->out);
	d->state = WSDIAL_IDLE;
	d->done(d, &d->conn, d->in.pos + head_len, buf_len(&d->in) - head_len, NULL);
	conn_close(&d->conn); /* unless the callee took it */
	buf_fini(&d->in);
}

/* The transport's reason, or the errno's. */
static void
why(struct wsdial *d, ssize_t n, char *err, size_t errlen)
{
	const char *t = conn_error(&d->conn);

	snprintf(err, errlen, "%s", t ? t : strerror(n < 0 ? (int)-n : EIO));
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
		n = conn_read(&d->conn, d->in.last, buf_room(&d->in));
		if (n == -EAGAIN || n == -EINTR)
			return 0;
		if (n == 0) {
			snprintf(err, errlen, "connection closed during the WebSocket handshake");
			return -1;
		}
		if (n < 0) {
			why(d, n, err, errlen);
			return -1;
		}
		buf_commit(&d->in, (size_t)n);
		rc = wsconnect_check((const char *)d->in.pos, buf_len(&d->in), last, d->key, d->proto,
				     head_len, err, errlen);
		if (rc != 0)
			return rc;
	}
}

/* Send what is left of the request, and push what the transport holds. 0, or -1 (err set). */
static int
write_some(struct wsdial *d, char *err, size_t errlen)
{
	ssize_t n;

	while (buf_len(&d->out) > 0) {
		n = conn_write(&d->conn, d->out.pos, buf_len(&d->out));
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			why(d, n, err, errlen);
			return -1;
		}
		buf_consume(&d->out, (size_t)n);
	}
	n = conn_flush(&d->conn);
	if (n < 0 && n != -EAGAIN) {
		why(d, n, err, errlen);
		return -1;
	}
	return 0;
}

/* One pass in the order the transport wants: read, write, flush, interest. */
static void
exchange(struct wsdial *d)
{
	char err[256] = "";
	size_t head_len = 0;
	int rc = read_some(d, &head_len, err, sizeof(err));

	if (rc > 0) {
		succeed(d, head_len);
		return;
	}
	if (rc < 0 || write_some(d, err, sizeof(err)) < 0) {
		fail(d, err);
		return;
	}
	conn_interest(&d->conn, CONN_READ | (buf_len(&d->out) > 0 ? CONN_WRITE : 0));
}

static void
on_io(struct conn *c, unsigned events)
{
	struct wsdial *d = container_of(c, struct wsdial, conn);
	int e;

	(void)events;
	if (d->state == WSDIAL_CONNECTING) {
		e = net_socket_error(c->fd);
		if (e != 0) {
			char err[160];

			snprintf(err, sizeof(err), "cannot connect: %s", strerror(e < 0 ? -e : e));
			fail(d, err);
			return;
		}
		(void)net_set_nodelay(c->fd, 1);
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
wsdial_start(struct wsdial *d, struct reactor *r, const struct url *u, const struct sockaddr *sa,
	     socklen_t salen, const char *proto, wsdial_done_cb *done, char *err, size_t errlen)
{
	char req[2048];
	ssize_t n;
	int fd;

	d->r = r;
	d->done = done;
	d->proto = proto;
	memset(&d->in, 0, sizeof(d->in));
	n = wsconnect_request(u, proto, d->key, req, sizeof(req));
	if (n < 0) {
		wsconnect_request_error(n, err, errlen);
		return -1;
	}
	if (buf_init(&d->out, (size_t)n, 0) < 0) {
		snprintf(err, errlen, "cannot build the WebSocket handshake request");
		return -1;
	}
	buf_append(&d->out, req, (size_t)n);
	fd = net_connect(sa, salen);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect: %s", strerror(-fd));
		buf_fini(&d->out);
		return -1;
	}
	conn_init(&d->conn, r, fd, on_io);
	reactor_timer_init(&d->timer, on_timer);
	if (u->tls && tlsio_secure(&d->conn, u, err, errlen) < 0) {
		conn_close(&d->conn);
		buf_fini(&d->out);
		return -1;
	}
	if (conn_start(&d->conn, CONN_WRITE) < 0) {
		snprintf(err, errlen, "cannot watch the socket");
		conn_close(&d->conn);
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
	stop(d);
}
