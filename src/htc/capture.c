/*
 * capture.c: the ring of exchanges the inspector shows (see capture.h).
 *
 * Slot buffers grow by doubling up to their cap and are kept when the slot
 * is reused; a failed allocation only cuts the capture short (the
 * exchange says truncated), never the request.
 */
#include "capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "util.h"

#define CAPTURE_GROW_MIN 512
#define CAPTURE_KEEP 4096 /* a reused slot keeps a body buffer up to this size */

/* see capture.h */
int
capture_init(struct capture *c, size_t n, size_t body_max)
{
	memset(c, 0, sizeof(*c));
	if (n == 0 || n > CAPTURE_REQUESTS_MAX)
		return -EINVAL;
	c->ring = calloc(n, sizeof(*c->ring));
	if (c->ring == NULL)
		return -ENOMEM;
	c->n = n;
	c->body_max = body_max;
	c->next_id = 1;
	return 0;
}

static void
part_free(struct capture_part *p)
{
	free(p->head);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

/* Empty p, keeping its buffers unless a body's is big (it goes back to the heap). */
static void
part_reset(struct capture_part *p)
{
	p->head_len = 0;
	p->head_truncated = false;
	p->body_len = 0;
	p->body_size = 0;
	if (p->body_cap > CAPTURE_KEEP) {
		free(p->body);
		p->body = NULL;
		p->body_cap = 0;
	}
}

/* see capture.h */
void
capture_fini(struct capture *c)
{
	size_t i;

	for (i = 0; c->ring != NULL && i < c->n; i++) {
		part_free(&c->ring[i].req);
		part_free(&c->ring[i].resp);
	}
	free(c->ring);
	memset(c, 0, sizeof(*c));
}

/* see capture.h */
void
capture_set_done_cb(struct capture *c, capture_done_cb *cb, void *arg)
{
	c->on_done = cb;
	c->arg = arg;
}

static struct capture_ex *
slot_of(const struct capture *c, uint64_t id)
{
	struct capture_ex *x;

	if (id == 0 || c->ring == NULL)
		return NULL;
	x = &c->ring[(id - 1) % c->n];
	return x->id == id ? x : NULL;
}

/* see capture.h */
uint64_t
capture_open(struct capture *c, unsigned binding, const char *remote, uint64_t replay_of)
{
	uint64_t id = c->next_id++;
	struct capture_ex *x = &c->ring[(id - 1) % c->n];

	x->id = id;
	x->state = CAPTURE_OPEN;
	x->binding = binding;
	x->replay_of = replay_of;
	x->start_wall_ms = clock_wall_ms();
	x->start_us = clock_mono_us();
	x->duration_us = 0;
	x->status = 0;
	x->why[0] = '\0';
	if (remote == NULL)
		remote = "";
	util_catn(x->remote, sizeof(x->remote), 0, remote, strlen(remote));
	part_reset(&x->req);
	part_reset(&x->resp);
	return id;
}

/* see capture.h */
const struct capture_ex *
capture_get(const struct capture *c, uint64_t id)
{
	return slot_of(c, id);
}

/*
 * Make room for want bytes in *buf (capacity *cap, len used), growing by
 * doubling up to max. Returns the bytes that fit (maybe fewer than want).
 */
static size_t
grow(uint8_t **buf, size_t *cap, size_t len, size_t want, size_t max)
{
	size_t need = UTIL_MIN(len + want, max), ncap;
	uint8_t *nb;

	if (need <= *cap)
		return need - len;
	ncap = UTIL_MAX(UTIL_MAX(*cap * 2, need), (size_t)CAPTURE_GROW_MIN);
	ncap = UTIL_MIN(ncap, max);
	nb = realloc(*buf, ncap);
	if (nb == NULL)
		return *cap > len ? *cap - len : 0;
	*buf = nb;
	*cap = ncap;
	return need - len;
}

static void
set_head(struct capture_part *p, const void *src, size_t n)
{
	size_t k;

	p->head_len = 0;
	k = grow(&p->head, &p->head_cap, 0, n, CAPTURE_HEAD_MAX);
	if (k > 0)
		memcpy(p->head, src, k);
	p->head_len = k;
	p->head_truncated = k < n;
}

static void
add_body(struct capture_part *p, size_t max, const void *src, size_t n)
{
	size_t k = 0;

	p->body_size += n;
	if (p->body_len < max && n > 0)
		k = grow(&p->body, &p->body_cap, p->body_len, n, max);
	if (k > 0) {
		memcpy(p->body + p->body_len, src, k);
		p->body_len += k;
	}
}

/* see capture.h */
void
capture_req_head(struct capture *c, uint64_t id, const void *p, size_t n)
{
	struct capture_ex *x = slot_of(c, id);

	if (x != NULL)
		set_head(&x->req, p, n);
}

/* see capture.h */
void
capture_req_body(struct capture *c, uint64_t id, const void *p, size_t n)
{
	struct capture_ex *x = slot_of(c, id);

	if (x != NULL)
		add_body(&x->req, c->body_max, p, n);
}

/* see capture.h */
void
capture_resp_head(struct capture *c, uint64_t id, const void *p, size_t n)
{
	struct capture_ex *x = slot_of(c, id);

	if (x != NULL)
		set_head(&x->resp, p, n);
}

/* see capture.h */
void
capture_resp_body(struct capture *c, uint64_t id, const void *p, size_t n)
{
	struct capture_ex *x = slot_of(c, id);

	if (x != NULL)
		add_body(&x->resp, c->body_max, p, n);
}

/* see capture.h */
void
capture_done(struct capture *c, uint64_t id, int status, const char *why)
{
	struct capture_ex *x = slot_of(c, id);

	if (x == NULL || x->state != CAPTURE_OPEN)
		return;
	x->state = CAPTURE_DONE;
	x->status = status;
	x->duration_us = clock_mono_us() - x->start_us;
	if (why == NULL)
		why = "";
	util_catn(x->why, sizeof(x->why), 0, why, strlen(why));
	if (c->on_done != NULL)
		c->on_done(c->arg, x);
}

/* see capture.h */
void
capture_clear(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		part_free(&c->ring[i].req);
		part_free(&c->ring[i].resp);
		memset(&c->ring[i], 0, sizeof(c->ring[i]));
	}
}

/* see capture.h */
const struct capture_ex *
capture_next(const struct capture *c, const struct capture_ex *prev)
{
	uint64_t newest = c->next_id - 1, oldest = newest >= c->n ? newest - c->n + 1 : 1, id;
	const struct capture_ex *x;

	if (c->ring == NULL || newest == 0)
		return NULL;
	id = prev == NULL ? newest : prev->id - 1;
	for (; id >= oldest && id > 0; id--) {
		x = slot_of(c, id);
		if (x != NULL && x->state == CAPTURE_DONE)
			return x;
	}
	return NULL;
}

/* see capture.h */
size_t
capture_memory(const struct capture *c)
{
	size_t i, sum = c->n * sizeof(*c->ring);

	for (i = 0; c->ring != NULL && i < c->n; i++)
		sum += c->ring[i].req.head_cap + c->ring[i].req.body_cap + c->ring[i].resp.head_cap +
		       c->ring[i].resp.body_cap;
	return sum;
}
