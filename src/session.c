/*
 * session.c: HELLO, session-level frames, liveness and the ends of a
 * session (see session.h). Stream-level frames go to the mux; BIND and
 * UNBIND to bind.c; PULL connections open their streams in pull.c.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "ws.h"

static const struct tunnel_ops session_tunnel_ops;
static const struct mux_ops session_mux_ops;
static void session_goaway_close(struct session *s, unsigned code, const char *reason, unsigned ws_code);

static void
set_state(struct session *s, enum session_state st)
{
	if (s->state == SESSION_PRE_AUTH && st != SESSION_PRE_AUTH && s->d->npreauth > 0)
		s->d->npreauth--;
	if (s->state == SESSION_ACTIVE || s->state == SESSION_DRAINING) {
		if (st == SESSION_CLOSING && s->d->nsessions > 0)
			s->d->nsessions--;
	}
	s->state = st;
}

static void
make_id(char out[SESSION_ID_LEN + 1])
{
	uint8_t r[16];
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 2;

	util_random(r, sizeof(r));
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
}

/* ---- timers ------------------------------------------------------------ */

static void
on_hello_timeout(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, hello_timer);

	(void)r;
	if (s->state != SESSION_PRE_AUTH)
		return;
	log_info("session from %s: no HELLO in time, closing", s->peer);
	metrics_handshake_rejected(&s->d->metrics, METRICS_REJECT_HELLO_TIMEOUT);
	set_state(s, SESSION_CLOSING);
	tunnel_abort(&s->tun, WS_CLOSE_ABNORMAL, "hello timeout");
}

static void
on_live(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, live_timer);
	const struct config *c = s->d->cfg;
	uint64_t now = reactor_now(r), since = now - s->tun.last_rx_ms;

	if (s->state != SESSION_ACTIVE && s->state != SESSION_DRAINING)
		return;
	if (s->ping_sent && s->tun.last_rx_ms >= s->ping_sent)
		s->ping_sent = 0;
	if (since >= c->pong_timeout_ms) {
		log_info("session %s: nothing received for %llu ms, closing", s->id, (unsigned long long)since);
		session_goaway_close(s, FRAME_CODE_IDLE_TIMEOUT, "pong timeout", WS_CLOSE_GOING_AWAY);
		return;
	}
	if (since >= c->ping_interval_ms && s->ping_sent == 0) {
		uint8_t nonce[FRAME_PING_LEN];

		frame_ping_encode(nonce, now);
		tunnel_send(&s->tun, FRAME_PING, 0, nonce, sizeof(nonce));
		s->ping_sent = now;
	}
	if (s->mux.streams.count == 0 && s->nbinds == 0 && c->idle_timeout_ms > 0 &&
	    s->state == SESSION_ACTIVE) {
		if (s->idle_since == 0)
			s->idle_since = now;
		else if (now - s->idle_since >= c->idle_timeout_ms) {
			log_info("session %s: idle, closing", s->id);
			session_goaway_close(s, FRAME_CODE_IDLE_TIMEOUT, "idle timeout", WS_CLOSE_NORMAL);
		}
	} else {
		s->idle_since = 0;
	}
}

static uint64_t
live_period(const struct config *c)
{
	uint64_t p = UTIL_MIN(c->ping_interval_ms, c->pong_timeout_ms) / 4;

	if (c->idle_timeout_ms > 0)
		p = UTIL_MIN(p, c->idle_timeout_ms / 4);
	return UTIL_MAX(UTIL_MIN(p, 1000), 20);
}

/* ---- start / end ------------------------------------------------------ */

/* see session.h */
int
session_start(struct daemon *d, int fd, int v2, const char *peer, uint64_t accepted_ms, const uint8_t *pre,
	      size_t pre_len)
{
	const struct config *c = d->cfg;
	struct session *s = calloc(1, sizeof(*s));
	uint64_t now = reactor_now(&d->r), elapsed = now - accepted_ms;
	int rc;

	if (s == NULL)
		goto fail;
	s->d = d;
	s->v2 = v2;
	s->state = SESSION_PRE_AUTH;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	if (mux_init(&s->mux, c->max_streams_per_session, c->stream_initial_window, c->session_initial_window,
		     &session_mux_ops, s) < 0)
		goto fail;
	rc = tunnel_init(&s->tun, &d->tl, fd, WS_ROLE_SERVER, &session_tunnel_ops, s, pre, pre_len);
	if (rc < 0) {
		mux_fini(&s->mux);
		goto fail;
	}
	mux_attach(&s->mux, 0, &s->tun);
	d->npreauth++;
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	reactor_timer_init(&s->hello_timer, on_hello_timeout);
	reactor_timer_init(&s->live_timer, on_live);
	reactor_timer_init(&s->drain_timer, NULL);
	reactor_timer_start(&d->r, &s->hello_timer, elapsed < c->hello_timeout_ms ? c->hello_timeout_ms - elapsed : 0, 0);
	return 0;
fail:
	free(s);
	close(fd);
	fdbudget_release(&d->fds, 1);
	return -ENOMEM;
}

static void
free_cb(struct reactor *r, struct reactor_deferred *df)
{
	struct session *s = container_of(df, struct session, free_defer);

	(void)r;
	tunnel_fini(&s->tun);
	fdbudget_release(&s->d->fds, 1);
	daemon_check_drained(s->d);
	free(s);
}

/* The primary socket is closed: end the session. */
static void
t_on_closed(struct tunnel *t, unsigned ws_code, const char *reason)
{
	struct session *s = t->owner;
	struct daemon *d = s->d;

	if (s->state != SESSION_PRE_AUTH)
		log_info("session %s closed (%u %s)", s->id, ws_code, reason ? reason : "");
	set_state(s, SESSION_CLOSING);
	reactor_timer_stop(&d->r, &s->hello_timer);
	reactor_timer_stop(&d->r, &s->live_timer);
	reactor_timer_stop(&d->r, &s->drain_timer);
	bind_release_all(s);
	mux_detach(&s->mux, 0);
	mux_fini(&s->mux);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	reactor_defer(&d->r, &s->free_defer, free_cb);
}

/* GOAWAY(code, reason), then the close handshake. */
static void
session_goaway_close(struct session *s, unsigned code, const char *reason, unsigned ws_code)
{
	if (s->tun.state != TUNNEL_OPEN)
		return;
	tunnel_send_code(&s->tun, FRAME_GOAWAY, 0, code, reason);
	metrics_goaway(&s->d->metrics, code);
	tunnel_close(&s->tun, ws_code, reason, 2000);
	if (s->state != SESSION_CLOSING)
		set_state(s, SESSION_CLOSING);
}

static void
reject(struct session *s, unsigned code, const char *reason, enum metrics_reject why)
{
	log_info("session from %s rejected: %s", s->peer, reason);
	metrics_handshake_rejected(&s->d->metrics, why);
	session_goaway_close(s, code, reason, code == FRAME_CODE_AUTH_ERROR ? WS_CLOSE_POLICY : WS_CLOSE_PROTOCOL);
}

static void
m_on_error(struct mux *m, unsigned code, const char *reason)
{
	struct session *s = m->owner;

	log_info("session %s: protocol error: %s", s->id, reason);
	session_goaway_close(s, code, reason, WS_CLOSE_PROTOCOL);
}

static const struct mux_ops session_mux_ops = {
	.on_error = m_on_error,
};

/* ---- HELLO ------------------------------------------------------------- */

static int
hello_auth_ok(struct session *s, const struct json_doc *doc)
{
	int auth = json_get(doc, 0, "auth");
	char token[600];
	ssize_t n;

	if (json_type(doc, auth) != JSON_OBJECT || !json_string_eq(doc, json_get(doc, auth, "kind"), "bearer"))
		return 0;
	n = json_get_string(doc, json_get(doc, auth, "token"), token, sizeof(token));
	if (n < 0)
		return 0;
	n = auth_token_check(s->d->token, s->d->token_len, token, (size_t)n);
	explicit_bzero(token, sizeof(token));
	return n == 1;
}

static void
send_hello_ok(struct session *s)
{
	const struct config *c = s->d->cfg;
	struct buf *b = &s->d->scratch;
	struct json_writer w;

	buf_reset(b, 0);
	json_w_init(&w, b, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "sessionId", s->id);
	json_w_kv_bool(&w, "resumed", false);
	json_w_key(&w, "resumedBinds");
	json_w_arr_begin(&w);
	json_w_arr_end(&w);
	json_w_kv_uint(&w, "streamWindow", c->stream_initial_window);
	json_w_kv_uint(&w, "sessionWindow", c->session_initial_window);
	json_w_kv_uint(&w, "connectionsGranted", s->granted);
	json_w_key(&w, "joinTickets");
	json_w_arr_begin(&w);
	json_w_arr_end(&w);
	json_w_kv_uint(&w, "maxStreams", c->max_streams_per_session);
	json_w_kv_uint(&w, "maxFramePayload", FRAME_MAX_PAYLOAD);
	json_w_kv_uint(&w, "pingIntervalMs", c->ping_interval_ms);
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		tunnel_send(&s->tun, FRAME_HELLO_OK, 0, b->pos, buf_len(b));
}

static void
on_hello(struct session *s, const uint8_t *p, size_t n)
{
	struct daemon *d = s->d;
	struct json_tok toks[64];
	struct json_doc doc;
	int resume;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT) {
		reject(s, FRAME_CODE_PROTOCOL_ERROR, "HELLO is not a JSON object", METRICS_REJECT_PROTOCOL);
		return;
	}
	if (!json_string_eq(&doc, json_get(&doc, 0, "version"), s->v2 ? "hoody-tunnel.v2" : "hoody-tunnel.v1")) {
		reject(s, FRAME_CODE_VERSION_MISMATCH, "version does not match the subprotocol",
		       METRICS_REJECT_VERSION);
		return;
	}
	if (!hello_auth_ok(s, &doc)) {
		reject(s, FRAME_CODE_AUTH_ERROR, "authentication failed", METRICS_REJECT_AUTH);
		return;
	}
	resume = json_get(&doc, 0, "resume");
	if (resume >= 0 && !json_is_null(&doc, resume)) {
		reject(s, FRAME_CODE_PROTOCOL_ERROR, "unknown or expired session", METRICS_REJECT_UNKNOWN_SESSION);
		return;
	}
	if (d->draining) {
		reject(s, FRAME_CODE_RESOURCE_EXHAUSTED, "server shutting down", METRICS_REJECT_SESSION_CAP);
		return;
	}
	if (d->nsessions >= d->cfg->max_sessions) {
		reject(s, FRAME_CODE_RESOURCE_EXHAUSTED, "session limit reached", METRICS_REJECT_SESSION_CAP);
		return;
	}
	make_id(s->id);
	s->granted = 1;
	set_state(s, SESSION_ACTIVE);
	d->nsessions++;
	d->metrics.sessions_opened_total++;
	reactor_timer_stop(&d->r, &s->hello_timer);
	reactor_timer_start(&d->r, &s->live_timer, live_period(d->cfg), live_period(d->cfg));
	send_hello_ok(s);
	log_info("session %s opened from %s (%s)", s->id, s->peer, s->v2 ? "v2" : "v1");
}

/* ---- frames ------------------------------------------------------------ */

static int
client_may_send(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO:
	case FRAME_BIND:
	case FRAME_UNBIND:
	case FRAME_JOIN:
	case FRAME_REISSUE_JOIN_TICKETS:
	case FRAME_EOF:
	case FRAME_RESET:
	case FRAME_WINDOW:
	case FRAME_STREAM_RESPONSE_HEAD:
	case FRAME_PING:
	case FRAME_PONG:
		return 1;
	default:
		return 0;
	}
}

static void
on_session_frame(struct session *s, uint8_t type, const uint8_t *p, size_t n)
{
	switch (type) {
	case FRAME_BIND:
		bind_handle(s, p, n);
		break;
	case FRAME_UNBIND:
		bind_handle_unbind(s, p, n);
		break;
	case FRAME_PING:
		tunnel_send(&s->tun, FRAME_PONG, 0, p, n);
		break;
	case FRAME_PONG:
		s->ping_sent = 0;
		break;
	case FRAME_HELLO:
		session_goaway_close(s, FRAME_CODE_PROTOCOL_ERROR, "HELLO sent twice", WS_CLOSE_PROTOCOL);
		break;
	default: /* JOIN, REISSUE_JOIN_TICKETS: v2 joins are not granted */
		session_goaway_close(s, FRAME_CODE_PROTOCOL_ERROR, "unexpected frame", WS_CLOSE_PROTOCOL);
		break;
	}
}

static void
t_on_control(struct tunnel *t, uint8_t type, uint32_t sid, const uint8_t *p, size_t n)
{
	struct session *s = t->owner;

	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_PRE_AUTH) {
		if (type == FRAME_HELLO)
			on_hello(s, p, n);
		else
			reject(s, FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO", METRICS_REJECT_PROTOCOL);
		return;
	}
	if (type == FRAME_BIND_REVOKED)
		return; /* an extension of the other direction: ignored */
	if (!client_may_send(type)) {
		session_goaway_close(s, FRAME_CODE_PROTOCOL_ERROR, "frame type not allowed from a client",
				     WS_CLOSE_PROTOCOL);
		return;
	}
	if (type == FRAME_RESET && sid != 0) {
		struct frame_code_payload cp;

		if (frame_code_decode(p, n, &cp) == 0)
			metrics_reset_received(&s->d->metrics, cp.code);
	}
	if (mux_on_control(&s->mux, 0, type, sid, p, n))
		return;
	if (sid != 0) {
		session_goaway_close(s, FRAME_CODE_PROTOCOL_ERROR, "session frame on a stream", WS_CLOSE_PROTOCOL);
		return;
	}
	on_session_frame(s, type, p, n);
}

static void
t_on_data(struct tunnel *t, const struct frame_event *ev)
{
	struct session *s = t->owner;

	if (s->state == SESSION_PRE_AUTH) {
		reject(s, FRAME_CODE_PROTOCOL_ERROR, "first frame must be HELLO", METRICS_REJECT_PROTOCOL);
		return;
	}
	if (s->state != SESSION_CLOSING)
		mux_on_data(&s->mux, 0, ev);
}

static const struct tunnel_ops session_tunnel_ops = {
	.on_control = t_on_control,
	.on_data = t_on_data,
	.on_closed = t_on_closed,
};

/* ---- admin and shutdown ------------------------------------------------ */

/* see session.h */
struct session *
session_find(struct daemon *d, const char *id)
{
	struct session *s;

	for (s = d->sessions; s != NULL; s = s->next)
		if (s->state != SESSION_PRE_AUTH && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void
on_drain_timer(struct reactor *r, struct reactor_timer *t)
{
	struct session *s = container_of(t, struct session, drain_timer);

	(void)r;
	if (s->tun.state == TUNNEL_OPEN)
		tunnel_close(&s->tun, WS_CLOSE_GOING_AWAY, "drained", 1000);
	set_state(s, SESSION_CLOSING);
}

static void
drain(struct session *s, const char *why, uint64_t grace_ms)
{
	if (s->state == SESSION_PRE_AUTH) {
		set_state(s, SESSION_CLOSING);
		tunnel_abort(&s->tun, WS_CLOSE_GOING_AWAY, why);
		return;
	}
	if (s->state != SESSION_ACTIVE)
		return;
	tunnel_send_code(&s->tun, FRAME_GOAWAY, 0, FRAME_CODE_NO_ERROR, why);
	metrics_goaway(&s->d->metrics, FRAME_CODE_NO_ERROR);
	set_state(s, SESSION_DRAINING);
	bind_release_all(s);
	reactor_timer_init(&s->drain_timer, on_drain_timer);
	reactor_timer_start(&s->d->r, &s->drain_timer, s->mux.streams.count ? grace_ms : 0, 0);
}

/* see session.h */
void
session_kill(struct session *s, uint64_t grace_ms)
{
	log_info("session %s killed (grace %llu ms)", s->id, (unsigned long long)grace_ms);
	drain(s, "killed", grace_ms);
}

/* see session.h */
void
session_shutdown(struct session *s, uint64_t grace_ms)
{
	drain(s, "shutdown", grace_ms);
}

/* see session.h */
int
session_accepts_streams(const struct session *s)
{
	return s->state == SESSION_ACTIVE && s->tun.state == TUNNEL_OPEN;
}

/* see session.h */
void
session_touch(struct session *s)
{
	if (s->state == SESSION_DRAINING && s->mux.streams.count == 0 && reactor_timer_is_active(&s->drain_timer)) {
		reactor_timer_stop(&s->d->r, &s->drain_timer);
		on_drain_timer(&s->d->r, &s->drain_timer);
	}
}
