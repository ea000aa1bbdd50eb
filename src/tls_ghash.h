/*
 * tls_ghash.h: a faster GHASH for BearSSL's AES-GCM record layer (private
 * to tls.c, which plugs it into the engine).
 *
 * GHASH is two thirds of AES-GCM's cost in BearSSL 0.6: its PCLMUL
 * version reduces every four blocks. Ours folds 16 blocks (PCLMULQDQ; 8
 * on inputs under 512 bytes) or 32 blocks (512-bit VPCLMULQDQ, four
 * blocks per instruction) per reduction with precomputed powers of H: a
 * 16 KiB record is hashed 1.2-1.8 times (PCLMULQDQ) to 5 times (512-bit)
 * as fast (bench/bench_gcm.c); 256-bit VPCLMULQDQ folds the same 32
 * blocks two per instruction. It is plugged in with
 * br_ssl_engine_set_ghash(); the function has BearSSL's br_ghash contract:
 * y (16 bytes) updated in place, h the 16-byte key, data zero-padded to a
 * multiple of 16 bytes.
 *
 * Carry-less multiplication has no data-dependent timing, so this is as
 * constant-time as BearSSL's own PCLMUL code. On CPUs without PCLMULQDQ
 * and SSSE3 (or not x86) there is none of ours: tls_crypto.c then gives
 * the engine BearSSL's.
 */
#ifndef HT_TLS_GHASH_H
#define HT_TLS_GHASH_H

#include <bearssl.h>

/*
 * The kept powers of key h (16 bytes) are wiped, if there are any, on the
 * calling thread: a connection calls it for its GHASH keys when it ends,
 * so that no key material outlives it. Keys are compared in constant time.
 */
void tls_ghash_forget(const void *h);

/* Every kept power of the calling thread is wiped (no connection is left to use them). */
void tls_ghash_forget_all(void);

/* 1 when powers of key h are kept on the calling thread (tests). */
int tls_ghash_kept(const void *h);

/* Ours, the widest this CPU runs (512-bit, 256-bit VPCLMULQDQ, PCLMULQDQ), or NULL. */
br_ghash tls_ghash_best_get(void);

/*
 * Ours only, for tests and benches: PCLMULQDQ (NULL without PCLMULQDQ
 * and SSSE3), or 512-bit VPCLMULQDQ (NULL without AVX-512F/BW and
 * VPCLMULQDQ). For inputs of 512 bytes and more all three use the powers
 * of the last four keys, kept per thread (key material, like the
 * engine's own context: see tls_ghash_forget); the wide ones hand
 * shorter inputs to the narrow one, which computes the few powers it
 * needs per call and wipes them after.
 */
br_ghash tls_ghash_pclmul_get(void);
br_ghash tls_ghash_vpclmul_get(void);

/* 256-bit VPCLMULQDQ (AVX2, no AVX-512 needed: AMD Zen 3, Intel client cores), or NULL. */
br_ghash tls_ghash_vpclmul256_get(void);

/*
 * A short name of a GHASH function, ours or BearSSL's: "512-bit
 * VPCLMULQDQ", "256-bit VPCLMULQDQ", "PCLMULQDQ", "BearSSL pclmul",
 * "BearSSL pwr8", "BearSSL ctmul64", "BearSSL ctmul", "BearSSL ctmul32";
 * "other" for any other.
 */
const char *tls_ghash_name(br_ghash g);

#endif
