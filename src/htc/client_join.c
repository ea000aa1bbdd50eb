/*
 * client_join.c: a v2 client's secondary sockets (see client_int.h).
 *
 * HELLO_OK and REISSUE_JOIN_TICKETS carry join tickets; each granted
 * index is opened inside the loop (wsdial.h) to the primary's peer
 * address, then JOINed with its ticket. A socket that cannot be opened,
 * is refused or is lost makes the client ask for tickets again after the
 * reconnect backoff, never in a loop.
 */
#include "client_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "print.h"
#include "util.h"

/* The session is up (bindings may still be on their way): secondaries are worth asking for. */
static int
session_up(struct client *c)
{
	return (c->state == CLIENT_BINDING || c->state == CLIENT_READY) && client_primary(c) != NULL;
}

/* see client_int.h */
void
client_join_later(struct client *c)
{
	uint64_t ms;
	int rc;

	if (!session_up(c) || reactor_timer_is_active(&c->rejoin_timer))
		return;
	rc = client_retry_delay(c->rejoin_attempts++, &ms);
	if (rc < 0) {
		print_err("extra connections given up: no random numbers from the OS: %s", strerror(-rc));
		return;
	}
	reactor_timer_start(&c->r, &c->rejoin_timer, ms, 0);
}

/* see client_int.h */
void
client_join_on_timer(struct reactor *r, struct reactor_timer *t)
{
	struct client *c = container_of(t, struct client, rejoin_timer);

	(void)r;
	if (session_up(c))
		tunnel_send(client_primary(c), FRAME_REISSUE_JOIN_TICKETS, 0, NULL, 0);
}

/* A secondary socket is open (or failed): JOIN with its ticket. */
static void
on_dialed(struct wsdial *d, struct conn *conn, const uint8_t *pre, size_t pre_len, const char *err)
{
	struct client_sock *cs = d->owner;
	struct client *c = cs->c;
	char js[256];
	int n;

	if (conn == NULL) {
		client_say(c, "socket %d: %s", cs->index, err);
		client_join_later(c);
		return;
	}
	cs->joined = 0;
	if (tunnel_init(&cs->t, &c->tl, conn, WS_ROLE_CLIENT, &client_tunnel_ops, cs, pre, pre_len) < 0) {
		client_say(c, "socket %d: out of memory", cs->index);
		client_join_later(c);
		return;
	}
	cs->open = 1;
	n = snprintf(js, sizeof(js), "{\"sessionId\":\"%s\",\"index\":%d,\"nonce\":\"%s\"}", c->session_id,
		     cs->index, cs->nonce);
	tunnel_send(&cs->t, FRAME_JOIN, 0, js, (size_t)n);
}

/*
 * Open secondary socket `index` in the loop (the primary's streams keep
 * flowing meanwhile), to the address the primary is connected to.
 */
static void
join_one(struct client *c, int index, const char *nonce)
{
	struct client_sock *cs = &c->socks[index];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[512] = "";

	if (index <= 0 || index >= (int)c->granted || cs->open || cs->dial.state != WSDIAL_IDLE ||
	    client_primary(c) == NULL)
		return; /* only the sockets granted, each once */
	if (getpeername(c->socks[0].t.conn.fd, (struct sockaddr *)&ss, &len) < 0) {
		client_say(c, "socket %d: %s", index, strerror(errno));
		return;
	}
	cs->c = c;
	cs->index = index;
	cs->dial.owner = cs;
	snprintf(cs->nonce, sizeof(cs->nonce), "%s", nonce);
	if (wsdial_start(&cs->dial, &c->r, &c->o->u, (struct sockaddr *)&ss, len, "hoody-tunnel.v2",
			 on_dialed, err, sizeof(err)) < 0) {
		client_say(c, "socket %d: %s", index, err);
		client_join_later(c);
	}
}

/* see client_int.h */
void
client_join_tickets(struct client *c, const struct json_doc *doc)
{
	int arr = json_get(doc, 0, "joinTickets"), i;

	if (json_type(doc, arr) != JSON_ARRAY)
		return;
	for (i = json_first(doc, arr); i >= 0; i = json_next(doc, arr, i)) {
		char nonce[64];
		int64_t index;

		if (json_obj_get_int(doc, i, "index", &index) != 0 || index <= 0 || index >= MUX_MAX_SOCKS ||
		    json_obj_get_str(doc, i, "nonce", nonce, sizeof(nonce)) < 0)
			continue;
		join_one(c, (int)index, nonce);
	}
}

/* see client_int.h */
void
client_join_reissued(struct client *c, const uint8_t *p, size_t n)
{
	struct json_tok toks[128];
	struct json_doc doc;

	if (json_parse(&doc, (const char *)p, n, toks, UTIL_ARRAY_SIZE(toks), NULL) == 0)
		client_join_tickets(c, &doc);
}
