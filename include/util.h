/*
 * util.h: small helpers every module may use (libc only).
 *
 * The status vocabulary shared by codecs and I/O helpers, container_of,
 * constant-time comparison, OS randomness, base64, and parsing of the
 * human units used in flags ("1MiB", "5s").
 */
#ifndef HT_UTIL_H
#define HT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/*
 * Return convention of codecs (picohttpparser style): a value >= 0 is the
 * number of bytes consumed, HT_ERROR a protocol error (details in the
 * parser's struct), HT_AGAIN "need more input". I/O wrappers return 0 or
 * -errno instead.
 */
#define HT_OK 0
#define HT_ERROR (-1)
#define HT_AGAIN (-2)

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define UTIL_MAX(a, b) ((a) > (b) ? (a) : (b))

/* The struct that holds `ptr` as its member `member`. */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/*
 * 1 when a[0..alen) equals b[0..blen), else 0. The time taken depends on
 * blen only (pass the secret as b), never on where the inputs differ.
 */
int util_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Write all of p[0..n) to the blocking fd (EINTR retried). 0 or -errno. */
int util_write_all(int fd, const void *p, size_t n);

/*
 * Replace the file at path by p[0..n), mode 0600: written to a new
 * temporary file beside it (path.XXXXXX), synced, then renamed over path,
 * so a reader sees the old content or the new, never a part. 0, or
 * -errno (the temporary file is removed).
 */
int util_replace_file(const char *path, const void *p, size_t n);

/* Zero p[0..n) in a way the compiler may not drop as a dead store (secrets). */
void util_wipe(void *p, size_t n);

/* Fill buf with n bytes from the OS (getrandom). 0, or -errno. */
int util_random(void *buf, size_t n);

/* n random characters from [a-z0-9] into dst (no terminator). 0 or -errno. */
int util_random_alnum(char *dst, size_t n);

/* Length of the base64 text (with padding) for n input bytes. */
#define UTIL_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Standard base64 (RFC 4648, with padding) of src[0..n) into dst, which
 * must hold UTIL_BASE64_LEN(n) + 1 bytes; dst is NUL-terminated. Returns
 * the text length.
 */
size_t util_base64_encode(char *dst, const void *src, size_t n);

/*
 * Decode base64 text src[0..n) (padding required when the length is not a
 * multiple of 4 is accepted either way; no whitespace) into dst of cap
 * bytes. Returns the decoded length, or -1 on a bad character, bad
 * padding or a too small dst.
 */
ssize_t util_base64_decode(uint8_t *dst, size_t cap, const char *src, size_t n);

/*
 * Parse a size: digits with an optional unit B, K/KB/KiB, M/MB/MiB,
 * G/GB/GiB (KB and KiB both mean 1024). 0 on success, -1 on bad input or
 * overflow.
 */
int util_parse_size(const char *s, uint64_t *out);

/*
 * Parse a duration into milliseconds: digits with an optional unit ms, s,
 * m, h (no unit means seconds when secs_default, else ms). 0 or -1.
 */
int util_parse_duration_ms(const char *s, int secs_default, uint64_t *out);

/* Parse a decimal unsigned integer that must fit in max. 0 or -1. */
int util_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* The same from s[0..n) (not NUL-terminated): digits only, at least one. 0 or -1. */
int util_parse_uintn(const char *s, size_t n, uint64_t max, uint64_t *out);

/*
 * Append s[0..n) (up to a NUL in it, if any) at out[o], truncated to fit
 * cap bytes with a NUL after it, as snprintf would; nothing written when
 * o >= cap. cap > 0. Returns o plus the length of s up to that NUL, so a
 * result >= cap says the text was cut.
 */
size_t util_catn(char *out, size_t cap, size_t o, const char *s, size_t n);

/* The decimal digits of v at out (no NUL, at most 20); returns how many. */
size_t util_u64_dec(char *out, uint64_t v);

/* Case-insensitive (ASCII letters) equality of a[0..n) and b[0..n). */
int util_mem_caseeq(const char *a, const char *b, size_t n);

/*
 * Case-insensitive equality of a[0..alen) and the C string b. Inline: for
 * a literal b the length compare comes first at no cost (strlen folds), so
 * most mismatches ("Content-Type" vs "content-length") cost no loop.
 */
static inline int
util_strcaseeq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && util_mem_caseeq(a, b, alen);
}

/*
 * Walk a comma-separated list: with *cursor at the list (a C string), each
 * call points *item at the next item and sets *len to its length, spaces
 * and tabs around it left out (0 for an empty item: "a,,b" and "a," have
 * one, "" is one), and moves *cursor past it (NULL after the last). 1 when
 * an item was taken, 0 when *cursor is NULL.
 */
int util_list_next(const char **cursor, const char **item, size_t *len);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (on macOS at most
 * OPEN_MAX). 0, or -errno from getrlimit/setrlimit (the limit then stays
 * as it was).
 */
int util_nofile_raise(void);

/*
 * The soft RLIMIT_NOFILE now (RLIM_INFINITY and values above LONG_MAX
 * read as LONG_MAX), or -errno.
 */
long util_nofile(void);

#define UTIL_HEAP_GAP_MS 1000     /* util_heap_trim checks at most this often */
#define UTIL_HEAP_FREE (4u << 20) /* free heap bytes worth handing back */

/*
 * Hand the heap's free memory back to the system when at least
 * UTIL_HEAP_FREE bytes of it are free (glibc: mallinfo2, malloc_trim;
 * elsewhere nothing). It walks the heap, so it does so at most once per
 * UTIL_HEAP_GAP_MS of now_ms (a monotonic clock) in the whole process: call
 * it as often as work ends. 1 when memory was returned, else 0.
 */
int util_heap_trim(uint64_t now_ms);

#endif
