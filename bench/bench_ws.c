/*
 * bench_ws.c: WebSocket codec throughput (ws.h).
 *
 *   unmask   ws_mask() over 256 KiB buffers, against a byte-at-a-time loop
 *   parse    ws_parse() over 64 KiB masked binary frames (server role), the
 *            stream given whole and in 16 KiB pieces (a socket read's worth)
 *   text     the same with ASCII text frames (adds UTF-8 validation)
 *
 * Each figure runs for about 0.4 s; the whole program stays under 3 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ws.h"

#define RUN_SECONDS 0.4

#if defined(__GNUC__) && !defined(__clang__)
#define NO_VECTORIZE __attribute__((noinline, optimize("no-tree-vectorize")))
#else
#define NO_VECTORIZE __attribute__((noinline))
#endif

/* The obvious loop, kept out of line and unvectorised for an honest baseline. */
NO_VECTORIZE static void
mask_bytewise(uint8_t *p, size_t n, const uint8_t key[4], size_t offset)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] ^= key[(offset + i) & 3];
}

static volatile uint8_t sink;

static void
bench_unmask(void)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t n = 256 * 1024, bytes;
	uint8_t *buf = malloc(n);
	double t0, fast, slow;

	memset(buf, 0xA5, n);
	for (bytes = 0, t0 = bench_now(); bench_now() - t0 < RUN_SECONDS; bytes += n)
		ws_mask(buf, n, key, bytes & 3);
	fast = (double)bytes / (bench_now() - t0) / 1e9;
	for (bytes = 0, t0 = bench_now(); bench_now() - t0 < RUN_SECONDS; bytes += n)
		mask_bytewise(buf, n, key, bytes & 3);
	slow = (double)bytes / (bench_now() - t0) / 1e9;
	sink = buf[n / 2];
	printf("unmask 256 KiB      ws_mask %6.2f GB/s   byte-at-a-time %5.2f GB/s   (x%.1f)\n", fast, slow,
	       fast / slow);
	free(buf);
}

/* A stream of nframes masked frames of len bytes each. */
static uint8_t *
make_stream(unsigned opcode, size_t len, size_t nframes, size_t *total)
{
	static const uint8_t key[4] = { 0xDE, 0xAD, 0xBE, 0xEF };
	uint8_t hdr[WS_MAX_HEADER];
	size_t h = ws_header_encode(hdr, opcode, 1, len, key), i;
	uint8_t *s = malloc((h + len) * nframes);

	for (i = 0; i < nframes; i++) {
		uint8_t *f = s + i * (h + len);
		memcpy(f, hdr, h);
		memset(f + h, 'a' + (int)(i % 26), len);
		ws_mask(f + h, len, key, 0);
	}
	*total = (h + len) * nframes;
	return s;
}

/* Parse the stream repeatedly in pieces of `piece` bytes; GB/s of stream. */
static double
parse_rate(uint8_t *s, size_t total, size_t piece, size_t *events)
{
	struct ws_parser p;
	struct ws_event ev;
	size_t bytes = 0, off, end;
	double t0 = bench_now();

	*events = 0;
	while (bench_now() - t0 < RUN_SECONDS) {
		/* unmasking in place flips the payload each pass: binary does not care */
		ws_parser_init(&p, WS_ROLE_SERVER, 0);
		for (off = 0; off < total; off = end) {
			end = off + piece < total ? off + piece : total;
			while (off < end) {
				ssize_t r = ws_parse(&p, s + off, end - off, &ev);
				if (r < 0) {
					fprintf(stderr, "bench_ws: parse error %s\n", p.error);
					exit(1);
				}
				off += (size_t)r;
				*events += ev.type == WS_EV_DATA;
			}
		}
		bytes += total;
	}
	return (double)bytes / (bench_now() - t0) / 1e9;
}

static void
bench_parse(unsigned opcode, const char *name)
{
	size_t total, events;
	uint8_t *s = make_stream(opcode, 64 * 1024, 64, &total);
	double whole, pieces;

	if (opcode == WS_OP_TEXT) {
		/* keep the text valid on every pass: parse a private copy each time */
		uint8_t *copy = malloc(total);
		struct ws_parser p;
		struct ws_event ev;
		size_t bytes = 0, off;
		double t0 = bench_now();

		while (bench_now() - t0 < RUN_SECONDS) {
			memcpy(copy, s, total);
			ws_parser_init(&p, WS_ROLE_SERVER, 0);
			for (off = 0; off < total;) {
				ssize_t r = ws_parse(&p, copy + off, total - off, &ev);
				if (r < 0) {
					fprintf(stderr, "bench_ws: parse error %s\n", p.error);
					exit(1);
				}
				off += (size_t)r;
			}
			bytes += total;
		}
		printf("%-19s %6.2f GB/s (includes a 4 MiB memcpy per pass)\n", name,
		       (double)bytes / (bench_now() - t0) / 1e9);
		free(copy);
		free(s);
		return;
	}
	whole = parse_rate(s, total, total, &events);
	pieces = parse_rate(s, total, 16 * 1024, &events);
	printf("%-19s whole %6.2f GB/s   16 KiB reads %6.2f GB/s\n", name, whole, pieces);
	free(s);
}

int
main(void)
{
	bench_unmask();
	bench_parse(WS_OP_BINARY, "parse 64 KiB binary");
	bench_parse(WS_OP_TEXT, "parse 64 KiB text");
	return 0;
}
