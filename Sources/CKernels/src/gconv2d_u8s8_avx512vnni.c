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
// Packed weights: W int8 [tiles][taps][J = cin / 4][16 lanes][4], then wsum int32 [tiles * 16],
// the permutation indices int32 [tiles][J][16] (dword of the tile's load for lane o, input dword
// j), and per tile the load's byte offset in a pixel and its length.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"
#include <string.h>

typedef struct { size_t tiles, taps, J, w_bytes, wsum_off, idx_off, base_off, span_off, size; } ck_g8_layout;

static ck_g8_layout ck_g8_layout_of(const ck_conv2d_u8s8_params *p) {
    ck_g8_layout l;
    const size_t C = p->groups * p->cout_per_group;
    l.tiles = (C + 15) / 16;
    l.taps = p->kernel_h * p->kernel_w;
    l.J = p->cin_per_group / 4;
    l.w_bytes = l.tiles * l.taps * l.J * 64;
    l.wsum_off = l.w_bytes;
    l.idx_off = l.wsum_off + l.tiles * 64;
    l.base_off = l.idx_off + l.tiles * l.J * 64;
    l.span_off = l.base_off + l.tiles * 4;
    l.size = l.span_off + l.tiles * 4;
    return l;
}

/// The groups of tile t's output channels and the input bytes they read.
static void ck_g8_tile(const ck_conv2d_u8s8_params *p, size_t t, size_t *base, size_t *span) {
    const size_t C = p->groups * p->cout_per_group, c0 = 16 * t, c1 = (c0 + 16 < C ? c0 + 16 : C) - 1;
    const size_t g0 = c0 / p->cout_per_group, g1 = c1 / p->cout_per_group;
    *base = g0 * p->cin_per_group;
    *span = (g1 - g0 + 1) * p->cin_per_group;
}

int ck_gconv2d_u8s8_supported(const ck_conv2d_u8s8_params *p) {
    if (p->groups < 2 || p->cin_per_group % 4 != 0 || p->cin_per_group < 4 || p->cin_per_group > 16) return 0;
    if (p->cout_per_group < 1 || p->cout_per_group > 16 || p->weight_format != CK_Q8_WEIGHTS_S8) return 0;
    const size_t tiles = (p->groups * p->cout_per_group + 15) / 16;
    for (size_t t = 0; t < tiles; t++) {
        size_t base, span;
        ck_g8_tile(p, t, &base, &span);
        if (span > 64) return 0;
    }
    return 1;
}

size_t ck_gconv2d_u8s8_packed_weights_size(const ck_conv2d_u8s8_params *p) { return ck_g8_layout_of(p).size; }

void ck_gconv2d_u8s8_pack_weights(const ck_conv2d_u8s8_params *p, const int8_t *weights, void *packed) {
    const ck_g8_layout l = ck_g8_layout_of(p);
    const size_t C = p->groups * p->cout_per_group, cin = p->cin_per_group;
    uint8_t *out = (uint8_t *)packed;
    memset(out, 0, l.size);
    int8_t *W = (int8_t *)out;
    int32_t *wsum = (int32_t *)(out + l.wsum_off), *idx = (int32_t *)(out + l.idx_off);
    int32_t *base = (int32_t *)(out + l.base_off), *span = (int32_t *)(out + l.span_off);
    for (size_t t = 0; t < l.tiles; t++) {
        size_t b, s;
        ck_g8_tile(p, t, &b, &s);
        base[t] = (int32_t)b;
        span[t] = (int32_t)s;
        for (size_t lane = 0; lane < 16; lane++) {
            const size_t co = 16 * t + lane;
            if (co >= C) continue;
            const size_t g = co / p->cout_per_group;
            int32_t sum = 0;
            for (size_t j = 0; j < l.J; j++) idx[(t * l.J + j) * 16 + lane] = (int32_t)((g * cin - b) / 4 + j);
            for (size_t tap = 0; tap < l.taps; tap++)
                for (size_t i = 0; i < cin; i++) {
                    const int8_t w = weights[(co * l.taps + tap) * cin + i];
                    W[((t * l.taps + tap) * l.J + i / 4) * 64 + lane * 4 + i % 4] = w;
                    sum += w;
                }
            wsum[16 * t + lane] = sum;
        }
    }
}

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
    const ck_g8_layout l = ck_g8_layout_of(p);
    const uint8_t *packed = (const uint8_t *)packed_weights;
    const int32_t *wsum = (const int32_t *)(packed + l.wsum_off);
    const size_t C = p->groups * p->cout_per_group;
    // Start values bias - z_x * wsum per lane (wrapping, as the scalar twin), 0 past the channels.
    int32_t init[16 * 64] __attribute__((aligned(64)));
    int32_t *start = l.tiles <= 64 ? init : (int32_t *)__builtin_alloca(l.tiles * 64);
    for (size_t c = 0; c < 16 * l.tiles; c++)
        start[c] = c < C ? (int32_t)((bias ? (uint32_t)bias[c] : 0u) - (uint32_t)p->input_zero_point * (uint32_t)wsum[c]) : 0;
    switch (l.J) {
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
