/*
 * replay.c: a captured request sent to the local service again (see
 * replay.h).
 *
 * One struct replay is one connection: connect, write the whole request,
 * read the response head (http1_parse_response) and the body with its
 * framing taken off (local_codec.h), capture both, close. Its states are
 * enum replay_state, changed only by replay_set_state.
 */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http1.h"
#include "local_codec.h"
#include "net.h"
#include "util.h"

#define REPLAY_HEADERS 256
#define REPLAY_IN_MAX (64 * 1024)
#define REPLAY_READS 8

enum replay_state {
	REPLAY_CONNECTING, /* non-blocking connect in progress */
	REPLAY_SENDING,    /* the request goes out */
	REPLAY_HEAD,       /* reading the response head */
	REPLAY_BODY,       /* reading the response body */
	REPLAY_DONE,       /* over: freed from the deferred callback */
	REPLAY_STATE_MAX
};

struct replay {
	struct replay_set *set;
	struct replay *prev, *next;
	enum replay_state state;
	uint64_t id; /* its exchange */
	int fd;
	int is_head;
	size_t head_len; /* of out: the head, then the body */
	struct reactor_watcher w;
	struct reactor_timer timer;
	struct reactor_deferred defer;
	struct buf out; /* the request */
	struct buf in;  /* response bytes */
	size_t scanned;
	int status;
	struct local_resp_body body;
};

static void
replay_set_state(struct replay *p, enum replay_state st)
{
	p->state = st < REPLAY_STATE_MAX ? st : REPLAY_DONE;
}

/* see replay.h */
void
replay_set_init(struct replay_set *set, struct reactor *r, struct capture *cap)
{
	memset(set, 0, sizeof(*set));
	set->r = r;
	set->cap = cap;
}

static void
replay_free(struct replay *p)
{
	buf_fini(&p->out);
	buf_fini(&p->in);
	free(p);
}

static void
on_defer(struct reactor *r, struct reactor_deferred *d)
{
	(void)r;
	replay_free(container_of(d, struct replay, defer));
}

/* End p: capture says status and why; the memory goes after this batch. */
static void
replay_end(struct replay *p, const char *why)
{
	struct replay_set *set = p->set;

	if (p->state == REPLAY_DONE)
		return;
	replay_set_state(p, REPLAY_DONE);
	reactor_timer_stop(set->r, &p->timer);
	if (p->fd >= 0) {
		reactor_watcher_stop(set->r, &p->w);
		close(p->fd);
		p->fd = -1;
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		set->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	set->n--;
	capture_done(set->cap, p->id, p->status, why);
	reactor_defer(set->r, &p->defer, on_defer);
}

/* see replay.h */
void
replay_set_fini(struct replay_set *set)
{
	while (set->head != NULL)
		replay_end(set->head, "cancelled");
}

static void
on_timeout(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	replay_end(container_of(t, struct replay, timer), "timeout");
}

/* ---- the request ---------------------------------------------------------- */

static int
put(struct buf *b, const void *p, size_t n)
{
	return buf_reserve(b, n, 0, 0) < 0 ? -1 : buf_append(b, p, n);
}

/* 1 when the field is one replay writes itself. */
static int
dropped_field(const struct http1_header *h)
{
	return util_strcaseeq(h->name, h->name_len, "content-length") ||
	       util_strcaseeq(h->name, h->name_len, "transfer-encoding") ||
	       util_strcaseeq(h->name, h->name_len, "connection") ||
	       util_strcaseeq(h->name, h->name_len, "keep-alive");
}

/* The request of exchange x into out (its head *head_len bytes). 0, -ENOENT (no whole head), -EFBIG, -ENOMEM.
 */
static int
build_request(const struct capture_ex *x, struct buf *out, size_t *head_len, int *is_head)
{
	struct http1_header hdrs[REPLAY_HEADERS];
	struct http1_limits lim = { CAPTURE_HEAD_MAX, REPLAY_HEADERS };
	struct http1_request rq;
	const struct capture_part *q = &x->req;
	char cl[48];
	size_t i;
	int bad = 0;

	if (q->head_len == 0 || q->head_truncated)
		return -ENOENT;
	if (q->body_size > q->body_len)
		return -EFBIG;
	memset(&rq, 0, sizeof(rq));
	rq.headers = hdrs;
	rq.headers_cap = REPLAY_HEADERS;
	if (http1_parse_request((const char *)q->head, q->head_len, 0, &lim, &rq) != (ssize_t)q->head_len)
		return -ENOENT;
	*is_head = rq.method_len == 4 && memcmp(rq.method, "HEAD", 4) == 0;
	bad |= put(out, rq.method, rq.method_len) | put(out, " ", 1) | put(out, rq.target, rq.target_len);
	bad |= put(out, " HTTP/1.1\r\n", 11);
	for (i = 0; i < rq.num_headers; i++) {
		if (dropped_field(&hdrs[i]))
			continue;
		bad |= put(out, hdrs[i].name, hdrs[i].name_len) | put(out, ": ", 2) |
		       put(out, hdrs[i].value, hdrs[i].value_len) | put(out, "\r\n", 2);
	}
	if (q->body_len > 0 || rq.body != HTTP1_BODY_NONE) {
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", q->body_len);
		bad |= put(out, cl, strlen(cl));
	}
	bad |= put(out, "Connection: close\r\n\r\n", 21);
	*head_len = buf_len(out);
	if (q->body_len > 0)
		bad |= put(out, q->body, q->body_len);
	return bad ? -ENOMEM : 0;
}

/* ---- the response --------------------------------------------------------- */

/* Parse the head in p->in. 1: more needed, 0: parsed (body set up), -1: ended. */
static int
parse_head(struct replay *p)
{
	struct http1_header hdrs[REPLAY_HEADERS];
	struct http1_limits lim = { REPLAY_IN_MAX, REPLAY_HEADERS };
	struct http1_response res;
	ssize_t n;

	for (;;) {
		memset(&res, 0, sizeof(res));
		res.headers = hdrs;
		res.headers_cap = REPLAY_HEADERS;
		res.req_head = p->is_head;
		n = http1_parse_response((const char *)p->in.pos, buf_len(&p->in), p->scanned, &lim, &res);
		if (n == HT_AGAIN) {
			p->scanned = buf_len(&p->in);
			return 1;
		}
		if (n < 0 || res.te_other) {
			replay_end(p, "bad response from the local service");
			return -1;
		}
		p->scanned = 0;
		if (res.status >= 200 || res.status == 101)
			break;
		buf_consume(&p->in, (size_t)n); /* 1xx: skipped */
	}
	p->status = res.status;
	capture_resp_head(p->set->cap, p->id, p->in.pos, (size_t)n);
	buf_consume(&p->in, (size_t)n);
	local_codec_resp_body_init(&p->body, res.status == 101 ? HTTP1_BODY_NONE : res.body,
				   res.content_length);
	replay_set_state(p, REPLAY_BODY);
	return 0;
}

/* Take the body bytes in p->in. */
static void
take_body(struct replay *p)
{
	size_t n = local_codec_resp_body_want(&p->body, buf_len(&p->in)), pay;

	if (n > 0) {
		if (local_codec_resp_body_take(&p->body, p->in.pos, n, &pay) < 0) {
			replay_end(p, "bad chunked body from the local service");
			return;
		}
		capture_resp_body(p->set->cap, p->id, p->in.pos, pay);
	}
	buf_reset(&p->in, 0);
	if (local_codec_resp_body_done(&p->body))
		replay_end(p, NULL);
}

static void
got_eof(struct replay *p)
{
	if (p->state == REPLAY_BODY && local_codec_resp_body_eof(&p->body))
		replay_end(p, NULL);
	else
		replay_end(p, "local service closed the connection mid-response");
}

static void
do_read(struct replay *p)
{
	ssize_t k;
	int i;

	for (i = 0; i < REPLAY_READS && p->state != REPLAY_DONE; i++) {
		if (buf_reserve(&p->in, 16384, 0, REPLAY_IN_MAX + 16384) < 0) {
			replay_end(p, "response head too large");
			return;
		}
		k = recv(p->fd, p->in.last, buf_room(&p->in), 0);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (k <= 0) {
			if (k < 0)
				replay_end(p, errno == ECONNRESET ? "reset" : "local connection failed");
			else
				got_eof(p);
			return;
		}
		buf_commit(&p->in, (size_t)k);
		if (p->state == REPLAY_HEAD && parse_head(p) != 0)
			continue;
		if (p->state == REPLAY_BODY)
			take_body(p);
	}
}

static void
do_write(struct replay *p)
{
	ssize_t k = send(p->fd, p->out.pos, buf_len(&p->out), MSG_NOSIGNAL);

	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (k < 0) {
		replay_end(p, "local connection failed");
		return;
	}
	buf_consume(&p->out, (size_t)k);
	if (buf_len(&p->out) == 0) {
		replay_set_state(p, REPLAY_HEAD);
		reactor_watcher_set(p->set->r, &p->w, REACTOR_READ);
	}
}

static void
on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct replay *p = container_of(w, struct replay, w);
	int err;

	(void)r;
	if (p->state == REPLAY_CONNECTING) {
		if ((err = net_socket_error(p->fd)) != 0) {
			replay_end(p,
				   err == -ECONNREFUSED ? "local connect refused" : "local connect failed");
			return;
		}
		replay_set_state(p, REPLAY_SENDING);
	}
	if (p->state == REPLAY_SENDING && (events & REACTOR_WRITE))
		do_write(p);
	if ((p->state == REPLAY_HEAD || p->state == REPLAY_BODY) && (events & REACTOR_READ))
		do_read(p);
}

/* Link p into set, capture its request, start connecting. */
static void
replay_go(struct replay_set *set, struct replay *p, const struct sockaddr_storage *addr, socklen_t len)
{
	int fd;

	p->next = set->head;
	if (p->next)
		p->next->prev = p;
	set->head = p;
	set->n++;
	capture_req_head(set->cap, p->id, p->out.pos, p->head_len);
	capture_req_body(set->cap, p->id, p->out.pos + p->head_len, buf_len(&p->out) - p->head_len);
	reactor_timer_init(&p->timer, on_timeout);
	reactor_timer_start(set->r, &p->timer, REPLAY_TIMEOUT_MS, 0);
	fd = net_connect((const struct sockaddr *)addr, len);
	if (fd < 0) {
		replay_end(p, fd == -ECONNREFUSED ? "local connect refused" : "local connect failed");
		return;
	}
	p->fd = fd;
	reactor_watcher_init(&p->w, fd, on_io);
	if (reactor_watcher_start(set->r, &p->w, REACTOR_WRITE) < 0) {
		close(fd);
		p->fd = -1;
		replay_end(p, "cannot watch socket");
	}
}

/* see replay.h */
int64_t
replay_start(struct replay_set *set, uint64_t id, const struct sockaddr_storage *addr, socklen_t len)
{
	const struct capture_ex *x = capture_get(set->cap, id);
	struct replay *p;
	int rc;

	if (x == NULL || x->state != CAPTURE_DONE)
		return -ENOENT;
	if (set->n >= REPLAY_MAX)
		return -EBUSY;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->set = set;
	p->fd = -1;
	if ((rc = build_request(x, &p->out, &p->head_len, &p->is_head)) < 0) {
		replay_free(p);
		return rc;
	}
	/* x may be evicted by the new exchange: everything needed is in p->out */
	p->id = capture_open(set->cap, x->binding, "replay", id);
	replay_go(set, p, addr, len);
	return (int64_t)p->id;
}
