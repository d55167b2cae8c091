// Kernel harness: ResNet-18's 3x3 stride-1 layers (and a 7x7 one, which Conv2DKernel leaves
// direct) on the direct FP32 kernel and on Winograd F(2x2, 3x3), both on the AVX-512 path (the
// AVX2 one where the CPU lacks AVX-512F, or with the argument `avx2`): one thread, hot caches, best
// of 20 calls, Winograd's output checked against the direct kernel's (largest difference printed).
// Built and run by scripts/kernels/run.sh fp32_winograd_layers.
#include "ck_fp32.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*ck_conv)(const ck_conv2d_f32_params *, const float *, const float *, const float *, const float *, float *, size_t, size_t,
                        float *);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void *alloc(size_t floats) { return aligned_alloc(64, (floats * 4 + 127) / 64 * 64); }
static double best_of(ck_conv k, const ck_conv2d_f32_params *p, const float *in, const float *w, const float *b, float *out, float *scr) {
    double best = 1e9;
    for (int r = 0; r < 20; r++) {
        double t0 = now();
        k(p, in, w, b, NULL, out, 0, p->out_h * p->out_w, scr);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}
int main(int argc, char **argv) {
    int avx2 = !__builtin_cpu_supports("avx512f") || (argc > 1 && strcmp(argv[1], "avx2") == 0);
    ck_conv direct = avx2 ? ck_conv2d_f32_nhwc__avx2 : ck_conv2d_f32_nhwc__avx512;
    ck_conv wino = avx2 ? ck_wino3x3_f32_nhwc__avx2 : ck_wino3x3_f32_nhwc__avx512;
    printf("path %s\n", avx2 ? "avx2" : "avx512");
    const size_t shapes[][2] = {{56, 64}, {28, 128}, {14, 256}, {7, 512}};
    double td = 0, tw = 0;
    for (size_t s = 0; s < 4; s++) {
        const size_t H = shapes[s][0], C = shapes[s][1];
        ck_conv2d_f32_params p;
        memset(&p, 0, sizeof p);
        p.in_h = p.in_w = p.out_h = p.out_w = H;
        p.in_pixel_stride = p.out_pixel_stride = C;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
        p.pad_top = p.pad_left = 1;
        p.groups = 1;
        p.cin_per_group = p.cout_per_group = C;
        p.act_min = 0;
        p.act_max = INFINITY;
        float *in = alloc(H * H * C), *w = alloc(C * C * 9), *b = alloc(C);
        for (size_t i = 0; i < H * H * C; i++) in[i] = (float)(rand() % 100) / 50;
        for (size_t i = 0; i < C * C * 9; i++) w[i] = (float)(rand() % 100) / 500 - 0.1f;
        for (size_t i = 0; i < C; i++) b[i] = (float)(rand() % 100) / 100;
        float *pd = alloc(ck_conv2d_f32_packed_weights_size(&p)), *pw = alloc(ck_wino3x3_f32_packed_weights_size(&p));
        ck_conv2d_f32_pack_weights(&p, w, pd);
        if (ck_wino3x3_f32_pack_weights(&p, w, pw) != 0) return 1;
        float *sd = alloc(ck_conv2d_f32_scratch_size(&p)), *sw = alloc(ck_wino3x3_f32_scratch_size(&p));
        float *od = alloc(H * H * C), *ow = alloc(H * H * C);
        const double a = best_of(direct, &p, in, pd, b, od, sd), c = best_of(wino, &p, in, pw, b, ow, sw);
        double diff = 0, mag = 0;
        for (size_t i = 0; i < H * H * C; i++) {
            if (fabs(od[i] - ow[i]) > diff) diff = fabs(od[i] - ow[i]);
            if (fabs(od[i]) > mag) mag = fabs(od[i]);
        }
        const double flops = 2.0 * H * H * C * C * 9;
        printf("3x3/1 %2zux%-2zu %3zu->%3zu  direct %7.1f us (%5.1f GFLOPS)  winograd %7.1f us (%5.1f direct-equivalent GFLOPS)  %.2fx  max diff %.1e of %.1e\n",
               H, H, C, C, a * 1e6, flops / a / 1e9, c * 1e6, flops / c / 1e9, a / c, diff, mag);
        if (H >= 8) { td += a; tw += c; }
        free(in); free(w); free(b); free(pd); free(pw); free(sd); free(sw); free(od); free(ow);
    }
    printf("the three layers Conv2DKernel runs as Winograd: direct %.1f us, winograd %.1f us, %.2fx\n", td * 1e6, tw * 1e6, td / tw);
}
