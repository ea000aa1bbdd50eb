/*
 * test_socks.c: the SOCKS5 and SOCKS4/4a server codec (htc/socks.h).
 *
 * Every input goes through a collector that calls socks_parse() the way a
 * connection would: after a GREETING it goes on with the rest of the
 * piece, after a REQUEST it keeps the bytes that follow (payload sent
 * early) and checks that the parser consumes nothing more, after an ERROR
 * (or a refused greeting) it checks that the parser stays failed with
 * nothing more to write. The greeting, the outcome, the target or the
 * error reply and the bytes left to the caller are then compared with what
 * the input should give, for every way of splitting it (feed.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "feed.h"
#include "htc/socks.h"
#include "util.h"

/* ---- inputs --------------------------------------------------------------- */

struct vec {
	uint8_t b[1024];
	size_t n;
};

static void
put(struct vec *v, const void *p, size_t n)
{
	assert_true(v->n + n <= sizeof(v->b));
	memcpy(v->b + v->n, p, n);
	v->n += n;
}

#define PUT(v, ...) put((v), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void
put_str(struct vec *v, const char *s)
{
	put(v, s, strlen(s));
}

static void
put_fill(struct vec *v, uint8_t byte, size_t n)
{
	assert_true(v->n + n <= sizeof(v->b));
	memset(v->b + v->n, byte, n);
	v->n += n;
}

/* The usual SOCKS5 greeting: one method, "no authentication". */
static void
put_greeting(struct vec *v)
{
	PUT(v, 0x05, 0x01, 0x00);
}

/* ---- collector ---------------------------------------------------------- */

enum outcome {
	OUT_MORE,    /* the parser wants more input */
	OUT_REQUEST, /* a target */
	OUT_ERROR,   /* an ERROR event */
	OUT_REFUSED  /* a greeting answered 05 FF */
};

struct want {
	int greeting; /* -1: no GREETING event; else the method chosen */
	enum outcome out;
	int version;
	/* OUT_REQUEST */
	enum socks_atyp atyp;
	const char *host;
	uint16_t port;
	/* OUT_ERROR */
	enum socks_reply code;
	const uint8_t *reply;
	size_t reply_len;
	/* OUT_REQUEST: the last `left` input bytes stay with the caller */
	size_t left;
};

struct coll {
	struct socks_parser p;
	const struct vec *in;
	const struct want *w;
	/* what came out */
	int ngreetings;
	int method;
	enum outcome out;
	int version;
	struct socks_target target;
	enum socks_reply code;
	uint8_t reply[SOCKS_REPLY_MAX];
	size_t reply_len;
	uint8_t left[1024];
	size_t nleft;
};

static void
coll_reset(void *ctx)
{
	struct coll *c = ctx;

	socks_parser_init(&c->p);
	c->ngreetings = 0;
	c->method = -1;
	c->out = OUT_MORE;
	c->version = 0;
	memset(&c->target, 0, sizeof(c->target));
	c->code = SOCKS_REPLY_SUCCEEDED;
	c->reply_len = 0;
	c->nleft = 0;
}

/* The parser is done: it consumes nothing more and says so again. */
static void
after_end(struct coll *c, const uint8_t *p, size_t n)
{
	struct socks_event ev;
	ssize_t r = socks_parse(&c->p, p, n, &ev);

	if (c->out == OUT_REQUEST) {
		assert_int_equal(r, 0);
		assert_int_equal(ev.type, SOCKS_EV_REQUEST);
		assert_ptr_equal(ev.target, &c->p.target);
		assert_true(c->nleft + n <= sizeof(c->left));
		memcpy(c->left + c->nleft, p, n); /* payload sent early: the caller's */
		c->nleft += n;
		return;
	}
	assert_int_equal(r, HT_ERROR);
	assert_int_equal(ev.type, SOCKS_EV_ERROR);
	assert_int_equal(ev.reply_len, 0); /* answered once, never twice */
	if (c->out == OUT_ERROR)
		assert_int_equal(ev.code, c->code);
}

static void
on_event(struct coll *c, const struct socks_event *ev)
{
	switch (ev->type) {
	case SOCKS_EV_GREETING:
		c->ngreetings++;
		c->method = ev->method;
		assert_int_equal(ev->reply_len, 2);
		assert_int_equal(ev->reply[0], 5);
		assert_int_equal(ev->reply[1], ev->method);
		if (ev->method != SOCKS_METHOD_NO_AUTH)
			c->out = OUT_REFUSED;
		break;
	case SOCKS_EV_REQUEST:
		c->out = OUT_REQUEST;
		c->target = *ev->target;
		break;
	default: fail_msg("unexpected event %d", ev->type);
	}
}

static void
coll_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct coll *c = ctx;
	struct socks_event ev;
	size_t off = 0;
	ssize_t r;

	while (c->out == OUT_MORE) {
		r = socks_parse(&c->p, p + off, n - off, &ev);
		if (r == HT_ERROR) {
			assert_int_equal(ev.type, SOCKS_EV_ERROR);
			c->out = OUT_ERROR;
			c->version = ev.version;
			c->code = ev.code;
			c->reply_len = ev.reply_len;
			memcpy(c->reply, ev.reply, ev.reply_len);
			break;
		}
		assert_true(r >= 0 && (size_t)r <= n - off);
		off += (size_t)r;
		c->version = ev.version;
		if (ev.type == SOCKS_EV_NONE) {
			assert_int_equal(off, n); /* NONE only once the piece is used up */
			return;
		}
		assert_true(r > 0);
		on_event(c, &ev);
	}
	after_end(c, p + off, n - off);
}

static void
coll_check(void *ctx)
{
	struct coll *c = ctx;
	const struct want *w = c->w;

	assert_int_equal(c->ngreetings, w->greeting < 0 ? 0 : 1);
	assert_int_equal(c->method, w->greeting);
	assert_int_equal(c->out, w->out);
	assert_int_equal(c->version, w->version);
	if (w->out == OUT_REQUEST) {
		assert_int_equal(c->target.atyp, w->atyp);
		assert_string_equal(c->target.host, w->host);
		assert_int_equal(c->target.port, w->port);
	}
	if (w->out == OUT_ERROR) {
		assert_int_equal(c->code, w->code);
		assert_int_equal(c->reply_len, w->reply_len);
		if (w->reply_len)
			assert_memory_equal(c->reply, w->reply, w->reply_len);
	}
	assert_int_equal(c->nleft, w->left);
	if (w->left)
		assert_memory_equal(c->left, c->in->b + c->in->n - w->left, w->left);
}

/* Run v whole, byte by byte and split at every offset; each way must give w. */
static void
run(const struct vec *v, const struct want *w)
{
	struct coll c;

	memset(&c, 0, sizeof(c));
	c.in = v;
	c.w = w;
	feed_all_ways(v->b, v->n, &c, coll_reset, coll_chunk, coll_check);
}

/* A request to the target, with the greeting answered 05 00. */
static void
want_target(struct want *w, int version, enum socks_atyp atyp, const char *host, uint16_t port)
{
	memset(w, 0, sizeof(*w));
	w->greeting = version == 5 ? SOCKS_METHOD_NO_AUTH : -1;
	w->out = OUT_REQUEST;
	w->version = version;
	w->atyp = atyp;
	w->host = host;
	w->port = port;
}

static const uint8_t REPLY5[9][10] = {
	{ 5, 0, 0, 1 }, { 5, 1, 0, 1 }, { 5, 2, 0, 1 }, { 5, 3, 0, 1 }, { 5, 4, 0, 1 },
	{ 5, 5, 0, 1 }, { 5, 6, 0, 1 }, { 5, 7, 0, 1 }, { 5, 8, 0, 1 },
};
static const uint8_t REPLY4_REJECTED[8] = { 0, 0x5B };

/* A refused request: reply (of reply_len bytes, 0: just close). */
static void
want_error(struct want *w, int greeting, int version, enum socks_reply code, const uint8_t *reply,
	   size_t reply_len)
{
	memset(w, 0, sizeof(*w));
	w->greeting = greeting;
	w->out = OUT_ERROR;
	w->version = version;
	w->code = code;
	w->reply = reply;
	w->reply_len = reply_len;
}

static void
want_v5_error(struct want *w, enum socks_reply code)
{
	want_error(w, SOCKS_METHOD_NO_AUTH, 5, code, REPLY5[code], sizeof(REPLY5[code]));
}

/* ---- SOCKS5 greetings ------------------------------------------------------ */

static void
test_greeting_no_auth(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = SOCKS_METHOD_NO_AUTH, .out = OUT_MORE, .version = 5 };

	(void)state;
	put_greeting(&v);
	run(&v, &w);
}

static void
test_greeting_several_methods(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = SOCKS_METHOD_NO_AUTH, .out = OUT_MORE, .version = 5 };

	(void)state;
	PUT(&v, 0x05, 0x03, 0x01, 0x02, 0x00); /* GSSAPI, user/password, none */
	run(&v, &w);

	v.n = 0; /* all 255 methods, 0x00 the last */
	PUT(&v, 0x05, 0xFF);
	put_fill(&v, 0x02, 254);
	PUT(&v, 0x00);
	run(&v, &w);
}

static void
test_greeting_refused(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = SOCKS_METHOD_NONE_ACCEPTABLE, .out = OUT_REFUSED, .version = 5 };

	(void)state;
	PUT(&v, 0x05, 0x02, 0x01, 0x02); /* no 0x00 offered */
	run(&v, &w);

	v.n = 0; /* NMETHODS 0: nothing acceptable; what follows is not read */
	PUT(&v, 0x05, 0x00, 0x05, 0x01, 0x00);
	run(&v, &w);

	v.n = 0;
	PUT(&v, 0x05, 0xFF);
	put_fill(&v, 0x80, 255);
	run(&v, &w);
}

static void
test_greeting_incomplete(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = -1, .out = OUT_MORE, .version = 5 };

	(void)state;
	PUT(&v, 0x05, 0x03, 0x00, 0x01); /* one method short */
	run(&v, &w);
}

static void
test_bad_version(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_error(&w, -1, 0, SOCKS_REPLY_GENERAL_FAILURE, NULL, 0); /* just close */
	PUT(&v, 0x06, 0x01, 0x00);
	run(&v, &w);

	v.n = 0;
	put_str(&v, "GET / HTTP/1.1\r\n\r\n");
	run(&v, &w);

	v.n = 0; /* a SOCKS5 greeting then a request that is not SOCKS5 */
	put_greeting(&v);
	PUT(&v, 0x04, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 80);
	want_error(&w, SOCKS_METHOD_NO_AUTH, 5, SOCKS_REPLY_GENERAL_FAILURE, NULL, 0);
	run(&v, &w);
}

/* ---- SOCKS5 requests ------------------------------------------------------- */

static void
test_request_ipv4(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x01, 0xBB);
	want_target(&w, 5, SOCKS_ATYP_IPV4, "192.0.2.1", 443);
	run(&v, &w);

	v.n = 0;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x01, 255, 255, 255, 255, 0xFF, 0xFF);
	want_target(&w, 5, SOCKS_ATYP_IPV4, "255.255.255.255", 65535);
	run(&v, &w);
}

static void
test_request_ipv6(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1F,
	    0x90);
	want_target(&w, 5, SOCKS_ATYP_IPV6, "2001:db8::1", 8080);
	run(&v, &w);

	v.n = 0;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22);
	want_target(&w, 5, SOCKS_ATYP_IPV6, "::1", 22);
	run(&v, &w);
}

static void
test_request_domain(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;
	char name[256];

	(void)state;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 11);
	put_str(&v, "example.com");
	PUT(&v, 0, 80);
	want_target(&w, 5, SOCKS_ATYP_DOMAIN, "example.com", 80);
	run(&v, &w);

	v.n = 0; /* one byte */
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 1, 'x', 0x13, 0x88);
	want_target(&w, 5, SOCKS_ATYP_DOMAIN, "x", 5000);
	run(&v, &w);

	v.n = 0; /* the longest: 255 bytes */
	memset(name, 'a', 255);
	name[255] = '\0';
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 255);
	put_str(&v, name);
	PUT(&v, 0x01, 0x00);
	want_target(&w, 5, SOCKS_ATYP_DOMAIN, name, 256);
	run(&v, &w);
}

static void
test_request_domain_bad(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_v5_error(&w, SOCKS_REPLY_GENERAL_FAILURE);
	put_greeting(&v); /* length 0: refused at once */
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 0, 0, 80);
	run(&v, &w);

	v.n = 0; /* a NUL inside */
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 3, 'a', 0, 'b', 0, 80);
	run(&v, &w);
}

static void
test_request_commands(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_v5_error(&w, SOCKS_REPLY_COMMAND_NOT_SUPPORTED);
	put_greeting(&v); /* BIND */
	PUT(&v, 0x05, 0x02, 0x00, 0x01, 192, 0, 2, 1, 0, 80);
	run(&v, &w);

	v.n = 0; /* UDP ASSOCIATE */
	put_greeting(&v);
	PUT(&v, 0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
	run(&v, &w);

	v.n = 0; /* known at the fourth byte: the address need not come */
	put_greeting(&v);
	PUT(&v, 0x05, 0x00, 0x00, 0x01);
	run(&v, &w);
}

static void
test_request_address_type(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_v5_error(&w, SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED);
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x02, 192, 0, 2, 1, 0, 80);
	run(&v, &w);

	v.n = 0;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x05);
	run(&v, &w);
}

static void
test_request_reserved(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_v5_error(&w, SOCKS_REPLY_GENERAL_FAILURE);
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x01, 0x01, 192, 0, 2, 1, 0, 80);
	run(&v, &w);
}

static void
test_request_incomplete(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = SOCKS_METHOD_NO_AUTH, .out = OUT_MORE, .version = 5 };

	(void)state;
	put_greeting(&v); /* the port's second byte is missing */
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 4, 'h', 'o', 's', 't', 0);
	run(&v, &w);
}

static void
test_request_pipelined(void **state)
{
	static const char payload[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x03, 11);
	put_str(&v, "example.com");
	PUT(&v, 0, 80);
	put_str(&v, payload);
	want_target(&w, 5, SOCKS_ATYP_DOMAIN, "example.com", 80);
	w.left = strlen(payload);
	run(&v, &w);

	v.n = 0; /* payload that looks like another request */
	put_greeting(&v);
	PUT(&v, 0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0, 22);
	PUT(&v, 0x05, 0x01, 0x00, 0x01, 10, 0, 0, 2, 0, 23);
	want_target(&w, 5, SOCKS_ATYP_IPV4, "10.0.0.1", 22);
	w.left = 10;
	run(&v, &w);
}

/* ---- SOCKS4 and SOCKS4a ---------------------------------------------------- */

static void
test_v4_request(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;
	char user[256];

	(void)state;
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 192, 0, 2, 1);
	put_str(&v, "alice");
	PUT(&v, 0);
	want_target(&w, 4, SOCKS_ATYP_IPV4, "192.0.2.1", 80);
	run(&v, &w);

	v.n = 0; /* empty USERID, payload after */
	PUT(&v, 0x04, 0x01, 0x1F, 0x90, 10, 1, 2, 3, 0);
	put_str(&v, "hello");
	want_target(&w, 4, SOCKS_ATYP_IPV4, "10.1.2.3", 8080);
	w.left = 5;
	run(&v, &w);

	v.n = 0; /* the longest USERID, 255 bytes */
	memset(user, 'u', 255);
	user[255] = '\0';
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 0, 0, 0, 0);
	put_str(&v, user);
	PUT(&v, 0);
	want_target(&w, 4, SOCKS_ATYP_IPV4, "0.0.0.0", 80); /* 0.0.0.0 is not SOCKS4a */
	run(&v, &w);
}

static void
test_v4a_request(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;
	char name[256];

	(void)state;
	PUT(&v, 0x04, 0x01, 0x01, 0xBB, 0, 0, 0, 1);
	put_str(&v, "bob");
	PUT(&v, 0);
	put_str(&v, "example.com");
	PUT(&v, 0);
	want_target(&w, 4, SOCKS_ATYP_DOMAIN, "example.com", 443);
	run(&v, &w);

	v.n = 0; /* the longest name, then payload */
	memset(name, 'n', 255);
	name[255] = '\0';
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 0, 0, 0, 0xFF, 0);
	put_str(&v, name);
	PUT(&v, 0);
	put_str(&v, "xyz");
	want_target(&w, 4, SOCKS_ATYP_DOMAIN, name, 80);
	w.left = 3;
	run(&v, &w);
}

static void
test_v4_bad(void **state)
{
	struct vec v = { .n = 0 };
	struct want w;

	(void)state;
	want_error(&w, -1, 4, SOCKS_REPLY_COMMAND_NOT_SUPPORTED, REPLY4_REJECTED, 8);
	PUT(&v, 0x04, 0x02, 0x00, 0x50, 192, 0, 2, 1, 0); /* BIND */
	run(&v, &w);

	want_error(&w, -1, 4, SOCKS_REPLY_GENERAL_FAILURE, REPLY4_REJECTED, 8);
	v.n = 0; /* USERID of 256 bytes: refused at the 256th, no NUL needed */
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 192, 0, 2, 1);
	put_fill(&v, 'u', 256);
	run(&v, &w);

	v.n = 0; /* SOCKS4a name of 256 bytes */
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0);
	put_fill(&v, 'n', 256);
	PUT(&v, 0);
	run(&v, &w);

	v.n = 0; /* SOCKS4a with an empty name */
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 'u', 0, 0);
	run(&v, &w);
}

static void
test_v4_incomplete(void **state)
{
	struct vec v = { .n = 0 };
	struct want w = { .greeting = -1, .out = OUT_MORE, .version = 4 };

	(void)state;
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 192, 0, 2, 1, 'u', 's', 'e', 'r'); /* no NUL yet */
	run(&v, &w);

	v.n = 0;
	PUT(&v, 0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0, 'h', 'o', 's', 't');
	run(&v, &w);
}

/* ---- the parser's API --------------------------------------------------------- */

static void
test_parse_api(void **state)
{
	static const uint8_t in[] = { 5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80, 'x' };
	struct socks_parser p;
	struct socks_event ev;

	(void)state;
	socks_parser_init(&p);
	assert_int_equal(socks_parse(&p, in, 0, &ev), 0);
	assert_int_equal(ev.type, SOCKS_EV_NONE);
	assert_int_equal(ev.version, 0);
	assert_int_equal(socks_parse(&p, in, sizeof(in), &ev), 3); /* stops after the greeting */
	assert_int_equal(ev.type, SOCKS_EV_GREETING);
	assert_int_equal(socks_parse(&p, in + 3, sizeof(in) - 3, &ev), 10);
	assert_int_equal(ev.type, SOCKS_EV_REQUEST);
	assert_int_equal(ev.version, 5);
	assert_string_equal(ev.target->host, "127.0.0.1");
	assert_int_equal(socks_parse(&p, in + 13, 1, &ev), 0);
	assert_int_equal(ev.type, SOCKS_EV_REQUEST);

	socks_parser_init(&p); /* reused for a new connection */
	assert_int_equal(socks_parse(&p, (const uint8_t *)"\x05\x01\x00", 3, &ev), 3);
	assert_int_equal(ev.method, SOCKS_METHOD_NO_AUTH);
}

/* ---- replies ------------------------------------------------------------------ */

static void
test_reply_v5(void **state)
{
	static const uint8_t none[] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t v4[] = { 5, 0, 0, 1, 192, 0, 2, 1, 0x04, 0x38 };
	static const uint8_t v6[] = { 5, 5, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
				      0, 0, 0, 0, 0,    0,    0,    0,    1, 0x01, 0xBB };
	uint8_t out[SOCKS_REPLY_MAX];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	(void)state;
	assert_int_equal(socks_reply(out, 5, SOCKS_REPLY_SUCCEEDED, NULL), sizeof(none));
	assert_memory_equal(out, none, sizeof(none));

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1080);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	assert_int_equal(socks_reply(out, 5, SOCKS_REPLY_SUCCEEDED, (struct sockaddr *)&sin), sizeof(v4));
	assert_memory_equal(out, v4, sizeof(v4));

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	assert_int_equal(socks_reply(out, 5, SOCKS_REPLY_CONNECTION_REFUSED, (struct sockaddr *)&sin6),
			 sizeof(v6));
	assert_memory_equal(out, v6, sizeof(v6));

	assert_int_equal(socks_reply(out, 5, SOCKS_REPLY_TTL_EXPIRED, NULL), 10);
	assert_memory_equal(out, REPLY5[SOCKS_REPLY_TTL_EXPIRED], 10);
	assert_int_equal(socks_reply(out, 3, SOCKS_REPLY_SUCCEEDED, NULL), 0);
}

static void
test_reply_v4(void **state)
{
	static const uint8_t granted[] = { 0, 0x5A, 0x04, 0x38, 192, 0, 2, 1 };
	static const uint8_t zeros[] = { 0, 0x5A, 0, 0, 0, 0, 0, 0 };
	uint8_t out[SOCKS_REPLY_MAX];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1080);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	assert_int_equal(socks_reply(out, 4, SOCKS_REPLY_SUCCEEDED, (struct sockaddr *)&sin), 8);
	assert_memory_equal(out, granted, 8);

	assert_int_equal(socks_reply(out, 4, SOCKS_REPLY_HOST_UNREACHABLE, NULL), 8);
	assert_memory_equal(out, REPLY4_REJECTED, 8);

	memset(&sin6, 0, sizeof(sin6)); /* no IPv6 in SOCKS4: zeros */
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
	assert_int_equal(socks_reply(out, 4, SOCKS_REPLY_SUCCEEDED, (struct sockaddr *)&sin6), 8);
	assert_memory_equal(out, zeros, 8);
}

static void
test_reply_for(void **state)
{
	static const struct {
		const char *daemon;
		enum socks_reply code;
	} table[] = {
		{ "NOT_ALLOWED", SOCKS_REPLY_NOT_ALLOWED },
		{ "DISABLED", SOCKS_REPLY_NOT_ALLOWED },
		{ "NETWORK_UNREACHABLE", SOCKS_REPLY_NETWORK_UNREACHABLE },
		{ "HOST_UNREACHABLE", SOCKS_REPLY_HOST_UNREACHABLE },
		{ "NAME_NOT_FOUND", SOCKS_REPLY_HOST_UNREACHABLE },
		{ "CONNECTION_REFUSED", SOCKS_REPLY_CONNECTION_REFUSED },
		{ "TIMEOUT", SOCKS_REPLY_TTL_EXPIRED },
		{ "NO_PERMIT", SOCKS_REPLY_GENERAL_FAILURE },
		{ "INTERNAL_ERROR", SOCKS_REPLY_GENERAL_FAILURE },
		{ "timeout", SOCKS_REPLY_GENERAL_FAILURE },
		{ "TIMEOUTX", SOCKS_REPLY_GENERAL_FAILURE },
		{ "", SOCKS_REPLY_GENERAL_FAILURE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(table); i++)
		assert_int_equal(socks_reply_for(table[i].daemon), table[i].code);
	assert_int_equal(socks_reply_for(NULL), SOCKS_REPLY_GENERAL_FAILURE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_no_auth),
		cmocka_unit_test(test_greeting_several_methods),
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_greeting_incomplete),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_request_ipv4),
		cmocka_unit_test(test_request_ipv6),
		cmocka_unit_test(test_request_domain),
		cmocka_unit_test(test_request_domain_bad),
		cmocka_unit_test(test_request_commands),
		cmocka_unit_test(test_request_address_type),
		cmocka_unit_test(test_request_reserved),
		cmocka_unit_test(test_request_incomplete),
		cmocka_unit_test(test_request_pipelined),
		cmocka_unit_test(test_v4_request),
		cmocka_unit_test(test_v4a_request),
		cmocka_unit_test(test_v4_bad),
		cmocka_unit_test(test_v4_incomplete),
		cmocka_unit_test(test_parse_api),
		cmocka_unit_test(test_reply_v5),
		cmocka_unit_test(test_reply_v4),
		cmocka_unit_test(test_reply_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
