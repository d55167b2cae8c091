// INT8 conv2d, AVX-VNNI (the VEX 256-bit vpdpbusd of Alder Lake and later, Zen 5, Sapphire
// Rapids): u8 x s8 products summed four at a time into int32 without saturation, so any s8
// weights run as they are (no weight split). 4 x 16 microkernels (conv2d_u8s8_avx2_impl.h)
// under the shared driver (conv2d_u8s8_gemm.c).
#include "ck_int8.h"
#include "conv2d_u8s8_gemm.h"
#include <string.h>

#if defined(__x86_64__)
#define CK_Q8_T __attribute__((target("avxvnni,avx2,fma")))
#define CK_Q8_STEP(c, a, b) _mm256_dpbusd_avx_epi32((c), (a), (b))
#define CK_Q8_ISA avxvnni
#define CK_Q8_QADD ck_qadd_u8__avx2
#include "conv2d_u8s8_avx2_impl.h"

void ck_conv2d_u8s8_nhwc__avxvnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_q8_gemm_run(&ck_q8_gemm_config__avxvnni, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#else
void ck_conv2d_u8s8_nhwc__avxvnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_conv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#endif
