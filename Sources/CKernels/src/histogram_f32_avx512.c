#include "ck_histogram.h"
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512dq")))
void ck_abs_stats_f32__avx512(const float *x, size_t n, ck_abs_stats *out) {
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512 m = _mm512_setzero_ps();
    int64_t nf = 0, z = 0, neg = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 a = _mm512_and_ps(v, abs_mask);
        __mmask16 finite = _mm512_cmp_ps_mask(a, inf, _CMP_LT_OQ);  /* false for NaN and inf */
        __mmask16 zero = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_EQ_OQ);
        __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        m = _mm512_mask_max_ps(m, finite, m, a);
        nf += 16 - __builtin_popcount(finite);
        z += __builtin_popcount(zero);
        neg += __builtin_popcount(negative & finite);
    }
    float mm = _mm512_reduce_max_ps(m);
    ck_abs_stats tail;
    ck_abs_stats_f32__scalar(x + i, n - i, &tail);
    out->max_abs = tail.max_abs > mm ? tail.max_abs : mm;
    out->non_finite = nf + tail.non_finite;
    out->zeros = z + tail.zeros;
    out->negatives = neg + tail.negatives;
}

__attribute__((target("avx512f,avx512dq")))
void ck_abs_histogram_f32__avx512(const float *x, size_t n, int exponent, int bits, int64_t *bins) {
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 inf = _mm512_set1_ps(INFINITY);
    const __m512 scale = _mm512_set1_ps(ldexpf(1.0f, bits - exponent));
    const __m512i last = _mm512_set1_epi32((1 << bits) - 1);
    int32_t idx[16];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_and_ps(_mm512_loadu_ps(x + i), abs_mask);
        __mmask16 keep = _mm512_cmp_ps_mask(a, inf, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_NEQ_OQ);
        /* Truncation toward zero of a non-negative product: floor. */
        __m512i q = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_mul_ps(a, scale)), last);
        _mm512_storeu_si512(idx, q);
        while (keep) {
            int lane = __builtin_ctz(keep);
            bins[idx[lane]]++;
            keep &= keep - 1;
        }
    }
    ck_abs_histogram_f32__scalar(x + i, n - i, exponent, bits, bins);
}
#else
void ck_abs_stats_f32__avx512(const float *x, size_t n, ck_abs_stats *out) { ck_abs_stats_f32__scalar(x, n, out); }
void ck_abs_histogram_f32__avx512(const float *x, size_t n, int exponent, int bits, int64_t *bins) {
    ck_abs_histogram_f32__scalar(x, n, exponent, bits, bins);
}
#endif
