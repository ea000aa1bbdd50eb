/*
 * stream.h: the stream table and the stream state machine, shared by the
 * daemon and the client.
 *
 * A stream is one multiplexed conversation inside a session (a PULL
 * connection, an EXPOSE request). Streams live in a slab pool; an id map
 * (open addressing, linear probing, backward-shift delete) finds them in
 * O(1). Ids are allocated by the server only, start at 1, increase and are
 * never reused inside a session, so a late frame for a closed id finds
 * nothing and is dropped (after returning session credit, PROTOCOL.md 7).
 *
 * The table knows nothing of sockets: the object that serves a stream (a
 * PULL connection, a visitor, a local connection in htc) hangs off
 * `owner` and is told about peer frames by the multiplexer (mux.h).
 */
#ifndef HT_STREAM_H
#define HT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "slab.h"

/*
 * Stream states (half-close is tracked per direction: "local" is this
 * program, "remote" the far end of the tunnel).
 */
enum stream_state {
	STREAM_OPEN,        /* both directions carry data */
	STREAM_LOCAL_DONE,  /* we sent EOF; the peer may still send */
	STREAM_REMOTE_DONE, /* the peer sent EOF; we may still send */
	STREAM_CLOSED,      /* both EOFs, or a RESET either way: about to be freed */
	STREAM_STATE_MAX
};

enum stream_kind {
	STREAM_KIND_TCP,  /* PULL: raw bytes */
	STREAM_KIND_HTTP, /* EXPOSE: one HTTP request/response (or an upgrade) */
	STREAM_KIND_MAX
};

struct stream;

/*
 * What the object serving a stream is told (set by the multiplexer, see
 * mux.h). Every callback may send frames; none may free the stream.
 */
/*
 * Stream ids with this bit set are opened by the tunnel client (the
 * forward extension); the server allocates from 1 below it. Neither side
 * ever allocates from the other's space.
 */
#define STREAM_ID_CLIENT 0x80000000u

struct stream_ops {
	/* DATA from the peer, within credit. The bytes are valid during the
	 * call only: write them out or copy them. */
	void (*on_data)(struct stream *s, const uint8_t *p, size_t n);
	/* The peer sent EOF: no more DATA will come. */
	void (*on_eof)(struct stream *s);
	/* The peer reset the stream (code, UTF-8 reason of rlen bytes). */
	void (*on_reset)(struct stream *s, unsigned code, const char *reason, size_t rlen);
	/* Send credit grew: reading from the source may resume. */
	void (*on_credit)(struct stream *s);
	/* STREAM_RESPONSE_HEAD (daemon side of EXPOSE); may be NULL. */
	void (*on_head)(struct stream *s, const uint8_t *json, size_t n);
	/* FORWARD_OK (ok 1) or FORWARD_ERR (ok 0) with its JSON (client side
	 * of a forward stream); may be NULL. After FORWARD_ERR the stream is
	 * closed (on_close follows). */
	void (*on_forward)(struct stream *s, int ok, const uint8_t *json, size_t n);
	/* The stream is finished and about to be freed: drop the pointer. */
	void (*on_close)(struct stream *s);
	/* May be NULL. Called once after the last on_data of a batch of
	 * tunnel input (the bytes given to on_data stay valid until then), so
	 * an owner may gather pieces and write them with one writev. */
	void (*on_batch_end)(struct stream *s);
};

struct stream {
	/* read-only for users */
	uint32_t id;
	enum stream_state state;
	enum stream_kind kind;
	uint32_t bind_id;
	int sock_index;      /* v2: the tunnel socket that carries it (0 = primary) */
	struct flow_send tx; /* credit for DATA we send */
	struct flow_recv rx; /* credit we granted for DATA we receive */
	uint64_t bytes_in;   /* DATA payload received from the peer */
	uint64_t bytes_out;  /* DATA payload sent to the peer */
	uint64_t opened_ms;
	/* owned by the user */
	const struct stream_ops *ops; /* how the owner hears about peer frames */
	void *owner;                  /* the object serving the stream */
	/* private */
	struct stream *prev, *next; /* all streams of the table, oldest first */
	uint8_t busy;               /* inside an ops callback: free later */
	uint8_t doomed;             /* finished while busy */
	uint8_t in_batch;           /* on the mux's batch list */
	struct stream *batch_next;
};

struct stream_table {
	struct slab pool;
	struct stream **map; /* open addressing, NULL = empty bucket */
	uint32_t mask;       /* buckets - 1 (power of two, >= 2 x max) */
	uint32_t count;
	uint32_t max;            /* streams allowed at once */
	uint32_t next_id;        /* next id the server allocates */
	uint32_t next_client_id; /* next id the client allocates (STREAM_ID_CLIENT set) */
	uint64_t opened;         /* streams opened since init */
	struct stream *head, *tail;
};

/* Room for max streams. 0 or -ENOMEM / -EINVAL. */
int stream_table_init(struct stream_table *t, uint32_t max);
void stream_table_fini(struct stream_table *t);

/*
 * Open a stream. id 0 allocates the next server id (daemon side; none
 * once the server space is used up), id STREAM_ID_CLIENT the next client
 * id (client side of the forward extension); any other id takes the
 * peer's id and fails when a stream
 * with that id is open (v2 sessions deliver ids over several sockets, so
 * they may arrive out of order). Windows start at the given sizes both
 * ways. NULL when the table is full, the id is invalid or
 * memory ran out.
 */
struct stream *stream_open(struct stream_table *t, uint32_t id, enum stream_kind kind,
			   uint32_t stream_window);

/* The open stream with this id, or NULL. */
struct stream *stream_find(const struct stream_table *t, uint32_t id);

/*
 * Record an EOF sent (local) or received (remote). Returns the new state;
 * STREAM_CLOSED means the stream is finished and the caller must call
 * stream_free().
 */
enum stream_state stream_eof_local(struct stream *s);
enum stream_state stream_eof_remote(struct stream *s);

/* Mark a stream reset (either way): state becomes STREAM_CLOSED. */
void stream_reset(struct stream *s);

/* Remove the stream from the map and return its slot. */
void stream_free(struct stream_table *t, struct stream *s);

/* Call fn for every open stream (fn may free the stream it is given). */
void stream_foreach(struct stream_table *t, void (*fn)(struct stream *s, void *arg), void *arg);

const char *stream_state_name(enum stream_state st);

#endif
