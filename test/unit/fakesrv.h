/*
 * fakesrv.h: a scripted HTTP server on 127.0.0.1 for htc's client tests.
 *
 * fakesrv_start() listens on an ephemeral loopback port and forks a child
 * that accepts connections one at a time, reads each request head, reports
 * it to the parent (one SOCK_SEQPACKET record per request, so the test can
 * check every byte htc sent), picks the reply whose target matches the
 * request line, and writes it: its parts in order with delay_ms between
 * them, then `flood` bytes of 'x', then closes (or, with `silent`, says
 * nothing until the client closes, at most 5 s). An unknown target gets a bare 404. The child never
 * outlives the test: fakesrv_stop() kills it by pid and reaps it, and it
 * exits by itself after FAKESRV_LIFETIME_S.
 */
#ifndef HT_TEST_FAKESRV_H
#define HT_TEST_FAKESRV_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define FAKESRV_PARTS_MAX 8
#define FAKESRV_LIFETIME_S 60

struct fake_reply {
	const char *target;                   /* request target to match exactly */
	const char *parts[FAKESRV_PARTS_MAX]; /* written in order (NULL ends the list) */
	int delay_ms;                         /* sleep between parts */
	size_t flood;                         /* then this many bytes of 'x' */
	int silent;                           /* send nothing until the client closes (at most 5 s) */
};

struct fakesrv {
	pid_t pid;
	int port;
	int rec; /* parent end of the request-record socketpair */
};

static inline void
fakesrv_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline void
fakesrv_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Serve one connection; the request head goes to rec. */
static inline void
fakesrv_serve(int fd, int rec, const struct fake_reply *r, size_t nr)
{
	static char head[16384], big[65536];
	size_t len = 0, i, tlen;
	const char *sp, *t;
	ssize_t n;

	while (len < sizeof(head) - 1 && (n = recv(fd, head + len, sizeof(head) - 1 - len, 0)) > 0) {
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL)
			break;
	}
	send(rec, head, len, MSG_DONTWAIT); /* records nobody reads are dropped */
	sp = memchr(head, ' ', len);
	t = sp ? sp + 1 : head;
	tlen = strcspn(t, " ");
	for (i = 0; i < nr; i++)
		if (strlen(r[i].target) == tlen && memcmp(r[i].target, t, tlen) == 0)
			break;
	if (i == nr) {
		fakesrv_write_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 45);
		return;
	}
	if (r[i].silent) { /* until the client gives up (or 5 s) */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) == 1)
			(void)recv(fd, head, sizeof(head), 0);
		return;
	}
	for (n = 0; n < FAKESRV_PARTS_MAX && r[i].parts[n] != NULL; n++) {
		if (n > 0 && r[i].delay_ms > 0)
			fakesrv_sleep_ms(r[i].delay_ms);
		fakesrv_write_all(fd, r[i].parts[n], strlen(r[i].parts[n]));
	}
	memset(big, 'x', sizeof(big));
	for (len = r[i].flood; len > 0; len -= UTIL_MIN(len, sizeof(big)))
		fakesrv_write_all(fd, big, UTIL_MIN(len, sizeof(big)));
}

/* 0, or -1 when the server could not be set up. */
static inline int
fakesrv_start(struct fakesrv *s, const struct fake_reply *r, size_t nr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd, sp[2];

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		return -1;
	s->port = ntohs(a.sin_port);
	fflush(NULL);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(sp[0]);
		alarm(FAKESRV_LIFETIME_S);
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				continue;
			fakesrv_serve(fd, sp[1], r, nr);
			close(fd);
		}
	}
	close(lfd);
	close(sp[1]);
	s->rec = sp[0];
	return 0;
}

/* The next request head the server saw, NUL-terminated; its length, or 0 after 2 s without one. */
static inline size_t
fakesrv_request(struct fakesrv *s, char *out, size_t cap)
{
	struct pollfd p = { .fd = s->rec, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 2000) != 1 || (n = recv(s->rec, out, cap - 1, 0)) < 0)
		n = 0;
	out[n] = '\0';
	return (size_t)n;
}

/* Forget the request records not read yet. */
static inline void
fakesrv_drain(struct fakesrv *s)
{
	char buf[256];

	while (recv(s->rec, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static inline void
fakesrv_stop(struct fakesrv *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->rec);
}

#endif
