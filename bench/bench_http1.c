/*
 * bench_http1.c: throughput of the HTTP/1.1 head parser and chunked decoder.
 *
 * 1. A typical ~400-byte browser request head parsed over and over (the
 *    whole head at once, as after one read()): heads/s and ns/head.
 * 2. A 1 MiB body in 4 KiB chunks, chunked-encoded once, then decoded
 *    over and over in 16 KiB reads: MB/s of body data.
 * Each part runs for about one second; the whole takes under 3 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"

static const char request[] =
	"GET /assets/js/app.min.js?v=2024.6 HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
	"Accept: */*\r\n"
	"Accept-Language: en-US,en;q=0.5\r\n"
	"Accept-Encoding: gzip, deflate, br, zstd\r\n"
	"Referer: https://www.example.com/\r\n"
	"Connection: keep-alive\r\n"
	"Cookie: session=8f3a2b1c9d4e5f60718293a4b5c6d7e8; theme=dark\r\n"
	"Sec-Fetch-Dest: script\r\n"
	"Sec-Fetch-Mode: no-cors\r\n"
	"\r\n";

#define BODY_LEN (1u << 20)
#define CHUNK_LEN 4096u
#define READ_LEN 16384u

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink;

static int
bench_heads(void)
{
	struct http1_header hdrs[32];
	struct http1_request req = { .headers = hdrs, .headers_cap = 32 };
	size_t len = sizeof(request) - 1, n = 0, i;
	double t0 = now_s(), t;

	do {
		for (i = 0; i < 10000; i++) {
			if (http1_parse_request(request, len, 0, NULL, &req) != (ssize_t)len) {
				fprintf(stderr, "bench_http1: head did not parse: %s\n",
					http1_error_str(req.err));
				return -1;
			}
			sink += req.num_headers;
		}
		n += i;
		t = now_s() - t0;
	} while (t < 1.0);
	printf("http1 request head (%zu bytes, %zu fields): %.0f heads/s, %.1f ns/head, %.0f MB/s\n", len,
	       req.num_headers, (double)n / t, t * 1e9 / (double)n, (double)n * (double)len / t / 1e6);
	return 0;
}

/* The chunked encoding of BODY_LEN bytes in CHUNK_LEN chunks; *n its length. */
static unsigned char *
make_chunked(size_t *n)
{
	size_t cap = BODY_LEN + (BODY_LEN / CHUNK_LEN) * (HTTP1_CHUNK_HEADER_MAX + 2) + 16, off = 0, done;
	unsigned char *p = malloc(cap);

	if (p == NULL)
		return NULL;
	for (done = 0; done < BODY_LEN; done += CHUNK_LEN) {
		off += http1_chunk_header((char *)p + off, CHUNK_LEN);
		memset(p + off, 'a' + (int)(done / CHUNK_LEN % 26), CHUNK_LEN);
		off += CHUNK_LEN;
		memcpy(p + off, HTTP1_CHUNK_END, HTTP1_CHUNK_END_LEN);
		off += HTTP1_CHUNK_END_LEN;
	}
	memcpy(p + off, HTTP1_LAST_CHUNK, HTTP1_LAST_CHUNK_LEN);
	*n = off + HTTP1_LAST_CHUNK_LEN;
	return p;
}

/* Decode the whole body once in READ_LEN reads; the body bytes, or 0. */
static size_t
decode_once(const unsigned char *in, size_t n)
{
	struct http1_chunked c;
	const uint8_t *data;
	size_t off = 0, len, got = 0, avail, piece;
	ssize_t r;

	http1_chunked_init(&c);
	while (off < n && !http1_chunked_done(&c)) {
		avail = n - off < READ_LEN ? n - off : READ_LEN;
		for (piece = 0; piece < avail && !http1_chunked_done(&c); piece += (size_t)r) {
			r = http1_chunked_decode(&c, in + off + piece, avail - piece, &data, &len);
			if (r <= 0)
				return 0;
			got += len;
		}
		off += piece;
	}
	return http1_chunked_done(&c) ? got : 0;
}

static int
bench_chunked(void)
{
	size_t n, runs = 0;
	unsigned char *in = make_chunked(&n);
	double t0, t;

	if (in == NULL)
		return -1;
	t0 = now_s();
	do {
		if (decode_once(in, n) != BODY_LEN) {
			fprintf(stderr, "bench_http1: chunked body did not decode\n");
			free(in);
			return -1;
		}
		runs++;
		t = now_s() - t0;
	} while (t < 1.0);
	printf("http1 chunked decode (1 MiB in %u-byte chunks, %u-byte reads): %.0f MB/s\n", CHUNK_LEN,
	       READ_LEN, (double)runs * BODY_LEN / t / 1e6);
	free(in);
	return 0;
}

int
main(void)
{
	if (bench_heads() != 0 || bench_chunked() != 0)
		return 1;
	return 0;
}
