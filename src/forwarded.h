/*
 * forwarded.h: which peers are trusted proxies, and the X-Forwarded-*
 * headers the daemon passes to the client for a visitor request.
 *
 * From a trusted proxy (--trusted-proxy loopback|private|IP|CIDR) the
 * visitor's X-Forwarded-For is kept and extended with the proxy's address,
 * and its X-Forwarded-Proto, X-Forwarded-Host and X-Real-IP are kept; from
 * anyone else all four are replaced by what the daemon saw.
 */
#ifndef HT_FORWARDED_H
#define HT_FORWARDED_H

#include <stddef.h>
#include <sys/socket.h>

#include "http1.h"
#include "net.h"

#define FORWARDED_MAX_CIDRS 64

struct forwarded {
	struct net_cidr cidrs[FORWARDED_MAX_CIDRS];
	unsigned n;
};

/*
 * Add one --trusted-proxy value: "loopback" (127.0.0.0/8, ::1), "private"
 * (10/8, 172.16/12, 192.168/16, fc00::/7, and link-local 169.254/16,
 * fe80::/10), an IP, or a CIDR. 0, or -1 for a bad value or a full table.
 */
int forwarded_add(struct forwarded *f, const char *spec);

/* 1 when the peer address is a trusted proxy. */
int forwarded_trusted(const struct forwarded *f, const struct sockaddr *peer);

/* 1 when sa is a loopback address: 127.0.0.0/8, ::1, or 127.x.y.z mapped into IPv6. */
int forwarded_loopback(const struct sockaddr *sa);

/*
 * 1 when a request on a socket whose peer is `peer`, with the headers
 * hdrs[0..n), comes from this host itself: the peer is loopback
 * (forwarded_loopback), it is not a trusted proxy, and the request carries
 * none of X-Forwarded-For, X-Real-IP and Forwarded, the headers a proxy
 * puts in for the client it relays. Otherwise 0: a proxy on this host
 * relays requests from anywhere, so what it forwards counts as remote,
 * whatever the headers say the client was. Headers can only turn a local
 * peer remote, never the other way.
 */
int forwarded_local(const struct forwarded *f, const struct sockaddr *peer, const struct http1_header *hdrs,
		    size_t n);

/* 1 for the four headers this module rewrites (case-insensitive name). */
int forwarded_is_managed(const char *name, size_t len);

/*
 * The values to send for a request from a peer whose IP is peer_ip
 * (trusted: forwarded_trusted() of it), with the visitor's headers
 * hdrs[0..n). Each value is written NUL-terminated
 * into its buffer (cap bytes each; cut when longer). proto is "http" (the
 * daemon's listeners are plain). host is the visitor's Host header value
 * (may be empty).
 */
struct forwarded_values {
	char xff[512];
	char proto[32];
	char host[256];
	char real_ip[64];
};

void forwarded_values(int trusted, const char *peer_ip, const struct http1_header *hdrs, size_t n,
		      struct forwarded_values *out);

#endif
