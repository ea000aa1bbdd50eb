/*
 * wsconnect.h: open a tunnel WebSocket from htc: TCP connect, TLS for
 * wss:// (verified as tlsio.h says), the HTTP/1.1 upgrade offering one
 * subprotocol, and the 101 checked (status, Sec-WebSocket-Accept, the
 * subprotocol chosen) — all bounded by WSCONNECT_TIMEOUT_MS.
 */
#ifndef HTC_WSCONNECT_H
#define HTC_WSCONNECT_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "conn.h"
#include "url.h"
#include "ws_handshake.h"

#define WSCONNECT_TIMEOUT_MS 10000
#define WSCONNECT_HEAD_MAX 16384 /* the 101 response head */
#define WSCONNECT_HEAD_FIELDS 64

/*
 * 0 with *out the connection (plain for ws://, TLS for wss://; its socket
 * non-blocking with TCP_NODELAY, in no loop yet: hand it to the tunnel),
 * or -1 with err set (the reason: resolution, connection, certificate,
 * refused upgrade...). Bytes that came after the 101 are appended to pre.
 */
int wsconnect_open(const struct url *u, const char *proto, struct buf *pre, struct conn *out, char *err,
		   size_t errlen);

/*
 * The upgrade request for u offering proto, with a fresh random key
 * (written to key, NUL-terminated): its length in out; -ENOSPC when cap is
 * too small (or a field cannot go in a header), or the -errno of
 * util_random when no key could be made.
 */
ssize_t wsconnect_request(const struct url *u, const char *proto, char key[WS_HANDSHAKE_KEY_LEN + 1],
			  char *out, size_t cap);

/* The message for a failure rc of wsconnect_request, into err. */
void wsconnect_request_error(ssize_t rc, char *err, size_t errlen);

/*
 * Check the answer head[0..len) (last_len bytes of it were looked at
 * before): 1 when it is a valid 101 for key and proto (*head_len: its
 * length; what follows belongs to the tunnel), 0 when incomplete, -1 with
 * err set (refused, malformed, wrong accept key or subprotocol).
 */
int wsconnect_check(const char *head, size_t len, size_t last_len, const char *key, const char *proto,
		    size_t *head_len, char *err, size_t errlen);

#endif
