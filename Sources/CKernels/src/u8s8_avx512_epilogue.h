// The AVX-512 epilogue of the per-channel INT8 kernels (depthwise, small-group): 16 int32
// accumulators of one pixel to u8 codes or floats, exactly as ck_q8_store1 of the scalar twin
// (float(acc) * scale, vcvtps2dq, + z_y, clamp). The including file defines CK_DW_T (its target
// attribute) and CK_INLINE.
#ifndef CK_U8S8_AVX512_EPILOGUE_H
#define CK_U8S8_AVX512_EPILOGUE_H
#include <immintrin.h>

CK_INLINE CK_DW_T __mmask16 ck_dw8_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/// 16 channels (lanes of m) of one pixel: requantize or dequantize, store.
CK_INLINE CK_DW_T void ck_dw8_store(const ck_u8s8_output *o, __m512i acc, __m512 scale, void *out, __mmask16 m, int full) {
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale);
    if (o->mode == CK_U8S8_OUT_U8) {
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(o->zero_point));
        q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(o->lo)), _mm512_set1_epi32(o->hi));
        if (full) _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(q));
        else _mm512_mask_cvtepi32_storeu_epi8(out, m, q);
    } else {
        const __m512 y = _mm512_min_ps(_mm512_set1_ps(o->fmax), _mm512_max_ps(_mm512_set1_ps(o->fmin), v));
        if (full) _mm512_storeu_ps(out, y);
        else _mm512_mask_storeu_ps(out, m, y);
    }
}

/// The epilogue of channels [c, c + n) (n <= 16): their scales and lanes, loaded once per tile.
typedef struct { __m512 scale; __mmask16 m; int full; } ck_dw8_epi;

CK_INLINE CK_DW_T ck_dw8_epi ck_dw8_epi_at(const ck_u8s8_output *o, size_t c, size_t n) {
    ck_dw8_epi e;
    e.m = ck_dw8_mask(n);
    e.scale = _mm512_maskz_loadu_ps(e.m, o->scale + c);
    e.full = n == 16;
    return e;
}

/// One pixel's lanes of e at output element `at` (bytes or floats).
CK_INLINE CK_DW_T void ck_dw8_store_epi(const ck_u8s8_output *o, const ck_dw8_epi *e, __m512i acc, void *output, size_t at) {
    ck_dw8_store(o, acc, e->scale, (char *)output + at * (o->mode == CK_U8S8_OUT_U8 ? 1 : 4), e->m, e->full);
}

#endif
