/*
 * reactor.c: the loop (see reactor.h): timer heap, before-poll hooks,
 * queued interest changes, dispatch with the stale-event check, signal
 * fan-out and the closing phase. The kernel side lives behind
 * reactor_backend.h.
 *
 * Stale events. A poll returns a batch; while it is dispatched, a handler
 * may stop a watcher whose event is later in the batch, close its fd, and
 * register a new watcher on the same fd number, even in the same memory
 * (a pool slot reused at once). Each ready entry carries the watcher
 * pointer (epoll_data.ptr, kevent udata), and is checked before dispatch:
 *   - w->active == 0: stopped earlier in the batch, drop;
 *   - w->since >= r->polls: (re)started after this poll returned, so the
 *     event belongs to the previous registration, drop.
 * r->polls counts polls and is the generation; w->since records it when
 * the watcher starts. The pointer itself stays valid through the batch by
 * the close rule (memory is released in the closing phase, reactor_defer).
 * A watcher stopped outside a batch was removed from the kernel at once,
 * so no later poll can name it.
 *
 * What it does not do: threads, fd ownership (never closes a caller fd),
 * priorities, idle/check phases.
 */
#include "reactor_backend.h"

#include "clock.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* ---- intrusive lists (circular, sentinel in struct reactor) ----------- */

static void
list_init(struct reactor_node *head)
{
	head->prev = head->next = head;
}

static void
list_append(struct reactor_node *head, struct reactor_node *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Unlink n; a walk in progress (r->walk is its next node) skips it. */
static void
list_unlink(struct reactor *r, struct reactor_node *n)
{
	if (r->walk == n)
		r->walk = n->next;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

/* ---- timer heap: binary min-heap on (deadline, seq) ------------------- */

static int
timer_before(const struct reactor_timer *a, const struct reactor_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void
heap_place(struct reactor *r, size_t i, struct reactor_timer *t)
{
	r->heap[i] = t;
	t->heap_index = i + 1;
}

static void
heap_up(struct reactor *r, size_t i)
{
	struct reactor_timer *t = r->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, r->heap[parent]))
			break;
		heap_place(r, i, r->heap[parent]);
		i = parent;
	}
	heap_place(r, i, t);
}

static void
heap_down(struct reactor *r, size_t i)
{
	struct reactor_timer *t = r->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && timer_before(r->heap[c + 1], r->heap[c]))
			c++;
		if (!timer_before(r->heap[c], t))
			break;
		heap_place(r, i, r->heap[c]);
		i = c;
	}
	heap_place(r, i, t);
}

static void
heap_remove(struct reactor *r, struct reactor_timer *t)
{
	size_t i = t->heap_index - 1;
	struct reactor_timer *last = r->heap[--r->nheap];

	t->heap_index = 0;
	if (i == r->nheap)
		return;
	heap_place(r, i, last);
	heap_up(r, i);
	heap_down(r, last->heap_index - 1);
}

/* Insert t due in timeout ms; the caller made room. */
static void
heap_push(struct reactor *r, struct reactor_timer *t, uint64_t timeout)
{
	t->deadline = timeout > UINT64_MAX - r->now ? UINT64_MAX : r->now + timeout;
	t->seq = ++r->timer_seq;
	r->heap[r->nheap++] = t;
	heap_up(r, r->nheap - 1);
}

static int
heap_reserve(struct reactor *r)
{
	struct reactor_timer **h;
	size_t cap;

	if (r->nheap < r->heap_cap)
		return 0;
	cap = r->heap_cap ? r->heap_cap * 2 : 16;
	h = realloc(r->heap, cap * sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	r->heap = h;
	r->heap_cap = cap;
	return 0;
}

/* see reactor.h */
void
reactor_timer_init(struct reactor_timer *t, reactor_timer_cb *cb)
{
	t->deadline = t->repeat = t->seq = 0;
	t->heap_index = 0;
	t->cb = cb;
}

/* see reactor.h */
int
reactor_timer_start(struct reactor *r, struct reactor_timer *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
	if (t->heap_index)
		heap_remove(r, t);
	else if (heap_reserve(r) != 0)
		return -ENOMEM;
	t->repeat = repeat_ms;
	heap_push(r, t, timeout_ms);
	return 0;
}

/* see reactor.h */
void
reactor_timer_stop(struct reactor *r, struct reactor_timer *t)
{
	if (t->heap_index)
		heap_remove(r, t);
}

/*
 * Fire every timer due at reactor_now, earliest first. Timers (re)started
 * during this pass have a larger seq and wait for the next pass, so a
 * callback restarting itself with timeout 0 cannot loop here forever.
 */
static void
run_timers(struct reactor *r)
{
	uint64_t last_seq = r->timer_seq;

	while (r->nheap) {
		struct reactor_timer *t = r->heap[0];

		if (t->deadline > r->now || t->seq > last_seq)
			break;
		heap_remove(r, t);
		if (t->repeat)
			heap_push(r, t, t->repeat); /* the slot just freed */
		t->cb(r, t);
	}
}

/* ---- watchers ---------------------------------------------------------- */

/* see reactor.h */
void
reactor_watcher_init(struct reactor_watcher *w, int fd, reactor_io_cb *cb)
{
	w->fd = fd;
	w->interest = w->kernel = w->revents = 0;
	w->active = 0;
	w->since = 0;
	w->change.prev = w->change.next = NULL;
	w->cb = cb;
}

/* see reactor_backend.h */
void
reactor_watcher_mark_started(struct reactor *r, struct reactor_watcher *w, unsigned interest)
{
	w->interest = interest & (REACTOR_READ | REACTOR_WRITE);
	w->active = 1;
	w->since = r->polls;
}

/* see reactor.h */
int
reactor_watcher_start(struct reactor *r, struct reactor_watcher *w, unsigned interest)
{
	int err;

	assert(!w->active);
	interest &= REACTOR_READ | REACTOR_WRITE;
	if (interest) {
		err = reactor_backend_set(r, w, interest);
		if (err) {
			(void)reactor_backend_set(r, w, 0); /* a partial kqueue add */
			return err;
		}
	}
	reactor_watcher_mark_started(r, w, interest);
	return 0;
}

/* see reactor.h */
void
reactor_watcher_set(struct reactor *r, struct reactor_watcher *w, unsigned interest)
{
	int queued = w->change.next != NULL;

	w->interest = interest & (REACTOR_READ | REACTOR_WRITE);
	if (!w->active)
		return;
	/* Set twice back to what the kernel has: nothing to apply at all. */
	if (w->interest != w->kernel && !queued)
		list_append(&r->changes, &w->change);
	else if (w->interest == w->kernel && queued)
		list_unlink(r, &w->change);
}

/* see reactor.h */
void
reactor_watcher_stop(struct reactor *r, struct reactor_watcher *w)
{
	if (!w->active)
		return;
	if (w->change.next != NULL)
		list_unlink(r, &w->change);
	/* At once, not queued: the caller closes the fd right after. */
	if (w->kernel)
		(void)reactor_backend_set(r, w, 0);
	w->active = 0;
}

/* Apply queued interest changes: one kernel update per changed watcher. */
static int
flush_changes(struct reactor *r)
{
	while (r->changes.next != &r->changes) {
		struct reactor_node *n = r->changes.next;
		struct reactor_watcher *w = container_of(n, struct reactor_watcher, change);
		int err;

		list_unlink(r, n);
		err = reactor_backend_set(r, w, w->interest);
		if (err) {
			list_append(&r->changes, n); /* still owed; retried next run */
			return err;
		}
	}
	return 0;
}

static void
dispatch(struct reactor *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct reactor_watcher *w;
		unsigned events;

		reactor_backend_event(r, i, &w, &events);
		if (!w->active || w->since >= r->polls)
			continue; /* stale: see the comment at the top */
		events &= w->interest;
		if (events)
			w->cb(r, w, events);
	}
}

/* ---- hooks, deferred callbacks, signals -------------------------------- */

/* see reactor.h */
void
reactor_hook_start(struct reactor *r, struct reactor_hook *h, reactor_hook_cb *cb)
{
	h->cb = cb;
	if (h->node.next == NULL)
		list_append(&r->hooks, &h->node);
}

/* see reactor.h */
void
reactor_hook_stop(struct reactor *r, struct reactor_hook *h)
{
	if (h->node.next != NULL)
		list_unlink(r, &h->node);
}

static void
run_hooks(struct reactor *r)
{
	struct reactor_node *n;

	for (n = r->hooks.next; n != &r->hooks; n = r->walk) {
		struct reactor_hook *h = container_of(n, struct reactor_hook, node);

		r->walk = n->next;
		if (h->cb(r, h))
			r->wake = 1;
	}
	r->walk = NULL;
}

/* see reactor.h */
void
reactor_defer(struct reactor *r, struct reactor_deferred *d, reactor_deferred_cb *cb)
{
	if (d->queued)
		return;
	d->cb = cb;
	d->next = NULL;
	d->queued = 1;
	*r->defer_tail = d;
	r->defer_tail = &d->next;
}

/* The closing phase: run what was queued before it started. */
static void
run_deferred(struct reactor *r)
{
	struct reactor_deferred *d = r->defer_head;

	r->defer_head = NULL;
	r->defer_tail = &r->defer_head;
	while (d != NULL) {
		struct reactor_deferred *next = d->next;

		d->queued = 0; /* before cb: it may free d or queue it again */
		d->cb(r, d);
		d = next;
	}
}

static int
signal_watched(struct reactor *r, int signo)
{
	struct reactor_node *n;

	for (n = r->signals.next; n != &r->signals; n = n->next)
		if (container_of(n, struct reactor_signal, node)->signo == signo)
			return 1;
	return 0;
}

/* see reactor.h */
int
reactor_signal_start(struct reactor *r, struct reactor_signal *s, int signo, reactor_signal_cb *cb)
{
	int err;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (s->node.next != NULL)
		reactor_signal_stop(r, s);
	if (!signal_watched(r, signo)) {
		err = reactor_backend_signal(r, signo, 1);
		if (err)
			return err;
	}
	s->signo = signo;
	s->cb = cb;
	list_append(&r->signals, &s->node);
	return 0;
}

/* see reactor.h */
void
reactor_signal_stop(struct reactor *r, struct reactor_signal *s)
{
	if (s->node.next == NULL)
		return;
	list_unlink(r, &s->node);
	if (!signal_watched(r, s->signo))
		(void)reactor_backend_signal(r, s->signo, 0);
}

/* see reactor_backend.h */
void
reactor_signal_fire(struct reactor *r, int signo)
{
	struct reactor_node *n;

	for (n = r->signals.next; n != &r->signals; n = r->walk) {
		struct reactor_signal *s = container_of(n, struct reactor_signal, node);

		r->walk = n->next;
		if (s->signo == signo)
			s->cb(r, s);
	}
	r->walk = NULL;
}

/* ---- the loop ---------------------------------------------------------- */

/* see reactor.h */
int
reactor_init(struct reactor *r)
{
	int err;

	r->polls = 0;
	r->stopping = r->wake = 0;
	list_init(&r->changes);
	list_init(&r->hooks);
	list_init(&r->signals);
	r->walk = NULL;
	r->heap = NULL;
	r->nheap = r->heap_cap = 0;
	r->timer_seq = 0;
	r->defer_head = NULL;
	r->defer_tail = &r->defer_head;
	reactor_watcher_init(&r->sig_watcher, -1, NULL);
	sigemptyset(&r->sig_watched);
	sigemptyset(&r->sig_blocked);
	sigemptyset(&r->sig_fired);
	err = reactor_backend_init(r);
	if (err)
		return err;
	reactor_update_time(r);
	return 0;
}

/* see reactor.h */
void
reactor_fini(struct reactor *r)
{
	while (r->defer_head != NULL)
		run_deferred(r);
	reactor_backend_fini(r);
	free(r->heap);
	r->heap = NULL;
	r->nheap = r->heap_cap = 0;
}

/* see reactor.h */
void
reactor_update_time(struct reactor *r)
{
	r->now = clock_mono_ms();
}

/* see reactor.h */
void
reactor_stop(struct reactor *r)
{
	r->stopping = 1;
}

/* see reactor.h */
void
reactor_wake_next(struct reactor *r)
{
	r->wake = 1;
}

static int
poll_timeout(const struct reactor *r)
{
	uint64_t wait;

	if (r->wake || r->stopping || r->defer_head != NULL)
		return 0;
	if (r->nheap == 0)
		return -1;
	if (r->heap[0]->deadline <= r->now)
		return 0;
	wait = r->heap[0]->deadline - r->now;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* see reactor.h */
int
reactor_run(struct reactor *r)
{
	int n, err;

	reactor_update_time(r);
	do {
		run_timers(r);
		run_hooks(r);
		err = flush_changes(r);
		if (err)
			break;
		n = reactor_backend_poll(r, poll_timeout(r));
		r->wake = 0;
		if (n < 0) {
			err = n;
			break;
		}
		r->polls++;
		reactor_update_time(r);
		dispatch(r, n);
		run_deferred(r);
	} while (!r->stopping);
	r->stopping = 0;
	return err;
}
