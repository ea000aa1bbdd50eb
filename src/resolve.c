/*
 * resolve.c: c-ares in the reactor (see resolve.h).
 *
 * A lookup is a small block with three owners over its life: c-ares
 * (until its callback runs: in_ares), the loop (while its answer waits in
 * a deferred call: queued) and the caller (until the answer or a cancel).
 * The block is freed when neither c-ares nor the loop holds it. The
 * answer is decided once (done): by c-ares, by the deadline, or by a
 * cancel; whatever comes later is dropped.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define TRIES 3 /* c-ares tries per server within the deadline */

struct resolve_lookup {
	struct resolver *rs;
	resolve_cb *cb; /* NULL once cancelled */
	void *arg;
	uint16_t port;
	uint8_t in_ares, queued, done;
	enum resolve_status st;
	const char *why;
	size_t n;
	struct sockaddr_storage addrs[RESOLVE_MAX_ADDRS];
	struct reactor_timer deadline;
	struct reactor_deferred defer;
};

/* One resolver per process (c-ares' socket callback finds it here), and whether it is closing. */
static struct resolver *the_rs;
static int closing; /* resolve_fini: answers are dropped */

/* ---- c-ares' clock and sockets --------------------------------------------- */

/* Run c-ares' next timeout from the reactor's timer, or stop it when nothing waits. */
static void
rearm(struct resolver *rs)
{
	struct timeval tv, *tp = ares_timeout(rs->channel, NULL, &tv);

	if (tp == NULL) {
		reactor_timer_stop(rs->r, &rs->timer);
		return;
	}
	reactor_timer_start(rs->r, &rs->timer, (uint64_t)tp->tv_sec * 1000 + (uint64_t)tp->tv_usec / 1000 + 1,
			    0);
}

static void
on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct resolver *rs = container_of(t, struct resolver, timer);

	(void)r;
	ares_process_fd(rs->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(rs);
}

static void
on_sock(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct resolver *rs = the_rs;

	(void)r;
	ares_process_fd(rs->channel, (events & REACTOR_READ) ? w->fd : ARES_SOCKET_BAD,
			(events & REACTOR_WRITE) ? w->fd : ARES_SOCKET_BAD);
	rearm(rs);
}

/* c-ares opens, changes or closes a socket: watch it as it says. */
static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *rs = data;
	unsigned want = (readable ? REACTOR_READ : 0) | (writable ? REACTOR_WRITE : 0);
	int i, free_slot = -1;

	for (i = 0; i < RESOLVE_MAX_SOCKS; i++) {
		if (rs->sock_fd[i] == fd)
			break;
		if (rs->sock_fd[i] < 0 && free_slot < 0)
			free_slot = i;
	}
	if (i < RESOLVE_MAX_SOCKS) {
		if (want == 0) {
			reactor_watcher_stop(rs->r, &rs->socks[i]);
			rs->sock_fd[i] = -1;
		} else {
			reactor_watcher_set(rs->r, &rs->socks[i], want);
		}
		return;
	}
	if (want == 0)
		return;
	if (free_slot < 0) {
		log_warn("resolver: more than %d name-server sockets at once; lookups on the next time out",
			 RESOLVE_MAX_SOCKS);
		return;
	}
	reactor_watcher_init(&rs->socks[free_slot], fd, on_sock);
	if (reactor_watcher_start(rs->r, &rs->socks[free_slot], want) == 0)
		rs->sock_fd[free_slot] = fd;
}

/* ---- lookups ------------------------------------------------------------------ */

static void
maybe_free(struct resolve_lookup *l)
{
	if (l->in_ares || l->queued)
		return;
	l->rs->nlookups--;
	free(l);
}

static void
deliver_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct resolve_lookup *l = container_of(df, struct resolve_lookup, defer);

	(void)r;
	l->queued = 0;
	if (!closing) {
		reactor_timer_stop(l->rs->r, &l->deadline);
		if (l->cb != NULL)
			l->cb(l->arg, l->st, l->addrs, l->n, l->why);
	}
	maybe_free(l);
}

/* Decide the answer (once) and hand it to the loop. */
static void
answer(struct resolve_lookup *l, enum resolve_status st, const char *why)
{
	if (l->done)
		return;
	l->done = 1;
	l->st = st;
	l->why = why;
	if (closing || l->cb == NULL)
		return;
	l->queued = 1;
	reactor_defer(l->rs->r, &l->defer, deliver_cb);
}

static void
on_deadline(struct reactor *r, struct reactor_timer *t)
{
	struct resolve_lookup *l = container_of(t, struct resolve_lookup, deadline);

	(void)r;
	answer(l, RESOLVE_TIMEOUT, "no answer from the name servers in time");
}

/* Keep an address with the lookup's port. */
static void
keep(struct resolve_lookup *l, const struct sockaddr *sa, size_t len)
{
	struct sockaddr_storage *ss = &l->addrs[l->n];

	if (l->n >= RESOLVE_MAX_ADDRS || len > sizeof(*ss) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, sa, len);
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(l->port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(l->port);
	l->n++;
}

static void
gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolve_lookup *l = arg;
	struct ares_addrinfo_node *ai;

	(void)timeouts;
	l->in_ares = 0;
	if (!l->done && status == ARES_SUCCESS && res != NULL) {
		for (ai = res->nodes; ai != NULL; ai = ai->ai_next)
			keep(l, ai->ai_addr, (size_t)ai->ai_addrlen);
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	if (status == ARES_SUCCESS && l->n > 0)
		answer(l, RESOLVE_OK, "resolved");
	else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA)
		answer(l, RESOLVE_NOT_FOUND, "no such name");
	else if (status == ARES_ETIMEOUT)
		answer(l, RESOLVE_TIMEOUT, "no answer from the name servers in time");
	else
		answer(l, RESOLVE_FAILED, ares_strerror(status));
	maybe_free(l);
}

/* An IP literal: the answer without asking (0), or -1 for a name. */
static int
literal(struct resolve_lookup *l, const char *host)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		keep(l, (struct sockaddr *)&sin, sizeof(sin));
	} else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		keep(l, (struct sockaddr *)&sin6, sizeof(sin6));
	} else {
		return -1;
	}
	answer(l, RESOLVE_OK, "an address");
	return 0;
}

/* see resolve.h */
struct resolve_lookup *
resolve_start(struct resolver *rs, const char *host, uint16_t port, resolve_cb *cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolve_lookup *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->rs = rs;
	l->cb = cb;
	l->arg = arg;
	l->port = port;
	rs->nlookups++;
	reactor_timer_init(&l->deadline, on_deadline);
	if (literal(l, host) == 0)
		return l;
	reactor_timer_start(rs->r, &l->deadline, rs->timeout_ms, 0);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	l->in_ares = 1;
	ares_getaddrinfo(rs->channel, host, NULL, &hints, gai_cb, l); /* may answer at once */
	rearm(rs);
	return l;
}

/* see resolve.h */
void
resolve_cancel(struct resolve_lookup *l)
{
	l->cb = NULL;
	reactor_timer_stop(l->rs->r, &l->deadline);
	l->done = 1;
	maybe_free(l);
}

/* ---- the resolver ----------------------------------------------------------- */

/* see resolve.h */
int
resolve_init(struct resolver *rs, struct reactor *r, const char *servers, uint64_t timeout_ms, char *err,
	     size_t errlen)
{
	struct ares_options o;
	ares_channel ch;
	int rc, i;

	memset(rs, 0, sizeof(*rs));
	for (i = 0; i < RESOLVE_MAX_SOCKS; i++)
		rs->sock_fd[i] = -1;
	closing = 0;
	the_rs = rs;
	rs->r = r;
	rs->timeout_ms = timeout_ms;
	reactor_timer_init(&rs->timer, on_timer);
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver: %s", ares_strerror(rc));
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = rs;
	o.timeout = (int)UTIL_MAX(timeout_ms / TRIES, 50u);
	o.tries = TRIES;
	rc = ares_init_options(&ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver: %s", ares_strerror(rc));
		ares_library_cleanup();
		return -1;
	}
	rs->channel = ch;
	if (servers != NULL && (rc = ares_set_servers_ports_csv(ch, servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "name servers '%.200s': %s (IP[:PORT],...)", servers,
			 ares_strerror(rc));
		resolve_fini(rs);
		return -1;
	}
	return 0;
}

/* see resolve.h */
void
resolve_fini(struct resolver *rs)
{
	int i;

	if (rs->channel == NULL)
		return;
	closing = 1;
	reactor_timer_stop(rs->r, &rs->timer);
	ares_destroy(rs->channel); /* pending lookups come back as ARES_EDESTRUCTION and are freed */
	rs->channel = NULL;
	for (i = 0; i < RESOLVE_MAX_SOCKS; i++) {
		if (rs->sock_fd[i] >= 0)
			reactor_watcher_stop(rs->r, &rs->socks[i]);
		rs->sock_fd[i] = -1;
	}
	ares_library_cleanup();
}
