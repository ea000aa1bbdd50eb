/*
 * tls_int.h: what tls.c and tls_creds.c share, and nobody else: the server
 * material tls_creds.c loads and tls.c's connections use.
 *
 * One tls_creds_data per successful tls_server_creds_load(): the chain,
 * the issuer's key type and the private key, reference-counted so that a
 * SIGHUP reload can replace the daemon's credentials while connections
 * made with the old ones finish on them.
 */
#ifndef HT_TLS_INT_H
#define HT_TLS_INT_H

#include <stddef.h>

#include <bearssl.h>

#include "tls_pem.h"

struct tls_creds_data {
	unsigned refs;
	br_x509_certificate *chain; /* chain[0..chain_len), data malloc'd */
	size_t chain_len;
	unsigned issuer_key_type; /* key type of the CA that signed chain[0] */
	struct tls_pem_key key;
};

/* One more holder of d; returns d. */
struct tls_creds_data *tls_creds_ref(struct tls_creds_data *d);

/* One holder less; the last frees the material (the key wiped). d may be NULL. */
void tls_creds_unref(struct tls_creds_data *d);

#endif
