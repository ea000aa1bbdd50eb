/*
 * client_int.h: what client.c and client_join.c share, and nobody else.
 *
 * client.c runs the session (handshake, bindings, streams, reconnects);
 * client_join.c opens a v2 client's secondary sockets. Both run on the
 * client's reactor.
 */
#ifndef HTC_CLIENT_INT_H
#define HTC_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "json.h"
#include "tunnel.h"

/* ---- client.c ----------------------------------------------------------- */

/* The callbacks of every tunnel socket of the client. */
extern const struct tunnel_ops client_tunnel_ops;

/* The primary socket's tunnel while it is open, else NULL. */
struct tunnel *client_primary(struct client *c);

/* A progress line for the user (the client's on_state event). */
void client_say(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Backoff: the first retry within 100 ms, then doubling up to 5 s, with
 * random jitter, into *ms. 0, or the -errno of util_random (no delay then).
 */
int client_retry_delay(unsigned attempt, uint64_t *ms);

/* ---- client_join.c ------------------------------------------------------ */

/* Open every granted secondary socket a "joinTickets" array of doc names. */
void client_join_tickets(struct client *c, const struct json_doc *doc);

/* The REISSUE_JOIN_TICKETS answer (JSON p[0..n)). */
void client_join_reissued(struct client *c, const uint8_t *p, size_t n);

/* A secondary was refused, lost or could not be opened: ask for tickets after the backoff. */
void client_join_later(struct client *c);

/* The client's rejoin_timer callback. */
void client_join_on_timer(struct reactor *r, struct reactor_timer *t);

#endif
