/*
 * tls_aesctr.c: AES-CTR, sixteen blocks in flight with 512- or 256-bit VAES (see tls_aesctr.h).
 *
 * Counter blocks are kept as the IV followed by the counter in native
 * (little-endian) order in the last 32-bit lane of each 128-bit lane, so
 * that one vector add steps four blocks; a byte shuffle turns them into
 * the big-endian blocks AES encrypts. The counter wraps modulo 2^32, as
 * in BearSSL. The 512-bit tail (under 256 bytes) goes 64 bytes at a time
 * with byte-masked loads and stores, so a partial block needs no copy;
 * the 256-bit one goes 32 bytes at a time and the last 1..31 through a
 * small buffer.
 */
#include <stdint.h>
#include <string.h>

#include "tls_aesctr.h"
#include "tls_cpu.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AESCTR_TARGET __attribute__((target("aes,sse2,avx2,avx512f,avx512bw,vaes")))
#define AESCTR_YMM_TARGET __attribute__((target("aes,sse2,avx2,vaes")))
#define AESCTR_KEY_TARGET __attribute__((target("aes,sse2")))
#define AESCTR_MAX_ROUNDS 14

struct tls_aesctr_keys {
	const br_block_ctr_class *vtable;
	unsigned char rk[16 * (AESCTR_MAX_ROUNDS + 1)]; /* encryption round keys */
	unsigned rounds;
};

_Static_assert(sizeof(struct tls_aesctr_keys) <= sizeof(br_aes_gen_ctr_keys),
	       "the engine keeps the context in a br_aes_gen_ctr_keys");

/* SubWord(w) and SubWord(RotWord(w)) of one key-schedule word. */
AESCTR_KEY_TARGET static void
sub_word(uint32_t w, uint32_t *sub, uint32_t *subrot)
{
	__m128i v = _mm_aeskeygenassist_si128(_mm_set_epi32(0, 0, (int)w, 0), 0);

	*sub = (uint32_t)_mm_cvtsi128_si32(v);
	*subrot = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 4));
}

/* FIPS-197 key expansion, words in memory (byte) order on a little-endian CPU. */
AESCTR_KEY_TARGET static void
key_schedule(struct tls_aesctr_keys *k, const br_block_ctr_class *vt, const void *key, size_t len)
{
	uint32_t w[4 * (AESCTR_MAX_ROUNDS + 1)], t, sub, subrot, rcon = 1;
	size_t i, nk = len / 4, total;

	k->vtable = vt;
	if (len != 16 && len != 24 && len != 32) {
		/* Outside the contract: leave a schedule that is never secret. */
		memset(k->rk, 0, sizeof(k->rk));
		k->rounds = 10;
		return;
	}
	k->rounds = (unsigned)nk + 6;
	total = 4 * (k->rounds + 1);
	memcpy(w, key, len);
	for (i = nk; i < total; i++) {
		t = w[i - 1];
		if (i % nk == 0) {
			sub_word(t, &sub, &subrot);
			t = subrot ^ rcon;
			rcon = ((rcon << 1) ^ ((rcon >> 7) * 0x1b)) & 0xff;
		} else if (nk > 6 && i % nk == 4) {
			sub_word(t, &sub, &subrot);
			t = sub;
		}
		w[i] = w[i - nk] ^ t;
	}
	memcpy(k->rk, w, 4 * total);
	explicit_bzero(w, sizeof(w));
}

/* Four counter blocks encrypted: the key stream for 64 bytes. */
AESCTR_TARGET static inline __m512i
encrypt4(__m512i x, const __m512i *rk, unsigned rounds)
{
	unsigned r;

	x = _mm512_xor_si512(x, rk[0]);
	for (r = 1; r < rounds; r++)
		x = _mm512_aesenc_epi128(x, rk[r]);
	return _mm512_aesenclast_epi128(x, rk[rounds]);
}

AESCTR_TARGET static uint32_t
tls_aesctr_run(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc, void *data, size_t len)
{
	const struct tls_aesctr_keys *k = (const struct tls_aesctr_keys *)(const void *)ctx;
	const __m512i order =
		_mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
	const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
	unsigned char *p = data, first[16];
	uint32_t next = cc + (uint32_t)((len + 15) / 16);
	__m512i rk[AESCTR_MAX_ROUNDS + 1], ctr, x0, x1, x2, x3;
	__mmask64 m;
	unsigned r;
	size_t n;

	for (r = 0; r <= k->rounds; r++)
		rk[r] = _mm512_broadcast_i32x4(
			_mm_loadu_si128((const __m128i *)(const void *)(k->rk + 16 * r)));
	memcpy(first, iv, 12);
	memcpy(first + 12, &cc, 4);
	ctr = _mm512_add_epi32(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)first)),
			       _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0));
	for (; len >= 256; p += 256, len -= 256) {
		x0 = _mm512_shuffle_epi8(ctr, order);
		ctr = _mm512_add_epi32(ctr, four);
		x1 = _mm512_shuffle_epi8(ctr, order);
		ctr = _mm512_add_epi32(ctr, four);
		x2 = _mm512_shuffle_epi8(ctr, order);
		ctr = _mm512_add_epi32(ctr, four);
		x3 = _mm512_shuffle_epi8(ctr, order);
		ctr = _mm512_add_epi32(ctr, four);
		x0 = _mm512_xor_si512(x0, rk[0]);
		x1 = _mm512_xor_si512(x1, rk[0]);
		x2 = _mm512_xor_si512(x2, rk[0]);
		x3 = _mm512_xor_si512(x3, rk[0]);
		for (r = 1; r < k->rounds; r++) {
			x0 = _mm512_aesenc_epi128(x0, rk[r]);
			x1 = _mm512_aesenc_epi128(x1, rk[r]);
			x2 = _mm512_aesenc_epi128(x2, rk[r]);
			x3 = _mm512_aesenc_epi128(x3, rk[r]);
		}
		x0 = _mm512_aesenclast_epi128(x0, rk[r]);
		x1 = _mm512_aesenclast_epi128(x1, rk[r]);
		x2 = _mm512_aesenclast_epi128(x2, rk[r]);
		x3 = _mm512_aesenclast_epi128(x3, rk[r]);
		_mm512_storeu_si512((void *)p, _mm512_xor_si512(x0, _mm512_loadu_si512((const void *)p)));
		_mm512_storeu_si512((void *)(p + 64),
				    _mm512_xor_si512(x1, _mm512_loadu_si512((const void *)(p + 64))));
		_mm512_storeu_si512((void *)(p + 128),
				    _mm512_xor_si512(x2, _mm512_loadu_si512((const void *)(p + 128))));
		_mm512_storeu_si512((void *)(p + 192),
				    _mm512_xor_si512(x3, _mm512_loadu_si512((const void *)(p + 192))));
	}
	for (; len > 0; p += n, len -= n) {
		n = len < 64 ? len : 64;
		m = n == 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
		x0 = encrypt4(_mm512_shuffle_epi8(ctr, order), rk, k->rounds);
		ctr = _mm512_add_epi32(ctr, four);
		_mm512_mask_storeu_epi8(p, m, _mm512_xor_si512(x0, _mm512_maskz_loadu_epi8(m, p)));
	}
	/* BearSSL's GHASH fallbacks are SSE-encoded: leave the upper halves clean. */
	_mm256_zeroupper();
	return next;
}

/* ---- eight blocks per step with 256-bit VAES (no AVX-512) ---------------- */

AESCTR_YMM_TARGET static inline __m256i
encrypt2(__m256i x, const __m256i *rk, unsigned rounds)
{
	unsigned r;

	x = _mm256_xor_si256(x, rk[0]);
	for (r = 1; r < rounds; r++)
		x = _mm256_aesenc_epi128(x, rk[r]);
	return _mm256_aesenclast_epi128(x, rk[rounds]);
}

/* The same counter layout as tls_aesctr_run, two blocks per register, sixteen in flight. */
AESCTR_YMM_TARGET static uint32_t
tls_aesctr_run256(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc, void *data, size_t len)
{
	const struct tls_aesctr_keys *k = (const struct tls_aesctr_keys *)(const void *)ctx;
	const __m256i order = _mm256_broadcastsi128_si256(
		_mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
	const __m256i two = _mm256_set_epi32(2, 0, 0, 0, 2, 0, 0, 0);
	unsigned char *p = data, first[16], ks[32];
	uint32_t next = cc + (uint32_t)((len + 15) / 16);
	__m256i rk[AESCTR_MAX_ROUNDS + 1], ctr, x[8];
	unsigned r, i;

	for (r = 0; r <= k->rounds; r++)
		rk[r] = _mm256_broadcastsi128_si256(
			_mm_loadu_si128((const __m128i *)(const void *)(k->rk + 16 * r)));
	memcpy(first, iv, 12);
	memcpy(first + 12, &cc, 4);
	ctr = _mm256_add_epi32(
		_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)first)),
		_mm256_set_epi32(1, 0, 0, 0, 0, 0, 0, 0));
	/* sixteen ymm registers: the eight blocks pairs stay in them, the round keys come from memory */
	for (; len >= 256; p += 256, len -= 256) {
		__m256i x0, x1, x2, x3, x4, x5, x6, x7, kr = rk[0];

#define CTR_NEXT(v)                                                                                          \
	do {                                                                                                 \
		v = _mm256_xor_si256(_mm256_shuffle_epi8(ctr, order), kr);                                   \
		ctr = _mm256_add_epi32(ctr, two);                                                            \
	} while (0)
		CTR_NEXT(x0);
		CTR_NEXT(x1);
		CTR_NEXT(x2);
		CTR_NEXT(x3);
		CTR_NEXT(x4);
		CTR_NEXT(x5);
		CTR_NEXT(x6);
		CTR_NEXT(x7);
#undef CTR_NEXT
		for (r = 1; r < k->rounds; r++) {
			kr = rk[r];
			x0 = _mm256_aesenc_epi128(x0, kr);
			x1 = _mm256_aesenc_epi128(x1, kr);
			x2 = _mm256_aesenc_epi128(x2, kr);
			x3 = _mm256_aesenc_epi128(x3, kr);
			x4 = _mm256_aesenc_epi128(x4, kr);
			x5 = _mm256_aesenc_epi128(x5, kr);
			x6 = _mm256_aesenc_epi128(x6, kr);
			x7 = _mm256_aesenc_epi128(x7, kr);
		}
		kr = rk[r];
		x[0] = _mm256_aesenclast_epi128(x0, kr);
		x[1] = _mm256_aesenclast_epi128(x1, kr);
		x[2] = _mm256_aesenclast_epi128(x2, kr);
		x[3] = _mm256_aesenclast_epi128(x3, kr);
		x[4] = _mm256_aesenclast_epi128(x4, kr);
		x[5] = _mm256_aesenclast_epi128(x5, kr);
		x[6] = _mm256_aesenclast_epi128(x6, kr);
		x[7] = _mm256_aesenclast_epi128(x7, kr);
		for (i = 0; i < 8; i++) {
			__m256i *q = (__m256i *)(void *)(p + 32 * i);

			_mm256_storeu_si256(q, _mm256_xor_si256(x[i], _mm256_loadu_si256(q)));
		}
	}
	for (; len >= 32; p += 32, len -= 32) {
		__m256i *q = (__m256i *)(void *)p;

		x[0] = encrypt2(_mm256_shuffle_epi8(ctr, order), rk, k->rounds);
		ctr = _mm256_add_epi32(ctr, two);
		_mm256_storeu_si256(q, _mm256_xor_si256(x[0], _mm256_loadu_si256(q)));
	}
	if (len > 0) {
		/* AVX2 has no byte-masked store: the last 1..31 bytes through a buffer */
		_mm256_storeu_si256((__m256i *)(void *)ks,
				    encrypt2(_mm256_shuffle_epi8(ctr, order), rk, k->rounds));
		for (i = 0; i < len; i++)
			p[i] ^= ks[i];
		explicit_bzero(ks, sizeof(ks));
	}
	_mm256_zeroupper();
	return next;
}

static const br_block_ctr_class tls_aesctr_vaes_vtable, tls_aesctr_vaes256_vtable;

static void
init512(const br_block_ctr_class **ctx, const void *key, size_t len)
{
	key_schedule((struct tls_aesctr_keys *)(void *)ctx, &tls_aesctr_vaes_vtable, key, len);
}

static void
init256(const br_block_ctr_class **ctx, const void *key, size_t len)
{
	key_schedule((struct tls_aesctr_keys *)(void *)ctx, &tls_aesctr_vaes256_vtable, key, len);
}

static const br_block_ctr_class tls_aesctr_vaes_vtable = {
	sizeof(struct tls_aesctr_keys), 16, 4, init512, tls_aesctr_run,
};

static const br_block_ctr_class tls_aesctr_vaes256_vtable = {
	sizeof(struct tls_aesctr_keys), 16, 4, init256, tls_aesctr_run256,
};

/* see tls_aesctr.h */
const br_block_ctr_class *
tls_aesctr_vaes512_get(void)
{
	if (tls_cpu_has(TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VAES))
		return &tls_aesctr_vaes_vtable;
	return NULL;
}

/* see tls_aesctr.h */
const br_block_ctr_class *
tls_aesctr_vaes256_get(void)
{
	if (tls_cpu_has(TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_VAES))
		return &tls_aesctr_vaes256_vtable;
	return NULL;
}

#else /* not x86-64 */

/* see tls_aesctr.h */
const br_block_ctr_class *
tls_aesctr_vaes512_get(void)
{
	return NULL;
}

/* see tls_aesctr.h */
const br_block_ctr_class *
tls_aesctr_vaes256_get(void)
{
	return NULL;
}

#endif

/* see tls_aesctr.h */
const char *
tls_aesctr_name(const br_block_ctr_class *vt)
{
#if defined(__x86_64__)
	if (vt == &tls_aesctr_vaes_vtable)
		return "512-bit VAES";
	if (vt == &tls_aesctr_vaes256_vtable)
		return "256-bit VAES";
#endif
	/* the hardware ones through their getters: only these exist everywhere */
	if (vt == NULL)
		return "other";
	if (vt == br_aes_x86ni_ctr_get_vtable())
		return "BearSSL x86ni";
	if (vt == br_aes_pwr8_ctr_get_vtable())
		return "BearSSL pwr8";
	if (vt == &br_aes_ct64_ctr_vtable)
		return "BearSSL ct64";
	if (vt == &br_aes_ct_ctr_vtable)
		return "BearSSL ct";
	if (vt == &br_aes_big_ctr_vtable)
		return "BearSSL big";
	if (vt == &br_aes_small_ctr_vtable)
		return "BearSSL small";
	return "other";
}

/* see tls_aesctr.h */
const br_block_ctr_class *
tls_aesctr_vaes_get(void)
{
	const br_block_ctr_class *vt = tls_aesctr_vaes512_get();

	return vt != NULL ? vt : tls_aesctr_vaes256_get();
}
