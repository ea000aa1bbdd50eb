/*
 * pull.c: PULL connections (see pull.h). Each accepted connection costs
 * one FD permit, becomes a tcp stream (STREAM_OPEN) and is pumped raw.
 * Over the session's stream cap, or while the session cannot take
 * streams, a connection is closed at once.
 */
#include "pull.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "pump.h"
#include "session.h"
#include "util.h"

struct pull_conn {
	struct pump pump;
	struct daemon *d;
	struct session *s; /* valid until the pump is done (sessions outlive their pumps) */
	uint32_t sid;
};

static void
pull_done(struct pump *p)
{
	struct pull_conn *pc = p->owner;
	struct daemon *d = pc->d;

	log_debug("pull stream %u finished (up %llu B, down %llu B)", pc->sid,
		  (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down);
	fdbudget_release(&d->fds, 1);
	session_touch(pc->s);
	slab_free(&d->pulls, pc);
}

static int
send_open(struct session *s, struct binding *b, struct stream *st, const char *peer)
{
	struct buf *out = &s->d->scratch;
	struct json_writer w;

	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "kind", "tcp");
	json_w_kv_uint(&w, "bindId", b->id);
	json_w_kv_int(&w, "containerPort", b->port);
	json_w_kv_str(&w, "peerAddr", peer);
	json_w_obj_end(&w);
	if (json_w_finish(&w) != 0)
		return -ENOMEM;
	return mux_send(&s->mux, st, FRAME_STREAM_OPEN, out->pos, buf_len(out));
}

/* Turn an accepted connection into a stream; closes fd on failure. */
static void
open_stream(struct binding *b, int fd, const struct sockaddr_storage *peer)
{
	struct session *s = b->s;
	struct daemon *d = b->d;
	struct pull_conn *pc = NULL;
	struct stream *st = NULL;
	char addr[80];

	net_format_addr((const struct sockaddr *)peer, addr, sizeof(addr));
	pc = slab_alloc(&d->pulls);
	if (pc == NULL || !session_accepts_streams(s) ||
	    (st = mux_open(&s->mux, 0, STREAM_KIND_TCP, -1)) == NULL) {
		log_warn_kv(LOG_KV(LOG_S("session", s->id), LOG_S("peer", addr)),
			    "session %s: refusing PULL connection from %s (%s)", s->id, addr,
			    session_parked(s)       ? "session parked"
			    : session_backlogged(s) ? "tunnel client not reading"
			    : pc                    ? "stream limit"
						    : "connection pool full");
		goto refuse;
	}
	if (send_open(s, b, st, addr) < 0)
		goto refuse;
	pc->d = d;
	pc->s = s;
	pc->sid = st->id;
	st->bind_id = b->id;
	pc->pump.owner = pc;
	if (pump_start(&pc->pump, &d->r, &s->mux, st, fd, 0, pull_done) < 0)
		goto refuse;
	metrics_stream_opened(&d->metrics, METRICS_KIND_TCP);
	log_debug("session %s: PULL stream %u from %s on port %d", s->id, st->id, addr, b->port);
	return;
refuse:
	if (st != NULL)
		mux_send_reset(&s->mux, st, FRAME_CODE_REFUSED_STREAM, "cannot serve");
	if (pc != NULL)
		slab_free(&d->pulls, pc);
	close(fd);
	fdbudget_release(&d->fds, 1);
}

/* A connection accepted on a PULL listener (a PULL route has one holder). */
static void
pull_on_accept(struct bind_route *rt, int fd, const struct sockaddr_storage *peer)
{
	net_set_nodelay(fd, 1);
	open_stream(rt->first, fd, peer);
}

static const struct bind_ops pull_bind_ops = {
	.refusal = NULL, /* a PULL client is closed without a word */
	.on_accept = pull_on_accept,
};

/* see pull.h */
int
pull_init(struct daemon *d, uint32_t capacity)
{
	bind_register(BIND_PULL, &pull_bind_ops);
	return slab_init(&d->pulls, sizeof(struct pull_conn), capacity, 256);
}
