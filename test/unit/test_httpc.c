/*
 * test_httpc.c: htc's admin HTTP client against a scripted loopback server
 * (fakesrv.h): the request bytes it sends (with and without a token), the
 * three body framings, interim 1xx answers, heads and bodies trickled in
 * pieces, and every failure it reports: refused connection, silent server
 * (deadline), early close, bad head, bad chunked body, body over the cap,
 * TLS URLs, header injection. (Name resolution failures are not tested:
 * they would need DNS, and these tests stay on loopback.)
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
#include <time.h>

#include "util.h"
#include "htc/htc.h"
#include "htc/httpc.h"
#include "fakesrv.h"

static const struct fake_reply replies[] = {
	{ .target = "/length",
	  .parts = { "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: "
		     "application/json\r\n\r\n{\"a\":\"b c\"}" } },
	{ .target = "/chunked",
	  .parts = { "HTTP/1.1 200 OK\r\nTransfer-", "Encoding: chunked\r\n\r\n5\r\nhel",
		     "lo\r\n6;ext=1\r\n world\r\n", "0\r\nX-T: 1\r\n\r\n" },
	  .delay_ms = 20 },
	{ .target = "/close", .parts = { "HTTP/1.1 200 OK\r\n\r\nuntil ", "the end" }, .delay_ms = 20 },
	{ .target = "/interim",
	  .parts = { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n",
		     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
	  .delay_ms = 10 },
	{ .target = "/trickle",
	  .parts = { "HTTP/1.1 2", "02 Accepted\r\nContent-Le", "ngth: 4\r\n", "\r\n", "ab", "cd" },
	  .delay_ms = 15 },
	{ .target = "/204", .parts = { "HTTP/1.1 204 No Content\r\n\r\n" } },
	{ .target = "/noreason", .parts = { "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n" } },
	{ .target = "/ctlreason", .parts = { "HTTP/1.1 500 Bad\tDay\r\nContent-Length: 0\r\n\r\n" } },
	{ .target = "/silent", .silent = 1 },
	{ .target = "/short", .parts = { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345" } },
	{ .target = "/shortchunk",
	  .parts = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab" } },
	{ .target = "/nothing" },
	{ .target = "/halfhead", .parts = { "HTTP/1.1 200 OK\r\nContent-" } },
	{ .target = "/garbage", .parts = { "SMTP ready\r\n\r\n" } },
	{ .target = "/badchunk", .parts = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" } },
	{ .target = "/biglength", .parts = { "HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n" } },
	{ .target = "/maxlength",
	  .parts = { "HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n" },
	  .flood = 16777216 },
	{ .target = "/bigclose", .parts = { "HTTP/1.1 200 OK\r\n\r\n" }, .flood = 16777217 },
	{ .target = "/bigchunk",
	  .parts = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000001\r\n" },
	  .flood = 16777217 },
};

static struct fakesrv srv;

static int
setup(void **state)
{
	(void)state;
	return fakesrv_start(&srv, replies, UTIL_ARRAY_SIZE(replies));
}

static int
teardown(void **state)
{
	(void)state;
	fakesrv_stop(&srv);
	return 0;
}

/* GET path from the fake server; returns httpc_request's result. */
static int
get(const char *path, const char *token, int timeout_ms, struct httpc_response *res, char *err, size_t cap)
{
	char s[64];
	struct url u;

	snprintf(s, sizeof(s), "http://127.0.0.1:%d/", srv.port);
	assert_int_equal(url_parse(&u, s), 0);
	return httpc_request(&u, "GET", path, token, timeout_ms, res, err, cap);
}

static void
test_request_bytes(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX], req[4096], want[512];

	(void)state;
	assert_int_equal(get("/length", NULL, 0, &res, err, sizeof(err)), 0);
	fakesrv_request(&srv, req, sizeof(req));
	snprintf(want, sizeof(want),
		 "GET /length HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: htc/" HT_VERSION "\r\n"
		 "Accept: application/json, text/plain\r\nConnection: close\r\n\r\n",
		 srv.port);
	assert_string_equal(req, want);
	httpc_response_fini(&res);

	assert_int_equal(get("/length", "tok-123", 0, &res, err, sizeof(err)), 0);
	fakesrv_request(&srv, req, sizeof(req));
	snprintf(want, sizeof(want),
		 "GET /length HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: htc/" HT_VERSION "\r\n"
		 "Accept: application/json, text/plain\r\nConnection: close\r\n"
		 "Authorization: Bearer tok-123\r\n\r\n",
		 srv.port);
	assert_string_equal(req, want);
	httpc_response_fini(&res);
}

static void
test_content_length(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];

	(void)state;
	assert_int_equal(get("/length", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.reason, "OK");
	assert_int_equal(res.body_len, 11);
	assert_string_equal(res.body, "{\"a\":\"b c\"}");
	assert_string_equal(err, "");
	httpc_response_fini(&res);
	assert_null(res.body);
	httpc_response_fini(&res); /* harmless twice */
}

static void
test_chunked_and_close(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];

	(void)state;
	assert_int_equal(get("/chunked", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body_len, 11);
	assert_string_equal(res.body, "hello world");
	httpc_response_fini(&res);

	assert_int_equal(get("/close", NULL, 0, &res, err, sizeof(err)), 0);
	assert_string_equal(res.body, "until the end");
	httpc_response_fini(&res);
}

static void
test_interim_trickle_empty(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];

	(void)state;
	assert_int_equal(get("/interim", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body, "ok");
	httpc_response_fini(&res);

	assert_int_equal(get("/trickle", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 202);
	assert_string_equal(res.reason, "Accepted");
	assert_string_equal(res.body, "abcd");
	httpc_response_fini(&res);

	assert_int_equal(get("/204", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 204);
	assert_non_null(res.body); /* never NULL after success */
	assert_int_equal(res.body_len, 0);
	assert_string_equal(res.body, "");
	httpc_response_fini(&res);
}

static void
test_status_and_reason(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];

	(void)state;
	/* An error status is still a response: the caller decides. */
	assert_int_equal(get("/nowhere", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 404);
	httpc_response_fini(&res);
	/* No reason phrase: the standard one is filled in. */
	assert_int_equal(get("/noreason", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 404);
	assert_string_equal(res.reason, "Not Found");
	httpc_response_fini(&res);
	/* A tab is valid in a reason phrase, but never reaches the terminal. */
	assert_int_equal(get("/ctlreason", NULL, 0, &res, err, sizeof(err)), 0);
	assert_int_equal(res.status, 500);
	assert_string_equal(res.reason, "Bad?Day");
	httpc_response_fini(&res);
}

/* Each broken server: the errno and the message htc shows. */
static void
test_broken_servers(void **state)
{
	static const struct {
		const char *path;
		int rc;
		const char *msg;
	} v[] = {
		{ "/short", -EPROTO, "closed the connection before the end of the answer" },
		{ "/shortchunk", -EPROTO, "closed the connection before the end of the answer" },
		{ "/halfhead", -EPROTO, "closed the connection before the end of the answer" },
		{ "/nothing", -EPROTO, "closed the connection without answering" },
		{ "/garbage", -EPROTO, "bad answer from 127.0.0.1:" },
		{ "/badchunk", -EPROTO, "bad chunked answer from 127.0.0.1:" },
		{ "/biglength", -EMSGSIZE, "larger than 16777216 bytes" },
		{ "/bigclose", -EMSGSIZE, "larger than 16777216 bytes" },
		{ "/bigchunk", -EMSGSIZE, "larger than 16777216 bytes" },
	};
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		int rc = get(v[i].path, NULL, 5000, &res, err, sizeof(err));
		if (rc != v[i].rc || strstr(err, v[i].msg) == NULL)
			fail_msg("%s: rc %d err '%s'", v[i].path, rc, err);
		assert_null(res.body);
		assert_int_equal(res.status, 0);
	}
}

static void
test_body_at_cap(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];

	(void)state;
	assert_int_equal(get("/maxlength", NULL, 5000, &res, err, sizeof(err)), 0);
	assert_int_equal(res.body_len, HTTPC_BODY_MAX);
	assert_int_equal(res.body[0], 'x');
	assert_int_equal(res.body[HTTPC_BODY_MAX - 1], 'x');
	assert_int_equal(res.body[HTTPC_BODY_MAX], '\0');
	httpc_response_fini(&res);
}

static void
test_timeout(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX];
	struct timespec a, b;
	long ms;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(get("/silent", NULL, 300, &res, err, sizeof(err)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 290 && ms < 2000);
	assert_non_null(strstr(err, "no answer from 127.0.0.1:"));
	assert_non_null(strstr(err, "within 300 ms"));
}

static void
test_refused(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct httpc_response res;
	char err[HTTPC_ERR_MAX], s[64], want[64];
	struct url u;
	int fd;

	(void)state;
	/* A port that was just free: bound, then closed without listening. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	snprintf(s, sizeof(s), "ws://127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(url_parse(&u, s), 0);
	assert_int_equal(httpc_request(&u, "GET", "/x", NULL, 2000, &res, err, sizeof(err)), -ECONNREFUSED);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: ", ntohs(a.sin_port));
	assert_memory_equal(err, want, strlen(want));
	assert_null(res.body);
}

static void
test_refused_locally(void **state)
{
	struct httpc_response res;
	char err[HTTPC_ERR_MAX], tiny[8];
	struct url u;

	(void)state;

	/* Nothing that could split a header or the request line goes out. */
	assert_int_equal(url_parse(&u, "ws://127.0.0.1:1"), 0);
	assert_int_equal(httpc_request(&u, "GET", "/x", "a\r\nX: y", 0, &res, err, sizeof(err)), -EINVAL);
	assert_int_equal(httpc_request(&u, "GET", "/x y", NULL, 0, &res, err, sizeof(err)), -EINVAL);
	assert_int_equal(httpc_request(&u, "GE T", "/x", NULL, 0, &res, err, sizeof(err)), -EINVAL);
	assert_int_equal(httpc_request(&u, "GET", "", NULL, 0, &res, err, sizeof(err)), -EINVAL);
	/* A short err buffer is cut, not overrun. */
	assert_int_equal(httpc_request(&u, "GET", "/x y", NULL, 0, &res, tiny, sizeof(tiny)), -EINVAL);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_bytes),     cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked_and_close), cmocka_unit_test(test_interim_trickle_empty),
		cmocka_unit_test(test_status_and_reason), cmocka_unit_test(test_broken_servers),
		cmocka_unit_test(test_body_at_cap),       cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),           cmocka_unit_test(test_refused_locally),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
