/*
 * test_tls_cpu.c: our CPUID reading agrees with the compiler's own;
 * hiding features and naming them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

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

/* tls_cpu_hide takes features away and gives them back; it never adds one. */
static void
test_hide(void **state)
{
	unsigned f = tls_cpu_features();

	(void)state;
	tls_cpu_hide(TLS_CPU_VAES | TLS_CPU_AESNI);
	assert_int_equal(tls_cpu_features(), f & ~(TLS_CPU_VAES | TLS_CPU_AESNI));
	assert_false(tls_cpu_has(TLS_CPU_AESNI));
	tls_cpu_hide(TLS_CPU_ALL);
	assert_int_equal(tls_cpu_features(), 0);
	assert_true(tls_cpu_has(0));
	tls_cpu_hide(0);
	assert_int_equal(tls_cpu_features(), f);
}

static void
test_names(void **state)
{
	char buf[100];

	(void)state;
	assert_string_equal(tls_cpu_names(0, buf, sizeof(buf)), "");
	assert_string_equal(tls_cpu_names(TLS_CPU_VAES, buf, sizeof(buf)), "VAES");
	assert_string_equal(tls_cpu_names(TLS_CPU_VAES | TLS_CPU_AESNI | TLS_CPU_AVX512, buf, sizeof(buf)),
			    "AES-NI AVX-512 VAES");
	assert_string_equal(tls_cpu_names(TLS_CPU_ALL, buf, sizeof(buf)),
			    "SSSE3 PCLMULQDQ AES-NI AVX2 AVX-512 VPCLMULQDQ VAES");
	assert_string_equal(tls_cpu_names(TLS_CPU_ALL, buf, 12), "SSSE3 PCLMU"); /* cut to fit */
	assert_string_equal(tls_cpu_names(TLS_CPU_ALL, buf, 1), "");
	assert_ptr_equal(tls_cpu_names(TLS_CPU_ALL, buf, 0), buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agrees_with_gcc),
		cmocka_unit_test(test_has),
		cmocka_unit_test(test_hide),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
