// Quantize (float -> u8) and requantize (u8 -> u8) elementwise kernels, bit-identical across
// variants: IEEE division and multiplication, round half to even, the same clamping and the same
// NaN / overflow conventions as the Swift specification (QuantParams.quantize,
// Int8Arithmetic.requantize).
#include "ck_int8.h"
#include <math.h>
#include <stdint.h>

void ck_quantize_u8__scalar(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n) {
    const float z = (float)zero_point;
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] / scale) + z;
        if (v != v) v = z;
        v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
        out[i] = (uint8_t)v;
    }
}

void ck_quantize_channels_u8__scalar(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels) {
    const float z = (float)zero_point;
    for (size_t p = 0; p < pixels; p++) {
        const float *row = x + p * channels;
        uint8_t *o = out + p * channels;
        for (size_t c = 0; c < channels; c++) {
            float v = nearbyintf(row[c] / scales[c]) + z;
            if (v != v) v = z;
            v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
            o[c] = (uint8_t)v;
        }
    }
}

static inline int32_t ck_q_cvtps_epi32(float x) {
    if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
    return (int32_t)nearbyintf(x);
}

void ck_requantize_u8__scalar(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const int32_t r = ck_q_cvtps_epi32((float)((int32_t)x[i] - zero_in) * m);
        const int32_t q = (int32_t)((uint32_t)r + (uint32_t)zero_out);  // wrapping add, as &+
        out[i] = (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "pack_u8_avx512.h"

__attribute__((target("avx512f,avx512bw,avx512vl")))
void ck_quantize_u8__avx512(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n) {
    const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps((float)zero_point);
    const __m512 v0 = _mm512_setzero_ps(), v255 = _mm512_set1_ps(255.0f);
    size_t i = 0;
    // 64 codes per plain store (ck_pack64_u8; codes already in [0, 255] pack exactly).
    for (; i + 64 <= n; i += 64) {
        __m512i q[4];
        for (int j = 0; j < 4; j++) {
            __m512 v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(x + i + 16 * j), vs),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v, vz);   // NaN -> zero point
            q[j] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, v0), v255));
        }
        _mm512_storeu_si512(out + i, ck_pack64_u8(q[0], q[1], q[2], q[3]));
    }
    for (; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __m512 v = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs),
                                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v, vz);   // NaN -> zero point
        v = _mm512_min_ps(_mm512_max_ps(v, v0), v255);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m, _mm512_cvtps_epi32(v));
    }
}

__attribute__((target("avx2")))
void ck_quantize_u8__avx2(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps((float)zero_point);
    const __m256 v0 = _mm256_setzero_ps(), v255 = _mm256_set1_ps(255.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
        v = _mm256_blendv_ps(v, vz, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        v = _mm256_min_ps(_mm256_max_ps(v, v0), v255);
        const __m256i q = _mm256_cvtps_epi32(v);
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(p16, p16));
    }
    ck_quantize_u8__scalar(x + i, scale, zero_point, out + i, n - i);
}

__attribute__((target("avx2")))
void ck_quantize_channels_u8__avx2(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels) {
    const __m256 vz = _mm256_set1_ps((float)zero_point);
    const __m256 v0 = _mm256_setzero_ps(), v255 = _mm256_set1_ps(255.0f);
    for (size_t p = 0; p < pixels; p++) {
        const float *row = x + p * channels;
        uint8_t *o = out + p * channels;
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            __m256 v = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(scales + c)),
                                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz);
            v = _mm256_blendv_ps(v, vz, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            v = _mm256_min_ps(_mm256_max_ps(v, v0), v255);
            const __m256i q = _mm256_cvtps_epi32(v);
            const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(o + c), _mm_packus_epi16(p16, p16));
        }
        if (c < channels) ck_quantize_channels_u8__scalar(row + c, scales + c, zero_point, o + c, 1, channels - c);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
void ck_requantize_u8__avx512(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n) {
    const __m512i vzi = _mm512_set1_epi32(zero_in), vzo = _mm512_set1_epi32(zero_out);
    const __m512i v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
    const __m512 vm = _mm512_set1_ps(m);
    size_t i = 0;
    // 64 codes per plain store (ck_pack64_u8: its packs clamp to [0, 255] as min/max below do).
    for (; i + 64 <= n; i += 64) {
        __m512i q[4];
        for (int j = 0; j < 4; j++) {
            const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x + i + 16 * j))), vzi);
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(d), vm)), vzo);
        }
        _mm512_storeu_si512(out + i, ck_pack64_u8(q[0], q[1], q[2], q[3]));
    }
    for (; i < n; i += 16) {
        const size_t left = n - i;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512i d = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, x + i)), vzi);
        const __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(d), vm)), vzo);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, k, _mm512_min_epi32(_mm512_max_epi32(r, v0), v255));
    }
}

__attribute__((target("avx2")))
void ck_requantize_u8__avx2(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n) {
    const __m256i vzi = _mm256_set1_epi32(zero_in), vzo = _mm256_set1_epi32(zero_out);
    const __m256i v0 = _mm256_setzero_si256(), v255 = _mm256_set1_epi32(255);
    const __m256 vm = _mm256_set1_ps(m);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i d = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i))), vzi);
        __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(d), vm)), vzo);
        r = _mm256_min_epi32(_mm256_max_epi32(r, v0), v255);
        const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(p16, p16));
    }
    ck_requantize_u8__scalar(x + i, zero_in, m, zero_out, out + i, n - i);
}
#else
void ck_quantize_u8__avx512(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n) { ck_quantize_u8__scalar(x, scale, zero_point, out, n); }
void ck_quantize_u8__avx2(const float *x, float scale, int32_t zero_point, uint8_t *out, size_t n) { ck_quantize_u8__scalar(x, scale, zero_point, out, n); }
void ck_requantize_u8__avx512(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n) { ck_requantize_u8__scalar(x, zero_in, m, zero_out, out, n); }
void ck_quantize_channels_u8__avx2(const float *x, const float *scales, int32_t zero_point, uint8_t *out, size_t pixels, size_t channels) { ck_quantize_channels_u8__scalar(x, scales, zero_point, out, pixels, channels); }
void ck_requantize_u8__avx2(const uint8_t *x, int32_t zero_in, float m, int32_t zero_out, uint8_t *out, size_t n) { ck_requantize_u8__scalar(x, zero_in, m, zero_out, out, n); }
#endif
