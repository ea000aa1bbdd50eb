/*
 * test_session.c: the server side of the tunnel protocol (session.c,
 * session_hello.c, session_bind.c) through the fake daemon (fakedaemon.h).
 *
 * Each tunnel socket is one end of a socketpair handed to tconn_start as
 * ctl.c hands over an upgraded connection; the test speaks the other end
 * as the client, with the project's own codecs. Checked, as a client sees
 * it (PROTOCOL.md sections 4, 5, 9): HELLO_OK and its limits, the HELLO
 * rejections (GOAWAY code, then the WebSocket close code), the hello
 * timeout, a frame before HELLO, a protocol error after it, BIND of a PULL
 * port (a real listener: a connection to it is a stream), ALREADY_BOUND,
 * UNBIND, PING/PONG both ways, the daemon's gauges, the idle and pong
 * timeouts, an admin kill, and what losing the socket does: the session
 * ends at once with no takeover grace, or parks for the grace (and a HELLO
 * with resume takes it back); with getrandom failing (fakerandom.h), no
 * session id or join ticket is made up: the HELLO, or the ticket reissue,
 * fails with INTERNAL_ERROR. Every test ends with no session, no tunnel
 * socket and every FD permit back (teardown), also under ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "fakedaemon.h"
#include "fakerandom.h"
#include "frame.h"
#include "json.h"
#include "net.h"
#include "pull.h"
#include "session.h"

#define PEER "127.0.0.1:40000"
#define HELLO_V1                                                                                             \
	"{\"version\":\"hoody-tunnel.v1\",\"auth\":{\"kind\":\"bearer\",\"token\":\"" FAKEDAEMON_TOKEN "\"}"
#define HELLO_JSON HELLO_V1 ",\"capabilities\":[]}"
#define BIND_PULL_JSON "{\"clientBindRef\":1,\"kind\":\"tcp\",\"mode\":\"pull\"}"

static struct config cfg;
static struct daemon d;
static struct fakedaemon_peer peer, peer2;
static struct fakedaemon_sock local;

static int
setup(void **state)
{
	(void)state;
	if (fakedaemon_init(&d, &cfg) < 0 || pull_init(&d, 256) < 0)
		return -1;
	cfg.takeover_grace_ms = 0; /* tests that park set their own */
	memset(&peer, 0, sizeof(peer));
	memset(&peer2, 0, sizeof(peer2));
	memset(&local, 0, sizeof(local));
	return 0;
}

/* Nothing left that would still give a permit back. */
static int
all_gone(void *arg)
{
	uint32_t i = 0;

	(void)arg;
	return d.sessions == NULL && d.tconns == NULL && slab_next(&d.pulls, &i) == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	fakedaemon_sock_close(&local);
	fakedaemon_peer_close(&peer);
	fakedaemon_peer_close(&peer2);
	fakedaemon_run_until(&d, all_gone, NULL, "every session, tunnel socket and PULL connection to go");
	assert_int_equal(d.nsessions, 0);
	assert_int_equal(d.norphans, 0);
	assert_int_equal(d.npreauth, 0);
	assert_int_equal(d.nbinds, 0);
	assert_null(d.binds);
	assert_int_equal(d.fds.in_use, 0);
	assert_int_equal(d.fds.over_release_total, 0);
	fakedaemon_fini(&d);
	slab_fini(&d.pulls);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* A tunnel socket whose upgrade just completed, as ctl.c hands it over. */
static void
open_tunnel(struct fakedaemon_peer *p)
{
	struct conn c;
	int fd = fakedaemon_peer_open(p, &d);

	conn_init(&c, &d.r, fd, NULL);
	assert_int_equal(tconn_start(&d, &c, 0, PEER, reactor_now(&d.r), NULL, 0), 0);
}

/* The same for a hoody-tunnel.v2 socket. */
static void
open_tunnel_v2(struct fakedaemon_peer *p)
{
	struct conn c;
	int fd = fakedaemon_peer_open(p, &d);

	conn_init(&c, &d.r, fd, NULL);
	assert_int_equal(tconn_start(&d, &c, 1, PEER, reactor_now(&d.r), NULL, 0), 0);
}

/* Open a tunnel, say hello, return the session (its id in HELLO_OK checked). */
static struct session *
hello(struct fakedaemon_peer *p)
{
	struct json_tok toks[64];
	struct json_doc doc;
	struct session *s;

	open_tunnel(p);
	fakedaemon_peer_send_str(p, FRAME_HELLO, 0, HELLO_JSON);
	fakedaemon_json(fakedaemon_peer_wait(p, FRAME_HELLO_OK, 0), &doc, toks, 64);
	s = session_find(&d, fakedaemon_json_str(&doc, 0, "sessionId"));
	assert_non_null(s);
	return s;
}

/* BIND that must succeed: its bindId; *port gets containerPort. */
static int64_t
bind_ok(struct fakedaemon_peer *p, const char *json, int *port)
{
	struct json_tok toks[32];
	struct json_doc doc;
	struct fakedaemon_frame *f;

	fakedaemon_peer_send_str(p, FRAME_BIND, 0, json);
	fakedaemon_peer_sync(p); /* the answer comes before the PONG */
	f = fakedaemon_peer_next(p, FRAME_BIND_ERR, 0);
	if (f != NULL)
		fail_msg("BIND %s refused: %s", json, (const char *)f->p);
	f = fakedaemon_peer_next(p, FRAME_BIND_OK, 0);
	assert_non_null(f);
	fakedaemon_json(f, &doc, toks, 32);
	*port = (int)fakedaemon_json_int(&doc, 0, "containerPort");
	return fakedaemon_json_int(&doc, 0, "bindId");
}

/* The daemon's gauges, as /metrics would show them. */
static void
expect_gauges(int64_t sessions, int64_t orphans, int64_t binds, int64_t streams, int64_t preauth)
{
	struct metrics_gauges g;

	session_gauges(&d, &g);
	assert_int_equal(g.sessions_active, sessions);
	assert_int_equal(g.orphaned_sessions, orphans);
	assert_int_equal(g.bindings_active, binds);
	assert_int_equal(g.streams_active, streams);
	assert_int_equal(g.pre_auth_connections, preauth);
	assert_int_equal(g.fd_permits_available, FAKEDAEMON_PERMITS - (int64_t)d.fds.in_use);
}

/* A GOAWAY with code and reason, then a CLOSE with ws_code; we answer the CLOSE and the socket ends. */
static void
expect_goaway_close(struct fakedaemon_peer *p, unsigned code, const char *reason, unsigned ws_code)
{
	struct fakedaemon_frame *f = fakedaemon_peer_wait(p, FRAME_GOAWAY, 0);
	struct frame_code_payload cp;

	assert_int_equal(frame_code_decode(f->p, f->len, &cp), 0);
	assert_int_equal(cp.code, code);
	assert_int_equal(cp.reason_len, strlen(reason));
	assert_memory_equal(cp.reason, reason, cp.reason_len);
	fakedaemon_peer_send_close(p, WS_CLOSE_NORMAL);
	fakedaemon_peer_wait_eof(p);
	assert_int_equal(p->closes, 1);
	assert_int_equal(p->close_code, ws_code);
}

static int
no_tunnel_left(void *arg)
{
	(void)arg;
	return d.tconns == NULL;
}

static int
no_session_left(void *arg)
{
	(void)arg;
	return d.sessions == NULL;
}

static int
one_orphan(void *arg)
{
	(void)arg;
	return d.norphans == 1;
}

/* ---- HELLO ---------------------------------------------------------------- */

static void
test_hello_ok(void **state)
{
	struct json_tok toks[64];
	struct json_doc doc;
	struct session *s;
	char id[64];
	bool resumed = true;
	int a;

	(void)state;
	open_tunnel(&peer);
	assert_int_equal(d.fds.in_use, 1); /* the tunnel socket's permit */
	expect_gauges(0, 0, 0, 0, 1);
	fakedaemon_peer_send_str(&peer, FRAME_HELLO, 0, HELLO_JSON);
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_HELLO_OK, 0), &doc, toks, 64);
	snprintf(id, sizeof(id), "%s", fakedaemon_json_str(&doc, 0, "sessionId"));
	assert_int_equal(strlen(id), SESSION_ID_LEN);
	assert_memory_equal(id, "S-", 2);
	assert_int_equal(json_obj_get_bool(&doc, 0, "resumed", &resumed), 0);
	assert_false(resumed);
	a = json_get(&doc, 0, "resumedBinds");
	assert_int_equal(json_type(&doc, a), JSON_ARRAY);
	assert_int_equal(json_first(&doc, a), -1);
	a = json_get(&doc, 0, "joinTickets");
	assert_int_equal(json_type(&doc, a), JSON_ARRAY);
	assert_int_equal(json_first(&doc, a), -1);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "streamWindow"), cfg.stream_initial_window);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "sessionWindow"), cfg.session_initial_window);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "connectionsGranted"), 1);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "maxStreams"), cfg.max_streams_per_session);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "maxFramePayload"), FRAME_MAX_PAYLOAD);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "pingIntervalMs"), cfg.ping_interval_ms);

	s = session_find(&d, id);
	assert_non_null(s);
	assert_int_equal(s->state, SESSION_ACTIVE);
	assert_int_equal(s->v2, 0);
	assert_string_equal(s->peer, PEER);
	assert_int_equal(d.metrics.sessions_opened_total, 1);
	expect_gauges(1, 0, 0, 0, 0);
}

/* What a client that gets the handshake wrong sees: GOAWAY, then a close; no session. */
static const struct {
	uint8_t type; /* the first frame */
	uint32_t sid;
	const char *payload;
	unsigned code; /* of the GOAWAY */
	const char *reason;
	unsigned ws_code; /* of the WebSocket CLOSE */
	enum metrics_reject why;
} rejections[] = {
	{ FRAME_HELLO, 0,
	  "{\"version\":\"hoody-tunnel.v1\",\"auth\":{\"kind\":\"bearer\",\"token\":\"wrong\"}}",
	  FRAME_CODE_AUTH_ERROR, "authentication failed", WS_CLOSE_POLICY, METRICS_REJECT_AUTH },
	{ FRAME_HELLO, 0, "{\"version\":\"hoody-tunnel.v1\"}", FRAME_CODE_AUTH_ERROR, "authentication failed",
	  WS_CLOSE_POLICY, METRICS_REJECT_AUTH },
	{ FRAME_HELLO, 0,
	  "{\"version\":\"hoody-tunnel.v2\",\"auth\":{\"kind\":\"bearer\",\"token\":\"" FAKEDAEMON_TOKEN
	  "\"}}",
	  FRAME_CODE_VERSION_MISMATCH, "version does not match the subprotocol", WS_CLOSE_PROTOCOL,
	  METRICS_REJECT_VERSION },
	{ FRAME_HELLO, 0, "hello?", FRAME_CODE_PROTOCOL_ERROR, "HELLO is not a JSON object",
	  WS_CLOSE_PROTOCOL, METRICS_REJECT_PROTOCOL },
	{ FRAME_HELLO, 0, HELLO_V1 ",\"resume\":{\"sessionId\":\"S-gone\"}}", FRAME_CODE_PROTOCOL_ERROR,
	  "unknown or expired session", WS_CLOSE_PROTOCOL, METRICS_REJECT_UNKNOWN_SESSION },
	{ FRAME_BIND, 0, BIND_PULL_JSON, FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO",
	  WS_CLOSE_PROTOCOL, METRICS_REJECT_PROTOCOL },
	{ FRAME_PING, 0, "12345678", FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO",
	  WS_CLOSE_PROTOCOL, METRICS_REJECT_PROTOCOL },
	{ FRAME_DATA, 1, "early", FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO", WS_CLOSE_PROTOCOL,
	  METRICS_REJECT_PROTOCOL },
};

static void
test_hello_rejected(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		uint64_t why = d.metrics.handshake_rejections_total[rejections[i].why];
		uint64_t goaways = d.metrics.goaways_total[rejections[i].code];

		open_tunnel(&peer);
		fakedaemon_peer_send_str(&peer, rejections[i].type, rejections[i].sid, rejections[i].payload);
		expect_goaway_close(&peer, rejections[i].code, rejections[i].reason, rejections[i].ws_code);
		assert_null(d.sessions);
		assert_int_equal(d.nsessions, 0);
		assert_int_equal(d.metrics.handshake_rejections_total[rejections[i].why], why + 1);
		assert_int_equal(d.metrics.goaways_total[rejections[i].code], goaways + 1);
		assert_int_equal(fakedaemon_peer_count(&peer, FRAME_HELLO_OK, 0), 0);
		fakedaemon_peer_close(&peer);
		fakedaemon_run_until(&d, no_tunnel_left, NULL, "the rejected tunnel socket to go");
		assert_int_equal(d.fds.in_use, 0);
		expect_gauges(0, 0, 0, 0, 0);
	}
	assert_int_equal(d.metrics.sessions_opened_total, 0);
}

#define HELLO_V2_3                                                                                           \
	"{\"version\":\"hoody-tunnel.v2\",\"auth\":{\"kind\":\"bearer\",\"token\":\"" FAKEDAEMON_TOKEN       \
	"\"},\"capabilities\":[\"multi-ws\"],\"maxConnections\":3}"

/*
 * getrandom failing: a v1 HELLO gets no session id, a v2 HELLO no join
 * tickets, a reissue no new tickets; each is an INTERNAL_ERROR (WebSocket
 * 1011), counted as reason "internal", and no session is left half made.
 */
static void
test_hello_without_random(void **state)
{
	struct json_tok toks[64];
	struct json_doc doc;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		uint64_t internal = d.metrics.handshake_rejections_total[METRICS_REJECT_INTERNAL];

		fakerandom_fail(0, ULONG_MAX, ENOSYS);
		if (i == 0)
			open_tunnel(&peer);
		else
			open_tunnel_v2(&peer);
		fakedaemon_peer_send_str(&peer, FRAME_HELLO, 0, i == 0 ? HELLO_JSON : HELLO_V2_3);
		expect_goaway_close(&peer, FRAME_CODE_INTERNAL_ERROR, "internal error", WS_CLOSE_INTERNAL);
		fakerandom_off();
		assert_null(d.sessions);
		assert_int_equal(d.metrics.handshake_rejections_total[METRICS_REJECT_INTERNAL], internal + 1);
		assert_int_equal(d.metrics.sessions_opened_total, 0);
		fakedaemon_peer_close(&peer);
		fakedaemon_run_until(&d, no_tunnel_left, NULL, "the rejected tunnel socket to go");
	}
	/* a v2 session made with random numbers; its reissue comes when there are none */
	open_tunnel_v2(&peer);
	fakedaemon_peer_send_str(&peer, FRAME_HELLO, 0, HELLO_V2_3);
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_HELLO_OK, 0), &doc, toks, 64);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "connectionsGranted"), 3);
	assert_non_null(d.sessions);
	fakerandom_fail(0, ULONG_MAX, EIO);
	fakedaemon_peer_send_str(&peer, FRAME_REISSUE_JOIN_TICKETS, 0, "{}");
	expect_goaway_close(&peer, FRAME_CODE_INTERNAL_ERROR, "internal error", WS_CLOSE_INTERNAL);
	fakerandom_off();
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_REISSUE_JOIN_TICKETS, 0), 0);
	fakedaemon_run_until(&d, no_session_left, NULL, "the session to end");
}

/* No HELLO in time: the socket is closed, without a close frame. */
static void
test_hello_timeout(void **state)
{
	uint64_t t0;

	(void)state;
	cfg.hello_timeout_ms = 60;
	t0 = reactor_now(&d.r);
	open_tunnel(&peer);
	expect_gauges(0, 0, 0, 0, 1);
	fakedaemon_peer_wait_eof(&peer);
	assert_true(reactor_now(&d.r) - t0 >= 60);
	assert_int_equal(peer.closes, 0);
	assert_int_equal(peer.nframes, 0);
	assert_int_equal(d.metrics.handshake_rejections_total[METRICS_REJECT_HELLO_TIMEOUT], 1);
	fakedaemon_run_until(&d, no_tunnel_left, NULL, "the timed-out tunnel socket to go");
	assert_int_equal(d.fds.in_use, 0);
	expect_gauges(0, 0, 0, 0, 0);
}

/* A protocol error after HELLO ends the session at once: no parking, even with a grace. */
static void
test_protocol_error_after_hello(void **state)
{
	static const struct {
		uint8_t type;
		const char *reason;
	} bad[] = {
		{ FRAME_HELLO, "HELLO sent twice" },
		{ FRAME_HELLO_OK, "frame type not allowed from a client" },
	};
	size_t i;
	int port;

	(void)state;
	cfg.takeover_grace_ms = 60000;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hello(&peer);
		bind_ok(&peer, BIND_PULL_JSON, &port);
		fakedaemon_peer_send_str(&peer, bad[i].type, 0, HELLO_JSON);
		expect_goaway_close(&peer, FRAME_CODE_PROTOCOL_ERROR, bad[i].reason, WS_CLOSE_PROTOCOL);
		fakedaemon_run_until(&d, no_session_left, NULL, "the session to end");
		assert_int_equal(d.norphans, 0);
		assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
		fakedaemon_peer_close(&peer);
		fakedaemon_run_until(&d, no_tunnel_left, NULL, "the tunnel socket to go");
		assert_int_equal(d.fds.in_use, 0);
	}
}

/* ---- BIND, UNBIND, PING ------------------------------------------------------ */

static int
no_stream_left(void *arg)
{
	uint32_t i = 0;

	(void)arg;
	return d.sessions->mux.streams.count == 0 && slab_next(&d.pulls, &i) == NULL;
}

/* A PULL binding is a real listener on 127.0.0.1: each connection is a tcp stream. */
static void
test_bind_pull(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct json_tok toks[32];
	struct json_doc doc;
	struct fakedaemon_frame *f;
	struct binding *b;
	char addr[NET_ADDR_STRLEN];
	int64_t id;
	int port;

	(void)state;
	hello(&peer);
	fakedaemon_peer_send_str(&peer, FRAME_BIND, 0, BIND_PULL_JSON);
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_BIND_OK, 0), &doc, toks, 32);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "clientBindRef"), 1);
	id = fakedaemon_json_int(&doc, 0, "bindId");
	port = (int)fakedaemon_json_int(&doc, 0, "containerPort");
	assert_true(json_is_null(&doc, json_get(&doc, 0, "publicUrl")));
	assert_true(port > 0);
	assert_non_null(bind_route_port(&d, port));
	b = bind_route_port(&d, port)->first;
	assert_int_equal(b->id, id);
	assert_int_equal(b->kind, BIND_PULL);
	assert_int_equal(d.fds.in_use, 2); /* the tunnel socket and the listener */
	expect_gauges(1, 0, 1, 0, 0);

	fakedaemon_sock_open(&local, &d, port);
	f = fakedaemon_peer_wait(&peer, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID);
	assert_int_equal(f->sid, 1); /* the first stream of the session */
	fakedaemon_json(f, &doc, toks, 32);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "kind"), "tcp");
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), id);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "containerPort"), port);
	assert_int_equal(getsockname(local.fd, (struct sockaddr *)&ss, &sl), 0);
	assert_true(net_format_addr((struct sockaddr *)&ss, addr, sizeof(addr)) > 0);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "peerAddr"), addr);
	assert_int_equal(d.fds.in_use, 3);
	expect_gauges(1, 0, 1, 1, 0);

	/* bytes both ways */
	fakedaemon_sock_send(&local, "from the container");
	f = fakedaemon_peer_wait(&peer, FRAME_DATA, 1);
	assert_int_equal(f->len, 18);
	assert_memory_equal(f->p, "from the container", 18);
	fakedaemon_peer_send(&peer, FRAME_DATA, 1, "from afar", 9);
	fakedaemon_sock_wait(&local, 9);
	assert_string_equal(local.in, "from afar");

	/* the container's client leaves (EOF); the tunnel client's EOF ends the stream */
	fakedaemon_sock_close(&local);
	fakedaemon_peer_wait(&peer, FRAME_EOF, 1);
	fakedaemon_peer_send(&peer, FRAME_EOF, 1, NULL, 0);
	fakedaemon_run_until(&d, no_stream_left, NULL, "the PULL stream to end");
	assert_int_equal(d.fds.in_use, 2);
	expect_gauges(1, 0, 1, 0, 0);
	assert_int_equal(d.metrics.streams_opened_total[METRICS_KIND_TCP], 1);
}

static void
test_bind_already_bound(void **state)
{
	struct json_tok toks[32];
	struct json_doc doc;
	char js[160];
	int i, port;

	(void)state;
	hello(&peer);
	hello(&peer2);
	bind_ok(&peer, BIND_PULL_JSON, &port);
	snprintf(js, sizeof(js),
		 "{\"clientBindRef\":\"again\",\"kind\":\"tcp\",\"mode\":\"pull\",\"containerPort\":%d}",
		 port);
	for (i = 0; i < 2; i++) { /* from the holder, then from another session */
		struct fakedaemon_peer *p = i == 0 ? &peer : &peer2;

		fakedaemon_peer_send_str(p, FRAME_BIND, 0, js);
		fakedaemon_json(fakedaemon_peer_wait(p, FRAME_BIND_ERR, 0), &doc, toks, 32);
		assert_string_equal(fakedaemon_json_str(&doc, 0, "clientBindRef"), "again");
		assert_string_equal(fakedaemon_json_str(&doc, 0, "code"), "ALREADY_BOUND");
		assert_true(strlen(fakedaemon_json_str(&doc, 0, "message")) > 0);
		assert_int_equal(fakedaemon_peer_count(p, FRAME_BIND_OK, 0), i == 0 ? 1 : 0);
	}
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_ALREADY_BOUND], 2);
	assert_int_equal(d.nbinds, 1);
	assert_int_equal(d.fds.in_use, 3); /* two tunnel sockets, one listener */
	expect_gauges(2, 0, 1, 0, 0);
}

static void
test_unbind(void **state)
{
	struct json_tok toks[32];
	struct json_doc doc;
	char js[64];
	int64_t id;
	int port;

	(void)state;
	hello(&peer);
	id = bind_ok(&peer, BIND_PULL_JSON, &port);
	assert_int_equal(d.fds.in_use, 2);
	snprintf(js, sizeof(js), "{\"bindId\":%lld}", (long long)id);
	fakedaemon_peer_send_str(&peer, FRAME_UNBIND, 0, js);
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_UNBIND_OK, 0), &doc, toks, 32);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), id);
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
	assert_int_equal(d.fds.in_use, 1);
	expect_gauges(1, 0, 0, 0, 0);

	fakedaemon_peer_send_str(&peer, FRAME_UNBIND, 0, js); /* once more: it is gone */
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_UNBIND_ERR, 0), &doc, toks, 32);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), id);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "code"), "UNKNOWN_BIND");
}

/* The client's PING is echoed; a silent client gets the server's PING. */
static void
test_ping_pong(void **state)
{
	static const uint8_t nonce[FRAME_PING_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct fakedaemon_frame *f;

	(void)state;
	cfg.ping_interval_ms = 40;
	hello(&peer);
	fakedaemon_peer_send(&peer, FRAME_PING, 0, nonce, sizeof(nonce));
	f = fakedaemon_peer_wait(&peer, FRAME_PONG, 0);
	assert_int_equal(f->len, sizeof(nonce));
	assert_memory_equal(f->p, nonce, sizeof(nonce));
	f = fakedaemon_peer_wait(&peer, FRAME_PING, 0);
	assert_int_equal(f->len, FRAME_PING_LEN);
	fakedaemon_peer_send(&peer, FRAME_PONG, 0, f->p, f->len);
	fakedaemon_peer_sync(&peer);
	assert_int_equal(d.sessions->state, SESSION_ACTIVE);
}

/* ---- the server's ends ----------------------------------------------------- */

/* No stream and no binding for --idle-timeout: GOAWAY(IDLE_TIMEOUT), the session ends. */
static void
test_idle_timeout(void **state)
{
	uint64_t t0;

	(void)state;
	cfg.idle_timeout_ms = 80;
	hello(&peer);
	t0 = reactor_now(&d.r);
	expect_goaway_close(&peer, FRAME_CODE_IDLE_TIMEOUT, "idle timeout", WS_CLOSE_NORMAL);
	assert_true(reactor_now(&d.r) - t0 >= 80);
	fakedaemon_run_until(&d, no_session_left, NULL, "the idle session to end");
	assert_int_equal(d.norphans, 0);
}

/* Nothing received for --pong-timeout: GOAWAY(IDLE_TIMEOUT), the socket is dropped, the session parks. */
static void
test_pong_timeout_parks(void **state)
{
	uint64_t t0;
	int port;

	(void)state;
	cfg.pong_timeout_ms = 100;
	cfg.takeover_grace_ms = 100;
	hello(&peer);
	t0 = reactor_now(&d.r); /* before the last frame the server receives (bind_ok's PING) */
	bind_ok(&peer, BIND_PULL_JSON, &port);
	expect_goaway_close(&peer, FRAME_CODE_IDLE_TIMEOUT, "pong timeout", WS_CLOSE_GOING_AWAY);
	assert_true(reactor_now(&d.r) - t0 >= 100);
	fakedaemon_run_until(&d, one_orphan, NULL, "the session to park");
	expect_gauges(0, 1, 1, 0, 0);
	fakedaemon_run_until(&d, no_session_left, NULL, "the grace to run out");
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
}

/* An admin kill: GOAWAY(NO_ERROR, "killed"), bindings released at once, never parked. */
static void
test_kill(void **state)
{
	char id[SESSION_ID_LEN + 1];
	int port;

	(void)state;
	cfg.takeover_grace_ms = 60000;
	snprintf(id, sizeof(id), "%s", hello(&peer)->id);
	bind_ok(&peer, BIND_PULL_JSON, &port);
	session_kill(d.sessions, 50);
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
	assert_int_equal(d.nbinds, 0);
	expect_goaway_close(&peer, FRAME_CODE_NO_ERROR, "killed", WS_CLOSE_GOING_AWAY);
	fakedaemon_run_until(&d, no_session_left, NULL, "the killed session to end");
	assert_int_equal(d.norphans, 0);
	assert_null(session_find(&d, id));
}

/* ---- losing the socket --------------------------------------------------- */

/* No takeover grace: the session ends with its socket, the port is released. */
static void
test_close_ends_session(void **state)
{
	int port;

	(void)state;
	hello(&peer);
	bind_ok(&peer, BIND_PULL_JSON, &port);
	fakedaemon_peer_close(&peer);
	fakedaemon_run_until(&d, no_session_left, NULL, "the session to end");
	assert_int_equal(d.norphans, 0);
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
	fakedaemon_run_until(&d, all_gone, NULL, "the tunnel socket to go");
	assert_int_equal(d.fds.in_use, 0);
	expect_gauges(0, 0, 0, 0, 0);
}

static int
one_session(void *arg)
{
	(void)arg;
	return d.sessions != NULL && d.sessions->next == NULL && d.tconns != NULL && d.tconns->next == NULL;
}

/* A grace: a session with bindings parks, its port stays open; then it ends. */
static void
test_close_parks_session(void **state)
{
	struct session *s;
	uint64_t t0;
	int port;

	(void)state;
	cfg.takeover_grace_ms = 150;
	hello(&peer2); /* no binding: nothing to keep, it ends at once */
	s = hello(&peer);
	bind_ok(&peer, BIND_PULL_JSON, &port);
	fakedaemon_peer_close(&peer2);
	fakedaemon_run_until(&d, one_session, NULL, "the session without bindings to end");
	assert_ptr_equal(d.sessions, s);
	assert_int_equal(d.norphans, 0);

	fakedaemon_peer_close(&peer);
	t0 = reactor_now(&d.r);
	fakedaemon_run_until(&d, one_orphan, NULL, "the session to park");
	assert_int_equal(s->state, SESSION_PARKED);
	expect_gauges(0, 1, 1, 0, 0);
	/* the port still listens; a PULL client is closed at once */
	fakedaemon_sock_open(&local, &d, port);
	fakedaemon_sock_wait_eof(&local);
	assert_int_equal(local.len, 0);
	fakedaemon_sock_close(&local);

	fakedaemon_run_until(&d, no_session_left, NULL, "the grace to run out");
	assert_true(reactor_now(&d.r) - t0 >= 150);
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
	fakedaemon_run_until(&d, all_gone, NULL, "the tunnel socket to go");
	assert_int_equal(d.fds.in_use, 0);
	expect_gauges(0, 0, 0, 0, 0);
}

/* A HELLO with resume takes a parked session back, with its bindings. */
static void
test_resume(void **state)
{
	struct json_tok toks[64];
	struct json_doc doc;
	struct fakedaemon_frame *f;
	char id[SESSION_ID_LEN + 1], js[256];
	bool resumed = false;
	int64_t bid;
	int port, a, e;

	(void)state;
	cfg.takeover_grace_ms = 2000;
	snprintf(id, sizeof(id), "%s", hello(&peer)->id);
	bid = bind_ok(&peer, BIND_PULL_JSON, &port);
	fakedaemon_peer_close(&peer);
	fakedaemon_run_until(&d, one_orphan, NULL, "the session to park");

	open_tunnel(&peer2);
	snprintf(js, sizeof(js), HELLO_V1 ",\"resume\":{\"sessionId\":\"%s\"}}", id);
	fakedaemon_peer_send_str(&peer2, FRAME_HELLO, 0, js);
	fakedaemon_json(fakedaemon_peer_wait(&peer2, FRAME_HELLO_OK, 0), &doc, toks, 64);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "sessionId"), id);
	assert_int_equal(json_obj_get_bool(&doc, 0, "resumed", &resumed), 0);
	assert_true(resumed);
	a = json_get(&doc, 0, "resumedBinds");
	e = json_first(&doc, a);
	assert_true(e >= 0);
	assert_int_equal(json_next(&doc, a, e), -1);
	assert_int_equal(fakedaemon_json_int(&doc, e, "bindId"), bid);
	assert_string_equal(fakedaemon_json_str(&doc, e, "kind"), "tcp");
	assert_string_equal(fakedaemon_json_str(&doc, e, "mode"), "pull");
	assert_int_equal(fakedaemon_json_int(&doc, e, "containerPort"), port);
	assert_int_equal(d.metrics.sessions_resumed_total, 1);
	expect_gauges(1, 0, 1, 0, 0);

	/* the port serves the new socket */
	fakedaemon_sock_open(&local, &d, port);
	f = fakedaemon_peer_wait(&peer2, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID);
	fakedaemon_json(f, &doc, toks, 64);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), bid);
	cfg.takeover_grace_ms = 0; /* teardown: end, do not park */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_without_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_error_after_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_already_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pong_timeout_parks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_ends_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_parks_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
