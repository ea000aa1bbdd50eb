/*
 * tls_pem.c: PEM decoding, trust anchors and private keys (see tls_pem.h).
 *
 * BearSSL decodes; this file owns the memory. A PEM file is read whole and
 * pushed through br_pem_decoder into growable byte vectors; a certificate
 * becomes a trust anchor through br_x509_decoder, with its DN and public
 * key copied into one block so the anchor outlives the decoder; a key is
 * copied out of br_skey_decoder (whose context holds it only while it
 * lives). Nothing here logs or touches sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls_pem.h"

/* A growable byte vector; `oom` is sticky (decoder callbacks cannot fail). */
struct vec {
	unsigned char *p;
	size_t len;
	size_t cap;
	int oom;
};

static void
vec_append(void *ctx, const void *data, size_t len)
{
	struct vec *v = ctx;
	size_t cap;
	unsigned char *np;

	if (v->oom || len == 0)
		return;
	if (v->cap - v->len < len) {
		cap = v->cap ? v->cap : 256;
		while (cap - v->len < len)
			cap *= 2;
		np = realloc(v->p, cap);
		if (np == NULL) {
			v->oom = 1;
			return;
		}
		v->p = np;
		v->cap = cap;
	}
	memcpy(v->p + v->len, data, len);
	v->len += len;
}

__attribute__((format(printf, 4, 5))) static int
pem_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Read the whole file into *out (malloc'd, *len bytes). 0 or -errno. */
static int
read_file(const char *path, unsigned char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	unsigned char *p;
	size_t got = 0;
	ssize_t n = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return pem_fail(err, errlen, -e, "cannot open %s: %s", path, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pem_fail(err, errlen, -EINVAL, "cannot read %s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > TLS_PEM_MAX_FILE) {
		close(fd);
		return pem_fail(err, errlen, -EFBIG, "cannot read %s: file too large", path);
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL) {
		close(fd);
		return pem_fail(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	e = n < 0 ? errno : 0;
	close(fd);
	if (e != 0) {
		free(p);
		return pem_fail(err, errlen, -e, "cannot read %s: %s", path, strerror(e));
	}
	*out = p;
	*len = got;
	return 0;
}

/* Append an empty object named name to l; NULL on out of memory. */
static struct tls_pem_obj *
list_push(struct tls_pem_list *l, const char *name)
{
	struct tls_pem_obj *v, *o;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	o = &l->v[l->n++];
	memset(o, 0, sizeof(*o));
	/* Longer labels are none we look for: truncation is harmless. */
	memcpy(o->name, name, strnlen(name, sizeof(o->name) - 1));
	return o;
}

/*
 * Push text through the decoder, collecting objects into l. Returns 0,
 * -EINVAL (bad PEM; *in_obj tells whether it was inside an object) or
 * -ENOMEM.
 */
static int
pem_decode(br_pem_decoder_context *pc, struct tls_pem_list *l, struct vec *cur, int *in_obj,
	   const unsigned char *p, size_t len)
{
	size_t k;

	while (len > 0) {
		k = br_pem_decoder_push(pc, p, len);
		p += k;
		len -= k;
		switch (br_pem_decoder_event(pc)) {
		case BR_PEM_BEGIN_OBJ:
			if (list_push(l, br_pem_decoder_name(pc)) == NULL)
				return -ENOMEM;
			memset(cur, 0, sizeof(*cur));
			br_pem_decoder_setdest(pc, vec_append, cur);
			*in_obj = 1;
			break;
		case BR_PEM_END_OBJ:
			if (cur->oom)
				return -ENOMEM;
			l->v[l->n - 1].der = cur->p;
			l->v[l->n - 1].len = cur->len;
			memset(cur, 0, sizeof(*cur));
			*in_obj = 0;
			break;
		case BR_PEM_ERROR: return -EINVAL;
		default: break;
		}
	}
	return 0;
}

/* see tls_pem.h */
int
tls_pem_read(struct tls_pem_list *l, const char *path, char *err, size_t errlen)
{
	br_pem_decoder_context pc;
	struct vec cur = { 0 };
	unsigned char *text = NULL;
	size_t len = 0;
	int rc, in_obj = 0;

	memset(l, 0, sizeof(*l));
	rc = read_file(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	br_pem_decoder_init(&pc);
	/* A final newline lets the decoder see an END line the file left unterminated. */
	text[len] = '\n';
	rc = pem_decode(&pc, l, &cur, &in_obj, text, len + 1);
	free(text);
	if (rc == 0 && in_obj)
		rc = -EINVAL;
	if (rc < 0) {
		free(cur.p);
		tls_pem_list_fini(l);
		if (rc == -ENOMEM)
			return pem_fail(err, errlen, rc, "%s: out of memory", path);
		return pem_fail(err, errlen, rc, "%s: malformed PEM%s", path,
				in_obj ? " (object without a valid END line)" : "");
	}
	return 0;
}

/* see tls_pem.h */
void
tls_pem_list_fini(struct tls_pem_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].der);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* see tls_pem.h */
int
tls_pem_is_cert(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

/* Bytes of the public key material of pk. */
static size_t
pkey_size(const br_x509_pkey *pk)
{
	if (pk->key_type == BR_KEYTYPE_RSA)
		return pk->key.rsa.nlen + pk->key.rsa.elen;
	return pk->key.ec.qlen;
}

/* Copy pk's key bytes to mem (pkey_size bytes) and point dst at them. */
static void
pkey_copy(br_x509_pkey *dst, const br_x509_pkey *pk, unsigned char *mem)
{
	*dst = *pk;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		memcpy(mem, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(mem + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		dst->key.rsa.n = mem;
		dst->key.rsa.e = mem + pk->key.rsa.nlen;
	} else {
		memcpy(mem, pk->key.ec.q, pk->key.ec.qlen);
		dst->key.ec.q = mem;
	}
}

/* see tls_pem.h */
int
tls_pem_anchor(br_x509_trust_anchor *ta, const unsigned char *der, size_t len, int *br_err)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct vec dn = { 0 };
	unsigned char *block;
	int e;

	br_x509_decoder_init(&dc, vec_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	e = br_x509_decoder_last_error(&dc);
	if (br_err != NULL)
		*br_err = e;
	if (dn.oom || pk == NULL || e != 0) {
		free(dn.p);
		return dn.oom ? -ENOMEM : -EINVAL;
	}
	block = malloc(dn.len + pkey_size(pk) + 1);
	if (block == NULL) {
		free(dn.p);
		return -ENOMEM;
	}
	memcpy(block, dn.p, dn.len);
	free(dn.p);
	ta->dn.data = block;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	pkey_copy(&ta->pkey, pk, block + dn.len);
	return 0;
}

/* see tls_pem.h */
void
tls_pem_anchor_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	memset(ta, 0, sizeof(*ta));
}

/* Copy n bytes to *at and return where they went. */
static unsigned char *
take(unsigned char **at, const unsigned char *src, size_t n)
{
	unsigned char *p = *at;

	memcpy(p, src, n);
	*at += n;
	return p;
}

static int
key_copy_rsa(struct tls_pem_key *k, const br_rsa_private_key *sk)
{
	unsigned char *at;

	k->mem = malloc(sk->plen + sk->qlen + sk->dplen + sk->dqlen + sk->iqlen + 1);
	if (k->mem == NULL)
		return -ENOMEM;
	at = k->mem;
	k->k.rsa = *sk;
	k->k.rsa.p = take(&at, sk->p, sk->plen);
	k->k.rsa.q = take(&at, sk->q, sk->qlen);
	k->k.rsa.dp = take(&at, sk->dp, sk->dplen);
	k->k.rsa.dq = take(&at, sk->dq, sk->dqlen);
	k->k.rsa.iq = take(&at, sk->iq, sk->iqlen);
	k->type = BR_KEYTYPE_RSA;
	return 0;
}

static int
key_copy_ec(struct tls_pem_key *k, const br_ec_private_key *sk)
{
	if ((br_ec_get_default()->supported_curves >> sk->curve & 1) == 0)
		return -EINVAL;
	k->mem = malloc(sk->xlen + 1);
	if (k->mem == NULL)
		return -ENOMEM;
	k->k.ec = *sk;
	k->k.ec.x = k->mem;
	memcpy(k->mem, sk->x, sk->xlen);
	k->type = BR_KEYTYPE_EC;
	return 0;
}

/* see tls_pem.h */
int
tls_pem_key_decode(struct tls_pem_key *k, const unsigned char *der, size_t len)
{
	br_skey_decoder_context *dc;
	int rc = -EINVAL;

	memset(k, 0, sizeof(*k));
	/* About 2 KiB: off the stack, and wiped since it holds the key. */
	dc = malloc(sizeof(*dc));
	if (dc == NULL)
		return -ENOMEM;
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	if (br_skey_decoder_last_error(dc) == 0) {
		switch (br_skey_decoder_key_type(dc)) {
		case BR_KEYTYPE_RSA: rc = key_copy_rsa(k, br_skey_decoder_get_rsa(dc)); break;
		case BR_KEYTYPE_EC: rc = key_copy_ec(k, br_skey_decoder_get_ec(dc)); break;
		default: break;
		}
	}
	explicit_bzero(dc, sizeof(*dc));
	free(dc);
	return rc;
}

/* see tls_pem.h */
void
tls_pem_key_fini(struct tls_pem_key *k)
{
	size_t n = 0;

	if (k->type == BR_KEYTYPE_RSA)
		n = k->k.rsa.plen + k->k.rsa.qlen + k->k.rsa.dplen + k->k.rsa.dqlen + k->k.rsa.iqlen;
	else if (k->type == BR_KEYTYPE_EC)
		n = k->k.ec.xlen;
	if (k->mem != NULL)
		explicit_bzero(k->mem, n);
	free(k->mem);
	memset(k, 0, sizeof(*k));
}

/* Big-endian integers a and b equal, ignoring leading zero bytes. */
static int
int_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	while (alen > 0 && *a == 0) {
		a++;
		alen--;
	}
	while (blen > 0 && *b == 0) {
		b++;
		blen--;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * Same modulus: n = p * q is factored one way only, so that binds the key.
 * (The public exponent is not compared: BearSSL 0.6's compute_pubexp
 * returns 0 for many valid OpenSSL 3 keys.)
 */
static int
rsa_matches(const br_rsa_private_key *sk, const br_rsa_public_key *pk)
{
	br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
	unsigned char *n;
	size_t nlen;
	int same;

	nlen = modulus(NULL, sk);
	if (nlen == 0)
		return 0;
	n = malloc(nlen);
	if (n == NULL)
		return -ENOMEM;
	modulus(n, sk);
	same = int_equal(n, nlen, pk->n, pk->nlen);
	free(n);
	return same;
}

static int
ec_matches(const br_ec_private_key *sk, const br_ec_public_key *pk)
{
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	size_t qlen;

	if (sk->curve != pk->curve)
		return 0;
	qlen = br_ec_compute_pub(br_ec_get_default(), NULL, q, sk);
	return qlen != 0 && qlen == pk->qlen && memcmp(q, pk->q, qlen) == 0;
}

/* see tls_pem.h */
int
tls_pem_key_matches(const struct tls_pem_key *k, const br_x509_pkey *pk)
{
	if ((int)pk->key_type != k->type)
		return 0;
	if (k->type == BR_KEYTYPE_RSA)
		return rsa_matches(&k->k.rsa, &pk->key.rsa);
	return ec_matches(&k->k.ec, &pk->key.ec);
}
