/*
 * fdbudget.c: FD permits and refusal slots, counted. See fdbudget.h.
 *
 * No system calls: arithmetic on the caller's struct. The hook fires on
 * edges of two predicates, "a permit is available" and "accepts should
 * pause", each computed before and after a change.
 */
#include "fdbudget.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

/* see fdbudget.h */
int
fdbudget_init(struct fdbudget *b, long rlimit_nofile, unsigned reserve, unsigned refusal_slots)
{
	*b = (struct fdbudget){ 0 };
	if (refusal_slots > UINT_MAX - FDBUDGET_FIXED_MIN || reserve < refusal_slots + FDBUDGET_FIXED_MIN ||
	    rlimit_nofile <= (long)reserve)
		return -EINVAL;
	b->total = (unsigned long)rlimit_nofile - reserve;
	b->reserve = reserve;
	b->refusal_slots = refusal_slots;
	return 0;
}

/* see fdbudget.h */
void
fdbudget_set_listener(struct fdbudget *b, fdbudget_change_fn *on_change, void *arg)
{
	b->on_change = on_change;
	b->arg = arg;
}

/* see fdbudget.h */
unsigned long
fdbudget_available(const struct fdbudget *b)
{
	return b->total - b->in_use;
}

/* see fdbudget.h */
int
fdbudget_exhausted(const struct fdbudget *b)
{
	return b->in_use >= b->total;
}

/* see fdbudget.h */
int
fdbudget_should_pause_accept(const struct fdbudget *b)
{
	return fdbudget_exhausted(b) && b->refusals_in_use >= b->refusal_slots;
}

/* Fire the hook when either predicate changed since (avail, pause). */
static void
notify(struct fdbudget *b, int was_avail, int was_paused)
{
	int avail = !fdbudget_exhausted(b);

	if (b->on_change != NULL && (avail != was_avail || fdbudget_should_pause_accept(b) != was_paused))
		b->on_change(b->arg, avail);
}

/* see fdbudget.h */
int
fdbudget_acquire(struct fdbudget *b, unsigned n)
{
	int was_avail = !fdbudget_exhausted(b), was_paused = fdbudget_should_pause_accept(b);

	if (n > fdbudget_available(b)) {
		b->refused_total++;
		return -1;
	}
	b->in_use += n;
	b->acquired_total += n;
	notify(b, was_avail, was_paused);
	return 0;
}

/* see fdbudget.h */
void
fdbudget_release(struct fdbudget *b, unsigned n)
{
	int was_avail = !fdbudget_exhausted(b), was_paused = fdbudget_should_pause_accept(b);

	if (n > b->in_use) {
		b->over_release_total++;
		n = (unsigned)b->in_use;
	}
	b->in_use -= n;
	notify(b, was_avail, was_paused);
}

/* see fdbudget.h */
int
fdbudget_refusal_acquire(struct fdbudget *b)
{
	int was_avail = !fdbudget_exhausted(b), was_paused = fdbudget_should_pause_accept(b);

	if (b->refusals_in_use >= b->refusal_slots) {
		b->paused_total++;
		return -1;
	}
	b->refusals_in_use++;
	b->refusals_total++;
	notify(b, was_avail, was_paused);
	return 0;
}

/* see fdbudget.h */
void
fdbudget_refusal_release(struct fdbudget *b)
{
	int was_avail = !fdbudget_exhausted(b), was_paused = fdbudget_should_pause_accept(b);

	if (b->refusals_in_use == 0) {
		b->over_release_total++;
		return;
	}
	b->refusals_in_use--;
	notify(b, was_avail, was_paused);
}
