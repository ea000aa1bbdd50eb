/*
 * wsconnect.c: htc's side of the WebSocket opening handshake (see
 * wsconnect.h), blocking with one deadline, before the event loop runs.
 */
#include "wsconnect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "tlsio.h"
#include "http1.h"
#include "util.h"
#include "ws_handshake.h"

/* see wsconnect.h */
int
wsconnect_check(const char *head, size_t len, size_t last_len, const char *key, const char *proto,
		size_t *head_len, char *err, size_t errlen)
{
	const char *const protos[] = { proto };
	struct http1_header hdrs[WSCONNECT_HEAD_FIELDS];
	struct http1_response res;
	struct http1_limits lim = { WSCONNECT_HEAD_MAX, WSCONNECT_HEAD_FIELDS };
	const char *why, *sel;
	ssize_t n;

	memset(&res, 0, sizeof(res));
	res.headers = hdrs;
	res.headers_cap = UTIL_ARRAY_SIZE(hdrs);
	n = http1_parse_response(head, len, last_len, &lim, &res);
	if (n == HT_AGAIN)
		return 0;
	if (n < 0) {
		snprintf(err, errlen, "bad answer to the WebSocket handshake");
		return -1;
	}
	if (res.status != 101) {
		snprintf(err, errlen, "WebSocket upgrade refused: %d %.*s", res.status, (int)res.reason_len,
			 res.reason);
		return -1;
	}
	why = ws_handshake_client_check(res.status, hdrs, res.num_headers, key, strlen(key), protos, 1, 1,
					&sel);
	if (why != NULL) {
		snprintf(err, errlen, "WebSocket handshake failed: %s", why);
		return -1;
	}
	*head_len = (size_t)n;
	return 1;
}

/* see wsconnect.h */
ssize_t
wsconnect_request(const struct url *u, const char *proto, char key[WS_HANDSHAKE_KEY_LEN + 1], char *out,
		  size_t cap)
{
	const char *const protos[] = { proto };
	char host[URL_HOST_MAX + 16];
	struct ws_handshake_request rq;
	ssize_t n;
	int rc = ws_handshake_client_key(key);

	if (rc < 0)
		return rc;
	url_authority(u, 1, host, sizeof(host));
	memset(&rq, 0, sizeof(rq));
	rq.host = host;
	rq.path = u->path;
	rq.key = key;
	rq.protocols = protos;
	rq.nprotocols = 1;
	n = ws_handshake_request_encode(out, cap, &rq);
	return n < 0 ? -ENOSPC : n;
}

/* see wsconnect.h */
void
wsconnect_request_error(ssize_t rc, char *err, size_t errlen)
{
	if (rc == -ENOSPC)
		snprintf(err, errlen, "WebSocket handshake request too long");
	else
		snprintf(err, errlen, "no random numbers for the WebSocket key: %s", strerror((int)-rc));
}

/* Read the 101 response; leftover bytes after it go to *pre. */
static int
read_upgrade(struct tlsio *io, const char *key, const char *proto, uint64_t deadline, struct buf *pre,
	     char *err, size_t errlen)
{
	char head[WSCONNECT_HEAD_MAX];
	size_t len = 0, n = 0;
	int rc = 0;

	while (rc == 0) {
		ssize_t k = len < sizeof(head)
				    ? tlsio_recv(io, head + len, sizeof(head) - len, deadline, err, errlen)
				    : -1;

		if (k <= 0) {
			if (k == 0 || len == sizeof(head))
				snprintf(err, errlen, "connection closed during the WebSocket handshake");
			return -1;
		}
		rc = wsconnect_check(head, len + (size_t)k, len, key, proto, &n, err, errlen);
		len += (size_t)k;
	}
	if (rc < 0)
		return -1;
	return buf_append(pre, head + n, len - n);
}

/* see wsconnect.h */
int
wsconnect_open(const struct url *u, const char *proto, struct buf *pre, struct conn *out, char *err,
	       size_t errlen)
{
	uint64_t deadline = clock_mono_ms() + WSCONNECT_TIMEOUT_MS;
	char key[WS_HANDSHAKE_KEY_LEN + 1], req[2048];
	struct tlsio io;
	ssize_t n;
	int fd;

	fd = tlsio_dial(u, deadline, err, errlen);
	if (fd < 0)
		return -1;
	if (tlsio_start(&io, fd, u, deadline, err, errlen) < 0)
		return -1;
	n = wsconnect_request(u, proto, key, req, sizeof(req));
	if (n < 0)
		wsconnect_request_error(n, err, errlen);
	if (n < 0 || tlsio_send_all(&io, req, (size_t)n, deadline, err, errlen) < 0 ||
	    read_upgrade(&io, key, proto, deadline, pre, err, errlen) < 0) {
		tlsio_close(&io);
		return -1;
	}
	*out = io.conn;
	return 0;
}
