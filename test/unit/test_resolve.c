/*
 * test_resolve.c: name resolution in the loop, against a name server of
 * the test's own on 127.0.0.1 (UDP, in the same loop):
 *   ok.test      A 127.0.0.5 and AAAA fd00::5
 *   v4only.test  A 127.0.0.6, no AAAA
 *   nx.test      NXDOMAIN
 *   slow.test    never answered
 * Answers come from the loop, never from inside resolve_start; a slow
 * name server never holds up other work; a cancelled lookup is never
 * answered; resolve_fini drops what is pending (ASan checks the memory).
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
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "reactor.h"
#include "resolve.h"
#include "util.h"

#define GUARD_MS 5000

static struct reactor r;
static struct resolver rs;
static struct reactor_watcher dns_w;
static struct reactor_timer guard, tick;
static int dns_fd, dns_port, queries;

/* What the callback saw. */
static struct {
	int calls;
	enum resolve_status st;
	size_t n;
	struct sockaddr_storage addrs[RESOLVE_MAX_ADDRS];
	int stop_after;
} got;

static void
on_answer(void *arg, enum resolve_status st, const struct sockaddr_storage *addrs, size_t n, const char *why)
{
	(void)arg;
	assert_non_null(why);
	got.calls++;
	got.st = st;
	got.n = n;
	memcpy(got.addrs, addrs, n * sizeof(*addrs));
	if (got.calls == got.stop_after)
		reactor_stop(&r);
}

/* ---- the test's name server ------------------------------------------------ */

/* End of the question's name at off, or 0 when malformed; the name as text into out. */
static size_t
qname(const uint8_t *q, size_t n, size_t off, char *out, size_t cap)
{
	size_t len = 0;

	while (off < n && q[off] != 0) {
		size_t l = q[off++];

		if (off + l > n || len + l + 2 > cap)
			return 0;
		if (len > 0)
			out[len++] = '.';
		memcpy(out + len, q + off, l);
		len += l;
		off += l;
	}
	out[len] = '\0';
	return off < n ? off + 1 : 0;
}

/* Append an answer record (name by pointer to the question) of type with rdata. */
static size_t
add_rr(uint8_t *out, size_t at, uint16_t type, const void *rdata, uint16_t rdlen)
{
	uint8_t rr[12] = { 0xC0, 12, (uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0, 0, 60, 0, 0 };

	rr[10] = (uint8_t)(rdlen >> 8);
	rr[11] = (uint8_t)rdlen;
	memcpy(out + at, rr, sizeof(rr));
	memcpy(out + at + sizeof(rr), rdata, rdlen);
	return at + sizeof(rr) + rdlen;
}

static void
on_dns(struct reactor *rr, struct reactor_watcher *w, unsigned events)
{
	uint8_t q[512], out[600];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	char name[256];
	ssize_t n = recvfrom(w->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	size_t end, at;
	uint16_t type;
	int ancount = 0, rcode = 0;

	(void)rr;
	(void)events;
	if (n < 12)
		return;
	queries++;
	end = qname(q, (size_t)n, 12, name, sizeof(name));
	if (end == 0 || end + 4 > (size_t)n || strcmp(name, "slow.test") == 0)
		return;
	type = (uint16_t)(q[end] << 8 | q[end + 1]);
	at = end + 4;
	memcpy(out, q, at);
	if (strcmp(name, "ok.test") == 0 && type == 1) {
		at = add_rr(out, at, 1, "\x7f\x00\x00\x05", 4);
		ancount = 1;
	} else if (strcmp(name, "ok.test") == 0 && type == 28) {
		at = add_rr(out, at, 28, "\xfd\x00\0\0\0\0\0\0\0\0\0\0\0\0\0\x05", 16);
		ancount = 1;
	} else if (strcmp(name, "v4only.test") == 0 && type == 1) {
		at = add_rr(out, at, 1, "\x7f\x00\x00\x06", 4);
		ancount = 1;
	} else if (strcmp(name, "nx.test") == 0) {
		rcode = 3;
	}
	out[2] = 0x81; /* QR, RD */
	out[3] = (uint8_t)(0x80 | rcode);
	out[6] = 0;
	out[7] = (uint8_t)ancount;
	memset(out + 8, 0, 4); /* no authority, no additional */
	(void)!sendto(w->fd, out, at, 0, (struct sockaddr *)&from, flen);
}

/* ---- fixture ------------------------------------------------------------------- */

static void
on_guard(struct reactor *rr, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(rr);
	fail_msg("no answer within %d ms", GUARD_MS);
}

static void
on_tick(struct reactor *rr, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(rr);
}

/* Run the loop until stop_after answers arrived. */
static void
run_until(int calls)
{
	got.stop_after = calls;
	if (got.calls >= calls)
		return;
	reactor_timer_start(&r, &guard, GUARD_MS, 0);
	assert_int_equal(reactor_run(&r), 0);
	reactor_timer_stop(&r, &guard);
}

/* Run the loop for ms. */
static void
run_for(uint64_t ms)
{
	got.stop_after = -1;
	reactor_timer_start(&r, &tick, ms, 0);
	assert_int_equal(reactor_run(&r), 0);
}

static int
setup(void **state)
{
	struct sockaddr_in sin;
	char servers[64], err[256];

	(void)state;
	memset(&got, 0, sizeof(got));
	queries = 0;
	assert_int_equal(reactor_init(&r), 0);
	reactor_timer_init(&guard, on_guard);
	reactor_timer_init(&tick, on_tick);
	dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(dns_fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(dns_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	dns_port = net_local_port(dns_fd);
	reactor_watcher_init(&dns_w, dns_fd, on_dns);
	assert_int_equal(reactor_watcher_start(&r, &dns_w, REACTOR_READ), 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", dns_port);
	if (resolve_init(&rs, &r, servers, 600, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	resolve_fini(&rs);
	reactor_watcher_stop(&r, &dns_w);
	close(dns_fd);
	reactor_fini(&r);
	return 0;
}

/* ---- cases --------------------------------------------------------------------- */

static int
has(const char *ip, int port)
{
	char want[NET_ADDR_STRLEN], s[NET_ADDR_STRLEN];
	size_t i;

	snprintf(want, sizeof(want), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
	for (i = 0; i < got.n; i++) {
		assert_true(net_format_addr((const struct sockaddr *)&got.addrs[i], s, sizeof(s)) > 0);
		if (strcmp(s, want) == 0)
			return 1;
	}
	return 0;
}

static void
test_literals(void **state)
{
	(void)state;
	assert_non_null(resolve_start(&rs, "127.0.0.1", 80, on_answer, NULL));
	assert_int_equal(got.calls, 0); /* from the loop, not from inside */
	run_until(1);
	assert_int_equal(got.st, RESOLVE_OK);
	assert_int_equal(got.n, 1);
	assert_true(has("127.0.0.1", 80));
	assert_non_null(resolve_start(&rs, "::1", 5432, on_answer, NULL));
	run_until(2);
	assert_int_equal(got.n, 1);
	assert_true(has("::1", 5432));
	assert_int_equal(queries, 0);
}

static void
test_names(void **state)
{
	(void)state;
	assert_non_null(resolve_start(&rs, "ok.test", 443, on_answer, NULL));
	assert_int_equal(got.calls, 0);
	run_until(1);
	assert_int_equal(got.st, RESOLVE_OK);
	assert_int_equal(got.n, 2);
	assert_true(has("127.0.0.5", 443));
	assert_true(has("fd00::5", 443));
	assert_non_null(resolve_start(&rs, "v4only.test", 1, on_answer, NULL));
	run_until(2);
	assert_int_equal(got.st, RESOLVE_OK);
	assert_int_equal(got.n, 1);
	assert_true(has("127.0.0.6", 1));
	assert_non_null(resolve_start(&rs, "nx.test", 1, on_answer, NULL));
	run_until(3);
	assert_int_equal(got.st, RESOLVE_NOT_FOUND);
	assert_int_equal(got.n, 0);
	assert_true(queries >= 3);
}

static void
test_hosts_file(void **state)
{
	(void)state;
	assert_non_null(resolve_start(&rs, "localhost", 8080, on_answer, NULL));
	run_until(1);
	assert_int_equal(got.st, RESOLVE_OK);
	assert_true(has("127.0.0.1", 8080) || has("::1", 8080));
}

static void
test_slow_server(void **state)
{
	uint64_t t0;

	(void)state;
	reactor_update_time(&r);
	t0 = reactor_now(&r);
	assert_non_null(resolve_start(&rs, "slow.test", 1, on_answer, NULL));
	/* the loop goes on meanwhile: another answer comes first */
	assert_non_null(resolve_start(&rs, "ok.test", 2, on_answer, NULL));
	run_until(1);
	assert_int_equal(got.st, RESOLVE_OK);
	assert_true(reactor_now(&r) - t0 < 500);
	run_until(2);
	assert_int_equal(got.st, RESOLVE_TIMEOUT);
	assert_true(reactor_now(&r) - t0 >= 550);
	assert_true(reactor_now(&r) - t0 < 2000);
}

static void
test_cancel(void **state)
{
	struct resolve_lookup *a, *b, *c;

	(void)state;
	a = resolve_start(&rs, "ok.test", 1, on_answer, NULL);
	b = resolve_start(&rs, "127.0.0.1", 1, on_answer, NULL);
	c = resolve_start(&rs, "slow.test", 1, on_answer, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	resolve_cancel(a);
	resolve_cancel(b);
	resolve_cancel(c);
	run_for(800); /* past the deadline: nothing comes */
	assert_int_equal(got.calls, 0);
}

static void
test_fini_with_pending(void **state)
{
	(void)state;
	assert_non_null(resolve_start(&rs, "slow.test", 1, on_answer, NULL));
	assert_non_null(resolve_start(&rs, "127.0.0.1", 1, on_answer, NULL));
	run_for(20);
	assert_int_equal(got.calls, 1);
	assert_non_null(resolve_start(&rs, "ok.test", 1, on_answer, NULL));
	/* teardown's resolve_fini drops both pending lookups */
}

static void
test_bad_servers(void **state)
{
	struct reactor r2;
	struct resolver rs2;
	char err[256];

	(void)state;
	resolve_fini(&rs); /* one resolver at a time */
	assert_int_equal(reactor_init(&r2), 0);
	assert_int_equal(resolve_init(&rs2, &r2, "not-an-ip", 1000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not-an-ip"));
	reactor_fini(&r2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fini_with_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_servers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
