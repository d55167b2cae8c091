// Kernel harness: the FP32 depthwise convolutions of EfficientNet-Lite0 (3x3 and 5x5, strides 1
// and 2, ReLU6) on the AVX2 kernel (and the AVX-512 one where the CPU has AVX-512F), one thread,
// hot caches, best of 30 calls, each output checked against the scalar twin.
// Built and run by scripts/kernels/run.sh.
#include "ck_fp32.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
typedef void (*dw_fn)(const ck_conv2d_f32_params *, const float *, const float *, const float *, const float *, float *,
    size_t, size_t);
static double run_path(const char *name, dw_fn kernel) {
    // out H, channels, kernel, stride (EfficientNet-Lite0's blocks b0..b15).
    const size_t shapes[][4] = {{112, 32, 3, 1}, {56, 96, 3, 2}, {56, 144, 3, 1}, {28, 144, 5, 2}, {28, 240, 5, 1},
        {14, 240, 3, 2}, {14, 480, 3, 1}, {14, 480, 5, 1}, {14, 672, 5, 1}, {7, 672, 5, 2}, {7, 1152, 5, 1},
        {7, 1152, 3, 1}};
    double tot = 0, flops_tot = 0;
    printf("path %s\n", name);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const size_t H = shapes[i][0], C = shapes[i][1], k = shapes[i][2], s = shapes[i][3];
        ck_conv2d_f32_params p;
        memset(&p, 0, sizeof p);
        const size_t IH = H * s;
        p.in_h = p.in_w = IH; p.in_pixel_stride = C; p.out_h = p.out_w = H; p.out_pixel_stride = C;
        p.kernel_h = p.kernel_w = k; p.stride_h = p.stride_w = s; p.dilation_h = p.dilation_w = 1;
        p.pad_top = p.pad_left = s == 2 ? (k - 2) / 2 : (k - 1) / 2;
        p.groups = C; p.cin_per_group = 1; p.cout_per_group = 1; p.act_min = 0; p.act_max = 6;
        const size_t M = H * H;
        float *in = aligned_alloc(64, (IH * IH * C * 4 + 127) / 64 * 64);
        for (size_t j = 0; j < IH * IH * C; j++) in[j] = (float)(rand() % 100) / 50;
        float *w = malloc(C * k * k * 4), *b = malloc(C * 4);
        for (size_t j = 0; j < C * k * k; j++) w[j] = (float)(rand() % 100) / 500 - 0.1f;
        for (size_t j = 0; j < C; j++) b[j] = (float)(rand() % 100) / 100;
        float *pw = aligned_alloc(64, (ck_dwconv2d_f32_packed_weights_size(&p) * 4 + 127) / 64 * 64);
        ck_dwconv2d_f32_pack_weights(&p, w, pw);
        float *out = aligned_alloc(64, (M * C * 4 + 127) / 64 * 64), *ref = malloc(M * C * 4);
        ck_dwconv2d_f32_nhwc__scalar(&p, in, pw, b, NULL, ref, 0, M);
        double best = 1e9;
        for (int r = 0; r < 30; r++) {
            const double t0 = now();
            kernel(&p, in, pw, b, NULL, out, 0, M);
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        for (size_t j = 0; j < M * C; j++)
            if (fabsf(out[j] - ref[j]) > 1e-4f * (1 + fabsf(ref[j]))) {
                printf("MISMATCH at %zu: %g vs %g\n", j, out[j], ref[j]);
                break;
            }
        const double flops = 2.0 * M * C * k * k;
        tot += best;
        flops_tot += flops;
        printf("dw %zux%zu/%zu %3zu %5zu ch %7.1f us %6.1f GFLOPS\n", k, k, s, H, C, best * 1e6, flops / best * 1e-9);
        free(in); free(w); free(b); free(pw); free(out); free(ref);
    }
    printf("total %.1f us, %.1f GFLOPS\n", tot * 1e6, flops_tot / tot * 1e-9);
    return tot;
}
int main(void) {
    if (__builtin_cpu_supports("avx512f")) run_path("avx512", ck_dwconv2d_f32_nhwc__avx512);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) run_path("avx2", ck_dwconv2d_f32_nhwc__avx2);
    return 0;
}
