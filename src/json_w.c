/*
 * json_w.c: the JSON writer into a struct buf (see json.h).
 *
 * Values go straight into the buffer with the commas and colons their
 * place needs; strings are escaped as RFC 8259 requires, and ill-formed
 * UTF-8 in them becomes U+FFFD (one per maximal ill-formed subpart). The
 * first failure sticks. It does not pretty-print.
 */
#include "json.h"
#include "json_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

/* ---- writer --------------------------------------------------------------- */

static void
w_put(struct json_writer *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (buf_room(w->b) < n && buf_reserve(w->b, n, buf_headroom(w->b), w->max) != 0) {
		w->err = JSON_W_ERR_SPACE;
		return;
	}
	memcpy(w->b->last, p, n);
	w->b->last += n;
}

static void
w_putc(struct json_writer *w, char c)
{
	if (!w->err && buf_room(w->b) > 0)
		*w->b->last++ = (uint8_t)c;
	else
		w_put(w, &c, 1);
}

static uint64_t
w_bit(const struct json_writer *w)
{
	return (uint64_t)1 << (w->depth - 1);
}

/* Before a value: check the order, write the comma. 0 to go on, -1 to stop. */
static int
w_pre_value(struct json_writer *w)
{
	if (w->err)
		return -1;
	if (w->depth == 0) {
		if (w->done)
			w->err = JSON_W_ERR_USAGE;
	} else if (w->obj & w_bit(w)) {
		if (!w->want_value)
			w->err = JSON_W_ERR_USAGE;
		w->want_value = false;
	} else {
		if (w->nonempty & w_bit(w))
			w_putc(w, ',');
		w->nonempty |= w_bit(w);
	}
	return w->err ? -1 : 0;
}

static void
w_post_value(struct json_writer *w)
{
	if (w->depth == 0)
		w->done = true;
}

/* see json.h */
void
json_w_init(struct json_writer *w, struct buf *b, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->max = max;
}

/* see json.h */
int
json_w_finish(const struct json_writer *w)
{
	if (w->err)
		return w->err;
	return w->done ? JSON_W_OK : JSON_W_ERR_USAGE;
}

static void
w_begin(struct json_writer *w, char c, bool obj)
{
	if (w_pre_value(w) != 0)
		return;
	if (w->depth == JSON_W_DEPTH_MAX) {
		w->err = JSON_W_ERR_DEPTH;
		return;
	}
	w->depth++;
	w->obj = obj ? w->obj | w_bit(w) : w->obj & ~w_bit(w);
	w->nonempty &= ~w_bit(w);
	w_putc(w, c);
}

static void
w_end(struct json_writer *w, char c, bool obj)
{
	if (w->err)
		return;
	if (w->depth == 0 || !(w->obj & w_bit(w)) != !obj || w->want_value) {
		w->err = JSON_W_ERR_USAGE;
		return;
	}
	w_putc(w, c);
	w->depth--;
	w_post_value(w);
}

/* see json.h */
void
json_w_obj_begin(struct json_writer *w)
{
	w_begin(w, '{', true);
}

/* see json.h */
void
json_w_obj_end(struct json_writer *w)
{
	w_end(w, '}', true);
}

/* see json.h */
void
json_w_arr_begin(struct json_writer *w)
{
	w_begin(w, '[', false);
}

/* see json.h */
void
json_w_arr_end(struct json_writer *w)
{
	w_end(w, ']', false);
}

/* One byte that needs an escape: " \ or < 0x20. */
static void
w_escape(struct json_writer *w, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"': e[1] = '"'; break;
	case '\\': e[1] = '\\'; break;
	case '\b': e[1] = 'b'; break;
	case '\f': e[1] = 'f'; break;
	case '\n': e[1] = 'n'; break;
	case '\r': e[1] = 'r'; break;
	case '\t': e[1] = 't'; break;
	default: w_put(w, e, 6); return;
	}
	w_put(w, e, 2);
}

/* 1 when s[0..n) needs no escape: no " \\ control byte or byte >= 0x80 */
static int
w_is_plain(const uint8_t *s, size_t n)
{
	return json_plain_run(s, 0, n) == n;
}

/* 1 when the buffer has (or gets) n free bytes; 0, with nothing set, when not */
static int
w_room(struct json_writer *w, size_t n)
{
	return !w->err && (buf_room(w->b) >= n || buf_reserve(w->b, n, buf_headroom(w->b), w->max) == 0);
}

/* p[0..n) quoted at dst, which has the room; returns the end */
static uint8_t *
w_quoted(uint8_t *dst, const void *p, size_t n)
{
	*dst++ = '"';
	memcpy(dst, p, n);
	dst += n;
	*dst++ = '"';
	return dst;
}

/*
 * The quoted string s[0..n) in one piece when it needs no escape and the
 * buffer has (or gets) the room: 1 when written, 0 to take the general way.
 */
static int
w_plain_string(struct json_writer *w, const uint8_t *s, size_t n)
{
	if (!w_is_plain(s, n) || !w_room(w, n + 2))
		return 0;
	w->b->last = w_quoted(w->b->last, s, n);
	return 1;
}

/* The quoted, escaped string s[0..n); order and comma already handled. */
static void
w_string(struct json_writer *w, const uint8_t *s, size_t n)
{
	static const uint8_t fffd[3] = { 0xEF, 0xBF, 0xBD };
	size_t i = 0, run, k, sub;

	if (w_plain_string(w, s, n))
		return;
	w_putc(w, '"');
	while (i < n && !w->err) {
		for (run = i; i < n; i += k) {
			k = 1;
			if (json_cc_table[s[i]] == CC_PLAIN)
				continue;
			if (json_cc_table[s[i]] != CC_HIGH || (k = json_utf8_len(s + i, n - i, &sub)) == 0)
				break;
		}
		w_put(w, s + run, i - run);
		if (i >= n)
			break;
		if (json_cc_table[s[i]] == CC_HIGH) {
			(void)json_utf8_len(s + i, n - i, &sub);
			w_put(w, fffd, sizeof(fffd));
			i += sub;
		} else {
			w_escape(w, s[i++]);
		}
	}
	w_putc(w, '"');
}

/* see json.h */
void
json_w_keyn(struct json_writer *w, const void *name, size_t n)
{
	if (w->err)
		return;
	if (w->depth == 0 || !(w->obj & w_bit(w)) || w->want_value) {
		w->err = JSON_W_ERR_USAGE;
		return;
	}
	if (w->nonempty & w_bit(w))
		w_putc(w, ',');
	w->nonempty |= w_bit(w);
	w->want_value = true;
	if (w_is_plain(name, n) && w_room(w, n + 3)) {
		w->b->last = w_quoted(w->b->last, name, n);
		*w->b->last++ = ':';
		return;
	}
	w_string(w, name, n);
	w_putc(w, ':');
}

/* see json.h */
void
json_w_str(struct json_writer *w, const void *s, size_t n)
{
	if (w_pre_value(w) != 0)
		return;
	w_string(w, s, n);
	w_post_value(w);
}

/* see json.h */
void
json_w_pair(struct json_writer *w, const void *a, size_t an, const void *b, size_t bn)
{
	uint8_t *p;

	/* the comma, [, four quotes, the comma between and ] */
	if (w_is_plain(a, an) && w_is_plain(b, bn) && w_room(w, an + bn + 8)) {
		if (w_pre_value(w) != 0)
			return;
		p = w->b->last;
		*p++ = '[';
		p = w_quoted(p, a, an);
		*p++ = ',';
		p = w_quoted(p, b, bn);
		*p++ = ']';
		w->b->last = p;
		w_post_value(w);
		return;
	}
	json_w_arr_begin(w);
	json_w_str(w, a, an);
	json_w_str(w, b, bn);
	json_w_arr_end(w);
}

/* see json.h */
void
json_w_raw(struct json_writer *w, const char *p, size_t n)
{
	if (w_pre_value(w) != 0)
		return;
	w_put(w, p, n);
	w_post_value(w);
}

/* see json.h */
void
json_w_uint(struct json_writer *w, uint64_t v)
{
	char tmp[20];

	json_w_raw(w, tmp, util_u64_dec(tmp, v));
}

/* see json.h */
void
json_w_int(struct json_writer *w, int64_t v)
{
	char tmp[21];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	tmp[0] = '-';
	if (v < 0)
		json_w_raw(w, tmp, 1 + util_u64_dec(tmp + 1, u));
	else
		json_w_raw(w, tmp, util_u64_dec(tmp, u));
}

/* see json.h */
void
json_w_double(struct json_writer *w, double v)
{
	char tmp[40];
	int prec, n = 0;

	if (w->err)
		return;
	if (!isfinite(v)) {
		w->err = JSON_W_ERR_NUMBER;
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	assert(n > 0 && (size_t)n < sizeof(tmp));
	json_w_raw(w, tmp, (size_t)n);
}

/* see json.h */
void
json_w_bool(struct json_writer *w, bool v)
{
	if (v)
		json_w_raw(w, "true", 4);
	else
		json_w_raw(w, "false", 5);
}

/* see json.h */
void
json_w_null(struct json_writer *w)
{
	json_w_raw(w, "null", 4);
}
