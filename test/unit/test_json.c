/*
 * test_json.c: the JSON reader (strict RFC 8259, tokens, getters) and the
 * writer (escaping, commas, numbers, sticky errors), and the two together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "feed.h"
#include "json.h"
#include "json_int.h"
#include "util.h"

#define S(lit) lit, sizeof(lit) - 1

static struct json_tok toks[512];

static int
parse(struct json_doc *doc, const char *s, size_t n)
{
	return json_parse(doc, s, n, toks, UTIL_ARRAY_SIZE(toks), NULL);
}

static int
parse_lim(struct json_doc *doc, const char *s, size_t n, size_t ntoks, size_t depth, size_t size)
{
	struct json_limits lim = { depth, size };

	return json_parse(doc, s, n, toks, ntoks, &lim);
}

/* ---- vectors through feed_all_ways ------------------------------------------ */

struct vec {
	const char *text;
	size_t len;
	int rc;       /* expected json_parse result */
	size_t ntoks; /* expected tokens on success */
};

#define V(lit, rc, n)                                                                                        \
	{                                                                                                    \
		lit, sizeof(lit) - 1, rc, n                                                                  \
	}

static const struct vec valid[] = {
	V("{}", 0, 1),
	V("[]", 0, 1),
	V(" \t\r\n{ \t\r\n} \t\r\n", 0, 1),
	V("0", 0, 1),
	V("-0", 0, 1),
	V("-0.0e-0", 0, 1),
	V("123.456E+78", 0, 1),
	V("1e-400", 0, 1),
	V("\"\"", 0, 1),
	V("true", 0, 1),
	V("false", 0, 1),
	V("null", 0, 1),
	V("[1,-2,3.5,\"x\",true,false,null,{},[]]", 0, 10),
	V("{\"a\":1,\"b\":[2,{\"c\":null}],\"d\":\"e\"}", 0, 11),
	V("{\"version\":\"hoody-tunnel.v1\",\"auth\":{\"kind\":\"bearer\",\"token\":\"t0k\"},"
	  "\"capabilities\":[],\"resume\":{\"sessionId\":\"S-1\"},\"maxConnections\":4}",
	  0, 17),
	V("{\"clientBindRef\":1,\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":3000,"
	  "\"label\":\"web\",\"takeover\":false,\"host\":\"127.0.0.1\"}",
	  0, 15),
	V("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\u20AC\\ud83d\\ude00\"]", 0, 2),
	V("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
	  "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\x7f\"",
	  0, 1),
	V("{\"a\":1,\"a\":2}", 0, 5),
};

static const struct vec invalid[] = {
	V("", JSON_ERR_INCOMPLETE, 0),
	V("   ", JSON_ERR_INCOMPLETE, 0),
	V("01", JSON_ERR_SYNTAX, 0),
	V("-01", JSON_ERR_SYNTAX, 0),
	V("[00]", JSON_ERR_SYNTAX, 0),
	V("-", JSON_ERR_INCOMPLETE, 0),
	V("[-]", JSON_ERR_SYNTAX, 0),
	V("1.", JSON_ERR_INCOMPLETE, 0),
	V("[1.]", JSON_ERR_SYNTAX, 0),
	V("[1.e5]", JSON_ERR_SYNTAX, 0),
	V("[.5]", JSON_ERR_SYNTAX, 0),
	V("[+1]", JSON_ERR_SYNTAX, 0),
	V("[1e]", JSON_ERR_SYNTAX, 0),
	V("[1e+]", JSON_ERR_SYNTAX, 0),
	V("[0x10]", JSON_ERR_SYNTAX, 0),
	V("[NaN]", JSON_ERR_SYNTAX, 0),
	V("[Infinity]", JSON_ERR_SYNTAX, 0),
	V("[-Infinity]", JSON_ERR_SYNTAX, 0),
	V("[1e400]", JSON_ERR_NUMBER, 0),
	V("[-1e400]", JSON_ERR_NUMBER, 0),
	V("[1234567890123456789012345678901234567890123456789012345678901234567890]", JSON_ERR_NUMBER, 0),
	V("[1,]", JSON_ERR_SYNTAX, 0),
	V("{\"a\":1,}", JSON_ERR_SYNTAX, 0),
	V("[,]", JSON_ERR_SYNTAX, 0),
	V("{,}", JSON_ERR_SYNTAX, 0),
	V("[1,,2]", JSON_ERR_SYNTAX, 0),
	V("[1 2]", JSON_ERR_SYNTAX, 0),
	V("{\"a\" 1}", JSON_ERR_SYNTAX, 0),
	V("{\"a\":}", JSON_ERR_SYNTAX, 0),
	V("{\"a\"}", JSON_ERR_SYNTAX, 0),
	V("{a:1}", JSON_ERR_SYNTAX, 0),
	V("{'a':1}", JSON_ERR_SYNTAX, 0),
	V("{1:1}", JSON_ERR_SYNTAX, 0),
	V("[}", JSON_ERR_SYNTAX, 0),
	V("{]", JSON_ERR_SYNTAX, 0),
	V("[1}", JSON_ERR_SYNTAX, 0),
	V("]", JSON_ERR_SYNTAX, 0),
	V("/*c*/{}", JSON_ERR_SYNTAX, 0),
	V("{}//c", JSON_ERR_TRAILING, 0),
	V("{} {}", JSON_ERR_TRAILING, 0),
	V("1 2", JSON_ERR_TRAILING, 0),
	V("[]]", JSON_ERR_TRAILING, 0),
	V("\"a\"b", JSON_ERR_TRAILING, 0),
	V("truex", JSON_ERR_TRAILING, 0),
	V("[truex]", JSON_ERR_SYNTAX, 0),
	V("True", JSON_ERR_SYNTAX, 0),
	V("nul", JSON_ERR_INCOMPLETE, 0),
	V("[nulL]", JSON_ERR_SYNTAX, 0),
	V("\f{}", JSON_ERR_SYNTAX, 0),
	V("\v{}", JSON_ERR_SYNTAX, 0),
	V("\xc2\xa0{}", JSON_ERR_SYNTAX, 0),
	V("\xef\xbb\xbf{}", JSON_ERR_SYNTAX, 0),
	V("{}\0", JSON_ERR_TRAILING, 0),
	V("\0", JSON_ERR_SYNTAX, 0),
	V("\"a\nb\"", JSON_ERR_CONTROL, 0),
	V("\"a\tb\"", JSON_ERR_CONTROL, 0),
	V("\"\x1f\"", JSON_ERR_CONTROL, 0),
	V("\"\0\"", JSON_ERR_CONTROL, 0),
	V("\"\\x41\"", JSON_ERR_ESCAPE, 0),
	V("\"\\'\"", JSON_ERR_ESCAPE, 0),
	V("\"\\a\"", JSON_ERR_ESCAPE, 0),
	V("\"\\U0041\"", JSON_ERR_ESCAPE, 0),
	V("\"\\u12\"", JSON_ERR_ESCAPE, 0),
	V("\"\\u12G4\"", JSON_ERR_ESCAPE, 0),
	V("\"\\\0\"", JSON_ERR_ESCAPE, 0),
	V("\"\\ud83d\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ude00\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ud83dx\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ud83d\\n\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ud83d\\u0041\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ud83d\\ud83d\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ude00\\ud83d\"", JSON_ERR_SURROGATE, 0),
	V("\"\\ud83d\\uZZZZ\"", JSON_ERR_ESCAPE, 0),
	V("\"\xc0\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xc1\xbf\"", JSON_ERR_UTF8, 0),
	V("\"\xe0\x80\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xe0\x9f\xbf\"", JSON_ERR_UTF8, 0),
	V("\"\xed\xa0\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xed\xbf\xbf\"", JSON_ERR_UTF8, 0),
	V("\"\xf0\x80\x80\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xf0\x8f\xbf\xbf\"", JSON_ERR_UTF8, 0),
	V("\"\xf4\x90\x80\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xf5\x80\x80\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xff\"", JSON_ERR_UTF8, 0),
	V("\"\x80\"", JSON_ERR_UTF8, 0),
	V("\"\xe2\x82\"", JSON_ERR_UTF8, 0),
	V("\"\xe2\x82x\"", JSON_ERR_UTF8, 0),
	V("\"\xf0\x9f\x98\"", JSON_ERR_UTF8, 0),
	V("\"\xc3\"", JSON_ERR_UTF8, 0),
	V("\"\xe2\x82", JSON_ERR_INCOMPLETE, 0),
	V("{\"a\":1", JSON_ERR_INCOMPLETE, 0),
	V("[[[]]", JSON_ERR_INCOMPLETE, 0),
	V("\"abc", JSON_ERR_INCOMPLETE, 0),
};

struct feed_ctx {
	const struct vec *v;
	uint8_t acc[512];
	size_t n;
};

static void
feed_reset(void *ctx)
{
	((struct feed_ctx *)ctx)->n = 0;
}

static void
feed_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct feed_ctx *c = ctx;

	assert_true(c->n + n <= sizeof(c->acc));
	memcpy(c->acc + c->n, p, n);
	c->n += n;
}

/* Parse what was accumulated, from a guard-page copy, and compare. */
static void
feed_check(void *ctx)
{
	struct feed_ctx *c = ctx;
	struct feed_guard g = { 0 };
	struct json_doc doc;
	int rc;

	assert_int_equal(c->n, c->v->len);
	assert_int_equal(feed_guard_make(&g, c->acc, c->n), 0);
	rc = parse(&doc, (const char *)g.p, c->n);
	if (rc != c->v->rc)
		print_error("vector \"%.*s\": got %d (%s) at %zu\n", (int)c->v->len, c->v->text, rc,
			    json_strerror(rc), doc.err_off);
	assert_int_equal(rc, c->v->rc);
	assert_int_equal(doc.err, rc);
	if (rc == 0) {
		assert_int_equal(doc.ntoks, c->v->ntoks);
		assert_int_equal(doc.toks[0].next, doc.ntoks);
	}
	feed_guard_free(&g);
}

static void
run_vectors(const struct vec *v, size_t n)
{
	struct feed_ctx c;
	size_t i;

	for (i = 0; i < n; i++) {
		c.v = &v[i];
		feed_all_ways(v[i].text, v[i].len, &c, feed_reset, feed_chunk, feed_check);
	}
}

static void
test_valid_vectors(void **state)
{
	(void)state;
	run_vectors(valid, UTIL_ARRAY_SIZE(valid));
}

static void
test_invalid_vectors(void **state)
{
	(void)state;
	run_vectors(invalid, UTIL_ARRAY_SIZE(invalid));
}

/* Every strict prefix of a valid container is incomplete, nothing else. */
static void
test_prefixes_incomplete(void **state)
{
	struct json_doc doc;
	struct feed_guard g = { 0 };
	size_t i, k;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(valid); i++) {
		if (valid[i].text[0] != '{' && valid[i].text[0] != '[' && valid[i].text[0] != '"')
			continue;
		for (k = 0; k < valid[i].len; k++) {
			assert_int_equal(feed_guard_make(&g, (const uint8_t *)valid[i].text, k), 0);
			assert_int_equal(parse(&doc, (const char *)g.p, k), JSON_ERR_INCOMPLETE);
			assert_int_equal(doc.err_off, k);
			feed_guard_free(&g);
		}
	}
}

/* ---- structure and getters -------------------------------------------------- */

static const char hello[] =
	"{\"version\":\"hoody-tunnel.v1\",\"auth\":{\"kind\":\"bearer\",\"token\":\"t0k\"},"
	"\"capabilities\":[\"multi-ws\",\"x\"],\"resume\":{\"sessionId\":\"S-1\"},\"maxConnections\":4}";

static void
test_token_layout(void **state)
{
	struct json_doc doc;
	int auth, caps, k, n;
	char out[32];

	(void)state;
	assert_int_equal(parse(&doc, S(hello)), 0);
	assert_int_equal(doc.toks[0].type, JSON_OBJECT);
	assert_int_equal(doc.toks[0].count, 5);
	assert_int_equal(doc.toks[0].start, 0);
	assert_int_equal(doc.toks[0].end, sizeof(hello) - 1);
	assert_int_equal(doc.toks[0].next, doc.ntoks);
	/* key 1 "version", its value 2, then key 3 "auth" */
	assert_true(json_string_eq(&doc, 1, "version"));
	assert_int_equal(doc.toks[1].next, 3);
	assert_int_equal(doc.toks[2].next, 3);
	auth = json_get(&doc, 0, "auth");
	assert_int_equal(auth, 4);
	assert_int_equal(json_type(&doc, auth), JSON_OBJECT);
	assert_int_equal(doc.toks[auth].count, 2);
	assert_int_equal(doc.toks[auth].next, 9); /* O(1) skip past the subtree */
	assert_true(json_string_eq(&doc, 9, "capabilities"));
	assert_memory_equal(doc.text + doc.toks[auth].start, "{\"kind\"", 7);
	assert_int_equal(doc.text[doc.toks[auth].end - 1], '}');
	assert_int_equal(json_obj_get_str(&doc, auth, "token", out, sizeof(out)), 3);
	assert_string_equal(out, "t0k");

	caps = json_get(&doc, 0, "capabilities");
	assert_int_equal(json_type(&doc, caps), JSON_ARRAY);
	assert_int_equal(doc.toks[caps].count, 2);
	n = 0;
	for (k = json_first(&doc, caps); k >= 0; k = json_next(&doc, caps, k))
		assert_true(json_string_eq(&doc, k, n++ ? "x" : "multi-ws"));
	assert_int_equal(n, 2);

	n = 0;
	for (k = json_first(&doc, 0); k >= 0; k = json_next(&doc, 0, k)) {
		assert_int_equal(json_type(&doc, k), JSON_STRING);
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(json_first(&doc, json_get(&doc, 0, "version")), -1);
	assert_int_equal(json_first(&doc, -1), -1);
	assert_int_equal(json_next(&doc, 0, 1000), -1);
	assert_int_equal(json_type(&doc, (int)doc.ntoks), JSON_NONE);
	assert_int_equal(json_type(&doc, -5), JSON_NONE);
}

static void
test_empty_containers(void **state)
{
	struct json_doc doc;

	(void)state;
	assert_int_equal(parse(&doc, S("{\"a\":{},\"b\":[],\"c\":1}")), 0);
	assert_int_equal(json_first(&doc, json_get(&doc, 0, "a")), -1);
	assert_int_equal(json_first(&doc, json_get(&doc, 0, "b")), -1);
	assert_int_equal(json_get(&doc, 0, "c"), 6);
	assert_int_equal(json_get(&doc, json_get(&doc, 0, "a"), "x"), -1);
}

static void
test_get_member(void **state)
{
	struct json_doc doc;
	int64_t v;

	(void)state;
	assert_int_equal(parse(&doc, S("{\"a\\u0062\":1,\"\\\"q\":2,\"n\":{\"a\":3},\"\":4}")), 0);
	assert_int_equal(json_obj_get_int(&doc, 0, "ab", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(json_obj_get_int(&doc, 0, "\"q", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(json_obj_get_int(&doc, 0, "", &v), 0);
	assert_int_equal(v, 4);
	/* the nested "a" is not a member of the outer object */
	assert_int_equal(json_get(&doc, 0, "a"), -1);
	assert_int_equal(json_get(&doc, 0, "a\\u0062"), -1);
	assert_int_equal(json_get(&doc, 0, "abc"), -1);
	assert_int_equal(json_get(&doc, 0, "a"), -1);
	assert_int_equal(json_obj_get_int(&doc, json_get(&doc, 0, "n"), "a", &v), 0);
	assert_int_equal(v, 3);
	/* not an object */
	assert_int_equal(json_get(&doc, 2, "x"), -1);
	assert_int_equal(json_get(&doc, -1, "x"), -1);
}

/* json_get_keys: json_get for several keys in one pass */
static void
test_get_keys(void **state)
{
	static const char *const keys[] = { "ab", "\"q", "", "a", "n", "abc", "nope" };
	int vals[UTIL_ARRAY_SIZE(keys)];
	struct json_doc doc;
	size_t i;

	(void)state;
	assert_int_equal(
		parse(&doc, S("{\"a\\u0062\":1,\"\\\"q\":2,\"n\":{\"a\":3},\"\":4,\"ab\":5,\"abc\":6}")), 0);
	assert_int_equal(json_get_keys(&doc, 0, keys, UTIL_ARRAY_SIZE(keys), vals), 5);
	for (i = 0; i < UTIL_ARRAY_SIZE(keys); i++)
		assert_int_equal(vals[i], json_get(&doc, 0, keys[i]));
	assert_int_equal(vals[3], -1); /* the nested "a" */
	assert_int_equal(vals[6], -1);
	assert_int_equal(json_get_keys(&doc, 2, keys, 2, vals), -1);
	assert_int_equal(vals[0], -1);
	assert_int_equal(vals[1], -1);
	assert_int_equal(json_get_keys(&doc, -1, keys, 1, vals), -1);
	assert_int_equal(json_get_keys(&doc, 0, keys, 0, vals), 0);
}

/* More keys than json_get_keys keeps lengths for: the rest are compared the long way. */
static void
test_get_keys_many(void **state)
{
	static const char *const keys[] = { "k0",  "k1",  "k2",  "k3",  "k4",  "k5",  "k6",
					    "k7",  "k8",  "k9",  "k10", "k11", "k12", "k13",
					    "k14", "k15", "k16", "k17", "k18", "k1\"" };
	int vals[UTIL_ARRAY_SIZE(keys)];
	struct json_doc doc;
	size_t i;

	(void)state;
	assert_int_equal(parse(&doc, S("{\"k17\":1,\"k\\u0031\":2,\"k18x\":3,\"k1\\\"\":4,\"k0\":5}")), 0);
	assert_int_equal(json_get_keys(&doc, 0, keys, UTIL_ARRAY_SIZE(keys), vals), 4);
	for (i = 0; i < UTIL_ARRAY_SIZE(keys); i++)
		assert_int_equal(vals[i], json_get(&doc, 0, keys[i]));
	assert_true(vals[17] > 0 && vals[1] > 0 && vals[19] > 0 && vals[0] > 0);
	assert_int_equal(vals[18], -1);
}

/* Duplicate keys: the last one wins, as in JSON.parse. */
static void
test_duplicate_keys_last_wins(void **state)
{
	struct json_doc doc;
	int64_t v;

	(void)state;
	assert_int_equal(parse(&doc, S("{\"a\":1,\"b\":0,\"a\":2}")), 0);
	assert_int_equal(json_obj_get_int(&doc, 0, "a", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(doc.toks[0].count, 3);
}

static void
test_escapes_decode(void **state)
{
	static const struct {
		const char *json;
		const char *want;
		size_t want_len;
	} v[] = {
		{ "\"\\\"\"", "\"", 1 },
		{ "\"\\\\\"", "\\", 1 },
		{ "\"\\/\"", "/", 1 },
		{ "\"\\b\"", "\b", 1 },
		{ "\"\\f\"", "\f", 1 },
		{ "\"\\n\"", "\n", 1 },
		{ "\"\\r\"", "\r", 1 },
		{ "\"\\t\"", "\t", 1 },
		{ "\"\\u0041\"", "A", 1 },
		{ "\"\\u00e9\\u00C9\"", "\xc3\xa9\xc3\x89", 4 },
		{ "\"\\u20ac\"", "\xe2\x82\xac", 3 },
		{ "\"\\uffff\"", "\xef\xbf\xbf", 3 },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },
		{ "\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4 },
		{ "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4 },
		{ "\"\\ud800\\udc00\"", "\xf0\x90\x80\x80", 4 },
		{ "\"a\\u0000b\"", "a\0b", 3 },
		{ "\"\\u0000\"", "\0", 1 },
		{ "\"x\\ty\\u00e9\xe2\x82\xacz\"", "x\ty\xc3\xa9\xe2\x82\xacz", 9 },
	};
	struct json_doc doc;
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		assert_int_equal(parse(&doc, v[i].json, strlen(v[i].json)), 0);
		assert_int_equal(json_get_string(&doc, 0, out, sizeof(out)), v[i].want_len);
		assert_memory_equal(out, v[i].want, v[i].want_len);
		assert_int_equal(out[v[i].want_len], '\0');
		assert_true(json_string_eqn(&doc, 0, v[i].want, v[i].want_len));
		assert_false(json_string_eqn(&doc, 0, v[i].want, v[i].want_len - 1));
		assert_false(json_string_eqn(&doc, 0, "zzzzzzzzz", v[i].want_len));
		/* exactly len + 1 fits, len does not */
		assert_int_equal(json_get_string(&doc, 0, out, v[i].want_len + 1), v[i].want_len);
		assert_int_equal(json_get_string(&doc, 0, out, v[i].want_len), JSON_GET_RANGE);
		assert_int_equal(out[0], '\0');
	}
	/* a string holding a NUL never equals a C string */
	assert_int_equal(parse(&doc, S("\"a\\u0000\"")), 0);
	assert_false(json_string_eq(&doc, 0, "a"));
	assert_int_equal(doc.toks[0].flags & JSON_TOK_ESCAPED, JSON_TOK_ESCAPED);
	assert_int_equal(parse(&doc, S("\"plain\"")), 0);
	assert_int_equal(doc.toks[0].flags & JSON_TOK_ESCAPED, 0);
}

static size_t
enc_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Every code point as a \u escape (pairs above U+FFFF) decodes to its UTF-8. */
static void
test_unicode_escape_all_code_points(void **state)
{
	struct json_doc doc;
	char in[16], out[8];
	uint8_t want[4];
	uint32_t cp;
	int n;

	(void)state;
	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x10000)
			n = snprintf(in, sizeof(in), "\"\\u%04x\"", (unsigned)cp);
		else
			n = snprintf(in, sizeof(in), "\"\\u%04X\\u%04x\"",
				     (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
				     (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
		if (parse(&doc, in, (size_t)n) != 0)
			fail_msg("U+%04X rejected", (unsigned)cp);
		if (json_get_string(&doc, 0, out, sizeof(out)) != (ssize_t)enc_utf8(want, cp) ||
		    memcmp(out, want, enc_utf8(want, cp)) != 0)
			fail_msg("U+%04X decoded wrong", (unsigned)cp);
	}
}

/* Every code point as raw UTF-8 is accepted; every surrogate encoding is not. */
static void
test_raw_utf8_all_code_points(void **state)
{
	static char text[4 * 4096 + 2];
	struct json_doc doc;
	uint32_t cp = 0;
	size_t n;
	uint8_t b[4];

	(void)state;
	while (cp <= 0x10ffff) {
		n = 0;
		text[n++] = '"';
		for (; cp <= 0x10ffff && n < sizeof(text) - 5; cp++) {
			if ((cp < 0x20 || cp == '"' || cp == '\\') || (cp >= 0xd800 && cp <= 0xdfff))
				continue;
			n += enc_utf8((uint8_t *)text + n, cp);
		}
		text[n++] = '"';
		assert_int_equal(parse(&doc, text, n), 0);
	}
	for (cp = 0xd800; cp <= 0xdfff; cp++) {
		text[0] = '"';
		n = enc_utf8(b, cp);
		memcpy(text + 1, b, n);
		text[n + 1] = '"';
		assert_int_equal(parse(&doc, text, n + 2), JSON_ERR_UTF8);
	}
}

static void
test_depth_limit(void **state)
{
	char text[200];
	struct json_doc doc;
	size_t d;

	(void)state;
	for (d = 30; d <= 34; d++) {
		memset(text, '[', d);
		memset(text + d, ']', d);
		assert_int_equal(parse(&doc, text, 2 * d), d <= JSON_DEPTH_DEFAULT ? 0 : JSON_ERR_DEPTH);
		if (d > JSON_DEPTH_DEFAULT)
			assert_int_equal(doc.err_off, JSON_DEPTH_DEFAULT);
	}
	/* exactly at and over a custom limit, mixing objects and arrays */
	assert_int_equal(parse_lim(&doc, S("{\"a\":[1,{\"b\":2}]}"), 64, 3, 0), 0);
	assert_int_equal(parse_lim(&doc, S("{\"a\":[1,{\"b\":[]}]}"), 64, 3, 0), JSON_ERR_DEPTH);
	assert_int_equal(parse_lim(&doc, S("{\"a\":1}"), 64, 1, 0), 0);
	assert_int_equal(parse_lim(&doc, S("{\"a\":{}}"), 64, 1, 0), JSON_ERR_DEPTH);
	/* depth goes back down when containers close */
	assert_int_equal(parse_lim(&doc, S("[[[]],[[]],[[]]]"), 64, 3, 0), 0);
}

static void
test_token_capacity(void **state)
{
	struct json_doc doc;

	(void)state;
	assert_int_equal(parse_lim(&doc, S("[1,2,3]"), 4, 0, 0), 0);
	assert_int_equal(doc.ntoks, 4);
	assert_int_equal(parse_lim(&doc, S("[1,2,3]"), 3, 0, 0), JSON_ERR_TOKENS);
	assert_int_equal(doc.err_off, 5);
	assert_int_equal(parse_lim(&doc, S("{\"a\":\"b\"}"), 3, 0, 0), 0);
	assert_int_equal(parse_lim(&doc, S("{\"a\":\"b\"}"), 2, 0, 0), JSON_ERR_TOKENS);
	assert_int_equal(parse_lim(&doc, S("{\"a\":\"b\"}"), 1, 0, 0), JSON_ERR_TOKENS);
	assert_int_equal(parse_lim(&doc, S("1"), 0, 0, 0), JSON_ERR_TOKENS);
}

static void
test_size_limit(void **state)
{
	struct json_doc doc;

	(void)state;
	assert_int_equal(parse_lim(&doc, S(hello), 64, 0, sizeof(hello) - 1), 0);
	assert_int_equal(parse_lim(&doc, S(hello), 64, 0, sizeof(hello) - 2), JSON_ERR_TOO_LARGE);
	assert_int_equal(parse_lim(&doc, S("1"), 64, 0, 1), 0);
}

static void
test_integers(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t v;
	} v[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "42", 0, 42 },
		{ "-7", 0, -7 },
		{ "9007199254740992", 0, 9007199254740992LL },
		{ "-9007199254740992", 0, -9007199254740992LL },
		{ "9007199254740991", 0, 9007199254740991LL },
		{ "9007199254740993", JSON_GET_RANGE, 0 },
		{ "-9007199254740993", JSON_GET_RANGE, 0 },
		{ "10000000000000000", JSON_GET_RANGE, 0 },
		{ "99999999999999999999", JSON_GET_RANGE, 0 },
		{ "1.0", JSON_GET_RANGE, 0 },
		{ "1e3", JSON_GET_RANGE, 0 },
		{ "1E0", JSON_GET_RANGE, 0 },
		{ "\"1\"", JSON_GET_TYPE, 0 },
		{ "true", JSON_GET_TYPE, 0 },
		{ "[]", JSON_GET_TYPE, 0 },
		{ "null", JSON_GET_NULL, 0 },
	};
	struct json_doc doc;
	int64_t out;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		out = 12345;
		assert_int_equal(parse(&doc, v[i].text, strlen(v[i].text)), 0);
		assert_int_equal(json_get_int(&doc, 0, &out), v[i].rc);
		assert_int_equal(out, v[i].rc == 0 ? v[i].v : 12345);
	}
	assert_int_equal(json_get_int(&doc, 1, &out), JSON_GET_MISSING);
	assert_int_equal(json_get_int(&doc, -1, &out), JSON_GET_MISSING);
}

static void
test_numbers(void **state)
{
	static const struct {
		const char *text;
		double v;
	} v[] = {
		{ "1e3", 1000.0 }, { "1.5", 1.5 }, { "-0.25", -0.25 },
		{ "1E-2", 0.01 },  { "12", 12.0 }, { "1.7976931348623157e308", 1.7976931348623157e308 },
		{ "1e-400", 0.0 },
	};
	struct json_doc doc;
	double d;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		assert_int_equal(parse(&doc, v[i].text, strlen(v[i].text)), 0);
		assert_int_equal(json_get_number(&doc, 0, &d), 0);
		assert_true(d == v[i].v);
		assert_int_equal(doc.toks[0].flags & JSON_TOK_INTEGER,
				 strchr(v[i].text, '.') || strchr(v[i].text, 'e') || strchr(v[i].text, 'E')
					 ? 0
					 : JSON_TOK_INTEGER);
	}
	assert_int_equal(parse(&doc, S("\"1\"")), 0);
	assert_int_equal(json_get_number(&doc, 0, &d), JSON_GET_TYPE);
	/* 64 bytes is the longest number */
	assert_int_equal(parse(&doc, S("12345678901234567890123456789012"
				       "34567890123456789012345678901234")),
			 0);
	assert_int_equal(parse(&doc, S("-1234567890123456789012345678901234567890123456789012345678901234")),
			 JSON_ERR_NUMBER);
}

static void
test_bool_null(void **state)
{
	struct json_doc doc;
	bool b;

	(void)state;
	assert_int_equal(parse(&doc, S("[true,false,null,0]")), 0);
	assert_int_equal(json_get_bool(&doc, 1, &b), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(&doc, 2, &b), 0);
	assert_false(b);
	assert_int_equal(json_get_bool(&doc, 3, &b), JSON_GET_NULL);
	assert_int_equal(json_get_bool(&doc, 4, &b), JSON_GET_TYPE);
	assert_int_equal(json_get_bool(&doc, 5, &b), JSON_GET_MISSING);
	assert_true(json_is_null(&doc, 3));
	assert_false(json_is_null(&doc, 4));
	assert_false(json_is_null(&doc, 9));
}

/* The member getters on a BIND payload, with every status. */
static void
test_obj_getters(void **state)
{
	static const char bind[] = "{\"clientBindRef\":1,\"kind\":\"http\",\"mode\":\"expose\","
				   "\"containerPort\":null,\"label\":\"web\",\"takeover\":false,"
				   "\"host\":\"127.0.0.1\",\"port\":1.5}";
	struct json_doc doc;
	char s[16];
	int64_t v;
	bool b;

	(void)state;
	assert_int_equal(parse(&doc, S(bind)), 0);
	assert_int_equal(json_obj_get_int(&doc, 0, "clientBindRef", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(json_obj_get_int(&doc, 0, "containerPort", &v), JSON_GET_NULL);
	assert_int_equal(json_obj_get_int(&doc, 0, "nope", &v), JSON_GET_MISSING);
	assert_int_equal(json_obj_get_int(&doc, 0, "kind", &v), JSON_GET_TYPE);
	assert_int_equal(json_obj_get_int(&doc, 0, "port", &v), JSON_GET_RANGE);
	assert_int_equal(json_obj_get_bool(&doc, 0, "takeover", &b), 0);
	assert_false(b);
	assert_int_equal(json_obj_get_bool(&doc, 0, "label", &b), JSON_GET_TYPE);
	assert_int_equal(json_obj_get_bool(&doc, 0, "x", &b), JSON_GET_MISSING);
	assert_int_equal(json_obj_get_str(&doc, 0, "host", s, sizeof(s)), 9);
	assert_string_equal(s, "127.0.0.1");
	assert_int_equal(json_obj_get_str(&doc, 0, "host", s, 9), JSON_GET_RANGE);
	assert_int_equal(json_obj_get_str(&doc, 0, "host", s, 0), JSON_GET_RANGE);
	assert_int_equal(json_obj_get_str(&doc, 0, "takeover", s, sizeof(s)), JSON_GET_TYPE);
	assert_int_equal(json_obj_get_str(&doc, 0, "containerPort", s, sizeof(s)), JSON_GET_NULL);
	assert_int_equal(json_obj_get_str(&doc, 0, "x", s, sizeof(s)), JSON_GET_MISSING);
	assert_true(json_string_eq(&doc, json_get(&doc, 0, "mode"), "expose"));
	assert_false(json_string_eq(&doc, json_get(&doc, 0, "mode"), "expos"));
	assert_false(json_string_eq(&doc, json_get(&doc, 0, "clientBindRef"), "1"));
	assert_false(json_string_eq(&doc, json_get(&doc, 0, "x"), ""));
}

static void
test_strerror(void **state)
{
	int e, f;

	(void)state;
	for (e = 0; e > JSON_ERR_MIN; e--) {
		assert_non_null(json_strerror(e));
		for (f = 0; f > e; f--)
			assert_string_not_equal(json_strerror(e), json_strerror(f));
	}
	assert_string_equal(json_strerror(JSON_ERR_MIN), "unknown error");
	assert_string_equal(json_strerror(1), "unknown error");
}

/*
 * json_plain_run against the byte-by-byte answer: every byte value at every
 * place of a run long enough for the eight-byte steps, from every start.
 */
static void
test_plain_run_every_byte(void **state)
{
	uint8_t s[21];
	size_t at, from, want;
	unsigned c;

	(void)state;
	for (c = 0; c < 256; c++)
		for (at = 0; at < sizeof(s); at++) {
			memset(s, 'a', sizeof(s));
			s[at] = (uint8_t)c;
			for (from = 0; from <= sizeof(s); from++) {
				for (want = from; want < sizeof(s) && json_cc_table[s[want]] == CC_PLAIN;
				     want++)
					;
				if (json_plain_run(s, from, sizeof(s)) != want)
					fail_msg("byte 0x%02x at %zu, from %zu", c, at, from);
			}
		}
	/* the first of two flagged bytes, whichever kinds they are */
	memcpy(s, "abc\x01\"\\\xff\x1fxyzxyzxyzxyzx", sizeof(s));
	assert_int_equal(json_plain_run(s, 0, sizeof(s)), 3);
	assert_int_equal(json_plain_run(s, 4, sizeof(s)), 4);
	assert_int_equal(json_plain_run(s, 5, sizeof(s)), 5);
	assert_int_equal(json_plain_run(s, 6, sizeof(s)), 6);
	assert_int_equal(json_plain_run(s, 7, sizeof(s)), 7);
	assert_int_equal(json_plain_run(s, 8, sizeof(s)), sizeof(s));
}

/* ---- writer ----------------------------------------------------------------- */

struct wt {
	struct buf b;
	struct json_writer w;
};

static void
wt_init(struct wt *t)
{
	assert_int_equal(buf_init(&t->b, 16, 0), 0);
	json_w_init(&t->w, &t->b, 0);
}

/* Finish, compare with want (NUL-terminated), release. */
static void
wt_expect(struct wt *t, const char *want)
{
	assert_int_equal(json_w_finish(&t->w), 0);
	assert_int_equal(buf_len(&t->b), strlen(want));
	assert_memory_equal(t->b.pos, want, strlen(want));
	buf_fini(&t->b);
}

static void
test_writer_hello_ok(void **state)
{
	struct wt t;

	(void)state;
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_kv_str(&t.w, "sessionId", "S-abc");
	json_w_kv_bool(&t.w, "resumed", false);
	json_w_key(&t.w, "resumedBinds");
	json_w_arr_begin(&t.w);
	json_w_obj_begin(&t.w);
	json_w_kv_int(&t.w, "bindId", 7);
	json_w_kv_str(&t.w, "kind", "http");
	json_w_kv_str(&t.w, "mode", "expose");
	json_w_kv_uint(&t.w, "containerPort", 3000);
	json_w_obj_end(&t.w);
	json_w_arr_end(&t.w);
	json_w_kv_uint(&t.w, "streamWindow", 1048576);
	json_w_kv_uint(&t.w, "sessionWindow", 16777216);
	json_w_kv_int(&t.w, "connectionsGranted", 1);
	json_w_key(&t.w, "joinTickets");
	json_w_arr_begin(&t.w);
	json_w_arr_end(&t.w);
	json_w_kv_int(&t.w, "maxStreams", 1024);
	json_w_kv_int(&t.w, "maxFramePayload", 65536);
	json_w_kv_int(&t.w, "pingIntervalMs", 30000);
	json_w_kv_null(&t.w, "publicUrl");
	json_w_key(&t.w, "extra");
	json_w_obj_begin(&t.w);
	json_w_obj_end(&t.w);
	json_w_obj_end(&t.w);
	wt_expect(&t, "{\"sessionId\":\"S-abc\",\"resumed\":false,\"resumedBinds\":[{\"bindId\":7,"
		      "\"kind\":\"http\",\"mode\":\"expose\",\"containerPort\":3000}],"
		      "\"streamWindow\":1048576,"
		      "\"sessionWindow\":16777216,\"connectionsGranted\":1,\"joinTickets\":[],"
		      "\"maxStreams\":1024,\"maxFramePayload\":65536,\"pingIntervalMs\":30000,"
		      "\"publicUrl\":null,\"extra\":{}}");
}

static void
test_writer_arrays_and_scalars(void **state)
{
	struct wt t;

	(void)state;
	wt_init(&t);
	json_w_arr_begin(&t.w);
	json_w_arr_begin(&t.w);
	json_w_cstr(&t.w, "Content-Type");
	json_w_str(&t.w, "text/plain;x", 10);
	json_w_arr_end(&t.w);
	json_w_bool(&t.w, true);
	json_w_null(&t.w);
	json_w_raw(&t.w, "{\"pre\":1}", 9);
	json_w_int(&t.w, INT64_MIN);
	json_w_int(&t.w, INT64_MAX);
	json_w_uint(&t.w, UINT64_MAX);
	json_w_int(&t.w, 0);
	json_w_int(&t.w, -1);
	json_w_arr_end(&t.w);
	wt_expect(&t, "[[\"Content-Type\",\"text/plain\"],true,null,{\"pre\":1},-9223372036854775808,"
		      "9223372036854775807,18446744073709551615,0,-1]");

	wt_init(&t);
	json_w_cstr(&t.w, "top");
	wt_expect(&t, "\"top\"");
	wt_init(&t);
	json_w_int(&t.w, 5);
	wt_expect(&t, "5");
}

static void
test_writer_doubles(void **state)
{
	static const struct {
		double v;
		const char *want;
	} v[] = {
		{ 0.1, "0.1" },
		{ 3.0, "3" },
		{ -0.0, "-0" },
		{ 1e300, "1e+300" },
		{ 1.5, "1.5" },
		{ 123456789.125, "123456789.125" },
		{ 5e-324, "4.94065645841247e-324" },
	};
	struct json_doc doc;
	struct wt t;
	double d, back;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		wt_init(&t);
		json_w_double(&t.w, v[i].v);
		wt_expect(&t, v[i].want);
	}
	/* any finite double reads back exactly */
	for (i = 0, d = 1.0 / 3; i < 200; i++, d *= -7.3) {
		wt_init(&t);
		json_w_double(&t.w, d);
		assert_int_equal(json_w_finish(&t.w), 0);
		assert_int_equal(parse(&doc, (const char *)t.b.pos, buf_len(&t.b)), 0);
		assert_int_equal(json_get_number(&doc, 0, &back), 0);
		assert_true(back == d);
		buf_fini(&t.b);
	}
	wt_init(&t);
	json_w_arr_begin(&t.w);
	json_w_double(&t.w, NAN);
	json_w_arr_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_NUMBER);
	assert_int_equal(buf_len(&t.b), 1);
	buf_fini(&t.b);
	wt_init(&t);
	json_w_double(&t.w, -INFINITY);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_NUMBER);
	buf_fini(&t.b);
}

static void
test_writer_escapes_exact(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} v[] = {
		{ S("\"\\\b\f\n\r\t\x01\x1f/\x7f"), "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f/\x7f\"" },
		{ S("a\0b"), "\"a\\u0000b\"" },
		{ S("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		/* invalid UTF-8: one U+FFFD per maximal ill-formed subpart */
		{ S("a\xe2\x82"
		    "b"),
		  "\"a\xef\xbf\xbd"
		  "b\"" },
		{ S("\xf0\x9f\x98"), "\"\xef\xbf\xbd\"" },
		{ S("\xc0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ S("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ S("\xf4\x90\x80\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ S("\xff\xfe"
		    "x\xe9"),
		  "\"\xef\xbf\xbd\xef\xbf\xbd"
		  "x\xef\xbf\xbd\"" },
	};
	struct json_doc doc;
	struct wt t;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(v); i++) {
		wt_init(&t);
		json_w_str(&t.w, v[i].in, v[i].n);
		wt_expect(&t, v[i].want);
	}
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_kv_strn(&t.w, "k\"\n", "v", 1);
	json_w_obj_end(&t.w);
	wt_expect(&t, "{\"k\\\"\\n\":\"v\"}");

	/* a key holding a NUL, found by length but never by a C string */
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_keyn(&t.w, "a\0b", 3);
	json_w_int(&t.w, 1);
	json_w_obj_end(&t.w);
	assert_int_equal(parse(&doc, (const char *)t.b.pos, buf_len(&t.b)), 0);
	assert_true(json_string_eqn(&doc, 1, "a\0b", 3));
	assert_int_equal(json_get(&doc, 0, "a"), -1);
	wt_expect(&t, "{\"a\\u0000b\":1}");
}

/* Write s[0..n) as a string, parse it back, expect exactly want[0..wn). */
static void
roundtrip(const void *s, size_t n, const void *want, size_t wn)
{
	static char out[20000];
	struct json_limits lim = { 4, 1 << 24 };
	struct json_doc doc;
	struct wt t;

	wt_init(&t);
	json_w_arr_begin(&t.w);
	json_w_str(&t.w, s, n);
	json_w_arr_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), 0);
	assert_int_equal(json_parse(&doc, (const char *)t.b.pos, buf_len(&t.b), toks, 8, &lim), 0);
	assert_int_equal(json_get_string(&doc, 1, out, sizeof(out)), wn);
	assert_memory_equal(out, want, wn);
	assert_true(json_string_eqn(&doc, 1, want, wn));
	buf_fini(&t.b);
}

static void
test_writer_roundtrip(void **state)
{
	char all[128];
	uint8_t u[4096 * 4];
	uint32_t cp;
	size_t i, n;

	(void)state;
	for (i = 0; i < 128; i++) {
		all[i] = (char)i;
		roundtrip(all + i, 1, all + i, 1);
	}
	roundtrip(all, 128, all, 128);
	roundtrip("", 0, "", 0);
	/* every non-surrogate code point, in strings of up to 4096 */
	for (cp = 0x80; cp <= 0x10ffff;) {
		for (n = 0; n < sizeof(u) - 4 && cp <= 0x10ffff; cp++)
			if (cp < 0xd800 || cp > 0xdfff)
				n += enc_utf8(u + n, cp);
		roundtrip(u, n, u, n);
	}
	/* invalid input comes back as U+FFFD */
	roundtrip("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6);
}

/* Every two-byte input is written as valid JSON that parses back. */
static void
test_writer_any_bytes_valid(void **state)
{
	struct json_doc doc;
	uint8_t in[3];
	unsigned a, b;
	struct wt t;

	(void)state;
	for (a = 0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			in[0] = (uint8_t)a;
			in[1] = (uint8_t)b;
			in[2] = 0xe2;
			wt_init(&t);
			json_w_str(&t.w, in, 3);
			assert_int_equal(json_w_finish(&t.w), 0);
			assert_int_equal(parse(&doc, (const char *)t.b.pos, buf_len(&t.b)), 0);
			buf_fini(&t.b);
		}
	}
}

static void
test_writer_usage_errors(void **state)
{
	struct wt t;
	int i;

	(void)state;
	/* value without key in an object */
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_int(&t.w, 1);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* key in an array */
	wt_init(&t);
	json_w_arr_begin(&t.w);
	json_w_key(&t.w, "a");
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* key at top level, two keys in a row */
	wt_init(&t);
	json_w_key(&t.w, "a");
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_key(&t.w, "a");
	json_w_key(&t.w, "b");
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* end with a key waiting for its value */
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_key(&t.w, "a");
	json_w_obj_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* mismatched and unbalanced ends */
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_arr_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	wt_init(&t);
	json_w_arr_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* two top-level values */
	wt_init(&t);
	json_w_int(&t.w, 1);
	json_w_int(&t.w, 2);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	assert_int_equal(buf_len(&t.b), 1);
	buf_fini(&t.b);
	/* unfinished, and nothing written */
	wt_init(&t);
	json_w_arr_begin(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	wt_init(&t);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
	/* depth: 64 is fine, 65 is not */
	wt_init(&t);
	for (i = 0; i < JSON_W_DEPTH_MAX; i++)
		json_w_arr_begin(&t.w);
	for (i = 0; i < JSON_W_DEPTH_MAX; i++)
		json_w_arr_end(&t.w);
	assert_int_equal(json_w_finish(&t.w), 0);
	buf_fini(&t.b);
	wt_init(&t);
	for (i = 0; i <= JSON_W_DEPTH_MAX; i++)
		json_w_arr_begin(&t.w);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_DEPTH);
	buf_fini(&t.b);
}

/* The first failure sticks: later calls write nothing; one check at the end. */
static void
test_writer_sticky_space(void **state)
{
	char big[100];
	struct buf b;
	struct json_writer w;
	uint8_t mem[16];
	size_t len;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(buf_init(&b, 16, 0), 0);
	json_w_init(&w, &b, 64);
	json_w_arr_begin(&w);
	json_w_str(&w, big, 40);
	assert_int_equal(w.err, 0);
	json_w_str(&w, big, 40);
	assert_int_equal(w.err, JSON_W_ERR_SPACE);
	len = buf_len(&b);
	assert_true(len <= 64);
	assert_true(buf_cap(&b) <= 64);
	json_w_int(&w, 1);
	json_w_arr_end(&w);
	json_w_key(&w, "x");
	assert_int_equal(buf_len(&b), len);
	assert_int_equal(json_w_finish(&w), JSON_W_ERR_SPACE);
	buf_fini(&b);

	/* caller memory never grows */
	buf_wrap(&b, mem, sizeof(mem), 0);
	json_w_init(&w, &b, 0);
	json_w_cstr(&w, "0123456789abc");
	assert_int_equal(json_w_finish(&w), 0);
	assert_int_equal(buf_len(&b), 15);
	buf_wrap(&b, mem, sizeof(mem), 0);
	json_w_init(&w, &b, 0);
	json_w_cstr(&w, "0123456789abcdef");
	assert_int_equal(json_w_finish(&w), JSON_W_ERR_SPACE);
	buf_fini(&b);
}

/*
 * json_w_pair writes what arr_begin, two strs and arr_end write, byte for
 * byte and error for error: plain and escaped strings, after other values,
 * in caller memory of every size from none to enough.
 */
static void
pair_same(const char *a, size_t an, const char *b, size_t bn, int before)
{
	uint8_t one[160], two[160];
	struct buf x, y;
	struct json_writer wx, wy;
	size_t cap;

	for (cap = 0; cap <= sizeof(one); cap++) {
		buf_wrap(&x, one, cap, 0);
		buf_wrap(&y, two, cap, 0);
		json_w_init(&wx, &x, 0);
		json_w_init(&wy, &y, 0);
		json_w_arr_begin(&wx);
		json_w_arr_begin(&wy);
		if (before) {
			json_w_int(&wx, 7);
			json_w_int(&wy, 7);
		}
		json_w_pair(&wx, a, an, b, bn);
		json_w_arr_begin(&wy);
		json_w_str(&wy, a, an);
		json_w_str(&wy, b, bn);
		json_w_arr_end(&wy);
		json_w_arr_end(&wx);
		json_w_arr_end(&wy);
		assert_int_equal(json_w_finish(&wx), json_w_finish(&wy));
		if (json_w_finish(&wx) == 0) {
			assert_int_equal(buf_len(&x), buf_len(&y));
			assert_memory_equal(x.pos, y.pos, buf_len(&x));
		}
	}
}

static void
test_writer_pair(void **state)
{
	struct wt t;

	(void)state;
	pair_same("Content-Type", 12, "text/plain", 10, 0);
	pair_same("Content-Type", 12, "text/plain", 10, 1);
	pair_same("", 0, "", 0, 1);
	pair_same("X-A", 3, "a\"b\\c\n", 7, 1);
	pair_same("X-\x01", 3, "caf\xc3\xa9", 5, 0);
	pair_same("X-B", 3, "\xff\xfe", 2, 1);
	pair_same("N\0ul", 4, "v", 1, 1);
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_key(&t.w, "headers");
	json_w_arr_begin(&t.w);
	json_w_pair(&t.w, "Host", 4, "x", 1);
	json_w_pair(&t.w, "A", 1, "\"", 1);
	json_w_arr_end(&t.w);
	json_w_obj_end(&t.w);
	wt_expect(&t, "{\"headers\":[[\"Host\",\"x\"],[\"A\",\"\\\"\"]]}");
	/* where a key is due, a pair is a usage error, as an array would be */
	wt_init(&t);
	json_w_obj_begin(&t.w);
	json_w_pair(&t.w, "a", 1, "b", 1);
	assert_int_equal(json_w_finish(&t.w), JSON_W_ERR_USAGE);
	buf_fini(&t.b);
}

/* Growing keeps the headroom reserved for the frame header. */
static void
test_writer_keeps_headroom(void **state)
{
	struct buf b;
	struct json_writer w;
	struct json_doc doc;
	int i;

	(void)state;
	assert_int_equal(buf_init(&b, 32, 9), 0);
	json_w_init(&w, &b, 0);
	json_w_arr_begin(&w);
	for (i = 0; i < 600; i++)
		json_w_int(&w, i);
	json_w_arr_end(&w);
	assert_int_equal(json_w_finish(&w), 0);
	assert_int_equal(buf_headroom(&b), 9);
	assert_int_equal(parse(&doc, (const char *)b.pos, buf_len(&b)), JSON_ERR_TOKENS);
	assert_int_equal(json_parse(&doc, (const char *)b.pos, buf_len(&b), NULL, 0, NULL), JSON_ERR_TOKENS);
	assert_memory_equal(b.pos, "[0,1,2,", 7);
	assert_memory_equal(b.last - 5, ",599]", 5);
	buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_vectors),
		cmocka_unit_test(test_get_keys),
		cmocka_unit_test(test_get_keys_many),
		cmocka_unit_test(test_invalid_vectors),
		cmocka_unit_test(test_prefixes_incomplete),
		cmocka_unit_test(test_token_layout),
		cmocka_unit_test(test_empty_containers),
		cmocka_unit_test(test_get_member),
		cmocka_unit_test(test_duplicate_keys_last_wins),
		cmocka_unit_test(test_escapes_decode),
		cmocka_unit_test(test_unicode_escape_all_code_points),
		cmocka_unit_test(test_raw_utf8_all_code_points),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_token_capacity),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bool_null),
		cmocka_unit_test(test_obj_getters),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_writer_hello_ok),
		cmocka_unit_test(test_writer_arrays_and_scalars),
		cmocka_unit_test(test_writer_doubles),
		cmocka_unit_test(test_writer_escapes_exact),
		cmocka_unit_test(test_writer_roundtrip),
		cmocka_unit_test(test_writer_any_bytes_valid),
		cmocka_unit_test(test_writer_usage_errors),
		cmocka_unit_test(test_writer_sticky_space),
		cmocka_unit_test(test_writer_keeps_headroom),
		cmocka_unit_test(test_writer_pair),
		cmocka_unit_test(test_plain_run_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
