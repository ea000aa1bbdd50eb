/*
 * local_codec.c: STREAM_OPEN -> request head, the request body's framing,
 * response head -> STREAM_RESPONSE_HEAD, the response body's framing
 * taken off (see local_codec.h).
 *
 * Strings are unescaped straight into the output buffer and checked in
 * place, so a header is copied once. This file does no I/O. When the
 * request body's framing depends on what arrives later (the first DATA or
 * the EOF), local_codec_req_body_data/_end decide it and local.c then
 * finishes the head with local_codec_request_end().
 */
#include "local_codec.h"

#include <errno.h>
#include <string.h>

#include "util.h"

#define SP_HTTP11_CRLF " HTTP/1.1\r\n"

static int
put(struct buf *out, size_t max, const void *p, size_t n)
{
	int rc = buf_reserve(out, n, 0, max);

	if (rc < 0)
		return rc;
	return buf_append(out, p, n) == 0 ? 0 : -ENOSPC;
}

/*
 * Unescape string token tok to out->last and commit it. *len receives its
 * length. 0, LOCAL_CODEC_INVALID (not a string), -ENOSPC, -ENOMEM.
 */
static int
put_string(struct buf *out, size_t max, const struct json_doc *doc, int tok, size_t *len)
{
	size_t cap;
	ssize_t n;
	int rc;

	if (json_type(doc, tok) != JSON_STRING)
		return LOCAL_CODEC_INVALID;
	cap = (size_t)(doc->toks[tok].end - doc->toks[tok].start) + 1;
	rc = buf_reserve(out, cap, 0, max);
	if (rc < 0)
		return rc;
	n = json_get_string(doc, tok, (char *)out->last, cap);
	if (n < 0)
		return LOCAL_CODEC_INVALID;
	buf_commit(out, (size_t)n);
	*len = (size_t)n;
	return 0;
}

/* 1 when the request field name[0..len) is not passed to the local service. */
static int
dropped_request_field(const char *name, size_t len, int upgrade)
{
	if (util_strcaseeq(name, len, "transfer-encoding"))
		return 1;
	if (upgrade && (util_strcaseeq(name, len, "connection") || util_strcaseeq(name, len, "upgrade")))
		return 0;
	return http1_is_hop_by_hop(name, len);
}

/* Parse a Content-Length value; it must agree with an earlier one. */
static int
content_length(struct local_request *rq, const char *v, size_t n)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 19)
		return LOCAL_CODEC_INVALID;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return LOCAL_CODEC_INVALID;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > HTTP1_CONTENT_LENGTH_MAX || (rq->has_length && rq->content_length != x))
		return LOCAL_CODEC_INVALID;
	rq->has_length = 1;
	rq->content_length = x;
	return 0;
}

/* One [name, value] pair of "headers": append "Name: value\r\n" or nothing. */
static int
put_field(struct buf *out, size_t max, const struct json_doc *doc, int pair, struct local_request *rq,
	  int *has_host)
{
	int kn = json_first(doc, pair), kv = kn >= 0 ? json_next(doc, pair, kn) : -1;
	size_t start = buf_len(out), nlen, vlen;
	char *name;
	int rc;

	if (json_type(doc, pair) != JSON_ARRAY || doc->toks[pair].count != 2)
		return LOCAL_CODEC_INVALID;
	if ((rc = put_string(out, max, doc, kn, &nlen)) < 0)
		return rc;
	name = (char *)out->pos + start;
	if (!http1_token_valid(name, nlen))
		return LOCAL_CODEC_INVALID;
	if ((rc = put(out, max, ": ", 2)) < 0 || (rc = put_string(out, max, doc, kv, &vlen)) < 0)
		return rc;
	name = (char *)out->pos + start; /* the buffer may have moved */
	if (!http1_field_value_valid(name + nlen + 2, vlen))
		return LOCAL_CODEC_INVALID;
	if (util_strcaseeq(name, nlen, "content-length")) {
		int dup = rq->has_length;

		if ((rc = content_length(rq, name + nlen + 2, vlen)) < 0)
			return rc;
		if (dup) { /* an agreeing duplicate: write the field once */
			out->last = out->pos + start;
			return 0;
		}
	}
	if (dropped_request_field(name, nlen, rq->upgrade)) {
		out->last = out->pos + start;
		return 0;
	}
	*has_host |= util_strcaseeq(name, nlen, "host");
	return put(out, max, "\r\n", 2);
}

/* The request line from the tokens of method and target, and the version. */
static int
put_request_line(struct buf *out, size_t max, const struct json_doc *doc, int method, int target,
		 struct local_request *rq)
{
	size_t start = buf_len(out), n;
	const char *m;
	int rc;

	if ((rc = put_string(out, max, doc, method, &n)) < 0)
		return rc;
	m = (const char *)out->pos + start;
	if (!http1_method_valid(m, n))
		return LOCAL_CODEC_INVALID;
	rq->method_len = n;
	rq->is_head = n == 4 && memcmp(m, "HEAD", 4) == 0;
	rq->body_method = (n == 4 && memcmp(m, "POST", 4) == 0) || (n == 3 && memcmp(m, "PUT", 3) == 0) ||
			  (n == 5 && memcmp(m, "PATCH", 5) == 0);
	if ((rc = put(out, max, " ", 1)) < 0)
		return rc;
	rq->target_off = buf_len(out);
	if ((rc = put_string(out, max, doc, target, &n)) < 0)
		return rc;
	if (!http1_target_valid((const char *)out->pos + rq->target_off, n))
		return LOCAL_CODEC_INVALID;
	rq->target_len = n;
	return put(out, max, SP_HTTP11_CRLF, sizeof(SP_HTTP11_CRLF) - 1);
}

/* see local_codec.h */
int
local_codec_request_head(const char *json, size_t n, struct json_tok *toks, size_t ntoks, const char *host,
			 struct buf *out, size_t max, struct local_request *rq)
{
	struct json_doc doc;

	memset(rq, 0, sizeof(*rq));
	if (json_parse(&doc, json, n, toks, ntoks, NULL) < 0)
		return LOCAL_CODEC_INVALID;
	return local_codec_request_head_doc(&doc, host, out, max, rq);
}

/* see local_codec.h */
int
local_codec_request_head_doc(const struct json_doc *doc, const char *host, struct buf *out, size_t max,
			     struct local_request *rq)
{
	static const char *const keys[] = { "isUpgrade", "method", "target", "headers" };
	int v[UTIL_ARRAY_SIZE(keys)];
	int hdrs, k, rc, has_host = 0;
	bool up = false;

	memset(rq, 0, sizeof(*rq));
	if (json_get_keys(doc, 0, keys, UTIL_ARRAY_SIZE(keys), v) < 0)
		return LOCAL_CODEC_INVALID;
	k = v[0];
	if (k >= 0 && !json_is_null(doc, k) && json_get_bool(doc, k, &up) != JSON_GET_OK)
		return LOCAL_CODEC_INVALID;
	rq->upgrade = up;
	if ((rc = put_request_line(out, max, doc, v[1], v[2], rq)) < 0)
		return rc;
	hdrs = v[3];
	if (hdrs >= 0 && !json_is_null(doc, hdrs) && json_type(doc, hdrs) != JSON_ARRAY)
		return LOCAL_CODEC_INVALID;
	for (k = json_first(doc, hdrs); k >= 0; k = json_next(doc, hdrs, k))
		if ((rc = put_field(out, max, doc, k, rq, &has_host)) < 0)
			return rc;
	if (!has_host && host != NULL && host[0] != '\0') {
		if (!http1_field_value_valid(host, strlen(host)))
			return LOCAL_CODEC_INVALID;
		if ((rc = put(out, max, "Host: ", 6)) < 0 || (rc = put(out, max, host, strlen(host))) < 0 ||
		    (rc = put(out, max, "\r\n", 2)) < 0)
			return rc;
	}
	if (rq->upgrade)
		rq->framing = LOCAL_FRAMING_RAW;
	else
		rq->framing = rq->has_length ? LOCAL_FRAMING_LENGTH : LOCAL_FRAMING_UNDECIDED;
	return 0;
}

/* see local_codec.h */
int
local_codec_request_end(struct buf *out, size_t max, const struct local_request *rq, enum local_framing f)
{
	static const char cl0[] = "Content-Length: 0\r\n";
	static const char te[] = "Transfer-Encoding: chunked\r\n";
	int rc = 0;

	if (f == LOCAL_FRAMING_NONE && rq->body_method && !rq->has_length)
		rc = put(out, max, cl0, sizeof(cl0) - 1);
	else if (f == LOCAL_FRAMING_CHUNKED)
		rc = put(out, max, te, sizeof(te) - 1);
	if (rc < 0)
		return rc;
	return put(out, max, "\r\n", 2);
}

/* ---- the request body -------------------------------------------------- */

/* see local_codec.h */
void
local_codec_req_body_init(struct local_req_body *b, const struct local_request *rq)
{
	b->framing = rq->framing;
	b->length = rq->content_length;
	b->in = 0;
}

/* see local_codec.h */
int
local_codec_req_body_empty(const struct local_req_body *b)
{
	return b->framing == LOCAL_FRAMING_NONE || (b->framing == LOCAL_FRAMING_LENGTH && b->length == 0);
}

/* see local_codec.h */
enum local_body_result
local_codec_req_body_data(struct local_req_body *b, size_t n, struct local_piece *pc, int *decided)
{
	pc->pre_len = 0;
	pc->post = "";
	pc->post_len = 0;
	*decided = 0;
	b->in += n;
	if (b->framing == LOCAL_FRAMING_UNDECIDED) {
		b->framing = LOCAL_FRAMING_CHUNKED;
		*decided = 1;
	}
	switch (b->framing) {
	case LOCAL_FRAMING_CHUNKED:
		if (n == 0)
			break; /* a chunk of size 0 is the last chunk */
		pc->pre_len = http1_chunk_header(pc->pre, n);
		pc->post = HTTP1_CHUNK_END;
		pc->post_len = HTTP1_CHUNK_END_LEN;
		break;
	case LOCAL_FRAMING_LENGTH:
		if (b->in > b->length)
			return LOCAL_BODY_LONG;
		return b->in == b->length ? LOCAL_BODY_COMPLETE : LOCAL_BODY_MORE;
	default: break;
	}
	return LOCAL_BODY_MORE;
}

/* see local_codec.h */
enum local_body_result
local_codec_req_body_end(struct local_req_body *b, const char **tail, size_t *tail_len, int *decided)
{
	*tail = "";
	*tail_len = 0;
	*decided = 0;
	switch (b->framing) {
	case LOCAL_FRAMING_UNDECIDED:
		b->framing = LOCAL_FRAMING_NONE;
		*decided = 1;
		return LOCAL_BODY_COMPLETE;
	case LOCAL_FRAMING_CHUNKED:
		*tail = HTTP1_LAST_CHUNK;
		*tail_len = HTTP1_LAST_CHUNK_LEN;
		return LOCAL_BODY_COMPLETE;
	case LOCAL_FRAMING_LENGTH: return b->in == b->length ? LOCAL_BODY_COMPLETE : LOCAL_BODY_SHORT;
	case LOCAL_FRAMING_RAW: return LOCAL_BODY_MORE;
	default: return LOCAL_BODY_COMPLETE;
	}
}

/* ---- the response body ------------------------------------------------- */

/* see local_codec.h */
void
local_codec_resp_body_init(struct local_resp_body *b, enum http1_body body, uint64_t length)
{
	b->body = body;
	b->left = length;
	b->trailing = 0;
	http1_chunked_init(&b->ck);
}

/* see local_codec.h */
size_t
local_codec_resp_body_want(const struct local_resp_body *b, size_t want)
{
	if (b->body == HTTP1_BODY_LENGTH && want > b->left)
		return (size_t)b->left;
	return want;
}

/* Decode the chunked bytes p[0..n) in place: the data moves to the front. */
static int
dechunk(struct local_resp_body *b, uint8_t *p, size_t n, size_t *out)
{
	size_t off = 0;

	*out = 0;
	while (off < n && !http1_chunked_done(&b->ck)) {
		const uint8_t *d;
		size_t dl;
		ssize_t k = http1_chunked_decode(&b->ck, p + off, n - off, &d, &dl);

		if (k < 0)
			return -1;
		if (dl > 0) {
			memmove(p + *out, d, dl);
			*out += dl;
		}
		off += (size_t)k;
		if (k == 0)
			break;
	}
	if (http1_chunked_done(&b->ck) && off < n)
		b->trailing = 1;
	return 0;
}

/* see local_codec.h */
int
local_codec_resp_body_take(struct local_resp_body *b, uint8_t *p, size_t n, size_t *out)
{
	switch (b->body) {
	case HTTP1_BODY_CHUNKED: return dechunk(b, p, n, out);
	case HTTP1_BODY_LENGTH:
		*out = (size_t)(n < b->left ? n : b->left);
		b->left -= *out;
		b->trailing |= *out < n;
		return 0;
	case HTTP1_BODY_NONE:
		*out = 0;
		b->trailing |= n > 0;
		return 0;
	default:
		*out = n; /* CLOSE: everything up to the close */
		return 0;
	}
}

/* see local_codec.h */
int
local_codec_resp_body_done(const struct local_resp_body *b)
{
	switch (b->body) {
	case HTTP1_BODY_NONE: return 1;
	case HTTP1_BODY_LENGTH: return b->left == 0;
	case HTTP1_BODY_CHUNKED: return http1_chunked_done(&b->ck);
	default: return 0;
	}
}

/* see local_codec.h */
int
local_codec_resp_body_eof(const struct local_resp_body *b)
{
	return b->body == HTTP1_BODY_CLOSE;
}

/* ---- the response head ------------------------------------------------- */

/* 1 when the response field h is passed on to the visitor (conn: the response has a Connection field). */
static int
kept_response_field(const struct http1_response *res, const struct http1_header *h, int conn)
{
	if (res->status == 101 && (util_strcaseeq(h->name, h->name_len, "connection") ||
				   util_strcaseeq(h->name, h->name_len, "upgrade")))
		return 1;
	if (util_strcaseeq(h->name, h->name_len, "content-length"))
		return 1;
	if (http1_is_hop_by_hop(h->name, h->name_len))
		return 0;
	return !conn ||
	       !http1_header_is_named_in_connection(res->headers, res->num_headers, h->name, h->name_len);
}

/* see local_codec.h */
int
local_codec_response_head(const struct http1_response *res, struct buf *out, size_t max)
{
	struct json_writer w;
	int conn = http1_find_header(res->headers, res->num_headers, "connection") != NULL;
	size_t i;

	json_w_init(&w, out, max);
	json_w_obj_begin(&w);
	json_w_kv_int(&w, "status", res->status);
	json_w_key(&w, "headers");
	json_w_arr_begin(&w);
	for (i = 0; i < res->num_headers; i++) {
		const struct http1_header *h = &res->headers[i];

		if (!kept_response_field(res, h, conn))
			continue;
		json_w_pair(&w, h->name, h->name_len, h->value, h->value_len);
	}
	json_w_arr_end(&w);
	json_w_kv_bool(&w, "final", res->status >= 200 || res->status == 101);
	json_w_obj_end(&w);
	switch (json_w_finish(&w)) {
	case JSON_W_OK: return 0;
	case JSON_W_ERR_SPACE: return -ENOSPC;
	default: return -EINVAL;
	}
}
