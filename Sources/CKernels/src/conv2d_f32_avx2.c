// FP32 conv2d as GEMM, AVX2 + FMA: same im2col gather, packed weights and blocking (macro-blocks
// of row blocks, K-blocks with partial-sum tiles, weight chunk reuse and prefetch) as the
// AVX-512 kernel, with row blocks of up to 12 rows run as two row sets of a 6x16 microkernel
// (12 ymm accumulators) that walks each 32-wide weight panel in two 16-column halves, with the
// fused epilogue (bias, residual, clamp, masked store).
#include "ck_fp32.h"
#include "conv2d_f32_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_T256 __attribute__((target("avx2,fma")))
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_MR2 6

typedef struct {
    const float *bias;
    const float *residual;
    float *out;
    size_t stride;
    size_t cols; // 1..16
    float lo, hi;
} ck_conv_epi2;

static const int32_t ck_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

CK_INLINE CK_T256 __m256i ck_mask8(size_t n) { // n in 0..8 valid lanes
    return _mm256_loadu_si256((const __m256i *)(ck_mask_table + 8 - n));
}

CK_INLINE CK_T256 void ck_copy8(float *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
    // The tail without masked stores (microcoded on AMD: the 3-channel stems' rows of 9 and 21
    // floats spent most of their gather in them).
    if (i + 4 <= n) {
        _mm_storeu_ps(dst + i, _mm_loadu_ps(src + i));
        i += 4;
    }
    for (; i < n; i++) dst[i] = src[i];
}

CK_INLINE CK_T256 void ck_zero8(float *dst, size_t n) {
    size_t i = 0;
    const __m256 z = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, z);
    for (; i < n; i++) dst[i] = 0.0f;
}

/// Writes n floats (src, or zeros if src == NULL) into A row `row` starting at k = kpos.
/// CHUNKED == 0: the caller guarantees K <= CK_CONV_KC (the row is one chunk).
CK_INLINE CK_T256 void ck_put2(const int CHUNKED, float *row, size_t kpos, const float *src, size_t n) {
    if (!CHUNKED) {
        if (src) ck_copy8(row + kpos, src, n);
        else ck_zero8(row + kpos, n);
        return;
    }
    while (n > 0) {
        const size_t off = kpos % CK_CONV_KC;
        size_t len = CK_CONV_KC - off;
        if (len > n) len = n;
        float *dst = row + (kpos / CK_CONV_KC) * CK_CONV_ACHUNK + off;
        if (src) {
            ck_copy8(dst, src, len);
            src += len;
        } else {
            ck_zero8(dst, len);
        }
        kpos += len;
        n -= len;
    }
}

/// Writes the part of im2col segment [seg, seg + n) (source src, or zeros if NULL) that falls
/// into the K range [k0, k1) into A row `row` (whose column 0 is k = k0).
CK_INLINE CK_T256 void ck_put2_range(const int CHUNKED, float *row, size_t seg, const float *src, size_t n,
    size_t k0, size_t k1) {
    size_t s = seg > k0 ? seg : k0, e = seg + n < k1 ? seg + n : k1;
    if (s >= e) return;
    ck_put2(CHUNKED, row, s - k0, src ? src + (s - seg) : NULL, e - s);
}

/// Gathers columns [k0, k1) of the im2col rows of output pixels [p0, p0 + mr) for group g into A.
CK_INLINE CK_T256 void ck_pack_a2_impl(const int CHUNKED, const ck_conv2d_f32_params *p,
    const float *input, size_t g, size_t p0, size_t mr, size_t k0, size_t k1, float *A) {
    const size_t cin = p->cin_per_group, KW = p->kernel_w, KH = p->kernel_h;
    const size_t ips = p->in_pixel_stride;
    const int contiguous = p->dilation_w == 1 && ips == cin;
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w;
    const float *in_g = input + g * cin;
    const size_t rowlen = KW * cin;
    const size_t kh_lo = k0 / rowlen, kh_hi = (k1 + rowlen - 1) / rowlen;
    size_t oy = p0 / p->out_w, ox = p0 % p->out_w;
    for (size_t i = 0; i < mr; i++) {
        float *row = A + i * CK_CONV_KCS;
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
        const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
        if (KH == 1 && KW == 1) {
            if (iy0 < 0 || iy0 >= in_h || ix0 < 0 || ix0 >= in_w) ck_put2(CHUNKED, row, 0, NULL, k1 - k0);
            else ck_put2(CHUNKED, row, 0, in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips + k0, k1 - k0);
        } else {
            for (size_t kh = kh_lo; kh < kh_hi; kh++) {
                const size_t kpos = kh * rowlen;
                const ptrdiff_t iy = iy0 + (ptrdiff_t)(kh * p->dilation_h);
                if (iy < 0 || iy >= in_h) {
                    ck_put2_range(CHUNKED, row, kpos, NULL, rowlen, k0, k1);
                    continue;
                }
                const float *in_row = in_g + (size_t)iy * p->in_w * ips;
                if (contiguous) {
                    ptrdiff_t lo = -ix0, hi = in_w - ix0;
                    if (lo < 0) lo = 0;
                    if (hi > (ptrdiff_t)KW) hi = (ptrdiff_t)KW;
                    if (hi < lo) hi = lo = (ptrdiff_t)KW;
                    if (lo > 0) ck_put2_range(CHUNKED, row, kpos, NULL, (size_t)lo * cin, k0, k1);
                    if (hi > lo)
                        ck_put2_range(CHUNKED, row, kpos + (size_t)lo * cin, in_row + (size_t)(ix0 + lo) * cin,
                            (size_t)(hi - lo) * cin, k0, k1);
                    if ((size_t)hi < KW)
                        ck_put2_range(CHUNKED, row, kpos + (size_t)hi * cin, NULL, (KW - (size_t)hi) * cin, k0, k1);
                } else {
                    for (size_t kw = 0; kw < KW; kw++) {
                        const ptrdiff_t ix = ix0 + (ptrdiff_t)(kw * p->dilation_w);
                        if (ix < 0 || ix >= in_w) ck_put2_range(CHUNKED, row, kpos + kw * cin, NULL, cin, k0, k1);
                        else ck_put2_range(CHUNKED, row, kpos + kw * cin, in_row + (size_t)ix * ips, cin, k0, k1);
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

static CK_T256 void ck_pack_a2(const ck_conv2d_f32_params *p, const float *input, size_t g,
    size_t p0, size_t mr, size_t k0, size_t k1, float *A) {
    if (k1 - k0 <= CK_CONV_KC) ck_pack_a2_impl(0, p, input, g, p0, mr, k0, k1, A);
    else ck_pack_a2_impl(1, p, input, g, p0, mr, k0, k1, A);
}

CK_INLINE CK_T256 __m256 ck_clamp8(__m256 v, __m256 lo, __m256 hi) {
    return _mm256_min_ps(_mm256_max_ps(v, lo), hi);
}

#define CK_LOAD_C 1
#define CK_STORE_C 2
/// MR x (8 * NV) microkernel. ct: partial-sum tile (row i, column c at ct[i * 32 + c]);
/// flags & CK_LOAD_C: start from the tile instead of the bias; flags & CK_STORE_C: store the
/// sums to the tile (no epilogue). pf/pfs: one L2 prefetch per k step (pfs == 0: none).
CK_INLINE CK_T256 void ck_ukr2(const int MR, const int NV, size_t K, const float *A,
    const float *B, size_t ldb, float *ct, int flags, const char *pf, size_t pfs, const ck_conv_epi2 *e) {
    __m256 c0[CK_MR2], c1[CK_MR2];
    const size_t cols = e->cols;
    const __m256i m0 = ck_mask8(cols >= 8 ? 8 : cols);
    const __m256i m1 = ck_mask8(cols >= 16 ? 8 : cols > 8 ? cols - 8 : 0);
    if (flags & CK_LOAD_C) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            c0[i] = _mm256_load_ps(ct + i * CK_CONV_NR);
            if (NV > 1) c1[i] = _mm256_load_ps(ct + i * CK_CONV_NR + 8);
        }
    } else {
        __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
        if (e->bias) {
            bias0 = _mm256_maskload_ps(e->bias, m0);
            if (NV > 1) bias1 = _mm256_maskload_ps(e->bias + 8, m1);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            c0[i] = bias0;
            if (NV > 1) c1[i] = bias1;
        }
    }
    const float *b = B;
    for (size_t k0 = 0; k0 < K; k0 += CK_CONV_KC) {
        const size_t kc = (K - k0) < CK_CONV_KC ? (K - k0) : CK_CONV_KC;
        const float *a = A + (k0 / CK_CONV_KC) * CK_CONV_ACHUNK;
#define CK_UKR2_STEP()                                                                             \
    do {                                                                                           \
        const __m256 b0 = _mm256_loadu_ps(b);                                                      \
        const __m256 b1 = NV > 1 ? _mm256_loadu_ps(b + 8) : b0;                                    \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                                     \
            const __m256 ai = _mm256_broadcast_ss(a + i * CK_CONV_KCS + k);                        \
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);                                                \
            if (NV > 1) c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);                                    \
        }                                                                                          \
        b += ldb;                                                                                  \
    } while (0)
        size_t k = 0;
        if (pfs)
            for (; k < kc; k++) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += pfs;
                CK_UKR2_STEP();
            }
        for (; k < kc; k++) CK_UKR2_STEP();
#undef CK_UKR2_STEP
    }
    if (flags & CK_STORE_C) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            _mm256_store_ps(ct + i * CK_CONV_NR, c0[i]);
            if (NV > 1) _mm256_store_ps(ct + i * CK_CONV_NR + 8, c1[i]);
        }
        return;
    }
    const __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
    const size_t stride = e->stride;
    float *out = e->out;
    const float *res = e->residual;
    // Whole vectors are stored plainly: masked stores are microcoded on AMD (Zen 3: the 24- and
    // 40-channel tiles of EfficientNet-Lite0 spent most of their epilogue in them).
    const int full = NV > 1 ? cols == 16 : cols == 8;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        __m256 v0 = c0[i];
        __m256 v1 = NV > 1 ? c1[i] : v0;
        if (full) {
            if (res) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(res + i * stride));
                if (NV > 1) v1 = _mm256_add_ps(v1, _mm256_loadu_ps(res + i * stride + 8));
            }
            _mm256_storeu_ps(out + i * stride, ck_clamp8(v0, lo, hi));
            if (NV > 1) _mm256_storeu_ps(out + i * stride + 8, ck_clamp8(v1, lo, hi));
        } else {
            if (res) {
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(res + i * stride, m0));
                if (NV > 1) v1 = _mm256_add_ps(v1, _mm256_maskload_ps(res + i * stride + 8, m1));
            }
            _mm256_maskstore_ps(out + i * stride, m0, ck_clamp8(v0, lo, hi));
            if (NV > 1) _mm256_maskstore_ps(out + i * stride + 8, m1, ck_clamp8(v1, lo, hi));
        }
    }
}

typedef void (*ck_ukr2_fn)(size_t K, const float *A, const float *B, size_t ldb, float *ct, int flags,
    const char *pf, size_t pfs, const ck_conv_epi2 *e);

#define CK_DEF_UKR2(MR)                                                                          \
    static CK_T256 void ck_ukr2_##MR##x1(size_t K, const float *A, const float *B, size_t ldb,   \
        float *ct, int flags, const char *pf, size_t pfs, const ck_conv_epi2 *e) {               \
        ck_ukr2(MR, 1, K, A, B, ldb, ct, flags, pf, pfs, e); }                                   \
    static CK_T256 void ck_ukr2_##MR##x2(size_t K, const float *A, const float *B, size_t ldb,   \
        float *ct, int flags, const char *pf, size_t pfs, const ck_conv_epi2 *e) {               \
        ck_ukr2(MR, 2, K, A, B, ldb, ct, flags, pf, pfs, e); }
CK_DEF_UKR2(1) CK_DEF_UKR2(2) CK_DEF_UKR2(3) CK_DEF_UKR2(4) CK_DEF_UKR2(5) CK_DEF_UKR2(6)

static const ck_ukr2_fn ck_ukr2_table[CK_MR2 + 1][2] = {
    {0, 0},
    {ck_ukr2_1x1, ck_ukr2_1x2}, {ck_ukr2_2x1, ck_ukr2_2x2}, {ck_ukr2_3x1, ck_ukr2_3x2},
    {ck_ukr2_4x1, ck_ukr2_4x2}, {ck_ukr2_5x1, ck_ukr2_5x2}, {ck_ukr2_6x1, ck_ukr2_6x2},
};

/// Same blocking as the AVX-512 kernel (see conv2d_f32_internal.h), with row blocks of up to
/// 2 * CK_MR2 = 12 rows (one scratch slot each), each run as two microkernel row sets.
CK_T256 void ck_conv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
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
    float *C = A + nbmax * ablock;
    const size_t RB = 2 * CK_MR2;
    const size_t M = pixel_end - pixel_begin;
    const size_t nblk = (M + RB - 1) / RB;
    const size_t base = M / nblk, extra = M % nblk;
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    const size_t nbg = (nblk + nmacro - 1) / nmacro;
    ck_conv_epi2 e;
    e.stride = stride;
    e.lo = p->act_min;
    e.hi = p->act_max;
    // Weights that stay in L2 (small B) are only worth prefetching when read once per call.
    const int prefetch = K * ck_conv_padded_n(cout) > CK_CONV_SMALL_B || nblk == 1;
    // Groups inside the macro-blocks: a grouped convolution gathers each group's few channels of
    // the same input pixels, so all groups of a macro-block run while those pixels are in cache
    // (group-outer order streamed the whole input once per group). Each (macro-block, group)
    // writes its own outputs with the same sums, so the order changes no bit.
    for (size_t b0 = 0; b0 < nblk; b0 += nbg) {
        const size_t b1 = b0 + nbg < nblk ? b0 + nbg : nblk, nb = b1 - b0;
        const size_t q0 = pixel_begin + b0 * base + (b0 < extra ? b0 : extra);
        for (size_t g = 0; g < p->groups; g++) {
            const float *gw = packed_weights + g * group_floats;
            for (size_t k0 = 0;; k0 += KB) {
                const size_t k1 = k0 + KB < K ? k0 + KB : K, kc = k1 - k0;
                const int flags = (k0 > 0 ? CK_LOAD_C : 0) | (k1 < K ? CK_STORE_C : 0);
                if (kc > 0) {
                    size_t q = q0;
                    for (size_t bi = b0; bi < b1; bi++) {
                        const size_t mr = base + (bi < extra);
                        ck_pack_a2(p, input, g, q, mr, k0, k1, A + (bi - b0) * ablock);
                        q += mr;
                    }
                }
                for (size_t j = 0; j < npanels; j++) {
                    const size_t width = ck_conv_panel_width(cout, j);
                    const float *panel = gw + j * CK_CONV_NR * K + k0 * width;
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
                    if (prefetch && next && kc > 0) {
                        part = (next_bytes + nb - 1) / nb;
                        pfs = (part + kc - 1) / kc;
                    } else {
                        next = panel;
                    }
                    for (size_t h = 0; h * 16 < width; h++) {
                        const size_t c_begin = j * CK_CONV_NR + h * 16;
                        if (c_begin >= cout) break;
                        const size_t cols = (cout - c_begin) < 16 ? (cout - c_begin) : 16;
                        const size_t col0 = g * cout + c_begin;
                        e.cols = cols;
                        e.bias = bias ? bias + col0 : NULL;
                        // The prefetch share of this panel goes with the first column half.
                        const size_t hp = h == 0 ? pfs : 0;
                        size_t q = q0;
                        for (size_t bi = b0; bi < b1; bi++) {
                            const size_t mr = base + (bi < extra);
                            const size_t r0 = (mr + 1) / 2;
                            const float *a = A + (bi - b0) * ablock;
                            float *ct = C + ((bi - b0) * npanels + j) * CK_CONV_CTILE + h * 16;
                            const char *pf = (const char *)next + (bi - b0) * part;
                            e.residual = residual ? residual + q * stride + col0 : NULL;
                            e.out = output + q * stride + col0;
                            ck_ukr2_table[r0][cols > 8 ? 1 : 0](kc, a, panel + h * 16, width, ct, flags, pf,
                                hp, &e);
                            if (mr > r0) {
                                e.residual = residual ? residual + (q + r0) * stride + col0 : NULL;
                                e.out = output + (q + r0) * stride + col0;
                                ck_ukr2_table[mr - r0][cols > 8 ? 1 : 0](kc, a + r0 * CK_CONV_KCS,
                                    panel + h * 16, width, ct + r0 * CK_CONV_NR, flags, pf + (part + 1) / 2, hp, &e);
                            }
                            q += mr;
                        }
                    }
                }
                if (k1 >= K) break;
            }
        }
    }
}

#else

void ck_conv2d_f32_nhwc__avx2(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch) {
    ck_conv2d_f32_nhwc__scalar(p, input, packed_weights, bias, residual, output, pixel_begin, pixel_end, scratch);
}

#endif
