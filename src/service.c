/*
 * service.c: READY, STATUS, WATCHDOG, STOPPING and RELOADING for the
 * service manager. See service.h.
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "util.h"

/* "STATUS=3 sessions (1 parked), 5 bindings, 12 streams" for d now. */
static void
status_text(const struct daemon *d, char *out, size_t cap)
{
	struct metrics_gauges g;

	session_gauges(d, &g);
	snprintf(out, cap, "STATUS=%u session%s (%u parked), %lld binding%s, %lld stream%s%s", d->nsessions,
		 d->nsessions == 1 ? "" : "s", d->norphans, (long long)g.bindings_active,
		 g.bindings_active == 1 ? "" : "s", (long long)g.streams_active,
		 g.streams_active == 1 ? "" : "s", d->phase != DAEMON_RUNNING ? ", draining" : "");
}

static void
send_status(struct service *s)
{
	char st[sizeof(s->status)];

	status_text(s->d, st, sizeof(st));
	if (strcmp(st, s->status) == 0)
		return;
	memcpy(s->status, st, sizeof(st));
	sdnotify_send(&s->n, st);
}

static void
on_status(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	send_status(container_of(t, struct service, status_timer));
}

static void
on_watchdog(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	sdnotify_send(&container_of(t, struct service, watchdog_timer)->n, "WATCHDOG=1");
}

/* see service.h */
int
service_start(struct service *s, struct daemon *d)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	int rc;

	memset(s, 0, sizeof(*s));
	s->d = d;
	reactor_timer_init(&s->status_timer, on_status);
	reactor_timer_init(&s->watchdog_timer, on_watchdog);
	rc = sdnotify_open(&s->n, sock);
	if (rc < 0) {
		log_error("NOTIFY_SOCKET=%s: not a usable socket address", sock);
		return -1;
	}
	if (rc == 0)
		return 0;
	s->watchdog_ms =
		sdnotify_watchdog_usec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid()) / 1000;
	status_text(d, s->status, sizeof(s->status));
	{
		char msg[sizeof(s->status) + 16];

		snprintf(msg, sizeof(msg), "READY=1\n%s", s->status);
		sdnotify_send(&s->n, msg);
	}
	reactor_timer_start(&d->r, &s->status_timer, SERVICE_STATUS_MS, SERVICE_STATUS_MS);
	if (s->watchdog_ms > 0) {
		uint64_t half = UTIL_MAX(s->watchdog_ms / 2, 1u);

		sdnotify_send(&s->n, "WATCHDOG=1");
		reactor_timer_start(&d->r, &s->watchdog_timer, half, half);
		log_info("watchdog: pinging the service manager every %llu ms", (unsigned long long)half);
	}
	return 0;
}

/* see service.h */
void
service_stopping(struct service *s)
{
	char msg[sizeof(s->status) + 16];

	status_text(s->d, s->status, sizeof(s->status));
	snprintf(msg, sizeof(msg), "STOPPING=1\n%s", s->status);
	sdnotify_send(&s->n, msg);
}

/* see service.h */
void
service_reloading(struct service *s)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)clock_mono_us());
	sdnotify_send(&s->n, msg);
}

/* see service.h */
void
service_reloaded(struct service *s)
{
	sdnotify_send(&s->n, "READY=1");
}

/* see service.h */
void
service_fini(struct service *s)
{
	if (s->d != NULL) {
		reactor_timer_stop(&s->d->r, &s->status_timer);
		reactor_timer_stop(&s->d->r, &s->watchdog_timer);
	}
	sdnotify_close(&s->n);
}
