// Winograd F(2x2, 3x3) for FP32 3x3 convolutions of stride 1, dilation 1, one group: the
// driver and the input/output transforms, written once and compiled per path (CK_WINO_TARGET,
// CK_WINO_SUFFIX) by wino3x3_f32_{scalar,avx2,avx512}.c. Each output 2x2 tile is
//     Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A
// the 16 element-wise products summed over channels being 16 GEMMs, run as one grouped 1x1
// convolution (16 groups, K = cin, N = cout) on the path's own FP32 GEMM kernel. The transforms
// only add and subtract, in a fixed order per element, and the channel loops vectorize across
// channels without reassociation: every path computes the same transforms, and each output
// pixel's value does not depend on which pixel range (thread) computes it, because its tile is
// fixed by the image (tiles start at even rows and columns) and the GEMM's row sums do not
// depend on the row's position.
#include <string.h>
#include "ck_fp32.h"
#include "wino3x3_f32_internal.h"

#define CK_WINO_CAT2(a, b) a##b
#define CK_WINO_CAT(a, b) CK_WINO_CAT2(a, b)
#define CK_WINO_FN(name) CK_WINO_CAT(name, CK_WINO_SUFFIX)

/// B^T d B of tiles [t0, t1) (tile t = ty * tiles_w + tx) into V: tile i of the block, element
/// (r, s) of its 4x4 transform, channel c at V[(i * 16 + r * 4 + s) * cin + c].
static CK_WINO_TARGET void CK_WINO_FN(ck_wino_input_)(const ck_conv2d_f32_params *p, const float *input, size_t t0, size_t t1,
                                                      const float *zeros, float *V) {
    const size_t cin = p->cin_per_group, tiles_w = ck_wino_tiles_w(p);
    for (size_t t = t0; t < t1; t++) {
        const size_t ty = t / tiles_w, tx = t % tiles_w;
        const float *d[16];
        for (size_t r = 0; r < 4; r++) {
            const ptrdiff_t y = (ptrdiff_t)(ty * 2 + r) - (ptrdiff_t)p->pad_top;
            for (size_t s = 0; s < 4; s++) {
                const ptrdiff_t x = (ptrdiff_t)(tx * 2 + s) - (ptrdiff_t)p->pad_left;
                d[r * 4 + s] = (y < 0 || x < 0 || y >= (ptrdiff_t)p->in_h || x >= (ptrdiff_t)p->in_w)
                    ? zeros : input + ((size_t)y * p->in_w + (size_t)x) * p->in_pixel_stride;
            }
        }
        float *v = V + (t - t0) * 16 * cin;
        // V never overlaps the input (scratch): vectorize across channels without alias checks.
#pragma clang loop vectorize(assume_safety)
        for (size_t c = 0; c < cin; c++) {
            // Columns: B^T d (rows r of d combined), then rows: (B^T d) B.
            float m[4][4];
            for (size_t s = 0; s < 4; s++) {
                const float d0 = d[s][c], d1 = d[4 + s][c], d2 = d[8 + s][c], d3 = d[12 + s][c];
                m[0][s] = d0 - d2;
                m[1][s] = d1 + d2;
                m[2][s] = d2 - d1;
                m[3][s] = d1 - d3;
            }
            for (size_t r = 0; r < 4; r++) {
                v[(r * 4 + 0) * cin + c] = m[r][0] - m[r][2];
                v[(r * 4 + 1) * cin + c] = m[r][1] + m[r][2];
                v[(r * 4 + 2) * cin + c] = m[r][2] - m[r][1];
                v[(r * 4 + 3) * cin + c] = m[r][1] - m[r][3];
            }
        }
    }
}

/// A^T M A of tiles [t0, t1) with bias, residual and clamp, written for the output pixels of
/// [pixel_begin, pixel_end) only (outputs outside it, or outside the image, go to `sink`).
static CK_WINO_TARGET void CK_WINO_FN(ck_wino_output_)(const ck_conv2d_f32_params *p, const float *M, size_t t0, size_t t1,
                                                       const float *bias, const float *residual, float *output,
                                                       size_t pixel_begin, size_t pixel_end, const float *zeros, float *sink) {
    const size_t cout = p->cout_per_group, tiles_w = ck_wino_tiles_w(p);
    const float lo = p->act_min, hi = p->act_max;
    for (size_t t = t0; t < t1; t++) {
        const size_t ty = t / tiles_w, tx = t % tiles_w;
        float *o[4];
        const float *res[4];
        for (size_t i = 0; i < 4; i++) {
            const size_t y = ty * 2 + i / 2, x = tx * 2 + i % 2, pix = y * p->out_w + x;
            const int inside = y < p->out_h && x < p->out_w && pix >= pixel_begin && pix < pixel_end;
            o[i] = inside ? output + pix * p->out_pixel_stride : sink;
            res[i] = inside && residual ? residual + pix * p->out_pixel_stride : zeros;
        }
        const float *m = M + (t - t0) * 16 * cout;
        // The output never overlaps M or the sink (scratch); a residual may be the output itself,
        // each element read before it is written.
#pragma clang loop vectorize(assume_safety)
        for (size_t c = 0; c < cout; c++) {
            // Rows: A^T M, then columns: (A^T M) A.
            float a[2][4];
            for (size_t s = 0; s < 4; s++) {
                const float m0 = m[s * cout + c], m1 = m[(4 + s) * cout + c], m2 = m[(8 + s) * cout + c], m3 = m[(12 + s) * cout + c];
                a[0][s] = m0 + m1 + m2;
                a[1][s] = m1 - m2 - m3;
            }
            const float b = bias ? bias[c] : 0.0f;
            for (size_t r = 0; r < 2; r++) {
                float y0 = a[r][0] + a[r][1] + a[r][2];
                float y1 = a[r][1] - a[r][2] - a[r][3];
                y0 = y0 + b;
                y1 = y1 + b;
                y0 = y0 + res[r * 2][c];
                y1 = y1 + res[r * 2 + 1][c];
                y0 = y0 < lo ? lo : y0;
                y0 = y0 > hi ? hi : y0;
                y1 = y1 < lo ? lo : y1;
                y1 = y1 > hi ? hi : y1;
                o[r * 2][c] = y0;
                o[r * 2 + 1][c] = y1;
            }
        }
    }
}

void CK_WINO_FN(ck_wino3x3_f32_nhwc__)(const ck_conv2d_f32_params *p, const float *input, const float *packed_weights,
                                         const float *bias, const float *residual, float *output, size_t pixel_begin,
                                         size_t pixel_end, float *scratch) {
    if (pixel_begin >= pixel_end) return;
    const size_t tiles_w = ck_wino_tiles_w(p);
    const size_t row_begin = pixel_begin / p->out_w, row_end = (pixel_end - 1) / p->out_w + 1;
    const size_t t_begin = (row_begin / 2) * tiles_w, t_end = ((row_end + 1) / 2) * tiles_w;
    const size_t block = ck_wino_block_tiles(p);
    ck_wino_scratch s = ck_wino_carve(p, scratch);
    ck_conv2d_f32_params g = ck_wino_gemm_params(p, block);
    for (size_t t0 = t_begin; t0 < t_end; t0 += block) {
        const size_t t1 = t0 + block < t_end ? t0 + block : t_end;
        CK_WINO_FN(ck_wino_input_)(p, input, t0, t1, s.zeros, s.V);
        CK_WINO_GEMM(&g, s.V, packed_weights, NULL, NULL, s.M, 0, t1 - t0, s.gemm);
        CK_WINO_FN(ck_wino_output_)(p, s.M, t0, t1, bias, residual, output, pixel_begin, pixel_end, s.zeros, s.sink);
    }
}
