/*
 * bind.c: BIND / UNBIND and the registry of bindings (see bind.h): checks,
 * ports, listeners, takeovers. Answers are the session's to send.
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

#include "json.h"
#include "net.h"
#include "util.h"

#define EXPOSE_PORT_MIN 20000
#define EXPOSE_PORT_MAX 65534
#define RANDOM_PORT_TRIES 64

/* A parsed BIND request. */
struct bind_req {
	const char *ref; /* clientBindRef as raw JSON text, echoed verbatim */
	size_t ref_len;
	enum bind_kind kind;
	int kind_ok;
	int port; /* 0: server picks */
	int takeover;
	int v6;
	int host_ok;
	char label[64];
	char basic_user[128];
	char basic_pass[256];
	int unsupported; /* asked for subdomain routing or cluster mode */
};

/* An answer under construction: BIND_ERR code or 0 for success. */
struct bind_err {
	const char *code;
	char message[160];
};

/* The ops of each kind, and how its listeners accept (bind_register). */
static const struct bind_ops *kind_ops[BIND_KIND_MAX];
static struct daemon_accept_ops kind_accept[BIND_KIND_MAX];

/* see bind.h */
void
bind_set_init(struct bind_set *set, struct daemon *d, struct session *s)
{
	set->first = NULL;
	set->n = 0;
	set->d = d;
	set->s = s;
}

/* A connection daemon_accept_batch took from a binding's listener. */
static void
accepted(void *arg, int fd, const struct sockaddr_storage *peer, int reserved)
{
	struct binding *b = arg;

	(void)reserved; /* bindings keep no reserve */
	kind_ops[b->kind]->on_accept(b, fd, peer);
}

/* see bind.h */
void
bind_register(enum bind_kind kind, const struct bind_ops *ops)
{
	kind_ops[kind] = ops;
	kind_accept[kind] = (struct daemon_accept_ops){ ops->refusal, 0, accepted };
}

/* The listener of a binding is readable. */
static void
on_listener(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct binding *b = container_of(w, struct binding, l.w);

	(void)r;
	(void)events;
	daemon_accept_batch(b->d, b->l.fd, &kind_accept[b->kind], NULL, b);
}

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
	    (u >= 0 && !json_is_null(doc, u) &&
	     json_get_string(doc, u, q->basic_user, sizeof(q->basic_user)) < 0) ||
	    strchr(q->basic_user, ':') != NULL) {
		set_err(e, "INVALID_KIND",
			"basicAuth needs a password of 1..255 bytes and a username without ':'");
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
		q->ref_len =
			doc->toks[ref].end - doc->toks[ref].start + 2u * (json_type(doc, ref) == JSON_STRING);
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
check_req(const struct bind_set *set, const struct bind_req *q, struct bind_err *e)
{
	const struct config *c = set->d->cfg;
	int priv_ok = q->kind == BIND_PULL ? c->allow_privileged_pull : c->allow_privileged_expose;
	struct binding *held;

	if (q->unsupported && c->domain == NULL) {
		set_err(e, "INVALID_KIND",
			"subdomain routing and cluster mode need a daemon started with --domain");
		return -1;
	}
	if (q->kind == BIND_PULL && q->basic_pass[0]) {
		set_err(e, "INVALID_KIND", "basicAuth applies to EXPOSE bindings only");
		return -1;
	}
	if (!q->kind_ok || (q->kind == BIND_PULL && q->takeover)) {
		set_err(e, "INVALID_KIND",
			"valid bindings are http/expose and tcp/pull (takeover only on expose)");
		return -1;
	}
	if (q->port != 0 && (q->port < 80 || q->port == set->d->ctl_port)) {
		set_err_port(e, "RESERVED_PORT", "port %d is reserved", q->port);
		return -1;
	}
	if (q->port != 0 && q->port < 1024 && !priv_ok) {
		set_err_port(e, "PRIVILEGED_PORT", "port %d is privileged (see --allow-privileged-*)",
			     q->port);
		return -1;
	}
	if (q->kind == BIND_PULL && !q->host_ok) {
		set_err(e, "INVALID_HOST", "PULL listens on 127.0.0.1 or ::1 only");
		return -1;
	}
	if (q->port != 0 && (held = bind_find_port(set->d, q->port)) != NULL) {
		if (!q->takeover || held->kind != BIND_EXPOSE || q->kind != BIND_EXPOSE || held->set == set) {
			set_err_port(e, "ALREADY_BOUND", "port %d is held by another binding", q->port);
			return -1;
		}
	}
	if (set->n >= c->max_bindings_per_session) {
		set_err_port(e, "BIND_CAP_EXCEEDED", "at most %d bindings per session",
			     (int)c->max_bindings_per_session);
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
	return net_listen((struct sockaddr *)&ss, len, DAEMON_LISTEN_BACKLOG, 0);
}

/* Take the port: an fd, or a BIND_ERR in e. */
static int
take_port(struct daemon *d, const struct bind_req *q, int *port, struct bind_err *e)
{
	int fd = -EADDRINUSE, i;

	if (fdbudget_acquire(&d->fds, 1) < 0) {
		set_err(e, "INTERNAL", "no file descriptors left");
		return -1;
	}
	if (q->port != 0 || q->kind == BIND_PULL) {
		fd = listen_on(d, q, q->port);
	} else {
		for (i = 0; i < RANDOM_PORT_TRIES && fd == -EADDRINUSE; i++) {
			uint32_t r;

			util_random(&r, sizeof(r));
			*port = EXPOSE_PORT_MIN + (int)(r % (EXPOSE_PORT_MAX - EXPOSE_PORT_MIN + 1));
			if (*port == d->ctl_port || bind_find_port(d, *port) != NULL)
				continue;
			fd = listen_on(d, q, *port);
		}
	}
	if (fd < 0) {
		fdbudget_release(&d->fds, 1);
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

/* ---- bindings -------------------------------------------------------- */

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

/* Unlink b from the daemon's list and its holder's set. */
static void
unlink_binding(struct binding *b)
{
	struct daemon *d = b->d;
	struct bind_set *set = b->set;

	if (b->dprev)
		b->dprev->dnext = b->dnext;
	else
		d->binds = b->dnext;
	if (b->dnext)
		b->dnext->dprev = b->dprev;
	if (b->sprev)
		b->sprev->snext = b->snext;
	else
		set->first = b->snext;
	if (b->snext)
		b->snext->sprev = b->sprev;
	d->nbinds--;
	set->n--;
}

static void
link_binding(struct bind_set *set, struct binding *b)
{
	struct daemon *d = set->d;

	b->dprev = NULL;
	b->dnext = d->binds;
	if (d->binds)
		d->binds->dprev = b;
	d->binds = b;
	d->nbinds++;
	b->sprev = NULL;
	b->snext = set->first;
	if (set->first)
		set->first->sprev = b;
	set->first = b;
	set->n++;
}

/* A binding of set for q, its listener not yet watched; NULL when out of memory. */
static struct binding *
new_binding(struct bind_set *set, const struct bind_req *q, enum bind_kind kind, int port)
{
	struct daemon *d = set->d;
	struct binding *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->id = ++d->next_bind_id;
	b->kind = kind;
	b->port = port;
	b->s = set->s;
	b->d = d;
	b->set = set;
	snprintf(b->label, sizeof(b->label), "%s", q->label);
	memcpy(b->basic_user, q->basic_user, sizeof(b->basic_user));
	memcpy(b->basic_pass, q->basic_pass, sizeof(b->basic_pass));
	public_url(d, b);
	return b;
}

/*
 * Takeover: the listening socket (and its FD permit) moves from the old
 * binding to a new one of set, never closed in between. r names the old
 * holder, who resets its streams on the old binding and is told.
 */
static struct binding *
take_over(struct bind_set *set, const struct bind_req *q, struct binding *old, struct bind_result *r)
{
	struct binding *b = new_binding(set, q, BIND_EXPOSE, old->port);

	if (b == NULL)
		return NULL;
	if (daemon_listener_move(set->d, &old->l, &b->l, on_listener) < 0) {
		free(b);
		return NULL;
	}
	unlink_binding(old);
	link_binding(set, b);
	r->revoked_s = old->s;
	r->revoked_id = old->id;
	explicit_bzero(old->basic_pass, sizeof(old->basic_pass));
	free(old);
	return b;
}

static struct binding *
add_binding(struct bind_set *set, const struct bind_req *q, int fd, int port)
{
	struct binding *b = new_binding(set, q, q->kind, port);

	if (b == NULL)
		return NULL;
	b->v6 = q->v6;
	if (daemon_listener_start(set->d, &b->l, fd, on_listener) < 0) {
		free(b);
		return NULL;
	}
	link_binding(set, b);
	return b;
}

/* see bind.h */
void
bind_handle(struct bind_set *set, int open, const uint8_t *json, size_t n, struct bind_result *r)
{
	struct daemon *d = set->d;
	struct json_tok toks[64];
	struct json_doc doc;
	struct bind_req q;
	struct bind_err e;
	struct binding *b = NULL, *held;
	int fd, port = 0;

	memset(r, 0, sizeof(*r));
	memset(&e, 0, sizeof(e));
	memset(&q, 0, sizeof(q));
	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT) {
		set_err(&e, "INVALID_KIND", "BIND is not a JSON object");
	} else if (parse_req(&doc, &q, &e) == 0 && check_req(set, &q, &e) == 0 && open && q.port != 0 &&
		   (held = bind_find_port(d, q.port)) != NULL) {
		b = take_over(set, &q, held, r);
		if (b == NULL)
			set_err(&e, "INTERNAL", "takeover failed");
	} else if (e.code == NULL && open && (fd = take_port(d, &q, &port, &e)) >= 0) {
		b = add_binding(set, &q, fd, port);
		if (b == NULL) {
			close(fd);
			fdbudget_release(&d->fds, 1);
			set_err(&e, "INTERNAL", "out of memory");
		}
	} else if (e.code == NULL) {
		set_err(&e, "INTERNAL", "session is closing");
	}
	explicit_bzero(q.basic_pass, sizeof(q.basic_pass));
	r->b = b;
	r->ref = q.ref;
	r->ref_len = q.ref_len;
	if (b != NULL)
		return;
	r->code = e.code;
	memcpy(r->message, e.message, sizeof(r->message));
	metrics_bind_error(&d->metrics, e.code);
}

/* see bind.h */
void
bind_handle_unbind(struct bind_set *set, const uint8_t *json, size_t n, struct bind_unbind_result *r)
{
	struct json_tok toks[16];
	struct json_doc doc;
	struct binding *b;

	memset(r, 0, sizeof(*r));
	r->id = -1;
	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_obj_get_int(&doc, 0, "bindId", &r->id) != 0) {
		r->code = "INVALID_REQUEST";
		r->message = "UNBIND needs {\"bindId\":N}";
		return;
	}
	for (b = set->first; b != NULL; b = b->snext)
		if ((int64_t)b->id == r->id)
			break;
	if (b == NULL) {
		r->code = "UNKNOWN_BIND";
		r->message = "no such binding in this session";
		return;
	}
	r->port = b->port;
	bind_release(b);
}

/* see bind.h */
void
bind_release(struct binding *b)
{
	struct daemon *d = b->d;

	daemon_listener_stop(d, &b->l);
	fdbudget_release(&d->fds, 1);
	unlink_binding(b);
	explicit_bzero(b->basic_pass, sizeof(b->basic_pass));
	free(b);
}

/* see bind.h */
void
bind_release_all(struct bind_set *set)
{
	while (set->first != NULL)
		bind_release(set->first);
}
