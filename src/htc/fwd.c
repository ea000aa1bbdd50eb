/*
 * fwd.c: local forward and SOCKS listeners and their connections (see
 * fwd.h). This file owns the connection machine: fwd_set_state() writes
 * the state, fc_end() closes, fc_free() releases.
 */
#include "fwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "console.h"
#include "frame.h"
#include "json.h"
#include "net.h"
#include "print.h"
#include "pump.h"
#include "socks.h"
#include "util.h"

#define FWD_BACKLOG 128
#define FWD_ACCEPT_BATCH 16
#define FWD_PAUSE_MS 1000     /* out of descriptors: wait before accepting again */
#define FWD_PEEK_MAX 512      /* SOCKS bytes looked at per read */
#define FWD_WAIT_STEP_MS 50   /* no session yet: look again after this long */
#define FWD_WAIT_MAX_MS 10000 /* ... for at most this long, then refuse */
#define FWD_SOCKS_MS 10000    /* a SOCKS client says what it wants within this long */

enum fwd_state {
	FWD_SOCKS_GREETING, /* SOCKS: waiting for the greeting (or a SOCKS4 request) */
	FWD_SOCKS_REQUEST,  /* SOCKS5: greeting answered, waiting for the request */
	FWD_WAITING, /* no session yet (htc starting or reconnecting): FORWARD_OPEN once there is one */
	FWD_OPENING, /* FORWARD_OPEN sent, waiting for FORWARD_OK or FORWARD_ERR */
	FWD_PUMPING, /* handed to the pump: raw bytes both ways */
	FWD_CLOSED,  /* the socket is closed; the memory waits for the stream and the loop */
	FWD_STATE_MAX
};

struct fwd_conn {
	enum fwd_state state;
	struct fwd *f;
	struct fwd_listener *l;
	struct conn conn; /* the local socket until the pump takes it */
	struct pump pump; /* FWD_PUMPING */
	struct stream *s; /* from FORWARD_OPEN until the stream is closed or pumped */
	int version;      /* SOCKS: 4 or 5 once a request was read, else 0 */
	int want_reply;   /* SOCKS: a request was read and not answered */
	unsigned long no; /* the connection's number in the log */
	struct fwd_conn *prev, *next;
	int linked; /* on f->conns */
	struct reactor_deferred defer;
	struct reactor_timer wait; /* SOCKS: the handshake's deadline; FWD_WAITING: the next look */
	unsigned waited_ms;
	const char *want_host; /* FWD_WAITING: the target (in l->spec or sp) */
	uint16_t want_port;
	struct socks_parser sp;
	char peer[NET_ADDR_STRLEN];
	char target[URL_HOST_MAX + 8]; /* "host:port" once known */
	char address[NET_ADDR_STRLEN]; /* FORWARD_OK's address */
};

static const struct stream_ops fc_stream_ops;

/* ---- the machine ----------------------------------------------------------- */

static void
fwd_set_state(struct fwd_conn *fc, enum fwd_state st)
{
	fc->state = st;
}

static void
fc_link(struct fwd_conn *fc)
{
	struct fwd *f = fc->f;

	fc->next = f->conns;
	if (f->conns != NULL)
		f->conns->prev = fc;
	f->conns = fc;
	fc->linked = 1;
}

static void
fc_unlink(struct fwd_conn *fc)
{
	if (!fc->linked)
		return;
	if (fc->prev != NULL)
		fc->prev->next = fc->next;
	else
		fc->f->conns = fc->next;
	if (fc->next != NULL)
		fc->next->prev = fc->prev;
	fc->prev = fc->next = NULL;
	fc->linked = 0;
}

static void
fc_free(struct fwd_conn *fc)
{
	fc_unlink(fc);
	free(fc);
}

static void
on_free(struct reactor *r, struct reactor_deferred *d)
{
	(void)r;
	fc_free(container_of(d, struct fwd_conn, defer));
}

/* One line about fc on stdout (not with --quiet): "socks #3 127.0.0.1:50312 -> db:5432: ...". */
static void __attribute__((format(printf, 2, 3))) fc_log(const struct fwd_conn *fc, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (fc->f->c->o->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	console_log(fc->l->spec.socks ? "socks" : "forward", "%s #%lu %s%s%s: %s",
		    fc->l->spec.socks ? "socks" : "forward", fc->no, fc->peer, fc->target[0] ? " -> " : "",
		    fc->target, msg);
}

/* Write a SOCKS reply; a fresh socket takes these few bytes at once, else the client is gone. 0 or -1. */
static int
fc_write(struct fwd_conn *fc, const uint8_t *p, size_t n)
{
	ssize_t k;

	do
		k = conn_write(&fc->conn, p, n);
	while (k == -EINTR);
	return k == (ssize_t)n ? 0 : -1;
}

/*
 * End fc before its pump: the SOCKS reply code (when a request waits for
 * one), the log line, the socket closed. The memory goes once the stream
 * is gone too (on_close, or now when there is none).
 */
static void __attribute__((format(printf, 3, 4)))
fc_end(struct fwd_conn *fc, enum socks_reply code, const char *fmt, ...)
{
	uint8_t reply[SOCKS_REPLY_MAX];
	char msg[320];
	va_list ap;

	if (fc->state == FWD_CLOSED)
		return;
	if (fc->want_reply) {
		size_t n = socks_reply(reply, fc->version, code, NULL);

		if (n > 0)
			fc_write(fc, reply, n);
		fc->want_reply = 0;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fc_log(fc, "%s", msg);
	reactor_timer_stop(&fc->f->c->r, &fc->wait);
	conn_close(&fc->conn);
	fwd_set_state(fc, FWD_CLOSED);
	if (fc->s == NULL)
		reactor_defer(&fc->f->c->r, &fc->defer, on_free);
}

/* ---- asking the daemon ------------------------------------------------------- */

/* Why client_forward_open() said no; the SOCKS reply code into *code. */
static const char *
refusal(struct fwd *f, enum socks_reply *code)
{
	struct client *c = f->c;

	*code = SOCKS_REPLY_GENERAL_FAILURE;
	if (!c->mux_ready || (c->state != CLIENT_READY && c->state != CLIENT_BINDING))
		return "not connected to the daemon";
	if (!c->forward_ok) {
		if (!f->told_disabled)
			print_err("forward: the daemon does not forward (start it with --forward-allow ...)");
		f->told_disabled = 1;
		*code = SOCKS_REPLY_NOT_ALLOWED;
		return "the daemon does not forward";
	}
	return "no stream left in the session";
}

/* The session is not up (htc is starting, or reconnecting after a blip). */
static int
no_session(const struct client *c)
{
	return !c->mux_ready || (c->state != CLIENT_READY && c->state != CLIENT_BINDING);
}

static void fc_open(struct fwd_conn *fc, const char *host, uint16_t port);

static void
on_wait(struct reactor *r, struct reactor_timer *t)
{
	struct fwd_conn *fc = container_of(t, struct fwd_conn, wait);

	(void)r;
	if (fc->state == FWD_SOCKS_GREETING || fc->state == FWD_SOCKS_REQUEST) {
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "no SOCKS request within %d s", FWD_SOCKS_MS / 1000);
		return;
	}
	fc->waited_ms += FWD_WAIT_STEP_MS;
	fc_open(fc, fc->want_host, fc->want_port);
}

/* FORWARD_OPEN for host:port; without a session wait a while for one; else refuse. */
static void
fc_open(struct fwd_conn *fc, const char *host, uint16_t port)
{
	enum socks_reply code;
	const char *why;

	reactor_timer_stop(&fc->f->c->r, &fc->wait); /* a SOCKS handshake's deadline is over */
	if (no_session(fc->f->c) && fc->waited_ms < FWD_WAIT_MAX_MS) {
		fc->want_host = host;
		fc->want_port = port;
		fwd_set_state(fc, FWD_WAITING);
		conn_interest(&fc->conn, 0); /* early payload waits in the socket */
		reactor_timer_start(&fc->f->c->r, &fc->wait, FWD_WAIT_STEP_MS, 0);
		return;
	}
	fc->s = client_forward_open(fc->f->c, host, port, &fc_stream_ops, fc);
	if (fc->s == NULL) {
		why = refusal(fc->f, &code);
		fc_end(fc, code, "refused: %s", why);
		return;
	}
	fwd_set_state(fc, FWD_OPENING);
	conn_interest(&fc->conn, 0); /* early payload waits in the socket for the pump */
}

/* ---- SOCKS ------------------------------------------------------------------- */

/* The parser found the request: ask for its target. */
static void
socks_requested(struct fwd_conn *fc, const struct socks_event *ev)
{
	const struct socks_target *t = ev->target;

	fc->version = ev->version;
	fc->want_reply = 1;
	snprintf(fc->target, sizeof(fc->target), t->atyp == SOCKS_ATYP_IPV6 ? "[%s]:%u" : "%s:%u", t->host,
		 (unsigned)t->port);
	fc_open(fc, t->host, t->port);
}

/* Feed buf[0..n) to the parser; the bytes it took into *used. 1: go on reading, 0: stop. */
static int
socks_feed(struct fwd_conn *fc, const uint8_t *buf, size_t n, size_t *used, struct socks_event *ev)
{
	*used = 0;
	while (*used < n) {
		ssize_t k = socks_parse(&fc->sp, buf + *used, n - *used, ev);

		if (k < 0 || ev->type == SOCKS_EV_ERROR) {
			if (ev->reply_len > 0)
				fc_write(fc, ev->reply, ev->reply_len);
			fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE,
			       "not a SOCKS CONNECT the proxy serves (reply %u)", (unsigned)ev->code);
			return 0;
		}
		*used += (size_t)k;
		if (ev->type == SOCKS_EV_REQUEST)
			return 0;
		if (ev->type != SOCKS_EV_GREETING)
			continue;
		if (fc_write(fc, ev->reply, ev->reply_len) < 0 || ev->method != SOCKS_METHOD_NO_AUTH) {
			fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE,
			       "no acceptable SOCKS method (only no authentication is served)");
			return 0;
		}
		fwd_set_state(fc, FWD_SOCKS_REQUEST);
	}
	return 1;
}

/* The socket is readable in a SOCKS state: peek, parse, take off what the parser used. */
static void
socks_read(struct fwd_conn *fc)
{
	uint8_t buf[FWD_PEEK_MAX], sink[FWD_PEEK_MAX];
	struct socks_event ev;
	size_t used;
	ssize_t n;

	n = recv(fc->conn.fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "closed before its SOCKS request");
		return;
	}
	memset(&ev, 0, sizeof(ev));
	socks_feed(fc, buf, (size_t)n, &used, &ev);
	if (fc->state == FWD_CLOSED)
		return;
	if (used > 0 && recv(fc->conn.fd, sink, used, 0) != (ssize_t)used) {
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "socket error");
		return;
	}
	if (ev.type == SOCKS_EV_REQUEST)
		socks_requested(fc, &ev);
}

static void
fc_on_io(struct conn *conn, unsigned events)
{
	struct fwd_conn *fc = container_of(conn, struct fwd_conn, conn);

	if ((events & CONN_READ) && (fc->state == FWD_SOCKS_GREETING || fc->state == FWD_SOCKS_REQUEST))
		socks_read(fc);
}

/* ---- the stream before the pump -------------------------------------------- */

/* "ip:port" or "[ip]:port" from the daemon into ss; 0 or -1 (nothing is resolved). */
static int
parse_address(const char *s, struct sockaddr_storage *ss)
{
	const char *colon = strrchr(s, ':');
	char host[NET_ADDR_STRLEN];
	size_t hlen;
	uint16_t port;

	if (colon == NULL || url_parse_port(colon + 1, 1, &port) < 0)
		return -1;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		return 0;
	}
	return -1;
}

static void
pump_done(struct pump *p)
{
	struct fwd_conn *fc = p->owner;
	char reset[48] = "";

	if (p->reset_code)
		snprintf(reset, sizeof(reset), ", reset %s", frame_code_name(p->reset_code));
	fc_log(fc, "closed (%s%s%sup %llu B, down %llu B%s)", fc->address[0] ? "to " : "", fc->address,
	       fc->address[0] ? ", " : "", (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down,
	       reset);
	free(fc);
}

/* FORWARD_OK: answer a SOCKS client, then hand the socket to a pump. */
static void
fc_connected(struct fwd_conn *fc, struct stream *s)
{
	struct client *c = fc->f->c;
	struct sockaddr_storage bound;
	uint8_t reply[SOCKS_REPLY_MAX];

	if (fc->want_reply) {
		int have = parse_address(fc->address, &bound) == 0;
		size_t n = socks_reply(reply, fc->version, SOCKS_REPLY_SUCCEEDED,
				       have ? (const struct sockaddr *)&bound : NULL);

		fc->want_reply = 0;
		if (fc_write(fc, reply, n) < 0) {
			fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "the SOCKS client went away");
			mux_send_reset(&c->mux, s, FRAME_CODE_CANCEL, "local client gone");
			return;
		}
	}
	fc->pump.owner = fc;
	if (pump_adopt(&fc->pump, &c->r, &c->mux, s, &fc->conn, pump_done) < 0) {
		/* the socket is closed and s is ours again: its on_close frees fc */
		s->ops = &fc_stream_ops;
		s->owner = fc;
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "cannot watch the socket");
		mux_send_reset(&c->mux, s, FRAME_CODE_INTERNAL_ERROR, "cannot watch socket");
		return;
	}
	fc->s = NULL;
	fc_unlink(fc);
	fwd_set_state(fc, FWD_PUMPING);
}

static void
s_on_forward(struct stream *s, int ok, const uint8_t *json, size_t n)
{
	struct fwd_conn *fc = s->owner;
	char code[32] = "INTERNAL", msg[160] = "";
	struct json_tok toks[16];
	struct json_doc doc;
	int parsed;

	if (fc->state != FWD_OPENING)
		return;
	parsed = json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) >= 0;
	if (ok) {
		if (!parsed || json_obj_get_str(&doc, 0, "address", fc->address, sizeof(fc->address)) < 0)
			fc->address[0] = '\0';
		print_scrub(fc->address);
		fc_connected(fc, s);
		return;
	}
	if (parsed) {
		json_obj_get_str(&doc, 0, "code", code, sizeof(code));
		json_obj_get_str(&doc, 0, "message", msg, sizeof(msg));
	}
	print_scrub(code);
	print_scrub(msg);
	fc_end(fc, socks_reply_for(code), "refused: %s%s%s", code, msg[0] ? ": " : "", msg);
}

static void
s_on_data(struct stream *s, const uint8_t *p, size_t n)
{
	struct fwd_conn *fc = s->owner;

	(void)p;
	mux_consumed(&fc->f->c->mux, s, n); /* DATA before FORWARD_OK: dropped, credit returned */
}

static void
s_on_eof(struct stream *s)
{
	(void)s;
}

static void
s_on_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	(void)reason;
	(void)rlen;
	fc_end(s->owner, SOCKS_REPLY_GENERAL_FAILURE, "reset by the daemon (%s)", frame_code_name(code));
}

static void
s_on_credit(struct stream *s)
{
	(void)s;
}

static void
s_on_close(struct stream *s)
{
	struct fwd_conn *fc = s->owner;

	fc->s = NULL;
	if (fc->state != FWD_CLOSED)
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "the session was lost");
	else
		reactor_defer(&fc->f->c->r, &fc->defer, on_free);
}

static const struct stream_ops fc_stream_ops = {
	.on_data = s_on_data,
	.on_eof = s_on_eof,
	.on_reset = s_on_reset,
	.on_credit = s_on_credit,
	.on_forward = s_on_forward,
	.on_close = s_on_close,
};

/* ---- listeners ---------------------------------------------------------- */

/* A new connection on l: SOCKS reads first, a forward asks at once. */
static void
fc_new(struct fwd_listener *l, int fd, const struct sockaddr_storage *peer)
{
	struct fwd *f = l->f;
	struct fwd_conn *fc = calloc(1, sizeof(*fc));

	if (fc == NULL) {
		close(fd);
		return;
	}
	fc->f = f;
	fc->l = l;
	fc->no = ++f->next_no;
	if (net_format_addr((const struct sockaddr *)peer, fc->peer, sizeof(fc->peer)) < 0)
		snprintf(fc->peer, sizeof(fc->peer), "?");
	net_set_nodelay(fd, 1);
	conn_init(&fc->conn, &f->c->r, fd, fc_on_io);
	reactor_timer_init(&fc->wait, on_wait);
	fc_link(fc);
	if (!l->spec.socks) {
		url_forward_format(&l->spec, fc->target, sizeof(fc->target));
		fc_open(fc, l->spec.host, l->spec.port);
		return;
	}
	socks_parser_init(&fc->sp);
	fwd_set_state(fc, FWD_SOCKS_GREETING);
	reactor_timer_start(&f->c->r, &fc->wait, FWD_SOCKS_MS, 0); /* the SOCKS handshake's deadline */
	if (conn_start(&fc->conn, CONN_READ) < 0)
		fc_end(fc, SOCKS_REPLY_GENERAL_FAILURE, "cannot watch the socket");
}

static void
on_accept(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct fwd_listener *l = container_of(w, struct fwd_listener, w);
	int i;

	(void)events;
	for (i = 0; i < FWD_ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = net_accept(l->fd, &peer, &len);

		if (fd == -EAGAIN)
			return;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			print_err("forward: out of file descriptors: not accepting for %d ms", FWD_PAUSE_MS);
			reactor_watcher_stop(r, w);
			reactor_timer_start(r, &l->pause, FWD_PAUSE_MS, 0);
			return;
		}
		if (fd >= 0)
			fc_new(l, fd, &peer);
	}
}

static void
on_pause_end(struct reactor *r, struct reactor_timer *t)
{
	struct fwd_listener *l = container_of(t, struct fwd_listener, pause);

	reactor_watcher_start(r, &l->w, REACTOR_READ);
}

/* Listen for one spec into l. 0 or -1 (printed). */
static int
listen_one(struct fwd_listener *l, const struct url_forward *spec)
{
	char text[URL_HOST_MAX + 16];
	int fd, port;

	l->spec = *spec;
	l->fd = -1;
	url_local_format(&spec->listen, text, sizeof(text));
	if (net_parse_hostport(text, -1, &l->addr, &l->addr_len) < 0) {
		print_err("%s: cannot resolve %s", spec->socks ? "socks" : "forward", text);
		return -1;
	}
	fd = net_listen((const struct sockaddr *)&l->addr, l->addr_len, FWD_BACKLOG, 0);
	if (fd < 0) {
		print_err("%s: cannot listen on %s: %s", spec->socks ? "socks" : "forward", text,
			  strerror(-fd));
		return -1;
	}
	port = net_local_port(fd);
	if (port > 0 && l->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&l->addr)->sin_port = htons((uint16_t)port);
	else if (port > 0)
		((struct sockaddr_in6 *)&l->addr)->sin6_port = htons((uint16_t)port);
	l->fd = fd;
	return 0;
}

/* see fwd.h */
int
fwd_listen(struct fwd *f, const struct url_forward *specs, unsigned n)
{
	unsigned i;

	memset(f, 0, sizeof(*f));
	if (n > FWD_MAX) {
		print_err("at most %u forwards and SOCKS listeners", FWD_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		f->ls[i].f = f;
		if (listen_one(&f->ls[i], &specs[i]) < 0) {
			while (i-- > 0)
				close(f->ls[i].fd);
			return -1;
		}
	}
	f->n = n;
	return 0;
}

/* see fwd.h */
void
fwd_describe(const struct fwd_listener *l, char *out, size_t cap)
{
	char addr[NET_ADDR_STRLEN] = "?", target[URL_HOST_MAX + 8];

	net_format_addr((const struct sockaddr *)&l->addr, addr, sizeof(addr));
	if (l->spec.socks) {
		snprintf(out, cap, "socks: %s (SOCKS5, names resolved in the container)", addr);
		return;
	}
	url_forward_format(&l->spec, target, sizeof(target));
	snprintf(out, cap, "forward: %s -> %s (in the container)", addr, target);
}

/* see fwd.h */
void
fwd_start(struct fwd *f, struct client *c)
{
	unsigned i;

	f->c = c;
	for (i = 0; i < f->n; i++) {
		reactor_timer_init(&f->ls[i].pause, on_pause_end);
		reactor_watcher_init(&f->ls[i].w, f->ls[i].fd, on_accept);
		if (reactor_watcher_start(&c->r, &f->ls[i].w, REACTOR_READ) < 0)
			print_err("forward: cannot watch a listening socket");
	}
}

/* see fwd.h */
void
fwd_stop(struct fwd *f)
{
	unsigned i;

	for (i = 0; i < f->n; i++) {
		if (f->c != NULL) {
			reactor_timer_stop(&f->c->r, &f->ls[i].pause);
			reactor_watcher_stop(&f->c->r, &f->ls[i].w);
		}
		close(f->ls[i].fd);
		f->ls[i].fd = -1;
	}
	f->n = 0;
	while (f->conns != NULL) {
		struct fwd_conn *fc = f->conns;

		fc_unlink(fc);
		if (f->c != NULL)
			reactor_timer_stop(&f->c->r, &fc->wait);
		if (fc->s != NULL) {
			fc->s->ops = NULL;
			fc->s->owner = NULL;
			fc->s = NULL;
		}
		conn_close(&fc->conn);
		if (!fc->defer.queued)
			free(fc);
	}
}
