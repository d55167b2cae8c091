// Table lookups u8 -> u8 and the product of two quantized tensors; every variant gives the same
// bytes as the scalar one (the specification, with Int8Arithmetic in Swift).
#include "ck_int8.h"

// The product's float multiply and zero-point add round separately, as ONNX Runtime's
// QLinearMul does (mulps, then addps): no fused multiply-add.
#pragma STDC FP_CONTRACT OFF
#include <math.h>
#include <stdint.h>

void ck_lookup_u8__scalar(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = table[x[i]];
}

void ck_lookup_channels_u8__scalar(const uint8_t *x, const uint8_t *tables, uint8_t *out, size_t pixels, size_t channels) {
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *xp = x + p * channels;
        uint8_t *op = out + p * channels;
        for (size_t c = 0; c < channels; c++) op[c] = tables[c * 256 + xp[c]];
    }
}

static inline int32_t ck_m_cvtps_epi32(float x) {
    if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
    return (int32_t)nearbyintf(x);
}

void ck_qmul_u8__scalar(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels) {
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *ap = a + p * channels, *bp = b + p * b_stride;
        uint8_t *op = out + p * channels;
        for (size_t c = 0; c < channels; c++) {
            const int32_t prod = ((int32_t)ap[c] - za) * ((int32_t)bp[c] - zb);
            const float scaled = (float)prod * m;
            const int32_t q = (int32_t)((uint32_t)ck_m_cvtps_epi32(scaled + (float)zy) + (uint32_t)offset);
            op[c] = (uint8_t)(q < lo ? lo : (q > hi ? hi : q));
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "pack_u8_avx512.h"

__attribute__((target("avx512f,avx512bw,avx512vbmi")))
void ck_lookup_u8__avx512vbmi(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    for (size_t i = 0; i < n; i += 64) {
        const size_t left = n - i;
        const __mmask64 k = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        const __m512i v = _mm512_maskz_loadu_epi8(k, x + i);
        // Bits 0-6 pick one of 128 bytes of each half; bit 7 picks the half.
        const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_mask_storeu_epi8(out + i, k, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
    }
}

/// 32 codes per 16 vpshufb: where there is no vpermi2b (AVX2, Skylake's AVX512BW).
__attribute__((target("avx2")))
void ck_lookup_u8__avx2(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n) {
    // Row h of the table (entries 16h .. 16h + 15) in both 128-bit lanes, for vpshufb.
    __m256i rows[16];
    for (int h = 0; h < 16; h++) rows[h] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(table + 16 * h)));
    const __m256i bias = _mm256_set1_epi8(0x70);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i r = _mm256_setzero_si256();
        // Codes whose high nibble is h become 0..15 after the xor and keep bit 7 clear after the
        // saturating add of 0x70, so vpshufb looks them up in row h; every other code gets bit 7
        // set, which vpshufb turns into 0.
#pragma GCC unroll 16
        for (int h = 0; h < 16; h++) {
            const __m256i idx = _mm256_adds_epu8(_mm256_xor_si256(v, _mm256_set1_epi8((char)(h << 4))), bias);
            r = _mm256_or_si256(r, _mm256_shuffle_epi8(rows[h], idx));
        }
        _mm256_storeu_si256((__m256i *)(out + i), r);
    }
    for (; i < n; i++) out[i] = table[x[i]];
}

/// Longest broadcast row (channels) the AVX-512 product reads as one run of pixels (on the stack).
#define CK_QMUL_ROW_MAX 4096

/// 16 products (a - za)(b - zb), scaled by m, plus zy, rounded, plus the code offset, as int32
/// (before the clamp).
static inline __attribute__((target("avx512f,avx512bw,avx512vl"))) __m512i ck_qmul16(__m128i a, __m128i b, __m512i vza, __m512i vzb,
                                                                                   __m512 vm, __m512 vzy, __m512i voff) {
    const __m512i da = _mm512_sub_epi32(_mm512_cvtepu8_epi32(a), vza), db = _mm512_sub_epi32(_mm512_cvtepu8_epi32(b), vzb);
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(da, db)), vm), vzy)), voff);
}

/// ck_qmul16 with the gates given as the floats b - zb (exact small integers): (float)(a - za)
/// times them is the exact product, as (float) of the integer product is.
static inline __attribute__((target("avx512f,avx512bw,avx512vl"))) __m512i ck_qmul16_gate(__m128i a, __m512 gate, __m512i vza, __m512 vm,
                                                                                        __m512 vzy, __m512i voff) {
    const __m512 da = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(a), vza));
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(da, gate), vm), vzy)), voff);
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
void ck_qmul_u8__avx512(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels) {
    const __m512i vza = _mm512_set1_epi32(za), vzb = _mm512_set1_epi32(zb);
    const __m512i v0 = _mm512_set1_epi32(lo), v255 = _mm512_set1_epi32(hi);
    const __m512 vm = _mm512_set1_ps(m), vzy = _mm512_set1_ps((float)zy);
    const __m512i voff = _mm512_set1_epi32(offset);
    // 64 codes at a time with plain loads and one store (ck_pack64_u8), then [lo, hi] on the
    // bytes: clamp(v) == clamp(sat_u8(sat_s16(v))) when 0 <= lo <= hi <= 255.
    const int packs = lo >= 0 && lo <= hi && hi <= 255;
    const __m512i lo8 = _mm512_set1_epi8((char)lo), hi8 = _mm512_set1_epi8((char)hi);
    if (packs && b_stride == 0 && channels <= CK_QMUL_ROW_MAX && channels > 0) {
        // A broadcast gate (a squeeze-excitation), the pixels as one run of pixels * channels
        // codes: only the run's end is masked (a masked store per pixel cost as much as the
        // products with 200 channels). The gates are read from `row` as the floats b - zb,
        // repeated to channels + 64, where the 64 at (i mod channels) are those of elements
        // i .. i + 63: (float)(a - za) * row is the exact product (|product| < 2^24), so the
        // result is the scalar twin's, in 8 operations per 16 codes instead of 11.
        float row[CK_QMUL_ROW_MAX + 64];
        for (size_t k = 0, c = 0; k < channels + 64; k++, c = c + 1 == channels ? 0 : c + 1) row[k] = (float)((int32_t)b[c] - zb);
        const size_t n = pixels * channels, step64 = 64 % channels, step16 = 16 % channels;
        size_t i = 0, at = 0;  // at: where element i's gate is in `row`, always < channels
        for (; i + 64 <= n; i += 64) {
            __m512i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = ck_qmul16_gate(_mm_loadu_si128((const __m128i *)(a + i + 16 * j)), _mm512_loadu_ps(row + at + 16 * j), vza, vm, vzy, voff);
            _mm512_storeu_si512(out + i, _mm512_min_epu8(_mm512_max_epu8(ck_pack64_u8(q[0], q[1], q[2], q[3]), lo8), hi8));
            at += step64;
            if (at >= channels) at -= channels;
        }
        for (; i < n; i += 16) {
            const size_t left = n - i;
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            const __m512i r = ck_qmul16_gate(_mm_maskz_loadu_epi8(k, a + i), _mm512_maskz_loadu_ps(k, row + at), vza, vm, vzy, voff);
            _mm512_mask_cvtepi32_storeu_epi8(out + i, k, _mm512_min_epi32(_mm512_max_epi32(r, v0), v255));
            at += step16;
            if (at >= channels) at -= channels;
        }
        return;
    }
    if (packs && b_stride == channels && channels > 0) {
        // Two tensors of one shape: one run of pixels * channels codes, as above.
        const size_t n = pixels * channels;
        size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            __m512i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = ck_qmul16(_mm_loadu_si128((const __m128i *)(a + i + 16 * j)), _mm_loadu_si128((const __m128i *)(b + i + 16 * j)), vza, vzb, vm, vzy, voff);
            _mm512_storeu_si512(out + i, _mm512_min_epu8(_mm512_max_epu8(ck_pack64_u8(q[0], q[1], q[2], q[3]), lo8), hi8));
        }
        for (; i < n; i += 16) {
            const size_t left = n - i;
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            const __m512i r = ck_qmul16(_mm_maskz_loadu_epi8(k, a + i), _mm_maskz_loadu_epi8(k, b + i), vza, vzb, vm, vzy, voff);
            _mm512_mask_cvtepi32_storeu_epi8(out + i, k, _mm512_min_epi32(_mm512_max_epi32(r, v0), v255));
        }
        return;
    }
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *ap = a + p * channels, *bp = b + p * b_stride;
        uint8_t *op = out + p * channels;
        size_t c = 0;
        if (packs)
            for (; c + 64 <= channels; c += 64) {
                __m512i q[4];
                for (int j = 0; j < 4; j++)
                    q[j] = ck_qmul16(_mm_loadu_si128((const __m128i *)(ap + c + 16 * j)), _mm_loadu_si128((const __m128i *)(bp + c + 16 * j)),
                                     vza, vzb, vm, vzy, voff);
                _mm512_storeu_si512(op + c, _mm512_min_epu8(_mm512_max_epu8(ck_pack64_u8(q[0], q[1], q[2], q[3]), lo8), hi8));
            }
        for (; c < channels; c += 16) {
            const size_t left = channels - c;
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            const __m512i r = ck_qmul16(_mm_maskz_loadu_epi8(k, ap + c), _mm_maskz_loadu_epi8(k, bp + c), vza, vzb, vm, vzy, voff);
            _mm512_mask_cvtepi32_storeu_epi8(op + c, k, _mm512_min_epi32(_mm512_max_epi32(r, v0), v255));
        }
    }
}

__attribute__((target("avx2")))
void ck_qmul_u8__avx2(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                      int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels) {
    const __m256i vza = _mm256_set1_epi32(za), vzb = _mm256_set1_epi32(zb);
    const __m256i v0 = _mm256_set1_epi32(lo), v255 = _mm256_set1_epi32(hi);
    const __m256 vm = _mm256_set1_ps(m), vzy = _mm256_set1_ps((float)zy);
    const __m256i voff = _mm256_set1_epi32(offset);
    for (size_t p = 0; p < pixels; p++) {
        const uint8_t *ap = a + p * channels, *bp = b + p * b_stride;
        uint8_t *op = out + p * channels;
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            const __m256i da = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ap + c))), vza);
            const __m256i db = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(bp + c))), vzb);
            const __m256 f = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(da, db)), vm), vzy);
            const __m256i r = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(f), voff), v0), v255);
            const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
            _mm_storel_epi64((__m128i *)(op + c), _mm_packus_epi16(p16, p16));
        }
        if (c < channels) ck_qmul_u8__scalar(ap + c, za, bp + c, zb, 0, m, zy, offset, lo, hi, op + c, 1, channels - c);
    }
}
#else
void ck_lookup_u8__avx512vbmi(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n) { ck_lookup_u8__scalar(x, table, out, n); }
void ck_lookup_u8__avx2(const uint8_t *x, const uint8_t *table, uint8_t *out, size_t n) { ck_lookup_u8__scalar(x, table, out, n); }
void ck_qmul_u8__avx512(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                        int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels) { ck_qmul_u8__scalar(a, za, b, zb, b_stride, m, zy, offset, lo, hi, out, pixels, channels); }
void ck_qmul_u8__avx2(const uint8_t *a, int32_t za, const uint8_t *b, int32_t zb, size_t b_stride, float m, int32_t zy,
                      int32_t offset, int32_t lo, int32_t hi, uint8_t *out, size_t pixels, size_t channels) { ck_qmul_u8__scalar(a, za, b, zb, b_stride, m, zy, offset, lo, hi, out, pixels, channels); }
#endif
