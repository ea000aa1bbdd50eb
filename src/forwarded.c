/*
 * forwarded.c: trusted proxies and X-Forwarded-* values (see forwarded.h).
 */
#include "forwarded.h"

#include <string.h>

#include "util.h"

static const char *const loopback[] = { "127.0.0.0/8", "::1/128" };
static const char *const private_nets[] = { "10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
					    "169.254.0.0/16", "fc00::/7",      "fe80::/10" };

static int
add_list(struct forwarded *f, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (forwarded_add(f, list[i]) < 0)
			return -1;
	return 0;
}

/* see forwarded.h */
int
forwarded_add(struct forwarded *f, const char *spec)
{
	if (strcmp(spec, "loopback") == 0)
		return add_list(f, loopback, UTIL_ARRAY_SIZE(loopback));
	if (strcmp(spec, "private") == 0)
		return add_list(f, private_nets, UTIL_ARRAY_SIZE(private_nets));
	if (f->n == FORWARDED_MAX_CIDRS || net_cidr_parse(spec, &f->cidrs[f->n]) < 0)
		return -1;
	f->n++;
	return 0;
}

/* see forwarded.h */
int
forwarded_trusted(const struct forwarded *f, const struct sockaddr *peer)
{
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (net_cidr_match(&f->cidrs[i], peer))
			return 1;
	return 0;
}

/* see forwarded.h */
int
forwarded_loopback(const struct sockaddr *sa)
{
	struct net_cidr c;
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(loopback); i++)
		if (net_cidr_parse(loopback[i], &c) == 0 && net_cidr_match(&c, sa))
			return 1;
	return 0;
}

/* see forwarded.h */
int
forwarded_local(const struct forwarded *f, const struct sockaddr *peer, const struct http1_header *hdrs,
		size_t n)
{
	static const char *const relayed[] = { "X-Forwarded-For", "X-Real-IP", "Forwarded" };
	size_t i, k;

	if (!forwarded_loopback(peer) || forwarded_trusted(f, peer))
		return 0;
	for (i = 0; i < n; i++)
		for (k = 0; k < UTIL_ARRAY_SIZE(relayed); k++)
			if (util_strcaseeq(hdrs[i].name, hdrs[i].name_len, relayed[k]))
				return 0;
	return 1;
}

/* see forwarded.h */
int
forwarded_is_managed(const char *name, size_t len)
{
	return util_strcaseeq(name, len, "X-Forwarded-For") ||
	       util_strcaseeq(name, len, "X-Forwarded-Proto") ||
	       util_strcaseeq(name, len, "X-Forwarded-Host") || util_strcaseeq(name, len, "X-Real-IP");
}

/* Join every value of header `name` with ", " into out. 1 when any was found. */
static int
joined(const struct http1_header *h, size_t n, const char *name, char *out, size_t cap)
{
	size_t i, o = 0;
	int found = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!util_strcaseeq(h[i].name, h[i].name_len, name))
			continue;
		if (found)
			o = util_catn(out, cap, o, ", ", 2);
		o = util_catn(out, cap, o, h[i].value, h[i].value_len);
		found = 1;
		if (o >= cap)
			return 1;
	}
	return found;
}

static void
first_value(const struct http1_header *h, size_t n, const char *name, char *out, size_t cap)
{
	const struct http1_header *f = http1_find_header(h, n, name);

	out[0] = '\0';
	if (f != NULL)
		util_catn(out, cap, 0, f->value, f->value_len);
}

/* out = the C string s, cut to cap */
static void
set_str(char *out, size_t cap, const char *s)
{
	util_catn(out, cap, 0, s, strlen(s));
}

/* see forwarded.h */
void
forwarded_values(int trusted, const char *ip, const struct http1_header *hdrs, size_t n,
		 struct forwarded_values *out)
{
	char prev[sizeof(out->xff)];

	first_value(hdrs, n, "Host", out->host, sizeof(out->host));
	set_str(out->proto, sizeof(out->proto), "http");
	set_str(out->real_ip, sizeof(out->real_ip), ip);
	set_str(out->xff, sizeof(out->xff), ip);
	if (!trusted)
		return;
	if (joined(hdrs, n, "X-Forwarded-For", prev, sizeof(prev))) {
		size_t o = util_catn(out->xff, sizeof(out->xff), 0, prev, strlen(prev));

		o = util_catn(out->xff, sizeof(out->xff), o, ", ", 2);
		util_catn(out->xff, sizeof(out->xff), o, ip, strlen(ip));
	}
	if (http1_find_header(hdrs, n, "X-Forwarded-Proto"))
		first_value(hdrs, n, "X-Forwarded-Proto", out->proto, sizeof(out->proto));
	if (http1_find_header(hdrs, n, "X-Forwarded-Host"))
		first_value(hdrs, n, "X-Forwarded-Host", out->host, sizeof(out->host));
	if (http1_find_header(hdrs, n, "X-Real-IP"))
		first_value(hdrs, n, "X-Real-IP", out->real_ip, sizeof(out->real_ip));
}
