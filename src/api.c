/*
 * api.c: the admin API and probes (see api.h and DESIGN.md for the shapes).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "clock.h"
#include "json.h"
#include "session.h"
#include "util.h"

#define PREFIX "/api/v1/tunnel"

/* The path of a target (without the query) and its query string. */
struct target {
	const char *path;
	size_t path_len;
	const char *query;
	size_t query_len;
};

static void
split_target(const struct http1_request *rq, struct target *t)
{
	const char *q = memchr(rq->target, '?', rq->target_len);

	t->path = rq->target;
	t->path_len = q ? (size_t)(q - rq->target) : rq->target_len;
	t->query = q ? q + 1 : "";
	t->query_len = q ? rq->target_len - t->path_len - 1 : 0;
}

static int
path_is(const struct target *t, const char *p)
{
	return t->path_len == strlen(p) && memcmp(t->path, p, t->path_len) == 0;
}

static int
method_is(const struct http1_request *rq, const char *m)
{
	return rq->method_len == strlen(m) && memcmp(rq->method, m, rq->method_len) == 0;
}

static void
json_error(struct api_response *res, int status, const char *msg)
{
	struct json_writer w;

	res->status = status;
	buf_reset(res->body, 0);
	json_w_init(&w, res->body, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "error", msg);
	json_w_obj_end(&w);
	json_w_finish(&w);
}

/* ---- GET handlers ------------------------------------------------------ */

static void
get_health(struct daemon *d, struct json_writer *w)
{
	char started[CLOCK_RFC3339_SIZE];

	clock_rfc3339(started, (int64_t)d->started_wall_ms);
	json_w_obj_begin(w);
	json_w_kv_str(w, "status", "ok");
	json_w_kv_str(w, "service", "hoody-tunnel");
	json_w_kv_str(w, "version", HT_VERSION);
	json_w_kv_str(w, "started", started);
	json_w_kv_int(w, "pid", (int64_t)getpid());
	json_w_kv_int(w, "fds", metrics_open_fds());
	json_w_key(w, "memory");
	json_w_obj_begin(w);
	json_w_kv_int(w, "rss", metrics_rss_bytes());
	json_w_obj_end(w);
	json_w_obj_end(w);
}

static void
ports_of(struct json_writer *w, const char *key, const struct session *s, enum bind_kind kind)
{
	const struct binding *b;

	json_w_key(w, key);
	json_w_arr_begin(w);
	for (b = s->binds.first; b != NULL; b = b->snext) {
		if (b->kind != kind)
			continue;
		json_w_obj_begin(w);
		json_w_kv_uint(w, "bindId", b->id);
		json_w_kv_int(w, "containerPort", b->port);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
}

static int
listed(const struct session *s)
{
	return s->state != SESSION_CLOSING;
}

static void
get_tunnels(struct daemon *d, struct json_writer *w)
{
	const struct session *s;
	uint64_t streams = 0;

	json_w_obj_begin(w);
	json_w_key(w, "sessions");
	json_w_arr_begin(w);
	for (s = d->sessions; s != NULL; s = s->next) {
		if (!listed(s))
			continue;
		streams += s->mux.streams.count;
		json_w_obj_begin(w);
		json_w_kv_str(w, "sessionId", s->id);
		json_w_kv_str(w, "peerAddr", s->peer);
		json_w_kv_str(w, "protocol", s->v2 ? "v2" : "v1");
		json_w_kv_uint(w, "connectionsGranted", s->granted);
		json_w_kv_uint(w, "activeStreams", s->mux.streams.count);
		ports_of(w, "exposeBindings", s, BIND_EXPOSE);
		ports_of(w, "pullBindings", s, BIND_PULL);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_kv_uint(w, "orphanedSessions", d->norphans);
	json_w_kv_uint(w, "totalStreams", streams);
	json_w_kv_uint(w, "totalBindings", d->nbinds);
	json_w_kv_uint(w, "fdPermitsAvailable", fdbudget_available(&d->fds));
	json_w_obj_end(w);
}

static void
binding_fields(struct json_writer *w, const struct binding *b)
{
	json_w_kv_uint(w, "bindId", b->id);
	json_w_kv_str(w, "kind", bind_kind_name(b->kind));
	json_w_kv_str(w, "mode", bind_mode_name(b->kind));
}

static void
get_sessions(struct daemon *d, struct json_writer *w)
{
	const struct session *s;
	const struct binding *b;
	unsigned total = 0;

	json_w_obj_begin(w);
	json_w_key(w, "sessions");
	json_w_arr_begin(w);
	for (s = d->sessions; s != NULL; s = s->next) {
		if (!listed(s))
			continue;
		total++;
		json_w_obj_begin(w);
		json_w_kv_str(w, "sessionId", s->id);
		json_w_kv_str(w, "peerAddr", s->peer);
		json_w_kv_bool(w, "isV2", s->v2);
		json_w_kv_uint(w, "connectionsGranted", s->granted);
		json_w_kv_uint(w, "activeStreams", s->mux.streams.count);
		json_w_kv_uint(w, "maxStreams", d->cfg->max_streams_per_session);
		json_w_key(w, "bindings");
		json_w_arr_begin(w);
		for (b = s->binds.first; b != NULL; b = b->snext) {
			json_w_obj_begin(w);
			binding_fields(w, b);
			json_w_kv_int(w, "containerPort", b->port);
			json_w_obj_end(w);
		}
		json_w_arr_end(w);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_kv_uint(w, "total", total);
	json_w_obj_end(w);
}

static void
get_bindings(struct daemon *d, struct json_writer *w)
{
	const struct binding *b;

	json_w_obj_begin(w);
	json_w_key(w, "bindings");
	json_w_arr_begin(w);
	for (b = d->binds; b != NULL; b = b->dnext) {
		json_w_obj_begin(w);
		json_w_kv_str(w, "sessionId", b->s->id);
		binding_fields(w, b);
		json_w_kv_int(w, "port", b->port);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_kv_uint(w, "total", d->nbinds);
	json_w_obj_end(w);
}

static void
get_metrics(struct daemon *d, struct api_response *res)
{
	struct metrics_gauges g;
	struct metrics m = d->metrics;
	const struct session *s;

	/* closed sessions were added when they ended; add the live ones */
	for (s = d->sessions; s != NULL; s = s->next)
		session_add_traffic(s, &m);
	session_gauges(d, &g);
	buf_reset(res->body, 0);
	res->content_type = METRICS_CONTENT_TYPE;
	if (metrics_render(&m, &g, res->body) < 0)
		json_error(res, 500, "out of memory");
}

/* ---- DELETE session ---------------------------------------------------- */

/* grace_ms from the query: 0..5000, default 50; -1 when invalid. */
static int64_t
grace_of(const struct target *t, uint64_t dflt)
{
	const char *q = t->query, *end = t->query + t->query_len;
	char num[16];

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q)), *stop = amp ? amp : end;
		uint64_t v;

		if ((size_t)(stop - q) > 9 && memcmp(q, "grace_ms=", 9) == 0) {
			size_t n = (size_t)(stop - q) - 9;

			if (n >= sizeof(num))
				return -1;
			memcpy(num, q + 9, n);
			num[n] = '\0';
			if (util_parse_uint(num, 5000, &v) < 0)
				return -1;
			return (int64_t)v;
		}
		if ((size_t)(stop - q) == 9 && memcmp(q, "grace_ms=", 9) == 0)
			return -1;
		q = stop + 1;
	}
	return (int64_t)dflt;
}

static void
delete_session(struct daemon *d, const struct target *t, struct api_response *res)
{
	static const char pfx[] = PREFIX "/sessions/";
	char id[SESSION_ID_LEN + 8];
	size_t n = t->path_len - (sizeof(pfx) - 1);
	struct session *s;
	struct json_writer w;
	int64_t grace = grace_of(t, d->cfg->kill_grace_default_ms);

	if (grace < 0) {
		json_error(res, 400, "grace_ms must be an integer in 0..5000");
		return;
	}
	if (n == 0 || n >= sizeof(id)) {
		json_error(res, 404, "no such session");
		return;
	}
	memcpy(id, t->path + sizeof(pfx) - 1, n);
	id[n] = '\0';
	s = session_find(d, id);
	if (s == NULL || s->state == SESSION_CLOSING) {
		json_error(res, 404, "no such session");
		return;
	}
	session_kill(s, (uint64_t)grace);
	res->status = 202;
	json_w_init(&w, res->body, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "sessionId", id);
	json_w_kv_str(&w, "status", "closing");
	json_w_obj_end(&w);
	json_w_finish(&w);
}

/* ---- routing ----------------------------------------------------------- */

static int
authorized(struct daemon *d, const struct http1_request *rq)
{
	const struct http1_header *h = http1_find_header(rq->headers, rq->num_headers, "Authorization");
	const char *tok = d->admin_token ? d->admin_token : d->token;

	return h != NULL && auth_bearer_check(h->value, h->value_len, tok) == 1;
}

static void
probe(struct daemon *d, const struct target *t, struct api_response *res)
{
	int ready = d->ctl.fd >= 0 && !fdbudget_exhausted(&d->fds) && !d->draining;
	int live = path_is(t, "/healthz/live");

	res->status = live || ready ? 200 : 503;
	res->content_type = "text/plain; charset=utf-8";
	buf_append(res->body, live ? "live\n" : ready ? "ready\n" : "not ready\n",
		   live ? 5 : ready ? 6 : 10);
}

typedef void get_fn(struct daemon *d, struct json_writer *w);

static get_fn *
get_route(const struct target *t)
{
	if (path_is(t, PREFIX "/health"))
		return get_health;
	if (path_is(t, PREFIX "/tunnels"))
		return get_tunnels;
	if (path_is(t, PREFIX "/sessions"))
		return get_sessions;
	if (path_is(t, PREFIX "/bindings"))
		return get_bindings;
	return NULL;
}

/* see api.h */
void
api_handle(struct daemon *d, const struct http1_request *rq, struct api_response *res)
{
	struct target t;
	get_fn *fn;
	int get = method_is(rq, "GET") || method_is(rq, "HEAD");
	int is_delete, sess_path;

	split_target(rq, &t);
	buf_reset(res->body, 0);
	res->status = 200;
	res->content_type = "application/json";
	res->extra_headers = NULL;
	if (path_is(&t, "/healthz/live") || path_is(&t, "/healthz/ready")) {
		if (!get) {
			json_error(res, 405, "method not allowed");
			res->extra_headers = "Allow: GET, HEAD\r\n";
			return;
		}
		probe(d, &t, res);
		return;
	}
	fn = get_route(&t);
	sess_path = t.path_len > sizeof(PREFIX "/sessions/") - 1 &&
		    memcmp(t.path, PREFIX "/sessions/", sizeof(PREFIX "/sessions/") - 1) == 0 &&
		    memchr(t.path + sizeof(PREFIX "/sessions/") - 1, '/',
			   t.path_len - (sizeof(PREFIX "/sessions/") - 1)) == NULL;
	is_delete = method_is(rq, "DELETE");
	if (fn == NULL && !path_is(&t, PREFIX "/metrics") && !sess_path) {
		json_error(res, 404, "not found");
		return;
	}
	if ((is_delete && sess_path) || d->cfg->admin_auth == CONFIG_ADMIN_AUTH_ALL) {
		if (!authorized(d, rq)) {
			json_error(res, 401, "missing or wrong bearer token");
			res->extra_headers = "WWW-Authenticate: Bearer\r\n";
			return;
		}
	}
	if (sess_path) {
		if (!is_delete) {
			json_error(res, 405, "method not allowed");
			res->extra_headers = "Allow: DELETE\r\n";
			return;
		}
		delete_session(d, &t, res);
		return;
	}
	if (!get) {
		json_error(res, 405, "method not allowed");
		res->extra_headers = "Allow: GET, HEAD\r\n";
		return;
	}
	if (fn == NULL) {
		get_metrics(d, res);
		return;
	}
	{
		struct json_writer w;

		json_w_init(&w, res->body, 0);
		fn(d, &w);
		if (json_w_finish(&w) != 0)
			json_error(res, 500, "out of memory");
	}
}
