/*
 * bind.h: the binding registry (PROTOCOL.md section 5).
 *
 * A binding is one listening port a session holds: PULL (tcp, on
 * 127.0.0.1 or ::1) or EXPOSE (http, on the expose address). BIND is
 * checked in the order of the protocol's error codes, the port is taken
 * (a random free one in 20000-65534 for EXPOSE port 0, a kernel-ephemeral
 * one for PULL port 0), and every listening socket costs one FD permit.
 * bindId is unique within the daemon's lifetime.
 */
#ifndef HT_BIND_H
#define HT_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

enum bind_kind {
	BIND_PULL,   /* kind tcp, mode pull */
	BIND_EXPOSE, /* kind http, mode expose */
	BIND_KIND_MAX
};

struct binding {
	/* read-only */
	uint32_t id;
	enum bind_kind kind;
	int port;
	int v6;                  /* PULL on ::1 */
	char label[64];
	char public_url[256];    /* empty: null */
	char basic_user[128];    /* EXPOSE Basic Auth user; empty: any user */
	char basic_pass[256];    /* EXPOSE Basic Auth password; empty: no auth. Never logged. */
	uint32_t streams;        /* open streams through this binding */
	struct session *s;
	struct daemon *d;
	/* private */
	struct daemon_listener l;
	struct binding *dprev, *dnext; /* daemon list */
	struct binding *sprev, *snext; /* session list */
};

/* Handle a BIND frame's JSON: answers BIND_OK or BIND_ERR on the session. */
void bind_handle(struct session *s, const uint8_t *json, size_t n);

/* Handle UNBIND: UNBIND_OK or UNBIND_ERR. */
void bind_handle_unbind(struct session *s, const uint8_t *json, size_t n);

/* Close the listener, return its permit, forget the binding. */
void bind_release(struct binding *b);

/* Release every binding of a session. */
void bind_release_all(struct session *s);

/* The binding that holds port, or NULL. */
struct binding *bind_find_port(struct daemon *d, int port);

const char *bind_kind_name(enum bind_kind k);
const char *bind_mode_name(enum bind_kind k);

#endif
