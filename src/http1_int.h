/*
 * http1_int.h: what the HTTP/1.1 head parser (http1.c) and the chunked
 * coding (http1_chunked.c) and the field helpers (http1_fields.c) share:
 * the byte classes of RFC 9110 and list walking.
 */
#ifndef HT_HTTP1_INT_H
#define HT_HTTP1_INT_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_CT_TCHAR 0x01
#define HTTP1_CT_VCHAR 0x02
#define HTTP1_CT_FVAL 0x04
#define HTTP1_CT_HEX 0x08

/* HTTP1_CT_* of each byte. */
extern const uint8_t http1_ctype[256];

/* tchar (RFC 9110 5.6.2) */
static inline int
http1_is_tchar(char c)
{
	return http1_ctype[(unsigned char)c] & HTTP1_CT_TCHAR;
}

/* VCHAR: 0x21-0x7E */
static inline int
http1_is_vchar(char c)
{
	return http1_ctype[(unsigned char)c] & HTTP1_CT_VCHAR;
}

/* field-value byte: HTAB, SP, VCHAR, obs-text */
static inline int
http1_is_fval(unsigned char c)
{
	return http1_ctype[c] & HTTP1_CT_FVAL;
}

static inline int
http1_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline int
http1_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Walks the members of a comma-separated list (a field value). */
struct http1_list_iter {
	const char *p;
	const char *end;
	int done;
};

/* Start walking v[0..n) (v may be NULL: an empty walk). */
void http1_list_init(struct http1_list_iter *it, const char *v, size_t n);

/*
 * Next member, OWS trimmed; empty members are returned too (length 0), so
 * an empty value is one empty member. 0 when the list is exhausted.
 */
int http1_list_next(struct http1_list_iter *it, const char **m, size_t *mlen);

#endif
