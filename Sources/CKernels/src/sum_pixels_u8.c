// Per-channel sums of u8 codes over consecutive NHWC pixels (an average pool's window rows, a
// global average pool's whole map); every variant gives the scalar twin's sums (integers: exact).
#include "ck_int8.h"
#include <stdint.h>

void ck_sum_pixels_u8__scalar(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums) {
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *xp = x + p * channels;
        // Wrapping, as the u32 lanes of the vector variants (and Swift's &+=) wrap.
        for (size_t c = 0; c < channels; c++) sums[c] = (int32_t)((uint32_t)sums[c] + xp[c]);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// u16 lanes hold the sum of 257 codes of 255 (65,535) before they could wrap: pixels are summed in
// blocks of 256 into u16, each block then widened into the u32 sums.
enum { CK_SUM_BLOCK = 256 };

__attribute__((target("avx2")))
void ck_sum_pixels_u8__avx2(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums) {
    size_t c = 0;
    for (; c + 32 <= channels; c += 32) {
        __m256i s0 = _mm256_loadu_si256((const __m256i *)(sums + c)), s1 = _mm256_loadu_si256((const __m256i *)(sums + c + 8));
        __m256i s2 = _mm256_loadu_si256((const __m256i *)(sums + c + 16)), s3 = _mm256_loadu_si256((const __m256i *)(sums + c + 24));
        for (size_t p0 = 0; p0 < pixels; p0 += CK_SUM_BLOCK) {
            const size_t p1 = pixels - p0 < CK_SUM_BLOCK ? pixels : p0 + CK_SUM_BLOCK;
            __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
            for (size_t p = p0; p < p1; p++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(x + p * channels + c));
                a0 = _mm256_add_epi16(a0, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)));
                a1 = _mm256_add_epi16(a1, _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1)));
            }
            s0 = _mm256_add_epi32(s0, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(a0)));
            s1 = _mm256_add_epi32(s1, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(a0, 1)));
            s2 = _mm256_add_epi32(s2, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(a1)));
            s3 = _mm256_add_epi32(s3, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(a1, 1)));
        }
        _mm256_storeu_si256((__m256i *)(sums + c), s0);
        _mm256_storeu_si256((__m256i *)(sums + c + 8), s1);
        _mm256_storeu_si256((__m256i *)(sums + c + 16), s2);
        _mm256_storeu_si256((__m256i *)(sums + c + 24), s3);
    }
    for (; c + 16 <= channels; c += 16) {
        __m256i s0 = _mm256_loadu_si256((const __m256i *)(sums + c)), s1 = _mm256_loadu_si256((const __m256i *)(sums + c + 8));
        for (size_t p0 = 0; p0 < pixels; p0 += CK_SUM_BLOCK) {
            const size_t p1 = pixels - p0 < CK_SUM_BLOCK ? pixels : p0 + CK_SUM_BLOCK;
            __m256i a = _mm256_setzero_si256();
            for (size_t p = p0; p < p1; p++) {
                a = _mm256_add_epi16(a, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + p * channels + c))));
            }
            s0 = _mm256_add_epi32(s0, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(a)));
            s1 = _mm256_add_epi32(s1, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(a, 1)));
        }
        _mm256_storeu_si256((__m256i *)(sums + c), s0);
        _mm256_storeu_si256((__m256i *)(sums + c + 8), s1);
    }
    if (c < channels) {
        // The last channels (fewer than 16), one pixel at a time.
        for (size_t p = 0; p < pixels; p++) {
            const uint8_t *xp = x + p * channels;
            for (size_t k = c; k < channels; k++) sums[k] = (int32_t)((uint32_t)sums[k] + xp[k]);
        }
    }
}
#endif
