/*
 * local_codec.h: the pure parts of htc's EXPOSE side (private to htc):
 * turning a STREAM_OPEN into the HTTP/1.1 request head written to the
 * local service, and a parsed local response head into the JSON of
 * STREAM_RESPONSE_HEAD.
 *
 * No I/O, no state kept between calls. Output goes into a growable struct
 * buf bounded by a caller's maximum. Everything the visitor controls
 * (method, target, header names and values) is validated before a byte of
 * it is written, so a request that would split or smuggle on the local
 * connection is refused here and never reaches the socket.
 */
#ifndef HTC_LOCAL_CODEC_H
#define HTC_LOCAL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http1.h"
#include "json.h"

/* The STREAM_OPEN was malformed or unsafe (answer RESET PROTOCOL_ERROR). */
#define LOCAL_CODEC_INVALID (-22)

/* How the request body goes to the local service. */
enum local_framing {
	LOCAL_FRAMING_UNDECIDED = 0, /* no Content-Length: the first DATA (chunked) or EOF (none) decides */
	LOCAL_FRAMING_LENGTH,        /* the visitor's Content-Length is kept; DATA is written raw */
	LOCAL_FRAMING_NONE,          /* EOF came before any DATA: no body */
	LOCAL_FRAMING_CHUNKED,       /* each DATA is one chunk, EOF the last chunk */
	LOCAL_FRAMING_RAW,           /* an upgrade: no body framing, DATA written raw */
	LOCAL_FRAMING_MAX
};

/* What local_codec_request_head() learnt from the STREAM_OPEN. */
struct local_request {
	size_t method_len;      /* the head starts with the method */
	size_t target_off;      /* the target in the head: out->pos + target_off */
	size_t target_len;
	int upgrade;            /* "isUpgrade": true */
	int is_head;            /* the method is HEAD (the response has no body) */
	int body_method;        /* POST, PUT or PATCH: an empty body is sent as Content-Length: 0 */
	int has_length;         /* a Content-Length field was given */
	uint64_t content_length;
	enum local_framing framing; /* LENGTH, RAW or UNDECIDED */
};

/*
 * Parse the STREAM_OPEN JSON json[0..n) with the caller's token array
 * toks[0..ntoks) and append to out (growing it up to max bytes in all)
 * "METHOD SP TARGET SP HTTP/1.1 CRLF" and every header field in order as
 * "Name: value CRLF", without the blank line (see local_codec_request_end).
 * Hop-by-hop fields are dropped (Transfer-Encoding always; Connection and
 * Upgrade kept for an upgrade); when no Host field was given, "Host: host"
 * is added (host: the local service's authority). Content-Length must be
 * digits and agree with any duplicate.
 *
 * Returns 0 with *rq filled, LOCAL_CODEC_INVALID when the JSON is not a
 * usable STREAM_OPEN or the method (not a token), target (empty, or bytes
 * other than 0x21-0x7E), a header name (not a token) or value (CR, LF, NUL
 * or another CTL except HTAB) is invalid, -ENOSPC when max is reached, or
 * -ENOMEM. On error out holds garbage to discard.
 */
int local_codec_request_head(const char *json, size_t n, struct json_tok *toks, size_t ntoks, const char *host,
			     struct buf *out, size_t max, struct local_request *rq);

/*
 * Finish the head in out for the body framing f: "Content-Length: 0" for
 * an empty body of a POST/PUT/PATCH without Content-Length,
 * "Transfer-Encoding: chunked" for CHUNKED, nothing for the others; then
 * the blank line. 0, -ENOSPC or -ENOMEM.
 */
int local_codec_request_end(struct buf *out, size_t max, const struct local_request *rq, enum local_framing f);

/*
 * Append the STREAM_RESPONSE_HEAD JSON for the parsed response head res to
 * out (up to max bytes in all): {"status":N,"headers":[[name,value],...],
 * "final":B}. final is false for 1xx other than 101. Fields keep their
 * order and duplicates (Set-Cookie); hop-by-hop fields and those named in
 * Connection are dropped, Content-Length is kept; for a 101 Connection and
 * Upgrade are kept. 0, -ENOSPC or -ENOMEM.
 */
int local_codec_response_head(const struct http1_response *res, struct buf *out, size_t max);

#endif
