/*
 * session_hello.c: the handshake frames of a tunnel socket (see
 * session_int.h): HELLO (bearer token, version, new session or resume,
 * connectionsGranted, HELLO_OK), JOIN of a v2 secondary socket with its
 * one-use ticket (JOIN_OK / JOIN_ERR), ticket issue and reissue, and the
 * SHARD_MAP sent when the set of sockets changes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "bind.h"
#include "clock.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "session.h"
#include "session_int.h"
#include "util.h"
#include "ws.h"

/* What is wrong with the HELLO's credentials, for the log (never the token), or NULL. */
static const char *
hello_auth_fault(struct daemon *d, const struct json_doc *doc)
{
	int auth = json_get(doc, 0, "auth");
	char token[600];
	ssize_t n;
	int ok;

	if (json_type(doc, auth) != JSON_OBJECT ||
	    !json_string_eq(doc, json_get(doc, auth, "kind"), "bearer"))
		return "no bearer token";
	n = json_get_string(doc, json_get(doc, auth, "token"), token, sizeof(token));
	if (n < 0)
		return "no bearer token";
	ok = auth_token_check(d->token, d->token_len, token, (size_t)n);
	explicit_bzero(token, sizeof(token));
	return ok == 1 ? NULL : "wrong token";
}

/* Fresh join nonces, one per index: made before anything changes, as making them may fail. */
struct nonces {
	char n[MUX_MAX_SOCKS][SESSION_NONCE_LEN + 1];
};

/* Nonces for the indices 1..granted-1: 0, or the -errno of util_random. */
static int
make_nonces(struct nonces *nc, unsigned granted)
{
	unsigned i;
	int rc;

	for (i = 1; i < granted; i++) {
		rc = util_random_alnum(nc->n[i], SESSION_NONCE_LEN);
		if (rc < 0)
			return rc;
		nc->n[i][SESSION_NONCE_LEN] = '\0';
	}
	return 0;
}

/* A HELLO the daemon cannot serve for want of random numbers (what for: "a session id"). */
static void
reject_no_random(struct tconn *tc, const char *what, int rc)
{
	log_error_kv(LOG_KV(LOG_S("peer", tc->peer)), "tunnel socket from %s: no random numbers for %s: %s",
		     tc->peer, what, strerror(-rc));
	session_reject_detail(tc, FRAME_CODE_INTERNAL_ERROR, "internal error", "no random numbers",
			      METRICS_REJECT_INTERNAL);
}

static void
issue_ticket(struct session *s, unsigned i, const struct nonces *nc)
{
	struct session_ticket *tk = &s->tickets[i];

	memcpy(tk->nonce, nc->n[i], sizeof(tk->nonce));
	tk->expires_ms = (uint64_t)clock_wall_ms() + s->d->cfg->join_ticket_ttl_ms;
	tk->issued = 1;
	tk->used = 0;
}

/* Tickets, with the nonces of nc, for every index in 1..granted-1 that has no socket. */
static void
write_tickets(struct session *s, struct json_writer *w, const struct nonces *nc)
{
	unsigned i;

	json_w_key(w, "joinTickets");
	json_w_arr_begin(w);
	for (i = 1; i < s->granted; i++) {
		if (s->socks[i] != NULL)
			continue;
		issue_ticket(s, i, nc);
		json_w_obj_begin(w);
		json_w_kv_uint(w, "index", i);
		json_w_kv_str(w, "nonce", s->tickets[i].nonce);
		json_w_kv_uint(w, "expiresMs", s->tickets[i].expires_ms);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
}

static void
write_resumed(struct session *s, struct json_writer *w, int resumed)
{
	const struct binding *b;

	json_w_key(w, "resumedBinds");
	json_w_arr_begin(w);
	for (b = s->binds.first; resumed && b != NULL; b = b->snext) {
		json_w_obj_begin(w);
		json_w_kv_uint(w, "bindId", b->id);
		json_w_kv_str(w, "kind", bind_kind_name(b->kind));
		json_w_kv_str(w, "mode", bind_mode_name(b->kind));
		if (b->route->port != 0) {
			json_w_kv_int(w, "containerPort", b->route->port);
		} else {
			/* a host route: as in BIND_OK and BIND_REVOKED */
			json_w_kv_null(w, "containerPort");
			json_w_kv_str(w, "subdomain", b->route->name);
		}
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
}

static void
send_hello_ok(struct session *s, int resumed, const struct nonces *nc)
{
	const struct config *c = s->d->cfg;
	struct buf *b = &s->d->scratch;
	struct json_writer w;

	buf_reset(b, 0);
	json_w_init(&w, b, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "sessionId", s->id);
	json_w_kv_bool(&w, "resumed", resumed);
	write_resumed(s, &w, resumed);
	json_w_kv_uint(&w, "streamWindow", c->stream_initial_window);
	json_w_kv_uint(&w, "sessionWindow", c->session_initial_window);
	json_w_kv_uint(&w, "connectionsGranted", s->granted);
	write_tickets(s, &w, nc);
	json_w_kv_uint(&w, "maxStreams", c->max_streams_per_session);
	json_w_kv_uint(&w, "maxFramePayload", FRAME_MAX_PAYLOAD);
	json_w_kv_uint(&w, "pingIntervalMs", c->ping_interval_ms);
	if (s->forward_asked) {
		/* the forward extension: echoed only when the daemon forwards */
		json_w_key(&w, "capabilities");
		json_w_arr_begin(&w);
		if (s->forward)
			json_w_str(&w, "forward", 7);
		json_w_arr_end(&w);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, FRAME_HELLO_OK, b->pos, buf_len(b));
}

/* Does the HELLO ask for capability name? */
static int
asks_for(const struct json_doc *doc, const char *name)
{
	int caps = json_get(doc, 0, "capabilities"), i;

	if (json_type(doc, caps) != JSON_ARRAY)
		return 0;
	for (i = json_first(doc, caps); i >= 0; i = json_next(doc, caps, i))
		if (json_string_eq(doc, i, name))
			return 1;
	return 0;
}

/* connectionsGranted for a HELLO. */
static unsigned
grant(struct tconn *tc, const struct json_doc *doc)
{
	int64_t want = 1;
	unsigned cap = UTIL_MIN(tc->d->cfg->max_connections_per_session, MUX_MAX_SOCKS);

	if (!tc->v2)
		return 1;
	if (!asks_for(doc, "multi-ws") || json_obj_get_int(doc, 0, "maxConnections", &want) != 0 || want < 1)
		return 1;
	return (unsigned)UTIL_MIN((uint64_t)want, (uint64_t)cap);
}

/* Take a session over for a resuming HELLO; NULL when it cannot be. */
static struct session *
resume_target(struct tconn *tc, const struct json_doc *doc, int resume)
{
	char id[SESSION_ID_LEN + 8];
	struct session *s;
	int i;

	if (json_get_string(doc, json_get(doc, resume, "sessionId"), id, sizeof(id)) < 0)
		return NULL;
	s = session_find(tc->d, id);
	if (s == NULL || s->v2 != tc->v2 || (s->state != SESSION_ACTIVE && s->state != SESSION_PARKED))
		return NULL;
	if (s->state == SESSION_ACTIVE) {
		/* still attached: the old sockets are superseded */
		struct tunnel *old = session_primary(s);

		if (old != NULL)
			tunnel_send_code(old, FRAME_GOAWAY, 0, FRAME_CODE_NO_ERROR, "superseded");
		for (i = 0; i < MUX_MAX_SOCKS; i++) {
			struct tconn *o = s->socks[i];

			if (o == NULL)
				continue;
			tconn_detach(o);
			tunnel_close(&o->t, WS_CLOSE_NORMAL, "superseded", 1000);
		}
	}
	reactor_timer_stop(&tc->d->r, &s->park_timer);
	return s;
}

/* see session_int.h */
void
session_hello_recv(struct tconn *tc, const uint8_t *p, size_t n)
{
	struct daemon *d = tc->d;
	struct json_tok toks[64];
	struct json_doc doc;
	struct session *s;
	struct nonces nc;
	const char *fault;
	unsigned granted;
	int resume, rc;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT) {
		session_reject(tc, FRAME_CODE_PROTOCOL_ERROR, "HELLO is not a JSON object",
			       METRICS_REJECT_PROTOCOL);
		return;
	}
	if (!json_string_eq(&doc, json_get(&doc, 0, "version"),
			    tc->v2 ? "hoody-tunnel.v2" : "hoody-tunnel.v1")) {
		session_reject(tc, FRAME_CODE_VERSION_MISMATCH, "version does not match the subprotocol",
			       METRICS_REJECT_VERSION);
		return;
	}
	if ((fault = hello_auth_fault(d, &doc)) != NULL) {
		session_reject_detail(tc, FRAME_CODE_AUTH_ERROR, "authentication failed", fault,
				      METRICS_REJECT_AUTH);
		return;
	}
	if (d->phase != DAEMON_RUNNING) {
		session_reject(tc, FRAME_CODE_RESOURCE_EXHAUSTED, "server shutting down",
			       METRICS_REJECT_SESSION_CAP);
		return;
	}
	granted = grant(tc, &doc);
	if ((rc = make_nonces(&nc, granted)) < 0) {
		reject_no_random(tc, "join tickets", rc);
		return;
	}
	resume = json_get(&doc, 0, "resume");
	if (resume >= 0 && !json_is_null(&doc, resume)) {
		s = resume_target(tc, &doc, resume);
		if (s == NULL) {
			session_reject(tc, FRAME_CODE_PROTOCOL_ERROR, "unknown or expired session",
				       METRICS_REJECT_UNKNOWN_SESSION);
			return;
		}
		d->metrics.sessions_resumed_total++;
	} else {
		if (d->nsessions >= d->cfg->max_sessions && !session_evict_parked(d)) {
			session_reject(tc, FRAME_CODE_RESOURCE_EXHAUSTED, "session limit reached",
				       METRICS_REJECT_SESSION_CAP);
			return;
		}
		rc = session_create(tc, &s);
		if (rc == -ENOMEM) {
			session_reject(tc, FRAME_CODE_INTERNAL_ERROR, "out of memory",
				       METRICS_REJECT_SESSION_CAP);
			return;
		}
		if (rc < 0) {
			reject_no_random(tc, "a session id", rc);
			return;
		}
		d->metrics.sessions_opened_total++;
	}
	s->granted = granted;
	s->forward_asked = (uint8_t)asks_for(&doc, "forward");
	s->forward = (uint8_t)(s->forward_asked && d->forward_open != NULL);
	memset(s->tickets, 0, sizeof(s->tickets));
	session_attach_primary(s, tc);
	send_hello_ok(s, resume >= 0 && !json_is_null(&doc, resume), &nc);
	util_wipe(&nc, sizeof(nc));
	log_info_kv(LOG_KV(LOG_S("session", s->id)), "session %s %s from %s (%s, %u connection%s)", s->id,
		    resume >= 0 && !json_is_null(&doc, resume) ? "resumed" : "opened", s->peer,
		    s->v2 ? "v2" : "v1", s->granted, s->granted == 1 ? "" : "s");
}

static void
join_answer(struct tconn *tc, struct session *s, const char *code, const char *msg)
{
	struct buf *b = &tc->d->scratch;
	struct json_writer w;

	buf_reset(b, 0);
	json_w_init(&w, b, 0);
	json_w_obj_begin(&w);
	if (code == NULL) {
		json_w_kv_str(&w, "sessionId", s->id);
		json_w_kv_int(&w, "index", tc->index);
	} else {
		json_w_kv_str(&w, "code", code);
		json_w_kv_str(&w, "message", msg);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		tunnel_send(&tc->t, code ? FRAME_JOIN_ERR : FRAME_JOIN_OK, 0, b->pos, buf_len(b));
}

/* Check a JOIN; the error code, or NULL with *out set. */
static const char *
join_check(struct tconn *tc, const struct json_doc *doc, struct session **out, int64_t *index)
{
	char id[SESSION_ID_LEN + 8], nonce[SESSION_NONCE_LEN + 8];
	struct session *s;
	struct session_ticket *tk;
	ssize_t nl;

	if (!tc->v2 || json_obj_get_str(doc, 0, "sessionId", id, sizeof(id)) < 0 ||
	    json_obj_get_int(doc, 0, "index", index) != 0)
		return "INVALID_JOIN";
	nl = json_obj_get_str(doc, 0, "nonce", nonce, sizeof(nonce));
	s = session_find(tc->d, id);
	if (s == NULL || s->state != SESSION_ACTIVE)
		return "UNKNOWN_SESSION";
	if (*index < 1 || *index >= (int64_t)s->granted)
		return "INVALID_INDEX";
	tk = &s->tickets[*index];
	if (nl < 0 || !tk->issued || tk->used ||
	    !util_ct_equal(nonce, (size_t)nl, tk->nonce, SESSION_NONCE_LEN))
		return "INVALID_TICKET";
	if ((uint64_t)clock_wall_ms() > tk->expires_ms)
		return "TICKET_EXPIRED";
	if (s->socks[*index] != NULL)
		return "INDEX_IN_USE";
	tk->used = 1;
	*out = s;
	return NULL;
}

/* see session_int.h */
void
session_hello_join(struct tconn *tc, const uint8_t *p, size_t n)
{
	struct json_tok toks[32];
	struct json_doc doc;
	struct session *s = NULL;
	int64_t index = 0;
	const char *code = "INVALID_JOIN";

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) == 0)
		code = join_check(tc, &doc, &s, &index);
	if (code != NULL) {
		log_info_kv(LOG_KV(LOG_S("peer", tc->peer)), "tunnel socket from %s: JOIN refused: %s",
			    tc->peer, code);
		metrics_handshake_rejected(&tc->d->metrics, METRICS_REJECT_JOIN);
		join_answer(tc, NULL, code, "join refused");
		tconn_set_state(tc, TCONN_CLOSING);
		tunnel_close(&tc->t, WS_CLOSE_POLICY, "join refused", 2000);
		return;
	}
	reactor_timer_stop(&tc->d->r, &tc->hello_timer);
	tconn_set_state(tc, TCONN_ATTACHED);
	tc->s = s;
	tc->index = (int)index;
	s->socks[index] = tc;
	mux_attach(&s->mux, (int)index, &tc->t);
	join_answer(tc, s, NULL, NULL);
	session_hello_shard_map(s);
	log_debug("session %s: socket %d joined from %s", s->id, tc->index, tc->peer);
}

/* see session_int.h */
void
session_hello_shard_map(struct session *s)
{
	char js[16 + 4 * MUX_MAX_SOCKS];
	size_t n = 0;
	int i, first = 1;

	if (!s->v2)
		return;
	n += (size_t)snprintf(js, sizeof(js), "{\"shards\":[");
	for (i = 0; i < MUX_MAX_SOCKS; i++) {
		if (s->socks[i] == NULL)
			continue;
		n += (size_t)snprintf(js + n, sizeof(js) - n, "%s%d", first ? "" : ",", i);
		first = 0;
	}
	n += (size_t)snprintf(js + n, sizeof(js) - n, "]}");
	session_send(s, FRAME_SHARD_MAP, js, n);
}

/* see session_int.h */
void
session_hello_reissue(struct session *s)
{
	struct buf *b = &s->d->scratch;
	struct json_writer w;
	struct nonces nc;
	int rc = make_nonces(&nc, s->granted);

	if (rc < 0) {
		log_error_kv(LOG_KV(LOG_S("session", s->id)),
			     "session %s: no random numbers for join tickets: %s", s->id, strerror(-rc));
		session_goaway(s, FRAME_CODE_INTERNAL_ERROR, "internal error");
		return;
	}
	buf_reset(b, 0);
	json_w_init(&w, b, 0);
	json_w_obj_begin(&w);
	write_tickets(s, &w, &nc);
	json_w_obj_end(&w);
	util_wipe(&nc, sizeof(nc));
	if (json_w_finish(&w) == 0)
		session_send(s, FRAME_REISSUE_JOIN_TICKETS, b->pos, buf_len(b));
}
