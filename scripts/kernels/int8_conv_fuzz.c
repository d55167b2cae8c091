// Fuzz harness (not a benchmark): the INT8 GEMM convolution on AVX-512 VNNI against the scalar
// twin on 20,000 random small layers of 1-8 input channels (3x3 ... 9x9 kernels, strides 1-2,
// padding, dilated rows, partial pixel ranges, u8 and strided float outputs, 8-bit weights), in
// the layout segmented_rows asks for, with input and scratch buffers of exactly their size: built
// with AddressSanitizer it catches a read past the input (the segmented layout reads up to 3 bytes
// past a kernel row). Prints "ok" or the first mismatching layer.
//   CC=clang CFLAGS="-g -fsanitize=address" scripts/kernels/run.sh int8_conv_fuzz
#include "ck_int8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned rs = 1; static unsigned rnd(void) { rs = rs * 1103515245u + 12345u; return rs >> 8; }
int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512vnni")) { puts("skipped: this CPU lacks AVX-512 VNNI"); return 0; }
    for (int t = 0; t < 20000; t++) {
        size_t cin = (t % 5 == 0) ? 1 : 1 + rnd() % 8, k = (t % 4 == 0) ? 7 + 2 * (t % 8 == 0) : 1 + rnd() % 5, s = 1 + rnd() % 2, inH = 1 + rnd() % 14, inW = 1 + rnd() % 40, cout = 1 + rnd() % 40;
        size_t pad = rnd() % 2 ? 0 : rnd() % k;
        if (inH + 2 * pad < k || inW + 2 * pad < k) continue;
        size_t dh = 1 + (t % 3 == 0); if (inH + 2 * pad < (k - 1) * dh + 1) continue; size_t outH = (inH + 2 * pad - (k - 1) * dh - 1) / s + 1, outW = (inW + 2 * pad - k) / s + 1;
        ck_conv2d_u8s8_params p; memset(&p, 0, sizeof p);
        p.in_h = inH; p.in_w = inW; p.in_pixel_stride = cin; p.out_h = outH; p.out_w = outW; p.out_pixel_stride = cout;
        p.kernel_h = p.kernel_w = k; p.stride_h = p.stride_w = s; p.dilation_h = 1 + (t % 3 == 0); p.dilation_w = 1; p.pad_top = p.pad_left = pad;
        p.groups = 1; p.cin_per_group = cin; p.cout_per_group = cout; p.input_zero_point = rnd() % 256; p.segmented_rows = t % 4 != 3;
        size_t n_in = inH * inW * cin, M = outH * outW;
        uint8_t *in = malloc(n_in); for (size_t j = 0; j < n_in; j++) in[j] = rnd();
        int8_t *w = malloc(cout * k * k * cin); for (size_t j = 0; j < cout * k * k * cin; j++) w[j] = (int8_t)(rnd() % 256);
        float *sc = malloc(cout * 4); for (size_t j = 0; j < cout; j++) sc[j] = 0.001f;
        int32_t *b = malloc(cout * 4); for (size_t j = 0; j < cout; j++) b[j] = rnd() % 1000;
        void *pw = aligned_alloc(64, (ck_conv2d_u8s8_packed_weights_size(&p) + 63) / 64 * 64);
        ck_conv2d_u8s8_pack_weights(&p, w, pw);
        void *scr = aligned_alloc(64, (ck_conv2d_u8s8_scratch_size(&p) + 63) / 64 * 64);
        ck_u8s8_output o = {0, sc, 3, 0, 255, 0, 0};
        uint8_t *out = malloc(M * cout), *ref = malloc(M * cout);
        ck_conv2d_u8s8_nhwc__scalar(&p, in, pw, b, &o, ref, 0, M, scr);
        size_t split = rnd() % (M + 1);
        ck_conv2d_u8s8_nhwc__avx512vnni(&p, in, pw, b, &o, out, 0, split, scr);
        ck_conv2d_u8s8_nhwc__avx512vnni(&p, in, pw, b, &o, out, split, M, scr);
        size_t ost = cout + (t % 3);
        float *fo = malloc(M * ost * 4 + 4), *fr = malloc(M * ost * 4 + 4);
        memset(fo, 0, M * ost * 4); memset(fr, 0, M * ost * 4);
        ck_conv2d_u8s8_params q = p; q.out_pixel_stride = ost;
        ck_u8s8_output of = {1, sc, 0, 0, 255, -1e30f, 1e30f};
        ck_conv2d_u8s8_nhwc__scalar(&q, in, pw, b, &of, fr, 0, M, scr);
        ck_conv2d_u8s8_nhwc__avx512vnni(&q, in, pw, b, &of, fo, 0, split, scr);
        ck_conv2d_u8s8_nhwc__avx512vnni(&q, in, pw, b, &of, fo, split, M, scr);
        if (memcmp(fo, fr, M * ost * 4)) { printf("FLOAT MISMATCH t=%d\n", t); return 1; }
        free(fo); free(fr);
        if (memcmp(out, ref, M * cout)) { printf("MISMATCH t=%d cin=%zu k=%zu s=%zu in=%zux%zu pad=%zu cout=%zu\n", t, cin, k, s, inH, inW, pad, cout); return 1; }
        free(in); free(w); free(sc); free(b); free(pw); free(scr); free(out); free(ref);
    }
    puts("ok");
}
