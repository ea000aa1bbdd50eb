/*
 * url.c: parsing of the daemon URL, local "[HOST:]PORT" specs and
 * "[CONTAINER:]LOCAL" binding maps (see url.h). Pure string work: no DNS,
 * no sockets, no allocation. Host names are checked for their characters
 * only; whether they resolve is found out when connecting.
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const scheme_names[URL_SCHEME_MAX] = {
	[URL_WS] = "ws",
	[URL_WSS] = "wss",
	[URL_HTTP] = "http",
	[URL_HTTPS] = "https",
};

/* see url.h */
const char *
url_scheme_name(enum url_scheme s)
{
	if ((unsigned)s >= URL_SCHEME_MAX)
		return "?";
	return scheme_names[s];
}

/* see url.h */
int
url_parse_port(const char *s, int allow_zero, uint16_t *out)
{
	unsigned long v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0 && !allow_zero)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* The same, on s[0..n). */
static int
parse_portn(const char *s, size_t n, int allow_zero, uint16_t *out)
{
	char tmp[8];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return url_parse_port(tmp, allow_zero, out);
}

/* 1 when s[0..n) is a host name or IPv4 address by its characters. */
static int
host_name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= URL_HOST_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * Split "host[:port]" or "[v6][:port]" from s[0..n) into host/v6, and the
 * port text into *port and *port_len (NULL and 0 when absent). 0 or -1 with *err.
 */
static int
split_host_port(const char *s, size_t n, char host[URL_HOST_MAX], bool *v6, const char **port,
		size_t *port_len, const char **err)
{
	const char *colon, *h = s;
	size_t hlen;

	*port = NULL;
	*port_len = 0;
	*v6 = false;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		struct in6_addr a;
		if (close == NULL)
			return *err = "missing ']' after IPv6 address", -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		if (hlen == 0 || hlen >= URL_HOST_MAX)
			return *err = "bad IPv6 address", -1;
		memcpy(host, h, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &a) != 1)
			return *err = "bad IPv6 address", -1;
		*v6 = true;
		colon = close + 1;
		if (colon == s + n)
			return 0;
		if (*colon != ':')
			return *err = "unexpected text after ']'", -1;
		*port = colon + 1;
		*port_len = n - (size_t)(*port - s);
		return 0;
	}
	colon = memchr(s, ':', n);
	hlen = colon ? (size_t)(colon - s) : n;
	if (colon != NULL && memchr(colon + 1, ':', n - hlen - 1) != NULL)
		return *err = "an IPv6 address needs brackets: [::1]", -1;
	if (hlen == 0)
		return *err = "empty host", -1;
	if (!host_name_valid(s, hlen))
		return *err = "invalid host", -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (colon != NULL) {
		*port = colon + 1;
		*port_len = n - hlen - 1;
	}
	return 0;
}

/* Scheme from the text before "://"; returns the rest, or NULL with u->err. */
static const char *
parse_scheme(struct url *u, const char *s)
{
	const char *sep = strstr(s, "://");
	size_t n;
	int i;

	u->scheme = URL_WS;
	if (sep == NULL)
		return s;
	n = (size_t)(sep - s);
	for (i = 0; i < URL_SCHEME_MAX; i++) {
		if (strlen(scheme_names[i]) == n && strncasecmp(s, scheme_names[i], n) == 0) {
			u->scheme = (enum url_scheme)i;
			return sep + 3;
		}
	}
	u->err = "unknown scheme (use ws, wss, http or https)";
	return NULL;
}

/* Path and query from rest (starting at '/', '?' or the end). 0 or -1. */
static int
parse_path(struct url *u, const char *rest)
{
	const char *q = strchr(rest, '?');
	size_t plen = q ? (size_t)(q - rest) : strlen(rest);
	size_t tlen = strlen(URL_TUNNEL_PATH), i;
	int n;

	for (i = 0; rest[i] != '\0'; i++) {
		if (rest[i] == '#')
			return u->err = "fragments (#) are not allowed", -1;
		if ((unsigned char)rest[i] < 0x21 || (unsigned char)rest[i] > 0x7e)
			return u->err = "invalid character in path", -1;
	}
	if (plen <= 1) /* "", "/", "?q", "/?q": the default path */
		n = snprintf(u->path, sizeof(u->path), "%s%s", URL_TUNNEL_PATH, q ? q : "");
	else
		n = snprintf(u->path, sizeof(u->path), "%s", rest);
	if (n < 0 || (size_t)n >= sizeof(u->path))
		return u->err = "path too long", -1;
	if (plen > tlen && memcmp(rest + plen - tlen, URL_TUNNEL_PATH, tlen) == 0)
		u->prefix_len = plen - tlen;
	return 0;
}

/* see url.h */
int
url_parse(struct url *u, const char *s)
{
	const char *rest, *port;
	size_t alen, port_len;

	memset(u, 0, sizeof(*u));
	if (s == NULL || *s == '\0')
		return u->err = "empty URL", -1;
	if ((rest = parse_scheme(u, s)) == NULL)
		return -1;
	u->tls = u->scheme == URL_WSS || u->scheme == URL_HTTPS;
	alen = strcspn(rest, "/?#");
	if (memchr(rest, '@', alen) != NULL)
		return u->err = "user info in URLs is not supported (use --token)", -1;
	if (split_host_port(rest, alen, u->host, &u->host_v6, &port, &port_len, &u->err) < 0)
		return -1;
	u->port = u->tls ? 443 : 80;
	if (port != NULL) {
		if (parse_portn(port, port_len, 0, &u->port) < 0)
			return u->err = "port must be 1..65535", -1;
		u->port_given = true;
	}
	return parse_path(u, rest + alen);
}

/* see url.h */
int
url_authority(const struct url *u, int omit_default, char *out, size_t cap)
{
	int dflt = u->port == (u->tls ? 443 : 80);
	const char *l = u->host_v6 ? "[" : "", *r = u->host_v6 ? "]" : "";
	int n;

	if (omit_default && dflt)
		n = snprintf(out, cap, "%s%s%s", l, u->host, r);
	else
		n = snprintf(out, cap, "%s%s%s:%u", l, u->host, r, (unsigned)u->port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}

/* see url.h */
int
url_admin_target(const struct url *u, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%.*s%s%s", (int)u->prefix_len, u->path, URL_ADMIN_PREFIX, name);

	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}

/* "[HOST:]PORT" into l; PORT 0 only with allow_zero. 0 or -1 with *err. */
static int
parse_local(struct url_local *l, const char *spec, int allow_zero, const char **err)
{
	const char *port, *range = allow_zero ? "port must be 0..65535" : "port must be 1..65535";
	size_t n, port_len;

	memset(l, 0, sizeof(*l));
	if (spec == NULL || *spec == '\0')
		return *err = "empty address", -1;
	n = strlen(spec);
	if (strchr(spec, ':') == NULL) { /* PORT alone */
		if (spec[strspn(spec, "0123456789")] != '\0')
			return *err = "expected PORT or HOST:PORT", -1;
		if (url_parse_port(spec, allow_zero, &l->port) < 0)
			return *err = range, -1;
		memcpy(l->host, URL_LOCAL_HOST_DEFAULT, sizeof(URL_LOCAL_HOST_DEFAULT));
		return 0;
	}
	if (split_host_port(spec, n, l->host, &l->host_v6, &port, &port_len, err) < 0)
		return -1;
	if (port == NULL)
		return *err = "missing port", -1;
	if (parse_portn(port, port_len, allow_zero, &l->port) < 0)
		return *err = range, -1;
	l->host_given = true;
	return 0;
}

/* see url.h */
int
url_parse_local(struct url_local *l, const char *spec, const char **err)
{
	const char *dummy;

	return parse_local(l, spec, 0, err ? err : &dummy);
}

/* see url.h */
int
url_parse_listen(struct url_local *l, const char *spec, const char **err)
{
	const char *dummy;

	return parse_local(l, spec, 1, err ? err : &dummy);
}

/* The last c in s[0..n), or NULL. */
static const char *
last_of(const char *s, size_t n, char c)
{
	while (n > 0)
		if (s[--n] == c)
			return s + n;
	return NULL;
}

/* Where the target "RHOST:RPORT" of "[LHOST:]LPORT:RHOST:RPORT" starts in s[0..n), or NULL. */
static const char *
forward_target(const char *s, size_t n)
{
	const char *colon = last_of(s, n, ':'), *start;

	if (colon == NULL || colon == s)
		return NULL;
	if (colon[-1] == ']') {
		return last_of(s, (size_t)(colon - s), '[');
	}
	start = last_of(s, (size_t)(colon - s), ':');
	return start != NULL ? start + 1 : NULL;
}

/* see url.h */
int
url_parse_forward(struct url_forward *f, const char *spec, const char **err)
{
	const char *dummy, *target, *port;
	char listen[URL_HOST_MAX + 16];
	size_t n, port_len, lead;

	if (err == NULL)
		err = &dummy;
	memset(f, 0, sizeof(*f));
	if (spec == NULL || *spec == '\0')
		return *err = "empty forward", -1;
	n = strlen(spec);
	target = forward_target(spec, n);
	if (target == NULL || target == spec || target[-1] != ':')
		return *err = "expected [LHOST:]LPORT:RHOST:RPORT", -1;
	lead = (size_t)(target - spec) - 1;
	if (lead >= sizeof(listen))
		return *err = "local address too long", -1;
	memcpy(listen, spec, lead);
	listen[lead] = '\0';
	if (parse_local(&f->listen, listen, 1, err) < 0)
		return -1;
	if (split_host_port(target, n - (size_t)(target - spec), f->host, &f->host_v6, &port, &port_len,
			    err) < 0)
		return -1;
	if (port == NULL || parse_portn(port, port_len, 0, &f->port) < 0)
		return *err = "remote port must be 1..65535", -1;
	return 0;
}

/* see url.h */
int
url_forward_format(const struct url_forward *f, char *out, size_t cap)
{
	int n;

	if (f->host_v6)
		n = snprintf(out, cap, "[%s]:%u", f->host, (unsigned)f->port);
	else
		n = snprintf(out, cap, "%s:%u", f->host, (unsigned)f->port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}

/* see url.h */
int
url_parse_map(struct url_map *m, const char *spec, const char **err)
{
	const char *dummy;
	size_t digits;

	if (err == NULL)
		err = &dummy;
	memset(m, 0, sizeof(*m));
	if (spec == NULL)
		return *err = "empty address", -1;
	digits = strspn(spec, "0123456789");
	if (spec[digits] == ':') { /* "C:LOCAL" */
		if (parse_portn(spec, digits, 1, &m->container_port) < 0)
			return *err = "container port must be 0..65535", -1;
		m->container_given = true;
		return url_parse_local(&m->local, spec + digits + 1, err);
	}
	if (url_parse_local(&m->local, spec, err) < 0)
		return -1;
	m->container_port = m->local.port;
	return 0;
}

/* see url.h */
int
url_parse_subdomain(char out[URL_SUBDOMAIN_MAX], const char *s, const char **err)
{
	const char *dummy;
	size_t i, n = s ? strlen(s) : 0;

	if (err == NULL)
		err = &dummy;
	out[0] = '\0';
	if (n == 0)
		return *err = "empty subdomain", -1;
	if (strcmp(s, "@") == 0) {
		memcpy(out, "@", 2);
		return 0;
	}
	if (n >= URL_SUBDOMAIN_MAX)
		return *err = "subdomain longer than 63 characters", -1;
	if (s[0] == '-' || s[n - 1] == '-')
		return *err = "subdomain must not start or end with '-'", -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			out[0] = '\0';
			return *err = "subdomain may hold only a-z, 0-9 and '-' (or be @)", -1;
		}
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

/* see url.h */
int
url_parse_route(struct url_route *r, const char *spec, const char **err)
{
	const char *dummy, *eq;
	char name[URL_SUBDOMAIN_MAX];
	size_t n;

	if (err == NULL)
		err = &dummy;
	memset(r, 0, sizeof(*r));
	if (spec == NULL)
		return *err = "empty address", -1;
	eq = strchr(spec, '=');
	if (eq != NULL) {
		n = (size_t)(eq - spec);
		if (n >= sizeof(name))
			return *err = "subdomain longer than 63 characters", -1;
		memcpy(name, spec, n);
		name[n] = '\0';
		if (url_parse_subdomain(r->subdomain, name, err) < 0)
			return -1;
		spec = eq + 1;
	}
	return url_parse_local(&r->local, spec, err);
}

/* see url.h */
int
url_local_format(const struct url_local *l, char *out, size_t cap)
{
	int n;

	if (l->host_v6)
		n = snprintf(out, cap, "[%s]:%u", l->host, (unsigned)l->port);
	else
		n = snprintf(out, cap, "%s:%u", l->host, (unsigned)l->port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}
