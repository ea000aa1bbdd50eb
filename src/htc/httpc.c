/*
 * httpc.c: one blocking HTTP/1.1 exchange with the control plane (see
 * httpc.h). The socket is non-blocking and every wait is a poll() bounded
 * by one deadline, so a daemon that accepts and then says nothing cannot
 * hang htc. Head and chunked parsing come from http1.c; this file only
 * moves bytes and applies the limits.
 */
#include "httpc.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "htc.h"
#include "tlsio.h"
#include "http1.h"

#define HTTPC_HEAD_MAX HTTP1_DEFAULT_MAX_HEAD
#define HTTPC_READ_CHUNK 16384
#define HTTPC_REQUEST_MAX (URL_PATH_MAX + URL_HOST_MAX + 4096 + 512)

/* One exchange in progress. */
struct httpc {
	int fd;
	int64_t deadline; /* monotonic ms */
	int timeout_ms;
	char addr[URL_HOST_MAX + 8]; /* "host:port" for messages */
	char *err;
	size_t errcap;
	char *in; /* received bytes not consumed yet: in[0..in_len) */
	size_t in_len, in_cap;
	size_t body_cap; /* bytes allocated for res->body */
	struct httpc_response *res;
	struct tlsio io; /* plain or TLS, once connected */
};

/* Format the error message; returns rc so that callers can `return fail(...)`. */
static int fail(struct httpc *h, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct httpc *h, int rc, const char *fmt, ...)
{
	va_list ap;

	if (h->errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(h->err, h->errcap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
fail_timeout(struct httpc *h)
{
	if (h->timeout_ms % 1000 == 0)
		return fail(h, -ETIMEDOUT, "no answer from %s within %d s", h->addr, h->timeout_ms / 1000);
	return fail(h, -ETIMEDOUT, "no answer from %s within %d ms", h->addr, h->timeout_ms);
}

/* Connect to u by the deadline. 0 or -errno (message set). */
static int
connect_url(struct httpc *h, const struct url *u)
{
	char why[256];
	int fd = tlsio_dial(u, (uint64_t)h->deadline, why, sizeof(why));

	if (fd == -ETIMEDOUT)
		return fail_timeout(h);
	if (fd < 0)
		return fail(h, fd, "%s", why);
	h->fd = fd;
	return 0;
}

static int
send_all(struct httpc *h, const char *p, size_t n)
{
	char why[256];

	if (tlsio_send_all(&h->io, p, n, (uint64_t)h->deadline, why, sizeof(why)) < 0)
		return fail(h, -EIO, "sending to %s: %s", h->addr, why);
	return 0;
}

/* Receive more bytes at the end of h->in. > 0 bytes, 0 at EOF, or -errno (message set). */
static ssize_t
recv_more(struct httpc *h)
{
	char why[256];
	ssize_t r;

	if (h->in_cap - h->in_len < HTTPC_READ_CHUNK) {
		size_t cap = UTIL_MAX(h->in_cap * 2, h->in_len + HTTPC_READ_CHUNK);
		char *p = realloc(h->in, cap);

		if (p == NULL)
			return fail(h, -ENOMEM, "out of memory");
		h->in = p;
		h->in_cap = cap;
	}
	r = tlsio_recv(&h->io, h->in + h->in_len, h->in_cap - h->in_len, (uint64_t)h->deadline, why,
		       sizeof(why));
	if (r < 0) {
		if (strstr(why, "timed out") != NULL)
			return fail_timeout(h);
		return fail(h, -EIO, "receiving from %s: %s", h->addr, why);
	}
	h->in_len += (size_t)r;
	return r;
}

/* Drop n consumed bytes from the front of h->in. */
static void
in_consume(struct httpc *h, size_t n)
{
	memmove(h->in, h->in + n, h->in_len - n);
	h->in_len -= n;
}

/* Append p[0..n) to the body, within HTTPC_BODY_MAX. */
static int
body_append(struct httpc *h, const void *p, size_t n)
{
	struct httpc_response *res = h->res;

	if (n > HTTPC_BODY_MAX - res->body_len)
		return fail(h, -EMSGSIZE, "answer from %s larger than %u bytes", h->addr, HTTPC_BODY_MAX);
	if (res->body_len + n + 1 > h->body_cap) { /* doubling: a 16 MiB body costs O(n) copies */
		size_t cap = UTIL_MAX(h->body_cap * 2, res->body_len + n + 1);
		char *b = realloc(res->body, cap);
		if (b == NULL)
			return fail(h, -ENOMEM, "out of memory");
		res->body = b;
		h->body_cap = cap;
	}
	if (n > 0)
		memcpy(res->body + res->body_len, p, n);
	res->body_len += n;
	res->body[res->body_len] = '\0';
	return 0;
}

static int
fail_short(struct httpc *h)
{
	return fail(h, -EPROTO, "%s closed the connection before the end of the answer", h->addr);
}

/* Read a final (non-1xx) response head; fills res, returns its body framing in *hr. */
static int
read_head(struct httpc *h, struct http1_response *hr, struct http1_header *hdrs, size_t nhdrs)
{
	size_t last = 0;

	for (;;) {
		ssize_t r, n;

		memset(hr, 0, sizeof(*hr));
		hr->headers = hdrs;
		hr->headers_cap = nhdrs;
		n = http1_parse_response(h->in, h->in_len, last, NULL, hr);
		if (n == HT_ERROR)
			return fail(h, -EPROTO, "bad answer from %s: %s", h->addr, http1_error_str(hr->err));
		if (n >= 0 && hr->status >= 200)
			return (int)n;
		if (n >= 0) { /* 1xx: an interim answer, the real one follows */
			in_consume(h, (size_t)n);
			last = 0;
			continue;
		}
		last = h->in_len;
		if ((r = recv_more(h)) < 0)
			return (int)r;
		if (r == 0 && h->in_len > 0)
			return fail_short(h);
		if (r == 0)
			return fail(h, -EPROTO, "%s closed the connection without answering", h->addr);
	}
}

/* Copy the status and reason of hr into res. */
static void
keep_status(struct httpc_response *res, const struct http1_response *hr)
{
	size_t n = UTIL_MIN(hr->reason_len, sizeof(res->reason) - 1), i;

	res->status = hr->status;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hr->reason[i];
		res->reason[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	res->reason[n] = '\0';
	if (n == 0)
		snprintf(res->reason, sizeof(res->reason), "%s", http1_reason_phrase(hr->status));
}

static int
read_length(struct httpc *h, uint64_t len)
{
	ssize_t r;

	if (len > HTTPC_BODY_MAX)
		return fail(h, -EMSGSIZE, "answer from %s larger than %u bytes", h->addr, HTTPC_BODY_MAX);
	while (h->in_len < len) {
		if ((r = recv_more(h)) < 0)
			return (int)r;
		if (r == 0)
			return fail_short(h);
	}
	return body_append(h, h->in, (size_t)len);
}

static int
read_chunked(struct httpc *h)
{
	struct http1_chunked c;

	http1_chunked_init(&c);
	for (;;) {
		const uint8_t *data;
		size_t dlen;
		ssize_t n = http1_chunked_decode(&c, (const uint8_t *)h->in, h->in_len, &data, &dlen);
		int rc;

		if (n == HT_ERROR)
			return fail(h, -EPROTO, "bad chunked answer from %s: %s", h->addr,
				    http1_chunked_error_str(c.err));
		if (dlen > 0 && (rc = body_append(h, data, dlen)) < 0)
			return rc;
		in_consume(h, (size_t)n);
		if (http1_chunked_done(&c))
			return 0;
		if (n == 0 || h->in_len == 0) {
			ssize_t r = recv_more(h);
			if (r < 0)
				return (int)r;
			if (r == 0)
				return fail_short(h);
		}
	}
}

static int
read_to_close(struct httpc *h)
{
	for (;;) {
		int rc = body_append(h, h->in, h->in_len);
		ssize_t r;

		if (rc < 0)
			return rc;
		h->in_len = 0;
		if ((r = recv_more(h)) <= 0)
			return (int)r;
	}
}

/* Read the response: head, then the body as the head says. */
static int
read_response(struct httpc *h)
{
	struct http1_header hdrs[HTTP1_DEFAULT_MAX_HEADERS];
	struct http1_response hr;
	int n, rc;

	if ((n = read_head(h, &hr, hdrs, UTIL_ARRAY_SIZE(hdrs))) < 0)
		return n;
	keep_status(h->res, &hr);
	in_consume(h, (size_t)n);
	if ((rc = body_append(h, "", 0)) < 0) /* body is never NULL */
		return rc;
	switch (hr.body) {
	case HTTP1_BODY_LENGTH: return read_length(h, hr.content_length);
	case HTTP1_BODY_CHUNKED: return read_chunked(h);
	case HTTP1_BODY_CLOSE: return read_to_close(h);
	default: return 0;
	}
}

/* The request head into out[0..cap). Its length, or -EINVAL (message set). */
static int
build_request(struct httpc *h, const struct url *u, const char *method, const char *target, const char *token,
	      char *out, size_t cap)
{
	char host[URL_HOST_MAX + 8];
	int n;

	if (!http1_method_valid(method, strlen(method)) || !http1_target_valid(target, strlen(target)))
		return fail(h, -EINVAL, "invalid method or request target");
	if (token != NULL && !http1_field_value_valid(token, strlen(token)))
		return fail(h, -EINVAL, "the token holds characters a header cannot carry");
	url_authority(u, 1, host, sizeof(host));
	n = snprintf(out, cap,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: htc/" HT_VERSION "\r\n"
		     "Accept: application/json, text/plain\r\nConnection: close\r\n%s%s%s\r\n",
		     method, target, host, token ? "Authorization: Bearer " : "", token ? token : "",
		     token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return fail(h, -EINVAL, "request too long");
	return n;
}

/* see httpc.h */
int
httpc_request(const struct url *u, const char *method, const char *target, const char *token, int timeout_ms,
	      struct httpc_response *res, char *err, size_t errcap)
{
	char req[HTTPC_REQUEST_MAX];
	struct httpc h = { .fd = -1, .err = err, .errcap = errcap, .res = res };
	int n, rc;

	memset(res, 0, sizeof(*res));
	if (errcap > 0)
		err[0] = '\0';
	h.timeout_ms = timeout_ms > 0 ? timeout_ms : HTTPC_TIMEOUT_MS;
	h.deadline = (int64_t)clock_mono_ms() + h.timeout_ms;
	url_authority(u, 0, h.addr, sizeof(h.addr));
	if ((n = build_request(&h, u, method, target, token, req, sizeof(req))) < 0)
		return n;
	h.io.conn.fd = -1;
	rc = connect_url(&h, u);
	if (rc == 0) {
		char why[256];

		if (tlsio_start(&h.io, h.fd, u, (uint64_t)h.deadline, why, sizeof(why)) < 0)
			rc = fail(&h, -EPROTO, "%s: %s", h.addr, why);
		h.fd = -1; /* h.io owns it now (and closed it on failure) */
	}
	if (rc == 0)
		rc = send_all(&h, req, (size_t)n);
	if (rc == 0)
		rc = read_response(&h);
	tlsio_close(&h.io);
	free(h.in);
	if (rc < 0)
		httpc_response_fini(res);
	return rc;
}

/* see httpc.h */
void
httpc_response_fini(struct httpc_response *res)
{
	free(res->body);
	memset(res, 0, sizeof(*res));
}
