/*
 * fakedaemon.h: a small daemon in one process for the tests of the
 * daemon's modules (test_bind, test_session, test_expose), and a tunnel
 * client that talks to it over a raw socket.
 *
 * The daemon is what main.c sets up below the modules under test: a
 * config with the defaults (the expose address 127.0.0.1), the reactor,
 * an FD budget of FAKEDAEMON_PERMITS permits, metrics, accepting under the
 * budget, the tunnel loop, the scratch buffer and the tunnel token, with
 * SIGPIPE ignored. It starts nothing above daemon.c: a test registers its
 * own bind ops or calls pull_init / expose_init, and hands tunnel sockets
 * to tconn_start itself, so test_bind links without session.o, expose.o
 * and pull.o. One fake daemon at a time (the guard and the stop condition
 * are fakedaemon.c's).
 *
 * Also here: plain TCP clients of bound ports (struct fakedaemon_sock),
 * watched by the loop.
 *
 * Every run of the loop is bounded: a run longer than FAKEDAEMON_GUARD_MS
 * fails the running test, naming what it waited for. No sleeps: a test
 * runs the loop until a condition holds.
 *
 * The tunnel client (struct fakedaemon_peer) holds one end of a
 * socketpair; the other end is an accepted tunnel socket for tconn_start.
 * It writes one masked binary WebSocket message per tunnel frame with the
 * project's codecs (ws.h, frame.h) and keeps every frame the server sends,
 * payload copied, in arrival order.
 *
 * Every function fails the running cmocka test on a setup error.
 */
#ifndef HT_TEST_FAKEDAEMON_H
#define HT_TEST_FAKEDAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "daemon.h"
#include "frame.h"
#include "json.h"
#include "reactor.h"
#include "ws.h"

#define FAKEDAEMON_GUARD_MS 3000 /* a run of the loop fails the test after this */
#define FAKEDAEMON_CTL_PORT 8050 /* d->ctl_port: a RESERVED_PORT for BIND */
#define FAKEDAEMON_RLIMIT 1024
#define FAKEDAEMON_RESERVE 64
#define FAKEDAEMON_PERMITS (FAKEDAEMON_RLIMIT - FAKEDAEMON_RESERVE)
#define FAKEDAEMON_TOKEN "fake-daemon-token-0123456789"
#define FAKEDAEMON_FRAMES 512         /* frames one peer keeps */
#define FAKEDAEMON_ANY_SID UINT32_MAX /* fakedaemon_peer_wait: any stream id */

/*
 * Set d up with cfg (filled with the defaults here, then d->cfg; the test
 * may change cfg afterwards, before what it tests reads it). 0, or -1
 * when a piece cannot be set up (usable as a cmocka setup's result).
 */
int fakedaemon_init(struct daemon *d, struct config *cfg);

/* Run the deferred frees and release what fakedaemon_init set up. */
void fakedaemon_fini(struct daemon *d);

/* Run the loop until something calls reactor_stop. */
void fakedaemon_run(struct daemon *d, const char *what);

/*
 * Run the loop until done(arg) is true; it is checked before every poll
 * (at once first: no iteration when it already holds), and a reactor_stop
 * of the daemon's own does not end the wait. what names the condition in
 * the failure message when the guard fires. Not reentrant: done must not
 * run the loop.
 */
void fakedaemon_run_until(struct daemon *d, int (*done)(void *arg), void *arg, const char *what);

/* A blocking TCP connection to 127.0.0.1:port: the fd, or -errno. */
int fakedaemon_connect(int port);

/* A TCP client of a bound port (a PULL client, an EXPOSE visitor), watched
 * by the loop: it keeps everything it reads. Fields are read-only. */
struct fakedaemon_sock {
	int fd; /* -1 once closed */
	struct daemon *d;
	char *in; /* what was read, NUL-terminated */
	size_t len;
	int eof; /* the daemon closed the connection (or it failed: err) */
	int err; /* errno of a failed read (ECONNRESET), 0 */
	/* private */
	size_t cap;
	struct reactor_watcher w;
};

/* Connect to 127.0.0.1:port and watch the socket; fails the test when refused. */
void fakedaemon_sock_open(struct fakedaemon_sock *s, struct daemon *d, int port);

/* Write the whole of str (running the loop while the socket is full). */
void fakedaemon_sock_send(struct fakedaemon_sock *s, const char *str);

/* Run the loop until n bytes were read in all, or the end of the stream. */
void fakedaemon_sock_wait(struct fakedaemon_sock *s, size_t n);

/* Run the loop until the daemon closed the connection. */
void fakedaemon_sock_wait_eof(struct fakedaemon_sock *s);

/* Forget what was read so far (len 0). */
void fakedaemon_sock_clear(struct fakedaemon_sock *s);

/* Stop watching and close (harmless twice). */
void fakedaemon_sock_close(struct fakedaemon_sock *s);

/* One frame the server sent. */
struct fakedaemon_frame {
	uint8_t type;
	uint32_t sid;
	uint8_t *p; /* the payload, with a NUL after it (JSON may be used as a string) */
	size_t len;
	int taken; /* returned by fakedaemon_peer_wait already */
};

/* The tunnel client. Fields are read-only for tests. */
struct fakedaemon_peer {
	int fd; /* -1 once closed */
	struct daemon *d;
	struct fakedaemon_frame frames[FAKEDAEMON_FRAMES];
	size_t nframes;
	unsigned closes;     /* WebSocket CLOSE frames received */
	unsigned close_code; /* the last one's status code */
	int eof;             /* the server closed the socket (or it failed) */
	int bad;             /* the server's bytes broke the WebSocket or frame codec */
	/* private */
	struct reactor_watcher w;
	struct ws_parser wp;
	struct frame_reader fr;
	uint64_t pings;
};

/*
 * Open a socketpair: the peer keeps one end (watched from now on), the
 * other end is returned, non-blocking and holding one FD permit of d, as
 * an accepted tunnel socket would be after its WebSocket handshake.
 */
int fakedaemon_peer_open(struct fakedaemon_peer *p, struct daemon *d);

/* Send one tunnel frame in one masked binary WebSocket message (running
 * the loop while the socket is full). */
void fakedaemon_peer_send(struct fakedaemon_peer *p, uint8_t type, uint32_t sid, const void *payload,
			  size_t len);

/* fakedaemon_peer_send of a C string (a JSON payload). */
void fakedaemon_peer_send_str(struct fakedaemon_peer *p, uint8_t type, uint32_t sid, const char *s);

/* Send a WebSocket CLOSE (masked) with status code. */
void fakedaemon_peer_send_close(struct fakedaemon_peer *p, unsigned code);

/*
 * Run the loop until a frame of type on stream sid (FAKEDAEMON_ANY_SID:
 * any) arrives that no earlier wait returned, and return it (marked taken).
 * Fails when the server closes the socket first.
 */
struct fakedaemon_frame *fakedaemon_peer_wait(struct fakedaemon_peer *p, uint8_t type, uint32_t sid);

/* The first frame of type on sid received and not taken yet, now taken; NULL when none (no loop run). */
struct fakedaemon_frame *fakedaemon_peer_next(struct fakedaemon_peer *p, uint8_t type, uint32_t sid);

/* Frames of type received on stream sid (FAKEDAEMON_ANY_SID: any), taken or not. */
size_t fakedaemon_peer_count(const struct fakedaemon_peer *p, uint8_t type, uint32_t sid);

/*
 * A barrier for an attached session: PING with a fresh nonce, then wait
 * for its PONG. Whatever the server queued before it has arrived by then.
 */
void fakedaemon_peer_sync(struct fakedaemon_peer *p);

/* Run the loop until the server has closed the socket. */
void fakedaemon_peer_wait_eof(struct fakedaemon_peer *p);

/* Stop watching, close the socket, free the frames (harmless twice). */
void fakedaemon_peer_close(struct fakedaemon_peer *p);

/*
 * Parse fr's payload as a JSON object into doc (toks: ntoks slots);
 * fails the test when it is not one.
 */
void fakedaemon_json(const struct fakedaemon_frame *fr, struct json_doc *doc, struct json_tok *toks,
		     size_t ntoks);

/* Member key of object obj: an integer (fails when it is not). */
int64_t fakedaemon_json_int(const struct json_doc *doc, int obj, const char *key);

/* Member key of object obj: a string, in a buffer the next call reuses (fails when it is not one). */
const char *fakedaemon_json_str(const struct json_doc *doc, int obj, const char *key);

#endif
