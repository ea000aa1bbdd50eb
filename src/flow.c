/*
 * flow.c: credit accounting for DATA (see flow.h).
 *
 * Credits are int64_t so that every sum of a credit (<= 2^31-1) and a
 * u32 increment is exact, and every check happens before the update: on
 * error nothing changes. No I/O, no allocation.
 */
#include "flow.h"

#include <assert.h>

/* see flow.h */
int
flow_send_init(struct flow_send *s, uint32_t initial)
{
	if (initial > FLOW_WINDOW_MAX) {
		s->credit = 0;
		return FRAME_CODE_FLOW_CONTROL_ERROR;
	}
	s->credit = initial;
	return FRAME_CODE_NO_ERROR;
}

/* see flow.h */
int
flow_send_consume(struct flow_send *s, uint32_t n)
{
	if ((int64_t)n > s->credit)
		return FRAME_CODE_FLOW_CONTROL_ERROR;
	s->credit -= n;
	return FRAME_CODE_NO_ERROR;
}

/* see flow.h */
int
flow_send_grant(struct flow_send *s, uint32_t increment)
{
	if (increment == 0)
		return FRAME_CODE_PROTOCOL_ERROR;
	if (s->credit + (int64_t)increment > (int64_t)FLOW_WINDOW_MAX)
		return FRAME_CODE_FLOW_CONTROL_ERROR;
	s->credit += increment;
	return FRAME_CODE_NO_ERROR;
}

/* see flow.h */
size_t
flow_send_allowance(const struct flow_send *stream, const struct flow_send *session, size_t want)
{
	size_t n = UTIL_MIN(want, (size_t)FRAME_MAX_PAYLOAD);

	n = UTIL_MIN(n, flow_send_available(stream));
	if (session)
		n = UTIL_MIN(n, flow_send_available(session));
	return n;
}

/* see flow.h */
int
flow_recv_init(struct flow_recv *r, uint32_t window)
{
	if (window == 0 || window > FLOW_WINDOW_MAX) {
		r->window = r->threshold = r->pending = 0;
		r->available = 0;
		return FRAME_CODE_FLOW_CONTROL_ERROR;
	}
	r->window = window;
	r->available = window;
	r->pending = 0;
	flow_recv_set_threshold(r, window / 2);
	return FRAME_CODE_NO_ERROR;
}

/* see flow.h */
void
flow_recv_set_threshold(struct flow_recv *r, uint32_t threshold)
{
	r->threshold = UTIL_MAX(1u, UTIL_MIN(threshold, r->window));
}

/* see flow.h */
int
flow_recv_data(struct flow_recv *r, uint32_t n)
{
	if ((int64_t)n > r->available)
		return FRAME_CODE_FLOW_CONTROL_ERROR;
	r->available -= n;
	return FRAME_CODE_NO_ERROR;
}

/* see flow.h */
uint32_t
flow_recv_buffered(const struct flow_recv *r)
{
	return (uint32_t)((int64_t)r->window - r->available - r->pending);
}

/* see flow.h */
void
flow_recv_consumed(struct flow_recv *r, uint32_t n)
{
	assert(n <= flow_recv_buffered(r));
	r->pending += n;
}

/* see flow.h */
uint32_t
flow_recv_take_all(struct flow_recv *r)
{
	uint32_t inc = r->pending;

	r->pending = 0;
	r->available += inc;
	assert(r->available <= (int64_t)r->window);
	return inc;
}

/* see flow.h */
uint32_t
flow_recv_window_due(struct flow_recv *r)
{
	if (r->pending == 0 || r->pending < r->threshold)
		return 0;
	return flow_recv_take_all(r);
}
