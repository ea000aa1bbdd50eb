/*
 * test_local.c: htc's EXPOSE codec (src/htc/local_codec.c): the request
 * head built from STREAM_OPEN (order, Host, hop-by-hop fields,
 * Content-Length, framing fields, every refusal of unsafe input), the
 * request body framed for the local service and the response body with its
 * framing taken off (each fed whole, byte by byte and split at every
 * offset, test/unit/feed.h), and the STREAM_RESPONSE_HEAD JSON built from
 * a parsed local response head.
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
#include "feed.h"
#include "htc/local_codec.h"
#include "http1.h"
#include "json.h"
#include "util.h"

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

#define OPEN(fields)                                                                                         \
	"{\"kind\":\"http\",\"bindId\":7,\"containerPort\":3000," fields ",\"httpVersion\":\"1.1\"}"

static void
test_get_in_order(void **state)
{
	struct local_request rq;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/api/"
			"items?x=1\",\"headers\":[[\"Host\",\"visitor.example\"],"
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
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"Accept\",\"a\"]]"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET / HTTP/1.1\r\nAccept: a\r\nHost: local:3000\r\n\r\n");
	/* no headers member at all, and a lower-case host counts as a Host */
	build_text(OPEN("\"method\":\"GET\",\"target\":\"*\""), LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET * HTTP/1.1\r\nHost: local:3000\r\n\r\n");
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"host\",\"h\"]]"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t, "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
}

static void
test_hop_by_hop_dropped(void **state)
{
	struct local_request rq;
	char t[1024];

	(void)state;
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/"
			"\",\"headers\":[[\"Host\",\"h\"],[\"Connection\",\"close\"],"
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
	build_text(OPEN("\"method\":\"GET\",\"target\":\"/"
			"ws\",\"headers\":[[\"Host\",\"h\"],[\"Connection\",\"Upgrade\"],"
			"[\"Upgrade\",\"websocket\"],[\"Sec-WebSocket-Key\",\"k==\"],[\"Transfer-Encoding\","
			"\"x\"],"
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
	build_text(OPEN("\"method\":\"POST\",\"target\":\"/"
			"\",\"headers\":[[\"Host\",\"h\"],[\"Content-Length\",\"42\"],"
			"[\"content-length\",\"42\"]]"),
		   LOCAL_FRAMING_LENGTH, t, sizeof(t), &rq);
	/* an agreeing duplicate is written once; no framing field is added */
	assert_string_equal(t, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n");
	assert_true(rq.has_length);
	assert_int_equal(rq.content_length, 42);
	assert_int_equal(rq.framing, LOCAL_FRAMING_LENGTH);
	assert_true(rq.body_method);
	build_text(OPEN("\"method\":\"PUT\",\"target\":\"/"
			"\",\"headers\":[[\"Host\",\"h\"],[\"Content-Length\",\"0\"]]"),
		   LOCAL_FRAMING_LENGTH, t, sizeof(t), &rq);
	assert_string_equal(t, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rq.content_length, 0);

	assert_int_equal(
		build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"1\"],"
			   "[\"Content-Length\",\"2\"]]"),
		      &out, &rq),
		LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(
		build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"1x\"]]"),
		      &out, &rq),
		LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(
		build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"\"]]"),
		      &out, &rq),
		LOCAL_CODEC_INVALID);
	buf_fini(&out);
	assert_int_equal(
		build(OPEN("\"method\":\"POST\",\"target\":\"/\",\"headers\":[[\"Content-Length\",\"-1\"]]"),
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
		snprintf(json, sizeof(json),
			 OPEN("\"method\":\"%s\",\"target\":\"/\",\"headers\":[[\"Host\",\"h\"]]"),
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
	build_text(OPEN("\"method\":\"GET\",\"target\":\"\\/"
			"a\",\"headers\":[[\"Host\",\"h\"],[\"X-T\",\"a\\tb\"],"
			"[\"X-U\",\"caf\\u00e9\"],[\"X-E\",\"\"]]"),
		   LOCAL_FRAMING_NONE, t, sizeof(t), &rq);
	assert_string_equal(t,
			    "GET /a HTTP/1.1\r\nHost: h\r\nX-T: a\tb\r\nX-U: caf\xc3\xa9\r\nX-E: \r\n\r\n");
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
	static const char json[] =
		OPEN("\"method\":\"GET\",\"target\":\"/\",\"headers\":[[\"X-Long\","
		     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]]");
	struct local_request rq;
	struct buf out;

	(void)state;
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(json, strlen(json), toks, 256, "h", &out, 64, &rq),
			 -ENOSPC);
	buf_fini(&out);
	/* too few tokens: the JSON cannot be read, so the request is refused */
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(json, strlen(json), toks, 4, "h", &out, 4096, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
	/* a host with a CR is never written either */
	memset(&out, 0, sizeof(out));
	assert_int_equal(local_codec_request_head(OPEN("\"method\":\"GET\",\"target\":\"/\""),
						  strlen(OPEN("\"method\":\"GET\",\"target\":\"/\"")), toks,
						  256, "h\r\nX: 1", &out, 4096, &rq),
			 LOCAL_CODEC_INVALID);
	buf_fini(&out);
}

/* ---- request bodies: tunnel -> local service ------------------------------ */

/* What the local service receives for one request body, DATA by DATA, then the EOF. */
struct qb_ctx {
	struct local_req_body b;
	char wire[1024];
	size_t nwire;
	int decided_at; /* 1 + the DATA that decided the framing, 0: none */
	int ndata;
	enum local_body_result last; /* of the last DATA */
	int complete_early;          /* COMPLETE before the last DATA */
	int longed;                  /* a DATA came back LONG */
};

struct qb_vec {
	const char *name;
	enum local_framing framing; /* as local_codec_request_head left it */
	uint64_t length;
	const char *body;
	enum local_framing final;   /* after the first DATA */
	enum local_body_result end; /* at the EOF */
	const char *want;           /* what the local service gets (chunked: once decoded) */
	int longs;                  /* the body goes past its Content-Length */
};

/* clang-format off */
static const struct qb_vec qb_vecs[] = {
	{"no Content-Length: chunked", LOCAL_FRAMING_UNDECIDED, 0, "hello world", LOCAL_FRAMING_CHUNKED,
	 LOCAL_BODY_COMPLETE, "hello world", 0},
	{"no Content-Length, an empty DATA: never a chunk of size 0", LOCAL_FRAMING_UNDECIDED, 0, "",
	 LOCAL_FRAMING_CHUNKED, LOCAL_BODY_COMPLETE, "", 0},
	{"Content-Length kept", LOCAL_FRAMING_LENGTH, 11, "hello world", LOCAL_FRAMING_LENGTH, LOCAL_BODY_COMPLETE,
	 "hello world", 0},
	{"Content-Length, cut short", LOCAL_FRAMING_LENGTH, 20, "hello world", LOCAL_FRAMING_LENGTH,
	 LOCAL_BODY_SHORT, "hello world", 0},
	{"past the Content-Length", LOCAL_FRAMING_LENGTH, 5, "hello world", LOCAL_FRAMING_LENGTH,
	 LOCAL_BODY_SHORT, "hello", 1},
	{"an upgrade: raw", LOCAL_FRAMING_RAW, 0, "\x81\x05hello", LOCAL_FRAMING_RAW, LOCAL_BODY_MORE,
	 "\x81\x05hello", 0},
};
/* clang-format on */

static const struct qb_vec *cur_qb;

static void
qb_reset(void *vctx)
{
	struct qb_ctx *c = vctx;
	struct local_request rq;

	memset(c, 0, sizeof(*c));
	memset(&rq, 0, sizeof(rq));
	rq.framing = cur_qb->framing;
	rq.content_length = cur_qb->length;
	rq.has_length = cur_qb->framing == LOCAL_FRAMING_LENGTH;
	local_codec_req_body_init(&c->b, &rq);
}

static void
qb_put(struct qb_ctx *c, const void *p, size_t n)
{
	assert_true(c->nwire + n <= sizeof(c->wire));
	memcpy(c->wire + c->nwire, p, n);
	c->nwire += n;
}

static void
qb_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct qb_ctx *c = vctx;
	struct local_piece pc;
	int decided;

	if (c->longed)
		return; /* the request was refused */
	if (c->last == LOCAL_BODY_COMPLETE)
		c->complete_early = 1;
	c->last = local_codec_req_body_data(&c->b, n, &pc, &decided);
	c->ndata++;
	if (decided) {
		assert_int_equal(c->decided_at, 0);
		c->decided_at = c->ndata;
	}
	if (c->last == LOCAL_BODY_LONG) {
		c->longed = 1;
		return; /* nothing of it is written */
	}
	if (n == 0)
		assert_int_equal(pc.pre_len + pc.post_len, 0);
	qb_put(c, pc.pre, pc.pre_len);
	qb_put(c, p, n);
	qb_put(c, pc.post, pc.post_len);
}

/* Decode a chunked body: it must end exactly with its last chunk. */
static size_t
dechunk_all(const char *wire, size_t n, char *out)
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
qb_check(void *vctx)
{
	struct qb_ctx *c = vctx;
	const char *tail;
	size_t tail_len, nbody = 0, want = strlen(cur_qb->want);
	enum local_body_result end;
	/* an empty body fed whole is one empty DATA; byte by byte it is none */
	int no_data = cur_qb->framing == LOCAL_FRAMING_UNDECIDED && c->ndata == 0;
	enum local_framing final = no_data ? LOCAL_FRAMING_NONE : cur_qb->final;
	char body[1024];
	int decided;

	if (c->longed != cur_qb->longs)
		fail_msg("%s: long %d", cur_qb->name, c->longed);
	if (!c->longed) {
		end = local_codec_req_body_end(&c->b, &tail, &tail_len, &decided);
		assert_int_equal(decided, no_data);
		if (end != cur_qb->end)
			fail_msg("%s: end %d", cur_qb->name, (int)end);
		qb_put(c, tail, tail_len);
		/* a Content-Length body is complete with its last DATA, not before */
		if (cur_qb->final == LOCAL_FRAMING_LENGTH)
			assert_int_equal(c->last, cur_qb->end == LOCAL_BODY_COMPLETE ? LOCAL_BODY_COMPLETE
										     : LOCAL_BODY_MORE);
		assert_false(c->complete_early);
	}
	assert_int_equal(c->b.framing, final);
	assert_int_equal(c->decided_at, cur_qb->framing == LOCAL_FRAMING_UNDECIDED && !no_data ? 1 : 0);
	if (final == LOCAL_FRAMING_CHUNKED) {
		nbody = dechunk_all(c->wire, c->nwire, body);
	} else {
		memcpy(body, c->wire, c->nwire);
		nbody = c->nwire;
	}
	if (c->longed)
		assert_true(nbody <= want && memcmp(body, cur_qb->want, nbody) == 0);
	else if (nbody != want || memcmp(body, cur_qb->want, want) != 0)
		fail_msg("%s: body %.*s", cur_qb->name, (int)nbody, body);
}

static void
test_req_body_all_ways(void **state)
{
	static struct qb_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(qb_vecs); i++) {
		cur_qb = &qb_vecs[i];
		feed_all_ways(cur_qb->body, strlen(cur_qb->body), &ctx, qb_reset, qb_chunk, qb_check);
	}
}

static void
test_req_body_decided_at_eof(void **state)
{
	struct local_request rq;
	struct local_req_body b;
	struct local_piece pc;
	const char *tail;
	size_t tail_len;
	int decided;

	(void)state;
	/* EOF before any DATA: no body at all */
	memset(&rq, 0, sizeof(rq));
	rq.framing = LOCAL_FRAMING_UNDECIDED;
	local_codec_req_body_init(&b, &rq);
	assert_false(local_codec_req_body_empty(&b));
	assert_int_equal(local_codec_req_body_end(&b, &tail, &tail_len, &decided), LOCAL_BODY_COMPLETE);
	assert_true(decided);
	assert_int_equal(tail_len, 0);
	assert_int_equal(b.framing, LOCAL_FRAMING_NONE);
	assert_true(local_codec_req_body_empty(&b));
	/* Content-Length: 0 is complete with the head; any DATA is too long */
	rq.framing = LOCAL_FRAMING_LENGTH;
	rq.has_length = 1;
	local_codec_req_body_init(&b, &rq);
	assert_true(local_codec_req_body_empty(&b));
	assert_int_equal(local_codec_req_body_data(&b, 1, &pc, &decided), LOCAL_BODY_LONG);
	/* a chunked body: one chunk per DATA, the last chunk at the EOF */
	rq.framing = LOCAL_FRAMING_UNDECIDED;
	rq.has_length = 0;
	local_codec_req_body_init(&b, &rq);
	assert_int_equal(local_codec_req_body_data(&b, 300, &pc, &decided), LOCAL_BODY_MORE);
	assert_true(decided);
	assert_int_equal(pc.pre_len, 5);
	assert_memory_equal(pc.pre, "12c\r\n", 5);
	assert_int_equal(pc.post_len, 2);
	assert_int_equal(local_codec_req_body_data(&b, 0, &pc, &decided), LOCAL_BODY_MORE);
	assert_int_equal(pc.pre_len + pc.post_len, 0);
	assert_int_equal(local_codec_req_body_end(&b, &tail, &tail_len, &decided), LOCAL_BODY_COMPLETE);
	assert_false(decided);
	assert_int_equal(tail_len, 5);
	assert_memory_equal(tail, "0\r\n\r\n", 5);
}

/* ---- response bodies: local service -> tunnel ------------------------------ */

/* The payload htc sends as DATA for one response body read from the local service. */
struct rb_ctx {
	struct local_resp_body b;
	char payload[1024];
	size_t npayload;
	int failed;
	int done_early; /* done before the last byte (when nothing trails) */
};

struct rb_vec {
	const char *name;
	enum http1_body body;
	uint64_t length;
	const char *raw;  /* what the local service sends after the head */
	const char *want; /* the payload */
	int done;         /* complete at the end of raw */
	int trailing;     /* bytes after the end of the body */
	int fails;
	int eof_ends; /* a close ends it (close-delimited) */
};

/* clang-format off */
static const struct rb_vec rb_vecs[] = {
	{"Content-Length", HTTP1_BODY_LENGTH, 11, "hello world", "hello world", 1, 0, 0, 0},
	{"Content-Length, not all there", HTTP1_BODY_LENGTH, 20, "hello world", "hello world", 0, 0, 0, 0},
	{"chunked", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n", "hello world", 1, 0,
	 0, 0},
	{"chunked, bytes behind it", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\n0\r\n\r\nHTTP/1.1", "hello", 1, 1, 0, 0},
	{"chunked, not ended", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\n6\r\n wo", "hello wo", 0, 0, 0, 0},
	{"chunked, bad size", HTTP1_BODY_CHUNKED, 0, "5\r\nhello\r\nq\r\n", "hello", 0, 0, 1, 0},
	{"close-delimited", HTTP1_BODY_CLOSE, 0, "any\r\nbytes 0\r\n\r\n", "any\r\nbytes 0\r\n\r\n", 0, 0, 0, 1},
};
/* clang-format on */

static const struct rb_vec *cur_rb;

static void
rb_reset(void *vctx)
{
	struct rb_ctx *c = vctx;

	memset(c, 0, sizeof(*c));
	local_codec_resp_body_init(&c->b, cur_rb->body, cur_rb->length);
}

static void
rb_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct rb_ctx *c = vctx;
	uint8_t ring[1024]; /* htc reads into its ring and decodes there */
	size_t out = 0;

	if (c->failed)
		return;
	if (local_codec_resp_body_done(&c->b) && !cur_rb->trailing)
		c->done_early = 1;
	assert_true(n <= sizeof(ring));
	memcpy(ring, p, n);
	if (local_codec_resp_body_take(&c->b, ring, n, &out) < 0) {
		c->failed = 1;
		return;
	}
	assert_true(out <= n);
	memcpy(c->payload + c->npayload, ring, out);
	c->npayload += out;
}

static void
rb_check(void *vctx)
{
	struct rb_ctx *c = vctx;
	size_t want = strlen(cur_rb->want);

	if (c->failed != cur_rb->fails)
		fail_msg("%s: failed %d", cur_rb->name, c->failed);
	if (c->failed) {
		assert_true(c->npayload <= want && memcmp(c->payload, cur_rb->want, c->npayload) == 0);
		return;
	}
	if (c->npayload != want || memcmp(c->payload, cur_rb->want, want) != 0)
		fail_msg("%s: payload %.*s", cur_rb->name, (int)c->npayload, c->payload);
	assert_int_equal(local_codec_resp_body_done(&c->b), cur_rb->done);
	assert_int_equal(c->b.trailing, cur_rb->trailing);
	assert_false(c->done_early);
	assert_int_equal(local_codec_resp_body_eof(&c->b), cur_rb->eof_ends);
}

static void
test_resp_body_all_ways(void **state)
{
	static struct rb_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(rb_vecs); i++) {
		cur_rb = &rb_vecs[i];
		feed_all_ways(cur_rb->raw, strlen(cur_rb->raw), &ctx, rb_reset, rb_chunk, rb_check);
	}
}

static void
test_resp_body_bounds(void **state)
{
	struct local_resp_body b;

	(void)state;
	/* no body, or Content-Length 0: complete before any byte */
	local_codec_resp_body_init(&b, HTTP1_BODY_NONE, 0);
	assert_true(local_codec_resp_body_done(&b));
	local_codec_resp_body_init(&b, HTTP1_BODY_LENGTH, 0);
	assert_true(local_codec_resp_body_done(&b));
	/* never read past a Content-Length */
	local_codec_resp_body_init(&b, HTTP1_BODY_LENGTH, 3);
	assert_int_equal(local_codec_resp_body_want(&b, 4096), 3);
	assert_int_equal(local_codec_resp_body_want(&b, 2), 2);
	local_codec_resp_body_init(&b, HTTP1_BODY_CHUNKED, 0);
	assert_int_equal(local_codec_resp_body_want(&b, 4096), 4096);
	assert_false(local_codec_resp_body_eof(&b));
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
	check_response(
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nX-Mid: m\r\n"
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
	check_response(
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
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
	check_response(
		head, 0,
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
		cmocka_unit_test(test_req_body_all_ways),
		cmocka_unit_test(test_req_body_decided_at_eof),
		cmocka_unit_test(test_resp_body_all_ways),
		cmocka_unit_test(test_resp_body_bounds),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_response_head_1xx_and_101),
		cmocka_unit_test(test_response_head_escaping_and_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
