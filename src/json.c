/*
 * json.c: strict RFC 8259 reader into a token array, and its getters
 * (see json.h; the writer is json_w.c).
 *
 * The reader is one pass over the whole text with no recursion and no
 * stack: while a container is open, its token's `next` field holds the
 * index of the enclosing container and an object's `end` field the index
 * of its current key; both get their real values when the container
 * closes. Strings are validated (escapes, surrogate pairs, UTF-8) during
 * the pass so that the getters can decode without checking again.
 *
 * It does not stream, build a tree, convert numbers during the parse, or
 * allocate.
 */
#include "json.h"
#include "json_int.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- character classes and UTF-8 (shared with json_w.c) ------------------- */

/* see json_int.h */
const uint8_t json_cc_table[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* see json_int.h */
size_t
json_utf8_len(const uint8_t *s, size_t n, size_t *sub)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*sub = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*sub = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

/* Encode code point cp (valid, not a surrogate) as UTF-8 into out; the length. */
static size_t
utf8_put(uint8_t *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (uint8_t)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Four hex digits at s[0..n) into *cp: 0, JSON_ERR_ESCAPE on a non-hex
 * byte, JSON_ERR_INCOMPLETE when the text ends first.
 */
static int
hex4(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t i;
	int v;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if (i >= n)
			return JSON_ERR_INCOMPLETE;
		v = hexval(s[i]);
		if (v < 0)
			return JSON_ERR_ESCAPE;
		*cp = (*cp << 4) | (uint32_t)v;
	}
	return 0;
}

/* ---- reader --------------------------------------------------------------- */

/*
 * What the reader expects next (whitespace aside).
 */
enum jp_state {
	JP_VALUE = 0, /* a value: at the start, after ':' and after ',' in an array */
	JP_ARR_FIRST, /* a value or ']' (right after '[') */
	JP_OBJ_FIRST, /* a key or '}' (right after '{') */
	JP_KEY,       /* a key (after ',' in an object) */
	JP_COLON,     /* ':' after a key */
	JP_AFTER,     /* ',' or the closing bracket of the open container */
	JP_DONE,      /* the top-level value is complete: only whitespace */
	JP_MAX
};

/* Parent index of a top-level container while it is open. */
#define JP_TOP UINT32_MAX

struct jp {
	const uint8_t *s;
	size_t len;
	size_t pos;
	struct json_doc *doc;
	size_t cap;   /* token capacity */
	size_t depth; /* open containers */
	size_t max_depth;
	int cur; /* innermost open container, -1 at top level */
	enum jp_state state;
};

static int
jp_fail(struct jp *p, int err, size_t off)
{
	p->doc->err = err;
	p->doc->err_off = off;
	return err;
}

static int
is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Append a token for a value starting at `start`; its index or an error. */
static int
jp_add(struct jp *p, enum json_type type, size_t start)
{
	struct json_doc *doc = p->doc;
	struct json_tok *t;
	int idx;

	if (doc->ntoks >= p->cap)
		return jp_fail(p, JSON_ERR_TOKENS, start);
	idx = (int)doc->ntoks++;
	t = &doc->toks[idx];
	t->start = t->end = (uint32_t)start;
	t->next = (uint32_t)doc->ntoks;
	t->count = 0;
	t->type = (uint8_t)type;
	t->flags = 0;
	if (p->cur >= 0 && doc->toks[p->cur].type == JSON_ARRAY)
		doc->toks[p->cur].count++;
	return idx;
}

/* A value has been completed: link it to its key and pick the next state. */
static void
jp_value_done(struct jp *p)
{
	struct json_tok *c;

	if (p->cur < 0) {
		p->state = JP_DONE;
		return;
	}
	c = &p->doc->toks[p->cur];
	if (c->type == JSON_OBJECT)
		p->doc->toks[c->end].next = (uint32_t)p->doc->ntoks;
	p->state = JP_AFTER;
}

/*
 * Check the escape at s[i] (a backslash); advance *ip past it. A \u high
 * surrogate must be followed at once by a \u low surrogate.
 */
static int
jp_escape(struct jp *p, size_t *ip)
{
	const uint8_t *s = p->s;
	size_t i = *ip, n = p->len;
	uint32_t hi, lo;
	int rc;

	if (i + 1 >= n)
		return jp_fail(p, JSON_ERR_INCOMPLETE, n);
	switch (s[i + 1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't': *ip = i + 2; return 0;
	case 'u': break;
	default: return jp_fail(p, JSON_ERR_ESCAPE, i);
	}
	if ((rc = hex4(s + i + 2, n - i - 2, &hi)) != 0)
		return jp_fail(p, rc, rc == JSON_ERR_INCOMPLETE ? n : i);
	i += 6;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return jp_fail(p, JSON_ERR_SURROGATE, i - 6);
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (i >= n || (s[i] == '\\' && i + 1 >= n))
			return jp_fail(p, JSON_ERR_INCOMPLETE, n);
		if (s[i] != '\\' || s[i + 1] != 'u')
			return jp_fail(p, JSON_ERR_SURROGATE, i - 6);
		if ((rc = hex4(s + i + 2, n - i - 2, &lo)) != 0)
			return jp_fail(p, rc, rc == JSON_ERR_INCOMPLETE ? n : i);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return jp_fail(p, JSON_ERR_SURROGATE, i - 6);
		i += 6;
	}
	*ip = i;
	return 0;
}

/*
 * The string starting at the quote s[pos]: validate it, add its token
 * (content without the quotes) and move past the closing quote.
 */
static int
jp_string(struct jp *p)
{
	const uint8_t *s = p->s;
	size_t i = p->pos + 1, n = p->len, sub, k;
	uint8_t flags = 0;
	int idx, rc;

	for (;;) {
		i = json_plain_run(s, i, n);
		if (i >= n)
			return jp_fail(p, JSON_ERR_INCOMPLETE, n);
		switch (json_cc_table[s[i]]) {
		case CC_QUOTE:
			if ((idx = jp_add(p, JSON_STRING, p->pos + 1)) < 0)
				return idx;
			p->doc->toks[idx].end = (uint32_t)i;
			p->doc->toks[idx].flags = flags;
			p->pos = i + 1;
			return idx;
		case CC_BSL:
			flags |= JSON_TOK_ESCAPED;
			if ((rc = jp_escape(p, &i)) != 0)
				return rc;
			break;
		case CC_CTRL: return jp_fail(p, JSON_ERR_CONTROL, i);
		default:
			if ((k = json_utf8_len(s + i, n - i, &sub)) == 0 && i + sub >= n)
				return jp_fail(p, JSON_ERR_INCOMPLETE, n);
			if (k == 0)
				return jp_fail(p, JSON_ERR_UTF8, i);
			i += k;
			break;
		}
	}
}

/* Digits at s[*ip..): advance past them; JSON_ERR_* when there are none. */
static int
jp_digits(struct jp *p, size_t *ip)
{
	size_t i = *ip;

	if (i >= p->len)
		return jp_fail(p, JSON_ERR_INCOMPLETE, i);
	if (!is_digit(p->s[i]))
		return jp_fail(p, JSON_ERR_SYNTAX, i);
	while (i < p->len && is_digit(p->s[i]))
		i++;
	*ip = i;
	return 0;
}

/* A number at s[pos]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
jp_number(struct jp *p)
{
	const uint8_t *s = p->s;
	size_t i = p->pos, n = p->len;
	uint8_t flags = JSON_TOK_INTEGER;
	int idx, rc, has_exp = 0;

	if (s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		if (++i < n && is_digit(s[i]))
			return jp_fail(p, JSON_ERR_SYNTAX, i);
	} else if ((rc = jp_digits(p, &i)) != 0) {
		return rc;
	}
	if (i < n && s[i] == '.') {
		i++;
		flags = 0;
		if ((rc = jp_digits(p, &i)) != 0)
			return rc;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		flags = 0;
		has_exp = 1;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if ((rc = jp_digits(p, &i)) != 0)
			return rc;
	}
	if (i - p->pos > JSON_NUMBER_MAX)
		return jp_fail(p, JSON_ERR_NUMBER, p->pos);
	if ((idx = jp_add(p, JSON_NUMBER, p->pos)) < 0)
		return idx;
	p->doc->toks[idx].end = (uint32_t)i;
	p->doc->toks[idx].flags = flags;
	/* Within 64 bytes only a large exponent can leave the double range. */
	if (has_exp) {
		double d;

		if (json_get_number(p->doc, idx, &d) != 0 || isinf(d))
			return jp_fail(p, JSON_ERR_NUMBER, p->pos);
	}
	p->pos = i;
	return idx;
}

/* true, false or null at s[pos]. */
static int
jp_literal(struct jp *p, const char *lit, enum json_type type)
{
	size_t k = strlen(lit), avail = p->len - p->pos;
	int idx;

	if (memcmp(p->s + p->pos, lit, UTIL_MIN(k, avail)) != 0)
		return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
	if (avail < k)
		return jp_fail(p, JSON_ERR_INCOMPLETE, p->len);
	if ((idx = jp_add(p, type, p->pos)) < 0)
		return idx;
	p->pos += k;
	p->doc->toks[idx].end = (uint32_t)p->pos;
	return idx;
}

/* Open an object or array at s[pos]. */
static int
jp_open(struct jp *p, enum json_type type)
{
	int idx;

	if (p->depth >= p->max_depth)
		return jp_fail(p, JSON_ERR_DEPTH, p->pos);
	if ((idx = jp_add(p, type, p->pos)) < 0)
		return idx;
	/* the parent, until this one closes */
	p->doc->toks[idx].next = p->cur < 0 ? JP_TOP : (uint32_t)p->cur;
	p->depth++;
	p->cur = idx;
	p->pos++;
	p->state = type == JSON_OBJECT ? JP_OBJ_FIRST : JP_ARR_FIRST;
	return 0;
}

/* Close the open container at s[pos], which must be of the given type. */
static int
jp_close(struct jp *p, enum json_type type)
{
	struct json_tok *t;

	if (p->cur < 0 || p->doc->toks[p->cur].type != type)
		return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
	t = &p->doc->toks[p->cur];
	p->cur = t->next == JP_TOP ? -1 : (int)t->next; /* the parent, saved by jp_open */
	t->next = (uint32_t)p->doc->ntoks;
	t->end = (uint32_t)(++p->pos);
	p->depth--;
	jp_value_done(p);
	return 0;
}

/* A value starting at s[pos]. */
static int
jp_value(struct jp *p)
{
	int rc;

	switch (p->s[p->pos]) {
	case '{': return jp_open(p, JSON_OBJECT);
	case '[': return jp_open(p, JSON_ARRAY);
	case '"': rc = jp_string(p); break;
	case 't': rc = jp_literal(p, "true", JSON_TRUE); break;
	case 'f': rc = jp_literal(p, "false", JSON_FALSE); break;
	case 'n': rc = jp_literal(p, "null", JSON_NULL); break;
	default:
		if (p->s[p->pos] != '-' && !is_digit(p->s[p->pos]))
			return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
		rc = jp_number(p);
		break;
	}
	if (rc < 0)
		return rc;
	jp_value_done(p);
	return 0;
}

/* A key at s[pos] in the open object. */
static int
jp_key(struct jp *p)
{
	struct json_tok *obj = &p->doc->toks[p->cur];
	int idx;

	if (p->s[p->pos] != '"')
		return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
	if ((idx = jp_string(p)) < 0)
		return idx;
	obj->count++;
	obj->end = (uint32_t)idx; /* current key, until the object closes */
	p->state = JP_COLON;
	return 0;
}

/* One step at the non-whitespace byte s[pos]. */
static int
jp_step(struct jp *p)
{
	uint8_t c = p->s[p->pos];

	switch (p->state) {
	case JP_ARR_FIRST:
		if (c == ']')
			return jp_close(p, JSON_ARRAY);
		return jp_value(p);
	case JP_VALUE: return jp_value(p);
	case JP_OBJ_FIRST:
		if (c == '}')
			return jp_close(p, JSON_OBJECT);
		return jp_key(p);
	case JP_KEY: return jp_key(p);
	case JP_COLON:
		if (c != ':')
			return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
		p->pos++;
		p->state = JP_VALUE;
		return 0;
	case JP_AFTER:
		if (c == ',') {
			p->pos++;
			p->state = p->doc->toks[p->cur].type == JSON_OBJECT ? JP_KEY : JP_VALUE;
			return 0;
		}
		if (c == ']')
			return jp_close(p, JSON_ARRAY);
		if (c == '}')
			return jp_close(p, JSON_OBJECT);
		return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
	case JP_DONE: return jp_fail(p, JSON_ERR_TRAILING, p->pos);
	case JP_MAX: break;
	}
	assert(0 && "bad reader state");
	return jp_fail(p, JSON_ERR_SYNTAX, p->pos);
}

/* see json.h */
int
json_parse(struct json_doc *doc, const char *text, size_t len, struct json_tok *toks, size_t ntoks,
	   const struct json_limits *lim)
{
	struct jp p;
	size_t max_size = lim && lim->max_size ? lim->max_size : JSON_SIZE_DEFAULT;
	int rc;

	memset(doc, 0, sizeof(*doc));
	doc->text = text;
	doc->len = len;
	doc->toks = toks;
	memset(&p, 0, sizeof(p));
	p.s = (const uint8_t *)text;
	p.len = len;
	p.doc = doc;
	p.cap = UTIL_MIN(ntoks, (size_t)INT32_MAX);
	p.max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEPTH_DEFAULT;
	p.cur = -1;
	p.state = JP_VALUE;
	if (len > max_size || len >= UINT32_MAX)
		return jp_fail(&p, JSON_ERR_TOO_LARGE, 0);
	while (p.pos < len) {
		if (is_ws(p.s[p.pos])) {
			p.pos++;
			continue;
		}
		if ((rc = jp_step(&p)) < 0)
			return rc;
	}
	if (p.state != JP_DONE)
		return jp_fail(&p, JSON_ERR_INCOMPLETE, len);
	return 0;
}

/* see json.h */
const char *
json_strerror(int err)
{
	static const char *const msg[] = {
		"ok",
		"syntax error",
		"incomplete text",
		"trailing garbage after the value",
		"nested too deeply",
		"too many values",
		"text too large",
		"invalid UTF-8 in a string",
		"control character in a string",
		"invalid escape",
		"unpaired surrogate escape",
		"number out of range",
	};

	if (err > 0 || err <= JSON_ERR_MIN)
		return "unknown error";
	return msg[-err];
}

/* ---- getters ------------------------------------------------------------ */

static const struct json_tok *
tok_at(const struct json_doc *doc, int tok)
{
	if (tok < 0 || (size_t)tok >= doc->ntoks)
		return NULL;
	return &doc->toks[tok];
}

/* see json.h */
enum json_type
json_type(const struct json_doc *doc, int tok)
{
	const struct json_tok *t = tok_at(doc, tok);

	return t ? (enum json_type)t->type : JSON_NONE;
}

/* see json.h */
int
json_first(const struct json_doc *doc, int tok)
{
	const struct json_tok *t = tok_at(doc, tok);

	if (!t || (t->type != JSON_OBJECT && t->type != JSON_ARRAY) || t->count == 0)
		return -1;
	return tok + 1;
}

/* see json.h */
int
json_next(const struct json_doc *doc, int parent, int i)
{
	const struct json_tok *pt = tok_at(doc, parent), *t = tok_at(doc, i);

	if (!pt || !t || i <= parent || t->next >= pt->next)
		return -1;
	return (int)t->next;
}

/* see json.h */
int
json_get(const struct json_doc *doc, int obj, const char *key)
{
	int k, found = -1;
	size_t klen = strlen(key);

	if (json_type(doc, obj) != JSON_OBJECT)
		return -1;
	for (k = json_first(doc, obj); k >= 0; k = json_next(doc, obj, k))
		if (json_string_eqn(doc, k, key, klen))
			found = k + 1;
	return found;
}

/* 1 when key token k equals the C string key (raw compare when k has no escape) */
static int
key_is(const struct json_doc *doc, const struct json_tok *t, int k, const char *key)
{
	size_t n = t->end - t->start;

	if (t->flags & JSON_TOK_ESCAPED)
		return json_string_eqn(doc, k, key, strlen(key));
	/* a JSON string holds no raw NUL: the first byte and strncmp stop at key's end */
	if (n == 0 || doc->text[t->start] != key[0])
		return n == 0 && key[0] == '\0';
	return strncmp(doc->text + t->start, key, n) == 0 && key[n] == '\0';
}

/* json_get_keys for an unescaped member name t: the index in keys of the equal key, or -1 */
static int
raw_key_index(const struct json_doc *doc, const struct json_tok *t, const char *const *keys,
	      const size_t *klen, size_t n)
{
	size_t i, len = t->end - t->start;
	const char *name = doc->text + t->start;

	for (i = 0; i < n; i++)
		if (klen[i] == len &&
		    (len == 0 || (keys[i][0] == name[0] && memcmp(name, keys[i], len) == 0)))
			return (int)i;
	return -1;
}

/* see json.h */
int
json_get_keys(const struct json_doc *doc, int obj, const char *const *keys, size_t n, int *vals)
{
	size_t klen[16]; /* with the keys' lengths most members cost a compare per key */
	int k, found = 0, fast = n <= UTIL_ARRAY_SIZE(klen), hit;
	size_t i;

	for (i = 0; i < n; i++) {
		vals[i] = -1;
		if (fast)
			klen[i] = strlen(keys[i]);
	}
	if (json_type(doc, obj) != JSON_OBJECT)
		return -1;
	for (k = obj + 1; (uint32_t)k < doc->toks[obj].next; k = (int)doc->toks[k].next) {
		const struct json_tok *t = &doc->toks[k];

		hit = -1;
		if (fast && !(t->flags & JSON_TOK_ESCAPED))
			hit = raw_key_index(doc, t, keys, klen, n);
		else
			for (i = 0; i < n && hit < 0; i++)
				if (key_is(doc, t, k, keys[i]))
					hit = (int)i;
		if (hit >= 0) {
			found += vals[hit] < 0;
			vals[hit] = k + 1;
		}
	}
	return found;
}

/*
 * Next piece of the unescaped string whose raw content ends at `end`,
 * starting at *ip: a run of literal bytes (pointing into the text) or one
 * decoded escape (in tmp). Returns the piece's length and sets *out.
 * The text was validated by json_parse.
 */
static size_t
str_piece(const uint8_t *s, size_t *ip, size_t end, const uint8_t **out, uint8_t tmp[4])
{
	size_t i = *ip, j;
	uint32_t cp, lo;

	if (s[i] != '\\') {
		for (j = i; j < end && s[j] != '\\'; j++)
			;
		*out = s + i;
		*ip = j;
		return j - i;
	}
	*out = tmp;
	*ip = i + 2;
	switch (s[i + 1]) {
	case 'b': tmp[0] = '\b'; return 1;
	case 'f': tmp[0] = '\f'; return 1;
	case 'n': tmp[0] = '\n'; return 1;
	case 'r': tmp[0] = '\r'; return 1;
	case 't': tmp[0] = '\t'; return 1;
	case 'u': break;
	default: tmp[0] = s[i + 1]; return 1; /* " \ / */
	}
	(void)hex4(s + i + 2, 4, &cp);
	*ip = i + 6;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		(void)hex4(s + i + 8, 4, &lo);
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		*ip = i + 12;
	}
	return utf8_put(tmp, cp);
}

/* see json.h */
ssize_t
json_get_string(const struct json_doc *doc, int tok, char *out, size_t cap)
{
	const struct json_tok *t = tok_at(doc, tok);
	const uint8_t *s = (const uint8_t *)doc->text, *piece;
	uint8_t tmp[4];
	size_t i, n, len = 0;

	if (!t)
		return JSON_GET_MISSING;
	if (t->type == JSON_NULL)
		return JSON_GET_NULL;
	if (t->type != JSON_STRING)
		return JSON_GET_TYPE;
	if (!(t->flags & JSON_TOK_ESCAPED)) { /* the text is the string: one copy */
		n = t->end - t->start;
		if (n >= cap) {
			if (cap)
				out[0] = '\0';
			return JSON_GET_RANGE;
		}
		memcpy(out, s + t->start, n);
		out[n] = '\0';
		return (ssize_t)n;
	}
	for (i = t->start; i < t->end;) {
		n = str_piece(s, &i, t->end, &piece, tmp);
		if (len + n >= cap) {
			if (cap)
				out[0] = '\0';
			return JSON_GET_RANGE;
		}
		memcpy(out + len, piece, n);
		len += n;
	}
	if (cap == 0)
		return JSON_GET_RANGE;
	out[len] = '\0';
	return (ssize_t)len;
}

/* see json.h */
int
json_string_eqn(const struct json_doc *doc, int tok, const char *str, size_t n)
{
	const struct json_tok *t = tok_at(doc, tok);
	const uint8_t *s = (const uint8_t *)doc->text, *piece;
	uint8_t tmp[4];
	size_t i, k, off = 0;

	if (!t || t->type != JSON_STRING)
		return 0;
	if (!(t->flags & JSON_TOK_ESCAPED))
		return t->end - t->start == n && memcmp(s + t->start, str, n) == 0;
	for (i = t->start; i < t->end;) {
		k = str_piece(s, &i, t->end, &piece, tmp);
		if (k > n - off || memcmp(str + off, piece, k) != 0)
			return 0;
		off += k;
	}
	return off == n;
}

/* see json.h */
int
json_string_eq(const struct json_doc *doc, int tok, const char *s)
{
	return json_string_eqn(doc, tok, s, strlen(s));
}

/* Common checks of the scalar getters: JSON_GET_OK when tok has `type`. */
static int
want_type(const struct json_doc *doc, int tok, enum json_type type)
{
	const struct json_tok *t = tok_at(doc, tok);

	if (!t)
		return JSON_GET_MISSING;
	if (t->type == JSON_NULL && type != JSON_NULL)
		return JSON_GET_NULL;
	return t->type == type ? JSON_GET_OK : JSON_GET_TYPE;
}

#define JSON_INT_MAX ((uint64_t)1 << 53)

/* see json.h */
int
json_get_int(const struct json_doc *doc, int tok, int64_t *out)
{
	const struct json_tok *t;
	const char *s;
	uint64_t v = 0;
	size_t i;
	int rc, neg;

	if ((rc = want_type(doc, tok, JSON_NUMBER)) != 0)
		return rc;
	t = &doc->toks[tok];
	if (!(t->flags & JSON_TOK_INTEGER))
		return JSON_GET_RANGE;
	s = doc->text;
	neg = s[t->start] == '-';
	if (t->end - t->start - (uint32_t)neg > 16) /* 2^53 has 16 digits */
		return JSON_GET_RANGE;
	for (i = t->start + (size_t)neg; i < t->end; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (v > JSON_INT_MAX)
		return JSON_GET_RANGE;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return JSON_GET_OK;
}

/* see json.h */
int
json_get_number(const struct json_doc *doc, int tok, double *out)
{
	const struct json_tok *t;
	char tmp[JSON_NUMBER_MAX + 1];
	size_t n;
	int rc;

	if ((rc = want_type(doc, tok, JSON_NUMBER)) != 0)
		return rc;
	t = &doc->toks[tok];
	n = t->end - t->start;
	if (n > JSON_NUMBER_MAX)
		return JSON_GET_RANGE;
	memcpy(tmp, doc->text + t->start, n);
	tmp[n] = '\0';
	*out = strtod(tmp, NULL);
	return JSON_GET_OK;
}

/* see json.h */
int
json_get_bool(const struct json_doc *doc, int tok, bool *out)
{
	int rc = want_type(doc, tok, JSON_TRUE);

	if (rc == JSON_GET_TYPE && doc->toks[tok].type == JSON_FALSE) {
		*out = false;
		return JSON_GET_OK;
	}
	if (rc == JSON_GET_OK)
		*out = true;
	return rc;
}

/* see json.h */
int
json_is_null(const struct json_doc *doc, int tok)
{
	return json_type(doc, tok) == JSON_NULL;
}

/* see json.h */
int
json_obj_get_int(const struct json_doc *doc, int obj, const char *key, int64_t *out)
{
	return json_get_int(doc, json_get(doc, obj, key), out);
}

/* see json.h */
int
json_obj_get_bool(const struct json_doc *doc, int obj, const char *key, bool *out)
{
	return json_get_bool(doc, json_get(doc, obj, key), out);
}

/* see json.h */
ssize_t
json_obj_get_str(const struct json_doc *doc, int obj, const char *key, char *out, size_t cap)
{
	return json_get_string(doc, json_get(doc, obj, key), out, cap);
}
