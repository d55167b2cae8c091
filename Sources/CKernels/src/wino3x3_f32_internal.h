// Shared sizes of the Winograd F(2x2, 3x3) FP32 kernels (wino3x3_f32_impl.h): tiles, blocks of
// tiles, the grouped-GEMM view of the 16 transform positions and the scratch layout.
#ifndef CK_WINO3X3_F32_INTERNAL_H
#define CK_WINO3X3_F32_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include "ck_fp32.h"

/// Tiles across one output row (2 output columns each).
static inline size_t ck_wino_tiles_w(const ck_conv2d_f32_params *p) { return (p->out_w + 1) / 2; }

/// Tiles per block: the block's transformed inputs and GEMM outputs (16 * (cin + cout) floats
/// per tile) stay within about 384 KB, so they are read back from L2; at least 8 tiles, at most 112.
#ifndef CK_WINO_BLOCK_FLOATS
#define CK_WINO_BLOCK_FLOATS ((size_t)96 * 1024)
#endif
#ifndef CK_WINO_MAX_TILES
#define CK_WINO_MAX_TILES 112
#endif
static inline size_t ck_wino_block_tiles(const ck_conv2d_f32_params *p) {
    size_t n = CK_WINO_BLOCK_FLOATS / (16 * (p->cin_per_group + p->cout_per_group));
    if (n < 8) n = 8;
    if (n > CK_WINO_MAX_TILES) n = CK_WINO_MAX_TILES;
    return n;
}

/// The 16 GEMMs of a block of `tiles` tiles as one grouped 1x1 convolution over `tiles` pixels:
/// group g reads the transformed inputs of position g and writes its outputs.
static inline ck_conv2d_f32_params ck_wino_gemm_params(const ck_conv2d_f32_params *p, size_t tiles) {
    ck_conv2d_f32_params g = {0};
    g.in_h = 1; g.in_w = tiles; g.in_pixel_stride = 16 * p->cin_per_group;
    g.out_h = 1; g.out_w = tiles; g.out_pixel_stride = 16 * p->cout_per_group;
    g.kernel_h = g.kernel_w = 1; g.stride_h = g.stride_w = 1; g.dilation_h = g.dilation_w = 1;
    g.groups = 16; g.cin_per_group = p->cin_per_group; g.cout_per_group = p->cout_per_group;
    g.act_min = -INFINITY; g.act_max = INFINITY;
    return g;
}

typedef struct {
    float *V, *M, *gemm, *sink;
    const float *zeros;
} ck_wino_scratch;

static inline size_t ck_wino_round16(size_t n) { return (n + 15) & ~(size_t)15; }

/// Scratch floats: V and M of one block, the GEMM's own scratch, a zero row (padding pixels
/// and absent residuals) and a sink row (outputs outside the range), each 64-byte aligned.
static inline size_t ck_wino_scratch_floats(const ck_conv2d_f32_params *p) {
    const size_t block = ck_wino_block_tiles(p), c = p->cin_per_group, k = p->cout_per_group;
    const ck_conv2d_f32_params g = ck_wino_gemm_params(p, block);
    const size_t wide = c > k ? c : k;
    return ck_wino_round16(block * 16 * c) + ck_wino_round16(block * 16 * k) + ck_wino_round16(ck_conv2d_f32_scratch_size(&g))
        + 2 * ck_wino_round16(wide) + 16;
}

static inline ck_wino_scratch ck_wino_carve(const ck_conv2d_f32_params *p, float *scratch) {
    const size_t block = ck_wino_block_tiles(p), c = p->cin_per_group, k = p->cout_per_group;
    const ck_conv2d_f32_params g = ck_wino_gemm_params(p, block);
    const size_t wide = c > k ? c : k;
    float *s = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    ck_wino_scratch out;
    out.V = s; s += ck_wino_round16(block * 16 * c);
    out.M = s; s += ck_wino_round16(block * 16 * k);
    out.gemm = s; s += ck_wino_round16(ck_conv2d_f32_scratch_size(&g));
    float *zeros = s; s += ck_wino_round16(wide);
    for (size_t i = 0; i < wide; i++) zeros[i] = 0.0f;
    out.zeros = zeros;
    out.sink = s;
    return out;
}
#endif
