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

#define REACTOR_SETTLE_ROUNDS 4 /* deferred-then-hooks rounds before a poll */

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

/*
 * The heap is a complete binary tree linked through the timers themselves
 * (parent/left/right, libuv's heap-inl.h layout), so starting a timer never
 * allocates. r->timers is the root (the next due), r->timer_last the last
 * node in level order: insert appends after it, remove moves it into the
 * hole. It steps to its level-order neighbour instead of being looked up
 * from the root: O(1) amortized over runs of inserts or removes instead of
 * a walk of the tree's height through cold timers. Nodes move by relinking
 * only the ones that change place (a hole goes up or down), and a removed
 * timer sinks to a leaf with one comparison per level.
 */

static int
timer_before(const struct reactor_timer *a, const struct reactor_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* The node after t in level order (it must exist). */
static struct reactor_timer *
heap_next(struct reactor_timer *t)
{
	int up = 0;

	while (t->parent != NULL && t == t->parent->right) {
		t = t->parent;
		up++;
	}
	if (t->parent == NULL)
		up++; /* t was the last of its level: the first of the next one */
	else
		t = t->parent->right;
	while (up-- > 0)
		t = t->left;
	return t;
}

/* The node before t in level order (t is not the root). */
static struct reactor_timer *
heap_prev(struct reactor_timer *t)
{
	int up = 0;

	while (t->parent != NULL && t == t->parent->left) {
		t = t->parent;
		up++;
	}
	if (t->parent == NULL)
		up--; /* t was the first of its level: the last of the one above */
	else
		t = t->parent->left;
	while (up-- > 0)
		t = t->right;
	return t;
}

/* Point whatever pointed at `from` (its parent's child link, or the root) at `to`. */
static void
heap_relink(struct reactor *r, struct reactor_timer *parent, struct reactor_timer *from,
	    struct reactor_timer *to)
{
	if (parent == NULL)
		r->timers = to;
	else if (parent->left == from)
		parent->left = to;
	else
		parent->right = to;
}

/*
 * Move t up while it is earlier than its parent. Each parent passed moves
 * down one level into the place t left (taking that place's children), so
 * only the nodes that move are written, and t is linked once, at the end.
 */
static void
heap_up(struct reactor *r, struct reactor_timer *t)
{
	struct reactor_timer *hl = t->left, *hr = t->right, *at = t, *p;

	while ((p = at->parent) != NULL && timer_before(t, p)) {
		struct reactor_timer *pl = p->left, *pr = p->right;

		p->left = hl;
		p->right = hr;
		if (hl != NULL)
			hl->parent = p;
		if (hr != NULL)
			hr->parent = p;
		if (at == t && r->timer_last == t)
			r->timer_last = p; /* the first parent passed takes t's place */
		hl = pl == at ? p : pl;
		hr = pl == at ? pr : p;
		at = p;
	}
	if (at == t)
		return;
	t->parent = p;
	heap_relink(r, p, at, t);
	t->left = hl;
	t->right = hr;
	hl->parent = t;
	if (hr != NULL)
		hr->parent = t;
}

/*
 * Move t down while a child is earlier, or all the way to a leaf when
 * `leaving` (t is being removed: it counts as later than everything, and
 * each level costs one comparison). The earlier child moves up into the
 * place t leaves; t is linked once, at the end.
 */
static void
heap_down(struct reactor *r, struct reactor_timer *t, int leaving)
{
	struct reactor_timer *up = t->parent, *l = t->left, *rt = t->right, *c, *other;
	struct reactor_timer **link = up == NULL ? &r->timers : up->left == t ? &up->left : &up->right;

	while (l != NULL) {
		int right = rt != NULL && timer_before(rt, l);

		c = right ? rt : l;
		if (!leaving && !timer_before(c, t))
			break;
		other = right ? l : rt;
		l = c->left;
		rt = c->right;
		*link = c;
		c->parent = up;
		if (right) {
			c->left = other;
			other->parent = c;
			link = &c->right;
		} else {
			c->right = other;
			if (other != NULL)
				other->parent = c;
			link = &c->left;
		}
		up = c;
	}
	if (up != t->parent && r->timer_last == up)
		r->timer_last = t; /* the last node (a leaf) moved up: t takes its place */
	*link = t;
	t->parent = up;
	t->left = l;
	t->right = rt;
	if (l != NULL)
		l->parent = t;
	if (rt != NULL)
		rt->parent = t;
}

/* Give t its deadline (now + timeout, saturating) and the next seq. */
static void
timer_key(struct reactor *r, struct reactor_timer *t, uint64_t timeout)
{
	t->deadline = timeout > UINT64_MAX - r->now ? UINT64_MAX : r->now + timeout;
	t->seq = ++r->timer_seq;
}

/* Append t after the last node, then sift it up. */
static void
heap_insert(struct reactor *r, struct reactor_timer *t)
{
	struct reactor_timer *last = r->timer_last, *parent;

	t->left = t->right = NULL;
	t->active = 1;
	if (last == NULL) {
		parent = NULL;
		r->timers = t;
	} else if (r->ntimers % 2 == 0) { /* last is a left child: t is its sibling */
		parent = last->parent;
		parent->right = t;
	} else { /* t is the left child of the node after last's parent */
		parent = last->parent == NULL ? last : heap_next(last->parent);
		parent->left = t;
	}
	t->parent = parent;
	r->timer_last = t;
	r->ntimers++;
	heap_up(r, t);
}

/* Take t out: sink it to a leaf, put the last node there, sift that up. */
static void
heap_remove(struct reactor *r, struct reactor_timer *t)
{
	struct reactor_timer *last, *before;

	t->active = 0;
	t->later_seq = 0;
	if (r->ntimers-- == 1) {
		r->timers = r->timer_last = NULL;
		return;
	}
	heap_down(r, t, 1);
	last = r->timer_last;
	before = heap_prev(last);
	heap_relink(r, last->parent, last, NULL);
	r->timer_last = before == t ? last : before;
	if (last == t)
		return;
	last->parent = t->parent;
	last->left = last->right = NULL;
	heap_relink(r, t->parent, t, last);
	heap_up(r, last);
}

/* see reactor.h */
void
reactor_timer_init(struct reactor_timer *t, reactor_timer_cb *cb)
{
	t->parent = t->left = t->right = NULL;
	t->deadline = t->seq = t->repeat = t->later = t->later_seq = 0;
	t->cb = cb;
	t->active = 0;
}

/* see reactor.h */
void
reactor_timer_start(struct reactor *r, struct reactor_timer *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
	uint64_t deadline = timeout_ms > UINT64_MAX - r->now ? UINT64_MAX : r->now + timeout_ms;

	t->repeat = repeat_ms;
	if (t->active && deadline >= t->deadline) {
		/* later than its place in the heap: keep the place, move it when it comes up */
		t->later = deadline;
		t->later_seq = ++r->timer_seq;
		return;
	}
	t->later_seq = 0;
	timer_key(r, t, timeout_ms);
	if (!t->active) {
		heap_insert(r, t);
		return;
	}
	/* Already in the heap, due earlier now: it moves up. */
	heap_up(r, t);
}

/* see reactor.h */
void
reactor_timer_stop(struct reactor *r, struct reactor_timer *t)
{
	if (t->active)
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

	while (r->timers != NULL) {
		struct reactor_timer *t = r->timers;

		if (t->deadline > r->now || t->seq > last_seq)
			break;
		if (t->later_seq) { /* restarted later meanwhile: its real key now */
			t->deadline = t->later;
			t->seq = t->later_seq;
			t->later_seq = 0;
			heap_down(r, t, 0);
			continue;
		}
		if (t->repeat) {
			timer_key(r, t, t->repeat);
			heap_down(r, t, 0); /* the root, moved later */
		} else {
			heap_remove(r, t);
		}
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
	r->timers = r->timer_last = NULL;
	r->ntimers = 0;
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
	if (r->timers == NULL)
		return -1;
	if (r->timers->deadline <= r->now)
		return 0;
	wait = r->timers->deadline - r->now;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

/*
 * What the hooks queued (output flushed hands back lent memory, so an
 * owner is freed or resumes) runs now, then the hooks again, a few rounds
 * at most, so that the poll can block rather than return at once for it:
 * a syscall saved per request on a quiet loop.
 */
static void
settle(struct reactor *r)
{
	int i;

	for (i = 0; i < REACTOR_SETTLE_ROUNDS && r->defer_head != NULL; i++) {
		run_deferred(r);
		run_hooks(r);
	}
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
		settle(r);
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
