// Quantized Add of two u8 tensors (ONNX Runtime's QLinearAdd float-multiply formula):
// out = clamp(rne(fma(a, ma, fma(b, mb, c))), lo, hi). fma is exactly rounded in every variant
// (fmaf in the scalar twin, vfmadd in the SIMD ones), and vcvtps2dq rounds half to even, so the
// variants agree bit for bit; the scalar twin mirrors vcvtps2dq's INT32_MIN for NaN/overflow.
#include "ck_int8.h"
#include <math.h>
#include <stdint.h>

static inline int32_t ck_cvtps_epi32(float x) {
    if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
    return (int32_t)nearbyintf(x);  // default rounding mode: to nearest, ties to even
}

void ck_qadd_u8__scalar(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                        uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float v = fmaf((float)a[i], ma, fmaf((float)b[i], mb, c));
        int32_t q = ck_cvtps_epi32(v);
        q = q < lo ? lo : (q > hi ? hi : q);
        out[i] = (uint8_t)q;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl,fma")))
void ck_qadd_u8__avx512(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                        uint8_t *out, size_t n) {
    const __m512 vma = _mm512_set1_ps(ma), vmb = _mm512_set1_ps(mb), vc = _mm512_set1_ps(c);
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
    for (size_t i = 0; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 fa = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, a + i)));
        const __m512 fb = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b + i)));
        const __m512 v = _mm512_fmadd_ps(fa, vma, _mm512_fmadd_ps(fb, vmb, vc));
        const __m512i q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), vlo), vhi);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m, q);
    }
}

__attribute__((target("avx2,fma")))
void ck_qadd_u8__avx2(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                      uint8_t *out, size_t n) {
    const __m256 vma = _mm256_set1_ps(ma), vmb = _mm256_set1_ps(mb), vc = _mm256_set1_ps(c);
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 fa = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + i))));
        const __m256 fb = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + i))));
        const __m256 v = _mm256_fmadd_ps(fa, vma, _mm256_fmadd_ps(fb, vmb, vc));
        const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), vlo), vhi);
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(p16, p16));
    }
    ck_qadd_u8__scalar(a + i, ma, b + i, mb, c, lo, hi, out + i, n - i);
}
#else
void ck_qadd_u8__avx512(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                        uint8_t *out, size_t n) { ck_qadd_u8__scalar(a, ma, b, mb, c, lo, hi, out, n); }
void ck_qadd_u8__avx2(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                      uint8_t *out, size_t n) { ck_qadd_u8__scalar(a, ma, b, mb, c, lo, hi, out, n); }
#endif
