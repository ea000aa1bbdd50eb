/*
 * bench_reactor.c: one byte ping-ponged across a socketpair through the
 * reactor. Each round trip is two readiness events, two reads and two
 * writes; the figure is dominated by syscalls and shows the loop's own
 * overhead on top of them.
 *
 * Then the timer heap alone, with 10,000 timers in it: restarts of random
 * timers with random timeouts (what idle and send timeouts do on every
 * read), fresh starts, and firing (timers all due, fired by one loop
 * iteration).
 *
 *   bench_reactor [round_trips]     (default 100000, capped at 2 s)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "reactor.h"
#include "util.h"

#define TIME_CAP_MS 2000

struct end {
	struct reactor_watcher w;
	int serve; /* 1: echo back; 0: count a round trip, send again */
};

static unsigned long trips, target;

static void
end_cb(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct end *e = container_of(w, struct end, w);
	char c;

	(void)events;
	if (read(w->fd, &c, 1) != 1)
		return;
	if (!e->serve && ++trips >= target) {
		reactor_stop(r);
		return;
	}
	if (write(w->fd, &c, 1) != 1) {
		perror("write");
		exit(1);
	}
}

static void
cap_cb(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	reactor_stop(r);
}

#define TIMERS 10000
#define RESTARTS 400000
#define ROUNDS 5 /* timer figures: the best of these, as other jobs share the CPU */

static struct reactor_timer timers[TIMERS];
static unsigned long fired;

static uint32_t
next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void
fire_cb(struct reactor *r, struct reactor_timer *t)
{
	(void)t;
	if (++fired == TIMERS)
		reactor_stop(r);
}

/* Start TIMERS timers, restart random ones RESTARTS times, stop them all:
 * ns per restart. */
static double
timer_restart(struct reactor *r, uint32_t x)
{
	double t0, dt;
	size_t i;

	for (i = 0; i < TIMERS; i++) {
		reactor_timer_init(&timers[i], fire_cb);
		reactor_timer_start(r, &timers[i], 1000 + next_rand(&x) % 60000, 0);
	}
	t0 = bench_now();
	for (i = 0; i < RESTARTS; i++) {
		uint32_t k = next_rand(&x);

		reactor_timer_start(r, &timers[k % TIMERS], 1000 + (k >> 8) % 60000, 0);
	}
	dt = bench_now() - t0;
	for (i = 0; i < TIMERS; i++)
		reactor_timer_stop(r, &timers[i]);
	return dt * 1e9 / RESTARTS;
}

/* TIMERS timers with random timeouts of 0..49 ms: start them (timed), wait
 * until all are due (not timed), fire them all in one loop iteration
 * (timed). ns per start and per fire. */
static void
timer_fire(struct reactor *r, uint32_t x, double *start_ns, double *fire_ns)
{
	struct timespec wait = { 0, 60 * 1000000L };
	double t0, t1;
	size_t i;
	int err;

	fired = 0;
	reactor_update_time(r);
	t0 = bench_now();
	for (i = 0; i < TIMERS; i++) {
		reactor_timer_init(&timers[i], fire_cb);
		reactor_timer_start(r, &timers[i], next_rand(&x) % 50, 0);
	}
	*start_ns = (bench_now() - t0) * 1e9 / TIMERS;
	nanosleep(&wait, NULL);
	t1 = bench_now();
	err = reactor_run(r);
	*fire_ns = (bench_now() - t1) * 1e9 / TIMERS;
	if (err || fired != TIMERS) {
		fprintf(stderr, "bench_reactor: fired %lu of %d (%d)\n", fired, TIMERS, err);
		exit(1);
	}
}

static void
bench_timers(struct reactor *r)
{
	double restart = 1e9, start = 1e9, fire = 1e9, a, b;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		a = timer_restart(r, 2463534242u + (uint32_t)i);
		restart = a < restart ? a : restart;
		timer_fire(r, 88675123u + (uint32_t)i, &a, &b);
		start = a < start ? a : start;
		fire = b < fire ? b : fire;
	}
	printf("timers (%d in the heap, best of %d): %.1f ns/restart, %.1f ns/start, %.1f ns/fire\n", TIMERS,
	       ROUNDS, restart, start, fire);
}

int
main(int argc, char **argv)
{
	struct reactor r;
	struct reactor_timer cap;
	struct end a = { .serve = 0 }, b = { .serve = 1 };
	uint64_t t0, dt;
	int sv[2], err;

	target = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	if (target == 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0 ||
	    reactor_init(&r) != 0) {
		fprintf(stderr, "bench_reactor: setup failed\n");
		return 1;
	}
	reactor_watcher_init(&a.w, sv[0], end_cb);
	reactor_watcher_init(&b.w, sv[1], end_cb);
	reactor_timer_init(&cap, cap_cb);
	reactor_timer_start(&r, &cap, TIME_CAP_MS, 0);
	if (reactor_watcher_start(&r, &a.w, REACTOR_READ) || reactor_watcher_start(&r, &b.w, REACTOR_READ) ||
	    write(sv[0], "p", 1) != 1) {
		fprintf(stderr, "bench_reactor: start failed\n");
		return 1;
	}
	t0 = clock_mono_ms();
	err = reactor_run(&r);
	dt = clock_mono_ms() - t0;
	if (err) {
		fprintf(stderr, "bench_reactor: run: %d\n", err);
		return 1;
	}
	if (dt == 0)
		dt = 1;
	printf("reactor ping-pong: %lu round trips in %llu ms: %.0f round trips/s, %.0f ns/round trip, "
	       "%.0f ns/iteration (%llu iterations)\n",
	       trips, (unsigned long long)dt, trips * 1000.0 / (double)dt,
	       dt * 1e6 / (double)(trips ? trips : 1), dt * 1e6 / (double)(r.polls ? r.polls : 1),
	       (unsigned long long)r.polls);
	reactor_watcher_stop(&r, &a.w);
	reactor_watcher_stop(&r, &b.w);
	close(sv[0]);
	close(sv[1]);
	bench_timers(&r);
	reactor_fini(&r);
	return 0;
}
