/*
 * test_forwarded.c: trusted-proxy matching, X-Forwarded-* values, loopback
 * peers and requests from this host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "forwarded.h"

static struct sockaddr_storage
v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(5555);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
v6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	return ss;
}

#define H(n, v)                                                                                              \
	{                                                                                                    \
		n, sizeof(n) - 1, v, sizeof(v) - 1                                                           \
	}

static void
test_keywords_and_cidrs(void **state)
{
	struct forwarded f;
	struct sockaddr_storage a;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(forwarded_add(&f, "loopback"), 0);
	assert_int_equal(forwarded_add(&f, "private"), 0);
	assert_int_equal(forwarded_add(&f, "203.0.113.0/24"), 0);
	assert_int_equal(forwarded_add(&f, "2001:db8::7"), 0);
	assert_int_equal(forwarded_add(&f, "nonsense"), -1);
	assert_int_equal(forwarded_add(&f, "10.0.0.0/33"), -1);
	a = v4("127.0.0.9");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v4("172.31.255.1");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v4("172.32.0.1");
	assert_false(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v4("203.0.113.77");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v4("8.8.8.8");
	assert_false(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v6("::1");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v6("2001:db8::7");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v6("2001:db8::8");
	assert_false(forwarded_trusted(&f, (struct sockaddr *)&a));
	a = v6("::ffff:10.1.2.3");
	assert_true(forwarded_trusted(&f, (struct sockaddr *)&a));
}

static void
test_untrusted_replaced(void **state)
{
	struct http1_header h[] = { H("Host", "app.example.com"), H("X-Forwarded-For", "1.1.1.1"),
				    H("X-Forwarded-Proto", "https"), H("X-Real-IP", "6.6.6.6") };
	struct forwarded f;
	struct forwarded_values v;
	struct sockaddr_storage a = v4("198.51.100.4");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(forwarded_add(&f, "loopback"), 0);
	forwarded_values(forwarded_trusted(&f, (struct sockaddr *)&a), "198.51.100.4", h, 4, &v);
	assert_string_equal(v.xff, "198.51.100.4");
	assert_string_equal(v.proto, "http");
	assert_string_equal(v.host, "app.example.com");
	assert_string_equal(v.real_ip, "198.51.100.4");
}

static void
test_trusted_kept_and_extended(void **state)
{
	struct http1_header h[] = { H("host", "internal:50"),
				    H("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
				    H("X-Forwarded-For", "3.3.3.3"),
				    H("X-Forwarded-Proto", "https"),
				    H("X-Forwarded-Host", "app.example.com"),
				    H("X-Real-IP", "1.1.1.1") };
	struct forwarded f;
	struct forwarded_values v;
	struct sockaddr_storage a = v4("127.0.0.1");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(forwarded_add(&f, "loopback"), 0);
	forwarded_values(forwarded_trusted(&f, (struct sockaddr *)&a), "127.0.0.1", h, 6, &v);
	assert_string_equal(v.xff, "1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1");
	assert_string_equal(v.proto, "https");
	assert_string_equal(v.host, "app.example.com");
	assert_string_equal(v.real_ip, "1.1.1.1");
	assert_true(forwarded_is_managed("x-real-ip", 9));
	assert_true(forwarded_is_managed("X-FORWARDED-HOST", 16));
	assert_false(forwarded_is_managed("Forwarded", 9));
}

static void
test_trusted_without_headers(void **state)
{
	struct forwarded f;
	struct forwarded_values v;
	struct sockaddr_storage a = v6("::1");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(forwarded_add(&f, "loopback"), 0);
	forwarded_values(forwarded_trusted(&f, (struct sockaddr *)&a), "::1", NULL, 0, &v);
	assert_string_equal(v.xff, "::1");
	assert_string_equal(v.proto, "http");
	assert_string_equal(v.host, "");
	assert_string_equal(v.real_ip, "::1");
}

static void
test_loopback(void **state)
{
	static const char *const yes4[] = { "127.0.0.1", "127.0.0.0", "127.255.255.254", "127.1.2.3" };
	static const char *const no4[] = { "126.255.255.255", "128.0.0.1", "10.0.0.1", "0.0.0.0",
					   "203.0.113.5" };
	static const char *const yes6[] = { "::1", "::ffff:127.0.0.1", "::ffff:127.9.9.9" };
	static const char *const no6[] = { "::",          "::2",        "fe80::1", "::ffff:10.0.0.1",
					   "2001:db8::1", "::127.0.0.1" };
	struct sockaddr_storage a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes4) / sizeof(yes4[0]); i++) {
		a = v4(yes4[i]);
		assert_true(forwarded_loopback((struct sockaddr *)&a));
	}
	for (i = 0; i < sizeof(no4) / sizeof(no4[0]); i++) {
		a = v4(no4[i]);
		assert_false(forwarded_loopback((struct sockaddr *)&a));
	}
	for (i = 0; i < sizeof(yes6) / sizeof(yes6[0]); i++) {
		a = v6(yes6[i]);
		assert_true(forwarded_loopback((struct sockaddr *)&a));
	}
	for (i = 0; i < sizeof(no6) / sizeof(no6[0]); i++) {
		a = v6(no6[i]);
		if (forwarded_loopback((struct sockaddr *)&a))
			fail_msg("%s counted as loopback", no6[i]);
	}
	memset(&a, 0, sizeof(a));
	a.ss_family = AF_UNIX;
	assert_false(forwarded_loopback((struct sockaddr *)&a));
}

/* A request is from this host only from a loopback peer that is no trusted proxy and relays no client. */
static void
test_local(void **state)
{
	struct http1_header plain[] = { H("Host", "127.0.0.1:50"), H("User-Agent", "curl") };
	struct http1_header relayed[][2] = {
		{ H("Host", "x"), H("X-Forwarded-For", "203.0.113.5") },
		{ H("x-forwarded-for", "127.0.0.1"), H("Host", "x") },
		{ H("Host", "x"), H("X-Real-IP", "203.0.113.5") },
		{ H("Host", "x"), H("forwarded", "for=203.0.113.5") },
	};
	struct forwarded none, lo, other;
	struct sockaddr_storage a;
	size_t i;

	(void)state;
	memset(&none, 0, sizeof(none));
	memset(&lo, 0, sizeof(lo));
	memset(&other, 0, sizeof(other));
	assert_int_equal(forwarded_add(&lo, "loopback"), 0);
	assert_int_equal(forwarded_add(&other, "10.0.0.0/8"), 0);
	a = v4("127.0.0.1");
	assert_true(forwarded_local(&none, (struct sockaddr *)&a, plain, 2));
	assert_true(forwarded_local(&none, (struct sockaddr *)&a, NULL, 0));
	assert_true(forwarded_local(&other, (struct sockaddr *)&a, plain, 2));
	/* a loopback peer that is a trusted proxy relays clients from anywhere */
	assert_false(forwarded_local(&lo, (struct sockaddr *)&a, plain, 2));
	/* a proxy on this host, trusted or not, that says whom it relays */
	for (i = 0; i < sizeof(relayed) / sizeof(relayed[0]); i++) {
		assert_false(forwarded_local(&none, (struct sockaddr *)&a, relayed[i], 2));
		assert_false(forwarded_local(&lo, (struct sockaddr *)&a, relayed[i], 2));
	}
	a = v6("::ffff:127.0.0.1");
	assert_true(forwarded_local(&none, (struct sockaddr *)&a, plain, 2));
	a = v6("::1");
	assert_true(forwarded_local(&other, (struct sockaddr *)&a, plain, 2));
	assert_false(forwarded_local(&lo, (struct sockaddr *)&a, plain, 2));
	/* other hosts are never local, whatever they send */
	a = v4("10.1.2.3");
	assert_false(forwarded_local(&none, (struct sockaddr *)&a, plain, 2));
	a = v4("192.0.2.1");
	assert_false(forwarded_local(&none, (struct sockaddr *)&a, NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords_and_cidrs),
		cmocka_unit_test(test_untrusted_replaced),
		cmocka_unit_test(test_trusted_kept_and_extended),
		cmocka_unit_test(test_trusted_without_headers),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
