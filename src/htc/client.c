/*
 * client.c: the tunnel client (see client.h).
 */
#include "client.h"
#include "client_int.h"
#include "clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "local.h"
#include "print.h"
#include "wsconnect.h"
#include "json.h"
#include "pump.h"
#include "util.h"

#define STOP_TIMEOUT_MS 2000

/* The local end of one tcp stream. */
struct local_conn {
	struct pump pump;
	struct client *c;
	uint32_t sid;
};

static const struct mux_ops client_mux_ops;
static void schedule_retry(struct client *c);

/* ---- sockets ---------------------------------------------------------------- */

static int
want_v2(const struct client *c)
{
	return c->o->connections > 1;
}

/* see client_int.h */
void
client_say(struct client *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->ev->on_state)
		c->ev->on_state(c, line);
}

/* Every change of c->state goes through here: the on_link event follows it. */
static void
client_set_state(struct client *c, enum client_state st)
{
	if (c->state == st)
		return;
	c->state = st;
	if (c->ev->on_link)
		c->ev->on_link(c, st);
}

/* ---- round trip to the daemon --------------------------------------------- */

/* The ping timer: a PING carrying the time it left, while serving. */
static void
on_ping_timer(struct reactor *r, struct reactor_timer *t)
{
	struct client *c = container_of(t, struct client, ping_timer);
	struct tunnel *p = client_primary(c);
	uint8_t nonce[FRAME_PING_LEN];

	(void)r;
	if (p == NULL || c->state != CLIENT_READY)
		return;
	frame_ping_encode(nonce, clock_mono_us());
	tunnel_send(p, FRAME_PING, 0, nonce, sizeof(nonce));
}

/* A PONG: the round trip of the PING it echoes. */
static void
on_pong(struct client *c, const uint8_t *p, size_t n)
{
	uint64_t sent, now = clock_mono_us();

	if (c->ev->on_rtt == NULL || frame_ping_decode(p, n, &sent) != FRAME_CODE_NO_ERROR || sent > now ||
	    now - sent > 600u * 1000000u)
		return;
	c->ev->on_rtt(c, now - sent);
}

/*
 * Connect socket `index`, blocking (handshake done before the loop sees
 * it): the primary, at start and on reconnect, when nothing else flows.
 * Secondaries are opened in the loop (join_one). 0 or -1 with err.
 */
static int
sock_connect(struct client *c, int index, char *err, size_t errlen)
{
	struct client_sock *cs = &c->socks[index];
	struct conn conn;
	struct buf pre;
	int rc = -1;

	if (buf_init(&pre, 16384, 0) < 0)
		return -1;
	if (wsconnect_open(&c->o->u, want_v2(c) ? "hoody-tunnel.v2" : "hoody-tunnel.v1", &pre, &conn, err,
			   errlen) == 0) {
		cs->c = c;
		cs->index = index;
		cs->joined = 0;
		rc = tunnel_init(&cs->t, &c->tl, &conn, WS_ROLE_CLIENT, &client_tunnel_ops, cs, pre.pos,
				 buf_len(&pre));
		if (rc < 0) {
			conn_close(&conn);
			snprintf(err, errlen, "out of memory");
		} else {
			cs->open = 1;
		}
	}
	buf_fini(&pre);
	return rc;
}

/* see client_int.h */
struct tunnel *
client_primary(struct client *c)
{
	return c->socks[0].open && c->socks[0].t.state == TUNNEL_OPEN ? &c->socks[0].t : NULL;
}

static void
send_json(struct client *c, uint8_t type, struct buf *b)
{
	struct tunnel *t = client_primary(c);

	if (t != NULL)
		tunnel_send(t, type, 0, b->pos, buf_len(b));
}

/* ---- frames out ----------------------------------------------------------- */

static void
send_hello(struct client *c)
{
	struct buf b;
	struct json_writer w;

	buf_init(&b, 512, 0);
	json_w_init(&w, &b, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "version", want_v2(c) ? "hoody-tunnel.v2" : "hoody-tunnel.v1");
	json_w_key(&w, "auth");
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "kind", "bearer");
	json_w_kv_str(&w, "token", c->o->token ? c->o->token : "");
	json_w_obj_end(&w);
	json_w_key(&w, "capabilities");
	json_w_arr_begin(&w);
	if (want_v2(c))
		json_w_cstr(&w, "multi-ws");
	json_w_cstr(&w, "forward");
	json_w_arr_end(&w);
	if (c->session_id[0]) {
		json_w_key(&w, "resume");
		json_w_obj_begin(&w);
		json_w_kv_str(&w, "sessionId", c->session_id);
		json_w_obj_end(&w);
	}
	if (want_v2(c))
		json_w_kv_int(&w, "maxConnections", c->o->connections);
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		send_json(c, FRAME_HELLO, &b);
	explicit_bzero(b.start, buf_cap(&b));
	buf_fini(&b);
}

/* The BIND of binding cb (number ref) as JSON into w. */
static void
write_bind(struct json_writer *w, const struct client_binding *cb, unsigned ref)
{
	json_w_obj_begin(w);
	json_w_kv_uint(w, "clientBindRef", ref);
	json_w_kv_str(w, "kind", cb->kind == CLIENT_PULL ? "tcp" : "http");
	json_w_kv_str(w, "mode", cb->kind == CLIENT_PULL ? "pull" : "expose");
	if (cb->host_route) {
		/* after a lost session, ask for the name we had (a random one too) */
		json_w_kv_str(w, "subdomain", cb->route[0] ? cb->route : cb->subdomain);
		json_w_kv_bool(w, "cluster", cb->cluster);
	} else {
		/* after a lost session, ask for the port we had */
		json_w_kv_uint(w, "containerPort", cb->port ? cb->port : cb->container_port);
		if (cb->cluster)
			json_w_kv_bool(w, "cluster", true);
	}
	json_w_kv_bool(w, "takeover", cb->takeover);
	if (cb->basic_pass != NULL) {
		json_w_key(w, "basicAuth");
		json_w_obj_begin(w);
		if (cb->basic_user[0])
			json_w_kv_str(w, "username", cb->basic_user);
		json_w_kv_str(w, "password", cb->basic_pass);
		json_w_obj_end(w);
	}
	if (cb->kind == CLIENT_PULL)
		json_w_kv_str(w, "host", cb->bind_v6 ? "::1" : "127.0.0.1");
	json_w_obj_end(w);
}

/* BIND every binding that is unbound (all of them on a new session). */
static void
send_binds(struct client *c)
{
	struct buf b;
	unsigned i;

	buf_init(&b, 512, 0);
	for (i = 0; i < c->nbinds; i++) {
		struct client_binding *cb = &c->binds[i];
		struct json_writer w;

		if (cb->state != CLIENT_BIND_UNBOUND)
			continue;
		buf_reset(&b, 0);
		json_w_init(&w, &b, 0);
		write_bind(&w, cb, i + 1);
		if (json_w_finish(&w) == 0)
			send_json(c, FRAME_BIND, &b);
		cb->state = CLIENT_BIND_PENDING;
	}
	explicit_bzero(b.start, buf_cap(&b));
	buf_fini(&b);
	client_set_state(c, CLIENT_BINDING);
}

/* ---- frames in ------------------------------------------------------------ */

static void
finish(struct client *c, int code)
{
	int i;

	c->exit_code = code;
	client_set_state(c, CLIENT_CLOSED);
	/* leaving on purpose: the daemon ends the session instead of parking it */
	if (c->socks[0].open && c->socks[0].t.state == TUNNEL_OPEN)
		tunnel_send_code(&c->socks[0].t, FRAME_GOAWAY, 0, FRAME_CODE_NO_ERROR, "client exiting");
	for (i = 0; i < MUX_MAX_SOCKS; i++)
		if (c->socks[i].open && c->socks[i].t.state == TUNNEL_OPEN)
			tunnel_close(&c->socks[i].t, WS_CLOSE_NORMAL, "client done", 1000);
	reactor_wake_next(&c->r);
}

static void
fail(struct client *c, const char *why)
{
	if (c->state == CLIENT_CLOSED)
		return;
	print_err("%s", why);
	finish(c, HTC_EXIT_FAIL);
}

static void
check_all_bound(struct client *c)
{
	unsigned i;

	for (i = 0; i < c->nbinds; i++)
		if (c->binds[i].state == CLIENT_BIND_PENDING)
			return;
	if (c->state != CLIENT_BINDING)
		return;
	client_set_state(c, CLIENT_READY);
	if (c->ev->on_rtt != NULL)
		reactor_timer_start(&c->r, &c->ping_timer, 0, CLIENT_PING_MS);
}

/* Mark the bindings the server carried over; the rest are bound again. */
static unsigned
apply_resumed(struct client *c, const struct json_doc *doc)
{
	int arr = json_get(doc, 0, "resumedBinds"), i;
	unsigned k, n = 0;

	for (k = 0; k < c->nbinds; k++)
		if (c->binds[k].state == CLIENT_BIND_BOUND)
			c->binds[k].state = CLIENT_BIND_PENDING;
	if (json_type(doc, arr) != JSON_ARRAY)
		return 0;
	for (i = json_first(doc, arr); i >= 0; i = json_next(doc, arr, i)) {
		int64_t id;

		if (json_obj_get_int(doc, i, "bindId", &id) != 0)
			continue;
		for (k = 0; k < c->nbinds; k++) {
			if (c->binds[k].bind_id == (uint32_t)id) {
				c->binds[k].state = CLIENT_BIND_BOUND;
				n++;
			}
		}
	}
	for (k = 0; k < c->nbinds; k++)
		if (c->binds[k].state == CLIENT_BIND_PENDING)
			c->binds[k].state = CLIENT_BIND_UNBOUND;
	return n;
}

static int
setup_mux(struct client *c, const struct json_doc *doc, int resumed)
{
	int64_t sw = 1048576, ssw = 16777216, maxs = 1024;

	json_obj_get_int(doc, 0, "streamWindow", &sw);
	json_obj_get_int(doc, 0, "sessionWindow", &ssw);
	json_obj_get_int(doc, 0, "maxStreams", &maxs);
	if (sw <= 0 || sw > FLOW_WINDOW_MAX || ssw <= 0 || ssw > FLOW_WINDOW_MAX || maxs <= 0 ||
	    maxs > 1000000)
		return -1;
	if (c->mux_ready &&
	    (!resumed || c->mux.stream_window != (uint32_t)sw || c->mux.session_window != (uint32_t)ssw)) {
		mux_fini(&c->mux);
		c->mux_ready = 0;
	}
	if (!c->mux_ready) {
		if (mux_init(&c->mux, (uint32_t)maxs, (uint32_t)sw, (uint32_t)ssw, &client_mux_ops, c) < 0)
			return -1;
		c->mux_ready = 1;
	}
	mux_reset_windows(&c->mux);
	mux_attach(&c->mux, 0, &c->socks[0].t);
	return 0;
}

/* HELLO_OK's capabilities name "forward": the daemon opens connections for us. */
static int
granted_forward(const struct json_doc *doc)
{
	int caps = json_get(doc, 0, "capabilities"), i;

	if (json_type(doc, caps) != JSON_ARRAY)
		return 0;
	for (i = json_first(doc, caps); i >= 0; i = json_next(doc, caps, i))
		if (json_string_eq(doc, i, "forward"))
			return 1;
	return 0;
}

static void
on_hello_ok(struct client *c, const uint8_t *p, size_t n)
{
	struct json_tok toks[256];
	struct json_doc doc;
	bool resumed = false;
	int64_t granted = 1;
	char id[64];

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_obj_get_str(&doc, 0, "sessionId", id, sizeof(id)) < 0) {
		fail(c, "bad HELLO_OK from the server");
		return;
	}
	json_obj_get_bool(&doc, 0, "resumed", &resumed);
	resumed = resumed && strcmp(id, c->session_id) == 0;
	if (setup_mux(c, &doc, resumed) < 0) {
		fail(c, "unusable windows in HELLO_OK");
		return;
	}
	json_obj_get_int(&doc, 0, "connectionsGranted", &granted);
	c->granted = (unsigned)UTIL_MAX(1, UTIL_MIN(granted, MUX_MAX_SOCKS));
	c->forward_ok = granted_forward(&doc);
	c->goaway_said = 0;
	snprintf(c->session_id, sizeof(c->session_id), "%s", id);
	c->attempts = 0;
	if (resumed) {
		unsigned kept = apply_resumed(c, &doc);

		client_say(c, "resumed session %s with %u binding%s", id, kept, kept == 1 ? "" : "s");
	} else {
		unsigned k;

		for (k = 0; k < c->nbinds; k++)
			c->binds[k].state = CLIENT_BIND_UNBOUND;
		if (c->connected_once)
			client_say(c, "new session %s: binding again", id);
		else if (c->ev->on_session)
			c->ev->on_session(c, id);
	}
	c->connected_once = 1;
	send_binds(c);
	check_all_bound(c);
	client_join_tickets(c, &doc);
}

static struct client_binding *
binding_by_ref(struct client *c, const struct json_doc *doc)
{
	int64_t ref;

	if (json_obj_get_int(doc, 0, "clientBindRef", &ref) != 0 || ref < 1 || ref > c->nbinds)
		return NULL;
	return &c->binds[ref - 1];
}

/*
 * On a new session the old port is asked for again; when the user let the
 * daemon pick (--port 0) and that port is gone, pick again. Likewise the
 * old random subdomain is asked for again; when it is gone, ask for a new
 * random one. 1 when a BIND went out.
 */
static int
rebind_elsewhere(struct client *c, struct client_binding *b)
{
	int gone = strcmp(b->err_code, "PORT_IN_USE") == 0 || strcmp(b->err_code, "ALREADY_BOUND") == 0;

	if (b->host_route) {
		if (b->subdomain[0] != '\0' || b->route[0] == '\0' ||
		    (!gone && strcmp(b->err_code, "INVALID_SUBDOMAIN") != 0))
			return 0;
		client_say(c, "subdomain %s is gone: asking for a new one", b->route);
		b->route[0] = '\0';
	} else {
		if (b->container_port != 0 || b->port == 0 || !gone)
			return 0;
		b->prev_port = b->port;
		b->port = 0;
	}
	b->state = CLIENT_BIND_UNBOUND;
	send_binds(c);
	return 1;
}

/* Record what a BIND_OK granted in b. */
static void
take_bind_ok(struct client *c, struct client_binding *b, const struct json_doc *doc)
{
	char name[URL_SUBDOMAIN_MAX + 8], old[URL_SUBDOMAIN_MAX];
	int64_t v;

	if (json_obj_get_int(doc, 0, "bindId", &v) == 0)
		b->bind_id = (uint32_t)v;
	if (json_obj_get_int(doc, 0, "containerPort", &v) == 0)
		b->port = (uint16_t)v;
	if (json_obj_get_str(doc, 0, "publicUrl", b->public_url, sizeof(b->public_url)) < 0)
		b->public_url[0] = '\0';
	print_scrub(b->public_url);
	if (!b->host_route || json_obj_get_str(doc, 0, "subdomain", name, sizeof(name)) < 0)
		return;
	memcpy(old, b->route, sizeof(old));
	if (url_parse_subdomain(b->route, name, NULL) < 0)
		memcpy(b->route, old, sizeof(old));
	else if (old[0] != '\0' && strcmp(old, b->route) != 0)
		client_say(c, "subdomain changed: %s -> %s", old, b->route);
}

static void
on_bind_answer(struct client *c, int ok, const uint8_t *p, size_t n)
{
	struct json_tok toks[32];
	struct json_doc doc;
	struct client_binding *b;
	uint16_t before;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    (b = binding_by_ref(c, &doc)) == NULL || b->state != CLIENT_BIND_PENDING) {
		fail(c, "bad BIND answer from the server");
		return;
	}
	if (!ok) {
		b->err_code[0] = b->err_msg[0] = '\0';
		json_obj_get_str(&doc, 0, "code", b->err_code, sizeof(b->err_code));
		json_obj_get_str(&doc, 0, "message", b->err_msg, sizeof(b->err_msg));
		print_scrub(b->err_code);
		print_scrub(b->err_msg);
		if (rebind_elsewhere(c, b))
			return;
		b->state = CLIENT_BIND_FAILED;
		if (c->ev->on_bind_error)
			c->ev->on_bind_error(c, b);
		finish(c, HTC_EXIT_FAIL);
		return;
	}
	before = b->port ? b->port : b->prev_port;
	b->prev_port = 0;
	take_bind_ok(c, b, &doc);
	b->state = CLIENT_BIND_BOUND;
	if (before != 0 && before != b->port)
		client_say(c, "container port changed: %u -> %u", before, b->port);
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
		finish(c, HTC_EXIT_OK);
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

static struct client_binding *
binding_by_id(struct client *c, int64_t id)
{
	unsigned i;

	for (i = 0; i < c->nbinds; i++)
		if (c->binds[i].state == CLIENT_BIND_BOUND && (int64_t)c->binds[i].bind_id == id)
			return &c->binds[i];
	return NULL;
}

static void
open_tcp(struct client *c, struct client_binding *b, struct stream *s, const char *peer)
{
	struct local_conn *lc = calloc(1, sizeof(*lc));
	int fd = lc ? local_socket(b) : -1;

	if (fd < 0) {
		free(lc);
		mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "local connect failed");
		return;
	}
	lc->c = c;
	lc->sid = s->id;
	lc->pump.owner = lc;
	if (pump_start(&lc->pump, &c->r, &c->mux, s, fd, 1, local_done) < 0) {
		close(fd);
		free(lc);
		mux_send_reset(&c->mux, s, FRAME_CODE_INTERNAL_ERROR, "cannot watch socket");
		return;
	}
	if (c->ev->on_stream_open)
		c->ev->on_stream_open(c, b, s->id, peer);
}

/*
 * Parse a STREAM_OPEN into doc with the client's token array, grown (to
 * CLIENT_JSON_TOKENS_MAX) when a request has more header fields than it
 * holds: the daemon's --max-headers decides how many, not htc. 0 or -1.
 */
static int
parse_open(struct client *c, struct json_doc *doc, const uint8_t *p, size_t n)
{
	for (;;) {
		struct json_tok *t;

		if (c->toks != NULL &&
		    json_parse(doc, (const char *)p, n, c->toks, c->ntoks, NULL) != JSON_ERR_TOKENS)
			return doc->err == 0 ? 0 : -1;
		if (c->ntoks >= CLIENT_JSON_TOKENS_MAX)
			return -1;
		t = realloc(c->toks, (c->ntoks ? c->ntoks * 2 : 1024) * sizeof(*t));
		if (t == NULL)
			return -1;
		c->toks = t;
		c->ntoks = c->ntoks ? c->ntoks * 2 : 1024;
	}
}

static void
on_stream_open(struct client *c, int index, uint32_t sid, const uint8_t *p, size_t n)
{
	static const char *const keys[] = { "kind", "bindId", "peerAddr" };
	int v[UTIL_ARRAY_SIZE(keys)];
	struct json_doc doc;
	struct client_binding *b;
	struct stream *s;
	char peer[80] = "?";
	int64_t bind_id = -1;
	int http;

	if (!c->mux_ready || sid == 0)
		return;
	memset(&doc, 0, sizeof(doc));
	if (parse_open(c, &doc, p, n) < 0) {
		tunnel_send_code(&c->socks[index].t, FRAME_RESET, sid, FRAME_CODE_PROTOCOL_ERROR,
				 "bad STREAM_OPEN");
		return;
	}
	json_get_keys(&doc, 0, keys, UTIL_ARRAY_SIZE(keys), v);
	http = json_string_eq(&doc, v[0], "http");
	s = mux_open(&c->mux, sid, http ? STREAM_KIND_HTTP : STREAM_KIND_TCP, index);
	if (s == NULL) {
		tunnel_send_code(&c->socks[index].t, FRAME_RESET, sid, FRAME_CODE_REFUSED_STREAM,
				 "cannot open stream");
		return;
	}
	json_get_int(&doc, v[1], &bind_id);
	json_get_string(&doc, v[2], peer, sizeof(peer));
	b = binding_by_id(c, bind_id);
	if (b != NULL && b->kind == CLIENT_EXPOSE && http) {
		if (local_http_open(c, b, s, &doc, peer) < 0 && s->state != STREAM_CLOSED)
			mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "cannot serve request");
		return;
	}
	if (b == NULL || b->kind != CLIENT_PULL || http) {
		mux_send_reset(&c->mux, s, FRAME_CODE_REFUSED_STREAM, "no such binding here");
		return;
	}
	open_tcp(c, b, s, peer);
}

static void
on_goaway(struct client *c, const uint8_t *p, size_t n)
{
	struct frame_code_payload cp;
	char reason[256];

	if (frame_code_decode(p, n, &cp) != 0)
		return;
	snprintf(reason, sizeof(reason), "%.*s", (int)cp.reason_len, cp.reason);
	if (c->ev->on_goaway) {
		c->ev->on_goaway(c, cp.code, reason);
		c->goaway_said = 1; /* the close that follows needs no line of its own */
	}
	if (strcmp(reason, "unknown or expired session") == 0) {
		c->session_id[0] = '\0'; /* the next attempt opens a new session */
		return;
	}
	if (cp.code == FRAME_CODE_AUTH_ERROR || cp.code == FRAME_CODE_VERSION_MISMATCH ||
	    cp.code == FRAME_CODE_PROTOCOL_ERROR || strcmp(reason, "killed") == 0 || !c->connected_once)
		c->fatal = 1;
}

/* FORWARD_OK / FORWARD_ERR for one of our streams; after FORWARD_ERR the stream is gone. */
static void
on_forward_answer(struct client *c, uint32_t sid, int ok, const uint8_t *p, size_t n)
{
	struct stream *s = c->mux_ready ? stream_find(&c->mux.streams, sid) : NULL;

	if (s == NULL || !(sid & STREAM_ID_CLIENT))
		return;
	if (s->ops != NULL && s->ops->on_forward != NULL)
		s->ops->on_forward(s, ok, p, n);
	if (!ok && (s = stream_find(&c->mux.streams, sid)) != NULL)
		mux_drop(&c->mux, s);
}

/* see client.h */
struct stream *
client_forward_open(struct client *c, const char *host, uint16_t port, const struct stream_ops *ops,
		    void *owner)
{
	struct json_writer w;
	struct stream *s;
	struct buf b;
	int rc;

	if (!c->mux_ready || !c->forward_ok || (c->state != CLIENT_READY && c->state != CLIENT_BINDING))
		return NULL;
	s = mux_open(&c->mux, STREAM_ID_CLIENT, STREAM_KIND_TCP, -1);
	if (s == NULL)
		return NULL;
	s->ops = ops;
	s->owner = owner;
	if (buf_init(&b, 320, 0) < 0) {
		mux_drop(&c->mux, s);
		return NULL;
	}
	json_w_init(&w, &b, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "host", host);
	json_w_kv_uint(&w, "port", port);
	json_w_obj_end(&w);
	rc = json_w_finish(&w) == 0 ? mux_send(&c->mux, s, FRAME_FORWARD_OPEN, b.pos, buf_len(&b)) : -1;
	buf_fini(&b);
	if (rc < 0) {
		mux_drop(&c->mux, s);
		return NULL;
	}
	return s;
}

static void
on_control(struct client *c, int index, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	switch (type) {
	case FRAME_FORWARD_OK:
	case FRAME_FORWARD_ERR: on_forward_answer(c, sid, type == FRAME_FORWARD_OK, p, n); break;
	case FRAME_HELLO_OK:
		if (c->state == CLIENT_HELLO && index == 0)
			on_hello_ok(c, p, n);
		break;
	case FRAME_BIND_OK:
	case FRAME_BIND_ERR: on_bind_answer(c, type == FRAME_BIND_OK, p, n); break;
	case FRAME_UNBIND_OK:
	case FRAME_UNBIND_ERR: on_unbind_ok(c, p, n); break;
	case FRAME_STREAM_OPEN: on_stream_open(c, index, sid, p, n); break;
	case FRAME_PING: tunnel_send(&c->socks[index].t, FRAME_PONG, 0, p, n); break;
	case FRAME_GOAWAY: on_goaway(c, p, n); break;
	case FRAME_JOIN_OK:
		if (index > 0 && c->mux_ready) {
			c->socks[index].joined = 1;
			c->rejoin_attempts = 0;
			mux_attach(&c->mux, index, &c->socks[index].t);
		}
		break;
	case FRAME_JOIN_ERR:
		if (index > 0)
			tunnel_close(&c->socks[index].t, WS_CLOSE_NORMAL, "join refused", 500);
		break;
	case FRAME_REISSUE_JOIN_TICKETS: client_join_reissued(c, p, n); break;
	case FRAME_PONG: on_pong(c, p, n); break;
	default: break; /* SHARD_MAP, BIND_REVOKED: nothing to do */
	}
}

static void
t_on_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct client_sock *cs = t->owner;
	struct client *c = cs->c;

	if (c->mux_ready && mux_on_control(&c->mux, cs->index, type, sid, p, n))
		return;
	on_control(c, cs->index, type, sid, p, n);
}

static void
t_on_data(struct tunnel *t, const struct frame_event *ev)
{
	struct client_sock *cs = t->owner;

	if (cs->c->mux_ready)
		mux_on_data(&cs->c->mux, cs->index, ev);
}

/* ---- losing sockets, reconnecting ------------------------------------------ */

static void
release_sock(struct client *c, int index)
{
	struct client_sock *cs = &c->socks[index];

	wsdial_cancel(&cs->dial);
	if (c->mux_ready)
		mux_detach(&c->mux, index);
	if (cs->open) {
		tunnel_fini(&cs->t);
		cs->open = 0;
	}
	cs->joined = 0;
}

static void
t_on_closed(struct tunnel *t, unsigned ws_code, const char *reason)
{
	struct client_sock *cs = t->owner;
	struct client *c = cs->c;
	int i;

	if (cs->index != 0) {
		release_sock(c, cs->index);
		client_join_later(c);
		return;
	}
	/* secondaries go with the primary; their own on_closed releases them */
	for (i = 1; i < MUX_MAX_SOCKS; i++) {
		wsdial_cancel(&c->socks[i].dial);
		if (c->socks[i].open && c->socks[i].t.state != TUNNEL_CLOSED)
			tunnel_abort(&c->socks[i].t, WS_CLOSE_GOING_AWAY, "primary lost");
	}
	release_sock(c, 0);
	if (c->state == CLIENT_CLOSED || c->state == CLIENT_STOPPING || c->fatal || !c->connected_once) {
		if (c->state != CLIENT_CLOSED && c->state != CLIENT_STOPPING && !c->goaway_said)
			print_err("connection to the server closed (%u %s)", ws_code, reason ? reason : "");
		if (c->state != CLIENT_CLOSED && c->state != CLIENT_STOPPING)
			c->exit_code = HTC_EXIT_FAIL;
		client_set_state(c, CLIENT_CLOSED);
		reactor_stop(&c->r);
		return;
	}
	client_say(c, "disconnected: %s", reason ? reason : "connection lost");
	client_set_state(c, CLIENT_RECONNECTING);
	schedule_retry(c);
}

static void
m_on_error(struct mux *m, unsigned code, const char *reason)
{
	struct client *c = m->owner;

	print_err("protocol error from the server: %s (%s)", reason, frame_code_name(code));
	fail(c, "closing");
}

static void
t_on_input_end(struct tunnel *t)
{
	struct client_sock *cs = t->owner;

	if (cs->c->mux_ready)
		mux_batch_end(&cs->c->mux);
}

/* see client_int.h */
const struct tunnel_ops client_tunnel_ops = {
	.on_control = t_on_control,
	.on_data = t_on_data,
	.on_closed = t_on_closed,
	.on_input_end = t_on_input_end,
};

static const struct mux_ops client_mux_ops = {
	.on_error = m_on_error,
	.on_reset_sent = NULL,
};

/* see client_int.h */
int
client_retry_delay(unsigned attempt, uint64_t *ms)
{
	uint64_t base = attempt == 0 ? 100 : UTIL_MIN(100ull << UTIL_MIN(attempt, 6u), 5000ull);
	uint32_t r;
	int rc = util_random(&r, sizeof(r));

	if (rc < 0)
		return rc;
	*ms = attempt == 0 ? r % 100 : base - base / 5 + r % (base / 5 * 2 + 1);
	return 0;
}

static void
schedule_retry(struct client *c)
{
	uint64_t ms;
	int rc = client_retry_delay(c->attempts, &ms);

	if (rc < 0) {
		/* a new connection would need random numbers too (its WebSocket key and masks) */
		print_err("cannot reconnect: no random numbers from the OS: %s", strerror(-rc));
		c->exit_code = HTC_EXIT_FAIL;
		client_set_state(c, CLIENT_CLOSED);
		reactor_stop(&c->r);
		return;
	}
	client_say(c, "reconnecting in %llu ms", (unsigned long long)ms);
	reactor_timer_start(&c->r, &c->retry_timer, ms, 0);
}

static void
on_retry(struct reactor *r, struct reactor_timer *t)
{
	struct client *c = container_of(t, struct client, retry_timer);
	char err[512] = "";

	(void)r;
	if (c->state != CLIENT_RECONNECTING)
		return;
	c->attempts++;
	if (sock_connect(c, 0, err, sizeof(err)) < 0) {
		client_say(c, "reconnect failed: %s", err);
		schedule_retry(c);
		return;
	}
	client_set_state(c, CLIENT_HELLO);
	send_hello(c);
}

/* ---- stopping ------------------------------------------------------------- */

static void
on_stop_timer(struct reactor *r, struct reactor_timer *t)
{
	struct client *c = container_of(t, struct client, stop_timer);

	(void)r;
	finish(c, HTC_EXIT_OK);
	reactor_stop(&c->r);
}

static void
on_signal(struct reactor *r, struct reactor_signal *sg)
{
	struct client *c = sg->signo == SIGINT ? container_of(sg, struct client, sigint)
					       : container_of(sg, struct client, sigterm);
	struct tunnel *p = client_primary(c);
	unsigned i, sent = 0;

	if (c->state == CLIENT_STOPPING || c->state == CLIENT_CLOSED || p == NULL) {
		client_set_state(c, CLIENT_CLOSED);
		reactor_stop(r);
		return;
	}
	client_set_state(c, CLIENT_STOPPING);
	for (i = 0; i < c->nbinds; i++) {
		char js[48];
		int n;

		if (c->binds[i].state != CLIENT_BIND_BOUND)
			continue;
		n = snprintf(js, sizeof(js), "{\"bindId\":%u}", c->binds[i].bind_id);
		tunnel_send(p, FRAME_UNBIND, 0, js, (size_t)n);
		sent++;
	}
	if (sent == 0)
		finish(c, HTC_EXIT_OK);
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
	int i;

	if (reactor_init(&c->r) < 0)
		return HTC_EXIT_FAIL;
	tunnel_loop_init(&c->tl, &c->r);
	reactor_timer_init(&c->stop_timer, on_stop_timer);
	reactor_timer_init(&c->retry_timer, on_retry);
	reactor_timer_init(&c->rejoin_timer, client_join_on_timer);
	reactor_timer_init(&c->ping_timer, on_ping_timer);
	reactor_signal_start(&c->r, &c->sigint, SIGINT, on_signal);
	reactor_signal_start(&c->r, &c->sigterm, SIGTERM, on_signal);
	reactor_signal_start(&c->r, &c->sigpipe, SIGPIPE, on_sigpipe);
	if (c->ev->on_loop_start)
		c->ev->on_loop_start(c);
	if (sock_connect(c, 0, err, sizeof(err)) < 0) {
		print_err("%s", err);
		c->exit_code = HTC_EXIT_FAIL;
	} else {
		client_set_state(c, CLIENT_HELLO);
		send_hello(c);
		reactor_run(&c->r);
	}
	if (c->ev->on_loop_end)
		c->ev->on_loop_end(c);
	local_http_fini(c);
	client_set_state(c, CLIENT_CLOSED);
	for (i = 0; i < MUX_MAX_SOCKS; i++) {
		wsdial_cancel(&c->socks[i].dial); /* uses the reactor: before reactor_fini */
		if (c->socks[i].open)
			tunnel_abort(&c->socks[i].t, WS_CLOSE_GOING_AWAY, "exit");
	}
	reactor_fini(&c->r); /* runs the closing phase: sockets and pumps are released */
	for (i = 0; i < MUX_MAX_SOCKS; i++)
		release_sock(c, i);
	if (c->mux_ready)
		mux_fini(&c->mux);
	tunnel_loop_fini(&c->tl);
	free(c->toks);
	c->toks = NULL;
	c->ntoks = 0;
	return c->exit_code;
}
