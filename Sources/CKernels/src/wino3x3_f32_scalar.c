// Winograd F(2x2, 3x3) FP32: weight transform and packing, scratch size, and the scalar twin
// (the transforms compiled for the baseline ISA, the GEMM on the scalar conv kernel).
#include "ck_fp32.h"
#include "wino3x3_f32_internal.h"
#include <stdlib.h>

size_t ck_wino3x3_f32_packed_weights_size(const ck_conv2d_f32_params *p) {
    const ck_conv2d_f32_params g = ck_wino_gemm_params(p, 1);
    return ck_conv2d_f32_packed_weights_size(&g);
}

size_t ck_wino3x3_f32_scratch_size(const ck_conv2d_f32_params *p) { return ck_wino_scratch_floats(p); }

int ck_wino3x3_f32_pack_weights(const ck_conv2d_f32_params *p, const float *weights_oihw, float *packed) {
    const size_t cin = p->cin_per_group, cout = p->cout_per_group;
    // G g G^T of each (output, input) channel pair, as the OIHW weights of the grouped 1x1
    // convolution: output channel g * cout + o, input channel c. Only multiplications by 0.5
    // (exact) and sums in a fixed order: the same on every path and compiler.
    float *u = malloc(16 * cout * cin * sizeof(float));
    if (!u) return -1;
    for (size_t o = 0; o < cout; o++)
        for (size_t c = 0; c < cin; c++) {
            const float *w = weights_oihw + (o * cin + c) * 9;
            float t[4][3];
            for (size_t j = 0; j < 3; j++) {
                t[0][j] = w[j];
                t[1][j] = ((w[j] + w[3 + j]) + w[6 + j]) * 0.5f;
                t[2][j] = ((w[j] - w[3 + j]) + w[6 + j]) * 0.5f;
                t[3][j] = w[6 + j];
            }
            for (size_t r = 0; r < 4; r++) {
                const float row[4] = {t[r][0], ((t[r][0] + t[r][1]) + t[r][2]) * 0.5f, ((t[r][0] - t[r][1]) + t[r][2]) * 0.5f, t[r][2]};
                for (size_t s = 0; s < 4; s++) u[((r * 4 + s) * cout + o) * cin + c] = row[s];
            }
        }
    const ck_conv2d_f32_params g = ck_wino_gemm_params(p, 1);
    ck_conv2d_f32_pack_weights(&g, u, packed);
    free(u);
    return 0;
}

#define CK_WINO_TARGET
#define CK_WINO_SUFFIX scalar
#define CK_WINO_GEMM ck_conv2d_f32_nhwc__scalar
#include "wino3x3_f32_impl.h"
