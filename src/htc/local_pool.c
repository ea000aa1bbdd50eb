/*
 * local_pool.c: htc's keep-alive connections to local services (see
 * local_pool.h).
 */
#include "local_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

static void
conn_free_cb(struct reactor *rc, struct reactor_deferred *d)
{
	(void)rc;
	free(container_of(d, struct local_pool_conn, free_defer));
}

/* Take k off the idle list (nothing when it is not on it). */
static void
idle_unlink(struct local_pool_conn *k)
{
	struct local_pool *p = k->pool;

	if (!k->idle)
		return;
	if (k->idle_prev)
		k->idle_prev->idle_next = k->idle_next;
	else
		p->idle = k->idle_next;
	if (k->idle_next)
		k->idle_next->idle_prev = k->idle_prev;
	k->idle_prev = k->idle_next = NULL;
	k->idle = 0;
	p->nidle--;
}

static void
conn_unlink(struct local_pool_conn *k)
{
	struct local_pool *p = k->pool;

	if (p == NULL)
		return;
	idle_unlink(k);
	if (k->prev)
		k->prev->next = k->next;
	else
		p->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->pool = NULL;
}

/* see local_pool.h */
void
local_pool_close(struct local_pool_conn *k)
{
	conn_unlink(k);
	if (k->fd >= 0) {
		reactor_watcher_stop(k->r, &k->w);
		close(k->fd);
		k->fd = -1;
	}
	k->owner = NULL;
	reactor_defer(k->r, &k->free_defer, conn_free_cb);
}

/* see local_pool.h */
int
local_pool_detach(struct local_pool_conn *k)
{
	int fd = k->fd;

	reactor_watcher_stop(k->r, &k->w);
	k->fd = -1;
	local_pool_close(k);
	return fd;
}

/* 1 when an idle connection still looks usable: no EOF, no stray bytes. */
static int
conn_alive(int fd)
{
	char x;
	ssize_t n = recv(fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* see local_pool.h */
struct local_pool_conn *
local_pool_take(struct local_pool *p, const struct sockaddr_storage *addr, socklen_t len, void *owner,
		int check)
{
	struct local_pool_conn *k = p->idle, *next;

	for (; k != NULL; k = next) {
		next = k->idle_next;
		if (k->addr_len != len || memcmp(&k->addr, addr, len) != 0)
			continue;
		idle_unlink(k);
		k->owner = owner;
		if (!check || conn_alive(k->fd))
			return k;
		local_pool_close(k);
	}
	return NULL;
}

static void
conn_on_io(struct reactor *rc, struct reactor_watcher *w, unsigned events)
{
	struct local_pool_conn *k = container_of(w, struct local_pool_conn, w);

	(void)rc;
	if (k->fd < 0)
		return;
	if (k->owner != NULL) {
		k->pool->on_io(k->owner, events);
		return;
	}
	/* idle: EOF or stray bytes end it; a stale event changes nothing */
	if (!conn_alive(k->fd))
		local_pool_close(k);
}

/* see local_pool.h */
struct local_pool_conn *
local_pool_connect(struct local_pool *p, const struct sockaddr_storage *addr, socklen_t len, void *owner)
{
	struct local_pool_conn *k = calloc(1, sizeof(*k));
	int fd;

	if (k == NULL)
		return NULL;
	fd = net_connect((const struct sockaddr *)addr, len);
	if (fd < 0) {
		free(k);
		return NULL;
	}
	k->fd = fd;
	k->r = p->r;
	k->connecting = 1;
	k->addr = *addr;
	k->addr_len = len;
	k->owner = owner;
	reactor_watcher_init(&k->w, fd, conn_on_io);
	if (reactor_watcher_start(k->r, &k->w, REACTOR_WRITE) < 0) {
		close(fd);
		free(k);
		return NULL;
	}
	k->pool = p;
	k->next = p->conns;
	if (k->next)
		k->next->prev = k;
	p->conns = k;
	return k;
}

/* see local_pool.h */
int
local_pool_connected(struct local_pool_conn *k)
{
	int rc = net_socket_error(k->fd);

	if (rc != 0)
		return rc;
	k->connecting = 0;
	net_set_nodelay(k->fd, 1);
	return 0;
}

/* see local_pool.h */
void
local_pool_want(struct local_pool_conn *k, unsigned events)
{
	reactor_watcher_set(k->r, &k->w, events);
}

/* see local_pool.h */
void
local_pool_release(struct local_pool_conn *k, int keep)
{
	struct local_pool *p = k->pool;

	if (!keep || p == NULL || p->nidle >= p->idle_max || k->connecting) {
		local_pool_close(k);
		return;
	}
	k->owner = NULL;
	k->reused = 1;
	k->idle = 1;
	k->idle_prev = NULL;
	k->idle_next = p->idle;
	if (p->idle != NULL)
		p->idle->idle_prev = k;
	p->idle = k; /* the most recently used first: the least likely to be timed out by the service */
	p->nidle++;
	reactor_watcher_set(k->r, &k->w, REACTOR_READ);
}

/* see local_pool.h */
void
local_pool_init(struct local_pool *p, struct reactor *r, local_pool_io_cb *on_io, unsigned idle_max)
{
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->on_io = on_io;
	p->idle_max = idle_max;
}

/* see local_pool.h */
void
local_pool_fini(struct local_pool *p)
{
	while (p->conns != NULL)
		local_pool_close(p->conns);
}
