/*
 * ws_handshake.c: WebSocket opening handshake, see ws_handshake.h.
 *
 * Header values arrive already parsed (http1.h's struct http1_header); this
 * file only interprets them: token lists, the key, the accept hash (BearSSL
 * SHA-1) and subprotocol choice, and writes request and response heads
 * into caller buffers with an overflow-checked appender.
 */
#include "ws_handshake.h"

#include <bearssl.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- small helpers ------------------------------------------------------ */

/* An output buffer that remembers overflow instead of failing each call. */
struct out {
	char *p;
	size_t cap;
	size_t len;
	int overflow;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static ssize_t
out_done(const struct out *o)
{
	return o->overflow ? -1 : (ssize_t)o->len;
}

static int
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Next element of a comma-separated list in [*v, end): skip empty elements,
 * trim whitespace. Returns 1 with *tok and *tlen set, 0 at the end.
 */
static int
next_token(const char **v, const char *end, const char **tok, size_t *tlen)
{
	const char *s = *v, *e;

	for (;;) {
		while (s < end && (is_ows(*s) || *s == ','))
			s++;
		if (s == end) {
			*v = s;
			return 0;
		}
		e = s;
		while (e < end && *e != ',')
			e++;
		*v = e;
		while (e > s && is_ows(e[-1]))
			e--;
		*tok = s;
		*tlen = (size_t)(e - s);
		return 1;
	}
}

/* see ws_handshake.h */
int
ws_handshake_has_token(const char *v, size_t len, const char *token)
{
	const char *end = v + len, *t;
	size_t tl;

	while (next_token(&v, end, &t, &tl))
		if (util_strcaseeq(t, tl, token))
			return 1;
	return 0;
}

static int
name_is(const struct http1_header *h, const char *name)
{
	return util_strcaseeq(h->name, h->name_len, name);
}

/* 1 when any header called name lists token. */
static int
any_has_token(const struct http1_header *hdrs, size_t n, const char *name, const char *token)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (name_is(&hdrs[i], name) &&
		    ws_handshake_has_token(hdrs[i].value, hdrs[i].value_len, token))
			return 1;
	return 0;
}

/* The only header called name, or NULL; *count says how many there were. */
static const struct http1_header *
find_one(const struct http1_header *hdrs, size_t n, const char *name, size_t *count)
{
	const struct http1_header *found = NULL;
	size_t i;

	*count = 0;
	for (i = 0; i < n; i++) {
		if (name_is(&hdrs[i], name)) {
			found = &hdrs[i];
			(*count)++;
		}
	}
	return *count == 1 ? found : NULL;
}

/* Index of s[0..len) in list (exact match), or -1. */
static ssize_t
list_index(const char *const *list, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return (ssize_t)i;
	return -1;
}

/* ---- keys --------------------------------------------------------------- */

/* see ws_handshake.h */
void
ws_handshake_accept_key(char out[WS_HANDSHAKE_ACCEPT_LEN + 1], const char *key, size_t key_len)
{
	br_sha1_context sha;
	uint8_t digest[br_sha1_SIZE];

	br_sha1_init(&sha);
	br_sha1_update(&sha, key, key_len);
	br_sha1_update(&sha, ws_guid, sizeof(ws_guid) - 1);
	br_sha1_out(&sha, digest);
	util_base64_encode(out, digest, sizeof(digest));
}

/* see ws_handshake.h */
int
ws_handshake_client_key(char out[WS_HANDSHAKE_KEY_LEN + 1])
{
	uint8_t nonce[16];
	int rc = util_random(nonce, sizeof(nonce));

	if (rc < 0)
		return rc;
	util_base64_encode(out, nonce, sizeof(nonce));
	return 0;
}

/* 1 when the key is 24 base64 characters that decode to 16 bytes. */
static int
key_valid(const struct http1_header *h)
{
	uint8_t raw[18];

	return h->value_len == WS_HANDSHAKE_KEY_LEN &&
	       util_base64_decode(raw, sizeof(raw), h->value, h->value_len) == 16;
}

/* ---- client request ----------------------------------------------------- */

/* see ws_handshake.h */
ssize_t
ws_handshake_request_encode(char *out, size_t cap, const struct ws_handshake_request *rq)
{
	struct out o = { out, cap, 0, 0 };
	size_t i;

	if (has_crlf(rq->host) || has_crlf(rq->path) || has_crlf(rq->key))
		return -1;
	puts_(&o, "GET ");
	puts_(&o, rq->path);
	puts_(&o, " HTTP/1.1\r\nHost: ");
	puts_(&o, rq->host);
	puts_(&o, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
	puts_(&o, rq->key);
	puts_(&o, "\r\nSec-WebSocket-Version: 13\r\n");
	for (i = 0; i < rq->nprotocols; i++) {
		if (has_crlf(rq->protocols[i]))
			return -1;
		puts_(&o, i == 0 ? "Sec-WebSocket-Protocol: " : ", ");
		puts_(&o, rq->protocols[i]);
	}
	if (rq->nprotocols > 0)
		puts_(&o, "\r\n");
	if (rq->extra != NULL)
		puts_(&o, rq->extra);
	puts_(&o, "\r\n");
	return out_done(&o);
}

/* ---- server side -------------------------------------------------------- */

static int
verdict(struct ws_handshake_result *res, int status, const char *reason)
{
	res->status = status;
	res->reason = reason;
	return status;
}

/*
 * The first subprotocol of the client's offer that we support, or NULL.
 * *offered is set when the client offered any.
 */
static const char *
choose_protocol(const struct http1_header *hdrs, size_t n, const char *const *protocols, size_t np,
		int *offered)
{
	size_t i;

	*offered = 0;
	for (i = 0; i < n; i++) {
		const char *v = hdrs[i].value, *end = v + hdrs[i].value_len, *t;
		size_t tl;
		if (!name_is(&hdrs[i], "Sec-WebSocket-Protocol"))
			continue;
		while (next_token(&v, end, &t, &tl)) {
			ssize_t k = list_index(protocols, np, t, tl);
			*offered = 1;
			if (k >= 0)
				return protocols[k];
		}
	}
	return NULL;
}

/* Everything but the subprotocol; returns 0 when the request is an upgrade. */
static int
check_upgrade(struct ws_handshake_result *res, const char *method, size_t method_len, int http_minor,
	      const struct http1_header *hdrs, size_t n)
{
	const struct http1_header *key;
	size_t count, i;

	if (method_len != 3 || memcmp(method, "GET", 3) != 0)
		return verdict(res, 400, "WebSocket upgrade needs GET");
	if (http_minor < 1)
		return verdict(res, 400, "WebSocket upgrade needs HTTP/1.1");
	if (find_one(hdrs, n, "Host", &count) == NULL)
		return verdict(res, 400, "missing or repeated Host header");
	if (!any_has_token(hdrs, n, "Upgrade", "websocket"))
		return verdict(res, 400, "missing Upgrade: websocket");
	if (!any_has_token(hdrs, n, "Connection", "upgrade"))
		return verdict(res, 400, "missing Connection: Upgrade");
	count = 0;
	for (i = 0; i < n; i++) {
		if (!name_is(&hdrs[i], "Sec-WebSocket-Version"))
			continue;
		count++;
		if (!util_strcaseeq(hdrs[i].value, hdrs[i].value_len, "13"))
			return verdict(res, 426, "unsupported WebSocket version (13 only)");
	}
	if (count == 0)
		return verdict(res, 426, "missing Sec-WebSocket-Version");
	key = find_one(hdrs, n, "Sec-WebSocket-Key", &count);
	if (key == NULL || !key_valid(key))
		return verdict(res, 400, "missing or bad Sec-WebSocket-Key");
	ws_handshake_accept_key(res->accept, key->value, key->value_len);
	return 0;
}

/* see ws_handshake.h */
int
ws_handshake_server_check(struct ws_handshake_result *res, const char *method, size_t method_len,
			  int http_minor, const struct http1_header *hdrs, size_t nhdrs,
			  const char *const *protocols, size_t nprotocols, int require_protocol)
{
	int offered;

	memset(res, 0, sizeof(*res));
	if (check_upgrade(res, method, method_len, http_minor, hdrs, nhdrs) != 0)
		return res->status;
	res->protocol = choose_protocol(hdrs, nhdrs, protocols, nprotocols, &offered);
	if (res->protocol == NULL && require_protocol) {
		res->accept[0] = '\0';
		return verdict(res, 400, offered ? "unsupported subprotocol" : "missing subprotocol");
	}
	return verdict(res, 101, "Switching Protocols");
}

static const char *
status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 426: return "Upgrade Required";
	default: return "Bad Request";
	}
}

/* see ws_handshake.h */
ssize_t
ws_handshake_response_encode(char *out, size_t cap, const struct ws_handshake_result *res, const char *extra)
{
	struct out o = { out, cap, 0, 0 };
	char line[64];

	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", res->status, status_text(res->status));
	puts_(&o, line);
	if (res->status == 101) {
		puts_(&o, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
		puts_(&o, res->accept);
		puts_(&o, "\r\n");
		if (res->protocol != NULL) {
			puts_(&o, "Sec-WebSocket-Protocol: ");
			puts_(&o, res->protocol);
			puts_(&o, "\r\n");
		}
	} else {
		if (res->status == 426)
			puts_(&o, "Sec-WebSocket-Version: 13\r\n");
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n", strlen(res->reason) + 1);
		puts_(&o, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n");
		puts_(&o, line);
	}
	if (extra != NULL)
		puts_(&o, extra);
	puts_(&o, "\r\n");
	if (res->status != 101) {
		puts_(&o, res->reason);
		puts_(&o, "\n");
	}
	return out_done(&o);
}

/* ---- client side -------------------------------------------------------- */

/* The server's subprotocol answer; NULL when acceptable. */
static const char *
check_selected(const struct http1_header *hdrs, size_t n, const char *const *protocols, size_t np,
	       int require_protocol, const char **selected)
{
	const struct http1_header *h;
	size_t count;
	ssize_t k;

	h = find_one(hdrs, n, "Sec-WebSocket-Protocol", &count);
	if (count > 1)
		return "server sent more than one Sec-WebSocket-Protocol";
	if (h == NULL)
		return require_protocol ? "server selected no subprotocol" : NULL;
	k = list_index(protocols, np, h->value, h->value_len);
	if (k < 0)
		return "server selected a subprotocol we did not offer";
	if (selected != NULL)
		*selected = protocols[k];
	return NULL;
}

/* see ws_handshake.h */
const char *
ws_handshake_client_check(int status, const struct http1_header *hdrs, size_t nhdrs, const char *key,
			  size_t key_len, const char *const *protocols, size_t nprotocols,
			  int require_protocol, const char **selected)
{
	const struct http1_header *acc;
	char expect[WS_HANDSHAKE_ACCEPT_LEN + 1];
	size_t count;

	if (selected != NULL)
		*selected = NULL;
	if (status != 101)
		return "server did not switch protocols (status is not 101)";
	if (!any_has_token(hdrs, nhdrs, "Upgrade", "websocket"))
		return "response lacks Upgrade: websocket";
	if (!any_has_token(hdrs, nhdrs, "Connection", "upgrade"))
		return "response lacks Connection: Upgrade";
	acc = find_one(hdrs, nhdrs, "Sec-WebSocket-Accept", &count);
	if (acc == NULL)
		return "missing or repeated Sec-WebSocket-Accept";
	ws_handshake_accept_key(expect, key, key_len);
	if (acc->value_len != WS_HANDSHAKE_ACCEPT_LEN ||
	    memcmp(acc->value, expect, WS_HANDSHAKE_ACCEPT_LEN) != 0)
		return "Sec-WebSocket-Accept does not match our key";
	find_one(hdrs, nhdrs, "Sec-WebSocket-Extensions", &count);
	if (count > 0)
		return "server chose an extension we did not offer";
	return check_selected(hdrs, nhdrs, protocols, nprotocols, require_protocol, selected);
}
