// Softmax over the middle axis of [outer, n, inner] row-major floats. The scalar twin is the
// specification; the SIMD variants perform its operations in its order (the sum of each row in
// k order, ck_exp's bit-identical forms), so they give its bits: with inner >= the vector width
// the lanes are inner positions (strided rows side by side); with inner == 1 the lanes run along
// the row for the max, the exponentials and the division, and the sum stays sequential.
#include "ck_fp32.h"
#include "exp_f32_internal.h"

/// e^t for t = x - max <= 0: NaN stays NaN, below CK_EXP_LO it is 0 (float's e^t there is
/// subnormal or 0, and a softmax term that small cannot move a sum of at least 1).
static inline float ck_softmax_exp(float t) {
    if (t != t) return t;
    if (t < CK_EXP_LO) return 0.0f;
    return ck_exp_scalar(t > CK_EXP_HI ? CK_EXP_HI : t);
}

/// One row: n values `stride` apart (max ignores NaN: `v > m` never holds for it).
static inline void ck_softmax_row(const float *x, float *y, size_t n, size_t stride) {
    float m = -INFINITY;
    for (size_t k = 0; k < n; k++) m = x[k * stride] > m ? x[k * stride] : m;
    float sum = 0.0f;
    for (size_t k = 0; k < n; k++) {
        const float e = ck_softmax_exp(x[k * stride] - m);
        y[k * stride] = e;
        sum += e;
    }
    for (size_t k = 0; k < n; k++) y[k * stride] = y[k * stride] / sum;
}

void ck_softmax_f32__scalar(const float *x, float *y, size_t outer, size_t n, size_t inner) {
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) ck_softmax_row(x + o * n * inner + i, y + o * n * inner + i, n, inner);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T2 __attribute__((target("avx2,fma")))
#define CK_T512 __attribute__((target("avx512f,avx512dq,avx2,fma")))

static inline CK_T2 __m256 ck_softmax_exp8(__m256 t) {
    const __m256 lo = _mm256_set1_ps(CK_EXP_LO), hi = _mm256_set1_ps(CK_EXP_HI);
    const __m256 under = _mm256_cmp_ps(t, lo, _CMP_LT_OQ), nan = _mm256_cmp_ps(t, t, _CMP_UNORD_Q);
    const __m256 c = _mm256_blendv_ps(t, hi, _mm256_cmp_ps(t, hi, _CMP_GT_OQ));
    __m256 e = ck_exp8(_mm256_blendv_ps(c, lo, under));
    e = _mm256_andnot_ps(under, e);
    return _mm256_blendv_ps(e, t, nan);
}

static inline CK_T512 __m512 ck_softmax_exp16(__m512 t) {
    const __m512 lo = _mm512_set1_ps(CK_EXP_LO), hi = _mm512_set1_ps(CK_EXP_HI);
    const __mmask16 under = _mm512_cmp_ps_mask(t, lo, _CMP_LT_OQ), nan = _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q);
    const __m512 c = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, hi, _CMP_GT_OQ), t, hi);
    __m512 e = _mm512_maskz_mov_ps((__mmask16)~under, ck_exp16(_mm512_mask_blend_ps(under, c, lo)));
    return _mm512_mask_blend_ps(nan, e, t);
}

CK_T2 void ck_softmax_f32__avx2(const float *x, float *y, size_t outer, size_t n, size_t inner) {
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *yo = y + o * n * inner;
        if (inner == 1) {
            __m256 vm = _mm256_set1_ps(-INFINITY);
            size_t k = 0;
            for (; k + 8 <= n; k += 8) {
                const __m256 v = _mm256_loadu_ps(xo + k);
                vm = _mm256_blendv_ps(vm, v, _mm256_cmp_ps(v, vm, _CMP_GT_OQ));
            }
            float lanes[8], m = -INFINITY;
            _mm256_storeu_ps(lanes, vm);
            for (int l = 0; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
            for (; k < n; k++) m = xo[k] > m ? xo[k] : m;
            const __m256 bm = _mm256_set1_ps(m);
            for (k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(yo + k, ck_softmax_exp8(_mm256_sub_ps(_mm256_loadu_ps(xo + k), bm)));
            for (; k < n; k++) yo[k] = ck_softmax_exp(xo[k] - m);
            float sum = 0.0f;
            for (k = 0; k < n; k++) sum += yo[k];
            const __m256 bs = _mm256_set1_ps(sum);
            for (k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(yo + k, _mm256_div_ps(_mm256_loadu_ps(yo + k), bs));
            for (; k < n; k++) yo[k] = yo[k] / sum;
            continue;
        }
        size_t i = 0;
        for (; i + 8 <= inner; i += 8) {
            __m256 m = _mm256_set1_ps(-INFINITY), sum = _mm256_setzero_ps();
            for (size_t k = 0; k < n; k++) {
                const __m256 v = _mm256_loadu_ps(xo + k * inner + i);
                m = _mm256_blendv_ps(m, v, _mm256_cmp_ps(v, m, _CMP_GT_OQ));
            }
            for (size_t k = 0; k < n; k++) {
                const __m256 e = ck_softmax_exp8(_mm256_sub_ps(_mm256_loadu_ps(xo + k * inner + i), m));
                _mm256_storeu_ps(yo + k * inner + i, e);
                sum = _mm256_add_ps(sum, e);
            }
            for (size_t k = 0; k < n; k++) _mm256_storeu_ps(yo + k * inner + i, _mm256_div_ps(_mm256_loadu_ps(yo + k * inner + i), sum));
        }
        for (; i < inner; i++) ck_softmax_row(xo + i, yo + i, n, inner);
    }
}

CK_T512 void ck_softmax_f32__avx512(const float *x, float *y, size_t outer, size_t n, size_t inner) {
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *yo = y + o * n * inner;
        if (inner == 1) {
            __m512 vm = _mm512_set1_ps(-INFINITY);
            for (size_t k = 0; k < n; k += 16) {
                const __mmask16 t = n - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - k)) - 1u);
                const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), t, xo + k);
                vm = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, vm, _CMP_GT_OQ), vm, v);
            }
            float lanes[16], m = -INFINITY;
            _mm512_storeu_ps(lanes, vm);
            for (int l = 0; l < 16; l++) m = lanes[l] > m ? lanes[l] : m;
            const __m512 bm = _mm512_set1_ps(m);
            for (size_t k = 0; k < n; k += 16) {
                const __mmask16 t = n - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - k)) - 1u);
                _mm512_mask_storeu_ps(yo + k, t, ck_softmax_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, xo + k), bm)));
            }
            float sum = 0.0f;
            for (size_t k = 0; k < n; k++) sum += yo[k];
            const __m512 bs = _mm512_set1_ps(sum);
            for (size_t k = 0; k < n; k += 16) {
                const __mmask16 t = n - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - k)) - 1u);
                _mm512_mask_storeu_ps(yo + k, t, _mm512_div_ps(_mm512_maskz_loadu_ps(t, yo + k), bs));
            }
            continue;
        }
        for (size_t i = 0; i < inner; i += 16) {
            const __mmask16 t = inner - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (inner - i)) - 1u);
            __m512 m = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
            for (size_t k = 0; k < n; k++) {
                const __m512 v = _mm512_maskz_loadu_ps(t, xo + k * inner + i);
                m = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, m, _CMP_GT_OQ), m, v);
            }
            for (size_t k = 0; k < n; k++) {
                const __m512 e = ck_softmax_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, xo + k * inner + i), m));
                _mm512_mask_storeu_ps(yo + k * inner + i, t, e);
                sum = _mm512_add_ps(sum, e);
            }
            for (size_t k = 0; k < n; k++)
                _mm512_mask_storeu_ps(yo + k * inner + i, t, _mm512_div_ps(_mm512_maskz_loadu_ps(t, yo + k * inner + i), sum));
        }
    }
}
#else
void ck_softmax_f32__avx2(const float *x, float *y, size_t outer, size_t n, size_t inner) { ck_softmax_f32__scalar(x, y, outer, n, inner); }
void ck_softmax_f32__avx512(const float *x, float *y, size_t outer, size_t n, size_t inner) { ck_softmax_f32__scalar(x, y, outer, n, inner); }
#endif
