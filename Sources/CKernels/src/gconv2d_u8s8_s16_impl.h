// The small-group kernel in the s16 form (gconv2d_u8s8_internal.h), written once for the ymm
// (avx2: 8 lanes) and zmm (avx512bw: 16 lanes) paths: for each tap the input bytes of a tile's
// groups are loaded once (at most 2 * lanes bytes), zero-extended to u16 (vpmovzxbw), and for
// each step s a vpermd puts into lane o the (x[2m], x[2m+1]) pair of its own group, for one
// vpmaddwd with the lane's s16 weight pair (|2 * 255 * 128| < 2^31: exact for any 8-bit
// weights, where vpmaddubsw would saturate) and one vpaddd:
//   acc[o] = bias[o] - z_x * wsum[o] + sum over taps and pairs m of x[group(o), 2m..2m+1] . w[o, 2m..2m+1]
// Taps in the padding multiply z_x (cancelled by the start value), so the result is the scalar
// twin's wrapping int32 accumulator, then the same epilogue.
//
// The including file defines: CK_G_T (target attribute), CK_G_VEC (__m256i / __m512i), CK_G_LANES,
// CK_G_LOAD(p, span, ok) (the tile's bytes at p widened to u16; ok: 2 * lanes bytes from p are
// inside the input), CK_G_PERM(idx, x), CK_G_MADD, CK_G_ADD, CK_G_LOADV, CK_G_SET1_16,
// CK_G_STORE(o, acc, output, n, c, full) (the epilogue of one pixel's lanes at element n of the
// output, channels [c, c + lanes)), CK_G_NAME (the entry point) and CK_G_FORM (its form).

/// Tile t of NP (1..4) output pixels from pix: one accumulator per pixel, so the tap's weights
/// and the tile's permutations are loaded once for all of them. S pairs per group (compile-time
/// 2, 4, 6 or 8).
CK_INLINE CK_G_T void ck_g16_pixels(const int NP, const int S, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l,
    const uint8_t *input, size_t limit, const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output,
    size_t pix, size_t t, CK_G_VEC zx) {
    const uint8_t *W = packed + t * l->taps * (size_t)S * CK_G_LANES * 4;
    const int32_t *idxp = (const int32_t *)(packed + l->idx_off) + t * (size_t)S * CK_G_LANES;
    const int32_t base = ((const int32_t *)(packed + l->base_off))[t], span = ((const int32_t *)(packed + l->span_off))[t];
    const size_t OW = p->out_w;
    CK_G_VEC idx[8];
#pragma GCC unroll 8
    for (int s = 0; s < S; s++) idx[s] = CK_G_LOADV(idxp + CK_G_LANES * s);
    ptrdiff_t iy0[4], ix0[4];
    CK_G_VEC acc[4];
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) {
        iy0[n] = (ptrdiff_t)(((pix + n) / OW) * p->stride_h) - (ptrdiff_t)p->pad_top;
        ix0[n] = (ptrdiff_t)(((pix + n) % OW) * p->stride_w) - (ptrdiff_t)p->pad_left;
        acc[n] = CK_G_LOADV(init + CK_G_LANES * t);
    }
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w, ips = (ptrdiff_t)p->in_pixel_stride;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const ptrdiff_t dy = (ptrdiff_t)(kh * p->dilation_h);
        for (size_t kw = 0; kw < p->kernel_w; kw++, W += (size_t)S * CK_G_LANES * 4) {
            const ptrdiff_t dx = (ptrdiff_t)(kw * p->dilation_w);
#pragma GCC unroll 4
            for (int n = 0; n < NP; n++) {
                const ptrdiff_t iy = iy0[n] + dy, ix = ix0[n] + dx;
                CK_G_VEC x = zx;
                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                    const size_t off = (size_t)((iy * in_w + ix) * ips + base);
                    x = CK_G_LOAD(input + off, (size_t)span, off + 2 * CK_G_LANES <= limit);
                }
#pragma GCC unroll 8
                for (int s = 0; s < S; s++)
                    acc[n] = CK_G_ADD(acc[n], CK_G_MADD(CK_G_PERM(idx[s], x), CK_G_LOADV((const int32_t *)(W + (size_t)s * CK_G_LANES * 4))));
            }
        }
    }
    const size_t C = p->groups * p->cout_per_group, c = CK_G_LANES * t;
    const size_t n_ch = C - c < CK_G_LANES ? C - c : CK_G_LANES;
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) CK_G_STORE(o, acc[n], output, (pix + n) * p->out_pixel_stride + c, c, n_ch);
}

CK_INLINE CK_G_T void ck_g16_run(const int S, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *input,
    const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output, size_t pixel_begin, size_t pixel_end) {
    const CK_G_VEC zx = CK_G_SET1_16((short)p->input_zero_point);
    // Bytes of the input: a whole-vector load from byte off is inside it when off + 2 * lanes <= limit.
    const size_t limit = (p->in_h * p->in_w - 1) * p->in_pixel_stride + p->groups * p->cin_per_group;
    // Blocks of 32 pixels, every tile of a block before the next: the block's input stays in L1.
    for (size_t b = pixel_begin; b < pixel_end; b += 32) {
        const size_t e = pixel_end - b < 32 ? pixel_end : b + 32;
        for (size_t t = 0; t < l->tiles; t++) {
            size_t pix = b;
            for (; pix + 4 <= e; pix += 4) ck_g16_pixels(4, S, p, l, input, limit, packed, init, o, output, pix, t, zx);
            for (; pix < e; pix++) ck_g16_pixels(1, S, p, l, input, limit, packed, init, o, output, pix, t, zx);
        }
    }
}

CK_G_T void CK_G_NAME(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights, const int32_t *bias,
    const ck_u8s8_output *out, void *output, size_t pixel_begin, size_t pixel_end) {
    const ck_g8_layout l = ck_g8_layout_of(&CK_G_FORM, p);
    const uint8_t *packed = (const uint8_t *)packed_weights;
    int32_t init[16 * 64] __attribute__((aligned(64)));
    int32_t *start = l.tiles * l.lanes <= 16 * 64 ? init : (int32_t *)__builtin_alloca(l.tiles * l.lanes * 4);
    ck_g8_start_values(p, &l, packed, bias, start);
    switch (l.S) {
    case 2: ck_g16_run(2, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    case 4: ck_g16_run(4, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    case 6: ck_g16_run(6, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    default: ck_g16_run(8, p, &l, input, packed, start, out, output, pixel_begin, pixel_end); break;
    }
}
