/*
 * fakerandom.h: getrandom(2) that a unit test can make fail.
 *
 * A test binary whose source includes this header is linked with
 * -Wl,--wrap=getrandom (the Makefile's rule), so the project's calls of
 * getrandom (util_random, and through it every random number the code
 * takes) reach __wrap_getrandom below, which passes them to the real one
 * until fakerandom_fail() says otherwise. Nothing in the programs changes:
 * only these test binaries are linked that way. Include it in one file of
 * a binary.
 */
#ifndef HT_TEST_FAKERANDOM_H
#define HT_TEST_FAKERANDOM_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

ssize_t __real_getrandom(void *buf, size_t n, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t n, unsigned flags);

static struct {
	unsigned long pass;  /* calls still let through before failing */
	unsigned long fail;  /* then calls that fail (ULONG_MAX: all of them) */
	int err;             /* with this errno */
	unsigned long calls; /* every call seen */
} fakerandom;

ssize_t
__wrap_getrandom(void *buf, size_t n, unsigned flags)
{
	fakerandom.calls++;
	if (fakerandom.fail > 0 && fakerandom.pass == 0) {
		if (fakerandom.fail != ULONG_MAX)
			fakerandom.fail--;
		errno = fakerandom.err;
		return -1;
	}
	if (fakerandom.pass > 0)
		fakerandom.pass--;
	return __real_getrandom(buf, n, flags);
}

/*
 * After `pass` more calls go through, `fail` calls (ULONG_MAX: every one
 * from then on) fail with errno err; then calls go through again.
 */
static inline void
fakerandom_fail(unsigned long pass, unsigned long fail, int err)
{
	fakerandom.pass = pass;
	fakerandom.fail = fail;
	fakerandom.err = err;
}

/* Every call goes through again. */
static inline void
fakerandom_off(void)
{
	fakerandom_fail(0, 0, 0);
}

#endif
