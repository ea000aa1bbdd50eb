/*
 * tls_pem.h: PEM files, trust anchors and private keys for tls.c (private).
 *
 * The file-format half of tls.c: read a PEM file into DER objects, turn a
 * DER certificate into a self-contained br_x509_trust_anchor, decode a
 * private key into owned memory, and check that a key belongs to a
 * certificate's public key. No engine, no sockets.
 */
#ifndef HT_TLS_PEM_H
#define HT_TLS_PEM_H

#include <stddef.h>

#include <bearssl.h>

/* Largest PEM file we read (the system CA bundle is about 200 KiB). */
#define TLS_PEM_MAX_FILE (16u << 20)

/* One PEM object. */
struct tls_pem_obj {
	char name[48];      /* label after "BEGIN ", e.g. "CERTIFICATE" (truncated) */
	unsigned char *der; /* decoded bytes, malloc'd */
	size_t len;
};

/* The objects of one file, in file order. */
struct tls_pem_list {
	struct tls_pem_obj *v; /* v[0..n) */
	size_t n;
	size_t cap;
};

/*
 * Read the PEM file path and decode all its objects into l (initialised
 * here). Text outside BEGIN/END lines is ignored. Returns 0, or -errno
 * with a message naming path in err[errlen]: the open/read errno, -EFBIG
 * (over TLS_PEM_MAX_FILE), -EINVAL (malformed PEM, unterminated object),
 * -ENOMEM. On error l holds nothing.
 */
int tls_pem_read(struct tls_pem_list *l, const char *path, char *err, size_t errlen);

/* Free every object; l is then empty. Safe on a zeroed list. */
void tls_pem_list_fini(struct tls_pem_list *l);

/* 1 if name is a certificate label ("CERTIFICATE", "X509 CERTIFICATE"). */
int tls_pem_is_cert(const char *name);

/*
 * Turn the DER certificate der[0..len) into a trust anchor whose name and
 * key bytes live in one malloc'd block at ta->dn.data (BR_X509_TA_CA is set
 * for CA certificates). Returns 0, -EINVAL (BearSSL cannot decode it; the
 * BearSSL code in *br_err when br_err is not NULL), or -ENOMEM.
 */
int tls_pem_anchor(br_x509_trust_anchor *ta, const unsigned char *der, size_t len, int *br_err);

/* Free an anchor made by tls_pem_anchor. */
void tls_pem_anchor_free(br_x509_trust_anchor *ta);

/* A private key whose bytes are owned by mem. */
struct tls_pem_key {
	int type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC; 0 when empty */
	union {
		br_rsa_private_key rsa;
		br_ec_private_key ec;
	} k;
	unsigned char *mem;
};

/*
 * Decode a private key (PKCS#1 RSA, SEC1 EC or PKCS#8 of either) into k.
 * Returns 0, -EINVAL (not a key BearSSL can decode, or an EC curve the
 * default implementation does not support), -ENOMEM.
 */
int tls_pem_key_decode(struct tls_pem_key *k, const unsigned char *der, size_t len);

/* Free the key bytes (zeroed first); k is then empty. */
void tls_pem_key_fini(struct tls_pem_key *k);

/*
 * 1 if the key's public half is pk (same type, and same RSA modulus, or
 * same curve and point), 0 if not, -ENOMEM.
 */
int tls_pem_key_matches(const struct tls_pem_key *k, const br_x509_pkey *pk);

#endif
