/*
 * auth.h: tokens and the checks that guard the daemon.
 *
 * Three secrets pass through here: the tunnel token (HELLO's auth.token),
 * the admin bearer token (Authorization: Bearer on the admin API) and the
 * per-binding Basic Auth password of EXPOSE visitors. Every comparison runs
 * in time that depends on the configured secret's length only
 * (util_ct_equal with the secret as its second operand), never on where a
 * guess goes wrong. Nothing here logs, allocates or keeps state; decoded
 * credentials live on the stack and are wiped before returning.
 *
 * The admin API's rule is here too, as pure functions: which requests need
 * the bearer token under --admin-auth, given who asks (this host or not)
 * and what the endpoint does.
 *
 * Not here: reading the token file (config.c), which endpoint is of which
 * kind (api.c), whether a peer is this host (forwarded.h), sending 401 /
 * WWW-Authenticate (api.c, expose.c, expose_http.c).
 */
#ifndef HT_AUTH_H
#define HT_AUTH_H

#include <stddef.h>

/* Random bytes in a generated token, and its text length (base64url,
 * no padding): 32 bytes -> 43 characters. */
#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_LEN 43

/* Longest "user:password" accepted inside a Basic credential, decoded. */
#define AUTH_BASIC_MAX 1024

/*
 * Generate a token: AUTH_TOKEN_BYTES from the OS, base64url without
 * padding ([A-Za-z0-9_-]), NUL-terminated into out. cap must be at least
 * AUTH_TOKEN_LEN + 1. Returns 0, -ENOSPC when cap is too small (out
 * untouched), or -errno from util_random.
 */
int auth_token_generate(char *out, size_t cap);

/*
 * 1 when given[0..glen) equals the configured secret expected[0..elen),
 * else 0. Constant time in elen. An empty or NULL expected never matches,
 * so an unset secret cannot be guessed as "".
 */
int auth_token_check(const char *expected, size_t elen, const char *given, size_t glen);

/*
 * 1 when the Authorization header value v[0..len) is "Bearer <token>"
 * carrying exactly `token` (a C string), else 0. The scheme is
 * case-insensitive; spaces and tabs around the value and one or more
 * between scheme and credential are allowed. A NULL or empty token never
 * matches. v need not be NUL-terminated.
 */
int auth_bearer_check(const char *v, size_t len, const char *token);

/*
 * 1 when the Authorization header value v[0..len) is "Basic <base64 of
 * user:password>" (RFC 7617) with the right credentials, else 0.
 * The user-id ends at the first ':' of the decoded text; the password is
 * the rest and may contain ':'. With username NULL any user-id (even an
 * empty one) is accepted and only the password is compared; otherwise
 * both are compared, both always (no early exit), in constant time in the
 * configured lengths. Malformed values (other scheme, bad base64, no ':',
 * more than AUTH_BASIC_MAX decoded bytes) give 0. A NULL or empty password
 * never matches.
 */
int auth_basic_check(const char *v, size_t len, const char *username, const char *password);

/* --admin-auth: who must show the admin bearer token, and where. */
enum auth_admin_mode {
	AUTH_ADMIN_REMOTE = 0, /* reads from other hosts, writes from anyone (the default) */
	AUTH_ADMIN_WRITE,      /* writes only; reads are open to every host */
	AUTH_ADMIN_ALL,        /* reads and writes, this host included */
	AUTH_ADMIN_NONE,       /* nothing: anyone who reaches the port may kill sessions */
	AUTH_ADMIN_MODE_MAX
};

/* What an admin request does, as far as the token is concerned. */
enum auth_admin_op {
	AUTH_OP_OPEN,  /* /api/v1/tunnel/health and the /healthz probes: never a token */
	AUTH_OP_READ,  /* sessions, tunnels, bindings, metrics (and a wrong method on a write route) */
	AUTH_OP_WRITE, /* changes something: DELETE of a session */
	AUTH_OP_MAX
};

/*
 * 1 when a request doing op needs the admin token under mode, else 0.
 * local is 1 when the request comes from this host (forwarded_local()),
 * 0 otherwise. Unknown mode or op values need it (fail closed).
 */
int auth_admin_needs_token(enum auth_admin_mode mode, int local, enum auth_admin_op op);

/*
 * 1 when the request may be answered: it needs no token
 * (auth_admin_needs_token), or its Authorization header value v[0..len)
 * (v NULL: no header) is "Bearer <token>" with exactly `token`, compared
 * in constant time. Else 0: answer 401. A NULL or empty token never
 * matches.
 */
int auth_admin_check(enum auth_admin_mode mode, int local, enum auth_admin_op op, const char *v, size_t len,
		     const char *token);

#endif
