/*
 * pull.h: PULL connections: a container-side client connects to a PULL
 * binding on loopback and becomes a tcp stream pumped through the tunnel.
 */
#ifndef HT_PULL_H
#define HT_PULL_H

#include <stdint.h>

struct daemon;

/*
 * Set up the PULL connection pool (d->pulls) for capacity connections and
 * register with the binding registry what PULL listeners do with their
 * connections. 0 or -errno.
 */
int pull_init(struct daemon *d, uint32_t capacity);

#endif
