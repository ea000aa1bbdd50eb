/*
 * wsconnect.h: open a tunnel WebSocket from htc: TCP connect, TLS for
 * wss:// (verified as tlsio.h says), the HTTP/1.1 upgrade offering one
 * subprotocol, and the 101 checked (status, Sec-WebSocket-Accept, the
 * subprotocol chosen) — all bounded by WSCONNECT_TIMEOUT_MS.
 */
#ifndef HTC_WSCONNECT_H
#define HTC_WSCONNECT_H

#include <stddef.h>

#include "buf.h"
#include "htc/url.h"
#include "tls.h"

#define WSCONNECT_TIMEOUT_MS 10000

/*
 * The connected fd (non-blocking, TCP_NODELAY), or -1 with err set (the
 * reason: resolution, connection, certificate, refused upgrade...).
 * Bytes that came after the 101 are appended to pre; *tls gets the TLS
 * state for wss:// (NULL for ws://), to be handed to the tunnel.
 */
int wsconnect_open(const struct url *u, const char *proto, struct buf *pre, struct tls_conn **tls, char *err,
		   size_t errlen);

#endif
