/*
 * test_stream.c: the stream table and the stream state machine: server and
 * peer ids, the table cap, the id map against a reference set (with ids
 * chosen to collide, so deletes shift runs back, also across the end of
 * the bucket array), every order of EOF/EOF/RESET, and stream_foreach
 * freeing the stream it visits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

/* ---- ids ---------------------------------------------------------------- */

static void
test_init_rejects(void **state)
{
	struct stream_table t;

	(void)state;
	assert_int_equal(stream_table_init(&t, 0), -EINVAL);
	assert_int_equal(stream_table_init(&t, (1u << 28) + 1), -EINVAL);
	assert_null(stream_find(&t, 1)); /* a failed init leaves an empty table */
	assert_int_equal(stream_table_init(&t, 1), 0);
	assert_int_equal(t.count, 0);
	stream_table_fini(&t);
}

/* The two id spaces: the client's (bit 31) never moves the server's, and the other way round. */
static void
test_client_ids(void **state)
{
	struct stream_table t;
	struct stream *a, *b, *c, *p;

	(void)state;
	assert_int_equal(stream_table_init(&t, 16), 0);
	a = stream_open(&t, STREAM_ID_CLIENT, STREAM_KIND_TCP, 10);
	b = stream_open(&t, STREAM_ID_CLIENT, STREAM_KIND_TCP, 10);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->id, 0x80000001u);
	assert_int_equal(b->id, 0x80000002u);
	c = stream_open(&t, 0, STREAM_KIND_TCP, 10); /* the server's space is untouched */
	assert_non_null(c);
	assert_int_equal(c->id, 1);
	p = stream_open(&t, 0x80000010u, STREAM_KIND_TCP, 10); /* a peer's client id */
	assert_non_null(p);
	assert_null(stream_open(&t, 0x80000010u, STREAM_KIND_TCP, 10)); /* open: refused */
	stream_free(&t, p);
	p = stream_open(&t, 0, STREAM_KIND_TCP, 10);
	assert_int_equal(p->id, 2);
	stream_free(&t, p);
	p = stream_open(&t, STREAM_ID_CLIENT, STREAM_KIND_TCP, 10);
	assert_int_equal(p->id, 0x80000011u);
	stream_free(&t, p);
	/* the server's space ends below the client's */
	t.next_id = STREAM_ID_CLIENT;
	assert_null(stream_open(&t, 0, STREAM_KIND_TCP, 10));
	stream_free(&t, a);
	stream_free(&t, b);
	stream_free(&t, c);
	stream_table_fini(&t);
}

static void
test_server_ids(void **state)
{
	struct stream_table t;
	struct stream *s[4];
	uint32_t i;

	(void)state;
	assert_int_equal(stream_table_init(&t, 16), 0);
	for (i = 0; i < 3; i++) {
		s[i] = stream_open(&t, 0, STREAM_KIND_TCP, 1000);
		assert_non_null(s[i]);
		assert_int_equal(s[i]->id, i + 1);
		assert_int_equal(s[i]->state, STREAM_OPEN);
		assert_int_equal(s[i]->kind, STREAM_KIND_TCP);
		assert_int_equal(flow_send_available(&s[i]->tx), 1000);
		assert_int_equal(s[i]->rx.window, 1000);
		assert_ptr_equal(stream_find(&t, i + 1), s[i]);
	}
	assert_int_equal(t.count, 3);
	/* a freed id is never handed out again */
	stream_free(&t, s[1]);
	assert_null(stream_find(&t, 2));
	assert_ptr_equal(stream_find(&t, 1), s[0]);
	assert_ptr_equal(stream_find(&t, 3), s[2]);
	s[3] = stream_open(&t, 0, STREAM_KIND_HTTP, 5);
	assert_non_null(s[3]);
	assert_int_equal(s[3]->id, 4);
	assert_int_equal(s[3]->kind, STREAM_KIND_HTTP);
	assert_null(stream_find(&t, 2));
	stream_free(&t, s[0]);
	stream_free(&t, s[2]);
	stream_free(&t, s[3]);
	assert_int_equal(t.count, 0);
	/* still never reused once the table is empty */
	s[0] = stream_open(&t, 0, STREAM_KIND_TCP, 5);
	assert_int_equal(s[0]->id, 5);
	assert_int_equal(t.opened, 5);
	assert_null(stream_find(&t, 0));
	stream_table_fini(&t);
}

static void
test_peer_ids(void **state)
{
	struct stream_table t;
	struct stream *a, *b, *c;

	(void)state;
	assert_int_equal(stream_table_init(&t, 16), 0);
	/* v2: ids arrive out of order over several sockets */
	a = stream_open(&t, 7, STREAM_KIND_TCP, 10);
	b = stream_open(&t, 3, STREAM_KIND_TCP, 10);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->id, 7);
	assert_int_equal(b->id, 3);
	/* an id that is open now is refused, and the table is unchanged */
	assert_null(stream_open(&t, 3, STREAM_KIND_TCP, 10));
	assert_null(stream_open(&t, 7, STREAM_KIND_TCP, 10));
	assert_int_equal(t.count, 2);
	assert_ptr_equal(stream_find(&t, 3), b);
	/* invalid */
	assert_null(stream_open(&t, UINT32_MAX, STREAM_KIND_TCP, 10));
	/* an id not open any more may come again (it is the peer's business) */
	stream_free(&t, b);
	b = stream_open(&t, 3, STREAM_KIND_TCP, 10);
	assert_non_null(b);
	assert_ptr_equal(stream_find(&t, 3), b);
	/* a server id never collides with one seen from the peer */
	c = stream_open(&t, 0, STREAM_KIND_TCP, 10);
	assert_non_null(c);
	assert_true(c->id > 7);
	assert_int_equal(t.count, 3);
	stream_table_fini(&t);
}

static void
test_table_cap(void **state)
{
	struct stream_table t;
	struct stream *s[5];
	int i;

	(void)state;
	assert_int_equal(stream_table_init(&t, 4), 0);
	for (i = 0; i < 4; i++)
		assert_non_null(s[i] = stream_open(&t, 0, STREAM_KIND_TCP, 10));
	assert_null(stream_open(&t, 0, STREAM_KIND_TCP, 10));
	assert_null(stream_open(&t, 100, STREAM_KIND_TCP, 10));
	assert_int_equal(t.count, 4);
	stream_free(&t, s[2]);
	s[4] = stream_open(&t, 0, STREAM_KIND_TCP, 10);
	assert_non_null(s[4]);
	assert_int_equal(s[4]->id, 5); /* the refused opens did not use up an id */
	assert_null(stream_open(&t, 0, STREAM_KIND_TCP, 10));
	stream_table_fini(&t); /* frees open streams too (ASan checks) */
}

/* ---- the map against a reference set ------------------------------------ */

/* The multiplicative inverse of the hash constant mod 2^32 (Newton). */
static uint32_t
inverse_u32(uint32_t a)
{
	uint32_t x = a;
	int i;

	for (i = 0; i < 5; i++)
		x *= 2u - a * x;
	return x;
}

static uint32_t rng_state = 0x12345678u;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

#define REF_MAX 1000
#define REF_IDS 4096

struct ref {
	uint32_t ids[REF_IDS]; /* the candidate ids */
	struct stream *open[REF_IDS];
	size_t nopen;
};

static void
check_all(const struct stream_table *t, const struct ref *ref)
{
	size_t i;

	for (i = 0; i < REF_IDS; i++) {
		struct stream *s = stream_find(t, ref->ids[i]);

		assert_ptr_equal(s, ref->open[i]);
		if (s != NULL)
			assert_int_equal(s->id, ref->ids[i]);
	}
	assert_int_equal(t->count, ref->nopen);
}

/*
 * ids whose home buckets fall into a few narrow ranges (one across the end
 * of the bucket array), many ids per bucket: long probe runs, and deletes
 * that must shift entries back, wrapping around. The map must give the same
 * answers whatever its hash is; the choice of ids only makes it harder.
 */
static void
make_colliding_ids(struct ref *ref, uint32_t mask)
{
	uint32_t inv = inverse_u32(2654435761u), i;
	static const uint32_t homes[] = { 0, 1, 2, 3, 5, 8, 100, 101, 103 };

	for (i = 0; i < REF_IDS; i++) {
		uint32_t home;
		uint32_t k = i + 1; /* distinct ids, same few homes */

		if (i % 4 == 3)
			home = (mask - (i % 7)) & mask; /* the end of the array */
		else
			home = homes[i % (sizeof(homes) / sizeof(homes[0]))];
		ref->ids[i] = ((home * inv) & mask) + k * (mask + 1);
	}
}

static void
random_run(struct ref *ref, int server_ids, unsigned ops)
{
	struct stream_table t;
	unsigned op;
	size_t i;

	assert_int_equal(stream_table_init(&t, REF_MAX), 0);
	memset(ref->open, 0, sizeof(ref->open));
	ref->nopen = 0;
	if (!server_ids)
		make_colliding_ids(ref, t.mask);
	for (op = 0; op < ops; op++) {
		uint32_t r = rng();

		if (server_ids) {
			/* open with id 0: the reference learns the id */
			if ((r & 3) != 0 && ref->nopen < REF_MAX) {
				struct stream *s = stream_open(&t, 0, STREAM_KIND_TCP, 1);

				assert_non_null(s);
				for (i = 0; i < REF_IDS && ref->ids[i] != 0; i++)
					;
				if (i == REF_IDS)
					break; /* every slot used once: enough */
				ref->ids[i] = s->id;
				ref->open[i] = s;
				ref->nopen++;
			} else if (ref->nopen > 0) {
				size_t k = (r >> 8) % REF_IDS;

				for (i = 0; i < REF_IDS; i++)
					if (ref->open[(k + i) % REF_IDS] != NULL)
						break;
				k = (k + i) % REF_IDS;
				stream_free(&t, ref->open[k]);
				ref->open[k] = NULL;
				ref->nopen--;
			}
		} else {
			size_t k = (r >> 4) % REF_IDS;
			struct stream *s;

			if (ref->open[k] != NULL) {
				/* a second open of an open id fails; then free it */
				assert_null(stream_open(&t, ref->ids[k], STREAM_KIND_TCP, 1));
				stream_free(&t, ref->open[k]);
				ref->open[k] = NULL;
				ref->nopen--;
			} else {
				s = stream_open(&t, ref->ids[k], STREAM_KIND_TCP, 1);
				if (ref->nopen == REF_MAX) {
					assert_null(s);
				} else {
					assert_non_null(s);
					ref->open[k] = s;
					ref->nopen++;
				}
			}
		}
		/* a few ids each step, every id now and then */
		for (i = 0; i < 4; i++) {
			size_t k = rng() % REF_IDS;

			assert_ptr_equal(stream_find(&t, ref->ids[k]), ref->open[k]);
		}
		if (op % 512 == 0)
			check_all(&t, ref);
	}
	check_all(&t, ref);
	/* take everything out in a random order, checking as we go */
	while (ref->nopen > 0) {
		size_t k = rng() % REF_IDS;

		if (ref->open[k] == NULL)
			continue;
		stream_free(&t, ref->open[k]);
		ref->open[k] = NULL;
		ref->nopen--;
		if (ref->nopen % 128 == 0)
			check_all(&t, ref);
	}
	check_all(&t, ref);
	assert_null(t.head);
	assert_null(t.tail);
	stream_table_fini(&t);
}

static void
test_map_random_colliding(void **state)
{
	static struct ref ref;

	(void)state;
	random_run(&ref, 0, 10000);
	random_run(&ref, 0, 20000);
}

static void
test_map_random_server_ids(void **state)
{
	static struct ref ref;

	(void)state;
	memset(ref.ids, 0, sizeof(ref.ids));
	random_run(&ref, 1, 5000);
}

/* Delete the middle of one long run, then its head, then across the wrap. */
static void
test_map_backward_shift(void **state)
{
	struct stream_table t;
	static struct ref ref;
	uint32_t inv = inverse_u32(2654435761u), i;
	struct stream *s[12];

	(void)state;
	assert_int_equal(stream_table_init(&t, 8), 0); /* 16 buckets */
	/* six ids with home mask-1, six with home mask: the run wraps to 0.. */
	for (i = 0; i < 12; i++) {
		uint32_t home = i < 6 ? t.mask - 1 : t.mask;

		ref.ids[i] = ((home * inv) & t.mask) + (i + 1) * (t.mask + 1);
	}
	for (i = 0; i < 8; i++)
		assert_non_null(s[i] = stream_open(&t, ref.ids[i], STREAM_KIND_TCP, 1));
	stream_free(&t, s[1]);
	stream_free(&t, s[0]);
	stream_free(&t, s[6]);
	for (i = 0; i < 8; i++) {
		if (i == 0 || i == 1 || i == 6)
			assert_null(stream_find(&t, ref.ids[i]));
		else
			assert_ptr_equal(stream_find(&t, ref.ids[i]), s[i]);
	}
	for (i = 8; i < 11; i++)
		assert_non_null(s[i] = stream_open(&t, ref.ids[i], STREAM_KIND_TCP, 1));
	for (i = 2; i < 11; i++)
		if (i != 6)
			assert_ptr_equal(stream_find(&t, ref.ids[i]), s[i]);
	assert_null(stream_open(&t, ref.ids[11], STREAM_KIND_TCP, 1)); /* cap 8 */
	stream_table_fini(&t);
}

/* ---- state machine ------------------------------------------------------- */

enum { EV_LOCAL, EV_REMOTE, EV_RESET };

/* Every sequence of 1..4 events: CLOSED exactly when both EOFs or a reset. */
static void
test_state_all_orders(void **state)
{
	struct stream_table t;
	unsigned len, code, combos;

	(void)state;
	assert_int_equal(stream_table_init(&t, 4), 0);
	for (len = 1; len <= 4; len++) {
		combos = 1;
		for (code = 0; code < len; code++)
			combos *= 3;
		for (code = 0; code < combos; code++) {
			struct stream *s = stream_open(&t, 0, STREAM_KIND_TCP, 1);
			int local = 0, remote = 0, reset = 0;
			unsigned c = code, k;

			assert_non_null(s);
			for (k = 0; k < len; k++, c /= 3) {
				enum stream_state want, got;

				switch (c % 3) {
				case EV_LOCAL:
					local = 1;
					got = stream_eof_local(s);
					break;
				case EV_REMOTE:
					remote = 1;
					got = stream_eof_remote(s);
					break;
				default:
					reset = 1;
					stream_reset(s);
					got = s->state;
					break;
				}
				if (reset || (local && remote))
					want = STREAM_CLOSED;
				else if (local)
					want = STREAM_LOCAL_DONE;
				else if (remote)
					want = STREAM_REMOTE_DONE;
				else
					want = STREAM_OPEN;
				assert_int_equal(got, want);
				assert_int_equal(s->state, want);
			}
			stream_free(&t, s);
		}
	}
	assert_int_equal(t.count, 0);
	stream_table_fini(&t);
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(stream_state_name(STREAM_OPEN), "open");
	assert_string_equal(stream_state_name(STREAM_LOCAL_DONE), "local-done");
	assert_string_equal(stream_state_name(STREAM_REMOTE_DONE), "remote-done");
	assert_string_equal(stream_state_name(STREAM_CLOSED), "closed");
	assert_string_equal(stream_state_name(STREAM_STATE_MAX), "?");
}

/* ---- foreach -------------------------------------------------------------- */

struct visit {
	struct stream_table *t;
	uint32_t seen[64];
	unsigned n;
	int free_mode; /* 0 none, 1 all, 2 odd ids */
};

static void
visit_fn(struct stream *s, void *arg)
{
	struct visit *v = arg;

	v->seen[v->n++] = s->id;
	if (v->free_mode == 1 || (v->free_mode == 2 && (s->id & 1)))
		stream_free(v->t, s);
}

static void
test_foreach_frees(void **state)
{
	struct stream_table t;
	struct visit v;
	uint32_t i;

	(void)state;
	assert_int_equal(stream_table_init(&t, 32), 0);
	for (i = 0; i < 10; i++)
		assert_non_null(stream_open(&t, 0, STREAM_KIND_TCP, 1));
	memset(&v, 0, sizeof(v));
	v.t = &t;
	v.free_mode = 2;
	stream_foreach(&t, visit_fn, &v);
	assert_int_equal(v.n, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(v.seen[i], i + 1); /* oldest first */
	assert_int_equal(t.count, 5);
	for (i = 1; i <= 10; i++)
		assert_true((stream_find(&t, i) != NULL) == ((i & 1) == 0));

	memset(&v, 0, sizeof(v));
	v.t = &t;
	v.free_mode = 1;
	stream_foreach(&t, visit_fn, &v);
	assert_int_equal(v.n, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(v.seen[i], 2 * (i + 1));
	assert_int_equal(t.count, 0);
	assert_null(t.head);

	memset(&v, 0, sizeof(v));
	v.t = &t;
	stream_foreach(&t, visit_fn, &v);
	assert_int_equal(v.n, 0);
	/* the list is sound after all that: new streams are visited in order */
	for (i = 0; i < 3; i++)
		assert_non_null(stream_open(&t, 0, STREAM_KIND_TCP, 1));
	stream_foreach(&t, visit_fn, &v);
	assert_int_equal(v.n, 3);
	assert_int_equal(v.seen[0], 11);
	assert_int_equal(v.seen[2], 13);
	stream_table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_server_ids),
		cmocka_unit_test(test_client_ids),
		cmocka_unit_test(test_peer_ids),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_map_random_colliding),
		cmocka_unit_test(test_map_random_server_ids),
		cmocka_unit_test(test_map_backward_shift),
		cmocka_unit_test(test_state_all_orders),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_foreach_frees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
