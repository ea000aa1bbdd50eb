/*
 * http1_chunked.c: the chunked transfer coding (RFC 9112 section 7.1), as
 * a byte-at-a-time decoder that hands out the data in place and a chunk
 * header encoder (see http1.h). Chunk extensions and trailer fields are
 * checked and skipped; sizes are bounded so that they cannot overflow.
 */
#include "http1.h"
#include "http1_int.h"

#include <assert.h>
#include <string.h>

/* ---- chunked decoder ------------------------------------------------ */

/* see http1.h */
void
http1_chunked_init(struct http1_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = HTTP1_CHUNKED_SIZE;
}

static int
hex_value(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	return (b | 0x20) - 'a' + 10;
}

static int
chunked_fail(struct http1_chunked *c, enum http1_chunked_error err)
{
	c->err = err;
	return -1;
}

/* One hex digit of a chunk size. 0 or -1 with c->err. */
static int
chunked_digit(struct http1_chunked *c, uint8_t b)
{
	if (c->digits == HTTP1_CHUNK_SIZE_DIGITS_MAX)
		return chunked_fail(c, HTTP1_CHUNKED_ERR_SIZE_TOO_LONG);
	if (c->remaining >> 59) /* four more bits would reach 2^63 */
		return chunked_fail(c, HTTP1_CHUNKED_ERR_SIZE_OVERFLOW);
	c->remaining = c->remaining << 4 | (uint64_t)hex_value(b);
	c->digits++;
	return 0;
}

/* One byte of a chunk-size line (SIZE and EXT states). 0 or -1 with c->err. */
static int
chunked_size_byte(struct http1_chunked *c, uint8_t b)
{
	if (c->state == HTTP1_CHUNKED_SIZE && (http1_ctype[b] & HTTP1_CT_HEX))
		return chunked_digit(c, b);
	if (b == '\n')
		return chunked_fail(c, HTTP1_CHUNKED_ERR_BAD_CRLF);
	if (c->digits == 0)
		return chunked_fail(c, HTTP1_CHUNKED_ERR_BAD_SIZE);
	if (b == '\r') {
		c->state = HTTP1_CHUNKED_SIZE_LF;
		return 0;
	}
	/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): only its bytes are checked */
	if (c->state == HTTP1_CHUNKED_SIZE && b != ';' && !http1_is_ows((char)b))
		return chunked_fail(c, HTTP1_CHUNKED_ERR_BAD_SIZE);
	if (!http1_is_fval(b))
		return chunked_fail(c, HTTP1_CHUNKED_ERR_BAD_EXT);
	if (++c->ext_len > HTTP1_CHUNK_EXT_MAX)
		return chunked_fail(c, HTTP1_CHUNKED_ERR_EXT_TOO_LONG);
	c->state = HTTP1_CHUNKED_EXT;
	return 0;
}

/* One byte of the trailer section. 0 or -1 with c->err. */
static int
chunked_trailer_byte(struct http1_chunked *c, uint8_t b)
{
	switch (c->state) {
	case HTTP1_CHUNKED_TRAILER:
		if (b == '\r')
			c->state = HTTP1_CHUNKED_END_LF;
		else if (http1_is_tchar((char)b))
			c->state = HTTP1_CHUNKED_TRAILER_NAME;
		else
			break;
		return 0;
	case HTTP1_CHUNKED_TRAILER_NAME:
		if (b == ':')
			c->state = HTTP1_CHUNKED_TRAILER_VALUE;
		else if (!http1_is_tchar((char)b))
			break;
		return 0;
	case HTTP1_CHUNKED_TRAILER_VALUE:
		if (b == '\r')
			c->state = HTTP1_CHUNKED_TRAILER_LF;
		else if (!http1_is_fval(b))
			break;
		return 0;
	default: break;
	}
	return chunked_fail(c, b == '\n' ? HTTP1_CHUNKED_ERR_BAD_CRLF : HTTP1_CHUNKED_ERR_BAD_TRAILER);
}

/* An expected line-ending byte; next state or -1 with c->err. */
static int
chunked_expect(struct http1_chunked *c, uint8_t b, uint8_t want, enum http1_chunked_state next)
{
	if (b != want)
		return chunked_fail(c, HTTP1_CHUNKED_ERR_BAD_CRLF);
	c->state = next;
	return 0;
}

/* One control byte (any state but DATA and DONE). 0 or -1 with c->err. */
static int
chunked_byte(struct http1_chunked *c, uint8_t b)
{
	if (c->state >= HTTP1_CHUNKED_TRAILER && c->state <= HTTP1_CHUNKED_END_LF &&
	    ++c->trailer_len > HTTP1_CHUNK_TRAILER_MAX)
		return chunked_fail(c, HTTP1_CHUNKED_ERR_TRAILER_TOO_LARGE);
	switch (c->state) {
	case HTTP1_CHUNKED_SIZE:
	case HTTP1_CHUNKED_EXT: return chunked_size_byte(c, b);
	case HTTP1_CHUNKED_SIZE_LF:
		if (chunked_expect(c, b, '\n', HTTP1_CHUNKED_DATA) != 0)
			return -1;
		if (c->remaining == 0)
			c->state = HTTP1_CHUNKED_TRAILER;
		return 0;
	case HTTP1_CHUNKED_DATA_CR: return chunked_expect(c, b, '\r', HTTP1_CHUNKED_DATA_LF);
	case HTTP1_CHUNKED_DATA_LF:
		if (chunked_expect(c, b, '\n', HTTP1_CHUNKED_SIZE) != 0)
			return -1;
		c->digits = 0;
		c->ext_len = 0;
		return 0;
	case HTTP1_CHUNKED_TRAILER:
	case HTTP1_CHUNKED_TRAILER_NAME:
	case HTTP1_CHUNKED_TRAILER_VALUE: return chunked_trailer_byte(c, b);
	case HTTP1_CHUNKED_TRAILER_LF: return chunked_expect(c, b, '\n', HTTP1_CHUNKED_TRAILER);
	case HTTP1_CHUNKED_END_LF: return chunked_expect(c, b, '\n', HTTP1_CHUNKED_DONE);
	case HTTP1_CHUNKED_DATA:
	case HTTP1_CHUNKED_DONE:
	case HTTP1_CHUNKED_STATE_MAX: break;
	}
	assert(0 && "chunked_byte: no control byte expected in this state");
	return -1;
}

/* see http1.h */
ssize_t
http1_chunked_decode(struct http1_chunked *c, const uint8_t *in, size_t n, const uint8_t **data,
		     size_t *data_len)
{
	size_t i = 0, take;

	*data = NULL;
	*data_len = 0;
	if (c->err != HTTP1_CHUNKED_OK)
		return HT_ERROR;
	while (i < n && c->state != HTTP1_CHUNKED_DONE) {
		if (c->state != HTTP1_CHUNKED_DATA) {
			if (chunked_byte(c, in[i]) != 0) {
				*data = NULL;
				*data_len = 0;
				return HT_ERROR;
			}
			i++;
			continue;
		}
		if (*data != NULL)
			break; /* one range per call */
		take = n - i;
		if (c->remaining < take)
			take = (size_t)c->remaining;
		*data = in + i;
		*data_len = take;
		i += take;
		c->remaining -= take;
		if (c->remaining == 0)
			c->state = HTTP1_CHUNKED_DATA_CR;
	}
	return (ssize_t)i;
}

/* see http1.h */
const char *
http1_chunked_error_str(enum http1_chunked_error err)
{
	static const char *const names[HTTP1_CHUNKED_ERR_MAX] = {
		[HTTP1_CHUNKED_OK] = "ok",
		[HTTP1_CHUNKED_ERR_BAD_SIZE] = "bad chunk size",
		[HTTP1_CHUNKED_ERR_SIZE_TOO_LONG] = "chunk size too long",
		[HTTP1_CHUNKED_ERR_SIZE_OVERFLOW] = "chunk size overflow",
		[HTTP1_CHUNKED_ERR_BAD_EXT] = "bad chunk extension",
		[HTTP1_CHUNKED_ERR_EXT_TOO_LONG] = "chunk extension too long",
		[HTTP1_CHUNKED_ERR_BAD_CRLF] = "missing CRLF",
		[HTTP1_CHUNKED_ERR_BAD_TRAILER] = "bad trailer field",
		[HTTP1_CHUNKED_ERR_TRAILER_TOO_LARGE] = "trailer section too large",
	};

	if ((unsigned)err >= HTTP1_CHUNKED_ERR_MAX)
		return "unknown";
	return names[err];
}

/* ---- chunked encoder ------------------------------------------------ */

/* see http1.h */
size_t
http1_chunk_header_len(size_t len)
{
	size_t digits = 1;

	while (len >>= 4)
		digits++;
	return digits + 2;
}

/* see http1.h */
size_t
http1_chunk_header(char out[HTTP1_CHUNK_HEADER_MAX], size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = http1_chunk_header_len(len), i = n - 2;

	assert(n <= HTTP1_CHUNK_HEADER_MAX);
	out[n - 2] = '\r';
	out[n - 1] = '\n';
	do {
		out[--i] = hex[len & 0xf];
		len >>= 4;
	} while (i > 0);
	return n;
}
