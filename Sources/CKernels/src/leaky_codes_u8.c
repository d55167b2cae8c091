// PRelu and LeakyRelu on codes, computed (the division form; before each, the product form of
// ck_leaky_codes_params, one multiplication): out = quantize(leaky(dequantize(x))) with the float
// operations of the tables they replace (Int8Compiler+Tables: dequantize (x - z_x) * s_x, the
// reference x < 0 ? x * slope : x, QuantParams.quantize), so every variant gives the table's bytes.
// A per-channel table is one scalar load per code; these are 8 or 16 codes per vector. Slopes and
// scales are finite and the scales positive (LeakyCodesKernel refuses others), so v and the
// quotient are never NaN: the SIMD variants round the quotient, capped at 512 (any larger code
// saturates to 255 either way), to an integer, add z_y and saturate, in fewer operations than the
// float clamp.
#include "ck_int8.h"
#include <math.h>
#include <stdint.h>

// The product form: out = round(d * f) + z_y, f by the sign of d = x - z_x.
static void ck_leaky_products_u8__scalar(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    const float zy = p->zero_out;
    for (size_t i = 0; i < n; i++) {
        const int32_t d = (int32_t)x[i] - p->zero_in;
        float r = nearbyintf((float)d * (d < 0 ? p->product_neg[phase] : p->product_pos[phase])) + zy;
        r = r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
        out[i] = (uint8_t)r;
        if (++phase == p->period) phase = 0;
    }
}

void ck_leaky_codes_u8__scalar(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    if (p->product_neg) {
        ck_leaky_products_u8__scalar(p, x, out, n, phase);
        return;
    }
    const float zy = p->zero_out;
    for (size_t i = 0; i < n; i++) {
        float v = (float)((int32_t)x[i] - p->zero_in) * p->scale_in;
        if (v < 0.0f) v = v * p->slope[phase];
        float r = nearbyintf(v / p->scale_out[phase]) + zy;
        if (r != r) r = zy;
        r = r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
        out[i] = (uint8_t)r;
        if (++phase == p->period) phase = 0;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "pack_u8_avx512.h"

// Products are finite (LeakyCodesKernel refuses others), so r is never NaN; as in the division
// form, capped at 512 then rounded, -inf and large negatives to INT32_MIN, saturating to 0.
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void ck_leaky_products_u8__avx512(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    const __m512i vzx = _mm512_set1_epi32(p->zero_in), vzy = _mm512_set1_epi32((int32_t)p->zero_out), z = _mm512_setzero_si512();
    const __m512 cap = _mm512_set1_ps(512.0f);
    size_t i = 0;
    // 64 codes per plain store (ck_pack64_u8): four vectors of 16, each with its lanes'
    // constants; the packs' saturation is max(q, 0) then vpmovusdb's, as in the tail below.
    for (; i + 64 <= n; i += 64) {
        __m512i q[4];
        for (int j = 0; j < 4; j++) {
            const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x + i + 16 * j))), vzx);
            const __m512 f = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(d, z), _mm512_loadu_ps(p->product_pos + phase),
                                                  _mm512_loadu_ps(p->product_neg + phase));
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(d), f), cap)), vzy);
            phase += 16;
            if (phase >= p->period) phase -= p->period;
        }
        _mm512_storeu_si512(out + i, ck_pack64_u8(q[0], q[1], q[2], q[3]));
    }
    for (; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, x + i)), vzx);
        const __m512 f = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(d, z), _mm512_loadu_ps(p->product_pos + phase),
                                              _mm512_loadu_ps(p->product_neg + phase));
        const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(d), f), cap)), vzy);
        _mm_mask_storeu_epi8(out + i, k, _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, z)));
        phase += 16;
        if (phase >= p->period) phase -= p->period;
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
void ck_leaky_codes_u8__avx512(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    if (p->product_neg) {
        ck_leaky_products_u8__avx512(p, x, out, n, phase);
        return;
    }
    const __m512i vzx = _mm512_set1_epi32(p->zero_in), vzy = _mm512_set1_epi32((int32_t)p->zero_out);
    const __m512 vsx = _mm512_set1_ps(p->scale_in), v0 = _mm512_setzero_ps(), cap = _mm512_set1_ps(512.0f);
    size_t i = 0;
    // 64 codes per plain store, as in ck_leaky_products_u8__avx512.
    for (; i + 64 <= n; i += 64) {
        __m512i q[4];
        for (int j = 0; j < 4; j++) {
            const __m512 slope = _mm512_loadu_ps(p->slope + phase), sy = _mm512_loadu_ps(p->scale_out + phase);
            const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x + i + 16 * j))), vzx);
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), vsx);
            v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, v0, _CMP_LT_OQ), v, slope);
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_div_ps(v, sy), cap)), vzy);
            phase += 16;
            if (phase >= p->period) phase -= p->period;
        }
        _mm512_storeu_si512(out + i, ck_pack64_u8(q[0], q[1], q[2], q[3]));
    }
    for (; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        // The constants of lanes phase .. phase + 15 (the arrays hold two periods).
        const __m512 slope = _mm512_loadu_ps(p->slope + phase), sy = _mm512_loadu_ps(p->scale_out + phase);
        const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, x + i)), vzx);
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), vsx);
        v = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, v0, _CMP_LT_OQ), v, slope);
        // Round half to even (vcvtps2dq under the default rounding), -inf and large negatives to
        // INT32_MIN, which saturate to 0 as they should.
        const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_div_ps(v, sy), cap)), vzy);
        _mm_mask_storeu_epi8(out + i, k, _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512())));
        phase += 16;
        if (phase >= p->period) phase -= p->period;
    }
}

__attribute__((target("avx2")))
static void ck_leaky_products_u8__avx2(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    const __m256i vzx = _mm256_set1_epi32(p->zero_in), vzy = _mm256_set1_epi32((int32_t)p->zero_out), z = _mm256_setzero_si256();
    const __m256 cap = _mm256_set1_ps(512.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i d = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i))), vzx);
        const __m256 f = _mm256_blendv_ps(_mm256_loadu_ps(p->product_pos + phase), _mm256_loadu_ps(p->product_neg + phase),
                                          _mm256_castsi256_ps(_mm256_cmpgt_epi32(z, d)));
        const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(d), f), cap)), vzy);
        const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(p16, p16));
        phase += 8;
        if (phase >= p->period) phase -= p->period;
    }
    if (i < n) ck_leaky_products_u8__scalar(p, x + i, out + i, n - i, phase);
}

__attribute__((target("avx2")))
void ck_leaky_codes_u8__avx2(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) {
    if (p->product_neg) {
        ck_leaky_products_u8__avx2(p, x, out, n, phase);
        return;
    }
    const __m256i vzx = _mm256_set1_epi32(p->zero_in), vzy = _mm256_set1_epi32((int32_t)p->zero_out);
    const __m256 vsx = _mm256_set1_ps(p->scale_in), v0 = _mm256_setzero_ps(), cap = _mm256_set1_ps(512.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 slope = _mm256_loadu_ps(p->slope + phase), sy = _mm256_loadu_ps(p->scale_out + phase);
        const __m256i d = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i))), vzx);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(d), vsx);
        v = _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, v0, _CMP_LT_OQ));
        const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_min_ps(_mm256_div_ps(v, sy), cap)), vzy);
        // Signed saturation to 16 bits, then unsigned to 8: [0, 255] for any int32.
        const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(p16, p16));
        phase += 8;
        if (phase >= p->period) phase -= p->period;
    }
    if (i < n) ck_leaky_codes_u8__scalar(p, x + i, out + i, n - i, phase);
}
#else
void ck_leaky_codes_u8__avx512(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) { ck_leaky_codes_u8__scalar(p, x, out, n, phase); }
void ck_leaky_codes_u8__avx2(const ck_leaky_codes_params *p, const uint8_t *x, uint8_t *out, size_t n, size_t phase) { ck_leaky_codes_u8__scalar(p, x, out, n, phase); }
#endif
