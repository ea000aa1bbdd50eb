/*
 * test_tls_diff.c: our AES-CTR and GHASH against BearSSL's own, on random
 * cases from a seeded generator; also as `make crypto-check`, longer.
 *
 * Routines, each run once per path of ours this CPU runs (tlspaths.h:
 * skipped, naming the missing features, where it cannot):
 *   ctr     our AES-CTR against BearSSL's x86ni (when the CPU has AES-NI)
 *           and its constant-time ct64 (on every case up to 2 KiB, all of
 *           them without AES-NI): keys of 16, 24 and 32 bytes, lengths 0 to
 *           70,000 (mostly short), data at offsets 0-63, counters near 0,
 *           near 0xffffffff (wrapping inside the run) and anywhere; the
 *           output must agree, and the returned counter where the
 *           contract defines it (BearSSL's own implementations return
 *           different ones after a partial last block);
 *   ghash   our GHASH against BearSSL's pclmul and ctmul64 likewise: random
 *           and special keys (0, 1, all ones), keys coming back (the kept
 *           powers, more keys than are kept), any y, lengths 0 to 70,000 at
 *           offsets 0-63, sometimes in two block-aligned calls;
 *   gcm     AES-GCM (br_gcm) with each pair of our AES-CTR and GHASH
 *           against BearSSL's pair: any key size, 12-byte and other IVs
 *           (1-64 bytes), AAD and data in up to three pieces; cipher text
 *           and tag must agree, our decryption must give the plain text
 *           back and accept the tag, and refuse it with one bit changed;
 *   record  TLS 1.2 AES-GCM records (br_sslrec_out_gcm/in_gcm, as the
 *           engine makes them) with each pair of ours against BearSSL's:
 *           AES-128 and AES-256, one to four records in sequence of 0 to
 *           16,384 bytes; the records must be byte for byte the same (also
 *           as BearSSL's constant-time pair makes them, while a case's
 *           records are short), and our decryption must give the plain
 *           text back, and refuse a record with one byte changed.
 *
 * CRYPTO_CHECK_CASES=N runs N cases per routine and path (default 3,000:
 * quick enough for the unit suite, sanitizers included);
 * CRYPTO_CHECK_SEED=0x... repeats a run (default: a fixed seed, or a
 * fresh one from the OS when CRYPTO_CHECK_CASES is set). Each routine and
 * path draws from its own stream of that seed, so a case repeats whatever
 * else runs (CRYPTO_CHECK_FILTER, a cmocka glob such as 'gcm*', picks
 * routines). Every line
 * says what ran: cases, megabytes and seconds; a mismatch fails with the
 * seed, the case number and its parameters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tls_crypto.h"
#include "tlspaths.h"

#define DEFAULT_CASES 3000ul
#define DEFAULT_SEED 0x5eed0f7e57c0ffeeull
#define MAX_LEN 70000u
#define SHORT_LEN 2048u /* cases up to this long also go through BearSSL's constant-time code */
#define POOL_SIZE (1u << 20)
#define RECORD_MAX 16384u

static uint64_t seed;
static unsigned long cases = DEFAULT_CASES;
static unsigned char pool[POOL_SIZE]; /* random bytes, taken at random offsets as input */
static unsigned char ba[MAX_LEN + 256], bb[MAX_LEN + 256], bc[MAX_LEN + 256];

/* ---- the generator ------------------------------------------------------ */

static uint64_t rng;

/* splitmix64: a good stream from any state, the seed's streams apart from each other */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t
below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

static void
rnd_bytes(void *p, size_t n)
{
	unsigned char *b = p;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 8 == 0)
			v = rnd();
		b[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

/* Start the stream of one routine and path: the seed and their name. */
static void
stream(const char *routine, const char *path)
{
	const char *s;

	rng = seed;
	for (s = routine; *s != '\0'; s++)
		rng = (rng ^ (unsigned char)*s) * 0x100000001b3ull;
	for (s = path; *s != '\0'; s++)
		rng = (rng ^ (unsigned char)*s) * 0x100000001b3ull;
}

/* A length: mostly short, some record-sized, some up to `max`. */
static size_t
pick_len(size_t max)
{
	size_t r = below(100), cap = r < 40 ? 256 : r < 70 ? SHORT_LEN : r < 90 ? 16640 : max;

	return below(UTIL_MIN(cap, max) + 1);
}

/* n bytes of input from the pool, at a random place. */
static const unsigned char *
input(size_t n)
{
	return pool + below(POOL_SIZE - n + 1);
}

/* A counter near 0, near the wrap (inside a run of len bytes), or anywhere. */
static uint32_t
pick_counter(size_t len)
{
	switch (below(3)) {
	case 0: return (uint32_t)below(64);
	case 1: return 0xffffffffu - (uint32_t)below(len / 16 + 64);
	default: return (uint32_t)rnd();
	}
}

/* ---- what a routine reports --------------------------------------------- */

struct tally {
	const char *routine;
	char path[80];
	unsigned long n;
	uint64_t bytes;
	unsigned long portable; /* cases also checked against BearSSL's constant-time code */
	struct timespec t0;
};

static void
tally_start(struct tally *t, const char *routine, const char *path)
{
	memset(t, 0, sizeof(*t));
	t->routine = routine;
	snprintf(t->path, sizeof(t->path), "%s", path);
	stream(routine, path);
	clock_gettime(CLOCK_MONOTONIC, &t->t0);
}

static void
tally_end(const struct tally *t, const char *against)
{
	struct timespec t1;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t->t0.tv_sec) + (double)(t1.tv_nsec - t->t0.tv_nsec) / 1e9;
	print_message("  %-6s %-40s %7lu cases, %7.1f MB, 0 mismatches against %s (%lu also against its "
		      "constant-time code), %.1f s\n",
		      t->routine, t->path, t->n, (double)t->bytes / 1e6, against, t->portable, s);
}

#define MISMATCH(t, fmt, ...)                                                                                \
	fail_msg("%s %s, seed %#" PRIx64 ", case %lu: " fmt, (t)->routine, (t)->path, seed, (t)->n,          \
		 ##__VA_ARGS__)

/* ---- ctr ---------------------------------------------------------------- */

/* One CTR run of src[0..len) at dst with class vt; the returned counter. */
static uint32_t
ctr_once(const br_block_ctr_class *vt, const unsigned char *key, size_t klen, const unsigned char *iv,
	 uint32_t cc, unsigned char *dst, const unsigned char *src, size_t len)
{
	br_aes_gen_ctr_keys kc;

	vt->init(&kc.vtable, key, klen);
	memcpy(dst, src, len);
	return vt->run(&kc.vtable, iv, cc, dst, len);
}

static void
test_ctr(void **state)
{
	const struct ctr_path *p = *state;
	const br_block_ctr_class *ours = ctr_or_skip(p), *hw = br_aes_x86ni_ctr_get_vtable();
	unsigned char key[32], iv[12];
	struct tally t;

	if (!tls_cpu_has(TLS_CPU_AESNI))
		hw = NULL;
	tally_start(&t, "ctr", p->name);
	for (t.n = 0; t.n < cases; t.n++) {
		size_t klen = 16 + 8 * below(3), len = pick_len(MAX_LEN), off = below(64), offr = below(64);
		const unsigned char *src = input(len);
		uint32_t cc = pick_counter(len), ra, rb;

		rnd_bytes(key, klen);
		rnd_bytes(iv, sizeof(iv));
		ra = ctr_once(ours, key, klen, iv, cc, ba + off, src, len);
		if (hw != NULL) {
			rb = ctr_once(hw, key, klen, iv, cc, bb + offr, src, len);
			if ((len % 16 == 0 && ra != rb) || memcmp(ba + off, bb + offr, len) != 0)
				MISMATCH(&t,
					 "x86ni differs: key %zu bytes, counter %#x, length %zu, offset %zu",
					 klen, cc, len, off);
		}
		if (hw == NULL || len <= SHORT_LEN) {
			rb = ctr_once(&br_aes_ct64_ctr_vtable, key, klen, iv, cc, bc + offr, src, len);
			if ((len % 16 == 0 && ra != rb) || memcmp(ba + off, bc + offr, len) != 0)
				MISMATCH(&t,
					 "ct64 differs: key %zu bytes, counter %#x, length %zu, offset %zu",
					 klen, cc, len, off);
			t.portable++;
		}
		t.bytes += len;
	}
	tally_end(&t, hw != NULL ? "BearSSL x86ni" : "BearSSL ct64");
}

/* ---- ghash -------------------------------------------------------------- */

#define RECENT_KEYS 6 /* more than tls_ghash.c keeps (4): entries are replaced and come back */

/* The key of a case: a recent one again, a special one, or a new one. */
static void
pick_key(unsigned char h[16], unsigned char recent[RECENT_KEYS][16], size_t *nrecent)
{
	size_t r = below(100);

	if (r < 45 && *nrecent > 0) {
		memcpy(h, recent[below(UTIL_MIN(*nrecent, (size_t)RECENT_KEYS))], 16);
		return;
	}
	if (r < 50) {
		memset(h, r % 3 == 2 ? 0xff : 0, 16);
		if (r % 3 == 1)
			h[0] = 0x80; /* 1, in GCM's bit order */
		return;
	}
	rnd_bytes(h, 16);
	memcpy(recent[*nrecent % RECENT_KEYS], h, 16);
	(*nrecent)++;
}

static void
test_ghash(void **state)
{
	const struct ghash_path *p = *state;
	br_ghash ours = ghash_or_skip(p), hw = tls_cpu_has(TLS_CPU_PCLMUL) ? br_ghash_pclmul_get() : NULL;
	unsigned char recent[RECENT_KEYS][16], h[16], y0[16], ya[16], yb[16];
	size_t nrecent = 0;
	struct tally t;

	tally_start(&t, "ghash", p->name);
	for (t.n = 0; t.n < cases; t.n++) {
		size_t len = pick_len(MAX_LEN), off = below(64), cut;
		const unsigned char *src = input(len);

		pick_key(h, recent, &nrecent);
		rnd_bytes(y0, 16);
		memcpy(ba + off, src, len);
		memcpy(ya, y0, 16);
		if (below(5) == 0) {
			cut = 16 * below(len / 16 + 1);
			ours(ya, h, ba + off, cut);
			ours(ya, h, ba + off + cut, len - cut);
		} else {
			ours(ya, h, ba + off, len);
		}
		if (hw != NULL) {
			memcpy(yb, y0, 16);
			hw(yb, h, src, len);
			if (memcmp(ya, yb, 16) != 0)
				MISMATCH(&t, "pclmul differs: length %zu, offset %zu", len, off);
		}
		if (hw == NULL || len <= SHORT_LEN) {
			memcpy(yb, y0, 16);
			br_ghash_ctmul64(yb, h, src, len);
			if (memcmp(ya, yb, 16) != 0)
				MISMATCH(&t, "ctmul64 differs: length %zu, offset %zu", len, off);
			t.portable++;
		}
		t.bytes += len;
	}
	tally_end(&t, hw != NULL ? "BearSSL pclmul" : "BearSSL ctmul64");
}

/* ---- gcm ---------------------------------------------------------------- */

/* A pair of ours: a test's state. */
struct pair_case {
	const struct ctr_path *ctr;
	const struct ghash_path *gh;
	char name[80];
};

/* BearSSL's pair: hardware when the CPU has it; its constant-time pair for short cases too. */
static void
bearssl_pair(const br_block_ctr_class **ctr, br_ghash *gh)
{
	*ctr = tls_cpu_has(TLS_CPU_AESNI) ? br_aes_x86ni_ctr_get_vtable() : NULL;
	*gh = tls_cpu_has(TLS_CPU_PCLMUL) ? br_ghash_pclmul_get() : NULL;
	if (*ctr == NULL || *gh == NULL) {
		*ctr = &br_aes_ct64_ctr_vtable;
		*gh = br_ghash_ctmul64;
	}
}

struct gcm_params {
	unsigned char key[32], iv[64], aad[5000], tag[16];
	size_t klen, ivlen, alen, len;
	const unsigned char *src;
};

/*
 * AES-GCM of the case's input at dst with ctr and gh; AAD and data in
 * `pieces` pieces (1..3). encrypt: dst gets the cipher text and tag the
 * tag; decrypt: dst holds the cipher text and the result is whether the
 * tag is accepted (1) or not.
 */
static int
gcm_once(const br_block_ctr_class *ctr, br_ghash gh, struct gcm_params *g, unsigned char *dst, int encrypt,
	 size_t pieces, unsigned char *tag)
{
	size_t a1 = pieces > 1 ? below(g->alen + 1) : g->alen, d1 = pieces > 1 ? below(g->len + 1) : g->len;
	size_t d2 = pieces > 2 ? d1 + below(g->len - d1 + 1) : g->len;
	br_aes_gen_ctr_keys kc;
	br_gcm_context c;

	ctr->init(&kc.vtable, g->key, g->klen);
	br_gcm_init(&c, &kc.vtable, gh);
	br_gcm_reset(&c, g->iv, g->ivlen);
	br_gcm_aad_inject(&c, g->aad, a1);
	br_gcm_aad_inject(&c, g->aad + a1, g->alen - a1);
	br_gcm_flip(&c);
	br_gcm_run(&c, encrypt, dst, d1);
	br_gcm_run(&c, encrypt, dst + d1, d2 - d1);
	br_gcm_run(&c, encrypt, dst + d2, g->len - d2);
	if (encrypt) {
		br_gcm_get_tag(&c, tag);
		return 1;
	}
	return (int)br_gcm_check_tag(&c, tag);
}

static void
gcm_pick(struct gcm_params *g)
{
	g->klen = 16 + 8 * below(3);
	g->ivlen = below(10) < 7 ? 12 : 1 + below(64);
	g->alen = below(10) < 9 ? below(301) : below(sizeof(g->aad) + 1);
	g->len = pick_len(MAX_LEN);
	g->src = input(g->len);
	rnd_bytes(g->key, g->klen);
	rnd_bytes(g->iv, g->ivlen);
	rnd_bytes(g->aad, g->alen);
}

static void
test_gcm(void **state)
{
	const struct pair_case *pc = *state;
	const br_block_ctr_class *ctr, *rctr;
	static struct gcm_params g;
	unsigned char ta[16], tb[16];
	size_t off;
	br_ghash gh, rgh;
	struct tally t;

	need_or_skip(pc->ctr->need | pc->gh->need);
	ctr = ctr_or_skip(pc->ctr);
	gh = ghash_or_skip(pc->gh);
	bearssl_pair(&rctr, &rgh);
	tally_start(&t, "gcm", pc->name);
	for (t.n = 0; t.n < cases; t.n++) {
		gcm_pick(&g);
		off = below(64);
		memcpy(ba + off, g.src, g.len);
		gcm_once(ctr, gh, &g, ba + off, 1, 1 + below(3), ta);
		memcpy(bb, g.src, g.len);
		gcm_once(rctr, rgh, &g, bb, 1, 1, tb);
		if (memcmp(ba + off, bb, g.len) != 0 || memcmp(ta, tb, 16) != 0)
			MISMATCH(&t, "differs from %s's: key %zu, IV %zu, AAD %zu, length %zu bytes",
				 tls_aesctr_name(rctr), g.klen, g.ivlen, g.alen, g.len);
		if (rctr != &br_aes_ct64_ctr_vtable && g.len <= SHORT_LEN) {
			memcpy(bc, g.src, g.len);
			gcm_once(&br_aes_ct64_ctr_vtable, br_ghash_ctmul64, &g, bc, 1, 1, tb);
			if (memcmp(ba + off, bc, g.len) != 0 || memcmp(ta, tb, 16) != 0)
				MISMATCH(&t,
					 "ct64/ctmul64 differ: key %zu, IV %zu, AAD %zu, length %zu bytes",
					 g.klen, g.ivlen, g.alen, g.len);
			t.portable++;
		}
		/* ours decrypts it back and accepts the tag, and refuses it changed */
		if (!gcm_once(ctr, gh, &g, ba + off, 0, 1 + below(3), ta) ||
		    memcmp(ba + off, g.src, g.len) != 0)
			MISMATCH(&t, "decryption fails: key %zu, IV %zu, AAD %zu, length %zu", g.klen,
				 g.ivlen, g.alen, g.len);
		ta[below(16)] ^= (unsigned char)(1u << below(8));
		if (gcm_once(ctr, gh, &g, ba + off, 0, 1, ta))
			MISMATCH(&t, "a changed tag was accepted");
		t.bytes += g.len;
	}
	tally_end(&t, tls_aesctr_name(rctr));
}

/* ---- record ------------------------------------------------------------- */

#define REC_HEAD 13 /* record header and explicit nonce, before the plain text */

/* Encrypt src[0..len) as one record at buf (plain text put at buf + REC_HEAD); the record, its length in
 * *len. */
static unsigned char *
rec_seal(br_sslrec_gcm_context *c, int type, unsigned char *buf, const unsigned char *src, size_t *len)
{
	const br_sslrec_out_class **vt = (const br_sslrec_out_class **)(void *)&c->vtable.out;

	memcpy(buf + REC_HEAD, src, *len);
	return (*vt)->encrypt(vt, type, 0x0303, buf + REC_HEAD, len);
}

/* Decrypt a record (rec[0..len), header included); the plain text, or NULL when refused. */
static unsigned char *
rec_open(br_sslrec_gcm_context *c, int type, unsigned char *rec, size_t *len)
{
	const br_sslrec_in_class **vt = (const br_sslrec_in_class **)(void *)&c->vtable.in;

	*len -= 5;
	return (*vt)->decrypt(vt, type, 0x0303, rec + 5, len);
}

static void
test_record(void **state)
{
	static const int types[] = { 20, 21, 22, 23 };
	const struct pair_case *pc = *state;
	const br_block_ctr_class *ctr, *rctr;
	br_sslrec_gcm_context out, ref, ct, in;
	unsigned char key[32], iv[4], *ra, *rb, *pt;
	size_t klen, nrec, i, la, lb, len;
	br_ghash gh, rgh;
	struct tally t;
	int portable;

	need_or_skip(pc->ctr->need | pc->gh->need);
	ctr = ctr_or_skip(pc->ctr);
	gh = ghash_or_skip(pc->gh);
	bearssl_pair(&rctr, &rgh);
	tally_start(&t, "record", pc->name);
	for (t.n = 0; t.n < cases; t.n++) {
		klen = below(2) ? 16 : 32;
		rnd_bytes(key, klen);
		rnd_bytes(iv, sizeof(iv));
		br_sslrec_out_gcm_vtable.init(&out.vtable.out, ctr, key, klen, gh, iv);
		br_sslrec_out_gcm_vtable.init(&ref.vtable.out, rctr, key, klen, rgh, iv);
		br_sslrec_out_gcm_vtable.init(&ct.vtable.out, &br_aes_ct64_ctr_vtable, key, klen,
					      br_ghash_ctmul64, iv);
		br_sslrec_in_gcm_vtable.init(&in.vtable.in, ctr, key, klen, gh, iv);
		nrec = 1 + below(4);
		portable = rctr != &br_aes_ct64_ctr_vtable;
		for (i = 0; i < nrec; i++) {
			int type = types[below(4)];
			const unsigned char *src;

			len = pick_len(RECORD_MAX);
			src = input(len);
			la = lb = len;
			ra = rec_seal(&out, type, ba, src, &la);
			rb = rec_seal(&ref, type, bb, src, &lb);
			if (la != lb || memcmp(ra, rb, la) != 0)
				MISMATCH(&t, "record %zu of %zu (%zu bytes, key %zu) differs", i + 1, nrec,
					 len, klen);
			/* the constant-time pair too, while the records are short (it is slow) */
			portable = portable && len <= SHORT_LEN;
			if (portable) {
				lb = len;
				rb = rec_seal(&ct, type, bc, src, &lb);
				if (la != lb || memcmp(ra, rb, la) != 0)
					MISMATCH(&t, "ct64/ctmul64 record %zu of %zu (%zu bytes) differs",
						 i + 1, nrec, len);
			}
			t.bytes += len;
			if (i == nrec - 1 && below(2)) {
				/* the last one changed (a failed record ends the sequence) */
				ra[5 + below(la - 5)] ^= (unsigned char)(1u << below(8));
				if (rec_open(&in, type, ra, &la) != NULL)
					MISMATCH(&t, "a changed record (%zu bytes) was accepted", len);
			} else if ((pt = rec_open(&in, type, ra, &la)) == NULL || la != len ||
				   memcmp(pt, src, len) != 0) {
				MISMATCH(&t, "record %zu of %zu (%zu bytes) does not decrypt", i + 1, nrec,
					 len);
			}
		}
		t.portable += (unsigned long)portable;
	}
	tally_end(&t, tls_aesctr_name(rctr));
}

/* ---- main --------------------------------------------------------------- */

static int
parse_env(void)
{
	const char *c = getenv("CRYPTO_CHECK_CASES"), *s = getenv("CRYPTO_CHECK_SEED");
	char *end;

	if (c != NULL) {
		cases = strtoul(c, &end, 0);
		if (*c == '\0' || *end != '\0' || cases == 0) {
			fprintf(stderr, "CRYPTO_CHECK_CASES: not a positive number: '%s'\n", c);
			return -1;
		}
	}
	if (s != NULL) {
		seed = strtoull(s, &end, 0);
		if (*s == '\0' || *end != '\0') {
			fprintf(stderr, "CRYPTO_CHECK_SEED: not a number: '%s'\n", s);
			return -1;
		}
	} else if (c != NULL) {
		if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
			perror("getrandom");
			return -1;
		}
	} else {
		seed = DEFAULT_SEED;
	}
	return 0;
}

int
main(void)
{
	static struct pair_case pairs[N_CTR * N_GHASH];
	struct CMUnitTest tests[2 * N_CTR + 2 * N_GHASH + 2 * N_CTR * N_GHASH];
	static char names[2 * N_CTR * N_GHASH + N_CTR + N_GHASH][96];
	size_t i, j, n = 0, k = 0, np = 0;

	if (parse_env() < 0)
		return 2;
	stream("pool", "");
	rnd_bytes(pool, sizeof(pool));
	printf("crypto check: seed %#" PRIx64 " (CRYPTO_CHECK_SEED=%#" PRIx64
	       " repeats it), %lu cases per routine and path\n",
	       seed, seed, cases);
	fflush(stdout);
	for (i = 0; i < N_CTR; i++)
		if (ctr_paths[i].ours) {
			snprintf(names[k], sizeof(names[k]), "ctr[%s]", ctr_paths[i].name);
			tests[n++] = (struct CMUnitTest){ names[k++], test_ctr, NULL, NULL,
							  (void *)(uintptr_t)&ctr_paths[i] };
		}
	for (i = 0; i < N_GHASH; i++)
		if (ghash_paths[i].ours) {
			snprintf(names[k], sizeof(names[k]), "ghash[%s]", ghash_paths[i].name);
			tests[n++] = (struct CMUnitTest){ names[k++], test_ghash, NULL, NULL,
							  (void *)(uintptr_t)&ghash_paths[i] };
		}
	for (i = 0; i < N_CTR; i++)
		for (j = 0; j < N_GHASH; j++) {
			struct pair_case *pc = &pairs[np++];

			if (!ctr_paths[i].ours || !ghash_paths[j].ours)
				continue;
			pc->ctr = &ctr_paths[i];
			pc->gh = &ghash_paths[j];
			snprintf(pc->name, sizeof(pc->name), "%s + %s", ctr_paths[i].name,
				 ghash_paths[j].name);
			snprintf(names[k], sizeof(names[k]), "gcm[%s]", pc->name);
			tests[n++] = (struct CMUnitTest){ names[k++], test_gcm, NULL, NULL, pc };
			snprintf(names[k], sizeof(names[k]), "record[%s]", pc->name);
			tests[n++] = (struct CMUnitTest){ names[k++], test_record, NULL, NULL, pc };
		}
	if (getenv("CRYPTO_CHECK_FILTER") != NULL)
		cmocka_set_test_filter(getenv("CRYPTO_CHECK_FILTER"));
	return _cmocka_run_group_tests("test_tls_diff", tests, n, NULL, NULL);
}
