// FP32 depthwise conv2d, AVX2 + FMA: vectorized over 8 channels per ymm. For each output-row
// segment, interior pixels (every kernel column inside the row) of 3x3 and 5x5 kernels at
// strides 1 and 2 run in blocks of 4 output pixels of one 8-channel group, so that each input
// vector loaded once per kernel row feeds every output of the block whose window covers it.
// Each output keeps the two accumulators of the per-pixel paths and takes its taps in their
// order, so the outputs have the bits of the per-pixel kernel this replaced (and so do the
// calibrations made with it). The other pixels and kernels run one pixel at a time. Channels
// run in chunks of whole cache lines whose kernel rows across the segment stay in L1. Whole
// 8-channel groups load and store plainly (masked stores are microcoded on AMD); only the last
// group of a channel count not divisible by 8 is masked.
#include "ck_fp32.h"
#include "dwconv2d_f32_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T256 __attribute__((target("avx2,fma")))
#define CK_INLINE static inline __attribute__((always_inline))
/// Output pixels per block of the interior path.
#define CK_DW2_OT 4
/// Input floats of a channel chunk's kernel rows across a segment that should stay in L1.
#ifndef CK_DW2_L1_FLOATS
#define CK_DW2_L1_FLOATS ((size_t)4096)
#endif

static const int32_t ck_dw_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

CK_INLINE CK_T256 __m256 ck_dw2_load(int full, const float *src, __m256i m) {
    return full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, m);
}

/// Stores one pixel's 8 (full) or masked channels: v plus the residual if any, clamped.
CK_INLINE CK_T256 void ck_dw2_store(int full, float *out, const float *res, __m256i m, __m256 v, __m256 lo, __m256 hi) {
    if (res) v = _mm256_add_ps(v, ck_dw2_load(full, res, m));
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    if (full) _mm256_storeu_ps(out, v);
    else _mm256_maskstore_ps(out, m, v);
}

/// Generic tap loop for output pixel ox: only in-image taps, weights read from memory.
CK_INLINE CK_T256 __m256 ck_dw2_pixel_any(int full, const float *in_c, const float *w_c, size_t C16, size_t KW,
    size_t kh_lo, size_t kh_hi, ptrdiff_t iy0, ptrdiff_t ix0, ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t in_w,
    ptrdiff_t ips, __m256i m, __m256 acc) {
    // Valid kernel columns [kw_lo, kw_hi).
    size_t kw_lo = 0, kw_hi = KW;
    while (kw_lo < KW && ix0 + (ptrdiff_t)kw_lo * dw < 0) kw_lo++;
    while (kw_hi > kw_lo && ix0 + (ptrdiff_t)(kw_hi - 1) * dw >= in_w) kw_hi--;
    __m256 acc1 = _mm256_setzero_ps();
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const float *rp = in_c + ((iy0 + (ptrdiff_t)kh * dh) * in_w + ix0) * ips;
        const float *wp = w_c + kh * KW * C16;
        size_t kw = kw_lo;
        for (; kw + 2 <= kw_hi; kw += 2) {
            acc = _mm256_fmadd_ps(ck_dw2_load(full, rp + (ptrdiff_t)kw * dw * ips, m), _mm256_loadu_ps(wp + kw * C16), acc);
            acc1 = _mm256_fmadd_ps(ck_dw2_load(full, rp + (ptrdiff_t)(kw + 1) * dw * ips, m),
                _mm256_loadu_ps(wp + (kw + 1) * C16), acc1);
        }
        if (kw < kw_hi)
            acc = _mm256_fmadd_ps(ck_dw2_load(full, rp + (ptrdiff_t)kw * dw * ips, m), _mm256_loadu_ps(wp + kw * C16), acc);
    }
    return _mm256_add_ps(acc, acc1);
}

/// One interior output pixel of a 3x3 kernel with every row in the image, in the order of the
/// 3x3 path before the blocked one: tap t = kh * 3 + kw goes to accumulator t & 1 (bias in the
/// first), the two summed at the end. px: the input at tap (0, 0); w_c: the packed weights.
CK_INLINE CK_T256 __m256 ck_dw2_pixel_3x3(int full, __m256i m, const float *px, const float *w_c, size_t C16,
    ptrdiff_t row_step, ptrdiff_t col_step, __m256 vb) {
    __m256 acc0 = vb, acc1 = _mm256_setzero_ps();
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        const __m256 x = ck_dw2_load(full, px + (t / 3) * row_step + (t % 3) * col_step, m);
        if (t & 1) acc1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w_c + (size_t)t * C16), acc1);
        else acc0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(w_c + (size_t)t * C16), acc0);
    }
    return _mm256_add_ps(acc0, acc1);
}

/// One kernel row of a block (see ck_dw2_block): tap t of output o on a1[o] if (t & 1) ^ FLIP,
/// else on a0[o], in increasing t; with CHECK, columns outside [0, in_w) are skipped.
CK_INLINE CK_T256 void ck_dw2_row(const int KW, const int SW, const int FULL, const int CHECK, const int FLIP,
    __m256i m, const float *px, ptrdiff_t ix, ptrdiff_t in_w, ptrdiff_t ips, const __m256 *wr, __m256 *a0, __m256 *a1) {
#pragma GCC unroll 32
    for (int j = 0; j < (CK_DW2_OT - 1) * SW + KW; j++) {
        if (CHECK && (size_t)(ix + j) >= (size_t)in_w) continue; // outside the row: skipped, as padding
        const __m256 x = ck_dw2_load(FULL, px + (ptrdiff_t)j * ips, m);
#pragma GCC unroll 8
        for (int o = 0; o < CK_DW2_OT; o++) {
            const int t = j - o * SW;
            if (t >= 0 && t < KW) {
                if ((t & 1) ^ FLIP) a1[o] = _mm256_fmadd_ps(x, wr[t], a1[o]);
                else a0[o] = _mm256_fmadd_ps(x, wr[t], a0[o]);
            }
        }
    }
}

/// A block of up to CK_DW2_OT consecutive output pixels of one 8-channel group, kernel width KW and
/// horizontal stride SW (compile time), dilation 1 across the row. px: the input at the first
/// in-image kernel row and the first tap of the first pixel (row column ix, which may lie outside
/// the row when CHECK); w: the weights of that kernel row; nkh kernel rows, row_step input floats
/// apart. Each output keeps the two accumulators of the per-pixel paths and takes each tap in
/// their order on the same accumulator, so that every output has the bits it had before the
/// blocks. T33 (3x3, all three rows in the image, CHECK == 0): tap kh * 3 + kw on accumulator
/// (kh + kw) & 1, bias on the first. Otherwise (ck_dw2_pixel_any): the in-row taps kw_lo, kw_lo
/// + 2, ... of each row on the accumulator that starts at the bias, the others on the one that
/// starts at zero; here the even taps go to a0 and the odd ones to a1, so an output whose first
/// in-row tap kw_lo is odd starts a1 at the bias instead (the final a0 + a1 is the same sum).
/// CHECK == 0: all CK_DW2_OT pixels have every tap inside the row; CHECK == 1: columns outside
/// the row are skipped and only the first n pixels are stored.
CK_INLINE CK_T256 void ck_dw2_block(const int KW, const int SW, const int FULL, const int CHECK, const int T33,
    __m256i m, const float *px, ptrdiff_t ix, ptrdiff_t in_w, size_t n, const float *w, size_t nkh, ptrdiff_t row_step,
    size_t C16, ptrdiff_t ips, __m256 vb, float *out, const float *res, size_t ops, __m256 lo, __m256 hi) {
    __m256 a0[CK_DW2_OT], a1[CK_DW2_OT];
#pragma GCC unroll 8
    for (int o = 0; o < CK_DW2_OT; o++) {
        const ptrdiff_t first = ix + (ptrdiff_t)o * SW; // column of tap 0
        if (CHECK && first < 0 && ((-first) & 1)) {
            a0[o] = _mm256_setzero_ps();
            a1[o] = vb;
        } else {
            a0[o] = vb;
            a1[o] = _mm256_setzero_ps();
        }
    }
    for (size_t kh = 0; kh < nkh; kh++, px += row_step, w += (size_t)KW * C16) {
        __m256 wr[KW];
#pragma GCC unroll 8
        for (int t = 0; t < KW; t++) wr[t] = _mm256_loadu_ps(w + (size_t)t * C16);
        // Odd kernel rows of the 3x3 order start on the second accumulator.
        if (T33 && (kh & 1)) ck_dw2_row(KW, SW, FULL, CHECK, 1, m, px, ix, in_w, ips, wr, a0, a1);
        else ck_dw2_row(KW, SW, FULL, CHECK, 0, m, px, ix, in_w, ips, wr, a0, a1);
    }
#pragma GCC unroll 8
    for (int o = 0; o < CK_DW2_OT; o++) {
        if (CHECK && (size_t)o >= n) break;
        ck_dw2_store(FULL, out + (size_t)o * ops, res ? res + (size_t)o * ops : NULL, m, _mm256_add_ps(a0[o], a1[o]), lo, hi);
    }
}

/// One output-row segment [ox0, ox1) of row oy, in the order of the per-pixel paths: interior
/// pixels of a 3x3 kernel with all rows in the image the 3x3 order, the others
/// ck_dw2_pixel_any's. KW_ > 0 and SW_ > 0: compile-time kernel width and stride of the blocks
/// (dilation_w 1; with the 3x3 order only whole interior blocks, the rest one pixel at a time);
/// 0: every pixel one at a time.
CK_INLINE CK_T256 void ck_dw_segment256(const int KW_, const int SW_, const ck_conv2d_f32_params *p,
    const float *input, const float *packed, const float *bias, const float *residual, float *output,
    size_t oy, size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    const size_t C = p->groups, C16 = ck_dw_cpad(C);
    const size_t KH = p->kernel_h, KW = KW_ ? (size_t)KW_ : p->kernel_w;
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
    const ptrdiff_t dh = (ptrdiff_t)p->dilation_h, dw = (ptrdiff_t)p->dilation_w, sw = (ptrdiff_t)p->stride_w;
    const ptrdiff_t pl = (ptrdiff_t)p->pad_left;
    // Valid kernel rows [kh_lo, kh_hi).
    size_t kh_lo = 0, kh_hi = KH;
    while (kh_lo < KH && iy0 + (ptrdiff_t)kh_lo * dh < 0) kh_lo++;
    while (kh_hi > kh_lo && iy0 + (ptrdiff_t)(kh_hi - 1) * dh >= (ptrdiff_t)p->in_h) kh_hi--;
    const int t33 = KH == 3 && KW == 3 && kh_lo == 0 && kh_hi == 3;
    // Pixels [fast_lo, fast_hi) have every kernel column inside the row.
    size_t fast_lo = ilo > ox0 ? ilo : ox0;
    if (fast_lo > ox1) fast_lo = ox1;
    size_t fast_hi = ihi < ox1 ? ihi : ox1;
    if (fast_hi < fast_lo) fast_hi = fast_lo;
    const __m256 lo = _mm256_set1_ps(p->act_min), hi = _mm256_set1_ps(p->act_max);
    const size_t ops = p->out_pixel_stride;
    const size_t pix0 = oy * p->out_w;
    const ptrdiff_t row_step = dh * in_w * ips, col_step = dw * ips;
    const size_t nkh = kh_hi - kh_lo;
    // Channels in chunks whose kernel rows across the segment stay in L1 (at least 16 channels, a
    // cache line), so the 8-channel groups of a chunk find the lines the previous one brought in.
    const size_t span = (ox1 - ox0) * (size_t)sw + KW;
    size_t chunk = (CK_DW2_L1_FLOATS / ((nkh ? nkh : 1) * span)) & ~(size_t)15;
    if (chunk < 16) chunk = 16;
    for (size_t c0 = 0; c0 < C; c0 += chunk) {
        const size_t c1 = c0 + chunk < C ? c0 + chunk : C;
        for (size_t c = c0; c < c1; c += 8) {
            const size_t nc = (C - c) >= 8 ? 8 : (C - c);
            const __m256i m = _mm256_loadu_si256((const __m256i *)(ck_dw_mask_table + 8 - nc));
            const __m256 vb = bias ? _mm256_maskload_ps(bias + c, m) : _mm256_setzero_ps();
            const float *in_c = input + c, *w_c = packed + c;
            const float *w = w_c + kh_lo * KW * C16;
            for (size_t ox = ox0; ox < ox1;) {
                // A block of interior pixels; else, away from the 3x3 order, a checked block of up
                // to CK_DW2_OT pixels; else one pixel.
                const int inside = ox >= fast_lo && ox + CK_DW2_OT <= fast_hi;
                const int block = KW_ && SW_ && (inside || !t33);
                const size_t n = block ? (ox1 - ox < CK_DW2_OT ? ox1 - ox : CK_DW2_OT) : 1;
                const ptrdiff_t ix = (ptrdiff_t)ox * sw - pl;
                float *o = output + (pix0 + ox) * ops + c;
                const float *r = residual ? residual + (pix0 + ox) * ops + c : NULL;
                ox += n;
                if (block) {
                    const float *px = in_c + ((iy0 + (ptrdiff_t)kh_lo * dh) * in_w + ix) * ips;
                    // FULL, CHECK and T33 as constants: loads and accumulators are not chosen one by one.
#define CK_DW2_CALL(FULL, CHECK, T33) \
    ck_dw2_block(KW_, SW_, FULL, CHECK, T33, m, px, ix, in_w, n, w, nkh, row_step, C16, ips, vb, o, r, ops, lo, hi)
                    if (nc == 8) {
                        if (!inside) CK_DW2_CALL(1, 1, 0);
                        else if (t33) CK_DW2_CALL(1, 0, 1);
                        else CK_DW2_CALL(1, 0, 0);
                    } else {
                        if (!inside) CK_DW2_CALL(0, 1, 0);
                        else if (t33) CK_DW2_CALL(0, 0, 1);
                        else CK_DW2_CALL(0, 0, 0);
                    }
#undef CK_DW2_CALL
                    continue;
                }
                const int interior33 = t33 && ox - 1 >= fast_lo && ox - 1 < fast_hi;
                const float *px = in_c + (iy0 * in_w + ix) * ips;
                __m256 v;
                if (nc == 8) {
                    v = interior33 ? ck_dw2_pixel_3x3(1, m, px, w_c, C16, row_step, col_step, vb)
                                   : ck_dw2_pixel_any(1, in_c, w_c, C16, KW, kh_lo, kh_hi, iy0, ix, dh, dw, in_w, ips, m, vb);
                    ck_dw2_store(1, o, r, m, v, lo, hi);
                } else {
                    v = interior33 ? ck_dw2_pixel_3x3(0, m, px, w_c, C16, row_step, col_step, vb)
                                   : ck_dw2_pixel_any(0, in_c, w_c, C16, KW, kh_lo, kh_hi, iy0, ix, dh, dw, in_w, ips, m, vb);
                    ck_dw2_store(0, o, r, m, v, lo, hi);
                }
            }
        }
    }
}

#define CK_DW2_SEG(NAME, KW, SW)                                                                              \
    static CK_T256 void NAME(const ck_conv2d_f32_params *p, const float *input, const float *packed,             \
        const float *bias, const float *residual, float *output, size_t oy, size_t ox0, size_t ox1, size_t ilo,   \
        size_t ihi) {                                                                                             \
        ck_dw_segment256(KW, SW, p, input, packed, bias, residual, output, oy, ox0, ox1, ilo, ihi);               \
    }
CK_DW2_SEG(ck_dw2_seg_k3s1, 3, 1)
CK_DW2_SEG(ck_dw2_seg_k3s2, 3, 2)
CK_DW2_SEG(ck_dw2_seg_k5s1, 5, 1)
CK_DW2_SEG(ck_dw2_seg_k5s2, 5, 2)
CK_DW2_SEG(ck_dw2_seg_any, 0, 0)

typedef void (*ck_dw2_seg_fn)(const ck_conv2d_f32_params *, const float *, const float *, const float *,
    const float *, float *, size_t, size_t, size_t, size_t, size_t);

CK_T256 void ck_dwconv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end) {
    if (p->out_w == 0) return;
    size_t ilo, ihi;
    ck_dw_interior(p, &ilo, &ihi);
    ck_dw2_seg_fn seg = ck_dw2_seg_any;
    if (p->dilation_w == 1 && (p->stride_w == 1 || p->stride_w == 2) && (p->kernel_w == 3 || p->kernel_w == 5)) {
        if (p->kernel_w == 3) seg = p->stride_w == 1 ? ck_dw2_seg_k3s1 : ck_dw2_seg_k3s2;
        else seg = p->stride_w == 1 ? ck_dw2_seg_k5s1 : ck_dw2_seg_k5s2;
    }
    for (size_t pix = pixel_begin; pix < pixel_end;) {
        size_t oy, ox0, ox1;
        ck_row_segment(p->out_w, pix, pixel_end, &oy, &ox0, &ox1);
        seg(p, input, packed_weights, bias, residual, output, oy, ox0, ox1, ilo, ihi);
        pix += ox1 - ox0;
    }
}

#else

void ck_dwconv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_f32_nhwc__scalar(p, input, packed_weights, bias, residual, output, pixel_begin, pixel_end);
}

#endif
