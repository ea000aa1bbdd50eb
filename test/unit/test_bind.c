/*
 * test_bind.c: the binding registry through a small fake daemon.
 *
 * The fake daemon (fakedaemon.h) with no session: the holders are
 * bind_sets with made-up session pointers (bind.c never looks inside one),
 * and the accepted connections go to fake ops. So this also shows that
 * bind.o links without session.o, expose.o and pull.o. With getrandom
 * failing (fakerandom.h) a random port or name is an INTERNAL error, never
 * a made-up one. Every test ends with all permits back (teardown).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind.h"
#include "config.h"
#include "daemon.h"
#include "fakedaemon.h"
#include "fakerandom.h"
#include "net.h"
#include "util.h"

static struct config cfg;
static struct daemon d;
/* two holders: the session pointers are only compared, never followed */
static int holder_a, holder_b;
#define SESSION_A ((struct session *)(void *)&holder_a)
#define SESSION_B ((struct session *)(void *)&holder_b)
static struct bind_set set_a, set_b;

/* What the fake ops saw. */
static struct {
	struct binding *b;
	int fds[64];
	int n;
	int stop_after; /* reactor_stop after this many; 0: never */
} got;

static void
fake_on_accept(struct bind_route *rt, int fd, const struct sockaddr_storage *peer)
{
	struct binding *b = rt->first;

	assert_int_equal(peer->ss_family, AF_INET);
	assert_true(got.n < (int)UTIL_ARRAY_SIZE(got.fds));
	got.b = b;
	got.fds[got.n++] = fd;
	if (got.n == got.stop_after)
		reactor_stop(&d.r);
}

static const struct bind_ops fake_expose_ops = { .refusal = "REFUSED\n", .on_accept = fake_on_accept };
static const struct bind_ops fake_pull_ops = { .refusal = NULL, .on_accept = fake_on_accept };

/* Run the loop until something calls reactor_stop. */
static void
run(void)
{
	fakedaemon_run(&d, "the fake ops to stop the loop");
}

static int
setup(void **state)
{
	(void)state;
	if (fakedaemon_init(&d, &cfg) < 0)
		return -1;
	bind_register(BIND_EXPOSE, &fake_expose_ops);
	bind_register(BIND_PULL, &fake_pull_ops);
	bind_set_init(&set_a, &d, SESSION_A);
	bind_set_init(&set_b, &d, SESSION_B);
	memset(&got, 0, sizeof(got));
	return 0;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < got.n; i++) {
		close(got.fds[i]);
		fdbudget_release(&d.fds, 1);
	}
	bind_release_all(&set_a);
	bind_release_all(&set_b);
	assert_int_equal(d.nbinds, 0);
	assert_null(d.binds);
	assert_int_equal(d.nroutes, 0);
	cfg.domain = NULL;
	cfg.public_url_pattern = NULL;
	assert_int_equal(d.fds.in_use, 0);
	assert_int_equal(d.fds.over_release_total, 0);
	fakedaemon_fini(&d);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static void
bind_json(struct bind_set *set, int open, const char *json, struct bind_result *r)
{
	bind_handle(set, open, (const uint8_t *)json, strlen(json), r);
}

/* BIND that must succeed; returns the binding. */
static struct binding *
bind_ok(struct bind_set *set, const char *json)
{
	struct bind_result r;

	bind_json(set, 1, json, &r);
	if (r.b == NULL)
		fail_msg("BIND %s refused: %s: %s", json, r.code, r.message);
	return r.b;
}

/* BIND that must be refused with code. */
static void
bind_err(struct bind_set *set, int open, const char *json, const char *code)
{
	struct bind_result r;

	bind_json(set, open, json, &r);
	assert_null(r.b);
	assert_non_null(r.code);
	assert_string_equal(r.code, code);
	assert_true(r.message[0] != '\0');
	assert_null(r.revoked_s);
}

/* ---- BIND --------------------------------------------------------------- */

static void
test_bind_expose_port0(void **state)
{
	struct bind_result r;
	struct binding *b;
	char url[64];
	int c;

	(void)state;
	cfg.public_url_pattern = "https://x.example/{port}/";
	bind_json(&set_a, 1,
		  "{\"clientBindRef\":\"r1\",\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":0,"
		  "\"label\":\"web\",\"basicAuth\":{\"username\":\"u\",\"password\":\"p\"}}",
		  &r);
	b = r.b;
	assert_non_null(b);
	assert_null(r.code);
	assert_null(r.revoked_s);
	assert_int_equal(r.ref_len, 4);
	assert_memory_equal(r.ref, "\"r1\"", 4);
	assert_true(b->port >= 20000 && b->port <= 65534);
	assert_int_equal(b->kind, BIND_EXPOSE);
	assert_ptr_equal(b->s, SESSION_A);
	assert_ptr_equal(b->d, &d);
	assert_string_equal(b->label, "web");
	assert_string_equal(b->basic_user, "u");
	assert_string_equal(b->basic_pass, "p");
	snprintf(url, sizeof(url), "https://x.example/%d/", b->port);
	assert_string_equal(b->public_url, url);
	assert_int_equal(set_a.n, 1);
	assert_ptr_equal(set_a.first, b);
	assert_int_equal(d.nbinds, 1);
	assert_ptr_equal(bind_route_port(&d, b->port)->first, b);
	assert_int_equal(d.fds.in_use, 1); /* the listener's permit */

	/* the listener accepts and hands the connection to the kind's ops */
	got.stop_after = 1;
	c = fakedaemon_connect(b->port);
	assert_true(c >= 0);
	run();
	assert_int_equal(got.n, 1);
	assert_ptr_equal(got.b, b);
	assert_int_equal(d.fds.in_use, 2);
	close(c);
}

static void
test_bind_ids_and_ref(void **state)
{
	struct bind_result r;
	struct binding *b1, *b2;

	(void)state;
	b1 = bind_ok(&set_a, "{\"kind\":\"tcp\",\"mode\":\"pull\"}");
	bind_json(&set_a, 1, "{\"clientBindRef\":{\"n\":[1,2]},\"kind\":\"tcp\",\"mode\":\"pull\"}", &r);
	b2 = r.b;
	assert_non_null(b2);
	assert_int_equal(b2->id, b1->id + 1);
	assert_int_equal(r.ref_len, strlen("{\"n\":[1,2]}"));
	assert_memory_equal(r.ref, "{\"n\":[1,2]}", r.ref_len);
	assert_true(b1->port > 0 && b2->port > 0 && b1->port != b2->port); /* kernel-ephemeral */
	assert_string_equal(b1->public_url, "");
	assert_int_equal(set_a.n, 2);
	bind_json(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"host\":\"::1\"}", &r);
	if (r.b == NULL) /* a machine without IPv6 loopback */
		assert_string_equal(r.code, "INTERNAL");
	else
		assert_int_equal(r.b->v6, 1);
}

static void
test_bind_errors_in_order(void **state)
{
	char js[160];

	(void)state;
	bind_err(&set_a, 1, "not json", "INVALID_KIND");
	bind_err(&set_a, 1, "[1]", "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"pull\"}", "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"takeover\":true}", "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"basicAuth\":{\"password\":\"x\"}}",
		 "INVALID_KIND");
	bind_err(&set_a, 1,
		 "{\"kind\":\"http\",\"mode\":\"expose\",\"basicAuth\":{\"username\":\"a:b\",\"password\":"
		 "\"x\"}}",
		 "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":\"x\"}", "NO_DOMAIN");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"cluster\":true}", "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"cluster\":1}", "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":70000}",
		 "RESERVED_PORT");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":79}", "RESERVED_PORT");
	snprintf(js, sizeof(js), "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d}",
		 FAKEDAEMON_CTL_PORT);
	bind_err(&set_a, 1, js, "RESERVED_PORT");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":1000}",
		 "PRIVILEGED_PORT");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"host\":\"10.0.0.1\"}", "INVALID_HOST");
	/* a closing session: its own checks first, then INTERNAL */
	bind_err(&set_a, 0, "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":79}", "RESERVED_PORT");
	bind_err(&set_a, 0, "{\"kind\":\"tcp\",\"mode\":\"pull\"}", "INTERNAL");
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_INVALID_KIND], 8);
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_NO_DOMAIN], 1);
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_RESERVED_PORT], 4);
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_PRIVILEGED_PORT], 1);
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_INVALID_HOST], 1);
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_INTERNAL], 1);
	assert_int_equal(set_a.n, 0);
	assert_int_equal(d.fds.in_use, 0);
}

static void
test_bind_cap_and_ports_in_use(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char js[160];
	int fd, port;

	(void)state;
	/* a port some other program holds */
	assert_int_equal(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
	fd = net_listen((struct sockaddr *)&ss, len, 1, 0);
	assert_true(fd >= 0);
	port = net_local_port(fd);
	snprintf(js, sizeof(js), "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d}", port);
	bind_err(&set_a, 1, js, "PORT_IN_USE");
	close(fd);
	assert_int_equal(d.fds.in_use, 0);

	cfg.max_bindings_per_session = 2;
	bind_ok(&set_a, "{\"kind\":\"tcp\",\"mode\":\"pull\"}");
	bind_ok(&set_a, "{\"kind\":\"tcp\",\"mode\":\"pull\"}");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\"}", "BIND_CAP_EXCEEDED");
	bind_ok(&set_b, "{\"kind\":\"tcp\",\"mode\":\"pull\"}"); /* the cap is per session */
	assert_int_equal(d.nbinds, 3);

	/* no permit left: INTERNAL, nothing taken */
	assert_int_equal(fdbudget_acquire(&d.fds, (unsigned)fdbudget_available(&d.fds)), 0);
	bind_err(&set_b, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\"}", "INTERNAL");
	fdbudget_release(&d.fds, (unsigned)(d.fds.in_use - 3));
	assert_int_equal(d.nbinds, 3);
}

/* ---- takeover ----------------------------------------------------------- */

static void
test_takeover(void **state)
{
	struct bind_result r;
	struct binding *old, *b;
	char js[200];
	uint32_t old_id;
	int port, lfd, c;

	(void)state;
	old = bind_ok(&set_a, "{\"kind\":\"http\",\"mode\":\"expose\"}");
	port = old->port;
	old_id = old->id;
	lfd = old->route->l.fd;
	snprintf(js, sizeof(js), "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d}", port);
	bind_err(&set_b, 1, js, "ALREADY_BOUND");
	snprintf(js, sizeof(js),
		 "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d,\"takeover\":true}", port);
	bind_err(&set_a, 1, js, "ALREADY_BOUND"); /* not from oneself */
	bind_err(&set_b, 0, js, "INTERNAL");      /* nor by a closing session */

	bind_json(&set_b, 1, js, &r);
	b = r.b;
	assert_non_null(b);
	assert_ptr_equal(r.revoked_s, SESSION_A);
	assert_int_equal(r.revoked_id, old_id);
	assert_true(b->id > old_id);
	assert_int_equal(b->port, port);
	assert_ptr_equal(b->s, SESSION_B);
	assert_int_equal(b->route->l.fd, lfd); /* the same socket: never closed */
	assert_int_equal(set_a.n, 0);
	assert_null(set_a.first);
	assert_int_equal(set_b.n, 1);
	assert_ptr_equal(bind_route_port(&d, port)->first, b);
	assert_int_equal(d.nbinds, 1);
	assert_int_equal(d.fds.in_use, 1); /* the permit moved with the socket */

	/* and it accepts for the new holder */
	got.stop_after = 1;
	c = fakedaemon_connect(port);
	assert_true(c >= 0);
	run();
	assert_ptr_equal(got.b, b);
	close(c);
}

/* ---- UNBIND ------------------------------------------------------------- */

static void
unbind_json(struct bind_set *set, const char *json, struct bind_unbind_result *r)
{
	bind_handle_unbind(set, (const uint8_t *)json, strlen(json), r);
}

static void
test_unbind(void **state)
{
	struct bind_unbind_result r;
	struct binding *b;
	char js[64];
	uint32_t id;
	int port;

	(void)state;
	b = bind_ok(&set_a, "{\"kind\":\"http\",\"mode\":\"expose\"}");
	id = b->id;
	port = b->port;
	unbind_json(&set_a, "{}", &r);
	assert_string_equal(r.code, "INVALID_REQUEST");
	assert_int_equal(r.id, -1);
	unbind_json(&set_a, "{\"bindId\":999}", &r);
	assert_string_equal(r.code, "UNKNOWN_BIND");
	assert_int_equal(r.id, 999);
	snprintf(js, sizeof(js), "{\"bindId\":%u}", id);
	unbind_json(&set_b, js, &r); /* another session's binding */
	assert_string_equal(r.code, "UNKNOWN_BIND");
	assert_int_equal(set_a.n, 1);

	unbind_json(&set_a, js, &r);
	assert_null(r.code);
	assert_int_equal(r.id, id);
	assert_int_equal(r.port, port);
	assert_int_equal(set_a.n, 0);
	assert_null(bind_route_port(&d, port));
	assert_int_equal(d.fds.in_use, 0);
	assert_int_equal(fakedaemon_connect(port), -ECONNREFUSED);
}

/* ---- accepting ---------------------------------------------------------- */

/* One readiness event takes at most DAEMON_ACCEPT_BATCH connections. */
static void
test_accept_batch(void **state)
{
	struct binding *b;
	int c[DAEMON_ACCEPT_BATCH + 5], i;

	(void)state;
	b = bind_ok(&set_a, "{\"kind\":\"tcp\",\"mode\":\"pull\"}");
	for (i = 0; i < (int)UTIL_ARRAY_SIZE(c); i++) {
		c[i] = fakedaemon_connect(b->port);
		assert_true(c[i] >= 0);
	}
	got.stop_after = 1; /* the loop stops after the iteration of the first */
	run();
	assert_int_equal(got.n, DAEMON_ACCEPT_BATCH);
	got.stop_after = DAEMON_ACCEPT_BATCH + 5;
	run();
	assert_int_equal(got.n, DAEMON_ACCEPT_BATCH + 5);
	assert_int_equal(d.fds.in_use, 1 + DAEMON_ACCEPT_BATCH + 5);
	for (i = 0; i < (int)UTIL_ARRAY_SIZE(c); i++)
		close(c[i]);
}

/* A client that keeps what the daemon says to it until EOF. */
struct client {
	struct reactor_watcher w;
	char said[64];
	size_t len;
};

static void
on_client(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct client *c = container_of(w, struct client, w);
	ssize_t n;

	(void)events;
	n = read(w->fd, c->said + c->len, sizeof(c->said) - 1 - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		c->said[c->len] = '\0';
		return;
	}
	reactor_stop(r);
}

/* Without a permit a connection is refused with the kind's words (EXPOSE) or none (PULL). */
static void
refused(const char *bind, const char *expect)
{
	struct client c = { 0 };
	struct binding *b;
	unsigned long held;
	int fd;

	b = bind_ok(&set_a, bind);
	held = fdbudget_available(&d.fds);
	assert_int_equal(fdbudget_acquire(&d.fds, (unsigned)held), 0);
	fd = fakedaemon_connect(b->port);
	assert_true(fd >= 0);
	reactor_watcher_init(&c.w, fd, on_client);
	assert_int_equal(reactor_watcher_start(&d.r, &c.w, REACTOR_READ), 0);
	run();
	reactor_watcher_stop(&d.r, &c.w);
	close(fd);
	assert_string_equal(c.said, expect);
	assert_int_equal(got.n, 0);
	assert_int_equal(d.metrics.fd_refusals_total, 1);
	assert_int_equal(d.fds.refusals_in_use, 0);
	fdbudget_release(&d.fds, (unsigned)held);
}

static void
test_refused_expose(void **state)
{
	(void)state;
	refused("{\"kind\":\"http\",\"mode\":\"expose\"}", "REFUSED\n");
}

static void
test_refused_pull(void **state)
{
	(void)state;
	refused("{\"kind\":\"tcp\",\"mode\":\"pull\"}", "");
}

/* ---- routes by host and cluster mode ------------------------------------- */

#define HOST_BIND(name) "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":\"" name "\"}"
#define CLUSTER_BIND(name)                                                                                   \
	"{\"kind\":\"http\",\"mode\":\"expose\",\"cluster\":true,\"subdomain\":\"" name "\"}"

static void
test_host_routes(void **state)
{
	struct binding *b, *root, *rnd;
	size_t i;

	(void)state;
	cfg.domain = "example.test";
	set_a.via_port = 8050;
	b = bind_ok(&set_a, HOST_BIND("Demo"));
	assert_int_equal(b->port, 0);
	assert_string_equal(b->route->name, "demo"); /* lowercased */
	assert_string_equal(b->public_url, "http://demo.example.test:8050");
	assert_ptr_equal(bind_route_host(&d, "demo"), b->route);
	assert_null(bind_route_host(&d, "Demo"));
	assert_int_equal(d.fds.in_use, 0); /* a name costs no socket */
	root = bind_ok(&set_a,
		       "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":\"@\",\"containerPort\":null}");
	assert_string_equal(root->public_url, "http://example.test:8050");
	set_b.via_port = 80;
	rnd = bind_ok(&set_b, HOST_BIND(""));
	assert_int_equal(strlen(rnd->route->name), 13);
	assert_memory_equal(rnd->route->name, "px-", 3);
	for (i = 3; i < 13; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789", rnd->route->name[i]));
	assert_int_equal(snprintf(NULL, 0, "http://%s.example.test", rnd->route->name),
			 (int)strlen(rnd->public_url));
	assert_int_equal(d.nroutes, 3);

	bind_err(&set_b, 1, HOST_BIND("demo"), "ALREADY_BOUND");
	bind_err(&set_a, 1, HOST_BIND("demo"), "ALREADY_BOUND"); /* not twice either */
	bind_err(&set_b, 1, CLUSTER_BIND("demo"), "ALREADY_BOUND");
	bind_err(&set_a, 1, HOST_BIND("Bad_Name"), "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1, HOST_BIND("-x"), "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1, HOST_BIND("x-"), "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1, HOST_BIND("a.b"), "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1, HOST_BIND("a234567890123456789012345678901234567890123456789012345678901234"),
		 "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":5}", "INVALID_SUBDOMAIN");
	bind_err(&set_a, 1,
		 "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":\"x\",\"containerPort\":3000}",
		 "INVALID_KIND");
	bind_err(&set_a, 1, "{\"kind\":\"tcp\",\"mode\":\"pull\",\"subdomain\":\"x\"}", "INVALID_KIND");
	assert_int_equal(d.metrics.bind_errors_total[METRICS_BIND_INVALID_SUBDOMAIN], 6);

	/* 63 characters is a label still */
	bind_ok(&set_a, HOST_BIND("a23456789012345678901234567890123456789012345678901234567890123"));
	bind_release(b);
	assert_null(bind_route_host(&d, "demo"));
	bind_ok(&set_b, HOST_BIND("demo")); /* free again */
}

/* No random numbers: port 0 and an empty subdomain are refused (INTERNAL), with the permit back. */
static void
test_random_pick_fails(void **state)
{
	struct bind_result r;

	(void)state;
	cfg.domain = "example.test";
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	bind_json(&set_a, 1, "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":0}", &r);
	assert_null(r.b);
	assert_string_equal(r.code, "INTERNAL");
	assert_non_null(strstr(r.message, "no random numbers for a free port: "));
	assert_int_equal(d.fds.in_use, 0);
	bind_json(&set_a, 1, HOST_BIND(""), &r);
	assert_null(r.b);
	assert_string_equal(r.code, "INTERNAL");
	assert_non_null(strstr(r.message, "no random numbers for a subdomain: "));
	/* what needs no random number still works */
	bind_ok(&set_a, HOST_BIND("named"));
	bind_ok(&set_a, "{\"kind\":\"tcp\",\"mode\":\"pull\"}");
	fakerandom_off();
	assert_int_equal(d.nroutes, 2);
	bind_ok(&set_a, HOST_BIND(""));
}

static void
test_host_pattern(void **state)
{
	struct binding *b;

	(void)state;
	cfg.domain = "example.test";
	cfg.public_url_pattern = "https://{subdomain}.tunnels.example/x{port}";
	b = bind_ok(&set_a, HOST_BIND("demo"));
	assert_string_equal(b->public_url, "https://demo.tunnels.example/x0");
	b = bind_ok(&set_a, HOST_BIND("@"));
	assert_string_equal(b->public_url, "https://tunnels.example/x0");
	/* a pattern with {subdomain} is not a port's */
	b = bind_ok(&set_a, "{\"kind\":\"http\",\"mode\":\"expose\"}");
	assert_string_equal(b->public_url, "");
	/* nor one without it a name's */
	cfg.public_url_pattern = "https://ports.example/{port}";
	set_b.via_port = 8050;
	b = bind_ok(&set_b, HOST_BIND("web"));
	assert_string_equal(b->public_url, "http://web.example.test:8050");
	b = bind_ok(&set_b, "{\"kind\":\"http\",\"mode\":\"expose\"}");
	assert_true(strncmp(b->public_url, "https://ports.example/", 22) == 0);
}

static void
test_cluster_turns(void **state)
{
	struct binding *a, *b, *c, *first;
	struct bind_route *rt;
	static int holder_c;
	struct bind_set set_c;
	int i, seen_a = 0, seen_b = 0;

	(void)state;
	cfg.domain = "example.test";
	bind_set_init(&set_c, &d, (struct session *)(void *)&holder_c);
	a = bind_ok(&set_a, CLUSTER_BIND("api"));
	bind_err(&set_b, 1, HOST_BIND("api"), "ALREADY_BOUND"); /* single asks for a cluster name */
	b = bind_ok(&set_b, CLUSTER_BIND("api"));
	bind_err(&set_a, 1, CLUSTER_BIND("api"), "ALREADY_BOUND");
	rt = a->route;
	assert_ptr_equal(b->route, rt);
	assert_int_equal(rt->n, 2);
	assert_int_equal(d.nroutes, 1);

	/* each request to the holder whose turn it is */
	for (i = 0; i < 10; i++) {
		first = bind_route_next(rt, NULL);
		assert_null(bind_route_next(rt, bind_route_next(rt, first)));
		bind_route_took(rt, first);
		seen_a += first == a;
		seen_b += first == b;
	}
	assert_int_equal(seen_a, 5);
	assert_int_equal(seen_b, 5);

	/* a holder that leaves drops out of the turns at once */
	c = bind_ok(&set_c, CLUSTER_BIND("api"));
	assert_ptr_equal(bind_route_next(rt, NULL), a);
	bind_route_took(rt, a);
	assert_ptr_equal(bind_route_next(rt, NULL), b);
	bind_release(b);
	assert_ptr_equal(bind_route_next(rt, NULL), c);
	assert_ptr_equal(bind_route_next(rt, c), a);
	assert_null(bind_route_next(rt, a));
	bind_release_all(&set_c);
	bind_release(a);
	assert_int_equal(d.nroutes, 0);
}

static void
test_cluster_port(void **state)
{
	struct binding *a, *b;
	char js[160];
	int c;

	(void)state;
	a = bind_ok(&set_a, "{\"kind\":\"http\",\"mode\":\"expose\",\"cluster\":true}");
	snprintf(js, sizeof(js), "{\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":%d}", a->port);
	bind_err(&set_b, 1, js, "ALREADY_BOUND");
	snprintf(js, sizeof(js),
		 "{\"kind\":\"http\",\"mode\":\"expose\",\"cluster\":true,\"containerPort\":%d}", a->port);
	b = bind_ok(&set_b, js);
	assert_ptr_equal(b->route, a->route);
	assert_int_equal(d.fds.in_use, 1); /* one listener for both */

	/* the first holder leaves: the listener stays with the route */
	bind_release(a);
	assert_int_equal(d.fds.in_use, 1);
	got.stop_after = 1;
	c = fakedaemon_connect(b->port);
	assert_true(c >= 0);
	run();
	assert_ptr_equal(got.b, b);
	close(c);
}

static void
test_takeover_host(void **state)
{
	struct bind_result r;
	struct binding *old, *b;

	(void)state;
	cfg.domain = "example.test";
	old = bind_ok(&set_a, HOST_BIND("demo"));
	bind_json(&set_b, 1,
		  "{\"kind\":\"http\",\"mode\":\"expose\",\"subdomain\":\"demo\",\"takeover\":true}", &r);
	b = r.b;
	assert_non_null(b);
	assert_ptr_equal(r.revoked_s, SESSION_A);
	assert_int_equal(set_a.n, 0);
	assert_ptr_equal(bind_route_host(&d, "demo")->first, b);
	(void)old;
}

static void
test_host_name(void **state)
{
	static const struct {
		const char *host, *want; /* want NULL: not under the domain */
	} cases[] = {
		{ "demo.example.test", "demo" },
		{ "DEMO.Example.TEST", "demo" },
		{ "demo.example.test:8080", "demo" },
		{ "demo.example.test.", "demo" },
		{ "demo.example.test.:80", "demo" },
		{ "example.test", "@" },
		{ "EXAMPLE.test.:1", "@" },
		{ "a.b.example.test", NULL },
		{ "xexample.test", NULL },
		{ "example.test.evil", NULL },
		{ ".example.test", NULL },
		{ "[::1]:80", NULL },
		{ "127.0.0.1:8050", NULL },
		{ "", NULL },
		{ "test", NULL },
	};
	char name[BIND_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		int got_it = bind_host_name("example.test", cases[i].host, strlen(cases[i].host), name);

		if (cases[i].want == NULL) {
			if (got_it)
				fail_msg("%s: routed as %s", cases[i].host, name);
			continue;
		}
		if (!got_it)
			fail_msg("%s: not routed", cases[i].host);
		assert_string_equal(name, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_expose_port0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_ids_and_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_errors_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_cap_and_ports_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_expose, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_pick_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_pattern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover_host, setup, teardown),
		cmocka_unit_test(test_host_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
