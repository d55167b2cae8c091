// FP32 depthwise conv2d: weight packing and the scalar reference kernel.
//
// Packed layout (ISA-independent): [kernel_h * kernel_w][C16] with C16 = channels rounded up
// to a multiple of 16 (zero-padded), i.e. tap t = kh * kernel_w + kw of channel c lives at
// packed[t * C16 + c]. Channels = p->groups.
#include "ck_fp32.h"
#include "dwconv2d_f32_internal.h"

size_t ck_dwconv2d_f32_packed_weights_size(const ck_conv2d_f32_params *p) {
    return p->kernel_h * p->kernel_w * ck_dw_cpad(p->groups);
}

void ck_dwconv2d_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed) {
    const size_t C = p->groups, C16 = ck_dw_cpad(C), taps = p->kernel_h * p->kernel_w;
    for (size_t t = 0; t < taps; t++)
        for (size_t c = 0; c < C16; c++)
            packed[t * C16 + c] = c < C ? weights_oihw[c * taps + t] : 0.0f;
}

void ck_dwconv2d_f32_nhwc__scalar(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end) {
    const size_t C = p->groups, C16 = ck_dw_cpad(C);
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const size_t oy = pix / p->out_w, ox = pix % p->out_w;
        for (size_t c = 0; c < C; c++) {
            float acc = 0.0f;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                    if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                    acc += input[((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride + c] *
                        packed_weights[(kh * p->kernel_w + kw) * C16 + c];
                }
            }
            if (bias) acc += bias[c];
            if (residual) acc += residual[pix * p->out_pixel_stride + c];
            if (acc < p->act_min) acc = p->act_min;
            if (acc > p->act_max) acc = p->act_max;
            output[pix * p->out_pixel_stride + c] = acc;
        }
    }
}
