#include "ck_cpu.h"

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
#endif
    return f;
}
