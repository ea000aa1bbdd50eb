/*
 * capture.h: the exchanges of htc's EXPOSE bindings, kept for the
 * inspector (inspect.h): a ring of the last N requests with their
 * responses, each body cut at a cap.
 *
 * Memory is bounded: N slots allocated once, and per slot a head of each
 * side (at most CAPTURE_HEAD_MAX bytes) and the first body_max bytes of
 * each body. A slot keeps its buffers when it is reused (a body's only up
 * to 4 KiB: big bodies do not pin memory once small ones replace them), so
 * a steady stream of small requests allocates nothing once the buffers
 * have grown. The data path copies only that captured prefix; past the cap
 * a body is only counted.
 *
 * An exchange is named by its id (1, 2, 3 ...; never reused): the slot of
 * id k is (k - 1) % N, so opening exchange k evicts k - N, and calls with
 * the id of an evicted exchange do nothing. Callers (local.c, replay.c)
 * keep the id, never a pointer.
 *
 * Bodies are captured as the payload, framing removed (chunked decoded):
 * the request as DATA brings it, the response as the local service sent
 * it. Heads are kept as the bytes that went to (request) or came from
 * (response) the local service, CRLFCRLF included.
 *
 * Secrets in headers (cookies, tokens) stay in this memory only: nothing
 * here logs or writes anything.
 *
 * No I/O, no reactor: clock reads only (CLOCK_MONOTONIC for durations,
 * the wall clock for the start time).
 */
#ifndef HTC_CAPTURE_H
#define HTC_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPTURE_REQUESTS_DEFAULT 200 /* --inspect-requests */
#define CAPTURE_REQUESTS_MAX 100000  /* highest --inspect-requests */
#define CAPTURE_BODY_DEFAULT 65536   /* --inspect-body, bytes per body */
#define CAPTURE_BODY_MAX (16u << 20) /* highest --inspect-body */
#define CAPTURE_HEAD_MAX 16384       /* bytes kept of each head */
#define CAPTURE_REMOTE_MAX 80        /* the visitor's address, "1.2.3.4:5678" */
#define CAPTURE_WHY_MAX 64

/* Where an exchange is. */
enum capture_state {
	CAPTURE_EMPTY = 0, /* the slot holds nothing */
	CAPTURE_OPEN,      /* the request arrived; the response is not complete */
	CAPTURE_DONE,      /* finished (answered, failed or reset): shown */
	CAPTURE_STATE_MAX
};

/* One side of an exchange: its head and the first bytes of its body. */
struct capture_part {
	uint8_t *head; /* head bytes, head_len of them (NULL when none came) */
	size_t head_len;
	size_t head_cap;
	bool head_truncated; /* the head was longer than CAPTURE_HEAD_MAX */
	uint8_t *body;       /* the first body bytes, body_len of them */
	size_t body_len;
	size_t body_cap;
	uint64_t body_size; /* body bytes seen in all (> body_len: truncated) */
};

/* One exchange. Read-only for everyone but capture.c. */
struct capture_ex {
	uint64_t id; /* 0 while the slot is empty */
	enum capture_state state;
	unsigned binding;   /* index of the binding in the client's list */
	uint64_t replay_of; /* the id this is a replay of, 0: a visitor's request */
	int64_t start_wall_ms;
	uint64_t start_us;    /* monotonic */
	uint64_t duration_us; /* set when done */
	int status;           /* the response status; 0: none */
	char remote[CAPTURE_REMOTE_MAX];
	char why[CAPTURE_WHY_MAX]; /* "" or why it failed */
	struct capture_part req, resp;
};

struct capture;

/* An exchange finished (state DONE). */
typedef void capture_done_cb(void *arg, const struct capture_ex *x);

struct capture {
	/* read-only */
	size_t n;        /* slots */
	size_t body_max; /* bytes kept of each body */
	uint64_t next_id;
	/* private */
	struct capture_ex *ring;
	capture_done_cb *on_done;
	void *arg;
};

/* Set up an empty ring of n (1..CAPTURE_REQUESTS_MAX) slots, bodies cut at body_max. 0 or -ENOMEM. */
int capture_init(struct capture *c, size_t n, size_t body_max);

/* Free everything. Safe on a zeroed struct. */
void capture_fini(struct capture *c);

/* Call cb(arg, x) when an exchange is done (NULL: nobody). */
void capture_set_done_cb(struct capture *c, capture_done_cb *cb, void *arg);

/*
 * A new exchange for binding (remote: the visitor's address, may be
 * NULL; replay_of: 0 or the id replayed), evicting the oldest when the
 * ring is full. Returns its id.
 */
uint64_t capture_open(struct capture *c, unsigned binding, const char *remote, uint64_t replay_of);

/* The exchange id, NULL when it was evicted or cleared (or id is 0). */
const struct capture_ex *capture_get(const struct capture *c, uint64_t id);

/* The request head p[0..n) (a later call replaces it: a retry). */
void capture_req_head(struct capture *c, uint64_t id, const void *p, size_t n);

/* n more request body bytes. */
void capture_req_body(struct capture *c, uint64_t id, const void *p, size_t n);

/* The final response head p[0..n). */
void capture_resp_head(struct capture *c, uint64_t id, const void *p, size_t n);

/* n more response body bytes. */
void capture_resp_body(struct capture *c, uint64_t id, const void *p, size_t n);

/* The exchange is over: status (0: none), why (NULL or why it failed). Calls the done callback once. */
void capture_done(struct capture *c, uint64_t id, int status, const char *why);

/* Forget every exchange and give their memory back (ids go on counting). */
void capture_clear(struct capture *c);

/*
 * Walk the finished exchanges, newest first: start with prev = NULL; NULL
 * after the last. Exchanges still open are skipped.
 */
const struct capture_ex *capture_next(const struct capture *c, const struct capture_ex *prev);

/* Bytes held by the ring now (slots and buffers). */
size_t capture_memory(const struct capture *c);

#endif
