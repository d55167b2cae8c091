// Element-wise activations with an exponential: sigmoid and SiLU. The scalar twin is the
// specification; the AVX2 and AVX-512 paths perform the same operations in the same order
// (fmaf ↔ vfmadd, roundevenf ↔ vroundps nearest, exponent bits by integer add), so they are
// bit-identical to it.
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ck_fp32.h"

#define CK_EXP_HI 88.3762626647949f
#define CK_EXP_LO (-88.3762626647949f)
#define CK_LOG2E 1.44269504088896341f
#define CK_LN2_HI 0.693359375f
#define CK_LN2_LO (-2.12194440e-4f)
#define CK_P0 1.9875691500E-4f
#define CK_P1 1.3981999507E-3f
#define CK_P2 8.3334519073E-3f
#define CK_P3 4.1665795894E-2f
#define CK_P4 1.6666665459E-1f
#define CK_P5 5.0000001201E-1f

/// e^t (Cephes expf), for t already clamped to [CK_EXP_LO, CK_EXP_HI].
static inline float ck_exp_scalar(float t) {
    const float n = nearbyintf(t * CK_LOG2E);  // round half to even (default rounding mode)
    float r = fmaf(n, -CK_LN2_HI, t);
    r = fmaf(n, -CK_LN2_LO, r);
    const float r2 = r * r;
    float p = fmaf(CK_P0, r, CK_P1);
    p = fmaf(p, r, CK_P2);
    p = fmaf(p, r, CK_P3);
    p = fmaf(p, r, CK_P4);
    p = fmaf(p, r, CK_P5);
    p = fmaf(p, r2, r);
    p = p + 1.0f;
    // 2^n: n in [-127, 128]; split into two factors so that no exponent field overflows.
    const int32_t ni = (int32_t)n;
    const int32_t a = ni / 2, b = ni - a;
    int32_t ba = (a + 127) << 23, bb = (b + 127) << 23;
    float fa, fb;
    memcpy(&fa, &ba, 4); memcpy(&fb, &bb, 4);
    return (p * fa) * fb;
}

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
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-CK_LN2_HI), t);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-CK_LN2_LO), r);
    const __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(CK_P0), r, _mm256_set1_ps(CK_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CK_P5));
    p = _mm256_fmadd_ps(p, r2, r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);
    // a = ni / 2 truncated toward zero, as C's integer division.
    const __m256i a = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);
    const __m256i b = _mm256_sub_epi32(ni, a);
    const __m256 fa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(127)), 23));
    const __m256 fb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(127)), 23));
    const __m256 e = _mm256_blendv_ps(_mm256_mul_ps(_mm256_mul_ps(p, fa), fb), _mm256_set1_ps(INFINITY), overflow);
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
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-CK_LN2_HI), t);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-CK_LN2_LO), r);
    const __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(CK_P0), r, _mm512_set1_ps(CK_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CK_P5));
    p = _mm512_fmadd_ps(p, r2, r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    const __m512i ni = _mm512_cvtps_epi32(n);
    const __m512i a = _mm512_srai_epi32(_mm512_add_epi32(ni, _mm512_srli_epi32(ni, 31)), 1);
    const __m512i b = _mm512_sub_epi32(ni, a);
    const __m512 fa = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(a, _mm512_set1_epi32(127)), 23));
    const __m512 fb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(127)), 23));
    const __m512 e = _mm512_mask_blend_ps(overflow, _mm512_mul_ps(_mm512_mul_ps(p, fa), fb), _mm512_set1_ps(INFINITY));
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
