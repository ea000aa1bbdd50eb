/*
 * ws_handshake.h: the WebSocket opening handshake (RFC 6455 section 4).
 *
 * Both sides, sans-I/O. The server side validates an already parsed
 * request head (method, HTTP minor version and the header array that
 * http1.h's parser fills), picks a subprotocol and writes the 101 response
 * or a plain error response. The client side builds the upgrade request and
 * validates the server's response head. Every output goes into a caller
 * buffer; nothing is allocated, nothing is read from or written to a socket.
 *
 * Not here: HTTP parsing (http1.h), extensions (none is ever accepted),
 * origin checks, authentication.
 */
#ifndef HT_WS_HANDSHAKE_H
#define HT_WS_HANDSHAKE_H

#include <stddef.h>
#include <sys/types.h>

#include "http1.h"

#define WS_HANDSHAKE_KEY_LEN 24    /* base64 of 16 random bytes */
#define WS_HANDSHAKE_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/*
 * Sec-WebSocket-Accept for a client key: base64(SHA-1(key + the RFC's
 * GUID)). out receives 28 characters and a NUL.
 */
void ws_handshake_accept_key(char out[WS_HANDSHAKE_ACCEPT_LEN + 1], const char *key, size_t key_len);

/* A fresh Sec-WebSocket-Key: 16 random bytes in base64, NUL-terminated. 0 or -errno. */
int ws_handshake_client_key(char out[WS_HANDSHAKE_KEY_LEN + 1]);

/* What the client asks for. */
struct ws_handshake_request {
	const char *host;             /* Host header value, e.g. "example.com:50" */
	const char *path;             /* request target, e.g. "/api/v1/tunnel/connect" */
	const char *key;              /* from ws_handshake_client_key() */
	const char *const *protocols; /* offered subprotocols in preference order, or NULL */
	size_t nprotocols;
	const char *extra; /* more header lines, each ending in CRLF, or NULL */
};

/*
 * Write the GET upgrade request head (ending in CRLFCRLF) into out[0..cap).
 * Returns its length, or -1 when it does not fit or a field contains CR or
 * LF (host, path, key, protocols; extra is taken as is).
 */
ssize_t ws_handshake_request_encode(char *out, size_t cap, const struct ws_handshake_request *rq);

/* The server's verdict on an upgrade request. */
struct ws_handshake_result {
	int status;           /* 101 accept, 400 bad request, 426 wrong WebSocket version */
	const char *reason;   /* static text saying why (for the error body and logs) */
	const char *protocol; /* the chosen entry of the server's list, or NULL */
	char accept[WS_HANDSHAKE_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept when status is 101 */
};

/*
 * Validate an upgrade request. method/method_len and http_minor (the x in
 * HTTP/1.x) come from the request line; hdrs[0..nhdrs) are its headers.
 * Checks, in this order: method GET (else 400); HTTP/1.1 or later (400); a
 * Host header (400); Upgrade listing the token "websocket" (400);
 * Connection listing "upgrade" (400); Sec-WebSocket-Version exactly 13
 * (426, the response then names version 13); exactly one Sec-WebSocket-Key
 * that is 24 base64 characters decoding to 16 bytes (400).
 *
 * Subprotocol: the client's offer is every Sec-WebSocket-Protocol header in
 * order, each a comma-separated list. The FIRST entry of the client's offer
 * that appears in protocols[0..nprotocols) (exact, case-sensitive match) is
 * chosen, and res->protocol points to the server's list entry. When none
 * matches: 400 if require_protocol, else the upgrade goes on without one.
 *
 * Fills *res and returns res->status.
 */
int ws_handshake_server_check(struct ws_handshake_result *res, const char *method, size_t method_len,
			      int http_minor, const struct http1_header *hdrs, size_t nhdrs,
			      const char *const *protocols, size_t nprotocols, int require_protocol);

/*
 * Write the response for res into out[0..cap): for 101 the Switching
 * Protocols head with Sec-WebSocket-Accept (and Sec-WebSocket-Protocol when
 * one was chosen); otherwise a complete error response with a short
 * text/plain body (res->reason), Content-Length and Connection: close (and
 * Sec-WebSocket-Version: 13 for 426). extra (header lines ending in CRLF,
 * or NULL) is added to either. Returns the length or -1 if it does not fit.
 */
ssize_t ws_handshake_response_encode(char *out, size_t cap, const struct ws_handshake_result *res,
				     const char *extra);

/*
 * Validate the server's response head to a request sent with key: status
 * 101, Upgrade websocket, Connection upgrade, Sec-WebSocket-Accept matching
 * key, no Sec-WebSocket-Extensions, and at most one Sec-WebSocket-Protocol
 * that is one of protocols[0..nprotocols) (exactly); when require_protocol,
 * it must be present. On success *selected (if not NULL) points to our list
 * entry or is NULL, and NULL is returned; on failure a static error text.
 */
const char *ws_handshake_client_check(int status, const struct http1_header *hdrs, size_t nhdrs,
				      const char *key, size_t key_len, const char *const *protocols,
				      size_t nprotocols, int require_protocol, const char **selected);

/*
 * 1 when the comma-separated header value v[0..len) lists token
 * (case-insensitive, optional whitespace around elements).
 */
int ws_handshake_has_token(const char *v, size_t len, const char *token);

#endif
