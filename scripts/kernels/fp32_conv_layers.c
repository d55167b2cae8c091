// Kernel harness: FP32 convolution shapes of EfficientNet-Lite0 / ResNet-18 (1x1 layers, a
// 56x56 3x3, the 3-channel stem) on the AVX-512 kernel (the AVX2 one where the CPU lacks
// AVX-512F, or with the argument `avx2`), one thread, hot caches, best of 30 calls.
// Built and run by scripts/kernels/run.sh.
#include "ck_fp32.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    void (*kernel)(const ck_conv2d_f32_params *, const float *, const float *, const float *, const float *, float *, size_t,
        size_t, float *) = ck_conv2d_f32_nhwc__avx512;
    if (!__builtin_cpu_supports("avx512f") || (argc > 1 && strcmp(argv[1], "avx2") == 0)) kernel = ck_conv2d_f32_nhwc__avx2;
    printf("path %s\n", kernel == ck_conv2d_f32_nhwc__avx2 ? "avx2" : "avx512");
    size_t shapes[][5] = {{112,16,96,1,1},{112,32,16,1,1},{56,24,144,1,1},{56,144,24,1,1},{28,40,240,1,1},{28,240,40,1,1},{14,80,480,1,1},{14,480,80,1,1},{14,672,112,1,1},{7,1152,192,1,1},{7,192,1152,1,1},{56,64,64,3,1},{112,3,32,3,2}};
    double tot = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t H = shapes[i][0], Ci = shapes[i][1], Co = shapes[i][2], k = shapes[i][3], s = shapes[i][4];
        ck_conv2d_f32_params p; memset(&p, 0, sizeof p);
        size_t IH = H * s;
        p.in_h = p.in_w = IH; p.in_pixel_stride = Ci; p.out_h = p.out_w = H; p.out_pixel_stride = Co; p.kernel_h = p.kernel_w = k;
        p.stride_h = p.stride_w = s; p.dilation_h = p.dilation_w = 1; p.pad_top = p.pad_left = s == 2 ? 0 : (k - 1) / 2; p.groups = 1; p.cin_per_group = Ci; p.cout_per_group = Co;
        p.act_min = 0; p.act_max = 6;
        size_t M = H * H;
        float *in = aligned_alloc(64, IH * IH * Ci * 4 + 64); for (size_t j = 0; j < IH * IH * Ci; j++) in[j] = (float)(rand() % 100) / 50;
        float *w = malloc(Co * Ci * k * k * 4); for (size_t j = 0; j < Co * Ci * k * k; j++) w[j] = (float)(rand() % 100) / 500;
        float *pw = aligned_alloc(64, (ck_conv2d_f32_packed_weights_size(&p) * 4 + 127) / 64 * 64);
        ck_conv2d_f32_pack_weights(&p, w, pw);
        float *scr = aligned_alloc(64, (ck_conv2d_f32_scratch_size(&p) * 4 + 127) / 64 * 64);
        float *out = aligned_alloc(64, M * Co * 4 + 64);
        double best = 1e9;
        for (int r = 0; r < 30; r++) { double t0 = now(); kernel(&p, in, pw, NULL, NULL, out, 0, M, scr); double dt = now() - t0; if (dt < best) best = dt; }
        tot += best;
        printf("%zux%zu/%zu %3zu %4zu->%4zu %7.1f us\n", k, k, s, H, Ci, Co, best * 1e6);
    }
    printf("total %.1f us\n", tot * 1e6);
}
