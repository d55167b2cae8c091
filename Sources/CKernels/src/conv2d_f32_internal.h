// Internal layout shared by the FP32 conv2d kernels (scalar / AVX2 / AVX-512).
//
// Packed weights (ISA-independent), per group g, as GEMM B = [K][N] with
//   K = kernel_h * kernel_w * cin_per_group, k = (kh * kernel_w + kw) * cin_per_group + ci
//   N = cout_per_group split into panels of CK_CONV_NR (32) output channels.
// Panel j starts at  g * ck_conv_group_floats(p) + j * 32 * K  and stores element (k, col)
// at k * width + col, where width is 32, except for the LAST panel of a group when
// cout_per_group % 32 != 0: that panel is (cout_per_group % 32) rounded up to a multiple of 8
// wide (8, 16, 24 or 32). Padding columns are zero.
//
// Scratch (AVX2 / AVX-512): im2col rows of up to CK_CONV_AROWS output pixels, stored in
// K-chunks of CK_CONV_KC floats: element (row i, k) of the A block lives at
//   A[(k / KC) * AROWS * KCS + i * KCS + k % KC]
// so that the microkernels address rows with compile-time displacements (KCS = KC + 16
// floats: the extra cache line keeps rows off the same L1 sets).
#ifndef CK_CONV2D_F32_INTERNAL_H
#define CK_CONV2D_F32_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "ck_fp32.h"

#define CK_CONV_NR 32
#define CK_CONV_KC 512
#define CK_CONV_KCS (CK_CONV_KC + 16)
#define CK_CONV_AROWS 14
#define CK_CONV_ACHUNK ((size_t)CK_CONV_AROWS * CK_CONV_KCS)

static inline size_t ck_conv_k(const ck_conv2d_f32_params *p) {
    return p->kernel_h * p->kernel_w * p->cin_per_group;
}

/// Width of the last panel of a group (cout_per_group % 32 rounded up to 8, 16, 24 or 32),
/// 0 if cout_per_group is a multiple of 32.
static inline size_t ck_conv_tail_width(size_t cout) {
    return (cout % CK_CONV_NR + 7) & ~(size_t)7;
}

/// Padded N of one group (sum of panel widths).
static inline size_t ck_conv_padded_n(size_t cout) {
    return (cout / CK_CONV_NR) * CK_CONV_NR + ck_conv_tail_width(cout);
}

static inline size_t ck_conv_group_floats(const ck_conv2d_f32_params *p) {
    return ck_conv_k(p) * ck_conv_padded_n(p->cout_per_group);
}

/// Width of panel j (which starts at output channel j * 32 of the group).
static inline size_t ck_conv_panel_width(size_t cout, size_t j) {
    size_t col0 = j * CK_CONV_NR;
    return (cout - col0 >= CK_CONV_NR) ? CK_CONV_NR : ck_conv_tail_width(cout);
}

/// Aligns the scratch pointer up to 64 bytes (scratch_size reserves the slack).
static inline float *ck_conv_align_scratch(float *s) {
    uintptr_t a = (uintptr_t)s;
    uintptr_t b = (a + 63) & ~(uintptr_t)63;
    return (float *)b;
}

#endif
