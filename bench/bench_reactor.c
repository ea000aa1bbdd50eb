/*
 * bench_reactor.c: one byte ping-ponged across a socketpair through the
 * reactor. Each round trip is two readiness events, two reads and two
 * writes; the figure is dominated by syscalls and shows the loop's own
 * overhead on top of them.
 *
 *   bench_reactor [round_trips]     (default 100000, capped at 2 s)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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
	if (reactor_watcher_start(&r, &a.w, REACTOR_READ) || reactor_watcher_start(&r, &b.w, REACTOR_READ) ||
	    reactor_timer_start(&r, &cap, TIME_CAP_MS, 0) || write(sv[0], "p", 1) != 1) {
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
	       trips, (unsigned long long)dt, trips * 1000.0 / (double)dt, dt * 1e6 / (double)(trips ? trips : 1),
	       dt * 1e6 / (double)(r.polls ? r.polls : 1), (unsigned long long)r.polls);
	reactor_watcher_stop(&r, &a.w);
	reactor_watcher_stop(&r, &b.w);
	close(sv[0]);
	close(sv[1]);
	reactor_fini(&r);
	return 0;
}
