// INT8 conv2d microkernels on zmm, shared by conv2d_u8s8_avx512vnni.c and conv2d_u8s8_avx512bw.c:
// each file defines CK_Q8_T (target attribute), CK_Q8_STEP (one 4-deep dot product of a
// broadcast A dword with 16 packed weight columns), CK_Q8_MRMAX (rows of the largest tile),
// CK_Q8_ISA (the name suffix) and CK_Q8_QADD (the path's u8 Add), then includes this file,
// which defines the path's microkernels ck_qu8s8_gemm_ukernel_{MR}x{16,32}c4[_split]__ISA, its
// im2col gather and its configuration ck_q8_gemm_config__ISA for the driver
// (conv2d_u8s8_gemm.c).
//
// A microkernel keeps 2 * MR zmm int32 accumulators (MR x 32), broadcasts one A dword per row
// and reads 2 zmm of interleaved weights per 4 k; the accumulators start at bias - z_x * wsum;
// the epilogue requantizes (cvtdq2ps, mul, cvtps2dq, + z_y, clamp, vpmovdb) or dequantizes to
// float, with masked stores for partial panels.
#include <immintrin.h>

#define CK_INLINE static inline __attribute__((always_inline))

typedef int32_t ck_q8_u32a __attribute__((aligned(1), may_alias));

/// Copies n bytes (reading at most up to src_end). The tail store is a FULL 64-byte store:
/// the A rows are written in increasing k and have >= 64 bytes of slack after K (KCS - KC), so
/// the extra bytes are overwritten by the next segment or land in the slack. (Masked stores are
/// slow on Zen 4.) Only used for rows that are one chunk (K4 <= CK_Q8_KC).
CK_INLINE CK_Q8_T void ck_q8_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t *src_end) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
    if (i < n) {
        // Unmasked when the 64 bytes are inside the input tensor (masked loads crossing lines /
        // pages are slow on Zen 4), else a masked load of the exact length.
        if (n - i <= 32 && src_end - (src + i) >= 32)
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
        else if (src_end - (src + i) >= 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
        else if (n - i <= 32)
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_maskz_loadu_epi8(_bzhi_u32(~0u, (unsigned)(n - i)), src + i));
        else _mm512_storeu_si512(dst + i, _mm512_maskz_loadu_epi8(_bzhi_u64(~0ULL, (unsigned)(n - i)), src + i));
    }
}

CK_INLINE CK_Q8_T void ck_q8_fill(uint8_t *dst, uint8_t v, size_t n) {
    const __m512i z = _mm512_set1_epi8((char)v);
    for (size_t i = 0; i < n; i += 64) _mm512_storeu_si512(dst + i, z);
}

/// Exact-length versions for rows split into chunks (no slack inside a row).
CK_INLINE CK_Q8_T void ck_q8_copy_exact(uint8_t *dst, const uint8_t *src, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
    if (i < n) {
        const __mmask64 m = _bzhi_u64(~0ULL, (unsigned)(n - i));
        _mm512_mask_storeu_epi8(dst + i, m, _mm512_maskz_loadu_epi8(m, src + i));
    }
}

CK_INLINE CK_Q8_T void ck_q8_fill_exact(uint8_t *dst, uint8_t v, size_t n) {
    const __m512i z = _mm512_set1_epi8((char)v);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, z);
    if (i < n) _mm512_mask_storeu_epi8(dst + i, _bzhi_u64(~0ULL, (unsigned)(n - i)), z);
}

#include "conv2d_u8s8_packa.h"

/// MR x W microkernel (W = panel width: 16 or 32 columns) over K4, then the epilogue. Row i's
/// k-th byte is at A + i * lda + (k / kc) * achunk + k % kc (see ck_q8_reads). FORMAT:
/// CK_Q8_WEIGHTS_S8 (CK_Q8_STEP per 4 k), CK_Q8_WEIGHTS_SPLIT (two 7-bit halves, hi at B and lo at
/// B + e->split, each summed by CK_Q8_STEP) or CK_Q8_WEIGHTS_S16 (s16 weight pairs times the rows
/// widened to u16 by the driver, vpmaddwd, which no pair sum can saturate).
CK_INLINE CK_Q8_T void ck_q8_ukr(const int MR, const int W, const int FORMAT, size_t K4, const uint8_t *A, const ck_q8_reads *r,
    const int8_t *B, const ck_q8_epi *e) {
    const int SPLIT = FORMAT == CK_Q8_WEIGHTS_SPLIT;
    const size_t lda = r->lda, kc = r->kc, achunk = r->achunk;
    __m512i c0[CK_Q8_MRMAX], c1[CK_Q8_MRMAX];
    const __m512i init0 = _mm512_load_si512(e->init), init1 = _mm512_load_si512(e->init + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        c0[i] = init0;
        if (W == 32) c1[i] = init1;
    }
    const __m512i ones = _mm512_set1_epi16(1);
    (void)ones;
    const int8_t *b = B;
    const uint8_t *a = A;
    for (size_t k0 = 0; k0 < K4; k0 += kc, a += achunk) {
        const size_t n = (K4 - k0) < kc ? (K4 - k0) : kc;
        if (FORMAT == CK_Q8_WEIGHTS_S16) {
            // Rows already widened to u16 (ck_q8_widen_rows512: row i's k-th value at A + i * lda
            // + 2k, one chunk). Per k pair and row: one dword broadcast from memory (the (a_k,
            // a_k+1) pair) and per 16 columns one vpmaddwd with the weight pairs (no pair sum can
            // saturate: |2 * 255 * 128| < 2^31) and one vpaddd, the vpmaddwd peak loop's mix. The
            // (k, k+1) pairs of the panel's columns, then the (k+2, k+3) pairs W * 4 bytes on:
            // two weight vectors live at a time, so 12 rows (24 accumulators) fit the 32 zmm.
            for (size_t k = 0; k < K4; k += 4) {
                const __m512i b00 = _mm512_loadu_si512(b);
                const __m512i b01 = W == 32 ? _mm512_loadu_si512(b + 64) : b00;
#pragma GCC unroll 16
                for (int i = 0; i < MR; i++) {
                    const __m512i ai = _mm512_set1_epi32(*(const ck_q8_u32a *)(A + i * lda + 2 * k));
                    c0[i] = _mm512_add_epi32(c0[i], _mm512_madd_epi16(ai, b00));
                    if (W == 32) c1[i] = _mm512_add_epi32(c1[i], _mm512_madd_epi16(ai, b01));
                }
                const __m512i b10 = _mm512_loadu_si512(b + W * 4);
                const __m512i b11 = W == 32 ? _mm512_loadu_si512(b + W * 4 + 64) : b10;
#pragma GCC unroll 16
                for (int i = 0; i < MR; i++) {
                    const __m512i ai = _mm512_set1_epi32(*(const ck_q8_u32a *)(A + i * lda + 2 * k + 4));
                    c0[i] = _mm512_add_epi32(c0[i], _mm512_madd_epi16(ai, b10));
                    if (W == 32) c1[i] = _mm512_add_epi32(c1[i], _mm512_madd_epi16(ai, b11));
                }
                b += W * 8;
            }
            break;
        }
        for (size_t k = 0; k < n; k += 4) {
            const __m512i b0 = _mm512_loadu_si512(b);
            const __m512i b1 = W == 32 ? _mm512_loadu_si512(b + 64) : b0;
            const __m512i l0 = SPLIT ? _mm512_loadu_si512(b + e->split) : b0;
            const __m512i l1 = SPLIT && W == 32 ? _mm512_loadu_si512(b + e->split + 64) : b0;
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++) {
                const __m512i ai = _mm512_set1_epi32(*(const ck_q8_u32a *)(a + i * lda + k));
                c0[i] = CK_Q8_STEP(c0[i], ai, b0);
                if (W == 32) c1[i] = CK_Q8_STEP(c1[i], ai, b1);
                if (SPLIT) {
                    c0[i] = CK_Q8_STEP(c0[i], ai, l0);
                    if (W == 32) c1[i] = CK_Q8_STEP(c1[i], ai, l1);
                }
            }
            b += W * 4;
        }
    }
    const size_t cols = e->cols;
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u) : 0;
    const __m512 s0 = _mm512_maskz_loadu_ps(m0, e->scale);
    const __m512 s1 = W == 32 ? _mm512_maskz_loadu_ps(m1, e->scale + 16) : s0;
    const size_t stride = e->stride;
    char *out = e->out;
    // Full panels use plain stores (masked stores are slow on Zen 4); vpmovdb goes to a register.
    const int full = cols == (size_t)W;
    if (e->mode == CK_U8S8_OUT_U8) {
        const __m512i zy = _mm512_set1_epi32(e->zy), lo = _mm512_set1_epi32(e->lo), hi = _mm512_set1_epi32(e->hi);
        int i0 = 0;
        if (W == 32 && MR % 2 == 0 && full && e->lo >= 0 && e->lo <= e->hi && e->hi <= 255) {
            // Two rows at a time: the 4 requantized vectors narrowed by vpackssdw + vpackuswb
            // (saturating, so clamping to [0, 255] first), then [lo, hi] on the bytes, and one
            // vpermd restores column order (lane L of the packs holds columns 4L..4L+3 of each
            // vector). clamp(v, lo, hi) == clamp(sat_u8(sat_s16(v)), lo, hi) when 0 <= lo <= hi <= 255.
            const __m512i lo8 = _mm512_set1_epi8((char)e->lo), hi8 = _mm512_set1_epi8((char)e->hi);
            const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
#pragma GCC unroll 8
            for (; i0 + 1 < MR; i0 += 2) {
                const __m512i a0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c0[i0]), s0)), zy);
                const __m512i a1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c1[i0]), s1)), zy);
                const __m512i b0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c0[i0 + 1]), s0)), zy);
                const __m512i b1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c1[i0 + 1]), s1)), zy);
                __m512i v = _mm512_packus_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(b0, b1));
                v = _mm512_permutexvar_epi32(order, _mm512_min_epu8(_mm512_max_epu8(v, lo8), hi8));
                _mm256_storeu_si256((__m256i *)(out + i0 * stride), _mm512_castsi512_si256(v));
                _mm256_storeu_si256((__m256i *)(out + (i0 + 1) * stride), _mm512_extracti64x4_epi64(v, 1));
            }
        }
#pragma GCC unroll 16
        for (int i = i0; i < MR; i++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c0[i]), s0));
            q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zy), lo), hi);
            const __m128i b0 = _mm512_cvtepi32_epi8(q);
            if (W == 32) {
                __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(c1[i]), s1));
                q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q1, zy), lo), hi);
                const __m128i b1 = _mm512_cvtepi32_epi8(q1);
                const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b0), b1, 1);
                if (full) _mm256_storeu_si256((__m256i *)(out + i * stride), v);
                else _mm256_mask_storeu_epi8(out + i * stride, (__mmask32)m0 | ((__mmask32)m1 << 16), v);
            } else {
                if (full) _mm_storeu_si128((__m128i *)(out + i * stride), b0);
                else _mm_mask_storeu_epi8(out + i * stride, m0, b0);
            }
        }
    } else {
        const __m512 lo = _mm512_set1_ps(e->fmin), hi = _mm512_set1_ps(e->fmax);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c0[i]), s0), lo), hi);
            if (full) _mm512_storeu_ps(out + i * stride, v);
            else _mm512_mask_storeu_ps(out + i * stride, m0, v);
            if (W == 32) {
                const __m512 v1 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c1[i]), s1), lo), hi);
                if (full) _mm512_storeu_ps(out + i * stride + 64, v1);
                else _mm512_mask_storeu_ps(out + i * stride + 64, m1, v1);
            }
        }
    }
}

#define CK_Q8_UKR_NAME(MR, W, S) CK_Q8_CAT3(ck_qu8s8_gemm_ukernel_, MR##x##W##c4##S##__, CK_Q8_ISA)
#define CK_Q8_DEF_UKR1(MR, W, SPLIT, S)                                                            \
    void CK_Q8_UKR_NAME(MR, W, S)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e); \
    CK_Q8_T void CK_Q8_UKR_NAME(MR, W, S)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, \
        const ck_q8_epi *e) {                                                                      \
        ck_q8_ukr(MR, W, SPLIT, K4, A, r, B, e);                                                   \
    }
#define CK_Q8_DEF_UKR(MR)                                                                          \
    CK_Q8_DEF_UKR1(MR, 16, CK_Q8_WEIGHTS_S8, ) CK_Q8_DEF_UKR1(MR, 32, CK_Q8_WEIGHTS_S8, )                     \
    CK_Q8_DEF_UKR1(MR, 16, CK_Q8_WEIGHTS_SPLIT, _split) CK_Q8_DEF_UKR1(MR, 32, CK_Q8_WEIGHTS_SPLIT, _split)
#define CK_Q8_DEF_UKR_S16(MR) CK_Q8_DEF_UKR1(MR, 16, CK_Q8_WEIGHTS_S16, _s16) CK_Q8_DEF_UKR1(MR, 32, CK_Q8_WEIGHTS_S16, _s16)
#define CK_Q8_ROW(MR) [MR] = {CK_Q8_UKR_NAME(MR, 16, ), CK_Q8_UKR_NAME(MR, 32, )}
#define CK_Q8_ROWS(MR) [MR] = {CK_Q8_UKR_NAME(MR, 16, _split), CK_Q8_UKR_NAME(MR, 32, _split)}
#define CK_Q8_ROWS16(MR) [MR] = {CK_Q8_UKR_NAME(MR, 16, _s16), CK_Q8_UKR_NAME(MR, 32, _s16)}

CK_Q8_DEF_UKR(1) CK_Q8_DEF_UKR(2) CK_Q8_DEF_UKR(3) CK_Q8_DEF_UKR(4) CK_Q8_DEF_UKR(5) CK_Q8_DEF_UKR(6)
CK_Q8_DEF_UKR(7) CK_Q8_DEF_UKR(8) CK_Q8_DEF_UKR(9) CK_Q8_DEF_UKR(10) CK_Q8_DEF_UKR(11) CK_Q8_DEF_UKR(12)
#if CK_Q8_MRMAX > 12
CK_Q8_DEF_UKR(13) CK_Q8_DEF_UKR(14)
#endif
#ifdef CK_Q8_MR_S16
// s16 tiles of CK_Q8_MR_S16 = 12 rows over rows the driver widened to u16 (ck_q8_widen_rows512).
CK_Q8_DEF_UKR_S16(1) CK_Q8_DEF_UKR_S16(2) CK_Q8_DEF_UKR_S16(3) CK_Q8_DEF_UKR_S16(4) CK_Q8_DEF_UKR_S16(5) CK_Q8_DEF_UKR_S16(6)
CK_Q8_DEF_UKR_S16(7) CK_Q8_DEF_UKR_S16(8) CK_Q8_DEF_UKR_S16(9) CK_Q8_DEF_UKR_S16(10) CK_Q8_DEF_UKR_S16(11) CK_Q8_DEF_UKR_S16(12)

/// The widening of ck_q8_widen_fn: each row's K4 bytes (chunk by chunk as r says; chunk lengths
/// and K4 are multiples of 4) zero-extended to u16, 32 at a time, the last < 32 by a masked load
/// and store of the exact length (never reading past a chunk: rows read in place end at their
/// pixel's channels).
static CK_Q8_T void ck_q8_widen_rows512(const uint8_t *A, const ck_q8_reads *r, size_t rows, size_t K4, uint8_t *W, size_t wlda) {
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *a = A + i * r->lda;
        uint16_t *w = (uint16_t *)(W + i * wlda);
        for (size_t k0 = 0; k0 < K4; k0 += r->kc, a += r->achunk) {
            const size_t n = (K4 - k0) < r->kc ? (K4 - k0) : r->kc;
            size_t k = 0;
            for (; k + 32 <= n; k += 32)
                _mm512_storeu_si512(w + k0 + k, _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + k))));
            if (k < n) {
                const __mmask32 m = _bzhi_u32(~0u, (unsigned)(n - k));
                _mm512_mask_storeu_epi16(w + k0 + k, m, _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + k)));
            }
        }
    }
}
#endif

#define CK_Q8_STR_(x) #x
#define CK_Q8_STR(x) CK_Q8_STR_(x)

const ck_q8_gemm_config CK_Q8_CAT3(ck_q8_gemm_config__, CK_Q8_ISA, ) = {
    .name = {"qu8s8_gemm_" CK_Q8_STR(CK_Q8_MRMAX) "x32c4__" CK_Q8_STR(CK_Q8_ISA),
             "qu8s8_gemm_" CK_Q8_STR(CK_Q8_MRMAX) "x32c4_split__" CK_Q8_STR(CK_Q8_ISA),
#ifdef CK_Q8_MR_S16
             "qu8s8_gemm_" CK_Q8_STR(CK_Q8_MR_S16) "x32c4_s16__" CK_Q8_STR(CK_Q8_ISA),
#endif
    },
    .block_rows = CK_Q8_MRMAX,
#ifdef CK_Q8_MR_S16
    .mr = {CK_Q8_MRMAX, CK_Q8_MRMAX, CK_Q8_MR_S16},
#else
    .mr = {CK_Q8_MRMAX, CK_Q8_MRMAX, 0},
#endif
    .nr = 32,
    .ukernel = {
        {CK_Q8_ROW(1), CK_Q8_ROW(2), CK_Q8_ROW(3), CK_Q8_ROW(4), CK_Q8_ROW(5), CK_Q8_ROW(6), CK_Q8_ROW(7),
         CK_Q8_ROW(8), CK_Q8_ROW(9), CK_Q8_ROW(10), CK_Q8_ROW(11), CK_Q8_ROW(12),
#if CK_Q8_MRMAX > 12
         CK_Q8_ROW(13), CK_Q8_ROW(14),
#endif
        },
        {CK_Q8_ROWS(1), CK_Q8_ROWS(2), CK_Q8_ROWS(3), CK_Q8_ROWS(4), CK_Q8_ROWS(5), CK_Q8_ROWS(6), CK_Q8_ROWS(7),
         CK_Q8_ROWS(8), CK_Q8_ROWS(9), CK_Q8_ROWS(10), CK_Q8_ROWS(11), CK_Q8_ROWS(12),
#if CK_Q8_MRMAX > 12
         CK_Q8_ROWS(13), CK_Q8_ROWS(14),
#endif
        },
#ifdef CK_Q8_MR_S16
        {CK_Q8_ROWS16(1), CK_Q8_ROWS16(2), CK_Q8_ROWS16(3), CK_Q8_ROWS16(4), CK_Q8_ROWS16(5), CK_Q8_ROWS16(6),
         CK_Q8_ROWS16(7), CK_Q8_ROWS16(8), CK_Q8_ROWS16(9), CK_Q8_ROWS16(10), CK_Q8_ROWS16(11), CK_Q8_ROWS16(12)},
#endif
    },
    .pack_a = ck_q8_pack_a,
#ifdef CK_Q8_MR_S16
    .widen = {[CK_Q8_WEIGHTS_S16] = ck_q8_widen_rows512},
#endif
    .qadd = CK_Q8_QADD,
};
