// INT8 conv2d, AVX-512 VNNI: the microkernel's 4-deep dot product is one vpdpbusd
// (u8 x s8 -> s32, no intermediate saturation), exact for any s8 weights. Microkernels up to
// 14 x 32 (conv2d_u8s8_avx512_impl.h) under the shared driver (conv2d_u8s8_gemm.c).
#include "ck_int8.h"
#include "conv2d_u8s8_gemm.h"

#if defined(__x86_64__)
#define CK_Q8_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,bmi2")))
#define CK_Q8_STEP(c, a, b) _mm512_dpbusd_epi32((c), (a), (b))
#define CK_Q8_MRMAX 14
#define CK_Q8_ISA avx512vnni
#define CK_Q8_QADD ck_qadd_u8__avx512
#include "conv2d_u8s8_avx512_impl.h"

void ck_conv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_q8_gemm_run(&ck_q8_gemm_config__avx512vnni, p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#else
void ck_conv2d_u8s8_nhwc__avx512vnni(const ck_conv2d_u8s8_params *p, const uint8_t *input,
    const void *packed_weights, const int32_t *bias, const ck_u8s8_output *out, void *output,
    size_t pixel_begin, size_t pixel_end, void *scratch) {
    ck_conv2d_u8s8_nhwc__scalar(p, input, packed_weights, bias, out, output, pixel_begin, pixel_end, scratch);
}
#endif
