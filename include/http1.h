/*
 * http1.h: HTTP/1.1 message heads, chunked coding and header helpers.
 *
 * Sans-I/O. The head parsers follow picohttpparser's convention: they look
 * at the whole head received so far (the caller keeps accumulating bytes in
 * one buffer), return the head length once it is complete, HT_AGAIN while
 * it is not, HT_ERROR (with a reason in the result struct) when it is
 * malformed. Every string in the result points into the caller's buffer;
 * nothing is copied or allocated.
 */
#ifndef HT_HTTP1_H
#define HT_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* One header field; name and value point into the parsed buffer. */
struct http1_header {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing whitespace removed */
	size_t value_len;
};

/* Parser limits (configurable per call site). */
struct http1_limits {
	size_t max_head;    /* bytes, request/status line + headers + CRLFCRLF */
	size_t max_headers; /* header fields */
};

/*
 * Why a head was rejected (HT_ERROR). Each has its own value so that the
 * caller can answer the right status (431 for the size limits, 400 else).
 */
enum http1_error {
	HTTP1_OK = 0,
	HTTP1_ERR_HEAD_TOO_LARGE, /* more than max_head bytes without an end */
	HTTP1_ERR_TOO_MANY_HEADERS,
	HTTP1_ERR_BAD_START_LINE, /* method, target, version or status */
	HTTP1_ERR_BAD_VERSION,
	HTTP1_ERR_BAD_HEADER_NAME, /* empty or non-token name */
	HTTP1_ERR_SPACE_BEFORE_COLON,
	HTTP1_ERR_BAD_HEADER_VALUE, /* bytes outside field-value */
	HTTP1_ERR_OBS_FOLD,
	HTTP1_ERR_BARE_CR,
	HTTP1_ERR_NUL,
	HTTP1_ERR_CL_AND_TE,             /* Content-Length together with Transfer-Encoding */
	HTTP1_ERR_BAD_CONTENT_LENGTH,    /* not digits, overflow, or differing duplicates */
	HTTP1_ERR_BAD_TRANSFER_ENCODING, /* last coding is not chunked, or unknown */
	HTTP1_ERR_MAX
};

/* ---- limits and constants --------------------------------------------- */

/* Defaults used when a parser is given lim == NULL. */
#define HTTP1_DEFAULT_MAX_HEAD 16384
#define HTTP1_DEFAULT_MAX_HEADERS 100

/*
 * Empty lines (CRLF) accepted and skipped in front of a request or status
 * line (RFC 9112 2.2: a client may send one after a POST body). A fifth one
 * is a bad start line. The skipped bytes count in the head length.
 */
#define HTTP1_MAX_EMPTY_LINES 4

/* The largest Content-Length accepted (2^62); larger values are errors. */
#define HTTP1_CONTENT_LENGTH_MAX ((uint64_t)1 << 62)

/* How the message body is delimited (RFC 9112 6.3). */
enum http1_body {
	HTTP1_BODY_NONE = 0, /* no body: the message ends with the head */
	HTTP1_BODY_LENGTH,   /* exactly content_length bytes (may be 0) */
	HTTP1_BODY_CHUNKED,  /* chunked transfer coding: use struct http1_chunked */
	HTTP1_BODY_CLOSE,    /* responses only: the body runs until the connection closes */
	HTTP1_BODY_MAX
};

/* ---- request head ----------------------------------------------------- */

/*
 * A parsed request head. The caller sets the "in" fields; every call of
 * http1_parse_request() overwrites all "out" fields. Pointers point into
 * the buffer that was parsed and live as long as it does.
 */
struct http1_request {
	/* in */
	struct http1_header *headers; /* caller array of headers_cap entries */
	size_t headers_cap;
	/* out */
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent, not decoded */
	size_t target_len;
	int minor_version;       /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
	size_t num_headers;      /* entries used in headers[], in arrival order */
	enum http1_body body;    /* NONE, LENGTH or CHUNKED */
	uint64_t content_length; /* when body == HTTP1_BODY_LENGTH */
	const char *host;        /* value of the first Host field, NULL when none */
	size_t host_len;
	size_t host_count;    /* Host fields seen (HTTP/1.1 wants exactly 1: the caller answers 400) */
	int keep_alive;       /* 1.1: unless "Connection: close"; 1.0: only with "keep-alive" */
	int upgrade;          /* HTTP/1.1, Connection lists "upgrade" and an Upgrade field is present */
	int expect_continue;  /* HTTP/1.1 with "Expect: 100-continue" */
	enum http1_error err; /* why HT_ERROR was returned; HTTP1_OK otherwise */
};

/*
 * Parse a request head from buf[0..len), the bytes received so far on the
 * connection (the caller appends to one buffer and calls again).
 *
 * last_len is the len of the previous call on the same buffer (0 the first
 * time): the search for the end of the head resumes there, so that a head
 * trickled in byte by byte costs O(n) rather than O(n^2). Once the end is
 * found the head is parsed once from the start.
 *
 * lim caps the head size (max_head, including the final CRLFCRLF and any
 * skipped empty lines) and the field count (also capped by headers_cap);
 * NULL means the HTTP1_DEFAULT_* values. HTTP1_ERR_HEAD_TOO_LARGE is
 * reported as soon as max_head bytes have arrived without an end, so a
 * caller never needs to buffer more than max_head bytes for a head.
 *
 * Strict syntax: lines end in CRLF (a bare LF is an error of the element it
 * appears in, a CR not followed by LF is HTTP1_ERR_BARE_CR), no NUL
 * anywhere (HTTP1_ERR_NUL; these two are reported as soon as the bytes
 * arrive, before anything else in the head), "token SP target SP
 * HTTP/1.x CRLF" with single spaces, target of bytes 0x21-0x7E, header
 * names are tokens directly followed by ':', values are field-vchar, SP,
 * HTAB or obs-text with the OWS around them trimmed, no obs-fold. Framing
 * is validated (see enum http1_error): Content-Length is 1*DIGIT up to
 * HTTP1_CONTENT_LENGTH_MAX, duplicates and lists must agree; a
 * Transfer-Encoding must be exactly "chunked" (possibly split over several
 * fields or list members, empty members ignored), and is refused in an
 * HTTP/1.0 request and together with Content-Length.
 *
 * A well-formed "HTTP/x.y" other than 1.0 and 1.1 is HTTP1_ERR_BAD_VERSION
 * (answer 505), anything else malformed HTTP1_ERR_BAD_START_LINE.
 *
 * Returns the head length (bytes up to and including the final CRLFCRLF;
 * the body, or the next request, starts there), HT_AGAIN when the head is
 * not complete yet, or HT_ERROR with req->err set. After HT_AGAIN or
 * HT_ERROR the other "out" fields mean nothing.
 */
ssize_t http1_parse_request(const char *buf, size_t len, size_t last_len, const struct http1_limits *lim,
			    struct http1_request *req);

/* ---- response head ---------------------------------------------------- */

/* A parsed response head; same conventions as struct http1_request. */
struct http1_response {
	/* in */
	struct http1_header *headers; /* caller array of headers_cap entries */
	size_t headers_cap;
	int req_head;    /* nonzero: answers a HEAD request (no body) */
	int req_connect; /* nonzero: answers a CONNECT request (2xx has no body) */
	/* out */
	int minor_version;  /* 0 or 1 */
	int status;         /* 100..999 */
	const char *reason; /* reason phrase, possibly empty */
	size_t reason_len;
	size_t num_headers;
	enum http1_body body;    /* per RFC 9112 6.3, see http1_parse_response() */
	uint64_t content_length; /* the Content-Length value when one was sent (even if body is NONE) */
	int keep_alive;          /* as for requests, and never with a close-delimited body */
	int upgrade;             /* Connection lists "upgrade" and an Upgrade field is present */
	int te_other;            /* Transfer-Encoding named codings besides the final "chunked" */
	enum http1_error err;
};

/*
 * Parse a response head; same buffer, last_len, lim and return conventions
 * as http1_parse_request(), same header rules. The status line is
 * "HTTP/1.x SP 3DIGIT [SP reason] CRLF" with a status of 100..999 (a
 * missing reason with or without the SP is accepted).
 *
 * The body is decided as RFC 9112 6.3 says: NONE for a HEAD request
 * (res->req_head), any 1xx, 204 and 304, and a 2xx to CONNECT
 * (res->req_connect); else CHUNKED when Transfer-Encoding ends in chunked,
 * LENGTH with Content-Length, else CLOSE. Transfer codings before the final
 * chunked are accepted here (te_other is set; a proxy must not pass such a
 * body on without them); Content-Length with Transfer-Encoding, and
 * Transfer-Encoding in an HTTP/1.0 response, are errors.
 */
ssize_t http1_parse_response(const char *buf, size_t len, size_t last_len, const struct http1_limits *lim,
			     struct http1_response *res);

/* A constant English name for err ("ok", "head too large", ...). */
const char *http1_error_str(enum http1_error err);

/*
 * The status a server should answer for err: 431 for the size limits, 505
 * for HTTP1_ERR_BAD_VERSION, 400 otherwise (0 for HTTP1_OK).
 */
int http1_error_status(enum http1_error err);

/* ---- chunked transfer coding: decoder --------------------------------- */

#define HTTP1_CHUNK_SIZE_DIGITS_MAX 16 /* hex digits of a chunk size (leading zeros count) */
#define HTTP1_CHUNK_EXT_MAX 4096       /* bytes of extensions on one chunk-size line */
#define HTTP1_CHUNK_TRAILER_MAX 8192   /* bytes of the trailer section, final CRLF included */

/* Where the decoder is in the chunked body. */
enum http1_chunked_state {
	HTTP1_CHUNKED_SIZE = 0,      /* hex digits of a chunk size */
	HTTP1_CHUNKED_EXT,           /* after the digits: BWS and ";" extensions, up to CR */
	HTTP1_CHUNKED_SIZE_LF,       /* the LF ending the chunk-size line */
	HTTP1_CHUNKED_DATA,          /* chunk data, `remaining` bytes left */
	HTTP1_CHUNKED_DATA_CR,       /* the CR after chunk data */
	HTTP1_CHUNKED_DATA_LF,       /* the LF after chunk data */
	HTTP1_CHUNKED_TRAILER,       /* start of a trailer line, or of the final CRLF */
	HTTP1_CHUNKED_TRAILER_NAME,  /* a trailer field name, up to ':' */
	HTTP1_CHUNKED_TRAILER_VALUE, /* a trailer field value, up to CR */
	HTTP1_CHUNKED_TRAILER_LF,    /* the LF ending a trailer line */
	HTTP1_CHUNKED_END_LF,        /* the LF of the final empty line */
	HTTP1_CHUNKED_DONE,          /* body complete; further bytes are not consumed */
	HTTP1_CHUNKED_STATE_MAX
};

/* Why the decoder failed (sticky). */
enum http1_chunked_error {
	HTTP1_CHUNKED_OK = 0,
	HTTP1_CHUNKED_ERR_BAD_SIZE,      /* no hex digit, or a stray byte after them */
	HTTP1_CHUNKED_ERR_SIZE_TOO_LONG, /* more than HTTP1_CHUNK_SIZE_DIGITS_MAX digits */
	HTTP1_CHUNKED_ERR_SIZE_OVERFLOW, /* chunk size >= 2^63 */
	HTTP1_CHUNKED_ERR_BAD_EXT,       /* a control byte in an extension */
	HTTP1_CHUNKED_ERR_EXT_TOO_LONG,  /* more than HTTP1_CHUNK_EXT_MAX bytes */
	HTTP1_CHUNKED_ERR_BAD_CRLF,      /* a line not ended by CRLF (bare LF, missing CRLF after data) */
	HTTP1_CHUNKED_ERR_BAD_TRAILER,   /* malformed trailer field */
	HTTP1_CHUNKED_ERR_TRAILER_TOO_LARGE,
	HTTP1_CHUNKED_ERR_MAX
};

/* Decoder state; caller-allocated, set up with http1_chunked_init(). */
struct http1_chunked {
	enum http1_chunked_state state;
	enum http1_chunked_error err;
	uint64_t remaining; /* chunk size being read, then data bytes left */
	unsigned digits;    /* hex digits read for this size */
	size_t ext_len;     /* extension bytes on this line */
	size_t trailer_len; /* trailer bytes so far */
};

/* Start decoding a new chunked body. */
void http1_chunked_init(struct http1_chunked *c);

/*
 * Decode the chunked body bytes in[0..n). At most one contiguous range of
 * body data is reported per call: *data points into in (zero copy) and
 * *data_len is its length; both are NULL/0 when the call found none. The
 * decoder keeps what it needs across calls, so input may be split anywhere.
 *
 * Returns the number of bytes consumed (call again with the rest while it
 * is less than n and the body is not done), or HT_ERROR with c->err set
 * (sticky: later calls fail too; *data is then NULL). When the last chunk
 * and the trailer section have been consumed, http1_chunked_done() is true
 * and the bytes that follow (the next message) are not consumed. Chunk
 * extensions are checked for their bytes (no CTL) and length, trailer
 * fields for "token: field-value" syntax and total size; both are then
 * discarded. A line that does not end in CRLF is an error.
 */
ssize_t http1_chunked_decode(struct http1_chunked *c, const uint8_t *in, size_t n, const uint8_t **data,
			     size_t *data_len);

/* 1 when the whole chunked body (last chunk and trailers) was consumed. */
static inline int
http1_chunked_done(const struct http1_chunked *c)
{
	return c->state == HTTP1_CHUNKED_DONE;
}

/* A constant English name for err. */
const char *http1_chunked_error_str(enum http1_chunked_error err);

/* ---- chunked transfer coding: encoder --------------------------------- */

/* Room for the longest chunk header: 16 hex digits and CRLF (no NUL). */
#define HTTP1_CHUNK_HEADER_MAX 18

/* Written after each chunk's data. */
#define HTTP1_CHUNK_END "\r\n"
#define HTTP1_CHUNK_END_LEN 2

/* The last chunk with an empty trailer section: ends a chunked body. */
#define HTTP1_LAST_CHUNK "0\r\n\r\n"
#define HTTP1_LAST_CHUNK_LEN 5

/*
 * The length of the chunk header for a chunk of len bytes (lowercase hex
 * digits without leading zeros, then CRLF): reserve that much headroom in
 * front of the payload, then write it there with http1_chunk_header().
 */
size_t http1_chunk_header_len(size_t len);

/*
 * Write the chunk header for len bytes of data ("%zx\r\n", no NUL) to out
 * and return its length, which is http1_chunk_header_len(len): out needs
 * only that many bytes. The data and HTTP1_CHUNK_END follow. Do not send a
 * chunk of len 0: "0\r\n" starts the last chunk (see HTTP1_LAST_CHUNK).
 */
size_t http1_chunk_header(char out[HTTP1_CHUNK_HEADER_MAX], size_t len);

/* ---- header helpers --------------------------------------------------- */

/* 1 when p[0..len) is a non-empty token (RFC 9110 5.6.2 tchar). */
int http1_token_valid(const char *p, size_t len);

/*
 * 1 when p[0..len) may be written out as a field value: bytes 0x20-0x7E,
 * HTAB and 0x80-0xFF only (no CR, LF, NUL, DEL or other CTL). Empty is
 * valid. Use it on header values received in JSON before writing them.
 */
int http1_field_value_valid(const char *p, size_t len);

/* 1 when p[0..len) is a valid method (a token). */
int http1_method_valid(const char *p, size_t len);

/* 1 when p[0..len) is a non-empty request-target of bytes 0x21-0x7E. */
int http1_target_valid(const char *p, size_t len);

/*
 * 1 when the field name[0..len) is hop-by-hop by itself: Connection,
 * Keep-Alive, Proxy-Connection, Transfer-Encoding, TE, Trailer, Upgrade,
 * and any Proxy-* (Proxy-Authenticate, Proxy-Authorization...).
 * Case-insensitive. Fields named in Connection are hop-by-hop too: see
 * http1_header_is_named_in_connection().
 */
int http1_is_hop_by_hop(const char *name, size_t len);

/*
 * 1 when any Connection field in h[0..n) lists token (a C string) as a
 * member of its comma-separated list, compared case-insensitively.
 */
int http1_connection_has_token(const struct http1_header *h, size_t n, const char *token);

/*
 * 1 when the field name[0..len) is listed in a Connection field of h[0..n)
 * (and so must be removed by a proxy, RFC 9110 7.6.1).
 */
int http1_header_is_named_in_connection(const struct http1_header *h, size_t n, const char *name, size_t len);

/* The first field of h[0..n) called name (case-insensitive), or NULL. */
const struct http1_header *http1_find_header(const struct http1_header *h, size_t n, const char *name);

/*
 * A reason phrase for status ("OK", "Not Found"...), "" for codes without
 * one here (an empty reason is valid HTTP/1.1).
 */
const char *http1_reason_phrase(int status);

/* Longest status line http1_write_status_line() writes. */
#define HTTP1_STATUS_LINE_MAX 64

/*
 * Write "HTTP/1.1 <status> <reason>\r\n" (reason from
 * http1_reason_phrase()) into out[0..cap), no NUL. Returns its length, or
 * 0 when status is not 100..999 or cap is too small (nothing useful written).
 */
size_t http1_write_status_line(char *out, size_t cap, int status);

#endif
