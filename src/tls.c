/*
 * tls.c: BearSSL's engine pumped against a non-blocking socket (see tls.h).
 *
 * The pattern is STYLE.md section 9. A conn owns a client or server
 * engine with a full-duplex buffer; every call pumps it: records waiting
 * in SENDREC go out first (staged in tx, so that one send carries many),
 * then decrypted plaintext (RECVAPP) is handed out, then new records are
 * received (RECVREC) — and the state is re-read after each ack, since
 * any ack may run a handshake step. Plaintext written by the app goes
 * into SENDAPP and is flushed as a record at the end of each batch.
 * Readiness is never guessed: the socket calls return EAGAIN and
 * tls_conn_interest() turns the engine state into READ/WRITE.
 *
 * Also here: the insecure X.509 "validator" and the error texts (trust
 * anchors and server credentials are in tls_creds.c). Not here: any socket
 * setup, timers (the caller bounds handshakes and closes), or logging.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tls.h"
#include "tls_crypto.h"
#include "tls_ghash.h"
#include "tls_int.h"
#include "util.h"

/* Days from 0000-01-01 (BearSSL's epoch, proleptic Gregorian) to 1970-01-01. */
#define TLS_UNIX_EPOCH_DAYS 719528u

/* ---- error texts -------------------------------------------------------- */

static const char *
x509_text(int e)
{
	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED: return "certificate signed by an unknown issuer";
	case BR_ERR_X509_EXPIRED: return "certificate expired or not yet valid";
	case BR_ERR_X509_BAD_SERVER_NAME: return "certificate does not match the host name";
	case BR_ERR_X509_EMPTY_CHAIN: return "the server sent no certificate";
	case BR_ERR_X509_BAD_DN: return "certificate has a malformed name";
	case BR_ERR_X509_BAD_TIME: return "certificate has a malformed validity date";
	case BR_ERR_X509_UNSUPPORTED: return "certificate uses an unsupported algorithm";
	case BR_ERR_X509_LIMIT_EXCEEDED: return "certificate chain exceeds BearSSL's limits";
	case BR_ERR_X509_WRONG_KEY_TYPE: return "certificate key type does not match its use";
	case BR_ERR_X509_BAD_SIGNATURE: return "certificate signature is invalid";
	case BR_ERR_X509_TIME_UNKNOWN: return "current time unknown: cannot check certificate dates";
	case BR_ERR_X509_DN_MISMATCH: return "certificate chain is broken (issuer name mismatch)";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "certificate has an unsupported critical extension";
	case BR_ERR_X509_NOT_CA: return "certificate chain has a non-CA certificate as issuer";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "certificate key usage forbids TLS server use";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "certificate public key is too weak";
	default: return "malformed certificate";
	}
}

static const char *
ssl_text(int e)
{
	switch (e) {
	case BR_ERR_OK: return "no error";
	case BR_ERR_BAD_PARAM: return "bad TLS engine parameter";
	case BR_ERR_BAD_STATE: return "bad TLS engine state";
	case BR_ERR_UNSUPPORTED_VERSION: return "the peer does not support TLS 1.2";
	case BR_ERR_BAD_VERSION: return "the peer used an unexpected protocol version";
	case BR_ERR_BAD_LENGTH: return "invalid TLS record length (not TLS?)";
	case BR_ERR_TOO_LARGE: return "TLS record too large";
	case BR_ERR_BAD_MAC: return "TLS record failed authentication";
	case BR_ERR_NO_RANDOM: return "no entropy for the TLS engine";
	case BR_ERR_UNKNOWN_TYPE: return "unknown TLS record type (not TLS?)";
	case BR_ERR_UNEXPECTED: return "unexpected TLS message";
	case BR_ERR_BAD_CCS: return "malformed ChangeCipherSpec";
	case BR_ERR_BAD_ALERT: return "malformed TLS alert";
	case BR_ERR_BAD_HANDSHAKE: return "malformed handshake message";
	case BR_ERR_OVERSIZED_ID: return "oversized session ID";
	case BR_ERR_BAD_CIPHER_SUITE: return "handshake failed: no acceptable cipher suite";
	case BR_ERR_BAD_COMPRESSION: return "handshake failed: unsupported compression";
	case BR_ERR_BAD_FRAGLEN: return "handshake failed: bad maximum fragment length";
	case BR_ERR_BAD_SECRENEG: return "handshake failed: secure renegotiation check";
	case BR_ERR_EXTRA_EXTENSION: return "handshake failed: unexpected extension";
	case BR_ERR_BAD_SNI: return "handshake failed: invalid server name (SNI)";
	case BR_ERR_BAD_HELLO_DONE: return "malformed ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED: return "handshake exceeds BearSSL's limits";
	case BR_ERR_BAD_FINISHED: return "handshake failed: Finished message mismatch";
	case BR_ERR_RESUME_MISMATCH: return "session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM: return "handshake failed: unsupported algorithm";
	case BR_ERR_BAD_SIGNATURE: return "handshake failed: bad signature";
	case BR_ERR_WRONG_KEY_USAGE: return "handshake failed: key usage forbids the cipher suite";
	case BR_ERR_NO_CLIENT_AUTH: return "client certificate required";
	case BR_ERR_IO: return "I/O error";
	default: return "TLS error";
	}
}

/* see tls.h */
const char *
tls_strerror(int e)
{
	if (e >= BR_ERR_X509_OK && e < BR_ERR_RECV_FATAL_ALERT)
		return x509_text(e);
	return ssl_text(e);
}

static const char *
alert_name(int a)
{
	switch (a) {
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	default: return "alert";
	}
}

/* Record the first failure: rc (-errno) and its text. Returns c->err. */
__attribute__((format(printf, 3, 4))) static int
conn_fail(struct tls_conn *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->err != 0)
		return c->err;
	c->err = rc;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* The engine stopped with BearSSL error e (not BR_ERR_OK). */
static int
conn_fail_engine(struct tls_conn *c, int e)
{
	int rc = e == BR_ERR_IO ? -EIO : -EPROTO;

	/* TLS records start with a type byte: 0x16 handshake, 0x15 alert. */
	if (!c->hs_done && c->got_bytes && c->first_byte != 0x16 && c->first_byte != 0x15)
		return conn_fail(c, rc, "the peer does not speak TLS (plain HTTP on a TLS port?)");

	if (e >= BR_ERR_SEND_FATAL_ALERT)
		return conn_fail(c, rc, "sent fatal alert %s (%d)", alert_name(e - BR_ERR_SEND_FATAL_ALERT),
				 e - BR_ERR_SEND_FATAL_ALERT);
	if (e >= BR_ERR_RECV_FATAL_ALERT)
		return conn_fail(c, rc, "received fatal alert %s (%d)",
				 alert_name(e - BR_ERR_RECV_FATAL_ALERT), e - BR_ERR_RECV_FATAL_ALERT);
	return conn_fail(c, rc, "%s", tls_strerror(e));
}

/* ---- the insecure X.509 "validator" ------------------------------------- */

/*
 * Accepts any chain: decodes the first (end-entity) certificate only to
 * give its public key to the engine. Dates, issuer and name are ignored.
 */
static void
any_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509_any *x = (struct tls_x509_any *)(void *)ctx;

	(void)server_name;
	x->depth = 0;
	x->pkey = NULL;
}

static void
any_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509_any *x = (struct tls_x509_any *)(void *)ctx;

	(void)length;
	if (x->depth == 0)
		br_x509_decoder_init(&x->dec, NULL, NULL);
}

static void
any_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509_any *x = (struct tls_x509_any *)(void *)ctx;

	if (x->depth == 0)
		br_x509_decoder_push(&x->dec, buf, len);
}

static void
any_end_cert(const br_x509_class **ctx)
{
	struct tls_x509_any *x = (struct tls_x509_any *)(void *)ctx;

	x->depth++;
}

static unsigned
any_end_chain(const br_x509_class **ctx)
{
	struct tls_x509_any *x = (struct tls_x509_any *)(void *)ctx;
	int e;

	if (x->depth == 0)
		return BR_ERR_X509_EMPTY_CHAIN;
	x->pkey = br_x509_decoder_get_pkey(&x->dec);
	e = br_x509_decoder_last_error(&x->dec);
	if (e != 0)
		return (unsigned)e;
	return x->pkey == NULL ? BR_ERR_X509_TRUNCATED : 0;
}

static const br_x509_pkey *
any_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509_any *x = (const struct tls_x509_any *)(const void *)ctx;

	if (usages != NULL)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return x->pkey;
}

static const br_x509_class any_vtable = {
	sizeof(struct tls_x509_any),
	any_start_chain,
	any_start_cert,
	any_append,
	any_end_cert,
	any_end_chain,
	any_get_pkey,
};

/* ---- connection setup --------------------------------------------------- */

/*
 * Connections of this thread between a successful tls_conn_client/server
 * and tls_conn_fini: when the last one ends, no kept GHASH power is of use
 * any more.
 */
static _Thread_local unsigned tls_live;

/*
 * What client and server share besides tls_crypto_setup(): the
 * full-duplex buffer and entropy. BearSSL 0.6 seeds itself from /dev/urandom
 * when the engine is reset, but opening that file fails exactly when the
 * process is out of descriptors; getrandom() needs none, so 32 bytes from
 * it are always injected (the system seeder, when it works, adds to them).
 * When getrandom() fails, the system seeder alone must do: if it cannot,
 * the engine's reset fails (BR_ERR_NO_RANDOM); a seed is never made up.
 */
static int
conn_setup(struct tls_conn *c)
{
	unsigned char seed[32];

	c->iobuf = malloc(BR_SSL_BUFSIZE_BIDI);
	if (c->iobuf == NULL)
		return -ENOMEM;
	br_ssl_engine_set_buffer(c->eng, c->iobuf, BR_SSL_BUFSIZE_BIDI, 1);
	if (util_random(seed, sizeof(seed)) == 0)
		br_ssl_engine_inject_entropy(c->eng, seed, sizeof(seed));
	else if (br_prng_seeder_system(NULL) == NULL)
		return -EIO;
	explicit_bzero(seed, sizeof(seed));
	return br_ssl_engine_last_error(c->eng) == BR_ERR_OK ? 0 : -EIO;
}

/* Undo a failed setup; rc passes through. */
static int
conn_setup_failed(struct tls_conn *c, int rc)
{
	free(c->iobuf);
	memset(c, 0, sizeof(*c));
	return rc;
}

/* Check certificate dates against the current time (not BearSSL's build option). */
static void
set_validation_time(br_x509_minimal_context *xc)
{
	time_t now = time(NULL);

	if (now > 0)
		br_x509_minimal_set_time(xc, TLS_UNIX_EPOCH_DAYS + (uint32_t)(now / 86400),
					 (uint32_t)(now % 86400));
}

/* see tls.h */
int
tls_conn_client(struct tls_conn *c, const struct tls_anchors *a, const char *server_name, int insecure)
{
	int rc;

	if (!insecure && (a == NULL || a->n == 0 || server_name == NULL))
		return -EINVAL;
	if (server_name != NULL && strlen(server_name) > 255)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	br_ssl_client_init_full(&c->ssl.client, &c->x509.minimal, a != NULL ? a->ta : NULL,
				a != NULL ? a->n : 0);
	c->eng = &c->ssl.client.eng;
	tls_crypto_setup(c->eng, 0);
	if (insecure) {
		c->x509.any.vtable = &any_vtable;
		br_ssl_engine_set_x509(c->eng, &c->x509.any.vtable);
	} else {
		set_validation_time(&c->x509.minimal);
	}
	rc = conn_setup(c);
	if (rc < 0)
		return conn_setup_failed(c, rc);
	if (!br_ssl_client_reset(&c->ssl.client, server_name, 0))
		return conn_setup_failed(c, -EIO);
	tls_live++;
	return 0;
}

/* see tls.h */
int
tls_conn_server(struct tls_conn *c, const struct tls_server_creds *cr)
{
	struct tls_creds_data *d = cr->d;
	int rc;

	if (d == NULL)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	if (d->key.type == BR_KEYTYPE_RSA)
		br_ssl_server_init_full_rsa(&c->ssl.server, d->chain, d->chain_len, &d->key.k.rsa);
	else
		br_ssl_server_init_full_ec(&c->ssl.server, d->chain, d->chain_len, d->issuer_key_type,
					   &d->key.k.ec);
	c->eng = &c->ssl.server.eng;
	tls_crypto_setup(c->eng, 1);
	rc = conn_setup(c);
	if (rc < 0)
		return conn_setup_failed(c, rc);
	if (!br_ssl_server_reset(&c->ssl.server))
		return conn_setup_failed(c, -EIO);
	c->creds = tls_creds_ref(d);
	tls_live++;
	return 0;
}

/* see tls.h */
void
tls_conn_set_io(struct tls_conn *c, tls_recv_fn *io_recv, tls_send_fn *io_send, void *ctx)
{
	c->io_recv = io_recv;
	c->io_send = io_send;
	c->io_ctx = ctx;
}

/*
 * Wipe the GHASH powers kept for this connection's AES-GCM keys (one per
 * direction; tls_ghash.c keeps them per thread, as the br_ghash contract
 * has no context). The keys are the engine's record contexts' H.
 */
static void
forget_ghash_keys(const struct tls_conn *c)
{
	const br_ssl_engine_context *e = c->eng;

	if (e->in.gcm.vtable.in == &br_sslrec_in_gcm_vtable)
		tls_ghash_forget(e->in.gcm.h);
	if (e->out.gcm.vtable.out == &br_sslrec_out_gcm_vtable)
		tls_ghash_forget(e->out.gcm.h);
	if (tls_live > 0 && --tls_live == 0)
		tls_ghash_forget_all();
}

/* see tls.h */
void
tls_conn_fini(struct tls_conn *c)
{
	if (c->iobuf != NULL) {
		/* The buffer held plaintext and key-derived records. */
		explicit_bzero(c->iobuf, BR_SSL_BUFSIZE_BIDI);
		free(c->iobuf);
		forget_ghash_keys(c);
	}
	tls_creds_unref(c->creds);
	free(c->rx);
	free(c->tx);
	/* The engine holds the record keys and the master secret. */
	explicit_bzero(c, sizeof(*c));
}

/* ---- the pump ----------------------------------------------------------- */

/*
 * The engine asks for a record header (5 bytes), then for its body: two
 * recv calls per 16 KiB record. A read-ahead of TLS_RX_SIZE turns that
 * into one recv per many records; the extra copy costs less than the
 * syscalls. Callers read until -EAGAIN, so no byte waits here unseen.
 */
#define TLS_RX_SIZE (64 * 1024)

static ssize_t
io_recv(struct tls_conn *c, int fd, void *buf, size_t len)
{
	ssize_t n;
	size_t k;

	if (c->io_recv != NULL)
		return c->io_recv(c->io_ctx, fd, buf, len);
	if (c->rx_pos == c->rx_len) {
		if (c->rx == NULL && (c->rx = malloc(TLS_RX_SIZE)) == NULL)
			return -ENOMEM;
		do
			n = recv(fd, c->rx, TLS_RX_SIZE, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (n == 0)
			return 0;
		c->rx_pos = 0;
		c->rx_len = (size_t)n;
	}
	k = c->rx_len - c->rx_pos < len ? c->rx_len - c->rx_pos : len;
	memcpy(buf, c->rx + c->rx_pos, k);
	c->rx_pos += k;
	return (ssize_t)k;
}

static ssize_t
io_send(struct tls_conn *c, int fd, const void *buf, size_t len)
{
	ssize_t n;

	if (c->io_send != NULL)
		return c->io_send(c->io_ctx, fd, buf, len);
	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

/*
 * 1 once the peer's close_notify has been received. BearSSL 0.6 has no
 * accessor; its engine sets shutdown_recv when it processes the alert.
 */
static int
peer_closed(const struct tls_conn *c)
{
	return c->ended || c->eng->shutdown_recv != 0;
}

/* The engine state; notes the end of the handshake on the way. */
static unsigned
conn_state(struct tls_conn *c)
{
	unsigned st = br_ssl_engine_current_state(c->eng);

	if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
		c->hs_done = 1;
	return st;
}

/* The engine is CLOSED: a clean end (0) or a failure. */
static int
conn_closed(struct tls_conn *c)
{
	int e = br_ssl_engine_last_error(c->eng);

	if (e == BR_ERR_OK) {
		c->ended = 1;
		return 0;
	}
	return conn_fail_engine(c, e);
}

/*
 * The engine builds one record at a time and holds the next back until
 * the last is sent. Records are moved into a staging buffer of
 * TLS_TX_SIZE instead, so that one send() carries many records: a copy of
 * cipher text is cheaper than a syscall and a TCP push per 16 KiB.
 */
#define TLS_TX_SIZE (128 * 1024)

/* Move finished records out of the engine into tx (no syscall). 0 or -ENOMEM. */
static int
collect_records(struct tls_conn *c)
{
	unsigned char *buf;
	size_t len;

	while (c->tx_len < TLS_TX_SIZE && (buf = br_ssl_engine_sendrec_buf(c->eng, &len)) != NULL) {
		if (c->tx == NULL && (c->tx = malloc(TLS_TX_SIZE)) == NULL)
			return conn_fail(c, -ENOMEM, "out of memory");
		len = UTIL_MIN(len, TLS_TX_SIZE - c->tx_len);
		memcpy(c->tx + c->tx_len, buf, len);
		c->tx_len += len;
		br_ssl_engine_sendrec_ack(c->eng, len);
	}
	return 0;
}

/*
 * Send records until none is pending or the socket blocks: 0 (none
 * pending, or the engine closed cleanly), -EAGAIN (some remain), or a
 * failure. *moved is set when bytes went out.
 */
static int
send_records(struct tls_conn *c, int fd, int *moved)
{
	ssize_t n;
	int rc;

	for (;;) {
		if (c->err != 0)
			return c->err;
		if (c->ended)
			return 0;
		/* A clean close still sends what it staged (its close_notify). */
		if (conn_state(c) == BR_SSL_CLOSED &&
		    (c->tx_pos == c->tx_len || br_ssl_engine_last_error(c->eng) != BR_ERR_OK))
			return conn_closed(c);
		rc = collect_records(c);
		if (rc < 0)
			return rc;
		if (c->tx_pos == c->tx_len)
			return 0;
		n = io_send(c, fd, c->tx + c->tx_pos, c->tx_len - c->tx_pos);
		if (n == -EAGAIN)
			return -EAGAIN;
		if (n <= 0 && peer_closed(c)) {
			/* The peer closed cleanly and left: our reply has nowhere to go. */
			c->ended = 1;
			return 0;
		}
		if (n <= 0)
			return conn_fail(c, n < 0 ? (int)n : -EIO, "send: %s",
					 strerror(n < 0 ? (int)-n : EIO));
		*moved = 1;
		c->tx_pos += (size_t)n;
		if (c->tx_pos == c->tx_len)
			c->tx_pos = c->tx_len = 0;
	}
}

/* The peer closed TCP (recv returned 0). */
static int
conn_eof(struct tls_conn *c)
{
	if (peer_closed(c)) {
		c->ended = 1;
		return 0;
	}
	if (!c->hs_done)
		return conn_fail(c, -ECONNRESET, "connection closed by the peer during the TLS handshake");
	c->eof = 1;
	snprintf(c->msg, sizeof(c->msg), "peer closed the connection without close_notify");
	return 0;
}

/*
 * One recv into the engine: 0 (bytes came in, or EOF noted in the flags),
 * -EAGAIN, or a failure. *moved is set when bytes came in.
 */
static int
recv_records(struct tls_conn *c, int fd, int *moved)
{
	unsigned char *buf;
	size_t len;
	ssize_t n;

	buf = br_ssl_engine_recvrec_buf(c->eng, &len);
	if (buf == NULL)
		return 0;
	n = io_recv(c, fd, buf, len);
	if (n == 0)
		return conn_eof(c);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n < 0)
		return conn_fail(c, (int)n, "recv: %s", strerror((int)-n));
	*moved = 1;
	if (!c->got_bytes) {
		c->got_bytes = 1;
		c->first_byte = buf[0];
	}
	br_ssl_engine_recvrec_ack(c->eng, (size_t)n);
	return 0;
}

/* Copy pending plaintext out of the engine. */
static size_t
take_plaintext(struct tls_conn *c, void *dst, size_t n)
{
	unsigned char *buf;
	size_t len;

	buf = br_ssl_engine_recvapp_buf(c->eng, &len);
	if (buf == NULL)
		return 0;
	len = UTIL_MIN(len, n);
	memcpy(dst, buf, len);
	br_ssl_engine_recvapp_ack(c->eng, len);
	return len;
}

/* see tls.h */
ssize_t
tls_conn_read(struct tls_conn *c, int fd, void *buf, size_t n)
{
	unsigned st;
	int rc, moved;

	if (n == 0)
		return -EINVAL;
	for (;;) {
		if (c->err != 0)
			return c->err;
		st = conn_state(c);
		if (st == BR_SSL_CLOSED)
			return conn_closed(c);
		if (st & BR_SSL_RECVAPP)
			return (ssize_t)take_plaintext(c, buf, UTIL_MIN(n, (size_t)SSIZE_MAX));
		if (c->ended || c->eof)
			return 0;
		moved = 0;
		if (peer_closed(c)) {
			/* No more data will come; answer close_notify as far as possible. */
			rc = send_records(c, fd, &moved);
			return rc == -EAGAIN ? 0 : rc;
		}
		rc = send_records(c, fd, &moved);
		if (rc < 0 && rc != -EAGAIN)
			return rc;
		if (st & BR_SSL_RECVREC) {
			rc = recv_records(c, fd, &moved);
			if (rc < 0 && rc != -EAGAIN)
				return rc;
		}
		if (!moved && !c->eof)
			return -EAGAIN;
	}
}

/*
 * Copy up to room bytes of the iovecs, starting at iov[*i] offset *off,
 * into dst; advances *i and *off. Returns the bytes copied.
 */
static size_t
iov_copy(unsigned char *dst, size_t room, const struct iovec *iov, int iovcnt, int *i, size_t *off)
{
	size_t done = 0, k;

	while (done < room && *i < iovcnt) {
		k = UTIL_MIN(room - done, iov[*i].iov_len - *off);
		memcpy(dst + done, (const unsigned char *)iov[*i].iov_base + *off, k);
		done += k;
		*off += k;
		if (*off == iov[*i].iov_len) {
			(*i)++;
			*off = 0;
		}
	}
	return done;
}

/* Plaintext bytes in the iovecs, capped at SSIZE_MAX. */
static size_t
iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += UTIL_MIN(iov[i].iov_len, (size_t)SSIZE_MAX - total);
	return total;
}

/* see tls.h */
ssize_t
tls_conn_writev(struct tls_conn *c, int fd, const struct iovec *iov, int iovcnt)
{
	size_t want, total = 0, room;
	unsigned char *buf;
	size_t off = 0;
	int i = 0, rc, moved = 0;

	if (c->err != 0)
		return c->err;
	if (c->closing || c->ended || peer_closed(c))
		return -EPIPE;
	want = iov_total(iov, iovcnt);
	if (want == 0)
		return 0;
	for (;;) {
		rc = collect_records(c);
		if (rc < 0)
			return total > 0 ? (ssize_t)total : rc;
		/* Send once all is in, or when the engine waits for tx to drain. */
		if (total == want || !(conn_state(c) & BR_SSL_SENDAPP)) {
			rc = send_records(c, fd, &moved);
			if (rc < 0 && rc != -EAGAIN)
				return total > 0 ? (ssize_t)total : rc;
			if (total == want || c->ended || rc == -EAGAIN || !(conn_state(c) & BR_SSL_SENDAPP))
				break;
		}
		buf = br_ssl_engine_sendapp_buf(c->eng, &room);
		room = iov_copy(buf, UTIL_MIN(room, want - total), iov, iovcnt, &i, &off);
		br_ssl_engine_sendapp_ack(c->eng, room);
		total += room;
		/* A full buffer became a record by itself; the last piece needs a flush. */
		if (total == want)
			br_ssl_engine_flush(c->eng, 0);
	}
	if (total > 0)
		return (ssize_t)total;
	return c->ended ? -EPIPE : -EAGAIN;
}

/* see tls.h */
int
tls_conn_handshake(struct tls_conn *c, int fd)
{
	int rc, moved;

	for (;;) {
		if (c->err != 0)
			return c->err;
		if (tls_conn_handshake_done(c))
			return 0;
		if (conn_state(c) == BR_SSL_CLOSED)
			return conn_closed(c) < 0 ? c->err : -ECONNRESET;
		moved = 0;
		rc = send_records(c, fd, &moved);
		if (rc < 0 && rc != -EAGAIN)
			return rc;
		if (conn_state(c) & BR_SSL_RECVREC) {
			rc = recv_records(c, fd, &moved);
			if (rc < 0 && rc != -EAGAIN)
				return rc;
		}
		if (!moved)
			return -EAGAIN;
	}
}

/* see tls.h */
int
tls_conn_flush(struct tls_conn *c, int fd)
{
	int moved = 0;

	return send_records(c, fd, &moved);
}

/* see tls.h */
int
tls_conn_close(struct tls_conn *c, int fd)
{
	int moved = 0;

	if (c->err != 0)
		return c->err;
	if (!c->closing && !c->ended) {
		c->closing = 1;
		br_ssl_engine_close(c->eng);
	}
	return send_records(c, fd, &moved);
}

/* see tls.h */
unsigned
tls_conn_interest(const struct tls_conn *c)
{
	unsigned st, want = 0;

	if (c->err != 0 || c->ended || c->eng == NULL)
		return 0;
	if (c->tx_pos < c->tx_len)
		want |= TLS_WRITE;
	st = br_ssl_engine_current_state(c->eng);
	if (st == BR_SSL_CLOSED)
		return want;
	if (st & BR_SSL_SENDREC)
		want |= TLS_WRITE;
	if ((st & BR_SSL_RECVREC) && !c->eof && !peer_closed(c))
		want |= TLS_READ;
	return want;
}

/* see tls.h */
size_t
tls_conn_pending(const struct tls_conn *c)
{
	size_t len = 0;

	if (c->err == 0 && c->eng != NULL && br_ssl_engine_recvapp_buf(c->eng, &len) == NULL)
		len = 0;
	return len;
}

/* see tls.h */
size_t
tls_conn_buffered(const struct tls_conn *c)
{
	size_t ahead = c->rx_len - c->rx_pos;

	if (c->err != 0 || c->eng == NULL)
		return 0;
	if (!(br_ssl_engine_current_state(c->eng) & BR_SSL_RECVREC))
		ahead = 0; /* the engine takes no record now (its output is blocked): a WRITE event comes
			      first */
	return ahead + tls_conn_pending(c);
}

/* see tls.h */
int
tls_conn_peer_not_tls(const struct tls_conn *c)
{
	return c->got_bytes && c->first_byte != 0x16;
}

/* see tls.h */
int
tls_conn_handshake_done(const struct tls_conn *c)
{
	if (c->hs_done)
		return 1;
	return c->eng != NULL &&
	       (br_ssl_engine_current_state(c->eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

/* see tls.h */
const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->msg[0] != '\0' ? c->msg : NULL;
}

/* see tls.h */
int
tls_conn_br_error(const struct tls_conn *c)
{
	return c->eng != NULL ? br_ssl_engine_last_error(c->eng) : BR_ERR_OK;
}
