/*
 * aesctr.h: AES-CTR with 512-bit VAES for BearSSL's AES-GCM record layer.
 *
 * BearSSL 0.6 runs AES-NI on four blocks at a time; with VAES and
 * AVX-512 one instruction takes four blocks, and sixteen are in flight,
 * which moves a 16 KiB record 3.5 times as fast (bench/bench_gcm.c).
 * The class has BearSSL's br_block_ctr_class contract (keys of 16, 24 or 32 bytes; a
 * 12-byte IV and a 32-bit big-endian block counter; in place; a partial
 * last block drops the rest of its key stream) and its context fits
 * br_aes_gen_ctr_keys, so it is plugged in with
 * br_ssl_engine_set_aes_ctr(). The key schedule is computed with
 * AESKEYGENASSIST; like all AES-NI code it has no table lookups.
 */
#ifndef HT_AESCTR_H
#define HT_AESCTR_H

#include <bearssl.h>

/* Ours, or NULL when the CPU lacks AES-NI, VAES or AVX-512F/BW. */
const br_block_ctr_class *aesctr_vaes_get(void);

#endif
