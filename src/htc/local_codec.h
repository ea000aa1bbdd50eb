/*
 * local_codec.h: the pure parts of htc's EXPOSE side (private to htc):
 * turning a STREAM_OPEN into the HTTP/1.1 request head written to the
 * local service, framing the request body that follows (Content-Length
 * kept, chunked, none, or raw for an upgrade), a parsed local response
 * head into the JSON of STREAM_RESPONSE_HEAD, and the response body with
 * its framing taken off (Content-Length, chunked, close-delimited).
 *
 * No I/O, no state but what the caller keeps in the structs it passes.
 * Heads go into a growable struct buf bounded by a caller's maximum.
 * Everything the visitor controls
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
	size_t method_len; /* the head starts with the method */
	size_t target_off; /* the target in the head: out->pos + target_off */
	size_t target_len;
	int upgrade;     /* "isUpgrade": true */
	int is_head;     /* the method is HEAD (the response has no body) */
	int body_method; /* POST, PUT or PATCH: an empty body is sent as Content-Length: 0 */
	int has_length;  /* a Content-Length field was given */
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
int local_codec_request_head(const char *json, size_t n, struct json_tok *toks, size_t ntoks,
			     const char *host, struct buf *out, size_t max, struct local_request *rq);

/* The same from a STREAM_OPEN already parsed into doc (its root object). */
int local_codec_request_head_doc(const struct json_doc *doc, const char *host, struct buf *out, size_t max,
				 struct local_request *rq);

/*
 * Finish the head in out for the body framing f: "Content-Length: 0" for
 * an empty body of a POST/PUT/PATCH without Content-Length,
 * "Transfer-Encoding: chunked" for CHUNKED, nothing for the others; then
 * the blank line. 0, -ENOSPC or -ENOMEM.
 */
int local_codec_request_end(struct buf *out, size_t max, const struct local_request *rq,
			    enum local_framing f);

/* ---- the request body: tunnel -> local service ---------------------------- */

/* A request body on its way to the local service: its framing, and how far it got. */
struct local_req_body {
	enum local_framing framing; /* UNDECIDED until the first DATA or the EOF decides */
	uint64_t length;            /* LENGTH: the visitor's Content-Length */
	uint64_t in;                /* DATA bytes so far */
};

/* What one DATA, or the EOF, means for the request body. */
enum local_body_result {
	LOCAL_BODY_MORE,     /* more may follow (an upgrade's bytes: until the pump takes over) */
	LOCAL_BODY_COMPLETE, /* the body and its framing are complete with this */
	LOCAL_BODY_SHORT,    /* EOF before Content-Length bytes: half-close once they are written */
	LOCAL_BODY_LONG,     /* DATA past the Content-Length: write nothing, refuse the request */
	LOCAL_BODY_MAX
};

/* One DATA, framed for the local service: write pre, the DATA, then post. */
struct local_piece {
	char pre[HTTP1_CHUNK_HEADER_MAX]; /* CHUNKED: the chunk header */
	size_t pre_len;
	const char *post; /* CHUNKED: the CRLF after the chunk data */
	size_t post_len;
};

/* Start the body of the request rq (its framing as local_codec_request_head left it). */
void local_codec_req_body_init(struct local_req_body *b, const struct local_request *rq);

/* 1 when the body is complete with the head alone (NONE, or Content-Length 0). */
int local_codec_req_body_empty(const struct local_req_body *b);

/*
 * n bytes of DATA arrive: frame them into *pc. An UNDECIDED body becomes
 * CHUNKED and *decided is set: finish the head (local_codec_request_end)
 * before writing anything. Each DATA of a chunked body is one chunk (an
 * empty one frames to nothing); LENGTH and RAW bodies are written as they
 * come. Returns MORE, COMPLETE (the last byte of a Content-Length body)
 * or LONG.
 */
enum local_body_result local_codec_req_body_data(struct local_req_body *b, size_t n, struct local_piece *pc,
						 int *decided);

/*
 * The EOF arrives: *tail receives the bytes that end the body (CHUNKED:
 * the last chunk; else nothing). An UNDECIDED body becomes NONE and
 * *decided is set (finish the head). Returns COMPLETE, SHORT (a
 * Content-Length body cut short), or MORE for RAW (the upgraded connection
 * learns it from the socket's half-close).
 */
enum local_body_result local_codec_req_body_end(struct local_req_body *b, const char **tail, size_t *tail_len,
						int *decided);

/* ---- the response body: local service -> tunnel ---------------------------- */

/* A response body read from the local service, its framing taken off. */
struct local_resp_body {
	enum http1_body body;    /* as the response head said (http1_parse_response) */
	uint64_t left;           /* LENGTH: bytes still to come */
	struct http1_chunked ck; /* CHUNKED: the decoder */
	int trailing;            /* bytes came after the end of the body: the connection is not clean */
};

/* Start a body framed as body (LENGTH: length bytes). */
void local_codec_resp_body_init(struct local_resp_body *b, enum http1_body body, uint64_t length);

/* How many bytes to read for the body now, given room for want: no more than a Content-Length leaves. */
size_t local_codec_resp_body_want(const struct local_resp_body *b, size_t want);

/*
 * Take n bytes read from the local service at p, decoding chunked framing
 * in place: the payload is left in p[0..*out). Bytes past the end of the
 * body are not payload (b->trailing is set). 0, or -1 when the chunked
 * framing is invalid.
 */
int local_codec_resp_body_take(struct local_resp_body *b, uint8_t *p, size_t n, size_t *out);

/* 1 once the body is complete (NONE; LENGTH with nothing left; CHUNKED with its last chunk). */
int local_codec_resp_body_done(const struct local_resp_body *b);

/* The local service closed the connection: 1 when that ends the body (close-delimited), 0 when it cuts it. */
int local_codec_resp_body_eof(const struct local_resp_body *b);

/* ---- the response head ------------------------------------------------------ */

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
