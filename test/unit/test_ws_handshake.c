/*
 * test_ws_handshake.c: the WebSocket opening handshake (ws_handshake.h).
 *
 * Requests are written as "Name: value" lines and split into the header
 * array http1.h's parser would give, so each case reads like the request it
 * stands for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fakerandom.h"
#include "util.h"
#include "ws_handshake.h"

#define MAX_HDRS 16

/* A NULL-terminated list of "Name: value" lines as parsed headers. */
static size_t
headers(struct http1_header *h, const char *const *lines)
{
	size_t n = 0;

	for (; *lines != NULL; lines++) {
		const char *colon = strchr(*lines, ':'), *v = colon + 1, *end = *lines + strlen(*lines);
		assert_non_null(colon);
		assert_true(n < MAX_HDRS);
		while (*v == ' ' || *v == '\t')
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		h[n].name = *lines;
		h[n].name_len = (size_t)(colon - *lines);
		h[n].value = v;
		h[n].value_len = (size_t)(end - v);
		n++;
	}
	return n;
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 section 1.3 */

static const char *const server_protos[] = { "hoody-tunnel.v1", "hoody-tunnel.v2" };

/* Check a request; returns the status and leaves the result in *res. */
static int
check(struct ws_handshake_result *res, const char *method, int minor, int require, const char *const *lines)
{
	struct http1_header h[MAX_HDRS];
	size_t n = headers(h, lines);

	return ws_handshake_server_check(res, method, strlen(method), minor, h, n, server_protos, 2, require);
}

/* The RFC's request with one header replaced (or dropped when line is ""). */
static int
check_with(struct ws_handshake_result *res, const char *name, const char *line)
{
	const char *base[] = { "Host: server.example.com",
			       "Upgrade: websocket",
			       "Connection: Upgrade",
			       "Sec-WebSocket-Key: " KEY,
			       "Sec-WebSocket-Version: 13",
			       "Sec-WebSocket-Protocol: hoody-tunnel.v1",
			       NULL };
	const char *lines[8];
	size_t i, k = 0;

	for (i = 0; base[i] != NULL; i++) {
		if (strncmp(base[i], name, strlen(name)) == 0 && base[i][strlen(name)] == ':') {
			if (line[0] != '\0')
				lines[k++] = line;
			continue;
		}
		lines[k++] = base[i];
	}
	lines[k] = NULL;
	return check(res, "GET", 1, 1, lines);
}

/* ---- keys --------------------------------------------------------------- */

static void
test_accept_key_rfc(void **state)
{
	char out[WS_HANDSHAKE_ACCEPT_LEN + 1];

	(void)state;
	ws_handshake_accept_key(out, KEY, strlen(KEY));
	assert_string_equal(out, ACCEPT);
	/* RFC 6455 section 1.2 / 1.3 second example is the same key; another known pair */
	ws_handshake_accept_key(out, "x3JJHMbDL1EzLkh9GBhXDw==", 24);
	assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void
test_client_key(void **state)
{
	char a[WS_HANDSHAKE_KEY_LEN + 1], b[WS_HANDSHAKE_KEY_LEN + 1];
	uint8_t raw[18];

	(void)state;
	assert_int_equal(ws_handshake_client_key(a), 0);
	assert_int_equal(ws_handshake_client_key(b), 0);
	assert_int_equal(strlen(a), WS_HANDSHAKE_KEY_LEN);
	assert_int_equal(util_base64_decode(raw, sizeof(raw), a, strlen(a)), 16);
	assert_string_not_equal(a, b);
	/* no random numbers: no key */
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	assert_int_equal(ws_handshake_client_key(a), -ENOSYS);
	fakerandom_off();
}

/* ---- client request ----------------------------------------------------- */

static void
test_request_encode(void **state)
{
	static const char want[] = "GET /api/v1/tunnel/connect HTTP/1.1\r\n"
				   "Host: 127.0.0.1:50\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Key: " KEY "\r\n"
				   "Sec-WebSocket-Version: 13\r\n"
				   "Sec-WebSocket-Protocol: hoody-tunnel.v2, hoody-tunnel.v1\r\n"
				   "Authorization: Bearer x\r\n"
				   "\r\n";
	static const char *const protos[] = { "hoody-tunnel.v2", "hoody-tunnel.v1" };
	struct ws_handshake_request rq = {
		"127.0.0.1:50", "/api/v1/tunnel/connect", KEY, protos, 2, "Authorization: Bearer x\r\n"
	};
	char out[512];
	size_t cap;

	(void)state;
	assert_int_equal(ws_handshake_request_encode(out, sizeof(out), &rq), (ssize_t)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* every smaller buffer is refused, never overrun */
	for (cap = 0; cap < strlen(want); cap++)
		assert_int_equal(ws_handshake_request_encode(out, cap, &rq), -1);
	assert_int_equal(ws_handshake_request_encode(out, strlen(want), &rq), (ssize_t)strlen(want));
	/* no protocols, no extra */
	rq.nprotocols = 0;
	rq.extra = NULL;
	assert_true(ws_handshake_request_encode(out, sizeof(out), &rq) > 0);
	assert_null(strstr(out, "Sec-WebSocket-Protocol"));
	/* header injection */
	rq.path = "/x\r\nEvil: 1";
	assert_int_equal(ws_handshake_request_encode(out, sizeof(out), &rq), -1);
	rq.path = "/";
	rq.host = "a\nb";
	assert_int_equal(ws_handshake_request_encode(out, sizeof(out), &rq), -1);
	rq.host = "a";
	rq.nprotocols = 2;
	{
		static const char *const bad[] = { "ok", "x\r\n" };
		rq.protocols = bad;
		assert_int_equal(ws_handshake_request_encode(out, sizeof(out), &rq), -1);
	}
}

/* ---- server checks ------------------------------------------------------ */

static void
test_server_accepts_rfc_request(void **state)
{
	struct ws_handshake_result res;

	(void)state;
	assert_int_equal(check_with(&res, "X", ""), 101);
	assert_string_equal(res.accept, ACCEPT);
	assert_ptr_equal(res.protocol, server_protos[0]);
}

static void
test_server_method_version(void **state)
{
	static const char *const lines[] = { "Host: h",
					     "Upgrade: websocket",
					     "Connection: Upgrade",
					     "Sec-WebSocket-Key: " KEY,
					     "Sec-WebSocket-Version: 13",
					     NULL };
	struct ws_handshake_result res;

	(void)state;
	assert_int_equal(check(&res, "GET", 1, 0, lines), 101);
	assert_null(res.protocol);
	assert_int_equal(check(&res, "POST", 1, 0, lines), 400);
	assert_int_equal(check(&res, "get", 1, 0, lines), 400);
	assert_int_equal(check(&res, "GETX", 1, 0, lines), 400);
	assert_int_equal(check(&res, "GET", 0, 0, lines), 400);
	assert_non_null(strstr(res.reason, "HTTP/1.1"));
	assert_int_equal(check(&res, "GET", 2, 0, lines), 101);
}

static void
test_server_headers(void **state)
{
	static const struct {
		const char *name, *line;
		int status;
	} cases[] = {
		{ "Host", "", 400 },
		{ "Upgrade", "", 400 },
		{ "Upgrade", "Upgrade: h2c", 400 },
		{ "Upgrade", "Upgrade: websockets", 400 },
		{ "Upgrade", "Upgrade: WebSocket", 101 },
		{ "Upgrade", "Upgrade: h2c, websocket", 101 },
		{ "Connection", "", 400 },
		{ "Connection", "Connection: keep-alive", 400 },
		{ "Connection", "Connection: upgrade2", 400 },
		{ "Connection", "Connection: x-upgrade", 400 },
		{ "Connection", "Connection: keep-alive, Upgrade", 101 },
		{ "Connection", "Connection: UPGRADE", 101 },
		{ "Connection", "Connection:  ,\tupgrade\t,", 101 },
		{ "Sec-WebSocket-Version", "", 426 },
		{ "Sec-WebSocket-Version", "Sec-WebSocket-Version: 8", 426 },
		{ "Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8", 426 },
		{ "Sec-WebSocket-Version", "Sec-WebSocket-Version: 013", 426 },
		{ "Sec-WebSocket-Key", "", 400 },
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ", 400 },  /* no padding */
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=", 400 }, /* 23 chars */
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==x", 400 },
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ*=", 400 }, /* bad char */
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA", 400 }, /* 18 bytes */
		{ "Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==", 101 },
	};
	struct ws_handshake_result res;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		print_message("  %s -> %d\n", cases[i].line[0] ? cases[i].line : cases[i].name,
			      cases[i].status);
		assert_int_equal(check_with(&res, cases[i].name, cases[i].line), cases[i].status);
		assert_int_equal(res.status, cases[i].status);
		assert_non_null(res.reason);
	}
}

static void
test_server_repeated_headers(void **state)
{
	static const char *const two_keys[] = { "Host: h",
						"Upgrade: websocket",
						"Connection: Upgrade",
						"Sec-WebSocket-Key: " KEY,
						"Sec-WebSocket-Key: " KEY,
						"Sec-WebSocket-Version: 13",
						NULL };
	static const char *const two_hosts[] = { "Host: h",
						 "Host: i",
						 "Upgrade: websocket",
						 "Connection: Upgrade",
						 "Sec-WebSocket-Key: " KEY,
						 "Sec-WebSocket-Version: 13",
						 NULL };
	static const char *const conn_split[] = { "host: h",
						  "upgrade: websocket",
						  "connection: keep-alive",
						  "CONNECTION: Upgrade",
						  "sec-websocket-key: " KEY,
						  "sec-websocket-version: 13",
						  "sec-websocket-version: 13",
						  NULL };
	static const char *const versions[] = { "Host: h",
						"Upgrade: websocket",
						"Connection: Upgrade",
						"Sec-WebSocket-Key: " KEY,
						"Sec-WebSocket-Version: 13",
						"Sec-WebSocket-Version: 8",
						NULL };
	struct ws_handshake_result res;

	(void)state;
	assert_int_equal(check(&res, "GET", 1, 0, two_keys), 400);
	assert_int_equal(check(&res, "GET", 1, 0, two_hosts), 400);
	assert_int_equal(check(&res, "GET", 1, 0, conn_split), 101);
	assert_string_equal(res.accept, ACCEPT);
	assert_int_equal(check(&res, "GET", 1, 0, versions), 426);
}

/* Subprotocol: the first of the client's offer that the server supports. */
static void
test_server_subprotocol(void **state)
{
	static const struct {
		const char *offer1, *offer2;
		int require;
		int status;
		int chosen; /* index into server_protos, -1 none */
	} cases[] = {
		{ "hoody-tunnel.v2, hoody-tunnel.v1", NULL, 1, 101, 1 },
		{ "hoody-tunnel.v1, hoody-tunnel.v2", NULL, 1, 101, 0 },
		{ "chat, hoody-tunnel.v2", NULL, 1, 101, 1 },
		{ "chat", "hoody-tunnel.v2, hoody-tunnel.v1", 1, 101, 1 },
		{ "hoody-tunnel.v1", "hoody-tunnel.v2", 1, 101, 0 },
		{ "  hoody-tunnel.v2  ", NULL, 1, 101, 1 },
		{ ",,hoody-tunnel.v1,", NULL, 1, 101, 0 },
		{ "HOODY-TUNNEL.V1", NULL, 1, 400, -1 }, /* case-sensitive */
		{ "hoody-tunnel.v1x", NULL, 1, 400, -1 },
		{ "chat, superchat", NULL, 1, 400, -1 },
		{ "chat, superchat", NULL, 0, 101, -1 },
		{ "", NULL, 1, 400, -1 },
		{ NULL, NULL, 1, 400, -1 },
		{ NULL, NULL, 0, 101, -1 },
	};
	char l1[128], l2[128];
	const char *lines[9] = { "Host: h", "Upgrade: websocket", "Connection: Upgrade",
				 ("Sec-WebSocket-Key: " KEY), "Sec-WebSocket-Version: 13" };
	struct ws_handshake_result res;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		size_t k = 5;
		if (cases[i].offer1 != NULL) {
			snprintf(l1, sizeof(l1), "Sec-WebSocket-Protocol: %s", cases[i].offer1);
			lines[k++] = l1;
		}
		if (cases[i].offer2 != NULL) {
			snprintf(l2, sizeof(l2), "Sec-WebSocket-Protocol: %s", cases[i].offer2);
			lines[k++] = l2;
		}
		lines[k] = NULL;
		print_message("  [%s] [%s] require=%d\n", cases[i].offer1 ? cases[i].offer1 : "-",
			      cases[i].offer2 ? cases[i].offer2 : "-", cases[i].require);
		assert_int_equal(check(&res, "GET", 1, cases[i].require, lines), cases[i].status);
		if (cases[i].chosen < 0)
			assert_null(res.protocol);
		else
			assert_ptr_equal(res.protocol, server_protos[cases[i].chosen]);
	}
	/* the reason tells missing from unsupported */
	lines[5] = NULL;
	check(&res, "GET", 1, 1, lines);
	assert_string_equal(res.reason, "missing subprotocol");
	lines[5] = "Sec-WebSocket-Protocol: chat";
	lines[6] = NULL;
	check(&res, "GET", 1, 1, lines);
	assert_string_equal(res.reason, "unsupported subprotocol");
}

/* ---- server responses --------------------------------------------------- */

static void
test_response_101(void **state)
{
	static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: " ACCEPT "\r\n"
				   "Sec-WebSocket-Protocol: hoody-tunnel.v1\r\n"
				   "\r\n";
	struct ws_handshake_result res;
	char out[512];
	size_t cap;

	(void)state;
	assert_int_equal(check_with(&res, "X", ""), 101);
	assert_int_equal(ws_handshake_response_encode(out, sizeof(out), &res, NULL), (ssize_t)strlen(want));
	assert_memory_equal(out, want, strlen(want));
	for (cap = 0; cap < strlen(want); cap++)
		assert_int_equal(ws_handshake_response_encode(out, cap, &res, NULL), -1);
	/* without a subprotocol, with an extra header */
	res.protocol = NULL;
	assert_true(ws_handshake_response_encode(out, sizeof(out), &res, "X-A: b\r\n") > 0);
	assert_null(strstr(out, "Sec-WebSocket-Protocol"));
	assert_non_null(strstr(out, "X-A: b\r\n\r\n"));
}

static void
test_response_errors(void **state)
{
	static const char want400[] = "HTTP/1.1 400 Bad Request\r\n"
				      "Content-Type: text/plain; charset=utf-8\r\n"
				      "Connection: close\r\n"
				      "Content-Length: 20\r\n"
				      "\r\n"
				      "missing subprotocol\n";
	struct ws_handshake_result res;
	char out[512];
	ssize_t n;
	const char *body;

	(void)state;
	assert_int_equal(check_with(&res, "Sec-WebSocket-Protocol", ""), 400);
	n = ws_handshake_response_encode(out, sizeof(out), &res, NULL);
	assert_int_equal(n, (ssize_t)strlen(want400));
	assert_memory_equal(out, want400, strlen(want400));

	assert_int_equal(check_with(&res, "Sec-WebSocket-Version", "Sec-WebSocket-Version: 7"), 426);
	n = ws_handshake_response_encode(out, sizeof(out), &res, NULL);
	assert_true(n > 0);
	out[n] = '\0';
	assert_true(strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0);
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	/* Content-Length counts the body exactly */
	body = strstr(out, "\r\n\r\n") + 4;
	{
		char cl[64];
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body));
		assert_non_null(strstr(out, cl));
	}
	assert_int_equal(ws_handshake_response_encode(out, 40, &res, NULL), -1);
}

/* ---- client checks ------------------------------------------------------ */

static const char *
client_check(int status, const char *const *lines, int require, const char **sel)
{
	static const char *const offered[] = { "hoody-tunnel.v2", "hoody-tunnel.v1" };
	struct http1_header h[MAX_HDRS];
	size_t n = headers(h, lines);

	return ws_handshake_client_check(status, h, n, KEY, strlen(KEY), offered, 2, require, sel);
}

static void
test_client_check(void **state)
{
	static const char *const ok[] = { "Upgrade: websocket", "Connection: Upgrade",
					  "Sec-WebSocket-Accept: " ACCEPT,
					  "Sec-WebSocket-Protocol: hoody-tunnel.v1", NULL };
	static const char *const noproto[] = { "Upgrade: WebSocket", "Connection: upgrade",
					       "Sec-WebSocket-Accept: " ACCEPT, NULL };
	static const char *const badacc[] = { "Upgrade: websocket", "Connection: Upgrade",
					      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=", NULL };
	static const char *const shortacc[] = { "Upgrade: websocket", "Connection: Upgrade",
						"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo", NULL };
	static const char *const noacc[] = { "Upgrade: websocket", "Connection: Upgrade", NULL };
	static const char *const noupg[] = { "Connection: Upgrade", "Sec-WebSocket-Accept: " ACCEPT, NULL };
	static const char *const noconn[] = { "Upgrade: websocket", "Sec-WebSocket-Accept: " ACCEPT, NULL };
	static const char *const ext[] = { "Upgrade: websocket", "Connection: Upgrade",
					   "Sec-WebSocket-Accept: " ACCEPT,
					   "Sec-WebSocket-Extensions: permessage-deflate", NULL };
	static const char *const other[] = { "Upgrade: websocket", "Connection: Upgrade",
					     "Sec-WebSocket-Accept: " ACCEPT, "Sec-WebSocket-Protocol: chat",
					     NULL };
	static const char *const list[] = { "Upgrade: websocket", "Connection: Upgrade",
					    "Sec-WebSocket-Accept: " ACCEPT,
					    "Sec-WebSocket-Protocol: hoody-tunnel.v1, hoody-tunnel.v2",
					    NULL };
	static const char *const two[] = { "Upgrade: websocket",
					   "Connection: Upgrade",
					   "Sec-WebSocket-Accept: " ACCEPT,
					   "Sec-WebSocket-Protocol: hoody-tunnel.v1",
					   "Sec-WebSocket-Protocol: hoody-tunnel.v1",
					   NULL };
	const char *sel = "junk";

	(void)state;
	assert_null(client_check(101, ok, 1, &sel));
	assert_string_equal(sel, "hoody-tunnel.v1");
	assert_null(client_check(101, noproto, 0, &sel));
	assert_null(sel);
	assert_non_null(strstr(client_check(101, noproto, 1, &sel), "no subprotocol"));
	assert_non_null(strstr(client_check(200, ok, 1, &sel), "101"));
	assert_non_null(strstr(client_check(426, ok, 1, NULL), "101"));
	assert_non_null(strstr(client_check(101, badacc, 0, NULL), "Accept"));
	assert_non_null(strstr(client_check(101, shortacc, 0, NULL), "Accept"));
	assert_non_null(strstr(client_check(101, noacc, 0, NULL), "Accept"));
	assert_non_null(strstr(client_check(101, noupg, 0, NULL), "Upgrade"));
	assert_non_null(strstr(client_check(101, noconn, 0, NULL), "Connection"));
	assert_non_null(strstr(client_check(101, ext, 0, NULL), "extension"));
	assert_non_null(strstr(client_check(101, other, 0, NULL), "did not offer"));
	assert_non_null(strstr(client_check(101, list, 0, NULL), "did not offer"));
	assert_non_null(strstr(client_check(101, two, 0, NULL), "more than one"));
}

/* The server's answer passes the client's check: both halves agree. */
static void
test_both_sides(void **state)
{
	static const char *const offered[] = { "hoody-tunnel.v2" };
	char key[WS_HANDSHAKE_KEY_LEN + 1], line[64];
	const char *lines[7] = {
		"Host: h", "Upgrade: websocket",        "Connection: Upgrade",
		line,      "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: hoody-tunnel.v2",
		NULL
	};
	struct http1_header h[MAX_HDRS];
	struct ws_handshake_result res;
	char acc[80], proto[80];
	const char *resp[] = { "Upgrade: websocket", "Connection: Upgrade", acc, proto, NULL };
	const char *sel;
	size_t n;

	(void)state;
	assert_int_equal(ws_handshake_client_key(key), 0);
	snprintf(line, sizeof(line), "Sec-WebSocket-Key: %s", key);
	assert_int_equal(check(&res, "GET", 1, 1, lines), 101);
	snprintf(acc, sizeof(acc), "Sec-WebSocket-Accept: %s", res.accept);
	snprintf(proto, sizeof(proto), "Sec-WebSocket-Protocol: %s", res.protocol);
	n = headers(h, resp);
	assert_null(ws_handshake_client_check(101, h, n, key, strlen(key), offered, 1, 1, &sel));
	assert_ptr_equal(sel, offered[0]);
}

static void
test_has_token(void **state)
{
	(void)state;
	assert_true(ws_handshake_has_token("a, b ,c", 7, "b"));
	assert_true(ws_handshake_has_token("a, b ,c", 7, "C"));
	assert_false(ws_handshake_has_token("a, b ,c", 5, "c")); /* length respected */
	assert_false(ws_handshake_has_token("", 0, "a"));
	assert_false(ws_handshake_has_token(" , ,", 4, "a"));
	assert_false(ws_handshake_has_token("ab", 2, "a"));
	assert_false(ws_handshake_has_token("a b", 3, "a"));
	assert_true(ws_handshake_has_token("\tupgrade\t", 9, "upgrade"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key_rfc),
		cmocka_unit_test(test_client_key),
		cmocka_unit_test(test_request_encode),
		cmocka_unit_test(test_server_accepts_rfc_request),
		cmocka_unit_test(test_server_method_version),
		cmocka_unit_test(test_server_headers),
		cmocka_unit_test(test_server_repeated_headers),
		cmocka_unit_test(test_server_subprotocol),
		cmocka_unit_test(test_response_101),
		cmocka_unit_test(test_response_errors),
		cmocka_unit_test(test_client_check),
		cmocka_unit_test(test_both_sides),
		cmocka_unit_test(test_has_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
