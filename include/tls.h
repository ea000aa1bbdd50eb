/*
 * tls.h: TLS 1.2 over a non-blocking socket with BearSSL's engine API.
 *
 * A struct tls_conn wraps one BearSSL client or server engine and pumps it
 * against a non-blocking stream socket from readiness callbacks (STYLE.md
 * section 9): tls_conn_read() and tls_conn_writev() look like recv() and
 * writev() to the layer above, and tls_conn_interest() says which
 * readiness events the socket must be watched for. Nothing here blocks,
 * polls, or owns the file descriptor; br_sslio_* is never used.
 *
 * Also here: trust anchors loaded from a PEM bundle (BearSSL has no CA
 * store) and server credentials (certificate chain + RSA or EC key) loaded
 * from PEM files, with reference counting so that a reload (SIGHUP) can
 * replace them while existing connections keep the old ones.
 *
 * Cipher suites: ECDHE with AES-128-GCM, AES-256-GCM or
 * ChaCha20-Poly1305 only, AES-GCM first where the CPU accelerates AES
 * (tls_crypto.h has the whole policy). AES-GCM runs with our VAES AES-CTR
 * and VPCLMULQDQ/PCLMULQDQ GHASH where the CPU has them, or with
 * BearSSL's own code when the mode says so (HOODY_TUNNEL_CRYPTO=bearssl,
 * tls_crypto_parse()).
 *
 * Not here: session resumption, client certificates, ALPN, TLS 1.3
 * (BearSSL 0.6 speaks TLS up to 1.2; we allow 1.2 only).
 *
 * Memory per connection: sizeof(struct tls_conn) (7,512 bytes on x86-64:
 * the server context, larger than the client's, plus the X.509 context)
 * in the caller's memory; one malloc of BR_SSL_BUFSIZE_BIDI (33,178)
 * bytes made by tls_conn_client()/tls_conn_server(); a 64 KiB socket
 * read-ahead on the first read and a 128 KiB staging buffer for outgoing
 * records on the first send (so that one send carries up to eight full
 * records): about 233 KiB in all, freed by tls_conn_fini(). Certificates,
 * keys and anchors are shared, never copied per connection.
 */
#ifndef HT_TLS_H
#define HT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <bearssl.h>

/* tls_conn_interest() bits; equal to REACTOR_READ and REACTOR_WRITE. */
#define TLS_READ 1u
#define TLS_WRITE 2u

/* ---- record cryptography ------------------------------------------------ */

/* The environment variable both programs hand to tls_crypto_parse(). */
#define TLS_CRYPTO_ENV "HOODY_TUNNEL_CRYPTO"

/* Whose AES-CTR and GHASH the AES-GCM records of new connections run with. */
enum tls_crypto_mode {
	TLS_CRYPTO_AUTO = 0, /* ours where this CPU runs them (VAES, VPCLMULQDQ, PCLMULQDQ), else BearSSL's */
	TLS_CRYPTO_BEARSSL,  /* BearSSL's own, as BearSSL picks them (x86ni or ct64, pclmul or ctmul64) */
	TLS_CRYPTO_MODE_MAX
};

/*
 * A value of HOODY_TUNNEL_CRYPTO: NULL, "" or "auto" is TLS_CRYPTO_AUTO,
 * "bearssl" TLS_CRYPTO_BEARSSL (ASCII case ignored). 0, or -EINVAL (mode
 * untouched) for any other value.
 */
int tls_crypto_parse(const char *value, enum tls_crypto_mode *mode);

/* The mode of the connections started from now on (process-wide; TLS_CRYPTO_AUTO until set). */
void tls_crypto_set_mode(enum tls_crypto_mode mode);

/* The current mode. */
enum tls_crypto_mode tls_crypto_mode(void);

/*
 * One line for a start-up log: the suites in order and what AES-GCM runs
 * with in the current mode ("ECDHE with AES-128-GCM, AES-256-GCM,
 * ChaCha20-Poly1305; AES-GCM with AES-CTR 512-bit VAES, GHASH 512-bit
 * VPCLMULQDQ"), into buf (cap bytes, cut to fit). Returns buf.
 */
const char *tls_crypto_describe(char *buf, size_t cap);

/* ---- trust anchors ------------------------------------------------------ */

/*
 * The CA certificates a client accepts, as BearSSL trust anchors. Every
 * anchor's name and key bytes are owned by the struct.
 */
struct tls_anchors {
	br_x509_trust_anchor *ta; /* ta[0..n) */
	size_t n;
	size_t cap;     /* allocated entries of ta */
	size_t skipped; /* certificates in the file BearSSL could not decode */
};

/*
 * Load every certificate of the PEM file path (for example
 * /etc/ssl/certs/ca-certificates.crt, or a --ca-file) as a trust anchor.
 * `a` is initialised (any previous content is NOT freed). Certificates
 * BearSSL cannot decode (unsupported key types) are counted in a->skipped
 * and left out. Returns 0, or -errno with a message in err[errlen]
 * (missing or unreadable file, not PEM, no usable certificate: -EINVAL,
 * out of memory: -ENOMEM); on error `a` holds nothing to free.
 */
int tls_anchors_load(struct tls_anchors *a, const char *path, char *err, size_t errlen);

/* Free the anchors; `a` is then empty. Safe on a zeroed struct. */
void tls_anchors_fini(struct tls_anchors *a);

/* ---- server credentials ------------------------------------------------- */

struct tls_creds_data;

/*
 * A certificate chain and its private key for the server side. The
 * loaded material lives in a reference-counted heap object: the struct
 * holds one reference, every tls_conn_server() takes another, and
 * tls_conn_fini() releases it. So a reload is: load into a new struct,
 * make it the one new connections use, then tls_server_creds_fini() the
 * old struct; connections still running keep the old material alive until
 * they end. Single-threaded use only (the counter is not atomic).
 */
struct tls_server_creds {
	struct tls_creds_data *d; /* NULL when not loaded */
	int key_type;             /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	size_t chain_len;         /* certificates in the chain */
};

/*
 * Load the certificate chain from cert_pem (end-entity certificate first,
 * then intermediates; "CERTIFICATE" PEM objects) and the private key from
 * key_pem ("PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY" or "EC PRIVATE KEY";
 * not encrypted). Checks that the key belongs to the first certificate.
 * Returns 0, or -errno with a message in err[errlen]: missing/unreadable
 * file (the open errno), no certificate, bad PEM, undecodable certificate
 * or key, encrypted key, unsupported key type or curve, key does not
 * match the certificate (-EINVAL), out of memory (-ENOMEM).
 */
int tls_server_creds_load(struct tls_server_creds *c, const char *cert_pem, const char *key_pem, char *err,
			  size_t errlen);

/*
 * Drop the struct's reference; the material is freed when no connection
 * uses it any more. `c` is then empty. Safe on a zeroed struct.
 */
void tls_server_creds_fini(struct tls_server_creds *c);

/* ---- connections -------------------------------------------------------- */

/*
 * X.509 "validator" for insecure client mode: accepts any chain and hands
 * the end-entity key to the engine. Private to tls.c (here for its size).
 */
struct tls_x509_any {
	const br_x509_class *vtable;
	br_x509_decoder_context dec; /* decodes the end-entity certificate */
	const br_x509_pkey *pkey;    /* its key, once the chain has ended */
	uint32_t depth;              /* certificates seen in this chain */
};

/*
 * Optional transport hooks (tests, instrumentation): called instead of
 * recv()/send() on fd. Return bytes moved (> 0), 0 for EOF (recv only), or
 * -errno (-EAGAIN when the socket would block).
 */
typedef ssize_t tls_recv_fn(void *ctx, int fd, void *buf, size_t len);
typedef ssize_t tls_send_fn(void *ctx, int fd, const void *buf, size_t len);

/*
 * One TLS connection (caller-allocated; contents private). All calls take
 * the connection's non-blocking stream socket; the conn never closes it.
 * Failures are sticky: after the first error every call returns it again.
 */
struct tls_conn {
	union {
		br_ssl_client_context client;
		br_ssl_server_context server;
	} ssl;
	union {
		br_x509_minimal_context minimal; /* client, verifying */
		struct tls_x509_any any;         /* client, insecure */
	} x509;
	br_ssl_engine_context *eng;   /* &ssl.client.eng or &ssl.server.eng */
	unsigned char *iobuf;         /* BR_SSL_BUFSIZE_BIDI bytes, malloc'd */
	struct tls_creds_data *creds; /* server: the reference we hold */
	tls_recv_fn *io_recv;         /* NULL: recv(2) */
	tls_send_fn *io_send;         /* NULL: send(2) with MSG_NOSIGNAL */
	void *io_ctx;
	int err;                  /* 0, or the sticky -errno */
	unsigned hs_done : 1;     /* the handshake has completed */
	unsigned eof : 1;         /* the peer closed TCP after the handshake */
	unsigned closing : 1;     /* tls_conn_close() was called */
	unsigned ended : 1;       /* clean end: close_notify received (and answered) */
	unsigned got_bytes : 1;   /* first_byte is valid */
	unsigned char first_byte; /* first byte from the peer (0x16: a TLS handshake) */
	char msg[112];            /* text of err, or of an unclean EOF */
	unsigned char *rx;        /* read-ahead: socket bytes not yet given to the engine */
	size_t rx_pos, rx_len;
	unsigned char *tx; /* records taken from the engine, not yet sent */
	size_t tx_pos, tx_len;
};

/*
 * Start a client connection: `c` is initialised, the ClientHello is
 * assembled and waits for the first writable event (tls_conn_flush(), or
 * any read/write call). server_name is sent as SNI and is the name the
 * server certificate must carry (DNS name or CN; for an IP literal the
 * certificate needs it as a DNS name, as BearSSL does not match iPAddress
 * entries); it must be non-NULL unless insecure. With insecure != 0 the
 * chain, dates and name are not checked at all (the caller warns the
 * user) and `a` may be NULL. `a` must outlive the connection.
 * Returns 0, -EINVAL (no anchors or name while verifying, name longer than
 * 255 bytes), -ENOMEM, or -EIO (engine setup failed); on error there is
 * nothing to fini.
 */
int tls_conn_client(struct tls_conn *c, const struct tls_anchors *a, const char *server_name, int insecure);

/*
 * Start a server connection with the loaded creds (a reference is taken;
 * `cr` itself may be finied while the conn lives). 0, -EINVAL (creds not
 * loaded), -ENOMEM or -EIO; on error there is nothing to fini.
 */
int tls_conn_server(struct tls_conn *c, const struct tls_server_creds *cr);

/*
 * Pump the engine (send pending records, receive records) and return up to
 * n bytes (n > 0) of plaintext: > 0 bytes read; 0 at the end of the stream
 * (the peer's close_notify, or TCP EOF after the handshake, in which case
 * tls_conn_error() says the close was not clean); -EAGAIN when more needs
 * the socket (watch tls_conn_interest()); or a failure: -EPROTO (TLS or
 * certificate error, text in tls_conn_error()), -ECONNRESET (peer closed
 * during the handshake, or reset), another -errno of recv/send, -EINVAL
 * (n == 0).
 * Backpressure: a caller that stops reading while plaintext is pending
 * (tls_conn_pending() > 0) gets no READ interest and no socket event for
 * it; it must call tls_conn_read() again when it can take more.
 */
ssize_t tls_conn_read(struct tls_conn *c, int fd, void *buf, size_t n);

/*
 * Encrypt as much of the iovecs as the engine takes and push the records
 * to the socket as far as it accepts them. Returns the plaintext bytes
 * accepted (> 0; they are the engine's now, the caller forgets them; the
 * records may still wait for WRITE interest), 0 if the iovecs are empty,
 * -EAGAIN when nothing was accepted (handshake not finished, or the
 * engine's output buffer is full because the socket is blocked), -EPIPE
 * after tls_conn_close() or the peer's close_notify, or a failure as for
 * tls_conn_read().
 * After -EAGAIN, retry after the next READ or WRITE event of
 * tls_conn_interest(), once that event's tls_conn_read()/tls_conn_flush()
 * has run: the handshake advances inside those calls, and no socket event
 * announces its end. The pattern per event: read until -EAGAIN, then
 * write what is pending, then flush.
 */
ssize_t tls_conn_writev(struct tls_conn *c, int fd, const struct iovec *iov, int iovcnt);

/*
 * Move the handshake on without taking plaintext: send and receive
 * records while it is not done (for an owner that reads nothing yet).
 * 0 once done, -EAGAIN when the socket must be waited for
 * (tls_conn_interest), or a failure as for tls_conn_read().
 */
int tls_conn_handshake(struct tls_conn *c, int fd);

/*
 * Push pending records (handshake messages, data, alerts, close_notify).
 * 0 when nothing is pending, -EAGAIN when some remain (WRITE interest), or
 * a failure as for tls_conn_read().
 */
int tls_conn_flush(struct tls_conn *c, int fd);

/*
 * TLS_WRITE iff records wait to be sent; TLS_READ iff the engine wants
 * records (not while decrypted plaintext waits for the app, not after
 * close_notify or EOF). 0 after a failure or a clean end: close the fd.
 */
unsigned tls_conn_interest(const struct tls_conn *c);

/* Plaintext bytes decrypted and waiting for tls_conn_read(). */
size_t tls_conn_pending(const struct tls_conn *c);

/*
 * Bytes tls_conn_read() could deliver or feed to the engine now without
 * the socket: decrypted plaintext, and what was read ahead from the socket
 * while the engine takes records. A reader that stops while this is > 0
 * must come back on its own (no socket event will); check again after a
 * flush, which may let the engine take records again.
 */
size_t tls_conn_buffered(const struct tls_conn *c);

/* 1 when the peer's first byte was not a TLS handshake record (0x16): it speaks something else. */
int tls_conn_peer_not_tls(const struct tls_conn *c);

/* 1 once the handshake has completed (application data may flow). */
int tls_conn_handshake_done(const struct tls_conn *c);

/*
 * Start a clean close: queue close_notify (after any buffered data) and
 * push it as far as the socket takes. 0 when sent, -EAGAIN when some
 * remains (keep WRITE interest, or give up on a timer), or a failure.
 * Reads still work (to wait for the peer's close_notify); writes fail.
 */
int tls_conn_close(struct tls_conn *c, int fd);

/*
 * Why the connection failed ("certificate signed by an unknown issuer",
 * "received fatal alert handshake_failure (40)", ...), or a note on an
 * unclean end ("peer closed the connection without close_notify"); NULL
 * when neither happened.
 */
const char *tls_conn_error(const struct tls_conn *c);

/* The BearSSL error code of the engine (BR_ERR_*), BR_ERR_OK if none. */
int tls_conn_br_error(const struct tls_conn *c);

/* Use io_recv/io_send (either may be NULL for the syscall) on this conn. */
void tls_conn_set_io(struct tls_conn *c, tls_recv_fn *io_recv, tls_send_fn *io_send, void *ctx);

/* Free the I/O buffer and drop the creds reference. Safe on a zeroed struct. */
void tls_conn_fini(struct tls_conn *c);

/* Text for a BearSSL error code (BR_ERR_* or X.509 BR_ERR_X509_*). */
const char *tls_strerror(int br_err);

#endif
