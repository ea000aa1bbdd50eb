/*
 * fakedaemon.c: the fake daemon and its tunnel client (see fakedaemon.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fakedaemon.h"

#include "bind.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fdbudget.h"
#include "log.h"
#include "metrics.h"
#include "tunnel.h"
#include "util.h"

/* One fake daemon at a time: the guard and the stop condition of its runs. */
static struct reactor_timer guard;
static struct reactor_hook until_hook;
static int (*until_fn)(void *arg);
static void *until_arg;
static const char *waiting_for;

static void
guard_fired(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	(void)t;
	fail_msg("the loop ran longer than %d ms waiting for %s", FAKEDAEMON_GUARD_MS,
		 waiting_for ? waiting_for : "a stop");
}

static int
until_check(struct reactor *r, struct reactor_hook *h)
{
	(void)h;
	if (until_fn != NULL && until_fn(until_arg))
		reactor_stop(r);
	return 0;
}

/* see fakedaemon.h */
int
fakedaemon_init(struct daemon *d, struct config *cfg)
{
	log_init(LOG_LEVEL_WARN, LOG_FORMAT_TEXT, 2);
	signal(SIGPIPE, SIG_IGN); /* as main.c has it: a write to a closed socket fails with EPIPE */
	config_defaults(cfg);
	cfg->expose_address = "127.0.0.1";
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->ctl.fd = -1;
	d->ctl_port = FAKEDAEMON_CTL_PORT;
	d->token = FAKEDAEMON_TOKEN;
	d->token_len = strlen(FAKEDAEMON_TOKEN);
	if (fdbudget_init(&d->fds, FAKEDAEMON_RLIMIT, FAKEDAEMON_RESERVE, FDBUDGET_REFUSAL_SLOTS) < 0 ||
	    buf_init(&d->scratch, 4096, 0) < 0)
		return -1;
	if (reactor_init(&d->r) < 0) {
		buf_fini(&d->scratch);
		return -1;
	}
	metrics_init(&d->metrics);
	daemon_accept_init(d);
	tunnel_loop_init(&d->tl, &d->r);
	reactor_timer_init(&guard, guard_fired);
	memset(&until_hook, 0, sizeof(until_hook));
	until_fn = NULL;
	return 0;
}

/* see fakedaemon.h */
void
fakedaemon_fini(struct daemon *d)
{
	tunnel_loop_fini(&d->tl);
	reactor_fini(&d->r); /* runs the deferred frees */
	buf_fini(&d->scratch);
	bind_routes_fini(d);
}

/* see fakedaemon.h */
void
fakedaemon_run(struct daemon *d, const char *what)
{
	waiting_for = what;
	reactor_update_time(&d->r); /* the guard counts from now, not the last iteration */
	reactor_timer_start(&d->r, &guard, FAKEDAEMON_GUARD_MS, 0);
	assert_int_equal(reactor_run(&d->r), 0);
	reactor_timer_stop(&d->r, &guard);
}

/* see fakedaemon.h */
void
fakedaemon_run_until(struct daemon *d, int (*done)(void *arg), void *arg, const char *what)
{
	if (done(arg))
		return;
	until_fn = done;
	until_arg = arg;
	waiting_for = what;
	reactor_hook_start(&d->r, &until_hook, until_check);
	reactor_update_time(&d->r);
	reactor_timer_start(&d->r, &guard, FAKEDAEMON_GUARD_MS, 0);
	while (!done(arg)) /* the daemon may stop the loop too (a drain) */
		assert_int_equal(reactor_run(&d->r), 0);
	reactor_timer_stop(&d->r, &guard);
	reactor_hook_stop(&d->r, &until_hook);
	until_fn = NULL;
}

/* see fakedaemon.h */
int
fakedaemon_connect(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* ---- TCP clients of bound ports ------------------------------------------ */

static void
sock_on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct fakedaemon_sock *s = container_of(w, struct fakedaemon_sock, w);

	(void)events;
	for (;;) {
		ssize_t n;

		if (s->cap - s->len < 4096) {
			s->cap = s->cap ? 2 * s->cap : 8192;
			s->in = realloc(s->in, s->cap);
			assert_non_null(s->in);
		}
		n = read(s->fd, s->in + s->len, s->cap - s->len - 1);
		if (n > 0) {
			s->len += (size_t)n;
			s->in[s->len] = '\0';
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		s->err = n < 0 ? errno : 0;
		s->eof = 1;
		reactor_watcher_stop(r, w);
		return;
	}
}

/* see fakedaemon.h */
void
fakedaemon_sock_open(struct fakedaemon_sock *s, struct daemon *d, int port)
{
	memset(s, 0, sizeof(*s));
	s->fd = fakedaemon_connect(port);
	if (s->fd < 0)
		fail_msg("connect to port %d: %s", port, strerror(-s->fd));
	assert_int_equal(fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK), 0);
	s->d = d;
	s->in = calloc(1, 1);
	assert_non_null(s->in);
	reactor_watcher_init(&s->w, s->fd, sock_on_io);
	assert_int_equal(reactor_watcher_start(&d->r, &s->w, REACTOR_READ), 0);
}

static int
writable(void *arg)
{
	struct pollfd pfd = { *(int *)arg, POLLOUT, 0 };

	return poll(&pfd, 1, 0) == 1;
}

/* Write all of p to the non-blocking fd; while it is full, the daemon's loop runs (it reads). */
static void
write_all(struct daemon *d, int fd, const void *p, size_t n)
{
	size_t off = 0;

	assert_true(fd >= 0);
	while (off < n) {
		ssize_t k = write(fd, (const char *)p + off, n - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			fakedaemon_run_until(d, writable, &fd, "room to write to the daemon");
			continue;
		}
		if (k <= 0)
			fail_msg("writing to the daemon: %s", k < 0 ? strerror(errno) : "nothing taken");
		off += (size_t)k;
	}
}

/* see fakedaemon.h */
void
fakedaemon_sock_send(struct fakedaemon_sock *s, const char *str)
{
	write_all(s->d, s->fd, str, strlen(str));
}

struct sock_wait {
	struct fakedaemon_sock *s;
	size_t n;
};

static int
sock_has(void *arg)
{
	struct sock_wait *a = arg;

	return a->s->eof || a->s->len >= a->n;
}

/* see fakedaemon.h */
void
fakedaemon_sock_wait(struct fakedaemon_sock *s, size_t n)
{
	struct sock_wait a = { s, n };

	fakedaemon_run_until(s->d, sock_has, &a, "bytes from the daemon on a TCP connection");
}

static int
sock_gone(void *arg)
{
	return ((struct fakedaemon_sock *)arg)->eof;
}

/* see fakedaemon.h */
void
fakedaemon_sock_wait_eof(struct fakedaemon_sock *s)
{
	fakedaemon_run_until(s->d, sock_gone, s, "the daemon to close a TCP connection");
}

/* see fakedaemon.h */
void
fakedaemon_sock_clear(struct fakedaemon_sock *s)
{
	s->len = 0;
	s->in[0] = '\0';
}

/* see fakedaemon.h */
void
fakedaemon_sock_close(struct fakedaemon_sock *s)
{
	if (s->d == NULL || s->fd < 0)
		return;
	reactor_watcher_stop(&s->d->r, &s->w);
	close(s->fd);
	s->fd = -1;
	free(s->in);
	s->in = NULL;
}

/* ---- the tunnel client ---------------------------------------------------- */

static struct fakedaemon_frame *
frame_new(struct fakedaemon_peer *p, uint8_t type, uint32_t sid)
{
	struct fakedaemon_frame *f;

	if (p->nframes == FAKEDAEMON_FRAMES)
		fail_msg("more than %d frames from the server", FAKEDAEMON_FRAMES);
	f = &p->frames[p->nframes++];
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->sid = sid;
	f->p = calloc(1, 1);
	assert_non_null(f->p);
	return f;
}

static void
frame_append(struct fakedaemon_frame *f, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	f->p = realloc(f->p, f->len + n + 1);
	assert_non_null(f->p);
	memcpy(f->p + f->len, p, n);
	f->len += n;
	f->p[f->len] = '\0';
}

/* One chunk of a binary message: its frames. */
static void
peer_message(struct fakedaemon_peer *p, const uint8_t *in, size_t n, int last)
{
	for (;;) {
		struct frame_event ev;
		ssize_t k = frame_reader_feed(&p->fr, in, n, last, &ev);

		if (k < 0) {
			p->bad = 1;
			return;
		}
		in += k;
		n -= (size_t)k;
		if (ev.type == FRAME_EV_NONE || ev.type == FRAME_EV_MESSAGE_END)
			return;
		if (ev.type == FRAME_EV_CONTROL)
			frame_append(frame_new(p, ev.frame_type, ev.stream_id), ev.payload, ev.len);
		else if (ev.frame_start)
			frame_append(frame_new(p, FRAME_DATA, ev.stream_id), ev.payload, ev.len);
		else
			frame_append(&p->frames[p->nframes - 1], ev.payload, ev.len);
	}
}

static void
peer_feed(struct fakedaemon_peer *p, uint8_t *in, size_t n)
{
	while (n > 0 && !p->bad) {
		struct ws_event ev;
		ssize_t k = ws_parse(&p->wp, in, n, &ev);

		if (k < 0) {
			p->bad = 1;
			return;
		}
		in += k;
		n -= (size_t)k;
		if (ev.type == WS_EV_DATA && ev.opcode == WS_OP_BINARY) {
			peer_message(p, ev.data, ev.len, ev.last);
		} else if (ev.type == WS_EV_DATA) {
			p->bad = 1; /* the server sends binary messages only */
		} else if (ev.type == WS_EV_CLOSE) {
			p->closes++;
			p->close_code = ev.code;
		}
	}
}

static void
peer_on_io(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct fakedaemon_peer *p = container_of(w, struct fakedaemon_peer, w);
	uint8_t in[16384];

	(void)events;
	for (;;) {
		ssize_t n = read(p->fd, in, sizeof(in));

		if (n > 0) {
			peer_feed(p, in, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		p->eof = 1;
		reactor_watcher_stop(r, w);
		return;
	}
}

/* see fakedaemon.h */
int
fakedaemon_peer_open(struct fakedaemon_peer *p, struct daemon *d)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fdbudget_acquire(&d->fds, 1), 0);
	p->fd = sv[0];
	p->d = d;
	ws_parser_init(&p->wp, WS_ROLE_CLIENT, 0);
	frame_reader_init(&p->fr);
	reactor_watcher_init(&p->w, p->fd, peer_on_io);
	assert_int_equal(reactor_watcher_start(&d->r, &p->w, REACTOR_READ), 0);
	return sv[1];
}

/* Write one whole masked WebSocket frame. */
static void
peer_write_ws(struct fakedaemon_peer *p, unsigned opcode, const uint8_t *payload, size_t len)
{
	static const uint8_t key[4] = { 0x5a, 0x13, 0xc4, 0x7e };
	uint8_t *msg = malloc(WS_MAX_HEADER + len + 1);
	size_t hl;

	assert_non_null(msg);
	hl = ws_header_encode(msg, opcode, 1, len, key);
	if (len > 0)
		memcpy(msg + hl, payload, len);
	ws_mask(msg + hl, len, key, 0);
	write_all(p->d, p->fd, msg, hl + len);
	free(msg);
}

/* see fakedaemon.h */
void
fakedaemon_peer_send(struct fakedaemon_peer *p, uint8_t type, uint32_t sid, const void *payload, size_t len)
{
	uint8_t *body = malloc(FRAME_HEADER_LEN + len + 1);

	assert_non_null(body);
	frame_header_encode(body, type, sid, (uint32_t)len);
	if (len > 0)
		memcpy(body + FRAME_HEADER_LEN, payload, len);
	peer_write_ws(p, WS_OP_BINARY, body, FRAME_HEADER_LEN + len);
	free(body);
}

/* see fakedaemon.h */
void
fakedaemon_peer_send_str(struct fakedaemon_peer *p, uint8_t type, uint32_t sid, const char *s)
{
	fakedaemon_peer_send(p, type, sid, s, strlen(s));
}

/* see fakedaemon.h */
void
fakedaemon_peer_send_close(struct fakedaemon_peer *p, unsigned code)
{
	uint8_t pl[WS_MAX_CONTROL];

	peer_write_ws(p, WS_OP_CLOSE, pl, ws_close_payload_encode(pl, code, "", 0));
}

static struct fakedaemon_frame *
find(struct fakedaemon_peer *p, uint8_t type, uint32_t sid)
{
	size_t i;

	for (i = 0; i < p->nframes; i++) {
		struct fakedaemon_frame *f = &p->frames[i];

		if (!f->taken && f->type == type && (sid == FAKEDAEMON_ANY_SID || f->sid == sid))
			return f;
	}
	return NULL;
}

struct wait_arg {
	struct fakedaemon_peer *p;
	uint8_t type;
	uint32_t sid;
};

static int
frame_or_eof(void *arg)
{
	struct wait_arg *a = arg;

	return a->p->eof || a->p->bad || find(a->p, a->type, a->sid) != NULL;
}

/* see fakedaemon.h */
struct fakedaemon_frame *
fakedaemon_peer_wait(struct fakedaemon_peer *p, uint8_t type, uint32_t sid)
{
	struct wait_arg a = { p, type, sid };
	struct fakedaemon_frame *f;
	char what[64];

	snprintf(what, sizeof(what), "a %s frame", frame_type_name(type));
	fakedaemon_run_until(p->d, frame_or_eof, &a, what);
	f = find(p, type, sid);
	if (f == NULL)
		fail_msg("the server closed the tunnel (%s) before %s", p->bad ? "bad bytes" : "EOF", what);
	f->taken = 1;
	return f;
}

/* see fakedaemon.h */
struct fakedaemon_frame *
fakedaemon_peer_next(struct fakedaemon_peer *p, uint8_t type, uint32_t sid)
{
	struct fakedaemon_frame *f = find(p, type, sid);

	if (f != NULL)
		f->taken = 1;
	return f;
}

/* see fakedaemon.h */
size_t
fakedaemon_peer_count(const struct fakedaemon_peer *p, uint8_t type, uint32_t sid)
{
	size_t i, n = 0;

	for (i = 0; i < p->nframes; i++)
		if (p->frames[i].type == type && (sid == FAKEDAEMON_ANY_SID || p->frames[i].sid == sid))
			n++;
	return n;
}

/* see fakedaemon.h */
void
fakedaemon_peer_sync(struct fakedaemon_peer *p)
{
	uint8_t nonce[FRAME_PING_LEN];
	struct fakedaemon_frame *f;

	frame_ping_encode(nonce, 0x5e5e000000000000ull + ++p->pings);
	fakedaemon_peer_send(p, FRAME_PING, 0, nonce, sizeof(nonce));
	do {
		f = fakedaemon_peer_wait(p, FRAME_PONG, 0);
	} while (f->len != sizeof(nonce) || memcmp(f->p, nonce, sizeof(nonce)) != 0);
}

static int
peer_gone(void *arg)
{
	return ((struct fakedaemon_peer *)arg)->eof;
}

/* see fakedaemon.h */
void
fakedaemon_peer_wait_eof(struct fakedaemon_peer *p)
{
	fakedaemon_run_until(p->d, peer_gone, p, "the server to close the tunnel socket");
}

/* see fakedaemon.h */
void
fakedaemon_peer_close(struct fakedaemon_peer *p)
{
	size_t i;

	if (p->fd < 0 || p->d == NULL)
		return;
	reactor_watcher_stop(&p->d->r, &p->w);
	close(p->fd);
	p->fd = -1;
	frame_reader_fini(&p->fr);
	for (i = 0; i < p->nframes; i++)
		free(p->frames[i].p);
	p->nframes = 0;
}

/* ---- JSON payloads ------------------------------------------------------- */

/* see fakedaemon.h */
void
fakedaemon_json(const struct fakedaemon_frame *fr, struct json_doc *doc, struct json_tok *toks, size_t ntoks)
{
	if (json_parse(doc, (const char *)fr->p, fr->len, toks, ntoks, NULL) < 0 ||
	    json_type(doc, 0) != JSON_OBJECT)
		fail_msg("%s payload is not a JSON object: %s", frame_type_name(fr->type),
			 (const char *)fr->p);
}

/* see fakedaemon.h */
int64_t
fakedaemon_json_int(const struct json_doc *doc, int obj, const char *key)
{
	int64_t v = 0;

	if (json_obj_get_int(doc, obj, key, &v) != 0)
		fail_msg("\"%s\" is not an integer in %.*s", key, (int)doc->len, doc->text);
	return v;
}

/* see fakedaemon.h */
const char *
fakedaemon_json_str(const struct json_doc *doc, int obj, const char *key)
{
	static char s[1024];

	if (json_obj_get_str(doc, obj, key, s, sizeof(s)) < 0)
		fail_msg("\"%s\" is not a string in %.*s", key, (int)doc->len, doc->text);
	return s;
}
