// Internal layout shared by the INT8 conv2d kernels (scalar / AVX-512 VNNI / AVX-512 BW / AVX2).
//
// GEMM view per group: A = im2col rows [M][K] (u8), B = weights [K][N] (s8),
//   K = kernel_h * S, k = kh * S + kw * cin_per_group + ci, S = kernel_w * cin_per_group,
//   K4 = K rounded up to a multiple of 4 (padding rows of B are zero).
// Segmented layout (ck_q8_segmented: kernel rows of 8-32 bytes that are not whole dwords, such
// as a 3-channel stem's 9, 15 or 21): S is
// kernel_w * cin rounded up to a multiple of 4, the weights of the 1-3 bytes after each kernel
// row are zero, so the inside pixels' rows are read in place from the input (each kernel row and
// the bytes after it are contiguous there) instead of gathered.
// Packed weights: per group g (at g * ck_q8_group_bytes), N = cout_per_group split into panels
// of CK_Q8_NR (32) columns; panel j starts at j * 32 * K4 and is `width` wide (32, or for the
// last panel (cout % 32) rounded up to 16 or 32); it stores weight (k, col) at
//   (k / 4) * width * 4 + col * 4 + k % 4
// (the vpdpbusd / vpmaddubsw 4-byte interleave: one zmm = 16 columns x 4 consecutive k).
// After all groups, at ck_q8_wsum_offset: int32 wsum[g * cout + co] = sum over k of w.
//
// Zero point: im2col rows hold z_x for padded taps, so (x - z_x) vanishes there and
//   acc = bias - z_x * wsum + sum over all K of a * w   (exact in wrapping int32).
// Scratch (SIMD variants): im2col rows of a macro-block of row blocks, each row block
// ck_q8_ablock_bytes, rows K-chunked: byte (row i, k) of a row block lives at
//   (k / KC) * AROWS * KCS + i * KCS + k % KC
// so that the microkernels address rows with compile-time displacements.
#ifndef CK_CONV2D_U8S8_INTERNAL_H
#define CK_CONV2D_U8S8_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "ck_int8.h"
#include "conv_rows_internal.h"

#define CK_Q8_NR 32
#define CK_Q8_KC 1024
#define CK_Q8_KCS (CK_Q8_KC + 64)
#define CK_Q8_AROWS 14
#define CK_Q8_ACHUNK ((size_t)CK_Q8_AROWS * CK_Q8_KCS)
#ifndef CK_Q8_A_BUDGET
#define CK_Q8_A_BUDGET ((size_t)320 * 1024)
#endif
#ifndef CK_Q8_SMALL_B
#define CK_Q8_SMALL_B ((size_t)128 * 1024)
#endif
#define CK_Q8_MAXNB ((size_t)64)

/// Whether K is laid out in kernel rows padded to 4 bytes (see above): asked for by the caller
/// (segmented_rows: the VNNI paths), one group of contiguous pixels, kernel rows of 8..32 bytes
/// that are not whole dwords, at least two of them, at most 32 output channels and weights read
/// as they are (CK_Q8_WEIGHTS_S8). Elsewhere the longer K costs about what the gather it saves
/// does, or more. Single thread, AMD Zen 4, the `small` set of scripts/kernels/int8_conv_layers.c
/// (SEGMENTED=0 or 1 to compare; best of 15): on AVX-512 VNNI, MTCNN R-Net's 3x3 stem (28
/// channels) 5.7 -> 4.6 us, P-Net's 298 -> 239 us, a 224x224 3x3/2 stem of 32 channels 111 ->
/// 106 us; on AVX2 (three instructions per 4 k) the stems moved -3% to +6%. With this condition
/// relaxed in a throwaway edit (best of 3-5): ResNet-18's 7x7 stem (64 channels) 660 -> 685 us
/// on VNNI and 1290 -> 1470 us on AVX2; with the split and s16 forms of 8-bit weights (two
/// multiplies per k) R-Net's stem lost 2-15%.
static inline int ck_q8_segmented(const ck_conv2d_u8s8_params *p) {
    const size_t row = p->kernel_w * p->cin_per_group;
    return p->segmented_rows && p->groups == 1 && p->in_pixel_stride == p->cin_per_group && p->dilation_w == 1 &&
        p->kernel_h >= 2 && row % 4 != 0 && row >= 8 && row <= 32 && p->cout_per_group <= 32 && p->weight_format == CK_Q8_WEIGHTS_S8;
}
/// S: the bytes of K per kernel row.
static inline size_t ck_q8_seg(const ck_conv2d_u8s8_params *p) {
    const size_t row = p->kernel_w * p->cin_per_group;
    return ck_q8_segmented(p) ? (row + 3) & ~(size_t)3 : row;
}
static inline size_t ck_q8_k(const ck_conv2d_u8s8_params *p) {
    return p->kernel_h * ck_q8_seg(p);
}
/// k of tap (kh, kw) and channel ci.
static inline size_t ck_q8_k_at(const ck_conv2d_u8s8_params *p, size_t kh, size_t kw, size_t ci) {
    return kh * ck_q8_seg(p) + kw * p->cin_per_group + ci;
}
static inline size_t ck_q8_k4(const ck_conv2d_u8s8_params *p) { return (ck_q8_k(p) + 3) & ~(size_t)3; }
static inline size_t ck_q8_tail_width(size_t cout) { return (cout % CK_Q8_NR + 15) & ~(size_t)15; }
static inline size_t ck_q8_padded_n(size_t cout) {
    return (cout / CK_Q8_NR) * CK_Q8_NR + ck_q8_tail_width(cout);
}
/// Bytes per packed weight: 2 for CK_Q8_WEIGHTS_S16, else 1.
static inline size_t ck_q8_weight_bytes(const ck_conv2d_u8s8_params *p) {
    return p->weight_format == CK_Q8_WEIGHTS_S16 ? 2 : 1;
}
static inline size_t ck_q8_group_bytes(const ck_conv2d_u8s8_params *p) {
    return ck_q8_k4(p) * ck_q8_padded_n(p->cout_per_group) * ck_q8_weight_bytes(p);
}
/// Byte offset, within its panel, of weight (k, column c) of a panel `width` columns wide.
static inline size_t ck_q8_panel_at(const ck_conv2d_u8s8_params *p, size_t width, size_t k, size_t c) {
    if (p->weight_format == CK_Q8_WEIGHTS_S16) return (k / 4) * width * 8 + ((k % 4) / 2) * width * 4 + c * 4 + (k % 2) * 2;
    return (k / 4) * width * 4 + c * 4 + k % 4;
}
static inline size_t ck_q8_panel_width(size_t cout, size_t j) {
    return (cout - j * CK_Q8_NR >= CK_Q8_NR) ? CK_Q8_NR : ck_q8_tail_width(cout);
}
static inline size_t ck_q8_wsum_offset(const ck_conv2d_u8s8_params *p) {
    return (p->groups * ck_q8_group_bytes(p) + 63) & ~(size_t)63;
}
static inline size_t ck_q8_ablock_bytes(const ck_conv2d_u8s8_params *p) {
    const size_t chunks = (ck_q8_k4(p) + CK_Q8_KC - 1) / CK_Q8_KC;
    return (chunks ? chunks : 1) * CK_Q8_ACHUNK;
}
/// Bytes per row of a widened row block (CK_Q8_WEIGHTS_S16 on the paths whose microkernels read
/// u16 activations: ck_q8_gemm_config.widen): K4 u16 values, k contiguous, 64-byte aligned rows.
static inline size_t ck_q8_wide_lda(const ck_conv2d_u8s8_params *p) { return (2 * ck_q8_k4(p) + 63) & ~(size_t)63; }
/// Bytes of one row-block slot of the scratch: an im2col row block, or for s16 weights the larger
/// of that and a widened row block (so that either kind of path fits the same scratch).
static inline size_t ck_q8_slot_bytes(const ck_conv2d_u8s8_params *p) {
    const size_t a = ck_q8_ablock_bytes(p);
    if (p->weight_format != CK_Q8_WEIGHTS_S16) return a;
    const size_t w = CK_Q8_AROWS * ck_q8_wide_lda(p);
    return w > a ? w : a;
}
/// Maximum row blocks per macro-block (their im2col rows stay in L2 while every weight panel
/// is streamed over them once). Counted in u8 row blocks whatever the slot size: widened rows
/// take up to twice the budget, which measured the same on Zen 3 (ResNet-18's s16 layers, the
/// kernel harness) and leaves the paths that read u8 rows blocked as before.
static inline size_t ck_q8_nblocks(const ck_conv2d_u8s8_params *p) {
    // Weights that stay in L2 anyway: one row block at a time keeps its im2col rows in L1.
    if (ck_q8_group_bytes(p) <= CK_Q8_SMALL_B) return 1;
    size_t nb = CK_Q8_A_BUDGET / ck_q8_ablock_bytes(p);
    if (nb > CK_Q8_MAXNB) nb = CK_Q8_MAXNB;
    return nb < 1 ? 1 : nb;
}
/// Offset of the staging slot where a widening path gathers one row block before widening it
/// into its macro-block slot (after the nblocks slots; s16 weights only).
static inline size_t ck_q8_stage_offset(const ck_conv2d_u8s8_params *p) {
    return ck_q8_nblocks(p) * ck_q8_slot_bytes(p);
}
/// Offset (from the aligned scratch start) of the int32 accumulator start values of every
/// padded column of every group, after the row-block slots (and the staging slot).
static inline size_t ck_q8_init_offset(const ck_conv2d_u8s8_params *p) {
    return ck_q8_stage_offset(p) + (p->weight_format == CK_Q8_WEIGHTS_S16 ? ck_q8_slot_bytes(p) : 0);
}
/// Whether the im2col rows are the input pixels themselves (1x1, stride 1, no padding, and K a
/// multiple of 4 so that a row's last dword stays inside its pixel's channels of the group).
static inline int ck_q8_rows_in_place(const ck_conv2d_u8s8_params *p) {
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
        p->pad_left == 0 && p->out_h == p->in_h && p->out_w == p->in_w && p->cin_per_group % 4 == 0;
}
/// The read layout of a convolution; min_run: the shortest row run of inside pixels worth reading
/// in place (shorter runs make row blocks too small to amortize a weight panel's loads). Implicit
/// reads need whole dwords of a kernel row: cin a multiple of 4, or the segmented layout.
static inline ck_q8_layout ck_q8_layout_for(const ck_conv2d_u8s8_params *p, size_t min_run) {
    ck_q8_layout l;
    l.mode = CK_Q8_PACKED;
    l.ya = l.yb = l.xa = l.xb = 0;
    l.packed.lda = CK_Q8_KCS;
    l.packed.kc = CK_Q8_KC;
    l.packed.achunk = CK_Q8_ACHUNK;
    l.direct = l.packed;
    const size_t cin = p->cin_per_group, ips = p->in_pixel_stride;
    if (ck_q8_rows_in_place(p)) {
        l.mode = CK_Q8_IN_PLACE;
        l.direct.lda = ips;
        l.direct.kc = l.direct.achunk = CK_Q8_KC;
        return l;
    }
    const int segmented = ck_q8_segmented(p);
    if (p->groups != 1 || ips != cin || p->dilation_w != 1 || (cin % 4 != 0 && !segmented) || cin == 0) return l;
    if (!ck_q8_implicit(&l, p->in_h, p->in_w, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
            p->dilation_h, p->pad_top, p->pad_left, ck_q8_seg(p), ips, min_run) || !segmented) return l;
    // A segmented row reads up to 3 bytes past its last kernel row: past the input's end for
    // windows on the image's bottom row that end at most 3 bytes before it. The output row of
    // such windows (only the last inside one can hold them) is gathered instead.
    const size_t last_y = (l.yb - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h - p->pad_top;
    const size_t first_x = (l.xb - 1) * p->stride_w - p->pad_left;
    if ((last_y * p->in_w + first_x) * ips + ck_q8_seg(p) > p->in_h * p->in_w * ips && --l.yb == l.ya) l.mode = CK_Q8_PACKED;
    return l;
}

/// First im2col byte of output pixel q of group g read in place (see ck_q8_layout).
static inline const uint8_t *ck_q8_direct_row(const ck_conv2d_u8s8_params *p, const ck_q8_layout *l, const uint8_t *input,
    size_t g, size_t q) {
    if (l->mode == CK_Q8_IN_PLACE) return input + q * p->in_pixel_stride + g * p->cin_per_group;
    return input + ck_q8_first_tap(q, p->out_w, p->in_w, p->stride_h, p->stride_w, p->pad_top, p->pad_left) * p->in_pixel_stride;
}

/// Offset of the depthwise VNNI kernel's 4-row weight quads in the packed depthwise weights
/// (after the [taps][C16] dwords and wsum[C16]; 64-byte aligned).
static inline size_t ck_dw8_quad_offset(const ck_conv2d_u8s8_params *p) {
    const size_t c16 = (p->groups + 15) & ~(size_t)15;
    return ((p->kernel_h * p->kernel_w + 1) * c16 * sizeof(int32_t) + 63) & ~(size_t)63;
}
/// Whether the depthwise VNNI kernel runs output rows in pairs: rows oy and oy + 1 then read one
/// transposition of kernel_h + stride_h input rows, which must fit the same number of row quads
/// as one row's kernel_h rows (3x3 and 7x7 stride 1, 5x5 stride 1 or 2). The pair's second row
/// uses a second set of weight quads, shifted down by stride_h rows (see the packing).
static inline int ck_dw8_row_pairs(const ck_conv2d_u8s8_params *p) {
    return p->dilation_h == 1 && p->stride_h <= 2 && (p->kernel_h + p->stride_h + 3) / 4 == (p->kernel_h + 3) / 4;
}
/// Bytes of one set of weight quads (every 64-channel group).
static inline size_t ck_dw8_quad_set_bytes(const ck_conv2d_u8s8_params *p) {
    return ((p->groups + 63) / 64) * ((p->kernel_h + 3) / 4) * p->kernel_w * 256;
}
/// Whether the depthwise VNNI kernel runs a map of at most 4 rows as one quad of its input rows
/// (a 5x5 kernel over the 2- and 3-row maps of a text-line classifier): the input rows are
/// transposed once per column chunk for every output row, and output row oy has its own weight
/// quads whose byte r is the kernel row over input row r (0 where none is, and for rows past
/// the map), so each output row costs one quad instead of one per 4 kernel rows.
static inline int ck_dw8_map_quads(const ck_conv2d_u8s8_params *p) {
    return p->in_h >= 1 && p->in_h <= 4 && p->out_h >= 1 && p->out_h <= 8;
}
/// Offset of the map weight quads (after the row-quad sets): per output row, one set laid out
/// like a one-quad set (per 64-channel group and kernel column, 4 zmm), then per output row the
/// int32 sums of each channel's weights in that row's quads ([out_h][C16]).
static inline size_t ck_dw8_map_offset(const ck_conv2d_u8s8_params *p) {
    return ck_dw8_quad_offset(p) + (ck_dw8_row_pairs(p) ? 2 : 1) * ck_dw8_quad_set_bytes(p);
}
/// Whether a map of at most 2 rows packs its dwords as two rows by two kernel columns instead
/// (bytes: row 0 and row 1 at kernel column 2q, then at 2q + 1): a 5x5 kernel over a 2-row map
/// then costs 3 vpdpbusd per 16 channels instead of 5 whose half is padding rows.
static inline int ck_dw8_map_pairs(const ck_conv2d_u8s8_params *p) {
    return ck_dw8_map_quads(p) && p->in_h <= 2 && p->kernel_w > 1;
}
/// Kernel columns of the map weight quads: column pairs with ck_dw8_map_pairs.
static inline size_t ck_dw8_map_columns(const ck_conv2d_u8s8_params *p) {
    return ck_dw8_map_pairs(p) ? (p->kernel_w + 1) / 2 : p->kernel_w;
}
/// Bytes of one output row's map weight quads (every 64-channel group).
static inline size_t ck_dw8_map_set_bytes(const ck_conv2d_u8s8_params *p) {
    return ((p->groups + 63) / 64) * ck_dw8_map_columns(p) * 256;
}
/// The kernel row over input row r for output row oy (-1 when none is).
static inline ptrdiff_t ck_dw8_map_kernel_row(const ck_conv2d_u8s8_params *p, size_t oy, size_t r) {
    const ptrdiff_t d = (ptrdiff_t)r + (ptrdiff_t)p->pad_top - (ptrdiff_t)(oy * p->stride_h);
    if (d < 0 || d % (ptrdiff_t)p->dilation_h != 0) return -1;
    const ptrdiff_t kh = d / (ptrdiff_t)p->dilation_h;
    return kh < (ptrdiff_t)p->kernel_h ? kh : -1;
}
/// The kernel taps of output pixel pix that fall inside the image: rows [kh[0], kh[1]), columns
/// [kw[0], kw[1]); (iy0, ix0) is the input position of tap (0, 0) (negative in the padding).
typedef struct {
    ptrdiff_t iy0, ix0;
    size_t kh[2], kw[2];
} ck_q8_window;

static inline ck_q8_window ck_q8_valid_taps(const ck_conv2d_u8s8_params *p, size_t pix) {
    ck_q8_window w;
    const size_t oy = pix / p->out_w, ox = pix % p->out_w, KH = p->kernel_h, KW = p->kernel_w;
    const ptrdiff_t dh = (ptrdiff_t)p->dilation_h, dw = (ptrdiff_t)p->dilation_w;
    w.iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
    w.ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
    size_t kh_lo = 0, kh_hi = KH, kw_lo = 0, kw_hi = KW;
    while (kh_lo < KH && w.iy0 + (ptrdiff_t)kh_lo * dh < 0) kh_lo++;
    while (kh_hi > kh_lo && w.iy0 + (ptrdiff_t)(kh_hi - 1) * dh >= (ptrdiff_t)p->in_h) kh_hi--;
    while (kw_lo < KW && w.ix0 + (ptrdiff_t)kw_lo * dw < 0) kw_lo++;
    while (kw_hi > kw_lo && w.ix0 + (ptrdiff_t)(kw_hi - 1) * dw >= (ptrdiff_t)p->in_w) kw_hi--;
    w.kh[0] = kh_lo; w.kh[1] = kh_hi; w.kw[0] = kw_lo; w.kw[1] = kw_hi;
    return w;
}

static inline uint8_t *ck_q8_align_scratch(void *s) {
    return (uint8_t *)(((uintptr_t)s + 63) & ~(uintptr_t)63);
}

/// vcvtps2dq under the default MXCSR: round half to even; NaN / out of range -> INT32_MIN.
static inline int32_t ck_q8_cvt_rne(float f) {
    if (!(f >= -2147483648.0f && f < 2147483648.0f)) return INT32_MIN;
    if (f >= 8388608.0f || f <= -8388608.0f) return (int32_t)f; // already integral
    int32_t t = (int32_t)f;                                        // toward zero
    const float d = f - (float)t;                                  // exact
    if (d > 0.5f || (d == 0.5f && (t & 1))) t++;
    else if (d < -0.5f || (d == -0.5f && (t & 1))) t--;
    return t;
}

/// The output stage of one accumulator (the specification the SIMD epilogues follow).
static inline void ck_q8_store1(const ck_u8s8_output *o, size_t ch, int32_t acc, void *output, size_t idx) {
    const float v = (float)acc * o->scale[ch];
    if (o->mode == CK_U8S8_OUT_U8) {
        int32_t q = (int32_t)((uint32_t)ck_q8_cvt_rne(v) + (uint32_t)o->zero_point);
        if (q < o->lo) q = o->lo;
        if (q > o->hi) q = o->hi;
        uint8_t code = (uint8_t)q;
        if (o->add) {  // the stored code, then the Add kernel's scalar twin on it
            const ck_u8s8_residual_add *a = o->add;
            const uint8_t *r = a->residual + idx;
            if (a->conv_is_b) ck_qadd_u8__scalar(r, a->ma, &code, a->mb, a->c, a->lo, a->hi, &code, 1);
            else ck_qadd_u8__scalar(&code, a->ma, r, a->mb, a->c, a->lo, a->hi, &code, 1);
        }
        ((uint8_t *)output)[idx] = code;
    } else {
        float y = v;
        if (y < o->fmin) y = o->fmin; // max(v, fmin)
        if (y > o->fmax) y = o->fmax; // min(., fmax)
        ((float *)output)[idx] = y;
    }
}

#endif
