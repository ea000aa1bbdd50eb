/*
 * url.h: the addresses htc is given on its command line.
 *
 * Three kinds of text are parsed here, all without I/O (no DNS, no
 * sockets), so that every rule is unit-tested:
 *
 *  - the daemon URL (--url, HTC_URL): ws://, wss://, http:// or https://,
 *    a host name, IPv4 address or [IPv6] literal, an optional port, an
 *    optional path (with query). http(s) are synonyms of ws(s): the same
 *    control plane answers both the WebSocket and the admin requests. A URL
 *    with no scheme ("10.0.0.5:50") means ws://.
 *  - a local address "[HOST:]PORT" (the laptop side of a binding): "3000",
 *    "localhost:3000", "127.0.0.1:3000", "[::1]:3000". The host defaults to
 *    URL_LOCAL_HOST_DEFAULT.
 *  - a binding map "[CONTAINER:]LOCAL" for `htc up --expose/--pull`:
 *    "5000:8080" is container port 5000 to local 127.0.0.1:8080,
 *    "5000:localhost:8080" and "5000:[::1]:8080" name the local host too,
 *    a plain local spec ("3000", "localhost:3000") uses the local port as
 *    the container port. A first field made only of digits is always a
 *    container port, never a host.
 *  - a host route "[NAME=]LOCAL" for `htc up --http`: "demo=3000" routes
 *    Host demo.DOMAIN to local 127.0.0.1:3000, "@=3000" routes DOMAIN
 *    itself, a plain local spec asks the daemon for a random name. NAME
 *    follows url_parse_subdomain().
 *  - a listening address "[HOST:]PORT" for `htc socks` and the local side
 *    of `htc forward`: as a local address, but port 0 picks a free one.
 *  - a forward "[LHOST:]LPORT:RHOST:RPORT" for `htc forward` and `htc up
 *    --forward`: "15432:127.0.0.1:5432" listens on 127.0.0.1:15432 and
 *    connects to 127.0.0.1:5432 as seen from the container;
 *    "[::1]:0:db.internal:5432" and "8080:[fd00::5]:80" bracket IPv6 on
 *    either side. RHOST is a name or an address, resolved (if at all) by
 *    the daemon; it is split off from the right, so LHOST needs no
 *    special care.
 *
 * Paths. With no path (or "/") the tunnel path is URL_TUNNEL_PATH and the
 * admin endpoints are URL_ADMIN_PREFIX + name. An explicit path is the
 * tunnel path as given; when it ends in URL_TUNNEL_PATH (e.g. a reverse
 * proxy mounting the daemon under "/t": "/t/api/v1/tunnel/connect") the part
 * in front of it is kept as a prefix for the admin endpoints too
 * ("/t/api/v1/tunnel/health").
 *
 * Not here: user:password@ in URLs (refused: use --token), fragments
 * (refused), percent-decoding (paths are sent as written), IDNA, zone ids
 * in IPv6 literals.
 */
#ifndef HTC_URL_H
#define HTC_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX 254  /* longest host (a DNS name is at most 253 bytes), NUL included */
#define URL_PATH_MAX 1024 /* longest path + query, NUL included */

#define URL_DEFAULT "ws://127.0.0.1:50/api/v1/tunnel/connect"
#define URL_TUNNEL_PATH "/api/v1/tunnel/connect"
#define URL_ADMIN_PREFIX "/api/v1/tunnel/"
#define URL_LOCAL_HOST_DEFAULT "127.0.0.1"

enum url_scheme {
	URL_WS = 0, /* ws://, default port 80 */
	URL_WSS,    /* wss://, default port 443, TLS */
	URL_HTTP,   /* http://, same as ws:// */
	URL_HTTPS,  /* https://, same as wss:// */
	URL_SCHEME_MAX
};

/* A parsed daemon URL. All fields are read-only for callers. */
struct url {
	enum url_scheme scheme;
	bool tls;                /* wss or https */
	bool host_v6;            /* host is an IPv6 literal (stored without brackets) */
	bool port_given;         /* the URL named a port */
	uint16_t port;           /* given, or 80/443 by scheme */
	char host[URL_HOST_MAX]; /* name or address, no brackets, never empty */
	char path[URL_PATH_MAX]; /* tunnel request target: starts with '/', may hold "?query" */
	size_t prefix_len;       /* path[0..prefix_len) is the admin mount prefix (often 0) */
	const char *err;         /* why url_parse failed (static English text), else NULL */
};

/*
 * Parse the daemon URL s into u (all of u is overwritten). Returns 0, or -1
 * with u->err set: unknown scheme, empty or invalid host, bad IPv6 literal,
 * port not 1..65535, user info, fragment, path bytes outside 0x21-0x7E, or
 * a host/path too long.
 */
int url_parse(struct url *u, const char *s);

/* "ws", "wss", "http" or "https"; "?" for an invalid value. */
const char *url_scheme_name(enum url_scheme s);

/*
 * Write the authority of u into out[0..cap), NUL-terminated: the host (in
 * brackets when IPv6), then ":port" unless omit_default is set and the port
 * is the scheme's default (that form is the Host header value; with
 * omit_default = 0 it names the address in messages). Returns its length,
 * or -1 when cap is too small (out is then "").
 */
int url_authority(const struct url *u, int omit_default, char *out, size_t cap);

/*
 * Write the request target of admin endpoint `name` ("health",
 * "sessions/abc", "sessions/abc?grace_ms=5"): prefix + URL_ADMIN_PREFIX +
 * name. Returns its length, or -1 when cap is too small (out is then "").
 * name is copied as is: the caller checks or encodes what it puts in it.
 */
int url_admin_target(const struct url *u, const char *name, char *out, size_t cap);

/* ---- local specs and binding maps --------------------------------------- */

/* A local address "[HOST:]PORT". */
struct url_local {
	char host[URL_HOST_MAX]; /* no brackets; URL_LOCAL_HOST_DEFAULT when not given */
	bool host_given;
	bool host_v6;  /* host is an IPv6 literal */
	uint16_t port; /* 1..65535 */
};

/*
 * Parse "[HOST:]PORT" into l. Returns 0, or -1 with *err (may be NULL) set
 * to a static English reason: empty, port not 1..65535, empty or invalid
 * host, an IPv6 literal without brackets or with a bad address.
 */
int url_parse_local(struct url_local *l, const char *spec, const char **err);

/*
 * Parse a listening address "[HOST:]PORT" into l: as url_parse_local(),
 * but PORT may be 0 (the system picks one). Returns 0, or -1 with *err.
 */
int url_parse_listen(struct url_local *l, const char *spec, const char **err);

/* Where `htc forward` listens and where its connections go, or an `htc socks` listener. */
struct url_forward {
	struct url_local listen; /* port 0: the system picks one */
	bool socks;              /* a SOCKS listener: no host and port (set by the caller) */
	bool host_v6;            /* host is an IPv6 literal (stored without brackets) */
	char host[URL_HOST_MAX]; /* the target in the container: a name or an address */
	uint16_t port;           /* 1..65535 */
};

/*
 * Parse "[LHOST:]LPORT:RHOST:RPORT" (see the file comment) into f (socks
 * false). Returns 0, or -1 with *err (may be NULL) set: no four fields,
 * any error of url_parse_listen() for the local part, an empty or invalid
 * RHOST (a bare IPv6 address included), RPORT not 1..65535.
 */
int url_parse_forward(struct url_forward *f, const char *spec, const char **err);

/*
 * Write f's target as "host:port" ("[fd00::5]:80" for IPv6) into
 * out[0..cap). Returns its length, or -1 when cap is too small.
 */
int url_forward_format(const struct url_forward *f, char *out, size_t cap);

/* A binding of `htc up`: container port -> local address. */
struct url_map {
	uint16_t container_port; /* 0..65535; 0 asks the daemon to pick one */
	bool container_given;    /* "C:" was written; else container_port = local.port */
	struct url_local local;
};

/*
 * Parse "[CONTAINER:]LOCAL" (see the file comment) into m. Returns 0, or -1
 * with *err (may be NULL) set: container port not 0..65535, or any error of
 * url_parse_local() for the local part.
 */
int url_parse_map(struct url_map *m, const char *spec, const char **err);

/* ---- host routes --------------------------------------------------------- */

#define URL_SUBDOMAIN_MAX 64 /* longest subdomain (a DNS label is at most 63 bytes), NUL included */

/*
 * Check a subdomain given by the user or by the daemon and write it
 * lower-cased into out[0..URL_SUBDOMAIN_MAX): "@" (the domain itself), or
 * 1..63 of a-z, 0-9 and '-' (upper case accepted and lowered) that neither
 * starts nor ends with '-'. Returns 0, or -1 with *err (may be NULL) set to
 * a static English reason (out is then "").
 */
int url_parse_subdomain(char out[URL_SUBDOMAIN_MAX], const char *s, const char **err);

/* A host route of `htc up --http`: subdomain -> local address. */
struct url_route {
	char subdomain[URL_SUBDOMAIN_MAX]; /* lower case; "" when not given: a random one */
	struct url_local local;
};

/*
 * Parse "[NAME=][HOST:]PORT" (see the file comment) into r. Returns 0, or
 * -1 with *err (may be NULL) set: any error of url_parse_subdomain() for
 * NAME (an empty NAME before '=' included), or of url_parse_local() for
 * the rest.
 */
int url_parse_route(struct url_route *r, const char *spec, const char **err);

/*
 * Parse a decimal port: digits only (no sign, no spaces), 1..65535, or
 * 0..65535 with allow_zero. Returns 0, or -1.
 */
int url_parse_port(const char *s, int allow_zero, uint16_t *out);

/*
 * Write a local address as "host:port" ("[::1]:port" for IPv6) into
 * out[0..cap). Returns its length, or -1 when cap is too small.
 */
int url_local_format(const struct url_local *l, char *out, size_t cap);

#endif
