/*
 * test_forwarded.c: trusted-proxy matching and X-Forwarded-* values.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords_and_cidrs),
		cmocka_unit_test(test_untrusted_replaced),
		cmocka_unit_test(test_trusted_kept_and_extended),
		cmocka_unit_test(test_trusted_without_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
