/*
 * tls_creds.c: trust anchors and server credentials (see tls.h), built
 * from the PEM objects tls_pem.c decodes, with messages that name the
 * file and what is wrong with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "tls_int.h"

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- trust anchors ------------------------------------------------------ */

/* see tls.h */
int
tls_anchors_load(struct tls_anchors *a, const char *path, char *err, size_t errlen)
{
	struct tls_pem_list l;
	size_t i;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = tls_pem_read(&l, path, err, errlen);
	if (rc < 0)
		return rc;
	a->ta = calloc(l.n ? l.n : 1, sizeof(*a->ta));
	if (a->ta == NULL)
		rc = -ENOMEM;
	a->cap = l.n;
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (!tls_pem_is_cert(l.v[i].name))
			continue;
		rc = tls_pem_anchor(&a->ta[a->n], l.v[i].der, l.v[i].len, NULL);
		if (rc == 0) {
			a->n++;
		} else if (rc == -EINVAL) {
			a->skipped++;
			rc = 0;
		}
	}
	tls_pem_list_fini(&l);
	if (rc == 0 && a->n == 0)
		rc = -EINVAL;
	if (rc < 0) {
		if (rc == -ENOMEM)
			set_err(err, errlen, "%s: out of memory", path);
		else
			set_err(err, errlen, "no usable certificate in %s (%zu could not be decoded)", path,
				a->skipped);
		tls_anchors_fini(a);
	}
	return rc;
}

/* see tls.h */
void
tls_anchors_fini(struct tls_anchors *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		tls_pem_anchor_free(&a->ta[i]);
	free(a->ta);
	memset(a, 0, sizeof(*a));
}

/* ---- server credentials ------------------------------------------------- */

/* see tls_int.h */
struct tls_creds_data *
tls_creds_ref(struct tls_creds_data *d)
{
	d->refs++;
	return d;
}

/* see tls_int.h */
void
tls_creds_unref(struct tls_creds_data *d)
{
	size_t i;

	if (d == NULL || --d->refs > 0)
		return;
	for (i = 0; i < d->chain_len; i++)
		free(d->chain[i].data);
	free(d->chain);
	tls_pem_key_fini(&d->key);
	free(d);
}

/*
 * Read the chain from path into d (moving the DER buffers) and decode its
 * first certificate into dc (whose public key the caller checks).
 */
static int
creds_load_chain(struct tls_creds_data *d, br_x509_decoder_context *dc, const char *path, char *err,
		 size_t errlen)
{
	struct tls_pem_list l;
	size_t i;
	int rc;

	rc = tls_pem_read(&l, path, err, errlen);
	if (rc < 0)
		return rc;
	d->chain = calloc(l.n ? l.n : 1, sizeof(*d->chain));
	for (i = 0; d->chain != NULL && i < l.n; i++) {
		if (!tls_pem_is_cert(l.v[i].name))
			continue;
		d->chain[d->chain_len].data = l.v[i].der;
		d->chain[d->chain_len++].data_len = l.v[i].len;
		l.v[i].der = NULL;
	}
	tls_pem_list_fini(&l);
	if (d->chain == NULL) {
		set_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (d->chain_len == 0) {
		set_err(err, errlen, "no certificate found in %s", path);
		return -EINVAL;
	}
	br_x509_decoder_init(dc, NULL, NULL);
	br_x509_decoder_push(dc, d->chain[0].data, d->chain[0].data_len);
	if (br_x509_decoder_get_pkey(dc) == NULL) {
		set_err(err, errlen, "%s: cannot decode the certificate: %s", path,
			tls_strerror(br_x509_decoder_last_error(dc)));
		return -EINVAL;
	}
	d->issuer_key_type = (unsigned)br_x509_decoder_get_signer_key_type(dc);
	return 0;
}

/* Index of the first private-key object in l, or -1 (-2: only an encrypted one). */
static int
find_key(const struct tls_pem_list *l)
{
	int encrypted = 0;
	size_t i;

	for (i = 0; i < l->n && i < INT32_MAX; i++) {
		if (strcmp(l->v[i].name, "PRIVATE KEY") == 0 ||
		    strcmp(l->v[i].name, "RSA PRIVATE KEY") == 0 ||
		    strcmp(l->v[i].name, "EC PRIVATE KEY") == 0)
			return (int)i;
		if (strcmp(l->v[i].name, "ENCRYPTED PRIVATE KEY") == 0)
			encrypted = 1;
	}
	return encrypted ? -2 : -1;
}

static int
creds_load_key(struct tls_creds_data *d, const char *path, char *err, size_t errlen)
{
	struct tls_pem_list l;
	size_t i;
	int rc, k;

	rc = tls_pem_read(&l, path, err, errlen);
	if (rc < 0)
		return rc;
	k = find_key(&l);
	if (k == -2) {
		set_err(err, errlen, "%s: encrypted private keys are not supported", path);
		rc = -EINVAL;
	} else if (k < 0) {
		set_err(err, errlen, "no private key found in %s", path);
		rc = -EINVAL;
	} else {
		rc = tls_pem_key_decode(&d->key, l.v[k].der, l.v[k].len);
		if (rc < 0)
			set_err(err, errlen, "%s: %s", path,
				rc == -ENOMEM ? "out of memory"
					      : "cannot decode the private key (unsupported type or curve?)");
	}
	for (i = 0; i < l.n; i++)
		explicit_bzero(l.v[i].der, l.v[i].len);
	tls_pem_list_fini(&l);
	return rc;
}

static const char *
key_type_name(int t)
{
	return t == BR_KEYTYPE_RSA ? "RSA" : t == BR_KEYTYPE_EC ? "EC" : "unknown";
}

/* The key must be the one of the certificate decoded in dc. */
static int
creds_check_match(const struct tls_creds_data *d, br_x509_decoder_context *dc, const char *cert_pem,
		  const char *key_pem, char *err, size_t errlen)
{
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
	int rc;

	if ((int)pk->key_type != d->key.type) {
		set_err(err, errlen, "the private key in %s is %s but the certificate in %s has an %s key",
			key_pem, key_type_name(d->key.type), cert_pem, key_type_name(pk->key_type));
		return -EINVAL;
	}
	rc = tls_pem_key_matches(&d->key, pk);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		set_err(err, errlen, "out of memory");
		return rc;
	}
	set_err(err, errlen, "the private key in %s does not match the certificate in %s", key_pem, cert_pem);
	return -EINVAL;
}

/* see tls.h */
int
tls_server_creds_load(struct tls_server_creds *c, const char *cert_pem, const char *key_pem, char *err,
		      size_t errlen)
{
	br_x509_decoder_context dc;
	struct tls_creds_data *d;
	int rc;

	memset(c, 0, sizeof(*c));
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->refs = 1;
	rc = creds_load_chain(d, &dc, cert_pem, err, errlen);
	if (rc == 0)
		rc = creds_load_key(d, key_pem, err, errlen);
	if (rc == 0)
		rc = creds_check_match(d, &dc, cert_pem, key_pem, err, errlen);
	if (rc < 0) {
		tls_creds_unref(d);
		return rc;
	}
	c->d = d;
	c->key_type = d->key.type;
	c->chain_len = d->chain_len;
	return 0;
}

/* see tls.h */
void
tls_server_creds_fini(struct tls_server_creds *c)
{
	tls_creds_unref(c->d);
	memset(c, 0, sizeof(*c));
}
