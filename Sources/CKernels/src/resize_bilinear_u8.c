// Bilinear Resize of u8 codes over one NHWC image (ck_resize_bilinear_u8_params in ck_int8.h).
// Integer arithmetic only, so every variant gives the scalar loop's bytes.

#include "ck_int8.h"
#include <stdint.h>

/// One channel: columns blended first (Q11), then rows (Q22), rounded half up.
static inline uint8_t blend(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d, int32_t fx, int32_t fy, size_t i) {
    const int32_t top = (2048 - fx) * a[i] + fx * b[i], bottom = (2048 - fx) * c[i] + fx * d[i];
    return (uint8_t)(((2048 - fy) * top + fy * bottom + (1 << 21)) >> 22);
}

void ck_resize_bilinear_u8__scalar(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output) {
    const size_t ch = p->channels, row = p->in_w * ch;
    for (size_t oy = 0; oy < p->out_h; oy++) {
        const uint8_t *r0 = input + (size_t)p->row0[oy] * row, *r1 = input + (size_t)p->row1[oy] * row;
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const int32_t fx = p->col_frac[ox], fy = p->row_frac[oy];
            const size_t c0 = (size_t)p->col0[ox] * ch, c1 = (size_t)p->col1[ox] * ch;
            for (size_t i = 0; i < ch; i++) output[i] = blend(r0 + c0, r0 + c1, r1 + c0, r1 + c1, fx, fy, i);
            output += ch;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/// 16 channels: the pairs (a, b) and (c, d) widened to 16 bits and interleaved, so one vpmaddwd
/// per pair gives the column blend (at most 255·2048); the row blend is top·2048 + (bottom −
/// top)·fy in 32 bits (at most 255·2048², below 2^31).
__attribute__((target("avx2")))
static inline __m128i blend16(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d, __m256i wx, __m256i fy) {
    const __m256i va = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)a));
    const __m256i vb = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b));
    const __m256i vc = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)c));
    const __m256i vd = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)d));
    const __m256i half = _mm256_set1_epi32(1 << 21);
    // Lanes: the lo sums hold channels 0-3 | 8-11, the hi sums 4-7 | 12-15.
    const __m256i top_lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(va, vb), wx);
    const __m256i top_hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(va, vb), wx);
    const __m256i bottom_lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(vc, vd), wx);
    const __m256i bottom_hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(vc, vd), wx);
    __m256i lo = _mm256_add_epi32(_mm256_slli_epi32(top_lo, 11), _mm256_mullo_epi32(_mm256_sub_epi32(bottom_lo, top_lo), fy));
    __m256i hi = _mm256_add_epi32(_mm256_slli_epi32(top_hi, 11), _mm256_mullo_epi32(_mm256_sub_epi32(bottom_hi, top_hi), fy));
    lo = _mm256_srai_epi32(_mm256_add_epi32(lo, half), 22);
    hi = _mm256_srai_epi32(_mm256_add_epi32(hi, half), 22);
    const __m256i words = _mm256_packus_epi32(lo, hi);                    // 0-7 | 8-15
    const __m256i bytes = _mm256_packus_epi16(words, words);              // 0-7 0-7 | 8-15 8-15
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(bytes, 0x08)); // 0-7 8-15
}

__attribute__((target("avx2")))
void ck_resize_bilinear_u8__avx2(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output) {
    const size_t ch = p->channels, row = p->in_w * ch;
    for (size_t oy = 0; oy < p->out_h; oy++) {
        const uint8_t *r0 = input + (size_t)p->row0[oy] * row, *r1 = input + (size_t)p->row1[oy] * row;
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const int32_t fx = p->col_frac[ox], fy = p->row_frac[oy];
            const uint8_t *a = r0 + (size_t)p->col0[ox] * ch, *b = r0 + (size_t)p->col1[ox] * ch;
            const uint8_t *c = r1 + (size_t)p->col0[ox] * ch, *d = r1 + (size_t)p->col1[ox] * ch;
            // (2048 − fx, fx) in each 32-bit element: the low word multiplies a, the high b.
            const __m256i wx = _mm256_set1_epi32((int32_t)((uint32_t)fx << 16 | (uint32_t)(2048 - fx)));
            const __m256i wy = _mm256_set1_epi32(fy);
            size_t i = 0;
            for (; i + 16 <= ch; i += 16) _mm_storeu_si128((__m128i *)(output + i), blend16(a + i, b + i, c + i, d + i, wx, wy));
            for (; i < ch; i++) output[i] = blend(a, b, c, d, fx, fy, i);
            output += ch;
        }
    }
}
#else
void ck_resize_bilinear_u8__avx2(const ck_resize_bilinear_u8_params *p, const uint8_t *input, uint8_t *output) {
    ck_resize_bilinear_u8__scalar(p, input, output);
}
#endif
