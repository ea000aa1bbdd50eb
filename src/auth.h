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
 * Not here: reading the token file (config.c), deciding which endpoints
 * need a token (api.c), sending 401 / WWW-Authenticate (expose.c, expose_http.c).
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

#endif
