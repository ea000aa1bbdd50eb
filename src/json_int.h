/*
 * json_int.h: what the JSON reader (json.c) and writer (json_w.c) share.
 */
#ifndef HT_JSON_INT_H
#define HT_JSON_INT_H

#include <stddef.h>
#include <stdint.h>

/* String byte classes: what the reader and the writer do with each byte. */
enum json_cc {
	CC_PLAIN = 0, /* printable ASCII, copied as is */
	CC_QUOTE,     /* " */
	CC_BSL,       /* \ */
	CC_CTRL,      /* 0x00-0x1F */
	CC_HIGH,      /* 0x80-0xFF: part of a UTF-8 sequence, or invalid */
	CC_MAX
};

/* enum json_cc of each byte: 0x22 is ", 0x5C is \. */
extern const uint8_t json_cc_table[256];

/*
 * The index of the first byte of s[i..n) that is not CC_PLAIN, or n. Eight
 * bytes at a time where it can: a byte is flagged by its high bit (>= 0x80),
 * by x - 0x20 borrowing (< 0x20), or by being zero after an xor with " or
 * \. Only flags above the lowest can be false (a borrow runs upwards), so
 * the lowest one is the byte looked for.
 */
static inline size_t
json_plain_run(const uint8_t *s, size_t i, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t x, q, b, m;

	for (; i + 8 <= n; i += 8) {
		__builtin_memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		m = (x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
		if (m != 0)
			return i + ((size_t)__builtin_ctzll(m) >> 3);
	}
#endif
	while (i < n && json_cc_table[s[i]] == CC_PLAIN)
		i++;
	return i;
}

/*
 * Length (2..4) of the well-formed UTF-8 sequence at s[0..n) (s[0] >= 0x80),
 * or 0 with *sub set to the length of its maximal ill-formed subpart (at
 * least 1; equal to n when the sequence is only cut short by the end).
 * Ranges from RFC 3629 section 4: no overlongs, no surrogates, <= U+10FFFF.
 */
size_t json_utf8_len(const uint8_t *s, size_t n, size_t *sub);

#endif
