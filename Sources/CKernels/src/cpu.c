#include "ck_cpu.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

uint32_t ck_cpu_features(void) {
    uint32_t f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= CK_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= CK_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= CK_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= CK_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= CK_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) f |= CK_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avx512vbmi") && (f & CK_CPU_AVX512BW)) f |= CK_CPU_AVX512VBMI;
    // AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4; it uses the ymm state AVX2 already needs.
    unsigned a = 0, b = 0, c = 0, d = 0;
    if ((f & CK_CPU_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) f |= CK_CPU_AVXVNNI;
#endif
    return f;
}
