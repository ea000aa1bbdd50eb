/*
 * client.c: the tunnel client (see client.h).
 */
#include "htc/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "frame.h"
#include "htc/local.h"
#include "htc/print.h"
#include "http1.h"
#include "json.h"
#include "pump.h"
#include "util.h"
#include "ws_handshake.h"

#define CONNECT_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000

/* The local end of one tcp stream. */
struct local_conn {
	struct pump pump;
	struct client *c;
	uint32_t sid;
};

static const struct tunnel_ops client_tunnel_ops;
static const struct mux_ops client_mux_ops;

/* ---- connecting (before the loop runs) --------------------------------- */

/* Wait for fd to be ready for events within the deadline. 0, or -ETIMEDOUT / -errno. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		uint64_t now = clock_mono_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int
tcp_connect(const struct url *u, uint64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %.200s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0) {
			socklen_t l = sizeof(rc);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &l);
			errno = rc;
			rc = rc ? -1 : 0;
		}
		if (rc == 0)
			break;
		snprintf(err, errlen, "cannot connect to %.200s:%u: %s", u->host, u->port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read the 101 response; leftover bytes after it go to *pre. */
static int
read_upgrade(int fd, const char *key, uint64_t deadline, struct buf *pre, char *err, size_t errlen)
{
	static const char *const protos[] = { "hoody-tunnel.v1" };
	struct http1_header hdrs[64];
	struct http1_response res;
	struct http1_limits lim = { 16384, 64 };
	char head[16384];
	size_t len = 0;
	ssize_t n = HT_AGAIN;
	const char *why, *sel;

	while (n == HT_AGAIN) {
		ssize_t k = recv(fd, head + len, sizeof(head) - len, 0);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
			snprintf(err, errlen, "connection closed during the WebSocket handshake");
			return -1;
		}
		if (k < 0) {
			if (wait_fd(fd, POLLIN, deadline) < 0) {
				snprintf(err, errlen, "no answer to the WebSocket handshake");
				return -1;
			}
			continue;
		}
		memset(&res, 0, sizeof(res));
		res.headers = hdrs;
		res.headers_cap = UTIL_ARRAY_SIZE(hdrs);
		n = http1_parse_response(head, len + (size_t)k, len, &lim, &res);
		len += (size_t)k;
	}
	if (n < 0) {
		snprintf(err, errlen, "bad answer to the WebSocket handshake");
		return -1;
	}
	if (res.status != 101) {
		snprintf(err, errlen, "WebSocket upgrade refused: %d %.*s", res.status, (int)res.reason_len,
			 res.reason);
		return -1;
	}
	why = ws_handshake_client_check(res.status, hdrs, res.num_headers, key, strlen(key), protos, 1, 1, &sel);
	if (why != NULL) {
		snprintf(err, errlen, "WebSocket handshake failed: %s", why);
		return -1;
	}
	return buf_append(pre, head + n, len - (size_t)n);
}

static int
ws_connect(struct client *c, struct buf *pre, char *err, size_t errlen)
{
	static const char *const protos[] = { "hoody-tunnel.v1" };
	const struct url *u = &c->o->u;
	uint64_t deadline = clock_mono_ms() + CONNECT_TIMEOUT_MS;
	char key[WS_HANDSHAKE_KEY_LEN + 1], host[URL_HOST_MAX + 16], req[2048];
	struct ws_handshake_request rq;
	ssize_t n;
	int fd, one = 1;

	if (u->tls) {
		snprintf(err, errlen, "%s: TLS (wss://, https://) is not supported by this build", c->o->url);
		return -1;
	}
	fd = tcp_connect(u, deadline, err, errlen);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ws_handshake_client_key(key);
	url_authority(u, 1, host, sizeof(host));
	memset(&rq, 0, sizeof(rq));
	rq.host = host;
	rq.path = u->path;
	rq.key = key;
	rq.protocols = protos;
	rq.nprotocols = 1;
	n = ws_handshake_request_encode(req, sizeof(req), &rq);
	if (n < 0 || send_all(fd, req, (size_t)n, deadline) < 0 || read_upgrade(fd, key, deadline, pre, err, errlen) < 0) {
		if (n < 0 || err[0] == '\0')
			snprintf(err, errlen, "cannot send the WebSocket handshake");
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- frames out ----------------------------------------------------------- */

static void
send_json(struct client *c, uint8_t type, struct buf *b)
{
	tunnel_send(&c->tun, type, 0, b->pos, buf_len(b));
}

static void
send_hello(struct client *c)
{
	struct buf b;
	struct json_writer w;

	buf_init(&b, 512, 0);
	json_w_init(&w, &b, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "version", "hoody-tunnel.v1");
	json_w_key(&w, "auth");
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "kind", "bearer");
	json_w_kv_str(&w, "token", c->o->token ? c->o->token : "");
	json_w_obj_end(&w);
	json_w_key(&w, "capabilities");
	json_w_arr_begin(&w);
	json_w_arr_end(&w);
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		send_json(c, FRAME_HELLO, &b);
	explicit_bzero(b.start, buf_cap(&b));
	buf_fini(&b);
}

static void
send_binds(struct client *c)
{
	struct buf b;
	unsigned i;

	buf_init(&b, 512, 0);
	for (i = 0; i < c->nbinds; i++) {
		struct client_binding *cb = &c->binds[i];
		struct json_writer w;

		buf_reset(&b, 0);
		json_w_init(&w, &b, 0);
		json_w_obj_begin(&w);
		json_w_kv_uint(&w, "clientBindRef", i + 1);
		json_w_kv_str(&w, "kind", cb->kind == CLIENT_PULL ? "tcp" : "http");
		json_w_kv_str(&w, "mode", cb->kind == CLIENT_PULL ? "pull" : "expose");
		json_w_kv_uint(&w, "containerPort", cb->container_port);
		json_w_kv_bool(&w, "takeover", cb->takeover);
		if (cb->kind == CLIENT_PULL)
			json_w_kv_str(&w, "host", cb->bind_v6 ? "::1" : "127.0.0.1");
		json_w_obj_end(&w);
		if (json_w_finish(&w) == 0)
			send_json(c, FRAME_BIND, &b);
		cb->state = CLIENT_BIND_PENDING;
	}
	buf_fini(&b);
	c->state = CLIENT_BINDING;
}

/* ---- frames in ------------------------------------------------------------ */

static void
fail(struct client *c, const char *why)
{
	if (c->state == CLIENT_CLOSED)
		return;
	print_err("%s", why);
	c->exit_code = HTC_EXIT_FAIL;
	c->state = CLIENT_CLOSED;
	tunnel_close(&c->tun, WS_CLOSE_NORMAL, "client done", 1000);
}

static void
on_hello_ok(struct client *c, const uint8_t *p, size_t n)
{
	struct json_tok toks[64];
	struct json_doc doc;
	int64_t sw = 1048576, ssw = 16777216, maxs = 1024;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_obj_get_str(&doc, 0, "sessionId", c->session_id, sizeof(c->session_id)) < 0) {
		fail(c, "bad HELLO_OK from the server");
		return;
	}
	json_obj_get_int(&doc, 0, "streamWindow", &sw);
	json_obj_get_int(&doc, 0, "sessionWindow", &ssw);
	json_obj_get_int(&doc, 0, "maxStreams", &maxs);
	if (sw <= 0 || sw > FLOW_WINDOW_MAX || ssw <= 0 || ssw > FLOW_WINDOW_MAX || maxs <= 0 || maxs > 1000000 ||
	    mux_init(&c->mux, (uint32_t)maxs, (uint32_t)sw, (uint32_t)ssw, &client_mux_ops, c) < 0) {
		fail(c, "unusable windows in HELLO_OK");
		return;
	}
	c->mux_ready = 1;
	mux_attach(&c->mux, 0, &c->tun);
	if (c->ev->on_session)
		c->ev->on_session(c, c->session_id);
	send_binds(c);
}

static void
check_all_bound(struct client *c)
{
	unsigned i;

	for (i = 0; i < c->nbinds; i++)
		if (c->binds[i].state == CLIENT_BIND_PENDING)
			return;
	if (c->state == CLIENT_BINDING)
		c->state = CLIENT_READY;
}

static struct client_binding *
binding_by_ref(struct client *c, const struct json_doc *doc)
{
	int64_t ref;

	if (json_obj_get_int(doc, 0, "clientBindRef", &ref) != 0 || ref < 1 || ref > c->nbinds)
		return NULL;
	return &c->binds[ref - 1];
}

static void
on_bind_answer(struct client *c, int ok, const uint8_t *p, size_t n)
{
	struct json_tok toks[32];
	struct json_doc doc;
	struct client_binding *b;
	int64_t v;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    (b = binding_by_ref(c, &doc)) == NULL || b->state != CLIENT_BIND_PENDING) {
		fail(c, "bad BIND answer from the server");
		return;
	}
	if (!ok) {
		json_obj_get_str(&doc, 0, "code", b->err_code, sizeof(b->err_code));
		json_obj_get_str(&doc, 0, "message", b->err_msg, sizeof(b->err_msg));
		b->state = CLIENT_BIND_FAILED;
		if (c->ev->on_bind_error)
			c->ev->on_bind_error(c, b);
		c->exit_code = HTC_EXIT_FAIL;
		c->state = CLIENT_CLOSED;
		tunnel_close(&c->tun, WS_CLOSE_NORMAL, "bind refused", 1000);
		return;
	}
	if (json_obj_get_int(&doc, 0, "bindId", &v) == 0)
		b->bind_id = (uint32_t)v;
	if (json_obj_get_int(&doc, 0, "containerPort", &v) == 0)
		b->port = (uint16_t)v;
	if (json_obj_get_str(&doc, 0, "publicUrl", b->public_url, sizeof(b->public_url)) < 0)
		b->public_url[0] = '\0';
	b->state = CLIENT_BIND_BOUND;
	if (c->ev->on_bound)
		c->ev->on_bound(c, b);
	check_all_bound(c);
}

static void
on_unbind_ok(struct client *c, const uint8_t *p, size_t n)
{
	struct json_tok toks[16];
	struct json_doc doc;
	int64_t id;
	unsigned i, left = 0;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_obj_get_int(&doc, 0, "bindId", &id) != 0)
		return;
	for (i = 0; i < c->nbinds; i++) {
		if (c->binds[i].state == CLIENT_BIND_BOUND && (int64_t)c->binds[i].bind_id == id)
			c->binds[i].state = CLIENT_BIND_UNBOUND;
		left += c->binds[i].state == CLIENT_BIND_BOUND;
	}
	if (c->state == CLIENT_STOPPING && left == 0)
		tunnel_close(&c->tun, WS_CLOSE_NORMAL, "client done", 1000);
}

/* ---- streams -------------------------------------------------------------- */

static void
local_done(struct pump *p)
{
	struct local_conn *lc = p->owner;
	struct client *c = lc->c;

	if (c->ev->on_stream_close)
		c->ev->on_stream_close(c, lc->sid, p->bytes_down, p->bytes_up, p->reset_code);
	free(lc);
}

static int
local_socket(const struct client_binding *b)
{
	int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&b->addr, b->addr_len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
on_stream_open(struct client *c, uint32_t sid, const uint8_t *p, size_t n)
{
	struct json_tok toks[128];
	struct json_doc doc;
	struct client_binding *b = NULL;
	struct local_conn *lc;
	struct stream *s;
	char peer[80] = "?";
	int64_t bind_id = -1;
	unsigned i;
	int fd;

	if (!c->mux_ready || sid == 0)
		return;
	s = mux_open(&c->mux, sid, STREAM_KIND_HTTP, 0);
	if (s == NULL) {
		tunnel_send_code(&c->tun, FRAME_RESET, sid, FRAME_CODE_REFUSED_STREAM, "cannot open stream");
		return;
	}
	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) == 0)
		json_obj_get_int(&doc, 0, "bindId", &bind_id);
	json_obj_get_str(&doc, 0, "peerAddr", peer, sizeof(peer));
	for (i = 0; i < c->nbinds; i++)
		if (c->binds[i].state == CLIENT_BIND_BOUND && (int64_t)c->binds[i].bind_id == bind_id)
			b = &c->binds[i];
	if (b != NULL && b->kind == CLIENT_EXPOSE && json_string_eq(&doc, json_get(&doc, 0, "kind"), "http")) {
		if (local_http_open(c, b, s, p, n) < 0 && s->state != STREAM_CLOSED)
			mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "cannot serve request");
		return;
	}
	if (b == NULL || b->kind != CLIENT_PULL || !json_string_eq(&doc, json_get(&doc, 0, "kind"), "tcp")) {
		mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "no such binding here");
		return;
	}
	lc = calloc(1, sizeof(*lc));
	fd = lc ? local_socket(b) : -1;
	if (fd < 0) {
		free(lc);
		mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return;
	}
	lc->c = c;
	lc->sid = sid;
	lc->pump.owner = lc;
	if (pump_start(&lc->pump, &c->r, &c->mux, s, fd, 1, local_done) < 0) {
		close(fd);
		free(lc);
		mux_send_reset(&c->mux, s, FRAME_CODE_INTERNAL_ERROR, "cannot watch socket");
		return;
	}
	if (c->ev->on_stream_open)
		c->ev->on_stream_open(c, b, sid, peer);
}

static void
on_goaway(struct client *c, const uint8_t *p, size_t n)
{
	struct frame_code_payload cp;
	char reason[256];

	if (frame_code_decode(p, n, &cp) != 0)
		return;
	snprintf(reason, sizeof(reason), "%.*s", (int)cp.reason_len, cp.reason);
	if (c->ev->on_goaway)
		c->ev->on_goaway(c, cp.code, reason);
	if (c->state != CLIENT_STOPPING)
		c->exit_code = HTC_EXIT_FAIL;
}

static void
t_on_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct client *c = t->owner;

	if (c->mux_ready && mux_on_control(&c->mux, 0, type, sid, p, n))
		return;
	switch (type) {
	case FRAME_HELLO_OK:
		if (c->state == CLIENT_HELLO)
			on_hello_ok(c, p, n);
		break;
	case FRAME_BIND_OK:
	case FRAME_BIND_ERR:
		on_bind_answer(c, type == FRAME_BIND_OK, p, n);
		break;
	case FRAME_UNBIND_OK:
	case FRAME_UNBIND_ERR:
		on_unbind_ok(c, p, n);
		break;
	case FRAME_STREAM_OPEN:
		on_stream_open(c, sid, p, n);
		break;
	case FRAME_PING:
		tunnel_send(&c->tun, FRAME_PONG, 0, p, n);
		break;
	case FRAME_GOAWAY:
		on_goaway(c, p, n);
		break;
	default:
		break; /* PONG, SHARD_MAP, BIND_REVOKED: nothing to do */
	}
}

static void
t_on_data(struct tunnel *t, const struct frame_event *ev)
{
	struct client *c = t->owner;

	if (c->mux_ready)
		mux_on_data(&c->mux, 0, ev);
}

static void
t_on_closed(struct tunnel *t, unsigned ws_code, const char *reason)
{
	struct client *c = t->owner;

	if (c->state != CLIENT_CLOSED && c->state != CLIENT_STOPPING) {
		print_err("connection to the server closed (%u %s)", ws_code, reason ? reason : "");
		c->exit_code = HTC_EXIT_FAIL;
	}
	c->state = CLIENT_CLOSED;
	if (c->mux_ready) {
		mux_detach(&c->mux, 0);
		mux_fini(&c->mux);
		c->mux_ready = 0;
	}
	reactor_stop(&c->r);
}

static void
m_on_error(struct mux *m, unsigned code, const char *reason)
{
	struct client *c = m->owner;

	print_err("protocol error from the server: %s (%s)", reason, frame_code_name(code));
	fail(c, "closing");
}

static const struct tunnel_ops client_tunnel_ops = {
	.on_control = t_on_control,
	.on_data = t_on_data,
	.on_closed = t_on_closed,
};

static const struct mux_ops client_mux_ops = {
	.on_error = m_on_error,
};

/* ---- stopping ------------------------------------------------------------- */

static void
on_stop_timer(struct reactor *r, struct reactor_timer *t)
{
	struct client *c = container_of(t, struct client, stop_timer);

	(void)r;
	if (c->tun.state == TUNNEL_OPEN)
		tunnel_close(&c->tun, WS_CLOSE_NORMAL, "client done", 500);
}

static void
on_signal(struct reactor *r, struct reactor_signal *sg)
{
	struct client *c = sg->signo == SIGINT ? container_of(sg, struct client, sigint)
					       : container_of(sg, struct client, sigterm);
	unsigned i, sent = 0;

	if (c->state == CLIENT_STOPPING || c->state == CLIENT_CLOSED) {
		reactor_stop(r);
		return;
	}
	c->state = CLIENT_STOPPING;
	for (i = 0; i < c->nbinds; i++) {
		char js[48];
		int n;

		if (c->binds[i].state != CLIENT_BIND_BOUND)
			continue;
		n = snprintf(js, sizeof(js), "{\"bindId\":%u}", c->binds[i].bind_id);
		tunnel_send(&c->tun, FRAME_UNBIND, 0, js, (size_t)n);
		sent++;
	}
	if (sent == 0)
		tunnel_close(&c->tun, WS_CLOSE_NORMAL, "client done", 500);
	reactor_timer_start(r, &c->stop_timer, STOP_TIMEOUT_MS, 0);
}

static void
on_sigpipe(struct reactor *r, struct reactor_signal *sg)
{
	(void)r;
	(void)sg;
}

/* see client.h */
int
client_run(struct client *c)
{
	char err[512] = "";
	struct buf pre;
	int fd;

	if (buf_init(&pre, 16384, 0) < 0)
		return HTC_EXIT_FAIL;
	fd = ws_connect(c, &pre, err, sizeof(err));
	if (fd < 0) {
		print_err("%s", err);
		buf_fini(&pre);
		return HTC_EXIT_FAIL;
	}
	if (reactor_init(&c->r) < 0) {
		close(fd);
		buf_fini(&pre);
		return HTC_EXIT_FAIL;
	}
	tunnel_loop_init(&c->tl, &c->r);
	reactor_timer_init(&c->stop_timer, on_stop_timer);
	reactor_signal_start(&c->r, &c->sigint, SIGINT, on_signal);
	reactor_signal_start(&c->r, &c->sigterm, SIGTERM, on_signal);
	reactor_signal_start(&c->r, &c->sigpipe, SIGPIPE, on_sigpipe);
	if (tunnel_init(&c->tun, &c->tl, fd, WS_ROLE_CLIENT, &client_tunnel_ops, c, pre.pos, buf_len(&pre)) < 0) {
		close(fd);
		c->exit_code = HTC_EXIT_FAIL;
	} else {
		c->state = CLIENT_HELLO;
		send_hello(c);
		reactor_run(&c->r);
		local_http_fini(c);
		if (c->mux_ready) {
			mux_detach(&c->mux, 0);
			mux_fini(&c->mux);
		}
		tunnel_fini(&c->tun);
	}
	buf_fini(&pre);
	tunnel_loop_fini(&c->tl);
	reactor_fini(&c->r);
	return c->exit_code;
}
