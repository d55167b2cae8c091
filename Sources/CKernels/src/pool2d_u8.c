// Max pooling of u8 codes (NHWC). Scalar twin, and AVX-512 / AVX2 variants that take the max of
// 64 / 32 channels per instruction; the taps of a window are the valid ones of ck_pool2d_params
// (padding never wins, a window entirely in the padding gives 0).
#include "ck_int8.h"

/// The window of output pixel (oy, ox) clipped to the image: rows [y[0], y[1]), columns [x[0], x[1])
/// in kernel-tap units, and the input position of tap (0, 0).
typedef struct {
    ptrdiff_t iy0, ix0;
    size_t y[2], x[2];
} ck_mp_window;

static inline ck_mp_window ck_mp_window_at(const ck_pool2d_params *p, size_t oy, size_t ox) {
    ck_mp_window w;
    const ptrdiff_t dh = (ptrdiff_t)p->dilation_h, dw = (ptrdiff_t)p->dilation_w;
    w.iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
    w.ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
    size_t y0 = 0, y1 = p->kernel_h, x0 = 0, x1 = p->kernel_w;
    while (y0 < y1 && w.iy0 + (ptrdiff_t)y0 * dh < 0) y0++;
    while (y1 > y0 && w.iy0 + (ptrdiff_t)(y1 - 1) * dh >= (ptrdiff_t)p->in_h) y1--;
    while (x0 < x1 && w.ix0 + (ptrdiff_t)x0 * dw < 0) x0++;
    while (x1 > x0 && w.ix0 + (ptrdiff_t)(x1 - 1) * dw >= (ptrdiff_t)p->in_w) x1--;
    w.y[0] = y0; w.y[1] = y1; w.x[0] = x0; w.x[1] = x1;
    return w;
}

static inline const uint8_t *ck_mp_tap(const ck_pool2d_params *p, const uint8_t *input, const ck_mp_window *w, size_t ky, size_t kx) {
    const size_t iy = (size_t)(w->iy0 + (ptrdiff_t)(ky * p->dilation_h)), ix = (size_t)(w->ix0 + (ptrdiff_t)(kx * p->dilation_w));
    return input + (iy * p->in_w + ix) * p->channels;
}

void ck_maxpool2d_u8_nhwc__scalar(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    const size_t C = p->channels;
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const ck_mp_window w = ck_mp_window_at(p, oy, ox);
            uint8_t *o = output + (oy * p->out_w + ox) * C;
            for (size_t c = 0; c < C; c++) o[c] = 0;
            for (size_t ky = w.y[0]; ky < w.y[1]; ky++)
                for (size_t kx = w.x[0]; kx < w.x[1]; kx++) {
                    const uint8_t *t = ck_mp_tap(p, input, &w, ky, kx);
                    for (size_t c = 0; c < C; c++) o[c] = t[c] > o[c] ? t[c] : o[c];
                }
        }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,bmi2")))
void ck_maxpool2d_u8_nhwc__avx512(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    const size_t C = p->channels;
    const ptrdiff_t row_step = (ptrdiff_t)(p->dilation_h * p->in_w * C), col_step = (ptrdiff_t)(p->dilation_w * C);
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const ck_mp_window w = ck_mp_window_at(p, oy, ox);
            uint8_t *o = output + (oy * p->out_w + ox) * C;
            const size_t ny = w.y[1] - w.y[0], nx = w.x[1] - w.x[0];
            const uint8_t *t0 = ny && nx ? ck_mp_tap(p, input, &w, w.y[0], w.x[0]) : input;
            for (size_t c = 0; c < C; c += 64) {
                const int full = C - c >= 64;
                const __mmask64 m = full ? ~(__mmask64)0 : _bzhi_u64(~0ULL, (unsigned)(C - c));
                __m512i v = _mm512_setzero_si512();
                const uint8_t *r = t0 + c;
                for (size_t ky = 0; ky < ny; ky++, r += row_step)
                    for (size_t kx = 0; kx < nx; kx++)
                        v = _mm512_max_epu8(v, full ? _mm512_loadu_si512(r + (ptrdiff_t)kx * col_step)
                                                    : _mm512_maskz_loadu_epi8(m, r + (ptrdiff_t)kx * col_step));
                if (full) _mm512_storeu_si512(o + c, v);
                else _mm512_mask_storeu_epi8(o + c, m, v);
            }
        }
}

/// The max over the window (ny rows from t0, row_step apart, of nx taps col_step apart) of the
/// W (32, 16 or 8) channels at offset c of every tap.
#define CK_MP_WINDOW_MAX(VEC, ZERO, LOAD, MAX)                                                   \
    VEC v = ZERO;                                                                                \
    {                                                                                            \
        const uint8_t *r = t0 + c;                                                               \
        for (size_t ky = 0; ky < ny; ky++, r += row_step)                                        \
            for (size_t kx = 0; kx < nx; kx++) v = MAX(v, LOAD(r + (ptrdiff_t)kx * col_step));   \
    }

__attribute__((target("avx2"))) static inline __m256i ck_mp_load32(const uint8_t *q) { return _mm256_loadu_si256((const __m256i *)q); }
__attribute__((target("avx2"))) static inline __m128i ck_mp_load16(const uint8_t *q) { return _mm_loadu_si128((const __m128i *)q); }
__attribute__((target("avx2"))) static inline __m128i ck_mp_load8(const uint8_t *q) { return _mm_loadl_epi64((const __m128i *)q); }

/// Channels in vectors of 32; the last C % 32 channels (C >= 8) as whole vectors ending at C
/// that overlap channels already done (max is idempotent, so those are rewritten with the same
/// values): 32 wide when C >= 32, else two 16-wide (16 <= C < 32) or two 8-wide (8 <= C < 16)
/// vectors; only C < 8 is scalar.
__attribute__((target("avx2")))
void ck_maxpool2d_u8_nhwc__avx2(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    const size_t C = p->channels, C32 = C & ~(size_t)31;
    const ptrdiff_t row_step = (ptrdiff_t)(p->dilation_h * p->in_w * C), col_step = (ptrdiff_t)(p->dilation_w * C);
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            const ck_mp_window w = ck_mp_window_at(p, oy, ox);
            uint8_t *o = output + (oy * p->out_w + ox) * C;
            const size_t ny = w.y[1] - w.y[0], nx = w.x[1] - w.x[0];
            const uint8_t *t0 = ny && nx ? ck_mp_tap(p, input, &w, w.y[0], w.x[0]) : input;
            for (size_t c = 0; c < C32; c += 32) {
                CK_MP_WINDOW_MAX(__m256i, _mm256_setzero_si256(), ck_mp_load32, _mm256_max_epu8)
                _mm256_storeu_si256((__m256i *)(o + c), v);
            }
            if (C32 == C) continue;
            if (C >= 32) {
                const size_t c = C - 32;
                CK_MP_WINDOW_MAX(__m256i, _mm256_setzero_si256(), ck_mp_load32, _mm256_max_epu8)
                _mm256_storeu_si256((__m256i *)(o + c), v);
                continue;
            }
            size_t done = 0;   // channels [0, done) written
            if (C >= 16) {
                for (size_t c = 0;; c = C - 16) {
                    CK_MP_WINDOW_MAX(__m128i, _mm_setzero_si128(), ck_mp_load16, _mm_max_epu8)
                    _mm_storeu_si128((__m128i *)(o + c), v);
                    if (c == C - 16) break;
                }
                done = C;
            } else if (C >= 8) {
                for (size_t c = 0;; c = C - 8) {
                    CK_MP_WINDOW_MAX(__m128i, _mm_setzero_si128(), ck_mp_load8, _mm_max_epu8)
                    _mm_storel_epi64((__m128i *)(o + c), v);
                    if (c == C - 8) break;
                }
                done = C;
            }
            if (done < C) {
                for (size_t c = done; c < C; c++) o[c] = 0;
                for (size_t ky = w.y[0]; ky < w.y[1]; ky++)
                    for (size_t kx = w.x[0]; kx < w.x[1]; kx++) {
                        const uint8_t *t = ck_mp_tap(p, input, &w, ky, kx);
                        for (size_t c = done; c < C; c++) o[c] = t[c] > o[c] ? t[c] : o[c];
                    }
            }
        }
}

#else
void ck_maxpool2d_u8_nhwc__avx512(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    ck_maxpool2d_u8_nhwc__scalar(p, input, output);
}
void ck_maxpool2d_u8_nhwc__avx2(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    ck_maxpool2d_u8_nhwc__scalar(p, input, output);
}
#endif
