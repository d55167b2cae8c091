// INT8 conv2d microkernels on ymm (no AVX-512), shared by conv2d_u8s8_avx2.c and
// conv2d_u8s8_avxvnni.c: each defines CK_Q8_T (target attribute), CK_Q8_STEP (one 4-deep dot
// product of a broadcast A dword with 8 packed weight columns: vpmaddubsw + vpmaddwd(1) +
// vpaddd on AVX2, VEX vpdpbusd on AVX-VNNI), CK_Q8_ISA (the name suffix) and CK_Q8_QADD, then
// includes this file, which defines the microkernels ck_qu8s8_gemm_ukernel_{1..4}x16c4[_split]__ISA
// and ck_qu8s8_gemm_ukernel_{1..6}x16c4_s16__ISA, the im2col gather, the u16 widening of rows for
// the s16 kernels and the configuration ck_q8_gemm_config__ISA of the shared driver
// (conv2d_u8s8_gemm.c): row blocks of <= 12 rows done as tiles of <= 4 rows x 16 columns (8 ymm
// accumulators), or of 6 rows for s16 weights (12 accumulators). The u8 epilogue truncates
// dwords to bytes with vpshufb + vpermd (no vpmovdb), matching the scalar (uint8_t) conversion.
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

/// The output stage of MR rows x 16 columns of accumulators (c0: columns 0..7, c1: 8..15).
CK_INLINE CK_Q8_T void ck_q8_store2(const int MR, const __m256i *c0, const __m256i *c1, const ck_q8_epi *e) {
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

/// MR (1..4) rows x 16 columns over K4; row i's k-th byte is at A + i * lda + (k / kc) * achunk +
/// k % kc (see ck_q8_reads). FORMAT: CK_Q8_WEIGHTS_S8 (CK_Q8_STEP per 4 k) or CK_Q8_WEIGHTS_SPLIT
/// (two 7-bit halves, hi at B and lo at B + e->split, each summed without saturating).
CK_INLINE CK_Q8_T void ck_q8_ukr2(const int MR, const int FORMAT, size_t K4, const uint8_t *A, const ck_q8_reads *r,
    const int8_t *B, const ck_q8_epi *e) {
    const int SPLIT = FORMAT == CK_Q8_WEIGHTS_SPLIT;
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
    const size_t lda = r->lda, kc = r->kc, achunk = r->achunk, ldb = e->ldb;
    const uint8_t *a = A;
    for (size_t k0 = 0; k0 < K4; k0 += kc, a += achunk) {
        const size_t n = (K4 - k0) < kc ? (K4 - k0) : kc;
        for (size_t k = 0; k < n; k += 4) {
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
            const __m256i l0 = SPLIT ? _mm256_loadu_si256((const __m256i *)(b + e->split)) : b0;
            const __m256i l1 = SPLIT ? _mm256_loadu_si256((const __m256i *)(b + e->split + 32)) : b1;
#pragma GCC unroll 4
            for (int i = 0; i < MR; i++) {
                const __m256i ai = _mm256_set1_epi32(*(const ck_q8_u32a *)(a + i * lda + k));
                c0[i] = CK_Q8_STEP(c0[i], ai, b0);
                c1[i] = CK_Q8_STEP(c1[i], ai, b1);
                if (SPLIT) {
                    c0[i] = CK_Q8_STEP(c0[i], ai, l0);
                    c1[i] = CK_Q8_STEP(c1[i], ai, l1);
                }
            }
            b += ldb;
        }
    }
    ck_q8_store2(MR, c0, c1, e);
}

#define CK_Q8_MR_S16 6

/// CK_Q8_WEIGHTS_S16: MR (1..6) rows x 16 columns of 8-bit weights widened to s16 pairs, against
/// activations already widened to u16 (ck_q8_widen_rows: row i's k-th value at A + i * r->lda +
/// 2k). Per k pair and row: one dword broadcast from memory (the (a_k, a_k+1) pair) and, per 8
/// columns, one vpmaddwd with the weight pairs (no pair sum can saturate: |255 * 128 * 2| < 2^31)
/// and one vpaddd: the instruction mix of the vpmaddwd peak loop (Zen 3: 150 GOPS against 110 for
/// widening the u8 rows in registers with vpshufb, which competes for the vector ALUs).
CK_INLINE CK_Q8_T void ck_q8_ukr_s16(const int MR, size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B,
    const ck_q8_epi *e) {
    __m256i c0[CK_Q8_MR_S16], c1[CK_Q8_MR_S16];
    const __m256i init0 = _mm256_load_si256((const __m256i *)e->init);
    const __m256i init1 = _mm256_load_si256((const __m256i *)(e->init + 8));
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        c0[i] = init0;
        c1[i] = init1;
    }
    const int8_t *b = B;
    const size_t lda = r->lda, ldb = e->ldb, half = ldb / 2;
    for (size_t k = 0; k < K4; k += 4) {
        // Weight pairs (k, k+1) of the 16 columns, then (k+2, k+3) half a step further.
        const __m256i b00 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b01 = _mm256_loadu_si256((const __m256i *)(b + 32));
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256i ai = _mm256_set1_epi32(*(const ck_q8_u32a *)(A + i * lda + 2 * k));
            c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(ai, b00));
            c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(ai, b01));
        }
        const __m256i b10 = _mm256_loadu_si256((const __m256i *)(b + half));
        const __m256i b11 = _mm256_loadu_si256((const __m256i *)(b + half + 32));
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256i ai = _mm256_set1_epi32(*(const ck_q8_u32a *)(A + i * lda + 2 * k + 4));
            c0[i] = _mm256_add_epi32(c0[i], _mm256_madd_epi16(ai, b10));
            c1[i] = _mm256_add_epi32(c1[i], _mm256_madd_epi16(ai, b11));
        }
        b += ldb;
    }
    ck_q8_store2(MR, c0, c1, e);
}

/// The widening of ck_q8_widen_fn: each row's K4 bytes (chunk by chunk as r says; chunk lengths
/// and K4 are multiples of 4) zero-extended to u16, 16 at a time, the last < 16 four at a time
/// (never reading past a chunk: rows read in place end at their pixel's channels).
static CK_Q8_T void ck_q8_widen_rows(const uint8_t *A, const ck_q8_reads *r, size_t rows, size_t K4, uint8_t *W, size_t wlda) {
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *a = A + i * r->lda;
        uint16_t *w = (uint16_t *)(W + i * wlda);
        for (size_t k0 = 0; k0 < K4; k0 += r->kc, a += r->achunk) {
            const size_t n = (K4 - k0) < r->kc ? (K4 - k0) : r->kc;
            size_t k = 0;
            for (; k + 16 <= n; k += 16)
                _mm256_storeu_si256((__m256i *)(w + k0 + k), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + k))));
            for (; k < n; k += 4) {
                const __m128i v = _mm_cvtepu8_epi16(_mm_cvtsi32_si128(*(const ck_q8_u32a *)(a + k)));
                _mm_storel_epi64((__m128i *)(w + k0 + k), v);
            }
        }
    }
}

#define CK_Q8_UKR_NAME(MR, S) CK_Q8_CAT3(ck_qu8s8_gemm_ukernel_, MR##x16c4##S##__, CK_Q8_ISA)
#define CK_Q8_DEF_UKR(MR, FORMAT, S)                                                               \
    void CK_Q8_UKR_NAME(MR, S)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e); \
    CK_Q8_T void CK_Q8_UKR_NAME(MR, S)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e) { \
        ck_q8_ukr2(MR, FORMAT, K4, A, r, B, e);                                                    \
    }
CK_Q8_DEF_UKR(1, CK_Q8_WEIGHTS_S8, ) CK_Q8_DEF_UKR(2, CK_Q8_WEIGHTS_S8, ) CK_Q8_DEF_UKR(3, CK_Q8_WEIGHTS_S8, ) CK_Q8_DEF_UKR(4, CK_Q8_WEIGHTS_S8, )
CK_Q8_DEF_UKR(1, CK_Q8_WEIGHTS_SPLIT, _split) CK_Q8_DEF_UKR(2, CK_Q8_WEIGHTS_SPLIT, _split)
CK_Q8_DEF_UKR(3, CK_Q8_WEIGHTS_SPLIT, _split) CK_Q8_DEF_UKR(4, CK_Q8_WEIGHTS_SPLIT, _split)
#define CK_Q8_S16_UKR_NAME(MR) CK_Q8_CAT3(ck_qu8s8_gemm_ukernel_, MR##x16c4_s16__, CK_Q8_ISA)
#define CK_Q8_DEF_UKR_S16(MR)                                                                      \
    void CK_Q8_S16_UKR_NAME(MR)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e); \
    CK_Q8_T void CK_Q8_S16_UKR_NAME(MR)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e) { \
        ck_q8_ukr_s16(MR, K4, A, r, B, e);                                                        \
    }
CK_Q8_DEF_UKR_S16(1) CK_Q8_DEF_UKR_S16(2) CK_Q8_DEF_UKR_S16(3) CK_Q8_DEF_UKR_S16(4) CK_Q8_DEF_UKR_S16(5) CK_Q8_DEF_UKR_S16(6)
// A 32-column panel is two 16-column tiles (e->ldb says the panel's width): one microkernel
// for both widths.
#define CK_Q8_ROW(MR, S) [MR] = {CK_Q8_UKR_NAME(MR, S), CK_Q8_UKR_NAME(MR, S)}
#define CK_Q8_ROW16(MR) [MR] = {CK_Q8_S16_UKR_NAME(MR), CK_Q8_S16_UKR_NAME(MR)}

#define CK_Q8_STR_(x) #x
#define CK_Q8_STR(x) CK_Q8_STR_(x)

const ck_q8_gemm_config CK_Q8_CAT3(ck_q8_gemm_config__, CK_Q8_ISA, ) = {
    .name = {"qu8s8_gemm_4x16c4__" CK_Q8_STR(CK_Q8_ISA), "qu8s8_gemm_4x16c4_split__" CK_Q8_STR(CK_Q8_ISA),
             "qu8s8_gemm_6x16c4_s16__" CK_Q8_STR(CK_Q8_ISA)},
    .block_rows = CK_Q8_MRMAX,
    .mr = {4, 4, CK_Q8_MR_S16},
    .nr = 16,
    .ukernel = {
        {CK_Q8_ROW(1, ), CK_Q8_ROW(2, ), CK_Q8_ROW(3, ), CK_Q8_ROW(4, )},
        {CK_Q8_ROW(1, _split), CK_Q8_ROW(2, _split), CK_Q8_ROW(3, _split), CK_Q8_ROW(4, _split)},
        {CK_Q8_ROW16(1), CK_Q8_ROW16(2), CK_Q8_ROW16(3), CK_Q8_ROW16(4), CK_Q8_ROW16(5), CK_Q8_ROW16(6)},
    },
    .pack_a = ck_q8_pack_a,
    .widen = {[CK_Q8_WEIGHTS_S16] = ck_q8_widen_rows},
    .qadd = CK_Q8_QADD,
};
