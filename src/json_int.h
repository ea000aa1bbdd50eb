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
 * Length (2..4) of the well-formed UTF-8 sequence at s[0..n) (s[0] >= 0x80),
 * or 0 with *sub set to the length of its maximal ill-formed subpart (at
 * least 1; equal to n when the sequence is only cut short by the end).
 * Ranges from RFC 3629 section 4: no overlongs, no surrogates, <= U+10FFFF.
 */
size_t json_utf8_len(const uint8_t *s, size_t n, size_t *sub);

#endif
