/*
 * test_tls_gcm.c: the published known answers through every AES-CTR and
 * GHASH path the TLS engine may run, and the choice of path on this CPU.
 *
 * Paths: our AES-CTR (512- and 256-bit VAES) and BearSSL's (x86ni,
 * ct64); our GHASH (512- and 256-bit VPCLMULQDQ, PCLMULQDQ) and
 * BearSSL's (pclmul, ctmul64). Vectors (katdata.h): SP 800-38A F.5.1-F.5.6
 * through each AES-CTR path, whole, block by block and at every
 * alignment; the GCM specification's test cases 1-18 (the 8- and 60-byte
 * IVs through GHASH to make the first counter block) through br_gcm with
 * every AES-CTR path paired with every GHASH path, and with the two pairs
 * tls_crypto_pick() gives the engine (auto, bearssl): encrypt with the tag
 * checked, decrypt with the tag checked, a changed tag refused, input
 * given in two pieces at every cut.
 *
 * A path whose instructions this CPU lacks is SKIPPED, with a line
 * "skipped: this CPU lacks FEATURE ..." (test/run-unit.sh shows it). A path of ours
 * that the CPU can run but whose getter does not hand out FAILS, and so
 * does an engine choice that is not the widest path of ours the CPU runs
 * (checked on this CPU and on every smaller one, by hiding features).
 *
 * TEST_CPU_HIDE="VAES AVX-512 ..." (tls_cpu_names() spelling) runs the
 * whole file as on a CPU without those features: their paths are skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katdata.h"
#include "testdata.h"
#include "tls_crypto.h"
#include "tlspaths.h"

/* ---- SP 800-38A F.5 ---------------------------------------------------- */

/* One CTR run of v at data offset off, in pieces of `piece` bytes (a multiple of 16, or all). */
static void
ctr_run(const br_block_ctr_class *vt, const struct kat_ctr *v, size_t off, size_t piece)
{
	unsigned char key[32], block[16], in[64], want[64], buf[64 + 64];
	br_aes_gen_ctr_keys kc;
	size_t klen, n, done;
	uint32_t cc;

	klen = testdata_unhex(key, v->key);
	assert_int_equal(testdata_unhex(block, v->counter), 16);
	n = testdata_unhex(in, v->in);
	assert_int_equal(testdata_unhex(want, v->out), n);
	cc = (uint32_t)block[12] << 24 | (uint32_t)block[13] << 16 | (uint32_t)block[14] << 8 | block[15];
	vt->init(&kc.vtable, key, klen);
	memcpy(buf + off, in, n);
	for (done = 0; done < n; done += piece) {
		size_t k = UTIL_MIN(piece, n - done);
		uint32_t next = vt->run(&kc.vtable, block, cc, buf + off + done, k);

		assert_int_equal(next, cc + (uint32_t)((k + 15) / 16));
		cc = next;
	}
	if (memcmp(buf + off, want, n) != 0)
		fail_msg("%s: %s differs (offset %zu, pieces of %zu)", v->name,
			 vt == NULL ? "?" : tls_aesctr_name(vt), off, piece);
}

static void
test_ctr_kat(void **state)
{
	const br_block_ctr_class *vt = ctr_or_skip(*state);
	size_t i, off;

	for (i = 0; i < UTIL_ARRAY_SIZE(kat_ctr); i++) {
		ctr_run(vt, &kat_ctr[i], 0, 64);
		ctr_run(vt, &kat_ctr[i], 0, 16);
		ctr_run(vt, &kat_ctr[i], 0, 32);
		for (off = 1; off < 64; off++)
			ctr_run(vt, &kat_ctr[i], off, 64);
	}
}

/* ---- the GCM test cases ------------------------------------------------- */

/* One GCM run of v with ctr and gh: encrypt or decrypt, AAD and data cut at `cut` (clamped). */
static void
gcm_run(const br_block_ctr_class *ctr, br_ghash gh, const struct kat_gcm *v, int encrypt, size_t cut,
	size_t off)
{
	unsigned char key[32], iv[64], aad[32], pt[64], ct[64], tag[16], t[16], buf[64 + 16];
	size_t klen, ivlen, alen, n, c;
	br_aes_gen_ctr_keys kc;
	br_gcm_context g;

	klen = testdata_unhex(key, v->key);
	ivlen = testdata_unhex(iv, v->iv);
	alen = testdata_unhex(aad, v->aad);
	n = testdata_unhex(pt, v->pt);
	assert_int_equal(testdata_unhex(ct, v->ct), n);
	assert_int_equal(testdata_unhex(tag, v->tag), 16);
	ctr->init(&kc.vtable, key, klen);
	br_gcm_init(&g, &kc.vtable, gh);
	br_gcm_reset(&g, iv, ivlen);
	c = UTIL_MIN(cut, alen);
	br_gcm_aad_inject(&g, aad, c);
	br_gcm_aad_inject(&g, aad + c, alen - c);
	br_gcm_flip(&g);
	memcpy(buf + off, encrypt ? pt : ct, n);
	c = UTIL_MIN(cut, n);
	br_gcm_run(&g, encrypt, buf + off, c);
	br_gcm_run(&g, encrypt, buf + off + c, n - c);
	if (memcmp(buf + off, encrypt ? ct : pt, n) != 0)
		fail_msg("test case %d: %s text differs (AES-CTR %s, GHASH %s, cut %zu)", v->tc,
			 encrypt ? "cipher" : "plain", tls_aesctr_name(ctr), tls_ghash_name(gh), cut);
	if (encrypt) {
		br_gcm_get_tag(&g, t);
		if (memcmp(t, tag, 16) != 0)
			fail_msg("test case %d: tag differs (AES-CTR %s, GHASH %s, cut %zu)", v->tc,
				 tls_aesctr_name(ctr), tls_ghash_name(gh), cut);
	} else {
		if (!br_gcm_check_tag(&g, tag))
			fail_msg("test case %d: tag refused (AES-CTR %s, GHASH %s, cut %zu)", v->tc,
				 tls_aesctr_name(ctr), tls_ghash_name(gh), cut);
	}
}

/* A tag with one bit changed is refused. */
static void
gcm_bad_tag(const br_block_ctr_class *ctr, br_ghash gh, const struct kat_gcm *v)
{
	unsigned char key[32], iv[64], aad[32], ct[64], tag[16];
	size_t klen, ivlen, alen, n;
	br_aes_gen_ctr_keys kc;
	br_gcm_context g;

	klen = testdata_unhex(key, v->key);
	ivlen = testdata_unhex(iv, v->iv);
	alen = testdata_unhex(aad, v->aad);
	n = testdata_unhex(ct, v->ct);
	testdata_unhex(tag, v->tag);
	tag[(size_t)v->tc % 16] ^= (unsigned char)(1u << (v->tc % 8));
	ctr->init(&kc.vtable, key, klen);
	br_gcm_init(&g, &kc.vtable, gh);
	br_gcm_reset(&g, iv, ivlen);
	br_gcm_aad_inject(&g, aad, alen);
	br_gcm_flip(&g);
	br_gcm_run(&g, 0, ct, n);
	if (br_gcm_check_tag(&g, tag))
		fail_msg("test case %d: a changed tag was accepted", v->tc);
}

/* All 18 test cases, both directions, cut at every point, with one alignment shift. */
static void
gcm_all(const br_block_ctr_class *ctr, br_ghash gh)
{
	size_t i, cut;

	for (i = 0; i < UTIL_ARRAY_SIZE(kat_gcm); i++) {
		for (cut = 0; cut <= 64; cut++) {
			gcm_run(ctr, gh, &kat_gcm[i], 1, cut, cut % 16);
			gcm_run(ctr, gh, &kat_gcm[i], 0, cut, 15 - cut % 16);
		}
		gcm_bad_tag(ctr, gh, &kat_gcm[i]);
	}
}

/* A test's state: one AES-CTR path with one GHASH path. */
struct gcm_case {
	const struct ctr_path *ctr;
	const struct ghash_path *gh;
	char name[80];
};

static void
test_gcm_kat(void **state)
{
	const struct gcm_case *gc = *state;
	const br_block_ctr_class *ctr;
	br_ghash gh;

	/* check both before skipping for either, so a missing path of ours fails */
	need_or_skip(gc->ctr->need | gc->gh->need);
	ctr = ctr_or_skip(gc->ctr);
	gh = ghash_or_skip(gc->gh);
	gcm_all(ctr, gh);
}

/* What tls_crypto gives the engine, in each mode. */
static void
test_gcm_kat_engine(void **state)
{
	const enum tls_crypto_mode *mode = *state;
	struct tls_crypto_impl im;

	tls_crypto_pick(*mode, &im);
	print_message("  %s: AES-CTR %s, GHASH %s\n", *mode == TLS_CRYPTO_BEARSSL ? "bearssl" : "auto",
		      im.ctr_name, im.ghash_name);
	gcm_all(im.ctr, im.ghash);
}

/* ---- the choice of path ------------------------------------------------- */

/*
 * The engine's AES-CTR and GHASH for the CPU tls_cpu shows now: the widest
 * path of ours it runs, else BearSSL's hardware code, else BearSSL's
 * constant-time code; and every getter of ours hands out exactly when the
 * CPU has its features. BearSSL's own detection decides whether its
 * hardware code exists at all.
 */
static void
check_choice(void)
{
	struct tls_crypto_impl im;
	const char *want_ctr = NULL, *want_gh = NULL;
	char names[100];
	size_t i;

	for (i = 0; i < N_CTR; i++) {
		int has = tls_cpu_has(ctr_paths[i].need);

		if (ctr_paths[i].ours && has != (ctr_paths[i].get() != NULL))
			fail_msg("CPU %s: %s %s", tls_cpu_names(tls_cpu_features(), names, sizeof(names)),
				 ctr_paths[i].name,
				 has ? "not handed out" : "handed out without its features");
		if (want_ctr == NULL && has && ctr_paths[i].get() != NULL)
			want_ctr = ctr_paths[i].name;
	}
	for (i = 0; i < N_GHASH; i++) {
		int has = tls_cpu_has(ghash_paths[i].need);

		if (ghash_paths[i].ours && has != (ghash_paths[i].get() != NULL))
			fail_msg("CPU %s: %s %s", tls_cpu_names(tls_cpu_features(), names, sizeof(names)),
				 ghash_paths[i].name,
				 has ? "not handed out" : "handed out without its features");
		if (want_gh == NULL && has && ghash_paths[i].get() != NULL)
			want_gh = ghash_paths[i].name;
	}
	tls_crypto_pick(TLS_CRYPTO_AUTO, &im);
	if (strcmp(im.ctr_name, want_ctr) != 0 || strcmp(im.ghash_name, want_gh) != 0)
		fail_msg("CPU %s: the engine gets AES-CTR %s and GHASH %s, not %s and %s",
			 tls_cpu_names(tls_cpu_features(), names, sizeof(names)), im.ctr_name, im.ghash_name,
			 want_ctr, want_gh);
	/* BearSSL's mode: BearSSL's own choice, whatever tls_cpu shows */
	tls_crypto_pick(TLS_CRYPTO_BEARSSL, &im);
	assert_ptr_equal(im.ctr, br_aes_x86ni_ctr_get_vtable() ? br_aes_x86ni_ctr_get_vtable()
							       : &br_aes_ct64_ctr_vtable);
	assert_ptr_equal(im.ghash, br_ghash_pclmul_get() ? br_ghash_pclmul_get() : br_ghash_ctmul64);
}

static void
test_choice_this_cpu(void **state)
{
	struct tls_crypto_impl im;
	char names[100];

	(void)state;
	check_choice();
	tls_crypto_pick(TLS_CRYPTO_AUTO, &im);
	print_message("  CPU %s: AES-CTR %s, GHASH %s\n",
		      tls_cpu_names(tls_cpu_features(), names, sizeof(names)), im.ctr_name, im.ghash_name);
}

static unsigned env_hidden; /* TEST_CPU_HIDE */

/* The same for every CPU that has a subset of this one's features. */
static void
test_choice_smaller_cpus(void **state)
{
	unsigned hide;

	(void)state;
	for (hide = 0; hide <= TLS_CPU_ALL; hide++) {
		tls_cpu_hide(env_hidden | hide);
		check_choice();
	}
	tls_cpu_hide(env_hidden);
}

/* ---- main --------------------------------------------------------------- */

/* TEST_CPU_HIDE: feature names (tls_cpu_names spelling) to treat as absent. */
static unsigned
hidden_from_env(void)
{
	const char *env = getenv("TEST_CPU_HIDE");
	unsigned bit, hide = 0;
	char one[32];

	if (env == NULL)
		return 0;
	for (bit = 1; bit <= TLS_CPU_ALL; bit <<= 1) {
		tls_cpu_names(bit, one, sizeof(one));
		if (strstr(env, one) != NULL)
			hide |= bit;
	}
	return hide;
}

int
main(void)
{
	static const enum tls_crypto_mode modes[] = { TLS_CRYPTO_AUTO, TLS_CRYPTO_BEARSSL };
	static struct gcm_case gcm[N_CTR * N_GHASH];
	static char ctr_names[N_CTR][64];
	struct CMUnitTest tests[N_CTR + N_CTR * N_GHASH + 4];
	size_t i, j, n = 0;

	env_hidden = hidden_from_env();
	tls_cpu_hide(env_hidden);
	for (i = 0; i < N_CTR; i++) {
		snprintf(ctr_names[i], sizeof(ctr_names[i]), "ctr_kat[%s]", ctr_paths[i].name);
		tests[n++] = (struct CMUnitTest){ ctr_names[i], test_ctr_kat, NULL, NULL,
						  (void *)(uintptr_t)&ctr_paths[i] };
	}
	for (i = 0; i < N_CTR; i++)
		for (j = 0; j < N_GHASH; j++) {
			struct gcm_case *gc = &gcm[i * N_GHASH + j];

			gc->ctr = &ctr_paths[i];
			gc->gh = &ghash_paths[j];
			snprintf(gc->name, sizeof(gc->name), "gcm_kat[%s + %s]", ctr_paths[i].name,
				 ghash_paths[j].name);
			tests[n++] = (struct CMUnitTest){ gc->name, test_gcm_kat, NULL, NULL, gc };
		}
	tests[n++] = (struct CMUnitTest){ "gcm_kat[engine, auto]", test_gcm_kat_engine, NULL, NULL,
					  (void *)(uintptr_t)&modes[0] };
	tests[n++] = (struct CMUnitTest){ "gcm_kat[engine, bearssl]", test_gcm_kat_engine, NULL, NULL,
					  (void *)(uintptr_t)&modes[1] };
	tests[n++] = (struct CMUnitTest){ "choice[this CPU]", test_choice_this_cpu, NULL, NULL, NULL };
	tests[n++] = (struct CMUnitTest){ "choice[every smaller CPU]", test_choice_smaller_cpus, NULL, NULL,
					  NULL };
	return _cmocka_run_group_tests("test_tls_gcm", tests, n, NULL, NULL);
}
