/*
 * bind_route.c: the route table of the registry (see bind.h). Ports and
 * host names share one chained hash table that doubles as it fills, so a
 * request finds its route in one or two probes however many there are.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "bind_int.h"
#include "util.h"

#define ROUTE_BUCKETS_MIN 64u

/* FNV-1a over a name, or a port mixed the same way (names never hash as ports: "" is not a name). */
static uint32_t
key_hash(int port, const char *name)
{
	uint32_t h = 2166136261u;

	if (port != 0)
		return ((uint32_t)port * 2654435761u) ^ h;
	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

static struct bind_route **
bucket(struct daemon *d, int port, const char *name)
{
	return &d->routes[key_hash(port, name) & (d->route_buckets - 1)];
}

static struct bind_route *
find(struct daemon *d, int port, const char *name)
{
	struct bind_route *rt;

	if (d->routes == NULL)
		return NULL;
	for (rt = *bucket(d, port, name); rt != NULL; rt = rt->hnext)
		if (rt->port == port && (port != 0 || strcmp(rt->name, name) == 0))
			return rt;
	return NULL;
}

/* see bind.h */
struct bind_route *
bind_route_port(struct daemon *d, int port)
{
	return port > 0 ? find(d, port, "") : NULL;
}

/* see bind.h */
struct bind_route *
bind_route_host(struct daemon *d, const char *name)
{
	return name[0] ? find(d, 0, name) : NULL;
}

/* Double the table (or make it): 0, or -1 when out of memory (the old one stays). */
static int
grow(struct daemon *d)
{
	unsigned n = d->route_buckets ? d->route_buckets * 2 : ROUTE_BUCKETS_MIN, i;
	struct bind_route **old = d->routes, *rt, *next;
	unsigned nold = d->route_buckets;

	d->routes = calloc(n, sizeof(*d->routes));
	if (d->routes == NULL) {
		d->routes = old;
		return old != NULL ? 0 : -1;
	}
	d->route_buckets = n;
	for (i = 0; i < nold; i++) {
		for (rt = old[i]; rt != NULL; rt = next) {
			struct bind_route **b = bucket(d, rt->port, rt->name);

			next = rt->hnext;
			rt->hnext = *b;
			*b = rt;
		}
	}
	free(old);
	return 0;
}

/* see bind_int.h */
struct bind_route *
bind_route_new(struct daemon *d, enum bind_kind kind, int port, const char *name, int cluster)
{
	struct bind_route *rt, **b;

	if ((d->routes == NULL || d->nroutes >= d->route_buckets) && grow(d) < 0)
		return NULL;
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->kind = kind;
	rt->port = port;
	memcpy(rt->name, name, strnlen(name, BIND_NAME_MAX));
	rt->cluster = (uint8_t)(cluster != 0);
	rt->l.fd = -1;
	rt->d = d;
	b = bucket(d, port, rt->name);
	rt->hnext = *b;
	*b = rt;
	d->nroutes++;
	return rt;
}

/* see bind_int.h */
void
bind_route_free(struct bind_route *rt)
{
	struct daemon *d = rt->d;
	struct bind_route **p = bucket(d, rt->port, rt->name);

	while (*p != rt)
		p = &(*p)->hnext;
	*p = rt->hnext;
	d->nroutes--;
	free(rt);
}

/* see bind_int.h */
void
bind_route_add(struct bind_route *rt, struct binding *b)
{
	struct binding **tail = &rt->first, *prev = NULL;

	while (*tail != NULL) {
		prev = *tail;
		tail = &(*tail)->rnext;
	}
	b->rprev = prev;
	b->rnext = NULL;
	*tail = b;
	b->route = rt;
	b->port = rt->port;
	rt->n++;
}

/* see bind_int.h */
void
bind_route_remove(struct bind_route *rt, struct binding *b)
{
	if (rt->turn == b)
		rt->turn = b->rnext;
	if (b->rprev)
		b->rprev->rnext = b->rnext;
	else
		rt->first = b->rnext;
	if (b->rnext)
		b->rnext->rprev = b->rprev;
	b->rprev = b->rnext = NULL;
	b->route = NULL;
	rt->n--;
}

/* see bind.h */
struct binding *
bind_route_next(struct bind_route *rt, const struct binding *prev)
{
	struct binding *start = rt->turn != NULL ? rt->turn : rt->first, *b;

	if (prev == NULL)
		return start;
	b = prev->rnext != NULL ? prev->rnext : rt->first;
	return b == start ? NULL : b;
}

/* see bind.h */
void
bind_route_took(struct bind_route *rt, const struct binding *b)
{
	rt->turn = b->rnext;
}

/* see bind.h */
int
bind_host_name(const char *domain, const char *host, size_t len, char name[BIND_NAME_MAX + 1])
{
	size_t dl = strlen(domain), i, label;
	const char *colon;

	if (len > 0 && host[0] == '[')
		return 0; /* an IPv6 literal is under no domain */
	colon = memchr(host, ':', len);
	if (colon != NULL)
		len = (size_t)(colon - host);
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (dl > 0 && domain[dl - 1] == '.')
		dl--;
	if (dl == 0)
		return 0;
	if (len == dl && util_mem_caseeq(host, domain, dl)) {
		memcpy(name, "@", 2);
		return 1;
	}
	if (len <= dl + 1 || host[len - dl - 1] != '.' || !util_mem_caseeq(host + len - dl, domain, dl))
		return 0;
	label = len - dl - 1;
	if (label > BIND_NAME_MAX || memchr(host, '.', label) != NULL)
		return 0;
	for (i = 0; i < label; i++) {
		char c = host[i];

		name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	name[label] = '\0';
	return 1;
}

/* see bind.h */
void
bind_routes_fini(struct daemon *d)
{
	free(d->routes);
	d->routes = NULL;
	d->route_buckets = 0;
	d->nroutes = 0;
}
