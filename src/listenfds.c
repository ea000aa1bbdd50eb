/*
 * listenfds.c: socket activation. See listenfds.h.
 */
#include "listenfds.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* Name i of the colon-separated list names into out ("" when the list is shorter). */
static void
name_at(const char *names, unsigned i, char out[LISTENFDS_NAME_MAX])
{
	const char *p = names, *end;

	out[0] = '\0';
	if (p == NULL)
		return;
	for (; i > 0; i--) {
		p = strchr(p, ':');
		if (p == NULL)
			return;
		p++;
	}
	end = strchr(p, ':');
	snprintf(out, LISTENFDS_NAME_MAX, "%.*s", (int)(end ? (size_t)(end - p) : strlen(p)), p);
}

/* fd is a listening stream socket: made non-blocking and close-on-exec. 0 or -1. */
static int
check_fd(int fd)
{
	int type = 0, listening = 0, fl;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -1;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* see listenfds.h */
int
listenfds_parse(struct listenfds *l, const char *pid, const char *fds, const char *names, pid_t self,
		char *err, size_t errlen)
{
	uint64_t p, n;
	unsigned i;

	memset(l, 0, sizeof(*l));
	if (fds == NULL || pid == NULL || util_parse_uint(pid, UINT32_MAX, &p) < 0 || p != (uint64_t)self)
		return 0;
	if (util_parse_uint(fds, LISTENFDS_MAX, &n) < 0) {
		snprintf(err, errlen, "LISTEN_FDS=%s: not a count of 0..%d sockets", fds, LISTENFDS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		l->fd[i] = LISTENFDS_START + (int)i;
		name_at(names, i, l->name[i]);
		l->n = i + 1;
		if (check_fd(l->fd[i]) < 0) {
			snprintf(err, errlen, "LISTEN_FDS: descriptor %d (%s) is not a listening TCP socket",
				 l->fd[i], l->name[i][0] ? l->name[i] : "no name");
			return -1;
		}
	}
	return (int)n;
}

/* An unnamed descriptor, or systemd's default name: the control plane's when it is alone. */
static int
anonymous(const struct listenfds *l, unsigned i)
{
	return l->n == 1 && (l->name[i][0] == '\0' || strcmp(l->name[i], "unknown") == 0);
}

/* see listenfds.h */
int
listenfds_take(struct listenfds *l, const char *name)
{
	unsigned i;
	int fd;

	for (i = 0; i < l->n; i++) {
		if (l->fd[i] < 0)
			continue;
		if (strcmp(l->name[i], name) != 0 && !(strcmp(name, "control") == 0 && anonymous(l, i)))
			continue;
		fd = l->fd[i];
		l->fd[i] = -1;
		return fd;
	}
	return -1;
}

/* see listenfds.h */
unsigned
listenfds_close_rest(struct listenfds *l, char *names, size_t cap)
{
	unsigned i, closed = 0;
	size_t off = 0;

	if (cap > 0)
		names[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (l->fd[i] < 0)
			continue;
		close(l->fd[i]);
		l->fd[i] = -1;
		if (off < cap)
			off += (size_t)snprintf(names + off, cap - off, "%s%s", closed ? "," : "",
						l->name[i][0] ? l->name[i] : "unnamed");
		closed++;
	}
	return closed;
}
