/*
 * test_flow.c: credit-based flow control.
 *
 * Unit checks of each rule of PROTOCOL.md section 7, then a simulated
 * transfer of 100 MiB over several streams between a sender and a
 * receiver that keep their credit with this module, with DATA and WINDOW
 * frames in flight and a receiver that drains at random speed: it must
 * never stall, never overrun a window, and conserve every byte of credit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "flow.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t
rng(void)
{
	return (uint32_t)(testdata_next(&rng_state) >> 16);
}

/* ---- send side ---------------------------------------------------------- */

static void
test_send_consume_grant(void **state)
{
	struct flow_send s;

	(void)state;
	assert_int_equal(flow_send_init(&s, 100), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_available(&s), 100);
	assert_true(flow_send_can(&s, 0));
	assert_true(flow_send_can(&s, 100));
	assert_false(flow_send_can(&s, 101));
	assert_int_equal(flow_send_consume(&s, 60), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_available(&s), 40);
	assert_int_equal(flow_send_consume(&s, 41), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_send_available(&s), 40);
	assert_int_equal(flow_send_consume(&s, 40), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_available(&s), 0);
	assert_false(flow_send_can(&s, 1));
	assert_true(flow_send_can(&s, 0));
	assert_int_equal(flow_send_consume(&s, 0), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_grant(&s, 10), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_available(&s), 10);
	assert_true(flow_send_can(&s, 10));
}

static void
test_send_zero_increment(void **state)
{
	struct flow_send s;

	(void)state;
	flow_send_init(&s, 5);
	assert_int_equal(flow_send_grant(&s, 0), FRAME_CODE_PROTOCOL_ERROR);
	assert_int_equal(flow_send_available(&s), 5);
}

static void
test_send_overflow(void **state)
{
	struct flow_send s;

	(void)state;
	assert_int_equal(flow_send_init(&s, FLOW_WINDOW_MAX - 10), 0);
	assert_int_equal(flow_send_grant(&s, 10), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_available(&s), 0x7FFFFFFF);
	assert_int_equal(flow_send_grant(&s, 1), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_send_available(&s), 0x7FFFFFFF);

	assert_int_equal(flow_send_init(&s, 0), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_grant(&s, 0x7FFFFFFF), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_init(&s, 0), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_grant(&s, 0x80000000u), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_send_grant(&s, 0xFFFFFFFFu), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_send_available(&s), 0);

	/* the initial credit obeys the same limit */
	assert_int_equal(flow_send_init(&s, 0x7FFFFFFF), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_send_init(&s, 0x80000000u), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_send_available(&s), 0);
}

static void
test_send_allowance(void **state)
{
	struct flow_send st, se;

	(void)state;
	flow_send_init(&st, 1000000);
	flow_send_init(&se, 16000000);
	assert_int_equal(flow_send_allowance(&st, &se, 1u << 20), FRAME_MAX_PAYLOAD);
	assert_int_equal(flow_send_allowance(&st, &se, 500), 500);
	assert_int_equal(flow_send_allowance(&st, &se, 0), 0);
	flow_send_consume(&st, 1000000 - 300);
	assert_int_equal(flow_send_allowance(&st, &se, 1000), 300);
	flow_send_consume(&se, 16000000 - 7);
	assert_int_equal(flow_send_allowance(&st, &se, 1000), 7);
	assert_int_equal(flow_send_allowance(&st, NULL, 1000), 300);
	flow_send_consume(&se, 7);
	assert_int_equal(flow_send_allowance(&st, &se, 1000), 0);
}

/* ---- receive side ------------------------------------------------------- */

static void
test_recv_beyond_credit(void **state)
{
	struct flow_recv r;

	(void)state;
	assert_int_equal(flow_recv_init(&r, 1000), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&r, 600), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&r, 401), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_buffered(&r), 600);
	assert_int_equal(flow_recv_data(&r, 400), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&r, 0), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&r, 1), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_buffered(&r), 1000);
	/* consumed but not yet returned is still not credit */
	flow_recv_consumed(&r, 1000);
	assert_int_equal(flow_recv_data(&r, 1), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_window_due(&r), 1000);
	assert_int_equal(flow_recv_data(&r, 1000), FRAME_CODE_NO_ERROR);
}

static void
test_recv_init_limits(void **state)
{
	struct flow_recv r;

	(void)state;
	assert_int_equal(flow_recv_init(&r, 0), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_data(&r, 1), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_init(&r, 0x80000000u), FRAME_CODE_FLOW_CONTROL_ERROR);
	assert_int_equal(flow_recv_init(&r, 0x7FFFFFFF), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&r, 0x7FFFFFFF), FRAME_CODE_NO_ERROR);
	flow_recv_consumed(&r, 0x7FFFFFFF);
	assert_int_equal(flow_recv_window_due(&r), 0x7FFFFFFF);
	assert_int_equal(flow_recv_init(&r, 1), FRAME_CODE_NO_ERROR);
	assert_int_equal(r.threshold, 1);
}

static void
test_recv_window_due(void **state)
{
	struct flow_recv r;

	(void)state;
	flow_recv_init(&r, 1000);
	assert_int_equal(r.threshold, 500);
	assert_int_equal(flow_recv_window_due(&r), 0);
	flow_recv_data(&r, 800);
	flow_recv_consumed(&r, 499);
	assert_int_equal(flow_recv_window_due(&r), 0);
	assert_int_equal(r.available, 200);
	flow_recv_consumed(&r, 1);
	assert_int_equal(flow_recv_window_due(&r), 500);
	assert_int_equal(r.available, 700);
	assert_int_equal(r.pending, 0);
	assert_int_equal(flow_recv_window_due(&r), 0);
	assert_int_equal(flow_recv_buffered(&r), 300);

	/* a lower threshold returns credit sooner; 0 means 1 */
	flow_recv_set_threshold(&r, 0);
	assert_int_equal(r.threshold, 1);
	flow_recv_consumed(&r, 1);
	assert_int_equal(flow_recv_window_due(&r), 1);
	flow_recv_set_threshold(&r, 100);
	flow_recv_consumed(&r, 99);
	assert_int_equal(flow_recv_window_due(&r), 0);
	flow_recv_consumed(&r, 200);
	assert_int_equal(flow_recv_window_due(&r), 299);
	/* a threshold above the window is the window */
	flow_recv_set_threshold(&r, 5000);
	assert_int_equal(r.threshold, 1000);
	assert_int_equal(r.available, 1000);
}

static void
test_recv_take_all(void **state)
{
	struct flow_recv r;

	(void)state;
	flow_recv_init(&r, 1 << 20);
	assert_int_equal(flow_recv_take_all(&r), 0);
	flow_recv_data(&r, 4000);
	flow_recv_consumed(&r, 10);
	assert_int_equal(flow_recv_window_due(&r), 0);
	assert_int_equal(flow_recv_take_all(&r), 10);
	assert_int_equal(flow_recv_take_all(&r), 0);
	assert_int_equal(r.available, (1 << 20) - 3990);
	/* a closed stream's buffered bytes are discarded: consumed, returned */
	flow_recv_consumed(&r, 3990);
	assert_int_equal(flow_recv_take_all(&r), 3990);
	assert_int_equal(r.available, 1 << 20);
	assert_int_equal(flow_recv_buffered(&r), 0);
}

/* ---- simulated transfer -------------------------------------------------- */

#define SIM_STREAMS 4
#define SIM_QMAX 4096

struct sim_msg {
	uint32_t sid; /* 0: session (WINDOW only) */
	uint32_t n;
};

struct sim_queue {
	struct sim_msg m[SIM_QMAX];
	size_t head, len;
	uint64_t bytes[SIM_STREAMS + 1]; /* per id, bytes or increments in flight */
};

static void
q_push(struct sim_queue *q, uint32_t sid, uint32_t n)
{
	assert_true(q->len < SIM_QMAX);
	q->m[(q->head + q->len++) % SIM_QMAX] = (struct sim_msg){ sid, n };
	q->bytes[sid] += n;
}

static struct sim_msg
q_pop(struct sim_queue *q)
{
	struct sim_msg m = q->m[q->head];

	q->head = (q->head + 1) % SIM_QMAX;
	q->len--;
	q->bytes[m.sid] -= m.n;
	return m;
}

struct sim {
	/* sender */
	struct flow_send s_session, s_stream[SIM_STREAMS];
	uint64_t to_send[SIM_STREAMS];
	/* receiver */
	struct flow_recv r_session, r_stream[SIM_STREAMS];
	uint64_t received[SIM_STREAMS];
	/* wire */
	struct sim_queue data;   /* sender -> receiver, DATA */
	struct sim_queue window; /* receiver -> sender, WINDOW */
	uint32_t max_chunk;
	uint32_t session_window, stream_window;
};

/* Credit is conserved: what the sender holds + what is on the wire + what
 * the receiver holds equals the window, per stream and for the session. */
static void
sim_check(const struct sim *s)
{
	uint64_t sum;
	int i;

	sum = flow_send_available(&s->s_session) + s->data.bytes[1] + s->data.bytes[2] + s->data.bytes[3] +
	      s->data.bytes[4] + s->window.bytes[0] + s->r_session.pending +
	      flow_recv_buffered(&s->r_session);
	assert_true(sum == s->session_window);
	assert_true(s->r_session.available + s->r_session.pending <= s->r_session.window);
	for (i = 0; i < SIM_STREAMS; i++) {
		const struct flow_recv *r = &s->r_stream[i];

		sum = flow_send_available(&s->s_stream[i]) + s->data.bytes[i + 1] + s->window.bytes[i + 1] +
		      r->pending + flow_recv_buffered(r);
		assert_true(sum == s->stream_window);
		assert_true(r->available + r->pending <= r->window);
	}
}

/* The sender picks a stream and sends what credit allows. */
static int
sim_send(struct sim *s)
{
	int i, k = (int)(rng() % SIM_STREAMS);

	for (i = 0; i < SIM_STREAMS; i++, k = (k + 1) % SIM_STREAMS) {
		size_t want = 1 + rng() % s->max_chunk, n;

		if (s->to_send[k] == 0 || s->data.len == SIM_QMAX)
			continue;
		want = (size_t)UTIL_MIN((uint64_t)want, s->to_send[k]);
		n = flow_send_allowance(&s->s_stream[k], &s->s_session, want);
		if (n == 0)
			continue;
		assert_true(n <= FRAME_MAX_PAYLOAD);
		assert_int_equal(flow_send_consume(&s->s_stream[k], (uint32_t)n), 0);
		assert_int_equal(flow_send_consume(&s->s_session, (uint32_t)n), 0);
		s->to_send[k] -= n;
		q_push(&s->data, (uint32_t)k + 1, (uint32_t)n);
		return 1;
	}
	return 0;
}

static int
sim_deliver_data(struct sim *s)
{
	struct sim_msg m;

	if (s->data.len == 0)
		return 0;
	m = q_pop(&s->data);
	assert_int_equal(flow_recv_data(&s->r_session, m.n), FRAME_CODE_NO_ERROR);
	assert_int_equal(flow_recv_data(&s->r_stream[m.sid - 1], m.n), FRAME_CODE_NO_ERROR);
	return 1;
}

static int
sim_deliver_window(struct sim *s)
{
	struct sim_msg m;
	struct flow_send *f;

	if (s->window.len == 0)
		return 0;
	m = q_pop(&s->window);
	f = m.sid ? &s->s_stream[m.sid - 1] : &s->s_session;
	assert_int_equal(flow_send_grant(f, m.n), FRAME_CODE_NO_ERROR);
	return 1;
}

/* The receiver writes some of one stream's buffered bytes to its socket. */
static int
sim_consume(struct sim *s)
{
	int i, k = (int)(rng() % SIM_STREAMS);
	uint32_t inc;

	for (i = 0; i < SIM_STREAMS; i++, k = (k + 1) % SIM_STREAMS) {
		uint32_t buffered = flow_recv_buffered(&s->r_stream[k]), n;

		if (buffered == 0)
			continue;
		n = 1 + rng() % buffered;
		flow_recv_consumed(&s->r_stream[k], n);
		flow_recv_consumed(&s->r_session, n);
		s->received[k] += n;
		if ((inc = flow_recv_window_due(&s->r_stream[k])) != 0)
			q_push(&s->window, (uint32_t)k + 1, inc);
		if ((inc = flow_recv_window_due(&s->r_session)) != 0)
			q_push(&s->window, 0, inc);
		return 1;
	}
	return 0;
}

static void
sim_run(uint32_t session_window, uint32_t stream_window, uint32_t max_chunk, uint64_t total)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint64_t steps = 0, got;
	int i;

	assert_non_null(s);
	s->session_window = session_window;
	s->stream_window = stream_window;
	s->max_chunk = max_chunk;
	assert_int_equal(flow_send_init(&s->s_session, session_window), 0);
	assert_int_equal(flow_recv_init(&s->r_session, session_window), 0);
	for (i = 0; i < SIM_STREAMS; i++) {
		assert_int_equal(flow_send_init(&s->s_stream[i], stream_window), 0);
		assert_int_equal(flow_recv_init(&s->r_stream[i], stream_window), 0);
		s->to_send[i] = total / SIM_STREAMS;
	}
	for (;;) {
		int progressed;

		switch (rng() % 4) {
		case 0: progressed = sim_send(s); break;
		case 1: progressed = sim_deliver_data(s); break;
		case 2: progressed = sim_deliver_window(s); break;
		default: progressed = sim_consume(s); break;
		}
		steps++;
		if ((steps & 255) == 0 || !progressed)
			sim_check(s);
		if (progressed)
			continue;
		/* Nothing happened this step: stalled only if no action at all
		 * could make progress. */
		if (s->data.len || s->window.len || sim_consume(s) || sim_send(s))
			continue;
		for (got = 0, i = 0; i < SIM_STREAMS; i++)
			got += s->received[i];
		if (got == total)
			break;
		fail_msg("stalled after %llu bytes (session %u stream %u)", (unsigned long long)got,
			 session_window, stream_window);
	}
	for (i = 0; i < SIM_STREAMS; i++) {
		assert_true(s->to_send[i] == 0);
		assert_true(s->received[i] == total / SIM_STREAMS);
		/* the last bytes below the threshold are still pending */
		assert_true(s->r_stream[i].pending < s->r_stream[i].threshold);
		assert_int_equal(flow_recv_buffered(&s->r_stream[i]), 0);
	}
	sim_check(s);
	free(s);
}

static void
test_simulated_transfer(void **state)
{
	const uint64_t total = 100ull << 20;

	(void)state;
	/* the protocol defaults */
	sim_run(16u << 20, 1u << 20, 65536, total);
	/* session window smaller than the sum of stream windows, small writes */
	sim_run(256u << 10, 128u << 10, 1500, total / 8);
	/* tiny windows, smaller than one frame */
	sim_run(3000, 1000, 65536, 4u << 20);
	/* odd window sizes */
	sim_run(65537, 99991, 40000, 16u << 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_consume_grant), cmocka_unit_test(test_send_zero_increment),
		cmocka_unit_test(test_send_overflow),      cmocka_unit_test(test_send_allowance),
		cmocka_unit_test(test_recv_beyond_credit), cmocka_unit_test(test_recv_init_limits),
		cmocka_unit_test(test_recv_window_due),    cmocka_unit_test(test_recv_take_all),
		cmocka_unit_test(test_simulated_transfer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
