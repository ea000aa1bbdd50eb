/*
 * test_wsconnect.c: htc's WebSocket upgrade request: a fresh key in each,
 * the request fitting or not; with getrandom failing (fakerandom.h) no
 * request and a message that says why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fakerandom.h"
#include "htc/url.h"
#include "htc/wsconnect.h"

static void
test_request(void **state)
{
	char key[WS_HANDSHAKE_KEY_LEN + 1], key2[WS_HANDSHAKE_KEY_LEN + 1], out[1024], err[128];
	struct url u;
	ssize_t n;

	(void)state;
	assert_int_equal(url_parse(&u, "wss://tunnel.example:8443"), 0);
	n = wsconnect_request(&u, "hoody-tunnel.v1", key, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(strlen(key), WS_HANDSHAKE_KEY_LEN);
	assert_non_null(strstr(out, key));
	assert_non_null(strstr(out, "Host: tunnel.example:8443\r\n"));
	assert_true(wsconnect_request(&u, "hoody-tunnel.v1", key2, out, sizeof(out)) > 0);
	assert_string_not_equal(key, key2);
	assert_int_equal(wsconnect_request(&u, "hoody-tunnel.v1", key, out, 20), -ENOSPC);
	wsconnect_request_error(-ENOSPC, err, sizeof(err));
	assert_string_equal(err, "WebSocket handshake request too long");
	fakerandom_fail(0, ULONG_MAX, ENOSYS);
	assert_int_equal(wsconnect_request(&u, "hoody-tunnel.v1", key, out, sizeof(out)), -ENOSYS);
	fakerandom_off();
	wsconnect_request_error(-ENOSYS, err, sizeof(err));
	assert_non_null(strstr(err, "no random numbers for the WebSocket key: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
