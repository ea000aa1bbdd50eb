/*
 * bind.h: the binding registry (PROTOCOL.md section 5) and its routes.
 *
 * A binding is what one session holds through one BIND: PULL (tcp, on
 * 127.0.0.1 or ::1) or EXPOSE (http). A binding holds a route, the public
 * entry point: a port (with its listening socket) or, under --domain, a
 * host name (NAME.DOMAIN, or the domain itself as "@"). A route has one
 * holder, or several in cluster mode (EXPOSE only), who take its requests
 * in turn. BIND is checked in the order of the protocol's error codes, the
 * port is taken (a random free one in 20000-65534 for EXPOSE port 0, a
 * kernel-ephemeral one for PULL port 0) or the name reserved (a random
 * px-XXXXXXXXXX for ""), and every listening socket costs one FD permit.
 * bindId is unique within the daemon's lifetime.
 *
 * The registry sits below the sessions and the connections it accepts:
 * it answers a request with a struct the session turns into frames, and
 * hands each accepted connection to the ops its kind registered (expose.c,
 * pull.c). It never looks inside a session: who of a route's holders
 * takes a request is the caller's choice (bind_route_next, bind_route_took).
 */
#ifndef HT_BIND_H
#define HT_BIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon.h"

struct session;

enum bind_kind {
	BIND_PULL,   /* kind tcp, mode pull */
	BIND_EXPOSE, /* kind http, mode expose */
	BIND_KIND_MAX
};

/* The bindings one session holds: embedded in the session, kept by bind.c. */
struct bind_set {
	/* read-only */
	struct binding *first; /* linked by snext */
	unsigned n;
	/* private */
	struct daemon *d;
	struct session *s; /* the holder, stored in each binding */
	int via_port;      /* the port the holder's tunnel came in on (host routes' public URL) */
};

/* Longest host route name: a DNS label (63) or "@". */
#define BIND_NAME_MAX 63

/* A public entry point and its holders (bind_route.c keeps the table). */
struct bind_route {
	/* read-only */
	enum bind_kind kind;
	int port;                     /* a port route; 0: a host route */
	char name[BIND_NAME_MAX + 1]; /* a host route's name ("@": the domain itself); "" for a port */
	uint8_t cluster;              /* several holders take turns */
	unsigned n;                   /* holders */
	struct binding *first;        /* holders, linked by rnext */
	/* private */
	struct binding *turn;     /* the holder whose turn is next; NULL: first */
	struct daemon_listener l; /* a port route's listener (fd -1 for a host route) */
	struct bind_route *hnext; /* hash chain */
	struct daemon *d;
};

struct binding {
	/* read-only */
	uint32_t id;
	enum bind_kind kind;
	int port; /* the route's port; 0 for a host route */
	struct bind_route *route;
	int v6; /* PULL on ::1 */
	char label[64];
	char public_url[256]; /* empty: null */
	char basic_user[128]; /* EXPOSE Basic Auth user; empty: any user */
	char basic_pass[256]; /* EXPOSE Basic Auth password; empty: no auth. Never logged. */
	uint32_t streams;     /* open streams through this binding */
	struct session *s;    /* the holder */
	struct daemon *d;
	/* private */
	struct bind_set *set;          /* the holder's set */
	struct binding *rprev, *rnext; /* the route's holders */
	struct binding *dprev, *dnext; /* daemon list */
	struct binding *sprev, *snext; /* holder's set */
};

/* What a kind of binding does with the connections of its listeners. */
struct bind_ops {
	/* Written to a connection refused for want of an FD permit; NULL: closed without a word. */
	const char *refusal;
	/* A connection accepted on rt's listener: fd is non-blocking and owns one FD permit. */
	void (*on_accept)(struct bind_route *rt, int fd, const struct sockaddr_storage *peer);
};

/* Register the ops of one kind; expose.c and pull.c do it at start-up, before any BIND. */
void bind_register(enum bind_kind kind, const struct bind_ops *ops);

/* An empty set for session s of daemon d. */
void bind_set_init(struct bind_set *set, struct daemon *d, struct session *s);

/* What a BIND came to; the session answers BIND_OK or BIND_ERR from it. */
struct bind_result {
	struct binding *b; /* the new binding; NULL: refused with code and message */
	const char *code;  /* BIND_ERR code when refused */
	char message[160];
	struct session *held_by; /* ALREADY_BOUND by another session: that session (never looked into here) */
	int takeover_ok;         /* ALREADY_BOUND: BIND with takeover:true would move it */
	const char *ref;         /* clientBindRef as raw JSON text inside the request, echoed
				    verbatim; NULL: none (null) */
	size_t ref_len;
	/* A takeover: the binding b replaced, already gone. Its holder must reset
	 * the streams of revoked_id and be told with BIND_REVOKED. */
	struct session *revoked_s; /* NULL: no takeover */
	uint32_t revoked_id;
};

/*
 * Handle the JSON of a BIND for set. open: 0 once the session may bind no
 * more (a request that passes its checks is then refused with INTERNAL).
 * Refusals are counted in the metrics. A takeover moves the listening
 * socket of the binding that held the port to the new one without closing
 * it. r->ref points into json.
 */
void bind_handle(struct bind_set *set, int open, const uint8_t *json, size_t n, struct bind_result *r);

/* What an UNBIND came to; the session answers UNBIND_OK or UNBIND_ERR from it. */
struct bind_unbind_result {
	int64_t id;       /* the bindId asked for; -1 when the request has none */
	int port;         /* the port released */
	const char *code; /* NULL: released; else the UNBIND_ERR code and message */
	const char *message;
};

/* Handle the JSON of an UNBIND for set: the binding is released. */
void bind_handle_unbind(struct bind_set *set, const uint8_t *json, size_t n, struct bind_unbind_result *r);

/* Close the listener, return its permit, forget the binding. */
void bind_release(struct binding *b);

/* Release every binding of a set. */
void bind_release_all(struct bind_set *set);

/* The route of a port, or NULL. */
struct bind_route *bind_route_port(struct daemon *d, int port);

/* The host route named name (a label or "@"), or NULL. */
struct bind_route *bind_route_host(struct daemon *d, const char *name);

/*
 * The holders of rt in turn: the one whose turn it is (prev NULL), then
 * the next after prev, wrapping; NULL after rt->n of them. The caller
 * says which one took the request with bind_route_took: the turn passes
 * to the holder after it.
 */
struct binding *bind_route_next(struct bind_route *rt, const struct binding *prev);
void bind_route_took(struct bind_route *rt, const struct binding *b);

/*
 * The route name of host (a Host field or an authority: the port and a
 * trailing dot ignored, case-insensitive) under domain: 1 with the label
 * (or "@" for the domain itself) in name, 0 when host is not under domain
 * or not one label below it.
 */
int bind_host_name(const char *domain, const char *host, size_t len, char name[BIND_NAME_MAX + 1]);

/* Free the route table (process exit, every binding released). */
void bind_routes_fini(struct daemon *d);

const char *bind_kind_name(enum bind_kind k);
const char *bind_mode_name(enum bind_kind k);

#endif
