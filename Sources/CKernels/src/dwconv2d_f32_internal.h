// Internal layout shared by the FP32 depthwise conv2d kernels (see dwconv2d_f32_scalar.c).
#ifndef CK_DWCONV2D_F32_INTERNAL_H
#define CK_DWCONV2D_F32_INTERNAL_H
#include <stddef.h>
#include "ck_fp32.h"

/// Channels rounded up to a multiple of 16: the row length of the packed weights.
static inline size_t ck_dw_cpad(size_t channels) { return (channels + 15) & ~(size_t)15; }

/// Range [*lo, *hi) of output columns whose kernel_w taps are all inside the image row.
static inline void ck_dw_interior(const ck_conv2d_f32_params *p, size_t *lo, size_t *hi) {
    const size_t span = (p->kernel_w - 1) * p->dilation_w; // input columns covered - 1
    size_t l = (p->pad_left + p->stride_w - 1) / p->stride_w;
    size_t h = 0;
    if (p->in_w + p->pad_left > span) h = (p->in_w + p->pad_left - span - 1) / p->stride_w + 1;
    if (h > p->out_w) h = p->out_w;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

#endif
