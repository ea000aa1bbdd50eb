/*
 * test_net.c: address parsing and printing, CIDR matching, and real
 * sockets on loopback (listen, connect, accept, data both ways, EOF,
 * EADDRINUSE, ECONNREFUSED). Every wait is a poll() with a timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"

#define WAIT_MS 3000

/* ---- helpers ----------------------------------------------------------- */

static void
assert_parses_to(const char *in, int def, int family, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char out[NET_ADDR_STRLEN];
	int rc = net_parse_hostport(in, def, &ss, &len);

	if (rc != 0)
		fail_msg("\"%s\": parse returned %d", in, rc);
	assert_int_equal(ss.ss_family, family);
	assert_int_equal(len, family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	assert_true(net_format_addr((struct sockaddr *)&ss, out, sizeof(out)) > 0);
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void
assert_parse_fails(const char *in, int def, int err)
{
	struct sockaddr_storage ss, orig;
	socklen_t len = 77;
	int rc;

	memset(&ss, 0xa5, sizeof(ss));
	orig = ss;
	rc = net_parse_hostport(in, def, &ss, &len);
	if (rc != err)
		fail_msg("\"%s\": returned %d, want %d", in ? in : "(null)", rc, err);
	assert_memory_equal(&ss, &orig, sizeof(ss)); /* untouched on error */
	assert_int_equal(len, 77);
}

static void
addr_of(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	assert_int_equal(net_parse_hostport(s, -1, ss, len), 0);
}

static int
wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, WAIT_MS);

	assert_int_equal(n, 1);
	return p.revents;
}

static void
assert_nonblock_cloexec(int fd)
{
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static int
getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &l), 0);
	return v;
}

/* Read exactly n bytes from a non-blocking fd, polling. */
static void
read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EAGAIN) {
			wait_for(fd, POLLIN);
			continue;
		}
		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* ---- address text ------------------------------------------------------- */

static void
test_parse_good(void **state)
{
	char scoped[64];

	(void)state;
	assert_parses_to("127.0.0.1:50", -1, AF_INET, "127.0.0.1:50");
	assert_parses_to("[::1]:50", -1, AF_INET6, "[::1]:50");
	assert_parses_to("0.0.0.0:50", -1, AF_INET, "0.0.0.0:50");
	assert_parses_to(":50", -1, AF_INET, "0.0.0.0:50");
	assert_parses_to("*:8080", -1, AF_INET, "0.0.0.0:8080");
	assert_parses_to("localhost:50", -1, AF_INET, "127.0.0.1:50");
	assert_parses_to("LocalHost:1", -1, AF_INET, "127.0.0.1:1");
	assert_parses_to("localhost", 8080, AF_INET, "127.0.0.1:8080");
	assert_parses_to("1.2.3.4", 80, AF_INET, "1.2.3.4:80");
	assert_parses_to("1.2.3.4:0", -1, AF_INET, "1.2.3.4:0");
	assert_parses_to("255.255.255.255:65535", -1, AF_INET, "255.255.255.255:65535");
	assert_parses_to("[::1]", 443, AF_INET6, "[::1]:443");
	assert_parses_to("::1", 7, AF_INET6, "[::1]:7");
	assert_parses_to("[::]:9", -1, AF_INET6, "[::]:9");
	assert_parses_to("[2001:DB8::a:1]:443", -1, AF_INET6, "[2001:db8::a:1]:443");
	assert_parses_to("[::ffff:1.2.3.4]:9", -1, AF_INET6, "[::ffff:1.2.3.4]:9");
	assert_parses_to("[fe80::1%3]:80", -1, AF_INET6, "[fe80::1%3]:80");
	snprintf(scoped, sizeof(scoped), "[fe80::1%%%u]:80", if_nametoindex("lo"));
	assert_parses_to("[fe80::1%lo]:80", -1, AF_INET6, scoped);
}

static void
test_parse_bad(void **state)
{
	char longhost[400];

	(void)state;
	assert_parse_fails("1.2.3.4:99999", -1, -EINVAL);
	assert_parse_fails("1.2.3.4:65536", -1, -EINVAL);
	assert_parse_fails("1.2.3.4:123456", -1, -EINVAL);
	assert_parse_fails("[::1", -1, -EINVAL);
	assert_parse_fails("[::1", 80, -EINVAL);
	assert_parse_fails("abc:", -1, -EINVAL);
	assert_parse_fails("abc:", 80, -EINVAL);
	assert_parse_fails("", -1, -EINVAL);
	assert_parse_fails(NULL, 80, -EINVAL);
	assert_parse_fails("1.2.3.4:", 80, -EINVAL);
	assert_parse_fails("1.2.3.4:-1", -1, -EINVAL);
	assert_parse_fails("1.2.3.4:+80", -1, -EINVAL);
	assert_parse_fails("1.2.3.4:8o", -1, -EINVAL);
	assert_parse_fails("1.2.3.4: 80", -1, -EINVAL);
	assert_parse_fails("1.2.3.4", -1, -EINVAL); /* port required */
	assert_parse_fails("[::1]", -1, -EINVAL);
	assert_parse_fails("1.2.3.4", 70000, -EINVAL);
	assert_parse_fails("[::1]x", -1, -EINVAL);
	assert_parse_fails("[::1]x", 80, -EINVAL);
	assert_parse_fails("[::1]]:80", 80, -EINVAL);
	assert_parse_fails("[::1]:", -1, -EINVAL);
	assert_parse_fails("[]:80", -1, -EINVAL);
	assert_parse_fails("[1.2.3.4]:80", -1, -EINVAL);
	assert_parse_fails("[localhost]:80", -1, -EINVAL);
	assert_parse_fails("127.1:80", -1, -EINVAL);
	assert_parse_fails("0x7f.0.0.1:80", -1, -EINVAL);
	assert_parse_fails("1.2.3.256:80", -1, -EINVAL);
	assert_parse_fails("1.2.3.4.5:80", -1, -EINVAL);
	assert_parse_fails("host name:80", -1, -EINVAL);
	assert_parse_fails("a:b:c", -1, -EINVAL);
	assert_parse_fails("1.2.3.4:80:90", -1, -EINVAL);
	assert_parse_fails("[fe80::1%]:80", -1, -EINVAL);
	assert_parse_fails("[fe80::1%nosuchif0]:80", -1, -EINVAL);
	assert_parse_fails("[::1%4294967296]:80", -1, -EINVAL);
	memset(longhost, 'a', sizeof(longhost));
	memcpy(longhost + sizeof(longhost) - 4, ":80", 4);
	assert_parse_fails(longhost, -1, -EINVAL);
}

/* A name from /etc/hosts (other than localhost) goes through the resolver. */
static void
test_parse_resolves_names(void **state)
{
	char line[512], name[256] = "", in[300];
	FILE *f = fopen("/etc/hosts", "r");

	(void)state;
	while (f != NULL && name[0] == '\0' && fgets(line, sizeof(line), f) != NULL) {
		char ip[64], n1[256];
		if (sscanf(line, "%63s %255s", ip, n1) == 2 && strcmp(ip, "127.0.0.1") == 0 &&
		    strcmp(n1, "localhost") != 0 && strspn(n1, "abcdefghijklmnopqrstuvwxyz-.") == strlen(n1))
			snprintf(name, sizeof(name), "%s", n1);
	}
	if (f != NULL)
		fclose(f);
	if (name[0] == '\0')
		skip(); /* no suitable name here; nothing to check without DNS */
	snprintf(in, sizeof(in), "%s:4321", name);
	assert_parses_to(in, -1, AF_INET, "127.0.0.1:4321");
}

static void
test_format(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	socklen_t len;
	char out[NET_ADDR_STRLEN], small[8];

	(void)state;
	addr_of("[2001:db8:1:2:3:4:5:6]:65535", &ss, &len);
	assert_int_equal(net_format_addr((struct sockaddr *)&ss, out, sizeof(out)),
			 (int)strlen("[2001:db8:1:2:3:4:5:6]:65535"));
	assert_int_equal(net_format_addr((struct sockaddr *)&ss, small, sizeof(small)), -ENOSPC);
	assert_string_equal(small, "");
	assert_int_equal(net_addr_port((struct sockaddr *)&ss), 65535);
	assert_int_equal(net_format_ip((struct sockaddr *)&ss, out, sizeof(out)), 20);
	assert_string_equal(out, "2001:db8:1:2:3:4:5:6");

	addr_of("1.2.3.4:5", &ss, &len);
	assert_int_equal(net_format_addr((struct sockaddr *)&ss, out, 10), 9); /* exactly fits */
	assert_string_equal(out, "1.2.3.4:5");
	assert_int_equal(net_format_addr((struct sockaddr *)&ss, out, 9), -ENOSPC);
	assert_int_equal(net_format_ip((struct sockaddr *)&ss, out, sizeof(out)), 7);
	assert_string_equal(out, "1.2.3.4");
	assert_int_equal(net_addr_port((struct sockaddr *)&ss), 5);

	/* a mapped address keeps its form with the port, is unmapped alone */
	addr_of("[::ffff:10.9.8.7]:1", &ss, &len);
	assert_true(net_format_ip((struct sockaddr *)&ss, out, sizeof(out)) > 0);
	assert_string_equal(out, "10.9.8.7");

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(net_format_addr((struct sockaddr *)&un, out, sizeof(out)), -EAFNOSUPPORT);
	assert_int_equal(net_format_ip((struct sockaddr *)&un, out, sizeof(out)), -EAFNOSUPPORT);
	assert_int_equal(net_addr_port((struct sockaddr *)&un), -EAFNOSUPPORT);
}

static void
test_round_trip(void **state)
{
	static const char *const in[] = {
		"127.0.0.1:1",      "10.20.30.40:65535",     "[::1]:80",  "[fe80::1:2%7]:8",
		"[2001:db8::]:443", "[::ffff:127.0.0.1]:22", "0.0.0.0:0",
	};
	struct sockaddr_storage a, b;
	socklen_t la, lb;
	char out[NET_ADDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		addr_of(in[i], &a, &la);
		assert_true(net_format_addr((struct sockaddr *)&a, out, sizeof(out)) > 0);
		assert_string_equal(out, in[i]);
		addr_of(out, &b, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(&a, &b, la);
	}
}

/* ---- sockets -------------------------------------------------------------- */

/* Listen on addr (port 0), connect, accept, exchange data, half-close. */
static void
loopback_session(const char *addr, int family)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen = sizeof(peer);
	char buf[64], want[NET_ADDR_STRLEN], got[NET_ADDR_STRLEN];
	int lfd, cfd, afd, port;

	addr_of(addr, &ss, &len);
	lfd = net_listen((struct sockaddr *)&ss, len, 16, 0);
	assert_true(lfd >= 0);
	assert_nonblock_cloexec(lfd);
	assert_int_equal(getint(lfd, SOL_SOCKET, SO_REUSEADDR), 1);
	if (family == AF_INET6)
		assert_int_equal(getint(lfd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	port = net_local_port(lfd);
	assert_true(port > 0);
	assert_int_equal(net_accept(lfd, &peer, &plen), -EAGAIN); /* nothing waiting yet */

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	cfd = net_connect((struct sockaddr *)&ss, len);
	assert_true(cfd >= 0);
	assert_nonblock_cloexec(cfd);
	assert_true(wait_for(cfd, POLLOUT) & POLLOUT);
	assert_int_equal(net_socket_error(cfd), 0);

	assert_true(wait_for(lfd, POLLIN) & POLLIN);
	plen = sizeof(peer);
	afd = net_accept(lfd, &peer, &plen);
	assert_true(afd >= 0);
	assert_nonblock_cloexec(afd);
	assert_int_equal(peer.ss_family, family);
	/* the peer the server sees is the client's local address */
	{
		struct sockaddr_storage cl;
		socklen_t cll = sizeof(cl);
		assert_int_equal(getsockname(cfd, (struct sockaddr *)&cl, &cll), 0);
		assert_true(net_format_addr((struct sockaddr *)&cl, want, sizeof(want)) > 0);
		assert_true(net_format_addr((struct sockaddr *)&peer, got, sizeof(got)) > 0);
		assert_string_equal(got, want);
		assert_int_equal(net_addr_port((struct sockaddr *)&peer), net_local_port(cfd));
	}
	assert_int_equal(net_accept(lfd, NULL, NULL), -EAGAIN);

	assert_int_equal(net_set_nodelay(cfd, 1), 0);
	assert_int_not_equal(getint(cfd, IPPROTO_TCP, TCP_NODELAY), 0);
	assert_int_equal(net_set_nodelay(cfd, 0), 0);
	assert_int_equal(getint(cfd, IPPROTO_TCP, TCP_NODELAY), 0);

	assert_int_equal(write(cfd, "ping", 4), 4);
	read_all(afd, buf, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(write(afd, "pong!", 5), 5);
	read_all(cfd, buf, 5);
	assert_memory_equal(buf, "pong!", 5);

	/* half close: the server reads EOF and can still answer */
	assert_int_equal(net_shutdown_write(cfd), 0);
	assert_true(wait_for(afd, POLLIN) & POLLIN);
	assert_int_equal(read(afd, buf, sizeof(buf)), 0);
	assert_int_equal(write(afd, "bye", 3), 3);
	read_all(cfd, buf, 3);
	assert_memory_equal(buf, "bye", 3);

	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_loopback_v4(void **state)
{
	(void)state;
	loopback_session("127.0.0.1:0", AF_INET);
}

static void
test_loopback_v6(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	(void)state;
	addr_of("[::1]:0", &ss, &len);
	fd = net_listen((struct sockaddr *)&ss, len, 1, 0);
	if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)
		skip(); /* no IPv6 loopback on this host */
	assert_true(fd >= 0);
	close(fd);
	loopback_session("[::1]:0", AF_INET6);

	/* dual stack turns IPV6_V6ONLY off */
	addr_of("[::]:0", &ss, &len);
	fd = net_listen((struct sockaddr *)&ss, len, 1, NET_LISTEN_DUALSTACK);
	assert_true(fd >= 0);
	assert_int_equal(getint(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	close(fd);
}

/* [::]:P and 0.0.0.0:P coexist unless the IPv6 socket is dual-stack. */
static void
test_v6only_behaviour(void **state)
{
	struct sockaddr_storage s6, s4;
	socklen_t l6, l4;
	int fd6, fd4, port;

	(void)state;
	addr_of("[::]:0", &s6, &l6);
	fd6 = net_listen((struct sockaddr *)&s6, l6, 1, 0);
	if (fd6 == -EADDRNOTAVAIL || fd6 == -EAFNOSUPPORT)
		skip();
	assert_true(fd6 >= 0);
	port = net_local_port(fd6);
	addr_of("0.0.0.0:0", &s4, &l4);
	((struct sockaddr_in *)&s4)->sin_port = htons((uint16_t)port);
	fd4 = net_listen((struct sockaddr *)&s4, l4, 1, 0);
	assert_true(fd4 >= 0);
	close(fd4);
	close(fd6);

	fd6 = net_listen((struct sockaddr *)&s6, l6, 1, NET_LISTEN_DUALSTACK);
	assert_true(fd6 >= 0);
	((struct sockaddr_in *)&s4)->sin_port = htons((uint16_t)net_local_port(fd6));
	assert_int_equal(net_listen((struct sockaddr *)&s4, l4, 1, 0), -EADDRINUSE);
	close(fd6);
}

static void
test_addr_in_use(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int a, b, port;

	(void)state;
	addr_of("127.0.0.1:0", &ss, &len);
	a = net_listen((struct sockaddr *)&ss, len, 4, 0);
	assert_true(a >= 0);
	port = net_local_port(a);
	((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	assert_int_equal(net_listen((struct sockaddr *)&ss, len, 4, 0), -EADDRINUSE);
	/* SO_REUSEPORT on one side only is still a conflict */
	assert_int_equal(net_listen((struct sockaddr *)&ss, len, 4, NET_LISTEN_REUSEPORT), -EADDRINUSE);
	close(a);

	/* both with SO_REUSEPORT: the port is shared */
	addr_of("127.0.0.1:0", &ss, &len);
	a = net_listen((struct sockaddr *)&ss, len, 4, NET_LISTEN_REUSEPORT);
	assert_true(a >= 0);
	((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)net_local_port(a));
	b = net_listen((struct sockaddr *)&ss, len, 4, NET_LISTEN_REUSEPORT);
	assert_true(b >= 0);
	assert_int_equal(net_local_port(b), net_local_port(a));
	close(b);
	close(a);
}

static void
test_connect_refused(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int hold, fd, err, port;

	(void)state;
	/* hold a port bound but not listening, so nobody else takes it meanwhile */
	hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(hold >= 0);
	addr_of("127.0.0.1:0", &ss, &len);
	assert_int_equal(bind(hold, (struct sockaddr *)&ss, len), 0);
	port = net_local_port(hold);
	assert_true(port > 0);
	((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);

	fd = net_connect((struct sockaddr *)&ss, len);
	if (fd >= 0) {
		wait_for(fd, POLLOUT);
		err = net_socket_error(fd);
		assert_int_equal(err, -ECONNREFUSED);
		assert_int_equal(net_socket_error(fd), 0); /* reading SO_ERROR clears it */
		close(fd);
	} else {
		assert_int_equal(fd, -ECONNREFUSED);
	}
	close(hold);
}

static void
test_socket_options_and_errors(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	socklen_t len;
	int fd, before;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	before = getint(fd, SOL_SOCKET, SO_RCVBUF);
	assert_int_equal(net_set_bufsizes(fd, 0, 0), 0); /* no change */
	assert_int_equal(getint(fd, SOL_SOCKET, SO_RCVBUF), before);
	/* small values show the change whatever the defaults (the kernel
	 * doubles them and applies its minimum) */
	assert_int_equal(net_set_bufsizes(fd, 2048, 0), 0);
	assert_true(getint(fd, SOL_SOCKET, SO_SNDBUF) <= 8192);
	assert_int_equal(getint(fd, SOL_SOCKET, SO_RCVBUF), before);
	assert_int_equal(net_set_bufsizes(fd, 0, 2048), 0);
	assert_true(getint(fd, SOL_SOCKET, SO_RCVBUF) <= 8192);
	assert_int_equal(net_set_bufsizes(fd, 96 * 1024, 80 * 1024), 0);
	assert_true(getint(fd, SOL_SOCKET, SO_SNDBUF) >= 96 * 1024);
	assert_true(getint(fd, SOL_SOCKET, SO_RCVBUF) >= 80 * 1024);
	assert_int_equal(net_local_port(fd), 0); /* not bound yet */
	assert_int_equal(net_socket_error(fd), 0);
	assert_int_equal(net_shutdown_write(fd), -ENOTCONN);
	close(fd);

	assert_int_equal(net_set_nodelay(-1, 1), -EBADF);
	assert_int_equal(net_set_bufsizes(-1, 1024, 0), -EBADF);
	assert_int_equal(net_local_port(-1), -EBADF);
	assert_int_equal(net_socket_error(-1), -EBADF);
	assert_int_equal(net_accept(-1, NULL, NULL), -EBADF);
	assert_int_equal(net_shutdown_write(-1), -EBADF);

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(net_listen((struct sockaddr *)&un, sizeof(un), 1, 0), -EAFNOSUPPORT);
	assert_int_equal(net_connect((struct sockaddr *)&un, sizeof(un)), -EAFNOSUPPORT);

	/* an address not on this host: EADDRNOTAVAIL passes through */
	addr_of("192.0.2.1:0", &ss, &len);
	assert_int_equal(net_listen((struct sockaddr *)&ss, len, 1, 0), -EADDRNOTAVAIL);
}

/* ---- CIDR ---------------------------------------------------------------- */

static int
match(const char *cidr, const char *addr)
{
	struct net_cidr c;
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(net_cidr_parse(cidr, &c), 0);
	if (strchr(addr, ':') != NULL && addr[0] != '[') {
		char b[80];
		snprintf(b, sizeof(b), "[%s]:1", addr);
		addr_of(b, &ss, &len);
	} else {
		char b[80];
		snprintf(b, sizeof(b), "%s:1", addr);
		addr_of(b, &ss, &len);
	}
	return net_cidr_match(&c, (struct sockaddr *)&ss);
}

static void
test_cidr_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"/8",
		"10.0.0.0/",
		"10.0.0.0/8x",
		"10.0.0/8",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/0008",
		"abc",
		"fe80::1%lo",
		"10.0.0.0/8/8",
		"10.0.0.0 /8",
		"10.0.0.0/ 8",
		"1.2.3.4.5",
	};
	struct net_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (net_cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(net_cidr_parse(NULL, &c), -EINVAL);
	/* A prefix too long for the family is told apart. */
	assert_int_equal(net_cidr_parse("10.0.0.0/33", &c), -ERANGE);
	assert_int_equal(net_cidr_parse("::/129", &c), -ERANGE);
	assert_int_equal(net_cidr_parse("::ffff:10.0.0.0/129", &c), -ERANGE);
	assert_int_equal(net_cidr_parse("10.0.0.0/999", &c), -ERANGE);
	assert_int_equal(net_cidr_parse("10.0.0.0/32", &c), 0);
	assert_int_equal(net_cidr_parse("::/128", &c), 0);

	assert_int_equal(net_cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_memory_equal(c.addr, "\x0a\x00\x00\x00", 4); /* host bits cleared */
	assert_int_equal(net_cidr_parse("192.168.1.255/25", &c), 0);
	assert_memory_equal(c.addr, "\xc0\xa8\x01\x80", 4);
	assert_int_equal(net_cidr_parse("10.0.0.3/31", &c), 0);
	assert_memory_equal(c.addr, "\x0a\x00\x00\x02", 4);
	assert_int_equal(net_cidr_parse("10.255.255.255/9", &c), 0);
	assert_memory_equal(c.addr, "\x0a\x80\x00\x00", 4);
	assert_int_equal(net_cidr_parse("1.2.3.4", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(net_cidr_parse("::1", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(net_cidr_parse("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(net_cidr_parse("::ffff:10.0.0.0/104", &c), 0);
	assert_int_equal(c.family, AF_INET); /* stored as the IPv4 range it covers */
	assert_int_equal(c.prefix, 8);
	assert_int_equal(net_cidr_parse("::ffff:0:0/80", &c), 0);
	assert_int_equal(c.family, AF_INET6);
}

static void
test_cidr_match(void **state)
{
	struct net_cidr c;
	struct sockaddr_un un;

	(void)state;
	/* IPv4 */
	assert_true(match("10.0.0.0/8", "10.1.2.3"));
	assert_true(match("10.0.0.0/8", "10.255.255.255"));
	assert_false(match("10.0.0.0/8", "11.0.0.0"));
	assert_false(match("10.0.0.0/8", "9.255.255.255"));
	assert_true(match("10.9.9.9/8", "10.0.0.1"));
	assert_true(match("192.168.1.0/25", "192.168.1.127"));
	assert_false(match("192.168.1.0/25", "192.168.1.128"));
	assert_true(match("172.16.0.0/12", "172.31.255.255"));
	assert_false(match("172.16.0.0/12", "172.32.0.0"));
	assert_true(match("1.2.3.4", "1.2.3.4"));
	assert_false(match("1.2.3.4", "1.2.3.5"));
	assert_true(match("0.0.0.0/0", "203.0.113.9"));
	assert_false(match("0.0.0.0/0", "::1"));
	/* IPv6 */
	assert_true(match("::1/128", "::1"));
	assert_false(match("::1/128", "::2"));
	assert_true(match("fd00::/8", "fd12:3456::1"));
	assert_false(match("fd00::/8", "fe80::1"));
	assert_true(match("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(match("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(match("::/0", "2001:db8::1"));
	assert_false(match("::1", "127.0.0.1"));
	assert_false(match("fd00::/8", "10.0.0.1"));
	/* IPv4-mapped addresses (dual-stack listeners) match IPv4 ranges */
	assert_true(match("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_false(match("10.0.0.0/8", "::ffff:11.1.2.3"));
	assert_true(match("127.0.0.1", "::ffff:127.0.0.1"));
	assert_true(match("0.0.0.0/0", "::ffff:8.8.8.8"));
	assert_false(match("::/0", "::ffff:8.8.8.8"));
	assert_true(match("::ffff:10.0.0.0/104", "10.20.30.40"));
	assert_true(match("::ffff:10.0.0.0/104", "::ffff:10.20.30.40"));
	assert_false(match("::ffff:10.0.0.0/104", "11.0.0.0"));

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(net_cidr_parse("0.0.0.0/0", &c), 0);
	assert_false(net_cidr_match(&c, (struct sockaddr *)&un));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_resolves_names),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_loopback_v4),
		cmocka_unit_test(test_loopback_v6),
		cmocka_unit_test(test_v6only_behaviour),
		cmocka_unit_test(test_addr_in_use),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_socket_options_and_errors),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
