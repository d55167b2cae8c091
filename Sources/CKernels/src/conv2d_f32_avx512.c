// FP32 conv2d as GEMM, AVX-512. Output pixels of a call are split into balanced row blocks of
// <= 14 rows; a macro-block of row blocks has its im2col rows gathered into scratch (one
// K-block at a time, K-chunked, see conv2d_f32_internal.h), then for each 32-channel weight
// panel a 14x32 register-blocked microkernel (28 zmm accumulators, broadcast A, 2 zmm of packed
// B per k) runs over every row block of the macro-block, so each chunk of weights is fetched
// from memory once per call and reused from L1/L2 (with an L2 prefetch of the next chunk).
// When K is split, partial sums go through scratch tiles; the last K-block applies the fused
// epilogue (bias, residual, clamp, masked store). Row-count remainders use exact 1..13-row
// kernels; narrow tail panels (8/16/24) their own.
#include "ck_fp32.h"
#include "conv2d_f32_internal.h"
#include "conv_rows_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx2")))
#define CK_INLINE static inline __attribute__((always_inline))
#ifndef CK_PF
#define CK_PF 1
#endif

typedef struct {
    const float *bias;     // NULL or bias of column 0 of the panel
    const float *residual; // NULL or residual of (row 0, column 0)
    float *out;            // output of (row 0, column 0)
    size_t stride;         // out_pixel_stride (also for residual)
    size_t cols;           // valid columns in the panel, 1..32
    float lo, hi;
} ck_conv_epi;

CK_INLINE CK_T512 void ck_copy16(float *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
}

CK_INLINE CK_T512 void ck_zero16(float *dst, size_t n) {
    size_t i = 0;
    const __m512 z = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, z);
    if (i < n) _mm512_mask_storeu_ps(dst + i, (__mmask16)((1u << (n - i)) - 1u), z);
}

/// Writes n floats (src, or zeros if src == NULL) into A row `row` starting at k = kpos.
/// CHUNKED == 0: the caller guarantees K <= CK_CONV_KC (the row is one chunk).
CK_INLINE CK_T512 void ck_put(const int CHUNKED, float *row, size_t kpos, const float *src, size_t n) {
    if (!CHUNKED) {
        if (src) ck_copy16(row + kpos, src, n);
        else ck_zero16(row + kpos, n);
        return;
    }
    while (n > 0) {
        const size_t off = kpos % CK_CONV_KC;
        size_t len = CK_CONV_KC - off;
        if (len > n) len = n;
        float *dst = row + (kpos / CK_CONV_KC) * CK_CONV_ACHUNK + off;
        if (src) {
            ck_copy16(dst, src, len);
            src += len;
        } else {
            ck_zero16(dst, len);
        }
        kpos += len;
        n -= len;
    }
}

/// Writes the part of im2col segment [seg, seg + n) (source src, or zeros if NULL) that falls
/// into the K range [k0, k1) into A row `row` (whose column 0 is k = k0).
CK_INLINE CK_T512 void ck_put_range(const int CHUNKED, float *row, size_t seg, const float *src, size_t n,
    size_t k0, size_t k1) {
    size_t s = seg > k0 ? seg : k0, e = seg + n < k1 ? seg + n : k1;
    if (s >= e) return;
    ck_put(CHUNKED, row, s - k0, src ? src + (s - seg) : NULL, e - s);
}

/// KH kernel rows of <= 16 floats (rs floats apart in the input) into one im2col row: every load
/// first, then the stores, in increasing k (each 16-float store spills into the next row's place).
CK_INLINE CK_T512 void ck_gather_rows(const int KH, float *row, size_t rowlen, const float *src, size_t rs) {
    __m512 v[8];
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; kh++) v[kh] = _mm512_loadu_ps(src + kh * rs);
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; kh++) _mm512_storeu_ps(row + kh * rowlen, v[kh]);
}

/// Gathers columns [k0, k1) of the im2col rows of output pixels [p0, p0 + mr) for group g into A.
CK_INLINE CK_T512 void ck_pack_a_impl(const int CHUNKED, const ck_conv2d_f32_params *p,
    const float *input, size_t g, size_t p0, size_t mr, size_t k0, size_t k1, float *A) {
    const size_t cin = p->cin_per_group, KW = p->kernel_w, KH = p->kernel_h;
    const size_t ips = p->in_pixel_stride;
    const int contiguous = p->dilation_w == 1 && ips == cin;
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w;
    const float *in_g = input + g * cin;
    const size_t rowlen = KW * cin;
    const size_t kh_lo = k0 / rowlen, kh_hi = (k1 + rowlen - 1) / rowlen;
    // One past the last float of the input tensor (strided pixels of groups * cin channels).
    const float *in_end = input + (p->in_h * p->in_w - 1) * ips + p->groups * cin;
    // Short kernel rows (e.g. a 3-channel stem): whole rows copied with full 16-float loads and
    // stores, the spill past a segment rewritten by the next one or landing in the row's slack
    // (CK_CONV_KCS - CK_CONV_KC floats); masked stores are slow on Zen 4.
    const int short_rows = !CHUNKED && contiguous && rowlen <= 16 && KH <= 8 && k0 == 0 && k1 == KH * rowlen;
    size_t oy = p0 / p->out_w, ox = p0 % p->out_w;
    for (size_t i = 0; i < mr; i++) {
        float *row = A + i * CK_CONV_KCS;
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
        const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
        if (short_rows && iy0 >= 0 && iy0 + (ptrdiff_t)((KH - 1) * p->dilation_h) < in_h && ix0 >= 0 &&
            ix0 + (ptrdiff_t)KW <= in_w) {
            const float *src = in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips;
            const size_t rs = p->dilation_h * p->in_w * ips;
            if (src + (KH - 1) * rs + 16 <= in_end) {
                switch (KH) {
                case 3: ck_gather_rows(3, row, rowlen, src, rs); break;
                case 5: ck_gather_rows(5, row, rowlen, src, rs); break;
                case 7: ck_gather_rows(7, row, rowlen, src, rs); break;
                default: ck_gather_rows((int)KH, row, rowlen, src, rs); break;
                }
                if (++ox == p->out_w) { ox = 0; oy++; }
                continue;
            }
        }
        if (KH == 1 && KW == 1) {
            if (iy0 < 0 || iy0 >= in_h || ix0 < 0 || ix0 >= in_w) ck_put(CHUNKED, row, 0, NULL, k1 - k0);
            else ck_put(CHUNKED, row, 0, in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips + k0, k1 - k0);
        } else {
            for (size_t kh = kh_lo; kh < kh_hi; kh++) {
                const size_t kpos = kh * rowlen;
                const ptrdiff_t iy = iy0 + (ptrdiff_t)(kh * p->dilation_h);
                if (iy < 0 || iy >= in_h) {
                    ck_put_range(CHUNKED, row, kpos, NULL, rowlen, k0, k1);
                    continue;
                }
                const float *in_row = in_g + (size_t)iy * p->in_w * ips;
                if (contiguous) {
                    ptrdiff_t lo = -ix0, hi = in_w - ix0;
                    if (lo < 0) lo = 0;
                    if (hi > (ptrdiff_t)KW) hi = (ptrdiff_t)KW;
                    if (hi < lo) hi = lo = (ptrdiff_t)KW;
                    if (lo > 0) ck_put_range(CHUNKED, row, kpos, NULL, (size_t)lo * cin, k0, k1);
                    if (hi > lo)
                        ck_put_range(CHUNKED, row, kpos + (size_t)lo * cin, in_row + (size_t)(ix0 + lo) * cin,
                            (size_t)(hi - lo) * cin, k0, k1);
                    if ((size_t)hi < KW)
                        ck_put_range(CHUNKED, row, kpos + (size_t)hi * cin, NULL, (KW - (size_t)hi) * cin, k0, k1);
                } else {
                    for (size_t kw = 0; kw < KW; kw++) {
                        const ptrdiff_t ix = ix0 + (ptrdiff_t)(kw * p->dilation_w);
                        if (ix < 0 || ix >= in_w) ck_put_range(CHUNKED, row, kpos + kw * cin, NULL, cin, k0, k1);
                        else ck_put_range(CHUNKED, row, kpos + kw * cin, in_row + (size_t)ix * ips, cin, k0, k1);
                    }
                }
            }
        }
        if (++ox == p->out_w) {
            ox = 0;
            oy++;
        }
    }
}

static CK_T512 void ck_pack_a(const ck_conv2d_f32_params *p, const float *input, size_t g,
    size_t p0, size_t mr, size_t k0, size_t k1, float *A) {
    if (k1 - k0 <= CK_CONV_KC) ck_pack_a_impl(0, p, input, g, p0, mr, k0, k1, A);
    else ck_pack_a_impl(1, p, input, g, p0, mr, k0, k1, A);
}

CK_INLINE CK_T512 __m512 ck_clamp(__m512 v, __m512 lo, __m512 hi) {
    return _mm512_min_ps(_mm512_max_ps(v, lo), hi);
}

/// MR x W microkernel over the whole K (W = panel width = ldb: 8, 16, 24 or 32 columns), then
/// the fused epilogue. Columns 0..15 use zmm accumulators (ymm when W == 8); columns 16..23
/// use ymm, 16..31 zmm. Zen4 retires two ymm or one zmm FMA per cycle, so narrow panels
/// waste no FMA throughput.
/// One k step of the microkernel: broadcast A[i][k], FMA with the W weights at b.
#define CK_UKR_STEP()                                                                              \
    do {                                                                                           \
        if (W == 8) {                                                                              \
            const __m256 b0 = _mm256_loadu_ps(b);                                                  \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                  \
                h0[i] = _mm256_fmadd_ps(_mm256_set1_ps(a[i * lda + k]), b0, h0[i]);         \
        } else {                                                                                   \
            const __m512 b0 = _mm512_loadu_ps(b);                                                  \
            const __m512 b1 = W == 32 ? _mm512_loadu_ps(b + 16) : b0;                              \
            const __m256 b1h = W == 24 ? _mm256_loadu_ps(b + 16) : _mm256_setzero_ps();            \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                \
                const __m512 ai = _mm512_set1_ps(a[i * lda + k]);                          \
                c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);                                            \
                if (W == 32) c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);                               \
                if (W == 24) h1[i] = _mm256_fmadd_ps(_mm256_set1_ps(a[i * lda + k]), b1h, h1[i]); \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/// ct: partial-sum tile (row i, column c at ct[i * 32 + c]); flags & CK_LOAD_C: start from
/// the tile instead of zero; flags & CK_STORE_C: store the sums to the tile (no epilogue).
#define CK_LOAD_C 1
#define CK_STORE_C 2
CK_INLINE CK_T512 void ck_ukr(const int MR, const int W, size_t K, const float *A, const ck_q8_reads *r,
    const float *B, float *ct, int flags, const char *pf, size_t pfs, const ck_conv_epi *e) {
    const size_t lda = r->lda;
    __m512 c0[CK_CONV_AROWS], c1[CK_CONV_AROWS];
    __m256 h0[CK_CONV_AROWS], h1[CK_CONV_AROWS];
    if (flags & CK_LOAD_C) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            if (W == 8) h0[i] = _mm256_load_ps(ct + i * CK_CONV_NR);
            else c0[i] = _mm512_load_ps(ct + i * CK_CONV_NR);
            if (W == 24) h1[i] = _mm256_load_ps(ct + i * CK_CONV_NR + 16);
            if (W == 32) c1[i] = _mm512_load_ps(ct + i * CK_CONV_NR + 16);
        }
    } else {
        // The bias (if any) initializes the accumulators (columns >= cols start at zero).
        __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
        if (e->bias) {
            const size_t cols = e->cols;
            const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
            const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u) : 0;
            bias0 = _mm512_maskz_loadu_ps(m0, e->bias);
            if (W > 16) bias1 = _mm512_maskz_loadu_ps(m1, e->bias + 16);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            if (W == 8) h0[i] = _mm512_castps512_ps256(bias0);
            else c0[i] = bias0;
            if (W == 24) h1[i] = _mm512_castps512_ps256(bias1);
            if (W == 32) c1[i] = bias1;
        }
    }
    const float *b = B;
    const float *a = A;
    for (size_t k0 = 0; k0 < K; k0 += r->kc, a += r->achunk) {
        const size_t kc = (K - k0) < r->kc ? (K - k0) : r->kc;
        size_t k = 0;
        // Two copies of the k loop: with one L2 prefetch per step (weights of the next chunk),
        // and without (no load slot spent when there is nothing to prefetch).
        if (pfs)
            for (; k < kc; k++) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += pfs;
                CK_UKR_STEP();
                b += W;
            }
        for (; k < kc; k++) {
            CK_UKR_STEP();
            b += W;
        }
    }
    if (flags & CK_STORE_C) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            if (W == 8) _mm256_store_ps(ct + i * CK_CONV_NR, h0[i]);
            else _mm512_store_ps(ct + i * CK_CONV_NR, c0[i]);
            if (W == 24) _mm256_store_ps(ct + i * CK_CONV_NR + 16, h1[i]);
            if (W == 32) _mm512_store_ps(ct + i * CK_CONV_NR + 16, c1[i]);
        }
        return;
    }
    // Epilogue: columns [0, 16) (or [0, 8)) in part 0, [16, W) in part 1.
    const size_t cols = e->cols;
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u) : 0;
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
    const size_t stride = e->stride;
    float *out = e->out;
    const float *res = e->residual;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        if (W == 8) {
            __m256 v = h0[i];
            if (res) v = _mm256_add_ps(v, _mm256_maskz_loadu_ps((__mmask8)m0, res + i * stride));
            v = _mm256_min_ps(_mm256_max_ps(v, _mm512_castps512_ps256(lo)), _mm512_castps512_ps256(hi));
            _mm256_mask_storeu_ps(out + i * stride, (__mmask8)m0, v);
            continue;
        }
        __m512 v0 = c0[i];
        if (res) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, res + i * stride));
        _mm512_mask_storeu_ps(out + i * stride, m0, ck_clamp(v0, lo, hi));
        if (W == 32) {
            __m512 v1 = c1[i];
            if (res) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, res + i * stride + 16));
            _mm512_mask_storeu_ps(out + i * stride + 16, m1, ck_clamp(v1, lo, hi));
        }
        if (W == 24) {
            __m256 v1 = h1[i];
            if (res) v1 = _mm256_add_ps(v1, _mm256_maskz_loadu_ps((__mmask8)m1, res + i * stride + 16));
            v1 = _mm256_min_ps(_mm256_max_ps(v1, _mm512_castps512_ps256(lo)), _mm512_castps512_ps256(hi));
            _mm256_mask_storeu_ps(out + i * stride + 16, (__mmask8)m1, v1);
        }
    }
}

typedef void (*ck_ukr_fn)(size_t K, const float *A, const ck_q8_reads *r, const float *B, float *ct, int flags,
    const char *pf, size_t pfs, const ck_conv_epi *e);

#define CK_DEF_UKR(MR)                                                                             \
    static CK_T512 void ck_ukr_##MR##x8(size_t K, const float *A, const ck_q8_reads *r, const float *B, float *ct, \
        int flags, const char *pf, size_t pfs, const ck_conv_epi *e) { ck_ukr(MR, 8, K, A, r, B, ct, flags, pf, pfs, e); }                                                               \
    static CK_T512 void ck_ukr_##MR##x16(size_t K, const float *A, const ck_q8_reads *r, const float *B, float *ct, \
        int flags, const char *pf, size_t pfs, const ck_conv_epi *e) { ck_ukr(MR, 16, K, A, r, B, ct, flags, pf, pfs, e); }                                                              \
    static CK_T512 void ck_ukr_##MR##x24(size_t K, const float *A, const ck_q8_reads *r, const float *B, float *ct, \
        int flags, const char *pf, size_t pfs, const ck_conv_epi *e) { ck_ukr(MR, 24, K, A, r, B, ct, flags, pf, pfs, e); }                                                              \
    static CK_T512 void ck_ukr_##MR##x32(size_t K, const float *A, const ck_q8_reads *r, const float *B, float *ct, \
        int flags, const char *pf, size_t pfs, const ck_conv_epi *e) { ck_ukr(MR, 32, K, A, r, B, ct, flags, pf, pfs, e); }
CK_DEF_UKR(1) CK_DEF_UKR(2) CK_DEF_UKR(3) CK_DEF_UKR(4) CK_DEF_UKR(5) CK_DEF_UKR(6) CK_DEF_UKR(7)
CK_DEF_UKR(8) CK_DEF_UKR(9) CK_DEF_UKR(10) CK_DEF_UKR(11) CK_DEF_UKR(12) CK_DEF_UKR(13) CK_DEF_UKR(14)

#define CK_UKR_ROW(MR) {ck_ukr_##MR##x8, ck_ukr_##MR##x16, ck_ukr_##MR##x24, ck_ukr_##MR##x32}
/// Indexed by [rows][panel width / 8 - 1].
static const ck_ukr_fn ck_ukr_table[CK_CONV_AROWS + 1][4] = {
    {0, 0, 0, 0}, CK_UKR_ROW(1), CK_UKR_ROW(2), CK_UKR_ROW(3), CK_UKR_ROW(4), CK_UKR_ROW(5),
    CK_UKR_ROW(6), CK_UKR_ROW(7), CK_UKR_ROW(8), CK_UKR_ROW(9), CK_UKR_ROW(10), CK_UKR_ROW(11),
    CK_UKR_ROW(12), CK_UKR_ROW(13), CK_UKR_ROW(14),
};

/// The implicit-GEMM pass of ck_conv2d_f32_nhwc__avx512 (layout CK_Q8_IMPLICIT, K one block): row
/// blocks of the inside runs read the input in place, the others are gathered into A; each
/// macro-block streams every weight panel once, as in the packed pass. Same k order per
/// accumulator, hence the same sums as the packed pass.
static CK_T512 void ck_conv_implicit(const ck_conv2d_f32_params *p, const float *input, const float *packed_weights,
    const float *bias, const float *residual, float *output, size_t pixel_begin, size_t pixel_end, float *A,
    const ck_q8_layout *layout, ck_conv_epi *e) {
    const size_t K = ck_conv_k(p), cout = p->cout_per_group, stride = p->out_pixel_stride;
    const size_t npanels = (cout + CK_CONV_NR - 1) / CK_CONV_NR;
    const size_t ablock = ck_conv_ablock_floats(p), nbmax = ck_conv_nblocks(p), W = p->out_w;
    const size_t nblk = ck_q8_count_blocks(W, layout, CK_CONV_AROWS, pixel_begin, pixel_end);
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    ck_q8_blocks it = ck_q8_blocks_from(pixel_begin, pixel_end);
    for (size_t mb = 0; mb < nmacro; mb++) {
        const size_t nb = nblk * (mb + 1) / nmacro - nblk * mb / nmacro;
        size_t q[CK_CONV_MAXNB], mr[CK_CONV_MAXNB];
        const float *a[CK_CONV_MAXNB];
        const ck_q8_reads *reads[CK_CONV_MAXNB];
        for (size_t bi = 0; bi < nb; bi++) {
            int direct = 0;
            ck_q8_next_block(W, layout, CK_CONV_AROWS, &it, &q[bi], &mr[bi], &direct);
            if (direct) {
                a[bi] = input + ck_q8_first_tap(q[bi], W, p->in_w, p->stride_h, p->stride_w, p->pad_top, p->pad_left) * p->in_pixel_stride;
                reads[bi] = &layout->direct;
            } else {
                float *slot = A + bi * ablock;
                ck_pack_a(p, input, 0, q[bi], mr[bi], 0, K, slot);
                a[bi] = slot;
                reads[bi] = &layout->packed;
            }
        }
        for (size_t j = 0; j < npanels; j++) {
            const size_t col0 = j * CK_CONV_NR, width = ck_conv_panel_width(cout, j);
            const float *bp = packed_weights + j * CK_CONV_NR * K;
            e->cols = (cout - col0) < CK_CONV_NR ? (cout - col0) : CK_CONV_NR;
            e->bias = bias ? bias + col0 : NULL;
            for (size_t bi = 0; bi < nb; bi++) {
                e->residual = residual ? residual + q[bi] * stride + col0 : NULL;
                e->out = output + q[bi] * stride + col0;
                ck_ukr_table[mr[bi]][width / 8 - 1](K, a[bi], reads[bi], bp, NULL, 0, (const char *)bp, 0, e);
            }
        }
    }
}

CK_T512 void ck_conv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch) {
    const size_t K = ck_conv_k(p);
    const size_t cout = p->cout_per_group;
    if (cout == 0 || pixel_begin >= pixel_end) return;
    const size_t npanels = (cout + CK_CONV_NR - 1) / CK_CONV_NR;
    const size_t group_floats = ck_conv_group_floats(p);
    const size_t stride = p->out_pixel_stride;
    const size_t KB = K == 0 ? 1 : ck_conv_kblock(p);
    const size_t ablock = ck_conv_ablock_floats(p);
    const size_t nbmax = ck_conv_nblocks(p);
    float *A = ck_conv_align_scratch(scratch);
    float *C = A + nbmax * ablock; // partial-sum tiles (only used when K is split)
    // Balanced row blocks: M rows in nblk blocks of `base` or `base + 1` rows (<= 14).
    const size_t M = pixel_end - pixel_begin;
    const size_t nblk = (M + CK_CONV_AROWS - 1) / CK_CONV_AROWS;
    const size_t base = M / nblk, extra = M % nblk;
    // Balanced macro-blocks of <= nbmax row blocks.
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    const size_t nbg = (nblk + nmacro - 1) / nmacro;
    ck_conv_epi e;
    e.stride = stride;
    e.lo = p->act_min;
    e.hi = p->act_max;
    const ck_q8_reads packed = {CK_CONV_KCS, CK_CONV_KC, CK_CONV_ACHUNK};
    // Implicit GEMM (one K-block, one group, contiguous kernel rows): inside pixels of rows with at
    // least a register block of them read their im2col rows in place.
    ck_q8_layout layout;
    layout.mode = CK_Q8_PACKED;
    layout.packed = layout.direct = packed;
    if (KB == K && K > 0 && p->groups == 1 && p->in_pixel_stride == p->cin_per_group && p->dilation_w == 1 &&
        ck_q8_implicit(&layout, p->in_h, p->in_w, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
            p->dilation_h, p->pad_top, p->pad_left, p->kernel_w * p->cin_per_group, p->in_pixel_stride, CK_CONV_AROWS)) {
        ck_conv_implicit(p, input, packed_weights, bias, residual, output, pixel_begin, pixel_end, A, &layout, &e);
        return;
    }
    // Weights that stay in L2 (small B) are only worth prefetching when read once per call.
    const int prefetch = K * ck_conv_padded_n(cout) > CK_CONV_SMALL_B || nblk == 1;
    for (size_t g = 0; g < p->groups; g++) {
        const float *gw = packed_weights + g * group_floats;
        for (size_t b0 = 0; b0 < nblk; b0 += nbg) {
            const size_t b1 = b0 + nbg < nblk ? b0 + nbg : nblk, nb = b1 - b0;
            const size_t q0 = pixel_begin + b0 * base + (b0 < extra ? b0 : extra);
            for (size_t k0 = 0;; k0 += KB) {
                const size_t k1 = k0 + KB < K ? k0 + KB : K, kc = k1 - k0;
                const int flags = (k0 > 0 ? CK_LOAD_C : 0) | (k1 < K ? CK_STORE_C : 0);
                if (kc > 0) {
                    size_t q = q0;
                    for (size_t bi = b0; bi < b1; bi++) {
                        const size_t mr = base + (bi < extra);
                        ck_pack_a(p, input, g, q, mr, k0, k1, A + (bi - b0) * ablock);
                        q += mr;
                    }
                }
                for (size_t j = 0; j < npanels; j++) {
                    const size_t col0 = g * cout + j * CK_CONV_NR;
                    const size_t width = ck_conv_panel_width(cout, j);
                    const float *bp = gw + j * CK_CONV_NR * K + k0 * width;
                    // Prefetch (to L2) the next weight chunk in processing order, split among the
                    // row blocks, so that weights streamed from memory arrive before they are used.
                    const float *next = NULL;
                    size_t next_bytes = 0;
                    if (j + 1 < npanels) {
                        next = gw + (j + 1) * CK_CONV_NR * K + k0 * ck_conv_panel_width(cout, j + 1);
                        next_bytes = kc * ck_conv_panel_width(cout, j + 1) * sizeof(float);
                    } else if (k1 < K) {
                        next = gw + k1 * ck_conv_panel_width(cout, 0);
                        next_bytes = ((K - k1) < KB ? (K - k1) : KB) * ck_conv_panel_width(cout, 0) * sizeof(float);
                    }
                    size_t part = 0, pfs = 0;
                    if (CK_PF && prefetch && next && kc > 0) {
                        part = (next_bytes + nb - 1) / nb;
                        pfs = (part + kc - 1) / kc;
                    } else {
                        next = bp;
                    }
                    e.cols = (cout - j * CK_CONV_NR) < CK_CONV_NR ? (cout - j * CK_CONV_NR) : CK_CONV_NR;
                    e.bias = bias ? bias + col0 : NULL;
                    size_t q = q0;
                    for (size_t bi = b0; bi < b1; bi++) {
                        const size_t mr = base + (bi < extra);
                        e.residual = residual ? residual + q * stride + col0 : NULL;
                        e.out = output + q * stride + col0;
                        ck_ukr_table[mr][width / 8 - 1](kc, A + (bi - b0) * ablock, &packed, bp,
                            C + ((bi - b0) * npanels + j) * CK_CONV_CTILE, flags,
                            (const char *)next + (bi - b0) * part, pfs, &e);
                        q += mr;
                    }
                }
                if (k1 >= K) break;
            }
        }
    }
}

#else

void ck_conv2d_f32_nhwc__avx512(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch) {
    ck_conv2d_f32_nhwc__scalar(p, input, packed_weights, bias, residual, output, pixel_begin, pixel_end, scratch);
}

#endif
