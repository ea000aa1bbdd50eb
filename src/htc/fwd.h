/*
 * fwd.h: the local listeners of `htc forward` and `htc socks` (and of
 * `htc up --forward/--socks`), and the connections they accept.
 *
 * Each accepted connection asks the daemon for a TCP connection from
 * inside the container (client_forward_open, the forward extension of
 * doc/FORWARD.md). A forward listener asks at once for its fixed target;
 * a SOCKS listener first reads the SOCKS5 (or SOCKS4/4a) greeting and
 * request with the socks codec and asks for the target the request
 * names, host names unresolved (the daemon resolves them). Once the
 * daemon says FORWARD_OK (a SOCKS client gets its success reply first)
 * the socket is handed to a pump: raw bytes both ways with credit. On
 * FORWARD_ERR a SOCKS client gets the matching reply code and the socket
 * is closed. When no session is up, or the daemon does not forward, a
 * connection is refused at once.
 *
 * The connection machine lives in fwd.c alone (enum fwd_state). SOCKS
 * bytes are peeked and only the parser's share is taken off the socket,
 * so payload a client sends early stays in the socket for the pump.
 *
 * Output: fwd_describe() is the line a listener prints at start; every
 * connection prints one line on stdout when it ends (not with --quiet);
 * "the daemon does not forward" goes to stderr once.
 *
 * Not here: parsing the addresses (url.c, bindargs.c), the session
 * (client.c).
 */
#ifndef HTC_FWD_H
#define HTC_FWD_H

#include <stdint.h>
#include <sys/socket.h>

#include "client.h"
#include "reactor.h"
#include "url.h"

#define FWD_MAX 16 /* listeners per process */

struct fwd;
struct fwd_conn;

/* One local listening socket. */
struct fwd_listener {
	struct url_forward spec;      /* what was asked for (socks: no target) */
	struct sockaddr_storage addr; /* bound, with the port picked for 0 */
	socklen_t addr_len;
	int fd;
	struct fwd *f;
	/* private */
	struct reactor_watcher w;
	struct reactor_timer pause; /* out of descriptors: accept again later */
};

struct fwd {
	struct fwd_listener ls[FWD_MAX];
	unsigned n;
	/* private */
	struct client *c;
	struct fwd_conn *conns; /* connections not (yet) handed to a pump */
	unsigned long next_no;  /* connection numbers in the log */
	int told_disabled;      /* "the daemon does not forward" was said */
};

/*
 * Listen on every spec (blocking: names of local addresses are resolved
 * here, before the loop). f is zeroed first. Returns 0, or -1 after
 * printing why (every socket opened so far closed).
 */
int fwd_listen(struct fwd *f, const struct url_forward *specs, unsigned n);

/*
 * The line listener l prints at start, into out[0..cap):
 *   "forward: 127.0.0.1:15432 -> db:5432 (in the container)"
 *   "socks: 127.0.0.1:1080 (SOCKS5, names resolved in the container)"
 */
void fwd_describe(const struct fwd_listener *l, char *out, size_t cap);

/* Watch the listeners in c's loop (c->r is initialised): connections go through c's session. */
void fwd_start(struct fwd *f, struct client *c);

/*
 * The loop is over: close the listeners and every connection not handed
 * to a pump (their streams are left to the client, without callbacks).
 * Pumps end with the session, as the client's own do.
 */
void fwd_stop(struct fwd *f);

#endif
