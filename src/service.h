/*
 * service.h: the daemon as a service of its manager (systemd's
 * Type=notify): what it says and when.
 *
 *   READY=1        once every listener is up (service_start)
 *   STATUS=...     "3 sessions (1 parked), 5 bindings, 12 streams", at
 *                  most once a second and only when it changed
 *   WATCHDOG=1     at half of $WATCHDOG_USEC, from the loop's own timer:
 *                  a loop that stops turning stops the pings, and the
 *                  manager restarts the service
 *   STOPPING=1     when the drain begins (service_stopping)
 *   RELOADING=1    with MONOTONIC_USEC=, then READY=1, around a reload
 *
 * Without $NOTIFY_SOCKET nothing is sent and no timer runs. The
 * environment is read once, in service_start.
 *
 * Not here: the protocol (sdnotify.c), the reload itself (main.c).
 */
#ifndef HT_SERVICE_H
#define HT_SERVICE_H

#include <stdint.h>

#include "reactor.h"
#include "sdnotify.h"

struct daemon;

#define SERVICE_STATUS_MS 1000

struct service {
	struct daemon *d;
	struct sdnotify n;
	uint64_t watchdog_ms; /* 0: no watchdog */
	struct reactor_timer status_timer, watchdog_timer;
	char status[160]; /* the last STATUS= sent */
};

/* Tell the manager the daemon is ready and start the timers. 0, or -1 when $NOTIFY_SOCKET is unusable
 * (logged). */
int service_start(struct service *s, struct daemon *d);

/* The drain began. */
void service_stopping(struct service *s);

/* A reload begins (RELOADING=1 with the monotonic time), and ends (READY=1). */
void service_reloading(struct service *s);
void service_reloaded(struct service *s);

/* Stop the timers and close the socket (before the reactor goes). */
void service_fini(struct service *s);

#endif
