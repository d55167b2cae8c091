// Per-channel sums of u8 codes over consecutive NHWC pixels (an average pool's window rows, a
// global average pool's whole map); every variant gives the scalar twin's sums (integers: exact).
// ck_mean_pixels_u8 adds the requantization of a global average pool's sums to codes:
//   out[c] = clamp(rne(float(sum_c - pixels * z_in) * m) + z_out, 0, 255)
// in wrapping int32 (as Int8Arithmetic.requantize in Swift; vcvtps2dq's INT32_MIN for NaN or
// overflow), so every variant gives the scalar twin's codes.
#include "ck_int8.h"
#include <math.h>
#include <stdint.h>

static inline int32_t ck_mean_cvt(float x) {
    if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
    return (int32_t)nearbyintf(x);
}

static inline uint8_t ck_mean_code(uint32_t sum, size_t pixels, int32_t zero_in, float m, int32_t zero_out) {
    const int32_t acc = (int32_t)(sum - (uint32_t)pixels * (uint32_t)zero_in);
    const int32_t q = (int32_t)((uint32_t)ck_mean_cvt((float)acc * m) + (uint32_t)zero_out);
    return (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
}

void ck_mean_pixels_u8__scalar(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out,
                               uint8_t *out) {
    for (size_t c = 0; c < channels; c++) {
        uint32_t sum = 0;
        for (size_t p = 0; p < pixels; p++) sum += x[p * channels + c];
        out[c] = ck_mean_code(sum, pixels, zero_in, m, zero_out);
    }
}

void ck_sum_pixels_u8__scalar(const uint8_t *x, size_t pixels, size_t channels, int32_t *sums) {
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *xp = x + p * channels;
        // Wrapping, as the u32 lanes of the vector variants (and Swift's &+=) wrap.
        for (size_t c = 0; c < channels; c++) sums[c] = (int32_t)((uint32_t)sums[c] + xp[c]);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "pack_u8_avx512.h"

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

/// Channels of sums the AVX2 mean keeps on the stack per pass.
enum { CK_MEAN_CHUNK = 4096 };

__attribute__((target("avx2")))
void ck_mean_pixels_u8__avx2(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out,
                             uint8_t *out) {
    int32_t sums[CK_MEAN_CHUNK];
    const __m256i off = _mm256_set1_epi32((int32_t)((uint32_t)pixels * (uint32_t)zero_in)), vzo = _mm256_set1_epi32(zero_out);
    const __m256 vm = _mm256_set1_ps(m);
    for (size_t c0 = 0; c0 < channels; c0 += CK_MEAN_CHUNK) {
        const size_t n = channels - c0 < CK_MEAN_CHUNK ? channels - c0 : CK_MEAN_CHUNK;
        // The pixels of channels [c0, c0 + n): a view of the map with the same pixel stride.
        for (size_t c = 0; c < n; c++) sums[c] = 0;
        if (n == channels) ck_sum_pixels_u8__avx2(x, pixels, channels, sums);
        else for (size_t p = 0; p < pixels; p++) for (size_t c = 0; c < n; c++) sums[c] = (int32_t)((uint32_t)sums[c] + x[p * channels + c0 + c]);
        size_t c = 0;
        for (; c + 8 <= n; c += 8) {
            const __m256i acc = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(sums + c)), off);
            const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), vm)), vzo);
            // Saturating packs give clamp(q, 0, 255).
            const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(out + c0 + c), _mm_packus_epi16(p16, p16));
        }
        for (; c < n; c++) out[c0 + c] = ck_mean_code((uint32_t)sums[c], pixels, zero_in, m, zero_out);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,bmi2")))
void ck_mean_pixels_u8__avx512(const uint8_t *x, size_t pixels, size_t channels, int32_t zero_in, float m, int32_t zero_out,
                               uint8_t *out) {
    const __m512i off = _mm512_set1_epi32((int32_t)((uint32_t)pixels * (uint32_t)zero_in)), vzo = _mm512_set1_epi32(zero_out);
    const __m512 vm = _mm512_set1_ps(m);
    for (size_t c = 0; c < channels; c += 64) {
        const size_t nc = channels - c < 64 ? channels - c : 64;
        const __mmask64 k = nc == 64 ? ~(__mmask64)0 : _bzhi_u64(~0ULL, (unsigned)nc);
        // u32 sums of channels c + 16j .. c + 16j + 15 in s[j]; u16 partial sums of up to 256
        // pixels (255 * 256 < 65536) in a0 (channels c .. c + 31) and a1 (c + 32 .. c + 63).
        __m512i s[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (size_t p0 = 0; p0 < pixels; p0 += CK_SUM_BLOCK) {
            const size_t p1 = pixels - p0 < CK_SUM_BLOCK ? pixels : p0 + CK_SUM_BLOCK;
            __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
            for (size_t p = p0; p < p1; p++) {
                const __m512i v = _mm512_maskz_loadu_epi8(k, x + p * channels + c);
                a0 = _mm512_add_epi16(a0, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v)));
                a1 = _mm512_add_epi16(a1, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(v, 1)));
            }
            s[0] = _mm512_add_epi32(s[0], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(a0)));
            s[1] = _mm512_add_epi32(s[1], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(a0, 1)));
            s[2] = _mm512_add_epi32(s[2], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(a1)));
            s[3] = _mm512_add_epi32(s[3], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(a1, 1)));
        }
        __m512i q[4];
        for (int j = 0; j < 4; j++)
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(s[j], off)), vm)), vzo);
        const __m512i v = ck_pack64_u8(q[0], q[1], q[2], q[3]);   // clamp(q, 0, 255), in channel order
        if (nc == 64) _mm512_storeu_si512(out + c, v);
        else _mm512_mask_storeu_epi8(out + c, k, v);
    }
}
#endif
