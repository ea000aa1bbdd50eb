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

#include "bind_int.h"
#include "json.h"
#include "metrics.h"
#include "net.h"
#include "util.h"

#define EXPOSE_PORT_MIN 20000
#define EXPOSE_PORT_MAX 65534
#define RANDOM_PORT_TRIES 64
#define RANDOM_NAME_TRIES 16

/* What a BIND that passes its checks does. */
enum bind_action {
	BIND_NEW,      /* a new route */
	BIND_JOIN,     /* one more holder of a cluster route */
	BIND_TAKEOVER, /* the route's one holder is replaced */
};

/* A parsed BIND request. */
struct bind_req {
	const char *ref; /* clientBindRef as raw JSON text, echoed verbatim */
	size_t ref_len;
	enum bind_kind kind;
	int kind_ok;
	int port; /* 0: server picks */
	int takeover;
	int cluster;
	int v6;
	int host_ok;
	int host_route;               /* "subdomain" given: a host route */
	int name_ok;                  /* the subdomain is a label, "@" or "" */
	char name[BIND_NAME_MAX + 2]; /* lowercased; "" asks for a random one */
	char label[64];
	char basic_user[128];
	char basic_pass[256];
};

/* An answer under construction: BIND_ERR code or 0 for success. */
struct bind_err {
	const char *code;
	char message[160];
	struct session *holder; /* ALREADY_BOUND: who holds the route (one of them in a cluster) */
	int takeover_ok;        /* ALREADY_BOUND: a takeover would move it */
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
	set->via_port = 0;
}

/* A connection daemon_accept_batch took from a route's listener. */
static void
accepted(void *arg, int fd, const struct sockaddr_storage *peer, int reserved)
{
	struct bind_route *rt = arg;

	(void)reserved; /* bindings keep no reserve */
	kind_ops[rt->kind]->on_accept(rt, fd, peer);
}

/* see bind.h */
void
bind_register(enum bind_kind kind, const struct bind_ops *ops)
{
	kind_ops[kind] = ops;
	kind_accept[kind] = (struct daemon_accept_ops){ ops->refusal, 0, accepted };
}

/* The listener of a port route is readable. */
static void
on_listener(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct bind_route *rt = container_of(w, struct bind_route, l.w);

	(void)r;
	(void)events;
	daemon_accept_batch(rt->d, rt->l.fd, &kind_accept[rt->kind], NULL, rt);
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

/* A DNS label (1-63 of a-z0-9-, no hyphen at either end), or "@". */
static int
name_valid(const char *n)
{
	size_t len = strlen(n), i;

	if (strcmp(n, "@") == 0)
		return 1;
	if (len == 0 || len > BIND_NAME_MAX || n[0] == '-' || n[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

/* "subdomain": absent or null: a port route; a string: a host route ("" asks for a random name). */
static void
parse_name(const struct json_doc *doc, struct bind_req *q)
{
	int tok = json_get(doc, 0, "subdomain");
	size_t i;

	if (tok < 0 || json_is_null(doc, tok))
		return;
	q->host_route = 1;
	if (json_type(doc, tok) != JSON_STRING || json_get_string(doc, tok, q->name, sizeof(q->name)) < 0)
		return; /* name_ok stays 0 */
	for (i = 0; q->name[i]; i++)
		if (q->name[i] >= 'A' && q->name[i] <= 'Z')
			q->name[i] = (char)(q->name[i] + 32);
	q->name_ok = q->name[0] == '\0' || name_valid(q->name);
}

/* An optional boolean member: 0, or -1 when present and not a boolean. */
static int
parse_bool(const struct json_doc *doc, const char *key, int *out)
{
	int tok = json_get(doc, 0, key);
	bool v = false;

	if (tok >= 0 && !json_is_null(doc, tok) && json_get_bool(doc, tok, &v) != 0)
		return -1;
	*out = v;
	return 0;
}

static int
parse_req(const struct json_doc *doc, struct bind_req *q, struct bind_err *e)
{
	int ref = json_get(doc, 0, "clientBindRef"), host = json_get(doc, 0, "host"), tok;
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
	if (parse_bool(doc, "takeover", &q->takeover) < 0 || parse_bool(doc, "cluster", &q->cluster) < 0)
		q->kind_ok = 0;
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
	parse_name(doc, q);
	if (parse_port(doc, json_get(doc, 0, "containerPort"), &q->port) < 0) {
		set_err(e, "RESERVED_PORT", "containerPort must be an integer in 0..65535");
		return -1;
	}
	return 0;
}

/* ---- checks and listening ------------------------------------------------ */

/* The kind and shape of the request: 0, or -1 with e set. */
static int
check_shape(const struct config *c, const struct bind_req *q, struct bind_err *e)
{
	if (q->host_route && c->domain == NULL) {
		set_err(e, "NO_DOMAIN", "subdomain routing needs a daemon started with --domain");
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
	if (q->kind == BIND_PULL && (q->host_route || q->cluster)) {
		set_err(e, "INVALID_KIND", "subdomain and cluster apply to EXPOSE bindings only");
		return -1;
	}
	if (q->host_route && q->port != 0) {
		set_err(e, "INVALID_KIND", "a subdomain binding has no containerPort");
		return -1;
	}
	if (q->host_route && !q->name_ok) {
		set_err(e, "INVALID_SUBDOMAIN",
			"a subdomain is one DNS label: 1-63 of a-z, 0-9 and '-', no '-' at either end, or "
			"\"@\"");
		return -1;
	}
	return 0;
}

/* The port asked for: 0, or -1 with e set. */
static int
check_port(const struct bind_set *set, const struct bind_req *q, struct bind_err *e)
{
	const struct config *c = set->d->cfg;
	int priv_ok = q->kind == BIND_PULL ? c->allow_privileged_pull : c->allow_privileged_expose;

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
	return 0;
}

/* What to call a route in a message: "port 3000" or "subdomain demo". */
static const char *
route_words(const struct bind_req *q, char *buf, size_t len)
{
	if (q->host_route)
		snprintf(buf, len, "subdomain %s", q->name);
	else
		snprintf(buf, len, "port %d", q->port);
	return buf;
}

/* An existing route rt: join, take over, or ALREADY_BOUND (-1). */
static int
check_held(const struct bind_set *set, const struct bind_req *q, const struct bind_route *rt,
	   enum bind_action *act, struct bind_err *e)
{
	const struct binding *b;
	char what[96];

	for (b = rt->first; b != NULL; b = b->rnext) {
		if (b->set == set) {
			set_err_port(e, "ALREADY_BOUND", "%s is already held by this session",
				     route_words(q, what, sizeof(what)));
			return -1;
		}
	}
	if (rt->kind == BIND_EXPOSE && q->kind == BIND_EXPOSE && rt->cluster && q->cluster) {
		*act = BIND_JOIN;
		return 0;
	}
	if (rt->kind == BIND_EXPOSE && q->kind == BIND_EXPOSE && q->takeover && rt->n == 1) {
		*act = BIND_TAKEOVER;
		return 0;
	}
	e->holder = rt->first->s;
	if (rt->kind == BIND_EXPOSE && rt->cluster != q->cluster)
		set_err_port(e, "ALREADY_BOUND",
			     "%s is held in %s mode: every holder must ask for cluster mode",
			     route_words(q, what, sizeof(what)), rt->cluster ? "cluster" : "single");
	else
		set_err_port(e, "ALREADY_BOUND", "%s is held by another session",
			     route_words(q, what, sizeof(what)));
	e->takeover_ok = rt->kind == BIND_EXPOSE && q->kind == BIND_EXPOSE && rt->n == 1;
	return -1;
}

/* A random free name px-XXXXXXXXXX into q->name: 0, or -1 with e set. */
static int
random_name(struct daemon *d, struct bind_req *q, struct bind_err *e)
{
	int i, rc;

	for (i = 0; i < RANDOM_NAME_TRIES; i++) {
		memcpy(q->name, "px-", 3);
		rc = util_random_alnum(q->name + 3, 10);
		if (rc < 0) {
			q->name[0] = '\0';
			set_err_port(e, "INTERNAL", "no random numbers for a subdomain: %s", strerror(-rc));
			return -1;
		}
		q->name[13] = '\0';
		if (bind_route_host(d, q->name) == NULL)
			return 0;
	}
	set_err(e, "INTERNAL", "no random subdomain available");
	return -1;
}

static int
check_req(const struct bind_set *set, struct bind_req *q, enum bind_action *act, struct bind_err *e)
{
	struct daemon *d = set->d;
	struct bind_route *rt = NULL;

	*act = BIND_NEW;
	if (check_shape(d->cfg, q, e) < 0 || check_port(set, q, e) < 0)
		return -1;
	if (q->host_route && q->name[0] == '\0' && random_name(d, q, e) < 0)
		return -1;
	if (q->host_route)
		rt = bind_route_host(d, q->name);
	else if (q->port != 0)
		rt = bind_route_port(d, q->port);
	if (rt != NULL && check_held(set, q, rt, act, e) < 0)
		return -1;
	if (set->n >= d->cfg->max_bindings_per_session) {
		set_err_port(e, "BIND_CAP_EXCEEDED", "at most %d bindings per session",
			     (int)d->cfg->max_bindings_per_session);
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
			int rc = util_random(&r, sizeof(r));

			if (rc < 0) {
				fdbudget_release(&d->fds, 1);
				set_err_port(e, "INTERNAL", "no random numbers for a free port: %s",
					     strerror(-rc));
				return -1;
			}
			*port = EXPOSE_PORT_MIN + (int)(r % (EXPOSE_PORT_MAX - EXPOSE_PORT_MIN + 1));
			if (*port == d->ctl_port || bind_route_port(d, *port) != NULL)
				continue;
			fd = listen_on(d, q, *port);
		}
	}
	if (fd < 0) {
		fdbudget_release(&d->fds, 1);
		if (fd == -EADDRINUSE && q->port != 0)
			set_err_port(
				e, "PORT_IN_USE",
				"port %d is in use by another program (containerPort 0 picks a free one)",
				q->port);
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

/* Append to out (of size cap, at *at) what the formatter writes; truncated at cap. */
static void
put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
	size_t k = UTIL_MIN(n, cap - 1 - *at);

	memcpy(out + *at, s, k);
	*at += k;
}

/* A host route's URL without a pattern: the scheme and port of the listener its tunnel came in on. */
static void
host_url(struct daemon *d, struct binding *b, int root)
{
	int port = b->set->via_port, tls = d->tls_creds.d != NULL && port == d->ctl_port;
	char tail[16] = "";

	if (port != 0 && port != (tls ? 443 : 80))
		snprintf(tail, sizeof(tail), ":%d", port);
	snprintf(b->public_url, sizeof(b->public_url), "%s://%s%s%s%s", tls ? "https" : "http",
		 root ? "" : b->route->name, root ? "" : ".", d->cfg->domain, tail);
}

/*
 * The public URL: --public-url-pattern with {port} and {subdomain} put in
 * ("{subdomain}." is dropped for the root route "@"; a host route's {port}
 * is the port its holder's tunnel came in on). A pattern with {subdomain}
 * is for host routes, one without it for port routes. Without a pattern
 * that fits, a host route's URL is http://NAME.DOMAIN[:PORT] on the port
 * its holder's tunnel came in on (https:// when that is the control port
 * with TLS), a port route's is null.
 */
static void
public_url(struct daemon *d, struct binding *b)
{
	const char *pat = d->cfg->public_url_pattern, *p;
	const char *name = b->route->name;
	int root = strcmp(name, "@") == 0;
	size_t at = 0, cap = sizeof(b->public_url);
	char num[16];

	b->public_url[0] = '\0';
	if (b->kind != BIND_EXPOSE)
		return;
	if (pat == NULL || *pat == '\0') {
		if (b->route->port == 0)
			host_url(d, b, root);
		return;
	}
	/* a pattern with {subdomain} is for names, one without for ports */
	if ((strstr(pat, "{subdomain}") != NULL) != (b->route->port == 0)) {
		if (b->route->port == 0)
			host_url(d, b, root);
		return;
	}
	for (p = pat; *p != '\0';) {
		if (strncmp(p, "{port}", 6) == 0) {
			/* a host route: the port its holder's tunnel came in on */
			int port = b->route->port != 0 ? b->port : b->set->via_port;

			put(b->public_url, cap, &at, num, (size_t)snprintf(num, sizeof(num), "%d", port));
			p += 6;
		} else if (strncmp(p, "{subdomain}", 11) == 0) {
			p += 11;
			if (root && *p == '.')
				p++;
			else if (!root)
				put(b->public_url, cap, &at, name, strlen(name));
		} else {
			put(b->public_url, cap, &at, p++, 1);
		}
	}
	b->public_url[at] = '\0';
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

/* A binding of set for q holding rt, linked everywhere; NULL when out of memory. */
static struct binding *
new_binding(struct bind_set *set, const struct bind_req *q, struct bind_route *rt)
{
	struct daemon *d = set->d;
	struct binding *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->id = ++d->next_bind_id;
	b->kind = q->kind;
	b->v6 = q->v6;
	b->s = set->s;
	b->d = d;
	b->set = set;
	snprintf(b->label, sizeof(b->label), "%s", q->label);
	memcpy(b->basic_user, q->basic_user, sizeof(b->basic_user));
	memcpy(b->basic_pass, q->basic_pass, sizeof(b->basic_pass));
	bind_route_add(rt, b);
	link_binding(set, b);
	public_url(d, b);
	return b;
}

/* Forget b (its route keeps its listener): the memory and the password go. */
static void
drop_binding(struct binding *b)
{
	bind_route_remove(b->route, b);
	unlink_binding(b);
	explicit_bzero(b->basic_pass, sizeof(b->basic_pass));
	free(b);
}

/*
 * Takeover: the route's one holder is replaced by a new binding of set;
 * a port's listening socket stays open all along. r names the old holder,
 * who resets its streams on the old binding and is told.
 */
static struct binding *
take_over(struct bind_set *set, const struct bind_req *q, struct bind_route *rt, struct bind_result *r)
{
	struct binding *old = rt->first, *b = new_binding(set, q, rt);

	if (b == NULL)
		return NULL;
	r->revoked_s = old->s;
	r->revoked_id = old->id;
	drop_binding(old);
	rt->cluster = (uint8_t)(q->cluster != 0);
	return b;
}

/* A new route for q (a port's listener taken, or a name), with b its holder: NULL with e set. */
static struct binding *
add_route(struct bind_set *set, const struct bind_req *q, struct bind_err *e)
{
	struct daemon *d = set->d;
	struct bind_route *rt;
	struct binding *b;
	int fd = -1, port = 0;

	if (!q->host_route && (fd = take_port(d, q, &port, e)) < 0)
		return NULL;
	rt = bind_route_new(d, q->kind, port, q->host_route ? q->name : "", q->cluster);
	if (rt != NULL && fd >= 0 && daemon_listener_start(d, &rt->l, fd, on_listener) < 0) {
		bind_route_free(rt);
		rt = NULL;
	}
	b = rt != NULL ? new_binding(set, q, rt) : NULL;
	if (b != NULL)
		return b;
	if (rt != NULL) {
		if (fd >= 0)
			daemon_listener_stop(d, &rt->l);
		bind_route_free(rt);
	} else if (fd >= 0) {
		close(fd);
	}
	if (fd >= 0)
		fdbudget_release(&d->fds, 1);
	set_err(e, "INTERNAL", "out of memory");
	return NULL;
}

/* Carry out what check_req decided: the binding, or NULL with e set. */
static struct binding *
act(struct bind_set *set, const struct bind_req *q, enum bind_action a, struct bind_result *r,
    struct bind_err *e)
{
	struct daemon *d = set->d;
	struct bind_route *rt = q->host_route ? bind_route_host(d, q->name) : bind_route_port(d, q->port);
	struct binding *b;

	if (a == BIND_NEW)
		return add_route(set, q, e);
	b = a == BIND_JOIN ? new_binding(set, q, rt) : take_over(set, q, rt, r);
	if (b == NULL)
		set_err(e, "INTERNAL", "out of memory");
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
	struct binding *b = NULL;
	enum bind_action a = BIND_NEW;

	memset(r, 0, sizeof(*r));
	memset(&e, 0, sizeof(e));
	memset(&q, 0, sizeof(q));
	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT)
		set_err(&e, "INVALID_KIND", "BIND is not a JSON object");
	else if (parse_req(&doc, &q, &e) == 0 && check_req(set, &q, &a, &e) == 0 && !open)
		set_err(&e, "INTERNAL", "session is closing");
	else if (e.code == NULL)
		b = act(set, &q, a, r, &e);
	explicit_bzero(q.basic_pass, sizeof(q.basic_pass));
	r->b = b;
	r->ref = q.ref;
	r->ref_len = q.ref_len;
	if (b != NULL)
		return;
	r->code = e.code;
	r->held_by = e.holder;
	r->takeover_ok = e.takeover_ok;
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
	struct bind_route *rt = b->route;
	struct daemon *d = b->d;

	drop_binding(b);
	if (rt->n > 0)
		return;
	if (rt->l.fd >= 0) {
		daemon_listener_stop(d, &rt->l);
		fdbudget_release(&d->fds, 1);
	}
	bind_route_free(rt);
}

/* see bind.h */
void
bind_release_all(struct bind_set *set)
{
	while (set->first != NULL)
		bind_release(set->first);
}
