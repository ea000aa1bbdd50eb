/*
 * tls_crypto.c: versions, cipher suites and AES-GCM implementations of a
 * TLS engine, and the process-wide mode (see tls_crypto.h and tls.h).
 *
 * BearSSL's br_ssl_*_init_full() offers its whole list (static RSA, CBC,
 * 3DES among them) and picks its AES-GCM parts with
 * br_ssl_engine_set_default_aes_gcm(); tls_crypto_setup() replaces both
 * right after it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tls_aesctr.h"
#include "tls_cpu.h"
#include "tls_crypto.h"
#include "tls_ghash.h"
#include "util.h"

static enum tls_crypto_mode tls_crypto_current = TLS_CRYPTO_AUTO;

/* see tls.h */
int
tls_crypto_parse(const char *value, enum tls_crypto_mode *mode)
{
	if (value == NULL || *value == '\0' || util_strcaseeq(value, strlen(value), "auto"))
		*mode = TLS_CRYPTO_AUTO;
	else if (util_strcaseeq(value, strlen(value), "bearssl"))
		*mode = TLS_CRYPTO_BEARSSL;
	else
		return -EINVAL;
	return 0;
}

/* see tls.h */
void
tls_crypto_set_mode(enum tls_crypto_mode mode)
{
	tls_crypto_current = mode;
}

/* see tls.h */
enum tls_crypto_mode
tls_crypto_mode(void)
{
	return tls_crypto_current;
}

/* ---- AES-CTR and GHASH -------------------------------------------------- */

#if UINTPTR_MAX > 0xffffffffu
#define CT_CTR (&br_aes_ct64_ctr_vtable)
#define CT_GHASH (&br_ghash_ctmul64)
#else
#define CT_CTR (&br_aes_ct_ctr_vtable)
#define CT_GHASH (&br_ghash_ctmul)
#endif

#if defined(__x86_64__) || defined(__i386__)
#define TLS_CRYPTO_X86 1
#else
#define TLS_CRYPTO_X86 0
#endif

/* BearSSL's own AES-CTR choice, as br_ssl_engine_set_default_aes_gcm() makes it. */
static const br_block_ctr_class *
bearssl_ctr(void)
{
	const br_block_ctr_class *vt = br_aes_x86ni_ctr_get_vtable();

	if (vt == NULL)
		vt = br_aes_pwr8_ctr_get_vtable();
	return vt != NULL ? vt : CT_CTR;
}

/* BearSSL's own GHASH choice, likewise. */
static br_ghash
bearssl_ghash(void)
{
	br_ghash g = br_ghash_pclmul_get();

	if (g == NULL)
		g = br_ghash_pwr8_get();
	return g != NULL ? g : CT_GHASH;
}

/*
 * Ours, else BearSSL's. On x86 BearSSL's hardware code is taken only when
 * tls_cpu has its feature too, so that a hidden feature (tls_cpu_hide)
 * gives what a CPU without it gets.
 */
static const br_block_ctr_class *
auto_ctr(void)
{
	const br_block_ctr_class *vt = tls_aesctr_vaes_get();

	if (vt != NULL)
		return vt;
	if (TLS_CRYPTO_X86 && !tls_cpu_has(TLS_CPU_AESNI))
		return CT_CTR;
	return bearssl_ctr();
}

static br_ghash
auto_ghash(void)
{
	br_ghash g = tls_ghash_best_get();

	if (g != NULL)
		return g;
	if (TLS_CRYPTO_X86 && !tls_cpu_has(TLS_CPU_PCLMUL))
		return CT_GHASH;
	return bearssl_ghash();
}

/* see tls_crypto.h */
void
tls_crypto_pick(enum tls_crypto_mode mode, struct tls_crypto_impl *im)
{
	if (mode == TLS_CRYPTO_BEARSSL) {
		im->ctr = bearssl_ctr();
		im->ghash = bearssl_ghash();
	} else {
		im->ctr = auto_ctr();
		im->ghash = auto_ghash();
	}
	im->ctr_name = tls_aesctr_name(im->ctr);
	im->ghash_name = tls_ghash_name(im->ghash);
}

/* ---- suites ------------------------------------------------------------- */

/* ECDHE and AEAD only; a server skips the ones its key type cannot serve. */
static const uint16_t suites_aes_first[TLS_CRYPTO_SUITES_MAX] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

static const uint16_t suites_chacha_first[TLS_CRYPTO_SUITES_MAX] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

/* see tls_crypto.h */
int
tls_crypto_aes_first(void)
{
	return tls_cpu_has(TLS_CPU_AESNI | TLS_CPU_PCLMUL);
}

/* see tls_crypto.h */
size_t
tls_crypto_suites(uint16_t *out)
{
	memcpy(out, tls_crypto_aes_first() ? suites_aes_first : suites_chacha_first,
	       sizeof(suites_aes_first));
	return TLS_CRYPTO_SUITES_MAX;
}

/* see tls_crypto.h */
void
tls_crypto_setup(br_ssl_engine_context *eng, int server)
{
	struct tls_crypto_impl im;
	uint16_t suites[TLS_CRYPTO_SUITES_MAX];

	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	/* no handshake signature with SHA-1 or SHA-224; MD5 and SHA-1 are otherwise TLS 1.0/1.1's */
	br_ssl_engine_set_hash(eng, br_md5_ID, NULL);
	br_ssl_engine_set_hash(eng, br_sha1_ID, NULL);
	br_ssl_engine_set_hash(eng, br_sha224_ID, NULL);
	br_ssl_engine_set_suites(eng, suites, tls_crypto_suites(suites));
	if (server)
		br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
	tls_crypto_pick(tls_crypto_current, &im);
	br_ssl_engine_set_aes_ctr(eng, im.ctr);
	br_ssl_engine_set_ghash(eng, im.ghash);
}

/* see tls.h */
const char *
tls_crypto_describe(char *buf, size_t cap)
{
	struct tls_crypto_impl im;

	tls_crypto_pick(tls_crypto_current, &im);
	snprintf(buf, cap, "ECDHE with %s; AES-GCM with AES-CTR %s, GHASH %s%s",
		 tls_crypto_aes_first() ? "AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305"
					: "ChaCha20-Poly1305, AES-128-GCM, AES-256-GCM",
		 im.ctr_name, im.ghash_name,
		 tls_crypto_current == TLS_CRYPTO_BEARSSL ? " (" TLS_CRYPTO_ENV "=bearssl)" : "");
	return buf;
}
