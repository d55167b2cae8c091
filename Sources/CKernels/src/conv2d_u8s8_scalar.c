// INT8 conv2d: weight packing, scratch sizing, and the scalar reference kernel (the
// specification: it evaluates acc = bias + sum over in-image taps of (x - z_x) * w literally,
// reading the weights back from the packed layout of conv2d_u8s8_internal.h).
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"
#include <string.h>

size_t ck_conv2d_u8s8_split_offset(const ck_conv2d_u8s8_params *p) {
    return (ck_q8_wsum_offset(p) + p->groups * p->cout_per_group * sizeof(int32_t) + 63) & ~(size_t)63;
}

size_t ck_conv2d_u8s8_packed_weights_size(const ck_conv2d_u8s8_params *p) {
    if (p->weight_format == CK_Q8_WEIGHTS_SPLIT) return ck_conv2d_u8s8_split_offset(p) + p->groups * ck_q8_group_bytes(p);
    return ck_q8_wsum_offset(p) + p->groups * p->cout_per_group * sizeof(int32_t);
}

/// The weight stored in the first (hi) panel set: w itself, or w >> 1 (arithmetic) when split.
static inline int8_t ck_q8_hi(const ck_conv2d_u8s8_params *p, int8_t w) {
    return p->weight_format == CK_Q8_WEIGHTS_SPLIT ? (int8_t)(w >> 1) : w;
}

void ck_conv2d_u8s8_pack_weights(const ck_conv2d_u8s8_params *p, const int8_t *weights_ohwi, void *packed) {
    const size_t cout = p->cout_per_group, K = ck_q8_k(p), K4 = ck_q8_k4(p);
    // The caller's [o][kh][kw][ci] weights: W = KH * row per output channel, row = KW * cin;
    // packed k = kh * S + r holds the caller's kh * row + r for r < row, else 0 (segmented).
    const size_t row = p->kernel_w * p->cin_per_group, S = ck_q8_seg(p), W = p->kernel_h * row;
    const size_t npanels = (cout + CK_Q8_NR - 1) / CK_Q8_NR;
    int8_t *pk = (int8_t *)packed;
    int32_t *wsum = (int32_t *)(pk + ck_q8_wsum_offset(p));
    for (size_t g = 0; g < p->groups; g++) {
        int8_t *gbase = pk + g * ck_q8_group_bytes(p);
        for (size_t j = 0; j < npanels; j++) {
            const size_t width = ck_q8_panel_width(cout, j);
            int8_t *panel = gbase + j * CK_Q8_NR * K4 * ck_q8_weight_bytes(p);
            for (size_t k = 0; k < K4; k++)
                for (size_t c = 0; c < width; c++) {
                    const size_t co = j * CK_Q8_NR + c;
                    const int8_t v = (co < cout && k < K && k % S < row) ? weights_ohwi[(g * cout + co) * W + k / S * row + k % S] : 0;
                    const size_t at = ck_q8_panel_at(p, width, k, c);
                    if (p->weight_format == CK_Q8_WEIGHTS_S16) {
                        const int16_t w16 = v;
                        memcpy(panel + at, &w16, sizeof w16);
                        continue;
                    }
                    panel[at] = ck_q8_hi(p, v);
                    // The lo half at the same place of the second panel set.
                    if (p->weight_format == CK_Q8_WEIGHTS_SPLIT)
                        panel[ck_conv2d_u8s8_split_offset(p) + at] = (int8_t)(v - ck_q8_hi(p, v));
                }
        }
        for (size_t co = 0; co < cout; co++) {
            uint32_t s = 0;
            for (size_t k = 0; k < W; k++) s += (uint32_t)(int32_t)weights_ohwi[(g * cout + co) * W + k];
            wsum[g * cout + co] = (int32_t)s;
        }
    }
}

size_t ck_conv2d_u8s8_scratch_size(const ck_conv2d_u8s8_params *p) {
    return ck_q8_init_offset(p) + p->groups * ck_q8_padded_n(p->cout_per_group) * sizeof(int32_t) + 64;
}

/// Packed weight (k, co) of group g (hi + lo when split).
static int32_t packed_weight(const ck_conv2d_u8s8_params *p, const int8_t *packed, size_t g, size_t co, size_t k) {
    const size_t K4 = ck_q8_k4(p), j = co / CK_Q8_NR;
    const size_t width = ck_q8_panel_width(p->cout_per_group, j);
    const size_t at = g * ck_q8_group_bytes(p) + j * CK_Q8_NR * K4 * ck_q8_weight_bytes(p) +
        ck_q8_panel_at(p, width, k, co % CK_Q8_NR);
    if (p->weight_format == CK_Q8_WEIGHTS_S16) {
        int16_t w16;
        memcpy(&w16, packed + at, sizeof w16);
        return w16;
    }
    return packed[at] + (p->weight_format == CK_Q8_WEIGHTS_SPLIT ? packed[ck_conv2d_u8s8_split_offset(p) + at] : 0);
}

void ck_conv2d_u8s8_nhwc__scalar(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    (void)scratch;
    const int8_t *pw = (const int8_t *)packed_weights;
    const size_t cin = p->cin_per_group, cout = p->cout_per_group;
    const int32_t zx = p->input_zero_point;
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const size_t oy = pix / p->out_w, ox = pix % p->out_w;
        for (size_t g = 0; g < p->groups; g++) {
            for (size_t co = 0; co < cout; co++) {
                const size_t oc = g * cout + co;
                uint32_t acc = bias ? (uint32_t)bias[oc] : 0u; // wrapping int32 arithmetic
                for (size_t kh = 0; kh < p->kernel_h; kh++) {
                    const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                    if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                    for (size_t kw = 0; kw < p->kernel_w; kw++) {
                        const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                        if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                        const uint8_t *in = input + ((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride + g * cin;
                        for (size_t ci = 0; ci < cin; ci++) {
                            const size_t k = ck_q8_k_at(p, kh, kw, ci);
                            acc += (uint32_t)(((int32_t)in[ci] - zx) * packed_weight(p, pw, g, co, k));
                        }
                    }
                }
                ck_q8_store1(out, oc, (int32_t)acc, output, pix * p->out_pixel_stride + oc);
            }
        }
    }
}
