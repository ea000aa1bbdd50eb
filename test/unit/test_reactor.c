/*
 * test_reactor.c: the event loop, driven through socketpairs and pipes.
 *
 * Each test gets a fresh loop from its setup (struct loop), and every run
 * is bounded: a guard timer fails the test if the loop is still running
 * after GUARD_MS. Tests that depend on one poll returning several
 * fds make them all ready before reactor_run, so the first poll reports
 * them in one batch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "reactor.h"
#include "util.h"

#define GUARD_MS 3000

/* ---- helpers ----------------------------------------------------------- */

static void
guard_fired(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	(void)t;
	fail_msg("the loop ran longer than %d ms", GUARD_MS);
}

static void
guard_start(struct reactor *r, struct reactor_timer *g)
{
	reactor_timer_init(g, guard_fired);
	reactor_timer_start(r, g, GUARD_MS, 0);
	assert_true(reactor_timer_is_active(g));
}

/* What a test gets in *state: a loop initialised for it, finished after it. */
struct loop {
	struct reactor r;
	struct reactor_timer guard;
};

static int
loop_bare(void **state)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL || reactor_init(&l->r) != 0) {
		free(l);
		return -1;
	}
	*state = l;
	return 0;
}

/* A loop with the guard timer started. */
static int
loop_guarded(void **state)
{
	if (loop_bare(state) != 0)
		return -1;
	guard_start(&((struct loop *)*state)->r, &((struct loop *)*state)->guard);
	return 0;
}

static int
loop_done(void **state)
{
	struct loop *l = *state;

	reactor_fini(&l->r);
	free(l);
	return 0;
}

static struct reactor *
loop_of(void **state)
{
	return &((struct loop *)*state)->r;
}

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void
put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
stop_cb(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(r);
}

/* A watcher that records what it saw and reads up to `take` bytes. */
struct probe {
	struct reactor_watcher w;
	int calls;
	unsigned last;
	size_t take;
	int stop;
	char got[16];
	size_t ngot;
};

static void
probe_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct probe *p = container_of(w, struct probe, w);

	p->calls++;
	p->last = events;
	if ((events & REACTOR_READ) && p->take) {
		ssize_t n = read(w->fd, p->got + p->ngot, UTIL_MIN(p->take, sizeof(p->got) - p->ngot));

		if (n > 0)
			p->ngot += (size_t)n;
	}
	if (p->stop)
		reactor_stop(r);
}

static void
probe_init(struct probe *p, int fd, size_t take, int stop)
{
	memset(p, 0, sizeof(*p));
	reactor_watcher_init(&p->w, fd, probe_cb);
	p->take = take;
	p->stop = stop;
}

/* Counts iterations through a hook. */
struct counter {
	struct reactor_hook h;
	int n;
};

static int
counter_cb(struct reactor *r, struct reactor_hook *h)
{
	(void)r;
	container_of(h, struct counter, h)->n++;
	return 0;
}

/* ---- readiness and interest ------------------------------------------- */

static void
test_read_ready(void **state)
{
	struct reactor *r = loop_of(state);
	struct probe p;
	int sv[2];

	pair(sv);
	probe_init(&p, sv[0], 8, 1);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), 0);
	assert_true(reactor_watcher_active(&p.w));
	put(sv[1], "x");
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, REACTOR_READ); /* writable too, but not asked */
	assert_int_equal(p.ngot, 1);
	assert_int_equal(p.got[0], 'x');
	reactor_watcher_stop(r, &p.w);
	assert_false(reactor_watcher_active(&p.w));
	reactor_watcher_stop(r, &p.w); /* twice is fine */
	close(sv[0]);
	close(sv[1]);
}

/* Write interest first; switched to read, it must stay quiet until data. */
struct switcher {
	struct probe p;
	int peer;
	struct reactor_timer feed;
};

static void
switcher_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	probe_cb(r, w, events);
	if (events & REACTOR_WRITE) {
		reactor_watcher_set(r, w, REACTOR_READ);
		assert_int_equal(w->interest, REACTOR_READ);
	}
	if (events & REACTOR_READ)
		reactor_stop(r);
}

static void
feed_cb(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	put(container_of(t, struct switcher, feed)->peer, "y");
}

static void
test_interest_change(void **state)
{
	struct reactor *r = loop_of(state);
	struct switcher s;
	int sv[2];

	pair(sv);
	probe_init(&s.p, sv[0], 8, 0);
	reactor_watcher_init(&s.p.w, sv[0], switcher_cb);
	s.peer = sv[1];
	reactor_timer_init(&s.feed, feed_cb);
	reactor_timer_start(r, &s.feed, 30, 0);
	assert_true(reactor_timer_is_active(&s.feed));
	assert_int_equal(reactor_watcher_start(r, &s.p.w, REACTOR_WRITE), 0);
	assert_int_equal(reactor_run(r), 0);
	/* One WRITE call (always writable), then only the READ when fed. */
	assert_int_equal(s.p.calls, 2);
	assert_int_equal(s.p.last, REACTOR_READ);
	assert_int_equal(s.p.ngot, 1);

	/* Toggled to WRITE and back before the poll: still read-only, quiet. */
	reactor_watcher_set(r, &s.p.w, REACTOR_WRITE);
	reactor_watcher_set(r, &s.p.w, REACTOR_READ);
	reactor_timer_stop(r, &s.feed);
	s.p.calls = 0;
	reactor_timer_init(&s.feed, stop_cb);
	reactor_timer_start(r, &s.feed, 20, 0);
	assert_true(reactor_timer_is_active(&s.feed));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(s.p.calls, 0); /* no data, no write interest */

	reactor_watcher_stop(r, &s.p.w);
	close(sv[0]);
	close(sv[1]);
}

/* Level-triggered: a handler reading one byte per event is called again. */
static void
test_level_triggered(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer t;
	struct probe p;
	int sv[2];

	pair(sv);
	probe_init(&p, sv[0], 1, 0);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), 0);
	put(sv[1], "abc");
	reactor_timer_init(&t, stop_cb);
	reactor_timer_start(r, &t, 40, 0);
	assert_true(reactor_timer_is_active(&t));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.calls, 3);
	assert_int_equal(p.ngot, 3);
	assert_memory_equal(p.got, "abc", 3);
	reactor_watcher_stop(r, &p.w);
	close(sv[0]);
	close(sv[1]);
}

/* A hang-up with no data (pipe, writer gone) reaches a READ handler. */
static void
test_hangup_is_readable(void **state)
{
	struct reactor *r = loop_of(state);
	struct probe p;
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	close(fds[1]);
	probe_init(&p, fds[0], 8, 1);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), 0);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, REACTOR_READ); /* WRITE filtered: not asked */
	assert_int_equal(read(fds[0], p.got, 1), 0);
	reactor_watcher_stop(r, &p.w);
	close(fds[0]);
}

/* Interest 0 on a hung-up fd must not wake the loop (removed from the set). */
static void
test_no_interest_no_spin(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer t;
	struct counter c = { 0 };
	struct probe p;
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	probe_init(&p, fds[0], 8, 0);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), 0);
	reactor_watcher_set(r, &p.w, 0);
	close(fds[1]);
	reactor_hook_start(r, &c.h, counter_cb);
	reactor_timer_init(&t, stop_cb);
	reactor_timer_start(r, &t, 40, 0);
	assert_true(reactor_timer_is_active(&t));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.calls, 0);
	assert_in_range(c.n, 1, 3);
	/* Asking again delivers the hang-up. */
	reactor_watcher_set(r, &p.w, REACTOR_READ);
	p.stop = 1;
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.calls, 1);
	reactor_watcher_stop(r, &p.w);
	close(fds[0]);
}

/* Two ready fds; the first handler clears the other's interest. */
struct duo {
	struct probe p[2];
	int first;
};

static struct duo *duo_of;

static void
duo_quiet_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct duo *d = duo_of;
	struct probe *p = container_of(w, struct probe, w);

	probe_cb(r, w, events);
	if (d->first < 0) {
		d->first = p == &d->p[0] ? 0 : 1;
		reactor_watcher_set(r, &d->p[1 - d->first].w, 0);
	}
	reactor_stop(r);
}

static void
test_interest_filtered_in_batch(void **state)
{
	struct reactor *r = loop_of(state);
	struct duo d;
	int a[2], b[2], i;

	pair(a);
	pair(b);
	d.first = -1;
	duo_of = &d;
	probe_init(&d.p[0], a[0], 0, 0);
	probe_init(&d.p[1], b[0], 0, 0);
	for (i = 0; i < 2; i++) {
		reactor_watcher_init(&d.p[i].w, i ? b[0] : a[0], duo_quiet_cb);
		assert_int_equal(reactor_watcher_start(r, &d.p[i].w, REACTOR_READ), 0);
	}
	put(a[1], "1");
	put(b[1], "2");
	assert_int_equal(reactor_run(r), 0);
	assert_true(d.first == 0 || d.first == 1);
	assert_int_equal(d.p[d.first].calls, 1);
	assert_int_equal(d.p[1 - d.first].calls, 0); /* polled, but filtered */
	/* Restored interest: the level-triggered event comes back. */
	reactor_watcher_set(r, &d.p[1 - d.first].w, REACTOR_READ);
	reactor_watcher_stop(r, &d.p[d.first].w);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(d.p[1 - d.first].calls, 1);
	reactor_watcher_stop(r, &d.p[1 - d.first].w);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void
test_start_errors(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer t;
	struct probe p;
	int fd;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	probe_init(&p, fd, 0, 0);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), -EBADF);
	assert_false(reactor_watcher_active(&p.w));

#ifdef __linux__
	/* epoll refuses regular files (kqueue takes them): at start, or at
	 * the flush, where reactor_run reports it. */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	probe_init(&p, fd, 0, 0);
	assert_int_equal(reactor_watcher_start(r, &p.w, REACTOR_READ), -EPERM);
	assert_false(reactor_watcher_active(&p.w));
	assert_int_equal(reactor_watcher_start(r, &p.w, 0), 0);
	reactor_watcher_set(r, &p.w, REACTOR_READ);
	assert_int_equal(reactor_run(r), -EPERM);
	/* Once the culprit is gone the loop runs again. */
	reactor_watcher_stop(r, &p.w);
	close(fd);
#endif
	reactor_timer_init(&t, stop_cb);
	reactor_timer_start(r, &t, 1, 0);
	assert_true(reactor_timer_is_active(&t));
	assert_int_equal(reactor_run(r), 0);
}

/* ---- timers ------------------------------------------------------------ */

struct tlog {
	struct reactor_timer t[100];
	int order[100];
	uint64_t poll_at[100];
	int n;
	int last; /* index whose firing stops the loop, or -1 */
};

static struct tlog *tlog_of;

/* Empty log, the one tlog_cb writes to; the firing of timer `last` stops the loop. */
static void
tlog_begin(struct tlog *log, int last)
{
	memset(log, 0, sizeof(*log));
	tlog_of = log;
	log->last = last;
}

static void
tlog_cb(struct reactor *r, struct reactor_timer *t)
{
	int i = (int)(t - tlog_of->t);

	assert_false(reactor_timer_is_active(t));
	tlog_of->poll_at[tlog_of->n] = r->polls;
	tlog_of->order[tlog_of->n++] = i;
	if (i == tlog_of->last)
		reactor_stop(r);
}

static void
test_timer_order(void **state)
{
	struct reactor *r = loop_of(state);
	static const uint64_t timeout[] = { 30, 10, 20, 10, 0, 10 };
	static const int expect[] = { 4, 1, 3, 5, 2, 0 };
	struct tlog log;
	uint64_t t0;
	int i;

	tlog_begin(&log, 0);
	t0 = reactor_now(r);
	for (i = 0; i < 6; i++) {
		reactor_timer_init(&log.t[i], tlog_cb);
		reactor_timer_start(r, &log.t[i], timeout[i], 0);
		assert_true(reactor_timer_is_active(&log.t[i]));
	}
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(log.n, 6);
	assert_memory_equal(log.order, expect, sizeof(expect));
	assert_true(clock_mono_ms() - t0 >= 30);
}

/*
 * Restarted later, a timer fires at its new deadline, after one due in
 * between; restarted earlier again, at that.
 */
static void
test_timer_restart_later(void **state)
{
	struct reactor *r = loop_of(state);
	static const int expect[] = { 2, 1, 0 };
	struct tlog log;
	uint64_t t0;
	int i;

	tlog_begin(&log, 0);
	t0 = reactor_now(r);
	for (i = 0; i < 3; i++)
		reactor_timer_init(&log.t[i], tlog_cb);
	reactor_timer_start(r, &log.t[0], 10, 0);
	reactor_timer_start(r, &log.t[1], 30, 0);
	reactor_timer_start(r, &log.t[2], 40, 0);
	reactor_timer_start(r, &log.t[0], 60, 0); /* later: keeps its place for now */
	reactor_timer_start(r, &log.t[2], 100, 0);
	reactor_timer_start(r, &log.t[2], 20, 0); /* then earlier than its place */
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(log.n, 3);
	assert_memory_equal(log.order, expect, sizeof(expect));
	assert_true(clock_mono_ms() - t0 >= 60);
}

/* 100 timers in 5 deadline groups, every 7th cancelled: the heap keeps
 * (deadline, start order). */
static void
test_timer_heap_many(void **state)
{
	struct reactor *r = loop_of(state);
	struct tlog log;
	int i, k, prev_group = -1, prev = -1;

	tlog_begin(&log, 93); /* the last of group 4 (98 is cancelled) */
	for (i = 0; i < 100; i++) {
		reactor_timer_init(&log.t[i], tlog_cb);
		reactor_timer_start(r, &log.t[i], (uint64_t)(i * 3 % 5), 0);
		assert_true(reactor_timer_is_active(&log.t[i]));
	}
	for (i = 0; i < 100; i += 7)
		reactor_timer_stop(r, &log.t[i]);
	reactor_timer_stop(r, &log.t[0]); /* stopped twice: no-op */
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(log.n, 100 - 15);
	for (k = 0; k < log.n; k++) {
		int idx = log.order[k], group = idx * 3 % 5;

		assert_true(idx % 7 != 0);
		assert_true(group > prev_group || (group == prev_group && idx > prev));
		prev_group = group;
		prev = idx;
	}
}

struct rep {
	struct reactor_timer t;
	int fires;
	uint64_t first, last;
};

static void
rep_cb(struct reactor *r, struct reactor_timer *t)
{
	struct rep *p = container_of(t, struct rep, t);

	assert_true(reactor_timer_is_active(t)); /* re-armed before the call */
	if (p->fires++ == 0)
		p->first = reactor_now(r);
	p->last = reactor_now(r);
	if (p->fires == 3) {
		reactor_timer_stop(r, t);
		reactor_stop(r);
	}
}

static void
test_timer_repeat_and_cancel(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer never;
	struct rep p;
	struct tlog log;

	tlog_begin(&log, -1);
	reactor_timer_init(&never, tlog_cb);
	assert_false(reactor_timer_is_active(&never));
	reactor_timer_start(r, &never, 1, 0);
	assert_true(reactor_timer_is_active(&never));
	reactor_timer_stop(r, &never);
	assert_false(reactor_timer_is_active(&never));

	memset(&p, 0, sizeof(p));
	reactor_timer_init(&p.t, rep_cb);
	reactor_timer_start(r, &p.t, 5, 10);
	assert_true(reactor_timer_is_active(&p.t));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p.fires, 3);
	assert_true(p.last - p.first >= 20);
	assert_false(reactor_timer_is_active(&p.t));
	assert_int_equal(log.n, 0); /* the cancelled timer never fired */
}

/* Two timers due in the same pass: the first stops the second, restarts a
 * third (also due) for later. */
struct trio {
	struct reactor_timer a, b, c, end;
	int a_fires, b_fires, c_fires;
	uint64_t c_at, start;
};

static void
trio_a(struct reactor *r, struct reactor_timer *t)
{
	struct trio *x = container_of(t, struct trio, a);

	x->a_fires++;
	reactor_timer_stop(r, &x->b);
	reactor_timer_start(r, &x->c, 20, 0);
	assert_true(reactor_timer_is_active(&x->c));
}

static void
trio_b(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	container_of(t, struct trio, b)->b_fires++;
}

static void
trio_c(struct reactor *r, struct reactor_timer *t)
{
	struct trio *x = container_of(t, struct trio, c);

	x->c_fires++;
	x->c_at = reactor_now(r);
}

static void
trio_end(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(r);
}

static void
test_timer_stops_other_due(void **state)
{
	struct reactor *r = loop_of(state);
	struct trio x;

	memset(&x, 0, sizeof(x));
	reactor_timer_init(&x.a, trio_a);
	reactor_timer_init(&x.b, trio_b);
	reactor_timer_init(&x.c, trio_c);
	reactor_timer_init(&x.end, trio_end);
	x.start = reactor_now(r);
	reactor_timer_start(r, &x.a, 5, 0);
	assert_true(reactor_timer_is_active(&x.a));
	reactor_timer_start(r, &x.b, 5, 0);
	assert_true(reactor_timer_is_active(&x.b));
	reactor_timer_start(r, &x.c, 5, 0);
	assert_true(reactor_timer_is_active(&x.c));
	reactor_timer_start(r, &x.end, 60, 0);
	assert_true(reactor_timer_is_active(&x.end));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(x.a_fires, 1);
	assert_int_equal(x.b_fires, 0);
	assert_int_equal(x.c_fires, 1);
	assert_true(x.c_at >= x.start + 25);
}

/* A timer restarting itself with timeout 0 fires once per iteration. */
static void
self_zero_cb(struct reactor *r, struct reactor_timer *t)
{
	tlog_cb(r, t);
	if (tlog_of->n < 5) {
		reactor_timer_start(r, t, 0, 0);
		assert_true(reactor_timer_is_active(t));
	} else {
		reactor_stop(r);
	}
}

static void
test_timer_restart_self_zero(void **state)
{
	struct reactor *r = loop_of(state);
	struct tlog log;
	int i;

	tlog_begin(&log, -1);
	reactor_timer_init(&log.t[0], self_zero_cb);
	reactor_timer_start(r, &log.t[0], 0, 0);
	assert_true(reactor_timer_is_active(&log.t[0]));
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(log.n, 5);
	for (i = 1; i < 5; i++)
		assert_true(log.poll_at[i] == log.poll_at[i - 1] + 1);
}

/*
 * The timer heap's shape after every operation of a random mix of starts,
 * restarts and stops (white box: the private links): complete, linked
 * both ways, ordered on (deadline, seq), timer_last the last node. Then
 * the loop fires the survivors in (deadline, start order).
 */
#define RND_TIMERS 300
#define RND_OPS 6000

struct rnd {
	struct reactor_timer t[RND_TIMERS];
	uint64_t timeout[RND_TIMERS], started[RND_TIMERS];
	int fired[RND_TIMERS], nfired, want;
};

static struct rnd *rnd_of;

static void
rnd_cb(struct reactor *r, struct reactor_timer *t)
{
	rnd_of->fired[rnd_of->nfired++] = (int)(t - rnd_of->t);
	if (rnd_of->nfired == rnd_of->want)
		reactor_stop(r);
}

static int
key_before(const struct reactor_timer *a, const struct reactor_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Check the subtree of t, node k in level order; the number of its nodes. */
static size_t
heap_check(const struct reactor *r, const struct reactor_timer *t, size_t k)
{
	size_t n = 1;

	if ((k == r->ntimers) != (t == r->timer_last))
		fail_msg("node %zu of %zu: timer_last wrong", k, r->ntimers);
	if ((t->left != NULL) != (2 * k <= r->ntimers) || (t->right != NULL) != (2 * k + 1 <= r->ntimers))
		fail_msg("node %zu of %zu: not a complete tree", k, r->ntimers);
	if (!t->active)
		fail_msg("node %zu: in the heap but not active", k);
	if (t->left != NULL) {
		if (t->left->parent != t || key_before(t->left, t))
			fail_msg("node %zu: left child misplaced", k);
		n += heap_check(r, t->left, 2 * k);
	}
	if (t->right != NULL) {
		if (t->right->parent != t || key_before(t->right, t))
			fail_msg("node %zu: right child misplaced", k);
		n += heap_check(r, t->right, 2 * k + 1);
	}
	return n;
}

static void
test_timer_heap_random(void **state)
{
	struct reactor *r = loop_of(state);
	struct rnd *x = calloc(1, sizeof(*x));
	uint32_t seed = 12345;
	uint64_t clock = 0;
	int i, k, active = 1; /* the guard */

	assert_non_null(x);
	rnd_of = x;
	for (i = 0; i < RND_TIMERS; i++)
		reactor_timer_init(&x->t[i], rnd_cb);
	for (k = 0; k < RND_OPS; k++) {
		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 8) % RND_TIMERS);
		if ((seed >> 28) < 5 && reactor_timer_is_active(&x->t[i])) {
			reactor_timer_stop(r, &x->t[i]);
			active--;
		} else {
			active += !reactor_timer_is_active(&x->t[i]);
			x->timeout[i] = (seed >> 20) % 25;
			x->started[i] = ++clock;
			reactor_timer_start(r, &x->t[i], x->timeout[i], 0);
		}
		assert_non_null(r->timers);
		assert_int_equal(r->ntimers, (size_t)active);
		assert_null(r->timers->parent);
		assert_int_equal(heap_check(r, r->timers, 1), (size_t)active);
	}
	x->want = active - 1;
	assert_true(x->want > RND_TIMERS / 4);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(x->nfired, x->want);
	for (k = 1; k < x->nfired; k++) {
		int a = x->fired[k - 1], b = x->fired[k];

		assert_true(x->timeout[a] < x->timeout[b] ||
			    (x->timeout[a] == x->timeout[b] && x->started[a] < x->started[b]));
	}
	assert_int_equal(r->ntimers, 1); /* the guard */
	assert_int_equal(heap_check(r, r->timers, 1), 1);
	free(x);
}

/* ---- close during dispatch, stale events, deferred free ---------------- */

struct conn {
	struct reactor_watcher w;
	struct reactor_deferred d;
	int peer;
	int calls;
	int *freed;
	struct conn *other;
};

static struct conn *
conn_new(struct reactor *r, int *freed, reactor_io_cb *cb)
{
	struct conn *c = calloc(1, sizeof(*c));
	int sv[2];

	assert_non_null(c);
	pair(sv);
	reactor_watcher_init(&c->w, sv[0], cb);
	c->peer = sv[1];
	c->freed = freed;
	assert_int_equal(reactor_watcher_start(r, &c->w, REACTOR_READ), 0);
	put(c->peer, "z");
	return c;
}

static void
conn_free(struct reactor *r, struct reactor_deferred *d)
{
	struct conn *c = container_of(d, struct conn, d);

	(void)r;
	(*c->freed)++;
	free(c);
}

/* The close rule: stop, close, and free from the closing phase. */
static void
conn_close(struct reactor *r, struct conn *c)
{
	reactor_watcher_stop(r, &c->w);
	close(c->w.fd);
	close(c->peer);
	reactor_defer(r, &c->d, conn_free);
	reactor_defer(r, &c->d, conn_free); /* closing twice is harmless */
}

static int closer_calls;

/* Whoever runs first closes the other, whose event is in the same batch. */
static void
closer_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct conn *c = container_of(w, struct conn, w);

	(void)events;
	c->calls++;
	closer_calls++;
	assert_int_equal(*c->freed, 0); /* nothing freed during the batch */
	if (c->other != NULL) {
		c->other->other = NULL;
		conn_close(r, c->other);
		c->other = NULL;
	}
	reactor_stop(r);
}

static void
test_close_during_dispatch(void **state)
{
	struct reactor r;
	struct reactor_timer g;
	struct conn *a, *b, *alive;
	int freed = 0;

	(void)state;
	assert_int_equal(reactor_init(&r), 0);
	guard_start(&r, &g);
	closer_calls = 0;
	a = conn_new(&r, &freed, closer_cb);
	b = conn_new(&r, &freed, closer_cb);
	a->other = b;
	b->other = a;
	assert_int_equal(reactor_run(&r), 0);
	assert_int_equal(closer_calls, 1); /* the closed one's event was dropped */
	assert_int_equal(freed, 1);
	/* The survivor is the one still pointing at nobody but alive. */
	alive = a->calls ? a : b;
	assert_int_equal(alive->calls, 1);
	conn_close(&r, alive);
	reactor_fini(&r); /* runs the pending deferred free */
	assert_int_equal(freed, 2);
}

/*
 * fd reuse inside one batch: the first handler closes the other conn and
 * opens a new socket that gets the same fd number, watched by (a) a new
 * watcher, (b) the very same watcher memory re-initialised. Neither may
 * receive the old event; both get their own events afterwards.
 */
struct reuse {
	struct conn *x[2];
	struct conn fresh; /* case (a) */
	int same_memory;
	int fresh_peer, old_fd, fresh_calls, victim;
	int first_calls; /* calls of reuse_first_cb, both conns */
	int freed;
};

static struct reuse *reuse_of;

static void
fresh_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	(void)events;
	reuse_of->fresh_calls++;
	assert_true(reactor_watcher_active(w));
	reactor_stop(r);
}

static void
reuse_first_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct reuse *u = reuse_of;
	struct conn *c = container_of(w, struct conn, w), *v;
	int sv[2], fd;

	(void)events;
	c->calls++;
	u->first_calls++;
	reactor_stop(r);
	if (u->victim >= 0)
		return;
	u->victim = c == u->x[0] ? 1 : 0;
	v = u->x[u->victim];
	u->old_fd = v->w.fd;
	reactor_watcher_stop(r, &v->w);
	close(v->w.fd);
	close(v->peer);
	pair(sv);
	fd = sv[0] == u->old_fd ? sv[0] : sv[1];
	assert_int_equal(fd, u->old_fd); /* the number really is reused */
	u->fresh_peer = fd == sv[0] ? sv[1] : sv[0];
	if (u->same_memory) {
		reactor_watcher_init(&v->w, fd, fresh_cb);
		v->peer = u->fresh_peer;
		assert_int_equal(reactor_watcher_start(r, &v->w, REACTOR_READ | REACTOR_WRITE), 0);
	} else {
		reactor_watcher_init(&u->fresh.w, fd, fresh_cb);
		u->fresh.peer = u->fresh_peer;
		assert_int_equal(reactor_watcher_start(r, &u->fresh.w, REACTOR_READ), 0);
		reactor_defer(r, &v->d, conn_free);
	}
}

static void
run_reuse(struct reactor *r, int same_memory)
{
	struct reuse u;
	struct conn *nw;
	int i;

	memset(&u, 0, sizeof(u));
	reuse_of = &u;
	u.same_memory = same_memory;
	u.victim = -1;
	for (i = 0; i < 2; i++)
		u.x[i] = conn_new(r, &u.freed, reuse_first_cb);
	assert_int_equal(reactor_run(r), 0);
	assert_true(u.victim == 0 || u.victim == 1);
	assert_int_equal(u.x[1 - u.victim]->calls, 1);
	assert_int_equal(u.first_calls, 1); /* not the closed conn */
	assert_int_equal(u.fresh_calls, 0); /* nor the new watcher */
	assert_int_equal(u.freed, same_memory ? 0 : 1);

	/* The new registration works: readable (and, in (b), writable). */
	if (!same_memory)
		put(u.fresh_peer, "n");
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(u.fresh_calls, 1);

	nw = same_memory ? u.x[u.victim] : &u.fresh;
	reactor_watcher_stop(r, &nw->w);
	close(nw->w.fd);
	close(nw->peer);
	if (same_memory)
		free(u.x[u.victim]);
	conn_close(r, u.x[1 - u.victim]);
}

static void
test_fd_reuse_new_watcher(void **state)
{
	run_reuse(loop_of(state), 0);
}

static void
test_fd_reuse_same_memory(void **state)
{
	run_reuse(loop_of(state), 1);
}

/* ---- deferred callbacks ------------------------------------------------ */

struct dlog {
	struct reactor_deferred d[4];
	struct probe p[2];
	char log[16];
	int n;
};

static struct dlog *dlog_of;

static void
dlog_deferred(struct reactor *r, struct reactor_deferred *d)
{
	int i = (int)(d - dlog_of->d);

	dlog_of->log[dlog_of->n++] = (char)('1' + i);
	if (i == 2)
		reactor_defer(r, &dlog_of->d[3], dlog_deferred); /* next iteration */
	if (i == 3)
		reactor_stop(r);
}

static void
dlog_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct dlog *x = dlog_of;
	int i;

	(void)events;
	x->log[x->n++] = 'h';
	reactor_watcher_stop(r, w);
	if (x->n == 1)
		for (i = 0; i < 3; i++) {
			reactor_defer(r, &x->d[i], dlog_deferred);
			reactor_defer(r, &x->d[0], dlog_deferred); /* already queued */
		}
}

static void
test_deferred_order(void **state)
{
	struct reactor *r = loop_of(state);
	struct dlog x;
	int a[2], b[2];

	memset(&x, 0, sizeof(x));
	dlog_of = &x;
	pair(a);
	pair(b);
	reactor_watcher_init(&x.p[0].w, a[0], dlog_io);
	reactor_watcher_init(&x.p[1].w, b[0], dlog_io);
	assert_int_equal(reactor_watcher_start(r, &x.p[0].w, REACTOR_READ), 0);
	assert_int_equal(reactor_watcher_start(r, &x.p[1].w, REACTOR_READ), 0);
	put(a[1], "1");
	put(b[1], "2");
	/* No timer but the guard: the nested defer must not wait in the poll. */
	assert_int_equal(reactor_run(r), 0);
	assert_string_equal(x.log, "hh1234");
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* A node a hook queues runs before the poll, which then blocks: one poll in all. */
struct settle {
	struct reactor_hook h;
	struct reactor_deferred d;
	struct reactor_timer t;
	int hooks;
	uint64_t polls_at_run;
	int ran;
};

static void
settle_deferred(struct reactor *r, struct reactor_deferred *d)
{
	struct settle *x = container_of(d, struct settle, d);

	x->ran++;
	x->polls_at_run = r->polls;
}

static int
settle_hook(struct reactor *r, struct reactor_hook *h)
{
	struct settle *x = container_of(h, struct settle, h);

	if (x->hooks++ == 0)
		reactor_defer(r, &x->d, settle_deferred);
	return 0;
}

static void
test_deferred_from_hook_before_poll(void **state)
{
	struct reactor *r = loop_of(state);
	struct settle x;
	uint64_t polls = r->polls;

	memset(&x, 0, sizeof(x));
	reactor_timer_init(&x.t, trio_end); /* stops the loop */
	reactor_timer_start(r, &x.t, 30, 0);
	reactor_hook_start(r, &x.h, settle_hook);
	assert_int_equal(reactor_run(r), 0);
	reactor_hook_stop(r, &x.h);
	assert_int_equal(x.ran, 1);
	assert_true(x.polls_at_run == polls); /* before the first poll */
	assert_true(x.hooks >= 2);            /* the hooks ran again after it */
	/* the poll waited for the timer: no extra zero-timeout poll for the node */
	assert_true(r->polls - polls <= 2);
}

static int fini_ran;

static void
fini_deferred(struct reactor *r, struct reactor_deferred *d)
{
	(void)r;
	(void)d;
	fini_ran++;
}

static void
test_fini_runs_deferred(void **state)
{
	struct reactor r;
	struct reactor_deferred d = { 0 };

	(void)state;
	assert_int_equal(reactor_init(&r), 0);
	fini_ran = 0;
	reactor_defer(&r, &d, fini_deferred);
	reactor_fini(&r);
	assert_int_equal(fini_ran, 1);
}

/* ---- hooks, wake, stop ------------------------------------------------- */

static void
test_hook_each_iteration(void **state)
{
	struct reactor *r = loop_of(state);
	struct counter c = { 0 };
	struct rep p;

	reactor_hook_start(r, &c.h, counter_cb);
	memset(&p, 0, sizeof(p));
	reactor_timer_init(&p.t, rep_cb);
	reactor_timer_start(r, &p.t, 2, 2);
	assert_true(reactor_timer_is_active(&p.t));
	assert_int_equal(reactor_run(r), 0);
	assert_true(c.n >= 3);
	assert_int_equal((uint64_t)c.n, r->polls); /* exactly once per poll */
	reactor_hook_stop(r, &c.h);
	reactor_hook_stop(r, &c.h);
}

/* A hook asking for more work keeps the poll from blocking. */
struct busy {
	struct reactor_hook h, other;
	int n, other_n;
};

static int
busy_cb(struct reactor *r, struct reactor_hook *h)
{
	struct busy *b = container_of(h, struct busy, h);

	if (++b->n == 5) {
		reactor_hook_stop(r, h);
		reactor_hook_stop(r, &b->other); /* next in this walk: skipped */
		reactor_stop(r);
	}
	return 1;
}

static int
busy_other_cb(struct reactor *r, struct reactor_hook *h)
{
	(void)r;
	container_of(h, struct busy, other)->other_n++;
	return 0;
}

static void
test_hook_no_block(void **state)
{
	struct reactor *r = loop_of(state);
	struct busy b;
	uint64_t t0 = clock_mono_ms();

	memset(&b, 0, sizeof(b));
	reactor_hook_start(r, &b.h, busy_cb);
	reactor_hook_start(r, &b.other, busy_other_cb);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(b.n, 5);
	assert_int_equal(b.other_n, 4);
	assert_true(clock_mono_ms() - t0 < 1000);
}

struct waker {
	struct reactor_timer t;
	struct reactor_hook h;
	int hooks;
};

static void
waker_timer(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_wake_next(r);
}

static int
waker_hook(struct reactor *r, struct reactor_hook *h)
{
	if (++container_of(h, struct waker, h)->hooks == 2)
		reactor_stop(r);
	return 0;
}

static void
test_wake_next(void **state)
{
	struct reactor *r = loop_of(state);
	struct waker w;
	uint64_t t0 = clock_mono_ms();

	memset(&w, 0, sizeof(w));
	reactor_timer_init(&w.t, waker_timer);
	reactor_timer_start(r, &w.t, 0, 0);
	assert_true(reactor_timer_is_active(&w.t));
	reactor_hook_start(r, &w.h, waker_hook);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(w.hooks, 2);
	assert_true(clock_mono_ms() - t0 < 1000);
}

/* reactor_stop finishes the batch: both ready watchers run, twice. */
static void
test_stop_from_callback(void **state)
{
	struct reactor *r = loop_of(state);
	struct probe p[2];
	int a[2], b[2];

	pair(a);
	pair(b);
	probe_init(&p[0], a[0], 0, 1);
	probe_init(&p[1], b[0], 0, 1);
	assert_int_equal(reactor_watcher_start(r, &p[0].w, REACTOR_READ), 0);
	assert_int_equal(reactor_watcher_start(r, &p[1].w, REACTOR_READ), 0);
	put(a[1], "a");
	put(b[1], "b");
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(p[0].calls, 1);
	assert_int_equal(p[1].calls, 1);
	assert_int_equal(reactor_run(r), 0); /* the stop was consumed */
	assert_int_equal(p[0].calls, 2);
	assert_int_equal(p[1].calls, 2);
	reactor_watcher_stop(r, &p[0].w);
	reactor_watcher_stop(r, &p[1].w);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* Only a timer that stops: the loop sleeps in the poll, it does not spin. */
static void
test_idle_does_not_spin(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer t;
	struct counter c = { 0 };
	uint64_t t0;

	reactor_hook_start(r, &c.h, counter_cb);
	reactor_timer_init(&t, stop_cb);
	t0 = reactor_now(r);
	reactor_timer_start(r, &t, 50, 0);
	assert_true(reactor_timer_is_active(&t));
	assert_int_equal(reactor_run(r), 0);
	assert_true(reactor_now(r) - t0 >= 50);
	assert_in_range(c.n, 2, 3);
}

/* ---- poll errors ------------------------------------------------------- */

static volatile sig_atomic_t alarm_hits;

static void
on_alarm(int signo)
{
	(void)signo;
	alarm_hits++;
}

static void
test_eintr_is_not_an_error(void **state)
{
	struct reactor *r = loop_of(state);
	struct reactor_timer t;
	struct sigaction sa, old;
	struct itimerval it = { { 0, 0 }, { 0, 20000 } };
	uint64_t t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART; epoll_wait never restarts */
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	reactor_timer_init(&t, stop_cb);
	t0 = reactor_now(r);
	reactor_timer_start(r, &t, 80, 0);
	assert_true(reactor_timer_is_active(&t));
	alarm_hits = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(alarm_hits, 1);
	assert_true(reactor_now(r) - t0 >= 80);
	sigaction(SIGALRM, &old, NULL);
}

static void
test_poll_error_returned(void **state)
{
	struct reactor *r = loop_of(state);
	int fd, err;

	/* Replace the epoll/kqueue descriptor by something that is not one. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, r->backend_fd), r->backend_fd);
	close(fd);
	err = reactor_run(r);
	assert_true(err == -EINVAL || err == -EBADF);
}

/* ---- signals ----------------------------------------------------------- */

struct sigw {
	struct reactor_signal s[2];
	int hits[2];
	int stop_other;
};

static struct sigw *sigw_of;

static void
sig_cb(struct reactor *r, struct reactor_signal *s)
{
	struct sigw *x = sigw_of;
	int i = s == &x->s[0] ? 0 : 1;

	x->hits[i]++;
	if (x->stop_other)
		reactor_signal_stop(r, &x->s[1 - i]);
	reactor_stop(r);
}

/* Linux blocks a watched signal; kqueue ignores it instead. */
static int
usr1_blocked(void)
{
#ifdef __linux__
	sigset_t cur;

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	return sigismember(&cur, SIGUSR1);
#else
	struct sigaction sa;

	assert_int_equal(sigaction(SIGUSR1, NULL, &sa), 0);
	return sa.sa_handler == SIG_IGN;
#endif
}

static void
test_signal_event(void **state)
{
	struct reactor *r = loop_of(state);
	struct sigw x;

	assert_false(usr1_blocked());
	memset(&x, 0, sizeof(x));
	sigw_of = &x;
	assert_int_equal(reactor_signal_start(r, &x.s[0], 0, sig_cb), -EINVAL);
	assert_int_equal(reactor_signal_start(r, &x.s[0], NSIG, sig_cb), -EINVAL);
	assert_int_equal(reactor_signal_start(r, &x.s[0], SIGKILL, sig_cb), -EINVAL);
	assert_int_equal(reactor_signal_start(r, &x.s[0], SIGUSR1, sig_cb), 0);
	assert_int_equal(reactor_signal_start(r, &x.s[1], SIGUSR1, sig_cb), 0);
	assert_true(usr1_blocked());

	/* Both watchers of the signal see it, from the loop. */
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(x.hits[0], 1);
	assert_int_equal(x.hits[1], 1);

	/* The first stops the second before the walk reaches it. */
	x.stop_other = 1;
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(x.hits[0], 2);
	assert_int_equal(x.hits[1], 1);
	assert_true(usr1_blocked()); /* s[0] still watches */

	reactor_signal_stop(r, &x.s[0]);
	reactor_signal_stop(r, &x.s[0]);
	assert_false(usr1_blocked());
}

static void
test_signal_fini_restores(void **state)
{
	struct reactor r;
	struct reactor_signal s = { 0 };

	(void)state;
	assert_int_equal(reactor_init(&r), 0);
	assert_int_equal(reactor_signal_start(&r, &s, SIGUSR1, NULL), 0);
	assert_true(usr1_blocked());
	reactor_fini(&r);
	assert_false(usr1_blocked());
}

/* Most tests run on a fresh loop with a guard timer; BARE ones have no
 * guard (they count iterations or time the poll); the rest test init and
 * fini themselves. */
#define GUARDED(f) cmocka_unit_test_setup_teardown(f, loop_guarded, loop_done)
#define BARE(f) cmocka_unit_test_setup_teardown(f, loop_bare, loop_done)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		GUARDED(test_read_ready),
		GUARDED(test_interest_change),
		GUARDED(test_level_triggered),
		GUARDED(test_hangup_is_readable),
		GUARDED(test_no_interest_no_spin),
		GUARDED(test_interest_filtered_in_batch),
		BARE(test_start_errors),
		GUARDED(test_timer_order),
		GUARDED(test_timer_heap_many),
		GUARDED(test_timer_repeat_and_cancel),
		GUARDED(test_timer_stops_other_due),
		GUARDED(test_timer_restart_self_zero),
		GUARDED(test_timer_restart_later),
		GUARDED(test_timer_heap_random),
		cmocka_unit_test(test_close_during_dispatch),
		GUARDED(test_fd_reuse_new_watcher),
		GUARDED(test_fd_reuse_same_memory),
		GUARDED(test_deferred_order),
		GUARDED(test_deferred_from_hook_before_poll),
		cmocka_unit_test(test_fini_runs_deferred),
		GUARDED(test_hook_each_iteration),
		GUARDED(test_hook_no_block),
		GUARDED(test_wake_next),
		GUARDED(test_stop_from_callback),
		BARE(test_idle_does_not_spin),
		BARE(test_eintr_is_not_an_error),
		BARE(test_poll_error_returned),
		GUARDED(test_signal_event),
		cmocka_unit_test(test_signal_fini_restores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
