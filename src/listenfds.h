/*
 * listenfds.h: sockets handed over by the service manager (socket
 * activation, sd_listen_fds(3)): $LISTEN_FDS descriptors from fd 3 on,
 * meant for us when $LISTEN_PID is our PID, named by $LISTEN_FDNAMES
 * (colon-separated, one per descriptor; systemd's FileDescriptorName=).
 *
 * The daemon takes the ones it knows by name ("control" for the control
 * plane, "vhost" for --vhost-listen); a single descriptor without a name
 * (systemd-socket-activate, inetd style) or named "unknown" (systemd's
 * default) counts as "control". Every descriptor is checked to be a
 * listening stream socket, made non-blocking and close-on-exec. What no
 * one takes is closed by listenfds_close_rest() with a warning from the
 * caller.
 *
 * Not here: reading the environment (the caller passes the three values,
 * so tests need no environment), starting the listeners (daemon.c).
 */
#ifndef HT_LISTENFDS_H
#define HT_LISTENFDS_H

#include <stddef.h>
#include <sys/types.h>

#define LISTENFDS_START 3 /* SD_LISTEN_FDS_START */
#define LISTENFDS_MAX 16
#define LISTENFDS_NAME_MAX 64

struct listenfds {
	unsigned n;
	int fd[LISTENFDS_MAX]; /* -1 once taken or closed */
	char name[LISTENFDS_MAX][LISTENFDS_NAME_MAX];
};

/*
 * Read what the manager passed: pid, fds and names are the values of
 * $LISTEN_PID, $LISTEN_FDS and $LISTEN_FDNAMES (NULL when unset), self our
 * PID. Returns the number of descriptors (0: none for us), or -1 with err
 * filled (a bad count, more than LISTENFDS_MAX, a descriptor that is not a
 * listening stream socket).
 */
int listenfds_parse(struct listenfds *l, const char *pid, const char *fds, const char *names, pid_t self,
		    char *err, size_t errlen);

/* The descriptor named name (see above for "control"), now the caller's; -1 when none. */
int listenfds_take(struct listenfds *l, const char *name);

/* Close every descriptor not taken; returns how many, names in names[0..cap) comma-separated. */
unsigned listenfds_close_rest(struct listenfds *l, char *names, size_t cap);

#endif
