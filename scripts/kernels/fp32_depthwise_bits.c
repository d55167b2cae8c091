// Bit-identity check: the FP32 AVX2 depthwise kernel of this tree against the one of an earlier
// commit (compiled as old_dw), on 4000 random geometries (borders, strides, dilations, residuals,
// pixel splits). Built and run by scripts/kernels/fp32_depthwise_bits.sh REV.
#include "ck_fp32.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void old_dw(const ck_conv2d_f32_params *p, const float *input, const float *pw, const float *bias, const float *residual, float *output, size_t b, size_t e);
static unsigned rs = 7; static unsigned rnd(void) { rs = rs * 1103515245u + 12345u; return rs >> 8; }
int main(void) {
    int bad = 0, blockish = 0;
    for (int t = 0; t < 4000; t++) {
        ck_conv2d_f32_params p; memset(&p, 0, sizeof p);
        size_t C = 1 + rnd() % 70, kh = (size_t[]){1,3,3,3,5,5,7}[rnd() % 7], kw = rnd() % 3 ? kh : 1 + rnd() % 5;
        size_t s = 1 + rnd() % 2, sw = rnd() % 4 ? s : 1 + rnd() % 3, d = rnd() % 6 == 0 ? 2 : 1, dwl = rnd() % 6 == 0 ? 2 : 1;
        size_t H = 1 + rnd() % 14, W = 1 + rnd() % (t % 2 ? 40 : 12);
        size_t pt = rnd() % 3, pl = rnd() % 3;
        if (H + 2 * pt < (kh - 1) * d + 1 || W + 2 * pl < (kw - 1) * dwl + 1) continue;
        p.in_h = H; p.in_w = W; p.in_pixel_stride = C + (rnd() % 3 == 0 ? rnd() % 5 : 0);
        p.kernel_h = kh; p.kernel_w = kw; p.stride_h = s; p.stride_w = sw; p.dilation_h = d; p.dilation_w = dwl;
        p.pad_top = pt; p.pad_left = pl;
        p.out_h = (H + 2 * pt - ((kh - 1) * d + 1)) / s + 1; p.out_w = (W + 2 * pl - ((kw - 1) * dwl + 1)) / sw + 1;
        p.out_pixel_stride = C + (rnd() % 3 == 0 ? rnd() % 5 : 0); p.groups = C; p.cin_per_group = p.cout_per_group = 1;
        p.act_min = rnd() % 2 ? -1e30f : 0; p.act_max = rnd() % 2 ? 1e30f : 6;
        size_t M = p.out_h * p.out_w, n_in = H * W * p.in_pixel_stride, n_out = M * p.out_pixel_stride;
        float *in = malloc(n_in * 4 + 64), *w = malloc(C * kh * kw * 4), *b = malloc(C * 4), *res = malloc(n_out * 4 + 64);
        for (size_t i = 0; i < n_in; i++) in[i] = (float)((int)(rnd() % 2001) - 1000) / 337.0f;
        for (size_t i = 0; i < C * kh * kw; i++) w[i] = (float)((int)(rnd() % 2001) - 1000) / 913.0f;
        for (size_t i = 0; i < C; i++) b[i] = (float)((int)(rnd() % 2001) - 1000) / 97.0f;
        for (size_t i = 0; i < n_out; i++) res[i] = (float)((int)(rnd() % 2001) - 1000) / 53.0f;
        float *pw = aligned_alloc(64, (ck_dwconv2d_f32_packed_weights_size(&p) * 4 + 127) / 64 * 64);
        ck_dwconv2d_f32_pack_weights(&p, w, pw);
        float *o1 = malloc(n_out * 4), *o2 = malloc(n_out * 4);
        memset(o1, 0, n_out * 4); memset(o2, 0, n_out * 4);
        const int withb = rnd() % 4 != 0, withr = rnd() % 2;
        size_t split = M ? rnd() % (M + 1) : 0;
        old_dw(&p, in, pw, withb ? b : NULL, withr ? res : NULL, o1, 0, split);
        old_dw(&p, in, pw, withb ? b : NULL, withr ? res : NULL, o1, split, M);
        size_t split2 = M ? rnd() % (M + 1) : 0;
        ck_dwconv2d_f32_nhwc__avx2(&p, in, pw, withb ? b : NULL, withr ? res : NULL, o2, 0, split2);
        ck_dwconv2d_f32_nhwc__avx2(&p, in, pw, withb ? b : NULL, withr ? res : NULL, o2, split2, M);
        if (memcmp(o1, o2, n_out * 4)) { if (bad++ < 5) printf("DIFF C=%zu k=%zux%zu s=%zu/%zu d=%zu/%zu %zux%zu\n", C, kh, kw, s, sw, d, dwl, H, W); }
        if ((kw == 3 || kw == 5) && sw <= 2 && dwl == 1 && p.out_w >= 6) blockish++;
        free(in); free(w); free(b); free(res); free(pw); free(o1); free(o2);
    }
    printf("bit differences from the previous kernel: %d (%d cases with blocks)\n", bad, blockish);
    return bad != 0;
}
