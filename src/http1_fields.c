/*
 * http1_fields.c: the questions a proxy asks about header fields (valid
 * names, values, methods and targets; hop-by-hop fields and Connection
 * tokens; finding a field), and status lines (see http1.h).
 */
#include "http1.h"
#include "http1_int.h"
#include "util.h"

#include <string.h>

/* ---- lists and names ------------------------------------------------- */

/* see http1_int.h */
void
http1_list_init(struct http1_list_iter *it, const char *v, size_t n)
{
	it->p = v;
	it->end = v != NULL ? v + n : NULL;
	it->done = v == NULL;
}

/* see http1_int.h */
int
http1_list_next(struct http1_list_iter *it, const char **m, size_t *mlen)
{
	const char *s = it->p, *e;

	if (it->done)
		return 0;
	while (s < it->end && http1_is_ows(*s))
		s++;
	e = memchr(s, ',', (size_t)(it->end - s));
	if (e != NULL) {
		it->p = e + 1;
	} else {
		it->done = 1;
		e = it->end;
	}
	while (e > s && http1_is_ows(e[-1]))
		e--;
	*m = s;
	*mlen = (size_t)(e - s);
	return 1;
}

/* ---- header helpers ------------------------------------------------- */

/* see http1.h */
int
http1_token_valid(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!http1_is_tchar(p[i]))
			return 0;
	return 1;
}

/* see http1.h */
int
http1_field_value_valid(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!http1_is_fval((unsigned char)p[i]))
			return 0;
	return 1;
}

/* see http1.h */
int
http1_method_valid(const char *p, size_t len)
{
	return http1_token_valid(p, len);
}

/* see http1.h */
int
http1_target_valid(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!http1_is_vchar(p[i]))
			return 0;
	return 1;
}

/* see http1.h */
int
http1_is_hop_by_hop(const char *name, size_t len)
{
	/* with their lengths: most fields are told apart without a compare */
	static const struct {
		const char *s;
		size_t n;
	} names[] = {
		{ "connection", 10 }, { "keep-alive", 10 }, { "transfer-encoding", 17 },
		{ "te", 2 },          { "trailer", 7 },     { "upgrade", 7 },
	};
	size_t i;

	if (len >= 6 && util_mem_caseeq(name, "proxy-", 6))
		return 1;
	for (i = 0; i < UTIL_ARRAY_SIZE(names); i++)
		if (len == names[i].n && util_mem_caseeq(name, names[i].s, len))
			return 1;
	return 0;
}

/* see http1.h */
int
http1_header_is_named_in_connection(const struct http1_header *h, size_t n, const char *name, size_t len)
{
	struct http1_list_iter it;
	const char *m;
	size_t i, mlen;

	for (i = 0; i < n; i++) {
		if (!util_strcaseeq(h[i].name, h[i].name_len, "connection"))
			continue;
		http1_list_init(&it, h[i].value, h[i].value_len);
		while (http1_list_next(&it, &m, &mlen))
			if (mlen == len && mlen > 0 && util_mem_caseeq(m, name, len))
				return 1;
	}
	return 0;
}

/* see http1.h */
int
http1_connection_has_token(const struct http1_header *h, size_t n, const char *token)
{
	return http1_header_is_named_in_connection(h, n, token, strlen(token));
}

/* see http1.h */
const struct http1_header *
http1_find_header(const struct http1_header *h, size_t n, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (h[i].name_len == len && util_mem_caseeq(h[i].name, name, len))
			return &h[i];
	return NULL;
}

/* see http1.h */
const char *
http1_reason_phrase(int status)
{
	/* clang-format off */
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{100, "Continue"}, {101, "Switching Protocols"}, {103, "Early Hints"},
		{200, "OK"}, {201, "Created"}, {202, "Accepted"}, {203, "Non-Authoritative Information"},
		{204, "No Content"}, {205, "Reset Content"}, {206, "Partial Content"},
		{300, "Multiple Choices"}, {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
		{304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
		{400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
		{405, "Method Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Timeout"},
		{409, "Conflict"}, {410, "Gone"}, {411, "Length Required"}, {412, "Precondition Failed"},
		{413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
		{416, "Range Not Satisfiable"}, {417, "Expectation Failed"}, {421, "Misdirected Request"},
		{422, "Unprocessable Content"}, {426, "Upgrade Required"}, {428, "Precondition Required"},
		{429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
		{503, "Service Unavailable"}, {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}

/* see http1.h */
size_t
http1_write_status_line(char *out, size_t cap, int status)
{
	const char *reason = http1_reason_phrase(status);
	size_t rlen = strlen(reason), n = 9 + 3 + 1 + rlen + 2;

	if (status < 100 || status > 999 || cap < n)
		return 0;
	memcpy(out, "HTTP/1.1 ", 9);
	out[9] = (char)('0' + status / 100);
	out[10] = (char)('0' + status / 10 % 10);
	out[11] = (char)('0' + status % 10);
	out[12] = ' ';
	memcpy(out + 13, reason, rlen);
	memcpy(out + 13 + rlen, "\r\n", 2);
	return n;
}
