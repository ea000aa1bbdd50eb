/*
 * tls_cpu.h: which x86 instruction-set extensions this CPU and OS can run
 * (private to TLS: tls_aesctr.c and tls_ghash.c choose their code with it).
 *
 * Read once with CPUID and XGETBV (the compilers' __builtin_cpu_supports
 * differ in the names they know). A 512-bit feature counts only when the
 * OS saves the ZMM and mask registers (XCR0), an AVX one only when it
 * saves the YMM state. On other architectures every flag is clear.
 *
 * Tests see what a smaller CPU would run with tls_cpu_hide(): it can only
 * take features away, so no caller is ever told of one the CPU lacks.
 */
#ifndef HT_TLS_CPU_H
#define HT_TLS_CPU_H

#include <stddef.h>

enum {
	TLS_CPU_SSSE3 = 1u << 0,
	TLS_CPU_PCLMUL = 1u << 1, /* PCLMULQDQ */
	TLS_CPU_AESNI = 1u << 2,
	TLS_CPU_AVX2 = 1u << 3,
	TLS_CPU_AVX512 = 1u << 4,  /* AVX-512 F and BW, with the OS saving ZMM state */
	TLS_CPU_VPCLMUL = 1u << 5, /* VPCLMULQDQ (wide carry-less multiply) */
	TLS_CPU_VAES = 1u << 6,    /* VAES (wide AES rounds) */
	TLS_CPU_ALL = (1u << 7) - 1,
};

/* The CPU_* flags this machine supports (computed on the first call). */
unsigned tls_cpu_features(void);

/* 1 when every flag in `want` is supported. */
int tls_cpu_has(unsigned want);

/*
 * From now on, treat the features in `hide` (TLS_CPU_* flags) as absent;
 * tls_cpu_hide(0) shows them again. For tests: the implementation getters
 * and the engine set-up then choose as they would on a CPU without them.
 * Never makes a feature appear that the CPU lacks.
 */
void tls_cpu_hide(unsigned hide);

/*
 * The names of the flags in `flags`, space-separated, in flag order
 * ("AES-NI AVX-512 VAES"), into buf (cap bytes, cut to fit, always
 * terminated); "" for none. Returns buf.
 */
const char *tls_cpu_names(unsigned flags, char *buf, size_t cap);

#endif
