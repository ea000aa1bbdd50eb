/*
 * sdnotify.c: datagrams to the service manager. See sdnotify.h.
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* see sdnotify.h */
int
sdnotify_open(struct sdnotify *n, const char *sock)
{
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (sock == NULL || *sock == '\0')
		return 0;
	len = strlen(sock);
	if ((sock[0] != '/' && sock[0] != '@') || len >= sizeof(n->addr.sun_path) || len < 2)
		return -1;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, sock, len);
	if (sock[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract: the length counts, no terminator */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (sock[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return n->fd < 0 ? -1 : 1;
}

/* see sdnotify.h */
int
sdnotify_send(const struct sdnotify *n, const char *msg)
{
	ssize_t rc;

	if (n->fd < 0)
		return 0;
	do
		rc = sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
			    (const struct sockaddr *)&n->addr, n->addr_len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

/* see sdnotify.h */
void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

/* see sdnotify.h */
uint64_t
sdnotify_watchdog_usec(const char *usec, const char *pid, pid_t self)
{
	uint64_t v, p;

	if (usec == NULL || util_parse_uint(usec, UINT64_MAX, &v) < 0 || v == 0)
		return 0;
	if (pid != NULL && *pid != '\0' && (util_parse_uint(pid, UINT32_MAX, &p) < 0 || p != (uint64_t)self))
		return 0;
	return v;
}
