/*
 * fuzz_http1_head.c: request and response head parsers.
 *
 * Input: one flags byte, one split byte, then the head bytes.
 *   flags bit 0: parse a response (else a request)
 *   flags bit 1: the response answers HEAD; bit 2: answers CONNECT
 *   flags bit 3: small limits (max_head 128, 4 fields) instead of the defaults
 * The head is parsed the way a connection does it: first the prefix that
 * the split byte selects (in its own allocation, so ASan sees any read past
 * it), then, if that was incomplete, the whole input with last_len set.
 * The outcome must equal a single parse of the whole input, and every
 * result must stay inside the buffer and obey the documented rules.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	ssize_t r;
	enum http1_error err;
	size_t num_headers;
	enum http1_body body;
	uint64_t content_length;
	int keep_alive;
	int upgrade;
	int status;
};

static int
within(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && p + n <= buf + len;
}

static void
check_headers(const struct http1_header *h, size_t n, const char *buf, size_t r)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert(within(h[i].name, h[i].name_len, buf, r));
		assert(within(h[i].value, h[i].value_len, buf, r));
		assert(http1_token_valid(h[i].name, h[i].name_len));
		assert(http1_field_value_valid(h[i].value, h[i].value_len));
		if (h[i].value_len > 0) { /* OWS trimmed */
			assert(h[i].value[0] != ' ' && h[i].value[0] != '\t');
			assert(h[i].value[h[i].value_len - 1] != ' ' &&
			       h[i].value[h[i].value_len - 1] != '\t');
		}
		(void)http1_is_hop_by_hop(h[i].name, h[i].name_len);
		(void)http1_header_is_named_in_connection(h, n, h[i].name, h[i].name_len);
	}
	(void)http1_connection_has_token(h, n, "close");
	(void)http1_find_header(h, n, "Host");
}

static struct outcome
parse(const char *buf, size_t len, size_t last_len, uint8_t flags, struct http1_header *hdrs)
{
	static const struct http1_limits small = { .max_head = 128, .max_headers = 4 };
	const struct http1_limits *lim = (flags & 8) ? &small : NULL;
	struct outcome o = { 0 };

	if (flags & 1) {
		struct http1_response res = { .headers = hdrs, .headers_cap = CAP };

		res.req_head = flags & 2;
		res.req_connect = flags & 4;
		o.r = http1_parse_response(buf, len, last_len, lim, &res);
		o.err = res.err;
		o.num_headers = res.num_headers;
		o.body = res.body;
		o.content_length = res.content_length;
		o.keep_alive = res.keep_alive;
		o.upgrade = res.upgrade;
		o.status = res.status;
		if (o.r >= 0) {
			assert(res.status >= 100 && res.status <= 999);
			assert(within(res.reason, res.reason_len, buf, (size_t)o.r));
			assert(res.minor_version == 0 || res.minor_version == 1);
			assert(res.body != HTTP1_BODY_CLOSE || !res.keep_alive);
		}
	} else {
		struct http1_request req = { .headers = hdrs, .headers_cap = CAP };

		o.r = http1_parse_request(buf, len, last_len, lim, &req);
		o.err = req.err;
		o.num_headers = req.num_headers;
		o.body = req.body;
		o.content_length = req.content_length;
		o.keep_alive = req.keep_alive;
		o.upgrade = req.upgrade;
		if (o.r >= 0) {
			assert(within(req.method, req.method_len, buf, (size_t)o.r));
			assert(http1_method_valid(req.method, req.method_len));
			assert(within(req.target, req.target_len, buf, (size_t)o.r));
			assert(http1_target_valid(req.target, req.target_len));
			assert(req.minor_version == 0 || req.minor_version == 1);
			assert(req.body != HTTP1_BODY_CLOSE);
		}
	}
	assert(o.r == HT_AGAIN || o.r == HT_ERROR || (o.r > 0 && (size_t)o.r <= len));
	assert((o.r == HT_ERROR) == (o.err != HTTP1_OK));
	assert((unsigned)o.err < HTTP1_ERR_MAX);
	if (o.r >= 0) {
		assert(o.num_headers <= CAP);
		assert(lim == NULL || ((size_t)o.r <= lim->max_head && o.num_headers <= lim->max_headers));
		assert((unsigned)o.body < HTTP1_BODY_MAX);
		assert(o.content_length <= HTTP1_CONTENT_LENGTH_MAX);
		assert(memcmp(buf + o.r - 4, "\r\n\r\n", 4) == 0);
		check_headers(hdrs, o.num_headers, buf, (size_t)o.r);
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_header hdrs[CAP];
	struct outcome whole, step;
	size_t n, split;
	uint8_t flags;
	char *buf, *prefix;

	if (size < 2)
		return 0;
	flags = data[0];
	n = size - 2;
	split = n ? data[1] % (n + 1) : 0;
	buf = malloc(n ? n : 1);
	prefix = malloc(split ? split : 1);
	if (buf == NULL || prefix == NULL)
		abort();
	memcpy(buf, data + 2, n);
	memcpy(prefix, data + 2, split);

	whole = parse(buf, n, 0, flags, hdrs);
	step = parse(prefix, split, 0, flags, hdrs);
	if (step.r == HT_AGAIN)
		step = parse(buf, n, split, flags, hdrs);
	assert(step.r == whole.r && step.err == whole.err);
	if (whole.r >= 0)
		assert(step.num_headers == whole.num_headers && step.body == whole.body &&
		       step.content_length == whole.content_length && step.keep_alive == whole.keep_alive &&
		       step.upgrade == whole.upgrade && step.status == whole.status);
	free(prefix);
	free(buf);
	return 0;
}
