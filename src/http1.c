/*
 * http1.c: HTTP/1.1 message heads (the chunked coding is in
 * http1_chunked.c, the header field helpers in http1_fields.c).
 *
 * What it does: finds the end of a request or response head in the bytes
 * received so far (resuming where the previous call stopped), parses it in
 * one pass into pointers to the caller's buffer, and validates the framing
 * fields (Content-Length, Transfer-Encoding) strictly enough that a proxy
 * behind us can never disagree with us about where a message ends.
 *
 * What it does not: I/O, allocation, copying, URL decoding, or decoding
 * transfer codings other than chunked. It knows nothing about sockets or
 * timeouts; the slowloris defence it offers is last_len and max_head.
 */
#include "http1.h"
#include "http1_int.h"

#include <string.h>

/* ---- byte classes --------------------------------------------------- */

/* see http1_int.h: T tchar, V VCHAR, F field-value byte, H HEXDIG */
#define T HTTP1_CT_TCHAR
#define V HTTP1_CT_VCHAR
#define F HTTP1_CT_FVAL
#define H HTTP1_CT_HEX

/* clang-format off */
const uint8_t http1_ctype[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, F, 0, 0, 0, 0, 0, 0, /* 0x08 */
	0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	0, 0, 0, 0, 0, 0, 0, 0, /* 0x18 */
	F, T|V|F, V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, /* 0x20 */
	V|F, V|F, T|V|F, T|V|F, V|F, T|V|F, T|V|F, V|F, /* 0x28 */
	T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, /* 0x30 */
	T|V|F|H, T|V|F|H, V|F, V|F, V|F, V|F, V|F, V|F, /* 0x38 */
	V|F, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F, /* 0x40 */
	T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, /* 0x48 */
	T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, /* 0x50 */
	T|V|F, T|V|F, T|V|F, V|F, V|F, V|F, T|V|F, T|V|F, /* 0x58 */
	T|V|F, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F|H, T|V|F, /* 0x60 */
	T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, /* 0x68 */
	T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, T|V|F, /* 0x70 */
	T|V|F, T|V|F, T|V|F, V|F, T|V|F, V|F, T|V|F, 0, /* 0x78 */
	F, F, F, F, F, F, F, F, /* 0x80 */
	F, F, F, F, F, F, F, F, /* 0x88 */
	F, F, F, F, F, F, F, F, /* 0x90 */
	F, F, F, F, F, F, F, F, /* 0x98 */
	F, F, F, F, F, F, F, F, /* 0xa0 */
	F, F, F, F, F, F, F, F, /* 0xa8 */
	F, F, F, F, F, F, F, F, /* 0xb0 */
	F, F, F, F, F, F, F, F, /* 0xb8 */
	F, F, F, F, F, F, F, F, /* 0xc0 */
	F, F, F, F, F, F, F, F, /* 0xc8 */
	F, F, F, F, F, F, F, F, /* 0xd0 */
	F, F, F, F, F, F, F, F, /* 0xd8 */
	F, F, F, F, F, F, F, F, /* 0xe0 */
	F, F, F, F, F, F, F, F, /* 0xe8 */
	F, F, F, F, F, F, F, F, /* 0xf0 */
	F, F, F, F, F, F, F, F, /* 0xf8 */
};
/* clang-format on */

#undef T
#undef V
#undef F
#undef H

/*
 * Eight bytes at a time: a word with no byte that needs a closer look is
 * skipped whole. Bytes >= 0x80 never borrow, so the test is exact.
 */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t
load8(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/* 1 when some byte of x is below n (n <= 128). */
static inline int
word_has_below(uint64_t x, unsigned n)
{
	return ((x - ONES * n) & ~x & HIGHS) != 0;
}

/* 1 when some byte of x is a CTL (0x00-0x1F, 0x7F): HTAB counts too. */
static inline int
word_has_ctl(uint64_t x)
{
	return word_has_below(x, 0x20) || word_has_below(x ^ (ONES * 0x7f), 1);
}

/* ---- finding the end of a head -------------------------------------- */

enum scan_result {
	SCAN_AGAIN,  /* no end yet */
	SCAN_ERROR,  /* byte-level error or size limit, *err set */
	SCAN_END,    /* *pos is just past CRLFCRLF */
	SCAN_BARE_LF /* *pos is just past an LF without CR before it */
};

/* Bytes taken by the empty lines (at most HTTP1_MAX_EMPTY_LINES) in front. */
static size_t
skip_empty_lines(const char *buf, size_t len)
{
	size_t skip = 0;

	while (skip + 1 < len && skip < 2 * HTTP1_MAX_EMPTY_LINES && buf[skip] == '\r' &&
	       buf[skip + 1] == '\n')
		skip += 2;
	return skip;
}

/*
 * Look for the CRLFCRLF ending the head in buf[0..len), from `from` on
 * (the bytes before were looked at by an earlier call) and never before
 * `skip` (the leading empty lines). Reports NUL and bare CR on the way, and
 * stops at max_head bytes.
 */
static enum scan_result
head_scan(const char *buf, size_t len, size_t from, size_t skip, size_t max_head, size_t *pos,
	  enum http1_error *err)
{
	size_t lim = len < max_head ? len : max_head;
	size_t i;

	for (i = from > skip ? from : skip; i < lim; i++) {
		char c;

		while (i + 8 <= lim && !word_has_below(load8(buf + i), '\r' + 1))
			i += 8;
		if (i == lim)
			break;
		c = buf[i];
		if ((unsigned char)c > '\r')
			continue;
		if (c == '\0') {
			*err = HTTP1_ERR_NUL;
			return SCAN_ERROR;
		}
		if (c == '\r') {
			/* Only bytes under max_head count: a CR at the limit is
			 * judged with the rest of an oversized head. */
			if (i + 1 < lim && buf[i + 1] != '\n') {
				*err = HTTP1_ERR_BARE_CR;
				return SCAN_ERROR;
			}
			continue;
		}
		if (c != '\n')
			continue;
		*pos = i + 1;
		if (i == skip || buf[i - 1] != '\r')
			return SCAN_BARE_LF;
		if (i >= skip + 3 && buf[i - 2] == '\n')
			return SCAN_END; /* buf[i - 3] is '\r': checked when i - 2 was seen */
	}
	if (len >= max_head) {
		*err = HTTP1_ERR_HEAD_TOO_LARGE;
		return SCAN_ERROR;
	}
	return SCAN_AGAIN;
}

/*
 * Common front of both head parsers: the length of the region to parse
 * (the whole head, or the bytes up to a bare LF, which the line parsers
 * then reject in context), HT_AGAIN, or HT_ERROR with *err.
 */
static ssize_t
head_find(const char *buf, size_t len, size_t last_len, const struct http1_limits *lim, int *complete,
	  enum http1_error *err)
{
	size_t max_head = lim != NULL ? lim->max_head : HTTP1_DEFAULT_MAX_HEAD;
	size_t from = last_len > 0 ? last_len - 1 : 0; /* a CR at the old end may now be bare */
	size_t pos = 0;

	if (from > len)
		from = len;
	switch (head_scan(buf, len, from, skip_empty_lines(buf, len), max_head, &pos, err)) {
	case SCAN_AGAIN: return HT_AGAIN;
	case SCAN_ERROR: return HT_ERROR;
	case SCAN_END: *complete = 1; return (ssize_t)pos;
	case SCAN_BARE_LF: *complete = 0; return (ssize_t)pos;
	}
	return HT_ERROR;
}

/* ---- start lines ---------------------------------------------------- */

/* "HTTP/1.0" or "HTTP/1.1" at p; the minor version, or -1 with *err. */
static int
parse_version(const char *p, const char *end, enum http1_error *err)
{
	if (end - p < 8 || memcmp(p, "HTTP/", 5) != 0 || !http1_is_digit(p[5]) || p[6] != '.' ||
	    !http1_is_digit(p[7])) {
		*err = HTTP1_ERR_BAD_START_LINE;
		return -1;
	}
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
		*err = HTTP1_ERR_BAD_VERSION;
		return -1;
	}
	return p[7] - '0';
}

/* p just past CRLF at p, or NULL. */
static const char *
expect_crlf(const char *p, const char *end)
{
	if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return NULL;
	return p + 2;
}

/* "method SP target SP HTTP/1.x CRLF"; returns the next line or NULL. */
static const char *
parse_request_line(const char *p, const char *end, struct http1_request *req)
{
	const char *s = p;
	int minor;

	while (p < end && http1_is_tchar(*p))
		p++;
	if (p == s || p == end || *p != ' ')
		goto bad;
	req->method = s;
	req->method_len = (size_t)(p - s);
	s = ++p;
	while (p < end && http1_is_vchar(*p))
		p++;
	if (p == s || p == end || *p != ' ')
		goto bad;
	req->target = s;
	req->target_len = (size_t)(p - s);
	minor = parse_version(++p, end, &req->err);
	if (minor < 0)
		return NULL;
	req->minor_version = minor;
	p = expect_crlf(p + 8, end);
	if (p == NULL)
		goto bad;
	return p;
bad:
	req->err = HTTP1_ERR_BAD_START_LINE;
	return NULL;
}

/* "HTTP/1.x SP 3DIGIT [SP reason] CRLF"; returns the next line or NULL. */
static const char *
parse_status_line(const char *p, const char *end, struct http1_response *res)
{
	const char *s;
	int minor = parse_version(p, end, &res->err);

	if (minor < 0)
		return NULL;
	res->minor_version = minor;
	p += 8;
	if (end - p < 4 || p[0] != ' ' || p[1] < '1' || p[1] > '9' || !http1_is_digit(p[2]) ||
	    !http1_is_digit(p[3]))
		goto bad;
	res->status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	p += 4;
	s = p;
	if (p < end && *p == ' ') /* else no reason, and CRLF must follow */
		for (s = ++p; p < end && http1_is_fval((unsigned char)*p); p++)
			;
	res->reason = s;
	res->reason_len = (size_t)(p - s);
	p = expect_crlf(p, end);
	if (p == NULL)
		goto bad;
	return p;
bad:
	res->err = HTTP1_ERR_BAD_START_LINE;
	return NULL;
}

/* ---- header fields -------------------------------------------------- */

/* One "name: value CRLF" line into *h; returns the next line or NULL. */
static const char *
parse_field_line(const char *p, const char *end, struct http1_header *h, enum http1_error *err)
{
	const char *s = p, *v;

	while (p < end && http1_is_tchar(*p))
		p++;
	if (p == s) {
		*err = HTTP1_ERR_BAD_HEADER_NAME;
		return NULL;
	}
	h->name = s;
	h->name_len = (size_t)(p - s);
	if (p < end && http1_is_ows(*p)) {
		while (p < end && http1_is_ows(*p))
			p++;
		*err = p < end && *p == ':' ? HTTP1_ERR_SPACE_BEFORE_COLON : HTTP1_ERR_BAD_HEADER_NAME;
		return NULL;
	}
	if (p == end || *p != ':') {
		*err = HTTP1_ERR_BAD_HEADER_NAME;
		return NULL;
	}
	p++;
	while (p < end && http1_is_ows(*p))
		p++;
	for (v = p; p < end; p++) {
		while (end - p >= 8 && !word_has_ctl(load8(p)))
			p += 8;
		if (p == end || !http1_is_fval((unsigned char)*p))
			break;
	}
	h->value = v;
	s = p;
	p = expect_crlf(p, end);
	if (p == NULL) {
		*err = HTTP1_ERR_BAD_HEADER_VALUE;
		return NULL;
	}
	while (s > v && http1_is_ows(s[-1]))
		s--;
	h->value_len = (size_t)(s - v);
	return p;
}

/*
 * Field lines up to and including the empty line, into h[0..cap); the
 * count in *count. Returns the end of the head, or NULL with *err.
 */
static const char *
parse_fields(const char *p, const char *end, struct http1_header *h, size_t cap, size_t *count,
	     enum http1_error *err)
{
	size_t n = 0;

	for (;;) {
		if (p < end && *p == '\r') {
			p = expect_crlf(p, end);
			if (p == NULL)
				break;
			*count = n;
			return p;
		}
		if (p < end && http1_is_ows(*p)) {
			*err = HTTP1_ERR_OBS_FOLD;
			return NULL;
		}
		if (n == cap) {
			*err = HTTP1_ERR_TOO_MANY_HEADERS;
			return NULL;
		}
		p = parse_field_line(p, end, &h[n], err);
		if (p == NULL)
			return NULL;
		n++;
	}
	*err = HTTP1_ERR_BAD_HEADER_NAME;
	return NULL;
}

/* ---- framing fields ------------------------------------------------- */

struct framing {
	int have_cl;
	uint64_t cl;
	int have_te;
	unsigned te_chunked; /* times "chunked" was listed */
	int te_last_chunked; /* the last coding listed was "chunked" */
	int te_other;        /* some other coding was listed */
	int conn_close;
	int conn_keep_alive;
	int conn_upgrade;
	int have_upgrade;
	int expect_continue;
	const char *host;
	size_t host_len;
	size_t host_count;
};

/* 1*DIGIT up to HTTP1_CONTENT_LENGTH_MAX into *out; 0 or -1. */
static int
parse_length(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!http1_is_digit(p[i]))
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > HTTP1_CONTENT_LENGTH_MAX)
			return -1;
	}
	*out = v;
	return 0;
}

/* Fold one Content-Length field into f: every member must agree. */
static int
framing_cl(struct framing *f, const struct http1_header *h)
{
	struct http1_list_iter it;
	const char *m;
	size_t mlen;
	uint64_t v;

	http1_list_init(&it, h->value, h->value_len);
	while (http1_list_next(&it, &m, &mlen)) {
		if (parse_length(m, mlen, &v) != 0)
			return -1;
		if (f->have_cl && v != f->cl)
			return -1;
		f->have_cl = 1;
		f->cl = v;
	}
	return 0;
}

/* Fold one Transfer-Encoding field into f. */
static int
framing_te(struct framing *f, const struct http1_header *h)
{
	struct http1_list_iter it;
	const char *m;
	size_t mlen, name;

	f->have_te = 1;
	http1_list_init(&it, h->value, h->value_len);
	while (http1_list_next(&it, &m, &mlen)) {
		if (mlen == 0)
			continue;
		for (name = 0; name < mlen && http1_is_tchar(m[name]); name++)
			;
		if (name == 0)
			return -1;
		f->te_last_chunked = name == mlen && util_strcaseeq(m, mlen, "chunked");
		if (f->te_last_chunked)
			f->te_chunked++;
		else
			f->te_other = 1;
	}
	return 0;
}

/* Fold one Connection field into f. */
static void
framing_connection(struct framing *f, const struct http1_header *h)
{
	struct http1_list_iter it;
	const char *m;
	size_t mlen;

	http1_list_init(&it, h->value, h->value_len);
	while (http1_list_next(&it, &m, &mlen)) {
		if (util_strcaseeq(m, mlen, "close"))
			f->conn_close = 1;
		else if (util_strcaseeq(m, mlen, "keep-alive"))
			f->conn_keep_alive = 1;
		else if (util_strcaseeq(m, mlen, "upgrade"))
			f->conn_upgrade = 1;
	}
}

/* One field that matters for framing or connection handling; 0 or -1. */
static int
framing_field(struct framing *f, const struct http1_header *h, enum http1_error *err)
{
	switch (h->name_len) { /* by length first: most fields are none of these */
	case 14:
		if (util_strcaseeq(h->name, 14, "content-length") && framing_cl(f, h) != 0) {
			*err = HTTP1_ERR_BAD_CONTENT_LENGTH;
			return -1;
		}
		break;
	case 17:
		if (util_strcaseeq(h->name, 17, "transfer-encoding") && framing_te(f, h) != 0) {
			*err = HTTP1_ERR_BAD_TRANSFER_ENCODING;
			return -1;
		}
		break;
	case 10:
		if (util_strcaseeq(h->name, 10, "connection"))
			framing_connection(f, h);
		break;
	case 7: f->have_upgrade |= util_strcaseeq(h->name, 7, "upgrade"); break;
	case 6:
		if (util_strcaseeq(h->name, 6, "expect"))
			f->expect_continue |= util_strcaseeq(h->value, h->value_len, "100-continue");
		break;
	case 4:
		if (util_strcaseeq(h->name, 4, "host") && f->host_count++ == 0) {
			f->host = h->value;
			f->host_len = h->value_len;
		}
		break;
	}
	return 0;
}

/* Read the framing fields of h[0..n) into f; 0, or -1 with *err. */
static int
framing_scan(const struct http1_header *h, size_t n, struct framing *f, enum http1_error *err)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++)
		if (framing_field(f, &h[i], err) != 0)
			return -1;
	return 0;
}

/*
 * The rules both directions share: no Content-Length with
 * Transfer-Encoding, none in HTTP/1.0, and chunked exactly once and last.
 */
static int
framing_check(const struct framing *f, int minor, enum http1_error *err)
{
	if (!f->have_te)
		return 0;
	if (f->have_cl) {
		*err = HTTP1_ERR_CL_AND_TE;
		return -1;
	}
	if (minor == 0 || f->te_chunked != 1 || !f->te_last_chunked) {
		*err = HTTP1_ERR_BAD_TRANSFER_ENCODING;
		return -1;
	}
	return 0;
}

static int
keep_alive(const struct framing *f, int minor)
{
	if (f->conn_close)
		return 0;
	return minor == 1 || f->conn_keep_alive;
}

/* ---- request and response heads ------------------------------------- */

static size_t
headers_limit(const struct http1_limits *lim, size_t cap)
{
	size_t max = lim != NULL ? lim->max_headers : HTTP1_DEFAULT_MAX_HEADERS;

	return cap < max ? cap : max;
}

static void
request_clear(struct http1_request *req)
{
	struct http1_header *headers = req->headers;
	size_t cap = req->headers_cap;

	memset(req, 0, sizeof(*req));
	req->headers = headers;
	req->headers_cap = cap;
}

/* Fill in the body kind and connection flags of a parsed request. */
static int
request_framing(struct http1_request *req)
{
	struct framing f;

	if (framing_scan(req->headers, req->num_headers, &f, &req->err) != 0 ||
	    framing_check(&f, req->minor_version, &req->err) != 0)
		return -1;
	if (f.te_other) {
		req->err = HTTP1_ERR_BAD_TRANSFER_ENCODING; /* we decode chunked only */
		return -1;
	}
	if (f.have_te) {
		req->body = HTTP1_BODY_CHUNKED;
	} else if (f.have_cl) {
		req->body = HTTP1_BODY_LENGTH;
		req->content_length = f.cl;
	}
	req->host = f.host;
	req->host_len = f.host_len;
	req->host_count = f.host_count;
	req->keep_alive = keep_alive(&f, req->minor_version);
	req->upgrade = req->minor_version == 1 && f.conn_upgrade && f.have_upgrade;
	req->expect_continue = req->minor_version == 1 && f.expect_continue;
	return 0;
}

/* see http1.h */
ssize_t
http1_parse_request(const char *buf, size_t len, size_t last_len, const struct http1_limits *lim,
		    struct http1_request *req)
{
	const char *p, *end;
	int complete = 0;
	ssize_t r;

	request_clear(req);
	r = head_find(buf, len, last_len, lim, &complete, &req->err);
	if (r < 0)
		return r;
	end = buf + r;
	p = buf + skip_empty_lines(buf, len);
	p = parse_request_line(p, end, req);
	if (p != NULL)
		p = parse_fields(p, end, req->headers, headers_limit(lim, req->headers_cap),
				 &req->num_headers, &req->err);
	if (p == NULL || !complete || request_framing(req) != 0) {
		if (req->err == HTTP1_OK)
			req->err = HTTP1_ERR_BAD_START_LINE; /* not reached: a bare LF fails a line parser */
		return HT_ERROR;
	}
	return p - buf; /* == r, unless a wrong last_len hid an earlier end */
}

static void
response_clear(struct http1_response *res)
{
	struct http1_header *headers = res->headers;
	size_t cap = res->headers_cap;
	int head = res->req_head, connect = res->req_connect;

	memset(res, 0, sizeof(*res));
	res->headers = headers;
	res->headers_cap = cap;
	res->req_head = head;
	res->req_connect = connect;
}

/* Fill in the body kind (RFC 9112 6.3) and connection flags of a response. */
static int
response_framing(struct http1_response *res)
{
	struct framing f;
	int s = res->status;

	if (framing_scan(res->headers, res->num_headers, &f, &res->err) != 0 ||
	    framing_check(&f, res->minor_version, &res->err) != 0)
		return -1;
	res->content_length = f.cl;
	res->te_other = f.te_other;
	if (res->req_head || s < 200 || s == 204 || s == 304 || (res->req_connect && s < 300))
		res->body = HTTP1_BODY_NONE;
	else if (f.have_te)
		res->body = HTTP1_BODY_CHUNKED;
	else if (f.have_cl)
		res->body = HTTP1_BODY_LENGTH;
	else
		res->body = HTTP1_BODY_CLOSE;
	res->keep_alive = res->body != HTTP1_BODY_CLOSE && keep_alive(&f, res->minor_version);
	res->upgrade = f.conn_upgrade && f.have_upgrade;
	return 0;
}

/* see http1.h */
ssize_t
http1_parse_response(const char *buf, size_t len, size_t last_len, const struct http1_limits *lim,
		     struct http1_response *res)
{
	const char *p, *end;
	int complete = 0;
	ssize_t r;

	response_clear(res);
	r = head_find(buf, len, last_len, lim, &complete, &res->err);
	if (r < 0)
		return r;
	end = buf + r;
	p = buf + skip_empty_lines(buf, len);
	p = parse_status_line(p, end, res);
	if (p != NULL)
		p = parse_fields(p, end, res->headers, headers_limit(lim, res->headers_cap),
				 &res->num_headers, &res->err);
	if (p == NULL || !complete || response_framing(res) != 0) {
		if (res->err == HTTP1_OK)
			res->err = HTTP1_ERR_BAD_START_LINE; /* not reached: a bare LF fails a line parser */
		return HT_ERROR;
	}
	return p - buf; /* == r, unless a wrong last_len hid an earlier end */
}

/* see http1.h */
const char *
http1_error_str(enum http1_error err)
{
	static const char *const names[HTTP1_ERR_MAX] = {
		[HTTP1_OK] = "ok",
		[HTTP1_ERR_HEAD_TOO_LARGE] = "head too large",
		[HTTP1_ERR_TOO_MANY_HEADERS] = "too many header fields",
		[HTTP1_ERR_BAD_START_LINE] = "bad start line",
		[HTTP1_ERR_BAD_VERSION] = "unsupported HTTP version",
		[HTTP1_ERR_BAD_HEADER_NAME] = "bad header name",
		[HTTP1_ERR_SPACE_BEFORE_COLON] = "whitespace before colon",
		[HTTP1_ERR_BAD_HEADER_VALUE] = "bad header value",
		[HTTP1_ERR_OBS_FOLD] = "obsolete line folding",
		[HTTP1_ERR_BARE_CR] = "CR without LF",
		[HTTP1_ERR_NUL] = "NUL byte",
		[HTTP1_ERR_CL_AND_TE] = "Content-Length with Transfer-Encoding",
		[HTTP1_ERR_BAD_CONTENT_LENGTH] = "bad Content-Length",
		[HTTP1_ERR_BAD_TRANSFER_ENCODING] = "bad Transfer-Encoding",
	};

	if ((unsigned)err >= HTTP1_ERR_MAX)
		return "unknown";
	return names[err];
}

/* see http1.h */
int
http1_error_status(enum http1_error err)
{
	switch (err) {
	case HTTP1_OK: return 0;
	case HTTP1_ERR_HEAD_TOO_LARGE:
	case HTTP1_ERR_TOO_MANY_HEADERS: return 431;
	case HTTP1_ERR_BAD_VERSION: return 505;
	default: return 400;
	}
}
