/*
 * sdnotify.h: the service manager's notification protocol (sd_notify(3)):
 * one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, a path or, with a leading '@', an abstract name. Also
 * reads the watchdog interval ($WATCHDOG_USEC, for us when $WATCHDOG_PID
 * is unset or ours).
 *
 * Without $NOTIFY_SOCKET everything here is a no-op that succeeds, so the
 * daemon calls it unconditionally. A send never blocks (MSG_DONTWAIT) and
 * never raises SIGPIPE; a datagram the manager does not take is dropped,
 * as systemd's own client does. No allocation, no global state.
 *
 * Not here: what to say and when (service.c).
 */
#ifndef HT_SDNOTIFY_H
#define HT_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

struct sdnotify {
	int fd; /* -1: no manager to tell */
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/*
 * Open the socket $NOTIFY_SOCKET names (sock: its value, NULL or "" when
 * unset). Returns 1 when notifications will go out, 0 when there is no
 * manager, -1 when the value is no usable address (relative path, too
 * long) or the socket cannot be made; n is then disabled (fd -1).
 */
int sdnotify_open(struct sdnotify *n, const char *sock);

/* Send msg (e.g. "READY=1\nSTATUS=serving") as one datagram. 0, 0 when disabled, or -errno. */
int sdnotify_send(const struct sdnotify *n, const char *msg);

/* Close the socket; n is disabled. */
void sdnotify_close(struct sdnotify *n);

/*
 * The watchdog interval in microseconds from the values of $WATCHDOG_USEC
 * and $WATCHDOG_PID (NULL when unset): 0 when no watchdog applies to the
 * process self (no or bad interval, or a PID that is not self).
 */
uint64_t sdnotify_watchdog_usec(const char *usec, const char *pid, pid_t self);

#endif
