/*
 * test_url.c: htc's address parsing: daemon URLs (schemes, hosts, IPv6
 * literals, ports, paths, admin targets, Host header values), local
 * "[HOST:]PORT" specs, "[CONTAINER:]LOCAL" maps, subdomains and
 * "[NAME=]LOCAL" host routes, listening addresses, "[LHOST:]LPORT:RHOST:RPORT"
 * forwards, and every refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "htc/url.h"

static void
test_default_url(void **state)
{
	struct url u;
	char buf[128];

	(void)state;
	assert_int_equal(url_parse(&u, URL_DEFAULT), 0);
	assert_null(u.err);
	assert_int_equal(u.scheme, URL_WS);
	assert_false(u.tls);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 50);
	assert_true(u.port_given);
	assert_string_equal(u.path, "/api/v1/tunnel/connect");
	assert_int_equal(u.prefix_len, 0);
	assert_int_equal(url_admin_target(&u, "health", buf, sizeof(buf)), 21);
	assert_string_equal(buf, "/api/v1/tunnel/health");
	assert_int_equal(url_authority(&u, 1, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "127.0.0.1:50");
}

static void
test_schemes_and_default_ports(void **state)
{
	static const struct {
		const char *in;
		enum url_scheme scheme;
		int tls;
		uint16_t port;
	} v[] = {
		{ "ws://h", URL_WS, 0, 80 },
		{ "wss://h", URL_WSS, 1, 443 },
		{ "http://h", URL_HTTP, 0, 80 },
		{ "https://h", URL_HTTPS, 1, 443 },
		{ "HTTPS://h", URL_HTTPS, 1, 443 },
		{ "Ws://h:8080", URL_WS, 0, 8080 },
		{ "h", URL_WS, 0, 80 },           /* no scheme: ws */
		{ "10.0.0.5:50", URL_WS, 0, 50 }, /* no scheme, with port */
	};
	struct url u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(url_parse(&u, v[i].in), 0);
		assert_int_equal(u.scheme, v[i].scheme);
		assert_int_equal(u.tls, v[i].tls);
		assert_int_equal(u.port, v[i].port);
		assert_string_equal(u.path, URL_TUNNEL_PATH);
	}
	assert_string_equal(url_scheme_name(URL_WSS), "wss");
	assert_string_equal(url_scheme_name(URL_SCHEME_MAX), "?");
}

static void
test_paths(void **state)
{
	struct url u;
	char buf[128];

	(void)state;
	assert_int_equal(url_parse(&u, "ws://h:1/"), 0);
	assert_string_equal(u.path, URL_TUNNEL_PATH);
	assert_int_equal(url_parse(&u, "ws://h:1?x=1"), 0);
	assert_string_equal(u.path, "/api/v1/tunnel/connect?x=1");
	assert_int_equal(url_parse(&u, "ws://h:1/?x=1"), 0);
	assert_string_equal(u.path, "/api/v1/tunnel/connect?x=1");

	/* Mounted under a prefix: the admin endpoints follow it. */
	assert_int_equal(url_parse(&u, "https://example.com/t/api/v1/tunnel/connect?a=b"), 0);
	assert_string_equal(u.path, "/t/api/v1/tunnel/connect?a=b");
	assert_int_equal(u.prefix_len, 2);
	url_admin_target(&u, "sessions/abc?grace_ms=5", buf, sizeof(buf));
	assert_string_equal(buf, "/t/api/v1/tunnel/sessions/abc?grace_ms=5");

	/* Any other path is the tunnel path as given; admin at the root. */
	assert_int_equal(url_parse(&u, "wss://example.com/custom/ws"), 0);
	assert_string_equal(u.path, "/custom/ws");
	assert_int_equal(u.prefix_len, 0);
	url_admin_target(&u, "bindings", buf, sizeof(buf));
	assert_string_equal(buf, "/api/v1/tunnel/bindings");

	/* Exactly the tunnel path: no prefix. */
	assert_int_equal(url_parse(&u, "ws://h/api/v1/tunnel/connect"), 0);
	assert_int_equal(u.prefix_len, 0);
	/* The tunnel path inside a longer last segment is not a prefix match. */
	assert_int_equal(url_parse(&u, "ws://h/x/api/v1/tunnel/connectX"), 0);
	assert_int_equal(u.prefix_len, 0);
}

static void
test_ipv6(void **state)
{
	struct url u;
	char buf[64];

	(void)state;
	assert_int_equal(url_parse(&u, "ws://[::1]:50/api/v1/tunnel/connect"), 0);
	assert_true(u.host_v6);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 50);
	url_authority(&u, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:50");

	assert_int_equal(url_parse(&u, "wss://[2001:db8::7]"), 0);
	assert_string_equal(u.host, "2001:db8::7");
	assert_int_equal(u.port, 443);
	assert_false(u.port_given);
	url_authority(&u, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::7]");
	url_authority(&u, 0, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::7]:443");
}

static void
test_authority_default_port(void **state)
{
	struct url u;
	char buf[64], small[5];

	(void)state;
	assert_int_equal(url_parse(&u, "https://example.com:443"), 0);
	assert_int_equal(url_authority(&u, 1, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "example.com");
	url_authority(&u, 0, buf, sizeof(buf));
	assert_string_equal(buf, "example.com:443");
	assert_int_equal(url_parse(&u, "http://example.com:443"), 0); /* not the default for http */
	url_authority(&u, 1, buf, sizeof(buf));
	assert_string_equal(buf, "example.com:443");
	assert_int_equal(url_authority(&u, 1, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(url_admin_target(&u, "health", small, sizeof(small)), -1);
	assert_string_equal(small, "");
}

static void
test_bad_urls(void **state)
{
	static const char *const bad[] = {
		"",
		"ftp://h",
		"ws://",
		"ws://:50",
		"ws://h:",
		"ws://h:0",
		"ws://h:65536",
		"ws://h:99999999999",
		"ws://h:5x",
		"ws://h:-1",
		"ws://user:pw@h",
		"ws://tok@h:50/",
		"ws://h/path#frag",
		"ws://h/pa th",
		"ws://h/\x01",
		"ws://h/\xc3\xa9",
		"ws://::1", /* IPv6 needs brackets */
		"ws://[::1",
		"ws://[]:50",
		"ws://[zz::1]:50",
		"ws://[::1]x",
		"ws://[::1]:",
		"ws://[127.0.0.1]",
		"ws://h_ost!/",
		"ws://ho%41st",
	};
	struct url u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (url_parse(&u, bad[i]) != -1)
			fail_msg("accepted bad URL '%s'", bad[i]);
		assert_non_null(u.err);
	}
	assert_int_equal(url_parse(&u, NULL), -1);
}

static void
test_too_long(void **state)
{
	static char s[URL_PATH_MAX + 64], host[URL_HOST_MAX + 8];
	struct url u;

	(void)state;
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(s, sizeof(s), "ws://%s/", host);
	assert_int_equal(url_parse(&u, s), -1);
	/* The longest host fits. */
	host[URL_HOST_MAX - 1] = '\0';
	snprintf(s, sizeof(s), "ws://%s/", host);
	assert_int_equal(url_parse(&u, s), 0);
	assert_int_equal(strlen(u.host), URL_HOST_MAX - 1);

	memcpy(s, "ws://h/", 7);
	memset(s + 7, 'p', URL_PATH_MAX);
	s[7 + URL_PATH_MAX] = '\0';
	assert_int_equal(url_parse(&u, s), -1);
	assert_string_equal(u.err, "path too long");
	s[URL_PATH_MAX + 5] = '\0'; /* path of URL_PATH_MAX - 1 bytes fits */
	assert_int_equal(url_parse(&u, s), 0);
	assert_int_equal(strlen(u.path), URL_PATH_MAX - 1);
}

static void
test_port(void **state)
{
	uint16_t p = 7;

	(void)state;
	assert_int_equal(url_parse_port("1", 0, &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(url_parse_port("65535", 0, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(url_parse_port("0080", 0, &p), 0);
	assert_int_equal(p, 80);
	assert_int_equal(url_parse_port("0", 1, &p), 0);
	assert_int_equal(p, 0);
	p = 7;
	assert_int_equal(url_parse_port("0", 0, &p), -1);
	assert_int_equal(url_parse_port("65536", 1, &p), -1);
	assert_int_equal(url_parse_port("", 1, &p), -1);
	assert_int_equal(url_parse_port(NULL, 1, &p), -1);
	assert_int_equal(url_parse_port("+1", 1, &p), -1);
	assert_int_equal(url_parse_port(" 1", 1, &p), -1);
	assert_int_equal(url_parse_port("1 ", 1, &p), -1);
	assert_int_equal(url_parse_port("18446744073709551617", 1, &p), -1);
	assert_int_equal(p, 7); /* untouched on failure */
}

static void
test_local(void **state)
{
	struct url_local l;
	const char *err = NULL;
	char buf[64];

	(void)state;
	assert_int_equal(url_parse_local(&l, "3000", &err), 0);
	assert_string_equal(l.host, URL_LOCAL_HOST_DEFAULT);
	assert_false(l.host_given);
	assert_int_equal(l.port, 3000);
	url_local_format(&l, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:3000");

	assert_int_equal(url_parse_local(&l, "localhost:3000", &err), 0);
	assert_string_equal(l.host, "localhost");
	assert_true(l.host_given);
	assert_false(l.host_v6);

	assert_int_equal(url_parse_local(&l, "127.0.0.1:5432", &err), 0);
	assert_string_equal(l.host, "127.0.0.1");
	assert_int_equal(l.port, 5432);

	assert_int_equal(url_parse_local(&l, "[::1]:3000", &err), 0);
	assert_string_equal(l.host, "::1");
	assert_true(l.host_v6);
	assert_int_equal(url_local_format(&l, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "[::1]:3000");
	assert_int_equal(url_local_format(&l, buf, 4), -1);
}

static void
test_local_bad(void **state)
{
	static const char *const bad[] = {
		"",           "0",      "65536",       "-1",         "3000x",    "localhost",
		"localhost:", ":3000",  "localhost:0", "host:70000", "::1:3000", "[::1]",
		"[::1]3000",  "[::1]:", "[nope]:1",    "a b:1",      "h:1:2",    "[::1:3000",
	};
	struct url_local l;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (url_parse_local(&l, bad[i], &err) != -1)
			fail_msg("accepted bad local spec '%s'", bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(url_parse_local(&l, NULL, NULL), -1);
	assert_int_equal(url_parse_local(&l, "x", NULL), -1); /* err may be NULL */
	err = NULL;
	url_parse_local(&l, "localhost", &err);
	assert_string_equal(err, "expected PORT or HOST:PORT");
	url_parse_local(&l, "::1:3000", &err);
	assert_string_equal(err, "an IPv6 address needs brackets: [::1]");
}

static void
test_map(void **state)
{
	struct url_map m;
	const char *err = NULL;

	(void)state;
	assert_int_equal(url_parse_map(&m, "3000", &err), 0);
	assert_int_equal(m.container_port, 3000);
	assert_false(m.container_given);
	assert_int_equal(m.local.port, 3000);
	assert_string_equal(m.local.host, "127.0.0.1");

	assert_int_equal(url_parse_map(&m, "5000:8080", &err), 0);
	assert_int_equal(m.container_port, 5000);
	assert_true(m.container_given);
	assert_int_equal(m.local.port, 8080);
	assert_false(m.local.host_given);

	assert_int_equal(url_parse_map(&m, "localhost:8080", &err), 0);
	assert_int_equal(m.container_port, 8080);
	assert_false(m.container_given);
	assert_string_equal(m.local.host, "localhost");

	assert_int_equal(url_parse_map(&m, "5000:localhost:8080", &err), 0);
	assert_int_equal(m.container_port, 5000);
	assert_string_equal(m.local.host, "localhost");
	assert_int_equal(m.local.port, 8080);

	assert_int_equal(url_parse_map(&m, "5000:[::1]:8080", &err), 0);
	assert_int_equal(m.container_port, 5000);
	assert_true(m.local.host_v6);

	assert_int_equal(url_parse_map(&m, "[::1]:8080", &err), 0);
	assert_int_equal(m.container_port, 8080);

	assert_int_equal(url_parse_map(&m, "127.0.0.1:8080", &err), 0);
	assert_int_equal(m.container_port, 8080);
	assert_string_equal(m.local.host, "127.0.0.1");

	/* 0: the daemon picks the container port. */
	assert_int_equal(url_parse_map(&m, "0:8080", &err), 0);
	assert_int_equal(m.container_port, 0);
	assert_true(m.container_given);
}

static void
test_map_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"0",
		"65536:80",
		"99999999999999999999:80",
		":80",
		"5000:",
		"5000:0",
		"5000:x",
		"5000:65536",
		"5000:localhost",
		"5000:[::1]",
		"a:b:c",
		"5000:8080:9090:1",
	};
	struct url_map m;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (url_parse_map(&m, bad[i], &err) != -1)
			fail_msg("accepted bad map '%s'", bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(url_parse_map(&m, NULL, NULL), -1);
	url_parse_map(&m, "70000:80", &err);
	assert_string_equal(err, "container port must be 0..65535");
}

static void
test_listen(void **state)
{
	struct url_local l;
	const char *err = NULL;

	(void)state;
	assert_int_equal(url_parse_listen(&l, "1080", &err), 0);
	assert_string_equal(l.host, "127.0.0.1");
	assert_int_equal(l.port, 1080);
	assert_int_equal(url_parse_listen(&l, "0", &err), 0);
	assert_int_equal(l.port, 0);
	assert_int_equal(url_parse_listen(&l, "[::1]:0", &err), 0);
	assert_true(l.host_v6);
	assert_string_equal(l.host, "::1");
	assert_int_equal(url_parse_listen(&l, "0.0.0.0:1080", &err), 0);
	assert_true(l.host_given);
	assert_int_equal(url_parse_listen(&l, "65536", &err), -1);
	assert_string_equal(err, "port must be 0..65535");
	assert_int_equal(url_parse_listen(&l, "::1:80", &err), -1);
	assert_int_equal(url_parse_listen(&l, "", &err), -1);
	assert_int_equal(url_parse_listen(&l, NULL, NULL), -1);
	/* url_parse_local still refuses 0 */
	assert_int_equal(url_parse_local(&l, "0", &err), -1);
	assert_string_equal(err, "port must be 1..65535");
}

static void
test_forward(void **state)
{
	struct url_forward f;
	const char *err = NULL;
	char buf[64];

	(void)state;
	assert_int_equal(url_parse_forward(&f, "15432:127.0.0.1:5432", &err), 0);
	assert_string_equal(f.listen.host, "127.0.0.1");
	assert_false(f.listen.host_given);
	assert_int_equal(f.listen.port, 15432);
	assert_string_equal(f.host, "127.0.0.1");
	assert_false(f.host_v6);
	assert_false(f.socks);
	assert_int_equal(f.port, 5432);
	assert_int_equal(url_forward_format(&f, buf, sizeof(buf)), 14);
	assert_string_equal(buf, "127.0.0.1:5432");

	assert_int_equal(url_parse_forward(&f, "0:db.internal:5432", &err), 0);
	assert_int_equal(f.listen.port, 0);
	assert_string_equal(f.host, "db.internal");

	assert_int_equal(url_parse_forward(&f, "0.0.0.0:8080:web:80", &err), 0);
	assert_string_equal(f.listen.host, "0.0.0.0");
	assert_true(f.listen.host_given);
	assert_int_equal(f.listen.port, 8080);
	assert_string_equal(f.host, "web");
	assert_int_equal(f.port, 80);

	assert_int_equal(url_parse_forward(&f, "[::1]:0:[fd00::5]:80", &err), 0);
	assert_true(f.listen.host_v6);
	assert_string_equal(f.listen.host, "::1");
	assert_int_equal(f.listen.port, 0);
	assert_true(f.host_v6);
	assert_string_equal(f.host, "fd00::5");
	assert_int_equal(f.port, 80);
	url_forward_format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::5]:80");
	assert_int_equal(url_forward_format(&f, buf, 5), -1);
	assert_string_equal(buf, "");

	assert_int_equal(url_parse_forward(&f, "localhost:9000:[::1]:9000", &err), 0);
	assert_string_equal(f.listen.host, "localhost");
	assert_string_equal(f.host, "::1");
}

static void
test_forward_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"5432",
		"5432:db",
		"db:5432",
		":db:5432",
		"15432::5432",
		"15432:db:",
		"15432:db:0",
		"15432:db:65536",
		"15432:db:x",
		"65536:db:5432",
		"x:db:5432",
		"15432:::1:22",
		"15432:[::1:22",
		"15432:[zz]:22",
		"15432:[::1]x:22",
		"15432:d b:22",
		"::1:15432:db:22",
		"[::1]15432:db:22",
	};
	struct url_forward f;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (url_parse_forward(&f, bad[i], &err) != -1)
			fail_msg("accepted bad forward '%s'", bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(url_parse_forward(&f, NULL, NULL), -1);
	url_parse_forward(&f, "15432:db:0", &err);
	assert_string_equal(err, "remote port must be 1..65535");
	url_parse_forward(&f, "5432", &err);
	assert_string_equal(err, "expected [LHOST:]LPORT:RHOST:RPORT");
}

static void
test_subdomain(void **state)
{
	static const char *const good[][2] = {
		{ "demo", "demo" },
		{ "@", "@" },
		{ "a", "a" },
		{ "0", "0" },
		{ "Demo-2", "demo-2" },
		{ "PX-K7M3Q9T2AB", "px-k7m3q9t2ab" },
		{ "a--b", "a--b" },
		{ "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc",
		  "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc" }, /* 63 */
	};
	char out[URL_SUBDOMAIN_MAX];
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err = NULL;
		if (url_parse_subdomain(out, good[i][0], &err) != 0)
			fail_msg("refused '%s': %s", good[i][0], err);
		assert_string_equal(out, good[i][1]);
	}
}

static void
test_subdomain_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"-demo",
		"demo-",
		"-",
		"Bad_Name",
		"a.b",
		"@@",
		"@x",
		"d\xc3\xa9mo",
		"de mo",
		"demo\n",
		"*",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", /* 64 */
	};
	char out[URL_SUBDOMAIN_MAX];
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		memcpy(out, "junk", 5);
		if (url_parse_subdomain(out, bad[i], &err) != -1)
			fail_msg("accepted bad subdomain '%s' as '%s'", bad[i], out);
		assert_non_null(err);
		assert_string_equal(out, "");
	}
	assert_int_equal(url_parse_subdomain(out, NULL, NULL), -1);
	url_parse_subdomain(out, "Bad_Name", &err);
	assert_string_equal(err, "subdomain may hold only a-z, 0-9 and '-' (or be @)");
	url_parse_subdomain(out, "demo-", &err);
	assert_string_equal(err, "subdomain must not start or end with '-'");
	url_parse_subdomain(out, "", &err);
	assert_string_equal(err, "empty subdomain");
}

static void
test_route(void **state)
{
	struct url_route r;
	const char *err = NULL;

	(void)state;
	assert_int_equal(url_parse_route(&r, "3000", &err), 0);
	assert_string_equal(r.subdomain, "");
	assert_int_equal(r.local.port, 3000);
	assert_string_equal(r.local.host, "127.0.0.1");

	assert_int_equal(url_parse_route(&r, "demo=3000", &err), 0);
	assert_string_equal(r.subdomain, "demo");
	assert_int_equal(r.local.port, 3000);

	assert_int_equal(url_parse_route(&r, "Demo=localhost:8080", &err), 0);
	assert_string_equal(r.subdomain, "demo");
	assert_string_equal(r.local.host, "localhost");
	assert_int_equal(r.local.port, 8080);

	assert_int_equal(url_parse_route(&r, "@=[::1]:5000", &err), 0);
	assert_string_equal(r.subdomain, "@");
	assert_true(r.local.host_v6);
	assert_int_equal(r.local.port, 5000);

	/* a host never holds '=': the first one ends the name */
	assert_int_equal(url_parse_route(&r, "a=b=3000", &err), -1);
}

static void
test_route_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"=3000",
		"demo=",
		"demo",
		"-x=3000",
		"a_b=3000",
		"demo=70000",
		"demo=::1:80",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd=80",
	};
	struct url_route r;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (url_parse_route(&r, bad[i], &err) != -1)
			fail_msg("accepted bad route '%s'", bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(url_parse_route(&r, NULL, NULL), -1);
	url_parse_route(&r, "=3000", &err);
	assert_string_equal(err, "empty subdomain");
	url_parse_route(&r, "demo=x", &err);
	assert_string_equal(err, "expected PORT or HOST:PORT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_url),
		cmocka_unit_test(test_schemes_and_default_ports),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_authority_default_port),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_local_bad),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_bad),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_forward_bad),
		cmocka_unit_test(test_subdomain),
		cmocka_unit_test(test_subdomain_bad),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_route_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
