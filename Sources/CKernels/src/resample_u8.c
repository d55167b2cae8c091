// Pillow's antialiased resampling passes on 8-bit pixels (libImaging/Resample.c, the filter of
// torchvision's Resize on PIL images): every output byte is
// clip8((2^21 + Σ_i w_i · p_i) >> 22) with 22-bit fixed-point weights, in wrapping 32-bit
// integer arithmetic. Integer only: every variant gives the scalar twin's bytes.

#include "ck_int8.h"
#include <stdint.h>
#include <string.h>

static inline uint8_t ck_clip8_q22(uint32_t acc) {
    int32_t s = (int32_t)acc >> 22;
    return s <= 0 ? 0 : (s >= 255 ? 255 : (uint8_t)s);
}

/// Output pixels [x0, x1) of every row (tap i of output x weighs i * out_pixels + x).
static void ck_resample_rows_range(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out, size_t x0, size_t x1) {
    for (size_t r = 0; r < p->rows; r++) {
        const uint8_t *row = src + r * p->src_stride;
        uint8_t *o = out + r * p->out_stride;
        for (size_t x = x0; x < x1; x++) {
            uint32_t a0 = 1u << 21, a1 = 1u << 21, a2 = 1u << 21;
            const uint8_t *px = row + (size_t)p->start[x] * 3;
            for (size_t i = 0; i < p->taps; i++) {
                uint32_t w = (uint32_t)p->weights[i * p->out_pixels + x];
                a0 += px[3 * i] * w;
                a1 += px[3 * i + 1] * w;
                a2 += px[3 * i + 2] * w;
            }
            o[3 * x] = ck_clip8_q22(a0);
            o[3 * x + 1] = ck_clip8_q22(a1);
            o[3 * x + 2] = ck_clip8_q22(a2);
        }
    }
}

void ck_resample_rows_rgb8__scalar(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out) {
    ck_resample_rows_range(p, src, out, 0, p->out_pixels);
}

void ck_resample_column_u8__scalar(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out) {
    for (size_t x = 0; x < n; x++) {
        uint32_t a = 1u << 21;
        for (size_t i = 0; i < taps; i++) a += src[i * stride + x] * (uint32_t)weights[i];
        out[x] = ck_clip8_q22(a);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/// Eight lanes of 32-bit sums to bytes: >> 22, clamped to [0, 255].
__attribute__((target("avx2"))) static inline __m256i ck_clip8_q22_avx2(__m256i acc) {
    return _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(acc, 22), _mm256_setzero_si256()), _mm256_set1_epi32(255));
}

/// Eight output pixels at a time: per tap one gather of four bytes at each pixel's tap (its
/// R, G, B and the next byte, unused), the tap's weights for the eight outputs in one load.
/// The gather reads one byte past the last tap's pixel, so a block runs here only when that
/// byte is inside the row; the rest runs the scalar loop.
__attribute__((target("avx2")))
void ck_resample_rows_rgb8__avx2(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out) {
    const size_t n = p->out_pixels, taps = p->taps;
    // Starts do not decrease, so the blocks whose last start leaves that byte inside the row
    // are a prefix.
    // (Byte offsets are 32-bit gather indices: rows too long for them run the scalar loop.)
    size_t vector = 0;
    while (p->row_pixels <= (size_t)INT32_MAX / 3 && vector + 8 <= n && (size_t)p->start[vector + 7] + taps < p->row_pixels) vector += 8;
    const __m256i byte = _mm256_set1_epi32(0xFF), half = _mm256_set1_epi32(1 << 21);
    const __m128i compact = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    for (size_t r = 0; r < p->rows; r++) {
        const uint8_t *row = src + r * p->src_stride;
        uint8_t *o = out + r * p->out_stride;
        for (size_t x = 0; x < vector; x += 8) {
            __m256i s = _mm256_loadu_si256((const __m256i *)(p->start + x));
            __m256i offset = _mm256_add_epi32(s, _mm256_add_epi32(s, s));
            __m256i r0 = half, g0 = half, b0 = half;
            const int32_t *w = p->weights + x;
            for (size_t i = 0; i < taps; i++) {
                __m256i v = _mm256_i32gather_epi32((const int *)row, offset, 1);
                __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i * n));
                r0 = _mm256_add_epi32(r0, _mm256_mullo_epi32(_mm256_and_si256(v, byte), wv));
                g0 = _mm256_add_epi32(g0, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 8), byte), wv));
                b0 = _mm256_add_epi32(b0, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 16), byte), wv));
                offset = _mm256_add_epi32(offset, _mm256_set1_epi32(3));
            }
            __m256i rgb = _mm256_or_si256(ck_clip8_q22_avx2(r0),
                          _mm256_or_si256(_mm256_slli_epi32(ck_clip8_q22_avx2(g0), 8), _mm256_slli_epi32(ck_clip8_q22_avx2(b0), 16)));
            // Each half's four pixels to 12 bytes: 8 + 4 stored, nothing written past them.
            __m128i lo = _mm_shuffle_epi8(_mm256_castsi256_si128(rgb), compact);
            __m128i hi = _mm_shuffle_epi8(_mm256_extracti128_si256(rgb, 1), compact);
            uint8_t *d = o + 3 * x;
            _mm_storel_epi64((__m128i *)d, lo);
            uint32_t t = (uint32_t)_mm_extract_epi32(lo, 2);
            memcpy(d + 8, &t, 4);
            _mm_storel_epi64((__m128i *)(d + 12), hi);
            t = (uint32_t)_mm_extract_epi32(hi, 2);
            memcpy(d + 20, &t, 4);
        }
    }
    ck_resample_rows_range(p, src, out, vector, n);
}

/// Sixteen bytes at a time: each tap's bytes widened to 32 bits, times the tap's weight.
__attribute__((target("avx2")))
void ck_resample_column_u8__avx2(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out) {
    size_t x = 0;
    const __m256i half = _mm256_set1_epi32(1 << 21);
    for (; x + 16 <= n; x += 16) {
        __m256i a0 = half, a1 = half;
        for (size_t i = 0; i < taps; i++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(src + i * stride + x));
            __m256i w = _mm256_set1_epi32(weights[i]);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(v), w));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)), w));
        }
        // >> 22 fits in 16 bits; the signed then unsigned saturating packs clamp to [0, 255].
        __m256i s = _mm256_packs_epi32(_mm256_srai_epi32(a0, 22), _mm256_srai_epi32(a1, 22));
        s = _mm256_permute4x64_epi64(s, 0xD8);
        _mm_storeu_si128((__m128i *)(out + x), _mm_packus_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
    }
    ck_resample_column_u8__scalar(src + x, stride, weights, taps, n - x, out + x);
}
#else
void ck_resample_rows_rgb8__avx2(const ck_resample_rows_params *p, const uint8_t *src, uint8_t *out) { ck_resample_rows_rgb8__scalar(p, src, out); }
void ck_resample_column_u8__avx2(const uint8_t *src, size_t stride, const int32_t *weights, size_t taps, size_t n, uint8_t *out) {
    ck_resample_column_u8__scalar(src, stride, weights, taps, n, out);
}
#endif
