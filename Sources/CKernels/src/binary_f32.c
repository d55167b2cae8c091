// Broadcasting element-wise FP32 arithmetic over one row: binary ops (Add, Sub, Mul, Div, Max,
// Min, PRelu), the per-channel affine of a standalone BatchNormalization and the Relu/Clip clamp.
// Scalar twins first; they are the specification. Each SIMD lane does the same single IEEE
// operations in the same order (no contraction to FMA), so every path gives the same bits.
#include <math.h>
#include "ck_fp32.h"

#pragma STDC FP_CONTRACT OFF

/// The canonical quiet NaN (0x7FC00000) that Max and Min return when an operand is NaN.
static inline float ck_qnan(void) { return __builtin_nanf(""); }

static inline float ck_binary1(int op, float a, float b) {
    switch (op) {
    case CK_BINARY_ADD: return a + b;
    case CK_BINARY_SUB: return a - b;
    case CK_BINARY_MUL: return a * b;
    case CK_BINARY_DIV: return a / b;
    case CK_BINARY_MAX: return (a != a || b != b) ? ck_qnan() : (b >= a ? b : a);
    case CK_BINARY_MIN: return (a != a || b != b) ? ck_qnan() : (b < a ? b : a);
    case CK_BINARY_PRELU: return a < 0.0f ? a * b : a;
    default: return ck_qnan();
    }
}

void ck_binary_f32__scalar(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa, const float *b, size_t rb,
    size_t sb, float *y) {
    for (size_t r = 0; r < rows; r++, a += ra, b += rb, y += n)
        for (size_t i = 0; i < n; i++) y[i] = ck_binary1(op, a[i * sa], b[i * sb]);
}

static inline float ck_affine1(float x, float s, float t) {
    const float m = x * s;
    return m + t;
}

void ck_affine_f32__scalar(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ck_affine1(x[i], scale[i * ss], shift[i * st]);
}

/// max(lo, x) then min(hi, ·), each returning x when it is NaN (as max_ps/min_ps with x second).
static inline float ck_clamp1(float x, float lo, float hi) {
    const float t = lo > x ? lo : x;
    return hi < t ? hi : t;
}

void ck_clamp_f32__scalar(size_t n, const float *x, float lo, float hi, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ck_clamp1(x[i], lo, hi);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_T2 __attribute__((target("avx2,fma")))
#define CK_T512 __attribute__((target("avx512f,avx512dq,avx2,fma")))

// ---- AVX2 ----

static inline CK_T2 __m256 ck_binary8(int op, __m256 a, __m256 b) {
    switch (op) {
    case CK_BINARY_ADD: return _mm256_add_ps(a, b);
    case CK_BINARY_SUB: return _mm256_sub_ps(a, b);
    case CK_BINARY_MUL: return _mm256_mul_ps(a, b);
    case CK_BINARY_DIV: return _mm256_div_ps(a, b);
    case CK_BINARY_MAX: {
        // max_ps(a, b) = a > b ? a : b, which is `b >= a ? b : a` for ordered operands.
        const __m256 nan = _mm256_cmp_ps(a, b, _CMP_UNORD_Q);
        return _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_set1_ps(ck_qnan()), nan);
    }
    case CK_BINARY_MIN: {
        // min_ps(b, a) = b < a ? b : a.
        const __m256 nan = _mm256_cmp_ps(a, b, _CMP_UNORD_Q);
        return _mm256_blendv_ps(_mm256_min_ps(b, a), _mm256_set1_ps(ck_qnan()), nan);
    }
    case CK_BINARY_PRELU: {
        const __m256 neg = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(a, _mm256_mul_ps(a, b), neg);
    }
    default: return _mm256_set1_ps(ck_qnan());
    }
}

/// One loop per broadcast pattern so that `op` and the strides are constants inside it.
/// The rest of a row on AVX-512 (the remainder, or a whole row of two broadcasts): masked vectors
/// (lanes past n are computed on zeros and never stored). AVX2 leaves it to the scalar loop.
#define CK_TAIL_NONE(OPV)
#define CK_TAIL_512(OPV)                                                                           \
        while (i < n && sa <= 1 && sb <= 1) {                                                      \
            const size_t left = n - i;                                                             \
            const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);   \
            const __m512 av = sa ? _mm512_maskz_loadu_ps(m, a + i) : _mm512_set1_ps(a[0]);         \
            const __m512 bv = sb ? _mm512_maskz_loadu_ps(m, b + i) : _mm512_set1_ps(b[0]);         \
            _mm512_mask_storeu_ps(y + i, m, OPV(op, av, bv));                                      \
            i += left >= 16 ? 16 : left;                                                           \
        }

#define CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, SCALAR, TAIL)                                       \
    do {                                                                                           \
        size_t i = 0;                                                                              \
        if (sa == 1 && sb == 1) {                                                                  \
            for (; i + W <= n; i += W) STORE(y + i, OPV(op, LOAD(a + i), LOAD(b + i)));            \
        } else if (sa == 1 && sb == 0) {                                                           \
            const __typeof__(SET1(0.0f)) vb = SET1(b[0]);                                          \
            for (; i + W <= n; i += W) STORE(y + i, OPV(op, LOAD(a + i), vb));                     \
        } else if (sa == 0 && sb == 1) {                                                           \
            const __typeof__(SET1(0.0f)) va = SET1(a[0]);                                          \
            for (; i + W <= n; i += W) STORE(y + i, OPV(op, va, LOAD(b + i)));                     \
        }                                                                                          \
        TAIL(OPV)                                                                                  \
        for (; i < n; i++) y[i] = SCALAR(op, a[i * sa], b[i * sb]);                                \
    } while (0)

#define CK_BINARY_BODY(W, LOAD, SET1, STORE, OPV, TAIL)                                            \
    for (size_t r = 0; r < rows; r++, a += ra, b += rb, y += n)                                    \
    switch (op) {                                                                                  \
    case CK_BINARY_ADD: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_SUB: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_MUL: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_DIV: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_MAX: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_MIN: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;                 \
    case CK_BINARY_PRELU: CK_ROW_LOOP(W, LOAD, SET1, STORE, OPV, ck_binary1, TAIL); break;               \
    default: ck_binary_f32__scalar(op, 1, n, a, 0, sa, b, 0, sb, y); break;                        \
    }

CK_T2 void ck_binary_f32__avx2(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa,
    const float *b, size_t rb, size_t sb, float *y) {
    CK_BINARY_BODY(8, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps, ck_binary8, CK_TAIL_NONE)
}

static inline CK_T2 __m256 ck_affine8(__m256 x, __m256 s, __m256 t) { return _mm256_add_ps(_mm256_mul_ps(x, s), t); }

CK_T2 void ck_affine_f32__avx2(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y) {
    size_t i = 0;
    if (ss == 1 && st == 1) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, ck_affine8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(scale + i), _mm256_loadu_ps(shift + i)));
    } else if (ss == 0 && st == 0) {
        const __m256 s = _mm256_set1_ps(scale[0]), t = _mm256_set1_ps(shift[0]);
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, ck_affine8(_mm256_loadu_ps(x + i), s, t));
    }
    for (; i < n; i++) y[i] = ck_affine1(x[i], scale[i * ss], shift[i * st]);
}

CK_T2 void ck_clamp_f32__avx2(size_t n, const float *x, float lo, float hi, float *y) {
    const __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_min_ps(h, _mm256_max_ps(l, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] = ck_clamp1(x[i], lo, hi);
}

// ---- AVX-512 ----

static inline CK_T512 __m512 ck_binary16(int op, __m512 a, __m512 b) {
    switch (op) {
    case CK_BINARY_ADD: return _mm512_add_ps(a, b);
    case CK_BINARY_SUB: return _mm512_sub_ps(a, b);
    case CK_BINARY_MUL: return _mm512_mul_ps(a, b);
    case CK_BINARY_DIV: return _mm512_div_ps(a, b);
    case CK_BINARY_MAX: {
        const __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
        return _mm512_mask_blend_ps(nan, _mm512_max_ps(a, b), _mm512_set1_ps(ck_qnan()));
    }
    case CK_BINARY_MIN: {
        const __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q);
        return _mm512_mask_blend_ps(nan, _mm512_min_ps(b, a), _mm512_set1_ps(ck_qnan()));
    }
    case CK_BINARY_PRELU: {
        const __mmask16 neg = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(a, neg, a, b);
    }
    default: return _mm512_set1_ps(ck_qnan());
    }
}

CK_T512 void ck_binary_f32__avx512(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa,
    const float *b, size_t rb, size_t sb, float *y) {
    CK_BINARY_BODY(16, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps, ck_binary16, CK_TAIL_512)
}

static inline CK_T512 __m512 ck_affine16(__m512 x, __m512 s, __m512 t) { return _mm512_add_ps(_mm512_mul_ps(x, s), t); }

CK_T512 void ck_affine_f32__avx512(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y) {
    size_t i = 0;
    if (ss == 1 && st == 1) {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(y + i, ck_affine16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(scale + i), _mm512_loadu_ps(shift + i)));
    } else if (ss == 0 && st == 0) {
        const __m512 s = _mm512_set1_ps(scale[0]), t = _mm512_set1_ps(shift[0]);
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, ck_affine16(_mm512_loadu_ps(x + i), s, t));
    }
    if (i < n && ss == st && ss <= 1) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        const __m512 s = ss ? _mm512_maskz_loadu_ps(m, scale + i) : _mm512_set1_ps(scale[0]);
        const __m512 t = st ? _mm512_maskz_loadu_ps(m, shift + i) : _mm512_set1_ps(shift[0]);
        _mm512_mask_storeu_ps(y + i, m, ck_affine16(_mm512_maskz_loadu_ps(m, x + i), s, t));
        i = n;
    }
    for (; i < n; i++) y[i] = ck_affine1(x[i], scale[i * ss], shift[i * st]);
}

CK_T512 void ck_clamp_f32__avx512(size_t n, const float *x, float lo, float hi, float *y) {
    const __m512 l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_min_ps(h, _mm512_max_ps(l, _mm512_loadu_ps(x + i))));
    for (; i < n; i++) y[i] = ck_clamp1(x[i], lo, hi);
}

#else
void ck_binary_f32__avx2(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa, const float *b, size_t rb, size_t sb, float *y) { ck_binary_f32__scalar(op, rows, n, a, ra, sa, b, rb, sb, y); }
void ck_binary_f32__avx512(int op, size_t rows, size_t n, const float *a, size_t ra, size_t sa, const float *b, size_t rb, size_t sb, float *y) { ck_binary_f32__scalar(op, rows, n, a, ra, sa, b, rb, sb, y); }
void ck_affine_f32__avx2(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y) { ck_affine_f32__scalar(n, x, scale, ss, shift, st, y); }
void ck_affine_f32__avx512(size_t n, const float *x, const float *scale, size_t ss, const float *shift, size_t st, float *y) { ck_affine_f32__scalar(n, x, scale, ss, shift, st, y); }
void ck_clamp_f32__avx2(size_t n, const float *x, float lo, float hi, float *y) { ck_clamp_f32__scalar(n, x, lo, hi, y); }
void ck_clamp_f32__avx512(size_t n, const float *x, float lo, float hi, float *y) { ck_clamp_f32__scalar(n, x, lo, hi, y); }
#endif
