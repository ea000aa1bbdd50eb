/*
 * expose_http.c: STREAM_OPEN JSON, request and response body framing,
 * response heads and the daemon's own answers for EXPOSE visitors (see
 * expose_http.h). No I/O, no state kept between calls but what the caller
 * passes in.
 */
#include "expose_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define DETAIL_MAX 160
#define RESP_TOKENS (3 * EXPOSE_HTTP_MAX_RESPONSE_HEADERS + 16)
#define CONN_VALUES_MAX 512 /* bytes of Connection values a response head may carry */

/* ---- pure helpers: STREAM_OPEN ------------------------------------------ */

static int
name_is(const char *name, size_t len, const char *lower)
{
	return util_strcaseeq(name, len, lower);
}

static int
name_has_prefix(const char *name, size_t len, const char *lower)
{
	size_t n = strlen(lower);

	return len >= n && util_strcaseeq(name, n, lower);
}

/* 1 when a request field goes into STREAM_OPEN. */
static int
keep_request_field(const struct http1_request *req, const struct http1_header *h, int upgrade)
{
	if (forwarded_is_managed(h->name, h->name_len))
		return 0;
	if (upgrade &&
	    (name_is(h->name, h->name_len, "connection") || name_is(h->name, h->name_len, "upgrade") ||
	     name_has_prefix(h->name, h->name_len, "sec-websocket-")))
		return 1;
	if (http1_is_hop_by_hop(h->name, h->name_len))
		return 0;
	return !http1_header_is_named_in_connection(req->headers, req->num_headers, h->name, h->name_len);
}

static void
header_pair(struct json_writer *w, const char *name, const char *value, size_t vlen)
{
	json_w_pair(w, name, strlen(name), value, vlen);
}

/* An absolute-form target: the length of "scheme://" before its authority, else 0. */
static size_t
scheme_len(const char *t, size_t len)
{
	size_t i;

	if (len == 0 || t[0] == '/')
		return 0;
	for (i = 0; i < len && t[i] != ':' && t[i] != '/'; i++)
		;
	return i + 2 < len && t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/' ? i + 3 : 0;
}

/* An absolute-form target split for the client (RFC 9112 3.2.2). */
struct absolute {
	const char *auth; /* the authority: the Host the client is sent; NULL: not absolute-form */
	size_t auth_len;
	const char *origin; /* the origin form: path and query ("/" when empty) */
	size_t origin_len;
};

/*
 * 0 with af filled when req's target is in absolute form with a path or
 * nothing after the authority, else -1 (a bare "?query" after it is sent
 * as it came).
 */
static int
absolute_form(const struct http1_request *req, struct absolute *af)
{
	size_t at = scheme_len(req->target, req->target_len), end;

	if (at == 0)
		return -1;
	for (end = at; end < req->target_len && req->target[end] != '/' && req->target[end] != '?'; end++)
		;
	if (end < req->target_len && req->target[end] == '?')
		return -1;
	af->auth = req->target + at;
	af->auth_len = end - at;
	af->origin = end < req->target_len ? req->target + end : "/";
	af->origin_len = end < req->target_len ? req->target_len - end : 1;
	return 0;
}

/* see expose_http.h */
int
expose_http_open_json(struct buf *out, const struct expose_http_open *o, const struct http1_request *req)
{
	struct absolute af = { NULL, 0, NULL, 0 };
	struct json_writer w;
	size_t i;

	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "kind", "http");
	json_w_kv_uint(&w, "bindId", o->bind_id);
	json_w_kv_int(&w, "containerPort", o->port);
	json_w_kv_strn(&w, "method", req->method, req->method_len);
	if (absolute_form(req, &af) == 0)
		json_w_kv_strn(&w, "target", af.origin, af.origin_len);
	else
		json_w_kv_strn(&w, "target", req->target, req->target_len);
	json_w_key(&w, "headers");
	json_w_arr_begin(&w);
	if (af.auth != NULL)
		header_pair(&w, "Host", af.auth, af.auth_len);
	for (i = 0; i < req->num_headers; i++) {
		const struct http1_header *h = &req->headers[i];

		if (!keep_request_field(req, h, o->upgrade) ||
		    (af.auth != NULL && util_strcaseeq(h->name, h->name_len, "host")))
			continue;
		json_w_pair(&w, h->name, h->name_len, h->value, h->value_len);
	}
	header_pair(&w, "X-Forwarded-For", o->fwd->xff, strlen(o->fwd->xff));
	header_pair(&w, "X-Forwarded-Proto", o->fwd->proto, strlen(o->fwd->proto));
	if (o->fwd->host[0])
		header_pair(&w, "X-Forwarded-Host", o->fwd->host, strlen(o->fwd->host));
	header_pair(&w, "X-Real-IP", o->fwd->real_ip, strlen(o->fwd->real_ip));
	json_w_arr_end(&w);
	json_w_kv_bool(&w, "isUpgrade", o->upgrade != 0);
	json_w_kv_str(&w, "httpVersion", req->minor_version == 1 ? "1.1" : "1.0");
	json_w_kv_str(&w, "peerAddr", o->peer_addr);
	json_w_obj_end(&w);
	return json_w_finish(&w) == 0 ? 0 : -ENOMEM;
}

/* ---- pure helpers: response heads --------------------------------------- */

/* What the first pass over the client's header pairs found. */
struct head_scan {
	struct http1_header conn; /* every Connection value, joined with commas */
	char conn_buf[CONN_VALUES_MAX];
	size_t conn_len;
	int have_conn;
	int have_cl;
	uint64_t cl;
};

/* The name and value tokens of header pair e (an array of two strings). */
static int
pair_tokens(const struct json_doc *doc, int e, int *nt, int *vt)
{
	if (json_type(doc, e) != JSON_ARRAY || doc->toks[e].count != 2)
		return -1;
	*nt = json_first(doc, e);
	*vt = json_next(doc, e, *nt);
	if (json_type(doc, *nt) != JSON_STRING || json_type(doc, *vt) != JSON_STRING)
		return -1;
	return 0;
}

static int
parse_length(const char *s, size_t n, uint64_t *out)
{
	return util_parse_uintn(s, n, HTTP1_CONTENT_LENGTH_MAX, out);
}

static int
scan_one(const struct json_doc *doc, int nt, int vt, struct head_scan *sc)
{
	char name[32], val[32];
	ssize_t nl = json_get_string(doc, nt, name, sizeof(name)), vl;
	uint64_t cl;

	if (nl < 0)
		return 0; /* longer than any name looked for here; checked when written */
	if (name_is(name, (size_t)nl, "connection")) {
		size_t room = sizeof(sc->conn_buf) - sc->conn_len;

		if (sc->conn_len > 0 && room > 1) {
			sc->conn_buf[sc->conn_len++] = ',';
			room--;
		}
		vl = json_get_string(doc, vt, sc->conn_buf + sc->conn_len, room);
		if (vl < 0)
			return -1;
		sc->conn_len += (size_t)vl;
		sc->have_conn = 1;
	} else if (name_is(name, (size_t)nl, "content-length")) {
		vl = json_get_string(doc, vt, val, sizeof(val));
		if (vl < 0 || parse_length(val, (size_t)vl, &cl) < 0 || (sc->have_cl && cl != sc->cl))
			return -1;
		sc->have_cl = 1;
		sc->cl = cl;
	}
	return 0;
}

static int
scan_headers(const struct json_doc *doc, int hdrs, struct head_scan *sc)
{
	int e, nt, vt;

	memset(sc, 0, sizeof(*sc));
	sc->conn.name = "Connection";
	sc->conn.name_len = 10;
	sc->conn.value = sc->conn_buf;
	if (hdrs < 0 || json_is_null(doc, hdrs))
		return 0;
	if (json_type(doc, hdrs) != JSON_ARRAY || doc->toks[hdrs].count > EXPOSE_HTTP_MAX_RESPONSE_HEADERS)
		return -1;
	for (e = json_first(doc, hdrs); e >= 0; e = json_next(doc, hdrs, e))
		if (pair_tokens(doc, e, &nt, &vt) < 0 || scan_one(doc, nt, vt, sc) < 0)
			return -1;
	sc->conn.value_len = sc->conn_len;
	return 0;
}

/* h's status and final from their tokens (tok: of "final"); -1 when not valid for rq */
static int
parse_status(const struct json_doc *doc, int status, int tok, const struct expose_http_req *rq,
	     struct expose_http_head *h)
{
	int64_t st;
	bool fin = true;

	if (json_get_int(doc, status, &st) != 0 || st < 100 || st > 599)
		return -1;
	if (tok >= 0 && !json_is_null(doc, tok) && json_get_bool(doc, tok, &fin) != 0)
		return -1;
	h->status = (int)st;
	h->final = fin;
	if (fin && st < 200 && !(st == 101 && rq->upgrade))
		return -1;
	if (!fin && (st >= 200 || st == 101))
		return -1;
	return 0;
}

static void
decide_framing(const struct expose_http_req *rq, const struct head_scan *sc, struct expose_http_head *h)
{
	h->body = EXPOSE_HTTP_BODY_NONE;
	h->keep_alive = rq->keep_alive;
	if (!h->final || h->status == 101) {
		h->keep_alive = h->final ? 0 : rq->keep_alive;
	} else if (rq->head || h->status == 204 || h->status == 304) {
		h->length = sc->have_cl ? sc->cl : 0;
	} else if (sc->have_cl) {
		h->body = EXPOSE_HTTP_BODY_LENGTH;
		h->length = sc->cl;
	} else if (rq->minor == 1) {
		h->body = EXPOSE_HTTP_BODY_CHUNKED;
	} else {
		h->body = EXPOSE_HTTP_BODY_CLOSE;
		h->keep_alive = 0;
	}
}

/* 1 when a response field of the client is written to the visitor. */
static int
keep_response_field(const char *name, size_t len, const struct head_scan *sc, int switching)
{
	if (name_is(name, len, "content-length"))
		return 0; /* written by the daemon, once */
	if (switching && (name_is(name, len, "connection") || name_is(name, len, "upgrade")))
		return 1;
	if (http1_is_hop_by_hop(name, len))
		return 0;
	return sc->conn_len == 0 || !http1_header_is_named_in_connection(&sc->conn, 1, name, len);
}

/* Write one "name: value\r\n" (unescaped in place in out's free space). */
static int
emit_field(struct buf *out, const struct json_doc *doc, int nt, int vt, const struct head_scan *sc,
	   int switching)
{
	size_t nraw = doc->toks[nt].end - doc->toks[nt].start, vraw = doc->toks[vt].end - doc->toks[vt].start;
	ssize_t nl, vl;
	char *name, *value;

	if (buf_reserve(out, nraw + vraw + 8, 0, 0) < 0)
		return -ENOMEM;
	name = (char *)out->last;
	nl = json_get_string(doc, nt, name, nraw + 1);
	if (nl < 0 || !http1_token_valid(name, (size_t)nl))
		return -EPROTO;
	value = name + nl + 2;
	vl = json_get_string(doc, vt, value, vraw + 1);
	if (vl < 0 || !http1_field_value_valid(value, (size_t)vl))
		return -EPROTO;
	if (!keep_response_field(name, (size_t)nl, sc, switching))
		return 0;
	name[nl] = ':';
	name[nl + 1] = ' ';
	value[vl] = '\r';
	value[vl + 1] = '\n';
	buf_commit(out, (size_t)nl + 2 + (size_t)vl + 2);
	return 0;
}

static int
emit_text(struct buf *out, const char *s)
{
	size_t n = strlen(s);

	if (buf_reserve(out, n, 0, 0) < 0)
		return -ENOMEM;
	buf_append(out, s, n);
	return 0;
}

/* The daemon's own framing and connection fields, then the blank line. */
static int
emit_trailer_fields(struct buf *out, const struct head_scan *sc, const struct expose_http_head *h)
{
	static const char cl[] = "Content-Length: ";
	char line[sizeof(cl) + 20 + 2];
	size_t k;

	if (!h->final)
		return emit_text(out, "\r\n");
	if (h->status == 101)
		return emit_text(out, sc->have_conn ? "\r\n" : "Connection: Upgrade\r\n\r\n");
	if (sc->have_cl && h->status != 204) {
		memcpy(line, cl, sizeof(cl) - 1);
		k = sizeof(cl) - 1 + util_u64_dec(line + sizeof(cl) - 1, sc->cl);
		memcpy(line + k, "\r\n", 3);
		if (emit_text(out, line) < 0)
			return -ENOMEM;
	}
	if (h->body == EXPOSE_HTTP_BODY_CHUNKED && emit_text(out, "Transfer-Encoding: chunked\r\n") < 0)
		return -ENOMEM;
	return emit_text(out, h->keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
}

static int
write_head(struct buf *out, const struct json_doc *doc, int hdrs, const struct head_scan *sc,
	   const struct expose_http_head *h)
{
	int e, nt, vt, rc, switching = h->final && h->status == 101;
	size_t k;

	if (buf_reserve(out, HTTP1_STATUS_LINE_MAX, 0, 0) < 0)
		return -ENOMEM;
	k = http1_write_status_line((char *)out->last, buf_room(out), h->status);
	if (k == 0)
		return -EPROTO;
	buf_commit(out, k);
	if (hdrs >= 0 && json_type(doc, hdrs) == JSON_ARRAY) {
		for (e = json_first(doc, hdrs); e >= 0; e = json_next(doc, hdrs, e)) {
			pair_tokens(doc, e, &nt, &vt); /* checked by scan_headers */
			rc = emit_field(out, doc, nt, vt, sc, switching);
			if (rc < 0)
				return rc;
		}
	}
	return emit_trailer_fields(out, sc, h);
}

/* see expose_http.h */
int
expose_http_response_head(struct buf *out, const uint8_t *json, size_t n, const struct expose_http_req *rq,
			  struct expose_http_head *h)
{
	static const char *const keys[] = { "status", "final", "headers" };
	int v[UTIL_ARRAY_SIZE(keys)];
	struct json_tok toks[RESP_TOKENS];
	struct json_doc doc;
	struct head_scan sc;
	size_t mark = buf_len(out);
	int hdrs, rc;

	memset(h, 0, sizeof(*h));
	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_get_keys(&doc, 0, keys, UTIL_ARRAY_SIZE(keys), v) < 0 ||
	    parse_status(&doc, v[0], v[1], rq, h) < 0)
		return -EPROTO;
	hdrs = v[2];
	if (scan_headers(&doc, hdrs, &sc) < 0)
		return -EPROTO;
	decide_framing(rq, &sc, h);
	if (!h->final && rq->minor == 0)
		return 0; /* no 1xx to an HTTP/1.0 visitor (RFC 9110 15.2) */
	rc = write_head(out, &doc, hdrs, &sc, h);
	if (rc < 0)
		out->last = out->pos + mark;
	return rc;
}

/* ---- pure helpers: bodies ----------------------------------------------- */

/* see expose_http.h */
void
expose_http_req_body_init(struct expose_http_req_body *b, enum http1_body body, uint64_t length)
{
	b->body = body;
	b->left = length;
	http1_chunked_init(&b->ck);
}

/* see expose_http.h */
ssize_t
expose_http_req_body_take(struct expose_http_req_body *b, const uint8_t *in, size_t n, const uint8_t **data,
			  size_t *dlen)
{
	size_t k;

	if (b->body == HTTP1_BODY_CHUNKED) {
		ssize_t used = http1_chunked_decode(&b->ck, in, n, data, dlen);

		return used < 0 ? -1 : used;
	}
	k = (size_t)UTIL_MIN((uint64_t)n, b->left);
	b->left -= k;
	*data = in;
	*dlen = k;
	return (ssize_t)k;
}

/* see expose_http.h */
int
expose_http_req_body_done(const struct expose_http_req_body *b)
{
	return b->body == HTTP1_BODY_CHUNKED ? http1_chunked_done(&b->ck) : b->left == 0;
}

/* see expose_http.h */
void
expose_http_resp_body_init(struct expose_http_resp_body *b, enum expose_http_body body, uint64_t length)
{
	b->body = body;
	b->left = length;
}

/* see expose_http.h */
void
expose_http_resp_body_data(struct expose_http_resp_body *b, size_t n, struct expose_http_piece *pc)
{
	pc->pre_len = 0;
	pc->take = n;
	pc->drop = 0;
	pc->post = "";
	pc->post_len = 0;
	switch (b->body) {
	case EXPOSE_HTTP_BODY_NONE:
		pc->take = 0;
		pc->drop = n;
		break;
	case EXPOSE_HTTP_BODY_LENGTH:
		pc->take = (size_t)UTIL_MIN((uint64_t)n, b->left);
		pc->drop = n - pc->take;
		b->left -= pc->take;
		break;
	case EXPOSE_HTTP_BODY_CHUNKED:
		if (n == 0)
			break; /* a chunk of size 0 is the last chunk */
		pc->pre_len = http1_chunk_header(pc->pre, n);
		pc->post = HTTP1_CHUNK_END;
		pc->post_len = HTTP1_CHUNK_END_LEN;
		break;
	default: break; /* CLOSE: raw */
	}
}

/* see expose_http.h */
int
expose_http_resp_body_end(const struct expose_http_resp_body *b, const char **tail, size_t *tail_len)
{
	*tail = "";
	*tail_len = 0;
	switch (b->body) {
	case EXPOSE_HTTP_BODY_CHUNKED:
		*tail = HTTP1_LAST_CHUNK;
		*tail_len = HTTP1_LAST_CHUNK_LEN;
		return 1;
	case EXPOSE_HTTP_BODY_LENGTH: return b->left == 0;
	case EXPOSE_HTTP_BODY_CLOSE: return 0;
	default: return 1;
	}
}

/* see expose_http.h */
int
expose_http_error_response(struct buf *out, int status, const char *detail, size_t dlen, int keep_alive,
			   int head, const char *extra)
{
	const char *reason = http1_reason_phrase(status);
	char body[64 + DETAIL_MAX], hd[320];
	size_t bl, i;
	int hl;

	hl = snprintf(body, sizeof(body), "%d %s", status, reason);
	bl = hl > 0 ? (size_t)hl : 0;
	if (dlen > DETAIL_MAX)
		dlen = DETAIL_MAX;
	if (detail != NULL && dlen > 0) {
		body[bl++] = ':';
		body[bl++] = ' ';
		for (i = 0; i < dlen; i++) {
			unsigned char c = (unsigned char)detail[i];

			body[bl++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	body[bl++] = '\n';
	hl = snprintf(hd, sizeof(hd),
		      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
		      "%sConnection: %s\r\n\r\n",
		      status, reason, bl, extra ? extra : "", keep_alive ? "keep-alive" : "close");
	if (hl < 0 || buf_reserve(out, (size_t)hl + bl, 0, 0) < 0)
		return -ENOMEM;
	buf_append(out, hd, (size_t)hl);
	if (!head)
		buf_append(out, body, bl);
	return 0;
}

/* ---- routing by host ---------------------------------------------------- */

/* see expose_http.h */
int
expose_http_host(const struct http1_request *req, const char **host, size_t *len)
{
	size_t at = scheme_len(req->target, req->target_len), end;

	if (at > 0) {
		for (end = at; end < req->target_len && req->target[end] != '/' && req->target[end] != '?';
		     end++)
			;
		*host = req->target + at;
		*len = end - at;
		return 0;
	}
	if (req->host_count != 1)
		return -1;
	*host = req->host;
	*len = req->host_len;
	return 0;
}

/* p[0..n) is prefix, or prefix followed by '/' or '?'. */
static int
under(const char *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(p, prefix, k) == 0 && (n == k || p[k] == '/' || p[k] == '?');
}

/* see expose_http.h */
int
expose_http_reserved(const char *target, size_t len)
{
	size_t at = scheme_len(target, len);

	if (at > 0) {
		const char *slash = memchr(target + at, '/', len - at);

		if (slash == NULL)
			return 0;
		len -= (size_t)(slash - target);
		target = slash;
	}
	return under(target, len, "/api/v1/tunnel") || under(target, len, "/healthz");
}
