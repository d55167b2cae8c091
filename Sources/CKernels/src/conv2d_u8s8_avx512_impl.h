// INT8 conv2d as GEMM, AVX-512 body shared by conv2d_u8s8_avx512vnni.c and
// conv2d_u8s8_avx512bw.c (each file defines CK_Q8_T (target attribute), CK_Q8_STEP (one
// 4-deep dot product of a broadcast A dword with 16 packed weight columns), CK_Q8_MRMAX (rows
// of the microkernel) and CK_Q8_FN (the entry point name), then includes this file).
//
// Output pixels of a call are split into balanced row blocks of <= CK_Q8_MRMAX rows; a
// macro-block of row blocks (im2col rows within CK_Q8_A_BUDGET, i.e. L2) is gathered into
// scratch, padded taps holding z_x (see conv2d_u8s8_internal.h), then for each 32-column
// weight panel an MR x 32 register-blocked microkernel (2 * MR zmm int32 accumulators,
// broadcast A dword, 2 zmm of interleaved weights per 4 k) runs over every row block of the
// macro-block, so each weight panel is fetched once per macro-block. The accumulators start
// at bias - z_x * wsum; the epilogue requantizes (cvtdq2ps, mul, cvtps2dq, + z_y, clamp,
// vpmovdb) or dequantizes to float, with masked stores for partial panels.
#include <immintrin.h>

#define CK_INLINE static inline __attribute__((always_inline))

typedef int32_t ck_q8_u32a __attribute__((aligned(1), may_alias));

typedef struct {
    const int32_t *init;   // 32 accumulator start values of the panel (64-byte aligned)
    const float *scale;    // scale of column 0
    char *out;             // element (row 0, column 0)
    size_t stride;         // out_pixel_stride in bytes
    size_t cols;           // valid columns, 1..32
    int mode;
    int32_t zy, lo, hi;
    float fmin, fmax;
    ptrdiff_t split;       // bytes from a hi panel to its lo panel (weight_split), else 0
} ck_q8_epi;

/// The fused residual Add over group g's channels of output pixels [q0, q1) once their codes are
/// complete (still in L2): ck_qadd_u8 in place, one run per pixel, or one run in all when the
/// pixels are dense.
CK_INLINE CK_Q8_T void ck_q8_add_residual(const ck_conv2d_u8s8_params *p, const ck_u8s8_residual_add *add, uint8_t *output,
    size_t g, size_t q0, size_t q1) {
    const size_t cout = p->cout_per_group, stride = p->out_pixel_stride;
    const int dense = p->groups == 1 && cout == stride;
    for (size_t q = q0; q < q1; q = dense ? q1 : q + 1) {
        const size_t off = q * stride + g * cout, n = dense ? (q1 - q0) * stride : cout;
        uint8_t *o = output + off;
        const uint8_t *r = add->residual + off;
        if (add->conv_is_b) ck_qadd_u8__avx512(r, add->ma, o, add->mb, add->c, add->lo, add->hi, o, n);
        else ck_qadd_u8__avx512(o, add->ma, r, add->mb, add->c, add->lo, add->hi, o, n);
    }
}

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
/// k-th byte is at A + i * lda + (k / kc) * achunk + k % kc (see ck_q8_reads). SPLIT: the
/// weights are two 7-bit halves (hi at B, lo at B + e->split), each summed by CK_Q8_STEP.
CK_INLINE CK_Q8_T void ck_q8_ukr(const int MR, const int W, const int SPLIT, size_t K4, const uint8_t *A, const ck_q8_reads *r,
    const int8_t *B, const ck_q8_epi *e) {
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

typedef void (*ck_q8_ukr_fn)(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, const ck_q8_epi *e);

#define CK_Q8_DEF_UKR(MR)                                                                          \
    static CK_Q8_T void ck_q8_ukr_##MR##x16(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, \
        const ck_q8_epi *e) {                                                                      \
        ck_q8_ukr(MR, 16, 0, K4, A, r, B, e);                                                      \
    }                                                                                              \
    static CK_Q8_T void ck_q8_ukr_##MR##x32(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, \
        const ck_q8_epi *e) {                                                                      \
        ck_q8_ukr(MR, 32, 0, K4, A, r, B, e);                                                      \
    }                                                                                              \
    static CK_Q8_T void ck_q8_ukr_##MR##x16s(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, \
        const ck_q8_epi *e) {                                                                      \
        ck_q8_ukr(MR, 16, 1, K4, A, r, B, e);                                                      \
    }                                                                                              \
    static CK_Q8_T void ck_q8_ukr_##MR##x32s(size_t K4, const uint8_t *A, const ck_q8_reads *r, const int8_t *B, \
        const ck_q8_epi *e) {                                                                      \
        ck_q8_ukr(MR, 32, 1, K4, A, r, B, e);                                                      \
    }
#define CK_Q8_ROW(MR) {{ck_q8_ukr_##MR##x16, ck_q8_ukr_##MR##x32}, {ck_q8_ukr_##MR##x16s, ck_q8_ukr_##MR##x32s}}

CK_Q8_DEF_UKR(1) CK_Q8_DEF_UKR(2) CK_Q8_DEF_UKR(3) CK_Q8_DEF_UKR(4) CK_Q8_DEF_UKR(5) CK_Q8_DEF_UKR(6)
CK_Q8_DEF_UKR(7) CK_Q8_DEF_UKR(8) CK_Q8_DEF_UKR(9) CK_Q8_DEF_UKR(10) CK_Q8_DEF_UKR(11) CK_Q8_DEF_UKR(12)
#if CK_Q8_MRMAX > 12
CK_Q8_DEF_UKR(13) CK_Q8_DEF_UKR(14)
#endif

/// Indexed by [rows][split][panel width / 16 - 1].
static const ck_q8_ukr_fn ck_q8_ukr_table[CK_Q8_MRMAX + 1][2][2] = {
    {{0, 0}, {0, 0}}, CK_Q8_ROW(1), CK_Q8_ROW(2), CK_Q8_ROW(3), CK_Q8_ROW(4), CK_Q8_ROW(5), CK_Q8_ROW(6),
    CK_Q8_ROW(7), CK_Q8_ROW(8), CK_Q8_ROW(9), CK_Q8_ROW(10), CK_Q8_ROW(11), CK_Q8_ROW(12),
#if CK_Q8_MRMAX > 12
    CK_Q8_ROW(13), CK_Q8_ROW(14),
#endif
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
    // Accumulator start values bias - z_x * wsum of every (padded) column, once per call.
    const size_t pn = ck_q8_padded_n(cout);
    int32_t *init = (int32_t *)(A + ck_q8_init_offset(p));
    for (size_t g = 0; g < p->groups; g++)
        for (size_t c = 0; c < pn; c++)
            init[g * pn + c] = c < cout
                ? (int32_t)((bias ? (uint32_t)bias[g * cout + c] : 0u) - zx * (uint32_t)wsum[g * cout + c]) : 0;
    // Rows read in place where the input holds them (1x1 layers, inside pixels of wider ones).
    const ck_q8_layout layout = ck_q8_layout_for(p, CK_Q8_MRMAX);
    const size_t nblk = ck_q8_count_blocks(p->out_w, &layout, CK_Q8_MRMAX, pixel_begin, pixel_end);
    // Balanced macro-blocks of <= nbmax row blocks.
    const size_t nmacro = (nblk + nbmax - 1) / nbmax;
    ck_q8_epi e;
    e.stride = stride * esize;
    e.mode = out->mode;
    e.zy = out->zero_point;
    e.lo = out->lo;
    e.hi = out->hi;
    e.fmin = out->fmin;
    e.fmax = out->fmax;
    const int split = p->weight_split != 0;
    e.split = split ? (ptrdiff_t)ck_conv2d_u8s8_split_offset(p) : 0;
    const ck_u8s8_residual_add *add = out->mode == CK_U8S8_OUT_U8 ? out->add : NULL;
    for (size_t g = 0; g < p->groups; g++) {
        const int8_t *gw = pw + g * group_bytes;
        ck_q8_blocks it = ck_q8_blocks_from(pixel_begin, pixel_end);
        for (size_t m = 0; m < nmacro; m++) {
            const size_t nb = nblk * (m + 1) / nmacro - nblk * m / nmacro;
            size_t q[CK_Q8_MAXNB], mr[CK_Q8_MAXNB];
            const uint8_t *a[CK_Q8_MAXNB];
            const ck_q8_reads *reads[CK_Q8_MAXNB];
            for (size_t bi = 0; bi < nb; bi++) {
                int direct = 0;
                ck_q8_next_block(p->out_w, &layout, CK_Q8_MRMAX, &it, &q[bi], &mr[bi], &direct);
                if (direct) {
                    a[bi] = ck_q8_direct_row(p, &layout, input, g, q[bi]);
                    reads[bi] = &layout.direct;
                } else {
                    uint8_t *slot = A + bi * ablock;
                    ck_q8_pack_a(p, input, g, q[bi], mr[bi], slot);
                    a[bi] = slot;
                    reads[bi] = &layout.packed;
                }
            }
            for (size_t j = 0; j < npanels; j++) {
                const size_t col0 = g * cout + j * CK_Q8_NR;
                const size_t width = ck_q8_panel_width(cout, j);
                const size_t cols = (cout - j * CK_Q8_NR) < CK_Q8_NR ? (cout - j * CK_Q8_NR) : CK_Q8_NR;
                e.init = init + g * pn + j * CK_Q8_NR;
                e.cols = cols;
                e.scale = out->scale + col0;
                const int8_t *bp = gw + j * CK_Q8_NR * K4;
                for (size_t bi = 0; bi < nb; bi++) {
                    e.out = (char *)output + (q[bi] * stride + col0) * esize;
                    ck_q8_ukr_table[mr[bi]][split][width / 16 - 1](K4, a[bi], reads[bi], bp, &e);
                }
            }
            if (add && nb > 0) ck_q8_add_residual(p, add, (uint8_t *)output, g, q[0], q[nb - 1] + mr[nb - 1]);
        }
    }
}
