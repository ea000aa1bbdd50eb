/*
 * test_auth.c: token generation, token / Bearer / Basic checks, malformed
 * headers, and the admin API's rule (--admin-auth).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "fakerandom.h"
#include "util.h"

/* Bearer / Basic check on a C string header value. */
static int
bearer(const char *hdr, const char *token)
{
	return auth_bearer_check(hdr, strlen(hdr), token);
}

static int
basic(const char *hdr, const char *user, const char *pass)
{
	return auth_basic_check(hdr, strlen(hdr), user, pass);
}

/* "Basic " + base64(cred). */
static const char *
basic_hdr(char *out, const char *scheme, const char *cred)
{
	size_t n = strlen(scheme);

	memcpy(out, scheme, n);
	util_base64_encode(out + n, cred, strlen(cred));
	return out;
}

static void
test_generate(void **state)
{
	char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1], small[AUTH_TOKEN_LEN], none[AUTH_TOKEN_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(auth_token_generate(a, sizeof(a)), 0);
	assert_int_equal(auth_token_generate(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), AUTH_TOKEN_LEN);
	assert_true(AUTH_TOKEN_LEN >= 43);
	assert_string_not_equal(a, b);
	for (i = 0; i < AUTH_TOKEN_LEN; i++) {
		char c = a[i];
		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_');
	}
	memset(small, 'x', sizeof(small));
	assert_int_equal(auth_token_generate(small, sizeof(small)), -ENOSPC);
	assert_int_equal(small[0], 'x');
	/* no random numbers: no token, and nothing written */
	memset(none, 'y', sizeof(none));
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	assert_int_equal(auth_token_generate(none, sizeof(none)), -ENOSYS);
	fakerandom_off();
	assert_int_equal(none[0], 'y');
	/* A generated token checks against itself, as a bearer too. */
	assert_true(auth_token_check(a, strlen(a), a, strlen(a)));
	{
		char hdr[64];
		snprintf(hdr, sizeof(hdr), "Bearer %s", a);
		assert_true(bearer(hdr, a));
		assert_false(bearer(hdr, b));
	}
}

/* Over many tokens every base64url character shows up: the tokens really
 * use 6 bits per character. */
static void
test_generate_alphabet(void **state)
{
	int seen[256] = { 0 }, distinct = 0, i;
	char t[AUTH_TOKEN_LEN + 1];
	size_t k;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(auth_token_generate(t, sizeof(t)), 0);
		for (k = 0; k < AUTH_TOKEN_LEN; k++)
			seen[(unsigned char)t[k]]++;
	}
	for (i = 0; i < 256; i++)
		distinct += seen[i] > 0;
	assert_int_equal(distinct, 64);
}

static void
test_token_check(void **state)
{
	(void)state;
	assert_true(auth_token_check("secret", 6, "secret", 6));
	assert_false(auth_token_check("secret", 6, "secreT", 6));
	assert_false(auth_token_check("secret", 6, "secre", 5));
	assert_false(auth_token_check("secret", 6, "secrets", 7));
	assert_false(auth_token_check("secret", 6, "", 0));
	assert_false(auth_token_check("secret", 6, NULL, 0));
	assert_false(auth_token_check("secret", 6, NULL, 6));
	/* Length is part of the comparison, not just a prefix. */
	assert_false(auth_token_check("secret", 6, "secret\0", 7));
	/* An unset secret never matches, not even "". */
	assert_false(auth_token_check("", 0, "", 0));
	assert_false(auth_token_check(NULL, 0, "", 0));
	assert_false(auth_token_check(NULL, 0, "x", 1));
}

static void
test_bearer(void **state)
{
	(void)state;
	assert_true(bearer("Bearer tok-123", "tok-123"));
	assert_true(bearer("bearer tok-123", "tok-123"));
	assert_true(bearer("BEARER tok-123", "tok-123"));
	assert_true(bearer("  Bearer \t  tok-123 \t", "tok-123"));
	assert_false(bearer("Bearer tok-124", "tok-123"));
	assert_false(bearer("Bearer tok-1234", "tok-123"));
	assert_false(bearer("Bearer tok-12", "tok-123"));
	assert_false(bearer("Bearer tok 123", "tok 12"));
	/* Malformed values. */
	assert_false(bearer("", "tok"));
	assert_false(bearer("Bearer", "tok"));
	assert_false(bearer("Bearer ", "tok"));
	assert_false(bearer("Bearertok", "tok"));
	assert_false(bearer("Bearer:tok", "tok"));
	assert_false(bearer("Beare tok", "tok"));
	assert_false(bearer("Basic tok", "tok"));
	assert_false(bearer("tok", "tok"));
	assert_false(bearer("X Bearer tok", "tok"));
	/* No secret configured: nothing matches. */
	assert_false(bearer("Bearer ", ""));
	assert_false(bearer("Bearer tok", NULL));
	assert_false(auth_bearer_check(NULL, 0, "tok"));
	/* Only len bytes are read: the value need not be terminated. */
	{
		const char v[] = "Bearer tokXXXX";
		assert_true(auth_bearer_check(v, 10, "tok"));
		assert_false(auth_bearer_check(v, 11, "tok"));
	}
}

static void
test_basic(void **state)
{
	char h[256];

	(void)state;
	/* RFC 7617's example: Aladdin / open sesame. */
	assert_true(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame"));
	assert_true(basic("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame"));
	assert_true(basic(" BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ== ", "Aladdin", "open sesame"));
	assert_true(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", NULL, "open sesame"));
	assert_false(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "aladdin", "open sesame"));
	assert_false(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesam"));
	assert_false(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame!"));
	assert_false(basic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdi", "open sesame"));
	/* The password may hold ':'; the user-id ends at the first one. */
	assert_true(basic(basic_hdr(h, "Basic ", "u:p:a:ss"), "u", "p:a:ss"));
	assert_false(basic(basic_hdr(h, "Basic ", "u:p:a:ss"), "u:p", "a:ss"));
	/* Username NULL: any user-id, even empty. */
	assert_true(basic(basic_hdr(h, "Basic ", ":pw"), NULL, "pw"));
	assert_true(basic(basic_hdr(h, "Basic ", "anyone:pw"), NULL, "pw"));
	assert_false(basic(basic_hdr(h, "Basic ", "anyone:pX"), NULL, "pw"));
	/* An empty user-id is not the configured one. */
	assert_false(basic(basic_hdr(h, "Basic ", ":pw"), "bob", "pw"));
	/* Empty password given vs configured. */
	assert_false(basic(basic_hdr(h, "Basic ", "bob:"), "bob", "pw"));
	assert_false(basic(basic_hdr(h, "Basic ", "bob:"), "bob", ""));
	assert_false(basic(basic_hdr(h, "Basic ", "bob:pw"), "bob", NULL));
	/* Unpadded base64 is accepted ("bob:pw" is 6 bytes, no padding anyway;
	 * "bob:pw1" needs one '='). */
	assert_true(basic("Basic Ym9iOnB3MQ==", "bob", "pw1"));
	assert_true(basic("Basic Ym9iOnB3MQ", "bob", "pw1"));
}

static void
test_basic_malformed(void **state)
{
	char big[2 * AUTH_BASIC_MAX];
	char h[4 * AUTH_BASIC_MAX];

	(void)state;
	assert_false(basic("", NULL, "pw"));
	assert_false(basic("Basic", NULL, "pw"));
	assert_false(basic("Basic ", NULL, "pw"));
	assert_false(basic("BasicYm9iOnB3", NULL, "pw"));
	assert_false(basic("Bearer Ym9iOnB3", NULL, "pw"));
	assert_false(basic("Ym9iOnB3", NULL, "pw"));
	assert_false(basic("Basic Ym9i%OnB3", NULL, "pw"));     /* bad character */
	assert_false(basic("Basic Ym9iOnB3 x", NULL, "pw"));    /* inner space */
	assert_false(basic("Basic Ym9iOnB3M", NULL, "pw3"));    /* length % 4 == 1 */
	assert_false(basic("Basic Ym9iOnB3MR==", NULL, "pw1")); /* non-canonical bits */
	assert_false(basic("Basic Ym9i", NULL, "bob"));         /* "bob": no colon */
	assert_false(basic("Basic ====", NULL, "pw"));          /* decodes to nothing */
	assert_false(auth_basic_check(NULL, 0, NULL, "pw"));
	/* A huge credential is refused, not truncated. */
	memset(big, 'a', sizeof(big) - 1);
	big[0] = 'u';
	big[1] = ':';
	big[sizeof(big) - 1] = '\0';
	assert_false(basic(basic_hdr(h, "Basic ", big), "u", big + 2));
	/* The largest allowed credential still works. */
	big[AUTH_BASIC_MAX] = '\0';
	assert_true(basic(basic_hdr(h, "Basic ", big), "u", big + 2));
	big[AUTH_BASIC_MAX + 1] = '\0';
	big[AUTH_BASIC_MAX] = 'a';
	assert_false(basic(basic_hdr(h, "Basic ", big), "u", big + 2));
}

/*
 * --admin-auth, every mode x peer x operation, written out row by row
 * (1: the token is needed). Local is a request from this host.
 */
static const struct {
	enum auth_admin_mode mode;
	int local;
	int open, read, write; /* needs the token for AUTH_OP_OPEN / _READ / _WRITE */
} admin_rule[] = {
	{ AUTH_ADMIN_REMOTE, 1, 0, 0, 1 }, { AUTH_ADMIN_REMOTE, 0, 0, 1, 1 },
	{ AUTH_ADMIN_WRITE, 1, 0, 0, 1 },  { AUTH_ADMIN_WRITE, 0, 0, 0, 1 },
	{ AUTH_ADMIN_ALL, 1, 0, 1, 1 },    { AUTH_ADMIN_ALL, 0, 0, 1, 1 },
	{ AUTH_ADMIN_NONE, 1, 0, 0, 0 },   { AUTH_ADMIN_NONE, 0, 0, 0, 0 },
};

static void
test_admin_needs_token(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(sizeof(admin_rule) / sizeof(admin_rule[0]), 2 * AUTH_ADMIN_MODE_MAX);
	for (i = 0; i < sizeof(admin_rule) / sizeof(admin_rule[0]); i++) {
		enum auth_admin_mode m = admin_rule[i].mode;
		int l = admin_rule[i].local;

		assert_int_equal(auth_admin_needs_token(m, l, AUTH_OP_OPEN), admin_rule[i].open);
		assert_int_equal(auth_admin_needs_token(m, l, AUTH_OP_READ), admin_rule[i].read);
		assert_int_equal(auth_admin_needs_token(m, l, AUTH_OP_WRITE), admin_rule[i].write);
	}
	/* values out of range need the token (fail closed), even under none */
	assert_true(auth_admin_needs_token(AUTH_ADMIN_MODE_MAX, 1, AUTH_OP_READ));
	assert_true(auth_admin_needs_token((enum auth_admin_mode)99, 1, AUTH_OP_WRITE));
	assert_true(auth_admin_needs_token(AUTH_ADMIN_NONE, 1, AUTH_OP_MAX));
	assert_true(auth_admin_needs_token(AUTH_ADMIN_WRITE, 1, (enum auth_admin_op) - 1));
}

/* The same table through auth_admin_check, with no token, a wrong one, a malformed one and the right one. */
static void
test_admin_check(void **state)
{
	static const char *const refused[] = {
		NULL, "Bearer adm-tok-2", "Bearer adm-tok", "Basic adm-tok-1", "adm-tok-1", "Bearer"
	};
	static const enum auth_admin_op ops[] = { AUTH_OP_OPEN, AUTH_OP_READ, AUTH_OP_WRITE };
	const char *tok = "adm-tok-1";
	size_t i, k, j;

	(void)state;
	for (i = 0; i < sizeof(admin_rule) / sizeof(admin_rule[0]); i++) {
		for (k = 0; k < 3; k++) {
			enum auth_admin_mode m = admin_rule[i].mode;
			int l = admin_rule[i].local, op = ops[k];
			int need = op == AUTH_OP_OPEN   ? admin_rule[i].open
				   : op == AUTH_OP_READ ? admin_rule[i].read
							: admin_rule[i].write;

			assert_true(auth_admin_check(m, l, ops[k], "Bearer adm-tok-1", 16, tok));
			assert_true(auth_admin_check(m, l, ops[k], " bearer  adm-tok-1 ", 19, tok));
			for (j = 0; j < sizeof(refused) / sizeof(refused[0]); j++) {
				const char *v = refused[j];

				assert_int_equal(auth_admin_check(m, l, ops[k], v, v ? strlen(v) : 0, tok),
						 !need);
			}
			/* no secret configured: a token is never accepted where one is needed */
			assert_int_equal(auth_admin_check(m, l, ops[k], "Bearer ", 7, ""), !need);
			assert_int_equal(auth_admin_check(m, l, ops[k], "Bearer x", 8, NULL), !need);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_generate_alphabet),
		cmocka_unit_test(test_token_check),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_basic_malformed),
		cmocka_unit_test(test_admin_needs_token),
		cmocka_unit_test(test_admin_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
