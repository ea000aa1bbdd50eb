/*
 * test_util.c: base64 (RFC 4648 vectors and rejections), constant-time
 * comparison, OS randomness (and its failures, through fakerandom.h), and
 * the parsers of human units.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakerandom.h"
#include "util.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain;
	const char *b64;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_base64_encode(void **state)
{
	char out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(rfc4648); i++) {
		size_t len = strlen(rfc4648[i].plain);
		memset(out, 'X', sizeof(out));
		n = util_base64_encode(out, rfc4648[i].plain, len);
		assert_int_equal(n, strlen(rfc4648[i].b64));
		assert_int_equal(n, UTIL_BASE64_LEN(len));
		assert_string_equal(out, rfc4648[i].b64);
	}
	/* every byte value, and the two characters beyond the alphanumerics */
	{
		static const uint8_t bin[] = { 0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83 };
		n = util_base64_encode(out, bin, sizeof(bin));
		assert_string_equal(out, "+/+/ABCD");
	}
}

static void
test_base64_decode(void **state)
{
	uint8_t out[64];
	size_t i;
	ssize_t n;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(rfc4648); i++) {
		const char *b = rfc4648[i].b64, *p = rfc4648[i].plain;
		size_t blen = strlen(b), plen = strlen(p), unpadded = blen;

		n = util_base64_decode(out, sizeof(out), b, blen);
		assert_int_equal(n, (ssize_t)plen);
		assert_memory_equal(out, p, plen);
		/* without the padding: accepted too */
		while (unpadded > 0 && b[unpadded - 1] == '=')
			unpadded--;
		n = util_base64_decode(out, sizeof(out), b, unpadded);
		assert_int_equal(n, (ssize_t)plen);
		assert_memory_equal(out, p, plen);
		/* exactly the decoded size is enough, one byte less is not */
		if (plen > 0) {
			assert_int_equal(util_base64_decode(out, plen, b, blen), (ssize_t)plen);
			assert_int_equal(util_base64_decode(out, plen - 1, b, blen), -1);
		}
	}

	/* round trip of every length up to 40 with all byte values */
	for (i = 0; i <= 40; i++) {
		uint8_t in[40];
		char text[UTIL_BASE64_LEN(40) + 1];
		size_t k, tl;
		for (k = 0; k < i; k++)
			in[k] = (uint8_t)(k * 37 + i * 11 + 0x80);
		tl = util_base64_encode(text, in, i);
		assert_int_equal(util_base64_decode(out, sizeof(out), text, tl), (ssize_t)i);
		assert_memory_equal(out, in, i);
	}
}

static void
test_base64_reject(void **state)
{
	static const char *const bad[] = {
		"Zg=",                       /* partial padding */
		"Zm9v=",                     /* padding after a full group */
		"Zg===",                     /* too much padding */
		"Zm9vY===",                  /* 5 data chars + 3 pad */
		"=",                         /* padding alone */
		"==",       "====",     "Z", /* one character cannot carry a byte */
		"Zm9vY",                     /* the same after a full group */
		"Zh==",                      /* non-zero bits after the last byte */
		"Zm9=",                      /* the same, one pad */
		"Zm 9v",                     /* whitespace */
		"Zm9v\n",   "Zm-v",          /* base64url alphabet is not accepted */
		"Zm_v",     "Zg==Zg==",      /* padding in the middle */
		"Z=g=",     "Zm9v\x80",
	};
	uint8_t out[32];
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++)
		if (util_base64_decode(out, sizeof(out), bad[i], strlen(bad[i])) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	/* only n bytes are looked at: a bad byte after them does not matter */
	assert_int_equal(util_base64_decode(out, sizeof(out), "Zm9v!", 4), 3);
	assert_int_equal(util_base64_decode(out, 0, "", 0), 0);
}

static void
test_ct_equal(void **state)
{
	(void)state;
	assert_true(util_ct_equal("secret", 6, "secret", 6));
	assert_true(util_ct_equal("", 0, "", 0));
	assert_false(util_ct_equal("secret", 6, "secreT", 6));
	assert_false(util_ct_equal("Secret", 6, "secret", 6));
	assert_false(util_ct_equal("secret", 6, "secre", 5)); /* prefix */
	assert_false(util_ct_equal("secre", 5, "secret", 6));
	assert_false(util_ct_equal("", 0, "a", 1));
	assert_false(util_ct_equal("a", 1, "", 0));
	assert_false(util_ct_equal("ab\0c", 4, "ab\0d", 4)); /* binary, past a NUL */
	assert_true(util_ct_equal("ab\0c", 4, "ab\0c", 4));
	/* a shorter a whose last byte repeats must not look equal */
	assert_false(util_ct_equal("aaa", 3, "aaaa", 4));
}

static void
test_ct_equal_length_high_bits(void **state)
{
	(void)state;
	/* alen = 2^32, blen = 0: no byte is read (blen is 0), lengths differ */
	if (sizeof(size_t) <= 4)
		skip();
	assert_false(util_ct_equal("", (size_t)1 << 32, "", 0));
}

static void
test_random(void **state)
{
	uint8_t a[64], b[64];
	unsigned counts[256];
	uint8_t big[4096];
	size_t i;

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(util_random(a, sizeof(a)), 0);
	assert_int_equal(util_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(util_random(a, 0), 0);

	/* 4096 bytes: no value turns up absurdly often (a stuck or zero source) */
	memset(counts, 0, sizeof(counts));
	assert_int_equal(util_random(big, sizeof(big)), 0);
	for (i = 0; i < sizeof(big); i++)
		counts[big[i]]++;
	for (i = 0; i < 256; i++)
		assert_true(counts[i] < 64); /* mean 16 */
}

/* getrandom failing: util_random says so (never a fixed value); EINTR is retried. */
static void
test_random_fails(void **state)
{
	uint8_t a[64], before[64];
	char s[40];

	(void)state;
	memset(a, 0x33, sizeof(a));
	memcpy(before, a, sizeof(a));
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	assert_int_equal(util_random(a, sizeof(a)), -ENOSYS);
	assert_int_equal(util_random_alnum(s, sizeof(s)), -ENOSYS);
	fakerandom_fail(0, ULONG_MAX, EAGAIN);
	assert_int_equal(util_random(a, sizeof(a)), -EAGAIN);
	assert_memory_equal(a, before, sizeof(a)); /* nothing made up */
	/* interrupted twice, then through */
	fakerandom_fail(0, 2, EINTR);
	assert_int_equal(util_random(a, sizeof(a)), 0);
	assert_memory_not_equal(a, before, sizeof(a));
	/* util_random_alnum takes more than one block for a long string: a later failure too */
	fakerandom_fail(1, ULONG_MAX, EIO);
	assert_int_equal(util_random_alnum((char[200]){ 0 }, 200), -EIO);
	fakerandom_off();
	assert_int_equal(util_random(a, sizeof(a)), 0);
}

static void
test_random_alnum(void **state)
{
	char s[1001], t[32];
	int seen[256];
	size_t i, kinds = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	s[1000] = '\x7f';
	assert_int_equal(util_random_alnum(s, 1000), 0);
	assert_int_equal(s[1000], '\x7f'); /* no terminator written */
	for (i = 0; i < 1000; i++) {
		unsigned char c = (unsigned char)s[i];
		assert_true((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
		if (!seen[c]++)
			kinds++;
	}
	assert_true(kinds >= 30); /* 36 possible; 1000 draws miss one with p ~ 1e-11 */
	assert_int_equal(util_random_alnum(t, 0), 0);
	memset(t, 0, sizeof(t));
	assert_int_equal(util_random_alnum(t, 31), 0);
	assert_int_equal(strlen(t), 31);
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "512B", 512 },
		{ "64K", 64 * 1024 },
		{ "64k", 64 * 1024 },
		{ "64KB", 64 * 1024 },
		{ "64KiB", 64 * 1024 },
		{ "1MiB", 1 << 20 },
		{ "16MiB", 16 << 20 },
		{ "1M", 1 << 20 },
		{ "2MB", 2 << 20 },
		{ "1G", 1ull << 30 },
		{ "3GiB", 3ull << 30 },
		{ "0G", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ull << 30 },
	};
	static const char *const bad[] = {
		"",
		"x",
		"1Q",
		"K",
		"-1",
		" 1",
		"1 ",
		"1 MiB",
		"1.5M",
		"1MiBs",
		"1mib",
		"1T",
		"18446744073709551616", /* 2^64 */
		"17179869184G",         /* 2^34 GiB = 2^64 */
		"99999999999999999999999K",
		"18014398509481984K", /* 2^54 KiB */
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < UTIL_ARRAY_SIZE(good); i++) {
		v = 12345;
		if (util_parse_size(good[i].s, &v) != 0)
			fail_msg("rejected \"%s\"", good[i].s);
		assert_int_equal(v, good[i].v);
	}
	for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
		v = 12345;
		if (util_parse_size(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v, 12345); /* untouched */
	}
	assert_int_equal(util_parse_size(NULL, &v), -1);
}

static void
test_parse_duration(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(util_parse_duration_ms("5s", 1, &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(util_parse_duration_ms("300", 0, &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(util_parse_duration_ms("300", 1, &v), 0); /* bare number in seconds */
	assert_int_equal(v, 300000);
	assert_int_equal(util_parse_duration_ms("250ms", 1, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(util_parse_duration_ms("2m", 0, &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(util_parse_duration_ms("1h", 0, &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(util_parse_duration_ms("0s", 0, &v), 0);
	assert_int_equal(v, 0);

	v = 7;
	assert_int_equal(util_parse_duration_ms("", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("s", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5x", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5S", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5 s", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("1.5s", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("-5s", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5sec", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5d", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5hs", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("5124095576030432h", 1, &v), -1); /* overflow */
	assert_int_equal(util_parse_duration_ms("18446744073709552s", 1, &v), -1);
	assert_int_equal(util_parse_duration_ms("18446744073709552", 1, &v), -1); /* default secs */
	assert_int_equal(util_parse_duration_ms(NULL, 1, &v), -1);
	assert_int_equal(v, 7);
	assert_int_equal(util_parse_duration_ms("18446744073709551615", 0, &v), 0);
	assert_int_equal(v, UINT64_MAX);
}

static void
test_parse_uint(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(util_parse_uint("0", 0, &v), 0);
	assert_int_equal(v, 0);
	/* a counted string: the bytes past n do not count */
	assert_int_equal(util_parse_uintn("1234xyz", 4, 9999, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(util_parse_uintn("1234", 4, 1233, &v), -1);
	assert_int_equal(util_parse_uintn("12a4", 4, 9999, &v), -1);
	assert_int_equal(util_parse_uintn("", 0, 9999, &v), -1);
	assert_int_equal(util_parse_uintn("18446744073709551616", 20, UINT64_MAX, &v), -1);
	assert_int_equal(util_parse_uintn("18446744073709551615", 20, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(util_parse_uint("65535", 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(util_parse_uint("007", 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(util_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);

	v = 99;
	assert_int_equal(util_parse_uint("65536", 65535, &v), -1);
	assert_int_equal(util_parse_uint("1", 0, &v), -1);
	assert_int_equal(util_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(util_parse_uint("", 10, &v), -1);
	assert_int_equal(util_parse_uint(NULL, 10, &v), -1);
	assert_int_equal(util_parse_uint("-1", 10, &v), -1);
	assert_int_equal(util_parse_uint("+1", 10, &v), -1);
	assert_int_equal(util_parse_uint(" 1", 10, &v), -1);
	assert_int_equal(util_parse_uint("1 ", 10, &v), -1);
	assert_int_equal(util_parse_uint("0x1", 10, &v), -1);
	assert_int_equal(v, 99);
}

/* Walk list with util_list_next, writing "[item]" for each into out. */
static void
walk_list(const char *list, char *out, size_t cap)
{
	const char *cursor = list, *item;
	size_t n, used = 0;

	out[0] = '\0';
	while (util_list_next(&cursor, &item, &n)) {
		int k = snprintf(out + used, cap - used, "[%.*s]", (int)n, item);

		assert_true(k > 0 && (size_t)k < cap - used);
		used += (size_t)k;
	}
	assert_null(cursor);
	assert_int_equal(util_list_next(&cursor, &item, &n), 0);
}

static void
test_list_next(void **state)
{
	static const struct {
		const char *list, *items;
	} cases[] = {
		{ "a", "[a]" },  { "a,b", "[a][b]" },    { " a ,\tb\t, c d ", "[a][b][c d]" },
		{ "", "[]" },    { "a,,b", "[a][][b]" }, { "a,", "[a][]" },
		{ ",", "[][]" }, { "  ", "[]" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		walk_list(cases[i].list, out, sizeof(out));
		if (strcmp(out, cases[i].items) != 0)
			fail_msg("'%s': items %s, expected %s", cases[i].list, out, cases[i].items);
	}
}

static void
test_u64_dec(void **state)
{
	static const uint64_t v[] = {
		0, 1, 9, 10, 99, 100, 1048576, 4294967295u, 10000000000000000000u, UINT64_MAX
	};
	char out[24], want[24];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(out, '#', sizeof(out));
		n = util_u64_dec(out, v[i]);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(out, want, n);
		assert_int_equal(out[n], '#'); /* no NUL, nothing past the digits */
	}
}

static void
test_catn(void **state)
{
	char out[8];
	size_t o;

	(void)state;
	o = util_catn(out, sizeof(out), 0, "abc", 3);
	assert_int_equal(o, 3);
	assert_string_equal(out, "abc");
	o = util_catn(out, sizeof(out), o, ", ", 2);
	o = util_catn(out, sizeof(out), o, "defgh", 5);
	assert_int_equal(o, 10); /* cut: as snprintf, the whole length */
	assert_string_equal(out, "abc, de");
	assert_int_equal(util_catn(out, sizeof(out), o, "x", 1), 11);
	assert_string_equal(out, "abc, de"); /* o >= cap: nothing written */
	assert_int_equal(util_catn(out, sizeof(out), 0, "a\0b", 3), 1);
	assert_string_equal(out, "a");
	assert_int_equal(util_catn(out, sizeof(out), 0, "", 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(util_catn(out, 1, 0, "abc", 3), 3);
	assert_string_equal(out, "");
	assert_int_equal(util_catn(out, sizeof(out), 0, "1234567", 7), 7);
	assert_string_equal(out, "1234567");
}

/* every byte pair at a place in the 8-byte words and at one in the tail */
static void
test_mem_caseeq_every_byte(void **state)
{
	static const size_t at[] = { 0, 5, 7, 8, 15, 17 };
	char a[19], b[19];
	unsigned x, y;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(at) / sizeof(at[0]); k++)
		for (x = 0; x < 256; x++)
			for (y = 0; y < 256; y++) {
				unsigned lx = x >= 'A' && x <= 'Z' ? x + 32 : x;
				unsigned ly = y >= 'A' && y <= 'Z' ? y + 32 : y;

				memset(a, 'q', sizeof(a));
				memset(b, 'Q', sizeof(b));
				a[at[k]] = (char)x;
				b[at[k]] = (char)y;
				if (util_mem_caseeq(a, b, sizeof(a)) != (lx == ly))
					fail_msg("bytes 0x%02x and 0x%02x at %zu", x, y, at[k]);
			}
}

static void
test_strcaseeq(void **state)
{
	(void)state;
	assert_true(util_strcaseeq("Upgrade", 7, "upgrade"));
	assert_true(util_strcaseeq("WEBSOCKET", 9, "websocket"));
	assert_true(util_strcaseeq("x-Forwarded-FOR", 15, "X-forwarded-for"));
	assert_true(util_strcaseeq("", 0, ""));
	/* a[] is not NUL-terminated: only alen bytes count */
	assert_true(util_strcaseeq("Hostname", 4, "host"));
	assert_false(util_strcaseeq("Host", 4, "hostname"));
	assert_false(util_strcaseeq("Hostname", 8, "host"));
	assert_false(util_strcaseeq("", 0, "a"));
	assert_false(util_strcaseeq("a", 1, ""));
	/* a NUL inside a never matches b's end early, a difference in the last byte counts */
	assert_false(util_strcaseeq("ab\0", 3, "ab"));
	assert_false(util_strcaseeq("upgradE", 7, "upgradf"));
	assert_true(util_strcaseeq("Upgrade-x", 7, "UPGRADE"));
	assert_false(util_strcaseeq("abc", 3, "abd"));
	/* only ASCII letters fold: '@' (0x40) is not '`' (0x60), '[' is not '{' */
	assert_false(util_strcaseeq("@", 1, "`"));
	assert_false(util_strcaseeq("[", 1, "{"));
	assert_false(util_strcaseeq("\xc9", 1, "\xe9"));
	/* util_mem_caseeq: both sides counted, NUL is an ordinary byte */
	assert_true(util_mem_caseeq("Chunked", "cHUNKED", 7));
	assert_true(util_mem_caseeq("ab\0Cd", "AB\0cD", 5));
	assert_true(util_mem_caseeq("x", "y", 0));
	assert_false(util_mem_caseeq("ab\0c", "ab\0d", 4));
	assert_false(util_mem_caseeq("@", "`", 1));
}

/* util_replace_file: content, mode 0600, replacing, no temporary file left; util_wipe zeroes. */
static void
test_replace_file_and_wipe(void **state)
{
	char dir[] = "/tmp/ht-util-XXXXXX", path[64], got[32], secret[8] = "sekret!";
	struct dirent *e;
	struct stat st;
	FILE *f;
	DIR *d;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(util_replace_file(path, "first\n", 6), 0);
	assert_int_equal(util_replace_file(path, "second", 6), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(got, 1, sizeof(got), f), 6);
	fclose(f);
	assert_memory_equal(got, "second", 6);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1); /* no temporary file left */
	unlink(path);
	rmdir(dir);
	snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
	assert_int_equal(util_replace_file(path, "x", 1), -ENOENT);
	util_wipe(secret, sizeof(secret));
	for (n = 0; n < (int)sizeof(secret); n++)
		assert_int_equal(secret[n], 0);
}

static void
test_nofile(void **state)
{
	struct rlimit rl;
	long n;

	(void)state;
	assert_int_equal(util_nofile_raise(), 0);
	n = util_nofile();
	assert_true(n > 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY)
		assert_int_equal((unsigned long)n, (unsigned long)rl.rlim_cur);
#ifndef __APPLE__
	/* Raised to the hard limit. */
	assert_true(rl.rlim_cur == rl.rlim_max);
#endif
	/* Lower the soft limit and read it back. */
	rl.rlim_cur = 200;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(util_nofile(), 200);
	assert_int_equal(util_nofile_raise(), 0);
	assert_true(util_nofile() >= 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofile),         cmocka_unit_test(test_base64_encode),
		cmocka_unit_test(test_base64_decode),  cmocka_unit_test(test_base64_reject),
		cmocka_unit_test(test_ct_equal),       cmocka_unit_test(test_ct_equal_length_high_bits),
		cmocka_unit_test(test_random),         cmocka_unit_test(test_random_alnum),
		cmocka_unit_test(test_random_fails),   cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration), cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_catn),           cmocka_unit_test(test_u64_dec),
		cmocka_unit_test(test_strcaseeq),      cmocka_unit_test(test_mem_caseeq_every_byte),
		cmocka_unit_test(test_list_next),      cmocka_unit_test(test_replace_file_and_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
