/*
 * test_tls_ghash.c: our GHASH against BearSSL's portable one, and AES-GCM
 * known answers (McGrew & Viega's GCM test cases 2-4) computed with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_cpu.h"
#include "tls_ghash.h"
#include "testdata.h"
#include "util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* One of our implementations: a test's prestate. */
struct impl {
	const char *name;
	unsigned need; /* the TLS_CPU_* features it runs on */
	br_ghash (*get)(void);
};

static struct impl narrow = { "PCLMULQDQ", TLS_CPU_PCLMUL | TLS_CPU_SSSE3, tls_ghash_pclmul_get };
static struct impl wide = { "512-bit VPCLMULQDQ",
			    TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VPCLMUL,
			    tls_ghash_vpclmul_get };
static struct impl ymm = { "256-bit VPCLMULQDQ",
			   TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_VPCLMUL,
			   tls_ghash_vpclmul256_get };

/*
 * The implementation a test runs with: skipped (saying which features are
 * missing) where this CPU cannot run it, a failure where it can but is not
 * handed out.
 */
static br_ghash
ours(void **state)
{
	const struct impl *im = *state;
	unsigned missing = im->need & ~tls_cpu_features();
	char names[100];
	br_ghash g;

	if (missing != 0) {
		print_message("skipped: this CPU lacks %s\n", tls_cpu_names(missing, names, sizeof(names)));
		skip();
	}
	g = im->get();
	if (g == NULL)
		fail_msg("this CPU has %s but %s was not selected",
			 tls_cpu_names(im->need, names, sizeof(names)), im->name);
	return g;
}

static void
fill_random(void *p, size_t n)
{
	testdata_fill(&rng_state, p, n);
}

/* AES-128-GCM encryption of a known vector with the GHASH gh. */
static void
check_gcm(br_ghash gh, const char *key, const char *iv, const char *aad, const char *pt, const char *ct,
	  const char *tag)
{
	unsigned char k[16], n[12], a[64], buf[64], want[64], t[16], wt[16];
	size_t alen, plen;
	br_aes_ct_ctr_keys ctr;
	br_gcm_context g;

	testdata_unhex(k, key);
	testdata_unhex(n, iv);
	alen = testdata_unhex(a, aad);
	plen = testdata_unhex(buf, pt);
	assert_int_equal(testdata_unhex(want, ct), plen);
	testdata_unhex(wt, tag);
	br_aes_ct_ctr_init(&ctr, k, sizeof(k));
	br_gcm_init(&g, &ctr.vtable, gh);
	br_gcm_reset(&g, n, sizeof(n));
	br_gcm_aad_inject(&g, a, alen);
	br_gcm_flip(&g);
	br_gcm_run(&g, 1, buf, plen);
	br_gcm_get_tag(&g, t);
	assert_memory_equal(buf, want, plen);
	assert_memory_equal(t, wt, 16);
}

static void
known_answers(br_ghash gh)
{
	static const char k3[] = "feffe9928665731c6d6a8f9467308308", iv3[] = "cafebabefacedbaddecaf888",
			  p3[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
				 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
			  c3[] = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
				 "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985";

	check_gcm(gh, "00000000000000000000000000000000", "000000000000000000000000", "",
		  "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
		  "ab6e47d42cec13bdf53a67b21257bddf");
	check_gcm(gh, k3, iv3, "", p3, c3, "4d5c2af327cd64a62cf35abd2ba6fab4");
	/* Test case 4: 20 bytes of AAD, 60 of plaintext (both end in a partial block). */
	check_gcm(gh, k3, iv3, "feedfacedeadbeeffeedfacedeadbeefabaddad2",
		  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
		  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
		  "5bc94fbc3221a5db94fae95ae7121a47");
}

/* The vectors themselves, through BearSSL's portable GHASH. */
static void
test_known_answers_reference(void **state)
{
	(void)state;
	known_answers(&br_ghash_ctmul64);
}

static void
test_known_answers_ours(void **state)
{
	known_answers(ours(state));
}

/* Every length 0..600 and record-sized ones, at every alignment mod 16. */
static void
test_matches_reference(void **state)
{
	static const size_t big[] = { 16383, 16384, 16384 + 13, 16384 + 16, 16384 + 256 + 5 };
	static unsigned char data[16384 + 512];
	unsigned char y1[16], y2[16], h[16];
	br_ghash g = ours(state);
	size_t len, i, off;

	fill_random(data, sizeof(data));
	for (len = 0; len <= 600 + UTIL_ARRAY_SIZE(big); len++) {
		size_t n = len <= 600 ? len : big[len - 601];

		off = len % 16;
		fill_random(h, sizeof(h));
		fill_random(y1, sizeof(y1));
		memcpy(y2, y1, sizeof(y1));
		br_ghash_ctmul64(y1, h, data + off, n);
		g(y2, h, data + off, n);
		if (memcmp(y1, y2, 16) != 0)
			fail_msg("length %zu offset %zu differs", n, off);
	}
	/* Special keys: zero, one (x^0), and all ones. */
	for (i = 0; i < 3; i++) {
		memset(h, i == 2 ? 0xff : 0, sizeof(h));
		if (i == 1)
			h[0] = 0x80;
		memset(y1, 0x5a, sizeof(y1));
		memcpy(y2, y1, sizeof(y1));
		br_ghash_ctmul64(y1, h, data, 1000);
		g(y2, h, data, 1000);
		assert_memory_equal(y1, y2, 16);
	}
}

/* The per-thread key cache: more keys than it holds, interleaved. */
static void
test_many_keys(void **state)
{
	static unsigned char data[4096 + 48];
	unsigned char h[7][16], y1[16], y2[16];
	br_ghash g = ours(state);
	size_t round, k;

	fill_random(data, sizeof(data));
	fill_random(&h[0][0], sizeof(h));
	for (round = 0; round < 40; round++) {
		k = (round * 3) % 7;
		memset(y1, (int)round, sizeof(y1));
		memcpy(y2, y1, sizeof(y1));
		br_ghash_ctmul64(y1, h[k], data, sizeof(data) - round);
		g(y2, h[k], data, sizeof(data) - round);
		if (memcmp(y1, y2, 16) != 0)
			fail_msg("round %zu, key %zu differs", round, k);
	}
}

/* Kept powers: only for long inputs, wiped per key or all at once, and computed again when needed. */
static void
test_forget(void **state)
{
	static unsigned char data[4096];
	unsigned char h1[16], h2[16], y1[16] = { 0 }, y2[16] = { 0 }, again[16] = { 0 };
	br_ghash g = ours(state);

	fill_random(data, sizeof(data));
	fill_random(h1, sizeof(h1));
	fill_random(h2, sizeof(h2));
	tls_ghash_forget_all();
	g(y1, h1, data, 100); /* short: computed per call, nothing kept */
	assert_false(tls_ghash_kept(h1));
	g(y1, h1, data, sizeof(data));
	g(y2, h2, data, sizeof(data));
	assert_true(tls_ghash_kept(h1) && tls_ghash_kept(h2));
	tls_ghash_forget(h1);
	assert_false(tls_ghash_kept(h1));
	assert_true(tls_ghash_kept(h2));
	tls_ghash_forget(h1); /* twice: nothing to do */
	g(again, h1, data, 100);
	g(again, h1, data, sizeof(data));
	assert_memory_equal(again, y1, 16);
	tls_ghash_forget_all();
	assert_false(tls_ghash_kept(h1) || tls_ghash_kept(h2));
}

/* Hashing in block-aligned pieces equals hashing the whole. */
static void
test_split(void **state)
{
	static unsigned char data[4096];
	unsigned char whole[16] = { 0 }, parts[16] = { 0 }, h[16];
	br_ghash g = ours(state);
	size_t cut, cut2;

	fill_random(data, sizeof(data));
	fill_random(h, sizeof(h));
	g(whole, h, data, sizeof(data));
	for (cut = 0; cut <= sizeof(data); cut += 16) {
		cut2 = cut + (sizeof(data) - cut) / 32 * 16;
		memset(parts, 0, sizeof(parts));
		g(parts, h, data, cut);
		g(parts, h, data + cut, cut2 - cut);
		g(parts, h, data + cut2, sizeof(data) - cut2);
		if (memcmp(whole, parts, 16) != 0)
			fail_msg("cut at %zu/%zu differs", cut, cut2);
	}
}

/* tls_ghash_best_get() answers with our widest this CPU runs, NULL only without PCLMULQDQ. */
static void
test_best(void **state)
{
	(void)state;
	if (tls_ghash_vpclmul_get() != NULL)
		assert_ptr_equal(tls_ghash_best_get(), tls_ghash_vpclmul_get());
	else if (tls_ghash_vpclmul256_get() != NULL)
		assert_ptr_equal(tls_ghash_best_get(), tls_ghash_vpclmul256_get());
	else
		assert_ptr_equal(tls_ghash_best_get(), tls_ghash_pclmul_get());
	if (tls_ghash_best_get() != NULL)
		known_answers(tls_ghash_best_get());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers_reference),
		cmocka_unit_test_prestate(test_known_answers_ours, &narrow),
		cmocka_unit_test_prestate(test_known_answers_ours, &wide),
		cmocka_unit_test_prestate(test_known_answers_ours, &ymm),
		cmocka_unit_test_prestate(test_matches_reference, &narrow),
		cmocka_unit_test_prestate(test_matches_reference, &wide),
		cmocka_unit_test_prestate(test_matches_reference, &ymm),
		cmocka_unit_test_prestate(test_many_keys, &narrow),
		cmocka_unit_test_prestate(test_many_keys, &wide),
		cmocka_unit_test_prestate(test_many_keys, &ymm),
		cmocka_unit_test_prestate(test_forget, &narrow),
		cmocka_unit_test_prestate(test_forget, &wide),
		cmocka_unit_test_prestate(test_forget, &ymm),
		cmocka_unit_test_prestate(test_split, &narrow),
		cmocka_unit_test_prestate(test_split, &wide),
		cmocka_unit_test_prestate(test_split, &ymm),
		cmocka_unit_test(test_best),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
