// FP32 depthwise conv2d, AVX-512: vectorized over 16 channels per zmm. For each output-row
// segment and channel block the 3x3 / 5x5 weights stay in registers while the kernel sweeps the
// output pixels; interior pixels skip the bounds checks. Other kernel sizes use a generic path.
#include "ck_fp32.h"
#include "dwconv2d_f32_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx2")))
#define CK_INLINE static inline __attribute__((always_inline))

/// Generic tap loop for output pixel ox: only in-image taps, weights read from memory.
CK_INLINE CK_T512 __m512 ck_dw_pixel_any(const float *in_c, const float *w_c, size_t C16, size_t KW,
    size_t kh_lo, size_t kh_hi, ptrdiff_t iy0, ptrdiff_t ix0, ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t in_w,
    ptrdiff_t ips, __mmask16 m, __m512 acc) {
    // Valid kernel columns [kw_lo, kw_hi).
    size_t kw_lo = 0, kw_hi = KW;
    while (kw_lo < KW && ix0 + (ptrdiff_t)kw_lo * dw < 0) kw_lo++;
    while (kw_hi > kw_lo && ix0 + (ptrdiff_t)(kw_hi - 1) * dw >= in_w) kw_hi--;
    __m512 acc1 = _mm512_setzero_ps();
    for (size_t kh = kh_lo; kh < kh_hi; kh++) {
        const float *rp = in_c + ((iy0 + (ptrdiff_t)kh * dh) * in_w + ix0) * ips;
        const float *wp = w_c + kh * KW * C16;
        size_t kw = kw_lo;
        for (; kw + 2 <= kw_hi; kw += 2) {
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, rp + (ptrdiff_t)kw * dw * ips), _mm512_loadu_ps(wp + kw * C16), acc);
            acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, rp + (ptrdiff_t)(kw + 1) * dw * ips),
                _mm512_loadu_ps(wp + (kw + 1) * C16), acc1);
        }
        if (kw < kw_hi)
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, rp + (ptrdiff_t)kw * dw * ips), _mm512_loadu_ps(wp + kw * C16), acc);
    }
    return _mm512_add_ps(acc, acc1);
}

/// One output-row segment [ox0, ox1) of row oy. KH_/KW_ > 0: compile-time kernel size whose
/// weights stay in registers for pixels with all taps inside the image; 0: runtime kernel size.
CK_INLINE CK_T512 void ck_dw_segment512(const int KH_, const int KW_, const ck_conv2d_f32_params *p,
    const float *input, const float *packed, const float *bias, const float *residual, float *output,
    size_t oy, size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    const size_t C = p->groups, C16 = ck_dw_cpad(C);
    const size_t KH = KH_ ? (size_t)KH_ : p->kernel_h, KW = KW_ ? (size_t)KW_ : p->kernel_w;
    const ptrdiff_t ips = (ptrdiff_t)p->in_pixel_stride, in_w = (ptrdiff_t)p->in_w;
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
    const ptrdiff_t dh = (ptrdiff_t)p->dilation_h, dw = (ptrdiff_t)p->dilation_w, sw = (ptrdiff_t)p->stride_w;
    const ptrdiff_t pl = (ptrdiff_t)p->pad_left;
    // Valid kernel rows [kh_lo, kh_hi).
    size_t kh_lo = 0, kh_hi = KH;
    while (kh_lo < KH && iy0 + (ptrdiff_t)kh_lo * dh < 0) kh_lo++;
    while (kh_hi > kh_lo && iy0 + (ptrdiff_t)(kh_hi - 1) * dh >= (ptrdiff_t)p->in_h) kh_hi--;
    // Pixels [fast_lo, fast_hi) have every tap inside the image.
    size_t fast_lo = ox0, fast_hi = ox0;
    if (KH_ && KW_ && kh_lo == 0 && kh_hi == KH) {
        fast_lo = ilo > ox0 ? ilo : ox0;
        if (fast_lo > ox1) fast_lo = ox1;
        fast_hi = ihi < ox1 ? ihi : ox1;
        if (fast_hi < fast_lo) fast_hi = fast_lo;
    }
    const __m512 lo = _mm512_set1_ps(p->act_min), hi = _mm512_set1_ps(p->act_max);
    const size_t ops = p->out_pixel_stride;
    const size_t pix0 = oy * p->out_w;
    const ptrdiff_t row_step = dh * in_w * ips, col_step = dw * ips;
    for (size_t c = 0; c < C; c += 16) {
        const __mmask16 m = (C - c) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1u);
        const __m512 vb = bias ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps();
        const float *in_c = input + c;
        const float *w_c = packed + c;
        float *out_c = output + pix0 * ops + c;
        const float *res_c = residual ? residual + pix0 * ops + c : NULL;
        size_t ox = ox0;
        for (; ox < fast_lo; ox++) {
            __m512 v = ck_dw_pixel_any(in_c, w_c, C16, KW, kh_lo, kh_hi, iy0, (ptrdiff_t)ox * sw - pl, dh, dw,
                in_w, ips, m, vb);
            if (res_c) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res_c + ox * ops));
            _mm512_mask_storeu_ps(out_c + ox * ops, m, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
        }
        if (KH_ && KW_ && ox < fast_hi) {
            __m512 wr[KH_ && KW_ ? KH_ * KW_ : 1];
#pragma GCC unroll 32
            for (int t = 0; t < KH_ * KW_; t++) wr[t] = _mm512_loadu_ps(w_c + (size_t)t * C16);
            const float *px = in_c + (iy0 * in_w + (ptrdiff_t)ox * sw - pl) * ips;
            if (KH_ == 3 && KW_ == 3 && sw == 1 && dw == 1 && m == (__mmask16)0xFFFF && fast_hi - ox >= 2) {
                // Stride 1, whole channel block: the 3x3 input window slides one column per pixel,
                // so each pixel loads one new input column (3 vectors) instead of 9. Same taps,
                // same accumulation order as the loop below (acc0: even taps, acc1: odd taps).
                __m512 x[3][3];  // [column slot][kernel row]
#pragma GCC unroll 3
                for (int kw = 0; kw < 2; kw++)
#pragma GCC unroll 3
                    for (int kh = 0; kh < 3; kh++) x[kw][kh] = _mm512_loadu_ps(px + kh * row_step + kw * col_step);
                for (; ox < fast_hi; ox++, px += ips) {
#pragma GCC unroll 3
                    for (int kh = 0; kh < 3; kh++) x[2][kh] = _mm512_loadu_ps(px + kh * row_step + 2 * col_step);
                    __m512 acc0 = vb, acc1 = _mm512_setzero_ps();
#pragma GCC unroll 3
                    for (int kh = 0; kh < 3; kh++) {
#pragma GCC unroll 3
                        for (int kw = 0; kw < 3; kw++) {
                            if ((kh * 3 + kw) & 1) acc1 = _mm512_fmadd_ps(x[kw][kh], wr[kh * 3 + kw], acc1);
                            else acc0 = _mm512_fmadd_ps(x[kw][kh], wr[kh * 3 + kw], acc0);
                        }
                    }
                    __m512 v = _mm512_add_ps(acc0, acc1);
                    if (res_c) v = _mm512_add_ps(v, _mm512_loadu_ps(res_c + ox * ops));
                    _mm512_storeu_ps(out_c + ox * ops, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
#pragma GCC unroll 3
                    for (int kh = 0; kh < 3; kh++) {
                        x[0][kh] = x[1][kh];
                        x[1][kh] = x[2][kh];
                    }
                }
            }
            for (; ox < fast_hi; ox++, px += sw * ips) {
                __m512 acc0 = vb, acc1 = _mm512_setzero_ps();
#pragma GCC unroll 8
                for (int kh = 0; kh < KH_; kh++) {
#pragma GCC unroll 8
                    for (int kw = 0; kw < KW_; kw++) {
                        const __m512 x = _mm512_maskz_loadu_ps(m, px + kh * row_step + kw * col_step);
                        if ((kh * KW_ + kw) & 1) acc1 = _mm512_fmadd_ps(x, wr[kh * KW_ + kw], acc1);
                        else acc0 = _mm512_fmadd_ps(x, wr[kh * KW_ + kw], acc0);
                    }
                }
                __m512 v = _mm512_add_ps(acc0, acc1);
                if (res_c) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res_c + ox * ops));
                _mm512_mask_storeu_ps(out_c + ox * ops, m, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
            }
        }
        for (; ox < ox1; ox++) {
            __m512 v = ck_dw_pixel_any(in_c, w_c, C16, KW, kh_lo, kh_hi, iy0, (ptrdiff_t)ox * sw - pl, dh, dw,
                in_w, ips, m, vb);
            if (res_c) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res_c + ox * ops));
            _mm512_mask_storeu_ps(out_c + ox * ops, m, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
        }
    }
}

static CK_T512 void ck_dw_seg_3x3(const ck_conv2d_f32_params *p, const float *input, const float *packed,
    const float *bias, const float *residual, float *output, size_t oy, size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    ck_dw_segment512(3, 3, p, input, packed, bias, residual, output, oy, ox0, ox1, ilo, ihi);
}
static CK_T512 void ck_dw_seg_5x5(const ck_conv2d_f32_params *p, const float *input, const float *packed,
    const float *bias, const float *residual, float *output, size_t oy, size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    ck_dw_segment512(5, 5, p, input, packed, bias, residual, output, oy, ox0, ox1, ilo, ihi);
}
static CK_T512 void ck_dw_seg_any(const ck_conv2d_f32_params *p, const float *input, const float *packed,
    const float *bias, const float *residual, float *output, size_t oy, size_t ox0, size_t ox1, size_t ilo, size_t ihi) {
    ck_dw_segment512(0, 0, p, input, packed, bias, residual, output, oy, ox0, ox1, ilo, ihi);
}

CK_T512 void ck_dwconv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end) {
    if (p->out_w == 0) return;
    size_t ilo, ihi;
    ck_dw_interior(p, &ilo, &ihi);
    void (*seg)(const ck_conv2d_f32_params *, const float *, const float *, const float *, const float *,
        float *, size_t, size_t, size_t, size_t, size_t) = ck_dw_seg_any;
    if (p->kernel_h == 3 && p->kernel_w == 3) seg = ck_dw_seg_3x3;
    else if (p->kernel_h == 5 && p->kernel_w == 5) seg = ck_dw_seg_5x5;
    for (size_t pix = pixel_begin; pix < pixel_end;) {
        size_t oy, ox0, ox1;
        ck_row_segment(p->out_w, pix, pixel_end, &oy, &ox0, &ox1);
        seg(p, input, packed_weights, bias, residual, output, oy, ox0, ox1, ilo, ihi);
        pix += ox1 - ox0;
    }
}

#else

void ck_dwconv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_f32_nhwc__scalar(p, input, packed_weights, bias, residual, output, pixel_begin, pixel_end);
}

#endif
