/*
 * bench_json.c: JSON throughput on the protocol's own payloads.
 *
 *   parse+extract BIND          (every field a server reads)
 *   parse+extract STREAM_OPEN   (HTTP, 12 headers, every field a client reads)
 *   write STREAM_OPEN           (the same object, 12 headers, into a reused buf)
 *
 * Each runs for about 0.8 s; prints payloads/s and MB/s of JSON text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "buf.h"
#include "json.h"

#define RUN_SECONDS 0.8

static const char bind_json[] =
	"{\"clientBindRef\":1,\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":3000,"
	"\"label\":\"web\",\"takeover\":false,\"host\":\"127.0.0.1\"}";

static const char *const hdr[12][2] = {
	{ "Host", "app.example.com" },
	{ "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0" },
	{ "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
	{ "Accept-Language", "en-US,en;q=0.5" },
	{ "Accept-Encoding", "gzip, deflate, br" },
	{ "Content-Type", "application/json" },
	{ "Content-Length", "27" },
	{ "Cookie", "session=4f1c2a9e0b7d4e61a3c58f9e; theme=\"dark\"" },
	{ "Referer", "https://app.example.com/items?page=2" },
	{ "X-Forwarded-For", "203.0.113.4" },
	{ "X-Forwarded-Proto", "https" },
	{ "X-Request-Id", "9b2f6a1e-7c3d-4e5f-8a9b-0c1d2e3f4a5b" },
};

static volatile uint64_t sink;

static void
write_stream_open(struct json_writer *w)
{
	int i;

	json_w_obj_begin(w);
	json_w_kv_str(w, "kind", "http");
	json_w_kv_int(w, "bindId", 7);
	json_w_kv_int(w, "containerPort", 3000);
	json_w_kv_str(w, "method", "POST");
	json_w_kv_str(w, "target", "/api/items?x=1&sort=desc");
	json_w_key(w, "headers");
	json_w_arr_begin(w);
	for (i = 0; i < 12; i++) {
		json_w_arr_begin(w);
		json_w_cstr(w, hdr[i][0]);
		json_w_cstr(w, hdr[i][1]);
		json_w_arr_end(w);
	}
	json_w_arr_end(w);
	json_w_kv_bool(w, "isUpgrade", false);
	json_w_kv_str(w, "httpVersion", "1.1");
	json_w_kv_str(w, "peerAddr", "203.0.113.4:51234");
	json_w_obj_end(w);
}

static void
extract_bind(const char *text, size_t len)
{
	struct json_tok toks[32];
	struct json_doc doc;
	char kind[16], mode[16], label[64], host[64];
	int64_t ref = 0, port = 0;
	bool takeover = false;

	if (json_parse(&doc, text, len, toks, 32, NULL) != 0 ||
	    json_obj_get_int(&doc, 0, "clientBindRef", &ref) != 0 ||
	    json_obj_get_str(&doc, 0, "kind", kind, sizeof(kind)) < 0 ||
	    json_obj_get_str(&doc, 0, "mode", mode, sizeof(mode)) < 0 ||
	    json_obj_get_int(&doc, 0, "containerPort", &port) != 0 ||
	    json_obj_get_str(&doc, 0, "label", label, sizeof(label)) < 0 ||
	    json_obj_get_bool(&doc, 0, "takeover", &takeover) != 0 ||
	    json_obj_get_str(&doc, 0, "host", host, sizeof(host)) < 0) {
		fprintf(stderr, "bench_json: BIND extraction failed\n");
		exit(1);
	}
	sink += (uint64_t)ref + (uint64_t)port + (uint64_t)takeover + (uint8_t)kind[0] + (uint8_t)host[0];
}

static void
extract_stream_open(const char *text, size_t len)
{
	struct json_tok toks[64];
	struct json_doc doc;
	char s[256], name[64], value[256];
	int64_t bind = 0, port = 0;
	bool upgrade = true;
	int h, pair, n = 0;

	if (json_parse(&doc, text, len, toks, 64, NULL) != 0 ||
	    !json_string_eq(&doc, json_get(&doc, 0, "kind"), "http") ||
	    json_obj_get_int(&doc, 0, "bindId", &bind) != 0 ||
	    json_obj_get_int(&doc, 0, "containerPort", &port) != 0 ||
	    json_obj_get_str(&doc, 0, "method", s, sizeof(s)) < 0 ||
	    json_obj_get_str(&doc, 0, "target", s, sizeof(s)) < 0 ||
	    json_obj_get_bool(&doc, 0, "isUpgrade", &upgrade) != 0 ||
	    json_obj_get_str(&doc, 0, "httpVersion", s, sizeof(s)) < 0 ||
	    json_obj_get_str(&doc, 0, "peerAddr", s, sizeof(s)) < 0)
		goto fail;
	h = json_get(&doc, 0, "headers");
	for (pair = json_first(&doc, h); pair >= 0; pair = json_next(&doc, h, pair), n++) {
		if (doc.toks[pair].count != 2 || json_get_string(&doc, pair + 1, name, sizeof(name)) < 0 ||
		    json_get_string(&doc, pair + 2, value, sizeof(value)) < 0)
			goto fail;
		sink += (uint8_t)name[0] + (uint8_t)value[0];
	}
	if (n != 12)
		goto fail;
	sink += (uint64_t)bind + (uint64_t)port + (uint64_t)upgrade;
	return;
fail:
	fprintf(stderr, "bench_json: STREAM_OPEN extraction failed\n");
	exit(1);
}

static void
report(const char *what, uint64_t iters, size_t bytes, double secs)
{
	printf("%-34s %10.0f payloads/s  %8.1f MB/s  (%zu bytes, %.2f s)\n", what, (double)iters / secs,
	       (double)iters * (double)bytes / secs / 1e6, bytes, secs);
}

int
main(void)
{
	struct json_writer w;
	struct buf b;
	char *so;
	size_t so_len;
	uint64_t iters;
	double t0, t;
	int i;

	if (buf_init(&b, 4096, 16) != 0)
		return 1;
	json_w_init(&w, &b, 0);
	write_stream_open(&w);
	if (json_w_finish(&w) != 0)
		return 1;
	so_len = buf_len(&b);
	so = malloc(so_len);
	if (so == NULL)
		return 1;
	memcpy(so, b.pos, so_len);

	for (iters = 0, t0 = bench_now(); (t = bench_now() - t0) < RUN_SECONDS; iters += 1000)
		for (i = 0; i < 1000; i++)
			extract_bind(bind_json, sizeof(bind_json) - 1);
	report("parse+extract BIND", iters, sizeof(bind_json) - 1, t);

	for (iters = 0, t0 = bench_now(); (t = bench_now() - t0) < RUN_SECONDS; iters += 1000)
		for (i = 0; i < 1000; i++)
			extract_stream_open(so, so_len);
	report("parse+extract STREAM_OPEN (12 h)", iters, so_len, t);

	for (iters = 0, t0 = bench_now(); (t = bench_now() - t0) < RUN_SECONDS; iters += 1000) {
		for (i = 0; i < 1000; i++) {
			buf_reset(&b, 16);
			json_w_init(&w, &b, 0);
			write_stream_open(&w);
			if (json_w_finish(&w) != 0 || buf_len(&b) != so_len)
				return 1;
		}
	}
	report("write STREAM_OPEN (12 h)", iters, so_len, t);

	free(so);
	buf_fini(&b);
	return sink == 0;
}
