/*
 * test_listenfds.c: socket activation. Listening sockets are placed at
 * fd 3 and up as the service manager would; the daemon takes them by
 * name, a lone unnamed one is the control plane's, foreign PIDs and bad
 * counts or descriptors are told apart, and leftovers are closed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listenfds.h"

/* A listening (or, listen_too = 0, merely bound) TCP socket on loopback at descriptor at. */
static void
place(int at, int listen_too)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 4), 0);
	if (fd != at) {
		assert_int_equal(dup2(fd, at), at);
		close(fd);
	}
}

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void
test_named(void **state)
{
	struct listenfds l;
	char err[128], rest[64];
	int fd;

	(void)state;
	place(3, 1);
	place(4, 1);
	place(5, 1);
	assert_int_equal(listenfds_parse(&l, "77", "3", "control:vhost:extra", 77, err, sizeof(err)), 3);
	assert_true(fcntl(3, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(4, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(listenfds_take(&l, "vhost"), 4);
	assert_int_equal(listenfds_take(&l, "vhost"), -1); /* taken once */
	fd = listenfds_take(&l, "control");
	assert_int_equal(fd, 3);
	assert_int_equal(listenfds_close_rest(&l, rest, sizeof(rest)), 1);
	assert_string_equal(rest, "extra");
	assert_false(is_open(5));
	close(3);
	close(4);
}

static void
test_anonymous_is_control(void **state)
{
	struct listenfds l;
	char err[128];

	(void)state;
	place(3, 1);
	assert_int_equal(listenfds_parse(&l, "9", "1", NULL, 9, err, sizeof(err)), 1);
	assert_int_equal(listenfds_take(&l, "vhost"), -1);
	assert_int_equal(listenfds_take(&l, "control"), 3);
	close(3);
	place(3, 1);
	assert_int_equal(listenfds_parse(&l, "9", "1", "unknown", 9, err, sizeof(err)), 1);
	assert_int_equal(listenfds_take(&l, "control"), 3);
	close(3);
	/* two unnamed: neither is guessed to be the control plane */
	place(3, 1);
	place(4, 1);
	assert_int_equal(listenfds_parse(&l, "9", "2", NULL, 9, err, sizeof(err)), 2);
	assert_int_equal(listenfds_take(&l, "control"), -1);
	assert_int_equal(listenfds_close_rest(&l, err, sizeof(err)), 2);
	assert_string_equal(err, "unnamed,unnamed");
}

static void
test_not_ours_or_bad(void **state)
{
	struct listenfds l;
	char err[128] = "";

	(void)state;
	assert_int_equal(listenfds_parse(&l, "78", "1", "control", 77, err, sizeof(err)), 0);
	assert_int_equal(listenfds_parse(&l, NULL, "1", NULL, 77, err, sizeof(err)), 0);
	assert_int_equal(listenfds_parse(&l, "77", NULL, NULL, 77, err, sizeof(err)), 0);
	assert_int_equal(listenfds_parse(&l, "77", "x", NULL, 77, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LISTEN_FDS=x"));
	assert_int_equal(listenfds_parse(&l, "77", "99", NULL, 77, err, sizeof(err)), -1);
	place(3, 0); /* bound, not listening */
	assert_int_equal(listenfds_parse(&l, "77", "1", "control", 77, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "descriptor 3 (control)"));
	close(3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_anonymous_is_control),
		cmocka_unit_test(test_not_ours_or_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
