// INT8 conv2d as GEMM on ymm (no AVX-512), body shared by conv2d_u8s8_avx2.c and
// conv2d_u8s8_avxvnni.c: each defines CK_Q8_T (target attribute), CK_Q8_STEP (one 4-deep dot
// product of a broadcast A dword with 8 packed weight columns: vpmaddubsw + vpmaddwd(1) + vpaddd
// on AVX2, VEX vpdpbusd on AVX-VNNI) and CK_Q8_FN (the entry point), then includes this file.
// Same packed weights, scratch layout and driver structure as the AVX-512 kernels
// (conv2d_u8s8_avx512_impl.h); the microkernel is 4 rows x 16 columns (8 ymm accumulators; a
// 32-column panel is done as two 16-column halves, a row block of <= 12 rows as sub-blocks of
// <= 4 rows). The u8 epilogue truncates dwords to bytes with vpshufb + vpermd (no vpmovdb),
// matching the scalar (uint8_t) conversion.
#include <immintrin.h>
#include <string.h>

#define CK_INLINE static inline __attribute__((always_inline))
#define CK_Q8_MRMAX 12

typedef int32_t ck_q8_u32a __attribute__((aligned(1), may_alias));

CK_INLINE CK_Q8_T void ck_q8_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *src_end) {
    (void)src_end;
    memcpy(dst, src, n);
}
CK_INLINE CK_Q8_T void ck_q8_fill(uint8_t *dst, uint8_t v, size_t n) { memset(dst, v, n); }
CK_INLINE CK_Q8_T void ck_q8_copy_exact(uint8_t *dst, const uint8_t *src, size_t n) { memcpy(dst, src, n); }
CK_INLINE CK_Q8_T void ck_q8_fill_exact(uint8_t *dst, uint8_t v, size_t n) { memset(dst, v, n); }

#include "conv2d_u8s8_packa.h"

typedef struct {
    const int32_t *init;   // 16 accumulator start values (32-byte aligned)
    const float *scale;    // scale of column 0
    char *out;             // element (row 0, column 0)
    size_t stride;         // out_pixel_stride in bytes
    size_t cols;           // valid columns, 1..16
    int mode;
    int32_t zy, lo, hi;
    float fmin, fmax;
    ptrdiff_t split;       // bytes from a hi panel to its lo panel (weight_split), else 0
} ck_q8_epi2;

/// Stores 8 dwords of q truncated to bytes (n <= 8 of them).
CK_INLINE CK_Q8_T void ck_q8_store_u8x8(char *out, __m256i q, size_t n) {
    const __m256i shuf = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i t = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, shuf), _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    const uint64_t v = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(t));
    if (n >= 8) memcpy(out, &v, 8);
    else for (size_t i = 0; i < n; i++) out[i] = (char)(v >> (8 * i));
}

CK_INLINE CK_Q8_T __m256i ck_q8_colmask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// MR (1..4) rows x 16 columns; LDB = bytes per 4-k step of the panel (64 or 128). SPLIT: the
/// weights are two 7-bit halves (hi at B, lo at B + e->split), each summed without saturating.
CK_INLINE CK_Q8_T void ck_q8_ukr2(const int MR, const int LDB, const int SPLIT, size_t K4, const uint8_t *A, const int8_t *B,
    const ck_q8_epi2 *e) {
    __m256i c0[4], c1[4];
    const __m256i init0 = _mm256_load_si256((const __m256i *)e->init);
    const __m256i init1 = _mm256_load_si256((const __m256i *)(e->init + 8));
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        c0[i] = init0;
        c1[i] = init1;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    (void)ones;
    const int8_t *b = B;
    for (size_t k0 = 0; k0 < K4; k0 += CK_Q8_KC) {
        const size_t kc = (K4 - k0) < CK_Q8_KC ? (K4 - k0) : CK_Q8_KC;
        const uint8_t *a = A + (k0 / CK_Q8_KC) * CK_Q8_ACHUNK;
        for (size_t k = 0; k < kc; k += 4) {
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
            const __m256i l0 = SPLIT ? _mm256_loadu_si256((const __m256i *)(b + e->split)) : b0;
            const __m256i l1 = SPLIT ? _mm256_loadu_si256((const __m256i *)(b + e->split + 32)) : b1;
#pragma GCC unroll 4
            for (int i = 0; i < MR; i++) {
                const __m256i ai = _mm256_set1_epi32(*(const ck_q8_u32a *)(a + i * CK_Q8_KCS + k));
                c0[i] = CK_Q8_STEP(c0[i], ai, b0);
                c1[i] = CK_Q8_STEP(c1[i], ai, b1);
                if (SPLIT) {
                    c0[i] = CK_Q8_STEP(c0[i], ai, l0);
                    c1[i] = CK_Q8_STEP(c1[i], ai, l1);
                }
            }
            b += LDB;
        }
    }
    const size_t cols = e->cols;
    const size_t n0 = cols >= 8 ? 8 : cols, n1 = cols > 8 ? cols - 8 : 0;
    const __m256i mk0 = ck_q8_colmask(n0), mk1 = ck_q8_colmask(n1);
    const __m256 s0 = _mm256_maskload_ps(e->scale, mk0), s1 = _mm256_maskload_ps(e->scale + 8, mk1);
    const size_t stride = e->stride;
    char *out = e->out;
    if (e->mode == CK_U8S8_OUT_U8) {
        const __m256i zy = _mm256_set1_epi32(e->zy), lo = _mm256_set1_epi32(e->lo), hi = _mm256_set1_epi32(e->hi);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(c0[i]), s0));
            q0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q0, zy), lo), hi);
            ck_q8_store_u8x8(out + i * stride, q0, n0);
            if (n1) {
                __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(c1[i]), s1));
                q1 = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q1, zy), lo), hi);
                ck_q8_store_u8x8(out + i * stride + 8, q1, n1);
            }
        }
    } else {
        const __m256 lo = _mm256_set1_ps(e->fmin), hi = _mm256_set1_ps(e->fmax);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            const __m256 v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(c0[i]), s0);
            _mm256_maskstore_ps((float *)(out + i * stride), mk0, _mm256_min_ps(_mm256_max_ps(v0, lo), hi));
            if (n1) {
                const __m256 v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(c1[i]), s1);
                _mm256_maskstore_ps((float *)(out + i * stride + 32), mk1, _mm256_min_ps(_mm256_max_ps(v1, lo), hi));
            }
        }
    }
}

typedef void (*ck_q8_ukr2_fn)(size_t K4, const uint8_t *A, const int8_t *B, const ck_q8_epi2 *e);
#define CK_Q8_DEF_UKR2(MR, S, SUFFIX)                                                              \
    static CK_Q8_T void ck_q8_ukr2_##MR##_64##SUFFIX(size_t K4, const uint8_t *A, const int8_t *B, const ck_q8_epi2 *e) { \
        ck_q8_ukr2(MR, 64, S, K4, A, B, e);                                                        \
    }                                                                                              \
    static CK_Q8_T void ck_q8_ukr2_##MR##_128##SUFFIX(size_t K4, const uint8_t *A, const int8_t *B, const ck_q8_epi2 *e) { \
        ck_q8_ukr2(MR, 128, S, K4, A, B, e);                                                       \
    }
CK_Q8_DEF_UKR2(1, 0, ) CK_Q8_DEF_UKR2(2, 0, ) CK_Q8_DEF_UKR2(3, 0, ) CK_Q8_DEF_UKR2(4, 0, )
CK_Q8_DEF_UKR2(1, 1, s) CK_Q8_DEF_UKR2(2, 1, s) CK_Q8_DEF_UKR2(3, 1, s) CK_Q8_DEF_UKR2(4, 1, s)
/// Indexed by [split][rows][panel width / 16 - 1].
static const ck_q8_ukr2_fn ck_q8_ukr2_table[2][5][2] = {
    {{0, 0}, {ck_q8_ukr2_1_64, ck_q8_ukr2_1_128}, {ck_q8_ukr2_2_64, ck_q8_ukr2_2_128},
     {ck_q8_ukr2_3_64, ck_q8_ukr2_3_128}, {ck_q8_ukr2_4_64, ck_q8_ukr2_4_128}},
    {{0, 0}, {ck_q8_ukr2_1_64s, ck_q8_ukr2_1_128s}, {ck_q8_ukr2_2_64s, ck_q8_ukr2_2_128s},
     {ck_q8_ukr2_3_64s, ck_q8_ukr2_3_128s}, {ck_q8_ukr2_4_64s, ck_q8_ukr2_4_128s}},
};

CK_Q8_T void CK_Q8_FN(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    const size_t K4 = ck_q8_k4(p), cout = p->cout_per_group;
    if (cout == 0 || pixel_begin >= pixel_end) return;
    const size_t npanels = (cout + CK_Q8_NR - 1) / CK_Q8_NR;
    const size_t group_bytes = ck_q8_group_bytes(p);
    const int8_t *pw = (const int8_t *)packed_weights;
    const int32_t *wsum = (const int32_t *)(pw + ck_q8_wsum_offset(p));
    const size_t esize = out->mode == CK_U8S8_OUT_U8 ? 1 : 4;
    const size_t stride = p->out_pixel_stride;
    const size_t ablock = ck_q8_ablock_bytes(p);
    const size_t nbmax = ck_q8_nblocks(p);
    uint8_t *A = ck_q8_align_scratch(scratch);
    const uint32_t zx = (uint32_t)p->input_zero_point;
    const size_t M = pixel_end - pixel_begin;
    const size_t nblk = (M + CK_Q8_MRMAX - 1) / CK_Q8_MRMAX;
    const size_t base = M / nblk, extra = M % nblk;
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    const size_t nbg = (nblk + nmacro - 1) / nmacro;
    int32_t init[CK_Q8_NR] __attribute__((aligned(64)));
    ck_q8_epi2 e;
    e.stride = stride * esize;
    e.mode = out->mode;
    e.zy = out->zero_point;
    e.lo = out->lo;
    e.hi = out->hi;
    e.fmin = out->fmin;
    e.fmax = out->fmax;
    const int split = p->weight_split != 0;
    e.split = split ? (ptrdiff_t)ck_conv2d_u8s8_split_offset(p) : 0;
    for (size_t g = 0; g < p->groups; g++) {
        const int8_t *gw = pw + g * group_bytes;
        for (size_t b0 = 0; b0 < nblk; b0 += nbg) {
            const size_t b1 = b0 + nbg < nblk ? b0 + nbg : nblk;
            const size_t q0 = pixel_begin + b0 * base + (b0 < extra ? b0 : extra);
            size_t q = q0;
            for (size_t bi = b0; bi < b1; bi++) {
                const size_t mr = base + (bi < extra);
                ck_q8_pack_a(p, input, g, q, mr, A + (bi - b0) * ablock);
                q += mr;
            }
            for (size_t j = 0; j < npanels; j++) {
                const size_t col0 = g * cout + j * CK_Q8_NR;
                const size_t width = ck_q8_panel_width(cout, j);
                const size_t cols = (cout - j * CK_Q8_NR) < CK_Q8_NR ? (cout - j * CK_Q8_NR) : CK_Q8_NR;
                for (size_t c = 0; c < CK_Q8_NR; c++)
                    init[c] = c < cols ? (int32_t)((bias ? (uint32_t)bias[col0 + c] : 0u) - zx * (uint32_t)wsum[col0 + c]) : 0;
                const int8_t *bp = gw + j * CK_Q8_NR * K4;
                q = q0;
                for (size_t bi = b0; bi < b1; bi++) {
                    const size_t mr = base + (bi < extra);
                    const uint8_t *ab = A + (bi - b0) * ablock;
                    for (size_t h = 0; h * 16 < cols; h++) {
                        e.init = init + 16 * h;
                        e.scale = out->scale + col0 + 16 * h;
                        e.cols = cols - 16 * h < 16 ? cols - 16 * h : 16;
                        for (size_t r = 0; r < mr; r += 4) {
                            const size_t n = mr - r < 4 ? mr - r : 4;
                            e.out = (char *)output + ((q + r) * stride + col0 + 16 * h) * esize;
                            ck_q8_ukr2_table[split][n][width / 16 - 1](K4, ab + r * CK_Q8_KCS, bp + 64 * h, &e);
                        }
                    }
                    q += mr;
                }
            }
        }
    }
}
