/*
 * ctl.c: the control-plane HTTP/1.1 server (see ctl.h).
 *
 * One connection: read a request head (bounded size and time), answer it
 * from api.c or upgrade it, write the answer, and go on with the next
 * request (keep-alive; pipelined requests are answered in order since the
 * next head is parsed only after the answer is written). A connection
 * that has not completed its first request counts as pre-auth, like a
 * tunnel socket before HELLO.
 */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "bind.h"
#include "expose.h"
#include "expose_http.h"
#include "forwarded.h"
#include "http1.h"
#include "log.h"
#include "net.h"
#include "session.h"
#include "util.h"
#include "ws_handshake.h"

#define CTL_IN_SIZE 4096
#define CTL_KEEPALIVE_MS 60000
#define CTL_MAX_HEADERS 64
#define CTL_MAX_BODY (64 * 1024)
#define CTL_ROUNDS 16 /* requests answered per event, at most */
/*
 * Admin connections taken from the FD reserve when no permit is left, so
 * that health, metrics and kill keep answering while visitors exhaust the
 * budget (they never carry a tunnel: an upgrade on one is answered 503).
 */
#define CTL_RESERVED_MAX 8

enum ctl_state {
	CTL_HEAD,    /* reading a request head */
	CTL_BODY,    /* discarding the body of the request just answered */
	CTL_WRITE,   /* writing an answer; then CTL_HEAD or close */
	CTL_UPGRADE, /* writing the 101; then the socket goes to a session */
	CTL_STATE_MAX
};

struct ctl_conn {
	struct daemon *d;
	struct conn conn; /* plain, or TLS with --tls-cert */
	enum ctl_state state;
	struct reactor_timer timer; /* hello, keep-alive idle, or send progress */
	struct reactor_timer more;  /* requests left buffered for the next iteration */
	struct net_progress sent;   /* does the client take its answer (send timeout) */
	struct reactor_deferred free_defer;
	struct buf in, out;
	size_t last_len; /* bytes of the head already scanned */
	size_t head_len; /* length of the head being answered */
	uint64_t body_left;
	uint64_t accepted_ms;
	int keep_alive, preauth, v2, closed;
	int reserved; /* from the reserve, not a permit (CTL_RESERVED_MAX) */
	char peer[64];
	struct sockaddr_storage peer_addr; /* who is asking: api.c's token rule */
	struct ctl_conn *prev, *next;
};

static void ctl_on_io(struct conn *conn, unsigned events);
static void ctl_close(struct ctl_conn *c);

/* A plain HTTP client on the TLS port is told so in plain HTTP, as nginx does. */
static const char ctl_plain_answer[] = "HTTP/1.1 400 TLS required\r\nContent-Type: text/plain\r\n"
				       "Content-Length: 45\r\nConnection: close\r\n\r\n"
				       "this port speaks TLS: use wss:// or https://\n";

static void
on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct ctl_conn *c = container_of(t, struct ctl_conn, timer);

	(void)r;
	if (c->state == CTL_WRITE || c->state == CTL_UPGRADE) {
		if (net_progress_check(&c->sent, c->conn.fd)) {
			reactor_timer_start(&c->d->r, &c->timer, c->d->cfg->send_timeout_ms, 0);
			return;
		}
		log_debug("ctl %s: took no byte of its answer in time, closing", c->peer);
	} else {
		log_debug("ctl %s: idle, closing", c->peer);
	}
	ctl_close(c);
}

static void
on_more(struct reactor *r, struct reactor_timer *t)
{
	struct ctl_conn *c = container_of(t, struct ctl_conn, more);

	(void)r;
	ctl_on_io(&c->conn, CONN_READ);
}

/* An answer is waiting for the client: it must take a byte of it every --send-timeout. */
static void
send_timer_arm(struct ctl_conn *c)
{
	net_progress_mark(&c->sent, c->conn.fd);
	reactor_timer_start(&c->d->r, &c->timer, c->d->cfg->send_timeout_ms, 0);
}

static void
free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct ctl_conn *c = container_of(df, struct ctl_conn, free_defer);

	(void)r;
	buf_fini(&c->in);
	buf_fini(&c->out);
	free(c);
}

/* A closed connection's FD goes back where it came from: the reserve or the budget. */
static void
fd_return(struct daemon *d, int reserved)
{
	if (reserved)
		d->ctl_reserved--;
	else
		fdbudget_release(&d->fds, 1);
}

/* Forget the connection; close_fd = 0 when a session takes the socket. */
static void
ctl_release(struct ctl_conn *c, int close_fd)
{
	struct daemon *d = c->d;

	if (c->closed)
		return;
	c->closed = 1;
	reactor_timer_stop(&d->r, &c->timer);
	reactor_timer_stop(&d->r, &c->more);
	if (c->preauth && d->npreauth > 0)
		d->npreauth--;
	if (close_fd) {
		conn_close(&c->conn);
		fd_return(d, c->reserved);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		d->ctls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	reactor_defer(&d->r, &c->free_defer, free_cb);
}

static void
ctl_close(struct ctl_conn *c)
{
	ctl_release(c, 1);
}

/* ---- answers ------------------------------------------------------------ */

/* 1 when the answer is all out, 0 when the socket is full, -1 when closed. */
static int
write_out(struct ctl_conn *c)
{
	int rc;

	while (buf_len(&c->out) > 0) {
		ssize_t n = conn_write(&c->conn, c->out.pos, buf_len(&c->out));

		if (n == -EINTR)
			continue;
		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			ctl_close(c);
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
		net_progress_pushed(&c->sent, (size_t)n);
	}
	if (c->state == CTL_UPGRADE)
		return 1; /* the tunnel flushes what the transport holds */
	rc = conn_flush(&c->conn);
	if (rc == -EAGAIN)
		return 0; /* TLS records are not out yet */
	if (rc < 0) {
		ctl_close(c);
		return -1;
	}
	return 1;
}

static void
respond(struct ctl_conn *c, int status, const char *ctype, const char *extra, const void *body, size_t len,
	int head_only)
{
	char head[512];
	int n = snprintf(
		head, sizeof(head),
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
		"Connection: %s\r\n%s\r\n",
		status, http1_reason_phrase(status), ctype, len, c->keep_alive ? "keep-alive" : "close",
		extra ? extra : "");

	buf_reset(&c->out, 0);
	if (buf_reserve(&c->out, (size_t)n + len, 0, 0) < 0) {
		ctl_close(c);
		return;
	}
	buf_append(&c->out, head, (size_t)n);
	if (!head_only)
		buf_append(&c->out, body, len);
	c->state = CTL_WRITE;
	send_timer_arm(c);
}

static void
respond_text(struct ctl_conn *c, int status, const char *text)
{
	c->keep_alive = 0;
	respond(c, status, "text/plain; charset=utf-8", NULL, text, strlen(text), 0);
}

/* ---- upgrade ------------------------------------------------------------- */

static void
upgrade(struct ctl_conn *c, const struct http1_request *rq)
{
	static const char *const protos[] = { "hoody-tunnel.v1", "hoody-tunnel.v2" };
	struct ws_handshake_result res;
	char out[512];
	ssize_t n;

	ws_handshake_server_check(&res, rq->method, rq->method_len, rq->minor_version, rq->headers,
				  rq->num_headers, protos, 2, 1);
	if (res.status == 101 && c->d->phase != DAEMON_RUNNING) {
		respond_text(c, 503, "server shutting down\n");
		return;
	}
	if (res.status == 101 && c->reserved) {
		respond_text(c, 503, "no file descriptors left for tunnels\n");
		return;
	}
	c->keep_alive = 0;
	n = ws_handshake_response_encode(out, sizeof(out), &res, NULL);
	if (n < 0) {
		ctl_close(c);
		return;
	}
	if (res.status != 101) {
		log_debug("ctl %s: upgrade refused: %s", c->peer, res.reason);
		c->state = CTL_WRITE;
	} else {
		c->state = CTL_UPGRADE;
		c->v2 = res.protocol == protos[1];
	}
	buf_reset(&c->out, 0);
	buf_append(&c->out, out, (size_t)n);
	send_timer_arm(c);
}

static void
hand_over(struct ctl_conn *c)
{
	struct daemon *d = c->d;
	const uint8_t *pre = c->in.pos + c->head_len; /* c is freed after this iteration */
	size_t pre_len = buf_len(&c->in) - c->head_len;

	if (c->preauth && d->npreauth > 0) {
		d->npreauth--; /* the session counts itself from here */
		c->preauth = 0;
	}
	ctl_release(c, 0);
	tconn_start(d, &c->conn, c->v2, c->peer, c->accepted_ms, pre, pre_len);
}

/* ---- requests ------------------------------------------------------------ */

static int
is_connect(const struct http1_request *rq)
{
	static const char p[] = "/api/v1/tunnel/connect";
	size_t n = rq->target_len;
	const char *q = memchr(rq->target, '?', n);

	if (q != NULL)
		n = (size_t)(q - rq->target);
	return n == sizeof(p) - 1 && memcmp(rq->target, p, n) == 0;
}

static void
answer(struct ctl_conn *c, const struct http1_request *rq)
{
	struct api_response res;
	int head = rq->method_len == 4 && memcmp(rq->method, "HEAD", 4) == 0;

	res.body = &c->d->scratch;
	api_handle(c->d, rq, (const struct sockaddr *)&c->peer_addr, &res);
	respond(c, res.status, res.content_type, res.extra_headers, res.body->pos, buf_len(res.body), head);
}

/*
 * With --domain: a request for NAME.DOMAIN (or DOMAIN) outside the control
 * plane's paths. /metrics is not one of them: on a routed host it is the
 * tunnel's, on any other host the daemon's.
 */
static int
routed(const struct ctl_conn *c, const struct http1_request *rq)
{
	const char *domain = c->d->cfg->domain, *host;
	char name[BIND_NAME_MAX + 1];
	size_t len;

	return domain != NULL && !expose_http_reserved(rq->target, rq->target_len) &&
	       expose_http_host(rq, &host, &len) == 0 && bind_host_name(domain, host, len, name);
}

/* The connection goes to the visitor machine, this request head and all. */
static void
route_out(struct ctl_conn *c)
{
	if (c->reserved) {
		respond_text(c, 503, "server at capacity\n");
		return;
	}
	expose_adopt(c->d, &c->conn, c->in.pos, buf_len(&c->in));
	ctl_release(c, 0);
}

static void
on_head(struct ctl_conn *c, const struct http1_request *rq)
{
	struct daemon *d = c->d;

	if (c->preauth) {
		c->preauth = 0;
		if (d->npreauth > 0)
			d->npreauth--;
	}
	c->keep_alive = rq->keep_alive;
	reactor_timer_stop(&d->r, &c->timer);
	if (routed(c, rq)) {
		route_out(c);
		return;
	}
	if (rq->body == HTTP1_BODY_CHUNKED ||
	    (rq->body == HTTP1_BODY_LENGTH && rq->content_length > CTL_MAX_BODY)) {
		respond_text(c, 413, "request bodies are not accepted here\n");
		return;
	}
	if (is_connect(rq)) {
		if (rq->body != HTTP1_BODY_NONE && rq->content_length > 0) {
			respond_text(c, 400, "an upgrade request has no body\n");
			return;
		}
		upgrade(c, rq);
		return;
	}
	answer(c, rq);
	c->body_left = rq->body == HTTP1_BODY_LENGTH ? rq->content_length : 0;
}

static void
parse_next(struct ctl_conn *c)
{
	struct http1_header hdrs[CTL_MAX_HEADERS];
	struct http1_request rq;
	struct http1_limits lim = { c->d->cfg->max_head_size, CTL_MAX_HEADERS };
	ssize_t n;

	memset(&rq, 0, sizeof(rq));
	rq.headers = hdrs;
	rq.headers_cap = CTL_MAX_HEADERS;
	n = http1_parse_request((const char *)c->in.pos, buf_len(&c->in), c->last_len, &lim, &rq);
	if (n == HT_AGAIN) {
		c->last_len = buf_len(&c->in);
		return;
	}
	c->last_len = 0;
	if (n < 0) {
		respond_text(c, http1_error_status(rq.err), http1_error_str(rq.err));
		return;
	}
	c->head_len = (size_t)n;
	on_head(c, &rq);
}

/* The answer is out: next request, close, or hand-over. */
static void
after_write(struct ctl_conn *c)
{
	if (c->state == CTL_UPGRADE) {
		hand_over(c);
		return;
	}
	if (!c->keep_alive) {
		ctl_close(c);
		return;
	}
	buf_consume(&c->in, c->head_len);
	c->head_len = 0;
	c->state = c->body_left > 0 ? CTL_BODY : CTL_HEAD;
	reactor_timer_start(&c->d->r, &c->timer, CTL_KEEPALIVE_MS, 0);
}

/* Drop request body bytes (admin requests have no use for them). */
static void
skip_body(struct ctl_conn *c)
{
	size_t k = (size_t)UTIL_MIN((uint64_t)buf_len(&c->in), c->body_left);

	buf_consume(&c->in, k);
	c->body_left -= k;
	if (c->body_left == 0)
		c->state = CTL_HEAD;
}

static int
read_in(struct ctl_conn *c)
{
	ssize_t n;

	if (buf_reserve(&c->in, 1024, 0, c->d->cfg->max_head_size + CTL_IN_SIZE) < 0) {
		respond_text(c, 431, "request head too large\n");
		return 0;
	}
	n = conn_read(&c->conn, c->in.last, buf_room(&c->in));
	if (n > 0) {
		buf_commit(&c->in, (size_t)n);
		return 0;
	}
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	log_debug("ctl %s: closed (%s)", c->peer,
		  n == 0                 ? "end of stream"
		  : conn_error(&c->conn) ? conn_error(&c->conn)
					 : strerror((int)-n));
	ctl_close(c);
	return -1;
}

/*
 * Read only between answers, and only once what is buffered was parsed:
 * pipelined requests wait in the socket while an answer is written.
 */
static int
wants_read(const struct ctl_conn *c)
{
	return c->state == CTL_BODY || (c->state == CTL_HEAD && c->last_len == buf_len(&c->in));
}

/* Read as wants_read says; write while an answer is on its way. */
static unsigned
interest(const struct ctl_conn *c)
{
	return (wants_read(c) ? CONN_READ : 0) |
	       (c->state == CTL_WRITE || c->state == CTL_UPGRADE ? CONN_WRITE : 0);
}

static void
ctl_on_io(struct conn *conn, unsigned events)
{
	struct ctl_conn *c = container_of(conn, struct ctl_conn, conn);
	int rounds;

	if ((events & CONN_READ) && wants_read(c) && read_in(c) < 0)
		return;
	for (rounds = 0; rounds < CTL_ROUNDS && !c->closed; rounds++) {
		if (c->state == CTL_HEAD) {
			if (buf_len(&c->in) == 0)
				break;
			parse_next(c);
			if (c->state == CTL_HEAD)
				break;
		}
		if (c->state == CTL_BODY) {
			skip_body(c);
			if (c->state == CTL_BODY)
				break;
		}
		if (c->state == CTL_WRITE || c->state == CTL_UPGRADE) {
			if (write_out(c) <= 0)
				break;
			after_write(c);
		}
	}
	if (c->closed)
		return;
	/* requests still buffered after the round limit: go on in the next iteration */
	if ((c->state == CTL_HEAD || c->state == CTL_BODY) && rounds == CTL_ROUNDS &&
	    buf_len(&c->in) > c->last_len)
		reactor_timer_start(&c->d->r, &c->more, 0, 0);
	conn_interest(&c->conn, interest(c));
}

/* ---- listener ------------------------------------------------------------ */

/* A control connection on fd: the new connection, or NULL (fd closed, its FD given back). */
static struct ctl_conn *
ctl_accept_one(struct daemon *d, int fd, const struct sockaddr_storage *peer, int reserved, struct conn *from)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		if (from != NULL)
			conn_close(from);
		goto fail;
	}
	if (from != NULL)
		conn_move(&c->conn, from, &d->r, ctl_on_io);
	else
		conn_init(&c->conn, &d->r, fd, ctl_on_io);
	if (buf_init(&c->in, CTL_IN_SIZE, 0) < 0 || buf_init(&c->out, 1024, 0) < 0 ||
	    (from == NULL && d->tls_creds.d != NULL && conn_tls_server(&c->conn, &d->tls_creds) < 0))
		goto fail;
	conn_set_plain_answer(&c->conn, ctl_plain_answer); /* TLS only */
	c->d = d;
	c->reserved = reserved;
	(void)net_set_nodelay(c->conn.fd, 1);
	c->state = CTL_HEAD;
	c->accepted_ms = reactor_now(&d->r);
	c->preauth = 1;
	d->npreauth++;
	c->peer_addr = *peer;
	net_format_addr((const struct sockaddr *)peer, c->peer, sizeof(c->peer));
	reactor_timer_init(&c->timer, on_timer);
	reactor_timer_init(&c->more, on_more);
	c->next = d->ctls;
	if (d->ctls)
		d->ctls->prev = c;
	d->ctls = c;
	if (conn_start(&c->conn, CONN_READ) < 0) {
		ctl_close(c);
		return NULL;
	}
	reactor_timer_start(&d->r, &c->timer, d->cfg->hello_timeout_ms, 0);
	return c;
fail:
	if (c != NULL) {
		conn_close(&c->conn);
		buf_fini(&c->in);
		buf_fini(&c->out);
		free(c);
	} else if (from == NULL) {
		close(fd);
	}
	fd_return(d, reserved);
	return NULL;
}

/* A new control connection, unless the pre-auth cap is reached (the newest goes at once). */
static struct ctl_conn *
ctl_admit(struct daemon *d, int fd, const struct sockaddr_storage *peer, int reserved, struct conn *from)
{
	if (d->npreauth >= d->cfg->max_pre_auth_connections) {
		metrics_handshake_rejected(&d->metrics, METRICS_REJECT_PRE_AUTH_CAP);
		if (from != NULL)
			conn_close(from);
		else
			close(fd);
		fd_return(d, reserved);
		return NULL;
	}
	return ctl_accept_one(d, fd, peer, reserved, from);
}

/* A connection daemon_accept_batch took from the control-plane listener. */
static void
ctl_accepted(void *arg, int fd, const struct sockaddr_storage *peer, int reserved)
{
	(void)ctl_admit(arg, fd, peer, reserved, NULL);
}

/* A routed connection whose request is for the control plane (d->ctl_adopt). */
static void
ctl_adopt(struct daemon *d, struct conn *from, const uint8_t *pre, size_t n)
{
	struct sockaddr_storage peer;
	struct ctl_conn *c;

	net_peer_addr(from->fd, &peer);
	c = ctl_admit(d, -1, &peer, 0, from);
	if (c == NULL)
		return;
	if (buf_append(&c->in, pre, n) < 0) {
		ctl_close(c);
		return;
	}
	reactor_timer_start(&d->r, &c->more, 0, 0); /* parse it in the next iteration */
}

static void
ctl_on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	static const struct daemon_accept_ops ops = {
		.refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
			   "Retry-After: 5\r\nConnection: close\r\n\r\n",
		.reserve_max = CTL_RESERVED_MAX, /* admin connections still come in without permits */
		.on_accept = ctl_accepted,
	};
	struct daemon *d = container_of(w, struct daemon, ctl.w);

	(void)r;
	(void)events;
	daemon_accept_batch(d, d->ctl.fd, &ops, &d->ctl_reserved, d);
}

/* --admin-auth none lets whoever reaches the port end sessions: allowed, but said at start-up. */
static void
warn_open_admin(struct daemon *d)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (d->cfg->admin_auth != AUTH_ADMIN_NONE)
		return;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(d->ctl.fd, (struct sockaddr *)&ss, &len) == 0 &&
	    forwarded_loopback((const struct sockaddr *)&ss))
		log_warn("--admin-auth none: the admin API asks no token; anyone on this host may end "
			 "sessions");
	else
		log_warn("--admin-auth none: the admin API asks no token and --listen %s is not loopback: "
			 "anyone who reaches it may end sessions",
			 d->cfg->listen);
}

/* see ctl.h */
int
ctl_start(struct daemon *d)
{
	int rc = daemon_listen(d, &d->ctl, "listen", "control", d->cfg->listen, 50, ctl_on_accept);

	if (rc < 0)
		return rc;
	warn_open_admin(d);
	d->ctl_port = net_local_port(d->ctl.fd);
	d->ctl_adopt = ctl_adopt;
	return 0;
}

/* see ctl.h */
void
ctl_stop(struct daemon *d)
{
	while (d->ctls != NULL)
		ctl_close(d->ctls);
	if (d->ctl.fd >= 0)
		daemon_listener_stop(d, &d->ctl);
}
