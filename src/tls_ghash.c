/*
 * tls_ghash.c: GHASH with PCLMULQDQ and 256- or 512-bit VPCLMULQDQ (see tls_ghash.h).
 *
 * Representation. A GCM block, read big-endian (byte-reversed into a
 * register), is a 128-bit value whose bit 127 is the coefficient of x^0
 * and bit 0 that of x^127 (GCM's reflected bit order). For such values
 * the carry-less product of a and b, shifted left by one bit, is the
 * 256-bit reflection of the polynomial product c = a*b: its high half
 * holds c's coefficients 0..127, its low half L those of 128..254.
 *
 * Reduction modulo P = x^128 + x^7 + x^2 + x + 1: x^128 = x^7 + x^2 + x
 * + 1, so the high part folds in as L*(1 + x + x^2 + x^7). Multiplying by
 * x^k is a right shift by k in this bit order; the bits shifted out of L
 * (coefficients past x^127) come back as F = L<<127 ^ L<<126 ^ L<<121,
 * which is small enough to fold once more without overflow. With T = L ^
 * F the reduced value is  high ^ T ^ T>>1 ^ T>>2 ^ T>>7  (128-bit shifts).
 *
 * Aggregation. Y' = (Y ^ X0)*H^n ^ X1*H^(n-1) ^ ... ^ X(n-1)*H: n
 * Karatsuba products (three multiplications each) summed unreduced, then
 * one shift and one reduction. Short inputs (a record's 13-byte header,
 * the length block, small records) compute the powers they use per call,
 * up to H^8; long ones take H^1..H^32 from a small per-thread cache (the
 * br_ghash contract gives no place to keep them) and fold 16 blocks at
 * a time, or 32 with two or four blocks per 256- or 512-bit instruction.
 */
#include <stdint.h>
#include <string.h>

#include "tls_cpu.h"
#include "tls_ghash.h"
#include "util.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define GHASH_TARGET __attribute__((target("pclmul,ssse3")))
#define GHASH_FOLD 8       /* blocks per reduction, short inputs */
#define GHASH_FOLD_LONG 16 /* blocks per reduction, long inputs */

/* An unreduced Karatsuba sum: lo = sum a0*b0, hi = a1*b1, mid = (a0^a1)(b0^b1). */
struct tls_ghash_acc {
	__m128i lo, hi, mid;
};

GHASH_TARGET static inline __m128i
load_rev(const unsigned char *p)
{
	const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

	return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), rev);
}

GHASH_TARGET static inline void
store_rev(unsigned char *p, __m128i v)
{
	const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

	_mm_storeu_si128((__m128i *)(void *)p, _mm_shuffle_epi8(v, rev));
}

/* The low 64-bit lane of the result is v.lo ^ v.hi (Karatsuba's middle operand). */
GHASH_TARGET static inline __m128i
halves_xor(__m128i v)
{
	return _mm_xor_si128(v, _mm_shuffle_epi32(v, 0x4E));
}

/* acc += x * h, where hk = halves_xor(h). */
GHASH_TARGET static inline void
acc_mul(struct tls_ghash_acc *a, __m128i x, __m128i h, __m128i hk)
{
	a->lo = _mm_xor_si128(a->lo, _mm_clmulepi64_si128(x, h, 0x00));
	a->hi = _mm_xor_si128(a->hi, _mm_clmulepi64_si128(x, h, 0x11));
	a->mid = _mm_xor_si128(a->mid, _mm_clmulepi64_si128(halves_xor(x), hk, 0x00));
}

/* 128-bit logical right shift by k (0 < k < 64). */
#define SRL128(v, k) _mm_or_si128(_mm_srli_epi64((v), (k)), _mm_srli_si128(_mm_slli_epi64((v), 64 - (k)), 8))

/*
 * The reduced product of the 256-bit value hi:lo ^ mid<<64, where mid is
 * the cross term a0*b1 ^ a1*b0 (see the top of the file).
 */
GHASH_TARGET static inline __m128i
reduce256(__m128i lo, __m128i hi, __m128i mid)
{
	__m128i clo, chi, f, t;

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));

	/* Shift the 256-bit product left by one bit. */
	clo = _mm_srli_epi64(lo, 63);
	chi = _mm_srli_epi64(hi, 63);
	lo = _mm_or_si128(_mm_slli_epi64(lo, 1), _mm_slli_si128(clo, 8));
	hi = _mm_or_si128(_mm_or_si128(_mm_slli_epi64(hi, 1), _mm_slli_si128(chi, 8)),
			  _mm_srli_si128(clo, 8));

	/* F = L<<127 ^ L<<126 ^ L<<121: only the high lane, from L's low lane. */
	f = _mm_xor_si128(_mm_slli_epi64(lo, 63),
			  _mm_xor_si128(_mm_slli_epi64(lo, 62), _mm_slli_epi64(lo, 57)));
	t = _mm_xor_si128(lo, _mm_slli_si128(f, 8));
	return _mm_xor_si128(_mm_xor_si128(hi, t),
			     _mm_xor_si128(SRL128(t, 1), _mm_xor_si128(SRL128(t, 2), SRL128(t, 7))));
}

/* The reduced value of a Karatsuba sum. */
GHASH_TARGET static inline __m128i
acc_reduce(const struct tls_ghash_acc *a)
{
	return reduce256(a->lo, a->hi, _mm_xor_si128(a->mid, _mm_xor_si128(a->lo, a->hi)));
}

GHASH_TARGET static inline __m128i
gf_mul(__m128i a, __m128i b)
{
	struct tls_ghash_acc acc = { _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128() };

	acc_mul(&acc, a, b, halves_xor(b));
	return acc_reduce(&acc);
}

/* Y' = (Y ^ X0)*H^n ^ X1*H^(n-1) ^ ... ^ X(n-1)*H for n (1..8) blocks at p. */
GHASH_TARGET static inline __m128i
fold(__m128i y, const unsigned char *p, size_t n, const __m128i *hp, const __m128i *hk)
{
	struct tls_ghash_acc acc = { _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128() };
	size_t i;

	acc_mul(&acc, _mm_xor_si128(y, load_rev(p)), hp[n - 1], hk[n - 1]);
	for (i = 1; i < n; i++)
		acc_mul(&acc, load_rev(p + 16 * i), hp[n - 1 - i], hk[n - 1 - i]);
	return acc_reduce(&acc);
}

/* hp[i] = H^(i+1) and hk[i] = halves_xor(hp[i]) for i < n. */
GHASH_TARGET static void
powers(__m128i *hp, __m128i *hk, const void *h, size_t n)
{
	size_t i;

	hp[0] = load_rev(h);
	hk[0] = halves_xor(hp[0]);
	for (i = 1; i < n; i++) {
		hp[i] = gf_mul(hp[i - 1], hp[0]);
		hk[i] = halves_xor(hp[i]);
	}
}

/* Hash len bytes into acc, eight blocks per reduction; hp/hk hold H^1..H^8. */
GHASH_TARGET static __m128i
hash_blocks(__m128i acc, const unsigned char *p, size_t len, const __m128i *hp, const __m128i *hk)
{
	unsigned char tail[16 * GHASH_FOLD];
	size_t rest;

	for (; len >= 16 * GHASH_FOLD; p += 16 * GHASH_FOLD, len -= 16 * GHASH_FOLD)
		acc = fold(acc, p, GHASH_FOLD, hp, hk);
	if (len > 0) {
		/* The last 1..7 blocks, the partial one zero-padded. */
		rest = (len + 15) / 16;
		memcpy(tail, p, len);
		memset(tail + len, 0, 16 * rest - len);
		acc = fold(acc, tail, rest, hp, hk);
	}
	return acc;
}

#define GHASH_POWERS 32      /* powers kept per key: the wide loop's fold */
#define GHASH_CACHED_MIN 512 /* inputs from this long use the kept powers */
#define GHASH_CACHE 4        /* keys remembered per thread */

/*
 * The powers of one key. A TLS connection hashes with two keys (one per
 * direction) for its whole life, and computing 32 powers per 16 KiB
 * record would cost half as much as the hashing itself, so the last few
 * keys' powers are kept per thread. They are as secret as the key: a key
 * is looked up in constant time, and its entry is wiped when the
 * connection that used it ends (tls_ghash_forget) or when no connection is
 * left (tls_ghash_forget_all), besides being replaced.
 */
struct tls_ghash_keys {
	unsigned char h[16];
	int used;
	__m128i hp[GHASH_POWERS], hk[GHASH_POWERS]; /* H^1..H^32 */
	__m128i zp[GHASH_POWERS];                   /* H^32..H^1: the lane order of the wide loop */
	__m128i zk[GHASH_POWERS];                   /* halves_xor(zp[i]): Karatsuba's middle operands */
};

static _Thread_local struct tls_ghash_keys tls_ghash_cache[GHASH_CACHE];
static _Thread_local unsigned tls_ghash_cache_next;

/* 1 when the 16-byte keys a and b are equal, in a time that does not depend on them. */
static inline int
key_equal(const void *a, const void *b)
{
	uint64_t a0, a1, b0, b1, d;

	memcpy(&a0, a, 8);
	memcpy(&a1, (const unsigned char *)a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, (const unsigned char *)b + 8, 8);
	d = (a0 ^ b0) | (a1 ^ b1);
	return (int)(((d - 1) & ~d) >> 63); /* top bit set only for d == 0 */
}

/* The entry holding key h, or NULL. Every entry is compared, each in constant time. */
static struct tls_ghash_keys *
keys_find(const void *h)
{
	struct tls_ghash_keys *hit = NULL;
	size_t i;

	for (i = 0; i < GHASH_CACHE; i++)
		if (key_equal(h, tls_ghash_cache[i].h) & tls_ghash_cache[i].used)
			hit = &tls_ghash_cache[i];
	return hit;
}

GHASH_TARGET static const struct tls_ghash_keys *
keys_for(const void *h)
{
	struct tls_ghash_keys *k = keys_find(h);
	size_t i;

	if (k != NULL)
		return k;
	k = &tls_ghash_cache[tls_ghash_cache_next++ % GHASH_CACHE];
	memcpy(k->h, h, 16);
	k->used = 1;
	powers(k->hp, k->hk, h, GHASH_POWERS);
	for (i = 0; i < GHASH_POWERS; i++) {
		k->zp[i] = k->hp[GHASH_POWERS - 1 - i];
		k->zk[i] = k->hk[GHASH_POWERS - 1 - i];
	}
	return k;
}

GHASH_TARGET static void
tls_ghash_pclmul(void *y, const void *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	__m128i hp[GHASH_FOLD], hk[GHASH_FOLD], acc;
	const struct tls_ghash_keys *k;

	if (len == 0)
		return;
	if (len < GHASH_CACHED_MIN) {
		size_t n = UTIL_MIN((len + 15) / 16, (size_t)GHASH_FOLD);

		powers(hp, hk, h, n);
		store_rev(y, hash_blocks(load_rev(y), p, len, hp, hk));
		explicit_bzero(hp, n * sizeof(hp[0]));
		explicit_bzero(hk, n * sizeof(hk[0]));
		return;
	}
	/* Long inputs: twice the blocks per reduction, with the kept powers. */
	k = keys_for(h);
	acc = load_rev(y);
	for (; len >= 16 * GHASH_FOLD_LONG; p += 16 * GHASH_FOLD_LONG, len -= 16 * GHASH_FOLD_LONG)
		acc = fold(acc, p, GHASH_FOLD_LONG, k->hp, k->hk);
	store_rev(y, hash_blocks(acc, p, len, k->hp, k->hk));
}

/* ---- 32 blocks per reduction with 512-bit VPCLMULQDQ -------------------- */

#define GHASH_WIDE_TARGET __attribute__((target("pclmul,ssse3,avx2,avx512f,avx512bw,vpclmulqdq")))
#define GHASH_WIDE GHASH_POWERS /* blocks per reduction */

/* XOR of the four 128-bit lanes of v. */
GHASH_WIDE_TARGET static inline __m128i
lanes_xor(__m512i v)
{
	__m256i a = _mm256_xor_si256(_mm512_extracti64x4_epi64(v, 0), _mm512_extracti64x4_epi64(v, 1));

	return _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

GHASH_WIDE_TARGET static void
tls_ghash_vpclmul(void *y, const void *h, const void *data, size_t len)
{
	const __m512i rev =
		_mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const unsigned char *p = data;
	const struct tls_ghash_keys *k;
	__m512i z, pw, lo, hi, mid;
	__m128i acc;
	size_t j;

	if (len < GHASH_CACHED_MIN) {
		tls_ghash_pclmul(y, h, data, len);
		return;
	}
	k = keys_for(h);
	acc = load_rev(y);
	for (; len >= 16 * GHASH_WIDE; p += 16 * GHASH_WIDE, len -= 16 * GHASH_WIDE) {
		lo = hi = mid = _mm512_setzero_si512();
		for (j = 0; j < GHASH_WIDE / 4; j++) {
			z = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(p + 64 * j)), rev);
			if (j == 0)
				z = _mm512_xor_si512(z, _mm512_zextsi128_si512(acc));
			pw = _mm512_loadu_si512((const void *)&k->zp[4 * j]);
			lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(z, pw, 0x00));
			hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(z, pw, 0x11));
			mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(z, pw, 0x01),
							_mm512_clmulepi64_epi128(z, pw, 0x10), 0x96);
		}
		acc = reduce256(lanes_xor(lo), lanes_xor(hi), lanes_xor(mid));
	}
	store_rev(y, hash_blocks(acc, p, len, k->hp, k->hk));
	/* BearSSL's AES code is SSE-encoded: leave the upper halves clean for it. */
	_mm256_zeroupper();
}

/* ---- 32 blocks per reduction with 256-bit VPCLMULQDQ (no AVX-512) ------ */

#define GHASH_YMM_TARGET __attribute__((target("pclmul,ssse3,avx2,vpclmulqdq")))

/* XOR of the two 128-bit lanes of v. */
GHASH_YMM_TARGET static inline __m128i
lanes_xor256(__m256i v)
{
	return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* The same fold as tls_ghash_vpclmul, two blocks per instruction (AMD Zen 3, Intel client cores). */
GHASH_YMM_TARGET static void
tls_ghash_vpclmul256(void *y, const void *h, const void *data, size_t len)
{
	const __m256i rev = _mm256_broadcastsi128_si256(
		_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
	const unsigned char *p = data;
	const struct tls_ghash_keys *k;
	__m256i z, pw, pk, lo, hi, mid;
	__m128i acc, l, u;
	size_t j;

	if (len < GHASH_CACHED_MIN) {
		tls_ghash_pclmul(y, h, data, len);
		return;
	}
	k = keys_for(h);
	acc = load_rev(y);
	for (; len >= 16 * GHASH_POWERS; p += 16 * GHASH_POWERS, len -= 16 * GHASH_POWERS) {
		lo = hi = mid = _mm256_setzero_si256();
		for (j = 0; j < GHASH_POWERS / 2; j++) {
			/* Karatsuba: three multiplications per block, not four */
			z = _mm256_shuffle_epi8(
				_mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * j)), rev);
			if (j == 0)
				z = _mm256_xor_si256(z, _mm256_zextsi128_si256(acc));
			pw = _mm256_loadu_si256((const __m256i *)(const void *)&k->zp[2 * j]);
			pk = _mm256_loadu_si256((const __m256i *)(const void *)&k->zk[2 * j]);
			lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(z, pw, 0x00));
			hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(z, pw, 0x11));
			z = _mm256_xor_si256(z, _mm256_shuffle_epi32(z, 0x4E));
			mid = _mm256_xor_si256(mid, _mm256_clmulepi64_epi128(z, pk, 0x00));
		}
		l = lanes_xor256(lo);
		u = lanes_xor256(hi);
		acc = reduce256(l, u, _mm_xor_si128(lanes_xor256(mid), _mm_xor_si128(l, u)));
	}
	store_rev(y, hash_blocks(acc, p, len, k->hp, k->hk));
	_mm256_zeroupper();
}

/* see tls_ghash.h */
void
tls_ghash_forget(const void *h)
{
	struct tls_ghash_keys *k = keys_find(h);

	if (k != NULL)
		util_wipe(k, sizeof(*k));
}

/* see tls_ghash.h */
void
tls_ghash_forget_all(void)
{
	util_wipe(tls_ghash_cache, sizeof(tls_ghash_cache));
}

/* see tls_ghash.h */
int
tls_ghash_kept(const void *h)
{
	return keys_find(h) != NULL;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_pclmul_get(void)
{
	if (tls_cpu_has(TLS_CPU_PCLMUL | TLS_CPU_SSSE3))
		return tls_ghash_pclmul;
	return NULL;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_vpclmul256_get(void)
{
	if (tls_cpu_has(TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_VPCLMUL))
		return tls_ghash_vpclmul256;
	return NULL;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_vpclmul_get(void)
{
	if (tls_cpu_has(TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VPCLMUL))
		return tls_ghash_vpclmul;
	return NULL;
}

#else /* not x86 */

/* see tls_ghash.h */
void
tls_ghash_forget(const void *h)
{
	(void)h;
}

/* see tls_ghash.h */
void
tls_ghash_forget_all(void)
{
}

/* see tls_ghash.h */
int
tls_ghash_kept(const void *h)
{
	(void)h;
	return 0;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_pclmul_get(void)
{
	return NULL;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_vpclmul256_get(void)
{
	return NULL;
}

/* see tls_ghash.h */
br_ghash
tls_ghash_vpclmul_get(void)
{
	return NULL;
}

#endif

/* see tls_ghash.h */
br_ghash
tls_ghash_best_get(void)
{
	br_ghash g = tls_ghash_vpclmul_get();

	if (g == NULL)
		g = tls_ghash_vpclmul256_get();
	return g != NULL ? g : tls_ghash_pclmul_get();
}

/* see tls_ghash.h */
const char *
tls_ghash_name(br_ghash g)
{
#if defined(__x86_64__) || defined(__i386__)
	if (g == tls_ghash_vpclmul)
		return "512-bit VPCLMULQDQ";
	if (g == tls_ghash_vpclmul256)
		return "256-bit VPCLMULQDQ";
	if (g == tls_ghash_pclmul)
		return "PCLMULQDQ";
#endif
	/* the hardware ones through their getters: only these exist everywhere */
	if (g == NULL)
		return "other";
	if (g == br_ghash_pclmul_get())
		return "BearSSL pclmul";
	if (g == br_ghash_pwr8_get())
		return "BearSSL pwr8";
	if (g == br_ghash_ctmul64)
		return "BearSSL ctmul64";
	if (g == br_ghash_ctmul)
		return "BearSSL ctmul";
	if (g == br_ghash_ctmul32)
		return "BearSSL ctmul32";
	return "other";
}
