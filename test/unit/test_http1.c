/*
 * test_http1.c: request/response heads, framing rules, the chunked codec
 * and the header helpers of http1.c.
 *
 * Every head vector is fed whole, byte by byte and split at every offset
 * (feed.h). The chunk callback appends to an accumulation buffer and calls
 * the parser with last_len, on a guard-page copy of what has arrived, the
 * way a connection would; the result is then checked field by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "feed.h"
#include "http1.h"

#define MAX_HDRS 32
#define ACC_MAX 8192

/* ---- head feeding ----------------------------------------------------- */

struct head_ctx {
	int response; /* parse responses instead of requests */
	const struct http1_limits *lim;
	size_t headers_cap; /* 0: MAX_HDRS */
	int req_head;
	int req_connect;
	char acc[ACC_MAX]; /* bytes received so far */
	size_t len;
	ssize_t result;    /* first result other than HT_AGAIN, or HT_AGAIN */
	size_t final_last; /* last_len of the call that gave result */
	size_t final_len;  /* len of that call */
	struct http1_header hdrs[MAX_HDRS];
	struct http1_request req;
	struct http1_response res;
};

static void
head_reset(void *vctx)
{
	struct head_ctx *ctx = vctx;

	ctx->len = 0;
	ctx->result = HT_AGAIN;
	ctx->final_last = ctx->final_len = 0;
	memset(ctx->hdrs, 0, sizeof(ctx->hdrs));
}

static const char *
rebase(const char *p, const char *from, const char *to)
{
	return p != NULL ? to + (p - from) : NULL;
}

/* Point every result pointer at ctx->acc instead of the guard copy. */
static void
head_rebase(struct head_ctx *ctx, const char *from)
{
	size_t i, n = ctx->response ? ctx->res.num_headers : ctx->req.num_headers;

	for (i = 0; i < n; i++) {
		ctx->hdrs[i].name = rebase(ctx->hdrs[i].name, from, ctx->acc);
		ctx->hdrs[i].value = rebase(ctx->hdrs[i].value, from, ctx->acc);
	}
	ctx->req.method = rebase(ctx->req.method, from, ctx->acc);
	ctx->req.target = rebase(ctx->req.target, from, ctx->acc);
	ctx->req.host = rebase(ctx->req.host, from, ctx->acc);
	ctx->res.reason = rebase(ctx->res.reason, from, ctx->acc);
}

static ssize_t
head_parse(struct head_ctx *ctx, const char *buf, size_t len, size_t last_len)
{
	size_t cap = ctx->headers_cap ? ctx->headers_cap : MAX_HDRS;

	if (ctx->response) {
		ctx->res.headers = ctx->hdrs;
		ctx->res.headers_cap = cap;
		ctx->res.req_head = ctx->req_head;
		ctx->res.req_connect = ctx->req_connect;
		return http1_parse_response(buf, len, last_len, ctx->lim, &ctx->res);
	}
	ctx->req.headers = ctx->hdrs;
	ctx->req.headers_cap = cap;
	return http1_parse_request(buf, len, last_len, ctx->lim, &ctx->req);
}

static void
head_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct head_ctx *ctx = vctx;
	struct feed_guard g = { 0 };
	size_t last = ctx->len;
	ssize_t r;

	if (ctx->result != HT_AGAIN)
		return; /* a connection stops parsing once it has a result */
	assert_true(ctx->len + n <= sizeof(ctx->acc));
	memcpy(ctx->acc + ctx->len, p, n);
	ctx->len += n;
	assert_int_equal(feed_guard_make(&g, (const uint8_t *)ctx->acc, ctx->len), 0);
	r = head_parse(ctx, (const char *)g.p, ctx->len, last);
	if (r != HT_AGAIN) {
		ctx->result = r;
		ctx->final_last = last;
		ctx->final_len = ctx->len;
		if (r >= 0)
			head_rebase(ctx, (const char *)g.p);
	}
	feed_guard_free(&g);
}

/* ---- valid request vectors ---------------------------------------------- */

/* clang-format off */
#define BROWSER_GET                                                                                        \
	"GET /static/app.js?v=1234 HTTP/1.1\r\n"                                                           \
	"Host: www.example.com\r\n"                                                                        \
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"           \
	"Accept: */*\r\n"                                                                                  \
	"Accept-Language: en-US,en;q=0.5\r\n"                                                              \
	"Accept-Encoding: gzip, deflate, br, zstd\r\n"                                                     \
	"Referer: https://www.example.com/\r\n"                                                            \
	"Connection: keep-alive\r\n"                                                                       \
	"Cookie: session=0123456789abcdef; theme=dark\r\n"                                                 \
	"Sec-Fetch-Dest: script\r\n"                                                                       \
	"Sec-Fetch-Mode: no-cors\r\n"                                                                      \
	"\r\n"
/* clang-format on */

struct req_vec {
	const char *name;
	const char *raw;
	size_t raw_len;  /* 0: strlen(raw) */
	size_t head_len; /* 0: raw_len */
	const char *method;
	const char *target;
	int minor;
	const char *hdrs[16][2];
	enum http1_body body;
	uint64_t content_length;
	int keep_alive;
	int upgrade;
	int expect_continue;
	const char *host;
	size_t host_count;
};

/* clang-format off */
static const struct req_vec req_vecs[] = {
	{.name = "browser GET", .raw = BROWSER_GET, .method = "GET", .target = "/static/app.js?v=1234",
	 .minor = 1,
	 .hdrs = {{"Host", "www.example.com"},
		  {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		  {"Accept", "*/*"}, {"Accept-Language", "en-US,en;q=0.5"},
		  {"Accept-Encoding", "gzip, deflate, br, zstd"}, {"Referer", "https://www.example.com/"},
		  {"Connection", "keep-alive"}, {"Cookie", "session=0123456789abcdef; theme=dark"},
		  {"Sec-Fetch-Dest", "script"}, {"Sec-Fetch-Mode", "no-cors"}},
	 .body = HTTP1_BODY_NONE, .keep_alive = 1, .host = "www.example.com", .host_count = 1},
	{.name = "POST with length and body bytes after the head",
	 .raw = "POST /api/items HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}",
	 .head_len = 57, .method = "POST", .target = "/api/items", .minor = 1,
	 .hdrs = {{"Host", "h"}, {"Content-Length", "13"}}, .body = HTTP1_BODY_LENGTH, .content_length = 13,
	 .keep_alive = 1, .host = "h", .host_count = 1},
	{.name = "chunked POST, case-insensitive coding, empty list members",
	 .raw = "PUT /u HTTP/1.1\r\nHost: h\r\ntransfer-encoding: , Chunked ,\r\n"
		"Expect: 100-Continue\r\n\r\n",
	 .method = "PUT", .target = "/u", .minor = 1,
	 .hdrs = {{"Host", "h"}, {"transfer-encoding", ", Chunked ,"}, {"Expect", "100-Continue"}},
	 .body = HTTP1_BODY_CHUNKED, .keep_alive = 1, .expect_continue = 1, .host = "h", .host_count = 1},
	{.name = "identical duplicate Content-Length",
	 .raw = "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\ncontent-length: 5, 005\r\n\r\n",
	 .method = "POST", .target = "/", .minor = 1,
	 .hdrs = {{"Content-Length", "5"}, {"Content-Length", "5"}, {"content-length", "5, 005"}},
	 .body = HTTP1_BODY_LENGTH, .content_length = 5, .keep_alive = 1},
	{.name = "zero Content-Length", .raw = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	 .method = "POST",
	 .target = "/", .minor = 1, .hdrs = {{"Content-Length", "0"}}, .body = HTTP1_BODY_LENGTH,
	 .content_length = 0, .keep_alive = 1},
	{.name = "largest Content-Length",
	 .raw = "POST / HTTP/1.1\r\nContent-Length: 4611686018427387904\r\n\r\n",
	 .method = "POST", .target = "/", .minor = 1, .hdrs = {{"Content-Length", "4611686018427387904"}},
	 .body = HTTP1_BODY_LENGTH, .content_length = (uint64_t)1 << 62, .keep_alive = 1},
	{.name = "HTTP/1.0 closes by default", .raw = "GET / HTTP/1.0\r\n\r\n", .method = "GET",
	 .target = "/",
	 .minor = 0, .body = HTTP1_BODY_NONE, .keep_alive = 0},
	{.name = "HTTP/1.0 keep-alive, no upgrade or expect in 1.0",
	 .raw = "GET / HTTP/1.0\r\nConnection: Keep-Alive, upgrade\r\nUpgrade: websocket\r\n"
		"Expect: 100-continue\r\n\r\n",
	 .method = "GET", .target = "/", .minor = 0,
	 .hdrs = {{"Connection", "Keep-Alive, upgrade"}, {"Upgrade", "websocket"},
		  {"Expect", "100-continue"}},
	 .keep_alive = 1, .upgrade = 0, .expect_continue = 0},
	{.name = "HTTP/1.1 close wins over keep-alive",
	 .raw = "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: CLOSE\r\n\r\n", .method = "GET",
	 .target = "/", .minor = 1, .hdrs = {{"Connection", "keep-alive"}, {"Connection", "CLOSE"}},
	 .keep_alive = 0},
	{.name = "WebSocket upgrade",
	 .raw = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	 .method = "GET", .target = "/ws", .minor = 1,
	 .hdrs = {{"Host", "a"}, {"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"},
		  {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}},
	 .keep_alive = 1, .upgrade = 1, .host = "a", .host_count = 1},
	{.name = "Upgrade field without the Connection token",
	 .raw = "GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", .method = "GET", .target = "/", .minor = 1,
	 .hdrs = {{"Upgrade", "h2c"}}, .keep_alive = 1, .upgrade = 0},
	{.name = "empty lines before the request line",
	 .raw = "\r\n\r\n\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", .method = "OPTIONS",
	 .target = "*", .minor = 1, .hdrs = {{"Host", "x"}, {"Host", "y"}}, .keep_alive = 1, .host = "x",
	 .host_count = 2},
	{.name = "OWS trimmed, empty and obs-text values",
	 .raw = "GET http://a.example:8080/p?q HTTP/1.1\r\nX-A:   a \t b  \t\r\nX-Empty:\r\nX-Sp:   \r\n"
		"X-Obs: caf\xc3\xa9 \xff\r\nX!#$%&'*+-.^_`|~9: v\r\n\r\n",
	 .method = "GET", .target = "http://a.example:8080/p?q", .minor = 1,
	 .hdrs = {{"X-A", "a \t b"}, {"X-Empty", ""}, {"X-Sp", ""}, {"X-Obs", "caf\xc3\xa9 \xff"},
		  {"X!#$%&'*+-.^_`|~9", "v"}},
	 .keep_alive = 1},
	{.name = "pipelined requests: the first head only",
	 .raw = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", .head_len = 28,
	 .method = "GET", .target = "/1", .minor = 1, .hdrs = {{"Host", "h"}}, .keep_alive = 1, .host = "h",
	 .host_count = 1},
};
/* clang-format on */

static size_t
vec_len(const char *raw, size_t raw_len)
{
	return raw_len ? raw_len : strlen(raw);
}

static size_t
expected_headers(const char *const (*hdrs)[2])
{
	size_t n = 0;

	while (n < 16 && hdrs[n][0] != NULL)
		n++;
	return n;
}

static void
check_headers(const struct http1_header *got, size_t n, const char *const (*want)[2])
{
	size_t i;

	assert_int_equal(n, expected_headers(want));
	for (i = 0; i < n; i++) {
		assert_int_equal(got[i].name_len, strlen(want[i][0]));
		assert_memory_equal(got[i].name, want[i][0], got[i].name_len);
		assert_int_equal(got[i].value_len, strlen(want[i][1]));
		if (got[i].value_len)
			assert_memory_equal(got[i].value, want[i][1], got[i].value_len);
	}
}

static void
check_str(const char *p, size_t n, const char *want)
{
	if (want == NULL) {
		assert_null(p);
		return;
	}
	assert_non_null(p);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

/* The head was complete exactly at the call that returned it. */
static void
check_timely(const struct head_ctx *ctx, size_t head_len)
{
	assert_int_equal(ctx->result, (ssize_t)head_len);
	assert_true(ctx->final_last < head_len);
	assert_true(ctx->final_len >= head_len);
}

static const struct req_vec *cur_req;

static void
req_check(void *vctx)
{
	struct head_ctx *ctx = vctx;
	const struct req_vec *v = cur_req;
	size_t raw_len = vec_len(v->raw, v->raw_len);

	check_timely(ctx, v->head_len ? v->head_len : raw_len);
	assert_int_equal(ctx->req.err, HTTP1_OK);
	check_str(ctx->req.method, ctx->req.method_len, v->method);
	check_str(ctx->req.target, ctx->req.target_len, v->target);
	assert_int_equal(ctx->req.minor_version, v->minor);
	check_headers(ctx->hdrs, ctx->req.num_headers, v->hdrs);
	assert_int_equal(ctx->req.body, v->body);
	assert_int_equal(ctx->req.content_length, v->content_length);
	assert_int_equal(ctx->req.keep_alive, v->keep_alive);
	assert_int_equal(ctx->req.upgrade, v->upgrade);
	assert_int_equal(ctx->req.expect_continue, v->expect_continue);
	check_str(ctx->req.host, ctx->req.host_len, v->host);
	assert_int_equal(ctx->req.host_count, v->host_count);
}

/* Every strict prefix of the head is incomplete, parsed from scratch. */
static void
check_prefixes(int response, const char *raw, size_t head_len, int req_head)
{
	struct http1_header hdrs[MAX_HDRS];
	struct http1_request req = { .headers = hdrs, .headers_cap = MAX_HDRS };
	struct http1_response res = { .headers = hdrs, .headers_cap = MAX_HDRS, .req_head = req_head };
	struct feed_guard g = { 0 };
	size_t i;
	ssize_t r;

	for (i = 0; i < head_len; i++) {
		assert_int_equal(feed_guard_make(&g, (const uint8_t *)raw, i), 0);
		if (response)
			r = http1_parse_response((const char *)g.p, i, 0, NULL, &res);
		else
			r = http1_parse_request((const char *)g.p, i, 0, NULL, &req);
		feed_guard_free(&g);
		if (r != HT_AGAIN)
			fail_msg("prefix of %zu bytes: %zd, not HT_AGAIN", i, r);
	}
}

static void
test_request_valid(void **state)
{
	static struct head_ctx ctx;
	size_t i, raw_len;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(req_vecs); i++) {
		cur_req = &req_vecs[i];
		memset(&ctx, 0, sizeof(ctx));
		raw_len = vec_len(cur_req->raw, cur_req->raw_len);
		feed_all_ways(cur_req->raw, raw_len, &ctx, head_reset, head_chunk, req_check);
		check_prefixes(0, cur_req->raw, cur_req->head_len ? cur_req->head_len : raw_len, 0);
	}
}

/* ---- valid response vectors --------------------------------------------- */

struct res_vec {
	const char *name;
	const char *raw;
	int req_head;
	int req_connect;
	int minor;
	int status;
	const char *reason;
	const char *hdrs[16][2];
	enum http1_body body;
	uint64_t content_length;
	int keep_alive;
	int upgrade;
	int te_other;
};

/* clang-format off */
static const struct res_vec res_vecs[] = {
	{.name = "200 with length",
	 .raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", .minor = 1,
	 .status = 200, .reason = "OK", .hdrs = {{"Content-Type", "text/plain"}, {"Content-Length", "5"}},
	 .body = HTTP1_BODY_LENGTH, .content_length = 5, .keep_alive = 1},
	{.name = "no reason, no SP: close-delimited", .raw = "HTTP/1.1 200\r\n\r\n", .minor = 1,
	 .status = 200,
	 .reason = "", .body = HTTP1_BODY_CLOSE, .keep_alive = 0},
	{.name = "empty reason after SP, 204", .raw = "HTTP/1.1 204 \r\nContent-Length: 0\r\n\r\n",
	 .minor = 1,
	 .status = 204, .reason = "", .hdrs = {{"Content-Length", "0"}}, .body = HTTP1_BODY_NONE,
	 .keep_alive = 1},
	{.name = "HTTP/1.0 keep-alive",
	 .raw = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
	 .minor = 0, .status = 200, .reason = "OK",
	 .hdrs = {{"Connection", "keep-alive"}, {"Content-Length", "0"}}, .body = HTTP1_BODY_LENGTH,
	 .keep_alive = 1},
	{.name = "HTTP/1.0 without keep-alive", .raw = "HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\n",
	 .minor = 0, .status = 404, .reason = "Not Found", .hdrs = {{"Content-Length", "3"}},
	 .body = HTTP1_BODY_LENGTH, .content_length = 3, .keep_alive = 0},
	{.name = "304 keeps its Content-Length but has no body",
	 .raw = "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", .minor = 1, .status = 304,
	 .reason = "Not Modified", .hdrs = {{"Content-Length", "100"}}, .body = HTTP1_BODY_NONE,
	 .content_length = 100, .keep_alive = 1},
	{.name = "answer to HEAD", .raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	 .req_head = 1,
	 .minor = 1, .status = 200, .reason = "OK", .hdrs = {{"Transfer-Encoding", "chunked"}},
	 .body = HTTP1_BODY_NONE, .keep_alive = 1},
	{.name = "2xx to CONNECT", .raw = "HTTP/1.1 200 Connection Established\r\n\r\n", .req_connect = 1,
	 .minor = 1, .status = 200, .reason = "Connection Established", .body = HTTP1_BODY_NONE,
	 .keep_alive = 1},
	{.name = "407 to CONNECT has a body", .raw = "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\n",
	 .req_connect = 1, .minor = 1, .status = 407, .reason = "Proxy Auth",
	 .hdrs = {{"Content-Length", "2"}}, .body = HTTP1_BODY_LENGTH, .content_length = 2, .keep_alive = 1},
	{.name = "100 Continue", .raw = "HTTP/1.1 100 Continue\r\n\r\n", .minor = 1, .status = 100,
	 .reason = "Continue", .body = HTTP1_BODY_NONE, .keep_alive = 1},
	{.name = "101 upgrade",
	 .raw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	 .minor = 1, .status = 101, .reason = "Switching Protocols",
	 .hdrs = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}, .body = HTTP1_BODY_NONE,
	 .keep_alive = 1, .upgrade = 1},
	{.name = "gzip then chunked, connection close",
	 .raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
		"Connection: close\r\n\r\n",
	 .minor = 1, .status = 200, .reason = "OK",
	 .hdrs = {{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}, {"Connection", "close"}},
	 .body = HTTP1_BODY_CHUNKED, .keep_alive = 0, .te_other = 1},
	{.name = "obs-text reason, status 999, leading empty line",
	 .raw = "\r\nHTTP/1.1 999 caf\xc3\xa9 \t x\r\n\r\n", .minor = 1, .status = 999,
	 .reason = "caf\xc3\xa9 \t x", .body = HTTP1_BODY_CLOSE, .keep_alive = 0},
};
/* clang-format on */

static const struct res_vec *cur_res;

static void
res_check(void *vctx)
{
	struct head_ctx *ctx = vctx;
	const struct res_vec *v = cur_res;

	check_timely(ctx, strlen(v->raw));
	assert_int_equal(ctx->res.err, HTTP1_OK);
	assert_int_equal(ctx->res.minor_version, v->minor);
	assert_int_equal(ctx->res.status, v->status);
	check_str(ctx->res.reason, ctx->res.reason_len, v->reason);
	check_headers(ctx->hdrs, ctx->res.num_headers, v->hdrs);
	assert_int_equal(ctx->res.body, v->body);
	assert_int_equal(ctx->res.content_length, v->content_length);
	assert_int_equal(ctx->res.keep_alive, v->keep_alive);
	assert_int_equal(ctx->res.upgrade, v->upgrade);
	assert_int_equal(ctx->res.te_other, v->te_other);
	assert_int_equal(ctx->res.req_head, v->req_head); /* inputs survive the call */
}

static void
test_response_valid(void **state)
{
	static struct head_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(res_vecs); i++) {
		cur_res = &res_vecs[i];
		memset(&ctx, 0, sizeof(ctx));
		ctx.response = 1;
		ctx.req_head = cur_res->req_head;
		ctx.req_connect = cur_res->req_connect;
		feed_all_ways(cur_res->raw, strlen(cur_res->raw), &ctx, head_reset, head_chunk, res_check);
		check_prefixes(1, cur_res->raw, strlen(cur_res->raw), cur_res->req_head);
	}
}

/* ---- rejected heads ------------------------------------------------------- */

struct err_vec {
	const char *name;
	const char *raw;
	size_t raw_len; /* 0: strlen(raw) */
	int response;
	enum http1_error err;
};

/* A literal that may hold NUL bytes, and its length. */
#define RAW(s) s, sizeof(s) - 1

/* clang-format off */
static const struct err_vec err_vecs[] = {
	/* framing */
	{"CL and TE", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
	 HTTP1_ERR_CL_AND_TE},
	{"TE and CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, 0,
	 HTTP1_ERR_CL_AND_TE},
	{"CL and TE in a response",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	 0, 1, HTTP1_ERR_CL_AND_TE},
	{"differing duplicate CL", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL list 5, 6", "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL with sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 0, 0, HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL with inner space", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, 0, HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL empty list member", "POST / HTTP/1.1\r\nContent-Length: 5,,5\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 0, 0, HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL above 2^62", "POST / HTTP/1.1\r\nContent-Length: 4611686018427387905\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL overflowing uint64", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"CL bad in a response", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 1,
	 HTTP1_ERR_BAD_CONTENT_LENGTH},
	{"TE chunked, gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE chunked, gzip in a response", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	 0, 1,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE gzip on a request", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE gzip, chunked on a request", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE chunked, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE chunked twice in two fields",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 1,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE empty", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", 0, 0, HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE chunked with a parameter", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE not a token", "POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_TRANSFER_ENCODING},
	/* field syntax */
	{"obs-fold", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 0, 0, HTTP1_ERR_OBS_FOLD},
	{"obs-fold with HTAB in a response", "HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\n\r\n", 0, 1,
	 HTTP1_ERR_OBS_FOLD},
	{"whitespace before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 0, 0, HTTP1_ERR_OBS_FOLD},
	{"Host : x", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 0, HTTP1_ERR_SPACE_BEFORE_COLON},
	{"HTAB before colon", "HTTP/1.1 200 OK\r\nContent-Length\t: 1\r\n\r\n", 0, 1,
	 HTTP1_ERR_SPACE_BEFORE_COLON},
	{"space inside a name", "GET / HTTP/1.1\r\nX A: x\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	{"bad token in a name", "GET / HTTP/1.1\r\nX(A): x\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	{"non-ASCII name", "GET / HTTP/1.1\r\nX\xc3\xa9: x\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	{"empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	{"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	{"DEL in a value", "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_VALUE},
	{"CTL in a value", "GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 0, 0, HTTP1_ERR_BAD_HEADER_VALUE},
	{"ESC in a response value", "HTTP/1.1 200 OK\r\nX-A: \x1b[31m\r\n\r\n", 0, 1,
	 HTTP1_ERR_BAD_HEADER_VALUE},
	{"bare LF ends a field", "GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n", 0, 0,
	 HTTP1_ERR_BAD_HEADER_VALUE},
	{"bare LF ends the head", "GET / HTTP/1.1\r\nX-A: a\r\n\n", 0, 0, HTTP1_ERR_BAD_HEADER_NAME},
	/* byte-level */
	{"bare CR in a value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 0, 0, HTTP1_ERR_BARE_CR},
	{"bare CR in the request line", "GET /\r HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BARE_CR},
	{"CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", 0, 0, HTTP1_ERR_BARE_CR},
	{"bare CR in a status line", "HTTP/1.1 200 O\rK\r\n\r\n", 0, 1, HTTP1_ERR_BARE_CR},
	{"NUL in a value", RAW("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"), 0, HTTP1_ERR_NUL},
	{"NUL in the target", RAW("GET /a\0b HTTP/1.1\r\n\r\n"), 0, HTTP1_ERR_NUL},
	{"NUL in a response", RAW("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n"), 1, HTTP1_ERR_NUL},
	{"NUL as the first byte", RAW("\0GET / HTTP/1.1\r\n\r\n"), 0, HTTP1_ERR_NUL},
	/* start lines */
	{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 0, 0, HTTP1_ERR_BAD_VERSION},
	{"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 0, 0, HTTP1_ERR_BAD_VERSION},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 0, 0, HTTP1_ERR_BAD_VERSION},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, 0, HTTP1_ERR_BAD_VERSION},
	{"HTTP/2.0 response", "HTTP/2.0 200 OK\r\n\r\n", 0, 1, HTTP1_ERR_BAD_VERSION},
	{"lowercase http/1.1", "GET / http/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"no version", "GET /\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"double SP after the method", "GET  / HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"double SP after the target", "GET /  HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"trailing SP after the version", "GET / HTTP/1.1 \r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"HTAB as separator", "GET\t/ HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"method not a token", "G(T / HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"empty method", " / HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"obs-text in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"bare LF ends the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"LF-only head", "GET / HTTP/1.1\n\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"bare LF first", "\nGET / HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"five empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, 0, HTTP1_ERR_BAD_START_LINE},
	{"status 099", "HTTP/1.1 099 X\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
	{"status with 4 digits", "HTTP/1.1 2000 X\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
	{"status glued to reason", "HTTP/1.1 200OK\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
	{"status with 2 digits", "HTTP/1.1 20\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
	{"CTL in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
	{"request where a response is due", "GET / HTTP/1.1\r\n\r\n", 0, 1, HTTP1_ERR_BAD_START_LINE},
};
/* clang-format on */

static const struct err_vec *cur_err;

static void
err_check(void *vctx)
{
	struct head_ctx *ctx = vctx;

	if (ctx->result != HT_ERROR)
		fail_msg("%s: result %zd, want HT_ERROR", cur_err->name, ctx->result);
	if ((ctx->response ? ctx->res.err : ctx->req.err) != cur_err->err)
		fail_msg("%s: error %s, want %s", cur_err->name,
			 http1_error_str(ctx->response ? ctx->res.err : ctx->req.err),
			 http1_error_str(cur_err->err));
}

static void
test_rejected(void **state)
{
	static struct head_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(err_vecs); i++) {
		cur_err = &err_vecs[i];
		memset(&ctx, 0, sizeof(ctx));
		ctx.response = cur_err->response;
		feed_all_ways(cur_err->raw, vec_len(cur_err->raw, cur_err->raw_len), &ctx, head_reset,
			      head_chunk, err_check);
	}
}

/* ---- limits ---------------------------------------------------------------- */

static void
run_err(struct head_ctx *ctx, const char *raw, size_t n, enum http1_error want)
{
	static struct err_vec v;

	v.name = raw;
	v.err = want;
	v.response = ctx->response;
	cur_err = &v;
	feed_all_ways(raw, n, ctx, head_reset, head_chunk, err_check);
}

/* "<start>X: aaa...\r\n\r\n" of exactly n bytes, NUL-terminated. */
static size_t
padded_head(char *raw, const char *start, size_t n)
{
	size_t k = (size_t)sprintf(raw, "%sX: ", start);

	memset(raw + k, 'a', n - k - 4);
	memcpy(raw + n - 4, "\r\n\r\n", 5);
	return n;
}

static void
test_head_too_large(void **state)
{
	static struct head_ctx ctx;
	static const struct http1_limits lim = { .max_head = 64, .max_headers = 10 };
	static const char *const starts[2] = { "GET / HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n" };
	char raw[256];
	int resp;

	(void)state;
	for (resp = 0; resp < 2; resp++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.lim = &lim;
		ctx.response = resp;

		/* Still incomplete: the error comes as soon as 64 bytes have arrived. */
		padded_head(raw, starts[resp], 100);
		memset(raw + 96, 'a', 4);
		run_err(&ctx, raw, 100, HTTP1_ERR_HEAD_TOO_LARGE);
		head_reset(&ctx);
		head_chunk(&ctx, (const uint8_t *)raw, 63);
		assert_int_equal(ctx.result, HT_AGAIN);
		head_chunk(&ctx, (const uint8_t *)raw + 63, 1);
		assert_int_equal(ctx.result, HT_ERROR);
		assert_int_equal(resp ? ctx.res.err : ctx.req.err, HTTP1_ERR_HEAD_TOO_LARGE);

		/* The 64th byte is a CR and the 65th not an LF: the head is too
		 * large however the bytes arrive (not a bare CR when the 65th
		 * happens to come in the same read). */
		padded_head(raw, starts[resp], 100);
		raw[63] = '\r';
		raw[64] = 'b';
		run_err(&ctx, raw, 100, HTTP1_ERR_HEAD_TOO_LARGE);

		/* Complete, but 65 bytes long. */
		run_err(&ctx, raw, padded_head(raw, starts[resp], 65), HTTP1_ERR_HEAD_TOO_LARGE);

		/* Exactly 64 bytes is fine. */
		head_reset(&ctx);
		head_chunk(&ctx, (const uint8_t *)raw, padded_head(raw, starts[resp], 64));
		assert_int_equal(ctx.result, 64);
	}
	assert_int_equal(http1_error_status(HTTP1_ERR_HEAD_TOO_LARGE), 431);
}

static void
test_default_limits(void **state)
{
	static char raw[HTTP1_DEFAULT_MAX_HEAD + 64];
	struct http1_header hdrs[4];
	struct http1_request req = { .headers = hdrs, .headers_cap = 4 };
	size_t n;

	(void)state;
	n = (size_t)snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nX: ");
	memset(raw + n, 'a', sizeof(raw) - n);
	assert_int_equal(http1_parse_request(raw, HTTP1_DEFAULT_MAX_HEAD - 1, 0, NULL, &req), HT_AGAIN);
	assert_int_equal(
		http1_parse_request(raw, HTTP1_DEFAULT_MAX_HEAD, HTTP1_DEFAULT_MAX_HEAD - 1, NULL, &req),
		HT_ERROR);
	assert_int_equal(req.err, HTTP1_ERR_HEAD_TOO_LARGE);
	/* With much more data than the limit at once, too. */
	assert_int_equal(http1_parse_request(raw, sizeof(raw), 0, NULL, &req), HT_ERROR);
	assert_int_equal(req.err, HTTP1_ERR_HEAD_TOO_LARGE);
}

static void
test_too_many_headers(void **state)
{
	static struct head_ctx ctx;
	static const struct http1_limits lim = { .max_head = 4096, .max_headers = 3 };
	static const char three[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	static const char four[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
	static const char resp4[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	ctx.lim = &lim;
	head_reset(&ctx);
	head_chunk(&ctx, (const uint8_t *)three, strlen(three));
	assert_int_equal(ctx.result, (ssize_t)strlen(three));
	assert_int_equal(ctx.req.num_headers, 3);
	run_err(&ctx, four, strlen(four), HTTP1_ERR_TOO_MANY_HEADERS);
	assert_int_equal(http1_error_status(HTTP1_ERR_TOO_MANY_HEADERS), 431);
	ctx.response = 1;
	run_err(&ctx, resp4, strlen(resp4), HTTP1_ERR_TOO_MANY_HEADERS);

	/* A smaller caller array is a limit too. */
	ctx.response = 0;
	ctx.lim = NULL;
	ctx.headers_cap = 2;
	run_err(&ctx, three, strlen(three), HTTP1_ERR_TOO_MANY_HEADERS);
	ctx.headers_cap = 3;
	head_reset(&ctx);
	head_chunk(&ctx, (const uint8_t *)three, strlen(three));
	assert_int_equal(ctx.result, (ssize_t)strlen(three));
}

/* last_len: what was scanned is not scanned again. */
static void
test_last_len(void **state)
{
	static const char raw[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";
	struct http1_header hdrs[4];
	struct http1_request req = { .headers = hdrs, .headers_cap = 4 };
	size_t n = strlen(raw);

	(void)state;
	assert_int_equal(http1_parse_request(raw, n, 0, NULL, &req), 27);
	/* Told everything was scanned already, it does not find the end again. */
	assert_int_equal(http1_parse_request(raw, n, n, NULL, &req), HT_AGAIN);
	/* A CR at the old end is looked at again once its next byte is here. */
	assert_int_equal(http1_parse_request(raw, 15, 14, NULL, &req), HT_AGAIN);
	assert_int_equal(http1_parse_request("GET / HTTP/1.1\rX", 16, 15, NULL, &req), HT_ERROR);
	assert_int_equal(req.err, HTTP1_ERR_BARE_CR);
	/* A last_len beyond len is harmless. */
	assert_int_equal(http1_parse_request(raw, 10, 100, NULL, &req), HT_AGAIN);
	assert_int_equal(http1_parse_request(raw, 0, 0, NULL, &req), HT_AGAIN);
}

static void
test_error_names(void **state)
{
	int e;

	(void)state;
	for (e = 0; e < HTTP1_ERR_MAX; e++) {
		assert_non_null(http1_error_str((enum http1_error)e));
		assert_string_not_equal(http1_error_str((enum http1_error)e), "unknown");
	}
	assert_string_equal(http1_error_str(HTTP1_ERR_MAX), "unknown");
	assert_int_equal(http1_error_status(HTTP1_OK), 0);
	assert_int_equal(http1_error_status(HTTP1_ERR_BAD_VERSION), 505);
	assert_int_equal(http1_error_status(HTTP1_ERR_CL_AND_TE), 400);
	for (e = 0; e < HTTP1_CHUNKED_ERR_MAX; e++)
		assert_string_not_equal(http1_chunked_error_str((enum http1_chunked_error)e), "unknown");
}

/* ---- chunked decoder ------------------------------------------------------ */

struct chunk_ctx {
	struct http1_chunked c;
	uint8_t out[1 << 16];
	size_t out_len;
	uint8_t rest[256]; /* bytes left unconsumed after the end */
	size_t rest_len;
	int failed;
};

static void
chunk_reset(void *vctx)
{
	struct chunk_ctx *ctx = vctx;

	http1_chunked_init(&ctx->c);
	ctx->out_len = ctx->rest_len = 0;
	ctx->failed = 0;
}

static void
chunk_chunk(void *vctx, const uint8_t *p, size_t n)
{
	struct chunk_ctx *ctx = vctx;
	const uint8_t *data;
	size_t len;
	ssize_t r;

	for (;;) {
		r = http1_chunked_decode(&ctx->c, p, n, &data, &len);
		if (r == HT_ERROR) {
			assert_null(data);
			assert_int_equal(len, 0);
			assert_int_not_equal(ctx->c.err, HTTP1_CHUNKED_OK);
			ctx->failed = 1;
			return;
		}
		assert_false(ctx->failed); /* errors are sticky */
		assert_true(r >= 0 && (size_t)r <= n);
		if (data != NULL) {
			assert_true(data >= p && data + len <= p + r);
			assert_true(len > 0);
			assert_true(ctx->out_len + len <= sizeof(ctx->out));
			memcpy(ctx->out + ctx->out_len, data, len);
			ctx->out_len += len;
		}
		p += r;
		n -= (size_t)r;
		if (http1_chunked_done(&ctx->c)) {
			assert_true(ctx->rest_len + n <= sizeof(ctx->rest));
			memcpy(ctx->rest + ctx->rest_len, p, n);
			ctx->rest_len += n;
			/* Nothing more is consumed once done. */
			assert_int_equal(http1_chunked_decode(&ctx->c, p, n, &data, &len), 0);
			return;
		}
		if (n == 0)
			return;
		assert_true(r > 0); /* progress while not done */
	}
}

struct chunk_vec {
	const char *name;
	const char *raw;
	const char *data; /* expected body */
	const char *rest; /* expected unconsumed bytes */
};

/* clang-format off */
static const struct chunk_vec chunk_vecs[] = {
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
	{"only the last chunk", "0\r\n\r\n", "", ""},
	{"extensions, trailers and the next message",
	 "5;ext=1;foo=\"b a r\"\r\nhello\r\n6 ; x\t;y\r\n world\r\n0;last\r\nTrailer-A: x\r\nB:\r\n"
	 "Server-Timing: a;dur=1.5\r\n\r\nGET / HTTP/1.1\r\n",
	 "hello world", "GET / HTTP/1.1\r\n"},
	{"upper-case hex, leading zeros, 16 digits",
	 "A\r\n0123456789\r\n000000000000000B\r\nabcdefghijk\r\n00\r\n\r\n", "0123456789abcdefghijk", ""},
	{"one-byte chunks with CRLF in data", "1\r\n\r\r\n1\r\n\n\r\n1\r\n0\r\n0\r\n\r\nX", "\r\n0", "X"},
	{"obs-text in a trailer value and extension", "3;n=\xc3\xa9\r\nabc\r\n0\r\nX: \xc3\xa9\t\r\n\r\n",
	 "abc", ""},
};
/* clang-format on */

static const struct chunk_vec *cur_chunk;

static void
chunk_check_ok(void *vctx)
{
	struct chunk_ctx *ctx = vctx;

	if (ctx->failed)
		fail_msg("%s: %s", cur_chunk->name, http1_chunked_error_str(ctx->c.err));
	assert_true(http1_chunked_done(&ctx->c));
	assert_int_equal(ctx->out_len, strlen(cur_chunk->data));
	assert_memory_equal(ctx->out, cur_chunk->data, ctx->out_len);
	assert_int_equal(ctx->rest_len, strlen(cur_chunk->rest));
	assert_memory_equal(ctx->rest, cur_chunk->rest, ctx->rest_len);
}

static void
test_chunked_valid(void **state)
{
	static struct chunk_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(chunk_vecs); i++) {
		cur_chunk = &chunk_vecs[i];
		feed_all_ways(cur_chunk->raw, strlen(cur_chunk->raw), &ctx, chunk_reset, chunk_chunk,
			      chunk_check_ok);
	}
}

/* One call reports one range; the rest is left for the next call. */
static void
test_chunked_one_range_per_call(void **state)
{
	static const char raw[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	struct http1_chunked c;
	const uint8_t *data, *in = (const uint8_t *)raw;
	size_t len;
	ssize_t r;

	(void)state;
	http1_chunked_init(&c);
	r = http1_chunked_decode(&c, in, strlen(raw), &data, &len);
	assert_int_equal(r, 11); /* "3\r\nabc\r\n2\r\n": stops before the second range */
	assert_ptr_equal(data, in + 3);
	assert_int_equal(len, 3);
	r = http1_chunked_decode(&c, in + 11, strlen(raw) - 11, &data, &len);
	assert_int_equal(r, (ssize_t)strlen(raw) - 11);
	assert_ptr_equal(data, in + 11);
	assert_int_equal(len, 2);
	assert_true(http1_chunked_done(&c));
	assert_int_equal(http1_chunked_decode(&c, in, 0, &data, &len), 0);
	assert_null(data);
}

struct chunk_err_vec {
	const char *name;
	const char *raw;
	enum http1_chunked_error err;
};

/* clang-format off */
static const struct chunk_err_vec chunk_err_vecs[] = {
	{"17 hex digits", "00000000000000001\r\nx\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_SIZE_TOO_LONG},
	{"2^63", "8000000000000000\r\n", HTTP1_CHUNKED_ERR_SIZE_OVERFLOW},
	{"2^64 - 1", "ffffffffffffffff\r\n", HTTP1_CHUNKED_ERR_SIZE_OVERFLOW},
	{"no digits", "\r\n", HTTP1_CHUNKED_ERR_BAD_SIZE},
	{"extension without size", ";a\r\n", HTTP1_CHUNKED_ERR_BAD_SIZE},
	{"negative", "-5\r\nhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_SIZE},
	{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_SIZE},
	{"junk after size", "5z\r\nhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_SIZE},
	{"CTL in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_EXT},
	{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"data longer than its size", "5\r\nhello!\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"LF only", "5\nhello\n0\n\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"LF after data", "5\r\nhello\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"LF after an extension", "5;a\nhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"CR without LF after size", "5\rhello\r\n0\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"LF ending the trailers", "0\r\n\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"LF ending a trailer", "0\r\nA: b\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"CR CR in trailer", "0\r\nA: b\r\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_CRLF},
	{"trailer without colon", "0\r\nA b\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_TRAILER},
	{"trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_TRAILER},
	{"trailer with CTL", "0\r\nA: \x7f\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_TRAILER},
	{"trailer empty name", "0\r\n: b\r\n\r\n", HTTP1_CHUNKED_ERR_BAD_TRAILER},
};
/* clang-format on */

static const struct chunk_err_vec *cur_chunk_err;

static void
chunk_check_err(void *vctx)
{
	struct chunk_ctx *ctx = vctx;

	if (!ctx->failed)
		fail_msg("%s: no error", cur_chunk_err->name);
	if (ctx->c.err != cur_chunk_err->err)
		fail_msg("%s: %s, want %s", cur_chunk_err->name, http1_chunked_error_str(ctx->c.err),
			 http1_chunked_error_str(cur_chunk_err->err));
	assert_false(http1_chunked_done(&ctx->c));
}

static void
test_chunked_rejected(void **state)
{
	static struct chunk_ctx ctx;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(chunk_err_vecs); i++) {
		cur_chunk_err = &chunk_err_vecs[i];
		feed_all_ways(cur_chunk_err->raw, strlen(cur_chunk_err->raw), &ctx, chunk_reset, chunk_chunk,
			      chunk_check_err);
	}
}

/* A size of 2^63 - 1 is accepted; the data is then simply awaited. */
static void
test_chunked_largest_size(void **state)
{
	static const char raw[] = "7fffffffffffffff\r\nab";
	struct http1_chunked c;
	const uint8_t *data;
	size_t len;

	(void)state;
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_decode(&c, (const uint8_t *)raw, 18, &data, &len), 18);
	assert_int_equal(http1_chunked_decode(&c, (const uint8_t *)raw + 18, 2, &data, &len), 2);
	assert_int_equal(len, 2);
	assert_int_equal(c.remaining, ((uint64_t)1 << 63) - 3);
}

static void
test_chunked_limits(void **state)
{
	static char raw[HTTP1_CHUNK_TRAILER_MAX + 64];
	static struct chunk_ctx ctx;
	static struct chunk_vec ok;
	size_t n;

	(void)state;
	/* An extension of exactly HTTP1_CHUNK_EXT_MAX bytes passes, one more fails. */
	raw[0] = '1';
	memset(raw + 1, 'e', HTTP1_CHUNK_EXT_MAX);
	raw[1] = ';';
	memcpy(raw + 1 + HTTP1_CHUNK_EXT_MAX, "\r\nx\r\n0\r\n\r\n", 11);
	ok = (struct chunk_vec){ "ext at the cap", raw, "x", "" };
	cur_chunk = &ok;
	chunk_reset(&ctx);
	chunk_chunk(&ctx, (const uint8_t *)raw, strlen(raw));
	chunk_check_ok(&ctx);
	memset(raw + 1, 'e', HTTP1_CHUNK_EXT_MAX + 1);
	raw[1] = ';';
	memcpy(raw + 2 + HTTP1_CHUNK_EXT_MAX, "\r\nx\r\n0\r\n\r\n", 11);
	chunk_reset(&ctx);
	chunk_chunk(&ctx, (const uint8_t *)raw, strlen(raw));
	assert_true(ctx.failed);
	assert_int_equal(ctx.c.err, HTTP1_CHUNKED_ERR_EXT_TOO_LONG);

	/* The trailer section, final CRLF included, is capped too. */
	memcpy(raw, "0\r\nX: ", 6);
	n = HTTP1_CHUNK_TRAILER_MAX - 7; /* "X: " value CRLF CRLF: the cap */
	memset(raw + 6, 'v', n);
	memcpy(raw + 6 + n, "\r\n\r\n", 5);
	ok = (struct chunk_vec){ "trailer at the cap", raw, "", "" };
	chunk_reset(&ctx);
	chunk_chunk(&ctx, (const uint8_t *)raw, strlen(raw));
	chunk_check_ok(&ctx);
	memset(raw + 6, 'v', n + 1);
	memcpy(raw + 6 + n + 1, "\r\n\r\n", 5);
	chunk_reset(&ctx);
	chunk_chunk(&ctx, (const uint8_t *)raw, strlen(raw));
	assert_true(ctx.failed);
	assert_int_equal(ctx.c.err, HTTP1_CHUNKED_ERR_TRAILER_TOO_LARGE);
}

/* ---- chunked encoder ------------------------------------------------------ */

static void
test_chunk_header(void **state)
{
	/* clang-format off */
	static const struct {
		size_t len;
		const char *want;
	} v[] = {
		{1, "1\r\n"}, {15, "f\r\n"}, {16, "10\r\n"}, {0xabc, "abc\r\n"}, {65536, "10000\r\n"},
		{SIZE_MAX, "ffffffffffffffff\r\n"},
	};
	/* clang-format on */
	char out[HTTP1_CHUNK_HEADER_MAX + 1];
	size_t i, n;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		memset(out, '#', sizeof(out));
		n = http1_chunk_header(out, v[i].len);
		assert_int_equal(n, strlen(v[i].want));
		assert_int_equal(n, http1_chunk_header_len(v[i].len));
		assert_memory_equal(out, v[i].want, n);
		assert_int_equal(out[n], '#');
	}
	assert_int_equal(HTTP1_CHUNK_END_LEN, strlen(HTTP1_CHUNK_END));
	assert_int_equal(HTTP1_LAST_CHUNK_LEN, strlen(HTTP1_LAST_CHUNK));
}

/* Encode chunks into buffer headroom (no copy of the payload), decode back. */
static void
test_chunked_round_trip(void **state)
{
	static const size_t sizes[] = { 1, 2, 15, 16, 17, 255, 256, 4095, 4096, 65535, 65536, 100000 };
	static uint8_t body[1 << 18];
	struct buf out, b;
	struct http1_chunked c;
	const uint8_t *data;
	size_t i, len, n, total = 0, got = 0, off;
	uint8_t *hdr;
	ssize_t r;

	(void)state;
	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + (i >> 8));
	assert_int_equal(buf_init(&out, 1 << 20, 0), 0);
	for (i = 0; i < UTIL_ARRAY_SIZE(sizes); i++) {
		assert_int_equal(buf_init(&b, sizes[i] + 64, HTTP1_CHUNK_HEADER_MAX), 0);
		assert_int_equal(buf_append(&b, body + total, sizes[i]), 0);
		hdr = buf_prepend(&b, http1_chunk_header_len(sizes[i]));
		assert_non_null(hdr);
		assert_int_equal(http1_chunk_header((char *)hdr, sizes[i]),
				 b.last - hdr - (ptrdiff_t)sizes[i]);
		assert_int_equal(buf_append(&b, HTTP1_CHUNK_END, HTTP1_CHUNK_END_LEN), 0);
		assert_int_equal(buf_append(&out, b.pos, buf_len(&b)), 0);
		total += sizes[i];
		buf_fini(&b);
	}
	assert_int_equal(buf_append(&out, HTTP1_LAST_CHUNK, HTTP1_LAST_CHUNK_LEN), 0);

	http1_chunked_init(&c);
	for (off = 0; !http1_chunked_done(&c);) {
		n = UTIL_MIN(buf_len(&out) - off, 4096);
		r = http1_chunked_decode(&c, out.pos + off, n, &data, &len);
		assert_true(r > 0);
		if (data != NULL) {
			assert_memory_equal(data, body + got, len);
			got += len;
		}
		off += (size_t)r;
	}
	assert_int_equal(got, total);
	assert_int_equal(off, buf_len(&out));
	buf_fini(&out);
}

/* ---- header helpers ------------------------------------------------------- */

/* clang-format off */
#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
/* clang-format on */

static void
test_hop_by_hop(void **state)
{
	/* clang-format off */
	static const char *const yes[] = {
		"Connection", "keep-alive", "PROXY-CONNECTION", "Transfer-Encoding", "TE", "Trailer",
		"upgrade", "Proxy-Authenticate", "proxy-authorization", "Proxy-Anything",
	};
	static const char *const no[] = {
		"Content-Length", "Host", "Trailers", "T", "Proxy", "Upgrade-Insecure-Requests", "Connectio",
		"Sec-WebSocket-Key", "X-Proxy-Id",
	};
	/* clang-format on */
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(yes); i++)
		assert_true(http1_is_hop_by_hop(yes[i], strlen(yes[i])));
	for (i = 0; i < UTIL_ARRAY_SIZE(no); i++)
		if (http1_is_hop_by_hop(no[i], strlen(no[i])))
			fail_msg("%s is not hop-by-hop", no[i]);
}

static void
test_connection_tokens(void **state)
{
	/* clang-format off */
	static const struct http1_header h[] = {
		H("Connection", "keep-alive"), H("X-Foo", "close"), H("connection", " X-Trace ,, Upgrade\t"),
		H("Upgrade", "websocket"), H("Connection", ""),
	};
	/* clang-format on */

	(void)state;
	assert_true(http1_connection_has_token(h, 5, "keep-alive"));
	assert_true(http1_connection_has_token(h, 5, "UPGRADE"));
	assert_true(http1_connection_has_token(h, 5, "x-trace"));
	assert_false(http1_connection_has_token(h, 5, "close")); /* in X-Foo only */
	assert_false(http1_connection_has_token(h, 5, "upgrad"));
	assert_false(http1_connection_has_token(h, 5, "X-Trace ,"));
	assert_false(http1_connection_has_token(h, 5, ""));
	assert_false(http1_connection_has_token(h, 2, "upgrade")); /* only the first two fields */
	assert_true(http1_header_is_named_in_connection(h, 5, "X-TRACE", 7));
	assert_true(http1_header_is_named_in_connection(h, 5, "X-Trace-Id", 7));
	assert_false(http1_header_is_named_in_connection(h, 5, "X-Trace-Id", 10));
	assert_false(http1_header_is_named_in_connection(h, 5, "X-Foo", 5));
	assert_false(http1_header_is_named_in_connection(NULL, 0, "X-Foo", 5));
}

static void
test_find_header(void **state)
{
	static const struct http1_header h[] = {
		H("Host", "a"),
		H("X-A", "1"),
		H("x-a", "2"),
	};

	(void)state;
	assert_ptr_equal(http1_find_header(h, 3, "host"), &h[0]);
	assert_ptr_equal(http1_find_header(h, 3, "X-A"), &h[1]);
	assert_null(http1_find_header(h, 3, "X-"));
	assert_null(http1_find_header(h, 3, "X-AB"));
	assert_null(http1_find_header(h, 0, "Host"));
}

static void
test_validators(void **state)
{
	(void)state;
	assert_true(http1_token_valid("Content-Type", 12));
	assert_true(http1_token_valid("!#$%&'*+-.^_`|~09azAZ", 21));
	assert_false(http1_token_valid("", 0));
	assert_false(http1_token_valid("a b", 3));
	assert_false(http1_token_valid("a:b", 3));
	assert_false(http1_token_valid("a\"", 2));
	assert_false(http1_token_valid("caf\xc3\xa9", 5));
	assert_false(http1_token_valid("a\0", 2));

	assert_true(http1_field_value_valid("", 0));
	assert_true(http1_field_value_valid("text/html; charset=utf-8", 24));
	assert_true(http1_field_value_valid(" a\tb ", 5));
	assert_true(http1_field_value_valid("caf\xc3\xa9\xff", 6));
	assert_false(http1_field_value_valid("a\r\nX-Injected: 1", 16));
	assert_false(http1_field_value_valid("a\n", 2));
	assert_false(http1_field_value_valid("a\r", 2));
	assert_false(http1_field_value_valid("a\0b", 3));
	assert_false(http1_field_value_valid("\x7f", 1));
	assert_false(http1_field_value_valid("\x1f", 1));

	assert_true(http1_method_valid("GET", 3));
	assert_true(http1_method_valid("M-SEARCH", 8));
	assert_false(http1_method_valid("GET /", 5));
	assert_false(http1_method_valid("", 0));

	assert_true(http1_target_valid("/a?b=c#d", 8));
	assert_true(http1_target_valid("*", 1));
	assert_false(http1_target_valid("", 0));
	assert_false(http1_target_valid("/a b", 4));
	assert_false(http1_target_valid("/\xc3\xa9", 3));
	assert_false(http1_target_valid("/a\r\n", 4));
	assert_false(http1_target_valid("/\x7f", 2));
}

static void
test_status_line(void **state)
{
	char out[HTTP1_STATUS_LINE_MAX];

	(void)state;
	assert_string_equal(http1_reason_phrase(200), "OK");
	assert_string_equal(http1_reason_phrase(404), "Not Found");
	assert_string_equal(http1_reason_phrase(431), "Request Header Fields Too Large");
	assert_string_equal(http1_reason_phrase(502), "Bad Gateway");
	assert_string_equal(http1_reason_phrase(599), "");
	assert_string_equal(http1_reason_phrase(-1), "");

	assert_int_equal(http1_write_status_line(out, sizeof(out), 503), 34);
	assert_memory_equal(out, "HTTP/1.1 503 Service Unavailable\r\n", 34);
	assert_int_equal(http1_write_status_line(out, sizeof(out), 299), 15);
	assert_memory_equal(out, "HTTP/1.1 299 \r\n", 15);
	assert_int_equal(http1_write_status_line(out, 33, 503), 0);
	assert_int_equal(http1_write_status_line(out, sizeof(out), 99), 0);
	assert_int_equal(http1_write_status_line(out, sizeof(out), 1000), 0);
	/* What we write, we parse back. */
	{
		struct http1_response res = { 0 };

		assert_int_equal(http1_write_status_line(out, sizeof(out) - 2, 101), 34);
		memcpy(out + 34, "\r\n", 2);
		assert_int_equal(http1_parse_response(out, 36, 0, NULL, &res), 36);
		assert_int_equal(res.status, 101);
		assert_int_equal(res.reason_len, 19);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_valid),      cmocka_unit_test(test_response_valid),
		cmocka_unit_test(test_rejected),           cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_default_limits),     cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_last_len),           cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_chunked_valid),      cmocka_unit_test(test_chunked_one_range_per_call),
		cmocka_unit_test(test_chunked_rejected),   cmocka_unit_test(test_chunked_largest_size),
		cmocka_unit_test(test_chunked_limits),     cmocka_unit_test(test_chunk_header),
		cmocka_unit_test(test_chunked_round_trip), cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_connection_tokens),  cmocka_unit_test(test_find_header),
		cmocka_unit_test(test_validators),         cmocka_unit_test(test_status_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
