/*
 * tlsio.h: htc's exchanges before (or instead of) the event loop: a
 * socket connected and spoken through plainly or through TLS, every wait
 * bounded by a deadline. The WebSocket handshake and the admin HTTP calls
 * use it; a TLS connection is then handed to the tunnel.
 *
 * TLS: trust anchors from --ca-file or the system bundle
 * (/etc/ssl/certs/ca-certificates.crt), loaded once; the server name from
 * the URL is sent as SNI and checked against the certificate. --insecure
 * skips the verification and says so on stderr every time.
 */
#ifndef HTC_TLSIO_H
#define HTC_TLSIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "url.h"

#define TLSIO_DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"

struct tlsio {
	struct conn conn;           /* plain or TLS, driven by poll(2) here */
	unsigned char stash[16384]; /* application bytes that arrived during the handshake */
	size_t stash_len;
};

/*
 * Resolve u's host and connect to the first address that answers, by the
 * deadline (monotonic ms): a connected non-blocking fd with TCP_NODELAY,
 * or -errno (-EHOSTUNREACH when the name does not resolve, -ETIMEDOUT,
 * -ECONNREFUSED...) with err set ("cannot resolve 'h': ...", "cannot
 * connect to h:port: ...").
 */
int tlsio_dial(const struct url *u, uint64_t deadline, char *err, size_t errlen);

/* Where anchors come from (NULL: the system bundle) and whether to verify. */
void tlsio_configure(const char *ca_file, int insecure);

/*
 * Start speaking on connected non-blocking socket fd, which io->conn takes
 * over: plain for ws:// and http://, a TLS handshake for wss:// and
 * https:// (done before it returns). deadline: monotonic ms. 0, or -1
 * with err set (certificate problems named: unknown issuer, expired, name
 * mismatch) and fd closed.
 */
int tlsio_start(struct tlsio *io, int fd, const struct url *u, uint64_t deadline, char *err, size_t errlen);

/*
 * Make conn c a TLS client for u, handshake not started: anchors loaded,
 * SNI and name check set, or --insecure (warned about on stderr). 0, or
 * -1 with err set (c stays plain).
 */
int tlsio_secure(struct conn *c, const struct url *u, char *err, size_t errlen);

/* Send all n bytes. 0, or -1 with err set. */
int tlsio_send_all(struct tlsio *io, const void *p, size_t n, uint64_t deadline, char *err, size_t errlen);

/* Receive up to n bytes, waiting for at least one. > 0, 0 at the end, or -1 with err set. */
ssize_t tlsio_recv(struct tlsio *io, void *buf, size_t n, uint64_t deadline, char *err, size_t errlen);

/* close_notify (best effort), free the TLS state, close the socket. Safe twice. */
void tlsio_close(struct tlsio *io);

#endif
