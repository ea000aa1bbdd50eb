/*
 * forward_policy.c: the --forward-allow rules (see forward_policy.h).
 *
 * Addresses and CIDRs are net_cidr's (net.h); this file adds the keywords,
 * the ports, the list and the normalized text.
 */
#include "forward_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Longest item accepted ("[ffff:...:ffff/128]:65535-65535" is 57 bytes). */
#define ITEM_MAX 96

static const struct net_cidr loopback_nets[] = {
	{ .family = AF_INET, .prefix = 8, .addr = { 127 } },
	{ .family = AF_INET6, .prefix = 128, .addr = { [15] = 1 } },
};

static const struct net_cidr private_nets[] = {
	{ .family = AF_INET, .prefix = 8, .addr = { 10 } },
	{ .family = AF_INET, .prefix = 12, .addr = { 172, 16 } },
	{ .family = AF_INET, .prefix = 16, .addr = { 192, 168 } },
	{ .family = AF_INET6, .prefix = 7, .addr = { 0xfc } },
	{ .family = AF_INET6, .prefix = 10, .addr = { 0xfe, 0x80 } },
};

static const char *const kind_names[FORWARD_POLICY_KIND_MAX] = {
	[FORWARD_POLICY_CIDR] = NULL,
	[FORWARD_POLICY_LOOPBACK] = "loopback",
	[FORWARD_POLICY_PRIVATE] = "private",
	[FORWARD_POLICY_ANY] = "any",
};

/* What parse_item() made of one item. */
enum item_kind {
	ITEM_RULE = 0, /* a rule */
	ITEM_NONE,     /* "none" */
	ITEM_BAD,      /* an error, its reason written */
};

/* Write the reason of a bad item into why; ITEM_BAD. */
__attribute__((format(printf, 3, 4))) static enum item_kind
bad(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return ITEM_BAD;
}

/* "PORT" or "LOW-HIGH" into r's range. ITEM_RULE or ITEM_BAD. */
static enum item_kind
parse_ports(const char *s, struct forward_policy_rule *r, char *why, size_t cap)
{
	const char *dash = strchr(s, '-');
	char lo_text[8];
	uint64_t lo, hi;
	size_t n = dash ? (size_t)(dash - s) : strlen(s);

	if (n >= sizeof(lo_text))
		return bad(why, cap, "bad port (expected PORT or LOW-HIGH)");
	memcpy(lo_text, s, n);
	lo_text[n] = '\0';
	if (util_parse_uint(lo_text, UINT64_MAX, &lo) < 0 ||
	    util_parse_uint(dash ? dash + 1 : lo_text, UINT64_MAX, &hi) < 0)
		return bad(why, cap, "bad port (expected PORT or LOW-HIGH)");
	if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
		return bad(why, cap, "port must be 1..65535");
	if (lo > hi)
		return bad(why, cap, "port range must have LOW <= HIGH");
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return ITEM_RULE;
}

/* The keyword `host` names, or FORWARD_POLICY_CIDR for none of them. */
static enum forward_policy_kind
keyword(const char *host)
{
	unsigned k;

	for (k = FORWARD_POLICY_LOOPBACK; k < FORWARD_POLICY_KIND_MAX; k++)
		if (util_strcaseeq(host, strlen(host), kind_names[k]))
			return (enum forward_policy_kind)k;
	return FORWARD_POLICY_CIDR;
}

/* A keyword, IP or CIDR (host, bracketed when in brackets) into r. */
static enum item_kind
parse_host(const char *host, int bracketed, struct forward_policy_rule *r, char *why, size_t cap)
{
	int rc;

	if (!bracketed && util_strcaseeq(host, strlen(host), "none"))
		return ITEM_NONE;
	r->kind = bracketed ? FORWARD_POLICY_CIDR : keyword(host);
	if (r->kind != FORWARD_POLICY_CIDR)
		return ITEM_RULE;
	rc = net_cidr_parse(host, &r->cidr);
	if (rc == -ERANGE)
		return bad(why, cap, "prefix length must be 0..%d", strchr(host, ':') ? 128 : 32);
	if (rc < 0)
		return bad(why, cap, "expected loopback, private, any, none, an IP address or a CIDR");
	if (bracketed && r->cidr.family == AF_INET && strchr(host, ':') == NULL)
		return bad(why, cap, "brackets are for IPv6 only");
	return ITEM_RULE;
}

/*
 * Split one item (NUL-terminated, writable) into host and port text: the
 * host in brackets, or before the one ':' (none when there are several:
 * an IPv6 address without a port). *port NULL when there is none.
 */
static enum item_kind
split_item(char *item, char **host, char **port, int *bracketed, char *why, size_t cap)
{
	char *colon = strchr(item, ':');

	*host = item;
	*port = NULL;
	*bracketed = item[0] == '[';
	if (*bracketed) {
		char *close = strchr(item, ']');

		if (close == NULL)
			return bad(why, cap, "missing ']'");
		if (close[1] != '\0' && close[1] != ':')
			return bad(why, cap, "expected ':' after ']'");
		*host = item + 1;
		*close = '\0';
		*port = close[1] == ':' ? close + 2 : NULL;
	} else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		*colon = '\0';
		*port = colon + 1;
	}
	if (**host == '\0')
		return bad(why, cap, "missing address");
	return ITEM_RULE;
}

/* One item into r (ITEM_RULE), or ITEM_NONE, or ITEM_BAD with why. */
static enum item_kind
parse_item(char *item, struct forward_policy_rule *r, char *why, size_t cap)
{
	char *host, *port;
	int bracketed;
	enum item_kind k;

	memset(r, 0, sizeof(*r));
	r->port_lo = 1;
	r->port_hi = 65535;
	if (split_item(item, &host, &port, &bracketed, why, cap) == ITEM_BAD)
		return ITEM_BAD;
	k = parse_host(host, bracketed, r, why, cap);
	if (k == ITEM_NONE && port != NULL)
		return bad(why, cap, "none takes no port");
	if (k != ITEM_RULE || port == NULL)
		return k;
	return parse_ports(port, r, why, cap);
}

/* Format "'item': why" into err (when given); -1. */
static int
fail_item(char *err, size_t errlen, const char *item, size_t n, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "'%.*s': %s", (int)UTIL_MIN(n, 200), item, why);
	return -1;
}

/* Add the item s[0..n) (spaces trimmed) to p. 0 or -1 with err. */
static int
add_item(struct forward_policy *p, const char *s, size_t n, char *err, size_t errlen)
{
	char item[ITEM_MAX + 1], why[128];
	enum item_kind k;

	if (n > ITEM_MAX)
		return fail_item(err, errlen, s, n, "too long");
	memcpy(item, s, n);
	item[n] = '\0';
	if (p->n == FORWARD_POLICY_MAX_RULES) {
		snprintf(why, sizeof(why), "more than %d rules", FORWARD_POLICY_MAX_RULES);
		return fail_item(err, errlen, s, n, why);
	}
	k = parse_item(item, &p->rules[p->n], why, sizeof(why));
	if (k == ITEM_BAD)
		return fail_item(err, errlen, s, n, why);
	if (k == ITEM_NONE)
		p->off = 1;
	else
		p->n++;
	if (p->off && p->n > 0)
		return fail_item(err, errlen, s, n, "none cannot be combined with other rules");
	return 0;
}

/* see forward_policy.h */
int
forward_policy_parse(struct forward_policy *p, const char *list, char *err, size_t errlen)
{
	struct forward_policy next;
	const char *cursor = list, *s;
	size_t n;

	memcpy(&next, p, sizeof(next));
	if (list == NULL || *list == '\0')
		return fail_item(err, errlen, "", 0, "empty list");
	while (util_list_next(&cursor, &s, &n)) {
		if (n == 0)
			return fail_item(err, errlen, list, strlen(list), "empty item");
		if (add_item(&next, s, n, err, errlen) < 0)
			return -1;
	}
	memcpy(p, &next, sizeof(next));
	return 0;
}

/* 1 when sa's address lies in one of nets[0..n). */
static int
in_nets(const struct net_cidr *nets, size_t n, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (net_cidr_match(&nets[i], sa))
			return 1;
	return 0;
}

static int
rule_allows(const struct forward_policy_rule *r, const struct sockaddr *sa, int port)
{
	if (port < r->port_lo || port > r->port_hi)
		return 0;
	switch (r->kind) {
	case FORWARD_POLICY_CIDR: return net_cidr_match(&r->cidr, sa);
	case FORWARD_POLICY_LOOPBACK: return in_nets(loopback_nets, UTIL_ARRAY_SIZE(loopback_nets), sa);
	case FORWARD_POLICY_PRIVATE: return in_nets(private_nets, UTIL_ARRAY_SIZE(private_nets), sa);
	case FORWARD_POLICY_ANY: return 1;
	default: return 0;
	}
}

/* see forward_policy.h */
int
forward_policy_allows(const struct forward_policy *p, const struct sockaddr *sa)
{
	static const struct forward_policy_rule dflt = { .kind = FORWARD_POLICY_LOOPBACK,
							 .port_lo = 1,
							 .port_hi = 65535 };
	int port;
	unsigned i;

	if (p->off || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	port = net_addr_port(sa);
	if (p->n == 0)
		return rule_allows(&dflt, sa, port);
	for (i = 0; i < p->n; i++)
		if (rule_allows(&p->rules[i], sa, port))
			return 1;
	return 0;
}

/* see forward_policy.h */
int
forward_policy_off(const struct forward_policy *p)
{
	return p->off;
}

/* The host part of r: keyword, "addr" or "addr/prefix". */
static void
describe_host(const struct forward_policy_rule *r, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned full = r->cidr.family == AF_INET ? 32 : 128;

	if (r->kind != FORWARD_POLICY_CIDR) {
		snprintf(out, cap, "%s", kind_names[r->kind]);
		return;
	}
	if (inet_ntop(r->cidr.family, r->cidr.addr, ip, sizeof(ip)) == NULL)
		ip[0] = '\0';
	if (r->cidr.prefix == full)
		snprintf(out, cap, "%s", ip);
	else
		snprintf(out, cap, "%s/%u", ip, r->cidr.prefix);
}

/* One rule as text into out. */
static void
describe_rule(const struct forward_policy_rule *r, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN + 8];
	int v6 = r->kind == FORWARD_POLICY_CIDR && r->cidr.family == AF_INET6;

	describe_host(r, host, sizeof(host));
	if (r->port_lo == 1 && r->port_hi == 65535)
		snprintf(out, cap, "%s", host);
	else if (r->port_lo == r->port_hi)
		snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", r->port_lo);
	else
		snprintf(out, cap, "%s%s%s:%u-%u", v6 ? "[" : "", host, v6 ? "]" : "", r->port_lo,
			 r->port_hi);
}

/* see forward_policy.h */
void
forward_policy_describe(const struct forward_policy *p, char *out, size_t cap)
{
	char one[80];
	size_t used = 0;
	unsigned i;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (p->off || p->n == 0) {
		snprintf(out, cap, "%s", p->off ? "none" : "loopback");
		return;
	}
	for (i = 0; i < p->n && used + 1 < cap; i++) {
		int k;

		describe_rule(&p->rules[i], one, sizeof(one));
		k = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", one);
		if (k < 0)
			return;
		used += UTIL_MIN((size_t)k, cap - used - 1);
	}
}
