/*
 * test_tls_cpu.c: our CPUID reading agrees with the compiler's own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tls_cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

static void
test_agrees_with_gcc(void **state)
{
	unsigned f = tls_cpu_features();

	(void)state;
	__builtin_cpu_init();
	assert_int_equal(!!(f & TLS_CPU_SSSE3), !!__builtin_cpu_supports("ssse3"));
	assert_int_equal(!!(f & TLS_CPU_PCLMUL), !!__builtin_cpu_supports("pclmul"));
	assert_int_equal(!!(f & TLS_CPU_AESNI), !!__builtin_cpu_supports("aes"));
	assert_int_equal(!!(f & TLS_CPU_AVX2), !!__builtin_cpu_supports("avx2"));
	assert_int_equal(!!(f & TLS_CPU_AVX512),
			 __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"));
	assert_int_equal(!!(f & TLS_CPU_VPCLMUL), !!__builtin_cpu_supports("vpclmulqdq"));
	assert_int_equal(!!(f & TLS_CPU_VAES), !!__builtin_cpu_supports("vaes"));
	print_message("  features: %#x\n", f);
}

#else

static void
test_agrees_with_gcc(void **state)
{
	(void)state;
	skip();
}

#endif

static void
test_has(void **state)
{
	unsigned f = tls_cpu_features();

	(void)state;
	assert_int_equal(tls_cpu_features(), f); /* stable */
	assert_true(tls_cpu_has(0));
	assert_int_equal(tls_cpu_has(f), 1);
	assert_int_equal(tls_cpu_has(f | (1u << 31)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_gcc),
		cmocka_unit_test(test_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
