/*
 * slab.h: a pool of fixed-size objects.
 *
 * Streams, visitor connections and PULL connections come from pools
 * instead of one malloc each. Objects live in chunks that are allocated as
 * the pool grows (grow_step objects at a time) up to capacity_max objects,
 * and are never moved: a pointer stays valid until the object is freed.
 * Freed slots go on a free list (LIFO, so a hot slot is reused first).
 *
 * The pool never calls the objects' owners and knows nothing of what they
 * hold; slab_fini() releases the chunks even with objects still allocated.
 * Not thread-safe (the daemon has one loop).
 */
#ifndef HT_SLAB_H
#define HT_SLAB_H

#include <stddef.h>
#include <stdint.h>

/* Objects per chunk when slab_init() is given grow_step 0. */
#define SLAB_GROW_DEFAULT 64u

/* Largest capacity_max (slot indexes are 32-bit, one value is reserved). */
#define SLAB_CAPACITY_LIMIT (UINT32_MAX - 1u)

/* The pool. Caller-allocated; every field is private to slab.c. */
struct slab {
	size_t obj_size;        /* bytes the caller asked for */
	size_t stride;          /* slot header + object, rounded for alignment */
	uint32_t capacity_max;  /* never more objects than this */
	uint32_t grow_step;     /* slots per chunk (the last chunk may be shorter) */
	uint32_t allocated;     /* slots in allocated chunks */
	uint32_t free_head;     /* first free slot, or SLAB_NIL inside slab.c */
	unsigned char **chunks; /* capacity_max / grow_step (rounded up) entries */
	uint32_t nchunks;       /* chunks allocated so far */
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
 * Take an object, zero-filled (obj_size bytes). Returns NULL when
 * capacity_max objects are in use or a new chunk cannot be allocated.
 */
void *slab_alloc(struct slab *s);

/*
 * Return obj (from slab_alloc on this pool, still allocated) to the pool.
 * NULL is ignored. Freeing an object twice or one from another pool is a
 * bug in the caller (asserted).
 */
void slab_free(struct slab *s, void *obj);

/*
 * Iterate over allocated objects in index order: returns the first
 * allocated object whose index is >= *index and sets *index past it, or
 * NULL at the end. Start with *index = 0. Freeing the returned object
 * during the walk is allowed; objects allocated during it may or may not
 * be seen.
 */
void *slab_next(const struct slab *s, uint32_t *index);

#endif
