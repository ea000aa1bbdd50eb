/*
 * socks.c: the SOCKS5 and SOCKS4/4a server codec (see socks.h).
 *
 * Every fixed-size field (a version byte, the methods, the request head,
 * an address, a port) is gathered into p->acc until it is complete and
 * then checked at once by field_done(), so a split anywhere in the input
 * gives the same result as the whole. The NUL-terminated fields of SOCKS4
 * are scanned by nul_field() instead, with their length bounded. This
 * file does no I/O.
 */
#include "socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define V4_HEAD_LEN 7 /* CD, DSTPORT, DSTIP */

/* Gather need bytes for state next. */
static void
expect(struct socks_parser *p, enum socks_state next, uint8_t need)
{
	p->state = next;
	p->have = 0;
	p->need = need;
}

static uint16_t
be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* The parser failed with code; answer: write the reply for it (else just close). */
static void
fail(struct socks_parser *p, struct socks_event *ev, enum socks_reply code, int answer)
{
	p->state = SOCKS_ST_FAILED;
	p->code = code;
	ev->type = SOCKS_EV_ERROR;
	ev->code = code;
	ev->reply_len = answer ? socks_reply(ev->reply, p->version, code, NULL) : 0;
}

static void
request_done(struct socks_parser *p, struct socks_event *ev)
{
	p->state = SOCKS_ST_DONE;
	ev->type = SOCKS_EV_REQUEST;
	ev->target = &p->target;
}

static void
greeting_done(struct socks_parser *p, struct socks_event *ev)
{
	uint8_t method = p->no_auth ? SOCKS_METHOD_NO_AUTH : SOCKS_METHOD_NONE_ACCEPTABLE;

	ev->type = SOCKS_EV_GREETING;
	ev->method = method;
	ev->reply[0] = SOCKS_VERSION_5;
	ev->reply[1] = method;
	ev->reply_len = 2;
	if (p->no_auth) {
		expect(p, SOCKS_ST_REQUEST, 4);
	} else {
		p->state = SOCKS_ST_FAILED;
		p->code = SOCKS_REPLY_GENERAL_FAILURE;
	}
}

static void
on_version(struct socks_parser *p, struct socks_event *ev)
{
	switch (p->acc[0]) {
	case SOCKS_VERSION_5:
		p->version = SOCKS_VERSION_5;
		expect(p, SOCKS_ST_NMETHODS, 1);
		break;
	case SOCKS_VERSION_4:
		p->version = SOCKS_VERSION_4;
		expect(p, SOCKS_ST_V4_HEAD, V4_HEAD_LEN);
		break;
	default: fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 0);
	}
}

static void
on_nmethods(struct socks_parser *p, struct socks_event *ev)
{
	p->no_auth = 0;
	if (p->acc[0] == 0)
		greeting_done(p, ev);
	else
		expect(p, SOCKS_ST_METHODS, p->acc[0]);
}

static void
on_methods(struct socks_parser *p, struct socks_event *ev)
{
	p->no_auth = memchr(p->acc, SOCKS_METHOD_NO_AUTH, p->need) != NULL;
	greeting_done(p, ev);
}

static void on_atyp(struct socks_parser *p, struct socks_event *ev);

/* VER CMD RSV ATYP */
static void
on_request(struct socks_parser *p, struct socks_event *ev)
{
	if (p->acc[0] != SOCKS_VERSION_5)
		fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 0);
	else if (p->acc[1] != SOCKS_CMD_CONNECT)
		fail(p, ev, SOCKS_REPLY_COMMAND_NOT_SUPPORTED, 1);
	else if (p->acc[2] != 0)
		fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 1);
	else
		on_atyp(p, ev);
}

static void
on_atyp(struct socks_parser *p, struct socks_event *ev)
{
	switch (p->acc[3]) {
	case SOCKS_ATYP_IPV4:
		p->target.atyp = SOCKS_ATYP_IPV4;
		expect(p, SOCKS_ST_ADDR, 4);
		break;
	case SOCKS_ATYP_IPV6:
		p->target.atyp = SOCKS_ATYP_IPV6;
		expect(p, SOCKS_ST_ADDR, 16);
		break;
	case SOCKS_ATYP_DOMAIN:
		p->target.atyp = SOCKS_ATYP_DOMAIN;
		expect(p, SOCKS_ST_DOMAIN_LEN, 1);
		break;
	default: fail(p, ev, SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED, 1);
	}
}

static void
on_domain_len(struct socks_parser *p, struct socks_event *ev)
{
	if (p->acc[0] == 0)
		fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 1);
	else
		expect(p, SOCKS_ST_ADDR, p->acc[0]);
}

static void
on_addr(struct socks_parser *p, struct socks_event *ev)
{
	struct socks_target *t = &p->target;

	if (t->atyp == SOCKS_ATYP_DOMAIN) {
		if (memchr(p->acc, '\0', p->need) != NULL) {
			fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 1);
			return;
		}
		memcpy(t->host, p->acc, p->need);
		t->host[p->need] = '\0';
	} else {
		inet_ntop(t->atyp == SOCKS_ATYP_IPV4 ? AF_INET : AF_INET6, p->acc, t->host, sizeof(t->host));
	}
	expect(p, SOCKS_ST_PORT, 2);
}

static void
on_port(struct socks_parser *p, struct socks_event *ev)
{
	p->target.port = be16(p->acc);
	request_done(p, ev);
}

/* CD DSTPORT DSTIP */
static void
on_v4_head(struct socks_parser *p, struct socks_event *ev)
{
	const uint8_t *ip = p->acc + 3;

	if (p->acc[0] != SOCKS_CMD_CONNECT) {
		fail(p, ev, SOCKS_REPLY_COMMAND_NOT_SUPPORTED, 1);
		return;
	}
	p->target.port = be16(p->acc + 1);
	if (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0) {
		p->target.atyp = SOCKS_ATYP_DOMAIN; /* SOCKS4a: the name follows USERID */
	} else {
		p->target.atyp = SOCKS_ATYP_IPV4;
		inet_ntop(AF_INET, ip, p->target.host, sizeof(p->target.host));
	}
	p->state = SOCKS_ST_V4_USERID;
	p->len = 0;
}

/* A fixed-size field is complete in p->acc: check it and move on. */
static void
field_done(struct socks_parser *p, struct socks_event *ev)
{
	switch (p->state) {
	case SOCKS_ST_VERSION: on_version(p, ev); break;
	case SOCKS_ST_NMETHODS: on_nmethods(p, ev); break;
	case SOCKS_ST_METHODS: on_methods(p, ev); break;
	case SOCKS_ST_REQUEST: on_request(p, ev); break;
	case SOCKS_ST_DOMAIN_LEN: on_domain_len(p, ev); break;
	case SOCKS_ST_ADDR: on_addr(p, ev); break;
	case SOCKS_ST_PORT: on_port(p, ev); break;
	case SOCKS_ST_V4_HEAD: on_v4_head(p, ev); break;
	default: fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 0); break;
	}
}

/* USERID or the SOCKS4a domain ended with its NUL. */
static void
nul_field_done(struct socks_parser *p, struct socks_event *ev)
{
	if (p->state == SOCKS_ST_V4_USERID && p->target.atyp == SOCKS_ATYP_DOMAIN) {
		p->state = SOCKS_ST_V4_DOMAIN;
		p->len = 0;
		return;
	}
	if (p->state == SOCKS_ST_V4_DOMAIN) {
		if (p->len == 0) {
			fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 1);
			return;
		}
		p->target.host[p->len] = '\0';
	}
	request_done(p, ev);
}

/* Scan a NUL-terminated field of at most SOCKS_NAME_MAX bytes; returns the bytes used. */
static size_t
nul_field(struct socks_parser *p, const uint8_t *in, size_t n, struct socks_event *ev)
{
	const uint8_t *nul = memchr(in, '\0', n);
	size_t take = nul ? (size_t)(nul - in) : n;

	if (take > (size_t)SOCKS_NAME_MAX - p->len) {
		fail(p, ev, SOCKS_REPLY_GENERAL_FAILURE, 1);
		return n;
	}
	if (p->state == SOCKS_ST_V4_DOMAIN)
		memcpy(p->target.host + p->len, in, take);
	p->len = (uint16_t)(p->len + take);
	if (!nul)
		return n;
	nul_field_done(p, ev);
	return take + 1;
}

/* Take bytes for the current field; returns the bytes used (> 0 when n > 0). */
static size_t
step(struct socks_parser *p, const uint8_t *in, size_t n, struct socks_event *ev)
{
	size_t take;

	if (p->state == SOCKS_ST_V4_USERID || p->state == SOCKS_ST_V4_DOMAIN)
		return nul_field(p, in, n, ev);
	take = UTIL_MIN((size_t)(p->need - p->have), n);
	memcpy(p->acc + p->have, in, take);
	p->have = (uint8_t)(p->have + take);
	if (p->have == p->need)
		field_done(p, ev);
	return take;
}

/* see socks.h */
void
socks_parser_init(struct socks_parser *p)
{
	memset(p, 0, sizeof(*p));
	expect(p, SOCKS_ST_VERSION, 1);
}

/* see socks.h */
ssize_t
socks_parse(struct socks_parser *p, const uint8_t *in, size_t n, struct socks_event *ev)
{
	size_t used = 0;

	memset(ev, 0, sizeof(*ev));
	if (p->state == SOCKS_ST_DONE) {
		request_done(p, ev);
	} else if (p->state == SOCKS_ST_FAILED) {
		ev->type = SOCKS_EV_ERROR;
		ev->code = p->code;
	}
	while (ev->type == SOCKS_EV_NONE && used < n)
		used += step(p, in + used, n - used, ev);
	ev->version = p->version;
	return ev->type == SOCKS_EV_ERROR ? HT_ERROR : (ssize_t)used;
}

/* BND.ADDR and BND.PORT of a SOCKS5 reply at out; returns the bytes written. */
static size_t
put_bound(uint8_t *out, const struct sockaddr *bound)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (bound != NULL && bound->sa_family == AF_INET6) {
		memcpy(&sin6, bound, sizeof(sin6));
		out[0] = SOCKS_ATYP_IPV6;
		memcpy(out + 1, &sin6.sin6_addr, 16);
		memcpy(out + 17, &sin6.sin6_port, 2); /* both in network order */
		return 19;
	}
	memset(&sin, 0, sizeof(sin));
	if (bound != NULL && bound->sa_family == AF_INET)
		memcpy(&sin, bound, sizeof(sin));
	out[0] = SOCKS_ATYP_IPV4;
	memcpy(out + 1, &sin.sin_addr, 4);
	memcpy(out + 5, &sin.sin_port, 2);
	return 7;
}

static size_t
reply_v4(uint8_t *out, enum socks_reply code, const struct sockaddr *bound)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	if (bound != NULL && bound->sa_family == AF_INET)
		memcpy(&sin, bound, sizeof(sin));
	out[0] = 0;
	out[1] = code == SOCKS_REPLY_SUCCEEDED ? SOCKS4_REPLY_GRANTED : SOCKS4_REPLY_REJECTED;
	memcpy(out + 2, &sin.sin_port, 2);
	memcpy(out + 4, &sin.sin_addr, 4);
	return SOCKS4_REPLY_LEN;
}

/* see socks.h */
size_t
socks_reply(uint8_t out[SOCKS_REPLY_MAX], int version, enum socks_reply code, const struct sockaddr *bound)
{
	if (version == SOCKS_VERSION_4)
		return reply_v4(out, code, bound);
	if (version != SOCKS_VERSION_5)
		return 0;
	out[0] = SOCKS_VERSION_5;
	out[1] = (uint8_t)code;
	out[2] = 0;
	return 3 + put_bound(out + 3, bound);
}

/* see socks.h */
enum socks_reply
socks_reply_for(const char *daemon_code)
{
	static const struct {
		const char *name;
		enum socks_reply code;
	} table[] = {
		{ "NOT_ALLOWED", SOCKS_REPLY_NOT_ALLOWED },
		{ "DISABLED", SOCKS_REPLY_NOT_ALLOWED },
		{ "NETWORK_UNREACHABLE", SOCKS_REPLY_NETWORK_UNREACHABLE },
		{ "HOST_UNREACHABLE", SOCKS_REPLY_HOST_UNREACHABLE },
		{ "NAME_NOT_FOUND", SOCKS_REPLY_HOST_UNREACHABLE },
		{ "CONNECTION_REFUSED", SOCKS_REPLY_CONNECTION_REFUSED },
		{ "TIMEOUT", SOCKS_REPLY_TTL_EXPIRED },
	};
	size_t i;

	for (i = 0; daemon_code != NULL && i < UTIL_ARRAY_SIZE(table); i++)
		if (strcmp(daemon_code, table[i].name) == 0)
			return table[i].code;
	return SOCKS_REPLY_GENERAL_FAILURE;
}
