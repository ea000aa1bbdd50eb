/*
 * fuzz_json.c: the JSON reader on arbitrary bytes, and the writer on what
 * the reader accepted.
 *
 * Input: byte 0 picks the token capacity (1..256), byte 1 the depth limit
 * (1..40), the rest is the text. Checks: the result is a known code; a
 * success with the small array is a success with a large one (and the same
 * tokens); every token is well formed; every string decodes and equals
 * itself; re-serialising the whole document through the writer gives text
 * that parses to the same token types and the same string bytes; and the
 * writer turns any bytes into a JSON string that parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#define BIG_TOKS 4096

static struct json_tok small[256];
static struct json_tok big[BIG_TOKS];
static struct json_tok again[BIG_TOKS];
static char sbuf[1 << 17], sbuf2[1 << 17];

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_json: %s\n", what);
		abort();
	}
}

/* Each token lies inside the text and inside its parent's subtree. */
static void
check_tokens(const struct json_doc *doc)
{
	size_t i, count;
	int k;

	for (i = 0; i < doc->ntoks; i++) {
		const struct json_tok *t = &doc->toks[i];

		check(t->type > JSON_NONE && t->type < JSON_TYPE_MAX, "token type");
		check(t->start <= t->end && t->end <= doc->len, "token span");
		check(t->next > i && t->next <= doc->ntoks, "token next");
		if (t->type != JSON_OBJECT && t->type != JSON_ARRAY)
			continue;
		count = 0;
		for (k = json_first(doc, (int)i); k >= 0; k = json_next(doc, (int)i, k)) {
			check((size_t)k > i && (size_t)k < t->next, "child inside parent");
			if (t->type == JSON_OBJECT)
				check(doc->toks[k].type == JSON_STRING && (size_t)k + 1 < t->next,
				      "object key");
			count++;
		}
		check(count == t->count, "child count");
	}
	check(doc->toks[0].next == doc->ntoks, "top-level subtree");
}

/* Write token i (and its subtree) to w; returns the index after it. */
static int
emit(const struct json_doc *doc, int i, struct json_writer *w)
{
	const struct json_tok *t = &doc->toks[i];
	ssize_t n;
	int k;

	switch (t->type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (t->type == JSON_OBJECT)
			json_w_obj_begin(w);
		else
			json_w_arr_begin(w);
		for (k = json_first(doc, i); k >= 0; k = json_next(doc, i, k)) {
			if (t->type == JSON_OBJECT) {
				n = json_get_string(doc, k, sbuf, sizeof(sbuf));
				check(n >= 0, "key decodes");
				json_w_keyn(w, sbuf, (size_t)n);
				emit(doc, k + 1, w);
			} else {
				emit(doc, k, w);
			}
		}
		if (t->type == JSON_OBJECT)
			json_w_obj_end(w);
		else
			json_w_arr_end(w);
		break;
	case JSON_STRING:
		n = json_get_string(doc, i, sbuf, sizeof(sbuf));
		check(n >= 0, "string decodes");
		json_w_str(w, sbuf, (size_t)n);
		break;
	case JSON_NUMBER: json_w_raw(w, doc->text + t->start, t->end - t->start); break;
	case JSON_TRUE:
	case JSON_FALSE: json_w_bool(w, t->type == JSON_TRUE); break;
	default: json_w_null(w); break;
	}
	return (int)t->next;
}

/* Getters on every token: no crash, consistent answers. */
static void
check_getters(const struct json_doc *doc)
{
	size_t i;
	int64_t v;
	double d;
	bool b;
	ssize_t n;

	for (i = 0; i < doc->ntoks; i++) {
		const struct json_tok *t = &doc->toks[i];

		if (t->type == JSON_STRING) {
			n = json_get_string(doc, (int)i, sbuf, (size_t)(t->end - t->start) + 1);
			check(n >= 0 && (size_t)n <= t->end - t->start, "string fits its raw length");
			check(json_string_eqn(doc, (int)i, sbuf, (size_t)n), "string equals itself");
			if (n > 0)
				check(!json_string_eqn(doc, (int)i, sbuf, (size_t)n - 1), "shorter differs");
		} else if (t->type == JSON_NUMBER) {
			check(json_get_number(doc, (int)i, &d) == 0, "number getter");
			n = json_get_int(doc, (int)i, &v);
			check(n == 0 || n == JSON_GET_RANGE, "int getter");
			if (n == 0)
				check(v >= -(1LL << 53) && v <= (1LL << 53) && (double)v == d, "int value");
		} else if (t->type == JSON_TRUE || t->type == JSON_FALSE) {
			check(json_get_bool(doc, (int)i, &b) == 0 && b == (t->type == JSON_TRUE), "bool");
		} else if (t->type == JSON_OBJECT && t->count > 0) {
			n = json_get_string(doc, (int)i + 1, sbuf, sizeof(sbuf));
			if (n >= 0 && memchr(sbuf, 0, (size_t)n) == NULL)
				check(json_get(doc, (int)i, sbuf) > (int)i, "first key found");
		}
	}
}

/* Re-serialise doc, parse the result, compare types and strings. */
static void
check_rewrite(const struct json_doc *doc)
{
	struct json_limits lim = { 64, 1 << 24 };
	struct json_writer w;
	struct json_doc d2;
	struct buf b;
	ssize_t n1, n2;
	size_t i;

	check(buf_init(&b, 64, 0) == 0, "buf_init");
	json_w_init(&w, &b, 0);
	emit(doc, 0, &w);
	check(json_w_finish(&w) == 0, "writer finished");
	check(json_parse(&d2, (const char *)b.pos, buf_len(&b), again, BIG_TOKS, &lim) == 0,
	      "rewrite parses");
	check(d2.ntoks == doc->ntoks, "rewrite token count");
	for (i = 0; i < doc->ntoks; i++) {
		check(d2.toks[i].type == doc->toks[i].type, "rewrite token type");
		check(d2.toks[i].count == doc->toks[i].count && d2.toks[i].next == doc->toks[i].next,
		      "rewrite structure");
		if (doc->toks[i].type != JSON_STRING)
			continue;
		n1 = json_get_string(doc, (int)i, sbuf, sizeof(sbuf));
		n2 = json_get_string(&d2, (int)i, sbuf2, sizeof(sbuf2));
		check(n1 >= 0 && n1 == n2 && memcmp(sbuf, sbuf2, (size_t)n1) == 0, "rewrite string bytes");
	}
	buf_fini(&b);
}

/* Any bytes become a string the reader accepts. */
static void
check_writer_bytes(const uint8_t *p, size_t n)
{
	struct json_limits lim = { 4, 1 << 24 };
	struct json_writer w;
	struct json_doc d;
	struct buf b;

	check(buf_init(&b, 16, 0) == 0, "buf_init");
	json_w_init(&w, &b, 0);
	json_w_arr_begin(&w);
	json_w_str(&w, p, n);
	json_w_arr_end(&w);
	check(json_w_finish(&w) == 0, "writer finished");
	check(json_parse(&d, (const char *)b.pos, buf_len(&b), again, 4, &lim) == 0, "written bytes parse");
	buf_fini(&b);
}

static int
same_tokens(const struct json_doc *a, const struct json_doc *b)
{
	size_t i;

	if (a->ntoks != b->ntoks)
		return 0;
	for (i = 0; i < a->ntoks; i++) {
		const struct json_tok *x = &a->toks[i], *y = &b->toks[i];

		if (x->start != y->start || x->end != y->end || x->next != y->next || x->count != y->count ||
		    x->type != y->type || x->flags != y->flags)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_limits lim;
	struct json_doc doc, bdoc;
	const char *text;
	size_t len, ntoks;
	int rc, brc;

	if (size < 2 || size > 65536)
		return 0;
	ntoks = 1 + (size_t)data[0];
	lim.max_depth = 1 + (size_t)data[1] % 40;
	lim.max_size = 0;
	text = (const char *)data + 2;
	len = size - 2;

	rc = json_parse(&doc, text, len, small, ntoks, &lim);
	check(rc <= 0 && rc > JSON_ERR_MIN && doc.err == rc, "known result");
	check(rc == 0 || doc.err_off <= len, "error offset");
	brc = json_parse(&bdoc, text, len, big, BIG_TOKS, &lim);
	if (rc == 0)
		check(brc == 0 && same_tokens(&doc, &bdoc), "same tokens with more room");
	else if (rc != JSON_ERR_TOKENS)
		check(brc == rc, "same error with more room");
	if (brc == 0) {
		check_tokens(&bdoc);
		check_getters(&bdoc);
		check_rewrite(&bdoc);
	}
	check_writer_bytes(data, size);
	return 0;
}
