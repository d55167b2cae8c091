// Internal layout shared by the FP32 depthwise conv2d kernels (see dwconv2d_f32_scalar.c).
#ifndef CK_DWCONV2D_F32_INTERNAL_H
#define CK_DWCONV2D_F32_INTERNAL_H
#include <stddef.h>
#include "ck_fp32.h"
#include "conv_rows_internal.h"

/// Channels rounded up to a multiple of 16: the row length of the packed weights.
static inline size_t ck_dw_cpad(size_t channels) { return (channels + 15) & ~(size_t)15; }

/// Range [*lo, *hi) of output columns whose kernel_w taps are all inside the image row.
static inline void ck_dw_interior(const ck_conv2d_f32_params *p, size_t *lo, size_t *hi) {
    ck_q8_inside(p->out_w, p->in_w, p->stride_w, p->pad_left, p->kernel_w, p->dilation_w, lo, hi);
}

#endif
