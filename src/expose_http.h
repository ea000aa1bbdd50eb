/*
 * expose_http.h: the HTTP of EXPOSE, without I/O: the STREAM_OPEN JSON of
 * a visitor request, its body with the visitor's framing taken off, the
 * HTTP/1.1 response head written from a client's STREAM_RESPONSE_HEAD,
 * the response body framed as that head decided (Content-Length kept,
 * chunked, close-delimited, or none), and the daemon's own small answers
 * (502, 503, 504, 400...).
 *
 * Everything here works on caller memory and returns results; the
 * visitor machine (expose.c) does the reading, writing and credit.
 */
#ifndef HT_EXPOSE_HTTP_H
#define HT_EXPOSE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "forwarded.h"
#include "http1.h"

/* Most header pairs accepted in one STREAM_RESPONSE_HEAD. */
#define EXPOSE_HTTP_MAX_RESPONSE_HEADERS 256
/* Informational (1xx) heads a response may have before its final one. */
#define EXPOSE_HTTP_MAX_INFORMATIONAL 8

/* What the daemon saw of a visitor, for its STREAM_OPEN. */
struct expose_http_open {
	uint32_t bind_id;
	int port;                           /* containerPort */
	const char *peer_addr;              /* "ip:port" (peerAddr) */
	const struct forwarded_values *fwd; /* X-Forwarded-For/-Proto/-Host, X-Real-IP to send */
	int upgrade;                        /* forwarded as an upgrade (isUpgrade) */
};

/*
 * Append the STREAM_OPEN JSON of PROTOCOL.md 6 for the parsed request req
 * to out (which grows as needed): headers in arrival order, duplicates
 * kept, minus hop-by-hop fields (Connection, Keep-Alive, Transfer-Encoding,
 * TE, Trailer, Proxy-*, the fields named in Connection, and Upgrade unless
 * o->upgrade; an upgrade keeps Connection, Upgrade and Sec-WebSocket-*),
 * minus any X-Forwarded-For/-Proto/-Host and X-Real-IP the visitor sent;
 * then those four from o->fwd (forwarded.h: kept and extended for trusted
 * proxies, what the daemon saw otherwise; X-Forwarded-Host only when not
 * empty). 0, or -ENOMEM (out then holds garbage after its old end).
 */
int expose_http_open_json(struct buf *out, const struct expose_http_open *o, const struct http1_request *req);

/* How a response body goes to the visitor. */
enum expose_http_body {
	EXPOSE_HTTP_BODY_NONE,    /* no body (HEAD, 1xx, 204, 304, 101): DATA is dropped */
	EXPOSE_HTTP_BODY_LENGTH,  /* the client's Content-Length */
	EXPOSE_HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked, one chunk per DATA */
	EXPOSE_HTTP_BODY_CLOSE,   /* HTTP/1.0 visitor without length: ends with the connection */
	EXPOSE_HTTP_BODY_MAX
};

/* The visitor request a response answers. */
struct expose_http_req {
	int head;       /* method HEAD */
	int minor;      /* HTTP/1.<minor> */
	int upgrade;    /* forwarded as an upgrade: a 101 is allowed */
	int keep_alive; /* the visitor wants the connection kept */
};

/* A response head, as decided by expose_http_response_head(). */
struct expose_http_head {
	int status;
	int final; /* 0: an informational 1xx (100, 103...) */
	enum expose_http_body body;
	uint64_t length; /* EXPOSE_HTTP_BODY_LENGTH: body bytes */
	int keep_alive;  /* the head says Connection: keep-alive */
};

/*
 * Turn a STREAM_RESPONSE_HEAD JSON {"status":N,"headers":[[n,v],...],
 * "final":bool} (final defaults to true) answering rq into an HTTP/1.1
 * head appended to out, and describe it in *h. Checked: status 100..599;
 * a final head is not 1xx except 101 to an upgrade; final:false is 1xx
 * other than 101; names are tokens; values have no CR, LF, NUL or other
 * CTL; Content-Length values are digits and agree. Hop-by-hop fields and
 * the fields named in the client's Connection are dropped (a 101 keeps
 * Connection and Upgrade); the framing headers are the daemon's: the
 * client's Content-Length when given (kept for HEAD and 304, dropped for
 * 1xx and 204), else chunked for HTTP/1.1 visitors, else close-delimited;
 * a final non-101 head ends with Connection: keep-alive or close. An
 * informational head for an HTTP/1.0 visitor appends nothing.
 * Returns 0, -EPROTO (invalid head) or -ENOMEM; on error out is unchanged.
 */
int expose_http_response_head(struct buf *out, const uint8_t *json, size_t n,
			      const struct expose_http_req *rq, struct expose_http_head *h);

/* ---- bodies: framing without I/O ---------------------------------------- */

/*
 * A request body on its way to the tunnel: the visitor's Content-Length or
 * chunked framing taken off, the payload left. Caller-owned; no I/O.
 */
struct expose_http_req_body {
	enum http1_body body;    /* HTTP1_BODY_LENGTH or HTTP1_BODY_CHUNKED (NONE: done at once) */
	uint64_t left;           /* LENGTH: payload bytes still to come */
	struct http1_chunked ck; /* CHUNKED: the decoder (its err says why it failed) */
};

/* Start a body framed as body (LENGTH: length bytes long). */
void expose_http_req_body_init(struct expose_http_req_body *b, enum http1_body body, uint64_t length);

/*
 * Take framed body bytes in[0..n): *data and *dlen receive the payload
 * found among them (a range of in, possibly empty). Returns the bytes of in
 * used (call again with the rest while fewer than n were used and the body
 * is not done), or -1 when the chunked framing is invalid (b->ck.err).
 * Bytes after the end of the body are never used.
 */
ssize_t expose_http_req_body_take(struct expose_http_req_body *b, const uint8_t *in, size_t n,
				  const uint8_t **data, size_t *dlen);

/* 1 once the whole body (the last chunk and its trailers) was taken. */
int expose_http_req_body_done(const struct expose_http_req_body *b);

/*
 * A response body on its way to the visitor, as the head decided it
 * (struct expose_http_head): each DATA of the client is framed into one
 * piece, and the end of the body into its last bytes. Caller-owned; no I/O.
 */
struct expose_http_resp_body {
	enum expose_http_body body;
	uint64_t left; /* LENGTH: bytes still to write */
};

/* One DATA of n bytes, framed: write pre, then the first take bytes of it, then post. */
struct expose_http_piece {
	char pre[HTTP1_CHUNK_HEADER_MAX]; /* CHUNKED: the chunk header */
	size_t pre_len;
	size_t take;      /* payload bytes that go to the visitor */
	size_t drop;      /* payload bytes that never will (no body, past the Content-Length) */
	const char *post; /* CHUNKED: the CRLF after the chunk data ("" otherwise) */
	size_t post_len;
};

/* Start a body framed as body (LENGTH: length bytes). */
void expose_http_resp_body_init(struct expose_http_resp_body *b, enum expose_http_body body, uint64_t length);

/*
 * Frame n bytes of DATA into *pc (take + drop == n). NONE drops them all;
 * LENGTH takes up to what is left and drops the rest; CHUNKED makes one
 * chunk of them; CLOSE takes them raw. An empty DATA frames to nothing:
 * never a chunk of size 0, which would end the body.
 */
void expose_http_resp_body_data(struct expose_http_resp_body *b, size_t n, struct expose_http_piece *pc);

/*
 * The client ended the body: *tail and *tail_len receive the bytes that
 * close it (CHUNKED: the last chunk; nothing otherwise). Returns 1 when
 * the visitor then has the whole response and the connection may carry
 * another one, 0 when only closing the connection can end it (a body short
 * of its Content-Length, a close-delimited body).
 */
int expose_http_resp_body_end(const struct expose_http_resp_body *b, const char **tail, size_t *tail_len);

/*
 * Append a complete answer of the daemon's own to out: status line,
 * Content-Type text/plain, Content-Length, the header lines of extra (each
 * ending in CRLF; NULL for none: EXPOSE_HTTP_RETRY for a 503,
 * EXPOSE_HTTP_AUTH for a 401), Connection keep-alive/close, then the body "<status> <reason>[:
 * <detail>]\n" (control bytes of detail shown as '?', at most 160 bytes of
 * it) unless head (a HEAD request: same headers, no body). 0 or -ENOMEM.
 */
#define EXPOSE_HTTP_RETRY "Retry-After: 5\r\n"
#define EXPOSE_HTTP_AUTH "WWW-Authenticate: Basic realm=\"hoody-tunnel\", charset=\"UTF-8\"\r\n"

int expose_http_error_response(struct buf *out, int status, const char *detail, size_t dlen, int keep_alive,
			       int head, const char *extra);

/*
 * The host a request names, for routing by host: the authority of an
 * absolute-form target (it wins over Host, RFC 9112 3.2.2), else the one
 * Host field. 0 with *host and *len set (pointing into the request), or
 * -1 when there is no Host, or more than one (the answer is 400).
 */
int expose_http_host(const struct http1_request *req, const char **host, size_t *len);

/*
 * 1 when the request's path (origin- or absolute-form) is one the daemon
 * answers itself on every host: /api/v1/tunnel and /healthz, and what is
 * under them; else 0.
 */
int expose_http_reserved(const char *target, size_t len);

#endif
