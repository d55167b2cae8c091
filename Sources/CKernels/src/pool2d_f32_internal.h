// The window taps of one pooling output pixel, shared by the SIMD pooling kernels: in the
// scalar twin's order (kernel rows, then columns), taps in padding skipped.
#ifndef CK_POOL2D_F32_INTERNAL_H
#define CK_POOL2D_F32_INTERNAL_H
#include <stddef.h>
#include "ck_fp32.h"

/// Collects the in-image taps of output pixel (oy, ox) as input element offsets; returns the count.
static inline size_t ck_pool_taps(const ck_pool2d_params *p, size_t oy, size_t ox, size_t *taps) {
    size_t n = 0;
    for (size_t kh = 0; kh < p->kernel_h; kh++) {
        const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
        if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
        for (size_t kw = 0; kw < p->kernel_w; kw++) {
            const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
            if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
            taps[n++] = ((size_t)iy * p->in_w + (size_t)ix) * p->channels;
        }
    }
    return n;
}

#endif
