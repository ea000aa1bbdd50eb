/*
 * test_forward_policy.c: --forward-allow rules: every form, ports at their
 * edges, IPv4-mapped addresses, none and the default, error messages and
 * the normalized text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "forward_policy.h"

static char err[256];

/* An address with a port: "1.2.3.4" or "::1" (AF_INET6 when it has ':'). */
static struct sockaddr_storage
addr(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
	} else {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
	}
	return ss;
}

static int
allows(const struct forward_policy *p, const char *ip, unsigned port)
{
	struct sockaddr_storage ss = addr(ip, port);

	return forward_policy_allows(p, (const struct sockaddr *)&ss);
}

/* A fresh policy from one list, which must parse. */
static void
policy(struct forward_policy *p, const char *list)
{
	memset(p, 0, sizeof(*p));
	if (forward_policy_parse(p, list, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", list, err);
}

/* A rule and the addresses (space-separated) it allows and denies on port. */
struct match_case {
	const char *list;
	unsigned port;
	const char *allowed, *denied;
};

/* Check every address of ips (space-separated) against p. */
static void
expect_each(const struct forward_policy *p, const char *list, const char *ips, unsigned port, int want)
{
	char ip[64];
	size_t n;

	while (*ips != '\0') {
		n = strcspn(ips, " ");
		assert_true(n > 0 && n < sizeof(ip));
		memcpy(ip, ips, n);
		ip[n] = '\0';
		if (allows(p, ip, port) != want)
			fail_msg("'%s': %s port %u should be %s", list, ip, port,
				 want ? "allowed" : "denied");
		ips += n + (ips[n] == ' ');
	}
}

static void
run_cases(const struct match_case *c, size_t n)
{
	struct forward_policy p;
	size_t i;

	for (i = 0; i < n; i++) {
		policy(&p, c[i].list);
		expect_each(&p, c[i].list, c[i].allowed, c[i].port, 1);
		expect_each(&p, c[i].list, c[i].denied, c[i].port, 0);
	}
}

#define RUN_CASES(c) run_cases(c, sizeof(c) / sizeof(c[0]))

static void
test_keywords(void **state)
{
	static const struct match_case cases[] = {
		{ "loopback", 80, "127.0.0.1 127.255.255.254 127.0.0.0 ::1 ::ffff:127.0.0.1",
		  "128.0.0.1 126.255.255.255 10.0.0.1 ::2 :: fe80::1 ::ffff:10.0.0.1" },
		{ "LoopBack", 5432, "127.0.0.1", "" },
		{ "private", 22,
		  "10.0.0.0 10.255.255.255 172.16.0.0 172.31.255.255 192.168.0.1 192.168.255.255 fc00:: "
		  "fdff:ffff::1 fe80::1 febf:ffff::1 ::ffff:172.20.0.3",
		  "9.255.255.255 11.0.0.0 172.15.255.255 172.32.0.0 192.167.255.255 192.169.0.0 100.64.0.1 "
		  "100.127.255.255 169.254.169.254 127.0.0.1 8.8.8.8 fbff::1 fec0::1 ::1 2001:db8::1 "
		  "::ffff:100.64.0.1" },
		{ "PRIVATE", 22, "10.1.2.3", "" },
		{ "any", 1, "8.8.8.8 0.0.0.0 255.255.255.255 2001:db8::1 :: ::ffff:1.2.3.4", "" },
		{ "Any", 65535, "127.0.0.1 ::1 203.0.113.9", "" },
		/* Port 0 is no port: never allowed, not even by any. */
		{ "any", 0, "", "8.8.8.8 ::1" },
	};
	struct forward_policy p;
	struct sockaddr_storage ss;

	(void)state;
	RUN_CASES(cases);
	/* Nor is a family other than IPv4 and IPv6. */
	policy(&p, "any");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(forward_policy_allows(&p, (const struct sockaddr *)&ss), 0);
}

static void
test_ip_and_cidr(void **state)
{
	static const struct match_case cases[] = {
		{ "192.0.2.7", 80, "192.0.2.7 ::ffff:192.0.2.7", "192.0.2.6 192.0.2.8 ::1" },
		{ "198.51.100.0/24", 80, "198.51.100.0 198.51.100.255", "198.51.99.255 198.51.101.0" },
		{ "10.1.2.3/8", 80, "10.0.0.1 10.255.0.1", "11.0.0.1" }, /* host bits cleared */
		{ "2001:db8::1", 80, "2001:db8::1", "2001:db8::2 192.0.2.1" },
		{ "2001:db8::/32", 80, "2001:db8:: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
		  "2001:db9:: 2001:db7:ffff::1" },
		{ "0.0.0.0/0", 80, "1.2.3.4 ::ffff:1.2.3.4", "2001:db8::1" },
	};

	(void)state;
	RUN_CASES(cases);
}

/* An IPv4-mapped address is the IPv4 address, for IPv4 and IPv6 rules. */
static void
test_v4_mapped(void **state)
{
	static const struct match_case cases[] = {
		{ "10.0.0.0/8", 80, "::ffff:10.9.8.7", "::ffff:11.0.0.1 ::10.9.8.7" },
		/* An IPv6 rule never matches a mapped address ... */
		{ "::/0", 80, "2001:db8::1 ::1", "::ffff:10.0.0.1 10.0.0.1" },
		/* ... unless it is the mapped form of an IPv4 range. */
		{ "::ffff:10.0.0.0/104", 80, "10.1.1.1 ::ffff:10.1.1.1", "11.1.1.1" },
		{ "[::ffff:10.0.0.0/104]:80", 80, "10.1.1.1", "" },
		{ "[::ffff:10.0.0.0/104]:80", 81, "", "10.1.1.1" },
	};

	(void)state;
	RUN_CASES(cases);
}

/* Ports at the edges of each rule: LOW, HIGH, LOW-1, HIGH+1, 0, 65535. */
static void
test_ports(void **state)
{
	static const struct {
		const char *list, *ip;
		unsigned port;
		int want;
	} cases[] = {
		{ "loopback:5432", "127.0.0.1", 5432, 1 },
		{ "loopback:5432", "::1", 5432, 1 },
		{ "loopback:5432", "127.0.0.1", 5431, 0 },
		{ "loopback:5432", "::1", 5433, 0 },
		{ "loopback:5432", "10.0.0.1", 5432, 0 },
		{ "10.0.0.0/8:80-443", "10.0.0.1", 80, 1 },
		{ "10.0.0.0/8:80-443", "10.0.0.1", 443, 1 },
		{ "10.0.0.0/8:80-443", "10.0.0.1", 200, 1 },
		{ "10.0.0.0/8:80-443", "10.0.0.1", 79, 0 },
		{ "10.0.0.0/8:80-443", "10.0.0.1", 444, 0 },
		{ "any:1-65535", "8.8.8.8", 1, 1 },
		{ "any:1-65535", "8.8.8.8", 65535, 1 },
		{ "any:1-65535", "8.8.8.8", 0, 0 },
		{ "any:65535", "8.8.8.8", 65535, 1 },
		{ "any:65535", "8.8.8.8", 65534, 0 },
		{ "any:1", "8.8.8.8", 1, 1 },
		{ "any:1", "8.8.8.8", 2, 0 },
		{ "any:1", "8.8.8.8", 0, 0 },
		{ "[::1]:5432", "::1", 5432, 1 },
		{ "[::1]:5432", "::1", 5433, 0 },
		{ "[::1]:5432", "127.0.0.1", 5432, 0 },
		{ "[fd00::/8]:1-1024", "fd12::1", 1, 1 },
		{ "[fd00::/8]:1-1024", "fd12::1", 1024, 1 },
		{ "[fd00::/8]:1-1024", "fd12::1", 1025, 0 },
		{ "[fd00::/8]:1-1024", "fd12::1", 0, 0 },
		{ "192.0.2.7:22", "192.0.2.7", 22, 1 },
		{ "192.0.2.7:22", "192.0.2.7", 23, 0 },
		{ "private:22", "172.16.0.1", 22, 1 },
		{ "private:22", "fe80::1", 22, 1 },
		{ "private:22", "172.16.0.1", 21, 0 },
		/* Rules add up: one port on loopback, a range on a private net. */
		{ "loopback:5432, 10.0.0.0/8:8000-8999", "127.0.0.1", 5432, 1 },
		{ "loopback:5432, 10.0.0.0/8:8000-8999", "10.2.3.4", 8000, 1 },
		{ "loopback:5432, 10.0.0.0/8:8000-8999", "127.0.0.1", 8000, 0 },
		{ "loopback:5432, 10.0.0.0/8:8000-8999", "10.2.3.4", 5432, 0 },
	};
	struct forward_policy p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		policy(&p, cases[i].list);
		if (allows(&p, cases[i].ip, cases[i].port) != cases[i].want)
			fail_msg("'%s': %s port %u should be %s", cases[i].list, cases[i].ip, cases[i].port,
				 cases[i].want ? "allowed" : "denied");
	}
}

static void
test_none_and_default(void **state)
{
	struct forward_policy p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(forward_policy_off(&p), 0);
	expect_each(&p, "(default)", "127.0.0.1 ::1 ::ffff:127.0.0.1", 22, 1);
	expect_each(&p, "(default)", "127.0.0.1", 65535, 1);
	expect_each(&p, "(default)", "10.0.0.1 8.8.8.8 fd00::1", 22, 0);
	expect_each(&p, "(default)", "127.0.0.1", 0, 0);
	policy(&p, "none");
	assert_int_equal(forward_policy_off(&p), 1);
	expect_each(&p, "none", "127.0.0.1 ::1 10.0.0.1", 22, 0);
	policy(&p, " NONE ");
	assert_int_equal(forward_policy_off(&p), 1);
	policy(&p, "any");
	assert_int_equal(forward_policy_off(&p), 0);
}

/* Lists append; a bad list leaves the policy as it was. */
static void
test_append(void **state)
{
	struct forward_policy p, before;

	(void)state;
	policy(&p, "loopback");
	assert_int_equal(forward_policy_parse(&p, "10.0.0.0/8:22", err, sizeof(err)), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(allows(&p, "127.0.0.1", 80), 1);
	assert_int_equal(allows(&p, "10.1.1.1", 22), 1);
	assert_int_equal(allows(&p, "10.1.1.1", 80), 0);
	memcpy(&before, &p, sizeof(p));
	assert_int_equal(forward_policy_parse(&p, "any, bogus", err, sizeof(err)), -1);
	assert_string_equal(err, "'bogus': expected loopback, private, any, none, an IP address or a CIDR");
	assert_memory_equal(&p, &before, sizeof(p));
	assert_int_equal(allows(&p, "8.8.8.8", 80), 0);
	/* none after rules of an earlier list, and rules after none. */
	assert_int_equal(forward_policy_parse(&p, "none", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none cannot be combined with other rules"));
	assert_memory_equal(&p, &before, sizeof(p));
	policy(&p, "none");
	assert_int_equal(forward_policy_parse(&p, "loopback", err, sizeof(err)), -1);
	assert_string_equal(err, "'loopback': none cannot be combined with other rules");
	assert_int_equal(forward_policy_off(&p), 1);
	assert_int_equal(p.n, 0);
	/* err may be NULL. */
	assert_int_equal(forward_policy_parse(&p, "bogus", NULL, 0), -1);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *list, *msg;
	} bad[] = {
		{ "", "'': empty list" },
		{ "loopback,,any", "'loopback,,any': empty item" },
		{ "loopback,", "'loopback,': empty item" },
		{ " , ", "' , ': empty item" },
		{ "1.2.3", "'1.2.3': expected loopback, private, any, none, an IP address or a CIDR" },
		{ "db.internal:5432", "'db.internal:5432': expected loopback" },
		{ "10.0.0.1:22:33", "'10.0.0.1:22:33': expected loopback" },
		{ "10.0.0.0/33", "'10.0.0.0/33': prefix length must be 0..32" },
		{ "10.0.0.0/33:80", "'10.0.0.0/33:80': prefix length must be 0..32" },
		{ "fd00::/129", "'fd00::/129': prefix length must be 0..128" },
		{ "[fd00::/129]:22", "'[fd00::/129]:22': prefix length must be 0..128" },
		{ "10.0.0.0/", "'10.0.0.0/': expected loopback" },
		{ "10.0.0.0/x", "'10.0.0.0/x': expected loopback" },
		{ "loopback:0", "'loopback:0': port must be 1..65535" },
		{ "any:65536", "'any:65536': port must be 1..65535" },
		{ "any:0-80", "'any:0-80': port must be 1..65535" },
		{ "any:80-65536", "'any:80-65536': port must be 1..65535" },
		{ "any:443-80", "'any:443-80': port range must have LOW <= HIGH" },
		{ "any:81-80", "'any:81-80': port range must have LOW <= HIGH" },
		{ "any:", "'any:': bad port (expected PORT or LOW-HIGH)" },
		{ "any:http", "'any:http': bad port" },
		{ "any:80-", "'any:80-': bad port" },
		{ "any:-80", "'any:-80': bad port" },
		{ "any:1-2-3", "'any:1-2-3': bad port" },
		{ "any:99999999999999999999", "'any:99999999999999999999': bad port" },
		{ "none,loopback", "'loopback': none cannot be combined with other rules" },
		{ "loopback,none", "'none': none cannot be combined with other rules" },
		{ "none:22", "'none:22': none takes no port" },
		{ "[::1", "'[::1': missing ']'" },
		{ "[::1]22", "'[::1]22': expected ':' after ']'" },
		{ "[::1]:", "'[::1]:': bad port" },
		{ "[10.0.0.1]:80", "'[10.0.0.1]:80': brackets are for IPv6 only" },
		{ "[loopback]:80", "'[loopback]:80': expected loopback" },
		{ ":80", "':80': missing address" },
		{ "[]:80", "'[]:80': missing address" },
	};
	struct forward_policy p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&p, 0, sizeof(p));
		memset(err, 'Z', sizeof(err));
		if (forward_policy_parse(&p, bad[i].list, err, sizeof(err)) != -1)
			fail_msg("'%s' accepted", bad[i].list);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("'%s': error '%s', expected '%s'", bad[i].list, err, bad[i].msg);
		assert_int_equal(p.n, 0);
		assert_int_equal(p.off, 0);
	}
}

static void
test_too_many(void **state)
{
	char list[2048];
	struct forward_policy p;
	int i;

	(void)state;
	list[0] = '\0';
	for (i = 0; i < FORWARD_POLICY_MAX_RULES / 2; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s10.0.0.%d:%d", i ? "," : "", i,
			 i + 1);
	policy(&p, list);
	assert_int_equal(forward_policy_parse(&p, list, err, sizeof(err)), 0);
	assert_int_equal(p.n, FORWARD_POLICY_MAX_RULES);
	assert_int_equal(forward_policy_parse(&p, "any", err, sizeof(err)), -1);
	assert_string_equal(err, "'any': more than 64 rules");
	assert_int_equal(p.n, FORWARD_POLICY_MAX_RULES);
	/* An item too long to be a rule. */
	memset(list, '1', 200);
	list[200] = '\0';
	memset(&p, 0, sizeof(p));
	assert_int_equal(forward_policy_parse(&p, list, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "': too long"));
}

static void
expect_text(const char *list, const char *want)
{
	struct forward_policy p, again;
	char text[FORWARD_POLICY_TEXT_MAX], text2[FORWARD_POLICY_TEXT_MAX];

	policy(&p, list);
	forward_policy_describe(&p, text, sizeof(text));
	if (strcmp(text, want) != 0)
		fail_msg("'%s' described as '%s', expected '%s'", list, text, want);
	/* The text parses back to the same policy. */
	policy(&again, text);
	forward_policy_describe(&again, text2, sizeof(text2));
	assert_string_equal(text2, want);
}

static void
test_describe(void **state)
{
	struct forward_policy p;
	char text[FORWARD_POLICY_TEXT_MAX];
	int i;

	(void)state;
	memset(&p, 0, sizeof(p));
	forward_policy_describe(&p, text, sizeof(text));
	assert_string_equal(text, "loopback");
	expect_text("none", "none");
	expect_text("loopback", "loopback");
	expect_text("LOOPBACK, 10.1.2.3/8:80-443", "loopback, 10.0.0.0/8:80-443");
	expect_text("Private:22,any:1-65535", "private:22, any");
	expect_text("[fd00::/8]:1-1024,2001:DB8::1,[::1]:5432", "[fd00::/8]:1-1024, 2001:db8::1, [::1]:5432");
	expect_text("192.0.2.7/32:22, 192.0.2.7, ::/0", "192.0.2.7:22, 192.0.2.7, ::/0");
	expect_text("::ffff:10.0.0.0/104, any:7-7", "10.0.0.0/8, any:7");
	/* The longest text fits FORWARD_POLICY_TEXT_MAX. */
	memset(&p, 0, sizeof(p));
	for (i = 0; i < FORWARD_POLICY_MAX_RULES; i++)
		assert_int_equal(
			forward_policy_parse(&p, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/127]:65534-65535",
					     err, sizeof(err)),
			0);
	forward_policy_describe(&p, text, sizeof(text));
	assert_int_equal(strlen(text),
			 64 * strlen("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/127]:65534-65535") + 63 * 2);
	/* A short buffer gets a cut, NUL-terminated text and nothing past it. */
	policy(&p, "loopback, 10.0.0.0/8");
	memset(text, 'Z', sizeof(text));
	forward_policy_describe(&p, text, 12);
	assert_string_equal(text, "loopback, 1");
	assert_int_equal(text[12], 'Z');
	forward_policy_describe(&p, text, 1);
	assert_string_equal(text, "");
	text[0] = 'Z';
	forward_policy_describe(&p, text, 0);
	assert_int_equal(text[0], 'Z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords),         cmocka_unit_test(test_ip_and_cidr),
		cmocka_unit_test(test_v4_mapped),        cmocka_unit_test(test_ports),
		cmocka_unit_test(test_none_and_default), cmocka_unit_test(test_append),
		cmocka_unit_test(test_errors),           cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
