/*
 * bind_int.h: the route table inside the registry (bind.c, bind_route.c).
 */
#ifndef HT_BIND_INT_H
#define HT_BIND_INT_H

#include "bind.h"

/* A new route with no holder, in the table; NULL when out of memory. */
struct bind_route *bind_route_new(struct daemon *d, enum bind_kind kind, int port, const char *name,
				  int cluster);

/* Take an empty route out of the table and free it (its listener already stopped). */
void bind_route_free(struct bind_route *rt);

/* Add b as the last holder of rt (b->route, b->port set); take it out again. */
void bind_route_add(struct bind_route *rt, struct binding *b);
void bind_route_remove(struct bind_route *rt, struct binding *b);

#endif
