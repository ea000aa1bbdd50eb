/*
 * api.c: the admin API and probes (see api.h and DESIGN.md for the shapes).
 *
 * One table (`routes`) names every path, the one method it serves (GET
 * serves HEAD too), what that method does for the token rule (auth.h:
 * open, read, write) and its handler. A request is answered in this order:
 * no route, 404; a token needed and missing or wrong, 401; another method,
 * 405 with Allow; else the handler. Another method on a write route is a
 * read: it changes nothing, but says the route exists.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "clock.h"
#include "forwarded.h"
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
	const char *id; /* a route with an id: the part of the path after its prefix */
	size_t id_len;
};

static void
split_target(const struct http1_request *rq, struct target *t)
{
	const char *q = memchr(rq->target, '?', rq->target_len);

	t->path = rq->target;
	t->path_len = q ? (size_t)(q - rq->target) : rq->target_len;
	t->query = q ? q + 1 : "";
	t->query_len = q ? rq->target_len - t->path_len - 1 : 0;
	t->id = NULL;
	t->id_len = 0;
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

/* A JSON GET: writes the whole body into w. */
typedef void get_fn(struct daemon *d, struct json_writer *w);

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

/* The port under key (null for a host route), the subdomain (null for a port) and the mode. */
static void
route_fields(struct json_writer *w, const char *key, const struct binding *b)
{
	const struct bind_route *rt = b->route;

	if (rt->port != 0)
		json_w_kv_int(w, key, rt->port);
	else
		json_w_kv_null(w, key);
	if (rt->port == 0)
		json_w_kv_str(w, "subdomain", rt->name);
	else
		json_w_kv_null(w, "subdomain");
	json_w_kv_bool(w, "cluster", rt->cluster);
	if (b->public_url[0])
		json_w_kv_str(w, "publicUrl", b->public_url);
	else
		json_w_kv_null(w, "publicUrl");
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
		route_fields(w, "containerPort", b);
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
		json_w_kv_bool(w, "forward", s->forward);
		json_w_kv_uint(w, "forwardStreams", s->forwards);
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
		json_w_kv_bool(w, "forward", s->forward);
		json_w_kv_uint(w, "forwardStreams", s->forwards);
		json_w_key(w, "bindings");
		json_w_arr_begin(w);
		for (b = s->binds.first; b != NULL; b = b->snext) {
			json_w_obj_begin(w);
			binding_fields(w, b);
			route_fields(w, "containerPort", b);
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
		route_fields(w, "port", b);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_kv_uint(w, "total", d->nbinds);
	json_w_obj_end(w);
}

static void
get_metrics(struct daemon *d, const struct target *t, struct api_response *res)
{
	struct metrics_gauges g;
	struct metrics m = d->metrics;
	const struct session *s;

	(void)t;
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
	char id[SESSION_ID_LEN + 8];
	struct session *s;
	struct json_writer w;
	int64_t grace = grace_of(t, d->cfg->kill_grace_default_ms);

	if (grace < 0) {
		json_error(res, 400, "grace_ms must be an integer in 0..5000");
		return;
	}
	if (t->id_len == 0 || t->id_len >= sizeof(id)) {
		json_error(res, 404, "no such session");
		return;
	}
	memcpy(id, t->id, t->id_len);
	id[t->id_len] = '\0';
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

static void
probe(struct daemon *d, const struct target *t, struct api_response *res)
{
	int ready = d->ctl.fd >= 0 && !fdbudget_exhausted(&d->fds) && d->phase == DAEMON_RUNNING;
	int live = path_is(t, "/healthz/live");

	res->status = live || ready ? 200 : 503;
	res->content_type = "text/plain; charset=utf-8";
	buf_append(res->body, live ? "live\n" : ready ? "ready\n" : "not ready\n", live ? 5 : ready ? 6 : 10);
}

struct route {
	const char *path; /* the whole path, or the part before {id} */
	size_t path_len;
	int with_id;           /* path + a non-empty id without '/' */
	const char *method;    /* the one method served ("GET" serves HEAD too) */
	const char *allow;     /* the Allow header of a 405 */
	enum auth_admin_op op; /* what the route's method does (another method: AUTH_OP_READ) */
	get_fn *json;          /* a JSON GET: writes the body, or ... */
	void (*handle)(struct daemon *d, const struct target *t,
		       struct api_response *res); /* ... fills res */
};

#define ROUTE_PATH(p) p, sizeof(p) - 1
#define ALLOW_GET "Allow: GET, HEAD\r\n"

static const struct route routes[] = {
	{ ROUTE_PATH("/healthz/live"), 0, "GET", ALLOW_GET, AUTH_OP_OPEN, NULL, probe },
	{ ROUTE_PATH("/healthz/ready"), 0, "GET", ALLOW_GET, AUTH_OP_OPEN, NULL, probe },
	{ ROUTE_PATH(PREFIX "/health"), 0, "GET", ALLOW_GET, AUTH_OP_OPEN, get_health, NULL },
	{ ROUTE_PATH(PREFIX "/tunnels"), 0, "GET", ALLOW_GET, AUTH_OP_READ, get_tunnels, NULL },
	{ ROUTE_PATH(PREFIX "/sessions"), 0, "GET", ALLOW_GET, AUTH_OP_READ, get_sessions, NULL },
	{ ROUTE_PATH(PREFIX "/bindings"), 0, "GET", ALLOW_GET, AUTH_OP_READ, get_bindings, NULL },
	{ ROUTE_PATH(PREFIX "/metrics"), 0, "GET", ALLOW_GET, AUTH_OP_READ, NULL, get_metrics },
	/* where Prometheus looks by default; a routed host's /metrics is its tunnel's (ctl.c) */
	{ ROUTE_PATH("/metrics"), 0, "GET", ALLOW_GET, AUTH_OP_READ, NULL, get_metrics },
	{ ROUTE_PATH(PREFIX "/sessions/"), 1, "DELETE", "Allow: DELETE\r\n", AUTH_OP_WRITE, NULL,
	  delete_session },
};

/* The route of t's path, with t->id set for a route with an id; NULL: 404. */
static const struct route *
route_find(struct target *t)
{
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(routes); i++) {
		const struct route *r = &routes[i];

		if (!r->with_id) {
			if (t->path_len == r->path_len && memcmp(t->path, r->path, r->path_len) == 0)
				return r;
			continue;
		}
		if (t->path_len > r->path_len && memcmp(t->path, r->path, r->path_len) == 0 &&
		    memchr(t->path + r->path_len, '/', t->path_len - r->path_len) == NULL) {
			t->id = t->path + r->path_len;
			t->id_len = t->path_len - r->path_len;
			return r;
		}
	}
	return NULL;
}

static int
method_allowed(const struct route *r, const struct http1_request *rq)
{
	return method_is(rq, r->method) || (strcmp(r->method, "GET") == 0 && method_is(rq, "HEAD"));
}

/* --admin-auth's verdict on the request: 1 answer it, 0 answer 401. */
static int
authorized(struct daemon *d, const struct route *r, const struct http1_request *rq,
	   const struct sockaddr *peer)
{
	const struct http1_header *h = http1_find_header(rq->headers, rq->num_headers, "Authorization");
	const char *tok = d->admin_token ? d->admin_token : d->token;
	enum auth_admin_op op = r->op == AUTH_OP_WRITE && !method_is(rq, r->method) ? AUTH_OP_READ : r->op;
	int local = forwarded_local(&d->fwd, peer, rq->headers, rq->num_headers);

	return auth_admin_check(d->cfg->admin_auth, local, op, h ? h->value : NULL, h ? h->value_len : 0,
				tok);
}

/* see api.h */
void
api_handle(struct daemon *d, const struct http1_request *rq, const struct sockaddr *peer,
	   struct api_response *res)
{
	const struct route *r;
	struct json_writer w;
	struct target t;

	split_target(rq, &t);
	buf_reset(res->body, 0);
	res->status = 200;
	res->content_type = "application/json";
	res->extra_headers = NULL;
	r = route_find(&t);
	if (r == NULL) {
		json_error(res, 404, "not found");
		return;
	}
	if (!authorized(d, r, rq, peer)) {
		json_error(res, 401, "missing or wrong bearer token");
		res->extra_headers = "WWW-Authenticate: Bearer realm=\"hoody-tunnel\"\r\n";
		return;
	}
	if (!method_allowed(r, rq)) {
		json_error(res, 405, "method not allowed");
		res->extra_headers = r->allow;
		return;
	}
	if (r->handle != NULL) {
		r->handle(d, &t, res);
		return;
	}
	json_w_init(&w, res->body, 0);
	r->json(d, &w);
	if (json_w_finish(&w) != 0)
		json_error(res, 500, "out of memory");
}
