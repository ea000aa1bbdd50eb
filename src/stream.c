/*
 * stream.c: stream table on a slab pool with an id map (see stream.h).
 *
 * The map is an open-addressing table of stream pointers sized to at least
 * twice the stream cap, so it never fills and probes stay short; deletes
 * shift the following run back instead of leaving tombstones.
 */
#include "stream.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
id_hash(uint32_t id)
{
	/* ids are sequential: a multiplicative hash spreads neighbours */
	return id * 2654435761u;
}

/* see stream.h */
int
stream_table_init(struct stream_table *t, uint32_t max)
{
	uint32_t buckets = 16;
	int rc;

	memset(t, 0, sizeof(*t));
	if (max == 0 || max > (1u << 28))
		return -EINVAL;
	while (buckets < 2 * max)
		buckets <<= 1;
	rc = slab_init(&t->pool, sizeof(struct stream), max, max < 256 ? max : 256);
	if (rc < 0)
		return rc;
	t->map = calloc(buckets, sizeof(*t->map));
	if (t->map == NULL) {
		slab_fini(&t->pool);
		return -ENOMEM;
	}
	t->mask = buckets - 1;
	t->max = max;
	t->next_id = 1;
	t->next_client_id = STREAM_ID_CLIENT + 1;
	return 0;
}

/* see stream.h */
void
stream_table_fini(struct stream_table *t)
{
	free(t->map);
	slab_fini(&t->pool);
	memset(t, 0, sizeof(*t));
}

static void
map_insert(struct stream_table *t, struct stream *s)
{
	uint32_t i = id_hash(s->id) & t->mask;

	while (t->map[i] != NULL)
		i = (i + 1) & t->mask;
	t->map[i] = s;
}

static uint32_t
map_lookup(const struct stream_table *t, uint32_t id)
{
	uint32_t i = id_hash(id) & t->mask;

	while (t->map[i] != NULL) {
		if (t->map[i]->id == id)
			return i;
		i = (i + 1) & t->mask;
	}
	return UINT32_MAX;
}

/* Delete bucket i, moving back entries whose probe run crossed it. */
static void
map_delete(struct stream_table *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->map[j] == NULL)
			break;
		home = id_hash(t->map[j]->id) & t->mask;
		/* keep j where it is if its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->map[i] = t->map[j];
		i = j;
	}
	t->map[i] = NULL;
}

/* see stream.h */
struct stream *
stream_open(struct stream_table *t, uint32_t id, enum stream_kind kind, uint32_t stream_window)
{
	struct stream *s;

	/* the peer's ids rise too, but v2 delivers them over several sockets
	 * in any order: only an id that is open now is refused */
	if (id == 0)
		id = t->next_id < STREAM_ID_CLIENT ? t->next_id : 0;
	else if (id == STREAM_ID_CLIENT)
		id = t->next_client_id;
	else if (stream_find(t, id) != NULL)
		return NULL;
	if (id == 0 || id == STREAM_ID_CLIENT || id == UINT32_MAX || t->count >= t->max)
		return NULL;
	s = slab_alloc(&t->pool);
	if (s == NULL)
		return NULL;
	s->id = id;
	s->state = STREAM_OPEN;
	s->kind = kind;
	flow_send_init(&s->tx, stream_window);
	flow_recv_init(&s->rx, stream_window);
	map_insert(t, s);
	s->prev = t->tail;
	if (t->tail)
		t->tail->next = s;
	else
		t->head = s;
	t->tail = s;
	if (id & STREAM_ID_CLIENT) {
		if (id >= t->next_client_id)
			t->next_client_id = id + 1;
	} else if (id >= t->next_id) {
		t->next_id = id + 1;
	}
	t->count++;
	t->opened++;
	return s;
}

/* see stream.h */
struct stream *
stream_find(const struct stream_table *t, uint32_t id)
{
	uint32_t i;

	if (t->map == NULL)
		return NULL;
	i = map_lookup(t, id);
	return i == UINT32_MAX ? NULL : t->map[i];
}

static enum stream_state
set_state(struct stream *s, enum stream_state st)
{
	assert(st < STREAM_STATE_MAX);
	s->state = st;
	return st;
}

/* see stream.h */
enum stream_state
stream_eof_local(struct stream *s)
{
	switch (s->state) {
	case STREAM_OPEN: return set_state(s, STREAM_LOCAL_DONE);
	case STREAM_REMOTE_DONE: return set_state(s, STREAM_CLOSED);
	default: return s->state;
	}
}

/* see stream.h */
enum stream_state
stream_eof_remote(struct stream *s)
{
	switch (s->state) {
	case STREAM_OPEN: return set_state(s, STREAM_REMOTE_DONE);
	case STREAM_LOCAL_DONE: return set_state(s, STREAM_CLOSED);
	default: return s->state;
	}
}

/* see stream.h */
void
stream_reset(struct stream *s)
{
	set_state(s, STREAM_CLOSED);
}

/* see stream.h */
void
stream_free(struct stream_table *t, struct stream *s)
{
	uint32_t i = map_lookup(t, s->id);

	assert(i != UINT32_MAX);
	map_delete(t, i);
	if (s->prev)
		s->prev->next = s->next;
	else
		t->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		t->tail = s->prev;
	t->count--;
	slab_free(&t->pool, s);
}

/* see stream.h */
void
stream_foreach(struct stream_table *t, void (*fn)(struct stream *s, void *arg), void *arg)
{
	struct stream *s = t->head, *next;

	for (; s != NULL; s = next) {
		next = s->next;
		fn(s, arg);
	}
}

/* see stream.h */
const char *
stream_state_name(enum stream_state st)
{
	static const char *const names[STREAM_STATE_MAX] = {
		"open",
		"local-done",
		"remote-done",
		"closed",
	};
	return st < STREAM_STATE_MAX ? names[st] : "?";
}
