/*
 * tls_aesctr.h: AES-CTR with wide VAES for BearSSL's AES-GCM record layer
 * (private to tls.c, which plugs it into the engine).
 *
 * BearSSL 0.6 runs AES-NI on four blocks at a time; with VAES one
 * instruction takes four blocks (AVX-512) or two (AVX2), and sixteen are
 * in flight, which moves a 16 KiB record 3.5 times as fast with AVX-512
 * (bench/bench_gcm.c).
 * The class has BearSSL's br_block_ctr_class contract (keys of 16, 24 or 32 bytes; a
 * 12-byte IV and a 32-bit big-endian block counter; in place; a partial
 * last block drops the rest of its key stream) and its context fits
 * br_aes_gen_ctr_keys, so it is plugged in with
 * br_ssl_engine_set_aes_ctr(). The key schedule is computed with
 * AESKEYGENASSIST; like all AES-NI code it has no table lookups.
 */
#ifndef HT_TLS_AESCTR_H
#define HT_TLS_AESCTR_H

#include <bearssl.h>

/* Ours, the widest this CPU runs, or NULL when it lacks AES-NI, AVX2 or VAES. */
const br_block_ctr_class *tls_aesctr_vaes_get(void);

/*
 * One width, for tests and benches: 512-bit (NULL without AVX-512F/BW) or
 * 256-bit (AVX2 and VAES: AMD Zen 3, Intel client cores; NULL without).
 */
const br_block_ctr_class *tls_aesctr_vaes512_get(void);
const br_block_ctr_class *tls_aesctr_vaes256_get(void);

/*
 * A short name of an AES-CTR class, ours or BearSSL's: "512-bit VAES",
 * "256-bit VAES", "BearSSL x86ni", "BearSSL pwr8", "BearSSL ct64",
 * "BearSSL ct", "BearSSL big", "BearSSL small"; "other" for any other.
 */
const char *tls_aesctr_name(const br_block_ctr_class *vt);

#endif
