// INT8 depthwise conv2d (groups == channels): weight packing and the scalar reference kernel.
//
// Packed layout (ISA-independent): [kernel_h * kernel_w][C16] int32 with C16 = channels rounded
// up to 16 (zero-padded); tap t of channel c is packed[t * C16 + c] = (uint16_t)w, i.e. the
// sign-extended 16-bit weight in the low half and 0 in the high half, so that vpmaddwd of a
// dword holding (x - z_x) (which fits in s16) with it yields exactly (x - z_x) * w. After the
// taps, int32 wsum[C16]: the sum of each channel's taps (the SIMD kernels start interior pixels'
// accumulators at bias - z_x * wsum and skip the per-tap subtraction). Then, at
// ck_dw8_quad_offset, the same weights for the VNNI kernel's vpdpbusd over 4 kernel rows (see
// dwconv2d_u8s8_avx512vnni.c): per 64-channel group, kernel-row quad kg and column kw, 4 zmm
// j = 0..3 whose dword 4L + i holds, in byte r, the weight of channel 64g + 16L + 4j + i at
// kernel row 4kg + r (0 past the kernel or the channels). When ck_dw8_row_pairs, a second set
// follows, for the second row of a pair: byte r holds kernel row 4kg + r - stride_h (0 outside
// the kernel), the transposed rows being those of the pair's first row. Then, for maps of at
// most 4 rows (ck_dw8_map_quads), at ck_dw8_map_offset: per output row oy, a one-quad set whose
// byte r holds the kernel row over input row r (ck_dw8_map_kernel_row; 0 where none is or r is
// past the map), then [out_h][C16] int32: each channel's sum of those weights. For maps of at
// most 2 rows (ck_dw8_map_pairs) each dword of a set holds kernel columns 2q and 2q + 1 instead:
// byte r is input row r % 2 at column 2q + r / 2 (0 past the kernel's columns).
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"

static inline size_t ck_dw8_cpad(size_t c) { return (c + 15) & ~(size_t)15; }

size_t ck_dwconv2d_u8s8_packed_weights_size(const ck_conv2d_u8s8_params *p) {
    const size_t map = ck_dw8_map_quads(p) ? p->out_h * (ck_dw8_map_set_bytes(p) + ck_dw8_cpad(p->groups) * sizeof(int32_t)) : 0;
    return ck_dw8_map_offset(p) + map;
}

void ck_dwconv2d_u8s8_pack_weights(const ck_conv2d_u8s8_params *p, const int8_t *weights_chw, void *packed) {
    const size_t C = p->groups, C16 = ck_dw8_cpad(C), taps = p->kernel_h * p->kernel_w;
    uint32_t *pk = (uint32_t *)packed;
    for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < C16; c++)
            pk[t * C16 + c] = c < C ? (uint32_t)(uint16_t)(int16_t)weights_chw[c * taps + t] : 0u;
    int32_t *wsum = (int32_t *)packed + taps * C16;
    for (size_t c = 0; c < C16; c++) {
        int32_t s = 0;
        for (size_t t = 0; t < taps && c < C; t++) s += weights_chw[c * taps + t];
        wsum[c] = s;
    }
    int8_t *quad = (int8_t *)packed + ck_dw8_quad_offset(p);
    const size_t KH = p->kernel_h, KW = p->kernel_w, KG = (KH + 3) / 4;
    const size_t sets = ck_dw8_row_pairs(p) ? 2 : 1;
    for (size_t set = 0; set < sets; set++) {
        const size_t shift = set == 0 ? 0 : p->stride_h;
        for (size_t g = 0; g < (C + 63) / 64; g++)
            for (size_t kg = 0; kg < KG; kg++)
                for (size_t kw = 0; kw < KW; kw++)
                    for (size_t j = 0; j < 4; j++)
                        for (size_t b = 0; b < 64; b++) {
                            const size_t L = b / 16, i = (b / 4) % 4, r = b % 4;
                            const size_t c = 64 * g + 16 * L + 4 * j + i, row = 4 * kg + r;
                            const int inside = c < C && row >= shift && row - shift < KH;
                            *quad++ = inside ? weights_chw[(c * KH + (row - shift)) * KW + kw] : 0;
                        }
    }
    if (!ck_dw8_map_quads(p)) return;
    int8_t *map = (int8_t *)packed + ck_dw8_map_offset(p);
    int32_t *sums = (int32_t *)(map + p->out_h * ck_dw8_map_set_bytes(p));
    const int pairs = ck_dw8_map_pairs(p);
    for (size_t oy = 0; oy < p->out_h; oy++) {
        for (size_t g = 0; g < (C + 63) / 64; g++)
            for (size_t q = 0; q < ck_dw8_map_columns(p); q++)
                for (size_t j = 0; j < 4; j++)
                    for (size_t b = 0; b < 64; b++) {
                        const size_t L = b / 16, i = (b / 4) % 4, r = pairs ? b % 2 : b % 4, kw = pairs ? 2 * q + (b % 4) / 2 : q;
                        const size_t c = 64 * g + 16 * L + 4 * j + i;
                        const ptrdiff_t kh = r < p->in_h && kw < KW ? ck_dw8_map_kernel_row(p, oy, r) : -1;
                        *map++ = c < C && kh >= 0 ? weights_chw[(c * KH + (size_t)kh) * KW + kw] : 0;
                    }
        for (size_t c = 0; c < C16; c++) {
            int32_t s = 0;
            for (size_t r = 0; r < p->in_h && c < C; r++) {
                const ptrdiff_t kh = ck_dw8_map_kernel_row(p, oy, r);
                for (size_t kw = 0; kw < KW && kh >= 0; kw++) s += weights_chw[(c * KH + (size_t)kh) * KW + kw];
            }
            sums[oy * C16 + c] = s;
        }
    }
}

void ck_dwconv2d_u8s8_nhwc__scalar(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = ck_dw8_cpad(C);
    const uint32_t *pw = (const uint32_t *)packed_weights;
    const int32_t zx = p->input_zero_point;
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const size_t oy = pix / p->out_w, ox = pix % p->out_w;
        for (size_t c = 0; c < C; c++) {
            uint32_t acc = bias ? (uint32_t)bias[c] : 0u; // wrapping int32 arithmetic
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                    if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                    const int32_t x = input[((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride + c];
                    const int32_t w = (int16_t)(uint16_t)pw[(kh * p->kernel_w + kw) * C16 + c];
                    acc += (uint32_t)((x - zx) * w);
                }
            }
            ck_q8_store1(out, c, (int32_t)acc, output, pix * p->out_pixel_stride + c);
        }
    }
}
