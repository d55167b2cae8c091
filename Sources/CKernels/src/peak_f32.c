// Peak-rate loops of the FP32 FMA instructions (see ck_peak.h): 12 independent accumulator chains
// (enough to hide the FMA latency behind the throughput of two pipes), operands in registers, the
// multiplier passed through an empty asm every round so the loop cannot be folded, the
// accumulators summed into a volatile sink so it is not removed.
#include "ck_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

static volatile float ck_peak_f32_sink;

#define CK_PEAK_F32_CHAINS 12

#define CK_PEAK_F32_BODY(VEC, SET1, FMA, ADD, FIRST, LANES)                                 \
    VEC acc[CK_PEAK_F32_CHAINS];                                                           \
    for (int j = 0; j < CK_PEAK_F32_CHAINS; j++) acc[j] = SET1(0.5f + (float)j);           \
    VEC a = SET1(0.999f), b = SET1(1e-3f);                                                  \
    for (size_t i = 0; i < iters; i++) {                                                    \
        _Pragma("GCC unroll 16")                                                            \
        for (int j = 0; j < CK_PEAK_F32_CHAINS; j++) acc[j] = FMA(acc[j], a, b);            \
        __asm__ volatile("" : "+x"(a));                                                     \
    }                                                                                       \
    VEC s = acc[0];                                                                         \
    for (int j = 1; j < CK_PEAK_F32_CHAINS; j++) s = ADD(s, acc[j]);                        \
    ck_peak_f32_sink = FIRST(s);                                                            \
    return (uint64_t)iters * CK_PEAK_F32_CHAINS * (LANES);

__attribute__((target("avx512f")))
uint64_t ck_peak_f32__avx512f(size_t iters) {
    CK_PEAK_F32_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32, 16)
}

__attribute__((target("avx2,fma")))
uint64_t ck_peak_f32__avx2(size_t iters) {
    CK_PEAK_F32_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32, 8)
}

#else

uint64_t ck_peak_f32__avx512f(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_f32__avx2(size_t iters) { (void)iters; return 0; }

#endif
