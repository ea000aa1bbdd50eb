/*
 * wsdial.h: open a tunnel WebSocket from inside htc's event loop.
 *
 * The same exchange as wsconnect_open() (TCP connect, TLS for wss://
 * verified as tlsio.h says, the upgrade offering one subprotocol, the 101
 * checked), driven by readiness instead of blocking, so that a v2
 * client's other sockets keep flowing while a secondary one is opened.
 * The address is given (the primary's peer: no name lookup in the loop);
 * the whole exchange is bounded by WSCONNECT_TIMEOUT_MS.
 */
#ifndef HTC_WSDIAL_H
#define HTC_WSDIAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "conn.h"
#include "url.h"
#include "reactor.h"

enum wsdial_state {
	WSDIAL_IDLE,       /* not started, or over */
	WSDIAL_CONNECTING, /* non-blocking connect in progress */
	WSDIAL_EXCHANGE,   /* TLS handshake (wss://), upgrade request out, 101 in */
	WSDIAL_STATE_MAX
};

struct wsdial;

/*
 * The end: the connection c (plain or TLS) and the bytes that came after
 * the 101 (pre), valid during the call: the callee moves c away (e.g.
 * with tunnel_init), or it is closed when the call returns; or c = NULL
 * and err (the reason). Called once, from the loop.
 */
typedef void wsdial_done_cb(struct wsdial *d, struct conn *c, const uint8_t *pre, size_t pre_len,
			    const char *err);

struct wsdial {
	enum wsdial_state state;
	void *owner;
	/* private */
	struct reactor *r;
	struct conn conn;
	struct reactor_timer timer;
	wsdial_done_cb *done;
	const char *proto;
	char key[32];
	struct buf out, in; /* the request not yet sent; the answer so far */
};

/*
 * Start dialling sa (the host in u names the server for SNI, the
 * certificate check and the Host header). 0, or -1 with err set (nothing
 * to cancel then, done is not called).
 */
int wsdial_start(struct wsdial *d, struct reactor *r, const struct url *u, const struct sockaddr *sa,
		 socklen_t salen, const char *proto, wsdial_done_cb *done, char *err, size_t errlen);

/* Stop a dial in progress (done is not called); harmless when idle. */
void wsdial_cancel(struct wsdial *d);

#endif
