/*
 * aesctr.c: AES-CTR, sixteen blocks in flight with 512-bit VAES (see aesctr.h).
 *
 * Counter blocks are kept as the IV followed by the counter in native
 * (little-endian) order in the last 32-bit lane of each 128-bit lane, so
 * that one vector add steps four blocks; a byte shuffle turns them into
 * the big-endian blocks AES encrypts. The counter wraps modulo 2^32, as
 * in BearSSL. The tail (under 256 bytes) goes 64 bytes at a time with
 * byte-masked loads and stores, so a partial block needs no copy.
 */
#include <stdint.h>
#include <string.h>

#include "aesctr.h"
#include "cpu.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AESCTR_TARGET __attribute__((target("aes,sse2,avx2,avx512f,avx512bw,vaes")))
#define AESCTR_MAX_ROUNDS 14

struct aesctr_keys {
	const br_block_ctr_class *vtable;
	unsigned char rk[16 * (AESCTR_MAX_ROUNDS + 1)]; /* encryption round keys */
	unsigned rounds;
};

_Static_assert(sizeof(struct aesctr_keys) <= sizeof(br_aes_gen_ctr_keys),
	       "the engine keeps the context in a br_aes_gen_ctr_keys");

/* SubWord(w) and SubWord(RotWord(w)) of one key-schedule word. */
AESCTR_TARGET static void
sub_word(uint32_t w, uint32_t *sub, uint32_t *subrot)
{
	__m128i v = _mm_aeskeygenassist_si128(_mm_set_epi32(0, 0, (int)w, 0), 0);

	*sub = (uint32_t)_mm_cvtsi128_si32(v);
	*subrot = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 4));
}

/* FIPS-197 key expansion, words in memory (byte) order on a little-endian CPU. */
AESCTR_TARGET static void
aesctr_init(const br_block_ctr_class **ctx, const void *key, size_t len)
{
	struct aesctr_keys *k = (struct aesctr_keys *)(void *)ctx;
	uint32_t w[4 * (AESCTR_MAX_ROUNDS + 1)], t, sub, subrot, rcon = 1;
	size_t i, nk = len / 4, total;

	k->vtable = aesctr_vaes_get();
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
aesctr_run(const br_block_ctr_class *const *ctx, const void *iv, uint32_t cc, void *data, size_t len)
{
	const struct aesctr_keys *k = (const struct aesctr_keys *)(const void *)ctx;
	const __m512i order = _mm512_broadcast_i32x4(
		_mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
	const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
	unsigned char *p = data, first[16];
	uint32_t next = cc + (uint32_t)((len + 15) / 16);
	__m512i rk[AESCTR_MAX_ROUNDS + 1], ctr, x0, x1, x2, x3;
	__mmask64 m;
	unsigned r;
	size_t n;

	for (r = 0; r <= k->rounds; r++)
		rk[r] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(k->rk + 16 * r)));
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
		_mm512_storeu_si512((void *)(p + 64), _mm512_xor_si512(x1, _mm512_loadu_si512((const void *)(p + 64))));
		_mm512_storeu_si512((void *)(p + 128), _mm512_xor_si512(x2, _mm512_loadu_si512((const void *)(p + 128))));
		_mm512_storeu_si512((void *)(p + 192), _mm512_xor_si512(x3, _mm512_loadu_si512((const void *)(p + 192))));
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

static const br_block_ctr_class aesctr_vaes_vtable = {
	sizeof(struct aesctr_keys), 16, 4, aesctr_init, aesctr_run,
};

/* see aesctr.h */
const br_block_ctr_class *
aesctr_vaes_get(void)
{
	if (cpu_has(CPU_AESNI | CPU_AVX2 | CPU_AVX512 | CPU_VAES))
		return &aesctr_vaes_vtable;
	return NULL;
}

#else /* not x86-64 */

/* see aesctr.h */
const br_block_ctr_class *
aesctr_vaes_get(void)
{
	return NULL;
}

#endif
