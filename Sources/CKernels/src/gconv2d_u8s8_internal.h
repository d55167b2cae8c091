// The small-group kernels' packed layout (ck_gconv2d_u8s8_*, one output channel per lane), shared
// by the packing (gconv2d_u8s8.c) and each path's kernel. A tile is `lanes` consecutive output
// channels; it reads the input bytes [base, base + span) of each pixel (the whole groups its
// channels belong to). Per tap and step s, lane o multiplies one dword of its own group's input
// (E consecutive input channels: 4 bytes in the s8 form, 2 u16 in the s16 form, picked by vpermd
// with idx) with one dword of weights. Packed bytes:
//   W     [tiles][taps][S = cin / E][lanes] dwords (4 s8, or 2 s16 weights)
//   wsum  int32 [tiles * lanes]          sum of each output channel's weights
//   idx   int32 [tiles][S][lanes]         dword of the tile's (widened) load for lane o, step s
//   base  int32 [tiles], span int32 [tiles]
#ifndef CK_GCONV2D_U8S8_INTERNAL_H
#define CK_GCONV2D_U8S8_INTERNAL_H
#include "ck_int8.h"

/// Each path's form (its table's gconv_form; its kernel packs and reads this one).
static const ck_gconv_form ck_gconv_form__avx512vnni = {16, 0};
static const ck_gconv_form ck_gconv_form__avx512bw = {16, 1};
static const ck_gconv_form ck_gconv_form__avx2 = {8, 1};

typedef struct { size_t lanes, E, tiles, taps, S, w_bytes, wsum_off, idx_off, base_off, span_off, size; } ck_g8_layout;

static inline ck_g8_layout ck_g8_layout_of(const ck_gconv_form *f, const ck_conv2d_u8s8_params *p) {
    ck_g8_layout l;
    const size_t C = p->groups * p->cout_per_group;
    l.lanes = f->lanes;
    l.E = f->s16 ? 2 : 4;
    l.tiles = (C + l.lanes - 1) / l.lanes;
    l.taps = p->kernel_h * p->kernel_w;
    l.S = p->cin_per_group / l.E;
    l.w_bytes = l.tiles * l.taps * l.S * l.lanes * 4;
    l.wsum_off = l.w_bytes;
    l.idx_off = l.wsum_off + l.tiles * l.lanes * 4;
    l.base_off = l.idx_off + l.tiles * l.S * l.lanes * 4;
    l.span_off = l.base_off + l.tiles * 4;
    l.size = l.span_off + l.tiles * 4;
    return l;
}

/// Tile t's accumulator start values bias - z_x * wsum per lane (wrapping, as the scalar twin),
/// 0 past the channels, into start[0 .. lanes).
static inline void ck_g8_tile_start(const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *packed,
    const int32_t *bias, size_t t, int32_t *start) {
    const int32_t *wsum = (const int32_t *)(packed + l->wsum_off);
    const size_t C = p->groups * p->cout_per_group;
    for (size_t lane = 0; lane < l->lanes; lane++) {
        const size_t c = t * l->lanes + lane;
        start[lane] = c < C ? (int32_t)((bias ? (uint32_t)bias[c] : 0u) - (uint32_t)p->input_zero_point * (uint32_t)wsum[c]) : 0;
    }
}

#endif
