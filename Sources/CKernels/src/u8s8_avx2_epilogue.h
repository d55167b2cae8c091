// The AVX2 epilogue helpers of the per-channel INT8 kernels (depthwise, small-group): 8 int32
// accumulators of one pixel to u8 codes or floats, exactly as ck_q8_store1 of the scalar twin
// (float(acc) * scale, vcvtps2dq, + z_y, clamp; float outputs clamped with the constant first),
// and byte loads that read only what they must. The including file defines CK_T256 (its target
// attribute) and CK_INLINE.
#ifndef CK_U8S8_AVX2_EPILOGUE_H
#define CK_U8S8_AVX2_EPILOGUE_H
#include <immintrin.h>
#include <string.h>

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

/// The epilogue of channels [c, c + n) (n <= 8): their scales (0 past n), loaded once per tile.
typedef struct { __m256 scale; size_t n; } ck_dw8_epi8;

CK_INLINE CK_T256 ck_dw8_epi8 ck_dw8_epi8_at(const ck_u8s8_output *o, size_t c, size_t n) {
    ck_dw8_epi8 e;
    e.n = n;
    if (n == 8) {
        e.scale = _mm256_loadu_ps(o->scale + c);
    } else {
        float s[8] = {0};
        memcpy(s, o->scale + c, n * sizeof(float));
        e.scale = _mm256_loadu_ps(s);
    }
    return e;
}

/// One pixel's n channels of e at output element idx: requantize or dequantize, store exactly n
/// values.
CK_INLINE CK_T256 void ck_dw8_store_epi8(const ck_u8s8_output *o, const ck_dw8_epi8 *e, __m256i acc, void *output, size_t idx) {
    const __m256 v = ck_dw8_dequant(acc, e->scale);
    if (o->mode == CK_U8S8_OUT_U8) {
        const __m256i zy = _mm256_set1_epi32(o->zero_point), lo = _mm256_set1_epi32(o->lo), hi = _mm256_set1_epi32(o->hi);
        const uint64_t q = ck_dw8_bytes8(ck_dw8_requant(v, zy, lo, hi));
        memcpy((uint8_t *)output + idx, &q, e->n);
    } else {
        const __m256 y = ck_dw8_fclamp(v, _mm256_set1_ps(o->fmin), _mm256_set1_ps(o->fmax));
        if (e->n == 8) {
            _mm256_storeu_ps((float *)output + idx, y);
        } else {
            float t[8];
            _mm256_storeu_ps(t, y);
            memcpy((float *)output + idx, t, e->n * sizeof(float));
        }
    }
}

/// The epilogue of one full 8-channel group of one pixel (channels [c, c + 8), output index idx).
CK_INLINE CK_T256 void ck_dw8_store8(const ck_u8s8_output *o, void *output, size_t idx, size_t c, __m256i acc) {
    const ck_dw8_epi8 e = ck_dw8_epi8_at(o, c, 8);
    ck_dw8_store_epi8(o, &e, acc, output, idx);
}

#endif
