/*
 * inspect.c: the inspector's HTTP/1.1 server (see inspect.h).
 *
 * One struct inspect_conn per connection, in one of enum
 * inspect_conn_state (changed by ic_set_state only): reading a request
 * (head, then a bounded body), writing the answer (then the next request:
 * keep-alive, pipelined requests answered in order), or streaming events.
 * Answers are built whole into the connection's out buffer and written
 * with send(); what the socket does not take waits for writability.
 * Connections are freed from a deferred callback (the reactor's close
 * rule).
 *
 * The routes are a flat function (route); the JSON is inspect_api.c's,
 * the page inspect_page.c's, replay replay.c's.
 */
#include "inspect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http1.h"
#include "inspect_page.h"
#include "util.h"

#define INSPECT_ACCEPTS 16 /* per readable event of the listener */
#define INSPECT_ROUNDS 8   /* requests answered per event */
#define INSPECT_READ 16384 /* bytes per recv */
#define INSPECT_HEADERS 64

enum inspect_conn_state {
	INSPECT_READ_HEAD, /* reading a request head */
	INSPECT_READ_BODY, /* the head asked for a body: waiting for all of it */
	INSPECT_WRITE,     /* writing an answer; then the next request, or close */
	INSPECT_EVENTS,    /* an event stream: events are appended as they come */
	INSPECT_CLOSED,    /* waiting to be freed */
	INSPECT_CONN_STATE_MAX
};

struct inspect_conn {
	struct inspect *in;
	struct inspect_conn *prev, *next;
	enum inspect_conn_state state;
	int fd;
	int keep_alive;
	struct reactor_watcher w;
	struct reactor_timer idle;
	struct reactor_deferred defer;
	struct buf rd, wr;
	size_t scanned;  /* head bytes already searched for its end */
	size_t head_len; /* of the request being read, once known */
	size_t body_len;
};

/* The request being answered, as route() sees it. */
struct inspect_req {
	const struct http1_request *h;
	const char *path;
	size_t path_len;
	const char *query;
	size_t query_len;
	const char *body;
	size_t body_len;
};

/* An answer: status, type and body (in the connection's scratch buf). */
struct inspect_ans {
	int status;
	const char *type;
	const void *body;
	size_t len;
	int html;   /* add the page's Content-Security-Policy */
	int events; /* start an event stream */
};

static void ic_close(struct inspect_conn *k);
static void ic_update(struct inspect_conn *k);
static void ic_process(struct inspect_conn *k);

static void
ic_set_state(struct inspect_conn *k, enum inspect_conn_state st)
{
	k->state = st < INSPECT_CONN_STATE_MAX ? st : INSPECT_CLOSED;
}

/* ---- Host and Origin ------------------------------------------------------ */

/* 1 when p[0..n) is an IPv4 dotted quad or "[IPv6]", or "localhost". */
static int
host_is_literal(const char *p, size_t n)
{
	size_t i;
	int dots = 0;

	if (util_strcaseeq(p, n, "localhost"))
		return 1;
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		for (i = 1; i + 1 < n; i++)
			if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
			      (p[i] >= 'A' && p[i] <= 'F') || p[i] == ':' || p[i] == '.'))
				return 0;
		return n > 2;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '.')
			dots++;
		else if (p[i] < '0' || p[i] > '9')
			return 0;
	}
	return n > 0 && dots == 3;
}

/* see inspect.h */
int
inspect_host_ok(const char *h, size_t n, int port)
{
	const char *colon = NULL;
	uint64_t p;
	size_t i;
	char digits[8];

	for (i = n; i > 0; i--)
		if (h[i - 1] == ':' || h[i - 1] == ']') {
			colon = h[i - 1] == ':' ? h + i - 1 : NULL;
			break;
		}
	if (colon == NULL) /* no port: 80 */
		return port == 80 && host_is_literal(h, n);
	i = (size_t)(h + n - colon - 1);
	if (i == 0 || i >= sizeof(digits))
		return 0;
	memcpy(digits, colon + 1, i);
	digits[i] = '\0';
	if (util_parse_uint(digits, 65535, &p) < 0 || (int)p != port)
		return 0;
	return host_is_literal(h, (size_t)(colon - h));
}

/* see inspect.h */
int
inspect_origin_ok(const char *o, size_t n, const char *h, size_t hn)
{
	return n == 7 + hn && util_mem_caseeq(o, "http://", 7) && util_mem_caseeq(o + 7, h, hn);
}

/* 1 when the request's Content-Type is application/json (parameters allowed). */
static int
is_json(const struct http1_request *h)
{
	const struct http1_header *ct = http1_find_header(h->headers, h->num_headers, "content-type");
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	return ct != NULL && ct->value_len >= n && util_mem_caseeq(ct->value, want, n) &&
	       (ct->value_len == n || ct->value[n] == ';' || ct->value[n] == ' ');
}

/* State-changing requests: JSON, and no foreign Origin. */
static int
may_change(const struct http1_request *h)
{
	const struct http1_header *o = http1_find_header(h->headers, h->num_headers, "origin");

	if (!is_json(h))
		return 0;
	return o == NULL || inspect_origin_ok(o->value, o->value_len, h->host, h->host_len);
}

/* ---- answers -------------------------------------------------------------- */

static void
ans_error(struct inspect_ans *a, struct buf *scratch, int status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"status_code\":%d,\"msg\":\"%s\"}\n", status, msg);

	buf_reset(scratch, 0);
	if (n > 0 && buf_reserve(scratch, (size_t)n, 0, 0) == 0)
		buf_append(scratch, body, (size_t)n);
	a->status = status;
	a->type = "application/json";
	a->body = scratch->pos;
	a->len = buf_len(scratch);
}

static void
ans_json(struct inspect_ans *a, struct buf *scratch, int rc)
{
	if (rc < 0) {
		ans_error(a, scratch, 503, "out of memory");
		return;
	}
	a->status = 200;
	a->type = "application/json";
	a->body = scratch->pos;
	a->len = buf_len(scratch);
}

/* Append s to head[0..*n) of cap bytes; 0, or -1 when it does not fit. */
static int
head_add(char *head, size_t cap, size_t *n, const char *s)
{
	size_t k = strlen(s);

	if (*n + k >= cap)
		return -1;
	memcpy(head + *n, s, k);
	*n += k;
	return 0;
}

static const char common_fields[] = "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
				    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n";
static const char page_csp[] =
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'\r\n";

/* Append the answer's head and body to k->wr. 0 or -1. */
static int
put_answer(struct inspect_conn *k, const struct inspect_ans *a)
{
	char head[1024], line[HTTP1_STATUS_LINE_MAX + 1], f[160];
	size_t n = 0, ln = http1_write_status_line(line, sizeof(line) - 1, a->status);
	int bad;

	line[ln] = '\0';
	snprintf(f, sizeof(f), "Content-Type: %s\r\n", a->type);
	bad = head_add(head, sizeof(head), &n, line) | head_add(head, sizeof(head), &n, f);
	if (!a->events && a->status != 204) {
		snprintf(f, sizeof(f), "Content-Length: %zu\r\n", a->len);
		bad |= head_add(head, sizeof(head), &n, f);
	}
	bad |= head_add(head, sizeof(head), &n, common_fields);
	if (a->html)
		bad |= head_add(head, sizeof(head), &n, page_csp);
	if (!a->events && !k->keep_alive)
		bad |= head_add(head, sizeof(head), &n, "Connection: close\r\n");
	bad |= head_add(head, sizeof(head), &n, "\r\n");
	if (bad || buf_reserve(&k->wr, n + a->len, 0, 0) < 0)
		return -1;
	buf_append(&k->wr, head, n);
	if (a->len > 0)
		buf_append(&k->wr, a->body, a->len);
	return 0;
}

/* ---- the API -------------------------------------------------------------- */

/* The tunnels as they are now (public URLs come with BIND_OK). */
static void
refresh_tunnels(struct inspect *in, struct inspect_api_ctx *ctx)
{
	unsigned i;

	for (i = 0; i < in->c->nbinds && i < CLIENT_MAX_BINDINGS; i++) {
		const struct client_binding *b = &in->c->binds[i];
		struct inspect_api_tunnel *t = &in->t[i];
		char local[URL_HOST_MAX + 16];

		if (b->kind != CLIENT_EXPOSE) {
			memset(t, 0, sizeof(*t));
			continue;
		}
		if (b->host_route)
			snprintf(in->names[i], sizeof(in->names[i]), "%s",
				 b->route[0] ? b->route : b->subdomain);
		else
			snprintf(in->names[i], sizeof(in->names[i]), "%u",
				 b->port ? b->port : b->container_port);
		if (url_local_format(&b->local, local, sizeof(local)) < 0)
			local[0] = '\0';
		snprintf(in->addrs[i], sizeof(in->addrs[i]), "http://%s", local);
		t->name = in->names[i];
		t->public_url = b->public_url;
		t->proto = strncmp(b->public_url, "https:", 6) == 0 ? "https" : "http";
		t->addr = in->addrs[i];
	}
	ctx->cap = in->cap;
	ctx->t = in->t;
	ctx->nt = i;
}

/* The value of query parameter name in q[0..n), %-decoded into out. 1 found, 0 not. */
static int
query_get(const char *q, size_t n, const char *name, char *out, size_t cap)
{
	const char *item;
	size_t len, nl = strlen(name), i, o;

	while (n > 0) {
		const char *amp = memchr(q, '&', n);

		item = q;
		len = amp ? (size_t)(amp - q) : n;
		q += len + (amp != NULL);
		n -= len + (amp != NULL);
		if (len < nl + 1 || memcmp(item, name, nl) != 0 || item[nl] != '=')
			continue;
		for (i = nl + 1, o = 0; i < len && o + 1 < cap; i++) {
			unsigned hi, lo;

			if (item[i] == '%' && i + 2 < len && sscanf(item + i + 1, "%1x%1x", &hi, &lo) == 2) {
				out[o++] = (char)(hi * 16 + lo);
				i += 2;
			} else {
				out[o++] = item[i] == '+' ? ' ' : item[i];
			}
		}
		out[o] = '\0';
		return 1;
	}
	return 0;
}

static void
route_list(struct inspect *in, const struct inspect_req *rq, struct inspect_ans *a, struct buf *scratch)
{
	struct inspect_api_ctx ctx;
	char lim[24], name[URL_SUBDOMAIN_MAX + 8];
	uint64_t limit = 0;
	int has_name = query_get(rq->query, rq->query_len, "tunnel_name", name, sizeof(name));

	if (query_get(rq->query, rq->query_len, "limit", lim, sizeof(lim)) &&
	    util_parse_uint(lim, CAPTURE_REQUESTS_MAX, &limit) < 0) {
		ans_error(a, scratch, 400, "limit must be a number");
		return;
	}
	refresh_tunnels(in, &ctx);
	ans_json(a, scratch, inspect_api_requests(&ctx, (size_t)limit, has_name ? name : NULL, scratch));
}

static void
route_replay(struct inspect *in, const struct inspect_req *rq, struct inspect_ans *a, struct buf *scratch)
{
	const struct capture_ex *x;
	uint64_t id;
	int64_t rc;

	if (inspect_api_parse_replay(rq->body, rq->body_len, &id) < 0) {
		ans_error(a, scratch, 400, "the body must be {\\\"id\\\":\\\"ID\\\"}");
		return;
	}
	x = capture_get(in->cap, id);
	if (x == NULL || x->binding >= in->c->nbinds) {
		ans_error(a, scratch, 404, "no such request");
		return;
	}
	rc = replay_start(&in->replays, id, &in->c->binds[x->binding].addr,
			  in->c->binds[x->binding].addr_len);
	if (rc == -EFBIG)
		ans_error(a, scratch, 422,
			  "the request body was cut at --inspect-body: it cannot be replayed");
	else if (rc == -EBUSY)
		ans_error(a, scratch, 503, "too many replays running");
	else if (rc < 0)
		ans_error(a, scratch, 404, "no such request");
	else
		*a = (struct inspect_ans){ 204, "application/json", "", 0, 0, 0 };
}

static void
route_one(struct inspect *in, const struct inspect_req *rq, struct inspect_ans *a, struct buf *scratch)
{
	static const char pre[] = "/api/requests/http/";
	struct inspect_api_ctx ctx;
	const struct capture_ex *x;
	uint64_t id;

	if (inspect_api_parse_id(rq->path + sizeof(pre) - 1, rq->path_len - (sizeof(pre) - 1), &id) < 0 ||
	    (x = capture_get(in->cap, id)) == NULL || x->state != CAPTURE_DONE) {
		ans_error(a, scratch, 404, "no such request");
		return;
	}
	refresh_tunnels(in, &ctx);
	ans_json(a, scratch, inspect_api_request(&ctx, x, scratch));
}

static int
path_is(const struct inspect_req *rq, const char *p)
{
	return rq->path_len == strlen(p) && memcmp(rq->path, p, rq->path_len) == 0;
}

static int
method_is(const struct inspect_req *rq, const char *m)
{
	return rq->h->method_len == strlen(m) && memcmp(rq->h->method, m, rq->h->method_len) == 0;
}

/* /api/requests/http: GET lists, POST replays, DELETE clears. */
static void
route_requests(struct inspect *in, const struct inspect_req *rq, struct inspect_ans *a, struct buf *scratch)
{
	if (method_is(rq, "GET")) {
		route_list(in, rq, a, scratch);
		return;
	}
	if (!method_is(rq, "POST") && !method_is(rq, "DELETE")) {
		ans_error(a, scratch, 405, "GET, POST or DELETE");
		return;
	}
	if (!may_change(rq->h)) {
		ans_error(a, scratch, 403, "needs Content-Type: application/json and no foreign Origin");
		return;
	}
	if (method_is(rq, "POST")) {
		route_replay(in, rq, a, scratch);
		return;
	}
	capture_clear(in->cap);
	*a = (struct inspect_ans){ 204, "application/json", "", 0, 0, 0 };
	buf_reset(scratch, 0);
	{
		struct inspect_conn *k;
		static const char ev[] = "event: clear\ndata: {}\n\n";

		for (k = in->conns; k != NULL; k = k->next)
			if (k->state == INSPECT_EVENTS && buf_reserve(&k->wr, sizeof(ev) - 1, 0, 0) == 0) {
				buf_append(&k->wr, ev, sizeof(ev) - 1);
				ic_update(k);
			}
	}
}

/* Answer rq into *a (the body in scratch or static). */
static void
route(struct inspect *in, const struct inspect_req *rq, struct inspect_ans *a, struct buf *scratch)
{
	static const char one[] = "/api/requests/http/";
	const struct inspect_page_asset *pg;
	struct inspect_api_ctx ctx;

	if (rq->h->host == NULL || rq->h->host_count != 1 ||
	    !inspect_host_ok(rq->h->host, rq->h->host_len, in->port)) {
		ans_error(a, scratch, 403,
			  "Host must be this inspector's address (127.0.0.1:PORT or localhost:PORT)");
		return;
	}
	if (path_is(rq, "/api/requests/http")) {
		route_requests(in, rq, a, scratch);
		return;
	}
	if (!method_is(rq, "GET") && !method_is(rq, "HEAD")) {
		ans_error(a, scratch, 405, "GET only here");
		return;
	}
	if (path_is(rq, "/api/tunnels")) {
		refresh_tunnels(in, &ctx);
		ans_json(a, scratch, inspect_api_tunnels(&ctx, scratch));
	} else if (rq->path_len > sizeof(one) - 1 && memcmp(rq->path, one, sizeof(one) - 1) == 0) {
		route_one(in, rq, a, scratch);
	} else if (path_is(rq, "/api/events")) {
		*a = (struct inspect_ans){ 200, "text/event-stream", "", 0, 0, 1 };
	} else if ((pg = inspect_page_find(rq->path, rq->path_len)) != NULL) {
		*a = (struct inspect_ans){ 200, pg->type, pg->data, pg->len, 1, 0 };
	} else {
		ans_error(a, scratch, 404, "not found");
	}
}

/* ---- events --------------------------------------------------------------- */

/* Append "event: request" with x's summary to k. */
static void
event_put(struct inspect_conn *k, const char *json, size_t n)
{
	static const char pre[] = "event: request\ndata: ";

	if (buf_len(&k->wr) + n > INSPECT_SSE_BACKLOG_MAX) {
		ic_close(k); /* too far behind: it reconnects and gets the ring again */
		return;
	}
	if (buf_reserve(&k->wr, sizeof(pre) - 1 + n + 2, 0, 0) < 0) {
		ic_close(k);
		return;
	}
	buf_append(&k->wr, pre, sizeof(pre) - 1);
	buf_append(&k->wr, json, n);
	buf_append(&k->wr, "\n\n", 2);
}

/* A new event reader: every finished exchange of the ring, oldest first. */
static void
events_backlog(struct inspect *in, struct inspect_conn *k)
{
	const struct capture_ex *x = NULL, **all;
	struct inspect_api_ctx ctx;
	struct buf s;
	size_t n = 0;

	all = calloc(in->cap->n, sizeof(*all));
	if (all == NULL)
		return;
	while ((x = capture_next(in->cap, x)) != NULL && n < in->cap->n)
		all[n++] = x;
	refresh_tunnels(in, &ctx);
	memset(&s, 0, sizeof(s));
	while (n > 0 && k->state == INSPECT_EVENTS) {
		buf_reset(&s, 0);
		if (inspect_api_summary(&ctx, all[--n], &s) == 0)
			event_put(k, (const char *)s.pos, buf_len(&s));
	}
	buf_fini(&s);
	free(all);
}

/* capture's callback: an exchange is done, every event reader hears of it. */
static void
on_capture_done(void *arg, const struct capture_ex *x)
{
	struct inspect *in = arg;
	struct inspect_conn *k, *next;
	struct inspect_api_ctx ctx;
	struct buf s;
	int any = 0;

	for (k = in->conns; k != NULL && !any; k = k->next)
		any = k->state == INSPECT_EVENTS;
	if (!any)
		return; /* nobody watches: no JSON built */
	memset(&s, 0, sizeof(s));
	refresh_tunnels(in, &ctx);
	if (inspect_api_summary(&ctx, x, &s) == 0)
		for (k = in->conns; k != NULL; k = next) {
			next = k->next;
			if (k->state == INSPECT_EVENTS) {
				event_put(k, (const char *)s.pos, buf_len(&s));
				ic_update(k);
			}
		}
	buf_fini(&s);
}

static void
on_ping(struct reactor *r, struct reactor_timer *t)
{
	struct inspect *in = container_of(t, struct inspect, ping);
	struct inspect_conn *k;

	(void)r;
	for (k = in->conns; k != NULL; k = k->next)
		if (k->state == INSPECT_EVENTS && buf_reserve(&k->wr, 3, 0, 0) == 0) {
			buf_append(&k->wr, ":\n\n", 3);
			ic_update(k);
		}
}

/* ---- connections ---------------------------------------------------------- */

static void
on_conn_defer(struct reactor *r, struct reactor_deferred *d)
{
	struct inspect_conn *k = container_of(d, struct inspect_conn, defer);

	(void)r;
	buf_fini(&k->rd);
	buf_fini(&k->wr);
	free(k);
}

static void
ic_close(struct inspect_conn *k)
{
	struct inspect *in = k->in;

	if (k->state == INSPECT_CLOSED)
		return;
	ic_set_state(k, INSPECT_CLOSED);
	reactor_timer_stop(in->r, &k->idle);
	reactor_watcher_stop(in->r, &k->w);
	close(k->fd);
	k->fd = -1;
	if (k->prev)
		k->prev->next = k->next;
	else
		in->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	in->nconns--;
	reactor_defer(in->r, &k->defer, on_conn_defer);
}

/* Write what k->wr holds. 0, or -1 when k was closed. */
static int
ic_flush(struct inspect_conn *k)
{
	ssize_t n;

	if (k->state == INSPECT_CLOSED)
		return -1;
	while (buf_len(&k->wr) > 0) {
		n = send(k->fd, k->wr.pos, buf_len(&k->wr), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			ic_close(k);
			return -1;
		}
		buf_consume(&k->wr, (size_t)n);
	}
	buf_reset(&k->wr, 0);
	return 0;
}

/*
 * Flush, then the interest from the state: while an answer is pending
 * only writability (requests behind it wait in the socket); an event
 * stream is always read too, to see it close.
 */
static void
ic_update(struct inspect_conn *k)
{
	unsigned want;

	if (k->state == INSPECT_CLOSED || ic_flush(k) < 0)
		return;
	if (k->state == INSPECT_WRITE && buf_len(&k->wr) == 0) {
		if (!k->keep_alive) {
			ic_close(k);
			return;
		}
		ic_set_state(k, INSPECT_READ_HEAD);
		ic_process(k); /* requests that came behind the one answered */
		if (k->state == INSPECT_CLOSED || ic_flush(k) < 0)
			return;
	}
	if (k->state == INSPECT_EVENTS)
		want = REACTOR_READ | (buf_len(&k->wr) > 0 ? REACTOR_WRITE : 0);
	else
		want = buf_len(&k->wr) > 0 ? REACTOR_WRITE : REACTOR_READ;
	reactor_watcher_set(k->in->r, &k->w, want);
}

/* Answer the request whose head and body are in k->rd. */
static void
ic_answer(struct inspect_conn *k, struct http1_request *h)
{
	struct inspect_req rq = { h, h->target, h->target_len, "", 0, NULL, 0 };
	struct inspect_ans a;
	const char *q = memchr(h->target, '?', h->target_len);
	struct buf scratch;

	memset(&scratch, 0, sizeof(scratch));
	if (q != NULL) {
		rq.path_len = (size_t)(q - h->target);
		rq.query = q + 1;
		rq.query_len = h->target_len - rq.path_len - 1;
	}
	rq.body = (const char *)k->rd.pos + k->head_len;
	rq.body_len = k->body_len;
	memset(&a, 0, sizeof(a));
	route(k->in, &rq, &a, &scratch);
	if (method_is(&rq, "HEAD"))
		a.len = 0;
	if (a.events)
		k->keep_alive = 0;
	if (put_answer(k, &a) < 0) {
		buf_fini(&scratch);
		ic_close(k);
		return;
	}
	buf_fini(&scratch);
	buf_consume(&k->rd, k->head_len + k->body_len);
	k->scanned = 0;
	if (a.events) {
		ic_set_state(k, INSPECT_EVENTS);
		reactor_timer_stop(k->in->r, &k->idle);
		events_backlog(k->in, k);
	} else {
		ic_set_state(k, INSPECT_WRITE);
		reactor_timer_start(k->in->r, &k->idle, INSPECT_IDLE_MS, 0);
	}
}

/* Refuse the request and close after the answer. */
static void
ic_refuse(struct inspect_conn *k, int status, const char *msg)
{
	struct inspect_ans a;
	struct buf scratch;

	memset(&scratch, 0, sizeof(scratch));
	ans_error(&a, &scratch, status, msg);
	a.html = a.events = 0;
	k->keep_alive = 0;
	if (put_answer(k, &a) < 0) {
		buf_fini(&scratch);
		ic_close(k);
		return;
	}
	buf_fini(&scratch);
	ic_set_state(k, INSPECT_WRITE);
}

/* Handle what k->rd holds: 1 when a request was answered (go on), 0 when more is needed. */
static int
ic_step(struct inspect_conn *k)
{
	struct http1_header hdrs[INSPECT_HEADERS];
	struct http1_limits lim = { INSPECT_HEAD_MAX, INSPECT_HEADERS };
	struct http1_request h;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	h.headers = hdrs;
	h.headers_cap = INSPECT_HEADERS;
	n = http1_parse_request((const char *)k->rd.pos, buf_len(&k->rd), k->scanned, &lim, &h);
	if (n == HT_AGAIN) {
		k->scanned = buf_len(&k->rd);
		return 0;
	}
	if (n < 0) {
		ic_refuse(k, http1_error_status(h.err), http1_error_str(h.err));
		return 0;
	}
	if (h.body == HTTP1_BODY_CHUNKED ||
	    (h.body == HTTP1_BODY_LENGTH && h.content_length > INSPECT_BODY_MAX)) {
		ic_refuse(k, 413, "request body too large (or chunked)");
		return 0;
	}
	k->head_len = (size_t)n;
	k->body_len = h.body == HTTP1_BODY_LENGTH ? (size_t)h.content_length : 0;
	if (buf_len(&k->rd) < k->head_len + k->body_len) {
		ic_set_state(k, INSPECT_READ_BODY);
		return 0;
	}
	k->keep_alive = h.keep_alive;
	ic_answer(k, &h);
	return k->state == INSPECT_WRITE;
}

/* Answer the complete requests in k->rd, in order, while each answer goes out whole. */
static void
ic_process(struct inspect_conn *k)
{
	int i;

	for (i = 0; i < INSPECT_ROUNDS && k->state == INSPECT_READ_HEAD && buf_len(&k->rd) > 0; i++) {
		if (!ic_step(k))
			break;
		if (ic_flush(k) < 0)
			return;
		if (buf_len(&k->wr) == 0 && k->keep_alive)
			ic_set_state(k, INSPECT_READ_HEAD);
	}
}

/* Read; answer the requests that are complete. */
static void
ic_read(struct inspect_conn *k)
{
	ssize_t n;

	if (buf_reserve(&k->rd, INSPECT_READ, 0, INSPECT_HEAD_MAX + INSPECT_BODY_MAX + INSPECT_READ) < 0) {
		if (k->state == INSPECT_EVENTS) {
			buf_reset(&k->rd, 0); /* an event reader's bytes mean nothing */
			return;
		}
		ic_refuse(k, 431, "request too large");
		return;
	}
	n = recv(k->fd, k->rd.last, buf_room(&k->rd), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		ic_close(k);
		return;
	}
	buf_commit(&k->rd, (size_t)n);
	if (k->state == INSPECT_EVENTS) {
		buf_reset(&k->rd, 0);
		return;
	}
	if (k->state == INSPECT_READ_BODY && buf_len(&k->rd) >= k->head_len + k->body_len)
		ic_set_state(k, INSPECT_READ_HEAD); /* parsed again, now whole */
	ic_process(k);
}

static void
on_conn_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct inspect_conn *k = container_of(w, struct inspect_conn, w);

	(void)r;
	if ((events & REACTOR_WRITE) && ic_flush(k) < 0)
		return;
	if ((events & REACTOR_READ) && k->state != INSPECT_CLOSED &&
	    (k->state != INSPECT_WRITE || buf_len(&k->wr) == 0))
		ic_read(k);
	ic_update(k);
}

static void
on_idle(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	ic_close(container_of(t, struct inspect_conn, idle));
}

static void
ic_new(struct inspect *in, int fd)
{
	struct inspect_conn *k;

	if (in->nconns >= INSPECT_CONNS_MAX || (k = calloc(1, sizeof(*k))) == NULL) {
		close(fd);
		return;
	}
	k->in = in;
	k->fd = fd;
	reactor_watcher_init(&k->w, fd, on_conn_io);
	if (reactor_watcher_start(in->r, &k->w, REACTOR_READ) < 0) {
		close(fd);
		free(k);
		return;
	}
	reactor_timer_init(&k->idle, on_idle);
	reactor_timer_start(in->r, &k->idle, INSPECT_IDLE_MS, 0);
	k->next = in->conns;
	if (k->next)
		k->next->prev = k;
	in->conns = k;
	in->nconns++;
}

static void
on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct inspect *in = container_of(w, struct inspect, w);
	int i, fd;

	(void)r;
	(void)events;
	for (i = 0; i < INSPECT_ACCEPTS; i++) {
		fd = net_accept(in->fd, NULL, NULL);
		if (fd < 0)
			return;
		ic_new(in, fd);
	}
}

/* ---- public --------------------------------------------------------------- */

/* Listen at ss; 0 with in->fd, url and port set, or -errno. */
static int
listen_at(struct inspect *in, const struct sockaddr_storage *ss, socklen_t len)
{
	char a[NET_ADDR_STRLEN];
	int fd = net_listen((const struct sockaddr *)ss, len, 64, 0);

	if (fd < 0)
		return fd;
	in->fd = fd;
	in->port = net_local_port(fd);
	net_format_addr((const struct sockaddr *)ss, a, sizeof(a));
	if (net_addr_port((const struct sockaddr *)ss) == 0) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);

		if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
			net_format_addr((const struct sockaddr *)&got, a, sizeof(a));
	}
	snprintf(in->url, sizeof(in->url), "http://%s", a);
	return 0;
}

/* see inspect.h */
int
inspect_open(struct inspect *in, const char *addr, char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char spec[NET_ADDR_STRLEN + 16];
	int port, rc;

	memset(in, 0, sizeof(*in));
	in->fd = -1;
	if (addr != NULL) {
		/* a bare port is on loopback */
		snprintf(spec, sizeof(spec), "%s%s",
			 strspn(addr, "0123456789") == strlen(addr) ? "127.0.0.1:" : "", addr);
		if (net_parse_hostport(spec, -1, &ss, &len) < 0) {
			snprintf(err, errcap, "--inspect %s: not an address (HOST:PORT or PORT)", addr);
			return -1;
		}
		if ((rc = listen_at(in, &ss, len)) < 0) {
			snprintf(err, errcap, "cannot listen on %s: %s", addr, strerror(-rc));
			return -1;
		}
		return 0;
	}
	for (port = INSPECT_PORT_FIRST; port <= INSPECT_PORT_LAST; port++) {
		snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
		if (net_parse_hostport(spec, -1, &ss, &len) == 0 && listen_at(in, &ss, len) == 0)
			return 0;
	}
	snprintf(err, errcap, "ports %d..%d are taken", INSPECT_PORT_FIRST, INSPECT_PORT_LAST);
	return -1;
}

/* see inspect.h */
void
inspect_start(struct inspect *in, struct client *c, struct capture *cap)
{
	if (in->fd < 0)
		return;
	in->r = &c->r;
	in->c = c;
	in->cap = cap;
	replay_set_init(&in->replays, &c->r, cap);
	reactor_watcher_init(&in->w, in->fd, on_accept);
	if (reactor_watcher_start(in->r, &in->w, REACTOR_READ) < 0) {
		inspect_close(in);
		return;
	}
	reactor_timer_init(&in->ping, on_ping);
	reactor_timer_start(in->r, &in->ping, INSPECT_SSE_PING_MS, INSPECT_SSE_PING_MS);
	capture_set_done_cb(cap, on_capture_done, in);
	in->started = 1;
}

/* see inspect.h */
void
inspect_stop(struct inspect *in)
{
	if (!in->started)
		return;
	in->started = 0;
	capture_set_done_cb(in->cap, NULL, NULL);
	replay_set_fini(&in->replays);
	while (in->conns != NULL)
		ic_close(in->conns);
	reactor_timer_stop(in->r, &in->ping);
	reactor_watcher_stop(in->r, &in->w);
	inspect_close(in);
}

/* see inspect.h */
void
inspect_close(struct inspect *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}
