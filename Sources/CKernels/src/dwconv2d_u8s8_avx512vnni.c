// INT8 depthwise conv2d, AVX-512 VNNI.
//
// u8 outputs use vpdpbusd over 4 kernel rows at once. For each 64-channel group and output row,
// the input rows under kernel rows 4kg..4kg+3 are transposed once into T: for every (padded)
// input column, 4 zmm whose dword 4L + i holds the 4 rows' bytes of channel 16L + 4j + i (the
// byte-then-word unpacks of the 4 rows give exactly this order); padded taps hold z_x. An output
// pixel is then, per kernel column kw and row quad kg, 4 vpdpbusd of T's column ox*sw + kw*dw
// with the packed weight quads (ck_dw8_quad_offset; 0 for rows past the kernel), into
// accumulators that start at bias - z_x * wsum in the same channel order, so
//   acc = bias + sum over taps of (x - z_x) * w   (padded taps: (z_x - z_x) * w = 0)
// exactly, in wrapping int32, as the scalar twin. The epilogue requantizes the 4 accumulators and
// packs them with vpackssdw + vpackuswb, which restores channel order (lane L of the result is
// bytes 4L..4L+3 of each accumulator), then clamps the bytes to [lo, hi].
// Four output pixels share each weight load. Maps of at most 4 rows use quads of the map's own
// input rows instead, with weight quads per output row (ck_dw8_map).
//
// Float outputs use the per-tap kernel of dwconv2d_u8s8_avx512_impl.h with vpdpwssd.
#include "ck_int8.h"
#include "conv2d_u8s8_internal.h"

#if defined(__x86_64__)
#define CK_DW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,bmi2")))
#define CK_DW_STEP(acc, x, w) _mm512_dpwssd_epi32((acc), (x), (w))
#define CK_DW_FN ck_dw8_per_tap__avx512vnni
static void ck_dw8_per_tap__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end);
#include "dwconv2d_u8s8_avx512_impl.h"

/// Bytes of the transposed-row buffer (on the stack): 256 bytes per (row quad, input column).
#define CK_DW8_TBYTES ((size_t)32 * 1024)

/// 64 bytes of channels [c, c + 64) of input pixel (iy, ix), z_x where outside the image or past
/// the channels (the lanes of m).
CK_INLINE CK_DW_T __m512i ck_dw8_row64(const ck_conv2d_u8s8_params *p, const uint8_t *input, ptrdiff_t iy, ptrdiff_t ix,
    size_t c, __mmask64 m, int full, __m512i zx) {
    if (iy < 0 || iy >= (ptrdiff_t)p->in_h || ix < 0 || ix >= (ptrdiff_t)p->in_w) return zx;
    const uint8_t *src = input + ((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride + c;
    return full ? _mm512_loadu_si512(src) : _mm512_mask_loadu_epi8(zx, m, src);
}

/// NP (1..4) output pixels at T columns x0, x0 + xs, ... (kernel column kw at + kw * xd), one
/// 64-channel group: the vpdpbusd loop and the epilogue. Stores 64 bytes per pixel (masked by m).
CK_INLINE CK_DW_T void ck_dw8_quad_pixels(const int NP, const int KG_, const int KW_, const uint8_t *T, size_t tcols, size_t x0,
    size_t xs, size_t xd, size_t KGr, size_t KWr, const int8_t *wq, const __m512i *init, const __m512 *scale, __m512i zy, __m512i lo8, __m512i hi8,
    uint8_t *out, size_t ostride, __mmask64 m, int full) {
    __m512i acc[4][4];
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[n][j] = init[j];
    // KG_ / KW_ > 0: compile-time row quads / kernel columns (loops fully unrolled).
    const size_t KG = KG_ ? (size_t)KG_ : KGr, KW = KW_ ? (size_t)KW_ : KWr;
#pragma GCC unroll 2
    for (size_t kg = 0; kg < KG; kg++) {
        const uint8_t *tq = T + kg * tcols * 256;
#pragma GCC unroll 7
        for (size_t kw = 0; kw < KW; kw++) {
            const int8_t *w = wq + (kg * KW + kw) * 256;
            const uint8_t *t = tq + (x0 + kw * xd) * 256;
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m512i wj = _mm512_loadu_si512(w + 64 * j);
#pragma GCC unroll 4
                for (int n = 0; n < NP; n++) acc[n][j] = _mm512_dpbusd_epi32(acc[n][j], _mm512_loadu_si512(t + n * xs * 256 + 64 * j), wj);
            }
        }
    }
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) {
        __m512i q[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[n][j]), scale[j])), zy);
        // Saturating packs first, then [lo, hi] on the bytes: clamp(v, lo, hi) ==
        // clamp(sat_u8(sat_s16(v)), lo, hi) when 0 <= lo <= hi <= 255 (the caller's condition).
        __m512i v = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
        v = _mm512_min_epu8(_mm512_max_epu8(v, lo8), hi8);
        if (full) _mm512_storeu_si512(out + n * ostride, v);
        else _mm512_mask_storeu_epi8(out + n * ostride, m, v);
    }
}

/// The n output pixels of a row chunk, four at a time (KG_ / KW_ as in ck_dw8_quad_pixels).
CK_INLINE CK_DW_T void ck_dw8_row_pixels(const int KG_, const int KW_, const uint8_t *T, size_t tcols, size_t n, size_t sw,
    size_t dw, size_t KG, size_t KW, const int8_t *wq, const __m512i *init, const __m512 *scale, __m512i zy, __m512i lo8,
    __m512i hi8, uint8_t *o, size_t os, __mmask64 m, int full) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ck_dw8_quad_pixels(4, KG_, KW_, T, tcols, i * sw, sw, dw, KG, KW, wq, init, scale, zy, lo8, hi8, o + i * os, os, m, full);
    switch (n - i) {
    case 3: ck_dw8_quad_pixels(3, KG_, KW_, T, tcols, i * sw, sw, dw, KG, KW, wq, init, scale, zy, lo8, hi8, o + i * os, os, m, full); break;
    case 2: ck_dw8_quad_pixels(2, KG_, KW_, T, tcols, i * sw, sw, dw, KG, KW, wq, init, scale, zy, lo8, hi8, o + i * os, os, m, full); break;
    case 1: ck_dw8_quad_pixels(1, KG_, KW_, T, tcols, i * sw, sw, dw, KG, KW, wq, init, scale, zy, lo8, hi8, o + i * os, os, m, full); break;
    default: break;
    }
}

/// Stride 1, dilation 1, KG_ row quads of a KW_-wide kernel: the n output pixels of a row chunk,
/// one 16-channel slice j at a time, the T columns under a pixel held in registers and slid one
/// column per pixel (each T vector is loaded once, not once per kernel column), the slice's
/// weights in registers. Raw accumulators go to acc (n x 64 int32), then the epilogue as in
/// ck_dw8_quad_pixels. Same sums as ck_dw8_quad_pixels (wrapping int32: any order is exact).
CK_INLINE CK_DW_T void ck_dw8_row_sweep(const int KG_, const int KW_, const uint8_t *T, size_t tcols, size_t n,
    const int8_t *wq, const __m512i *init, const __m512 *scale, __m512i zy, __m512i lo8, __m512i hi8, uint8_t *o, size_t os,
    __mmask64 m, int full, int32_t *acc) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i w[2][5], x[2][5];
#pragma GCC unroll 2
        for (int kg = 0; kg < KG_; kg++)
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) {
                w[kg][kw] = _mm512_loadu_si512(wq + (kg * KW_ + kw) * 256 + 64 * j);
                if (kw < KW_ - 1) x[kg][kw] = _mm512_load_si512(T + (size_t)kg * tcols * 256 + (size_t)kw * 256 + 64 * j);
            }
        const uint8_t *t = T + (size_t)(KW_ - 1) * 256 + 64 * j;
        for (size_t i = 0; i < n; i++, t += 256) {
            __m512i a0 = init[j], a1 = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int kg = 0; kg < KG_; kg++) {
                x[kg][KW_ - 1] = _mm512_load_si512(t + (size_t)kg * tcols * 256);
#pragma GCC unroll 5
                for (int kw = 0; kw < KW_; kw++) {
                    if (kw & 1) a1 = _mm512_dpbusd_epi32(a1, x[kg][kw], w[kg][kw]);
                    else a0 = _mm512_dpbusd_epi32(a0, x[kg][kw], w[kg][kw]);
                }
#pragma GCC unroll 5
                for (int kw = 0; kw + 1 < KW_; kw++) x[kg][kw] = x[kg][kw + 1];
            }
            _mm512_store_si512(acc + i * 64 + 16 * j, _mm512_add_epi32(a0, a1));
        }
    }
    for (size_t i = 0; i < n; i++) {
        __m512i q[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(acc + i * 64 + 16 * j)), scale[j])), zy);
        __m512i v = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
        v = _mm512_min_epu8(_mm512_max_epu8(v, lo8), hi8);
        if (full) _mm512_storeu_si512(o + i * os, v);
        else _mm512_mask_storeu_epi8(o + i * os, m, v);
    }
}

/// One T column from the 64 channel bytes of its 4 rows: dword 4L + i of vector j gets the 4
/// rows' bytes of channel 16L + 4j + i (the byte-then-word unpacks give exactly this order).
CK_INLINE CK_DW_T void ck_dw8_store_column(__m512i r0, __m512i r1, __m512i r2, __m512i r3, uint8_t *t) {
    const __m512i a = _mm512_unpacklo_epi8(r0, r1), b = _mm512_unpackhi_epi8(r0, r1);
    const __m512i cc = _mm512_unpacklo_epi8(r2, r3), d = _mm512_unpackhi_epi8(r2, r3);
    _mm512_store_si512(t, _mm512_unpacklo_epi16(a, cc));
    _mm512_store_si512(t + 64, _mm512_unpackhi_epi16(a, cc));
    _mm512_store_si512(t + 128, _mm512_unpacklo_epi16(b, d));
    _mm512_store_si512(t + 192, _mm512_unpackhi_epi16(b, d));
}

/// Transposes, for one 64-channel group at channel c, input rows iy[0..3] (those outside the
/// image read as z_x) over input columns x0 * sw - pad_left + [0, tcols) into the quad tq (see
/// the top of the file).
CK_INLINE CK_DW_T void ck_dw8_transpose_quad(const ck_conv2d_u8s8_params *p, const uint8_t *input, size_t c, const ptrdiff_t *iy,
    size_t x0, size_t tcols, __mmask64 m, int full, __m512i zx, uint8_t *tq) {
    const ptrdiff_t ix0 = (ptrdiff_t)(x0 * p->stride_w) - (ptrdiff_t)p->pad_left;
    // Rows outside the image (or past the kernel) read as z_x; inside columns of inside rows
    // load directly (the branches are per row, hence predictable).
    const uint8_t *row[4];
    for (size_t r = 0; r < 4; r++)
        row[r] = iy[r] >= 0 && iy[r] < (ptrdiff_t)p->in_h ? input + (size_t)iy[r] * p->in_w * p->in_pixel_stride + c : NULL;
    const size_t ips = p->in_pixel_stride;
    for (size_t x = 0; x < tcols; x++) {
        const ptrdiff_t ix = ix0 + (ptrdiff_t)x;
        __m512i r0, r1, r2, r3;
        if (ix >= 0 && ix < (ptrdiff_t)p->in_w && full) {
            const size_t off = (size_t)ix * ips;
            r0 = row[0] ? _mm512_loadu_si512(row[0] + off) : zx;
            r1 = row[1] ? _mm512_loadu_si512(row[1] + off) : zx;
            r2 = row[2] ? _mm512_loadu_si512(row[2] + off) : zx;
            r3 = row[3] ? _mm512_loadu_si512(row[3] + off) : zx;
        } else {
            r0 = ck_dw8_row64(p, input, iy[0], ix, c, m, full, zx);
            r1 = ck_dw8_row64(p, input, iy[1], ix, c, m, full, zx);
            r2 = ck_dw8_row64(p, input, iy[2], ix, c, m, full, zx);
            r3 = ck_dw8_row64(p, input, iy[3], ix, c, m, full, zx);
        }
        ck_dw8_store_column(r0, r1, r2, r3, tq + x * 256);
    }
}

/// Like ck_dw8_transpose_quad for ck_dw8_map_pairs: T column x holds, per channel, input rows 0
/// and 1 at input column x0 * sw - pad_left + x, then the same rows dilation_w columns on.
CK_INLINE CK_DW_T void ck_dw8_transpose_pairs(const ck_conv2d_u8s8_params *p, const uint8_t *input, size_t c, size_t x0,
    size_t tcols, __mmask64 m, int full, __m512i zx, uint8_t *tq) {
    const ptrdiff_t ix0 = (ptrdiff_t)(x0 * p->stride_w) - (ptrdiff_t)p->pad_left, dw = (ptrdiff_t)p->dilation_w;
    for (size_t x = 0; x < tcols; x++) {
        const ptrdiff_t ix = ix0 + (ptrdiff_t)x;
        const __m512i r0 = ck_dw8_row64(p, input, 0, ix, c, m, full, zx), r1 = ck_dw8_row64(p, input, 1, ix, c, m, full, zx);
        const __m512i r2 = ck_dw8_row64(p, input, 0, ix + dw, c, m, full, zx), r3 = ck_dw8_row64(p, input, 1, ix + dw, c, m, full, zx);
        ck_dw8_store_column(r0, r1, r2, r3, tq + x * 256);
    }
}

/// Transposes, for one 64-channel group at channel c, the input rows under row quads 0..KG-1 of
/// output row oy (rows oy * stride_h - pad_top + 4kg + r, those with 4kg + r >= rows_used and
/// those outside the image reading as z_x) over input columns x0 * sw - pad_left + [0, tcols)
/// into T (see the top of the file).
CK_INLINE CK_DW_T void ck_dw8_transpose(const ck_conv2d_u8s8_params *p, const uint8_t *input, size_t c, size_t oy, size_t x0,
    size_t tcols, size_t KG, size_t rows_used, __mmask64 m, int full, __m512i zx, uint8_t *T) {
    for (size_t kg = 0; kg < KG; kg++) {
        ptrdiff_t iy[4];
        for (size_t r = 0; r < 4; r++) {
            const size_t kh = 4 * kg + r;
            iy[r] = kh < rows_used ? (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top : -1;
        }
        ck_dw8_transpose_quad(p, input, c, iy, x0, tcols, m, full, zx, T + kg * tcols * 256);
    }
}

/// The n output pixels at o (os bytes apart) of a transposed row chunk, with the first KG weight
/// quads wq: all of the kernel's, or with SHORT, those left after ck_dw8_quads_needed (a 5x5
/// kernel then has one or two).
CK_INLINE CK_DW_T void ck_dw8_row(const int SHORT, const ck_conv2d_u8s8_params *p, const uint8_t *T, size_t tcols, size_t n, size_t KG, const int8_t *wq,
    const __m512i *init, const __m512 *scale, __m512i zy, __m512i lo, __m512i hi, uint8_t *o, size_t os, __mmask64 m, int full,
    int32_t *acc) {
    const size_t KH = p->kernel_h, KW = p->kernel_w, sw = p->stride_w, dw = p->dilation_w;
    // The sweep pays its register setup per 16-channel slice: worth it on rows of 12+ pixels.
    if (sw == 1 && dw == 1 && KH == 5 && KW == 5 && n >= 12) {
        if (!SHORT || KG == 2) ck_dw8_row_sweep(2, 5, T, tcols, n, wq, init, scale, zy, lo, hi, o, os, m, full, acc);
        else ck_dw8_row_pixels(1, 5, T, tcols, n, sw, dw, KG, KW, wq, init, scale, zy, lo, hi, o, os, m, full);
    } else if (KH == 3 && KW == 3) ck_dw8_row_pixels(1, 3, T, tcols, n, sw, dw, KG, KW, wq, init, scale, zy, lo, hi, o, os, m, full);
    else ck_dw8_row_pixels(0, 0, T, tcols, n, sw, dw, KG, KW, wq, init, scale, zy, lo, hi, o, os, m, full);
}

/// How many of the KG row quads output row oy needs (rows_used of them read, as in
/// ck_dw8_transpose): the trailing quads whose rows all fall outside the image (a 5x5 kernel on a
/// map 2 or 3 rows high) read only z_x, so they are left out of the transposition and the sums.
CK_INLINE size_t ck_dw8_quads_needed(const ck_conv2d_u8s8_params *p, size_t oy, size_t KG, size_t rows_used) {
    size_t needed = KG;
    while (needed > 1) {
        int inside = 0;
        for (size_t kh = 4 * (needed - 1); kh < 4 * needed && kh < rows_used; kh++) {
            const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
            inside |= iy >= 0 && iy < (ptrdiff_t)p->in_h;
        }
        if (inside) break;
        needed--;
    }
    return needed;
}

/// The accumulator starts for a row that leaves out quads [KGn, KG) of wq: init plus those taps'
/// z_x * w (the starts subtract z_x times every tap's weight, and a left-out tap adds nothing), so
/// the sums are the same as with every quad.
CK_INLINE CK_DW_T void ck_dw8_start(const int8_t *wq, size_t KGn, size_t KG, size_t KW, __m512i zx, const __m512i *init, __m512i *start) {
    for (int j = 0; j < 4; j++) {
        start[j] = init[j];
        for (size_t kg = KGn; kg < KG; kg++)
            for (size_t kw = 0; kw < KW; kw++) start[j] = _mm512_dpbusd_epi32(start[j], zx, _mm512_loadu_si512(wq + (kg * KW + kw) * 256 + 64 * j));
    }
}

/// u8 output, any geometry: see the top of the file. SHORT: leave out the row quads of each row
/// that read only padding (ck_dw8_quads_needed); a separate instantiation, as the bookkeeping
/// slowed the kernel on ordinary maps by up to 13% (code generation, not work).
CK_INLINE CK_DW_T void ck_dw8_quads_impl(const int SHORT, const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, uint8_t *output, size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15, KH = p->kernel_h, KW = p->kernel_w, KG = (KH + 3) / 4;
    const size_t OW = p->out_w, sw = p->stride_w, dw = p->dilation_w;
    const int32_t *wsum = (const int32_t *)packed_weights + KH * KW * C16;
    const int8_t *quads = (const int8_t *)packed_weights + ck_dw8_quad_offset(p);
    const __m512i zx = _mm512_set1_epi8((char)p->input_zero_point);
    const __m512i zy = _mm512_set1_epi32(out->zero_point), lo = _mm512_set1_epi8((char)out->lo), hi = _mm512_set1_epi8((char)out->hi);
    // Output pixels per chunk of a row, so that their T columns fit the buffer.
    const size_t tcols_max = CK_DW8_TBYTES / (KG * 256);
    if (tcols_max < (KW - 1) * dw + 1) {
        ck_dw8_per_tap__avx512vnni(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
        return;
    }
    const size_t chunk = (tcols_max - (KW - 1) * dw - 1) / sw + 1;
    const int pairs = ck_dw8_row_pairs(p);
    uint8_t T[CK_DW8_TBYTES] __attribute__((aligned(64)));
    // Raw accumulators of a row chunk for ck_dw8_row_sweep (chunk <= tcols_max pixels).
    int32_t acc[CK_DW8_TBYTES / 256 * 64] __attribute__((aligned(64)));
    for (size_t c = 0; c < C; c += 64) {
        const size_t nc = C - c < 64 ? C - c : 64;
        const int full = nc == 64;
        const __mmask64 m = full ? ~(__mmask64)0 : _bzhi_u64(~0ULL, (unsigned)nc);
        // Accumulator starts and scales in the accumulators' channel order (dword 4L + i of
        // accumulator j is channel 16L + 4j + i).
        int32_t init_p[64] __attribute__((aligned(64)));
        float scale_p[64] __attribute__((aligned(64)));
        for (size_t j = 0; j < 4; j++)
            for (size_t d = 0; d < 16; d++) {
                const size_t ch = c + 16 * (d / 4) + 4 * j + d % 4;
                init_p[16 * j + d] = ch < C ? (int32_t)((bias ? (uint32_t)bias[ch] : 0u) - (uint32_t)p->input_zero_point * (uint32_t)wsum[ch]) : 0;
                scale_p[16 * j + d] = ch < C ? out->scale[ch] : 0.0f;
            }
        __m512i init[4];
        __m512 scale[4];
        for (int j = 0; j < 4; j++) {
            init[j] = _mm512_load_si512(init_p + 16 * j);
            scale[j] = _mm512_load_ps(scale_p + 16 * j);
        }
        const int8_t *wq = quads + (c / 64) * KG * KW * 256;
        const int8_t *wq1 = pairs ? wq + ck_dw8_quad_set_bytes(p) : NULL;
        size_t pix = pixel_begin;
        while (pix < pixel_end) {
            const size_t oy = pix / OW, ox0 = pix % OW;
            // Two whole output rows in the range: one transposition serves both. Otherwise columns
            // [ox0, end) of row oy.
            const int pair = pairs && ox0 == 0 && pixel_end - pix >= 2 * OW;
            const size_t end = pair || pixel_end - pix >= OW - ox0 ? OW : ox0 + (pixel_end - pix);
            const size_t rows_used = pair ? KH + p->stride_h : KH, os = p->out_pixel_stride;
            const size_t KGn = SHORT ? ck_dw8_quads_needed(p, oy, KG, rows_used) : KG;
            __m512i start[4], start1[4];
            const __m512i *s0 = init, *s1 = init;
            if (SHORT && KGn < KG) {
                ck_dw8_start(wq, KGn, KG, KW, zx, init, start);
                if (pair) ck_dw8_start(wq1, KGn, KG, KW, zx, init, start1);
                s0 = start;
                s1 = start1;
            }
            for (size_t x = ox0; x < end; ) {
                const size_t n = end - x < chunk ? end - x : chunk;
                // T columns: input columns x * sw - pad_left + [0, tcols).
                const size_t tcols = (n - 1) * sw + (KW - 1) * dw + 1;
                ck_dw8_transpose(p, input, c, oy, x, tcols, KGn, rows_used, m, full, zx, T);
                uint8_t *o = output + (oy * OW + x) * os + c;
                ck_dw8_row(SHORT, p, T, tcols, n, KGn, wq, s0, scale, zy, lo, hi, o, os, m, full, acc);
                if (pair) ck_dw8_row(SHORT, p, T, tcols, n, KGn, wq1, s1, scale, zy, lo, hi, o + OW * os, os, m, full, acc);
                x += n;
            }
            pix += pair ? 2 * OW : end - ox0;
        }
    }
}

static CK_DW_T void ck_dw8_quads(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, uint8_t *output, size_t pixel_begin, size_t pixel_end) {
    ck_dw8_quads_impl(0, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}
static CK_DW_T void ck_dw8_quads_short(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, uint8_t *output, size_t pixel_begin, size_t pixel_end) {
    ck_dw8_quads_impl(1, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}

/// u8 output of a map of at most 4 rows (ck_dw8_map_quads): per 64-channel group and chunk of
/// output columns, the map's rows transposed once as one quad (rows past the map read as z_x,
/// their weights 0), then every output row of the range over that chunk with its own weight
/// quads: one vpdpbusd quad per kernel column and 16 channels, whatever the kernel's height; a
/// map of at most 2 rows, one per pair of kernel columns (ck_dw8_map_pairs).
/// The accumulators start at bias - z_x * (the sum of the row's quads), the same sums as the
/// scalar twin's over the taps inside the image.
static CK_DW_T void ck_dw8_map(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights,
    const int32_t *bias, const ck_u8s8_output *out, uint8_t *output, size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = (C + 15) & ~(size_t)15, OW = p->out_w, sw = p->stride_w, dw = p->dilation_w;
    if (pixel_begin >= pixel_end) return;
    const size_t os = p->out_pixel_stride, set_bytes = ck_dw8_map_set_bytes(p);
    const int8_t *map = (const int8_t *)packed_weights + ck_dw8_map_offset(p);
    const int32_t *sums = (const int32_t *)(map + p->out_h * set_bytes);
    const __m512i zx = _mm512_set1_epi8((char)p->input_zero_point);
    const __m512i zy = _mm512_set1_epi32(out->zero_point), lo = _mm512_set1_epi8((char)out->lo), hi = _mm512_set1_epi8((char)out->hi);
    // Kernel columns as the row kernels see them: column pairs (ck_dw8_map_pairs) step two
    // columns of T, each holding its partner column.
    const int pairs = ck_dw8_map_pairs(p);
    const size_t KWm = ck_dw8_map_columns(p), xd = pairs ? 2 * dw : dw;
    const size_t tcols_max = CK_DW8_TBYTES / 256;
    if (tcols_max < (KWm - 1) * xd + 1) {
        ck_dw8_per_tap__avx512vnni(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
        return;
    }
    const size_t chunk = (tcols_max - (KWm - 1) * xd - 1) / sw + 1;
    uint8_t T[CK_DW8_TBYTES] __attribute__((aligned(64)));
    const ptrdiff_t rows[4] = {0, 1, 2, 3};
    const size_t oy_first = pixel_begin / OW, oy_last = (pixel_end - 1) / OW;
    const size_t x_first = oy_first == oy_last ? pixel_begin % OW : 0, x_end = oy_first == oy_last ? (pixel_end - 1) % OW + 1 : OW;
    for (size_t c = 0; c < C; c += 64) {
        const size_t nc = C - c < 64 ? C - c : 64;
        const int full = nc == 64;
        const __mmask64 m = full ? ~(__mmask64)0 : _bzhi_u64(~0ULL, (unsigned)nc);
        // Scales and each output row's accumulator starts in the accumulators' channel order
        // (dword 4L + i of accumulator j is channel 16L + 4j + i).
        float scale_p[64] __attribute__((aligned(64)));
        int32_t init_p[8][64] __attribute__((aligned(64)));
        for (size_t j = 0; j < 4; j++)
            for (size_t d = 0; d < 16; d++) {
                const size_t ch = c + 16 * (d / 4) + 4 * j + d % 4;
                scale_p[16 * j + d] = ch < C ? out->scale[ch] : 0.0f;
                for (size_t oy = oy_first; oy <= oy_last; oy++)
                    init_p[oy][16 * j + d] = ch < C
                        ? (int32_t)((bias ? (uint32_t)bias[ch] : 0u) - (uint32_t)p->input_zero_point * (uint32_t)sums[oy * C16 + ch]) : 0;
            }
        __m512 scale[4];
        for (int j = 0; j < 4; j++) scale[j] = _mm512_load_ps(scale_p + 16 * j);
        for (size_t x0 = x_first; x0 < x_end; x0 += chunk) {
            const size_t n0 = x_end - x0 < chunk ? x_end - x0 : chunk;
            const size_t tcols = (n0 - 1) * sw + (KWm - 1) * xd + 1;
            if (pairs) ck_dw8_transpose_pairs(p, input, c, x0, tcols, m, full, zx, T);
            else ck_dw8_transpose_quad(p, input, c, rows, x0, tcols, m, full, zx, T);
            for (size_t oy = oy_first; oy <= oy_last; oy++) {
                const size_t ra = oy == oy_first ? pixel_begin - oy * OW : 0, rb = oy == oy_last ? pixel_end - oy * OW : OW;
                const size_t a = ra > x0 ? ra : x0, b = rb < x0 + n0 ? rb : x0 + n0;
                if (a >= b) continue;
                __m512i init[4];
                for (int j = 0; j < 4; j++) init[j] = _mm512_load_si512(init_p[oy] + 16 * j);
                const int8_t *wq = map + oy * set_bytes + (c / 64) * KWm * 256;
                const uint8_t *t = T + (a - x0) * sw * 256;
                uint8_t *o = output + (oy * OW + a) * os + c;
                if (KWm == 5) ck_dw8_row_pixels(1, 5, t, tcols, b - a, sw, xd, 1, KWm, wq, init, scale, zy, lo, hi, o, os, m, full);
                else if (KWm == 3) ck_dw8_row_pixels(1, 3, t, tcols, b - a, sw, xd, 1, KWm, wq, init, scale, zy, lo, hi, o, os, m, full);
                else ck_dw8_row_pixels(1, 0, t, tcols, b - a, sw, xd, 1, KWm, wq, init, scale, zy, lo, hi, o, os, m, full);
            }
        }
    }
}

/// Whether most output rows of [pixel_begin, pixel_end) need fewer row quads than the kernel has
/// (maps a few rows high under a 5x5 or 7x7 kernel), so that ck_dw8_quads_short pays.
static int ck_dw8_mostly_short(const ck_conv2d_u8s8_params *p, size_t pixel_begin, size_t pixel_end) {
    const size_t KG = (p->kernel_h + 3) / 4;
    if (KG < 2 || pixel_end <= pixel_begin) return 0;
    const size_t first = pixel_begin / p->out_w, last = (pixel_end - 1) / p->out_w;
    size_t short_rows = 0;
    for (size_t oy = first; oy <= last; oy++) short_rows += ck_dw8_quads_needed(p, oy, KG, p->kernel_h) < KG;
    return 2 * short_rows >= last - first + 1;
}

CK_DW_T void ck_dwconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    // The quad kernel's packs restore byte order without clamping: codes must lie in [0, 255].
    // It works on 64-channel groups: with few channels most of its lanes are padding, and the
    // per-tap kernel (16-channel blocks) is faster. Measured on Zen 4 (3x3, 56x56 input, us per
    // image, quads / per-tap): 16 channels 29.5 / 21.2 at stride 1 and 12.8 / 6.1 at stride 2;
    // 32 channels 29.2 / 38.5 and 13.2 / 12.0; 48 channels 31.9 / 55.3 and 13.9 / 15.8.
    const int few_channels = p->groups <= 16 || (p->groups <= 32 && p->stride_w > 1);
    if (!few_channels && out->mode == CK_U8S8_OUT_U8 && out->lo >= 0 && out->lo <= out->hi && out->hi <= 255) {
        if (ck_dw8_map_quads(p)) ck_dw8_map(p, input, packed_weights, bias, out, (uint8_t *)output, pixel_begin, pixel_end);
        else if (ck_dw8_mostly_short(p, pixel_begin, pixel_end)) ck_dw8_quads_short(p, input, packed_weights, bias, out, (uint8_t *)output, pixel_begin, pixel_end);
        else ck_dw8_quads(p, input, packed_weights, bias, out, (uint8_t *)output, pixel_begin, pixel_end);
    }
    else ck_dw8_per_tap__avx512vnni(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}
#else
void ck_dwconv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end) {
    ck_dwconv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end);
}
#endif
