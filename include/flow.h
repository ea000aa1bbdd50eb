/*
 * flow.h: credit-based flow control (PROTOCOL.md section 7).
 *
 * Pure arithmetic on caller-owned structs, no I/O and no allocation. The
 * same structs serve a stream window and the session window; a DATA frame
 * is charged to both. Errors are reported as enum frame_code values, the
 * code the caller puts in its RESET (stream credit) or GOAWAY (session
 * credit).
 *
 * Send side: credit the peer granted us, spent by DATA, refilled by the
 * peer's WINDOW frames.
 *
 * Receive side: credit we granted the peer. For a window W the receiver
 * keeps   available + buffered + pending == W   where `available` is what
 * the peer may still send, `buffered` what arrived but has not reached the
 * destination socket yet (derived, not stored) and `pending` what has
 * been written out but not yet returned with WINDOW. Credit is returned in
 * one WINDOW once pending reaches the threshold (W/2 by default), so a
 * sender always has at least half a window in flight and one WINDOW is
 * sent per half window of data, not per DATA frame.
 */
#ifndef HT_FLOW_H
#define HT_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Largest credit either side may hold (2^31-1). */
#define FLOW_WINDOW_MAX 0x7fffffffu

/* ---- send side ---------------------------------------------------------- */

struct flow_send {
	int64_t credit; /* bytes we may still send; 0..FLOW_WINDOW_MAX */
};

/*
 * Start with the initial credit from HELLO_OK. FRAME_CODE_NO_ERROR, or
 * FRAME_CODE_FLOW_CONTROL_ERROR when initial > FLOW_WINDOW_MAX (credit
 * set to 0).
 */
int flow_send_init(struct flow_send *s, uint32_t initial);

/* Bytes we may still send. */
static inline size_t
flow_send_available(const struct flow_send *s)
{
	return (size_t)s->credit;
}

/* 1 when n bytes of DATA may be sent now (always for n = 0), else 0. */
static inline int
flow_send_can(const struct flow_send *s, size_t n)
{
	return (uint64_t)n <= (uint64_t)s->credit;
}

/*
 * Charge n bytes of DATA. FRAME_CODE_NO_ERROR, or
 * FRAME_CODE_FLOW_CONTROL_ERROR (credit unchanged) when n > credit: a bug
 * of ours, the sender must have asked flow_send_can() first.
 */
int flow_send_consume(struct flow_send *s, uint32_t n);

/*
 * Apply a WINDOW increment from the peer. FRAME_CODE_NO_ERROR;
 * FRAME_CODE_PROTOCOL_ERROR for increment 0; FRAME_CODE_FLOW_CONTROL_ERROR
 * when the credit would exceed 2^31-1 (exactly 2^31-1 is allowed). The
 * credit is unchanged on error.
 */
int flow_send_grant(struct flow_send *s, uint32_t increment);

/*
 * How many bytes one DATA frame may carry now: min(want, stream credit,
 * session credit, FRAME_MAX_PAYLOAD). 0 means blocked (or want is 0);
 * session may be NULL for a check against the stream alone.
 */
size_t flow_send_allowance(const struct flow_send *stream, const struct flow_send *session, size_t want);

/* ---- receive side ------------------------------------------------------- */

struct flow_recv {
	uint32_t window;    /* the window advertised in HELLO_OK */
	uint32_t threshold; /* return credit once pending >= threshold (1..window) */
	int64_t available;  /* bytes the peer may still send */
	uint32_t pending;   /* bytes consumed, not yet returned by WINDOW */
};

/*
 * Start with `window` bytes granted (1..FLOW_WINDOW_MAX) and the default
 * threshold window/2 (at least 1). FRAME_CODE_NO_ERROR, or
 * FRAME_CODE_FLOW_CONTROL_ERROR when window is 0 or above the maximum.
 */
int flow_recv_init(struct flow_recv *r, uint32_t window);

/*
 * Change the threshold (clamped to 1..window). A small threshold returns
 * credit sooner at the cost of more WINDOW frames.
 */
void flow_recv_set_threshold(struct flow_recv *r, uint32_t threshold);

/*
 * DATA of n bytes arrived. FRAME_CODE_NO_ERROR, or
 * FRAME_CODE_FLOW_CONTROL_ERROR when n exceeds the credit the peer had
 * (nothing charged). n = 0 always succeeds.
 */
int flow_recv_data(struct flow_recv *r, uint32_t n);

/*
 * n received bytes reached their destination (written to the socket, or
 * discarded because the stream is gone): they become pending. n must not
 * exceed the bytes received and not yet consumed.
 */
void flow_recv_consumed(struct flow_recv *r, uint32_t n);

/* Bytes received and not yet consumed (window - available - pending). */
uint32_t flow_recv_buffered(const struct flow_recv *r);

/*
 * The WINDOW increment to send now: all pending bytes once they reach the
 * threshold, else 0. A non-zero result counts as sent (the credit is
 * available again); the caller MUST send it.
 */
uint32_t flow_recv_window_due(struct flow_recv *r);

/*
 * Return every pending byte whatever the threshold (for instance the
 * session credit of a stream that just closed). 0 when none; otherwise
 * counts as sent like flow_recv_window_due().
 */
uint32_t flow_recv_take_all(struct flow_recv *r);

#endif
