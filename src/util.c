/*
 * util.c: helpers listed in util.h. No state, no allocation.
 */
#include "util.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

/* see util.h */
int
util_write_all(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* see util.h */
int
util_replace_file(const char *path, const void *p, size_t n)
{
	char tmp[4096];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp); /* 0600, O_EXCL */
	if (fd < 0)
		return -errno;
	rc = util_write_all(fd, p, n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* see util.h */
void
util_wipe(void *p, size_t n)
{
	volatile unsigned char *q = p;

	while (n-- > 0)
		*q++ = 0;
}

/* see util.h */
int
util_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *pa = a, *pb = b;
	unsigned diff = alen != blen; /* not alen ^ blen: truncating that to unsigned loses bits */
	size_t i;

	/* Walk the secret's length; read a at a clamped index so the loop
	 * shape never depends on a's content or length. */
	for (i = 0; i < blen; i++) {
		unsigned char ca = alen ? pa[i < alen ? i : alen - 1] : 0;
		diff |= (unsigned)(ca ^ pb[i]);
	}
	return diff == 0;
}

/* see util.h */
int
util_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* see util.h */
int
util_random_alnum(char *dst, size_t n)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t i = 0;

	while (i < n) {
		size_t k, want = UTIL_MIN(n - i, sizeof(r));
		int rc = util_random(r, want);
		if (rc < 0)
			return rc;
		for (k = 0; k < want && i < n; k++) {
			if (r[k] >= 252) /* 252 = 7 * 36: reject to stay unbiased */
				continue;
			dst[i++] = set[r[k] % 36];
		}
	}
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* see util.h */
size_t
util_base64_encode(char *dst, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		dst[o++] = b64[v >> 18 & 63];
		dst[o++] = b64[v >> 12 & 63];
		dst[o++] = b64[v >> 6 & 63];
		dst[o++] = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
		dst[o++] = b64[v >> 18 & 63];
		dst[o++] = b64[v >> 12 & 63];
		dst[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* see util.h */
ssize_t
util_base64_decode(uint8_t *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0, i, bits = 0, pad = 0;
	unsigned acc = 0;

	while (n > 0 && src[n - 1] == '=') {
		n--;
		pad++;
	}
	/* padding, when present, completes the last group: "Zg==", never "Zg=" or "Zm9v=" */
	if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_value(src[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-canonical trailing bits */
		return -1;
	return (ssize_t)o;
}

/* see util.h */
int
util_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	return s == NULL ? -1 : util_parse_uintn(s, strlen(s), max, out);
}

/* see util.h */
int
util_parse_uintn(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Split "123unit" into a number and a unit pointer. */
static int
split_number(const char *s, uint64_t *num, const char **unit)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*num = v;
	*unit = p;
	return 0;
}

static int
mul_checked(uint64_t v, uint64_t m, uint64_t *out)
{
	if (m != 0 && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

/* see util.h */
int
util_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *u;
		uint64_t m;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "K", 1024 },
		{ "KB", 1024 },
		{ "KiB", 1024 },
		{ "k", 1024 },
		{ "M", 1024 * 1024 },
		{ "MB", 1024 * 1024 },
		{ "MiB", 1024 * 1024 },
		{ "G", 1024ull * 1024 * 1024 },
		{ "GB", 1024ull * 1024 * 1024 },
		{ "GiB", 1024ull * 1024 * 1024 },
	};
	uint64_t v;
	const char *unit;
	size_t i;

	if (s == NULL || split_number(s, &v, &unit) < 0)
		return -1;
	for (i = 0; i < UTIL_ARRAY_SIZE(units); i++)
		if (strcmp(unit, units[i].u) == 0)
			return mul_checked(v, units[i].m, out);
	return -1;
}

/* see util.h */
int
util_parse_duration_ms(const char *s, int secs_default, uint64_t *out)
{
	static const struct {
		const char *u;
		uint64_t m;
	} units[] = {
		{ "ms", 1 },
		{ "s", 1000 },
		{ "m", 60000 },
		{ "h", 3600000 },
	};
	uint64_t v;
	const char *unit;
	size_t i;

	if (s == NULL || split_number(s, &v, &unit) < 0)
		return -1;
	if (*unit == '\0')
		return mul_checked(v, secs_default ? 1000 : 1, out);
	for (i = 0; i < UTIL_ARRAY_SIZE(units); i++)
		if (strcmp(unit, units[i].u) == 0)
			return mul_checked(v, units[i].m, out);
	return -1;
}

/* see util.h */
size_t
util_catn(char *out, size_t cap, size_t o, const char *s, size_t n)
{
	const char *z = memchr(s, '\0', n);
	size_t k;

	if (z != NULL)
		n = (size_t)(z - s);
	if (o < cap) {
		k = n < cap - o - 1 ? n : cap - o - 1;
		memcpy(out + o, s, k);
		out[o + k] = '\0';
	}
	return o + n;
}

/* see util.h */
size_t
util_u64_dec(char *out, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);
	size_t n;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	return n;
}

/* c with ASCII upper-case letters mapped to lower case */
static inline unsigned char
ascii_lower(char c)
{
	unsigned char x = (unsigned char)c;

	return x >= 'A' && x <= 'Z' ? (unsigned char)(x + 32) : x;
}

/*
 * The 8 bytes of w with ASCII upper-case letters mapped to lower case, all
 * at once: a byte's high bit says whether it is >= 'A' and whether it is
 * > 'Z' (each add stays inside its byte: at most 0x7f + 0x3f), and 0x20 is
 * or-ed into the letters. Bytes >= 0x80 are left alone.
 */
static inline uint64_t
lower8(uint64_t w)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, high = 0x8080808080808080ull;
	uint64_t h = w & low7;
	uint64_t ge_a = h + 0x3f3f3f3f3f3f3f3full; /* 0x80 - 'A' */
	uint64_t gt_z = h + 0x2525252525252525ull; /* 0x80 - ('Z' + 1) */

	return w | (((ge_a & ~gt_z & ~w) & high) >> 2);
}

/* see util.h */
int
util_mem_caseeq(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y && lower8(x) != lower8(y))
			return 0;
	}
	for (; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

/* see util.h */
int
util_list_next(const char **cursor, const char **item, size_t *len)
{
	const char *s = *cursor, *end;
	size_t n;

	if (s == NULL)
		return 0;
	end = strchr(s, ',');
	n = end ? (size_t)(end - s) : strlen(s);
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*item = s;
	*len = n;
	*cursor = end ? end + 1 : NULL;
	return 1;
}

/* see util.h */
int
util_nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
#ifdef __APPLE__
	/* macOS reports an unlimited hard limit but refuses soft > OPEN_MAX. */
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > OPEN_MAX)
		rl.rlim_max = OPEN_MAX;
#endif
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

/* see util.h */
long
util_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX)
		return LONG_MAX;
	return (long)rl.rlim_cur;
}

/* see util.h */
int
util_heap_trim(uint64_t now_ms)
{
	static uint64_t last_ms;
	static int checked;

	if (checked && now_ms - last_ms < UTIL_HEAP_GAP_MS)
		return 0;
	checked = 1;
	last_ms = now_ms;
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33)
	if (mallinfo2().fordblks >= UTIL_HEAP_FREE)
		return malloc_trim(0);
#endif
	return 0;
}
