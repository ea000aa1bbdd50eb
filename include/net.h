/*
 * net.h: socket helpers in the manner of Redis's anet, with no policy.
 *
 * Thin wrappers that set up non-blocking, close-on-exec TCP sockets,
 * parse and print "host:port" addresses, and match addresses against CIDR
 * ranges. Every function that wraps a system call returns a value >= 0
 * (an fd, a port, 0) or -errno; none logs, retries, or keeps state. Which
 * addresses to listen on, when to accept and what to do on EMFILE belong
 * to the callers (fdbudget, expose, pull, ctl).
 *
 * Addresses are struct sockaddr_storage + socklen_t, IPv4 or IPv6 only.
 */
#ifndef HT_NET_H
#define HT_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Room for any net_format_addr() result: "[v6%scope]:65535" and the NUL. */
#define NET_ADDR_STRLEN 72

/* ---- addresses --------------------------------------------------------- */

/*
 * Parse an address with an optional port into *ss and *len:
 *   "1.2.3.4:80"  "1.2.3.4"          IPv4 (dotted quad only: no "127.1")
 *   "[::1]:80"    "[::1]"   "::1"    IPv6; bare only without a port
 *   "[fe80::1%eth0]:80"              IPv6 with a scope (name or number)
 *   ":80"         "*:80"             the IPv4 wildcard 0.0.0.0
 *   "localhost:80"                   always 127.0.0.1, never the resolver
 *   "host.example:80"                resolved with getaddrinfo(), first result
 * A missing port means default_port; when default_port is negative a port
 * is required. Ports are decimal 0..65535. Name resolution blocks: use
 * names only at startup or in htc, never from the daemon's event loop.
 * Returns 0, -EINVAL (malformed, bad port, missing port), or -ENOENT (the
 * name does not resolve). *ss and *len are written only on success.
 */
int net_parse_hostport(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len);

/*
 * Print "1.2.3.4:5" or "[::1]:5" (with "%scope" when the IPv6 address has
 * one) into out (cap bytes, NUL-terminated; NET_ADDR_STRLEN always fits).
 * Returns the length, -EAFNOSUPPORT for a family other than IPv4/IPv6, or
 * -ENOSPC when out is too small (out then holds "").
 */
int net_format_addr(const struct sockaddr *sa, char *out, size_t cap);

/*
 * Print the address alone, without port or brackets ("1.2.3.4", "::1");
 * an IPv4-mapped IPv6 address is printed as IPv4, as it is what a visitor
 * would recognise (X-Forwarded-For, logs). Same returns as net_format_addr.
 */
int net_format_ip(const struct sockaddr *sa, char *out, size_t cap);

/* The port of an IPv4/IPv6 address in host order, or -EAFNOSUPPORT. */
int net_addr_port(const struct sockaddr *sa);

/* ---- sockets ----------------------------------------------------------- */

/* net_listen() flags. */
#define NET_LISTEN_REUSEPORT 0x1 /* SO_REUSEPORT: several listeners share a port */
#define NET_LISTEN_DUALSTACK 0x2 /* IPv6 socket also takes IPv4 (IPV6_V6ONLY off) */

/*
 * A listening TCP socket bound to sa: non-blocking, close-on-exec,
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6 unless NET_LISTEN_DUALSTACK. Returns
 * the fd or -errno (EADDRINUSE, EACCES, EADDRNOTAVAIL, EMFILE... passed
 * through); nothing is left open on error.
 */
int net_listen(const struct sockaddr *sa, socklen_t len, int backlog, int flags);

/*
 * Accept one connection as a non-blocking, close-on-exec socket. peer and
 * len may be NULL; otherwise *len must hold sizeof(*peer) and receives the
 * peer address length. Returns the fd or -errno: -EAGAIN when no
 * connection is waiting, -EMFILE/-ENFILE when out of descriptors,
 * -ECONNABORTED when one was reset before being accepted, and so on.
 * EINTR is retried.
 */
int net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len);

/*
 * Start a non-blocking TCP connection (close-on-exec socket). Returns the
 * fd, also while the connection is still in progress: wait for the fd to
 * be writable, then read the outcome with net_socket_error(). -errno when
 * the socket cannot be made or connect fails at once (-ECONNREFUSED is
 * possible at once on loopback); the socket is then closed.
 */
int net_connect(const struct sockaddr *sa, socklen_t len);

/*
 * The pending error of a socket (SO_ERROR), which also clears it: 0 when
 * none (a finished non-blocking connect succeeded), else -that_error
 * (-ECONNREFUSED, -ETIMEDOUT...), or -errno when getsockopt fails.
 */
int net_socket_error(int fd);

/* TCP_NODELAY on (on != 0) or off. 0 or -errno. */
int net_set_nodelay(int fd, int on);

/*
 * SO_SNDBUF and SO_RCVBUF in bytes; 0 leaves one unchanged (the kernel
 * doubles the value and caps it at its sysctl maximum). 0 or -errno.
 */
int net_set_bufsizes(int fd, int snd, int rcv);

/* The local port of a bound socket (to learn what port 0 picked), or -errno. */
int net_local_port(int fd);

/* The peer address of connected socket fd into ss; family AF_UNSPEC when unknown. */
void net_peer_addr(int fd, struct sockaddr_storage *ss);

/* shutdown(SHUT_WR): send FIN, keep reading. 0 or -errno. */
int net_shutdown_write(int fd);

/*
 * Whether the peer takes what is sent, over a period. The kernel's send
 * buffer may be megabytes, and a socket turns writable again only once
 * much of it is free, so "no write for a while" is no sign of a stalled
 * peer: a slow reader takes a little all the time. A progress mark
 * compares the bytes waiting in the kernel (SIOCOUTQ, Linux) with those
 * at the last mark plus what was written since. Where the kernel does not
 * say, writing anything counts as progress.
 */
struct net_progress {
	size_t unsent;   /* bytes in the kernel send queue at the mark; SIZE_MAX: unknown */
	uint64_t pushed; /* bytes written since the mark */
};

/* Set the mark. */
void net_progress_mark(struct net_progress *p, int fd);

/* n bytes were written to the socket. */
static inline void
net_progress_pushed(struct net_progress *p, size_t n)
{
	p->pushed += n;
}

/* 1 when the peer took at least one byte since the mark (the mark moves to now), else 0. */
int net_progress_check(struct net_progress *p, int fd);

/* ---- CIDR ranges --------------------------------------------------------- */

/* An address range. IPv4 is kept as IPv4 (4 bytes used of addr). */
struct net_cidr {
	int family;       /* AF_INET or AF_INET6 */
	unsigned prefix;  /* leading bits that must match: 0..32 or 0..128 */
	uint8_t addr[16]; /* network address, host bits cleared */
};

/*
 * Parse "10.0.0.0/8", "fd00::/8", or a bare address ("1.2.3.4" = /32,
 * "::1" = /128) into *c. Host bits under the mask are cleared ("10.1.2.3/8"
 * is 10.0.0.0/8). An IPv4-mapped IPv6 range of prefix >= 96
 * ("::ffff:10.0.0.0/104") is stored as the IPv4 range it covers. 0,
 * -ERANGE (a prefix of up to 3 digits above 32 or 128), or -EINVAL (bad
 * address, prefix not 1 to 3 decimal digits, trailing text).
 */
int net_cidr_parse(const char *s, struct net_cidr *c);

/*
 * 1 when sa (IPv4 or IPv6) lies in c, else 0. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack listener reports) is compared as the
 * IPv4 address it carries; other families never match.
 */
int net_cidr_match(const struct net_cidr *c, const struct sockaddr *sa);

#endif
