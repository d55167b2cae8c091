// INT8 depthwise conv2d, AVX2 (no AVX-512): the AVX-512 kernel on ymm, 8 channels per ymm
// (up to 4 blocks of 8 per pass for independent accumulators). Per tap: 8 u8 widened to dwords
// (vpmovzxbd), minus z_x, then vpmaddwd with the packed weight dwords (low half = s16 weight,
// high half 0) gives the exact products (x - z_x) * w; padded taps are skipped. Same packed
// weights as the other variants.
// Channel tail without masked byte loads: when C >= 8 the last C % 8 channels are done as one
// full block of channels [C - 8, C) (it recomputes and rewrites a few channels with the same
// values; channels are independent); only C < 8 needs partial loads and stores.
// Epilogue as the scalar ck_q8_store1: u8 output truncates dwords to bytes (vpand + vpackus, or
// vpshufb + vpermd for a single block), float output clamps as max(fmin, v) then min(fmax, .)
// with the constant as the FIRST operand, so NaN and signed zeros behave like the scalar
// compares.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T256 __attribute__((target("avx2,fma")))
#define CK_INLINE static inline __attribute__((always_inline))

/// Lanes [0, n) set, n <= 8.
CK_INLINE CK_T256 __m256i ck_dw8_mask8(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// n (< 8) bytes from p into the low bytes of an xmm, the rest zero; reads only [p, p + n).
CK_INLINE CK_T256 __m128i ck_dw8_load_part(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    size_t i = 0;
    if (n & 4) {
        uint32_t t;
        memcpy(&t, p, 4);
        v = t;
        i = 4;
    }
    if (n & 2) {
        uint16_t t;
        memcpy(&t, p + i, 2);
        v |= (uint64_t)t << (8 * i);
        i += 2;
    }
    if (n & 1) v |= (uint64_t)p[i] << (8 * i);
    return _mm_cvtsi64_si128((long long)v);
}

/// The output stage in float: (float)acc * scale.
CK_INLINE CK_T256 __m256 ck_dw8_dequant(__m256i acc, __m256 scale) {
    return _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
}

/// u8 mode before truncation: clamp(rne(v) + z_y, lo, hi) (wrapping add, INT32_MIN on overflow).
CK_INLINE CK_T256 __m256i ck_dw8_requant(__m256 v, __m256i zy, __m256i lo, __m256i hi) {
    return _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(v), zy), lo), hi);
}

/// float mode: the scalar `if (y < fmin) y = fmin; if (y > fmax) y = fmax;` (vmaxps / vminps
/// return the second operand on NaN and on equality).
CK_INLINE CK_T256 __m256 ck_dw8_fclamp(__m256 v, __m256 fmin, __m256 fmax) {
    return _mm256_min_ps(fmax, _mm256_max_ps(fmin, v));
}

/// The low byte of each dword of q, in order.
CK_INLINE CK_T256 uint64_t ck_dw8_bytes8(__m256i q) {
    const __m256i shuf = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i t = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, shuf), _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    return (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(t));
}

/// NB (1..4) blocks of 8 channels starting at channel c of output pixel pix. PART: a single
/// block of n < 8 channels (C < 8); otherwise every block is full.
CK_INLINE CK_T256 void ck_dw8_pixel(const int NB, const int PART, const ck_conv2d_u8s8_params *p,
    const uint8_t *input, const int32_t *pw, size_t C16, const int32_t *bias, const ck_u8s8_output *o,
    void *output, size_t pix, size_t kh_lo, size_t kh_hi, size_t kw_lo, size_t kw_hi, ptrdiff_t iy0,
    ptrdiff_t ix0, size_t c, size_t n) {
    __m256i acc[4];
    const __m256i m = PART ? ck_dw8_mask8(n) : _mm256_set1_epi32(-1);
    const __m256i zx = _mm256_set1_epi32(p->input_zero_point);
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        if (!bias) acc[b] = _mm256_setzero_si256();
        else if (PART) acc[b] = _mm256_maskload_epi32(bias + c, m);
        else acc[b] = _mm256_loadu_si256((const __m256i *)(bias + c + 8 * b));
    }
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const uint8_t *rp = input + ((iy0 + (ptrdiff_t)(kh * p->dilation_h)) * in_w + ix0) * ips + (ptrdiff_t)c;
        const int32_t *wp = pw + kh * p->kernel_w * C16 + c;
        for (size_t kw = kw_lo; kw < kw_hi; kw++) {
            const uint8_t *xp = rp + (ptrdiff_t)(kw * p->dilation_w) * ips;
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const __m128i x8 = PART ? ck_dw8_load_part(xp, n) : _mm_loadl_epi64((const __m128i *)(xp + 8 * b));
                const __m256i x = _mm256_sub_epi32(_mm256_cvtepu8_epi32(x8), zx);
                // Packed weights are zero-padded to C16, so the full load stays in bounds.
                acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(wp + kw * C16 + 8 * b))));
            }
        }
    }
    const size_t idx = pix * p->out_pixel_stride + c;
    __m256 v[4];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
        v[b] = ck_dw8_dequant(acc[b], PART ? _mm256_maskload_ps(o->scale + c, m) : _mm256_loadu_ps(o->scale + c + 8 * b));
    if (o->mode == CK_U8S8_OUT_U8) {
        const __m256i zy = _mm256_set1_epi32(o->zero_point), lo = _mm256_set1_epi32(o->lo), hi = _mm256_set1_epi32(o->hi);
        uint8_t *out = (uint8_t *)output + idx;
        if (NB == 4) {
            // Truncate to bytes exactly: keep the low byte, then the unsigned packs are no-ops.
            const __m256i ff = _mm256_set1_epi32(0xFF);
            const __m256i q0 = _mm256_and_si256(ck_dw8_requant(v[0], zy, lo, hi), ff);
            const __m256i q1 = _mm256_and_si256(ck_dw8_requant(v[1], zy, lo, hi), ff);
            const __m256i q2 = _mm256_and_si256(ck_dw8_requant(v[2], zy, lo, hi), ff);
            const __m256i q3 = _mm256_and_si256(ck_dw8_requant(v[3], zy, lo, hi), ff);
            const __m256i t = _mm256_packus_epi16(_mm256_packus_epi32(q0, q1), _mm256_packus_epi32(q2, q3));
            _mm256_storeu_si256((__m256i *)out, _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        } else {
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const uint64_t q = ck_dw8_bytes8(ck_dw8_requant(v[b], zy, lo, hi));
                if (PART) for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(q >> (8 * i));
                else memcpy(out + 8 * b, &q, 8);
            }
        }
    } else {
        const __m256 fmin = _mm256_set1_ps(o->fmin), fmax = _mm256_set1_ps(o->fmax);
        float *out = (float *)output + idx;
#pragma GCC unroll 4
        for (int b = 0; b < NB; b++) {
            const __m256 y = ck_dw8_fclamp(v[b], fmin, fmax);
            if (PART) _mm256_maskstore_ps(out, m, y);
            else _mm256_storeu_ps(out + 8 * b, y);
        }
    }
}

CK_T256 void ck_dwconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15;
    if (C == 0) return;
    const int32_t *pw = (const int32_t *)packed_weights;
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const ck_q8_window t = ck_q8_valid_taps(p, pix);
        const size_t kh_lo = t.kh[0], kh_hi = t.kh[1], kw_lo = t.kw[0], kw_hi = t.kw[1];
        const ptrdiff_t iy0 = t.iy0, ix0 = t.ix0;
        if (C < 8) {
            ck_dw8_pixel(1, 1, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, 0, C);
            continue;
        }
        size_t c = 0;
        for (; c + 32 <= C; c += 32)
            ck_dw8_pixel(4, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        const size_t full = (C - c) / 8;
        if (full == 3) ck_dw8_pixel(3, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        else if (full == 2) ck_dw8_pixel(2, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        else if (full == 1) ck_dw8_pixel(1, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        if (C % 8) // channels [C - 8, C): overlaps the last full block (C >= 8)
            ck_dw8_pixel(1, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, C - 8, 8);
    }
}

#else

void ck_dwconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}

#endif
