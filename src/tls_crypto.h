/*
 * tls_crypto.h: the cryptography a TLS engine is set up with (private to
 * tls.c; tests and benches look in too).
 *
 * One place decides, for client and server alike:
 *   - the protocol: TLS 1.2 only (BearSSL 0.6 has no 1.3), no
 *     renegotiation, handshake signatures with SHA-256, -384 or -512 only
 *     (the engine has no MD5, SHA-1 or SHA-224: TLS 1.2 needs them for
 *     nothing else; certificate chains are checked with the X.509
 *     engine's own hashes);
 *   - the cipher suites: ECDHE key exchange (ECDSA or RSA certificates)
 *     with an AEAD cipher, AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305,
 *     and nothing else (no static RSA or ECDH, no CBC, no 3DES), whatever
 *     the CPU. AES-GCM goes first on a CPU with AES acceleration (AES-NI
 *     and PCLMULQDQ), ChaCha20-Poly1305 first on one without (where
 *     BearSSL's constant-time software AES is the slower). A server
 *     enforces its order;
 *   - the AES-CTR and GHASH its AES-GCM records run with: with
 *     TLS_CRYPTO_AUTO ours where the CPU runs them (tls_aesctr.c,
 *     tls_ghash.c), else BearSSL's, chosen as BearSSL would on this CPU;
 *     with TLS_CRYPTO_BEARSSL always BearSSL's own choice (x86ni or ct64,
 *     pclmul or ctmul64), the switch of HOODY_TUNNEL_CRYPTO=bearssl.
 * The mode is the process-wide one of tls_crypto_set_mode() (tls.h); the
 * CPU view is tls_cpu's, so tls_cpu_hide() shows what a smaller CPU gets.
 */
#ifndef HT_TLS_CRYPTO_H
#define HT_TLS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "tls.h"

/* The most suites tls_crypto_suites() lists. */
#define TLS_CRYPTO_SUITES_MAX 6

/* What an engine's AES-GCM records run with. */
struct tls_crypto_impl {
	const br_block_ctr_class *ctr; /* AES-CTR (never NULL) */
	br_ghash ghash;                /* GHASH (never NULL) */
	const char *ctr_name;          /* "512-bit VAES", "BearSSL x86ni", ... (tls_aesctr_name) */
	const char *ghash_name;        /* "512-bit VPCLMULQDQ", "BearSSL pclmul", ... (tls_ghash_name) */
};

/* The implementations for `mode` on this CPU (as tls_cpu sees it). */
void tls_crypto_pick(enum tls_crypto_mode mode, struct tls_crypto_impl *im);

/* 1 when this CPU has AES acceleration (AES-NI and PCLMULQDQ): AES-GCM goes first. */
int tls_crypto_aes_first(void);

/*
 * The cipher suites (BR_TLS_* values) offered by a client and accepted by a
 * server, most preferred first, into out (room for TLS_CRYPTO_SUITES_MAX).
 * Returns how many.
 */
size_t tls_crypto_suites(uint16_t *out);

/*
 * Set up an engine just initialised by br_ssl_client_init_full() or
 * br_ssl_server_init_full_*(): versions, renegotiation refused, the
 * signature hashes, the suites (server: its order enforced), and the
 * AES-CTR and GHASH of the current mode.
 */
void tls_crypto_setup(br_ssl_engine_context *eng, int server);

#endif
