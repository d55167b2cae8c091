// INT8 grouped convolution with few channels per group (RegNet, ResNeXt: 4-16 input channels and
// at most 16 output channels per group), AVX-512 VNNI, one output channel per dword lane as in
// depthwise. The GEMM kernels run such a layer group by group, with an im2col of a few bytes
// per tap and panels half empty (8 outputs in a 16-wide panel); here a tile of 16 output
// channels spans one or more whole groups, and for each tap the input bytes of those groups are
// loaded once (one masked load of at most 64 bytes) and permuted (vpermd) so that lane o holds 4
// consecutive input channels of its own group, for one vpdpbusd with the packed weights:
//   acc[o] = bias[o] - z_x * wsum[o] + sum over taps and input dwords j of x[group(o), 4j..4j+3] . w[o, 4j..4j+3]
// Taps in the padding read z_x bytes (contributing z_x * w, cancelled by the start value), so the
// result is sum over taps of (x - z_x) * w + bias in wrapping int32: the scalar twin's
// (ck_conv2d_u8s8_nhwc__scalar) accumulator, and the same epilogue (u8s8_avx512_epilogue.h).
//
// Packed weights: the s8 form of gconv2d_u8s8_internal.h with 16 lanes (J = S = cin / 4 steps).
#include "gconv2d_u8s8_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,bmi2")))
#include "u8s8_avx512_epilogue.h"

/// Tile t of NP (1..4) output pixels from pix: one accumulator per pixel, so the tap's weights
/// and the tile's permutations are loaded once for all of them and the dot-product chains are
/// independent. J input dwords per group (compile-time 1..4).
CK_INLINE CK_DW_T void ck_g8_pixels(const int NP, const int J, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l,
    const uint8_t *input, const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output, size_t esize,
    size_t pix, size_t t, __m512i zx) {
    const int8_t *W = (const int8_t *)packed + t * l->taps * (size_t)J * 64;
    const int32_t *idxp = (const int32_t *)(packed + l->idx_off) + t * (size_t)J * 16;
    const int32_t base = ((const int32_t *)(packed + l->base_off))[t], span = ((const int32_t *)(packed + l->span_off))[t];
    const __mmask64 m = _bzhi_u64(~0ULL, (unsigned)span);
    const size_t C = p->groups * p->cout_per_group, OW = p->out_w;
    __m512i idx[4];
#pragma GCC unroll 4
    for (int j = 0; j < J; j++) idx[j] = _mm512_loadu_si512(idxp + 16 * j);
    ptrdiff_t iy0[4], ix0[4];
    __m512i acc[4];
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) {
        iy0[n] = (ptrdiff_t)(((pix + n) / OW) * p->stride_h) - (ptrdiff_t)p->pad_top;
        ix0[n] = (ptrdiff_t)(((pix + n) % OW) * p->stride_w) - (ptrdiff_t)p->pad_left;
        acc[n] = _mm512_loadu_si512(init + 16 * t);
    }
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w, ips = (ptrdiff_t)p->in_pixel_stride;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const ptrdiff_t dy = (ptrdiff_t)(kh * p->dilation_h);
        for (size_t kw = 0; kw < p->kernel_w; kw++, W += 64 * J) {
            const ptrdiff_t dx = (ptrdiff_t)(kw * p->dilation_w);
            __m512i w[4];
#pragma GCC unroll 4
            for (int j = 0; j < J; j++) w[j] = _mm512_loadu_si512(W + 64 * j);
#pragma GCC unroll 4
            for (int n = 0; n < NP; n++) {
                const ptrdiff_t iy = iy0[n] + dy, ix = ix0[n] + dx;
                const __m512i x = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w
                    ? _mm512_maskz_loadu_epi8(m, input + (iy * in_w + ix) * ips + base) : zx;
#pragma GCC unroll 4
                for (int j = 0; j < J; j++) acc[n] = _mm512_dpbusd_epi32(acc[n], _mm512_permutexvar_epi32(idx[j], x), w[j]);
            }
        }
    }
    const size_t c = 16 * t;
    const __mmask16 mk = ck_dw8_mask(C - c);
    const __m512 scale = _mm512_maskz_loadu_ps(mk, o->scale + c);
    char *out = (char *)output + (pix * p->out_pixel_stride + c) * esize;
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) ck_dw8_store(o, acc[n], scale, out + (size_t)n * p->out_pixel_stride * esize, mk, mk == (__mmask16)0xFFFF);
}

CK_INLINE CK_DW_T void ck_g8_run(const int J, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *input,
    const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output, size_t pixel_begin, size_t pixel_end) {
    const size_t esize = o->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const __m512i zx = _mm512_set1_epi8((char)p->input_zero_point);
    // Blocks of 32 pixels, every tile of a block before the next: the block's input stays in L1.
    for (size_t b = pixel_begin; b < pixel_end; b += 32) {
        const size_t e = pixel_end - b < 32 ? pixel_end : b + 32;
        for (size_t t = 0; t < l->tiles; t++) {
            size_t pix = b;
            for (; pix + 4 <= e; pix += 4) ck_g8_pixels(4, J, p, l, input, packed, init, o, output, esize, pix, t, zx);
            for (; pix < e; pix++) ck_g8_pixels(1, J, p, l, input, packed, init, o, output, esize, pix, t, zx);
        }
    }
}

CK_DW_T void ck_gconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const ck_g8_layout l = ck_g8_layout_of(&ck_gconv_form__avx512vnni, p);
    const uint8_t *packed = (const uint8_t *)packed_weights;
    int32_t init[16 * 64] __attribute__((aligned(64)));
    int32_t *start = l.tiles <= 64 ? init : (int32_t *)__builtin_alloca(l.tiles * 64);
    ck_g8_start_values(p, &l, packed, bias, start);
    switch (l.S) {
    case 1: ck_g8_run(1, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    case 2: ck_g8_run(2, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    case 3: ck_g8_run(3, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    default: ck_g8_run(4, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    }
}
#else
void ck_gconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    (void)p; (void)input; (void)packed_weights; (void)bias; (void)out; (void)output; (void)pixel_begin; (void)pixel_end;
    __builtin_trap();   // never selected off x86 (Int8ConvKernel picks it only on the avx512vnni path)
}
#endif
