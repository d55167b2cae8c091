// The small-group kernel (gconv2d_u8s8_internal.h), written once for every path: a tile of
// `lanes` output channels spans one or more whole groups; for each tap the input bytes of those
// groups are loaded once, and for each step s a vpermd puts into lane o one dword of its own
// group's input, for one multiply-accumulate with the lane's weight dword:
//   s8 form (avx512vnni): 4 input bytes . 4 s8 weights, one vpdpbusd;
//   s16 form (avx512bw, avx2): the bytes widened to u16 at the load (vpmovzxbw), a (x[2m],
//   x[2m+1]) pair . 2 s16 weights, one vpmaddwd (|2 * 255 * 128| < 2^31: exact for any 8-bit
//   weights, where vpmaddubsw would saturate) and one vpaddd.
//   acc[o] = bias[o] - z_x * wsum[o] + sum over taps and steps of x[group(o), ...] . w[o, ...]
// Taps in the padding multiply z_x (cancelled by the start value), so the result is the scalar
// twin's wrapping int32 accumulator, then the same epilogue.
//
// The including file defines: CK_G_T (target attribute), CK_G_VEC (__m256i / __m512i), CK_G_LANES,
// CK_G_SPAN_T and CK_G_SPAN(span) (what a load needs of the tile's span, made once per tile: a mask
// or the length), CK_G_LOAD(p, sp, ok) (the tile's span bytes at p, widened in the s16 form; ok:
// CK_G_LOAD_BYTES bytes from p are inside the input), CK_G_LOAD_BYTES, CK_G_ZX(z) (z_x as the loads give it),
// CK_G_PERM(idx, x), CK_G_STEP(acc, x, w) (one multiply-accumulate), CK_G_LOADV, the epilogue:
// CK_G_EPI (its per-tile state), CK_G_EPI_AT(o, c, n) (for channels [c, c + n)) and
// CK_G_STORE(o, &e, acc, output, at) (one pixel's lanes at element `at` of the output), and
// CK_G_NAME (the entry point) and CK_G_FORM (its form).

/// Tile t of NP (1..4) output pixels from pix, its accumulators starting at init[0 .. lanes): one
/// accumulator per pixel, so the tap's weights and the tile's permutations are loaded once for
/// all of them. S steps per group (compile-time
/// 1..8: cin / 4 in the s8 form, cin / 2 in the s16 form).
CK_INLINE CK_G_T void ck_g_pixels(const int NP, const int S, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l,
    const uint8_t *input, size_t limit, const uint8_t *packed, const int32_t *init, const ck_u8s8_output *o, void *output,
    size_t pix, size_t t, CK_G_VEC zx) {
    const uint8_t *W = packed + t * l->taps * (size_t)S * CK_G_LANES * 4;
    const int32_t *idxp = (const int32_t *)(packed + l->idx_off) + t * (size_t)S * CK_G_LANES;
    const int32_t base = ((const int32_t *)(packed + l->base_off))[t];
    const CK_G_SPAN_T sp = CK_G_SPAN((size_t)((const int32_t *)(packed + l->span_off))[t]);
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
        acc[n] = CK_G_LOADV(init);
    }
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w, ips = (ptrdiff_t)p->in_pixel_stride;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const ptrdiff_t dy = (ptrdiff_t)(kh * p->dilation_h);
        for (size_t kw = 0; kw < p->kernel_w; kw++, W += (size_t)S * CK_G_LANES * 4) {
            const ptrdiff_t dx = (ptrdiff_t)(kw * p->dilation_w);
            CK_G_VEC w[8];
#pragma GCC unroll 8
            for (int s = 0; s < S; s++) w[s] = CK_G_LOADV((const int32_t *)(W + (size_t)s * CK_G_LANES * 4));
#pragma GCC unroll 4
            for (int n = 0; n < NP; n++) {
                const ptrdiff_t iy = iy0[n] + dy, ix = ix0[n] + dx;
                CK_G_VEC x = zx;
                if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                    const size_t off = (size_t)((iy * in_w + ix) * ips + base);
                    x = CK_G_LOAD(input + off, sp, off + CK_G_LOAD_BYTES <= limit);
                }
#pragma GCC unroll 8
                for (int s = 0; s < S; s++) acc[n] = CK_G_STEP(acc[n], CK_G_PERM(idx[s], x), w[s]);
            }
        }
    }
    const size_t C = p->groups * p->cout_per_group, c = CK_G_LANES * t;
    const CK_G_EPI e = CK_G_EPI_AT(o, c, C - c < CK_G_LANES ? C - c : CK_G_LANES);
#pragma GCC unroll 4
    for (int n = 0; n < NP; n++) CK_G_STORE(o, &e, acc[n], output, (pix + n) * p->out_pixel_stride + c);
}

CK_INLINE CK_G_T void ck_g_run(const int S, const ck_conv2d_u8s8_params *p, const ck_g8_layout *l, const uint8_t *input,
    const uint8_t *packed, const int32_t *bias, const ck_u8s8_output *o, void *output, size_t pixel_begin, size_t pixel_end) {
    const CK_G_VEC zx = CK_G_ZX(p->input_zero_point);
    // Bytes of the input: a whole load from byte off is inside it when off + CK_G_LOAD_BYTES <= limit.
    const size_t limit = (p->in_h * p->in_w - 1) * p->in_pixel_stride + p->groups * p->cin_per_group;
    int32_t init[CK_G_LANES] __attribute__((aligned(64)));
    // Blocks of 32 pixels, every tile of a block before the next: the block's input stays in L1.
    for (size_t b = pixel_begin; b < pixel_end; b += 32) {
        const size_t e = pixel_end - b < 32 ? pixel_end : b + 32;
        for (size_t t = 0; t < l->tiles; t++) {
            ck_g8_tile_start(p, l, packed, bias, t, init);
            size_t pix = b;
            for (; pix + 4 <= e; pix += 4) ck_g_pixels(4, S, p, l, input, limit, packed, init, o, output, pix, t, zx);
            for (; pix < e; pix++) ck_g_pixels(1, S, p, l, input, limit, packed, init, o, output, pix, t, zx);
        }
    }
}

CK_G_T void CK_G_NAME(const ck_conv2d_u8s8_params *p, const uint8_t *input, const void *packed_weights, const int32_t *bias,
    const ck_u8s8_output *out, void *output, size_t pixel_begin, size_t pixel_end) {
    const ck_g8_layout l = ck_g8_layout_of(&CK_G_FORM, p);
    const uint8_t *packed = (const uint8_t *)packed_weights;
    switch (l.S) {
    case 1: ck_g_run(1, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    case 2: ck_g_run(2, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    case 3: ck_g_run(3, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    case 4: ck_g_run(4, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    case 6: ck_g_run(6, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    default: ck_g_run(8, p, &l, input, packed, bias, out, output, pixel_begin, pixel_end); break;
    }
}
