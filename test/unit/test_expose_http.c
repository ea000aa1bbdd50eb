/*
 * test_expose_http.c: the pure parts of EXPOSE (expose_http.c): the
 * STREAM_OPEN JSON built from a visitor's request head, the HTTP/1.1 head
 * written from a STREAM_RESPONSE_HEAD, the request body with its framing
 * taken off, the response body framed as its head decided (each fed
 * whole, byte by byte and split at every offset, test/unit/feed.h), and
 * the daemon's own error answers. (The visitor connection machine is
 * tested end to end in test/integration/test_expose_daemon.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "expose_http.h"
#include "feed.h"
#include "http1.h"
#include "json.h"
#include "util.h"

/* ---- STREAM_OPEN ------------------------------------------------------- */

struct opened {
	char text[8192];
	struct json_tok toks[512];
	struct json_doc doc;
	struct http1_header hdrs[64];
	struct http1_request req;
};

/* Parse head, build STREAM_OPEN for it, parse the JSON back. */
static struct opened *
open_for(const char *head, int upgrade)
{
	static struct opened o;
	struct forwarded_values fwd;
	struct expose_http_open eo = { 7, 3000, "203.0.113.4:51234", &fwd, upgrade };
	struct buf out = { 0 };
	ssize_t n;

	memset(&o.req, 0, sizeof(o.req));
	o.req.headers = o.hdrs;
	o.req.headers_cap = 64;
	n = http1_parse_request(head, strlen(head), 0, NULL, &o.req);
	assert_int_equal(n, (ssize_t)strlen(head));
	/* an untrusted visitor: what the daemon saw replaces what it sent */
	forwarded_values(0, "203.0.113.4", o.req.headers, o.req.num_headers, &fwd);
	assert_int_equal(expose_http_open_json(&out, &eo, &o.req), 0);
	assert_true(buf_len(&out) < sizeof(o.text));
	memcpy(o.text, out.pos, buf_len(&out));
	assert_int_equal(json_parse(&o.doc, o.text, buf_len(&out), o.toks, 512, NULL), 0);
	buf_fini(&out);
	return &o;
}

/* The headers array as "Name: value\n" lines. */
static const char *
header_lines(struct opened *o)
{
	static char lines[4096];
	int arr = json_get(&o->doc, 0, "headers"), e;
	size_t len = 0;

	assert_int_equal(json_type(&o->doc, arr), JSON_ARRAY);
	for (e = json_first(&o->doc, arr); e >= 0; e = json_next(&o->doc, arr, e)) {
		char n[256], v[1024];
		int nt = json_first(&o->doc, e), vt = json_next(&o->doc, e, nt);

		assert_true(json_get_string(&o->doc, nt, n, sizeof(n)) >= 0);
		assert_true(json_get_string(&o->doc, vt, v, sizeof(v)) >= 0);
		len += (size_t)snprintf(lines + len, sizeof(lines) - len, "%s: %s\n", n, v);
	}
	lines[len] = '\0';
	return lines;
}

static void
str_member(struct opened *o, const char *key, const char *want)
{
	char v[512];

	assert_true(json_obj_get_str(&o->doc, 0, key, v, sizeof(v)) >= 0);
	assert_string_equal(v, want);
}

static void
test_open_fields(void **state)
{
	struct opened *o;
	int64_t v;
	bool b;

	(void)state;
	o = open_for("POST /api/items?x=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\n", 0);
	str_member(o, "kind", "http");
	str_member(o, "method", "POST");
	str_member(o, "target", "/api/items?x=1");
	str_member(o, "httpVersion", "1.1");
	str_member(o, "peerAddr", "203.0.113.4:51234");
	assert_int_equal(json_obj_get_int(&o->doc, 0, "bindId", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(json_obj_get_int(&o->doc, 0, "containerPort", &v), 0);
	assert_int_equal(v, 3000);
	assert_int_equal(json_obj_get_bool(&o->doc, 0, "isUpgrade", &b), 0);
	assert_false(b);
	assert_string_equal(header_lines(o), "Host: example.test\nContent-Length: 2\n"
					     "X-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
					     "X-Forwarded-Host: example.test\nX-Real-IP: 203.0.113.4\n");
	o = open_for("GET / HTTP/1.0\r\n\r\n", 0);
	str_member(o, "httpVersion", "1.0");
	/* no Host: no X-Forwarded-Host */
	assert_string_equal(header_lines(o), "X-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
					     "X-Real-IP: 203.0.113.4\n");
}

static void
test_open_hop_by_hop(void **state)
{
	struct opened *o;

	(void)state;
	o = open_for(
		"GET / HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nConnection: keep-alive, X-Secret\r\n"
		"Keep-Alive: timeout=5\r\nX-Secret: s\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
		"Proxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\nX-Dup: 2\r\n"
		"Accept: */*\r\n\r\n",
		0);
	assert_string_equal(header_lines(o), "Host: h\nX-Dup: 1\nX-Dup: 2\nAccept: */*\n"
					     "X-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
					     "X-Forwarded-Host: h\nX-Real-IP: 203.0.113.4\n");
	/* chunked request: Transfer-Encoding is the visitor's framing, not forwarded */
	o = open_for("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 0);
	assert_null(strstr(header_lines(o), "Transfer-Encoding"));
}

static void
test_open_forwarded_replaced(void **state)
{
	struct opened *o;

	(void)state;
	o = open_for("GET / HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6\r\nHost: h\r\nx-real-ip: 6.6.6.6\r\n"
		     "X-Forwarded-Proto: https\r\nX-FORWARDED-HOST: evil\r\n\r\n",
		     0);
	assert_string_equal(header_lines(o),
			    "Host: h\nX-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
			    "X-Forwarded-Host: h\nX-Real-IP: 203.0.113.4\n");
}

/* An absolute-form target: the client gets the origin form and the target's authority as Host. */
static void
test_open_absolute_form(void **state)
{
	struct opened *o;

	(void)state;
	o = open_for("GET http://a.example.test:81/x?y HTTP/1.1\r\nHost: b.example.test\r\nX-A: 1\r\n\r\n",
		     0);
	str_member(o, "target", "/x?y");
	assert_non_null(strstr(header_lines(o), "Host: a.example.test:81\nX-A: 1\n"));
	assert_null(
		strstr(header_lines(o), "\nHost: b.example.test")); /* X-Forwarded-Host is expose_route's */
	o = open_for("GET http://a.example.test HTTP/1.1\r\nHost: b\r\n\r\n", 0);
	str_member(o, "target", "/");
	o = open_for("GET /p HTTP/1.1\r\nHost: b\r\n\r\n", 0);
	str_member(o, "target", "/p");
	assert_non_null(strstr(header_lines(o), "Host: b\n"));
}

static void
test_open_upgrade(void **state)
{
	const char *head = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			   "Sec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\nKeep-Alive: 1\r\n\r\n";
	struct opened *o;
	bool b;

	(void)state;
	o = open_for(head, 1);
	assert_int_equal(json_obj_get_bool(&o->doc, 0, "isUpgrade", &b), 0);
	assert_true(b);
	assert_string_equal(header_lines(o), "Host: h\nConnection: Upgrade\nUpgrade: websocket\n"
					     "Sec-WebSocket-Key: k==\nSec-WebSocket-Version: 13\n"
					     "X-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
					     "X-Forwarded-Host: h\nX-Real-IP: 203.0.113.4\n");
	/* not forwarded as an upgrade: Connection and Upgrade go */
	o = open_for(head, 0);
	assert_string_equal(header_lines(o), "Host: h\nSec-WebSocket-Key: k==\nSec-WebSocket-Version: 13\n"
					     "X-Forwarded-For: 203.0.113.4\nX-Forwarded-Proto: http\n"
					     "X-Forwarded-Host: h\nX-Real-IP: 203.0.113.4\n");
}

static void
test_open_latin1_value(void **state)
{
	struct opened *o;

	(void)state;
	/* obs-text is valid in a field value; the JSON carries U+FFFD for it */
	o = open_for("GET / HTTP/1.1\r\nHost: h\r\nX-L: caf\xe9\r\n\r\n", 0);
	assert_non_null(strstr(header_lines(o), "X-L: caf\xef\xbf\xbd\n"));
}

/* ---- response heads ---------------------------------------------------- */

static const struct expose_http_req req11 = { 0, 1, 0, 1 };
static const struct expose_http_req req10 = { 0, 0, 0, 0 };
static const struct expose_http_req req_head = { 1, 1, 0, 1 };
static const struct expose_http_req req_up = { 0, 1, 1, 1 };
static const struct expose_http_req req11_close = { 0, 1, 0, 0 };

/* Run expose_http_response_head on json; returns rc, the written text in out_text. */
static int
head_for(const char *json, const struct expose_http_req *rq, struct expose_http_head *h, char *out_text,
	 size_t cap)
{
	struct buf out = { 0 };
	int rc;

	assert_int_equal(buf_reserve(&out, 16, 0, 0), 0);
	buf_append(&out, "PRE", 3); /* what is already queued stays */
	rc = expose_http_response_head(&out, (const uint8_t *)json, strlen(json), rq, h);
	assert_true(buf_len(&out) >= 3 && memcmp(out.pos, "PRE", 3) == 0);
	assert_true(buf_len(&out) - 3 < cap);
	memcpy(out_text, out.pos + 3, buf_len(&out) - 3);
	out_text[buf_len(&out) - 3] = '\0';
	buf_fini(&out);
	return rc;
}

static void
test_head_content_length(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(
		head_for("{\"status\":200,\"headers\":[[\"Content-Type\",\"text/plain\"],"
			 "[\"Content-Length\",\"5\"],[\"Set-Cookie\",\"a=1\"],[\"Set-Cookie\",\"b=2\"]],"
			 "\"final\":true}",
			 &req11, &h, t, sizeof(t)),
		0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
			       "Set-Cookie: b=2\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.status, 200);
	assert_true(h.final);
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_LENGTH);
	assert_int_equal(h.length, 5);
	assert_true(h.keep_alive);
	/* the visitor asked to close */
	assert_int_equal(head_for("{\"status\":404,\"headers\":[[\"content-length\",\"0\"]]}", &req11_close,
				  &h, t, sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	assert_false(h.keep_alive);
	/* equal duplicates are one; differing ones are invalid */
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"3\"],[\"Content-"
				  "Length\",\"3\"]]}",
				  &req11, &h, t, sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"3\"],[\"Content-"
				  "Length\",\"4\"]]}",
				  &req11, &h, t, sizeof(t)),
			 -EPROTO);
	assert_string_equal(t, "");
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"-1\"]]}", &req11, &h, t,
				  sizeof(t)),
			 -EPROTO);
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"1 2\"]]}", &req11, &h,
				  t, sizeof(t)),
			 -EPROTO);
}

static void
test_head_chunked_and_close(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(
		head_for("{\"status\":200,\"headers\":[[\"Transfer-Encoding\",\"chunked\"],[\"X-A\",\"1\"]],"
			 "\"final\":true}",
			 &req11, &h, t, sizeof(t)),
		0);
	assert_string_equal(
		t,
		"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_CHUNKED);
	assert_int_equal(head_for("{\"status\":200,\"headers\":[]}", &req10, &h, t, sizeof(t)), 0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_CLOSE);
	assert_false(h.keep_alive);
	/* HTTP/1.0 keep-alive with a length stays open */
	{
		struct expose_http_req r = { 0, 0, 0, 1 };

		assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"2\"]]}", &r, &h,
					  t, sizeof(t)),
				 0);
		assert_string_equal(t,
				    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
		assert_true(h.keep_alive);
	}
}

static void
test_head_no_body(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Content-Length\",\"1234\"]]}", &req_head,
				  &h, t, sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_NONE);
	assert_int_equal(head_for("{\"status\":200,\"headers\":[]}", &req_head, &h, t, sizeof(t)), 0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_NONE);
	assert_int_equal(head_for("{\"status\":204,\"headers\":[[\"Content-Length\",\"0\"]]}", &req11, &h, t,
				  sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_NONE);
	assert_int_equal(
		head_for("{\"status\":304,\"headers\":[[\"ETag\",\"\\\"x\\\"\"]]}", &req11, &h, t, sizeof(t)),
		0);
	assert_string_equal(t, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_NONE);
}

static void
test_head_hop_by_hop(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"Connection\",\"close, X-Private\"],"
				  "[\"X-Private\",\"p\"],[\"Keep-Alive\",\"timeout=5\"],[\"Upgrade\",\"h2\"],"
				  "[\"Proxy-Authenticate\",\"Basic\"],[\"Trailer\",\"X\"],[\"TE\",\"x\"],"
				  "[\"X-Public\",\"ok\"],[\"Content-Length\",\"0\"]]}",
				  &req11, &h, t, sizeof(t)),
			 0);
	assert_string_equal(
		t, "HTTP/1.1 200 OK\r\nX-Public: ok\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
	assert_true(h.keep_alive);
}

static void
test_head_invalid(void **state)
{
	static const char *const bad[] = {
		"{\"status\":200,\"headers\":[[\"X-A\",\"b\\r\\nInjected: 1\"]]}",
		"{\"status\":200,\"headers\":[[\"X-A\",\"b\\nc\"]]}",
		"{\"status\":200,\"headers\":[[\"X-A\",\"b\\u0000\"]]}",
		"{\"status\":200,\"headers\":[[\"Bad Name\",\"v\"]]}",
		"{\"status\":200,\"headers\":[[\"\",\"v\"]]}",
		"{\"status\":200,\"headers\":[[\"X:A\",\"v\"]]}",
		"{\"status\":200,\"headers\":[[\"X-A\"]]}",
		"{\"status\":200,\"headers\":[[\"X-A\",1]]}",
		"{\"status\":200,\"headers\":{\"X-A\":\"v\"}}",
		"{\"status\":99,\"headers\":[]}",
		"{\"status\":600,\"headers\":[]}",
		"{\"status\":\"200\",\"headers\":[]}",
		"{\"status\":200.5,\"headers\":[]}",
		"{\"headers\":[]}",
		"{\"status\":200,\"headers\":[],\"final\":false}",
		"{\"status\":100,\"headers\":[],\"final\":true}",
		"{\"status\":101,\"headers\":[],\"final\":true}", /* not an upgrade */
		"{\"status\":101,\"headers\":[],\"final\":false}",
		"{\"status\":200,\"headers\":[],\"final\":\"yes\"}",
		"[200]",
		"{\"status\":200,",
		"",
	};
	struct expose_http_head h;
	char t[2048];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (head_for(bad[i], &req11, &h, t, sizeof(t)) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(t, "");
	}
	/* a value may be empty, and obs-text and tabs are fine */
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"X-E\",\"\"],[\"X-T\",\"a\\tb\"]]}", &req11,
				  &h, t, sizeof(t)),
			 0);
}

static void
test_head_informational(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(
		head_for("{\"status\":100,\"headers\":[],\"final\":false}", &req11, &h, t, sizeof(t)), 0);
	assert_string_equal(t, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_false(h.final);
	assert_int_equal(h.body, EXPOSE_HTTP_BODY_NONE);
	assert_int_equal(head_for("{\"status\":103,\"headers\":[[\"Link\",\"</a.css>; rel=preload\"],"
				  "[\"Content-Length\",\"9\"]],\"final\":false}",
				  &req11, &h, t, sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
	/* nothing for an HTTP/1.0 visitor */
	assert_int_equal(
		head_for("{\"status\":103,\"headers\":[],\"final\":false}", &req10, &h, t, sizeof(t)), 0);
	assert_string_equal(t, "");
	assert_false(h.final);
}

static void
test_head_switching(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(
		head_for(
			"{\"status\":101,\"headers\":[[\"Upgrade\",\"websocket\"],[\"Connection\","
			"\"Upgrade\"],"
			"[\"Sec-WebSocket-Accept\",\"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\"],[\"Keep-Alive\",\"1\"]],"
			"\"final\":true}",
			&req_up, &h, t, sizeof(t)),
		0);
	assert_string_equal(
		t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	assert_int_equal(h.status, 101);
	assert_true(h.final);
	/* without a Connection field the daemon adds one */
	assert_int_equal(head_for("{\"status\":101,\"headers\":[[\"Upgrade\",\"websocket\"]]}", &req_up, &h,
				  t, sizeof(t)),
			 0);
	assert_string_equal(
		t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	/* a non-101 answer to an upgrade is ordinary: its Upgrade field goes */
	assert_int_equal(head_for("{\"status\":426,\"headers\":[[\"Upgrade\",\"websocket\"],[\"Content-"
				  "Length\",\"0\"]]}",
				  &req_up, &h, t, sizeof(t)),
			 0);
	assert_string_equal(
		t, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

static void
test_head_unescape(void **state)
{
	struct expose_http_head h;
	char t[2048];

	(void)state;
	assert_int_equal(head_for("{\"status\":200,\"headers\":[[\"X-\\u0041\",\"caf\\u00e9 \\\"q\\\"\"],"
				  "[\"Content-Length\",\"0\"]]}",
				  &req11, &h, t, sizeof(t)),
			 0);
	assert_string_equal(t, "HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9 \"q\"\r\nContent-Length: 0\r\n"
			       "Connection: keep-alive\r\n\r\n");
}

static void
test_head_many_headers(void **state)
{
	struct expose_http_head h;
	static char json[64 * 1024], t[64 * 1024];
	size_t len = 0;
	int i;

	(void)state;
	len += (size_t)snprintf(json + len, sizeof(json) - len, "{\"status\":200,\"headers\":[");
	for (i = 0; i < EXPOSE_HTTP_MAX_RESPONSE_HEADERS; i++)
		len += (size_t)snprintf(json + len, sizeof(json) - len, "%s[\"X-%d\",\"v\"]", i ? "," : "",
					i);
	snprintf(json + len, sizeof(json) - len, "]}");
	assert_int_equal(head_for(json, &req11, &h, t, sizeof(t)), 0);
	assert_non_null(strstr(t, "X-255: v\r\n"));
	/* one more than the limit is refused, not truncated */
	snprintf(json + len, sizeof(json) - len, ",[\"X-more\",\"v\"]]}");
	assert_int_equal(head_for(json, &req11, &h, t, sizeof(t)), -EPROTO);
}

/* ---- request bodies ------------------------------------------------------ */

/*
 * What the visitor machine does with its input buffer: bytes arrive, are
 * taken as far as they go, and what is not used waits for more.
 */
struct req_ctx {
	struct expose_http_req_body b;
	uint8_t pending[512];
	size_t npending;
	char payload[512];
	size_t npayload;
	int failed;
};

struct req_vec {
	const char *name;
	enum http1_body body;
	uint64_t length;
	const char *raw;  /* the framed body, then the bytes that follow it */
	const char *want; /* the payload */
	const char *rest; /* what is never used: the next request */
	int fails;        /* invalid chunked framing */
};

/* clang-format off */
static const struct req_vec req_vecs[] = {
	{"length", HTTP1_BODY_LENGTH, 5, "hello", "hello", "", 0},
	{"length, next request behind", HTTP1_BODY_LENGTH, 5, "helloGET / HTTP/1.1\r\n", "hello",
	 "GET / HTTP/1.1\r\n", 0},
	{"chunked", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", "", 0},
	{"chunked, extensions and trailers, next request behind", HTTP1_BODY_CHUNKED, 0,
	 "5;a=b\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\nGET /", "hello", "GET /", 0},
	{"chunked, 300 bytes in one chunk", HTTP1_BODY_CHUNKED, 0, NULL, NULL, "", 0},
	{"chunked, bad size", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\nzz\r\n", "hello", NULL, 1},
	{"chunked, data not ending in CRLF", HTTP1_BODY_CHUNKED, 0, "2\r\nabX\r\n0\r\n\r\n", "ab", NULL, 1},
};
/* clang-format on */

static const struct req_vec *cur_req;
static char big_chunked[400], big_payload[301];

static void
req_reset(void *vctx)
{
	struct req_ctx *c = vctx;

	memset(c, 0, sizeof(*c));
	expose_http_req_body_init(&c->b, cur_req->body, cur_req->length);
}

static void
req_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct req_ctx *c = vctx;
	size_t off = 0;

	assert_true(c->npending + n <= sizeof(c->pending));
	memcpy(c->pending + c->npending, p, n);
	c->npending += n;
	while (!c->failed && off < c->npending && !expose_http_req_body_done(&c->b)) {
		const uint8_t *data = NULL;
		size_t dlen = 0;
		ssize_t used =
			expose_http_req_body_take(&c->b, c->pending + off, c->npending - off, &data, &dlen);

		if (used < 0) {
			c->failed = 1;
			break;
		}
		if (dlen > 0) {
			/* the payload is a range of what was given */
			assert_true(data >= c->pending + off && data + dlen <= c->pending + c->npending);
			memcpy(c->payload + c->npayload, data, dlen);
			c->npayload += dlen;
		}
		off += (size_t)used;
		if (used == 0)
			break;
	}
	memmove(c->pending, c->pending + off, c->npending - off);
	c->npending -= off;
}

static void
req_check(void *vctx)
{
	struct req_ctx *c = vctx;
	const char *want = cur_req->want ? cur_req->want : big_payload;

	if (cur_req->fails) {
		if (!c->failed)
			fail_msg("%s: accepted", cur_req->name);
		assert_int_not_equal(c->b.ck.err, HTTP1_CHUNKED_OK);
		assert_true(c->npayload <= strlen(want));
		assert_memory_equal(c->payload, want, c->npayload);
		return;
	}
	if (c->failed || !expose_http_req_body_done(&c->b))
		fail_msg("%s: failed %d, done %d", cur_req->name, c->failed,
			 expose_http_req_body_done(&c->b));
	assert_int_equal(c->npayload, strlen(want));
	assert_memory_equal(c->payload, want, c->npayload);
	assert_int_equal(c->npending, strlen(cur_req->rest));
	assert_memory_equal(c->pending, cur_req->rest, c->npending);
}

static void
test_req_body_all_ways(void **state)
{
	static struct req_ctx ctx;
	size_t i;
	int k;

	(void)state;
	memset(big_payload, 'p', 300);
	k = snprintf(big_chunked, sizeof(big_chunked), "12c\r\n%s\r\n0\r\n\r\n", big_payload);
	assert_true(k > 0 && (size_t)k < sizeof(big_chunked));
	for (i = 0; i < UTIL_ARRAY_SIZE(req_vecs); i++) {
		const char *raw = req_vecs[i].raw ? req_vecs[i].raw : big_chunked;

		cur_req = &req_vecs[i];
		feed_all_ways(raw, strlen(raw), &ctx, req_reset, req_chunk, req_check);
	}
}

static void
test_req_body_length_bounds(void **state)
{
	struct expose_http_req_body b;
	const uint8_t in[] = "abcdef";
	const uint8_t *data;
	size_t dlen;

	(void)state;
	/* an empty Content-Length body is done before any byte */
	expose_http_req_body_init(&b, HTTP1_BODY_LENGTH, 0);
	assert_true(expose_http_req_body_done(&b));
	/* a bounded take (the stream's credit) uses no more than it is given */
	expose_http_req_body_init(&b, HTTP1_BODY_LENGTH, 4);
	assert_int_equal(expose_http_req_body_take(&b, in, 3, &data, &dlen), 3);
	assert_ptr_equal(data, in);
	assert_int_equal(dlen, 3);
	assert_false(expose_http_req_body_done(&b));
	assert_int_equal(expose_http_req_body_take(&b, in + 3, 3, &data, &dlen), 1);
	assert_int_equal(dlen, 1);
	assert_true(expose_http_req_body_done(&b));
}

/* ---- response bodies ----------------------------------------------------- */

/* The bytes a visitor receives for one response body, and what was dropped. */
struct resp_ctx {
	struct expose_http_resp_body b;
	char wire[1024];
	size_t nwire;
	size_t dropped;
	int clean;
};

struct resp_vec {
	const char *name;
	const char *json;                 /* the STREAM_RESPONSE_HEAD */
	const struct expose_http_req *rq; /* the request it answers */
	enum expose_http_body framing;    /* what the head decides */
	const char *body;                 /* the client's DATA, in any pieces */
	const char *want;                 /* the body the visitor gets (chunked: once decoded) */
	int clean;                        /* the connection may carry another response */
};

static const struct expose_http_req rq11 = { 0, 1, 0, 1 };
static const struct expose_http_req rq10 = { 0, 0, 0, 0 };
static const struct expose_http_req rq_head = { 1, 1, 0, 1 };

/* clang-format off */
static const struct resp_vec resp_vecs[] = {
	{"Content-Length passed through", "{\"status\":200,\"headers\":[[\"Content-Length\",\"11\"]]}", &rq11,
	 EXPOSE_HTTP_BODY_LENGTH, "hello world", "hello world", 1},
	{"bytes past the Content-Length dropped", "{\"status\":200,\"headers\":[[\"Content-Length\",\"5\"]]}",
	 &rq11, EXPOSE_HTTP_BODY_LENGTH, "hello world", "hello", 1},
	{"body short of its Content-Length", "{\"status\":200,\"headers\":[[\"Content-Length\",\"20\"]]}",
	 &rq11, EXPOSE_HTTP_BODY_LENGTH, "hello world", "hello world", 0},
	{"chunked for HTTP/1.1", "{\"status\":200,\"headers\":[]}", &rq11, EXPOSE_HTTP_BODY_CHUNKED,
	 "hello world", "hello world", 1},
	{"chunked, empty body", "{\"status\":200}", &rq11, EXPOSE_HTTP_BODY_CHUNKED, "", "", 1},
	{"close-delimited for HTTP/1.0", "{\"status\":200}", &rq10, EXPOSE_HTTP_BODY_CLOSE, "hello world",
	 "hello world", 0},
	{"HEAD: no body", "{\"status\":200,\"headers\":[[\"Content-Length\",\"11\"]]}", &rq_head,
	 EXPOSE_HTTP_BODY_NONE, "hello world", "", 1},
	{"204: no body", "{\"status\":204}", &rq11, EXPOSE_HTTP_BODY_NONE, "stray", "", 1},
	{"304: no body", "{\"status\":304,\"headers\":[[\"Content-Length\",\"11\"]]}", &rq11,
	 EXPOSE_HTTP_BODY_NONE, "hello world", "", 1},
	{"Content-Length 0", "{\"status\":200,\"headers\":[[\"Content-Length\",\"0\"]]}", &rq10,
	 EXPOSE_HTTP_BODY_LENGTH, "x", "", 1},
};
/* clang-format on */

static const struct resp_vec *cur_resp;
static struct expose_http_head cur_head;

static void
resp_reset(void *vctx)
{
	struct resp_ctx *c = vctx;

	memset(c, 0, sizeof(*c));
	expose_http_resp_body_init(&c->b, cur_head.body, cur_head.length);
}

static void
wire_put(struct resp_ctx *c, const void *p, size_t n)
{
	assert_true(c->nwire + n <= sizeof(c->wire));
	memcpy(c->wire + c->nwire, p, n);
	c->nwire += n;
}

static void
resp_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct resp_ctx *c = vctx;
	struct expose_http_piece pc;

	expose_http_resp_body_data(&c->b, n, &pc);
	assert_int_equal(pc.take + pc.drop, n);
	if (pc.take == 0) /* nothing to write: no framing either */
		assert_int_equal(pc.pre_len + pc.post_len, 0);
	wire_put(c, pc.pre, pc.pre_len);
	wire_put(c, p, pc.take);
	wire_put(c, pc.post, pc.post_len);
	c->dropped += pc.drop;
}

/* Decode a chunked wire body: it must end exactly with its last chunk. */
static size_t
dechunk(const char *wire, size_t n, char *out)
{
	struct http1_chunked ck;
	size_t off = 0, nout = 0;

	http1_chunked_init(&ck);
	while (off < n && !http1_chunked_done(&ck)) {
		const uint8_t *d;
		size_t dl;
		ssize_t k = http1_chunked_decode(&ck, (const uint8_t *)wire + off, n - off, &d, &dl);

		assert_true(k > 0);
		if (dl > 0)
			memcpy(out + nout, d, dl);
		nout += dl;
		off += (size_t)k;
	}
	assert_true(http1_chunked_done(&ck));
	assert_int_equal(off, n);
	return nout;
}

static void
resp_check(void *vctx)
{
	struct resp_ctx *c = vctx;
	const char *tail;
	size_t tail_len, nbody = c->nwire, want = strlen(cur_resp->want);
	char body[1024];

	c->clean = expose_http_resp_body_end(&c->b, &tail, &tail_len);
	wire_put(c, tail, tail_len);
	if (c->clean != cur_resp->clean)
		fail_msg("%s: clean %d", cur_resp->name, c->clean);
	if (cur_head.body == EXPOSE_HTTP_BODY_CHUNKED) {
		nbody = dechunk(c->wire, c->nwire, body);
	} else {
		assert_int_equal(tail_len, 0);
		memcpy(body, c->wire, c->nwire);
	}
	if (nbody != want || memcmp(body, cur_resp->want, want) != 0)
		fail_msg("%s: body %.*s", cur_resp->name, (int)nbody, body);
	assert_int_equal(c->dropped, strlen(cur_resp->body) - want);
}

static void
test_resp_body_all_ways(void **state)
{
	static struct resp_ctx ctx;
	char text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(resp_vecs); i++) {
		cur_resp = &resp_vecs[i];
		assert_int_equal(head_for(cur_resp->json, cur_resp->rq, &cur_head, text, sizeof(text)), 0);
		if (cur_head.body != cur_resp->framing)
			fail_msg("%s: framing %d", cur_resp->name, (int)cur_head.body);
		feed_all_ways(cur_resp->body, strlen(cur_resp->body), &ctx, resp_reset, resp_chunk,
			      resp_check);
	}
}

static void
test_resp_body_pieces(void **state)
{
	struct expose_http_resp_body b;
	struct expose_http_piece pc;
	const char *tail;
	size_t tail_len;

	(void)state;
	/* one chunk per DATA, its size in lowercase hex */
	expose_http_resp_body_init(&b, EXPOSE_HTTP_BODY_CHUNKED, 0);
	expose_http_resp_body_data(&b, 300, &pc);
	assert_int_equal(pc.pre_len, 5);
	assert_memory_equal(pc.pre, "12c\r\n", 5);
	assert_int_equal(pc.take, 300);
	assert_int_equal(pc.post_len, 2);
	assert_memory_equal(pc.post, "\r\n", 2);
	/* an empty DATA never becomes the last chunk */
	expose_http_resp_body_data(&b, 0, &pc);
	assert_int_equal(pc.pre_len + pc.take + pc.post_len + pc.drop, 0);
	assert_int_equal(expose_http_resp_body_end(&b, &tail, &tail_len), 1);
	assert_int_equal(tail_len, 5);
	assert_memory_equal(tail, "0\r\n\r\n", 5);
	/* raw bytes (an upgrade before its pump, or close-delimited) end only with the connection */
	expose_http_resp_body_init(&b, EXPOSE_HTTP_BODY_CLOSE, 0);
	expose_http_resp_body_data(&b, 7, &pc);
	assert_int_equal(pc.pre_len + pc.post_len + pc.drop, 0);
	assert_int_equal(pc.take, 7);
	assert_int_equal(expose_http_resp_body_end(&b, &tail, &tail_len), 0);
	assert_int_equal(tail_len, 0);
	/* Content-Length: exactly that many bytes, in however many DATA */
	expose_http_resp_body_init(&b, EXPOSE_HTTP_BODY_LENGTH, 10);
	expose_http_resp_body_data(&b, 6, &pc);
	assert_int_equal(pc.take, 6);
	assert_int_equal(expose_http_resp_body_end(&b, &tail, &tail_len), 0);
	expose_http_resp_body_data(&b, 6, &pc);
	assert_int_equal(pc.take, 4);
	assert_int_equal(pc.drop, 2);
	assert_int_equal(expose_http_resp_body_end(&b, &tail, &tail_len), 1);
}

/* ---- the daemon's own answers -------------------------------------------- */

static void
test_error_response(void **state)
{
	struct buf out = { 0 };
	char *text, *body;
	size_t cl;

	(void)state;
	assert_int_equal(expose_http_error_response(&out, 502, "local connect failed", 20, 1, 0, NULL), 0);
	assert_int_equal(buf_reserve(&out, 1, 0, 0), 0);
	*out.last = '\0';
	text = (char *)out.pos;
	assert_non_null(strstr(text, "HTTP/1.1 502 Bad Gateway\r\n"));
	assert_non_null(strstr(text, "\r\nConnection: keep-alive\r\n"));
	assert_null(strstr(text, "Retry-After"));
	body = strstr(text, "\r\n\r\n") + 4;
	assert_string_equal(body, "502 Bad Gateway: local connect failed\n");
	assert_int_equal(sscanf(strstr(text, "Content-Length: "), "Content-Length: %zu", &cl), 1);
	assert_int_equal(cl, strlen(body));
	buf_fini(&out);

	/* 503 with Retry-After, close; control bytes of the detail neutralised */
	assert_int_equal(expose_http_error_response(&out, 503, "a\r\nb", 4, 0, 0, EXPOSE_HTTP_RETRY), 0);
	buf_reserve(&out, 1, 0, 0);
	*out.last = '\0';
	text = (char *)out.pos;
	assert_non_null(strstr(text, "\r\nRetry-After: 5\r\n"));
	assert_non_null(strstr(text, "\r\nConnection: close\r\n"));
	body = strstr(text, "\r\n\r\n") + 4;
	assert_string_equal(body, "503 Service Unavailable: a??b\n");
	buf_fini(&out);

	/* HEAD: same head, no body */
	assert_int_equal(expose_http_error_response(&out, 504, NULL, 0, 0, 1, NULL), 0);
	buf_reserve(&out, 1, 0, 0);
	*out.last = '\0';
	text = (char *)out.pos;
	assert_non_null(strstr(text, "Content-Length: 20\r\n")); /* "504 Gateway Timeout\n" */
	assert_string_equal(strstr(text, "\r\n\r\n"), "\r\n\r\n");
	buf_fini(&out);
}

static void
test_error_response_long_detail(void **state)
{
	struct buf out = { 0 };
	char detail[1000], *body;

	(void)state;
	memset(detail, 'x', sizeof(detail));
	assert_int_equal(expose_http_error_response(&out, 400, detail, sizeof(detail), 0, 0, NULL), 0);
	buf_reserve(&out, 1, 0, 0);
	*out.last = '\0';
	body = strstr((char *)out.pos, "\r\n\r\n") + 4;
	assert_int_equal(strlen(body), strlen("400 Bad Request: ") + 160 + 1);
	buf_fini(&out);
}

/* ---- routing by host ---------------------------------------------------- */

/* The host head names, or NULL when it has to be answered 400. */
static const char *
host_of(const char *head)
{
	static char host[256];
	struct http1_header hdrs[16];
	struct http1_request req;
	const char *h;
	size_t len;

	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.headers_cap = 16;
	assert_int_equal(http1_parse_request(head, strlen(head), 0, NULL, &req), (ssize_t)strlen(head));
	if (expose_http_host(&req, &h, &len) < 0)
		return NULL;
	assert_true(len < sizeof(host));
	memcpy(host, h, len);
	host[len] = '\0';
	return host;
}

static void
test_route_host(void **state)
{
	(void)state;
	assert_string_equal(host_of("GET / HTTP/1.1\r\nHost: demo.example.test:80\r\n\r\n"),
			    "demo.example.test:80");
	/* absolute form wins over Host */
	assert_string_equal(host_of("GET http://a.example.test/x?y HTTP/1.1\r\nHost: b.example.test\r\n\r\n"),
			    "a.example.test");
	assert_string_equal(host_of("GET HTTP://a.example.test:81 HTTP/1.1\r\nHost: b\r\n\r\n"),
			    "a.example.test:81");
	assert_string_equal(host_of("GET http://c.example.test?q HTTP/1.1\r\n\r\n"), "c.example.test");
	assert_null(host_of("GET / HTTP/1.1\r\n\r\n"));
	assert_null(host_of("GET / HTTP/1.0\r\n\r\n"));
	assert_null(host_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"));
}

static void
test_route_reserved(void **state)
{
	static const char *const yes[] = { "/api/v1/tunnel",
					   "/api/v1/tunnel/health",
					   "/api/v1/tunnel?x",
					   "/healthz",
					   "/healthz/live",
					   "/healthz?x",
					   "http://demo.example.test/healthz/ready",
					   "https://h/api/v1/tunnel/connect" };
	static const char *const no[] = { "/",
					  "/api/v1/tunnels",
					  "/healthzz",
					  "/x/healthz",
					  "/API/v1/tunnel",
					  "http://demo.example.test",
					  "http://h/x",
					  "*" };
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(yes); i++)
		if (!expose_http_reserved(yes[i], strlen(yes[i])))
			fail_msg("%s is not reserved", yes[i]);
	for (i = 0; i < UTIL_ARRAY_SIZE(no); i++)
		if (expose_http_reserved(no[i], strlen(no[i])))
			fail_msg("%s is reserved", no[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_fields),
		cmocka_unit_test(test_open_hop_by_hop),
		cmocka_unit_test(test_open_forwarded_replaced),
		cmocka_unit_test(test_open_upgrade),
		cmocka_unit_test(test_open_latin1_value),
		cmocka_unit_test(test_head_content_length),
		cmocka_unit_test(test_head_chunked_and_close),
		cmocka_unit_test(test_head_no_body),
		cmocka_unit_test(test_head_hop_by_hop),
		cmocka_unit_test(test_head_invalid),
		cmocka_unit_test(test_head_informational),
		cmocka_unit_test(test_head_switching),
		cmocka_unit_test(test_head_unescape),
		cmocka_unit_test(test_head_many_headers),
		cmocka_unit_test(test_req_body_all_ways),
		cmocka_unit_test(test_req_body_length_bounds),
		cmocka_unit_test(test_resp_body_all_ways),
		cmocka_unit_test(test_resp_body_pieces),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_error_response_long_detail),
		cmocka_unit_test(test_route_host),
		cmocka_unit_test(test_open_absolute_form),
		cmocka_unit_test(test_route_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
