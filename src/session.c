/*
 * session.c: tunnel sockets, session-level frames, liveness, parking,
 * resume and the ends of a session (see session.h), and the daemon-wide
 * views over them: gauges and the drain. The handshake frames (HELLO,
 * JOIN, join tickets, the shard map) are in session_hello.c, BIND and
 * UNBIND in session_bind.c.
 *
 * Stream-level frames go to the mux; PULL and EXPOSE connections open
 * their streams through session_accepts_streams and the mux.
 */
#include "session.h"
#include "session_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "util.h"
#include "ws.h"

static const struct tunnel_ops tconn_ops;
static const struct mux_ops session_mux_ops;
static void session_end(struct session *s, const char *why);
static void check_drained(struct daemon *d);
static void goaway(struct session *s, unsigned code, const char *reason, unsigned ws_code, int park);

/* ---- small helpers ------------------------------------------------------ */

/* A fresh id, "S-" and a random UUID (version 4): 0, or the -errno of util_random. */
static int
make_id(char out[SESSION_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[16];
	size_t i, o = 2;
	int rc = util_random(r, sizeof(r));

	if (rc < 0)
		return rc;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* UUID version 4 */
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	out[0] = 'S';
	out[1] = '-';
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 15];
	}
	out[o] = '\0';
	return 0;
}

struct tunnel *
session_primary(const struct session *s)
{
	return s->socks[0] ? &s->socks[0]->t : NULL;
}

/* see session.h */
int
session_send(struct session *s, uint8_t type, const void *payload, size_t len)
{
	struct tunnel *t = session_primary(s);

	return t ? tunnel_send(t, type, 0, payload, len) : -EPIPE;
}

void
tconn_set_state(struct tconn *tc, enum tconn_state st)
{
	if (tc->state == TCONN_PRE_AUTH && st != TCONN_PRE_AUTH && tc->d->npreauth > 0)
		tc->d->npreauth--;
	tc->state = st;
}

void
session_set_state(struct session *s, enum session_state st)
{
	struct daemon *d = s->d;

	if (s->state == SESSION_PARKED && st != SESSION_PARKED && d->norphans > 0)
		d->norphans--;
	if (st == SESSION_PARKED && s->state != SESSION_PARKED)
		d->norphans++;
	if (st == SESSION_CLOSING && s->state != SESSION_CLOSING && d->nsessions > 0)
		d->nsessions--;
	s->state = st;
}

/* ---- tunnel sockets ------------------------------------------------------- */

static void
on_hello_timeout(struct reactor *r, struct reactor_timer *t)
{
	struct tconn *tc = container_of(t, struct tconn, hello_timer);

	(void)r;
	if (tc->state != TCONN_PRE_AUTH)
		return;
	log_info_kv(LOG_KV(LOG_S("peer", tc->peer)), "tunnel socket from %s: no HELLO in time, closing",
		    tc->peer);
	metrics_handshake_rejected(&tc->d->metrics, METRICS_REJECT_HELLO_TIMEOUT);
	tconn_set_state(tc, TCONN_CLOSING);
	tunnel_abort(&tc->t, WS_CLOSE_ABNORMAL, "hello timeout");
}

/* see session.h */
int
tconn_start(struct daemon *d, struct conn *conn, int v2, const char *peer, uint64_t accepted_ms,
	    const uint8_t *pre, size_t pre_len)
{
	const struct config *c = d->cfg;
	struct tconn *tc = calloc(1, sizeof(*tc));
	uint64_t elapsed = reactor_now(&d->r) - accepted_ms;

	if (tc == NULL ||
	    tunnel_init(&tc->t, &d->tl, conn, WS_ROLE_SERVER, &tconn_ops, tc, pre, pre_len) < 0) {
		free(tc);
		conn_close(conn);
		fdbudget_release(&d->fds, 1);
		return -ENOMEM;
	}
	tc->d = d;
	tc->v2 = v2;
	tc->state = TCONN_PRE_AUTH;
	tc->accepted_ms = accepted_ms;
	snprintf(tc->peer, sizeof(tc->peer), "%s", peer);
	d->npreauth++;
	tc->next = d->tconns;
	if (d->tconns)
		d->tconns->prev = tc;
	d->tconns = tc;
	reactor_timer_init(&tc->hello_timer, on_hello_timeout);
	reactor_timer_start(&d->r, &tc->hello_timer,
			    elapsed < c->hello_timeout_ms ? c->hello_timeout_ms - elapsed : 0, 0);
	return 0;
}

static void
tconn_free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct tconn *tc = container_of(df, struct tconn, free_defer);
	struct daemon *d = tc->d;

	(void)r;
	d->metrics.bytes_received_total += tc->t.bytes_in;
	d->metrics.bytes_sent_total += tc->t.bytes_out;
	d->metrics.frames_received_total += tc->t.frames_in;
	d->metrics.frames_sent_total += tc->t.frames_out;
	tunnel_fini(&tc->t);
	fdbudget_release(&d->fds, 1);
	free(tc);
	check_drained(d);
}

/* Forget the session of a socket (it keeps closing on its own). */
void
tconn_detach(struct tconn *tc)
{
	struct session *s = tc->s;

	if (s == NULL)
		return;
	if (s->socks[tc->index] == tc) {
		s->socks[tc->index] = NULL;
		mux_detach(&s->mux, tc->index);
	}
	tc->s = NULL;
	tconn_set_state(tc, TCONN_CLOSING);
}

static void session_sock_lost(struct session *s, struct tconn *tc);

/*
 * How the socket of t ended, for the log: "closed by client" when the
 * client started the closing handshake (with its code, the code's name and
 * its reason unless the code is 1000 or absent), else "connection lost"
 * (EOF, reset, silence). Written into buf, which is returned.
 */
static const char *
loss_why(const struct tunnel *t, char *buf, size_t cap)
{
	unsigned code = t->peer_close_code;
	const char *name = ws_close_code_name(code), *reason = t->peer_close_reason;

	if (code == 0)
		return "connection lost";
	if (code == WS_CLOSE_NORMAL || code == WS_CLOSE_NO_STATUS)
		return "closed by client";
	if (name != NULL && util_strcaseeq(reason, strlen(reason), name))
		reason = "";
	snprintf(buf, cap, "closed by client (%u%s%s%s%s)", code, name ? " " : "", name ? name : "",
		 *reason ? (name ? ": " : " ") : "", reason);
	return buf;
}

static void
t_on_closed(struct tunnel *t, unsigned ws_code, const char *reason)
{
	struct tconn *tc = t->owner;
	struct daemon *d = tc->d;

	reactor_timer_stop(&d->r, &tc->hello_timer);
	if (reason == tunnel_reason_replies)
		log_warn_kv(LOG_KV(LOG_S("peer", tc->peer)),
			    "tunnel socket from %s cut off: %s (over %zu bytes of them queued)", tc->peer,
			    reason, t->reply_max);
	if (tc->s != NULL)
		session_sock_lost(tc->s, tc);
	else if (tc->state == TCONN_PRE_AUTH && reason != tunnel_reason_replies)
		/* a rejection, a hello timeout or a session's end said it already */
		log_debug("tunnel socket from %s closed before HELLO (%u %s)", tc->peer, ws_code,
			  reason ? reason : "");
	tconn_set_state(tc, TCONN_CLOSING);
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		d->tconns = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	reactor_defer(&d->r, &tc->free_defer, tconn_free_cb);
}

/* see session.h */
void
session_close_all(struct daemon *d)
{
	struct tconn *tc;

	while (d->sessions != NULL)
		session_end(d->sessions, "daemon exit");
	for (tc = d->tconns; tc != NULL; tc = tc->next)
		tunnel_abort(&tc->t, WS_CLOSE_GOING_AWAY, "daemon exit");
}

/* see session_int.h */
void
session_reject(struct tconn *tc, unsigned code, const char *reason, enum metrics_reject why)
{
	session_reject_detail(tc, code, reason, NULL, why);
}

/* see session_int.h */
void
session_reject_detail(struct tconn *tc, unsigned code, const char *reason, const char *detail,
		      enum metrics_reject why)
{
	log_info_kv(LOG_KV(LOG_S("peer", tc->peer)), "tunnel socket from %s rejected: %s%s%s%s", tc->peer,
		    reason, detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	metrics_handshake_rejected(&tc->d->metrics, why);
	metrics_goaway(&tc->d->metrics, code);
	tunnel_send_code(&tc->t, FRAME_GOAWAY, 0, code, reason);
	tconn_set_state(tc, TCONN_CLOSING);
	tunnel_close(&tc->t,
		     code == FRAME_CODE_AUTH_ERROR       ? WS_CLOSE_POLICY
		     : code == FRAME_CODE_INTERNAL_ERROR ? WS_CLOSE_INTERNAL
							 : WS_CLOSE_PROTOCOL,
		     reason, 2000);
}

/* ---- liveness ------------------------------------------------------------- */

static void
check_idle(struct session *s, uint64_t now)
{
	const struct config *c = s->d->cfg;

	if (s->mux.streams.count != 0 || s->binds.n != 0 || c->idle_timeout_ms == 0) {
		s->idle_since = 0;
		return;
	}
	if (s->idle_since == 0) {
		s->idle_since = now;
	} else if (now - s->idle_since >= c->idle_timeout_ms) {
		log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s: idle, closing", s->id);
		goaway(s, FRAME_CODE_IDLE_TIMEOUT, "idle timeout", WS_CLOSE_NORMAL, 0);
	}
}

static void
on_live(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, live_timer);
	const struct config *c = s->d->cfg;
	struct tunnel *p = session_primary(s);
	uint64_t now = reactor_now(r), since;

	if (p == NULL || (s->state != SESSION_ACTIVE && s->state != SESSION_DRAINING))
		return;
	since = now - p->last_rx_ms;
	if (s->ping_sent && p->last_rx_ms >= s->ping_sent)
		s->ping_sent = 0;
	if (since >= c->pong_timeout_ms) {
		log_info_kv(LOG_KV(LOG_S("session", s->id)),
			    "session %s: nothing received for %llu ms, dropping the socket", s->id,
			    (unsigned long long)since);
		goaway(s, FRAME_CODE_IDLE_TIMEOUT, "pong timeout", WS_CLOSE_GOING_AWAY, 1);
		return;
	}
	if (since >= c->ping_interval_ms && s->ping_sent == 0) {
		uint8_t nonce[FRAME_PING_LEN];

		frame_ping_encode(nonce, now);
		tunnel_send(p, FRAME_PING, 0, nonce, sizeof(nonce));
		s->ping_sent = now;
	}
	if (s->state == SESSION_ACTIVE)
		check_idle(s, now);
}

static uint64_t
live_period(const struct config *c)
{
	uint64_t p = UTIL_MIN(c->ping_interval_ms, c->pong_timeout_ms) / 4;

	if (c->idle_timeout_ms > 0)
		p = UTIL_MIN(p, c->idle_timeout_ms / 4);
	return UTIL_MAX(UTIL_MIN(p, 1000), 20);
}

/* ---- ends -------------------------------------------------------------------- */

static void
session_free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct session *s = container_of(df, struct session, free_defer);
	struct daemon *d = s->d;

	(void)r;
	mux_fini(&s->mux);
	free(s);
	check_drained(d);
}

/* Release everything; sockets still attached are closed. */
static void
session_end(struct session *s, const char *why)
{
	struct daemon *d = s->d;
	int i;

	if (s->state == SESSION_CLOSING)
		return;
	log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s ended (%s)", s->id, why);
	session_set_state(s, SESSION_CLOSING);
	reactor_timer_stop(&d->r, &s->live_timer);
	reactor_timer_stop(&d->r, &s->drain_timer);
	reactor_timer_stop(&d->r, &s->park_timer);
	bind_release_all(&s->binds);
	for (i = 0; i < MUX_MAX_SOCKS; i++) {
		struct tconn *tc = s->socks[i];

		if (tc == NULL)
			continue;
		tconn_detach(tc);
		tunnel_close(&tc->t, WS_CLOSE_NORMAL, "session ended", 1000);
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	reactor_defer(&d->r, &s->free_defer, session_free_cb);
}

static void
on_park_timeout(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, park_timer);

	(void)r;
	session_end(s, "takeover grace over");
}

/* The primary is gone without our GOAWAY (why: loss_why): keep the bindings for the grace. */
static void
park(struct session *s, const char *why)
{
	const struct config *c = s->d->cfg;
	int i;

	if (c->takeover_grace_ms == 0 || s->binds.n == 0) {
		session_end(s, why);
		return;
	}
	for (i = 1; i < MUX_MAX_SOCKS; i++) {
		struct tconn *tc = s->socks[i];

		if (tc == NULL)
			continue;
		tconn_detach(tc);
		tunnel_close(&tc->t, WS_CLOSE_GOING_AWAY, "primary lost", 1000);
	}
	session_set_state(s, SESSION_PARKED);
	s->parked_ms = reactor_now(&s->d->r);
	reactor_timer_stop(&s->d->r, &s->live_timer);
	reactor_timer_init(&s->park_timer, on_park_timeout);
	reactor_timer_start(&s->d->r, &s->park_timer, c->takeover_grace_ms, 0);
	log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s parked for %llu ms (%u binding%s kept): %s",
		    s->id, (unsigned long long)c->takeover_grace_ms, s->binds.n, s->binds.n == 1 ? "" : "s",
		    why);
}

/* see session_int.h */
int
session_evict_parked(struct daemon *d)
{
	struct session *s, *oldest = NULL;

	for (s = d->sessions; s != NULL; s = s->next)
		if (s->state == SESSION_PARKED && (oldest == NULL || s->parked_ms <= oldest->parked_ms))
			oldest = s;
	if (oldest == NULL)
		return 0;
	d->metrics.sessions_evicted_total++;
	session_end(oldest, "evicted: the oldest parked session made room for a new one at --max-sessions");
	return 1;
}

static void
session_sock_lost(struct session *s, struct tconn *tc)
{
	char buf[WS_MAX_CONTROL + 64];
	const char *why = loss_why(&tc->t, buf, sizeof(buf));
	int index = tc->index;

	tconn_detach(tc);
	if (index != 0) {
		log_debug("session %s: socket %d %s", s->id, index, tc->t.peer_close_code ? why : "lost");
		if (s->state == SESSION_ACTIVE)
			session_hello_shard_map(s);
		return;
	}
	if (s->state == SESSION_ACTIVE && !s->end_on_loss)
		park(s, why);
	else
		session_end(s, s->state == SESSION_DRAINING ? "drained" : "closed");
}

/* GOAWAY(code) on the primary, then close it; park: the session waits for a resume. */
static void
goaway(struct session *s, unsigned code, const char *reason, unsigned ws_code, int do_park)
{
	struct tunnel *p = session_primary(s);

	s->end_on_loss = !do_park;
	metrics_goaway(&s->d->metrics, code);
	if (p == NULL || p->state != TUNNEL_OPEN) {
		if (!do_park)
			session_end(s, reason);
		return;
	}
	tunnel_send_code(p, FRAME_GOAWAY, 0, code, reason);
	tunnel_close(p, ws_code, reason, 2000);
}

static void
m_on_error(struct mux *m, unsigned code, const char *reason)
{
	struct session *s = m->owner;

	log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s: protocol error: %s", s->id, reason);
	goaway(s, code, reason, WS_CLOSE_PROTOCOL, 0);
}

static void
m_on_reset_sent(struct mux *m, unsigned code)
{
	struct session *s = m->owner;

	metrics_reset(&s->d->metrics, code);
}

static const struct mux_ops session_mux_ops = {
	.on_error = m_on_error,
	.on_reset_sent = m_on_reset_sent,
};

/* ---- new and attached sessions (the HELLO itself: session_hello.c) -------- */

/* Attach tc as the primary socket of s. */
void
session_attach_primary(struct session *s, struct tconn *tc)
{
	struct daemon *d = s->d;

	reactor_timer_stop(&d->r, &tc->hello_timer);
	tconn_set_state(tc, TCONN_ATTACHED);
	tc->s = s;
	tc->index = 0;
	s->socks[0] = tc;
	snprintf(s->peer, sizeof(s->peer), "%s", tc->peer);
	mux_reset_windows(&s->mux);
	mux_attach(&s->mux, 0, &tc->t);
	s->end_on_loss = 0;
	s->ping_sent = 0;
	s->idle_since = 0;
	session_set_state(s, SESSION_ACTIVE);
	reactor_timer_start(&d->r, &s->live_timer, live_period(d->cfg), live_period(d->cfg));
}

/* see session_int.h */
int
session_create(struct tconn *tc, struct session **out)
{
	const struct config *c = tc->d->cfg;
	char id[SESSION_ID_LEN + 1];
	struct session *s;
	int rc = make_id(id);

	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->d = tc->d;
	s->v2 = tc->v2;
	s->state = SESSION_ACTIVE;
	memcpy(s->id, id, sizeof(id));
	bind_set_init(&s->binds, s->d, s);
	if (mux_init(&s->mux, c->max_streams_per_session, c->stream_initial_window, c->session_initial_window,
		     &session_mux_ops, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	reactor_timer_init(&s->live_timer, on_live);
	reactor_timer_init(&s->drain_timer, NULL);
	reactor_timer_init(&s->park_timer, on_park_timeout);
	s->next = tc->d->sessions;
	if (tc->d->sessions)
		tc->d->sessions->prev = s;
	tc->d->sessions = s;
	tc->d->nsessions++;
	*out = s;
	return 0;
}

/* see session_int.h */
void
session_goaway(struct session *s, unsigned code, const char *reason)
{
	goaway(s, code, reason, code == FRAME_CODE_INTERNAL_ERROR ? WS_CLOSE_INTERNAL : WS_CLOSE_PROTOCOL, 0);
}

/* ---- session frames ----------------------------------------------------- */

static int
client_may_send(uint8_t type)
{
	switch (type) {
	case FRAME_BIND:
	case FRAME_UNBIND:
	case FRAME_REISSUE_JOIN_TICKETS:
	case FRAME_EOF:
	case FRAME_RESET:
	case FRAME_WINDOW:
	case FRAME_STREAM_RESPONSE_HEAD:
	case FRAME_PING:
	case FRAME_PONG:
	case FRAME_GOAWAY:
	case FRAME_FORWARD_OPEN: return 1;
	default: return 0;
	}
}

/* FORWARD_OPEN: to forward.c when this session was granted the extension, else refused. */
static void
on_forward_open(struct session *s, struct tconn *tc, uint32_t sid, const uint8_t *p, size_t n)
{
	static const char off[] = "{\"code\":\"DISABLED\",\"message\":\"forwarding is off on this daemon\"}";

	if (!(sid & STREAM_ID_CLIENT) || sid == STREAM_ID_CLIENT ||
	    stream_find(&s->mux.streams, sid) != NULL) {
		goaway(s, FRAME_CODE_PROTOCOL_ERROR, "FORWARD_OPEN needs a new client stream id",
		       WS_CLOSE_PROTOCOL, 0);
		return;
	}
	if (!s->forward || s->d->forward_open == NULL) {
		tunnel_send(&tc->t, FRAME_FORWARD_ERR, sid, off, sizeof(off) - 1);
		return;
	}
	s->d->forward_open(s, tc->index, sid, p, n);
}

static void
on_session_frame(struct session *s, struct tconn *tc, uint8_t type, const uint8_t *p, size_t n)
{
	switch (type) {
	case FRAME_BIND: session_bind_recv(s, p, n); break;
	case FRAME_UNBIND: session_bind_unbind(s, p, n); break;
	case FRAME_PING: tunnel_send(&tc->t, FRAME_PONG, 0, p, n); break;
	case FRAME_PONG: s->ping_sent = 0; break;
	case FRAME_GOAWAY: session_end(s, "closed by client"); break; /* no parking: it leaves on purpose */
	case FRAME_REISSUE_JOIN_TICKETS:
		if (s->v2 && s->state == SESSION_ACTIVE)
			session_hello_reissue(s);
		break;
	default: goaway(s, FRAME_CODE_PROTOCOL_ERROR, "unexpected frame", WS_CLOSE_PROTOCOL, 0); break;
	}
}

static void
session_on_control(struct session *s, struct tconn *tc, uint8_t type, uint32_t sid, const uint8_t *p,
		   size_t n)
{
	if (type == FRAME_BIND_REVOKED || type == FRAME_FORWARD_OK || type == FRAME_FORWARD_ERR)
		return; /* extensions of the other direction: ignored */
	if (!client_may_send(type)) {
		goaway(s, FRAME_CODE_PROTOCOL_ERROR, "frame type not allowed from a client",
		       WS_CLOSE_PROTOCOL, 0);
		return;
	}
	if (type == FRAME_FORWARD_OPEN) {
		on_forward_open(s, tc, sid, p, n);
		return;
	}
	if (type == FRAME_RESET && sid != 0) {
		struct frame_code_payload cp;

		if (frame_code_decode(p, n, &cp) == 0)
			metrics_reset_received(&s->d->metrics, cp.code);
	}
	if (mux_on_control(&s->mux, tc->index, type, sid, p, n))
		return;
	if (sid != 0) {
		goaway(s, FRAME_CODE_PROTOCOL_ERROR, "session frame on a stream", WS_CLOSE_PROTOCOL, 0);
		return;
	}
	on_session_frame(s, tc, type, p, n);
}

static void
t_on_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct tconn *tc = t->owner;

	switch (tc->state) {
	case TCONN_PRE_AUTH:
		if (type == FRAME_HELLO)
			session_hello_recv(tc, p, n);
		else if (type == FRAME_JOIN)
			session_hello_join(tc, p, n);
		else
			session_reject(tc, FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO",
				       METRICS_REJECT_PROTOCOL);
		break;
	case TCONN_ATTACHED:
		if (type == FRAME_HELLO || type == FRAME_JOIN)
			goaway(tc->s, FRAME_CODE_PROTOCOL_ERROR, "HELLO sent twice", WS_CLOSE_PROTOCOL, 0);
		else
			session_on_control(tc->s, tc, type, sid, p, n);
		break;
	default: break;
	}
}

static void
t_on_data(struct tunnel *t, const struct frame_event *ev)
{
	struct tconn *tc = t->owner;

	if (tc->state == TCONN_PRE_AUTH)
		session_reject(tc, FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO",
			       METRICS_REJECT_PROTOCOL);
	else if (tc->state == TCONN_ATTACHED)
		mux_on_data(&tc->s->mux, tc->index, ev);
}

static void
t_on_input_end(struct tunnel *t)
{
	struct tconn *tc = t->owner;

	if (tc->state == TCONN_ATTACHED)
		mux_batch_end(&tc->s->mux);
}

static const struct tunnel_ops tconn_ops = {
	.on_control = t_on_control,
	.on_data = t_on_data,
	.on_closed = t_on_closed,
	.on_input_end = t_on_input_end,
};

/* ---- admin, shutdown, takeover ------------------------------------------- */

/* see session.h */
void
session_add_traffic(const struct session *s, struct metrics *m)
{
	int i;

	for (i = 0; i < MUX_MAX_SOCKS; i++) {
		const struct tconn *tc = s->socks[i];

		if (tc == NULL)
			continue;
		m->bytes_received_total += tc->t.bytes_in;
		m->bytes_sent_total += tc->t.bytes_out;
		m->frames_received_total += tc->t.frames_in;
		m->frames_sent_total += tc->t.frames_out;
	}
}

/* see session.h */
struct session *
session_find(struct daemon *d, const char *id)
{
	struct session *s;

	for (s = d->sessions; s != NULL; s = s->next)
		if (s->state != SESSION_CLOSING && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
on_drain_timer(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, drain_timer);
	struct tunnel *p = session_primary(s);

	(void)r;
	if (p != NULL && p->state == TUNNEL_OPEN)
		tunnel_close(p, WS_CLOSE_GOING_AWAY, "drained", 1000);
	else
		session_end(s, "drained");
}

static void
drain(struct session *s, const char *why, uint64_t grace_ms)
{
	if (s->state == SESSION_PARKED) {
		session_end(s, why);
		return;
	}
	if (s->state != SESSION_ACTIVE)
		return;
	s->end_on_loss = 1;
	session_set_state(s, SESSION_DRAINING);
	bind_release_all(&s->binds);
	reactor_timer_init(&s->drain_timer, on_drain_timer);
	reactor_timer_start(&s->d->r, &s->drain_timer, s->mux.streams.count ? grace_ms : 0, 0);
}

static void
drain_with_goaway(struct session *s, const char *why, uint64_t grace_ms)
{
	struct tunnel *p = session_primary(s);

	if (s->state == SESSION_ACTIVE && p != NULL) {
		tunnel_send_code(p, FRAME_GOAWAY, 0, FRAME_CODE_NO_ERROR, why);
		metrics_goaway(&s->d->metrics, FRAME_CODE_NO_ERROR);
	}
	drain(s, why, grace_ms);
}

/* see session.h */
void
session_kill(struct session *s, uint64_t grace_ms)
{
	log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s killed (grace %llu ms)", s->id,
		    (unsigned long long)grace_ms);
	drain_with_goaway(s, "killed", grace_ms);
}

/* see session.h */
void
session_shutdown(struct session *s, uint64_t grace_ms)
{
	drain_with_goaway(s, "shutdown", grace_ms);
}

/* see session.h */
int
session_accepts_streams(const struct session *s)
{
	return s->state == SESSION_ACTIVE && s->socks[0] != NULL && s->socks[0]->t.state == TUNNEL_OPEN &&
	       !session_backlogged(s);
}

/* see session.h */
int
session_backlogged(const struct session *s)
{
	size_t sum = 0;
	int i;

	for (i = 0; i < MUX_MAX_SOCKS; i++)
		if (s->socks[i] != NULL)
			sum += tunnel_backlog(&s->socks[i]->t);
	return sum > SESSION_BACKLOG_MAX;
}

/* see session.h */
void
session_touch(struct session *s)
{
	if (s->state == SESSION_DRAINING && s->mux.streams.count == 0 &&
	    reactor_timer_is_active(&s->drain_timer)) {
		reactor_timer_stop(&s->d->r, &s->drain_timer);
		on_drain_timer(&s->d->r, &s->drain_timer);
	}
}

/* ---- the daemon's sessions: gauges, drain ---------------------------------- */

/* see session.h */
void
session_gauges(const struct daemon *d, struct metrics_gauges *g)
{
	const struct session *s;

	memset(g, 0, sizeof(*g));
	g->sessions_active = d->nsessions - d->norphans;
	g->orphaned_sessions = d->norphans;
	g->bindings_active = d->nbinds;
	g->fd_permits_available = (int64_t)fdbudget_available(&d->fds);
	g->pre_auth_connections = d->npreauth;
	g->requests_in_flight = d->requests_in_flight;
	for (s = d->sessions; s != NULL; s = s->next)
		g->streams_active += s->mux.streams.count;
}

/*
 * Once the drain has nothing left to wait for, stop the reactor. Called
 * from every deferred free (several may run in one closing phase, and
 * more during teardown): only the first one that finds nothing left
 * stops the loop and says so.
 */
static void
check_drained(struct daemon *d)
{
	if (d->phase == DAEMON_DRAINING && d->sessions == NULL && d->tconns == NULL) {
		d->phase = DAEMON_EXITING;
		log_info("drained: exiting");
		reactor_stop(&d->r);
	}
}

/* see session.h */
void
session_shutdown_all(struct daemon *d, uint64_t grace_ms)
{
	struct session *s, *next;

	if (d->phase == DAEMON_RUNNING)
		d->phase = DAEMON_DRAINING;
	for (s = d->sessions; s != NULL; s = next) {
		next = s->next;
		session_shutdown(s, grace_ms);
	}
	check_drained(d);
}
