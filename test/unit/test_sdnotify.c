/*
 * test_sdnotify.c: datagrams reach a socket named by a path and by an
 * abstract name; no manager is a silent success; bad names are refused;
 * the watchdog interval applies only to its PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

/* A datagram socket bound to name ("@x": abstract). */
static int
listener(const char *name)
{
	struct sockaddr_un a;
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, name, len);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&a,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))),
			 0);
	return fd;
}

static void
roundtrip(const char *name)
{
	struct sdnotify n;
	char got[256];
	ssize_t r;
	int fd = listener(name);

	assert_int_equal(sdnotify_open(&n, name), 1);
	assert_int_equal(sdnotify_send(&n, "READY=1\nSTATUS=2 sessions"), 0);
	r = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_int_equal(r, 25);
	got[r] = '\0';
	assert_string_equal(got, "READY=1\nSTATUS=2 sessions");
	sdnotify_close(&n);
	assert_int_equal(sdnotify_send(&n, "X=1"), 0); /* closed: a no-op */
	close(fd);
}

static void
test_path_and_abstract(void **state)
{
	char path[64], abstract[64];

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ht-sdnotify-%d", (int)getpid());
	unlink(path);
	roundtrip(path);
	unlink(path);
	snprintf(abstract, sizeof(abstract), "@ht-sdnotify-%d", (int)getpid());
	roundtrip(abstract);
}

static void
test_no_manager_and_bad_names(void **state)
{
	struct sdnotify n;
	char longname[200];

	(void)state;
	assert_int_equal(sdnotify_open(&n, NULL), 0);
	assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
	assert_int_equal(sdnotify_open(&n, ""), 0);
	assert_int_equal(sdnotify_open(&n, "relative/path"), -1);
	assert_int_equal(n.fd, -1);
	assert_int_equal(sdnotify_open(&n, "@"), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sdnotify_open(&n, longname), -1);
	/* a socket nobody listens on: the error comes back, nothing blocks */
	assert_int_equal(sdnotify_open(&n, "/tmp/ht-sdnotify-nobody-here"), 1);
	assert_true(sdnotify_send(&n, "READY=1") < 0);
	sdnotify_close(&n);
}

static void
test_watchdog(void **state)
{
	(void)state;
	assert_int_equal(sdnotify_watchdog_usec("30000000", NULL, 42), 30000000);
	assert_int_equal(sdnotify_watchdog_usec("30000000", "", 42), 30000000);
	assert_int_equal(sdnotify_watchdog_usec("30000000", "42", 42), 30000000);
	assert_int_equal(sdnotify_watchdog_usec("30000000", "43", 42), 0);
	assert_int_equal(sdnotify_watchdog_usec("30000000", "x", 42), 0);
	assert_int_equal(sdnotify_watchdog_usec(NULL, "42", 42), 0);
	assert_int_equal(sdnotify_watchdog_usec("0", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_usec("-5", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_usec("12s", NULL, 42), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_and_abstract),
		cmocka_unit_test(test_no_manager_and_bad_names),
		cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
