// Interleave of two runs of codes: a channel shuffle of two groups on u8 codes.

#include "ck_int8.h"
#include <stdint.h>

void ck_interleave2_u8__scalar(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = a[i];
        out[2 * i + 1] = b[i];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
void ck_interleave2_u8__avx2(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + i));
        // Within each 128-bit lane: bytes 0-7 and 8-15 of a and b interleaved; the lane
        // permutes put the four 16-byte results in order.
        __m256i lo = _mm256_unpacklo_epi8(va, vb), hi = _mm256_unpackhi_epi8(va, vb);
        _mm256_storeu_si256((__m256i *)(out + 2 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 2 * i + 32), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; i + 16 <= n; i += 16) {
        __m128i va = _mm_loadu_si128((const __m128i *)(a + i)), vb = _mm_loadu_si128((const __m128i *)(b + i));
        _mm_storeu_si128((__m128i *)(out + 2 * i), _mm_unpacklo_epi8(va, vb));
        _mm_storeu_si128((__m128i *)(out + 2 * i + 16), _mm_unpackhi_epi8(va, vb));
    }
    ck_interleave2_u8__scalar(a + i, b + i, out + 2 * i, n - i);
}
#else
void ck_interleave2_u8__avx2(const uint8_t *a, const uint8_t *b, uint8_t *out, size_t n) { ck_interleave2_u8__scalar(a, b, out, n); }
#endif
