/*
 * bench_frame.c: tunnel frame codec throughput.
 *
 * Encode = what the tunnel writer does per message: plan the batch
 * (frame_batch_fits/add) and write each 9-byte header (payloads are
 * never copied, so GB/s is payload planned per second). Decode = one
 * message through frame_reader_feed, events consumed. Two shapes: 64
 * small DATA frames (100 B), and 4 DATA frames of 65,527 B (the largest
 * four that fit one 262,144-byte message, headers included); the large
 * one also in 16 KiB chunks, the size of a TLS record. Runs ~2 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "frame.h"

#define RUN_SECONDS 0.25

static volatile size_t sink;

static void
report(const char *what, double secs, size_t frames, size_t bytes)
{
	printf("%-36s %8.2f Mframes/s %8.2f GB/s\n", what, (double)frames / secs / 1e6,
	       (double)bytes / secs / 1e9);
}

/* Plan and write headers for one message of nf frames of len bytes. */
static size_t
encode_message(uint8_t (*hdr)[FRAME_HEADER_LEN], size_t nf, size_t len, uint32_t sid)
{
	struct frame_batch b;
	size_t i;

	frame_batch_reset(&b);
	for (i = 0; i < nf && frame_batch_fits(&b, len); i++) {
		frame_header_encode(hdr[i], FRAME_DATA, sid + (uint32_t)i, (uint32_t)len);
		frame_batch_add(&b, len);
	}
	return b.frames;
}

static void
bench_encode(const char *what, size_t nf, size_t len)
{
	static uint8_t hdr[FRAME_MSG_MAX_FRAMES][FRAME_HEADER_LEN];
	size_t frames = 0;
	double t0 = bench_now(), t;
	uint32_t sid = 1;

	do {
		int k;

		for (k = 0; k < 1024; k++) {
			frames += encode_message(hdr, nf, len, sid++);
			sink += hdr[k % nf][4];
		}
		t = bench_now() - t0;
	} while (t < RUN_SECONDS);
	report(what, t, frames, frames * len);
}

/* Build one message of nf DATA frames of len bytes. */
static uint8_t *
build(size_t nf, size_t len, size_t *n)
{
	uint8_t *m = malloc(nf * (FRAME_HEADER_LEN + len));
	size_t i, off = 0;

	if (m == NULL)
		exit(1);
	for (i = 0; i < nf; i++) {
		frame_header_encode(m + off, FRAME_DATA, (uint32_t)i + 1, (uint32_t)len);
		off += FRAME_HEADER_LEN;
		memset(m + off, 'd', len);
		off += len;
	}
	*n = off;
	return m;
}

/* Feed one message in chunks of at most chunk bytes; returns frames seen. */
static size_t
decode_message(struct frame_reader *r, const uint8_t *m, size_t n, size_t chunk)
{
	size_t at = 0, frames = 0, bytes = 0;
	struct frame_event ev;

	while (at < n || at == 0) {
		size_t len = n - at < chunk ? n - at : chunk;
		const uint8_t *p = m + at;
		size_t left = len;
		int end = at + len == n;

		for (;;) {
			ssize_t k = frame_reader_feed(r, p, left, end, &ev);

			if (k < 0) {
				fprintf(stderr, "bench: reader error %s\n", r->reason);
				exit(1);
			}
			p += k;
			left -= (size_t)k;
			if (ev.type == FRAME_EV_NONE || ev.type == FRAME_EV_MESSAGE_END)
				break;
			frames += ev.frame_end;
			bytes += ev.len;
		}
		at += len;
		if (end)
			break;
	}
	sink += bytes;
	return frames;
}

static void
bench_decode(const char *what, size_t nf, size_t len, size_t chunk)
{
	struct frame_reader r;
	size_t n, frames = 0;
	uint8_t *m = build(nf, len, &n);
	double t0 = bench_now(), t;

	frame_reader_init(&r);
	do {
		int k;

		for (k = 0; k < 256; k++)
			frames += decode_message(&r, m, n, chunk);
		t = bench_now() - t0;
	} while (t < RUN_SECONDS);
	report(what, t, frames, frames * len);
	frame_reader_fini(&r);
	free(m);
}

int
main(void)
{
	const size_t big = FRAME_MSG_MAX_BYTES / 4 - FRAME_HEADER_LEN;

	bench_encode("encode 64 x 100 B DATA", 64, 100);
	bench_encode("encode 4 x 65527 B DATA", 4, big);
	bench_decode("decode 64 x 100 B DATA", 64, 100, FRAME_MSG_MAX_BYTES);
	bench_decode("decode 4 x 65527 B DATA", 4, big, FRAME_MSG_MAX_BYTES);
	bench_decode("decode 4 x 65527 B DATA, 16K chunks", 4, big, 16384);
	bench_decode("decode 64 x 100 B DATA, 1500 B chunks", 64, 100, 1500);
	printf("(GB/s = DATA payload framed or delivered per second. The codec never touches\n"
	       " payload bytes, so for 64 KiB frames this is per-frame cost, not memory bandwidth.)\n");
	return 0;
}
