/*
 * session_bind.c: the BIND and UNBIND frames of a session (see
 * session_int.h). The binding registry (bind.c) decides and says what it
 * did; the answers are written here: BIND_OK / BIND_ERR, UNBIND_OK /
 * UNBIND_ERR, and, when a takeover moved a port to this session, RESET
 * (BIND_TAKEOVER) of the old holder's streams on it and BIND_REVOKED.
 */
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "session.h"
#include "session_int.h"

struct revoke_ctx {
	struct session *s;
	uint32_t bind_id;
};

static void
revoke_stream(struct stream *st, void *arg)
{
	struct revoke_ctx *rc = arg;

	if (st->bind_id == rc->bind_id)
		mux_send_reset(&rc->s->mux, st, FRAME_CODE_BIND_TAKEOVER, "binding taken over");
}

/* "containerPort": the port, or null and "subdomain" for a host route. */
static void
route_fields(struct json_writer *w, const struct bind_route *rt)
{
	if (rt->port != 0) {
		json_w_kv_int(w, "containerPort", rt->port);
		return;
	}
	json_w_kv_null(w, "containerPort");
	json_w_kv_str(w, "subdomain", rt->name);
}

/* Binding bind_id of s was taken over: RESET its streams and tell s with BIND_REVOKED. */
static void
revoke_binding(struct session *s, uint32_t bind_id, const struct bind_route *rt)
{
	struct revoke_ctx rc = { s, bind_id };
	struct buf *out = &s->d->scratch;
	struct json_writer w;

	stream_foreach(&s->mux.streams, revoke_stream, &rc);
	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_kv_uint(&w, "bindId", bind_id);
	route_fields(&w, rt);
	json_w_kv_str(&w, "reason", "BIND_TAKEOVER");
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, FRAME_BIND_REVOKED, out->pos, buf_len(out));
}

/* "port 3000" or "subdomain demo", for the log. */
static const char *
route_words(const struct bind_route *rt, char *buf, size_t len)
{
	if (rt->port != 0)
		snprintf(buf, len, "port %d", rt->port);
	else
		snprintf(buf, len, "subdomain %s%s", rt->name, rt->cluster ? " (cluster)" : "");
	return buf;
}

static void
bind_answer(struct session *s, const struct bind_result *r)
{
	struct buf *out = &s->d->scratch;
	const struct binding *b = r->b;
	struct json_writer w;

	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_key(&w, "clientBindRef");
	if (r->ref != NULL)
		json_w_raw(&w, r->ref, r->ref_len);
	else
		json_w_null(&w);
	if (b != NULL) {
		json_w_kv_uint(&w, "bindId", b->id);
		route_fields(&w, b->route);
		if (b->public_url[0])
			json_w_kv_str(&w, "publicUrl", b->public_url);
		else
			json_w_kv_null(&w, "publicUrl");
	} else {
		json_w_kv_str(&w, "code", r->code);
		json_w_kv_str(&w, "message", r->message);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, b ? FRAME_BIND_OK : FRAME_BIND_ERR, out->pos, buf_len(out));
}

/* ALREADY_BOUND by another session: say whether it is parked, and whether a takeover would do. */
static void
already_bound_hint(struct bind_result *r)
{
	size_t len = strlen(r->message);
	int parked = session_parked(r->held_by);

	snprintf(r->message + len, sizeof(r->message) - len, "%s%s",
		 parked ? "; that session is parked (its client is reconnecting, or gone)" : "",
		 !r->takeover_ok ? ""
		 : parked        ? ": takeover moves it now"
				 : " (takeover moves it)");
}

/* see session_int.h */
void
session_bind_recv(struct session *s, const uint8_t *p, size_t n)
{
	struct bind_result r;
	const struct binding *b;
	char what[96];

	if (s->socks[0] != NULL)
		s->binds.via_port = net_local_port(s->socks[0]->t.conn.fd);
	bind_handle(&s->binds, s->state == SESSION_ACTIVE, p, n, &r);
	b = r.b;
	if (b == NULL && r.held_by != NULL && r.held_by != s)
		already_bound_hint(&r);
	if (b == NULL) {
		/* INTERNAL is the daemon's own trouble (no descriptor, no random numbers): an error */
		log_at_kv(strcmp(r.code, "INTERNAL") == 0 ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
			  LOG_KV(LOG_S("session", s->id), LOG_S("code", r.code)),
			  "session %s: bind refused: %s: %s", s->id, r.code, r.message);
		bind_answer(s, &r);
		return;
	}
	if (r.revoked_s != NULL) {
		log_info_kv(LOG_KV(LOG_S("session", s->id)),
			    "session %s: took %s over from session %s (bind %u -> %u)", s->id,
			    route_words(b->route, what, sizeof(what)), r.revoked_s->id, r.revoked_id, b->id);
		revoke_binding(r.revoked_s, r.revoked_id, b->route);
	}
	log_info_kv(LOG_KV(LOG_S("session", s->id), LOG_N("bind", b->id), LOG_N("port", b->route->port)),
		    "session %s: bound %s %s (bind %u)", s->id, bind_mode_name(b->kind),
		    route_words(b->route, what, sizeof(what)), b->id);
	session_touch(s);
	bind_answer(s, &r);
}

/* see session_int.h */
void
session_bind_unbind(struct session *s, const uint8_t *p, size_t n)
{
	struct bind_unbind_result r;
	struct buf *out = &s->d->scratch;
	struct json_writer w;

	bind_handle_unbind(&s->binds, p, n, &r);
	if (r.code == NULL)
		log_info_kv(LOG_KV(LOG_S("session", s->id), LOG_N("bind", r.id)),
			    "session %s: unbound bind %u", s->id, (uint32_t)r.id);
	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_kv_int(&w, "bindId", r.id);
	if (r.code != NULL) {
		json_w_kv_str(&w, "code", r.code);
		json_w_kv_str(&w, "message", r.message);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, r.code ? FRAME_UNBIND_ERR : FRAME_UNBIND_OK, out->pos, buf_len(out));
	if (r.code == NULL)
		session_touch(s);
}
