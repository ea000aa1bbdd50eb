/*
 * muxpair.h: two ends of a session in one process, for the mux and pump
 * tests. Each end has its own mux; they are joined by 1..TP_SOCKS tunnels,
 * each over a non-blocking AF_UNIX socketpair, the "server" end in
 * WS_ROLE_SERVER (like the daemon) and the "client" end in WS_ROLE_CLIENT
 * (like htc), all in one reactor with one tunnel loop. The wiring is the
 * one session.c and htc/client.c use: on_control -> mux_on_control (the
 * rest is the policy's), on_data -> mux_on_data, on_input_end ->
 * mux_batch_end, on_closed -> mux_detach.
 *
 * Every frame an end receives is logged (DATA once per frame) before the
 * mux sees it, so a test can check which WINDOW, RESET or EOF went out.
 * The client end answers STREAM_OPEN by opening the stream with a test
 * owner (struct tp_owner) that records what the mux tells it and may act
 * (EOF, RESET) from inside its callbacks.
 *
 * The functions are in muxpair.c and fail the running cmocka test on any
 * setup error. The Makefile links muxpair.o into every unit test that
 * includes this file.
 */
#ifndef HT_TEST_MUXPAIR_H
#define HT_TEST_MUXPAIR_H

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux.h"
#include "reactor.h"
#include "stream.h"
#include "tunnel.h"

#define TP_SOCKS 4
#define TP_LOG 8192
#define TP_OWNERS 64
#define TP_IDLE_MS 3000 /* tp_run_idle gives up (and fails) after this */

struct tp;
struct tp_end;

/* One received frame. value: WINDOW increment, RESET code, else 0. */
struct tp_frame {
	uint8_t type;
	uint32_t sid;
	uint32_t len;
	uint32_t value;
	int sock;
};

enum tp_act { TP_ACT_NONE, TP_ACT_EOF, TP_ACT_RESET };

struct tp_owner {
	struct tp_end *e;
	struct stream *s;
	uint32_t id;
	int sock;
	uint8_t *rx; /* every DATA byte received, in order */
	size_t rx_len, rx_cap;
	int auto_consume; /* mux_consumed at once for every piece */
	unsigned n_data, n_eof, n_reset, n_close, n_batch, n_credit, n_head;
	unsigned reset_code;
	char ev[512]; /* one letter per callback: d e r c b w h */
	size_t nev;
	enum tp_act act_data, act_eof, act_batch, act_credit;
	int in_cb;                              /* inside one of our callbacks */
	int closed_in_cb;                       /* on_close came while we were in a callback */
	void (*batch_hook)(struct tp_owner *o); /* extra check at on_batch_end */
	const uint8_t *piece[64];               /* pieces of the current input batch, as given */
	size_t piece_len[64];
	unsigned npiece;
	size_t batch_from;   /* rx offset where the current batch began */
	unsigned bad_pieces; /* pieces whose bytes changed before on_batch_end */
	void *user;
};

struct tp_sock {
	struct tunnel t;
	struct tp_end *e;
	int index;
	int live;   /* tunnel_init done, tunnel_fini not yet */
	int closed; /* on_closed calls */
	unsigned close_code;
};

struct tp_end {
	struct tp *tp;
	int server;
	struct mux m;
	int mux_live;
	struct tp_sock socks[TP_SOCKS];
	struct tp_frame log[TP_LOG];
	size_t nlog;
	unsigned errors, last_error;
	unsigned resets_sent, last_reset_sent;
	int close_on_error; /* on_error closes the primary like the real policies */
	int accept;         /* open a stream with a test owner on STREAM_OPEN */
	struct tp_owner owners[TP_OWNERS];
	size_t nowners;
	unsigned unhandled; /* frames neither the mux nor STREAM_OPEN took */
};

struct tp {
	struct reactor r;
	struct tunnel_loop tl;
	struct tp_end srv, cli;
	int nsocks;
	struct reactor_timer deadline;
	struct reactor_hook cond_hook;
	int (*cond)(struct tp *tp, void *arg);
	void *cond_arg;
	int timed_out;
};

/* ---- setup ------------------------------------------------------------- */

/*
 * Two ends joined by nsocks (1..TP_SOCKS) tunnels, every stream and the
 * session starting with the given windows; SIGPIPE is ignored. Fails the
 * test on any setup error.
 */
struct tp *tp_new(int nsocks, uint32_t stream_window, uint32_t session_window);

/* Release the end's mux and its tunnels (idempotent). */
void tp_end_fini(struct tp_end *e);

/* Finish both ends, run what was deferred, release the owners' buffers, free tp. */
void tp_free(struct tp *tp);

/* ---- owners ------------------------------------------------------------- */

/* Make o the owner of s on end e (its callbacks record into o). */
void tp_own(struct tp_owner *o, struct tp_end *e, struct stream *s);

/* Free what o received (o itself is the caller's). */
void tp_owner_release(struct tp_owner *o);

/* The client-end owner of stream id (opened on STREAM_OPEN), or NULL. */
struct tp_owner *tp_peer(struct tp_end *e, uint32_t id);

/* ---- sending ------------------------------------------------------------ */

/* DATA from a private copy (a client-role tunnel masks it in place). */
int tp_send_copy(struct mux *m, struct stream *s, const uint8_t *p, uint32_t n);

/* A raw frame on socket i of end e, past the mux (to break the rules). */
void tp_raw(struct tp_end *e, int i, uint8_t type, uint32_t sid, const void *p, size_t n);

/* A raw WINDOW(sid, inc) on socket i of end e. */
void tp_raw_window(struct tp_end *e, int i, uint32_t sid, uint32_t inc);

/* Open a stream from the server end (socket: -1 picks) with owner o, and send STREAM_OPEN. */
struct stream *tp_open(struct tp *tp, struct tp_owner *o, int sock);

/* Open from the server end and wait for the client end's owner. */
struct tp_owner *tp_open_both(struct tp *tp, struct tp_owner *o, int sock);

/* ---- running ------------------------------------------------------------ */

/* Run until cond(tp, arg) holds (checked before every poll) or ms passed. 1 when it held. */
int tp_run_until(struct tp *tp, int (*cond)(struct tp *, void *), void *arg, uint64_t ms);

/* Run the loop for ms. */
void tp_run_ms(struct tp *tp, uint64_t ms);

/*
 * Run until both ends are idle: no tunnel of either end has bytes queued,
 * and no socket a tunnel reads has anything to read (data or its end), so
 * every frame sent so far has been received and handled and the next poll
 * would block. Fails the test when that takes more than TP_IDLE_MS.
 */
void tp_run_idle(struct tp *tp);

/* One non-blocking iteration. */
void tp_spin(struct tp *tp);

/* A tp_run_until condition: the client end has an owner for stream (uint32_t)arg. */
int tp_cond_peer(struct tp *tp, void *arg);

/* ---- what an end received ----------------------------------------------- */

/* Frames of a type (and stream, unless sid is UINT32_MAX) an end received. */
unsigned tp_count(const struct tp_end *e, uint8_t type, uint32_t sid);

/* The last frame of a type for sid, or NULL. */
const struct tp_frame *tp_last(const struct tp_end *e, uint8_t type, uint32_t sid);

#endif
