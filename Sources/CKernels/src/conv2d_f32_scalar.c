// FP32 conv2d: weight packing, scratch sizing, and the scalar reference kernel.
#include "ck_fp32.h"
#include "conv2d_f32_internal.h"

size_t ck_conv2d_f32_packed_weights_size(const ck_conv2d_f32_params *p) {
    return p->groups * ck_conv_group_floats(p);
}

void ck_conv2d_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed) {
    const size_t kh_n = p->kernel_h, kw_n = p->kernel_w, cin = p->cin_per_group, cout = p->cout_per_group;
    const size_t K = ck_conv_k(p);
    const size_t npanels = (cout + CK_CONV_NR - 1) / CK_CONV_NR;
    for (size_t g = 0; g < p->groups; g++) {
        float *gbase = packed + g * ck_conv_group_floats(p);
        for (size_t j = 0; j < npanels; j++) {
            const size_t width = ck_conv_panel_width(cout, j);
            float *panel = gbase + j * CK_CONV_NR * K;
            for (size_t kh = 0; kh < kh_n; kh++)
                for (size_t kw = 0; kw < kw_n; kw++)
                    for (size_t ci = 0; ci < cin; ci++) {
                        const size_t k = (kh * kw_n + kw) * cin + ci;
                        for (size_t c = 0; c < width; c++) {
                            const size_t co = j * CK_CONV_NR + c;
                            float v = 0.0f;
                            if (co < cout) {
                                const size_t o = g * cout + co;
                                v = weights_oihw[((o * cin + ci) * kh_n + kh) * kw_n + kw];
                            }
                            panel[k * width + c] = v;
                        }
                    }
        }
    }
}

size_t ck_conv2d_f32_scratch_size(const ck_conv2d_f32_params *p) {
    // AVX-512 / AVX2 (conv2d_f32_internal.h): im2col rows of a macro-block of row blocks (one
    // K-block each), then the partial-sum tiles when K is split.
    const size_t nb = ck_conv_nblocks(p);
    const size_t npanels = (p->cout_per_group + CK_CONV_NR - 1) / CK_CONV_NR;
    const size_t ctiles = ck_conv_kblock(p) < ck_conv_k(p) ? nb * npanels * CK_CONV_CTILE : 0;
    return nb * ck_conv_ablock_floats(p) + ctiles + 16;
}

/// Reads packed weight (k, co) of group g.
static float packed_weight(const ck_conv2d_f32_params *p, const float *packed, size_t g, size_t co, size_t k) {
    const size_t K = ck_conv_k(p);
    const size_t j = co / CK_CONV_NR;
    const size_t width = ck_conv_panel_width(p->cout_per_group, j);
    return packed[g * ck_conv_group_floats(p) + j * CK_CONV_NR * K + k * width + (co % CK_CONV_NR)];
}

void ck_conv2d_f32_nhwc__scalar(const ck_conv2d_f32_params *p, const float *input,
    const float *packed_weights, const float *bias, const float *residual, float *output,
    size_t pixel_begin, size_t pixel_end, float *scratch) {
    (void)scratch;
    const size_t cin = p->cin_per_group, cout = p->cout_per_group;
    for (size_t pix = pixel_begin; pix < pixel_end; pix++) {
        const size_t oy = pix / p->out_w, ox = pix % p->out_w;
        for (size_t g = 0; g < p->groups; g++) {
            for (size_t co = 0; co < cout; co++) {
                float acc = 0.0f;
                for (size_t kh = 0; kh < p->kernel_h; kh++) {
                    const ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + kh * p->dilation_h) - (ptrdiff_t)p->pad_top;
                    if (iy < 0 || iy >= (ptrdiff_t)p->in_h) continue;
                    for (size_t kw = 0; kw < p->kernel_w; kw++) {
                        const ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kw * p->dilation_w) - (ptrdiff_t)p->pad_left;
                        if (ix < 0 || ix >= (ptrdiff_t)p->in_w) continue;
                        const float *in = input + ((size_t)iy * p->in_w + (size_t)ix) * p->in_pixel_stride + g * cin;
                        for (size_t ci = 0; ci < cin; ci++) {
                            const size_t k = (kh * p->kernel_w + kw) * cin + ci;
                            acc += in[ci] * packed_weight(p, packed_weights, g, co, k);
                        }
                    }
                }
                const size_t oc = g * cout + co;
                if (bias) acc += bias[oc];
                if (residual) acc += residual[pix * p->out_pixel_stride + oc];
                if (acc < p->act_min) acc = p->act_min;
                if (acc > p->act_max) acc = p->act_max;
                output[pix * p->out_pixel_stride + oc] = acc;
            }
        }
    }
}
