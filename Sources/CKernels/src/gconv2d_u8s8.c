// The small-group kernels' support rule and weight packing, one for every path, parametrized by
// the path's form (lanes per vector; s8 or s16 weight dwords): see gconv2d_u8s8_internal.h for
// the layout and ck_int8.h for the contract.
#include "gconv2d_u8s8_internal.h"
#include "conv2d_u8s8_internal.h"
#include <string.h>

/// The groups of tile t's output channels and the input bytes they read.
static void ck_g8_tile(const ck_conv2d_u8s8_params *p, size_t lanes, size_t t, size_t *base, size_t *span) {
    const size_t C = p->groups * p->cout_per_group, c0 = lanes * t, c1 = (c0 + lanes < C ? c0 + lanes : C) - 1;
    const size_t g0 = c0 / p->cout_per_group, g1 = c1 / p->cout_per_group;
    *base = g0 * p->cin_per_group;
    *span = (g1 - g0 + 1) * p->cin_per_group;
}

int ck_gconv2d_u8s8_supported(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p) {
    if (f->lanes != 8 && f->lanes != 16) return 0;
    if (p->groups < 2 || p->cin_per_group % 4 != 0 || p->cin_per_group < 4 || p->cin_per_group > 16) return 0;
    if (p->cout_per_group < 1 || p->cout_per_group > 16 || p->weight_format != CK_Q8_WEIGHTS_S8) return 0;
    // The bytes one load brings: 4 per lane as they are, 2 per lane widened to u16.
    const size_t most = (f->s16 ? 2 : 4) * f->lanes;
    const size_t tiles = (p->groups * p->cout_per_group + f->lanes - 1) / f->lanes;
    for (size_t t = 0; t < tiles; t++) {
        size_t base, span;
        ck_g8_tile(p, f->lanes, t, &base, &span);
        if (span > most) return 0;
    }
    return 1;
}

size_t ck_gconv2d_u8s8_packed_weights_size(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p) {
    return ck_g8_layout_of(f, p).size;
}

void ck_gconv2d_u8s8_pack_weights(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p, const int8_t *weights, void *packed) {
    const ck_g8_layout l = ck_g8_layout_of(f, p);
    const size_t C = p->groups * p->cout_per_group, cin = p->cin_per_group, L = l.lanes, E = l.E;
    uint8_t *out = (uint8_t *)packed;
    memset(out, 0, l.size);
    int8_t *W8 = (int8_t *)out;
    int16_t *W16 = (int16_t *)out;
    int32_t *wsum = (int32_t *)(out + l.wsum_off), *idx = (int32_t *)(out + l.idx_off);
    int32_t *base = (int32_t *)(out + l.base_off), *span = (int32_t *)(out + l.span_off);
    for (size_t t = 0; t < l.tiles; t++) {
        size_t b, s;
        ck_g8_tile(p, L, t, &b, &s);
        base[t] = (int32_t)b;
        span[t] = (int32_t)s;
        for (size_t lane = 0; lane < L; lane++) {
            const size_t co = L * t + lane;
            if (co >= C) continue;
            const size_t g = co / p->cout_per_group;
            int32_t sum = 0;
            for (size_t j = 0; j < l.S; j++) idx[(t * l.S + j) * L + lane] = (int32_t)((g * cin - b) / E + j);
            for (size_t tap = 0; tap < l.taps; tap++)
                for (size_t i = 0; i < cin; i++) {
                    const int8_t w = weights[(co * l.taps + tap) * cin + i];
                    const size_t dword = ((t * l.taps + tap) * l.S + i / E) * L + lane;
                    if (f->s16) W16[dword * 2 + i % 2] = w;
                    else W8[dword * 4 + i % 4] = w;
                    sum += w;
                }
            wsum[L * t + lane] = sum;
        }
    }
}
