/*
 * json.h: a small JSON reader (tokens into a caller array) and writer
 * (escaping into a struct buf), for the tunnel protocol's control payloads
 * (HELLO, BIND, STREAM_OPEN, ...) and the admin API's responses.
 *
 * Reader. json_parse() checks a whole text against RFC 8259, strictly: no
 * comments, no trailing commas, no leading zeros, no NaN/Infinity, only
 * SP/HT/CR/LF as whitespace, strings with no raw control characters, only
 * the RFC's escapes, \u surrogates in proper pairs and raw bytes in valid
 * UTF-8 (no overlongs, no encoded surrogates, nothing above U+10FFFF). It
 * writes one token per value (and per object key) into the caller's array,
 * in document order, and allocates nothing. The text is given whole: a
 * frame payload is complete, so there is no streaming and no "need more";
 * a text that ends inside a value is JSON_ERR_INCOMPLETE.
 *
 * Token layout. Each token knows the index of its next sibling (`next`, one
 * past its subtree), so skipping a value is O(1). A container's first child
 * is the token right after it. An object's children are its keys (string
 * tokens); the value of the key at index k is the token k + 1, and the key's
 * `next` is the index of the following key. Iterate with:
 *
 *	for (k = json_first(doc, obj); k >= 0; k = json_next(doc, obj, k))
 *		use key k and value k + 1
 *
 * Duplicate keys are accepted; lookups return the LAST occurrence, as
 * ECMAScript's JSON.parse (the SDK's parser) does, so both ends of the
 * protocol read the same message the same way.
 *
 * Writer. struct json_writer appends to a growable struct buf and inserts
 * commas itself. It has a sticky error (BearSSL style): after the first
 * failure every call is a no-op, and json_w_finish() reports it once at the
 * end. Strings are escaped so that the output is always valid JSON; invalid
 * UTF-8 in a string given to the writer is replaced by U+FFFD (one per
 * maximal ill-formed subpart), never reported as an error, because header
 * values from visitors may carry Latin-1 bytes and must not fail a request.
 *
 * Numbers are formatted and parsed with snprintf/strtod: the program must
 * keep the "C" LC_NUMERIC locale (it never calls setlocale).
 */
#ifndef HT_JSON_H
#define HT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

struct buf;

/* ---- reader ------------------------------------------------------------ */

/* Value types of tokens. */
enum json_type {
	JSON_NONE = 0, /* not a token (json_type() of an invalid index) */
	JSON_OBJECT,   /* { ... }; count = members */
	JSON_ARRAY,    /* [ ... ]; count = elements */
	JSON_STRING,   /* "..."; start/end exclude the quotes; also object keys */
	JSON_NUMBER,   /* start/end span the number text */
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_TYPE_MAX
};

/* Token flags. */
#define JSON_TOK_ESCAPED 0x01 /* string: contains a backslash escape */
#define JSON_TOK_INTEGER 0x02 /* number: integer syntax (no fraction, no exponent) */

/*
 * One value. Offsets are byte offsets into the parsed text; for containers
 * start is at the bracket and end one past the closing bracket.
 */
struct json_tok {
	uint32_t start; /* first byte */
	uint32_t end;   /* one past the last byte */
	uint32_t next;  /* index of the next sibling = one past this subtree */
	uint32_t count; /* object: members; array: elements; else 0 */
	uint8_t type;   /* enum json_type */
	uint8_t flags;  /* JSON_TOK_* */
};

/*
 * Why json_parse failed (it returns one of these; 0 is success). The
 * values are negative so that the return value can be tested with `< 0`.
 */
enum json_error {
	JSON_OK = 0,
	JSON_ERR_SYNTAX = -1,     /* a byte that cannot appear there */
	JSON_ERR_INCOMPLETE = -2, /* the text ends inside a value (or is empty) */
	JSON_ERR_TRAILING = -3,   /* something other than whitespace after the value */
	JSON_ERR_DEPTH = -4,      /* containers nested deeper than max_depth */
	JSON_ERR_TOKENS = -5,     /* more values than the token array holds */
	JSON_ERR_TOO_LARGE = -6,  /* text longer than max_size */
	JSON_ERR_UTF8 = -7,       /* ill-formed UTF-8 inside a string */
	JSON_ERR_CONTROL = -8,    /* raw byte < 0x20 inside a string */
	JSON_ERR_ESCAPE = -9,     /* unknown escape, or \u without 4 hex digits */
	JSON_ERR_SURROGATE = -10, /* \u high surrogate not followed by a low one, or a lone low */
	JSON_ERR_NUMBER = -11,    /* number longer than JSON_NUMBER_MAX or beyond double range */
	JSON_ERR_MIN = -12        /* sentinel: every error is > JSON_ERR_MIN */
};

/* Defaults used when json_limits is NULL or a field is 0. */
#define JSON_DEPTH_DEFAULT 32
#define JSON_SIZE_DEFAULT (1024 * 1024)
/* Longest accepted number text, in bytes. */
#define JSON_NUMBER_MAX 64

struct json_limits {
	size_t max_depth; /* open containers at once (1: a flat object) */
	size_t max_size;  /* bytes of text; never more than UINT32_MAX - 1 */
};

/*
 * A parsed document: the text and the tokens, both owned by the caller and
 * both needed as long as the doc is used. Fields are read-only for callers.
 */
struct json_doc {
	const char *text;
	size_t len;
	struct json_tok *toks;
	size_t ntoks;   /* tokens in use (after success: all values and keys) */
	int err;        /* enum json_error of the last json_parse */
	size_t err_off; /* byte offset where the error was found */
};

/*
 * Parse text[0..len) into toks[0..ntoks). lim may be NULL (defaults).
 * Returns 0, or a negative enum json_error (also stored in doc->err, with
 * the offset in doc->err_off). On success the top-level value is token 0.
 * On failure the tokens are unspecified and must not be used. Never reads
 * outside text[0..len); a NUL byte in the text is just a byte (invalid
 * outside strings, a control character inside them).
 */
int json_parse(struct json_doc *doc, const char *text, size_t len, struct json_tok *toks, size_t ntoks,
	       const struct json_limits *lim);

/* A short English description of an enum json_error (static string). */
const char *json_strerror(int err);

/*
 * Status of the getters. Every getter takes a token index; an index < 0
 * (such as json_get()'s "not found") gives JSON_GET_MISSING, so lookups
 * chain: json_get_int(doc, json_get(doc, 0, "bindId"), &v).
 */
#define JSON_GET_OK 0
#define JSON_GET_MISSING (-1) /* no such member / invalid index */
#define JSON_GET_TYPE (-2)    /* the value has another type */
#define JSON_GET_RANGE (-3)   /* right type, but does not fit (see each getter) */
#define JSON_GET_NULL (-4)    /* the value is null (callers often treat it as missing) */

/* Type of token tok, or JSON_NONE when tok is not a valid index. */
enum json_type json_type(const struct json_doc *doc, int tok);

/*
 * Index of the value of member `key` (compared after unescaping) of the
 * object at index obj; the last one when the key is repeated. -1 when obj
 * is not an object or has no such member. O(members).
 */
int json_get(const struct json_doc *doc, int obj, const char *key);

/*
 * json_get() for the n keys in keys[] in one pass over the members:
 * vals[i] gets what json_get(doc, obj, keys[i]) would return. Keys are
 * distinct C strings. Returns how many were found (-1, all vals -1, when
 * obj is not an object). O(members * n) short compares.
 */
int json_get_keys(const struct json_doc *doc, int obj, const char *const *keys, size_t n, int *vals);

/*
 * Iteration: the first child of a container (an object's first key), -1
 * when empty or not a container; and the sibling after child i of
 * container parent, -1 after the last.
 */
int json_first(const struct json_doc *doc, int tok);
int json_next(const struct json_doc *doc, int parent, int i);

/*
 * Integer value of a number token written in integer syntax (optional
 * minus, digits) with |v| <= 2^53, exact. 1.0, 1e3 and 2^53 + 1 give
 * JSON_GET_RANGE (valid JSON, but not an integer this getter takes).
 */
int json_get_int(const struct json_doc *doc, int tok, int64_t *out);

/* Value of any number token as the nearest double (strtod). */
int json_get_number(const struct json_doc *doc, int tok, double *out);

/* Value of a true/false token. */
int json_get_bool(const struct json_doc *doc, int tok, bool *out);

/* 1 when tok is a null token, else 0. */
int json_is_null(const struct json_doc *doc, int tok);

/*
 * Unescape string token tok into out[0..cap): returns its length (which
 * counts any U+0000 from \u0000) and NUL-terminates it; the bytes are valid
 * UTF-8. The length never exceeds tok->end - tok->start, so a cap of that
 * plus one always fits. JSON_GET_RANGE when len + 1 > cap (out is then the
 * empty string if cap > 0).
 */
ssize_t json_get_string(const struct json_doc *doc, int tok, char *out, size_t cap);

/*
 * 1 when string token tok, unescaped, equals the C string s; else 0 (also
 * when tok is not a string). No copy.
 */
int json_string_eq(const struct json_doc *doc, int tok, const char *s);

/* The same, against s[0..n) (which may hold NUL bytes). */
int json_string_eqn(const struct json_doc *doc, int tok, const char *s, size_t n);

/* Member getters: json_get() then the getter above, same statuses. */
int json_obj_get_int(const struct json_doc *doc, int obj, const char *key, int64_t *out);
int json_obj_get_bool(const struct json_doc *doc, int obj, const char *key, bool *out);
ssize_t json_obj_get_str(const struct json_doc *doc, int obj, const char *key, char *out, size_t cap);

/* ---- writer ------------------------------------------------------------ */

/* Deepest nesting the writer tracks. */
#define JSON_W_DEPTH_MAX 64

/* The writer's sticky error. */
enum json_w_error {
	JSON_W_OK = 0,
	JSON_W_ERR_SPACE = -1,  /* the buf could not grow (max reached, caller memory full, ENOMEM) */
	JSON_W_ERR_USAGE = -2,  /* calls out of order: value without key in an object, key in an
				   array, unbalanced end, second top-level value, unfinished at finish */
	JSON_W_ERR_DEPTH = -3,  /* more than JSON_W_DEPTH_MAX open containers */
	JSON_W_ERR_NUMBER = -4, /* NaN or infinity given to json_w_double */
};

/*
 * Writer state; fields are private except err (read-only). Output goes at
 * b->last; the buf's current headroom is kept when it has to grow.
 */
struct json_writer {
	struct buf *b;
	size_t max;        /* total size limit for buf_reserve (0: none) */
	uint64_t obj;      /* bit d-1: the container at depth d is an object */
	uint64_t nonempty; /* bit d-1: the container at depth d has an element */
	unsigned depth;    /* open containers */
	bool want_value;   /* a key was written; its value comes next */
	bool done;         /* the top-level value is complete */
	int err;           /* enum json_w_error, sticky */
};

/*
 * Start writing one JSON value into b. max bounds the buffer's total size
 * when it has to grow (0: no bound; a buf_wrap'ed buffer never grows).
 */
void json_w_init(struct json_writer *w, struct buf *b, size_t max);

/*
 * The end: 0 when one complete value was written, else the first error
 * (JSON_W_ERR_USAGE when nothing or an unfinished value was written). After
 * an error the bytes already appended are garbage for the caller to drop.
 */
int json_w_finish(const struct json_writer *w);

void json_w_obj_begin(struct json_writer *w);
void json_w_obj_end(struct json_writer *w);
void json_w_arr_begin(struct json_writer *w);
void json_w_arr_end(struct json_writer *w);

/*
 * An object key from name[0..n), which may hold NUL bytes (escaped like a
 * string); the next call writes its value.
 */
void json_w_keyn(struct json_writer *w, const void *name, size_t n);

/*
 * A string from s[0..n): ", \ and bytes < 0x20 are escaped (\b \f \n \r \t
 * or \u00XX), invalid UTF-8 becomes U+FFFD, everything else is copied.
 */
void json_w_str(struct json_writer *w, const void *s, size_t n);
/*
 * The array [a, b] of two strings, as json_w_arr_begin, json_w_str twice and
 * json_w_arr_end would write it (a header's name and value), in one go.
 */
void json_w_pair(struct json_writer *w, const void *a, size_t an, const void *b, size_t bn);

/* Numbers. Integers are exact (readers in JS lose precision above 2^53). */
void json_w_int(struct json_writer *w, int64_t v);
void json_w_uint(struct json_writer *w, uint64_t v);
/* A finite double, shortest of %.15g/%.16g/%.17g that reads back exactly. */
void json_w_double(struct json_writer *w, double v);
void json_w_bool(struct json_writer *w, bool v);
void json_w_null(struct json_writer *w);

/* Pre-encoded JSON p[0..n), copied as is: the caller vouches for it. */
void json_w_raw(struct json_writer *w, const char *p, size_t n);

/*
 * The same for C strings, and key + value in one call: inline, so that the
 * length of a literal is known when compiling.
 */
static inline void
json_w_key(struct json_writer *w, const char *name)
{
	json_w_keyn(w, name, strlen(name));
}

static inline void
json_w_cstr(struct json_writer *w, const char *s)
{
	json_w_str(w, s, strlen(s));
}

static inline void
json_w_kv_str(struct json_writer *w, const char *key, const char *s)
{
	json_w_key(w, key);
	json_w_cstr(w, s);
}

static inline void
json_w_kv_strn(struct json_writer *w, const char *key, const void *s, size_t n)
{
	json_w_key(w, key);
	json_w_str(w, s, n);
}

static inline void
json_w_kv_int(struct json_writer *w, const char *key, int64_t v)
{
	json_w_key(w, key);
	json_w_int(w, v);
}

static inline void
json_w_kv_uint(struct json_writer *w, const char *key, uint64_t v)
{
	json_w_key(w, key);
	json_w_uint(w, v);
}

static inline void
json_w_kv_double(struct json_writer *w, const char *key, double v)
{
	json_w_key(w, key);
	json_w_double(w, v);
}

static inline void
json_w_kv_bool(struct json_writer *w, const char *key, bool v)
{
	json_w_key(w, key);
	json_w_bool(w, v);
}

static inline void
json_w_kv_null(struct json_writer *w, const char *key)
{
	json_w_key(w, key);
	json_w_null(w);
}

#endif
