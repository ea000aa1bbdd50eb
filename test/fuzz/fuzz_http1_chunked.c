/*
 * fuzz_http1_chunked.c: the chunked decoder, and the encoder round trip.
 *
 * Input: one split byte, then chunked body bytes. They are decoded in two
 * pieces (each in its own allocation, so ASan sees any read past a piece)
 * and, separately, in one piece; both runs must end the same way (done, or
 * the same error) and, when they succeed, report the same body bytes and
 * consume the same number of bytes. Every call must consume
 * no more than it was given and report data only from inside what it
 * consumed. Then the input is used as a body: encoded into chunks whose
 * sizes come from the input, decoded, and compared.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct http1_chunked c;
	uint8_t *out; /* body bytes reported */
	size_t out_len;
	size_t consumed; /* total bytes consumed */
	int failed;
};

/* Feed one piece (copied to its own allocation) through the decoder. */
static void
feed(struct run *run, const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1), *in = p;
	const uint8_t *d;
	size_t len;
	ssize_t r;

	if (p == NULL)
		abort();
	memcpy(p, src, n);
	for (;;) {
		r = http1_chunked_decode(&run->c, in, n, &d, &len);
		if (r == HT_ERROR) {
			assert(run->c.err != HTTP1_CHUNKED_OK &&
			       (unsigned)run->c.err < HTTP1_CHUNKED_ERR_MAX);
			assert(d == NULL && len == 0);
			run->failed = 1;
			break;
		}
		assert(!run->failed);
		assert(r >= 0 && (size_t)r <= n);
		assert(d == NULL ? len == 0 : (d >= in && len > 0 && d + len <= in + r));
		if (d != NULL) {
			memcpy(run->out + run->out_len, d, len);
			run->out_len += len;
		}
		run->consumed += (size_t)r;
		in += r;
		n -= (size_t)r;
		if (http1_chunked_done(&run->c)) {
			assert(http1_chunked_decode(&run->c, in, n, &d, &len) == 0 && d == NULL);
			break;
		}
		if (n == 0)
			break;
		assert(r > 0);
	}
	assert((unsigned)run->c.state < HTTP1_CHUNKED_STATE_MAX);
	free(p);
}

static void
decode_differential(const uint8_t *data, size_t n, size_t split)
{
	struct run a = { 0 }, b = { 0 };

	a.out = malloc(n + 1);
	b.out = malloc(n + 1);
	if (a.out == NULL || b.out == NULL)
		abort();
	http1_chunked_init(&a.c);
	http1_chunked_init(&b.c);
	feed(&a, data, split);
	feed(&a, data + split, n - split);
	feed(&b, data, n);
	assert(a.failed == b.failed && a.c.err == b.c.err);
	assert(http1_chunked_done(&a.c) == http1_chunked_done(&b.c));
	assert(a.consumed <= n && a.out_len <= a.consumed);
	if (!a.failed) {
		/* (A failing call reports no count and no data: then the split matters.) */
		assert(a.consumed == b.consumed && a.out_len == b.out_len);
		assert(a.out_len == 0 || memcmp(a.out, b.out, a.out_len) == 0);
	}
	free(a.out);
	free(b.out);
}

/* Encode data[0..n) in chunks of 1..256 bytes chosen by the data, decode back. */
static void
round_trip(const uint8_t *data, size_t n)
{
	uint8_t *enc = malloc(n * (1 + HTTP1_CHUNK_HEADER_MAX + HTTP1_CHUNK_END_LEN) + HTTP1_LAST_CHUNK_LEN);
	struct run run = { 0 };
	size_t off = 0, elen = 0, k;

	run.out = malloc(n + 1);
	if (enc == NULL || run.out == NULL)
		abort();
	while (off < n) {
		k = (size_t)data[off] + 1;
		if (k > n - off)
			k = n - off;
		elen += http1_chunk_header((char *)enc + elen, k);
		memcpy(enc + elen, data + off, k);
		elen += k;
		memcpy(enc + elen, HTTP1_CHUNK_END, HTTP1_CHUNK_END_LEN);
		elen += HTTP1_CHUNK_END_LEN;
		off += k;
	}
	memcpy(enc + elen, HTTP1_LAST_CHUNK, HTTP1_LAST_CHUNK_LEN);
	elen += HTTP1_LAST_CHUNK_LEN;
	http1_chunked_init(&run.c);
	feed(&run, enc, elen);
	assert(!run.failed && http1_chunked_done(&run.c) && run.consumed == elen);
	assert(run.out_len == n && (n == 0 || memcmp(run.out, data, n) == 0));
	free(run.out);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	decode_differential(data + 1, n, n ? data[0] % (n + 1) : 0);
	round_trip(data + 1, n);
	return 0;
}
