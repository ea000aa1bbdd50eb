/*
 * bench_gcm.c: AES-GCM over one 16 KiB TLS record, ours against BearSSL's.
 *
 *   ghash   BearSSL's best GHASH (PCLMUL, else ctmul64) against ours:
 *           16 blocks per reduction, and 32 with 512- or 256-bit VPCLMULQDQ
 *   ctr     BearSSL's AES-NI CTR (4 blocks in flight) against ours (16,
 *           with 512- or 256-bit VAES)
 *   gcm     AES-128-GCM seal (br_gcm_run + tag) with BearSSL's pair, with
 *           what a CPU without VAES/VPCLMULQDQ gets, and with what tls.c
 *           plugs into the engine here (tls_crypto_pick)
 *
 * Prints GB/s and the ratio to BearSSL's; a row says "n/a" when this CPU
 * lacks the instructions. Each figure runs for about 0.3 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "bench.h"
#include "tls_aesctr.h"
#include "tls_crypto.h"
#include "tls_ghash.h"

#define RUN_SECONDS 0.3
#define RECORD 16384

static unsigned char rec[RECORD];

static br_ghash
bearssl_ghash(void)
{
	br_ghash g = br_ghash_pclmul_get();

	return g != NULL ? g : &br_ghash_ctmul64;
}

static double
ghash_rate(br_ghash g)
{
	unsigned char y[16] = { 0 }, h[16] = { 1, 2, 3 };
	size_t bytes = 0;
	double t0 = bench_now();
	int i;

	while (bench_now() - t0 < RUN_SECONDS)
		for (i = 0; i < 64; i++, bytes += RECORD)
			g(y, h, rec, RECORD);
	return (double)bytes / (bench_now() - t0) / 1e9;
}

static double
ctr_rate(const br_block_ctr_class *vt)
{
	static const unsigned char key[16] = { 9 }, iv[12] = { 7 };
	br_aes_gen_ctr_keys ctx;
	size_t bytes = 0;
	double t0 = bench_now();
	uint32_t cc = 1;
	int i;

	vt->init(&ctx.vtable, key, sizeof(key));
	while (bench_now() - t0 < RUN_SECONDS)
		for (i = 0; i < 64; i++, bytes += RECORD)
			cc = vt->run(&ctx.vtable, iv, cc, rec, RECORD);
	return (double)bytes / (bench_now() - t0) / 1e9;
}

/* One TLS record's worth of sealing: 13 bytes of AAD, 16 KiB, the tag. */
static double
gcm_rate(const br_block_ctr_class *vt, br_ghash g)
{
	static const unsigned char key[16] = { 5 }, iv[12] = { 3 }, aad[13] = { 1 };
	br_aes_gen_ctr_keys ctx;
	unsigned char tag[16];
	br_gcm_context gc;
	size_t bytes = 0;
	double t0 = bench_now();
	int i;

	vt->init(&ctx.vtable, key, sizeof(key));
	br_gcm_init(&gc, &ctx.vtable, g);
	while (bench_now() - t0 < RUN_SECONDS) {
		for (i = 0; i < 64; i++, bytes += RECORD) {
			br_gcm_reset(&gc, iv, sizeof(iv));
			br_gcm_aad_inject(&gc, aad, sizeof(aad));
			br_gcm_flip(&gc);
			br_gcm_run(&gc, 1, rec, RECORD);
			br_gcm_get_tag(&gc, tag);
		}
	}
	return (double)bytes / (bench_now() - t0) / 1e9;
}

static void
row(const char *what, const char *impl, double rate, double base)
{
	if (rate <= 0)
		printf("  %-6s %-34s %8s\n", what, impl, "n/a");
	else
		printf("  %-6s %-34s %6.2f GB/s  %5.2fx\n", what, impl, rate, rate / base);
}

int
main(void)
{
	const br_block_ctr_class *bctr = br_aes_x86ni_ctr_get_vtable();
	const br_block_ctr_class *c512 = tls_aesctr_vaes512_get(), *c256 = tls_aesctr_vaes256_get();
	br_ghash g16 = tls_ghash_pclmul_get(), g32 = tls_ghash_vpclmul_get(),
		 g32y = tls_ghash_vpclmul256_get();
	struct tls_crypto_impl im;
	double base;

	tls_crypto_pick(TLS_CRYPTO_AUTO, &im);
	if (bctr == NULL)
		bctr = &br_aes_ct64_ctr_vtable;
	memset(rec, 0xA5, sizeof(rec));
	printf("AES-GCM on %d-byte records (ratios against BearSSL's own)\n", RECORD);
	base = ghash_rate(bearssl_ghash());
	row("ghash", "BearSSL", base, base);
	row("ghash", "ours, 16 blocks (PCLMULQDQ)", g16 ? ghash_rate(g16) : 0, base);
	row("ghash", "ours, 32 blocks (VPCLMULQDQ-512)", g32 ? ghash_rate(g32) : 0, base);
	row("ghash", "ours, 32 blocks (VPCLMULQDQ-256)", g32y ? ghash_rate(g32y) : 0, base);
	base = ctr_rate(bctr);
	row("ctr", "BearSSL", base, base);
	row("ctr", "ours (VAES-512)", c512 ? ctr_rate(c512) : 0, base);
	row("ctr", "ours (VAES-256)", c256 ? ctr_rate(c256) : 0, base);
	base = gcm_rate(bctr, bearssl_ghash());
	row("gcm", "BearSSL", base, base);
	if (g16 != NULL)
		row("gcm", "BearSSL CTR + our PCLMULQDQ GHASH", gcm_rate(bctr, g16), base);
	row("gcm", "as tls.c sets the engine up", gcm_rate(im.ctr, im.ghash), base);
	return 0;
}
