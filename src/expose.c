/*
 * expose.c: EXPOSE visitors (see expose.h), their life and request side.
 *
 * A visitor is one TCP connection accepted on an EXPOSE port. It reads a
 * request head, checks the binding's Basic credentials, opens one http
 * stream per request (STREAM_OPEN, with X-Forwarded-* kept from trusted
 * proxies and replaced for anyone else), and sends the de-framed request
 * body as DATA straight from its input buffer (zero copy, within credit:
 * the buffer is never moved while DATA lent from it is queued in the
 * tunnel). Requests on one connection are answered strictly in order:
 * bytes after a request wait in the input buffer until the answer before
 * them is written. Timers bound the head, the wait for a response, the
 * keep-alive idle time and the linger after a last answer.
 *
 * Writing to the visitor (the response, the daemon's own answers, the
 * switch to a pump after a 101) is expose_resp.c's.
 */
#include "expose.h"
#include "expose_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "log.h"
#include "net.h"
#include "session.h"
#include "util.h"

#define IN_INIT 4096		/* first input buffer */
#define IN_MIN_READ 1024	/* less room than this: compact or grow before reading */
#define IN_BODY_MAX (64 * 1024) /* input buffer bound when heads are limited to less */
#define CONTINUE_DELAY_MS 1000	/* our own 100 Continue when the client sent none */
#define OUT_SLACK (256 * 1024)	/* out may exceed two stream windows by this much */
#define OUT_KEEP (64 * 1024)	/* a larger idle out buffer is released */
#define LINGER_MS 2000		/* after a last answer: read and drop for at most this long */
#define LINGER_MAX (256 * 1024) /* ... or this many bytes, then close */

#define STR_(x) #x
#define STR(x) STR_(x)

/* The answer of a visitor that cannot be served at all (no permit, no slot). */
#define REFUSAL_BODY "503 Service Unavailable: server at capacity\n"
#define REFUSAL_BODY_LEN 44
_Static_assert(sizeof(REFUSAL_BODY) - 1 == REFUSAL_BODY_LEN, "REFUSAL_BODY_LEN");
/* clang-format off */
static const char refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
			      "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Length: " STR(REFUSAL_BODY_LEN) "\r\n"
			      "Connection: close\r\n"
			      "Retry-After: 5\r\n"
			      "\r\n" REFUSAL_BODY;
/* clang-format on */

static const char continue_head[] = "HTTP/1.1 100 Continue\r\n\r\n";

/*
 * Header slots for the request head parser. They are filled and used
 * within one call (the daemon has one loop and one thread), so one array
 * of --max-headers entries serves every visitor.
 */
static struct http1_header *hdr_slots;
static size_t hdr_nslots;

/* see expose_int.h */
void
expose_set_state(struct visitor *v, enum visitor_state st)
{
	const struct config *c = v->d->cfg;
	enum visitor_state prev = v->state;
	uint64_t ms = 0;

	v->state = st;
	switch (st) {
	case VISITOR_HEAD:
		if (prev == VISITOR_HEAD)
			return; /* trickled bytes never extend it (slowloris) */
		ms = c->head_timeout_ms;
		break;
	case VISITOR_IDLE:
		ms = c->visitor_idle_timeout_ms;
		break;
	case VISITOR_WAIT:
		ms = c->response_timeout_ms;
		break;
	case VISITOR_LINGER:
		ms = LINGER_MS;
		break;
	default:
		break;
	}
	if (ms > 0)
		reactor_timer_start(&v->d->r, &v->timer, ms, 0);
	else
		reactor_timer_stop(&v->d->r, &v->timer);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, free_defer);

	(void)r;
	buf_fini(&v->in);
	buf_fini(&v->out);
	slab_free(&v->d->visitors, v);
}

/* see expose_int.h */
void
expose_maybe_free(struct visitor *v)
{
	if (v->state != VISITOR_CLOSED || v->lent > 0 || v->freeing)
		return;
	v->freeing = 1;
	reactor_defer(&v->d->r, &v->free_defer, free_cb);
}

/* see expose_int.h */
void
expose_touch_session(struct daemon *d, struct session *t)
{
	struct session *s;

	for (s = d->sessions; s != NULL; s = s->next) {
		if (s == t) {
			session_touch(s);
			return;
		}
	}
}

static void
touch_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, touch_defer);

	(void)r;
	expose_touch_session(v->d, v->touch_s);
	v->touch_s = NULL;
}

/*
 * The exchange is over for the tunnel: detach the stream (RESET(code)
 * when it is still open), count the request out of flight.
 */
/* see expose_int.h */
void
expose_exchange_end(struct visitor *v, unsigned code, const char *reason)
{
	struct daemon *d = v->d;
	struct stream *st = v->st;

	reactor_timer_stop(&d->r, &v->cont_timer);
	if (st != NULL) {
		v->st = NULL;
		st->ops = NULL;
		st->owner = NULL;
		if (st->state != STREAM_CLOSED)
			mux_send_reset(v->mux, st, code, reason);
	}
	if (v->mux != NULL) {
		v->touch_s = v->mux->owner;
		reactor_defer(&d->r, &v->touch_defer, touch_cb);
		v->mux = NULL;
	}
	if (v->in_flight) {
		v->in_flight = 0;
		d->requests_in_flight--;
	}
}

static void
exchange_reset(struct visitor *v)
{
	v->st = NULL;
	v->mux = NULL;
	memset(&v->rq, 0, sizeof(v->rq));
	v->req_body = HTTP1_BODY_NONE;
	v->req_left = 0;
	v->req_done = v->got_body = v->expect = v->continue_sent = v->informational = 0;
	v->body = EXPOSE_HTTP_BODY_NONE;
	v->resp_left = 0;
}

/* see expose_int.h */
void
expose_close(struct visitor *v)
{
	struct daemon *d = v->d;

	if (!expose_live(v))
		return;
	expose_exchange_end(v, FRAME_CODE_CANCEL, "visitor closed");
	reactor_timer_stop(&d->r, &v->timer);
	reactor_watcher_stop(&d->r, &v->w);
	close(v->fd);
	v->fd = -1;
	fdbudget_release(&d->fds, 1);
	v->state = VISITOR_CLOSED;
	buf_fini(&v->out);
	v->owed = 0;
	expose_maybe_free(v);
}

/* ---- request side ------------------------------------------------------- */

static void
up_done(void *arg, uint32_t len, int sent)
{
	struct visitor *v = arg;

	(void)len;
	(void)sent;
	v->lent--;
	if (v->state == VISITOR_CLOSED)
		expose_maybe_free(v);
	else if (expose_live(v) && v->lent == 0)
		expose_update_interest(v); /* `in` may be compacted again */
}

/* see expose_int.h */
int
expose_lend(struct visitor *v, const uint8_t *p, size_t n)
{
	if (mux_send_data(v->mux, v->st, p, (uint32_t)n, up_done, v) < 0)
		return -1;
	v->lent++;
	return 0;
}

/* Room to read into `in`, compacting or growing it when nothing is lent. */
static size_t
in_room(struct visitor *v)
{
	size_t len = buf_len(&v->in), want;

	if (buf_room(&v->in) >= IN_MIN_READ || v->lent > 0)
		return buf_room(&v->in);
	if (v->in.start != NULL)
		buf_compact(&v->in, 0);
	if (buf_room(&v->in) >= IN_MIN_READ || len >= v->in_max)
		return buf_room(&v->in);
	want = UTIL_MIN(UTIL_MAX((size_t)IN_INIT, buf_cap(&v->in)), v->in_max - len);
	(void)buf_reserve(&v->in, want, 0, v->in_max);
	return buf_room(&v->in);
}

static int
in_can_take(const struct visitor *v)
{
	return buf_room(&v->in) > 0 || (v->lent == 0 && buf_len(&v->in) < v->in_max);
}

static void
body_failed(struct visitor *v, const char *why)
{
	expose_exchange_end(v, FRAME_CODE_CANCEL, why);
	if (v->state == VISITOR_WAIT)
		expose_resp_answer_str(v, 400, why, 0, NULL);
	else
		expose_close(v);
}

/* Send the de-framed request body buffered in `in`, within credit. */
/* see expose_int.h */
void
expose_send_body(struct visitor *v)
{
	while (!v->req_done && v->st != NULL && buf_len(&v->in) > 0) {
		size_t allow = mux_allowance(v->mux, v->st, buf_len(&v->in)), dlen;
		const uint8_t *data = v->in.pos;
		ssize_t used;

		if (allow == 0)
			return; /* on_credit resumes */
		if (v->req_body == HTTP1_BODY_LENGTH) {
			dlen = (size_t)UTIL_MIN((uint64_t)allow, v->req_left);
			used = (ssize_t)dlen;
			v->req_left -= dlen;
		} else {
			used = http1_chunked_decode(&v->ck, v->in.pos, allow, &data, &dlen);
			if (used < 0) {
				body_failed(v, http1_chunked_error_str(v->ck.err));
				return;
			}
		}
		if (dlen > 0 && expose_lend(v, data, dlen) < 0) {
			body_failed(v, "tunnel gone");
			return;
		}
		buf_consume(&v->in, (size_t)used);
		if ((v->req_body == HTTP1_BODY_LENGTH && v->req_left == 0) ||
		    (v->req_body == HTTP1_BODY_CHUNKED && http1_chunked_done(&v->ck))) {
			v->req_done = 1;
			mux_send_eof(v->mux, v->st); /* may finish the stream: on_close clears v->st */
		}
	}
}

/* The EXPOSE binding on port now (after a takeover: the new owner's). */
static struct binding *
find_binding(struct daemon *d, int port)
{
	struct binding *b = bind_find_port(d, port);

	return b != NULL && b->kind == BIND_EXPOSE ? b : NULL;
}

/* Open the request's stream and send STREAM_OPEN: 0, or the status to answer. */
/* The visitor's Basic credentials match the binding's (constant time). */
static int
basic_ok(const struct binding *b, const struct http1_request *req)
{
	const struct http1_header *h = http1_find_header(req->headers, req->num_headers, "Authorization");

	return h != NULL &&
	       auth_basic_check(h->value, h->value_len, b->basic_user[0] ? b->basic_user : NULL, b->basic_pass) == 1;
}

static int
open_stream(struct visitor *v, const struct http1_request *req, const char **detail)
{
	struct daemon *d = v->d;
	struct binding *b = find_binding(d, v->port);
	struct expose_http_open o;
	struct forwarded_values fwd;
	struct session *s;
	struct stream *st;

	if (b == NULL) {
		*detail = "this port is no longer exposed";
		return 503;
	}
	if (b->basic_pass[0] && !basic_ok(b, req)) {
		*detail = "authentication required";
		return 401;
	}
	s = b->s;
	if (!session_accepts_streams(s)) {
		*detail = session_parked(s)	  ? "the tunnel client is reconnecting"
			  : session_backlogged(s) ? "the tunnel client is not reading"
						  : "the tunnel is closing";
		return 503;
	}
	st = mux_open(&s->mux, 0, STREAM_KIND_HTTP, -1);
	if (st == NULL) {
		*detail = "too many requests in flight on this tunnel";
		return 503;
	}
	forwarded_values(v->trusted, v->peer_ip, req->headers, req->num_headers, &fwd);
	o = (struct expose_http_open){b->id, b->port, v->peer, &fwd, v->rq.upgrade};
	buf_reset(&d->scratch, 0);
	if (expose_http_open_json(&d->scratch, &o, req) < 0 || buf_len(&d->scratch) > FRAME_MAX_PAYLOAD) {
		mux_drop(&s->mux, st);
		*detail = "request head too large for the tunnel";
		return 431;
	}
	if (mux_send(&s->mux, st, FRAME_STREAM_OPEN, d->scratch.pos, buf_len(&d->scratch)) < 0) {
		mux_drop(&s->mux, st);
		*detail = "the tunnel is closing";
		return 503;
	}
	st->ops = &expose_resp_stream_ops;
	st->owner = v;
	st->bind_id = b->id;
	v->mux = &s->mux;
	v->st = st;
	metrics_stream_opened(&d->metrics, METRICS_KIND_HTTP);
	d->requests_in_flight++;
	v->in_flight = 1;
	v->open_ms = reactor_now(&d->r);
	log_debug("visitor %s: %.*s %.*s -> session %s stream %u", v->peer, (int)req->method_len, req->method,
		  (int)UTIL_MIN(req->target_len, 200), req->target, s->id, st->id);
	return 0;
}

static void
start_request(struct visitor *v, const struct http1_request *req, size_t head_len)
{
	int has_body =
	    req->body == HTTP1_BODY_CHUNKED || (req->body == HTTP1_BODY_LENGTH && req->content_length > 0);
	const char *detail = NULL;
	int status;

	exchange_reset(v);
	v->rq.head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	v->rq.minor = req->minor_version;
	v->rq.keep_alive = req->keep_alive;
	v->rq.upgrade = req->upgrade && !has_body;
	v->keep_alive = req->keep_alive;
	v->req_body = has_body ? req->body : HTTP1_BODY_NONE;
	v->req_left = req->content_length;
	v->expect = req->expect_continue && has_body;
	http1_chunked_init(&v->ck);
	status = open_stream(v, req, &detail);
	buf_consume(&v->in, head_len); /* req points into `in`: used up by now */
	v->scanned = 0;
	if (status != 0) {
		expose_resp_answer_str(v, status, detail, !has_body && !v->rq.upgrade && (status == 503 || status == 401),
			   status == 503 ? EXPOSE_HTTP_RETRY : status == 401 ? EXPOSE_HTTP_AUTH : NULL);
		return;
	}
	if (!v->rq.upgrade && !has_body) {
		v->req_done = 1;
		mux_send_eof(v->mux, v->st); /* same batch as STREAM_OPEN */
	}
	expose_set_state(v, VISITOR_WAIT);
	if (v->expect && buf_len(&v->in) == 0)
		reactor_timer_start(&v->d->r, &v->cont_timer, CONTINUE_DELAY_MS, 0);
	if (has_body) {
		v->got_body = buf_len(&v->in) > 0;
		expose_send_body(v);
	}
}

static void
parse_head(struct visitor *v)
{
	const struct config *c = v->d->cfg;
	struct http1_limits lim = {c->max_head_size, c->max_headers};
	struct http1_request req;
	ssize_t n;

	if (buf_len(&v->in) == 0)
		return;
	if (v->state == VISITOR_IDLE)
		expose_set_state(v, VISITOR_HEAD);
	memset(&req, 0, sizeof(req));
	req.headers = hdr_slots;
	req.headers_cap = hdr_nslots;
	n = http1_parse_request((const char *)v->in.pos, buf_len(&v->in), v->scanned, &lim, &req);
	if (n == HT_AGAIN) {
		v->scanned = buf_len(&v->in);
		return;
	}
	v->rq.head = 0;
	if (n < 0) {
		log_debug("visitor %s: bad request head: %s", v->peer, http1_error_str(req.err));
		expose_resp_answer_str(v, http1_error_status(req.err), http1_error_str(req.err), 0, NULL);
		return;
	}
	if (req.minor_version == 1 && req.host_count != 1) {
		expose_resp_answer_str(v, 400, "exactly one Host header is required", 0, NULL);
		return;
	}
	start_request(v, &req, (size_t)n);
}

/* Bytes of a new exchange are buffered: parse them from the closing phase
 * (never recursively: one answer may end right away and start the next). */
static void
kick_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, kick_defer);

	(void)r;
	if (v->state != VISITOR_HEAD)
		return;
	parse_head(v);
	if (expose_live(v))
		expose_update_interest(v);
}

/* The answer is written: the next request, keep-alive idle, or close. */
/*
 * The last answer is written: shut the write side and read what the
 * visitor still sends for a while, so that closing with unread bytes does
 * not make the kernel send a reset that destroys the answer in flight.
 */
static void
visitor_linger(struct visitor *v)
{
	if (v->rd_eof || shutdown(v->fd, SHUT_WR) < 0) {
		expose_close(v);
		return;
	}
	buf_fini(&v->out);
	expose_set_state(v, VISITOR_LINGER);
}

static void
linger_read(struct visitor *v)
{
	uint8_t sink[4096];
	ssize_t n = recv(v->fd, sink, sizeof(sink), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0)
		v->lingered += (size_t)n;
	if (n <= 0 || v->lingered > LINGER_MAX)
		expose_close(v);
}

/* see expose_int.h */
void
expose_exchange_next(struct visitor *v)
{
	if (!v->keep_alive || v->rd_eof) {
		visitor_linger(v);
		return;
	}
	exchange_reset(v);
	if (buf_cap(&v->out) > OUT_KEEP)
		buf_fini(&v->out);
	if (buf_len(&v->in) > 0) {
		expose_set_state(v, VISITOR_HEAD);
		reactor_defer(&v->d->r, &v->kick_defer, kick_cb);
		return;
	}
	expose_set_state(v, VISITOR_IDLE);
	v->scanned = 0;
	if (v->lent == 0)
		buf_fini(&v->in); /* an idle connection keeps no buffer */
}

/* ---- socket events and timers ------------------------------------------- */

/* see expose_int.h */
void
expose_update_interest(struct visitor *v)
{
	unsigned want = 0;
	int rd = 0;

	if (!expose_live(v))
		return;
	if (buf_len(&v->out) > 0)
		want |= REACTOR_WRITE;
	if (expose_sending(v) && buf_len(&v->out) == 0)
		reactor_timer_stop(&v->d->r, &v->timer);
	else if (expose_sending(v) && !reactor_timer_is_active(&v->timer)) {
		net_progress_mark(&v->sent, v->fd);
		reactor_timer_start(&v->d->r, &v->timer, v->d->cfg->send_timeout_ms, 0);
	}
	switch (v->state) {
	case VISITOR_IDLE:
	case VISITOR_HEAD:
		rd = 1;
		break;
	case VISITOR_WAIT:
	case VISITOR_RESPONSE:
		if (!v->req_done && !v->rq.upgrade)
			rd = v->st != NULL && mux_allowance(v->mux, v->st, 1) > 0;
		else
			rd = 1; /* pipelined bytes, or the visitor leaving */
		break;
	case VISITOR_FLUSH:
		rd = v->keep_alive;
		break;
	case VISITOR_LINGER:
		reactor_watcher_set(&v->d->r, &v->w, REACTOR_READ);
		return;
	default:
		break;
	}
	if (rd && !v->rd_eof && in_can_take(v))
		want |= REACTOR_READ;
	reactor_watcher_set(&v->d->r, &v->w, want);
}

static void
visitor_eof(struct visitor *v)
{
	v->rd_eof = 1;
	if (v->state == VISITOR_FLUSH) {
		v->keep_alive = 0; /* finish writing, then close */
		return;
	}
	if (v->state == VISITOR_WAIT || v->state == VISITOR_RESPONSE)
		log_debug("visitor %s: left with a request in flight", v->peer);
	expose_close(v); /* cancels a stream in flight */
}

static void
on_readable(struct visitor *v)
{
	size_t room;
	ssize_t n;

	if (v->state == VISITOR_LINGER) {
		linger_read(v);
		return;
	}
	room = in_room(v);
	if (room == 0)
		return;
	n = recv(v->fd, v->in.last, room, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			expose_close(v);
		return;
	}
	if (n == 0) {
		visitor_eof(v);
		return;
	}
	buf_commit(&v->in, (size_t)n);
	switch (v->state) {
	case VISITOR_IDLE:
	case VISITOR_HEAD:
		parse_head(v);
		break;
	case VISITOR_WAIT:
	case VISITOR_RESPONSE:
		if (!v->req_done && !v->rq.upgrade) {
			v->got_body = 1;
			reactor_timer_stop(&v->d->r, &v->cont_timer);
			expose_send_body(v);
		}
		break;
	default:
		break; /* kept for later */
	}
}

static void
v_on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct visitor *v = container_of(w, struct visitor, w);

	(void)r;
	if (events & REACTOR_WRITE)
		expose_resp_flush(v);
	if ((events & REACTOR_READ) && expose_live(v) && !v->rd_eof)
		on_readable(v);
	if (expose_live(v))
		expose_update_interest(v);
}

static void
v_on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct visitor *v = container_of(t, struct visitor, timer);

	(void)r;
	switch (v->state) {
	case VISITOR_HEAD:
		log_debug("visitor %s: no complete request head in time", v->peer);
		expose_resp_answer_str(v, 408, "request head not received in time", 0, NULL);
		break;
	case VISITOR_IDLE:
	case VISITOR_LINGER:
		expose_close(v);
		break;
	case VISITOR_WAIT:
		log_info("visitor %s: no response head in time", v->peer);
		expose_exchange_end(v, FRAME_CODE_CANCEL, "response timeout");
		expose_resp_answer_str(v, 504, "no response from the tunnel client in time", expose_reusable(v), NULL);
		break;
	case VISITOR_RESPONSE:
	case VISITOR_FLUSH:
	case VISITOR_UPGRADING:
		if (net_progress_check(&v->sent, v->fd)) {
			reactor_timer_start(&v->d->r, &v->timer, v->d->cfg->send_timeout_ms, 0);
			break;
		}
		log_info("visitor %s: took no byte of its answer in %llu ms, closing", v->peer,
			 (unsigned long long)v->d->cfg->send_timeout_ms);
		expose_exchange_end(v, FRAME_CODE_CANCEL, "visitor not reading");
		expose_close(v);
		break;
	default:
		break;
	}
	if (expose_live(v))
		expose_update_interest(v);
}

static void
v_on_continue(struct reactor *r, struct reactor_timer *t)
{
	struct visitor *v = container_of(t, struct visitor, cont_timer);

	(void)r;
	if (v->state != VISITOR_WAIT || !v->expect || v->continue_sent || v->got_body)
		return;
	if (expose_resp_append(v, continue_head, sizeof(continue_head) - 1) < 0) {
		expose_close(v);
		return;
	}
	v->continue_sent = 1;
	expose_resp_flush(v);
}

/* ---- accepting ---------------------------------------------------------- */

static void
visitor_start(struct binding *b, int fd, const struct sockaddr_storage *peer)
{
	struct daemon *d = b->d;
	struct visitor *v = slab_alloc(&d->visitors);

	if (v == NULL) {
		(void)!send(fd, refusal, sizeof(refusal) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		fdbudget_release(&d->fds, 1);
		metrics_visitor_response(&d->metrics, 503);
		return;
	}
	v->d = d;
	v->fd = fd;
	v->port = b->port;
	v->in_max = UTIL_MAX((size_t)d->cfg->max_head_size, (size_t)IN_BODY_MAX);
	v->out_max = 2 * (size_t)d->cfg->stream_initial_window + OUT_SLACK;
	if (net_format_addr((const struct sockaddr *)peer, v->peer, sizeof(v->peer)) < 0)
		snprintf(v->peer, sizeof(v->peer), "unknown");
	if (net_format_ip((const struct sockaddr *)peer, v->peer_ip, sizeof(v->peer_ip)) < 0)
		snprintf(v->peer_ip, sizeof(v->peer_ip), "unknown");
	v->trusted = (uint8_t)forwarded_trusted(&d->fwd, (const struct sockaddr *)peer);
	(void)net_set_nodelay(fd, 1);
	reactor_watcher_init(&v->w, fd, v_on_io);
	reactor_timer_init(&v->timer, v_on_timer);
	reactor_timer_init(&v->cont_timer, v_on_continue);
	if (reactor_watcher_start(&d->r, &v->w, REACTOR_READ) < 0) {
		close(fd);
		fdbudget_release(&d->fds, 1);
		slab_free(&d->visitors, v);
		return;
	}
	v->state = VISITOR_IDLE;
	expose_set_state(v, VISITOR_HEAD); /* the head timer runs from accept */
}

/* What EXPOSE listeners do with their connections (bind_register). */
static const struct bind_ops expose_bind_ops = {
	.refusal = refusal,
	.on_accept = visitor_start,
};

/* see expose.h */
int
expose_init(struct daemon *d)
{
	long lim = fdbudget_rlimit();
	uint32_t cap = (uint32_t)UTIL_MIN(UTIL_MAX(lim, 64L), 1L << 22);
	int rc;

	bind_register(BIND_EXPOSE, &expose_bind_ops);
	hdr_nslots = d->cfg->max_headers > 0 ? d->cfg->max_headers : HTTP1_DEFAULT_MAX_HEADERS;
	hdr_slots = calloc(hdr_nslots, sizeof(*hdr_slots));
	if (hdr_slots == NULL)
		return -ENOMEM;
	rc = slab_init(&d->visitors, sizeof(struct visitor), cap, 256);
	if (rc < 0) {
		free(hdr_slots);
		hdr_slots = NULL;
	}
	return rc;
}

/* see expose.h */
void
expose_fini(struct daemon *d)
{
	struct visitor *v;
	uint32_t i = 0;

	while ((v = slab_next(&d->visitors, &i)) != NULL) {
		if (v->fd >= 0)
			close(v->fd);
		if (v->state == VISITOR_UPGRADED)
			pump_fini(&v->pump);
		buf_fini(&v->in);
		buf_fini(&v->out);
	}
	slab_fini(&d->visitors);
	free(hdr_slots);
	hdr_slots = NULL;
	hdr_nslots = 0;
}
