/*
 * pull.h: PULL connections: a container-side client connects to a PULL
 * binding on loopback and becomes a tcp stream pumped through the tunnel.
 */
#ifndef HT_PULL_H
#define HT_PULL_H

#include "reactor.h"

/* The listener callback of PULL bindings. */
void pull_on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events);

#endif
