// INT8 depthwise conv2d, AVX-512: vectorized over 16 channels per zmm (4 blocks of 16 per
// pass for independent accumulators). Per tap: 16 u8 widened to dwords (vpmovzxbd), minus z_x,
// then vpmaddwd with the packed weight dwords (low half = s16 weight, high half 0) gives the
// exact products (x - z_x) * w; padded taps are skipped. Epilogue as in conv2d (requantize to
// u8 or dequantize to float), masked for the channel tail.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define CK_INLINE static inline __attribute__((always_inline))

CK_INLINE CK_T512 __mmask16 ck_dw8_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

CK_INLINE CK_T512 void ck_dw8_store(const ck_u8s8_output *o, __m512i acc, const float *scale, void *out, __mmask16 m) {
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(m, scale));
    if (o->mode == CK_U8S8_OUT_U8) {
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(o->zero_point));
        q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(o->lo)), _mm512_set1_epi32(o->hi));
        _mm512_mask_cvtepi32_storeu_epi8(out, m, q);
    } else {
        const __m512 y = _mm512_min_ps(_mm512_set1_ps(o->fmax), _mm512_max_ps(_mm512_set1_ps(o->fmin), v));
        _mm512_mask_storeu_ps(out, m, y);
    }
}

/// NB (1..4) blocks of 16 channels starting at channel c of output pixel (oy, ox).
CK_INLINE CK_T512 void ck_dw8_pixel(const int NB, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const int32_t *pw, size_t C16, const int32_t *bias, const ck_u8s8_output *o, void *output, size_t esize,
    size_t pix, size_t kh_lo, size_t kh_hi, size_t kw_lo, size_t kw_hi, ptrdiff_t iy0, ptrdiff_t ix0, size_t c,
    size_t C) {
    __m512i acc[4];
    __mmask16 m[4];
    const __m512i zx = _mm512_set1_epi32(p->input_zero_point);
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        m[b] = ck_dw8_mask(C - (c + 16 * (size_t)b));
        acc[b] = bias ? _mm512_maskz_loadu_epi32(m[b], bias + c + 16 * b) : _mm512_setzero_si512();
    }
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const uint8_t *rp = input + ((iy0 + (ptrdiff_t)(kh * p->dilation_h)) * in_w + ix0) * ips + (ptrdiff_t)c;
        const int32_t *wp = pw + kh * p->kernel_w * C16 + c;
        for (size_t kw = kw_lo; kw < kw_hi; kw++) {
            const uint8_t *xp = rp + (ptrdiff_t)(kw * p->dilation_w) * ips;
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const __m512i x = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m[b], xp + 16 * b)), zx);
                acc[b] = _mm512_add_epi32(acc[b], _mm512_madd_epi16(x, _mm512_loadu_si512(wp + kw * C16 + 16 * b)));
            }
        }
    }
    char *out = (char *)output + (pix * p->out_pixel_stride + c) * esize;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) ck_dw8_store(o, acc[b], o->scale + c + 16 * b, out + 16 * b * esize, m[b]);
}

CK_T512 void ck_dwconv2d_u8s8_nhwc__avx512(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15, KH = p->kernel_h, KW = p->kernel_w;
    const int32_t *pw = (const int32_t *)packed_weights;
    const size_t esize = out->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const ptrdiff_t dh = (ptrdiff_t)p->dilation_h, dw = (ptrdiff_t)p->dilation_w;
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w;
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const size_t oy = pix / p->out_w, ox = pix % p->out_w;
        const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
        // Valid taps: rows [kh_lo, kh_hi), columns [kw_lo, kw_hi).
        size_t kh_lo = 0, kh_hi = KH, kw_lo = 0, kw_hi = KW;
        while (kh_lo < KH && iy0 + (ptrdiff_t)kh_lo * dh < 0) kh_lo++;
        while (kh_hi > kh_lo && iy0 + (ptrdiff_t)(kh_hi - 1) * dh >= in_h) kh_hi--;
        while (kw_lo < KW && ix0 + (ptrdiff_t)kw_lo * dw < 0) kw_lo++;
        while (kw_hi > kw_lo && ix0 + (ptrdiff_t)(kw_hi - 1) * dw >= in_w) kw_hi--;
        size_t c = 0;
        for (; c + 64 <= C; c += 64)
            ck_dw8_pixel(4, p, input, pw, C16, bias, out, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
        const size_t rest = (C - c + 15) / 16;
        if (rest == 4) ck_dw8_pixel(4, p, input, pw, C16, bias, out, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
        else if (rest == 3) ck_dw8_pixel(3, p, input, pw, C16, bias, out, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
        else if (rest == 2) ck_dw8_pixel(2, p, input, pw, C16, bias, out, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
        else if (rest == 1) ck_dw8_pixel(1, p, input, pw, C16, bias, out, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
    }
}

#else

void ck_dwconv2d_u8s8_nhwc__avx512(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}

#endif
