/*
 * test_local.c: htc's EXPOSE codec (src/htc/local_codec.c): the request
 * head built from STREAM_OPEN (order, Host, hop-by-hop fields,
 * Content-Length, framing fields, every refusal of unsafe input) and the
 * STREAM_RESPONSE_HEAD JSON built from a parsed local response head.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "htc/local_codec.h"
#include "http1.h"
#include "json.h"

static struct json_tok toks[256];

/* Build the head of STREAM_OPEN json with host "local:3000"; returns the codec's result. */
static int
build(const char *json, struct buf *out, struct local_request *rq)
{
	memset(out, 0, sizeof(*out));
	return local_codec_request_head(json, strlen(json), toks, 256, "local:3000", out, 65536, rq);
}

/* The head (plus framing f) as a C string in text (cap bytes). */
static void
build_text(const char *json, enum local_framing f, char *text, size_t cap, struct local_request *rq)
{
	struct buf out;

	assert_int_equal(build(json, &out, rq), 0);
	assert_int_equal(local_codec_request_end(&out, 65536, rq, f), 0);
	assert_true(buf_len(&out) < cap);
	memcpy(text, out.pos, buf_len(&out));
	text[buf_len(&out)] = '\0';
	buf_fini(&out);
}

#define OPEN(fields) "{\"kind\":\"http\",\"bindId\":7,\"containerPort\":3000," fields ",\"httpVersion\":\"1.1\"}"

static void
test_get_in_order(void **state)
{
	struct local_request rq;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/api/items?x=1\",\"headers\":[[\"Host\",\"visitor.example\"],"
			"[\"Accept\",\"*/*\"],[\"X-Dup\",\"1\"],[\"X-Dup\",\"2\"]],\"isUpgrade\":false"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET /api/items?x=1 HTTP/1.1\r\nHost: visitor.example\r\nAccept: */*\r\n"
			       "X-Dup: 1\r\nX-Dup: 2\r\n\r\n");
	assert_int_equal(rq.method_len, 3);
	assert_int_equal(rq.target_off, 4);
	assert_int_equal(rq.target_len, 14);
	assert_false(rq.upgrade);
	assert_false(rq.is_head);
	assert_false(rq.body_method);
	assert_false(rq.has_length);
	assert_int_equal(rq.framing, LOCAL_FRAMING_UNDECIDED);
}

static void
test_host_added_when_missing(void **state)
{
	struct local_request rq;
	char t[512];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"Accept\",\"a\"]]"), LOCAL_FRAMING_NONE, t,
		   sizeof(t), &rq);
	assert_string_equal(t, "GET / HTTP/1.1\r\nAccept: a\r\nHost: local:3000\r\n\r\n");
	/* no headers member at all, and a lower-case host counts as a Host */
	build_text(OPEN("\"method\":\"GET\",\"target\":\"*\""), LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET * HTTP/1.1\r\nHost: local:3000\r\n\r\n");
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"host\",\"h\"]]"), LOCAL_FRAMING_NONE, t,
		   sizeof(t), &rq);
	assert_string_equal(t, "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
}

static void
test_hop_by_hop_dropped(void **state)
{
	struct local_request rq;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"Host\",\"h\"],[\"Connection\",\"close\"],"
			"[\"Keep-Alive\",\"5\"],[\"Transfer-Encoding\",\"chunked\"],[\"TE\",\"trailers\"],"
			"[\"Upgrade\",\"x\"],[\"Proxy-Connection\",\"k\"],[\"X-Ok\",\"1\"]]"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET / HTTP/1.1\r\nHost: h\r\nX-Ok: 1\r\n\r\n");
}

static void
test_upgrade_keeps_connection_upgrade(void **state)
{
	struct local_request rq;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/ws\",\"headers\":[[\"Host\",\"h\"],[\"Connection\",\"Upgrade\"],"
			"[\"Upgrade\",\"websocket\"],[\"Sec-WebSocket-Key\",\"k==\"],[\"Transfer-Encoding\",\"x\"],"
			"[\"Keep-Alive\",\"1\"]],\"isUpgrade\":true"),
		   LOCAL_FRAMING_RAW, t, sizeof(t), &rq);
	assert_string_equal(t, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			       "Sec-WebSocket-Key: k==\r\n\r\n");
	assert_true(rq.upgrade);
	assert_int_equal(rq.framing, LOCAL_FRAMING_RAW);
}

static void
test_content_length(void **state)
{
	struct local_request rq;
	struct buf out;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Host\",\"h\"],[\"Content-Length\",\"42\"],"
			"[\"content-length\",\"42\"]]"),
		   LOCAL_FRAMING_LENGTH, t, sizeof(t), &rq);
	/* an agreeing duplicate is written once; no framing field is added */
	assert_string_equal(t, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n");
	assert_true(rq.has_length);
	assert_int_equal(rq.content_length, 42);
	assert_int_equal(rq.framing, LOCAL_FRAMING_LENGTH);
	assert_true(rq.body_method);
	build_text(OPEN("\"method\":\"PUT\",\"target\":\"/\",\"headers\":[[\"Host\",\"h\"],[\"Content-Length\",\"0\"]]"),
		   LOCAL_FRAMING_LENGTH, t, sizeof(t), &rq);
	assert_string_equal(t, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rq.content_length, 0);

	assert_int_equal(build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"1\"],"
				    "[\"Content-Length\",\"2\"]]"),
			       &out, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"1x\"]]"),
			       &out, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"\"]]"),
			       &out, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"-1\"]]"),
			       &out, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\","
				    "\"99999999999999999999\"]]"),
			       &out, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
}

static void
test_framing_fields(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "PATCH", "GET", "DELETE", "post" };
	static const int cl0[] = { 1, 1, 1, 0, 0, 0 };
	struct local_request rq;
	char json[256], t[512], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		snprintf(json, sizeof(json), OPEN("\"method\":\"%s\",\"target\":\"/\",\"headers\":[[\"Host\",\"h\"]]"),
			 methods[i]);
		build_text(json, LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
		snprintf(want, sizeof(want), "%s / HTTP/1.1\r\nHost: h\r\n%s\r\n", methods[i],
			 cl0[i] ? "Content-Length: 0\r\n" : "");
		assert_string_equal(t, want);
		build_text(json, LOCAL_FRAMING_CHUNKED, t, sizeof(t), &rq);
		snprintf(want, sizeof(want), "%s / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			 methods[i]);
		assert_string_equal(t, want);
	}
	build_text(OPEN("\"method\":\"HEAD\",\"target\":\"/\""), LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_true(rq.is_head);
}

static void
test_escapes_unescaped(void **state)
{
	struct local_request rq;
	char t[512];

	(void)state;
	/* \t and non-ASCII are valid field values; \/ is just a slash */
	build_text(OPEN("\"method\":\"GET\",\"target\":\"\\/a\",\"headers\":[[\"Host\",\"h\"],[\"X-T\",\"a\\tb\"],"
			"[\"X-U\",\"caf\\u00e9\"],[\"X-E\",\"\"]]"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET /a HTTP/1.1\r\nHost: h\r\nX-T: a\tb\r\nX-U: caf\xc3\xa9\r\nX-E: \r\n\r\n");
}

static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		/* header values */
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\r\\nX-Evil: 1\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\nb\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\rb\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\u0000b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\u0001b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\\u007fb\"]]"),
		/* header names */
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X A\",\"b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X:\",\"b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"\",\"b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\\r\\nY\",\"b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\\u0000\",\"b\"]]"),
		/* methods and targets */
		OPEN("\"method\":\"GE T\",\"target\":\"/\""),
		OPEN("\"method\":\"GET\\r\\n\",\"target\":\"/\""),
		OPEN("\"method\":\"\",\"target\":\"/\""),
		OPEN("\"method\":\"GET\",\"target\":\"/a b\""),
		OPEN("\"method\":\"GET\",\"target\":\"/a\\r\\nX: 1\""),
		OPEN("\"method\":\"GET\",\"target\":\"/\\u0000\""),
		OPEN("\"method\":\"GET\",\"target\":\"/caf\\u00e9\""),
		OPEN("\"method\":\"GET\",\"target\":\"\""),
		/* shapes */
		OPEN("\"target\":\"/\""),
		OPEN("\"method\":\"GET\""),
		OPEN("\"method\":7,\"target\":\"/\""),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":{}"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",\"a\",\"b\"]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X\",1]]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[\"X: a\"]"),
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"isUpgrade\":\"yes\""),
		"{\"method\":\"GET\",\"target\":\"/\"",
		"[\"GET\",\"/\"]",
		"",
	};
	struct local_request rq;
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = build(bad[i], &out, &rq);

		if (rc != LOCAL_CODEC_INVALID)
			fail_msg("accepted #%zu: %s", i, bad[i]);
		buf_fini(&out);
	}
}

static void
test_limits(void **state)
{
	static const char json[] = OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X-Long\","
					"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]]");
	struct local_request rq;
	struct buf out;

	(void)state;
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(json, strlen(json), toks, 256, "h", &out, 64, &rq), -ENOSPC);
	buf_fini(&out);
	/* too few tokens: the JSON cannot be read, so the request is refused */
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(json, strlen(json), toks, 4, "h", &out, 4096, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	/* a host with a CR is never written either */
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(OPEN("\"method\":\"GET\",\"target\":\"/\""),
						  strlen(OPEN("\"method\":\"GET\",\"target\":\"/\"")), toks, 256,
						  "h\r\nX: 1", &out, 4096, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
}

/* ---- response heads --------------------------------------------------------- */

/* Parse the response head text, build the JSON and compare it. */
static void
check_response(const char *head, int req_head, const char *want)
{
	struct http1_header hdrs[32];
	struct http1_response res;
	struct buf out;
	ssize_t n;

	memset(&res, 0, sizeof(res));
	res.headers = hdrs;
	res.headers_cap = 32;
	res.req_head = req_head;
	n = http1_parse_response(head, strlen(head), 0, NULL, &res);
	assert_int_equal(n, (ssize_t)strlen(head));
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_response_head(&res, &out, 65536), 0);
	assert_int_equal(buf_len(&out), strlen(want));
	assert_memory_equal(out.pos, want, strlen(want));
	buf_fini(&out);
}

static void
test_response_head(void **state)
{
	(void)state;
	check_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nX-Mid: m\r\n"
		       "Set-Cookie: b=2\r\nContent-Length: 5\r\nConnection: keep-alive, X-Private\r\n"
		       "Keep-Alive: timeout=5\r\nX-Private: p\r\nProxy-Authenticate: x\r\n\r\n",
		       0,
		       "{\"status\":200,\"headers\":[[\"Content-Type\",\"text/plain\"],[\"Set-Cookie\",\"a=1\"],"
		       "[\"X-Mid\",\"m\"],[\"Set-Cookie\",\"b=2\"],[\"Content-Length\",\"5\"]],\"final\":true}");
	check_response("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n", 0,
		       "{\"status\":404,\"headers\":[],\"final\":true}");
	check_response("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1,
		       "{\"status\":200,\"headers\":[[\"Content-Length\",\"5000\"]],\"final\":true}");
}

static void
test_response_head_1xx_and_101(void **state)
{
	(void)state;
	check_response("HTTP/1.1 100 Continue\r\n\r\n", 0, "{\"status\":100,\"headers\":[],\"final\":false}");
	check_response("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 0,
		       "{\"status\":103,\"headers\":[[\"Link\",\"</a.css>; rel=preload\"]],\"final\":false}");
	check_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Accept: s=\r\nKeep-Alive: 1\r\n\r\n",
		       0,
		       "{\"status\":101,\"headers\":[[\"Upgrade\",\"websocket\"],[\"Connection\",\"Upgrade\"],"
		       "[\"Sec-WebSocket-Accept\",\"s=\"]],\"final\":true}");
}

static void
test_response_head_escaping_and_limit(void **state)
{
	struct http1_header hdrs[4];
	struct http1_response res;
	struct buf out;
	static const char head[] = "HTTP/1.1 200 OK\r\nX-Q: say \"hi\" \\ \xe9t\xc3\xa9\r\n\r\n";

	(void)state;
	check_response(head, 0,
		       "{\"status\":200,\"headers\":[[\"X-Q\",\"say \\\"hi\\\" \\\\ \xef\xbf\xbdt\xc3\xa9\"]],"
		       "\"final\":true}");
	memset(&res, 0, sizeof(res));
	res.headers = hdrs;
	res.headers_cap = 4;
	assert_true(http1_parse_response(head, strlen(head), 0, NULL, &res) > 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_response_head(&res, &out, 16), -ENOSPC);
	buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_in_order),
		cmocka_unit_test(test_host_added_when_missing),
		cmocka_unit_test(test_hop_by_hop_dropped),
		cmocka_unit_test(test_upgrade_keeps_connection_upgrade),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_framing_fields),
		cmocka_unit_test(test_escapes_unescaped),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_response_head_1xx_and_101),
		cmocka_unit_test(test_response_head_escaping_and_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
