/*
 * pull.h: PULL connections: a container-side client connects to a PULL
 * binding on loopback and becomes a tcp stream pumped through the tunnel.
 */
#ifndef HT_PULL_H
#define HT_PULL_H

#include <stdint.h>

#include "reactor.h"

struct daemon;

/* Set up the PULL connection pool (d->pulls) for capacity connections. 0 or -errno. */
int pull_init(struct daemon *d, uint32_t capacity);

/* The listener callback of PULL bindings. */
void pull_on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events);

#endif
