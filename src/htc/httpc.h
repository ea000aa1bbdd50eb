/*
 * httpc.h: one HTTP/1.1 request to the daemon's control plane, blocking,
 * for htc's admin commands.
 *
 * httpc_request() resolves the URL's host, connects (every address in
 * turn), sends one request with "Connection: close", reads the response
 * head (http1_parse_response) and the body, delimited by Content-Length,
 * chunked coding (http1_chunked_decode) or the end of the connection, and
 * closes. One deadline covers all of it: poll() waits on the socket and
 * never past the deadline. The body is capped at HTTPC_BODY_MAX.
 *
 * Not here: TLS (wss/https URLs are refused with -ENOTSUP until a tls
 * module exists), keep-alive, redirects, request bodies, proxies. The
 * tunnel itself uses the reactor, not this.
 */
#ifndef HTC_HTTPC_H
#define HTC_HTTPC_H

#include <stddef.h>

#include "url.h"

#define HTTPC_TIMEOUT_MS 10000     /* default whole-request deadline */
#define HTTPC_BODY_MAX (16u << 20) /* largest body accepted, bytes */
#define HTTPC_ERR_MAX 256          /* room for an error message */

/* A complete response. Owned by the caller; release with httpc_response_fini(). */
struct httpc_response {
	int status;      /* 100..999 (never 1xx: interim responses are skipped) */
	char reason[64]; /* reason phrase, cut to fit, control bytes replaced by '?' */
	char *body;      /* malloc'd, NUL-terminated (not counted in body_len); never NULL after success */
	size_t body_len;
};

/*
 * Send `method target` to the daemon of u (target is the request target,
 * e.g. from url_admin_target()) with Host, User-Agent, Accept,
 * "Connection: close" and, when token is not NULL, "Authorization: Bearer
 * token". Waits at most timeout_ms (<= 0: HTTPC_TIMEOUT_MS) in total.
 *
 * Returns 0 when a whole response arrived, whatever its status (res is
 * filled), or a negative errno with a one-line English message in
 * err[0..errcap) that names the address where it helps (res is then
 * empty and need not be released, though releasing is harmless):
 *   -ENOTSUP      a TLS URL (wss://, https://)
 *   -EINVAL       method, target or token would break the request line or
 *                 a header (CR, LF, other control bytes)
 *   -EHOSTUNREACH the host does not resolve
 *   -ECONNREFUSED and other connect errors, by their errno
 *   -ETIMEDOUT    the deadline passed (connect, send or receive)
 *   -EPROTO       a malformed response head or chunked body, or the
 *                 connection closed before the body was complete
 *   -EMSGSIZE     body larger than HTTPC_BODY_MAX
 *   -ENOMEM
 */
int httpc_request(const struct url *u, const char *method, const char *target, const char *token,
		  int timeout_ms, struct httpc_response *res, char *err, size_t errcap);

/* Free the body; res is then zeroed. Safe on a zeroed response. */
void httpc_response_fini(struct httpc_response *res);

#endif
