/*
 * fuzz_socks.c: libFuzzer target for htc's SOCKS server codec (htc/socks.h).
 *
 * Input layout:
 *   byte 0     bits 0-3: number of cut points k
 *   2k bytes   cut points, u16 big-endian, taken modulo the stream length
 *   the rest   what a client sends
 *
 * The stream is fed cut at those points, each piece copied into its own
 * malloc'd buffer of exactly its size (freed right after), the way a
 * connection would: on after a greeting, stop at a request or an error.
 * The result is compared with a straightforward whole-stream parser
 * written here from RFC 1928 and the SOCKS4/4a documents: same greeting,
 * same outcome, same target, same error code and reply, and the same
 * number of bytes consumed (what follows a request is the caller's).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "htc/socks.h"
#include "util.h"

#define CHECK(c)                                                                                             \
	do {                                                                                                 \
		if (!(c))                                                                                    \
			abort();                                                                             \
	} while (0)

enum outcome { OUT_MORE, OUT_REQUEST, OUT_ERROR, OUT_REFUSED };

struct result {
	enum outcome out;
	int version;
	int method; /* -1: no greeting */
	enum socks_reply code;
	int answered; /* ERROR: a reply is written */
	struct socks_target t;
	size_t used; /* REQUEST: bytes of the stream that were the parser's */
};

/* ---- reference parser --------------------------------------------------- */

static enum outcome
ref_error(struct result *r, enum socks_reply code, int answered)
{
	r->code = code;
	r->answered = answered;
	return OUT_ERROR;
}

static enum outcome
ref_request(struct result *r, size_t used)
{
	r->used = used;
	return OUT_REQUEST;
}

/* A NUL-terminated field at s[o..n) of at most 255 bytes: its length, -1 more input, -2 too long. */
static long
ref_nul_field(const uint8_t *s, size_t n, size_t o)
{
	size_t i;

	for (i = 0; o + i < n && i <= SOCKS_NAME_MAX; i++)
		if (s[o + i] == 0)
			return (long)i;
	return i > SOCKS_NAME_MAX ? -2 : -1;
}

static enum outcome
ref_v5_addr(struct result *r, const uint8_t *s, size_t n, size_t o)
{
	size_t a = o + 4, alen;

	switch (s[o + 3]) {
	case SOCKS_ATYP_IPV4: alen = 4; break;
	case SOCKS_ATYP_IPV6: alen = 16; break;
	case SOCKS_ATYP_DOMAIN:
		if (n < o + 5)
			return OUT_MORE;
		alen = s[o + 4];
		a = o + 5;
		if (alen == 0)
			return ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 1);
		break;
	default: return ref_error(r, SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED, 1);
	}
	r->t.atyp = (enum socks_atyp)s[o + 3];
	if (n < a + alen)
		return OUT_MORE;
	if (r->t.atyp == SOCKS_ATYP_DOMAIN) {
		if (memchr(s + a, 0, alen) != NULL)
			return ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 1);
		memcpy(r->t.host, s + a, alen);
		r->t.host[alen] = '\0';
	} else {
		inet_ntop(alen == 4 ? AF_INET : AF_INET6, s + a, r->t.host, sizeof(r->t.host));
	}
	if (n < a + alen + 2)
		return OUT_MORE;
	r->t.port = (uint16_t)(s[a + alen] << 8 | s[a + alen + 1]);
	return ref_request(r, a + alen + 2);
}

static enum outcome
ref_v5(struct result *r, const uint8_t *s, size_t n)
{
	size_t o;

	if (n < 2 || n < 2 + (size_t)s[1])
		return OUT_MORE;
	r->method = memchr(s + 2, 0, s[1]) ? SOCKS_METHOD_NO_AUTH : SOCKS_METHOD_NONE_ACCEPTABLE;
	if (r->method != SOCKS_METHOD_NO_AUTH)
		return OUT_REFUSED;
	o = 2 + (size_t)s[1];
	if (n < o + 4)
		return OUT_MORE;
	if (s[o] != 5)
		return ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 0);
	if (s[o + 1] != SOCKS_CMD_CONNECT)
		return ref_error(r, SOCKS_REPLY_COMMAND_NOT_SUPPORTED, 1);
	if (s[o + 2] != 0)
		return ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 1);
	return ref_v5_addr(r, s, n, o);
}

static enum outcome
ref_v4(struct result *r, const uint8_t *s, size_t n)
{
	long u, d;
	int v4a;

	if (n < 8)
		return OUT_MORE;
	if (s[1] != SOCKS_CMD_CONNECT)
		return ref_error(r, SOCKS_REPLY_COMMAND_NOT_SUPPORTED, 1);
	r->t.port = (uint16_t)(s[2] << 8 | s[3]);
	v4a = s[4] == 0 && s[5] == 0 && s[6] == 0 && s[7] != 0;
	r->t.atyp = v4a ? SOCKS_ATYP_DOMAIN : SOCKS_ATYP_IPV4;
	if (!v4a)
		inet_ntop(AF_INET, s + 4, r->t.host, sizeof(r->t.host));
	u = ref_nul_field(s, n, 8);
	if (u < 0)
		return u == -1 ? OUT_MORE : ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 1);
	if (!v4a)
		return ref_request(r, 8 + (size_t)u + 1);
	d = ref_nul_field(s, n, 8 + (size_t)u + 1);
	if (d == -1)
		return OUT_MORE;
	if (d == -2 || d == 0)
		return ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 1);
	memcpy(r->t.host, s + 8 + u + 1, (size_t)d);
	r->t.host[d] = '\0';
	return ref_request(r, 8 + (size_t)u + 1 + (size_t)d + 1);
}

static void
ref_parse(struct result *r, const uint8_t *s, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->method = -1;
	if (n == 0) {
		r->out = OUT_MORE;
		return;
	}
	r->version = s[0] == 4 || s[0] == 5 ? s[0] : 0;
	if (s[0] == 5)
		r->out = ref_v5(r, s, n);
	else if (s[0] == 4)
		r->out = ref_v4(r, s, n);
	else
		r->out = ref_error(r, SOCKS_REPLY_GENERAL_FAILURE, 0);
}

/* ---- the codec under test ------------------------------------------------- */

struct run {
	struct socks_parser p;
	struct result r;
	size_t used; /* bytes consumed so far */
};

/* The parser is done with the stream: it stays so and consumes nothing. */
static void
check_end(struct run *u, const uint8_t *in, size_t n)
{
	struct socks_event ev;
	ssize_t k = socks_parse(&u->p, in, n, &ev);

	if (u->r.out == OUT_REQUEST) {
		CHECK(k == 0 && ev.type == SOCKS_EV_REQUEST && ev.target == &u->p.target);
		return;
	}
	CHECK(k == HT_ERROR && ev.type == SOCKS_EV_ERROR && ev.reply_len == 0);
}

static void
on_error(struct run *u, const struct socks_event *ev)
{
	uint8_t want[SOCKS_REPLY_MAX];
	size_t len = socks_reply(want, ev->version, ev->code, NULL);

	u->r.out = OUT_ERROR;
	u->r.code = ev->code;
	u->r.answered = ev->reply_len > 0;
	CHECK(ev->reply_len == 0 || (ev->reply_len == len && memcmp(ev->reply, want, len) == 0));
}

static void
on_event(struct run *u, const struct socks_event *ev)
{
	switch (ev->type) {
	case SOCKS_EV_GREETING:
		CHECK(u->r.method == -1 && ev->reply_len == 2 && ev->reply[0] == 5 &&
		      ev->reply[1] == ev->method);
		u->r.method = ev->method;
		if (ev->method != SOCKS_METHOD_NO_AUTH)
			u->r.out = OUT_REFUSED;
		break;
	case SOCKS_EV_REQUEST:
		CHECK(ev->target == &u->p.target && strlen(ev->target->host) < sizeof(ev->target->host));
		u->r.out = OUT_REQUEST;
		u->r.t = *ev->target;
		u->r.used = u->used;
		break;
	default: CHECK(0);
	}
}

static void
feed(struct run *u, const uint8_t *src, size_t n)
{
	uint8_t *in = malloc(n ? n : 1);
	size_t off = 0;
	struct socks_event ev;
	ssize_t k;

	CHECK(in != NULL);
	memcpy(in, src, n);
	while (u->r.out == OUT_MORE) {
		k = socks_parse(&u->p, in + off, n - off, &ev);
		u->r.version = ev.version;
		if (k == HT_ERROR) {
			CHECK(ev.type == SOCKS_EV_ERROR);
			on_error(u, &ev);
			break;
		}
		CHECK(k >= 0 && (size_t)k <= n - off);
		off += (size_t)k;
		u->used += (size_t)k;
		if (ev.type == SOCKS_EV_NONE) {
			CHECK(off == n);
			break;
		}
		CHECK(k > 0);
		on_event(u, &ev);
	}
	if (u->r.out != OUT_MORE)
		check_end(u, in + off, n - off);
	free(in);
}

static void
compare(const struct result *a, const struct result *b)
{
	CHECK(a->out == b->out && a->version == b->version && a->method == b->method);
	if (a->out == OUT_ERROR)
		CHECK(a->code == b->code && a->answered == b->answered);
	if (a->out == OUT_REQUEST) {
		CHECK(a->used == b->used && a->t.atyp == b->t.atyp && a->t.port == b->t.port);
		CHECK(strcmp(a->t.host, b->t.host) == 0);
	}
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result ref;
	struct run u;
	size_t k, i, n, at = 0, cuts[16];
	const uint8_t *s;

	if (size < 1)
		return 0;
	k = data[0] & 15;
	if (size < 1 + 2 * k)
		return 0;
	s = data + 1 + 2 * k;
	n = size - 1 - 2 * k;
	for (i = 0; i < k; i++)
		cuts[i] = ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (n + 1);
	qsort(cuts, k, sizeof(cuts[0]), cmp_size);

	ref_parse(&ref, s, n);
	memset(&u, 0, sizeof(u));
	socks_parser_init(&u.p);
	u.r.method = -1;
	for (i = 0; i < k; i++) {
		feed(&u, s + at, cuts[i] - at);
		at = cuts[i];
	}
	feed(&u, s + at, n - at);
	compare(&u.r, &ref);
	return 0;
}
