/*
 * slab.h: a pool of fixed-size objects with generation-tagged handles.
 *
 * Streams, visitor connections and tunnel sockets come from pools instead
 * of one malloc each. Objects live in chunks that are allocated as the pool
 * grows (grow_step objects at a time) up to capacity_max objects, and are
 * never moved: a pointer stays valid until the object is freed. Freed slots
 * go on a free list (LIFO, so a hot slot is reused first).
 *
 * Every slot carries a generation that changes on each alloc and on each
 * free. A handle names a slot and its generation, so a handle kept across a
 * free (in an event queued before the object was closed, in a timer, in a
 * stream id map) is recognised as stale by slab_get() even when the slot has
 * been reused by then: nginx's "instance" bit, widened to 32 bits.
 *
 * The pool never calls the objects' owners and knows nothing of what they
 * hold; slab_fini() releases the chunks even with objects still allocated.
 * Not thread-safe (the daemon has one loop).
 */
#ifndef HT_SLAB_H
#define HT_SLAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * A handle: generation in the high 32 bits, slot index in the low 32 bits.
 * A live slot's generation is always odd, so 0 (SLAB_HANDLE_NONE) never
 * names a live object and can mean "no object". After 2^31 reuses of one
 * slot a very old handle could match again; nothing we keep lives that long.
 */
typedef uint64_t slab_handle;

#define SLAB_HANDLE_NONE ((slab_handle)0)

/* Objects per chunk when slab_init() is given grow_step 0. */
#define SLAB_GROW_DEFAULT 64u

/* Largest capacity_max (slot indexes are 32-bit, one value is reserved). */
#define SLAB_CAPACITY_LIMIT (UINT32_MAX - 1u)

static inline uint32_t slab_handle_index(slab_handle h) { return (uint32_t)h; }
static inline uint32_t slab_handle_gen(slab_handle h) { return (uint32_t)(h >> 32); }

/* Counters, read with slab_stats(). */
struct slab_stats {
	uint32_t in_use;         /* objects allocated now */
	uint32_t high_water;     /* most objects allocated at once since init */
	uint32_t capacity;       /* capacity_max given to slab_init */
	uint32_t allocated;      /* slots backed by memory (chunks allocated so far) */
	uint64_t alloc_failures; /* slab_alloc calls that returned NULL (cap or ENOMEM) */
	uint64_t nomem_failures; /* of those, the ones caused by malloc failing */
};

/*
 * The pool. Caller-allocated; every field is private to slab.c (read the
 * counters through slab_stats()).
 */
struct slab {
	size_t obj_size;         /* bytes the caller asked for */
	size_t stride;           /* slot header + object, rounded for alignment */
	uint32_t capacity_max;   /* never more objects than this */
	uint32_t grow_step;      /* slots per chunk (the last chunk may be shorter) */
	uint32_t allocated;      /* slots in allocated chunks */
	uint32_t free_head;      /* first free slot, or SLAB_NIL inside slab.c */
	uint32_t in_use;
	uint32_t high_water;
	uint64_t alloc_failures;
	uint64_t nomem_failures;
	unsigned char **chunks;  /* capacity_max / grow_step (rounded up) entries */
	uint32_t nchunks;        /* chunks allocated so far */
};

/*
 * Set up an empty pool of objects of obj_size bytes, at most capacity_max
 * of them, growing grow_step objects at a time (0: SLAB_GROW_DEFAULT, and
 * never more than capacity_max). Only the chunk table (one pointer per
 * possible chunk) is allocated here; the first chunk comes with the first
 * slab_alloc(). Objects are aligned for any type (max_align_t).
 * Returns 0, -EINVAL (obj_size or capacity_max 0, capacity_max above
 * SLAB_CAPACITY_LIMIT, sizes overflowing) or -ENOMEM. On error the pool is
 * zeroed and slab_fini() on it is harmless.
 */
int slab_init(struct slab *s, size_t obj_size, uint32_t capacity_max, uint32_t grow_step);

/*
 * Free every chunk and the chunk table, whether or not objects are still
 * allocated (their pointers become invalid; no destructor runs). The pool
 * is zeroed afterwards; calling slab_fini() again is harmless.
 */
void slab_fini(struct slab *s);

/*
 * Take an object, zero-filled (obj_size bytes). When h is not NULL it
 * receives the object's handle. Returns NULL, counting a failure in the
 * stats, when capacity_max objects are in use or a new chunk cannot be
 * allocated; *h is then SLAB_HANDLE_NONE.
 */
void *slab_alloc(struct slab *s, slab_handle *h);

/*
 * Return obj (from slab_alloc on this pool, still allocated) to the pool.
 * Its handle goes stale at once. NULL is ignored. Freeing an object twice
 * or one from another pool is a bug in the caller (asserted).
 */
void slab_free(struct slab *s, void *obj);

/*
 * The object a handle names, or NULL when the handle is SLAB_HANDLE_NONE,
 * out of range, or stale (its object was freed, even if the slot has been
 * allocated again since).
 */
void *slab_get(const struct slab *s, slab_handle h);

/* The current handle of an allocated object of this pool. */
slab_handle slab_handle_of(const struct slab *s, const void *obj);

/*
 * The slot index of an allocated object: 0 <= index < capacity_max, dense
 * from 0 (handy to index side arrays). Stable for the object's lifetime;
 * reused after it is freed.
 */
uint32_t slab_index_of(const struct slab *s, const void *obj);

/*
 * Iterate over allocated objects in index order: returns the first
 * allocated object whose index is >= *index and sets *index past it, or
 * NULL at the end. Start with *index = 0. Freeing the returned object
 * during the walk is allowed; objects allocated during it may or may not
 * be seen.
 */
void *slab_next(const struct slab *s, uint32_t *index);

/* Copy the counters into *st. */
void slab_stats(const struct slab *s, struct slab_stats *st);

#endif
