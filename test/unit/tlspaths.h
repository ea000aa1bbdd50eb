/*
 * tlspaths.h: the AES-CTR and GHASH paths the TLS engine may run, for the
 * tests that run each of them (test_tls_gcm.c, test_tls_diff.c).
 *
 * Ours (tls_aesctr.c, tls_ghash.c) and BearSSL's, each with the CPU
 * features it needs (as tls_cpu sees them). The rule of every such test:
 * a path this CPU cannot run is SKIPPED, with a line "skipped: this CPU
 * lacks FEATURE ..." (test/run-unit.sh shows it); a path of ours the CPU
 * can run but whose getter does not hand it out FAILS. Include after
 * cmocka.h.
 */
#ifndef HT_TEST_TLSPATHS_H
#define HT_TEST_TLSPATHS_H

#include <stdint.h>

#include "tls_aesctr.h"
#include "tls_cpu.h"
#include "tls_ghash.h"
#include "util.h"

struct ctr_path {
	const char *name; /* tls_aesctr_name() of what get() returns */
	unsigned need;    /* TLS_CPU_* features it runs on */
	const br_block_ctr_class *(*get)(void);
	int ours; /* 1: NULL from get() on a CPU with `need` is a failure */
};

struct ghash_path {
	const char *name; /* tls_ghash_name() of what get() returns */
	unsigned need;
	br_ghash (*get)(void);
	int ours;
};

static inline const br_block_ctr_class *
tlspaths_ct64(void)
{
	return &br_aes_ct64_ctr_vtable;
}

static inline br_ghash
tlspaths_ctmul64(void)
{
	return br_ghash_ctmul64;
}

__attribute__((unused)) static const struct ctr_path ctr_paths[] = {
	{ "512-bit VAES", TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VAES,
	  tls_aesctr_vaes512_get, 1 },
	{ "256-bit VAES", TLS_CPU_AESNI | TLS_CPU_AVX2 | TLS_CPU_VAES, tls_aesctr_vaes256_get, 1 },
	{ "BearSSL x86ni", TLS_CPU_AESNI, br_aes_x86ni_ctr_get_vtable, 0 },
	{ "BearSSL ct64", 0, tlspaths_ct64, 0 },
};

__attribute__((unused)) static const struct ghash_path ghash_paths[] = {
	{ "512-bit VPCLMULQDQ",
	  TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_AVX512 | TLS_CPU_VPCLMUL,
	  tls_ghash_vpclmul_get, 1 },
	{ "256-bit VPCLMULQDQ", TLS_CPU_PCLMUL | TLS_CPU_SSSE3 | TLS_CPU_AVX2 | TLS_CPU_VPCLMUL,
	  tls_ghash_vpclmul256_get, 1 },
	{ "PCLMULQDQ", TLS_CPU_PCLMUL | TLS_CPU_SSSE3, tls_ghash_pclmul_get, 1 },
	{ "BearSSL pclmul", TLS_CPU_PCLMUL, br_ghash_pclmul_get, 0 },
	{ "BearSSL ctmul64", 0, tlspaths_ctmul64, 0 },
};

#define N_CTR UTIL_ARRAY_SIZE(ctr_paths)
#define N_GHASH UTIL_ARRAY_SIZE(ghash_paths)

/* Skip (saying which features are missing) when this CPU cannot run a path needing `need`. */
static inline void
need_or_skip(unsigned need)
{
	unsigned missing = need & ~tls_cpu_features();
	char names[100];

	if (missing == 0)
		return;
	print_message("skipped: this CPU lacks %s\n", tls_cpu_names(missing, names, sizeof(names)));
	skip();
}

/* A path the CPU runs: ours must be handed out, BearSSL's may decline (skipped, said why). */
static inline void
check_handed_out(const char *name, const void *got, int ours, unsigned need, const char *got_name)
{
	char names[100];

	if (got == NULL && ours)
		fail_msg("this CPU has %s but %s was not selected", tls_cpu_names(need, names, sizeof(names)),
			 name);
	if (got == NULL) {
		print_message("skipped: BearSSL does not offer %s on this CPU\n", name);
		skip();
	}
	assert_string_equal(got_name, name);
}

static inline const br_block_ctr_class *
ctr_or_skip(const struct ctr_path *p)
{
	const br_block_ctr_class *vt;

	need_or_skip(p->need);
	vt = p->get();
	check_handed_out(p->name, vt, p->ours, p->need, vt ? tls_aesctr_name(vt) : NULL);
	return vt;
}

static inline br_ghash
ghash_or_skip(const struct ghash_path *p)
{
	br_ghash g;

	need_or_skip(p->need);
	g = p->get();
	check_handed_out(p->name, (const void *)(uintptr_t)g, p->ours, p->need, g ? tls_ghash_name(g) : NULL);
	return g;
}

#endif
