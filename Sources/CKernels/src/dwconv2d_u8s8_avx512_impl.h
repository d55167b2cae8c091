// INT8 depthwise conv2d, AVX-512 body shared by dwconv2d_u8s8_avx512.c (AVX512BW) and
// dwconv2d_u8s8_avx512vnni.c. Each file defines CK_DW_T (target attribute), CK_DW_STEP(acc, x, w)
// (acc + x * w per dword lane, x a zero-extended u8 or (x - z_x), w the packed weight dword
// whose high half is 0: vpmaddwd + vpaddd, or one vpdpwssd) and CK_DW_FN, then includes this.
//
// Interior pixels (every tap inside the image), the bulk of every layer: for one 16-channel
// block and a run of up to 8 output pixels of one row, the accumulators start at
// bias - z_x * wsum (wsum: the sum of the block's taps, stored after the packed taps) so each
// tap is one zero-extending load and one CK_DW_STEP per pixel, with the tap's weights loaded once
// for the run. Border pixels (some taps in the padding) subtract z_x from each valid tap and skip
// the others. Both are exact in wrapping int32, like the scalar twin. Epilogue as in conv2d
// (requantize to u8 or dequantize to float), masked only for the channel tail.
#include <immintrin.h>

#define CK_INLINE static inline __attribute__((always_inline))
#ifndef CK_DW_NP
#define CK_DW_NP 4
#endif

#include "u8s8_avx512_epilogue.h"

/// 16 input bytes (the lanes of m) widened to dwords.
CK_INLINE CK_DW_T __m512i ck_dw8_load(const uint8_t *x, __mmask16 m, int full) {
    return _mm512_cvtepu8_epi32(full ? _mm_loadu_si128((const __m128i *)x) : _mm_maskz_loadu_epi8(m, x));
}

/// NB (1..4) blocks of 16 channels starting at channel c of border pixel (oy, ox): valid taps only.
CK_INLINE CK_DW_T void ck_dw8_border(const int NB, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const int32_t *pw, size_t C16, const int32_t *bias, const ck_u8s8_output *o, void *output, size_t esize,
    size_t pix, size_t kh_lo, size_t kh_hi, size_t kw_lo, size_t kw_hi, ptrdiff_t iy0, ptrdiff_t ix0, size_t c,
    size_t C) {
    __m512i acc[4];
    __mmask16 m[4];
    int full[4];
    const __m512i zx = _mm512_set1_epi32(p->input_zero_point);
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        m[b] = ck_dw8_mask(C - (c + 16 * (size_t)b));
        full[b] = m[b] == (__mmask16)0xFFFF;
        acc[b] = bias ? _mm512_maskz_loadu_epi32(m[b], bias + c + 16 * b) : _mm512_setzero_si512();
    }
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const uint8_t *rp = input + ((iy0 + (ptrdiff_t)(kh * p->dilation_h)) * in_w + ix0) * ips + (ptrdiff_t)c;
        const int32_t *wp = pw + kh * p->kernel_w * C16 + c;
        for (size_t kw = kw_lo; kw < kw_hi; kw++) {
            const uint8_t *xp = rp + (ptrdiff_t)(kw * p->dilation_w) * ips;
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const __m512i x = _mm512_sub_epi32(ck_dw8_load(xp + 16 * b, m[b], full[b]), zx);
                acc[b] = CK_DW_STEP(acc[b], x, _mm512_loadu_si512(wp + kw * C16 + 16 * b));
            }
        }
    }
    char *out = (char *)output + (pix * p->out_pixel_stride + c) * esize;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
        ck_dw8_store(o, acc[b], _mm512_maskz_loadu_ps(m[b], o->scale + c + 16 * b), out + 16 * b * esize, m[b], full[b]);
}

/// Every channel of border pixel pix.
CK_INLINE CK_DW_T void ck_dw8_border_pixel(const ck_conv2d_u8s8_params *p, const uint8_t *input, const int32_t *pw,
    const int32_t *bias, const ck_u8s8_output *o, void *output, size_t esize, size_t pix) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15;
    const ck_q8_window t = ck_q8_valid_taps(p, pix);
    const size_t kh_lo = t.kh[0], kh_hi = t.kh[1], kw_lo = t.kw[0], kw_hi = t.kw[1];
    const ptrdiff_t iy0 = t.iy0, ix0 = t.ix0;
    size_t c = 0;
    for (; c + 64 <= C; c += 64)
        ck_dw8_border(4, p, input, pw, C16, bias, o, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
    const size_t rest = (C - c + 15) / 16;
    if (rest == 4) ck_dw8_border(4, p, input, pw, C16, bias, o, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
    else if (rest == 3) ck_dw8_border(3, p, input, pw, C16, bias, o, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
    else if (rest == 2) ck_dw8_border(2, p, input, pw, C16, bias, o, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
    else if (rest == 1) ck_dw8_border(1, p, input, pw, C16, bias, o, output, esize, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, C);
}

/// NP (1..8) consecutive interior pixels of row oy starting at column ox0, channels [c, c + 16).
CK_INLINE CK_DW_T void ck_dw8_interior_impl(const int NP, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const int32_t *pw, size_t C16, __m512i init, __m512 scale, const ck_u8s8_output *o, void *output, size_t esize,
    size_t oy, size_t ox0, size_t c, __mmask16 m, int full) {
    __m512i acc[8];
#pragma GCC unroll 8
    for (int i = 0; i < NP; i++) acc[i] = init;
    const size_t ips = p->in_pixel_stride, KW = p->kernel_w;
    const size_t xstep = p->stride_w * ips, dstep = p->dilation_w * ips;
    const uint8_t *base = input + ((oy * p->stride_h - p->pad_top) * p->in_w + ox0 * p->stride_w - p->pad_left) * ips + c;
    const int32_t *wp = pw + c;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const uint8_t *rp = base + kh * p->dilation_h * p->in_w * ips;
        for (size_t kw = 0; kw < KW; kw++) {
            const __m512i w = _mm512_loadu_si512(wp);
            wp += C16;
            const uint8_t *xp = rp + kw * dstep;
#pragma GCC unroll 8
            for (int i = 0; i < NP; i++) acc[i] = CK_DW_STEP(acc[i], ck_dw8_load(xp + i * xstep, m, full), w);
        }
    }
    char *out = (char *)output + ((oy * p->out_w + ox0) * p->out_pixel_stride + c) * esize;
    const size_t ostep = p->out_pixel_stride * esize;
#pragma GCC unroll 8
    for (int i = 0; i < NP; i++) ck_dw8_store(o, acc[i], scale, out + i * ostep, m, full);
}

/// The full-block (unmasked) and tail-block variants, each with constant masking.
CK_INLINE CK_DW_T void ck_dw8_interior(const int NP, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const int32_t *pw, size_t C16, __m512i init, __m512 scale, const ck_u8s8_output *o, void *output, size_t esize,
    size_t oy, size_t ox0, size_t c, __mmask16 m, int full) {
    if (full) ck_dw8_interior_impl(NP, p, input, pw, C16, init, scale, o, output, esize, oy, ox0, c, m, 1);
    else ck_dw8_interior_impl(NP, p, input, pw, C16, init, scale, o, output, esize, oy, ox0, c, m, 0);
}

/// NP interior pixels of row oy from column ox, every channel block.
CK_INLINE CK_DW_T void ck_dw8_interior_pixels(const int NP, const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const int32_t *pw, const int32_t *bias, const ck_u8s8_output *o, void *output, size_t esize, size_t oy, size_t ox) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15, taps = p->kernel_h * p->kernel_w;
    const int32_t *wsum = pw + taps * C16;
    const __m512i zx = _mm512_set1_epi32(p->input_zero_point);
    for (size_t c = 0; c < C; c += 16) {
        const __mmask16 m = ck_dw8_mask(C - c);
        const int full = m == (__mmask16)0xFFFF;
        const __m512i b = bias ? _mm512_maskz_loadu_epi32(m, bias + c) : _mm512_setzero_si512();
        const __m512i init = _mm512_sub_epi32(b, _mm512_mullo_epi32(zx, _mm512_loadu_si512(wsum + c)));
        const __m512 scale = _mm512_maskz_loadu_ps(m, o->scale + c);
        ck_dw8_interior(NP, p, input, pw, C16, init, scale, o, output, esize, oy, ox, c, m, full);
    }
}

/// Interior pixels [ox_a, ox_b) of row oy, every channel.
CK_INLINE CK_DW_T void ck_dw8_interior_run(const ck_conv2d_u8s8_params *p, const uint8_t *input, const int32_t *pw,
    const int32_t *bias, const ck_u8s8_output *o, void *output, size_t esize, size_t oy, size_t ox_a, size_t ox_b) {
    size_t ox = ox_a;
    for (; ox + CK_DW_NP <= ox_b; ox += CK_DW_NP) ck_dw8_interior_pixels(CK_DW_NP, p, input, pw, bias, o, output, esize, oy, ox);
    for (; ox + 4 <= ox_b; ox += 4) ck_dw8_interior_pixels(4, p, input, pw, bias, o, output, esize, oy, ox);
    for (; ox < ox_b; ox++) ck_dw8_interior_pixels(1, p, input, pw, bias, o, output, esize, oy, ox);
}

/// First output coordinate whose taps all start inside the image: ceil(pad / stride).
CK_INLINE size_t ck_dw8_first_inside(size_t pad, size_t stride) { return (pad + stride - 1) / stride; }
/// One past the last output coordinate whose last tap is inside [0, in): o * stride - pad + span <= in.
CK_INLINE size_t ck_dw8_end_inside(size_t in, size_t pad, size_t span, size_t stride, size_t out) {
    if (in + pad < span) return 0;
    const size_t e = (in + pad - span) / stride + 1;
    return e < out ? e : out;
}

CK_DW_T void CK_DW_FN(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const int32_t *pw = (const int32_t *)packed_weights;
    const size_t esize = out->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const size_t OW = p->out_w;
    const size_t span_h = (p->kernel_h - 1) * p->dilation_h + 1, span_w = (p->kernel_w - 1) * p->dilation_w + 1;
    const size_t y_lo = ck_dw8_first_inside(p->pad_top, p->stride_h);
    const size_t y_hi = ck_dw8_end_inside(p->in_h, p->pad_top, span_h, p->stride_h, p->out_h);
    const size_t x_lo = ck_dw8_first_inside(p->pad_left, p->stride_w);
    const size_t x_hi = ck_dw8_end_inside(p->in_w, p->pad_left, span_w, p->stride_w, OW);
    size_t pix = pixel_begin;
    while (pix < pixel_end) {
        const size_t oy = pix / OW, ox = pix % OW;
        const size_t row_end = (pixel_end - pix < OW - ox) ? pixel_end : pix + (OW - ox);
        const size_t oxe = ox + (row_end - pix);
        if (oy >= y_lo && oy < y_hi && x_lo < x_hi) {
            const size_t a = ox > x_lo ? ox : x_lo, b = oxe < x_hi ? oxe : x_hi;
            if (a < b) {
                for (size_t x = ox; x < a; x++) ck_dw8_border_pixel(p, input, pw, bias, out, output, esize, oy * OW + x);
                ck_dw8_interior_run(p, input, pw, bias, out, output, esize, oy, a, b);
                for (size_t x = b; x < oxe; x++) ck_dw8_border_pixel(p, input, pw, bias, out, output, esize, oy * OW + x);
                pix = row_end;
                continue;
            }
        }
        for (; pix < row_end; pix++) ck_dw8_border_pixel(p, input, pw, bias, out, output, esize, pix);
    }
}
