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

/// The rows [y0, y1) of output row oy's window that lie in the image (kernel-tap units), and the
/// input row of its tap y0: computed once per output row.
typedef struct {
    size_t y0, y1;
    const uint8_t *row;
} ck_mp_rows;

static inline ck_mp_rows ck_mp_rows_at(const ck_pool2d_params *p, const uint8_t *input, size_t oy) {
    const ck_mp_window w = ck_mp_window_at(p, oy, 0);
    ck_mp_rows r;
    r.y0 = w.y[0];
    r.y1 = w.y[1];
    r.row = input + (size_t)(w.iy0 + (ptrdiff_t)(w.y[0] * p->dilation_h)) * p->in_w * p->channels;
    return r;
}

/// Columns [x0, x1) of output column ox's window inside the image; the full window without the
/// clipping loops for the inner columns. Returns tap x0's input pixel offset (in pixels).
static inline ptrdiff_t ck_mp_columns_at(const ck_pool2d_params *p, size_t ox, size_t *x0, size_t *x1) {
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left, dw = (ptrdiff_t)p->dilation_w;
    *x0 = 0;
    *x1 = p->kernel_w;
    if (ix0 < 0 || ix0 + (ptrdiff_t)(p->kernel_w - 1) * dw >= (ptrdiff_t)p->in_w) {
        while (*x0 < *x1 && ix0 + (ptrdiff_t)*x0 * dw < 0) (*x0)++;
        while (*x1 > *x0 && ix0 + (ptrdiff_t)(*x1 - 1) * dw >= (ptrdiff_t)p->in_w) (*x1)--;
    }
    return ix0 + (ptrdiff_t)*x0 * dw;
}

/// The max over ny x nx taps (rs, cs bytes apart) from t0 of one vector of channels. Called with
/// constant ny, nx for the full 2x2 and 3x3 windows so the taps unroll.
#define CK_MP_DEFINE_MAX(NAME, TARGET, VEC, ZERO, LOAD, MAX, MASK)                                       \
    static inline __attribute__((always_inline, target(TARGET))) VEC NAME(                                \
        const uint8_t *t0, ptrdiff_t rs, ptrdiff_t cs, size_t ny, size_t nx, MASK m) {                   \
        VEC v = ZERO;                                                                                     \
        for (size_t ky = 0; ky < ny; ky++)                                                                \
            for (size_t kx = 0; kx < nx; kx++) v = MAX(v, LOAD(m, t0 + (ptrdiff_t)ky * rs + (ptrdiff_t)kx * cs)); \
        return v;                                                                                         \
    }

#define CK_T512 "avx512f,avx512bw,avx512vl,bmi2"
static inline __attribute__((always_inline, target(CK_T512))) __m128i ck_mp_ld16(__mmask16 m, const uint8_t *q) { return _mm_maskz_loadu_epi8(m, q); }
static inline __attribute__((always_inline, target(CK_T512))) __m256i ck_mp_ld32(__mmask32 m, const uint8_t *q) { return _mm256_maskz_loadu_epi8(m, q); }
static inline __attribute__((always_inline, target(CK_T512))) __m512i ck_mp_ld64(__mmask64 m, const uint8_t *q) { return _mm512_maskz_loadu_epi8(m, q); }
CK_MP_DEFINE_MAX(ck_mp_max16, CK_T512, __m128i, _mm_setzero_si128(), ck_mp_ld16, _mm_max_epu8, __mmask16)
CK_MP_DEFINE_MAX(ck_mp_max32, CK_T512, __m256i, _mm256_setzero_si256(), ck_mp_ld32, _mm256_max_epu8, __mmask32)
CK_MP_DEFINE_MAX(ck_mp_max64, CK_T512, __m512i, _mm512_setzero_si512(), ck_mp_ld64, _mm512_max_epu8, __mmask64)

/// One pixel's max over the window, with constant trip counts for the full 2x2 and 3x3 windows.
#define CK_MP_DISPATCH(MAXFN, t0, rs, cs, ny, nx, m)                                               \
    ((ny) == 2 && (nx) == 2 ? MAXFN(t0, rs, cs, 2, 2, m)                                         \
     : (ny) == 3 && (nx) == 3 ? MAXFN(t0, rs, cs, 3, 3, m) : MAXFN(t0, rs, cs, ny, nx, m))

/// Channels in one masked vector of the narrowest width that holds them (16, 32 or 64: on Zen 4 a
/// masked byte load or store of a wider vector costs several times a narrow one), or 64 at a time
/// with a masked last vector. The window's rows are clipped once per output row, its columns only
/// at the borders.
__attribute__((target(CK_T512)))
void ck_maxpool2d_u8_nhwc__avx512(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    const size_t C = p->channels;
    const ptrdiff_t rs = (ptrdiff_t)(p->dilation_h * p->in_w * C), cs = (ptrdiff_t)(p->dilation_w * C);
    for (size_t oy = 0; oy < p->out_h; oy++) {
        const ck_mp_rows rows = ck_mp_rows_at(p, input, oy);
        const size_t ny = rows.y1 - rows.y0;
        uint8_t *orow = output + oy * p->out_w * C;
        for (size_t ox = 0; ox < p->out_w; ox++) {
            size_t x0, x1;
            const ptrdiff_t ix = ck_mp_columns_at(p, ox, &x0, &x1);
            const size_t nx = x1 - x0;
            uint8_t *o = orow + ox * C;
            // A window entirely in the padding reads nothing (ny or nx 0) and gives 0.
            const uint8_t *t0 = ny && nx ? rows.row + ix * (ptrdiff_t)C : input;
            if (C <= 16) {
                const __mmask16 m = (__mmask16)_bzhi_u32(~0u, (unsigned)C);
                _mm_mask_storeu_epi8(o, m, CK_MP_DISPATCH(ck_mp_max16, t0, rs, cs, ny, nx, m));
            } else if (C <= 32) {
                const __mmask32 m = (__mmask32)_bzhi_u32(~0u, (unsigned)C);
                _mm256_mask_storeu_epi8(o, m, CK_MP_DISPATCH(ck_mp_max32, t0, rs, cs, ny, nx, m));
            } else {
                for (size_t c = 0; c < C; c += 64) {
                    const __mmask64 m = C - c >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ULL, (unsigned)(C - c));
                    _mm512_mask_storeu_epi8(o + c, m, CK_MP_DISPATCH(ck_mp_max64, t0 + c, rs, cs, ny, nx, m));
                }
            }
        }
    }
}

#define CK_T2 "avx2"
static inline __attribute__((always_inline, target(CK_T2))) __m256i ck_mp_u32(int m, const uint8_t *q) { (void)m; return _mm256_loadu_si256((const __m256i *)q); }
static inline __attribute__((always_inline, target(CK_T2))) __m128i ck_mp_u16(int m, const uint8_t *q) { (void)m; return _mm_loadu_si128((const __m128i *)q); }
static inline __attribute__((always_inline, target(CK_T2))) __m128i ck_mp_u8(int m, const uint8_t *q) { (void)m; return _mm_loadl_epi64((const __m128i *)q); }
CK_MP_DEFINE_MAX(ck_mp_umax32, CK_T2, __m256i, _mm256_setzero_si256(), ck_mp_u32, _mm256_max_epu8, int)
CK_MP_DEFINE_MAX(ck_mp_umax16, CK_T2, __m128i, _mm_setzero_si128(), ck_mp_u16, _mm_max_epu8, int)
CK_MP_DEFINE_MAX(ck_mp_umax8, CK_T2, __m128i, _mm_setzero_si128(), ck_mp_u8, _mm_max_epu8, int)

/// Channels in vectors of 32; the last C % 32 channels (C >= 8) as whole vectors ending at C
/// that overlap channels already done (max is idempotent, so those are rewritten with the same
/// values): 32 wide when C >= 32, else two 16-wide (16 <= C < 32) or two 8-wide (8 <= C < 16)
/// vectors; only C < 8 is scalar. Rows clipped once per output row, columns at the borders.
__attribute__((target(CK_T2)))
void ck_maxpool2d_u8_nhwc__avx2(const ck_pool2d_params *p, const uint8_t *input, uint8_t *output) {
    const size_t C = p->channels, C32 = C & ~(size_t)31;
    const ptrdiff_t rs = (ptrdiff_t)(p->dilation_h * p->in_w * C), cs = (ptrdiff_t)(p->dilation_w * C);
    for (size_t oy = 0; oy < p->out_h; oy++) {
        const ck_mp_rows rows = ck_mp_rows_at(p, input, oy);
        const size_t ny = rows.y1 - rows.y0;
        uint8_t *orow = output + oy * p->out_w * C;
        for (size_t ox = 0; ox < p->out_w; ox++) {
            size_t x0, x1;
            const ptrdiff_t ix = ck_mp_columns_at(p, ox, &x0, &x1);
            const size_t nx = x1 - x0;
            uint8_t *o = orow + ox * C;
            const uint8_t *t0 = ny && nx ? rows.row + ix * (ptrdiff_t)C : input;
            for (size_t c = 0; c < C32; c += 32)
                _mm256_storeu_si256((__m256i *)(o + c), CK_MP_DISPATCH(ck_mp_umax32, t0 + c, rs, cs, ny, nx, 0));
            if (C32 == C) continue;
            if (C >= 32) {
                const size_t c = C - 32;
                _mm256_storeu_si256((__m256i *)(o + c), CK_MP_DISPATCH(ck_mp_umax32, t0 + c, rs, cs, ny, nx, 0));
            } else if (C >= 16) {
                _mm_storeu_si128((__m128i *)o, CK_MP_DISPATCH(ck_mp_umax16, t0, rs, cs, ny, nx, 0));
                _mm_storeu_si128((__m128i *)(o + C - 16), CK_MP_DISPATCH(ck_mp_umax16, t0 + C - 16, rs, cs, ny, nx, 0));
            } else if (C >= 8) {
                _mm_storel_epi64((__m128i *)o, CK_MP_DISPATCH(ck_mp_umax8, t0, rs, cs, ny, nx, 0));
                _mm_storel_epi64((__m128i *)(o + C - 8), CK_MP_DISPATCH(ck_mp_umax8, t0 + C - 8, rs, cs, ny, nx, 0));
            } else {
                for (size_t c = 0; c < C; c++) o[c] = 0;
                for (size_t ky = 0; ky < ny; ky++)
                    for (size_t kx = 0; kx < nx; kx++) {
                        const uint8_t *t = t0 + (ptrdiff_t)ky * rs + (ptrdiff_t)kx * cs;
                        for (size_t c = 0; c < C; c++) o[c] = t[c] > o[c] ? t[c] : o[c];
                    }
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
