/*
 * forward.c: FORWARD_OPEN served inside the container (see forward.h).
 *
 * One struct fwd per forwarded connection, with its machine here:
 * RESOLVING (the name in resolve.c) -> CONNECTING (one allowed address
 * after the other, non-blocking, one FD permit) -> PUMPING (the pump owns
 * the socket and the stream). FORWARD_ERR, a RESET from the client or the
 * stream's end while RESOLVING or CONNECTING closes it (CLOSED) and frees
 * it. The deadline covers resolving and connecting together.
 */
#include "forward.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward_policy.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "mux.h"
#include "net.h"
#include "pump.h"
#include "resolve.h"
#include "session.h"
#include "util.h"

enum fwd_state {
	FWD_RESOLVING,  /* the name is being resolved */
	FWD_CONNECTING, /* a connect is in progress (fd, watcher) */
	FWD_PUMPING,    /* FORWARD_OK sent; the pump owns socket and stream */
	FWD_CLOSED,     /* refused or cancelled; freed */
	FWD_STATE_MAX
};

struct fwd {
	enum fwd_state state; /* written by fwd_set_state only */
	struct daemon *d;
	struct session *s;
	struct mux *m;
	struct stream *st;
	uint32_t sid;
	char host[256];
	uint16_t port;
	struct resolve_lookup *lookup;
	struct sockaddr_storage addrs[RESOLVE_MAX_ADDRS]; /* the allowed ones, in order */
	size_t n, next;
	int fd; /* the connect in progress, -1: none (it holds one FD permit) */
	struct reactor_watcher w;
	struct reactor_timer deadline;
	const char *code; /* the last failure, for FORWARD_ERR */
	char why[160];
	struct pump pump;
};

static const struct stream_ops pending_ops;
static void fwd_fail(struct fwd *f, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fwd_set_state(struct fwd *f, enum fwd_state st)
{
	f->state = st;
}

/* Drop the connect in progress, if any: socket closed, permit back. */
static void
drop_socket(struct fwd *f)
{
	if (f->fd < 0)
		return;
	reactor_watcher_stop(&f->d->r, &f->w);
	close(f->fd);
	f->fd = -1;
	fdbudget_release(&f->d->fds, 1);
}

/* Forget everything in progress; the stream is no longer ours. Frees f. */
static void
fwd_close(struct fwd *f)
{
	if (f->lookup != NULL)
		resolve_cancel(f->lookup);
	f->lookup = NULL;
	drop_socket(f);
	reactor_timer_stop(&f->d->r, &f->deadline);
	fwd_set_state(f, FWD_CLOSED);
	free(f);
}

/* ---- refusals ----------------------------------------------------------------- */

/* FORWARD_ERR's JSON in d->scratch, counted in the metrics: 0, or -1 when it cannot be built. */
static int
err_json(struct daemon *d, const char *code, const char *msg)
{
	struct json_writer w;

	metrics_forward_failed(&d->metrics, code);
	buf_reset(&d->scratch, 0);
	json_w_init(&w, &d->scratch, 0);
	json_w_obj_begin(&w);
	json_w_kv_str(&w, "code", code);
	json_w_kv_str(&w, "message", msg);
	json_w_obj_end(&w);
	return json_w_finish(&w) == 0 ? 0 : -1;
}

static void
fwd_fail(struct fwd *f, const char *code, const char *fmt, ...)
{
	struct buf *b = &f->d->scratch;
	struct stream *st = f->st;
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info_kv(LOG_KV(LOG_S("session", f->s->id), LOG_N("stream", f->sid), LOG_N("port", f->port),
			   LOG_S("code", code)),
		    "session %s: forward to %s:%u refused: %s: %s", f->s->id, f->host, f->port, code, msg);
	if (err_json(f->d, code, msg) == 0)
		(void)mux_send(f->m, st, FRAME_FORWARD_ERR, b->pos, buf_len(b));
	st->ops = NULL;
	st->owner = NULL;
	mux_drop(f->m, st); /* the client closes its side on FORWARD_ERR */
	fwd_close(f);
}

/* The FORWARD_ERR code of a connect failure. */
static const char *
connect_code(int err)
{
	switch (err) {
	case ECONNREFUSED: return "CONNECTION_REFUSED";
	case ENETUNREACH: return "NETWORK_UNREACHABLE";
	case EHOSTUNREACH:
	case EHOSTDOWN: return "HOST_UNREACHABLE";
	case ETIMEDOUT: return "TIMEOUT";
	default: return "CONNECT_FAILED";
	}
}

/* ---- connecting ------------------------------------------------------------- */

static void pump_done(struct pump *p);

static void
connected(struct fwd *f)
{
	struct daemon *d = f->d;
	char addr[NET_ADDR_STRLEN], js[NET_ADDR_STRLEN + 32];
	int fd = f->fd, n;

	reactor_watcher_stop(&d->r, &f->w);
	reactor_timer_stop(&d->r, &f->deadline);
	net_format_addr((const struct sockaddr *)&f->addrs[f->next], addr, sizeof(addr));
	n = snprintf(js, sizeof(js), "{\"address\":\"%s\"}", addr);
	(void)net_set_nodelay(fd, 1);
	if (mux_send(f->m, f->st, FRAME_FORWARD_OK, js, (size_t)n) < 0) {
		fwd_fail(f, "INTERNAL", "the tunnel is closing");
		return;
	}
	f->fd = -1; /* the pump's now, with its permit */
	f->pump.owner = f;
	if (pump_start(&f->pump, &d->r, f->m, f->st, fd, 0, pump_done) < 0) {
		close(fd);
		fdbudget_release(&d->fds, 1);
		mux_send_reset(f->m, f->st, FRAME_CODE_INTERNAL_ERROR, "cannot serve");
		fwd_close(f);
		return;
	}
	fwd_set_state(f, FWD_PUMPING);
	f->s->forwards++;
	metrics_stream_opened(&d->metrics, METRICS_KIND_TCP);
	d->metrics.forward_opened_total++;
	log_debug("session %s: forward stream %u to %s:%u connected to %s", f->s->id, f->sid, f->host,
		  f->port, addr);
}

static void try_next(struct fwd *f);

static void
on_connect(struct reactor *r, struct reactor_watcher *w, unsigned events)
{
	struct fwd *f = container_of(w, struct fwd, w);
	int err = net_socket_error(f->fd);

	(void)r;
	(void)events;
	if (err == 0) {
		connected(f);
		return;
	}
	f->code = connect_code(-err);
	snprintf(f->why, sizeof(f->why), "%s", strerror(-err));
	drop_socket(f);
	f->next++;
	try_next(f);
}

/* Connect to the next allowed address; refuse when none is left. */
static void
try_next(struct fwd *f)
{
	struct daemon *d = f->d;

	fwd_set_state(f, FWD_CONNECTING);
	for (; f->next < f->n; f->next++) {
		const struct sockaddr *sa = (const struct sockaddr *)&f->addrs[f->next];
		int fd;

		if (fdbudget_acquire(&d->fds, 1) < 0) {
			fwd_fail(f, "NO_PERMIT", "no file descriptors left on the daemon");
			return;
		}
		fd = net_connect(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							       : sizeof(struct sockaddr_in));
		if (fd < 0) {
			fdbudget_release(&d->fds, 1);
			f->code = connect_code(-fd);
			snprintf(f->why, sizeof(f->why), "%s", strerror(-fd));
			continue;
		}
		f->fd = fd;
		reactor_watcher_init(&f->w, fd, on_connect);
		if (reactor_watcher_start(&d->r, &f->w, REACTOR_WRITE) < 0) {
			drop_socket(f);
			continue;
		}
		return;
	}
	fwd_fail(f, f->code ? f->code : "CONNECT_FAILED", "%s",
		 f->why[0] ? f->why : "no address to connect to");
}

/* ---- resolving ----------------------------------------------------------------- */

static void
on_resolved(void *arg, enum resolve_status st, const struct sockaddr_storage *addrs, size_t n,
	    const char *why)
{
	struct fwd *f = arg;
	const struct forward_policy *p = &f->d->cfg->forward_allow;
	char first[NET_ADDR_STRLEN] = "";
	size_t i;

	f->lookup = NULL;
	if (st == RESOLVE_NOT_FOUND) {
		fwd_fail(f, "NAME_NOT_FOUND", "%s: %s", f->host, why);
		return;
	}
	if (st == RESOLVE_TIMEOUT) {
		fwd_fail(f, "TIMEOUT", "resolving %s: %s", f->host, why);
		return;
	}
	if (st != RESOLVE_OK) {
		fwd_fail(f, "RESOLVE_FAILED", "resolving %s: %s", f->host, why);
		return;
	}
	for (i = 0; i < n; i++) {
		if (forward_policy_allows(p, (const struct sockaddr *)&addrs[i]))
			f->addrs[f->n++] = addrs[i];
		else if (!first[0])
			net_format_addr((const struct sockaddr *)&addrs[i], first, sizeof(first));
	}
	if (f->n == 0) {
		f->d->metrics.forward_refused_total++;
		fwd_fail(f, "NOT_ALLOWED", "%s is not allowed by --forward-allow", first);
		return;
	}
	try_next(f);
}

static void
on_deadline(struct reactor *r, struct reactor_timer *t)
{
	struct fwd *f = container_of(t, struct fwd, deadline);

	(void)r;
	fwd_fail(f, "TIMEOUT", "no connection to %s:%u within --forward-connect-timeout", f->host, f->port);
}

/* ---- the stream before FORWARD_OK ---------------------------------------------- */

static void
pending_data(struct stream *s, const uint8_t *p, size_t n)
{
	struct fwd *f = s->owner;

	(void)p;
	(void)n;
	mux_send_reset(f->m, s, FRAME_CODE_PROTOCOL_ERROR, "DATA before FORWARD_OK");
}

static void
pending_eof(struct stream *s)
{
	struct fwd *f = s->owner;

	mux_send_reset(f->m, s, FRAME_CODE_CANCEL, "closed before it was connected");
}

static void
pending_reset(struct stream *s, unsigned code, const char *reason, size_t rlen)
{
	(void)s;
	(void)code;
	(void)reason;
	(void)rlen; /* on_close follows */
}

static void
pending_credit(struct stream *s)
{
	(void)s;
}

static void
pending_close(struct stream *s)
{
	struct fwd *f = s->owner;

	s->ops = NULL;
	s->owner = NULL;
	if (f != NULL)
		fwd_close(f);
}

static const struct stream_ops pending_ops = {
	.on_data = pending_data,
	.on_eof = pending_eof,
	.on_reset = pending_reset,
	.on_credit = pending_credit,
	.on_close = pending_close,
};

static void
pump_done(struct pump *p)
{
	struct fwd *f = p->owner;

	log_debug("session %s: forward stream %u finished (up %llu B, down %llu B)", f->s->id, f->sid,
		  (unsigned long long)p->bytes_up, (unsigned long long)p->bytes_down);
	fdbudget_release(&f->d->fds, 1);
	f->s->forwards--;
	session_touch(f->s);
	fwd_set_state(f, FWD_CLOSED);
	free(f);
}

/* ---- FORWARD_OPEN -------------------------------------------------------------- */

/* {"host":"name or IP","port":N}: 0, or -1 (INVALID_TARGET). */
static int
parse_target(const uint8_t *json, size_t n, char *host, size_t cap, uint16_t *port)
{
	struct json_tok toks[16];
	struct json_doc doc;
	int64_t v;
	int len;

	if (json_parse(&doc, (const char *)json, n, toks, UTIL_ARRAY_SIZE(toks), NULL) < 0 ||
	    json_type(&doc, 0) != JSON_OBJECT)
		return -1;
	len = json_get_string(&doc, json_get(&doc, 0, "host"), host, cap);
	if (len <= 0 || (size_t)len != strlen(host) || json_obj_get_int(&doc, 0, "port", &v) != 0 || v < 1 ||
	    v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static void
refuse_early(struct session *s, int index, uint32_t sid, const char *code, const char *msg)
{
	struct tunnel *t = s->socks[index] != NULL ? &s->socks[index]->t : NULL; /* the socket it came on */

	log_info_kv(LOG_KV(LOG_S("session", s->id), LOG_N("stream", sid), LOG_S("code", code)),
		    "session %s: forward refused: %s: %s", s->id, code, msg);
	if (err_json(s->d, code, msg) == 0 && t != NULL)
		tunnel_send(t, FRAME_FORWARD_ERR, sid, s->d->scratch.pos, buf_len(&s->d->scratch));
}

static void
forward_open(struct session *s, int index, uint32_t sid, const uint8_t *json, size_t n)
{
	struct daemon *d = s->d;
	struct fwd *f;
	char host[256];
	uint16_t port;

	if (parse_target(json, n, host, sizeof(host), &port) < 0) {
		refuse_early(s, index, sid, "INVALID_TARGET",
			     "FORWARD_OPEN needs a host and a port 1..65535");
		return;
	}
	if (!session_accepts_streams(s) || (f = calloc(1, sizeof(*f))) == NULL) {
		refuse_early(s, index, sid, "INTERNAL", "the session takes no stream now");
		return;
	}
	f->st = mux_open(&s->mux, sid, STREAM_KIND_TCP, index);
	if (f->st == NULL) {
		free(f);
		refuse_early(s, index, sid, "INTERNAL", "too many streams on this session");
		return;
	}
	f->d = d;
	f->s = s;
	f->m = &s->mux;
	f->sid = sid;
	f->fd = -1;
	memcpy(f->host, host, sizeof(f->host));
	f->port = port;
	f->st->ops = &pending_ops;
	f->st->owner = f;
	fwd_set_state(f, FWD_RESOLVING);
	reactor_timer_init(&f->deadline, on_deadline);
	reactor_timer_start(&d->r, &f->deadline, d->cfg->forward_connect_timeout_ms, 0);
	f->lookup = resolve_start(&d->resolver, host, port, on_resolved, f);
	if (f->lookup == NULL)
		fwd_fail(f, "INTERNAL", "out of memory");
}

/* ---- set-up -------------------------------------------------------------------- */

/* see forward.h */
int
forward_init(struct daemon *d)
{
	char err[300], name[64];

	if (forward_policy_off(&d->cfg->forward_allow))
		return 0;
	if (resolve_init(&d->resolver, &d->r, d->cfg->dns_servers, d->cfg->forward_connect_timeout_ms, err,
			 sizeof(err)) < 0) {
		log_error("%s: %s", config_name(d->cfg, "dns-servers", name, sizeof(name)), err);
		return -1;
	}
	d->forward_open = forward_open;
	return 0;
}

/* see forward.h */
void
forward_fini(struct daemon *d)
{
	if (d->forward_open != NULL)
		resolve_fini(&d->resolver);
	d->forward_open = NULL;
}
