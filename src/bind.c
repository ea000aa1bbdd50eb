/*
 * bind.c: BIND / UNBIND and the registry of bindings (see bind.h).
 */
#include "bind.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expose.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "pull.h"
#include "session.h"
#include "util.h"

#define EXPOSE_PORT_MIN 20000
#define EXPOSE_PORT_MAX 65534
#define RANDOM_PORT_TRIES 64

/* A parsed BIND request. */
struct bind_req {
	const char *ref;     /* clientBindRef as raw JSON text, echoed verbatim */
	size_t ref_len;
	enum bind_kind kind;
	int kind_ok;
	int port;            /* 0: server picks */
	int takeover;
	int v6;
	int host_ok;
	char label[64];
	char basic_user[128];
	char basic_pass[256];
	int unsupported;     /* asked for subdomain routing or cluster mode */
};

/* An answer under construction: BIND_ERR code or 0 for success. */
struct bind_err {
	const char *code;
	char message[160];
};

/* see bind.h */
const char *
bind_kind_name(enum bind_kind k)
{
	return k == BIND_PULL ? "tcp" : "http";
}

/* see bind.h */
const char *
bind_mode_name(enum bind_kind k)
{
	return k == BIND_PULL ? "pull" : "expose";
}

/* see bind.h */
struct binding *
bind_find_port(struct daemon *d, int port)
{
	struct binding *b;

	for (b = d->binds; b != NULL; b = b->dnext)
		if (b->port == port)
			return b;
	return NULL;
}

static void
set_err(struct bind_err *e, const char *code, const char *msg)
{
	e->code = code;
	snprintf(e->message, sizeof(e->message), "%s", msg);
}

static void set_err_port(struct bind_err *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err_port(struct bind_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* ---- parsing ----------------------------------------------------------- */

static int
parse_port(const struct json_doc *doc, int tok, int *port)
{
	int64_t v;

	if (tok < 0 || json_is_null(doc, tok)) {
		*port = 0;
		return 0;
	}
	if (json_get_int(doc, tok, &v) != 0 || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* "basicAuth":{"username":optional,"password":...}: 0, or -1 with e set. */
static int
parse_basic(const struct json_doc *doc, struct bind_req *q, struct bind_err *e)
{
	int ba = json_get(doc, 0, "basicAuth"), u, p;

	if (ba < 0 || json_is_null(doc, ba))
		return 0;
	u = json_get(doc, ba, "username");
	p = json_get(doc, ba, "password");
	if (json_type(doc, ba) != JSON_OBJECT ||
	    json_get_string(doc, p, q->basic_pass, sizeof(q->basic_pass)) <= 0 ||
	    (u >= 0 && !json_is_null(doc, u) && json_get_string(doc, u, q->basic_user, sizeof(q->basic_user)) < 0) ||
	    strchr(q->basic_user, ':') != NULL) {
		set_err(e, "INVALID_KIND", "basicAuth needs a password of 1..255 bytes and a username without ':'");
		return -1;
	}
	return 0;
}

static int
parse_req(const struct json_doc *doc, struct bind_req *q, struct bind_err *e)
{
	int ref = json_get(doc, 0, "clientBindRef"), host = json_get(doc, 0, "host"), tok;
	bool take = false;
	int http, tcp, expose, pull;

	memset(q, 0, sizeof(*q));
	if (ref >= 0) {
		q->ref = doc->text + doc->toks[ref].start - (json_type(doc, ref) == JSON_STRING);
		q->ref_len = doc->toks[ref].end - doc->toks[ref].start + 2u * (json_type(doc, ref) == JSON_STRING);
	}
	http = json_string_eq(doc, json_get(doc, 0, "kind"), "http");
	tcp = json_string_eq(doc, json_get(doc, 0, "kind"), "tcp");
	expose = json_string_eq(doc, json_get(doc, 0, "mode"), "expose");
	pull = json_string_eq(doc, json_get(doc, 0, "mode"), "pull");
	q->kind_ok = (http && expose) || (tcp && pull);
	q->kind = tcp ? BIND_PULL : BIND_EXPOSE;
	tok = json_get(doc, 0, "takeover");
	if (tok >= 0 && !json_is_null(doc, tok) && json_get_bool(doc, tok, &take) != 0)
		q->kind_ok = 0;
	q->takeover = take;
	tok = json_get(doc, 0, "label");
	if (tok >= 0 && json_get_string(doc, tok, q->label, sizeof(q->label)) < 0)
		q->label[0] = '\0';
	q->host_ok = 1;
	if (host >= 0 && !json_is_null(doc, host)) {
		if (json_string_eq(doc, host, "::1"))
			q->v6 = 1;
		else if (!json_string_eq(doc, host, "127.0.0.1"))
			q->host_ok = 0;
	}
	if (parse_basic(doc, q, e) < 0)
		return -1;
	tok = json_get(doc, 0, "cluster");
	q->unsupported = (tok >= 0 && json_type(doc, tok) == JSON_TRUE) ||
			 json_type(doc, json_get(doc, 0, "subdomain")) == JSON_STRING;
	if (parse_port(doc, json_get(doc, 0, "containerPort"), &q->port) < 0) {
		set_err(e, "RESERVED_PORT", "containerPort must be an integer in 0..65535");
		return -1;
	}
	return 0;
}

/* ---- checks and listening ------------------------------------------------ */

static int
check_req(struct session *s, const struct bind_req *q, struct bind_err *e)
{
	const struct config *c = s->d->cfg;
	int priv_ok = q->kind == BIND_PULL ? c->allow_privileged_pull : c->allow_privileged_expose;
	struct binding *held;

	if (q->unsupported && s->d->cfg->domain == NULL) {
		set_err(e, "INVALID_KIND", "subdomain routing and cluster mode need a daemon started with --domain");
		return -1;
	}
	if (q->kind == BIND_PULL && q->basic_pass[0]) {
		set_err(e, "INVALID_KIND", "basicAuth applies to EXPOSE bindings only");
		return -1;
	}
	if (!q->kind_ok || (q->kind == BIND_PULL && q->takeover)) {
		set_err(e, "INVALID_KIND", "valid bindings are http/expose and tcp/pull (takeover only on expose)");
		return -1;
	}
	if (q->port != 0 && (q->port < 80 || q->port == s->d->ctl_port)) {
		set_err_port(e, "RESERVED_PORT", "port %d is reserved", q->port);
		return -1;
	}
	if (q->port != 0 && q->port < 1024 && !priv_ok) {
		set_err_port(e, "PRIVILEGED_PORT", "port %d is privileged (see --allow-privileged-*)", q->port);
		return -1;
	}
	if (q->kind == BIND_PULL && !q->host_ok) {
		set_err(e, "INVALID_HOST", "PULL listens on 127.0.0.1 or ::1 only");
		return -1;
	}
	if (q->port != 0 && (held = bind_find_port(s->d, q->port)) != NULL) {
		if (!q->takeover || held->kind != BIND_EXPOSE || q->kind != BIND_EXPOSE || held->s == s) {
			set_err_port(e, "ALREADY_BOUND", "port %d is held by another binding", q->port);
			return -1;
		}
	}
	if (s->nbinds >= c->max_bindings_per_session) {
		set_err_port(e, "BIND_CAP_EXCEEDED", "at most %d bindings per session", (int)c->max_bindings_per_session);
		return -1;
	}
	return 0;
}

static int
listen_on(struct daemon *d, const struct bind_req *q, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[80];

	if (q->kind == BIND_PULL)
		snprintf(addr, sizeof(addr), q->v6 ? "[::1]:%d" : "127.0.0.1:%d", port);
	else if (strchr(d->cfg->expose_address, ':') != NULL)
		snprintf(addr, sizeof(addr), "[%s]:%d", d->cfg->expose_address, port);
	else
		snprintf(addr, sizeof(addr), "%s:%d", d->cfg->expose_address, port);
	if (net_parse_hostport(addr, 0, &ss, &len) < 0)
		return -EINVAL;
	return net_listen((struct sockaddr *)&ss, len, 511, 0);
}

/* Take the port: an fd, or a BIND_ERR in e. */
static int
take_port(struct session *s, const struct bind_req *q, int *port, struct bind_err *e)
{
	int fd = -EADDRINUSE, i;

	if (fdbudget_acquire(&s->d->fds, 1) < 0) {
		set_err(e, "INTERNAL", "no file descriptors left");
		return -1;
	}
	if (q->port != 0 || q->kind == BIND_PULL) {
		fd = listen_on(s->d, q, q->port);
	} else {
		for (i = 0; i < RANDOM_PORT_TRIES && fd == -EADDRINUSE; i++) {
			uint32_t r;

			util_random(&r, sizeof(r));
			*port = EXPOSE_PORT_MIN + (int)(r % (EXPOSE_PORT_MAX - EXPOSE_PORT_MIN + 1));
			if (*port == s->d->ctl_port || bind_find_port(s->d, *port) != NULL)
				continue;
			fd = listen_on(s->d, q, *port);
		}
	}
	if (fd < 0) {
		fdbudget_release(&s->d->fds, 1);
		if (fd == -EADDRINUSE && q->port != 0)
			set_err_port(e, "PORT_IN_USE", "port %d is in use by another program", q->port);
		else
			set_err(e, "INTERNAL", strerror(-fd));
		return -1;
	}
	if (q->port != 0)
		*port = q->port;
	else if (q->kind == BIND_PULL)
		*port = net_local_port(fd);
	return fd;
}

/* ---- answers ------------------------------------------------------------ */

static void
answer(struct session *s, const struct bind_req *q, const struct binding *b, const struct bind_err *e)
{
	struct buf *out = &s->d->scratch;
	struct json_writer w;

	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_key(&w, "clientBindRef");
	if (q->ref != NULL)
		json_w_raw(&w, q->ref, q->ref_len);
	else
		json_w_null(&w);
	if (b != NULL) {
		json_w_kv_uint(&w, "bindId", b->id);
		json_w_kv_int(&w, "containerPort", b->port);
		if (b->public_url[0])
			json_w_kv_str(&w, "publicUrl", b->public_url);
		else
			json_w_kv_null(&w, "publicUrl");
	} else {
		json_w_kv_str(&w, "code", e->code);
		json_w_kv_str(&w, "message", e->message);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, b ? FRAME_BIND_OK : FRAME_BIND_ERR, out->pos, buf_len(out));
}

static void
public_url(struct daemon *d, struct binding *b)
{
	const char *pat = d->cfg->public_url_pattern, *at;
	size_t pre;

	b->public_url[0] = '\0';
	if (b->kind != BIND_EXPOSE || pat == NULL || *pat == '\0')
		return;
	at = strstr(pat, "{port}");
	if (at == NULL) {
		snprintf(b->public_url, sizeof(b->public_url), "%s", pat);
		return;
	}
	pre = (size_t)(at - pat);
	snprintf(b->public_url, sizeof(b->public_url), "%.*s%d%s", (int)pre, pat, b->port, at + 6);
}


/* Unlink b from the daemon's and its session's lists. */
static void
unlink_binding(struct binding *b)
{
	struct daemon *d = b->d;
	struct session *s = b->s;

	if (b->dprev)
		b->dprev->dnext = b->dnext;
	else
		d->binds = b->dnext;
	if (b->dnext)
		b->dnext->dprev = b->dprev;
	if (b->sprev)
		b->sprev->snext = b->snext;
	else
		s->binds = b->snext;
	if (b->snext)
		b->snext->sprev = b->sprev;
	d->nbinds--;
	s->nbinds--;
}

static void link_binding(struct session *s, struct binding *b);

/*
 * Takeover: the listening socket (and its FD permit) moves from the old
 * binding to a new one of session s, never closed in between; the old
 * owner's streams on it are reset and it is told with BIND_REVOKED.
 */
static struct binding *
take_over(struct session *s, const struct bind_req *q, struct binding *old)
{
	struct daemon *d = s->d;
	struct binding *b = calloc(1, sizeof(*b));
	struct session *prev_owner = old->s;

	if (b == NULL)
		return NULL;
	b->id = ++d->next_bind_id;
	b->kind = BIND_EXPOSE;
	b->port = old->port;
	b->s = s;
	b->d = d;
	snprintf(b->label, sizeof(b->label), "%s", q->label);
	memcpy(b->basic_user, q->basic_user, sizeof(b->basic_user));
	memcpy(b->basic_pass, q->basic_pass, sizeof(b->basic_pass));
	public_url(d, b);
	if (daemon_listener_move(d, &old->l, &b->l, expose_on_accept) < 0) {
		free(b);
		return NULL;
	}
	unlink_binding(old);
	link_binding(s, b);
	log_info("session %s: took port %d over from session %s (bind %u -> %u)", s->id, b->port, prev_owner->id,
		 old->id, b->id);
	session_revoke_binding(prev_owner, old->id, old->port);
	explicit_bzero(old->basic_pass, sizeof(old->basic_pass));
	free(old);
	return b;
}

static struct binding *
add_binding(struct session *s, const struct bind_req *q, int fd, int port)
{
	struct daemon *d = s->d;
	struct binding *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->id = ++d->next_bind_id;
	b->kind = q->kind;
	b->port = port;
	b->v6 = q->v6;
	b->s = s;
	b->d = d;
	snprintf(b->label, sizeof(b->label), "%s", q->label);
	memcpy(b->basic_user, q->basic_user, sizeof(b->basic_user));
	memcpy(b->basic_pass, q->basic_pass, sizeof(b->basic_pass));
	public_url(d, b);
	if (daemon_listener_start(d, &b->l, fd, q->kind == BIND_PULL ? pull_on_accept : expose_on_accept) < 0) {
		free(b);
		return NULL;
	}
	link_binding(s, b);
	return b;
}

static void
link_binding(struct session *s, struct binding *b)
{
	struct daemon *d = s->d;

	b->dnext = d->binds;
	if (d->binds)
		d->binds->dprev = b;
	d->binds = b;
	d->nbinds++;
	b->snext = s->binds;
	if (s->binds)
		s->binds->sprev = b;
	s->binds = b;
	s->nbinds++;
}

/* see bind.h */
void
bind_handle(struct session *s, const uint8_t *json, size_t n)
{
	struct json_tok toks[64];
	struct json_doc doc;
	struct bind_req q;
	struct bind_err e;
	struct binding *b = NULL, *held;
	int fd, port = 0;

	memset(&e, 0, sizeof(e));
	memset(&q, 0, sizeof(q));
	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT) {
		set_err(&e, "INVALID_KIND", "BIND is not a JSON object");
	} else if (parse_req(&doc, &q, &e) == 0 && check_req(s, &q, &e) == 0 && s->state == SESSION_ACTIVE &&
		   q.port != 0 && (held = bind_find_port(s->d, q.port)) != NULL) {
		b = take_over(s, &q, held);
		if (b == NULL)
			set_err(&e, "INTERNAL", "takeover failed");
	} else if (e.code == NULL && s->state == SESSION_ACTIVE && (fd = take_port(s, &q, &port, &e)) >= 0) {
		b = add_binding(s, &q, fd, port);
		if (b == NULL) {
			close(fd);
			fdbudget_release(&s->d->fds, 1);
			set_err(&e, "INTERNAL", "out of memory");
		}
	} else if (e.code == NULL) {
		set_err(&e, "INTERNAL", "session is closing");
	}
	if (b != NULL) {
		log_info("session %s: bound %s port %d (bind %u)", s->id, bind_mode_name(b->kind), b->port, b->id);
		session_touch(s);
	} else {
		log_info("session %s: bind refused: %s: %s", s->id, e.code, e.message);
		metrics_bind_error(&s->d->metrics, e.code);
	}
	answer(s, &q, b, &e);
	explicit_bzero(q.basic_pass, sizeof(q.basic_pass));
}

static void
unbind_answer(struct session *s, int64_t id, const char *code, const char *msg)
{
	struct buf *out = &s->d->scratch;
	struct json_writer w;

	buf_reset(out, 0);
	json_w_init(&w, out, 0);
	json_w_obj_begin(&w);
	json_w_kv_int(&w, "bindId", id);
	if (code != NULL) {
		json_w_kv_str(&w, "code", code);
		json_w_kv_str(&w, "message", msg);
	}
	json_w_obj_end(&w);
	if (json_w_finish(&w) == 0)
		session_send(s, code ? FRAME_UNBIND_ERR : FRAME_UNBIND_OK, out->pos, buf_len(out));
}

/* see bind.h */
void
bind_handle_unbind(struct session *s, const uint8_t *json, size_t n)
{
	struct json_tok toks[16];
	struct json_doc doc;
	struct binding *b;
	int64_t id = -1;

	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_obj_get_int(&doc, 0, "bindId", &id) != 0) {
		unbind_answer(s, id, "INVALID_REQUEST", "UNBIND needs {\"bindId\":N}");
		return;
	}
	for (b = s->binds; b != NULL; b = b->snext)
		if ((int64_t)b->id == id)
			break;
	if (b == NULL) {
		unbind_answer(s, id, "UNKNOWN_BIND", "no such binding in this session");
		return;
	}
	log_info("session %s: unbound port %d (bind %u)", s->id, b->port, b->id);
	bind_release(b);
	unbind_answer(s, id, NULL, NULL);
	session_touch(s);
}

/* see bind.h */
void
bind_release(struct binding *b)
{
	struct daemon *d = b->d;
	struct session *s = b->s;

	(void)s;
	daemon_listener_stop(d, &b->l);
	fdbudget_release(&d->fds, 1);
	unlink_binding(b);
	explicit_bzero(b->basic_pass, sizeof(b->basic_pass));
	free(b);
}

/* see bind.h */
void
bind_release_all(struct session *s)
{
	while (s->binds != NULL)
		bind_release(s->binds);
}
