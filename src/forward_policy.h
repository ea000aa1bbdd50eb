/*
 * forward_policy.h: which container addresses a tunnel client's forwarded
 * connections may reach (--forward-allow).
 *
 * A policy is a list of rules; a connection is allowed when one rule
 * matches the address it actually connects to (after name resolution) and
 * that address's port. A rule is one of
 *   loopback        127.0.0.0/8 and ::1
 *   private         10/8, 172.16/12, 192.168/16, fc00::/7, fe80::/10
 *                   (not 100.64/10, not 169.254/16)
 *   any             every IPv4 and IPv6 address
 *   IP | CIDR       "10.1.2.3", "10.0.0.0/8", "fd00::/8", "::1"
 * each optionally followed by ":PORT" or ":LOW-HIGH" (ports 1..65535,
 * LOW <= HIGH; an IPv6 address or CIDR is then in brackets: "[::1]:5432",
 * "[fd00::/8]:1-1024"). Without a port a rule covers 1..65535. The single
 * rule "none" turns forwarding off and may not be combined with another.
 * Keywords are case-insensitive. A policy with no rule is the default,
 * "loopback". An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as
 * the IPv4 address it carries.
 *
 * Plain data: a zeroed struct is the default policy; nothing is allocated.
 */
#ifndef HT_FORWARD_POLICY_H
#define HT_FORWARD_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net.h"

/* Rules one policy holds (over every list given). */
#define FORWARD_POLICY_MAX_RULES 64
/* A buffer of this size holds any forward_policy_describe() text. */
#define FORWARD_POLICY_TEXT_MAX (FORWARD_POLICY_MAX_RULES * 72)

enum forward_policy_kind {
	FORWARD_POLICY_CIDR = 0, /* the rule's cidr */
	FORWARD_POLICY_LOOPBACK, /* the loopback ranges */
	FORWARD_POLICY_PRIVATE,  /* the private and link-local ranges */
	FORWARD_POLICY_ANY,      /* every IPv4 and IPv6 address */
	FORWARD_POLICY_KIND_MAX
};

struct forward_policy_rule {
	enum forward_policy_kind kind;
	struct net_cidr cidr;      /* FORWARD_POLICY_CIDR only */
	uint16_t port_lo, port_hi; /* 1..65535 when no port was given */
};

struct forward_policy {
	struct forward_policy_rule rules[FORWARD_POLICY_MAX_RULES];
	unsigned n; /* rules in use; 0 with off 0: the default (loopback) */
	int off;    /* "none" was given: nothing is allowed */
};

/*
 * Append the rules of list (comma-separated items, spaces around an item
 * ignored) to p. 0, or -1 with p unchanged and a one-line message in err
 * (may be NULL) that quotes the bad item, e.g.
 * "'10.0.0.0/33': prefix length must be 0..32"; the caller puts the flag's
 * name in front. Errors: an empty list or item, an item that is no rule,
 * a port outside 1..65535 or LOW > HIGH, "none" with any other rule (in
 * this list or an earlier one), more than FORWARD_POLICY_MAX_RULES rules.
 */
int forward_policy_parse(struct forward_policy *p, const char *list, char *err, size_t errlen);

/* 1 when a connection to sa (AF_INET or AF_INET6, with its port) is
 * allowed, else 0 (always 0 for other families and for port 0). */
int forward_policy_allows(const struct forward_policy *p, const struct sockaddr *sa);

/* 1 when the policy is "none" (forwarding off), else 0. */
int forward_policy_off(const struct forward_policy *p);

/*
 * The rules as normalized text into out (NUL-terminated, cut to cap - 1
 * bytes; FORWARD_POLICY_TEXT_MAX always fits): items joined by ", ",
 * keywords in lower case, CIDRs with host bits cleared, an address without
 * "/32" or "/128", a port or range only when not 1..65535, e.g.
 * "loopback, 10.0.0.0/8:80-443, [fd00::/8]:22". "loopback" for the
 * default, "none" when off.
 */
void forward_policy_describe(const struct forward_policy *p, char *out, size_t cap);

#endif
