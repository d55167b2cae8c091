// Kernel harness: INT8 depthwise kernels. First 3000 random geometries against the scalar twin
// (every SIMD variant), then EfficientNet-Lite0's depthwise shapes timed on each variant
// (one thread, hot caches); with the argument `small`, PP-OCR cls's maps of 2-6 rows (48x48 input)
// instead. Built and run by scripts/kernels/run.sh.
#include "ck_int8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
typedef void (*fn)(const ck_conv2d_u8s8_params *, const uint8_t *, const void *, const int32_t *, const ck_u8s8_output *, void *, size_t, size_t);
static unsigned rs = 1; static unsigned rnd(void) { rs = rs * 1103515245u + 12345u; return rs >> 8; }
static void setup(ck_conv2d_u8s8_params *p, size_t H, size_t W, size_t C, size_t k, size_t s, size_t d, size_t pad, size_t ips) {
    memset(p, 0, sizeof *p);
    p->in_h = H; p->in_w = W; p->in_pixel_stride = ips; p->kernel_h = p->kernel_w = k; p->stride_h = p->stride_w = s; p->dilation_h = p->dilation_w = d;
    p->pad_top = p->pad_left = pad; size_t span = (k - 1) * d + 1;
    p->out_h = (H + 2 * pad >= span) ? (H + 2 * pad - span) / s + 1 : 1; p->out_w = (W + 2 * pad >= span) ? (W + 2 * pad - span) / s + 1 : 1;
    p->out_pixel_stride = C; p->groups = C; p->cin_per_group = p->cout_per_group = 1; p->input_zero_point = rnd() % 256;
}
int main(int argc, char **argv) {
    fn f[3] = {ck_dwconv2d_u8s8_nhwc__avx512, ck_dwconv2d_u8s8_nhwc__avx512vnni, ck_dwconv2d_u8s8_nhwc__avx2};
    const char *nm[3] = {"avx512", "vnni", "avx2"};
    // Only the variants this CPU can run (a missing one would stop on an illegal instruction).
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    const int can[3] = {avx512, avx512 && __builtin_cpu_supports("avx512vnni"), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")};
    int bad = 0;
    for (int t = 0; t < 3000; t++) {
        size_t C = 1 + rnd() % 200, k = 1 + 2 * (rnd() % 4), s = 1 + rnd() % 2, d = rnd() % 5 == 0 ? 2 : 1;
        size_t H = 1 + rnd() % 12, W = 1 + rnd() % (t % 3 ? 12 : 24), span = (k - 1) * d + 1, pad = rnd() % (span < 3 ? span : 3);
        size_t ips = C + (rnd() % 3 == 0 ? rnd() % 9 : 0);
        ck_conv2d_u8s8_params p; setup(&p, H, W, C, k, s, d, pad, ips);
        if (H + 2 * pad < span || W + 2 * pad < span) continue;
        size_t M = p.out_h * p.out_w;
        uint8_t *in = malloc(H * W * ips); for (size_t i = 0; i < H * W * ips; i++) in[i] = rnd();
        if (t % 7 == 0) for (size_t i = 0; i < H * W * ips; i++) in[i] = (t % 2) ? 255 : 0;
        int8_t *w = malloc(C * k * k); for (size_t i = 0; i < C * k * k; i++) w[i] = (int8_t)rnd();
        if (t % 5 == 0) for (size_t i = 0; i < C * k * k; i++) w[i] = -128;
        int32_t *b = malloc(C * 4); for (size_t i = 0; i < C; i++) b[i] = (int32_t)(rnd() % 40000) - 20000;
        float *sc = malloc(C * 4); for (size_t i = 0; i < C; i++) sc[i] = 0.0005f + (rnd() % 1000) * 0.00005f;
        void *pw = aligned_alloc(64, (ck_dwconv2d_u8s8_packed_weights_size(&p) + 63) / 64 * 64 + 64);
        ck_dwconv2d_u8s8_pack_weights(&p, w, pw);
        for (int mode = 0; mode < 2; mode++) {
            ck_u8s8_output o = {mode, sc, (int32_t)(rnd() % 256), t % 2 ? 0 : 30, 255, t % 3 ? -1e30f : 0, t % 4 ? 6.0f : 1e30f};
            size_t es = mode ? 4 : 1;
            uint8_t *ref = malloc(M * C * es), *got = malloc(M * C * es);
            memset(ref, 0xEE, M * C * es);
            ck_dwconv2d_u8s8_nhwc__scalar(&p, in, pw, t % 11 ? b : NULL, &o, ref, 0, M);
            for (int v = 0; v < 3; v++) {
                if (!can[v]) continue;
                memset(got, 0xEE, M * C * es);
                size_t split = M ? rnd() % (M + 1) : 0;
                f[v](&p, in, pw, t % 11 ? b : NULL, &o, got, 0, split);
                f[v](&p, in, pw, t % 11 ? b : NULL, &o, got, split, M);
                if (memcmp(ref, got, M * C * es)) { if (bad++ < 10) printf("MISMATCH %s C=%zu k=%zu s=%zu d=%zu pad=%zu %zux%zu ips=%zu mode=%d\n", nm[v], C, k, s, d, pad, H, W, ips, mode); }
            }
            free(ref); free(got);
        }
        free(in); free(w); free(b); free(sc); free(pw);
    }
    printf("random: %d mismatches\n", bad);
    // {height, width, channels, kernel, stride}, padding (kernel - 1) / 2.
    static const size_t efficientnet[][5] = {{112,112,96,3,2},{56,56,144,3,1},{56,56,144,5,2},{28,28,240,5,1},{28,28,240,3,2},{14,14,480,5,1},
                                             {14,14,672,5,1},{14,14,672,5,2},{7,7,1152,5,1}};
    static const size_t small[][5] = {{2,24,200,5,1},{3,24,88,5,1},{3,24,104,5,2},{6,24,32,5,2},{3,24,40,5,1},{3,24,48,5,1},{6,24,32,3,1}};
    const int sml = argc > 1 && strcmp(argv[1], "small") == 0;
    const size_t (*shapes)[5] = sml ? small : efficientnet;
    const size_t nshapes = sml ? sizeof small / sizeof small[0] : sizeof efficientnet / sizeof efficientnet[0];
    for (size_t i = 0; i < nshapes; i++) {
        size_t H = shapes[i][0], W = shapes[i][1], C = shapes[i][2], k = shapes[i][3], s = shapes[i][4];
        ck_conv2d_u8s8_params p; setup(&p, H, W, C, k, s, 1, (k - 1) / 2, C);
        size_t M = p.out_h * p.out_w;
        uint8_t *in = malloc(H * W * C); for (size_t j = 0; j < H * W * C; j++) in[j] = rnd();
        int8_t *w = malloc(C * k * k); for (size_t j = 0; j < C * k * k; j++) w[j] = (int8_t)rnd();
        float *sc = malloc(C * 4); for (size_t j = 0; j < C; j++) sc[j] = 0.001f;
        void *pw = aligned_alloc(64, (ck_dwconv2d_u8s8_packed_weights_size(&p) + 63) / 64 * 64 + 64);
        ck_dwconv2d_u8s8_pack_weights(&p, w, pw);
        ck_u8s8_output o = {0, sc, 3, 3, 255, 0, 0};
        uint8_t *out = malloc(M * C);
        printf("dw %zux%zu/%zu %3zux%3zux%4zu |", k, k, s, H, W, C);
        for (int v = 0; v < 3; v++) {
            if (!can[v]) continue;
            double best = 1e9; int reps = 20;
            for (int r = 0; r < (sml ? 15 : 5); r++) { double t0 = now(); for (int q = 0; q < reps; q++) f[v](&p, in, pw, NULL, &o, out, 0, M); double dt = (now() - t0) / reps; if (dt < best) best = dt; }
            printf(" %s %7.1f us |", nm[v], best * 1e6);
        }
        printf("\n");
    }
    return bad != 0;
}
