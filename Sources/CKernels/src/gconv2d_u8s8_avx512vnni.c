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
    if (p->cout_per_group < 1 || p->cout_per_group > 16 || p->weight_split) return 0;
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

/// Up to 4 tiles from tile t0 of output pixel pix; J input dwords per group (compile-time 1..4).
CK_INLINE CK_DW_T void ck_g8_pixel(const int J, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *input,
    const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output, size_t esize, size_t pix, size_t t0,
    size_t nt, __m512i zx) {
    const int8_t *W = (const int8_t *)packed;
    const int32_t *idx = (const int32_t *)(packed + l->idx_off);
    const int32_t *base = (const int32_t *)(packed + l->base_off), *span = (const int32_t *)(packed + l->span_off);
    const size_t C = p->groups * p->cout_per_group, OW = p->out_w;
    const ptrdiff_t iy0 = (ptrdiff_t)((pix / OW) * p->stride_h) - (ptrdiff_t)p->pad_top;
    const ptrdiff_t ix0 = (ptrdiff_t)((pix % OW) * p->stride_w) - (ptrdiff_t)p->pad_left;
    __m512i acc[4];
    __mmask64 m[4];
#pragma GCC unroll 4
    for (size_t k = 0; k < nt; k++) {
        acc[k] = _mm512_loadu_si512(init + 16 * (t0 + k));
        m[k] = _bzhi_u64(~0ULL, (unsigned)span[t0 + k]);
    }
    size_t tap = 0;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const ptrdiff_t iy = iy0 + (ptrdiff_t)(kh * p->dilation_h);
        const int row_in = iy >= 0 && iy < (ptrdiff_t)p->in_h;
        for (size_t kw = 0; kw < p->kernel_w; kw++, tap++) {
            const ptrdiff_t ix = ix0 + (ptrdiff_t)(kw * p->dilation_w);
            const int in = row_in && ix >= 0 && ix < (ptrdiff_t)p->in_w;
            const uint8_t *px = in ? input + ((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride : NULL;
#pragma GCC unroll 4
            for (size_t k = 0; k < nt; k++) {
                const size_t t = t0 + k;
                const __m512i x = in ? _mm512_maskz_loadu_epi8(m[k], px + base[t]) : zx;
                const int8_t *w = W + ((t * l->taps + tap) * (size_t)J) * 64;
#pragma GCC unroll 4
                for (int j = 0; j < J; j++) {
                    const __m512i v = _mm512_permutexvar_epi32(_mm512_loadu_si512(idx + (t * (size_t)J + (size_t)j) * 16), x);
                    acc[k] = _mm512_dpbusd_epi32(acc[k], v, _mm512_loadu_si512(w + 64 * j));
                }
            }
        }
    }
    char *out = (char *)output + pix * p->out_pixel_stride * esize;
#pragma GCC unroll 4
    for (size_t k = 0; k < nt; k++) {
        const size_t c = 16 * (t0 + k);
        const __mmask16 mk = ck_dw8_mask(C - c);
        ck_dw8_store(o, acc[k], _mm512_maskz_loadu_ps(mk, o->scale + c), out + c * esize, mk, mk == (__mmask16)0xFFFF);
    }
}

CK_INLINE CK_DW_T void ck_g8_run(const int J, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *input,
    const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output, size_t pixel_begin, size_t pixel_end) {
    const size_t esize = o->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const __m512i zx = _mm512_set1_epi8((char)p->input_zero_point);
    for (size_t pix = pixel_begin; pix < pixel_end; pix++)
        for (size_t t = 0; t < l->tiles; t += 4)
            ck_g8_pixel(J, p, l, input, packed, init, o, output, esize, pix, t, l->tiles - t < 4 ? l->tiles - t : 4, zx);
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
