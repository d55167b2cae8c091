// Kernel harness: INT8 convolution shapes on one path's kernel, one thread, hot caches (best of
// 7 x 10 calls), each checked against the scalar twin (MISMATCH if not). Prints time and GOPS per
// shape and the total. Arguments: the shape set, `resnet18` (default: every convolution of
// ResNet-18, repeated layers counted) or `efficientnet` (its 1x1 layers); the path, `avx512vnni`
// (default), `avx512bw` or `avx2`; the weight format, `s8` (default: 7-bit weights as they are),
// `split` or `s16` (8-bit weights, the two exact forms of the vpmaddubsw paths); then optionally
// one shape index (1000 calls, for perf record). Percentages are of the path's peak measured first
// on this core by the committed loop that bounds it (ck_peak.h). Built and run by scripts/kernels/run.sh.
#include "ck_int8.h"
#include "ck_peak.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned rs = 1; static unsigned rnd(void) { rs = rs * 1103515245u + 12345u; return rs >> 8; }
int main(int argc, char **argv) {
    // out H, Ci, Co, k, s, count, unpadded (1: no padding, else (k - 1) / 2)
    static const size_t resnet18[][7] = {{112,3,64,7,2,1},{56,64,64,3,1,4},{28,64,128,3,2,1},{28,128,128,3,1,3},
        {28,64,128,1,2,1},{14,128,256,3,2,1},{14,256,256,3,1,3},{14,128,256,1,2,1},{7,256,512,3,2,1},{7,512,512,3,1,3},
        {7,256,512,1,2,1}};
    static const size_t efficientnet[][7] = {{112,16,96,1,1,1},{112,32,16,1,1,1},{56,24,144,1,1,1},{56,144,24,1,1,1},
        {56,96,24,1,1,1},{28,40,240,1,1,1},{28,240,40,1,1,1},{28,144,40,1,1,1},{14,80,480,1,1,1},{14,480,80,1,1,1},
        {14,112,672,1,1,1},{14,672,112,1,1,1},{14,480,112,1,1,1},{7,192,1152,1,1,1},{7,1152,192,1,1,1},{7,320,1280,1,1,1},
        {7,1152,320,1,1,1}};
    static const size_t small[][7] = {{22,3,28,3,1,1,1},{9,28,48,3,1,1,1},{3,48,64,2,1,1,1},{24,3,8,3,2,1,0},{238,3,10,3,1,1,1},
        {112,3,32,3,2,1,0}};
    const int eff = argc > 1 && strcmp(argv[1], "efficientnet") == 0, sml = argc > 1 && strcmp(argv[1], "small") == 0;
    const char *path = argc > 2 ? argv[2] : "avx512vnni", *format = argc > 3 ? argv[3] : "s8";
    void (*kernel)(const ck_conv2d_u8s8_params *, const uint8_t *, const void *, const int32_t *, const ck_u8s8_output *, void *,
        size_t, size_t, void *) = ck_conv2d_u8s8_nhwc__avx512vnni;
    if (strcmp(path, "avx512bw") == 0) kernel = ck_conv2d_u8s8_nhwc__avx512bw;
    else if (strcmp(path, "avx2") == 0) kernel = ck_conv2d_u8s8_nhwc__avx2;
    else if (strcmp(path, "avx512vnni") != 0) { fprintf(stderr, "unknown path %s\n", path); return 2; }
    const int32_t wf = strcmp(format, "split") == 0 ? CK_Q8_WEIGHTS_SPLIT : strcmp(format, "s16") == 0 ? CK_Q8_WEIGHTS_S16 : CK_Q8_WEIGHTS_S8;
    if (wf == CK_Q8_WEIGHTS_S8 && strcmp(format, "s8") != 0) { fprintf(stderr, "unknown format %s\n", format); return 2; }
    printf("path %s, weights %s\n", path, wf == CK_Q8_WEIGHTS_S8 ? "7-bit, as they are" : wf == CK_Q8_WEIGHTS_SPLIT ? "8-bit, split" : "8-bit, s16");
    // The path's peak on this core, by the committed loop that bounds it (ck_peak.h: best of 10
    // runs): vpdpbusd zmm; vpmaddubsw + vpmaddwd + vpaddd (zmm or ymm); for s16 weights on avx2,
    // vpmaddwd + vpaddd. The split form needs twice the multiplies: its ceiling is half the peak.
    uint64_t (*loop)(size_t) = strcmp(path, "avx512vnni") == 0 ? ck_peak_u8s8__avx512vnni
        : strcmp(path, "avx512bw") == 0 ? (wf == CK_Q8_WEIGHTS_S16 ? ck_peak_u8s8__avx512bw_maddwd : ck_peak_u8s8__avx512bw)
        : wf == CK_Q8_WEIGHTS_S16 ? ck_peak_u8s8__avx2_maddwd : ck_peak_u8s8__avx2;
    double peak = 0;
    for (int r = 0; r < 10; r++) { double t0 = now(); uint64_t macs = loop(2000000); double g = 2.0 * macs / (now() - t0) * 1e-9; if (g > peak) peak = g; }
    printf("peak %.0f GOPS (%s)\n", peak, loop == ck_peak_u8s8__avx512vnni ? "vpdpbusd zmm" : loop == ck_peak_u8s8__avx512bw ? "vpmaddubsw zmm"
        : loop == ck_peak_u8s8__avx512bw_maddwd ? "vpmaddwd zmm" : loop == ck_peak_u8s8__avx2_maddwd ? "vpmaddwd ymm" : "vpmaddubsw ymm");
    const size_t (*shapes)[7] = eff ? efficientnet : sml ? small : resnet18;
    const size_t nshapes = eff ? sizeof efficientnet / sizeof efficientnet[0] : sml ? sizeof small / sizeof small[0] : sizeof resnet18 / sizeof resnet18[0];
    double tot = 0, totideal = 0, t3 = 0, i3 = 0;
    int only = argc > 4 ? atoi(argv[4]) : -1;
    for (size_t i = 0; i < nshapes; i++) { if (only >= 0 && (int)i != only) continue;
        size_t H = shapes[i][0], Ci = shapes[i][1], Co = shapes[i][2], k = shapes[i][3], s = shapes[i][4], cnt = shapes[i][5];
        ck_conv2d_u8s8_params p; memset(&p, 0, sizeof p);
        const size_t pad = shapes[i][6] ? 0 : (k - 1) / 2, IH = shapes[i][6] ? (H - 1) * s + k : H * s;
        p.in_h = p.in_w = IH; p.in_pixel_stride = Ci; p.out_h = p.out_w = H; p.out_pixel_stride = Co; p.kernel_h = p.kernel_w = k;
        p.stride_h = p.stride_w = s; p.dilation_h = p.dilation_w = 1; p.pad_top = p.pad_left = pad; p.groups = 1; p.cin_per_group = Ci; p.cout_per_group = Co; p.input_zero_point = 7;
        p.weight_format = wf;
        // As the path's table says (ck_kernels: the VNNI paths); SEGMENTED=0/1 forces it, to
        // measure the layout where the table leaves it off (conv2d_u8s8_internal.h's figures).
        p.segmented_rows = getenv("SEGMENTED") ? atoi(getenv("SEGMENTED")) : kernel == ck_conv2d_u8s8_nhwc__avx512vnni;
        size_t M = H * H;
        uint8_t *in = malloc(IH * IH * Ci + 64); for (size_t j = 0; j < IH * IH * Ci; j++) in[j] = rnd();
        int8_t *w = malloc(Co * Ci * k * k); for (size_t j = 0; j < Co * Ci * k * k; j++) w[j] = wf == CK_Q8_WEIGHTS_S8 ? (int8_t)(rnd() % 127) - 63 : (int8_t)(rnd() % 256);
        float *sc = malloc(Co * 4); for (size_t j = 0; j < Co; j++) sc[j] = 0.0001f;
        int32_t *b = malloc(Co * 4); for (size_t j = 0; j < Co; j++) b[j] = 100;
        void *pw = aligned_alloc(64, (ck_conv2d_u8s8_packed_weights_size(&p) + 127) / 64 * 64);
        ck_conv2d_u8s8_pack_weights(&p, w, pw);
        void *scr = aligned_alloc(64, (ck_conv2d_u8s8_scratch_size(&p) + 127) / 64 * 64);
        ck_u8s8_output o = {0, sc, 3, 3, 255, 0, 0};
        uint8_t *out = malloc(M * Co), *ref = malloc(M * Co);
        ck_conv2d_u8s8_nhwc__scalar(&p, in, pw, b, &o, ref, 0, M, scr);
        kernel(&p, in, pw, b, &o, out, 0, M, scr);
        int ok = !memcmp(out, ref, M * Co);
        double best = 1e9; int reps = only >= 0 ? 1000 : 10;
        for (int r = 0; r < 7; r++) { double t0 = now(); for (int q = 0; q < reps; q++) kernel(&p, in, pw, b, &o, out, 0, M, scr); double dt = (now() - t0) / reps; if (dt < best) best = dt; }
        double ops = 2.0 * M * Co * Ci * k * k, ideal = ops / (peak * 1e9);
        tot += best * cnt; totideal += ideal * cnt;
        if (k == 3) { t3 += best * cnt; i3 += ideal * cnt; }
        printf("%zux%zu/%zu %3zux%3zu %4zu->%4zu x%zu  %7.1f us  %5.0f GOPS %3.0f%% %s\n", k, k, s, H, H, Ci, Co, cnt, best * 1e6, ops / best * 1e-9, ideal / best * 100, ok ? "" : "MISMATCH");
    }
    if (t3 > 0) printf("3x3 layers %.1f us, %.0f%% of the peak\n", t3 * 1e6, i3 / t3 * 100);
    printf("total %.1f us at the peak %.1f us (%.0f%%)\n", tot * 1e6, totideal * 1e6, totideal / tot * 100);
}
