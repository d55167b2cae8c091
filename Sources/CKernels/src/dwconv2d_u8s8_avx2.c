// INT8 depthwise conv2d, AVX2 (no AVX-512): the AVX-512 kernel on ymm, 8 channels per ymm
// (up to 4 blocks of 8 per pass for independent accumulators). Per tap: 8 u8 widened to dwords
// (vpmovzxbd), minus z_x, then vpmaddwd with the packed weight dwords (low half = s16 weight,
// high half 0) gives the exact products (x - z_x) * w; padded taps are skipped. Same packed
// weights as the other variants.
// Channel tail without masked byte loads: when C >= 8 the last C % 8 channels are done as one
// full block of channels [C - 8, C) (it recomputes and rewrites a few channels with the same
// values; channels are independent); only C < 8 needs partial loads and stores.
// Blocked path (C >= 8, kernel width 3 or 5, horizontal stride 1 or 2, dilation_w 1): for each
// output-row segment and 8-channel group, blocks of 8 output pixels (8 independent accumulators).
// Two taps at once: the bytes of input columns j and j + 1 interleaved and widened to words, minus
// z_x (exact in s16), times the (w_t, w_t+1) word pairs of the packed weights, one vpmaddwd per
// output and tap pair; each such column pair is built once per kernel row and feeds every output
// of the block whose window starts a tap pair there. An odd kernel's last tap pairs with a zero
// weight. Border blocks read z_x for columns outside the row ((z_x - z_x) * w = 0: the scalar twin
// skips those taps); rows outside the image are skipped. Integer sums are exact, so the order of
// the taps does not change a bit. Channels run in chunks of whole cache lines whose kernel rows
// across the segment stay in L1.
// Epilogue as the scalar ck_q8_store1: u8 output truncates dwords to bytes (vpand + vpackus, or
// vpshufb + vpermd for a single block), float output clamps as max(fmin, v) then min(fmax, .)
// with the constant as the FIRST operand, so NaN and signed zeros behave like the scalar
// compares.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T256 __attribute__((target("avx2,fma")))
#define CK_INLINE static inline __attribute__((always_inline))

#include "u8s8_avx2_epilogue.h"

/// NB (1..4) blocks of 8 channels starting at channel c of output pixel pix. PART: a single
/// block of n < 8 channels (C < 8); otherwise every block is full.
CK_INLINE CK_T256 void ck_dw8_pixel(const int NB, const int PART, const ck_conv2d_u8s8_params *p,
    const uint8_t *input, const int32_t *pw, size_t C16, const int32_t *bias, const ck_u8s8_output *o,
    void *output, size_t pix, size_t kh_lo, size_t kh_hi, size_t kw_lo, size_t kw_hi, ptrdiff_t iy0,
    ptrdiff_t ix0, size_t c, size_t n) {
    __m256i acc[4];
    const __m256i m = PART ? ck_dw8_mask8(n) : _mm256_set1_epi32(-1);
    const __m256i zx = _mm256_set1_epi32(p->input_zero_point);
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
        if (!bias) acc[b] = _mm256_setzero_si256();
        else if (PART) acc[b] = _mm256_maskload_epi32(bias + c, m);
        else acc[b] = _mm256_loadu_si256((const __m256i *)(bias + c + 8 * b));
    }
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const uint8_t *rp = input + ((iy0 + (ptrdiff_t)(kh * p->dilation_h)) * in_w + ix0) * ips + (ptrdiff_t)c;
        const int32_t *wp = pw + kh * p->kernel_w * C16 + c;
        for (size_t kw = kw_lo; kw < kw_hi; kw++) {
            const uint8_t *xp = rp + (ptrdiff_t)(kw * p->dilation_w) * ips;
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const __m128i x8 = PART ? ck_dw8_load_part(xp, n) : _mm_loadl_epi64((const __m128i *)(xp + 8 * b));
                const __m256i x = _mm256_sub_epi32(_mm256_cvtepu8_epi32(x8), zx);
                // Packed weights are zero-padded to C16, so the full load stays in bounds.
                acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(wp + kw * C16 + 8 * b))));
            }
        }
    }
    const size_t idx = pix * p->out_pixel_stride + c;
    __m256 v[4];
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++)
        v[b] = ck_dw8_dequant(acc[b], PART ? _mm256_maskload_ps(o->scale + c, m) : _mm256_loadu_ps(o->scale + c + 8 * b));
    if (o->mode == CK_U8S8_OUT_U8) {
        const __m256i zy = _mm256_set1_epi32(o->zero_point), lo = _mm256_set1_epi32(o->lo), hi = _mm256_set1_epi32(o->hi);
        uint8_t *out = (uint8_t *)output + idx;
        if (NB == 4) {
            // Truncate to bytes exactly: keep the low byte, then the unsigned packs are no-ops.
            const __m256i ff = _mm256_set1_epi32(0xFF);
            const __m256i q0 = _mm256_and_si256(ck_dw8_requant(v[0], zy, lo, hi), ff);
            const __m256i q1 = _mm256_and_si256(ck_dw8_requant(v[1], zy, lo, hi), ff);
            const __m256i q2 = _mm256_and_si256(ck_dw8_requant(v[2], zy, lo, hi), ff);
            const __m256i q3 = _mm256_and_si256(ck_dw8_requant(v[3], zy, lo, hi), ff);
            const __m256i t = _mm256_packus_epi16(_mm256_packus_epi32(q0, q1), _mm256_packus_epi32(q2, q3));
            _mm256_storeu_si256((__m256i *)out, _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        } else {
#pragma GCC unroll 4
            for (int b = 0; b < NB; b++) {
                const uint64_t q = ck_dw8_bytes8(ck_dw8_requant(v[b], zy, lo, hi));
                if (PART) for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(q >> (8 * i));
                else memcpy(out + 8 * b, &q, 8);
            }
        }
    } else {
        const __m256 fmin = _mm256_set1_ps(o->fmin), fmax = _mm256_set1_ps(o->fmax);
        float *out = (float *)output + idx;
#pragma GCC unroll 4
        for (int b = 0; b < NB; b++) {
            const __m256 y = ck_dw8_fclamp(v[b], fmin, fmax);
            if (PART) _mm256_maskstore_ps(out, m, y);
            else _mm256_storeu_ps(out + 8 * b, y);
        }
    }
}

/// Output pixels per block of the blocked path.
#define CK_DW8_OT 8
/// Input bytes of a channel chunk's kernel rows across a segment that should stay in L1.
#define CK_DW8_L1_BYTES ((size_t)16384)

/// Input column j of the block (8 channels): z_x where CHECK and the column lies outside the row.
CK_INLINE CK_T256 __m128i ck_dw8_column(const int CHECK, const uint8_t *px, int j, ptrdiff_t ix, ptrdiff_t in_w,
    ptrdiff_t ips, __m128i zx8) {
    if (CHECK && (size_t)(ix + j) >= (size_t)in_w) return zx8;
    return _mm_loadl_epi64((const __m128i *)(px + (ptrdiff_t)j * ips));
}

/// A block of up to CK_DW8_OT consecutive output pixels of one full 8-channel group (channel c),
/// kernel width KW and horizontal stride SW (compile time). px: the input at the first in-image
/// kernel row and the first tap of the first pixel (row column ix, which may lie outside the row
/// when CHECK); w: the packed weights of that kernel row; nkh kernel rows, row_step input bytes
/// apart. CHECK == 0: all CK_DW8_OT pixels have every tap inside the row; CHECK == 1: columns
/// outside [0, in_w) read as z_x and only the first n pixels are stored. FOLD (interior blocks
/// with every kernel row in the image): bias already holds bias - z_x * wsum, so the columns enter
/// the products as they are, without the per-column subtraction of z_x.
CK_INLINE CK_T256 void ck_dw8_block(const int KW, const int SW, const int CHECK, const int FOLD, const uint8_t *px, ptrdiff_t ix,
    ptrdiff_t in_w, size_t n, const int32_t *w, size_t nkh, ptrdiff_t row_step, size_t C16, ptrdiff_t ips,
    __m256i bias, __m128i zx8, __m256i zx16, const ck_u8s8_output *o, void *output, size_t idx, size_t ops, size_t c) {
    const int SPAN = (CK_DW8_OT - 1) * SW + KW;
    __m256i acc[CK_DW8_OT];
#pragma GCC unroll 8
    for (int k = 0; k < CK_DW8_OT; k++) acc[k] = bias;
    for (size_t kh = 0; kh < nkh; kh++, px += row_step, w += (size_t)KW * C16) {
        // (w_t, w_t+1) word pairs: the packed dwords hold each weight in their low half.
        __m256i wp[(KW + 1) / 2];
#pragma GCC unroll 4
        for (int i = 0; i < (KW + 1) / 2; i++) {
            const __m256i lo = _mm256_loadu_si256((const __m256i *)(w + (size_t)(2 * i) * C16));
            const __m256i hi = 2 * i + 1 < KW ? _mm256_loadu_si256((const __m256i *)(w + (size_t)(2 * i + 1) * C16))
                                              : _mm256_setzero_si256();
            wp[i] = _mm256_or_si256(lo, _mm256_slli_epi32(hi, 16));
        }
        __m128i xa = ck_dw8_column(CHECK, px, 0, ix, in_w, ips, zx8);
#pragma GCC unroll 32
        for (int j = 0; j < SPAN; j++) {
            // The last column pairs only with a zero weight: repeat it rather than read past the block.
            const __m128i xb = j + 1 < SPAN ? ck_dw8_column(CHECK, px, j + 1, ix, in_w, ips, zx8) : xa;
            int starts = 0;
#pragma GCC unroll 8
            for (int k = 0; k < CK_DW8_OT; k++) {
                const int t = j - k * SW;
                starts |= t >= 0 && t < KW && !(t & 1);
            }
            if (starts) {
                __m256i pair = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa, xb));
                if (!FOLD) pair = _mm256_sub_epi16(pair, zx16);
#pragma GCC unroll 8
                for (int k = 0; k < CK_DW8_OT; k++) {
                    const int t = j - k * SW;
                    if (t >= 0 && t < KW && !(t & 1)) acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(pair, wp[t / 2]));
                }
            }
            xa = xb;
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < CK_DW8_OT; k++) {
        if (CHECK && (size_t)k >= n) break;
        ck_dw8_store8(o, output, idx + (size_t)k * ops, c, acc[k]);
    }
}

/// One output-row segment [ox0, ox1) of row oy on the blocked path (C >= 8).
CK_INLINE CK_T256 void ck_dw8_segment(const int KW, const int SW, const ck_conv2d_u8s8_params *p,
    const uint8_t *input, const int32_t *pw, const int32_t *bias, const ck_u8s8_output *o, void *output, size_t oy,
    size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15;
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w, dh = (ptrdiff_t)p->dilation_h;
    // The row's in-image kernel rows (the same for every pixel of the row).
    const ck_q8_window t = ck_q8_valid_taps(p, oy * p->out_w + ox0);
    const ptrdiff_t iy0 = t.iy0;
    const size_t kh_lo = t.kh[0], kh_hi = t.kh[1];
    const size_t nkh = kh_hi - kh_lo, ops = p->out_pixel_stride, pix0 = oy * p->out_w;
    const int32_t *wsum = pw + p->kernel_h * p->kernel_w * C16; // after the taps (dwconv2d_u8s8_scalar.c)
    const ptrdiff_t row_step = dh * in_w * ips;
    const __m128i zx8 = _mm_set1_epi8((char)p->input_zero_point);
    const __m256i zx16 = _mm256_set1_epi16((short)p->input_zero_point);
    const size_t span = (ox1 - ox0) * (size_t)SW + (size_t)KW;
    size_t chunk = (CK_DW8_L1_BYTES / ((nkh ? nkh : 1) * span)) & ~(size_t)63;
    if (chunk < 64) chunk = 64;
    for (size_t c0 = 0; c0 < C; c0 += chunk) {
        const size_t c1 = c0 + chunk < C ? c0 + chunk : C;
        for (size_t ox = ox0; ox < ox1; ox += CK_DW8_OT) {
            const size_t n = ox1 - ox < CK_DW8_OT ? ox1 - ox : CK_DW8_OT;
            const ptrdiff_t ix = (ptrdiff_t)ox * SW - (ptrdiff_t)p->pad_left;
            const int inside = n == CK_DW8_OT && ox >= ilo && ox + CK_DW8_OT <= ihi;
            const int fold = inside && nkh == p->kernel_h;
            const uint8_t *px0 = input + ((iy0 + (ptrdiff_t)kh_lo * dh) * in_w + ix) * ips;
            for (size_t g = c0; g < c1; g += 8) {
                // A last partial group redoes channels [C - 8, C) (C >= 8; channels are independent).
                const size_t c = g + 8 <= C ? g : C - 8;
                __m256i b = bias ? _mm256_loadu_si256((const __m256i *)(bias + c)) : _mm256_setzero_si256();
                const int32_t *w = pw + kh_lo * (size_t)KW * C16 + c;
                const size_t idx = (pix0 + ox) * ops + c;
                if (fold) {
                    // bias - z_x * wsum in wrapping int32, as the scalar twin's sum of (x - z_x) * w.
                    const __m256i ws = _mm256_loadu_si256((const __m256i *)(wsum + c));
                    b = _mm256_sub_epi32(b, _mm256_mullo_epi32(ws, _mm256_set1_epi32(p->input_zero_point)));
                    ck_dw8_block(KW, SW, 0, 1, px0 + c, ix, in_w, n, w, nkh, row_step, C16, ips, b, zx8, zx16, o, output, idx, ops, c);
                } else if (inside) {
                    ck_dw8_block(KW, SW, 0, 0, px0 + c, ix, in_w, n, w, nkh, row_step, C16, ips, b, zx8, zx16, o, output, idx, ops, c);
                } else {
                    ck_dw8_block(KW, SW, 1, 0, px0 + c, ix, in_w, n, w, nkh, row_step, C16, ips, b, zx8, zx16, o, output, idx, ops, c);
                }
            }
        }
    }
}

#define CK_DW8_SEG(NAME, KW, SW)                                                                               \
    static CK_T256 void NAME(const ck_conv2d_u8s8_params *p, const uint8_t *input, const int32_t *pw,            \
        const int32_t *bias, const ck_u8s8_output *o, void *output, size_t oy, size_t ox0, size_t ox1, size_t ilo, \
        size_t ihi) {                                                                                              \
        ck_dw8_segment(KW, SW, p, input, pw, bias, o, output, oy, ox0, ox1, ilo, ihi);                             \
    }
CK_DW8_SEG(ck_dw8_seg_k3s1, 3, 1)
CK_DW8_SEG(ck_dw8_seg_k3s2, 3, 2)
CK_DW8_SEG(ck_dw8_seg_k5s1, 5, 1)
CK_DW8_SEG(ck_dw8_seg_k5s2, 5, 2)

typedef void (*ck_dw8_seg_fn)(const ck_conv2d_u8s8_params *, const uint8_t *, const int32_t *, const int32_t *,
    const ck_u8s8_output *, void *, size_t, size_t, size_t, size_t, size_t);

/// The blocked path's segment function for this convolution, or NULL.
static ck_dw8_seg_fn ck_dw8_blocked(const ck_conv2d_u8s8_params *p) {
    if (p->groups < 8 || p->dilation_w != 1 || p->out_w == 0) return NULL;
    if (p->kernel_w == 3 && p->stride_w == 1) return ck_dw8_seg_k3s1;
    if (p->kernel_w == 3 && p->stride_w == 2) return ck_dw8_seg_k3s2;
    if (p->kernel_w == 5 && p->stride_w == 1) return ck_dw8_seg_k5s1;
    if (p->kernel_w == 5 && p->stride_w == 2) return ck_dw8_seg_k5s2;
    return NULL;
}

CK_T256 void ck_dwconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15;
    if (C == 0) return;
    const int32_t *pw = (const int32_t *)packed_weights;
    const ck_dw8_seg_fn seg = ck_dw8_blocked(p);
    if (seg) {
        size_t ilo, ihi;
        ck_q8_inside(p->out_w, p->in_w, p->stride_w, p->pad_left, p->kernel_w, p->dilation_w, &ilo, &ihi);
        for (size_t pix = pixel_begin; pix < pixel_end;) {
            size_t oy, ox0, ox1;
            ck_row_segment(p->out_w, pix, pixel_end, &oy, &ox0, &ox1);
            seg(p, input, pw, bias, out, output, oy, ox0, ox1, ilo, ihi);
            pix += ox1 - ox0;
        }
        return;
    }
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const ck_q8_window t = ck_q8_valid_taps(p, pix);
        const size_t kh_lo = t.kh[0], kh_hi = t.kh[1], kw_lo = t.kw[0], kw_hi = t.kw[1];
        const ptrdiff_t iy0 = t.iy0, ix0 = t.ix0;
        if (C < 8) {
            ck_dw8_pixel(1, 1, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, 0, C);
            continue;
        }
        size_t c = 0;
        for (; c + 32 <= C; c += 32)
            ck_dw8_pixel(4, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        const size_t full = (C - c) / 8;
        if (full == 3) ck_dw8_pixel(3, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        else if (full == 2) ck_dw8_pixel(2, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        else if (full == 1) ck_dw8_pixel(1, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, c, 8);
        if (C % 8) // channels [C - 8, C): overlaps the last full block (C >= 8)
            ck_dw8_pixel(1, 0, p, input, pw, C16, bias, out, output, pix, kh_lo, kh_hi, kw_lo, kw_hi, iy0, ix0, C - 8, 8);
    }
}

#else

void ck_dwconv2d_u8s8_nhwc__avx2(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}

#endif
