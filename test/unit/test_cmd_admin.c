/*
 * test_cmd_admin.c: htc's admin commands against a scripted loopback
 * daemon (fakesrv.h) answering the JSON shapes of DESIGN.md: the requests
 * sent (method, target, admin prefix, Bearer token), the tables printed,
 * --json and --quiet, and what a user sees on stderr with the exit status
 * for refused connections, error statuses, bodies that are not JSON,
 * missing fields, control characters from the daemon and bad arguments.
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
#include <unistd.h>

#include "util.h"
#include "htc/htc.h"
#include "fakesrv.h"

#define J "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"

static const struct fake_reply replies[] = {
	{ .target = "/api/v1/tunnel/health",
	  .parts = { J "{\"status\":\"ok\",\"service\":\"hoody-tunnel\",\"version\":\"0.1.0\","
		       "\"started\":\"2999-01-01T00:00:00Z\",\"pid\":4242,\"fds\":17,\"memory\":{\"rss\":"
		       "24536678}}" } },
	{ .target = "/t/api/v1/tunnel/health",
	  .parts = { J "{\"status\":\"ok\",\"version\":\"9\",\"started\":\"2000-01-01T00:00:00Z\"}" } },
	{ .target = "/api/v1/tunnel/tunnels",
	  .parts = { J "{\"sessions\":[{\"sessionId\":\"s-7f3a\",\"peerAddr\":\"10.0.0.9:51234\","
		       "\"protocol\":\"v2\","
		       "\"connectionsGranted\":4,\"activeStreams\":12,\"exposeBindings\":[{\"bindId\":1,"
		       "\"containerPort\":3000},{\"bindId\":2,\"containerPort\":5000}],\"pullBindings\":[{"
		       "\"bindId\":3,"
		       "\"containerPort\":5432}]},{\"sessionId\":\"s-1\",\"peerAddr\":\"[::1]:4000\","
		       "\"protocol\":\"v1\","
		       "\"connectionsGranted\":1,\"activeStreams\":0,\"exposeBindings\":[],\"pullBindings\":["
		       "]}],",
		     "\"orphanedSessions\":1,\"totalStreams\":12,\"totalBindings\":3,\"fdPermitsAvailable\":"
		     "1010}" },
	  .delay_ms = 10 },
	{ .target = "/api/v1/tunnel/sessions",
	  .parts = { J
		     "{\"sessions\":[{\"sessionId\":\"s-7f3a\",\"peerAddr\":\"10.0.0.9:51234\",\"isV2\":true,"
		     "\"connectionsGranted\":4,\"activeStreams\":12,\"maxStreams\":1024,\"bindings\":[{"
		     "\"bindId\":1,"
		     "\"kind\":\"expose\",\"mode\":\"http\",\"containerPort\":3000},{\"bindId\":3,\"kind\":"
		     "\"pull\","
		     "\"mode\":\"tcp\",\"containerPort\":5432},{\"bindId\":4,\"kind\":\"expose\",\"mode\":"
		     "\"http\","
		     "\"containerPort\":null,\"subdomain\":\"demo\"}]},{\"sessionId\":\"\\u001b[2Jevil\\n\","
		     "\"isV2\":false}],"
		     "\"total\":2}" } },
	{ .target = "/api/v1/tunnel/bindings",
	  .parts = { J "{\"bindings\":[{\"sessionId\":\"s-7f3a\",\"bindId\":1,\"kind\":\"expose\",\"mode\":"
		       "\"http\","
		       "\"port\":3000},{\"sessionId\":\"s-7f3a\",\"bindId\":3,\"kind\":\"pull\",\"mode\":"
		       "\"tcp\","
		       "\"port\":5432},{\"sessionId\":\"s-7f3a\",\"bindId\":4,\"kind\":\"expose\",\"mode\":"
		       "\"http\",\"port\":null,\"subdomain\":\"@\"}],\"total\":3}" } },
	{ .target = "/api/v1/tunnel/metrics",
	  .parts = { "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nTransfer-Encoding: "
		     "chunked\r\n\r\n"
		     "2a\r\n# TYPE hoody_tunnel_sessions_active gauge\n\r\n",
		     "1f\r\nhoody_tunnel_sessions_active 2\n\r\n0\r\n\r\n" },
	  .delay_ms = 10 },
	{ .target = "/api/v1/tunnel/sessions/a%2Fb%20c?grace_ms=250",
	  .parts = { "HTTP/1.1 202 Accepted\r\n\r\n{\"sessionId\":\"a/b c\",\"status\":\"closing\"}" } },
	{ .target = "/api/v1/tunnel/sessions/s1",
	  .parts = { "HTTP/1.1 202 Accepted\r\n\r\n{\"sessionId\":\"s1\",\"status\":\"closing\"}" } },
	{ .target = "/api/v1/tunnel/sessions/nope",
	  .parts = { "HTTP/1.1 404 Not Found\r\n\r\n{\"error\":\"unknown session\"}" } },
	{ .target = "/x/api/v1/tunnel/health",
	  .parts = { "HTTP/1.1 401 Unauthorized\r\nContent-Length: 23\r\n\r\n{\"error\":\"bad "
		     "token\"}\r\n" } },
	{ .target = "/y/api/v1/tunnel/health",
	  .parts = { "HTTP/1.1 502 Bad Gateway\r\n\r\n<html>upstream\x1b[31m down</html>\r\nmore" } },
	{ .target = "/z/api/v1/tunnel/health", .parts = { J "[1,2]" } },
	{ .target = "/w/api/v1/tunnel/health", .parts = { J "{\"status\":" } },
	{ .target = "/v/api/v1/tunnel/health", .parts = { J "{}" } },
	{ .target = "/u/api/v1/tunnel/health",
	  .parts = { "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"x\":1}" } },
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

/* Options as main would fill them for URL path (on the fake server) and token. */
static void
opts(struct htc_opts *o, const char *path, const char *token)
{
	static char url[128];

	memset(o, 0, sizeof(*o));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv.port, path);
	o->url = url;
	assert_int_equal(url_parse(&o->u, url), 0);
	o->token = token;
}

#define assert_prefix(s, lit) assert_memory_equal((s), (lit), strlen(lit))

struct out {
	int rc;
	char out[8192];
	char err[4096];
};

/* Read what fd holds from the start into buf (NUL-terminated), then close it. */
static void
slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/*
 * Run handler fn with args (NULL-terminated list) and capture stdout, stderr
 * and the status; fakesrv_request() then returns the request it caused.
 */
static void
run(struct out *r, int (*fn)(struct htc_opts *, int, char **), struct htc_opts *o, ...)
{
	char *argv[8];
	int argc = 0, save1, save2, f1, f2;
	FILE *t1 = tmpfile(), *t2 = tmpfile();
	va_list ap;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	assert_non_null(t1);
	assert_non_null(t2);
	f1 = dup(fileno(t1));
	f2 = dup(fileno(t2));
	fclose(t1);
	fclose(t2);
	fakesrv_drain(&srv);
	fflush(stdout);
	fflush(stderr);
	save1 = dup(1);
	save2 = dup(2);
	dup2(f1, 1);
	dup2(f2, 2);
	r->rc = fn(o, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save1);
	close(save2);
	slurp(f1, r->out, sizeof(r->out));
	slurp(f2, r->err, sizeof(r->err));
}

static void
test_health(void **state)
{
	struct htc_opts o;
	struct out r;
	char req[4096];

	(void)state;
	opts(&o, "", NULL);
	run(&r, cmd_health, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	/* Started in the future: no uptime to show. */
	assert_string_equal(r.out, "STATUS  VERSION  STARTED               UPTIME  PID   FDS  RSS\n"
				   "ok      0.1.0    2999-01-01T00:00:00Z  -       4242  17   23.4 MiB\n");
	fakesrv_request(&srv, req, sizeof(req));
	assert_prefix(req, "GET /api/v1/tunnel/health HTTP/1.1\r\n");
	assert_null(strstr(req, "Authorization"));

	/* --json: the body as received, with a newline. */
	o.json = true;
	run(&r, cmd_health, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\"status\":\"ok\",\"service\":\"hoody-tunnel\",\"version\":\"0.1.0\","
				   "\"started\":\"2999-01-01T00:00:00Z\",\"pid\":4242,\"fds\":17,\"memory\":{"
				   "\"rss\":24536678}}\n");
}

static void
test_health_prefix_token_uptime(void **state)
{
	struct htc_opts o;
	struct out r;
	char req[4096];

	(void)state;
	/* A daemon mounted under /t: the admin endpoints follow; the token goes on GETs too. */
	opts(&o, "/t/api/v1/tunnel/connect", "tok");
	run(&r, cmd_health, &o, NULL);
	assert_int_equal(r.rc, 0);
	fakesrv_request(&srv, req, sizeof(req));
	assert_prefix(req, "GET /t/api/v1/tunnel/health HTTP/1.1\r\n");
	assert_non_null(strstr(req, "\r\nAuthorization: Bearer tok\r\n"));
	/* Missing fields show as "-"; an old start time gives days of uptime. */
	{
		char c[7][64], up[64];
		const char *row = strchr(r.out, '\n') + 1;
		assert_int_equal(sscanf(row, "%63s %63s %63s %63s %63s %63s %63s", c[0], c[1], c[2], c[3],
					c[4], c[5], c[6]),
				 7);
		assert_string_equal(c[0], "ok");
		assert_string_equal(c[1], "9");
		assert_string_equal(c[2], "2000-01-01T00:00:00Z");
		assert_int_equal(sscanf(c[3], "%*ud%*2uh%63s", up), EOF); /* "NNNNdHHh", nothing after */
		assert_non_null(strchr(c[3], 'd'));
		assert_string_equal(c[4], "-");
		assert_string_equal(c[5], "-");
		assert_string_equal(c[6], "-");
	}
}

static void
test_list(void **state)
{
	struct htc_opts o;
	struct out r;

	(void)state;
	opts(&o, "/", NULL);
	run(&r, cmd_list, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(
		r.out, "SESSION  PEER            PROTO  STREAMS  EXPOSE     PULL\n"
		       "s-7f3a   10.0.0.9:51234  v2          12  3000,5000  5432\n"
		       "s-1      [::1]:4000      v1           0  -          -\n"
		       "2 session(s), 1 orphaned, 12 stream(s), 3 binding(s), 1010 fd permit(s) available\n");
}

static void
test_sessions_bindings_metrics(void **state)
{
	struct htc_opts o;
	struct out r;

	(void)state;
	opts(&o, "", NULL);
	run(&r, cmd_sessions, &o, NULL);
	assert_int_equal(r.rc, 0);
	/* The escape sequence and newline from the daemon are shown as '?'. */
	assert_string_equal(
		r.out, "ID         PEER            V2   CONNS  STREAMS  BINDINGS\n"
		       "s-7f3a     10.0.0.9:51234  yes      4  12/1024  expose:3000,pull:5432,expose:demo.\n"
		       "?[2Jevil?  -               no       -        -  -\n");

	run(&r, cmd_bindings, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "SESSION  BIND  KIND    MODE  PORT\n"
				   "s-7f3a      1  expose  http  3000\n"
				   "s-7f3a      3  pull    tcp   5432\n"
				   "s-7f3a      4  expose  http     @\n");

	run(&r, cmd_metrics, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out,
			    "# TYPE hoody_tunnel_sessions_active gauge\nhoody_tunnel_sessions_active 2\n");
}

static void
test_kill(void **state)
{
	struct htc_opts o;
	struct out r;
	char req[4096];

	(void)state;
	opts(&o, "", NULL);
	run(&r, cmd_kill, &o, "s1", NULL);
	assert_int_equal(r.rc, HTC_EXIT_USAGE);
	assert_string_equal(r.err,
			    "htc: kill: needs the token (--token, --token-file or HOODY_TUNNEL_TOKEN)\n");

	opts(&o, "", "sekret");
	run(&r, cmd_kill, &o, "a/b c", "--grace-ms", "250", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "session a/b c closing\n");
	fakesrv_request(&srv, req, sizeof(req));
	assert_prefix(req, "DELETE /api/v1/tunnel/sessions/a%2Fb%20c?grace_ms=250 HTTP/1.1\r\n");
	assert_non_null(strstr(req, "\r\nAuthorization: Bearer sekret\r\n"));

	/* No --grace-ms: no query; --grace-ms=N form; --quiet; --json. */
	run(&r, cmd_kill, &o, "s1", NULL);
	assert_int_equal(r.rc, 0);
	fakesrv_request(&srv, req, sizeof(req));
	assert_prefix(req, "DELETE /api/v1/tunnel/sessions/s1 HTTP/1.1\r\n");
	o.quiet = true;
	run(&r, cmd_kill, &o, "--grace-ms=250", "a/b c", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	o.quiet = false;
	o.json = true;
	run(&r, cmd_kill, &o, "s1", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\"sessionId\":\"s1\",\"status\":\"closing\"}\n");
	o.json = false;

	run(&r, cmd_kill, &o, "nope", NULL);
	assert_int_equal(r.rc, HTC_EXIT_FAIL);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err,
			    "htc: DELETE /api/v1/tunnel/sessions/nope: 404 Not Found: unknown session\n");
	assert_null(strstr(r.err, "sekret"));
}

static void
test_kill_args(void **state)
{
	static const struct {
		const char *a[4];
		const char *err;
	} v[] = {
		{ { NULL }, "htc: kill: missing SESSION_ID\n" },
		{ { "", NULL }, "htc: kill: missing SESSION_ID\n" },
		{ { "a", "b", NULL }, "htc: kill: unexpected argument 'b'\n" },
		{ { "a", "--grace-ms", NULL }, "htc: kill: --grace-ms needs a value\n" },
		{ { "a", "--grace-ms", "5001", NULL }, "htc: kill: --grace-ms must be 0..5000\n" },
		{ { "a", "--grace-ms", "-1", NULL }, "htc: kill: --grace-ms must be 0..5000\n" },
		{ { "a", "--grace-ms=x", NULL }, "htc: kill: --grace-ms must be 0..5000\n" },
		{ { "a", "--force", NULL }, "htc: kill: unknown option --force\n" },
	};
	struct htc_opts o;
	struct out r;
	size_t i;

	(void)state;
	opts(&o, "", "sekret");
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		run(&r, cmd_kill, &o, v[i].a[0], v[i].a[1], v[i].a[2], v[i].a[3]);
		assert_int_equal(r.rc, HTC_EXIT_USAGE);
		assert_string_equal(r.err, v[i].err);
	}
	/* "--" ends the options: an id may start with a dash. 0 and 5000 are in range. */
	run(&r, cmd_kill, &o, "--", "-odd", "--grace-ms", NULL);
	assert_int_equal(r.rc, HTC_EXIT_USAGE);
	assert_string_equal(r.err, "htc: kill: unexpected argument '--grace-ms'\n");
}

static void
test_no_args_allowed(void **state)
{
	int (*const fns[])(struct htc_opts *, int, char **) = { cmd_health, cmd_list, cmd_sessions,
								cmd_bindings, cmd_metrics };
	struct htc_opts o;
	struct out r;
	size_t i;

	(void)state;
	opts(&o, "", NULL);
	for (i = 0; i < UTIL_ARRAY_SIZE(fns); i++) {
		run(&r, fns[i], &o, "extra", NULL);
		assert_int_equal(r.rc, HTC_EXIT_USAGE);
		assert_non_null(strstr(r.err, ": unexpected argument 'extra'\n"));
		assert_string_equal(r.out, "");
	}
}

static void
test_errors(void **state)
{
	static const struct {
		const char *path;
		const char *token;
		const char *err;
	} v[] = {
		{ "/x/api/v1/tunnel/connect", NULL,
		  "htc: GET /x/api/v1/tunnel/health: 401 Unauthorized: bad token (no token given: use "
		  "--token, "
		  "--token-file or HOODY_TUNNEL_TOKEN)\n" },
		{ "/x/api/v1/tunnel/connect", "t",
		  "htc: GET /x/api/v1/tunnel/health: 401 Unauthorized: bad token\n" },
		{ "/y/api/v1/tunnel/connect", NULL,
		  "htc: GET /y/api/v1/tunnel/health: 502 Bad Gateway: <html>upstream?[31m down</html>\n" },
		{ "/u/api/v1/tunnel/connect", NULL,
		  "htc: GET /u/api/v1/tunnel/health: 500 Internal Server Error\n" },
		{ "/z/api/v1/tunnel/connect", NULL,
		  "htc: health: the daemon's answer is not a JSON object (other type at byte 0)\n" },
		{ "/w/api/v1/tunnel/connect", NULL,
		  "htc: health: the daemon's answer is not a JSON object (" },
	};
	struct htc_opts o;
	struct out r;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		opts(&o, v[i].path, v[i].token);
		run(&r, cmd_health, &o, NULL);
		assert_int_equal(r.rc, HTC_EXIT_FAIL);
		assert_string_equal(r.out, "");
		if (strncmp(r.err, v[i].err, strlen(v[i].err)) != 0)
			fail_msg("%s: got '%s'", v[i].path, r.err);
	}
	/* An empty object is a valid answer: every cell is "-". */
	opts(&o, "/v/api/v1/tunnel/connect", NULL);
	run(&r, cmd_health, &o, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "STATUS  VERSION  STARTED  UPTIME  PID  FDS  RSS\n"
				   "-       -        -        -       -    -    -\n");
}

static void
test_unreachable(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char want[128], url[64];
	struct htc_opts o;
	struct out r;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(url_parse(&o.u, url), 0);
	run(&r, cmd_list, &o, NULL);
	assert_int_equal(r.rc, HTC_EXIT_FAIL);
	snprintf(want, sizeof(want), "htc: GET /api/v1/tunnel/tunnels: cannot connect to 127.0.0.1:%d: %s\n",
		 ntohs(a.sin_port), strerror(ECONNREFUSED));
	assert_string_equal(r.err, want);

	/* wss:// goes the same way: the TCP connect fails before any TLS */
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(url_parse(&o.u, url), 0);
	run(&r, cmd_metrics, &o, NULL);
	assert_int_equal(r.rc, HTC_EXIT_FAIL);
	snprintf(want, sizeof(want), "htc: GET /api/v1/tunnel/metrics: cannot connect to 127.0.0.1:%d: %s\n",
		 ntohs(a.sin_port), strerror(ECONNREFUSED));
	assert_string_equal(r.err, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_health_prefix_token_uptime),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_sessions_bindings_metrics),
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_kill_args),
		cmocka_unit_test(test_no_args_allowed),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
