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
#include "pack_u8_avx512.h"

#define CK_QADD_T __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

/// 16 results as int32 (before the clamp).
static inline CK_QADD_T __m512i ck_qadd16(__m128i a, __m128i b, __m512 vma, __m512 vmb, __m512 vc) {
    const __m512 fa = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(a));
    const __m512 fb = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    return _mm512_cvtps_epi32(_mm512_fmadd_ps(fa, vma, _mm512_fmadd_ps(fb, vmb, vc)));
}

CK_QADD_T
void ck_qadd_u8__avx512(const uint8_t *a, float ma, const uint8_t *b, float mb, float c, int32_t lo, int32_t hi,
                        uint8_t *out, size_t n) {
    const __m512 vma = _mm512_set1_ps(ma), vmb = _mm512_set1_ps(mb), vc = _mm512_set1_ps(c);
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
    size_t i = 0;
    if (lo >= 0 && lo <= hi && hi <= 255) {
        // 64 at a time with plain loads and one store (ck_pack64_u8), then [lo, hi] on the bytes:
        // clamp(v) == clamp(sat_u8(sat_s16(v))) when 0 <= lo <= hi <= 255.
        const __m512i lo8 = _mm512_set1_epi8((char)lo), hi8 = _mm512_set1_epi8((char)hi);
        for (; i + 64 <= n; i += 64) {
            const __m512i q0 = ck_qadd16(_mm_loadu_si128((const __m128i *)(a + i)), _mm_loadu_si128((const __m128i *)(b + i)), vma, vmb, vc);
            const __m512i q1 = ck_qadd16(_mm_loadu_si128((const __m128i *)(a + i + 16)), _mm_loadu_si128((const __m128i *)(b + i + 16)), vma, vmb, vc);
            const __m512i q2 = ck_qadd16(_mm_loadu_si128((const __m128i *)(a + i + 32)), _mm_loadu_si128((const __m128i *)(b + i + 32)), vma, vmb, vc);
            const __m512i q3 = ck_qadd16(_mm_loadu_si128((const __m128i *)(a + i + 48)), _mm_loadu_si128((const __m128i *)(b + i + 48)), vma, vmb, vc);
            _mm512_storeu_si512(out + i, _mm512_min_epu8(_mm512_max_epu8(ck_pack64_u8(q0, q1, q2, q3), lo8), hi8));
        }
    }
    for (; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512i q = ck_qadd16(_mm_maskz_loadu_epi8(m, a + i), _mm_maskz_loadu_epi8(m, b + i), vma, vmb, vc);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m, _mm512_min_epi32(_mm512_max_epi32(q, vlo), vhi));
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
