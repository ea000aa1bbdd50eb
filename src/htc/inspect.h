/*
 * inspect.h: htc's request inspector, a small HTTP/1.1 server in the
 * client's loop: the page (inspect_page.h), the API shaped like ngrok's
 * (inspect_api.h), replay (replay.h) and a live feed of exchanges as
 * server-sent events.
 *
 *   GET  /, /index.html, /app.js, /app.css   the page
 *   GET  /api/tunnels                        the EXPOSE bindings
 *   GET  /api/requests/http[?limit=N&tunnel_name=NAME]
 *   GET  /api/requests/http/ID
 *   POST /api/requests/http  {"id":"ID"}     replay: 204
 *   DELETE /api/requests/http                forget every exchange: 204
 *   GET  /api/events                         text/event-stream: "request"
 *                                            (a summary, oldest first, the
 *                                            ring's content first), "clear"
 *
 * Safety: the exchanges hold secrets (cookies, tokens), so every request
 * must name this server in Host by an IP address or "localhost" with the
 * port listened on (a DNS name pointing here, as in DNS rebinding, gets
 * 403); POST and DELETE also need "Content-Type: application/json" (which
 * no cross-site form or simple request can send) and, when an Origin is
 * sent, the same origin (403 otherwise). No CORS header is ever sent.
 * Without --inspect ADDR it listens on 127.0.0.1 only.
 *
 * Bounded: at most INSPECT_CONNS_MAX connections, heads of
 * INSPECT_HEAD_MAX, bodies of INSPECT_BODY_MAX, an idle timeout, and an
 * event stream whose reader falls INSPECT_SSE_BACKLOG_MAX behind is
 * closed (the page reconnects and gets the ring again). Never a reason
 * for the tunnel to stop: when it cannot listen, htc goes on without it.
 */
#ifndef HTC_INSPECT_H
#define HTC_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "capture.h"
#include "client.h"
#include "inspect_api.h"
#include "net.h"
#include "reactor.h"
#include "replay.h"

#define INSPECT_PORT_FIRST 4040 /* the default: 127.0.0.1:4040 ... */
#define INSPECT_PORT_LAST 4049  /* ... or the next free port up to this one */
#define INSPECT_CONNS_MAX 64
#define INSPECT_HEAD_MAX 16384
#define INSPECT_BODY_MAX 65536
#define INSPECT_IDLE_MS 60000
#define INSPECT_SSE_PING_MS 15000
#define INSPECT_SSE_BACKLOG_MAX (8u << 20) /* bytes queued for one event reader */

struct inspect_conn;

struct inspect {
	/* read-only */
	char url[NET_ADDR_STRLEN + 16]; /* "http://127.0.0.1:4040" once open */
	int port;
	/* private */
	int fd; /* the listener, -1 when none */
	struct reactor *r;
	struct reactor_watcher w;
	struct reactor_timer ping;
	struct client *c;
	struct capture *cap;
	struct replay_set replays;
	struct inspect_conn *conns;
	unsigned nconns;
	struct inspect_api_tunnel t[CLIENT_MAX_BINDINGS];
	char names[CLIENT_MAX_BINDINGS][URL_SUBDOMAIN_MAX + 8];
	char addrs[CLIENT_MAX_BINDINGS][URL_HOST_MAX + 24];
	int started;
};

/*
 * Listen on addr ("HOST:PORT", "PORT", "[::1]:PORT"), or with addr NULL
 * on 127.0.0.1 at the first free port of INSPECT_PORT_FIRST..LAST.
 * Before the loop; in->url is then set. 0, or -1 with a one-line reason
 * in err[0..errcap).
 */
int inspect_open(struct inspect *in, const char *addr, char *err, size_t errcap);

/*
 * Serve in c's loop (from its on_loop_start): the exchanges of cap, the
 * bindings of c. Registers cap's done callback.
 */
void inspect_start(struct inspect *in, struct client *c, struct capture *cap);

/* Close every connection and the listener, end the replays (from on_loop_end). */
void inspect_stop(struct inspect *in);

/* Close the listener when inspect_start never ran. Safe to call twice. */
void inspect_close(struct inspect *in);

/* 1 when Host value h[0..n) names this server listening on port (see above). */
int inspect_host_ok(const char *h, size_t n, int port);

/* 1 when origin o[0..n) is "http://" followed by the Host value h[0..hn). */
int inspect_origin_ok(const char *o, size_t n, const char *h, size_t hn);

#endif
