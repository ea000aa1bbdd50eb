/*
 * net.c: socket helpers (see net.h).
 *
 * Each function is one system call or a short fixed sequence of them, with
 * errors returned as -errno and no fd left behind on failure. Address text
 * is parsed strictly (inet_pton, not inet_aton: "127.1" and "0x7f.0.0.1"
 * are errors, never surprises). Only names that are not numeric go to the
 * resolver, and "localhost" never does.
 *
 * Not here: logging, retries, timeouts, accept pausing, FD accounting.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "util.h"

/* Longest host text we look at (a DNS name is at most 253 characters). */
#define HOST_MAX 256

/* Decimal port "0".."65535", 1 to 5 digits. The port, or -1. */
static int
parse_port(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? v : -1;
}

/* IPv6 text with an optional "%scope" (interface name or number). 0 or -EINVAL. */
static int
parse_v6(const char *host, struct sockaddr_in6 *sin6)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(host, '%');
	size_t alen = pct ? (size_t)(pct - host) : strlen(host);

	if (alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, host, alen);
	addr[alen] = '\0';
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
		return -EINVAL;
	if (pct != NULL) {
		uint64_t id;

		if (util_parse_uint(pct + 1, UINT32_MAX, &id) == 0)
			sin6->sin6_scope_id = (uint32_t)id;
		else if (pct[1] == '\0' || (sin6->sin6_scope_id = if_nametoindex(pct + 1)) == 0)
			return -EINVAL;
	}
	return 0;
}

/* A name the resolver may see: letters, digits, '-', '.', not all digits and dots. */
static int
is_hostname(const char *h)
{
	int alpha = 0;

	for (; *h; h++) {
		unsigned char c = (unsigned char)*h;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
			alpha = 1;
		else if (!(c >= '0' && c <= '9') && c != '.')
			return 0;
	}
	return alpha;
}

/* Resolve a name (blocking) to its first address. 0, -ENOENT or -ENOMEM. */
static int
resolve(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
	if (res->ai_addrlen > sizeof(*ss) || (res->ai_family != AF_INET && res->ai_family != AF_INET6)) {
		freeaddrinfo(res);
		return -ENOENT;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The host part alone (no port) into ss/len. */
static int
parse_host(const char *host, int bracketed, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (bracketed) {
		*len = sizeof(struct sockaddr_in6);
		return parse_v6(host, (struct sockaddr_in6 *)ss);
	}
	*len = sizeof(*sin);
	sin->sin_family = AF_INET;
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (util_strcaseeq(host, strlen(host), "localhost")) {
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1)
		return 0;
	if (strchr(host, ':') != NULL) {
		*len = sizeof(struct sockaddr_in6);
		return parse_v6(host, (struct sockaddr_in6 *)ss);
	}
	/* the resolver would take "0x7f.1" as inet_aton does: not a name, an error */
	if (!is_hostname(host) || inet_aton(host, &sin->sin_addr) != 0)
		return -EINVAL;
	return resolve(host, ss, len);
}

static void
set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* see net.h */
int
net_parse_hostport(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[HOST_MAX];
	const char *h = s, *colon = NULL, *end;
	int port = default_port, bracketed = 0, rc;
	struct sockaddr_storage tmp;
	socklen_t tlen;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '[') {
		h = s + 1;
		end = strchr(h, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -EINVAL;
		colon = end[1] == ':' ? end + 1 : NULL;
		bracketed = 1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL; /* two colons or more: a bare IPv6 address */
		end = colon ? colon : s + strlen(s);
	}
	if (colon != NULL)
		port = parse_port(colon + 1, strlen(colon + 1));
	if (port < 0 || port > 65535 || (size_t)(end - h) >= sizeof(host) || (bracketed && end == h))
		return -EINVAL;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	rc = parse_host(host, bracketed, &tmp, &tlen);
	if (rc < 0)
		return rc;
	set_port(&tmp, port);
	*ss = tmp;
	*len = tlen;
	return 0;
}

/* Is a[0..16) an IPv4-mapped IPv6 address (::ffff:a.b.c.d)? */
static int
is_v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* The IPv4 address inside ::ffff:a.b.c.d, or NULL. */
static const uint8_t *
mapped_v4(const struct sockaddr_in6 *sin6)
{
	return is_v4mapped(sin6->sin6_addr.s6_addr) ? sin6->sin6_addr.s6_addr + 12 : NULL;
}

/* Print the address (with_port: "[v6]:p" or "v4:p"); the length or -errno. */
static int
format(const struct sockaddr *sa, char *out, size_t cap, int with_port)
{
	char ip[INET6_ADDRSTRLEN], scope[16] = "";
	int n, port = net_addr_port(sa);

	if (cap > 0)
		out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		n = with_port ? snprintf(out, cap, "%s:%d", ip, port) : snprintf(out, cap, "%s", ip);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *v4 = with_port ? NULL : mapped_v4(sin6);

		if (v4 != NULL)
			inet_ntop(AF_INET, v4, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id != 0 && v4 == NULL)
			snprintf(scope, sizeof(scope), "%%%u", (unsigned)sin6->sin6_scope_id);
		n = with_port ? snprintf(out, cap, "[%s%s]:%d", ip, scope, port)
			      : snprintf(out, cap, "%s%s", ip, scope);
	} else {
		return -EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

/* see net.h */
int
net_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	return format(sa, out, cap, 1);
}

/* see net.h */
int
net_format_ip(const struct sockaddr *sa, char *out, size_t cap)
{
	return format(sa, out, cap, 0);
}

/* see net.h */
int
net_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return -EAFNOSUPPORT;
}

/* Close fd keeping errno; return -errno (for error paths). */
static int
fail_close(int fd)
{
	int err = errno;

	close(fd);
	return -err;
}

static int
set_int_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) == 0 ? 0 : -errno;
}

/* see net.h */
int
net_listen(const struct sockaddr *sa, socklen_t len, int backlog, int flags)
{
	int fd;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		return fail_close(fd);
	if ((flags & NET_LISTEN_REUSEPORT) && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		return fail_close(fd);
	if (sa->sa_family == AF_INET6 &&
	    set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, !(flags & NET_LISTEN_DUALSTACK)) < 0)
		return fail_close(fd);
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
		return fail_close(fd);
	return fd;
}

/* see net.h */
int
net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len)
{
	int fd;

	do
		fd = accept4(lfd, (struct sockaddr *)peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

/* see net.h */
int
net_connect(const struct sockaddr *sa, socklen_t len)
{
	int fd;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* EINTR: the connection goes on in the background, like EINPROGRESS */
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS && errno != EINTR)
		return fail_close(fd);
	return fd;
}

/* see net.h */
int
net_socket_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* see net.h */
int
net_set_nodelay(int fd, int on)
{
	return set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

/* see net.h */
int
net_set_bufsizes(int fd, int snd, int rcv)
{
	int rc = 0;

	if (snd > 0)
		rc = set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, snd);
	if (rc == 0 && rcv > 0)
		rc = set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, rcv);
	return rc;
}

/* see net.h */
int
net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return net_addr_port((struct sockaddr *)&ss);
}

/* see net.h */
int
net_shutdown_write(int fd)
{
	return shutdown(fd, SHUT_WR) == 0 ? 0 : -errno;
}

/* ---- send progress -------------------------------------------------------- */

/* Bytes sent and not yet acknowledged, or SIZE_MAX when the kernel does not say. */
static size_t
unsent(int fd)
{
#ifdef SIOCOUTQ
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) == 0 && n >= 0)
		return (size_t)n;
#else
	(void)fd;
#endif
	return SIZE_MAX;
}

/* see net.h */
void
net_progress_mark(struct net_progress *p, int fd)
{
	p->unsent = unsent(fd);
	p->pushed = 0;
}

/* see net.h */
int
net_progress_check(struct net_progress *p, int fd)
{
	size_t now = unsent(fd);
	int took = now == SIZE_MAX || p->unsent == SIZE_MAX ? p->pushed > 0 : now < p->unsent + p->pushed;

	p->unsent = now;
	p->pushed = 0;
	return took;
}

/* ---- CIDR ---------------------------------------------------------------- */

/* Clear the bits after prefix in addr[0..bytes). */
static void
mask_host_bits(uint8_t *addr, size_t bytes, unsigned prefix)
{
	size_t i;

	for (i = 0; i < bytes; i++) {
		unsigned bit0 = (unsigned)i * 8;
		if (prefix <= bit0)
			addr[i] = 0;
		else if (prefix < bit0 + 8)
			addr[i] &= (uint8_t)(0xff00u >> (prefix - bit0));
	}
}

/* see net.h */
int
net_cidr_parse(const char *s, struct net_cidr *c)
{
	char text[INET6_ADDRSTRLEN + 1];
	const char *slash = s ? strchr(s, '/') : NULL;
	size_t alen = slash ? (size_t)(slash - s) : (s ? strlen(s) : 0);
	struct net_cidr r;
	uint64_t max, bits = 0;

	if (s == NULL || alen == 0 || alen >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, alen);
	text[alen] = '\0';
	memset(&r, 0, sizeof(r));
	if (inet_pton(AF_INET, text, r.addr) == 1)
		r.family = AF_INET;
	else if (inet_pton(AF_INET6, text, r.addr) == 1)
		r.family = AF_INET6;
	else
		return -EINVAL;
	max = r.family == AF_INET ? 32 : 128;
	if (slash != NULL && (strlen(slash + 1) > 3 || util_parse_uint(slash + 1, 999, &bits) < 0))
		return -EINVAL;
	if (slash != NULL && bits > max)
		return -ERANGE;
	r.prefix = (unsigned)(slash != NULL ? bits : max);
	if (r.family == AF_INET6 && r.prefix >= 96 && is_v4mapped(r.addr)) {
		memmove(r.addr, r.addr + 12, 4);
		memset(r.addr + 4, 0, 12);
		r.family = AF_INET;
		r.prefix -= 96;
	}
	mask_host_bits(r.addr, sizeof(r.addr), r.prefix);
	*c = r;
	return 0;
}

/* see net.h */
int
net_cidr_match(const struct net_cidr *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family = sa->sa_family;
	size_t full = c->prefix / 8;
	unsigned rest = c->prefix % 8;

	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a = mapped_v4(sin6);
		if (a != NULL)
			family = AF_INET;
		else
			a = sin6->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	if (family != c->family || memcmp(a, c->addr, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ c->addr[full]) & (0xff00u >> rest) & 0xff) == 0;
}

/* see net.h */
void
net_peer_addr(int fd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (getpeername(fd, (struct sockaddr *)ss, &len) < 0)
		ss->ss_family = AF_UNSPEC;
}
