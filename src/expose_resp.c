/*
 * expose_resp.c: the response side of EXPOSE visitors (see expose_int.h).
 *
 * The client's response head arrives as JSON on the stream and is written
 * as HTTP/1.1 (held back to leave with the first body bytes), its DATA is
 * framed (Content-Length, chunked, or up to the close) and written through
 * when nothing waits in `out`; what the socket does not take is copied into
 * `out`, whose payload credit is returned only once written, so `out`
 * never holds much more than one stream window. The daemon's own answers
 * (4xx/5xx) and a 101's switch to a pump are here too.
 */
#include "expose_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "session.h"
#include "util.h"

#define DETAIL_MAX 160 /* bytes of an answer's detail that are logged */

/* Return stream credit for n response bytes that reached the visitor. */
static void
credit(struct visitor *v, size_t n)
{
	if (n > 0 && v->st != NULL)
		mux_consumed(v->mux, v->st, n);
}

/* ---- output ------------------------------------------------------------- */

/* k bytes of out were written: return the credit of the payload among them. */
static void
out_written(struct visitor *v, size_t k)
{
	size_t framing = buf_len(&v->out) - v->owed, pay = k > framing ? k - framing : 0;

	buf_consume(&v->out, k);
	if (pay > 0) {
		v->owed -= pay;
		credit(v, pay);
	}
}

/* Write out; 0, or -1 when the socket failed (the visitor is closed). */
static int
out_write(struct visitor *v)
{
	while (buf_len(&v->out) > 0) {
		ssize_t k = send(v->fd, v->out.pos, buf_len(&v->out), MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			expose_close(v);
			return -1;
		}
		net_progress_pushed(&v->sent, (size_t)k);
		out_written(v, (size_t)k);
	}
	buf_reset(&v->out, 0);
	return 0;
}

/* see expose_int.h */
int
expose_resp_append(struct visitor *v, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(&v->out, n, 0, 0) < 0)
		return -1;
	buf_append(&v->out, p, n);
	return 0;
}

static void upgrade_switch(struct visitor *v);

/* see expose_int.h */
void
expose_resp_flush(struct visitor *v)
{
	v->head_held = 0;
	if (!expose_live(v))
		return;
	if (buf_len(&v->out) > 0 && out_write(v) < 0)
		return;
	if (buf_len(&v->out) == 0) {
		if (v->state == VISITOR_FLUSH)
			expose_exchange_next(v);
		else if (v->state == VISITOR_UPGRADING)
			upgrade_switch(v);
	}
	expose_update_interest(v);
}

/* writev of up to three ranges; bytes written, or -1 (the visitor is closed). */
/* One sendmsg of up to four ranges (empty ones skipped): bytes taken, 0 (full) or -1 (closed). */
static ssize_t
write_ranges4(struct visitor *v, const void *h, size_t hn, const void *a, size_t an, const void *b, size_t bn,
	      const void *c, size_t cn)
{
	const void *base[4] = { h, a, b, c };
	size_t len[4] = { hn, an, bn, cn };
	struct iovec iov[4];
	struct msghdr mh;
	int n = 0, i;
	ssize_t k;

	for (i = 0; i < 4; i++)
		if (len[i] > 0)
			iov[n++] = (struct iovec){.iov_base = (void *)(uintptr_t)base[i], .iov_len = len[i]};
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	do
		k = sendmsg(v->fd, &mh, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k >= 0) {
		net_progress_pushed(&v->sent, (size_t)k);
		return k;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	expose_close(v);
	return -1;
}

static ssize_t
write_ranges(struct visitor *v, const void *a, size_t an, const void *b, size_t bn, const void *c, size_t cn)
{
	return write_ranges4(v, NULL, 0, a, an, b, bn, c, cn);
}

/*
 * Response DATA: framed (a chunk per DATA when chunked), written through
 * when nothing waits in out, the rest copied into out.
 */
static void
body_write(struct visitor *v, const uint8_t *p, size_t n)
{
	char hdr[HTTP1_CHUNK_HEADER_MAX];
	size_t hl = 0, tl = 0, k = 0, pay, tail;

	if (v->body == EXPOSE_HTTP_BODY_NONE) {
		credit(v, n);
		return;
	}
	if (v->body == EXPOSE_HTTP_BODY_LENGTH) {
		size_t take = v->resp_left < n ? (size_t)v->resp_left : n;

		credit(v, n - take); /* past the Content-Length: dropped */
		v->resp_left -= take;
		n = take;
	}
	if (n == 0)
		return;
	if (v->body == EXPOSE_HTTP_BODY_CHUNKED) {
		hl = http1_chunk_header(hdr, n);
		tl = HTTP1_CHUNK_END_LEN;
	}
	if (v->head_held && v->owed == 0 && buf_len(&v->out) > 0) {
		/* the held head and the first body bytes leave in one sendmsg */
		size_t ol = buf_len(&v->out);
		ssize_t w = write_ranges4(v, v->out.pos, ol, hdr, hl, p, n, HTTP1_CHUNK_END, tl);

		if (w < 0)
			return;
		v->head_held = 0;
		out_written(v, UTIL_MIN((size_t)w, ol));
		k = (size_t)w > ol ? (size_t)w - ol : 0;
	} else if (buf_len(&v->out) == 0) {
		ssize_t w = write_ranges(v, hdr, hl, p, n, HTTP1_CHUNK_END, tl);

		if (w < 0)
			return;
		k = (size_t)w;
	}
	pay = k > hl ? UTIL_MIN(k - hl, n) : 0;
	credit(v, pay);
	tail = k > hl + n ? k - hl - n : 0;
	if ((k < hl && expose_resp_append(v, hdr + k, hl - k) < 0) || expose_resp_append(v, p + pay, n - pay) < 0 ||
	    expose_resp_append(v, &HTTP1_CHUNK_END[tail], tl - tail) < 0 || buf_len(&v->out) > v->out_max) {
		log_warn("visitor %s: response spill over its bound, closing", v->peer);
		expose_exchange_end(v, FRAME_CODE_ENHANCE_YOUR_CALM, "response buffer exceeded");
		expose_close(v);
		return;
	}
	v->owed += n - pay;
	expose_update_interest(v);
}

/* Queue the daemon's own answer, then close or go on as keep_alive says. */
/* see expose_int.h */
void
expose_resp_answer(struct visitor *v, int status, const char *detail, size_t dlen, int keep_alive, const char *extra)
{
	v->keep_alive = v->keep_alive && keep_alive;
	if (expose_http_error_response(&v->out, status, detail, dlen, v->keep_alive, v->rq.head, extra) < 0) {
		expose_close(v);
		return;
	}
	metrics_visitor_response(&v->d->metrics, status);
	log_debug("visitor %s: answered %d (%.*s)", v->peer, status, (int)UTIL_MIN(dlen, DETAIL_MAX),
		  detail ? detail : "");
	expose_set_state(v, VISITOR_FLUSH);
	expose_resp_flush(v);
}

/* see expose_int.h */
void
expose_resp_answer_str(struct visitor *v, int status, const char *detail, int keep_alive, const char *extra)
{
	expose_resp_answer(v, status, detail, strlen(detail), keep_alive, extra);
}


/* ---- upgrade ------------------------------------------------------------ */

static void
v_pump_done(struct pump *p)
{
	struct visitor *v = p->owner;

	log_debug("visitor %s: upgraded connection finished (up %llu B, down %llu B)", v->peer,
		  (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down);
	fdbudget_release(&v->d->fds, 1);
	expose_touch_session(v->d, v->touch_s);
	v->touch_s = NULL;
	v->state = VISITOR_CLOSED;
	expose_maybe_free(v);
}

/* The 101 head is written: send what the visitor sent past its request, then pump. */
static void
upgrade_switch(struct visitor *v)
{
	struct daemon *d = v->d;
	struct stream *st = v->st;
	struct mux *m = v->mux;

	if (st == NULL) {
		expose_close(v);
		return;
	}
	while (buf_len(&v->in) > 0) {
		size_t n = mux_allowance(m, st, buf_len(&v->in));

		if (n == 0)
			return; /* on_credit resumes */
		if (expose_lend(v, v->in.pos, n) < 0) {
			expose_close(v);
			return;
		}
		buf_consume(&v->in, n);
	}
	reactor_watcher_stop(&d->r, &v->w);
	reactor_timer_stop(&d->r, &v->timer);
	reactor_timer_stop(&d->r, &v->cont_timer);
	v->pump.owner = v;
	if (pump_start(&v->pump, &d->r, m, st, v->fd, 0, v_pump_done) < 0) {
		expose_close(v); /* still owns st: RESET */
		return;
	}
	v->st = NULL;
	v->mux = NULL;
	v->touch_s = m->owner;
	v->fd = -1;
	if (v->in_flight) {
		v->in_flight = 0;
		d->requests_in_flight--;
	}
	v->state = VISITOR_UPGRADED;
	log_debug("visitor %s: upgraded (stream %u)", v->peer, st->id);
}

/* ---- stream callbacks (response side) ----------------------------------- */

static void
informational(struct visitor *v, const struct expose_http_head *h, size_t mark)
{
	if (h->status == 100) {
		if (!v->expect || v->continue_sent) {
			v->out.last = v->out.pos + mark; /* never two, never unasked */
			return;
		}
		v->continue_sent = 1;
		reactor_timer_stop(&v->d->r, &v->cont_timer);
	}
	expose_resp_flush(v);
}

static void
head_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct visitor *v = container_of(df, struct visitor, head_defer);

	(void)r;
	if (v->head_held && expose_live(v))
		expose_resp_flush(v);
}

static void
response_start(struct visitor *v, const struct expose_http_head *h)
{
	struct daemon *d = v->d;

	reactor_timer_stop(&d->r, &v->cont_timer);
	metrics_ttfb_observe(&d->metrics, reactor_now(&d->r) - v->open_ms);
	metrics_visitor_response(&d->metrics, h->status);
	if (h->status == 101) {
		v->body = EXPOSE_HTTP_BODY_CLOSE; /* raw bytes until the pump takes over */
		expose_set_state(v, VISITOR_UPGRADING);
		expose_resp_flush(v);
		return;
	}
	v->body = h->body;
	v->resp_left = h->length;
	v->keep_alive = v->keep_alive && h->keep_alive;
	if (v->rq.upgrade && !v->req_done) {
		v->req_done = 1; /* not upgraded: the request had no body */
		mux_send_eof(v->mux, v->st);
	}
	expose_set_state(v, VISITOR_RESPONSE);
	/* hold the head: the body usually follows in the same batch of tunnel input */
	v->head_held = 1;
	reactor_defer(&d->r, &v->head_defer, head_cb);
}

/* A stream-level fault once the response started: the visitor connection goes. */
static void
fail_after_head(struct visitor *v, unsigned code, const char *why)
{
	log_debug("visitor %s: %s, closing", v->peer, why);
	expose_exchange_end(v, code, why);
	expose_close(v);
}

static void
v_on_head(struct stream *st, const uint8_t *json, size_t n)
{
	struct visitor *v = st->owner;
	size_t mark = buf_len(&v->out);
	struct expose_http_head h;

	if (v->state != VISITOR_WAIT) {
		fail_after_head(v, FRAME_CODE_PROTOCOL_ERROR, "response head after the final one");
		return;
	}
	if (v->informational >= EXPOSE_HTTP_MAX_INFORMATIONAL) {
		/* each one waits in out for the visitor: not without end */
		log_info("visitor %s: more than %d informational heads from the tunnel client", v->peer,
			 EXPOSE_HTTP_MAX_INFORMATIONAL);
		expose_exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "too many informational heads");
		expose_resp_answer_str(v, 502, "too many informational responses from the tunnel client", 0, NULL);
		return;
	}
	if (expose_http_response_head(&v->out, json, n, &v->rq, &h) < 0) {
		log_info("visitor %s: invalid response head from the tunnel client", v->peer);
		expose_exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "invalid response head");
		expose_resp_answer_str(v, 502, "invalid response head from the tunnel client", expose_reusable(v), NULL);
		return;
	}
	if (!h.final) {
		v->informational++;
		informational(v, &h, mark);
	}
	else
		response_start(v, &h);
}

static void
v_on_data(struct stream *st, const uint8_t *p, size_t n)
{
	struct visitor *v = st->owner;

	switch (v->state) {
	case VISITOR_RESPONSE:
	case VISITOR_UPGRADING:
		body_write(v, p, n);
		break;
	case VISITOR_WAIT:
		expose_exchange_end(v, FRAME_CODE_PROTOCOL_ERROR, "DATA before the response head");
		expose_resp_answer_str(v, 502, "response body before its head", expose_reusable(v), NULL);
		break;
	default:
		if (v->mux != NULL)
			mux_consumed(v->mux, st, n);
		break;
	}
}

static void
response_end(struct visitor *v)
{
	if (v->body == EXPOSE_HTTP_BODY_CHUNKED && expose_resp_append(v, HTTP1_LAST_CHUNK, HTTP1_LAST_CHUNK_LEN) < 0)
		v->keep_alive = 0;
	if ((v->body == EXPOSE_HTTP_BODY_LENGTH && v->resp_left > 0) || v->body == EXPOSE_HTTP_BODY_CLOSE)
		v->keep_alive = 0; /* short body, or the end is the close itself */
	if (!v->req_done)
		v->keep_alive = 0; /* the rest of the request body cannot be skipped safely */
	expose_exchange_end(v, FRAME_CODE_CANCEL, "response complete");
	expose_set_state(v, VISITOR_FLUSH);
	expose_resp_flush(v);
}

static void
v_on_eof(struct stream *st)
{
	struct visitor *v = st->owner;

	switch (v->state) {
	case VISITOR_WAIT:
		expose_exchange_end(v, FRAME_CODE_CANCEL, "EOF before the response head");
		expose_resp_answer_str(v, 502, "the tunnel client sent no response", expose_reusable(v), NULL);
		break;
	case VISITOR_RESPONSE:
		response_end(v);
		break;
	case VISITOR_UPGRADING:
		v->keep_alive = 0;
		expose_exchange_end(v, FRAME_CODE_CANCEL, "upgrade ended");
		expose_set_state(v, VISITOR_FLUSH);
		expose_resp_flush(v);
		break;
	default:
		break;
	}
}

static void
v_on_reset(struct stream *st, unsigned code, const char *reason, size_t rlen)
{
	struct visitor *v = st->owner;
	char detail[96];

	v->st = NULL; /* already reset: no frame goes back */
	st->ops = NULL;
	st->owner = NULL;
	if (v->state != VISITOR_WAIT) {
		fail_after_head(v, code, "reset by the tunnel client");
		return;
	}
	expose_exchange_end(v, code, NULL);
	if (rlen == 0) {
		snprintf(detail, sizeof(detail), "request reset by the tunnel client (code %u)", code);
		reason = detail;
		rlen = strlen(detail);
	}
	expose_resp_answer(v, 502, reason, rlen, expose_reusable(v), NULL);
}

static void
v_on_credit(struct stream *st)
{
	struct visitor *v = st->owner;

	if ((v->state == VISITOR_WAIT || v->state == VISITOR_RESPONSE) && !v->req_done && !v->rq.upgrade)
		expose_send_body(v);
	else if (v->state == VISITOR_UPGRADING)
		expose_resp_flush(v);
	if (expose_live(v))
		expose_update_interest(v);
}

static void
v_on_close(struct stream *st)
{
	struct visitor *v = st->owner;

	if (v == NULL || v->st != st)
		return;
	v->st = NULL; /* being freed by the mux */
	switch (v->state) {
	case VISITOR_WAIT:
		expose_exchange_end(v, FRAME_CODE_CANCEL, NULL);
		expose_resp_answer_str(v, 502, "the tunnel session ended", 0, NULL);
		break;
	case VISITOR_RESPONSE:
	case VISITOR_UPGRADING:
		fail_after_head(v, FRAME_CODE_CANCEL, "the tunnel session ended");
		break;
	default:
		break;
	}
}

/* see expose_int.h */
const struct stream_ops expose_resp_stream_ops = {
    .on_data = v_on_data,
    .on_eof = v_on_eof,
    .on_reset = v_on_reset,
    .on_credit = v_on_credit,
    .on_head = v_on_head,
    .on_close = v_on_close,
};
