/*
 * test_expose.c: the EXPOSE visitor machine (expose.c, and expose_http,
 * expose_out, expose_route and expose_upgrade beside it) through the fake
 * daemon (fakedaemon.h).
 *
 * A session is opened as a client would (HELLO, BIND http/expose) over a
 * socketpair handed to tconn_start; visitors are plain TCP connections to
 * the bound port on 127.0.0.1. The test plays the tunnel client: it reads
 * each STREAM_OPEN (method, target, headers as the daemon forwards them)
 * and the de-framed request body (DATA, EOF), and answers with
 * STREAM_RESPONSE_HEAD, DATA and EOF within the credit WINDOW gives. The
 * visitor must read the exact HTTP/1.1 response: Content-Length kept,
 * chunked or close-delimited otherwise, HEAD without a body, a 101 and raw
 * bytes after it, keep-alive and pipelined requests answered in order, and
 * the daemon's own answers (400, 502, 503, 504) as PROTOCOL.md sections 6
 * and 9 describe them; a takeover moves the port to another session.
 * Every test ends with no session, no visitor and every FD permit back
 * (teardown), also under ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "expose.h"
#include "fakedaemon.h"
#include "frame.h"
#include "http1.h"
#include "json.h"
#include "net.h"
#include "session.h"

#define HELLO_JSON                                                                                           \
	"{\"version\":\"hoody-tunnel.v1\",\"auth\":{\"kind\":\"bearer\",\"token\":\"" FAKEDAEMON_TOKEN       \
	"\"},\"capabilities\":[]}"
#define BIND_EXPOSE_JSON "{\"clientBindRef\":\"web\",\"kind\":\"http\",\"mode\":\"expose\"}"
#define HEAD_TEXT_5                                                                                          \
	"{\"status\":200,\"headers\":[[\"Content-Type\",\"text/plain\"],[\"Content-Length\",\"5\"]]}"

static struct config cfg;
static struct daemon d;
static struct fakedaemon_peer peer, peer2;
static struct fakedaemon_sock visitor;
static int port; /* the EXPOSE binding's */
static int64_t bind_id;
static struct json_tok toks[96];
static struct json_doc doc; /* the last JSON payload looked at */

static int
setup(void **state)
{
	(void)state;
	if (fakedaemon_init(&d, &cfg) < 0 || expose_init(&d) < 0)
		return -1;
	cfg.takeover_grace_ms = 0;
	memset(&peer, 0, sizeof(peer));
	memset(&peer2, 0, sizeof(peer2));
	memset(&visitor, 0, sizeof(visitor));
	return 0;
}

static int
all_gone(void *arg)
{
	uint32_t i = 0;

	(void)arg;
	return d.sessions == NULL && d.tconns == NULL && slab_next(&d.visitors, &i) == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	fakedaemon_sock_close(&visitor);
	fakedaemon_peer_close(&peer);
	fakedaemon_peer_close(&peer2);
	fakedaemon_run_until(&d, all_gone, NULL, "every session, tunnel socket and visitor to go");
	assert_int_equal(d.nsessions, 0);
	assert_int_equal(d.nbinds, 0);
	assert_int_equal(d.requests_in_flight, 0);
	assert_int_equal(d.fds.in_use, 0);
	assert_int_equal(d.fds.over_release_total, 0);
	fakedaemon_fini(&d);
	expose_fini(&d);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* A tunnel socket handed over as ctl.c does, and a session on it (HELLO). */
static void
hello_on(struct fakedaemon_peer *p)
{
	struct conn c;
	int fd = fakedaemon_peer_open(p, &d);

	conn_init(&c, &d.r, fd, NULL);
	assert_int_equal(tconn_start(&d, &c, 0, "127.0.0.1:40000", reactor_now(&d.r), NULL, 0), 0);
	fakedaemon_peer_send_str(p, FRAME_HELLO, 0, HELLO_JSON);
	fakedaemon_peer_wait(p, FRAME_HELLO_OK, 0);
}

/* A session with one EXPOSE binding, as a client opens it: sets port and bind_id. */
static void
expose_session(void)
{
	hello_on(&peer);
	fakedaemon_peer_send_str(&peer, FRAME_BIND, 0, BIND_EXPOSE_JSON);
	fakedaemon_json(fakedaemon_peer_wait(&peer, FRAME_BIND_OK, 0), &doc, toks, 96);
	port = (int)fakedaemon_json_int(&doc, 0, "containerPort");
	bind_id = fakedaemon_json_int(&doc, 0, "bindId");
	assert_true(port >= 20000 && port <= 65534);
}

/* The next request's stream: its STREAM_OPEN parsed into doc; its id. */
static uint32_t
next_open(void)
{
	struct fakedaemon_frame *f = fakedaemon_peer_wait(&peer, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID);

	fakedaemon_json(f, &doc, toks, 96);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "kind"), "http");
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), bind_id);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "containerPort"), port);
	return f->sid;
}

/* The headers of a STREAM_OPEN as "Name: value\n" lines, in order. */
static const char *
headers_of(void)
{
	static char out[2048];
	int a = json_get(&doc, 0, "headers"), e;
	size_t n = 0;

	assert_int_equal(json_type(&doc, a), JSON_ARRAY);
	out[0] = '\0';
	for (e = json_first(&doc, a); e >= 0; e = json_next(&doc, a, e)) {
		int k = json_first(&doc, e);
		char name[128], value[512];

		assert_true(json_get_string(&doc, k, name, sizeof(name)) >= 0);
		assert_true(json_get_string(&doc, json_next(&doc, e, k), value, sizeof(value)) >= 0);
		assert_int_equal(json_next(&doc, e, json_next(&doc, e, k)), -1);
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s: %s\n", name, value);
		assert_true(n < sizeof(out));
	}
	return out;
}

/* The client's answer: a head, a body piece or none, EOF. */
static void
respond(uint32_t sid, const char *head, const char *body)
{
	fakedaemon_peer_send_str(&peer, FRAME_STREAM_RESPONSE_HEAD, sid, head);
	if (body != NULL)
		fakedaemon_peer_send_str(&peer, FRAME_DATA, sid, body);
	fakedaemon_peer_send(&peer, FRAME_EOF, sid, NULL, 0);
}

/* The visitor reads exactly want (and nothing else has come yet). */
static void
expect_response(const char *want)
{
	fakedaemon_sock_wait(&visitor, strlen(want));
	assert_string_equal(visitor.in, want);
	fakedaemon_sock_clear(&visitor);
}

/* The text of one of the daemon's own answers, as a visitor reads it. */
static const char *
own_answer(int status, const char *reason, const char *detail, const char *extra, int keep_alive)
{
	static char out[512];
	char body[256];

	snprintf(body, sizeof(body), "%d %s: %s\n", status, reason, detail);
	snprintf(out, sizeof(out),
		 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
		 "%sConnection: %s\r\n\r\n%s",
		 status, reason, strlen(body), extra, keep_alive ? "keep-alive" : "close", body);
	return out;
}

static int
exchange_over(void *arg)
{
	(void)arg;
	return d.requests_in_flight == 0 && d.sessions->mux.streams.count == 0;
}

static int64_t
in_flight(void)
{
	struct metrics_gauges g;

	session_gauges(&d, &g);
	return g.requests_in_flight;
}

/* ---- requests and responses ---------------------------------------------- */

/* A GET: its STREAM_OPEN as the client sees it, a Content-Length response as the visitor sees it. */
static void
test_get(void **state)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[NET_ADDR_STRLEN];
	bool upgrade = true;
	uint32_t sid;

	(void)state;
	expose_session();
	assert_int_equal(d.fds.in_use, 2); /* the tunnel socket, the listener */
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor,
			     "GET /hello?x=1 HTTP/1.1\r\nHost: app.example\r\nX-Test: a\r\n"
			     "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Test: b\r\n\r\n");
	sid = next_open();
	assert_string_equal(fakedaemon_json_str(&doc, 0, "method"), "GET");
	assert_string_equal(fakedaemon_json_str(&doc, 0, "target"), "/hello?x=1");
	assert_string_equal(headers_of(), "Host: app.example\nX-Test: a\nX-Test: b\n"
					  "X-Forwarded-For: 127.0.0.1\nX-Forwarded-Proto: http\n"
					  "X-Forwarded-Host: app.example\nX-Real-IP: 127.0.0.1\n");
	assert_int_equal(json_obj_get_bool(&doc, 0, "isUpgrade", &upgrade), 0);
	assert_false(upgrade);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "httpVersion"), "1.1");
	assert_int_equal(getsockname(visitor.fd, (struct sockaddr *)&ss, &sl), 0);
	assert_true(net_format_addr((struct sockaddr *)&ss, addr, sizeof(addr)) > 0);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "peerAddr"), addr);
	/* no body: EOF follows STREAM_OPEN */
	assert_int_equal(fakedaemon_peer_wait(&peer, FRAME_EOF, sid)->len, 0);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_DATA, sid), 0);
	assert_int_equal(in_flight(), 1);
	assert_int_equal(d.fds.in_use, 3);

	respond(sid, HEAD_TEXT_5, "hello");
	expect_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
			"Connection: keep-alive\r\n\r\nhello");
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchange to end");
	assert_int_equal(in_flight(), 0);
	assert_int_equal(d.metrics.streams_opened_total[METRICS_KIND_HTTP], 1);
	assert_false(visitor.eof);
}

/* One keep-alive connection: a chunked response, then a request with a
 * chunked body, then two pipelined requests served strictly in order. */
static void
test_keep_alive(void **state)
{
	struct fakedaemon_frame *f;
	uint32_t sid1, sid2, sid3, sid4;

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	sid1 = next_open();
	fakedaemon_peer_send_str(&peer, FRAME_STREAM_RESPONSE_HEAD, sid1,
				 "{\"status\":200,\"headers\":[[\"Content-Type\",\"text/plain\"]]}");
	fakedaemon_peer_send_str(&peer, FRAME_DATA, sid1, "hello");
	fakedaemon_peer_send_str(&peer, FRAME_DATA, sid1, ", world");
	fakedaemon_peer_send(&peer, FRAME_EOF, sid1, NULL, 0);
	expect_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
			"Connection: keep-alive\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");

	/* the second request: a new stream, its body de-framed */
	fakedaemon_sock_send(&visitor, "POST /items HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
				       "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
	sid2 = next_open();
	assert_true(sid2 > sid1);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "method"), "POST");
	assert_string_equal(fakedaemon_json_str(&doc, 0, "target"), "/items");
	assert_string_equal(headers_of(), "Host: h\nX-Forwarded-For: 127.0.0.1\nX-Forwarded-Proto: http\n"
					  "X-Forwarded-Host: h\nX-Real-IP: 127.0.0.1\n");
	fakedaemon_peer_wait(&peer, FRAME_EOF, sid2);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_DATA, sid2), 2);
	f = fakedaemon_peer_next(&peer, FRAME_DATA, sid2);
	assert_string_equal((const char *)f->p, "abc");
	f = fakedaemon_peer_next(&peer, FRAME_DATA, sid2);
	assert_string_equal((const char *)f->p, "defg");
	respond(sid2, "{\"status\":201,\"headers\":[[\"Content-Length\",\"2\"]]}", "ok");
	expect_response("HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");

	/* pipelined: the second waits for the first answer */
	fakedaemon_sock_send(&visitor,
			     "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n");
	sid3 = next_open();
	assert_string_equal(fakedaemon_json_str(&doc, 0, "target"), "/one");
	fakedaemon_peer_sync(&peer);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID), 3);
	respond(sid3, "{\"status\":204}", NULL);
	expect_response("HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
	sid4 = next_open();
	assert_true(sid4 > sid3);
	assert_string_equal(fakedaemon_json_str(&doc, 0, "target"), "/two");
	respond(sid4, HEAD_TEXT_5, "again");
	expect_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
			"Connection: keep-alive\r\n\r\nagain");
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchanges to end");
	assert_int_equal(d.metrics.streams_opened_total[METRICS_KIND_HTTP], 4);
	assert_int_equal(d.fds.in_use, 3); /* still one visitor connection */
	assert_false(visitor.eof);
}

/* HTTP/1.0 without Content-Length: the body runs to the close; HEAD: a head only. */
static void
test_http10_and_head(void **state)
{
	uint32_t sid;

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	assert_string_equal(fakedaemon_json_str(&doc, 0, "method"), "HEAD");
	respond(sid, HEAD_TEXT_5, NULL);
	expect_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
			"Connection: keep-alive\r\n\r\n");

	fakedaemon_sock_send(&visitor, "GET /old HTTP/1.0\r\n\r\n");
	sid = next_open();
	assert_string_equal(fakedaemon_json_str(&doc, 0, "httpVersion"), "1.0");
	respond(sid, "{\"status\":200,\"headers\":[[\"Content-Type\",\"text/plain\"]]}", "to the end");
	fakedaemon_sock_wait_eof(&visitor);
	assert_int_equal(visitor.err, 0);
	assert_string_equal(visitor.in,
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
			    "to the end");
}

/* An upgrade: 101 through, then raw bytes both ways (the pump), bytes sent early first. */
static void
test_upgrade(void **state)
{
	struct fakedaemon_frame *f;
	bool upgrade = false;
	uint32_t sid;

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor,
			     "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nearly");
	sid = next_open();
	assert_int_equal(json_obj_get_bool(&doc, 0, "isUpgrade", &upgrade), 0);
	assert_true(upgrade);
	assert_string_equal(headers_of(), "Host: h\nConnection: Upgrade\nUpgrade: websocket\n"
					  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
					  "X-Forwarded-For: 127.0.0.1\nX-Forwarded-Proto: http\n"
					  "X-Forwarded-Host: h\nX-Real-IP: 127.0.0.1\n");
	fakedaemon_peer_sync(&peer);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_EOF, sid), 0); /* the request side stays open */
	fakedaemon_peer_send_str(
		&peer, FRAME_STREAM_RESPONSE_HEAD, sid,
		"{\"status\":101,\"headers\":[[\"Upgrade\",\"websocket\"],"
		"[\"Connection\",\"Upgrade\"],[\"Sec-WebSocket-Accept\",\"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\"]]}");
	expect_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	f = fakedaemon_peer_wait(&peer, FRAME_DATA, sid);
	assert_string_equal((const char *)f->p, "early");
	fakedaemon_sock_send(&visitor, "from the visitor");
	f = fakedaemon_peer_wait(&peer, FRAME_DATA, sid);
	assert_string_equal((const char *)f->p, "from the visitor");
	fakedaemon_peer_send_str(&peer, FRAME_DATA, sid, "from the service");
	fakedaemon_sock_wait(&visitor, 16);
	assert_string_equal(visitor.in, "from the service");
	assert_int_equal(d.requests_in_flight, 0); /* an upgraded socket is no request in flight */

	/* the service ends: the visitor reads the end; the visitor's end finishes the stream */
	fakedaemon_peer_send(&peer, FRAME_EOF, sid, NULL, 0);
	fakedaemon_sock_wait_eof(&visitor);
	fakedaemon_sock_close(&visitor);
	fakedaemon_peer_wait(&peer, FRAME_EOF, sid);
	fakedaemon_run_until(&d, exchange_over, NULL, "the upgraded stream to end");
	assert_int_equal(d.fds.in_use, 2);
}

/* A response larger than the stream window: the client sends within credit,
 * WINDOW comes back as the visitor takes the bytes, every byte arrives. */
static void
test_large_response(void **state)
{
	static uint8_t chunk[FRAME_MAX_PAYLOAD];
	size_t total = 3 * (size_t)cfg.stream_initial_window, sent = 0, seen = 0, i, hl;
	int64_t credit, session_credit;
	char head[96];
	uint32_t sid;

	(void)state;
	expose_session();
	credit = cfg.stream_initial_window;
	session_credit = cfg.session_initial_window;
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	snprintf(head, sizeof(head), "{\"status\":200,\"headers\":[[\"Content-Length\",\"%zu\"]]}", total);
	fakedaemon_peer_send_str(&peer, FRAME_STREAM_RESPONSE_HEAD, sid, head);
	while (sent < total) {
		size_t n = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
		uint32_t inc;

		for (; seen < peer.nframes; seen++) {
			const struct fakedaemon_frame *f = &peer.frames[seen];

			if (f->type != FRAME_WINDOW)
				continue;
			assert_int_equal(frame_window_decode(f->p, f->len, &inc), 0);
			*(f->sid == 0 ? &session_credit : &credit) += inc;
		}
		if ((int64_t)n > credit || (int64_t)n > session_credit) {
			fakedaemon_peer_wait(&peer, FRAME_WINDOW, FAKEDAEMON_ANY_SID);
			continue;
		}
		for (i = 0; i < n; i++)
			chunk[i] = (uint8_t)('a' + (sent + i) % 26);
		fakedaemon_peer_send(&peer, FRAME_DATA, sid, chunk, n);
		credit -= (int64_t)n;
		session_credit -= (int64_t)n;
		sent += n;
	}
	fakedaemon_peer_send(&peer, FRAME_EOF, sid, NULL, 0);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n\r\n", total);
	hl = strlen(head);
	fakedaemon_sock_wait(&visitor, hl + total);
	assert_int_equal(visitor.len, hl + total);
	assert_memory_equal(visitor.in, head, hl);
	for (i = 0; i < total; i++)
		if (visitor.in[hl + i] != (char)('a' + i % 26))
			fail_msg("response byte %zu differs", i);
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchange to end");
}

/* ---- failures -------------------------------------------------------------- */

/* The visitor leaves with its request in flight: the client's stream is reset (CANCEL). */
static void
test_visitor_leaves(void **state)
{
	struct fakedaemon_frame *f;
	struct frame_code_payload cp;
	uint32_t sid;

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	fakedaemon_sock_close(&visitor);
	f = fakedaemon_peer_wait(&peer, FRAME_RESET, sid);
	assert_int_equal(frame_code_decode(f->p, f->len, &cp), 0);
	assert_int_equal(cp.code, FRAME_CODE_CANCEL);
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchange to end");
	assert_int_equal(d.fds.in_use, 2);
}

/* Another session takes the port over: the old one is told (BIND_REVOKED) and its
 * request in flight is reset; the visitor gets 502; the next one reaches the new owner. */
static void
test_takeover(void **state)
{
	struct fakedaemon_frame *f;
	struct frame_code_payload cp;
	int64_t old_id = 0;
	char js[160];
	uint32_t sid;

	(void)state;
	expose_session();
	old_id = bind_id;
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();

	hello_on(&peer2);
	snprintf(js, sizeof(js),
		 "{\"clientBindRef\":2,\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d,"
		 "\"takeover\":true}",
		 port);
	fakedaemon_peer_send_str(&peer2, FRAME_BIND, 0, js);
	fakedaemon_json(fakedaemon_peer_wait(&peer2, FRAME_BIND_OK, 0), &doc, toks, 96);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "containerPort"), port);
	bind_id = fakedaemon_json_int(&doc, 0, "bindId");
	assert_true(bind_id > old_id);
	snprintf(js, sizeof(js), "{\"bindId\":%lld,\"containerPort\":%d,\"reason\":\"BIND_TAKEOVER\"}",
		 (long long)old_id, port);
	assert_string_equal((const char *)fakedaemon_peer_wait(&peer, FRAME_BIND_REVOKED, 0)->p, js);
	f = fakedaemon_peer_wait(&peer, FRAME_RESET, sid);
	assert_int_equal(frame_code_decode(f->p, f->len, &cp), 0);
	assert_int_equal(cp.code, FRAME_CODE_BIND_TAKEOVER);
	fakedaemon_sock_wait_eof(&visitor);
	assert_int_equal(visitor.err, 0);
	assert_memory_equal(visitor.in, "HTTP/1.1 502 Bad Gateway\r\n", 26);
	fakedaemon_sock_close(&visitor);

	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
	f = fakedaemon_peer_wait(&peer2, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID);
	fakedaemon_json(f, &doc, toks, 96);
	assert_int_equal(fakedaemon_json_int(&doc, 0, "bindId"), bind_id);
	fakedaemon_peer_send_str(&peer2, FRAME_STREAM_RESPONSE_HEAD, f->sid, "{\"status\":204}");
	fakedaemon_peer_send(&peer2, FRAME_EOF, f->sid, NULL, 0);
	expect_response("HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID), 1);
}

/* The session ends while a request waits for its head: 502, and the connection is closed. */
static void
test_session_ends_502(void **state)
{

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	next_open();
	fakedaemon_peer_close(&peer);
	fakedaemon_sock_wait_eof(&visitor);
	assert_int_equal(visitor.err, 0);
	assert_string_equal(visitor.in, own_answer(502, "Bad Gateway", "the tunnel session ended", "", 0));
}

/* The client resets the stream before its head: 502; the connection goes on. */
static void
test_reset_502(void **state)
{
	uint8_t rst[64];
	size_t n;
	uint32_t sid;

	(void)state;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	n = frame_code_encode(rst, sizeof(rst), FRAME_CODE_REFUSED_STREAM, "local connect failed");
	fakedaemon_peer_send(&peer, FRAME_RESET, sid, rst, n);
	expect_response(own_answer(502, "Bad Gateway", "local connect failed", "", 1));
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchange to end");
	fakedaemon_peer_sync(&peer);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_RESET, sid), 0); /* none back */

	fakedaemon_sock_send(&visitor, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	respond(sid, HEAD_TEXT_5, "fine!");
	expect_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
			"Connection: keep-alive\r\n\r\nfine!");
}

/* No response head in --response-timeout: 504, the stream is cancelled, a late answer is dropped. */
static void
test_response_timeout_504(void **state)
{
	struct fakedaemon_frame *f;
	struct frame_code_payload cp;
	uint64_t t0;
	uint32_t sid;

	(void)state;
	cfg.response_timeout_ms = 80;
	expose_session();
	fakedaemon_sock_open(&visitor, &d, port);
	t0 = reactor_now(&d.r);
	fakedaemon_sock_send(&visitor, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
	sid = next_open();
	expect_response(
		own_answer(504, "Gateway Timeout", "no response from the tunnel client in time", "", 1));
	assert_true(reactor_now(&d.r) - t0 >= 80);
	f = fakedaemon_peer_wait(&peer, FRAME_RESET, sid);
	assert_int_equal(frame_code_decode(f->p, f->len, &cp), 0);
	assert_int_equal(cp.code, FRAME_CODE_CANCEL);

	/* the answer that comes too late reaches nobody, and the session goes on */
	respond(sid, HEAD_TEXT_5, "late!");
	fakedaemon_peer_sync(&peer);
	assert_int_equal(visitor.len, 0);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_GOAWAY, 0), 0);
	fakedaemon_run_until(&d, exchange_over, NULL, "the exchange to end");
	assert_false(visitor.eof);
}

static int
visitor_gone(void *arg)
{
	uint32_t i = 0;

	(void)arg;
	return slab_next(&d.visitors, &i) == NULL;
}

/* A malformed request head: 400, the connection closed (cleanly, even with
 * unread bytes behind the head); no stream opened. */
static void
test_bad_head_400(void **state)
{
	static const struct {
		const char *request;
		const char *detail; /* NULL: the parser's words, checked by framing only */
		size_t pad;         /* bytes the visitor sends after the head */
	} bad[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\nno colon in this line\r\n\r\n", NULL, 0 },
		{ "GET / HTTP/1.1\r\nX-No-Host: 1\r\n\r\n", "exactly one Host header is required", 0 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "exactly one Host header is required", 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\nno colon\r\n\r\n", NULL, 65536 },
	};
	struct http1_header hdrs[16];
	struct http1_response res;
	size_t i;

	(void)state;
	expose_session();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssize_t hl;

		fakedaemon_sock_open(&visitor, &d, port);
		fakedaemon_sock_send(&visitor, bad[i].request);
		if (bad[i].pad > 0) {
			char *pad = malloc(bad[i].pad + 1);

			assert_non_null(pad);
			memset(pad, 'x', bad[i].pad);
			pad[bad[i].pad] = '\0';
			fakedaemon_sock_send(&visitor, pad);
			free(pad);
		}
		fakedaemon_sock_wait_eof(&visitor);
		assert_int_equal(visitor.err, 0); /* closed, not reset: the answer is readable */
		if (bad[i].detail != NULL)
			assert_string_equal(visitor.in, own_answer(400, "Bad Request", bad[i].detail, "", 0));
		memset(&res, 0, sizeof(res));
		res.headers = hdrs;
		res.headers_cap = 16;
		hl = http1_parse_response(visitor.in, visitor.len, 0, NULL, &res);
		assert_true(hl > 0);
		assert_int_equal(res.status, 400);
		assert_false(res.keep_alive);
		assert_int_equal(res.body, HTTP1_BODY_LENGTH);
		assert_int_equal(res.content_length, visitor.len - (size_t)hl);
		assert_memory_equal(visitor.in + hl, "400 Bad Request: ", 17);
		fakedaemon_sock_close(&visitor);
		fakedaemon_run_until(&d, visitor_gone, NULL, "the visitor to go");
		assert_int_equal(d.fds.in_use, 2);
	}
	fakedaemon_peer_sync(&peer);
	assert_int_equal(fakedaemon_peer_count(&peer, FRAME_STREAM_OPEN, FAKEDAEMON_ANY_SID), 0);
	assert_int_equal(d.metrics.streams_opened_total[METRICS_KIND_HTTP], 0);
}

static int
parked(void *arg)
{
	(void)arg;
	return d.norphans == 1;
}

/* While the session is parked, visitors get 503 with Retry-After. */
static void
test_parked_503(void **state)
{
	(void)state;
	cfg.takeover_grace_ms = 200;
	expose_session();
	fakedaemon_peer_close(&peer);
	fakedaemon_run_until(&d, parked, NULL, "the session to park");
	fakedaemon_sock_open(&visitor, &d, port);
	fakedaemon_sock_send(&visitor, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_response(own_answer(503, "Service Unavailable", "the tunnel client is reconnecting",
				   "Retry-After: 5\r\n", 1));
	assert_int_equal(d.metrics.streams_opened_total[METRICS_KIND_HTTP], 0);
	assert_int_equal(d.requests_in_flight, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http10_and_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_visitor_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_502, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_ends_502, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_timeout_504, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_head_400, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parked_503, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
