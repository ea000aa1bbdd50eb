/*
 * slab.c: fixed-size object pool (see slab.h).
 *
 * Memory layout: chunks of grow_step slots; a slot is a small header (a
 * live flag, the slot's own index and the free-list link) followed by the
 * object, both aligned for max_align_t. The header is what lets
 * slab_free() work from the object pointer alone and slab_next() skip free
 * slots.
 *
 * This file does not zero objects on free, poison them, or call anything
 * on the objects; it owns slot bookkeeping and nothing else.
 */
#include "slab.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define SLAB_NIL UINT32_MAX

#define SLAB_ALIGN alignof(max_align_t)
#define SLAB_ROUND(n) (((n) + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN)

struct slab_slot {
	uint32_t live;  /* 1 while allocated */
	uint32_t index; /* this slot's index */
	uint32_t next;  /* next free slot while free, SLAB_NIL at the end */
};

#define SLAB_HDR SLAB_ROUND(sizeof(struct slab_slot))

static struct slab_slot *
slot_at(const struct slab *s, uint32_t index)
{
	unsigned char *chunk = s->chunks[index / s->grow_step];

	return (struct slab_slot *)(void *)(chunk + (size_t)(index % s->grow_step) * s->stride);
}

static void *
slot_obj(struct slab_slot *slot)
{
	return (unsigned char *)slot + SLAB_HDR;
}

/* The slot of an object this pool handed out; asserts that it is one. */
static struct slab_slot *
slot_of(const struct slab *s, const void *obj)
{
	struct slab_slot *slot = (struct slab_slot *)(void *)((uintptr_t)obj - SLAB_HDR);

	assert(slot->index < s->allocated && slot_at(s, slot->index) == slot);
	(void)s;
	return slot;
}

/* see slab.h */
int
slab_init(struct slab *s, size_t obj_size, uint32_t capacity_max, uint32_t grow_step)
{
	size_t nchunks;

	memset(s, 0, sizeof(*s));
	if (obj_size == 0 || capacity_max == 0 || capacity_max > SLAB_CAPACITY_LIMIT)
		return -EINVAL;
	if (obj_size > SIZE_MAX / 2 - SLAB_HDR - SLAB_ALIGN)
		return -EINVAL;
	if (grow_step == 0)
		grow_step = SLAB_GROW_DEFAULT;
	if (grow_step > capacity_max)
		grow_step = capacity_max;
	s->stride = SLAB_HDR + SLAB_ROUND(obj_size);
	if (s->stride > SIZE_MAX / grow_step) {
		memset(s, 0, sizeof(*s));
		return -EINVAL;
	}
	nchunks = ((size_t)capacity_max + grow_step - 1) / grow_step;
	s->chunks = calloc(nchunks, sizeof(*s->chunks));
	if (s->chunks == NULL) {
		memset(s, 0, sizeof(*s));
		return -ENOMEM;
	}
	s->obj_size = obj_size;
	s->capacity_max = capacity_max;
	s->grow_step = grow_step;
	s->free_head = SLAB_NIL;
	return 0;
}

/* see slab.h */
void
slab_fini(struct slab *s)
{
	uint32_t i;

	for (i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	memset(s, 0, sizeof(*s));
}

/*
 * Add one chunk (the last one may hold fewer than grow_step slots so that
 * capacity_max is never exceeded) and put its slots on the free list,
 * lowest index first. 0 or -ENOMEM.
 */
static int
slab_grow(struct slab *s)
{
	uint32_t n = s->capacity_max - s->allocated, base = s->allocated, i;
	unsigned char *chunk;

	if (n > s->grow_step)
		n = s->grow_step;
	chunk = malloc((size_t)n * s->stride);
	if (chunk == NULL)
		return -ENOMEM;
	s->chunks[s->nchunks++] = chunk;
	s->allocated += n;
	for (i = n; i-- > 0;) {
		struct slab_slot *slot = slot_at(s, base + i);

		slot->live = 0;
		slot->index = base + i;
		slot->next = s->free_head;
		s->free_head = base + i;
	}
	return 0;
}

/* see slab.h */
void *
slab_alloc(struct slab *s)
{
	struct slab_slot *slot;
	void *obj;

	if (s->free_head == SLAB_NIL && (s->allocated == s->capacity_max || slab_grow(s) < 0))
		return NULL;
	slot = slot_at(s, s->free_head);
	assert(!slot->live);
	s->free_head = slot->next;
	slot->next = SLAB_NIL;
	slot->live = 1;
	obj = slot_obj(slot);
	memset(obj, 0, s->obj_size);
	return obj;
}

/* see slab.h */
void
slab_free(struct slab *s, void *obj)
{
	struct slab_slot *slot;

	if (obj == NULL)
		return;
	slot = slot_of(s, obj);
	assert(slot->live); /* double free */
	slot->live = 0;
	slot->next = s->free_head;
	s->free_head = slot->index;
}

/* see slab.h */
void *
slab_next(const struct slab *s, uint32_t *index)
{
	uint32_t i;

	for (i = *index; i < s->allocated; i++) {
		struct slab_slot *slot = slot_at(s, i);

		if (slot->live) {
			*index = i + 1;
			return slot_obj(slot);
		}
	}
	*index = s->allocated;
	return NULL;
}
