// HardSigmoid and HardSwish. Scalar twin first; the SIMD paths do the same multiply, add,
// clamp (NaN kept, as the twin's comparisons keep it) and final multiply.
#include <math.h>
#include "ck_fp32.h"

#pragma STDC FP_CONTRACT OFF

static inline float ck_hsig1(float x, float alpha, float beta) {
    float t = alpha * x;
    t = t + beta;
    if (t != t) return t;
    t = t < 0.0f ? 0.0f : t;
    return t > 1.0f ? 1.0f : t;
}

void ck_hardsigmoid_f32__scalar(size_t n, float alpha, float beta, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ck_hsig1(x[i], alpha, beta);
}

void ck_hardswish_f32__scalar(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * ck_hsig1(x[i], 1.0f / 6.0f, 0.5f);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_T2 __attribute__((target("avx2,fma")))
#define CK_T512 __attribute__((target("avx512f,avx2,fma")))

static inline CK_T2 __m256 ck_hsig8(__m256 x, __m256 a, __m256 b) {
    __m256 t = _mm256_add_ps(_mm256_mul_ps(a, x), b);
    // max_ps/min_ps return the second operand on NaN: put t second so a NaN survives.
    t = _mm256_max_ps(_mm256_setzero_ps(), t);
    return _mm256_min_ps(_mm256_set1_ps(1.0f), t);
}

CK_T2 void ck_hardsigmoid_f32__avx2(size_t n, float alpha, float beta, const float *x, float *y) {
    const __m256 a = _mm256_set1_ps(alpha), b = _mm256_set1_ps(beta);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, ck_hsig8(_mm256_loadu_ps(x + i), a, b));
    for (; i < n; i++) y[i] = ck_hsig1(x[i], alpha, beta);
}

CK_T2 void ck_hardswish_f32__avx2(size_t n, const float *x, float *y) {
    const __m256 a = _mm256_set1_ps(1.0f / 6.0f), b = _mm256_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, ck_hsig8(v, a, b)));
    }
    for (; i < n; i++) y[i] = x[i] * ck_hsig1(x[i], 1.0f / 6.0f, 0.5f);
}

static inline CK_T512 __m512 ck_hsig16(__m512 x, __m512 a, __m512 b) {
    __m512 t = _mm512_add_ps(_mm512_mul_ps(a, x), b);
    t = _mm512_max_ps(_mm512_setzero_ps(), t);
    return _mm512_min_ps(_mm512_set1_ps(1.0f), t);
}

CK_T512 void ck_hardsigmoid_f32__avx512(size_t n, float alpha, float beta, const float *x, float *y) {
    const __m512 a = _mm512_set1_ps(alpha), b = _mm512_set1_ps(beta);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, ck_hsig16(_mm512_loadu_ps(x + i), a, b));
    for (; i < n; i++) y[i] = ck_hsig1(x[i], alpha, beta);
}

CK_T512 void ck_hardswish_f32__avx512(size_t n, const float *x, float *y) {
    const __m512 a = _mm512_set1_ps(1.0f / 6.0f), b = _mm512_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + i, _mm512_mul_ps(v, ck_hsig16(v, a, b)));
    }
    for (; i < n; i++) y[i] = x[i] * ck_hsig1(x[i], 1.0f / 6.0f, 0.5f);
}
#else
void ck_hardsigmoid_f32__avx2(size_t n, float alpha, float beta, const float *x, float *y) { ck_hardsigmoid_f32__scalar(n, alpha, beta, x, y); }
void ck_hardswish_f32__avx2(size_t n, const float *x, float *y) { ck_hardswish_f32__scalar(n, x, y); }
void ck_hardsigmoid_f32__avx512(size_t n, float alpha, float beta, const float *x, float *y) { ck_hardsigmoid_f32__scalar(n, alpha, beta, x, y); }
void ck_hardswish_f32__avx512(size_t n, const float *x, float *y) { ck_hardswish_f32__scalar(n, x, y); }
#endif
