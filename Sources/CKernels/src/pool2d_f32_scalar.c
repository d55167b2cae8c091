// FP32 pooling over one NHWC image: scalar reference kernels.
//
// AveragePool divisor: count_include_pad != 0 -> kernel_h * kernel_w (padding counts as zeros);
// otherwise the number of taps inside the image (a window entirely in padding yields 0).
#include <math.h>
#include "ck_fp32.h"

void ck_maxpool2d_f32_nhwc__scalar(const ck_pool2d_params *p, const float *input, float *output) {
    const size_t C = p->channels;
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            float *out = output + (oy * p->out_w + ox) * C;
            for (size_t c = 0; c < C; c++) out[c] = -INFINITY;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                    if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                    const float *in = input + ((size_t)iy * p->in_w + (size_t)ix) * C;
                    for (size_t c = 0; c < C; c++)
                        if (in[c] > out[c]) out[c] = in[c];
                }
            }
        }
}

void ck_avgpool2d_f32_nhwc__scalar(const ck_pool2d_params *p, const float *input, float *output) {
    const size_t C = p->channels;
    for (size_t oy = 0; oy < p->out_h; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            float *out = output + (oy * p->out_w + ox) * C;
            for (size_t c = 0; c < C; c++) out[c] = 0.0f;
            size_t count = 0;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                    if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                    const float *in = input + ((size_t)iy * p->in_w + (size_t)ix) * C;
                    for (size_t c = 0; c < C; c++) out[c] += in[c];
                    count++;
                }
            }
            if (p->count_include_pad) count = p->kernel_h * p->kernel_w;
            const float scale = count ? 1.0f / (float)count : 0.0f;
            for (size_t c = 0; c < C; c++) out[c] *= scale;
        }
}

void ck_global_avgpool_f32_nhwc__scalar(size_t pixels, size_t channels, const float *input, float *output) {
    for (size_t c = 0; c < channels; c++) output[c] = 0.0f;
    for (size_t i = 0; i < pixels; i++)
        for (size_t c = 0; c < channels; c++) output[c] += input[i * channels + c];
    const float scale = pixels ? 1.0f / (float)pixels : 0.0f;
    for (size_t c = 0; c < channels; c++) output[c] *= scale;
}
