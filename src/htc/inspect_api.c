/*
 * inspect_api.c: the inspector API's JSON (see inspect_api.h).
 *
 * Heads are parsed again from the captured bytes (http1.h) when an
 * answer is built, never on the data path. A head the parser refuses (cut
 * at CAPTURE_HEAD_MAX) still gives its first line, with no headers.
 */
#include "inspect_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"
#include "json.h"
#include "util.h"

#define API_HEADERS_MAX 256
#define API_NAME_MAX 256

/* "2026-11-23T09:00:00.123Z" */
static void
fmt_time(int64_t ms, char out[80])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL) {
		snprintf(out, 80, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((ms % 1000 + 1000) % 1000));
}

static void
w_id(struct json_writer *w, const char *key, uint64_t id)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
	json_w_kv_str(w, key, s);
}

static const char *
tunnel_name(const struct inspect_api_ctx *ctx, const struct capture_ex *x)
{
	return x->binding < ctx->nt ? ctx->t[x->binding].name : "";
}

/* see inspect_api.h */
void
inspect_api_canonical(const char *name, size_t n, char *out)
{
	size_t i;
	int up = 1;

	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (up && ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!up && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		out[i] = ch;
		up = ch == '-';
	}
	out[n] = '\0';
}

/* The fields h[0..n) as an object of arrays, duplicates merged under the first name, in order. */
static void
w_headers(struct json_writer *w, const struct http1_header *h, size_t n)
{
	char name[API_NAME_MAX + 1];
	size_t i, j, k;

	json_w_obj_begin(w);
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (h[j].name_len == h[i].name_len &&
			    util_mem_caseeq(h[j].name, h[i].name, h[i].name_len))
				break;
		if (j < i)
			continue; /* written with its first occurrence */
		k = UTIL_MIN(h[i].name_len, (size_t)API_NAME_MAX);
		inspect_api_canonical(h[i].name, k, name);
		json_w_keyn(w, name, k);
		json_w_arr_begin(w);
		for (j = i; j < n; j++)
			if (h[j].name_len == h[i].name_len &&
			    util_mem_caseeq(h[j].name, h[i].name, h[i].name_len))
				json_w_str(w, h[j].value, h[j].value_len);
		json_w_arr_end(w);
	}
	json_w_obj_end(w);
}

/* "raw": base64 of the head and the captured body. */
static void
w_raw(struct json_writer *w, const struct capture_part *p)
{
	size_t n = p->head_len + p->body_len;
	uint8_t *src = malloc(n + 1);
	char *txt = malloc(UTIL_BASE64_LEN(n) + 3);
	size_t k;

	json_w_key(w, "raw");
	if (src == NULL || txt == NULL) {
		free(src);
		free(txt);
		w->err = JSON_W_ERR_SPACE;
		return;
	}
	if (p->head_len > 0)
		memcpy(src, p->head, p->head_len);
	if (p->body_len > 0)
		memcpy(src + p->head_len, p->body, p->body_len);
	txt[0] = '"';
	k = util_base64_encode(txt + 1, src, n);
	txt[k + 1] = '"';
	json_w_raw(w, txt, k + 2);
	free(src);
	free(txt);
}

static void
w_body_info(struct json_writer *w, const struct capture_part *p)
{
	json_w_kv_uint(w, "body_size", p->body_size);
	json_w_kv_bool(w, "truncated", p->body_size > p->body_len || p->head_truncated);
}

/* The first line of a head cut short: its three words. */
static void
first_line(const struct capture_part *p, const char **w0, size_t *l0, const char **w1, size_t *l1,
	   const char **w2, size_t *l2)
{
	const char *s = (const char *)p->head, *end = s + p->head_len, *e;
	const char **wd[3] = { w0, w1, w2 };
	size_t *ln[3] = { l0, l1, l2 };
	int i;

	if (s != NULL && (e = memchr(s, '\r', p->head_len)) != NULL)
		end = e;
	for (i = 0; i < 3; i++) {
		const char *sp = s == NULL ? NULL : (i < 2 ? memchr(s, ' ', (size_t)(end - s)) : NULL);

		*wd[i] = s != NULL ? s : "";
		*ln[i] = s != NULL ? (size_t)((sp != NULL ? sp : end) - s) : 0;
		s = sp != NULL ? sp + 1 : end;
	}
}

static void
w_request(struct json_writer *w, const struct capture_part *p)
{
	struct http1_header hdrs[API_HEADERS_MAX];
	struct http1_limits lim = { CAPTURE_HEAD_MAX, API_HEADERS_MAX };
	struct http1_request rq;
	const char *m, *u, *v;
	size_t ml, ul, vl;

	memset(&rq, 0, sizeof(rq));
	rq.headers = hdrs;
	rq.headers_cap = API_HEADERS_MAX;
	json_w_key(w, "request");
	json_w_obj_begin(w);
	if (p->head_len > 0 &&
	    http1_parse_request((const char *)p->head, p->head_len, 0, &lim, &rq) == (ssize_t)p->head_len) {
		json_w_kv_strn(w, "method", rq.method, rq.method_len);
		json_w_kv_str(w, "proto", rq.minor_version ? "HTTP/1.1" : "HTTP/1.0");
		json_w_key(w, "headers");
		w_headers(w, rq.headers, rq.num_headers);
		json_w_kv_strn(w, "uri", rq.target, rq.target_len);
	} else {
		first_line(p, &m, &ml, &u, &ul, &v, &vl);
		json_w_kv_strn(w, "method", m, ml);
		json_w_kv_strn(w, "proto", v, vl);
		json_w_key(w, "headers");
		json_w_obj_begin(w);
		json_w_obj_end(w);
		json_w_kv_strn(w, "uri", u, ul);
	}
	w_raw(w, p);
	w_body_info(w, p);
	json_w_obj_end(w);
}

static void
w_response(struct json_writer *w, const struct capture_ex *x)
{
	const struct capture_part *p = &x->resp;
	struct http1_header hdrs[API_HEADERS_MAX];
	struct http1_limits lim = { CAPTURE_HEAD_MAX, API_HEADERS_MAX };
	struct http1_response rs;
	char status[96];
	int parsed;

	json_w_key(w, "response");
	if (p->head_len == 0) {
		json_w_null(w);
		return;
	}
	memset(&rs, 0, sizeof(rs));
	rs.headers = hdrs;
	rs.headers_cap = API_HEADERS_MAX;
	parsed = http1_parse_response((const char *)p->head, p->head_len, 0, &lim, &rs) ==
		 (ssize_t)p->head_len;
	json_w_obj_begin(w);
	if (parsed)
		snprintf(status, sizeof(status), "%d %.*s", rs.status,
			 (int)UTIL_MIN(rs.reason_len, (size_t)80), rs.reason);
	else
		snprintf(status, sizeof(status), "%d", x->status);
	json_w_kv_str(w, "status", status);
	json_w_kv_int(w, "status_code", parsed ? rs.status : x->status);
	json_w_kv_str(w, "proto", !parsed || rs.minor_version ? "HTTP/1.1" : "HTTP/1.0");
	json_w_key(w, "headers");
	if (parsed) {
		w_headers(w, rs.headers, rs.num_headers);
	} else {
		json_w_obj_begin(w);
		json_w_obj_end(w);
	}
	w_raw(w, p);
	w_body_info(w, p);
	json_w_obj_end(w);
}

static void
w_common(struct json_writer *w, const struct inspect_api_ctx *ctx, const struct capture_ex *x)
{
	char t[80];

	w_id(w, "id", x->id);
	json_w_kv_str(w, "tunnel_name", tunnel_name(ctx, x));
	fmt_time(x->start_wall_ms, t);
	json_w_kv_str(w, "start", t);
	json_w_kv_uint(w, "duration", x->duration_us * 1000u);
	if (x->replay_of != 0)
		w_id(w, "replay_of", x->replay_of);
	else
		json_w_kv_null(w, "replay_of");
	if (x->why[0])
		json_w_kv_str(w, "error", x->why);
	else
		json_w_kv_null(w, "error");
}

static void
w_exchange(struct json_writer *w, const struct inspect_api_ctx *ctx, const struct capture_ex *x)
{
	char uri[64];

	json_w_obj_begin(w);
	w_common(w, ctx, x);
	snprintf(uri, sizeof(uri), "/api/requests/http/%llu", (unsigned long long)x->id);
	json_w_kv_str(w, "uri", uri);
	json_w_kv_str(w, "remote_addr", x->remote);
	w_request(w, &x->req);
	w_response(w, x);
	json_w_obj_end(w);
}

static int
finish(const struct json_writer *w)
{
	return json_w_finish(w) == 0 ? 0 : -ENOMEM;
}

/* see inspect_api.h */
int
inspect_api_tunnels(const struct inspect_api_ctx *ctx, struct buf *out)
{
	struct json_writer w;
	size_t i;

	json_w_init(&w, out, INSPECT_API_OUT_MAX);
	json_w_obj_begin(&w);
	json_w_key(&w, "tunnels");
	json_w_arr_begin(&w);
	for (i = 0; i < ctx->nt; i++) {
		json_w_obj_begin(&w);
		json_w_kv_str(&w, "name", ctx->t[i].name);
		json_w_kv_str(&w, "uri", "/api/tunnels");
		json_w_kv_str(&w, "public_url", ctx->t[i].public_url);
		json_w_kv_str(&w, "proto", ctx->t[i].proto);
		json_w_key(&w, "config");
		json_w_obj_begin(&w);
		json_w_kv_str(&w, "addr", ctx->t[i].addr);
		json_w_kv_bool(&w, "inspect", ctx->cap != NULL);
		json_w_obj_end(&w);
		json_w_obj_end(&w);
	}
	json_w_arr_end(&w);
	json_w_kv_str(&w, "uri", "/api/tunnels");
	json_w_obj_end(&w);
	return finish(&w);
}

/* see inspect_api.h */
int
inspect_api_requests(const struct inspect_api_ctx *ctx, size_t limit, const char *tunnel_name_only,
		     struct buf *out)
{
	const struct capture_ex *x = NULL;
	struct json_writer w;
	size_t k = 0;

	json_w_init(&w, out, INSPECT_API_OUT_MAX);
	json_w_obj_begin(&w);
	json_w_key(&w, "requests");
	json_w_arr_begin(&w);
	while (ctx->cap != NULL && (limit == 0 || k < limit) && (x = capture_next(ctx->cap, x)) != NULL) {
		if (tunnel_name_only != NULL && strcmp(tunnel_name(ctx, x), tunnel_name_only) != 0)
			continue;
		w_exchange(&w, ctx, x);
		k++;
	}
	json_w_arr_end(&w);
	json_w_kv_str(&w, "uri", "/api/requests/http");
	json_w_obj_end(&w);
	return finish(&w);
}

/* see inspect_api.h */
int
inspect_api_request(const struct inspect_api_ctx *ctx, const struct capture_ex *x, struct buf *out)
{
	struct json_writer w;

	json_w_init(&w, out, INSPECT_API_OUT_MAX);
	w_exchange(&w, ctx, x);
	return finish(&w);
}

/* see inspect_api.h */
int
inspect_api_summary(const struct inspect_api_ctx *ctx, const struct capture_ex *x, struct buf *out)
{
	const char *m, *u, *v;
	size_t ml, ul, vl;
	struct json_writer w;

	first_line(&x->req, &m, &ml, &u, &ul, &v, &vl);
	json_w_init(&w, out, INSPECT_API_OUT_MAX);
	json_w_obj_begin(&w);
	w_common(&w, ctx, x);
	json_w_kv_strn(&w, "method", m, ml);
	json_w_kv_strn(&w, "uri", u, ul);
	json_w_kv_int(&w, "status_code", x->status);
	json_w_kv_uint(&w, "size", x->resp.body_size);
	json_w_obj_end(&w);
	return finish(&w);
}

/* see inspect_api.h */
int
inspect_api_parse_id(const char *s, size_t n, uint64_t *id)
{
	uint64_t v;

	if (util_parse_uintn(s, n, UINT64_MAX, &v) < 0 || v == 0)
		return -1;
	*id = v;
	return 0;
}

/* see inspect_api.h */
int
inspect_api_parse_replay(const char *body, size_t n, uint64_t *id)
{
	struct json_tok toks[64];
	struct json_doc doc;
	char s[24];
	int64_t v;
	ssize_t k;
	int t;

	memset(&doc, 0, sizeof(doc));
	if (json_parse(&doc, body, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT)
		return -1;
	t = json_get(&doc, 0, "id");
	if (json_type(&doc, t) == JSON_NUMBER)
		return json_get_int(&doc, t, &v) == JSON_GET_OK && v > 0 ? (*id = (uint64_t)v, 0) : -1;
	k = json_get_string(&doc, t, s, sizeof(s));
	return k < 0 ? -1 : inspect_api_parse_id(s, (size_t)k, id);
}
