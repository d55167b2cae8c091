// Kernel harness: the INT8 element-wise kernels of MTCNN P-Net's profile (docs/benchmarks.md,
// "The small models against FP32"), one thread, hot caches, each variant the CPU has checked
// against the scalar twin (MISMATCH otherwise), best of 30 runs of 20:
//   prelu     PRelu on 238x238x10 codes: a table per channel (the byte loop) against
//             ck_leaky_codes_u8 (computed) on each path, in its division and product forms
//   lookup    one 256-entry table over 200,704 codes: the byte loop, AVX2 vpshufb, AVX512_VBMI
//   maxpool   2x2/2 max pool of 238x238x10 codes: scalar, AVX2, AVX-512
//   gate      PP-OCR cls's squeeze-excitation product: 2x24x200 codes times a 200-channel gate
//   mean      its squeeze: the global average pool of those codes to codes
// Built and run by scripts/kernels/run.sh int8_elementwise.
#include "ck_int8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define BENCH(label, call) do { double best = 1e9; for (int r = 0; r < 30; r++) { double t0 = now(); \
    for (int i = 0; i < 20; i++) call; double t = (now() - t0) / 20; if (t < best) best = t; } \
    printf("%-34s %8.1f us\n", label, best * 1e6); } while (0)
#define CHECK(label, a, b, n) do { if (memcmp(a, b, n)) printf("MISMATCH %s\n", label); } while (0)

int main(void) {
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    const int vbmi = __builtin_cpu_supports("avx512vbmi");
    srand(7);

    // prelu: 10 channels, slopes 0.01..0.1, s_x 0.1, z_x 128, s_y 0.05, z_y 120.
    const size_t C = 10, P = 238 * 238, n = C * P, period = 80;
    float slope[160], scale[160];
    for (size_t i = 0; i < 2 * period; i++) { slope[i] = 0.01f * (float)(i % C + 1); scale[i] = 0.05f; }
    ck_leaky_codes_params p = {0.1f, 128, 120.0f, period, slope, scale, NULL, NULL};
    uint8_t *x = malloc(n + 64), *ref = malloc(n + 64), *out = malloc(n + 64), *tables = malloc(C * 256);
    for (size_t i = 0; i < n; i++) x[i] = (uint8_t)rand();
    for (size_t c = 0; c < C; c++)
        for (int k = 0; k < 256; k++) { uint8_t code = (uint8_t)k; ck_leaky_codes_u8__scalar(&p, &code, tables + c * 256 + k, 1, c); }
    ck_lookup_channels_u8__scalar(x, tables, ref, P, C);
    BENCH("prelu table per channel (scalar)", ck_lookup_channels_u8__scalar(x, tables, out, P, C));
    BENCH("prelu computed scalar", ck_leaky_codes_u8__scalar(&p, x, out, n, 0));
    CHECK("prelu scalar", out, ref, n);
    if (avx2) { BENCH("prelu computed avx2", ck_leaky_codes_u8__avx2(&p, x, out, n, 0)); CHECK("prelu avx2", out, ref, n); }
    if (avx512) { BENCH("prelu computed avx512", ck_leaky_codes_u8__avx512(&p, x, out, n, 0)); CHECK("prelu avx512", out, ref, n); }
    // The product form (one multiplication per code): checked against its own scalar twin (it
    // gives these tables' bytes only where LeakyCodesKernel has checked that it does).
    float neg[160], pos[160];
    for (size_t i = 0; i < 2 * period; i++) { neg[i] = slope[i] * 0.1f / scale[i]; pos[i] = 0.1f / scale[i]; }
    ck_leaky_codes_params pp = p;
    pp.product_neg = neg; pp.product_pos = pos;
    uint8_t *pref = malloc(n + 64);
    ck_leaky_codes_u8__scalar(&pp, x, pref, n, 0);
    BENCH("prelu products scalar", ck_leaky_codes_u8__scalar(&pp, x, out, n, 0));
    if (avx2) { BENCH("prelu products avx2", ck_leaky_codes_u8__avx2(&pp, x, out, n, 0)); CHECK("prelu products avx2", out, pref, n); }
    if (avx512) { BENCH("prelu products avx512", ck_leaky_codes_u8__avx512(&pp, x, out, n, 0)); CHECK("prelu products avx512", out, pref, n); }

    // lookup: 112x112x16 codes through one table.
    const size_t m = 112 * 112 * 16;
    uint8_t table[256], *y = malloc(m + 64), *yref = malloc(m + 64);
    for (int k = 0; k < 256; k++) table[k] = (uint8_t)rand();
    ck_lookup_u8__scalar(x, table, yref, m);
    BENCH("lookup scalar", ck_lookup_u8__scalar(x, table, y, m));
    if (avx2) { BENCH("lookup avx2", ck_lookup_u8__avx2(x, table, y, m)); CHECK("lookup avx2", y, yref, m); }
    if (vbmi) { BENCH("lookup avx512vbmi", ck_lookup_u8__avx512vbmi(x, table, y, m)); CHECK("lookup vbmi", y, yref, m); }

    // maxpool 2x2/2 over 238x238x10.
    ck_pool2d_params q;
    memset(&q, 0, sizeof q);
    q.in_h = q.in_w = 238; q.channels = C; q.out_h = q.out_w = 119;
    q.kernel_h = q.kernel_w = q.stride_h = q.stride_w = 2; q.dilation_h = q.dilation_w = 1;
    const size_t on = 119 * 119 * C;
    ck_maxpool2d_u8_nhwc__scalar(&q, x, ref);
    BENCH("maxpool scalar", ck_maxpool2d_u8_nhwc__scalar(&q, x, out));
    if (avx2) { BENCH("maxpool avx2", ck_maxpool2d_u8_nhwc__avx2(&q, x, out)); CHECK("maxpool avx2", out, ref, on); }
    if (avx512) { BENCH("maxpool avx512", ck_maxpool2d_u8_nhwc__avx512(&q, x, out)); CHECK("maxpool avx512", out, ref, on); }

    // gate and mean: 48 pixels x 200 channels (PP-OCR cls at 48x48).
    const size_t gp = 48, gc = 200;
    uint8_t gate[200];
    for (size_t c = 0; c < gc; c++) gate[c] = (uint8_t)rand();
    ck_qmul_u8__scalar(x, 3, gate, 0, 0, 0.004f, 7, 0, 255, ref, gp, gc);
    BENCH("gate scalar", ck_qmul_u8__scalar(x, 3, gate, 0, 0, 0.004f, 7, 0, 255, out, gp, gc));
    if (avx2) { BENCH("gate avx2", ck_qmul_u8__avx2(x, 3, gate, 0, 0, 0.004f, 7, 0, 255, out, gp, gc)); CHECK("gate avx2", out, ref, gp * gc); }
    if (avx512) { BENCH("gate avx512", ck_qmul_u8__avx512(x, 3, gate, 0, 0, 0.004f, 7, 0, 255, out, gp, gc)); CHECK("gate avx512", out, ref, gp * gc); }
    ck_mean_pixels_u8__scalar(x, gp, gc, 120, 0.02f, 9, ref);
    BENCH("mean scalar", ck_mean_pixels_u8__scalar(x, gp, gc, 120, 0.02f, 9, out));
    if (avx2) { BENCH("mean avx2", ck_mean_pixels_u8__avx2(x, gp, gc, 120, 0.02f, 9, out)); CHECK("mean avx2", out, ref, gc); }
    if (avx512) { BENCH("mean avx512", ck_mean_pixels_u8__avx512(x, gp, gc, 120, 0.02f, 9, out)); CHECK("mean avx512", out, ref, gc); }
    return 0;
}
