// Peak-rate loops of the INT8 multiply instructions (see ck_peak.h): independent accumulator
// chains so that latency hides behind throughput, operands in registers, the accumulators summed
// into a volatile sink so the loop is not removed. vpdpbusd reads its accumulator, so 12 chains
// with one (a, b) pair cannot be simplified. The vpmaddubsw/vpmaddwd products do not read the
// accumulator: each chain gets its own a, passed through an empty asm every round, so the
// compiler can neither share a product between chains nor hoist it out of the loop.
#include "ck_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

static volatile int32_t ck_peak_sink;

#define CK_PEAK_CHAINS 12

/// N chains, chain j adding PRODUCT(a[j], b) to acc[j] every round.
#define CK_PEAK_PRODUCTS(N, VEC, ZERO, SET1, PRODUCT, ADD, FOLD, MACS_PER_STEP)      \
    VEC acc[N], a[N];                                                               \
    for (int j = 0; j < N; j++) { acc[j] = ZERO; a[j] = SET1(0x01020304 + j); }    \
    const VEC b = SET1(0x05060708);                                                  \
    for (size_t i = 0; i < iters; i++) {                                             \
        _Pragma("GCC unroll 16")                                                     \
        for (int j = 0; j < N; j++) {                                                \
            __asm__ volatile("" : "+x"(a[j]));                                       \
            acc[j] = ADD(acc[j], PRODUCT(a[j], b));                                  \
        }                                                                            \
    }                                                                                \
    VEC s = acc[0];                                                                  \
    for (int j = 1; j < N; j++) s = ADD(s, acc[j]);                                  \
    ck_peak_sink = FOLD(s);                                                          \
    return (uint64_t)iters * N * (MACS_PER_STEP);

#define CK_PEAK_BODY(VEC, ZERO, SET1, STEP, ADD, FOLD, MACS_PER_STEP)                 \
    VEC acc[CK_PEAK_CHAINS];                                                        \
    for (int j = 0; j < CK_PEAK_CHAINS; j++) acc[j] = ZERO;                          \
    VEC a = SET1(0x01020304 ^ (int)iters), b = SET1(0x05060708);                     \
    for (size_t i = 0; i < iters; i++) {                                             \
        _Pragma("GCC unroll 16")                                                     \
        for (int j = 0; j < CK_PEAK_CHAINS; j++) acc[j] = STEP(acc[j], a, b);        \
        __asm__ volatile("" : "+x"(a));                                              \
    }                                                                                \
    VEC s = acc[0];                                                                  \
    for (int j = 1; j < CK_PEAK_CHAINS; j++) s = ADD(s, acc[j]);                     \
    ck_peak_sink = FOLD(s);                                                          \
    return (uint64_t)iters * CK_PEAK_CHAINS * (MACS_PER_STEP);

__attribute__((target("avx512f,avx512bw,avx512vnni")))
uint64_t ck_peak_u8s8__avx512vnni(size_t iters) {
#define STEP(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
    CK_PEAK_BODY(__m512i, _mm512_setzero_si512(), _mm512_set1_epi32, STEP, _mm512_add_epi32, _mm512_reduce_add_epi32, 64)
#undef STEP
}

__attribute__((target("avx512f,avx512bw")))
uint64_t ck_peak_u8s8__avx512bw(size_t iters) {
    const __m512i ones = _mm512_set1_epi16(1);
#define PRODUCT(a, b) _mm512_madd_epi16(_mm512_maddubs_epi16((a), (b)), ones)
    CK_PEAK_PRODUCTS(12, __m512i, _mm512_setzero_si512(), _mm512_set1_epi32, PRODUCT, _mm512_add_epi32, _mm512_reduce_add_epi32, 64)
#undef PRODUCT
}

__attribute__((target("avx512f,avx512bw")))
uint64_t ck_peak_u8s8__avx512bw_maddwd(size_t iters) {
#define PRODUCT(a, b) _mm512_madd_epi16((a), (b))
    CK_PEAK_PRODUCTS(12, __m512i, _mm512_setzero_si512(), _mm512_set1_epi32, PRODUCT, _mm512_add_epi32, _mm512_reduce_add_epi32, 32)
#undef PRODUCT
}

__attribute__((target("avx2"))) static inline int32_t ck_peak_fold256(__m256i v) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
    return _mm_cvtsi128_si32(x);
}

__attribute__((target("avxvnni,avx2")))
uint64_t ck_peak_u8s8__avxvnni(size_t iters) {
#define STEP(c, a, b) _mm256_dpbusd_avx_epi32((c), (a), (b))
    CK_PEAK_BODY(__m256i, _mm256_setzero_si256(), _mm256_set1_epi32, STEP, _mm256_add_epi32, ck_peak_fold256, 32)
#undef STEP
}

// 6 chains on ymm: 6 accumulators + 6 a + b + ones fit the 16 registers; the accumulators'
// only dependency is one vpaddd a round, so 6 chains are enough to be throughput-bound.
__attribute__((target("avx2")))
uint64_t ck_peak_u8s8__avx2(size_t iters) {
    const __m256i ones = _mm256_set1_epi16(1);
#define PRODUCT(a, b) _mm256_madd_epi16(_mm256_maddubs_epi16((a), (b)), ones)
    CK_PEAK_PRODUCTS(6, __m256i, _mm256_setzero_si256(), _mm256_set1_epi32, PRODUCT, _mm256_add_epi32, ck_peak_fold256, 32)
#undef PRODUCT
}

__attribute__((target("avx2")))
uint64_t ck_peak_u8s8__avx2_maddwd(size_t iters) {
#define PRODUCT(a, b) _mm256_madd_epi16((a), (b))
    CK_PEAK_PRODUCTS(6, __m256i, _mm256_setzero_si256(), _mm256_set1_epi32, PRODUCT, _mm256_add_epi32, ck_peak_fold256, 16)
#undef PRODUCT
}

#else
uint64_t ck_peak_u8s8__avx512vnni(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_u8s8__avx512bw(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_u8s8__avxvnni(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_u8s8__avx2(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_u8s8__avx2_maddwd(size_t iters) { (void)iters; return 0; }
uint64_t ck_peak_u8s8__avx512bw_maddwd(size_t iters) { (void)iters; return 0; }
#endif
