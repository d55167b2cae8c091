// im2col gather of the INT8 conv2d kernels into the K-chunked row-block layout of
// conv2d_u8s8_internal.h (padded taps hold z_x; the K..K4 padding holds 0). Included by the
// SIMD files after they define CK_Q8_T, CK_INLINE, ck_q8_copy(dst, src, n, src_end) / ck_q8_fill (may write up to
// 63 bytes past n: rows of one chunk have 64 bytes of slack) and ck_q8_copy_exact /
// ck_q8_fill_exact (for rows split into chunks).
/// Writes n bytes (src, or the byte `fill` if src == NULL) into A row `row` at k = kpos.
/// CHUNKED == 0: the caller guarantees K4 <= CK_Q8_KC (the row is one chunk).
CK_INLINE CK_Q8_T void ck_q8_put(const int CHUNKED, uint8_t *row, size_t kpos, const uint8_t *src, size_t n,
    uint8_t fill, const uint8_t *src_end) {
    if (!CHUNKED) {
        if (src) ck_q8_copy(row + kpos, src, n, src_end);
        else ck_q8_fill(row + kpos, fill, n);
        return;
    }
    while (n > 0) {
        const size_t off = kpos % CK_Q8_KC;
        size_t len = CK_Q8_KC - off;
        if (len > n) len = n;
        uint8_t *dst = row + (kpos / CK_Q8_KC) * CK_Q8_ACHUNK + off;
        if (src) {
            ck_q8_copy_exact(dst, src, len);
            src += len;
        } else {
            ck_q8_fill_exact(dst, fill, len);
        }
        kpos += len;
        n -= len;
    }
}

/// KH kernel rows of <= 32 bytes each (rs bytes apart in the input) into one im2col row, S bytes
/// apart there (ck_q8_seg): every load first, then the stores (see the fast path below).
CK_INLINE CK_Q8_T void ck_q8_gather_rows(const int KH, uint8_t *row, size_t S, const uint8_t *src, size_t rs) {
    __m256i v[8];
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; kh++) v[kh] = _mm256_loadu_si256((const __m256i *)(src + kh * rs));
#pragma GCC unroll 8
    for (int kh = 0; kh < KH; kh++) _mm256_storeu_si256((__m256i *)(row + kh * S), v[kh]);
}

/// KH kernel rows of 33..128 bytes each (rs bytes apart in the input) into one im2col row, a
/// kernel row at a time: its 32-byte pieces loaded, then stored (the last one spills into the
/// next row's place, rewritten next, or the slack).
CK_INLINE CK_Q8_T void ck_q8_gather_long_rows(size_t KH, uint8_t *row, size_t rowlen, const uint8_t *src, size_t rs) {
    const size_t pieces = (rowlen + 31) / 32;
    for (size_t kh = 0; kh < KH; kh++) {
        const uint8_t *s = src + kh * rs;
        uint8_t *d = row + kh * rowlen;   // (never segmented: rows of 33 bytes or more)
        const __m256i a = _mm256_loadu_si256((const __m256i *)s), b = _mm256_loadu_si256((const __m256i *)(s + 32));
        if (pieces == 2) {
            _mm256_storeu_si256((__m256i *)d, a);
            _mm256_storeu_si256((__m256i *)(d + 32), b);
            continue;
        }
        const __m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
        if (pieces == 3) {
            _mm256_storeu_si256((__m256i *)d, a);
            _mm256_storeu_si256((__m256i *)(d + 32), b);
            _mm256_storeu_si256((__m256i *)(d + 64), c);
            continue;
        }
        const __m256i e = _mm256_loadu_si256((const __m256i *)(s + 96));
        _mm256_storeu_si256((__m256i *)d, a);
        _mm256_storeu_si256((__m256i *)(d + 32), b);
        _mm256_storeu_si256((__m256i *)(d + 64), c);
        _mm256_storeu_si256((__m256i *)(d + 96), e);
    }
}

/// Gathers the im2col rows of output pixels [p0, p0 + mr) of group g into the row block A.
CK_INLINE CK_Q8_T void ck_q8_pack_a_impl(const int CHUNKED, const ck_conv2d_u8s8_params *p,
    const uint8_t *input, size_t g, size_t p0, size_t mr, uint8_t *A) {
    const size_t cin = p->cin_per_group, KW = p->kernel_w, KH = p->kernel_h;
    const size_t ips = p->in_pixel_stride, K = ck_q8_k(p), K4 = ck_q8_k4(p);
    const int contiguous = p->dilation_w == 1 && ips == cin;
    const ptrdiff_t in_h = (ptrdiff_t)p->in_h, in_w = (ptrdiff_t)p->in_w;
    const uint8_t zx = (uint8_t)p->input_zero_point;
    const uint8_t *in_g = input + g * cin;
    // One past the last byte of the input tensor (strided pixels of groups * cin channels).
    const uint8_t *in_end = input + (p->in_h * p->in_w - 1) * ips + p->groups * cin;
    // Bytes of a kernel row, and of its place in the im2col row (more when segmented).
    const size_t rowlen = KW * cin, S = ck_q8_seg(p);
    size_t oy = p0 / p->out_w, ox = p0 % p->out_w;
    // Whole block in one output row, every tap of its first and last pixel inside the image: the
    // fast path below holds for each of its pixels, so the per-pixel checks are hoisted out
    // (ResNet-18's 7x7 stem: 681 -> 639 us in int8_conv_layers).
    if (!CHUNKED && contiguous && rowlen <= 32 && (KH == 3 || KH == 5 || KH == 7) && ox + mr <= p->out_w) {
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
        const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
        const ptrdiff_t ix_last = ix0 + (ptrdiff_t)((mr - 1) * p->stride_w);
        const size_t rs = p->dilation_h * p->in_w * ips, step = p->stride_w * ips;
        if (iy0 >= 0 && iy0 + (ptrdiff_t)((KH - 1) * p->dilation_h) < in_h && ix0 >= 0 && ix_last + (ptrdiff_t)KW <= in_w) {
            const uint8_t *src = in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips;
            if (src + (mr - 1) * step + (KH - 1) * rs + 32 <= in_end) {
                switch (KH) {
                case 7: for (size_t i = 0; i < mr; i++) ck_q8_gather_rows(7, A + i * CK_Q8_KCS, S, src + i * step, rs); break;
                case 5: for (size_t i = 0; i < mr; i++) ck_q8_gather_rows(5, A + i * CK_Q8_KCS, S, src + i * step, rs); break;
                default: for (size_t i = 0; i < mr; i++) ck_q8_gather_rows(3, A + i * CK_Q8_KCS, S, src + i * step, rs); break;
                }
                return;
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        uint8_t *row = A + i * CK_Q8_KCS;
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * p->stride_w) - (ptrdiff_t)p->pad_left;
        const ptrdiff_t iy0 = (ptrdiff_t)(oy * p->stride_h) - (ptrdiff_t)p->pad_top;
        // Fast path: every tap inside the image, contiguous kernel rows of <= 32 bytes, one chunk:
        // all loads of the row first, then the stores (interleaved load/store pairs were ~2x slower:
        // the loads wait on the preceding overlapping stores, Zen 4 memory-dependence prediction).
        // The 32-byte stores spill past a segment into the next one (rewritten next) or the slack.
        if (!CHUNKED && contiguous && rowlen <= 32 && KH <= 8 && iy0 >= 0 && iy0 + (ptrdiff_t)((KH - 1) * p->dilation_h) < in_h &&
            ix0 >= 0 && ix0 + (ptrdiff_t)KW <= in_w) {
            const uint8_t *src = in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips;
            const size_t rs = p->dilation_h * p->in_w * ips;
            if (src + (KH - 1) * rs + 32 <= in_end) {
                // Constant trip counts for the common kernel heights keep the rows in registers.
                switch (KH) {
                case 1: ck_q8_gather_rows(1, row, S, src, rs); break;
                case 3: ck_q8_gather_rows(3, row, S, src, rs); break;
                case 5: ck_q8_gather_rows(5, row, S, src, rs); break;
                case 7: ck_q8_gather_rows(7, row, S, src, rs); break;
                default: ck_q8_gather_rows((int)KH, row, S, src, rs); break;
                }
                // Bytes K..K4 (if any) hold whatever the last 32-byte store left there: their
                // weights are 0, so they add nothing (and a zero weight cannot saturate a pair).
                if (++ox == p->out_w) { ox = 0; oy++; }
                continue;
            }
        }
        // The same for kernel rows of 33..128 bytes (MTCNN R-Net's 3x3 over 28 channels: the
        // general path below was 40% of that layer).
        if (!CHUNKED && contiguous && rowlen > 32 && rowlen <= 128 && iy0 >= 0 &&
            iy0 + (ptrdiff_t)((KH - 1) * p->dilation_h) < in_h && ix0 >= 0 && ix0 + (ptrdiff_t)KW <= in_w) {
            const uint8_t *src = in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips;
            const size_t rs = p->dilation_h * p->in_w * ips;
            if (src + (KH - 1) * rs + (rowlen + 31) / 32 * 32 <= in_end) {
                ck_q8_gather_long_rows(KH, row, rowlen, src, rs);
                if (++ox == p->out_w) { ox = 0; oy++; }
                continue;
            }
        }
        if (KH == 1 && KW == 1) {
            if (iy0 < 0 || iy0 >= in_h || ix0 < 0 || ix0 >= in_w) ck_q8_put(CHUNKED, row, 0, NULL, K, zx, in_end);
            else ck_q8_put(CHUNKED, row, 0, in_g + ((size_t)iy0 * p->in_w + (size_t)ix0) * ips, K, zx, in_end);
        } else {
            for (size_t kh = 0; kh < KH; kh++) {
                const size_t kpos = kh * S;   // bytes rowlen..S of the segment have zero weights
                const ptrdiff_t iy = iy0 + (ptrdiff_t)(kh * p->dilation_h);
                if (iy < 0 || iy >= in_h) {
                    ck_q8_put(CHUNKED, row, kpos, NULL, rowlen, zx, in_end);
                    continue;
                }
                const uint8_t *in_row = in_g + (size_t)iy * p->in_w * ips;
                if (contiguous) {
                    ptrdiff_t lo = -ix0, hi = in_w - ix0;
                    if (lo < 0) lo = 0;
                    if (hi > (ptrdiff_t)KW) hi = (ptrdiff_t)KW;
                    if (hi < lo) hi = lo = (ptrdiff_t)KW;
                    if (lo > 0) ck_q8_put(CHUNKED, row, kpos, NULL, (size_t)lo * cin, zx, in_end);
                    if (hi > lo)
                        ck_q8_put(CHUNKED, row, kpos + (size_t)lo * cin, in_row + (size_t)(ix0 + lo) * cin,
                            (size_t)(hi - lo) * cin, zx, in_end);
                    if ((size_t)hi < KW)
                        ck_q8_put(CHUNKED, row, kpos + (size_t)hi * cin, NULL, (KW - (size_t)hi) * cin, zx, in_end);
                } else {
                    for (size_t kw = 0; kw < KW; kw++) {
                        const ptrdiff_t ix = ix0 + (ptrdiff_t)(kw * p->dilation_w);
                        if (ix < 0 || ix >= in_w) ck_q8_put(CHUNKED, row, kpos + kw * cin, NULL, cin, zx, in_end);
                        else ck_q8_put(CHUNKED, row, kpos + kw * cin, in_row + (size_t)ix * ips, cin, zx, in_end);
                    }
                }
            }
        }
        if (K4 > K) ck_q8_put(CHUNKED, row, K, NULL, K4 - K, 0, in_end); // k padding (zero weights)
        if (++ox == p->out_w) {
            ox = 0;
            oy++;
        }
    }
}

static CK_Q8_T void ck_q8_pack_a(const ck_conv2d_u8s8_params *p, const uint8_t *input, size_t g,
    size_t p0, size_t mr, uint8_t *A) {
    if (ck_q8_k4(p) <= CK_Q8_KC) ck_q8_pack_a_impl(0, p, input, g, p0, mr, A);
    else ck_q8_pack_a_impl(1, p, input, g, p0, mr, A);
}

