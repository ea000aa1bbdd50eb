/*
 * ws_peer.c: a blocking WebSocket peer built on our codec, for interop tests.
 *
 *   ws_peer server [--protocol P]... [--require-protocol] [--max-message N] [--once]
 *       Listens on 127.0.0.1, port chosen by the kernel, and prints
 *       "PORT <n>" on stdout. Each connection (one at a time) gets the
 *       handshake checks of ws_handshake_server_check(), then every message
 *       is echoed with the same opcode (streamed back chunk by chunk as
 *       fragments, never reassembled), PINGs are answered, a CLOSE is echoed
 *       with its code and the socket closed; a protocol error is answered
 *       with a CLOSE carrying the parser's code. --once: exit after one.
 *
 *   ws_peer client --port N [--path P] [--protocol P]... [--require-protocol]
 *       Connects, checks the 101 with ws_handshake_client_check(), then
 *       sends text, binary, 1 MiB of binary, a fragmented text message with
 *       a PING between its fragments, and a PING; checks each echo and PONG;
 *       closes with 1000 and expects 1000 back. Exit 0 when all held.
 *
 * A test tool: blocking sockets with timeouts, messages reassembled with
 * malloc on the client side, and a minimal HTTP head splitter of its own
 * (the real parser lives in http1.c, which this tool must not need).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"
#include "ws.h"
#include "ws_handshake.h"

#define MAX_PROTOS 8
#define MAX_HEAD 16384
#define MAX_HDRS 64
#define RBUF_SIZE (256 * 1024)

struct opts {
	int server;
	int port;
	const char *path;
	const char *protos[MAX_PROTOS];
	size_t nprotos;
	int require_protocol;
	uint64_t max_message;
	int once;
};

/* One WebSocket connection over a blocking socket. */
struct peer {
	int fd;
	enum ws_role role;
	struct ws_parser p;
	uint8_t *rbuf;
	size_t rpos, rlen; /* unparsed bytes rbuf[rpos..rlen) */
	uint8_t *acc;      /* client: data message gathered so far */
	size_t acc_len;
};

/* A whole message or control frame, as the client side sees it. */
struct msg {
	enum ws_event_type type; /* DATA, PONG, CLOSE */
	unsigned opcode;
	uint8_t *data;
	size_t len;
	unsigned code;
};

_Noreturn static void
die(const char *what)
{
	fprintf(stderr, "ws_peer: %s\n", what);
	exit(1);
}

/* ---- sockets ------------------------------------------------------------ */

static int
write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void
set_timeouts(int fd)
{
	struct timeval tv = { 10, 0 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Close after our CLOSE went out: stop sending, then drain what the peer
 * still sends until it closes (at most 2 s), so that unread input does not
 * turn our FIN into a RST that could destroy the CLOSE frame in flight.
 */
static void
drain_close(int fd)
{
	struct timeval tv = { 2, 0 };
	char b[4096];

	shutdown(fd, SHUT_WR);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (read(fd, b, sizeof(b)) > 0)
		;
	close(fd);
}

/* Read until CRLFCRLF into head; extra bytes after it go to rbuf. Head length or -1. */
static ssize_t
read_head(struct peer *c, char *head)
{
	size_t have = 0;

	for (;;) {
		char *end;
		ssize_t r = read(c->fd, head + have, MAX_HEAD - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		head[have] = '\0';
		end = memmem(head, have, "\r\n\r\n", 4);
		if (end != NULL) {
			size_t hl = (size_t)(end + 4 - head);
			memcpy(c->rbuf, head + hl, have - hl);
			c->rpos = 0;
			c->rlen = have - hl;
			return (ssize_t)hl;
		}
		if (have == MAX_HEAD - 1)
			return -1;
	}
}

/*
 * Split a head into its first line and "Name: value" headers (values
 * trimmed). Returns the number of headers, or -1 on a line without a colon.
 */
static ssize_t
split_head(char *head, size_t len, char **first, struct http1_header *h)
{
	char *p = head, *end = head + len - 2; /* the final empty line */
	size_t n = 0;

	*first = head;
	p = memmem(p, (size_t)(end - p), "\r\n", 2);
	*p = '\0';
	p += 2;
	while (p < end && n < MAX_HDRS) {
		char *eol = memmem(p, (size_t)(end - p + 2), "\r\n", 2), *colon, *v, *ve;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL)
			return -1;
		v = colon + 1;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		h[n++] = (struct http1_header){ p, (size_t)(colon - p), v, (size_t)(ve - v) };
		p = eol + 2;
	}
	return (ssize_t)n;
}

/* ---- frames ------------------------------------------------------------- */

/* Send one frame; a client masks a copy of the payload with a fresh key. */
static int
send_frame(struct peer *c, unsigned opcode, int fin, const void *data, size_t len)
{
	uint8_t hdr[WS_MAX_HEADER], key[4], *copy = NULL;
	struct iovec iov[2];
	size_t h;
	int rc;

	if (c->role == WS_ROLE_CLIENT) {
		if (util_random(key, 4) != 0)
			return -1;
		copy = malloc(len ? len : 1);
		if (copy == NULL)
			return -1;
		if (len)
			memcpy(copy, data, len);
		ws_mask(copy, len, key, 0);
		data = copy;
	}
	h = ws_header_encode(hdr, opcode, fin, len, c->role == WS_ROLE_CLIENT ? key : NULL);
	iov[0] = (struct iovec){ hdr, h };
	iov[1] = (struct iovec){ (void *)(uintptr_t)data, len };
	rc = write_all(c->fd, iov, len ? 2 : 1);
	free(copy);
	return rc;
}

static int
send_close(struct peer *c, unsigned code, const char *reason, size_t len)
{
	uint8_t payload[WS_MAX_CONTROL];
	size_t n = ws_close_payload_encode(payload, code == WS_CLOSE_NO_STATUS ? 0 : code, reason, len);

	return send_frame(c, WS_OP_CLOSE, 1, payload, n);
}

/*
 * Parse the next event, reading more when the buffer is used up. 1 with an
 * event, 0 at EOF, -1 on a protocol error (already answered with CLOSE).
 */
static int
next_event(struct peer *c, struct ws_event *ev)
{
	for (;;) {
		ssize_t r;
		if (c->rpos == c->rlen) {
			r = read(c->fd, c->rbuf, RBUF_SIZE);
			if (r <= 0)
				return 0;
			c->rpos = 0;
			c->rlen = (size_t)r;
		}
		r = ws_parse(&c->p, c->rbuf + c->rpos, c->rlen - c->rpos, ev);
		if (r < 0) {
			fprintf(stderr, "ws_peer: protocol error %u: %s\n", c->p.close_code, c->p.error);
			send_close(c, c->p.close_code, c->p.error, strlen(c->p.error));
			return -1;
		}
		c->rpos += (size_t)r;
		if (ev->type != WS_EV_NONE)
			return 1;
	}
}

/* ---- server ------------------------------------------------------------- */

/* Echo until the peer closes. */
static void
echo(struct peer *c)
{
	struct ws_event ev;

	while (next_event(c, &ev) > 0) {
		switch (ev.type) {
		case WS_EV_DATA:
			if (send_frame(c, ev.first ? ev.opcode : WS_OP_CONT, ev.last, ev.data, ev.len) != 0)
				return;
			break;
		case WS_EV_PING:
			if (send_frame(c, WS_OP_PONG, 1, ev.data, ev.len) != 0)
				return;
			break;
		case WS_EV_CLOSE: send_close(c, ev.code, ev.reason, ev.reason_len); return;
		default: break;
		}
	}
}

static void
serve_one(struct peer *c, const struct opts *o)
{
	char head[MAX_HEAD], *first, *sp, out[1024];
	struct http1_header h[MAX_HDRS];
	struct ws_handshake_result res;
	ssize_t hl, nh, n;
	int minor;
	struct iovec iov;

	hl = read_head(c, head);
	if (hl < 0 || (nh = split_head(head, (size_t)hl, &first, h)) < 0)
		return;
	sp = strchr(first, ' ');
	minor = strlen(first) > 9 && strncmp(first + strlen(first) - 8, "HTTP/1.", 7) == 0
			? first[strlen(first) - 1] - '0'
			: 0;
	ws_handshake_server_check(&res, first, sp ? (size_t)(sp - first) : strlen(first), minor, h,
				  (size_t)nh, o->protos, o->nprotos, o->require_protocol);
	n = ws_handshake_response_encode(out, sizeof(out), &res, NULL);
	if (n < 0)
		return;
	iov = (struct iovec){ out, (size_t)n };
	if (write_all(c->fd, &iov, 1) != 0 || res.status != 101) {
		fprintf(stderr, "ws_peer: refused upgrade: %d %s\n", res.status, res.reason);
		return;
	}
	ws_parser_init(&c->p, WS_ROLE_SERVER, o->max_message);
	echo(c);
}

static int
run_server(const struct opts *o, struct peer *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t alen = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 16) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) != 0)
		die("cannot listen on 127.0.0.1");
	printf("PORT %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		c->fd = accept(ls, NULL, NULL);
		if (c->fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept failed");
		}
		set_timeouts(c->fd);
		serve_one(c, o);
		drain_close(c->fd);
		if (o->once)
			break;
	}
	close(ls);
	return 0;
}

/* ---- client ------------------------------------------------------------- */

/*
 * The next whole message or control frame; server PINGs are answered. A
 * data message being gathered (c->acc) survives control frames between
 * its fragments.
 */
static int
next_msg(struct peer *c, struct msg *m)
{
	struct ws_event ev;

	free(m->data);
	memset(m, 0, sizeof(*m));
	for (;;) {
		if (next_event(c, &ev) <= 0)
			return -1;
		switch (ev.type) {
		case WS_EV_PING:
			if (send_frame(c, WS_OP_PONG, 1, ev.data, ev.len) != 0)
				return -1;
			continue;
		case WS_EV_CLOSE:
			m->type = WS_EV_CLOSE;
			m->code = ev.code;
			return 0;
		case WS_EV_PONG:
			m->type = WS_EV_PONG;
			m->data = malloc(ev.len + 1);
			if (m->data == NULL)
				die("out of memory");
			memcpy(m->data, ev.data, ev.len);
			m->len = ev.len;
			return 0;
		default: break;
		}
		c->acc = realloc(c->acc, c->acc_len + ev.len + 1);
		if (c->acc == NULL)
			die("out of memory");
		memcpy(c->acc + c->acc_len, ev.data, ev.len);
		c->acc_len += ev.len;
		if (ev.last) {
			*m = (struct msg){ WS_EV_DATA, ev.opcode, c->acc, c->acc_len, 0 };
			c->acc = NULL;
			c->acc_len = 0;
			return 0;
		}
	}
}

static void
expect(struct peer *c, struct msg *m, enum ws_event_type type, unsigned opcode, const void *data, size_t len,
       const char *what)
{
	if (next_msg(c, m) != 0)
		die(what);
	if (m->type != type || (type == WS_EV_DATA && m->opcode != opcode) || m->len != len ||
	    (len && memcmp(m->data, data, len) != 0)) {
		fprintf(stderr, "ws_peer: %s: got type %d opcode %u len %zu\n", what, m->type, m->opcode,
			m->len);
		exit(1);
	}
	fprintf(stderr, "ws_peer: ok: %s\n", what);
}

/* Send the request, check the 101, keep any bytes that followed it. */
static void
client_handshake(struct peer *c, const struct opts *o)
{
	char key[WS_HANDSHAKE_KEY_LEN + 1], host[64], req[2048], head[MAX_HEAD], *first;
	struct ws_handshake_request rq = { host, o->path, key, o->protos, o->nprotos, NULL };
	struct http1_header h[MAX_HDRS];
	const char *err, *sel;
	ssize_t n, nh;
	struct iovec iov;

	if (ws_handshake_client_key(key) != 0)
		die("no randomness");
	snprintf(host, sizeof(host), "127.0.0.1:%d", o->port);
	n = ws_handshake_request_encode(req, sizeof(req), &rq);
	if (n < 0)
		die("request does not fit");
	iov = (struct iovec){ req, (size_t)n };
	if (write_all(c->fd, &iov, 1) != 0)
		die("cannot send the request");
	n = read_head(c, head);
	if (n < 0 || (nh = split_head(head, (size_t)n, &first, h)) < 0 || strlen(first) < 12)
		die("bad response head");
	err = ws_handshake_client_check(atoi(first + 9), h, (size_t)nh, key, strlen(key), o->protos,
					o->nprotos, o->require_protocol, &sel);
	if (err != NULL)
		die(err);
	printf("PROTOCOL %s\n", sel ? sel : "-");
	fflush(stdout);
}

static int
run_client(const struct opts *o, struct peer *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	static const char text[] = "hello from ws_peer \xE2\x9C\x93";
	uint8_t bin[256];
	size_t big_len = 1 << 20, i;
	uint8_t *big = malloc(big_len);
	struct msg m = { 0 };

	if (big == NULL)
		die("out of memory");
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	for (i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 12));
	a.sin_port = htons((uint16_t)o->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("cannot connect");
	set_timeouts(c->fd);
	client_handshake(c, o);
	ws_parser_init(&c->p, WS_ROLE_CLIENT, 0);

	if (send_frame(c, WS_OP_TEXT, 1, text, strlen(text)) != 0)
		die("send text");
	expect(c, &m, WS_EV_DATA, WS_OP_TEXT, text, strlen(text), "text echo");
	if (send_frame(c, WS_OP_BINARY, 1, bin, sizeof(bin)) != 0)
		die("send binary");
	expect(c, &m, WS_EV_DATA, WS_OP_BINARY, bin, sizeof(bin), "binary echo");
	if (send_frame(c, WS_OP_BINARY, 1, big, big_len) != 0)
		die("send 1 MiB");
	expect(c, &m, WS_EV_DATA, WS_OP_BINARY, big, big_len, "1 MiB echo");
	/* fragmented text with a PING between the fragments */
	if (send_frame(c, WS_OP_TEXT, 0, "frag-", 5) != 0 || send_frame(c, WS_OP_CONT, 0, "ment-", 5) != 0 ||
	    send_frame(c, WS_OP_PING, 1, "mid", 3) != 0 || send_frame(c, WS_OP_CONT, 1, "ed", 2) != 0)
		die("send fragments");
	expect(c, &m, WS_EV_PONG, 0, "mid", 3, "pong between fragments");
	expect(c, &m, WS_EV_DATA, WS_OP_TEXT, "frag-ment-ed", 12, "fragmented echo");
	if (send_frame(c, WS_OP_PING, 1, "are you there", 13) != 0)
		die("send ping");
	expect(c, &m, WS_EV_PONG, 0, "are you there", 13, "pong");
	if (send_close(c, WS_CLOSE_NORMAL, "bye", 3) != 0)
		die("send close");
	if (next_msg(c, &m) != 0 || m.type != WS_EV_CLOSE || m.code != WS_CLOSE_NORMAL)
		die("no close 1000 in answer");
	fprintf(stderr, "ws_peer: ok: close 1000\n");
	/* the server closes the TCP connection after the close handshake */
	{
		uint8_t b[64];
		if (read(c->fd, b, sizeof(b)) != 0)
			die("server did not close the connection");
	}
	close(c->fd);
	free(m.data);
	free(big);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

_Noreturn static void
usage(void)
{
	fprintf(stderr,
		"usage: ws_peer server [--protocol P]... [--require-protocol] [--max-message N] [--once]\n"
		"       ws_peer client --port N [--path P] [--protocol P]... [--require-protocol]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int i;
	uint64_t v;

	if (argc < 2)
		usage();
	o->server = strcmp(argv[1], "server") == 0;
	if (!o->server && strcmp(argv[1], "client") != 0)
		usage();
	o->path = "/";
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--require-protocol") == 0) {
			o->require_protocol = 1;
			continue;
		}
		if (strcmp(a, "--once") == 0) {
			o->once = 1;
			continue;
		}
		if (val == NULL)
			usage();
		i++;
		if (strcmp(a, "--protocol") == 0 && o->nprotos < MAX_PROTOS)
			o->protos[o->nprotos++] = val;
		else if (strcmp(a, "--path") == 0)
			o->path = val;
		else if (strcmp(a, "--port") == 0 && util_parse_uint(val, 65535, &v) == 0)
			o->port = (int)v;
		else if (strcmp(a, "--max-message") == 0 && util_parse_uint(val, UINT64_MAX, &v) == 0)
			o->max_message = v;
		else
			usage();
	}
	if (!o->server && o->port == 0)
		usage();
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct peer c = { 0 };
	int rc;

	parse_args(argc, argv, &o);
	c.role = o.server ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
	c.rbuf = malloc(RBUF_SIZE);
	if (c.rbuf == NULL)
		die("out of memory");
	if (!o.server)
		alarm(60);
	rc = o.server ? run_server(&o, &c) : run_client(&o, &c);
	free(c.rbuf);
	free(c.acc);
	return rc;
}
