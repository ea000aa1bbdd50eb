/*
 * tls_cpu.c: x86 feature detection with CPUID and XGETBV (see tls_cpu.h).
 */
#include "tls_cpu.h"

#include <stdio.h>

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <stddef.h>
#include <stdint.h>

/* XCR0 bits: SSE and AVX (YMM) state; opmask, ZMM_Hi256 and Hi16_ZMM state. */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xe6u

static uint32_t
xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return lo;
}

static unsigned
detect(void)
{
	unsigned a, b, c, d, f = 0, max;
	uint32_t os = 0;

	max = __get_cpuid_max(0, NULL);
	if (max < 1 || !__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (c & (1u << 9))
		f |= TLS_CPU_SSSE3;
	if (c & (1u << 1))
		f |= TLS_CPU_PCLMUL;
	if (c & (1u << 25))
		f |= TLS_CPU_AESNI;
	if (c & (1u << 27)) /* OSXSAVE: XGETBV is usable */
		os = xcr0();
	if (max < 7 || (os & XCR0_YMM) != XCR0_YMM)
		return f;
	__cpuid_count(7, 0, a, b, c, d);
	if (b & (1u << 5))
		f |= TLS_CPU_AVX2;
	if ((os & XCR0_ZMM) == XCR0_ZMM && (b & (1u << 16)) && (b & (1u << 30)))
		f |= TLS_CPU_AVX512;
	if (c & (1u << 10))
		f |= TLS_CPU_VPCLMUL;
	if (c & (1u << 9))
		f |= TLS_CPU_VAES;
	return f;
}

#else

static unsigned
detect(void)
{
	return 0;
}

#endif

static unsigned tls_cpu_hidden; /* tls_cpu_hide() */

/* see tls_cpu.h */
unsigned
tls_cpu_features(void)
{
	static unsigned features;
	static int done;

	if (!done) {
		features = detect();
		done = 1;
	}
	return features & ~tls_cpu_hidden;
}

/* see tls_cpu.h */
void
tls_cpu_hide(unsigned hide)
{
	tls_cpu_hidden = hide;
}

/* see tls_cpu.h */
const char *
tls_cpu_names(unsigned flags, char *buf, size_t cap)
{
	static const char *const names[] = { "SSSE3",   "PCLMULQDQ",  "AES-NI", "AVX2",
					     "AVX-512", "VPCLMULQDQ", "VAES" };
	size_t i, len = 0;
	int n;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & (1u << i)) || len >= cap)
			continue;
		n = snprintf(buf + len, cap - len, "%s%s", len > 0 ? " " : "", names[i]);
		if (n > 0)
			len += (size_t)n;
	}
	return buf;
}

/* see tls_cpu.h */
int
tls_cpu_has(unsigned want)
{
	return (tls_cpu_features() & want) == want;
}
