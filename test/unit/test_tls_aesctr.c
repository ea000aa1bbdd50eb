/*
 * test_tls_aesctr.c: our VAES AES-CTR against FIPS-197's known answers and
 * against BearSSL's constant-time AES-CTR for every key size, length,
 * alignment and counter wrap; and AES-GCM through it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_aesctr.h"
#include "tls_cpu.h"
#include "testdata.h"
#include "util.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static void
fill_random(void *p, size_t n)
{
	testdata_fill(&rng_state, p, n);
}

/* One of our widths: a test's prestate. */
struct impl {
	const char *name;
	unsigned need; /* the TLS_CPU_* features it runs on */
	const br_block_ctr_class *(*get)(void);
};

static struct impl zmm = { "512-bit VAES", TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VAES,
			   tls_aesctr_vaes512_get };
static struct impl ymm = { "256-bit VAES", TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_VAES,
			   tls_aesctr_vaes256_get };

/*
 * The width a test runs with: skipped (saying which features are missing)
 * where this CPU cannot run it, a failure where it can but is not handed out.
 */
static const br_block_ctr_class *
ours_or_skip(void **state)
{
	const struct impl *im = *state;
	unsigned missing = im->need & ~tls_cpu_features();
	const br_block_ctr_class *vt;
	char names[100];

	if (missing != 0) {
		print_message("skipped: this CPU lacks %s\n", tls_cpu_names(missing, names, sizeof(names)));
		skip();
	}
	vt = im->get();
	if (vt == NULL)
		fail_msg("this CPU has %s but %s was not selected",
			 tls_cpu_names(im->need, names, sizeof(names)), im->name);
	return vt;
}

/*
 * FIPS-197 appendix C: the block 00112233..ff under the keys 000102..
 * of 16, 24 and 32 bytes. In CTR terms: IV 00112233445566778899aabb,
 * counter 0xccddeeff, data all zeros gives the cipher text.
 */
static void
test_fips197(void **state)
{
	static const char *const want[] = {
		"69c4e0d86a7b0430d8cdb78070b4c55a",
		"dda97ca4864cdfe06eaf70a0ec0d7191",
		"8ea2b7ca516745bfeafc49904b496089",
	};
	const br_block_ctr_class *vt = ours_or_skip(state);
	unsigned char key[32], iv[12], buf[16], w[16];
	br_aes_gen_ctr_keys ctx;
	size_t i, klen;

	(void)state;
	for (i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
	testdata_unhex(iv, "00112233445566778899aabb");
	for (i = 0; i < 3; i++) {
		klen = 16 + 8 * i;
		vt->init(&ctx.vtable, key, klen);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(vt->run(&ctx.vtable, iv, 0xccddeeffu, buf, 16), 0xccddef00u);
		testdata_unhex(w, want[i]);
		assert_memory_equal(buf, w, 16);
	}
}

/* One comparison with the reference: same output, same returned counter. */
static void
compare(const br_block_ctr_class *vt, const unsigned char *key, size_t klen, uint32_t cc,
	const unsigned char *src, size_t off, size_t len)
{
	static unsigned char a[20000], b[20000];
	unsigned char iv[12];
	br_aes_ct_ctr_keys ref;
	br_aes_gen_ctr_keys ctx;
	uint32_t ra, rb;

	fill_random(iv, sizeof(iv));
	memcpy(a + off, src, len);
	memcpy(b + off, src, len);
	br_aes_ct_ctr_init(&ref, key, klen);
	vt->init(&ctx.vtable, key, klen);
	ra = br_aes_ct_ctr_run(&ref, iv, cc, a + off, len);
	rb = vt->run(&ctx.vtable, iv, cc, b + off, len);
	if (ra != rb || memcmp(a + off, b + off, len) != 0)
		fail_msg("key %zu bytes, counter %08x, offset %zu, length %zu differs", klen, (unsigned)cc,
			 off, len);
}

static void
test_matches_reference(void **state)
{
	static const size_t big[] = { 16384, 16384 + 5, 16384 + 29, 19999 - 15 };
	static unsigned char src[20000];
	const br_block_ctr_class *vt = ours_or_skip(state);
	unsigned char key[32];
	size_t klen, len, i;

	(void)state;
	fill_random(src, sizeof(src));
	for (klen = 16; klen <= 32; klen += 8) {
		fill_random(key, sizeof(key));
		for (len = 0; len <= 600; len++)
			compare(vt, key, klen, (uint32_t)len * 7919u, src, len % 16, len);
		for (i = 0; i < UTIL_ARRAY_SIZE(big); i++)
			compare(vt, key, klen, 1, src, i, big[i]);
		/* The 32-bit counter wraps in the middle of a vector and of a run. */
		for (i = 0; i < 20; i++)
			compare(vt, key, klen, 0xffffffffu - (uint32_t)i, src, 0, 1000);
	}
}

/* AES-256-GCM (the other TLS suite's cipher) with our CTR: encrypt, then decrypt. */
static void
test_gcm_round_trip(void **state)
{
	static unsigned char plain[16384 + 29], buf[sizeof(plain)];
	const br_block_ctr_class *vt = ours_or_skip(state);
	unsigned char key[32], iv[12], aad[13], t1[16], t2[16];
	br_aes_gen_ctr_keys ctx;
	br_aes_ct_ctr_keys ref;
	br_gcm_context g;

	(void)state;
	fill_random(key, sizeof(key));
	fill_random(iv, sizeof(iv));
	fill_random(aad, sizeof(aad));
	fill_random(plain, sizeof(plain));
	/* Reference tag. */
	br_aes_ct_ctr_init(&ref, key, sizeof(key));
	br_gcm_init(&g, &ref.vtable, br_ghash_ctmul64);
	br_gcm_reset(&g, iv, sizeof(iv));
	br_gcm_aad_inject(&g, aad, sizeof(aad));
	br_gcm_flip(&g);
	memcpy(buf, plain, sizeof(plain));
	br_gcm_run(&g, 1, buf, sizeof(buf));
	br_gcm_get_tag(&g, t1);
	/* Ours decrypts it and computes the same tag. */
	vt->init(&ctx.vtable, key, sizeof(key));
	br_gcm_init(&g, &ctx.vtable, br_ghash_ctmul64);
	br_gcm_reset(&g, iv, sizeof(iv));
	br_gcm_aad_inject(&g, aad, sizeof(aad));
	br_gcm_flip(&g);
	br_gcm_run(&g, 0, buf, sizeof(buf));
	br_gcm_get_tag(&g, t2);
	assert_memory_equal(buf, plain, sizeof(plain));
	assert_memory_equal(t1, t2, 16);
}

/* tls_aesctr_vaes_get() picks the widest this CPU runs. */
static void
test_get(void **state)
{
	(void)state;
	if (tls_aesctr_vaes512_get() != NULL)
		assert_ptr_equal(tls_aesctr_vaes_get(), tls_aesctr_vaes512_get());
	else
		assert_ptr_equal(tls_aesctr_vaes_get(), tls_aesctr_vaes256_get());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_fips197, &zmm),
		cmocka_unit_test_prestate(test_fips197, &ymm),
		cmocka_unit_test_prestate(test_matches_reference, &zmm),
		cmocka_unit_test_prestate(test_matches_reference, &ymm),
		cmocka_unit_test_prestate(test_gcm_round_trip, &zmm),
		cmocka_unit_test_prestate(test_gcm_round_trip, &ymm),
		cmocka_unit_test(test_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
