/*
 * auth.c: token generation, constant-time credential checks, and the
 * admin API's rule of who needs the token.
 *
 * Header values are parsed by hand (scheme, whitespace, credential) and
 * never copied except for the Basic credential, which is decoded into a
 * stack buffer and wiped. Comparisons always run to the end.
 */
#include "auth.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* see auth.h */
int
auth_token_generate(char *out, size_t cap)
{
	uint8_t raw[AUTH_TOKEN_BYTES];
	char text[UTIL_BASE64_LEN(AUTH_TOKEN_BYTES) + 1];
	size_t i;
	int rc;

	if (cap < AUTH_TOKEN_LEN + 1)
		return -ENOSPC;
	rc = util_random(raw, sizeof(raw));
	if (rc < 0)
		return rc;
	util_base64_encode(text, raw, sizeof(raw));
	for (i = 0; i < AUTH_TOKEN_LEN; i++)
		out[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	out[AUTH_TOKEN_LEN] = '\0';
	util_wipe(raw, sizeof(raw));
	util_wipe(text, sizeof(text));
	return 0;
}

/* see auth.h */
int
auth_token_check(const char *expected, size_t elen, const char *given, size_t glen)
{
	if (expected == NULL || elen == 0)
		return 0;
	if (given == NULL)
		glen = 0;
	return util_ct_equal(given, glen, expected, elen);
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Match "<scheme> <credential>" in v[0..len): the scheme compared without
 * case, at least one space or tab after it, outer whitespace trimmed.
 * Sets *cred and *clen; 0, or -1 when the value does not have that shape.
 */
static int
split_scheme(const char *v, size_t len, const char *scheme, const char **cred, size_t *clen)
{
	size_t slen = strlen(scheme), i = 0, end = len;

	if (v == NULL)
		return -1;
	while (i < end && is_ws(v[i]))
		i++;
	while (end > i && is_ws(v[end - 1]))
		end--;
	if (end - i <= slen || !util_strcaseeq(v + i, slen, scheme) || !is_ws(v[i + slen]))
		return -1;
	i += slen;
	while (i < end && is_ws(v[i]))
		i++;
	*cred = v + i;
	*clen = end - i;
	return 0;
}

/* see auth.h */
int
auth_bearer_check(const char *v, size_t len, const char *token)
{
	const char *cred;
	size_t clen;

	if (token == NULL || split_scheme(v, len, "Bearer", &cred, &clen) < 0)
		return 0;
	return auth_token_check(token, strlen(token), cred, clen);
}

/* see auth.h */
int
auth_basic_check(const char *v, size_t len, const char *username, const char *password)
{
	uint8_t dec[AUTH_BASIC_MAX];
	const char *cred, *colon;
	size_t clen, ulen;
	ssize_t n;
	int user_ok, pass_ok;

	if (password == NULL || *password == '\0' || split_scheme(v, len, "Basic", &cred, &clen) < 0)
		return 0;
	if (clen > UTIL_BASE64_LEN(AUTH_BASIC_MAX))
		return 0;
	n = util_base64_decode(dec, sizeof(dec), cred, clen);
	colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
	if (colon == NULL) {
		user_ok = pass_ok = 0;
	} else {
		/* Both comparisons always run; combined without a branch. */
		ulen = (size_t)(colon - (const char *)dec);
		user_ok = username == NULL ? 1 : util_ct_equal(dec, ulen, username, strlen(username));
		pass_ok = util_ct_equal(colon + 1, (size_t)n - ulen - 1, password, strlen(password));
	}
	/* A failed decode may have written part of the text: clen bounds it. */
	util_wipe(dec, UTIL_MIN(clen, sizeof(dec)));
	return user_ok & pass_ok;
}

/* see auth.h */
int
auth_admin_needs_token(enum auth_admin_mode mode, int local, enum auth_admin_op op)
{
	if ((unsigned)op >= AUTH_OP_MAX)
		return 1;
	if (op == AUTH_OP_OPEN)
		return 0;
	switch (mode) {
	case AUTH_ADMIN_NONE: return 0;
	case AUTH_ADMIN_WRITE: return op != AUTH_OP_READ;
	case AUTH_ADMIN_REMOTE: return op != AUTH_OP_READ || !local;
	default: return 1; /* AUTH_ADMIN_ALL, and any value out of range */
	}
}

/* see auth.h */
int
auth_admin_check(enum auth_admin_mode mode, int local, enum auth_admin_op op, const char *v, size_t len,
		 const char *token)
{
	if (!auth_admin_needs_token(mode, local, op))
		return 1;
	return v != NULL && auth_bearer_check(v, len, token) == 1;
}
