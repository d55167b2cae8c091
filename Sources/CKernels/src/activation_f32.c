// Element-wise activations with an exponential: sigmoid and SiLU. The scalar twin is the
// specification; the AVX2 and AVX-512 paths perform the same operations in the same order
// (fmaf ↔ vfmadd, roundevenf ↔ vroundps nearest, exponent bits by integer add), so they are
// bit-identical to it.
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ck_fp32.h"
#include "exp_f32_internal.h"

static inline float ck_sigmoid_scalar1(float x) {
    float t = -x;
    if (t != t) return t;  // NaN in, NaN out (the SIMD lanes give NaN through the polynomial)
    const int overflow = t > CK_EXP_HI;  // e^t is +inf in float: the sigmoid is exactly 0
    t = t > CK_EXP_HI ? CK_EXP_HI : t;
    t = t < CK_EXP_LO ? CK_EXP_LO : t;
    const float e = overflow ? INFINITY : ck_exp_scalar(t);
    return 1.0f / (1.0f + e);
}

void ck_sigmoid_f32__scalar(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ck_sigmoid_scalar1(x[i]);
}

void ck_silu_f32__scalar(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * ck_sigmoid_scalar1(x[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T2 __attribute__((target("avx2,fma")))
#define CK_T512 __attribute__((target("avx512f,avx512dq,avx2,fma")))

static inline CK_T2 __m256 ck_sigmoid8(__m256 x) {
    __m256 t = _mm256_sub_ps(_mm256_setzero_ps(), x);
    const __m256 overflow = _mm256_cmp_ps(t, _mm256_set1_ps(CK_EXP_HI), _CMP_GT_OQ);
    // Compare-and-blend keeps the scalar twin's comparisons (NaN passes through).
    t = _mm256_blendv_ps(t, _mm256_set1_ps(CK_EXP_HI), _mm256_cmp_ps(t, _mm256_set1_ps(CK_EXP_HI), _CMP_GT_OQ));
    t = _mm256_blendv_ps(t, _mm256_set1_ps(CK_EXP_LO), _mm256_cmp_ps(t, _mm256_set1_ps(CK_EXP_LO), _CMP_LT_OQ));
    const __m256 e = _mm256_blendv_ps(ck_exp8(t), _mm256_set1_ps(INFINITY), overflow);
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

CK_T2 void ck_sigmoid_f32__avx2(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, ck_sigmoid8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = ck_sigmoid_scalar1(x[i]);
}

CK_T2 void ck_silu_f32__avx2(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, ck_sigmoid8(v)));
    }
    for (; i < n; i++) y[i] = x[i] * ck_sigmoid_scalar1(x[i]);
}

static inline CK_T512 __m512 ck_sigmoid16(__m512 x) {
    __m512 t = _mm512_sub_ps(_mm512_setzero_ps(), x);
    const __mmask16 overflow = _mm512_cmp_ps_mask(t, _mm512_set1_ps(CK_EXP_HI), _CMP_GT_OQ);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(CK_EXP_HI), _CMP_GT_OQ), t, _mm512_set1_ps(CK_EXP_HI));
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, _mm512_set1_ps(CK_EXP_LO), _CMP_LT_OQ), t, _mm512_set1_ps(CK_EXP_LO));
    const __m512 e = _mm512_mask_blend_ps(overflow, ck_exp16(t), _mm512_set1_ps(INFINITY));
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

CK_T512 void ck_sigmoid_f32__avx512(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, ck_sigmoid16(_mm512_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = ck_sigmoid_scalar1(x[i]);
}

CK_T512 void ck_silu_f32__avx512(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + i, _mm512_mul_ps(v, ck_sigmoid16(v)));
    }
    for (; i < n; i++) y[i] = x[i] * ck_sigmoid_scalar1(x[i]);
}
#else
void ck_sigmoid_f32__avx2(size_t n, const float *x, float *y) { ck_sigmoid_f32__scalar(n, x, y); }
void ck_silu_f32__avx2(size_t n, const float *x, float *y) { ck_silu_f32__scalar(n, x, y); }
void ck_sigmoid_f32__avx512(size_t n, const float *x, float *y) { ck_sigmoid_f32__scalar(n, x, y); }
void ck_silu_f32__avx512(size_t n, const float *x, float *y) { ck_silu_f32__scalar(n, x, y); }
#endif
